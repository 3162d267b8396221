//! The payment run's use cases, one function each, called by the command line and the daemon:
//! [`compute`] a draft, [`approve`] it with its notices (one transaction), [`show`] a run, and
//! [`export`] an approved run's files with the finance office's notice.

use super::error::JobError;
use super::session::Session;
use std::path::{Path, PathBuf};

pub use crate::store::payrun::{RunKind, RunPolicy, RunSummary};
pub use crate::store::{RunPerson, RunView};

/// Computes (or recomputes) the draft run of `year` as the session's operator.
pub async fn compute(
    s: &Session,
    year: i32,
    supplementary: impl Into<RunKind>,
    progress: &indicatif::ProgressBar,
) -> Result<RunSummary, JobError> {
    let who = Actor {
        operator: &s.operator,
        today: s.today,
    };
    compute_with(
        &s.store,
        &s.rules,
        s.run_policy(),
        who,
        year,
        supplementary,
        progress,
    )
    .await
}

/// Who acts, and on which day.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub operator: &'a str,
    pub today: chrono::NaiveDate,
}

/// [`compute`] over the parts the daemon holds (its scheduled run computes as `daemon`).
pub async fn compute_with(
    store: &crate::store::Store,
    rules: &crate::rules::RulesConfig,
    policy: RunPolicy,
    who: Actor<'_>,
    year: i32,
    supplementary: impl Into<RunKind>,
    progress: &indicatif::ProgressBar,
) -> Result<RunSummary, JobError> {
    Ok(store
        .compute_run(
            year,
            supplementary,
            who.operator,
            who.today,
            rules,
            policy,
            progress,
        )
        .await?)
}

/// Approves the draft run of `year` as the session's operator and, in the same transaction,
/// queues the units' notices, the recovery notices and the policy notice. Returns the run's
/// number and how many notices were queued.
pub async fn approve(s: &Session, year: i32) -> Result<(i64, usize), JobError> {
    let settings = crate::mail::MailSettings::from_config(&s.config)?;
    let units = crate::jobs::notices::unit_emails(&s.store).await?;
    let last_day = s.rules.policy.last_day();
    let today = s.today;
    Ok(s.store
        .approve_run_with(
            year,
            &s.operator,
            s.run_policy(),
            &s.rules,
            s.rules.offset_recoveries,
            move |view, reasons| {
                crate::jobs::notices::run_notices(view, reasons, &units, &settings, last_day, today)
                    .map_err(|e| e.to_string())
            },
        )
        .await?)
}

/// The run `run` of `year` (the latest when None).
pub async fn show(s: &Session, year: i32, run: Option<i64>) -> Result<RunView, JobError> {
    Ok(s.store
        .show_run(year, run, s.rules.offset_recoveries)
        .await?)
}

/// What an export did.
#[derive(Debug, Clone, Default)]
pub struct Exported {
    /// One line per file written (or found unchanged), for the terminal.
    pub lines: Vec<String>,
    pub files: Vec<PathBuf>,
    /// The finance office's notice was queued now (false: it was queued before).
    pub notice_queued: bool,
}

/// Exports an approved run (bank files and summary) and queues the finance office's notice
/// (once: the outbox key is the run).
pub async fn export(
    s: &Session,
    year: i32,
    run: Option<i64>,
    output: Option<&Path>,
) -> Result<Exported, JobError> {
    let who = Actor {
        operator: &s.operator,
        today: s.today,
    };
    export_with(&s.store, &s.config, who, year, run, output).await
}

/// [`export`] over the parts the daemon holds (its export job exports as `daemon`).
pub async fn export_with(
    store: &crate::store::Store,
    config: &crate::config::Config,
    who: Actor<'_>,
    year: i32,
    run: Option<i64>,
    output: Option<&Path>,
) -> Result<Exported, JobError> {
    let r = crate::jobs::export::export_run(store, config, year, run, output, who.operator).await?;
    let settings = crate::mail::MailSettings::from_config(config)?;
    let queued = crate::jobs::notices::queue_finance_notice(
        store,
        year,
        run,
        config.payment.offset_recoveries,
        r.totals,
        &r.files,
        &settings,
        who.today,
    )
    .await?;
    Ok(Exported {
        lines: r.lines,
        files: r.files,
        notice_queued: queued,
    })
}
