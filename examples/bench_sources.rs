//! Benchmark of a database source: fills a PostgreSQL table (behind a view, in the personnel
//! system's shape) with N roster rows, pulls it into a fresh SQLite ledger, and imports the same
//! rows from an .xlsx into another; each in a child process of its own, whose wall time and
//! peak resident memory (VmHWM) are printed side by side.
//!
//! ```text
//! cargo run --release --example bench_sources -- [N]        # default 1,000,000
//! ```
//!
//! PostgreSQL at `CHIEFTECH_TEST_PG` (default `postgres://postgres@127.0.0.1:5432`); a database
//! `chieftech_bench_src_<pid>` is made and dropped.

use chieftech::config::Config;
use chieftech::rules::id_number::{luhn_ok, make_id};
use chieftech::store::Store;
use chrono::NaiveDate;
use std::path::Path;
use std::time::Instant;

type Error = Box<dyn std::error::Error>;

const UNITS: [&str; 4] = [
    "张店区热电厂",
    "张店区机械厂",
    "淄博某化工有限公司",
    "张店区公交公司",
];

fn account(n: u64) -> String {
    let body = format!("622848{n:012}");
    (0..10)
        .map(|c| format!("{body}{c}"))
        .find(|a| luhn_ok(a))
        .unwrap_or(body)
}

/// Row `i`: name, ID number, unit, account, phone.
fn row(i: u64) -> [String; 5] {
    let base = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or_default();
    let id = make_id(
        "370303",
        base + chrono::Days::new(i / 1000),
        (i % 1000) as u32,
    );
    [
        format!("技师{i:07}"),
        id.as_str().to_string(),
        UNITS[(i % 4) as usize].to_string(),
        account(i),
        format!("138{i:08}"),
    ]
}

async fn fill(url: &str, n: u64) -> Result<(), Error> {
    let pool = sqlx::PgPool::connect(url).await?;
    sqlx::raw_sql("CREATE TABLE renyuan (id BIGINT PRIMARY KEY, xm TEXT, sfzh TEXT, gzdw TEXT, gz TEXT, dj TEXT, pzrq DATE, pzwh TEXT, yhzh TEXT, khh TEXT, lxdh TEXT, updated_at TIMESTAMP NOT NULL DEFAULT now()); CREATE VIEW v_sxjs AS SELECT * FROM renyuan")
        .execute(&pool)
        .await?;
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + 2000).min(n);
        let values: Vec<String> = (i..end)
            .map(|k| {
                let [name, id, unit, acct, phone] = row(k);
                format!("({k}, '{name}', '{id}', '{unit}', '电工', '高级技师', '2022-06-20', '张政字〔2022〕53号', '{acct}', '中国农业银行淄博张店支行', '{phone}')")
            })
            .collect();
        let sql = format!(
            "INSERT INTO renyuan (id, xm, sfzh, gzdw, gz, dj, pzrq, pzwh, yhzh, khh, lxdh) VALUES {}",
            values.join(", ")
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await?;
        i = end;
    }
    pool.close().await;
    eprintln!(
        "filled {n} rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn write_xlsx(n: u64, path: &Path) -> Result<(), Error> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let mut ws = book.new_worksheet_with_low_memory()?;
    ws.set_name("名册")?;
    let headers = [
        "姓名",
        "身份证号码",
        "工作单位",
        "职业（工种）",
        "职业资格等级",
        "批准日期",
        "批准文号",
        "银行账号",
        "开户行",
        "联系电话",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    for i in 0..n {
        let r = (i + 1) as u32;
        let [name, id, unit, acct, phone] = row(i);
        let cells = [
            name.as_str(),
            &id,
            &unit,
            "电工",
            "高级技师",
            "2022-06-20",
            "张政字〔2022〕53号",
            &acct,
            "中国农业银行淄博张店支行",
            &phone,
        ];
        for (c, v) in cells.iter().enumerate() {
            ws.write_string(r, c as u16, *v)?;
        }
    }
    book.push_worksheet(ws);
    book.save(path)?;
    Ok(())
}

fn peak_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Child: pull the source at `url` into a fresh ledger.
async fn pull(url: &str) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let text = format!("[paths]\nreports = \"{d}/reports\"\n[[source]]\nname = \"bench\"\nkind = \"roster\"\nurl = \"{url}\"\nview = \"v_sxjs\"\nwatermark = \"updated_at\"\n[source.columns]\n\"姓名\" = \"xm\"\n\"身份证号码\" = \"sfzh\"\n\"工作单位\" = \"gzdw\"\n\"职业（工种）\" = \"gz\"\n\"职业资格等级\" = \"dj\"\n\"批准日期\" = \"pzrq\"\n\"批准文号\" = \"pzwh\"\n\"银行账号\" = \"yhzh\"\n\"开户行\" = \"khh\"\n\"联系电话\" = \"lxdh\"\n", d = dir.path().display());
    let cfg = Config::parse(&text, &dir.path().join("c.toml"))?;
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("l.db").display())).await?;
    let source = chieftech::sources::sources_of(&cfg)?.remove(0);
    let opts = chieftech::sources::PullOptions {
        full: false,
        operator: "bench".into(),
        today: chrono::Local::now().date_naive(),
    };
    let started = Instant::now();
    let r = chieftech::sources::pull(&store, &cfg, &cfg.rules_config()?, &source, &opts).await?;
    println!(
        "RESULT pull {:.1} {} {}",
        started.elapsed().as_secs_f64(),
        peak_kb(),
        r.line
    );
    Ok(())
}

/// Child: import the workbook into a fresh ledger.
async fn import(file: &Path) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("l.db").display())).await?;
    let started = Instant::now();
    let r = chieftech::jobs::import::import_roster(&store, &[file.to_path_buf()], "bench", false)
        .await?;
    let line = r.lines.join(" ");
    println!(
        "RESULT xlsx {:.1} {} {line}",
        started.elapsed().as_secs_f64(),
        peak_kb()
    );
    Ok(())
}

fn child(args: &[&str]) -> Result<String, Error> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(args)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    Ok(text
        .lines()
        .find(|l| l.starts_with("RESULT"))
        .map(str::to_string)
        .unwrap_or_else(|| format!("failed: {}", String::from_utf8_lossy(&out.stderr))))
}

async fn driver(n: u64) -> Result<(), Error> {
    let base = std::env::var("CHIEFTECH_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let admin = sqlx::PgPool::connect(&format!("{base}/postgres")).await?;
    let name = format!("chieftech_bench_src_{}", std::process::id());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await?;
    let url = format!("{base}/{name}");
    let dir = tempfile::tempdir()?;
    let xlsx = dir.path().join("roster.xlsx");
    let result = async {
        fill(&url, n).await?;
        write_xlsx(n, &xlsx)?;
        let pulled = child(&["pull", &url])?;
        let imported = child(&["import", &xlsx.display().to_string()])?;
        Ok::<_, Error>((pulled, imported))
    }
    .await;
    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
        .execute(&admin)
        .await?;
    let (pulled, imported) = result?;
    println!("| {n} rows | time (s) | peak RSS (kB) | outcome |\n|---|---|---|---|");
    for r in [pulled, imported] {
        let parts: Vec<&str> = r.splitn(5, ' ').collect();
        if let [_, what, secs, kb, rest] = parts[..] {
            println!("| {what} | {secs} | {kb} | {rest} |");
        } else {
            println!("| {r} |");
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("pull") => pull(args.get(1).ok_or("pull URL")?).await,
        Some("import") => import(Path::new(args.get(1).ok_or("import FILE")?)).await,
        n => driver(n.map(str::parse).transpose()?.unwrap_or(1_000_000)).await,
    }
}
