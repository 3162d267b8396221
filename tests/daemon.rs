//! Issue 6 (scheduler): the daemon with schedules a few seconds apart — jobs fire and are
//! recorded; a second daemon on the same SQLite file refuses to start; SIGTERM stops it
//! cleanly; a killed daemon catches up once after a restart; two daemons on one PostgreSQL
//! database never run the same scheduled time twice; a payment run killed half-way by kill -9
//! and run again leaves the ledger as if it ran once; a daemon killed by kill -9 in the middle of
//! its scheduled payment run is taken over by a second daemon on the same PostgreSQL database
//! once its lease lapses, and the ledger is that of one uninterrupted run.
//!
//! Failures and stops: a job row dated in the future does not halt scheduling; a failed payment
//! run is retried with backoff and succeeds once fixed, or ends `failed` with one bureau notice,
//! listed until `jobs ack`; a hung job (an SMTP server that accepts and never answers) is
//! abandoned at its deadline and does not delay another job; SIGTERM during the start-up
//! catch-up leaves no `running` claim; `jobs run payrun --year Y` computes year Y, and a missed
//! payment run's advice names its year.

mod common;

use chieftech::store::Store;
use sqlx::Row;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn config(dir: &Path, schedule: &str) -> PathBuf {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates");
    config_with(dir, schedule, &templates, "")
}

/// A configuration with its own templates folder and more `[mail]` keys.
fn config_with(dir: &Path, schedule: &str, templates: &Path, mail: &str) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[schedule]\n{schedule}\n\n[mail]\ntemplates = \"{}\"\noutbox_dir = \"{}\"\n{mail}\n",
            templates.display(),
            dir.join("outbox").display()
        ),
    )
    .unwrap();
    path
}

fn daemon(db: &str, cfg: &Path, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .args(["--database", db, "--config"])
        .arg(cfg)
        .arg("daemon")
        .env("RUST_LOG", "chieftech=info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn term(child: &mut Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap()
}

async fn rows(url: &str, sql: &'static str) -> Vec<(String, String, String, String)> {
    let store = Store::connect(url).await.unwrap();
    let v = sqlx::query(sql)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    store.close().await;
    v
}

const RUNS: &str = "SELECT job, scheduled_at, status, owner FROM job_runs ORDER BY scheduled_at";

async fn wait_for(
    url: &str,
    pred: impl Fn(&[(String, String, String, String)]) -> bool,
) -> Vec<(String, String, String, String)> {
    let start = Instant::now();
    loop {
        let r = rows(url, RUNS).await;
        if pred(&r) || start.elapsed() > Duration::from_secs(20) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn jobs_fire_a_second_daemon_refuses_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    Store::connect(&url).await.unwrap().close().await;
    let cfg = config(
        dir.path(),
        "inbox = \"\"\npayrun = \"\"\nremind = \"*/3 * * * * *\"\noutbox = \"*/2 * * * * *\"",
    );
    let mut first = daemon(&url, &cfg, &dir.path().join("first.log"));
    let runs = wait_for(&url, |r| {
        r.iter().filter(|x| x.0 == "outbox" && x.2 == "ok").count() >= 3
    })
    .await;
    assert!(
        runs.iter()
            .filter(|x| x.0 == "outbox" && x.2 == "ok")
            .count()
            >= 3,
        "{runs:?}"
    );
    assert!(
        runs.iter().any(|x| x.0 == "remind" && x.2 == "ok"),
        "{runs:?}"
    );
    // Every outbox time is an even second, as scheduled.
    for r in runs.iter().filter(|x| x.0 == "outbox") {
        let sec: u32 = r.1[17..19].parse().unwrap();
        assert_eq!(sec % 2, 0, "{r:?}");
    }
    let second = Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .args(["--database", &url, "--config"])
        .arg(&cfg)
        .arg("daemon")
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another chieftech daemon already runs")
    );
    let status = term(&mut first);
    assert!(status.success(), "{status:?}");
    let log = std::fs::read_to_string(dir.path().join("first.log")).unwrap();
    assert!(log.contains("daemon stopping"), "{log}");
    // Nothing left running after a clean stop.
    let runs = rows(&url, RUNS).await;
    assert!(runs.iter().all(|r| r.2 == "ok"), "{runs:?}");
    // jobs list shows the schedules.
    let o = Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .args(["--database", &url, "--config"])
        .arg(&cfg)
        .args(["jobs", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("outbox") && text.contains("*/2 * * * * *") && text.contains("(disabled)"),
        "{text}"
    );
}

#[tokio::test]
async fn a_killed_daemon_catches_up_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    Store::connect(&url).await.unwrap().close().await;
    let cfg = config(dir.path(), "inbox = \"\"\npayrun = \"\"\noutbox = \"\"\nremind = \"*/2 * * * * *\"\ncatch_up_hours = 1");
    let mut d = daemon(&url, &cfg, &dir.path().join("a.log"));
    wait_for(&url, |r| r.iter().any(|x| x.2 == "ok")).await;
    d.kill().unwrap(); // SIGKILL
    d.wait().unwrap();
    let killed_at = chrono::Utc::now();
    // Two or more scheduled times pass; restart 300 ms after an even second, so the latest
    // scheduled time is in the downtime and the catch-up is for it.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let ms = chrono::Utc::now().timestamp_millis();
    let target = (ms / 2000 + 1) * 2000 + 300;
    tokio::time::sleep(Duration::from_millis((target - ms) as u64)).await;
    let restarted_at = chrono::Utc::now();
    let mut d = daemon(&url, &cfg, &dir.path().join("b.log"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    term(&mut d);
    let runs = rows(&url, RUNS).await;
    let fmt =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // Two or three scheduled times passed while the daemon was down: the latest is run once,
    // at start-up, as a catch-up; the others are not run.
    let in_downtime: Vec<_> = runs
        .iter()
        .filter(|r| r.1 > fmt(killed_at) && r.1 < fmt(restarted_at))
        .collect();
    assert_eq!(in_downtime.len(), 1, "caught up once: {runs:?}");
    assert_eq!(in_downtime[0].2, "ok");
}

#[tokio::test]
async fn two_daemons_on_one_postgres_database_never_run_a_time_twice() {
    let Some(db) = common::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "inbox = \"\"\npayrun = \"\"\nremind = \"\"\noutbox = \"* * * * * *\"",
    );
    let mut a = daemon(&db.url, &cfg, &dir.path().join("a.log"));
    let mut b = daemon(&db.url, &cfg, &dir.path().join("b.log"));
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(term(&mut a).success());
    assert!(term(&mut b).success());
    let runs = rows(&db.url, RUNS).await;
    assert!(runs.len() >= 4, "{runs:?}");
    assert!(
        runs.iter()
            .all(|r| r.1.ends_with(":00.000Z") || r.1.ends_with(".000Z")),
        "{runs:?}"
    );
    let mut times: Vec<&String> = runs.iter().map(|r| &r.1).collect();
    times.dedup();
    assert_eq!(times.len(), runs.len());
    // Each daemon's log names the times it started; no time is started by both.
    let started = |log: &str| -> Vec<String> {
        std::fs::read_to_string(dir.path().join(log))
            .unwrap()
            .lines()
            .filter(|l| l.contains("job started"))
            .filter_map(|l| {
                l.split("scheduled=")
                    .nth(1)
                    .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
            })
            .collect()
    };
    let (sa, sb) = (started("a.log"), started("b.log"));
    assert!(!sa.is_empty() || !sb.is_empty());
    for t in &sa {
        assert!(!sb.contains(t), "{t} ran in both daemons");
    }
    assert_eq!(
        sa.len() + sb.len(),
        runs.len(),
        "every recorded time was started once"
    );
}

fn cli(db: &str, cfg: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .args(["--database", db, "--config"])
        .arg(cfg)
        .args(args)
        .output()
        .unwrap()
}

/// The scheduled payment run and export jobs, by hand: the draft is computed and the bureau
/// told; after approval the export job writes the files and tells the finance office.
#[tokio::test]
async fn payrun_and_export_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let reports = dir.path().join("reports");
    let cfg = config(dir.path(), "export_after_approval = true");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!("\n[paths]\nreports = \"{}\"\n", reports.display()));
    std::fs::write(&cfg, text).unwrap();
    let roster =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/worked-examples-roster.xlsx");
    let o = cli(&url, &cfg, &["import", "roster", roster.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli(
        &url,
        &cfg,
        &["--today", "2022-12-01", "jobs", "run", "payrun"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("draft 2022/1 computed"));
    // Run again: the draft is recomputed, not duplicated; the bureau is told once.
    assert!(cli(
        &url,
        &cfg,
        &["--today", "2022-12-01", "jobs", "run", "payrun"]
    )
    .status
    .success());
    let o = cli(
        &url,
        &cfg,
        &["--operator", "bob", "payrun", "approve", "--year", "2022"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli(
        &url,
        &cfg,
        &["--today", "2022-12-02", "jobs", "run", "export"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(reports.join("2022/bank-2022-run1.xlsx").exists());
    let o = cli(&url, &cfg, &["jobs", "run", "export"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("nothing to export"));
    let o = cli(
        &url,
        &cfg,
        &["--today", "2022-12-02", "jobs", "run", "outbox"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let names: Vec<String> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == chieftech::mail::outbox::eml_name("draft:2022:1"))
            .count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == chieftech::mail::outbox::eml_name("finance-export:2022:1"))
            .count(),
        1,
        "{names:?}"
    );
    let o = cli(&url, &cfg, &["jobs", "list"]);
    let list = String::from_utf8_lossy(&o.stdout);
    assert!(list.contains("outbox") && list.contains("ok"), "{list}");
}

/// A payment run job killed with SIGKILL half-way, run again: the ledger is as if it ran once.
#[tokio::test]
async fn a_killed_payrun_job_leaves_the_ledger_as_if_it_ran_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "lease_seconds = 2");
    let sample = dir.path().join("sample");
    let o = Command::new(env!("CARGO_BIN_EXE_chieftech"))
        .args(["sample", "--people", "6000", "-o"])
        .arg(&sample)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pristine = dir.path().join("pristine.db");
    let url = format!("sqlite://{}", pristine.display());
    let o = cli(
        &url,
        &cfg,
        &[
            "import",
            "roster",
            sample.join("roster.xlsx").to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reference = dir.path().join("reference.db");
    std::fs::copy(&pristine, &reference).unwrap();
    let ref_url = format!("sqlite://{}", reference.display());
    assert!(cli(
        &ref_url,
        &cfg,
        &["--today", "2024-12-01", "jobs", "run", "payrun"]
    )
    .status
    .success());
    let dump = |url: String| async move {
        let s = Store::connect(&url).await.unwrap();
        let d = s.dump().await.unwrap();
        s.close().await;
        d
    };
    let expected = dump(ref_url).await;
    for delay in [50u64, 300, 700] {
        let copy = dir.path().join(format!("k{delay}.db"));
        std::fs::copy(&pristine, &copy).unwrap();
        let copy_url = format!("sqlite://{}", copy.display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_chieftech"))
            .args(["--database", &copy_url, "--config"])
            .arg(&cfg)
            .args(["--today", "2024-12-01", "jobs", "run", "payrun"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        // A run killed while it held the job's lock: the lock lapses after lease_seconds.
        std::thread::sleep(Duration::from_millis(2500));
        let o = cli(
            &copy_url,
            &cfg,
            &["--today", "2024-12-01", "jobs", "run", "payrun"],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(dump(copy_url).await, expected, "killed after {delay} ms");
    }
}

fn fmt_ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A cron expression firing once (a year apart), `secs` seconds from now, and that time.
fn once_in(secs: i64) -> (String, chrono::DateTime<chrono::Utc>) {
    use chrono::{Datelike, Timelike};
    let t = chrono::Utc::now() + chrono::Duration::seconds(secs);
    let t = t.with_nanosecond(0).unwrap();
    let l = t.with_timezone(&chrono_tz::Asia::Shanghai);
    (
        format!(
            "{} {} {} {} {} *",
            l.second(),
            l.minute(),
            l.hour(),
            l.day(),
            l.month()
        ),
        t,
    )
}

/// The rows of one job: (scheduled_at, status, attempts, outcome).
async fn job_rows(url: &str, job: &str) -> Vec<(String, String, i64, String)> {
    let store = Store::connect(url).await.unwrap();
    let v = sqlx::query("SELECT scheduled_at, status, attempts, COALESCE(outcome, '') FROM job_runs WHERE job = $1 ORDER BY scheduled_at")
        .bind(job)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    store.close().await;
    v
}

async fn wait_job(
    url: &str,
    job: &str,
    secs: u64,
    pred: impl Fn(&[(String, String, i64, String)]) -> bool,
) -> Vec<(String, String, i64, String)> {
    let start = Instant::now();
    loop {
        let r = job_rows(url, job).await;
        if pred(&r) || start.elapsed() > Duration::from_secs(secs) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A copy of the shipped templates without `missing`.
fn templates_without(dir: &Path, missing: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates");
    let to = dir.join("templates");
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy() != format!("{missing}.txt") {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    to
}

fn import_roster(url: &str, cfg: &Path) {
    let roster =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/worked-examples-roster.xlsx");
    let o = cli(url, cfg, &["import", "roster", roster.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A row a clock once ahead left in the future: the job still runs on its schedule, and the row
/// is reported in the log and by `jobs list`.
#[tokio::test]
async fn a_future_dated_job_row_does_not_halt_scheduling() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let future = fmt_ts(chrono::Utc::now() + chrono::Duration::days(3));
    let store = Store::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO job_runs (job, scheduled_at, status, owner, finished_at, outcome) VALUES ('remind', $1, 'ok', 'clock-ahead', $1, 'ran with a clock three days ahead')")
        .bind(&future)
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let cfg = config(
        dir.path(),
        "inbox = \"\"\npayrun = \"\"\noutbox = \"\"\nremind = \"*/2 * * * * *\"",
    );
    let started = fmt_ts(chrono::Utc::now());
    let mut d = daemon(&url, &cfg, &dir.path().join("d.log"));
    let runs = wait_job(&url, "remind", 20, |r| {
        r.iter()
            .any(|x| x.0 >= started && x.0 < future && x.1 == "ok")
    })
    .await;
    assert!(term(&mut d).success());
    assert!(
        runs.iter()
            .any(|x| x.0 >= started && x.0 < future && x.1 == "ok"),
        "ran on time despite the future row: {runs:?}"
    );
    let log = std::fs::read_to_string(dir.path().join("d.log")).unwrap();
    assert!(
        log.contains("in the future") && log.contains(&future),
        "{log}"
    );
    let o = cli(&url, &cfg, &["jobs", "list"]);
    let list = String::from_utf8_lossy(&o.stdout);
    assert!(
        list.contains(&format!("a run is recorded for {future}")) && list.contains("in the future"),
        "{list}"
    );
}

/// The payment run fails (its notice template is missing), is retried with backoff, and
/// succeeds once the template is back; the bureau is not told of a failure.
#[tokio::test]
async fn a_failed_payment_run_is_retried_and_succeeds_once_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let templates = templates_without(dir.path(), "bureau_draft");
    let (cron, at) = once_in(3);
    let cfg = config_with(
        dir.path(),
        &format!("inbox = \"\"\noutbox = \"\"\nremind = \"\"\npayrun = \"{cron}\"\nretry_base_seconds = 1\nmax_attempts = 5"),
        &templates,
        "",
    );
    import_roster(&url, &cfg);
    let mut d = daemon(&url, &cfg, &dir.path().join("d.log"));
    let runs = wait_job(&url, "payrun", 20, |r| r.iter().any(|x| x.1 == "retrying")).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].0, fmt_ts(at));
    assert!(runs[0].3.contains("bureau_draft"), "{runs:?}");
    // Fixed: the next attempt succeeds.
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates/bureau_draft.txt"),
        templates.join("bureau_draft.txt"),
    )
    .unwrap();
    let runs = wait_job(&url, "payrun", 20, |r| r.iter().any(|x| x.1 == "ok")).await;
    assert!(term(&mut d).success());
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].1, "ok", "{runs:?}");
    assert!(runs[0].2 >= 2, "retried: {runs:?}");
    let year = at.with_timezone(&chrono_tz::Asia::Shanghai).format("%Y");
    assert!(
        runs[0].3.contains(&format!("draft {year}/1 computed")),
        "{runs:?}"
    );
    let store = Store::connect(&url).await.unwrap();
    let failed: i64 =
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE key LIKE 'job-failed:%'")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get(0);
    assert_eq!(failed, 0);
    store.close().await;
}

/// A payment run that keeps failing: tried max_attempts times, then `failed`, one notice to
/// the bureau, shown by `jobs list` until a person acknowledges it.
#[tokio::test]
async fn a_payment_run_that_keeps_failing_is_given_up_mailed_once_and_listed_until_acked() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    // Neither the draft notice nor the failure notice template: the failure notice falls back
    // to its built-in text.
    let templates = templates_without(dir.path(), "bureau_draft");
    std::fs::remove_file(templates.join("job_failed.txt")).ok();
    let (cron, at) = once_in(3);
    let cfg = config_with(
        dir.path(),
        &format!("inbox = \"\"\noutbox = \"\"\nremind = \"\"\npayrun = \"{cron}\"\nretry_base_seconds = 1\nmax_attempts = 3"),
        &templates,
        "bureau = \"bureau@example.test\"",
    );
    import_roster(&url, &cfg);
    let mut d = daemon(&url, &cfg, &dir.path().join("d.log"));
    let runs = wait_job(&url, "payrun", 25, |r| r.iter().any(|x| x.1 == "failed")).await;
    // Stays failed: no more attempts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(term(&mut d).success());
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].1, "failed", "{runs:?}");
    assert_eq!(runs[0].2, 3, "three attempts: {runs:?}");
    assert_eq!(job_rows(&url, "payrun").await, runs);
    let year = at
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y")
        .to_string();
    let store = Store::connect(&url).await.unwrap();
    let mails: Vec<(String, String, String, String)> = sqlx::query(
        "SELECT key, recipients, subject, body FROM outbox WHERE key LIKE 'job-failed:%'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect();
    store.close().await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, format!("job-failed:payrun:{}", fmt_ts(at)));
    assert_eq!(mails[0].1, "bureau@example.test");
    assert!(mails[0].2.contains("定时任务失败"), "{mails:?}");
    assert!(
        mails[0]
            .3
            .contains(&format!("chieftech jobs run payrun --year {year}"))
            && mails[0].3.contains("已尝试3次"),
        "{mails:?}"
    );
    // Listed until acknowledged.
    let list =
        |cfg: &Path| String::from_utf8_lossy(&cli(&url, cfg, &["jobs", "list"]).stdout).to_string();
    let text = list(&cfg);
    assert!(
        text.contains("FAILED, NOT ACKNOWLEDGED")
            && text.contains(&fmt_ts(at))
            && text.contains(&format!("jobs run payrun --year {year}")),
        "{text}"
    );
    let o = cli(
        &url,
        &cfg,
        &[
            "--operator",
            "alice",
            "jobs",
            "ack",
            "payrun",
            "--at",
            &fmt_ts(at),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = list(&cfg);
    assert!(!text.contains("NOT ACKNOWLEDGED"), "{text}");
    let store = Store::connect(&url).await.unwrap();
    let who: (String, Option<String>) =
        sqlx::query("SELECT acked_by, acked_at FROM job_runs WHERE job = 'payrun'")
            .fetch_one(store.pool())
            .await
            .map(|r| (r.get(0), r.get(1)))
            .unwrap();
    store.close().await;
    assert_eq!(who.0, "alice");
    assert!(who.1.is_some());
    // Nothing left to acknowledge.
    let o = cli(&url, &cfg, &["jobs", "ack", "payrun"]);
    assert_eq!(o.status.code(), Some(2));
}

/// An SMTP "server" that accepts connections and never answers.
fn silent_smtp() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

async fn queue_one_mail(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let mut conn = store.pool().acquire().await.unwrap();
    chieftech::mail::queue(
        &mut conn,
        &chieftech::mail::Notice {
            key: "test:hang".into(),
            to: vec!["someone@example.test".into()],
            subject: "测试".into(),
            body: "测试".into(),
            attachments: vec![],
        },
    )
    .await
    .unwrap();
    drop(conn);
    store.close().await;
}

fn silent_mail(port: u16) -> String {
    format!("smtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsmtp_security = \"none\"")
}

/// The outbox job hangs (the SMTP server never answers): it is abandoned at its deadline,
/// recorded as timed out and left for a retry, and the reminder job runs on time meanwhile.
#[tokio::test]
async fn a_hung_job_is_abandoned_at_its_deadline_and_does_not_delay_others() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    queue_one_mail(&url).await;
    let port = silent_smtp();
    let (cron, at) = once_in(2);
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates");
    let cfg = config_with(
        dir.path(),
        &format!("inbox = \"\"\npayrun = \"\"\nremind = \"* * * * * *\"\noutbox = \"{cron}\"\njob_timeout_seconds = 4\nretry_base_seconds = 600"),
        &templates,
        &silent_mail(port),
    );
    let mut d = daemon(&url, &cfg, &dir.path().join("d.log"));
    let outbox = wait_job(&url, "outbox", 20, |r| r.iter().any(|x| x.1 != "running")).await;
    assert!(term(&mut d).success());
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(outbox[0].0, fmt_ts(at));
    assert_eq!(outbox[0].1, "retrying", "{outbox:?}");
    assert!(outbox[0].3.contains("timed out after 4 s"), "{outbox:?}");
    // While the outbox hung (its 4 seconds), the reminder job ran at each of its times, on time.
    let store = Store::connect(&url).await.unwrap();
    let remind: Vec<(String, String, String)> = sqlx::query("SELECT scheduled_at, status, started_at FROM job_runs WHERE job = 'remind' AND scheduled_at > $1 AND scheduled_at < $2 ORDER BY scheduled_at")
        .bind(fmt_ts(at))
        .bind(fmt_ts(at + chrono::Duration::seconds(4)))
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    store.close().await;
    assert!(remind.len() >= 3, "{remind:?}");
    for (sched, status, started) in &remind {
        assert_eq!(status, "ok");
        let late = chrono::DateTime::parse_from_rfc3339(started).unwrap()
            - chrono::DateTime::parse_from_rfc3339(sched).unwrap();
        assert!(
            late < chrono::Duration::milliseconds(900),
            "{sched} started {started}"
        );
    }
}

/// SIGTERM while the start-up catch-up runs a job that hangs: the daemon handles it (no death
/// by the default signal action), abandons the job at its deadline and leaves no claim running.
#[tokio::test]
async fn sigterm_during_the_start_up_catch_up_leaves_no_running_claim() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    queue_one_mail(&url).await;
    // The daemon was installed an hour ago: the latest minute is caught up at start-up.
    let store = Store::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO daemon_meta (key, value) VALUES ('installed_at', $1)")
        .bind(fmt_ts(chrono::Utc::now() - chrono::Duration::hours(1)))
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let port = silent_smtp();
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates");
    let cfg = config_with(
        dir.path(),
        "inbox = \"\"\npayrun = \"\"\nremind = \"\"\noutbox = \"0 0 * * * *\"\njob_timeout_seconds = 3",
        &templates,
        &silent_mail(port),
    );
    let mut d = daemon(&url, &cfg, &dir.path().join("d.log"));
    let runs = wait_job(&url, "outbox", 20, |r| r.iter().any(|x| x.1 == "running")).await;
    assert!(runs.iter().any(|x| x.1 == "running"), "{runs:?}");
    let stop = Instant::now();
    let status = term(&mut d);
    assert!(status.success(), "{status:?}");
    assert!(
        stop.elapsed() < Duration::from_secs(8),
        "{:?}",
        stop.elapsed()
    );
    let runs = job_rows(&url, "outbox").await;
    assert!(runs.iter().all(|x| x.1 != "running"), "{runs:?}");
    assert!(
        runs.iter().any(|x| x.3.contains("timed out after 3 s")),
        "{runs:?}"
    );
    let store = Store::connect(&url).await.unwrap();
    let locked: i64 =
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM job_locks WHERE owner IS NOT NULL")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get(0);
    store.close().await;
    assert_eq!(locked, 0);
    let log = std::fs::read_to_string(dir.path().join("d.log")).unwrap();
    assert!(log.contains("daemon stopping: no job is running"), "{log}");
}

/// `jobs run payrun --year 2025` computes 2025's run whatever today is; `--year` is refused for
/// other jobs; a missed payment run's advice names the year of its scheduled time.
#[tokio::test]
async fn jobs_run_payrun_year_and_missed_advice_name_the_year() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let cfg = config(
        dir.path(),
        "inbox = \"\"\noutbox = \"\"\nremind = \"\"\ncatch_up_hours = 1",
    );
    import_roster(&url, &cfg);
    let o = cli(
        &url,
        &cfg,
        &[
            "--today",
            "2026-01-05",
            "jobs",
            "run",
            "payrun",
            "--year",
            "2025",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("draft 2025/1 computed"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let store = Store::connect(&url).await.unwrap();
    let years: Vec<i64> = sqlx::query("SELECT year FROM runs")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(years, [2025]);
    // Installed two years ago, down since: the latest 1 December is missed (unless it is within
    // the hour), and the advice names its year.
    sqlx::query("INSERT INTO daemon_meta (key, value) VALUES ('installed_at', $1)")
        .bind(fmt_ts(chrono::Utc::now() - chrono::Duration::days(730)))
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let o = cli(&url, &cfg, &["jobs", "run", "outbox", "--year", "2025"]);
    assert_eq!(o.status.code(), Some(2));
    let now = chrono::Utc::now();
    let latest = chieftech::jobs::plan::JobSchedule::parse("payrun", "0 0 9 1 12 *")
        .unwrap()
        .latest_in(now - chrono::Duration::days(400), now)
        .unwrap();
    if now - latest < chrono::Duration::minutes(65) {
        eprintln!("within the hour after 1 December 09:00: the run would be caught up, not missed");
        return;
    }
    let mut d = daemon(&url, &cfg, &dir.path().join("d.log"));
    let runs = wait_job(&url, "payrun", 15, |r| r.iter().any(|x| x.1 == "missed")).await;
    assert!(term(&mut d).success());
    let missed = runs.iter().find(|x| x.1 == "missed").expect("missed");
    let year = &chrono::DateTime::parse_from_rfc3339(&missed.0)
        .unwrap()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y")
        .to_string();
    assert!(
        missed
            .3
            .contains(&format!("`chieftech jobs run payrun --year {year}`")),
        "{missed:?}"
    );
}

/// `n` people (one appointment each) approved through `year - 1`, in one unit: each is due
/// months of `year`.
async fn seed_roster(store: &Store, n: usize, year: i32) {
    use chieftech::rules::id_number::make_id;
    use chieftech::store::{RosterEntry, Source, UnitEntry};
    let born = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let approved = chrono::NaiveDate::from_ymd_opt(year - 1, 1, 10).unwrap();
    let entries: Vec<RosterEntry> = (0..n)
        .map(|i| RosterEntry {
            id_number: make_id(
                "370303",
                born + chrono::Days::new((i % 9000) as u64),
                (i / 9000) as u32,
            ),
            name: format!("技师{i}"),
            unit: "张店示例厂".into(),
            occupation: "电工".into(),
            level: "技师".into(),
            approval_date: approved + chrono::Days::new((i % 300) as u64),
            approval_no: format!("张人社字〔{}〕{i}号", year - 1),
            bank_account: format!("6222021603{i:09}"),
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

/// Polls `sql` (one BIGINT) on `store` until `pred` holds or `secs` pass; the last value.
async fn poll_count(
    store: &Store,
    sql: &'static str,
    secs: u64,
    pred: impl Fn(i64) -> bool,
) -> i64 {
    let start = Instant::now();
    loop {
        let n: i64 = sqlx::query(sql)
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get(0);
        if pred(n) || start.elapsed() > Duration::from_secs(secs) {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Two daemons on one PostgreSQL database: the one running the scheduled payment run is killed
/// with SIGKILL in the middle of its computation; the other takes the claim over once its lease
/// lapses and finishes it. The payment run's time is run to completion once, no claim is left
/// running, and the ledger equals that of one uninterrupted run.
#[tokio::test]
async fn a_daemon_killed_mid_payrun_is_taken_over_by_another_after_the_lease() {
    let Some(db) = common::postgres().await else {
        return;
    };
    let Some(reference) = common::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let began = Instant::now();
    // Appointments approved last year: due months this year and next (a run scheduled across
    // the new year pays too), under a policy version covering those years whenever this runs.
    let year = {
        use chrono::Datelike;
        chrono::Utc::now()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .year()
    };
    const PEOPLE: usize = 40_000;
    tokio::join!(
        seed_roster(&db.store, PEOPLE, year),
        seed_roster(&reference.store, PEOPLE, year)
    );
    eprintln!(
        "seeded {PEOPLE} appointments twice in {:?}",
        began.elapsed()
    );
    // Installed an hour ago: a daemon that starts late on a loaded machine still catches the
    // scheduled time up.
    sqlx::query("INSERT INTO daemon_meta (key, value) VALUES ('installed_at', $1)")
        .bind(fmt_ts(chrono::Utc::now() - chrono::Duration::hours(1)))
        .execute(db.store.pool())
        .await
        .unwrap();
    // The payment run's date and year are those of its scheduled time in Shanghai.
    let (cron, at) = once_in(3);
    let today = at.with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let year = {
        use chrono::Datelike;
        today.year()
    };
    let today = today.to_string();
    let cfg = config(
        dir.path(),
        &format!(
            "inbox = \"\"\noutbox = \"\"\nremind = \"\"\npayrun = \"{cron}\"\nlease_seconds = 3"
        ),
    );
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "\n[[policy]]\ndocument = \"测试\"\nfrom = {}-01-01\nto = {}-12-31\nmonthly_rate = \"500.00\"\n",
        year - 3,
        year + 3
    ));
    std::fs::write(&cfg, text).unwrap();
    let mut a = daemon(&db.url, &cfg, &dir.path().join("a.log"));
    // Wait until A's claim is running and its computation is half-way: its transaction has
    // written run lines (uncommitted; its last statement a COPY into run_items) and is still open.
    let running = wait_job(&db.url, "payrun", 60, |r| {
        r.iter().any(|x| x.1 == "running")
    })
    .await;
    assert!(
        running.iter().any(|x| x.1 == "running"),
        "A never claimed the payment run: {running:?}\n{}",
        std::fs::read_to_string(dir.path().join("a.log")).unwrap_or_default()
    );
    let computing = poll_count(
        &db.store,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL AND query LIKE 'COPY run_items%'",
        60,
        |n| n > 0,
    )
    .await;
    assert!(
        computing > 0,
        "A's payment run never got to writing its lines"
    );
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    let killed = Instant::now();
    // Killed in the middle: its claim is still running, and nothing of the run is committed.
    let claims = job_rows(&db.url, "payrun").await;
    assert_eq!(claims.len(), 1, "{claims:?}");
    assert_eq!(
        (claims[0].0.as_str(), claims[0].1.as_str(), claims[0].2),
        (fmt_ts(at).as_str(), "running", 1)
    );
    let committed: i64 = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM runs")
        .fetch_one(db.store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        committed, 0,
        "A finished its computation before the kill: seed more"
    );
    let beat = |sql: &'static str| {
        let pool = db.store.pool().clone();
        async move {
            let t: String = sqlx::query(sql).fetch_one(&pool).await.unwrap().get(0);
            chrono::DateTime::parse_from_rfc3339(&t).unwrap()
        }
    };
    let last_beat = beat("SELECT heartbeat_at FROM job_runs WHERE job = 'payrun'").await;

    // B starts at once, while A's lease still holds, and takes the claim over once it lapses.
    let mut b = daemon(&db.url, &cfg, &dir.path().join("b.log"));
    let done = wait_job(&db.url, "payrun", 180, |r| {
        r.iter().any(|x| x.1 != "running")
    })
    .await;
    let finished = killed.elapsed();
    assert!(term(&mut b).success());
    let log_b = std::fs::read_to_string(dir.path().join("b.log")).unwrap_or_default();
    assert_eq!(
        done.len(),
        1,
        "the scheduled time ran once: {done:?}\n{log_b}"
    );
    assert_eq!(done[0].0, fmt_ts(at));
    assert_eq!(done[0].1, "ok", "{done:?}\n{log_b}");
    assert_eq!(done[0].2, 2, "A's attempt and B's: {done:?}");
    assert!(
        done[0].3.contains(&format!("draft {year}/1 computed")),
        "{done:?}"
    );
    eprintln!("B finished the payment run {finished:?} after the kill");
    let owner: String = sqlx::query("SELECT owner FROM job_runs WHERE job = 'payrun'")
        .fetch_one(db.store.pool())
        .await
        .unwrap()
        .get(0);
    assert!(
        owner.contains(&format!(":{}:", b.id())),
        "finished by B: {owner}"
    );
    let taken_over = beat("SELECT started_at FROM job_runs WHERE job = 'payrun'").await;
    assert!(
        taken_over >= last_beat + chrono::Duration::seconds(3),
        "taken over at {taken_over}, before A's lease (last heartbeat {last_beat}) lapsed"
    );
    let started: Vec<&str> = log_b
        .lines()
        .filter(|l| l.contains("job started"))
        .collect();
    assert_eq!(started.len(), 1, "{log_b}");
    assert!(started[0].contains("attempt=2"), "{log_b}");
    // No claim left running, no job lock held, one draft for the year, the bureau told once.
    let left: i64 =
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM job_runs WHERE status = 'running'")
            .fetch_one(db.store.pool())
            .await
            .unwrap()
            .get(0);
    assert_eq!(left, 0);
    let locked: i64 =
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM job_locks WHERE owner IS NOT NULL")
            .fetch_one(db.store.pool())
            .await
            .unwrap()
            .get(0);
    assert_eq!(locked, 0);
    let runs: Vec<(i64, i64, String)> = sqlx::query("SELECT year, seq, status FROM runs")
        .fetch_all(db.store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(runs, [(i64::from(year), 1, "draft".to_string())]);
    let notices: i64 =
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE key LIKE 'draft:%'")
            .fetch_one(db.store.pool())
            .await
            .unwrap()
            .get(0);
    assert_eq!(notices, 1);
    // The reference: the same seed, one uninterrupted run for the same date.
    let t = Instant::now();
    let o = cli(
        &reference.url,
        &cfg,
        &["--today", &today, "jobs", "run", "payrun"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!("draft {year}/1 computed")),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    eprintln!("one uninterrupted payment run: {:?}", t.elapsed());
    let expected = reference.store.dump().await.unwrap();
    assert!(
        expected.contains(&format!("{year}|1|draft|")),
        "the run pays nothing"
    );
    // The ledger is that of one uninterrupted run (on a difference, the first differing line).
    let got = db.store.dump().await.unwrap();
    if got != expected {
        let first = got
            .lines()
            .zip(expected.lines())
            .find(|(g, e)| g != e)
            .map(|(g, e)| format!("got {g:?}, expected {e:?}"))
            .unwrap_or_else(|| "one is a prefix of the other".into());
        panic!(
            "the ledger differs from one uninterrupted run ({} vs {} lines): {first}",
            got.lines().count(),
            expected.lines().count()
        );
    }
    eprintln!("test took {:?}", began.elapsed());
}
