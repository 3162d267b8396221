//! The selection round end to end (issue 14), from the command line on SQLite and PostgreSQL:
//! a round opened, nominations from three bodies (one candidate over 55, one 45 or under),
//! the 推荐公示 with a dismissed objection, 资格审查 with one candidate withdrawn for false
//! material, 评审 with the experts' scores ranked, the 考察公示 with a late objection that holds
//! the candidate and is upheld, 考察, and approval into appointments. The appointments pay in
//! the next run to the fen as the same people imported from a roster would; approving again
//! creates nothing; the public lists hold no ID number; reminders fall on the right days.

mod common;

use calamine::{open_workbook_auto, Data, Reader};
use chieftech::rules::id_number::make_id;
use chieftech::rules::IdNumber;
use chieftech::store::{RosterEntry, Source, UnitEntry};
use chrono::NaiveDate;
use rust_xlsxwriter::Workbook;
use sqlx::Row;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn chieftech(db: &str, config: &Path, today: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .args(["--database", db, "--today", today, "--operator", "clerk"])
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

fn refused(o: Output) -> String {
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    text(&o)
}

/// The repository's configuration with outbox and reports in `dir`, and a second policy
/// version so that terms beginning in August 2026 earn past the first one's end.
fn config(dir: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = std::fs::read_to_string(repo.join("config/default.toml")).unwrap();
    let mut text = base
        .replace(
            "bank_template = \"banks/default.toml\"",
            &format!(
                "bank_template = \"{}\"",
                repo.join("config/banks/default.toml").display()
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
        )
        .replace(
            "calendar = \"calendar.toml\"",
            &format!(
                "calendar = \"{}\"",
                repo.join("config/calendar.toml").display()
            ),
        );
    text.push_str(
        "\n[[policy]]\ndocument = \"测试续期政策\"\nfrom = 2026-09-01\nto = 2029-12-31\nmonthly_rate = \"500.00\"\n",
    );
    let path = dir.join("chieftech.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A nominated person.
struct Person {
    key: &'static str,
    name: &'static str,
    birth: &'static str,
    nominator: &'static str,
    unit: &'static str,
    occupation: &'static str,
    level: &'static str,
    account: &'static str,
}

const PEOPLE: [Person; 6] = [
    Person {
        key: "A",
        name: "王建国",
        birth: "1985-06-01",
        nominator: "马尚街道办事处",
        unit: "淄博华光陶瓷有限公司",
        occupation: "陶瓷烧成工",
        level: "高级技师",
        account: "6222020001000000011",
    },
    Person {
        key: "B",
        name: "李秀英",
        birth: "1970-03-01",
        nominator: "马尚街道办事处",
        unit: "淄博华光陶瓷有限公司",
        occupation: "陶瓷装饰工",
        level: "技师",
        account: "6222020001000000029",
    },
    Person {
        key: "C",
        name: "张伟",
        birth: "1980-01-15",
        nominator: "区工业和信息化局",
        unit: "山东鲁泰机械有限公司",
        occupation: "车工",
        level: "高级技师",
        account: "6222020001000000037",
    },
    Person {
        key: "D",
        name: "刘洋",
        birth: "1978-09-09",
        nominator: "区工业和信息化局",
        unit: "山东鲁泰机械有限公司",
        occupation: "焊工",
        level: "技师（国家职业资格二级）",
        account: "6222020001000000045",
    },
    Person {
        key: "E",
        name: "陈静",
        birth: "1982-11-30",
        nominator: "区总工会",
        unit: "淄博齐鲁电气有限公司",
        occupation: "电工",
        level: "高级技师",
        account: "6222020001000000052",
    },
    Person {
        key: "F",
        name: "赵磊",
        birth: "1990-02-28",
        nominator: "区总工会",
        unit: "淄博齐鲁电气有限公司",
        occupation: "钳工",
        level: "技师",
        account: "6222020001000000060",
    },
];

fn id_of(p: &Person) -> IdNumber {
    make_id("370303", d(p.birth), 21)
}

const HEADERS: [&str; 13] = [
    "推荐单位",
    "姓名",
    "身份证号码",
    "工作单位",
    "职业（工种）",
    "职业资格等级",
    "证书编号",
    "主要业绩",
    "联系电话",
    "推荐公示起止日期",
    "报送日期",
    "开户行",
    "银行账号",
];

/// One nomination row, in [`HEADERS`] order.
fn nomination_row(p: &Person, period: &str, received: &str, account: &str) -> Vec<String> {
    vec![
        p.nominator.to_string(),
        p.name.to_string(),
        id_of(p).as_str().to_string(),
        p.unit.to_string(),
        p.occupation.to_string(),
        p.level.to_string(),
        format!("Z2026-{}", p.key),
        "主持技术攻关三项，带徒十二人".to_string(),
        "0533-2180000".to_string(),
        period.to_string(),
        received.to_string(),
        "中国工商银行淄博张店支行".to_string(),
        account.to_string(),
    ]
}

/// A nominations workbook (sheet 推荐汇总) of these rows.
fn nominations_file(path: &Path, rows: &[Vec<String>]) -> PathBuf {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name("推荐汇总").unwrap();
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in (1..).zip(rows) {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r, c as u16, v).unwrap();
        }
    }
    book.save(path).unwrap();
    path.to_path_buf()
}

/// The nominations workbook of one body.
fn nominations(dir: &Path, nominator: &str) -> PathBuf {
    let rows: Vec<Vec<String>> = PEOPLE
        .iter()
        .filter(|p| p.nominator == nominator)
        .map(|p| nomination_row(p, "2026-04-20至2026-04-24", "2026-05-08", p.account))
        .collect();
    nominations_file(&dir.join(format!("推荐汇总-{nominator}.xlsx")), &rows)
}

/// The experts' scores: three experts, each candidate at 评审.
fn scores(dir: &Path, marks: &[(&Person, [&str; 3])]) -> PathBuf {
    let path = dir.join("评审成绩.xlsx");
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name("评审成绩").unwrap();
    for (c, h) in ["姓名", "身份证号码", "评审专家", "得分"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let mut row = 1;
    for (p, m) in marks {
        for (i, score) in m.iter().enumerate() {
            ws.write_string(row, 0, p.name).unwrap();
            ws.write_string(row, 1, id_of(p).as_str()).unwrap();
            ws.write_string(row, 2, format!("专家{}", i + 1)).unwrap();
            ws.write_number(row, 3, score.parse::<f64>().unwrap())
                .unwrap();
            row += 1;
        }
    }
    book.save(&path).unwrap();
    path
}

fn person(key: &str) -> &'static Person {
    PEOPLE.iter().find(|p| p.key == key).unwrap()
}

/// Every cell of every sheet of a workbook, as text.
fn cells(path: &Path) -> Vec<String> {
    let mut wb = open_workbook_auto(path).unwrap();
    let mut out = Vec::new();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).unwrap();
        for row in range.rows() {
            for c in row {
                match c {
                    Data::Empty => {}
                    other => out.push(other.to_string()),
                }
            }
        }
    }
    out
}

/// The nets of a year's run by ID number, from `payrun show --json`.
fn nets(db: &str, cfg: &Path, year: &str) -> BTreeMap<String, String> {
    let out = chieftech(
        db,
        cfg,
        "2027-12-01",
        &["payrun", "show", "--year", year, "--json"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    json["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id_number"].as_str().unwrap().to_string(),
                p["net"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn outbox_keys(store: &chieftech::store::Store) -> Vec<(String, String)> {
    sqlx::query("SELECT key, recipients FROM outbox ORDER BY key")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_round_from_nominations_to_paid_appointments() {
    for db in common::backends().await {
        round_on(&db).await;
    }
}

async fn round_on(db: &common::TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let url = db.url.as_str();
    let run = |today: &str, args: &[&str]| chieftech(url, &cfg, today, args);

    // The units the ledger knows (a roster import of last year's technicians would add them):
    // two of them will not nominate.
    let units = [
        ("淄博华光陶瓷有限公司", "hg@example.cn"),
        ("山东鲁泰机械有限公司", "lt@example.cn"),
        ("淄博齐鲁电气有限公司", "ql@example.cn"),
        ("淄博未推荐甲有限公司", "wa@example.cn"),
        ("淄博未推荐乙有限公司", "wb@example.cn"),
    ];
    let unit_entries: Vec<UnitEntry> = units
        .iter()
        .map(|(n, e)| UnitEntry {
            name: n.to_string(),
            contact: None,
            email: Some(e.to_string()),
            row: None,
        })
        .collect();
    db.store
        .import_roster(&Source::operator("setup"), &unit_entries, &[])
        .await
        .unwrap()
        .unwrap();

    let out = ok(run(
        "2026-04-01",
        &[
            "selection",
            "open",
            "--year",
            "2026",
            "--deadline",
            "2026-05-29",
            "--approval-by",
            "2026-07-31",
            "--document",
            "张人社字〔2026〕12号",
        ],
    ));
    assert!(out.contains("已开启"), "{out}");
    // Opening it again changes nothing; another deadline is refused.
    assert!(ok(run(
        "2026-04-01",
        &[
            "selection",
            "open",
            "--year",
            "2026",
            "--deadline",
            "2026-05-29"
        ]
    ))
    .contains("此前已开启"));
    refused(run(
        "2026-04-01",
        &[
            "selection",
            "open",
            "--year",
            "2026",
            "--deadline",
            "2026-06-30",
        ],
    ));

    // Fourteen days before the deadline, the units that have not nominated are reminded; the
    // day is run twice, each letter once.
    ok(run("2026-05-15", &["remind", "--date", "2026-05-15"]));
    ok(run("2026-05-15", &["remind", "--date", "2026-05-15"]));
    let deadline_mail: Vec<(String, String)> = outbox_keys(&db.store)
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with("selection-deadline:2026:14d"))
        .collect();
    assert_eq!(deadline_mail.len(), 5, "{deadline_mail:?}");

    // Nominations from three bodies.
    let bodies = ["马尚街道办事处", "区工业和信息化局", "区总工会"];
    let files: Vec<PathBuf> = bodies.iter().map(|b| nominations(dir.path(), b)).collect();
    let mut args = vec!["selection", "import"];
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let out = ok(run("2026-05-08", &args));
    assert_eq!(out.matches("新增2人").count(), 3, "{out}");
    let b_line = out.lines().find(|l| l.contains(person("B").name)).unwrap();
    assert!(
        b_line.contains("超过55周岁") && b_line.contains("56"),
        "{b_line}"
    );
    let a_line = out.lines().find(|l| l.contains(person("A").name)).unwrap();
    assert!(a_line.contains("优先"), "{a_line}");
    for p in &PEOPLE {
        assert!(
            !out.contains(id_of(p).as_str()),
            "a full ID number printed: {out}"
        );
    }
    // The same files again: nothing twice.
    assert!(ok(run("2026-05-08", &args)).matches("未重复导入").count() == 3);
    // Three days before the deadline, no unit is left that the three bodies' candidates do
    // not cover except the two that did not nominate.
    ok(run("2026-05-26", &["remind", "--date", "2026-05-26"]));
    let late: Vec<String> = outbox_keys(&db.store)
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with("selection-deadline:2026:3d"))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(late.len(), 2, "{late:?}");
    assert!(late.iter().all(|k| k.contains("未推荐")), "{late:?}");

    // 推荐公示 from Monday 1 June: five working days to Friday 5 June; the public list is
    // written and holds no ID number.
    let out = ok(run(
        "2026-06-01",
        &[
            "selection",
            "step",
            "--stage",
            "推荐公示",
            "--all",
            "--date",
            "2026-06-01",
            "--document",
            "张人社公示〔2026〕1号",
        ],
    ));
    assert!(
        out.contains("6人进入推荐公示") && out.contains("2026年6月5日"),
        "{out}"
    );
    let notice = dir
        .path()
        .join("reports/2026/selection/notice-nominated-2026-2026-06-01.xlsx");
    assert_no_ids(&notice);
    if let Some(pdf) = out.lines().find_map(|l| l.strip_prefix("PDF：")) {
        let text = Command::new("pdftotext").args([pdf, "-"]).output().unwrap();
        let text = String::from_utf8_lossy(&text.stdout).to_string();
        assert!(text.contains(person("A").name), "{text}");
        for p in &PEOPLE {
            assert!(!text.contains(id_of(p).as_str()));
        }
    }
    // An objection to E during the notice, dismissed after it.
    let out = ok(run(
        "2026-06-03",
        &[
            "selection",
            "objection",
            id_of(person("E")).as_str(),
            "--summary",
            "反映其业绩材料有夸大",
            "--raised-by",
            "匿名来信",
        ],
    ));
    let e_objection: String = out
        .split("已登记异议")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    // Leaving the notice before it ends is refused; so is leaving it with the objection open.
    refused(run(
        "2026-06-05",
        &[
            "selection",
            "step",
            "--stage",
            "资格审查",
            "--all",
            "--date",
            "2026-06-05",
        ],
    ));
    let out = refused(run(
        "2026-06-08",
        &[
            "selection",
            "step",
            "--stage",
            "资格审查",
            "--all",
            "--date",
            "2026-06-08",
        ],
    ));
    assert!(out.contains("异议"), "{out}");
    ok(run(
        "2026-06-08",
        &[
            "selection",
            "resolve",
            &e_objection,
            "--outcome",
            "dismissed",
            "--date",
            "2026-06-08",
        ],
    ));
    // The notice's end was mailed to the bureau on its last day.
    ok(run("2026-06-05", &["remind", "--date", "2026-06-05"]));
    assert!(outbox_keys(&db.store)
        .await
        .iter()
        .any(|(k, _)| k.starts_with("selection-notice-end:2026:nomination-notice:2026-06-01")));

    let out = ok(run(
        "2026-06-08",
        &[
            "selection",
            "step",
            "--stage",
            "资格审查",
            "--all",
            "--date",
            "2026-06-08",
        ],
    ));
    assert!(out.contains("6人进入资格审查"), "{out}");
    // 资格审查: C's certificate was forged.
    refused(run(
        "2026-06-15",
        &["selection", "step", "--stage", "退出", "3"],
    ));
    ok(run(
        "2026-06-15",
        &[
            "selection",
            "step",
            "--stage",
            "退出",
            "--reason",
            "材料弄虚作假：职业资格证书系伪造",
            "--date",
            "2026-06-15",
            id_of(person("C")).as_str(),
        ],
    ));
    let out = ok(run(
        "2026-06-22",
        &[
            "selection",
            "step",
            "--stage",
            "评审",
            "--all",
            "--date",
            "2026-06-22",
        ],
    ));
    assert!(out.contains("5人进入评审"), "{out}");

    // Scores: A first, F second, E and B tied, D last.
    let marks = [
        (person("A"), ["92", "95.5", "90"]),
        (person("B"), ["85", "86", "87"]),
        (person("D"), ["70", "72", "71.5"]),
        (person("E"), ["86", "85", "87"]),
        (person("F"), ["90", "91", "89.25"]),
    ];
    let out = ok(run(
        "2026-06-29",
        &[
            "selection",
            "scores",
            &scores(dir.path(), &marks).display().to_string(),
        ],
    ));
    assert!(out.contains("导入评审成绩15条"), "{out}");
    let listed = run("2026-06-29", &["selection", "list", "--json"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let json: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let rank_of = |name: &str| {
        json["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| {
                (
                    c["rank"].as_u64(),
                    c["mean_score"].as_str().map(str::to_string),
                )
            })
            .unwrap()
    };
    assert_eq!(rank_of(person("A").name), (Some(1), Some("92.50".into())));
    assert_eq!(rank_of(person("F").name), (Some(2), Some("90.08".into())));
    assert_eq!(rank_of(person("B").name), (Some(3), Some("86.00".into())));
    assert_eq!(rank_of(person("E").name), (Some(3), Some("86.00".into())));
    assert_eq!(rank_of(person("D").name), (Some(5), Some("71.17".into())));
    assert_eq!(rank_of(person("C").name), (None, None));

    // 考察公示 of the five: far from about ten a year, so the bureau is warned.
    let out = ok(run(
        "2026-07-06",
        &[
            "selection",
            "step",
            "--stage",
            "考察公示",
            "--all",
            "--date",
            "2026-07-06",
        ],
    ));
    assert!(
        out.contains("5人进入考察公示") && out.contains("相差较大"),
        "{out}"
    );
    assert_no_ids(
        &dir.path()
            .join("reports/2026/selection/notice-proposed-2026-2026-07-06.xlsx"),
    );
    // A late objection to D, on the notice's last day: it holds every step out of the notice
    // (the batch is refused whole) until it is upheld and D withdraws.
    ok(run(
        "2026-07-10",
        &[
            "selection",
            "objection",
            "4",
            "--summary",
            "反映其曾因安全事故受处分未如实填报",
        ],
    ));
    refused(run(
        "2026-07-11",
        &[
            "selection",
            "objection",
            "4",
            "--received",
            "2026-07-11",
            "--summary",
            "公示期后来信",
        ],
    ));
    let out = refused(run(
        "2026-07-13",
        &[
            "selection",
            "step",
            "--stage",
            "考察",
            "--all",
            "--date",
            "2026-07-13",
        ],
    ));
    assert!(out.contains(person("D").name), "{out}");
    let list = ok(run("2026-07-13", &["selection", "list"]));
    let d_objection: String = list
        .split("异议")
        .filter_map(|s| {
            let n: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
            (!n.is_empty() && s.contains("未处理")).then_some(n)
        })
        .next()
        .unwrap_or_else(|| panic!("{list}"));
    ok(run(
        "2026-07-15",
        &[
            "selection",
            "resolve",
            &d_objection,
            "--outcome",
            "属实",
            "--date",
            "2026-07-15",
        ],
    ));
    let out = ok(run(
        "2026-07-15",
        &[
            "selection",
            "step",
            "--stage",
            "考察",
            "--all",
            "--date",
            "2026-07-15",
        ],
    ));
    assert!(out.contains("4人进入考察"), "{out}");

    // D's record: every step with its document and source, the objection upheld.
    let record = ok(run("2026-07-15", &["selection", "show", "4"]));
    for want in [
        "申报",
        "推荐公示  张人社公示〔2026〕1号",
        "资格审查",
        "评审",
        "考察公示",
        "退出  原因：异议属实",
        "属实于2026年7月15日",
    ] {
        assert!(record.contains(want), "{want}: {record}");
    }
    assert!(!record.contains(id_of(person("D")).as_str()), "{record}");

    // Approval: four appointments, once, though two clerks approve at the same moment.
    let approve = |today: &str| {
        run(
            today,
            &[
                "selection",
                "approve",
                "--year",
                "2026",
                "--date",
                "2026-07-20",
                "--document",
                "张政字〔2026〕30号",
            ],
        )
    };
    let (first, second) = std::thread::scope(|s| {
        let a = s.spawn(|| approve("2026-07-20"));
        let b = s.spawn(|| approve("2026-07-20"));
        (a.join().unwrap(), b.join().unwrap())
    });
    // The one that approved says "批准4人（…）"; the other finds them approved ("未新增称号
    // （此前已批准4人）") or is refused: only the first counts.
    let approved_by = [&first, &second]
        .iter()
        .filter(|o| o.status.success() && text(o).contains("评选批准4人"))
        .count();
    assert_eq!(approved_by, 1, "{}\n{}", text(&first), text(&second));
    for o in [&first, &second] {
        let t = text(o);
        assert!(
            t.contains("批准4人")
                || (o.status.success() && t.contains("未新增称号"))
                || (o.status.code() == Some(1) && t.contains("已由其他操作员批准")),
            "{t}"
        );
    }
    let out = ok(approve("2026-07-21"));
    assert!(out.contains("未新增称号"), "{out}");
    let appointments: i64 = sqlx::query("SELECT COUNT(*) FROM appointments")
        .fetch_one(db.store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(appointments, 4);
    let audit: i64 = sqlx::query("SELECT COUNT(*) FROM audit WHERE action = 'import-roster' AND detail LIKE '%2026年度首席技师评选%'")
        .fetch_one(db.store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(audit, 1, "the roster import's audit entry names the round");

    // The next run: 2026's five months deferred and 2027's twelve, 8,500.00 each, exactly as
    // the same people imported from a roster.
    ok(run("2027-12-01", &["payrun", "compute", "--year", "2027"]));
    let got = nets(url, &cfg, "2027");
    let approved = ["A", "B", "E", "F"];
    assert_eq!(got.len(), 4, "{got:?}");
    for k in approved {
        assert_eq!(
            got.get(id_of(person(k)).as_str()).map(String::as_str),
            Some("8500.00"),
            "{got:?}"
        );
    }
    let twin = common::sqlite().await;
    let entries: Vec<RosterEntry> = approved
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let p = person(k);
            RosterEntry {
                id_number: id_of(p),
                name: p.name.into(),
                unit: p.unit.into(),
                occupation: p.occupation.into(),
                level: p.level.into(),
                approval_date: d("2026-07-20"),
                approval_no: "张政字〔2026〕30号".into(),
                bank_account: p.account.into(),
                bank_name: "中国工商银行淄博张店支行".into(),
                phone: "0533-2180000".into(),
                email: None,
                row: Some(i as u32 + 2),
            }
        })
        .collect();
    twin.store
        .import_roster(
            &Source::file("roster-file", "名册.xlsx", b"twin", "clerk"),
            &unit_entries,
            &entries,
        )
        .await
        .unwrap()
        .unwrap();
    ok(chieftech(
        &twin.url,
        &cfg,
        "2027-12-01",
        &["payrun", "compute", "--year", "2027"],
    ));
    assert_eq!(nets(&twin.url, &cfg, "2027"), got);
}

fn assert_no_ids(path: &Path) {
    assert!(path.exists(), "{} was not written", path.display());
    for cell in cells(path) {
        for p in &PEOPLE {
            assert!(!cell.contains(id_of(p).as_str()), "{cell}");
            assert!(!cell.contains(p.account), "{cell}");
        }
        // No run of 15 or more digits (an ID or account number, masked or not) at all.
        let longest = cell
            .split(|c: char| !c.is_ascii_digit())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest < 15, "a long number on a public list: {cell}");
    }
    let text = cells(path).join(" ");
    assert!(text.contains(person("A").name) || text.contains(person("B").name));
}

/// What is refused leaves nothing behind: a nominations file with a bad cell (an error
/// workbook, private, naming row and column; no candidate), a 推荐公示 in a year the calendar
/// does not hold (refused, never guessed), a step out of order, an approval with a candidate
/// lacking a bank account (no appointment), a 退出 without a reason.
#[tokio::test(flavor = "multi_thread")]
async fn refusals_leave_nothing_behind() {
    use std::os::unix::fs::PermissionsExt;
    let db = common::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let run = |today: &str, args: &[&str]| chieftech(&db.url, &cfg, today, args);
    let count = |table: &'static str| {
        let store = db.store.clone();
        async move {
            let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(store.pool())
                .await
                .unwrap()
                .get(0);
            n
        }
    };
    // No round yet: a usage error that says how to open one.
    let f = nominations(dir.path(), "区总工会");
    let out = run(
        "2026-05-08",
        &["selection", "import", &f.display().to_string()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("selection open"), "{}", text(&out));
    ok(run(
        "2026-04-01",
        &[
            "selection",
            "open",
            "--year",
            "2026",
            "--deadline",
            "2026-05-29",
        ],
    ));

    // A blank 主要业绩 and a notice ending before it starts: the whole file refused.
    let (e, f_) = (person("E"), person("F"));
    let mut bad = nomination_row(e, "2026-04-24至2026-04-20", "2026-05-08", e.account);
    bad[7] = String::new();
    let good = nomination_row(f_, "2026-04-20至2026-04-24", "2026-05-08", f_.account);
    let path = nominations_file(&dir.path().join("bad.xlsx"), &[good.clone(), bad]);
    let out = refused(run(
        "2026-05-08",
        &["selection", "import", &path.display().to_string()],
    ));
    assert!(
        out.contains("bad.xlsx!推荐汇总 row 3, column 主要业绩"),
        "{out}"
    );
    assert!(out.contains("row 3, column 推荐公示起止日期"), "{out}");
    let errors = dir.path().join("bad.errors.xlsx");
    assert_eq!(
        std::fs::metadata(&errors).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(count("candidates").await, 0);

    // A round whose nominations were noticed in a year the calendar does not hold.
    ok(run(
        "2027-04-01",
        &[
            "selection",
            "open",
            "--year",
            "2027",
            "--deadline",
            "2027-05-28",
        ],
    ));
    let later = nomination_row(f_, "2027-04-19至2027-04-23", "2027-05-06", f_.account);
    let path = nominations_file(&dir.path().join("2027.xlsx"), &[later]);
    let out = refused(run(
        "2027-05-06",
        &[
            "selection",
            "import",
            "--year",
            "2027",
            &path.display().to_string(),
        ],
    ));
    assert!(
        out.contains("2027 年不在工作日日历内") && out.contains("2021–2026"),
        "{out}"
    );
    assert_eq!(count("candidates").await, 0);

    // F without an account, E with one: both imported, both flagged nowhere near a refusal.
    let no_account = nomination_row(f_, "2026-04-20至2026-04-24", "2026-05-08", "");
    let with_account = nomination_row(e, "2026-04-20至2026-04-24", "2026-05-08", e.account);
    let path = nominations_file(&dir.path().join("ok.xlsx"), &[with_account, no_account]);
    ok(run(
        "2026-05-08",
        &[
            "selection",
            "import",
            "--year",
            "2026",
            &path.display().to_string(),
        ],
    ));
    assert_eq!(count("candidates").await, 2);
    // Out of order: 评审 straight after 申报.
    let out = refused(run(
        "2026-06-01",
        &[
            "selection",
            "step",
            "--year",
            "2026",
            "--stage",
            "评审",
            "1",
        ],
    ));
    assert!(out.contains("推荐公示"), "{out}");
    // 退出 needs a reason; --all is refused for it.
    refused(run(
        "2026-06-01",
        &[
            "selection",
            "step",
            "--year",
            "2026",
            "--stage",
            "退出",
            "1",
        ],
    ));
    assert_eq!(
        run(
            "2026-06-01",
            &[
                "selection",
                "step",
                "--year",
                "2026",
                "--stage",
                "退出",
                "--all",
                "--reason",
                "x"
            ]
        )
        .status
        .code(),
        Some(2)
    );
    for (stage, date) in [
        ("推荐公示", "2026-06-01"),
        ("资格审查", "2026-06-08"),
        ("评审", "2026-06-15"),
        ("考察公示", "2026-06-22"),
        ("考察", "2026-06-29"),
    ] {
        ok(run(
            date,
            &[
                "selection",
                "step",
                "--year",
                "2026",
                "--stage",
                stage,
                "--all",
                "--date",
                date,
            ],
        ));
    }
    // Approval refused whole: F has no bank account; nothing created.
    let out = refused(run(
        "2026-07-06",
        &[
            "selection",
            "approve",
            "--year",
            "2026",
            "--date",
            "2026-07-06",
            "--document",
            "张政字〔2026〕31号",
        ],
    ));
    assert!(out.contains(f_.name) && out.contains("银行账号"), "{out}");
    assert_eq!(count("appointments").await, 0);
    assert_eq!(count("candidate_appointments").await, 0);
    // The account added by a later file (an update, audited), then approval goes through.
    let fixed = nomination_row(f_, "2026-04-20至2026-04-24", "2026-05-08", f_.account);
    let path = nominations_file(&dir.path().join("fixed.xlsx"), &[fixed]);
    assert!(ok(run(
        "2026-07-06",
        &[
            "selection",
            "import",
            "--year",
            "2026",
            &path.display().to_string()
        ]
    ))
    .contains("更新1人"));
    assert!(ok(run(
        "2026-07-06",
        &[
            "selection",
            "approve",
            "--year",
            "2026",
            "--date",
            "2026-07-06",
            "--document",
            "张政字〔2026〕31号"
        ]
    ))
    .contains("批准2人"));
    assert_eq!(count("appointments").await, 2);
}

/// The sample's nominations (`sample`) import into a round opened on the sample roster: six
/// candidates, their units known, one over 55 flagged, one below 技师 found not eligible, and
/// the file private (it holds full ID numbers).
#[tokio::test(flavor = "multi_thread")]
async fn the_sample_nominations_import_with_their_findings() {
    use std::os::unix::fs::PermissionsExt;
    let db = common::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let run = |today: &str, args: &[&str]| chieftech(&db.url, &cfg, today, args);
    let samples = dir.path().join("samples");
    let out = ok(run(
        "2026-04-01",
        &[
            "sample",
            "--people",
            "60",
            "-o",
            &samples.display().to_string(),
        ],
    ));
    let file = samples.join("nominations-2026.xlsx");
    assert!(out.contains("nominations-2026.xlsx"), "{out}");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    ok(run(
        "2026-04-01",
        &[
            "import",
            "roster",
            &samples.join("roster.xlsx").display().to_string(),
        ],
    ));
    ok(run(
        "2026-04-01",
        &[
            "selection",
            "open",
            "--year",
            "2026",
            "--deadline",
            "2026-05-29",
        ],
    ));
    let out = ok(run(
        "2026-05-08",
        &["selection", "import", &file.display().to_string()],
    ));
    assert!(out.contains("新增6人"), "{out}");
    assert!(!out.contains("不在本区单位名录中"), "{out}");
    let line = |name: &str| {
        out.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{out}"))
            .to_string()
    };
    assert!(line("吴秀兰").contains("超过55周岁"), "{out}");
    assert!(
        line("何永刚").contains("[不符合]") && line("何永刚").contains("高级工"),
        "{out}"
    );
    assert!(line("周明亮").contains("[优先]"), "{out}");
    assert!(!out.contains("未通过银行卡校验"), "{out}");
}
