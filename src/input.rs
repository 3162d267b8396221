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

/// One nomination row (sheet 推荐汇总 of a nominating body's summary workbook): a candidate for
/// the year's selection round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NominationEntry {
    /// 推荐单位: the nominating body (a town, department, association or enterprise).
    pub nominator: String,
    pub name: String,
    pub id_number: IdNumber,
    /// 工作单位
    pub unit: String,
    /// 职业（工种）
    pub occupation: String,
    /// 职业资格等级, as written (the eligibility check reads it).
    pub level: String,
    /// 证书编号
    pub certificate_no: String,
    /// 主要业绩
    pub achievements: String,
    /// 联系电话
    pub phone: String,
    /// 推荐公示起止日期: the nominating body's own notice, first and last day.
    pub notice_from: NaiveDate,
    pub notice_to: NaiveDate,
    /// 报送日期 (optional column): the day the nomination reached the bureau.
    pub received: Option<NaiveDate>,
    /// 开户行 and 银行账号 (optional at nomination; needed by the approval).
    pub bank_name: Option<String>,
    pub bank_account: Option<String>,
    /// 电子邮箱 (optional).
    pub email: Option<String>,
    /// Row in the source file (1-based).
    pub row: Option<u32>,
}

/// One expert score row (sheet 评审成绩).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreEntry {
    pub id_number: IdNumber,
    pub name: String,
    /// 评审专家: the expert's name or number.
    pub expert: String,
    /// 得分: 0–100, at most two decimals.
    pub score: rust_decimal::Decimal,
    /// Row in the source file (1-based).
    pub row: Option<u32>,
}
