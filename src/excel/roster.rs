//! The roster workbook (名册): sheet `名册` (or the first sheet), one row per appointment, and
//! the optional sheet `单位` (units).
//!
//! Every cell-level check is made here: required cells, the ID number (GB 11643, a text cell),
//! the bank account (digits, a text cell; a Luhn failure is only a warning, as passbook
//! accounts fail it), dates in every form of docs/contract.md, e-mail addresses. What only the
//! ledger can tell (a name differing from the recorded one, overlapping terms) is checked by
//! the store. Rows are streamed in batches so a million-row roster never sits in memory.

use super::read::{
    checked, email_ok, missing, number_text, required_date, required_text, text, CellProblem,
    Column, FieldProblem, Header, HeaderSearch, ProblemCollector, ReadError, Severity, Value,
    Workbook,
};
use crate::input::{RosterEntry, UnitEntry};
use crate::rules::id_number::{luhn_ok, parse_account};
use crate::rules::IdNumber;
use std::io::{Read, Seek};
use std::ops::ControlFlow;

/// The roster sheet's name.
pub const ROSTER_SHEET: &str = "名册";
/// The units sheet's name.
pub const UNITS_SHEET: &str = "单位";

pub const NAME: &str = "姓名";
pub const ID_NUMBER: &str = "身份证号码";
pub const UNIT: &str = "工作单位";
pub const OCCUPATION: &str = "职业（工种）";
pub const LEVEL: &str = "职业资格等级";
pub const APPROVAL_DATE: &str = "批准日期";
pub const APPROVAL_NO: &str = "批准文号";
pub const BANK_ACCOUNT: &str = "银行账号";
pub const BANK_NAME: &str = "开户行";
pub const PHONE: &str = "联系电话";
pub const EMAIL: &str = "电子邮箱";

/// The 姓名 column, first of every input sheet.
pub const NAME_COLUMN: Column = Column {
    name: NAME,
    aliases: &[],
    required: true,
};

/// The 身份证号码 column (also read as 身份证号), second of every input sheet.
pub const ID_NUMBER_COLUMN: Column = Column {
    name: ID_NUMBER,
    aliases: &["身份证号"],
    required: true,
};

/// The roster columns, in template order (index constants below).
pub const ROSTER_COLUMNS: [Column; 11] = [
    NAME_COLUMN,
    ID_NUMBER_COLUMN,
    Column {
        name: UNIT,
        aliases: &["单位"],
        required: true,
    },
    Column {
        name: OCCUPATION,
        aliases: &["工种"],
        required: true,
    },
    Column {
        name: LEVEL,
        aliases: &[],
        required: true,
    },
    Column {
        name: APPROVAL_DATE,
        aliases: &[],
        required: true,
    },
    Column {
        name: APPROVAL_NO,
        aliases: &[],
        required: true,
    },
    Column {
        name: BANK_ACCOUNT,
        aliases: &["银行卡号"],
        required: true,
    },
    Column {
        name: BANK_NAME,
        aliases: &[],
        required: true,
    },
    Column {
        name: PHONE,
        aliases: &[],
        required: true,
    },
    Column {
        name: EMAIL,
        aliases: &[],
        required: false,
    },
];

pub const UNIT_NAME: &str = "单位名称";
pub const CONTACT: &str = "联系人";

/// The units sheet's columns.
pub const UNIT_COLUMNS: [Column; 3] = [
    Column {
        name: UNIT_NAME,
        aliases: &["单位"],
        required: true,
    },
    Column {
        name: CONTACT,
        aliases: &[],
        required: false,
    },
    Column {
        name: EMAIL,
        aliases: &[],
        required: false,
    },
];

/// The levels offered in the template's drop-down list (other text is accepted).
pub const LEVELS: [&str; 5] = ["高级技师", "技师", "高级工", "中级工", "初级工"];

/// Where a sheet's header was found, for error workbooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetLayout {
    pub sheet: String,
    pub header: Option<Header>,
}

/// What reading a roster workbook found (the rows themselves went to the batch sink).
#[derive(Debug, Clone, Default)]
pub struct RosterRead {
    pub roster: Option<SheetLayout>,
    pub units: Option<SheetLayout>,
    /// Data rows seen on the roster sheet (blank rows not counted).
    pub rows: u64,
    /// Rows that passed every cell check.
    pub valid_rows: u64,
    pub problems: Vec<CellProblem>,
}

impl RosterRead {
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(CellProblem::is_error)
    }
}

/// Checks one roster row: the entry when every required cell is sound, and every problem.
pub fn parse_roster_row(
    row: u32,
    cells: &[Value],
    header: &Header,
    is_1904: bool,
) -> (Option<RosterEntry>, Vec<FieldProblem>) {
    let mut problems = Vec::new();
    let cell = |i: usize| header.cell(cells, i);
    let mut req = |i: usize, col: &'static str| checked(required_text(cell(i), col), &mut problems);
    let name = req(0, NAME);
    let unit = req(2, UNIT);
    let occupation = req(3, OCCUPATION);
    let level = req(4, LEVEL);
    let approval_no = req(6, APPROVAL_NO);
    let bank_name = req(8, BANK_NAME);
    let phone = req(9, PHONE);
    let id_number = checked(id_number_cell(cell(1)), &mut problems);
    let approval_date = checked(
        required_date(cell(5), APPROVAL_DATE, is_1904),
        &mut problems,
    );
    let bank_account = bank_account_cell(cell(7), &mut problems);
    let email = checked(email_cell(cell(10)), &mut problems).flatten();
    let complete = || {
        Some(RosterEntry {
            id_number: id_number?,
            name: name?,
            unit: unit?,
            occupation: occupation?,
            level: level?,
            approval_date: approval_date?,
            approval_no: approval_no?,
            bank_account: bank_account?,
            bank_name: bank_name?,
            phone: phone?,
            email,
            row: Some(row),
        })
    };
    let has_errors = problems.iter().any(|p| p.severity == Severity::Error);
    let entry = if has_errors { None } else { complete() };
    (entry, problems)
}

/// The ID number of a required text cell, checked against GB 11643.
pub fn id_number_cell(v: &Value) -> Result<IdNumber, FieldProblem> {
    let s = number_text(v, ID_NUMBER)?.ok_or_else(|| missing(ID_NUMBER))?;
    IdNumber::parse(&s)
        .map_err(|e| FieldProblem::error(ID_NUMBER, format!("身份证号码“{s}”有误：{e}")))
}

/// The bank account of a required text cell: 8 to 30 digits. One failing the Luhn check is
/// kept, with a warning (passbook accounts fail it).
fn bank_account_cell(v: &Value, problems: &mut Vec<FieldProblem>) -> Option<String> {
    let s = number_text(v, BANK_ACCOUNT).and_then(|s| s.ok_or_else(|| missing(BANK_ACCOUNT)));
    let s = checked(s, problems)?;
    account_digits(&s, "应为8到30位数字", problems)
}

/// A bank account's text checked: 8 to 30 digits (`expected` says what else may be written);
/// a Luhn failure is a warning that names the account masked, as every message does.
pub fn account_digits(s: &str, expected: &str, problems: &mut Vec<FieldProblem>) -> Option<String> {
    match parse_account(s) {
        Ok(acct) => {
            if !luhn_ok(&acct) {
                problems.push(FieldProblem::warning(
                    BANK_ACCOUNT,
                    format!(
                        "银行账号{}未通过银行卡校验（Luhn）；如为存折账号可忽略，否则请核对",
                        crate::rules::id_number::mask(&acct)
                    ),
                ));
            }
            Some(acct)
        }
        Err(e) => {
            problems.push(FieldProblem::error(
                BANK_ACCOUNT,
                format!("{e}；{expected}"),
            ));
            None
        }
    }
}

/// An optional e-mail cell, checked when filled.
fn email_cell(v: &Value) -> Result<Option<String>, FieldProblem> {
    match text(v, EMAIL)? {
        Some(e) if !email_ok(&e) => Err(FieldProblem::error(
            EMAIL,
            format!("电子邮箱“{e}”格式不正确；应如name@example.com，或留空"),
        )),
        e => Ok(e),
    }
}

/// Checks one units-sheet row.
pub fn parse_unit_row(
    row: u32,
    cells: &[Value],
    header: &Header,
) -> (Option<UnitEntry>, Vec<FieldProblem>) {
    let mut problems = Vec::new();
    let name = checked(
        required_text(header.cell(cells, 0), UNIT_NAME),
        &mut problems,
    );
    let contact = checked(text(header.cell(cells, 1), CONTACT), &mut problems).flatten();
    let email = checked(email_cell(header.cell(cells, 2)), &mut problems).flatten();
    let entry = match name {
        Some(name) if problems.is_empty() => Some(UnitEntry {
            name,
            contact,
            email,
            row: Some(row),
        }),
        _ => None,
    };
    (entry, problems)
}

/// Turns field problems of a row into cell problems.
pub fn cell_problems<'a>(
    file: &'a str,
    sheet: &str,
    row: u32,
    problems: Vec<FieldProblem>,
) -> impl Iterator<Item = CellProblem> + 'a {
    let sheet = sheet.to_string();
    problems.into_iter().map(move |p| CellProblem {
        file: file.to_string(),
        sheet: Some(sheet.clone()),
        row: Some(row),
        column: Some(p.column.to_string()),
        message: p.message,
        severity: p.severity,
    })
}

/// A sheet- or workbook-level problem.
pub fn sheet_problem(
    file: &str,
    sheet: Option<&str>,
    row: Option<u32>,
    message: String,
) -> CellProblem {
    CellProblem {
        file: file.to_string(),
        sheet: sheet.map(str::to_string),
        row,
        column: None,
        message,
        severity: Severity::Error,
    }
}

/// Reads a roster workbook: the units (all at once, to `on_units`), then the roster rows in
/// batches of `batch` valid entries (to `on_batch`, which may stop the reading by returning
/// `ControlFlow::Break`). `on_progress` gets the number of data rows read so far.
pub fn read_roster<RS: Read + Seek>(
    wb: &mut Workbook<RS>,
    file: &str,
    batch: usize,
    mut on_units: impl FnMut(Vec<UnitEntry>) -> ControlFlow<()>,
    on_batch: impl FnMut(Vec<RosterEntry>) -> ControlFlow<()>,
    on_progress: impl FnMut(u64),
) -> Result<RosterRead, ReadError> {
    let mut out = RosterRead::default();
    let Some(roster_sheet) = wb.pick_sheet(ROSTER_SHEET, &[UNITS_SHEET]) else {
        out.problems.push(sheet_problem(
            file,
            None,
            None,
            format!("工作簿中没有名册工作表；应有名为“{ROSTER_SHEET}”的工作表"),
        ));
        return Ok(out);
    };

    // At most MAX_PROBLEMS listed (a million bad rows would make a gigabyte of messages).
    let mut problems_of_file = ProblemCollector::new(file);
    // Units first: they are few, and the ledger needs them before the rows.
    let mut units = Vec::new();
    if let Some(units_sheet) = wb.find_sheet(UNITS_SHEET).filter(|s| *s != roster_sheet) {
        let (read, layout) = read_units(wb, file, units_sheet, &mut problems_of_file)?;
        units = read;
        out.units = Some(layout);
    }
    if on_units(units).is_break() {
        out.problems = problems_of_file.finish();
        return Ok(out);
    }

    let mut batches = Batches {
        size: batch,
        pending: Vec::with_capacity(batch),
        stopped: false,
        on_batch,
        on_progress,
    };
    let header = read_roster_sheet(
        wb,
        file,
        &roster_sheet,
        &mut out,
        &mut problems_of_file,
        &mut batches,
    )?;
    batches.finish(out.rows);
    out.problems = problems_of_file.finish();
    out.roster = Some(SheetLayout {
        sheet: roster_sheet,
        header,
    });
    Ok(out)
}

/// Reads the units sheet: its entries and where its header is.
fn read_units<RS: Read + Seek>(
    wb: &mut Workbook<RS>,
    file: &str,
    sheet: String,
    problems_of_file: &mut ProblemCollector,
) -> Result<(Vec<UnitEntry>, SheetLayout), ReadError> {
    let mut units = Vec::new();
    let mut search = HeaderSearch::default();
    let mut header: Option<Header> = None;
    let mut any_row = false;
    wb.for_each_row(&sheet, |row, cells| {
        any_row |= !cells.iter().all(Value::is_blank);
        match &header {
            None => {
                header = search.offer(row, cells, &UNIT_COLUMNS);
                for m in header.iter().flat_map(|h| h.ambiguous.clone()) {
                    problems_of_file.push(sheet_problem(file, Some(&sheet), Some(row), m));
                }
            }
            Some(h) => {
                if cells.iter().all(Value::is_blank) {
                    return ControlFlow::Continue(());
                }
                let (entry, problems) = parse_unit_row(row, cells, h);
                problems_of_file.extend(cell_problems(file, &sheet, row, problems));
                units.extend(entry);
            }
        }
        ControlFlow::Continue(())
    })?;
    if header.is_none() && any_row {
        let (row, msg) = search.failure(&UNIT_COLUMNS);
        problems_of_file.push(sheet_problem(file, Some(&sheet), row, msg));
    }
    Ok((units, SheetLayout { sheet, header }))
}

/// Valid roster entries gathered into batches for `on_batch`.
struct Batches<B, P> {
    size: usize,
    pending: Vec<RosterEntry>,
    /// `on_batch` asked to stop.
    stopped: bool,
    on_batch: B,
    on_progress: P,
}

impl<B, P> Batches<B, P>
where
    B: FnMut(Vec<RosterEntry>) -> ControlFlow<()>,
    P: FnMut(u64),
{
    /// Adds an entry (`rows` data rows read so far); passes a full batch on.
    fn push(&mut self, entry: RosterEntry, rows: u64) -> ControlFlow<()> {
        self.pending.push(entry);
        if self.pending.len() >= self.size {
            let full = std::mem::replace(&mut self.pending, Vec::with_capacity(self.size));
            if (self.on_batch)(full).is_break() {
                self.stopped = true;
                return ControlFlow::Break(());
            }
            (self.on_progress)(rows);
        }
        ControlFlow::Continue(())
    }

    /// Passes the last batch on (unless stopped) and the final count of rows.
    fn finish(&mut self, rows: u64) {
        if !self.pending.is_empty() && !self.stopped {
            let _ = (self.on_batch)(std::mem::take(&mut self.pending));
        }
        (self.on_progress)(rows);
    }
}

/// Reads the roster sheet: finds its header, checks every data row (counted in `out`) and
/// passes the valid entries to `batches`; returns the header, if found (a sheet without one,
/// or without rows under it, is a problem of the file).
fn read_roster_sheet<RS, B, P>(
    wb: &mut Workbook<RS>,
    file: &str,
    sheet: &str,
    out: &mut RosterRead,
    problems_of_file: &mut ProblemCollector,
    batches: &mut Batches<B, P>,
) -> Result<Option<Header>, ReadError>
where
    RS: Read + Seek,
    B: FnMut(Vec<RosterEntry>) -> ControlFlow<()>,
    P: FnMut(u64),
{
    let is_1904 = wb.is_1904();
    let mut search = HeaderSearch::default();
    let mut header: Option<Header> = None;
    wb.for_each_row(sheet, |row, cells| {
        let Some(h) = &header else {
            header = search.offer(row, cells, &ROSTER_COLUMNS);
            for m in header.iter().flat_map(|h| h.ambiguous.clone()) {
                problems_of_file.push(sheet_problem(file, Some(sheet), Some(row), m));
            }
            return ControlFlow::Continue(());
        };
        if cells.iter().all(Value::is_blank) {
            return ControlFlow::Continue(());
        }
        out.rows += 1;
        let (entry, problems) = parse_roster_row(row, cells, h, is_1904);
        if !problems.is_empty() {
            problems_of_file.extend(cell_problems(file, sheet, row, problems));
        }
        let Some(e) = entry else {
            return ControlFlow::Continue(());
        };
        out.valid_rows += 1;
        batches.push(e, out.rows)
    })?;
    if header.is_none() {
        let (row, msg) = search.failure(&ROSTER_COLUMNS);
        problems_of_file.push(sheet_problem(file, Some(sheet), row, msg));
    } else if out.rows == 0 {
        problems_of_file.push(sheet_problem(
            file,
            Some(sheet),
            header.as_ref().map(|h| h.row),
            "表头下没有数据行；应每行填写一人的一届称号".into(),
        ));
    }
    Ok(header)
}

/// A whole roster workbook in memory (for small files and tests).
#[derive(Debug, Clone, Default)]
pub struct RosterFile {
    pub units: Vec<UnitEntry>,
    pub entries: Vec<RosterEntry>,
    pub read: RosterRead,
}

/// Reads a whole roster workbook into memory.
pub fn read_roster_all<RS: Read + Seek>(
    wb: &mut Workbook<RS>,
    file: &str,
) -> Result<RosterFile, ReadError> {
    let mut units = Vec::new();
    let mut entries = Vec::new();
    let read = read_roster(
        wb,
        file,
        1024,
        |u| {
            units = u;
            ControlFlow::Continue(())
        },
        |b| {
            entries.extend(b);
            ControlFlow::Continue(())
        },
        |_| {},
    )?;
    Ok(RosterFile {
        units,
        entries,
        read,
    })
}
