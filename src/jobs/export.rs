//! `payrun export`: an approved run's bank file(s) and summary workbook.
//!
//! - Only an approved run is exported ([`ExportError::NotApproved`], exit status 2).
//! - The bank file holds every positive net, in ID-number order, split into parts of at most the
//!   template's `max_rows` (lowered by `export.max_rows_per_file`): `bank-<year>-run<N>.xlsx`, or
//!   `bank-<year>-run<N>-part<K>.xlsx` when there is more than one part. No positive net: no
//!   bank file.
//! - Exports are deterministic: the documents' creation time is the run's approval time and the
//!   line reasons are rebuilt from the changes as they stood when the run was computed, so
//!   exporting a run again writes byte-identical files. The first export is recorded (files
//!   with SHA-256, parts with batch reference, row count and sum); a re-export that produces
//!   the same files records nothing ([`ExportReport::already_exported`]); one that would
//!   produce different files (the template or the rules configuration changed) is refused.
//! - Files are created with mode 0600 (the bank file holds full ID and account numbers) in a
//!   folder created with mode 0700; log lines and messages mask ID numbers.

use crate::config::Config;
use crate::excel::bank::{
    self, BankError, BankFileInfo, BankRow, BankTemplate, BankWriter, PartTotals,
};
use crate::excel::summary::{
    self, BalanceRow, CohortTotal, DetailRow, KindTotal, PartControl, RecoveryRow, SummaryModel,
    UncoveredRow, UnitTotal,
};
use crate::rules::id_number::mask;
use crate::rules::money::fen_grouped;
use crate::rules::{
    Appointment, Change, ChangeKind, DayStatus, LineKind, Month, Proration, RulesConfig, Timeline,
};
use crate::store::native::each_row;
use crate::store::payrun::{each_paid_line, LinesAhead, RunItem, RunUnits, Totals};
use crate::store::{parse_date, RunPerson, RunView, Store, StoreError};
use chrono::{NaiveDate, NaiveDateTime};
use rust_xlsxwriter::XlsxError;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

/// What an export did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// Every file written: the bank file parts, then the summary.
    pub files: Vec<PathBuf>,
    /// The run had been exported before; the same files were written again and no second
    /// batch was recorded.
    pub already_exported: bool,
    /// A human summary: parts, rows, sums, batch references (no personal data).
    pub lines: Vec<String>,
    /// The control totals of each bank file part.
    pub parts: Vec<PartControl>,
    /// The run's totals (paid, recovered, and how many people each).
    pub totals: Totals,
}

/// Why an export failed; [`ExportError::exit_code`] gives the CLI's exit status.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("run {seq} of {year} is a draft: approve it first (payrun approve --year {year}); only an approved run is exported")]
    NotApproved { year: i32, seq: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(BankError),
    #[error("the configuration's policy versions are unusable: {0}")]
    Config(String),
    #[error("no bank account is recorded for {}: update the roster (银行账号) before exporting", .0.join("、"))]
    MissingAccount(Vec<String>),
    #[error("run {year}/{seq} was exported before and exporting it now gives different files ({}): the bank template or the rules configuration changed since, or (a run of several bank file parts or 明细 sheets) an earlier chieftech version wrote them. The recorded files stand; restore the configuration they were made with, or use the files recorded then", .files.join(", "))]
    Differs {
        year: i32,
        seq: i64,
        files: Vec<String>,
    },
    /// The run's data cannot be written in the bank's format; the roster must change.
    #[error("the bank file cannot hold the run's data: {0}")]
    Refused(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the workbook {file}: {source}")]
    Xlsx {
        file: String,
        source: rust_xlsxwriter::XlsxError,
    },
}

impl ExportError {
    /// The exit status of docs/contract.md: 1 refused, 2 usage or configuration, 3 outside failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            ExportError::NotApproved { .. }
            | ExportError::Template(_)
            | ExportError::Config(_)
            | ExportError::Differs { .. } => 2,
            ExportError::MissingAccount(_) | ExportError::Refused(_) => 1,
            ExportError::Store(StoreError::Refused(_)) => 1,
            ExportError::Store(StoreError::Usage(_)) => 2,
            ExportError::Store(_) | ExportError::Io { .. } | ExportError::Xlsx { .. } => 3,
        }
    }
}

/// The file name of bank file part `part` of `parts` (an .xlsx template's).
pub fn bank_file_name(year: i32, seq: i64, part: usize, parts: usize) -> String {
    bank_file_name_ext(year, seq, part, parts, "xlsx")
}

/// The file name of bank file part `part` of `parts` with the template's extension (`xlsx`,
/// `txt`, `csv`).
pub fn bank_file_name_ext(year: i32, seq: i64, part: usize, parts: usize, ext: &str) -> String {
    if parts > 1 {
        format!("bank-{year}-run{seq}-part{part}.{ext}")
    } else {
        format!("bank-{year}-run{seq}.{ext}")
    }
}

/// The summary's file name.
pub fn summary_file_name(year: i32, seq: i64) -> String {
    format!("summary-{year}-run{seq}.xlsx")
}

/// The batch reference of a bank file part: year, run and part (`CT-2025-R1-P1`).
pub fn batch_ref(year: i32, seq: i64, part: usize) -> String {
    format!("CT-{year}-R{seq}-P{part}")
}

/// Exports run `seq` of `year` (the latest when None) to `out_dir` (default
/// `cfg.paths.reports/<year>/`).
///
/// The run is read once as a stream, one person at a time: each person is added to the
/// totals and the recovery list, their bank row goes into the bank file part being written and
/// their 明细 lines, with their 说明, into the summary being written
/// ([`summary::SummaryWriter`]); 汇总 is written from the totals at the end. No step holds the
/// run's lines. The bank file parts and the 明细 are written on threads of their own
/// (`Worker`), in the order the rows come, so the files are those one thread writes.
pub async fn export_run(
    store: &Store,
    cfg: &Config,
    year: i32,
    seq: Option<i64>,
    out_dir: Option<&Path>,
    operator: &str,
) -> Result<ExportReport, ExportError> {
    let rules = cfg
        .rules_config()
        .map_err(|e| ExportError::Config(e.to_string()))?;
    let view = approved_run(store, cfg, year, seq).await?;
    let template = bank_template(cfg)?;
    let meta = run_meta(store, year, view.seq).await?;
    let created = creation_time(&meta.approved_at, &view.today);
    let day = approval_day(&meta.approved_at, &view.today);
    let dir = out_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cfg.paths.reports.join(year.to_string()));
    make_private_dir(&dir)?;
    // Read beside the ledger history, each on a connection: units, and lines (sorted meanwhile).
    let units = (
        store.units_beside(),
        store.run_lines_ahead((year, view.seq)),
    );
    let lines = RunLines {
        view: &view,
        rules: &rules,
        history: load_history(store, &meta).await?,
        month_ranges: cfg.export.detail_month_ranges,
    };
    // Bank file parts and the summary, written to temporary files (mode 0600) in the folder.
    let summary_name = summary_file_name(year, view.seq);
    let head = model_head(cfg, &view, day);
    let bank_head = BankHead::of(cfg, &template, &view, (created, day));
    let Pass {
        tally,
        summary,
        mut written,
        parts,
    } = write_run(
        (store, units),
        &lines,
        (&head, created, &summary_name),
        (bank_head, &template),
        &dir,
    )
    .await?;
    let (model, totals) = build_model(store, cfg, &lines, tally, head, &meta, &parts).await?;
    let out = SummaryFile {
        name: &summary_name,
        dir: &dir,
    };
    written.push(write_summary_file(summary, &model, &out)?);

    // Record the export once; a re-export must give the same files.
    let already = record_export(store, &meta, &view, &template, &parts, &written, operator).await?;
    let files = persist(&dir, written)?;
    let lines = report_lines(&view, totals, &parts, &summary_name, already.as_ref());
    for l in &lines {
        tracing::info!("export: {l}");
    }
    Ok(ExportReport {
        files,
        already_exported: already.is_some(),
        lines,
        parts,
        totals,
    })
}

/// The run to export: refused unless approved.
async fn approved_run(
    store: &Store,
    cfg: &Config,
    year: i32,
    seq: Option<i64>,
) -> Result<RunView, ExportError> {
    let view = store
        .run_head(year, seq, cfg.payment.offset_recoveries)
        .await?;
    if view.status != "approved" {
        return Err(ExportError::NotApproved {
            year,
            seq: view.seq,
        });
    }
    Ok(view)
}

/// What the pass over the run made: its tally, the summary with its 明细 written, the bank
/// file parts (temporary files) and their control totals.
struct Pass {
    tally: Tally,
    summary: summary::SummaryWriter,
    written: Vec<Written>,
    parts: Vec<PartControl>,
}

/// Reads the run once, the bank file parts and the summary's 明细 written on their threads.
async fn write_run(
    (store, units): (&Store, (RunUnits, LinesAhead)),
    lines: &RunLines<'_>,
    (head, created, summary_name): (&SummaryModel, NaiveDateTime, &str),
    (bank_head, template): (BankHead, &BankTemplate),
    dir: &Path,
) -> Result<Pass, ExportError> {
    let summary = guarded(summary_name, || {
        summary::SummaryWriter::new(head.clone(), created)
            .map_err(|source| xlsx_error(summary_name, source))
    })?;
    let mut summary = spawn_summary(summary, summary_name)?;
    let bank_name = bank_file_name_ext(head.year, head.seq, 1, 1, template.extension());
    let mut bank = spawn_bank(bank_head, template.clone(), dir.to_path_buf(), &bank_name)?;
    let tally = tally_run((store, units), lines, &mut bank, &mut summary, summary_name).await;
    // A writer's own error, if one stopped, is why the pass stopped.
    let bank = bank.join();
    let summary = summary.join()?;
    let (written, parts) = bank?;
    Ok(Pass {
        tally: tally?,
        summary,
        written,
        parts,
    })
}

/// How many rows go to a writer's thread at a time.
const WORKER_BATCH: usize = 512;

/// A file written on a thread of its own while the run is read (the summary's 明细, the bank
/// file parts: the two cores share the work): rows go to it in batches of [`WORKER_BATCH`], at
/// most 8 batches queued, and are written in the order they were pushed, so the files are the
/// ones a single thread writes. [`Worker::join`] gives what the thread made of them, or the
/// error that stopped it (a panic in a writer included), naming the file.
struct Worker<T: Send + 'static, R: Send + 'static> {
    batch: Vec<T>,
    tx: Option<std::sync::mpsc::SyncSender<Vec<T>>>,
    thread: std::thread::JoinHandle<Result<R, ExportError>>,
    name: String,
}

impl<T: Send + 'static, R: Send + 'static> Worker<T, R> {
    /// Starts `write` on a thread: it takes the batches until they end, and returns.
    fn spawn(
        name: &str,
        write: impl FnOnce(std::sync::mpsc::Receiver<Vec<T>>) -> Result<R, ExportError> + Send + 'static,
    ) -> Result<Self, ExportError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<T>>(8);
        let thread = std::thread::Builder::new()
            .name(format!("write {name}"))
            .spawn(move || write(rx))
            .map_err(|source| ExportError::Io {
                path: PathBuf::from(name),
                source,
            })?;
        Ok(Worker {
            batch: Vec::with_capacity(WORKER_BATCH),
            tx: Some(tx),
            thread,
            name: name.to_string(),
        })
    }

    /// Queues a row; an error when the thread has stopped ([`Worker::join`] says why).
    fn push(&mut self, row: T) -> Result<(), XlsxError> {
        self.batch.push(row);
        if self.batch.len() < WORKER_BATCH {
            return Ok(());
        }
        self.flush()
    }

    fn flush(&mut self) -> Result<(), XlsxError> {
        let rows = std::mem::replace(&mut self.batch, Vec::with_capacity(WORKER_BATCH));
        match &self.tx {
            Some(tx) if tx.send(rows).is_ok() => Ok(()),
            _ => Err(XlsxError::ParameterError(format!(
                "the writer of {} has stopped",
                self.name
            ))),
        }
    }

    /// Hands over the last rows and waits for the thread.
    fn join(mut self) -> Result<R, ExportError> {
        let queued = self.flush();
        drop(self.tx.take());
        let made = self.thread.join().unwrap_or_else(|_| {
            Err(ExportError::Io {
                path: PathBuf::from(&self.name),
                source: std::io::Error::other("its writer panicked"),
            })
        })?;
        queued.map_err(|source| xlsx_error(&self.name, source))?;
        Ok(made)
    }
}

/// The summary's 明细 written on its own thread; joined, the writer, for 汇总 and saving.
type SummaryThread = Worker<DetailRow, summary::SummaryWriter>;

fn spawn_summary(
    mut writer: summary::SummaryWriter,
    name: &str,
) -> Result<SummaryThread, ExportError> {
    let file = name.to_string();
    Worker::spawn(name, move |rx| {
        for rows in rx {
            guarded(&file, || {
                rows.into_iter()
                    .try_for_each(|r| writer.push(r))
                    .map_err(|source| xlsx_error(&file, source))
            })?;
        }
        Ok(writer)
    })
}

/// The bank file parts written on their own thread; joined, the written parts and their
/// control totals.
type BankThread = Worker<BankRow, (Vec<Written>, Vec<PartControl>)>;

fn spawn_bank(
    head: BankHead,
    template: BankTemplate,
    dir: PathBuf,
    name: &str,
) -> Result<BankThread, ExportError> {
    Worker::spawn(name, move |rx| {
        let mut parts = BankParts::new(head, &template, &dir);
        for rows in rx {
            rows.iter().try_for_each(|r| parts.push(r))?;
        }
        parts.finish()
    })
}

/// Where the summary workbook goes: its name and the folder.
struct SummaryFile<'a> {
    name: &'a str,
    dir: &'a Path,
}

/// The summary, its 明细 written while the run streamed by, finished with the complete model
/// into a temporary file (mode 0600) in the folder.
fn write_summary_file(
    writer: summary::SummaryWriter,
    model: &SummaryModel,
    out: &SummaryFile<'_>,
) -> Result<Written, ExportError> {
    let name = out.name;
    let mut tmp = new_temp(out.dir, name)?;
    guarded(name, || {
        writer
            .finish(model, tmp.as_file_mut())
            .map_err(|source| xlsx_error(name, source))
    })?;
    seal_temp(out.dir, name, &mut tmp)?;
    let sha = sha256_file(tmp.path())?;
    Ok((name.to_string(), tmp, sha))
}

/// Runs a call into the workbook writer, turning a panic inside it (a write that failed) into
/// an error naming the file.
fn guarded<T>(file: &str, f: impl FnOnce() -> Result<T, ExportError>) -> Result<T, ExportError> {
    crate::excel::catch_writer_panic(f).unwrap_or_else(|message| {
        Err(ExportError::Io {
            path: PathBuf::from(file),
            source: std::io::Error::other(message),
        })
    })
}

/// The error of writing a workbook, with its file name.
fn xlsx_error(file: &str, source: XlsxError) -> ExportError {
    ExportError::Xlsx {
        file: file.to_string(),
        source,
    }
}

/// Names the file of a workbook error that was raised without one.
fn with_file(e: ExportError, file: &str) -> ExportError {
    match e {
        ExportError::Xlsx { source, .. } => xlsx_error(file, source),
        other => other,
    }
}

/// Streams the run's people through `f` (ID-number order, one person in memory at a time);
/// the first error of `f` stops the stream and is returned.
async fn each_person(
    (store, units): (&Store, (RunUnits, LinesAhead)),
    view: &RunView,
    mut f: impl FnMut(RunPerson) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    let mut failed = None;
    let run = (view.year, view.seq);
    let streamed = store
        .each_run_person(units, run, view.offset_recoveries, |p| {
            f(p).map_err(|e| {
                failed = Some(e);
                StoreError::Usage("stopped".into())
            })
        })
        .await;
    match failed {
        Some(e) => Err(e),
        None => Ok(streamed?),
    }
}

/// The bank template of the configuration, with `[export] max_rows_per_file` applied.
fn bank_template(cfg: &Config) -> Result<BankTemplate, ExportError> {
    let mut template = BankTemplate::from_config(cfg.export.bank_template_path(&cfg.base_dir))
        .map_err(ExportError::Template)?;
    if let Some(cap) = cfg.export.max_rows_per_file {
        template.max_rows = template.max_rows.min(cap.max(1));
    }
    Ok(template)
}

/// The bank row of a person with a positive net, paid to the account frozen at approval; a
/// person with no account is added to `missing` (name, ID masked), which refuses the export.
fn bank_row(p: &RunPerson, missing: &mut Vec<String>) -> Option<BankRow> {
    let last = p.items.last()?;
    if p.net.bank <= 0 {
        return None;
    }
    if last.bank_account.trim().is_empty() {
        missing.push(format!("{}（{}）", p.name, mask(&p.id_number)));
        return None;
    }
    Some(BankRow {
        name: p.name.clone(),
        id_number: p.id_number.clone(),
        account: last.bank_account.clone(),
        bank_name: last.bank_name.clone(),
        unit: last.unit.clone(),
        fen: p.net.bank,
    })
}

/// A written temporary file: its final name, the file, its SHA-256.
type Written = (String, tempfile::NamedTempFile, String);

/// What every bank file part of a run says besides its rows.
struct BankHead {
    year: i32,
    seq: i64,
    purpose: String,
    title: Option<String>,
    organization: String,
    program: String,
    created: chrono::NaiveDateTime,
    day: NaiveDate,
}

impl BankHead {
    fn of(
        cfg: &Config,
        template: &BankTemplate,
        view: &RunView,
        (created, day): (chrono::NaiveDateTime, NaiveDate),
    ) -> Self {
        let (year, seq) = (view.year, view.seq);
        let program = &cfg.export.program;
        let purpose_text = cfg.export.purpose.as_deref().unwrap_or(&template.purpose);
        let purpose = bank::fill(purpose_text, year, seq, program, "");
        let title = template
            .title
            .as_deref()
            .map(|t| bank::fill(t, year, seq, program, &purpose));
        BankHead {
            year,
            seq,
            purpose,
            title,
            organization: cfg.export.organization.clone(),
            program: program.clone(),
            created,
            day,
        }
    }
}

/// The bank file parts, written while the run streams by (no list of rows is kept): a part is
/// closed into a temporary file (mode 0600) in the folder when it holds the template's maximum
/// rows; the parts get their names (`-partK` when there are several) at the end.
struct BankParts<'a> {
    template: &'a BankTemplate,
    dir: &'a Path,
    head: BankHead,
    current: Option<BankWriter<'a>>,
    closed: Vec<(tempfile::NamedTempFile, PartTotals)>,
}

impl<'a> BankParts<'a> {
    fn new(head: BankHead, template: &'a BankTemplate, dir: &'a Path) -> Self {
        BankParts {
            template,
            dir,
            head,
            current: None,
            closed: Vec::new(),
        }
    }

    /// The name of part `part` for temporary files and errors (the final name is given at the
    /// end, when the number of parts is known).
    fn part_name(&self, part: usize) -> String {
        bank_file_name_ext(
            self.head.year,
            self.head.seq,
            part,
            part.max(2),
            self.template.extension(),
        )
    }

    /// Adds a row to the current part, opening the next part when it is full.
    fn push(&mut self, row: &BankRow) -> Result<(), ExportError> {
        let max = u64::from(self.template.max_rows);
        if self.current.as_ref().is_some_and(|w| w.rows() >= max) {
            self.close(true)?;
        }
        let part = self.closed.len() + 1;
        let name = self.part_name(part);
        if self.current.is_none() {
            let h = &self.head;
            let info = BankFileInfo {
                purpose: h.purpose.clone(),
                title: h.title.clone(),
                batch_ref: batch_ref(h.year, h.seq, part),
                organization: h.organization.clone(),
                created: h.created,
                date: h.day,
            };
            let template = self.template;
            let mut w = guarded(&name, || {
                BankWriter::new(template, info).map_err(|e| bank_error(&name, e))
            })?;
            w.set_run(self.head.year, self.head.seq, &self.head.program);
            self.current = Some(w);
        }
        let w = self.current.as_mut().expect("a part is open");
        guarded(&name, || w.push(row).map_err(|e| bank_error(&name, e)))
    }

    /// Writes the current part into its temporary file; `more` when another part follows.
    /// The parts of a run in several parts are compressed fast ([`BankWriter::compress_fast`]).
    fn close(&mut self, more: bool) -> Result<(), ExportError> {
        let Some(mut w) = self.current.take() else {
            return Ok(());
        };
        if more || !self.closed.is_empty() {
            w.compress_fast();
        }
        let name = self.part_name(self.closed.len() + 1);
        let mut tmp = new_temp(self.dir, &name)?;
        let totals = guarded(&name, || {
            w.finish(tmp.as_file_mut())
                .map_err(|e| bank_error(&name, e))
        })?;
        seal_temp(self.dir, &name, &mut tmp)?;
        self.closed.push((tmp, totals));
        Ok(())
    }

    /// Closes the last part and names the parts: the written files and their control totals.
    fn finish(mut self) -> Result<(Vec<Written>, Vec<PartControl>), ExportError> {
        self.close(false)?;
        let n = self.closed.len();
        let mut written = Vec::new();
        let mut parts = Vec::new();
        for (k, (tmp, totals)) in self.closed.into_iter().enumerate() {
            let (year, seq) = (self.head.year, self.head.seq);
            let name = bank_file_name_ext(year, seq, k + 1, n, self.template.extension());
            let sha = sha256_file(tmp.path())?;
            parts.push(PartControl {
                batch_ref: batch_ref(year, seq, k + 1),
                file_name: name.clone(),
                bank: self.template.bank.clone(),
                rows: totals.rows,
                fen: totals.fen,
                sha256: sha.clone(),
            });
            written.push((name, tmp, sha));
        }
        Ok((written, parts))
    }
}

/// The error of writing a bank file part.
fn bank_error(name: &str, e: BankError) -> ExportError {
    match e {
        BankError::Xlsx(source) => xlsx_error(name, source),
        BankError::Io(source) => ExportError::Io {
            path: PathBuf::from(name),
            source,
        },
        // A roster value the bank's text format cannot hold (a character outside GBK).
        BankError::TextField { .. } => ExportError::Refused(format!("{name}: {e}")),
        other => ExportError::Template(other),
    }
}

/// Moves the temporary files to their names (mode 0600).
fn persist(dir: &Path, written: Vec<Written>) -> Result<Vec<PathBuf>, ExportError> {
    let mut files = Vec::new();
    for (name, tmp, _) in written {
        let path = dir.join(&name);
        tmp.persist(&path).map_err(|e| ExportError::Io {
            path: path.clone(),
            source: e.error,
        })?;
        set_private(&path)?;
        files.push(path);
    }
    Ok(files)
}

/// The export's lines for the terminal (no personal data).
fn report_lines(
    view: &RunView,
    totals: Totals,
    parts: &[PartControl],
    summary_name: &str,
    already: Option<&(String, String)>,
) -> Vec<String> {
    let mut lines = vec![format!(
        "run {}/{} ({}{}): {} people paid {} yuan in {} bank file(s); {} people to recover {} yuan; {} uncovered month(s)",
        view.year,
        view.seq,
        view.status,
        if view.supplementary { ", supplementary" } else { "" },
        totals.people_paid,
        fen_grouped(totals.paid),
        parts.len(),
        totals.people_recovering,
        fen_grouped(-totals.recovered),
        view.uncovered.len()
    )];
    for p in parts {
        lines.push(bank::describe_part(
            &p.file_name,
            &p.batch_ref,
            PartTotals {
                rows: p.rows,
                fen: p.fen,
            },
        ));
    }
    if parts.is_empty() {
        lines.push("no positive nets: no bank file was written".into());
    }
    lines.push(format!("{summary_name}: summary for the finance office"));
    if let Some((at, by)) = already {
        lines.push(format!(
            "already exported {at} by {by}: the same files were written again; no new batch was recorded"
        ));
    }
    lines
}

/// The run's id and timestamps.
struct RunMeta {
    id: i64,
    computed_at: String,
    approved_at: String,
}

async fn run_meta(store: &Store, year: i32, seq: i64) -> Result<RunMeta, ExportError> {
    let r =
        sqlx::query("SELECT id, computed_at, approved_at FROM runs WHERE year = $1 AND seq = $2")
            .bind(i64::from(year))
            .bind(seq)
            .fetch_one(store.pool())
            .await
            .map_err(StoreError::from)?;
    Ok(RunMeta {
        id: r.try_get(0).map_err(StoreError::from)?,
        computed_at: r.try_get(1).map_err(StoreError::from)?,
        approved_at: r
            .try_get::<Option<String>, _>(2)
            .map_err(StoreError::from)?
            .unwrap_or_default(),
    })
}

/// The documents' creation time: the run's approval time (UTC, whole seconds), else its
/// business date.
fn creation_time(approved_at: &str, today: &str) -> NaiveDateTime {
    chrono::DateTime::parse_from_rfc3339(approved_at)
        .map(|d| d.naive_utc())
        .ok()
        .and_then(|d| d.with_nanosecond_zero())
        .or_else(|| {
            NaiveDate::parse_from_str(today, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .unwrap_or_default()
}

/// The day the documents are dated (制表日期, the bank list's 日期): the approval's day in
/// Asia/Shanghai, else the run's business date.
fn approval_day(approved_at: &str, today: &str) -> NaiveDate {
    crate::store::recorded_day(approved_at)
        .or_else(|| NaiveDate::parse_from_str(today, "%Y-%m-%d").ok())
        .unwrap_or_default()
}

trait WithNanosecondZero: Sized {
    fn with_nanosecond_zero(self) -> Option<Self>;
}

impl WithNanosecondZero for NaiveDateTime {
    fn with_nanosecond_zero(self) -> Option<Self> {
        chrono::Timelike::with_nanosecond(&self, 0)
    }
}

fn make_private_dir(dir: &Path) -> Result<(), ExportError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|source| ExportError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

fn set_private(path: &Path) -> Result<(), ExportError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
            |source| ExportError::Io {
                path: path.to_path_buf(),
                source,
            },
        )?;
    }
    Ok(())
}

/// A new temporary file in `dir` for the file `name` (`.<name>.XXXX.tmp`, mode 0600).
fn new_temp(dir: &Path, name: &str) -> Result<tempfile::NamedTempFile, ExportError> {
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|source| ExportError::Io {
            path: dir.join(name),
            source,
        })
}

/// Flushes a written temporary file to disk and rewinds it.
fn seal_temp(dir: &Path, name: &str, tmp: &mut tempfile::NamedTempFile) -> Result<(), ExportError> {
    let io = |source| ExportError::Io {
        path: dir.join(name),
        source,
    };
    tmp.as_file_mut().flush().map_err(io)?;
    tmp.as_file_mut().sync_all().map_err(io)?;
    tmp.as_file_mut().rewind().map_err(io)
}

/// Hex SHA-256 of a file, read in a stream.
pub fn sha256_file(path: &Path) -> Result<String, ExportError> {
    use sha2::Digest;
    let io = |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(io)?;
    Ok(hex::encode(h.finalize()))
}

/// Records the export, or checks a re-export against the record. Returns when and by whom
/// the run was exported before.
async fn record_export(
    store: &Store,
    meta: &RunMeta,
    view: &RunView,
    template: &BankTemplate,
    parts: &[PartControl],
    written: &[(String, tempfile::NamedTempFile, String)],
    operator: &str,
) -> Result<Option<(String, String)>, ExportError> {
    let mut tx = store.begin_write().await?;
    let db = |e: sqlx::Error| ExportError::Store(StoreError::from(e));
    let existing = sqlx::query("SELECT id, exported_at, operator FROM exports WHERE run_id = $1")
        .bind(meta.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
    if let Some(r) = existing {
        let export_id: i64 = r.try_get(0).map_err(db)?;
        let differs = differing_files(&mut tx, export_id, written).await?;
        // End the transaction here: a dropped one rolls back on a background task.
        tx.rollback().await.map_err(db)?;
        if !differs.is_empty() {
            return Err(ExportError::Differs {
                year: view.year,
                seq: view.seq,
                files: differs,
            });
        }
        return Ok(Some((r.try_get(1).map_err(db)?, r.try_get(2).map_err(db)?)));
    }
    insert_export(&mut tx, meta, template, parts, written, operator).await?;
    crate::store::audit(
        &mut tx,
        operator,
        "payrun-export",
        &export_audit_text(view, parts),
        false,
    )
    .await?;
    tx.commit().await.map_err(db)?;
    Ok(None)
}

/// The files of a recorded export whose SHA-256 differs from what was written now (or that
/// exist on one side only), by name.
async fn differing_files(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    export_id: i64,
    written: &[(String, tempfile::NamedTempFile, String)],
) -> Result<Vec<String>, ExportError> {
    let db = |e: sqlx::Error| ExportError::Store(StoreError::from(e));
    let mut recorded: BTreeMap<String, String> = BTreeMap::new();
    for f in sqlx::query("SELECT file_name, sha256 FROM export_files WHERE export_id = $1")
        .bind(export_id)
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?
    {
        recorded.insert(f.try_get(0).map_err(db)?, f.try_get(1).map_err(db)?);
    }
    let now: BTreeMap<String, String> = written
        .iter()
        .map(|(n, _, s)| (n.clone(), s.clone()))
        .collect();
    let files: BTreeSet<String> = recorded
        .iter()
        .chain(now.iter())
        .filter(|(n, s)| recorded.get(*n) != Some(s) || now.get(*n) != Some(s))
        .map(|(n, _)| n.clone())
        .collect();
    Ok(files.into_iter().collect())
}

/// The export's row, its bank file parts and its summary, in the caller's transaction.
async fn insert_export(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    meta: &RunMeta,
    template: &BankTemplate,
    parts: &[PartControl],
    written: &[(String, tempfile::NamedTempFile, String)],
    operator: &str,
) -> Result<(), ExportError> {
    let db = |e: sqlx::Error| ExportError::Store(StoreError::from(e));
    let rows: u64 = parts.iter().map(|p| p.rows).sum();
    let fen: i64 = parts.iter().map(|p| p.fen).sum();
    let r = sqlx::query("INSERT INTO exports (run_id, exported_at, operator, bank_rows, bank_fen, template) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(meta.id)
        .bind(crate::store::now_text())
        .bind(operator)
        .bind(rows as i64)
        .bind(fen)
        .bind(template.name.as_str())
        .fetch_one(&mut **tx)
        .await
        .map_err(db)?;
    let export_id: i64 = r.try_get(0).map_err(db)?;
    for (k, p) in parts.iter().enumerate() {
        sqlx::query("INSERT INTO export_files (export_id, file_name, kind, part, batch_ref, row_count, sum_fen, sha256) VALUES ($1, $2, 'bank', $3, $4, $5, $6, $7)")
            .bind(export_id)
            .bind(p.file_name.as_str())
            .bind((k + 1) as i64)
            .bind(p.batch_ref.as_str())
            .bind(p.rows as i64)
            .bind(p.fen)
            .bind(p.sha256.as_str())
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    let (summary_name, _, summary_sha) = written.last().expect("the summary is written");
    sqlx::query("INSERT INTO export_files (export_id, file_name, kind, part, batch_ref, row_count, sum_fen, sha256) VALUES ($1, $2, 'summary', NULL, NULL, NULL, NULL, $3)")
        .bind(export_id)
        .bind(summary_name.as_str())
        .bind(summary_sha.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

/// The audit entry of an export: parts, rows, sum and batch references.
fn export_audit_text(view: &RunView, parts: &[PartControl]) -> String {
    let rows: u64 = parts.iter().map(|p| p.rows).sum();
    let fen: i64 = parts.iter().map(|p| p.fen).sum();
    format!(
        "run {}/{} exported: {} bank file part(s), {rows} rows, {} fen; batches {}",
        view.year,
        view.seq,
        parts.len(),
        fen,
        parts
            .iter()
            .map(|p| p.batch_ref.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A recorded change with where it came from.
struct ChangeInfo {
    technician_id: i64,
    change: Change,
    /// The report's file name (no folder), or the source's kind (`operator`, …).
    file: std::sync::Arc<str>,
    /// The row of the report it was on.
    row: Option<i64>,
    /// The decision's 批准文号, when the report gave one.
    decision_no: Option<String>,
}

/// The ledger as it stood when the run was computed: live changes, and what approved runs
/// before this one paid. (A line's appointment comes with the line: [`RunItem`].)
struct History {
    /// Every live change, by technician then id; `by_technician` holds each technician's
    /// range (one list, not a list per technician: a million people's changes stay compact).
    changes: Vec<ChangeInfo>,
    by_technician: FastMap<i64, (usize, usize)>,
    paid_before: FastMap<(i64, Month), i64>,
}

/// The history's maps, looked up for every line of the run: hashed with foldhash, not
/// SipHash (a million people; the look-up was 6 % of the export's main thread).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

impl History {
    /// A technician's live changes, by id.
    fn changes_of(&self, technician: i64) -> &[ChangeInfo] {
        self.by_technician
            .get(&technician)
            .map_or(&[][..], |&(from, to)| &self.changes[from..to])
    }
}

/// Reads the history the run's lines are explained from.
async fn load_history(store: &Store, meta: &RunMeta) -> Result<History, ExportError> {
    let mut conn = store.pool().acquire().await.map_err(StoreError::from)?;
    // The list is made as large as the table at once, not grown by doubling (at a million
    // rows each growth held the old and the new list at once).
    let changes_at_most = change_rows(&mut conn).await?;
    let (changes, by_technician) = load_changes(&mut conn, meta, changes_at_most).await?;
    let paid_before = paid_before(&mut conn, meta).await?;
    Ok(History {
        changes,
        by_technician,
        paid_before,
    })
}

/// How many changes the ledger holds (the changes live when the run was computed are some of
/// them).
async fn change_rows(conn: &mut sqlx::AnyConnection) -> Result<usize, StoreError> {
    let mut rows = 0;
    each_row(
        conn,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM changes",
        &[],
        |r| {
            rows = usize::try_from(r.int(0)?).unwrap_or(0);
            Ok::<_, StoreError>(())
        },
    )
    .await?;
    Ok(rows)
}

/// The changes live when the run was computed, by technician then id, and each technician's
/// range of them.
async fn load_changes(
    conn: &mut sqlx::AnyConnection,
    meta: &RunMeta,
    at_most: usize,
) -> Result<(Vec<ChangeInfo>, FastMap<i64, (usize, usize)>), ExportError> {
    let mut changes: Vec<ChangeInfo> = Vec::with_capacity(at_most);
    // A report's file name, once for all its rows.
    let mut files: HashMap<String, std::sync::Arc<str>> = HashMap::new();
    // In the table's own order (through the technician index, each row would be a look-up at
    // random; by id, a sort or an index walk on PostgreSQL), then sorted by technician and id
    // here.
    each_row(conn, "SELECT c.id, c.kind, c.effective, c.end_date, COALESCE(c.appointment_ids, CAST(c.appointment_id AS TEXT), '') AS appointment_ids, c.technician_id, c.recorded_at, c.voided_at, COALESCE(s.file_name, s.kind), c.reported_by, c.decision_no, c.source_row FROM changes c JOIN sources s ON s.id = c.source_id", &[], |r| {
        let recorded_at = r.text(6)?;
        let voided_at = r.opt_text(7)?;
        // Live when the run was computed: recorded before, not yet voided.
        if recorded_at.as_str() > meta.computed_at.as_str()
            || voided_at.is_some_and(|v| v.as_str() <= meta.computed_at.as_str())
        {
            return Ok(());
        }
        let change = crate::store::changes::change_from_row(r)?;
        let file = r.text(8)?;
        changes.push(ChangeInfo {
            technician_id: r.int(5)?,
            change,
            file: files
                .entry(file)
                .or_insert_with_key(|f| base_name(f).into())
                .clone(),
            row: r.opt_int(11)?,
            decision_no: r.opt_text(10)?.filter(|s| !s.trim().is_empty()),
        });
        Ok::<_, StoreError>(())
    })
    .await?;
    changes.sort_unstable_by_key(|c| (c.technician_id, c.change.id));
    changes.shrink_to_fit();
    let mut by_technician: FastMap<i64, (usize, usize)> = FastMap::default();
    for (i, c) in changes.iter().enumerate() {
        by_technician.entry(c.technician_id).or_insert((i, i)).1 += 1;
    }
    Ok((changes, by_technician))
}

/// What approved runs before this one paid, by appointment and month.
async fn paid_before(
    conn: &mut sqlx::AnyConnection,
    meta: &RunMeta,
) -> Result<FastMap<(i64, Month), i64>, ExportError> {
    let mut paid_before: FastMap<(i64, Month), i64> = FastMap::default();
    each_paid_line(
        conn,
        Some((meta.id, &meta.approved_at)),
        |appointment, l| {
            *paid_before.entry((appointment, l.month)).or_default() += l.fen;
            Ok::<_, StoreError>(())
        },
    )
    .await?;
    Ok(paid_before)
}

/// The file name of a path as stored (a server path means nothing on paper).
fn base_name(path: &str) -> String {
    path.rsplit(['/', '\\'])
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(path)
        .to_string()
}

/// `2022-09至2022-12、2023-02`: months as ranges.
pub fn month_ranges(months: &[Month]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < months.len() {
        let mut j = i;
        while j + 1 < months.len() && months[j + 1] == months[j].next() {
            j += 1;
        }
        out.push(if i == j {
            months[i].to_string()
        } else {
            format!("{}至{}", months[i], months[j])
        });
        i = j + 1;
    }
    out.join("、")
}

fn change_text(c: &ChangeInfo) -> String {
    let end = match (c.change.kind, c.change.end) {
        (ChangeKind::OtherAllowance, Some(z)) => format!("至{z}"),
        (ChangeKind::OtherAllowance, None) => "起，无结束日期".into(),
        _ => String::new(),
    };
    let basis = match (&c.decision_no, &*c.file) {
        (Some(no), _) => format!("依据{no}"),
        (None, "operator") => "区人社局登记".to_string(),
        (None, file) => match c.row {
            Some(r) => format!("见报告表{file}第{r}行"),
            None => format!("见报告表{file}"),
        },
    };
    format!(
        "{}（生效{}{end}，{basis}）",
        c.change.kind.label(),
        c.change.effective,
    )
}

fn status_rule(s: DayStatus) -> Option<&'static str> {
    Some(match s {
        DayStatus::Eligible(_) | DayStatus::OutsideTerm => return None,
        DayStatus::Uncovered => "未覆盖：没有政策版本覆盖",
        DayStatus::Fraud(_) => "弄虚作假撤销：整届称号无效，已发津贴全部追回",
        DayStatus::Terminated(_) => "终止：待遇自生效日起停止",
        DayStatus::OtherAllowance(_) => "享受其他人才津贴期间，不得重复享受",
        DayStatus::Suspended(_) => "停发待遇：称号保留，待遇停发",
    })
}

/// What the pass over the run adds up: the 汇总 and 追缴 sheets' totals, the 明细 row count
/// and the units of people with uncovered months.
#[derive(Default)]
struct Tally {
    totals: Totals,
    units: BTreeMap<String, UnitTotal>,
    cohorts: BTreeMap<i32, CohortTotal>,
    kinds: BTreeMap<LineKind, (usize, i64)>,
    recoveries: Vec<RecoveryRow>,
    /// 明细 rows in all and how many of them are stretches of several months.
    lines: usize,
    stretches: usize,
    /// People with a positive net and no account (name, ID masked).
    missing: Vec<String>,
    /// ID number → unit on the run's date, of the people with uncovered months.
    uncovered_units: HashMap<String, String>,
}

impl Tally {
    /// The totals of a cohort, added when first seen.
    fn cohort(&mut self, cohort_year: i32) -> &mut CohortTotal {
        self.cohorts
            .entry(cohort_year)
            .or_insert_with(|| CohortTotal {
                cohort_year,
                ..CohortTotal::default()
            })
    }

    /// Adds one 明细 row to the totals by cohort and kind and the count.
    fn add_row(&mut self, row: &DetailRow) {
        let c = self.cohort(row.cohort_year);
        c.lines += 1;
        if row.fen >= 0 {
            c.positive_fen += row.fen;
        } else {
            c.negative_fen += row.fen;
        }
        let k = self.kinds.entry(row.kind).or_default();
        k.0 += 1;
        k.1 += row.fen;
        self.lines += 1;
        self.stretches += usize::from(row.to != row.month);
    }
}

/// The one pass over the run: see [`Tally`]; the bank rows go to `bank` and the 明细 lines to
/// `summary` (the file `name`) as they come. A person with a positive net and no account
/// refuses the export.
async fn tally_run(
    (store, units): (&Store, (RunUnits, LinesAhead)),
    lines: &RunLines<'_>,
    bank: &mut BankThread,
    summary: &mut SummaryThread,
    name: &str,
) -> Result<Tally, ExportError> {
    let uncovered: BTreeSet<&str> = lines.view.uncovered.iter().map(|u| u.0.as_str()).collect();
    let mut t = Tally::default();
    each_person((store, units), lines.view, |p| {
        if uncovered.contains(p.id_number.as_str()) {
            if let Some(last) = p.items.last() {
                t.uncovered_units
                    .insert(p.id_number.clone(), last.unit.clone());
            }
        }
        t.totals.add(&p);
        if let Some(row) = bank_row(&p, &mut t.missing) {
            bank.push(row)
                .map_err(|e| xlsx_error(bank.name.as_str(), e))?;
        }
        guarded(name, || {
            lines
                .tally(&p, &mut t, |row| summary.push(row))
                .map_err(|e| with_file(e, name))
        })
    })
    .await?;
    if !t.missing.is_empty() {
        return Err(ExportError::MissingAccount(std::mem::take(&mut t.missing)));
    }
    Ok(t)
}

/// The summary's head: what its title, identification line, footers and 明细 settings show,
/// known before the run is read (no totals yet).
fn model_head(cfg: &Config, view: &RunView, approved_on: NaiveDate) -> SummaryModel {
    SummaryModel {
        title: format!("{}年度{}发放汇总表", view.year, cfg.export.program),
        organization: cfg.export.organization.clone(),
        year: view.year,
        seq: view.seq,
        supplementary: view.supplementary,
        today: view.today.clone(),
        computed_by: view.computed_by.clone(),
        approved_by: view.approved_by.clone().unwrap_or_default(),
        approved_on: approved_on.to_string(),
        detail_rows_per_sheet: cfg.export.detail_rows_per_sheet as usize,
        detail_fitted_rows_max: cfg.export.detail_fitted_rows_max as usize,
        ..SummaryModel::default()
    }
}

/// The summary's model: its `head` with the totals, recoveries, uncovered months and notes of
/// the pass over the run; and the run's totals.
async fn build_model(
    store: &Store,
    cfg: &Config,
    lines: &RunLines<'_>,
    tally: Tally,
    head: SummaryModel,
    meta: &RunMeta,
    parts: &[PartControl],
) -> Result<(SummaryModel, Totals), ExportError> {
    let view = lines.view;
    let uncovered = uncovered_rows(store, view, &tally.uncovered_units, lines.rules).await?;
    let (uncovered_note, mut notes) = summary_notes(lines.rules, view, &uncovered);
    let per_sheet = cfg.export.detail_rows_per_sheet.max(1) as usize;
    if tally.lines > per_sheet {
        let sheets = tally.lines.div_ceil(per_sheet);
        let names: Vec<String> = (0..sheets)
            .map(crate::excel::summary::detail_sheet_name)
            .collect();
        notes.push(format!(
            "{}. 明细共{}笔，每表{}笔，分列于{}。",
            notes.len() + 1,
            tally.lines,
            per_sheet,
            names.join("、")
        ));
    }
    if tally.stretches > 0 {
        notes.push(format!(
            "{}. 明细中同一人员同一称号连续的全月、类型和每月金额相同的，合并为一行，“月份”列为起止月份，金额为各月合计。",
            notes.len() + 1
        ));
    }
    if tally.lines > cfg.export.detail_fitted_rows_max as usize {
        notes.push(format!(
            "{}. 明细超过{}笔，各行保持一行高、说明不换行（全文在单元格中，可用筛选查找）；如需打印，请按人员或单位筛选后调整行高。",
            notes.len() + 1,
            cfg.export.detail_fitted_rows_max
        ));
    }
    let totals = tally.totals;
    let balances = balance_rows(store, &meta.approved_at).await?;
    after_bank_notes(&mut notes, &tally.kinds, &balances);
    let model = SummaryModel {
        units: tally.units.into_values().collect(),
        cohorts: tally.cohorts.into_values().collect(),
        kinds: kind_totals(&tally.kinds),
        paid_fen: totals.paid,
        recovered_fen: totals.recovered,
        people_paid: totals.people_paid,
        people_recovering: totals.people_recovering,
        parts: parts.to_vec(),
        recoveries: tally.recoveries,
        balances,
        uncovered,
        uncovered_note,
        notes,
        ..head
    };
    Ok((model, totals))
}

/// The summary's notes on re-issues and open recovery balances, when there are any.
fn after_bank_notes(
    notes: &mut Vec<String>,
    kinds: &BTreeMap<LineKind, (usize, i64)>,
    balances: &[BalanceRow],
) {
    if let Some((n, fen)) = kinds.get(&LineKind::Reissue).copied() {
        notes.push(format!(
            "{}. 本批次重发此前银行未能入账的款项{}笔，共{}元，发至名册上现在的账户（见明细“重发”）。",
            notes.len() + 1,
            n,
            fen_grouped(fen)
        ));
    }
    if !balances.is_empty() {
        let open: i64 = balances.iter().map(|b| b.open_fen).sum();
        notes.push(format!(
            "{}. 截至本批次批准，{}人尚有应退回未退回的款项共{}元（见“追缴余额”表）。",
            notes.len() + 1,
            balances.len(),
            fen_grouped(open)
        ));
    }
}

/// Every open recovery balance as it stood when the run was approved (masked ID numbers).
async fn balance_rows(store: &Store, approved_at: &str) -> Result<Vec<BalanceRow>, ExportError> {
    Ok(store
        .recovery_balances_as_of(approved_at)
        .await?
        .into_iter()
        .map(|b| BalanceRow {
            id_number: mask(&b.id_number),
            name: b.name,
            due_fen: b.due_fen,
            recovered_fen: b.recovered_fen,
            open_fen: b.open_fen,
            plan: b
                .plan
                .map(|p| p.describe_zh())
                .unwrap_or_else(|| "未分期（一次退回）".into()),
        })
        .collect())
}

/// The count and sum of each line kind, in the order of the 汇总 sheet.
fn kind_totals(kinds: &BTreeMap<LineKind, (usize, i64)>) -> Vec<KindTotal> {
    LineKind::ALL
        .iter()
        .map(|k| {
            let (lines, fen) = kinds.get(k).copied().unwrap_or_default();
            KindTotal {
                kind: *k,
                lines,
                fen,
            }
        })
        // 重发 and 分期抵扣 only in a run that has them.
        .filter(|t| t.lines > 0 || !matches!(t.kind, LineKind::Reissue | LineKind::Offset))
        .collect()
}

/// The run's lines with what explains them: the 明细 of the summary, built person by person.
struct RunLines<'a> {
    view: &'a RunView,
    rules: &'a RulesConfig,
    history: History,
    /// Whole months in a row make one 明细 row (`[export] detail_month_ranges`).
    month_ranges: bool,
}

impl RunLines<'_> {
    /// The appointment of a run item (read with its lines).
    fn appointment(item: &RunItem) -> Result<Appointment, StoreError> {
        let Some(approval_date) = item.approval_date else {
            return Err(StoreError::Corrupt(format!(
                "appointment {} of a run line has no approval date",
                item.appointment_id
            )));
        };
        Ok(Appointment {
            id: item.appointment_id,
            approval_date,
            approval_no: item.approval_no.clone(),
        })
    }

    /// Calls `f` with each line of `item`, `technician`'s (whose changes explain it), a call
    /// that gives its 说明 (made only when asked for: most whole months end up in a stretch
    /// that is explained at once) and, for a whole month paid for the first time (not a
    /// recovery), its policy version; asking for the 说明 of a recovery line adds its causes
    /// to `recovery_causes`.
    fn explain_item(
        &self,
        technician: i64,
        item: &RunItem,
        recovery_causes: &mut Vec<String>,
        mut f: impl FnMut(
            &crate::rules::Line,
            &mut dyn FnMut() -> String,
            Option<usize>,
        ) -> Result<(), XlsxError>,
    ) -> Result<(), ExportError> {
        if item.lines.is_empty() {
            // A person paid only a re-issue: the item names the person's unit, no lines.
            return Ok(());
        }
        let appointment = Self::appointment(item)?;
        let person_changes = self.history.changes_of(technician);
        let live: Vec<Change> = person_changes.iter().map(|ci| ci.change.clone()).collect();
        let timeline = Timeline::new(&appointment, &live, self.rules);
        for line in &item.lines {
            let why = LineWhy {
                breakdown: &timeline.month(line.month, self.rules),
                rules: self.rules,
                prior: self
                    .history
                    .paid_before
                    .get(&(item.appointment_id, line.month))
                    .copied()
                    .unwrap_or(0),
                cohort_year: item.cohort_year(),
                person_changes,
            };
            let whole = why
                .breakdown
                .whole_month_version()
                .filter(|_| why.prior == 0 && line.kind != LineKind::Recovery);
            let mut reason = || why.explain(line, recovery_causes);
            f(line, &mut reason, whole).map_err(|source| xlsx_error("", source))?;
        }
        Ok(())
    }

    /// The 说明 of a stretch of whole months: its first month's own when it is one month, else
    /// the rate times the months and what the kind says.
    fn stretch_reason(&self, s: &mut Stretch, cohort_year: i32) -> String {
        let (Some(v), 2..) = (s.version, s.months) else {
            return std::mem::take(&mut s.reason);
        };
        let rate = &self.rules.policy.versions()[v].monthly_rate;
        let total = fen_grouped(s.fen * i64::from(s.months));
        let mut text = match self.rules.proration {
            Proration::Daily => format!("{rate} × {}个月 = {total}（各月全月符合条件）", s.months),
            Proration::FirstOfMonth => format!(
                "首日符合条件（次月停发规则）：{rate} × {}个月 = {total}",
                s.months
            ),
        };
        if let Some(note) = kind_note(s.kind, 0, cohort_year) {
            text.push('；');
            text.push_str(&note);
        }
        text
    }

    /// Adds a person to the totals by unit, cohort and kind and (with a net to recover) the
    /// recovery list; their 明细 rows, with their 说明, go to `put`.
    fn tally(
        &self,
        p: &RunPerson,
        t: &mut Tally,
        mut put: impl FnMut(DetailRow) -> Result<(), XlsxError>,
    ) -> Result<(), ExportError> {
        let last = p.items.last().expect("a person in a run has items");
        let u = t
            .units
            .entry(last.unit.clone())
            .or_insert_with(|| UnitTotal {
                unit: last.unit.clone(),
                ..UnitTotal::default()
            });
        u.people_paid += usize::from(p.net.bank > 0);
        u.paid_fen += p.net.bank;
        u.people_recovering += usize::from(p.net.recovery < 0);
        u.recovered_fen += p.net.recovery;
        let mut cohorts_of_person = BTreeSet::new();
        for item in p.items.iter().filter(|i| !i.lines.is_empty()) {
            if cohorts_of_person.insert(item.cohort_year()) {
                t.cohort(item.cohort_year()).people += 1;
            }
        }
        self.rows(p, |row| {
            t.add_row(&row);
            put(row)
        })?;
        if p.net.recovery < 0 {
            t.recoveries.push(self.recovery(p, mask(&p.id_number))?);
        }
        Ok(())
    }

    /// The 追缴 row of a person whose net is to be recovered: the months and their causes.
    fn recovery(&self, p: &RunPerson, masked: String) -> Result<RecoveryRow, ExportError> {
        let mut months = Vec::new();
        let mut causes: Vec<String> = Vec::new();
        let mut positive = 0i64;
        for item in &p.items {
            self.explain_item(p.technician_id, item, &mut causes, |line, reason, _| {
                if line.fen < 0 {
                    months.push(line.month);
                    reason();
                } else {
                    positive += line.fen;
                }
                Ok(())
            })?;
        }
        months.sort();
        months.dedup();
        let mut reason = if causes.is_empty() {
            "已发金额多于重新核定的金额（变动更正或作废）".to_string()
        } else {
            causes.join("；")
        };
        if self.view.offset_recoveries && positive > 0 {
            reason.push_str(&format!(
                "；已与本批次应发 {} 元相抵",
                fen_grouped(positive)
            ));
        }
        let last = p.items.last().expect("a person in a run has items");
        Ok(RecoveryRow {
            id_number: masked,
            name: p.name.clone(),
            unit: last.unit.clone(),
            fen: p.net.recovery,
            months: month_ranges(&months),
            reason,
        })
    }

    /// Calls `put` with each 明细 row of a person, with its 说明: a row per line, except that
    /// whole months in a row of one appointment with the same kind and amount make one row
    /// (with `[export] detail_month_ranges`); then the re-issues and the offset.
    fn rows(
        &self,
        p: &RunPerson,
        mut put: impl FnMut(DetailRow) -> Result<(), XlsxError>,
    ) -> Result<(), ExportError> {
        let masked = mask(&p.id_number);
        let mut causes = Vec::new();
        for item in &p.items {
            let row = |s: &Stretch, reason: String| DetailRow {
                id_number: masked.clone(),
                name: p.name.clone(),
                unit: item.unit.clone(),
                cohort_year: item.cohort_year(),
                approval_no: item.approval_no.clone(),
                month: s.first,
                to: s.last,
                kind: s.kind,
                fen: s.fen * i64::from(s.months),
                reason,
            };
            let mut open: Option<Stretch> = None;
            self.explain_item(p.technician_id, item, &mut causes, |line, reason, whole| {
                let whole = whole.filter(|_| self.month_ranges);
                if let Some(s) = open.as_mut().filter(|s| s.extends(line, whole)) {
                    s.last = line.month;
                    s.months += 1;
                    return Ok(());
                }
                if let Some(mut s) = open.take() {
                    let reason = self.stretch_reason(&mut s, item.cohort_year());
                    put(row(&s, reason))?;
                }
                let mut s = Stretch::of(line, whole, reason());
                match whole {
                    Some(_) => open = Some(s),
                    None => {
                        let reason = std::mem::take(&mut s.reason);
                        put(row(&s, reason))?
                    }
                }
                Ok(())
            })?;
            if let Some(mut s) = open {
                let reason = self.stretch_reason(&mut s, item.cohort_year());
                put(row(&s, reason)).map_err(|source| xlsx_error("", source))?;
            }
        }
        let last = p.items.last().expect("a person in a run has items");
        for r in &p.reissues {
            put(reissue_row(p, last, &masked, r)).map_err(|source| xlsx_error("", source))?;
        }
        if p.offset_fen > 0 {
            put(offset_row(p, last, &masked, run_month(self.view)))
                .map_err(|source| xlsx_error("", source))?;
        }
        Ok(())
    }
}

/// Whole months in a row of one appointment with the same kind and amount: one 明细 row.
struct Stretch {
    first: Month,
    last: Month,
    kind: LineKind,
    /// Each month's amount.
    fen: i64,
    /// The policy version of every month (None: a single line that is not a whole month).
    version: Option<usize>,
    months: u32,
    /// The first month's own 说明.
    reason: String,
}

impl Stretch {
    fn of(line: &crate::rules::Line, version: Option<usize>, reason: String) -> Stretch {
        Stretch {
            first: line.month,
            last: line.month,
            kind: line.kind,
            fen: line.fen,
            version,
            months: 1,
            reason,
        }
    }

    /// Whether `line`, a whole month of `version` (or not one), continues the stretch.
    fn extends(&self, line: &crate::rules::Line, version: Option<usize>) -> bool {
        version.is_some()
            && version == self.version
            && line.kind == self.kind
            && line.fen == self.fen
            && line.month == self.last.next()
    }
}

/// The month of the run's business date.
fn run_month(view: &RunView) -> Month {
    parse_date(&view.today)
        .map(Month::of)
        .unwrap_or(Month::of(NaiveDate::MIN))
}

/// The 明细 row of an instalment of a planned recovery taken from the person's bank payment.
fn offset_row(p: &RunPerson, last: &RunItem, masked: &str, month: Month) -> DetailRow {
    DetailRow {
        id_number: masked.to_string(),
        name: p.name.clone(),
        unit: last.unit.clone(),
        cohort_year: last.cohort_year(),
        approval_no: last.approval_no.clone(),
        month,
        to: month,
        kind: LineKind::Offset,
        fen: -p.offset_fen,
        reason: format!(
            "分期追缴：本批次从应发款中抵扣此前应退回的{}元（计划与余额见“追缴余额”表）",
            fen_grouped(p.offset_fen)
        ),
    }
}

/// The 明细 row of a re-issue: the month the bank reported the failure, and the failed
/// payment it pays again.
fn reissue_row(
    p: &RunPerson,
    last: &RunItem,
    masked: &str,
    r: &crate::store::payrun::Reissue,
) -> DetailRow {
    let month = r
        .failed_on
        .get(..7)
        .and_then(|m| m.parse::<Month>().ok())
        .or_else(|| Month::new(r.from_year, 12))
        .unwrap_or(Month::of(chrono::NaiveDate::MIN));
    DetailRow {
        id_number: masked.to_string(),
        name: p.name.clone(),
        unit: last.unit.clone(),
        cohort_year: last.cohort_year(),
        approval_no: last.approval_no.clone(),
        month,
        to: month,
        kind: LineKind::Reissue,
        fen: r.fen,
        reason: format!(
            "重发：{}年度第{}批代发（批次 {} 第{}行）银行未能入账（{}，{}），本批次重新发放至名册上的账户",
            r.from_year, r.from_seq, r.batch_ref, r.row_no, r.reason, r.failed_on
        ),
    }
}

/// The summary's notes, and the note of its 未覆盖 sheet.
fn summary_notes(
    rules: &RulesConfig,
    view: &RunView,
    uncovered: &[UncoveredRow],
) -> (String, Vec<String>) {
    let last_policy = rules.policy.versions().last();
    let uncovered_note = match last_policy {
        Some(v) => format!(
            "没有政策版本覆盖该月（现行政策{}至{}止），须出台后续政策后发放",
            v.document, v.to
        ),
        None => "没有政策版本覆盖该月，须出台后续政策后发放".into(),
    };
    let months_uncovered: usize = uncovered.iter().map(|u| u.count).sum();
    let uncovered_note = match last_policy {
        Some(v) => format!(
            "说明：{uncovered_note}。影响金额按现行标准每月{}元、整月估算，以后续政策为准。",
            fen_grouped(rate_fen(v.monthly_rate))
        ),
        None => format!("说明：{uncovered_note}。"),
    };

    let mut notes = vec![
        "说明：1. 单位按人员在本批次计算日所在的单位统计（已计入单位变更）；评选年度按称号批准日期所在年度统计。".to_string(),
        if view.offset_recoveries {
            "2. 同一人员本批次各月明细相抵：净额为正的列入代发文件，为负的列入追缴清单（见“追缴”表）。".to_string()
        } else {
            "2. 同一人员应发各月列入代发文件，应追缴各月列入追缴清单（见“追缴”表），不相抵。".to_string()
        },
        "3. 本表身份证号码部分隐去；代发文件为完整号码，请妥善保管。代发文件的笔数、金额须与“五、代发文件控制数”一致。".to_string(),
    ];
    if !uncovered.is_empty() {
        notes.push(format!(
            "4. 本批次有{}人共{}个未覆盖月份（见“未覆盖”表）：没有政策版本覆盖，须出台后续政策后发放。",
            uncovered.len(),
            months_uncovered
        ));
    }
    (uncovered_note, notes)
}

/// What explains one line of the 明细 sheet.
struct LineWhy<'a> {
    breakdown: &'a crate::rules::MonthBreakdown,
    rules: &'a RulesConfig,
    /// What approved runs paid for the month before this run.
    prior: i64,
    cohort_year: i32,
    person_changes: &'a [ChangeInfo],
}

impl LineWhy<'_> {
    /// The 说明 of a line: the arithmetic, what was paid before, the deferral or arrears, and
    /// each ineligible segment with the change behind it. The causes of a recovery are added
    /// to `recovery_causes` (once each) for the 追缴 sheet.
    fn explain(&self, line: &crate::rules::Line, recovery_causes: &mut Vec<String>) -> String {
        let arithmetic = crate::store::explain::arithmetic(self.breakdown, self.rules);
        let mut parts_text = Vec::new();
        if self.prior == 0 && line.kind != LineKind::Recovery {
            parts_text.push(arithmetic);
        } else {
            parts_text.push(format!(
                "应得 {arithmetic}，此前已发 {}，本次 {}",
                fen_grouped(self.prior),
                fen_grouped(line.fen)
            ));
        }
        parts_text.extend(kind_note(line.kind, self.prior, self.cohort_year));
        for s in &self.breakdown.segments {
            let Some(rule) = status_rule(s.status) else {
                continue;
            };
            let range = if s.from == s.to {
                s.from.to_string()
            } else {
                format!("{}至{}", s.from, s.to)
            };
            let cause = s
                .status
                .change_id()
                .and_then(|id| self.person_changes.iter().find(|ci| ci.change.id == id));
            let cause_text = cause.map(change_text).unwrap_or_default();
            parts_text.push(format!(
                "{range} {rule}{}",
                if cause_text.is_empty() {
                    String::new()
                } else {
                    format!("，{cause_text}")
                }
            ));
            if line.fen < 0 {
                let t = cause_text_or_rule(&cause_text, rule);
                if !recovery_causes.contains(&t) {
                    recovery_causes.push(t);
                }
            }
        }
        parts_text.join("；")
    }
}

/// What a line's kind adds to its 说明: a deferral, or arrears paid for the first time.
fn kind_note(kind: LineKind, prior: i64, cohort_year: i32) -> Option<String> {
    match kind {
        LineKind::Deferred => Some(format!("{cohort_year}年度新评选，当年津贴次年发放")),
        LineKind::Arrears if prior == 0 => Some("此前应发未发，本次补发".into()),
        _ => None,
    }
}

/// Yuan per month → fen.
fn rate_fen(rate: rust_decimal::Decimal) -> i64 {
    use rust_decimal::prelude::ToPrimitive;
    (rate * rust_decimal::Decimal::from(100))
        .round()
        .to_i64()
        .unwrap_or(0)
}

/// One line per person with uncovered months: the months as ranges, the unit (of the run's
/// lines, else of the latest appointment) and what the months would earn at the last policy's
/// rate.
async fn uncovered_rows(
    store: &Store,
    view: &RunView,
    run_units: &HashMap<String, String>,
    rules: &RulesConfig,
) -> Result<Vec<UncoveredRow>, ExportError> {
    if view.uncovered.is_empty() {
        return Ok(Vec::new());
    }
    let db = |e: sqlx::Error| ExportError::Store(StoreError::from(e));
    let wanted: BTreeSet<&str> = view.uncovered.iter().map(|u| u.0.as_str()).collect();
    let mut units: HashMap<String, String> = HashMap::new();
    for r in sqlx::query("SELECT t.id_number, COALESCE(u.name, '') FROM appointments a JOIN technicians t ON t.id = a.technician_id LEFT JOIN units u ON u.id = a.unit_id ORDER BY a.approval_date, a.id")
        .fetch_all(store.pool())
        .await
        .map_err(db)?
    {
        let id: String = r.try_get(0).map_err(db)?;
        if wanted.contains(id.as_str()) {
            units.insert(id, r.try_get(1).map_err(db)?);
        }
    }
    units.extend(run_units.iter().map(|(k, v)| (k.clone(), v.clone())));
    let rate = rules
        .policy
        .versions()
        .last()
        .map(|v| rate_fen(v.monthly_rate));
    let mut by_person: BTreeMap<&str, (&str, Vec<Month>)> = BTreeMap::new();
    for (id, name, m) in &view.uncovered {
        by_person
            .entry(id.as_str())
            .or_insert_with(|| (name.as_str(), Vec::new()))
            .1
            .push(*m);
    }
    let mut rows: Vec<UncoveredRow> = by_person
        .into_iter()
        .map(|(id, (name, mut months))| {
            months.sort();
            months.dedup();
            UncoveredRow {
                id_number: mask(id),
                name: name.to_string(),
                unit: units.get(id).cloned().unwrap_or_default(),
                months: month_ranges(&months),
                count: months.len(),
                fen: rate.map(|r| r * months.len() as i64),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.unit.cmp(&b.unit).then(a.id_number.cmp(&b.id_number)));
    Ok(rows)
}

fn cause_text_or_rule(cause: &str, rule: &str) -> String {
    if cause.is_empty() {
        rule.to_string()
    } else {
        cause.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_refs() {
        assert_eq!(bank_file_name(2025, 1, 1, 1), "bank-2025-run1.xlsx");
        assert_eq!(bank_file_name(2025, 2, 3, 4), "bank-2025-run2-part3.xlsx");
        assert_eq!(summary_file_name(2025, 1), "summary-2025-run1.xlsx");
        assert_eq!(batch_ref(2025, 1, 2), "CT-2025-R1-P2");
    }

    #[test]
    fn ranges() {
        let m = |s: &str| s.parse::<Month>().unwrap();
        assert_eq!(
            month_ranges(&[m("2022-09"), m("2022-10"), m("2022-11"), m("2023-02")]),
            "2022-09至2022-11、2023-02"
        );
        assert_eq!(month_ranges(&[]), "");
    }

    #[test]
    fn creation_time_is_the_approval_second() {
        let t = creation_time("2025-12-01T09:30:15.123Z", "2025-12-01");
        assert_eq!(t.to_string(), "2025-12-01 09:30:15");
        let t = creation_time("", "2025-12-01");
        assert_eq!(t.to_string(), "2025-12-01 00:00:00");
    }

    #[test]
    fn the_summary_written_on_its_thread_is_the_one_written_in_line() {
        let m = SummaryModel {
            title: "2024年度张店区首席技师津贴发放汇总表".into(),
            year: 2024,
            seq: 1,
            detail_rows_per_sheet: 700,
            detail_fitted_rows_max: 300,
            ..SummaryModel::default()
        };
        // Not a whole number of batches; past the fitted rows; over two 明细 sheets.
        let rows: Vec<DetailRow> = (0..WORKER_BATCH * 2 + 77)
            .map(|k| DetailRow {
                id_number: format!("3703**********{:04}", k % 10_000),
                name: format!("人{k}"),
                unit: format!("单位{}", k % 7),
                cohort_year: 2022,
                approval_no: "淄张人社字〔2022〕1号".into(),
                month: "2024-01".parse().unwrap(),
                to: "2024-12".parse().unwrap(),
                kind: crate::rules::payrun::LineKind::Regular,
                fen: 600_000 + k as i64,
                reason: "任期内全月在岗".into(),
            })
            .collect();
        let created = NaiveDate::from_ymd_opt(2024, 12, 1)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        let mut in_line = std::io::Cursor::new(Vec::new());
        summary::write_summary(&m, &rows, created, &mut in_line).unwrap();
        let writer = summary::SummaryWriter::new(m.clone(), created).unwrap();
        let mut thread = spawn_summary(writer, "summary-2024-run1.xlsx").unwrap();
        for r in &rows {
            thread.push(r.clone()).unwrap();
        }
        let mut threaded = std::io::Cursor::new(Vec::new());
        thread.join().unwrap().finish(&m, &mut threaded).unwrap();
        assert!(in_line.get_ref().len() > 10_000);
        assert!(in_line.get_ref() == threaded.get_ref(), "the files differ");
    }

    fn bank_head() -> BankHead {
        BankHead {
            year: 2024,
            seq: 1,
            purpose: "2024年度张店区首席技师津贴".into(),
            title: None,
            organization: "张店区人力资源和社会保障局".into(),
            program: "张店区首席技师津贴".into(),
            created: NaiveDate::from_ymd_opt(2024, 12, 1)
                .unwrap()
                .and_hms_opt(1, 0, 0)
                .unwrap(),
            day: NaiveDate::from_ymd_opt(2024, 12, 1).unwrap(),
        }
    }

    fn bank_rows(n: usize, name: &str) -> Vec<BankRow> {
        (0..n)
            .map(|k| BankRow {
                name: format!("{name}{k}"),
                id_number: format!("370302198001{:06}", k),
                account: format!("6222020{:012}", k),
                bank_name: "中国工商银行淄博张店支行".into(),
                unit: "山东某某机械有限公司".into(),
                fen: 500_000 + k as i64,
            })
            .collect()
    }

    #[test]
    fn the_bank_parts_written_on_their_thread_are_the_ones_written_in_line() {
        let mut template = BankTemplate::builtin();
        template.max_rows = 300;
        let rows = bank_rows(WORKER_BATCH + 188, "人");
        let in_line_dir = tempfile::tempdir().unwrap();
        let mut parts = BankParts::new(bank_head(), &template, in_line_dir.path());
        rows.iter().try_for_each(|r| parts.push(r)).unwrap();
        let (in_line, in_line_parts) = parts.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut thread = spawn_bank(
            bank_head(),
            template.clone(),
            dir.path().to_path_buf(),
            "bank-2024-run1.xlsx",
        )
        .unwrap();
        for r in &rows {
            thread.push(r.clone()).unwrap();
        }
        let (threaded, threaded_parts) = thread.join().unwrap();
        assert_eq!(in_line_parts.len(), 3);
        assert_eq!(in_line_parts, threaded_parts);
        let shas = |w: &[Written]| {
            w.iter()
                .map(|(n, _, sha)| (n.clone(), sha.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(shas(&in_line), shas(&threaded));
    }

    #[test]
    fn a_bank_part_that_cannot_be_written_stops_its_thread_with_the_part_named() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config/banks/example-text-bank.toml");
        let mut template = BankTemplate::load(&path).unwrap();
        template.max_rows = 100;
        let dir = tempfile::tempdir().unwrap();
        let mut thread = spawn_bank(
            bank_head(),
            template,
            dir.path().to_path_buf(),
            "bank-2024-run1.txt",
        )
        .unwrap();
        // Part 2's row 50 has a name GBK cannot hold; what comes after it is not written.
        let mut rows = bank_rows(20 * WORKER_BATCH, "人");
        rows[149].name = "人😀".into();
        let stopped = rows
            .into_iter()
            .map(|r| thread.push(r))
            .find(|r| r.is_err());
        let e = thread.join().unwrap_err();
        assert!(matches!(e, ExportError::Refused(_)), "{e:?}");
        assert!(e.to_string().contains("part2"), "{e}");
        assert!(e.to_string().contains('😀'), "{e}");
        // The writer stopped before the rows ran out, and said so to the one pushing them.
        assert!(stopped.is_some());
    }

    #[test]
    fn documents_are_dated_by_the_approval_day_in_shanghai() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // 00:30 on 1 December in Shanghai is still 30 November in UTC.
        let at = "2024-11-30T16:30:00.000Z";
        assert_eq!(approval_day(at, "2024-12-01"), d("2024-12-01"));
        assert_eq!(
            creation_time(at, "2024-12-01").to_string(),
            "2024-11-30 16:30:00"
        );
        // 07:59 UTC is 15:59 the same day; 16:00 UTC is midnight of the next.
        assert_eq!(approval_day("2025-06-30T07:59:00Z", ""), d("2025-06-30"));
        assert_eq!(approval_day("2025-06-30T16:00:00Z", ""), d("2025-07-01"));
        // No approval time: the run's business date.
        assert_eq!(approval_day("", "2025-12-01"), d("2025-12-01"));
    }
}
