//! Issue 2: the allowance engine through the store, on SQLite and PostgreSQL.
//! Worked examples A–F of docs/rules.md, approval rules, voids, idempotent recompute.

mod common;

use chieftech::rules::id_number::make_id;
use chieftech::rules::money::fen_str;
use chieftech::rules::{ChangeKind, IdNumber, Month, Reporter, RulesConfig};
use chieftech::store::payrun::RunPolicy;
use chieftech::store::{ChangeEntry, RosterEntry, Source, Store, StoreError, UnitEntry};
use chrono::NaiveDate;
use indicatif::ProgressBar;
use std::collections::BTreeMap;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const POLICY: RunPolicy = RunPolicy {
    allow_supplementary: true,
    allow_single_operator: false,
};

pub struct Person {
    pub name: &'static str,
    pub id: IdNumber,
    pub approval: &'static str,
}

/// The six people of the worked examples.
pub fn people() -> Vec<Person> {
    [
        ("王强", "2021-10-15", 1),
        ("李娜", "2022-06-20", 2),
        ("张伟", "2021-10-15", 3),
        ("赵敏", "2021-10-15", 4),
        ("陈刚", "2023-11-10", 5),
        ("孙丽", "2022-12-05", 6),
    ]
    .into_iter()
    .map(|(name, approval, n)| Person {
        name,
        id: make_id(
            "370303",
            d("1980-01-01") + chrono::Days::new(n * 40),
            n as u32,
        ),
        approval,
    })
    .collect()
}

fn roster_entry(p: &Person, row: u32) -> RosterEntry {
    RosterEntry {
        id_number: p.id.clone(),
        name: p.name.into(),
        unit: "淄博示例机械有限公司".into(),
        occupation: "钳工".into(),
        level: "高级技师".into(),
        approval_date: d(p.approval),
        approval_no: format!("张人社字〔{}〕{}号", &p.approval[..4], row),
        bank_account: format!("62220216030{:08}", row),
        bank_name: "中国工商银行淄博张店支行".into(),
        phone: "13800000000".into(),
        email: None,
        row: Some(row),
    }
}

fn change(p: &Person, kind: ChangeKind, x: &str, end: Option<&str>) -> ChangeEntry {
    ChangeEntry {
        id_number: p.id.clone(),
        name: p.name.into(),
        kind,
        effective: d(x),
        end: end.map(d),
        new_unit: None,
        decision_no: None,
        title_no: None,
        note: None,
        row: Some(2),
    }
}

async fn seed_roster(store: &Store, people: &[Person]) {
    let entries: Vec<RosterEntry> = people
        .iter()
        .enumerate()
        .map(|(i, p)| roster_entry(p, i as u32 + 3))
        .collect();
    let units = [UnitEntry {
        name: "淄博示例机械有限公司".into(),
        contact: Some("刘会计".into()),
        email: Some("hr@example.com".into()),
        row: Some(3),
    }];
    store
        .import_roster(&Source::operator("clerk"), &units, &entries)
        .await
        .unwrap()
        .unwrap();
}

async fn record(store: &Store, entries: &[ChangeEntry]) {
    let out = store
        .record_changes(
            &Source::operator("clerk"),
            Reporter::Bureau,
            entries,
            false,
            &RulesConfig::default(),
        )
        .await
        .unwrap();
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
}

async fn run(store: &Store, year: i32, cfg: &RulesConfig) -> BTreeMap<String, String> {
    store
        .compute_run(
            year,
            false,
            "alice",
            d(&format!("{year}-12-01")),
            cfg,
            POLICY,
            &ProgressBar::hidden(),
        )
        .await
        .unwrap();
    store.approve_run(year, "bob", POLICY).await.unwrap();
    nets(store, year, None).await
}

async fn nets(store: &Store, year: i32, seq: Option<i64>) -> BTreeMap<String, String> {
    let view = store.show_run(year, seq, true).await.unwrap();
    view.people
        .iter()
        .map(|p| (p.name.clone(), fen_str(p.net.net)))
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The nets of tests/fixtures/worked-examples.md, through the store.
async fn worked_examples(store: &Store) {
    let cfg = RulesConfig::default();
    let ps = people();
    let p = |name: &str| ps.iter().find(|x| x.name == name).unwrap();
    seed_roster(store, &ps).await;
    assert_eq!(
        run(store, 2022, &cfg).await,
        expect(&[
            ("王强", "7000.00"),
            ("张伟", "7000.00"),
            ("赵敏", "7000.00")
        ])
    );
    record(
        store,
        &[
            change(p("李娜"), ChangeKind::TransferredOut, "2023-05-20", None),
            change(p("张伟"), ChangeKind::Retired, "2022-09-16", None),
        ],
    )
    .await;
    assert_eq!(
        run(store, 2023, &cfg).await,
        expect(&[
            ("王强", "6000.00"),
            ("李娜", "5306.45"),
            ("张伟", "-1750.00"),
            ("赵敏", "6000.00"),
            ("孙丽", "6000.00"),
        ])
    );
    record(
        store,
        &[
            change(p("赵敏"), ChangeKind::RevokedFraud, "2024-03-08", None),
            change(p("孙丽"), ChangeKind::LeftPost, "2024-02-10", None),
            change(p("孙丽"), ChangeKind::Restored, "2024-07-01", None),
            change(
                p("陈刚"),
                ChangeKind::OtherAllowance,
                "2025-04-01",
                Some("2025-09-30"),
            ),
        ],
    )
    .await;
    assert_eq!(
        run(store, 2024, &cfg).await,
        expect(&[
            ("王强", "5000.00"),
            ("赵敏", "-13000.00"),
            ("陈刚", "6500.00"),
            ("孙丽", "3655.17"),
        ])
    );
    assert_eq!(
        run(store, 2025, &cfg).await,
        expect(&[("陈刚", "3000.00"), ("孙丽", "6000.00")])
    );
    assert_eq!(run(store, 2026, &cfg).await, expect(&[("陈刚", "4000.00")]));
    let view = store.show_run(2026, None, true).await.unwrap();
    let uncovered: Vec<String> = view
        .uncovered
        .iter()
        .map(|(_, name, m)| format!("{name} {m}"))
        .collect();
    assert_eq!(uncovered, ["陈刚 2026-09", "陈刚 2026-10", "陈刚 2026-11"]);
    // The recovery never reaches the bank: 张伟's 2023 net is on the recovery list.
    let v2023 = store.show_run(2023, None, true).await.unwrap();
    let zw = v2023.people.iter().find(|x| x.name == "张伟").unwrap();
    assert_eq!((zw.net.bank, zw.net.recovery), (0, -175_000));
    assert_eq!(v2023.totals().recovered, -175_000);
    assert_eq!(v2023.totals().paid, 600_000 + 530_645 + 600_000 + 600_000);
}

#[tokio::test]
async fn worked_examples_on_every_backend() {
    for db in common::backends().await {
        worked_examples(&db.store).await;
    }
}

#[tokio::test]
async fn first_of_month_example_b() {
    let db = common::sqlite().await;
    let cfg = RulesConfig {
        proration: chieftech::rules::Proration::FirstOfMonth,
        ..RulesConfig::default()
    };
    let ps = people();
    seed_roster(&db.store, &ps[1..2]).await;
    record(
        &db.store,
        &[change(
            &ps[1],
            ChangeKind::TransferredOut,
            "2023-05-20",
            None,
        )],
    )
    .await;
    assert_eq!(
        run(&db.store, 2023, &cfg).await,
        expect(&[("李娜", "5500.00")])
    );
}

#[tokio::test]
async fn approval_rules_on_every_backend() {
    for db in common::backends().await {
        let store = &db.store;
        let cfg = RulesConfig::default();
        let ps = people();
        seed_roster(store, &ps[..1]).await;
        let bar = ProgressBar::hidden();
        store
            .compute_run(2022, false, "alice", d("2022-12-01"), &cfg, POLICY, &bar)
            .await
            .unwrap();
        // Four eyes.
        let e = store.approve_run(2022, "alice", POLICY).await.unwrap_err();
        assert!(
            matches!(e, StoreError::Refused(ref m) if m.contains("four-eyes")),
            "{e}"
        );
        let single = RunPolicy {
            allow_single_operator: true,
            ..POLICY
        };
        // Stale: a change recorded after the draft was computed.
        let late_roster = RosterEntry {
            bank_account: "6222021603099999999".into(),
            ..roster_entry(&ps[0], 3)
        };
        store
            .import_roster(&Source::operator("clerk"), &[], &[late_roster])
            .await
            .unwrap()
            .unwrap();
        let e = store.approve_run(2022, "bob", POLICY).await.unwrap_err();
        assert!(
            matches!(e, StoreError::Refused(ref m) if m.contains("stale")),
            "{e}"
        );
        store
            .compute_run(2022, false, "alice", d("2022-12-01"), &cfg, POLICY, &bar)
            .await
            .unwrap();
        store.approve_run(2022, "alice", single).await.unwrap();
        // The approved line keeps the account as at approval.
        let v = store.show_run(2022, None, true).await.unwrap();
        assert_eq!(v.people[0].items[0].bank_account, "6222021603099999999");
        // A second run needs --supplementary, and right after approval it is empty.
        let e = store
            .compute_run(2022, false, "alice", d("2022-12-02"), &cfg, POLICY, &bar)
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Usage(ref m) if m.contains("supplementary")),
            "{e}"
        );
        let no_supp = RunPolicy {
            allow_supplementary: false,
            ..POLICY
        };
        assert!(store
            .compute_run(2022, true, "alice", d("2022-12-02"), &cfg, no_supp, &bar)
            .await
            .is_err());
        let s = store
            .compute_run(2022, true, "alice", d("2022-12-02"), &cfg, POLICY, &bar)
            .await
            .unwrap();
        assert_eq!((s.seq, s.items, s.supplementary), (2, 0, true));
        // Nothing to approve for a year without a draft.
        assert!(matches!(
            store.approve_run(2030, "bob", POLICY).await,
            Err(StoreError::Usage(_))
        ));
    }
}

#[tokio::test]
async fn void_a_change_and_the_next_run_pays_the_difference() {
    for db in common::backends().await {
        let store = &db.store;
        let cfg = RulesConfig::default();
        let ps = people();
        let wang = &ps[0];
        seed_roster(store, &ps[..1]).await;
        record(
            store,
            &[change(wang, ChangeKind::TransferredOut, "2022-07-01", None)],
        )
        .await;
        assert_eq!(run(store, 2022, &cfg).await, expect(&[("王强", "4000.00")]));
        let list = store.list_changes(wang.id.as_str()).await.unwrap();
        assert_eq!(list.len(), 1);
        store
            .void_change(list[0].change.id, "单位误报", "clerk")
            .await
            .unwrap();
        let again = store.void_change(list[0].change.id, "x", "clerk").await;
        assert!(matches!(again, Err(StoreError::Refused(_))));
        assert!(store.void_change(99_999, "x", "clerk").await.is_err());
        let list = store.list_changes(wang.id.as_str()).await.unwrap();
        assert!(list[0].voided.as_deref().unwrap().contains("单位误报"));
        // 2022-07 … 12 are paid as arrears with 2023.
        let view = {
            run(store, 2023, &cfg).await;
            store.show_run(2023, None, true).await.unwrap()
        };
        let lines = view.people[0].lines();
        assert_eq!(fen_str(view.people[0].net.net), "9000.00");
        let arrears: Vec<Month> = lines
            .iter()
            .filter(|l| l.kind == chieftech::rules::LineKind::Arrears)
            .map(|l| l.month)
            .collect();
        assert_eq!(arrears.len(), 6);
        assert_eq!(arrears[0].to_string(), "2022-07");
    }
}

#[tokio::test]
async fn record_checks_refuse_whole_batch_or_accept_valid() {
    for db in common::backends().await {
        let store = &db.store;
        let cfg = RulesConfig::default();
        let ps = people();
        seed_roster(store, &ps[..2]).await;
        let stranger = Person {
            name: "路人",
            id: make_id("370303", d("1990-01-01"), 9),
            approval: "2021-10-15",
        };
        let mut wrong_name = change(&ps[1], ChangeKind::Retired, "2023-01-01", None);
        wrong_name.name = "李娜娜".into();
        wrong_name.row = Some(4);
        let mut unknown = change(&stranger, ChangeKind::Retired, "2023-01-01", None);
        unknown.row = Some(5);
        let mut good = change(&ps[0], ChangeKind::Retired, "2023-01-01", None);
        good.row = Some(3);
        let batch = [good.clone(), wrong_name, unknown];
        let before = store.dump().await.unwrap();
        let out = store
            .record_changes(
                &Source::operator("clerk"),
                Reporter::Unit,
                &batch,
                false,
                &cfg,
            )
            .await
            .unwrap();
        assert!(out.refused_whole && out.applied.is_empty());
        let cols: Vec<(Option<u32>, &str)> =
            out.rejected.iter().map(|p| (p.row, p.column)).collect();
        assert_eq!(cols, [(Some(4), "姓名"), (Some(5), "身份证号码")]);
        assert_eq!(store.dump().await.unwrap(), before, "nothing half-written");
        let out = store
            .record_changes(
                &Source::operator("clerk"),
                Reporter::Unit,
                &batch,
                true,
                &cfg,
            )
            .await
            .unwrap();
        assert_eq!(out.applied.len(), 1);
        assert_eq!(out.rejected.len(), 2);
        // The same row again is a duplicate; a file already taken in is a no-op.
        let out = store
            .record_changes(
                &Source::operator("clerk"),
                Reporter::Unit,
                &[good.clone()],
                false,
                &cfg,
            )
            .await
            .unwrap();
        assert_eq!(out.duplicates, [Some(3)]);
        let file = Source::file("changes-file", "a.xlsx", b"content", "clerk");
        store
            .record_changes(&file, Reporter::Unit, &[], false, &cfg)
            .await
            .unwrap();
        let out = store
            .record_changes(&file, Reporter::Unit, &[good], false, &cfg)
            .await
            .unwrap();
        assert!(out.already_imported.is_some());
    }
}

#[tokio::test]
async fn overlapping_terms_refuse_the_roster() {
    let db = common::sqlite().await;
    let ps = people();
    let mut second = roster_entry(&ps[0], 4);
    second.approval_date = d("2023-05-01");
    let before = db.store.dump().await.unwrap();
    let problems = db
        .store
        .import_roster(
            &Source::operator("clerk"),
            &[],
            &[roster_entry(&ps[0], 3), second],
        )
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(problems[0].column, "批准日期");
    assert_eq!(problems[0].row, Some(4));
    assert_eq!(db.store.dump().await.unwrap(), before);
    // A new term after the first one ends is a re-selection (§14(5)): accepted.
    let mut reselected = roster_entry(&ps[0], 4);
    reselected.approval_date = d("2024-10-20");
    db.store
        .import_roster(
            &Source::operator("clerk"),
            &[],
            &[roster_entry(&ps[0], 3), reselected],
        )
        .await
        .unwrap()
        .unwrap();
}

/// The accounts of a run's lines as the ledger holds them (person's name → account).
async fn line_accounts(store: &Store, year: i32) -> BTreeMap<String, String> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT t.name, COALESCE(i.bank_account, '') FROM run_items i JOIN runs r ON r.id = i.run_id JOIN technicians t ON t.id = i.technician_id WHERE r.year = $1")
        .bind(i64::from(year))
        .fetch_all(store.pool())
        .await
        .unwrap();
    rows.iter()
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .collect()
}

/// Compute writes each line's account; approval keeps it, and still fixes a line whose
/// person's account changed in the ledger without making the draft stale.
#[tokio::test]
async fn compute_writes_the_accounts_and_approval_fixes_one_changed_behind_its_back() {
    for db in common::backends().await {
        let store = &db.store;
        let ps = people();
        seed_roster(store, &ps).await;
        store
            .compute_run(
                2024,
                false,
                "alice",
                d("2024-12-01"),
                &RulesConfig::default(),
                POLICY,
                &ProgressBar::hidden(),
            )
            .await
            .unwrap();
        let drafted = line_accounts(store, 2024).await;
        assert_eq!(drafted.len(), 6, "{}: {drafted:?}", db.name);
        for (i, p) in ps.iter().enumerate() {
            assert_eq!(
                drafted[p.name],
                format!("62220216030{:08}", i + 3),
                "{}",
                db.name
            );
        }
        // An account changed by hand in the database: no audit, so the draft is not stale.
        sqlx::query("UPDATE appointments SET bank_account = '6222999900001111' WHERE technician_id = (SELECT id FROM technicians WHERE name = '王强')")
            .execute(store.pool())
            .await
            .unwrap();
        store.approve_run(2024, "bob", POLICY).await.unwrap();
        let approved = line_accounts(store, 2024).await;
        assert_eq!(approved["王强"], "6222999900001111", "{}", db.name);
        for (i, p) in ps.iter().enumerate().skip(1) {
            assert_eq!(approved[p.name], drafted[p.name], "{}: line {i}", db.name);
        }
        let view = store.show_run(2024, None, true).await.unwrap();
        let wang = view.people.iter().find(|p| p.name == "王强").unwrap();
        assert!(
            wang.items
                .iter()
                .all(|i| i.bank_account == "6222999900001111"),
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn recompute_is_idempotent_and_explain_shows_the_arithmetic() {
    for db in common::backends().await {
        let store = &db.store;
        let cfg = RulesConfig::default();
        let ps = people();
        seed_roster(store, &ps).await;
        record(
            store,
            &[change(
                &ps[1],
                ChangeKind::TransferredOut,
                "2023-05-20",
                None,
            )],
        )
        .await;
        let bar = ProgressBar::hidden();
        store
            .compute_run(2023, false, "alice", d("2023-12-01"), &cfg, POLICY, &bar)
            .await
            .unwrap();
        let once = store.dump().await.unwrap();
        store
            .compute_run(2023, false, "alice", d("2023-12-01"), &cfg, POLICY, &bar)
            .await
            .unwrap();
        assert_eq!(store.dump().await.unwrap(), once);
        store.approve_run(2023, "bob", POLICY).await.unwrap();
        let e = store
            .explain(ps[1].id.as_str(), Some("2023-05".parse().unwrap()), &cfg)
            .await
            .unwrap();
        let text = e.render();
        assert!(text.contains("500.00 × 19/31 = 306.45"), "{text}");
        assert!(text.contains("调往区外"), "{text}");
        assert!(text.contains("2023年第1批（已批准）"), "{text}");
        assert_eq!(e.appointments[0].months.len(), 1);
        assert_eq!(e.appointments[0].months[0].paid(), 30_645);
    }
}

#[tokio::test]
async fn a_unit_cannot_undo_a_void_by_reporting_the_change_again() {
    let db = common::sqlite().await;
    let store = &db.store;
    let cfg = RulesConfig::default();
    let ps = people();
    seed_roster(store, &ps[..1]).await;
    let wrong = change(&ps[0], ChangeKind::Deceased, "2022-05-01", None);
    let unit = |name: &str| Source::file("changes-file", name, name.as_bytes(), "clerk");
    let out = store
        .record_changes(
            &unit("a.xlsx"),
            Reporter::Unit,
            std::slice::from_ref(&wrong),
            false,
            &cfg,
        )
        .await
        .unwrap();
    let id = out.applied[0].1;
    store.void_change(id, "误报死亡", "clerk").await.unwrap();
    let out = store
        .record_changes(
            &unit("b.xlsx"),
            Reporter::Unit,
            std::slice::from_ref(&wrong),
            true,
            &cfg,
        )
        .await
        .unwrap();
    assert!(out.applied.is_empty());
    assert!(
        out.rejected[0].message.contains("已作废"),
        "{:?}",
        out.rejected
    );
    // The bureau itself may record it again (a deliberate decision).
    let out = store
        .record_changes(
            &Source::operator("clerk"),
            Reporter::Bureau,
            &[wrong],
            false,
            &cfg,
        )
        .await
        .unwrap();
    assert_eq!(out.applied.len(), 1);
}

/// Issue 9: the SQLite ledger holds full ID and account numbers: its file is created 0600
/// whatever the umask, in a folder created 0700.
#[tokio::test]
async fn the_sqlite_file_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new-folder/ledger.db");
    // SAFETY: umask only changes this process's file-creation mask.
    let old = unsafe { libc_umask(0o000) };
    let store = chieftech::store::Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    unsafe { libc_umask(old) };
    store.close().await;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let folder = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(folder & 0o777, 0o700, "{folder:o}");
    for suffix in ["-wal", "-shm"] {
        let side = dir.path().join(format!("new-folder/ledger.db{suffix}"));
        if let Ok(m) = std::fs::metadata(&side) {
            assert_eq!(m.permissions().mode() & 0o077, 0, "{}", side.display());
        }
    }
}

extern "C" {
    #[link_name = "umask"]
    fn libc_umask(mask: u32) -> u32;
}

/// Issue 10, `docs/rules.md` §5: re-selected on 2024-10-15 while the first term runs to
/// 2024-10-31, then transferred out on 2024-10-20: the transfer stops both terms, so the new
/// term pays nothing (it used to pay 7,000.00 in 2025).
#[tokio::test]
async fn a_transfer_after_reselection_stops_the_new_term_too() {
    for db in common::backends().await {
        let store = &db.store;
        let ps = people();
        let wang = &ps[0];
        seed_roster(store, &ps[..1]).await;
        let mut again = roster_entry(wang, 9);
        again.approval_date = d("2024-10-15");
        again.approval_no = "张人社字〔2024〕9号".into();
        store
            .import_roster(&Source::operator("clerk"), &[], &[again])
            .await
            .unwrap()
            .unwrap();
        let cfg = RulesConfig::default();
        assert_eq!(run(store, 2022, &cfg).await["王强"], "7000.00");
        assert_eq!(run(store, 2023, &cfg).await["王强"], "6000.00");
        record(
            store,
            &[change(wang, ChangeKind::TransferredOut, "2024-10-20", None)],
        )
        .await;
        let changes = store.list_changes(wang.id.as_str()).await.unwrap();
        assert_eq!(changes.len(), 1, "one change, for both appointments");
        assert_eq!(changes[0].change.appointment_ids.len(), 2, "{}", db.name);
        // 2024: nine months and 19 of October's 31 days of the first term.
        assert_eq!(
            run(store, 2024, &cfg).await["王强"],
            "4806.45",
            "{}",
            db.name
        );
        // 2025: nothing due at all, so the run has no lines (and is not approved).
        store
            .compute_run(
                2025,
                false,
                "alice",
                d("2025-12-01"),
                &cfg,
                POLICY,
                &ProgressBar::hidden(),
            )
            .await
            .unwrap();
        let y2025 = nets(store, 2025, None).await;
        assert!(!y2025.contains_key("王强"), "{} {y2025:?}", db.name);
        assert!(
            store.approve_run(2025, "bob", POLICY).await.is_err(),
            "an empty run"
        );
        // Voided, the transfer no longer stops either term: the next run pays the difference.
        store
            .void_change(changes[0].change.id, "录入错误", "clerk")
            .await
            .unwrap();
        let y2026 = run(store, 2026, &cfg).await;
        // 2024-10 rest (193.55) + 2024-11, 12 deferred and 2025 (7,000.00) + 2026-01 … 08.
        assert_eq!(y2026["王强"], "11193.55", "{}", db.name);
    }
}

/// Issue 18: a unit's row can never amend (lengthen or shorten) a period the bureau recorded.
#[tokio::test]
async fn a_unit_cannot_amend_the_bureaus_other_allowance() {
    for db in common::backends().await {
        let store = &db.store;
        let ps = people();
        let chen = &ps[4];
        seed_roster(store, &ps).await;
        record(
            store,
            &[change(
                chen,
                ChangeKind::OtherAllowance,
                "2025-04-01",
                Some("2025-09-30"),
            )],
        )
        .await;
        let before = store.dump().await.unwrap();
        let out = store
            .record_changes(
                &Source::operator("unit"),
                Reporter::Unit,
                &[change(
                    chen,
                    ChangeKind::OtherAllowance,
                    "2025-04-01",
                    Some("2025-04-30"),
                )],
                true,
                &RulesConfig::default(),
            )
            .await
            .unwrap();
        assert_eq!(out.rejected.len(), 1, "{}", db.name);
        assert!(
            out.rejected[0].message.contains("单位不能更改"),
            "{:?}",
            out.rejected
        );
        assert_eq!(store.dump().await.unwrap(), before);
    }
}

/// Issue 10: a mistyped approval date is corrected by voiding the appointment (kept, marked
/// void, audited); the corrected row then imports, and the next run pays the difference.
#[tokio::test]
async fn a_voided_appointment_lets_the_corrected_row_in_and_the_run_settles_the_difference() {
    for db in common::backends().await {
        let store = &db.store;
        let ps = people();
        let wang = &ps[0];
        seed_roster(store, &ps[..1]).await; // approved "2021-10-15": a typo for 2021-11-15
        let cfg = RulesConfig::default();
        assert_eq!(run(store, 2022, &cfg).await["王强"], "7000.00");
        let mut corrected = roster_entry(wang, 3);
        corrected.approval_date = d("2021-11-15");
        // Refused as overlapping while the mistyped appointment stands.
        let refused = store
            .import_roster(&Source::operator("clerk"), &[], &[corrected.clone()])
            .await
            .unwrap();
        assert!(refused.is_err(), "{}", db.name);
        store
            .void_appointment(
                wang.id.as_str(),
                d("2021-10-15"),
                "批准日期录入错误",
                "clerk",
                "2023-01-05T02:00:00.000Z",
            )
            .await
            .unwrap();
        let again = store
            .void_appointment(wang.id.as_str(), d("2021-10-15"), "x", "clerk", "now")
            .await;
        assert!(again.is_err(), "already void");
        store
            .import_roster(&Source::operator("clerk"), &[], &[corrected])
            .await
            .unwrap()
            .unwrap();
        // 2021-12 … 2023-12 are due (12,500.00); 7,000.00 was paid on the void appointment.
        let view = {
            run(store, 2023, &cfg).await;
            store.show_run(2023, None, true).await.unwrap()
        };
        let p = &view.people[0];
        assert_eq!(
            chieftech::rules::money::fen_str(p.net.net),
            "5500.00",
            "{}",
            db.name
        );
        let person = store.person(wang.id.as_str()).await.unwrap().unwrap();
        assert_eq!(person.appointments.len(), 1, "the void one is kept out");
        assert_eq!(person.appointments[0].approval_date, d("2021-11-15"));
        // The void appointment is still in the ledger, with its reason.
        let dump = store.dump().await.unwrap();
        assert!(dump.contains("2021-10-15"), "kept: {dump}");
    }
}

/// Issue 10, "which unit": after a 单位变更 effective 2023-03-01, the 2023 run (its notices and
/// the summary's totals by unit read the run view) belongs to the new unit, the 2022 run stays
/// with the old one, and the run notice goes to the new unit's address.
#[tokio::test]
async fn after_a_move_the_run_and_its_notice_belong_to_the_new_unit() {
    for db in common::backends().await {
        let store = &db.store;
        let ps = people();
        let wang = &ps[0];
        seed_roster(store, &ps[..1]).await;
        store
            .import_roster(
                &Source::operator("clerk"),
                &[UnitEntry {
                    name: "淄博新单位有限公司".into(),
                    contact: None,
                    email: Some("hr@new.example".into()),
                    row: Some(2),
                }],
                &[],
            )
            .await
            .unwrap()
            .unwrap();
        let cfg = RulesConfig::default();
        run(store, 2022, &cfg).await;
        let mut mv = change(wang, ChangeKind::UnitChange, "2023-03-01", None);
        mv.new_unit = Some("淄博新单位有限公司".into());
        record(store, &[mv]).await;
        run(store, 2023, &cfg).await;
        let unit_of =
            |v: &chieftech::store::RunView| v.people[0].items.last().unwrap().unit.clone();
        let v2022 = store.show_run(2022, None, true).await.unwrap();
        let v2023 = store.show_run(2023, None, true).await.unwrap();
        assert_eq!(unit_of(&v2022), "淄博示例机械有限公司", "{}", db.name);
        assert_eq!(unit_of(&v2023), "淄博新单位有限公司", "{}", db.name);
        let units = chieftech::jobs::notices::unit_emails(store).await.unwrap();
        let settings = chieftech::mail::MailSettings {
            templates: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates"),
            ..Default::default()
        };
        let notices = chieftech::jobs::notices::run_notices(
            &v2023,
            &Default::default(),
            &units,
            &settings,
            cfg.policy.last_day(),
            d("2023-12-01"),
        )
        .unwrap();
        let to_new = notices
            .iter()
            .any(|n| n.to.iter().any(|t| t == "hr@new.example") && n.body.contains("王强"));
        assert!(
            to_new,
            "{:?}",
            notices.iter().map(|n| &n.to).collect::<Vec<_>>()
        );
        assert!(
            !notices
                .iter()
                .any(|n| n.to.iter().any(|t| t == "hr@example.com")),
            "the old unit gets no 2023 notice"
        );
    }
}

/// `PRAGMA cache_size`, `temp_store` and `foreign_keys` of the ledger's (only) SQLite
/// connection.
async fn sqlite_settings(store: &Store) -> [i64; 3] {
    use sqlx::Row;
    let mut values = [0i64; 3];
    for (v, pragma) in values.iter_mut().zip([
        "PRAGMA cache_size",
        "PRAGMA temp_store",
        "PRAGMA foreign_keys",
    ]) {
        let row = sqlx::query(pragma).fetch_one(store.pool()).await.unwrap();
        *v = row.try_get(0).unwrap();
    }
    values
}

/// An import runs with a larger page cache, its statement journal in memory and no foreign
/// key checks (SQLite); whatever way it ends (committed, refused, or dropped half-way as an
/// error would), the connection goes back to the pool with SQLite's defaults and foreign keys
/// on, so the steps after it neither sort in memory, nor keep the cache, nor skip checks.
#[tokio::test]
async fn imports_leave_the_sqlite_connection_as_they_found_it() {
    let db = common::sqlite().await;
    let defaults = [-2000, 0, 1];
    assert_eq!(sqlite_settings(&db.store).await, defaults);
    let ps = people();
    seed_roster(&db.store, &ps).await;
    assert_eq!(sqlite_settings(&db.store).await, defaults, "after a roster");
    record(
        &db.store,
        &[change(&ps[0], ChangeKind::LeftPost, "2024-03-01", None)],
    )
    .await;
    assert_eq!(sqlite_settings(&db.store).await, defaults, "after changes");
    // Refused whole (a name that differs from the recorded one): rolled back, same settings.
    let mut renamed = roster_entry(&ps[1], 3);
    renamed.name = "改名".into();
    let refused = db
        .store
        .import_roster(&Source::operator("clerk"), &[], &[renamed])
        .await
        .unwrap();
    assert!(refused.is_err());
    assert_eq!(
        sqlite_settings(&db.store).await,
        defaults,
        "after a refusal"
    );
    // Dropped half-way, as an error returned with `?` drops it: rolled back, same settings.
    let mut again = roster_entry(&ps[1], 3);
    again.phone = "13900000000".into();
    let source = Source {
        file_name: Some("half-way.xlsx".into()),
        sha256: Some("0".repeat(64)),
        ..Source::operator("clerk")
    };
    match db.store.begin_roster_import(&source).await.unwrap() {
        chieftech::store::roster::RosterStart::Open(mut session) => {
            session.add(std::slice::from_ref(&again)).await.unwrap();
            drop(session);
        }
        chieftech::store::roster::RosterStart::AlreadyImported(_) => panic!("new file"),
    }
    assert_eq!(sqlite_settings(&db.store).await, defaults, "after a drop");
    // Foreign keys are checked again: a change for a technician who does not exist.
    let dangling = sqlx::query("INSERT INTO changes (technician_id, kind, effective, source_id, recorded_at, operator) VALUES (999999, 'left-post', '2024-01-01', 1, '2024-01-01T00:00:00Z', 'x')")
        .execute(db.store.pool())
        .await;
    assert!(dangling.is_err(), "a dangling change was accepted");
    db.store
        .import_roster(&Source::operator("clerk"), &[], &[again])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sqlite_settings(&db.store).await,
        defaults,
        "after an update"
    );
}

/// A first roster (the ledger held nobody) looks up only the people it added itself: a
/// person on a later row again (a second title, three years on) is found, so one technician
/// has both appointments; and a later row that spells an added person's name otherwise is
/// refused as on any roster.
#[tokio::test]
async fn a_first_roster_finds_the_people_its_earlier_rows_added() {
    for db in common::backends().await {
        let store = &db.store;
        let ps = people();
        let mut again = roster_entry(&ps[0], 4);
        again.approval_date = d("2025-03-01");
        let rows = [roster_entry(&ps[0], 2), roster_entry(&ps[1], 3), again];
        let added = store
            .import_roster(&Source::operator("clerk"), &[], &rows)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(added.added, 3, "{}", db.name);
        let unchanged = store
            .import_roster(&Source::operator("clerk"), &[], &rows)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (unchanged.added, unchanged.unchanged),
            (0, 3),
            "{}",
            db.name
        );

        let fresh = match db.name.as_str() {
            "sqlite" => common::sqlite().await,
            _ => common::postgres().await.expect("PostgreSQL answered above"),
        };
        let misspelt = RosterEntry {
            name: "王疆".into(),
            ..rows[2].clone()
        };
        let refused = fresh
            .store
            .import_roster(
                &Source::operator("clerk"),
                &[],
                &[roster_entry(&ps[0], 2), misspelt],
            )
            .await
            .unwrap()
            .expect_err("the second row's name differs from the first's");
        assert_eq!(refused.len(), 1, "{}: {refused:?}", db.name);
        assert_eq!(refused[0].row, Some(4), "{}: {refused:?}", db.name);
    }
}

/// The ID numbers' unique index as PostgreSQL knows it: its oid (new when it is made again),
/// or None when there is none.
async fn id_number_index(pool: &sqlx::PgPool) -> Option<i64> {
    sqlx::query_scalar::<_, i64>(
        "SELECT c.conindid::bigint FROM pg_constraint c WHERE c.conname = 'technicians_id_number_key' AND c.contype = 'u'",
    )
    .fetch_optional(pool)
    .await
    .unwrap()
}

/// A first roster on PostgreSQL sets the ID numbers' unique index aside while its people go
/// in and makes it again before the commit (issue 15: a million random inserts into it were
/// most of the server's work); the index made again refuses a number given twice. When
/// someone is reading the technicians (a lock it cannot have at once), the import keeps the
/// index and goes on, without waiting.
#[tokio::test]
async fn a_first_roster_on_postgresql_makes_the_id_number_index_again_or_keeps_it() {
    let Some(db) = common::postgres().await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let ps = people();
    let mut again = roster_entry(&ps[0], 4);
    again.approval_date = d("2025-03-01");
    let rows = [roster_entry(&ps[0], 2), roster_entry(&ps[1], 3), again];

    // Someone reads the technicians in an open transaction: the index is kept.
    let before = id_number_index(&pool)
        .await
        .expect("the migrations made it");
    let mut reader = pool.begin().await.unwrap();
    sqlx::query("SELECT count(*) FROM technicians")
        .execute(&mut *reader)
        .await
        .unwrap();
    let kept = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        db.store
            .import_roster(&Source::operator("clerk"), &[], &rows[..1]),
    )
    .await
    .expect("the import does not wait for the reader")
    .unwrap()
    .unwrap();
    assert_eq!(kept.added, 1);
    assert_eq!(id_number_index(&pool).await, Some(before), "kept");
    reader.rollback().await.unwrap();
    pool.close().await;

    // Nobody reads: a first roster on a fresh ledger makes the index again.
    let fresh = common::postgres().await.expect("PostgreSQL answered above");
    let pool = sqlx::PgPool::connect(&fresh.url).await.unwrap();
    let before = id_number_index(&pool)
        .await
        .expect("the migrations made it");
    let added = fresh
        .store
        .import_roster(&Source::operator("clerk"), &[], &rows)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(added.added, 3);
    let after = id_number_index(&pool).await.expect("made again");
    assert_ne!(after, before, "made again, not kept");
    let people: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, id_number FROM technicians ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(people.len(), 2, "the person on two rows is one technician");
    let twice = sqlx::query("INSERT INTO technicians (id, id_number, name) VALUES (99, $1, 'x')")
        .bind(&people[0].1)
        .execute(&pool)
        .await
        .expect_err("the index refuses a number given twice");
    assert!(
        twice.to_string().contains("technicians_id_number_key"),
        "{twice}"
    );
    pool.close().await;
}
