//! Configuration: `config/default.toml` (or `--config` / `CHIEFTECH_CONFIG`), with the
//! database URL overridable by `--database` and `CHIEFTECH_DATABASE_URL`.
//!
//! Every key has a default, so a missing table or key falls back to docs/rules.md's defaults.

use crate::rules::{PolicySet, PolicyVersion, Proration, ReportEffect, RulesConfig};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A configuration file that cannot be used (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("the configuration file {path} has unusable policy versions: {source}")]
    Policy {
        path: PathBuf,
        source: crate::rules::policy::PolicyError,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default = "default_policies")]
    pub policy: Vec<PolicyToml>,
    #[serde(default)]
    pub payment: PaymentConfig,
    #[serde(default)]
    pub rules: RuleChoices,
    #[serde(default)]
    pub paths: PathsConfig,
    /// `[export]`: the bank template and the texts of exported files.
    #[serde(default)]
    pub export: ExportConfig,
    /// The folder of the configuration file; relative paths in it (the bank template) are
    /// resolved against it. Empty for the built-in defaults.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Tables for later features (schedule, mail, inbox, bank templates) are kept as-is.
    #[serde(flatten)]
    pub other: toml::Table,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    #[serde(default = "default_url")]
    pub url: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { url: default_url() }
    }
}

fn default_url() -> String {
    "sqlite://data/chieftech.db".into()
}

fn default_policies() -> Vec<PolicyToml> {
    PolicySet::default_zhangdian()
        .versions()
        .iter()
        .map(|v| PolicyToml {
            document: v.document.clone(),
            from: TomlDate(v.from),
            to: TomlDate(v.to),
            monthly_rate: v.monthly_rate,
        })
        .collect()
}

/// A `[[policy]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyToml {
    pub document: String,
    pub from: TomlDate,
    pub to: TomlDate,
    #[serde(with = "rust_decimal::serde::str")]
    pub monthly_rate: rust_decimal::Decimal,
}

/// A date written as a TOML date (`2021-09-02`) or a string (`"2021-09-02"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TomlDate(pub chrono::NaiveDate);

impl<'de> Deserialize<'de> for TomlDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = toml::Value::deserialize(d)?;
        let text = match v {
            toml::Value::Datetime(dt) => dt.to_string(),
            toml::Value::String(s) => s,
            other => {
                return Err(serde::de::Error::custom(format!(
                    "expected a date like 2021-09-02, found {other}"
                )))
            }
        };
        chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map(TomlDate)
            .map_err(|_| {
                serde::de::Error::custom(format!("`{text}` is not a date like 2021-09-02"))
            })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentConfig {
    #[serde(default)]
    pub proration: Proration,
    #[serde(default = "yes")]
    pub offset_recoveries: bool,
    #[serde(default)]
    pub allow_single_operator: bool,
    #[serde(default = "yes")]
    pub allow_supplementary: bool,
}

impl Default for PaymentConfig {
    fn default() -> Self {
        PaymentConfig {
            proration: Proration::Daily,
            offset_recoveries: true,
            allow_single_operator: false,
            allow_supplementary: true,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleChoices {
    #[serde(default)]
    pub retired: ReportEffect,
    #[serde(default)]
    pub left_post: ReportEffect,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    #[serde(default = "default_reports")]
    pub reports: PathBuf,
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            reports: default_reports(),
        }
    }
}

fn default_reports() -> PathBuf {
    PathBuf::from("reports")
}

/// `[export]`: what `payrun export` writes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportConfig {
    /// The bank template (a TOML file, see `config/banks/`), relative to the configuration
    /// file's folder. None: the built-in default template (`config/banks/default.toml`).
    #[serde(default)]
    pub bank_template: Option<PathBuf>,
    /// The programme's name in titles and the default purpose text: `张店区首席技师津贴`.
    #[serde(default = "default_program")]
    pub program: String,
    /// Who issues the files, printed on the summary: `张店区人力资源和社会保障局`.
    #[serde(default = "default_organization")]
    pub organization: String,
    /// Overrides the template's purpose text (用途); `{year}`, `{run}`, `{program}` are filled in.
    #[serde(default)]
    pub purpose: Option<String>,
    /// Lowers the template's maximum payment rows per bank file (never raises it).
    #[serde(default)]
    pub max_rows_per_file: Option<u32>,
    /// Rows per 明细 sheet of the summary; more rows continue on 明细(2), 明细(3)… (each
    /// with its header). Default and maximum: 1,000,000 (Excel's limit is 1,048,576 rows).
    #[serde(default = "default_detail_rows")]
    pub detail_rows_per_sheet: u32,
    /// Up to this many 明细 rows, each row is as high as its wrapped 说明 (laid out for
    /// paper); above it the rows keep one line and the text does not wrap, so that a province's
    /// run costs no memory per line (a row height costs about 600 bytes until the workbook is
    /// saved). Default 100,000.
    #[serde(default = "default_fitted_rows")]
    pub detail_fitted_rows_max: u32,
    /// Whole months in a row of one appointment with the same kind and amount make one 明细
    /// row (月份 `2024-01至2024-12`, the amount their sum); false: one row per month. Default
    /// true.
    #[serde(default = "default_true")]
    pub detail_month_ranges: bool,
}

fn default_detail_rows() -> u32 {
    1_000_000
}

fn default_fitted_rows() -> u32 {
    100_000
}

fn default_true() -> bool {
    true
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig {
            bank_template: None,
            program: default_program(),
            organization: default_organization(),
            purpose: None,
            max_rows_per_file: None,
            detail_rows_per_sheet: default_detail_rows(),
            detail_fitted_rows_max: default_fitted_rows(),
            detail_month_ranges: true,
        }
    }
}

fn default_program() -> String {
    "张店区首席技师津贴".into()
}

fn default_organization() -> String {
    "张店区人力资源和社会保障局".into()
}

impl ExportConfig {
    /// The bank template's path, resolved against `base_dir`; None for the built-in one.
    pub fn bank_template_path(&self, base_dir: &Path) -> Option<PathBuf> {
        self.bank_template.as_ref().map(|p| {
            if p.is_absolute() {
                p.clone()
            } else {
                base_dir.join(p)
            }
        })
    }
}

/// Removes `.` and `name/..` from a path without touching the file system, so messages show
/// `/srv/chieftech/data/x.db`, not `/srv/chieftech/config/../data/x.db`.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("empty config uses defaults")
    }
}

impl Config {
    /// Reads a configuration file. A missing default file means all defaults.
    pub fn load(path: &Path, must_exist: bool) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            // No file: the built-in defaults, relative to the current folder (not to the folder
            // the missing file would have been in).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                return Config::parse("", Path::new(""))
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.into(),
                    source,
                })
            }
        };
        Config::parse(&text, path)
    }

    /// Parses configuration text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        cfg.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if !cfg.base_dir.as_os_str().is_empty() {
            if let Ok(abs) = std::path::absolute(&cfg.base_dir) {
                cfg.base_dir = abs;
            }
            cfg.resolve_relative_paths();
        }
        if !(1..=1_000_000).contains(&cfg.export.detail_rows_per_sheet) {
            return Err(ConfigError::Parse {
                path: path.into(),
                message: "export.detail_rows_per_sheet must be from 1 to 1,000,000 (Excel holds 1,048,576 rows a sheet)".into(),
            });
        }
        if cfg.export.max_rows_per_file == Some(0) {
            return Err(ConfigError::Parse {
                path: path.into(),
                message: "export.max_rows_per_file must be at least 1".into(),
            });
        }
        crate::sources::sources_of(&cfg).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        cfg.rules_config().map_err(|source| ConfigError::Policy {
            path: path.into(),
            source,
        })?;
        Ok(cfg)
    }

    /// Makes every relative path written in the file relative to the file's folder, so the
    /// program finds the same files whatever folder it is started from: `[database] url` (a
    /// SQLite file), `[paths] reports`, `[export] bank_template`, `[mail] templates`,
    /// `outbox_dir` and `ca_file`, `[inbox] path` and `work_dir`. Keys left out keep their
    /// defaults, which are relative to the current folder.
    fn resolve_relative_paths(&mut self) {
        let base = self.base_dir.clone();
        let join = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                normalize(&base.join(p))
            }
        };
        if let Some(rest) = self.database.url.strip_prefix("sqlite://") {
            let file = rest.split('?').next().unwrap_or(rest);
            if !file.is_empty() && !file.contains(":memory:") && !Path::new(file).is_absolute() {
                let query = &rest[file.len()..];
                self.database.url = format!("sqlite://{}{query}", join(Path::new(file)).display());
            }
        }
        self.paths.reports = join(&self.paths.reports);
        if let Some(t) = self.export.bank_template.take() {
            self.export.bank_template = Some(join(&t));
        }
        for (table, keys) in [
            ("mail", &["templates", "outbox_dir", "ca_file"][..]),
            ("inbox", &["path", "work_dir"][..]),
        ] {
            let Some(toml::Value::Table(t)) = self.other.get_mut(table) else {
                continue;
            };
            for key in keys {
                if let Some(toml::Value::String(v)) = t.get_mut(*key) {
                    *v = join(Path::new(v.as_str())).display().to_string();
                }
            }
        }
    }

    /// The pure rules' view of the configuration.
    pub fn rules_config(&self) -> Result<RulesConfig, crate::rules::policy::PolicyError> {
        Ok(RulesConfig {
            policy: PolicySet::new(
                self.policy
                    .iter()
                    .map(|p| PolicyVersion {
                        document: p.document.clone(),
                        from: p.from.0,
                        to: p.to.0,
                        monthly_rate: p.monthly_rate,
                    })
                    .collect(),
            )?,
            proration: self.payment.proration,
            offset_recoveries: self.payment.offset_recoveries,
            retired: self.rules.retired,
            left_post: self.rules.left_post,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_rules_md_defaults() {
        let c = Config::default();
        assert_eq!(c.rules_config().unwrap(), RulesConfig::default());
        assert!(!c.payment.allow_single_operator);
        assert_eq!(c.database.url, "sqlite://data/chieftech.db");
    }

    #[test]
    fn shipped_default_toml_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
        let c = Config::load(&path, true).unwrap();
        assert_eq!(c.rules_config().unwrap(), RulesConfig::default());
        let template = c.export.bank_template_path(&c.base_dir).unwrap();
        assert!(template.is_file(), "{}", template.display());
        assert_eq!(c.export.program, "张店区首席技师津贴");
        assert_eq!(c.export.max_rows_per_file, None);
    }

    #[test]
    fn export_keys() {
        let c = Config::parse(
            "[export]\nbank_template = \"banks/b.toml\"\nmax_rows_per_file = 2\npurpose = \"{year}年度津贴\"",
            Path::new("/etc/chieftech/c.toml"),
        )
        .unwrap();
        assert_eq!(
            c.export.bank_template_path(&c.base_dir).unwrap(),
            Path::new("/etc/chieftech/banks/b.toml")
        );
        assert_eq!(c.export.max_rows_per_file, Some(2));
        assert_eq!(c.export.purpose.as_deref(), Some("{year}年度津贴"));
        assert!(Config::default().export.bank_template.is_none());
        let e = Config::parse("[export]\nmax_rows_per_file = 0", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("max_rows_per_file"), "{e}");
        let e = Config::parse("[export]\nbank = 1", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("bank"), "{e}");
    }

    #[test]
    fn overlapping_policies_are_a_config_error() {
        let text = r#"
[[policy]]
document = "a"
from = 2021-01-01
to = 2022-12-31
monthly_rate = "500.00"
[[policy]]
document = "b"
from = 2022-06-01
to = 2023-12-31
monthly_rate = "600.00"
"#;
        let e = Config::parse(text, Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("overlap"), "{e}");
        let e =
            Config::parse("[payment]\nproration = \"weekly\"", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("x.toml"), "{e}");
    }

    #[test]
    fn relative_paths_are_relative_to_the_config_files_folder() {
        let text = r#"
[database]
url = "sqlite://../data/x.db"
[paths]
reports = "../reports"
[export]
bank_template = "banks/default.toml"
[mail]
templates = "templates"
outbox_dir = "/var/mail/out"
[inbox]
path = "../data/inbox"
"#;
        let c = Config::parse(text, Path::new("/srv/ct/config/c.toml")).unwrap();
        assert_eq!(c.database.url, "sqlite:///srv/ct/data/x.db");
        assert_eq!(c.paths.reports, Path::new("/srv/ct/reports"));
        assert_eq!(
            c.export.bank_template_path(&c.base_dir).unwrap(),
            Path::new("/srv/ct/config/banks/default.toml")
        );
        let mail = c.other["mail"].as_table().unwrap();
        assert_eq!(mail["templates"].as_str(), Some("/srv/ct/config/templates"));
        assert_eq!(
            mail["outbox_dir"].as_str(),
            Some("/var/mail/out"),
            "absolute kept"
        );
        let inbox = c.other["inbox"].as_table().unwrap();
        assert_eq!(inbox["path"].as_str(), Some("/srv/ct/data/inbox"));
        // A PostgreSQL URL and an absolute SQLite file are left alone.
        let c = Config::parse(
            "[database]\nurl = \"sqlite:///abs/x.db\"",
            Path::new("/srv/c.toml"),
        )
        .unwrap();
        assert_eq!(c.database.url, "sqlite:///abs/x.db");
        let c = Config::parse(
            "[database]\nurl = \"postgres://u@h/db\"",
            Path::new("/srv/c.toml"),
        )
        .unwrap();
        assert_eq!(c.database.url, "postgres://u@h/db");
    }
}
