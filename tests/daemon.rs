//! Issue 6 (scheduler): the daemon with schedules a few seconds apart — jobs fire and are
//! recorded; a second daemon on the same SQLite file refuses to start; SIGTERM stops it
//! cleanly; a killed daemon catches up once after a restart; two daemons on one PostgreSQL
//! database never run the same scheduled time twice; a payment run killed half-way by kill -9
//! and run again leaves the ledger as if it ran once.

mod common;

use chieftech::store::Store;
use sqlx::Row;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn config(dir: &Path, schedule: &str) -> PathBuf {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates");
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[schedule]\n{schedule}\n\n[mail]\ntemplates = \"{}\"\noutbox_dir = \"{}\"\n",
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
