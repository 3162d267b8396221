//! Excel in (issue 3): roster and changes workbooks into the ledger, on workbooks generated
//! here (rust_xlsxwriter, shared strings), on .xls files made by LibreOffice
//! (tests/fixtures), and on the worked-example workbooks (tests/fixtures/worked-examples-*).
//!
//! Every header alias, date form and error kind; per error kind, the message names file,
//! sheet, row and column, and the ledger is unchanged afterwards.

mod common;

use chieftech::excel::changes::read_changes;
use chieftech::excel::read::{self, CellProblem, Severity, Value, Workbook};
use chieftech::excel::roster::read_roster_all;
use chieftech::excel::template::{write_template, TemplateKind};
use chieftech::jobs::import::{import_changes, import_roster, ImportReport};
use chieftech::rules::id_number::make_id;
use chieftech::rules::{Reporter, RulesConfig};
use chieftech::store::payrun::RunPolicy;
use chieftech::store::Store;
use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook as XlsxBook};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Helpers

#[derive(Clone, Debug)]
enum C {
    S(String),
    N(f64),
    D(NaiveDate),
    E,
}

fn s(x: &str) -> C {
    C::S(x.to_string())
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Writes a workbook (rust_xlsxwriter's default mode: shared strings, as Excel writes them).
fn write_book(path: &Path, sheets: &[(&str, Vec<Vec<C>>)]) {
    let mut book = XlsxBook::new();
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    for (name, rows) in sheets {
        let ws = book.add_worksheet();
        ws.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match cell {
                    C::S(x) => {
                        ws.write_string(r, c, x).unwrap();
                    }
                    C::N(x) => {
                        ws.write_number(r, c, *x).unwrap();
                    }
                    C::D(d) => {
                        ws.write_datetime_with_format(r, c, *d, &date_format)
                            .unwrap();
                    }
                    C::E => {}
                }
            }
        }
    }
    book.save(path).unwrap();
}

/// A valid ID number, different for each `n`.
fn id(n: u32) -> String {
    let birth = date(1970, 1, 1) + chrono::Days::new(u64::from(n % 9000));
    make_id("370303", birth, n).as_str().to_string()
}

/// A 19-digit account passing the Luhn check.
fn account(n: u32) -> String {
    let body = format!("622848{:012}", n);
    for check in 0..10 {
        let candidate = format!("{body}{check}");
        if chieftech::rules::id_number::luhn_ok(&candidate) {
            return candidate;
        }
    }
    unreachable!()
}

const ROSTER_HEADERS: [&str; 11] = [
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

fn header(names: &[&str]) -> Vec<C> {
    names.iter().map(|h| s(h)).collect()
}

/// A sound roster row for person `n`, approved on `approved`.
fn roster_row(n: u32, name: &str, approved: C) -> Vec<C> {
    vec![
        s(name),
        C::S(id(n)),
        s("张店区热电厂"),
        s("电工"),
        s("高级技师"),
        approved,
        s("张政字〔2021〕21号"),
        C::S(account(n)),
        s("中国农业银行淄博张店支行"),
        s("13805331234"),
        C::E,
    ]
}

/// The base roster: three people approved 2021-10-15.
fn base_roster() -> Vec<Vec<C>> {
    vec![
        header(&ROSTER_HEADERS),
        roster_row(1, "王强", C::D(date(2021, 10, 15))),
        roster_row(2, "李娜", s("2021-10-15")),
        roster_row(3, "张伟", s("2021年10月15日")),
    ]
}

const CHANGE_HEADERS: [&str; 9] = [
    "姓名",
    "身份证号码",
    "变动类型",
    "生效日期",
    "结束日期",
    "新单位",
    "批准文号",
    "称号批准文号",
    "说明",
];

fn change_row(n: u32, name: &str, kind: &str, effective: C) -> Vec<C> {
    vec![s(name), C::S(id(n)), s(kind), effective]
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn book(&self, name: &str, sheets: &[(&str, Vec<Vec<C>>)]) -> PathBuf {
        let p = self.path(name);
        write_book(&p, sheets);
        p
    }
}

async fn roster(store: &Store, files: &[PathBuf]) -> ImportReport {
    import_roster(store, files, "clerk", false).await.unwrap()
}

async fn changes(
    store: &Store,
    files: &[PathBuf],
    reporter: Reporter,
    accept: bool,
) -> ImportReport {
    import_changes(
        store,
        files,
        reporter,
        accept,
        &RulesConfig::default(),
        "clerk",
        false,
    )
    .await
    .unwrap()
}

fn errors(report: &ImportReport) -> Vec<&CellProblem> {
    report.problems.iter().filter(|p| p.is_error()).collect()
}

/// The error workbook's 错误说明 text of a row (the column after the header's last one).
fn explanation_at(path: &Path, sheet: &str, row: u32) -> Option<String> {
    let mut wb = Workbook::open(path).unwrap();
    let mut header_width = None;
    let mut found = None;
    wb.for_each_row(sheet, |r, cells| {
        if header_width.is_none() {
            if let Some(i) = cells
                .iter()
                .position(|v| matches!(v, Value::Text(t) if t.starts_with("错误说明")))
            {
                header_width = Some(i);
            }
        }
        if r == row {
            if let Some(i) = header_width {
                found = cells.get(i).map(Value::display);
            }
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    found
}

/// Asserts a refused import: one error at (row, column) containing `fragment`, shown as
/// `FILE!SHEET row R, column C: …`, an error workbook (0600) explaining it, and no change.
async fn assert_refused(
    report: &ImportReport,
    file: &Path,
    sheet: &str,
    row: u32,
    column: &str,
    fragment: &str,
) {
    assert!(report.refused, "not refused: {:?}", report.lines);
    let found = report
        .problems
        .iter()
        .find(|p| p.is_error() && p.row == Some(row) && p.column.as_deref() == Some(column));
    let Some(p) = found else {
        panic!(
            "no error at row {row}, column {column}; problems: {:#?}",
            report.problems
        );
    };
    assert!(
        p.message.contains(fragment),
        "message `{}` lacks `{fragment}`",
        p.message
    );
    let shown = p.to_string();
    let prefix = format!("{}!{sheet} row {row}, column {column}: ", file.display());
    assert!(
        shown.starts_with(&prefix),
        "`{shown}` does not start with `{prefix}`"
    );
    assert_eq!(report.error_workbooks.len(), 1);
    let ew = &report.error_workbooks[0];
    assert_eq!(ew, &read_errors_path(file));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ew).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "error workbook mode");
    }
    let text = explanation_at(ew, sheet, row).unwrap_or_default();
    assert!(
        text.contains(column) && text.contains(fragment),
        "error workbook row {row}: `{text}`"
    );
}

fn read_errors_path(file: &Path) -> PathBuf {
    chieftech::excel::errors::error_workbook_path(file)
}

/// A ledger holding the base roster, and its dump.
async fn ledger_with_base(env: &Env) -> (common::TestDb, String) {
    let db = common::sqlite().await;
    let base = env.book("base.xlsx", &[("名册", base_roster())]);
    let r = roster(&db.store, &[base]).await;
    assert!(!r.refused, "{:?} {:?}", r.lines, r.problems);
    let dump = db.store.dump().await.unwrap();
    (db, dump)
}

/// A roster error case: the base ledger, then `rows` (header included) refused at
/// (row, column) with `fragment`; the ledger unchanged.
async fn roster_case(rows: Vec<Vec<C>>, row: u32, column: &str, fragment: &str) {
    let env = Env::new();
    let (db, before) = ledger_with_base(&env).await;
    let file = env.book("bad.xlsx", &[("名册", rows)]);
    let report = roster(&db.store, std::slice::from_ref(&file)).await;
    assert_refused(&report, &file, "名册", row, column, fragment).await;
    assert_eq!(db.store.dump().await.unwrap(), before, "ledger changed");
    // Nothing half-written: once fixed, the same rows would import (the source hash of the
    // refused file was not kept).
    assert!(report.lines[0].contains("未导入"), "{:?}", report.lines);
}

/// A changes error case on the base ledger.
async fn changes_case(
    rows: Vec<Vec<C>>,
    reporter: Reporter,
    row: u32,
    column: &str,
    fragment: &str,
) {
    let env = Env::new();
    let (db, before) = ledger_with_base(&env).await;
    let mut all = vec![header(&CHANGE_HEADERS)];
    all.extend(rows);
    let file = env.book("changes.xlsx", &[("变动", all)]);
    let report = changes(&db.store, std::slice::from_ref(&file), reporter, false).await;
    assert_refused(&report, &file, "变动", row, column, fragment).await;
    assert_eq!(db.store.dump().await.unwrap(), before, "ledger changed");
}

/// The expected nets of the worked examples (`tests/fixtures/worked-examples-nets.csv`): the
/// names of the header, then per run its year and one net per name ("" for no lines).
fn worked_example_nets() -> (Vec<String>, Vec<(i32, Vec<String>)>) {
    let text = std::fs::read_to_string(fixtures().join("worked-examples-nets.csv")).unwrap();
    let mut lines = text.lines();
    let names: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .skip(1)
        .map(String::from)
        .collect();
    let runs = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut cells = l.split(',');
            let year = cells.next().unwrap().parse().unwrap();
            let nets: Vec<String> = cells.map(String::from).collect();
            assert_eq!(nets.len(), names.len(), "{l}");
            (year, nets)
        })
        .collect::<Vec<_>>();
    assert_eq!(runs.len(), 5, "runs 2022–2026");
    (names, runs)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Copies a file into the test's folder (error workbooks are written beside inputs).
fn copy_in(env: &Env, from: &Path) -> PathBuf {
    let to = env.path(from.file_name().unwrap().to_str().unwrap());
    std::fs::copy(from, &to).unwrap();
    to
}

// ---------------------------------------------------------------------------------------------
// Reading: aliases, title rows, date forms, formats

#[test]
fn header_aliases_title_rows_and_brackets() {
    let env = Env::new();
    let mut rows = vec![
        vec![s("张店区首席技师名册（2024年）")],
        vec![s("填报单位：区人社局")],
        header(&[
            " 姓 名 ",
            "身份证号",
            "单位",
            "工种",
            "职业资格等级",
            "批准日期",
            "批准文号",
            "银行卡号",
            "开户行",
            "联系电话",
            "电子邮箱",
        ]),
    ];
    rows.push(roster_row(1, "王强", s("2021-10-15")));
    let mut row2 = roster_row(2, "李娜", s("2021-10-15"));
    row2[10] = s("lina@example.cn");
    rows.push(row2);
    let file = env.book("aliases.xlsx", &[("名册", rows)]);
    let mut wb = Workbook::open(&file).unwrap();
    let r = read_roster_all(&mut wb, "aliases.xlsx").unwrap();
    assert!(r.read.problems.is_empty(), "{:?}", r.read.problems);
    assert_eq!(
        r.read.roster.as_ref().unwrap().header.as_ref().unwrap().row,
        3
    );
    assert_eq!(r.entries.len(), 2);
    assert_eq!(r.entries[0].row, Some(4));
    assert_eq!(r.entries[0].unit, "张店区热电厂");
    assert_eq!(r.entries[0].occupation, "电工");
    assert_eq!(r.entries[1].bank_account, account(2));
    assert_eq!(r.entries[1].email.as_deref(), Some("lina@example.cn"));

    // Half-width brackets, and the full name of every aliased column.
    let rows = vec![
        header(&[
            "姓名",
            "身份证号码",
            "工作单位",
            "职业(工种)",
            "职业资格等级",
            "批准日期",
            "批准文号",
            "银行账号",
            "开户行",
            "联系电话",
        ]),
        roster_row(3, "张伟", s("2021-10-15")),
    ];
    let file = env.book("full.xlsx", &[("Sheet1", rows)]);
    let mut wb = Workbook::open(&file).unwrap();
    let r = read_roster_all(&mut wb, "full.xlsx").unwrap();
    assert!(r.read.problems.is_empty(), "{:?}", r.read.problems);
    assert_eq!(
        r.entries.len(),
        1,
        "the first sheet is read when none is called 名册"
    );
    assert_eq!(r.entries[0].email, None);
}

#[test]
fn changes_alias_and_first_sheet() {
    let env = Env::new();
    let rows = vec![
        vec![s("变动情况报告表")],
        header(&["姓名", "身份证号", "变动类型", "生效日期"]),
        change_row(1, "王强", "不再从事技能岗位", s("2023/5/20")),
    ];
    let file = env.book("c.xlsx", &[("报告", rows)]);
    let mut wb = Workbook::open(&file).unwrap();
    let c = read_changes(&mut wb, "c.xlsx").unwrap();
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    assert_eq!(c.entries.len(), 1);
    assert_eq!(
        c.entries[0].kind,
        chieftech::rules::ChangeKind::LeftSkilledWork
    );
    assert_eq!(c.entries[0].effective, date(2023, 5, 20));
    assert_eq!(c.entries[0].row, Some(3));
}

/// Issue 18: two columns naming one expected header is an error naming both, not a silent
/// choice of the leftmost.
#[test]
fn an_ambiguous_header_is_an_error_naming_both_columns() {
    let env = Env::new();
    let mut row = change_row(1, "王强", "调往区外", s("2023-05-20"));
    row.push(s("370303198001011234"));
    let rows = vec![
        header(&["姓名", "身份证号码", "变动类型", "生效日期", "身份证号"]),
        row,
    ];
    let file = env.book("c.xlsx", &[("变动", rows)]);
    let mut wb = Workbook::open(&file).unwrap();
    let c = read_changes(&mut wb, "c.xlsx").unwrap();
    let errs: Vec<&CellProblem> = c.problems.iter().filter(|p| p.is_error()).collect();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].row, Some(1));
    assert!(
        errs[0].message.contains("B列“身份证号码”") && errs[0].message.contains("E列“身份证号”"),
        "{}",
        errs[0].message
    );
    assert_eq!(chieftech::excel::read::column_letter(27), "AB");
}

#[test]
fn every_date_form() {
    let env = Env::new();
    let forms = vec![
        C::D(date(2023, 5, 20)),
        s("2023-05-20"),
        s("2023/05/20"),
        s("2023.05.20"),
        s("2023年5月20日"),
        s("2023年05月20日"),
        s("2023-5-20"),
        s(" 2023-05-20 00:00:00 "),
        C::N(45066.0), // a date serial whose date format was lost
    ];
    let mut rows = vec![header(&CHANGE_HEADERS)];
    for f in &forms {
        rows.push(change_row(1, "王强", "调往区外", f.clone()));
    }
    let file = env.book("dates.xlsx", &[("变动", rows)]);
    let mut wb = Workbook::open(&file).unwrap();
    let c = read_changes(&mut wb, "dates.xlsx").unwrap();
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    assert_eq!(c.entries.len(), forms.len());
    for e in &c.entries {
        assert_eq!(e.effective, date(2023, 5, 20), "row {:?}", e.row);
    }
}

#[test]
fn dates_in_the_1904_epoch() {
    let mut wb = Workbook::open(&fixtures().join("changes-1904.xlsx")).unwrap();
    assert!(wb.is_1904());
    let c = read_changes(&mut wb, "changes-1904.xlsx").unwrap();
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    assert_eq!(c.entries[0].effective, date(2023, 5, 20));
    assert_eq!(read::serial_to_date(43604.0, true), Some(date(2023, 5, 20)));
}

#[test]
fn xls_fixture_made_by_libreoffice() {
    for name in ["roster-mixed.xls", "roster-mixed-libreoffice.xlsx"] {
        let mut wb = Workbook::open(&fixtures().join(name)).unwrap();
        let r = read_roster_all(&mut wb, name).unwrap();
        // Title row (merged) skipped; aliases 身份证号, 单位, 职业(工种), 银行卡号; four sound rows
        // with dates as text (three forms) and as a date cell; a lowercase x read as X.
        assert_eq!(r.entries.len(), 4, "{name}: {:?}", r.read.problems);
        for e in &r.entries {
            assert_eq!(
                e.approval_date,
                date(2021, 10, 15),
                "{name} row {:?}",
                e.row
            );
            assert_eq!(e.phone.len(), 11, "phone typed as a number reads as digits");
        }
        assert_eq!(r.entries[1].id_number.as_str(), "37030319850101006X");
        assert_eq!(r.units.len(), 1);
        assert_eq!(r.units[0].email.as_deref(), Some("test@units.example"));
        // Row 7: the ID number is a number cell (refused), the account fails Luhn (a warning).
        let p: Vec<_> = r
            .read
            .problems
            .iter()
            .filter(|p| p.row == Some(7))
            .collect();
        assert!(
            p.iter().any(|p| p.is_error()
                && p.column.as_deref() == Some("身份证号码")
                && p.message.contains("数字格式")),
            "{name}: {p:?}"
        );
        assert!(
            p.iter().any(|p| p.severity == Severity::Warning
                && p.column.as_deref() == Some("银行账号")),
            "{name}: {p:?}"
        );
        assert_eq!(r.read.problems.len(), 2, "{name}: {:?}", r.read.problems);
    }
}

#[test]
fn worked_examples_read_as_xlsx_and_xls() {
    for ext in ["xlsx", "xls"] {
        let dir = fixtures();
        let path = dir.join(format!("worked-examples-roster.{ext}"));
        let mut wb = Workbook::open(&path).unwrap();
        let r = read_roster_all(&mut wb, "roster").unwrap();
        assert!(r.read.problems.is_empty(), "{ext}: {:?}", r.read.problems);
        assert_eq!(r.entries.len(), 6);
        assert_eq!(r.entries[0].name, "王强");
        assert_eq!(r.entries[0].approval_date, date(2021, 10, 15));
        assert_eq!(r.entries[0].row, Some(3), "title row above the header");
        assert_eq!(r.units[0].contact.as_deref(), Some("刘主任"));
        let path = dir.join(format!("worked-examples-changes-2023.{ext}"));
        let mut wb = Workbook::open(&path).unwrap();
        let c = read_changes(&mut wb, "c").unwrap();
        assert!(c.problems.is_empty(), "{ext}: {:?}", c.problems);
        assert_eq!(c.entries[1].effective, date(2022, 9, 16), "2022年9月16日");
        let path = dir.join(format!("worked-examples-changes-2024.{ext}"));
        let mut wb = Workbook::open(&path).unwrap();
        let c = read_changes(&mut wb, "c").unwrap();
        assert!(c.problems.is_empty(), "{ext}: {:?}", c.problems);
        assert_eq!(c.entries[0].effective, date(2024, 3, 8), "a date cell");
        assert_eq!(c.entries[1].end, Some(date(2025, 9, 30)), "2025/09/30");
    }
}

#[test]
fn garbage_is_refused_without_panic() {
    let inputs: Vec<Vec<u8>> = vec![
        vec![],
        b"hello".to_vec(),
        b"PK\x03\x04garbage".to_vec(),
        vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0],
        std::fs::read(fixtures().join("worked-examples-roster.xlsx")).unwrap()[..3000].to_vec(),
        std::fs::read(fixtures().join("roster-mixed.xls")).unwrap()[..2000].to_vec(),
    ];
    for bytes in inputs {
        if let Ok(mut wb) = Workbook::from_reader(std::io::Cursor::new(bytes)) {
            let _ = read_roster_all(&mut wb, "x");
        }
    }
    // Fuzzer finds: a compound file whose allocation table loops (calamine would allocate
    // without end), and an .xls with a cell at column 65535 (calamine would ask for 128 GB).
    for name in [
        "oom-cfb-fat-cycle.xls",
        "oom-cfb-short-fat-sector.xls",
        "crash-xls-dense-range.xls",
        "crash-xls-dimensions.xls",
    ] {
        let bytes = std::fs::read(fixtures().join("fuzz").join(name)).unwrap();
        assert!(
            matches!(
                Workbook::from_reader(std::io::Cursor::new(bytes)),
                Err(read::ReadError::Damaged)
            ),
            "{name}"
        );
    }
    // Fuzz regressions, when the fuzzer found any, live in tests/fixtures/fuzz/.
    if let Ok(dir) = std::fs::read_dir(fixtures().join("fuzz")) {
        for f in dir.flatten() {
            let bytes = std::fs::read(f.path()).unwrap();
            if let Ok(mut wb) = Workbook::from_reader(std::io::Cursor::new(bytes)) {
                let _ = read_roster_all(&mut wb, "x");
                let _ = read_changes(&mut wb, "x");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Importing

#[tokio::test]
async fn roster_import_then_reimport_is_a_noop_that_says_so() {
    for db in common::backends().await {
        let env = Env::new();
        let file = env.book("r.xlsx", &[("名册", base_roster())]);
        let r = roster(&db.store, std::slice::from_ref(&file)).await;
        assert!(!r.refused, "{:?}", r.problems);
        assert!(r.lines[0].contains("新增3条"), "{:?}", r.lines);
        let dump = db.store.dump().await.unwrap();
        assert_eq!(dump.lines().filter(|l| l.contains("张政字")).count(), 3);

        let again = roster(&db.store, std::slice::from_ref(&file)).await;
        assert!(!again.refused);
        assert!(
            again.lines[0].contains("导入过") && again.lines[0].contains("未做任何更改"),
            "{:?}",
            again.lines
        );
        assert_eq!(db.store.dump().await.unwrap(), dump);

        // The same rows in another file: unchanged, and said so.
        let copy = env.book(
            "r2.xlsx",
            &[("名册", base_roster()), ("说明", vec![vec![s("x")]])],
        );
        let same = roster(&db.store, &[copy]).await;
        assert!(
            same.lines[0].contains("未变3条") && same.lines[0].contains("未做任何更改"),
            "{:?}",
            same.lines
        );
        assert_eq!(db.store.dump().await.unwrap(), dump);

        // A changed bank account updates the appointment.
        let mut rows = base_roster();
        rows[1][7] = C::S(account(99));
        let changed = env.book("r3.xlsx", &[("名册", rows)]);
        let upd = roster(&db.store, &[changed]).await;
        assert!(upd.lines[0].contains("更新1条"), "{:?}", upd.lines);
        assert!(db.store.dump().await.unwrap().contains(&account(99)));
    }
}

#[tokio::test]
async fn units_sheet_is_read_and_luhn_failure_only_warns() {
    let env = Env::new();
    let db = common::sqlite().await;
    let mut rows = base_roster();
    rows[1][7] = s("6228484471220184080"); // fails Luhn: a passbook account, say
    let file = env.book(
        "r.xlsx",
        &[
            ("名册", rows),
            (
                "单位",
                vec![
                    header(&["单位名称", "联系人", "电子邮箱"]),
                    vec![s("张店区热电厂"), s("刘主任"), s("rdc@units.example")],
                ],
            ),
        ],
    );
    let r = roster(&db.store, std::slice::from_ref(&file)).await;
    assert!(!r.refused, "{:?}", r.problems);
    assert!(r.error_workbooks.is_empty());
    assert_eq!(r.problems.len(), 1);
    let w = &r.problems[0];
    assert_eq!(w.severity, Severity::Warning);
    assert!(w
        .to_string()
        .starts_with(&format!("{}!名册 row 2, column 银行账号: ", file.display())));
    assert!(r.lines[0].contains("新增单位1个"), "{:?}", r.lines);
}

#[tokio::test]
async fn large_roster_streams_in_batches() {
    // More rows than a batch, one person with two appointments far apart and one with two
    // adjacent rows, so the checks hold across batches and chunks.
    let env = Env::new();
    let db = common::sqlite().await;
    let mut rows = vec![header(&ROSTER_HEADERS)];
    for n in 0..4500 {
        rows.push(roster_row(1000 + n, &format!("技师{n}"), s("2021-10-15")));
    }
    rows.push(roster_row(1000, "技师0", s("2025-01-10")));
    rows.push(roster_row(1000, "技师0", s("2025-01-10"))); // the same appointment twice
    let file = env.book("big.xlsx", &[("名册", rows.clone())]);
    let r = import_roster(&db.store, std::slice::from_ref(&file), "clerk", true)
        .await
        .unwrap();
    assert!(!r.refused, "{:?}", r.problems);
    assert!(
        r.lines[0].contains("新增4501条") && r.lines[0].contains("未变1条"),
        "{:?}",
        r.lines
    );

    // An overlapping term far down the file, and a second name for an early person.
    let mut bad = rows.clone();
    bad.push(roster_row(1001, "技师1", s("2023-01-10")));
    bad.push(roster_row(1002, "别名", s("2025-01-10")));
    let env2 = Env::new();
    let db2 = common::sqlite().await;
    let file = env2.book("big.xlsx", &[("名册", bad)]);
    let before = db2.store.dump().await.unwrap();
    let r = roster(&db2.store, std::slice::from_ref(&file)).await;
    assert!(r.refused);
    let errs = errors(&r);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_eq!(errs[0].row, Some(4504));
    assert_eq!(errs[0].column.as_deref(), Some("批准日期"));
    assert!(errs[0].message.contains("重叠"));
    assert_eq!(errs[1].row, Some(4505));
    assert!(errs[1].message.contains("两个姓名"));
    assert_eq!(db2.store.dump().await.unwrap(), before);
}

#[tokio::test]
async fn changes_import_accept_valid_and_duplicates() {
    for db in common::backends().await {
        let env = Env::new();
        let base = env.book("base.xlsx", &[("名册", base_roster())]);
        assert!(!roster(&db.store, &[base]).await.refused);
        let rows = vec![
            header(&CHANGE_HEADERS),
            change_row(1, "王强", "调往区外", s("2023-05-20")),
            change_row(2, "李娜", "升职", s("2023-05-20")), // unknown type: a cell error
            change_row(3, "张三", "退休", s("2023-05-20")), // name differs: a store error
        ];
        let file = env.book("c.xlsx", &[("变动", rows.clone())]);
        let before = db.store.dump().await.unwrap();

        // Without --accept-valid: refused whole, every problem reported in one pass.
        let r = changes(
            &db.store,
            std::slice::from_ref(&file),
            Reporter::Unit,
            false,
        )
        .await;
        assert!(r.refused);
        let errs = errors(&r);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert_eq!(
            (errs[0].row, errs[0].column.as_deref()),
            (Some(3), Some("变动类型"))
        );
        assert_eq!(
            (errs[1].row, errs[1].column.as_deref()),
            (Some(4), Some("姓名"))
        );
        assert_eq!(db.store.dump().await.unwrap(), before);

        // With it: the good row applied, the bad ones refused (exit status 1 all the same).
        let r = changes(&db.store, std::slice::from_ref(&file), Reporter::Unit, true).await;
        assert!(r.refused);
        assert!(
            r.lines[0].contains("已登记1条变动") && r.lines[0].contains("2行有错误"),
            "{:?}",
            r.lines
        );
        assert_eq!(r.error_workbooks.len(), 1);
        let after = db.store.dump().await.unwrap();
        assert!(after.contains("|transferred_out|2023-05-20||live"));

        // The same file again: checked row by row again (the ledger remembers rows, not
        // files): the recorded row is a duplicate, the bad rows are still refused, nothing
        // changes, and the line says the file was seen before.
        let r = changes(&db.store, std::slice::from_ref(&file), Reporter::Unit, true).await;
        assert!(
            r.lines[0].contains("导入过") && r.lines[0].contains("1条与已登记的变动相同"),
            "{:?}",
            r.lines
        );
        assert_eq!(db.store.dump().await.unwrap(), after);
        // The same row in another file: a duplicate, skipped and said so.
        let again = env.book("c2.xlsx", &[("变动", rows[..2].to_vec())]);
        let r = changes(&db.store, &[again], Reporter::Unit, false).await;
        assert!(!r.refused, "{:?}", r.problems);
        assert!(
            r.lines[0].contains("1条与已登记的变动相同"),
            "{:?}",
            r.lines
        );
        assert_eq!(db.store.dump().await.unwrap(), after);
    }
}

#[tokio::test]
async fn worked_examples_end_to_end() {
    for db in common::backends().await {
        let env = Env::new();
        let store = &db.store;
        let cfg = RulesConfig::default();
        let policy = RunPolicy {
            allow_supplementary: true,
            allow_single_operator: false,
        };
        let bar = indicatif::ProgressBar::hidden();
        let roster_file = copy_in(&env, &fixtures().join("worked-examples-roster.xlsx"));
        let r = import_roster(store, &[roster_file], "clerk", false)
            .await
            .unwrap();
        assert!(!r.refused && r.problems.is_empty(), "{:?}", r.problems);
        let (names, expected) = worked_example_nets();
        for (year, nets) in expected {
            let file = match year {
                2023 => Some("worked-examples-changes-2023.xlsx"),
                2024 => Some("worked-examples-changes-2024.xlsx"),
                _ => None,
            };
            if let Some(f) = file {
                let path = copy_in(&env, &fixtures().join(f));
                let r = import_changes(
                    store,
                    &[path],
                    Reporter::Bureau,
                    false,
                    &cfg,
                    "clerk",
                    false,
                )
                .await
                .unwrap();
                assert!(
                    !r.refused && r.problems.is_empty(),
                    "{year}: {:?} {:?}",
                    r.lines,
                    r.problems
                );
            }
            let today = date(year, 12, 1);
            store
                .compute_run(year, false, "alice", today, &cfg, policy, &bar)
                .await
                .unwrap();
            store.approve_run(year, "bob", policy).await.unwrap();
            let view = store
                .show_run(year, None, cfg.offset_recoveries)
                .await
                .unwrap();
            for (name, net) in names.iter().zip(&nets) {
                let got = view
                    .people
                    .iter()
                    .find(|p| p.name == *name)
                    .map(|p| chieftech::rules::money::fen_str(p.net.net));
                let want = (!net.is_empty()).then(|| net.clone());
                assert_eq!(got, want, "run {year}, {name} ({})", db.name);
            }
            if year == 2026 {
                let months: Vec<String> = view.uncovered.iter().map(|u| u.2.to_string()).collect();
                assert_eq!(months, ["2026-09", "2026-10", "2026-11"]);
            }
        }
    }
}

#[tokio::test]
async fn xls_and_xlsx_worked_examples_give_the_same_ledger() {
    let env = Env::new();
    let a = common::sqlite().await;
    let b = common::sqlite().await;
    let r = roster(
        &a.store,
        &[copy_in(
            &env,
            &fixtures().join("worked-examples-roster.xlsx"),
        )],
    )
    .await;
    assert!(!r.refused, "{:?}", r.problems);
    let r = roster(
        &b.store,
        &[copy_in(
            &env,
            &fixtures().join("worked-examples-roster.xls"),
        )],
    )
    .await;
    assert!(!r.refused, "{:?}", r.problems);
    for year in ["2023", "2024"] {
        let x = copy_in(
            &env,
            &fixtures().join(format!("worked-examples-changes-{year}.xlsx")),
        );
        let y = copy_in(
            &env,
            &fixtures().join(format!("worked-examples-changes-{year}.xls")),
        );
        assert!(
            !changes(&a.store, &[x], Reporter::Bureau, false)
                .await
                .refused
        );
        assert!(
            !changes(&b.store, &[y], Reporter::Bureau, false)
                .await
                .refused
        );
    }
    let dump = a.store.dump().await.unwrap();
    assert_eq!(dump, b.store.dump().await.unwrap());
    assert_eq!(dump.lines().filter(|l| l.contains("|live")).count(), 6);
}

// ---------------------------------------------------------------------------------------------
// One test per error kind: message names file, sheet, row, column; the ledger is unchanged.

fn with_row(n: u32, name: &str, f: impl FnOnce(&mut Vec<C>)) -> Vec<Vec<C>> {
    let mut row = roster_row(n, name, s("2022-03-01"));
    f(&mut row);
    vec![
        header(&ROSTER_HEADERS),
        roster_row(10, "周一", s("2022-03-01")),
        row,
    ]
}

#[tokio::test]
async fn roster_error_id_checksum() {
    let mut bad = id(11);
    let last = if bad.ends_with('1') { '2' } else { '1' };
    bad.replace_range(17.., &last.to_string());
    roster_case(
        with_row(11, "吴二", |r| r[1] = C::S(bad)),
        3,
        "身份证号码",
        "校验码",
    )
    .await;
}

#[tokio::test]
async fn roster_error_id_birth_date() {
    roster_case(
        with_row(11, "吴二", |r| r[1] = s("370303198002300015")),
        3,
        "身份证号码",
        "出生日期",
    )
    .await;
}

#[tokio::test]
async fn roster_error_id_fifteen_digits() {
    roster_case(
        with_row(11, "吴二", |r| r[1] = s("370303800101001")),
        3,
        "身份证号码",
        "18位",
    )
    .await;
}

#[tokio::test]
async fn roster_error_id_in_a_number_cell() {
    roster_case(
        with_row(11, "吴二", |r| r[1] = C::N(370303198001010011.0)),
        3,
        "身份证号码",
        "数字格式",
    )
    .await;
}

#[tokio::test]
async fn roster_error_account_in_a_number_cell() {
    roster_case(
        with_row(11, "吴二", |r| r[7] = C::N(6228480000000000000.0)),
        3,
        "银行账号",
        "数字格式",
    )
    .await;
}

#[tokio::test]
async fn roster_error_account_not_digits() {
    roster_case(
        with_row(11, "吴二", |r| r[7] = s("6228-4800-0000")),
        3,
        "银行账号",
        "只能包含数字",
    )
    .await;
}

#[tokio::test]
async fn roster_error_unreadable_date() {
    roster_case(
        with_row(11, "吴二", |r| r[5] = s("2022年3月")),
        3,
        "批准日期",
        "不是可识别的日期",
    )
    .await;
}

#[tokio::test]
async fn roster_error_implausible_date() {
    roster_case(
        with_row(11, "吴二", |r| r[5] = s("2202-03-01")),
        3,
        "批准日期",
        "合理范围",
    )
    .await;
}

#[tokio::test]
async fn roster_error_missing_required_cell() {
    roster_case(with_row(11, "吴二", |r| r[0] = C::E), 3, "姓名", "为空").await;
}

#[tokio::test]
async fn roster_error_bad_email() {
    roster_case(
        with_row(11, "吴二", |r| r[10] = s("wu.example.cn")),
        3,
        "电子邮箱",
        "格式不正确",
    )
    .await;
}

#[tokio::test]
async fn roster_error_name_differs_from_the_ledger() {
    // Person 1 is 王强 in the base roster.
    roster_case(with_row(1, "王小强", |_| {}), 3, "姓名", "与已登记的").await;
}

#[tokio::test]
async fn roster_error_overlapping_terms() {
    // Person 1 was approved 2021-10-15 (term to 2024-10-31); 2022-03-01 overlaps it.
    roster_case(with_row(1, "王强", |_| {}), 3, "批准日期", "重叠").await;
}

#[tokio::test]
async fn roster_error_two_names_in_one_file() {
    let rows = vec![
        header(&ROSTER_HEADERS),
        roster_row(20, "周一", s("2022-03-01")),
        roster_row(20, "周二", s("2025-06-01")),
    ];
    roster_case(rows, 3, "姓名", "两个姓名").await;
}

#[tokio::test]
async fn roster_error_missing_header_column() {
    let env = Env::new();
    let (db, before) = ledger_with_base(&env).await;
    let mut rows = base_roster();
    for r in &mut rows {
        r.remove(7); // no 银行账号 column
    }
    let file = env.book("nohdr.xlsx", &[("名册", rows)]);
    let r = roster(&db.store, std::slice::from_ref(&file)).await;
    assert!(r.refused);
    let p = errors(&r)[0];
    assert_eq!(p.row, Some(1));
    assert!(p.message.contains("缺少列：银行账号"), "{}", p.message);
    assert!(
        p.to_string()
            .starts_with(&format!("{}!名册 row 1: ", file.display())),
        "{p}"
    );
    assert_eq!(db.store.dump().await.unwrap(), before);
    assert_eq!(r.error_workbooks.len(), 1);
}

#[tokio::test]
async fn roster_error_not_a_workbook() {
    let env = Env::new();
    let (db, before) = ledger_with_base(&env).await;
    let file = env.path("notes.xlsx");
    std::fs::write(&file, "这不是工作簿").unwrap();
    let r = roster(&db.store, std::slice::from_ref(&file)).await;
    assert!(r.refused);
    assert!(r.problems[0]
        .to_string()
        .starts_with(&format!("{}: ", file.display())));
    assert!(r.problems[0].message.contains("不是可以读取的Excel工作簿"));
    assert_eq!(db.store.dump().await.unwrap(), before);
    let missing = roster(&db.store, &[env.path("nowhere.xlsx")]).await;
    assert!(missing.refused && missing.problems[0].message.contains("无法读取文件"));
}

/// Several changes files in one import: each is read while the one before is recorded, yet
/// each is checked against the ledger as the files before it left it, and the report keeps
/// the files' order, an unreadable file in the middle included.
#[tokio::test]
async fn several_changes_files_in_order_with_an_unreadable_one_between() {
    for db in common::backends().await {
        let env = Env::new();
        let base = env.book("base.xlsx", &[("名册", base_roster())]);
        assert!(!roster(&db.store, &[base]).await.refused);
        let first = env.book(
            "first.xlsx",
            &[(
                "变动",
                vec![
                    header(&CHANGE_HEADERS),
                    change_row(1, "王强", "调往区外", s("2023-05-20")),
                ],
            )],
        );
        let broken = env.path("broken.xlsx");
        std::fs::write(&broken, "这不是工作簿").unwrap();
        // The same row again, in the last file: a duplicate only if the first was recorded.
        let last = env.book(
            "last.xlsx",
            &[(
                "变动",
                vec![
                    header(&CHANGE_HEADERS),
                    change_row(1, "王强", "调往区外", s("2023-05-20")),
                ],
            )],
        );
        let files = [first, env.path("nowhere.xlsx"), broken, last];
        let r = changes(&db.store, &files, Reporter::Unit, false).await;
        assert!(r.refused);
        assert_eq!(r.lines.len(), 4, "{:?}", r.lines);
        for (line, file) in r.lines.iter().zip(&files) {
            assert!(line.starts_with(&file.display().to_string()), "{line}");
        }
        assert!(r.lines[0].contains("已登记1条变动"), "{:?}", r.lines);
        assert!(r.lines[1].contains("无法读取") && r.lines[2].contains("无法读取"));
        assert!(
            r.lines[3].contains("1条与已登记的变动相同"),
            "{:?}",
            r.lines
        );
        assert!(r
            .problems
            .iter()
            .any(|p| p.message.contains("无法读取文件")));
        assert!(r
            .problems
            .iter()
            .any(|p| p.message.contains("不是可以读取的Excel工作簿")));
        assert!(db
            .store
            .dump()
            .await
            .unwrap()
            .contains("|transferred_out|2023-05-20||live"));
    }
}

#[tokio::test]
async fn every_problem_of_a_file_in_one_pass() {
    let env = Env::new();
    let (db, before) = ledger_with_base(&env).await;
    let mut rows = with_row(11, "吴二", |r| {
        r[1] = C::N(1.0);
        r[5] = s("someday");
    });
    rows.push(roster_row(1, "王小强", s("2025-01-10")));
    let file = env.book("many.xlsx", &[("名册", rows)]);
    let r = roster(&db.store, std::slice::from_ref(&file)).await;
    let errs: Vec<(Option<u32>, Option<&str>)> = errors(&r)
        .iter()
        .map(|p| (p.row, p.column.as_deref()))
        .collect();
    assert_eq!(
        errs,
        [
            (Some(3), Some("身份证号码")),
            (Some(3), Some("批准日期")),
            (Some(4), Some("姓名"))
        ]
    );
    assert_eq!(db.store.dump().await.unwrap(), before);
}

#[tokio::test]
async fn changes_error_unknown_type() {
    changes_case(
        vec![change_row(1, "王强", "升职", s("2023-05-20"))],
        Reporter::Unit,
        2,
        "变动类型",
        "不是规定的类型",
    )
    .await;
}

#[tokio::test]
async fn changes_error_missing_type() {
    changes_case(
        vec![change_row(1, "王强", "", s("2023-05-20"))],
        Reporter::Unit,
        2,
        "变动类型",
        "为空",
    )
    .await;
}

#[tokio::test]
async fn changes_error_unreadable_date() {
    changes_case(
        vec![change_row(1, "王强", "退休", s("5月20日"))],
        Reporter::Unit,
        2,
        "生效日期",
        "不是可识别的日期",
    )
    .await;
}

#[tokio::test]
async fn changes_error_missing_date() {
    changes_case(
        vec![change_row(1, "王强", "退休", C::E)],
        Reporter::Unit,
        2,
        "生效日期",
        "为空",
    )
    .await;
}

#[tokio::test]
async fn changes_error_id_in_a_number_cell() {
    let mut row = change_row(1, "王强", "退休", s("2023-05-20"));
    row[1] = C::N(370303198001010011.0);
    changes_case(vec![row], Reporter::Unit, 2, "身份证号码", "数字格式").await;
}

#[tokio::test]
async fn changes_error_id_checksum() {
    let mut row = change_row(1, "王强", "退休", s("2023-05-20"));
    let mut bad = id(1);
    let last = if bad.ends_with('1') { '2' } else { '1' };
    bad.replace_range(17.., &last.to_string());
    row[1] = C::S(bad);
    changes_case(vec![row], Reporter::Unit, 2, "身份证号码", "校验码").await;
}

#[tokio::test]
async fn changes_error_end_date_on_another_type() {
    let mut row = change_row(1, "王强", "退休", s("2023-05-20"));
    row.push(s("2023-06-30"));
    changes_case(
        vec![row],
        Reporter::Unit,
        2,
        "结束日期",
        "只有“享受其他人才津贴”",
    )
    .await;
}

#[tokio::test]
async fn changes_error_end_before_start() {
    let mut row = change_row(1, "王强", "享受其他人才津贴", s("2023-05-20"));
    row.push(s("2023-01-01"));
    changes_case(vec![row], Reporter::Unit, 2, "结束日期", "早于生效日期").await;
}

#[tokio::test]
async fn changes_error_unit_change_without_new_unit() {
    changes_case(
        vec![change_row(1, "王强", "单位变更", s("2023-05-20"))],
        Reporter::Unit,
        2,
        "新单位",
        "应填写调入单位",
    )
    .await;
}

#[tokio::test]
async fn changes_error_new_unit_on_another_type() {
    let mut row = change_row(1, "王强", "退休", s("2023-05-20"));
    row.extend([C::E, s("张店区机械厂")]);
    changes_case(vec![row], Reporter::Unit, 2, "新单位", "只有“单位变更”").await;
}

#[tokio::test]
async fn changes_error_unknown_id_number() {
    changes_case(
        vec![change_row(77, "某人", "退休", s("2023-05-20"))],
        Reporter::Unit,
        2,
        "身份证号码",
        "不在名册中",
    )
    .await;
}

#[tokio::test]
async fn changes_error_name_differs_from_roster() {
    changes_case(
        vec![change_row(1, "王小强", "退休", s("2023-05-20"))],
        Reporter::Unit,
        2,
        "姓名",
        "不符",
    )
    .await;
}

#[tokio::test]
async fn changes_error_before_approval() {
    changes_case(
        vec![change_row(1, "王强", "退休", s("2021-01-01"))],
        Reporter::Unit,
        2,
        "生效日期",
        "早于称号批准日期",
    )
    .await;
}

#[tokio::test]
async fn changes_error_after_termination() {
    let rows = vec![
        change_row(1, "王强", "死亡", s("2023-01-10")),
        change_row(1, "王强", "退休", s("2023-05-20")),
    ];
    changes_case(rows, Reporter::Bureau, 3, "生效日期", "终止").await;
}

#[tokio::test]
async fn changes_error_restoration_from_a_unit() {
    changes_case(
        vec![change_row(1, "王强", "恢复待遇", s("2023-05-20"))],
        Reporter::Unit,
        2,
        "变动类型",
        "单位不能报告",
    )
    .await;
}

#[tokio::test]
async fn changes_error_nothing_to_restore() {
    changes_case(
        vec![change_row(1, "王强", "恢复待遇", s("2023-05-20"))],
        Reporter::Bureau,
        2,
        "生效日期",
        "没有停发中的待遇",
    )
    .await;
}

#[tokio::test]
async fn changes_error_unknown_title_number() {
    let mut row = change_row(1, "王强", "退休", s("2023-05-20"));
    row.extend([C::E, C::E, C::E, s("张政字〔2099〕1号")]);
    changes_case(
        vec![row],
        Reporter::Unit,
        2,
        "称号批准文号",
        "不是此人的称号批准文号",
    )
    .await;
}

#[tokio::test]
async fn changes_error_other_allowance_outside_terms() {
    let mut row = change_row(1, "王强", "享受其他人才津贴", s("2030-01-01"));
    row.push(s("2030-12-31"));
    changes_case(vec![row], Reporter::Unit, 2, "生效日期", "不重叠").await;
}

#[tokio::test]
async fn changes_error_missing_header() {
    let env = Env::new();
    let (db, before) = ledger_with_base(&env).await;
    let file = env.book(
        "c.xlsx",
        &[(
            "变动",
            vec![
                header(&["姓名", "身份证号码", "生效日期"]),
                change_row(1, "王强", "2023-05-20", C::E),
            ],
        )],
    );
    let r = changes(
        &db.store,
        std::slice::from_ref(&file),
        Reporter::Unit,
        false,
    )
    .await;
    assert!(r.refused);
    let p = errors(&r)[0];
    assert!(p.message.contains("缺少列：变动类型"), "{p}");
    assert!(
        p.to_string()
            .starts_with(&format!("{}!变动 row 1: ", file.display())),
        "{p}"
    );
    assert_eq!(db.store.dump().await.unwrap(), before);
}

#[tokio::test]
async fn changes_errors_on_postgres_too() {
    for db in common::backends().await {
        let env = Env::new();
        let base = env.book("base.xlsx", &[("名册", base_roster())]);
        assert!(!roster(&db.store, &[base]).await.refused);
        let before = db.store.dump().await.unwrap();
        let file = env.book(
            "c.xlsx",
            &[(
                "变动",
                vec![
                    header(&CHANGE_HEADERS),
                    change_row(1, "王强", "退休", s("2021-01-01")),
                    change_row(2, "李娜", "调往区外", C::N(45066.0)),
                ],
            )],
        );
        let r = changes(
            &db.store,
            std::slice::from_ref(&file),
            Reporter::Unit,
            false,
        )
        .await;
        assert_refused(&r, &file, "变动", 2, "生效日期", "早于称号批准日期").await;
        assert_eq!(db.store.dump().await.unwrap(), before, "{}", db.name);
    }
}

// ---------------------------------------------------------------------------------------------
// Templates

#[test]
fn templates_have_headers_notes_lists_and_text_columns() {
    let env = Env::new();
    for (kind, sheet, expected) in [
        (TemplateKind::Roster, "名册", &ROSTER_HEADERS[..]),
        (TemplateKind::Changes, "变动", &CHANGE_HEADERS[..]),
    ] {
        let path = env.path(&format!("{sheet}.xlsx"));
        write_template(kind, &path).unwrap();
        let mut wb = Workbook::open(&path).unwrap();
        let mut first = Vec::new();
        wb.for_each_row(sheet, |_, cells| {
            first = cells.iter().map(Value::display).collect();
            ControlFlow::Break(())
        })
        .unwrap();
        assert_eq!(first, expected);
        // The raw parts: notes, list and date validation, text format.
        let file = std::fs::File::open(&path).unwrap();
        let mut zip = zip::ZipArchive::new(file).unwrap();
        let mut xml = String::new();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            let mut text = String::new();
            if std::io::Read::read_to_string(&mut f, &mut text).is_ok() {
                xml.push_str(&text);
            }
        }
        assert!(xml.contains("<comments"), "notes on headers");
        assert!(xml.contains("type=\"date\""), "date validation");
        let styles_at = xml.find("<cellXfs").unwrap_or(0);
        assert!(
            xml.contains("numFmtId=\"49\"") || xml.contains("formatCode=\"@\""),
            "text-formatted columns: {}",
            &xml[styles_at..(styles_at + 600).min(xml.len())]
        );
        match kind {
            TemplateKind::Roster => {
                assert!(xml.contains("高级技师,技师"), "level list");
                assert_eq!(wb.sheet_names(), ["名册", "单位"]);
            }
            TemplateKind::Changes => {
                assert!(xml.contains("调往区外,不再从事技能或技术岗位"), "kind list")
            }
            // The selection round's templates: tests/selection_excel.rs.
            TemplateKind::Nominations | TemplateKind::Scores => unreachable!(),
        }
    }
}

/// Issue 11: every problem of a file in one pass: a row with a bad date whose person is not on
/// the roster reports both at once (not 不在名册中 only after the date was fixed).
#[tokio::test]
async fn a_bad_date_and_an_unknown_person_show_in_one_pass() {
    let db = common::sqlite().await;
    let env = Env::new();
    let r = roster(&db.store, &[env.book("r.xlsx", &[("名册", base_roster())])]).await;
    assert!(!r.refused, "{:?}", r.problems);
    // Person 9 is not on the roster; the date does not exist.
    let rows = vec![
        header(&CHANGE_HEADERS),
        change_row(9, "陌生人", "调往区外", s("2023-02-30")),
    ];
    let file = env.book("c.xlsx", &[("变动", rows)]);
    let r = changes(
        &db.store,
        std::slice::from_ref(&file),
        Reporter::Bureau,
        false,
    )
    .await;
    assert!(r.refused);
    let errs = errors(&r);
    let columns: Vec<&str> = errs.iter().filter_map(|p| p.column.as_deref()).collect();
    assert!(columns.contains(&"生效日期"), "{errs:#?}");
    assert!(
        errs.iter()
            .any(|p| p.column.as_deref() == Some("身份证号码") && p.message.contains("不在名册中")),
        "{errs:#?}"
    );
}
