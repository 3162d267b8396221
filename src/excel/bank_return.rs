//! The bank's return file (回盘文件): its layout in the bank template ([`ReturnLayout`], the
//! `[return]` table) and its reader ([`read_return_file`]).
//!
//! The bank answers each payment row with paid or failed, in an .xlsx/.xls workbook or a
//! delimited text file. The file's extension decides how it is read (.xlsx, .xlsm and .xls
//! through the guarded [`Workbook`] reader; anything else as text), and it must agree with the
//! layout's `format`: an xlsx layout refuses a .txt and a text layout an .xlsx, naming both.
//!
//! The header row is looked for in the first [`HEADER_SEARCH_ROWS`] rows (bank files carry
//! title lines); after it, blank rows, rows whose first cell is one of `skip_first_field`
//! (`H`/`T` header and trailer records by default) and rows whose first non-empty cell starts
//! with 合计/总计 are skipped. Every other row becomes a [`ReturnRow`] or, when a cell is
//! wrong, [`CellProblem`]s (one per wrong cell, in Chinese, saying what was expected) and no
//! row. Whole-file failures are [`ReturnError`]s: a text file not valid in the layout's
//! encoding fails at the first such line — a GBK file is never read as garbled UTF-8, nor the
//! reverse.
//!
//! Amounts are exact: text goes through `rust_decimal` (never `f64`), `1,234.50` is accepted,
//! more than two decimals, zero and negatives are not.

use super::bank::{BankFormat, BankTemplate, Field};
use super::bank_text::{check_separator, split_fields, Quote, TextEncoding};
use super::guard::InputLimits;
use super::read::{column_letter, ReadError, Severity, Value, Workbook};
use super::read::{half_width, normalize_header, CellProblem, ProblemCollector};
use chrono::NaiveDate;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::Path;
use std::str::FromStr;

/// The header row is looked for in this many first rows (or lines).
pub const HEADER_SEARCH_ROWS: u32 = 20;

/// The longest line of a text return file.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The status texts of a layout without `[return]`.
pub const DEFAULT_PAID: [&str; 2] = ["成功", "交易成功"];
pub const DEFAULT_FAILED: [&str; 2] = ["失败", "交易失败"];

/// The kind of return file the bank sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReturnFormat {
    /// .xlsx or .xls.
    #[default]
    Xlsx,
    /// Delimited text (`separator`, `encoding`, `quote`).
    Text,
}

fn default_skip() -> Vec<String> {
    vec!["H".into(), "T".into()]
}

/// The `[return]` table of a bank template: how the bank's return file is laid out. The
/// column keys hold the header cell's text (spaces and full-/half-width brackets ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnLayout {
    #[serde(default)]
    pub format: ReturnFormat,
    /// The worksheet (xlsx; default the first).
    #[serde(default)]
    pub sheet: Option<String>,
    /// Text only, required there.
    #[serde(default)]
    pub separator: Option<String>,
    /// Text only, required there.
    #[serde(default)]
    pub encoding: Option<TextEncoding>,
    /// Text only; default `minimal` (quoted fields are read, quotes are optional).
    #[serde(default)]
    pub quote: Option<Quote>,
    /// Rows whose first cell is one of these are not data (default `["H", "T"]`).
    #[serde(default = "default_skip")]
    pub skip_first_field: Vec<String>,
    #[serde(default)]
    pub batch_ref: Option<String>,
    /// 序号 within the part.
    #[serde(default)]
    pub row_no: Option<String>,
    #[serde(default)]
    pub id_number: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    pub amount: String,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
    pub paid_values: Vec<String>,
    pub failed_values: Vec<String>,
}

/// A column of a return file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    BatchRef,
    RowNo,
    IdNumber,
    Account,
    Amount,
    Status,
    Reason,
    Date,
}

impl ReturnLayout {
    /// The layout of a template without `[return]`: the columns chieftech writes that name the
    /// row (序号 as `row_no`, the ID number, the account) and the amount, plus 状态 (成功/交易成功
    /// or 失败/交易失败) and 失败原因; a text template's separator, encoding and quoting.
    pub fn default_for(t: &BankTemplate) -> ReturnLayout {
        let header = |f: Field| t.columns.iter().find(|c| c.field == f);
        let header = |f: Field| header(f).map(|c| c.header.clone());
        let text = t.text.as_ref().filter(|_| t.format == BankFormat::Text);
        ReturnLayout {
            format: match text {
                Some(_) => ReturnFormat::Text,
                None => ReturnFormat::Xlsx,
            },
            sheet: None,
            separator: text.map(|x| x.separator.clone()),
            encoding: text.map(|x| x.encoding),
            quote: text.map(|x| x.quote),
            skip_first_field: default_skip(),
            batch_ref: None,
            row_no: header(Field::Seq),
            id_number: header(Field::IdNumber),
            account: header(Field::Account),
            amount: header(Field::Amount).unwrap_or_else(|| "金额".into()),
            status: "状态".into(),
            reason: Some("失败原因".into()),
            date: None,
            paid_values: DEFAULT_PAID.map(String::from).to_vec(),
            failed_values: DEFAULT_FAILED.map(String::from).to_vec(),
        }
    }

    /// The configured columns, in a fixed order.
    fn columns(&self) -> Vec<(Key, &str)> {
        let optional = [
            (Key::BatchRef, &self.batch_ref),
            (Key::RowNo, &self.row_no),
            (Key::IdNumber, &self.id_number),
            (Key::Account, &self.account),
        ];
        let mut out: Vec<(Key, &str)> = optional
            .into_iter()
            .filter_map(|(k, h)| h.as_deref().map(|h| (k, h)))
            .collect();
        out.push((Key::Amount, &self.amount));
        out.push((Key::Status, &self.status));
        for (k, h) in [(Key::Reason, &self.reason), (Key::Date, &self.date)] {
            if let Some(h) = h {
                out.push((k, h));
            }
        }
        out
    }

    /// Checks the table (the message names the key at fault).
    pub fn check(&self) -> Result<(), String> {
        self.check_format()?;
        let keyed = (self.batch_ref.is_some() && self.row_no.is_some())
            || self.id_number.is_some()
            || self.account.is_some();
        if !keyed {
            return Err("a return file needs batch_ref and row_no, or id_number or account, to match its rows to the payments".into());
        }
        let columns = self.columns();
        let mut seen: Vec<String> = Vec::new();
        for (_, h) in &columns {
            let n = normalize_header(h);
            if n.is_empty() {
                return Err("a column header is empty".into());
            }
            if seen.contains(&n) {
                return Err(format!("the header \"{h}\" is given to two columns"));
            }
            seen.push(n);
        }
        self.check_values()
    }

    /// xlsx and text keys where they belong.
    fn check_format(&self) -> Result<(), String> {
        match self.format {
            ReturnFormat::Xlsx => {
                if self.separator.is_some() || self.encoding.is_some() || self.quote.is_some() {
                    return Err("separator, encoding and quote belong to format = \"text\"".into());
                }
            }
            ReturnFormat::Text => {
                let (Some(sep), Some(enc)) = (&self.separator, self.encoding) else {
                    return Err("format = \"text\" needs separator and encoding".into());
                };
                check_separator(sep, enc)?;
                if self.sheet.is_some() {
                    return Err("sheet belongs to format = \"xlsx\"".into());
                }
            }
        }
        Ok(())
    }

    /// Status values: some of each, none blank, none both paid and failed.
    fn check_values(&self) -> Result<(), String> {
        if self.paid_values.is_empty() || self.failed_values.is_empty() {
            return Err("paid_values and failed_values each need at least one status text".into());
        }
        let all = self.paid_values.iter().chain(&self.failed_values);
        if all.clone().any(|v| v.trim().is_empty()) {
            return Err("a status text is empty".into());
        }
        if let Some(v) = self.paid_values.iter().find(|v| {
            self.failed_values
                .iter()
                .any(|f| status_key(f) == status_key(v))
        }) {
            return Err(format!("\"{v}\" is both in paid_values and failed_values"));
        }
        Ok(())
    }
}

/// A status text as compared: half-width, trimmed, ASCII letters upper-case.
fn status_key(s: &str) -> String {
    half_width(s).trim().to_ascii_uppercase()
}

/// One row of a return file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnRow {
    /// 1-based sheet row or text line number.
    pub row: u32,
    pub batch_ref: Option<String>,
    pub row_no: Option<u32>,
    pub id_number: Option<String>,
    pub account: Option<String>,
    pub fen: i64,
    pub paid: bool,
    /// The status as the bank wrote it (trimmed).
    pub status: String,
    pub reason: Option<String>,
    pub date: Option<NaiveDate>,
}

/// A return file as read: its good rows and the problems of the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnFile {
    /// The file's name.
    pub file: String,
    /// The sheet read (None for a text file).
    pub sheet: Option<String>,
    pub rows: Vec<ReturnRow>,
    /// Rows with an error are left out of `rows`.
    pub problems: Vec<CellProblem>,
}

/// A return file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReturnError {
    #[error("无法读取回盘文件“{file}”：{source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The workbook cannot be opened or read (the guard's refusal among them).
    #[error("回盘文件“{file}”：{source}")]
    Workbook {
        file: String,
        #[source]
        source: ReadError,
    },
    /// A text file over a limit of `[input]`.
    #[error("回盘文件“{file}”{reason}；可能是损坏或错误的文件，未读取")]
    OverLimit { file: String, reason: String },
    #[error("回盘文件“{file}”应为{expected}（银行模板的回盘格式 format = \"{format}\"），而此文件的扩展名为“{extension}”")]
    WrongKind {
        file: String,
        expected: &'static str,
        format: &'static str,
        extension: String,
    },
    #[error("回盘文件“{file}”第{line}行不是有效的{encoding}编码文本{hint}；银行模板规定回盘文件为{encoding}编码，请使用银行给出的原始文件，不要另存为其他编码")]
    Encoding {
        file: String,
        line: u64,
        encoding: &'static str,
        hint: String,
    },
    #[error("回盘文件“{file}”中没有名为“{sheet}”的工作表")]
    NoSheet { file: String, sheet: String },
    #[error(
        "回盘文件“{file}”的前{HEADER_SEARCH_ROWS}行中找不到表头行；表头行应包含：{sought}{detail}"
    )]
    NoHeader {
        file: String,
        sought: String,
        detail: String,
    },
    #[error("回盘文件“{file}”第{row}行的表头中有{count}列都是“{header}”（{columns}）；无法确定用哪一列，请银行确认")]
    DuplicateHeader {
        file: String,
        row: u32,
        header: String,
        count: usize,
        columns: String,
    },
    #[error("回盘文件“{file}”中没有数据行")]
    Empty { file: String },
}

/// Reads a return file laid out as `layout` says (see the module docs).
pub fn read_return_file(
    path: &Path,
    layout: &ReturnLayout,
    limits: &InputLimits,
) -> Result<ReturnFile, ReturnError> {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let is_book = matches!(extension.as_str(), "xlsx" | "xlsm" | "xls");
    match (is_book, layout.format) {
        (true, ReturnFormat::Xlsx) => read_workbook(path, file, layout, limits),
        (false, ReturnFormat::Text) => read_text(path, file, layout, limits),
        (true, ReturnFormat::Text) => Err(ReturnError::WrongKind {
            file,
            expected: "文本文件（.txt或.csv）",
            format: "text",
            extension,
        }),
        (false, ReturnFormat::Xlsx) => Err(ReturnError::WrongKind {
            file,
            expected: "Excel工作簿（.xlsx或.xls）",
            format: "xlsx",
            extension,
        }),
    }
}

/// A configured column where the header row has it.
#[derive(Debug, Clone)]
struct Found {
    key: Key,
    /// The header as configured (for problems).
    header: String,
    col: usize,
}

/// Looks for the header row among the rows offered.
struct HeaderSearch<'l> {
    wanted: Vec<(Key, &'l str)>,
    /// The row with most configured headers so far: (found, row, missing).
    best: Option<(usize, u32, Vec<&'l str>)>,
}

impl<'l> HeaderSearch<'l> {
    fn new(layout: &'l ReturnLayout) -> Self {
        HeaderSearch {
            wanted: layout.columns(),
            best: None,
        }
    }

    /// The columns when `cells` is the header row; an error when it names a column twice.
    fn offer(
        &mut self,
        file: &str,
        row: u32,
        cells: &[Value],
    ) -> Result<Option<Vec<Found>>, ReturnError> {
        let texts: Vec<Option<String>> = cells
            .iter()
            .map(|v| match v {
                Value::Text(t) => Some(normalize_header(t)),
                _ => None,
            })
            .collect();
        let mut found = Vec::new();
        let mut missing = Vec::new();
        let mut twice = None;
        for (key, header) in &self.wanted {
            let n = normalize_header(header);
            let hits: Vec<usize> = (0..texts.len())
                .filter(|&i| texts[i].as_deref() == Some(n.as_str()))
                .collect();
            match hits.first() {
                Some(&col) => found.push(Found {
                    key: *key,
                    header: header.to_string(),
                    col,
                }),
                None => missing.push(*header),
            }
            if hits.len() > 1 && twice.is_none() {
                twice = Some(duplicate(file, row, header, &hits));
            }
        }
        if missing.is_empty() {
            return match twice {
                Some(e) => Err(e),
                None => Ok(Some(found)),
            };
        }
        if !found.is_empty() && self.best.as_ref().is_none_or(|b| found.len() > b.0) {
            self.best = Some((found.len(), row, missing));
        }
        Ok(None)
    }

    /// The error when no header row was found.
    fn failure(&self, file: &str) -> ReturnError {
        let sought: Vec<&str> = self.wanted.iter().map(|(_, h)| *h).collect();
        let detail = match &self.best {
            Some((_, row, missing)) => {
                format!("；第{row}行最像表头，但缺少：{}", missing.join("、"))
            }
            None => String::new(),
        };
        ReturnError::NoHeader {
            file: file.to_string(),
            sought: sought.join("、"),
            detail,
        }
    }
}

/// The error of a header naming a column in several cells.
fn duplicate(file: &str, row: u32, header: &str, hits: &[usize]) -> ReturnError {
    ReturnError::DuplicateHeader {
        file: file.to_string(),
        row,
        header: header.to_string(),
        count: hits.len(),
        columns: hits
            .iter()
            .map(|&i| format!("{}列", column_letter(i)))
            .collect::<Vec<_>>()
            .join("和"),
    }
}

/// Turns the data rows into [`ReturnRow`]s and [`CellProblem`]s.
struct RowParser<'l> {
    layout: &'l ReturnLayout,
    file: String,
    sheet: Option<String>,
    columns: Vec<Found>,
    rows: Vec<ReturnRow>,
    problems: ProblemCollector,
    /// Rows that were data (good or not).
    data_rows: u64,
}

impl<'l> RowParser<'l> {
    fn new(
        layout: &'l ReturnLayout,
        file: &str,
        sheet: Option<String>,
        columns: Vec<Found>,
    ) -> Self {
        RowParser {
            layout,
            file: file.to_string(),
            sheet,
            columns,
            rows: Vec::new(),
            problems: ProblemCollector::new(file),
            data_rows: 0,
        }
    }

    /// Whether a row is not data: blank, a header/trailer record, a 合计/总计 row.
    fn skip(&self, cells: &[Value]) -> bool {
        let Some(first) = cells.iter().find(|v| !v.is_blank()) else {
            return true;
        };
        let first_text = first.display();
        let first_text = first_text.trim();
        if first_text.starts_with("合计") || first_text.starts_with("总计") {
            return true;
        }
        let lead = cells.first().map(|v| v.display()).unwrap_or_default();
        let lead = status_key(&lead);
        self.layout
            .skip_first_field
            .iter()
            .any(|s| status_key(s) == lead)
    }

    /// Reads one row (1-based `row`).
    fn row(&mut self, row: u32, cells: &[Value]) {
        if self.skip(cells) {
            return;
        }
        self.data_rows += 1;
        let mut out = ReturnRow {
            row,
            batch_ref: None,
            row_no: None,
            id_number: None,
            account: None,
            fen: 0,
            paid: false,
            status: String::new(),
            reason: None,
            date: None,
        };
        let mut bad = Vec::new();
        for f in &self.columns {
            let v = cells.get(f.col).unwrap_or(&Value::Empty);
            if let Err(message) = self.field(f, v, &mut out) {
                bad.push((f.header.clone(), message));
            }
        }
        if bad.is_empty() {
            self.rows.push(out);
        }
        for (column, message) in bad {
            self.problem(row, Some(column), message);
        }
    }

    /// A problem of row `row`.
    fn problem(&mut self, row: u32, column: Option<String>, message: String) {
        self.problems.push(CellProblem {
            file: self.file.clone(),
            sheet: self.sheet.clone(),
            row: Some(row),
            column,
            message,
            severity: Severity::Error,
        });
    }

    /// Reads one cell into `out`; Err: the message for the clerk.
    fn field(&self, f: &Found, v: &Value, out: &mut ReturnRow) -> Result<(), String> {
        let h = f.header.as_str();
        match f.key {
            Key::BatchRef => out.batch_ref = Some(required(v, h)?),
            Key::RowNo => out.row_no = Some(row_no(v, h)?),
            Key::IdNumber => out.id_number = Some(id_number(v, h)?),
            Key::Account => out.account = Some(account(v, h)?),
            Key::Amount => out.fen = amount(v, h)?,
            Key::Status => {
                let s = required(v, h)?;
                out.paid = self.status(&s)?;
                out.status = s;
            }
            Key::Reason => out.reason = cell_text(v, h)?,
            Key::Date => out.date = date(v, h)?,
        }
        Ok(())
    }

    /// Whether a status text means paid; Err for one the layout does not list.
    fn status(&self, s: &str) -> Result<bool, String> {
        let k = status_key(s);
        let l = self.layout;
        if l.paid_values.iter().any(|v| status_key(v) == k) {
            return Ok(true);
        }
        if l.failed_values.iter().any(|v| status_key(v) == k) {
            return Ok(false);
        }
        let accepted: Vec<&str> = l
            .paid_values
            .iter()
            .chain(&l.failed_values)
            .map(String::as_str)
            .collect();
        Err(format!(
            "状态“{s}”无法识别；应为以下之一：{}",
            accepted.join("、")
        ))
    }

    fn finish(self) -> Result<ReturnFile, ReturnError> {
        if self.data_rows == 0 {
            return Err(ReturnError::Empty { file: self.file });
        }
        Ok(ReturnFile {
            file: self.file,
            sheet: self.sheet,
            rows: self.rows,
            problems: self.problems.finish(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Cells

/// A cell's text, trimmed; None when blank; Err for an error value (`#N/A`).
fn cell_text(v: &Value, header: &str) -> Result<Option<String>, String> {
    match v {
        Value::Error(e) => Err(format!("“{header}”是错误值{e}；应填写内容")),
        v => {
            let s = v.display();
            let t = s.trim();
            Ok((!t.is_empty()).then(|| t.to_string()))
        }
    }
}

/// A cell that must hold something.
fn required(v: &Value, header: &str) -> Result<String, String> {
    cell_text(v, header)?.ok_or_else(|| format!("“{header}”为空；回盘文件的每一行都应有此项"))
}

/// 序号: a positive whole number.
fn row_no(v: &Value, header: &str) -> Result<u32, String> {
    let bad = || format!("“{header}”应为正整数，例如 1；实为“{}”", v.display());
    match v {
        Value::Number(f) if f.fract() == 0.0 && *f >= 1.0 && *f <= f64::from(u32::MAX) => {
            Ok(*f as u32)
        }
        Value::Number(_) => Err(bad()),
        _ => {
            let s = half_width(&required(v, header)?);
            let s = s.trim();
            match s.parse::<u32>() {
                Ok(n) if n > 0 && s.chars().all(|c| c.is_ascii_digit()) => Ok(n),
                _ => Err(bad()),
            }
        }
    }
}

/// A number typed as text: a number cell is refused (Excel keeps 15 significant digits).
fn number_text(v: &Value, header: &str) -> Result<String, String> {
    if let Value::Number(f) = v {
        return Err(format!(
            "“{header}”是数字格式的单元格（显示为{}）：Excel只保留15位有效数字，号码可能已被改动；应为文本格式的号码",
            super::read::format_number(*f)
        ));
    }
    Ok(half_width(&required(v, header)?).trim().to_string())
}

/// An ID number: digits, the last may be X.
fn id_number(v: &Value, header: &str) -> Result<String, String> {
    let s = number_text(v, header)?.to_ascii_uppercase();
    let body = s.strip_suffix('X').unwrap_or(&s);
    if body.is_empty() || !body.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "“{header}”“{s}”含有数字以外的字符；身份证号应只有数字，最后一位可以是X"
        ));
    }
    Ok(s)
}

/// An account number: digits only.
fn account(v: &Value, header: &str) -> Result<String, String> {
    let s = number_text(v, header)?;
    if !s.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "“{header}”“{s}”含有数字以外的字符；银行账号应只有数字（不含空格）"
        ));
    }
    Ok(s)
}

/// The message of a wrong amount.
const AMOUNT_EXPECTED: &str = "金额应为大于零的数字，最多两位小数，例如 1234.50";

/// An amount in fen: a number cell or text such as `1234.50` or `1,234.50`.
fn amount(v: &Value, header: &str) -> Result<i64, String> {
    let bad = |shown: &str| format!("“{header}”为“{shown}”：{AMOUNT_EXPECTED}");
    let text = match v {
        // Rust prints the shortest text that reads back as the same f64: 1234.5 → "1234.5".
        Value::Number(f) if f.is_finite() => format!("{f}"),
        Value::Empty => return Err(format!("“{header}”为空；{AMOUNT_EXPECTED}")),
        v => v.display(),
    };
    amount_fen(&text).ok_or_else(|| bad(text.trim()))
}

/// `1,234.50` → 123450 fen; None unless a positive amount of at most two decimals.
pub fn amount_fen(s: &str) -> Option<i64> {
    let s = half_width(s);
    let s = s.trim();
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) if !f.is_empty() => (i, f),
        Some(_) => return None,
        None => (s, ""),
    };
    if !frac.chars().all(|c| c.is_ascii_digit()) || !grouped_digits(int) {
        return None;
    }
    let plain = format!(
        "{}.{}",
        int.replace(',', ""),
        if frac.is_empty() { "0" } else { frac }
    );
    let d = Decimal::from_str(&plain).ok()?.normalize();
    if d.scale() > 2 || d <= Decimal::ZERO {
        return None;
    }
    d.checked_mul(Decimal::ONE_HUNDRED)?.to_i64()
}

/// Digits, with `,` only between groups of three (`1,234,567`).
fn grouped_digits(s: &str) -> bool {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit() || c == ',') {
        return false;
    }
    let groups: Vec<&str> = s.split(',').collect();
    groups.len() == 1
        || (!groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3))
}

/// An optional date: a date cell, YYYYMMDD as a number, or text `YYYY-MM-DD`, `YYYYMMDD`,
/// `YYYY/MM/DD` (a time after it is ignored).
fn date(v: &Value, header: &str) -> Result<Option<NaiveDate>, String> {
    let bad = || {
        format!(
            "“{header}”“{}”不是可识别的日期；应为 YYYY-MM-DD、YYYYMMDD 或 YYYY/MM/DD，例如 2025-01-15",
            v.display()
        )
    };
    match v {
        Value::Date(d) => Ok(Some(d.date())),
        Value::Number(f) if f.fract() == 0.0 && (1e7..1e8).contains(f) => {
            date_text(&format!("{}", *f as u32))
                .map(Some)
                .ok_or_else(bad)
        }
        Value::Number(_) | Value::Bool(_) => Err(bad()),
        v => match cell_text(v, header)? {
            None => Ok(None),
            Some(s) => date_text(&s).map(Some).ok_or_else(bad),
        },
    }
}

/// `2025-01-15`, `20250115`, `2025/01/15`, each maybe followed by a time.
pub fn date_text(s: &str) -> Option<NaiveDate> {
    let s = half_width(s);
    let mut parts = s.trim().splitn(2, [' ', 'T']);
    let day = parts.next()?;
    let time_ok = parts.next().is_none_or(|t| {
        t.trim()
            .chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == '.')
    });
    if !time_ok {
        return None;
    }
    if day.len() == 8 && day.chars().all(|c| c.is_ascii_digit()) {
        let n = |r: std::ops::Range<usize>| day[r].parse::<u32>().ok();
        return NaiveDate::from_ymd_opt(n(0..4)? as i32, n(4..6)?, n(6..8)?);
    }
    ["%Y-%m-%d", "%Y/%m/%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(day, f).ok())
}

// ---------------------------------------------------------------------------------------------
// Workbooks

/// Reads an .xlsx/.xls return file.
fn read_workbook(
    path: &Path,
    file: String,
    layout: &ReturnLayout,
    limits: &InputLimits,
) -> Result<ReturnFile, ReturnError> {
    let wb_error = |source| ReturnError::Workbook {
        file: file.clone(),
        source,
    };
    let mut wb = Workbook::open_with(path, limits).map_err(wb_error)?;
    let sheet = match &layout.sheet {
        Some(s) => wb.find_sheet(s).ok_or_else(|| ReturnError::NoSheet {
            file: file.clone(),
            sheet: s.clone(),
        })?,
        None => match wb.sheet_names().into_iter().next() {
            Some(s) => s,
            None => return Err(ReturnError::Empty { file }),
        },
    };
    let mut search = HeaderSearch::new(layout);
    let mut parser: Option<RowParser> = None;
    let mut failure: Option<ReturnError> = None;
    let mut seen_any = false;
    wb.for_each_row(&sheet, |row, cells| {
        seen_any = true;
        if let Some(p) = &mut parser {
            p.row(row, cells);
            return ControlFlow::Continue(());
        }
        if row > HEADER_SEARCH_ROWS {
            return ControlFlow::Break(());
        }
        match search.offer(&file, row, cells) {
            Ok(Some(cols)) => {
                parser = Some(RowParser::new(layout, &file, Some(sheet.clone()), cols))
            }
            Ok(None) => {}
            Err(e) => {
                failure = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    })
    .map_err(wb_error)?;
    finish_search(file, failure, parser, seen_any, &search)
}

/// The file read, or why not: a header error, no header, no rows.
fn finish_search(
    file: String,
    failure: Option<ReturnError>,
    parser: Option<RowParser>,
    seen_any: bool,
    search: &HeaderSearch,
) -> Result<ReturnFile, ReturnError> {
    if let Some(e) = failure {
        return Err(e);
    }
    match parser {
        Some(p) => p.finish(),
        None if !seen_any => Err(ReturnError::Empty { file }),
        None => Err(search.failure(&file)),
    }
}

// ---------------------------------------------------------------------------------------------
// Text

/// The text settings of a layout (checked at parse time; defaults for a hand-made one).
fn text_settings(layout: &ReturnLayout) -> (&str, TextEncoding, Quote) {
    (
        layout.separator.as_deref().unwrap_or(","),
        layout.encoding.unwrap_or(TextEncoding::Gbk),
        layout.quote.unwrap_or_default(),
    )
}

/// Reads lines of at most [`MAX_LINE_BYTES`], without their line ending.
struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    /// The last line's 1-based number.
    number: u64,
}

impl<R: BufRead> Lines<R> {
    /// The next line and its number; Err(None) for a line over the limit, Err(Some) for an
    /// I/O error.
    fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, Option<std::io::Error>> {
        self.buf.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let n = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
            .map_err(Some)?;
        if n == 0 {
            return Ok(None);
        }
        self.number += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if n as u64 == limit {
            return Err(None);
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some((self.number, &self.buf)))
    }
}

/// Decodes line `number` of a text file; the first line loses a UTF-8 byte-order mark.
fn decode_line<'b>(
    bytes: &'b [u8],
    number: u64,
    enc: TextEncoding,
    file: &str,
) -> Result<std::borrow::Cow<'b, str>, ReturnError> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let err = |hint: String| ReturnError::Encoding {
        file: file.to_string(),
        line: number,
        encoding: enc.label(),
        hint,
    };
    let bytes = match (number, enc) {
        (1, TextEncoding::Utf8) => bytes.strip_prefix(BOM).unwrap_or(bytes),
        (1, TextEncoding::Gbk) if bytes.starts_with(BOM) => {
            return Err(err("（文件以UTF-8标记开头，是UTF-8编码的文件）".into()))
        }
        _ => bytes,
    };
    enc.decode(bytes).ok_or_else(|| {
        let other = enc.other();
        let hint = if other.decode(bytes).is_some() {
            format!("（看起来是{}编码）", other.label())
        } else {
            String::new()
        };
        err(hint)
    })
}

/// A text line's cells; a quoting problem is the row's problem.
fn line_cells(text: &str, layout: &ReturnLayout) -> Result<Vec<Value>, String> {
    let (sep, _, quote) = text_settings(layout);
    let fields = split_fields(text, sep, quote)?;
    Ok(fields
        .into_iter()
        .map(|f| {
            if f.trim().is_empty() {
                Value::Empty
            } else {
                Value::Text(f)
            }
        })
        .collect())
}

/// Reads a delimited text return file.
fn read_text(
    path: &Path,
    file: String,
    layout: &ReturnLayout,
    limits: &InputLimits,
) -> Result<ReturnFile, ReturnError> {
    let io = |source| ReturnError::Io {
        file: file.clone(),
        source,
    };
    let f = File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    if len > limits.max_uncompressed_mb.saturating_mul(1 << 20) {
        return Err(over(
            &file,
            format!("有{len}字节，超过上限{}MB", limits.max_uncompressed_mb),
        ));
    }
    let mut lines = Lines {
        reader: BufReader::with_capacity(1 << 16, f),
        buf: Vec::new(),
        number: 0,
    };
    let mut state = TextState {
        layout,
        file: &file,
        search: HeaderSearch::new(layout),
        parser: None,
        early: Vec::new(),
        seen_any: false,
    };
    loop {
        let (number, line) = match lines.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(Some(e)) => return Err(io(e)),
            Err(None) => {
                let n = lines.number;
                return Err(over(&file, format!("第{n}行超过{MAX_LINE_BYTES}字节")));
            }
        };
        if number > limits.max_rows {
            return Err(over(&file, format!("超过{}行", limits.max_rows)));
        }
        if state.line(number, line)?.is_break() {
            break;
        }
    }
    state.finish()
}

fn over(file: &str, reason: String) -> ReturnError {
    ReturnError::OverLimit {
        file: file.to_string(),
        reason,
    }
}

/// A text file being read: looking for the header, then reading rows.
struct TextState<'l> {
    layout: &'l ReturnLayout,
    file: &'l str,
    search: HeaderSearch<'l>,
    parser: Option<RowParser<'l>>,
    /// The lines before the header (at most [`HEADER_SEARCH_ROWS`]), to tell a file in the
    /// other encoding.
    early: Vec<Vec<u8>>,
    seen_any: bool,
}

impl TextState<'_> {
    /// Reads line `number`.
    fn line(&mut self, number: u64, bytes: &[u8]) -> Result<ControlFlow<()>, ReturnError> {
        let (_, enc, _) = text_settings(self.layout);
        let text = decode_line(bytes, number, enc, self.file)?;
        let row = u32::try_from(number).unwrap_or(u32::MAX);
        let cells = line_cells(&text, self.layout);
        if let Some(p) = &mut self.parser {
            match cells {
                Ok(cells) => p.row(row, &cells),
                Err(message) => p.problem(row, None, message),
            }
            return Ok(ControlFlow::Continue(()));
        }
        if !text.trim().is_empty() {
            self.seen_any = true;
        }
        if row > HEADER_SEARCH_ROWS {
            return Ok(ControlFlow::Break(()));
        }
        self.early.push(bytes.to_vec());
        let cells = cells.unwrap_or_default();
        if let Some(cols) = self.search.offer(self.file, row, &cells)? {
            self.parser = Some(RowParser::new(self.layout, self.file, None, cols));
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The file read; with no header, whether the early lines are the other encoding's.
    fn finish(self) -> Result<ReturnFile, ReturnError> {
        if let Some(p) = self.parser {
            return p.finish();
        }
        if !self.seen_any {
            return Err(ReturnError::Empty {
                file: self.file.to_string(),
            });
        }
        let (_, enc, _) = text_settings(self.layout);
        let other = enc.other();
        let mut search = HeaderSearch::new(self.layout);
        for (i, bytes) in self.early.iter().enumerate() {
            let Some(text) = other.decode(bytes) else {
                break;
            };
            let cells = line_cells(&text, self.layout).unwrap_or_default();
            if let Ok(Some(_)) = search.offer(self.file, i as u32 + 1, &cells) {
                return Err(ReturnError::Encoding {
                    file: self.file.to_string(),
                    line: i as u64 + 1,
                    encoding: enc.label(),
                    hint: format!(
                        "（表头按{}编码才能读出，文件看起来是{}编码）",
                        other.label(),
                        other.label()
                    ),
                });
            }
        }
        Err(self.search.failure(self.file))
    }
}
