//! The `[mail]` and `[reminders]` tables of the configuration. Every key is optional.
//! The SMTP password comes from the environment (`CHIEFTECH_SMTP_PASSWORD`), never a file.

use crate::config::Config;
use crate::rules::reminders::ReminderSchedule;
use serde::Deserialize;
use std::path::PathBuf;

/// How to reach the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS (port 587); the default.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (a relay on the same host, or tests on loopback).
    None,
}

/// Mail settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    #[serde(default = "default_from")]
    pub from: String,
    /// The bureau's address (reminders, run notices).
    #[serde(default = "default_bureau")]
    pub bureau: String,
    /// The finance office's address (payment file ready).
    #[serde(default = "default_finance")]
    pub finance: String,
    /// SMTP server; without it, mail is written as .eml files to `outbox_dir`.
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub smtp_security: Security,
    pub smtp_username: Option<String>,
    #[serde(default = "default_outbox")]
    pub outbox_dir: PathBuf,
    #[serde(default = "default_templates")]
    pub templates: PathBuf,
    /// Attach the bank file (full ID and account numbers) to the finance office's notice.
    #[serde(default)]
    pub attach_bank_file: bool,
    /// Failed deliveries are retried this many times, then parked.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// The first retry delay in seconds; each retry doubles it.
    #[serde(default = "default_retry")]
    pub retry_seconds: u64,
}

fn default_from() -> String {
    "张店区人力资源和社会保障局 <rsj@zhangdian.example>".into()
}
fn default_bureau() -> String {
    "rsj@zhangdian.example".into()
}
fn default_finance() -> String {
    "czj@zhangdian.example".into()
}
fn default_outbox() -> PathBuf {
    PathBuf::from("reports/outbox")
}
fn default_templates() -> PathBuf {
    PathBuf::from("config/templates")
}
fn default_attempts() -> u32 {
    8
}
fn default_retry() -> u64 {
    60
}

impl Default for MailSettings {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RemindersToml {
    #[serde(default = "term_days")]
    term_expiry_days: Vec<u32>,
    #[serde(default = "policy_days")]
    policy_expiry_days: Vec<u32>,
    #[serde(default = "run_request")]
    run_request: String,
    #[serde(default = "nominations")]
    nominations: String,
}
fn term_days() -> Vec<u32> {
    vec![90, 30, 0]
}
fn policy_days() -> Vec<u32> {
    vec![180, 90, 30]
}
fn run_request() -> String {
    "11-01".into()
}
fn nominations() -> String {
    "04-01".into()
}

/// A `[mail]` or `[reminders]` table that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration table [{table}]: {message}")]
pub struct SettingsError {
    pub table: &'static str,
    pub message: String,
}

impl MailSettings {
    /// Reads `[mail]` from the configuration (defaults when absent).
    pub fn from_config(cfg: &Config) -> Result<MailSettings, SettingsError> {
        match cfg.other.get("mail") {
            None => Ok(MailSettings::default()),
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| SettingsError {
                    table: "mail",
                    message: e.to_string(),
                }),
        }
    }

    /// The SMTP password, from `CHIEFTECH_SMTP_PASSWORD`.
    pub fn smtp_password() -> Option<String> {
        std::env::var("CHIEFTECH_SMTP_PASSWORD").ok()
    }
}

/// Reads `[reminders]` from the configuration (docs/rules.md defaults when absent).
pub fn reminder_schedule(cfg: &Config) -> Result<ReminderSchedule, SettingsError> {
    let t: RemindersToml = match cfg.other.get("reminders") {
        None => toml::from_str("").expect("defaults"),
        Some(v) => v
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| SettingsError {
                table: "reminders",
                message: e.to_string(),
            })?,
    };
    let md = |s: &str| -> Result<(u32, u32), SettingsError> {
        let err = || SettingsError {
            table: "reminders",
            message: format!("`{s}` is not a month and day like 11-01"),
        };
        let (m, d) = s.split_once('-').ok_or_else(err)?;
        let (m, d): (u32, u32) = (m.parse().map_err(|_| err())?, d.parse().map_err(|_| err())?);
        chrono::NaiveDate::from_ymd_opt(2024, m, d).ok_or_else(err)?;
        Ok((m, d))
    };
    Ok(ReminderSchedule {
        term_expiry_days: t.term_expiry_days,
        policy_expiry_days: t.policy_expiry_days,
        run_request: md(&t.run_request)?,
        nominations: md(&t.nominations)?,
    })
}
