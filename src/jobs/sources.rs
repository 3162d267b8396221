//! The database sources' use cases: `chieftech sources pull [NAME] [--full]`,
//! `chieftech sources list`, and the daemon's `sources` job.

use super::error::{Class, JobError};
use super::session::Session;
use crate::config::Config;
use crate::rules::RulesConfig;
use crate::sources::{sources_of, PullOptions, PullReport, SourceConfig, SourceError, SourceState};
use crate::store::Store;
use chrono::NaiveDate;

pub use crate::sources::SourceProblem;

impl From<SourceError> for JobError {
    fn from(e: SourceError) -> Self {
        let class = if e.exit_code() == 2 {
            Class::Usage
        } else {
            Class::Outside
        };
        JobError::new(class, e)
    }
}

/// What `sources pull` did: a report per source pulled, and the sources that could not be
/// pulled with the reason (the others were pulled all the same).
#[derive(Debug, Default)]
pub struct PullAll {
    pub reports: Vec<PullReport>,
    pub failures: Vec<(String, SourceError)>,
}

impl PullAll {
    /// Rows were refused somewhere (exit status 1).
    pub fn refused(&self) -> bool {
        self.reports.iter().any(|r| r.refused)
    }
}

/// The configured sources, or the one named.
fn chosen(cfg: &Config, name: Option<&str>) -> Result<Vec<SourceConfig>, SourceError> {
    let all = sources_of(cfg)?;
    match name {
        None => Ok(all),
        Some(n) => match all.iter().find(|s| s.name == n) {
            Some(s) => Ok(vec![s.clone()]),
            None => {
                let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
                let names = if names.is_empty() {
                    "(none: add a [[source]] table)".to_string()
                } else {
                    names.join(", ")
                };
                Err(SourceError::Unknown(n.to_string(), names))
            }
        },
    }
}

/// Pulls every source, or the one named, each on its own: a source that cannot be pulled is
/// listed in `failures` and the others go on.
pub async fn pull_sources(
    store: &Store,
    cfg: &Config,
    rules: &RulesConfig,
    name: Option<&str>,
    opts: &PullOptions,
) -> Result<PullAll, SourceError> {
    let mut out = PullAll::default();
    for s in chosen(cfg, name)? {
        match crate::sources::pull(store, cfg, rules, &s, opts).await {
            Ok(r) => out.reports.push(r),
            Err(e) => {
                tracing::error!(source = %s.name, error = %e, "source not pulled");
                out.failures.push((s.name.clone(), e));
            }
        }
    }
    Ok(out)
}

/// `chieftech sources pull [NAME] [--full]`.
pub async fn pull(s: &Session, name: Option<&str>, full: bool) -> Result<PullAll, JobError> {
    let opts = PullOptions {
        full,
        operator: s.operator.clone(),
        today: s.today,
    };
    Ok(pull_sources(&s.store, &s.config, &s.rules, name, &opts).await?)
}

/// A source as `sources list` shows it.
#[derive(Debug, Clone)]
pub struct SourceListing {
    pub config: SourceConfig,
    /// The URL without a password.
    pub url: String,
    pub state: SourceState,
}

/// `chieftech sources list`: every configured source with what the ledger remembers of it.
pub async fn list(s: &Session) -> Result<Vec<SourceListing>, JobError> {
    let mut out = Vec::new();
    for c in sources_of(&s.config).map_err(|e| JobError::new(Class::Usage, e))? {
        let state = crate::sources::state::load(&s.store, &c.name).await?;
        out.push(SourceListing {
            url: crate::store::redact(&c.url),
            config: c,
            state,
        });
    }
    Ok(out)
}

/// The daemon's `sources` job: pulls every source; the run fails (and is retried at the
/// next attempt) when any source could not be pulled, naming each with its reason.
pub async fn sources_job(
    store: &Store,
    cfg: &Config,
    rules: &RulesConfig,
    today: NaiveDate,
) -> Result<String, String> {
    let opts = PullOptions {
        full: false,
        operator: "daemon".into(),
        today,
    };
    let all = pull_sources(store, cfg, rules, None, &opts)
        .await
        .map_err(|e| e.to_string())?;
    if all.reports.is_empty() && all.failures.is_empty() {
        return Ok("no [[source]] configured".into());
    }
    let done: Vec<String> = all
        .reports
        .iter()
        .map(|r| {
            format!(
                "{}: pull {}, {} rows{}{}",
                r.source,
                r.pull,
                r.rows_read,
                if r.recorded {
                    ", recorded"
                } else {
                    ", nothing new"
                },
                if r.refused {
                    ", rows refused (bureau told)"
                } else {
                    ""
                }
            )
        })
        .collect();
    if all.failures.is_empty() {
        return Ok(done.join("; "));
    }
    let failed: Vec<String> = all.failures.iter().map(|(_, e)| e.to_string()).collect();
    Err(format!(
        "{}{}",
        failed.join("; "),
        if done.is_empty() {
            String::new()
        } else {
            format!(" (pulled: {})", done.join("; "))
        }
    ))
}
