//! The forecast's use cases: [`forecast`] reads the ledger (read-only) and calls the pure
//! arithmetic of [`crate::rules::forecast`]; [`write_forecast`] writes the workbook.

use super::error::JobError;
use super::session::Session;
use crate::excel::forecast::{write_forecast_workbook, ForecastLabels};
use std::path::{Path, PathBuf};

pub use crate::rules::forecast::{Forecast, ForecastError, ForecastParams, YearForecast};

/// What each year of `params`'s window will cost, from the session's ledger and rules, as of
/// the session's day. Parameters that cannot be used are a usage error (exit status 2).
pub async fn forecast(s: &Session, params: ForecastParams) -> Result<Forecast, JobError> {
    let input = s.store.forecast_input().await?;
    crate::rules::forecast::forecast(&input, &params, &s.rules, s.today)
        .map_err(|e| JobError::usage(e.to_string()))
}

/// Where the workbook goes without `-o`: `[paths] reports/forecast-2027-2030.xlsx`.
pub fn default_path(f: &Forecast, config: &crate::config::Config) -> PathBuf {
    config
        .paths
        .reports
        .join(format!("forecast-{}-{}.xlsx", f.from, f.to))
}

/// Writes the forecast workbook to `path` (a new file replacing any there, written to a
/// temporary file in the same folder first); titles from `[export]` of the configuration.
pub fn write_forecast(
    f: &Forecast,
    config: &crate::config::Config,
    path: &Path,
) -> Result<PathBuf, JobError> {
    let labels = ForecastLabels {
        program: config.export.program.clone(),
        organization: config.export.organization.clone(),
        created: f.today.and_hms_opt(0, 0, 0).expect("midnight"),
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let io = |e: std::io::Error| JobError::outside(format!("cannot write {}: {e}", path.display()));
    std::fs::create_dir_all(&dir).map_err(io)?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
    write_forecast_workbook(f, &labels, tmp.as_file_mut())
        .map_err(|e| JobError::outside(format!("cannot write {}: {e}", path.display())))?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(path.to_path_buf())
}

/// The lines `chieftech forecast` prints: one per year, then the totals.
pub fn report_lines(f: &Forecast) -> Vec<String> {
    use crate::rules::money::fen_grouped;
    let mut out = Vec::new();
    for y in &f.years {
        let mut line = format!(
            "{}: {} yuan ({} on the roster, {} people; {} new, {} people)",
            y.year,
            fen_grouped(y.total_fen()),
            fen_grouped(y.roster_fen),
            y.roster_people,
            fen_grouped(y.new_fen),
            y.new_people
        );
        if y.uncovered_months > 0 {
            line.push_str(&format!(
                "; {} uncovered appointment-months, {} yuan not in the cost",
                y.uncovered_months,
                fen_grouped(y.uncovered_fen)
            ));
        }
        if let Some(p) = y.paid_by_runs {
            line.push_str(&format!("; approved runs paid {}", fen_grouped(p)));
        }
        out.push(line);
    }
    let (roster, new, uncovered) = f.totals();
    out.push(format!(
        "total {}-{}: {} yuan ({}); uncovered months: {} yuan",
        f.from,
        f.to,
        fen_grouped(roster + new),
        crate::rules::money::capitals(roster + new),
        fen_grouped(uncovered)
    ));
    out
}
