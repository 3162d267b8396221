//! The nominating bodies' summary workbook (推荐人选汇总表, `template nominations`): sheet
//! `推荐汇总` (or the first sheet), one row per candidate. Every cell check is made here, with
//! the roster reader's helpers and messages; what only the ledger can tell (a name differing
//! from the recorded one, a candidate nominated twice) is checked by the store.
//!
//! The nominating body's own notice (推荐公示) is one cell holding both days
//! ([`parse_date_range`]: `2026-04-10至2026-04-16`, `2026.4.10-2026.4.16`,
//! `2026年4月10日至4月16日`, …), or two date columns 推荐公示开始日期 and 推荐公示结束日期; a row
//! fills exactly one of the two forms. The level (职业资格等级) is only required here: the
//! eligibility check judges it.

use super::read::{
    checked, date, email_ok, half_width, missing, number_text, parse_date_text, read_small_sheet,
    required_date, required_text, text, Column, FieldProblem, Header, ReadError, Severity,
    SmallSheet, Value, Workbook,
};
use super::roster::{
    id_number_cell, BANK_ACCOUNT, BANK_NAME, EMAIL, ID_NUMBER_COLUMN, LEVEL, NAME, NAME_COLUMN,
    OCCUPATION, PHONE, UNIT,
};
use crate::input::NominationEntry;
use chrono::{Datelike, NaiveDate};
use std::io::{Read, Seek};

/// The sheet's name.
pub const NOMINATIONS_SHEET: &str = "推荐汇总";

pub const NOMINATOR: &str = "推荐单位";
pub const CERTIFICATE_NO: &str = "证书编号";
pub const ACHIEVEMENTS: &str = "主要业绩";
/// One cell holding the notice's first and last day.
pub const NOTICE_PERIOD: &str = "推荐公示起止日期";
pub const RECEIVED: &str = "报送日期";
/// The notice's first day, in a column of its own (instead of [`NOTICE_PERIOD`]).
pub const NOTICE_FROM: &str = "推荐公示开始日期";
/// The notice's last day, in a column of its own (instead of [`NOTICE_PERIOD`]).
pub const NOTICE_TO: &str = "推荐公示结束日期";

/// How many of [`NOMINATION_COLUMNS`] the template has (the first ones).
pub const NOMINATION_TEMPLATE_COLUMNS: usize = 14;

/// The columns, in template order; the last two ([`NOTICE_FROM`], [`NOTICE_TO`]) are not in the
/// template and replace [`NOTICE_PERIOD`] when a sheet has them (so [`NOTICE_PERIOD`] is not
/// required by the header search: [`read_nominations`] checks that one of the forms is there).
pub const NOMINATION_COLUMNS: [Column; 16] = [
    Column {
        name: NOMINATOR,
        aliases: &[],
        required: true,
    },
    NAME_COLUMN,
    ID_NUMBER_COLUMN,
    Column {
        name: UNIT,
        aliases: &["单位"],
        required: true,
    },
    Column {
        name: OCCUPATION,
        aliases: &["工种"],
        required: true,
    },
    Column {
        name: LEVEL,
        aliases: &[],
        required: true,
    },
    Column {
        name: CERTIFICATE_NO,
        aliases: &["职业资格证书编号"],
        required: true,
    },
    Column {
        name: ACHIEVEMENTS,
        aliases: &[],
        required: true,
    },
    Column {
        name: PHONE,
        aliases: &[],
        required: true,
    },
    Column {
        name: NOTICE_PERIOD,
        aliases: &[],
        required: false,
    },
    Column {
        name: RECEIVED,
        aliases: &[],
        required: false,
    },
    Column {
        name: BANK_NAME,
        aliases: &[],
        required: false,
    },
    Column {
        name: BANK_ACCOUNT,
        aliases: &["银行卡号"],
        required: false,
    },
    Column {
        name: EMAIL,
        aliases: &[],
        required: false,
    },
    Column {
        name: NOTICE_FROM,
        aliases: &[],
        required: false,
    },
    Column {
        name: NOTICE_TO,
        aliases: &[],
        required: false,
    },
];

// Indexes into NOMINATION_COLUMNS.
const I_NOMINATOR: usize = 0;
const I_NAME: usize = 1;
const I_ID: usize = 2;
const I_UNIT: usize = 3;
const I_OCCUPATION: usize = 4;
const I_LEVEL: usize = 5;
const I_CERTIFICATE: usize = 6;
const I_ACHIEVEMENTS: usize = 7;
const I_PHONE: usize = 8;
const I_PERIOD: usize = 9;
const I_RECEIVED: usize = 10;
const I_BANK_NAME: usize = 11;
const I_ACCOUNT: usize = 12;
const I_EMAIL: usize = 13;
const I_FROM: usize = 14;
const I_TO: usize = 15;

/// The levels offered in the template's drop-down list (the eligibility check judges the text).
pub const NOMINATION_LEVELS: [&str; 4] = ["技师", "高级技师", "特级技师", "首席技师"];

/// The forms of [`NOTICE_PERIOD`] named in messages and notes.
pub const PERIOD_FORMS: &str =
    "2026-04-10至2026-04-16、2026.4.10-2026.4.16、2026/4/10~2026/4/16或2026年4月10日至4月16日";

/// What reading a nominations workbook found.
pub type NominationsRead = super::read::SheetRead<NominationEntry>;

/// Reads a nominations workbook whole (a round has tens of rows, not millions).
pub fn read_nominations<RS: Read + Seek>(
    wb: &mut Workbook<RS>,
    file: &str,
) -> Result<NominationsRead, ReadError> {
    let spec = SmallSheet {
        name: NOMINATIONS_SHEET,
        columns: &NOMINATION_COLUMNS,
        header_check: notice_columns_problem,
        empty: Some("表头下没有数据行；应每行填写一名推荐人选"),
    };
    read_small_sheet(wb, file, &spec, parse_nomination_row)
}

/// The header's problem with the notice columns: neither 推荐公示起止日期 nor both of
/// 推荐公示开始日期 and 推荐公示结束日期.
fn notice_columns_problem(h: &Header) -> Option<String> {
    let has = |i: usize| h.positions.get(i).copied().flatten().is_some();
    if has(I_PERIOD) || (has(I_FROM) && has(I_TO)) {
        return None;
    }
    let missing = match (has(I_FROM), has(I_TO)) {
        (true, false) => format!("{NOTICE_TO}（或{NOTICE_PERIOD}）"),
        (false, true) => format!("{NOTICE_FROM}（或{NOTICE_PERIOD}）"),
        _ => format!("{NOTICE_PERIOD}（或{NOTICE_FROM}和{NOTICE_TO}两列）"),
    };
    Some(format!(
        "表头缺少列：{missing}；应有“{NOTICE_PERIOD}”一列（如{}），或“{NOTICE_FROM}”“{NOTICE_TO}”两列",
        "2026-04-10至2026-04-16"
    ))
}

/// Checks one nominations row: the entry when every cell is sound, and every problem.
pub fn parse_nomination_row(
    row: u32,
    cells: &[Value],
    header: &Header,
    is_1904: bool,
) -> (Option<NominationEntry>, Vec<FieldProblem>) {
    let mut problems = Vec::new();
    let cell = |i: usize| header.cell(cells, i);
    let mut req = |i: usize, col: &'static str| checked(required_text(cell(i), col), &mut problems);
    let nominator = req(I_NOMINATOR, NOMINATOR);
    let name = req(I_NAME, NAME);
    let unit = req(I_UNIT, UNIT);
    let occupation = req(I_OCCUPATION, OCCUPATION);
    let level = req(I_LEVEL, LEVEL);
    let achievements = req(I_ACHIEVEMENTS, ACHIEVEMENTS);
    let phone = req(I_PHONE, PHONE);
    let id_number = checked(id_number_cell(cell(I_ID)), &mut problems);
    let certificate_no = checked(certificate_cell(cell(I_CERTIFICATE)), &mut problems);
    let notice = notice_cells(header, cells, is_1904, &mut problems);
    let received = checked(date(cell(I_RECEIVED), RECEIVED, is_1904), &mut problems).flatten();
    let bank_name = checked(text(cell(I_BANK_NAME), BANK_NAME), &mut problems).flatten();
    let bank_account = optional_account_cell(cell(I_ACCOUNT), &mut problems);
    let email = checked(email_cell(cell(I_EMAIL)), &mut problems).flatten();
    let has_errors = problems.iter().any(|p| p.severity == Severity::Error);
    let complete = || {
        let (notice_from, notice_to) = notice?;
        Some(NominationEntry {
            nominator: nominator?,
            name: name?,
            id_number: id_number?,
            unit: unit?,
            occupation: occupation?,
            level: level?,
            certificate_no: certificate_no?,
            achievements: achievements?,
            phone: phone?,
            notice_from,
            notice_to,
            received,
            bank_name,
            bank_account,
            email,
            row: Some(row),
        })
    };
    let entry = if has_errors { None } else { complete() };
    (entry, problems)
}

/// The certificate number: text. A number cell is kept while Excel could not have rounded it
/// (fewer than 15 digits); a longer one is refused as ID numbers are.
fn certificate_cell(v: &Value) -> Result<String, FieldProblem> {
    match v {
        Value::Number(f) if f.abs() >= 1e14 => Err(number_text(v, CERTIFICATE_NO)
            .err()
            .unwrap_or_else(|| missing(CERTIFICATE_NO))),
        v => required_text(v, CERTIFICATE_NO).map(|s| half_width(&s).trim().to_string()),
    }
}

/// An optional bank account: 8 to 30 digits in a text cell, checked as the roster's (a Luhn
/// failure is a warning: passbook accounts fail it).
fn optional_account_cell(v: &Value, problems: &mut Vec<FieldProblem>) -> Option<String> {
    let s = checked(number_text(v, BANK_ACCOUNT), problems)??;
    super::roster::account_digits(&s, "应为8到30位数字，或留空", problems)
}

/// An optional e-mail cell, checked when filled (the roster's message).
fn email_cell(v: &Value) -> Result<Option<String>, FieldProblem> {
    match text(v, EMAIL)? {
        Some(e) if !email_ok(&e) => Err(FieldProblem::error(
            EMAIL,
            format!("电子邮箱“{e}”格式不正确；应如name@example.com，或留空"),
        )),
        e => Ok(e),
    }
}

/// The notice's first and last day, from whichever form the row fills.
fn notice_cells(
    header: &Header,
    cells: &[Value],
    is_1904: bool,
    problems: &mut Vec<FieldProblem>,
) -> Option<(NaiveDate, NaiveDate)> {
    let has = |i: usize| header.positions.get(i).copied().flatten().is_some();
    if !has(I_PERIOD) && !has(I_FROM) && !has(I_TO) {
        // The header's problem says it (once for the sheet).
        return None;
    }
    let period = header.cell(cells, I_PERIOD);
    let from = header.cell(cells, I_FROM);
    let to = header.cell(cells, I_TO);
    let separate = !from.is_blank() || !to.is_blank();
    match (period.is_blank(), separate) {
        (false, true) => {
            problems.push(FieldProblem::error(
                NOTICE_PERIOD,
                format!(
                    "同时填写了“{NOTICE_PERIOD}”和“{NOTICE_FROM}/{NOTICE_TO}”；两种写法只能选一种，请删去其中一种"
                ),
            ));
            None
        }
        (false, false) => checked(period_cell(period), problems),
        (true, true) => {
            let a = checked(required_date(from, NOTICE_FROM, is_1904), problems);
            let b = checked(required_date(to, NOTICE_TO, is_1904), problems);
            let (a, b) = (a?, b?);
            if b < a {
                problems.push(end_before_start(NOTICE_TO, a, b));
                return None;
            }
            Some((a, b))
        }
        (true, false) => {
            if has(I_PERIOD) || !(has(I_FROM) && has(I_TO)) {
                problems.push(missing(NOTICE_PERIOD));
            } else {
                problems.push(missing(NOTICE_FROM));
                problems.push(missing(NOTICE_TO));
            }
            None
        }
    }
}

fn end_before_start(column: &'static str, from: NaiveDate, to: NaiveDate) -> FieldProblem {
    FieldProblem::error(
        column,
        format!("推荐公示结束日期{to}早于开始日期{from}；应先写开始日期、后写结束日期，结束日期不早于开始日期"),
    )
}

/// The 推荐公示起止日期 cell: two dates in one text (see [`parse_date_range`]), the last not
/// before the first, both between 1949 and 2100.
pub fn period_cell(v: &Value) -> Result<(NaiveDate, NaiveDate), FieldProblem> {
    let s = match v {
        Value::Date(_) | Value::Number(_) => {
            return Err(FieldProblem::error(
                NOTICE_PERIOD,
                format!(
                    "“{}”只有一个日期；应在一个单元格内写开始和结束两个日期，如{PERIOD_FORMS}",
                    v.display()
                ),
            ))
        }
        v => required_text(v, NOTICE_PERIOD)?,
    };
    let Some((from, to)) = parse_date_range(&s) else {
        return Err(FieldProblem::error(
            NOTICE_PERIOD,
            format!("“{s}”不是可识别的起止日期；应写开始和结束两个日期，如{PERIOD_FORMS}"),
        ));
    };
    for d in [from, to] {
        if !(1949..=2100).contains(&d.year()) {
            return Err(FieldProblem::error(
                NOTICE_PERIOD,
                format!("日期{d}不在合理范围内；应为1949年至2100年间的日期"),
            ));
        }
    }
    if to < from {
        return Err(end_before_start(NOTICE_PERIOD, from, to));
    }
    Ok((from, to))
}

/// Separators between the two dates of a range (after [`half_width`]: `～` is `~`). `-` is
/// tried last, and only between dates that do not use `-` themselves.
const RANGE_SEPARATORS: [char; 6] = ['至', '到', '~', '〜', '—', '–'];

/// Reads a date range typed in one cell: two dates of [`parse_date_text`]'s forms joined by
/// 至, 到, ~, ～, — or –, or by `-` when the dates use `.`, `/` or 年月日
/// (`2026.4.10-2026.4.16`). The second date may leave out the year when written with 月 and 日
/// (`2026年4月10日至4月16日`): it is the first's. The order is not checked.
pub fn parse_date_range(s: &str) -> Option<(NaiveDate, NaiveDate)> {
    let s = half_width(s);
    let t = s.trim();
    let (a, b) = match RANGE_SEPARATORS.iter().find(|c| t.contains(**c)) {
        Some(&sep) => {
            let (a, b) = t.split_once(sep)?;
            // A doubled dash (——) or tilde.
            (a, b.trim_start_matches(sep))
        }
        None => {
            let mut parts = t.split('-');
            let (a, b) = (parts.next()?, parts.next()?);
            if parts.next().is_some() {
                return None;
            }
            (a, b)
        }
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let from = parse_date_text(a)?;
    let to = match parse_date_text(b) {
        Some(d) => d,
        None if b.contains('月') && !b.contains('年') => {
            parse_date_text(&format!("{}年{b}", from.year()))?
        }
        None => return None,
    };
    Some((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn ranges() {
        let want = Some((d(2026, 4, 10), d(2026, 4, 16)));
        for s in [
            "2026-04-10至2026-04-16",
            "2026-4-10 至 2026-4-16",
            "2026.4.10-2026.4.16",
            "2026/4/10~2026/4/16",
            "2026/4/10～2026/4/16",
            "2026年4月10日至2026年4月16日",
            "2026年4月10日至4月16日",
            "2026年4月10日到4月16日",
            "2026年4月10日-4月16日",
            "2026年4月10日—2026年4月16日",
            "2026年4月10日——2026年4月16日",
            "2026.04.10–2026.04.16",
            "2026-04-10~2026-04-16",
            "２０２６－０４－１０至２０２６－０４－１６",
            " 2026.4.10 - 2026.4.16 ",
        ] {
            assert_eq!(parse_date_range(s), want, "{s}");
        }
        for s in [
            "2026-04-10-2026-04-16",
            "2026-04-10",
            "2026-04-10至",
            "至2026-04-16",
            "2026.4.10-4.16",
            "4月10日至4月16日",
            "2026年4月10日至16日",
            "2026年4月10日至4月32日",
            "2026.4.10-2026.4.16-2026.4.17",
            "abc",
            "",
            "至",
        ] {
            assert_eq!(parse_date_range(s), None, "{s}");
        }
        // The order is checked by the cell, not the parser.
        assert_eq!(
            parse_date_range("2026-04-16至2026-04-10"),
            Some((d(2026, 4, 16), d(2026, 4, 10)))
        );
    }

    #[test]
    fn period_cells() {
        let t = |s: &str| Value::Text(s.into());
        assert_eq!(
            period_cell(&t("2026年4月10日至4月16日")),
            Ok((d(2026, 4, 10), d(2026, 4, 16)))
        );
        let e = period_cell(&t("2026-04-16至2026-04-10")).unwrap_err();
        assert!(e.message.contains("早于开始日期"), "{}", e.message);
        let e = period_cell(&t("1900-01-01至1900-01-02")).unwrap_err();
        assert!(e.message.contains("合理范围"), "{}", e.message);
        let e = period_cell(&Value::Number(46122.0)).unwrap_err();
        assert!(e.message.contains("只有一个日期"), "{}", e.message);
        let e = period_cell(&Value::Empty).unwrap_err();
        assert!(e.message.contains("必须填写"), "{}", e.message);
        let e = period_cell(&Value::Error("#N/A".into())).unwrap_err();
        assert!(e.message.contains("错误值"), "{}", e.message);
    }

    #[test]
    fn certificates() {
        assert_eq!(
            certificate_cell(&Value::Number(20190123.0)).unwrap(),
            "20190123"
        );
        assert!(certificate_cell(&Value::Number(1_806_000_000_301_234.0)).is_err());
        assert_eq!(
            certificate_cell(&Value::Text(" 1806000000301234 ".into())).unwrap(),
            "1806000000301234"
        );
    }
}
