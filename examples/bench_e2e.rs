//! End-to-end benchmark at province scale (issue 15): N appointments and about 0.68 N changes,
//! through the five steps the clerk runs, against the I/O floor measured in the same
//! invocation.
//!
//! ```text
//! cargo run --release --example bench_e2e -- N [--postgres] [--runs R] [--clean]
//! ```
//!
//! - The inputs come from the sample generator at scale (`jobs::sample::write_sample_scaled`,
//!   change rates ×2.5): `roster.xlsx` and `changes-2023/2024/2025.xlsx` under
//!   `/tmp/chieftech-e2e-N/inputs` (kept between runs of the same N; removed with `--clean`).
//! - Each step runs in a child process of this example (the example re-executes itself with
//!   `step NAME`), through the same use case the command line calls: `jobs::ledger::
//!   import_roster`, `import_changes`, `jobs::payrun::compute` (2024, the first run),
//!   `approve` (by a second operator) and `export`. The parent reads each child's wall time and
//!   peak resident memory (`wait4`'s `ru_maxrss`).
//! - The floor is a child too: calamine reads every cell of the four input workbooks (its
//!   cell reader, as chieftech reads), and rust_xlsxwriter writes as many rows of 11 text cells in
//!   constant-memory mode. It runs before the steps and again after them; the ratios are to
//!   the mean of the two (the machine's speed drifts over minutes), the total's also to the
//!   faster.
//! - A step that fails is reported as failed with its last error line, and the others go on.
//! - Every child's stdout and stderr are kept in one log; the table counts its lines that
//!   mention WARN or a slow statement (none may reach the console at the default log level).
//!
//! - With `--runs R` the floor and the five steps run R times, each on a fresh ledger; each
//!   run's total ratio is printed, and the table is the run with the median ratio (of an even
//!   count, the slower middle one; its peak the largest of all runs): one run moves by the
//!   machine's noise.
//!
//! SQLite: a fresh file under the work folder. PostgreSQL (`--postgres`): a fresh database
//! `chieftech_e2e_N` on `$E2E_PG` (default `postgres://postgres@127.0.0.1:5432`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STEPS: [&str; 5] = [
    "import-roster",
    "import-changes",
    "compute",
    "approve",
    "export",
];
/// The binary's allocator (src/main.rs): the steps run here as they run there.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SEED: u64 = 2024;
const CHANGE_SCALE: f64 = 2.5;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Children report their error on one line (no backtrace) and exit 1.
    let child = match args.first().map(String::as_str) {
        Some("step") => Some(child_step(&args[1..])),
        Some("floor") => Some(floor(Path::new(&args[1]))),
        Some("gen") => Some(generate(&args[1..])),
        _ => None,
    };
    if let Some(r) = child {
        if let Err(e) = r {
            eprintln!("Error: {e:#}");
            std::process::exit(1);
        }
        return Ok(());
    }
    let opts = Options::parse(&args)?;
    let work = PathBuf::from(format!("/tmp/chieftech-e2e-{}", opts.n));
    let bench = Bench::new(&opts, &work)?;
    let mut runs = Vec::new();
    for run in 1..=opts.runs {
        let r = bench.run(run, opts.runs)?;
        if opts.runs > 1 {
            println!(
                "  run {run}: {:.1} s, {:.2}× the floor ({:.1} s), peak {} MB",
                r.total(),
                r.ratio(),
                r.floor(),
                r.peak_kb() / 1024
            );
        }
        let failed = r.failed();
        runs.push(r);
        // A failed step's database is kept, so that the step can be run again alone
        // (`bench_e2e step STEP URL INPUTS OUT`): no further run.
        if failed {
            break;
        }
    }
    bench.print(&runs);
    if opts.clean {
        std::fs::remove_dir_all(&work)?;
    }
    Ok(())
}

/// The command line: `N [--postgres] [--runs R] [--clean]`.
struct Options {
    n: usize,
    postgres: bool,
    clean: bool,
    runs: usize,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Options> {
        let mut o = Options {
            n: 100_000,
            postgres: false,
            clean: false,
            runs: 1,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--postgres" => o.postgres = true,
                "--clean" => o.clean = true,
                "--runs" => {
                    let r = it.next().and_then(|r| r.parse().ok()).filter(|r| *r > 0);
                    o.runs = r.ok_or_else(|| anyhow::anyhow!("--runs takes a count above 0"))?;
                }
                n => {
                    o.n = n
                        .parse()
                        .map_err(|_| anyhow::anyhow!("unknown argument {n}"))?
                }
            }
        }
        Ok(o)
    }
}

/// One invocation's inputs, ledger and folders.
struct Bench {
    exe: PathBuf,
    n: usize,
    postgres: bool,
    inputs: PathBuf,
    url: String,
    out: PathBuf,
    logs: PathBuf,
}

impl Bench {
    fn new(o: &Options, work: &Path) -> anyhow::Result<Bench> {
        let inputs = work.join("inputs");
        let exe = std::env::current_exe()?;
        let files = inputs_for(&exe, o.n, &inputs)?;
        let url = if o.postgres {
            let base = std::env::var("E2E_PG")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
            format!("{base}/chieftech_e2e_{}", o.n)
        } else {
            format!("sqlite://{}", work.join("ledger.db").display())
        };
        let logs = work.join("logs");
        std::fs::create_dir_all(&logs)?;
        println!(
            "bench_e2e: {} people, {} roster rows, {} change rows, {}, {} run{} (logs in {})",
            o.n,
            files.roster_rows,
            files.change_rows,
            if o.postgres { "PostgreSQL" } else { "SQLite" },
            o.runs,
            if o.runs == 1 { "" } else { "s" },
            logs.display()
        );
        Ok(Bench {
            exe,
            n: o.n,
            postgres: o.postgres,
            inputs,
            url,
            out: work.join("out"),
            logs,
        })
    }

    /// A fresh ledger and output folder.
    fn fresh(&self) -> anyhow::Result<()> {
        if self.postgres {
            drop_pg(&self.url)?;
        } else if let Some(db) = self.url.strip_prefix("sqlite://") {
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{db}{ext}"));
            }
        }
        let _ = std::fs::remove_dir_all(&self.out);
        Ok(())
    }

    /// The floor, the five steps on a fresh ledger, and the floor again: the machine's speed
    /// drifts by ±15 % over minutes, so the steps are compared with the mean of the floor
    /// before and after them (and the total with the faster of the two as well).
    fn run(&self, run: usize, runs: usize) -> anyhow::Result<Run> {
        self.fresh()?;
        let log = |name: &str| match runs {
            1 => self.logs.join(format!("{name}.log")),
            _ => self.logs.join(format!("run{run}-{name}.log")),
        };
        let inputs = self.inputs.display().to_string();
        let floor_before = run_child(&self.exe, &["floor".into(), inputs.clone()], &log("floor"))?;
        let mut steps = Vec::new();
        for step in STEPS {
            let args = [step, &self.url, &inputs, &self.out.display().to_string()];
            let args: Vec<String> = std::iter::once("step")
                .chain(args)
                .map(Into::into)
                .collect();
            let m = run_child(&self.exe, &args, &log(step))?;
            print!("  {step}: {:.1} s", m.wall.as_secs_f64());
            if let Some(e) = &m.failure {
                print!(" FAILED: {e}");
            }
            println!();
            steps.push((step, m));
        }
        let floor_after = run_child(&self.exe, &["floor".into(), inputs], &log("floor-after"))?;
        let r = Run {
            floor_before,
            floor_after,
            steps,
        };
        if self.postgres && !r.failed() {
            drop_pg(&self.url)?;
        }
        let _ = std::fs::remove_dir_all(&self.out);
        Ok(r)
    }

    /// The table of the median run (by its ratio to the floor), and every run's ratio.
    fn print(&self, runs: &[Run]) {
        let mut order: Vec<&Run> = runs.iter().collect();
        order.sort_by(|a, b| a.ratio().total_cmp(&b.ratio()));
        let Some(median) = order.get(order.len() / 2) else {
            return;
        };
        let db = if self.postgres {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        println!();
        if runs.len() > 1 {
            let ratios: Vec<String> = runs.iter().map(|r| format!("{:.2}×", r.ratio())).collect();
            println!(
                "{} runs, all five steps against the floor: {} (median {:.2}×); the table is the median run's (of an even count, the slower middle one), its peak the largest of all runs.",
                runs.len(),
                ratios.join(", "),
                median.ratio()
            );
            println!();
        }
        let peak = runs.iter().map(Run::peak_kb).max().unwrap_or(0);
        median.print(&format!("{}, {db}", self.n), peak);
    }
}

/// One run's measurements.
struct Run {
    floor_before: Measured,
    floor_after: Measured,
    steps: Vec<(&'static str, Measured)>,
}

impl Run {
    /// The mean of the floor before and after the steps, in seconds.
    fn floor(&self) -> f64 {
        (self.floor_before.wall.as_secs_f64() + self.floor_after.wall.as_secs_f64()) / 2.0
    }

    fn total(&self) -> f64 {
        self.steps.iter().map(|(_, m)| m.wall.as_secs_f64()).sum()
    }

    fn ratio(&self) -> f64 {
        self.total() / self.floor()
    }

    fn failed(&self) -> bool {
        self.steps.iter().any(|(_, m)| m.failure.is_some())
    }

    fn peak_kb(&self) -> u64 {
        self.steps.iter().map(|(_, m)| m.peak_kb).max().unwrap_or(0)
    }

    /// The Markdown table of the README: each step's time, peak and ratio, the total, the floor.
    fn print(&self, what: &str, peak_kb: u64) {
        let (before_s, after_s) = (
            self.floor_before.wall.as_secs_f64(),
            self.floor_after.wall.as_secs_f64(),
        );
        let floor_s = self.floor();
        println!("| step ({what}) | time | peak RSS | time / floor | WARN or slow-statement lines in its log |");
        println!("|---|---|---|---|---|");
        for (step, m) in &self.steps {
            let s = m.wall.as_secs_f64();
            let time = match &m.failure {
                Some(e) => format!("**failed** after {s:.1} s: {e}"),
                None => format!("{s:.1} s"),
            };
            let (mb, ratio) = (m.peak_kb / 1024, s / floor_s);
            println!(
                "| {step} | {time} | {mb} MB | {ratio:.2}× | {} |",
                m.warn_lines
            );
        }
        println!(
            "| **all five steps** | {:.1} s{} | {} MB (largest step) | **{:.2}×** ({:.2}× the faster floor) | |",
            self.total(),
            if self.failed() { " (a step failed)" } else { "" },
            peak_kb / 1024,
            self.ratio(),
            self.total() / before_s.min(after_s)
        );
        println!(
            "| floor: calamine reads the four inputs, rust_xlsxwriter writes as many rows (constant memory); before and after the steps | {floor_s:.1} s ({before_s:.1} s, {after_s:.1} s) | {} MB | 1.00× | |",
            self.floor_before.peak_kb.max(self.floor_after.peak_kb) / 1024
        );
    }
}

struct Inputs {
    roster_rows: usize,
    change_rows: usize,
}

/// The sample workbooks for `n` people, generated once per N (a stamp file records the rows),
/// in a child process: the parent stays small, and children forked from it start small (a
/// child's peak RSS counts from its parent's size at fork).
fn inputs_for(exe: &Path, n: usize, dir: &Path) -> anyhow::Result<Inputs> {
    let stamp = dir.join("rows.txt");
    if !stamp.exists() {
        std::fs::create_dir_all(dir)?;
        let t = Instant::now();
        let status = Command::new(exe)
            .args(["gen", &n.to_string(), &dir.display().to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "generating the inputs failed");
        eprintln!("generated the inputs in {:.1} s", t.elapsed().as_secs_f64());
    }
    let text = std::fs::read_to_string(&stamp)?;
    let mut it = text.split_whitespace().filter_map(|t| t.parse().ok());
    match (it.next(), it.next()) {
        (Some(roster_rows), Some(change_rows)) => Ok(Inputs {
            roster_rows,
            change_rows,
        }),
        _ => anyhow::bail!("{} is not a row count", stamp.display()),
    }
}

/// `gen N DIR`: the sample at scale, and the stamp with its row counts.
fn generate(args: &[String]) -> anyhow::Result<()> {
    let n: usize = args[0].parse()?;
    let dir = PathBuf::from(&args[1]);
    let data = chieftech::jobs::sample::generate_scaled(n, SEED, CHANGE_SCALE)?;
    let (r, c) = (
        data.roster.len(),
        data.changes.iter().map(|(_, v)| v.len()).sum::<usize>(),
    );
    drop(data);
    chieftech::jobs::sample::write_sample_scaled(n, &dir, SEED, CHANGE_SCALE)?;
    std::fs::write(dir.join("rows.txt"), format!("{r} {c}\n"))?;
    Ok(())
}

fn drop_pg(url: &str) -> anyhow::Result<()> {
    use sqlx::migrate::MigrateDatabase;
    tokio::runtime::Runtime::new()?.block_on(async {
        sqlx::any::install_default_drivers();
        if sqlx::Any::database_exists(url).await? {
            sqlx::Any::drop_database(url).await?;
        }
        anyhow::Ok(())
    })
}

struct Measured {
    wall: Duration,
    peak_kb: u64,
    failure: Option<String>,
    warn_lines: usize,
}

/// Runs this program with `args` as a child, stdout and stderr to `log`; its wall time and
/// peak resident set size (from `wait4`).
fn run_child(exe: &Path, args: &[String], log: &Path) -> anyhow::Result<Measured> {
    let file = std::fs::File::create(log)?;
    let t = Instant::now();
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(file.try_clone()?))
        .stderr(Stdio::from(file))
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not waited for elsewhere; both pointers are to live locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = t.elapsed();
    anyhow::ensure!(
        r == pid,
        "wait4 failed: {}",
        std::io::Error::last_os_error()
    );
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let warn_lines = text
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("slow statement"))
        .count();
    let failure = (!ok).then(|| {
        let said: String = text
            .lines()
            .find_map(|l| l.strip_prefix("Error: "))
            .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
            .unwrap_or("(no output)")
            .chars()
            .take(200)
            .collect();
        if libc::WIFSIGNALED(status) {
            format!("killed by signal {}; {said}", libc::WTERMSIG(status))
        } else {
            said
        }
    });
    Ok(Measured {
        wall,
        peak_kb: usage.ru_maxrss as u64,
        failure,
        warn_lines,
    })
}

/// One step, in a child process: the use case the command line calls, then its report lines.
fn child_step(args: &[String]) -> anyhow::Result<()> {
    use chieftech::jobs::session::{Open, Session};
    use chieftech::jobs::{ledger, payrun};
    let (step, url, inputs, out) = (
        args[0].as_str(),
        args[1].clone(),
        PathBuf::from(&args[2]),
        PathBuf::from(&args[3]),
    );
    chieftech::telemetry::init(0);
    let today = chrono::NaiveDate::from_ymd_opt(2024, 12, 1).expect("date");
    // The command line's runtime (src/main.rs).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let operator = if step == "approve" {
            "审核人李"
        } else {
            "经办人张"
        };
        let s = Session::open(
            chieftech::config::Config::default(),
            url,
            operator.into(),
            today,
            Open::CreateIfMissing,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let report = |lines: &[String], refused: bool| -> anyhow::Result<()> {
            for l in lines {
                println!("{l}");
            }
            anyhow::ensure!(!refused, "refused");
            Ok(())
        };
        match step {
            "import-roster" => {
                let r = ledger::import_roster(&s, &[inputs.join("roster.xlsx")], false)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                report(&r.lines, r.refused)?;
            }
            "import-changes" => {
                let files: Vec<PathBuf> = chieftech::jobs::sample::REPORT_YEARS
                    .iter()
                    .map(|y| inputs.join(format!("changes-{y}.xlsx")))
                    .collect();
                let r = ledger::import_changes(&s, &files, false, false, false)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                report(&r.lines, r.refused)?;
            }
            "compute" => {
                let r = payrun::compute(&s, 2024, false, &indicatif::ProgressBar::hidden())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!(
                    "run 2024/{}: {} appointments, {} items, paid {} fen, recovered {} fen",
                    r.seq, r.appointments, r.items, r.paid, r.recovered
                );
            }
            "approve" => {
                let (seq, notices) = payrun::approve(&s, 2024)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("run 2024/{seq} approved, {notices} notices queued");
            }
            "export" => {
                let r = payrun::export(&s, 2024, None, Some(&out))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                for l in &r.lines {
                    println!("{l}");
                }
            }
            other => anyhow::bail!("unknown step {other}"),
        }
        s.store.close().await;
        anyhow::Ok(())
    })
}

/// The floor: read every cell of both inputs with calamine's cell reader, then write as many
/// rows of 11 text cells with rust_xlsxwriter in constant-memory mode.
fn floor(inputs: &Path) -> anyhow::Result<()> {
    use calamine::{open_workbook, Reader, Xlsx};
    let mut files = vec![inputs.join("roster.xlsx")];
    for y in chieftech::jobs::sample::REPORT_YEARS {
        files.push(inputs.join(format!("changes-{y}.xlsx")));
    }
    let (mut rows, mut cells) = (0u64, 0u64);
    for f in &files {
        let mut wb: Xlsx<_> = open_workbook(f)?;
        for sheet in wb.sheet_names() {
            let mut reader = wb.worksheet_cells_reader(&sheet)?;
            let mut last_row = None;
            while let Some(c) = reader.next_cell()? {
                cells += 1;
                if last_row != Some(c.get_position().0) {
                    last_row = Some(c.get_position().0);
                    rows += 1;
                }
                std::hint::black_box(c.get_value());
            }
        }
    }
    let dir = tempfile::tempdir()?;
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet_with_constant_memory()?;
    let per_sheet = 1_000_000u64;
    let mut written = 0u64;
    let mut sheet_row = 0u32;
    let mut ws = ws;
    while written < rows {
        if u64::from(sheet_row) == per_sheet {
            ws = book.add_worksheet_with_constant_memory()?;
            sheet_row = 0;
        }
        for c in 0..11u16 {
            ws.write_string(sheet_row, c, format!("{written:012}-{c}"))?;
        }
        sheet_row += 1;
        written += 1;
    }
    book.save(dir.path().join("floor.xlsx"))?;
    println!("floor: read {rows} rows ({cells} cells), wrote {written} rows");
    Ok(())
}
