//! Recovery plans, repayments and balances in the ledger (分期追缴, 还款).
//!
//! A person's recoveries due are the `run_recoveries` of approved runs; what is recovered is
//! the `recovery_repayments` plus the `run_offsets` of approved runs; the open balance is the
//! difference, never below zero ([`crate::rules::recovery`]). Plans and repayments are rows of
//! their own: a new plan marks the previous one replaced, nothing is deleted. Each write is one
//! transaction with a money audit entry, so a draft computed before it is stale.

use super::{audit, now_text, parse_date, Result, Store, StoreError};
use crate::rules::id_number::mask;
use crate::rules::money::fen_grouped;
use crate::rules::recovery::{
    check_repayment, instalment_due, Balance, Plan, Recorded, RepaymentRefusal, RepaymentVerdict,
    MAX_MONTHS,
};
use crate::rules::Month;
use chrono::NaiveDate;
use sqlx::Row;
use std::collections::HashMap;

/// What `recovery plan` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanRequest {
    /// `--per-run AMOUNT`: each later run offsets up to `fen`.
    PerRun { fen: i64 },
    /// `--months K [--start YYYY-MM]`: the balance in K monthly instalments from `start`
    /// (the month of today when None).
    Months { months: u32, start: Option<Month> },
}

/// A recovery plan as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRecord {
    pub id: i64,
    pub plan: Plan,
    /// With a monthly plan: the number of months asked for.
    pub months: Option<u32>,
    /// The open balance when planned.
    pub balance_fen: i64,
    pub created_at: String,
    pub operator: String,
    /// When a later plan replaced it (None: in force).
    pub replaced_at: Option<String>,
}

impl PlanRecord {
    /// `500.00 per run`, or `12 monthly instalments of 1,250.00 from 2025-01`.
    pub fn describe(&self) -> String {
        match self.plan {
            Plan::PerRun { fen } => format!("{} per run", fen_grouped(fen)),
            Plan::Monthly {
                monthly_fen, start, ..
            } => format!(
                "{} monthly instalments of {} from {start}",
                self.months.unwrap_or(0),
                fen_grouped(monthly_fen)
            ),
        }
    }

    /// The same in Chinese, for `explain`.
    pub fn describe_zh(&self) -> String {
        match self.plan {
            Plan::PerRun { fen } => format!("每批抵扣{}元", fen_grouped(fen)),
            Plan::Monthly {
                monthly_fen, start, ..
            } => format!(
                "自{start}起分{}个月，每月{}元",
                self.months.unwrap_or(0),
                fen_grouped(monthly_fen)
            ),
        }
    }
}

/// What `recovery plan` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOutcome {
    pub id_number: String,
    pub name: String,
    /// The open balance the plan spreads.
    pub open_fen: i64,
    pub plan: PlanRecord,
    /// A plan in force before was replaced.
    pub replaced: bool,
}

/// What `recovery record` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepaymentOutcome {
    pub id_number: String,
    pub name: String,
    pub fen: i64,
    pub paid_on: NaiveDate,
    pub reference: String,
    /// The same repayment was recorded before under this reference: nothing was done.
    pub already_recorded: bool,
    /// The open balance after it.
    pub open_fen: i64,
}

/// A person with an open balance (`recovery list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryBalance {
    pub id_number: String,
    pub name: String,
    pub due_fen: i64,
    pub recovered_fen: i64,
    pub open_fen: i64,
    /// The plan in force, if any (None: due at once).
    pub plan: Option<PlanRecord>,
}

/// An amount an approved run recovered from a person, or offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAmount {
    pub year: i64,
    pub seq: i64,
    pub approved_at: String,
    pub fen: i64,
}

/// A repayment the bureau received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repayment {
    pub fen: i64,
    pub paid_on: NaiveDate,
    pub reference: String,
    pub recorded_at: String,
    pub operator: String,
}

/// A person's recovery ledger (for `explain`): approved runs only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryHistory {
    pub id_number: String,
    pub name: String,
    /// Recoveries due, by run.
    pub dues: Vec<RunAmount>,
    /// Offsets against the person's bank payments, by run.
    pub offsets: Vec<RunAmount>,
    pub repayments: Vec<Repayment>,
    /// Every plan, the one in force last (its `replaced_at` None).
    pub plans: Vec<PlanRecord>,
    pub balance: Balance,
}

impl RecoveryHistory {
    /// The person's recovery ledger as text for `explain` (Chinese, like the rest of it);
    /// empty when nothing was ever due or repaid.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        if self.dues.is_empty() && self.repayments.is_empty() {
            return s;
        }
        let _ = writeln!(s, "追缴：{} {}", self.name, mask(&self.id_number));
        for d in &self.dues {
            let _ = writeln!(
                s,
                "  {}年第{}批 应追缴 {}",
                d.year,
                d.seq,
                fen_grouped(d.fen)
            );
        }
        for o in &self.offsets {
            let _ = writeln!(s, "  {}年第{}批 抵扣 {}", o.year, o.seq, fen_grouped(o.fen));
        }
        for r in &self.repayments {
            let _ = writeln!(
                s,
                "  {} 还款 {}（凭证号 {}，{}登记）",
                r.paid_on,
                fen_grouped(r.fen),
                r.reference,
                r.operator
            );
        }
        for p in &self.plans {
            let state = p.replaced_at.as_ref().map_or("执行中".to_string(), |at| {
                format!("已于{}被替换", day(at))
            });
            let _ = writeln!(
                s,
                "  分期计划（{}制定，余额{}）：{}，{state}",
                day(&p.created_at),
                fen_grouped(p.balance_fen),
                p.describe_zh()
            );
        }
        let b = self.balance;
        let _ = writeln!(
            s,
            "  合计应追缴 {}，已追回 {}，尚欠 {}",
            fen_grouped(b.due),
            fen_grouped(b.recovered),
            fen_grouped(b.open)
        );
        s
    }
}

/// The day (Asia/Shanghai) of a recorded time; other text as it is.
fn day(at: &str) -> String {
    super::recorded_day(at).map_or_else(|| at.to_string(), |d| d.to_string())
}

impl Store {
    /// Puts a person's open balance on a plan, replacing the plan in force. Refused when the
    /// person owes nothing.
    pub async fn plan_recovery(
        &self,
        id_number: &str,
        request: PlanRequest,
        today: NaiveDate,
        operator: &str,
    ) -> Result<PlanOutcome> {
        check_request(request)?;
        let mut tx = self.begin_write().await?;
        let (tid, id_number, name) = technician(&mut tx, id_number).await?;
        let open = person_balance(&mut tx, tid).await?.open;
        if open <= 0 {
            return Err(StoreError::Refused(format!(
                "{name}（{}）没有待追缴的余额，无需分期追缴",
                mask(&id_number)
            )));
        }
        let now = now_text();
        let replaced = sqlx::query(
            "UPDATE recovery_plans SET replaced_at = $1 WHERE technician_id = $2 AND replaced_at IS NULL",
        )
        .bind(&now)
        .bind(tid)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        let mut plan = new_plan(request, open, today, &now, operator);
        plan.id = insert_plan(&mut tx, tid, &plan, Month::of(today)).await?;
        let detail = format!(
            "{}: plan {} ({}), open balance {}{}",
            mask(&id_number),
            plan.id,
            plan.describe(),
            fen_grouped(open),
            if replaced {
                ", replacing the plan in force"
            } else {
                ""
            }
        );
        audit(&mut tx, operator, "recovery-plan", &detail, true).await?;
        tx.commit().await?;
        Ok(PlanOutcome {
            id_number,
            name,
            open_fen: open,
            plan,
            replaced,
        })
    }

    /// Records a repayment the bureau received. The same reference again for the same person
    /// and amount is a no-op (`already_recorded`); for another person or amount it is refused,
    /// and so is a repayment above the open balance.
    pub async fn record_repayment(
        &self,
        id_number: &str,
        fen: i64,
        date: NaiveDate,
        reference: &str,
        operator: &str,
    ) -> Result<RepaymentOutcome> {
        let reference = reference.trim();
        if reference.is_empty() {
            return Err(StoreError::Usage(
                "还款需要凭证号（--reference R），同一凭证号只登记一次".into(),
            ));
        }
        if fen <= 0 {
            return Err(StoreError::Usage(RepaymentRefusal::NotPositive.to_string()));
        }
        let mut tx = self.begin_write().await?;
        let (tid, id_number, name) = technician(&mut tx, id_number).await?;
        let earlier = repayment_by_reference(&mut tx, reference).await?;
        let open = person_balance(&mut tx, tid).await?.open;
        let mut out = RepaymentOutcome {
            id_number,
            name,
            fen,
            paid_on: date,
            reference: reference.to_string(),
            already_recorded: false,
            open_fen: open,
        };
        match check_repayment(earlier.map(|e| e.0), tid, fen, open) {
            Ok(RepaymentVerdict::AlreadyRecorded) => {
                out.already_recorded = true;
                out.paid_on = earlier.map(|e| e.1).unwrap_or(date);
                tx.rollback().await?;
                Ok(out)
            }
            Ok(RepaymentVerdict::Record) => {
                insert_repayment(&mut tx, tid, &out, operator).await?;
                tx.commit().await?;
                out.open_fen = open - fen;
                Ok(out)
            }
            Err(RepaymentRefusal::ReferenceTaken { earlier: e }) => {
                let (_, who, _) = technician_by_id(&mut tx, e.person).await?;
                Err(StoreError::Refused(format!(
                    "凭证号“{reference}”已登记为{}的一笔还款（{}元）：同一凭证号不能再登记另一笔还款，请核对凭证号",
                    mask(&who),
                    fen_grouped(e.fen)
                )))
            }
            Err(e) => Err(StoreError::Refused(format!(
                "{}（{}）：{e}",
                out.name,
                mask(&out.id_number)
            ))),
        }
    }

    /// Every person with an open balance, by ID number, with the plan in force.
    pub async fn recovery_balances(&self) -> Result<Vec<RecoveryBalance>> {
        let mut conn = self.pool().acquire().await?;
        let totals = ledger_totals(&mut conn, ALL).await?;
        let plans = plans_in_force(&mut conn, ALL).await?;
        open_balances(&mut conn, totals, plans).await
    }

    /// Every open balance as it stood at `at` (an RFC 3339 time: the approval of the run
    /// whose summary shows them): runs approved, repayments recorded and plans made by then.
    /// A later repayment does not change an exported summary.
    pub async fn recovery_balances_as_of(&self, at: &str) -> Result<Vec<RecoveryBalance>> {
        let mut conn = self.pool().acquire().await?;
        let dues = sums_at(&mut conn, DUES_AT, at).await?;
        let mut recovered = sums_at(&mut conn, OFFSETS_AT, at).await?;
        for (tid, fen) in sums_at(&mut conn, REPAID_AT, at).await? {
            *recovered.entry(tid).or_default() += fen;
        }
        let totals: HashMap<i64, Balance> = dues
            .keys()
            .chain(recovered.keys())
            .map(|tid| {
                let due = dues.get(tid).copied().unwrap_or(0);
                (
                    *tid,
                    Balance::of(due, recovered.get(tid).copied().unwrap_or(0)),
                )
            })
            .collect();
        let sql = format!(
            "SELECT {PLAN_COLUMNS} FROM recovery_plans WHERE created_at <= $1 AND (replaced_at IS NULL OR replaced_at > $1) ORDER BY id"
        );
        let mut plans = HashMap::new();
        for r in sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(at)
            .fetch_all(&mut *conn)
            .await?
        {
            let (tid, plan) = plan_from_row(&r)?;
            plans.insert(tid, plan);
        }
        open_balances(&mut conn, totals, plans).await
    }

    /// A person's recoveries due and offsets by run, repayments and plans, for `explain`.
    pub async fn recovery_history(&self, id_number: &str) -> Result<RecoveryHistory> {
        let mut conn = self.pool().acquire().await?;
        let (tid, id_number, name) = technician(&mut conn, id_number).await?;
        let dues = run_amounts(&mut conn, "run_recoveries", tid).await?;
        let offsets = run_amounts(&mut conn, "run_offsets", tid).await?;
        let repayments = repayments_of(&mut conn, tid).await?;
        let mut plans = Vec::new();
        let sql = format!(
            "SELECT {PLAN_COLUMNS} FROM recovery_plans WHERE technician_id = $1 ORDER BY id"
        );
        for r in sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tid)
            .fetch_all(&mut *conn)
            .await?
        {
            plans.push(plan_from_row(&r)?.1);
        }
        let fen = |v: &[RunAmount]| v.iter().map(|a| a.fen).collect::<Vec<_>>();
        let repaid: Vec<i64> = repayments.iter().map(|r| r.fen).collect();
        let balance = crate::rules::recovery::balance(&fen(&dues), &repaid, &fen(&offsets));
        Ok(RecoveryHistory {
            id_number,
            name,
            dues,
            offsets,
            repayments,
            plans,
            balance,
        })
    }
}

/// What each person with a plan in force may have offset now by a run computed on `today`:
/// technician id → fen (> 0, at most the open balance). From approved runs only; call it
/// inside the run computation's transaction.
pub async fn offsets_due(
    conn: &mut sqlx::AnyConnection,
    today: NaiveDate,
) -> Result<HashMap<i64, i64>> {
    let plans = plans_in_force(conn, ALL).await?;
    let mut out = HashMap::new();
    if plans.is_empty() {
        return Ok(out);
    }
    let totals = ledger_totals(conn, ALL).await?;
    let mut since = sums(conn, OFFSETS_SINCE_PLAN, ALL).await?;
    for (tid, fen) in sums(conn, REPAID_SINCE_PLAN, ALL).await? {
        *since.entry(tid).or_default() += fen;
    }
    for (tid, plan) in plans {
        let open = totals.get(&tid).map_or(0, |b| b.open);
        let recovered = since.get(&tid).copied().unwrap_or(0);
        let due = instalment_due(&plan.plan, today, recovered, open);
        if due > 0 {
            out.insert(tid, due);
        }
    }
    Ok(out)
}

/// A range of technician ids a query covers: every one, or one.
type Ids = (i64, i64);
const ALL: Ids = (i64::MIN, i64::MAX);

const DUES: &str = "SELECT x.technician_id, CAST(SUM(x.fen) AS BIGINT) FROM run_recoveries x JOIN runs r ON r.id = x.run_id WHERE r.status = 'approved' AND x.technician_id BETWEEN $1 AND $2 GROUP BY x.technician_id";
const OFFSETS: &str = "SELECT x.technician_id, CAST(SUM(x.fen) AS BIGINT) FROM run_offsets x JOIN runs r ON r.id = x.run_id WHERE r.status = 'approved' AND x.technician_id BETWEEN $1 AND $2 GROUP BY x.technician_id";
const REPAID: &str = "SELECT technician_id, CAST(SUM(fen) AS BIGINT) FROM recovery_repayments WHERE technician_id BETWEEN $1 AND $2 GROUP BY technician_id";
const OFFSETS_SINCE_PLAN: &str = "SELECT x.technician_id, CAST(SUM(x.fen) AS BIGINT) FROM run_offsets x JOIN runs r ON r.id = x.run_id JOIN recovery_plans p ON p.technician_id = x.technician_id AND p.replaced_at IS NULL WHERE r.status = 'approved' AND r.approved_at > p.created_at AND x.technician_id BETWEEN $1 AND $2 GROUP BY x.technician_id";
const REPAID_SINCE_PLAN: &str = "SELECT x.technician_id, CAST(SUM(x.fen) AS BIGINT) FROM recovery_repayments x JOIN recovery_plans p ON p.technician_id = x.technician_id AND p.replaced_at IS NULL WHERE x.recorded_at > p.created_at AND x.technician_id BETWEEN $1 AND $2 GROUP BY x.technician_id";
const PLAN_COLUMNS: &str = "id, technician_id, per_run_fen, months, monthly_fen, start_month, balance_fen, created_at, operator, replaced_at";

const DUES_AT: &str = "SELECT x.technician_id, CAST(SUM(x.fen) AS BIGINT) FROM run_recoveries x JOIN runs r ON r.id = x.run_id WHERE r.status = 'approved' AND r.approved_at <= $1 GROUP BY x.technician_id";
const OFFSETS_AT: &str = "SELECT x.technician_id, CAST(SUM(x.fen) AS BIGINT) FROM run_offsets x JOIN runs r ON r.id = x.run_id WHERE r.status = 'approved' AND r.approved_at <= $1 GROUP BY x.technician_id";
const REPAID_AT: &str = "SELECT technician_id, CAST(SUM(fen) AS BIGINT) FROM recovery_repayments WHERE recorded_at <= $1 GROUP BY technician_id";

/// Runs a `technician_id, SUM(fen)` query bounded by a time.
async fn sums_at(conn: &mut sqlx::AnyConnection, sql: &str, at: &str) -> Result<HashMap<i64, i64>> {
    let mut out = HashMap::new();
    for r in sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(at)
        .fetch_all(conn)
        .await?
    {
        out.insert(r.try_get(0)?, r.try_get(1)?);
    }
    Ok(out)
}

/// Runs a `technician_id, SUM(fen)` query over a range of technician ids.
async fn sums(conn: &mut sqlx::AnyConnection, sql: &str, ids: Ids) -> Result<HashMap<i64, i64>> {
    let mut out = HashMap::new();
    for r in sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(ids.0)
        .bind(ids.1)
        .fetch_all(conn)
        .await?
    {
        out.insert(r.try_get(0)?, r.try_get::<Option<i64>, _>(1)?.unwrap_or(0));
    }
    Ok(out)
}

/// The people with an open balance in `totals`, by ID number, with their plans.
async fn open_balances(
    conn: &mut sqlx::AnyConnection,
    totals: HashMap<i64, Balance>,
    mut plans: HashMap<i64, PlanRecord>,
) -> Result<Vec<RecoveryBalance>> {
    let mut out = Vec::new();
    for r in sqlx::query(
        "SELECT id, id_number, name FROM technicians WHERE id IN (SELECT technician_id FROM run_recoveries)",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let tid: i64 = r.try_get(0)?;
        let Some(b) = totals.get(&tid).filter(|b| b.open > 0) else {
            continue;
        };
        out.push(RecoveryBalance {
            id_number: r.try_get(1)?,
            name: r.try_get(2)?,
            due_fen: b.due,
            recovered_fen: b.recovered,
            open_fen: b.open,
            plan: plans.remove(&tid),
        });
    }
    out.sort_by(|a, b| a.id_number.cmp(&b.id_number));
    Ok(out)
}

/// Each person's balance (people with anything recorded).
async fn ledger_totals(conn: &mut sqlx::AnyConnection, ids: Ids) -> Result<HashMap<i64, Balance>> {
    let dues = sums(conn, DUES, ids).await?;
    let mut recovered = sums(conn, OFFSETS, ids).await?;
    for (tid, fen) in sums(conn, REPAID, ids).await? {
        *recovered.entry(tid).or_default() += fen;
    }
    let mut out = HashMap::new();
    for tid in dues.keys().chain(recovered.keys()) {
        let due = dues.get(tid).copied().unwrap_or(0);
        let rec = recovered.get(tid).copied().unwrap_or(0);
        out.insert(*tid, Balance::of(due, rec));
    }
    Ok(out)
}

/// One person's balance.
async fn person_balance(conn: &mut sqlx::AnyConnection, tid: i64) -> Result<Balance> {
    let totals = ledger_totals(conn, (tid, tid)).await?;
    Ok(totals.get(&tid).copied().unwrap_or_default())
}

/// The plans in force, by technician id.
async fn plans_in_force(
    conn: &mut sqlx::AnyConnection,
    ids: Ids,
) -> Result<HashMap<i64, PlanRecord>> {
    let sql = format!(
        "SELECT {PLAN_COLUMNS} FROM recovery_plans WHERE replaced_at IS NULL AND technician_id BETWEEN $1 AND $2 ORDER BY id"
    );
    let mut out = HashMap::new();
    for r in sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(ids.0)
        .bind(ids.1)
        .fetch_all(conn)
        .await?
    {
        let (tid, plan) = plan_from_row(&r)?;
        out.insert(tid, plan);
    }
    Ok(out)
}

/// A `recovery_plans` row (columns [`PLAN_COLUMNS`]): its technician id and the plan.
fn plan_from_row(r: &sqlx::any::AnyRow) -> Result<(i64, PlanRecord)> {
    let id: i64 = r.try_get(0)?;
    let per_run: Option<i64> = r.try_get(2)?;
    let months: Option<i64> = r.try_get(3)?;
    let monthly: Option<i64> = r.try_get(4)?;
    let start_text: String = r.try_get(5)?;
    let start: Month = start_text
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("recovery plan {id}: month `{start_text}`")))?;
    let balance_fen: i64 = r.try_get(6)?;
    let plan = match (per_run, monthly) {
        (Some(fen), _) => Plan::PerRun { fen },
        (None, Some(monthly_fen)) => Plan::Monthly {
            monthly_fen,
            start,
            cap_fen: balance_fen,
        },
        (None, None) => {
            return Err(StoreError::Corrupt(format!(
                "recovery plan {id} has neither an amount per run nor a monthly instalment"
            )))
        }
    };
    let record = PlanRecord {
        id,
        plan,
        months: months.and_then(|m| u32::try_from(m).ok()),
        balance_fen,
        created_at: r.try_get(7)?,
        operator: r.try_get(8)?,
        replaced_at: r.try_get(9)?,
    };
    Ok((r.try_get(1)?, record))
}

/// Refuses a plan request out of range (a usage error).
fn check_request(request: PlanRequest) -> Result<()> {
    match request {
        PlanRequest::PerRun { fen } if fen <= 0 => Err(StoreError::Usage(
            "每批抵扣金额（--per-run）应大于零".into(),
        )),
        PlanRequest::Months { months, .. } if !(1..=MAX_MONTHS).contains(&months) => {
            Err(StoreError::Usage(format!(
                "分期月数（--months）应为 1 至 {MAX_MONTHS}，而不是 {months}"
            )))
        }
        _ => Ok(()),
    }
}

/// The plan a request makes of an open balance (its id not yet known).
fn new_plan(
    request: PlanRequest,
    open: i64,
    today: NaiveDate,
    now: &str,
    operator: &str,
) -> PlanRecord {
    let (plan, months) = match request {
        PlanRequest::PerRun { fen } => (Plan::PerRun { fen }, None),
        PlanRequest::Months { months, start } => {
            let start = start.unwrap_or_else(|| Month::of(today));
            (Plan::monthly(open, months, start), Some(months))
        }
    };
    PlanRecord {
        id: 0,
        plan,
        months,
        balance_fen: open,
        created_at: now.to_string(),
        operator: operator.to_string(),
        replaced_at: None,
    }
}

/// Inserts a plan (a per-run plan's start month is `this_month`); returns its id.
async fn insert_plan(
    conn: &mut sqlx::AnyConnection,
    tid: i64,
    plan: &PlanRecord,
    this_month: Month,
) -> Result<i64> {
    let (per_run, monthly, start) = match plan.plan {
        Plan::PerRun { fen } => (Some(fen), None, this_month),
        Plan::Monthly {
            monthly_fen, start, ..
        } => (None, Some(monthly_fen), start),
    };
    let row = sqlx::query(
        "INSERT INTO recovery_plans (technician_id, per_run_fen, months, monthly_fen, start_month, balance_fen, created_at, operator) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(tid)
    .bind(per_run)
    .bind(plan.months.map(i64::from))
    .bind(monthly)
    .bind(start.to_string())
    .bind(plan.balance_fen)
    .bind(&plan.created_at)
    .bind(&plan.operator)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get(0)?)
}

/// The repayment recorded under a reference: for whom, how much, and its date.
async fn repayment_by_reference(
    conn: &mut sqlx::AnyConnection,
    reference: &str,
) -> Result<Option<(Recorded, NaiveDate)>> {
    let row = sqlx::query(
        "SELECT technician_id, fen, paid_on FROM recovery_repayments WHERE reference = $1",
    )
    .bind(reference)
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let recorded = Recorded {
        person: r.try_get(0)?,
        fen: r.try_get(1)?,
    };
    Ok(Some((recorded, parse_date(&r.try_get::<String, _>(2)?)?)))
}

/// Inserts a repayment with its audit entry.
async fn insert_repayment(
    conn: &mut sqlx::AnyConnection,
    tid: i64,
    r: &RepaymentOutcome,
    operator: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO recovery_repayments (technician_id, fen, paid_on, reference, recorded_at, operator) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tid)
    .bind(r.fen)
    .bind(r.paid_on.to_string())
    .bind(&r.reference)
    .bind(now_text())
    .bind(operator)
    .execute(&mut *conn)
    .await?;
    let detail = format!(
        "{}: repayment {} paid {}, reference {}",
        mask(&r.id_number),
        fen_grouped(r.fen),
        r.paid_on,
        r.reference
    );
    audit(conn, operator, "recovery-repayment", &detail, true).await?;
    Ok(())
}

/// A person's recovery rows of an approved-run table (`run_recoveries`, `run_offsets`).
async fn run_amounts(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    tid: i64,
) -> Result<Vec<RunAmount>> {
    let sql = format!(
        "SELECT r.year, r.seq, r.approved_at, x.fen FROM {table} x JOIN runs r ON r.id = x.run_id WHERE x.technician_id = $1 AND r.status = 'approved' ORDER BY r.year, r.seq"
    );
    let mut out = Vec::new();
    for r in sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tid)
        .fetch_all(conn)
        .await?
    {
        out.push(RunAmount {
            year: r.try_get(0)?,
            seq: r.try_get(1)?,
            approved_at: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
            fen: r.try_get(3)?,
        });
    }
    Ok(out)
}

/// A person's repayments, by date.
async fn repayments_of(conn: &mut sqlx::AnyConnection, tid: i64) -> Result<Vec<Repayment>> {
    let mut out = Vec::new();
    for r in sqlx::query(
        "SELECT fen, paid_on, reference, recorded_at, operator FROM recovery_repayments WHERE technician_id = $1 ORDER BY paid_on, id",
    )
    .bind(tid)
    .fetch_all(conn)
    .await?
    {
        out.push(Repayment {
            fen: r.try_get(0)?,
            paid_on: parse_date(&r.try_get::<String, _>(1)?)?,
            reference: r.try_get(2)?,
            recorded_at: r.try_get(3)?,
            operator: r.try_get(4)?,
        });
    }
    Ok(out)
}

/// A technician by ID number: id, ID number as recorded, name; a usage error when unknown.
async fn technician(
    conn: &mut sqlx::AnyConnection,
    id_number: &str,
) -> Result<(i64, String, String)> {
    let wanted = id_number.trim().to_ascii_uppercase();
    let row = sqlx::query("SELECT id, id_number, name FROM technicians WHERE id_number = $1")
        .bind(&wanted)
        .fetch_optional(conn)
        .await?;
    match row {
        Some(r) => Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
        None => Err(StoreError::Usage(format!(
            "身份证号码{}不在名册中：请核对号码",
            mask(&wanted)
        ))),
    }
}

/// A technician by id: id, ID number, name.
async fn technician_by_id(
    conn: &mut sqlx::AnyConnection,
    tid: i64,
) -> Result<(i64, String, String)> {
    let r = sqlx::query("SELECT id, id_number, name FROM technicians WHERE id = $1")
        .bind(tid)
        .fetch_one(conn)
        .await?;
    Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
}
