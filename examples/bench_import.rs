//! Benchmark of the roster import (issue 3): a 1,000,000-row .xlsx roster into a fresh SQLite
//! ledger must take under 30 s and under 500 MB peak memory.
//!
//! The roster is written the way Excel writes it: shared strings (rust_xlsxwriter's low-memory
//! mode), a title row above the header, approval dates as date cells and as text.
//!
//! ```text
//! cargo run --release --example bench_import                       # generate if missing, import
//! cargo run --release --example bench_import -- gen 1000000 FILE   # only generate
//! /usr/bin/time -v target/release/examples/bench_import import FILE  # time and peak memory
//! ```

use chieftech::jobs::import::import_roster;
use chieftech::rules::id_number::{luhn_ok, make_id};
use chieftech::store::Store;
use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook};
use std::path::{Path, PathBuf};
use std::time::Instant;

const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗",
];
const GIVEN: [&str; 20] = [
    "强", "娜", "伟", "敏", "刚", "丽", "军", "静", "磊", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "霞", "平", "鹏",
];
const UNITS: [&str; 8] = [
    "张店区热电厂",
    "张店区机械厂",
    "淄博某化工有限公司",
    "张店区自来水公司",
    "淄博某陶瓷有限公司",
    "张店区公交公司",
    "淄博某制药有限公司",
    "张店区建筑安装公司",
];

fn account(n: u64) -> String {
    let body = format!("622848{n:012}");
    (0..10)
        .map(|c| format!("{body}{c}"))
        .find(|a| luhn_ok(a))
        .unwrap_or(body)
}

/// Writes an `n`-row roster with shared strings.
fn generate(n: u64, path: &Path) -> Result<(), rust_xlsxwriter::XlsxError> {
    let started = Instant::now();
    let mut book = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let mut ws = book.new_worksheet_with_low_memory()?;
    ws.set_name("名册")?;
    ws.write_string(0, 0, "张店区首席技师名册（基准测试）")?;
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
        "电子邮箱",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(1, c as u16, *h)?;
    }
    let base = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or_default();
    let approved = NaiveDate::from_ymd_opt(2022, 6, 20).unwrap_or_default();
    for i in 0..n {
        let r = (i + 2) as u32;
        let birth = base + chrono::Days::new(i / 1000);
        let id = make_id("370303", birth, (i % 1000) as u32);
        let name = format!(
            "{}{}{}",
            SURNAMES[(i % 20) as usize],
            GIVEN[(i / 20 % 20) as usize],
            GIVEN[(i / 400 % 20) as usize]
        );
        ws.write_string(r, 0, &name)?;
        ws.write_string(r, 1, id.as_str())?;
        ws.write_string(r, 2, UNITS[(i % 8) as usize])?;
        ws.write_string(r, 3, "电工")?;
        ws.write_string(r, 4, if i % 3 == 0 { "技师" } else { "高级技师" })?;
        if i % 2 == 0 {
            ws.write_datetime_with_format(r, 5, approved, &date)?;
        } else {
            ws.write_string(r, 5, "2022年6月20日")?;
        }
        ws.write_string(r, 6, "张政字〔2022〕53号")?;
        ws.write_string(r, 7, account(i))?;
        ws.write_string(r, 8, "中国农业银行淄博张店支行")?;
        ws.write_string(r, 9, format!("138{:08}", i))?;
        if i % 10 == 0 {
            ws.write_string(r, 10, format!("t{i}@example.cn"))?;
        }
    }
    book.push_worksheet(ws);
    book.save(path)?;
    eprintln!(
        "generated {n} rows in {:.1} s: {} ({} MB)",
        started.elapsed().as_secs_f64(),
        path.display(),
        std::fs::metadata(path)
            .map(|m| m.len() / 1_000_000)
            .unwrap_or(0)
    );
    Ok(())
}

async fn import(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::connect(&url).await?;
    let started = Instant::now();
    let report = import_roster(&store, &[path.to_path_buf()], "bench", true).await?;
    let secs = started.elapsed().as_secs_f64();
    for line in &report.lines {
        println!("{line}");
    }
    println!(
        "import: {secs:.1} s, {} problems, refused: {}",
        report.problems.len(),
        report.refused
    );
    store.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("gen") => {
            let n: u64 = args
                .get(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(1_000_000);
            let path = PathBuf::from(args.get(2).cloned().unwrap_or_else(|| "roster.xlsx".into()));
            generate(n, &path)?;
        }
        Some("read") => {
            // Only the reading and cell checks, no ledger.
            let path = PathBuf::from(args.get(1).cloned().ok_or("read FILE")?);
            let started = Instant::now();
            let mut wb = chieftech::excel::read::Workbook::open(&path)?;
            let opened = started.elapsed().as_secs_f64();
            let mut rows = 0usize;
            let read = chieftech::excel::roster::read_roster(
                &mut wb,
                "bench",
                2000,
                |_| std::ops::ControlFlow::Continue(()),
                |b| {
                    rows += b.len();
                    std::ops::ControlFlow::Continue(())
                },
                |_| {},
            )?;
            println!(
                "read: opened in {opened:.1} s, {rows} rows in {:.1} s, {} problems",
                started.elapsed().as_secs_f64(),
                read.problems.len()
            );
        }
        Some("import") => {
            let path = PathBuf::from(args.get(1).cloned().ok_or("import FILE")?);
            import(&path).await?;
        }
        _ => {
            let n: u64 = 1_000_000;
            let path = PathBuf::from(format!("target/bench/roster-{n}.xlsx"));
            if !path.exists() {
                std::fs::create_dir_all("target/bench")?;
                generate(n, &path)?;
            }
            import(&path).await?;
        }
    }
    Ok(())
}
