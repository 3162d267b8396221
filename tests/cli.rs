//! The command line of docs/contract.md: JSON output, exit statuses, and a payment run killed
//! half-way and run again.

mod common;

use chieftech::rules::id_number::make_id;
use chieftech::store::{RosterEntry, Source, Store, UnitEntry};
use chrono::NaiveDate;
use std::path::Path;
use std::process::{Command, Output};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The binary on database `db` with the shipped configuration, not started yet.
fn command(db: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chieftech"));
    c.args(["--database", db]).args(args).env(
        "CHIEFTECH_CONFIG",
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml"),
    );
    c
}

fn chieftech(db: &str, args: &[&str]) -> Output {
    command(db, args).output().expect("run chieftech")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A ledger file in a folder of its own, holding [`seed`]'s `n` people approved on
/// `approval`: the folder (kept while the test runs) and the ledger's URL.
async fn seeded_ledger(n: usize, approval: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let store = Store::connect(&url).await.unwrap();
    seed(&store, n, approval).await;
    store.close().await;
    (dir, url)
}

/// `n` people approved on `approval`, in one unit.
async fn seed(store: &Store, n: usize, approval: &str) {
    let entries: Vec<RosterEntry> = (0..n)
        .map(|i| RosterEntry {
            id_number: make_id(
                "370303",
                d("1970-01-01") + chrono::Days::new((i % 9000) as u64),
                (i / 9000) as u32,
            ),
            name: format!("技师{i}"),
            unit: "张店示例厂".into(),
            occupation: "电工".into(),
            level: "技师".into(),
            approval_date: d(approval) + chrono::Days::new((i % 300) as u64),
            approval_no: format!("张人社字〔2021〕{i}号"),
            bank_account: format!("6222021603{:09}", i),
            bank_name: "工商银行".into(),
            phone: String::new(),
            email: None,
            row: Some(i as u32 + 2),
        })
        .collect();
    let unit = UnitEntry {
        name: "张店示例厂".into(),
        contact: None,
        email: None,
        row: None,
    };
    store
        .import_roster(&Source::operator("clerk"), &[unit], &entries)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn payrun_show_json_is_the_contract() {
    let (_dir, url) = seeded_ledger(3, "2021-10-15").await;

    let o = chieftech(
        &url,
        &[
            "--operator",
            "alice",
            "--today",
            "2022-12-01",
            "payrun",
            "compute",
            "--year",
            "2022",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = chieftech(
        &url,
        &["--operator", "alice", "payrun", "approve", "--year", "2022"],
    );
    assert_eq!(o.status.code(), Some(1), "four eyes: {}", text(&o));
    assert!(text(&o).contains("four-eyes"));
    let o = chieftech(
        &url,
        &["--operator", "bob", "payrun", "approve", "--year", "2022"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = chieftech(&url, &["payrun", "show", "--year", "2022", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["year"], 2022);
    assert_eq!(v["run"], 1);
    assert_eq!(v["status"], "approved");
    assert_eq!(v["supplementary"], false);
    let people = v["people"].as_array().unwrap();
    assert_eq!(people.len(), 3);
    let ids: Vec<&str> = people
        .iter()
        .map(|p| p["id_number"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    // Approved 2021-10-15: 2021-11, 2021-12 deferred, 2022 regular: 7000.00.
    let first = &people[0];
    assert_eq!(first["net"], "7000.00");
    assert_eq!(first["lines"][0]["month"], "2021-11");
    assert_eq!(first["lines"][0]["kind"], "deferred");
    assert_eq!(first["lines"][0]["amount"], "500.00");
    assert_eq!(first["lines"][2]["kind"], "regular");
    assert!(v["totals"]["paid"].as_str().unwrap().ends_with(".00"));
    assert_eq!(v["totals"]["people_paid"], 3);
    assert_eq!(v["totals"]["people_recovering"], 0);
    assert_eq!(v["uncovered"], serde_json::json!([]));

    // Usage errors exit 2; explain works from the CLI.
    let o = chieftech(&url, &["payrun", "show", "--year", "2031"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = chieftech("mysql://x", &["init"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = chieftech(
        &url,
        &["--operator", "alice", "payrun", "compute", "--year", "2022"],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "approved year needs --supplementary: {}",
        text(&o)
    );
    let id = ids[0];
    let o = chieftech(&url, &["explain", id, "--month", "2022-03"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("500.00 × 31/31 = 500.00"), "{}", text(&o));
    assert!(text(&o).contains("2022年第1批（已批准）"), "{}", text(&o));
}

#[tokio::test]
async fn a_killed_payment_run_leaves_the_ledger_as_if_it_ran_once() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = dir.path().join("pristine.db");
    let url = format!("sqlite://{}", pristine.display());
    let store = Store::connect(&url).await.unwrap();
    seed(&store, 20_000, "2021-09-10").await;
    store.close().await;

    // The reference: one clean run.
    let reference = dir.path().join("reference.db");
    std::fs::copy(&pristine, &reference).unwrap();
    let ref_url = format!("sqlite://{}", reference.display());
    let o = chieftech(
        &ref_url,
        &[
            "--operator",
            "alice",
            "--today",
            "2023-12-01",
            "payrun",
            "compute",
            "--year",
            "2023",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let expected = Store::connect(&ref_url)
        .await
        .unwrap()
        .dump()
        .await
        .unwrap();
    assert!(expected.contains("2023|1|draft"));

    for delay_ms in [30u64, 150, 400, 900] {
        let copy = dir.path().join(format!("killed-{delay_ms}.db"));
        std::fs::copy(&pristine, &copy).unwrap();
        let copy_url = format!("sqlite://{}", copy.display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_chieftech"))
            .args([
                "--database",
                &copy_url,
                "--operator",
                "alice",
                "--today",
                "2023-12-01",
                "payrun",
                "compute",
                "--year",
                "2023",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let o = chieftech(
            &copy_url,
            &[
                "--operator",
                "alice",
                "--today",
                "2023-12-01",
                "payrun",
                "compute",
                "--year",
                "2023",
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
        let got = Store::connect(&copy_url)
            .await
            .unwrap()
            .dump()
            .await
            .unwrap();
        assert_eq!(got, expected, "killed after {delay_ms} ms");
    }
}

/// Issue 10: a `--config` that does not exist is one clear line and exit 2; read-only commands
/// never create a database, and say where they looked; relative paths in a config file are
/// relative to its folder, whatever the current folder.
#[test]
fn missing_config_and_missing_database_are_clear_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_chieftech");
    let o = Command::new(bin)
        .current_dir(dir.path())
        .args([
            "--config",
            "/nonexistent/chieftech.toml",
            "payrun",
            "show",
            "--year",
            "2024",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    assert!(err.contains("/nonexistent/chieftech.toml"), "{err}");

    // A config in its own folder, naming its database relative to that folder.
    let conf_dir = dir.path().join("srv/config");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::write(
        conf_dir.join("c.toml"),
        "[database]\nurl = \"sqlite://../data/ledger.db\"\n",
    )
    .unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let config = conf_dir.join("c.toml");
    for args in [
        &["payrun", "show", "--year", "2024"][..],
        &["changes", "list", "370303198001011234"][..],
        &["explain", "370303198001011234"][..],
        &["outbox", "status"][..],
    ] {
        let o = Command::new(bin)
            .current_dir(&home)
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&dir.path().join("srv/data/ledger.db").display().to_string()),
            "{args:?} says where it looked: {err}"
        );
    }
    assert!(!dir.path().join("srv/data").exists(), "nothing created");
    assert!(
        !home.join("data").exists(),
        "nothing created in the current folder"
    );
    // `init` creates it beside the config's folder, from anywhere.
    let o = Command::new(bin)
        .current_dir(&home)
        .arg("--config")
        .arg(&config)
        .arg("init")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(dir.path().join("srv/data/ledger.db").is_file());
    let o = Command::new(bin)
        .current_dir(&home)
        .arg("--config")
        .arg(&config)
        .args(["payrun", "show", "--year", "2024"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "no run yet: {}", text(&o));
    assert!(text(&o).contains("no run of 2024"), "{}", text(&o));
}

/// Issue 10: a run stores the settings it was computed with; approval refuses a draft computed
/// with other settings (naming them), and an empty run is never approved. SQLite and PostgreSQL.
#[tokio::test]
async fn approval_refuses_other_settings_and_empty_runs() {
    for db in common::backends().await {
        let dir = tempfile::tempdir().unwrap();
        let url = db.url.clone();
        // An empty ledger: the run has no lines and is not approved.
        let o = chieftech(
            &url,
            &["--operator", "alice", "payrun", "compute", "--year", "2024"],
        );
        assert!(o.status.success(), "{}", text(&o));
        let o = chieftech(
            &url,
            &["--operator", "bob", "payrun", "approve", "--year", "2024"],
        );
        assert_eq!(o.status.code(), Some(1), "{} {}", db.name, text(&o));
        assert!(text(&o).contains("no lines"), "{}", text(&o));

        seed(&db.store, 3, "2021-10-15").await;
        let o = chieftech(
            &url,
            &["--operator", "alice", "payrun", "compute", "--year", "2022"],
        );
        assert!(o.status.success(), "{}", text(&o));
        // The configuration changes before approval: offsetting off, another proration.
        let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates");
        let changed = dir.path().join("changed.toml");
        std::fs::write(
            &changed,
            format!(
                "[payment]\noffset_recoveries = false\nproration = \"first-of-month\"\n\n[mail]\ntemplates = {:?}\noutbox_dir = {:?}\n",
                templates.display().to_string(),
                dir.path().join("outbox").display().to_string()
            ),
        )
        .unwrap();
        let changed_arg = changed.display().to_string();
        let o = chieftech(
            &url,
            &[
                "--config",
                &changed_arg,
                "--operator",
                "bob",
                "payrun",
                "approve",
                "--year",
                "2022",
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            text(&o).contains("offset_recoveries") && text(&o).contains("proration"),
            "names the settings: {}",
            text(&o)
        );
        // With the settings it was computed with, it is approved.
        let o = chieftech(
            &url,
            &["--operator", "bob", "payrun", "approve", "--year", "2022"],
        );
        assert!(o.status.success(), "{}", text(&o));
        let view = db.store.show_run(2022, None, false).await.unwrap();
        assert!(
            view.offset_recoveries,
            "show uses the stored setting, not the caller's"
        );
        assert!(view.settings.unwrap().contains("\"proration\":\"daily\""));
    }
}

/// `roster void` from the command line: exit 0, masked ID in its line; again: refused (exit 1);
/// no such appointment: exit 2. SQLite and PostgreSQL.
#[tokio::test]
async fn roster_void_from_the_command_line() {
    for db in common::backends().await {
        seed(&db.store, 1, "2021-10-15").await;
        let url = db.url.clone();
        let id = make_id("370303", d("1970-01-01"), 0);
        let args = [
            "roster",
            "void",
            id.as_str(),
            "2021-10-15",
            "--reason",
            "批准日期录入错误",
        ];
        let o = chieftech(&url, &args);
        assert!(o.status.success(), "{} {}", db.name, text(&o));
        assert!(
            !text(&o).contains(id.as_str()) && text(&o).contains(&id.masked()),
            "{}",
            text(&o)
        );
        let o = chieftech(&url, &args);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let o = chieftech(
            &url,
            &["roster", "void", id.as_str(), "2021-10-16", "--reason", "x"],
        );
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    }
}

/// Issue 10: with `--today`, every date the program records comes from it, not the clock.
#[tokio::test]
async fn today_stands_in_for_the_clock_in_what_is_recorded() {
    use sqlx::Row;
    let (_dir, url) = seeded_ledger(2, "2021-10-15").await;
    for (who, cmd) in [("alice", "compute"), ("bob", "approve")] {
        let o = chieftech(
            &url,
            &[
                "--today",
                "2022-12-01",
                "--operator",
                who,
                "payrun",
                cmd,
                "--year",
                "2022",
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    let store = Store::connect(&url).await.unwrap();
    let r = sqlx::query("SELECT today, computed_at, approved_at FROM runs")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let (today, computed, approved): (String, String, String) = (
        r.try_get(0).unwrap(),
        r.try_get(1).unwrap(),
        r.try_get(2).unwrap(),
    );
    assert_eq!(today, "2022-12-01");
    let shanghai_day = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .date_naive()
            .to_string()
    };
    assert_eq!(shanghai_day(&computed), "2022-12-01", "{computed}");
    assert_eq!(shanghai_day(&approved), "2022-12-01", "{approved}");
    assert!(
        computed <= approved,
        "recorded in order: {computed} {approved}"
    );
    let audit: Vec<String> = sqlx::query("SELECT at FROM audit WHERE action LIKE 'payrun%'")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get(0).unwrap())
        .collect();
    assert!(
        !audit.is_empty() && audit.iter().all(|a| shanghai_day(a) == "2022-12-01"),
        "{audit:?}"
    );
}

/// Issue 10: a draft computed by `jobs run payrun` is the person's who asked for it: that
/// person may not approve it too (four-eyes names people, not "the daemon").
#[tokio::test]
async fn jobs_run_records_the_person_who_asked() {
    let (_dir, url) = seeded_ledger(2, "2021-10-15").await;
    let o = chieftech(
        &url,
        &[
            "--today",
            "2022-12-01",
            "--operator",
            "alice",
            "jobs",
            "run",
            "payrun",
            "--year",
            "2022",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = chieftech(
        &url,
        &["--operator", "alice", "payrun", "approve", "--year", "2022"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("four-eyes"), "{}", text(&o));
    let o = chieftech(
        &url,
        &["--operator", "bob", "payrun", "approve", "--year", "2022"],
    );
    assert!(o.status.success(), "{}", text(&o));
}

#[tokio::test]
async fn forecast_from_the_command_line() {
    let (dir, url) = seeded_ledger(4, "2022-03-01").await;
    for (who, step) in [("alice", "compute"), ("bob", "approve")] {
        let o = chieftech(
            &url,
            &[
                "--operator",
                who,
                "--today",
                "2023-12-01",
                "payrun",
                step,
                "--year",
                "2023",
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = chieftech(
        &url,
        &[
            "--today",
            "2024-01-10",
            "forecast",
            "--from",
            "2023",
            "--to",
            "2026",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let y2023 = &v["years"][0];
    assert_eq!(y2023["year"], 2023);
    assert_eq!(y2023["roster"]["amount"], y2023["paid_by_runs"], "{y2023}");
    let show = chieftech(&url, &["payrun", "show", "--year", "2023", "--json"]);
    let run: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(y2023["roster"]["amount"], run["totals"]["paid"]);
    // The workbook beside the database, and what it says.
    let out = dir.path().join("forecast.xlsx");
    let o = chieftech(
        &url,
        &[
            "--today",
            "2024-01-10",
            "forecast",
            "--from",
            "2024",
            "--to",
            "2026",
            "--rate",
            "600",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success() && out.exists(), "{}", text(&o));
    assert!(text(&o).contains("total 2024-2026"), "{}", text(&o));
    let o = chieftech(&url, &["forecast", "--from", "2026", "--to", "2024"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = chieftech(
        &url,
        &[
            "forecast",
            "--from",
            "2024",
            "--to",
            "2026",
            "--approval-day",
            "02-30",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// Printing into a pipe whose reader has gone (`chieftech explain … | head`): the command ends
/// as other tools do, killed by SIGPIPE, with no panic and no backtrace on the clerk's screen.
#[tokio::test]
async fn a_command_printing_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (_dir, url) = seeded_ledger(1, "2021-10-15").await;
    let id = make_id("370303", d("1970-01-01"), 0);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = command(&url, &["--today", "2024-12-01", "explain", id.as_str()])
        .env("RUST_BACKTRACE", "1")
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(o.status.signal(), Some(13), "{:?} {stderr}", o.status);
}
