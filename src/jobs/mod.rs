//! The jobs a command or the scheduler runs: thin shells around the rules, the store and the
//! Excel adapters.
//!
//! - [`import`]: roster and changes workbooks into the ledger;
//! - [`export`]: an approved run's bank files and summary;
//! - [`sample`]: synthetic input workbooks;
//! - [`notices`]: the e-mails a payment run causes;
//! - [`remind`]: lifecycle reminders due on a date;
//! - [`selection`]: the yearly selection round, nomination to appointment;
//! - [`sources`]: pulls of the `[[source]]` databases (command line and daemon);
//! - [`session`], [`error`]: what every use case works in, and its one error type;
//! - [`payrun`], [`ledger`]: the use cases the command line and the daemon call.

pub mod daemon;
pub mod demo;
pub mod error;
pub mod export;
pub mod forecast;
pub mod hooks;
pub mod import;
pub mod ledger;
pub mod notices;
pub mod payrun;
pub mod plan;
pub mod reconcile;
pub mod recovery;
pub mod remind;
pub mod sample;
pub mod selection;
pub mod session;
pub mod sources;
