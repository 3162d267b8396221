//! Policy versions (政策版本) and the configurable choices (`[config]`) of `docs/rules.md` §2 and §4.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;

/// One policy version: the document, the days it is in force (both included) and its rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub document: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Yuan per month, for example `500.00`.
    pub monthly_rate: Decimal,
}

/// The policy versions in force over time, sorted and checked not to overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySet {
    versions: Vec<PolicyVersion>,
}

/// A policy list that cannot be used; a configuration error at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy `{0}` ends before it starts")]
    Inverted(String),
    #[error("policy versions `{0}` and `{1}` overlap: each day may have one rate only")]
    Overlap(String, String),
    #[error("policy `{0}` has a negative monthly_rate")]
    Negative(String),
}

impl PolicySet {
    /// Sorts the versions and refuses inverted, negative or overlapping ones.
    pub fn new(mut versions: Vec<PolicyVersion>) -> Result<PolicySet, PolicyError> {
        versions.sort_by_key(|v| v.from);
        for v in &versions {
            if v.to < v.from {
                return Err(PolicyError::Inverted(v.document.clone()));
            }
            if v.monthly_rate.is_sign_negative() {
                return Err(PolicyError::Negative(v.document.clone()));
            }
        }
        for w in versions.windows(2) {
            if w[1].from <= w[0].to {
                return Err(PolicyError::Overlap(
                    w[0].document.clone(),
                    w[1].document.clone(),
                ));
            }
        }
        Ok(PolicySet { versions })
    }

    /// The default: 张政办发〔2021〕5号, 2021-09-02 … 2026-08-31, 500.00 a month.
    pub fn default_zhangdian() -> PolicySet {
        PolicySet::new(vec![PolicyVersion {
            document: "张政办发〔2021〕5号".into(),
            from: NaiveDate::from_ymd_opt(2021, 9, 2).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 8, 31).unwrap(),
            monthly_rate: Decimal::new(50000, 2),
        }])
        .expect("default policy is valid")
    }

    pub fn versions(&self) -> &[PolicyVersion] {
        &self.versions
    }

    /// Index of the version in force on `day`, if any.
    pub fn version_at(&self, day: NaiveDate) -> Option<usize> {
        let i = self.versions.partition_point(|v| v.from <= day);
        (i > 0 && self.versions[i - 1].to >= day).then(|| i - 1)
    }

    /// The last day any version is in force.
    pub fn last_day(&self) -> Option<NaiveDate> {
        self.versions.iter().map(|v| v.to).max()
    }

    /// The highest monthly rate of any version (the bound on what a month can earn).
    pub fn max_rate(&self) -> Decimal {
        self.versions
            .iter()
            .map(|v| v.monthly_rate)
            .max()
            .unwrap_or_default()
    }
}

/// How a month's amount is derived from its eligible days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Proration {
    /// Σ rate over eligible days / days in the month (the default).
    #[default]
    Daily,
    /// The whole rate when the first day of the month is eligible, else nothing (次月停发).
    FirstOfMonth,
}

/// What a 退休 or 离岗 report does to benefits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ReportEffect {
    /// Benefits stop from the effective date, the title is kept (the default, as §14(3)).
    #[default]
    Suspension,
    /// Benefits end for good.
    Termination,
    /// Only recorded; no effect on money.
    None,
}

/// Everything the pure rules need besides dates and events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesConfig {
    pub policy: PolicySet,
    pub proration: Proration,
    pub offset_recoveries: bool,
    pub retired: ReportEffect,
    pub left_post: ReportEffect,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            policy: PolicySet::default_zhangdian(),
            proration: Proration::Daily,
            offset_recoveries: true,
            retired: ReportEffect::Suspension,
            left_post: ReportEffect::Suspension,
        }
    }
}

impl RulesConfig {
    /// The settings a run is computed with, as canonical JSON (keys sorted): the proration
    /// mode, offsetting, the effects of 退休 and 离岗, and every policy version. Stored with
    /// each run, so show, approve and export use what the run was computed with.
    pub fn settings_json(&self) -> String {
        let effect = |e: ReportEffect| match e {
            ReportEffect::Suspension => "suspension",
            ReportEffect::Termination => "termination",
            ReportEffect::None => "none",
        };
        let policies: Vec<serde_json::Value> = self
            .policy
            .versions()
            .iter()
            .map(|v| {
                serde_json::json!({
                    "document": v.document,
                    "from": v.from.to_string(),
                    "to": v.to.to_string(),
                    "monthly_rate": v.monthly_rate.to_string(),
                })
            })
            .collect();
        serde_json::json!({
            "proration": match self.proration {
                Proration::Daily => "daily",
                Proration::FirstOfMonth => "first-of-month",
            },
            "offset_recoveries": self.offset_recoveries,
            "rules.retired": effect(self.retired),
            "rules.left_post": effect(self.left_post),
            "policy": policies,
        })
        .to_string()
    }

    /// The fingerprint of [`RulesConfig::settings_json`]: 16 hex digits of its SHA-256.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(self.settings_json().as_bytes()))[..16].to_string()
    }
}

/// The names of the settings that differ between two [`RulesConfig::settings_json`] texts.
pub fn changed_settings(stored: &str, current: &str) -> Vec<String> {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap_or_default();
    let (a, b) = (parse(stored), parse(current));
    let keys: std::collections::BTreeSet<String> = [&a, &b]
        .iter()
        .filter_map(|v| v.as_object())
        .flat_map(|o| o.keys().cloned())
        .collect();
    keys.into_iter().filter(|k| a.get(k) != b.get(k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_every_setting() {
        let base = RulesConfig::default();
        let mut other = base.clone();
        assert_eq!(base.fingerprint(), other.fingerprint());
        other.offset_recoveries = false;
        assert_ne!(base.fingerprint(), other.fingerprint());
        assert_eq!(
            changed_settings(&base.settings_json(), &other.settings_json()),
            ["offset_recoveries"]
        );
        let mut other = base.clone();
        other.proration = Proration::FirstOfMonth;
        other.retired = ReportEffect::Termination;
        assert_eq!(
            changed_settings(&base.settings_json(), &other.settings_json()),
            ["proration", "rules.retired"]
        );
        let mut other = base.clone();
        other.policy = PolicySet::new(vec![v("x", "2021-09-02", "2027-08-31")]).unwrap();
        assert_eq!(
            changed_settings(&base.settings_json(), &other.settings_json()),
            ["policy"]
        );
    }

    fn v(doc: &str, from: &str, to: &str) -> PolicyVersion {
        PolicyVersion {
            document: doc.into(),
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
            monthly_rate: Decimal::new(50000, 2),
        }
    }

    #[test]
    fn overlapping_versions_are_refused() {
        let e = PolicySet::new(vec![
            v("a", "2021-01-01", "2022-12-31"),
            v("b", "2022-12-31", "2023-12-31"),
        ]);
        assert!(matches!(e, Err(PolicyError::Overlap(..))));
        assert!(PolicySet::new(vec![v("a", "2022-01-01", "2021-12-31")]).is_err());
    }

    #[test]
    fn version_lookup() {
        let p = PolicySet::new(vec![
            v("b", "2023-01-01", "2023-12-31"),
            v("a", "2021-09-02", "2022-06-30"),
        ])
        .unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(p.version_at(d("2021-09-01")), None);
        assert_eq!(p.version_at(d("2021-09-02")), Some(0));
        assert_eq!(p.version_at(d("2022-07-01")), None);
        assert_eq!(p.version_at(d("2023-12-31")), Some(1));
        assert_eq!(p.version_at(d("2024-01-01")), None);
        assert_eq!(p.last_day(), Some(d("2023-12-31")));
    }
}
