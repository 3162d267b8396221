//! chieftech: the Zhangdian District chief technician (首席技师) allowance, end to end.
//!
//! The architecture is a functional core and an imperative shell:
//! - [`rules`]: the pure rules of docs/rules.md (no I/O, no clock);
//! - [`config`]: configuration files;
//! - [`input`]: the parsed input rows (roster, units, changes) between adapters and the store;
//! - [`store`]: the ledger in SQLite or PostgreSQL (sqlx);
//! - [`excel`]: workbooks in and out;
//! - [`sources`]: the roster and changes read from the personnel system's database;
//! - [`jobs`]: import, export, sample data;
//! - [`cli`]: the command line.

pub mod cli;
pub mod config;
pub mod excel;
pub mod inbox;
pub mod input;
pub mod jobs;
pub mod mail;
pub mod rules;
pub mod sources;
pub mod store;
pub mod telemetry;
