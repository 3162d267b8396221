//! The status-change workbook (变动情况报告表): sheet `变动` (or the first sheet).
//!
//! Every cell-level check is made here: required cells, the ID number (GB 11643, a text cell),
//! the change type (labels and aliases of docs/rules.md), dates in every form of docs/contract.md,
//! 结束日期 only for 享受其他人才津贴 (and not before 生效日期), 新单位 only — and always — for
//! 单位变更. What needs the ledger (unknown ID number, a name differing from the roster's,
//! before approval, after termination, nothing to restore, duplicates) is checked by
//! the ledger (`Store::record_changes`).

use super::read::{
    checked, date, missing, number_text, read_small_sheet, required_date, required_text, text,
    CellProblem, Column, FieldProblem, Header, ReadError, Severity, SmallSheet, Value, Workbook,
};
use super::roster::{id_number_cell, SheetLayout, ID_NUMBER_COLUMN, NAME_COLUMN};
use crate::input::{ChangeEntry, PartialRow};
use crate::rules::{ChangeKind, IdNumber};
use chrono::NaiveDate;
use std::io::{Read, Seek};

/// The changes sheet's name.
pub const CHANGES_SHEET: &str = "变动";

/// The same 姓名 and 身份证号码 headers as the roster's.
pub use super::roster::{ID_NUMBER, NAME};
pub const KIND: &str = "变动类型";
pub const EFFECTIVE: &str = "生效日期";
pub const END: &str = "结束日期";
pub const NEW_UNIT: &str = "新单位";
pub const DECISION_NO: &str = "批准文号";
pub const TITLE_NO: &str = "称号批准文号";
pub const NOTE: &str = "说明";

/// The changes columns, in template order.
pub const CHANGE_COLUMNS: [Column; 9] = [
    NAME_COLUMN,
    ID_NUMBER_COLUMN,
    Column {
        name: KIND,
        aliases: &[],
        required: true,
    },
    Column {
        name: EFFECTIVE,
        aliases: &[],
        required: true,
    },
    Column {
        name: END,
        aliases: &[],
        required: false,
    },
    Column {
        name: NEW_UNIT,
        aliases: &[],
        required: false,
    },
    Column {
        name: DECISION_NO,
        aliases: &[],
        required: false,
    },
    Column {
        name: TITLE_NO,
        aliases: &[],
        required: false,
    },
    Column {
        name: NOTE,
        aliases: &[],
        required: false,
    },
];

/// What reading a changes workbook found.
#[derive(Debug, Clone, Default)]
pub struct ChangesFile {
    pub layout: Option<SheetLayout>,
    /// Rows that passed every cell check, in sheet order.
    pub entries: Vec<ChangeEntry>,
    /// Rows refused for a cell whose person (ID number and name) could still be read: the
    /// importer checks them against the roster too, so a clerk sees every problem of a row in
    /// one pass (a bad date and 不在名册中 together), not one per round.
    pub partial: Vec<PartialRow>,
    /// Data rows seen (blank rows not counted).
    pub rows: u64,
    pub problems: Vec<CellProblem>,
}

impl ChangesFile {
    /// The file's sheet as its error workbook copies it (none when no sheet was found).
    pub fn sheets_to_copy(&self) -> Vec<super::errors::SheetToCopy<'_>> {
        self.layout
            .iter()
            .map(|l| super::errors::SheetToCopy {
                layout: l,
                columns: &CHANGE_COLUMNS,
            })
            .collect()
    }
}

impl ChangesFile {
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(CellProblem::is_error)
    }

    /// The sheet read, if any.
    pub fn sheet(&self) -> Option<&str> {
        self.layout.as_ref().map(|l| l.sheet.as_str())
    }
}

/// The ID number and name of a row, when both cells read cleanly.
fn partial_row(row: u32, cells: &[Value], header: &Header) -> Option<PartialRow> {
    let name = required_text(header.cell(cells, 0), NAME).ok()?;
    let id = number_text(header.cell(cells, 1), ID_NUMBER).ok()??;
    Some(PartialRow {
        row,
        id_number: IdNumber::parse(&id).ok()?,
        name,
    })
}

fn kind_list() -> String {
    ChangeKind::ALL
        .iter()
        .map(|k| k.label())
        .collect::<Vec<_>>()
        .join("、")
}

/// Checks one change row: the entry when every cell is sound, and every problem.
pub fn parse_change_row(
    row: u32,
    cells: &[Value],
    header: &Header,
    is_1904: bool,
) -> (Option<ChangeEntry>, Vec<FieldProblem>) {
    let mut problems = Vec::new();
    let cell = |i: usize| header.cell(cells, i);
    let name = checked(required_text(cell(0), NAME), &mut problems);
    let id_number = checked(id_number_cell(cell(1)), &mut problems);
    let kind = checked(kind_cell(cell(2)), &mut problems);
    let effective = checked(required_date(cell(3), EFFECTIVE, is_1904), &mut problems);
    let end = checked(date(cell(4), END, is_1904), &mut problems).flatten();
    check_end(kind, effective, end, &mut problems);
    let new_unit = checked(text(cell(5), NEW_UNIT), &mut problems).flatten();
    check_new_unit(kind, new_unit.as_deref(), &mut problems);
    let mut opt =
        |i: usize, col: &'static str| checked(text(cell(i), col), &mut problems).flatten();
    let decision_no = opt(6, DECISION_NO);
    let title_no = opt(7, TITLE_NO);
    let note = opt(8, NOTE);
    let ok = !problems.iter().any(|p| p.severity == Severity::Error);
    let entry = match (name, id_number, kind, effective) {
        (Some(name), Some(id_number), Some(kind), Some(effective)) if ok => Some(ChangeEntry {
            id_number,
            name,
            kind,
            effective,
            end,
            new_unit,
            decision_no,
            title_no,
            note,
            row: Some(row),
        }),
        _ => None,
    };
    (entry, problems)
}

/// The change type of a required cell: one of the labels (or aliases) of docs/rules.md.
fn kind_cell(v: &Value) -> Result<ChangeKind, FieldProblem> {
    let label = text(v, KIND)?.ok_or_else(|| missing(KIND))?;
    ChangeKind::from_label(&label).ok_or_else(|| {
        FieldProblem::error(
            KIND,
            format!(
                "变动类型“{label}”不是规定的类型；应为以下之一：{}",
                kind_list()
            ),
        )
    })
}

/// 结束日期: only for 享受其他人才津贴, and not before 生效日期.
fn check_end(
    kind: Option<ChangeKind>,
    effective: Option<NaiveDate>,
    end: Option<NaiveDate>,
    problems: &mut Vec<FieldProblem>,
) {
    if let (Some(k), Some(_)) = (kind, end) {
        if k != ChangeKind::OtherAllowance {
            problems.push(FieldProblem::error(
                END,
                format!(
                    "变动类型为“{}”时不能填写结束日期；只有“享受其他人才津贴”可以填写结束日期",
                    k.label()
                ),
            ));
        }
    }
    if let (Some(x), Some(z)) = (effective, end) {
        if z < x {
            problems.push(FieldProblem::error(
                END,
                format!("结束日期{z}早于生效日期{x}；结束日期应不早于生效日期"),
            ));
        }
    }
}

/// 新单位: always for 单位变更, never for another type.
fn check_new_unit(
    kind: Option<ChangeKind>,
    new_unit: Option<&str>,
    problems: &mut Vec<FieldProblem>,
) {
    match (kind, new_unit) {
        (Some(ChangeKind::UnitChange), None) => problems.push(FieldProblem::error(
            NEW_UNIT,
            "变动类型为“单位变更”时新单位为空；应填写调入单位的名称",
        )),
        (Some(k), Some(u)) if k != ChangeKind::UnitChange => problems.push(FieldProblem::error(
            NEW_UNIT,
            format!(
                "变动类型为“{}”时不能填写新单位（填写了“{u}”）；只有“单位变更”填写新单位",
                k.label()
            ),
        )),
        _ => {}
    }
}

/// Reads a changes workbook (small: held in memory), checking every cell. At most
/// [`super::read::MAX_PROBLEMS`] problems are listed, then their count.
pub fn read_changes<RS: Read + Seek>(
    wb: &mut Workbook<RS>,
    file: &str,
) -> Result<ChangesFile, ReadError> {
    let spec = SmallSheet {
        name: CHANGES_SHEET,
        columns: &CHANGE_COLUMNS,
        header_check: |_| None,
        empty: None,
    };
    let mut partial = Vec::new();
    let read = read_small_sheet(wb, file, &spec, |row, cells, h, is_1904| {
        let (entry, problems) = parse_change_row(row, cells, h, is_1904);
        if entry.is_none() {
            partial.extend(partial_row(row, cells, h));
        }
        (entry, problems)
    })?;
    Ok(ChangesFile {
        layout: read.layout,
        entries: read.entries,
        partial,
        rows: read.rows,
        problems: read.problems,
    })
}
