//! The `[mail]` and `[reminders]` tables of the configuration. Every key is optional.
//! The SMTP password comes from the environment (`CHIEFTECH_SMTP_PASSWORD`), never a file.
//!
//! Every network step of a delivery has a deadline: each SMTP command `command_timeout_seconds`,
//! the whole delivery of one message `send_timeout_seconds`, which must be shorter than the
//! claim a sender holds on the message (`claim_seconds`); [`MailSettings::from_config`]
//! refuses a table where it is not.

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
    /// A PEM file of extra root certificates to trust (a private CA), besides the public roots.
    pub ca_file: Option<PathBuf>,
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
    /// How long a sender's claim on a message lasts; another sender may take it after that.
    #[serde(default = "default_claim")]
    pub claim_seconds: u64,
    /// The deadline of one message's whole delivery (connect, TLS, every command, data).
    #[serde(default = "default_send_timeout")]
    pub send_timeout_seconds: u64,
    /// The deadline of each SMTP command.
    #[serde(default = "default_command_timeout")]
    pub command_timeout_seconds: u64,
    /// Recovery letters (追缴通知): the payee (收款单位) of the account money is paid back to.
    #[serde(default = "default_signature")]
    pub repayment_name: String,
    /// Recovery letters: the bank (开户银行) of that account.
    #[serde(default)]
    pub repayment_bank: String,
    /// Recovery letters: the account number (the bureau's, not a person's: shown in full).
    #[serde(default)]
    pub repayment_account: String,
    /// Who answers questions, in every letter (e.g. `区人社局职业能力建设科 张三 0533-1234567`).
    #[serde(default)]
    pub contact: String,
    /// The sender's name every letter is signed with, above its date.
    #[serde(default = "default_signature")]
    pub signature: String,
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
fn default_signature() -> String {
    "张店区人力资源和社会保障局".into()
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
fn default_claim() -> u64 {
    600
}
fn default_send_timeout() -> u64 {
    120
}
fn default_command_timeout() -> u64 {
    30
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
        let s: MailSettings = match cfg.other.get("mail") {
            None => MailSettings::default(),
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| SettingsError {
                    table: "mail",
                    message: e.to_string(),
                })?,
        };
        s.validate()?;
        Ok(s)
    }

    /// Refuses deadlines that cannot work: zero, or a delivery allowed to outlast its claim
    /// (another sender would then take the message and send it too).
    pub fn validate(&self) -> Result<(), SettingsError> {
        let err = |message: String| {
            Err(SettingsError {
                table: "mail",
                message,
            })
        };
        for (name, v) in [
            ("claim_seconds", self.claim_seconds),
            ("send_timeout_seconds", self.send_timeout_seconds),
            ("command_timeout_seconds", self.command_timeout_seconds),
        ] {
            if v == 0 {
                return err(format!("{name} must be at least 1"));
            }
        }
        if self.send_timeout_seconds >= self.claim_seconds {
            return err(format!(
                "send_timeout_seconds ({}) must be less than claim_seconds ({}): a delivery must end while the sender's claim on the message holds",
                self.send_timeout_seconds, self.claim_seconds
            ));
        }
        if self.ca_file.is_some() && self.smtp_security == Security::None {
            return err(
                "ca_file is set but smtp_security = \"none\" (no TLS): use \"starttls\" or \"tls\""
                    .into(),
            );
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn mail(text: &str) -> Result<MailSettings, SettingsError> {
        let cfg = Config::parse(&format!("[mail]\n{text}"), Path::new("test.toml")).unwrap();
        MailSettings::from_config(&cfg)
    }

    #[test]
    fn deadlines_default_to_a_send_inside_its_claim() {
        let s = mail("").unwrap();
        assert_eq!(
            (
                s.claim_seconds,
                s.send_timeout_seconds,
                s.command_timeout_seconds
            ),
            (600, 120, 30)
        );
        assert!(s.ca_file.is_none());
        let s = mail("claim_seconds = 3\nsend_timeout_seconds = 2\nca_file = \"ca.pem\"").unwrap();
        assert_eq!(s.ca_file.as_deref(), Some(Path::new("ca.pem")));
    }

    #[test]
    fn a_send_that_may_outlast_its_claim_is_refused() {
        let e = mail("claim_seconds = 60\nsend_timeout_seconds = 60")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[mail]"), "{e}");
        assert!(e.contains("send_timeout_seconds (60)"), "{e}");
        assert!(e.contains("claim_seconds (60)"), "{e}");
        assert!(mail("send_timeout_seconds = 700").is_err());
        assert!(mail("command_timeout_seconds = 0").is_err());
        assert!(mail("claim_seconds = 0").is_err());
    }

    #[test]
    fn the_shipped_configuration_has_the_default_deadlines() {
        let cfg = Config::parse(
            include_str!("../../config/default.toml"),
            Path::new("config/default.toml"),
        )
        .unwrap();
        let s = MailSettings::from_config(&cfg).unwrap();
        assert_eq!(
            (
                s.claim_seconds,
                s.send_timeout_seconds,
                s.command_timeout_seconds
            ),
            (600, 120, 30)
        );
    }

    #[test]
    fn letters_are_signed_by_the_bureau_unless_configured() {
        let s = mail("").unwrap();
        assert_eq!(s.signature, "张店区人力资源和社会保障局");
        assert_eq!(s.repayment_name, "张店区人力资源和社会保障局");
        assert!(s.repayment_account.is_empty() && s.contact.is_empty());
        let s = mail(
            "signature = \"张店区人社局\"\nrepayment_account = \"3705 0001\"\ncontact = \"张三\"",
        )
        .unwrap();
        assert_eq!(
            (
                s.signature.as_str(),
                s.repayment_account.as_str(),
                s.contact.as_str()
            ),
            ("张店区人社局", "3705 0001", "张三")
        );
        assert!(
            mail("repayment = \"x\"").is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn a_ca_file_without_tls_is_refused() {
        let e = mail("smtp_security = \"none\"\nca_file = \"ca.pem\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ca_file"), "{e}");
    }
}
