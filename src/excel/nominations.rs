//! The nominating bodies' summary workbook (推荐人选汇总表, `template nominations`): sheet
//! `推荐汇总` (or the first sheet), one row per candidate. Every cell check is made here, with
//! the roster reader's helpers and messages; what only the ledger can tell (a name differing
//! from the recorded one, a candidate nominated twice) is checked by the store.

use super::read::{CellProblem, Column, ReadError, Workbook};
use super::roster::SheetLayout;
use crate::input::NominationEntry;
use std::io::{Read, Seek};

/// The sheet's name.
pub const NOMINATIONS_SHEET: &str = "推荐汇总";

/// The columns, in template order.
pub const NOMINATION_COLUMNS: [Column; 0] = [];

/// What reading a nominations workbook found.
#[derive(Debug, Clone, Default)]
pub struct NominationsRead {
    pub layout: Option<SheetLayout>,
    /// Rows that passed every cell check, in file order.
    pub entries: Vec<NominationEntry>,
    /// Data rows seen (blank rows not counted).
    pub rows: u64,
    pub problems: Vec<CellProblem>,
}

impl NominationsRead {
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(CellProblem::is_error)
    }
}

/// Reads a nominations workbook whole (a round has tens of rows, not millions).
pub fn read_nominations<RS: Read + Seek>(
    wb: &mut Workbook<RS>,
    file: &str,
) -> Result<NominationsRead, ReadError> {
    let _ = (wb, file);
    todo!()
}
