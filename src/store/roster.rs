//! Technicians, units and appointments: the roster (名册).

use super::native::{each_row, insert_copy_text, insert_rows, insert_rows_meanwhile, Arg};
use super::refs::{RowChecks, Written};
use super::{audit, find_source, insert_source, parse_date, Result, Source, Store, StoreError};
use crate::input::{RosterEntry, UnitEntry};
use crate::rules::Appointment;
use chrono::NaiveDate;
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// What a roster import did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RosterOutcome {
    /// The same file (by content hash) was imported before: nothing was done.
    pub already_imported: Option<String>,
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub units_added: usize,
}

/// A roster problem found against the ledger (row, column, message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterProblem {
    pub row: Option<u32>,
    pub column: &'static str,
    pub message: String,
}

/// A recorded appointment: id, approval number, fingerprint of its other columns.
type Existing = (i64, String, String);

/// A chunk's known people: ID number → (technician id, recorded name).
type Techs = HashMap<String, (i64, String), foldhash::fast::RandomState>;

/// Live appointments by technician id: approval date and what is recorded.
type Appts = HashMap<i64, Vec<(NaiveDate, Existing)>>;

/// Voided appointments by technician id: approval date and when voided.
type Voided = HashMap<i64, Vec<(NaiveDate, String)>>;

/// Rows per round trip to the database while importing (12 bound values per appointment row
/// stays well under SQLite's and PostgreSQL's limits on bound values).
const CHUNK: usize = 5000;

/// A roster import in progress: one transaction, fed rows in batches (a million-row roster is
/// streamed, never held in memory), then finished (committed unless a problem was found) or
/// abandoned (rolled back).
///
/// The ledger inside the open transaction is the import's memory: each batch looks up its
/// people (recorded before or added by earlier batches of the same file), so the checks of
/// [`Store::import_roster`] hold across batches.
pub struct RosterSession<'s> {
    tx: sqlx::Transaction<'s, sqlx::Any>,
    /// PostgreSQL's row-by-row foreign key checks, off where the role may ([`RowChecks`]).
    checks: RowChecks,
    /// The tables the transaction writes into, their foreign keys checked at
    /// [`RosterSession::finish`]: appointments, and what the session's owner adds
    /// (selection's steps, say).
    written: Vec<&'static str>,
    backend: super::Backend,
    operator: String,
    file_name: String,
    source_id: i64,
    /// Technicians with a larger id were added by this import.
    max_tech_before: i64,
    /// When the ledger held no technician before this import (a first roster): the people
    /// the import has added ([`Added`]). Nobody else can be in the ledger, so a batch looks
    /// up only the people it names that are here (a person on a later row again), not all of
    /// them (at a million rows on PostgreSQL those look-ups were a fifth of the server's
    /// work and found nothing), and by technician id, not by ID number. None when the ledger
    /// had technicians before.
    added: Option<Added>,
    /// PostgreSQL's unique index on ID numbers is set aside for this first roster and made
    /// again at [`RosterSession::finish`] ([`set_aside_id_numbers`]).
    id_numbers_set_aside: bool,
    /// The id the next new technician takes (given explicitly; the write lock keeps other
    /// writers out).
    next_tech_id: i64,
    unit_ids: HashMap<String, i64>,
    outcome: RosterOutcome,
    problems: Vec<RosterProblem>,
    rows: usize,
}

/// How a roster import starts.
pub enum RosterStart<'s> {
    /// The same file (by content hash) was imported before: nothing was done.
    AlreadyImported(RosterOutcome),
    /// The import is open: feed it rows.
    Open(Box<RosterSession<'s>>),
}

impl Store {
    /// Imports roster rows and units in one transaction: new appointments are added, changed
    /// ones updated (recorded in the audit trail), unchanged ones skipped. Refused whole when
    /// a row's name differs from the recorded name for its ID number or when a person's terms
    /// would overlap.
    pub async fn import_roster(
        &self,
        source: &Source,
        units: &[UnitEntry],
        entries: &[RosterEntry],
    ) -> Result<std::result::Result<RosterOutcome, Vec<RosterProblem>>> {
        let mut session = match self.begin_roster_import(source).await? {
            RosterStart::AlreadyImported(o) => return Ok(Ok(o)),
            RosterStart::Open(s) => s,
        };
        session.add_units(units).await?;
        session.add(entries).await?;
        session.finish().await
    }

    /// Opens a roster import for a source (see [`RosterSession`]); a file whose content hash
    /// is recorded is not taken in again.
    pub async fn begin_roster_import(&self, source: &Source) -> Result<RosterStart<'_>> {
        let mut tx = self.begin_import().await?;
        let checks = RowChecks::defer(&mut tx, self.backend()).await?;
        if let Some((at, by)) = find_source(&mut tx, source).await? {
            tx.rollback().await?;
            return Ok(RosterStart::AlreadyImported(RosterOutcome {
                already_imported: Some(format!("{at} by {by}")),
                ..RosterOutcome::default()
            }));
        }
        let source_id = insert_source(&mut tx, source, "").await?;
        let mut unit_ids: HashMap<String, i64> = HashMap::new();
        for r in sqlx::query("SELECT id, name FROM units")
            .fetch_all(&mut *tx)
            .await?
        {
            unit_ids.insert(r.try_get(1)?, r.try_get(0)?);
        }
        let max_tech_before: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM technicians")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let id_numbers_set_aside =
            max_tech_before == 0 && set_aside_id_numbers(&mut tx, self.backend()).await?;
        Ok(RosterStart::Open(Box::new(RosterSession {
            tx,
            checks,
            written: vec!["appointments"],
            backend: self.backend(),
            operator: source.operator.clone(),
            file_name: source.file_name.clone().unwrap_or_else(|| "-".into()),
            source_id,
            max_tech_before,
            added: (max_tech_before == 0).then(Added::default),
            id_numbers_set_aside,
            next_tech_id: max_tech_before + 1,
            unit_ids,
            outcome: RosterOutcome::default(),
            problems: Vec::new(),
            rows: 0,
        })))
    }
}

/// The people a first roster has added, by a 64-bit key of their ID number ([`number_key`]):
/// 16 bytes a person where the numbers themselves would take 60. A key maps to the technician
/// id it was first given to; a number whose key is taken already is kept whole (`exact`). A
/// number that only shares a key with someone costs a look-up by id that finds that other
/// person, not them (the ledger's row says whose it is).
#[derive(Default)]
struct Added {
    ids: HashMap<u64, i64, foldhash::fast::RandomState>,
    exact: HashMap<String, i64, foldhash::fast::RandomState>,
}

impl Added {
    fn insert(&mut self, id_number: &str, id: i64) {
        match self.ids.entry(number_key(id_number)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(id);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.exact.insert(id_number.to_string(), id);
            }
        }
    }

    /// The technician id the number may have been given (see [`Added`]).
    fn get(&self, id_number: &str) -> Option<i64> {
        self.exact
            .get(id_number)
            .or_else(|| self.ids.get(&number_key(id_number)))
            .copied()
    }
}

/// A 64-bit key of an ID number for [`Added`].
fn number_key(id_number: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0).hash_one(id_number)
}

/// The unique constraint on ID numbers, as PostgreSQL named it
/// (migrations/postgres/0001_ledger.sql): dropped for a first roster and added again before
/// its commit ([`set_aside_id_numbers`]).
const DROP_ID_NUMBER_KEY: &str =
    "ALTER TABLE technicians DROP CONSTRAINT technicians_id_number_key";
const ADD_ID_NUMBER_KEY: &str =
    "ALTER TABLE technicians ADD CONSTRAINT technicians_id_number_key UNIQUE (id_number)";

/// Sets aside PostgreSQL's unique index on ID numbers for a first roster (the ledger holds no
/// technician), to be made again before the commit ([`RosterSession::finish`]): keeping it
/// while a million new people went in at random places of it took 5.6 s of the server's time,
/// where the rows alone take 1.1 s and making the index once, sorted, 0.7 s (issue 15). The
/// import looks up no one by ID number meanwhile ([`Added`]), and the index made again still
/// refuses a number given twice. Only where the table can be had at once and altered (its
/// owner, nobody reading it: `NOWAIT`), else the index is kept and nothing else changes;
/// readers of the (empty) table wait for the import. SQLite keeps its index (false).
async fn set_aside_id_numbers(
    tx: &mut sqlx::AnyConnection,
    backend: super::Backend,
) -> Result<bool> {
    if backend != super::Backend::Postgres {
        return Ok(false);
    }
    sqlx::query("SAVEPOINT id_numbers")
        .execute(&mut *tx)
        .await?;
    let mut set_aside = Ok(());
    for sql in [
        "LOCK TABLE technicians IN ACCESS EXCLUSIVE MODE NOWAIT",
        DROP_ID_NUMBER_KEY,
    ] {
        if set_aside.is_ok() {
            set_aside = sqlx::query(sql).execute(&mut *tx).await.map(drop);
        }
    }
    if let Err(e) = &set_aside {
        tracing::debug!("roster import: the ID numbers' index is kept ({e})");
        sqlx::query("ROLLBACK TO SAVEPOINT id_numbers")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("RELEASE SAVEPOINT id_numbers")
        .execute(&mut *tx)
        .await?;
    Ok(set_aside.is_ok())
}

/// `$first, $first+1, …` for `n` values; plain `?` on SQLite, where numbered parameters cost
/// a scan of the parameter list each (quadratic in a statement's parameters).
pub(crate) fn placeholders(backend: super::Backend, first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| match backend {
            super::Backend::Sqlite => "?".to_string(),
            super::Backend::Postgres => format!("${i}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl RosterSession<'_> {
    /// Adds or updates units (sheet 单位): contact and e-mail are updated when given.
    pub async fn add_units(&mut self, units: &[UnitEntry]) -> Result<()> {
        for u in units {
            if let Some(id) = self.unit_ids.get(&u.name) {
                sqlx::query("UPDATE units SET contact = COALESCE($1, contact), email = COALESCE($2, email) WHERE id = $3")
                    .bind(u.contact.clone())
                    .bind(u.email.clone())
                    .bind(*id)
                    .execute(&mut *self.tx)
                    .await?;
            } else {
                let id =
                    insert_unit(&mut self.tx, &u.name, u.contact.clone(), u.email.clone()).await?;
                self.unit_ids.insert(u.name.clone(), id);
                self.outcome.units_added += 1;
            }
        }
        Ok(())
    }

    /// Problems found so far.
    pub fn problems(&self) -> &[RosterProblem] {
        &self.problems
    }

    /// Rows fed so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// What the import has done so far (committed only by [`RosterSession::finish`]).
    pub fn outcome(&self) -> &RosterOutcome {
        &self.outcome
    }

    /// Says the owner of the session writes into `table` through [`RosterSession::connection`]:
    /// its foreign keys are checked before the commit like the appointments' (PostgreSQL's
    /// row-by-row checks may be off in this transaction, `store::refs`).
    pub(crate) fn also_written(&mut self, table: &'static str) {
        if !self.written.contains(&table) {
            self.written.push(table);
        }
    }

    /// The import's open transaction, for bookkeeping that must commit or roll back with it
    /// (a database source's row keys and watermark).
    pub fn connection(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// Feeds roster rows, in file order.
    pub async fn add(&mut self, entries: &[RosterEntry]) -> Result<()> {
        self.rows += entries.len();
        // Chunks hold each ID number once, so every row of a chunk sees the ledger as left by
        // the chunks before it. A row whose ID number is in the chunk already (a person
        // selected again, on the next row) waits for the next chunk instead of ending this
        // one: a person's rows keep their order, and chunks stay full (a chunk is a few
        // statements, whatever its size).
        let mut pending: Vec<&RosterEntry> = entries.iter().collect();
        while !pending.is_empty() {
            let mut seen: HashSet<&str, foldhash::fast::RandomState> = HashSet::default();
            let mut chunk: Vec<&RosterEntry> = Vec::with_capacity(CHUNK.min(pending.len()));
            let mut later: Vec<&RosterEntry> = Vec::new();
            for e in pending {
                if chunk.len() < CHUNK && seen.insert(e.id_number.as_str()) {
                    chunk.push(e);
                } else {
                    // Once a person waits, their later rows wait too (their order is kept).
                    seen.insert(e.id_number.as_str());
                    later.push(e);
                }
            }
            self.add_chunk(&chunk).await?;
            pending = later;
        }
        Ok(())
    }

    /// Takes in one chunk of rows (each ID number once): checks, then units, people and
    /// appointments.
    async fn add_chunk(&mut self, entries: &[&RosterEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut techs = self.load_techs(entries).await?;
        let (appts, voided) = self.load_appointments(&techs).await?;
        let good = self.check_rows(entries, &techs, &appts, &voided);
        self.add_row_units(&good).await?;
        let new = self.new_technicians(&good, &mut techs);
        let args: Vec<Arg> = new
            .iter()
            .flat_map(|(id, e)| {
                [
                    Arg::Int(*id),
                    Arg::Text(e.id_number.as_str()),
                    Arg::Text(e.name.as_str()),
                ]
            })
            .collect();
        // While the server takes the new technicians in, the chunk's appointments are sorted
        // into updates and new ones, and the new ones' rows are made (at a million rows on
        // PostgreSQL the client and the server otherwise waited for each other in turn).
        let (unit_ids, source_id) = (&self.unit_ids, self.source_id);
        let copy = self.backend == super::Backend::Postgres;
        let plan = insert_rows_meanwhile(&mut self.tx, TECHNICIANS, 3, &args, || {
            plan_appointments(good, &techs, &appts, unit_ids, source_id, copy)
        })
        .await??;
        for (e, unit_id, existing) in plan.updates {
            self.update_appointment(e, unit_id, existing).await?;
        }
        match plan.text {
            Some(text) => insert_copy_text(&mut self.tx, APPOINTMENTS, text).await?,
            None => {
                let dates = dates_of(&plan.inserts);
                let args = appointment_args(&plan.inserts, &dates, source_id);
                insert_rows(&mut self.tx, APPOINTMENTS, APPOINTMENT_VALUES, &args).await?;
            }
        }
        self.outcome.added += plan.inserts.len();
        Ok(())
    }

    /// The chunk's people as the ledger (this transaction included) knows them.
    async fn load_techs(&mut self, entries: &[&RosterEntry]) -> Result<Techs> {
        let mut techs: Techs = HashMap::default();
        // A first roster asks only about the people it added itself, by id (`added`).
        let (args, by): (Vec<Arg>, _) = match &self.added {
            Some(added) => {
                let mut ids: Vec<i64> = entries
                    .iter()
                    .filter_map(|e| added.get(e.id_number.as_str()))
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                (ids.into_iter().map(Arg::Int).collect(), "id")
            }
            None => (
                entries
                    .iter()
                    .map(|e| Arg::Text(e.id_number.as_str()))
                    .collect(),
                "id_number",
            ),
        };
        if args.is_empty() {
            return Ok(techs);
        }
        let sql = format!(
            "SELECT id, id_number, name FROM technicians WHERE {by} IN ({})",
            placeholders(self.backend, 1, args.len())
        );
        each_row(&mut self.tx, &sql, &args, |r| {
            techs.insert(r.text(1)?, (r.int(0)?, r.text(2)?));
            Ok::<_, StoreError>(())
        })
        .await?;
        Ok(techs)
    }

    /// The recorded appointments of the chunk's known people, live and voided apart.
    async fn load_appointments(&mut self, techs: &Techs) -> Result<(Appts, Voided)> {
        let mut appts: Appts = HashMap::new();
        // Voided appointments: kept in the ledger, never matched or overlapped by a row.
        let mut voided: Voided = HashMap::new();
        if techs.is_empty() {
            return Ok((appts, voided));
        }
        let sql = format!(
            "SELECT technician_id, approval_date, id, approval_no, unit_id, bank_account, bank_name, phone, occupation, level, email, voided_at FROM appointments WHERE technician_id IN ({})",
            placeholders(self.backend, 1, techs.len())
        );
        let args: Vec<Arg> = techs.values().map(|(tid, _)| Arg::Int(*tid)).collect();
        each_row(&mut self.tx, &sql, &args, |r| {
            let tid = r.int(0)?;
            let date = parse_date(&r.text(1)?)?;
            let text = |i| r.opt_text(i).map(Option::unwrap_or_default);
            let fingerprint = format!(
                "{}|{}|{}|{}|{}|{}|{}",
                r.opt_int(4)?.map(|u| u.to_string()).unwrap_or_default(),
                text(5)?,
                text(6)?,
                text(7)?,
                text(8)?,
                text(9)?,
                text(10)?,
            );
            if let Some(at) = r.opt_text(11)? {
                voided.entry(tid).or_default().push((date, at));
                return Ok(());
            }
            appts
                .entry(tid)
                .or_default()
                .push((date, (r.int(2)?, r.text(3)?, fingerprint)));
            Ok::<_, StoreError>(())
        })
        .await?;
        Ok((appts, voided))
    }

    /// Checks: the name, and terms overlapping recorded ones or earlier rows of the file.
    /// Returns the rows that passed; problems are recorded.
    fn check_rows<'e>(
        &mut self,
        entries: &[&'e RosterEntry],
        techs: &Techs,
        appts: &Appts,
        voided: &Voided,
    ) -> Vec<&'e RosterEntry> {
        let mut good: Vec<&RosterEntry> = Vec::with_capacity(entries.len());
        for e in entries {
            let mut ok = true;
            if let Some((tid, name)) = techs.get(e.id_number.as_str()) {
                ok &= self.check_name(e, *tid, name);
                ok &= self.check_not_voided(e, voided.get(tid));
                ok &= self.check_no_overlap(e, appts.get(tid).map(Vec::as_slice).unwrap_or(&[]));
            }
            if ok {
                good.push(e);
            }
        }
        good
    }

    /// A row's name must be the one recorded (or first given in this file) for its ID number.
    fn check_name(&mut self, e: &RosterEntry, tid: i64, name: &str) -> bool {
        if name == e.name {
            return true;
        }
        let message = if tid > self.max_tech_before {
            format!("同一身份证号码在本文件中有两个姓名：“{name}”和“{}”", e.name)
        } else {
            format!(
                "姓名“{}”与已登记的“{name}”不符（身份证号码{}）；如确需更名，请先由区人社局核实",
                e.name,
                e.id_number.masked()
            )
        };
        self.problems.push(RosterProblem {
            row: e.row,
            column: "姓名",
            message,
        });
        false
    }

    /// A row must not bring back an appointment voided as a recording error.
    fn check_not_voided(
        &mut self,
        e: &RosterEntry,
        voided: Option<&Vec<(NaiveDate, String)>>,
    ) -> bool {
        let d = e.approval_date;
        let Some((_, at)) = voided.and_then(|v| v.iter().find(|(x, _)| *x == d)) else {
            return true;
        };
        self.problems.push(RosterProblem {
            row: e.row,
            column: "批准日期",
            message: format!(
                "批准日期为{d}的称号已于{}作废（录入错误），不能再导入；请核对批准日期",
                &at[..10.min(at.len())]
            ),
        });
        false
    }

    /// A new appointment's term must not overlap a recorded one of the same person.
    fn check_no_overlap(&mut self, e: &RosterEntry, recorded: &[(NaiveDate, Existing)]) -> bool {
        let d = e.approval_date;
        if recorded.iter().any(|(x, _)| *x == d) {
            return true;
        }
        let mut dates: Vec<NaiveDate> = recorded.iter().map(|(x, _)| *x).collect();
        dates.sort();
        let clash = dates.iter().find(|x| {
            let (first, second) = if **x < d { (**x, d) } else { (d, **x) };
            term_of(second).term_start() <= term_of(first).term_end()
        });
        let Some(x) = clash else {
            return true;
        };
        let (first, second) = if *x < d { (*x, d) } else { (d, *x) };
        self.problems.push(RosterProblem {
            row: e.row,
            column: "批准日期",
            message: format!(
                "批准日期{second}的管理期与批准日期{first}的管理期（至{}）重叠：同一人两届管理期不能重叠",
                term_of(first).term_end()
            ),
        });
        false
    }

    /// Units named by rows and not yet known.
    async fn add_row_units(&mut self, good: &[&RosterEntry]) -> Result<()> {
        for e in good {
            if !self.unit_ids.contains_key(&e.unit) {
                let id = insert_unit(&mut self.tx, &e.unit, None, None).await?;
                self.unit_ids.insert(e.unit.clone(), id);
                self.outcome.units_added += 1;
            }
        }
        Ok(())
    }

    /// The chunk's new technicians, with the ids given here (in `techs` too).
    fn new_technicians<'e>(
        &mut self,
        good: &[&'e RosterEntry],
        techs: &mut Techs,
    ) -> Vec<(i64, &'e RosterEntry)> {
        let mut new = Vec::new();
        for e in good {
            if techs.contains_key(e.id_number.as_str()) {
                continue;
            }
            let id = self.next_tech_id;
            self.next_tech_id += 1;
            if let Some(added) = self.added.as_mut() {
                added.insert(e.id_number.as_str(), id);
            }
            techs.insert(e.id_number.as_str().to_string(), (id, e.name.clone()));
            new.push((id, *e));
        }
        new
    }

    /// A recorded appointment: left alone when unchanged, else updated and audited.
    async fn update_appointment(
        &mut self,
        e: &RosterEntry,
        unit_id: i64,
        (aid, no, fp): Existing,
    ) -> Result<()> {
        let fingerprint = format!(
            "{unit_id}|{}|{}|{}|{}|{}|{}",
            e.bank_account,
            e.bank_name,
            e.phone,
            e.occupation,
            e.level,
            e.email.clone().unwrap_or_default()
        );
        if fp == fingerprint && no == e.approval_no {
            self.outcome.unchanged += 1;
            return Ok(());
        }
        sqlx::query("UPDATE appointments SET approval_no = $1, unit_id = $2, occupation = $3, level = $4, bank_account = $5, bank_name = $6, phone = $7, email = $8, source_id = $9, source_row = $10 WHERE id = $11")
            .bind(&e.approval_no)
            .bind(unit_id)
            .bind(&e.occupation)
            .bind(&e.level)
            .bind(&e.bank_account)
            .bind(&e.bank_name)
            .bind(&e.phone)
            .bind(e.email.clone())
            .bind(self.source_id)
            .bind(e.row.map(i64::from))
            .bind(aid)
            .execute(&mut *self.tx)
            .await?;
        audit(
            &mut self.tx,
            &self.operator,
            "roster-update",
            &format!(
                "appointment {aid} of {} ({}) updated from {} row {}",
                crate::rules::id_number::mask(e.id_number.as_str()),
                e.approval_date,
                self.file_name,
                e.row.unwrap_or(0)
            ),
            true,
        )
        .await?;
        self.outcome.updated += 1;
        Ok(())
    }

    /// Ends the import: commits when no problem was found, otherwise rolls everything back
    /// and returns the problems (sorted by row).
    pub async fn finish(
        mut self,
    ) -> Result<std::result::Result<RosterOutcome, Vec<RosterProblem>>> {
        if !self.problems.is_empty() {
            self.tx.rollback().await?;
            let mut problems = std::mem::take(&mut self.problems);
            problems.sort_by_key(|p| p.row);
            return Ok(Err(problems));
        }
        if self.id_numbers_set_aside {
            sqlx::query(ADD_ID_NUMBER_KEY)
                .execute(&mut *self.tx)
                .await?;
        }
        if self.next_tech_id > self.max_tech_before + 1 {
            super::continue_sequence(&mut self.tx, self.backend, "technicians").await?;
        }
        sqlx::query("UPDATE sources SET summary = $1 WHERE id = $2")
            .bind(format!("{} rows", self.rows))
            .bind(self.source_id)
            .execute(&mut *self.tx)
            .await?;
        let o = &self.outcome;
        audit(
            &mut self.tx,
            &self.operator,
            "import-roster",
            &format!(
                "{}: {} added, {} updated, {} unchanged",
                self.file_name, o.added, o.updated, o.unchanged
            ),
            o.added + o.updated > 0,
        )
        .await?;
        // Rows updated as well as inserted: every row of each is checked.
        for table in std::mem::take(&mut self.written) {
            self.checks.check(&mut self.tx, table, Written::All).await?;
        }
        self.tx.commit().await?;
        Ok(Ok(self.outcome))
    }

    /// Abandons the import: nothing it did stays.
    pub async fn abandon(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

/// The technicians table and the columns an import writes.
const TECHNICIANS: &str = "technicians (id, id_number, name)";

/// The appointments table and the columns an import writes, in the order of
/// [`appointment_args`].
const APPOINTMENTS: &str = "appointments (technician_id, approval_date, approval_no, unit_id, occupation, level, bank_account, bank_name, phone, email, source_id, source_row)";

/// The values of a row of [`APPOINTMENTS`].
const APPOINTMENT_VALUES: usize = 12;

/// A chunk's rows that passed, sorted by what becomes of their appointments.
struct AppointmentPlan<'e> {
    /// Recorded appointments: (row, unit id, as recorded); left alone when unchanged.
    updates: Vec<(&'e RosterEntry, i64, Existing)>,
    /// New appointments: (technician id, unit id, row).
    inserts: Vec<(i64, i64, &'e RosterEntry)>,
    /// The new ones' `COPY` text (PostgreSQL), made while the technicians went in.
    text: Option<String>,
}

/// Sorts a chunk's good rows into updates and new appointments (with the new ones' `COPY`
/// text when `copy`).
fn plan_appointments<'e>(
    good: Vec<&'e RosterEntry>,
    techs: &Techs,
    appts: &Appts,
    unit_ids: &HashMap<String, i64>,
    source_id: i64,
    copy: bool,
) -> Result<AppointmentPlan<'e>> {
    let mut plan = AppointmentPlan {
        updates: Vec::new(),
        inserts: Vec::new(),
        text: None,
    };
    for e in good {
        let Some((tid, _)) = techs.get(e.id_number.as_str()) else {
            return Err(StoreError::Corrupt(format!(
                "technician {} vanished during the import",
                e.id_number.masked()
            )));
        };
        let unit_id = unit_ids.get(&e.unit).copied().unwrap_or_default();
        let existing = appts
            .get(tid)
            .and_then(|v| v.iter().find(|(d, _)| *d == e.approval_date))
            .map(|(_, x)| x.clone());
        match existing {
            Some(existing) => plan.updates.push((e, unit_id, existing)),
            None => plan.inserts.push((*tid, unit_id, e)),
        }
    }
    if copy && !plan.inserts.is_empty() {
        let dates = dates_of(&plan.inserts);
        let args = appointment_args(&plan.inserts, &dates, source_id);
        plan.text = Some(super::native::copy_text(APPOINTMENT_VALUES, &args));
    }
    Ok(plan)
}

/// The approval dates of new appointments, as the ledger writes them.
fn dates_of(inserts: &[(i64, i64, &RosterEntry)]) -> Vec<String> {
    inserts
        .iter()
        .map(|(_, _, e)| e.approval_date.to_string())
        .collect()
}

/// New appointments' values for [`APPOINTMENTS`].
fn appointment_args<'a>(
    inserts: &[(i64, i64, &'a RosterEntry)],
    dates: &'a [String],
    source_id: i64,
) -> Vec<Arg<'a>> {
    let mut args = Vec::with_capacity(inserts.len() * APPOINTMENT_VALUES);
    for ((tid, unit_id, e), date) in inserts.iter().zip(dates) {
        args.extend([
            Arg::Int(*tid),
            Arg::Text(date),
            Arg::Text(e.approval_no.as_str()),
            Arg::Int(*unit_id),
            Arg::Text(e.occupation.as_str()),
            Arg::Text(e.level.as_str()),
            Arg::Text(e.bank_account.as_str()),
            Arg::Text(e.bank_name.as_str()),
            Arg::Text(e.phone.as_str()),
            Arg::OptText(e.email.as_deref()),
            Arg::Int(source_id),
            Arg::OptInt(e.row.map(i64::from)),
        ]);
    }
    args
}

impl Store {
    /// Voids an appointment recorded in error (`roster void ID APPROVAL-DATE --reason TEXT`):
    /// kept, marked void with who, when and why, in the audit trail. It earns nothing from now
    /// on, so the next run recovers what was paid for it; the corrected roster row imports as a
    /// new appointment. Drafts computed before become stale.
    pub async fn void_appointment(
        &self,
        id_number: &str,
        approval_date: NaiveDate,
        reason: &str,
        operator: &str,
        now: &str,
    ) -> Result<()> {
        if reason.trim().is_empty() {
            return Err(StoreError::Usage(
                "a void needs a reason (--reason TEXT)".into(),
            ));
        }
        let masked = crate::rules::id_number::mask(id_number);
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT a.id, a.voided_at FROM appointments a JOIN technicians t ON t.id = a.technician_id WHERE t.id_number = $1 AND a.approval_date = $2")
            .bind(id_number)
            .bind(approval_date.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::Usage(format!(
                "no appointment of {masked} approved on {approval_date} is recorded: see `chieftech explain ID`"
            )));
        };
        if row.try_get::<Option<String>, _>(1)?.is_some() {
            return Err(StoreError::Refused(format!(
                "the appointment of {masked} approved on {approval_date} is already void"
            )));
        }
        let id: i64 = row.try_get(0)?;
        sqlx::query("UPDATE appointments SET voided_at = $1, voided_by = $2, void_reason = $3 WHERE id = $4")
            .bind(now)
            .bind(operator)
            .bind(reason)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            operator,
            "appointment-void",
            &format!("appointment {id} ({masked}, approved {approval_date}) voided: {reason}"),
            true,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A person's appointments and name, by ID number.
    pub async fn person(&self, id_number: &str) -> Result<Option<Person>> {
        let mut conn = self.pool.acquire().await?;
        load_person(&mut conn, id_number).await
    }
}

/// A technician with their appointments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub technician_id: i64,
    pub id_number: String,
    pub name: String,
    pub appointments: Vec<Appointment>,
}

pub(crate) async fn load_person(
    conn: &mut sqlx::AnyConnection,
    id_number: &str,
) -> Result<Option<Person>> {
    let Some(t) = sqlx::query("SELECT id, name FROM technicians WHERE id_number = $1")
        .bind(id_number)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let technician_id: i64 = t.try_get(0)?;
    let mut appointments = Vec::new();
    for r in sqlx::query(
        "SELECT id, approval_date, approval_no FROM appointments WHERE technician_id = $1 AND voided_at IS NULL ORDER BY approval_date",
    )
    .bind(technician_id)
    .fetch_all(&mut *conn)
    .await?
    {
        appointments.push(Appointment {
            id: r.try_get(0)?,
            approval_date: parse_date(&r.try_get::<String, _>(1)?)?,
            approval_no: r.try_get(2)?,
        });
    }
    Ok(Some(Person {
        technician_id,
        id_number: id_number.to_string(),
        name: t.try_get(1)?,
        appointments,
    }))
}

async fn insert_unit(
    conn: &mut sqlx::AnyConnection,
    name: &str,
    contact: Option<String>,
    email: Option<String>,
) -> Result<i64> {
    let r =
        sqlx::query("INSERT INTO units (name, contact, email) VALUES ($1, $2, $3) RETURNING id")
            .bind(name)
            .bind(contact)
            .bind(email)
            .fetch_one(conn)
            .await?;
    r.try_get::<i64, _>(0).map_err(StoreError::from)
}

fn term_of(approval_date: NaiveDate) -> Appointment {
    Appointment {
        id: 0,
        approval_date,
        approval_no: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table the session's owner writes through its connection is checked at the finish
    /// only when declared with `also_written`: PostgreSQL's row-by-row checks are off in the
    /// session's transaction (where the role may turn them off), so an undeclared orphan
    /// would be committed, as the second round shows.
    #[tokio::test]
    async fn a_table_declared_written_is_checked_at_the_finish() {
        let Some((server, mut admin)) = crate::store::test_server().await else {
            return;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let db = format!("chieftech_roster_{}_{nanos}", std::process::id());
        let create = format!("CREATE DATABASE {db}");
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&mut admin)
            .await
            .unwrap();
        let store = Store::connect(&format!("{server}/{db}")).await.unwrap();
        for declared in [true, false] {
            let source = Source {
                kind: "roster-file".into(),
                file_name: Some(format!("名册-{declared}.xlsx")),
                sha256: Some(format!("{declared}")),
                operator: "经办人张".into(),
            };
            let RosterStart::Open(mut session) = store.begin_roster_import(&source).await.unwrap()
            else {
                panic!("a new file opens a session");
            };
            sqlx::query("INSERT INTO candidate_steps (candidate_id, stage, step_date, source, operator, recorded_at) VALUES (999, 'nominated', '2024-01-02', 't', 't', 't')")
                .execute(session.connection())
                .await
                .expect("no trigger checks the row (the superuser turned them off)");
            if declared {
                session.also_written("candidate_steps");
                let refused = session.finish().await.expect_err("the orphan is found");
                let message = refused.to_string();
                assert!(
                    message.contains("candidate_steps names candidate_id = 999"),
                    "{message}"
                );
            } else {
                assert!(session.finish().await.unwrap().is_ok(), "nothing checks it");
            }
        }
        let orphans: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM candidate_steps")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(orphans, 1, "only the undeclared round's row was committed");
        store.close().await;
        let drop = format!("DROP DATABASE {db}");
        sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}
