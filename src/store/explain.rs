//! `explain`: why each month of a person earned what it did, and which runs paid it.
//! The amounts come from the same [`Timeline`] the payment run uses.

use super::changes::{list_change_records, ChangeRecord};
use super::roster::load_person;
use super::{Result, Store, StoreError};
use crate::rules::money::{fen_str, to_fen};
use crate::rules::{
    Appointment, Change, ChangeKind, DayStatus, Line, LineKind, Month, MonthBreakdown, Proration,
    RulesConfig, Segment, Timeline,
};
use sqlx::Row;
use std::fmt::Write;

/// A person's explanation.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub id_number: String,
    pub name: String,
    pub appointments: Vec<AppointmentExplanation>,
    /// Every bank payment of the person, with its state and re-issue.
    pub payments: Vec<super::payments::PaymentRecord>,
}

#[derive(Debug, Clone)]
pub struct AppointmentExplanation {
    pub approval_no: String,
    pub approval_date: chrono::NaiveDate,
    pub term: (chrono::NaiveDate, chrono::NaiveDate),
    pub months: Vec<MonthExplanation>,
}

#[derive(Debug, Clone)]
pub struct MonthExplanation {
    pub breakdown: MonthBreakdown,
    /// Due year (new-year deferral applied).
    pub due_year: i32,
    /// `500.00 × 19/31 = 306.45`
    pub arithmetic: String,
    /// Each day range that did not earn, with the rule and change behind it.
    pub reasons: Vec<String>,
    /// (run year, run number, status, kind, fen) of every run line for this month.
    pub payments: Vec<(i32, i64, String, LineKind, i64)>,
}

impl MonthExplanation {
    /// What approved runs paid in all.
    pub fn paid(&self) -> i64 {
        self.payments
            .iter()
            .filter(|p| p.2 == "approved")
            .map(|p| p.4)
            .sum()
    }
}

impl Store {
    /// Explains every month of a person's appointments, or one month.
    pub async fn explain(
        &self,
        id_number: &str,
        month: Option<Month>,
        cfg: &RulesConfig,
    ) -> Result<Explanation> {
        let mut conn = self.pool.acquire().await?;
        let Some(person) = load_person(&mut conn, id_number).await? else {
            return Err(StoreError::Usage(format!(
                "no technician with ID number {} is recorded",
                crate::rules::id_number::mask(id_number)
            )));
        };
        let records = list_change_records(&mut conn, person.technician_id).await?;
        let live: Vec<Change> = records
            .iter()
            .filter(|r| r.voided.is_none())
            .map(|r| r.change.clone())
            .collect();
        let mut out = Explanation {
            id_number: person.id_number.clone(),
            name: person.name.clone(),
            appointments: Vec::new(),
            payments: Vec::new(),
        };
        drop(conn);
        out.payments = self.payments_of(&person.id_number).await?;
        let mut conn = self.pool.acquire().await?;
        for a in &person.appointments {
            let mut run_lines = load_run_lines(&mut conn, a.id).await?;
            mark_undelivered(&mut run_lines, &out.payments);
            let history = History {
                records: &records,
                live: &live,
                run_lines: &run_lines,
            };
            out.appointments
                .push(explain_appointment(a, &history, month, cfg));
        }
        Ok(out)
    }
}

/// (run year, run number, status, lines) of every run line of an appointment.
type RunLines = Vec<(i32, i64, String, Vec<Line>)>;

/// What an appointment's months are explained from: the person's changes (all, and the
/// live ones) and the appointment's run lines.
struct History<'a> {
    records: &'a [ChangeRecord],
    live: &'a [Change],
    run_lines: &'a RunLines,
}

/// Every run line of an appointment, by run.
async fn load_run_lines(conn: &mut sqlx::AnyConnection, appointment_id: i64) -> Result<RunLines> {
    let rows = sqlx::query("SELECT r.year, r.seq, r.status, i.lines FROM run_items i JOIN runs r ON r.id = i.run_id WHERE i.appointment_id = $1 ORDER BY r.year, r.seq")
        .bind(appointment_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut run_lines = Vec::new();
    for r in &rows {
        let text: String = r.try_get(3)?;
        let lines = super::payrun::stored_lines(&text)?;
        run_lines.push((
            r.try_get::<i64, _>(0)? as i32,
            r.try_get::<i64, _>(1)?,
            r.try_get::<String, _>(2)?,
            lines,
        ));
    }
    Ok(run_lines)
}

/// Marks the lines of runs whose payment the bank failed and no approved run re-issued yet
/// as `failed`: they are owed, not paid.
fn mark_undelivered(run_lines: &mut RunLines, payments: &[super::payments::PaymentRecord]) {
    for (year, seq, status, _) in run_lines.iter_mut() {
        let undelivered = payments.iter().any(|p| {
            p.year == *year && p.seq == *seq && p.status == "failed" && !p.reissue_approved
        });
        if undelivered && status == "approved" {
            *status = "failed".into();
        }
    }
}

/// An appointment's months (all of its term, or the one asked for), explained.
fn explain_appointment(
    a: &Appointment,
    history: &History<'_>,
    month: Option<Month>,
    cfg: &RulesConfig,
) -> AppointmentExplanation {
    let timeline = Timeline::new(a, history.live, cfg);
    let (first, last) = timeline.term_months();
    let mut months = Vec::new();
    for m in first.through(last) {
        if month.is_some_and(|want| want != m) {
            continue;
        }
        let breakdown = timeline.month(m, cfg);
        let arithmetic = arithmetic(&breakdown, cfg);
        let reasons = breakdown
            .segments
            .iter()
            .filter_map(|s| segment_reason(s, history.records))
            .collect();
        let mut payments = Vec::new();
        for (year, seq, status, lines) in history.run_lines {
            for l in lines.iter().filter(|l| l.month == m) {
                payments.push((*year, *seq, status.clone(), l.kind, l.fen));
            }
        }
        months.push(MonthExplanation {
            due_year: a.due_year(m),
            breakdown,
            arithmetic,
            reasons,
            payments,
        });
    }
    AppointmentExplanation {
        approval_no: a.approval_no.clone(),
        approval_date: a.approval_date,
        term: (a.term_start(), a.term_end()),
        months,
    }
}

/// Why a day range did not earn (the rule, and the change behind it); None when it earned.
fn segment_reason(s: &Segment, records: &[ChangeRecord]) -> Option<String> {
    let range = if s.from == s.to {
        s.from.to_string()
    } else {
        format!("{}…{}", s.from, s.to)
    };
    let rule = match s.status {
        DayStatus::Eligible(_) => return None,
        DayStatus::OutsideTerm => "管理期外".to_string(),
        DayStatus::Uncovered => {
            "未覆盖：没有政策版本覆盖这些日期，需区政府出台后续政策".to_string()
        }
        DayStatus::Fraud(_) => "弄虚作假撤销：整届称号无效，已发津贴全部追回".into(),
        DayStatus::Terminated(_) => "终止：待遇自生效日起停止".into(),
        DayStatus::OtherAllowance(_) => "享受其他人才津贴：不得重复享受（§10）".into(),
        DayStatus::Suspended(_) => "停发待遇：称号保留，待遇停发（§14(3)）".into(),
    };
    let cause = s
        .status
        .change_id()
        .and_then(|id| records.iter().find(|r| r.change.id == id))
        .map(|r| {
            format!(
                " — 变动#{} {} 生效{}{}，来源：{}，登记人{}",
                r.change.id,
                r.change.kind,
                r.change.effective,
                match (r.change.kind, r.change.end) {
                    (ChangeKind::OtherAllowance, Some(z)) => format!("至{z}"),
                    _ => String::new(),
                },
                r.source,
                r.operator
            )
        })
        .unwrap_or_default();
    Some(format!("{range} {rule}{cause}"))
}

/// The arithmetic behind a month's amount, e.g. `500.00 × 19/31 = 306.45`.
pub fn arithmetic(b: &MonthBreakdown, cfg: &RulesConfig) -> String {
    let days_in = b.month.days_in();
    let amount = fen_str(to_fen(b.amount));
    match cfg.proration {
        Proration::FirstOfMonth => match b.segments[0].status {
            DayStatus::Eligible(v) => format!(
                "首日符合条件（次月停发规则）：{} = {amount}",
                cfg.policy.versions()[v].monthly_rate
            ),
            _ => format!("首日不符合条件（次月停发规则）：{amount}"),
        },
        Proration::Daily => {
            let mut per_version: Vec<(usize, u32)> = Vec::new();
            for s in &b.segments {
                if let DayStatus::Eligible(v) = s.status {
                    match per_version.iter_mut().find(|(x, _)| *x == v) {
                        Some((_, d)) => *d += s.days(),
                        None => per_version.push((v, s.days())),
                    }
                }
            }
            match per_version.as_slice() {
                [] => format!("0/{days_in}天符合条件 = {amount}"),
                [(v, d)] => format!(
                    "{} × {d}/{days_in} = {amount}",
                    cfg.policy.versions()[*v].monthly_rate
                ),
                many => {
                    let mut s = String::from("(");
                    for (i, (v, d)) in many.iter().enumerate() {
                        if i > 0 {
                            s.push_str(" + ");
                        }
                        let _ = write!(s, "{} × {d}", cfg.policy.versions()[*v].monthly_rate);
                    }
                    let _ = write!(s, ")/{days_in} = {amount}");
                    s
                }
            }
        }
    }
}

impl Explanation {
    /// The text `chieftech explain` prints.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} {}",
            self.name,
            crate::rules::id_number::mask(&self.id_number)
        );
        for a in &self.appointments {
            let _ = writeln!(
                s,
                "\n称号 {} 批准日期 {} 管理期 {} … {}",
                a.approval_no, a.approval_date, a.term.0, a.term.1
            );
            for m in &a.months {
                let _ = writeln!(
                    s,
                    "  {}  应得 {:>8}  {}  （{}年发放）",
                    m.breakdown.month,
                    fen_str(to_fen(m.breakdown.amount)),
                    m.arithmetic,
                    m.due_year
                );
                for r in &m.reasons {
                    let _ = writeln!(s, "      {r}");
                }
                for (year, seq, status, kind, fen) in &m.payments {
                    let label = match status.as_str() {
                        "approved" => "已批准",
                        "failed" => "已批准，银行未能入账，待重发",
                        _ => "草稿",
                    };
                    let _ = writeln!(
                        s,
                        "      {year}年第{seq}批（{label}）{} {}",
                        kind.label(),
                        fen_str(*fen)
                    );
                }
                let diff = to_fen(m.breakdown.amount) - m.paid();
                if diff != 0 {
                    let _ = writeln!(
                        s,
                        "      已发合计 {}，尚差 {}",
                        fen_str(m.paid()),
                        fen_str(diff)
                    );
                }
            }
        }
        render_payments(&mut s, &self.payments);
        s
    }
}

/// The person's bank payments: run, batch and row, amount, state, re-issue.
fn render_payments(s: &mut String, payments: &[super::payments::PaymentRecord]) {
    if payments.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n代发记录");
    for p in payments {
        let state = match p.status.as_str() {
            "paid" => format!("已到账（{}）", p.date.as_deref().unwrap_or_default()),
            "failed" => format!(
                "银行未能入账（{}，{}）",
                p.reason.as_deref().unwrap_or_default(),
                p.date.as_deref().unwrap_or_default()
            ),
            _ => "已报送银行，待回盘".into(),
        };
        let reissue = match &p.reissued_by {
            Some(run) => format!("；由{run}重发"),
            None if p.status == "failed" => "；待下一批重发".into(),
            None => String::new(),
        };
        let _ = writeln!(
            s,
            "  {}年第{}批  批次 {} 第{}行  {:>10}  {state}{reissue}",
            p.year,
            p.seq,
            p.batch_ref,
            p.row_no,
            crate::rules::money::fen_grouped(p.fen)
        );
    }
}
