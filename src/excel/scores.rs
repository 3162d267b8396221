//! The expert review's scores (评审成绩, `template scores`): sheet `评审成绩` (or the first
//! sheet), one row per expert and candidate: 姓名, 身份证号码, 评审专家, 得分 (0–100).

use super::read::{CellProblem, Column, ReadError, Workbook};
use super::roster::SheetLayout;
use crate::input::ScoreEntry;
use std::io::{Read, Seek};

/// The sheet's name.
pub const SCORES_SHEET: &str = "评审成绩";

/// The columns, in template order.
pub const SCORE_COLUMNS: [Column; 0] = [];

/// What reading a scores workbook found.
#[derive(Debug, Clone, Default)]
pub struct ScoresRead {
    pub layout: Option<SheetLayout>,
    pub entries: Vec<ScoreEntry>,
    pub rows: u64,
    pub problems: Vec<CellProblem>,
}

impl ScoresRead {
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(CellProblem::is_error)
    }
}

/// Reads a scores workbook whole.
pub fn read_scores<RS: Read + Seek>(
    wb: &mut Workbook<RS>,
    file: &str,
) -> Result<ScoresRead, ReadError> {
    let _ = (wb, file);
    todo!()
}
