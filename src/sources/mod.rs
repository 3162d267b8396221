//! Database sources (`[[source]]`): the roster or status changes read straight from the
//! personnel system's PostgreSQL or MySQL/MariaDB database, with the same checks and the same
//! error report as a workbook import.
//!
//! - [`config`]: the `[[source]]` tables, checked when the configuration is loaded;
//! - [`map`]: the pure core: the SELECT, and a source row turned into a roster or change entry
//!   by the workbook's own row checks;
//! - [`read`]: one read-only snapshot transaction per pull, rows streamed as text;
//! - [`state`]: what the ledger remembers of each source (pulls, watermark, row keys);
//! - [`report`]: problems named by source, row key and column; error workbooks; notices;
//! - [`pull`](mod@pull): a pull, end to end.
//!
//! A roster pull is all or nothing (one ledger transaction, [`crate::store::roster`]); a
//! changes pull is row by row (`record_changes` with `accept_valid`). Incremental where a
//! watermark column is configured: only rows above the recorded watermark are read; a full pull
//! (the first, every `full_every_days`, or `--full`) also finds rows gone from the source and
//! reports them to the bureau once each, never voiding anything. A pull that finds nothing new
//! records nothing in the ledger.

pub mod config;
pub mod map;
pub mod pull;
pub mod read;
pub mod report;
pub mod state;

pub use config::{sources_of, SourceConfig, SourceConfigError, SourceKind};
pub use pull::{pull, PullOptions, PullReport};
pub use report::SourceProblem;
pub use state::SourceState;

/// A pull that could not be made (nothing was recorded): exit status 3, or 2 for a usage or
/// configuration error. Its text never holds a password, and ID-like numbers are masked.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source `{name}` ({url}) cannot be reached: {reason}")]
    Unreachable {
        name: String,
        url: String,
        reason: String,
    },
    #[error("source `{name}` ({url}): reading it failed: {reason}")]
    Read {
        name: String,
        url: String,
        reason: String,
    },
    #[error("no source named `{0}` in the configuration; the sources are: {1}")]
    Unknown(String, String),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] SourceConfigError),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Outbox(#[from] sqlx::Error),
    #[error(transparent)]
    ErrorWorkbook(#[from] crate::excel::errors::ErrorWorkbookError),
    #[error("{0}")]
    Mail(#[from] crate::mail::settings::SettingsError),
}

impl SourceError {
    /// The exit status of docs/contract.md: 2 for configuration and usage, else 3.
    pub fn exit_code(&self) -> u8 {
        match self {
            SourceError::Unknown(..)
            | SourceError::Usage(_)
            | SourceError::Config(_)
            | SourceError::Mail(_) => 2,
            _ => 3,
        }
    }
}
