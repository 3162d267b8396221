//! Worked examples A–F of docs/rules.md and property tests over the pure core.

use super::*;
use chrono::NaiveDate;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn appt(id: i64, approval: &str) -> Appointment {
    Appointment {
        id,
        approval_date: d(approval),
        approval_no: format!("张人社字〔{id}〕号"),
    }
}

fn change(id: i64, appointment: i64, kind: ChangeKind, x: &str, end: Option<&str>) -> Change {
    Change {
        id,
        kind,
        effective: d(x),
        end: end.map(d),
        appointment_ids: if kind == ChangeKind::OtherAllowance {
            vec![]
        } else {
            vec![appointment]
        },
        by_unit: false,
    }
}

/// A pure stand-in for the ledger: approved runs' lines per month.
#[derive(Default)]
struct Ledger {
    paid: BTreeMap<Month, Paid>,
}

impl Ledger {
    /// Computes and approves the run of `year`; returns (net, lines, uncovered).
    fn run(
        &mut self,
        year: i32,
        a: &Appointment,
        changes: &[Change],
        cfg: &RulesConfig,
    ) -> AppointmentResult {
        let r = compute_appointment(
            year,
            &AppointmentInput {
                appointment: a,
                changes,
                paid: &self.paid,
                void: false,
            },
            cfg,
        );
        for l in &r.lines {
            let p = self.paid.entry(l.month).or_default();
            p.fen += l.fen;
            p.has_line = true;
        }
        r
    }
    fn total(&self) -> i64 {
        self.paid.values().map(|p| p.fen).sum()
    }
}

use super::payrun::AppointmentResult;

fn daily() -> RulesConfig {
    RulesConfig::default()
}

fn first_of_month() -> RulesConfig {
    RulesConfig {
        proration: Proration::FirstOfMonth,
        ..RulesConfig::default()
    }
}

#[test]
fn the_standing_term_ends_before_a_termination_and_fraud_has_none() {
    let cfg = daily();
    let a = appt(1, "2021-10-15");
    let t = Timeline::new(&a, &[], &cfg);
    assert_eq!(t.standing_term(), Some((d("2021-11-01"), d("2024-10-31"))));
    assert!(!t.revoked_for_fraud());
    let died = [change(1, 1, ChangeKind::Deceased, "2023-03-10", None)];
    let t = Timeline::new(&a, &died, &cfg);
    assert_eq!(t.standing_term(), Some((d("2021-11-01"), d("2023-03-09"))));
    // A suspension leaves the title standing; a termination before the term began ends it.
    let moved = [change(1, 1, ChangeKind::TransferredOut, "2022-05-01", None)];
    assert_eq!(
        Timeline::new(&a, &moved, &cfg).standing_term(),
        Some((d("2021-11-01"), d("2024-10-31")))
    );
    let early = [change(1, 1, ChangeKind::Deceased, "2021-10-20", None)];
    assert_eq!(Timeline::new(&a, &early, &cfg).standing_term(), None);
    let fraud = [change(1, 1, ChangeKind::RevokedFraud, "2023-01-01", None)];
    let t = Timeline::new(&a, &fraud, &cfg);
    assert_eq!(t.standing_term(), None);
    assert!(t.revoked_for_fraud());
}

#[test]
fn term_examples() {
    let a = appt(1, "2021-10-15");
    assert_eq!(a.term_start(), d("2021-11-01"));
    assert_eq!(a.term_end(), d("2024-10-31"));
    let b = appt(2, "2022-03-01");
    assert_eq!(b.term_start(), d("2022-04-01"));
    assert_eq!(b.term_end(), d("2025-03-31"));
    let c = appt(3, "2023-12-31");
    assert_eq!(c.term_start(), d("2024-01-01"));
    assert_eq!(c.term_end(), d("2026-12-31"));
}

#[test]
fn example_a_wang_qiang() {
    let a = appt(1, "2021-10-15");
    let mut l = Ledger::default();
    let cfg = daily();
    let r = l.run(2022, &a, &[], &cfg);
    assert_eq!(r.net(), 700_000);
    let deferred: i64 = r
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Deferred)
        .map(|l| l.fen)
        .sum();
    assert_eq!(deferred, 100_000);
    assert!(r
        .lines
        .iter()
        .filter(|l| l.month.year() == 2022)
        .all(|l| l.kind == LineKind::Regular));
    assert_eq!(l.run(2023, &a, &[], &cfg).net(), 600_000);
    assert_eq!(l.run(2024, &a, &[], &cfg).net(), 500_000);
    assert!(l.run(2025, &a, &[], &cfg).lines.is_empty());
    assert_eq!(l.total(), 1_800_000);
}

#[test]
fn example_b_li_na_both_prorations() {
    let a = appt(1, "2022-06-20");
    let ch = [change(1, 1, ChangeKind::TransferredOut, "2023-05-20", None)];
    for (cfg, net, may) in [
        (daily(), 530_645, 30_645),
        (first_of_month(), 550_000, 50_000),
    ] {
        let mut l = Ledger::default();
        assert!(
            l.run(2022, &a, &ch, &cfg).lines.is_empty(),
            "cohort year defers"
        );
        let r = l.run(2023, &a, &ch, &cfg);
        assert_eq!(r.net(), net);
        let may_line = r.lines.iter().find(|l| l.month.to_string() == "2023-05");
        assert_eq!(may_line.map(|l| l.fen), Some(may));
        assert_eq!(
            r.lines
                .iter()
                .filter(|l| l.kind == LineKind::Deferred)
                .count(),
            6
        );
        assert!(l.run(2024, &a, &ch, &cfg).lines.is_empty());
        assert!(l.run(2025, &a, &ch, &cfg).lines.is_empty());
    }
}

#[test]
fn example_c_zhang_wei_late_retirement() {
    let a = appt(1, "2021-10-15");
    let mut l = Ledger::default();
    let cfg = daily();
    assert_eq!(l.run(2022, &a, &[], &cfg).net(), 700_000);
    let ch = [change(1, 1, ChangeKind::Retired, "2022-09-16", None)];
    let r = l.run(2023, &a, &ch, &cfg);
    assert_eq!(r.net(), -175_000);
    assert!(r.lines.iter().all(|l| l.kind == LineKind::Recovery));
    let sep = r.lines.iter().find(|l| l.month.to_string() == "2022-09");
    assert_eq!(sep.map(|l| l.fen), Some(-25_000));
    let n = net_person(&r.lines, true);
    assert_eq!((n.bank, n.recovery), (0, -175_000));
}

#[test]
fn example_d_zhao_min_fraud() {
    let a = appt(1, "2021-10-15");
    let mut l = Ledger::default();
    let cfg = daily();
    assert_eq!(l.run(2022, &a, &[], &cfg).net(), 700_000);
    assert_eq!(l.run(2023, &a, &[], &cfg).net(), 600_000);
    let ch = [change(1, 1, ChangeKind::RevokedFraud, "2024-03-08", None)];
    assert_eq!(l.run(2024, &a, &ch, &cfg).net(), -1_300_000);
    assert_eq!(l.total(), 0);
}

#[test]
fn example_e_chen_gang_other_allowance_and_uncovered() {
    let a = appt(1, "2023-11-10");
    assert_eq!(a.term_end(), d("2026-11-30"));
    let ch = [change(
        1,
        1,
        ChangeKind::OtherAllowance,
        "2025-04-01",
        Some("2025-09-30"),
    )];
    let mut l = Ledger::default();
    let cfg = daily();
    assert!(l.run(2023, &a, &ch, &cfg).lines.is_empty());
    assert_eq!(l.run(2024, &a, &ch, &cfg).net(), 650_000);
    assert_eq!(l.run(2025, &a, &ch, &cfg).net(), 300_000);
    let r = l.run(2026, &a, &ch, &cfg);
    assert_eq!(r.net(), 400_000);
    let uncovered: Vec<String> = r.uncovered.iter().map(|m| m.to_string()).collect();
    assert_eq!(uncovered, ["2026-09", "2026-10", "2026-11"]);
    // Later runs keep listing them, and pay nothing.
    let r = l.run(2027, &a, &ch, &cfg);
    assert!(r.lines.is_empty());
    assert_eq!(r.uncovered.len(), 3);
}

#[test]
fn example_f_sun_li_left_post_and_restored() {
    let a = appt(1, "2022-12-05");
    let ch = [
        change(1, 1, ChangeKind::LeftPost, "2024-02-10", None),
        change(2, 1, ChangeKind::Restored, "2024-07-01", None),
    ];
    let mut l = Ledger::default();
    let cfg = daily();
    assert!(l.run(2022, &a, &ch, &cfg).lines.is_empty());
    assert_eq!(l.run(2023, &a, &ch, &cfg).net(), 600_000);
    let r = l.run(2024, &a, &ch, &cfg);
    assert_eq!(r.net(), 365_517);
    let feb = r.lines.iter().find(|l| l.month.to_string() == "2024-02");
    assert_eq!(feb.map(|l| l.fen), Some(15_517));
    assert_eq!(l.run(2025, &a, &ch, &cfg).net(), 600_000);
}

#[test]
fn explain_segments_name_the_cause() {
    let a = appt(1, "2022-06-20");
    let ch = [change(7, 1, ChangeKind::TransferredOut, "2023-05-20", None)];
    let cfg = daily();
    let t = Timeline::new(&a, &ch, &cfg);
    let b = t.month("2023-05".parse().unwrap(), &cfg);
    assert_eq!(b.eligible_days(), 19);
    assert_eq!(b.segments.len(), 2);
    assert_eq!(b.segments[1].status, DayStatus::Suspended(7));
    assert_eq!(b.segments[1].from, d("2023-05-20"));
    assert_eq!(b.amount.to_string(), "306.45");
}

/// 500.00 a month to 2022-06-15, then 600.00.
fn two_rates() -> RulesConfig {
    RulesConfig {
        policy: PolicySet::new(vec![
            PolicyVersion {
                document: "old".into(),
                from: d("2021-01-01"),
                to: d("2022-06-15"),
                monthly_rate: "500.00".parse().unwrap(),
            },
            PolicyVersion {
                document: "new".into(),
                from: d("2022-06-16"),
                to: d("2030-12-31"),
                monthly_rate: "600.00".parse().unwrap(),
            },
        ])
        .unwrap(),
        ..RulesConfig::default()
    }
}

#[test]
fn policy_gap_and_two_rates() {
    let cfg = two_rates();
    let a = appt(1, "2021-10-15");
    let t = Timeline::new(&a, &[], &cfg);
    // June 2022: 15 days at 500, 15 at 600: (7500 + 9000) / 30 = 550.
    assert_eq!(
        t.month("2022-06".parse().unwrap(), &cfg).amount.to_string(),
        "550.00"
    );
}

/// A month eligible on all its days under one version is "whole"; a first or last month of a
/// term, a month split by a change or by two policy versions, is not.
#[test]
fn whole_months_are_eligible_on_every_day_under_one_version() {
    let cfg = daily();
    let a = appt(1, "2022-06-20");
    let ch = [change(1, 1, ChangeKind::TransferredOut, "2023-05-20", None)];
    let t = Timeline::new(&a, &ch, &cfg);
    let m = |s: &str| t.month(s.parse().unwrap(), &cfg).whole_month_version();
    assert_eq!(m("2022-06"), None, "the term starts on the 20th");
    assert_eq!(m("2022-07"), Some(0));
    assert_eq!(m("2023-02"), Some(0), "28 days");
    assert_eq!(m("2023-05"), None, "transferred out on the 20th");
    assert_eq!(m("2023-06"), None, "nothing eligible");
    let two = two_rates();
    let t = Timeline::new(&appt(2, "2021-10-15"), &[], &two);
    let m = |s: &str| t.month(s.parse().unwrap(), &two).whole_month_version();
    assert_eq!(m("2022-05"), Some(0));
    assert_eq!(m("2022-06"), None, "two rates in one month");
    assert_eq!(m("2022-07"), Some(1));
}

#[test]
fn suspension_does_not_stack_and_one_restoration_ends_it() {
    let a = appt(1, "2021-10-15");
    let ch = [
        change(1, 1, ChangeKind::TransferredOut, "2022-03-01", None),
        change(2, 1, ChangeKind::Retired, "2022-04-01", None),
        change(3, 1, ChangeKind::Restored, "2022-06-01", None),
    ];
    let cfg = daily();
    let t = Timeline::new(&a, &ch, &cfg);
    let m = |s: &str| t.month(s.parse().unwrap(), &cfg).amount.to_string();
    assert_eq!(m("2022-02"), "500.00");
    assert_eq!(m("2022-04"), "0.00");
    assert_eq!(m("2022-06"), "500.00");
}

#[test]
fn configured_retirement_effects() {
    let a = appt(1, "2021-10-15");
    let ch = [change(1, 1, ChangeKind::Retired, "2022-09-16", None)];
    let none = RulesConfig {
        retired: ReportEffect::None,
        ..RulesConfig::default()
    };
    let t = Timeline::new(&a, &ch, &none);
    assert_eq!(
        t.month("2022-10".parse().unwrap(), &none)
            .amount
            .to_string(),
        "500.00"
    );
    let term = RulesConfig {
        retired: ReportEffect::Termination,
        ..RulesConfig::default()
    };
    let t = Timeline::new(&a, &ch, &term);
    assert_eq!(
        t.status_at(d("2022-10-01"), &term),
        DayStatus::Terminated(1)
    );
}

#[test]
fn offsetting_choice() {
    let lines = [
        Line {
            month: "2023-01".parse().unwrap(),
            kind: LineKind::Regular,
            fen: 50_000,
        },
        Line {
            month: "2022-12".parse().unwrap(),
            kind: LineKind::Recovery,
            fen: -20_000,
        },
    ];
    assert_eq!(
        net_person(&lines, true),
        Net {
            net: 30_000,
            bank: 30_000,
            recovery: 0
        }
    );
    assert_eq!(
        net_person(&lines, false),
        Net {
            net: 30_000,
            bank: 50_000,
            recovery: -20_000
        }
    );
}

#[test]
fn lines_encode_round_trip() {
    let lines = vec![
        Line {
            month: "2023-05".parse().unwrap(),
            kind: LineKind::Regular,
            fen: 30_645,
        },
        Line {
            month: "2022-09".parse().unwrap(),
            kind: LineKind::Recovery,
            fen: -25_000,
        },
    ];
    let s = payrun::encode_lines(&lines);
    assert_eq!(s, "2023-05r30645,2022-09x-25000");
    assert_eq!(payrun::decode_lines(&s), Some(lines));
    assert_eq!(payrun::decode_lines(""), Some(vec![]));
    assert_eq!(payrun::decode_lines("2023-05q1"), None);
}

#[test]
fn a_year_at_one_amount_is_stored_as_one_stretch() {
    let year: Vec<Line> = Month::new(2024, 1)
        .unwrap()
        .through(Month::new(2024, 12).unwrap())
        .map(|month| Line {
            month,
            kind: LineKind::Regular,
            fen: 50_000,
        })
        .collect();
    let mut lines = vec![Line {
        month: Month::new(2023, 12).unwrap(),
        kind: LineKind::Regular,
        fen: 30_645,
    }];
    lines.extend(year.iter().copied());
    lines.push(Line {
        month: Month::new(2024, 3).unwrap(),
        kind: LineKind::Recovery,
        fen: -50_000,
    });
    let s = payrun::encode_lines(&lines);
    assert_eq!(s, "2023-12r30645,2024-01r50000*12,2024-03x-50000");
    assert_eq!(payrun::decode_lines(&s), Some(lines));
    // The same year as it was stored before stretches: one line a month.
    let old = (1..=12)
        .map(|m| format!("2024-{m:02}r50000"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(payrun::decode_lines(&old), Some(year));
    // A stretch longer than the most one may stand for is written as several.
    let long: Vec<Line> = (0..payrun::MAX_STRETCH as i32 + 1)
        .map(|n| Line {
            month: Month::new(2000, 1).unwrap().plus(n),
            kind: LineKind::Deferred,
            fen: 1,
        })
        .collect();
    let s = payrun::encode_lines(&long);
    assert_eq!(s, format!("2000-01d1*{},2083-04d1", payrun::MAX_STRETCH));
    assert_eq!(payrun::decode_lines(&s), Some(long));
    // Counts it never writes are refused, not allocated.
    for bad in [
        "2024-01r50000*0",
        "2024-01r50000*1",
        "2024-01r50000*1000",
        "2024-01r50000*",
        "2024-01r*3",
        "2024-01r50000*-2",
    ] {
        assert_eq!(payrun::decode_lines(bad), None, "{bad}");
    }
}

// ---------- record-time checks ----------

fn propose(kind: ChangeKind, x: &str) -> ProposedChange {
    ProposedChange {
        kind,
        effective: d(x),
        end: None,
        title_no: None,
    }
}

#[test]
fn checks_of_recorded_order() {
    let cfg = daily();
    let appts = [appt(1, "2021-10-15"), appt(2, "2024-11-20")];
    // Before approval.
    assert!(matches!(
        check_change(
            &appts,
            &[],
            &propose(ChangeKind::Retired, "2021-01-01"),
            Reporter::Bureau,
            &cfg
        ),
        Verdict::Reject(Rejection::BeforeApproval { .. })
    ));
    // Term holds x → first appointment; between terms → latest approved before.
    assert_eq!(
        check_change(
            &appts,
            &[],
            &propose(ChangeKind::Retired, "2022-01-01"),
            Reporter::Unit,
            &cfg
        ),
        Verdict::Apply {
            appointment_ids: vec![1],
            amends: None
        }
    );
    assert_eq!(
        check_change(
            &appts,
            &[],
            &propose(ChangeKind::Retired, "2024-11-25"),
            Reporter::Unit,
            &cfg
        ),
        Verdict::Apply {
            appointment_ids: vec![2],
            amends: None
        }
    );
    // Title number picks the appointment.
    let mut p = propose(ChangeKind::RevokedFraud, "2025-03-01");
    p.title_no = Some("张人社字〔1〕号".into());
    assert_eq!(
        check_change(&appts, &[], &p, Reporter::Bureau, &cfg),
        Verdict::Apply {
            appointment_ids: vec![1],
            amends: None
        }
    );
    p.title_no = Some("nope".into());
    assert!(matches!(
        check_change(&appts, &[], &p, Reporter::Bureau, &cfg),
        Verdict::Reject(Rejection::UnknownTitle(_))
    ));
    // Restoration: only from the bureau, only while suspended.
    assert_eq!(
        check_change(
            &appts,
            &[],
            &propose(ChangeKind::Restored, "2022-05-01"),
            Reporter::Unit,
            &cfg
        ),
        Verdict::Reject(Rejection::RestoreFromUnit)
    );
    assert!(matches!(
        check_change(
            &appts,
            &[],
            &propose(ChangeKind::Restored, "2022-05-01"),
            Reporter::Bureau,
            &cfg
        ),
        Verdict::Reject(Rejection::NothingToRestore(_))
    ));
    let recorded = [
        change(10, 1, ChangeKind::LeftPost, "2022-03-01", None),
        change(11, 1, ChangeKind::Deceased, "2023-01-01", None),
    ];
    assert_eq!(
        check_change(
            &appts,
            &recorded,
            &propose(ChangeKind::Restored, "2022-05-01"),
            Reporter::Bureau,
            &cfg
        ),
        Verdict::Apply {
            appointment_ids: vec![1],
            amends: None
        }
    );
    // After a termination: refused, except fraud; a repeat is a duplicate.
    assert!(matches!(
        check_change(
            &appts,
            &recorded,
            &propose(ChangeKind::Retired, "2023-02-01"),
            Reporter::Unit,
            &cfg
        ),
        Verdict::Reject(Rejection::AfterTermination { .. })
    ));
    assert_eq!(
        check_change(
            &appts,
            &recorded,
            &propose(ChangeKind::RevokedFraud, "2023-06-01"),
            Reporter::Bureau,
            &cfg
        ),
        Verdict::Apply {
            appointment_ids: vec![1],
            amends: None
        }
    );
    assert_eq!(
        check_change(
            &appts,
            &recorded,
            &propose(ChangeKind::Deceased, "2023-01-01"),
            Reporter::Unit,
            &cfg
        ),
        Verdict::Duplicate { existing: 11 }
    );
}

#[test]
fn other_allowance_checks() {
    let cfg = daily();
    let appts = [appt(1, "2023-11-10")];
    let mut p = propose(ChangeKind::OtherAllowance, "2023-01-01");
    p.end = Some(d("2023-06-30"));
    assert!(matches!(
        check_change(&appts, &[], &p, Reporter::Unit, &cfg),
        Verdict::Reject(Rejection::OutsideTerms { .. })
    ));
    p.end = Some(d("2024-06-30"));
    assert_eq!(
        check_change(&appts, &[], &p, Reporter::Unit, &cfg),
        Verdict::Apply {
            appointment_ids: vec![],
            amends: None
        }
    );
    let recorded = [change(
        5,
        1,
        ChangeKind::OtherAllowance,
        "2023-01-01",
        Some("2024-06-30"),
    )];
    assert_eq!(
        check_change(&appts, &recorded, &p, Reporter::Unit, &cfg),
        Verdict::Duplicate { existing: 5 }
    );
    p.end = Some(d("2024-12-31"));
    assert_eq!(
        check_change(&appts, &recorded, &p, Reporter::Bureau, &cfg),
        Verdict::Apply {
            appointment_ids: vec![],
            amends: Some(5)
        }
    );
    // A unit never amends (lengthens or shortens) a period the bureau recorded.
    assert_eq!(
        check_change(&appts, &recorded, &p, Reporter::Unit, &cfg),
        Verdict::Reject(Rejection::BureauRecord {
            effective: d("2023-01-01"),
            id: 5
        })
    );
    let mut by_unit = recorded.clone();
    by_unit[0].by_unit = true;
    assert!(matches!(
        check_change(&appts, &by_unit, &p, Reporter::Unit, &cfg),
        Verdict::Apply {
            amends: Some(5),
            ..
        }
    ));
    p.end = Some(d("2022-12-31"));
    assert!(matches!(
        check_change(&appts, &recorded, &p, Reporter::Unit, &cfg),
        Verdict::Reject(Rejection::EndBeforeStart { .. })
    ));
    let mut q = propose(ChangeKind::Retired, "2024-01-01");
    q.end = Some(d("2024-02-01"));
    assert_eq!(
        check_change(&appts, &[], &q, Reporter::Unit, &cfg),
        Verdict::Reject(Rejection::EndNotAllowed)
    );
}

#[test]
fn amended_other_allowance_uses_latest_end() {
    let cfg = daily();
    let a = appt(1, "2023-11-10");
    let ch = [
        change(
            1,
            1,
            ChangeKind::OtherAllowance,
            "2025-04-01",
            Some("2025-09-30"),
        ),
        change(
            2,
            1,
            ChangeKind::OtherAllowance,
            "2025-04-01",
            Some("2025-05-31"),
        ),
    ];
    let t = Timeline::new(&a, &ch, &cfg);
    assert_eq!(
        t.month("2025-06".parse().unwrap(), &cfg).amount.to_string(),
        "500.00"
    );
    assert_eq!(
        t.month("2025-05".parse().unwrap(), &cfg).amount.to_string(),
        "0.00"
    );
}

// ---------- properties ----------

fn arb_kind() -> impl Strategy<Value = ChangeKind> {
    prop::sample::select(ChangeKind::ALL.to_vec())
}

prop_compose! {
    fn arb_case()(
        approval in 0u64..2000,
        raw in prop::collection::vec((arb_kind(), 0u64..1400, 0u64..400, 0i32..6), 0..6),
        first_of in any::<bool>(),
    ) -> (Appointment, Vec<(ChangeKind, NaiveDate, Option<NaiveDate>, i32)>, bool) {
        let approval = d("2021-09-02") + chrono::Days::new(approval);
        let a = Appointment { id: 1, approval_date: approval, approval_no: "n".into() };
        let changes = raw.into_iter().map(|(k, off, len, year)| {
            let x = approval + chrono::Days::new(off);
            let end = (k == ChangeKind::OtherAllowance && len < 300).then(|| x + chrono::Days::new(len));
            // The year of the run before which the change becomes known.
            let known = chrono::Datelike::year(&approval) + year;
            (k, x, end, known)
        }).collect();
        (a, changes, first_of)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The ledger's encoding of run lines: a line that starts no stretch is byte for byte what
    /// `write!` made before it was hand-written (text stored then still reads), a stretch of
    /// consecutive months with one kind and amount is its first line and a count, and whatever
    /// is written decodes back to the same lines in the same order.
    #[test]
    fn encoded_lines_decode_to_the_same_lines(
        raw in proptest::collection::vec(
            (-30_000i32..150_000, 1usize..1200, 0usize..6, prop_oneof![Just(50_000i64), any::<i64>()], any::<bool>()),
            0..8,
        )
    ) {
        let lines: Vec<Line> = raw
            .iter()
            .flat_map(|&(m, n, k, fen, stretch)| {
                let n = if stretch { n as i32 } else { 1 };
                (0..n).map(move |i| Line { month: Month::from_index(m + i), kind: LineKind::ALL[k], fen })
            })
            .collect();
        let encoded = payrun::encode_lines(&lines);
        let one_a_month = lines
            .iter()
            .map(|l| format!("{}{}{}", l.month, l.kind.short(), l.fen))
            .collect::<Vec<_>>()
            .join(",");
        if !encoded.contains('*') {
            prop_assert_eq!(&encoded, &one_a_month);
        }
        prop_assert!(encoded.split(',').count() <= lines.len().max(1));
        let in_range = lines.iter().all(|l| (0..=9999).contains(&l.month.year()));
        if in_range {
            prop_assert_eq!(payrun::decode_lines(&encoded), Some(lines.clone()));
            prop_assert_eq!(payrun::decode_lines(&one_a_month), Some(lines));
        }
    }

    /// Packed lines unpack to the same lines in the same order, stretches of consecutive
    /// months (longer than a run's 255 months too) included; a year at one amount is one run.
    #[test]
    fn packed_lines_unpack_to_the_same_lines(
        raw in proptest::collection::vec(
            (-30_000i32..150_000, 1usize..300, 0usize..6, prop_oneof![Just(50_000i64), any::<i64>()]),
            0..6,
        )
    ) {
        let lines: Vec<Line> = raw
            .iter()
            .flat_map(|&(m, n, k, fen)| {
                (0..n as i32).map(move |i| Line { month: Month::from_index(m + i), kind: LineKind::ALL[k], fen })
            })
            .collect();
        let mut packed = vec![9u8];
        payrun::pack_lines(&lines, &mut packed);
        prop_assert_eq!(payrun::unpack_lines(&packed[1..]), Some(lines.clone()));
        prop_assert!(packed.len() - 1 <= 14 * raw.iter().map(|r| r.1.div_ceil(255)).sum::<usize>());
        let year: Vec<Line> = (0..12)
            .map(|i| Line { month: Month::from_index(24_288 + i), kind: LineKind::Regular, fen: 50_000 })
            .collect();
        let mut one = Vec::new();
        payrun::pack_lines(&year, &mut one);
        prop_assert_eq!(one.len(), 14);
        prop_assert_eq!(payrun::unpack_lines(&one[..13]), None);
    }

    /// Runs every year; changes become known at random runs (late reports), and are checked
    /// before they are recorded as the store does. After each approved run, what all runs paid
    /// for each month due equals its amount as known then; no appointment ever gets more than
    /// 36 × rate; a rerun right after approval is empty; recomputing gives identical lines;
    /// fraud brings the total to zero.
    #[test]
    fn ledger_properties((a, raw, first_of) in arb_case()) {
        let cfg = if first_of { first_of_month() } else { daily() };
        let appts = [a.clone()];
        let mut recorded: Vec<Change> = Vec::new();
        let mut ledger = Ledger::default();
        let first_year = a.cohort_year();
        let mut next_id = 1;
        for year in first_year..first_year + 6 {
            for (k, x, end, known) in &raw {
                if *known == year {
                    let p = ProposedChange { kind: *k, effective: *x, end: *end, title_no: None };
                    if let Verdict::Apply { appointment_ids, .. } =
                        check_change(&appts, &recorded, &p, Reporter::Bureau, &cfg)
                    {
                        recorded.push(Change { id: next_id, kind: *k, effective: *x, end: *end, appointment_ids, by_unit: false });
                        next_id += 1;
                    }
                }
            }
            let input = AppointmentInput { appointment: &a, changes: &recorded, paid: &ledger.paid, void: false };
            let once = compute_appointment(year, &input, &cfg);
            let twice = compute_appointment(year, &input, &cfg);
            prop_assert_eq!(&once, &twice);
            ledger.run(year, &a, &recorded, &cfg);
            let rerun = compute_appointment(year, &AppointmentInput { appointment: &a, changes: &recorded, paid: &ledger.paid, void: false }, &cfg);
            prop_assert!(rerun.lines.is_empty(), "supplementary run not empty: {:?}", rerun.lines);
            let t = Timeline::new(&a, &recorded, &cfg);
            let (f, l) = t.term_months();
            for m in f.through(l).filter(|m| a.due_year(*m) <= year) {
                let amount = money::to_fen(t.month(m, &cfg).amount);
                prop_assert_eq!(ledger.paid.get(&m).map(|p| p.fen).unwrap_or(0), amount, "month {}", m);
                prop_assert!((0..=50_000).contains(&amount));
            }
            prop_assert!(ledger.total() <= 36 * 50_000);
        }
        if recorded.iter().any(|c| c.kind == ChangeKind::RevokedFraud) {
            prop_assert_eq!(ledger.total(), 0);
        }
    }

    /// Every day's status agrees with the month's segments, and daily amounts match the sum.
    #[test]
    fn segments_cover_the_month((a, raw, _) in arb_case(), month_off in 0i32..40) {
        let cfg = daily();
        let changes: Vec<Change> = raw.iter().enumerate().map(|(i, (k, x, end, _))| Change {
            id: i as i64 + 1, kind: *k, effective: *x, end: *end,
            appointment_ids: if *k == ChangeKind::OtherAllowance { vec![] } else { vec![1] },
            by_unit: false,
        }).collect();
        let t = Timeline::new(&a, &changes, &cfg);
        let m = Month::of(a.approval_date).plus(month_off);
        let b = t.month(m, &cfg);
        prop_assert_eq!(b.segments.first().unwrap().from, m.first_day());
        prop_assert_eq!(b.segments.last().unwrap().to, m.last_day());
        let mut eligible = 0;
        for day in m.first_day().iter_days().take_while(|d| *d <= m.last_day()) {
            let s = t.status_at(day, &cfg);
            let seg = b.segments.iter().find(|sg| sg.from <= day && day <= sg.to).unwrap();
            prop_assert_eq!(seg.status, s);
            if matches!(s, DayStatus::Eligible(_)) { eligible += 1; }
        }
        let expect = money::round_fen(rust_decimal::Decimal::from(500 * eligible) / rust_decimal::Decimal::from(m.days_in()));
        prop_assert_eq!(b.amount, expect);
    }
}

#[test]
fn other_allowance_can_be_corrected_back_to_an_earlier_end() {
    let cfg = daily();
    let appts = [appt(1, "2023-11-10")];
    let recorded = [
        change(
            5,
            1,
            ChangeKind::OtherAllowance,
            "2025-04-01",
            Some("2025-09-30"),
        ),
        change(
            6,
            1,
            ChangeKind::OtherAllowance,
            "2025-04-01",
            Some("2025-12-31"),
        ),
    ];
    let mut p = propose(ChangeKind::OtherAllowance, "2025-04-01");
    p.end = Some(d("2025-09-30"));
    assert_eq!(
        check_change(&appts, &recorded, &p, Reporter::Bureau, &cfg),
        Verdict::Apply {
            appointment_ids: vec![],
            amends: Some(6)
        }
    );
    p.end = Some(d("2025-12-31"));
    assert_eq!(
        check_change(&appts, &recorded, &p, Reporter::Bureau, &cfg),
        Verdict::Duplicate { existing: 6 }
    );
}

/// `docs/rules.md` §5: a person-level change applies to every appointment approved on or before
/// `x` whose term still runs on `x`; a revocation to one title.
#[test]
fn a_transfer_in_the_overlap_of_two_terms_stops_both() {
    use crate::rules::appointments_for;
    let cfg = daily();
    // Re-selected on 2024-10-15 while the first term runs to 2024-10-31.
    let appts = [appt(1, "2021-10-15"), appt(2, "2024-10-15")];
    let ids = |v: Vec<&Appointment>| v.iter().map(|a| a.id).collect::<Vec<_>>();
    let t = |k, x: &str, no: Option<&str>| appointments_for(k, d(x), no, &appts).map(ids);
    assert_eq!(
        t(ChangeKind::TransferredOut, "2024-10-20", None),
        Ok(vec![1, 2])
    );
    assert_eq!(
        t(ChangeKind::TransferredOut, "2024-11-05", None),
        Ok(vec![2])
    );
    assert_eq!(
        t(ChangeKind::TransferredOut, "2024-10-01", None),
        Ok(vec![1])
    );
    // A revocation concerns one title: the named one, else the term holding x.
    assert_eq!(t(ChangeKind::RevokedFraud, "2024-10-20", None), Ok(vec![1]));
    assert_eq!(
        t(
            ChangeKind::RevokedFraud,
            "2024-10-20",
            Some("张人社字〔2〕号")
        ),
        Ok(vec![2])
    );
    assert_eq!(
        t(
            ChangeKind::TransferredOut,
            "2024-10-20",
            Some("张人社字〔9〕号")
        ),
        Err(Rejection::UnknownTitle("张人社字〔9〕号".into()))
    );
    // Other allowances are the person's: every appointment.
    assert_eq!(
        t(ChangeKind::OtherAllowance, "2020-01-01", None),
        Ok(vec![1, 2])
    );
    // Before any approval: refused.
    assert!(matches!(
        t(ChangeKind::Retired, "2021-01-01", None),
        Err(Rejection::BeforeApproval { .. })
    ));

    let transfer = propose(ChangeKind::TransferredOut, "2024-10-20");
    let verdict = check_change(&appts, &[], &transfer, Reporter::Unit, &cfg);
    assert_eq!(
        verdict,
        Verdict::Apply {
            appointment_ids: vec![1, 2],
            amends: None
        }
    );
    // The new term earns nothing after the transfer.
    let recorded = [Change {
        id: 1,
        kind: ChangeKind::TransferredOut,
        effective: d("2024-10-20"),
        end: None,
        appointment_ids: vec![1, 2],
        by_unit: true,
    }];
    let second = Timeline::new(&appts[1], &recorded, &cfg);
    assert_eq!(
        second.month(Month::new(2025, 6).unwrap(), &cfg).amount,
        rust_decimal::Decimal::ZERO
    );
    // Checks are per appointment: after the first term's termination, a retirement still
    // applies to the second.
    let recorded = [change(7, 1, ChangeKind::Deceased, "2024-10-18", None)];
    assert_eq!(
        check_change(
            &appts,
            &recorded,
            &propose(ChangeKind::Retired, "2024-10-20"),
            Reporter::Bureau,
            &cfg
        ),
        Verdict::Apply {
            appointment_ids: vec![2],
            amends: None
        }
    );
}

/// A voided appointment earns nothing: what was paid is recovered, nothing is uncovered.
#[test]
fn a_voided_appointment_recovers_what_it_was_paid() {
    let cfg = daily();
    let a = appt(1, "2021-10-15");
    let mut ledger = Ledger::default();
    ledger.run(2022, &a, &[], &cfg);
    let r = compute_appointment(
        2023,
        &AppointmentInput {
            appointment: &a,
            changes: &[],
            paid: &ledger.paid,
            void: true,
        },
        &cfg,
    );
    assert_eq!(r.net(), -700_000);
    assert!(r.lines.iter().all(|l| l.kind == LineKind::Recovery));
    assert!(r.uncovered.is_empty());
}
