//! The public notice lists of a selection round, for the bureau's website: 推荐人选公示名单 (the
//! nominated candidates) and 建议人选公示名单 (the proposed list before inspection). Name, unit,
//! occupation, level and the notice period, with the bureau's contact for objections; an ID
//! number is never on a public list. Laid out for A4; [`to_pdf`] prints it to PDF where
//! LibreOffice is installed.

use chrono::NaiveDate;
use std::path::{Path, PathBuf};

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// 推荐人选公示名单
    Nominated,
    /// 建议人选公示名单
    Proposed,
}

/// One person on a list. No ID number: the type has no place for one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRow {
    pub name: String,
    pub unit: String,
    pub occupation: String,
    pub level: String,
    /// 推荐单位 (shown on the nominated list).
    pub nominator: String,
}

/// A notice list to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeList {
    pub kind: NoticeKind,
    pub year: i32,
    /// The programme's name (张店区首席技师), for the title.
    pub program: String,
    /// Who publishes it (张店区人力资源和社会保障局).
    pub organization: String,
    /// The notice's first and last day (5 working days).
    pub period: (NaiveDate, NaiveDate),
    /// Whom to send objections to (the bureau's office, person and phone).
    pub contact: String,
    /// The day the list is published.
    pub published: NaiveDate,
    pub rows: Vec<NoticeRow>,
}

/// Writing a notice failed.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("cannot write the notice {path}: {message}")]
    Write { path: String, message: String },
}

/// Writes the list as an .xlsx workbook, readable by every user (it is public).
pub fn write_notice(path: &Path, list: &NoticeList) -> Result<(), NoticeError> {
    let _ = (path, list);
    todo!()
}

/// Prints the workbook to PDF beside it with LibreOffice (`soffice --headless`); Ok(None) when
/// LibreOffice is not installed.
pub fn to_pdf(xlsx: &Path) -> Result<Option<PathBuf>, NoticeError> {
    let _ = xlsx;
    todo!()
}
