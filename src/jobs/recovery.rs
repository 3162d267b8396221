//! `recovery plan`, `recovery record`, `recovery list`: the use cases of recovery plans.
//!
//! A recovery (追缴) is due at once unless the bureau puts it on a plan (分期追缴): then each
//! later payment run offsets the instalment due from the person's bank payment (when
//! `payment.offset_recoveries` is on) and lists the rest. Repayments the bureau receives (还款)
//! are recorded under their reference, once. The outcomes' `Display` is what the command line
//! prints.

use super::error::JobError;
use super::session::Session;
use crate::rules::id_number::mask;
use crate::rules::money::fen_grouped;
use crate::rules::Month;
use chrono::NaiveDate;
use std::fmt;

pub use crate::rules::recovery::parse_amount;
pub use crate::store::recovery::{
    PlanOutcome, PlanRecord, PlanRequest, RecoveryBalance, RecoveryHistory, RepaymentOutcome,
};

/// The plan `--months K [--start YYYY-MM]` or `--per-run AMOUNT` asks for: exactly one of
/// the two; `--start` only with `--months`.
pub fn plan_request(
    months: Option<u32>,
    per_run: Option<&str>,
    start: Option<&str>,
) -> Result<PlanRequest, JobError> {
    let start = start
        .map(|s| s.parse::<Month>())
        .transpose()
        .map_err(|e| JobError::usage(e.to_string()))?;
    match (months, per_run) {
        (Some(months), None) => Ok(PlanRequest::Months { months, start }),
        (None, Some(amount)) if start.is_none() => Ok(PlanRequest::PerRun {
            fen: parse_amount(amount).map_err(|e| JobError::usage(e.to_string()))?,
        }),
        (None, Some(_)) => Err(JobError::usage(
            "--start 只用于按月分期（--months K）".to_string(),
        )),
        _ => Err(JobError::usage(
            "请指定分期方式：--months K（按月分期）或 --per-run AMOUNT（每批抵扣金额），二者选一"
                .to_string(),
        )),
    }
}

/// Puts a person's open balance on a plan (replacing the plan in force), as of the session's
/// today.
pub async fn plan(
    s: &Session,
    id_number: &str,
    request: PlanRequest,
) -> Result<PlanOutcome, JobError> {
    Ok(s.store
        .plan_recovery(id_number, request, s.today, &s.operator)
        .await?)
}

/// Records a repayment of `amount` yuan received on `date` under `reference`; the same
/// repayment again is a no-op. A date after the session's today is refused.
pub async fn record(
    s: &Session,
    id_number: &str,
    amount: &str,
    date: NaiveDate,
    reference: &str,
) -> Result<RepaymentOutcome, JobError> {
    let fen = parse_amount(amount).map_err(|e| JobError::usage(e.to_string()))?;
    if date > s.today {
        return Err(JobError::usage(format!(
            "还款日期{date}晚于今天（{}）：请核对日期",
            s.today
        )));
    }
    Ok(s.store
        .record_repayment(id_number, fen, date, reference, &s.operator)
        .await?)
}

/// Every open balance, by ID number.
pub async fn list(s: &Session) -> Result<Balances, JobError> {
    Ok(Balances(s.store.recovery_balances().await?))
}

/// A person's recovery ledger, for `explain` ([`RecoveryHistory::render`]).
pub async fn history(s: &Session, id_number: &str) -> Result<RecoveryHistory, JobError> {
    Ok(s.store.recovery_history(id_number).await?)
}

/// The open balances `recovery list` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balances(pub Vec<RecoveryBalance>);

impl fmt::Display for PlanOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): open recovery balance {} planned as {}",
            self.name,
            mask(&self.id_number),
            fen_grouped(self.open_fen),
            self.plan.describe()
        )?;
        if self.replaced {
            write!(f, ", replacing the plan in force")?;
        }
        write!(
            f,
            ".\nEach later payment run offsets the instalment due from this person's payment (with payment.offset_recoveries on) and lists the rest; record repayments with `chieftech recovery record`."
        )
    }
}

impl fmt::Display for RepaymentOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = format!("{} ({})", self.name, mask(&self.id_number));
        if self.already_recorded {
            write!(
                f,
                "{who}: the repayment {} of {} under reference {} is already recorded; nothing changed. Open balance {}",
                fen_grouped(self.fen),
                self.paid_on,
                self.reference,
                fen_grouped(self.open_fen)
            )
        } else {
            write!(
                f,
                "{who}: repayment {} of {} recorded under reference {}. Open balance now {}",
                fen_grouped(self.fen),
                self.paid_on,
                self.reference,
                fen_grouped(self.open_fen)
            )
        }
    }
}

impl fmt::Display for Balances {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return write!(f, "no open recovery balances");
        }
        writeln!(
            f,
            "{:<20} {:<8} {:>14} {:>14} {:>14}  plan",
            "ID number", "name", "due", "recovered", "open"
        )?;
        for b in &self.0 {
            writeln!(
                f,
                "{:<20} {:<8} {:>14} {:>14} {:>14}  {}",
                mask(&b.id_number),
                b.name,
                fen_grouped(b.due_fen),
                fen_grouped(b.recovered_fen),
                fen_grouped(b.open_fen),
                b.plan
                    .as_ref()
                    .map_or("none: due at once".to_string(), PlanRecord::describe)
            )?;
        }
        let open: i64 = self.0.iter().map(|b| b.open_fen).sum();
        write!(
            f,
            "{} people with an open balance, {} in all",
            self.0.len(),
            fen_grouped(open)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::recovery::Plan;

    fn record(plan: Plan, months: Option<u32>) -> PlanRecord {
        PlanRecord {
            id: 1,
            plan,
            months,
            balance_fen: 100_000,
            created_at: "2025-01-05T08:00:00.000Z".into(),
            operator: "clerk".into(),
            replaced_at: None,
        }
    }

    #[test]
    fn plan_requests_take_one_way() {
        assert_eq!(
            plan_request(Some(12), None, Some("2025-03")).unwrap(),
            PlanRequest::Months {
                months: 12,
                start: Some("2025-03".parse().unwrap())
            }
        );
        assert_eq!(
            plan_request(None, Some("500.5"), None).unwrap(),
            PlanRequest::PerRun { fen: 50_050 }
        );
        assert!(plan_request(None, None, None).is_err());
        assert!(plan_request(Some(3), Some("5"), None).is_err());
        assert!(plan_request(None, Some("5"), Some("2025-03")).is_err());
        assert!(plan_request(None, Some("5.001"), None).is_err());
        assert!(plan_request(Some(3), None, Some("2025-13")).is_err());
    }

    #[test]
    fn outcomes_read_in_english_with_masked_numbers() {
        let out = PlanOutcome {
            id_number: "370303198001010011".into(),
            name: "王强".into(),
            open_fen: 100_000,
            plan: record(
                Plan::monthly(100_000, 3, "2025-03".parse().unwrap()),
                Some(3),
            ),
            replaced: true,
        };
        let text = out.to_string();
        assert!(text.contains("3703**********0011"), "{text}");
        assert!(
            text.contains("3 monthly instalments of 333.34 from 2025-03"),
            "{text}"
        );
        assert!(text.contains("replacing"), "{text}");
        let list = Balances(vec![RecoveryBalance {
            id_number: "370303198001010011".into(),
            name: "王强".into(),
            due_fen: 100_000,
            recovered_fen: 25_000,
            open_fen: 75_000,
            plan: Some(record(Plan::PerRun { fen: 20_000 }, None)),
        }])
        .to_string();
        assert!(list.contains("200.00 per run"), "{list}");
        assert!(list.contains("750.00 in all"), "{list}");
        assert!(!list.contains("370303198001010011"), "{list}");
        assert_eq!(Balances(vec![]).to_string(), "no open recovery balances");
    }
}
