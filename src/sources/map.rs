//! The functional core of a pull: the SELECT a source is read with, and a source row (its
//! values as text) turned into a roster or change entry by the very checks a workbook row
//! goes through ([`parse_roster_row`], [`parse_change_row`]).

use super::config::{Relation, SourceBackend, SourceConfig, SourceKind};
use crate::excel::changes::parse_change_row;
use crate::excel::read::{FieldProblem, Header, Value};
use crate::excel::roster::parse_roster_row;
use crate::input::{ChangeEntry, RosterEntry};

/// Separates the values of a many-column key as stored in the ledger.
pub const KEY_SEPARATOR: char = '\u{1f}';

/// Where each needed value is in a row read from the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The source columns selected, each once.
    pub selected: Vec<String>,
    /// For each contract column (template order): its position in `selected`.
    pub contract: Vec<Option<usize>>,
    /// The key columns' positions.
    pub key: Vec<usize>,
    /// The watermark's position.
    pub watermark: Option<usize>,
    header: Header,
}

/// A row taken apart: its key and watermark, and the entry or its problems.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedRow<E> {
    /// The row's number in the pull (1-based).
    pub row: u32,
    /// The key as stored (values joined by [`KEY_SEPARATOR`]).
    pub key: String,
    pub watermark: Option<String>,
    pub entry: Option<E>,
    pub problems: Vec<FieldProblem>,
    /// The row's values in contract column order (for the error workbook).
    pub cells: Vec<Option<String>>,
}

impl Plan {
    /// The columns a source is read with.
    pub fn new(s: &SourceConfig) -> Plan {
        let mut selected: Vec<String> = Vec::new();
        let mut at = |c: &str| match selected.iter().position(|x| x == c) {
            Some(i) => i,
            None => {
                selected.push(c.to_string());
                selected.len() - 1
            }
        };
        let contract: Vec<Option<usize>> = s
            .columns
            .iter()
            .map(|c| c.as_deref().map(&mut at))
            .collect();
        let key = s.key.iter().map(|c| at(c)).collect();
        let watermark = s.watermark.as_deref().map(&mut at);
        let n = contract.len();
        Plan {
            selected,
            contract,
            key,
            watermark,
            header: Header {
                row: 1,
                positions: (0..n).map(Some).collect(),
                width: n,
                ambiguous: Vec::new(),
            },
        }
    }

    /// The row's key as stored.
    pub fn key(&self, values: &[Option<String>]) -> String {
        let parts: Vec<&str> = self
            .key
            .iter()
            .map(|i| values.get(*i).and_then(|v| v.as_deref()).unwrap_or(""))
            .collect();
        parts.join(&KEY_SEPARATOR.to_string())
    }

    /// The row's values in contract column order.
    pub fn cells(&self, values: &[Option<String>]) -> Vec<Option<String>> {
        self.contract
            .iter()
            .map(|p| p.and_then(|i| values.get(i).cloned().flatten()))
            .collect()
    }

    fn split(&self, values: &[Option<String>]) -> (String, Option<String>, Vec<Option<String>>) {
        let watermark = self
            .watermark
            .and_then(|i| values.get(i).cloned().flatten());
        (self.key(values), watermark, self.cells(values))
    }

    /// A roster row: the checks of a roster workbook's row.
    pub fn roster_row(&self, row: u32, values: &[Option<String>]) -> MappedRow<RosterEntry> {
        let (key, watermark, cells) = self.split(values);
        let (entry, problems) = parse_roster_row(row, &as_cells(&cells), &self.header, false);
        MappedRow {
            row,
            key,
            watermark,
            entry,
            problems,
            cells,
        }
    }

    /// A changes row: the checks of a changes workbook's row.
    pub fn change_row(&self, row: u32, values: &[Option<String>]) -> MappedRow<ChangeEntry> {
        let (key, watermark, cells) = self.split(values);
        let (entry, problems) = parse_change_row(row, &as_cells(&cells), &self.header, false);
        MappedRow {
            row,
            key,
            watermark,
            entry,
            problems,
            cells,
        }
    }
}

/// Text values as workbook cells: text cells (so ID and account numbers are read as text), a
/// NULL as an empty cell.
fn as_cells(values: &[Option<String>]) -> Vec<Value> {
    values
        .iter()
        .map(|v| match v {
            Some(t) => Value::Text(t.clone()),
            None => Value::Empty,
        })
        .collect()
}

/// A stored key as a clerk reads it: `sfzh=3703**********1234，pzrq=2021-10-15` (numbers
/// masked when `masked`).
pub fn key_display(columns: &[String], key: &str, masked: bool) -> String {
    let parts: Vec<String> = columns
        .iter()
        .zip(key.split(KEY_SEPARATOR))
        .map(|(c, v)| {
            let v = if masked {
                crate::rules::id_number::mask_numbers(v)
            } else {
                v.to_string()
            };
            format!("{c}={v}")
        })
        .collect();
    parts.join("，")
}

/// A name quoted for the server: `"x"` on PostgreSQL, `` `x` `` on MySQL/MariaDB (names with
/// quote characters are refused when the configuration is loaded).
pub fn quote(backend: SourceBackend, name: &str) -> String {
    match backend {
        SourceBackend::Postgres => format!("\"{name}\""),
        SourceBackend::MySql => format!("`{name}`"),
    }
}

/// Whether a stored watermark may be written into the SELECT as a literal: the text of a
/// number or a date and time, nothing else.
pub fn watermark_literal_ok(w: &str) -> bool {
    !w.is_empty()
        && w.len() <= 64
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || " :.+-_/".contains(c))
}

/// The SELECT a pull reads: every needed column as text, from the view or the query; with
/// `since`, only rows whose watermark is above it; ordered by the watermark when there is one
/// (so the last row read carries the largest).
pub fn select_sql(s: &SourceConfig, plan: &Plan, since: Option<&str>) -> Result<String, String> {
    let b = s.backend;
    let text_type = match b {
        SourceBackend::Postgres => "TEXT",
        SourceBackend::MySql => "CHAR",
    };
    let cols: Vec<String> = plan
        .selected
        .iter()
        .map(|c| format!("CAST(q.{} AS {text_type})", quote(b, c)))
        .collect();
    let from = match &s.relation {
        Relation::View(parts) => {
            let q: Vec<String> = parts.iter().map(|p| quote(b, p)).collect();
            q.join(".")
        }
        Relation::Query(q) => format!("({q})"),
    };
    let mut sql = format!("SELECT {} FROM {from} AS q", cols.join(", "));
    if let Some(w) = &s.watermark {
        let w = quote(b, w);
        if let Some(since) = since {
            if !watermark_literal_ok(since) {
                return Err(format!(
                    "the stored watermark `{since}` is not a number or a time; pull with --full"
                ));
            }
            sql.push_str(&format!(" WHERE q.{w} > '{since}'"));
        }
        sql.push_str(&format!(" ORDER BY q.{w}"));
    }
    Ok(sql)
}

/// The kind's sheet name and contract column names (for the error workbook's header).
pub fn contract_names(kind: SourceKind) -> Vec<&'static str> {
    kind.columns().iter().map(|c| c.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn source(kind: &str, extra: &str, columns: &str) -> SourceConfig {
        let text = format!(
            "[[source]]\nname = \"s\"\nkind = \"{kind}\"\nurl = \"mysql://r@h/db\"\nview = \"v\"\n{extra}\n[source.columns]\n{columns}"
        );
        let cfg = Config::parse(&text, Path::new("c.toml")).unwrap();
        super::super::config::sources_of(&cfg).unwrap().remove(0)
    }

    const ROSTER_COLS: &str = "\"姓名\" = \"xm\"\n\"身份证号码\" = \"sfzh\"\n\"工作单位\" = \"gzdw\"\n\"职业（工种）\" = \"gz\"\n\"职业资格等级\" = \"dj\"\n\"批准日期\" = \"pzrq\"\n\"批准文号\" = \"pzwh\"\n\"银行账号\" = \"yhzh\"\n\"开户行\" = \"khh\"\n\"联系电话\" = \"lxdh\"";

    fn row(values: &[&str]) -> Vec<Option<String>> {
        values
            .iter()
            .map(|v| (!v.is_empty()).then(|| v.to_string()))
            .collect()
    }

    #[test]
    fn the_select_reads_text_in_watermark_order() {
        let s = source("roster", "watermark = \"updated_at\"", ROSTER_COLS);
        let plan = Plan::new(&s);
        assert_eq!(
            plan.selected.len(),
            11,
            "sfzh and pzrq once, updated_at added"
        );
        assert_eq!(plan.key, vec![1, 5]);
        assert_eq!(plan.watermark, Some(10));
        let sql = select_sql(&s, &plan, None).unwrap();
        assert!(
            sql.starts_with("SELECT CAST(q.`xm` AS CHAR), CAST(q.`sfzh` AS CHAR)"),
            "{sql}"
        );
        assert!(
            sql.ends_with("FROM `v` AS q ORDER BY q.`updated_at`"),
            "{sql}"
        );
        let sql = select_sql(&s, &plan, Some("2024-05-01 10:00:00.5")).unwrap();
        assert!(
            sql.ends_with("WHERE q.`updated_at` > '2024-05-01 10:00:00.5' ORDER BY q.`updated_at`"),
            "{sql}"
        );
        assert!(select_sql(&s, &plan, Some("1' OR '1'='1")).is_err());
    }

    #[test]
    fn a_sound_row_is_a_roster_entry_and_a_bad_one_names_its_column() {
        let s = source("roster", "watermark = \"updated_at\"", ROSTER_COLS);
        let plan = Plan::new(&s);
        let good = row(&[
            "王强",
            "370303198001011234",
            "齐鲁石化",
            "焊工",
            "高级技师",
            "2021-10-15 00:00:00",
            "张人社字〔2021〕12号",
            "6222020200012345678",
            "工商银行",
            "13800000000",
            "2024-05-01 10:00:00",
        ]);
        let m = plan.roster_row(3, &good);
        let e = m.entry.unwrap();
        assert_eq!(e.approval_date.to_string(), "2021-10-15");
        assert_eq!(e.row, Some(3));
        assert_eq!(
            m.key,
            format!("370303198001011234{KEY_SEPARATOR}2021-10-15 00:00:00")
        );
        assert_eq!(m.watermark.as_deref(), Some("2024-05-01 10:00:00"));
        assert_eq!(
            key_display(&s.key, &m.key, true),
            "sfzh=3703**********1234，pzrq=2021-10-15 00:00:00"
        );
        let mut bad = good.clone();
        bad[1] = Some("370303198001011235".into());
        bad[4] = None;
        let m = plan.roster_row(4, &bad);
        assert!(m.entry.is_none());
        let cols: Vec<&str> = m.problems.iter().map(|p| p.column).collect();
        assert!(
            cols.contains(&"身份证号码") && cols.contains(&"职业资格等级"),
            "{cols:?}"
        );
        assert_eq!(m.cells.len(), 11);
        assert_eq!(m.cells[4], None);
    }

    #[test]
    fn a_changes_row_goes_through_the_workbook_checks() {
        let cols = "\"姓名\" = \"xm\"\n\"身份证号码\" = \"sfzh\"\n\"变动类型\" = \"bdlx\"\n\"生效日期\" = \"sxrq\"\n\"结束日期\" = \"jsrq\"";
        let s = source("changes", "key = \"id\"\nwatermark = \"id\"", cols);
        let plan = Plan::new(&s);
        assert_eq!(plan.key, plan.watermark.into_iter().collect::<Vec<_>>());
        let m = plan.change_row(
            1,
            &row(&["王强", "370303198001011234", "退休", "2023-06-30", "", "7"]),
        );
        assert!(m.entry.is_some(), "{:?}", m.problems);
        assert_eq!(m.key, "7");
        let m = plan.change_row(
            2,
            &row(&["王强", "370303198001011234", "出国", "2023-06-30", "", "8"]),
        );
        assert_eq!(m.problems[0].column, "变动类型");
    }
}
