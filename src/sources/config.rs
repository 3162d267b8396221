//! `[[source]]` tables: database sources of the roster or of status changes, checked when the
//! configuration is loaded. Pure: nothing here connects anywhere.

use crate::config::Config;
use crate::excel::read::{normalize_header, Column};
use serde::Deserialize;
use std::collections::BTreeMap;

/// What a source holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Roster rows (名册): taken in like a roster workbook, all or nothing per pull.
    Roster,
    /// Status changes (变动): taken in row by row, like `import changes --accept-valid`.
    Changes,
}

impl SourceKind {
    /// The contract's columns of this kind, in template order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            SourceKind::Roster => &crate::excel::roster::ROSTER_COLUMNS,
            SourceKind::Changes => &crate::excel::changes::CHANGE_COLUMNS,
        }
    }

    /// `roster` or `changes`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Roster => "roster",
            SourceKind::Changes => "changes",
        }
    }

    /// The sheet an input workbook of this kind has (and its error workbook).
    pub fn sheet(self) -> &'static str {
        match self {
            SourceKind::Roster => crate::excel::roster::ROSTER_SHEET,
            SourceKind::Changes => crate::excel::changes::CHANGES_SHEET,
        }
    }
}

/// Which database server a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceBackend {
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

/// What is read: a view (or table), or a query of the operator's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    /// `view = "hr.v_chief_technicians"`: dotted parts are schema and name.
    View(Vec<String>),
    /// `query = "SELECT …"`: read as a derived table.
    Query(String),
}

/// A `[[source]]` table that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[[source]] {source_name}: {message}")]
pub struct SourceConfigError {
    /// The source's name (or its position, `#2`, when it has none).
    pub source_name: String,
    pub message: String,
}

/// One database source, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    pub name: String,
    pub kind: SourceKind,
    /// The connection URL, without a password.
    pub url: String,
    pub backend: SourceBackend,
    pub relation: Relation,
    /// For each contract column of the kind (template order), the source column, if mapped.
    pub columns: Vec<Option<String>>,
    /// The source columns whose values identify a row (messages, deletion detection).
    pub key: Vec<String>,
    /// A column that grows with every insert and update (`updated_at`, an increasing id).
    pub watermark: Option<String>,
    /// The environment variable holding the password.
    pub password_env: String,
    /// An incremental source is read whole when its last full pull is this many days old
    /// (0: only on the first pull and with `--full`).
    pub full_every_days: u32,
    /// Attach the error workbook (full ID and account numbers) to the bureau's notice.
    pub attach_error_workbook: bool,
    pub connect_timeout_seconds: u64,
}

/// A key: one column or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// `[[source]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceToml {
    name: String,
    kind: SourceKind,
    url: String,
    view: Option<String>,
    query: Option<String>,
    key: Option<OneOrMany>,
    watermark: Option<String>,
    password_env: Option<String>,
    #[serde(default = "d_full_every")]
    full_every_days: u32,
    #[serde(default = "yes")]
    attach_error_workbook: bool,
    #[serde(default = "d_timeout")]
    connect_timeout_seconds: u64,
    #[serde(default)]
    columns: BTreeMap<String, String>,
}

fn d_full_every() -> u32 {
    7
}
fn yes() -> bool {
    true
}
fn d_timeout() -> u64 {
    30
}

/// The `[[source]]` tables of a configuration (none: an empty list).
pub fn sources_of(cfg: &Config) -> Result<Vec<SourceConfig>, SourceConfigError> {
    let Some(value) = cfg.other.get("source") else {
        return Ok(Vec::new());
    };
    let Some(tables) = value.as_array() else {
        return Err(SourceConfigError {
            source_name: "source".into(),
            message: "write each source as a [[source]] table".into(),
        });
    };
    let mut out: Vec<SourceConfig> = Vec::with_capacity(tables.len());
    for (i, t) in tables.iter().enumerate() {
        let raw: SourceToml = t.clone().try_into().map_err(|e: toml::de::Error| {
            let name = t.get("name").and_then(|n| n.as_str());
            SourceConfigError {
                source_name: name.map_or_else(|| format!("#{}", i + 1), str::to_string),
                message: e.message().to_string(),
            }
        })?;
        let s = check(raw)?;
        if out.iter().any(|o| o.name == s.name) {
            return Err(SourceConfigError {
                source_name: s.name,
                message: "two sources have this name".into(),
            });
        }
        out.push(s);
    }
    Ok(out)
}

/// The environment variable a source's password is read from by default:
/// `CHIEFTECH_SOURCE_<NAME>_PASSWORD`, the name upper-cased, `-` as `_`.
pub fn default_password_env(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("CHIEFTECH_SOURCE_{upper}_PASSWORD")
}

fn check(raw: SourceToml) -> Result<SourceConfig, SourceConfigError> {
    let name = raw.name.clone();
    let bad = |message: String| SourceConfigError {
        source_name: name.clone(),
        message,
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(bad(
            "name must be letters, digits, `_` or `-` (it names files and an environment variable)"
                .into(),
        ));
    }
    let backend = backend_of(&raw.url).map_err(&bad)?;
    let relation = relation_of(raw.view.as_deref(), raw.query.as_deref()).map_err(&bad)?;
    let columns = columns_of(raw.kind, &raw.columns).map_err(&bad)?;
    let key = key_of(raw.kind, raw.key.clone(), &columns).map_err(&bad)?;
    for c in key.iter().chain(raw.watermark.iter()) {
        identifier(c).map_err(&bad)?;
    }
    if raw.connect_timeout_seconds == 0 {
        return Err(bad("connect_timeout_seconds must be at least 1".into()));
    }
    Ok(SourceConfig {
        password_env: raw
            .password_env
            .clone()
            .unwrap_or_else(|| default_password_env(&name)),
        name: raw.name,
        kind: raw.kind,
        url: raw.url,
        backend,
        relation,
        columns,
        key,
        watermark: raw.watermark,
        full_every_days: raw.full_every_days,
        attach_error_workbook: raw.attach_error_workbook,
        connect_timeout_seconds: raw.connect_timeout_seconds,
    })
}

/// The server a URL names; a password in it is refused (it belongs in the environment).
fn backend_of(url: &str) -> Result<SourceBackend, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("url `{url}` is not a URL like postgres://user@host/db"))?;
    let backend = match scheme {
        "postgres" | "postgresql" => SourceBackend::Postgres,
        "mysql" | "mariadb" => SourceBackend::MySql,
        other => {
            return Err(format!(
                "url: `{other}://` is not supported; use postgres:// or mysql:// (MariaDB too)"
            ))
        }
    };
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    if let Some((creds, _)) = authority.rsplit_once('@') {
        if creds.contains(':') {
            return Err(
                "url holds a password: remove it and set it in the environment (password_env)"
                    .into(),
            );
        }
    }
    Ok(backend)
}

fn relation_of(view: Option<&str>, query: Option<&str>) -> Result<Relation, String> {
    match (view, query) {
        (Some(v), None) => {
            let parts: Vec<String> = v.split('.').map(str::to_string).collect();
            for p in &parts {
                identifier(p)?;
            }
            Ok(Relation::View(parts))
        }
        (None, Some(q)) => {
            let t = q.trim().trim_end_matches(';').trim();
            let word = t
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if word != "select" && word != "with" {
                return Err("query must be a SELECT".into());
            }
            if t.contains(';') {
                return Err("query must be one statement".into());
            }
            Ok(Relation::Query(t.to_string()))
        }
        _ => Err("give either view or query (one of them)".into()),
    }
}

/// A column or view name: anything printable without quote characters.
pub fn identifier(s: &str) -> Result<(), String> {
    if s.trim().is_empty() || s.len() > 128 {
        return Err(format!("`{s}` is not a usable column or view name"));
    }
    if s.chars()
        .any(|c| c.is_control() || c == '"' || c == '`' || c == '\'' || c == '\\')
    {
        return Err(format!(
            "`{s}`: a column or view name may not hold quotes, backslashes or control characters"
        ));
    }
    Ok(())
}

/// `[source.columns]`: contract column (or alias) → source column, as one slot per contract
/// column; every required column must be mapped.
fn columns_of(
    kind: SourceKind,
    given: &BTreeMap<String, String>,
) -> Result<Vec<Option<String>>, String> {
    let contract = kind.columns();
    let mut out: Vec<Option<String>> = vec![None; contract.len()];
    for (ours, theirs) in given {
        let n = normalize_header(ours);
        let i = contract
            .iter()
            .position(|c| {
                normalize_header(c.name) == n || c.aliases.iter().any(|a| normalize_header(a) == n)
            })
            .ok_or_else(|| {
                let names: Vec<&str> = contract.iter().map(|c| c.name).collect();
                format!(
                    "columns: `{ours}` is not a {} column; the columns are {}",
                    kind.as_str(),
                    names.join("、")
                )
            })?;
        if out[i].is_some() {
            return Err(format!("columns: `{}` is mapped twice", contract[i].name));
        }
        identifier(theirs)?;
        out[i] = Some(theirs.clone());
    }
    let unmapped: Vec<&str> = contract
        .iter()
        .zip(&out)
        .filter(|(c, m)| c.required && m.is_none())
        .map(|(c, _)| c.name)
        .collect();
    if !unmapped.is_empty() {
        return Err(format!(
            "columns: these required columns are not mapped to a source column: {}",
            unmapped.join("、")
        ));
    }
    Ok(out)
}

/// The key columns: as given, else the natural key of the kind (roster: ID number and approval
/// date; changes: ID number, change type and effective date).
fn key_of(
    kind: SourceKind,
    given: Option<OneOrMany>,
    columns: &[Option<String>],
) -> Result<Vec<String>, String> {
    let key = match given {
        Some(OneOrMany::One(k)) => vec![k],
        Some(OneOrMany::Many(ks)) => ks,
        None => {
            let natural: &[usize] = match kind {
                SourceKind::Roster => &[1, 5],
                SourceKind::Changes => &[1, 2, 3],
            };
            natural
                .iter()
                .filter_map(|i| columns.get(*i).cloned().flatten())
                .collect()
        }
    };
    if key.is_empty() {
        return Err("key must name at least one source column".into());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const ROSTER: &str = r#"
[[source]]
name = "hr"
kind = "roster"
url = "postgres://reader@db.example/hr"
view = "hr.v_sxjs"
watermark = "updated_at"
[source.columns]
"姓名" = "xm"
"身份证号" = "sfzh"
"工作单位" = "gzdw"
"职业(工种)" = "gz"
"职业资格等级" = "dj"
"批准日期" = "pzrq"
"批准文号" = "pzwh"
"银行账号" = "yhzh"
"开户行" = "khh"
"联系电话" = "lxdh"
"#;

    fn parse(text: &str) -> Result<Vec<SourceConfig>, String> {
        let cfg = Config::parse(text, Path::new("/etc/c.toml")).map_err(|e| e.to_string())?;
        sources_of(&cfg).map_err(|e| e.to_string())
    }

    #[test]
    fn a_roster_view_with_aliases_and_the_natural_key() {
        let s = &parse(ROSTER).unwrap()[0];
        assert_eq!(s.kind, SourceKind::Roster);
        assert_eq!(s.backend, SourceBackend::Postgres);
        assert_eq!(
            s.relation,
            Relation::View(vec!["hr".into(), "v_sxjs".into()])
        );
        assert_eq!(s.columns[1].as_deref(), Some("sfzh"));
        assert_eq!(s.columns[3].as_deref(), Some("gz"));
        assert_eq!(s.columns[10], None);
        assert_eq!(s.key, vec!["sfzh".to_string(), "pzrq".to_string()]);
        assert_eq!(s.password_env, "CHIEFTECH_SOURCE_HR_PASSWORD");
        assert_eq!(s.full_every_days, 7);
    }

    #[test]
    fn mistakes_are_named_at_load() {
        let cases = [
            (ROSTER.replace("reader@", "reader:secret@"), "password"),
            (ROSTER.replace("postgres://", "oracle://"), "not supported"),
            (ROSTER.replace("\"联系电话\" = \"lxdh\"\n", ""), "联系电话"),
            (ROSTER.replace("\"开户行\"", "\"开户银行\""), "开户银行"),
            (
                ROSTER.replace("view = \"hr.v_sxjs\"", ""),
                "either view or query",
            ),
            (
                ROSTER.replace("name = \"hr\"", "name = \"h r\""),
                "name must be",
            ),
            (ROSTER.replace("\"xm\"", "\"x\\\"m\""), "quotes"),
            (
                ROSTER.replace("kind = \"roster\"", "kind = \"people\""),
                "people",
            ),
            (format!("{ROSTER}\n{ROSTER}"), "two sources"),
            (
                ROSTER.replace("view = \"hr.v_sxjs\"", "query = \"DELETE FROM t\""),
                "SELECT",
            ),
        ];
        for (text, want) in cases {
            let e = parse(&text).unwrap_err();
            assert!(e.contains(want), "{want}: {e}");
            assert!(e.contains("[[source]]"), "{e}");
        }
    }

    #[test]
    fn changes_source_with_a_query_and_a_key() {
        let text = r#"
[[source]]
name = "bd-2"
kind = "changes"
url = "mariadb://reader@127.0.0.1:3306/hr"
query = "SELECT * FROM bd WHERE zt = 1"
key = "bdid"
[source.columns]
"姓名" = "xm"
"身份证号码" = "sfzh"
"变动类型" = "bdlx"
"生效日期" = "sxrq"
"#;
        let s = &parse(text).unwrap()[0];
        assert_eq!(s.backend, SourceBackend::MySql);
        assert_eq!(s.key, vec!["bdid".to_string()]);
        assert_eq!(s.watermark, None);
        assert_eq!(s.password_env, "CHIEFTECH_SOURCE_BD_2_PASSWORD");
        assert!(matches!(s.relation, Relation::Query(_)));
        assert!(parse("").unwrap().is_empty());
    }
}
