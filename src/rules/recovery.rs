//! Recovery plans and repayments (分期追缴, 还款): balances, instalments, offsets.
//!
//! A person's recoveries due are what approved runs put on the recovery list for them (追缴);
//! what is recovered is what the bureau received (还款) plus what approved runs offset against
//! the person's bank payment (抵扣). The open balance is the difference, never below zero.
//!
//! Without a plan nothing is offset: the recovery is due at once (a fraud recovery stays so
//! unless the bureau plans it). A plan spreads the balance:
//!
//! - per run (`--per-run AMOUNT`): each later run offsets up to AMOUNT;
//! - monthly (`--months K`): an instalment of ⌈balance ÷ K⌉ fen falls due each month from the
//!   start month on, capped at the balance planned; a run offsets what has fallen due and was
//!   not recovered since the plan was made.
//!
//! No I/O and no clock: today's date is a parameter.

use super::Month;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::str::FromStr;

/// The most months a plan may spread a balance over.
pub const MAX_MONTHS: u32 = 120;

/// A recovery plan in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Each later run offsets up to `fen`.
    PerRun { fen: i64 },
    /// `monthly_fen` falls due each month from `start` on, `cap_fen` (the balance planned) in all.
    Monthly {
        monthly_fen: i64,
        start: Month,
        cap_fen: i64,
    },
}

impl Plan {
    /// The plan spreading `balance` fen over `months` months from `start`.
    pub fn monthly(balance: i64, months: u32, start: Month) -> Plan {
        Plan::Monthly {
            monthly_fen: monthly_instalment(balance, months),
            start,
            cap_fen: balance.max(0),
        }
    }
}

/// A person's recovery ledger, folded: due, recovered, open (all fen, none negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balance {
    /// Σ recoveries of approved runs.
    pub due: i64,
    /// Σ repayments + Σ offsets of approved runs.
    pub recovered: i64,
    /// due − recovered, never below zero.
    pub open: i64,
}

impl Balance {
    /// The balance of the given totals.
    pub fn of(due: i64, recovered: i64) -> Balance {
        Balance {
            due,
            recovered,
            open: (due - recovered).max(0),
        }
    }
}

/// Folds a person's recoveries due, repayments and offsets (each in fen) into a [`Balance`].
pub fn balance(dues: &[i64], repayments: &[i64], offsets: &[i64]) -> Balance {
    let due: i64 = dues.iter().sum();
    let recovered: i64 = repayments.iter().chain(offsets).sum();
    Balance::of(due, recovered)
}

/// The monthly instalment of a balance spread over `months` months: ⌈balance ÷ months⌉ fen
/// (0 for a balance of 0 or less; `months` 0 is taken as 1).
pub fn monthly_instalment(balance: i64, months: u32) -> i64 {
    if balance <= 0 {
        return 0;
    }
    let k = i64::from(months.max(1));
    (balance + k - 1) / k
}

/// How many monthly instalments have fallen due by `today`: the months from `start` through
/// today's month, both included; 0 before `start`.
pub fn months_fallen_due(start: Month, today: NaiveDate) -> i64 {
    i64::from((Month::of(today).index() - start.index() + 1).max(0))
}

/// What a run whose "today" is `today` may offset now under `plan`: for a per-run plan its
/// amount; for a monthly plan the instalments fallen due (capped at the balance planned) less
/// what was recovered since the plan was made. Never negative, never above `open_balance`.
pub fn instalment_due(
    plan: &Plan,
    today: NaiveDate,
    recovered_since_plan: i64,
    open_balance: i64,
) -> i64 {
    let due = match *plan {
        Plan::PerRun { fen } => fen,
        Plan::Monthly {
            monthly_fen,
            start,
            cap_fen,
        } => {
            let fallen = monthly_fen
                .saturating_mul(months_fallen_due(start, today))
                .min(cap_fen);
            fallen - recovered_since_plan.max(0)
        }
    };
    due.min(open_balance).max(0)
}

/// What a run takes from a person's bank payment `bank_fen` against `due`: the smaller of the
/// two, never negative.
pub fn offset(bank_fen: i64, due: i64) -> i64 {
    bank_fen.min(due).max(0)
}

/// A repayment recorded before under the same reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The technician it was recorded for.
    pub person: i64,
    pub fen: i64,
}

/// What to do with a repayment that passed [`check_repayment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepaymentVerdict {
    /// Record it.
    Record,
    /// The same repayment was recorded before under its reference: nothing to do.
    AlreadyRecorded,
}

/// Why a repayment is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RepaymentRefusal {
    #[error("还款金额应大于零")]
    NotPositive,
    #[error("还款金额{}元超过待追缴余额{}元：余额不能为负", super::money::fen_grouped(*fen), super::money::fen_grouped(*open))]
    OverBalance { fen: i64, open: i64 },
    #[error("该凭证号已登记过另一笔还款（{}元）：同一凭证号不能重复使用", super::money::fen_grouped(earlier.fen))]
    ReferenceTaken { earlier: Recorded },
}

/// Checks a repayment of `fen` for `person` whose open balance is `open`, given the repayment
/// recorded before under the same reference, if any. The same reference with the same person
/// and amount is recorded already (whatever the balance is now); with another person or amount
/// it is refused; a repayment above the open balance is refused.
pub fn check_repayment(
    earlier: Option<Recorded>,
    person: i64,
    fen: i64,
    open: i64,
) -> Result<RepaymentVerdict, RepaymentRefusal> {
    if fen <= 0 {
        return Err(RepaymentRefusal::NotPositive);
    }
    match earlier {
        Some(e) if e.person == person && e.fen == fen => Ok(RepaymentVerdict::AlreadyRecorded),
        Some(e) => Err(RepaymentRefusal::ReferenceTaken { earlier: e }),
        None if fen > open => Err(RepaymentRefusal::OverBalance { fen, open }),
        None => Ok(RepaymentVerdict::Record),
    }
}

/// An amount that is not a positive yuan amount with at most two decimals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{0}”不是有效的金额：应为大于零的元数，最多两位小数，例如 1250.50")]
pub struct AmountError(pub String);

/// Parses an amount in yuan (`1250`, `1250.5`, `1250.50`) into fen, exactly: more than two
/// decimals, zero, a negative amount or anything else is refused, never rounded.
pub fn parse_amount(text: &str) -> Result<i64, AmountError> {
    let err = || AmountError(text.to_string());
    let t = text.trim();
    if t.is_empty() || t.starts_with('+') || t.contains(['e', 'E', '_']) {
        return Err(err());
    }
    let d = Decimal::from_str(t).map_err(|_| err())?;
    if d <= Decimal::ZERO || d.normalize().scale() > 2 {
        return Err(err());
    }
    let fen = (d * Decimal::ONE_HUNDRED).trunc();
    i64::try_from(fen)
        .ok()
        .filter(|f| *f <= i64::MAX / 4)
        .ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn m(s: &str) -> Month {
        s.parse().unwrap()
    }

    #[test]
    fn instalments_round_up() {
        assert_eq!(monthly_instalment(100_000, 3), 33_334);
        assert_eq!(monthly_instalment(90_000, 3), 30_000);
        assert_eq!(monthly_instalment(1, 120), 1);
        assert_eq!(monthly_instalment(0, 12), 0);
        assert_eq!(monthly_instalment(-5, 12), 0);
        assert_eq!(monthly_instalment(500, 1), 500);
    }

    #[test]
    fn balance_folds_and_never_goes_negative() {
        let b = balance(&[100_000, 25_000], &[30_000], &[10_000, 5_000]);
        assert_eq!(
            b,
            Balance {
                due: 125_000,
                recovered: 45_000,
                open: 80_000
            }
        );
        assert_eq!(balance(&[100], &[150], &[]).open, 0);
        assert_eq!(balance(&[], &[], &[]), Balance::default());
    }

    #[test]
    fn monthly_plan_falls_due_month_by_month() {
        let plan = Plan::monthly(100_000, 3, m("2025-03"));
        assert_eq!(months_fallen_due(m("2025-03"), d("2025-02-28")), 0);
        assert_eq!(instalment_due(&plan, d("2025-02-28"), 0, 100_000), 0);
        assert_eq!(instalment_due(&plan, d("2025-03-01"), 0, 100_000), 33_334);
        assert_eq!(instalment_due(&plan, d("2025-04-30"), 0, 100_000), 66_668);
        // Recovered since the plan counts against what fell due.
        assert_eq!(
            instalment_due(&plan, d("2025-04-30"), 33_334, 66_666),
            33_334
        );
        // Capped at the balance planned, then at the open balance.
        assert_eq!(instalment_due(&plan, d("2026-12-01"), 0, 100_000), 100_000);
        assert_eq!(
            instalment_due(&plan, d("2026-12-01"), 66_668, 33_332),
            33_332
        );
        assert_eq!(instalment_due(&plan, d("2026-12-01"), 0, 20_000), 20_000);
        // Repaid ahead: nothing due.
        assert_eq!(instalment_due(&plan, d("2025-03-15"), 50_000, 50_000), 0);
    }

    #[test]
    fn per_run_plan_is_capped_by_the_open_balance() {
        let plan = Plan::PerRun { fen: 50_000 };
        assert_eq!(instalment_due(&plan, d("2025-01-01"), 0, 120_000), 50_000);
        assert_eq!(instalment_due(&plan, d("2025-01-01"), 999, 30_000), 30_000);
        assert_eq!(instalment_due(&plan, d("2025-01-01"), 0, 0), 0);
    }

    #[test]
    fn offsets_take_the_smaller() {
        assert_eq!(offset(30_000, 50_000), 30_000);
        assert_eq!(offset(80_000, 50_000), 50_000);
        assert_eq!(offset(0, 50_000), 0);
        assert_eq!(offset(-100, 50_000), 0);
        assert_eq!(offset(100, 0), 0);
    }

    #[test]
    fn repayments_are_checked() {
        use RepaymentVerdict::*;
        assert_eq!(check_repayment(None, 1, 500, 1_000), Ok(Record));
        assert_eq!(check_repayment(None, 1, 1_000, 1_000), Ok(Record));
        assert_eq!(
            check_repayment(None, 1, 1_001, 1_000),
            Err(RepaymentRefusal::OverBalance {
                fen: 1_001,
                open: 1_000
            })
        );
        assert_eq!(
            check_repayment(None, 1, 0, 1_000),
            Err(RepaymentRefusal::NotPositive)
        );
        let earlier = Recorded {
            person: 1,
            fen: 500,
        };
        // The same repayment again, even once the balance is paid off: a no-op.
        assert_eq!(
            check_repayment(Some(earlier), 1, 500, 0),
            Ok(AlreadyRecorded)
        );
        for (person, fen) in [(1, 600), (2, 500)] {
            assert_eq!(
                check_repayment(Some(earlier), person, fen, 10_000),
                Err(RepaymentRefusal::ReferenceTaken { earlier })
            );
        }
        let msg = RepaymentRefusal::OverBalance {
            fen: 150_000,
            open: 100_000,
        }
        .to_string();
        assert!(msg.contains("1,000.00"), "{msg}");
    }

    #[test]
    fn amounts_parse_exactly() {
        assert_eq!(parse_amount("1250"), Ok(125_000));
        assert_eq!(parse_amount(" 1250.5 "), Ok(125_050));
        assert_eq!(parse_amount("0.01"), Ok(1));
        assert_eq!(parse_amount("1250.500"), Ok(125_050));
        for bad in ["0", "-5", "1.234", "abc", "", "1e3", "+5", "0.00"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }

    /// One step of the property test's ledger.
    #[derive(Debug, Clone)]
    enum Step {
        /// An approved run recovers `fen` from a person.
        Due { person: usize, fen: i64 },
        /// A per-run plan for a person.
        PlanPerRun { person: usize, fen: i64 },
        /// A monthly plan for a person over `months`, starting `delay` months from now.
        PlanMonthly {
            person: usize,
            months: u32,
            delay: i32,
        },
        /// An approved run `advance` months later, with each person's positive bank amount.
        Run { advance: i32, bank: [i64; 3] },
        /// A repayment under one of a few references (so some repeat).
        Repay {
            person: usize,
            fen: i64,
            reference: u8,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..3usize, 1..200_000i64).prop_map(|(person, fen)| Step::Due { person, fen }),
            (0..3usize, 1..80_000i64).prop_map(|(person, fen)| Step::PlanPerRun { person, fen }),
            (0..3usize, 1..=MAX_MONTHS, -3..4i32).prop_map(|(person, months, delay)| {
                Step::PlanMonthly {
                    person,
                    months,
                    delay,
                }
            }),
            (0..3i32, prop::array::uniform3(0..100_000i64))
                .prop_map(|(advance, bank)| Step::Run { advance, bank }),
            (0..3usize, 1..150_000i64, 0..6u8).prop_map(|(person, fen, reference)| {
                Step::Repay {
                    person,
                    fen,
                    reference,
                }
            }),
        ]
    }

    /// A person in the model: every amount as recorded, the plan in force and what was
    /// recovered since it was made.
    #[derive(Debug, Default, Clone)]
    struct Person {
        dues: Vec<i64>,
        repayments: Vec<i64>,
        offsets: Vec<i64>,
        plan: Option<Plan>,
        recovered_since_plan: i64,
    }

    impl Person {
        fn open(&self) -> i64 {
            balance(&self.dues, &self.repayments, &self.offsets).open
        }
    }

    /// The model's ledger: people, repayment references, and the month of today.
    struct Model {
        people: Vec<Person>,
        references: HashMap<u8, (usize, i64)>,
        today: Month,
    }

    impl Model {
        fn apply(&mut self, s: &Step) {
            match *s {
                Step::Due { person, fen } => self.people[person].dues.push(fen),
                Step::PlanPerRun { person, fen } => self.plan(person, Plan::PerRun { fen }),
                Step::PlanMonthly {
                    person,
                    months,
                    delay,
                } => {
                    let open = self.people[person].open();
                    self.plan(person, Plan::monthly(open, months, self.today.plus(delay)));
                }
                Step::Run { advance, bank } => self.run(advance, bank),
                Step::Repay {
                    person,
                    fen,
                    reference,
                } => self.repay(person, fen, reference),
            }
        }

        fn plan(&mut self, person: usize, plan: Plan) {
            let p = &mut self.people[person];
            if p.open() > 0 {
                p.plan = Some(plan);
                p.recovered_since_plan = 0;
            }
        }

        fn run(&mut self, advance: i32, bank: [i64; 3]) {
            self.today = self.today.plus(advance);
            let today = self.today.first_day() + chrono::Days::new(14);
            for (p, bank) in self.people.iter_mut().zip(bank) {
                let Some(plan) = p.plan else { continue };
                let due = instalment_due(&plan, today, p.recovered_since_plan, p.open());
                assert!(due >= 0 && due <= p.open());
                let off = offset(bank, due);
                assert!(off >= 0 && off <= bank && off <= due);
                if off > 0 {
                    p.offsets.push(off);
                    p.recovered_since_plan += off;
                }
            }
        }

        fn repay(&mut self, person: usize, fen: i64, reference: u8) {
            let earlier = self
                .references
                .get(&reference)
                .map(|&(person, fen)| Recorded {
                    person: person as i64,
                    fen,
                });
            let open = self.people[person].open();
            match check_repayment(earlier, person as i64, fen, open) {
                Ok(RepaymentVerdict::Record) => {
                    assert!(fen <= open);
                    self.references.insert(reference, (person, fen));
                    let p = &mut self.people[person];
                    p.repayments.push(fen);
                    p.recovered_since_plan += fen;
                }
                Ok(RepaymentVerdict::AlreadyRecorded) => {
                    assert_eq!(self.references[&reference], (person, fen));
                }
                Err(RepaymentRefusal::OverBalance { open: o, .. }) => {
                    assert!(fen > open && o == open)
                }
                Err(e) => assert!(earlier.is_some(), "{e}"),
            }
        }

        fn check(&self) {
            let (mut due, mut recovered, mut open) = (0, 0, 0);
            for p in &self.people {
                let b = balance(&p.dues, &p.repayments, &p.offsets);
                assert!(b.open >= 0);
                assert!(b.recovered <= b.due, "{b:?}");
                due += b.due;
                recovered += b.recovered;
                open += b.open;
            }
            assert_eq!(recovered + open, due);
            let repaid: i64 = self.people.iter().flat_map(|p| &p.repayments).sum();
            let by_reference: i64 = self.references.values().map(|r| r.1).sum();
            assert_eq!(repaid, by_reference, "a repayment counted twice");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Over random recoveries due, plans, runs offsetting against random bank amounts and
        /// repayments (refused over the balance, some under a repeated reference): Σ recovered +
        /// Σ open = Σ due, no balance is ever negative, a reference never counts twice.
        #[test]
        fn the_ledger_balances(steps in prop::collection::vec(step(), 1..60)) {
            let mut model = Model {
                people: vec![Person::default(); 3],
                references: HashMap::new(),
                today: m("2025-01"),
            };
            for s in &steps {
                model.apply(s);
                model.check();
            }
        }
    }
}
