//! What a pull tells the clerk and the bureau: every bad row named by source, row key and
//! column; the error workbook of the bad rows (the workbook import's, [`write_error_workbook_with`]);
//! the bureau's notices of a refused pull and of rows gone from a source.

use super::config::{SourceConfig, SourceKind};
use super::map::{contract_names, key_display};
use crate::excel::errors::{write_error_workbook_with, ErrorWorkbookError, SheetToCopy};
use crate::excel::read::{CellProblem, Header, InputLimits, Severity, MAX_PROBLEMS};
use crate::excel::roster::SheetLayout;
use crate::mail::{MailSettings, Notice};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem of a source row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProblem {
    /// The source's name.
    pub source: String,
    /// The row's key as a clerk reads it, numbers masked (`sfzh=3703**********1234，…`).
    pub key: String,
    /// The contract column (`身份证号码`); None: the row as a whole.
    pub column: Option<String>,
    /// The source column it is read from.
    pub source_column: Option<String>,
    pub message: String,
    pub severity: Severity,
}

impl fmt::Display for SourceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "数据源{} 行键[{}]", self.source, self.key)?;
        if let Some(c) = &self.column {
            write!(f, " 列“{c}”")?;
            if let Some(s) = &self.source_column {
                write!(f, "（源列{s}）")?;
            }
        }
        let tag = match self.severity {
            Severity::Error => "",
            Severity::Warning => "提示（不影响导入）：",
        };
        write!(f, "：{tag}{}", self.message)
    }
}

/// A refused row: its number in the pull, key, values (contract order) and problems
/// (contract column, message, severity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub row: u32,
    pub key: String,
    pub cells: Vec<Option<String>>,
    pub problems: Vec<(Option<&'static str>, String, Severity)>,
}

/// The refused rows of a pull: the first [`MAX_PROBLEMS`] kept, the rest counted.
#[derive(Debug, Clone, Default)]
pub struct BadRows {
    pub rows: Vec<BadRow>,
    pub omitted: u64,
}

impl BadRows {
    /// Adds a problem to a row (the row is kept when new and there is room).
    pub fn add(
        &mut self,
        row: u32,
        key: &str,
        cells: &[Option<String>],
        problem: (Option<&'static str>, String, Severity),
    ) {
        if let Some(r) = self.rows.iter_mut().rev().find(|r| r.row == row) {
            r.problems.push(problem);
        } else if self.rows.len() < MAX_PROBLEMS {
            self.rows.push(BadRow {
                row,
                key: key.to_string(),
                cells: cells.to_vec(),
                problems: vec![problem],
            });
        } else {
            self.omitted += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.omitted == 0
    }

    /// Rows refused in all.
    pub fn count(&self) -> u64 {
        self.rows.len() as u64 + self.omitted
    }

    /// Every problem, named by source, key and column.
    pub fn problems(&self, s: &SourceConfig) -> Vec<SourceProblem> {
        let mut out = Vec::new();
        for r in &self.rows {
            for (column, message, severity) in &r.problems {
                out.push(problem(s, &r.key, *column, message, *severity));
            }
        }
        out
    }
}

/// A problem of the row with this key.
pub fn problem(
    s: &SourceConfig,
    key: &str,
    column: Option<&'static str>,
    message: &str,
    severity: Severity,
) -> SourceProblem {
    let source_column = column.and_then(|c| {
        let i = s.kind.columns().iter().position(|x| x.name == c)?;
        s.columns.get(i).cloned().flatten()
    });
    SourceProblem {
        source: s.name.clone(),
        key: key_display(&s.key, key, true),
        column: column.map(str::to_string),
        source_column,
        message: message.to_string(),
        severity,
    }
}

/// Writes the error workbook of a pull's refused rows under `dir`:
/// `<name>-pull<N>.errors.xlsx` (mode 0600), the rows in the layout of an input workbook of
/// the kind, with 数据源 and 行键 columns and the 错误说明 column of a workbook import.
pub fn write_error_workbook(
    dir: &Path,
    s: &SourceConfig,
    pull: i64,
    bad: &BadRows,
) -> Result<PathBuf, ErrorWorkbookError> {
    let io = |source| ErrorWorkbookError::Io {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let extract = dir.join(format!("{}-pull{pull}.xlsx", s.name));
    let names = contract_names(s.kind);
    write_extract(&extract, s, &names, bad)?;
    let layout = SheetLayout {
        sheet: s.kind.sheet().to_string(),
        header: Some(Header {
            row: 1,
            positions: (0..names.len()).map(Some).collect(),
            width: names.len() + 2,
            ambiguous: Vec::new(),
        }),
    };
    let sheets = [SheetToCopy {
        layout: &layout,
        columns: s.kind.columns(),
    }];
    let problems = cell_problems(s, &extract, bad);
    let limits = InputLimits::default();
    let written = write_error_workbook_with(&extract, &sheets, &problems, &limits);
    let _ = std::fs::remove_file(&extract);
    written
}

/// The refused rows as an input workbook (rows 2…), for the error workbook to copy.
fn write_extract(
    path: &Path,
    s: &SourceConfig,
    names: &[&str],
    bad: &BadRows,
) -> Result<(), ErrorWorkbookError> {
    let x = |source| ErrorWorkbookError::Xlsx {
        path: path.display().to_string(),
        source,
    };
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name(s.kind.sheet()).map_err(x)?;
    let extra = ["数据源", "行键"];
    for (c, n) in names.iter().chain(extra.iter()).enumerate() {
        ws.write_string(0, c as u16, *n).map_err(x)?;
    }
    for (i, r) in bad.rows.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, v) in r.cells.iter().enumerate() {
            if let Some(v) = v {
                ws.write_string(row, c as u16, v).map_err(x)?;
            }
        }
        ws.write_string(row, names.len() as u16, &s.name)
            .map_err(x)?;
        let key = key_display(&s.key, &r.key, false);
        ws.write_string(row, names.len() as u16 + 1, key)
            .map_err(x)?;
    }
    let file =
        crate::excel::errors::create_private(path).map_err(|source| ErrorWorkbookError::Io {
            path: path.display().to_string(),
            source,
        })?;
    book.save_to_writer(file).map_err(x)
}

fn cell_problems(s: &SourceConfig, extract: &Path, bad: &BadRows) -> Vec<CellProblem> {
    let file = extract.display().to_string();
    let mut out = Vec::new();
    for (i, r) in bad.rows.iter().enumerate() {
        for (column, message, severity) in &r.problems {
            out.push(CellProblem {
                file: file.clone(),
                sheet: Some(s.kind.sheet().to_string()),
                row: Some(i as u32 + 2),
                column: column.map(str::to_string),
                message: message.clone(),
                severity: *severity,
            });
        }
    }
    if bad.omitted > 0 {
        out.push(CellProblem {
            file,
            sheet: Some(s.kind.sheet().to_string()),
            row: None,
            column: None,
            message: format!(
                "另有 {} 行有错误未列出（每次只列出前 {MAX_PROBLEMS} 行）；改正以上各行后会再列出其余的行",
                bad.omitted
            ),
            severity: Severity::Error,
        });
    }
    out
}

/// The bureau's notice built-in texts (used when the bureau's template folder lacks them).
const REFUSED_TEMPLATE: &str = include_str!("../../config/templates/source_refused.txt");
const MISSING_TEMPLATE: &str = include_str!("../../config/templates/source_missing.txt");

fn render(mail: &MailSettings, name: &str, v: &BTreeMap<&str, String>) -> (String, String) {
    let built_in = if name == "source_refused" {
        REFUSED_TEMPLATE
    } else {
        MISSING_TEMPLATE
    };
    let r = crate::mail::templates::render(&mail.templates, name, v)
        .ok()
        .or_else(|| crate::mail::templates::render_text(built_in, v));
    match r {
        Some(r) => (r.subject, r.body),
        None => (
            format!("数据源{}", v.get("source").cloned().unwrap_or_default()),
            String::new(),
        ),
    }
}

/// What a notice says of a pull.
pub struct PullFacts<'a> {
    pub source: &'a SourceConfig,
    pub pull: i64,
    pub today: chrono::NaiveDate,
    pub signature: String,
}

impl PullFacts<'_> {
    fn values(&self) -> BTreeMap<&'static str, String> {
        let s = self.source;
        let mut v = BTreeMap::new();
        v.insert("source", s.name.clone());
        v.insert(
            "kind",
            match s.kind {
                SourceKind::Roster => "名册",
                SourceKind::Changes => "变动",
            }
            .to_string(),
        );
        v.insert("url", crate::store::redact(&s.url));
        v.insert("pull", self.pull.to_string());
        v.insert("date", crate::jobs::notices::cn_date(self.today));
        v.insert("signature", self.signature.clone());
        v
    }
}

/// The bureau's notice of refused rows (the whole pull, for a roster), with the error workbook.
pub fn refused_notice(
    mail: &MailSettings,
    facts: &PullFacts<'_>,
    summary: &str,
    problems: &[SourceProblem],
    workbook: &Path,
) -> Notice {
    let mut v = facts.values();
    let listed: Vec<String> = problems
        .iter()
        .take(200)
        .map(|p| format!("  {p}"))
        .collect();
    let more = problems.len().saturating_sub(listed.len());
    let mut text = listed.join("\n");
    if more > 0 {
        text.push_str(&format!("\n  另有{more}处，见错误说明工作簿"));
    }
    v.insert("summary", crate::rules::id_number::mask_numbers(summary));
    v.insert("problems", text);
    v.insert("workbook", workbook.display().to_string());
    let (subject, body) = render(mail, "source_refused", &v);
    Notice {
        key: format!("source-refused:{}:{}", facts.source.name, facts.pull),
        to: vec![mail.bureau.clone()],
        subject,
        body,
        attachments: if facts.source.attach_error_workbook {
            vec![workbook.to_path_buf()]
        } else {
            Vec::new()
        },
    }
}

/// The bureau's notice of rows gone from a source (each key once; nothing is voided).
pub fn missing_notice(
    mail: &MailSettings,
    facts: &PullFacts<'_>,
    count: i64,
    keys: &[String],
) -> Notice {
    let mut v = facts.values();
    let s = facts.source;
    let mut text: Vec<String> = keys
        .iter()
        .map(|k| format!("  {}", key_display(&s.key, k, true)))
        .collect();
    if count > keys.len() as i64 {
        text.push(format!("  另有{}行未列出", count - keys.len() as i64));
    }
    v.insert("count", count.to_string());
    v.insert("keys", text.join("\n"));
    let (subject, body) = render(mail, "source_missing", &v);
    Notice {
        key: format!("source-missing:{}:{}", s.name, facts.pull),
        to: vec![mail.bureau.clone()],
        subject,
        body,
        attachments: Vec::new(),
    }
}
