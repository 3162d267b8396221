//! Test support: a fresh database per test, on SQLite and on PostgreSQL.
//!
//! PostgreSQL is reached at `CHIEFTECH_TEST_PG` (default `postgres://postgres@127.0.0.1:5432`).
//! When it does not answer, PostgreSQL tests print a loud SKIPPED line, except under `CI=true`,
//! where they fail.
#![allow(dead_code)]

use chieftech::jobs::notices::{run_notices, unit_emails};
use chieftech::mail::MailSettings;
use chieftech::rules::RulesConfig;
use chieftech::store::payrun::RunPolicy;
use chieftech::store::Store;
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database made for one test and dropped after it.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub name: String,
    pg_admin: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

fn pg_base() -> String {
    std::env::var("CHIEFTECH_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A fresh SQLite file in a temporary folder.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let store = Store::connect(&url).await.expect("sqlite store");
    TestDb {
        store,
        url,
        name: "sqlite".into(),
        pg_admin: None,
        _dir: Some(dir),
    }
}

/// A fresh PostgreSQL database, or None (loudly) where no server answers outside CI.
pub async fn postgres() -> Option<TestDb> {
    let base = pg_base();
    let admin = format!("{base}/postgres");
    sqlx::any::install_default_drivers();
    let reachable = sqlx::AnyPool::connect(&admin).await;
    if let Err(e) = reachable {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("PostgreSQL at {admin} does not answer under CI=true: {e}");
        }
        eprintln!("\n*** SKIPPED PostgreSQL test: {admin} does not answer ({e}) ***\n");
        return None;
    }
    let name = format!(
        "chieftech_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        rand::random::<u32>()
    );
    let url = format!("{base}/{name}");
    let store = Store::connect(&url).await.expect("postgres store");
    Some(TestDb {
        store,
        url,
        name,
        pg_admin: Some(admin),
        _dir: None,
    })
}

/// Every backend available: SQLite always, PostgreSQL when it answers (always under CI).
pub async fn backends() -> Vec<TestDb> {
    let mut v = vec![sqlite().await];
    v.extend(postgres().await);
    v
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(admin) = self.pg_admin.take() {
            let name = self.name.clone();
            // The pool belongs to the test's runtime, which is blocked here: don't await it;
            // WITH (FORCE) ends its connections.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    if let Ok(p) = sqlx::AnyPool::connect(&admin).await {
                        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&p).await;
                        p.close().await;
                    }
                });
            })
            .join()
            .ok();
        }
    }
}

/// Computes the draft of `year` as `alice` on 1 December and approves it as `bob` on
/// 2 December (default rules; supplementary runs allowed, four eyes), queuing the run's
/// notices written with `settings`: how many were queued.
pub async fn approve_with_notices(store: &Store, year: i32, settings: &MailSettings) -> usize {
    const POLICY: RunPolicy = RunPolicy {
        allow_supplementary: true,
        allow_single_operator: false,
    };
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(year, 12, d).unwrap();
    let cfg = RulesConfig::default();
    store
        .compute_run(
            year,
            false,
            "alice",
            day(1),
            &cfg,
            POLICY,
            &indicatif::ProgressBar::hidden(),
        )
        .await
        .unwrap();
    let units = unit_emails(store).await.unwrap();
    let (_, queued) = store
        .approve_run_with(year, "bob", POLICY, &cfg, true, {
            let (settings, last_day, approved) = (settings.clone(), cfg.policy.last_day(), day(2));
            move |view, reasons| {
                run_notices(view, reasons, &units, &settings, last_day, approved)
                    .map_err(|e| e.to_string())
            }
        })
        .await
        .unwrap();
    queued
}
