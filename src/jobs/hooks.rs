//! The daemon's jobs that call into the inbox and the exporter. They take what they need as
//! parameters (not the daemon's runner), so this module does not depend on the daemon.

use crate::config::Config;
use crate::rules::RulesConfig;
use crate::store::Store;
use chrono::NaiveDate;

/// The inbox job: takes in units' e-mailed reports (when an inbox is configured).
pub async fn inbox_scan(
    store: &Store,
    cfg: &Config,
    rules: &RulesConfig,
) -> Result<String, String> {
    if cfg.other.get("inbox").is_none() {
        return Ok("no [inbox] configured".into());
    }
    let r = crate::inbox::scan(store, cfg, rules, "daemon")
        .await
        .map_err(|e| e.to_string())?;
    // An item that failed is recorded on the item and retried (then given up and reported to
    // the bureau by mail): the scan itself succeeded, and the next scan goes on.
    Ok(format!(
        "{} taken in, {} held, {} refused, {} duplicates, {} rows refused, {} failed",
        r.taken_in, r.held, r.refused, r.skipped_duplicates, r.rows_refused, r.failed
    ))
}

/// The export job: exports approved runs not yet exported and tells the finance office.
pub async fn export_approved(
    store: &Store,
    cfg: &Config,
    today: NaiveDate,
) -> Result<String, String> {
    use sqlx::Row;
    let e = |x: &dyn std::fmt::Display| x.to_string();
    let rows = sqlx::query("SELECT r.year, r.seq FROM runs r LEFT JOIN exports x ON x.run_id = r.id WHERE r.status = 'approved' AND x.id IS NULL ORDER BY r.year, r.seq")
        .fetch_all(store.pool())
        .await
        .map_err(|x| e(&x))?;
    let who = crate::jobs::payrun::Actor {
        operator: "daemon",
        today,
    };
    let mut done = Vec::new();
    for r in rows {
        let year = r.try_get::<i64, _>(0).map_err(|x| e(&x))? as i32;
        let seq: i64 = r.try_get(1).map_err(|x| e(&x))?;
        crate::jobs::payrun::export_with(store, cfg, who, year, Some(seq), None)
            .await
            .map_err(|x| e(&x))?;
        done.push(format!("{year}/{seq}"));
    }
    Ok(if done.is_empty() {
        "nothing to export".into()
    } else {
        format!("exported {}", done.join(", "))
    })
}
