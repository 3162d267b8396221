//! Status changes (变动): recording them after the checks of docs/rules.md, listing and voiding.

use super::roster::load_person;
use super::{audit, find_source_id, insert_source, parse_date, Result, Source, Store, StoreError};
use crate::input::ChangeEntry;
use crate::rules::{
    check_change, Change, ChangeKind, ProposedChange, Rejection, Reporter, RulesConfig, Verdict,
};
use sqlx::Row;

/// A row that was not applied: where, which column, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub row: Option<u32>,
    pub column: &'static str,
    pub message: String,
}

/// What recording a batch of changes did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangesOutcome {
    /// The same file (by content) was taken in before (when, by whom). Its rows were checked
    /// again all the same: the ledger remembers rows, not files.
    pub already_imported: Option<String>,
    /// Rows applied, with the new change ids (empty when the batch was refused).
    pub applied: Vec<(Option<u32>, i64)>,
    /// Rows skipped as repeats of recorded changes.
    pub duplicates: Vec<Option<u32>>,
    /// The recorded change each duplicate repeats (parallel to `duplicates`).
    pub duplicate_of: Vec<i64>,
    /// Rows of this same file recorded before and voided by the bureau since, with the void
    /// change's id: not recorded again.
    pub voided_before: Vec<(Option<u32>, i64)>,
    /// Rows refused, with the reason.
    pub rejected: Vec<RowProblem>,
    /// True when rows were refused and nothing was applied (no `--accept-valid`).
    pub refused_whole: bool,
}

/// A recorded change with where it came from, for `changes list` and `explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    pub change: Change,
    pub new_unit: Option<String>,
    pub decision_no: Option<String>,
    pub note: Option<String>,
    pub source: String,
    pub recorded_at: String,
    pub operator: String,
    pub voided: Option<String>,
}

impl Store {
    /// Records changes: rows in order of effective date, then row order, each checked against
    /// the changes recorded before it. With `accept_valid` the good rows are applied and the
    /// bad ones listed; without it, any bad row refuses the whole batch. One transaction.
    pub async fn record_changes(
        &self,
        source: &Source,
        reporter: Reporter,
        entries: &[ChangeEntry],
        accept_valid: bool,
        cfg: &RulesConfig,
    ) -> Result<ChangesOutcome> {
        self.apply_changes(source, reporter, entries, accept_valid, cfg, false)
            .await
    }

    /// Checks changes exactly as [`Store::record_changes`] would, and records nothing (the
    /// transaction is always rolled back): every row's problems, for a file refused whole.
    pub async fn check_changes(
        &self,
        source: &Source,
        reporter: Reporter,
        entries: &[ChangeEntry],
        cfg: &RulesConfig,
    ) -> Result<ChangesOutcome> {
        self.apply_changes(source, reporter, entries, true, cfg, true)
            .await
    }

    async fn apply_changes(
        &self,
        source: &Source,
        reporter: Reporter,
        entries: &[ChangeEntry],
        accept_valid: bool,
        cfg: &RulesConfig,
        dry_run: bool,
    ) -> Result<ChangesOutcome> {
        let mut tx = self.begin_write().await?;
        let mut outcome = ChangesOutcome::default();
        // The ledger remembers rows, not files: a file taken in before is checked row by row
        // again. Its rows recorded then are duplicates now; a row refused then (the person was
        // not on the roster yet, say) and valid now is recorded, under the same source.
        let source_id = match find_source_id(&mut tx, source).await? {
            Some((id, at, by)) => {
                outcome.already_imported = Some(format!("{at} by {by}"));
                id
            }
            None => insert_source(&mut tx, source, &format!("{} rows", entries.len())).await?,
        };
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by_key(|&i| (entries[i].effective, i));
        let mut people: std::collections::HashMap<String, (super::roster::Person, Vec<Change>)> =
            Default::default();
        for i in order {
            let e = &entries[i];
            let key = e.id_number.as_str().to_string();
            if !people.contains_key(&key) {
                match load_person(&mut tx, &key).await? {
                    Some(p) => {
                        let changes = load_changes(&mut tx, p.technician_id).await?;
                        people.insert(key.clone(), (p, changes));
                    }
                    None => {
                        outcome.rejected.push(RowProblem {
                            row: e.row,
                            column: "身份证号码",
                            message: format!(
                                "身份证号码{}不在名册中：请核对号码，或先导入名册",
                                e.id_number.masked()
                            ),
                        });
                        continue;
                    }
                }
            }
            let (person, recorded) = people.get_mut(&key).expect("loaded");
            if person.name != e.name.trim() {
                outcome.rejected.push(RowProblem {
                    row: e.row,
                    column: "姓名",
                    message: format!(
                        "姓名“{}”与名册中该身份证号码的姓名“{}”不符",
                        e.name, person.name
                    ),
                });
                continue;
            }
            if e.kind == ChangeKind::UnitChange
                && e.new_unit.as_deref().is_none_or(|u| u.trim().is_empty())
            {
                outcome.rejected.push(RowProblem {
                    row: e.row,
                    column: "新单位",
                    message: "单位变更须填写新单位名称".into(),
                });
                continue;
            }
            // A unit re-sending a change the bureau voided as recorded in error is refused, so
            // a void cannot be undone by the next report; the bureau itself may record it again.
            if reporter == Reporter::Unit {
                let voided = sqlx::query("SELECT id, COALESCE(void_reason, '') FROM changes WHERE technician_id = $1 AND kind = $2 AND effective = $3 AND COALESCE(end_date, '') = $4 AND voided_at IS NOT NULL ORDER BY id DESC LIMIT 1")
                    .bind(person.technician_id)
                    .bind(e.kind.code())
                    .bind(e.effective.to_string())
                    .bind(e.end.map(|d| d.to_string()).unwrap_or_default())
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(v) = voided {
                    outcome.rejected.push(RowProblem {
                        row: e.row,
                        column: "变动类型",
                        message: format!(
                            "与区人社局已作废的变动#{}相同（作废原因：{}）；如确有此变动，请与区人社局联系",
                            v.try_get::<i64, _>(0)?,
                            v.try_get::<String, _>(1)?
                        ),
                    });
                    continue;
                }
            }
            // A row of this very file recorded before and voided since stays void: taking the
            // same file in again never undoes the bureau's void.
            if let Some(row) = e.row {
                let voided = sqlx::query("SELECT id FROM changes WHERE source_id = $1 AND source_row = $2 AND voided_at IS NOT NULL ORDER BY id DESC LIMIT 1")
                    .bind(source_id)
                    .bind(i64::from(row))
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(v) = voided {
                    outcome.voided_before.push((e.row, v.try_get::<i64, _>(0)?));
                    continue;
                }
            }
            let proposed = ProposedChange {
                kind: e.kind,
                effective: e.effective,
                end: e.end,
                title_no: e.title_no.clone(),
            };
            match check_change(&person.appointments, recorded, &proposed, reporter, cfg) {
                Verdict::Duplicate { existing } => {
                    outcome.duplicates.push(e.row);
                    outcome.duplicate_of.push(existing);
                }
                Verdict::Reject(r) => outcome.rejected.push(RowProblem {
                    row: e.row,
                    column: rejection_column(&r),
                    message: r.to_string(),
                }),
                Verdict::Apply {
                    appointment_ids,
                    amends,
                } => {
                    let ids_text = appointment_ids
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(",");
                    let r = sqlx::query("INSERT INTO changes (technician_id, appointment_id, kind, effective, end_date, new_unit, decision_no, title_no, note, amends, source_id, source_row, recorded_at, operator, appointment_ids, reported_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id")
                        .bind(person.technician_id)
                        .bind(appointment_ids.first().copied())
                        .bind(e.kind.code())
                        .bind(e.effective.to_string())
                        .bind(e.end.map(|d| d.to_string()))
                        .bind(e.new_unit.clone())
                        .bind(e.decision_no.clone())
                        .bind(e.title_no.clone())
                        .bind(e.note.clone())
                        .bind(amends)
                        .bind(source_id)
                        .bind(e.row.map(i64::from))
                        .bind(super::now_text())
                        .bind(&source.operator)
                        .bind((!ids_text.is_empty()).then_some(ids_text))
                        .bind(if reporter == Reporter::Unit { "unit" } else { "bureau" })
                        .fetch_one(&mut *tx)
                        .await?;
                    let id: i64 = r.try_get(0)?;
                    recorded.push(Change {
                        id,
                        kind: e.kind,
                        effective: e.effective,
                        end: e.end,
                        appointment_ids,
                        by_unit: reporter == Reporter::Unit,
                    });
                    outcome.applied.push((e.row, id));
                }
            }
        }
        outcome.rejected.sort_by_key(|p| p.row);
        if dry_run {
            tx.rollback().await?;
            return Ok(outcome);
        }
        if !outcome.rejected.is_empty() && !accept_valid {
            tx.rollback().await?;
            outcome.applied.clear();
            outcome.duplicates.clear();
            outcome.duplicate_of.clear();
            outcome.voided_before.clear();
            outcome.refused_whole = true;
            return Ok(outcome);
        }
        audit(
            &mut tx,
            &source.operator,
            "import-changes",
            &format!(
                "{}: {} applied, {} duplicates, {} refused",
                source.file_name.as_deref().unwrap_or("-"),
                outcome.applied.len(),
                outcome.duplicates.len(),
                outcome.rejected.len()
            ),
            !outcome.applied.is_empty(),
        )
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// A person's changes, voided ones included, in recording order.
    pub async fn list_changes(&self, id_number: &str) -> Result<Vec<ChangeRecord>> {
        let mut conn = self.pool.acquire().await?;
        let Some(p) = load_person(&mut conn, id_number).await? else {
            return Err(StoreError::Usage(format!(
                "no technician with ID number {} is recorded",
                crate::rules::id_number::mask(id_number)
            )));
        };
        list_change_records(&mut conn, p.technician_id).await
    }

    /// Voids a change recorded in error; it stays in the ledger, marked void with the reason.
    pub async fn void_change(&self, change_id: i64, reason: &str, operator: &str) -> Result<()> {
        if reason.trim().is_empty() {
            return Err(StoreError::Usage(
                "a void needs a reason (--reason TEXT)".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT voided_at FROM changes WHERE id = $1")
            .bind(change_id)
            .fetch_optional(&mut *tx)
            .await?;
        match row {
            None => {
                return Err(StoreError::Usage(format!(
                    "there is no change with id {change_id}: see `chieftech changes list ID`"
                )))
            }
            Some(r) if r.try_get::<Option<String>, _>(0)?.is_some() => {
                return Err(StoreError::Refused(format!(
                    "change {change_id} is already void"
                )))
            }
            Some(_) => {}
        }
        sqlx::query(
            "UPDATE changes SET voided_at = $1, voided_by = $2, void_reason = $3 WHERE id = $4",
        )
        .bind(super::now_text())
        .bind(operator)
        .bind(reason)
        .bind(change_id)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            operator,
            "void-change",
            &format!("change {change_id} voided: {reason}"),
            true,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The column a rejection is about, for the clerk's error list.
fn rejection_column(r: &Rejection) -> &'static str {
    match r {
        Rejection::UnknownTitle(_) => "称号批准文号",
        Rejection::RestoreFromUnit => "变动类型",
        Rejection::BureauRecord { .. } => "结束日期",
        Rejection::EndBeforeStart { .. } | Rejection::EndNotAllowed => "结束日期",
        Rejection::BeforeApproval { .. }
        | Rejection::AfterTermination { .. }
        | Rejection::NothingToRestore(_)
        | Rejection::OutsideTerms { .. } => "生效日期",
    }
}

/// A technician's recorded, non-voided changes in recording order.
pub(crate) async fn load_changes(
    conn: &mut sqlx::AnyConnection,
    technician_id: i64,
) -> Result<Vec<Change>> {
    let rows = sqlx::query("SELECT id, kind, effective, end_date, COALESCE(appointment_ids, CAST(appointment_id AS TEXT), '') AS appointment_ids, reported_by FROM changes WHERE technician_id = $1 AND voided_at IS NULL ORDER BY id")
        .bind(technician_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(change_from_row).collect()
}

/// Reads `id, kind, effective, end_date, appointment_ids` (columns 0–4) and the column
/// `reported_by`.
pub(crate) fn change_from_row(r: &sqlx::any::AnyRow) -> Result<Change> {
    let kind: String = r.try_get(1)?;
    let ids: String = r.try_get(4)?;
    let appointment_ids = ids
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<i64>()
                .map_err(|_| StoreError::Corrupt(format!("appointment ids `{ids}`")))
        })
        .collect::<Result<Vec<i64>>>()?;
    let reported_by: String = r.try_get("reported_by")?;
    Ok(Change {
        id: r.try_get(0)?,
        kind: ChangeKind::from_code(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("change kind `{kind}`")))?,
        effective: parse_date(&r.try_get::<String, _>(2)?)?,
        end: r
            .try_get::<Option<String>, _>(3)?
            .map(|s| parse_date(&s))
            .transpose()?,
        appointment_ids,
        by_unit: reported_by == "unit",
    })
}

pub(crate) async fn list_change_records(
    conn: &mut sqlx::AnyConnection,
    technician_id: i64,
) -> Result<Vec<ChangeRecord>> {
    let rows = sqlx::query("SELECT c.id, c.kind, c.effective, c.end_date, COALESCE(c.appointment_ids, CAST(c.appointment_id AS TEXT), '') AS appointment_ids, c.new_unit, c.decision_no, c.note, s.kind, s.file_name, c.source_row, c.recorded_at, c.operator, c.voided_at, c.voided_by, c.void_reason, c.reported_by FROM changes c JOIN sources s ON s.id = c.source_id WHERE c.technician_id = $1 ORDER BY c.id")
        .bind(technician_id)
        .fetch_all(conn)
        .await?;
    let mut out = Vec::new();
    for r in &rows {
        let source_kind: String = r.try_get(8)?;
        let file: Option<String> = r.try_get(9)?;
        let row: Option<i64> = r.try_get(10)?;
        let operator: String = r.try_get(12)?;
        let source = match (file, row) {
            (Some(f), Some(row)) => format!("{f} 第{row}行"),
            (Some(f), None) => f,
            (None, _) => format!("{source_kind} ({operator})"),
        };
        let voided = match r.try_get::<Option<String>, _>(13)? {
            Some(at) => Some(format!(
                "{at} by {}: {}",
                r.try_get::<Option<String>, _>(14)?.unwrap_or_default(),
                r.try_get::<Option<String>, _>(15)?.unwrap_or_default()
            )),
            None => None,
        };
        out.push(ChangeRecord {
            change: change_from_row(r)?,
            new_unit: r.try_get(5)?,
            decision_no: r.try_get(6)?,
            note: r.try_get(7)?,
            source,
            recorded_at: r.try_get(11)?,
            operator,
            voided,
        });
    }
    Ok(out)
}
