//! One pull of one source, end to end: the snapshot read, the rows checked and taken in as a
//! workbook's would be, the row keys and watermark recorded, the bureau told of bad rows and
//! of rows gone.

use super::config::{SourceConfig, SourceKind};
use super::map::{select_sql, MappedRow, Plan};
use super::read::{ReadFailure, SourceConn};
use super::report::{self, BadRows, PullFacts, SourceProblem};
use super::{state, SourceError};
use crate::config::Config;
use crate::excel::read::{Severity, MAX_PROBLEMS};
use crate::input::{ChangeEntry, RosterEntry};
use crate::mail::MailSettings;
use crate::rules::{Reporter, RulesConfig};
use crate::store::roster::{RosterOutcome, RosterSession, RosterStart};
use crate::store::{Source, Store};
use chrono::NaiveDate;
use futures_util::StreamExt;
use std::path::PathBuf;

/// How to pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullOptions {
    /// Read every row (and find the rows gone), whatever the watermark.
    pub full: bool,
    /// Who pulls (`--operator`, or `daemon`): recorded with what the pull takes in.
    pub operator: String,
    /// The day of the pull (`--today`): the notices' date, and whether a full pull is due.
    pub today: NaiveDate,
}

/// What a pull did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullReport {
    pub source: String,
    pub pull: i64,
    pub full: bool,
    pub rows_read: u64,
    /// Something was recorded in the ledger (false: the pull found nothing new).
    pub recorded: bool,
    /// Rows were refused (a roster pull: all of them; exit status 1).
    pub refused: bool,
    /// One line for the clerk (Chinese).
    pub line: String,
    /// Every problem (errors, then warnings), named by source, row key and column.
    pub problems: Vec<SourceProblem>,
    pub error_workbook: Option<PathBuf>,
    /// Rows found gone by this pull (reported to the bureau, nothing voided).
    pub missing: i64,
    /// The watermark after the pull.
    pub watermark: Option<String>,
}

/// Rows per batch handed to the ledger.
const BATCH: usize = 2000;

/// Keys listed in the bureau's notice of rows gone.
const LISTED_MISSING: i64 = 200;

/// Pulls one source into the ledger (see the module documentation of [`crate::sources`]).
pub async fn pull(
    store: &Store,
    cfg: &Config,
    rules: &RulesConfig,
    s: &SourceConfig,
    opts: &PullOptions,
) -> Result<PullReport, SourceError> {
    let st = state::load(store, &s.name).await?;
    let full = full_due(s, &st, opts);
    let since = if full { None } else { st.watermark.clone() };
    let plan = Plan::new(s);
    let sql = select_sql(s, &plan, since.as_deref()).map_err(SourceError::Usage)?;
    let mut conn = SourceConn::open(s)
        .await
        .map_err(|f| SourceError::Unreachable {
            name: s.name.clone(),
            url: crate::store::redact(&s.url),
            reason: f.0,
        })?;
    let n = match state::next_pull(store, &s.name, s.kind.as_str()).await {
        Ok(n) => n,
        Err(e) => {
            conn.close().await;
            return Err(e.into());
        }
    };
    tracing::info!(source = %s.name, pull = n, full, "pulling");
    let mut p = Pull {
        store,
        cfg,
        rules,
        s,
        opts,
        plan,
        n,
        full,
        stored: st.watermark,
        rows: 0,
        watermark: None,
        bad: BadRows::default(),
        warnings: Vec::new(),
    };
    let r = match s.kind {
        SourceKind::Roster => p.roster(&mut conn, sql).await,
        SourceKind::Changes => p.changes(&mut conn, sql).await,
    };
    conn.close().await;
    r
}

/// Whether this pull reads every row: asked, no watermark (configured or recorded yet), or
/// the last full pull `full_every_days` or more days ago.
fn full_due(s: &SourceConfig, st: &state::SourceState, opts: &PullOptions) -> bool {
    if opts.full || s.watermark.is_none() || st.watermark.is_none() {
        return true;
    }
    if s.full_every_days == 0 {
        return false;
    }
    let last = st
        .last_full_at
        .as_deref()
        .and_then(crate::store::recorded_day);
    last.is_none_or(|d| (opts.today - d).num_days() >= i64::from(s.full_every_days))
}

/// A pull in progress.
struct Pull<'a> {
    store: &'a Store,
    cfg: &'a Config,
    rules: &'a RulesConfig,
    s: &'a SourceConfig,
    opts: &'a PullOptions,
    plan: Plan,
    /// This pull's number.
    n: i64,
    full: bool,
    /// The watermark recorded before this pull.
    stored: Option<String>,
    rows: u64,
    /// The largest watermark read (rows come in watermark order).
    watermark: Option<String>,
    bad: BadRows,
    warnings: Vec<SourceProblem>,
}

impl Pull<'_> {
    /// The next row's number.
    fn next_row(&mut self) -> u32 {
        self.rows += 1;
        u32::try_from(self.rows).unwrap_or(u32::MAX)
    }

    fn note_watermark(&mut self, w: &Option<String>) {
        if w.is_some() {
            self.watermark.clone_from(w);
        }
    }

    fn watermark_moved(&self) -> bool {
        self.watermark.is_some() && self.watermark != self.stored
    }

    fn read_failed(&self, f: ReadFailure) -> SourceError {
        SourceError::Read {
            name: self.s.name.clone(),
            url: crate::store::redact(&self.s.url),
            reason: f.0,
        }
    }

    /// The ledger's record of where this pull's rows come from.
    fn ledger_source(&self, kind: &str) -> Source {
        Source {
            kind: kind.into(),
            file_name: Some(format!("数据源{}第{}次拉取", self.s.name, self.n)),
            sha256: Some(format!("pull:{}:{}", self.s.name, self.n)),
            operator: self.opts.operator.clone(),
        }
    }

    /// The line's beginning: which source, which pull, rows read.
    fn head(&self) -> String {
        let kind = match self.s.kind {
            SourceKind::Roster => "名册",
            SourceKind::Changes => "变动",
        };
        let how = if self.full {
            "完整读取"
        } else {
            "增量读取"
        };
        format!(
            "数据源{}（{kind}，第{}次拉取，{how}）：读取{}行",
            self.s.name, self.n, self.rows
        )
    }

    /// A row's cell problems: a row with an error is refused (kept in `bad`); warnings of a
    /// sound row are listed. The entry of a sound row.
    fn screen<E>(&mut self, m: &mut MappedRow<E>) -> Option<E> {
        let errors = m.problems.iter().any(|p| p.severity == Severity::Error);
        for p in std::mem::take(&mut m.problems) {
            if errors {
                self.bad.add(
                    m.row,
                    &m.key,
                    &m.cells,
                    (Some(p.column), p.message, p.severity),
                );
            } else if self.warnings.len() < MAX_PROBLEMS {
                let w = report::problem(self.s, &m.key, Some(p.column), &p.message, p.severity);
                self.warnings.push(w);
            }
        }
        if errors {
            None
        } else {
            m.entry.take()
        }
    }

    /// A problem the ledger found with row `row` of the batch.
    fn ledger_problem<E>(
        &mut self,
        batch: &[MappedRow<E>],
        row: Option<u32>,
        column: &'static str,
        message: &str,
    ) {
        let m = batch.iter().find(|m| Some(m.row) == row);
        let (r, key, cells) = match m {
            Some(m) => (m.row, m.key.as_str(), m.cells.as_slice()),
            None => (row.unwrap_or(0), "", &[][..]),
        };
        self.bad.add(
            r,
            key,
            cells,
            (Some(column), message.to_string(), Severity::Error),
        );
    }

    fn facts(&self, mail: &MailSettings) -> PullFacts<'_> {
        PullFacts {
            source: self.s,
            pull: self.n,
            today: self.opts.today,
            signature: mail.signature.clone(),
        }
    }

    /// Writes the error workbook of the refused rows and queues the bureau's notice.
    async fn report_bad(
        &mut self,
        summary: &str,
    ) -> Result<(Vec<SourceProblem>, PathBuf), SourceError> {
        let dir = self.cfg.paths.reports.join("sources");
        let path = report::write_error_workbook(&dir, self.s, self.n, &self.bad)?;
        let problems = self.bad.problems(self.s);
        let mail = MailSettings::from_config(self.cfg)?;
        let notice = report::refused_notice(&mail, &self.facts(&mail), summary, &problems, &path);
        let mut conn = self.store.pool().acquire().await?;
        crate::mail::queue(&mut conn, &notice).await?;
        Ok((problems, path))
    }

    /// After a full pull: marks the keys gone and queues the bureau's notice (in the
    /// transaction of `conn`). Returns how many.
    async fn report_missing(&self, conn: &mut sqlx::AnyConnection) -> Result<i64, SourceError> {
        if !self.full {
            return Ok(0);
        }
        let (count, keys) = state::mark_missing(conn, &self.s.name, self.n, LISTED_MISSING).await?;
        if count > 0 {
            let mail = MailSettings::from_config(self.cfg)?;
            let notice = report::missing_notice(&mail, &self.facts(&mail), count, &keys);
            crate::mail::queue(conn, &notice).await?;
            tracing::warn!(source = %self.s.name, count, "rows gone from the source; the bureau is told");
        }
        Ok(count)
    }

    fn report(&self, recorded: bool, line: String) -> PullReport {
        let mut problems = self.bad.problems(self.s);
        problems.extend(self.warnings.iter().cloned());
        PullReport {
            source: self.s.name.clone(),
            pull: self.n,
            full: self.full,
            rows_read: self.rows,
            recorded,
            refused: !self.bad.is_empty(),
            line,
            problems,
            error_workbook: None,
            missing: 0,
            watermark: if recorded && self.watermark.is_some() {
                self.watermark.clone()
            } else {
                self.stored.clone()
            },
        }
    }

    /// Remembers a full pull that recorded nothing (so the next full pull is not due at once).
    async fn note_full(&self) -> Result<(), SourceError> {
        if self.full {
            let mut conn = self.store.pool().acquire().await?;
            sqlx::query("UPDATE source_state SET last_full_at = $1 WHERE name = $2")
                .bind(crate::store::now_text())
                .bind(&self.s.name)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

impl Pull<'_> {
    /// A roster pull: one ledger transaction, all or nothing.
    async fn roster(
        &mut self,
        conn: &mut SourceConn,
        sql: String,
    ) -> Result<PullReport, SourceError> {
        let source = self.ledger_source("roster-source");
        let mut session = match self.store.begin_roster_import(&source).await? {
            RosterStart::Open(s) => s,
            RosterStart::AlreadyImported(_) => {
                return Err(SourceError::Usage(format!(
                    "pull {} of source {} is recorded already",
                    self.n, self.s.name
                )))
            }
        };
        if let Err(e) = self.feed_roster(&mut session, conn, sql).await {
            let _ = session.abandon().await;
            return Err(e);
        }
        if !self.bad.is_empty() {
            session.abandon().await?;
            return self.roster_refused().await;
        }
        self.close_roster(session).await
    }

    async fn feed_roster(
        &mut self,
        session: &mut RosterSession<'_>,
        conn: &mut SourceConn,
        sql: String,
    ) -> Result<(), SourceError> {
        let mut rows = conn.rows(sql);
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(values) = rows.next().await {
            let values = values.map_err(|f| self.read_failed(f))?;
            let row = self.next_row();
            let m = self.plan.roster_row(row, &values);
            self.note_watermark(&m.watermark);
            batch.push(m);
            if batch.len() == BATCH {
                self.roster_batch(session, &mut batch).await?;
            }
        }
        self.roster_batch(session, &mut batch).await
    }

    /// A batch into the import: keys seen, cell checks, then the ledger's checks.
    async fn roster_batch(
        &mut self,
        session: &mut RosterSession<'_>,
        batch: &mut Vec<MappedRow<RosterEntry>>,
    ) -> Result<(), SourceError> {
        if batch.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = batch.iter().map(|m| m.key.clone()).collect();
        let backend = self.store.backend();
        state::see_keys(session.connection(), backend, &self.s.name, self.n, &keys).await?;
        let entries: Vec<RosterEntry> = batch.iter_mut().filter_map(|m| self.screen(m)).collect();
        let before = session.problems().len();
        session.add(&entries).await?;
        let found: Vec<_> = session.problems()[before..]
            .iter()
            .map(|p| (p.row, p.column, p.message.clone()))
            .collect();
        for (row, column, message) in found {
            self.ledger_problem(batch, row, column, &message);
        }
        batch.clear();
        Ok(())
    }

    /// A roster pull with bad rows: nothing taken in, the bureau told.
    async fn roster_refused(&mut self) -> Result<PullReport, SourceError> {
        let summary = format!(
            "{}；名册未导入（本次读取的行全部不导入）：{}行有错误",
            self.head(),
            self.bad.count()
        );
        let (_, path) = self.report_bad(&summary).await?;
        let line = format!(
            "{summary}，已写出错误说明工作簿{}并通知区人社局",
            path.display()
        );
        let mut r = self.report(false, line);
        r.error_workbook = Some(path);
        Ok(r)
    }

    /// Ends a sound roster pull: rows gone reported, the watermark recorded, committed — or,
    /// when it found nothing new, rolled back (nothing recorded).
    async fn close_roster(
        &mut self,
        mut session: Box<RosterSession<'_>>,
    ) -> Result<PullReport, SourceError> {
        let missing = self.report_missing(session.connection()).await?;
        let (new, back) =
            state::new_and_returned(session.connection(), &self.s.name, self.n).await?;
        let o = session.outcome().clone();
        let anything = o.added + o.updated + o.units_added > 0
            || new + back + missing > 0
            || self.watermark_moved();
        let line = roster_line(&self.head(), &o, missing, anything);
        if !anything {
            session.abandon().await?;
            self.note_full().await?;
            return Ok(self.report(false, line));
        }
        let wm = self.watermark.clone();
        state::save(
            session.connection(),
            &self.s.name,
            wm.as_deref(),
            self.full,
            &line,
        )
        .await?;
        if let Err(ps) = session.finish().await? {
            for p in ps {
                self.ledger_problem::<RosterEntry>(&[], p.row, p.column, &p.message);
            }
            return self.roster_refused().await;
        }
        let mut r = self.report(true, line);
        r.missing = missing;
        Ok(r)
    }
}

fn roster_line(head: &str, o: &RosterOutcome, missing: i64, anything: bool) -> String {
    let mut line = if anything {
        format!(
            "{head}；名册已导入：新增{}条，更新{}条，未变{}条，新增单位{}个",
            o.added, o.updated, o.unchanged, o.units_added
        )
    } else {
        format!("{head}；没有新的或变化的行，未做任何更改")
    };
    if missing > 0 {
        line.push_str(&format!(
            "；{missing}行已不在数据源中，已通知区人社局（未作废任何记录）"
        ));
    }
    line
}

/// What a changes pull recorded.
#[derive(Debug, Default)]
struct Tally {
    applied: usize,
    duplicates: usize,
}

impl Pull<'_> {
    /// A changes pull: row by row, each batch in its own ledger transaction.
    async fn changes(
        &mut self,
        conn: &mut SourceConn,
        sql: String,
    ) -> Result<PullReport, SourceError> {
        let source = self.ledger_source("changes-source");
        let mut tally = Tally::default();
        {
            let mut rows = conn.rows(sql);
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(values) = rows.next().await {
                let values = values.map_err(|f| self.read_failed(f))?;
                let row = self.next_row();
                let m = self.plan.change_row(row, &values);
                self.note_watermark(&m.watermark);
                batch.push(m);
                if batch.len() == BATCH {
                    self.changes_batch(&source, &mut batch, &mut tally).await?;
                }
            }
            self.changes_batch(&source, &mut batch, &mut tally).await?;
        }
        self.close_changes(&tally).await
    }

    /// A batch: keys seen, cell checks, a dry run, and only when it applies something, the
    /// recording (so a pull of rows all recorded before records nothing).
    async fn changes_batch(
        &mut self,
        source: &Source,
        batch: &mut Vec<MappedRow<ChangeEntry>>,
        tally: &mut Tally,
    ) -> Result<(), SourceError> {
        if batch.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = batch.iter().map(|m| m.key.clone()).collect();
        let mut tx = self.store.pool().begin().await?;
        state::see_keys(&mut tx, self.store.backend(), &self.s.name, self.n, &keys).await?;
        tx.commit().await?;
        let entries: Vec<ChangeEntry> = batch.iter_mut().filter_map(|m| self.screen(m)).collect();
        if !entries.is_empty() {
            let (store, rules) = (self.store, self.rules);
            let mut outcome = store
                .check_changes(source, Reporter::Bureau, &entries, rules)
                .await?;
            if !outcome.applied.is_empty() {
                outcome = store
                    .record_changes(source, Reporter::Bureau, &entries, true, rules)
                    .await?;
            }
            tally.applied += outcome.applied.len();
            tally.duplicates += outcome.duplicates.len() + outcome.voided_before.len();
            for p in &outcome.rejected {
                self.ledger_problem(batch, p.row, p.column, &p.message);
            }
        }
        batch.clear();
        Ok(())
    }

    /// Ends a changes pull: bad rows reported, rows gone reported, the watermark recorded.
    async fn close_changes(&mut self, tally: &Tally) -> Result<PullReport, SourceError> {
        let mut line = format!(
            "{}；已登记{}条变动，{}条与已登记的相同",
            self.head(),
            tally.applied,
            tally.duplicates
        );
        let mut workbook = None;
        if !self.bad.is_empty() {
            line.push_str(&format!("；{}行有错误，未登记", self.bad.count()));
            let (_, path) = self.report_bad(&line).await?;
            line.push_str(&format!(
                "，已写出错误说明工作簿{}并通知区人社局",
                path.display()
            ));
            workbook = Some(path);
        }
        let mut tx = self.store.pool().begin().await?;
        let missing = self.report_missing(&mut tx).await?;
        let (new, back) = state::new_and_returned(&mut tx, &self.s.name, self.n).await?;
        let anything = tally.applied > 0
            || new + back + missing > 0
            || self.watermark_moved()
            || workbook.is_some();
        if missing > 0 {
            line.push_str(&format!(
                "；{missing}行已不在数据源中，已通知区人社局（未作废任何记录）"
            ));
        }
        if anything {
            let wm = self.watermark.clone();
            state::save(&mut tx, &self.s.name, wm.as_deref(), self.full, &line).await?;
        } else {
            line.push_str("；没有新的变动，未做任何更改");
        }
        tx.commit().await?;
        if !anything {
            self.note_full().await?;
        }
        let mut r = self.report(anything, line);
        r.error_workbook = workbook;
        r.missing = missing;
        Ok(r)
    }
}
