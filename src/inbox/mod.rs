//! The inbox: units' e-mailed status-change reports (变动情况报告表), and workbooks the bureau
//! drops by hand, taken into the ledger (`chieftech inbox scan`, `inbox held`, `inbox accept`).
//!
//! The inbox is a Maildir (`new/`, `cur/`) the mail server delivers to, or a plain folder of
//! `.eml`, `.xlsx` and `.xls` files (`[inbox] kind`). For each item:
//!
//! - **Taken in once.** Every item is recorded in `inbox_items` under its Message-ID (messages)
//!   and the SHA-256 of its bytes; an item already recorded (delivered again, re-dropped, or
//!   moved back into `new/`) is skipped. A Maildir's `new/` is scanned (`cur/` holds what was
//!   taken in); a folder's top level (`processed/` holds what was taken in). The database decides, never file moves: after an item
//!   is recorded, a Maildir message moves from `new/` to `cur/` and a folder's file to
//!   `processed/`, but a crash between the two only means the next scan skips it. A crash in
//!   the middle of an item (recorded as `processing`) is resumed on the next scan: the ledger
//!   remembers rows, so rows recorded before the crash are not applied twice, and the reply
//!   reports them as recorded by this message. A refused message does not reserve its
//!   Message-ID (only its bytes' hash).
//! - **One item, one unit of work.** Any failure while processing an item is recorded on it
//!   (`attempts`, `last_error`) and the scan goes on with the next. At `[inbox] max_attempts`
//!   (a crash counts as an attempt) the item is marked `failed`, the bureau is mailed once
//!   (template `inbox_failed`), and no scan takes it up again.
//! - **A hand-dropped workbook** (folder inbox only) is the bureau's own import, with the
//!   whole-file semantics of `import changes` (no `--accept-valid`): it goes through
//!   [`crate::jobs::import::import_changes`] as [`Reporter::Bureau`]; its error workbook is
//!   written beside it (and moved to `processed/` with it). No mail is sent.
//! - **A message** must come from the registered e-mail address of a unit (`units.email`);
//!   otherwise it is refused: recorded (status `refused`, with the reason), logged, and *not*
//!   answered — replying to unknown or forged addresses would only send backscatter.
//! - **The From is believed** only when the topmost `Authentication-Results` header of the
//!   configured trusted server (`trusted_authserv_id`) says `spf=pass`, `dkim=pass` or
//!   `dmarc=pass` for exactly the From's domain, parsed strictly (see [`auth`]); every header is
//!   kept, those that are not UTF-8 included, so an unreadable verdict is never skipped. Otherwise the message is **held** (its bytes kept in the
//!   database) until a clerk checks it (`inbox held`) and accepts it (`inbox accept ID`). A held
//!   message gets no reply until accepted.
//! - **The workbook attachments** (`.xlsx`/`.xls`, recognised by name or content) are read like
//!   `import changes` files and recorded as the unit's report ([`Reporter::Unit`]: never
//!   恢复待遇) with row-level acceptance: a unit may report only its own technicians
//!   ([`units`]); other rows are refused with the reason.
//! - **The reply** (template `inbox_reply`, or `inbox_unreadable` when the message held no
//!   readable workbook) goes to the sender through the outbox, queued in the same transaction
//!   that marks the message done, under a key derived from the message: it lists the rows
//!   recorded and the rows refused with their reasons, and attaches the error workbook (the
//!   original rows with a 错误说明 column) when rows were refused.
//!
//! ID numbers are masked in replies, in the report lines and in logs (the error workbook is
//! the unit's own file, returned to the unit's registered address, and keeps its rows as sent).
//! Attachments and error workbooks are kept under `[inbox] work_dir/<item id>/` (mode 0600):
//! the outbox reads attachments from there when it delivers.
//!
//! Configuration, every key optional:
//! ```toml
//! [inbox]
//! path = "data/inbox"                       # the Maildir or folder
//! kind = "maildir"                          # or "folder"
//! trusted_authserv_id = "mx.zhangdian.example"  # absent: every message is held
//! work_dir = "reports/inbox"                # default: <[paths] reports>/inbox
//! move_processed = true                     # new/ → cur/, folder → processed/
//! max_message_mb = 25                       # larger files are skipped (and logged) each scan
//! ```

pub mod auth;
pub mod units;

use crate::config::Config;
use crate::excel::changes::{read_changes, ChangesFile, CHANGES_SHEET};
use crate::excel::errors::{create_private, ErrorWorkbookError};
use crate::excel::read::{CellProblem, Severity, Workbook};
use crate::jobs::import::ImportError;
use crate::mail::settings::SettingsError;
use crate::mail::templates::{render, TemplateError};
use crate::mail::{MailSettings, Notice};
use crate::rules::{Reporter, RulesConfig};
use crate::store::{sha256_hex, ChangeEntry, RowProblem, Source, Store, StoreError};
use serde::Deserialize;
use sqlx::Row;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use units::Unit;

/// What a scan (or an accept) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// One line per message or file, for the terminal (ID numbers masked).
    pub lines: Vec<String>,
    /// Messages and files taken in (their rows recorded or refused row by row).
    pub taken_in: usize,
    /// Messages held until a clerk accepts them.
    pub held: usize,
    /// Messages and files refused as a whole (unknown sender, unreadable, no workbook, a
    /// bureau file refused whole).
    pub refused: usize,
    /// Items taken in before and skipped now.
    pub skipped_duplicates: usize,
    /// Rows refused in the items taken in.
    pub rows_refused: usize,
    /// Items whose processing failed this time (an error; retried by the next scan until
    /// `[inbox] max_attempts`) or that were given up as `failed` (the bureau is mailed).
    pub failed: usize,
}

impl ScanReport {
    /// Something was refused, wholly or in part (exit status 1).
    pub fn any_refused(&self) -> bool {
        self.refused > 0 || self.rows_refused > 0
    }

    /// Some item could not be processed (exit status 3: a failure outside the input).
    pub fn any_failed(&self) -> bool {
        self.failed > 0
    }
}

/// A message held until a clerk accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldMessage {
    pub id: i64,
    /// The From address.
    pub from: String,
    pub subject: String,
    /// The Date header (RFC 3339), or when the file was found.
    pub received: String,
    /// Why it is held (Chinese, for the clerk).
    pub why: String,
    /// Where it was found.
    pub file_name: String,
    /// When the scan recorded it (RFC 3339, UTC).
    pub taken_at: String,
}

/// A failure of the inbox.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// The `[inbox]` table cannot be used (exit status 2).
    #[error("configuration table [inbox]: {0}")]
    Config(String),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The inbox folder cannot be read (exit status 3).
    #[error("cannot read the inbox {path}: {source}; check [inbox] path and kind")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write under the inbox work folder {path}: {source}")]
    WorkDir {
        path: String,
        source: std::io::Error,
    },
    /// `inbox accept` of an id that is not held (exit status 2).
    #[error("there is no held message with id {0}: see `chieftech inbox held`")]
    NotHeld(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    ErrorWorkbook(#[from] ErrorWorkbookError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("the workbook reader stopped unexpectedly: {0}")]
    Reader(String),
}

impl From<sqlx::Error> for InboxError {
    fn from(e: sqlx::Error) -> Self {
        InboxError::Store(StoreError::Database(e))
    }
}

/// Maildir or plain folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum InboxKind {
    #[default]
    Maildir,
    Folder,
}

/// The `[inbox]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxSettings {
    #[serde(default = "default_path")]
    pub path: PathBuf,
    #[serde(default)]
    pub kind: InboxKind,
    /// The authserv-id of the receiving mail server whose `Authentication-Results` are
    /// believed; absent: every message is held.
    pub trusted_authserv_id: Option<String>,
    /// Where attachments and error workbooks are kept; default `<[paths] reports>/inbox`.
    pub work_dir: Option<PathBuf>,
    #[serde(default = "yes")]
    pub move_processed: bool,
    #[serde(default = "default_max_mb")]
    pub max_message_mb: u64,
    /// Attach the error workbook (the unit's own rows, with full ID numbers, sent back to its
    /// registered address) to the reply. False: the reply lists the problems only.
    #[serde(default = "yes")]
    pub attach_error_workbook: bool,
    /// An item whose processing fails (an error, or a crash that leaves it `processing`) this
    /// many times is marked `failed`, the bureau is mailed once, and no scan takes it up again.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

fn default_path() -> PathBuf {
    PathBuf::from("data/inbox")
}
fn yes() -> bool {
    true
}
fn default_max_mb() -> u64 {
    25
}
fn default_max_attempts() -> u32 {
    3
}

impl InboxSettings {
    /// Reads `[inbox]` (defaults when absent).
    pub fn from_config(cfg: &Config) -> Result<InboxSettings, InboxError> {
        let v = cfg
            .other
            .get("inbox")
            .cloned()
            .unwrap_or_else(|| toml::Value::Table(toml::Table::new()));
        let s: InboxSettings = v
            .try_into()
            .map_err(|e: toml::de::Error| InboxError::Config(e.to_string()))?;
        Ok(s)
    }

    /// The work folder, with its default.
    pub fn work_dir(&self, cfg: &Config) -> PathBuf {
        self.work_dir
            .clone()
            .unwrap_or_else(|| cfg.paths.reports.join("inbox"))
    }
}

/// Everything one scan needs.
struct Ctx<'a> {
    store: &'a Store,
    rules: &'a RulesConfig,
    operator: &'a str,
    settings: InboxSettings,
    mail: MailSettings,
    work_dir: PathBuf,
    /// Size limits checked before a workbook is read (`[input]`): a "zip bomb" mailed by a
    /// unit is refused with the reason in the reply, never loaded.
    limits: crate::excel::read::InputLimits,
}

/// Masks every ID or account number in a text ([`crate::rules::id_number::mask_numbers`]).
pub fn mask_ids(text: &str) -> String {
    crate::rules::id_number::mask_numbers(text)
}

fn now_text() -> String {
    crate::store::now_text()
}

/// RFC 3339 → `2026-11-26 09:30` in Beijing time, for Chinese texts.
fn local_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono_tz::Asia::Shanghai)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// Today (`--today` when given) as a letter shows it: `2024年12月1日`.
fn today_local() -> String {
    let day = crate::store::recorded_day(&crate::store::now_text()).unwrap_or_else(|| {
        chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .date_naive()
    });
    crate::rules::month::cn_date(day)
}

/// One file found in the inbox.
#[derive(Debug, Clone)]
struct Found {
    path: PathBuf,
    /// As shown in lines and recorded: relative to the inbox.
    label: String,
    workbook: bool,
    in_new: bool,
}

fn is_workbook_name(name: &str) -> bool {
    let n = name.to_lowercase();
    (n.ends_with(".xlsx") || n.ends_with(".xls")) && !n.ends_with(".errors.xlsx")
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, InboxError> {
    let rd = std::fs::read_dir(dir).map_err(|source| InboxError::Folder {
        path: dir.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with('.') || name.starts_with("~$") {
            continue;
        }
        if e.file_type().is_ok_and(|t| t.is_file()) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

fn find_items(s: &InboxSettings) -> Result<Vec<Found>, InboxError> {
    let mut out = Vec::new();
    let name_of = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    match s.kind {
        InboxKind::Maildir => {
            for p in list_dir(&s.path.join("new"))? {
                out.push(Found {
                    label: format!("new/{}", name_of(&p)),
                    path: p,
                    workbook: false,
                    in_new: true,
                });
            }
        }
        InboxKind::Folder => {
            for p in list_dir(&s.path)? {
                let name = name_of(&p);
                let lower = name.to_lowercase();
                let workbook = is_workbook_name(&name);
                if !(workbook || lower.ends_with(".eml")) {
                    continue;
                }
                out.push(Found {
                    label: name,
                    path: p,
                    workbook,
                    in_new: true,
                });
            }
        }
    }
    Ok(out)
}

/// Moves a processed item out of the way (the database already records it).
fn move_done(s: &InboxSettings, f: &Found) {
    if !s.move_processed || !f.in_new {
        return;
    }
    let Some(name) = f.path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let (dir, target) = match s.kind {
        InboxKind::Maildir => {
            let target = if name.contains(":2,") {
                name.clone()
            } else {
                format!("{name}:2,S")
            };
            (s.path.join("cur"), target)
        }
        InboxKind::Folder => (s.path.join("processed"), name.clone()),
    };
    let mut moves = vec![(f.path.clone(), dir.join(&target))];
    if s.kind == InboxKind::Folder && f.workbook {
        let errors = crate::excel::errors::error_workbook_path(&f.path);
        if errors.exists() {
            if let Some(n) = errors.file_name() {
                moves.push((errors.clone(), dir.join(n)));
            }
        }
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::warn!("inbox: cannot create {}: {e}", dir.display());
        return;
    }
    for (from, to) in moves {
        if let Err(e) = std::fs::rename(&from, &to) {
            tracing::warn!(
                "inbox: cannot move {} to {}: {e}",
                from.display(),
                to.display()
            );
        }
    }
}

/// What happened to one item.
enum Outcome {
    Taken { rows_refused: usize },
    Held,
    Refused,
    Duplicate,
    Failed,
}

fn count(report: &mut ScanReport, o: &Outcome) {
    match o {
        Outcome::Taken { rows_refused } => {
            report.taken_in += 1;
            report.rows_refused += rows_refused;
        }
        Outcome::Held => report.held += 1,
        Outcome::Refused => report.refused += 1,
        Outcome::Duplicate => report.skipped_duplicates += 1,
        Outcome::Failed => report.failed += 1,
    }
}

fn context<'a>(
    store: &'a Store,
    cfg: &Config,
    rules: &'a RulesConfig,
    operator: &'a str,
) -> Result<Ctx<'a>, InboxError> {
    let settings = InboxSettings::from_config(cfg)?;
    let mail = MailSettings::from_config(cfg)?;
    let work_dir = settings.work_dir(cfg);
    let limits = crate::excel::read::InputLimits::from_config(cfg)
        .map_err(|e| InboxError::Config(e.to_string()))?;
    Ok(Ctx {
        store,
        rules,
        operator,
        settings,
        mail,
        work_dir,
        limits,
    })
}

/// Takes in everything in the inbox (`chieftech inbox scan`).
pub async fn scan(
    store: &Store,
    cfg: &Config,
    rules: &RulesConfig,
    operator: &str,
) -> Result<ScanReport, InboxError> {
    let ctx = context(store, cfg, rules, operator)?;
    let mut report = ScanReport::default();
    // Accepted messages whose processing was interrupted: their files are gone from new/,
    // their bytes are still in the database.
    let interrupted = sqlx::query("SELECT file_name, received_at, raw FROM inbox_items WHERE status = 'processing' AND raw IS NOT NULL ORDER BY id")
        .fetch_all(store.pool())
        .await?;
    for r in interrupted {
        let label: String = r.try_get(0)?;
        let received: Option<String> = r.try_get(1)?;
        let raw: Vec<u8> = r.try_get(2)?;
        let received = received.unwrap_or_else(now_text);
        let result = message(&ctx, &label, &raw, &received, None).await;
        let (outcome, line) = isolate(&ctx, &label, &sha256_hex(&raw), result).await?;
        count(&mut report, &outcome);
        report.lines.push(mask_ids(&line));
    }
    for f in find_items(&ctx.settings)? {
        let bytes = match read_item(&ctx.settings, &f) {
            Ok(b) => b,
            Err(why) => {
                // Not recorded: it may be a file still being written; the next scan retries.
                tracing::warn!("inbox: {}: {why}", f.label);
                report.lines.push(format!("{}：{why}，已跳过", f.label));
                continue;
            }
        };
        let received = modified_at(&f.path);
        let result = if f.workbook {
            bureau_file(&ctx, &f, &bytes, &received).await
        } else {
            message(&ctx, &f.label, &bytes, &received, None).await
        };
        let (outcome, line) = isolate(&ctx, &f.label, &sha256_hex(&bytes), result).await?;
        count(&mut report, &outcome);
        report.lines.push(mask_ids(&line));
        // An item that failed and will be retried stays where it is; everything else (taken
        // in, refused, held, given up as failed) leaves new/.
        if !matches!(outcome, Outcome::Failed) || item_finished(&ctx, &bytes).await {
            move_done(&ctx.settings, &f);
        }
    }
    Ok(report)
}

/// The bytes of an item found in the inbox; Err: why it was not read (too large, or
/// unreadable).
fn read_item(settings: &InboxSettings, f: &Found) -> Result<Vec<u8>, String> {
    let limit = settings.max_message_mb.saturating_mul(1 << 20);
    let size = std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0);
    if size > limit {
        Err(format!("文件大小超过{}MB，未读取", settings.max_message_mb))
    } else {
        std::fs::read(&f.path).map_err(|e| format!("无法读取：{e}"))
    }
}

/// When a file was last modified (RFC 3339, UTC), or now when that cannot be told.
fn modified_at(path: &Path) -> String {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_else(now_text)
}

/// Keeps one item's failure to that item: the error is recorded on the item (masked), counted
/// against `[inbox] max_attempts`, and the scan goes on with the next item. Only a failure of
/// the database itself while recording this ends the scan.
async fn isolate(
    ctx: &Ctx<'_>,
    label: &str,
    sha: &str,
    result: Result<(Outcome, String), InboxError>,
) -> Result<(Outcome, String), InboxError> {
    let error = match result {
        Ok(done) => return Ok(done),
        Err(e) => mask_ids(&e.to_string()),
    };
    tracing::error!("inbox: {label}: {error}");
    let item = sqlx::query(
        "SELECT id, attempts FROM inbox_items WHERE sha256 = $1 AND status = 'processing'",
    )
    .bind(sha)
    .fetch_optional(ctx.store.pool())
    .await?;
    let Some(item) = item else {
        // Failed before it was recorded: nothing to count; the next scan reads it again.
        return Ok((
            Outcome::Failed,
            format!("{label}：处理失败，下次收取时重试：{error}"),
        ));
    };
    let id: i64 = item.try_get(0)?;
    let attempts: i64 = item.try_get(1)?;
    sqlx::query("UPDATE inbox_items SET last_error = $1 WHERE id = $2")
        .bind(&error)
        .bind(id)
        .execute(ctx.store.pool())
        .await?;
    if attempts >= i64::from(ctx.settings.max_attempts) {
        give_up(ctx, id).await?;
        return Ok((
            Outcome::Failed,
            format!("{label}：处理{attempts}次均失败，已停止重试并通知区人社局（收件记录{id}）：{error}"),
        ));
    }
    Ok((
        Outcome::Failed,
        format!(
            "{label}：处理失败（第{attempts}次，共可尝试{}次），下次收取时重试（收件记录{id}）：{error}",
            ctx.settings.max_attempts
        ),
    ))
}

/// Whether the item of these bytes is finished (given up as failed, say), so its file can
/// leave `new/`.
async fn item_finished(ctx: &Ctx<'_>, bytes: &[u8]) -> bool {
    sqlx::query("SELECT status FROM inbox_items WHERE sha256 = $1")
        .bind(sha256_hex(bytes))
        .fetch_optional(ctx.store.pool())
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get::<String, _>(0).ok())
        .is_some_and(|s| s != "processing")
}

/// Starts one processing attempt of an item: counts it, and gives the item up (returns false)
/// when it already had `[inbox] max_attempts` (the earlier ones crashed or failed).
async fn start_attempt(ctx: &Ctx<'_>, id: i64) -> Result<bool, InboxError> {
    let row = sqlx::query("UPDATE inbox_items SET attempts = attempts + 1 WHERE id = $1 AND status = 'processing' RETURNING attempts")
        .bind(id)
        .fetch_optional(ctx.store.pool())
        .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let attempts: i64 = row.try_get(0)?;
    if attempts > i64::from(ctx.settings.max_attempts) {
        give_up(ctx, id).await?;
        return Ok(false);
    }
    Ok(true)
}

/// Marks an item `failed` and, in the same transaction, queues one notice to the bureau.
async fn give_up(ctx: &Ctx<'_>, id: i64) -> Result<(), InboxError> {
    let row = sqlx::query("SELECT file_name, COALESCE(sender, ''), COALESCE(subject, ''), COALESCE(received_at, ''), attempts, COALESCE(last_error, '') FROM inbox_items WHERE id = $1")
        .bind(id)
        .fetch_one(ctx.store.pool())
        .await?;
    let label: String = row.try_get(0)?;
    let attempts: i64 = row.try_get(4)?;
    let tried = attempts.min(i64::from(ctx.settings.max_attempts));
    let last: String = row.try_get(5)?;
    let error = if last.is_empty() {
        "处理过程中程序中断（例如内存不足或被终止），未留下错误说明".to_string()
    } else {
        last
    };
    let mut values: BTreeMap<&str, String> = BTreeMap::new();
    values.insert("id", id.to_string());
    values.insert("label", label.clone());
    values.insert("attempts", tried.to_string());
    values.insert("from", none_if_empty(row.try_get(1)?));
    values.insert("subject", none_if_empty(row.try_get(2)?));
    values.insert("received", local_time(&row.try_get::<String, _>(3)?));
    values.insert("error", error.clone());
    values.insert("date", today_local());
    values.insert("signature", ctx.mail.signature.clone());
    let r = render(&ctx.mail.templates, "inbox_failed", &values)?;
    let notice = Notice {
        key: format!("inbox-failed:{id}"),
        to: vec![ctx.mail.bureau.clone()],
        subject: mask_ids(&r.subject),
        body: mask_ids(&r.body),
        attachments: Vec::new(),
    };
    let mut tx = ctx.store.pool().begin().await?;
    sqlx::query("UPDATE inbox_items SET status = 'failed', reason = $1, raw = NULL, finished_at = $2 WHERE id = $3 AND status = 'processing'")
        .bind(format!("处理{tried}次均未完成：{error}"))
        .bind(now_text())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    crate::mail::queue(&mut tx, &notice).await?;
    tx.commit().await?;
    tracing::error!("inbox: item {id} ({label}) given up after {tried} attempts: {error}");
    Ok(())
}

fn none_if_empty(s: String) -> String {
    if s.trim().is_empty() {
        "（无）".into()
    } else {
        s
    }
}

/// Messages held until a clerk accepts them (`chieftech inbox held`), oldest first.
pub async fn held(store: &Store) -> Result<Vec<HeldMessage>, InboxError> {
    let rows = sqlx::query("SELECT id, sender, subject, received_at, reason, file_name, taken_at FROM inbox_items WHERE status = 'held' ORDER BY id")
        .fetch_all(store.pool())
        .await?;
    let mut out = Vec::new();
    for r in rows {
        out.push(HeldMessage {
            id: r.try_get(0)?,
            from: r.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
            subject: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
            received: r.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
            why: r.try_get::<Option<String>, _>(4)?.unwrap_or_default(),
            file_name: r.try_get(5)?,
            taken_at: r.try_get(6)?,
        });
    }
    Ok(out)
}

/// Takes in a held message after a clerk checked its sender (`chieftech inbox accept ID`).
pub async fn accept(
    store: &Store,
    cfg: &Config,
    rules: &RulesConfig,
    id: i64,
    operator: &str,
) -> Result<ScanReport, InboxError> {
    let ctx = context(store, cfg, rules, operator)?;
    let row = sqlx::query(
        "SELECT raw, file_name, received_at FROM inbox_items WHERE id = $1 AND status = 'held'",
    )
    .bind(id)
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row else {
        return Err(InboxError::NotHeld(id));
    };
    let raw: Vec<u8> = row.try_get(0)?;
    let file_name: String = row.try_get(1)?;
    let received: Option<String> = row.try_get(2)?;
    let (outcome, line) = message(
        &ctx,
        &file_name,
        &raw,
        &received.unwrap_or_else(now_text),
        Some(id),
    )
    .await?;
    let mut report = ScanReport::default();
    count(&mut report, &outcome);
    report.lines.push(mask_ids(&line));
    Ok(report)
}

/// A recorded inbox item.
struct Existing {
    id: i64,
    status: String,
}

async fn find_existing(
    store: &Store,
    sha: &str,
    message_id: Option<&str>,
) -> Result<Option<Existing>, InboxError> {
    let row = sqlx::query(
        "SELECT id, status FROM inbox_items WHERE sha256 = $1 OR message_id = $2 ORDER BY id LIMIT 1",
    )
    .bind(sha)
    .bind(message_id.unwrap_or(""))
    .fetch_optional(store.pool())
    .await?;
    Ok(match row {
        Some(r) => Some(Existing {
            id: r.try_get(0)?,
            status: r.try_get(1)?,
        }),
        None => None,
    })
}

/// The fields of a new inbox item.
struct NewItem<'a> {
    kind: &'a str,
    message_id: Option<&'a str>,
    sha: &'a str,
    file_name: &'a str,
    sender: Option<&'a str>,
    subject: Option<&'a str>,
    received: &'a str,
    status: &'a str,
    reason: Option<&'a str>,
    raw: Option<&'a [u8]>,
}

/// Records an item; None when another scan recorded it first.
async fn insert_item(ctx: &Ctx<'_>, item: &NewItem<'_>) -> Result<Option<i64>, InboxError> {
    let sql = if item.raw.is_some() {
        "INSERT INTO inbox_items (kind, message_id, sha256, file_name, sender, subject, received_at, taken_at, status, reason, operator, raw) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING RETURNING id"
    } else {
        "INSERT INTO inbox_items (kind, message_id, sha256, file_name, sender, subject, received_at, taken_at, status, reason, operator) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING RETURNING id"
    };
    let mut q = sqlx::query(sql)
        .bind(item.kind)
        .bind(item.message_id.map(str::to_string))
        .bind(item.sha)
        .bind(item.file_name)
        .bind(item.sender.map(str::to_string))
        .bind(item.subject.map(str::to_string))
        .bind(item.received)
        .bind(now_text())
        .bind(item.status)
        .bind(item.reason.map(str::to_string))
        .bind(ctx.operator);
    if let Some(raw) = item.raw {
        q = q.bind(raw.to_vec());
    }
    let row = q.fetch_optional(ctx.store.pool()).await?;
    Ok(match row {
        Some(r) => Some(r.try_get(0)?),
        None => None,
    })
}

/// A workbook dropped in a folder inbox: the bureau's own import, whole file.
async fn bureau_file(
    ctx: &Ctx<'_>,
    f: &Found,
    bytes: &[u8],
    received: &str,
) -> Result<(Outcome, String), InboxError> {
    let sha = sha256_hex(bytes);
    let label = &f.label;
    let id = match bureau_item(ctx, label, &sha, received).await? {
        Step::Go(id) => id,
        Step::Stop(outcome, line) => return Ok((outcome, line)),
    };
    if !start_attempt(ctx, id).await? {
        return Ok((
            Outcome::Failed,
            format!("{label}：多次处理未完成，已停止重试并通知区人社局（收件记录{id}）"),
        ));
    }
    let (summary, refused) = import_bureau_file(ctx, f).await?;
    let status = if refused { "refused" } else { "done" };
    sqlx::query("UPDATE inbox_items SET status = $1, summary = $2, finished_at = $3 WHERE id = $4")
        .bind(status)
        .bind(&summary)
        .bind(now_text())
        .bind(id)
        .execute(ctx.store.pool())
        .await?;
    tracing::info!("inbox: bureau workbook {label} (item {id}): {summary}");
    // Whole-file semantics: refused means nothing was recorded.
    let outcome = if refused {
        Outcome::Refused
    } else {
        Outcome::Taken { rows_refused: 0 }
    };
    Ok((outcome, format!("{label}：区人社局自行导入：{summary}")))
}

/// The inbox item of a bureau workbook: one a crash left `processing` (resumed), or a new one;
/// stop when the same bytes were taken in before (or failed for good).
async fn bureau_item(
    ctx: &Ctx<'_>,
    label: &str,
    sha: &str,
    received: &str,
) -> Result<Step<i64>, InboxError> {
    match find_existing(ctx.store, sha, None).await? {
        Some(e) if e.status == "failed" => Ok(Step::Stop(
            Outcome::Duplicate,
            format!(
                "{label}：此文件多次处理失败（收件记录{}），已通知区人社局，不再自动重试",
                e.id
            ),
        )),
        Some(e) if e.status != "processing" => Ok(Step::Stop(
            Outcome::Duplicate,
            format!("{label}：内容相同的文件已收取过（收件记录{}），跳过", e.id),
        )),
        Some(e) => Ok(Step::Go(e.id)),
        None => {
            let item = NewItem {
                kind: "file",
                message_id: None,
                sha,
                file_name: label,
                sender: None,
                subject: None,
                received,
                status: "processing",
                reason: None,
                raw: None,
            };
            Ok(match insert_item(ctx, &item).await? {
                Some(id) => Step::Go(id),
                None => Step::Stop(
                    Outcome::Duplicate,
                    format!("{label}：已由另一次收取处理，跳过"),
                ),
            })
        }
    }
}

/// Imports a bureau workbook whole (`import changes`): its masked summary, with the error
/// workbook's path where it is moved to, and whether it was refused.
async fn import_bureau_file(ctx: &Ctx<'_>, f: &Found) -> Result<(String, bool), InboxError> {
    let r = crate::jobs::import::import_changes_with(
        ctx.store,
        std::slice::from_ref(&f.path),
        Reporter::Bureau,
        false,
        ctx.rules,
        ctx.operator,
        false,
        &ctx.limits,
    )
    .await?;
    let mut summary = mask_ids(&r.lines.join("；"));
    if ctx.settings.move_processed {
        // The error workbook moves to processed/ with its input.
        let errors = crate::excel::errors::error_workbook_path(&f.path);
        if let (Some(dir), Some(name)) = (f.path.parent(), errors.file_name()) {
            let moved = dir.join("processed").join(name);
            summary = summary.replace(&errors.display().to_string(), &moved.display().to_string());
        }
    }
    Ok((summary, r.refused))
}

/// The Message-ID, From address, subject, date and headers of a parsed message.
struct Envelope {
    message_id: Option<String>,
    from: Option<String>,
    subject: String,
    date: Option<String>,
    headers: Vec<(String, String)>,
}

fn envelope(m: &mail_parser::Message<'_>, raw: &[u8]) -> Envelope {
    Envelope {
        message_id: m
            .message_id()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        from: m
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(|s| s.trim().to_lowercase())
            .filter(|s| s.contains('@')),
        subject: m.subject().unwrap_or("").trim().to_string(),
        date: m.date().map(|d| d.to_rfc3339()),
        // Every header, with bytes that are not UTF-8 replaced (U+FFFD): mail-parser's
        // `headers_raw` silently drops such a header, which would let a forged
        // Authentication-Results below the trusted server's (made unreadable on purpose) speak
        // for it. The auth parser refuses a trusted header with a replacement character.
        headers: m
            .headers()
            .iter()
            .map(|h| {
                let value = raw
                    .get(h.offset_start as usize..h.offset_end as usize)
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                (h.name.as_str().to_string(), value.into_owned())
            })
            .collect(),
    }
}

/// A unit's message, from a scan (`accepting` None) or a clerk's accept (the held item's id).
async fn message(
    ctx: &Ctx<'_>,
    label: &str,
    bytes: &[u8],
    found_at: &str,
    accepting: Option<i64>,
) -> Result<(Outcome, String), InboxError> {
    let parsed = mail_parser::MessageParser::default().parse(bytes);
    let env = parsed.as_ref().map(|m| envelope(m, bytes));
    let facts = Facts::of(label, bytes, env.as_ref(), found_at);
    let mut resume = match taken_before(
        ctx,
        label,
        &facts.sha,
        facts.message_id.as_deref(),
        accepting,
    )
    .await?
    {
        Step::Go(r) => r,
        Step::Stop(outcome, line) => return Ok((outcome, line)),
    };
    let (Some(parsed), Some(env)) = (parsed.as_ref(), env.as_ref()) else {
        let why = "邮件无法解析（不是有效的MIME邮件），未回复".into();
        return refuse(ctx, facts.refusal(resume, why, None)).await;
    };
    let sender = match known_sender(ctx, env, &facts, resume).await? {
        Step::Go(s) => s,
        Step::Stop(outcome, line) => return Ok((outcome, line)),
    };
    if resume.is_none() {
        let new = Arrival {
            label,
            bytes,
            sha: &facts.sha,
            message_id: facts.message_id.as_deref(),
            from: &sender.from,
            unit_names: &sender.unit_names,
            subject: &facts.subject,
            received: &facts.received,
        };
        match record_arrival(ctx, env, &new).await? {
            Step::Go(id) => resume = Some(id),
            Step::Stop(outcome, line) => return Ok((outcome, line)),
        }
    }
    let Some(id) = resume else {
        return Err(InboxError::Reader("inbox item lost".into()));
    };
    if !start_attempt(ctx, id).await? {
        return Ok((
            Outcome::Failed,
            format!("{label}：多次处理未完成，已停止重试并通知区人社局（收件记录{id}）"),
        ));
    }
    take_in_message(ctx, id, parsed, &facts, &sender).await
}

/// What is recorded of a message whatever becomes of it: its label, hash, Message-ID,
/// subject, and when it was received (its Date, else when it was found).
struct Facts<'a> {
    label: &'a str,
    sha: String,
    message_id: Option<String>,
    subject: String,
    received: String,
}

impl<'a> Facts<'a> {
    /// The facts of a message's bytes and envelope (None: it could not be parsed).
    fn of(label: &'a str, bytes: &[u8], env: Option<&Envelope>, found_at: &str) -> Facts<'a> {
        Facts {
            label,
            sha: sha256_hex(bytes),
            message_id: env.and_then(|e| e.message_id.clone()),
            subject: env.map(|e| e.subject.clone()).unwrap_or_default(),
            received: env
                .and_then(|e| e.date.clone())
                .unwrap_or_else(|| found_at.to_string()),
        }
    }

    /// The refusal of this message, saying why.
    fn refusal(&self, resume: Option<i64>, why: String, from: Option<String>) -> Refusal {
        Refusal {
            resume,
            message_id: self.message_id.clone(),
            sha: self.sha.clone(),
            label: self.label.to_string(),
            from,
            subject: self.subject.clone(),
            received: self.received.clone(),
            why,
        }
    }
}

/// A message's From address and the units that registered it.
struct KnownSender {
    from: String,
    units: Vec<Unit>,
    /// The units' names, joined with 、.
    unit_names: String,
}

/// The sender of a message as a registered unit's address; a message without a From address,
/// or from an address no unit registered, is refused (stop).
async fn known_sender(
    ctx: &Ctx<'_>,
    env: &Envelope,
    facts: &Facts<'_>,
    resume: Option<i64>,
) -> Result<Step<KnownSender>, InboxError> {
    let Some(from) = env.from.clone() else {
        let why = "邮件没有发件人地址，未回复".into();
        let (outcome, line) = refuse(ctx, facts.refusal(resume, why, None)).await?;
        return Ok(Step::Stop(outcome, line));
    };
    let units = {
        let mut conn = ctx.store.pool().acquire().await?;
        units::units_of_address(&mut conn, &from).await?
    };
    if units.is_empty() {
        let why = format!("发件地址{from}不是已登记的单位邮箱，未回复");
        let (outcome, line) = refuse(ctx, facts.refusal(resume, why, Some(from))).await?;
        return Ok(Step::Stop(outcome, line));
    }
    let unit_names = units
        .iter()
        .map(|u| u.name.as_str())
        .collect::<Vec<_>>()
        .join("、");
    Ok(Step::Go(KnownSender {
        from,
        units,
        unit_names,
    }))
}

/// Takes in a believed message's attachments (item `id`, its attempt started), marks it done
/// and queues the reply.
async fn take_in_message(
    ctx: &Ctx<'_>,
    id: i64,
    parsed: &mail_parser::Message<'_>,
    facts: &Facts<'_>,
    sender: &KnownSender,
) -> Result<(Outcome, String), InboxError> {
    let (label, from, unit_names) = (facts.label, &sender.from, &sender.unit_names);
    let done = unit_message(
        ctx,
        id,
        parsed,
        from,
        &sender.units,
        &facts.subject,
        &facts.received,
    )
    .await?;
    let key_basis = facts
        .message_id
        .clone()
        .unwrap_or_else(|| facts.sha.clone());
    finish_message(ctx, id, &done, from, &key_basis).await?;
    tracing::info!(
        "inbox: message {label} from {from} ({unit_names}), item {id}: {}",
        done.summary
    );
    let outcome = if done.refused_whole {
        Outcome::Refused
    } else {
        Outcome::Taken {
            rows_refused: done.rows_refused,
        }
    };
    Ok((
        outcome,
        format!(
            "{label}：{unit_names}（{from}）的报告：{}；已排队回执",
            done.summary
        ),
    ))
}

/// Either go on with a value, or stop with the item's outcome and its line.
enum Step<T> {
    Go(T),
    Stop(Outcome, String),
}

/// Whether the message was taken in before: a clerk's accept of a held item (its id), an item
/// a crash left `processing` (its id, resumed), one finished before (stop: a duplicate), or new.
async fn taken_before(
    ctx: &Ctx<'_>,
    label: &str,
    sha: &str,
    message_id: Option<&str>,
    accepting: Option<i64>,
) -> Result<Step<Option<i64>>, InboxError> {
    if let Some(id) = accepting {
        let n = sqlx::query("UPDATE inbox_items SET status = 'processing', accepted_by = $1, accepted_at = $2 WHERE id = $3 AND status = 'held'")
            .bind(ctx.operator)
            .bind(now_text())
            .bind(id)
            .execute(ctx.store.pool())
            .await?;
        if n.rows_affected() != 1 {
            return Err(InboxError::NotHeld(id));
        }
        return Ok(Step::Go(Some(id)));
    }
    let Some(e) = find_existing(ctx.store, sha, message_id).await? else {
        return Ok(Step::Go(None));
    };
    if e.status == "processing" {
        return Ok(Step::Go(Some(e.id)));
    }
    let what = match e.status.as_str() {
        "held" => "（待人工确认）",
        "failed" => "（多次处理失败，已通知区人社局，不再自动重试）",
        _ => "",
    };
    Ok(Step::Stop(
        Outcome::Duplicate,
        format!("{label}：同一邮件已收取过（收件记录{}{what}），跳过", e.id),
    ))
}

/// A new message from a registered unit's address.
struct Arrival<'a> {
    label: &'a str,
    bytes: &'a [u8],
    sha: &'a str,
    message_id: Option<&'a str>,
    from: &'a str,
    unit_names: &'a str,
    subject: &'a str,
    received: &'a str,
}

/// Records a new message: to be processed when the trusted server vouched for its sender,
/// else held (with its bytes) until a clerk accepts it.
async fn record_arrival(
    ctx: &Ctx<'_>,
    env: &Envelope,
    a: &Arrival<'_>,
) -> Result<Step<i64>, InboxError> {
    let vouch = auth::check(
        &env.headers,
        ctx.settings.trusted_authserv_id.as_deref(),
        &auth::domain_of(a.from),
    );
    let why = match &vouch {
        auth::Vouch::Pass(_) => None,
        auth::Vouch::Unverified(w) => Some(w.as_str()),
    };
    let item = NewItem {
        kind: "message",
        message_id: a.message_id,
        sha: a.sha,
        file_name: a.label,
        sender: Some(a.from),
        subject: Some(a.subject),
        received: a.received,
        status: if why.is_some() { "held" } else { "processing" },
        reason: why,
        raw: why.map(|_| a.bytes),
    };
    let label = a.label;
    let Some(id) = insert_item(ctx, &item).await? else {
        return Ok(Step::Stop(
            Outcome::Duplicate,
            format!("{label}：已由另一次收取处理，跳过"),
        ));
    };
    let Some(why) = why else {
        return Ok(Step::Go(id));
    };
    let (from, unit_names) = (a.from, a.unit_names);
    tracing::warn!("inbox: message {label} from {from} held as item {id}: {why}");
    Ok(Step::Stop(
        Outcome::Held,
        format!(
            "{label}：来自{from}（{unit_names}）的邮件暂缓处理（收件记录{id}）：{why}；核实后运行 chieftech inbox accept {id}"
        ),
    ))
}

/// Marks the item done (or refused whole) and queues the reply, in one transaction.
async fn finish_message(
    ctx: &Ctx<'_>,
    id: i64,
    done: &Done,
    from: &str,
    key_basis: &str,
) -> Result<(), InboxError> {
    let notice = Notice {
        key: format!("inbox-reply:{}", &sha256_hex(key_basis.as_bytes())[..32]),
        to: vec![from.to_string()],
        subject: done.subject.clone(),
        body: done.body.clone(),
        attachments: done.attachments.clone(),
    };
    let mut tx = ctx.store.pool().begin().await?;
    sqlx::query("UPDATE inbox_items SET status = $1, summary = $2, reason = $3, raw = NULL, finished_at = $4 WHERE id = $5")
        .bind(if done.refused_whole { "refused" } else { "done" })
        .bind(&done.summary)
        .bind(done.refused_whole.then(|| done.summary.clone()))
        .bind(now_text())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    crate::mail::queue(&mut tx, &notice).await?;
    tx.commit().await?;
    Ok(())
}

/// A message refused as a whole.
struct Refusal {
    resume: Option<i64>,
    message_id: Option<String>,
    sha: String,
    label: String,
    from: Option<String>,
    subject: String,
    received: String,
    why: String,
}

/// Records a refused message (no reply: the sender is unknown or cannot be read).
async fn refuse(ctx: &Ctx<'_>, r: Refusal) -> Result<(Outcome, String), InboxError> {
    tracing::warn!("inbox: {} refused: {}", r.label, r.why);
    // A refused message does not reserve its Message-ID: anyone can write any Message-ID, and a
    // forged message must not make a later genuine one with the same ID look like a repeat.
    // The same bytes are still recognised by their hash; the ID is kept in the reason.
    let why = match &r.message_id {
        Some(mid) => format!("{}（Message-ID：{mid}）", r.why),
        None => r.why.clone(),
    };
    if let Some(id) = r.resume {
        sqlx::query("UPDATE inbox_items SET status = 'refused', reason = $1, raw = NULL, message_id = NULL, finished_at = $2 WHERE id = $3")
            .bind(&why)
            .bind(now_text())
            .bind(id)
            .execute(ctx.store.pool())
            .await?;
    } else {
        let item = NewItem {
            kind: "message",
            message_id: None,
            sha: &r.sha,
            file_name: &r.label,
            sender: r.from.as_deref(),
            subject: Some(&r.subject),
            received: &r.received,
            status: "refused",
            reason: Some(&why),
            raw: None,
        };
        insert_item(ctx, &item).await?;
    }
    Ok((Outcome::Refused, format!("{}：拒收：{}", r.label, r.why)))
}

/// What handling a unit's message produced.
struct Done {
    summary: String,
    subject: String,
    body: String,
    attachments: Vec<PathBuf>,
    rows_refused: usize,
    /// Nothing could be read: no workbook at all.
    refused_whole: bool,
}

/// A workbook attachment of a message.
struct Attached {
    name: String,
    bytes: Vec<u8>,
}

fn looks_like_workbook(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

/// The workbook attachments, and the names of the other attachments.
fn attachments(m: &mail_parser::Message<'_>) -> (Vec<Attached>, Vec<String>) {
    use mail_parser::MimeHeaders;
    let mut books = Vec::new();
    let mut others = Vec::new();
    for (n, part) in m.attachments().enumerate() {
        let name = part
            .attachment_name()
            .map(str::to_string)
            .unwrap_or_else(|| format!("附件{}", n + 1));
        let bytes = part.contents();
        if is_workbook_name(&name) || (looks_like_workbook(bytes) && !name.contains('.')) {
            books.push(Attached {
                name,
                bytes: bytes.to_vec(),
            });
        } else {
            others.push(name);
        }
    }
    (books, others)
}

/// A file name safe to write: the last path component, without control characters.
/// The longest stored attachment name, in bytes: well under the 255 bytes file systems allow,
/// with room for the error workbook's `.errors` beside it.
const MAX_NAME_BYTES: usize = 120;

/// A file name for the `n`th attachment of a message: the sender's name without folders,
/// control and reserved characters, shortened at a character boundary to at most
/// [`MAX_NAME_BYTES`] bytes, keeping its extension (`.xlsx` or `.xls`, added when missing), and
/// prefixed with `n-` so two attachments of one message never share a name.
fn safe_name(name: &str, n: usize) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|'))
        .collect();
    let clean = clean.trim_start_matches('.').to_string();
    if clean.is_empty() {
        return format!("附件{n}.xlsx");
    }
    let lower = clean.to_lowercase();
    let (stem, ext) = if lower.ends_with(".xlsx") {
        (&clean[..clean.len() - 5], ".xlsx")
    } else if lower.ends_with(".xls") {
        (&clean[..clean.len() - 4], ".xls")
    } else {
        (clean.as_str(), ".xlsx")
    };
    let prefix = format!("{n}-");
    let room = MAX_NAME_BYTES.saturating_sub(prefix.len() + ext.len());
    let mut cut = stem.len().min(room);
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{prefix}{}{ext}", &stem[..cut])
}

/// What one attachment came to.
#[derive(Default)]
struct FileResult {
    accepted: Vec<String>,
    refused: Vec<String>,
    notes: Vec<String>,
    error_workbook: Option<PathBuf>,
    applied: usize,
    duplicates: usize,
    rows_refused: usize,
    /// The attachment could not be read as a workbook at all: why.
    unreadable: Option<String>,
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = create_private(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Handles the attachments of a believed message; builds the reply.
async fn unit_message(
    ctx: &Ctx<'_>,
    item_id: i64,
    m: &mail_parser::Message<'_>,
    from: &str,
    units: &[Unit],
    subject: &str,
    received: &str,
) -> Result<Done, InboxError> {
    let (books, others) = attachments(m);
    let values = reply_values(ctx, units, from, subject, received);
    let results = take_in_workbooks(ctx, item_id, &books, from, units).await?;
    if results.iter().all(|(_, r)| r.unreadable.is_some()) {
        return unreadable_reply(ctx, values, &results, &others);
    }
    reply(ctx, values, &results, &others)
}

/// The values every reply to a unit's message is filled with.
fn reply_values(
    ctx: &Ctx<'_>,
    units: &[Unit],
    from: &str,
    subject: &str,
    received: &str,
) -> BTreeMap<&'static str, String> {
    let unit_names = units
        .iter()
        .map(|u| u.name.as_str())
        .collect::<Vec<_>>()
        .join("、");
    let mut values: BTreeMap<&'static str, String> = BTreeMap::new();
    values.insert("unit", unit_names.clone());
    values.insert(
        "subject",
        if subject.is_empty() {
            "（无主题）".into()
        } else {
            subject.to_string()
        },
    );
    values.insert("received", local_time(received));
    values.insert("date", today_local());
    values.insert("signature", ctx.mail.signature.clone());
    values.insert("from", from.to_string());

    values
}

/// Keeps each workbook attachment (0600, a short safe name) and takes it in.
async fn take_in_workbooks(
    ctx: &Ctx<'_>,
    item_id: i64,
    books: &[Attached],
    from: &str,
    units: &[Unit],
) -> Result<Vec<(String, FileResult)>, InboxError> {
    let mut results = Vec::new();
    if !books.is_empty() {
        let dir = ctx.work_dir.join(item_id.to_string());
        std::fs::create_dir_all(&dir).map_err(|source| InboxError::WorkDir {
            path: dir.display().to_string(),
            source,
        })?;
        for (n, book) in books.iter().enumerate() {
            let path = dir.join(safe_name(&book.name, n + 1));
            write_private(&path, &book.bytes).map_err(|source| InboxError::WorkDir {
                path: path.display().to_string(),
                source,
            })?;
            let r = attachment(ctx, item_id, &path, book, from, units).await?;
            results.push((book.name.clone(), r));
        }
    }
    Ok(results)
}

/// Nothing readable: the message is returned as a whole, saying why.
fn unreadable_reply(
    ctx: &Ctx<'_>,
    mut values: BTreeMap<&'static str, String>,
    results: &[(String, FileResult)],
    others: &[String],
) -> Result<Done, InboxError> {
    let mut reasons: Vec<String> = results
        .iter()
        .filter_map(|(_, r)| r.unreadable.clone())
        .collect();
    if !others.is_empty() {
        reasons.push(format!(
            "邮件的附件（{}）不是Excel工作簿。",
            others
                .iter()
                .map(|o| format!("“{o}”"))
                .collect::<Vec<_>>()
                .join("、")
        ));
    }
    if reasons.is_empty() {
        reasons.push("邮件没有附件。".to_string());
    }
    let reason = mask_ids(&reasons.join("\n"));
    values.insert("reason", reason.clone());
    let r = render(&ctx.mail.templates, "inbox_unreadable", &values)?;
    Ok(Done {
        summary: format!(
            "未处理，已退回：{}",
            reason.replace('\n', " ").trim_end_matches('。')
        ),
        subject: r.subject,
        body: r.body,
        attachments: Vec::new(),
        rows_refused: 0,
        refused_whole: true,
    })
}

/// The reply listing what was recorded and refused, row by row, with the error workbooks.
fn reply(
    ctx: &Ctx<'_>,
    mut values: BTreeMap<&'static str, String>,
    results: &[(String, FileResult)],
    others: &[String],
) -> Result<Done, InboxError> {
    let t = Tally::of(ctx, results, others);
    let result = t.result();
    let none = || "（无）".to_string();
    values.insert("result", result.clone());
    values.insert(
        "accepted",
        if t.accepted.is_empty() {
            none()
        } else {
            t.accepted.join("\n")
        },
    );
    values.insert(
        "refused",
        if t.refused.is_empty() {
            none()
        } else {
            t.refused.join("\n")
        },
    );
    values.insert(
        "attachment_note",
        if t.files.is_empty() {
            String::new()
        } else {
            "附件为贵单位报告表的原样副本，未登记的行在最后一列“错误说明”中注明了原因；请改正这些行后，只将改正的行重新报送。\n".into()
        },
    );
    let r = render(&ctx.mail.templates, "inbox_reply", &values)?;
    let summary = result.replace("。\n", "；").replace('\n', "；");
    Ok(Done {
        summary: mask_ids(summary.trim_end_matches('。')),
        subject: r.subject,
        body: mask_ids(&r.body),
        attachments: t.files,
        rows_refused: t.bad,
        refused_whole: false,
    })
}

/// The lines, error workbooks and counts of a reply, gathered over every workbook.
#[derive(Default)]
struct Tally {
    accepted: Vec<String>,
    refused: Vec<String>,
    notes: Vec<String>,
    /// The error workbooks to attach.
    files: Vec<PathBuf>,
    applied: usize,
    dups: usize,
    bad: usize,
}

impl Tally {
    /// Gathers the workbooks' results (each line tagged with its workbook's name when there
    /// are several), and a note for each attachment that is not a workbook.
    fn of(ctx: &Ctx<'_>, results: &[(String, FileResult)], others: &[String]) -> Tally {
        let many = results.len() > 1;
        let mut t = Tally::default();
        for (name, r) in results {
            let tag = |s: &String| {
                if many {
                    format!("【{name}】{s}")
                } else {
                    s.clone()
                }
            };
            t.accepted.extend(r.accepted.iter().map(tag));
            t.refused.extend(r.refused.iter().map(tag));
            t.notes.extend(r.notes.iter().map(tag));
            t.notes.extend(r.unreadable.clone());
            if ctx.settings.attach_error_workbook {
                t.files.extend(r.error_workbook.clone());
            }
            t.applied += r.applied;
            t.dups += r.duplicates;
            t.bad += r.rows_refused;
        }
        for o in others {
            t.notes.push(format!("附件“{o}”不是Excel工作簿，未处理。"));
        }
        t
    }

    /// The reply's result: the counts in a sentence, then a line per note.
    fn result(&self) -> String {
        let (applied, dups, bad) = (self.applied, self.dups, self.bad);
        let mut result = format!("已登记{applied}条变动");
        if dups > 0 {
            result.push_str(&format!("；{dups}条与已登记的变动相同，未重复登记"));
        }
        if bad > 0 {
            result.push_str(&format!("；{bad}处问题，相应的行未登记"));
        }
        result.push('。');
        for n in &self.notes {
            result.push('\n');
            result.push_str(n);
        }
        result
    }
}

fn describe(e: &ChangeEntry) -> String {
    let mut s = format!(
        "{}（身份证号码{}）{}，生效日期{}",
        e.name,
        e.id_number.masked(),
        e.kind.label(),
        e.effective
    );
    if let Some(z) = e.end {
        s.push_str(&format!("，结束日期{z}"));
    }
    if let Some(u) = &e.new_unit {
        s.push_str(&format!("，新单位{u}"));
    }
    s
}

fn row_text(row: Option<u32>) -> String {
    row.map_or_else(|| "全表".to_string(), |r| format!("第{r}行"))
}

/// The ledger remembers rows, not files: every row of a workbook seen before was checked
/// again, so a row refused then and valid now was recorded now. A duplicate this very item
/// recorded before an interruption (after it was taken in) is reported as recorded.
async fn own_recordings(
    ctx: &Ctx<'_>,
    item_id: i64,
    source: &Source,
    outcome: &mut crate::store::ChangesOutcome,
) -> Result<(), InboxError> {
    if outcome.duplicates.is_empty() {
        return Ok(());
    }
    let taken_at: String = sqlx::query("SELECT taken_at FROM inbox_items WHERE id = $1")
        .bind(item_id)
        .fetch_one(ctx.store.pool())
        .await?
        .try_get(0)?;
    let mut still_dup = Vec::new();
    for (row, existing) in outcome.duplicates.iter().zip(&outcome.duplicate_of) {
        let mine = sqlx::query("SELECT c.recorded_at FROM changes c JOIN sources s ON s.id = c.source_id WHERE c.id = $1 AND s.kind = $2 AND s.sha256 = $3 AND c.source_row = $4")
            .bind(*existing)
            .bind(&source.kind)
            .bind(source.sha256.clone())
            .bind(row.map(i64::from))
            .fetch_optional(ctx.store.pool())
            .await?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?
            .is_some_and(|at| at >= taken_at);
        if mine {
            outcome.applied.push((*row, *existing));
        } else {
            still_dup.push(*row);
        }
    }
    outcome.applied.sort();
    outcome.duplicates = still_dup;
    Ok(())
}

/// The reply's lines for one workbook: the rows recorded, repeated, voided before, refused.
fn describe_rows(
    out: &mut FileResult,
    file: &ChangesFile,
    outcome: &crate::store::ChangesOutcome,
    problems: &[CellProblem],
) {
    for (row, _) in &outcome.applied {
        if let Some(e) = file.entries.iter().find(|e| e.row == *row) {
            out.accepted
                .push(format!("{}：{}", row_text(*row), describe(e)));
        }
    }
    out.applied = outcome.applied.len();
    out.duplicates = outcome.duplicates.len();
    for (row, id) in &outcome.voided_before {
        if let Some(e) = file.entries.iter().find(|e| e.row == *row) {
            out.notes.push(format!(
                "{}：{}，此前已登记为变动#{id}，后经区人社局作废，未重新登记；如确有此变动，请与区人社局联系",
                row_text(*row),
                describe(e)
            ));
        }
    }
    for row in &outcome.duplicates {
        if let Some(e) = file.entries.iter().find(|e| e.row == *row) {
            out.notes.push(format!(
                "{}：{}，与已登记的变动相同，未重复登记",
                row_text(*row),
                describe(e)
            ));
        }
    }
    for p in problems {
        let tag = if p.is_error() { "" } else { "提示：" };
        let col = p
            .column
            .as_deref()
            .map(|c| format!("【{c}】"))
            .unwrap_or_default();
        out.refused.push(mask_ids(&format!(
            "{}{col}{tag}{}",
            row_text(p.row),
            p.message
        )));
    }
}

/// Reads, restricts and records one workbook attachment.
async fn attachment(
    ctx: &Ctx<'_>,
    item_id: i64,
    path: &Path,
    book: &Attached,
    from: &str,
    units: &[Unit],
) -> Result<FileResult, InboxError> {
    let mut out = FileResult::default();
    let label = book.name.clone();
    let file = match read_attachment(ctx, path, &label).await? {
        Ok(f) => f,
        Err(why) => {
            out.unreadable = Some(why);
            return Ok(out);
        }
    };
    let (kept, unit_problems) = {
        let mut conn = ctx.store.pool().acquire().await?;
        units::restrict(&mut conn, units, &file.entries).await?
    };
    let source = Source {
        kind: "unit-mail".into(),
        file_name: Some(format!("{from}：{label}")),
        sha256: Some(sha256_hex(&book.bytes)),
        operator: ctx.operator.into(),
    };
    let mut outcome = ctx
        .store
        .record_changes(&source, Reporter::Unit, &kept, true, ctx.rules)
        .await?;
    own_recordings(ctx, item_id, &source, &mut outcome).await?;
    let problems = all_problems(ctx, &file, &label, &unit_problems, &outcome).await?;
    describe_rows(&mut out, &file, &outcome, &problems);
    out.rows_refused = problems.iter().filter(|p| p.is_error()).count();
    if file.rows == 0 && file.entries.is_empty() && problems.is_empty() {
        out.notes.push(format!("附件“{label}”中没有变动行。"));
    }
    if problems.iter().any(|p| p.is_error()) {
        let sheets = file.sheets_to_copy();
        out.error_workbook = Some(crate::excel::errors::write_error_workbook_with(
            path,
            &sheets,
            &problems,
            &ctx.limits,
        )?);
    }
    Ok(out)
}

/// Reads a kept attachment as a changes workbook (off the async threads, within the input
/// limits); Err: why it cannot be read, for the reply.
async fn read_attachment(
    ctx: &Ctx<'_>,
    path: &Path,
    label: &str,
) -> Result<Result<ChangesFile, String>, InboxError> {
    let reader_path = path.to_path_buf();
    let reader_label = label.to_string();
    let limits = ctx.limits;
    let read = tokio::task::spawn_blocking(move || {
        let mut wb = Workbook::open_with(&reader_path, &limits)?;
        read_changes(&mut wb, &reader_label)
    })
    .await
    .map_err(|e| InboxError::Reader(e.to_string()))?;
    Ok(read.map_err(|e| format!("附件“{label}”无法读取：{e}")))
}

/// Every problem of a workbook in one list, sorted and capped: its cells, its rows unknown to
/// the roster, rows about other units' technicians, and rows the ledger refused.
async fn all_problems(
    ctx: &Ctx<'_>,
    file: &ChangesFile,
    label: &str,
    unit_problems: &[RowProblem],
    outcome: &crate::store::ChangesOutcome,
) -> Result<Vec<CellProblem>, InboxError> {
    let sheet = file.sheet().unwrap_or(CHANGES_SHEET).to_string();
    let to_cell = |p: &RowProblem| CellProblem {
        file: label.to_string(),
        sheet: Some(sheet.clone()),
        row: p.row,
        column: Some(p.column.to_string()),
        message: p.message.clone(),
        severity: Severity::Error,
    };
    let mut problems: Vec<CellProblem> = file.problems.clone();
    // Rows refused for a cell are checked against the roster too: every problem in one pass.
    let people = ctx.store.check_people(&file.partial).await?;
    problems.extend(people.iter().map(to_cell));
    problems.extend(unit_problems.iter().map(to_cell));
    problems.extend(outcome.rejected.iter().map(to_cell));
    problems.sort_by_key(|p| (p.sheet.is_some(), p.row));
    crate::excel::read::cap_problems(&mut problems);
    Ok(problems)
}

#[cfg(test)]
mod name_tests {
    use super::safe_name;

    #[test]
    fn attachment_names_are_short_unique_and_keep_their_extension() {
        let long = "张店区某某机械制造有限公司".repeat(12) + ".XLSX";
        assert!(long.len() > 255);
        let a = safe_name(&long, 1);
        let b = safe_name(&long, 2);
        assert!(
            a.len() <= 120 && a.ends_with(".xlsx") && a.starts_with("1-"),
            "{a}"
        );
        assert_ne!(a, b);
        assert_eq!(safe_name("../../etc/passwd", 3), "3-passwd.xlsx");
        assert_eq!(safe_name("报告.xls", 1), "1-报告.xls");
        assert_eq!(safe_name("", 4), "附件4.xlsx");
        assert_eq!(safe_name("a\u{0}b:c.xlsx", 1), "1-abc.xlsx");
    }
}
