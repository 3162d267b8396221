//! Issue 14, the selection round's workbooks: the nominating bodies' summary (推荐汇总), the
//! experts' scores (评审成绩) and the public notice lists (公示名单).
//!
//! - the nominations template round trip: the template's header, its example row and footer,
//!   rows filled in (the notice period in every accepted form, and as two date columns), read
//!   back field for field;
//! - bad rows (an ID number with a wrong check digit, a blank 主要业绩, a notice ending before
//!   it starts, a bad 得分, a duplicate score) each reported at its row and column, in Chinese;
//! - scores read to exact decimals;
//! - the notice lists: written, rendered to PDF by LibreOffice (`to_pdf`), their text checked
//!   with poppler, and no ID number anywhere in the xlsx or the PDF. Under CI=true a missing
//!   LibreOffice or poppler fails; elsewhere the rendering is skipped with a visible note. With
//!   CHIEFTECH_NOTICE_PNGS=DIR the pages of each list are also written there as PNGs.

#[path = "support/print.rs"]
mod print;

use chieftech::excel::nominations::{
    read_nominations, NOMINATIONS_SHEET, NOMINATION_COLUMNS, NOMINATION_TEMPLATE_COLUMNS,
};
use chieftech::excel::read::{CellProblem, Severity, Value, Workbook};
use chieftech::excel::scores::{read_scores, SCORES_SHEET, SCORE_COLUMNS};
use chieftech::excel::selection_notice::{to_pdf, write_notice, NoticeKind, NoticeList, NoticeRow};
use chieftech::excel::template::{write_template, TemplateKind};
use chieftech::input::NominationEntry;
use chieftech::rules::id_number::{luhn_ok, make_id};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_xlsxwriter::{Format, Workbook as XlsxBook};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

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

/// Writes a workbook of one or more sheets (rust_xlsxwriter, shared strings as Excel writes).
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
    let birth = date(1975, 3, 1) + chrono::Days::new(u64::from(n * 37 % 9000));
    make_id("370303", birth, n).as_str().to_string()
}

/// A 19-digit account passing the Luhn check.
fn account(n: u32) -> String {
    let body = format!("622848{n:012}");
    (0..10)
        .map(|c| format!("{body}{c}"))
        .find(|a| luhn_ok(a))
        .unwrap()
}

/// The header row of the nominations template, as the template writes it.
fn template_header(dir: &Path) -> Vec<String> {
    let path = dir.join("template-nominations.xlsx");
    write_template(TemplateKind::Nominations, &path).unwrap();
    let mut wb = Workbook::open(&path).unwrap();
    assert_eq!(wb.sheet_names(), [NOMINATIONS_SHEET]);
    let mut first = Vec::new();
    wb.for_each_row(NOMINATIONS_SHEET, |_, cells| {
        first = cells.iter().map(Value::display).collect();
        ControlFlow::Break(())
    })
    .unwrap();
    // The template as it is holds no data row.
    let r = read_nominations(&mut wb, "template-nominations.xlsx").unwrap();
    assert!(r.entries.is_empty() && r.rows == 0, "{:?}", r.problems);
    first
}

fn read_noms(path: &Path) -> chieftech::excel::nominations::NominationsRead {
    let mut wb = Workbook::open(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    read_nominations(&mut wb, &name).unwrap()
}

fn read_sc(path: &Path) -> chieftech::excel::scores::ScoresRead {
    let mut wb = Workbook::open(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    read_scores(&mut wb, &name).unwrap()
}

fn errors(problems: &[CellProblem]) -> Vec<&CellProblem> {
    problems.iter().filter(|p| p.is_error()).collect()
}

/// The one error at `row`, `column`; its message contains every one of `words`.
fn assert_error(problems: &[CellProblem], file: &str, row: u32, column: &str, words: &[&str]) {
    let at: Vec<&CellProblem> = problems
        .iter()
        .filter(|p| p.is_error() && p.row == Some(row) && p.column.as_deref() == Some(column))
        .collect();
    assert_eq!(at.len(), 1, "row {row} {column}: {problems:#?}");
    let p = at[0];
    for w in words {
        assert!(p.message.contains(w), "row {row} {column}: {}", p.message);
    }
    // Shown to the clerk with file, sheet, row and column.
    let shown = p.to_string();
    assert!(
        shown.starts_with(file) && shown.contains(&format!(" row {row}, column {column}: ")),
        "{shown}"
    );
    assert!(p.sheet.is_some(), "{shown}");
}

// ---------------------------------------------------------------------------------------------
// Nominations

/// One candidate's fields as a test fills them in.
struct Candidate {
    nominator: &'static str,
    name: &'static str,
    n: u32,
    unit: &'static str,
    occupation: &'static str,
    level: &'static str,
    certificate: &'static str,
    achievements: &'static str,
    phone: &'static str,
}

const CANDIDATES: [Candidate; 4] = [
    Candidate {
        nominator: "张店区马尚街道办事处",
        name: "王建国",
        n: 11,
        unit: "淄博某某机械制造有限公司",
        occupation: "数控车工",
        level: "高级技师",
        certificate: "1806000000301234",
        achievements: "主持数控机床改造项目，获2025年市级技术革新奖一等奖；带徒12名",
        phone: "13805331234",
    },
    Candidate {
        nominator: "张店区总工会",
        name: "李秀英",
        n: 12,
        unit: "淄博某某化工有限公司",
        occupation: "化工总控工",
        level: "技师",
        certificate: "2019-37-000123",
        achievements: "解决反应釜温控难题，年节约成本80万元",
        phone: "0533-2181234",
    },
    Candidate {
        nominator: "张店区科技工业园管理委员会",
        name: "赵志强",
        n: 13,
        unit: "山东某某电力设备股份有限公司淄博分公司",
        occupation: "电工",
        level: "特级技师",
        certificate: "S000037030000123",
        achievements: "获全国技术能手称号",
        phone: "13953301234",
    },
    Candidate {
        nominator: "张店区和平街道办事处",
        name: "欧阳晓雯",
        n: 14,
        unit: "淄博某某陶瓷有限公司",
        occupation: "陶瓷工艺师",
        level: "首席技师",
        certificate: "37000012345",
        achievements: "省级非遗传承项目骨干",
        phone: "15006431234",
    },
];

/// The cells of a nomination row in the template's column order.
fn nomination_cells(c: &Candidate, period: C, received: C, bank: bool, email: C) -> Vec<C> {
    vec![
        s(c.nominator),
        s(c.name),
        C::S(id(c.n)),
        s(c.unit),
        s(c.occupation),
        s(c.level),
        s(c.certificate),
        s(c.achievements),
        s(c.phone),
        period,
        received,
        if bank {
            s("中国工商银行淄博张店支行")
        } else {
            C::E
        },
        if bank { C::S(account(c.n)) } else { C::E },
        email,
    ]
}

fn expected(c: &Candidate, from: NaiveDate, to: NaiveDate) -> NominationEntry {
    NominationEntry {
        nominator: c.nominator.into(),
        name: c.name.into(),
        id_number: chieftech::rules::IdNumber::parse(&id(c.n)).unwrap(),
        unit: c.unit.into(),
        occupation: c.occupation.into(),
        level: c.level.into(),
        certificate_no: c.certificate.into(),
        achievements: c.achievements.into(),
        phone: c.phone.into(),
        notice_from: from,
        notice_to: to,
        received: None,
        bank_name: None,
        bank_account: None,
        email: None,
        row: None,
    }
}

#[test]
fn nominations_template_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let header = template_header(tmp.path());
    let names: Vec<&str> = NOMINATION_COLUMNS[..NOMINATION_TEMPLATE_COLUMNS]
        .iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(header, names);

    // Every accepted form of 推荐公示起止日期, each on a row; all mean 4月10日 to 4月16日.
    let forms = [
        "2026-04-10至2026-04-16",
        "2026.4.10-2026.4.16",
        "2026/4/10~2026/4/16",
        "2026/4/10～2026/4/16",
        "2026年4月10日至2026年4月16日",
        "2026年4月10日至4月16日",
        "2026-04-10到2026-04-16",
        "2026.4.10—2026.4.16",
        "2026.04.10–2026.04.16",
        "2026年4月10日-4月16日",
    ];
    // 报送日期 as a date cell, as text in several forms, as a bare serial, or blank.
    let received = [
        (C::D(date(2026, 4, 20)), Some(date(2026, 4, 20))),
        (s("2026/4/21"), Some(date(2026, 4, 21))),
        (s("2026年4月22日"), Some(date(2026, 4, 22))),
        (s("2026.04.23"), Some(date(2026, 4, 23))),
        (C::N(46135.0), Some(date(2026, 4, 23))),
        (C::E, None),
    ];
    // As a unit fills the template: a title above, the header, the example row, rows, the
    // footer and the instructions.
    let mut rows = vec![
        vec![s("张店区首席技师推荐人选汇总表")],
        header.iter().map(|h| s(h)).collect::<Vec<C>>(),
        {
            let mut ex = vec![s("示例：张店区某某街道办事处"), s("张三")];
            ex.push(s("370303199001011234"));
            ex
        },
    ];
    let mut want = Vec::new();
    for (i, form) in forms.iter().enumerate() {
        let c = &CANDIDATES[i % CANDIDATES.len()];
        let (rc, rv) = received[i % received.len()].clone();
        let bank = i % 2 == 0;
        let email = if i % 3 == 0 {
            s(&format!("worker{i}@example.com"))
        } else {
            C::E
        };
        rows.push(nomination_cells(c, s(form), rc, bank, email));
        let mut e = expected(c, date(2026, 4, 10), date(2026, 4, 16));
        e.received = rv;
        if bank {
            e.bank_name = Some("中国工商银行淄博张店支行".into());
            e.bank_account = Some(account(c.n));
        }
        if i % 3 == 0 {
            e.email = Some(format!("worker{i}@example.com"));
        }
        e.row = Some(rows.len() as u32);
        want.push(e);
    }
    rows.push(vec![]);
    rows.push(vec![
        s("填报单位（盖章）："),
        C::E,
        C::E,
        s("填报人："),
        C::E,
        s("联系电话："),
    ]);
    rows.push(vec![s("填表说明：")]);
    rows.push(vec![s("1．每行填写一名推荐人选。")]);
    let path = tmp.path().join("推荐汇总-马尚街道.xlsx");
    write_book(&path, &[(NOMINATIONS_SHEET, rows)]);
    let r = read_noms(&path);
    assert!(r.problems.is_empty(), "{:#?}", r.problems);
    assert_eq!(r.rows, forms.len() as u64);
    assert_eq!(r.entries.len(), want.len());
    for (got, want) in r.entries.iter().zip(&want) {
        assert_eq!(got, want);
    }
    let layout = r.layout.unwrap();
    assert_eq!(layout.sheet, NOMINATIONS_SHEET);
    assert_eq!(layout.header.unwrap().row, 2);

    // The two-column form, with the headers' aliases and in another order, on a sheet of
    // another name (the first sheet is read).
    let rows = vec![
        [
            "序号",
            "姓名",
            "身份证号",
            "单位",
            "工种",
            "职业资格等级",
            "职业资格证书编号",
            "主要业绩",
            "联系电话",
            "推荐单位",
            "推荐公示开始日期",
            "推荐公示结束日期",
            "银行卡号",
            "开户行",
        ]
        .iter()
        .map(|h| s(h))
        .collect(),
        {
            let c = &CANDIDATES[2];
            vec![
                C::N(1.0),
                s(c.name),
                C::S(id(c.n)),
                s(c.unit),
                s(c.occupation),
                s(c.level),
                s(c.certificate),
                s(c.achievements),
                s(c.phone),
                s(c.nominator),
                C::D(date(2026, 3, 30)),
                s("2026年4月3日"),
                C::E,
                C::E,
            ]
        },
    ];
    let path = tmp.path().join("two-columns.xlsx");
    write_book(&path, &[("Sheet1", rows)]);
    let r = read_noms(&path);
    assert!(r.problems.is_empty(), "{:#?}", r.problems);
    let mut e = expected(&CANDIDATES[2], date(2026, 3, 30), date(2026, 4, 3));
    e.row = Some(2);
    assert_eq!(r.entries, vec![e]);
}

#[test]
fn template_kinds_have_notes_lists_and_text_columns() {
    let tmp = tempfile::tempdir().unwrap();
    for (kind, sheet, headers) in [
        (
            TemplateKind::Nominations,
            NOMINATIONS_SHEET,
            NOMINATION_COLUMNS[..NOMINATION_TEMPLATE_COLUMNS].to_vec(),
        ),
        (TemplateKind::Scores, SCORES_SHEET, SCORE_COLUMNS.to_vec()),
    ] {
        let path = tmp.path().join(format!("{sheet}.xlsx"));
        write_template(kind, &path).unwrap();
        let mut wb = Workbook::open(&path).unwrap();
        assert_eq!(wb.sheet_names(), [sheet]);
        let mut first = Vec::new();
        wb.for_each_row(sheet, |_, cells| {
            first = cells.iter().map(Value::display).collect();
            ControlFlow::Break(())
        })
        .unwrap();
        let names: Vec<&str> = headers.iter().map(|c| c.name).collect();
        assert_eq!(first, names);
        let xml = zip_text(&path);
        assert!(xml.contains("<comments"), "{sheet}: notes on headers");
        assert!(
            xml.contains("numFmtId=\"49\"") || xml.contains("formatCode=\"@\""),
            "{sheet}: text-formatted columns"
        );
        if kind == TemplateKind::Nominations {
            assert!(
                xml.contains("技师,高级技师,特级技师,首席技师"),
                "level list"
            );
            assert!(xml.contains("type=\"date\""), "date validation on 报送日期");
            assert!(xml.contains("2026-04-10至2026-04-16"), "the period's form");
        } else {
            assert!(xml.contains("type=\"decimal\""), "score validation");
        }
        let scores = read_sc(&path);
        if kind == TemplateKind::Scores {
            assert!(scores.entries.is_empty() && scores.rows == 0);
        }
    }
}

fn zip_text(path: &Path) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut xml = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut text = String::new();
        if std::io::Read::read_to_string(&mut f, &mut text).is_ok() {
            xml.push_str(&text);
        }
    }
    xml
}

#[test]
fn bad_nomination_rows_are_reported_at_their_cells() {
    let tmp = tempfile::tempdir().unwrap();
    let header: Vec<C> = NOMINATION_COLUMNS[..NOMINATION_TEMPLATE_COLUMNS]
        .iter()
        .map(|c| s(c.name))
        .collect();
    let good = |c: &Candidate| nomination_cells(c, s("2026-04-10至2026-04-16"), C::E, false, C::E);
    // Row 2: good. Row 3: the ID number's check digit is wrong.
    let mut bad_id = good(&CANDIDATES[1]);
    let valid = id(CANDIDATES[1].n);
    let last = valid.chars().last().unwrap();
    let wrong = if last == '0' { '1' } else { '0' };
    let bad_id_number = format!("{}{wrong}", &valid[..17]);
    bad_id[2] = C::S(bad_id_number.clone());
    // Row 4: 主要业绩 blank.
    let mut no_achievements = good(&CANDIDATES[2]);
    no_achievements[7] = C::E;
    // Row 5: the notice ends before it starts.
    let mut backwards = good(&CANDIDATES[3]);
    backwards[9] = s("2026年4月16日至4月10日");
    // Row 6: not a range; row 7: a single date cell; row 8: the ID number as a number cell;
    // row 9: a bad account and e-mail; row 10: an account failing Luhn (a warning only).
    let mut unreadable = good(&CANDIDATES[0]);
    unreadable[9] = s("4月10日至16日");
    let mut single = good(&CANDIDATES[0]);
    single[9] = C::D(date(2026, 4, 10));
    let mut number_id = good(&CANDIDATES[0]);
    number_id[2] = C::N(370303197503010117.0);
    let mut bad_bank = good(&CANDIDATES[0]);
    bad_bank[12] = s("6222-02");
    bad_bank[13] = s("wang@");
    let mut passbook = good(&CANDIDATES[0]);
    passbook[11] = s("淄博农村商业银行");
    let luhn_ok_account = account(5);
    let last_digit = luhn_ok_account
        .chars()
        .last()
        .unwrap()
        .to_digit(10)
        .unwrap();
    let failing = format!("{}{}", &luhn_ok_account[..18], (last_digit + 1) % 10);
    assert!(!luhn_ok(&failing));
    passbook[12] = C::S(failing);
    let rows = vec![
        header,
        good(&CANDIDATES[0]),
        bad_id,
        no_achievements,
        backwards,
        unreadable,
        single,
        number_id,
        bad_bank,
        passbook,
    ];
    let file = "推荐汇总-有误.xlsx";
    let path = tmp.path().join(file);
    write_book(&path, &[(NOMINATIONS_SHEET, rows)]);
    let r = read_noms(&path);
    assert_eq!(r.rows, 9);
    let got_rows: Vec<Option<u32>> = r.entries.iter().map(|e| e.row).collect();
    assert_eq!(got_rows, [Some(2), Some(10)], "{:#?}", r.problems);
    let p = &r.problems;
    assert_error(
        p,
        file,
        3,
        "身份证号码",
        &["身份证号码", &bad_id_number, "有误"],
    );
    assert_error(p, file, 4, "主要业绩", &["“主要业绩”为空", "必须填写"]);
    assert_error(
        p,
        file,
        5,
        "推荐公示起止日期",
        &["结束日期2026-04-10早于开始日期2026-04-16", "应先写开始日期"],
    );
    assert_error(
        p,
        file,
        6,
        "推荐公示起止日期",
        &["不是可识别的起止日期", "2026-04-10至2026-04-16"],
    );
    assert_error(
        p,
        file,
        7,
        "推荐公示起止日期",
        &["只有一个日期", "开始和结束"],
    );
    assert_error(p, file, 8, "身份证号码", &["数字格式", "15位有效数字"]);
    assert_error(p, file, 9, "银行账号", &["8到30位数字"]);
    assert_error(p, file, 9, "电子邮箱", &["格式不正确"]);
    let warnings: Vec<&CellProblem> = p
        .iter()
        .filter(|p| p.severity == Severity::Warning)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!(warnings[0].row, Some(10));
    assert!(warnings[0].message.contains("Luhn"));
    assert_eq!(errors(p).len(), 8, "{p:#?}");

    // The two-column form: the end before the start; both forms on one row; one day missing.
    let mut h: Vec<C> = NOMINATION_COLUMNS[..NOMINATION_TEMPLATE_COLUMNS]
        .iter()
        .map(|c| s(c.name))
        .collect();
    h.push(s("推荐公示开始日期"));
    h.push(s("推荐公示结束日期"));
    let with = |period: C, from: C, to: C| {
        let mut v = nomination_cells(&CANDIDATES[0], period, C::E, false, C::E);
        v.push(from);
        v.push(to);
        v
    };
    let rows = vec![
        h,
        with(C::E, C::D(date(2026, 4, 16)), C::D(date(2026, 4, 10))),
        with(s("2026-04-10至2026-04-16"), C::D(date(2026, 4, 10)), C::E),
        with(C::E, C::D(date(2026, 4, 10)), C::E),
        with(C::E, C::E, C::E),
        with(C::E, s("2026/4/10"), s("2026年4月16日")),
    ];
    let file = "两列.xlsx";
    let path = tmp.path().join(file);
    write_book(&path, &[(NOMINATIONS_SHEET, rows)]);
    let r = read_noms(&path);
    let p = &r.problems;
    assert_error(p, file, 2, "推荐公示结束日期", &["早于开始日期"]);
    assert_error(p, file, 3, "推荐公示起止日期", &["只能选一种"]);
    assert_error(p, file, 4, "推荐公示结束日期", &["为空"]);
    assert_error(p, file, 5, "推荐公示起止日期", &["为空"]);
    assert_eq!(errors(p).len(), 4, "{p:#?}");
    assert_eq!(r.entries.len(), 1);
    assert_eq!(
        (r.entries[0].notice_from, r.entries[0].notice_to),
        (date(2026, 4, 10), date(2026, 4, 16))
    );

    // A header without any notice column: one problem for the sheet.
    let rows = vec![
        NOMINATION_COLUMNS[..9].iter().map(|c| s(c.name)).collect(),
        nomination_cells(&CANDIDATES[0], C::E, C::E, false, C::E)[..9].to_vec(),
    ];
    let path = tmp.path().join("no-period.xlsx");
    write_book(&path, &[(NOMINATIONS_SHEET, rows)]);
    let r = read_noms(&path);
    assert!(r.entries.is_empty());
    let e = errors(&r.problems);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].message.contains("表头缺少列：推荐公示起止日期"),
        "{}",
        e[0]
    );
    assert_eq!(e[0].row, Some(1));
}

#[test]
fn odd_workbooks_do_not_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let cells = [
        C::E,
        s(""),
        s("   "),
        s("#N/A"),
        C::N(f64::MAX),
        C::N(-1.0),
        C::N(1e20),
        C::D(date(1900, 1, 1)),
        s("至"),
        s("——"),
        s("2026年13月40日至2026年2月30日"),
        s(&"9".repeat(5000)),
        s("１２３"),
        s("=1+1"),
    ];
    for (n, width) in [(0, 1), (1, 4), (2, 14), (3, 16), (4, 30)] {
        let mut rows = vec![];
        if n != 0 {
            let mut h: Vec<C> = NOMINATION_COLUMNS.iter().map(|c| s(c.name)).collect();
            h.extend(SCORE_COLUMNS.iter().map(|c| s(c.name)));
            h.truncate(width);
            rows.push(h);
        }
        for r in 0..40 {
            rows.push(
                (0..width)
                    .map(|c| cells[(r * 7 + c * 3 + n) % cells.len()].clone())
                    .collect(),
            );
        }
        let path = tmp.path().join(format!("odd{n}.xlsx"));
        write_book(&path, &[("x", rows)]);
        let a = read_noms(&path);
        let b = read_sc(&path);
        assert!(a.has_errors() || a.rows == 0 || !a.entries.is_empty());
        assert!(b.has_errors() || b.rows == 0 || !b.entries.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Scores

#[test]
fn scores_are_read_to_exact_decimals() {
    let tmp = tempfile::tempdir().unwrap();
    let header = vec![s("姓名"), s("身份证号码"), s("专家"), s("得分")];
    let row =
        |name: &str, n: u32, expert: &str, score: C| vec![s(name), C::S(id(n)), s(expert), score];
    let rows = vec![
        vec![s("2026年度首席技师评审成绩")],
        header,
        row("王建国", 11, "专家甲", C::N(87.5)),
        row("王建国", 11, "专家乙", s("88.25")),
        row("王建国", 11, "专家丙", C::N(85.1 + 2.2)),
        row("李秀英", 12, "专家甲", C::N(90.0)),
        row("李秀英", 12, "专家乙", s("１００")),
        row("李秀英", 12, "专家丙", C::N(0.0)),
        row("赵志强", 13, "专家甲", C::N(79.99)),
        row("赵志强", 13, "专家乙", s(" 80.10 ")),
    ];
    let path = tmp.path().join("评审成绩.xlsx");
    write_book(&path, &[(SCORES_SHEET, rows)]);
    let r = read_sc(&path);
    assert!(r.problems.is_empty(), "{:#?}", r.problems);
    let got: Vec<(String, String, u32)> = r
        .entries
        .iter()
        .map(|e| (e.expert.clone(), e.score.to_string(), e.row.unwrap()))
        .collect();
    let want = [
        ("专家甲", "87.5"),
        ("专家乙", "88.25"),
        ("专家丙", "87.3"),
        ("专家甲", "90"),
        ("专家乙", "100"),
        ("专家丙", "0"),
        ("专家甲", "79.99"),
        ("专家乙", "80.1"),
    ];
    assert_eq!(got.len(), want.len());
    for (i, ((expert, score, row), (we, ws))) in got.iter().zip(want).enumerate() {
        assert_eq!((expert.as_str(), score.as_str()), (we, ws));
        assert_eq!(*row, i as u32 + 3);
    }
    assert_eq!(r.entries[0].score, Decimal::from_str("87.5").unwrap());
    assert_eq!(r.entries[0].name, "王建国");
    assert_eq!(r.entries[0].id_number.as_str(), id(11));
    let sum: Decimal = r.entries.iter().map(|e| e.score).sum();
    assert_eq!(sum, Decimal::from_str("613.14").unwrap());
}

#[test]
fn bad_scores_are_reported_at_their_cells() {
    let tmp = tempfile::tempdir().unwrap();
    let header: Vec<C> = SCORE_COLUMNS.iter().map(|c| s(c.name)).collect();
    let row = |n: u32, expert: &str, score: C| vec![s("王建国"), C::S(id(n)), s(expert), score];
    let rows = vec![
        header,
        row(11, "专家甲", C::N(87.5)),
        row(11, "专家乙", C::N(101.0)),
        row(11, "专家丙", s("八十")),
        row(11, "专家丁", C::N(87.555)),
        row(11, "专家戊", C::N(-3.0)),
        row(11, "专家己", C::E),
        row(11, " 专家甲 ", s("88")),
        row(12, "专家甲", s("88")),
    ];
    let file = "评审成绩-有误.xlsx";
    let path = tmp.path().join(file);
    write_book(&path, &[(SCORES_SHEET, rows)]);
    let r = read_sc(&path);
    let p = &r.problems;
    let expected = "得分应为0至100之间的数，最多两位小数";
    assert_error(p, file, 3, "得分", &["“101”", expected]);
    assert_error(p, file, 4, "得分", &["“八十”", expected]);
    assert_error(p, file, 5, "得分", &["87.555", expected]);
    assert_error(p, file, 6, "得分", &["-3", expected]);
    assert_error(p, file, 7, "得分", &["为空"]);
    assert_error(p, file, 8, "评审专家", &["第2行已填写", "只填一行"]);
    assert_eq!(errors(p).len(), 6, "{p:#?}");
    let rows: Vec<u32> = r.entries.iter().map(|e| e.row.unwrap()).collect();
    assert_eq!(rows, [2, 9]);
}

// ---------------------------------------------------------------------------------------------
// Notice lists

fn notice(kind: NoticeKind, rows: Vec<NoticeRow>) -> NoticeList {
    NoticeList {
        kind,
        year: 2026,
        program: "张店区首席技师".into(),
        organization: "张店区人力资源和社会保障局".into(),
        // Five working days (Saturday 9 May is a make-up working day).
        period: (date(2026, 5, 6), date(2026, 5, 11)),
        contact: "张店区人力资源和社会保障局人才开发科，王某某，电话0533-2181234".into(),
        published: date(2026, 5, 6),
        rows,
    }
}

fn notice_rows() -> Vec<NoticeRow> {
    let mut v: Vec<NoticeRow> = CANDIDATES
        .iter()
        .map(|c| NoticeRow {
            name: c.name.into(),
            unit: c.unit.into(),
            occupation: c.occupation.into(),
            level: c.level.into(),
            nominator: c.nominator.into(),
        })
        .collect();
    v.push(NoticeRow {
        name: "孙丽".into(),
        unit: "国网山东省电力公司淄博供电公司张店区供电中心配电运维班".into(),
        occupation: "配电线路工".into(),
        level: "高级技师".into(),
        nominator: "国网山东省电力公司淄博供电公司".into(),
    });
    v
}

/// Every cell's text of every sheet of an .xlsx, read back with calamine.
fn all_cells(path: &Path) -> Vec<String> {
    use calamine::{open_workbook, Reader, Xlsx};
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let mut out = Vec::new();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).unwrap();
        for (_, _, cell) in range.used_cells() {
            out.push(cell.to_string());
        }
    }
    out
}

/// Whether a text holds 17 digits and a digit or X in a row (an ID number's shape).
fn id_like(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    for i in 0..chars.len() {
        if i + 18 <= chars.len()
            && chars[i..i + 17].iter().all(char::is_ascii_digit)
            && (chars[i + 17].is_ascii_digit() || chars[i + 17] == 'X' || chars[i + 17] == 'x')
        {
            return Some(chars[i..i + 18].iter().collect());
        }
    }
    None
}

fn assert_no_id_numbers(what: &str, text: &str) {
    assert_eq!(id_like(text), None, "{what}: an ID-like number");
    for c in &CANDIDATES {
        assert!(!text.contains(&id(c.n)), "{what}: {}'s ID number", c.name);
        assert!(
            !text.contains(&id(c.n)[..14]),
            "{what}: part of {}'s ID number",
            c.name
        );
    }
}

#[test]
fn notice_lists_are_written_printed_and_hold_no_id_number() {
    let tmp = tempfile::tempdir().unwrap();
    let pngs = std::env::var_os("CHIEFTECH_NOTICE_PNGS").map(PathBuf::from);
    let mut long = notice_rows();
    for i in 0..45 {
        let c = &CANDIDATES[i % CANDIDATES.len()];
        long.push(NoticeRow {
            name: format!("{}{}", &c.name[..3], ["一", "二", "三", "四", "五"][i % 5]),
            unit: c.unit.into(),
            occupation: c.occupation.into(),
            level: c.level.into(),
            nominator: c.nominator.into(),
        });
    }
    let cases = [
        (
            "推荐人选公示名单",
            notice(NoticeKind::Nominated, notice_rows()),
            "推荐人选公示名单",
        ),
        (
            "建议人选公示名单",
            notice(NoticeKind::Proposed, notice_rows()),
            "建议人选公示名单",
        ),
        (
            "推荐人选公示名单-多页",
            notice(NoticeKind::Nominated, long),
            "推荐人选公示名单",
        ),
    ];
    let mut printed = 0;
    for (stem, list, title_end) in &cases {
        let path = tmp.path().join("out").join(format!("{stem}.xlsx"));
        write_notice(&path, list).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "a public list is readable by all");
        }
        // The workbook: one sheet, the title, every name, the period; no ID number.
        let mut wb = Workbook::open(&path).unwrap();
        assert_eq!(wb.sheet_names(), ["公示名单"]);
        let cells = all_cells(&path);
        let text = cells.join("\n");
        assert!(
            text.contains(&format!("2026年度张店区首席技师{title_end}")),
            "{text}"
        );
        assert!(text.contains("公示期：2026年5月6日至2026年5月11日（5个工作日）。公示期间，对公示人选有异议的，请以书面形式实名向张店区人力资源和社会保障局反映。"), "{text}");
        assert!(
            text.contains("联系方式：张店区人力资源和社会保障局人才开发科"),
            "{text}"
        );
        assert!(cells.iter().any(|c| c == "2026年5月6日"), "{text}");
        for r in &list.rows {
            assert!(cells.contains(&r.name), "{}", r.name);
            assert!(cells.contains(&r.unit), "{}", r.unit);
        }
        let header: Vec<String> = {
            let mut h = Vec::new();
            wb.for_each_row("公示名单", |row, cells| {
                if row == 3 {
                    // Headers may be broken over two lines (职业\n（工种）).
                    h = cells
                        .iter()
                        .map(|v| v.display().replace('\n', ""))
                        .collect();
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            })
            .unwrap();
            h
        };
        let mut want = vec!["序号", "姓名", "工作单位", "职业（工种）", "职业资格等级"];
        if list.kind == NoticeKind::Nominated {
            want.push("推荐单位");
            assert!(text.contains("经单位推荐"));
        } else {
            assert!(!cells.iter().any(|c| c == "推荐单位"));
            assert!(text.contains("经单位推荐、资格审核和专家评审"));
        }
        assert_eq!(header, want);
        assert!(!text.contains("身份证"), "no ID column");
        assert_no_id_numbers(stem, &text);
        let xml = zip_text(&path);
        assert_no_id_numbers(&format!("{stem} (xml)"), &xml);
        assert!(xml.contains("paperSize=\"9\""), "A4");
        assert!(
            xml.contains("<pageSetUpPr fitToPage=\"1\"/>"),
            "fitted to the width"
        );
        assert!(
            xml.contains("fitToHeight=\"0\""),
            "fitted to the width only"
        );
        assert!(
            xml.contains("_xlnm.Print_Titles"),
            "the header repeats on each page"
        );

        // Printed by LibreOffice.
        if !print::tools_present() {
            continue;
        }
        let pdf = to_pdf(&path).unwrap().expect("soffice is installed");
        assert_eq!(pdf, path.with_extension("pdf"));
        if let Some(dir) = &pngs {
            std::fs::create_dir_all(dir).unwrap();
            let ok = Command::new("pdftoppm")
                .args(["-png", "-r", "80"])
                .arg(&pdf)
                .arg(dir.join(stem))
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "pdftoppm");
        }
        let p = print::read_pdf(&pdf);
        let (w, h) = p.size;
        let portrait = (w - 595.3).abs() < 2.0 && (h - 841.9).abs() < 2.0;
        let landscape = (w - 841.9).abs() < 2.0 && (h - 595.3).abs() < 2.0;
        assert!(portrait || landscape, "{stem}: not A4: {w} × {h}");
        if list.kind == NoticeKind::Proposed {
            assert!(portrait, "{stem}: five columns fit A4 portrait");
        }
        let all = p.all_text();
        let flat: String = all.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(
            flat.contains(&format!("2026年度张店区首席技师{title_end}")),
            "{all}"
        );
        assert!(
            flat.contains("公示期：2026年5月6日至2026年5月11日（5个工作日）"),
            "{all}"
        );
        assert!(flat.contains("张店区人力资源和社会保障局反映"), "{all}");
        for r in &list.rows {
            assert!(flat.contains(&r.name), "{stem}: {} not printed", r.name);
        }
        // The long unit wraps and is printed whole, not clipped (in the content's order, a
        // cell's lines follow each other).
        let raw = Command::new("pdftotext")
            .arg("-raw")
            .arg(&pdf)
            .arg("-")
            .output()
            .unwrap();
        let raw: String = String::from_utf8_lossy(&raw.stdout)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        assert!(
            raw.contains("国网山东省电力公司淄博供电公司张店区供电中心配电运维班"),
            "{raw}"
        );
        assert_no_id_numbers(&format!("{stem} (pdf)"), &all);
        // At a readable scale: the header (11 pt, bold) as wide as 11 pt characters, nearly.
        let scale = p.assert_scale(stem, "工作单位", 11.0);
        eprintln!(
            "{stem}: {} page(s), {}, scale {:.0} %",
            p.pages,
            if portrait { "portrait" } else { "landscape" },
            scale * 100.0
        );
        // Every page has the table's header; the closing lines are on the last page, together.
        for (i, t) in p.text.iter().enumerate() {
            assert!(
                t.contains("工作单位"),
                "{stem}: page {} has no header",
                i + 1
            );
        }
        let last = p.text.last().unwrap();
        let last_flat: String = last.chars().filter(|c| !c.is_whitespace()).collect();
        for want in ["公示期", "联系方式", "2026年5月6日"] {
            assert!(
                last_flat.contains(want),
                "{stem}: {want} not on the last page"
            );
        }
        if stem.ends_with("多页") {
            assert!(p.pages >= 2, "{stem}: {} pages", p.pages);
        } else {
            assert_eq!(p.pages, 1, "{stem}");
        }
        printed += 1;
    }
    if printed == 0 {
        eprintln!("\n*** NOTE: the notice lists were written but not printed: LibreOffice or poppler is not installed ***\n");
    }
}

#[test]
fn to_pdf_names_a_failing_conversion() {
    if print::tool("soffice") {
        // A file that is not there: LibreOffice prints nothing.
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("missing.xlsx");
        let e = to_pdf(&path).unwrap_err();
        assert!(e.to_string().contains("missing.xlsx"), "{e}");
    } else {
        eprintln!("\n*** NOTE: to_pdf without LibreOffice answers None ***\n");
        let tmp = tempfile::tempdir().unwrap();
        assert!(to_pdf(&tmp.path().join("x.xlsx")).unwrap().is_none());
    }
}
