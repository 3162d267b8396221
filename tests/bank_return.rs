//! The bank's return file (回盘) reader: .xlsx and text (GBK, UTF-8 with BOM) return files made
//! at test time, title and trailer lines, every row problem, wrong encodings, missing and
//! duplicated headers. No .xls writer is at hand, so no .xls return file is made: the .xls path
//! is exercised with a committed BIFF8 fixture (a roster) read through a layout naming its
//! columns.

use chieftech::excel::bank::BankTemplate;
use chieftech::excel::bank_return::{
    amount_fen, date_text, read_return_file, ReturnError, ReturnFile, ReturnLayout,
};
use chieftech::excel::read::InputLimits;
use chrono::NaiveDate;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use std::path::{Path, PathBuf};

fn template(name: &str) -> BankTemplate {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/banks")
        .join(name);
    BankTemplate::load(&path).unwrap()
}

/// The example text bank's layout: GBK, `|`, H/T records, keyed by batch and 序号.
fn text_layout() -> ReturnLayout {
    template("example-text-bank.toml").return_layout()
}

fn utf8_layout() -> ReturnLayout {
    let mut l = text_layout();
    l.encoding = template("example-text-bank.toml")
        .return_layout()
        .encoding
        .map(|e| e.other());
    l
}

/// A cell of a test workbook.
enum C<'a> {
    S(&'a str),
    N(f64),
    D(NaiveDate),
    E,
}

fn write_xlsx(path: &Path, rows: &[Vec<C>]) {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell {
                C::S(s) => {
                    ws.write_string(r, c, *s).unwrap();
                }
                C::N(n) => {
                    ws.write_number(r, c, *n).unwrap();
                }
                C::D(d) => {
                    let dt = ExcelDateTime::from_ymd(
                        d.year_ce().1 as u16,
                        d.month0() as u8 + 1,
                        d.day0() as u8 + 1,
                    )
                    .unwrap();
                    ws.write_datetime_with_format(r, c, &dt, &date).unwrap();
                }
                C::E => {}
            }
        }
    }
    wb.save(path).unwrap();
}

use chrono::Datelike;

fn write_gbk(path: &Path, text: &str) {
    let (bytes, _, had_errors) = encoding_rs::GBK.encode(text);
    assert!(!had_errors);
    std::fs::write(path, bytes).unwrap();
}

fn read(path: &Path, layout: &ReturnLayout) -> Result<ReturnFile, ReturnError> {
    read_return_file(path, layout, &InputLimits::default())
}

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn file(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[test]
fn xlsx_return_file_with_title_and_totals_rows() {
    use C::*;
    let d = dir();
    let path = file(&d, "回盘.xlsx");
    let header = [
        "序号",
        "姓名",
        "身份证号码",
        "银行账号",
        "开户行",
        "金额（元）",
        "用途",
        "状态",
        "失败原因",
    ];
    write_xlsx(
        &path,
        &[
            vec![S("代发回盘文件")],
            vec![S("批次号：CT-2025-R1-P1")],
            header.iter().map(|h| S(h)).collect(),
            vec![
                N(1.0),
                S("张三"),
                S("370303198001011234"),
                S("6222021603000012345"),
                S("工行"),
                N(1500.0),
                S("津贴"),
                S("成功"),
                E,
            ],
            vec![
                S("2"),
                S("李娜"),
                S("37030319850202234x"),
                S("6222021603000023456"),
                S("工行"),
                S("2,000.50"),
                S("津贴"),
                S("交易失败"),
                S("账户已销户"),
            ],
            vec![],
            vec![S("合计"), E, E, E, E, N(3500.5)],
        ],
    );
    let layout = BankTemplate::builtin().return_layout();
    let f = read(&path, &layout).unwrap();
    assert_eq!(f.file, "回盘.xlsx");
    assert_eq!(f.sheet.as_deref(), Some("Sheet1"));
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    assert_eq!(f.rows.len(), 2);
    let (a, b) = (&f.rows[0], &f.rows[1]);
    assert_eq!(
        (a.row, a.row_no, a.fen, a.paid),
        (4, Some(1), 150_000, true)
    );
    assert_eq!(a.id_number.as_deref(), Some("370303198001011234"));
    assert_eq!(a.account.as_deref(), Some("6222021603000012345"));
    assert_eq!((a.status.as_str(), a.reason.as_deref()), ("成功", None));
    assert_eq!(
        (b.row, b.row_no, b.fen, b.paid),
        (5, Some(2), 200_050, false)
    );
    assert_eq!(b.id_number.as_deref(), Some("37030319850202234X"));
    assert_eq!(b.reason.as_deref(), Some("账户已销户"));
    assert_eq!(b.batch_ref, None);
}

#[test]
fn xlsx_dates_and_cell_problems() {
    use C::*;
    let d = dir();
    let path = file(&d, "second.xlsx");
    let day = NaiveDate::from_ymd_opt(2025, 1, 16).unwrap();
    write_xlsx(
        &path,
        &[
            vec![
                S("收款账号"),
                S("收款户名"),
                S("金额（元）"),
                S("证件号码"),
                S("处理结果"),
                S("备注"),
                S("处理日期"),
            ],
            vec![
                S("6222021603000012345"),
                S("张三"),
                N(1500.0),
                S("370303198001011234"),
                S("已入账"),
                E,
                D(day),
            ],
            vec![
                S("6222021603000023456"),
                S("李娜"),
                N(2000.5),
                S("37030319850202234X"),
                S("退票"),
                S("户名不符"),
                N(20250116.0),
            ],
            vec![
                N(6222021603000034.0),
                S("王五"),
                N(1234.567),
                S("370303199003033456"),
                S("成功"),
                E,
                S("2025/01/16"),
            ],
        ],
    );
    let layout = template("example-second-bank.toml").return_layout();
    let f = read(&path, &layout).unwrap();
    assert_eq!(f.rows.len(), 2, "{:?}", f.problems);
    assert!(f.rows.iter().all(|r| r.date == Some(day)));
    assert_eq!((f.rows[0].paid, f.rows[1].paid), (true, false));
    assert_eq!(f.rows[1].fen, 200_050);
    let p: Vec<(Option<u32>, Option<&str>)> = f
        .problems
        .iter()
        .map(|p| (p.row, p.column.as_deref()))
        .collect();
    assert_eq!(
        p,
        [(Some(4), Some("收款账号")), (Some(4), Some("金额（元）"))]
    );
    assert!(
        f.problems[0].message.contains("文本格式"),
        "{}",
        f.problems[0]
    );
    assert!(
        f.problems[1].message.contains("最多两位小数"),
        "{}",
        f.problems[1]
    );
    assert_eq!(f.problems[0].sheet.as_deref(), Some("Sheet1"));
}

const GBK_RETURN: &str = "H|CT-2025-R1-P1|20250116|3|4500.50\r\n\
    批次号|序号|收款账号|收款户名|金额|状态|失败原因|处理日期\r\n\
    CT-2025-R1-P1|1|6222021603000012345|张三|1500.00|成功||20250116\r\n\
    CT-2025-R1-P1|2|6222021603000023456|李娜|2000.50|F|户名不符|2025-01-16\r\n\
    \r\n\
    CT-2025-R1-P1|3|6228480123456789012|欧阳明月|1,000.00|S||2025/01/16\r\n\
    T|3|4500.50\r\n";

#[test]
fn gbk_text_return_file() {
    let d = dir();
    let path = file(&d, "return.txt");
    write_gbk(&path, GBK_RETURN);
    let f = read(&path, &text_layout()).unwrap();
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    assert_eq!(f.sheet, None);
    let got: Vec<(u32, Option<u32>, i64, bool)> = f
        .rows
        .iter()
        .map(|r| (r.row, r.row_no, r.fen, r.paid))
        .collect();
    assert_eq!(
        got,
        [
            (3, Some(1), 150_000, true),
            (4, Some(2), 200_050, false),
            (6, Some(3), 100_000, true)
        ]
    );
    assert_eq!(f.rows[1].reason.as_deref(), Some("户名不符"));
    assert_eq!(f.rows[0].batch_ref.as_deref(), Some("CT-2025-R1-P1"));
    assert_eq!(f.rows[2].status, "S");
    let day = NaiveDate::from_ymd_opt(2025, 1, 16);
    assert!(f.rows.iter().all(|r| r.date == day));
}

#[test]
fn utf8_text_with_bom_and_quoted_fields() {
    let d = dir();
    let path = file(&d, "return.csv");
    let mut layout = utf8_layout();
    layout.separator = Some(",".into());
    layout.quote = Some(chieftech::excel::bank_text::Quote::Minimal);
    let text = "\u{feff}银行代发回盘\n\
        批次号,序号,收款账号,收款户名,金额,状态,失败原因,处理日期\n\
        CT-2025-R1-P1,1,6222021603000012345,张三,\"1,500.00\",成功,,\n\
        CT-2025-R1-P1,2,6222021603000023456,\"李,娜\",2000.5,失败,\"户名不符,请核实\",\n\
        合计,,,,\"3,500.50\",,,\n";
    std::fs::write(&path, text).unwrap();
    let f = read(&path, &layout).unwrap();
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    assert_eq!(f.rows.len(), 2);
    assert_eq!(f.rows[0].fen, 150_000);
    assert_eq!(f.rows[1].fen, 200_050);
    assert_eq!(f.rows[1].reason.as_deref(), Some("户名不符,请核实"));
    assert_eq!(f.rows[0].date, None);
}

/// Every kind of row problem, one a line, and the good line kept.
#[test]
fn every_row_problem_names_row_column_and_what_was_expected() {
    let d = dir();
    let path = file(&d, "problems.txt");
    let mut layout = text_layout();
    layout.id_number = Some("证件号码".into());
    let b = "CT-2025-R1-P1";
    let a = "6222021603000012345";
    let id = "370303198001011234";
    let lines = [
        "批次号|序号|收款账号|证件号码|金额|状态|失败原因|处理日期".to_string(),
        format!("{b}|1|{a}|{id}|100.00|成功||20250116"),
        format!("{b}|2|{a}|{id}|abc|成功||"),
        format!("{b}|3|{a}|{id}|12.345|成功||"),
        format!("{b}|4|{a}|{id}|0|成功||"),
        format!("{b}|5|{a}|{id}|-5|成功||"),
        format!("{b}|6|{a}|{id}|100|处理中||"),
        format!("{b}|7|{a}|{id}|100|成功||2025-13-01"),
        format!("{b}|8||{id}|100|成功||"),
        format!("{b}|0|{a}|{id}|100|成功||"),
        format!("{b}|1.5|{a}|{id}|100|成功||"),
        format!("{b}|11|6222-0216|{id}|100|成功||"),
        format!("{b}|12|{a}|37030319800101123Y|100|成功||"),
        format!("|13|{a}|{id}|1,00.00|成功||"),
    ];
    write_gbk(&path, &(lines.join("\r\n") + "\r\n"));
    let f = read(&path, &layout).unwrap();
    assert_eq!(f.rows.len(), 1);
    assert_eq!(f.rows[0].row, 2);
    let got: Vec<(u32, &str, &str)> = f
        .problems
        .iter()
        .map(|p| {
            (
                p.row.unwrap(),
                p.column.as_deref().unwrap(),
                p.message.as_str(),
            )
        })
        .collect();
    let amount = "金额应为大于零的数字，最多两位小数，例如 1234.50";
    let expected = [
        (3, "金额", amount),
        (4, "金额", amount),
        (5, "金额", amount),
        (6, "金额", amount),
        (7, "状态", "应为以下之一：成功、S、失败、F"),
        (8, "处理日期", "应为 YYYY-MM-DD、YYYYMMDD 或 YYYY/MM/DD"),
        (9, "收款账号", "为空"),
        (10, "序号", "应为正整数"),
        (11, "序号", "应为正整数"),
        (12, "收款账号", "数字以外"),
        (13, "证件号码", "最后一位可以是X"),
        (14, "批次号", "为空"),
        (14, "金额", amount),
    ];
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for (g, e) in got.iter().zip(expected) {
        assert_eq!((g.0, g.1), (e.0, e.1), "{g:?}");
        assert!(g.2.contains(e.2), "{g:?} should say {}", e.2);
    }
    assert!(f.problems.iter().all(|p| p.sheet.is_none() && p.is_error()));
    assert!(f.problems[0]
        .to_string()
        .starts_with("problems.txt row 3, column 金额: "));
}

#[test]
fn an_unbalanced_quote_is_a_row_problem() {
    let d = dir();
    let path = file(&d, "q.csv");
    let mut layout = utf8_layout();
    layout.separator = Some(",".into());
    layout.quote = Some(chieftech::excel::bank_text::Quote::Minimal);
    let text = "批次号,序号,收款账号,收款户名,金额,状态,失败原因,处理日期\n\
        CT,1,6222,\"张三,100.00,成功,,\n\
        CT,2,6222,李四,100.00,成功,,\n";
    std::fs::write(&path, text).unwrap();
    let f = read(&path, &layout).unwrap();
    assert_eq!(f.rows.len(), 1);
    assert_eq!(f.problems.len(), 1);
    assert_eq!(
        (f.problems[0].row, f.problems[0].column.as_deref()),
        (Some(2), None)
    );
    assert!(f.problems[0].message.contains("引号"));
}

#[test]
fn a_gbk_file_read_as_utf8_fails_naming_the_line() {
    let d = dir();
    let path = file(&d, "gbk.txt");
    write_gbk(&path, GBK_RETURN);
    match read(&path, &utf8_layout()) {
        Err(ReturnError::Encoding {
            line,
            encoding,
            hint,
            ..
        }) => {
            assert_eq!((line, encoding), (2, "UTF-8"));
            assert!(hint.contains("GBK"), "{hint}");
        }
        other => panic!("expected an encoding error, got {other:?}"),
    }
    // A UTF-8 file with one GBK line further down: that line is named.
    let mut bytes = GBK_RETURN.replace("户名不符", "").into_bytes();
    let at = bytes.len() - "T|3|4500.50\r\n".len();
    let (gbk_line, _, _) =
        encoding_rs::GBK.encode("CT-2025-R1-P1|4|6222|王五|1.00|失败|户名不符|\r\n");
    bytes.splice(at..at, gbk_line.iter().copied());
    std::fs::write(&path, &bytes).unwrap();
    let e = read(&path, &utf8_layout()).unwrap_err();
    assert!(matches!(e, ReturnError::Encoding { line: 7, .. }), "{e:?}");
    assert!(e.to_string().contains("第7行"), "{e}");
}

#[test]
fn a_utf8_file_read_as_gbk_fails_naming_the_line() {
    let d = dir();
    let path = file(&d, "utf8.txt");
    std::fs::write(&path, GBK_RETURN).unwrap();
    let e = read(&path, &text_layout()).unwrap_err();
    match &e {
        ReturnError::Encoding { line, encoding, .. } => {
            assert_eq!((*line, *encoding), (2, "GBK"));
        }
        other => panic!("expected an encoding error, got {other:?}"),
    }
    assert!(e.to_string().contains("UTF-8"), "{e}");
    // With a byte-order mark: refused at line 1.
    std::fs::write(&path, format!("\u{feff}{GBK_RETURN}")).unwrap();
    let e = read(&path, &text_layout()).unwrap_err();
    assert!(matches!(e, ReturnError::Encoding { line: 1, .. }), "{e:?}");
}

#[test]
fn a_missing_header_names_what_was_sought() {
    let d = dir();
    let path = file(&d, "noheader.txt");
    write_gbk(&path, &GBK_RETURN.replace("|状态|", "|结果|"));
    let e = read(&path, &text_layout()).unwrap_err();
    assert!(matches!(e, ReturnError::NoHeader { .. }), "{e:?}");
    let m = e.to_string();
    assert!(
        m.contains("批次号、序号、收款账号、金额、状态、失败原因、处理日期"),
        "{m}"
    );
    assert!(m.contains("第2行最像表头，但缺少：状态"), "{m}");
    // A header below the first 20 lines is not looked for.
    let late = "说明\r\n".repeat(20) + GBK_RETURN;
    write_gbk(&path, &late);
    let e = read(&path, &text_layout()).unwrap_err();
    assert!(matches!(e, ReturnError::NoHeader { .. }), "{e:?}");
}

#[test]
fn a_duplicated_header_is_refused() {
    use C::*;
    let d = dir();
    let path = file(&d, "dup.xlsx");
    write_xlsx(
        &path,
        &[
            vec![
                S("序号"),
                S("身份证号码"),
                S("银行账号"),
                S("金额（元）"),
                S("金额 (元)"),
                S("状态"),
                S("失败原因"),
            ],
            vec![
                N(1.0),
                S("370303198001011234"),
                S("6222"),
                N(1.0),
                N(2.0),
                S("成功"),
                E,
            ],
        ],
    );
    let e = read(&path, &BankTemplate::builtin().return_layout()).unwrap_err();
    match &e {
        ReturnError::DuplicateHeader {
            row,
            header,
            columns,
            ..
        } => {
            assert_eq!(
                (*row, header.as_str(), columns.as_str()),
                (1, "金额（元）", "D列和E列")
            );
        }
        other => panic!("expected DuplicateHeader, got {other:?}"),
    }
}

#[test]
fn wrong_kinds_empty_files_and_limits() {
    let d = dir();
    let csv = file(&d, "r.csv");
    std::fs::write(&csv, "序号,状态\n").unwrap();
    let xlsx_layout = BankTemplate::builtin().return_layout();
    let e = read(&csv, &xlsx_layout).unwrap_err();
    assert!(matches!(e, ReturnError::WrongKind { .. }), "{e:?}");
    assert!(e.to_string().contains(".xlsx"), "{e}");
    let fake = file(&d, "r.xlsx");
    std::fs::write(&fake, "not a workbook").unwrap();
    assert!(matches!(
        read(&fake, &text_layout()),
        Err(ReturnError::WrongKind { .. })
    ));
    assert!(matches!(
        read(&fake, &xlsx_layout),
        Err(ReturnError::Workbook { .. })
    ));
    assert!(matches!(
        read(&file(&d, "missing.txt"), &text_layout()),
        Err(ReturnError::Io { .. })
    ));

    let empty = file(&d, "empty.txt");
    std::fs::write(&empty, "\r\n\r\n").unwrap();
    assert!(matches!(
        read(&empty, &text_layout()),
        Err(ReturnError::Empty { .. })
    ));
    let header_only = file(&d, "header.txt");
    write_gbk(
        &header_only,
        "批次号|序号|收款账号|金额|状态|失败原因|处理日期\r\nT|0|0.00\r\n",
    );
    assert!(matches!(
        read(&header_only, &text_layout()),
        Err(ReturnError::Empty { .. })
    ));

    let big = file(&d, "big.txt");
    write_gbk(&big, GBK_RETURN);
    let tiny = InputLimits {
        max_rows: 3,
        ..InputLimits::default()
    };
    let e = read_return_file(&big, &text_layout(), &tiny).unwrap_err();
    assert!(matches!(e, ReturnError::OverLimit { .. }), "{e:?}");
    std::fs::write(&big, vec![b'x'; 70_000]).unwrap();
    let e = read(&big, &text_layout()).unwrap_err();
    assert!(matches!(e, ReturnError::OverLimit { .. }), "{e:?}");
}

#[test]
fn amounts_and_dates_parse_exactly() {
    for (s, fen) in [
        ("1234.50", Some(123_450)),
        ("1,234.5", Some(123_450)),
        ("1,234,567.89", Some(123_456_789)),
        ("0.01", Some(1)),
        ("１２.３", Some(1230)),
        ("0.1", Some(10)),
        ("1234.500", Some(123_450)),
        ("1234.505", None),
        ("0", None),
        ("0.00", None),
        ("-1", None),
        ("+1", None),
        ("1e3", None),
        ("12,34", None),
        (",123", None),
        ("12.", None),
        (".5", None),
        ("", None),
        ("99999999999999999999999", None),
        ("9999999999999999999999999999", None),
        ("79228162514264337593543950335", None),
        ("792281625142643375935439503350000", None),
        ("92233720368547758.07", Some(i64::MAX)),
        ("92233720368547758.08", None),
    ] {
        assert_eq!(amount_fen(s), fen, "{s}");
    }
    let d = NaiveDate::from_ymd_opt(2025, 1, 5);
    for s in [
        "2025-01-05",
        "2025-1-5",
        "20250105",
        "2025/01/05",
        "2025-01-05 10:30:00",
    ] {
        assert_eq!(date_text(s), d, "{s}");
    }
    for s in [
        "2025.01.05",
        "05/01/2025",
        "20251305",
        "2025-01-05 noon",
        "1月5日",
    ] {
        assert_eq!(date_text(s), None, "{s}");
    }
}

/// The .xls path: a real BIFF8 file (the worked-examples roster, made by LibreOffice) read
/// through a layout that names its columns: a title row above the header, date cells.
#[test]
fn xls_files_go_through_the_guarded_workbook_reader() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/worked-examples-roster.xls");
    let mut layout = BankTemplate::builtin().return_layout();
    layout.row_no = None;
    layout.id_number = Some("身份证号码".into());
    layout.account = Some("银行账号".into());
    layout.amount = "联系电话".into();
    layout.status = "职业资格等级".into();
    layout.reason = Some("开户行".into());
    layout.date = Some("批准日期".into());
    layout.paid_values = vec!["高级技师".into()];
    layout.failed_values = vec!["技师".into()];
    let f = read(&path, &layout).unwrap();
    assert_eq!(f.sheet.as_deref(), Some("名册"));
    assert!(f.rows.len() >= 3, "{f:?}");
    let first = &f.rows[0];
    assert_eq!(first.row, 3);
    assert_eq!(first.id_number.as_deref(), Some("370303198602178785"));
    assert_eq!(first.account.as_deref(), Some("6228484471220184088"));
    assert_eq!((first.fen, first.paid), (1_380_533_123_400, true));
    assert_eq!(first.date, NaiveDate::from_ymd_opt(2021, 10, 15));
    assert_eq!(first.reason.as_deref(), Some("中国农业银行淄博张店支行"));
}

mod no_panic {
    use super::*;
    use chieftech::excel::bank_text::{quote_field, split_fields, Quote};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any bytes, read as GBK or UTF-8 text: an answer, never a panic.
        #[test]
        fn any_text_file_is_answered(bytes in proptest::collection::vec(any::<u8>(), 0..400), lines in proptest::collection::vec("[成功失败|,\"0-9.H ]{0,12}", 0..6)) {
            let d = dir();
            let path = file(&d, "any.txt");
            let mut content = GBK_RETURN.as_bytes()[..120].to_vec();
            content.extend(lines.join("\n").into_bytes());
            content.extend(bytes);
            std::fs::write(&path, &content).unwrap();
            let _ = read(&path, &text_layout());
            let _ = read(&path, &utf8_layout());
        }

        /// Quoted fields split back to what was quoted.
        #[test]
        fn quoting_round_trips(fields in proptest::collection::vec("[a-c,|\" \\n]{0,6}", 1..5), all in any::<bool>()) {
            let q = if all { Quote::All } else { Quote::Minimal };
            for sep in [",", "|"] {
                let line: Vec<String> = fields.iter().map(|f| quote_field(f, sep, q).unwrap().into_owned()).collect();
                prop_assert_eq!(split_fields(&line.join(sep), sep, q).unwrap(), fields.clone());
            }
        }
    }
}
