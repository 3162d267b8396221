//! Reading input workbooks: .xlsx (streamed cell by cell) and .xls (a whole-sheet range).
//!
//! This module knows nothing of rosters or changes. It gives:
//! - [`Workbook`]: an opened .xlsx or .xls (recognised by its content, not its extension);
//!   [`Workbook::for_each_row`] streams a sheet's rows as [`Value`]s. An .xlsx sheet is read
//!   through calamine's cell reader (`worksheet_cells_reader`), so memory does not grow with the
//!   number of rows (calamine does keep the shared-strings table);
//! - [`Column`], [`normalize_header`], [`find_header`]: header rows found under title rows, with
//!   aliases, spaces and full-/half-width brackets ignored;
//! - cell readers for the values clerks type: [`text`], [`number_text`] (ID and account numbers,
//!   which must be text cells), [`date`] (date cells in either epoch, and the text forms of
//!   docs/contract.md);
//! - [`CellProblem`]: one problem, shown as `FILE!SHEET row R, column 列名: what is wrong; what
//!   was expected`; [`ProblemCollector`] keeps the first [`MAX_PROBLEMS`] of a file and counts
//!   the rest (另有 N 处问题未列出), so a file with a million bad rows cannot make a gigabyte of
//!   messages or of error workbook.
//!
//! No input makes this module panic: calamine is called under `catch_unwind` and a panic inside
//! it becomes [`ReadError::Damaged`]. No input makes it allocate without bound either: before
//! calamine sees a workbook, [`super::guard`] checks its declared sizes against
//! [`InputLimits`] ([`Workbook::open_with`]; [`Workbook::open`] uses the defaults), and a file
//! over a limit is [`ReadError::OverLimit`].

use super::guard::{self, LimitExceeded};
use calamine::{Data, DataRef, Reader, Xls, Xlsx};
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

pub use super::guard::InputLimits;

/// Cells to the right of this column are ignored (input sheets have about a dozen columns).
pub const MAX_COLUMNS: u32 = 256;

/// One cell's value as read.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Empty,
    Text(String),
    Number(f64),
    Bool(bool),
    /// A date cell (its epoch already applied).
    Date(NaiveDateTime),
    /// An error value such as `#N/A`.
    Error(String),
}

impl Value {
    /// Whether the cell is empty or holds only spaces.
    pub fn is_blank(&self) -> bool {
        match self {
            Value::Empty => true,
            Value::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The value as a clerk would see it (dates as `YYYY-MM-DD`), for error workbooks.
    pub fn display(&self) -> String {
        match self {
            Value::Empty => String::new(),
            Value::Text(s) => s.clone(),
            Value::Number(f) => format_number(*f),
            Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            Value::Date(d) => d.date().to_string(),
            Value::Error(e) => e.clone(),
        }
    }
}

/// A number as Excel's General format would show it, without a trailing `.0`.
pub fn format_number(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// A workbook that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("无法打开文件：{0}")]
    Io(#[from] std::io::Error),
    #[error("不是可以读取的Excel工作簿；应为.xlsx或.xls文件")]
    NotAWorkbook,
    #[error("工作簿无法读取（{0}）；请用Excel或WPS打开后另存为.xlsx再导入")]
    Format(String),
    #[error("工作表“{sheet}”无法读取（{detail}）；请用Excel或WPS打开后另存为.xlsx再导入")]
    Sheet { sheet: String, detail: String },
    #[error("文件已损坏，无法读取；请用Excel或WPS打开后另存为.xlsx再导入")]
    Damaged,
    /// Over a limit of `[input]` (a zip bomb, or a damaged file declaring absurd sizes):
    /// refused before calamine reads it. `file` is the file's name (empty when opened from a
    /// reader).
    #[error("文件{}{reason}；可能是损坏或恶意的文件，未读取", quoted(.file))]
    OverLimit {
        file: String,
        reason: Box<LimitExceeded>,
    },
}

fn quoted(file: &str) -> String {
    if file.is_empty() {
        String::new()
    } else {
        format!("“{file}”")
    }
}

impl ReadError {
    fn over_limit(reason: LimitExceeded) -> Self {
        ReadError::OverLimit {
            file: String::new(),
            reason: Box::new(reason),
        }
    }

    /// Names the file in an [`ReadError::OverLimit`].
    fn for_file(self, name: &str) -> Self {
        match self {
            ReadError::OverLimit { reason, .. } => ReadError::OverLimit {
                file: name.to_string(),
                reason,
            },
            e => e,
        }
    }
}

/// calamine's error for a workbook: an entry decompressing past its declared size (see
/// [`super::guard`]) is [`LimitExceeded::Inconsistent`], anything else [`ReadError::Format`].
fn format_error(e: impl fmt::Display) -> ReadError {
    let text = e.to_string();
    if guard::is_size_lie(&text) {
        ReadError::over_limit(LimitExceeded::Inconsistent { part: None })
    } else {
        ReadError::Format(text)
    }
}

/// How bad a problem is: an error refuses the row (and without `--accept-valid` the file);
/// a warning (a bank account failing the Luhn check, say) is only shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// What reading a small sheet whole found (the selection's nominations and scores): the rows
/// that passed every cell check, in file order, and every problem.
#[derive(Debug, Clone)]
pub struct SheetRead<T> {
    pub layout: Option<super::roster::SheetLayout>,
    pub entries: Vec<T>,
    /// Data rows seen (blank rows not counted).
    pub rows: u64,
    pub problems: Vec<CellProblem>,
}

impl<T> Default for SheetRead<T> {
    fn default() -> Self {
        SheetRead {
            layout: None,
            entries: Vec::new(),
            rows: 0,
            problems: Vec::new(),
        }
    }
}

impl<T> SheetRead<T> {
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(CellProblem::is_error)
    }
}

/// A small sheet read whole by [`read_small_sheet`]: its name, its columns, and what more its
/// header and its rows must be.
pub struct SmallSheet<'a> {
    pub name: &'a str,
    pub columns: &'a [Column],
    /// A problem of a found header beyond missing or ambiguous columns.
    pub header_check: fn(&Header) -> Option<String>,
    /// The message when the header has no data row under it (None: an empty sheet is fine).
    pub empty: Option<&'a str>,
}

/// Reads the sheet `spec.name` of a small workbook whole (the changes, nominations and scores
/// files): finds its header, calls `parse` with each non-blank row under it (row, cells, header,
/// the workbook's 1904 date system) for the entry and the row's problems, and collects every
/// problem where a clerk finds it — no sheet, no header, an empty sheet.
pub fn read_small_sheet<RS: Read + Seek, T>(
    wb: &mut Workbook<RS>,
    file: &str,
    spec: &SmallSheet<'_>,
    mut parse: impl FnMut(u32, &[Value], &Header, bool) -> (Option<T>, Vec<FieldProblem>),
) -> Result<SheetRead<T>, ReadError> {
    use super::roster::{cell_problems, sheet_problem, SheetLayout};
    let mut out = SheetRead::default();
    let is_1904 = wb.is_1904();
    let Some(sheet) = wb.pick_sheet(spec.name, &[]) else {
        out.problems.push(sheet_problem(
            file,
            None,
            None,
            format!("工作簿中没有工作表；应有名为“{}”的工作表", spec.name),
        ));
        return Ok(out);
    };
    let mut search = HeaderSearch::default();
    let mut header: Option<Header> = None;
    let mut problems_of_file = ProblemCollector::new(file);
    wb.for_each_row(&sheet, |row, cells| {
        let Some(h) = &header else {
            header = search.offer(row, cells, spec.columns);
            if let Some(h) = &header {
                let more = (spec.header_check)(h);
                for m in h.ambiguous.iter().cloned().chain(more) {
                    problems_of_file.push(sheet_problem(file, Some(&sheet), Some(row), m));
                }
            }
            return ControlFlow::Continue(());
        };
        if cells.iter().all(Value::is_blank) {
            return ControlFlow::Continue(());
        }
        out.rows += 1;
        let (entry, problems) = parse(row, cells, h, is_1904);
        problems_of_file.extend(cell_problems(file, &sheet, row, problems));
        out.entries.extend(entry);
        ControlFlow::Continue(())
    })?;
    match (&header, spec.empty) {
        (None, _) => {
            let (row, msg) = search.failure(spec.columns);
            problems_of_file.push(sheet_problem(file, Some(&sheet), row, msg));
        }
        (Some(h), Some(empty)) if out.rows == 0 => {
            problems_of_file.push(sheet_problem(file, Some(&sheet), Some(h.row), empty.into()));
        }
        _ => {}
    }
    out.problems = problems_of_file.finish();
    out.layout = Some(SheetLayout { sheet, header });
    Ok(out)
}

/// One problem of an input file, where a clerk can find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellProblem {
    /// The file as it was given.
    pub file: String,
    /// None: the workbook as a whole.
    pub sheet: Option<String>,
    /// 1-based sheet row; None: the sheet as a whole.
    pub row: Option<u32>,
    /// The column's header (列名).
    pub column: Option<String>,
    /// What is wrong; what was expected (Chinese, for the clerk).
    pub message: String,
    pub severity: Severity,
}

impl CellProblem {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for CellProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(sheet) = &self.sheet {
            write!(f, "!{sheet}")?;
        }
        if let Some(row) = self.row {
            write!(f, " row {row}")?;
        }
        if let Some(column) = &self.column {
            if self.row.is_some() {
                write!(f, ", column {column}")?;
            } else {
                write!(f, " column {column}")?;
            }
        }
        let tag = match self.severity {
            Severity::Error => "",
            Severity::Warning => "提示（不影响导入）：",
        };
        write!(f, ": {tag}{}", self.message)
    }
}

/// The most problems listed for one file; the rest are counted in one more problem,
/// `另有 N 处问题未列出`.
pub const MAX_PROBLEMS: usize = 1000;

const OMITTED_PREFIX: &str = "另有 ";
const OMITTED_INFIX: &str = " 处问题未列出";
const OMITTED_ERRORS: &str = "，其中错误 ";

impl CellProblem {
    /// For the problem standing for those not listed: how many it stands for.
    pub fn omitted_count(&self) -> Option<u64> {
        let rest = self.message.strip_prefix(OMITTED_PREFIX)?;
        let (n, _) = rest.split_once(OMITTED_INFIX)?;
        n.replace(',', "").parse().ok()
    }

    /// For the problem standing for those not listed: how many of them are errors.
    pub fn omitted_errors(&self) -> Option<u64> {
        let n = self.omitted_count()?;
        if !self.is_error() {
            return Some(0);
        }
        let Some((_, rest)) = self.message.split_once(OMITTED_ERRORS) else {
            return Some(n);
        };
        let digits: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .filter(|c| *c != ',')
            .collect();
        digits.parse().ok()
    }

    /// The problem standing for `n` problems not listed, `errors` of them errors (it is an
    /// error itself when any is).
    fn omitted(file: &str, sheet: Option<String>, n: u64, errors: u64) -> CellProblem {
        let detail = if errors > 0 && errors < n {
            format!("{OMITTED_ERRORS}{} 处", guard::grouped(&errors))
        } else {
            String::new()
        };
        CellProblem {
            file: file.to_string(),
            sheet,
            row: None,
            column: None,
            message: format!(
                "{OMITTED_PREFIX}{}{OMITTED_INFIX}{detail}（每个文件只列出前 {} 处）；改正以上问题后重新导入，会再列出其余的问题",
                guard::grouped(&n),
                guard::grouped(&(MAX_PROBLEMS as u64))
            ),
            severity: if errors > 0 {
                Severity::Error
            } else {
                Severity::Warning
            },
        }
    }
}

/// Gathers the problems of one file: the first [`MAX_PROBLEMS`] are kept, the rest only
/// counted; [`ProblemCollector::finish`] adds one problem saying how many were left out. Errors
/// come before warnings: when the list is full, an error takes the place of the last warning
/// listed (so 5,000 warnings cannot hide the one error that refuses the file). The count is
/// placed on the sheet of the first problem left out, at no row, so the error workbook shows it
/// in the header's 错误说明 cell. The error workbook marks only the listed problems: the clerk
/// fixes those, imports again, and is shown the next ones.
#[derive(Debug, Default)]
pub struct ProblemCollector {
    kept: Vec<CellProblem>,
    omitted: u64,
    omitted_errors: u64,
    omitted_sheet: Option<String>,
    file: String,
}

impl ProblemCollector {
    pub fn new(file: &str) -> Self {
        ProblemCollector {
            file: file.to_string(),
            ..ProblemCollector::default()
        }
    }

    pub fn push(&mut self, p: CellProblem) {
        if let (Some(n), Some(e)) = (p.omitted_count(), p.omitted_errors()) {
            // Already a count of others (a list capped before).
            self.count(p.sheet, n, e);
        } else if self.kept.len() < MAX_PROBLEMS {
            self.kept.push(p);
        } else if let Some(i) = p
            .is_error()
            .then(|| self.kept.iter().rposition(|k| !k.is_error()))
            .flatten()
        {
            let warning = self.kept.remove(i);
            self.count(warning.sheet, 1, 0);
            self.kept.push(p);
        } else {
            let error = u64::from(p.is_error());
            self.count(p.sheet, 1, error);
        }
    }

    fn count(&mut self, sheet: Option<String>, n: u64, errors: u64) {
        if self.omitted == 0 {
            self.omitted_sheet = sheet;
        }
        self.omitted = self.omitted.saturating_add(n);
        self.omitted_errors = self.omitted_errors.saturating_add(errors);
    }

    /// Whether an error has been gathered (listed or not).
    pub fn has_errors(&self) -> bool {
        self.omitted_errors > 0 || self.kept.iter().any(CellProblem::is_error)
    }

    /// The listed problems, then the count of the others (if any).
    pub fn finish(mut self) -> Vec<CellProblem> {
        if self.omitted > 0 {
            self.kept.push(CellProblem::omitted(
                &self.file,
                self.omitted_sheet.take(),
                self.omitted,
                self.omitted_errors,
            ));
        }
        self.kept
    }
}

impl Extend<CellProblem> for ProblemCollector {
    fn extend<T: IntoIterator<Item = CellProblem>>(&mut self, iter: T) {
        for p in iter {
            self.push(p);
        }
    }
}

/// Caps a list of one file's problems gathered from several places (the reader's, already
/// capped, and the ledger's): the first [`MAX_PROBLEMS`] in the list's order are kept (errors
/// before warnings, as [`ProblemCollector`] does), and the others, with any count already in
/// the list, become one count at the end.
pub fn cap_problems(problems: &mut Vec<CellProblem>) {
    if problems.len() <= MAX_PROBLEMS && !problems.iter().any(|p| p.omitted_count().is_some()) {
        return;
    }
    let file = problems.first().map(|p| p.file.clone()).unwrap_or_default();
    let mut c = ProblemCollector::new(&file);
    // Counts last, so that the listed ones stay the first in order.
    let (counts, listed): (Vec<CellProblem>, Vec<CellProblem>) = std::mem::take(problems)
        .into_iter()
        .partition(|p| p.omitted_count().is_some());
    c.extend(listed);
    c.extend(counts);
    *problems = c.finish();
}

enum Kind<RS: Read + Seek> {
    Xlsx(Box<Xlsx<RS>>),
    Xls(Box<Xls<RS>>),
}

/// An opened input workbook.
pub struct Workbook<RS: Read + Seek> {
    kind: Kind<RS>,
    is_1904: bool,
    /// The file's name, for errors (empty when opened from a reader).
    name: String,
}

impl Workbook<BufReader<File>> {
    /// Opens a file with the default [`InputLimits`]; .xlsx or .xls is recognised by the
    /// content.
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        Workbook::open_with(path, &InputLimits::default())
    }

    /// Opens a file after checking it against `limits` (see [`super::guard`]); a file over a
    /// limit is [`ReadError::OverLimit`] naming it.
    pub fn open_with(path: &Path, limits: &InputLimits) -> Result<Self, ReadError> {
        let file = File::open(path)?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        match Workbook::from_reader_with(BufReader::with_capacity(1 << 16, file), limits) {
            Ok(mut wb) => {
                wb.name = name;
                Ok(wb)
            }
            Err(e) => {
                if let ReadError::OverLimit { reason, .. } = &e {
                    tracing::warn!(file = %path.display(), ?reason, "input workbook refused: over a limit");
                }
                Err(e.for_file(&name))
            }
        }
    }
}

/// Runs calamine code, turning a panic into [`ReadError::Damaged`].
fn guarded<T>(f: impl FnOnce() -> Result<T, ReadError>) -> Result<T, ReadError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(Err(ReadError::Damaged))
}

impl<RS: Read + Seek> Workbook<RS> {
    /// Opens a workbook from any seekable reader (a file, or bytes in a `Cursor`), with the
    /// default [`InputLimits`].
    pub fn from_reader(rs: RS) -> Result<Self, ReadError> {
        Workbook::from_reader_with(rs, &InputLimits::default())
    }

    /// Opens a workbook from any seekable reader after checking it against `limits`.
    pub fn from_reader_with(mut rs: RS, limits: &InputLimits) -> Result<Self, ReadError> {
        let mut magic = [0u8; 8];
        let mut n = 0;
        while n < magic.len() {
            let k = rs.read(&mut magic[n..])?;
            if k == 0 {
                break;
            }
            n += k;
        }
        rs.seek(SeekFrom::Start(0))?;
        guarded(move || {
            if n >= 4 && magic[..4] == *b"PK\x03\x04" {
                guard::check_xlsx(&mut rs, limits).map_err(ReadError::over_limit)?;
                rs.seek(SeekFrom::Start(0))?;
                let wb: Xlsx<RS> = Xlsx::new(rs).map_err(format_error)?;
                let is_1904 = wb.has_1904_epoch();
                Ok(Workbook {
                    kind: Kind::Xlsx(Box::new(wb)),
                    is_1904,
                    name: String::new(),
                })
            } else if n == 8 && magic == [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1] {
                let len = rs.seek(SeekFrom::End(0))?;
                guard::check_xls_len(len, limits).map_err(ReadError::over_limit)?;
                if !xls_is_safe(&mut rs).unwrap_or(true) {
                    return Err(ReadError::Damaged);
                }
                rs.seek(SeekFrom::Start(0))?;
                let wb: Xls<RS> = Xls::new(rs).map_err(|e| ReadError::Format(e.to_string()))?;
                let is_1904 = wb.has_1904_epoch();
                Ok(Workbook {
                    kind: Kind::Xls(Box::new(wb)),
                    is_1904,
                    name: String::new(),
                })
            } else {
                Err(ReadError::NotAWorkbook)
            }
        })
    }

    /// Sheet names in workbook order.
    pub fn sheet_names(&self) -> Vec<String> {
        match &self.kind {
            Kind::Xlsx(wb) => wb.sheet_names(),
            Kind::Xls(wb) => wb.sheet_names(),
        }
    }

    /// Whether dates count from 1904 (old Mac Excel) rather than 1900.
    pub fn is_1904(&self) -> bool {
        self.is_1904
    }

    /// The sheet called `wanted` (spaces ignored); else the first sheet not in `avoid`.
    pub fn pick_sheet(&self, wanted: &str, avoid: &[&str]) -> Option<String> {
        let names = self.sheet_names();
        names
            .iter()
            .find(|n| n.trim() == wanted)
            .or_else(|| names.iter().find(|n| !avoid.contains(&n.trim())))
            .cloned()
    }

    /// The sheet called `name` (spaces ignored), if any.
    pub fn find_sheet(&self, name: &str) -> Option<String> {
        self.sheet_names().into_iter().find(|n| n.trim() == name)
    }

    /// The number of rows the sheet declares (for a progress bar); None when unknown.
    pub fn row_hint(&mut self, sheet: &str) -> Option<u32> {
        let hint = guarded(|| match &mut self.kind {
            Kind::Xlsx(wb) => {
                let reader = wb
                    .worksheet_cells_reader(sheet)
                    .map_err(|e| ReadError::Format(e.to_string()))?;
                let d = reader.dimensions();
                Ok(Some(d.end.0.saturating_sub(d.start.0).saturating_add(1)))
            }
            Kind::Xls(_) => Ok(None),
        });
        hint.ok().flatten()
    }

    /// Streams the rows of a sheet in order: `f(row, cells)` with the 1-based row number and
    /// the row's cells from column A (missing cells are [`Value::Empty`]). Rows with no cell
    /// are not passed. `f` may stop the stream with `ControlFlow::Break`.
    ///
    /// The template's furniture is not passed either (see [`TemplateRows`]): its example row
    /// (first cell `示例…`) and the footer a unit adds by habit (填报单位（盖章）/填报人/联系电话/
    /// 填报日期, 填表说明 and the one-cell lines after it).
    pub fn for_each_row(
        &mut self,
        sheet: &str,
        mut f: impl FnMut(u32, &[Value]) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        let mut furniture = TemplateRows::default();
        let mut f = move |row: u32, cells: &[Value]| {
            if furniture.skip(cells) {
                ControlFlow::Continue(())
            } else {
                f(row, cells)
            }
        };
        let is_1904 = self.is_1904;
        let name = self.name.clone();
        guarded(|| match &mut self.kind {
            Kind::Xlsx(wb) => xlsx_rows(wb, &name, sheet, is_1904, &mut f),
            Kind::Xls(wb) => xls_rows(wb, &name, sheet, is_1904, &mut f),
        })
    }
}

/// A sheet that cannot be read: over a limit when its data lie about their size.
fn sheet_error(file: &str, sheet: &str, detail: String) -> ReadError {
    if guard::is_size_lie(&detail) {
        ReadError::over_limit(LimitExceeded::Inconsistent {
            part: Some(sheet.to_string()),
        })
        .for_file(file)
    } else {
        ReadError::Sheet {
            sheet: sheet.to_string(),
            detail,
        }
    }
}

/// Streams an .xlsx sheet's rows cell by cell (see [`Workbook::for_each_row`]).
fn xlsx_rows<RS: Read + Seek>(
    wb: &mut Xlsx<RS>,
    file: &str,
    sheet: &str,
    is_1904: bool,
    f: &mut impl FnMut(u32, &[Value]) -> ControlFlow<()>,
) -> Result<(), ReadError> {
    let mut reader = wb
        .worksheet_cells_reader(sheet)
        .map_err(|e| sheet_error(file, sheet, e.to_string()))?;
    let mut current: Option<u32> = None;
    let mut cells: Vec<Value> = Vec::new();
    loop {
        let next = reader
            .next_cell()
            .map_err(|e| sheet_error(file, sheet, e.to_string()))?;
        let Some(cell) = next else { break };
        let (row, col) = cell.get_position();
        if current != Some(row) {
            if let Some(r) = current {
                if f(r.saturating_add(1), &cells).is_break() {
                    return Ok(());
                }
            }
            current = Some(row);
            cells.clear();
        }
        if col >= MAX_COLUMNS {
            continue;
        }
        let value = from_data_ref(cell.get_value(), is_1904);
        let col = col as usize;
        if cells.len() <= col {
            cells.resize(col + 1, Value::Empty);
        }
        cells[col] = value;
    }
    if let Some(r) = current {
        let _ = f(r.saturating_add(1), &cells);
    }
    Ok(())
}

/// Passes an .xls sheet's rows from its whole-sheet range (see [`Workbook::for_each_row`]).
fn xls_rows<RS: Read + Seek>(
    wb: &mut Xls<RS>,
    file: &str,
    sheet: &str,
    is_1904: bool,
    f: &mut impl FnMut(u32, &[Value]) -> ControlFlow<()>,
) -> Result<(), ReadError> {
    let range = wb
        .worksheet_range(sheet)
        .map_err(|e| sheet_error(file, sheet, e.to_string()))?;
    let Some((row0, col0)) = range.start() else {
        return Ok(());
    };
    if col0 >= MAX_COLUMNS {
        return Ok(());
    }
    let mut cells: Vec<Value> = Vec::new();
    for (i, row) in range.rows().enumerate() {
        cells.clear();
        cells.resize(col0 as usize, Value::Empty);
        let keep = (MAX_COLUMNS - col0) as usize;
        cells.extend(row.iter().take(keep).map(|d| from_data(d, is_1904)));
        while cells.last().is_some_and(|v| *v == Value::Empty) {
            cells.pop();
        }
        if cells.is_empty() {
            continue;
        }
        let r = row0.saturating_add(i as u32).saturating_add(1);
        if f(r, &cells).is_break() {
            break;
        }
    }
    Ok(())
}

/// Recognises the rows of a template that are not data: the example row and the footer area.
#[derive(Debug, Default)]
pub struct TemplateRows {
    in_footer: bool,
}

/// How the template's example row starts (first non-empty cell).
pub const EXAMPLE_MARK: &str = "示例";

/// How footer rows start (first non-empty cell, spaces ignored).
pub const FOOTER_MARKS: [&str; 9] = [
    "填报单位",
    "填报人",
    "填表人",
    "联系电话：",
    "联系电话:",
    "填报日期",
    "填表日期",
    "填表说明",
    "单位负责人",
];

impl TemplateRows {
    /// Whether a row is the template's furniture, not data.
    pub fn skip(&mut self, cells: &[Value]) -> bool {
        let mut texts = cells.iter().filter(|v| !v.is_blank());
        let Some(first) = texts.next() else {
            return false;
        };
        let Value::Text(t) = first else {
            return false;
        };
        let t: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        if t.starts_with(EXAMPLE_MARK) || t.starts_with("【示例】") || t.starts_with("（示例）")
        {
            return true;
        }
        if FOOTER_MARKS.iter().any(|m| t.starts_with(m)) {
            self.in_footer = true;
            return true;
        }
        // After the footer: the instruction lines, one text cell each.
        self.in_footer && texts.next().is_none()
    }
}

/// The most cells an .xls may span (calamine builds each sheet as a dense range when it opens
/// the file: a cell at row 65535, column 65535 would ask for 128 GB).
const XLS_MAX_CELLS: u64 = 6_000_000;

/// Whether calamine may safely open a compound file (.xls): every sector chain ends (calamine
/// follows chains without a bound, so a looping allocation table would make it allocate
/// without end) and the sheets' cells span at most [`XLS_MAX_CELLS`]. Answers `true` when it
/// cannot tell (calamine then reports the damage itself).
fn xls_is_safe<RS: Read + Seek>(rs: &mut RS) -> std::io::Result<bool> {
    let Some(mut file) = CompoundFile::open(rs)? else {
        return Ok(true);
    };
    let Some(fat_sectors) = file.fat_sector_ids()? else {
        return Ok(true);
    };
    let fat = match file.read_fat(fat_sectors)? {
        ControlFlow::Continue(fat) => fat,
        ControlFlow::Break(safe) => return Ok(safe),
    };
    if has_cycle(&fat) {
        return Ok(false);
    }
    let Some(stream) = file.workbook_stream(&fat)? else {
        return Ok(true);
    };
    Ok(cells_within_limit(&stream))
}

/// Sector ids from this one up are not sectors (end of chain, free, allocation-table sector).
const CFB_SPECIAL: u32 = 0xFFFF_FFFA;

/// The little-endian u32 at `i` (`u32::MAX` past the end).
fn le_u32(b: &[u8], i: usize) -> u32 {
    b.get(i..i + 4)
        .map_or(u32::MAX, |x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
}

/// The little-endian u16 at `i` (0 past the end).
fn le_u16(b: &[u8], i: usize) -> u32 {
    b.get(i..i + 2)
        .map_or(0, |x| u32::from(u16::from_le_bytes([x[0], x[1]])))
}

/// A compound file read as calamine reads it: its header, then sectors by id.
struct CompoundFile<'r, RS> {
    rs: &'r mut RS,
    len: u64,
    header: [u8; 512],
    /// Bytes per sector.
    size: usize,
    /// The last sector id calamine reads.
    maxid: usize,
}

impl<'r, RS: Read + Seek> CompoundFile<'r, RS> {
    /// Reads the header; None when its sector size is not one calamine knows.
    fn open(rs: &'r mut RS) -> std::io::Result<Option<Self>> {
        let len = rs.seek(SeekFrom::End(0))?;
        rs.seek(SeekFrom::Start(0))?;
        let mut header = [0u8; 512];
        rs.read_exact(&mut header)?;
        let shift = u16::from_le_bytes([header[0x1E], header[0x1F]]);
        if shift != 9 && shift != 12 {
            return Ok(None);
        }
        let size = 1usize << shift;
        // As calamine reads them: sector `id` is readable when `id <= len / size`, a short
        // last sector is read as far as the file goes.
        let maxid = len as usize / size;
        Ok(Some(CompoundFile {
            rs,
            len,
            header,
            size,
            maxid,
        }))
    }

    /// Reads sector `id` into `buf`; false when calamine would not read it.
    fn read_sector(&mut self, id: u32, buf: &mut Vec<u8>) -> std::io::Result<bool> {
        if id as usize > self.maxid {
            return Ok(false);
        }
        buf.resize(self.size, 0);
        self.rs
            .seek(SeekFrom::Start((u64::from(id) + 1) * self.size as u64))?;
        let mut got = 0;
        while got < self.size {
            let k = self.rs.read(&mut buf[got..])?;
            if k == 0 {
                break;
            }
            got += k;
        }
        buf.truncate(got);
        Ok(true)
    }

    /// The allocation table's sectors: 109 in the header, more in the DIFAT chain (whose
    /// sectors end with the next one's id). None where calamine itself would stop with an
    /// error (the file is then safe for it).
    fn fat_sector_ids(&mut self) -> std::io::Result<Option<Vec<u32>>> {
        let mut fat_sectors: Vec<u32> = (0..109)
            .map(|i| le_u32(&self.header, 0x4C + 4 * i))
            .collect();
        let mut difat = le_u32(&self.header, 0x44);
        let mut buf = Vec::new();
        let mut steps = 0;
        while difat < CFB_SPECIAL {
            steps += 1;
            if steps > self.maxid + 1 || !self.read_sector(difat, &mut buf)? || buf.len() % 4 != 0 {
                return Ok(None);
            }
            fat_sectors.extend(buf.chunks_exact(4).map(|c| le_u32(c, 0)));
            match fat_sectors.pop() {
                Some(next) => difat = next,
                None => return Ok(None),
            }
        }
        Ok(Some(fat_sectors))
    }

    /// The allocation table, or the verdict when it cannot be read (safe: calamine stops
    /// there) or is too large (not safe).
    fn read_fat(&mut self, sectors: Vec<u32>) -> std::io::Result<ControlFlow<bool, Vec<u32>>> {
        const MAX_FAT: usize = 16 << 20;
        let mut fat: Vec<u32> = Vec::new();
        let mut buf = Vec::new();
        for id in sectors.into_iter().filter(|id| *id < 0xFFFF_FFFC) {
            if !self.read_sector(id, &mut buf)? || buf.len() % 4 != 0 {
                return Ok(ControlFlow::Break(true));
            }
            if fat.len() + buf.len() / 4 > MAX_FAT {
                return Ok(ControlFlow::Break(false));
            }
            fat.extend(buf.chunks_exact(4).map(|c| le_u32(c, 0)));
        }
        Ok(ControlFlow::Continue(fat))
    }

    /// A chain of whole sectors from `start`, at most `max` bytes.
    fn chain(&mut self, fat: &[u32], start: u32, max: usize) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut id = start;
        let mut sector = Vec::new();
        while id < CFB_SPECIAL && out.len() < max {
            if !self.read_sector(id, &mut sector)? {
                break;
            }
            out.extend_from_slice(&sector);
            id = fat.get(id as usize).copied().unwrap_or(CFB_SPECIAL);
        }
        out.truncate(max);
        Ok(out)
    }

    /// The Workbook (or Book) stream, from the mini stream when it is short; None when the
    /// directory has no such entry.
    fn workbook_stream(&mut self, fat: &[u32]) -> std::io::Result<Option<Vec<u8>>> {
        let len = self.len as usize;
        let directory_start = le_u32(&self.header, 0x30);
        let dirs = self.chain(fat, directory_start, len)?;
        let entries: Vec<&[u8]> = dirs.chunks_exact(128).collect();
        let Some(root) = entries.first() else {
            return Ok(None);
        };
        let Some(book) = entries
            .iter()
            .find(|e| entry_name(e).eq_ignore_ascii_case("Workbook"))
            .or_else(|| {
                entries
                    .iter()
                    .find(|e| entry_name(e).eq_ignore_ascii_case("Book"))
            })
        else {
            return Ok(None);
        };
        let stream_len = (le_u32(book, 0x78) as usize).min(len);
        let stream = if stream_len < 4096 {
            self.mini_stream(fat, root, book, stream_len)?
        } else {
            self.chain(fat, le_u32(book, 0x74), stream_len)?
        };
        Ok(Some(stream))
    }

    /// A short stream (`book`), read from the root entry's mini stream through the mini
    /// allocation table.
    fn mini_stream(
        &mut self,
        fat: &[u32],
        root: &[u8],
        book: &[u8],
        stream_len: usize,
    ) -> std::io::Result<Vec<u8>> {
        let len = self.len as usize;
        let mini = self.chain(
            fat,
            le_u32(root, 0x74),
            (le_u32(root, 0x78) as usize).min(len),
        )?;
        let mini_fat_start = le_u32(&self.header, 0x3C);
        let mini_fat_bytes = self.chain(fat, mini_fat_start, len)?;
        let mini_fat: Vec<u32> = mini_fat_bytes
            .chunks_exact(4)
            .map(|c| le_u32(c, 0))
            .collect();
        let mut out = Vec::new();
        let mut id = le_u32(book, 0x74);
        let mut steps = 0;
        while id < CFB_SPECIAL && out.len() < stream_len && steps <= mini_fat.len() {
            steps += 1;
            let at = id as usize * 64;
            let Some(piece) = mini.get(at..(at + 64).min(mini.len())) else {
                break;
            };
            out.extend_from_slice(piece);
            id = mini_fat.get(id as usize).copied().unwrap_or(CFB_SPECIAL);
        }
        out.truncate(stream_len);
        Ok(out)
    }
}

/// A directory entry's name.
fn entry_name(e: &[u8]) -> String {
    let n = (u16::from_le_bytes([e[0x40], e[0x41]]) as usize).min(64);
    let units: Vec<u16> = e[..n]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|u| *u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// Whether a chain of the allocation table never ends (0 unseen, 1 on the current path,
/// 2 ends).
fn has_cycle(fat: &[u32]) -> bool {
    let mut state = vec![0u8; fat.len()];
    let mut path = Vec::new();
    for start in 0..fat.len() {
        let mut i = start;
        while i < fat.len() && state[i] == 0 {
            state[i] = 1;
            path.push(i);
            i = fat[i] as usize;
        }
        if i < fat.len() && state[i] == 1 {
            return true;
        }
        for p in path.drain(..) {
            state[p] = 2;
        }
    }
    false
}

/// Whether the cells of a Workbook stream's sheets span at most [`XLS_MAX_CELLS`], by the
/// sheets' declared dimensions and by their cell records (BIFF records: type, length, data).
fn cells_within_limit(stream: &[u8]) -> bool {
    let mut extents = Extents::default();
    let mut pos = 0;
    while pos + 4 <= stream.len() {
        let typ = le_u16(stream, pos);
        let n = le_u16(stream, pos + 2) as usize;
        let data = stream
            .get(pos + 4..(pos + 4 + n).min(stream.len()))
            .unwrap_or(&[]);
        pos += 4 + n;
        match typ {
            // DIMENSIONS: calamine reserves rows × columns cells from it.
            0x0200 => {
                if declared_cells(data).is_some_and(|c| c > XLS_MAX_CELLS) {
                    return false;
                }
            }
            // A sheet begins or ends.
            0x0809 | 0x000A => {
                if extents.close() > XLS_MAX_CELLS {
                    return false;
                }
            }
            _ => {
                if let Some((r, c0, c1)) = cell_record(typ, data) {
                    extents.add(r, c0, c1);
                }
            }
        }
    }
    extents.close() <= XLS_MAX_CELLS
}

/// The cells a DIMENSIONS record declares (None for a record of another length).
fn declared_cells(data: &[u8]) -> Option<u64> {
    let (rf, rl, cf, cl) = match data.len() {
        10 => (
            le_u16(data, 0),
            le_u16(data, 2),
            le_u16(data, 4),
            le_u16(data, 6),
        ),
        14 | 16 => (
            le_u32(data, 0),
            le_u32(data, 4),
            le_u16(data, 8),
            le_u16(data, 10),
        ),
        _ => return None,
    };
    let cf = if cf > 0xFF || cl < cf { 0 } else { cf };
    let rows = u64::from(rl.saturating_sub(rf)) + 1;
    let cols = u64::from(cl.saturating_sub(cf)) + 1;
    Some(rows.saturating_mul(cols))
}

/// The row and first and last columns of a cell record (None: not a cell record).
fn cell_record(typ: u32, data: &[u8]) -> Option<(u32, u32, u32)> {
    match typ {
        0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E | 0x00FD | 0x0006 | 0x0201 => {
            let c = le_u16(data, 2);
            Some((le_u16(data, 0), c, c))
        }
        0x00BD | 0x00BE if data.len() >= 6 => Some((
            le_u16(data, 0),
            le_u16(data, 2),
            le_u16(data, data.len() - 2),
        )),
        _ => None,
    }
}

/// The cells spanned by the cell records of each sheet, added up sheet by sheet.
#[derive(Debug, Default)]
struct Extents {
    total: u64,
    /// The current sheet's rows and columns so far: first and last row, first and last column.
    extent: Option<(u32, u32, u32, u32)>,
}

impl Extents {
    /// Adds a cell record's cells to the current sheet's extent.
    fn add(&mut self, r: u32, c0: u32, c1: u32) {
        let (c0, c1) = (c0.min(c1), c0.max(c1));
        self.extent = Some(match self.extent {
            None => (r, r, c0, c1),
            Some((a, b, c, d)) => (a.min(r), b.max(r), c.min(c0), d.max(c1)),
        });
    }

    /// Ends the current sheet: its extent is added to the total, which is returned.
    fn close(&mut self) -> u64 {
        if let Some((r0, r1, c0, c1)) = self.extent.take() {
            self.total += u64::from(r1 - r0 + 1) * u64::from(c1 - c0 + 1);
        }
        self.total
    }
}

fn date_value(dt: &calamine::ExcelDateTime) -> Value {
    if dt.is_datetime() {
        let f = dt.as_f64();
        // Beyond Excel's range (0 ..= 9999-12-31) a value is no date.
        if f.is_finite() && (0.0..2_958_466.0).contains(&f) {
            if let Some(d) = dt.as_datetime() {
                return Value::Date(d);
            }
        }
    }
    Value::Number(dt.as_f64())
}

fn iso_value(s: &str) -> Value {
    let t = s.trim();
    if let Ok(d) = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f") {
        return Value::Date(d);
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Value::Date(d.and_time(chrono::NaiveTime::MIN));
    }
    Value::Text(s.to_string())
}

fn from_data_ref(d: &DataRef<'_>, _is_1904: bool) -> Value {
    match d {
        DataRef::Int(i) => Value::Number(*i as f64),
        DataRef::Float(f) => Value::Number(*f),
        DataRef::String(s) => Value::Text(s.clone()),
        DataRef::SharedString(s) => Value::Text((*s).to_string()),
        DataRef::Bool(b) => Value::Bool(*b),
        DataRef::DateTime(dt) => date_value(dt),
        DataRef::DateTimeIso(s) => iso_value(s),
        DataRef::DurationIso(s) => Value::Text(s.clone()),
        DataRef::Error(e) => Value::Error(e.to_string()),
        DataRef::Empty => Value::Empty,
    }
}

fn from_data(d: &Data, _is_1904: bool) -> Value {
    match d {
        Data::Int(i) => Value::Number(*i as f64),
        Data::Float(f) => Value::Number(*f),
        Data::String(s) => Value::Text(s.clone()),
        Data::Bool(b) => Value::Bool(*b),
        Data::DateTime(dt) => date_value(dt),
        Data::DateTimeIso(s) => iso_value(s),
        Data::DurationIso(s) => Value::Text(s.clone()),
        Data::Error(e) => Value::Error(e.to_string()),
        Data::Empty => Value::Empty,
    }
}

// ---------------------------------------------------------------------------------------------
// Headers

/// One expected column: its header, the aliases that also name it, and whether the column must
/// be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub required: bool,
}

/// A header as compared: spaces (also full-width) and a trailing required-mark `*` removed,
/// full-width brackets made half-width.
pub fn normalize_header(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{3000}' && *c != '\u{feff}')
        .map(|c| match c {
            '（' | '［' | '【' | '〔' | '[' => '(',
            '）' | '］' | '】' | '〕' | ']' => ')',
            c => c,
        })
        .collect::<String>()
        .trim_end_matches(['*', '＊'])
        .trim_start_matches(['*', '＊'])
        .to_string()
}

/// Where each expected column is in a header row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// 1-based row of the header.
    pub row: u32,
    /// For each expected column (same order), its 0-based sheet column.
    pub positions: Vec<Option<usize>>,
    /// Columns up to the last non-empty header cell.
    pub width: usize,
    /// One message per expected column that two or more header cells name (the first is used
    /// meanwhile): an error the clerk must resolve, naming both columns.
    pub ambiguous: Vec<String>,
}

impl Header {
    /// The cell of expected column `i` in a row.
    pub fn cell<'a>(&self, cells: &'a [Value], i: usize) -> &'a Value {
        static EMPTY: Value = Value::Empty;
        self.positions
            .get(i)
            .copied()
            .flatten()
            .and_then(|c| cells.get(c))
            .unwrap_or(&EMPTY)
    }
}

/// The spreadsheet letter of a 0-based column (`0` → `A`, `27` → `AB`).
pub fn column_letter(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The expected columns that several header cells name: one Chinese message each, naming every
/// such column by letter and header text.
pub fn ambiguous_headers(cells: &[Value], columns: &[Column]) -> Vec<String> {
    let mut out = Vec::new();
    for col in columns {
        let names: Vec<String> = std::iter::once(col.name)
            .chain(col.aliases.iter().copied())
            .map(normalize_header)
            .collect();
        let hits: Vec<String> = cells
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                Value::Text(t) if names.contains(&normalize_header(t)) => {
                    Some(format!("{}列“{}”", column_letter(i), t.trim()))
                }
                _ => None,
            })
            .collect();
        if hits.len() > 1 {
            out.push(format!(
                "表头中有{}列都表示“{}”：{}；请删除多余的一列或改正列名后重新报送",
                hits.len(),
                col.name,
                hits.join("和")
            ));
        }
    }
    out
}

/// Matches a row against the expected columns: the number matched and their positions.
pub fn match_header(cells: &[Value], columns: &[Column]) -> (usize, Vec<Option<usize>>) {
    let normalized: Vec<Option<String>> = cells
        .iter()
        .map(|v| match v {
            Value::Text(s) => Some(normalize_header(s)),
            _ => None,
        })
        .collect();
    let mut positions = vec![None; columns.len()];
    let mut matched = 0;
    for (i, col) in columns.iter().enumerate() {
        let names: Vec<String> = std::iter::once(col.name)
            .chain(col.aliases.iter().copied())
            .map(normalize_header)
            .collect();
        let found = normalized
            .iter()
            .position(|h| h.as_ref().is_some_and(|h| names.contains(h)));
        if found.is_some() {
            matched += 1;
        }
        positions[i] = found;
    }
    (matched, positions)
}

/// Looks for the header row while rows stream by: feed each row to [`HeaderSearch::offer`]
/// until it returns the header.
#[derive(Debug, Default)]
pub struct HeaderSearch {
    /// The row matching most expected columns so far: (matched, row, missing).
    best: Option<(usize, u32, Vec<&'static str>)>,
}

impl HeaderSearch {
    /// Offers a row: the header when every required column is in it.
    pub fn offer(&mut self, row: u32, cells: &[Value], columns: &[Column]) -> Option<Header> {
        let (matched, positions) = match_header(cells, columns);
        let missing: Vec<&'static str> = columns
            .iter()
            .zip(&positions)
            .filter(|(c, p)| c.required && p.is_none())
            .map(|(c, _)| c.name)
            .collect();
        if missing.is_empty() && matched > 0 {
            let width = cells
                .iter()
                .rposition(|v| !v.is_blank())
                .map_or(0, |i| i + 1);
            return Some(Header {
                row,
                positions,
                width,
                ambiguous: ambiguous_headers(cells, columns),
            });
        }
        if matched >= 2 && self.best.as_ref().is_none_or(|b| matched > b.0) {
            self.best = Some((matched, row, missing));
        }
        None
    }

    /// The message for a sheet where no header row was found.
    pub fn failure(&self, columns: &[Column]) -> (Option<u32>, String) {
        match &self.best {
            Some((_, row, missing)) => (
                Some(*row),
                format!(
                    "表头缺少列：{}；表头行应包含：{}",
                    missing.join("、"),
                    required_list(columns)
                ),
            ),
            None => (
                None,
                format!("找不到表头行；表头行应包含：{}", required_list(columns)),
            ),
        }
    }
}

fn required_list(columns: &[Column]) -> String {
    columns
        .iter()
        .filter(|c| c.required)
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join("、")
}

/// Finds the header of a sheet (the first row holding every required column).
pub fn find_header<RS: Read + Seek>(
    wb: &mut Workbook<RS>,
    sheet: &str,
    columns: &[Column],
) -> Result<Option<Header>, ReadError> {
    let mut search = HeaderSearch::default();
    let mut found = None;
    wb.for_each_row(sheet, |row, cells| {
        match search.offer(row, cells, columns) {
            Some(h) => {
                found = Some(h);
                ControlFlow::Break(())
            }
            None => ControlFlow::Continue(()),
        }
    })?;
    Ok(found)
}

// ---------------------------------------------------------------------------------------------
// Cells

/// A problem with one cell: the message for the clerk; `warning` when it does not refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub column: &'static str,
    pub message: String,
    pub severity: Severity,
}

impl FieldProblem {
    pub fn error(column: &'static str, message: impl Into<String>) -> Self {
        FieldProblem {
            column,
            message: message.into(),
            severity: Severity::Error,
        }
    }

    pub fn warning(column: &'static str, message: impl Into<String>) -> Self {
        FieldProblem {
            column,
            message: message.into(),
            severity: Severity::Warning,
        }
    }
}

/// Full-width digits, letters and punctuation made half-width (ID numbers typed with a Chinese
/// input method), and U+3000 made a space.
pub fn half_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c => c,
        })
        .collect()
}

/// A free-text cell, trimmed; None when blank. Numbers come back as Excel shows them
/// (a phone number typed as a number is fine); dates as `YYYY-MM-DD`.
pub fn text(v: &Value, column: &'static str) -> Result<Option<String>, FieldProblem> {
    match v {
        Value::Error(e) => Err(FieldProblem::error(
            column,
            format!("单元格是错误值{e}；应填写内容"),
        )),
        Value::Empty => Ok(None),
        v => {
            let s = v.display();
            let t = s.trim();
            Ok((!t.is_empty()).then(|| t.to_string()))
        }
    }
}

/// A required free-text cell.
pub fn required_text(v: &Value, column: &'static str) -> Result<String, FieldProblem> {
    text(v, column)?.ok_or_else(|| missing(column))
}

/// A required date cell (see [`date`]).
pub fn required_date(
    v: &Value,
    column: &'static str,
    is_1904: bool,
) -> Result<NaiveDate, FieldProblem> {
    date(v, column, is_1904)?.ok_or_else(|| missing(column))
}

/// A cell's value, or None with its problem added to `problems`.
pub fn checked<T>(r: Result<T, FieldProblem>, problems: &mut Vec<FieldProblem>) -> Option<T> {
    r.map_err(|p| problems.push(p)).ok()
}

/// The problem of a blank required cell.
pub fn missing(column: &'static str) -> FieldProblem {
    FieldProblem::error(
        column,
        format!("“{column}”为空；此项必须填写（合并单元格请拆分后逐行填写）"),
    )
}

/// An ID or account number cell, which must be a text cell: a number cell is refused
/// because Excel keeps only 15 significant digits.
pub fn number_text(v: &Value, column: &'static str) -> Result<Option<String>, FieldProblem> {
    match v {
        Value::Number(f) => Err(FieldProblem::error(
            column,
            format!(
                "“{column}”是数字格式的单元格（显示为{}）：Excel只保留15位有效数字，号码可能已被改动；应把该列设为文本格式，再照原件重新填写号码",
                format_number(*f)
            ),
        )),
        Value::Date(_) | Value::Bool(_) => Err(FieldProblem::error(
            column,
            format!("“{column}”不是文本（显示为{}）；应为文本格式的号码", v.display()),
        )),
        v => Ok(text(v, column)?.map(|s| half_width(&s).trim().to_string())),
    }
}

/// Reads a date typed as text: `2021-10-15`, `2021/10/15`, `2021.10.15`, `2021年10月15日`
/// (month and day may have one digit; a trailing time such as ` 00:00:00` is ignored).
pub fn parse_date_text(s: &str) -> Option<NaiveDate> {
    let s = half_width(s);
    let t = s.trim();
    let (y, m, d) = if let Some(rest) = t.split_once('年') {
        let (y, rest) = rest;
        let (m, rest) = rest.split_once('月')?;
        let d = rest
            .strip_suffix('日')
            .or_else(|| rest.strip_suffix('号'))?;
        (y.trim(), m.trim(), d.trim())
    } else {
        let date_part = t.split([' ', 'T']).next().unwrap_or(t);
        let rest_ok = t[date_part.len()..]
            .trim()
            .chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == '.');
        if !rest_ok {
            return None;
        }
        let sep = ['-', '/', '.']
            .into_iter()
            .find(|c| date_part.contains(*c))?;
        let mut parts = date_part.split(sep);
        let y = parts.next()?;
        let m = parts.next()?;
        let d = parts.next()?;
        if parts.next().is_some() {
            return None;
        }
        (y, m, d)
    };
    let digits = |x: &str, lo: usize, hi: usize| {
        (lo..=hi).contains(&x.len()) && x.chars().all(|c| c.is_ascii_digit())
    };
    if !digits(y, 4, 4) || !digits(m, 1, 2) || !digits(d, 1, 2) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// An Excel serial day number as a date, in the workbook's epoch (1900, with Excel's 1900
/// leap-day quirk, or 1904).
pub fn serial_to_date(serial: f64, is_1904: bool) -> Option<NaiveDate> {
    if !serial.is_finite() || !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    if is_1904 {
        NaiveDate::from_ymd_opt(1904, 1, 1)?.checked_add_signed(chrono::Duration::days(days))
    } else {
        let base = NaiveDate::from_ymd_opt(1899, 12, 30)?;
        let days = if days < 61 { days + 1 } else { days };
        base.checked_add_signed(chrono::Duration::days(days))
    }
}

const DATE_FORMS: &str = "2021-10-15、2021/10/15、2021.10.15或2021年10月15日，或Excel日期单元格";

/// A date cell: an Excel date, a date serial in a cell whose format was lost, or one of the
/// text forms of [`parse_date_text`]. Years outside 1949–2100 are refused as typing errors.
pub fn date(
    v: &Value,
    column: &'static str,
    is_1904: bool,
) -> Result<Option<NaiveDate>, FieldProblem> {
    let d = match v {
        Value::Empty => return Ok(None),
        Value::Text(s) if s.trim().is_empty() => return Ok(None),
        Value::Date(d) => Some(d.date()),
        Value::Number(f) => serial_to_date(*f, is_1904),
        Value::Text(s) => parse_date_text(s),
        Value::Bool(_) => None,
        Value::Error(e) => {
            return Err(FieldProblem::error(
                column,
                format!("单元格是错误值{e}；应为日期，如{DATE_FORMS}"),
            ))
        }
    };
    match d {
        Some(d) if (1949..=2100).contains(&d.year()) => Ok(Some(d)),
        Some(d) => Err(FieldProblem::error(
            column,
            format!("日期{d}不在合理范围内；应为1949年至2100年间的日期"),
        )),
        None => Err(FieldProblem::error(
            column,
            format!(
                "“{}”不是可识别的日期；应为日期，如{DATE_FORMS}",
                v.display()
            ),
        )),
    }
}

/// A light e-mail address check: one `@`, a non-empty local part and a dotted domain.
pub fn email_ok(s: &str) -> bool {
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_dates() {
        let d = NaiveDate::from_ymd_opt(2021, 10, 15);
        for s in [
            "2021-10-15",
            "2021/10/15",
            "2021.10.15",
            "2021年10月15日",
            " 2021-10-15 00:00:00 ",
            "２０２１年１０月１５日",
        ] {
            assert_eq!(parse_date_text(s), d, "{s}");
        }
        assert_eq!(
            parse_date_text("2022年9月16日"),
            NaiveDate::from_ymd_opt(2022, 9, 16)
        );
        for s in [
            "2021-13-01",
            "20211015",
            "2021-10",
            "15/10/2021",
            "abc",
            "2021年10月",
        ] {
            assert_eq!(parse_date_text(s), None, "{s}");
        }
    }

    #[test]
    fn serials() {
        assert_eq!(
            serial_to_date(44484.0, false),
            NaiveDate::from_ymd_opt(2021, 10, 15)
        );
        assert_eq!(
            serial_to_date(43022.0, true),
            NaiveDate::from_ymd_opt(2021, 10, 15)
        );
        assert_eq!(serial_to_date(f64::NAN, false), None);
    }

    #[test]
    fn headers() {
        assert_eq!(normalize_header(" 职业(工种) "), "职业(工种)");
        assert_eq!(normalize_header("职业（工种）*"), "职业(工种)");
        assert_eq!(normalize_header("身份证\u{3000}号码"), "身份证号码");
    }

    fn problem(row: u32, severity: Severity) -> CellProblem {
        CellProblem {
            file: "f.xlsx".into(),
            sheet: Some("变动".into()),
            row: Some(row),
            column: Some("姓名".into()),
            message: format!("第{row}行"),
            severity,
        }
    }

    #[test]
    fn problem_cap() {
        // 1,500 errors: 1,000 listed, 500 counted.
        let mut c = ProblemCollector::new("f.xlsx");
        c.extend((0..1500).map(|r| problem(r, Severity::Error)));
        let list = c.finish();
        assert_eq!(list.len(), MAX_PROBLEMS + 1);
        let last = list.last().unwrap();
        assert_eq!(
            (last.omitted_count(), last.omitted_errors()),
            (Some(500), Some(500))
        );
        assert!(
            last.message.starts_with("另有 500 处问题未列出（"),
            "{}",
            last.message
        );
        assert_eq!(last.sheet.as_deref(), Some("变动"));
    }

    #[test]
    fn problem_cap_lists_an_error_in_place_of_a_warning() {
        // 5,000 warnings then one error: the error is listed, in place of the last warning.
        let mut c = ProblemCollector::new("f.xlsx");
        c.extend((0..5000).map(|r| problem(r, Severity::Warning)));
        c.push(problem(5000, Severity::Error));
        assert!(c.has_errors());
        let list = c.finish();
        assert_eq!(list.len(), MAX_PROBLEMS + 1);
        assert_eq!(list[MAX_PROBLEMS - 1].row, Some(5000));
        let last = list.last().unwrap();
        assert_eq!(last.severity, Severity::Warning);
        assert_eq!(
            (last.omitted_count(), last.omitted_errors()),
            (Some(4001), Some(0))
        );
    }

    #[test]
    fn problem_cap_counts_errors_and_merges_counts() {
        // Mixed: the count says how many are errors, and merging counts adds them up.
        let mut c = ProblemCollector::new("f.xlsx");
        c.extend((0..1000).map(|r| problem(r, Severity::Error)));
        c.extend((0..1234).map(|r| {
            problem(
                r,
                if r % 2 == 0 {
                    Severity::Error
                } else {
                    Severity::Warning
                },
            )
        }));
        let mut list = c.finish();
        let last = list.last().unwrap().clone();
        assert_eq!(last.severity, Severity::Error);
        assert_eq!(
            (last.omitted_count(), last.omitted_errors()),
            (Some(1234), Some(617))
        );
        assert!(
            last.message
                .contains("另有 1,234 处问题未列出，其中错误 617 处"),
            "{}",
            last.message
        );
        list.extend((0..10).map(|r| problem(r, Severity::Error)));
        cap_problems(&mut list);
        assert_eq!(list.len(), MAX_PROBLEMS + 1);
        let last = list.last().unwrap();
        assert_eq!(
            (last.omitted_count(), last.omitted_errors()),
            (Some(1244), Some(627))
        );
    }

    #[test]
    fn problem_cap_leaves_a_short_list() {
        let mut short = vec![problem(1, Severity::Error)];
        cap_problems(&mut short);
        assert_eq!(short, vec![problem(1, Severity::Error)]);
    }

    #[test]
    fn template_furniture_is_not_data() {
        let t = |s: &str| Value::Text(s.into());
        let mut r = TemplateRows::default();
        assert!(!r.skip(&[t("姓名"), t("身份证号码"), t("联系电话")]));
        assert!(r.skip(&[t("示例：张三"), t("370303199001011234")]));
        assert!(!r.skip(&[t("李娜"), t("370303199001011234")]));
        assert!(!r.skip(&[t("1．说明")]), "before the footer, a row is data");
        assert!(r.skip(&[Value::Empty, t("填报单位（盖章）："), t("某公司")]));
        assert!(r.skip(&[t("联系电话：0533-1234567")]));
        assert!(r.skip(&[t("1．身份证号码请填18位")]), "an instruction line");
        assert!(!r.skip(&[t("王强"), t("370303199001011234")]));
        assert!(!r.skip(&[Value::Empty]));
    }

    #[test]
    fn emails() {
        assert!(email_ok("a@b.cn"));
        assert!(!email_ok("a@b"));
        assert!(!email_ok("ab.cn"));
        assert!(!email_ok("a@@b.cn"));
    }
}
