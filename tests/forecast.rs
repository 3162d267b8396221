//! The forecast (支出预测) through the ledger, on SQLite and PostgreSQL: for a ledger whose
//! changes were all recorded before the runs, the forecast of each past year is what that
//! year's approved run paid, to the fen; the what-if parameters through the use case; the
//! workbook's sheets, 大写 totals and print layout (rendered by LibreOffice).

mod common;
#[path = "support/print.rs"]
mod print;

use chieftech::config::Config;
use chieftech::jobs::forecast::{forecast, write_forecast, ForecastParams};
use chieftech::jobs::session::{Open, Session};
use chieftech::rules::id_number::make_id;
use chieftech::rules::{ChangeKind, IdNumber, Reporter, RulesConfig};
use chieftech::store::payrun::RunPolicy;
use chieftech::store::{ChangeEntry, RosterEntry, Source, Store, UnitEntry};
use chrono::NaiveDate;
use indicatif::ProgressBar;
use rust_decimal::Decimal;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const POLICY: RunPolicy = RunPolicy {
    allow_supplementary: true,
    allow_single_operator: false,
};

const UNITS: [&str; 2] = ["淄博示例机械有限公司", "张店区示例化工有限公司"];

/// The six people of docs/rules.md §11 (name, approval, unit).
fn people() -> Vec<(&'static str, &'static str, usize, IdNumber)> {
    [
        ("王强", "2021-10-15", 0),
        ("李娜", "2022-06-20", 1),
        ("张伟", "2021-10-15", 0),
        ("赵敏", "2021-10-15", 1),
        ("陈刚", "2023-11-10", 0),
        ("孙丽", "2022-12-05", 1),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (name, approval, unit))| {
        let n = i as u64 + 1;
        let id = make_id(
            "370303",
            d("1980-01-01") + chrono::Days::new(n * 40),
            n as u32,
        );
        (name, approval, unit, id)
    })
    .collect()
}

async fn seed(store: &Store) {
    let entries: Vec<RosterEntry> = people()
        .into_iter()
        .enumerate()
        .map(|(i, (name, approval, unit, id))| RosterEntry {
            id_number: id,
            name: name.into(),
            unit: UNITS[unit].into(),
            occupation: "钳工".into(),
            level: "高级技师".into(),
            approval_date: d(approval),
            approval_no: format!("张人社字〔{}〕{}号", &approval[..4], i + 3),
            bank_account: format!("62220216030{:08}", i + 3),
            bank_name: "中国工商银行淄博张店支行".into(),
            phone: "13800000000".into(),
            email: None,
            row: Some(i as u32 + 3),
        })
        .collect();
    let units: Vec<UnitEntry> = UNITS
        .iter()
        .enumerate()
        .map(|(i, u)| UnitEntry {
            name: (*u).into(),
            contact: None,
            email: Some(format!("hr{i}@example.com")),
            row: Some(i as u32 + 3),
        })
        .collect();
    let source = Source::operator("clerk");
    store
        .import_roster(&source, &units, &entries)
        .await
        .unwrap()
        .unwrap();
    let p = people();
    let change = |who: usize, kind, x: &str, end: Option<&str>| ChangeEntry {
        id_number: p[who].3.clone(),
        name: p[who].0.into(),
        kind,
        effective: d(x),
        end: end.map(d),
        new_unit: None,
        decision_no: None,
        title_no: None,
        note: None,
        row: Some(2),
    };
    let changes = [
        change(1, ChangeKind::TransferredOut, "2023-05-20", None),
        change(2, ChangeKind::Retired, "2022-09-16", None),
        change(3, ChangeKind::RevokedFraud, "2024-03-08", None),
        change(
            4,
            ChangeKind::OtherAllowance,
            "2025-04-01",
            Some("2025-09-30"),
        ),
        change(5, ChangeKind::LeftPost, "2024-02-10", None),
        change(5, ChangeKind::Restored, "2024-07-01", None),
    ];
    let out = store
        .record_changes(
            &source,
            Reporter::Bureau,
            &changes,
            false,
            &RulesConfig::default(),
        )
        .await
        .unwrap();
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
}

/// Computes and approves the runs of `years`; returns each run's (net, people paid).
async fn runs(store: &Store, years: std::ops::RangeInclusive<i32>) -> Vec<(i32, i64, usize)> {
    let mut out = Vec::new();
    for year in years {
        let today = d(&format!("{year}-12-01"));
        let cfg = RulesConfig::default();
        let hidden = ProgressBar::hidden();
        store
            .compute_run(year, false, "alice", today, &cfg, POLICY, &hidden)
            .await
            .unwrap();
        store.approve_run(year, "bob", POLICY).await.unwrap();
        let t = store.show_run(year, None, true).await.unwrap().totals();
        out.push((year, t.paid + t.recovered, t.people_paid));
    }
    out
}

async fn session(db: &common::TestDb, today: &str) -> Session {
    Session::open(
        Config::default(),
        db.url.clone(),
        "clerk".into(),
        d(today),
        Open::Existing,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_forecast_of_past_years_is_what_their_runs_paid() {
    for db in common::backends().await {
        seed(&db.store).await;
        let paid = runs(&db.store, 2022..=2025).await;
        let s = session(&db, "2026-01-15").await;
        let f = forecast(&s, ForecastParams::years(2022, 2027))
            .await
            .unwrap();
        for (year, net, people) in &paid {
            let y = f.years.iter().find(|y| y.year == *year).unwrap();
            assert_eq!(y.roster_fen, *net, "{}: {year}", db.name);
            assert_eq!(y.paid_by_runs, Some(*net), "{}: {year}", db.name);
            assert_eq!(y.roster_people, *people, "{}: {year}", db.name);
        }
        // By hand (docs/rules.md §11 with every change known before the runs):
        //   2022: 王强 7,000.00 + 张伟 1,000.00 + 4,000.00 + 250.00 (September 15/30) = 12,250.00
        //   2023: 王强 6,000.00 + 李娜 5,306.45 + 孙丽 6,000.00 = 17,306.45
        //   2024: 王强 5,000.00 + 陈刚 6,500.00 + 孙丽 3,655.17 = 15,155.17
        //   2025: 陈刚 3,000.00 + 孙丽 6,000.00 = 9,000.00
        //   2026: 陈刚 4,000.00; 2026-09 … 2026-11 uncovered: 1,500.00 at 500.00
        //   2027: nothing.
        let got: Vec<(i32, i64, usize, i64)> = f
            .years
            .iter()
            .map(|y| (y.year, y.roster_fen, y.uncovered_months, y.uncovered_fen))
            .collect();
        assert_eq!(
            got,
            [
                (2022, 1_225_000, 0, 0),
                (2023, 1_730_645, 0, 0),
                (2024, 1_515_517, 0, 0),
                (2025, 900_000, 0, 0),
                (2026, 400_000, 3, 150_000),
                (2027, 0, 0, 0),
            ],
            "{}",
            db.name
        );
        assert_eq!(f.years[4].paid_by_runs, None);
        // By unit: 王强 and 张伟 at the first unit in 2022; 孙丽 and 李娜 at the second in 2023.
        let units: Vec<(String, i64)> = f.years[1]
            .by_unit
            .iter()
            .map(|u| (u.unit.clone(), u.fen))
            .collect();
        assert_eq!(
            units,
            [
                (UNITS[1].to_string(), 1_130_645),
                (UNITS[0].to_string(), 600_000)
            ]
        );
        let cohorts: Vec<(i32, i64)> = f.years[1]
            .by_cohort
            .iter()
            .map(|c| (c.cohort_year, c.fen))
            .collect();
        assert_eq!(cohorts, [(2021, 600_000), (2022, 1_130_645)]);
    }
}

#[tokio::test]
async fn what_if_a_successor_and_ten_a_year() {
    let db = common::sqlite().await;
    seed(&db.store).await;
    let s = session(&db, "2026-01-15").await;
    let params = ForecastParams {
        rate: Some(Decimal::from(600)),
        policy_until: Some(d("2030-12-31")),
        selected_per_year: 10,
        approval_day: None,
        ..ForecastParams::years(2026, 2030)
    };
    let f = forecast(&s, params).await.unwrap();
    // The latest cohort on the roster is 2023 (陈刚, approved 11-10): new cohorts from 2026,
    // approved each 11-10: term from 12-01, cohort-year December deferred.
    assert_eq!(f.approval_day, (11, 10));
    assert_eq!(f.new_cohorts, [2026, 2027, 2028, 2029, 2030]);
    // 陈刚 in 2026: 2026-01 … 2026-08 at 500.00 = 4,000.00, 2026-09 … 2026-11 at 600.00 =
    // 1,800.00. A new cohort C (term C-12-01 … (C+3)-11-30) costs 10 × 600 a month:
    // 13 months (78,000.00) in C + 1, 12 (72,000.00) in C + 2, 11 (66,000.00) in C + 3.
    //   2027: 78,000.00;  2028: 72,000 + 78,000 = 150,000.00;
    //   2029 and 2030: 66,000 + 72,000 + 78,000 = 216,000.00.
    let got: Vec<(i32, i64, i64, usize)> = f
        .years
        .iter()
        .map(|y| (y.year, y.roster_fen, y.new_fen, y.uncovered_months))
        .collect();
    assert_eq!(
        got,
        [
            (2026, 580_000, 0, 0),
            (2027, 0, 7_800_000, 0),
            (2028, 0, 15_000_000, 0),
            (2029, 0, 21_600_000, 0),
            (2030, 0, 21_600_000, 0),
        ]
    );
    let j = f.to_json();
    assert_eq!(j["years"][1]["total"], "78000.00");
    assert_eq!(j["years"][1]["new"]["people"], 10);
    assert_eq!(j["assumptions"]["approval_day"], "11-10");
    assert_eq!(j["totals"]["amount"], "665800.00");
    let lines = chieftech::jobs::forecast::report_lines(&f);
    assert_eq!(
        lines[1],
        "2027: 78,000.00 yuan (0.00 on the roster, 0 people; 78,000.00 new, 10 people)"
    );
    assert_eq!(
        lines.last().unwrap(),
        "total 2026-2030: 665,800.00 yuan (人民币陆拾陆万伍仟捌佰元整); uncovered months: 0.00 yuan"
    );
    let path = chieftech::jobs::forecast::default_path(&f, &s.config);
    assert!(
        path.ends_with("forecast-2026-2030.xlsx"),
        "{}",
        path.display()
    );
    // Parameters that cannot be used are a usage error.
    let bad = ForecastParams {
        policy_until: Some(d("2026-08-31")),
        ..ForecastParams::years(2026, 2030)
    };
    let e = forecast(&s, bad).await.unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
}

#[tokio::test]
async fn the_workbook_has_its_sheets_totals_and_prints_on_a4() {
    use calamine::{open_workbook, Reader, Xlsx};
    let db = common::sqlite().await;
    seed(&db.store).await;
    runs(&db.store, 2022..=2025).await;
    let s = session(&db, "2026-01-15").await;
    let params = ForecastParams {
        rate: Some(Decimal::from(600)),
        policy_until: Some(d("2028-06-15")),
        selected_per_year: 10,
        approval_day: Some((10, 1)),
        ..ForecastParams::years(2022, 2030)
    };
    let f = forecast(&s, params).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forecast-2022-2030.xlsx");
    write_forecast(&f, &s.config, &path).unwrap();
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(
        wb.sheet_names(),
        ["预测汇总", "按单位", "按评选年度", "未覆盖"]
    );
    let sheet = wb.worksheet_range("预测汇总").unwrap();
    let text: Vec<String> = sheet.cells().map(|(_, _, c)| c.to_string()).collect();
    let (roster, new, _) = f.totals();
    let capitals = chieftech::rules::money::capitals(roster + new);
    assert!(text.iter().any(|t| t.contains(&capitals)), "no {capitals}");
    assert!(text.iter().any(|t| t.contains("后续政策（假设）")));
    // Aggregate only: no ID number anywhere.
    for name in wb.sheet_names() {
        let r = wb.worksheet_range(&name).unwrap();
        for (_, _, c) in r.cells() {
            let t = c.to_string();
            assert!(
                !people().iter().any(|p| t.contains(p.3.as_str())),
                "{name}: {t}"
            );
        }
    }
    print::assert_page_setup(&path);
    if !print::tools_present() {
        return;
    }
    let pdf = print::read_pdf(&print::to_pdf(&path, dir.path()));
    pdf.assert_a4_landscape("forecast");
    assert!((4..=9).contains(&pdf.pages), "{} pages", pdf.pages);
    let all = pdf.all_text();
    for want in ["逐年预测", "预测假设", "合计", "大写", "按每月600.00元"] {
        assert!(all.contains(want), "no {want}");
    }
    // Every page carries the title (a repeated row) at a readable scale.
    pdf.assert_scale("forecast", "张店区首席技师津贴", 16.0);
}
