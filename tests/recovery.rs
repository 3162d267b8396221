//! Recovery plans and repayments (分期追缴, 还款) through the store, on SQLite and PostgreSQL:
//! plans per run and monthly, what later runs may offset, repayments once by reference,
//! refusals, the open balances and a person's history.
//!
//! The runs that recover and offset are seeded directly (one helper, [`seed_run`]): the run
//! computation that writes `run_recoveries` and `run_offsets` is not part of these tests.

mod common;

use chieftech::rules::id_number::make_id;
use chieftech::rules::recovery::Plan;
use chieftech::store::recovery::{offsets_due, PlanRequest};
use chieftech::store::{Store, StoreError};
use chrono::NaiveDate;
use sqlx::Row;
use std::collections::HashMap;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A person of these tests.
struct P {
    id: String,
    name: &'static str,
}

fn people() -> [P; 4] {
    ["王强", "李娜", "张伟", "赵敏"]
        .into_iter()
        .enumerate()
        .map(|(n, name)| P {
            id: make_id(
                "370303",
                d("1980-01-01") + chrono::Days::new(n as u64 * 40),
                n as u32 + 1,
            )
            .to_string(),
            name,
        })
        .collect::<Vec<_>>()
        .try_into()
        .unwrap_or_else(|_| unreachable!())
}

/// Approved long after any plan these tests make (a plan is made on the clock's time).
const LATER: &str = "2099-01-01T00:00:00.000Z";
/// Approved before any plan these tests make.
const EARLIER: &str = "2024-12-01T02:00:00.000Z";

/// Seeds a run `year`/`seq`, approved at `approved_at` (None: a draft), recovering and
/// offsetting the given amounts (fen) from its people, who are put on the roster when missing.
/// Returns the run's id.
async fn seed_run(
    store: &Store,
    (year, seq): (i64, i64),
    approved_at: Option<&str>,
    recoveries: &[(&P, i64)],
    offsets: &[(&P, i64)],
) -> i64 {
    let pool = store.pool();
    for (p, _) in recoveries.iter().chain(offsets) {
        sqlx::query(
            "INSERT INTO technicians (id_number, name) VALUES ($1, $2) ON CONFLICT (id_number) DO NOTHING",
        )
        .bind(&p.id)
        .bind(p.name)
        .execute(pool)
        .await
        .unwrap();
    }
    let status = if approved_at.is_some() {
        "approved"
    } else {
        "draft"
    };
    let run: i64 = sqlx::query(
        "INSERT INTO runs (year, seq, status, supplementary, today, computed_at, computed_by, computed_as_of, approved_at, approved_by) VALUES ($1, $2, $3, 0, $4, $5, 'alice', 0, $6, $7) RETURNING id",
    )
    .bind(year)
    .bind(seq)
    .bind(status)
    .bind(format!("{year}-12-01"))
    .bind(format!("{year}-12-01T01:00:00.000Z"))
    .bind(approved_at.map(str::to_string))
    .bind(approved_at.map(|_| "bob".to_string()))
    .fetch_one(pool)
    .await
    .unwrap()
    .try_get(0)
    .unwrap();
    for (table, rows) in [("run_recoveries", recoveries), ("run_offsets", offsets)] {
        for (p, fen) in rows {
            let sql = format!("INSERT INTO {table} (run_id, technician_id, fen) SELECT $1, id, $2 FROM technicians WHERE id_number = $3");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(run)
                .bind(*fen)
                .bind(&p.id)
                .execute(pool)
                .await
                .unwrap();
        }
    }
    run
}

/// A person's technician id.
async fn tid(store: &Store, p: &P) -> i64 {
    sqlx::query("SELECT id FROM technicians WHERE id_number = $1")
        .bind(&p.id)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

/// What a run computed on `today` may offset, by technician id.
async fn due(store: &Store, today: &str) -> HashMap<i64, i64> {
    let mut conn = store.pool().acquire().await.unwrap();
    offsets_due(&mut conn, d(today)).await.unwrap()
}

async fn money_audits(store: &Store, action: &str) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM audit WHERE money = 1 AND action = $1")
        .bind(action)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

fn refused(e: StoreError) -> String {
    match e {
        StoreError::Refused(m) => m,
        e => panic!("expected a refusal, got {e:?}"),
    }
}

fn usage(e: StoreError) -> String {
    match e {
        StoreError::Usage(m) => m,
        e => panic!("expected a usage error, got {e:?}"),
    }
}

async fn per_run_plan(store: &Store) {
    let [a, ..] = &people();
    seed_run(store, (2024, 1), Some(EARLIER), &[(a, 100_000)], &[]).await;
    let id = tid(store, a).await;
    assert!(
        due(store, "2025-12-01").await.is_empty(),
        "no plan: nothing offset"
    );
    let out = store
        .plan_recovery(
            &a.id,
            PlanRequest::PerRun { fen: 30_000 },
            d("2025-02-10"),
            "clerk",
        )
        .await
        .unwrap();
    assert_eq!(out.open_fen, 100_000);
    assert!(!out.replaced);
    assert_eq!(out.plan.plan, Plan::PerRun { fen: 30_000 });
    assert_eq!(money_audits(store, "recovery-plan").await, 1);
    assert_eq!(
        due(store, "2025-12-01").await,
        HashMap::from([(id, 30_000)])
    );
    // A draft's offset does not count; approved ones do.
    seed_run(store, (2025, 1), None, &[], &[(a, 30_000)]).await;
    assert_eq!(
        due(store, "2025-12-01").await,
        HashMap::from([(id, 30_000)])
    );
    for seq in 2..=4 {
        seed_run(store, (2025, seq), Some(LATER), &[], &[(a, 30_000)]).await;
    }
    assert_eq!(
        due(store, "2026-12-01").await,
        HashMap::from([(id, 10_000)])
    );
    seed_run(store, (2025, 5), Some(LATER), &[], &[(a, 10_000)]).await;
    assert!(due(store, "2027-12-01").await.is_empty(), "paid off");
}

#[tokio::test]
async fn per_run_plan_offsets_each_later_run() {
    for db in common::backends().await {
        per_run_plan(&db.store).await;
    }
}

async fn monthly_plan(store: &Store) {
    let [a, b, ..] = &people();
    seed_run(
        store,
        (2024, 1),
        Some(EARLIER),
        &[(a, 100_000), (b, 50_000)],
        &[],
    )
    .await;
    let (ia, ib) = (tid(store, a).await, tid(store, b).await);
    let months = |m, start: Option<&str>| PlanRequest::Months {
        months: m,
        start: start.map(|s| s.parse().unwrap()),
    };
    let out = store
        .plan_recovery(&a.id, months(3, Some("2025-03")), d("2025-02-10"), "clerk")
        .await
        .unwrap();
    assert_eq!(
        out.plan.describe(),
        "3 monthly instalments of 333.34 from 2025-03"
    );
    let plan_b = store
        .plan_recovery(&b.id, months(2, None), d("2025-02-10"), "clerk")
        .await
        .unwrap();
    assert_eq!(
        plan_b.plan.describe(),
        "2 monthly instalments of 250.00 from 2025-02"
    );
    assert_eq!(
        due(store, "2025-02-28").await,
        HashMap::from([(ib, 25_000)])
    );
    let now = due(store, "2025-03-15").await;
    assert_eq!(now, HashMap::from([(ia, 33_334), (ib, 50_000)]));
    assert_eq!(due(store, "2025-04-15").await[&ia], 66_668);
    // A later run offset one instalment; a repayment counts as well.
    seed_run(store, (2025, 1), Some(LATER), &[], &[(a, 33_334)]).await;
    assert_eq!(due(store, "2025-04-15").await[&ia], 33_334);
    store
        .record_repayment(&a.id, 20_000, d("2025-04-20"), "BANK-0001", "clerk")
        .await
        .unwrap();
    assert_eq!(due(store, "2025-04-30").await[&ia], 13_334);
    // Capped at the balance planned: what is still open.
    assert_eq!(due(store, "2026-12-01").await[&ia], 46_666);
    // A new recovery after the plan is not part of it: the monthly plan still caps at 1,000.00.
    seed_run(store, (2025, 2), Some(LATER), &[(a, 5_000)], &[]).await;
    assert_eq!(due(store, "2026-12-01").await[&ia], 46_666);
}

#[tokio::test]
async fn monthly_plan_falls_due_month_by_month() {
    for db in common::backends().await {
        monthly_plan(&db.store).await;
    }
}

async fn plan_refusals(store: &Store) {
    let [a, b, c, ..] = &people();
    seed_run(store, (2024, 1), Some(EARLIER), &[(a, 100_000)], &[]).await;
    seed_run(store, (2024, 2), None, &[(b, 100_000)], &[]).await;
    let per_run = |fen| PlanRequest::PerRun { fen };
    let today = d("2025-02-10");
    let m = refused(
        store
            .plan_recovery(&b.id, per_run(100), today, "clerk")
            .await
            .unwrap_err(),
    );
    assert!(m.contains("没有待追缴的余额"), "{m}");
    let m = usage(
        store
            .plan_recovery(&c.id, per_run(100), today, "clerk")
            .await
            .unwrap_err(),
    );
    assert!(m.contains("不在名册中"), "{m}");
    usage(
        store
            .plan_recovery(&a.id, per_run(0), today, "clerk")
            .await
            .unwrap_err(),
    );
    for months in [0, 121] {
        let req = PlanRequest::Months {
            months,
            start: None,
        };
        usage(
            store
                .plan_recovery(&a.id, req, today, "clerk")
                .await
                .unwrap_err(),
        );
    }
    store
        .plan_recovery(&a.id, per_run(10_000), today, "clerk")
        .await
        .unwrap();
    let again = store
        .plan_recovery(&a.id.to_lowercase(), per_run(20_000), today, "clerk")
        .await
        .unwrap();
    assert!(again.replaced);
    let history = store.recovery_history(&a.id).await.unwrap();
    assert_eq!(history.plans.len(), 2);
    assert!(history.plans[0].replaced_at.is_some());
    assert_eq!(history.plans[1].replaced_at, None);
    assert_eq!(history.plans[1].plan, Plan::PerRun { fen: 20_000 });
    let id = tid(store, a).await;
    assert_eq!(
        due(store, "2025-12-01").await,
        HashMap::from([(id, 20_000)])
    );
    assert_eq!(money_audits(store, "recovery-plan").await, 2);
}

#[tokio::test]
async fn plans_need_an_open_balance_and_replace_the_one_in_force() {
    for db in common::backends().await {
        plan_refusals(&db.store).await;
    }
}

async fn repayments(store: &Store) {
    let [a, b, ..] = &people();
    seed_run(
        store,
        (2024, 1),
        Some(EARLIER),
        &[(a, 100_000), (b, 50_000)],
        &[],
    )
    .await;
    let rec = |p: &P, fen, reference: &str| {
        let (id, reference) = (p.id.clone(), reference.to_string());
        async move {
            store
                .record_repayment(&id, fen, d("2025-03-01"), &reference, "clerk")
                .await
        }
    };
    let first = rec(a, 40_000, " R-1 ").await.unwrap();
    assert!(!first.already_recorded);
    assert_eq!((first.open_fen, first.reference.as_str()), (60_000, "R-1"));
    let again = rec(a, 40_000, "R-1").await.unwrap();
    assert!(again.already_recorded);
    assert_eq!(again.open_fen, 60_000);
    let m = refused(rec(a, 45_000, "R-1").await.unwrap_err());
    assert!(m.contains("R-1"), "{m}");
    refused(rec(b, 40_000, "R-1").await.unwrap_err());
    let m = refused(rec(a, 70_000, "R-2").await.unwrap_err());
    assert!(m.contains("600.00"), "the balance is named: {m}");
    usage(rec(a, 1_000, "  ").await.unwrap_err());
    usage(rec(a, 0, "R-3").await.unwrap_err());
    assert_eq!(rec(a, 60_000, "R-2").await.unwrap().open_fen, 0);
    // Paid off: the same repayment again is still a no-op, a new one is refused.
    assert!(rec(a, 40_000, "R-1").await.unwrap().already_recorded);
    refused(rec(a, 1, "R-4").await.unwrap_err());
    assert_eq!(money_audits(store, "recovery-repayment").await, 2);
    let h = store.recovery_history(&a.id).await.unwrap();
    assert_eq!(h.repayments.len(), 2);
    assert_eq!(
        (h.balance.due, h.balance.recovered, h.balance.open),
        (100_000, 100_000, 0)
    );
}

#[tokio::test]
async fn repayments_are_recorded_once_and_never_exceed_the_balance() {
    for db in common::backends().await {
        repayments(&db.store).await;
    }
}

async fn balances(store: &Store) {
    let [a, b, c, e] = &people();
    seed_run(
        store,
        (2024, 1),
        Some(EARLIER),
        &[(a, 100_000), (b, 50_000), (e, 30_000)],
        &[],
    )
    .await;
    seed_run(store, (2024, 2), None, &[(c, 20_000)], &[(a, 5_000)]).await;
    store
        .plan_recovery(
            &a.id,
            PlanRequest::PerRun { fen: 10_000 },
            d("2025-01-10"),
            "clerk",
        )
        .await
        .unwrap();
    seed_run(store, (2025, 1), Some(LATER), &[], &[(a, 10_000)]).await;
    store
        .record_repayment(&b.id, 50_000, d("2025-01-12"), "R-B", "clerk")
        .await
        .unwrap();
    store
        .record_repayment(&e.id, 5_000, d("2025-01-12"), "R-E", "clerk")
        .await
        .unwrap();
    let list = store.recovery_balances().await.unwrap();
    let mut expected = [
        (a, 100_000, 10_000, 90_000, true),
        (e, 30_000, 5_000, 25_000, false),
    ];
    expected.sort_by(|x, y| x.0.id.cmp(&y.0.id));
    let got: Vec<_> = list
        .iter()
        .map(|x| {
            (
                x.id_number.clone(),
                x.name.clone(),
                x.due_fen,
                x.recovered_fen,
                x.open_fen,
                x.plan.is_some(),
            )
        })
        .collect();
    let want: Vec<_> = expected
        .iter()
        .map(|(p, due, rec, open, plan)| {
            (p.id.clone(), p.name.to_string(), *due, *rec, *open, *plan)
        })
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn balances_list_every_open_balance() {
    for db in common::backends().await {
        balances(&db.store).await;
    }
}

async fn history(store: &Store) {
    let [a, b, ..] = &people();
    seed_run(store, (2023, 1), Some(EARLIER), &[(a, 60_000)], &[]).await;
    seed_run(store, (2024, 1), Some(EARLIER), &[(a, 40_000)], &[]).await;
    store
        .plan_recovery(
            &a.id,
            PlanRequest::PerRun { fen: 25_000 },
            d("2025-01-10"),
            "clerk",
        )
        .await
        .unwrap();
    seed_run(store, (2025, 1), Some(LATER), &[], &[(a, 25_000)]).await;
    seed_run(store, (2025, 2), None, &[], &[(a, 25_000)]).await;
    store
        .record_repayment(&a.id, 15_000, d("2025-02-01"), "R-H", "clerk")
        .await
        .unwrap();
    let h = store.recovery_history(&a.id).await.unwrap();
    let runs = |v: &[chieftech::store::recovery::RunAmount]| {
        v.iter().map(|x| (x.year, x.seq, x.fen)).collect::<Vec<_>>()
    };
    assert_eq!(runs(&h.dues), [(2023, 1, 60_000), (2024, 1, 40_000)]);
    assert_eq!(
        runs(&h.offsets),
        [(2025, 1, 25_000)],
        "the draft's offset is not shown"
    );
    assert_eq!(h.repayments[0].reference, "R-H");
    assert_eq!(h.plans.len(), 1);
    assert_eq!(
        (h.balance.due, h.balance.recovered, h.balance.open),
        (100_000, 40_000, 60_000)
    );
    let text = h.render();
    for part in [
        "应追缴 600.00",
        "抵扣 250.00",
        "还款 150.00",
        "每批抵扣250.00元",
        "尚欠 600.00",
    ] {
        assert!(text.contains(part), "{part} in\n{text}");
    }
    assert!(!text.contains(&a.id), "ID masked:\n{text}");
    seed_run(store, (2024, 2), None, &[(b, 1)], &[]).await;
    assert_eq!(store.recovery_history(&b.id).await.unwrap().render(), "");
}

#[tokio::test]
async fn history_shows_dues_offsets_repayments_and_plans() {
    for db in common::backends().await {
        history(&db.store).await;
    }
}
