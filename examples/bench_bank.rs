//! Benchmark: writes one bank (代发) file of 1,000,000 payment rows in rust_xlsxwriter's
//! constant-memory mode, with the shipped default layout (max_rows raised to fit), and prints
//! the time taken and the file size. Measure peak memory with GNU time:
//!
//! ```text
//! cargo build --release --example bench_bank
//! /usr/bin/time -v target/release/examples/bench_bank [ROWS] [OUT.xlsx]
//! ```
//!
//! Peak memory (maximum resident set size) stays flat as ROWS grows: try 100000 and 1000000.

use chieftech::excel::bank::{write_bank_file, BankFileInfo, BankRow, BankTemplate};
use chieftech::rules::id_number::make_id;
use chrono::NaiveDate;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rows: u32 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let out = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("chieftech-bench-bank.xlsx"));
    let mut template = BankTemplate::builtin();
    template.max_rows = rows.max(1);
    let info = BankFileInfo {
        purpose: "2025年度张店区首席技师津贴".into(),
        title: None,
        batch_ref: "CT-2025-R1-P1".into(),
        organization: "张店区人力资源和社会保障局".into(),
        created: NaiveDate::from_ymd_opt(2025, 12, 1)
            .and_then(|d| d.and_hms_opt(9, 0, 0))
            .expect("date"),
        date: NaiveDate::from_ymd_opt(2025, 12, 1).expect("date"),
    };
    let birth0 = NaiveDate::from_ymd_opt(1960, 1, 1).expect("date");
    // Rows are generated lazily: nothing of the million is held in memory.
    let gen = (0..rows).map(|i| BankRow {
        name: format!("技师{i:07}"),
        id_number: make_id(
            "370303",
            birth0 + chrono::Days::new(u64::from(i % 12_000)),
            i,
        )
        .as_str()
        .to_string(),
        account: format!("6222020{:012}", u64::from(i) * 7919),
        bank_name: "中国工商银行淄博张店支行".into(),
        unit: String::new(),
        fen: 50_000 + i64::from(i % 1000),
    });
    let started = Instant::now();
    let file = std::fs::File::create(&out)?;
    let totals = write_bank_file(&template, &info, gen, file)?;
    let secs = started.elapsed().as_secs_f64();
    let size = std::fs::metadata(&out)?.len();
    println!(
        "wrote {} rows, {} fen, to {} ({:.1} MB) in {:.2} s ({:.0} rows/s)",
        totals.rows,
        totals.fen,
        out.display(),
        size as f64 / 1e6,
        secs,
        totals.rows as f64 / secs
    );
    Ok(())
}
