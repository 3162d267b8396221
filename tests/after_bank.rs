//! After the bank (issue 12), from the command line on SQLite and PostgreSQL: a run exported,
//! the bank's return file with 3 failures of 40 reconciled, a supplementary run re-issuing
//! exactly those 3 (one to a corrected account), bank files and ledger agreeing to the fen, a
//! second reconcile changing nothing, and hostile return files refused with nothing changed.

mod common;

use calamine::{open_workbook, Data, Reader, Xlsx};
use chieftech::rules::id_number::make_id;
use chieftech::store::{RosterEntry, Source, Store, UnitEntry};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PEOPLE: usize = 40;
const FAILED_ROWS: [usize; 3] = [5, 17, 33];

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn chieftech(db: &str, config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .args(["--database", db])
        .args(args)
        .env("CHIEFTECH_CONFIG", config)
        .output()
        .expect("run chieftech")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}

/// The repository's configuration with the outbox and reports in `dir` (and, when given,
/// another bank template).
fn config(dir: &Path, bank_template: Option<&str>) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = std::fs::read_to_string(repo.join("config/default.toml")).unwrap();
    let template = bank_template.unwrap_or("banks/default.toml");
    let text = base
        .replace(
            "bank_template = \"banks/default.toml\"",
            &format!(
                "bank_template = \"{}\"",
                repo.join("config").join(template).display()
            ),
        )
        .replace(
            "outbox_dir = \"../reports/outbox\"",
            &format!("outbox_dir = \"{}\"", dir.join("outbox").display()),
        )
        .replace(
            "templates = \"templates\"",
            &format!(
                "templates = \"{}\"",
                repo.join("config/templates").display()
            ),
        )
        .replace(
            "reports = \"../reports\"",
            &format!("reports = \"{}\"", dir.join("reports").display()),
        );
    let path = dir.join("chieftech.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn roster_entry(i: usize, account: &str) -> RosterEntry {
    RosterEntry {
        id_number: make_id("370303", d("1970-01-01") + chrono::Days::new(i as u64), 7),
        name: format!("技师{i}"),
        unit: "张店示例厂".into(),
        occupation: "电工".into(),
        level: "技师".into(),
        approval_date: d("2022-03-01") + chrono::Days::new((i * 7) as u64),
        approval_no: format!("张人社字〔2022〕{i}号"),
        bank_account: account.into(),
        bank_name: "工商银行张店支行".into(),
        phone: String::new(),
        email: None,
        row: Some(i as u32 + 2),
    }
}

fn account(i: usize) -> String {
    format!("6222021603{i:09}")
}

async fn import(store: &Store, entries: &[RosterEntry]) {
    let unit = UnitEntry {
        name: "张店示例厂".into(),
        contact: None,
        email: Some("hr@shilichang.example".into()),
        row: None,
    };
    store
        .import_roster(&Source::operator("clerk"), &[unit], entries)
        .await
        .unwrap()
        .unwrap();
}

/// A bank file's payment row: (序号, ID number, account, fen).
type BankRow = (u32, String, String, i64);

/// A bank file's payment rows, without its 合计 row.
fn bank_rows(path: &Path) -> Vec<BankRow> {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let range = wb.worksheet_range("代发明细").unwrap();
    let mut out = Vec::new();
    for row in range.rows().skip(1) {
        let Data::Float(seq) = row[0] else { continue };
        let fen = match &row[5] {
            Data::Float(f) => (f * 100.0).round() as i64,
            other => panic!("amount cell {other:?}"),
        };
        out.push((seq as u32, row[2].to_string(), row[3].to_string(), fen));
    }
    out
}

/// A return file in the default template's layout: 序号, 身份证号码, 银行账号, 金额（元）,
/// 状态, 失败原因; rows in `failed` failed with a reason.
fn return_file(path: &Path, rows: &[BankRow], failed: &[usize]) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.write_string(0, 0, "某银行代发回盘").unwrap();
    for (c, h) in [
        "序号",
        "身份证号码",
        "银行账号",
        "金额（元）",
        "状态",
        "失败原因",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(1, c as u16, *h).unwrap();
    }
    for (k, (seq, id, acc, fen)) in rows.iter().enumerate() {
        let r = k as u32 + 2;
        ws.write_number(r, 0, f64::from(*seq)).unwrap();
        ws.write_string(r, 1, id).unwrap();
        ws.write_string(r, 2, acc).unwrap();
        ws.write_string(r, 3, format!("{}.{:02}", fen / 100, fen % 100))
            .unwrap();
        let fail = failed.contains(&(*seq as usize));
        ws.write_string(r, 4, if fail { "失败" } else { "成功" })
            .unwrap();
        if fail {
            ws.write_string(r, 5, "账户已销户").unwrap();
        }
    }
    book.save(path).unwrap();
}

async fn count(store: &Store, sql: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

/// What the ledger holds after the bank: results, re-issues, outbox; compared before and
/// after a refused or repeated reconcile.
async fn ledger_state(store: &Store) -> Vec<i64> {
    let mut v = Vec::new();
    for sql in [
        "SELECT CAST(COUNT(*) AS BIGINT) FROM payment_results",
        "SELECT CAST(COUNT(*) AS BIGINT) FROM payment_results WHERE status = 'failed'",
        "SELECT CAST(COUNT(*) AS BIGINT) FROM run_reissues",
        "SELECT CAST(COUNT(*) AS BIGINT) FROM outbox",
        "SELECT CAST(COUNT(*) AS BIGINT) FROM audit WHERE money = 1",
    ] {
        v.push(count(store, sql).await);
    }
    v
}

fn run_steps(db: &str, cfg: &Path, year: &str, today: &str, extra: &[&str], out: &Path) -> String {
    let mut compute = vec![
        "--operator",
        "alice",
        "--today",
        today,
        "payrun",
        "compute",
        "--year",
        year,
    ];
    compute.extend_from_slice(extra);
    ok(chieftech(db, cfg, &compute));
    ok(chieftech(
        db,
        cfg,
        &[
            "--operator",
            "bob",
            "--today",
            today,
            "payrun",
            "approve",
            "--year",
            year,
        ],
    ));
    ok(chieftech(
        db,
        cfg,
        &[
            "--operator",
            "bob",
            "--today",
            today,
            "payrun",
            "export",
            "--year",
            year,
            "-o",
            out.to_str().unwrap(),
        ],
    ))
}

#[tokio::test]
async fn failures_are_reconciled_and_reissued_exactly_once() {
    for db in common::backends().await {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), None);
        let entries: Vec<RosterEntry> = (0..PEOPLE).map(|i| roster_entry(i, &account(i))).collect();
        import(&db.store, &entries).await;
        let out = dir.path().join("2023");
        run_steps(&db.url, &cfg, "2023", "2023-12-01", &[], &out);
        let rows = bank_rows(&out.join("bank-2023-run1.xlsx"));
        assert_eq!(rows.len(), PEOPLE, "{}", db.name);

        // The bank answers: 3 of 40 failed.
        let ret = dir.path().join("回盘-2023.xlsx");
        return_file(&ret, &rows, &FAILED_ROWS);
        let before = ledger_state(&db.store).await;
        let o = ok(chieftech(
            &db.url,
            &cfg,
            &[
                "--operator",
                "carol",
                "--today",
                "2024-01-10",
                "payrun",
                "reconcile",
                "--year",
                "2023",
                ret.to_str().unwrap(),
            ],
        ));
        assert!(o.contains("到账 37 笔；失败 3 笔"), "{o}");
        let after = ledger_state(&db.store).await;
        assert_eq!(after[0], before[0] + 40, "{}", db.name);
        assert_eq!(after[1], 3);
        assert_eq!(after[3], before[3] + 3, "one notice per failure");
        // Full numbers never reach the terminal.
        for (_, id, acc, _) in &rows {
            assert!(!o.contains(id.as_str()) && !o.contains(acc.as_str()), "{o}");
        }

        // The same file again: nothing changes.
        let o = ok(chieftech(
            &db.url,
            &cfg,
            &[
                "--operator",
                "carol",
                "--today",
                "2024-01-11",
                "payrun",
                "reconcile",
                "--year",
                "2023",
                ret.to_str().unwrap(),
            ],
        ));
        assert!(
            o.contains("到账 0 笔；失败 0 笔") && o.contains("本次未变 40 笔"),
            "{o}"
        );
        assert_eq!(ledger_state(&db.store).await, after, "{}", db.name);

        // One person's account is corrected through the roster.
        let fixed = FAILED_ROWS[1] - 1;
        let new_account = "6217000010099887766";
        import(&db.store, &[roster_entry(fixed, new_account)]).await;

        // A supplementary run re-issues exactly the 3 failures.
        let supp = dir.path().join("2023-supp");
        run_steps(
            &db.url,
            &cfg,
            "2023",
            "2024-01-15",
            &["--supplementary", "--reissue"],
            &supp,
        );
        let again = bank_rows(&supp.join("bank-2023-run2.xlsx"));
        let expected: Vec<(String, i64)> = FAILED_ROWS
            .iter()
            .map(|r| (rows[r - 1].1.clone(), rows[r - 1].3))
            .collect();
        let got: Vec<(String, i64)> = again.iter().map(|r| (r.1.clone(), r.3)).collect();
        assert_eq!(got, expected, "{}", db.name);
        let to_fixed = again.iter().find(|r| r.1 == rows[fixed].1).unwrap();
        assert_eq!(to_fixed.2, new_account);
        let others: Vec<&String> = again
            .iter()
            .filter(|r| r.1 != rows[fixed].1)
            .map(|r| &r.2)
            .collect();
        assert!(others.iter().all(|a| a.starts_with("6222021603")));

        // Bank files and ledger agree to the fen: what was delivered plus what is re-issued.
        let show = ok(chieftech(
            &db.url,
            &cfg,
            &["payrun", "show", "--year", "2023", "--run", "2", "--json"],
        ));
        let v: serde_json::Value = serde_json::from_str(&show).unwrap();
        let reissued: i64 = expected.iter().map(|e| e.1).sum();
        assert_eq!(
            v["totals"]["paid"],
            chieftech::rules::money::fen_str(reissued)
        );
        let people = v["people"].as_array().unwrap();
        assert_eq!(people.len(), 3);
        for p in people {
            assert_eq!(p["reissues"].as_array().unwrap().len(), 1);
            assert_eq!(p["reissues"][0]["kind"], "reissue");
            assert_eq!(p["reissues"][0]["payment"]["batch_ref"], "CT-2023-R1-P1");
        }
        let first: i64 = rows.iter().map(|r| r.3).sum();
        let delivered = first - reissued;
        assert_eq!(delivered + reissued, first);

        // The next year's run does not pay them a third time.
        let next = dir.path().join("2024");
        run_steps(&db.url, &cfg, "2024", "2024-12-01", &[], &next);
        let show = ok(chieftech(
            &db.url,
            &cfg,
            &["payrun", "show", "--year", "2024", "--json"],
        ));
        let v: serde_json::Value = serde_json::from_str(&show).unwrap();
        assert!(v["people"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["reissues"].as_array().unwrap().is_empty()));

        // explain shows the failure and its re-issue.
        let e = ok(chieftech(&db.url, &cfg, &["explain", &rows[fixed].1]));
        assert!(
            e.contains("银行未能入账（账户已销户") && e.contains("由2023年第2批（已批准）重发"),
            "{e}"
        );
        drop(db);
    }
}

#[tokio::test]
async fn hostile_return_files_are_refused_and_change_nothing() {
    for db in common::backends().await {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), None);
        let entries: Vec<RosterEntry> = (0..6).map(|i| roster_entry(i, &account(i))).collect();
        import(&db.store, &entries).await;
        let out = dir.path().join("2023");
        run_steps(&db.url, &cfg, "2023", "2023-12-01", &[], &out);
        let rows = bank_rows(&out.join("bank-2023-run1.xlsx"));
        let before = ledger_state(&db.store).await;
        let reconcile = |file: &Path| {
            chieftech(
                &db.url,
                &cfg,
                &[
                    "--operator",
                    "carol",
                    "payrun",
                    "reconcile",
                    "--year",
                    "2023",
                    file.to_str().unwrap(),
                ],
            )
        };
        let cases: Vec<(&str, Vec<BankRow>, &str)> = vec![
            (
                "unknown-row",
                {
                    let mut r = rows.clone();
                    r[2].0 = 99;
                    r
                },
                "没有第99行",
            ),
            (
                "duplicated",
                {
                    let mut r = rows.clone();
                    r[3] = r[2].clone();
                    r
                },
                "重复",
            ),
            (
                "wrong-amount",
                {
                    let mut r = rows.clone();
                    r[1].3 += 1;
                    r
                },
                "金额不符",
            ),
            ("missing-row", rows[..5].to_vec(), "回盘文件中没有这一行"),
        ];
        for (name, rs, says) in cases {
            let f = dir.path().join(format!("{name}.xlsx"));
            return_file(&f, &rs, &[]);
            let o = reconcile(&f);
            assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o));
            let t = text(&o);
            assert!(
                t.contains(says) && t.contains(&format!("{name}.xlsx")),
                "{name}: {t}"
            );
            assert!(t.contains("未记录任何结果"), "{name}: {t}");
            assert_eq!(
                ledger_state(&db.store).await,
                before,
                "{name} on {}",
                db.name
            );
        }
        // Text in an amount cell: the row and column are named.
        let f = dir.path().join("text-amount.xlsx");
        return_file(&f, &rows, &[]);
        let mut book = rust_xlsxwriter::Workbook::new();
        let ws = book.add_worksheet();
        for (c, h) in [
            "序号",
            "身份证号码",
            "银行账号",
            "金额（元）",
            "状态",
            "失败原因",
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        for (k, (seq, id, acc, _)) in rows.iter().enumerate() {
            let r = k as u32 + 1;
            ws.write_number(r, 0, f64::from(*seq)).unwrap();
            ws.write_string(r, 1, id).unwrap();
            ws.write_string(r, 2, acc).unwrap();
            ws.write_string(r, 3, if k == 2 { "六千元" } else { "6000.00" })
                .unwrap();
            ws.write_string(r, 4, "成功").unwrap();
        }
        book.save(&f).unwrap();
        let o = reconcile(&f);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let t = text(&o);
        assert!(t.contains("第4行") && t.contains("金额（元）"), "{t}");
        assert_eq!(
            ledger_state(&db.store).await,
            before,
            "text amount on {}",
            db.name
        );
        // Not a workbook at all.
        let f = dir.path().join("garbage.xlsx");
        std::fs::write(&f, b"PK\x03\x04 not really").unwrap();
        let o = reconcile(&f);
        assert_ne!(o.status.code(), Some(0), "{}", text(&o));
        assert_eq!(ledger_state(&db.store).await, before);
    }
}

fn change(
    p: &RosterEntry,
    kind: chieftech::rules::ChangeKind,
    x: &str,
) -> chieftech::store::ChangeEntry {
    chieftech::store::ChangeEntry {
        id_number: p.id_number.clone(),
        name: p.name.clone(),
        kind,
        effective: d(x),
        end: None,
        new_unit: None,
        decision_no: None,
        title_no: None,
        note: None,
        row: None,
    }
}

/// A summary sheet's rows as text.
fn sheet_rows(path: &Path, sheet: &str) -> Vec<Vec<String>> {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let range = wb.worksheet_range(sheet).unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[tokio::test]
async fn a_planned_recovery_is_offset_by_later_runs_and_repaid_once() {
    use chieftech::rules::ChangeKind;
    for db in common::backends().await {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), None);
        let entries: Vec<RosterEntry> = (0..2).map(|i| roster_entry(i, &account(i))).collect();
        import(&db.store, &entries).await;
        run_steps(
            &db.url,
            &cfg,
            "2023",
            "2023-12-01",
            &[],
            &dir.path().join("2023"),
        );
        // Reported late: 技师0 left the post from 2023-03-01 and came back on 2024-06-01. The 2024
        // run recovers 2023-03…12 (5,000.00) and pays 2024-06…12 (3,500.00): 1,500.00 to recover.
        db.store
            .record_changes(
                &Source::operator("clerk"),
                chieftech::rules::Reporter::Bureau,
                &[
                    change(&entries[0], ChangeKind::LeftPost, "2023-03-01"),
                    change(&entries[0], ChangeKind::Restored, "2024-06-01"),
                ],
                false,
                &chieftech::rules::RulesConfig::default(),
            )
            .await
            .unwrap();
        run_steps(
            &db.url,
            &cfg,
            "2024",
            "2024-12-01",
            &[],
            &dir.path().join("2024"),
        );
        let id = entries[0].id_number.as_str();
        let list = ok(chieftech(&db.url, &cfg, &["recovery", "list"]));
        assert!(
            list.contains("1,500.00")
                && list.contains(&chieftech::rules::id_number::mask(
                    entries[0].id_number.as_str()
                )),
            "{list}"
        );
        // Without a plan, the 2025 run would pay in full; with one it offsets 1,000.00.
        ok(chieftech(
            &db.url,
            &cfg,
            &[
                "--operator",
                "carol",
                "--today",
                "2025-01-05",
                "recovery",
                "plan",
                id,
                "--per-run",
                "1000.00",
            ],
        ));
        let out = dir.path().join("2025");
        run_steps(&db.url, &cfg, "2025", "2025-12-01", &[], &out);
        let show = ok(chieftech(
            &db.url,
            &cfg,
            &["payrun", "show", "--year", "2025", "--json"],
        ));
        let v: serde_json::Value = serde_json::from_str(&show).unwrap();
        let person = v["people"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id_number"] == id)
            .unwrap();
        let lines: i64 = person["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["amount"].as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64)
            .sum();
        let bank = bank_rows(&out.join("bank-2025-run1.xlsx"));
        let row = bank.iter().find(|r| r.1 == id).unwrap();
        assert_eq!(
            row.3,
            lines - 100_000,
            "the bank pays the lines less the instalment"
        );
        // The summary shows the offset line and the balance left when the run was approved.
        let summary = out.join("summary-2025-run1.xlsx");
        let detail = sheet_rows(&summary, "明细");
        assert!(
            detail.iter().any(|r| r.iter().any(|c| c == "分期抵扣")),
            "{detail:?}"
        );
        let balances = sheet_rows(&summary, "追缴余额");
        assert!(
            balances.iter().any(|r| r.iter().any(|c| c == "500")),
            "{balances:?}"
        );
        // The rest is paid back at the bureau: once, whatever the clerk types twice.
        for _ in 0..2 {
            ok(chieftech(
                &db.url,
                &cfg,
                &[
                    "--operator",
                    "carol",
                    "--today",
                    "2026-01-10",
                    "recovery",
                    "record",
                    id,
                    "500.00",
                    "--date",
                    "2026-01-08",
                    "--reference",
                    "收据0001",
                ],
            ));
        }
        let over = chieftech(
            &db.url,
            &cfg,
            &[
                "--operator",
                "carol",
                "--today",
                "2026-01-10",
                "recovery",
                "record",
                id,
                "0.01",
                "--date",
                "2026-01-08",
                "--reference",
                "收据0002",
            ],
        );
        assert_eq!(over.status.code(), Some(1), "{}", text(&over));
        let list = ok(chieftech(&db.url, &cfg, &["recovery", "list"]));
        let masked = chieftech::rules::id_number::mask(id);
        assert!(!list.contains(&masked), "{list}");
        let e = ok(chieftech(&db.url, &cfg, &["explain", id]));
        assert!(e.contains("收据0001"), "{e}");
        // The exported summary does not change with the later repayment.
        let again = ok(chieftech(
            &db.url,
            &cfg,
            &[
                "--operator",
                "bob",
                "payrun",
                "export",
                "--year",
                "2025",
                "-o",
                out.to_str().unwrap(),
            ],
        ));
        assert!(again.contains("already exported"), "{again}");
    }
}

#[tokio::test]
async fn a_gbk_text_bank_file_is_exported_and_its_text_return_reconciled() {
    for db in common::backends().await {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), Some("banks/example-text-bank.toml"));
        let entries: Vec<RosterEntry> = (0..4).map(|i| roster_entry(i, &account(i))).collect();
        import(&db.store, &entries).await;
        let out = dir.path().join("2023");
        run_steps(&db.url, &cfg, "2023", "2023-12-01", &[], &out);
        let bytes = std::fs::read(out.join("bank-2023-run1.txt")).unwrap();
        let (decoded, _, bad) = encoding_rs::GBK.decode(&bytes);
        assert!(!bad, "{}: the bank file is GBK", db.name);
        // Byte for byte: what GBK makes of the decoded text is the file.
        assert_eq!(
            encoding_rs::GBK.encode(&decoded).0.as_ref(),
            bytes.as_slice()
        );
        let lines: Vec<&str> = decoded.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 4 + 2, "{decoded}");
        let rows: Vec<Vec<&str>> = lines[1..5].iter().map(|l| l.split('|').collect()).collect();
        let total: i64 = rows
            .iter()
            .map(|r| chieftech::excel::bank_return::amount_fen(r[3]).unwrap())
            .sum();
        let show = ok(chieftech(
            &db.url,
            &cfg,
            &["payrun", "show", "--year", "2023", "--json"],
        ));
        let v: serde_json::Value = serde_json::from_str(&show).unwrap();
        assert_eq!(v["totals"]["paid"], chieftech::rules::money::fen_str(total));
        let header: Vec<&str> = lines[0].split('|').collect();
        assert_eq!(header[0], "H");
        assert_eq!(header[1], "CT-2023-R1-P1");
        assert_eq!(header[3], "4");
        assert_eq!(lines[5], format!("T|4|{}", header[4]));
        assert_eq!(
            chieftech::excel::bank_return::amount_fen(header[4]),
            Some(total)
        );
        assert!(rows.iter().all(|r| r[2].starts_with("技师")));

        // The bank answers in GBK text: batch, row, account, amount, status, reason, date.
        let mut ret =
            String::from("H|回盘|4\r\n批次号|序号|收款账号|金额|状态|失败原因|处理日期\r\n");
        for (k, r) in rows.iter().enumerate() {
            let (status, reason) = if k == 2 {
                ("F", "户名不符")
            } else {
                ("S", "")
            };
            ret.push_str(&format!(
                "CT-2023-R1-P1|{}|{}|{}|{status}|{reason}|20240108\r\n",
                r[0], r[1], r[3]
            ));
        }
        ret.push_str("T|4\r\n");
        let utf8 = dir.path().join("return-utf8.txt");
        std::fs::write(&utf8, ret.as_bytes()).unwrap();
        let before = ledger_state(&db.store).await;
        let o = chieftech(
            &db.url,
            &cfg,
            &[
                "--operator",
                "carol",
                "payrun",
                "reconcile",
                "--year",
                "2023",
                utf8.to_str().unwrap(),
            ],
        );
        assert_ne!(
            o.status.code(),
            Some(0),
            "a UTF-8 file where GBK is declared: {}",
            text(&o)
        );
        assert!(text(&o).contains("return-utf8.txt"), "{}", text(&o));
        assert_eq!(ledger_state(&db.store).await, before);
        // An unknown batch: named, and nothing recorded.
        let stranger = dir.path().join("return-unknown-batch.txt");
        let forged = ret.replacen("CT-2023-R1-P1|", "CT-1999-R9-P1|", 1);
        std::fs::write(&stranger, encoding_rs::GBK.encode(&forged).0.as_ref()).unwrap();
        let o = chieftech(
            &db.url,
            &cfg,
            &[
                "--operator",
                "carol",
                "payrun",
                "reconcile",
                "--year",
                "2023",
                stranger.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            text(&o).contains("批次号 CT-1999-R9-P1 不是本次发放的批次")
                && text(&o).contains("第3行")
                && text(&o).contains("列「批次号」"),
            "{}",
            text(&o)
        );
        assert_eq!(ledger_state(&db.store).await, before);
        let gbk = dir.path().join("return-gbk.txt");
        std::fs::write(&gbk, encoding_rs::GBK.encode(&ret).0.as_ref()).unwrap();
        let o = ok(chieftech(
            &db.url,
            &cfg,
            &[
                "--operator",
                "carol",
                "payrun",
                "reconcile",
                "--year",
                "2023",
                gbk.to_str().unwrap(),
            ],
        ));
        assert!(o.contains("到账 3 笔；失败 1 笔"), "{o}");
        let e = ok(chieftech(
            &db.url,
            &cfg,
            &["explain", entries[2].id_number.as_str()],
        ));
        assert!(e.contains("户名不符") && e.contains("2024-01-08"), "{e}");
    }
}

/// A tmpfs of 64 KB mounted on `dir` for as long as it lives (None where mounting is not
/// allowed: not root).
struct TinyDisk(PathBuf);

impl TinyDisk {
    fn mount(dir: &Path) -> Option<TinyDisk> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| TinyDisk(dir.to_path_buf()))
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn export_with_tmpdir(db: &str, cfg: &Path, out: &Path, tmp: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .args([
            "--database",
            db,
            "--operator",
            "bob",
            "payrun",
            "export",
            "--year",
            "2023",
            "-o",
        ])
        .arg(out)
        .env("CHIEFTECH_CONFIG", cfg)
        .env("TMPDIR", tmp)
        .output()
        .unwrap()
}

/// The workbook writer's temporary files cannot be made, or fill the disk: exit 3 with the
/// file named, never a crash, nothing recorded; the export goes through afterwards.
#[tokio::test]
async fn a_temporary_folder_that_cannot_be_written_is_a_clear_export_error() {
    let db = common::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), None);
    // A 明细 row per month: a summary too large for the tiny disk below.
    let toml = std::fs::read_to_string(&cfg).unwrap();
    let monthly = toml.replace(
        "# detail_month_ranges = true",
        "detail_month_ranges = false",
    );
    assert_ne!(toml, monthly);
    std::fs::write(&cfg, monthly).unwrap();
    let entries: Vec<RosterEntry> = (0..200).map(|i| roster_entry(i, &account(i))).collect();
    import(&db.store, &entries).await;
    for (who, step) in [("alice", "compute"), ("bob", "approve")] {
        ok(chieftech(
            &db.url,
            &cfg,
            &[
                "--operator",
                who,
                "--today",
                "2023-12-01",
                "payrun",
                step,
                "--year",
                "2023",
            ],
        ));
    }
    let out = dir.path().join("out");
    let o = export_with_tmpdir(&db.url, &cfg, &out, &dir.path().join("no-such-folder"));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("bank-2023-run1") && text(&o).contains("Temporary file"),
        "{}",
        text(&o)
    );
    match TinyDisk::mount(&dir.path().join("tiny")) {
        Some(tiny) => {
            let o = export_with_tmpdir(&db.url, &cfg, &out, &tiny.0);
            assert_eq!(o.status.code(), Some(3), "{}", text(&o));
            assert!(
                text(&o).contains("summary-2023-run1.xlsx")
                    && text(&o).contains("temporary folder full"),
                "{}",
                text(&o)
            );
        }
        None => {
            eprintln!("\n*** SKIPPED the full-disk case: cannot mount a tmpfs (not root) ***\n")
        }
    }
    assert_eq!(
        count(&db.store, "SELECT CAST(COUNT(*) AS BIGINT) FROM exports").await,
        0
    );
    ok(chieftech(
        &db.url,
        &cfg,
        &[
            "--operator",
            "bob",
            "payrun",
            "export",
            "--year",
            "2023",
            "-o",
            out.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        count(&db.store, "SELECT CAST(COUNT(*) AS BIGINT) FROM exports").await,
        1
    );
}
