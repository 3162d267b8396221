//! `chieftech demo`: the whole pipeline on a fresh SQLite file with sample data — import the
//! roster, five years of payment runs (each computed by one operator and approved by another)
//! with late reports, a fraud case and a policy that expires, exports, reminders and the
//! e-mails they cause — then prints where each output is. Each step calls the same use case
//! the command line calls ([`crate::jobs::payrun`], [`crate::jobs::ledger`]).

use super::error::{Class, JobError};
use super::session::{Open, Session};
use super::{ledger, payrun};
use crate::config::Config;
use crate::rules::money::fen_grouped;
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

/// The clerk who imports, computes and exports; the reviewer who approves.
const CLERK: &str = "经办人张";
const REVIEWER: &str = "审核人李";

fn fail(class: Class, e: impl std::fmt::Display) -> JobError {
    JobError::new(class, e.to_string())
}

/// Runs the demo in `dir` (created; must not hold an earlier demo's database).
pub async fn run_demo(base: &Config, dir: &Path, people: usize) -> Result<DemoReport, JobError> {
    let (cfg, database) = demo_config(base, dir)?;
    println!("chieftech demo in {}", dir.display());
    let inputs_dir = dir.join("inputs");
    let sample = crate::jobs::sample::write_sample(people, &inputs_dir, 2021)
        .map_err(|e| fail(Class::Outside, e))?;
    println!(
        "1. sample workbooks: {} people → {}",
        people,
        inputs_dir.display()
    );
    let start = NaiveDate::from_ymd_opt(2022, 1, 1).expect("date");
    let mut clerk = Session::open(
        cfg,
        database.clone(),
        CLERK.into(),
        start,
        Open::CreateIfMissing,
    )
    .await?;
    let report = ledger::import_roster(&clerk, std::slice::from_ref(&sample.roster), false).await?;
    for l in &report.lines {
        println!("2. {l}");
    }
    if report.refused {
        for p in &report.problems {
            eprintln!("   {p}");
        }
        return Err(fail(Class::Refused, "the sample roster was refused"));
    }
    let mut inputs = vec![sample.roster.clone()];
    let (mut runs, mut outputs) = (Vec::new(), Vec::new());
    for year in 2022..=2026 {
        // The reports units sent during the year (late ones included) come in before the run.
        for (_, path) in sample.changes.iter().filter(|(y, _)| *y == year) {
            inputs.push(path.clone());
            let r = ledger::import_changes(&clerk, std::slice::from_ref(path), true, false, false)
                .await?;
            for l in &r.lines {
                println!("   {l}");
            }
        }
        clerk.today = NaiveDate::from_ymd_opt(year, 12, 1).expect("date");
        let (line, files) = one_year(&clerk, year).await?;
        println!("3. {line}");
        runs.push(line);
        outputs.extend(files);
    }
    let end = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
    let (queued, _) = ledger::remind(&clerk, start, end).await?;
    println!("4. reminders 2022-01-01 … 2026-12-01: {queued} queued");
    let delivery = ledger::send_outbox(&clerk, false).await?;
    let sent = delivery.report.sent.len();
    let outbox = delivery.written_to.unwrap_or_default();
    println!("5. mail: {sent} messages written to {}", outbox.display());
    clerk.store.close().await;
    Ok(DemoReport {
        dir: dir.to_path_buf(),
        database,
        inputs,
        outputs,
        runs,
        mails: sent,
    })
}

/// One year's run: computed by the clerk, approved by the reviewer, exported by the clerk.
async fn one_year(clerk: &Session, year: i32) -> Result<(String, Vec<PathBuf>), JobError> {
    let bar = indicatif::ProgressBar::hidden();
    let s = payrun::compute(clerk, year, false, &bar).await?;
    let reviewer = Session {
        store: clerk.store.clone(),
        config: clerk.config.clone(),
        rules: clerk.rules.clone(),
        database: clerk.database.clone(),
        operator: REVIEWER.into(),
        today: clerk.today,
    };
    let (seq, _) = payrun::approve(&reviewer, year).await?;
    let exported = payrun::export(clerk, year, Some(seq), None).await?;
    let t = payrun::show(clerk, year, Some(seq)).await?.totals();
    let line = format!(
        "{year}年度：代发 {} 人 {} 元，追缴 {} 人 {} 元，未覆盖月份 {} 个",
        t.people_paid,
        fen_grouped(t.paid),
        t.people_recovering,
        fen_grouped(-t.recovered),
        s.uncovered_months
    );
    Ok((line, exported.files))
}

/// The demo's configuration: the caller's, with reports, outbox and a new SQLite file under
/// `dir` and no SMTP server (mail is written as .eml files). Refuses a folder that already
/// holds a demo.
fn demo_config(base: &Config, dir: &Path) -> Result<(Config, String), JobError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| fail(Class::Outside, format!("{}: {e}", dir.display())))?;
    let db_path = dir.join("demo.db");
    if db_path.exists() {
        return Err(fail(
            Class::Usage,
            format!(
                "{} already holds a demo database: give another folder with -o",
                dir.display()
            ),
        ));
    }
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
    cfg.rules_config().map_err(|e| fail(Class::Usage, e))?;
    crate::mail::MailSettings::from_config(&cfg)?;
    Ok((cfg, format!("sqlite://{}", db_path.display())))
}
