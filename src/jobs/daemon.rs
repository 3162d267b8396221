//! `chieftech daemon` and `chieftech jobs`: runs every scheduled job on time.
//!
//! tokio-cron-scheduler (Asia/Shanghai) only wakes the daemon; what runs is decided by the pure
//! [`plan`](super::plan) from the `job_runs` table, so a time missed while the daemon was down is
//! caught up once at start-up (or reported missed after the deadline). Each (job, scheduled
//! time) is claimed with a unique row, so several daemons on one PostgreSQL database run it
//! exactly once; a lock row per job keeps a job from overlapping itself. On SQLite a second
//! daemon refuses to start (an OS lock on a file beside the database). SIGTERM/SIGINT: the
//! running job finishes (or its transaction rolls back), then the daemon stops.

use super::plan::{plan, JobSchedule, ScheduleError};
use crate::config::Config;
use crate::mail::MailSettings;
use crate::rules::RulesConfig;
use crate::store::payrun::RunPolicy;
use crate::store::{Backend, Store};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use serde::Deserialize;
use sqlx::Row;
use std::collections::BTreeMap;

/// The jobs the daemon knows.
pub const JOBS: [&str; 5] = ["inbox", "outbox", "remind", "payrun", "export"];

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
    /// Export approved runs and notify the finance office automatically.
    #[serde(default)]
    pub export_after_approval: bool,
    /// A scheduled time older than this when the daemon notices it is reported missed.
    #[serde(default = "d_catch_up")]
    pub catch_up_hours: i64,
    /// A claimed job whose daemon sends no heartbeat for this long is run again elsewhere.
    #[serde(default = "d_lease")]
    pub lease_seconds: i64,
}

fn d_lease() -> i64 {
    120
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
    #[error("unknown job `{0}`: the jobs are inbox, outbox, remind, payrun, export")]
    UnknownJob(String),
}

impl ScheduleSettings {
    pub fn from_config(cfg: &Config) -> Result<ScheduleSettings, DaemonError> {
        match cfg.other.get("schedule") {
            None => Ok(toml::from_str("").expect("defaults")),
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| DaemonError::Settings(e.to_string())),
        }
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
        ] {
            if expr.trim().is_empty() || (job == "export" && !self.export_after_approval) {
                continue;
            }
            v.push(JobSchedule::parse(job, expr)?);
        }
        Ok(v)
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
    /// Runs one job for a scheduled time (`today` is that time's date in Shanghai).
    pub async fn execute(&self, job: &str, today: NaiveDate) -> Result<String, String> {
        let e = |x: &dyn std::fmt::Display| x.to_string();
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
                // down are caught up (each notice once: the outbox keys see to that).
                let last = sqlx::query(
                    "SELECT MAX(scheduled_at) FROM job_runs WHERE job = 'remind' AND status = 'ok' AND scheduled_at NOT LIKE 'manual%'",
                )
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
            "payrun" => self.payrun(today).await,
            "inbox" => self.inbox().await,
            "export" => self.export(today).await,
            other => Err(format!("unknown job `{other}`")),
        }
    }

    async fn payrun(&self, today: NaiveDate) -> Result<String, String> {
        use chrono::Datelike;
        let year = today.year();
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
        let s = self
            .store
            .compute_run(
                year,
                false,
                "daemon",
                today,
                &self.rules,
                self.policy,
                &indicatif::ProgressBar::hidden(),
            )
            .await
            .map_err(|x| x.to_string())?;
        // Tell the bureau the draft awaits approval.
        let mail = MailSettings::from_config(&self.cfg).map_err(|x| x.to_string())?;
        let mut v = BTreeMap::new();
        v.insert("year", year.to_string());
        v.insert("run", s.seq.to_string());
        v.insert("computed_by", "chieftech daemon".to_string());
        v.insert("paid", crate::rules::money::fen_grouped(s.paid));
        v.insert("recovered", crate::rules::money::fen_grouped(-s.recovered));
        v.insert("uncovered", s.uncovered_months.to_string());
        v.insert("date", today.to_string());
        let r = crate::mail::templates::render(&mail.templates, "bureau_draft", &v)
            .map_err(|x| x.to_string())?;
        let mut conn = self
            .store
            .pool()
            .acquire()
            .await
            .map_err(|x| x.to_string())?;
        crate::mail::queue(
            &mut conn,
            &crate::mail::Notice {
                key: format!("draft:{year}:{}", s.seq),
                to: vec![mail.bureau.clone()],
                subject: r.subject,
                body: r.body,
                attachments: vec![],
            },
        )
        .await
        .map_err(|x| x.to_string())?;
        Ok(format!(
            "draft {year}/{} computed: {} items",
            s.seq, s.items
        ))
    }

    async fn inbox(&self) -> Result<String, String> {
        crate::jobs::hooks::inbox_scan(self).await
    }

    async fn export(&self, today: NaiveDate) -> Result<String, String> {
        crate::jobs::hooks::export_approved(self, today).await
    }

    /// Claims (job, time): true when this daemon is to run it.
    async fn claim(
        &self,
        job: &str,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let r = sqlx::query("INSERT INTO job_runs (job, scheduled_at, status, owner, started_at, heartbeat_at) VALUES ($1, $2, 'running', $3, $4, $4) ON CONFLICT (job, scheduled_at) DO NOTHING")
            .bind(job)
            .bind(ts(at))
            .bind(&self.owner)
            .bind(ts(now))
            .execute(self.store.pool())
            .await?;
        if r.rows_affected() == 1 {
            return Ok(true);
        }
        // A claim whose daemon died (no heartbeat within the lease) is taken over.
        let stale = ts(now - Duration::seconds(self.settings.lease_seconds));
        let r = sqlx::query("UPDATE job_runs SET owner = $1, heartbeat_at = $2, started_at = $2 WHERE job = $3 AND scheduled_at = $4 AND status = 'running' AND heartbeat_at < $5")
            .bind(&self.owner)
            .bind(ts(now))
            .bind(job)
            .bind(ts(at))
            .bind(stale)
            .execute(self.store.pool())
            .await?;
        Ok(r.rows_affected() == 1)
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

    /// Runs a claimed (job, time) with a heartbeat, and records the outcome.
    pub async fn run_claimed(
        &self,
        job: &str,
        at: DateTime<Utc>,
        today: NaiveDate,
    ) -> Result<(), sqlx::Error> {
        let beat = self.heartbeat(job, &ts(at));
        tracing::info!(job, scheduled = %ts(at), "job started");
        let result = self.execute(job, today).await;
        beat.abort();
        self.record_outcome(job, &ts(at), &result).await
    }

    /// Keeps a running job's claim and lock alive until aborted.
    fn heartbeat(&self, job: &str, at_text: &str) -> tokio::task::JoinHandle<()> {
        let pool = self.store.pool().clone();
        let (job_s, at_s, owner) = (job.to_string(), at_text.to_string(), self.owner.clone());
        let lease = self.settings.lease_seconds;
        let beat_every = std::time::Duration::from_secs((lease as u64 / 4).max(1));
        tokio::spawn(async move {
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
        })
    }

    /// Records how a claimed run ended.
    async fn record_outcome(
        &self,
        job: &str,
        at_text: &str,
        result: &Result<String, String>,
    ) -> Result<(), sqlx::Error> {
        let (status, outcome) = match result {
            Ok(s) => ("ok", s.clone()),
            Err(e) => ("failed", e.clone()),
        };
        match &result {
            Ok(s) => tracing::info!(job, scheduled = %at_text, outcome = %s, "job finished"),
            Err(e) => tracing::error!(job, scheduled = %at_text, error = %e, "job failed"),
        }
        sqlx::query("UPDATE job_runs SET status = $1, outcome = $2, finished_at = $3 WHERE job = $4 AND scheduled_at = $5 AND owner = $6")
            .bind(status)
            .bind(outcome)
            .bind(ts(Utc::now()))
            .bind(job)
            .bind(at_text)
            .bind(&self.owner)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// One pass: record missed times, run what is due (catch-ups included).
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<usize, DaemonError> {
        let schedules = self.settings.schedules()?;
        let since = self.installed_at(now).await?;
        let mut last: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        for r in sqlx::query("SELECT job, MAX(scheduled_at) FROM job_runs WHERE scheduled_at NOT LIKE 'manual%' GROUP BY job")
            .fetch_all(self.store.pool())
            .await?
        {
            if let Some(t) = r.try_get::<Option<String>, _>(1)?.as_deref().and_then(parse_ts) {
                last.insert(r.try_get(0)?, t);
            }
        }
        // Claims of dead daemons are run again (jobs are idempotent).
        let stale = ts(now - Duration::seconds(self.settings.lease_seconds));
        let mut due: Vec<(String, DateTime<Utc>)> = Vec::new();
        for r in sqlx::query(
            "SELECT job, scheduled_at FROM job_runs WHERE status = 'running' AND heartbeat_at < $1",
        )
        .bind(stale)
        .fetch_all(self.store.pool())
        .await?
        {
            if let Some(t) = parse_ts(&r.try_get::<String, _>(1)?) {
                due.push((r.try_get(0)?, t));
            }
        }
        let p = plan(
            &schedules,
            &|j| last.get(j).copied(),
            since,
            now,
            Duration::hours(self.settings.catch_up_hours),
        );
        for (job, at) in &p.missed {
            let r = sqlx::query("INSERT INTO job_runs (job, scheduled_at, status, owner, finished_at, outcome) VALUES ($1, $2, 'missed', $3, $4, $5) ON CONFLICT (job, scheduled_at) DO NOTHING")
                .bind(job)
                .bind(ts(*at))
                .bind(&self.owner)
                .bind(ts(now))
                .bind(format!("missed: the daemon was down past the {}-hour catch-up deadline; run it by hand with `chieftech jobs run {job}`", self.settings.catch_up_hours))
                .execute(self.store.pool())
                .await?;
            if r.rows_affected() == 1 {
                tracing::warn!(job, scheduled = %ts(*at), "scheduled time missed (past the catch-up deadline)");
            }
        }
        due.extend(p.run);
        let mut ran = 0;
        for (job, at) in due {
            if !self.lock(&job, now).await? {
                continue; // running elsewhere: never overlap
            }
            let claimed = self.claim(&job, at, now).await;
            let outcome = match claimed {
                Ok(true) => {
                    ran += 1;
                    let today = at.with_timezone(&Shanghai).date_naive();
                    self.run_claimed(&job, at, today).await
                }
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            self.unlock(&job).await?;
            outcome?;
        }
        Ok(ran)
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

    /// `jobs run NAME`: runs a job now, by hand, recorded like a scheduled run.
    pub async fn run_by_hand(&self, job: &str, today: NaiveDate) -> Result<String, DaemonError> {
        if !JOBS.contains(&job) {
            return Err(DaemonError::UnknownJob(job.into()));
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
        let result = self.execute(job, today).await;
        beat.abort();
        self.record_outcome(job, &at_text, &result).await?;
        self.unlock(job).await?;
        result.map_err(DaemonError::Scheduler)
    }
}

/// A row of `jobs list`.
#[derive(Debug, Clone)]
pub struct JobStatus {
    pub job: String,
    pub schedule: String,
    pub last: Option<(String, String, String)>,
    pub next: Option<DateTime<Utc>>,
}

/// `jobs list`: schedule, last run and outcome, next run.
pub async fn list(runner: &Runner, now: DateTime<Utc>) -> Result<Vec<JobStatus>, DaemonError> {
    let schedules = runner.settings.schedules()?;
    let mut out = Vec::new();
    for job in JOBS {
        let s = schedules.iter().find(|s| s.job == job);
        let last = sqlx::query("SELECT scheduled_at, status, COALESCE(outcome, '') FROM job_runs WHERE job = $1 ORDER BY id DESC LIMIT 1")
            .bind(job)
            .fetch_optional(runner.store.pool())
            .await?
            .map(|r| -> Result<_, sqlx::Error> { Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)) })
            .transpose()?;
        out.push(JobStatus {
            job: job.into(),
            schedule: s
                .map(|s| s.expression.clone())
                .unwrap_or_else(|| "(disabled)".into()),
            last,
            next: s.and_then(|s| s.next_after(now)),
        });
    }
    Ok(out)
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
    let _lock = instance_lock(&runner.store, url)?;
    let schedules = runner.settings.schedules()?;
    tracing::info!(owner = %runner.owner, jobs = schedules.len(), "daemon started");
    // Catch up at start-up.
    runner.tick(Utc::now()).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(64);
    let sched = tokio_cron_scheduler::JobScheduler::new()
        .await
        .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    for s in &schedules {
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
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| DaemonError::Scheduler(e.to_string()))?;
    loop {
        tokio::select! {
            _ = rx.recv() => {}
            // A safety net in case the scheduler stops waking us.
            _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
        // Let a burst of wake-ups for the same second collapse into one pass.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        while rx.try_recv().is_ok() {}
        if let Err(e) = runner.tick(Utc::now()).await {
            tracing::error!(error = %e, "scheduler pass failed; retrying at the next wake-up");
        }
    }
    tracing::info!("daemon stopping: no job is running");
    let mut sched = sched;
    let _ = sched.shutdown().await;
    Ok(())
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
