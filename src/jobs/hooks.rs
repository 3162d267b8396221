//! The daemon's jobs that call into the inbox and the exporter.

use super::daemon::Runner;
use chrono::NaiveDate;

/// The inbox job: takes in units' e-mailed reports (when an inbox is configured).
pub async fn inbox_scan(runner: &Runner) -> Result<String, String> {
    if runner.cfg.other.get("inbox").is_none() {
        return Ok("no [inbox] configured".into());
    }
    let r = crate::inbox::scan(&runner.store, &runner.cfg, &runner.rules, "daemon")
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "{} taken in, {} held, {} refused, {} duplicates, {} rows refused",
        r.taken_in, r.held, r.refused, r.skipped_duplicates, r.rows_refused
    ))
}

/// The export job: exports approved runs not yet exported and tells the finance office.
pub async fn export_approved(_runner: &Runner, _today: NaiveDate) -> Result<String, String> {
    Err("automatic export is not available in this build".into())
}
