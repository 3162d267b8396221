//! Input limits (src/excel/guard.rs): a workbook that would make calamine allocate without
//! bound is refused before calamine reads it, by the library and by the CLI, quickly and in
//! little memory; real workbooks (a 100,000-row roster, the LibreOffice and worked-example
//! fixtures) pass the defaults; one file's problem list is capped at 1,000 plus a count.
//!
//! `CHIEFTECH_GUARD_FILE=/tmp/r.xlsx cargo test --test excel_guard -- --ignored` checks any
//! workbook (a 1,000,000-row roster from `bench_import gen`, say) against the defaults.

#[path = "support/bomb.rs"]
mod bomb;
mod common;

use bomb::{minimal_xlsx, repeated_strings, run_measured, sst};

use chieftech::excel::changes::read_changes;
use chieftech::excel::guard::{InputLimits, LimitExceeded, MAX_ZIP_ENTRIES};
use chieftech::excel::read::{ReadError, Severity, Value, Workbook, MAX_PROBLEMS};
use chieftech::excel::roster::read_roster;
use chieftech::jobs::import::import_changes;
use chieftech::rules::id_number::make_id;
use chieftech::rules::{Reporter, RulesConfig};
use chrono::NaiveDate;
use std::fs::File;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn over_limit(
    r: Result<Workbook<impl std::io::Read + std::io::Seek>, ReadError>,
) -> (String, LimitExceeded) {
    match r {
        Err(ReadError::OverLimit { file, reason }) => (file, *reason),
        Err(e) => panic!("expected an over-limit refusal, got {e:?}"),
        Ok(_) => panic!("expected an over-limit refusal, the workbook opened"),
    }
}

// ---------------------------------------------------------------------------------------------
// The zip bomb

#[tokio::test(flavor = "multi_thread")]
async fn a_zip_bomb_is_refused_quickly_in_little_memory() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.xlsx");
    // 1.5 GB of shared strings (declared honestly), compressing about a thousandfold.
    let total = 1536u64 << 20;
    let strings = total >> 20;
    minimal_xlsx(
        &bomb,
        "A1:A1",
        &sst(strings + 1, strings + 1),
        repeated_strings(total),
    );
    let size = std::fs::metadata(&bomb).unwrap().len();
    assert!(size < 2 << 20, "the bomb is small: {size} bytes");
    eprintln!("bomb.xlsx: {size} bytes");

    // The library refuses it, naming the file and the limit, without decompressing it.
    let started = Instant::now();
    let (file, reason) = over_limit(Workbook::open(&bomb));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(file, "bomb.xlsx");
    assert!(
        matches!(reason, LimitExceeded::Uncompressed { mb, limit_mb: 1024 } if mb >= 1536),
        "{reason:?}"
    );
    let message = Workbook::open(&bomb).err().unwrap().to_string();
    assert!(message.contains("文件“bomb.xlsx”解压后共 1,5"), "{message}");
    assert!(
        message.contains("超过上限 1,024 MB（[input] max_uncompressed_mb）"),
        "{message}"
    );
    assert!(message.contains("未读取"), "{message}");
    // Each other limit it breaks refuses it too.
    let roomy = InputLimits {
        max_uncompressed_mb: 4096,
        ..InputLimits::default()
    };
    let (_, reason) = over_limit(Workbook::open_with(&bomb, &roomy));
    assert!(
        matches!(&reason, LimitExceeded::Part { part, .. } if part == "xl/sharedStrings.xml"),
        "{reason:?}"
    );
    let roomier = InputLimits {
        max_shared_strings_mb: 4096,
        ..roomy
    };
    let (_, reason) = over_limit(Workbook::open_with(&bomb, &roomier));
    assert!(
        matches!(&reason, LimitExceeded::Ratio { part, ratio, limit: 100 } if part == "xl/sharedStrings.xml" && *ratio > 500),
        "{reason:?}"
    );

    // The CLI: exit status 1 (input refused), the file named, well under 100 MB and 1 s.
    let db = common::sqlite().await;
    let url = db.url.clone();
    let bomb_arg = bomb.display().to_string();
    let (code, peak_kb, elapsed, text) = run_measured(
        &url,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml"),
        &["import", "changes", &bomb_arg],
        dir.path(),
    );
    eprintln!("import changes bomb.xlsx: exit {code}, peak RSS {peak_kb} KB, {elapsed:?}\n{text}");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("bomb.xlsx"), "{text}");
    assert!(text.contains("max_uncompressed_mb"), "{text}");
    assert!(peak_kb < 100 * 1024, "peak RSS {peak_kb} KB\n{text}");
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}\n{text}");
    // Nothing was recorded, and no error workbook was written.
    assert!(!dir.path().join("bomb.errors.xlsx").exists());
}

// ---------------------------------------------------------------------------------------------
// Lying headers and declared sizes

/// Sets the declared uncompressed size of entry `name`, in its local header and in the
/// central directory, to `declared`.
fn lie_about_size(path: &Path, name: &str, declared: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    let mut patched = 0;
    let mut i = 0;
    while i + 46 < bytes.len() {
        let sig = &bytes[i..i + 4];
        if sig == b"PK\x03\x04" {
            let n = u16::from_le_bytes([bytes[i + 26], bytes[i + 27]]) as usize;
            if &bytes[i + 30..i + 30 + n] == name.as_bytes() {
                bytes[i + 22..i + 26].copy_from_slice(&declared.to_le_bytes());
                patched += 1;
            }
        } else if sig == b"PK\x01\x02" {
            let n = u16::from_le_bytes([bytes[i + 28], bytes[i + 29]]) as usize;
            if &bytes[i + 46..i + 46 + n] == name.as_bytes() {
                bytes[i + 24..i + 28].copy_from_slice(&declared.to_le_bytes());
                patched += 1;
            }
        }
        i += 1;
    }
    assert_eq!(
        patched, 2,
        "local header and central directory entry of {name}"
    );
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_lying_size_is_refused_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // 64 MB of shared strings declared as 32 KB: small enough for every declared-size check,
    // larger than the part of it the guard reads; calamine's read stops at 32 KB.
    let liar = dir.path().join("liar.xlsx");
    minimal_xlsx(&liar, "A1:A1", &sst(2, 2), repeated_strings(64 << 20));
    lie_about_size(&liar, "xl/sharedStrings.xml", 32 * 1024);
    let started = Instant::now();
    let (file, reason) = over_limit(Workbook::open(&liar));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(file, "liar.xlsx");
    assert!(
        matches!(reason, LimitExceeded::Inconsistent { .. }),
        "{reason:?}"
    );
    let message = Workbook::open(&liar).err().unwrap().to_string();
    assert!(message.contains("解压后超过其声明的大小"), "{message}");

    // Declared as 4 KB: the guard's own read of the first kilobytes meets the lie.
    let liar2 = dir.path().join("liar2.xlsx");
    minimal_xlsx(&liar2, "A1:A1", &sst(2, 2), repeated_strings(64 << 20));
    lie_about_size(&liar2, "xl/sharedStrings.xml", 4 * 1024);
    let (_, reason) = over_limit(Workbook::open(&liar2));
    assert_eq!(
        reason,
        LimitExceeded::Inconsistent {
            part: Some("xl/sharedStrings.xml".into())
        }
    );

    // The same workbook, telling the truth, is only refused for its compression ratio.
    let honest = dir.path().join("honest.xlsx");
    minimal_xlsx(&honest, "A1:A1", &sst(2, 2), repeated_strings(64 << 20));
    let (_, reason) = over_limit(Workbook::open(&honest));
    assert!(matches!(reason, LimitExceeded::Ratio { .. }), "{reason:?}");
}

#[test]
fn a_small_honest_workbook_opens() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.xlsx");
    minimal_xlsx(&ok, "A1:A1", &sst(1, 1), |_| {});
    let mut wb = Workbook::open(&ok).unwrap();
    assert_eq!(wb.sheet_names(), vec!["变动".to_string()]);
    let mut first = None;
    wb.for_each_row("变动", |r, cells| {
        first = Some((r, cells.to_vec()));
        ControlFlow::Break(())
    })
    .unwrap();
    assert_eq!(first, Some((1, vec![Value::Text("姓名".into())])));
}

#[test]
fn declared_dimensions_beyond_the_limits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rows = dir.path().join("rows.xlsx");
    minimal_xlsx(&rows, "A1:K1048577", &sst(1, 1), |_| {});
    let (file, reason) = over_limit(Workbook::open(&rows));
    assert_eq!(file, "rows.xlsx");
    assert_eq!(
        reason,
        LimitExceeded::Rows {
            part: "xl/worksheets/sheet1.xml".into(),
            dimension: "A1:K1048577".into(),
            rows: 1_048_577,
            limit: 1_048_576,
        }
    );
    let message = Workbook::open(&rows).err().unwrap().to_string();
    assert!(
        message.contains("1,048,577 行，超过上限 1,048,576 行（[input] max_rows）"),
        "{message}"
    );

    let cols = dir.path().join("cols.xlsx");
    minimal_xlsx(&cols, "A1:XFE3", &sst(1, 1), |_| {});
    let (_, reason) = over_limit(Workbook::open(&cols));
    assert!(
        matches!(
            reason,
            LimitExceeded::Columns {
                columns: 16_385,
                limit: 16_384,
                ..
            }
        ),
        "{reason:?}"
    );

    // Configured limits apply: 2,000 rows is over a limit of 1,000.
    let small = dir.path().join("small.xlsx");
    minimal_xlsx(&small, "A1:K2000", &sst(1, 1), |_| {});
    assert!(Workbook::open(&small).is_ok());
    let cfg =
        chieftech::config::Config::parse("[input]\nmax_rows = 1000", Path::new("c.toml")).unwrap();
    let limits = InputLimits::from_config(&cfg).unwrap();
    let (_, reason) = over_limit(Workbook::open_with(&small, &limits));
    assert!(
        matches!(
            reason,
            LimitExceeded::Rows {
                rows: 2000,
                limit: 1000,
                ..
            }
        ),
        "{reason:?}"
    );
}

#[test]
fn declared_shared_string_counts_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // calamine would reserve 24 bytes × uniqueCount up front: 96 GB here.
    let unique = dir.path().join("unique.xlsx");
    minimal_xlsx(&unique, "A1:A1", &sst(1, 4_000_000_000), |_| {});
    let (_, reason) = over_limit(Workbook::open(&unique));
    assert_eq!(
        reason,
        LimitExceeded::UniqueStrings {
            declared: 4_000_000_000,
            limit: (256 << 20) / 24
        }
    );
    let garbage = dir.path().join("garbage.xlsx");
    minimal_xlsx(
        &garbage,
        "A1:A1",
        &sst(1, 1).replace(
            "uniqueCount=\"1\"",
            "uniqueCount=\"99999999999999999999999\"",
        ),
        |_| {},
    );
    assert!(matches!(
        over_limit(Workbook::open(&garbage)).1,
        LimitExceeded::UniqueStrings { .. }
    ));
    // Declaring one string but holding 12.6 million empty ones (`<si/>`, 5 bytes each, 24 in
    // calamine's table): counted through, and refused even where the ratio is allowed.
    let empty = dir.path().join("empty.xlsx");
    minimal_xlsx(&empty, "A1:A1", &sst(1, 1), |z| {
        let buf = b"<si/>".repeat(209_715);
        for _ in 0..60 {
            z.write_all(&buf).unwrap();
        }
    });
    let lax = InputLimits {
        max_compression_ratio: 1_000_000,
        ..InputLimits::default()
    };
    let (_, reason) = over_limit(Workbook::open_with(&empty, &lax));
    assert_eq!(
        reason,
        LimitExceeded::Strings {
            found: 60 * 209_715 + 1,
            limit: (256 << 20) / 24
        }
    );
    let count = dir.path().join("count.xlsx");
    minimal_xlsx(&count, "A1:A1", &sst(u64::MAX, 1), |_| {});
    assert!(matches!(
        over_limit(Workbook::open(&count)).1,
        LimitExceeded::StringCount { .. }
    ));
}

#[test]
fn too_many_zip_entries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let many = dir.path().join("many.xlsx");
    minimal_xlsx(&many, "A1:A1", &sst(1, 1), |_| {});
    // Re-written with MAX_ZIP_ENTRIES more empty entries.
    let mut src = zip::ZipArchive::new(File::open(&many).unwrap()).unwrap();
    let out = dir.path().join("many2.xlsx");
    let mut z = ZipWriter::new(File::create(&out).unwrap());
    for i in 0..src.len() {
        z.raw_copy_file(src.by_index_raw(i).unwrap()).unwrap();
    }
    for i in 0..MAX_ZIP_ENTRIES {
        z.start_file(
            format!("customXml/item{i}.xml"),
            SimpleFileOptions::default().compression_method(CompressionMethod::Stored),
        )
        .unwrap();
    }
    z.finish().unwrap();
    let (_, reason) = over_limit(Workbook::open(&out));
    assert!(
        matches!(reason, LimitExceeded::Directory { entries, .. } if entries == MAX_ZIP_ENTRIES + 6),
        "{reason:?}"
    );
}

#[test]
fn xls_files_are_bounded_by_size() {
    let xls = fixtures().join("roster-mixed.xls");
    assert!(Workbook::open(&xls).is_ok());
    let tiny = InputLimits {
        max_uncompressed_mb: 0,
        ..InputLimits::default()
    };
    let (file, reason) = over_limit(Workbook::open_with(&xls, &tiny));
    assert_eq!(file, "roster-mixed.xls");
    assert!(
        matches!(reason, LimitExceeded::XlsSize { limit_mb: 0, .. }),
        "{reason:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Real workbooks pass

#[test]
fn fixtures_pass_the_default_limits() {
    let limits = InputLimits::from_config(
        &chieftech::config::Config::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml"),
            true,
        )
        .unwrap(),
    )
    .unwrap();
    // The shipped [input] table states the built-in defaults.
    assert_eq!(limits, InputLimits::default());
    let mut n = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "xlsx" || ext == "xls" {
            Workbook::open_with(&path, &limits)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 8, "{n} fixtures");
}

/// Writes an `n`-row roster as bench_import does (rust_xlsxwriter's low-memory mode, shared
/// strings, a title row, dates as date cells and as text).
fn write_roster(n: u32, path: &Path) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    let mut ws = book.new_worksheet_with_low_memory().unwrap();
    ws.set_name("名册").unwrap();
    ws.write_string(0, 0, "张店区首席技师名册").unwrap();
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
        ws.write_string(1, c as u16, *h).unwrap();
    }
    let base = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap();
    let approved = NaiveDate::from_ymd_opt(2022, 6, 20).unwrap();
    for i in 0..n {
        let r = i + 2;
        let id = make_id(
            "370303",
            base + chrono::Days::new(u64::from(i / 1000)),
            i % 1000,
        );
        ws.write_string(r, 0, format!("技师{i}")).unwrap();
        ws.write_string(r, 1, id.as_str()).unwrap();
        ws.write_string(r, 2, "张店区热电厂").unwrap();
        ws.write_string(r, 3, "电工").unwrap();
        ws.write_string(r, 4, "高级技师").unwrap();
        if i % 2 == 0 {
            ws.write_datetime_with_format(r, 5, approved, &date)
                .unwrap();
        } else {
            ws.write_string(r, 5, "2022年6月20日").unwrap();
        }
        ws.write_string(r, 6, "张政字〔2022〕53号").unwrap();
        ws.write_string(r, 7, format!("62284800{i:010}")).unwrap();
        ws.write_string(r, 8, "中国农业银行淄博张店支行").unwrap();
        ws.write_string(r, 9, format!("138{i:08}")).unwrap();
    }
    book.push_worksheet(ws);
    book.save(path).unwrap();
}

#[test]
fn a_100000_row_roster_passes_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.xlsx");
    write_roster(100_000, &path);
    let mut wb = Workbook::open(&path).unwrap();
    assert_eq!(wb.row_hint("名册"), Some(100_002));
    let mut rows = 0;
    let read = read_roster(
        &mut wb,
        "roster.xlsx",
        5000,
        |_| ControlFlow::Continue(()),
        |b| {
            rows += b.len();
            ControlFlow::Continue(())
        },
        |_| {},
    )
    .unwrap();
    assert_eq!(read.rows, 100_000);
    assert_eq!(rows, 100_000, "{:?}", read.problems.first());
}

#[test]
#[ignore = "needs CHIEFTECH_GUARD_FILE, a workbook to check against the defaults"]
fn a_given_workbook_passes_the_defaults() {
    let path = PathBuf::from(std::env::var("CHIEFTECH_GUARD_FILE").expect("CHIEFTECH_GUARD_FILE"));
    let started = Instant::now();
    let mut file = std::io::BufReader::new(File::open(&path).unwrap());
    chieftech::excel::guard::check_xlsx(&mut file, &InputLimits::default()).unwrap();
    eprintln!("the checks alone: {:?}", started.elapsed());
    let started = Instant::now();
    Workbook::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    eprintln!(
        "{} opens under the default limits ({:?})",
        path.display(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// The problem cap

/// A changes workbook of `n` rows, each with one error (an unknown change type).
fn bad_changes(n: u32, path: &Path) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name("变动").unwrap();
    for (c, h) in ["姓名", "身份证号码", "变动类型", "生效日期"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let base = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    for i in 0..n {
        let r = i + 1;
        let id = make_id("370303", base + chrono::Days::new(u64::from(i)), 1);
        ws.write_string(r, 0, format!("技师{i}")).unwrap();
        ws.write_string(r, 1, id.as_str()).unwrap();
        ws.write_string(r, 2, "调岗").unwrap();
        ws.write_string(r, 3, "2023-05-01").unwrap();
    }
    book.save(path).unwrap();
}

#[tokio::test]
async fn one_files_problems_are_capped_at_1000() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.xlsx");
    bad_changes(1500, &path);

    // The reader lists 1,000 and counts the other 500.
    let mut wb = Workbook::open(&path).unwrap();
    let file = read_changes(&mut wb, "c.xlsx").unwrap();
    assert_eq!(file.rows, 1500);
    assert_eq!(file.problems.len(), MAX_PROBLEMS + 1);
    assert!(file.has_errors());
    for (i, p) in file.problems[..MAX_PROBLEMS].iter().enumerate() {
        assert_eq!(p.row, Some(i as u32 + 2));
        assert_eq!(p.column.as_deref(), Some("变动类型"));
    }
    let last = file.problems.last().unwrap();
    assert_eq!(last.omitted_count(), Some(500));
    assert_eq!(last.severity, Severity::Error);
    assert_eq!(last.sheet.as_deref(), Some("变动"));
    assert!(
        last.to_string()
            .starts_with("c.xlsx!变动: 另有 500 处问题未列出"),
        "{last}"
    );

    // The import job reports the same, counts all 1,500, and the error workbook says so. The
    // people are on the roster, so the only problems are the 1,500 bad change types (a row
    // refused for a cell is also checked against the roster: every problem in one pass).
    let db = common::sqlite().await;
    let base = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let people: Vec<chieftech::store::RosterEntry> = (0..1500u32)
        .map(|i| chieftech::store::RosterEntry {
            id_number: make_id("370303", base + chrono::Days::new(u64::from(i)), 1),
            name: format!("技师{i}"),
            unit: "张店示例厂".into(),
            occupation: "电工".into(),
            level: "技师".into(),
            approval_date: NaiveDate::from_ymd_opt(2021, 10, 15).unwrap(),
            approval_no: format!("张人社字〔2021〕{i}号"),
            bank_account: format!("6222021603{i:09}"),
            bank_name: "工商银行".into(),
            phone: String::new(),
            email: None,
            row: Some(i + 2),
        })
        .collect();
    db.store
        .import_roster(&chieftech::store::Source::operator("clerk"), &[], &people)
        .await
        .unwrap()
        .unwrap();
    let report = import_changes(
        &db.store,
        std::slice::from_ref(&path),
        Reporter::Bureau,
        false,
        &RulesConfig::default(),
        "clerk",
        false,
    )
    .await
    .unwrap();
    assert!(report.refused);
    assert_eq!(
        report.problems.len(),
        MAX_PROBLEMS + 1,
        "{:?}",
        report.lines
    );
    assert!(report.lines[0].contains("1500处错误"), "{:?}", report.lines);
    assert_eq!(report.problems.last().unwrap().omitted_count(), Some(500));
    let errors = &report.error_workbooks[0];
    let mut wb = Workbook::open(errors).unwrap();
    let mut header = String::new();
    let mut marked = 0;
    wb.for_each_row("变动", |r, cells| {
        let note = cells.get(4).map(Value::display).unwrap_or_default();
        if r == 1 {
            header = note;
        } else if !note.is_empty() {
            marked += 1;
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    assert!(header.contains("另有 500 处问题未列出"), "{header}");
    assert_eq!(marked, MAX_PROBLEMS);
}
