//! Status changes (变动): recording them after the checks of docs/rules.md, listing and voiding.

use super::native::{each_row_matching, Arg, Bulk, Keys, Lookup};
use super::refs::{RowChecks, Written};
use super::roster::{load_person, Person};
use super::{audit, find_source_id, insert_source, parse_date, Result, Source, Store, StoreError};
use crate::input::ChangeEntry;
use crate::rules::{
    check_change, Appointment, Change, ChangeKind, ProposedChange, Rejection, Reporter,
    RulesConfig, Verdict,
};
use sqlx::Row;
use std::collections::HashMap;

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
        let mut tx = self.begin_import().await?;
        let checks = RowChecks::defer(&mut tx, self.backend()).await?;
        let mut outcome = ChangesOutcome::default();
        let source_id = self
            .open_changes_source(&mut tx, source, entries.len(), &mut outcome)
            .await?;
        // The index the rows are checked against, built once: the file's people with their
        // appointments and recorded changes, and the voided changes the checks look for.
        let index = ChangeIndex::load(
            &mut tx,
            entries,
            reporter,
            source_id,
            outcome.already_imported.is_some(),
        )
        .await?;
        let mut batch = ChangeBatch::start(&mut tx, source_id, source, reporter).await?;
        let recorded_before = batch.next_id - 1;
        if let Err(e) = check_rows(entries, index, cfg, &mut batch, &mut outcome).await {
            // Best effort: a connection that failed to send may not take the cancel either.
            let _ = batch.bulk.abort().await;
            return Err(e);
        }
        batch.finish().await?;
        // The import only inserts changes (ids handed out above the largest recorded).
        checks
            .check(&mut tx, "changes", Written::IdAbove(recorded_before))
            .await?;
        self.finish_changes(tx, source, outcome, accept_valid, dry_run)
            .await
    }

    /// Finds the file's source (a file taken in before keeps its source) or records it, and
    /// refreshes PostgreSQL's statistics for the lookups to come.
    async fn open_changes_source(
        &self,
        tx: &mut sqlx::AnyConnection,
        source: &Source,
        rows: usize,
        outcome: &mut ChangesOutcome,
    ) -> Result<i64> {
        // The ledger remembers rows, not files: a file taken in before is checked row by row
        // again. Its rows recorded then are duplicates now; a row refused then (the person was
        // not on the roster yet, say) and valid now is recorded, under the same source.
        let source_id = match find_source_id(&mut *tx, source).await? {
            Some((id, at, by)) => {
                outcome.already_imported = Some(format!("{at} by {by}"));
                id
            }
            None => insert_source(&mut *tx, source, &format!("{rows} rows")).await?,
        };
        if self.backend() == super::Backend::Postgres {
            // The index's look-ups by technician are planned from these tables' statistics.
            super::analyze_stale(&mut *tx, &["technicians", "appointments", "changes"]).await?;
        }
        Ok(source_id)
    }

    /// Ends the batch: rolled back for a dry run or a refused batch, else audited and
    /// committed.
    async fn finish_changes(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Any>,
        source: &Source,
        mut outcome: ChangesOutcome,
        accept_valid: bool,
        dry_run: bool,
    ) -> Result<ChangesOutcome> {
        if !outcome.applied.is_empty() {
            super::continue_sequence(&mut tx, self.backend(), "changes").await?;
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

/// Checks the rows in order of effective date, then row order, each against the changes
/// recorded before it (earlier rows included); accepted rows go into `batch`.
async fn check_rows<'e>(
    entries: &'e [ChangeEntry],
    index: ChangeIndex,
    cfg: &RulesConfig,
    batch: &mut ChangeBatch<'e, '_>,
    outcome: &mut ChangesOutcome,
) -> Result<()> {
    let reporter = batch.reporter;
    let mut people = index.people;
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| (entries[i].effective, i));
    for i in order {
        let e = &entries[i];
        let Some((person, recorded)) = people.get_mut(e.id_number.as_str()) else {
            outcome.rejected.push(not_on_roster(e));
            continue;
        };
        if !screen_row(
            e,
            person,
            &index.voided_same,
            &index.voided_rows,
            reporter,
            outcome,
        ) {
            continue;
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
                let id = batch
                    .push(person.technician_id, e, amends, &appointment_ids)
                    .await?;
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
    Ok(())
}

/// A row whose ID number the roster does not hold.
fn not_on_roster(e: &ChangeEntry) -> RowProblem {
    RowProblem {
        row: e.row,
        column: "身份证号码",
        message: format!(
            "身份证号码{}不在名册中：请核对号码，或先导入名册",
            e.id_number.masked()
        ),
    }
}

/// The checks before the rules: the name, a unit change's new unit, and voids a row must not
/// undo. False (with the row refused or set aside in `outcome`) when the row stops here.
fn screen_row(
    e: &ChangeEntry,
    person: &Person,
    voided_same: &HashMap<VoidKey, (i64, String)>,
    voided_rows: &HashMap<i64, i64>,
    reporter: Reporter,
    outcome: &mut ChangesOutcome,
) -> bool {
    if person.name != e.name.trim() {
        outcome.rejected.push(RowProblem {
            row: e.row,
            column: "姓名",
            message: format!(
                "姓名“{}”与名册中该身份证号码的姓名“{}”不符",
                e.name, person.name
            ),
        });
        return false;
    }
    if e.kind == ChangeKind::UnitChange && e.new_unit.as_deref().is_none_or(|u| u.trim().is_empty())
    {
        outcome.rejected.push(RowProblem {
            row: e.row,
            column: "新单位",
            message: "单位变更须填写新单位名称".into(),
        });
        return false;
    }
    // A unit re-sending a change the bureau voided as recorded in error is refused, so
    // a void cannot be undone by the next report; the bureau itself may record it again.
    if reporter == Reporter::Unit {
        let key = (
            person.technician_id,
            e.kind.code().to_string(),
            e.effective.to_string(),
            e.end.map(|d| d.to_string()).unwrap_or_default(),
        );
        if let Some((id, reason)) = voided_same.get(&key) {
            outcome.rejected.push(RowProblem {
                row: e.row,
                column: "变动类型",
                message: format!(
                    "与区人社局已作废的变动#{id}相同（作废原因：{reason}）；如确有此变动，请与区人社局联系"
                ),
            });
            return false;
        }
    }
    // A row of this very file recorded before and voided since stays void: taking the
    // same file in again never undoes the bureau's void.
    if let Some(v) = e.row.and_then(|row| voided_rows.get(&i64::from(row))) {
        outcome.voided_before.push((e.row, *v));
        return false;
    }
    true
}

/// Accepted changes on their way into the ledger: ids handed out as rows are accepted, sent
/// a batch at a time into one bulk insert ([`Bulk`]) that the transaction's connection is
/// lent to until [`ChangeBatch::finish`].
struct ChangeBatch<'e, 'c> {
    source_id: i64,
    source: &'e Source,
    reporter: Reporter,
    now: String,
    /// The id the next accepted change takes.
    next_id: i64,
    rows: Vec<NewChange<'e>>,
    bulk: Bulk<'c>,
}

impl<'e, 'c> ChangeBatch<'e, 'c> {
    /// Starts handing out ids after the largest recorded one.
    async fn start(
        tx: &'c mut sqlx::AnyConnection,
        source_id: i64,
        source: &'e Source,
        reporter: Reporter,
    ) -> Result<ChangeBatch<'e, 'c>> {
        // New changes take ids from here on (the write lock keeps other writers out), so a
        // row's id is known before its batch is inserted and later rows can refer to it.
        let next_id: i64 = sqlx::query("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM changes")
            .fetch_one(&mut *tx)
            .await?
            .try_get::<i64, _>(0)?
            + 1;
        Ok(ChangeBatch {
            source_id,
            source,
            reporter,
            now: super::now_text(),
            next_id,
            rows: Vec::with_capacity(INSERT_CHUNK),
            bulk: Bulk::start(tx, CHANGES, CHANGE_COLUMNS).await?,
        })
    }

    /// Takes in an accepted row and returns its change id; a full batch is inserted.
    async fn push(
        &mut self,
        technician_id: i64,
        entry: &'e ChangeEntry,
        amends: Option<i64>,
        appointment_ids: &[i64],
    ) -> Result<i64> {
        let id = self.next_id;
        self.next_id += 1;
        let ids_text = appointment_ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        self.rows.push(NewChange {
            id,
            technician_id,
            appointment_id: appointment_ids.first().copied(),
            entry,
            amends,
            appointment_ids: (!ids_text.is_empty()).then_some(ids_text),
        });
        if self.rows.len() == INSERT_CHUNK {
            self.flush().await?;
        }
        Ok(id)
    }

    /// Sends the rows waiting, if any, as the values of [`CHANGES`].
    async fn flush(&mut self) -> Result<()> {
        let by = if self.reporter == Reporter::Unit {
            "unit"
        } else {
            "bureau"
        };
        let dates: Vec<(String, Option<String>)> = self
            .rows
            .iter()
            .map(|c| {
                (
                    c.entry.effective.to_string(),
                    c.entry.end.map(|d| d.to_string()),
                )
            })
            .collect();
        let mut args = Vec::with_capacity(self.rows.len() * CHANGE_COLUMNS);
        for (c, (effective, end)) in self.rows.iter().zip(&dates) {
            let e = c.entry;
            args.extend([
                Arg::Int(c.id),
                Arg::Int(c.technician_id),
                Arg::OptInt(c.appointment_id),
                Arg::Text(e.kind.code()),
                Arg::Text(effective),
                Arg::OptText(end.as_deref()),
                Arg::OptText(e.new_unit.as_deref()),
                Arg::OptText(e.decision_no.as_deref()),
                Arg::OptText(e.title_no.as_deref()),
                Arg::OptText(e.note.as_deref()),
                Arg::OptInt(c.amends),
                Arg::Int(self.source_id),
                Arg::OptInt(e.row.map(i64::from)),
                Arg::Text(&self.now),
                Arg::Text(self.source.operator.as_str()),
                Arg::OptText(c.appointment_ids.as_deref()),
                Arg::Text(by),
            ]);
        }
        self.bulk.push(&args).await?;
        self.rows.clear();
        Ok(())
    }

    /// Sends the last rows and ends the insert.
    async fn finish(mut self) -> Result<()> {
        self.flush().await?;
        self.bulk.finish().await?;
        Ok(())
    }
}

/// Reads `id, kind, effective, end_date, appointment_ids` (columns 0–4) and the column
/// `reported_by`.
pub(crate) fn change_from_row(r: &(impl super::native::Cols + ?Sized)) -> Result<Change> {
    let kind = r.text(1)?;
    let ids = r.text(4)?;
    let appointment_ids = ids
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<i64>()
                .map_err(|_| StoreError::Corrupt(format!("appointment ids `{ids}`")))
        })
        .collect::<Result<Vec<i64>>>()?;
    let reported_by = r.text(r.index("reported_by")?)?;
    Ok(Change {
        id: r.int(0)?,
        kind: ChangeKind::from_code(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("change kind `{kind}`")))?,
        effective: parse_date(&r.text(2)?)?,
        end: r.opt_text(3)?.map(|s| parse_date(&s)).transpose()?,
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

/// Accepted changes held before they are inserted ([`insert_rows`]) as a batch.
const INSERT_CHUNK: usize = 500;

/// A change accepted by the checks, waiting for its batch to be inserted.
struct NewChange<'e> {
    id: i64,
    technician_id: i64,
    appointment_id: Option<i64>,
    entry: &'e ChangeEntry,
    amends: Option<i64>,
    appointment_ids: Option<String>,
}

/// `(technician, kind, effective, end or "")` of a voided change.
type VoidKey = (i64, String, String, String);

/// What an import's rows are checked against, read once at its start.
struct ChangeIndex {
    /// By ID number: the person (appointments by approval date) and their recorded,
    /// non-voided changes in recording order. Only the people the rows name.
    people: HashMap<String, (Person, Vec<Change>)>,
    /// The latest voided change of each (technician, kind, effective, end), with its void
    /// reason: only for a unit's report.
    voided_same: HashMap<VoidKey, (i64, String)>,
    /// Rows of this source recorded before and voided since: source row → latest change id.
    voided_rows: HashMap<i64, i64>,
}

impl ChangeIndex {
    async fn load(
        tx: &mut sqlx::AnyConnection,
        entries: &[ChangeEntry],
        reporter: Reporter,
        source_id: i64,
        source_seen_before: bool,
    ) -> Result<ChangeIndex> {
        let (mut people, by_tech) = load_people(&mut *tx, entries).await?;
        let mut techs: Vec<i64> = by_tech.keys().copied().collect();
        techs.sort_unstable();
        let mut voided_same: HashMap<VoidKey, (i64, String)> = HashMap::new();
        let mut loaded = Loaded {
            people: &mut people,
            by_tech: &by_tech,
            voided_same: &mut voided_same,
        };
        load_techs(&mut *tx, &techs, reporter, &mut loaded).await?;
        let voided_rows = if source_seen_before {
            load_voided_rows(&mut *tx, source_id).await?
        } else {
            HashMap::new()
        };
        Ok(ChangeIndex {
            people,
            voided_same,
            voided_rows,
        })
    }
}

/// The people the rows name (without appointments or changes yet), by ID number, and
/// technician id → ID number.
async fn load_people(
    tx: &mut sqlx::AnyConnection,
    entries: &[ChangeEntry],
) -> Result<(HashMap<String, (Person, Vec<Change>)>, HashMap<i64, String>)> {
    let mut numbers: Vec<&str> = entries.iter().map(|e| e.id_number.as_str()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let mut people: HashMap<String, (Person, Vec<Change>)> = HashMap::with_capacity(numbers.len());
    let mut by_tech: HashMap<i64, String> = HashMap::with_capacity(numbers.len());
    let lookup = Lookup {
        select: "SELECT id, id_number, name FROM technicians",
        column: "id_number",
        filter: None,
        order: "",
    };
    each_row_matching(&mut *tx, &lookup, Keys::Texts(&numbers), |r| {
        let id_number = r.text(1)?;
        let technician_id = r.int(0)?;
        by_tech.insert(technician_id, id_number.clone());
        let person = Person {
            technician_id,
            id_number: id_number.clone(),
            name: r.text(2)?,
            appointments: Vec::new(),
        };
        people.insert(id_number, (person, Vec::new()));
        Ok::<_, StoreError>(())
    })
    .await?;
    Ok((people, by_tech))
}

/// The parts of a [`ChangeIndex`] filled from the people's technician ids.
struct Loaded<'a> {
    people: &'a mut HashMap<String, (Person, Vec<Change>)>,
    by_tech: &'a HashMap<i64, String>,
    voided_same: &'a mut HashMap<VoidKey, (i64, String)>,
}

/// The technicians' live appointments and changes, and (for a unit's report) their voided
/// changes. `techs` sorted: each person's rows come in their order.
async fn load_techs(
    tx: &mut sqlx::AnyConnection,
    techs: &[i64],
    reporter: Reporter,
    loaded: &mut Loaded<'_>,
) -> Result<()> {
    let appointments = Lookup {
        select: "SELECT technician_id, id, approval_date, approval_no FROM appointments",
        column: "technician_id",
        filter: Some("voided_at IS NULL"),
        order: "ORDER BY technician_id, approval_date",
    };
    each_row_matching(&mut *tx, &appointments, Keys::Ints(techs), |r| {
        let person = person_of(loaded.people, loaded.by_tech, r.int(0)?)?;
        person.0.appointments.push(Appointment {
            id: r.int(1)?,
            approval_date: parse_date(&r.text(2)?)?,
            approval_no: r.text(3)?,
        });
        Ok::<_, StoreError>(())
    })
    .await?;
    let changes = Lookup {
        select: "SELECT id, kind, effective, end_date, COALESCE(appointment_ids, CAST(appointment_id AS TEXT), '') AS appointment_ids, technician_id, reported_by FROM changes",
        column: "technician_id",
        filter: Some("voided_at IS NULL"),
        order: "ORDER BY technician_id, id",
    };
    each_row_matching(&mut *tx, &changes, Keys::Ints(techs), |r| {
        let person = person_of(loaded.people, loaded.by_tech, r.int(5)?)?;
        person.1.push(change_from_row(r)?);
        Ok::<_, StoreError>(())
    })
    .await?;
    if reporter == Reporter::Unit {
        let voided = Lookup {
            select: "SELECT technician_id, kind, effective, COALESCE(end_date, ''), id, COALESCE(void_reason, '') FROM changes",
            column: "technician_id",
            filter: Some("voided_at IS NOT NULL"),
            order: "ORDER BY technician_id, id",
        };
        each_row_matching(&mut *tx, &voided, Keys::Ints(techs), |r| {
            // Ordered by id within a technician: the latest void of a key wins.
            loaded.voided_same.insert(
                (r.int(0)?, r.text(1)?, r.text(2)?, r.text(3)?),
                (r.int(4)?, r.text(5)?),
            );
            Ok::<_, StoreError>(())
        })
        .await?;
    }
    Ok(())
}

/// Rows of this source recorded before and voided since: source row → latest change id.
async fn load_voided_rows(
    tx: &mut sqlx::AnyConnection,
    source_id: i64,
) -> Result<HashMap<i64, i64>> {
    let mut voided_rows = HashMap::new();
    for r in sqlx::query("SELECT source_row, id FROM changes WHERE source_id = $1 AND source_row IS NOT NULL AND voided_at IS NOT NULL ORDER BY id")
        .bind(source_id)
        .fetch_all(&mut *tx)
        .await?
    {
        voided_rows.insert(r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?);
    }
    Ok(voided_rows)
}

fn person_of<'p>(
    people: &'p mut HashMap<String, (Person, Vec<Change>)>,
    by_tech: &HashMap<i64, String>,
    technician_id: i64,
) -> Result<&'p mut (Person, Vec<Change>)> {
    by_tech
        .get(&technician_id)
        .and_then(|n| people.get_mut(n))
        .ok_or_else(|| StoreError::Corrupt(format!("technician {technician_id} not loaded")))
}

/// The columns of `changes` an import writes, in the order [`ChangeBatch::flush`] sends them.
const CHANGES: &str = "changes (id, technician_id, appointment_id, kind, effective, end_date, new_unit, decision_no, title_no, note, amends, source_id, source_row, recorded_at, operator, appointment_ids, reported_by)";
const CHANGE_COLUMNS: usize = 17;
