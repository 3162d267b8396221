//! Text bank files (format = "text") written through `BankWriter`: GBK bytes checked byte for
//! byte, UTF-8 with quoting, line endings, header and trailer lines, characters GBK cannot hold.

use chieftech::excel::bank::{BankError, BankFileInfo, BankRow, BankTemplate, BankWriter};
use std::io::Cursor;
use std::path::Path;

const PURPOSE: &str = "2025年张店区首席技师津贴";
const PAYER: &str = "张店区人力资源和社会保障局";

fn example_text_bank() -> BankTemplate {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/banks/example-text-bank.toml");
    BankTemplate::load(&path).unwrap()
}

fn info() -> BankFileInfo {
    BankFileInfo {
        purpose: PURPOSE.into(),
        title: None,
        batch_ref: "CT-2025-R1-P1".into(),
        organization: PAYER.into(),
        // Approved at 02:30 on 15 January in Shanghai: still the 14th in UTC. The header's
        // {date} is the day in Shanghai.
        created: chrono::NaiveDate::from_ymd_opt(2025, 1, 14)
            .unwrap()
            .and_hms_opt(18, 30, 0)
            .unwrap(),
        date: chrono::NaiveDate::from_ymd_opt(2025, 1, 15).unwrap(),
    }
}

fn row(name: &str, id: &str, account: &str, fen: i64) -> BankRow {
    BankRow {
        name: name.into(),
        id_number: id.into(),
        account: account.into(),
        bank_name: "中国工商银行淄博张店支行".into(),
        unit: "山东某某机械有限公司".into(),
        fen,
    }
}

fn rows() -> Vec<BankRow> {
    vec![
        row("张三", "370303198001011234", "6222021603000012345", 150_000),
        row("李娜", "37030319850202234X", "6222021603000023456", 200_050),
        row(
            "欧阳明月",
            "370303199003033456",
            "6228480123456789012",
            100_000,
        ),
    ]
}

/// Writes `rows` with `template` (the run given) and returns the file's bytes.
fn write(template: &BankTemplate, rows: &[BankRow]) -> Result<Vec<u8>, BankError> {
    let mut w = BankWriter::new(template, info())?;
    w.set_run(2025, 1, "张店区首席技师津贴");
    for r in rows {
        w.push(r)?;
    }
    assert_eq!(w.rows(), rows.len() as u64);
    let mut out = Cursor::new(Vec::new());
    let totals = w.finish(&mut out)?;
    assert_eq!(totals.rows, rows.len() as u64);
    assert_eq!(totals.fen, rows.iter().map(|r| r.fen).sum::<i64>());
    Ok(out.into_inner())
}

/// A template from the example text bank with `[text]` keys replaced.
fn variant(replacements: &[(&str, &str)]) -> BankTemplate {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/banks/example-text-bank.toml");
    let mut text = std::fs::read_to_string(path).unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    BankTemplate::parse(&text, "variant.toml").unwrap()
}

#[test]
fn gbk_pipe_file_is_byte_for_byte_the_expected_text() {
    let t = example_text_bank();
    assert_eq!(t.extension(), "txt");
    let bytes = write(&t, &rows()).unwrap();
    let expected = format!(
        "H|CT-2025-R1-P1|20250115|3|4500.50|{PAYER}\r\n\
         1|6222021603000012345|张三|1500.00|370303198001011234|{PURPOSE}\r\n\
         2|6222021603000023456|李娜|2000.50|37030319850202234X|{PURPOSE}\r\n\
         3|6228480123456789012|欧阳明月|1000.00|370303199003033456|{PURPOSE}\r\n\
         T|3|4500.50\r\n"
    );
    let (gbk, _, had_errors) = encoding_rs::GBK.encode(&expected);
    assert!(!had_errors);
    assert_eq!(bytes, gbk.as_ref());
    // Not UTF-8: the Chinese is in GBK's two-byte form (张 = D5 C5).
    assert!(std::str::from_utf8(&bytes).is_err());
    assert!(bytes.windows(2).any(|w| w == [0xD5, 0xC5]));

    let decoded = encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(&bytes)
        .expect("valid GBK");
    assert!(!decoded.contains('\u{FFFD}'));
    let lines: Vec<&str> = decoded.split("\r\n").collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert_eq!(lines[5], "");
    let header: Vec<&str> = lines[0].split('|').collect();
    let trailer: Vec<&str> = lines[4].split('|').collect();
    let data = &lines[1..4];
    let total: i64 = data
        .iter()
        .map(|l| {
            let amount = l.split('|').nth(3).unwrap();
            amount.replace('.', "").parse::<i64>().unwrap()
        })
        .sum();
    assert_eq!(header[3], data.len().to_string());
    assert_eq!(trailer[1], data.len().to_string());
    assert_eq!(header[4], "4500.50");
    assert_eq!(trailer[2], "4500.50");
    assert_eq!(total, 450_050);
}

#[test]
fn utf8_csv_with_minimal_quoting_and_column_headers() {
    let t = variant(&[
        ("extension = \"txt\"", "extension = \"csv\""),
        ("separator = \"|\"", "separator = \",\""),
        ("quote = \"none\"", "quote = \"minimal\""),
        ("encoding = \"gbk\"\nline", "encoding = \"utf-8\"\nline"),
        ("line_ending = \"crlf\"", "line_ending = \"lf\""),
        (
            "H|{batch}|{date}|{count}|{total}|{payer}",
            "H,{batch},{date},{count},{total}",
        ),
        ("T|{count}|{total}", "T,{count},{total}"),
        ("column_headers = false", "column_headers = true"),
        ("decimals = 2", "decimals = 3"),
        ("header = \"收款户名\"", "header = \"收款户名,全称\""),
    ]);
    assert_eq!(t.extension(), "csv");
    let rows = vec![
        row(
            "张三,Jr.",
            "370303198001011234",
            "6222021603000012345",
            150_000,
        ),
        row("李\"娜\"", "37030319850202234X", "6222021603000023456", 1),
    ];
    let bytes = write(&t, &rows).unwrap();
    let expected = format!(
        "H,CT-2025-R1-P1,20250115,2,1500.010\n\
         序号,收款账号,\"收款户名,全称\",金额,证件号码,用途\n\
         1,6222021603000012345,\"张三,Jr.\",1500.000,370303198001011234,{PURPOSE}\n\
         2,6222021603000023456,\"李\"\"娜\"\"\",0.010,37030319850202234X,{PURPOSE}\n\
         T,2,1500.010\n"
    );
    assert_eq!(String::from_utf8(bytes).unwrap(), expected);
}

#[test]
fn quote_all_quotes_every_field() {
    let t = variant(&[
        ("quote = \"none\"", "quote = \"all\""),
        (
            "header_line = \"H|{batch}|{date}|{count}|{total}|{payer}\"\n",
            "",
        ),
        ("trailer_line = \"T|{count}|{total}\"\n", ""),
    ]);
    let bytes = write(&t, &rows()[..1]).unwrap();
    let expected = format!(
        "\"1\"|\"6222021603000012345\"|\"张三\"|\"1500.00\"|\"370303198001011234\"|\"{PURPOSE}\"\r\n"
    );
    assert_eq!(bytes, encoding_rs::GBK.encode(&expected).0.as_ref());
}

#[test]
fn crlf_and_lf_differ_only_in_line_endings() {
    let crlf = write(&example_text_bank(), &rows()).unwrap();
    let lf = write(
        &variant(&[("line_ending = \"crlf\"", "line_ending = \"lf\"")]),
        &rows(),
    )
    .unwrap();
    assert_eq!(crlf.iter().filter(|b| **b == b'\n').count(), 5);
    assert_eq!(crlf.iter().filter(|b| **b == b'\r').count(), 5);
    assert!(!lf.contains(&b'\r'));
    let lf_as_crlf: Vec<u8> = lf
        .iter()
        .flat_map(|b| {
            if *b == b'\n' {
                vec![b'\r', b'\n']
            } else {
                vec![*b]
            }
        })
        .collect();
    assert_eq!(lf_as_crlf, crlf);
}

#[test]
fn a_character_outside_gbk_is_refused_with_its_row_and_column() {
    let t = example_text_bank();
    let mut rows = rows();
    rows[1].name = "王𠮷".into();
    match write(&t, &rows) {
        Err(BankError::TextField {
            row,
            column,
            message,
        }) => {
            assert_eq!(row, 2);
            assert_eq!(column, "收款户名");
            assert!(
                message.contains("𠮷") && message.contains("GBK"),
                "{message}"
            );
            assert!(message.contains("U+20BB7"), "{message}");
        }
        other => panic!("expected TextField, got {other:?}"),
    }
    // An emoji in the payer, written in the header line.
    let mut w = BankWriter::new(
        &t,
        BankFileInfo {
            organization: "人社局😀".into(),
            ..info()
        },
    )
    .unwrap();
    w.push(&rows[0]).unwrap();
    let e = w.finish(Cursor::new(Vec::new())).unwrap_err();
    assert!(matches!(e, BankError::TextLine { .. }), "{e:?}");
    assert!(e.to_string().contains('😀'), "{e}");
    // The same name is fine in UTF-8.
    let utf8 = variant(&[("encoding = \"gbk\"\nline", "encoding = \"utf-8\"\nline")]);
    let bytes = write(&utf8, &rows).unwrap();
    assert!(String::from_utf8(bytes).unwrap().contains("|王𠮷|"));
}

#[test]
fn the_separator_inside_an_unquoted_field_is_refused() {
    let mut rows = rows();
    rows[2].name = "欧阳|明月".into();
    match write(&example_text_bank(), &rows) {
        Err(BankError::TextField { row, column, .. }) => {
            assert_eq!((row, column.as_str()), (3, "收款户名"));
        }
        other => panic!("expected TextField, got {other:?}"),
    }
}

#[test]
fn header_placeholders_need_the_run_and_rows_stop_at_max_rows() {
    let t = variant(&[(
        "T|{count}|{total}",
        "T|{count}|{total}|{year}第{run}批{program}",
    )]);
    let mut w = BankWriter::new(&t, info()).unwrap();
    w.push(&rows()[0]).unwrap();
    let e = w.finish(Cursor::new(Vec::new())).unwrap_err();
    assert!(e.to_string().contains("set_run"), "{e}");
    let bytes = write(&t, &rows()).unwrap();
    let text = encoding_rs::GBK.decode(&bytes).0.into_owned();
    assert!(
        text.ends_with("T|3|4500.50|2025第1批张店区首席技师津贴\r\n"),
        "{text}"
    );

    let small = variant(&[("max_rows = 5000", "max_rows = 2")]);
    let mut w = BankWriter::new(&small, info()).unwrap();
    w.push(&rows()[0]).unwrap();
    w.push(&rows()[1]).unwrap();
    let e = w.push(&rows()[2]).unwrap_err();
    assert!(
        matches!(e, BankError::TooManyRows { rows: 3, max: 2 }),
        "{e:?}"
    );
}

#[test]
fn an_empty_part_has_zero_count_and_total() {
    let bytes = write(&example_text_bank(), &[]).unwrap();
    let expected = format!("H|CT-2025-R1-P1|20250115|0|0.00|{PAYER}\r\nT|0|0.00\r\n");
    assert_eq!(bytes, encoding_rs::GBK.encode(&expected).0.as_ref());
}

#[test]
fn xlsx_templates_are_unchanged() {
    let t = BankTemplate::builtin();
    assert_eq!(t.extension(), "xlsx");
    let mut w = BankWriter::new(&t, info()).unwrap();
    w.set_run(2025, 1, "ignored for xlsx");
    w.push(&rows()[0]).unwrap();
    let mut out = Cursor::new(Vec::new());
    w.finish(&mut out).unwrap();
    assert!(out.into_inner().starts_with(b"PK\x03\x04"));
}
