//! What every use case works in: the ledger, the configuration, who acts and on which day.
//! The command line opens one per command; the daemon's runner holds the same parts.

use super::error::{Class, JobError};
use crate::config::Config;
use crate::rules::RulesConfig;
use crate::store::payrun::RunPolicy;
use crate::store::{Store, StoreError};
use chrono::NaiveDate;

/// Makes `--today` the date of everything this process records (the ledger's audit trail,
/// runs, exports, letters) instead of the clock's.
pub fn record_on(day: NaiveDate) {
    crate::store::set_record_day(day);
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    crate::store::redact(url)
}

/// How to open the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// Create (and migrate) the database when missing: commands that record something.
    CreateIfMissing,
    /// Read-only commands: never create one; a missing database is a usage error (exit 2)
    /// naming where it was looked for.
    Existing,
}

/// The ledger and everything a use case needs besides its own arguments.
pub struct Session {
    pub store: Store,
    pub config: Config,
    pub rules: RulesConfig,
    /// The database URL (with its password, if any: show [`Session::database_shown`]).
    pub database: String,
    /// Who acts (`--operator`, default the OS user); recorded with every change.
    pub operator: String,
    /// Today (`--today` stands in for the clock).
    pub today: NaiveDate,
}

impl Session {
    /// Opens the ledger `database` names.
    pub async fn open(
        config: Config,
        database: String,
        operator: String,
        today: NaiveDate,
        open: Open,
    ) -> Result<Session, JobError> {
        let rules = config
            .rules_config()
            .map_err(|e| JobError::new(Class::Usage, e))?;
        let opened = match open {
            Open::CreateIfMissing => Store::connect(&database).await,
            Open::Existing => Store::open_existing(&database).await,
        };
        let store = opened.map_err(|e| match e {
            StoreError::NoDatabase(_) => JobError::new(Class::Usage, e),
            StoreError::Url(_) => JobError::new(Class::Usage, e),
            e => JobError::outside(format!(
                "cannot open the database {}: {e}",
                crate::store::redact(&database)
            )),
        })?;
        Ok(Session {
            store,
            config,
            rules,
            database,
            operator,
            today,
        })
    }

    /// The database URL without its password.
    pub fn database_shown(&self) -> String {
        crate::store::redact(&self.database)
    }

    /// Which database kind the ledger is on (`Sqlite`, `Postgres`).
    pub fn backend_name(&self) -> String {
        format!("{:?}", self.store.backend())
    }

    /// The approval rules of `[payment]`.
    pub fn run_policy(&self) -> RunPolicy {
        RunPolicy {
            allow_supplementary: self.config.payment.allow_supplementary,
            allow_single_operator: self.config.payment.allow_single_operator,
        }
    }
}
