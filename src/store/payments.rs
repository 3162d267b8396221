//! Payments after the bank: every bank-file row of an export (`payments`), the bank's answer
//! for each (`payment_results`, from its return file), and the re-issue of a failed payment
//! by a later run (`run_reissues`).
//!
//! A payment's row is derived from the approved run, which never changes: the people with a
//! positive bank amount in ID-number order, cut into the recorded parts. The rows are written
//! the first time the run is reconciled, inside that transaction.

use super::native::{insert_rows, Arg};
use super::payrun::{for_each_person, load_run_head, UnitIndex};
use super::{audit, parse_date, Result, RunPerson, Store, StoreError};
use crate::rules::reconcile::{reconcile, Payment, PaymentState, Reconciliation, ReturnLine};
use crate::store::payrun::{Reissue, RunItem};
use chrono::NaiveDate;
use sqlx::Row;

/// A return file being applied.
#[derive(Debug, Clone)]
pub struct BankReturn<'a> {
    /// The file's name as given (recorded as the answers' source).
    pub file_name: &'a str,
    pub sha256: &'a str,
    pub operator: &'a str,
    /// Dates an answer the file gives no date for.
    pub today: NaiveDate,
    /// Apply the rows that match even when others do not.
    pub accept_valid: bool,
    /// False: match and report only, record nothing (the file itself had errors).
    pub apply: bool,
}

/// A payment of the run, as the ledger has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPayment {
    pub id: i64,
    pub technician_id: i64,
    pub name: String,
    pub payment: Payment,
}

/// A payment the bank reports failed, for the notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedPayment {
    pub payment_id: i64,
    pub year: i32,
    pub seq: i64,
    pub id_number: String,
    pub name: String,
    /// The person's unit on the run's date.
    pub unit: String,
    pub batch_ref: String,
    pub row_no: u32,
    pub fen: i64,
    /// The account the payment went to.
    pub account: String,
    pub date: NaiveDate,
    pub reason: String,
}

/// What reconciling did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    pub year: i32,
    pub seq: i64,
    /// The run's payments.
    pub payments: usize,
    /// The matching of the file's rows.
    pub result: Reconciliation,
    /// The answers were recorded (the file matched, or `accept_valid`).
    pub applied: bool,
    /// Failed payments recorded now.
    pub failed: Vec<FailedPayment>,
    /// Paid payments recorded now.
    pub paid: usize,
    /// Notices queued.
    pub notices: usize,
}

impl Store {
    /// Applies a bank return file's rows to the payments of run `seq` of `year` (the latest
    /// when None), in one transaction: the rows are matched ([`reconcile`]), and the answers
    /// are recorded only when every row matches (or `accept_valid`), with a notice per failure
    /// built by `notice` and queued in the same transaction.
    pub async fn reconcile_run(
        &self,
        year: i32,
        seq: Option<i64>,
        input: &BankReturn<'_>,
        rows: &[ReturnLine],
        mut notice: impl FnMut(&FailedPayment) -> Option<crate::mail::Notice>,
    ) -> Result<Reconciled> {
        let mut tx = self.begin_write().await?;
        let head = load_run_head(&mut tx, year, seq, true).await?;
        if head.status != "approved" {
            return Err(StoreError::Usage(format!(
                "run {}/{} is a draft: only an exported run has payments to reconcile",
                year, head.seq
            )));
        }
        ensure_payments(&mut tx, &head).await?;
        let stored = load_payments(&mut tx, head.run_id).await?;
        let payments: Vec<Payment> = stored.iter().map(|p| p.payment.clone()).collect();
        let result = reconcile(&payments, rows, input.today);
        let mut done = Reconciled {
            year,
            seq: head.seq,
            payments: payments.len(),
            applied: false,
            failed: Vec::new(),
            paid: 0,
            notices: 0,
            result,
        };
        if !input.apply || (!done.result.is_clean() && !input.accept_valid) {
            tx.rollback().await?;
            return Ok(done);
        }
        done.applied = true;
        if !done.result.answers.is_empty() {
            let units = UnitIndex::load(&mut tx).await?;
            record_answers(
                &mut tx,
                &head,
                input,
                &stored,
                &units,
                &mut done,
                &mut notice,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Every payment of a person, with its run and state, oldest first (for `explain`).
    pub async fn payments_of(&self, id_number: &str) -> Result<Vec<PaymentRecord>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query("SELECT p.id, r.year, r.seq, p.batch_ref, p.row_no, p.fen, COALESCE(pr.status, 'exported'), pr.bank_date, pr.reason, (SELECT x.run_id FROM run_reissues x WHERE x.payment_id = p.id) FROM payments p JOIN runs r ON r.id = p.run_id JOIN technicians t ON t.id = p.technician_id LEFT JOIN payment_results pr ON pr.payment_id = p.id WHERE t.id_number = $1 ORDER BY r.year, r.seq")
            .bind(id_number)
            .fetch_all(&mut *conn)
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let reissued_in: Option<i64> = r.try_get(9)?;
            let reissued_by = match reissued_in {
                Some(run) => Some(run_label(&mut conn, run).await?),
                None => None,
            };
            let reissue_approved = reissued_by.as_ref().is_some_and(|(_, approved)| *approved);
            let reissued_by = reissued_by.map(|(label, _)| label);
            out.push(PaymentRecord {
                id: r.try_get(0)?,
                year: r.try_get::<i64, _>(1)? as i32,
                seq: r.try_get(2)?,
                batch_ref: r.try_get(3)?,
                row_no: r.try_get(4)?,
                fen: r.try_get(5)?,
                status: r.try_get(6)?,
                date: r.try_get(7)?,
                reason: r.try_get(8)?,
                reissued_by,
                reissue_approved,
            });
        }
        Ok(out)
    }
}

/// A payment as `explain` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub id: i64,
    pub year: i32,
    pub seq: i64,
    pub batch_ref: String,
    pub row_no: i64,
    pub fen: i64,
    /// exported | paid | failed
    pub status: String,
    pub date: Option<String>,
    pub reason: Option<String>,
    /// The run that re-issues it (`2025年第1批（已批准）`), when one does.
    pub reissued_by: Option<String>,
    /// Whether that run is approved (a draft's re-issue does not count yet).
    pub reissue_approved: bool,
}

/// `2025年第1批（已批准）`, and whether the run is approved.
async fn run_label(conn: &mut sqlx::AnyConnection, run_id: i64) -> Result<(String, bool)> {
    let r = sqlx::query("SELECT year, seq, status FROM runs WHERE id = $1")
        .bind(run_id)
        .fetch_one(conn)
        .await?;
    let approved = r.try_get::<String, _>(2)? == "approved";
    Ok((
        format!(
            "{}年第{}批（{}）",
            r.try_get::<i64, _>(0)?,
            r.try_get::<i64, _>(1)?,
            if approved { "已批准" } else { "草稿" }
        ),
        approved,
    ))
}

/// Writes the run's payments from the run itself the first time it is reconciled; checks
/// each part's rows and sum against what the export recorded.
async fn ensure_payments(
    tx: &mut sqlx::AnyConnection,
    head: &super::payrun::RunHead,
) -> Result<()> {
    let have: i64 = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM payments WHERE run_id = $1")
        .bind(head.run_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    if have > 0 {
        return Ok(());
    }
    let parts = exported_parts(&mut *tx, head).await?;
    let units = UnitIndex::load(&mut *tx).await?;
    let mut rows: Vec<(i64, i64, String, String)> = Vec::new();
    for_each_person(&mut *tx, head, &units, |p| {
        if p.net.bank > 0 {
            let item = p.items.last();
            rows.push((
                p.technician_id,
                p.net.bank,
                item.map(|i| i.bank_account.clone()).unwrap_or_default(),
                item.map(|i| i.bank_name.clone()).unwrap_or_default(),
            ));
        }
        Ok(())
    })
    .await?;
    let mut at = 0usize;
    for (batch, count, sum) in &parts {
        let part = rows.get(at..at + *count as usize).unwrap_or_default();
        let total: i64 = part.iter().map(|r| r.1).sum();
        if part.len() != *count as usize || total != *sum {
            return Err(StoreError::Corrupt(format!(
                "bank file part {batch}: the export recorded {count} rows, {sum} fen; the run gives {} rows, {total} fen",
                part.len()
            )));
        }
        let args: Vec<Arg> = part
            .iter()
            .enumerate()
            .flat_map(|(k, (tid, fen, account, bank))| {
                [
                    Arg::Int(head.run_id),
                    Arg::Int(*tid),
                    Arg::Text(batch),
                    Arg::Int(k as i64 + 1),
                    Arg::Int(*fen),
                    Arg::Text(account),
                    Arg::Text(bank),
                ]
            })
            .collect();
        insert_rows(
            &mut *tx,
            "payments (run_id, technician_id, batch_ref, row_no, fen, bank_account, bank_name)",
            7,
            &args,
        )
        .await?;
        at += *count as usize;
    }
    Ok(())
}

/// The bank file parts an export of the run recorded: (batch reference, rows, sum), by part.
async fn exported_parts(
    tx: &mut sqlx::AnyConnection,
    head: &super::payrun::RunHead,
) -> Result<Vec<(String, i64, i64)>> {
    let exported: Option<i64> = sqlx::query("SELECT id FROM exports WHERE run_id = $1")
        .bind(head.run_id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    let Some(export_id) = exported else {
        return Err(StoreError::Usage(format!(
            "run {}/{} has not been exported: no bank file went to the bank (payrun export --year {} --run {})",
            head.year, head.seq, head.year, head.seq
        )));
    };
    let rows = sqlx::query("SELECT batch_ref, row_count, sum_fen FROM export_files WHERE export_id = $1 AND kind = 'bank' ORDER BY part")
        .bind(export_id)
        .fetch_all(&mut *tx)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

/// The run's payments with their states, by id.
async fn load_payments(tx: &mut sqlx::AnyConnection, run_id: i64) -> Result<Vec<StoredPayment>> {
    let rows = sqlx::query("SELECT p.id, p.technician_id, t.name, t.id_number, p.batch_ref, p.row_no, p.bank_account, p.fen, pr.status, pr.bank_date, pr.reason FROM payments p JOIN technicians t ON t.id = p.technician_id LEFT JOIN payment_results pr ON pr.payment_id = p.id WHERE p.run_id = $1 ORDER BY p.id")
        .bind(run_id)
        .fetch_all(&mut *tx)
        .await?;
    rows.iter().map(stored_payment).collect()
}

fn stored_payment(r: &sqlx::any::AnyRow) -> Result<StoredPayment> {
    let status: Option<String> = r.try_get(8)?;
    let date = r
        .try_get::<Option<String>, _>(9)?
        .map(|d| parse_date(&d))
        .transpose()?;
    let state = match (status.as_deref(), date) {
        (Some("paid"), Some(date)) => PaymentState::Paid { date },
        (Some("failed"), Some(date)) => PaymentState::Failed {
            date,
            reason: r.try_get::<Option<String>, _>(10)?.unwrap_or_default(),
        },
        (None, _) => PaymentState::Exported,
        (Some(other), _) => {
            return Err(StoreError::Corrupt(format!("payment state `{other}`")));
        }
    };
    Ok(StoredPayment {
        id: r.try_get(0)?,
        technician_id: r.try_get(1)?,
        name: r.try_get(2)?,
        payment: Payment {
            id_number: r.try_get(3)?,
            batch_ref: r.try_get(4)?,
            row_no: r.try_get::<i64, _>(5)? as u32,
            account: r.try_get(6)?,
            fen: r.try_get(7)?,
            state,
        },
    })
}

/// Records the answers (source, results, notices, audit) in the caller's transaction.
async fn record_answers(
    tx: &mut sqlx::AnyConnection,
    head: &super::payrun::RunHead,
    input: &BankReturn<'_>,
    stored: &[StoredPayment],
    units: &UnitIndex,
    done: &mut Reconciled,
    notice: &mut impl FnMut(&FailedPayment) -> Option<crate::mail::Notice>,
) -> Result<()> {
    let source = super::Source {
        kind: "bank-return".into(),
        file_name: Some(input.file_name.to_string()),
        sha256: Some(input.sha256.to_string()),
        operator: input.operator.to_string(),
    };
    let source_id = match super::find_source_id(&mut *tx, &source).await? {
        Some((id, _, _)) => id,
        None => super::insert_source(&mut *tx, &source, "bank return file").await?,
    };
    insert_results(tx, head, input, stored, units, done, source_id).await?;
    for f in &done.failed {
        if let Some(n) = notice(f) {
            if crate::mail::queue(&mut *tx, &n).await? {
                done.notices += 1;
            }
        }
    }
    let detail = format!(
        "run {}/{}: bank return {}: {} paid, {} failed, {} unchanged, {} mismatches",
        head.year,
        head.seq,
        input.file_name,
        done.paid,
        done.failed.len(),
        done.result.unchanged.len(),
        done.result.mismatches.len()
    );
    // A failure changes what the next run pays: a money entry (a draft computed before is stale).
    audit(
        tx,
        input.operator,
        "payrun-reconcile",
        &detail,
        !done.failed.is_empty(),
    )
    .await?;
    Ok(())
}

/// Inserts a result per answer; the failures go to `done.failed`, the paid are counted.
async fn insert_results(
    tx: &mut sqlx::AnyConnection,
    head: &super::payrun::RunHead,
    input: &BankReturn<'_>,
    stored: &[StoredPayment],
    units: &UnitIndex,
    done: &mut Reconciled,
    source_id: i64,
) -> Result<()> {
    for a in &done.result.answers {
        let p = &stored[a.payment];
        let (status, date, reason) = match &a.state {
            PaymentState::Paid { date } => ("paid", *date, None),
            PaymentState::Failed { date, reason } => ("failed", *date, Some(reason.clone())),
            PaymentState::Exported => continue,
        };
        sqlx::query("INSERT INTO payment_results (payment_id, status, bank_date, reason, source_id, source_row, recorded_at, operator) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(p.id)
            .bind(status)
            .bind(date.to_string())
            .bind(reason.clone())
            .bind(source_id)
            .bind(i64::from(a.row))
            .bind(super::now_text())
            .bind(input.operator)
            .execute(&mut *tx)
            .await?;
        match reason {
            None => done.paid += 1,
            Some(reason) => done.failed.push(FailedPayment {
                payment_id: p.id,
                year: head.year,
                seq: head.seq,
                id_number: p.payment.id_number.clone(),
                name: p.name.clone(),
                unit: units.unit_on(p.technician_id, head.run_date),
                batch_ref: p.payment.batch_ref.clone(),
                row_no: p.payment.row_no,
                fen: p.payment.fen,
                account: p.payment.account.clone(),
                date,
                reason,
            }),
        }
    }
    Ok(())
}

/// The re-issues of run `run_id`, one [`RunPerson`] per person in ID-number order, each with
/// an item without lines that names the person's latest appointment, unit and the account
/// paid to (fixed at approval; the roster's current one in a draft).
pub(super) async fn load_reissues(
    conn: &mut sqlx::AnyConnection,
    run_id: i64,
    run_date: NaiveDate,
    draft: bool,
    units: &UnitIndex,
) -> Result<Vec<RunPerson>> {
    let rows = sqlx::query("SELECT t.id_number, t.name, rr.technician_id, rr.payment_id, rr.fen, r.year, r.seq, p.batch_ref, p.row_no, pr.bank_date, COALESCE(pr.reason, ''), rr.bank_account, rr.bank_name, a.id, a.approval_no, a.approval_date, u.name, a.bank_account, a.bank_name FROM run_reissues rr JOIN technicians t ON t.id = rr.technician_id JOIN payments p ON p.id = rr.payment_id JOIN runs r ON r.id = p.run_id JOIN payment_results pr ON pr.payment_id = p.id LEFT JOIN appointments a ON a.id = (SELECT a2.id FROM appointments a2 WHERE a2.technician_id = rr.technician_id AND a2.voided_at IS NULL ORDER BY a2.approval_date DESC LIMIT 1) LEFT JOIN units u ON u.id = a.unit_id WHERE rr.run_id = $1 ORDER BY t.id_number, r.year, r.seq, p.id")
        .bind(run_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut people: Vec<RunPerson> = Vec::new();
    for r in &rows {
        let id_number: String = r.try_get(0)?;
        let reissue = Reissue {
            payment_id: r.try_get(3)?,
            fen: r.try_get(4)?,
            from_year: r.try_get::<i64, _>(5)? as i32,
            from_seq: r.try_get(6)?,
            batch_ref: r.try_get(7)?,
            row_no: r.try_get(8)?,
            failed_on: r.try_get(9)?,
            reason: r.try_get(10)?,
        };
        match people.last_mut() {
            Some(p) if p.id_number == id_number => p.reissues.push(reissue),
            _ => people.push(reissue_person(
                r, id_number, reissue, run_date, draft, units,
            )?),
        }
    }
    Ok(people)
}

/// A person of [`load_reissues`] from the first row of theirs.
fn reissue_person(
    r: &sqlx::any::AnyRow,
    id_number: String,
    reissue: Reissue,
    run_date: NaiveDate,
    draft: bool,
    units: &UnitIndex,
) -> Result<RunPerson> {
    let technician_id: i64 = r.try_get(2)?;
    let (account, bank): (Option<String>, Option<String>) = if draft {
        (r.try_get(17)?, r.try_get(18)?)
    } else {
        (r.try_get(11)?, r.try_get(12)?)
    };
    let approval: Option<String> = r.try_get(15)?;
    let approval_date = approval.as_deref().map(parse_date).transpose()?;
    let unit = units.unit_on(technician_id, run_date);
    let roster_unit: Option<String> = r.try_get(16)?;
    Ok(RunPerson {
        technician_id,
        id_number,
        name: r.try_get(1)?,
        net: Default::default(),
        items: vec![RunItem {
            appointment_id: r.try_get::<Option<i64>, _>(13)?.unwrap_or_default(),
            approval_no: r.try_get::<Option<String>, _>(14)?.unwrap_or_default(),
            approval_date,
            unit: if unit.is_empty() {
                roster_unit.unwrap_or_default()
            } else {
                unit
            },
            lines: Vec::new(),
            bank_account: account.unwrap_or_default(),
            bank_name: bank.unwrap_or_default(),
        }],
        reissues: vec![reissue],
        offset_fen: 0,
    })
}

/// Adds to draft `run_id` every failed payment no run re-issues yet; returns how many and
/// their sum.
pub(super) async fn attach_reissues(
    tx: &mut sqlx::AnyConnection,
    run_id: i64,
) -> Result<(usize, i64)> {
    let r = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(p.fen), 0) AS BIGINT) FROM payments p JOIN payment_results pr ON pr.payment_id = p.id WHERE pr.status = 'failed' AND NOT EXISTS (SELECT 1 FROM run_reissues x WHERE x.payment_id = p.id)")
        .fetch_one(&mut *tx)
        .await?;
    let (count, sum): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
    sqlx::query("INSERT INTO run_reissues (run_id, payment_id, technician_id, fen) SELECT $1, p.id, p.technician_id, p.fen FROM payments p JOIN payment_results pr ON pr.payment_id = p.id WHERE pr.status = 'failed' AND NOT EXISTS (SELECT 1 FROM run_reissues x WHERE x.payment_id = p.id)")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    Ok((count as usize, sum))
}
