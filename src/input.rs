//! The parsed input: what a roster or changes workbook (or another source) says, row by row,
//! after its cells were read and checked, before the ledger records it. The Excel adapter
//! produces these types and the store consumes them, so neither depends on the other.

use crate::rules::{ChangeKind, IdNumber};
use chrono::NaiveDate;

/// One roster row: one appointment of a technician.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    pub id_number: IdNumber,
    pub name: String,
    pub unit: String,
    pub occupation: String,
    pub level: String,
    pub approval_date: NaiveDate,
    pub approval_no: String,
    pub bank_account: String,
    pub bank_name: String,
    pub phone: String,
    pub email: Option<String>,
    /// The row in the source file (1-based), for messages and the audit trail.
    pub row: Option<u32>,
}

/// One unit row (sheet 单位).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitEntry {
    pub name: String,
    pub contact: Option<String>,
    pub email: Option<String>,
    pub row: Option<u32>,
}

/// One change row to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEntry {
    pub id_number: IdNumber,
    pub name: String,
    pub kind: ChangeKind,
    pub effective: NaiveDate,
    pub end: Option<NaiveDate>,
    pub new_unit: Option<String>,
    /// 批准文号 of the decision.
    pub decision_no: Option<String>,
    /// 称号批准文号: picks the appointment.
    pub title_no: Option<String>,
    pub note: Option<String>,
    /// Row in the source file (1-based).
    pub row: Option<u32>,
}

/// The person of a changes row refused for another cell (a bad date, say): still checked
/// against the roster, so every problem of the row shows in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialRow {
    pub row: u32,
    pub id_number: IdNumber,
    pub name: String,
}
