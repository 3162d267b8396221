//! `chieftech demo`: the whole pipeline on a fresh SQLite file with sample data — import the
//! roster, five years of payment runs (each computed by one operator and approved by another)
//! with late reports, a fraud case and a policy that expires, exports, reminders and the
//! e-mails they cause — then says where each output is. Each step calls the same use case
//! the command line calls ([`crate::jobs::payrun`], [`crate::jobs::ledger`]).
//!
//! What it prints on stdout is for a newcomer: numbered steps in Chinese, one short line
//! explaining each number that needs it (why the roster has more rows than people, what 追缴
//! and 未覆盖 mean). Logs go to stderr and are off unless `-v` (see [`crate::telemetry`]).
//! No full ID number is printed: the person to try `explain` on is shown by name and masked
//! ID, and the ready-to-paste command is written to `try-explain.sh` (mode 0600) by
//! [`write_try_explain`].

use super::error::{Class, JobError};
use super::notices::cn_date;
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
    /// A person worth an `explain` (one with a recovery when there is one): (name, ID number).
    pub try_person: Option<(String, String)>,
}

/// The clerk who imports, computes and exports; the reviewer who approves.
const CLERK: &str = "经办人张";
const REVIEWER: &str = "审核人李";

/// Indent of the lines under a step.
const UNDER: &str = "      ";

fn fail(class: Class, e: impl std::fmt::Display) -> JobError {
    JobError::new(class, e.to_string())
}

/// Runs the demo in `dir` (created; must not hold an earlier demo's database).
pub async fn run_demo(base: &Config, dir: &Path, people: usize) -> Result<DemoReport, JobError> {
    let (cfg, database) = demo_config(base, dir)?;
    println!(
        "chieftech 演示：用示例数据把全部流程走一遍，所有文件都在 {}",
        dir.display()
    );
    println!();
    let inputs_dir = dir.join("inputs");
    let sample = make_sample(people, &inputs_dir)?;
    let start = NaiveDate::from_ymd_opt(2022, 1, 1).expect("date");
    super::session::record_on(start);
    let mut clerk = Session::open(
        cfg,
        database.clone(),
        CLERK.into(),
        start,
        Open::CreateIfMissing,
    )
    .await?;
    import_sample_roster(&clerk, &sample, &inputs_dir).await?;
    println!(
        "第3步 逐年发放：每年先导入各单位报来的变动，再由{CLERK}计算发放批次、{REVIEWER}审批（两人分开，四眼原则），然后生成代发文件和汇总表"
    );
    let years = pay_years(&mut clerk, &sample, &inputs_dir).await?;
    explain_terms(&clerk, years.uncovered);
    let sent = remind_and_send(&clerk, start).await?;
    clerk.store.close().await;
    Ok(DemoReport {
        dir: dir.to_path_buf(),
        database,
        inputs: years.inputs,
        outputs: years.outputs,
        runs: years.runs,
        mails: sent,
        try_person: years.try_person,
    })
}

/// Step 1: writes the sample workbooks into `inputs_dir`.
fn make_sample(
    people: usize,
    inputs_dir: &Path,
) -> Result<crate::jobs::sample::SampleFiles, JobError> {
    let sample = crate::jobs::sample::write_sample(people, inputs_dir, 2021)
        .map_err(|e| fail(Class::Outside, e))?;
    let years: Vec<i32> = sample.changes.iter().map(|(y, _)| *y).collect();
    println!(
        "第1步 生成示例数据：{people}名首席技师的名册（roster.xlsx）和{}年各单位报来的变动情况报告表 → {}",
        match (years.first(), years.last()) {
            (Some(a), Some(b)) if a != b => format!("{a}–{b}"),
            (Some(a), _) => a.to_string(),
            _ => "各".into(),
        },
        inputs_dir.display()
    );
    Ok(sample)
}

/// A report line with the inputs folder left out of file names.
fn shown(inputs_dir: &Path, line: &str) -> String {
    line.replace(&format!("{}/", inputs_dir.display()), "")
}

/// Step 2: imports the sample roster, explaining why it has more rows than people.
async fn import_sample_roster(
    clerk: &Session,
    sample: &crate::jobs::sample::SampleFiles,
    inputs_dir: &Path,
) -> Result<(), JobError> {
    let report = ledger::import_roster(clerk, std::slice::from_ref(&sample.roster), false).await?;
    for l in &report.lines {
        println!("第2步 导入名册：{}", shown(inputs_dir, l));
    }
    if report.refused {
        for p in &report.problems {
            eprintln!("{UNDER}{p}");
        }
        return Err(fail(Class::Refused, "the sample roster was refused"));
    }
    let (rows, persons) = roster_counts(clerk).await?;
    if rows > persons {
        println!(
            "{UNDER}名册共{rows}行、{persons}人：有{}人第一个管理期满后再次当选，每次当选各占一行。",
            rows - persons
        );
    }
    Ok(())
}

/// What the five years of runs did.
struct Years {
    inputs: Vec<PathBuf>,
    outputs: Vec<PathBuf>,
    runs: Vec<String>,
    try_person: Option<(String, String)>,
    uncovered: usize,
}

/// Step 3: each year from 2022 to 2026, the year's change reports, then its run.
async fn pay_years(
    clerk: &mut Session,
    sample: &crate::jobs::sample::SampleFiles,
    inputs_dir: &Path,
) -> Result<Years, JobError> {
    let mut done_years = Years {
        inputs: vec![sample.roster.clone()],
        outputs: Vec::new(),
        runs: Vec::new(),
        try_person: None,
        uncovered: 0,
    };
    let mut picked_recovery = false;
    for year in 2022..=2026 {
        // Each year's reports are taken in, and its run computed, approved and exported, on
        // its own 1 December: what the program records is dated then, not today.
        super::session::record_on(NaiveDate::from_ymd_opt(year, 12, 1).expect("date"));
        // The reports units sent during the year (late ones included) come in before the run.
        for (_, path) in sample.changes.iter().filter(|(y, _)| *y == year) {
            done_years.inputs.push(path.clone());
            let r = ledger::import_changes(clerk, std::slice::from_ref(path), true, false, false)
                .await?;
            for l in &r.lines {
                println!("{UNDER}导入变动：{}", shown(inputs_dir, l));
            }
        }
        clerk.today = NaiveDate::from_ymd_opt(year, 12, 1).expect("date");
        let done = one_year(clerk, year).await?;
        println!("{UNDER}{}", done.line);
        done_years.uncovered += done.uncovered;
        if year == BANK_FAILS_IN {
            let file = bank_answers(clerk, year, &done.view, inputs_dir).await?;
            done_years.inputs.push(file);
        }
        done_years.runs.push(done.line);
        done_years.outputs.extend(done.files);
        // The person to try `explain` on: the first one with a recovery, else the first paid.
        let recovering = done.view.people.iter().find(|p| p.net.recovery < 0);
        if let Some(p) = recovering.filter(|_| !picked_recovery) {
            done_years.try_person = Some((p.name.clone(), p.id_number.clone()));
            picked_recovery = true;
        } else if let Some(p) = done
            .view
            .people
            .first()
            .filter(|_| done_years.try_person.is_none())
        {
            done_years.try_person = Some((p.name.clone(), p.id_number.clone()));
        }
    }
    Ok(done_years)
}

/// The year whose bank return file reports failures (re-issued by the next year's run).
const BANK_FAILS_IN: i32 = 2023;

/// The bank's answer to the year's bank file, as the bank would send it: every row paid but
/// the 2nd and the 5th (账户已销户), written in the template's return layout and reconciled;
/// the failures' units are told, and the next year's run pays them again (重发). Returns the
/// return file's path.
async fn bank_answers(
    clerk: &Session,
    year: i32,
    view: &crate::store::RunView,
    inputs_dir: &Path,
) -> Result<PathBuf, JobError> {
    let template = crate::excel::bank::BankTemplate::from_config(
        clerk
            .config
            .export
            .bank_template_path(&clerk.config.base_dir),
    )
    .map_err(|e| fail(Class::Usage, e))?;
    let layout = template.return_layout();
    let path = inputs_dir.join(format!("bank-return-{year}.xlsx"));
    let paid: Vec<&crate::store::RunPerson> = view
        .people
        .iter()
        .filter(|p| p.net.bank > 0)
        .take(template.max_rows as usize)
        .collect();
    write_return_file(&path, &layout, &paid).map_err(|e| fail(Class::Outside, e))?;
    let r = super::reconcile::reconcile(clerk, year, Some(view.seq), &path, false).await?;
    let c = &r.reconciled;
    if !r.applied() {
        return Err(fail(Class::Refused, r.problems().join("; ")));
    }
    println!(
        "{UNDER}银行回盘（{}）：到账 {} 笔，失败 {} 笔（账户已销户）；已通知其单位核实账户，下一年度的发放批次重发",
        path.file_name().and_then(|n| n.to_str()).unwrap_or_default(),
        c.paid,
        c.failed.len()
    );
    Ok(path)
}

/// A return file in `layout` (xlsx) for the bank rows of `paid`, in order: 序号 from 1; the
/// 2nd and 5th rows failed.
fn write_return_file(
    path: &Path,
    layout: &crate::excel::bank_return::ReturnLayout,
    paid: &[&crate::store::RunPerson],
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    let columns: Vec<&str> = [
        layout.row_no.as_deref(),
        layout.id_number.as_deref(),
        layout.account.as_deref(),
        Some(layout.amount.as_str()),
        Some(layout.status.as_str()),
        layout.reason.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (c, h) in columns.iter().enumerate() {
        ws.write_string(0, c as u16, *h)?;
    }
    for (k, p) in paid.iter().enumerate() {
        let failed = k == 1 || k == 4;
        let account = p
            .items
            .last()
            .map(|i| i.bank_account.as_str())
            .unwrap_or("");
        let cells = [
            layout.row_no.as_ref().map(|_| (k + 1).to_string()),
            layout.id_number.as_ref().map(|_| p.id_number.clone()),
            layout.account.as_ref().map(|_| account.to_string()),
            Some(crate::rules::money::fen_str(p.net.bank)),
            Some(
                if failed {
                    layout.failed_values.first()
                } else {
                    layout.paid_values.first()
                }
                .cloned()
                .unwrap_or_default(),
            ),
            layout.reason.as_ref().map(|_| {
                if failed {
                    "账户已销户".to_string()
                } else {
                    String::new()
                }
            }),
        ];
        for (c, v) in cells.into_iter().flatten().enumerate() {
            ws.write_string(k as u32 + 1, c as u16, v)?;
        }
    }
    book.save(path)?;
    // Full ID and account numbers, as the bank's file has them.
    crate::jobs::sample::make_private(path).map_err(rust_xlsxwriter::XlsxError::IoError)
}

/// Explains 追缴 and, when some months were uncovered, 未覆盖.
fn explain_terms(clerk: &Session, uncovered: usize) {
    println!("{UNDER}追缴：以前多发、应当退回的钱（例如退休迟报、称号被撤销），发追缴通知，不进代发文件。");
    if uncovered > 0 {
        let last = clerk
            .rules
            .policy
            .last_day()
            .map(cn_date)
            .unwrap_or_default();
        println!(
            "{UNDER}未覆盖：政策{last}到期后仍在管理期内的月份（按人按月计），没有政策依据，暂不发放；出台后续政策后可补发。"
        );
    }
}

/// Steps 4 and 5: queues the reminders of the demo's years and sends the outbox (as .eml
/// files); returns the number of mails sent.
async fn remind_and_send(clerk: &Session, start: NaiveDate) -> Result<usize, JobError> {
    let end = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
    let (queued, _) = ledger::remind(clerk, start, end).await?;
    println!(
        "第4步 排定{}至{}的提醒：管理期到期、年度变动确认、推荐通知、政策到期，共{queued}封",
        cn_date(start),
        cn_date(end)
    );
    let delivery = ledger::send_outbox(clerk, false).await?;
    let sent = delivery.report.sent.len();
    let outbox = delivery.written_to.unwrap_or_default();
    println!(
        "第5步 发出邮件：共{sent}封（每次批准的发放明细和追缴通知、财政局通知、提醒），没有配置邮件服务器，每封写成一个 .eml 文件（可用邮件程序打开）→ {}",
        outbox.display()
    );
    Ok(sent)
}

/// Roster rows (appointments) and people (technicians) in the ledger.
async fn roster_counts(s: &Session) -> Result<(i64, i64), JobError> {
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(s.store.pool())
            .await
            .map_err(|e| fail(Class::Outside, e))
    };
    Ok((
        count("SELECT COUNT(*) FROM appointments").await?,
        count("SELECT COUNT(*) FROM technicians").await?,
    ))
}

/// What one year of the demo did.
struct Year {
    line: String,
    files: Vec<PathBuf>,
    uncovered: usize,
    view: payrun::RunView,
}

/// One year's run: computed by the clerk, approved by the reviewer, exported by the clerk.
async fn one_year(clerk: &Session, year: i32) -> Result<Year, JobError> {
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
    let view = payrun::show(clerk, year, Some(seq)).await?;
    let t = view.totals();
    let line = format!(
        "{year}年度：代发 {} 人 {} 元，追缴 {} 人 {} 元，未覆盖月份 {} 个",
        t.people_paid,
        fen_grouped(t.paid),
        t.people_recovering,
        fen_grouped(-t.recovered),
        s.uncovered_months
    );
    Ok(Year {
        line,
        files: exported.files,
        uncovered: s.uncovered_months,
        view,
    })
}

/// Writes `dir/try-explain.sh` (mode 0600: it holds the person's full ID number): the
/// command that shows the person's months with `explain`, run from `cwd` with the same
/// configuration. Returns its path.
pub fn write_try_explain(
    dir: &Path,
    exe: &Path,
    cwd: &Path,
    config: Option<&Path>,
    database: &str,
    person: (&str, &str),
) -> std::io::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let path = dir.join("try-explain.sh");
    let (name, id) = person;
    let config = config
        .map(|c| format!(" --config {}", q(&c.display().to_string())))
        .unwrap_or_default();
    let text = format!(
        "# chieftech 演示：{name}（{}）的逐月说明。此文件含完整身份证号码，仅本人可读（0600）。\n# 运行：sh {}\ncd {} || exit 2\nexec {}{config} --database {} explain {}\n",
        crate::rules::id_number::mask(id),
        path.display(),
        q(&cwd.display().to_string()),
        q(&exe.display().to_string()),
        q(database),
        q(id)
    );
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())?;
    Ok(path)
}

/// The demo's configuration: the caller's, with reports, outbox and a new SQLite file under
/// `dir`, no SMTP server (mail is written as .eml files) and, unless configured, an example
/// repayment account and contact. Refuses a folder that already holds a demo.
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
    // Example repayment account and contact for the recovery notices, unless configured.
    for (key, value) in [
        ("repayment_bank", "中国建设银行淄博张店支行（示例）"),
        ("repayment_account", "3705 0162 6801 0000 0123（示例）"),
        ("contact", "区人社局职业能力建设科（示例）"),
    ] {
        if !mail.contains_key(key) {
            mail.insert(key.into(), toml::Value::String(value.into()));
        }
    }
    cfg.other.insert("mail".into(), toml::Value::Table(mail));
    cfg.rules_config().map_err(|e| fail(Class::Usage, e))?;
    crate::mail::MailSettings::from_config(&cfg)?;
    Ok((cfg, format!("sqlite://{}", db_path.display())))
}
