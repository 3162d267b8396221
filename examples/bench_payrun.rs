//! Benchmark of issue 2: the first payment run (year 2024, nothing paid before) over N
//! appointments approved 2021–2024 with 3 changes each, computed and persisted.
//!
//! ```text
//! cargo run --release --example bench_payrun -- [PEOPLE=100000] [DATABASE_URL]
//! ```
//! Seeding uses bulk SQL (not timed); the run itself goes through `Store::compute_run`.
//! Prints the run's wall time and the process's peak resident memory (VmHWM).

use chieftech::rules::id_number::make_id;
use chieftech::rules::{ChangeKind, RulesConfig};
use chieftech::store::payrun::RunPolicy;
use chieftech::store::Store;
use chrono::{Days, NaiveDate};
use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let people: usize = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let url = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let store = Store::connect(&url).await?;
    let t = Instant::now();
    seed(&store, people).await?;
    println!(
        "seeded {people} appointments, {} changes in {:.1?}",
        people * 3,
        t.elapsed()
    );

    let cfg = RulesConfig::default();
    let policy = RunPolicy {
        allow_supplementary: true,
        allow_single_operator: false,
    };
    let t = Instant::now();
    let s = store
        .compute_run(
            2024,
            false,
            "bench",
            NaiveDate::from_ymd_opt(2024, 12, 1).unwrap(),
            &cfg,
            policy,
            &indicatif::ProgressBar::hidden(),
        )
        .await?;
    let elapsed = t.elapsed();
    println!(
        "payrun compute 2024: {} appointments, {} with lines, paid {} fen, in {:.2?}",
        s.appointments, s.items, s.paid, elapsed
    );
    let t = Instant::now();
    store
        .compute_run(
            2024,
            false,
            "bench",
            NaiveDate::from_ymd_opt(2024, 12, 1).unwrap(),
            &cfg,
            policy,
            &indicatif::ProgressBar::hidden(),
        )
        .await?;
    println!("recompute of the draft: {:.2?}", t.elapsed());
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status.lines().filter(|l| l.starts_with("VmHWM")) {
            println!("peak memory {line}");
        }
    }
    Ok(())
}

async fn seed(store: &Store, n: usize) -> anyhow::Result<()> {
    let pool = store.pool();
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO sources (kind, operator, recorded_at) VALUES ('api', 'bench', '2024-01-01T00:00:00Z')")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO units (name) VALUES ('基准测试单位')")
        .execute(&mut *tx)
        .await?;
    let start = NaiveDate::from_ymd_opt(2021, 9, 2).unwrap();
    let span = (NaiveDate::from_ymd_opt(2024, 12, 31).unwrap() - start).num_days() as u64;
    let mut state = 0x2545F4914F6CDD1Du64;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const CHUNK: usize = 1000;
    for base in (0..n).step_by(CHUNK) {
        let end = (base + CHUNK).min(n);
        let mut techs = String::from("INSERT INTO technicians (id, id_number, name) VALUES ");
        let mut appts = String::from("INSERT INTO appointments (id, technician_id, approval_date, approval_no, unit_id, bank_account, bank_name, source_id) VALUES ");
        let mut changes = String::from("INSERT INTO changes (technician_id, appointment_id, kind, effective, end_date, source_id, recorded_at, operator) VALUES ");
        for i in base..end {
            let id = i as i64 + 1;
            let birth =
                NaiveDate::from_ymd_opt(1960, 1, 1).unwrap() + Days::new((i % 10_000) as u64);
            let number = make_id("370303", birth, (i / 10_000) as u32);
            let approval = start + Days::new(rnd() % span);
            let sep = if i > base { "," } else { "" };
            techs.push_str(&format!("{sep}({id}, '{number}', '技师{i}')"));
            appts.push_str(&format!(
                "{sep}({id}, {id}, '{approval}', '张人社字〔{}〕{i}号', 1, '6222{:015}', '工商银行', 1)",
                approval.format("%Y"),
                i
            ));
            let mut at = |days: u64| approval + Days::new(days + rnd() % 30);
            let plan: [(ChangeKind, NaiveDate, Option<NaiveDate>); 3] = match i % 4 {
                0 => [
                    (ChangeKind::LeftPost, at(100), None),
                    (ChangeKind::Restored, at(200), None),
                    (ChangeKind::UnitChange, at(300), None),
                ],
                1 => [
                    (ChangeKind::TransferredOut, at(150), None),
                    (ChangeKind::Restored, at(300), None),
                    (ChangeKind::Retired, at(500), None),
                ],
                2 => [
                    (ChangeKind::OtherAllowance, at(60), Some(at(130))),
                    (ChangeKind::LeftSkilledWork, at(400), None),
                    (ChangeKind::Restored, at(460), None),
                ],
                _ => [
                    (ChangeKind::Retired, at(200), None),
                    (ChangeKind::Restored, at(260), None),
                    (ChangeKind::Deceased, at(700), None),
                ],
            };
            for (k, (kind, x, z)) in plan.iter().enumerate() {
                let sep = if i > base || k > 0 { "," } else { "" };
                let appointment = if *kind == ChangeKind::OtherAllowance {
                    "NULL".to_string()
                } else {
                    id.to_string()
                };
                let z = z.map(|z| format!("'{z}'")).unwrap_or_else(|| "NULL".into());
                changes.push_str(&format!(
                    "{sep}({id}, {appointment}, '{}', '{x}', {z}, 1, '2024-01-01T00:00:00Z', 'bench')",
                    kind.code()
                ));
            }
        }
        for sql in [techs, appts, changes] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
