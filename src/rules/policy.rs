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

#[cfg(test)]
mod tests {
    use super::*;

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
