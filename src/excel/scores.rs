//! The expert review's scores (评审成绩, `template scores`): sheet `评审成绩` (or the first
//! sheet), one row per expert and candidate: 姓名, 身份证号码, 评审专家, 得分 (0–100).
//!
//! A score is read exactly ([`score_cell`]): a number cell as Excel shows it (15 significant
//! digits, so `87.5` is 87.5 and no float noise), a text cell as written; 0 to 100, at most two
//! decimals. One expert scoring one candidate twice in a file refuses the second row. Whether
//! the candidate is in the round is checked by the store.

use super::read::{
    checked, half_width, read_small_sheet, required_text, Column, FieldProblem, Header, ReadError,
    Severity, SmallSheet, Value, Workbook,
};
use super::roster::{id_number_cell, ID_NUMBER_COLUMN, NAME, NAME_COLUMN};
use crate::input::ScoreEntry;
use crate::rules::IdNumber;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::io::{Read, Seek};
use std::str::FromStr;

/// The sheet's name.
pub const SCORES_SHEET: &str = "评审成绩";

pub const EXPERT: &str = "评审专家";
pub const SCORE: &str = "得分";

/// The columns, in template order.
pub const SCORE_COLUMNS: [Column; 4] = [
    NAME_COLUMN,
    ID_NUMBER_COLUMN,
    Column {
        name: EXPERT,
        aliases: &["专家"],
        required: true,
    },
    Column {
        name: SCORE,
        aliases: &[],
        required: true,
    },
];

/// What a score must be (the message's second half).
pub const SCORE_EXPECTED: &str = "得分应为0至100之间的数，最多两位小数";

/// What reading a scores workbook found.
pub type ScoresRead = super::read::SheetRead<ScoreEntry>;

/// Reads a scores workbook whole.
pub fn read_scores<RS: Read + Seek>(
    wb: &mut Workbook<RS>,
    file: &str,
) -> Result<ScoresRead, ReadError> {
    let spec = SmallSheet {
        name: SCORES_SHEET,
        columns: &SCORE_COLUMNS,
        header_check: |_| None,
        empty: Some("表头下没有数据行；应每行填写一位评审专家对一名人选的得分"),
    };
    // (ID number, expert) → the row that scored first.
    let mut seen: HashMap<(IdNumber, String), u32> = HashMap::new();
    read_small_sheet(wb, file, &spec, |row, cells, h, _| {
        let (entry, mut problems) = parse_score_row(row, cells, h);
        let entry = entry.and_then(|e| first_score(e, row, &mut seen, &mut problems));
        (entry, problems)
    })
}

/// Keeps the first score of an expert for a candidate; a repeat is refused with a problem.
fn first_score(
    e: ScoreEntry,
    row: u32,
    seen: &mut HashMap<(IdNumber, String), u32>,
    problems: &mut Vec<FieldProblem>,
) -> Option<ScoreEntry> {
    let key = (e.id_number.clone(), expert_key(&e.expert));
    match seen.get(&key) {
        Some(first) => {
            problems.push(FieldProblem::error(
                EXPERT,
                format!(
                    "评审专家“{}”对{}的得分在第{first}行已填写（身份证号码相同）；每位评审专家对每名人选只填一行，请删去重复的一行",
                    e.expert, e.name
                ),
            ));
            None
        }
        None => {
            seen.insert(key, row);
            Some(e)
        }
    }
}

/// An expert as compared for duplicates: spaces removed.
fn expert_key(expert: &str) -> String {
    half_width(expert)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Checks one scores row: the entry when every cell is sound, and every problem.
pub fn parse_score_row(
    row: u32,
    cells: &[Value],
    header: &Header,
) -> (Option<ScoreEntry>, Vec<FieldProblem>) {
    let mut problems = Vec::new();
    let cell = |i: usize| header.cell(cells, i);
    let name = checked(required_text(cell(0), NAME), &mut problems);
    let id_number = checked(id_number_cell(cell(1)), &mut problems);
    let expert = checked(required_text(cell(2), EXPERT), &mut problems);
    let score = checked(score_cell(cell(3)), &mut problems);
    let has_errors = problems.iter().any(|p| p.severity == Severity::Error);
    let complete = || {
        Some(ScoreEntry {
            id_number: id_number?,
            name: name?,
            expert: expert?,
            score: score?,
            row: Some(row),
        })
    };
    let entry = if has_errors { None } else { complete() };
    (entry, problems)
}

/// A 得分 cell: a number (as Excel shows it, 15 significant digits) or a text of digits with
/// at most one decimal point; 0 to 100 inclusive, at most two decimals. Trailing zeros are
/// dropped (`87.50` is 87.5).
pub fn score_cell(v: &Value) -> Result<Decimal, FieldProblem> {
    let bad = |shown: &str| {
        FieldProblem::error(SCORE, format!("“{shown}”不是有效的得分；{SCORE_EXPECTED}"))
    };
    let d = match v {
        Value::Number(f) => number_decimal(*f).ok_or_else(|| bad(&v.display()))?,
        Value::Text(s) => {
            let t = half_width(s);
            let t = t.trim();
            if t.is_empty() {
                return Err(missing_score());
            }
            text_decimal(t).ok_or_else(|| bad(t))?
        }
        Value::Empty => return Err(missing_score()),
        Value::Error(e) => {
            return Err(FieldProblem::error(
                SCORE,
                format!("单元格是错误值{e}；{SCORE_EXPECTED}"),
            ))
        }
        Value::Bool(_) | Value::Date(_) => return Err(bad(&v.display())),
    };
    let d = d.normalize();
    if d < Decimal::ZERO || d > Decimal::ONE_HUNDRED || d.scale() > 2 {
        return Err(bad(&d.to_string()));
    }
    Ok(d)
}

fn missing_score() -> FieldProblem {
    FieldProblem::error(
        SCORE,
        format!("“{SCORE}”为空；此项必须填写，{SCORE_EXPECTED}"),
    )
}

/// A number cell's value as Excel shows it: rounded to 15 significant digits (so a sum that
/// came out 87.30000000000001 is 87.3).
fn number_decimal(f: f64) -> Option<Decimal> {
    if !f.is_finite() || f.abs() > 1e15 {
        return None;
    }
    Decimal::from_scientific(&format!("{f:.14e}"))
        .ok()
        .map(|d| d.normalize())
}

/// A typed score: digits, optionally a point and more digits.
fn text_decimal(t: &str) -> Option<Decimal> {
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (t.contains('.') && frac.is_empty()) {
        return None;
    }
    if int.len() > 20 || frac.len() > 20 {
        return None;
    }
    Decimal::from_str(t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn scores() {
        let n = |f: f64| score_cell(&Value::Number(f));
        let t = |s: &str| score_cell(&Value::Text(s.into()));
        assert_eq!(n(87.5).unwrap(), dec!(87.5));
        assert_eq!(n(87.25).unwrap(), dec!(87.25));
        assert_eq!(n(0.0).unwrap(), dec!(0));
        assert_eq!(n(-0.0).unwrap(), dec!(0));
        assert_eq!(n(100.0).unwrap(), dec!(100));
        assert_eq!(n(85.1 + 2.2).unwrap(), dec!(87.3));
        assert_eq!(n(0.1 + 0.2).unwrap(), dec!(0.3));
        assert_eq!(t("87.50").unwrap(), dec!(87.5));
        assert_eq!(t(" ９０ ").unwrap(), dec!(90));
        assert_eq!(t("100.00").unwrap(), dec!(100));
        for bad in [
            n(100.01),
            n(-1.0),
            n(87.125),
            n(f64::NAN),
            n(1e300),
            t("101"),
            t("八十"),
            t("87.555"),
            t("-5"),
            t("1e2"),
            t("87."),
            t(".5"),
            t("87.5分"),
            t("99999999999999999999999999999999999"),
            score_cell(&Value::Bool(true)),
        ] {
            let e = bad.unwrap_err();
            assert!(e.message.contains(SCORE_EXPECTED), "{}", e.message);
            assert_eq!(e.column, SCORE);
        }
        assert!(t("").unwrap_err().message.contains("必须填写"));
    }
}
