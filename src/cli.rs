//! The command line of docs/contract.md: it parses the arguments, calls one use case of
//! [`crate::jobs`] per command, prints the result and maps errors to exit statuses (0 success,
//! 1 input refused, 2 usage or configuration, 3 other failure). No use-case logic lives here.

use crate::config::Config;
use crate::jobs::error::JobError;
use crate::jobs::session::{Open, Session};
use crate::jobs::{ledger, payrun as run};
use crate::rules::id_number::mask;
use crate::rules::money::{fen_grouped, fen_str};
use crate::rules::Month;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

/// chieftech: the Zhangdian District chief technician (首席技师) allowance, end to end.
#[derive(Debug, Parser)]
#[command(name = "chieftech", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file [default: config/default.toml]
    #[arg(long, global = true, env = "CHIEFTECH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB [default: from config]
    #[arg(long, global = true, env = "CHIEFTECH_DATABASE_URL")]
    pub database: Option<String>,
    /// Today's date (YYYY-MM-DD), standing in for the clock everywhere
    #[arg(long, global = true)]
    pub today: Option<NaiveDate>,
    /// Who acts (recorded with every change) [default: the OS user]
    #[arg(long, global = true)]
    pub operator: Option<String>,
    /// Log to stderr: -v what is done, -vv details, -vvv everything [default: warnings only;
    /// RUST_LOG, when set, takes precedence]
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or migrate the database
    Init,
    /// Write an empty input workbook: headers, notes, drop-down lists
    Template {
        /// roster (名册), changes (变动), nominations (推荐汇总, the selection) or scores (评审成绩)
        #[arg(value_parser = ["roster", "changes", "nominations", "scores"])]
        kind: String,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Import workbooks: the roster, or units' status-change reports
    #[command(subcommand)]
    Import(ImportCommand),
    /// List or void recorded status changes
    #[command(subcommand)]
    Changes(ChangesCommand),
    /// Void an appointment recorded in error
    #[command(subcommand)]
    Roster(RosterCommand),
    /// Payment runs: compute, approve, show, export
    #[command(subcommand)]
    Payrun(PayrunCommand),
    /// What each year will cost (支出预测), from today's roster and recorded changes, assuming
    /// no further changes; what-if a successor policy and new selections each year
    Forecast {
        /// First year
        #[arg(long)]
        from: i32,
        /// Last year
        #[arg(long)]
        to: i32,
        /// What-if: a successor policy's monthly rate (yuan), from the day after the last
        /// configured policy ends [default: the last policy's rate]
        #[arg(long)]
        rate: Option<rust_decimal::Decimal>,
        /// What-if: the successor policy's last day [default: 31 December of --to]
        #[arg(long, value_name = "YYYY-MM-DD")]
        policy_until: Option<NaiveDate>,
        /// What-if: new appointments each cohort year (§4: about ten), modelled, never recorded
        #[arg(long, default_value_t = 0)]
        selected_per_year: u32,
        /// Approval day of the new appointments [default: the median of the latest cohort, else 10-01]
        #[arg(long, value_name = "MM-DD")]
        approval_day: Option<String>,
        /// The workbook [default: <paths.reports>/forecast-FROM-TO.xlsx]
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Print the JSON of docs/contract.md instead (the workbook only with -o)
        #[arg(long)]
        json: bool,
    },
    /// Recoveries (追缴): plans in instalments, repayments received, open balances
    #[command(subcommand)]
    Recovery(RecoveryCommand),
    /// The roster and changes read from the personnel system's database (`[[source]]`)
    #[command(subcommand)]
    Sources(SourcesCommand),
    /// The yearly selection round (评选): nominations, notices, objections, scores, approval
    #[command(subcommand)]
    Selection(SelectionCommand),
    /// Why each month of a person earned what it did, and which runs paid it
    Explain {
        /// The person's ID number (身份证号码)
        id: String,
        /// Only this month (YYYY-MM)
        #[arg(long)]
        month: Option<Month>,
    },
    /// Queue the reminders that fall due on a date (or on every day of a catch-up range)
    Remind {
        /// The day [default: --today]
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Catch up: every day from this one to --date
        #[arg(long)]
        since: Option<NaiveDate>,
    },
    /// The mail outbox
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Take in units' e-mailed reports (and workbooks dropped in the inbox folder)
    #[command(subcommand)]
    Inbox(InboxCommand),
    /// Run every scheduled job until stopped (SIGTERM/SIGINT)
    Daemon,
    /// The scheduler's jobs: list them, or run one by hand
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Synthetic roster and changes workbooks for trying and benchmarks
    Sample {
        #[arg(long, default_value_t = 60)]
        people: usize,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        #[arg(long, default_value_t = 2021)]
        seed: u64,
    },
    /// Sample data and the whole pipeline on a fresh SQLite file
    Demo {
        /// Where the demo writes its database, inputs and reports [default: a new temporary folder]
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        #[arg(long, default_value_t = 60)]
        people: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Technicians, units and appointments (all or nothing)
    Roster {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Status-change reports (变动情况报告表)
    Changes {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Apply the good rows and refuse only the bad ones
        #[arg(long)]
        accept_valid: bool,
        /// The files are units' reports (变动情况报告表): a unit may not report 恢复待遇, nor
        /// re-send a change the bureau voided. Without it they are the bureau's own entries.
        #[arg(long)]
        from_unit: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum InboxCommand {
    /// Take in every new message and file of the inbox
    Scan,
    /// Messages held because the mail server did not vouch for their sender
    Held,
    /// Accept a held message after checking it (a clerk's decision)
    Accept { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Schedule, last and next run, outcome of each job; failures not yet acknowledged
    List,
    /// Run one job now (inbox, outbox, remind, payrun, export); --today sets its date
    Run {
        name: String,
        /// The payment run's year (a missed or failed run of December 2025: --year 2025)
        /// [default: the year of --today]
        #[arg(long)]
        year: Option<i32>,
    },
    /// Acknowledge a failed job run (who: --operator); `jobs list` stops showing it
    Ack {
        name: String,
        /// The failed run's scheduled time, as `jobs list` shows it [default: all of the job's]
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Deliver queued mail (retries what failed before, when its retry is due)
    Send {
        /// Put parked messages back in the queue first
        #[arg(long)]
        requeue_parked: bool,
    },
    /// How many messages are queued, sent and parked
    Status,
}

#[derive(Debug, Subcommand)]
pub enum ChangesCommand {
    /// A person's recorded changes, with their ids and sources
    List { id: String },
    /// Void a change recorded in error (kept, marked void)
    Void {
        change_id: i64,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RosterCommand {
    /// Void an appointment recorded in error (kept, marked void); the next run recovers what it
    /// was paid, and the corrected roster row then imports
    Void {
        /// The technician's ID number
        id: String,
        /// The approval date of the appointment to void (YYYY-MM-DD)
        approval_date: NaiveDate,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Read every configured source (or the one named): new and changed rows, or every row
    /// with --full (and on the first pull, and every `full_every_days`)
    Pull {
        /// The source's `name` in the configuration
        name: Option<String>,
        /// Read every row and report rows gone from the source
        #[arg(long)]
        full: bool,
    },
    /// Every configured source with its pulls, watermark and known rows
    List,
}

#[derive(Debug, Subcommand)]
pub enum SelectionCommand {
    /// Open a year's round: nominations reach the bureau by --deadline
    Open {
        #[arg(long)]
        year: i32,
        /// The last day nominations reach the bureau (YYYY-MM-DD)
        #[arg(long)]
        deadline: NaiveDate,
        /// The expected approval day: a term still running then disqualifies [default: 31 Dec]
        #[arg(long)]
        approval_by: Option<NaiveDate>,
        /// The call for nominations' document number (文号)
        #[arg(long)]
        document: Option<String>,
    },
    /// Import nominating bodies' summary workbooks (template nominations), each all or nothing
    Import {
        /// The round [default: the latest opened]
        #[arg(long)]
        year: Option<i32>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Every candidate: stage, eligibility findings, scores and rank, objections
    List {
        #[arg(long)]
        year: Option<i32>,
        #[arg(long)]
        json: bool,
    },
    /// One candidate's whole record: every step, objection and score
    Show {
        /// The candidate: 编号 or full ID number
        who: String,
        #[arg(long)]
        year: Option<i32>,
    },
    /// Move candidates to a stage (推荐公示, 资格审查, 评审, 考察公示, 考察, 退出); opening a
    /// notice writes its public list
    Step {
        /// The stage: its Chinese name or code (nomination-notice, qualification, review,
        /// inspection-notice, inspection, withdrawn)
        #[arg(long)]
        stage: String,
        /// The day [default: --today]
        #[arg(long)]
        date: Option<NaiveDate>,
        /// The decision's or notice's document number (文号)
        #[arg(long)]
        document: Option<String>,
        /// Why (退出 needs one)
        #[arg(long)]
        reason: Option<String>,
        /// Every candidate at the stage before
        #[arg(long, conflicts_with = "who")]
        all: bool,
        #[arg(long)]
        year: Option<i32>,
        /// Candidates: 编号 of `selection list`, or full ID numbers
        who: Vec<String>,
    },
    /// Record an objection (异议) received during a candidate's notice
    Objection {
        /// The candidate: 编号 or full ID number
        who: String,
        /// The day it was received [default: --today]
        #[arg(long)]
        received: Option<NaiveDate>,
        /// What it says
        #[arg(long)]
        summary: String,
        /// Who raised it
        #[arg(long)]
        raised_by: Option<String>,
        #[arg(long)]
        year: Option<i32>,
    },
    /// Resolve an objection: upheld (属实: the candidate withdraws) or dismissed (不属实)
    Resolve {
        /// The objection's number (selection list)
        id: i64,
        /// upheld | dismissed (属实 | 不属实)
        #[arg(long)]
        outcome: String,
        /// The day it was resolved [default: --today]
        #[arg(long)]
        date: Option<NaiveDate>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Import the experts' scores (template scores), all or nothing; prints the ranked list
    Scores {
        #[arg(long)]
        year: Option<i32>,
        file: PathBuf,
    },
    /// Approve the round: every candidate at 考察 becomes an appointment, as a roster row would
    Approve {
        #[arg(long)]
        year: i32,
        /// The approval day (批准日期)
        #[arg(long)]
        date: NaiveDate,
        /// The approval's document number (批准文号)
        #[arg(long)]
        document: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecoveryCommand {
    /// Put a person's open balance on a plan: later runs offset the instalment against what
    /// the bank would pay (with offsetting on); a new plan replaces the one in force
    Plan {
        /// The person's ID number (身份证号码)
        id: String,
        /// The balance in K monthly instalments (rounded up to the fen)
        #[arg(long, conflicts_with = "per_run")]
        months: Option<u32>,
        /// Up to this amount (yuan, e.g. 500.00) offset by each later run
        #[arg(long)]
        per_run: Option<String>,
        /// With --months: the first instalment's month (YYYY-MM) [default: this month]
        #[arg(long, requires = "months")]
        start: Option<String>,
    },
    /// Record a repayment the bureau received (once per reference)
    Record {
        /// The person's ID number (身份证号码)
        id: String,
        /// The amount in yuan, e.g. 1500.00
        amount: String,
        /// The day the money was received (YYYY-MM-DD)
        #[arg(long)]
        date: NaiveDate,
        /// The receipt's or bank slip's reference (unique)
        #[arg(long)]
        reference: String,
    },
    /// Every open balance, with its plan
    List,
}

#[derive(Debug, Subcommand)]
pub enum PayrunCommand {
    /// Compute or recompute the draft run for a year
    Compute {
        #[arg(long)]
        year: i32,
        /// A second run (补发) for a year that already has an approved run
        #[arg(long)]
        supplementary: bool,
        /// With --supplementary: also pay again every failed payment (重发) not re-issued yet
        /// (the year's regular run always does)
        #[arg(long, requires = "supplementary")]
        reissue: bool,
    },
    /// Approve the draft run of a year (by another operator than the one who computed it)
    Approve {
        #[arg(long)]
        year: i32,
    },
    /// The run's lines and per-person net amounts
    Show {
        #[arg(long)]
        year: i32,
        #[arg(long)]
        run: Option<i64>,
        /// The JSON of docs/contract.md
        #[arg(long)]
        json: bool,
    },
    /// Bank file(s) and summary workbook of an approved run
    Export {
        #[arg(long)]
        year: i32,
        #[arg(long)]
        run: Option<i64>,
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Apply the bank's return file (回盘): each payment paid or failed; a failure is paid
    /// again by the next run
    Reconcile {
        #[arg(long)]
        year: i32,
        #[arg(long)]
        run: Option<i64>,
        /// Record the rows that match even when others do not (the others are listed)
        #[arg(long)]
        accept_valid: bool,
        /// The return file: .xlsx, .xls, or delimited text (.txt/.csv) in GBK or UTF-8
        file: PathBuf,
    },
}

/// An error with the exit status it stands for.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(code: u8, error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code,
            error: error.into(),
        }
    }
}

impl From<JobError> for Failure {
    fn from(e: JobError) -> Failure {
        Failure::new(e.exit_code(), e)
    }
}

/// What every command needs: configuration, the database URL, operator, today.
pub struct Context {
    pub config: Config,
    pub database: String,
    pub operator: String,
    pub today: NaiveDate,
}

impl Context {
    pub fn from_cli(cli: &Cli) -> Result<Context, Failure> {
        let (path, must_exist) = match &cli.config {
            Some(p) => (p.clone(), true),
            None => (PathBuf::from("config/default.toml"), false),
        };
        let config = Config::load(&path, must_exist).map_err(|e| Failure::new(2, e))?;
        config.rules_config().map_err(|e| Failure::new(2, e))?;
        if let Some(day) = cli.today {
            // Every date recorded from here on comes from --today, not the clock.
            crate::jobs::session::record_on(day);
        }
        let database = cli
            .database
            .clone()
            .unwrap_or_else(|| config.database.url.clone());
        Ok(Context {
            database,
            operator: cli.operator.clone().unwrap_or_else(os_user),
            today: cli.today.unwrap_or_else(today_in_shanghai),
            config,
        })
    }

    /// A session for a command that records something (creates the database when missing).
    pub async fn session(&self) -> Result<Session, Failure> {
        self.open(Open::CreateIfMissing).await
    }

    /// A session for a read-only command: never creates the database (exit 2 when missing).
    pub async fn existing(&self) -> Result<Session, Failure> {
        self.open(Open::Existing).await
    }

    async fn open(&self, open: Open) -> Result<Session, Failure> {
        Ok(Session::open(
            self.config.clone(),
            self.database.clone(),
            self.operator.clone(),
            self.today,
            open,
        )
        .await?)
    }
}

/// The OS user, the default operator.
pub fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// Today in Asia/Shanghai.
pub fn today_in_shanghai() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let ctx = Context::from_cli(&cli)?;
    match cli.command {
        Command::Init => init(&ctx).await,
        Command::Payrun(cmd) => payrun(&ctx, cmd).await,
        Command::Changes(cmd) => changes(&ctx, cmd).await,
        Command::Roster(RosterCommand::Void {
            id,
            approval_date,
            reason,
        }) => void_appointment(&ctx, &id, approval_date, &reason).await,
        Command::Recovery(cmd) => recovery(&ctx, cmd).await,
        Command::Sources(cmd) => sources(&ctx, cmd).await,
        Command::Selection(cmd) => selection(&ctx, cmd).await,
        Command::Forecast {
            from,
            to,
            rate,
            policy_until,
            selected_per_year,
            approval_day,
            output,
            json,
        } => {
            let approval_day = approval_day
                .as_deref()
                .map(crate::rules::forecast::parse_approval_day)
                .transpose()
                .map_err(|e| Failure::new(2, anyhow::anyhow!(e)))?;
            let params = crate::jobs::forecast::ForecastParams {
                from,
                to,
                rate,
                policy_until,
                selected_per_year,
                approval_day,
            };
            forecast(&ctx, params, output, json).await
        }
        Command::Explain { id, month } => {
            let s = ctx.existing().await?;
            print!("{}", ledger::explain(&s, id.trim(), month).await?);
            print!(
                "{}",
                crate::jobs::recovery::history(&s, id.trim())
                    .await?
                    .render()
            );
            Ok(())
        }
        Command::Remind { date, since } => remind(&ctx, date, since).await,
        Command::Inbox(cmd) => inbox(&ctx, cmd).await,
        Command::Daemon => {
            let runner = runner(&ctx).await?;
            crate::jobs::daemon::run_daemon(runner, &ctx.database)
                .await
                .map_err(|e| JobError::from(e).into())
        }
        Command::Jobs(cmd) => jobs(&ctx, cmd).await,
        Command::Outbox(cmd) => outbox(&ctx, cmd).await,
        Command::Template { kind, output } => template(&kind, &output),
        Command::Import(cmd) => import(&ctx, cmd).await,
        Command::Sample {
            people,
            output,
            seed,
        } => sample(people, &output, seed),
        Command::Demo { output, people } => demo(&ctx, output, people).await,
    }
}

/// `init`: creates the database when missing and says where it is.
async fn init(ctx: &Context) -> Result<(), Failure> {
    let s = ctx.session().await?;
    println!(
        "database ready: {} ({})",
        s.database_shown(),
        s.backend_name()
    );
    Ok(())
}

/// `roster void`: voids an appointment recorded in error.
async fn void_appointment(
    ctx: &Context,
    id: &str,
    approval_date: NaiveDate,
    reason: &str,
) -> Result<(), Failure> {
    let s = ctx.session().await?;
    ledger::void_appointment(&s, id.trim(), approval_date, reason).await?;
    println!(
        "appointment of {} approved {approval_date} voided; the next payment run recovers what it was paid",
        mask(id.trim())
    );
    Ok(())
}

/// `remind`: queues the reminders due from `since` to `date` (both default to today).
async fn remind(
    ctx: &Context,
    date: Option<NaiveDate>,
    since: Option<NaiveDate>,
) -> Result<(), Failure> {
    let s = ctx.session().await?;
    let to = date.unwrap_or(ctx.today);
    let from = since.unwrap_or(to);
    let (queued, already) = ledger::remind(&s, from, to).await?;
    println!("reminders {from} … {to}: {queued} queued, {already} already queued before");
    Ok(())
}

/// `template`: writes an empty roster or changes workbook.
fn template(kind: &str, output: &Path) -> Result<(), Failure> {
    use crate::excel::template::TemplateKind;
    let k = match kind {
        "roster" => TemplateKind::Roster,
        "nominations" => TemplateKind::Nominations,
        "scores" => TemplateKind::Scores,
        _ => TemplateKind::Changes,
    };
    crate::excel::template::write_template(k, output).map_err(|e| Failure::new(3, e))?;
    println!("template written: {}", output.display());
    Ok(())
}

/// `sample`: writes a sample roster and changes workbooks.
fn sample(people: usize, output: &Path, seed: u64) -> Result<(), Failure> {
    let files =
        crate::jobs::sample::write_sample(people, output, seed).map_err(|e| Failure::new(2, e))?;
    println!("roster:  {}", files.roster.display());
    for (year, f) in &files.changes {
        println!("changes ({year}): {}", f.display());
    }
    let nominations =
        crate::jobs::sample::write_sample_nominations(output).map_err(|e| Failure::new(2, e))?;
    println!("nominations (selection 2026): {}", nominations.display());
    Ok(())
}

async fn import(ctx: &Context, cmd: ImportCommand) -> Result<(), Failure> {
    let s = ctx.session().await?;
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let report = match cmd {
        ImportCommand::Roster { files } => ledger::import_roster(&s, &files, progress).await?,
        ImportCommand::Changes {
            files,
            accept_valid,
            from_unit,
        } => ledger::import_changes(&s, &files, accept_valid, from_unit, progress).await?,
    };
    print_import(&report)
}

/// What an import did, its problems and error workbooks; exit status 1 when refused.
fn print_import(report: &crate::jobs::import::ImportReport) -> Result<(), Failure> {
    for l in &report.lines {
        println!("{l}");
    }
    for p in &report.problems {
        eprintln!("{p}");
    }
    for w in &report.error_workbooks {
        eprintln!("错误说明工作簿（改正后可重新导入）：{}", w.display());
    }
    if report.refused {
        Err(Failure::new(
            1,
            anyhow::anyhow!("input refused: see the problems above"),
        ))
    } else {
        Ok(())
    }
}

async fn inbox(ctx: &Context, cmd: InboxCommand) -> Result<(), Failure> {
    let s = ctx.session().await?;
    let report = match cmd {
        InboxCommand::Held => {
            let held = ledger::inbox_held(&s).await?;
            if held.is_empty() {
                println!("no held messages");
            }
            for h in held {
                println!(
                    "#{:<5} {}  from {}  「{}」  {}",
                    h.id, h.received, h.from, h.subject, h.why
                );
            }
            return Ok(());
        }
        InboxCommand::Scan => ledger::inbox_scan(&s).await?,
        InboxCommand::Accept { id } => ledger::inbox_accept(&s, id).await?,
    };
    for l in &report.lines {
        println!("{l}");
    }
    println!(
        "inbox: {} taken in, {} held, {} refused, {} duplicates, {} rows refused, {} failed",
        report.taken_in,
        report.held,
        report.refused,
        report.skipped_duplicates,
        report.rows_refused,
        report.failed
    );
    if report.any_failed() {
        Err(Failure::new(
            3,
            anyhow::anyhow!("some items could not be processed (see above); they are retried by the next scan up to [inbox] max_attempts, then given up and reported to the bureau"),
        ))
    } else if report.any_refused() {
        Err(Failure::new(
            1,
            anyhow::anyhow!("some input was refused (see above)"),
        ))
    } else {
        Ok(())
    }
}

async fn jobs(ctx: &Context, cmd: JobsCommand) -> Result<(), Failure> {
    if matches!(cmd, JobsCommand::List) {
        // A read-only command: never creates the database.
        ctx.existing().await?;
    }
    let runner = runner(ctx).await?;
    let daemon = |e: crate::jobs::daemon::DaemonError| Failure::from(JobError::from(e));
    match cmd {
        JobsCommand::List => {
            let text = crate::jobs::daemon::list_text(&runner, chrono::Utc::now())
                .await
                .map_err(daemon)?;
            print!("{text}");
        }
        JobsCommand::Run { name, year } => {
            let args = crate::jobs::daemon::JobArgs {
                today: ctx.today,
                year,
                operator: Some(ctx.operator.clone()),
            };
            let outcome = runner.run_by_hand(&name, args).await.map_err(daemon)?;
            println!("{name}: {outcome}");
        }
        JobsCommand::Ack { name, at } => {
            let n = crate::jobs::daemon::ack(
                &runner,
                &name,
                at.as_deref(),
                &ctx.operator,
                chrono::Utc::now(),
            )
            .await
            .map_err(daemon)?;
            println!("{name}: {n} failed run(s) acknowledged by {}", ctx.operator);
        }
    }
    Ok(())
}

async fn outbox(ctx: &Context, cmd: OutboxCommand) -> Result<(), Failure> {
    // A [mail] table that cannot be used is a configuration error for both commands.
    crate::mail::MailSettings::from_config(&ctx.config).map_err(|e| Failure::new(2, e))?;
    match cmd {
        OutboxCommand::Status => {
            let s = ctx.existing().await?;
            let (q, sent, p) = ledger::outbox_counts(&s).await?;
            println!("outbox: {q} queued, {sent} sent, {p} parked");
            Ok(())
        }
        OutboxCommand::Send { requeue_parked } => {
            let s = ctx.session().await?;
            let d = ledger::send_outbox(&s, requeue_parked).await?;
            if let Some(n) = d.requeued {
                println!("{n} parked messages queued again");
            }
            let r = &d.report;
            println!(
                "outbox: {} delivered, {} failed (will retry), {} parked, {} waiting for a retry{}",
                r.sent.len(),
                r.retrying.len(),
                r.parked.len(),
                r.waiting,
                d.written_to
                    .as_ref()
                    .map(|dir| format!(
                        " (no SMTP server configured: written to {})",
                        dir.display()
                    ))
                    .unwrap_or_default()
            );
            for (k, e) in r.parked.iter().chain(&r.retrying) {
                eprintln!("  {k}: {e}");
            }
            for (k, e) in &r.lost_claims {
                eprintln!("  {k}: claim lost to another sender: {e}");
            }
            if r.retrying.is_empty() && r.parked.is_empty() && r.lost_claims.is_empty() {
                Ok(())
            } else {
                Err(Failure::new(
                    3,
                    anyhow::anyhow!("some mail could not be delivered"),
                ))
            }
        }
    }
}

async fn demo(ctx: &Context, output: Option<PathBuf>, people: usize) -> Result<(), Failure> {
    let dir = match output {
        Some(d) => d,
        None => tempfile::Builder::new()
            .prefix("chieftech-demo-")
            .tempdir()
            .map_err(|e| Failure::new(3, e))?
            .keep(),
    };
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let r = crate::jobs::demo::run_demo(&ctx.config, &dir, people).await?;
    println!("\n各文件的位置：");
    println!("  数据库：{}", r.database);
    println!("  输入的工作簿：");
    for f in &r.inputs {
        println!("    {}", f.display());
    }
    println!("  代发文件（送银行）和汇总表（送财政局）：");
    for f in &r.outputs {
        println!("    {}", f.display());
    }
    println!(
        "  邮件（{}封）：{}",
        r.mails,
        r.dir.join("reports/outbox").display()
    );
    println!();
    if let Some((name, id)) = &r.try_person {
        // The command holds the full ID number: it goes into a private file, not the terminal.
        let exe = std::env::current_exe().map_err(|e| Failure::new(3, e))?;
        let cwd = std::env::current_dir().map_err(|e| Failure::new(3, e))?;
        // The configuration the demo ran with (--config or CHIEFTECH_CONFIG), for the script.
        let config = Cli::try_parse()
            .ok()
            .and_then(|c| c.config)
            .map(|c| std::path::absolute(&c).unwrap_or(c));
        let script = crate::jobs::demo::write_try_explain(
            &r.dir,
            &exe,
            &cwd,
            config.as_deref(),
            &r.database,
            (name, id),
        )
        .map_err(|e| Failure::new(3, e))?;
        println!(
            "试一试：{name}（{}）的逐月说明：sh {}",
            mask(id),
            script.display()
        );
    }
    println!(
        "看某一年的发放批次：chieftech --database {} payrun show --year 2024",
        r.database
    );
    Ok(())
}

async fn changes(ctx: &Context, cmd: ChangesCommand) -> Result<(), Failure> {
    match cmd {
        ChangesCommand::List { id } => {
            let s = ctx.existing().await?;
            let list = ledger::changes_of(&s, id.trim()).await?;
            if list.is_empty() {
                println!("{}：没有登记的变动", mask(id.trim()));
            }
            for c in list {
                let ch = &c.change;
                println!(
                    "#{:<6} {:<12} 生效 {}{}{}  来源 {}  登记 {} {}{}",
                    ch.id,
                    ch.kind.label(),
                    ch.effective,
                    ch.end.map(|z| format!(" 至 {z}")).unwrap_or_default(),
                    c.new_unit
                        .as_deref()
                        .map(|u| format!(" 新单位 {u}"))
                        .unwrap_or_default(),
                    c.source,
                    c.operator,
                    c.recorded_at,
                    c.voided
                        .map(|v| format!("  [已作废 {v}]"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        ChangesCommand::Void { change_id, reason } => {
            let s = ctx.session().await?;
            ledger::void_change(&s, change_id, &reason).await?;
            println!(
                "change {change_id} voided; the next payment run pays or recovers the difference"
            );
            Ok(())
        }
    }
}

async fn payrun(ctx: &Context, cmd: PayrunCommand) -> Result<(), Failure> {
    match cmd {
        PayrunCommand::Compute {
            year,
            supplementary,
            reissue,
        } => {
            let s = ctx.session().await?;
            let bar = progress_bar("computing");
            let kind = match (supplementary, reissue) {
                (false, _) => run::RunKind::Regular,
                (true, false) => run::RunKind::Supplementary,
                (true, true) => run::RunKind::SupplementaryReissue,
            };
            let summary = run::compute(&s, year, kind, &bar).await?;
            bar.finish_and_clear();
            print_computed(year, &summary);
            Ok(())
        }
        PayrunCommand::Approve { year } => {
            let s = ctx.session().await?;
            let (seq, queued) = run::approve(&s, year).await?;
            tracing::info!(year, run = seq, operator = %ctx.operator, notices = queued, "run approved");
            println!(
                "{year}年度第{seq}批已批准（{}）。next: chieftech payrun export --year {year}",
                ctx.operator
            );
            Ok(())
        }
        PayrunCommand::Show { year, run, json } => {
            let s = ctx.existing().await?;
            let view = run::show(&s, year, run).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&view.to_json()).expect("json")
                );
            } else {
                print_run(&view);
            }
            Ok(())
        }
        PayrunCommand::Export { year, run, output } => {
            let s = ctx.session().await?;
            let done = run::export(&s, year, run, output.as_deref()).await?;
            for l in &done.lines {
                println!("{l}");
            }
            if done.notice_queued {
                println!("finance office notice queued: chieftech outbox send delivers it");
            }
            Ok(())
        }
        PayrunCommand::Reconcile {
            year,
            run,
            accept_valid,
            file,
        } => {
            let s = ctx.session().await?;
            let report =
                crate::jobs::reconcile::reconcile(&s, year, run, &file, accept_valid).await?;
            print_reconciled(&report)
        }
    }
}

/// `sources pull|list`: one line per source; problems and failures on stderr; exit 3 when a
/// source failed, 1 when rows were refused.
async fn sources(ctx: &Context, cmd: SourcesCommand) -> Result<(), Failure> {
    use crate::jobs::sources as src;
    match cmd {
        SourcesCommand::Pull { name, full } => {
            let s = ctx.session().await?;
            let all = src::pull(&s, name.as_deref(), full).await?;
            for r in &all.reports {
                println!("{}", r.line);
                for p in &r.problems {
                    eprintln!("{p}");
                }
            }
            for (_, e) in &all.failures {
                eprintln!("error: {e}");
            }
            if let Some((name, e)) = all.failures.first() {
                return Err(Failure::new(
                    e.exit_code(),
                    anyhow::anyhow!(
                        "{} source(s) failed, the first `{name}`",
                        all.failures.len()
                    ),
                ));
            }
            if all.refused() {
                return Err(Failure::new(
                    1,
                    anyhow::anyhow!("rows were refused; the bureau was told"),
                ));
            }
        }
        SourcesCommand::List => {
            let s = ctx.existing().await?;
            for l in src::list(&s).await? {
                print_source(&l);
            }
        }
    }
    Ok(())
}

fn print_source(l: &crate::jobs::sources::SourceListing) {
    use crate::sources::config::{Relation, SourceKind};
    let c = &l.config;
    let relation = match &c.relation {
        Relation::View(parts) => format!("视图 {}", parts.join(".")),
        Relation::Query(_) => "查询".to_string(),
    };
    println!(
        "{}  {}  {}  {relation}  行键 {}  水位列 {}",
        c.name,
        if c.kind == SourceKind::Roster {
            "名册"
        } else {
            "变动"
        },
        l.url,
        c.key.join("+"),
        c.watermark.as_deref().unwrap_or("（无，每次完整读取）")
    );
    let st = &l.state;
    println!(
        "    已拉取{}次；水位 {}；上次拉取 {}；上次完整读取 {}；已知行 {}，已报告删除 {}",
        st.pulls,
        st.watermark.as_deref().unwrap_or("—"),
        st.last_pull_at.as_deref().unwrap_or("—"),
        st.last_full_at.as_deref().unwrap_or("—"),
        st.keys,
        st.missing
    );
}

/// `forecast`: prints the years (or the JSON) and writes the workbook.
async fn forecast(
    ctx: &Context,
    params: crate::jobs::forecast::ForecastParams,
    output: Option<PathBuf>,
    json: bool,
) -> Result<(), Failure> {
    use crate::jobs::forecast as fc;
    let s = ctx.existing().await?;
    let f = fc::forecast(&s, params).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&f.to_json()).expect("json")
        );
        if let Some(path) = output.as_deref() {
            fc::write_forecast(&f, &s.config, path)?;
        }
        return Ok(());
    }
    for l in fc::report_lines(&f) {
        println!("{l}");
    }
    let path = output.unwrap_or_else(|| fc::default_path(&f, &s.config));
    let written = fc::write_forecast(&f, &s.config, &path)?;
    println!("written: {}", written.display());
    Ok(())
}

async fn selection(ctx: &Context, cmd: SelectionCommand) -> Result<(), Failure> {
    use crate::jobs::selection as sel;
    match cmd {
        SelectionCommand::Open {
            year,
            deadline,
            approval_by,
            document,
        } => {
            let s = ctx.session().await?;
            println!(
                "{}",
                sel::open(&s, year, deadline, approval_by, document.as_deref()).await?
            );
        }
        SelectionCommand::Import { year, files } => {
            let s = ctx.session().await?;
            return print_import(&sel::import(&s, year, &files).await?);
        }
        SelectionCommand::List { year, json } => {
            let s = ctx.existing().await?;
            let view = sel::list(&s, year).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&view).expect("json"));
            } else {
                print!("{view}");
            }
        }
        SelectionCommand::Show { who, year } => {
            let s = ctx.existing().await?;
            println!("{}", sel::show(&s, year, &who).await?);
        }
        cmd @ (SelectionCommand::Step { .. } | SelectionCommand::Objection { .. }) => {
            selection_step(ctx, cmd).await?
        }
        SelectionCommand::Resolve {
            id,
            outcome,
            date,
            note,
        } => {
            let outcome = outcome_arg(&outcome)?;
            let s = ctx.session().await?;
            let date = date.unwrap_or(s.today);
            let done = sel::resolve(&s, id, outcome, date, note.as_deref()).await?;
            println!("{done}");
        }
        SelectionCommand::Scores { year, file } => {
            let s = ctx.session().await?;
            return print_scores(sel::scores(&s, year, &file).await?);
        }
        SelectionCommand::Approve {
            year,
            date,
            document,
        } => {
            let s = ctx.session().await?;
            println!("{}", sel::approve(&s, year, date, &document).await?);
        }
    }
    Ok(())
}

/// `selection step` and `selection objection`: a candidate moves, or is held by an objection.
async fn selection_step(ctx: &Context, cmd: SelectionCommand) -> Result<(), Failure> {
    use crate::jobs::selection as sel;
    let s = ctx.session().await?;
    match cmd {
        SelectionCommand::Step {
            stage,
            date,
            document,
            reason,
            all,
            year,
            who,
        } => {
            let req = sel::StepRequest {
                year,
                stage: stage_arg(&stage)?,
                date: date.unwrap_or(s.today),
                document,
                reason,
                who,
                all,
            };
            print!("{}", sel::step(&s, &req).await?);
        }
        SelectionCommand::Objection {
            who,
            received,
            summary,
            raised_by,
            year,
        } => {
            let received = received.unwrap_or(s.today);
            let raised_by = raised_by.as_deref();
            let done = sel::objection(&s, year, &who, received, &summary, raised_by).await?;
            println!("{done}");
        }
        // The other commands are dispatched by `selection`.
        _ => {}
    }
    Ok(())
}

/// A stage named on the command line (its Chinese name or code).
fn stage_arg(stage: &str) -> Result<crate::rules::selection::Stage, Failure> {
    crate::rules::selection::Stage::parse(stage).ok_or_else(|| {
        Failure::new(
            2,
            anyhow::anyhow!(
                "unknown stage `{stage}`: 推荐公示, 资格审查, 评审, 考察公示, 考察 or 退出"
            ),
        )
    })
}

/// An objection's outcome named on the command line.
fn outcome_arg(outcome: &str) -> Result<crate::rules::selection::ObjectionOutcome, Failure> {
    crate::rules::selection::ObjectionOutcome::parse(outcome).ok_or_else(|| {
        Failure::new(
            2,
            anyhow::anyhow!("unknown outcome `{outcome}`: upheld (属实) or dismissed (不属实)"),
        )
    })
}

/// What `selection scores` did: the ranked list, or the problems (exit status 1).
fn print_scores(
    (report, view): (
        crate::jobs::import::ImportReport,
        Option<crate::jobs::selection::RoundView>,
    ),
) -> Result<(), Failure> {
    let Some(v) = view else {
        return print_import(&report);
    };
    for l in &report.lines {
        println!("{l}");
    }
    print!("{v}");
    Ok(())
}

async fn recovery(ctx: &Context, cmd: RecoveryCommand) -> Result<(), Failure> {
    use crate::jobs::recovery as rec;
    match cmd {
        RecoveryCommand::Plan {
            id,
            months,
            per_run,
            start,
        } => {
            let request = rec::plan_request(months, per_run.as_deref(), start.as_deref())?;
            let s = ctx.session().await?;
            println!("{}", rec::plan(&s, id.trim(), request).await?);
        }
        RecoveryCommand::Record {
            id,
            amount,
            date,
            reference,
        } => {
            let s = ctx.session().await?;
            println!(
                "{}",
                rec::record(&s, id.trim(), &amount, date, &reference).await?
            );
        }
        RecoveryCommand::List => {
            let s = ctx.existing().await?;
            println!("{}", rec::list(&s).await?);
        }
    }
    Ok(())
}

/// What `payrun reconcile` did, and every problem; exit status 1 when nothing was recorded
/// because of them.
fn print_reconciled(r: &crate::jobs::reconcile::ReconcileReport) -> Result<(), Failure> {
    let c = &r.reconciled;
    let problems = r.problems();
    for p in &problems {
        eprintln!("{p}");
    }
    println!(
        "{}年度第{}批：回盘文件 {} 读出 {} 行，对应代发 {} 笔",
        c.year, c.seq, r.file, r.rows, c.payments
    );
    if !r.applied() {
        println!(
            "回盘文件有 {} 处问题（见上），未记录任何结果。请核对后重新导入，或用 --accept-valid 只记录相符的行。",
            problems.len()
        );
        return Err(Failure::new(
            1,
            anyhow::anyhow!(
                "the return file was not applied: {} problem(s)",
                problems.len()
            ),
        ));
    }
    let failed: i64 = c.failed.iter().map(|f| f.fen).sum();
    println!(
        "已记录：到账 {} 笔；失败 {} 笔 {}（下一批发放时重发）；此前已记录、本次未变 {} 笔{}",
        c.paid,
        c.failed.len(),
        fen_grouped(failed),
        c.result.unchanged.len(),
        if problems.is_empty() {
            String::new()
        } else {
            format!("；未记录的问题行 {} 处（见上）", problems.len())
        }
    );
    for f in &c.failed {
        println!(
            "    失败  {}  {}  {}  批次 {} 第{}行  {}",
            mask(&f.id_number),
            f.name,
            fen_grouped(f.fen),
            f.batch_ref,
            f.row_no,
            f.reason
        );
    }
    if c.notices > 0 {
        println!("{} 封失败通知已排队：chieftech outbox send 发送", c.notices);
    }
    Ok(())
}

fn print_computed(year: i32, s: &run::RunSummary) {
    tracing::info!(year, run = s.seq, items = s.items, "draft computed");
    println!(
        "{year}年度第{}批（草稿{}）：{} 个称号中 {} 个有明细；应发 {}，应追 {}；未覆盖月份 {} 个",
        s.seq,
        if s.supplementary { "，补发" } else { "" },
        s.appointments,
        s.items,
        fen_grouped(s.paid),
        fen_grouped(-s.recovered),
        s.uncovered_months
    );
    if s.reissued > 0 {
        println!(
            "其中重发此前银行未能入账的款项 {} 笔（发至名册上现在的账户）",
            s.reissued
        );
    }
    if s.uncovered_months > 0 {
        println!("注意：有月份不在任何政策版本期内（未覆盖），未发放；请区政府出台后续政策后在配置中增加政策版本。详见 payrun show --year {year}");
    }
    println!("next: another operator approves it with `chieftech --operator NAME payrun approve --year {year}`");
}

fn print_run(view: &run::RunView) {
    let t = view.totals();
    println!(
        "{}年度第{}批  状态 {}{}  计算 {}（{}）{}",
        view.year,
        view.seq,
        if view.status == "approved" {
            "已批准"
        } else {
            "草稿"
        },
        if view.supplementary { "  补发" } else { "" },
        view.computed_by,
        view.today,
        view.approved_by
            .as_deref()
            .map(|a| format!("  批准 {a}"))
            .unwrap_or_default()
    );
    for p in &view.people {
        println!(
            "\n{}  {}  应发/应追 {}",
            mask(&p.id_number),
            p.name,
            fen_grouped(p.net.net)
        );
        for l in p.lines() {
            println!(
                "    {}  {:<4}  {:>10}",
                l.month,
                l.kind.label(),
                fen_str(l.fen)
            );
        }
        for r in &p.reissues {
            println!(
                "    {}  {:<4}  {:>10}  {}年度第{}批 {} 第{}行未到账（{}）",
                r.failed_on.get(..7).unwrap_or_default(),
                "重发",
                fen_str(r.fen),
                r.from_year,
                r.from_seq,
                r.batch_ref,
                r.row_no,
                r.reason
            );
        }
    }
    println!(
        "\n合计：代发 {} 人 {}；追缴 {} 人 {}",
        t.people_paid,
        fen_grouped(t.paid),
        t.people_recovering,
        fen_grouped(-t.recovered)
    );
    if !view.uncovered.is_empty() {
        println!("未覆盖月份（无政策版本，未发放）：");
        for (id, name, m) in &view.uncovered {
            println!("    {}  {}  {}", mask(id), name, m);
        }
    }
}

async fn runner(ctx: &Context) -> Result<crate::jobs::daemon::Runner, Failure> {
    // The schedule is checked before the database is opened (a usage error first).
    crate::jobs::daemon::ScheduleSettings::from_config(&ctx.config)
        .and_then(|s| s.schedules().map_err(Into::into))
        .map_err(|e| Failure::new(2, e))?;
    let s = ctx.session().await?;
    crate::jobs::daemon::Runner::from_session(s).map_err(|e| JobError::from(e).into())
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress_bar(what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_redacted() {
        assert_eq!(
            crate::jobs::session::redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            crate::jobs::session::redact("sqlite://data/x.db"),
            "sqlite://data/x.db"
        );
    }

    #[test]
    fn cli_parses_contract_commands() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let c = Cli::try_parse_from([
            "chieftech",
            "--today",
            "2023-12-01",
            "payrun",
            "show",
            "--year",
            "2023",
            "--json",
        ])
        .unwrap();
        assert_eq!(c.today, NaiveDate::from_ymd_opt(2023, 12, 1));
    }
}
