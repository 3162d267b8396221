//! The ledger's use cases besides the payment run, one function each: importing workbooks,
//! listing and voiding changes, voiding appointments, explaining a person's months, queuing
//! reminders, and the mail: the outbox and the inbox.

use super::error::{Class, JobError};
use super::session::Session;
use crate::rules::{Month, Reporter};
use chrono::NaiveDate;
use std::path::PathBuf;

pub use crate::inbox::{HeldMessage, ScanReport};
pub use crate::jobs::import::ImportReport;
pub use crate::mail::SendReport;
pub use crate::store::ChangeRecord;

/// Imports roster workbooks (each file all or nothing), under the `[input]` limits.
pub async fn import_roster(
    s: &Session,
    files: &[PathBuf],
    progress: bool,
) -> Result<ImportReport, JobError> {
    let limits = input_limits(s)?;
    Ok(
        crate::jobs::import::import_roster_with(&s.store, files, &s.operator, progress, &limits)
            .await?,
    )
}

/// Imports changes workbooks: whole files, or row by row with `accept_valid`; `from_unit`
/// applies a unit's limits (no 恢复待遇, no re-sending a voided change).
pub async fn import_changes(
    s: &Session,
    files: &[PathBuf],
    accept_valid: bool,
    from_unit: bool,
    progress: bool,
) -> Result<ImportReport, JobError> {
    let limits = input_limits(s)?;
    let reporter = if from_unit {
        Reporter::Unit
    } else {
        Reporter::Bureau
    };
    Ok(crate::jobs::import::import_changes_with(
        &s.store,
        files,
        reporter,
        accept_valid,
        &s.rules,
        &s.operator,
        progress,
        &limits,
    )
    .await?)
}

fn input_limits(s: &Session) -> Result<crate::excel::read::InputLimits, JobError> {
    crate::excel::read::InputLimits::from_config(&s.config)
        .map_err(|e| JobError::new(Class::Usage, e))
}

/// A person's recorded changes, voided ones included.
pub async fn changes_of(s: &Session, id_number: &str) -> Result<Vec<ChangeRecord>, JobError> {
    Ok(s.store.list_changes(id_number).await?)
}

/// Voids a change recorded in error (kept, marked void, with the reason).
pub async fn void_change(s: &Session, change_id: i64, reason: &str) -> Result<(), JobError> {
    Ok(s.store.void_change(change_id, reason, &s.operator).await?)
}

/// Voids an appointment recorded in error (kept, marked void, audited).
pub async fn void_appointment(
    s: &Session,
    id_number: &str,
    approval_date: NaiveDate,
    reason: &str,
) -> Result<(), JobError> {
    Ok(s.store
        .void_appointment(
            id_number,
            approval_date,
            reason,
            &s.operator,
            &crate::store::now_text(),
        )
        .await?)
}

/// Why each month of a person earned what it did, as text for the terminal.
pub async fn explain(
    s: &Session,
    id_number: &str,
    month: Option<Month>,
) -> Result<String, JobError> {
    Ok(s.store.explain(id_number, month, &s.rules).await?.render())
}

/// Queues the reminders due on each day from `from` to `to`: (queued, queued before).
pub async fn remind(
    s: &Session,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(usize, usize), JobError> {
    if from > to {
        return Err(JobError::usage(format!("--since {from} is after {to}")));
    }
    let r = crate::jobs::remind::remind_range(&s.store, &s.config, &s.rules, from, to).await?;
    Ok((r.queued, r.already))
}

/// The outbox's counts: (queued, sent, parked).
pub async fn outbox_counts(s: &Session) -> Result<(i64, i64, i64), JobError> {
    Ok(crate::mail::outbox::counts(&s.store).await?)
}

/// What `outbox send` did.
pub struct Delivery {
    /// Parked messages put back in the queue first (`--requeue-parked`).
    pub requeued: Option<u64>,
    pub report: SendReport,
    /// Where mail was written when no SMTP server is configured.
    pub written_to: Option<PathBuf>,
}

/// Delivers what is due (after putting parked messages back, when asked).
pub async fn send_outbox(s: &Session, requeue_parked: bool) -> Result<Delivery, JobError> {
    let settings = crate::mail::MailSettings::from_config(&s.config)?;
    let requeued = if requeue_parked {
        Some(crate::mail::outbox::requeue_parked(&s.store).await?)
    } else {
        None
    };
    let report = crate::mail::outbox::send_due(&s.store, &settings, chrono::Utc::now()).await?;
    Ok(Delivery {
        requeued,
        report,
        written_to: settings
            .smtp_host
            .is_none()
            .then(|| settings.outbox_dir.clone()),
    })
}

/// Takes in the inbox's new messages and files.
pub async fn inbox_scan(s: &Session) -> Result<ScanReport, JobError> {
    Ok(crate::inbox::scan(&s.store, &s.config, &s.rules, &s.operator).await?)
}

/// Messages held until a clerk accepts them.
pub async fn inbox_held(s: &Session) -> Result<Vec<HeldMessage>, JobError> {
    Ok(crate::inbox::held(&s.store).await?)
}

/// A clerk accepts a held message: it is taken in as a vouched-for one.
pub async fn inbox_accept(s: &Session, id: i64) -> Result<ScanReport, JobError> {
    Ok(crate::inbox::accept(&s.store, &s.config, &s.rules, id, &s.operator).await?)
}
