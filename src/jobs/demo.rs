//! `chieftech demo`: the whole pipeline on a fresh SQLite file with sample data — import the
//! roster, five years of payment runs (each computed by one operator and approved by another)
//! with late reports, a fraud case and a policy that expires, exports, reminders and the
//! e-mails they cause — then prints where each output is.

use crate::cli::Failure;
use crate::config::Config;
use crate::rules::money::fen_grouped;
use crate::rules::{Reporter, RulesConfig};
use crate::store::payrun::RunPolicy;
use crate::store::Store;
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

/// What the demo made.
#[derive(Debug, Clone)]
pub struct DemoReport {
    pub dir: PathBuf,
    pub database: String,
    pub inputs: Vec<PathBuf>,
    pub outputs: Vec<PathBuf>,
    pub runs: Vec<String>,
    pub mails: usize,
}

fn fail(code: u8, e: impl std::fmt::Display) -> Failure {
    Failure::new(code, anyhow::anyhow!("{e}"))
}

/// Runs the demo in `dir` (created; must not hold an earlier demo's database).
pub async fn run_demo(base: &Config, dir: &Path, people: usize) -> Result<DemoReport, Failure> {
    std::fs::create_dir_all(dir).map_err(|e| fail(3, format!("{}: {e}", dir.display())))?;
    let db_path = dir.join("demo.db");
    if db_path.exists() {
        return Err(fail(
            2,
            format!(
                "{} already holds a demo database: give another folder with -o",
                dir.display()
            ),
        ));
    }
    let database = format!("sqlite://{}", db_path.display());
    let reports = dir.join("reports");
    let mut cfg = base.clone();
    cfg.paths.reports = reports.clone();
    let mut mail = match cfg.other.get("mail") {
        Some(toml::Value::Table(t)) => t.clone(),
        _ => toml::Table::new(),
    };
    mail.remove("smtp_host");
    mail.insert(
        "outbox_dir".into(),
        toml::Value::String(reports.join("outbox").display().to_string()),
    );
    if !mail.contains_key("templates") {
        mail.insert(
            "templates".into(),
            toml::Value::String("config/templates".into()),
        );
    }
    cfg.other.insert("mail".into(), toml::Value::Table(mail));
    let rules: RulesConfig = cfg.rules_config().map_err(|e| fail(2, e))?;
    let policy = RunPolicy {
        allow_supplementary: true,
        allow_single_operator: false,
    };
    let settings = crate::mail::MailSettings::from_config(&cfg).map_err(|e| fail(2, e))?;

    println!("chieftech demo in {}", dir.display());
    let inputs_dir = dir.join("inputs");
    let sample =
        crate::jobs::sample::write_sample(people, &inputs_dir, 2021).map_err(|e| fail(3, e))?;
    println!(
        "1. sample workbooks: {} people → {}",
        people,
        inputs_dir.display()
    );

    let store = Store::connect(&database).await.map_err(|e| fail(3, e))?;
    let report = crate::jobs::import::import_roster(
        &store,
        std::slice::from_ref(&sample.roster),
        "经办人张",
        false,
    )
    .await
    .map_err(|e| fail(3, e))?;
    for l in &report.lines {
        println!("2. {l}");
    }
    if report.refused {
        for p in &report.problems {
            eprintln!("   {p}");
        }
        return Err(fail(1, "the sample roster was refused"));
    }

    let mut runs = Vec::new();
    let mut outputs = Vec::new();
    let mut inputs = vec![sample.roster.clone()];
    let units = crate::jobs::notices::unit_emails(&store)
        .await
        .map_err(|e| fail(3, e))?;
    for year in 2022..=2026 {
        // The reports units sent during the year (late ones included) come in before the run.
        for (_, path) in sample.changes.iter().filter(|(y, _)| *y == year) {
            inputs.push(path.clone());
            let r = crate::jobs::import::import_changes(
                &store,
                std::slice::from_ref(path),
                Reporter::Bureau,
                true,
                &rules,
                "经办人张",
                false,
            )
            .await
            .map_err(|e| fail(3, e))?;
            for l in &r.lines {
                println!("   {l}");
            }
        }
        let today = NaiveDate::from_ymd_opt(year, 12, 1).expect("date");
        let s = store
            .compute_run(
                year,
                false,
                "经办人张",
                today,
                &rules,
                policy,
                &indicatif::ProgressBar::hidden(),
            )
            .await
            .map_err(|e| fail(3, e))?;
        let (seq, _) = store
            .approve_run_with(
                year,
                "审核人李",
                policy,
                &rules,
                rules.offset_recoveries,
                |view, reasons| {
                    crate::jobs::notices::run_notices(
                        view,
                        reasons,
                        &units,
                        &settings,
                        rules.policy.last_day(),
                        today,
                    )
                    .map_err(|e| e.to_string())
                },
            )
            .await
            .map_err(|e| fail(3, e))?;
        let exported =
            crate::jobs::export::export_run(&store, &cfg, year, Some(seq), None, "经办人张")
                .await
                .map_err(|e| fail(3, e))?;
        let (_, view) = crate::jobs::notices::queue_finance_notice(
            &store,
            year,
            Some(seq),
            rules.offset_recoveries,
            &exported.files,
            &settings,
            today,
        )
        .await
        .map_err(|e| fail(e.exit_code(), e))?;
        outputs.extend(exported.files.iter().cloned());
        let t = view.totals();
        let line = format!(
            "{year}年度：代发 {} 人 {} 元，追缴 {} 人 {} 元，未覆盖月份 {} 个",
            t.people_paid,
            fen_grouped(t.paid),
            t.people_recovering,
            fen_grouped(-t.recovered),
            s.uncovered_months
        );
        println!("3. {line}");
        runs.push(line);
    }
    let r = crate::jobs::remind::remind_range(
        &store,
        &cfg,
        &rules,
        NaiveDate::from_ymd_opt(2022, 1, 1).expect("date"),
        NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"),
    )
    .await
    .map_err(|e| fail(3, e))?;
    println!("4. reminders 2022-01-01 … 2026-12-01: {} queued", r.queued);
    let sent = crate::mail::outbox::send_due(&store, &settings, chrono::Utc::now())
        .await
        .map_err(|e| fail(3, e))?;
    println!(
        "5. mail: {} messages written to {}",
        sent.sent.len(),
        settings.outbox_dir.display()
    );
    store.close().await;
    Ok(DemoReport {
        dir: dir.to_path_buf(),
        database,
        inputs,
        outputs,
        runs,
        mails: sent.sent.len(),
    })
}
