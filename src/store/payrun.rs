//! Payment runs (发放批次): compute a draft, approve it, show it.
//!
//! A draft is recomputed at will, in one transaction (a crash leaves the previous state).
//! An approved run is immutable; it is the only thing that counts as paid.

use super::changes::change_from_row;
use super::native::{each_row, insert_rows, Arg, Bulk, Cols};
use super::refs::{RowChecks, Written};
use super::{audit, parse_date, Result, Store, StoreError};
use crate::rules::payrun::{
    decode_lines, decode_months, encode_lines, encode_months, pack_lines, unpack_lines,
};
use crate::rules::{
    compute_appointment, net_person, Appointment, AppointmentInput, Change, Line, Month, Net, Paid,
    RulesConfig,
};
use chrono::NaiveDate;
use indicatif::ProgressBar;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// What `payrun compute` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub year: i32,
    pub seq: i64,
    pub supplementary: bool,
    pub appointments: usize,
    pub items: usize,
    pub paid: i64,
    pub recovered: i64,
    pub uncovered_months: usize,
    /// Failed payments of earlier runs paid again (重发).
    pub reissued: usize,
}

/// Which run `payrun compute` makes: the year's run, or a supplementary (补发) one, which
/// re-issues failed payments only when asked (`--reissue`). `true` is a supplementary run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Regular,
    Supplementary,
    SupplementaryReissue,
}

impl From<bool> for RunKind {
    fn from(supplementary: bool) -> RunKind {
        if supplementary {
            RunKind::Supplementary
        } else {
            RunKind::Regular
        }
    }
}

/// A run as shown and exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunView {
    pub year: i32,
    pub seq: i64,
    /// draft | approved
    pub status: String,
    pub supplementary: bool,
    pub today: String,
    pub computed_by: String,
    pub computed_at: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
    /// Sorted by ID number; people without lines are absent.
    pub people: Vec<RunPerson>,
    /// (ID number, name, month) of every month no policy covers.
    pub uncovered: Vec<(String, String, Month)>,
    /// Whether nets offset recoveries: the setting the run was computed with (runs computed
    /// before settings were stored: the caller's current setting).
    pub offset_recoveries: bool,
    /// The settings the run was computed with (`RulesConfig::settings_json`), when stored.
    pub settings: Option<String>,
}

/// One person's part of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPerson {
    pub technician_id: i64,
    pub id_number: String,
    pub name: String,
    /// The lines' net, with the re-issues added to it and to what the bank pays.
    pub net: Net,
    pub items: Vec<RunItem>,
    /// Failed payments of earlier runs paid again in this one (重发).
    pub reissues: Vec<Reissue>,
    /// An instalment of a planned recovery taken from the bank payment (分期抵扣, ≥ 0).
    pub offset_fen: i64,
}

/// A failed payment re-issued by a run: a line of kind `reissue` (重发) in the person's bank
/// row, referencing the payment that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reissue {
    pub payment_id: i64,
    pub fen: i64,
    /// The run whose payment failed.
    pub from_year: i32,
    pub from_seq: i64,
    pub batch_ref: String,
    pub row_no: i64,
    /// The bank's date and reason of the failure.
    pub failed_on: String,
    pub reason: String,
}

/// One appointment's lines in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunItem {
    pub appointment_id: i64,
    pub approval_no: String,
    /// The appointment's approval date, where it was read with the item: a run's lines are,
    /// a re-issue is where its appointment is known, a digest for the notices is not.
    pub approval_date: Option<NaiveDate>,
    pub unit: String,
    pub lines: Vec<Line>,
    /// The account paid to, as it was at approval (the current one for a draft).
    pub bank_account: String,
    pub bank_name: String,
}

impl RunItem {
    /// 评选年度: the year of the appointment's approval date (as
    /// [`crate::rules::Appointment::cohort_year`]), 0 where the item was read without it.
    pub fn cohort_year(&self) -> i32 {
        self.approval_date.map_or(0, |d| chrono::Datelike::year(&d))
    }
}

impl RunPerson {
    /// All the person's lines, by month.
    pub fn lines(&self) -> Vec<Line> {
        let mut v: Vec<Line> = self.items.iter().flat_map(|i| i.lines.clone()).collect();
        v.sort_by_key(|l| l.month);
        v
    }
}

impl RunView {
    /// The JSON of docs/contract.md (`payrun show --json`).
    pub fn to_json(&self) -> serde_json::Value {
        use crate::rules::money::fen_str;
        let people: Vec<serde_json::Value> = self
            .people
            .iter()
            .map(|p| {
                serde_json::json!({
                    "id_number": p.id_number,
                    "name": p.name,
                    "net": fen_str(p.net.net),
                    "lines": p.lines().iter().map(|l| serde_json::json!({
                        "month": l.month.to_string(),
                        "kind": l.kind.code(),
                        "amount": fen_str(l.fen),
                    })).collect::<Vec<_>>(),
                    "reissues": p.reissues.iter().map(|r| serde_json::json!({
                        "kind": "reissue",
                        "amount": fen_str(r.fen),
                        "payment": {
                            "year": r.from_year,
                            "run": r.from_seq,
                            "batch_ref": r.batch_ref,
                            "row": r.row_no,
                            "failed_on": r.failed_on,
                            "reason": r.reason,
                        },
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let t = self.totals();
        serde_json::json!({
            "year": self.year,
            "run": self.seq,
            "status": self.status,
            "supplementary": self.supplementary,
            "people": people,
            "totals": {
                "paid": fen_str(t.paid),
                "recovered": fen_str(t.recovered),
                "people_paid": t.people_paid,
                "people_recovering": t.people_recovering,
            },
            "uncovered": self.uncovered.iter().map(|(id, _, m)| serde_json::json!({
                "id_number": id, "month": m.to_string(),
            })).collect::<Vec<_>>(),
        })
    }

    /// Totals: what the bank pays, what is recovered (negative), and head counts.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for p in &self.people {
            t.add(p);
        }
        t
    }
}

/// A run's totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub paid: i64,
    /// Sum of recoveries (≤ 0).
    pub recovered: i64,
    pub people_paid: usize,
    pub people_recovering: usize,
}

impl Totals {
    /// Adds a person's net.
    pub fn add(&mut self, p: &RunPerson) {
        self.paid += p.net.bank;
        self.recovered += p.net.recovery;
        self.people_paid += usize::from(p.net.bank > 0);
        self.people_recovering += usize::from(p.net.recovery < 0);
    }
}

/// Options of `payrun compute` and `approve` that come from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunPolicy {
    pub allow_supplementary: bool,
    pub allow_single_operator: bool,
}

impl Store {
    /// Computes (or recomputes) the draft run of `year`.
    #[allow(clippy::too_many_arguments)]
    pub async fn compute_run(
        &self,
        year: i32,
        kind: impl Into<RunKind>,
        operator: &str,
        today: NaiveDate,
        cfg: &RulesConfig,
        policy: RunPolicy,
        progress: &ProgressBar,
    ) -> Result<RunSummary> {
        if !(2000..=2200).contains(&year) {
            return Err(StoreError::Usage(format!(
                "{year} is not a plausible payment year"
            )));
        }
        let kind = kind.into();
        let mut tx = self.begin_write().await?;
        let checks = RowChecks::defer(&mut tx, self.backend).await?;
        let draft = DraftRequest {
            year,
            supplementary: kind != RunKind::Regular,
            operator,
            today,
            policy,
        };
        let (run_id, seq, is_supp) = open_draft(&mut tx, &draft).await?;
        let inputs = std::sync::Arc::new(RuleInputs::load(self, &mut tx).await?);
        let appointments = inputs.appointments.len();
        clear_draft(&mut tx, run_id).await?;
        let mut tally = Tally::default();
        // Planned recoveries are offset against what the bank would pay (offsetting on).
        if cfg.offset_recoveries {
            tally.offsets_due = super::recovery::offsets_due(&mut tx, today).await?;
        }
        let mut tally = compute_items(&mut tx, run_id, year, inputs, cfg, progress, tally).await?;
        record_recoveries(&mut tx, run_id, &tally).await?;
        // A regular run pays every failed payment again; a supplementary one when asked.
        if kind != RunKind::Supplementary {
            let (count, fen) = super::payments::attach_reissues(&mut tx, run_id).await?;
            tally.reissued = count;
            tally.paid += fen;
        }
        record_computed(&mut tx, &draft, run_id, seq, cfg, tally.items).await?;
        for table in RUN_TABLES {
            checks.check(&mut tx, table, Written::OfRun(run_id)).await?;
        }
        if self.backend() == super::Backend::Postgres {
            // Approval and export read the run's lines next, planned from these statistics.
            super::analyze_stale(&mut tx, &["run_items"]).await?;
        }
        tx.commit().await?;
        Ok(RunSummary {
            year,
            seq,
            supplementary: is_supp,
            appointments,
            items: tally.items,
            paid: tally.paid,
            recovered: tally.recovered,
            uncovered_months: tally.uncovered_months,
            reissued: tally.reissued,
        })
    }

    /// Approves the draft run of `year`: refuses a stale draft and, unless configuration
    /// allows it, approval by the operator who computed it. Each line keeps the bank account
    /// it is paid to as it is now.
    pub async fn approve_run(&self, year: i32, operator: &str, policy: RunPolicy) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let seq = approve_in(&mut tx, year, operator, policy, None).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// The run `seq` of `year` (the latest when None).
    pub async fn show_run(&self, year: i32, seq: Option<i64>, offset: bool) -> Result<RunView> {
        let mut conn = self.pool.acquire().await?;
        load_run_view(&mut conn, year, seq, offset).await
    }

    /// The run `seq` of `year` (the latest when None) as [`Store::show_run`] gives it, but
    /// without its people (`people` is empty; [`Store::each_run_person`] streams them).
    pub async fn run_head(&self, year: i32, seq: Option<i64>, offset: bool) -> Result<RunView> {
        let mut conn = self.pool.acquire().await?;
        let head = load_run_head(&mut conn, year, seq, offset).await?;
        let mut view = head.empty_view();
        view.uncovered = load_uncovered(&mut conn, head.run_id).await?;
        Ok(view)
    }

    /// Starts reading every person's units and moves on a connection of its own, beside
    /// whatever the caller reads next; [`Store::each_run_person`] takes them.
    pub fn units_beside(&self) -> RunUnits {
        RunUnits(UnitIndex::spawn_load(self))
    }

    /// Asks for the lines of run `seq` of `year` ahead of [`Store::each_run_person`], on a
    /// connection of its own: on PostgreSQL the server joins and sorts them (seconds at a
    /// million people, before the first row comes) while the caller reads what it needs
    /// first, and the rows come over on another core. Elsewhere nothing is read ahead.
    pub fn run_lines_ahead(&self, run: (i32, i64)) -> LinesAhead {
        if self.backend != super::Backend::Postgres {
            return LinesAhead(None);
        }
        let (out, rows) = tokio::sync::mpsc::channel(AHEAD_BATCHES);
        let task = super::Reading::spawn(read_lines_ahead(self.clone(), run, out));
        LinesAhead(Some(Ahead { rows, task }))
    }

    /// Calls `f` with each person of run `seq` of `year` as [`Store::show_run`] would list
    /// them, in ID-number order, one person in memory at a time; an error of `f` stops it.
    /// `units` from [`Store::units_beside`], `ahead` from [`Store::run_lines_ahead`] for the
    /// same run.
    pub async fn each_run_person(
        &self,
        (units, ahead): (RunUnits, LinesAhead),
        (year, seq): (i32, i64),
        offset: bool,
        f: impl FnMut(RunPerson) -> Result<()>,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        let head = load_run_head(&mut conn, year, Some(seq), offset).await?;
        let units = units.0.join(&mut conn).await?;
        match ahead {
            LinesAhead(Some(ahead)) => {
                for_each_person_ahead(&mut conn, &head, &units, ahead, f).await
            }
            // Not PostgreSQL ([`Store::run_lines_ahead`]): read here, in-process.
            LinesAhead(None) => for_each_person(&mut conn, &head, &units, f).await,
        }
    }

    /// Approves like [`Store::approve_run`] and, in the same transaction, queues the notices
    /// `notices` builds from the approved run and the reasons behind its recoveries. When the
    /// notices cannot be built, nothing is approved.
    ///
    /// The run's lines are streamed in ID-number order and digested person by person (name,
    /// unit, net and lines packed as the ledger stores them), never held as records: `notices`
    /// is called once per unit with a view of that unit's people (its notice and its people's
    /// recovery notices), then once with no people and the uncovered months (the bureau's
    /// warning). The notices are queued in the order one call over the whole run gives: the
    /// units' notices by unit name, the recovery notices by ID number, the warning. `notices`
    /// is moved to tokio's blocking pool, where a few units' letters are written while the
    /// ones before are queued (hence `Send + 'static`).
    #[allow(clippy::too_many_arguments)]
    pub async fn approve_run_with(
        &self,
        year: i32,
        operator: &str,
        policy: RunPolicy,
        current: &RulesConfig,
        offset: bool,
        notices: impl WriteNotices + Send + 'static,
    ) -> Result<(i64, usize)> {
        let mut tx = self.begin_write().await?;
        // The draft is digested beside the transaction while it checks the draft and fixes
        // the lines' accounts: the digest holds nothing approval changes (people, units, lines
        // and nets, not the accounts), and under the ledger's lock nobody else writes. At a
        // million people on PostgreSQL the lines' first row comes 3 s after they are asked
        // for, and fixing the accounts takes 1.4 s (issue 15). A failed approval drops the
        // read, which stops it.
        let digest = self.read_beside("the draft's lines", move |conn| {
            Box::pin(digest_latest(conn, year, offset))
        });
        let seq = approve_in(&mut tx, year, operator, policy, Some(current)).await?;
        let head = load_run_head(&mut tx, year, Some(seq), offset).await?;
        let digest = match digest.join(&mut tx).await? {
            (latest, digest) if latest == seq => digest,
            (latest, _) => {
                return Err(StoreError::Corrupt(format!(
                    "run {year}/{seq} was approved while run {year}/{latest} was read"
                )))
            }
        };
        let notices = std::sync::Arc::new(notices);
        let mut queued = queue_unit_notices(&mut tx, &head, digest, &notices).await?;
        queued += queue_warning(&mut tx, &head, &*notices).await?;
        tx.commit().await?;
        Ok((seq, queued))
    }
}

/// Why a person is recovering: their recorded changes, for the recovery notice.
async fn recovery_reason(conn: &mut sqlx::AnyConnection, id_number: &str) -> Result<String> {
    let rows = sqlx::query("SELECT c.kind, c.effective, c.end_date FROM changes c JOIN technicians t ON t.id = c.technician_id WHERE t.id_number = $1 AND c.voided_at IS NULL ORDER BY c.effective, c.id")
        .bind(id_number)
        .fetch_all(&mut *conn)
        .await?;
    let mut text = Vec::new();
    for r in rows {
        let kind: String = r.try_get(0)?;
        let label = crate::rules::ChangeKind::from_code(&kind)
            .map(|k| k.label())
            .unwrap_or("变动");
        let eff: String = r.try_get(1)?;
        text.push(match r.try_get::<Option<String>, _>(2)? {
            Some(z) => format!("{label}（{eff}至{z}）"),
            None => format!("{label}（{eff}生效）"),
        });
    }
    if text.is_empty() {
        text.push("变动更正（已作废的变动）".into());
    }
    Ok(text.join("；"))
}

/// Why notices that cannot be built stop an approval.
fn notices_failed(e: String) -> StoreError {
    StoreError::Usage(format!(
        "the run's notices cannot be written, so it was not approved: {e}"
    ))
}

/// The run's people digested for the notices, streamed person by person.
async fn digest_run(
    tx: &mut sqlx::AnyConnection,
    head: &RunHead,
    units: &UnitIndex,
) -> Result<RunDigest> {
    let mut digest = RunDigest::default();
    for_each_person(&mut *tx, head, units, |p| {
        digest.push(p);
        Ok(())
    })
    .await?;
    Ok(digest)
}

/// The latest run of `year` (a draft being approved is the latest) digested with the units
/// it needs, on a connection of its own: (the run's seq, the digest).
async fn digest_latest(
    conn: &mut sqlx::AnyConnection,
    year: i32,
    offset: bool,
) -> Result<(i64, RunDigest)> {
    let head = load_run_head(&mut *conn, year, None, offset).await?;
    let units = UnitIndex::load(&mut *conn).await?;
    Ok((head.seq, digest_run(&mut *conn, &head, &units).await?))
}

/// What writes a run's notices ([`Store::approve_run_with`]): given a view of a unit's people
/// (or of none, with the uncovered months) and the reasons behind their recoveries by ID
/// number, the notices, or why they cannot be written. Called from several threads at once.
pub trait WriteNotices:
    Fn(&RunView, &HashMap<String, String>) -> std::result::Result<Vec<crate::mail::Notice>, String>
    + Sync
{
}

impl<N> WriteNotices for N where
    N: Fn(
            &RunView,
            &HashMap<String, String>,
        ) -> std::result::Result<Vec<crate::mail::Notice>, String>
        + Sync
{
}

/// Queues each unit's notice (units by name), then the recovery notices (by ID number);
/// returns how many were queued.
async fn queue_unit_notices<N>(
    tx: &mut sqlx::AnyConnection,
    head: &RunHead,
    digest: RunDigest,
    notices: &std::sync::Arc<N>,
) -> Result<usize>
where
    N: WriteNotices + Send + 'static,
{
    let mut queued = 0;
    let mut recoveries: Vec<(String, crate::mail::Notice)> = Vec::new();
    let mut order: Vec<u32> = (0..digest.unit_names.len() as u32).collect();
    order.sort_by(|a, b| digest.unit_names[*a as usize].cmp(&digest.unit_names[*b as usize]));
    // The reasons behind each unit's recoveries are the transaction's look-ups; the letters
    // are then written a few units at a time on every core (a province's unit letter is
    // megabytes of text; one core wrote them one after another, issue 15), the next few while
    // these are queued (each a round trip of megabytes), and queued in order.
    let mut units = Vec::with_capacity(order.len());
    for unit in order {
        let recovering = digest.recovering_of(unit);
        let reasons = recovery_reasons(&mut *tx, &recovering).await?;
        units.push(UnitToWrite {
            unit,
            recovering,
            reasons,
        });
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let letters = Letters {
        run: std::sync::Arc::new((head.clone(), digest)),
        notices: notices.clone(),
        threads,
    };
    let mut blocks = Blocks::of(units, threads * 2);
    let mut next = blocks.next().map(|b| letters.spawn(b));
    while let Some(writing) = next.take() {
        let (block, written) = block_written(writing.await);
        next = blocks.next().map(|b| letters.spawn(b));
        for (list, u) in written?.into_iter().zip(&block) {
            let mut list = list.into_iter();
            // The unit's notice first, then one recovery notice per person recovering.
            if let Some(n) = list.next() {
                if crate::mail::queue(&mut *tx, &n).await? {
                    queued += 1;
                }
            }
            let rest: Vec<crate::mail::Notice> = list.collect();
            if rest.len() == u.recovering.len() {
                recoveries.extend(u.recovering.iter().cloned().zip(rest));
            } else {
                recoveries.extend(rest.into_iter().map(|n| (String::new(), n)));
            }
        }
    }
    recoveries.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, n) in &recoveries {
        if crate::mail::queue(&mut *tx, n).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// The units to write letters for, a block of a few at a time, in order.
struct Blocks(std::vec::IntoIter<UnitToWrite>, usize);

impl Blocks {
    fn of(units: Vec<UnitToWrite>, per_block: usize) -> Blocks {
        Blocks(units.into_iter(), per_block.max(1))
    }
}

impl Iterator for Blocks {
    type Item = Vec<UnitToWrite>;

    fn next(&mut self) -> Option<Vec<UnitToWrite>> {
        let block: Vec<UnitToWrite> = self.0.by_ref().take(self.1).collect();
        (!block.is_empty()).then_some(block)
    }
}

/// Writes a block of units' letters on the blocking pool ([`unit_letters`]), so that the
/// transaction queues the block before meanwhile.
struct Letters<N> {
    run: std::sync::Arc<(RunHead, RunDigest)>,
    notices: std::sync::Arc<N>,
    threads: usize,
}

/// A block of units and its letters, as [`unit_letters`] gives them.
type BlockWritten = (Vec<UnitToWrite>, Result<Vec<Vec<crate::mail::Notice>>>);

impl<N: WriteNotices + Send + 'static> Letters<N> {
    fn spawn(&self, block: Vec<UnitToWrite>) -> tokio::task::JoinHandle<BlockWritten> {
        let (run, notices, threads) = (self.run.clone(), self.notices.clone(), self.threads);
        tokio::task::spawn_blocking(move || {
            let letters = unit_letters(&run.0, &run.1, &block, &*notices, threads);
            (block, letters)
        })
    }
}

/// A block written ([`Letters::spawn`]): a panic while writing is the caller's panic, as if it
/// had written alone.
fn block_written(r: std::result::Result<BlockWritten, tokio::task::JoinError>) -> BlockWritten {
    match r {
        Ok(written) => written,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => (
                Vec::new(),
                Err(StoreError::Native(format!(
                    "the letters could not be written: {e}"
                ))),
            ),
        },
    }
}

/// A unit whose notices are to be written: its people recovering (ID numbers, in order) and
/// the reasons behind their recoveries.
struct UnitToWrite {
    unit: u32,
    recovering: Vec<String>,
    reasons: HashMap<String, String>,
}

/// The notices of a block of units, written on `threads` threads, in the block's order.
fn unit_letters<N>(
    head: &RunHead,
    digest: &RunDigest,
    block: &[UnitToWrite],
    notices: &N,
    threads: usize,
) -> Result<Vec<Vec<crate::mail::Notice>>>
where
    N: WriteNotices,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let write = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(u) = block.get(i) else {
                return done;
            };
            let mut view = head.empty_view();
            view.people = digest.people_of(u.unit);
            done.push((i, notices(&view, &u.reasons)));
        }
    };
    let mut written: Vec<(usize, std::result::Result<Vec<crate::mail::Notice>, String>)> =
        std::thread::scope(|s| {
            let helpers: Vec<_> = (1..threads.min(block.len()))
                .map(|_| s.spawn(write))
                .collect();
            let mut all = write();
            for h in helpers {
                // A panic in a helper is the caller's panic, as if it had written alone.
                all.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            all
        });
    written.sort_by_key(|(i, _)| *i);
    written
        .into_iter()
        .map(|(_, r)| r.map_err(notices_failed))
        .collect()
}

/// The reasons behind the recoveries of a unit's people, by ID number.
async fn recovery_reasons(
    tx: &mut sqlx::AnyConnection,
    recovering: &[String],
) -> Result<HashMap<String, String>> {
    let mut reasons = HashMap::new();
    for id_number in recovering {
        reasons.insert(
            id_number.clone(),
            recovery_reason(&mut *tx, id_number).await?,
        );
    }
    Ok(reasons)
}

/// Queues the notices built with no people and the uncovered months (the bureau's
/// warning); returns how many were queued.
async fn queue_warning<N>(
    tx: &mut sqlx::AnyConnection,
    head: &RunHead,
    notices: &N,
) -> Result<usize>
where
    N: WriteNotices,
{
    let mut queued = 0;
    let mut view = head.empty_view();
    view.uncovered = load_uncovered(&mut *tx, head.run_id).await?;
    for n in notices(&view, &HashMap::new()).map_err(notices_failed)? {
        if crate::mail::queue(&mut *tx, &n).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// What `payrun compute` was asked for.
struct DraftRequest<'a> {
    year: i32,
    supplementary: bool,
    operator: &'a str,
    today: NaiveDate,
    policy: RunPolicy,
}

/// The year's draft run to compute into (id, seq, supplementary): the open draft, or a new
/// one when the rules allow it.
async fn open_draft(
    tx: &mut sqlx::AnyConnection,
    draft: &DraftRequest<'_>,
) -> Result<(i64, i64, bool)> {
    let year = draft.year;
    let runs =
        sqlx::query("SELECT id, seq, status, supplementary FROM runs WHERE year = $1 ORDER BY seq")
            .bind(i64::from(year))
            .fetch_all(&mut *tx)
            .await?;
    let approved_exists = runs
        .iter()
        .any(|r| r.try_get::<String, _>(2).is_ok_and(|s| s == "approved"));
    if let Some(r) = runs.last() {
        if r.try_get::<String, _>(2)? == "draft" {
            return Ok((
                r.try_get::<i64, _>(0)?,
                r.try_get::<i64, _>(1)?,
                r.try_get::<i64, _>(3)? != 0,
            ));
        }
    }
    if approved_exists && !draft.supplementary {
        return Err(StoreError::Usage(format!(
            "the run of {year} is already approved; §10 pays once a year. A supplementary run (补发) must be asked for: payrun compute --year {year} --supplementary"
        )));
    }
    if approved_exists && !draft.policy.allow_supplementary {
        return Err(StoreError::Usage(
            "supplementary runs are disabled by configuration (payment.allow_supplementary = false)".into(),
        ));
    }
    if draft.supplementary && !approved_exists {
        return Err(StoreError::Usage(format!(
            "there is no approved run of {year} to supplement: run payrun compute --year {year} without --supplementary"
        )));
    }
    let seq = runs.len() as i64 + 1;
    let r = sqlx::query("INSERT INTO runs (year, seq, status, supplementary, today, computed_at, computed_by, computed_as_of) VALUES ($1, $2, 'draft', $3, $4, $5, $6, 0) RETURNING id")
        .bind(i64::from(year))
        .bind(seq)
        .bind(i64::from(approved_exists))
        .bind(draft.today.to_string())
        .bind(super::now_text())
        .bind(draft.operator)
        .fetch_one(&mut *tx)
        .await?;
    Ok((r.try_get::<i64, _>(0)?, seq, approved_exists))
}

/// Everything the rules need: appointments by person (voided ones marked), changes by
/// technician, what approved runs paid.
struct RuleInputs {
    /// (technician, appointment), ordered by technician and approval date.
    appointments: Vec<(i64, Appointment)>,
    voided: std::collections::HashSet<i64>,
    /// (technician, account of their latest live appointment), ordered by technician.
    accounts: Vec<(i64, Account)>,
    changes: HashMap<i64, Vec<Change>>,
    paid: HashMap<i64, BTreeMap<Month, Paid>>,
}

/// A bank account and its bank, as an appointment records them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Account {
    number: Option<Box<str>>,
    /// Shared: a province's million accounts are at a few dozen banks.
    bank: Option<std::sync::Arc<str>>,
}

impl RuleInputs {
    /// Reads the inputs in three streamed queries. The changes are read beside the
    /// transaction ([`Store::read_beside`]) while it reads the appointments:
    /// both cores decode rows (a million appointments and 680,000 changes took 3.0 s one
    /// after the other on PostgreSQL). Under the ledger's write lock nobody else writes, and
    /// compute writes neither table, so both connections see the same rows.
    async fn load(store: &Store, tx: &mut sqlx::AnyConnection) -> Result<RuleInputs> {
        let changes = store.read_beside("the changes", |conn| Box::pin(load_changes(conn)));
        let (appointments, voided, accounts) = load_appointments(&mut *tx).await?;
        let changes = changes.join(&mut *tx).await?;
        let paid = load_paid(&mut *tx).await?;
        Ok(RuleInputs {
            appointments,
            voided,
            accounts: accounts.done(),
            changes,
            paid,
        })
    }
}

/// Every appointment by technician and approval date, the voided ones' ids, and each
/// technician's latest live account.
async fn load_appointments(
    conn: &mut sqlx::AnyConnection,
) -> Result<(
    Vec<(i64, Appointment)>,
    std::collections::HashSet<i64>,
    AccountIndex,
)> {
    let mut appointments: Vec<(i64, Appointment)> = Vec::new();
    let mut voided: std::collections::HashSet<i64> = Default::default();
    let mut accounts = AccountIndex::default();
    each_row(&mut *conn, "SELECT id, technician_id, approval_date, approval_no, CAST(CASE WHEN voided_at IS NULL THEN 0 ELSE 1 END AS BIGINT), bank_account, bank_name FROM appointments ORDER BY technician_id, approval_date", &[], |r| {
        if r.int(4)? != 0 {
            voided.insert(r.int(0)?);
        } else {
            accounts.live(r.int(1)?, r.opt_text(5)?, r.opt_text(6)?);
        }
        appointments.push((
            r.int(1)?,
            Appointment {
                id: r.int(0)?,
                approval_date: parse_date(&r.text(2)?)?,
                approval_no: r.text(3)?,
            },
        ));
        Ok::<_, StoreError>(())
    })
    .await?;
    Ok((appointments, voided, accounts))
}

/// Every live change by technician, in recording order.
async fn load_changes(conn: &mut sqlx::AnyConnection) -> Result<HashMap<i64, Vec<Change>>> {
    let mut changes: HashMap<i64, Vec<Change>> = HashMap::new();
    each_row(&mut *conn, "SELECT id, kind, effective, end_date, COALESCE(appointment_ids, CAST(appointment_id AS TEXT), '') AS appointment_ids, technician_id, reported_by FROM changes WHERE voided_at IS NULL ORDER BY id", &[], |r| {
        changes
            .entry(r.int(5)?)
            .or_default()
            .push(change_from_row(r)?);
        Ok::<_, StoreError>(())
    })
    .await?;
    Ok(changes)
}

/// Each technician's latest live appointment's account, from their appointments read in
/// technician and approval-date order (as approval fixes it, [`mark_approved`]).
#[derive(Default)]
struct AccountIndex {
    accounts: Vec<(i64, Account)>,
    banks: std::collections::HashSet<std::sync::Arc<str>>,
}

impl AccountIndex {
    /// A live appointment of `technician`, later than the ones before it.
    fn live(&mut self, technician: i64, number: Option<String>, bank: Option<String>) {
        let bank = bank.map(|b| match self.banks.get(b.as_str()) {
            Some(shared) => shared.clone(),
            None => {
                let shared: std::sync::Arc<str> = b.into();
                self.banks.insert(shared.clone());
                shared
            }
        });
        let account = Account {
            number: number.map(String::into_boxed_str),
            bank,
        };
        match self.accounts.last_mut() {
            Some((t, latest)) if *t == technician => *latest = account,
            _ => self.accounts.push((technician, account)),
        }
    }

    fn done(mut self) -> Vec<(i64, Account)> {
        self.accounts.shrink_to_fit();
        self.accounts
    }
}

/// Empties a draft's lines and uncovered months before it is computed again.
async fn clear_draft(tx: &mut sqlx::AnyConnection, run_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM run_items WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM run_uncovered WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    for table in ["run_reissues", "run_recoveries", "run_offsets"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE run_id = $1"
        )))
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// What computing a run added up.
#[derive(Default)]
struct Tally {
    paid: i64,
    recovered: i64,
    items: usize,
    uncovered_months: usize,
    reissued: usize,
    /// The instalment due now of each person on a recovery plan (technician → fen).
    offsets_due: HashMap<i64, i64>,
    /// (technician, fen > 0) recovered by the run, and offset against a planned recovery.
    recoveries: Vec<(i64, i64)>,
    offsets: Vec<(i64, i64)>,
}

impl Tally {
    /// Nets a person's lines into the totals, offsetting a planned instalment against what
    /// the bank would pay.
    fn settle(&mut self, person: &mut Option<(i64, Vec<Line>)>, offset_recoveries: bool) {
        if let Some((tid, lines)) = person.take() {
            let n = net_person(&lines, offset_recoveries);
            let due = self.offsets_due.get(&tid).copied().unwrap_or(0);
            let offset = crate::rules::recovery::offset(n.bank, due);
            if offset > 0 {
                self.offsets.push((tid, offset));
            }
            if n.recovery < 0 {
                self.recoveries.push((tid, -n.recovery));
            }
            self.paid += n.bank - offset;
            self.recovered += n.recovery;
        }
    }
}

/// Writes what the draft recovers from each person, and what it offsets against planned
/// recoveries.
async fn record_recoveries(tx: &mut sqlx::AnyConnection, run_id: i64, tally: &Tally) -> Result<()> {
    for (table, rows) in [
        (
            "run_recoveries (run_id, technician_id, fen)",
            &tally.recoveries,
        ),
        ("run_offsets (run_id, technician_id, fen)", &tally.offsets),
    ] {
        let args: Vec<Arg> = rows
            .iter()
            .flat_map(|(tid, fen)| [Arg::Int(run_id), Arg::Int(*tid), Arg::Int(*fen)])
            .collect();
        insert_rows(&mut *tx, table, 3, &args).await?;
    }
    Ok(())
}

/// Runs the rules over every appointment and writes the draft's items and uncovered months;
/// returns the tally (its `items`: how many were written).
///
/// The rules run on a thread of their own over the inputs (pure work), handing their rows over
/// a chunk at a time, while this task writes the chunks into the ledger: the two cores share
/// the work, and the rows arrive in the order one thread makes them, so the draft is the same.
async fn compute_items(
    tx: &mut sqlx::AnyConnection,
    run_id: i64,
    year: i32,
    inputs: std::sync::Arc<RuleInputs>,
    cfg: &RulesConfig,
    progress: &ProgressBar,
    tally: Tally,
) -> Result<Tally> {
    let total = inputs.appointments.len() as u64;
    progress.set_length(total);
    let (send, mut chunks) = tokio::sync::mpsc::channel::<ComputedChunk>(4);
    let rules = {
        let (cfg, progress) = (cfg.clone(), progress.clone());
        std::thread::Builder::new()
            .name("rules".into())
            .spawn(move || run_rules(year, &inputs, &cfg, &progress, tally, &send))
            .map_err(|e| StoreError::Usage(format!("cannot start the rules' thread: {e}")))?
    };
    // The lines stream into run_items as the rules make them (one statement); the few
    // uncovered months wait and go in after.
    let mut items = Bulk::start(&mut *tx, RUN_ITEMS, 7).await?;
    let mut uncovered = Vec::new();
    // Returning early (an insert failed) drops `chunks`: the rules' thread stops at its next
    // chunk.
    while let Some(c) = chunks.recv().await {
        if let Err(e) = items.push(&item_args(run_id, &c.items)).await {
            // Best effort: a connection that failed to send may not take the cancel either.
            let _ = items.abort().await;
            return Err(e);
        }
        uncovered.extend(c.uncovered);
    }
    let written = items.finish().await?;
    insert_uncovered(&mut *tx, run_id, &uncovered).await?;
    let mut tally = rules
        .join()
        .map_err(|_| StoreError::Corrupt("the rules' thread panicked".into()))?;
    tally.items = written as usize;
    progress.set_position(total);
    Ok(tally)
}

/// A draft's rows made by the rules' thread, on their way into the ledger.
#[derive(Default)]
struct ComputedChunk {
    items: Vec<ComputedItem>,
    /// (appointment, encoded months).
    uncovered: Vec<(i64, String)>,
}

/// A run line as compute writes it.
struct ComputedItem {
    appointment_id: i64,
    technician_id: i64,
    net: i64,
    /// Encoded lines.
    lines: String,
    /// The account the line is paid to (its person's latest live appointment's).
    account: Account,
}

/// The rules over every appointment (the rules' thread): sends the rows a chunk of
/// [`CHUNK`] at a time and returns the tally. Stops early when the writer has gone.
fn run_rules(
    year: i32,
    inputs: &RuleInputs,
    cfg: &RulesConfig,
    progress: &ProgressBar,
    mut tally: Tally,
    send: &tokio::sync::mpsc::Sender<ComputedChunk>,
) -> Tally {
    let empty_paid = BTreeMap::new();
    let mut out = ComputedChunk::default();
    let mut accounts = inputs.accounts.iter().peekable();
    // Appointments come ordered by person: a person's lines are netted when the next
    // person starts, so only one person's lines are held at a time.
    let mut person: Option<(i64, Vec<Line>)> = None;
    for (i, (tid, a)) in inputs.appointments.iter().enumerate() {
        let result = compute_appointment(
            year,
            &AppointmentInput {
                appointment: a,
                changes: inputs.changes.get(tid).map(Vec::as_slice).unwrap_or(&[]),
                paid: inputs.paid.get(&a.id).unwrap_or(&empty_paid),
                void: inputs.voided.contains(&a.id),
            },
            cfg,
        );
        if person.as_ref().is_some_and(|(p, _)| p != tid) {
            tally.settle(&mut person, cfg.offset_recoveries);
        }
        if !result.lines.is_empty() {
            // Both in technician order: the person's account is at the cursor or after it.
            while accounts.next_if(|(t, _)| t < tid).is_some() {}
            let account = match accounts.peek() {
                Some((t, account)) if t == tid => account.clone(),
                _ => Account::default(),
            };
            out.items.push(ComputedItem {
                appointment_id: a.id,
                technician_id: *tid,
                net: result.net(),
                lines: encode_lines(&result.lines),
                account,
            });
            person
                .get_or_insert_with(|| (*tid, Vec::new()))
                .1
                .extend(result.lines);
        }
        if !result.uncovered.is_empty() {
            tally.uncovered_months += result.uncovered.len();
            out.uncovered.push((a.id, encode_months(&result.uncovered)));
        }
        if (out.items.len() == CHUNK || out.uncovered.len() == CHUNK)
            && send.blocking_send(std::mem::take(&mut out)).is_err()
        {
            return tally;
        }
        if i % 4096 == 0 {
            progress.set_position(i as u64);
        }
    }
    tally.settle(&mut person, cfg.offset_recoveries);
    let _ = send.blocking_send(out);
    tally
}

/// Stamps the computed draft (when, by whom, as of which ledger state, with which settings)
/// and audits it.
async fn record_computed(
    tx: &mut sqlx::AnyConnection,
    draft: &DraftRequest<'_>,
    run_id: i64,
    seq: i64,
    cfg: &RulesConfig,
    item_count: usize,
) -> Result<()> {
    let as_of = money_seq(&mut *tx).await?;
    sqlx::query("UPDATE runs SET today = $1, computed_at = $2, computed_by = $3, computed_as_of = $4, settings = $5, settings_hash = $6 WHERE id = $7")
        .bind(draft.today.to_string())
        .bind(super::now_text())
        .bind(draft.operator)
        .bind(as_of)
        .bind(cfg.settings_json())
        .bind(cfg.fingerprint())
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    audit(
        tx,
        draft.operator,
        "payrun-compute",
        &format!("run {}/{seq}: {item_count} items", draft.year),
        false,
    )
    .await?;
    Ok(())
}

/// What the notices need of each person of a run, compactly: ID number, name and lines in one
/// arena, the unit as an index, the net; and each unit's people (a province has thousands of
/// units: finding a unit's people must not walk the whole run once per unit).
#[derive(Default)]
struct RunDigest {
    /// The people's text in chunks of [`ARENA_CHUNK`] bytes: one string holding a province's
    /// would copy itself whole each time it grew (old and new side by side at the peak).
    arena: Vec<Vec<u8>>,
    people: Vec<PersonDigest>,
    unit_names: Vec<String>,
    unit_index: HashMap<String, u32>,
    /// By unit index: its people's indexes in `people`, in ID-number order.
    unit_people: Vec<Vec<u32>>,
}

/// How many bytes of people's text a chunk of [`RunDigest`]'s arena holds.
const ARENA_CHUNK: usize = 1 << 20;

struct PersonDigest {
    technician_id: i64,
    /// Where the person's text is: the arena's chunk, the offset in it.
    chunk: u32,
    at: u32,
    id_len: u16,
    name_len: u16,
    /// The person's lines ([`pack_lines`]: a year at one amount is 14 bytes), after the name:
    /// each unit's letter breaks every person's amount down by month and kind.
    lines_len: u32,
    net: Net,
}

impl RunDigest {
    fn push(&mut self, p: RunPerson) {
        let unit_name = p.items.last().map(|i| i.unit.clone()).unwrap_or_default();
        let unit = match self.unit_index.get(&unit_name) {
            Some(u) => *u,
            None => {
                let u = self.unit_names.len() as u32;
                self.unit_names.push(unit_name.clone());
                self.unit_index.insert(unit_name, u);
                self.unit_people.push(Vec::new());
                u
            }
        };
        self.unit_people[unit as usize].push(self.people.len() as u32);
        let mut lines = Vec::new();
        pack_lines(&p.lines(), &mut lines);
        let size = p.id_number.len() + p.name.len() + lines.len();
        match self.arena.last() {
            Some(chunk) if chunk.capacity() - chunk.len() >= size => {}
            _ => self.arena.push(Vec::with_capacity(ARENA_CHUNK.max(size))),
        }
        let chunk = self.arena.len() - 1;
        let text = &mut self.arena[chunk];
        let at = text.len();
        text.extend_from_slice(p.id_number.as_bytes());
        text.extend_from_slice(p.name.as_bytes());
        text.extend_from_slice(&lines);
        self.people.push(PersonDigest {
            technician_id: p.technician_id,
            chunk: chunk as u32,
            at: at as u32,
            id_len: p.id_number.len() as u16,
            name_len: p.name.len() as u16,
            lines_len: lines.len() as u32,
            net: p.net,
        });
    }

    /// A unit's people, in ID-number order.
    fn unit(&self, unit: u32) -> impl Iterator<Item = &PersonDigest> {
        self.unit_people[unit as usize]
            .iter()
            .map(|i| &self.people[*i as usize])
    }

    /// A person's ID number, name and packed lines, as kept in the arena.
    fn texts(&self, p: &PersonDigest) -> (&[u8], &[u8], &[u8]) {
        let text = &self.arena[p.chunk as usize];
        let at = p.at as usize;
        let id_end = at + usize::from(p.id_len);
        let name_end = id_end + usize::from(p.name_len);
        (
            &text[at..id_end],
            &text[id_end..name_end],
            &text[name_end..name_end + p.lines_len as usize],
        )
    }

    /// The ID numbers of a unit's people recovering, in ID-number order.
    fn recovering_of(&self, unit: u32) -> Vec<String> {
        self.unit(unit)
            .filter(|p| p.net.recovery < 0)
            .map(|p| String::from_utf8_lossy(self.texts(p).0).into_owned())
            .collect()
    }

    /// The people of a unit, in ID-number order, each with one item naming the unit and
    /// holding the person's lines.
    fn people_of(&self, unit: u32) -> Vec<RunPerson> {
        let name = &self.unit_names[unit as usize];
        self.unit(unit)
            .map(|p| {
                let (id_number, person, packed) = self.texts(p);
                let string = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
                RunPerson {
                    technician_id: p.technician_id,
                    id_number: string(id_number),
                    name: string(person),
                    net: p.net,
                    items: vec![RunItem {
                        appointment_id: 0,
                        approval_no: String::new(),
                        approval_date: None,
                        unit: name.clone(),
                        lines: unpack_lines(packed).unwrap_or_default(),
                        bank_account: String::new(),
                        bank_name: String::new(),
                    }],
                    reissues: Vec::new(),
                    offset_fen: 0,
                }
            })
            .collect()
    }
}

/// A run's header: everything of a [`RunView`] but its people and uncovered months.
#[derive(Clone)]
pub(super) struct RunHead {
    pub(super) run_id: i64,
    pub(super) year: i32,
    pub(super) seq: i64,
    pub(super) status: String,
    supplementary: bool,
    today: String,
    pub(super) run_date: NaiveDate,
    computed_by: String,
    computed_at: String,
    approved_by: Option<String>,
    approved_at: Option<String>,
    offset: bool,
    settings: Option<String>,
}

impl RunHead {
    fn empty_view(&self) -> RunView {
        RunView {
            year: self.year,
            seq: self.seq,
            status: self.status.clone(),
            supplementary: self.supplementary,
            today: self.today.clone(),
            computed_by: self.computed_by.clone(),
            computed_at: self.computed_at.clone(),
            approved_by: self.approved_by.clone(),
            approved_at: self.approved_at.clone(),
            people: Vec::new(),
            uncovered: Vec::new(),
            offset_recoveries: self.offset,
            settings: self.settings.clone(),
        }
    }
}

pub(super) async fn load_run_head(
    conn: &mut sqlx::AnyConnection,
    year: i32,
    seq: Option<i64>,
    offset: bool,
) -> Result<RunHead> {
    let run = match seq {
            Some(s) => sqlx::query("SELECT id, seq, status, supplementary, today, computed_by, computed_at, approved_by, approved_at, settings FROM runs WHERE year = $1 AND seq = $2")
                .bind(i64::from(year))
                .bind(s)
                .fetch_optional(&mut *conn)
                .await?,
            None => sqlx::query("SELECT id, seq, status, supplementary, today, computed_by, computed_at, approved_by, approved_at, settings FROM runs WHERE year = $1 ORDER BY seq DESC LIMIT 1")
                .bind(i64::from(year))
                .fetch_optional(&mut *conn)
                .await?,
        };
    let Some(run) = run else {
        return Err(StoreError::Usage(match seq {
            Some(s) => format!("there is no run {s} of {year}"),
            None => format!("there is no run of {year}: payrun compute --year {year}"),
        }));
    };
    // Show and export use the settings the run was computed with.
    let settings: Option<String> = run.try_get(9)?;
    let offset = settings
        .as_deref()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .and_then(|v| v.get("offset_recoveries").and_then(|o| o.as_bool()))
        .unwrap_or(offset);
    let today: String = run.try_get(4)?;
    Ok(RunHead {
        run_id: run.try_get(0)?,
        year,
        seq: run.try_get(1)?,
        status: run.try_get(2)?,
        supplementary: run.try_get::<i64, _>(3)? != 0,
        run_date: parse_date(&today)?,
        today,
        computed_by: run.try_get(5)?,
        computed_at: run.try_get(6)?,
        approved_by: run.try_get(7)?,
        approved_at: run.try_get(8)?,
        offset,
        settings,
    })
}

/// Every person's unit history, compactly (unit names interned, no approval numbers), for
/// [`crate::rules::unit::unit_on`] on the run's date: a million appointments take tens of MB.
pub(super) struct UnitIndex {
    names: Vec<String>,
    /// (technician, approval date, appointment, unit) by technician, approval date, id.
    appointments: Vec<(i64, NaiveDate, i64, Option<u32>)>,
    /// (technician, change id, effective, new unit) by technician, id.
    moves: Vec<(i64, i64, NaiveDate, u32)>,
    /// Where each technician's appointments and moves start, by technician id (when the ids
    /// are dense enough): a look-up is two reads instead of four binary searches over a
    /// million rows (at province scale `unit_on` was a tenth of approval's time).
    starts: Option<(TechStarts, TechStarts)>,
}

/// Offsets of a table sorted by technician id: technician `t`'s rows are `s[t]..s[t + 1]`.
struct TechStarts(Vec<u32>);

impl TechStarts {
    /// The offsets of `keys` (technician ids in ascending order), or None when the ids are
    /// too sparse or too large for a table of offsets.
    fn of(keys: impl Iterator<Item = i64>, max_id: i64, rows: usize) -> Option<TechStarts> {
        let limit = 4 * rows as i64 + 1_000_000;
        if max_id < 0 || max_id > limit || rows >= u32::MAX as usize {
            return None;
        }
        let mut s = vec![0u32; max_id as usize + 2];
        for k in keys {
            let k = usize::try_from(k).ok().filter(|k| *k <= max_id as usize)?;
            s[k + 1] += 1;
        }
        for i in 1..s.len() {
            s[i] += s[i - 1];
        }
        Some(TechStarts(s))
    }

    /// Technician `t`'s rows.
    fn range(&self, t: i64) -> std::ops::Range<usize> {
        match usize::try_from(t) {
            Ok(t) if t + 1 < self.0.len() => self.0[t] as usize..self.0[t + 1] as usize,
            _ => 0..0,
        }
    }
}

/// Every person's units and moves, being read beside the caller ([`Store::units_beside`]).
pub struct RunUnits(UnitsLoading);

/// A [`UnitIndex`] being read on a connection of its own ([`UnitIndex::spawn_load`]).
pub(super) type UnitsLoading = super::Beside<UnitIndex, LoadUnits>;

/// [`UnitIndex::load`] as [`Store::read_beside`] takes it.
pub(super) type LoadUnits = for<'c> fn(
    &'c mut sqlx::AnyConnection,
) -> futures_util::future::BoxFuture<'c, Result<UnitIndex>>;

impl UnitIndex {
    /// Starts reading the index beside whatever the caller does next ([`Store::read_beside`]);
    /// its [`super::Beside::join`] gives it.
    pub(super) fn spawn_load(store: &Store) -> UnitsLoading {
        store.read_beside("the units", |conn| Box::pin(UnitIndex::load(conn)))
    }

    pub(super) async fn load(conn: &mut sqlx::AnyConnection) -> Result<UnitIndex> {
        let mut names: Vec<String> = Vec::new();
        let mut by_id: HashMap<i64, u32> = HashMap::new();
        for r in sqlx::query("SELECT id, name FROM units")
            .fetch_all(&mut *conn)
            .await?
        {
            by_id.insert(r.try_get(0)?, names.len() as u32);
            names.push(r.try_get(1)?);
        }
        let appointments = unit_appointments(&mut *conn, &by_id).await?;
        let mut index: HashMap<String, u32> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        let mut moves = Vec::new();
        let kind = crate::rules::ChangeKind::UnitChange.code();
        // In the table's own order (through the technician index, each row would be a look-up
        // at random), then sorted by technician and id here.
        each_row(&mut *conn, "SELECT technician_id, id, effective, new_unit FROM changes WHERE kind = $1 AND voided_at IS NULL AND new_unit IS NOT NULL", &[Arg::Text(kind)], |r| {
            let new_unit = r.text(3)?;
            let new_unit = new_unit.trim();
            if new_unit.is_empty() {
                return Ok(());
            }
            let u = match index.get(new_unit) {
                Some(u) => *u,
                None => {
                    let u = names.len() as u32;
                    names.push(new_unit.to_string());
                    index.insert(new_unit.to_string(), u);
                    u
                }
            };
            moves.push((r.int(0)?, r.int(1)?, parse_date(&r.text(2)?)?, u));
            Ok::<_, StoreError>(())
        })
        .await?;
        moves.sort_unstable_by_key(|m| (m.0, m.1));
        let max_id = appointments
            .last()
            .map(|a| a.0)
            .max(moves.last().map(|m| m.0))
            .unwrap_or(0);
        let starts =
            TechStarts::of(appointments.iter().map(|a| a.0), max_id, appointments.len()).zip(
                TechStarts::of(moves.iter().map(|m| m.0), max_id, appointments.len()),
            );
        Ok(UnitIndex {
            names,
            appointments,
            moves,
            starts,
        })
    }

    /// The technician's unit on `date` (empty when the ledger names none), as
    /// [`super::units::UnitHistory::unit_on`] gives it.
    pub(super) fn unit_on(&self, technician: i64, date: NaiveDate) -> String {
        let (appointments, moves) = match &self.starts {
            Some((a, m)) => (a.range(technician), m.range(technician)),
            None => (
                self.appointments.partition_point(|a| a.0 < technician)
                    ..self.appointments.partition_point(|a| a.0 <= technician),
                self.moves.partition_point(|m| m.0 < technician)
                    ..self.moves.partition_point(|m| m.0 <= technician),
            ),
        };
        let approvals = self.appointments[appointments]
            .iter()
            .filter_map(|(_, day, id, u)| u.map(|u| (*day, *id, u)));
        let moves = self.moves[moves]
            .iter()
            .map(|(_, id, day, u)| (*day, *id, *u));
        crate::rules::unit::latest_unit(date, approvals, moves)
            .map(|u| self.names[u as usize].clone())
            .unwrap_or_default()
    }
}

/// Every live appointment's technician, approval date, id and unit (as an index into the
/// units' names), by technician, approval date and id.
async fn unit_appointments(
    conn: &mut sqlx::AnyConnection,
    by_id: &HashMap<i64, u32>,
) -> Result<Vec<(i64, NaiveDate, i64, Option<u32>)>> {
    let mut appointments = Vec::new();
    // In the table's own order, sorted here: PostgreSQL sorted a million rows (on disk, past
    // `work_mem`) or walked an index to them at random, both slower than a sort of the
    // decoded tuples.
    each_row(&mut *conn, "SELECT technician_id, approval_date, id, unit_id FROM appointments WHERE voided_at IS NULL", &[], |r| {
        let unit = r.opt_int(3)?;
        appointments.push((
            r.int(0)?,
            parse_date(&r.text(1)?)?,
            r.int(2)?,
            unit.and_then(|u| by_id.get(&u).copied()),
        ));
        Ok::<_, StoreError>(())
    })
    .await?;
    appointments.sort_unstable_by_key(|a| (a.0, a.1, a.2));
    Ok(appointments)
}

/// The run's lines with what [`item_from_row`] reads, in ID-number order (then approval
/// date).
const RUN_LINES_SQL: &str = "SELECT t.id_number, t.name, i.appointment_id, a.approval_no, a.approval_date, COALESCE(u.name, ''), i.lines, i.bank_account, i.bank_name, a.bank_account, a.bank_name, i.technician_id FROM run_items i JOIN technicians t ON t.id = i.technician_id JOIN appointments a ON a.id = i.appointment_id LEFT JOIN units u ON u.id = a.unit_id WHERE i.run_id = $1 ORDER BY t.id_number, a.approval_date, i.appointment_id";

/// Streams a run's lines in ID-number order (then approval date) and hands over each person
/// whole (items, accounts, unit on the run's date, net): one person in memory at a time. On
/// SQLite the lines are read through SQLite's own API (`store::native`).
pub(super) async fn for_each_person(
    conn: &mut sqlx::AnyConnection,
    head: &RunHead,
    units: &UnitIndex,
    f: impl FnMut(RunPerson) -> Result<()>,
) -> Result<()> {
    let mut fold = person_fold(&mut *conn, head, units, f).await?;
    each_row(&mut *conn, RUN_LINES_SQL, &[Arg::Int(head.run_id)], |r| {
        fold.row(r)
    })
    .await?;
    fold.end()
}

/// [`for_each_person`] over lines read ahead ([`Store::run_lines_ahead`]).
async fn for_each_person_ahead(
    conn: &mut sqlx::AnyConnection,
    head: &RunHead,
    units: &UnitIndex,
    mut ahead: Ahead,
    f: impl FnMut(RunPerson) -> Result<()>,
) -> Result<()> {
    let mut fold = person_fold(&mut *conn, head, units, f).await?;
    while let Some(rows) = ahead.rows.recv().await {
        for r in &rows {
            fold.row(r)?;
        }
    }
    // The rows ended: all of them, or the read's error.
    let read = ahead.task.join("the run's lines").await?;
    if read != head.run_id {
        return Err(StoreError::Corrupt(format!(
            "the lines read ahead are run {read}'s, not run {}'s",
            head.run_id
        )));
    }
    fold.end()
}

/// A [`PersonFold`] for `head`'s run, with its re-issues and offsets read.
async fn person_fold<'a, F>(
    conn: &mut sqlx::AnyConnection,
    head: &'a RunHead,
    units: &'a UnitIndex,
    f: F,
) -> Result<PersonFold<'a, F>> {
    // Re-issues are few (failed payments): held whole and merged into the stream by ID number.
    let reissued = super::payments::load_reissues(
        &mut *conn,
        head.run_id,
        head.run_date,
        head.status == "draft",
        units,
    )
    .await?;
    let offsets = load_offsets(&mut *conn, head.run_id).await?;
    Ok(PersonFold {
        head,
        units,
        offsets,
        reissued: reissued.into_iter().peekable(),
        current: None,
        f,
    })
}

/// How many lines read ahead go over at a time, and how many such batches wait at most.
const AHEAD_BATCH: usize = 256;
const AHEAD_BATCHES: usize = 8;

/// A run's lines being read on a connection of their own ([`Store::run_lines_ahead`]).
pub struct LinesAhead(Option<Ahead>);

struct Ahead {
    rows: tokio::sync::mpsc::Receiver<Vec<sqlx::postgres::PgRow>>,
    /// Gives the id of the run read; a pass that stopped (an error of its own) stops it.
    task: super::Reading<i64>,
}

/// Reads the lines ([`RUN_LINES_SQL`]) of run `seq` of `year` into `out`, a batch at a time,
/// and gives the run's id; a receiver gone (the pass stopped) ends it. In a read transaction
/// without parallel workers: the caller writes workbooks as the people come, on this machine's
/// cores, and the server's workers would take CPU from it for no gain (the lines sorted in one
/// process cost 4.8 CPU-seconds at a million people, in three 6.5; issue 15).
async fn read_lines_ahead(
    store: Store,
    (year, seq): (i32, i64),
    out: tokio::sync::mpsc::Sender<Vec<sqlx::postgres::PgRow>>,
) -> Result<i64> {
    use futures_util::TryStreamExt;
    let mut conn = store.pool.acquire().await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query("SET LOCAL max_parallel_workers_per_gather = 0")
        .execute(&mut *tx)
        .await?;
    let run_id = load_run_head(&mut tx, year, Some(seq), false).await?.run_id;
    {
        let backend: &mut dyn std::any::Any = tx.backend_mut();
        let Some(pg) = backend.downcast_mut::<sqlx::PgConnection>() else {
            return Err(StoreError::Native(
                "lines are read ahead on PostgreSQL only".into(),
            ));
        };
        let mut rows = sqlx::query(RUN_LINES_SQL).bind(run_id).fetch(pg);
        let mut batch = Vec::with_capacity(AHEAD_BATCH);
        while let Some(r) = rows.try_next().await? {
            batch.push(r);
            if batch.len() == AHEAD_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(AHEAD_BATCH));
                if out.send(full).await.is_err() {
                    return Ok(run_id);
                }
            }
        }
        if !batch.is_empty() && out.send(batch).await.is_err() {
            return Ok(run_id);
        }
    }
    tx.commit().await?;
    Ok(run_id)
}

/// Folds a run's lines, in ID-number order, into whole people handed to `f`, with the people
/// paid only a re-issue merged in by ID number.
struct PersonFold<'a, F> {
    head: &'a RunHead,
    units: &'a UnitIndex,
    offsets: HashMap<i64, i64>,
    reissued: std::iter::Peekable<std::vec::IntoIter<RunPerson>>,
    current: Option<RunPerson>,
    f: F,
}

impl<F: FnMut(RunPerson) -> Result<()>> PersonFold<'_, F> {
    /// One line of [`RUN_LINES_SQL`].
    fn row(&mut self, r: &dyn Cols) -> Result<()> {
        let id_number = r.text(0)?;
        let item = item_from_row(r, self.head, self.units)?;
        if let Some(p) = self.current.as_mut().filter(|p| p.id_number == id_number) {
            p.items.push(item);
            return Ok(());
        }
        if let Some(p) = self.current.take() {
            (self.f)(finish_person(p, self.head, &self.offsets))?;
        }
        // People paid only a re-issue, whose ID numbers come first.
        while let Some(p) = self.reissued.next_if(|p| p.id_number < id_number) {
            (self.f)(finish_person(p, self.head, &self.offsets))?;
        }
        let reissues = self
            .reissued
            .next_if(|p| p.id_number == id_number)
            .map(|p| p.reissues)
            .unwrap_or_default();
        self.current = Some(RunPerson {
            technician_id: r.int(11)?,
            id_number,
            name: r.text(1)?,
            net: Net::default(),
            items: vec![item],
            reissues,
            offset_fen: 0,
        });
        Ok(())
    }

    /// The last person, then the people paid only a re-issue after every line.
    fn end(mut self) -> Result<()> {
        if let Some(p) = self.current.take() {
            (self.f)(finish_person(p, self.head, &self.offsets))?;
        }
        for p in self.reissued {
            (self.f)(finish_person(p, self.head, &self.offsets))?;
        }
        Ok(())
    }
}

/// A run line as the person's item: accounts (a draft's from the appointment, an approved
/// run's as fixed at approval) and the unit on the run's date.
fn item_from_row(r: &dyn Cols, head: &RunHead, units: &UnitIndex) -> Result<RunItem> {
    let draft = head.status == "draft";
    let lines = stored_lines(&r.text(6)?)?;
    let (account, bank) = if draft {
        (r.opt_text(9)?, r.opt_text(10)?)
    } else {
        (r.opt_text(7)?, r.opt_text(8)?)
    };
    let approval = parse_date(&r.text(4)?)?;
    let unit = units.unit_on(r.int(11)?, head.run_date);
    Ok(RunItem {
        appointment_id: r.int(2)?,
        approval_no: r.text(3)?,
        approval_date: Some(approval),
        unit: if unit.is_empty() { r.text(5)? } else { unit },
        lines,
        bank_account: account.unwrap_or_default(),
        bank_name: bank.unwrap_or_default(),
    })
}

/// A person complete: in a draft, the account shown is the person's latest appointment's;
/// the net follows the run's offset setting.
fn finish_person(mut p: RunPerson, head: &RunHead, offsets: &HashMap<i64, i64>) -> RunPerson {
    if head.status == "draft" {
        let (acc, bank) = p
            .items
            .last()
            .map(|i| (i.bank_account.clone(), i.bank_name.clone()))
            .unwrap_or_default();
        for i in &mut p.items {
            i.bank_account = acc.clone();
            i.bank_name = bank.clone();
        }
    }
    // The net is a sum: the lines need no copy in month order (`RunPerson::lines`).
    p.net = net_person(p.items.iter().flat_map(|i| &i.lines), head.offset);
    let reissued: i64 = p.reissues.iter().map(|r| r.fen).sum();
    p.offset_fen = offsets.get(&p.technician_id).copied().unwrap_or(0);
    p.net.net += reissued - p.offset_fen;
    p.net.bank += reissued - p.offset_fen;
    p
}

/// What run `run_id` offsets against each person's planned recovery (technician → fen).
async fn load_offsets(conn: &mut sqlx::AnyConnection, run_id: i64) -> Result<HashMap<i64, i64>> {
    let mut out = HashMap::new();
    for r in sqlx::query("SELECT technician_id, fen FROM run_offsets WHERE run_id = $1")
        .bind(run_id)
        .fetch_all(&mut *conn)
        .await?
    {
        out.insert(r.try_get(0)?, r.try_get(1)?);
    }
    Ok(out)
}

async fn load_uncovered(
    conn: &mut sqlx::AnyConnection,
    run_id: i64,
) -> Result<Vec<(String, String, Month)>> {
    let mut uncovered = Vec::new();
    for r in sqlx::query("SELECT t.id_number, t.name, u.months FROM run_uncovered u JOIN appointments a ON a.id = u.appointment_id JOIN technicians t ON t.id = a.technician_id WHERE u.run_id = $1 ORDER BY t.id_number")
            .bind(run_id)
            .fetch_all(&mut *conn)
            .await?
        {
            let text: String = r.try_get(2)?;
            for m in decode_months(&text)
                .ok_or_else(|| StoreError::Corrupt(format!("months `{text}`")))?
            {
                uncovered.push((r.try_get(0)?, r.try_get(1)?, m));
            }
        }
    Ok(uncovered)
}

/// Loads a run view on a connection (or inside a transaction).
pub(crate) async fn load_run_view(
    conn: &mut sqlx::AnyConnection,
    year: i32,
    seq: Option<i64>,
    offset: bool,
) -> Result<RunView> {
    let head = load_run_head(&mut *conn, year, seq, offset).await?;
    // The unit of each person on the run's date (moves included): the run's notices and the
    // summary's totals by unit follow it, not the roster row.
    let units = UnitIndex::load(&mut *conn).await?;
    let mut view = head.empty_view();
    for_each_person(&mut *conn, &head, &units, |p| {
        view.people.push(p);
        Ok(())
    })
    .await?;
    view.uncovered = load_uncovered(&mut *conn, head.run_id).await?;
    Ok(view)
}

/// The tables compute writes a run's rows into (their foreign keys checked before it commits,
/// [`RowChecks`]).
const RUN_TABLES: [&str; 5] = [
    "run_items",
    "run_uncovered",
    "run_recoveries",
    "run_offsets",
    "run_reissues",
];

/// Fixes each line's account at approval: the person's latest live appointment's, where the
/// line holds another (or the person has no live appointment left). The latest appointment is
/// looked up once a line, both columns compared against it (PostgreSQL at 1 M: 1.4 s, against
/// 2.7 s with a look-up per column).
const FIX_ACCOUNTS_SQL: &str = "UPDATE run_items SET (bank_account, bank_name) = (SELECT a.bank_account, a.bank_name FROM appointments a WHERE a.technician_id = run_items.technician_id AND a.voided_at IS NULL ORDER BY a.approval_date DESC LIMIT 1) WHERE run_id = $1 AND NOT EXISTS (SELECT 1 FROM (SELECT a.bank_account, a.bank_name FROM appointments a WHERE a.technician_id = run_items.technician_id AND a.voided_at IS NULL ORDER BY a.approval_date DESC LIMIT 1) l WHERE l.bank_account IS NOT DISTINCT FROM run_items.bank_account AND l.bank_name IS NOT DISTINCT FROM run_items.bank_name)";

/// Rows per chunk a run's lines and uncovered months are made and inserted in (compute).
const CHUNK: usize = 400;

/// The run_items columns compute writes, in the order of [`item_args`].
const RUN_ITEMS: &str =
    "run_items (run_id, appointment_id, technician_id, net_fen, lines, bank_account, bank_name)";

/// A chunk of run lines as the values of [`RUN_ITEMS`].
fn item_args(run_id: i64, items: &[ComputedItem]) -> Vec<Arg<'_>> {
    items
        .iter()
        .flat_map(|i| {
            [
                Arg::Int(run_id),
                Arg::Int(i.appointment_id),
                Arg::Int(i.technician_id),
                Arg::Int(i.net),
                Arg::Text(&i.lines),
                Arg::OptText(i.account.number.as_deref()),
                Arg::OptText(i.account.bank.as_deref()),
            ]
        })
        .collect()
}

async fn insert_uncovered(
    tx: &mut sqlx::AnyConnection,
    run_id: i64,
    rows: &[(i64, String)],
) -> Result<()> {
    let args: Vec<Arg> = rows
        .iter()
        .flat_map(|(aid, months)| [Arg::Int(run_id), Arg::Int(*aid), Arg::Text(months)])
        .collect();
    insert_rows(
        tx,
        "run_uncovered (run_id, appointment_id, months)",
        3,
        &args,
    )
    .await
}

/// Approval inside a write transaction (see [`Store::approve_run`]).
async fn approve_in(
    tx: &mut sqlx::AnyConnection,
    year: i32,
    operator: &str,
    policy: RunPolicy,
    current: Option<&RulesConfig>,
) -> Result<i64> {
    let Some(r) = sqlx::query("SELECT id, seq, computed_by, computed_as_of, settings, settings_hash FROM runs WHERE year = $1 AND status = 'draft'")
        .bind(i64::from(year))
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Err(StoreError::Usage(format!(
            "there is no draft run of {year} to approve: run payrun compute --year {year} first"
        )));
    };
    let run_id: i64 = r.try_get(0)?;
    let seq: i64 = r.try_get(1)?;
    let computed_by: String = r.try_get(2)?;
    check_draft_fresh(&mut *tx, year, &r, current).await?;
    check_draft_has_lines(&mut *tx, year, run_id).await?;
    if computed_by == operator && !policy.allow_single_operator {
        return Err(StoreError::Refused(format!(
            "four-eyes rule: `{operator}` computed this draft and may not also approve it. Another operator approves it (--operator NAME), or set payment.allow_single_operator = true"
        )));
    }
    mark_approved(tx, year, run_id, seq, operator).await?;
    Ok(seq)
}

/// Refuses a draft computed before the ledger's last money change, or (when the current
/// settings are given) with other settings.
async fn check_draft_fresh(
    tx: &mut sqlx::AnyConnection,
    year: i32,
    r: &sqlx::any::AnyRow,
    current: Option<&RulesConfig>,
) -> Result<()> {
    let as_of: i64 = r.try_get(3)?;
    if money_seq(&mut *tx).await? != as_of {
        return Err(StoreError::Refused(format!(
            "the draft run of {year} is stale: imports, changes, voids or approvals were recorded after it was computed. Recompute it first: payrun compute --year {year}"
        )));
    }
    if let (Some(cfg), Some(stored_hash)) = (current, r.try_get::<Option<String>, _>(5)?) {
        if stored_hash != cfg.fingerprint() {
            let stored: String = r.try_get::<Option<String>, _>(4)?.unwrap_or_default();
            let changed = crate::rules::policy::changed_settings(&stored, &cfg.settings_json());
            return Err(StoreError::Refused(format!(
                "the draft run of {year} is stale: it was computed with other settings than the configuration has now ({}). Recompute it first: payrun compute --year {year}",
                changed.join(", ")
            )));
        }
    }
    Ok(())
}

/// Refuses an empty draft (it would make the real run of the year a supplementary one).
async fn check_draft_has_lines(tx: &mut sqlx::AnyConnection, year: i32, run_id: i64) -> Result<()> {
    // Whether there is a line at all (counting a province's million took 0.4 s).
    let lines: i64 =
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 FROM run_items WHERE run_id = $1 LIMIT 1) s")
            .bind(run_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
    let uncovered: i64 =
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM run_uncovered WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
    let reissues: i64 =
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM run_reissues WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
    if lines == 0 && reissues == 0 {
        return Err(StoreError::Refused(format!(
            "the draft run of {year} has no lines: nothing is due or to be recovered{}. An empty run is not approved (it would make the real run of {year} a supplementary one); import the roster and changes, then payrun compute --year {year}",
            if uncovered > 0 { format!(" ({uncovered} appointments have months no policy covers)") } else { String::new() }
        )));
    }
    Ok(())
}

/// Fixes each line's bank account as it is now, marks the run approved and audits it.
async fn mark_approved(
    tx: &mut sqlx::AnyConnection,
    year: i32,
    run_id: i64,
    seq: i64,
    operator: &str,
) -> Result<()> {
    // Compute wrote each line's account already, and a draft computed before any appointment
    // changed is refused as stale; so this rewrites no line unless an account changed some
    // other way (on PostgreSQL, rewriting a million lines took longer than the rest of
    // approval).
    sqlx::query(FIX_ACCOUNTS_SQL)
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE run_reissues SET (bank_account, bank_name) = (SELECT a.bank_account, a.bank_name FROM appointments a WHERE a.technician_id = run_reissues.technician_id AND a.voided_at IS NULL ORDER BY a.approval_date DESC LIMIT 1) WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE runs SET status = 'approved', approved_at = $1, approved_by = $2 WHERE id = $3",
    )
    .bind(super::now_text())
    .bind(operator)
    .bind(run_id)
    .execute(&mut *tx)
    .await?;
    audit(
        tx,
        operator,
        "payrun-approve",
        &format!("run {year}/{seq} approved"),
        true,
    )
    .await?;
    Ok(())
}

/// The id of the last audit entry that can change what a run computes.
async fn money_seq(conn: &mut sqlx::AnyConnection) -> Result<i64> {
    let r = sqlx::query("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM audit WHERE money = 1")
        .fetch_one(conn)
        .await?;
    Ok(r.try_get::<i64, _>(0)?)
}

/// What approved runs paid, by appointment and month.
pub(crate) async fn load_paid(
    conn: &mut sqlx::AnyConnection,
) -> Result<HashMap<i64, BTreeMap<Month, Paid>>> {
    let mut paid: HashMap<i64, BTreeMap<Month, Paid>> = HashMap::new();
    each_paid_line(conn, None, |appointment, l| {
        let p = paid
            .entry(appointment)
            .or_default()
            .entry(l.month)
            .or_default();
        p.fen += l.fen;
        p.has_line = true;
        Ok::<_, StoreError>(())
    })
    .await?;
    Ok(paid)
}

/// The lines a run item stores (`run_items.lines`), or the ledger's fault naming them.
pub(crate) fn stored_lines(text: &str) -> Result<Vec<Line>> {
    decode_lines(text).ok_or_else(|| StoreError::Corrupt(format!("run lines `{text}`")))
}

/// Calls `f` with every line approved runs paid (its appointment, the line); with `before`
/// (a run's id and approval time), only those of the runs approved before that one.
pub(crate) async fn each_paid_line<E: From<StoreError>>(
    conn: &mut sqlx::AnyConnection,
    before: Option<(i64, &str)>,
    mut f: impl FnMut(i64, Line) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let mut sql = String::from("SELECT i.appointment_id, i.lines FROM run_items i JOIN runs r ON r.id = i.run_id WHERE r.status = 'approved'");
    let mut args = Vec::new();
    if let Some((run_id, approved_at)) = before {
        sql.push_str(" AND r.id <> $1 AND r.approved_at < $2");
        args.extend([Arg::Int(run_id), Arg::Text(approved_at)]);
    }
    each_row(conn, &sql, &args, |r| {
        let appointment = r.int(0)?;
        for l in stored_lines(&r.text(1)?)? {
            f(appointment, l)?;
        }
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Line, LineKind, Month};

    proptest::proptest! {
        /// The table of offsets finds each technician's rows as the binary searches do, for
        /// ids with gaps, repeats, and technicians asked for who have no rows.
        #[test]
        fn tech_starts_find_what_binary_search_finds(
            mut keys in proptest::collection::vec(0i64..300, 0..200),
            asked in proptest::collection::vec(-5i64..400, 1..50),
        ) {
            keys.sort_unstable();
            let max = keys.last().copied().unwrap_or(0);
            let starts = TechStarts::of(keys.iter().copied(), max, keys.len()).unwrap();
            for t in asked {
                let from = keys.partition_point(|k| *k < t);
                let to = keys.partition_point(|k| *k <= t);
                let expected = if from == to { 0..0 } else { from..to };
                let got = starts.range(t);
                proptest::prop_assert_eq!(if got.is_empty() { 0..0 } else { got }, expected);
            }
        }
    }

    #[test]
    fn tech_starts_are_not_made_for_sparse_or_negative_ids() {
        assert!(TechStarts::of([1, 50_000_000].into_iter(), 50_000_000, 2).is_none());
        assert!(TechStarts::of([-1].into_iter(), -1, 1).is_none());
        assert!(TechStarts::of([3, 7].into_iter(), 7, 2).is_some());
    }

    fn person(id: i64, unit: &str, months: &[u32]) -> RunPerson {
        let lines: Vec<Line> = months
            .iter()
            .map(|m| Line {
                month: Month::new(2024, *m).unwrap(),
                kind: LineKind::Regular,
                fen: 50_000 + i64::from(*m),
            })
            .collect();
        let net: i64 = lines.iter().map(|l| l.fen).sum();
        RunPerson {
            technician_id: id,
            id_number: format!("370302198001{id:06}"),
            name: format!("人员{id}"),
            net: Net {
                net,
                bank: net,
                recovery: 0,
            },
            items: vec![RunItem {
                appointment_id: id,
                approval_no: String::new(),
                approval_date: None,
                unit: unit.to_string(),
                lines,
                bank_account: String::new(),
                bank_name: String::new(),
            }],
            reissues: Vec::new(),
            offset_fen: 0,
        }
    }

    #[test]
    fn a_digest_gives_each_unit_its_own_people_in_order_with_their_lines() {
        let units = ["乙公司", "甲公司", "丙公司"];
        let mut digest = RunDigest::default();
        let mut expected: HashMap<&str, Vec<RunPerson>> = HashMap::new();
        // Enough people for the text to fill several chunks of the arena.
        for id in 0..60_000i64 {
            let unit = units[(id * 7 % 3) as usize];
            let p = person(id, unit, &[1 + (id % 12) as u32, 12]);
            expected.entry(unit).or_default().push(p.clone());
            digest.push(p);
        }
        assert!(digest.arena.len() >= 3, "{} chunks", digest.arena.len());
        assert_eq!(digest.unit_names, units, "units in order of first sight");
        for (u, name) in digest.unit_names.iter().enumerate() {
            let got = digest.people_of(u as u32);
            let want = &expected[name.as_str()];
            assert_eq!(got.len(), want.len(), "{name}");
            for (g, w) in got.iter().zip(want) {
                assert_eq!(
                    (&g.id_number, &g.name, g.net, g.technician_id),
                    (&w.id_number, &w.name, w.net, w.technician_id)
                );
                assert_eq!(g.items[0].unit, *name);
                assert_eq!(g.lines(), w.lines());
            }
        }
    }
}
