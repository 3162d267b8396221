//! `chieftech daemon` and `chieftech jobs`: runs every scheduled job on time.
//!
//! tokio-cron-scheduler (Asia/Shanghai) only wakes the daemon; what runs is decided by the pure
//! [`plan`](super::plan) from the `job_runs` table, so a time missed while the daemon was down is
//! caught up once at start-up (or reported missed after the deadline). Each (job, scheduled
//! time) is claimed with a unique row, so several daemons on one PostgreSQL database run it
//! exactly once; a lock row per job keeps a job from overlapping itself. On SQLite a second
//! daemon refuses to start (an OS lock on a file beside the database).
//!
//! - The last run of a job is the latest recorded time that is not in the future; a row in the
//!   future (a clock was once ahead) is logged and shown by `jobs list`, and ignored.
//! - Every job runs as its own task under a deadline (`[schedule] job_timeout_seconds`, per job
//!   in `[schedule.timeouts]`): a job that hangs is abandoned at its deadline and never holds
//!   up another job's scheduled time.
//! - A failed (or timed-out) run is retried with backoff (`retry_base_seconds`, doubling) until
//!   `max_attempts` or the `catch_up_hours` window is used up; then it is recorded `failed`, the
//!   bureau is mailed once (through the outbox), and `jobs list` shows it until a person runs
//!   `jobs ack`.
//! - SIGTERM/SIGINT are handled from the first moment, start-up catch-up included: no new job is
//!   started, running jobs finish (or are abandoned at their deadlines; a second signal abandons
//!   them at once), claims still open are released for a retry, then the daemon stops.

use super::plan::{
    next_wake, plan, Due, JobSchedule, JobState, Pending, RetryPolicy, ScheduleError,
};
use crate::config::Config;
use crate::mail::MailSettings;
use crate::rules::RulesConfig;
use crate::store::payrun::RunPolicy;
use crate::store::{Backend, Store};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use serde::Deserialize;
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

/// The jobs the daemon knows.
pub const JOBS: [&str; 6] = ["inbox", "outbox", "remind", "payrun", "export", "sources"];

/// The `[schedule]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSettings {
    #[serde(default = "d_inbox")]
    pub inbox: String,
    #[serde(default = "d_outbox")]
    pub outbox: String,
    #[serde(default = "d_remind")]
    pub remind: String,
    #[serde(default = "d_payrun")]
    pub payrun: String,
    #[serde(default = "d_export")]
    pub export: String,
    /// Pull every `[[source]]` (nothing to do without one).
    #[serde(default = "d_sources")]
    pub sources: String,
    /// Export approved runs and notify the finance office automatically.
    #[serde(default)]
    pub export_after_approval: bool,
    /// A scheduled time older than this when the daemon notices it is reported missed; a failed
    /// run is not retried past it either.
    #[serde(default = "d_catch_up")]
    pub catch_up_hours: i64,
    /// A claimed job whose daemon sends no heartbeat for this long is run again elsewhere.
    #[serde(default = "d_lease")]
    pub lease_seconds: i64,
    /// The delay before the first retry of a failed run; it doubles after each further failure.
    #[serde(default = "d_retry_base")]
    pub retry_base_seconds: i64,
    /// Attempts in all (the first run included) before a failed run is given up.
    #[serde(default = "d_max_attempts")]
    pub max_attempts: u32,
    /// A job still running after this long is abandoned, recorded as failed and retried.
    #[serde(default = "d_job_timeout")]
    pub job_timeout_seconds: u64,
    /// Per-job deadlines overriding `job_timeout_seconds` (`[schedule.timeouts] payrun = 3600`).
    #[serde(default)]
    pub timeouts: BTreeMap<String, u64>,
}

fn d_lease() -> i64 {
    120
}
fn d_retry_base() -> i64 {
    60
}
fn d_max_attempts() -> u32 {
    6
}
fn d_job_timeout() -> u64 {
    1800
}

fn d_inbox() -> String {
    "0 */15 * * * *".into()
}
fn d_outbox() -> String {
    "0 * * * * *".into()
}
fn d_remind() -> String {
    "0 30 8 * * *".into()
}
fn d_payrun() -> String {
    "0 0 9 1 12 *".into()
}
fn d_export() -> String {
    "0 0 10 * * *".into()
}
fn d_sources() -> String {
    "0 0 2 * * *".into()
}
fn d_catch_up() -> i64 {
    48
}

/// A failure of the scheduler itself.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("configuration table [schedule]: {0}")]
    Settings(String),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("another chieftech daemon already runs on this database (lock {0} is held); stop it first, or give this one another database")]
    AlreadyRunning(String),
    #[error("cannot create the daemon lock file {path}: {source}")]
    LockFile {
        path: String,
        source: std::io::Error,
    },
    #[error("scheduler: {0}")]
    Scheduler(String),
    #[error("unknown job `{0}`: the jobs are inbox, outbox, remind, payrun, export, sources")]
    UnknownJob(String),
    #[error("{0}")]
    Usage(String),
}

impl ScheduleSettings {
    pub fn from_config(cfg: &Config) -> Result<ScheduleSettings, DaemonError> {
        let s: ScheduleSettings = match cfg.other.get("schedule") {
            None => toml::from_str("").expect("defaults"),
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| DaemonError::Settings(e.to_string()))?,
        };
        let bad = |m: String| Err(DaemonError::Settings(m));
        if s.catch_up_hours < 1 {
            return bad("catch_up_hours must be at least 1".into());
        }
        if s.lease_seconds < 1 || s.retry_base_seconds < 1 {
            return bad("lease_seconds and retry_base_seconds must be at least 1".into());
        }
        if s.max_attempts < 1 {
            return bad("max_attempts must be at least 1".into());
        }
        for (job, t) in std::iter::once(("job_timeout_seconds", &s.job_timeout_seconds))
            .chain(s.timeouts.iter().map(|(j, t)| (j.as_str(), t)))
        {
            if job != "job_timeout_seconds" && !JOBS.contains(&job) {
                return bad(format!(
                    "timeouts: unknown job `{job}` (the jobs are {})",
                    JOBS.join(", ")
                ));
            }
            if *t < 1 {
                return bad(format!("the timeout of {job} must be at least 1 second"));
            }
        }
        Ok(s)
    }

    /// The enabled schedules (an empty expression disables a job; export only when enabled).
    pub fn schedules(&self) -> Result<Vec<JobSchedule>, ScheduleError> {
        let mut v = Vec::new();
        for (job, expr) in [
            ("inbox", &self.inbox),
            ("outbox", &self.outbox),
            ("remind", &self.remind),
            ("payrun", &self.payrun),
            ("export", &self.export),
            ("sources", &self.sources),
        ] {
            if expr.trim().is_empty() || (job == "export" && !self.export_after_approval) {
                continue;
            }
            v.push(JobSchedule::parse(job, expr)?);
        }
        Ok(v)
    }

    /// How failed runs are retried.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            base: Duration::seconds(self.retry_base_seconds),
            max_attempts: self.max_attempts,
            window: Duration::hours(self.catch_up_hours),
        }
    }

    /// A job's deadline, in seconds.
    pub fn timeout_seconds(&self, job: &str) -> u64 {
        self.timeouts
            .get(job)
            .copied()
            .unwrap_or(self.job_timeout_seconds)
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A time as the bureau reads it: Shanghai time, to the second.
fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Shanghai)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The command that runs a job by hand for a scheduled time that failed or was missed: the
/// payment run names the year of that time (a run missed in December, caught up in January,
/// is still that December's).
pub fn advice(job: &str, at: DateTime<Utc>) -> String {
    if job == "payrun" {
        format!(
            "chieftech jobs run payrun --year {}",
            at.with_timezone(&Shanghai).year()
        )
    } else {
        format!("chieftech jobs run {job}")
    }
}

/// A job's name for the bureau.
fn job_name(job: &str) -> &'static str {
    match job {
        "inbox" => "收取单位报送",
        "outbox" => "发送邮件",
        "remind" => "到期提醒",
        "payrun" => "年度发放批次计算",
        "export" => "导出代发文件",
        "sources" => "读取数据源",
        _ => "定时任务",
    }
}

/// The bureau's notice of a job given up, when the template folder lacks `job_failed.txt`.
const JOB_FAILED_TEMPLATE: &str = include_str!("../../config/templates/job_failed.txt");

/// What a job is given besides its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobArgs {
    /// The date it runs for (a scheduled run: its scheduled time's date in Shanghai).
    pub today: NaiveDate,
    /// The payment run's year [default: today's year].
    pub year: Option<i32>,
    /// Who asked for it: a person's `--operator` for `jobs run` (recorded as the draft's
    /// computing operator, so the four-eyes rule names people); None for a scheduled run (the
    /// daemon computes, any person approves).
    pub operator: Option<String>,
}

impl JobArgs {
    pub fn on(today: NaiveDate) -> JobArgs {
        JobArgs {
            today,
            year: None,
            operator: None,
        }
    }
}

/// A (job, scheduled time) this daemon claimed and is to run.
#[derive(Debug, Clone)]
struct Claimed {
    job: String,
    at: DateTime<Utc>,
    /// This attempt's number (1 for the first).
    attempt: u32,
}

/// Aborts a helper task (a heartbeat) when its owner ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The jobs running in this daemon; a job leaves the set when its task ends, however it ends.
type Busy = Arc<Mutex<HashSet<String>>>;

struct BusyGuard(Busy, String);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if let Ok(mut b) = self.0.lock() {
            b.remove(&self.1);
        }
    }
}

/// Everything a job needs.
pub struct Runner {
    pub store: Store,
    pub cfg: Config,
    pub rules: RulesConfig,
    pub policy: RunPolicy,
    pub settings: ScheduleSettings,
    pub owner: String,
}

impl Runner {
    /// The runner of a session: its ledger and configuration, the `[schedule]` table checked.
    /// A usage error (exit status 2) when the schedule cannot be used.
    pub fn from_session(s: crate::jobs::session::Session) -> Result<Runner, DaemonError> {
        let settings = ScheduleSettings::from_config(&s.config)?;
        settings.schedules()?;
        let policy = s.run_policy();
        Ok(Runner {
            store: s.store,
            cfg: s.config,
            rules: s.rules,
            policy,
            settings,
            owner: owner_name(),
        })
    }

    /// Runs one job (for a scheduled run, `args.today` is that time's date in Shanghai).
    pub async fn execute(&self, job: &str, args: JobArgs) -> Result<String, String> {
        let e = |x: &dyn std::fmt::Display| x.to_string();
        let today = args.today;
        match job {
            "outbox" => {
                let s = MailSettings::from_config(&self.cfg).map_err(|x| e(&x))?;
                let r = crate::mail::outbox::send_due(&self.store, &s, Utc::now())
                    .await
                    .map_err(|x| e(&x))?;
                Ok(format!(
                    "{} delivered, {} to retry, {} parked",
                    r.sent.len(),
                    r.retrying.len(),
                    r.parked.len()
                ))
            }
            "remind" => {
                // From the day after the last successful reminder run, so days the daemon was
                // down are caught up (each notice once: the outbox keys see to that). A run
                // recorded in the future (a clock was ahead) does not count.
                let last = sqlx::query(
                    "SELECT MAX(scheduled_at) FROM job_runs WHERE job = 'remind' AND status = 'ok' AND scheduled_at NOT LIKE 'manual%' AND scheduled_at <= $1",
                )
                .bind(ts(Utc::now()))
                .fetch_one(self.store.pool())
                .await
                .map_err(|x| e(&x))?
                .try_get::<Option<String>, _>(0)
                .map_err(|x| e(&x))?;
                let from = last
                    .as_deref()
                    .and_then(parse_ts)
                    .map(|t| t.with_timezone(&Shanghai).date_naive() + chrono::Days::new(1))
                    .filter(|d| *d <= today && (today - *d).num_days() < 400)
                    .unwrap_or(today);
                let r =
                    super::remind::remind_range(&self.store, &self.cfg, &self.rules, from, today)
                        .await
                        .map_err(|x| e(&x))?;
                Ok(format!("{from} … {today}: {} queued", r.queued))
            }
            "payrun" => {
                let who = args.operator.as_deref().unwrap_or("daemon");
                self.payrun(today, args.year.unwrap_or(today.year()), who)
                    .await
            }
            "inbox" => self.inbox().await,
            "export" => self.export(today).await,
            "sources" => {
                crate::jobs::sources::sources_job(&self.store, &self.cfg, &self.rules, today).await
            }
            other => Err(format!("unknown job `{other}`")),
        }
    }

    /// Runs one job under its deadline: past it, the job is abandoned (its transaction rolls
    /// back) and the run fails with "timed out after N s".
    pub async fn execute_with_deadline(&self, job: &str, args: JobArgs) -> Result<String, String> {
        let secs = self.settings.timeout_seconds(job);
        match tokio::time::timeout(
            std::time::Duration::from_secs(secs),
            self.execute(job, args),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {secs} s")),
        }
    }

    async fn payrun(&self, today: NaiveDate, year: i32, operator: &str) -> Result<String, String> {
        let approved: Option<i64> = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM runs WHERE year = $1 AND status = 'approved'",
        )
        .bind(i64::from(year))
        .fetch_one(self.store.pool())
        .await
        .map_err(|x| x.to_string())?
        .try_get(0)
        .ok();
        if approved.unwrap_or(0) > 0 {
            return Ok(format!(
                "the run of {year} is already approved; nothing computed"
            ));
        }
        let who = crate::jobs::payrun::Actor { operator, today };
        let s = crate::jobs::payrun::compute_with(
            &self.store,
            &self.rules,
            self.policy,
            who,
            year,
            false,
            &indicatif::ProgressBar::hidden(),
        )
        .await
        .map_err(|x| x.to_string())?;
        // Tell the bureau the draft awaits approval.
        let notice = self.draft_notice(today, year, operator, &s)?;
        let mut conn = self
            .store
            .pool()
            .acquire()
            .await
            .map_err(|x| x.to_string())?;
        crate::mail::queue(&mut conn, &notice)
            .await
            .map_err(|x| x.to_string())?;
        Ok(format!(
            "draft {year}/{} computed: {} items",
            s.seq, s.items
        ))
    }

    /// The bureau's notice that the draft run `s` of `year` awaits approval.
    fn draft_notice(
        &self,
        today: NaiveDate,
        year: i32,
        operator: &str,
        s: &crate::jobs::payrun::RunSummary,
    ) -> Result<crate::mail::Notice, String> {
        let mail = MailSettings::from_config(&self.cfg).map_err(|x| x.to_string())?;
        let mut v = BTreeMap::new();
        v.insert("year", year.to_string());
        v.insert("run", s.seq.to_string());
        v.insert(
            "computed_by",
            if operator == "daemon" {
                "chieftech daemon".to_string()
            } else {
                operator.to_string()
            },
        );
        v.insert("paid", crate::rules::money::fen_grouped(s.paid));
        v.insert("recovered", crate::rules::money::fen_grouped(-s.recovered));
        v.insert("uncovered", s.uncovered_months.to_string());
        v.insert("date", crate::jobs::notices::cn_date(today));
        v.insert("signature", mail.signature.clone());
        let r = crate::mail::templates::render(&mail.templates, "bureau_draft", &v)
            .map_err(|x| x.to_string())?;
        Ok(crate::mail::Notice {
            key: format!("draft:{year}:{}", s.seq),
            to: vec![mail.bureau.clone()],
            subject: r.subject,
            body: r.body,
            attachments: vec![],
        })
    }

    async fn inbox(&self) -> Result<String, String> {
        crate::jobs::hooks::inbox_scan(&self.store, &self.cfg, &self.rules).await
    }

    async fn export(&self, today: NaiveDate) -> Result<String, String> {
        crate::jobs::hooks::export_approved(&self.store, &self.cfg, today).await
    }

    /// Claims a due (job, time): the new attempt's number when this daemon is to run it. A new
    /// time is inserted; a retry whose time has come, or the claim of a daemon that stopped
    /// sending heartbeats, is taken over.
    async fn claim(&self, d: &Due, now: DateTime<Utc>) -> Result<Option<u32>, sqlx::Error> {
        let r = sqlx::query("INSERT INTO job_runs (job, scheduled_at, status, owner, started_at, heartbeat_at, attempts) VALUES ($1, $2, 'running', $3, $4, $4, $5) ON CONFLICT (job, scheduled_at) DO NOTHING")
            .bind(&d.job)
            .bind(ts(d.at))
            .bind(&self.owner)
            .bind(ts(now))
            .bind(i64::from(d.attempts) + 1)
            .execute(self.store.pool())
            .await?;
        if r.rows_affected() != 1 {
            let stale = ts(now - Duration::seconds(self.settings.lease_seconds));
            let r = sqlx::query("UPDATE job_runs SET owner = $1, heartbeat_at = $2, started_at = $2, status = 'running', attempts = attempts + 1, next_attempt_at = NULL WHERE job = $3 AND scheduled_at = $4 AND ((status = 'running' AND heartbeat_at < $5) OR (status = 'retrying' AND next_attempt_at <= $2))")
                .bind(&self.owner)
                .bind(ts(now))
                .bind(&d.job)
                .bind(ts(d.at))
                .bind(stale)
                .execute(self.store.pool())
                .await?;
            if r.rows_affected() != 1 {
                return Ok(None);
            }
        }
        let n: i64 = sqlx::query(
            "SELECT attempts FROM job_runs WHERE job = $1 AND scheduled_at = $2 AND owner = $3",
        )
        .bind(&d.job)
        .bind(ts(d.at))
        .bind(&self.owner)
        .fetch_one(self.store.pool())
        .await?
        .try_get(0)?;
        Ok(Some(u32::try_from(n.max(1)).unwrap_or(u32::MAX)))
    }

    /// Closes the pending runs a newer scheduled time took over.
    async fn supersede(
        &self,
        job: &str,
        times: &[DateTime<Utc>],
        by: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let stale = ts(now - Duration::seconds(self.settings.lease_seconds));
        for t in times {
            sqlx::query("UPDATE job_runs SET status = 'superseded', next_attempt_at = NULL, outcome = COALESCE(outcome, '') || $1 WHERE job = $2 AND scheduled_at = $3 AND (status = 'retrying' OR (status = 'running' AND heartbeat_at < $4))")
                .bind(format!(" (superseded by the run of {})", ts(by)))
                .bind(job)
                .bind(ts(*t))
                .bind(&stale)
                .execute(self.store.pool())
                .await?;
        }
        Ok(())
    }

    /// The per-job lock: a job never overlaps itself, across daemons too.
    async fn lock(&self, job: &str, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
        sqlx::query("INSERT INTO job_locks (job, owner, until) VALUES ($1, NULL, NULL) ON CONFLICT (job) DO NOTHING")
            .bind(job)
            .execute(self.store.pool())
            .await?;
        let r = sqlx::query("UPDATE job_locks SET owner = $1, until = $2 WHERE job = $3 AND (owner IS NULL OR owner = $1 OR until < $4)")
            .bind(&self.owner)
            .bind(ts(now + Duration::seconds(self.settings.lease_seconds)))
            .bind(job)
            .bind(ts(now))
            .execute(self.store.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn unlock(&self, job: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE job_locks SET owner = NULL, until = NULL WHERE job = $1 AND owner = $2",
        )
        .bind(job)
        .bind(&self.owner)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Runs a claimed (job, time) with a heartbeat under its deadline, records the outcome
    /// (a failure: retried later or given up) and releases the job's lock.
    async fn run_claimed(&self, c: &Claimed) -> Result<(), sqlx::Error> {
        let at_text = ts(c.at);
        let beat = self.heartbeat(&c.job, &at_text);
        tracing::info!(job = %c.job, scheduled = %at_text, attempt = c.attempt, "job started");
        let today = c.at.with_timezone(&Shanghai).date_naive();
        let result = self.execute_with_deadline(&c.job, JobArgs::on(today)).await;
        drop(beat);
        let recorded = self
            .record_outcome(&c.job, &at_text, Some((c.at, c.attempt)), &result)
            .await;
        let unlocked = self.unlock(&c.job).await;
        recorded.and(unlocked)
    }

    /// Keeps a running job's claim and lock alive until dropped.
    fn heartbeat(&self, job: &str, at_text: &str) -> AbortOnDrop {
        let pool = self.store.pool().clone();
        let (job_s, at_s, owner) = (job.to_string(), at_text.to_string(), self.owner.clone());
        let lease = self.settings.lease_seconds;
        let beat_every = std::time::Duration::from_secs((lease as u64 / 4).max(1));
        AbortOnDrop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(beat_every).await;
                let now = Utc::now();
                let _ = sqlx::query("UPDATE job_runs SET heartbeat_at = $1 WHERE job = $2 AND scheduled_at = $3 AND owner = $4")
                    .bind(ts(now))
                    .bind(&job_s)
                    .bind(&at_s)
                    .bind(&owner)
                    .execute(&pool)
                    .await;
                let _ =
                    sqlx::query("UPDATE job_locks SET until = $1 WHERE job = $2 AND owner = $3")
                        .bind(ts(now + Duration::seconds(lease)))
                        .bind(&job_s)
                        .bind(&owner)
                        .execute(&pool)
                        .await;
            }
        }))
    }

    /// Records how a claimed run ended. `scheduled` is (time, attempt) of a scheduled run: its
    /// failure is retried later or, when its attempts or window are used up, given up (the
    /// bureau is told). A manual run's failure is only recorded (its operator saw it).
    async fn record_outcome(
        &self,
        job: &str,
        at_text: &str,
        scheduled: Option<(DateTime<Utc>, u32)>,
        result: &Result<String, String>,
    ) -> Result<(), sqlx::Error> {
        let now = Utc::now();
        let error = match result {
            Ok(s) => {
                tracing::info!(job, scheduled = %at_text, outcome = %s, "job finished");
                sqlx::query("UPDATE job_runs SET status = 'ok', outcome = $1, finished_at = $2, next_attempt_at = NULL WHERE job = $3 AND scheduled_at = $4 AND owner = $5")
                    .bind(s)
                    .bind(ts(now))
                    .bind(job)
                    .bind(at_text)
                    .bind(&self.owner)
                    .execute(self.store.pool())
                    .await?;
                return Ok(());
            }
            Err(e) => e,
        };
        let Some((at, attempt)) = scheduled else {
            tracing::error!(job, scheduled = %at_text, error = %error, "job failed");
            sqlx::query("UPDATE job_runs SET status = 'failed', outcome = $1, finished_at = $2 WHERE job = $3 AND scheduled_at = $4 AND owner = $5")
                .bind(error)
                .bind(ts(now))
                .bind(job)
                .bind(at_text)
                .bind(&self.owner)
                .execute(self.store.pool())
                .await?;
            return Ok(());
        };
        match self.settings.retry_policy().next_attempt(at, attempt, now) {
            Some(next) => {
                tracing::warn!(job, scheduled = %at_text, attempt, error = %error, next_attempt = %ts(next), "job failed; it will be retried");
                sqlx::query("UPDATE job_runs SET status = 'retrying', outcome = $1, finished_at = $2, next_attempt_at = $3 WHERE job = $4 AND scheduled_at = $5 AND owner = $6 AND status = 'running'")
                    .bind(error)
                    .bind(ts(now))
                    .bind(ts(next))
                    .bind(job)
                    .bind(at_text)
                    .bind(&self.owner)
                    .execute(self.store.pool())
                    .await?;
                Ok(())
            }
            None => {
                self.give_up(job, at, attempt, error, Some(&self.owner), now)
                    .await
            }
        }
    }

    /// Records a scheduled run as failed for good and queues the bureau's notice in the same
    /// transaction (once per job until its failures are acknowledged: a job failing at every
    /// scheduled time does not flood the bureau). `owner`: the run is this daemon's running
    /// claim; None: a pending run (retrying, or the claim of a dead daemon).
    async fn give_up(
        &self,
        job: &str,
        at: DateTime<Utc>,
        attempts: u32,
        error: &str,
        owner: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let at_text = ts(at);
        let stale = ts(now - Duration::seconds(self.settings.lease_seconds));
        let outcome = format!("{error} (given up after {attempts} attempts)");
        let mut tx = self.store.pool().begin().await?;
        let r = match owner {
            Some(o) => sqlx::query("UPDATE job_runs SET status = 'failed', outcome = $1, finished_at = $2, next_attempt_at = NULL WHERE job = $3 AND scheduled_at = $4 AND owner = $5 AND status = 'running'")
                .bind(&outcome)
                .bind(ts(now))
                .bind(job)
                .bind(&at_text)
                .bind(o)
                .execute(&mut *tx)
                .await?,
            None => sqlx::query("UPDATE job_runs SET status = 'failed', outcome = $1, finished_at = $2, next_attempt_at = NULL WHERE job = $3 AND scheduled_at = $4 AND (status = 'retrying' OR (status = 'running' AND heartbeat_at < $5))")
                .bind(&outcome)
                .bind(ts(now))
                .bind(job)
                .bind(&at_text)
                .bind(&stale)
                .execute(&mut *tx)
                .await?,
        };
        if r.rows_affected() != 1 {
            return Ok(()); // another daemon got there first
        }
        let earlier: i64 = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM job_runs WHERE job = $1 AND status = 'failed' AND acked_at IS NULL AND scheduled_at <> $2 AND scheduled_at NOT LIKE 'manual%'")
            .bind(job)
            .bind(&at_text)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        tracing::error!(job, scheduled = %at_text, attempts, error = %error, advice = %advice(job, at), "job failed and given up; it stays in `jobs list` until acknowledged with `jobs ack`");
        if earlier > 0 {
            tracing::warn!(job, "the bureau was already told of an unacknowledged failure of this job; no new notice");
        } else {
            match self.failure_notice(job, at, attempts, error) {
                Ok(n) => {
                    crate::mail::queue(&mut tx, &n).await?;
                }
                Err(e) => {
                    tracing::error!(job, error = %e, "cannot tell the bureau of the failure by mail")
                }
            }
        }
        tx.commit().await
    }

    /// The bureau's notice of a job given up (the built-in text when the template folder lacks
    /// `job_failed.txt`: a notice is never lost to the very failure it reports).
    fn failure_notice(
        &self,
        job: &str,
        at: DateTime<Utc>,
        attempts: u32,
        error: &str,
    ) -> Result<crate::mail::Notice, String> {
        let mail = MailSettings::from_config(&self.cfg).map_err(|e| e.to_string())?;
        let mut v = BTreeMap::new();
        v.insert("job", job.to_string());
        v.insert("job_name", job_name(job).to_string());
        v.insert("scheduled", local(at));
        v.insert("at", ts(at));
        v.insert("attempts", attempts.to_string());
        v.insert(
            "error",
            crate::rules::id_number::mask_numbers(error).to_string(),
        );
        v.insert("advice", advice(job, at));
        v.insert(
            "date",
            crate::jobs::notices::cn_date(Utc::now().with_timezone(&Shanghai).date_naive()),
        );
        v.insert("signature", mail.signature.clone());
        let r = match crate::mail::templates::render(&mail.templates, "job_failed", &v) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "using the built-in job_failed notice");
                crate::mail::templates::render_text(JOB_FAILED_TEMPLATE, &v)
                    .ok_or("the built-in job_failed template has no subject")?
            }
        };
        Ok(crate::mail::Notice {
            key: format!("job-failed:{job}:{}", ts(at)),
            to: vec![mail.bureau.clone()],
            subject: r.subject,
            body: r.body,
            attachments: vec![],
        })
    }

    /// What is recorded of each job at `now`.
    async fn states(&self, now: DateTime<Utc>) -> Result<BTreeMap<String, JobState>, sqlx::Error> {
        let mut out: BTreeMap<String, JobState> = BTreeMap::new();
        let now_text = ts(now);
        for r in sqlx::query("SELECT job, MAX(scheduled_at) FROM job_runs WHERE scheduled_at NOT LIKE 'manual%' AND scheduled_at <= $1 GROUP BY job")
            .bind(&now_text)
            .fetch_all(self.store.pool())
            .await?
        {
            if let Some(t) = r.try_get::<Option<String>, _>(1)?.as_deref().and_then(parse_ts) {
                out.entry(r.try_get(0)?).or_default().last = Some(t);
            }
        }
        for r in sqlx::query("SELECT job, MIN(scheduled_at) FROM job_runs WHERE scheduled_at NOT LIKE 'manual%' AND scheduled_at > $1 GROUP BY job")
            .bind(&now_text)
            .fetch_all(self.store.pool())
            .await?
        {
            if let Some(t) = r.try_get::<Option<String>, _>(1)?.as_deref().and_then(parse_ts) {
                out.entry(r.try_get(0)?).or_default().future = Some(t);
            }
        }
        let lease = Duration::seconds(self.settings.lease_seconds);
        let stale = ts(now - lease);
        for r in sqlx::query("SELECT job, scheduled_at, attempts, status, next_attempt_at, heartbeat_at FROM job_runs WHERE scheduled_at NOT LIKE 'manual%' AND (status = 'retrying' OR (status = 'running' AND heartbeat_at < $1))")
            .bind(&stale)
            .fetch_all(self.store.pool())
            .await?
        {
            let Some(at) = parse_ts(&r.try_get::<String, _>(1)?) else {
                continue;
            };
            let attempts = u32::try_from(r.try_get::<i64, _>(2)?.max(0)).unwrap_or(u32::MAX);
            let status: String = r.try_get(3)?;
            let next_attempt = if status == "retrying" {
                r.try_get::<Option<String>, _>(4)?
                    .as_deref()
                    .and_then(parse_ts)
                    .unwrap_or(now)
            } else {
                // A dead daemon's claim: due once its lease has lapsed.
                r.try_get::<Option<String>, _>(5)?
                    .as_deref()
                    .and_then(parse_ts)
                    .map_or(now, |h| h + lease)
            };
            out.entry(r.try_get(0)?).or_default().pending.push(Pending {
                at,
                attempts,
                next_attempt,
            });
        }
        // A manual run whose process died (no heartbeat within the lease) is closed as failed.
        sqlx::query("UPDATE job_runs SET status = 'failed', finished_at = $1, outcome = 'interrupted: the process running it stopped' WHERE scheduled_at LIKE 'manual%' AND status = 'running' AND heartbeat_at < $2")
            .bind(&now_text)
            .bind(&stale)
            .execute(self.store.pool())
            .await?;
        Ok(out)
    }

    /// One planning pass: records missed times and given-up runs, reports rows in the future
    /// (once per process: `warned`), and claims what is due now — except jobs in `busy`
    /// (running here). The caller runs what it returns.
    async fn pass(
        &self,
        now: DateTime<Utc>,
        busy: &HashSet<String>,
        warned: &mut HashSet<(String, DateTime<Utc>)>,
    ) -> Result<Vec<Claimed>, DaemonError> {
        let schedules = self.settings.schedules()?;
        let since = self.installed_at(now).await?;
        let states = self.states(now).await?;
        let p = plan(
            &schedules,
            &|j| states.get(j).cloned().unwrap_or_default(),
            since,
            now,
            self.settings.retry_policy(),
        );
        for (job, at) in &p.future {
            if warned.insert((job.clone(), *at)) {
                tracing::warn!(job, scheduled = %ts(*at), "a run is recorded for a time in the future (a clock was ahead?); it is ignored and the job runs on its schedule");
            }
        }
        self.record_missed(&p.missed, now).await?;
        self.give_up_pending(&p.give_up, now).await?;
        self.claim_due(p.run, busy, now).await
    }

    /// Records the scheduled times past the catch-up deadline as missed (once each).
    async fn record_missed(
        &self,
        missed: &[(String, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        for (job, at) in missed {
            let r = sqlx::query("INSERT INTO job_runs (job, scheduled_at, status, owner, finished_at, outcome, attempts) VALUES ($1, $2, 'missed', $3, $4, $5, 0) ON CONFLICT (job, scheduled_at) DO NOTHING")
                .bind(job)
                .bind(ts(*at))
                .bind(&self.owner)
                .bind(ts(now))
                .bind(format!("missed: the daemon was down past the {}-hour catch-up deadline; run it by hand with `{}`", self.settings.catch_up_hours, advice(job, *at)))
                .execute(self.store.pool())
                .await?;
            if r.rows_affected() == 1 {
                tracing::warn!(job, scheduled = %ts(*at), advice = %advice(job, *at), "scheduled time missed (past the catch-up deadline)");
            }
        }
        Ok(())
    }

    /// Gives up the pending runs whose attempts or catch-up window are used up, with their
    /// last error and why.
    async fn give_up_pending(
        &self,
        give_up: &[(String, Pending)],
        now: DateTime<Utc>,
    ) -> Result<(), DaemonError> {
        for (job, q) in give_up {
            let why = if q.attempts >= self.settings.max_attempts {
                "its attempts are used up"
            } else {
                "its catch-up window closed before it could be tried again"
            };
            let last: Option<String> =
                sqlx::query("SELECT outcome FROM job_runs WHERE job = $1 AND scheduled_at = $2")
                    .bind(job)
                    .bind(ts(q.at))
                    .fetch_optional(self.store.pool())
                    .await?
                    .and_then(|r| r.try_get(0).ok());
            let error = format!(
                "{} ({why})",
                last.filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "interrupted: its daemon stopped".into())
            );
            self.give_up(job, q.at, q.attempts, &error, None, now)
                .await?;
        }
        Ok(())
    }

    /// Locks and claims each due run of a job free everywhere (one run per job); a claim that
    /// supersedes earlier times records them.
    async fn claim_due(
        &self,
        run: Vec<Due>,
        busy: &HashSet<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Claimed>, DaemonError> {
        let mut claimed = Vec::new();
        for d in run {
            if busy.contains(&d.job) || claimed.iter().any(|c: &Claimed| c.job == d.job) {
                continue; // running here: never overlap (it runs when the job is free)
            }
            if !self.lock(&d.job, now).await? {
                continue; // running elsewhere: never overlap
            }
            match self.claim(&d, now).await {
                Ok(Some(attempt)) => {
                    if !d.supersedes.is_empty() {
                        self.supersede(&d.job, &d.supersedes, d.at, now).await?;
                    }
                    claimed.push(Claimed {
                        job: d.job,
                        at: d.at,
                        attempt,
                    });
                }
                Ok(None) => self.unlock(&d.job).await?,
                Err(e) => {
                    self.unlock(&d.job).await?;
                    return Err(e.into());
                }
            }
        }
        Ok(claimed)
    }

    /// Plans, claims and starts what is due, each job as its own task.
    async fn start_due(
        self: &Arc<Self>,
        now: DateTime<Utc>,
        busy: &Busy,
        warned: &mut HashSet<(String, DateTime<Utc>)>,
        tasks: &mut tokio::task::JoinSet<()>,
    ) -> Result<usize, DaemonError> {
        let snapshot = busy.lock().map(|b| b.clone()).unwrap_or_default();
        let claimed = self.pass(now, &snapshot, warned).await?;
        let n = claimed.len();
        for c in claimed {
            if let Ok(mut b) = busy.lock() {
                b.insert(c.job.clone());
            }
            let guard = BusyGuard(busy.clone(), c.job.clone());
            let runner = Arc::clone(self);
            tasks.spawn(async move {
                let _guard = guard;
                if let Err(e) = runner.run_claimed(&c).await {
                    tracing::error!(job = %c.job, scheduled = %ts(c.at), error = %e, "cannot record the job's outcome; its claim lapses after lease_seconds");
                }
            });
        }
        Ok(n)
    }

    /// One pass that also waits for the jobs it started (tests and tools).
    pub async fn tick(self: &Arc<Self>, now: DateTime<Utc>) -> Result<usize, DaemonError> {
        let busy = Busy::default();
        let mut tasks = tokio::task::JoinSet::new();
        let n = self
            .start_due(now, &busy, &mut HashSet::new(), &mut tasks)
            .await?;
        while tasks.join_next().await.is_some() {}
        Ok(n)
    }

    /// The earliest time a retry of a job not running here is due, or another daemon's claim
    /// lapses (its heartbeat older than the lease: then it is taken over; an owner still alive
    /// has beaten since, and nothing is taken).
    async fn next_retry(&self, busy: &Busy) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        let busy = busy.lock().map(|b| b.clone()).unwrap_or_default();
        let mut pending = Vec::new();
        let lease = chrono::Duration::seconds(self.settings.lease_seconds + 1);
        for (sql, after) in [
            (
                "SELECT job, MIN(next_attempt_at) FROM job_runs WHERE status = 'retrying' GROUP BY job",
                chrono::Duration::zero(),
            ),
            (
                "SELECT job, MIN(heartbeat_at) FROM job_runs WHERE status = 'running' GROUP BY job",
                lease,
            ),
        ] {
            for r in sqlx::query(sql).fetch_all(self.store.pool()).await? {
                let job: String = r.try_get(0)?;
                if busy.contains(&job) {
                    continue;
                }
                let at = r.try_get::<Option<String>, _>(1)?;
                if let Some(t) = at.as_deref().and_then(parse_ts) {
                    pending.push(Pending {
                        at: t + after,
                        attempts: 0,
                        next_attempt: t + after,
                    });
                }
            }
        }
        Ok(next_wake(&pending))
    }

    /// On the way out: claims of this daemon still open (a job abandoned by a second signal)
    /// are released for a retry, and its job locks freed.
    pub async fn release(&self) -> Result<u64, sqlx::Error> {
        let now = ts(Utc::now());
        let r = sqlx::query("UPDATE job_runs SET status = 'retrying', next_attempt_at = $1, finished_at = $1, outcome = 'interrupted: the daemon stopped before the job ended' WHERE owner = $2 AND status = 'running' AND scheduled_at NOT LIKE 'manual%'")
            .bind(&now)
            .bind(&self.owner)
            .execute(self.store.pool())
            .await?;
        sqlx::query("UPDATE job_locks SET owner = NULL, until = NULL WHERE owner = $1")
            .bind(&self.owner)
            .execute(self.store.pool())
            .await?;
        Ok(r.rows_affected())
    }

    async fn installed_at(&self, now: DateTime<Utc>) -> Result<DateTime<Utc>, sqlx::Error> {
        sqlx::query("INSERT INTO daemon_meta (key, value) VALUES ('installed_at', $1) ON CONFLICT (key) DO NOTHING")
            .bind(ts(now))
            .execute(self.store.pool())
            .await?;
        let v: String = sqlx::query("SELECT value FROM daemon_meta WHERE key = 'installed_at'")
            .fetch_one(self.store.pool())
            .await?
            .try_get(0)?;
        Ok(parse_ts(&v).unwrap_or(now))
    }

    /// `jobs run NAME [--year Y]`: runs a job now, by hand, under its deadline, recorded like a
    /// scheduled run (a failure is not retried: its operator sees it).
    pub async fn run_by_hand(&self, job: &str, args: JobArgs) -> Result<String, DaemonError> {
        if !JOBS.contains(&job) {
            return Err(DaemonError::UnknownJob(job.into()));
        }
        if args.year.is_some() && job != "payrun" {
            return Err(DaemonError::Usage(
                "--year applies to the payment run only (`jobs run payrun --year Y`)".into(),
            ));
        }
        let now = Utc::now();
        if !self.lock(job, now).await? {
            return Err(DaemonError::Scheduler(format!(
                "`{job}` is running right now (or its runner was killed: its lock lapses {} s after its last heartbeat); try again when it has finished",
                self.settings.lease_seconds
            )));
        }
        let at_text = format!("manual {}", ts(now));
        sqlx::query("INSERT INTO job_runs (job, scheduled_at, status, owner, started_at, heartbeat_at) VALUES ($1, $2, 'running', $3, $4, $4)")
            .bind(job)
            .bind(&at_text)
            .bind(&self.owner)
            .bind(ts(now))
            .execute(self.store.pool())
            .await?;
        let beat = self.heartbeat(job, &at_text);
        let result = self.execute_with_deadline(job, args).await;
        drop(beat);
        self.record_outcome(job, &at_text, None, &result).await?;
        self.unlock(job).await?;
        result.map_err(DaemonError::Scheduler)
    }
}

/// A failed run nobody has acknowledged yet.
#[derive(Debug, Clone)]
pub struct Unacknowledged {
    pub at: String,
    pub attempts: i64,
    pub outcome: String,
}

/// A row of `jobs list`.
#[derive(Debug, Clone)]
pub struct JobStatus {
    pub job: String,
    pub schedule: String,
    /// (scheduled time, status, outcome) of the latest run not in the future.
    pub last: Option<(String, String, String)>,
    pub next: Option<DateTime<Utc>>,
    /// Failed runs given up and not acknowledged (`jobs ack`), latest first.
    pub failures: Vec<Unacknowledged>,
    /// (scheduled time, attempts so far, next attempt, last error) of runs to be retried.
    pub retrying: Vec<(String, i64, String, String)>,
    /// Scheduled times recorded in the future (a clock was ahead), ignored until then.
    pub future: Vec<String>,
}

/// `jobs list`: schedule, last run and outcome, next run, and what needs a person.
pub async fn list(runner: &Runner, now: DateTime<Utc>) -> Result<Vec<JobStatus>, DaemonError> {
    let schedules = runner.settings.schedules()?;
    let pool = runner.store.pool();
    let now_text = ts(now);
    let mut out = Vec::new();
    for job in JOBS {
        let s = schedules.iter().find(|s| s.job == job);
        let last = sqlx::query("SELECT scheduled_at, status, COALESCE(outcome, '') FROM job_runs WHERE job = $1 AND (scheduled_at LIKE 'manual%' OR scheduled_at <= $2) ORDER BY id DESC LIMIT 1")
            .bind(job)
            .bind(&now_text)
            .fetch_optional(pool)
            .await?
            .map(|r| -> Result<_, sqlx::Error> { Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)) })
            .transpose()?;
        let failures = sqlx::query("SELECT scheduled_at, attempts, COALESCE(outcome, '') FROM job_runs WHERE job = $1 AND status = 'failed' AND acked_at IS NULL AND scheduled_at NOT LIKE 'manual%' ORDER BY scheduled_at DESC")
            .bind(job)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| -> Result<_, sqlx::Error> {
                Ok(Unacknowledged {
                    at: r.try_get(0)?,
                    attempts: r.try_get(1)?,
                    outcome: r.try_get(2)?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let retrying = sqlx::query("SELECT scheduled_at, attempts, COALESCE(next_attempt_at, ''), COALESCE(outcome, '') FROM job_runs WHERE job = $1 AND status = 'retrying' ORDER BY scheduled_at")
            .bind(job)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let future = sqlx::query("SELECT scheduled_at FROM job_runs WHERE job = $1 AND scheduled_at NOT LIKE 'manual%' AND scheduled_at > $2 ORDER BY scheduled_at")
            .bind(job)
            .bind(&now_text)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<Vec<String>, _>>()?;
        out.push(JobStatus {
            job: job.into(),
            schedule: s
                .map(|s| s.expression.clone())
                .unwrap_or_else(|| "(disabled)".into()),
            last,
            next: s.and_then(|s| s.next_after(now)),
            failures,
            retrying,
            future,
        });
    }
    Ok(out)
}

/// `jobs list` as text: a line per job, and indented lines for what needs attention.
pub async fn list_text(runner: &Runner, now: DateTime<Utc>) -> Result<String, DaemonError> {
    use std::fmt::Write;
    let mut out = String::new();
    let mut unacknowledged = 0;
    for j in list(runner, now).await? {
        write_job_line(&mut out, &j);
        unacknowledged += j.failures.len();
        write_failures(&mut out, &j);
        write_pending(&mut out, &j);
    }
    if unacknowledged > 0 {
        let _ = writeln!(
            out,
            "\n{unacknowledged} failed job run(s) not acknowledged: see the !! lines above"
        );
    }
    Ok(out)
}

/// A recorded time as `jobs list` shows it beside the raw text: in Shanghai time, or as
/// given when it is not a time.
fn shanghai_text(t: &str) -> String {
    parse_ts(t).map_or_else(|| t.to_string(), |t| format!("{} CST", local(t)))
}

/// The job's line of `jobs list`: schedule, next run and last run.
fn write_job_line(out: &mut String, j: &JobStatus) {
    use std::fmt::Write;
    let last = j
        .last
        .as_ref()
        .map(|(at, status, outcome)| format!("{at} {status} {outcome}"))
        .unwrap_or_else(|| "never".into());
    let next = j
        .next
        .map(|t| {
            t.with_timezone(&Shanghai)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string()
        })
        .unwrap_or_else(|| "-".into());
    let _ = writeln!(
        out,
        "{:<7} {:<18} next {:<26} last {last}",
        j.job, j.schedule, next
    );
}

/// The job's unacknowledged failures (the latest few), each with what to run by hand.
fn write_failures(out: &mut String, j: &JobStatus) {
    use std::fmt::Write;
    const SHOWN: usize = 3;
    for f in j.failures.iter().take(SHOWN) {
        let adv = parse_ts(&f.at).map_or_else(
            || format!("chieftech jobs run {}", j.job),
            |t| advice(&j.job, t),
        );
        let _ = writeln!(
            out,
            "        !! FAILED, NOT ACKNOWLEDGED: {} ({}) after {} attempts: {}\n           run it by hand with `{adv}`, then acknowledge: chieftech --operator NAME jobs ack {} --at {}",
            f.at,
            shanghai_text(&f.at),
            f.attempts,
            f.outcome,
            j.job,
            f.at
        );
    }
    if j.failures.len() > SHOWN {
        let _ = writeln!(
            out,
            "        !! … and {} more unacknowledged failures (`jobs ack {}` acknowledges them all)",
            j.failures.len() - SHOWN,
            j.job
        );
    }
}

/// The job's runs to be retried, and its runs recorded in the future.
fn write_pending(out: &mut String, j: &JobStatus) {
    use std::fmt::Write;
    for (at, attempts, next, outcome) in &j.retrying {
        let _ = writeln!(
            out,
            "        retrying {at}: attempt {attempts} failed ({outcome}); next attempt {}",
            shanghai_text(next)
        );
    }
    for at in &j.future {
        let _ = writeln!(
            out,
            "        ! a run is recorded for {at} ({}), in the future (a clock was ahead?): ignored; the job runs on its schedule",
            shanghai_text(at)
        );
    }
}

/// `jobs ack JOB [--at TIME]`: a person acknowledges a failed run (all of the job's, without
/// `--at`); records who and when. Returns how many were acknowledged.
pub async fn ack(
    runner: &Runner,
    job: &str,
    at: Option<&str>,
    operator: &str,
    now: DateTime<Utc>,
) -> Result<u64, DaemonError> {
    if !JOBS.contains(&job) {
        return Err(DaemonError::UnknownJob(job.into()));
    }
    let at = match at {
        None => None,
        Some(a) => Some(parse_ts(a.trim()).map(ts).ok_or_else(|| {
            DaemonError::Usage(format!(
                "--at {a}: not a time; give the scheduled time as `jobs list` shows it (e.g. 2025-12-01T01:00:00.000Z)"
            ))
        })?),
    };
    let mut tx = runner.store.pool().begin().await?;
    let r = match &at {
        Some(a) => sqlx::query("UPDATE job_runs SET acked_by = $1, acked_at = $2 WHERE job = $3 AND scheduled_at = $4 AND status = 'failed' AND acked_at IS NULL")
            .bind(operator)
            .bind(ts(now))
            .bind(job)
            .bind(a)
            .execute(&mut *tx)
            .await?,
        None => sqlx::query("UPDATE job_runs SET acked_by = $1, acked_at = $2 WHERE job = $3 AND status = 'failed' AND acked_at IS NULL AND scheduled_at NOT LIKE 'manual%'")
            .bind(operator)
            .bind(ts(now))
            .bind(job)
            .execute(&mut *tx)
            .await?,
    };
    let n = r.rows_affected();
    if n == 0 {
        return Err(DaemonError::Usage(match &at {
            Some(a) => {
                format!("`{job}` has no unacknowledged failure at {a} (see `chieftech jobs list`)")
            }
            None => format!("`{job}` has no unacknowledged failure"),
        }));
    }
    sqlx::query(
        "INSERT INTO audit (at, operator, action, detail, money) VALUES ($1, $2, 'job_ack', $3, 0)",
    )
    .bind(ts(now))
    .bind(operator)
    .bind(format!(
        "{job} {}: {n} failed run(s) acknowledged",
        at.as_deref().unwrap_or("(all)")
    ))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(job, operator, count = n, "job failures acknowledged");
    Ok(n)
}

/// Holds the SQLite daemon lock while alive.
pub struct InstanceLock {
    _file: Option<std::fs::File>,
}

/// On SQLite, refuses a second daemon on the same file (the OS releases the lock when the
/// process dies, even by kill -9). On PostgreSQL several daemons may share the database.
pub fn instance_lock(store: &Store, url: &str) -> Result<InstanceLock, DaemonError> {
    if store.backend() != Backend::Sqlite {
        return Ok(InstanceLock { _file: None });
    }
    let path = format!("{}.daemon.lock", crate::store::sqlite_path(url));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| DaemonError::LockFile {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(InstanceLock { _file: Some(file) }),
        Err(_) => Err(DaemonError::AlreadyRunning(path)),
    }
}

/// Runs until SIGTERM or SIGINT.
pub async fn run_daemon(runner: Runner, url: &str) -> Result<(), DaemonError> {
    // Signals first: a stop during the start-up catch-up is handled like any other.
    let signals = Signals::listen()?;
    let _lock = instance_lock(&runner.store, url)?;
    let schedules = runner.settings.schedules()?;
    tracing::info!(owner = %runner.owner, jobs = schedules.len(), "daemon started");
    let (tx, rx) = tokio::sync::mpsc::channel::<()>(64);
    let mut sched = start_scheduler(&schedules, &tx).await?;
    let mut daemon = Daemon {
        runner: Arc::new(runner),
        busy: Busy::default(),
        warned: HashSet::new(),
        tasks: tokio::task::JoinSet::new(),
        signals,
        wake: rx,
    };
    // Catch up at start-up: the jobs start as tasks, and the loop below handles signals.
    if let Err(e) = daemon.start_due().await {
        tracing::error!(error = %e, "start-up pass failed; retrying at the next wake-up");
    }
    daemon.serve().await;
    let _ = sched.shutdown().await;
    daemon.wait_for_jobs().await;
    daemon.release_claims().await;
    tracing::info!("daemon stopping: no job is running");
    Ok(())
}

/// SIGTERM and SIGINT, listened to from the daemon's first moment.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening for SIGTERM and SIGINT.
    fn listen() -> Result<Signals, DaemonError> {
        use tokio::signal::unix::{signal, SignalKind};
        let sig = |k| signal(k).map_err(|e| DaemonError::Scheduler(e.to_string()));
        let term = sig(SignalKind::terminate())?;
        let int = sig(SignalKind::interrupt())?;
        Ok(Signals { term, int })
    }
}

/// Starts the cron scheduler (Asia/Shanghai): at each job's scheduled time it only wakes the
/// daemon through `tx`.
async fn start_scheduler(
    schedules: &[JobSchedule],
    tx: &tokio::sync::mpsc::Sender<()>,
) -> Result<tokio_cron_scheduler::JobScheduler, DaemonError> {
    let sched = tokio_cron_scheduler::JobScheduler::new()
        .await
        .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    for s in schedules {
        let tx = tx.clone();
        let job = tokio_cron_scheduler::Job::new_async_tz(
            s.expression.as_str(),
            Shanghai,
            move |_, _| {
                let tx = tx.clone();
                Box::pin(async move {
                    let _ = tx.try_send(());
                })
            },
        )
        .map_err(|e| DaemonError::Scheduler(format!("{}: {e}", s.job)))?;
        sched
            .add(job)
            .await
            .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    }
    sched
        .start()
        .await
        .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    Ok(sched)
}

/// The running daemon: its runner, the jobs running here as tasks, the rows in the future
/// already warned of, its signals and the scheduler's wake-ups.
struct Daemon {
    runner: Arc<Runner>,
    busy: Busy,
    warned: HashSet<(String, DateTime<Utc>)>,
    tasks: tokio::task::JoinSet<()>,
    signals: Signals,
    wake: tokio::sync::mpsc::Receiver<()>,
}

impl Daemon {
    /// Plans, claims and starts what is due now.
    async fn start_due(&mut self) -> Result<usize, DaemonError> {
        self.runner
            .start_due(Utc::now(), &self.busy, &mut self.warned, &mut self.tasks)
            .await
    }

    /// How long to sleep: until the next retry is due (at least 0.5 s), at most 30 s.
    async fn wait(&self) -> std::time::Duration {
        // Wake for the next retry, or within 30 s (a safety net in case the scheduler stops
        // waking us, and for claims of dead daemons whose lease lapses).
        let mut wait = std::time::Duration::from_secs(30);
        if let Ok(Some(t)) = self.runner.next_retry(&self.busy).await {
            let until = (t - Utc::now())
                .to_std()
                .unwrap_or_default()
                .max(std::time::Duration::from_millis(500));
            wait = wait.min(until);
        }
        wait
    }

    /// Runs a pass at each wake-up (the scheduler's, a retry's, or the 30 s safety net) until
    /// SIGTERM or SIGINT; a job ending only wakes the loop.
    async fn serve(&mut self) {
        loop {
            let wait = self.wait().await;
            tokio::select! {
                _ = self.wake.recv() => {}
                _ = tokio::time::sleep(wait) => {}
                Some(_) = self.tasks.join_next() => continue,
                _ = self.signals.term.recv() => break,
                _ = self.signals.int.recv() => break,
            }
            // Let a burst of wake-ups for the same second collapse into one pass.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            while self.wake.try_recv().is_ok() {}
            if let Err(e) = self.start_due().await {
                tracing::error!(error = %e, "scheduler pass failed; retrying at the next wake-up");
            }
        }
    }

    /// Waits for the running jobs to end (each at most until its deadline); a second signal
    /// abandons them.
    async fn wait_for_jobs(&mut self) {
        if !self.tasks.is_empty() {
            tracing::info!(
                running = self.tasks.len(),
                "daemon stopping: waiting for the running jobs to end (each at most until its deadline; a second SIGTERM/SIGINT abandons them)"
            );
        }
        loop {
            tokio::select! {
                r = self.tasks.join_next() => if r.is_none() { break },
                _ = self.signals.term.recv() => {
                    tracing::warn!("second signal: abandoning the running jobs");
                    self.tasks.abort_all();
                }
                _ = self.signals.int.recv() => {
                    tracing::warn!("second signal: abandoning the running jobs");
                    self.tasks.abort_all();
                }
            }
        }
    }

    /// Releases the claims of abandoned jobs for a retry.
    async fn release_claims(&self) {
        match self.runner.release().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(claims = n, "claims of abandoned jobs released for a retry"),
            Err(e) => {
                tracing::error!(error = %e, "cannot release this daemon's claims; they lapse after lease_seconds")
            }
        }
    }
}

/// A name for this daemon in the job records: host, process id and a random part.
pub fn owner_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        parse_ts(s).unwrap()
    }

    #[test]
    fn advice_names_the_year_of_the_scheduled_time_in_shanghai() {
        assert_eq!(
            advice("payrun", utc("2025-12-01T01:00:00Z")),
            "chieftech jobs run payrun --year 2025"
        );
        // 2026-01-01 01:00 in Shanghai.
        assert_eq!(
            advice("payrun", utc("2025-12-31T17:00:00Z")),
            "chieftech jobs run payrun --year 2026"
        );
        assert_eq!(
            advice("outbox", utc("2025-12-01T01:00:00Z")),
            "chieftech jobs run outbox"
        );
    }

    #[test]
    fn the_built_in_failure_notice_renders() {
        let mut v = BTreeMap::new();
        v.insert("job", "payrun".to_string());
        v.insert("advice", advice("payrun", utc("2025-12-01T01:00:00Z")));
        let r = crate::mail::templates::render_text(JOB_FAILED_TEMPLATE, &v).unwrap();
        assert!(r.subject.contains("定时任务失败"));
        assert!(r.body.contains("chieftech jobs run payrun --year 2025"));
        assert!(r.body.contains("jobs ack payrun"));
    }

    #[test]
    fn schedule_settings_defaults_and_checks() {
        let s: ScheduleSettings = toml::from_str("").unwrap();
        assert_eq!(
            (s.retry_base_seconds, s.max_attempts, s.job_timeout_seconds),
            (60, 6, 1800)
        );
        let s: ScheduleSettings =
            toml::from_str("job_timeout_seconds = 10\ntimeouts = { payrun = 99 }").unwrap();
        assert_eq!(s.timeout_seconds("payrun"), 99);
        assert_eq!(s.timeout_seconds("outbox"), 10);
        let cfg = |text: &str| {
            let c = Config::parse(
                &format!("[schedule]\n{text}\n"),
                std::path::Path::new("x.toml"),
            )
            .unwrap();
            ScheduleSettings::from_config(&c)
        };
        assert!(cfg("timeouts = { payroll = 5 }").is_err());
        assert!(cfg("max_attempts = 0").is_err());
        assert!(cfg("retry_base_seconds = 0").is_err());
        assert!(cfg("retry_base_seconds = 5").is_ok());
    }
}
