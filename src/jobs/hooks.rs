//! The daemon's jobs that call into the inbox and the exporter.

use super::daemon::Runner;
use chrono::NaiveDate;

/// The inbox job: takes in units' e-mailed reports (when an inbox is configured).
pub async fn inbox_scan(runner: &Runner) -> Result<String, String> {
    if runner.cfg.other.get("inbox").is_none() {
        return Ok("no [inbox] configured".into());
    }
    Err("the inbox is not available in this build".into())
}

/// The export job: exports approved runs not yet exported and tells the finance office.
pub async fn export_approved(_runner: &Runner, _today: NaiveDate) -> Result<String, String> {
    Err("automatic export is not available in this build".into())
}
