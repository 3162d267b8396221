//! Database sources against a real PostgreSQL and a real MariaDB (started by `.ci/run`): a
//! personnel-system database per test, with a table and a view in its shape (pinyin columns),
//! pulled into a ledger on SQLite (and on PostgreSQL for the first pull).
//!
//! PostgreSQL is reached at `CHIEFTECH_TEST_PG` (default `postgres://postgres@127.0.0.1:5432`),
//! MariaDB at `CHIEFTECH_TEST_MARIADB` (default `mysql://root@127.0.0.1:3306`). A server that
//! does not answer makes its tests print a loud SKIPPED line, except under `CI=true`, where they
//! fail.

mod common;

use chieftech::config::Config;
use chieftech::rules::id_number::make_id;
use chieftech::rules::money::fen_str;
use chieftech::rules::{Reporter, RulesConfig};
use chieftech::sources::{sources_of, PullOptions, PullReport, SourceError};
use chieftech::store::payrun::RunPolicy;
use chieftech::store::Store;
use chrono::NaiveDate;
use sqlx::Row;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Pg,
    Maria,
}

/// A source database made for one test and dropped after it.
struct SourceDb {
    server: Server,
    admin: String,
    name: String,
    url: String,
    pool: sqlx::AnyPool,
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

async fn source_db(server: Server) -> Option<SourceDb> {
    sqlx::any::install_default_drivers();
    let (base, admin_db) = match server {
        Server::Pg => (
            std::env::var("CHIEFTECH_TEST_PG")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
            "postgres",
        ),
        Server::Maria => (
            std::env::var("CHIEFTECH_TEST_MARIADB")
                .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into()),
            "test",
        ),
    };
    let admin = format!("{base}/{admin_db}");
    let pool = match sqlx::AnyPool::connect(&admin).await {
        Ok(p) => p,
        Err(e) if under_ci() => panic!("{server:?} at {admin} does not answer under CI=true: {e}"),
        Err(e) => {
            eprintln!("\n*** SKIPPED {server:?} source test: {admin} does not answer ({e}) ***\n");
            return None;
        }
    };
    let name = format!("ct_src_{}_{}", std::process::id(), rand::random::<u32>());
    run(&pool, &format!("CREATE DATABASE {name}")).await;
    pool.close().await;
    let url = format!("{base}/{name}");
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let db = SourceDb {
        server,
        admin,
        name,
        url,
        pool,
    };
    db.schema().await;
    Some(db)
}

async fn run(pool: &sqlx::AnyPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

impl Drop for SourceDb {
    fn drop(&mut self) {
        let (admin, name, server) = (self.admin.clone(), self.name.clone(), self.server);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(p) = sqlx::AnyPool::connect(&admin).await {
                    let sql = match server {
                        Server::Pg => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        Server::Maria => format!("DROP DATABASE IF EXISTS {name}"),
                    };
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&p).await;
                    p.close().await;
                }
            });
        })
        .join()
        .ok();
    }
}

impl SourceDb {
    async fn exec(&self, sql: &str) {
        run(&self.pool, sql).await;
    }

    /// The personnel system: people (人员) and status changes (变动), each behind a view.
    async fn schema(&self) {
        let ts = match self.server {
            Server::Pg => "TIMESTAMP(6)",
            Server::Maria => "DATETIME(6)",
        };
        self.exec(&format!("CREATE TABLE renyuan (id INT PRIMARY KEY, xm VARCHAR(50) NOT NULL, sfzh VARCHAR(18), gzdw VARCHAR(100), gz VARCHAR(50), dj VARCHAR(20), pzrq DATE, pzwh VARCHAR(50), yhzh VARCHAR(30), khh VARCHAR(50), lxdh VARCHAR(20), yx VARCHAR(50), updated_at {ts} NOT NULL)")).await;
        self.exec("CREATE VIEW v_sxjs AS SELECT xm, sfzh, gzdw, gz, dj, pzrq, pzwh, yhzh, khh, lxdh, yx, updated_at FROM renyuan").await;
        self.exec(&format!("CREATE TABLE biandong (id INT PRIMARY KEY, xm VARCHAR(50), sfzh VARCHAR(18), bdlx VARCHAR(20), sxrq DATE, jsrq DATE, xdw VARCHAR(100), updated_at {ts} NOT NULL)")).await;
        self.exec("CREATE VIEW v_bd AS SELECT id, xm, sfzh, bdlx, sxrq, jsrq, xdw, updated_at FROM biandong").await;
    }

    async fn person(&self, id: i32, p: &P, updated: &str) {
        self.exec(&format!(
            "INSERT INTO renyuan VALUES ({id}, '{}', '{}', '{}', '焊工', '高级技师', '{}', '张人社字〔{}〕{id}号', '{}', '工商银行张店支行', '13800000000', NULL, '{updated}')",
            p.name, p.id, p.unit, p.approved, &p.approved[..4], p.account
        ))
        .await;
    }

    async fn change(&self, id: i32, p: &P, kind: &str, effective: &str, updated: &str) {
        self.exec(&format!(
            "INSERT INTO biandong VALUES ({id}, '{}', '{}', '{kind}', '{effective}', NULL, NULL, '{updated}')",
            p.name, p.id
        ))
        .await;
    }
}

/// A person of the source.
#[derive(Clone)]
struct P {
    name: &'static str,
    id: String,
    unit: &'static str,
    approved: &'static str,
    account: &'static str,
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn people() -> Vec<P> {
    vec![
        P {
            name: "王强",
            id: make_id("370303", d("1975-03-02"), 11).to_string(),
            unit: "齐鲁石化",
            approved: "2021-10-15",
            account: "6222020200011111111",
        },
        P {
            name: "李娜",
            id: make_id("370303", d("1980-07-21"), 22).to_string(),
            unit: "张店钢铁",
            approved: "2022-05-20",
            account: "6222020200022222222",
        },
        P {
            name: "赵刚",
            id: make_id("370303", d("1968-11-30"), 33).to_string(),
            unit: "齐鲁石化",
            approved: "2021-12-01",
            account: "6222020200033333333",
        },
    ]
}

/// The configuration: both sources, reports and mail in `dir`.
fn config(dir: &Path, url: &str, password_env: &str) -> Config {
    let text = config_text(dir, url, password_env);
    Config::parse(&text, &dir.join("chieftech.toml")).unwrap()
}

/// The configuration file's text: two sources (roster `hr`, changes `bd`) on `url`.
fn config_text(dir: &Path, url: &str, password_env: &str) -> String {
    format!(
        r#"
[paths]
reports = "{dir}/reports"
[mail]
outbox_dir = "{dir}/outbox"
templates = "{dir}/no-templates"
[[source]]
name = "hr"
kind = "roster"
url = "{url}"
view = "v_sxjs"
watermark = "updated_at"
password_env = "{password_env}"
[source.columns]
"姓名" = "xm"
"身份证号码" = "sfzh"
"工作单位" = "gzdw"
"职业（工种）" = "gz"
"职业资格等级" = "dj"
"批准日期" = "pzrq"
"批准文号" = "pzwh"
"银行账号" = "yhzh"
"开户行" = "khh"
"联系电话" = "lxdh"
"电子邮箱" = "yx"
[[source]]
name = "bd"
kind = "changes"
url = "{url}"
view = "v_bd"
key = "id"
watermark = "updated_at"
password_env = "{password_env}"
[source.columns]
"姓名" = "xm"
"身份证号码" = "sfzh"
"变动类型" = "bdlx"
"生效日期" = "sxrq"
"结束日期" = "jsrq"
"新单位" = "xdw"
"#,
        dir = dir.display()
    )
}

async fn pull(store: &Store, cfg: &Config, name: &str, full: bool) -> PullReport {
    try_pull(store, cfg, name, full).await.unwrap()
}

async fn try_pull(
    store: &Store,
    cfg: &Config,
    name: &str,
    full: bool,
) -> Result<PullReport, SourceError> {
    let s = sources_of(cfg)
        .unwrap()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap();
    let opts = PullOptions {
        full,
        operator: "clerk".into(),
        today: d("2024-06-01"),
    };
    let rules = cfg.rules_config().unwrap();
    chieftech::sources::pull(store, cfg, &rules, &s, &opts).await
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

/// Everything a pull may record: the ledger, its audit trail, its sources and its mail.
async fn recorded(store: &Store) -> String {
    let mut s = store.dump().await.unwrap();
    for t in ["audit", "sources", "outbox"] {
        let n = count(store, &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {t}")).await;
        s.push_str(&format!("{t}: {n}\n"));
    }
    s
}

async fn outbox_keys(store: &Store) -> Vec<String> {
    sqlx::query("SELECT key FROM outbox ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>(0).unwrap())
        .collect()
}

/// First pull, nothing new, an incremental pull with a new and a changed row, a deleted row.
async fn lifecycle(server: Server, ledger: &Store) {
    let Some(src) = source_db(server).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &src.url, "CHIEFTECH_TEST_NO_SUCH_PASSWORD");
    let ps = people();
    src.person(1, &ps[0], "2024-01-01 10:00:00").await;
    src.person(2, &ps[1], "2024-01-02 10:00:00").await;
    // First pull: every row, full.
    let r = pull(ledger, &cfg, "hr", false).await;
    assert!(r.full && r.recorded && !r.refused, "{r:?}");
    assert_eq!(r.rows_read, 2);
    assert!(r.line.contains("新增2条"), "{}", r.line);
    assert_eq!(
        r.watermark.as_deref().map(|w| &w[..19]),
        Some("2024-01-02 10:00:00")
    );
    // Nothing new: nothing read, nothing recorded; a full pull neither.
    let before = recorded(ledger).await;
    let r = pull(ledger, &cfg, "hr", false).await;
    assert!(!r.full && !r.recorded && r.rows_read == 0, "{r:?}");
    let r = pull(ledger, &cfg, "hr", true).await;
    assert!(r.full && !r.recorded && r.rows_read == 2, "{r:?}");
    assert!(r.line.contains("未做任何更改"), "{}", r.line);
    assert_eq!(recorded(ledger).await, before);
    // A new row and a changed account: only those two are read; the appointment is updated
    // and audited as a re-imported roster row is.
    src.person(3, &ps[2], "2024-02-01 09:00:00").await;
    src.exec("UPDATE renyuan SET yhzh = '6222020200099999999', updated_at = '2024-02-02 09:00:00' WHERE id = 1").await;
    let r = pull(ledger, &cfg, "hr", false).await;
    assert!(!r.full && r.recorded, "{r:?}");
    assert_eq!(r.rows_read, 2);
    assert!(r.line.contains("新增1条，更新1条"), "{}", r.line);
    let dump = ledger.dump().await.unwrap();
    assert!(
        dump.contains(&format!("{}|2021-10-15|", ps[0].id)) && dump.contains("6222020200099999999"),
        "{dump}"
    );
    assert_eq!(
        count(
            ledger,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM audit WHERE action = 'roster-update'"
        )
        .await,
        1
    );
    // A deleted row: the incremental pull cannot see it; the full pull reports it once, and
    // voids nothing.
    src.exec("DELETE FROM renyuan WHERE id = 2").await;
    let r = pull(ledger, &cfg, "hr", false).await;
    assert_eq!((r.rows_read, r.missing), (0, 0));
    let r = pull(ledger, &cfg, "hr", true).await;
    assert_eq!(r.missing, 1, "{r:?}");
    assert!(r.line.contains("1行已不在数据源中"), "{}", r.line);
    let keys = outbox_keys(ledger).await;
    assert!(
        keys.iter().any(|k| k.starts_with("source-missing:hr:")),
        "{keys:?}"
    );
    let live = count(
        ledger,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM appointments WHERE voided_at IS NULL",
    )
    .await;
    assert_eq!(live, 3, "nothing voided");
    let body: String = sqlx::query("SELECT body FROM outbox WHERE key LIKE 'source-missing:%'")
        .fetch_one(ledger.pool())
        .await
        .unwrap()
        .get(0);
    assert!(
        body.contains("3703**********") && !body.contains(&ps[1].id),
        "{body}"
    );
    let r = pull(ledger, &cfg, "hr", true).await;
    assert_eq!(r.missing, 0, "once per key");
    assert_eq!(outbox_keys(ledger).await.len(), keys.len());
}

#[tokio::test]
async fn postgres_source_lifecycle_on_sqlite_and_postgres_ledgers() {
    let ledger = common::sqlite().await;
    lifecycle(Server::Pg, &ledger.store).await;
    if let Some(pg) = common::postgres().await {
        lifecycle(Server::Pg, &pg.store).await;
    }
}

#[tokio::test]
async fn mariadb_source_lifecycle() {
    let ledger = common::sqlite().await;
    lifecycle(Server::Maria, &ledger.store).await;
}

/// A bad ID number: the roster pull is refused whole, the changes pull records the others;
/// each bad row is named by source, key and column, written to an error workbook and mailed.
async fn bad_rows(server: Server) {
    let Some(src) = source_db(server).await else {
        return;
    };
    let ledger = common::sqlite().await;
    let store = &ledger.store;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &src.url, "CHIEFTECH_TEST_NO_SUCH_PASSWORD");
    let ps = people();
    src.person(1, &ps[0], "2024-01-01 10:00:00").await;
    let mut bad = people().remove(1);
    let last = if bad.id.ends_with('0') { "1" } else { "0" };
    bad.id = format!("{}{last}", &bad.id[..17]);
    src.person(2, &bad, "2024-01-02 10:00:00").await;
    let r = pull(store, &cfg, "hr", false).await;
    assert!(r.refused && !r.recorded, "{r:?}");
    assert_eq!(
        count(store, "SELECT CAST(COUNT(*) AS BIGINT) FROM appointments").await,
        0,
        "all or nothing"
    );
    let p = r
        .problems
        .iter()
        .find(|p| p.column.as_deref() == Some("身份证号码"))
        .unwrap();
    let shown = p.to_string();
    assert!(
        shown.contains("数据源hr") && shown.contains("sfzh=3703") && shown.contains("源列sfzh"),
        "{shown}"
    );
    let wb = r.error_workbook.clone().unwrap();
    assert!(wb.is_file(), "{}", wb.display());
    assert!(outbox_keys(store)
        .await
        .iter()
        .any(|k| k.starts_with("source-refused:hr:")));
    // Fixed in the source: the next pull takes both in.
    src.exec(&format!(
        "UPDATE renyuan SET sfzh = '{}', updated_at = '2024-01-03 10:00:00' WHERE id = 2",
        ps[1].id
    ))
    .await;
    let r = pull(store, &cfg, "hr", false).await;
    assert!(
        r.recorded && !r.refused && r.line.contains("新增2条"),
        "{r:?}"
    );
    // Changes: the good row is recorded, the bad one named.
    src.change(1, &ps[0], "退休", "2023-06-30", "2024-03-01 00:00:00")
        .await;
    src.change(2, &ps[1], "出国", "2023-06-30", "2024-03-02 00:00:00")
        .await;
    let r = pull(store, &cfg, "bd", false).await;
    assert!(r.refused && r.recorded, "{r:?}");
    assert!(r.line.contains("已登记1条变动"), "{}", r.line);
    let p = r
        .problems
        .iter()
        .find(|p| p.column.as_deref() == Some("变动类型"))
        .unwrap();
    assert!(p.to_string().contains("id=2"), "{p}");
    assert!(r.error_workbook.as_ref().unwrap().is_file());
    // The next pull reads nothing new: the bad row is not retried until it changes.
    let r = pull(store, &cfg, "bd", false).await;
    assert!(!r.recorded && r.rows_read == 0, "{r:?}");
}

#[tokio::test]
async fn bad_rows_postgres() {
    bad_rows(Server::Pg).await;
}

#[tokio::test]
async fn bad_rows_mariadb() {
    bad_rows(Server::Maria).await;
}

/// An unreachable server: a clear error without the password; the daemon's job run fails with
/// it (and is retried), and another source is pulled all the same.
#[tokio::test]
async fn unreachable_server_is_a_failed_run_with_the_reason() {
    let ledger = common::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("CHIEFTECH_TEST_SOURCE_PASSWORD", "s3cret-pw");
    for url in [
        "postgres://reader@127.0.0.1:1/hr",
        "mysql://reader@127.0.0.1:1/hr",
    ] {
        let cfg = config(dir.path(), url, "CHIEFTECH_TEST_SOURCE_PASSWORD");
        let e = try_pull(&ledger.store, &cfg, "hr", false)
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, SourceError::Unreachable { .. }), "{text}");
        assert!(
            text.contains("`hr`") && text.contains("127.0.0.1:1"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
        let rules = cfg.rules_config().unwrap();
        let r = chieftech::jobs::sources::sources_job(&ledger.store, &cfg, &rules, d("2024-06-01"))
            .await;
        let e = r.unwrap_err();
        assert!(
            e.contains("`hr`") && e.contains("`bd`") && !e.contains("s3cret"),
            "{e}"
        );
    }
    assert_eq!(
        count(
            &ledger.store,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM source_state"
        )
        .await,
        0
    );
}

const POLICY: RunPolicy = RunPolicy {
    allow_supplementary: true,
    allow_single_operator: false,
};

async fn nets(store: &Store, rules: &RulesConfig) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for year in 2021..=2024 {
        store
            .compute_run(
                year,
                false,
                "alice",
                d(&format!("{year}-12-01")),
                rules,
                POLICY,
                &indicatif::ProgressBar::hidden(),
            )
            .await
            .unwrap();
        let _ = store.approve_run(year, "bob", POLICY).await;
        if let Ok(v) = store.show_run(year, None, true).await {
            for p in v.people {
                out.insert(format!("{year} {}", p.id_number), fen_str(p.net.net));
            }
        }
    }
    out
}

/// The same people and changes as workbooks.
fn workbooks(dir: &Path, ps: &[P]) -> (std::path::PathBuf, std::path::PathBuf) {
    let roster = dir.join("名册.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet().set_name("名册").unwrap();
    let head = [
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
    ];
    for (c, h) in head.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (i, p) in ps.iter().enumerate() {
        let no = format!("张人社字〔{}〕{}号", &p.approved[..4], i + 1);
        let row = [
            p.name,
            &p.id,
            p.unit,
            "焊工",
            "高级技师",
            p.approved,
            &no,
            p.account,
            "工商银行张店支行",
            "13800000000",
        ];
        for (c, v) in row.iter().enumerate() {
            ws.write_string(i as u32 + 1, c as u16, *v).unwrap();
        }
    }
    book.save(&roster).unwrap();
    let changes = dir.join("变动.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet().set_name("变动").unwrap();
    for (c, h) in ["姓名", "身份证号码", "变动类型", "生效日期"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (c, v) in [ps[2].name, &ps[2].id, "退休", "2023-06-30"]
        .iter()
        .enumerate()
    {
        ws.write_string(1, c as u16, *v).unwrap();
    }
    book.save(&changes).unwrap();
    (roster, changes)
}

/// The runs after pulling equal those after importing the same data as workbooks, to the fen.
async fn same_as_workbooks(server: Server) {
    let Some(src) = source_db(server).await else {
        return;
    };
    let ps = people();
    for (i, p) in ps.iter().enumerate() {
        src.person(i as i32 + 1, p, "2024-01-01 10:00:00").await;
    }
    src.change(1, &ps[2], "退休", "2023-06-30", "2024-01-05 00:00:00")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &src.url, "CHIEFTECH_TEST_NO_SUCH_PASSWORD");
    let rules = cfg.rules_config().unwrap();
    let pulled = common::sqlite().await;
    assert!(pull(&pulled.store, &cfg, "hr", false).await.recorded);
    assert!(pull(&pulled.store, &cfg, "bd", false)
        .await
        .line
        .contains("已登记1条变动"));
    let imported = common::sqlite().await;
    let (roster, changes) = workbooks(dir.path(), &ps);
    let r = chieftech::jobs::import::import_roster(&imported.store, &[roster], "clerk", false)
        .await
        .unwrap();
    assert!(!r.refused, "{:?}", r.problems);
    let r = chieftech::jobs::import::import_changes(
        &imported.store,
        &[changes],
        Reporter::Bureau,
        false,
        &rules,
        "clerk",
        false,
    )
    .await
    .unwrap();
    assert!(!r.refused, "{:?}", r.problems);
    let a = nets(&pulled.store, &rules).await;
    assert!(a.len() >= 6, "{a:?}");
    assert_eq!(a, nets(&imported.store, &rules).await);
}

#[tokio::test]
async fn pulled_runs_equal_imported_runs_postgres() {
    same_as_workbooks(Server::Pg).await;
}

#[tokio::test]
async fn pulled_runs_equal_imported_runs_mariadb() {
    same_as_workbooks(Server::Maria).await;
}

fn chieftech(db: &str, config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .args(["--database", db, "--operator", "clerk"])
        .args(args)
        .env("CHIEFTECH_CONFIG", config)
        .env("CHIEFTECH_TEST_SOURCE_PASSWORD", "s3cret-pw")
        .output()
        .unwrap()
}

fn output(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `sources pull` and `sources list` from the command line: a first pull, a pull with
/// nothing new, a bad row refused (exit 1), an unreachable source (exit 3, no password).
#[tokio::test]
async fn sources_from_the_command_line() {
    let Some(src) = source_db(Server::Pg).await else {
        return;
    };
    let ledger = common::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("chieftech.toml");
    std::fs::write(
        &cfg,
        config_text(dir.path(), &src.url, "CHIEFTECH_TEST_NO_SUCH_PASSWORD"),
    )
    .unwrap();
    let ps = people();
    src.person(1, &ps[0], "2024-01-01 10:00:00").await;
    src.person(2, &ps[1], "2024-01-02 10:00:00").await;
    let o = chieftech(&ledger.url, &cfg, &["sources", "pull", "hr"]);
    assert!(o.status.success(), "{}", output(&o));
    assert!(
        output(&o).contains("数据源hr（名册，第1次拉取，完整读取）：读取2行"),
        "{}",
        output(&o)
    );
    let o = chieftech(&ledger.url, &cfg, &["sources", "pull", "hr"]);
    assert!(output(&o).contains("没有新的或变化的行"), "{}", output(&o));
    let o = chieftech(&ledger.url, &cfg, &["sources", "list"]);
    assert!(
        o.status.success() && output(&o).contains("已拉取2次"),
        "{}",
        output(&o)
    );
    // A bad check digit: the pull is refused whole, the row named by key and column.
    let mut bad = ps[2].clone();
    let last = if bad.id.ends_with('0') { '1' } else { '0' };
    bad.id = format!("{}{last}", &bad.id[..17]);
    src.person(3, &bad, "2024-01-03 10:00:00").await;
    let o = chieftech(&ledger.url, &cfg, &["sources", "pull", "hr"]);
    assert_eq!(o.status.code(), Some(1), "{}", output(&o));
    assert!(
        output(&o).contains("列“身份证号码”（源列sfzh）"),
        "{}",
        output(&o)
    );
    // An unreachable source: exit 3, the password never shown.
    let unreachable = dir.path().join("unreachable.toml");
    std::fs::write(
        &unreachable,
        config_text(
            dir.path(),
            "postgres://reader@127.0.0.1:1/hr",
            "CHIEFTECH_TEST_SOURCE_PASSWORD",
        ),
    )
    .unwrap();
    let o = chieftech(&ledger.url, &unreachable, &["sources", "pull"]);
    assert_eq!(o.status.code(), Some(3), "{}", output(&o));
    assert!(
        output(&o).contains("127.0.0.1:1") && !output(&o).contains("s3cret"),
        "{}",
        output(&o)
    );
    let o = chieftech(&ledger.url, &cfg, &["sources", "pull", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", output(&o));
}
