//! Excel out: the bank file(s) and the summary workbook of an approved run, read back with
//! calamine; the sample workbooks, read back and recorded through the store's checks; and a
//! real office suite (LibreOffice, headless) opening the outputs.

mod common;

use calamine::{open_workbook, Data, Reader, Xlsx};
use chieftech::config::Config;
use chieftech::excel::summary::{self, SummaryModel};
use chieftech::jobs::export::{export_run, ExportError};
use chieftech::jobs::sample::{self, write_sample};
use chieftech::rules::id_number::{make_id, mask};
use chieftech::rules::{ChangeKind, IdNumber, Reporter, RulesConfig};
use chieftech::store::payrun::RunPolicy;
use chieftech::store::{ChangeEntry, RosterEntry, Source, Store, UnitEntry};
use chrono::{Datelike, NaiveDate};
use indicatif::ProgressBar;
use sqlx::Row;
use std::path::{Path, PathBuf};

const POLICY: RunPolicy = RunPolicy {
    allow_supplementary: true,
    allow_single_operator: false,
};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// A sheet as a grid of cells, indexed from A1.
struct Sheet(Vec<Vec<Data>>);

impl Sheet {
    fn read(path: &Path, name: &str) -> Sheet {
        let mut wb: Xlsx<_> =
            open_workbook(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let r = wb
            .worksheet_range(name)
            .unwrap_or_else(|e| panic!("sheet {name}: {e}"));
        let (r0, c0) = r.start().unwrap_or((0, 0));
        let (r1, c1) = r.end().unwrap_or((0, 0));
        let mut grid = vec![vec![Data::Empty; c1 as usize + 1]; r1 as usize + 1];
        for row in r0..=r1 {
            for col in c0..=c1 {
                if let Some(v) = r.get_value((row, col)) {
                    grid[row as usize][col as usize] = v.clone();
                }
            }
        }
        // No sheet holds a formula.
        let formulas = wb.worksheet_formula(name).unwrap();
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "{name} holds a formula"
        );
        Sheet(grid)
    }

    fn cell(&self, r: usize, c: usize) -> &Data {
        self.0
            .get(r)
            .and_then(|row| row.get(c))
            .unwrap_or(&Data::Empty)
    }

    /// A text cell (panics on any other type, so numbers-as-text mistakes show).
    fn text(&self, r: usize, c: usize) -> &str {
        match self.cell(r, c) {
            Data::String(s) => s,
            Data::Empty => "",
            other => panic!("cell ({r}, {c}) is not text: {other:?}"),
        }
    }

    /// A number cell, as fen.
    fn fen(&self, r: usize, c: usize) -> i64 {
        match self.cell(r, c) {
            Data::Float(f) => (f * 100.0).round() as i64,
            Data::Int(i) => i * 100,
            other => panic!("cell ({r}, {c}) is not a number: {other:?}"),
        }
    }

    fn number(&self, r: usize, c: usize) -> f64 {
        match self.cell(r, c) {
            Data::Float(f) => *f,
            Data::Int(i) => *i as f64,
            other => panic!("cell ({r}, {c}) is not a number: {other:?}"),
        }
    }

    /// The row and column of the first cell holding exactly `text`.
    fn find(&self, text: &str) -> (usize, usize) {
        for (r, row) in self.0.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                if matches!(v, Data::String(s) if s == text) {
                    return (r, c);
                }
            }
        }
        panic!("`{text}` not found");
    }

    fn rows(&self) -> usize {
        self.0.len()
    }

    fn row_texts(&self, r: usize) -> Vec<String> {
        self.0[r]
            .iter()
            .map(|v| match v {
                Data::String(s) => s.clone(),
                Data::Empty => String::new(),
                other => format!("{other}"),
            })
            .collect()
    }
}

fn sheet_names(path: &Path) -> Vec<String> {
    let wb: Xlsx<_> = open_workbook(path).unwrap();
    wb.sheet_names().to_vec()
}

#[allow(clippy::too_many_arguments)]
fn person(
    name: &str,
    birth: NaiveDate,
    seq: u32,
    unit: &str,
    approval: NaiveDate,
    no: &str,
    account: &str,
    bank: &str,
) -> RosterEntry {
    RosterEntry {
        id_number: make_id("370303", birth, seq),
        name: name.into(),
        unit: unit.into(),
        occupation: "钳工".into(),
        level: "高级技师".into(),
        approval_date: approval,
        approval_no: no.into(),
        bank_account: account.into(),
        bank_name: bank.into(),
        phone: "13800000000".into(),
        email: None,
        row: None,
    }
}

fn change(p: &RosterEntry, kind: ChangeKind, x: NaiveDate) -> ChangeEntry {
    ChangeEntry {
        id_number: p.id_number.clone(),
        name: p.name.clone(),
        kind,
        effective: x,
        end: None,
        new_unit: None,
        decision_no: None,
        title_no: None,
        note: None,
        row: None,
    }
}

async fn run(store: &Store, year: i32, today: NaiveDate) {
    let rules = RulesConfig::default();
    store
        .compute_run(
            year,
            false,
            "alice",
            today,
            &rules,
            POLICY,
            &ProgressBar::hidden(),
        )
        .await
        .unwrap();
    store.approve_run(year, "bob", POLICY).await.unwrap();
}

/// docs/rules.md A, B and C: 王强 (no changes), 李娜 (调往区外 2023-05-20), 张伟 (退休 2022-09-16,
/// reported in 2023); runs 2022 and 2023 approved. Returns the three roster rows.
async fn worked_examples(store: &Store) -> Vec<RosterEntry> {
    let wang = person(
        "王强",
        d(1975, 3, 8),
        11,
        "淄博鲁中机械有限公司",
        d(2021, 10, 15),
        "张人社字〔2021〕52号",
        "6222020200112233445",
        "-工行张店支行",
    );
    let li = person(
        "李娜",
        d(1980, 1, 1),
        123,
        "=SUM(A1:A2)",
        d(2022, 6, 20),
        "张人社字〔2022〕31号",
        "6217000010020030044",
        "中国建设银行淄博张店支行",
    );
    let zhang = person(
        "张伟",
        d(1968, 12, 1),
        35,
        "@张店区热力有限公司",
        d(2021, 10, 15),
        "张人社字〔2021〕52号",
        "6228480010020030041",
        "中国农业银行淄博张店支行",
    );
    let units: Vec<UnitEntry> = [&wang, &li, &zhang]
        .iter()
        .map(|p| UnitEntry {
            name: p.unit.clone(),
            contact: None,
            email: Some("hr@example.com".into()),
            row: None,
        })
        .collect();
    let people = vec![wang, li, zhang];
    store
        .import_roster(&Source::operator("clerk"), &units, &people)
        .await
        .unwrap()
        .unwrap();
    run(store, 2022, d(2022, 12, 1)).await;
    let out = store
        .record_changes(
            &Source::operator("clerk"),
            Reporter::Bureau,
            &[
                change(&people[1], ChangeKind::TransferredOut, d(2023, 5, 20)),
                change(&people[2], ChangeKind::Retired, d(2022, 9, 16)),
            ],
            false,
            &RulesConfig::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.applied.len(), 2, "{out:?}");
    run(store, 2023, d(2023, 12, 1)).await;
    people
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn export_count(store: &Store) -> (i64, i64) {
    let e = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM exports")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get::<i64, _>(0);
    let f = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM export_files")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get::<i64, _>(0);
    (e, f)
}

// Multi-threaded: tests/common closes a PostgreSQL pool from another thread when the test
// database is dropped, which needs this runtime's I/O driver still running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_file_and_summary_of_the_worked_examples() {
    for db in common::backends().await {
        let store = &db.store;
        let people = worked_examples(store).await;
        let (wang, li, zhang) = (&people[0], &people[1], &people[2]);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("reports/2023");
        let cfg = Config::default();
        let report = export_run(store, &cfg, 2023, None, Some(&dir), "alice")
            .await
            .unwrap();
        assert!(!report.already_exported);
        let bank = dir.join("bank-2023-run1.xlsx");
        let summary_path = dir.join("summary-2023-run1.xlsx");
        assert_eq!(
            report.files,
            vec![bank.clone(), summary_path.clone()],
            "{}",
            db.name
        );
        assert!(
            report.lines.iter().any(|l| l.contains("CT-2023-R1-P1")),
            "{:?}",
            report.lines
        );
        assert!(
            report
                .lines
                .iter()
                .all(|l| !l.contains(wang.id_number.as_str())),
            "no full ID number in report lines"
        );
        for f in &report.files {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
        assert_eq!(mode(&dir) & 0o007, 0, "the folder is not world-accessible");

        // The bank file: default template, only positive nets, in ID-number order.
        assert_eq!(sheet_names(&bank), ["代发明细"]);
        let s = Sheet::read(&bank, "代发明细");
        assert_eq!(
            s.row_texts(0),
            [
                "序号",
                "姓名",
                "身份证号码",
                "银行账号",
                "开户行",
                "金额（元）",
                "用途"
            ]
        );
        assert_eq!(s.rows(), 4, "two payments and the totals row");
        let purpose = "2023年度张店区首席技师津贴";
        for (r, p, fen) in [(1, wang, 600_000), (2, li, 530_645)] {
            assert_eq!(s.number(r, 0), r as f64);
            assert_eq!(s.text(r, 1), p.name);
            assert_eq!(
                s.text(r, 2),
                p.id_number.as_str(),
                "full ID number, as text"
            );
            assert_eq!(s.text(r, 3), p.bank_account, "full account, as text");
            assert_eq!(s.text(r, 4), p.bank_name);
            assert_eq!(s.fen(r, 5), fen);
            assert_eq!(s.text(r, 6), purpose);
        }
        assert_eq!(
            s.text(1, 4),
            "-工行张店支行",
            "formula-like text stays text"
        );
        assert_eq!(s.text(3, 0), "合计（2笔）");
        assert_eq!(s.fen(3, 5), 1_130_645);
        assert!(
            !s.0.iter()
                .flatten()
                .any(|v| matches!(v, Data::String(t) if t == zhang.name.as_str())),
            "a recovery is never in the bank file"
        );

        // The summary.
        assert_eq!(
            sheet_names(&summary_path),
            ["汇总", "明细", "追缴", "未覆盖", "追缴余额"]
        );
        // 张伟's recovery is open when the run is approved: the balance sheet lists it.
        let b = Sheet::read(&summary_path, "追缴余额");
        let (r, _) = b.find(&mask(zhang.id_number.as_str()));
        assert!(b.fen(r, 5) > 0, "an open balance");
        let t = Sheet::read(&summary_path, "汇总");
        assert_eq!(t.text(0, 0), "2023年度张店区首席技师津贴发放汇总表");
        assert!(t.text(1, 0).contains("第1批"), "{}", t.text(1, 0));
        // By unit: a person counts in their unit; units sorted by name.
        let (h, _) = t.find("一、按单位汇总");
        assert_eq!(
            t.row_texts(h + 1)[..7],
            [
                "序号",
                "工作单位",
                "发放人数",
                "发放金额（元）",
                "追缴人数",
                "追缴金额（元）",
                "净额（元）"
            ]
        );
        let mut expect_units = [
            (li.unit.as_str(), 1.0, 530_645, 0.0, 0),
            (zhang.unit.as_str(), 0.0, 0, 1.0, 175_000),
            (wang.unit.as_str(), 1.0, 600_000, 0.0, 0),
        ];
        expect_units.sort_by(|a, b| a.0.cmp(b.0));
        for (i, (unit, pp, paid, pr, rec)) in expect_units.iter().enumerate() {
            let r = h + 2 + i;
            assert_eq!(t.text(r, 1), *unit);
            assert_eq!(t.number(r, 2), *pp);
            assert_eq!(t.fen(r, 3), *paid);
            assert_eq!(t.number(r, 4), *pr);
            assert_eq!(t.fen(r, 5), *rec);
            assert_eq!(t.fen(r, 6), paid - rec);
        }
        let total_row = h + 5;
        assert_eq!(t.text(total_row, 1), "合计");
        assert_eq!(t.number(total_row, 2), 2.0);
        assert_eq!(t.fen(total_row, 3), 1_130_645);
        assert_eq!(t.number(total_row, 4), 1.0);
        assert_eq!(t.fen(total_row, 5), 175_000);
        assert_eq!(t.fen(total_row, 6), 955_645);
        // By cohort.
        let (h, _) = t.find("二、按评选年度汇总");
        assert_eq!(t.text(h + 2, 1), "2021年度");
        assert_eq!(t.number(h + 2, 2), 2.0);
        assert_eq!(t.fen(h + 2, 4), 600_000);
        assert_eq!(t.fen(h + 2, 5), 175_000);
        assert_eq!(t.text(h + 3, 1), "2022年度");
        assert_eq!(t.number(h + 3, 2), 1.0);
        assert_eq!(t.fen(h + 3, 4), 530_645);
        assert_eq!(t.text(h + 4, 1), "合计");
        assert_eq!(t.fen(h + 4, 6), 955_645);
        // By 明细 row kind: 王强 12 regular months in one row; 李娜 6 deferred months in one
        // row, 4 whole regular months in one and May on its own; 张伟 4 recoveries, a row each.
        assert!(
            t.0.iter().flatten().any(|c| matches!(c, Data::String(s)
                if s.contains("连续的全月、类型和每月金额相同的，合并为一行"))),
            "汇总 tells how 明细 rows are made"
        );
        let (h, _) = t.find("三、按明细类型汇总");
        let kinds = [
            ("当年发放", 3.0, 830_645),
            ("次年发放", 1.0, 300_000),
            ("补发", 0.0, 0),
            ("追缴", 4.0, -175_000),
        ];
        for (i, (label, n, fen)) in kinds.iter().enumerate() {
            assert_eq!(t.text(h + 2 + i, 1), *label);
            assert_eq!(t.number(h + 2 + i, 2), *n, "{label}");
            assert_eq!(t.fen(h + 2 + i, 3), *fen, "{label}");
        }
        assert_eq!(t.fen(h + 6, 3), 955_645);
        // Grand totals in figures and capitals.
        let (r, _) = t.find("发放总额（小写）");
        assert_eq!(t.fen(r, 2), 1_130_645);
        assert_eq!(t.text(r, 3), "发放人数");
        assert_eq!(t.number(r, 4), 2.0);
        let (r, _) = t.find("发放总额（大写）");
        assert_eq!(t.text(r, 2), "人民币壹万壹仟叁佰零陆元肆角伍分");
        let (r, _) = t.find("追缴总额（小写）");
        assert_eq!(t.fen(r, 2), 175_000);
        assert_eq!(t.number(r, 4), 1.0);
        let (r, _) = t.find("追缴总额（大写）");
        assert_eq!(t.text(r, 2), "人民币壹仟柒佰伍拾元整");
        // Control totals of the bank file, with its hash.
        let (r, c) = t.find("bank-2023-run1.xlsx");
        assert_eq!(c, 1);
        assert_eq!(t.text(r, 2), "CT-2023-R1-P1");
        assert_eq!(t.number(r, 3), 2.0);
        assert_eq!(t.fen(r, 4), 1_130_645);
        assert_eq!(
            t.text(r, 6),
            chieftech::store::sha256_hex(&std::fs::read(&bank).unwrap())
        );
        // Signature lines and the formula-like unit as text.
        t.find("经办人：＿＿＿＿＿＿＿＿");
        t.find("审核人：＿＿＿＿＿＿＿＿");
        t.find("负责人：＿＿＿＿＿＿＿＿");
        t.find("（系统计算：alice）");
        t.find("=SUM(A1:A2)");
        t.find("@张店区热力有限公司");

        // 明细: every line, with reasons; masked ID numbers.
        // Title and identification line above the header (issue 11).
        let m = Sheet::read(&summary_path, "明细");
        assert_eq!(m.text(0, 0), "2023年度张店区首席技师津贴明细表");
        assert!(m.text(1, 0).contains("编制单位"), "{}", m.text(1, 0));
        assert_eq!(
            m.row_texts(2),
            [
                "序号",
                "身份证号码",
                "姓名",
                "工作单位",
                "评选年度",
                "称号批准文号",
                "月份",
                "类型",
                "金额（元）",
                "说明"
            ]
        );
        // Title, identification, header, 8 rows (27 lines: whole months in a row make one),
        // 合计 and （以下空白）.
        assert_eq!(m.rows(), 3 + 8 + 1 + 1);
        assert_eq!(m.text(m.rows() - 1, 1), "（以下空白）");
        let line = |name: &str, month: &str| -> usize {
            (3..m.rows() - 2)
                .find(|&r| m.text(r, 2) == name && m.text(r, 6) == month)
                .unwrap_or_else(|| panic!("{name} {month}"))
        };
        let r = line("李娜", "2023-05");
        assert_eq!(m.text(r, 1), mask(li.id_number.as_str()));
        assert_eq!(m.text(r, 3), "=SUM(A1:A2)");
        assert_eq!(m.number(r, 4), 2022.0);
        assert_eq!(m.text(r, 5), "张人社字〔2022〕31号");
        assert_eq!(m.text(r, 7), "当年发放");
        assert_eq!(m.fen(r, 8), 30_645);
        assert!(
            m.text(r, 9).contains("500.00 × 19/31 = 306.45"),
            "{}",
            m.text(r, 9)
        );
        assert!(
            m.text(r, 9).contains("调往区外（生效2023-05-20"),
            "{}",
            m.text(r, 9)
        );
        let r = line("李娜", "2022-07至2022-12");
        assert_eq!(m.text(r, 7), "次年发放");
        assert_eq!(m.fen(r, 8), 300_000);
        assert_eq!(
            m.text(r, 9),
            "500.00 × 6个月 = 3,000.00（各月全月符合条件）；2022年度新评选，当年津贴次年发放"
        );
        let r = line("李娜", "2023-01至2023-04");
        assert_eq!(m.text(r, 7), "当年发放");
        assert_eq!(m.fen(r, 8), 200_000);
        let r = line("王强", "2023-01至2023-12");
        assert_eq!(m.fen(r, 8), 600_000);
        for month in ["2022-10", "2022-11", "2022-12"] {
            let r = line("张伟", month);
            assert_eq!(m.fen(r, 8), -50_000, "a recovery is a row per month");
        }
        let r = line("张伟", "2022-09");
        assert_eq!(m.text(r, 7), "追缴");
        assert_eq!(m.fen(r, 8), -25_000);
        let reason = m.text(r, 9);
        assert!(reason.contains("500.00 × 15/30 = 250.00"), "{reason}");
        assert!(reason.contains("此前已发 500.00"), "{reason}");
        assert!(reason.contains("退休（生效2022-09-16"), "{reason}");
        let last = m.rows() - 2;
        assert_eq!(m.text(last, 1), "合计（8笔）");
        assert_eq!(m.fen(last, 8), 955_645);

        // 追缴: the recovery list.
        // 追缴: the recovery list (title, identification line, header in row 3), then the
        // signature lines.
        let x = Sheet::read(&summary_path, "追缴");
        assert_eq!(x.text(0, 0), "2023年度张店区首席技师津贴追缴清单");
        assert_eq!(x.text(3, 1), mask(zhang.id_number.as_str()));
        assert_eq!(x.text(3, 2), "张伟");
        assert_eq!(x.text(3, 3), "@张店区热力有限公司");
        assert_eq!(x.fen(3, 4), 175_000);
        assert_eq!(x.text(3, 5), "2022-09至2022-12");
        assert!(
            x.text(3, 6).contains("退休（生效2022-09-16"),
            "{}",
            x.text(3, 6)
        );
        assert_eq!(x.text(4, 1), "合计（1人）");
        assert_eq!(x.fen(4, 4), 175_000);
        assert_eq!(x.text(4, 6), "人民币壹仟柒佰伍拾元整");
        x.find("经办人：＿＿＿＿＿＿＿＿");
        x.find("编制单位（盖章）：张店区人力资源和社会保障局");

        let u = Sheet::read(&summary_path, "未覆盖");
        assert_eq!(
            u.row_texts(2),
            [
                "序号",
                "身份证号码",
                "姓名",
                "工作单位",
                "未覆盖月份",
                "月数",
                "影响金额（元）"
            ]
        );
        assert_eq!(u.text(3, 0), "本批次没有未覆盖的月份");

        // Re-export: byte-identical, same dir or another, and no second batch.
        assert_eq!(export_count(store).await, (1, 2));
        let before: Vec<Vec<u8>> = report
            .files
            .iter()
            .map(|f| std::fs::read(f).unwrap())
            .collect();
        let again = export_run(store, &cfg, 2023, Some(1), Some(&dir), "carol")
            .await
            .unwrap();
        assert!(again.already_exported);
        assert!(again.lines.iter().any(|l| l.contains("already exported")));
        let other = tmp.path().join("elsewhere");
        let third = export_run(store, &cfg, 2023, None, Some(&other), "carol")
            .await
            .unwrap();
        assert!(third.already_exported);
        for (i, f) in again.files.iter().chain(third.files.iter()).enumerate() {
            assert_eq!(
                std::fs::read(f).unwrap(),
                before[i % 2],
                "{} differs",
                f.display()
            );
            assert_eq!(mode(f), 0o600);
        }
        assert_eq!(export_count(store).await, (1, 2), "no second batch");

        // A different template would give different files: refused, the record stands.
        let second = Config::parse(
            &format!(
                "[export]\nbank_template = \"{}\"",
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("config/banks/example-second-bank.toml")
                    .display()
            ),
            Path::new("test.toml"),
        )
        .unwrap();
        let e = export_run(store, &second, 2023, None, Some(&other), "carol")
            .await
            .unwrap_err();
        assert!(matches!(e, ExportError::Differs { .. }), "{e}");
        assert_eq!(e.exit_code(), 2);
        assert_eq!(std::fs::read(&third.files[0]).unwrap(), before[0]);

        // A draft is refused.
        store
            .compute_run(
                2024,
                false,
                "alice",
                d(2024, 12, 1),
                &RulesConfig::default(),
                POLICY,
                &ProgressBar::hidden(),
            )
            .await
            .unwrap();
        let e = export_run(store, &cfg, 2024, None, Some(&dir), "alice")
            .await
            .unwrap_err();
        assert!(
            matches!(e, ExportError::NotApproved { year: 2024, seq: 1 }),
            "{e}"
        );
        assert_eq!(e.exit_code(), 2);
        assert_eq!(export_count(store).await, (1, 2));
    }
}

/// Three technicians approved 2021-10-15: run 2023 pays 6,000.00 each = 18,000.00.
async fn three_of_2021(store: &Store) -> Vec<RosterEntry> {
    let people: Vec<RosterEntry> = ["刘洋", "陈静", "杨磊"]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            person(
                n,
                d(1970 + i as i32, 5, 5),
                i as u32,
                "淄博华通化工股份有限公司",
                d(2021, 10, 15),
                "张人社字〔2021〕52号",
                &format!("621700001002003004{i}"),
                "中国建设银行淄博张店支行",
            )
        })
        .collect();
    store
        .import_roster(&Source::operator("clerk"), &[], &people)
        .await
        .unwrap()
        .unwrap();
    run(store, 2022, d(2022, 12, 1)).await;
    run(store, 2023, d(2023, 12, 1)).await;
    people
}

#[tokio::test]
async fn parts_split_by_max_rows_with_control_totals() {
    let db = common::sqlite().await;
    let store = &db.store;
    let people = three_of_2021(store).await;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = Config::parse("[export]\nmax_rows_per_file = 2", Path::new("t.toml")).unwrap();
    let report = export_run(store, &cfg, 2023, None, Some(tmp.path()), "alice")
        .await
        .unwrap();
    let part1 = tmp.path().join("bank-2023-run1-part1.xlsx");
    let part2 = tmp.path().join("bank-2023-run1-part2.xlsx");
    assert_eq!(
        report.files,
        vec![
            part1.clone(),
            part2.clone(),
            tmp.path().join("summary-2023-run1.xlsx")
        ]
    );
    assert_eq!(report.parts.len(), 2);
    assert_eq!((report.parts[0].rows, report.parts[0].fen), (2, 1_200_000));
    assert_eq!((report.parts[1].rows, report.parts[1].fen), (1, 600_000));
    let mut sorted = people.clone();
    sorted.sort_by(|a, b| a.id_number.as_str().cmp(b.id_number.as_str()));
    let a = Sheet::read(&part1, "代发明细");
    assert_eq!(a.rows(), 4);
    assert_eq!(a.text(1, 2), sorted[0].id_number.as_str());
    assert_eq!(a.text(2, 2), sorted[1].id_number.as_str());
    assert_eq!(a.text(3, 0), "合计（2笔）");
    assert_eq!(a.fen(3, 5), 1_200_000);
    let b = Sheet::read(&part2, "代发明细");
    assert_eq!(b.rows(), 3);
    assert_eq!(b.number(1, 0), 1.0, "序号 restarts in each part");
    assert_eq!(b.text(1, 2), sorted[2].id_number.as_str());
    assert_eq!(b.fen(2, 5), 600_000);

    let t = Sheet::read(&tmp.path().join("summary-2023-run1.xlsx"), "汇总");
    let (r, _) = t.find("发放总额（大写）");
    assert_eq!(t.text(r, 2), "人民币壹万捌仟元整");
    for (k, (file, rows, fen)) in [(&part1, 2.0, 1_200_000), (&part2, 1.0, 600_000)]
        .iter()
        .enumerate()
    {
        let name = file.file_name().unwrap().to_str().unwrap();
        let (r, _) = t.find(name);
        assert_eq!(t.text(r, 2), format!("CT-2023-R1-P{}", k + 1));
        assert_eq!(t.number(r, 3), *rows);
        assert_eq!(t.fen(r, 4), *fen);
        assert_eq!(
            t.text(r, 6),
            chieftech::store::sha256_hex(&std::fs::read(file).unwrap())
        );
    }
    let (r, _) = t.find("五、代发文件控制数");
    assert_eq!(t.text(r + 4, 1), "合计");
    assert_eq!(t.number(r + 4, 3), 3.0);
    assert_eq!(t.fen(r + 4, 4), 1_800_000);
    // The export is recorded with both parts.
    let rows = sqlx::query("SELECT file_name, kind, part, batch_ref, row_count, sum_fen, sha256 FROM export_files ORDER BY file_name")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].get::<String, _>(0), "bank-2023-run1-part1.xlsx");
    assert_eq!(rows[0].get::<String, _>(3), "CT-2023-R1-P1");
    assert_eq!(rows[0].get::<i64, _>(4), 2);
    assert_eq!(rows[0].get::<i64, _>(5), 1_200_000);
    assert_eq!(rows[1].get::<i64, _>(2), 2);
    assert_eq!(rows[2].get::<String, _>(1), "summary");
}

#[tokio::test]
async fn second_bank_template_layout() {
    let db = common::sqlite().await;
    let store = &db.store;
    three_of_2021(store).await;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = Config::parse(
        "[export]\nbank_template = \"banks/example-second-bank.toml\"\npurpose = \"{year}年度{program}（第{run}批）\"",
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml"),
    )
    .unwrap();
    let report = export_run(store, &cfg, 2022, None, Some(tmp.path()), "alice")
        .await
        .unwrap();
    let bank = tmp.path().join("bank-2022-run1.xlsx");
    assert_eq!(report.files[0], bank);
    let s = Sheet::read(&bank, "Sheet1");
    assert_eq!(s.text(0, 0), "批量代发 2022年度张店区首席技师津贴（第1批）");
    assert_eq!(
        s.row_texts(1),
        [
            "收款账号",
            "收款户名",
            "金额（元）",
            "证件类型",
            "证件号码",
            "摘要"
        ]
    );
    assert_eq!(s.rows(), 5, "title, header, three rows and no totals row");
    for r in 2..5 {
        assert_eq!(s.text(r, 2), "7000.00", "amounts as text");
        assert_eq!(s.text(r, 3), "身份证");
        assert!(IdNumber::parse(s.text(r, 4)).is_ok());
        assert_eq!(s.text(r, 5), "2022年度张店区首席技师津贴（第1批）");
    }
}

#[test]
fn capitals_of_tricky_totals_in_the_summary() {
    for (fen, words) in [
        (5, "人民币伍分"),
        (1_000, "人民币壹拾元整"),
        (10_000_510, "人民币壹拾万零伍元壹角"),
        (1_800_000, "人民币壹万捌仟元整"),
        (100_000_000, "人民币壹佰万元整"),
    ] {
        let model = SummaryModel {
            title: "测试".into(),
            paid_fen: fen,
            recovered_fen: -fen,
            people_paid: 1,
            ..SummaryModel::default()
        };
        let tmp = tempfile::NamedTempFile::new().unwrap();
        summary::write_summary(
            &model,
            &[],
            d(2025, 12, 1).and_hms_opt(9, 0, 0).unwrap(),
            tmp.reopen().unwrap(),
        )
        .unwrap();
        let t = Sheet::read(tmp.path(), "汇总");
        let (r, _) = t.find("发放总额（小写）");
        assert_eq!(t.fen(r, 2), fen);
        let (r, _) = t.find("发放总额（大写）");
        assert_eq!(t.text(r, 2), words);
        let (r, _) = t.find("追缴总额（大写）");
        assert_eq!(t.text(r, 2), words);
    }
}

/// Reads a date cell or a date text of docs/contract.md.
fn read_date(v: &Data) -> Option<NaiveDate> {
    match v {
        Data::DateTime(dt) => dt.as_datetime().map(|x| x.date()),
        Data::String(s) if s.contains('年') => {
            let s = s.replace(['年', '月'], "-").replace('日', "");
            NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()
        }
        Data::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
        Data::Empty => None,
        other => panic!("not a date: {other:?}"),
    }
}

fn header_map(s: &Sheet, header: &[&str]) -> (usize, Vec<usize>) {
    let (r, _) = s.find(header[0]);
    let row = s.row_texts(r);
    let cols = header
        .iter()
        .map(|h| {
            row.iter()
                .position(|c| c == h)
                .unwrap_or_else(|| panic!("header {h}"))
        })
        .collect();
    (r, cols)
}

/// Reads a sample back with calamine and records it through the store's checks; returns
/// the changes files by year.
async fn import_sample(store: &Store, dir: &Path, people: usize, seed: u64) -> Vec<(i32, PathBuf)> {
    let files = write_sample(people, dir, seed).unwrap();
    let roster = Sheet::read(&files.roster, "名册");
    let (h, c) = header_map(&roster, &sample::ROSTER_HEADERS);
    let mut entries = Vec::new();
    for r in h + 1..roster.rows() {
        let text = |i: usize| roster.text(r, c[i]).to_string();
        entries.push(RosterEntry {
            id_number: IdNumber::parse(&text(1)).unwrap(),
            name: text(0),
            unit: text(2),
            occupation: text(3),
            level: text(4),
            approval_date: read_date(roster.cell(r, c[5])).unwrap(),
            approval_no: text(6),
            bank_account: chieftech::rules::id_number::parse_account(&text(7)).unwrap(),
            bank_name: text(8),
            phone: text(9),
            email: Some(text(10)).filter(|s| !s.is_empty()),
            row: Some(r as u32 + 1),
        });
    }
    let cohorts: std::collections::BTreeSet<i32> =
        entries.iter().map(|e| e.approval_date.year()).collect();
    assert_eq!(
        cohorts.into_iter().collect::<Vec<_>>(),
        [2021, 2022, 2023, 2024]
    );
    let units_sheet = Sheet::read(&files.roster, "单位");
    let (h, c) = header_map(&units_sheet, &sample::UNIT_HEADERS);
    let units: Vec<UnitEntry> = (h + 1..units_sheet.rows())
        .map(|r| UnitEntry {
            name: units_sheet.text(r, c[0]).into(),
            contact: Some(units_sheet.text(r, c[1]).into()),
            email: Some(units_sheet.text(r, c[2]).into()),
            row: Some(r as u32 + 1),
        })
        .collect();
    assert!(units
        .iter()
        .all(|u| u.email.as_ref().unwrap().contains('@')));
    let content = std::fs::read(&files.roster).unwrap();
    let out = store
        .import_roster(
            &Source::file("roster-file", "roster.xlsx", &content, "clerk"),
            &units,
            &entries,
        )
        .await
        .unwrap()
        .unwrap_or_else(|p| panic!("roster refused: {p:?}"));
    assert_eq!(out.added, entries.len());
    files.changes
}

async fn import_changes(
    store: &Store,
    path: &Path,
) -> (usize, std::collections::BTreeSet<ChangeKind>, bool) {
    let s = Sheet::read(path, "变动");
    let (h, c) = header_map(&s, &sample::CHANGE_HEADERS);
    let report_year: i32 = path.file_stem().unwrap().to_str().unwrap()[8..]
        .parse()
        .unwrap();
    let mut rows = Vec::new();
    let mut late = false;
    for r in h + 1..s.rows() {
        let opt = |i: usize| Some(s.text(r, c[i]).to_string()).filter(|t| !t.is_empty());
        let x = read_date(s.cell(r, c[3])).unwrap();
        late |= x.year() < report_year;
        rows.push(ChangeEntry {
            id_number: IdNumber::parse(s.text(r, c[1])).unwrap(),
            name: s.text(r, c[0]).into(),
            kind: ChangeKind::from_label(s.text(r, c[2])).unwrap(),
            effective: x,
            end: read_date(s.cell(r, c[4])),
            new_unit: opt(5),
            decision_no: opt(6),
            title_no: opt(7),
            note: opt(8),
            row: Some(r as u32 + 1),
        });
    }
    let content = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    let out = store
        .record_changes(
            &Source::file("changes-file", name, &content, "clerk"),
            Reporter::Bureau,
            &rows,
            false,
            &RulesConfig::default(),
        )
        .await
        .unwrap();
    assert!(out.rejected.is_empty(), "{name}: {:?}", out.rejected);
    assert!(out.duplicates.is_empty(), "{name}: {:?}", out.duplicates);
    assert!(!out.refused_whole);
    assert_eq!(out.applied.len(), rows.len(), "{name}");
    (rows.len(), rows.iter().map(|r| r.kind).collect(), late)
}

/// The sample's three years: changes of year Y imported, then run Y computed and approved,
/// and exported. Returns the export folder.
async fn sample_pipeline(store: &Store, dir: &Path, people: usize, seed: u64) -> PathBuf {
    let changes = import_sample(store, &dir.join("input"), people, seed).await;
    assert_eq!(
        changes.iter().map(|c| c.0).collect::<Vec<_>>(),
        [2023, 2024, 2025]
    );
    let mut kinds = std::collections::BTreeSet::new();
    let mut any_late = false;
    let reports = dir.join("reports");
    let cfg = Config::default();
    for (year, path) in &changes {
        let (_, k, late) = import_changes(store, path).await;
        kinds.extend(k);
        any_late |= late;
        run(store, *year, d(*year, 12, 1)).await;
        let r = export_run(
            store,
            &cfg,
            *year,
            None,
            Some(&reports.join(year.to_string())),
            "alice",
        )
        .await
        .unwrap();
        assert!(!r.already_exported);
    }
    assert_eq!(
        kinds.len(),
        ChangeKind::ALL.len(),
        "every change type: {kinds:?}"
    );
    assert!(any_late, "late reports");
    reports
}

#[tokio::test]
async fn sample_workbooks_read_back_and_pass_every_check() {
    let db = common::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    // Deterministic for a seed: byte-identical files.
    let a = write_sample(120, &tmp.path().join("a"), 5).unwrap();
    let b = write_sample(120, &tmp.path().join("b"), 5).unwrap();
    for (x, y) in std::iter::once((&a.roster, &b.roster)).chain(
        a.changes
            .iter()
            .map(|c| &c.1)
            .zip(b.changes.iter().map(|c| &c.1)),
    ) {
        assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap());
    }
    // ID and account numbers are text cells (Sheet::text panics on a number).
    let roster = Sheet::read(&a.roster, "名册");
    assert!(
        roster.text(0, 0).contains("名册"),
        "a title row above the header"
    );
    assert_eq!(roster.row_texts(1), sample::ROSTER_HEADERS);
    assert!(
        matches!(roster.cell(2, 5), Data::DateTime(_)),
        "approval dates are date cells"
    );

    let reports = sample_pipeline(&db.store, tmp.path(), 120, 11).await;
    // The fraud case was paid before and is recovered in 2024.
    let x = Sheet::read(&reports.join("2024/summary-2024-run1.xlsx"), "追缴");
    let fraud_row = (1..x.rows()).find(|&r| x.text(r, 6).contains("弄虚作假撤销"));
    assert!(fraud_row.is_some(), "a fraud recovery in 2024");
    let fraud_row = fraud_row.unwrap();
    assert!(
        x.fen(fraud_row, 4) >= 1_300_000,
        "2021-11 … 2023-12 paid back"
    );
    // Each year's summary agrees with its bank file.
    for year in [2023, 2024, 2025] {
        let dir = reports.join(year.to_string());
        let bank = Sheet::read(&dir.join(format!("bank-{year}-run1.xlsx")), "代发明细");
        let t = Sheet::read(&dir.join(format!("summary-{year}-run1.xlsx")), "汇总");
        let last = bank.rows() - 1;
        let (r, _) = t.find("发放总额（小写）");
        assert_eq!(t.fen(r, 2), bank.fen(last, 5), "{year}");
        assert_eq!(t.number(r, 4), (last - 1) as f64, "{year}");
    }
}

/// Converts files to PDF with LibreOffice headless; None when it is not installed (outside CI).
fn soffice_pdf(files: &[&Path], out: &Path) -> Option<Vec<PathBuf>> {
    let soffice = ["soffice", "libreoffice"].into_iter().find(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(soffice) = soffice else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("LibreOffice (soffice) is not installed under CI=true: apt-get install libreoffice-calc");
        }
        eprintln!("\n*** SKIPPED LibreOffice PDF test: soffice not installed (apt-get install libreoffice-calc poppler-utils) ***\n");
        return None;
    };
    let profile = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(soffice)
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.path().join("lo").display()
        ))
        .args([
            "--headless",
            "--norestore",
            "--nologo",
            "--convert-to",
            "pdf",
            "--outdir",
        ])
        .arg(out)
        .args(files)
        .env("HOME", profile.path())
        .output()
        .expect("soffice runs");
    assert!(
        status.status.success(),
        "soffice failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let pdfs: Vec<PathBuf> = files
        .iter()
        .map(|f| out.join(f.with_extension("pdf").file_name().unwrap()))
        .collect();
    for p in &pdfs {
        let bytes = std::fs::read(p).unwrap_or_else(|e| {
            panic!(
                "{}: {e}\n{}",
                p.display(),
                String::from_utf8_lossy(&status.stdout)
            )
        });
        assert!(bytes.starts_with(b"%PDF"), "{}", p.display());
        assert!(bytes.len() > 2000, "{} is too small", p.display());
    }
    Some(pdfs)
}

#[tokio::test]
async fn libreoffice_renders_the_summary_and_a_bank_file() {
    let db = common::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let reports = sample_pipeline(&db.store, tmp.path(), 200, 2025).await;
    let summary_path = reports.join("2024/summary-2024-run1.xlsx");
    let bank = reports.join("2024/bank-2024-run1.xlsx");
    let pdf_dir = tmp.path().join("pdf");
    std::fs::create_dir_all(&pdf_dir).unwrap();
    let Some(pdfs) = soffice_pdf(&[&summary_path, &bank], &pdf_dir) else {
        return;
    };
    // With poppler: the summary has pages, and the picture for the README when asked for
    // (CHIEFTECH_DOCS_PNG=docs/summary.png).
    if let Ok(out) = std::process::Command::new("pdfinfo").arg(&pdfs[0]).output() {
        let text = String::from_utf8_lossy(&out.stdout);
        let pages: u32 = text
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .map(|p| p.trim().parse().unwrap())
            .unwrap_or(0);
        assert!(pages >= 2, "{text}");
    }
    if let Ok(png) = std::env::var("CHIEFTECH_DOCS_PNG") {
        let png = Path::new(env!("CARGO_MANIFEST_DIR")).join(png);
        let status = std::process::Command::new("pdftoppm")
            .args(["-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile"])
            .arg(&pdfs[0])
            .arg(png.with_extension(""))
            .status()
            .expect("pdftoppm runs");
        assert!(status.success());
        assert!(png.exists());
    }
}

/// Issue 15: a run with more lines than fit one 明细 sheet continues on 明细(2), 明细(3)…, each
/// with its header; every line reads back from the parts, and the last part's 合计 is the whole
/// run's (a lowered per-sheet cap keeps the test small). Once with a row per month, once with
/// whole months in a row as one row (the default): expanded, its rows are the ledger's lines.
#[tokio::test]
async fn detail_lines_beyond_one_sheet_continue_on_further_sheets() {
    for (ranges, cap) in [(false, 40), (true, 10)] {
        let (want, got, rows) = detail_read_back(ranges, cap).await;
        assert!(
            rows.div_ceil(cap) >= 3,
            "enough rows for three sheets: {rows}"
        );
        if ranges {
            assert!(
                rows * 2 < want.len(),
                "{rows} rows for {} lines",
                want.len()
            );
        } else {
            assert_eq!(rows, want.len());
        }
        assert_eq!(
            got, want,
            "every line reads back from the parts (ranges: {ranges})"
        );
    }
}

/// Exports a sample run with `cap` 明细 rows a sheet; returns the ledger's (month, fen) lines,
/// the lines read back from the 明细 parts (a stretch expanded into its months, each the row's
/// amount over their number), both sorted, and the number of rows.
async fn detail_read_back(
    ranges: bool,
    cap: usize,
) -> (Vec<(String, i64)>, Vec<(String, i64)>, usize) {
    let db = common::sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let store = &db.store;
    let changes = import_sample(store, &tmp.path().join("input"), 30, 5).await;
    let (year, path) = &changes[0];
    import_changes(store, path).await;
    run(store, *year, d(*year, 12, 1)).await;
    let cfg = Config::parse(
        &format!("[export]\ndetail_rows_per_sheet = {cap}\ndetail_month_ranges = {ranges}\n"),
        Path::new("c.toml"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let r = export_run(store, &cfg, *year, None, Some(&out), "alice")
        .await
        .unwrap();
    let summary = r
        .files
        .iter()
        .find(|f| {
            f.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("summary")
        })
        .unwrap();
    let view = store.show_run(*year, None, true).await.unwrap();
    let mut want: Vec<(String, i64)> = view
        .people
        .iter()
        .flat_map(|p| p.lines().into_iter().map(|l| (l.month.to_string(), l.fen)))
        .collect();
    let names = sheet_names(summary);
    let parts: Vec<&String> = names.iter().filter(|n| n.starts_with("明细")).collect();
    assert_eq!(parts[1].as_str(), "明细(2)");
    let (mut got, mut rows, mut last_seq) = (Vec::new(), 0usize, 0.0);
    for (k, name) in parts.iter().enumerate() {
        let s = Sheet::read(summary, name);
        let (h, _) = s.find("序号");
        assert_eq!(s.text(h, 6), "月份", "{name} has its header");
        let mut r = h + 1;
        while matches!(s.cell(r, 0), Data::Float(_) | Data::Int(_)) {
            let seq = s.number(r, 0);
            assert_eq!(seq, last_seq + 1.0, "序号 runs on across sheets");
            last_seq = seq;
            got.extend(expand_months(s.text(r, 6), s.fen(r, 8)));
            rows += 1;
            r += 1;
        }
        let label = s.text(r, 1);
        if k + 1 < parts.len() {
            assert!(label.starts_with(&format!("小计（本表{cap}笔")), "{label}");
        } else {
            assert!(label.starts_with(&format!("合计（全部{rows}笔")), "{label}");
            let total: i64 = want.iter().map(|w| w.1).sum();
            assert_eq!(s.fen(r, 8), total);
        }
    }
    assert_eq!(parts.len(), rows.div_ceil(cap), "{names:?}");
    want.sort();
    got.sort();
    (want, got, rows)
}

/// A 月份 cell (`2024-03` or `2024-01至2024-12`) and its row's amount as (month, fen) lines.
fn expand_months(cell: &str, fen: i64) -> Vec<(String, i64)> {
    use chieftech::rules::Month;
    let (first, last) = cell.split_once('至').unwrap_or((cell, cell));
    let (first, last): (Month, Month) = (first.parse().unwrap(), last.parse().unwrap());
    let months: Vec<Month> = first.through(last).collect();
    let n = months.len() as i64;
    assert_eq!(fen % n, 0, "{cell}: {fen} is {n} equal months");
    months.iter().map(|m| (m.to_string(), fen / n)).collect()
}

/// The XML of the summary's first 明细 sheet (the workbook's second sheet).
fn detail_sheet_xml(summary: &Path) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(summary).unwrap()).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/worksheets/sheet2.xml").unwrap(),
        &mut xml,
    )
    .unwrap();
    xml
}

/// A run with more 明细 lines than `detail_fitted_rows_max`: its rows keep one line (no row
/// height per line, which would cost memory until the workbook is saved), and 汇总 says so;
/// a run under it gets each row as high as its wrapped 说明.
#[tokio::test]
async fn detail_rows_of_a_large_run_keep_one_line() {
    let mut heights = Vec::new();
    let mut widths = Vec::new();
    for fitted_max in [100_000, 10] {
        let db = common::sqlite().await;
        let tmp = tempfile::tempdir().unwrap();
        let store = &db.store;
        let changes = import_sample(store, &tmp.path().join("input"), 30, 5).await;
        let (year, path) = &changes[0];
        import_changes(store, path).await;
        run(store, *year, d(*year, 12, 1)).await;
        let cfg = Config::parse(
            &format!("[export]\ndetail_fitted_rows_max = {fitted_max}\n"),
            Path::new("c.toml"),
        )
        .unwrap();
        let out = tmp.path().join("out");
        let r = export_run(store, &cfg, *year, None, Some(&out), "alice")
            .await
            .unwrap();
        let summary = r
            .files
            .iter()
            .find(|f| f.to_string_lossy().contains("summary-"))
            .unwrap();
        let xml = detail_sheet_xml(summary);
        let rows = xml.matches("<row ").count();
        assert!(rows > 20, "{rows} rows");
        // Title, identification line, header and the 合计 row have their own heights.
        let custom = xml.matches("customHeight=\"1\"").count();
        // Every row once (Excel refuses a sheet with a row twice and offers to repair it).
        let numbers: Vec<&str> = xml
            .split("<row r=\"")
            .skip(1)
            .map(|r| &r[..r.find('"').unwrap()])
            .collect();
        let unique: std::collections::BTreeSet<&&str> = numbers.iter().collect();
        assert_eq!(unique.len(), numbers.len(), "a row written twice");
        // The column widths, whether the rows were held (fitted) or streamed (set at saving).
        let cols = &xml[xml.find("<cols>").expect("<cols>")..xml.find("</cols>").unwrap()];
        widths.push(cols.to_string());
        heights.push((rows, custom));
        let totals = Sheet::read(summary, "汇总");
        let note = totals
            .0
            .iter()
            .flatten()
            .any(|c| matches!(c, Data::String(t) if t.contains("明细超过10笔")));
        assert_eq!(note, fitted_max == 10, "the note on 汇总");
    }
    let (rows, fitted) = heights[0];
    assert_eq!(fitted, rows - 1, "every row but 以下空白 has its height");
    let (_, one_line) = heights[1];
    assert_eq!(
        one_line, 4,
        "only the title, header and 合计 rows have heights"
    );
    assert_eq!(widths[0], widths[1], "the same lines give the same widths");
    assert!(widths[0].matches("<col ").count() >= 5, "{}", widths[0]);
}

/// The cell styles (`s="…"`) of a sheet's cells, in document order, from the package.
fn cell_styles(xlsx: &[u8], sheet: &str) -> Vec<String> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut xml = String::new();
    zip.by_name(sheet)
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    xml.split("<c ")
        .skip(1)
        .map(|c| {
            c.split(" s=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("0")
                .to_string()
        })
        .collect()
}

/// rust_xlsxwriter (vendored) remembers the formats a worksheet looked up last by their
/// address, so that a million cells written with the same few formats are not each hashed
/// (issue 15). A format changed in place, at the same address, is a format of its own: the
/// cells written after the change take its style, in memory and in constant-memory sheets.
#[test]
fn a_format_changed_in_place_gives_its_cells_a_style_of_their_own() {
    use rust_xlsxwriter::{Format, Workbook};
    for constant_memory in [false, true] {
        let mut wb = Workbook::new();
        let ws = if constant_memory {
            wb.add_worksheet_with_constant_memory().unwrap()
        } else {
            wb.add_worksheet()
        };
        let mut f = Format::new().set_num_format("#,##0.00");
        let address = std::ptr::from_ref(&f) as usize;
        for row in 0..3 {
            ws.write_number_with_format(row, 0, 1.5, &f).unwrap();
        }
        f = Format::new().set_bold();
        assert_eq!(address, std::ptr::from_ref(&f) as usize, "the same place");
        for row in 3..6 {
            ws.write_number_with_format(row, 0, 2.5, &f).unwrap();
        }
        let bytes = wb.save_to_buffer().unwrap();
        let styles = cell_styles(&bytes, "xl/worksheets/sheet1.xml");
        assert_eq!(styles.len(), 6, "{styles:?}");
        assert!(styles[..3].iter().all(|s| *s == styles[0]), "{styles:?}");
        assert!(styles[3..].iter().all(|s| *s == styles[3]), "{styles:?}");
        assert_ne!(styles[0], styles[3], "constant memory: {constant_memory}");
        assert_ne!(styles[0], "0");
        assert_ne!(styles[3], "0");
    }
}
