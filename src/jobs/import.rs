//! The import job: roster and status-change workbooks into the ledger.
//!
//! For each file: its content hash is looked up first (a file taken in before is skipped, and
//! the report says so); then the workbook is read on a blocking thread while the ledger takes
//! the rows on the async side (a roster streams through a bounded channel in batches, so a
//! million-row roster needs little memory; of several changes files, the next is hashed and
//! read while this one is checked and recorded); every problem — cell-level from the Excel layer,
//! person-level from the store — is collected in one pass, shown as
//! `FILE!SHEET row R, column 列名: …`, and written to an error workbook beside the input.
//!
//! Every workbook is opened under the `[input]` limits ([`InputLimits`]: a file over one is
//! refused unread, exit status 1), and at most [`crate::excel::read::MAX_PROBLEMS`] problems of
//! a file are listed, then their count.
//!
//! A roster file is all or nothing. A changes file is all or nothing unless `accept_valid`,
//! when its sound rows are applied and the rest refused. Failures outside the input (database,
//! disk) are [`ImportError`]s.

use crate::excel::changes::read_changes;
use crate::excel::errors::{write_error_workbook_with, ErrorWorkbookError, SheetToCopy};
use crate::excel::read::{cap_problems, CellProblem, InputLimits, Severity, Workbook};
use crate::excel::roster::{
    read_roster, sheet_problem, RosterRead, SheetLayout, ROSTER_COLUMNS, ROSTER_SHEET, UNIT_COLUMNS,
};
use crate::rules::{Reporter, RulesConfig};
use crate::store::roster::{RosterOutcome, RosterProblem, RosterSession, RosterStart};
use crate::store::{RosterEntry, RowProblem, Source, Store, StoreError, UnitEntry};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// What an import did, for the terminal and the exit status.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// One human summary line per file.
    pub lines: Vec<String>,
    /// Every problem of every file (warnings included).
    pub problems: Vec<CellProblem>,
    /// Error workbooks written beside the inputs.
    pub error_workbooks: Vec<PathBuf>,
    /// Some input was refused, wholly or in part (exit status 1).
    pub refused: bool,
}

/// A failure outside the input (exit status 3).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ErrorWorkbook(#[from] ErrorWorkbookError),
    #[error("the workbook reader stopped unexpectedly: {0}")]
    Reader(String),
}

/// Roster rows per batch from the reader to the ledger.
const BATCH: usize = 2000;
/// Batches in flight between the reader and the ledger.
const IN_FLIGHT: usize = 4;
/// Files with more rows than this get a progress bar.
const PROGRESS_FROM_ROWS: u32 = 10_000;

/// SHA-256 of a file, read in pieces.
fn file_sha256(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn file_problem(file: &str, message: String) -> CellProblem {
    sheet_problem(file, None, None, message)
}

fn store_problem(
    file: &str,
    sheet: &str,
    row: Option<u32>,
    column: &str,
    message: &str,
) -> CellProblem {
    CellProblem {
        file: file.to_string(),
        sheet: Some(sheet.to_string()),
        row,
        column: Some(column.to_string()),
        message: message.to_string(),
        severity: Severity::Error,
    }
}

fn errors_in(problems: &[CellProblem]) -> usize {
    problems
        .iter()
        .filter(|p| p.is_error())
        .map(|p| p.omitted_errors().map_or(1, |n| n as usize))
        .sum()
}

fn progress_bar(total: u32, file: &str) -> ProgressBar {
    let bar = ProgressBar::new(u64::from(total));
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} 行 (剩余 {eta})",
    ) {
        bar.set_style(style);
    }
    bar.set_message(file.to_string());
    bar
}

enum RosterMsg {
    Units(Vec<UnitEntry>),
    Rows(Vec<RosterEntry>),
}

/// Imports roster workbooks (`chieftech import roster FILE...`), each file all or nothing,
/// under the default [`InputLimits`].
pub async fn import_roster(
    store: &Store,
    files: &[PathBuf],
    operator: &str,
    progress: bool,
) -> Result<ImportReport, ImportError> {
    import_roster_with(store, files, operator, progress, &InputLimits::default()).await
}

/// [`import_roster`] under the given limits (`[input]` of the configuration).
pub async fn import_roster_with(
    store: &Store,
    files: &[PathBuf],
    operator: &str,
    progress: bool,
    limits: &InputLimits,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    for path in files {
        import_roster_file(store, path, operator, progress, limits, &mut report).await?;
    }
    Ok(report)
}

async fn import_roster_file(
    store: &Store,
    path: &Path,
    operator: &str,
    progress: bool,
    limits: &InputLimits,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let label = path.display().to_string();
    let Some(mut session) = open_roster_session(store, path, &label, operator, report).await?
    else {
        return Ok(());
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<RosterMsg>(IN_FLIGHT);
    let reader = spawn_roster_reader(path, &label, limits, progress, tx);
    let failure = feed_roster(&mut session, &mut rx).await;
    drop(rx);
    let read = reader
        .await
        .map_err(|e| ImportError::Reader(e.to_string()))?;
    if let Some(e) = failure {
        let _ = session.abandon().await;
        return Err(e.into());
    }
    let read = match read {
        Ok(r) => r,
        Err(e) => {
            session.abandon().await?;
            unreadable(report, &label, e.to_string());
            return Ok(());
        }
    };
    let (mut problems, outcome) = close_roster(session, &read, &label).await?;
    sort_problems(&mut problems);
    cap_problems(&mut problems);
    match outcome {
        Some(o) => report.lines.push(roster_imported_line(&label, &o)),
        None => {
            let n = errors_in(&problems);
            let written = write_roster_errors(path, &read, &problems, limits)?;
            report.lines.push(format!(
                "{label}：名册未导入（整个文件不导入）：{n}处错误，已写出错误说明工作簿{}",
                written.display()
            ));
            report.error_workbooks.push(written);
            report.refused = true;
        }
    }
    report.problems.extend(problems);
    Ok(())
}

/// Hashes the file and opens its import; None (with the report told why) when the file
/// cannot be read or was imported before.
async fn open_roster_session<'s>(
    store: &'s Store,
    path: &Path,
    label: &str,
    operator: &str,
    report: &mut ImportReport,
) -> Result<Option<Box<RosterSession<'s>>>, ImportError> {
    let sha = match file_sha256(path) {
        Ok(h) => h,
        Err(e) => {
            let why = format!("无法读取文件：{e}；请检查文件名和路径");
            unreadable(report, label, why);
            return Ok(None);
        }
    };
    let source = Source {
        kind: "roster-file".into(),
        file_name: Some(label.to_string()),
        sha256: Some(sha),
        operator: operator.into(),
    };
    match store.begin_roster_import(&source).await? {
        RosterStart::AlreadyImported(o) => {
            report.lines.push(format!(
                "{label}：内容相同的名册文件已于{}导入过，本次未做任何更改",
                o.already_imported.unwrap_or_default()
            ));
            Ok(None)
        }
        RosterStart::Open(s) => Ok(Some(s)),
    }
}

/// Reads the roster workbook on a blocking thread, sending units and row batches down `tx`
/// (a progress bar for large ones).
fn spawn_roster_reader(
    path: &Path,
    label: &str,
    limits: &InputLimits,
    progress: bool,
    tx: tokio::sync::mpsc::Sender<RosterMsg>,
) -> tokio::task::JoinHandle<Result<RosterRead, crate::excel::read::ReadError>> {
    let reader_path = path.to_path_buf();
    let reader_label = label.to_string();
    let reader_limits = *limits;
    tokio::task::spawn_blocking(
        move || -> Result<RosterRead, crate::excel::read::ReadError> {
            let mut wb = Workbook::open_with(&reader_path, &reader_limits)?;
            let bar = if progress {
                let sheet = wb.pick_sheet(ROSTER_SHEET, &[crate::excel::roster::UNITS_SHEET]);
                sheet
                    .and_then(|s| wb.row_hint(&s))
                    .filter(|n| *n >= PROGRESS_FROM_ROWS)
                    .map(|n| progress_bar(n, &reader_label))
            } else {
                None
            };
            let send = |msg: RosterMsg| {
                if tx.blocking_send(msg).is_err() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            };
            let read = read_roster(
                &mut wb,
                &reader_label,
                BATCH,
                |units| send(RosterMsg::Units(units)),
                |rows| send(RosterMsg::Rows(rows)),
                |n| {
                    if let Some(b) = &bar {
                        b.set_position(n);
                    }
                },
            );
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            read
        },
    )
}

/// Feeds what the reader sends to the import; the ledger's failure, if any, stops it.
async fn feed_roster(
    session: &mut RosterSession<'_>,
    rx: &mut tokio::sync::mpsc::Receiver<RosterMsg>,
) -> Option<StoreError> {
    while let Some(msg) = rx.recv().await {
        let r = match msg {
            RosterMsg::Units(u) => session.add_units(&u).await,
            RosterMsg::Rows(rows) => session.add(&rows).await,
        };
        if let Err(e) = r {
            return Some(e);
        }
    }
    None
}

/// Ends the import: committed when neither the workbook nor the ledger found an error, else
/// abandoned. Returns every problem, and the outcome when committed.
async fn close_roster(
    session: Box<RosterSession<'_>>,
    read: &RosterRead,
    label: &str,
) -> Result<(Vec<CellProblem>, Option<RosterOutcome>), ImportError> {
    let roster_sheet = read
        .roster
        .as_ref()
        .map_or_else(|| ROSTER_SHEET.to_string(), |l| l.sheet.clone());
    let mut problems = read.problems.clone();
    let to_cells = |ps: &[RosterProblem]| -> Vec<CellProblem> {
        ps.iter()
            .map(|p| store_problem(label, &roster_sheet, p.row, p.column, &p.message))
            .collect()
    };
    let outcome = if read.has_errors() {
        problems.extend(to_cells(session.problems()));
        session.abandon().await?;
        None
    } else {
        match session.finish().await? {
            Ok(o) => Some(o),
            Err(ps) => {
                problems.extend(to_cells(&ps));
                None
            }
        }
    };
    Ok((problems, outcome))
}

/// The line for a roster taken in.
fn roster_imported_line(label: &str, o: &RosterOutcome) -> String {
    let mut line = format!(
        "{label}：名册已导入：新增{}条，更新{}条，未变{}条，新增单位{}个",
        o.added, o.updated, o.unchanged, o.units_added
    );
    if o.added + o.updated == 0 {
        line.push_str("（与已登记的相同，未做任何更改）");
    }
    line
}

/// Writes the error workbook of a refused roster (its roster and unit sheets, annotated).
fn write_roster_errors(
    path: &Path,
    read: &RosterRead,
    problems: &[CellProblem],
    limits: &InputLimits,
) -> Result<PathBuf, ImportError> {
    let layouts: Vec<&SheetLayout> = read.roster.iter().chain(read.units.iter()).collect();
    let sheets: Vec<SheetToCopy<'_>> = layouts
        .iter()
        .map(|l| SheetToCopy {
            layout: l,
            columns: if read.units.as_ref() == Some(*l) {
                &UNIT_COLUMNS
            } else {
                &ROSTER_COLUMNS
            },
        })
        .collect();
    Ok(write_error_workbook_with(path, &sheets, problems, limits)?)
}

/// Problems by sheet and row, file-level ones first (a stable sort keeps column order).
fn sort_problems(problems: &mut [CellProblem]) {
    problems.sort_by(|a, b| {
        (a.sheet.is_some(), &a.sheet, a.row).cmp(&(b.sheet.is_some(), &b.sheet, b.row))
    });
}

/// Imports status-change workbooks (`chieftech import changes FILE... [--accept-valid]`) under
/// the default [`InputLimits`].
pub async fn import_changes(
    store: &Store,
    files: &[PathBuf],
    reporter: Reporter,
    accept_valid: bool,
    cfg: &RulesConfig,
    operator: &str,
    progress: bool,
) -> Result<ImportReport, ImportError> {
    import_changes_with(
        store,
        files,
        reporter,
        accept_valid,
        cfg,
        operator,
        progress,
        &InputLimits::default(),
    )
    .await
}

/// [`import_changes`] under the given limits (`[input]` of the configuration).
#[allow(clippy::too_many_arguments)]
pub async fn import_changes_with(
    store: &Store,
    files: &[PathBuf],
    reporter: Reporter,
    accept_valid: bool,
    cfg: &RulesConfig,
    operator: &str,
    progress: bool,
    limits: &InputLimits,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    // The next file is read while this one is checked and recorded: reading is the reader's
    // core's work, recording the database's.
    let mut ahead = files.first().map(|p| read_ahead(p, limits, progress));
    for (i, path) in files.iter().enumerate() {
        let Some(this) = ahead.take() else { break };
        let read = this.await.map_err(|e| ImportError::Reader(e.to_string()))?;
        ahead = files.get(i + 1).map(|p| read_ahead(p, limits, progress));
        import_changes_file(
            store,
            (path, read),
            reporter,
            accept_valid,
            cfg,
            operator,
            limits,
            &mut report,
        )
        .await?;
    }
    Ok(report)
}

/// A changes file read ahead: its content hash (taken first, as the file was when read) and
/// then its rows or why they could not be read; or why it could not be hashed (not read then).
type ReadFile = std::io::Result<(
    String,
    Result<crate::excel::changes::ChangesFile, crate::excel::read::ReadError>,
)>;

/// Starts hashing and reading a changes workbook on a blocking thread (a progress bar for
/// large ones).
fn read_ahead(
    path: &Path,
    limits: &InputLimits,
    progress: bool,
) -> tokio::task::JoinHandle<ReadFile> {
    let path = path.to_path_buf();
    let limits = *limits;
    tokio::task::spawn_blocking(move || {
        let sha = file_sha256(&path)?;
        let label = path.display().to_string();
        Ok((sha, read_changes_file(&path, &label, &limits, progress)))
    })
}

#[allow(clippy::too_many_arguments)]
async fn import_changes_file(
    store: &Store,
    (path, read): (&Path, ReadFile),
    reporter: Reporter,
    accept_valid: bool,
    cfg: &RulesConfig,
    operator: &str,
    limits: &InputLimits,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let label = path.display().to_string();
    let (sha, file) = match read {
        Ok(read) => read,
        Err(e) => {
            let why = format!("无法读取文件：{e}；请检查文件名和路径");
            unreadable(report, &label, why);
            return Ok(());
        }
    };
    let source = Source {
        kind: "changes-file".into(),
        file_name: Some(label.clone()),
        sha256: Some(sha),
        operator: operator.into(),
    };
    let file = match file {
        Ok(f) => f,
        Err(e) => {
            unreadable(report, &label, e.to_string());
            return Ok(());
        }
    };
    let how = ChangesImport {
        store,
        source: &source,
        reporter,
        accept_valid,
        cfg,
        label: &label,
    };
    let (mut problems, line, refused) = how.check_and_record(&file).await?;
    sort_problems(&mut problems);
    cap_problems(&mut problems);
    if refused {
        let written = write_changes_errors(path, &file, &problems, limits)?;
        report
            .lines
            .push(format!("{line}；错误说明工作簿：{}", written.display()));
        report.error_workbooks.push(written);
        report.refused = true;
    } else {
        report.lines.push(line);
    }
    report.problems.extend(problems);
    Ok(())
}

/// Writes the error workbook of a changes file with refused rows (its sheet, annotated).
fn write_changes_errors(
    path: &Path,
    file: &crate::excel::changes::ChangesFile,
    problems: &[CellProblem],
    limits: &InputLimits,
) -> Result<PathBuf, ImportError> {
    let sheets = file.sheets_to_copy();
    Ok(write_error_workbook_with(path, &sheets, problems, limits)?)
}

/// How one changes file is taken in.
struct ChangesImport<'a> {
    store: &'a Store,
    source: &'a Source,
    reporter: Reporter,
    accept_valid: bool,
    cfg: &'a RulesConfig,
    label: &'a str,
}

impl ChangesImport<'_> {
    /// Checks the file's rows against the ledger and records them (or, for a file refused
    /// whole, only checks them): every problem, the summary line, and whether rows were
    /// refused.
    async fn check_and_record(
        &self,
        file: &crate::excel::changes::ChangesFile,
    ) -> Result<(Vec<CellProblem>, String, bool), ImportError> {
        let (store, label) = (self.store, self.label);
        let sheet = file
            .sheet()
            .unwrap_or(crate::excel::changes::CHANGES_SHEET)
            .to_string();
        let mut problems = file.problems.clone();
        let to_cell = |p: &RowProblem| store_problem(label, &sheet, p.row, p.column, &p.message);
        // Rows refused for a cell are checked against the roster too: every problem in one pass.
        problems.extend(store.check_people(&file.partial).await?.iter().map(to_cell));
        let cell_errors = file.has_errors();
        let mut refused = cell_errors;
        let line = if cell_errors && !self.accept_valid {
            // Refused whole; a dry run still finds the person-level problems of the sound rows.
            if !file.entries.is_empty() {
                let outcome = store
                    .check_changes(self.source, self.reporter, &file.entries, self.cfg)
                    .await?;
                let person_level = outcome.rejected.iter().filter(|p| p.row.is_some());
                problems.extend(person_level.map(to_cell));
            }
            refused_whole_line(label, &problems)
        } else {
            let outcome = store
                .record_changes(
                    self.source,
                    self.reporter,
                    &file.entries,
                    self.accept_valid,
                    self.cfg,
                )
                .await?;
            problems.extend(outcome.rejected.iter().map(to_cell));
            refused |= !outcome.rejected.is_empty();
            recorded_line(label, &outcome, &problems, refused)
        };
        Ok((problems, line, refused))
    }
}

/// A file that could not be read at all: one problem, one line, refused.
fn unreadable(report: &mut ImportReport, label: &str, why: String) {
    report.problems.push(file_problem(label, why));
    report.lines.push(format!("{label}：无法读取，未导入"));
    report.refused = true;
}

/// Reads a changes workbook (a progress bar for large ones); blocks.
fn read_changes_file(
    path: &Path,
    label: &str,
    limits: &InputLimits,
    progress: bool,
) -> Result<crate::excel::changes::ChangesFile, crate::excel::read::ReadError> {
    let mut wb = Workbook::open_with(path, limits)?;
    let bar = if progress {
        wb.pick_sheet(crate::excel::changes::CHANGES_SHEET, &[])
            .and_then(|s| wb.row_hint(&s))
            .filter(|n| *n >= PROGRESS_FROM_ROWS)
            .map(|n| progress_bar(n, label))
    } else {
        None
    };
    let r = read_changes(&mut wb, label);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    r
}

fn refused_whole_line(label: &str, problems: &[CellProblem]) -> String {
    format!(
        "{label}：变动未导入（整个文件不导入）：{}处错误；改正后重新导入，或加--accept-valid只导入无误的行",
        errors_in(problems)
    )
}

/// The line for a file whose rows were checked against the ledger and recorded.
fn recorded_line(
    label: &str,
    outcome: &crate::store::ChangesOutcome,
    problems: &[CellProblem],
    refused: bool,
) -> String {
    let again = outcome
        .already_imported
        .as_ref()
        .map(|when| format!("（内容相同的文件已于{when}导入过，已逐行重新核对）"))
        .unwrap_or_default();
    let label = format!("{label}{again}");
    let mut dup = if outcome.duplicates.is_empty() {
        String::new()
    } else {
        format!(
            "，{}条与已登记的变动相同，已跳过（未做更改）",
            outcome.duplicates.len()
        )
    };
    if !outcome.voided_before.is_empty() {
        let ids: Vec<String> = outcome
            .voided_before
            .iter()
            .map(|(row, id)| format!("第{}行（变动#{id}）", row.unwrap_or(0)))
            .collect();
        dup.push_str(&format!(
            "，{}条此前登记后已被作废，未重新登记：{}",
            outcome.voided_before.len(),
            ids.join("、")
        ));
    }
    if outcome.refused_whole {
        refused_whole_line(&label, problems)
    } else if refused {
        format!(
            "{label}：已登记{}条变动{dup}；{}行有错误，未登记（--accept-valid）",
            outcome.applied.len(),
            rows_with_errors(problems)
        )
    } else if outcome.applied.is_empty()
        && (!outcome.duplicates.is_empty() || !outcome.voided_before.is_empty())
    {
        format!("{label}：没有新的变动{dup}")
    } else {
        format!("{label}：已登记{}条变动{dup}", outcome.applied.len())
    }
}

fn rows_with_errors(problems: &[CellProblem]) -> usize {
    let mut rows: Vec<(Option<&str>, Option<u32>)> = problems
        .iter()
        .filter(|p| p.is_error())
        .map(|p| (p.sheet.as_deref(), p.row))
        .collect();
    rows.sort();
    rows.dedup();
    rows.len()
}
