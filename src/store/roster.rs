//! Technicians, units and appointments: the roster (名册).

use super::{audit, find_source, insert_source, parse_date, Result, Source, Store, StoreError};
use crate::rules::{Appointment, IdNumber};
use chrono::NaiveDate;
use sqlx::Row;
use std::collections::HashMap;

/// One roster row: one appointment of a technician.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    pub id_number: IdNumber,
    pub name: String,
    pub unit: String,
    pub occupation: String,
    pub level: String,
    pub approval_date: NaiveDate,
    pub approval_no: String,
    pub bank_account: String,
    pub bank_name: String,
    pub phone: String,
    pub email: Option<String>,
    /// The row in the source file (1-based), for messages and the audit trail.
    pub row: Option<u32>,
}

/// One unit row (sheet 单位).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitEntry {
    pub name: String,
    pub contact: Option<String>,
    pub email: Option<String>,
    pub row: Option<u32>,
}

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
        let mut tx = self.begin_write().await?;
        if let Some((at, by)) = find_source(&mut tx, source).await? {
            return Ok(Ok(RosterOutcome {
                already_imported: Some(format!("{at} by {by}")),
                ..RosterOutcome::default()
            }));
        }
        let source_id = insert_source(&mut tx, source, &format!("{} rows", entries.len())).await?;
        let mut outcome = RosterOutcome::default();
        let mut problems = Vec::new();

        let mut unit_ids: HashMap<String, i64> = HashMap::new();
        for r in sqlx::query("SELECT id, name FROM units").fetch_all(&mut *tx).await? {
            unit_ids.insert(r.try_get(1)?, r.try_get(0)?);
        }
        for u in units {
            if let Some(id) = unit_ids.get(&u.name) {
                sqlx::query("UPDATE units SET contact = COALESCE($1, contact), email = COALESCE($2, email) WHERE id = $3")
                    .bind(u.contact.clone())
                    .bind(u.email.clone())
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            } else {
                let id = insert_unit(&mut tx, &u.name, u.contact.clone(), u.email.clone()).await?;
                unit_ids.insert(u.name.clone(), id);
                outcome.units_added += 1;
            }
        }

        // Current technicians and appointments of the people in the file.
        let mut techs: HashMap<String, (i64, String)> = HashMap::new();
        for r in sqlx::query("SELECT id, id_number, name FROM technicians")
            .fetch_all(&mut *tx)
            .await?
        {
            techs.insert(r.try_get(1)?, (r.try_get(0)?, r.try_get(2)?));
        }
        let mut appts: HashMap<i64, Vec<(NaiveDate, Existing)>> = HashMap::new();
        for r in sqlx::query(
            "SELECT technician_id, approval_date, id, approval_no, unit_id, bank_account, bank_name, phone, occupation, level, email FROM appointments",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            let tid: i64 = r.try_get(0)?;
            let date = parse_date(&r.try_get::<String, _>(1)?)?;
            let unit: Option<i64> = r.try_get(4)?;
            let fingerprint = format!(
                "{}|{}|{}|{}|{}|{}|{}",
                unit.map(|u| u.to_string()).unwrap_or_default(),
                r.try_get::<Option<String>, _>(5)?.unwrap_or_default(),
                r.try_get::<Option<String>, _>(6)?.unwrap_or_default(),
                r.try_get::<Option<String>, _>(7)?.unwrap_or_default(),
                r.try_get::<Option<String>, _>(8)?.unwrap_or_default(),
                r.try_get::<Option<String>, _>(9)?.unwrap_or_default(),
                r.try_get::<Option<String>, _>(10)?.unwrap_or_default(),
            );
            appts.entry(tid).or_default().push((
                date,
                (r.try_get(2)?, r.try_get(3)?, fingerprint),
            ));
        }

        let mut file_people: HashMap<&str, &str> = HashMap::new();
        let mut new_terms: HashMap<String, Vec<(NaiveDate, Option<u32>)>> = HashMap::new();
        for e in entries {
            let id = e.id_number.as_str();
            if let Some(prev) = file_people.insert(id, &e.name) {
                if prev != e.name {
                    problems.push(RosterProblem {
                        row: e.row,
                        column: "姓名",
                        message: format!("同一身份证号码在本文件中有两个姓名：“{prev}”和“{}”", e.name),
                    });
                }
            }
            if let Some((_, name)) = techs.get(id) {
                if *name != e.name {
                    problems.push(RosterProblem {
                        row: e.row,
                        column: "姓名",
                        message: format!("姓名“{}”与已登记的“{name}”不符（身份证号码{}）；如确需更名，请先由区人社局核实", e.name, e.id_number.masked()),
                    });
                }
            }
            new_terms
                .entry(id.to_string())
                .or_default()
                .push((e.approval_date, e.row));
        }
        // Overlapping terms, among the file's rows and the recorded appointments.
        for (id, rows) in &new_terms {
            let mut all: Vec<(NaiveDate, Option<u32>)> = rows.clone();
            if let Some((tid, _)) = techs.get(id.as_str()) {
                for (d, _) in appts.get(tid).into_iter().flatten() {
                    if !all.iter().any(|(x, _)| x == d) {
                        all.push((*d, None));
                    }
                }
            }
            all.sort();
            all.dedup_by_key(|(d, _)| *d);
            for w in all.windows(2) {
                let first = term_of(w[0].0);
                if term_of(w[1].0).term_start() <= first.term_end() {
                    problems.push(RosterProblem {
                        row: w[1].1.or(w[0].1),
                        column: "批准日期",
                        message: format!(
                            "批准日期{}的管理期与批准日期{}的管理期（至{}）重叠：同一人两届管理期不能重叠",
                            w[1].0,
                            w[0].0,
                            first.term_end()
                        ),
                    });
                }
            }
        }
        if !problems.is_empty() {
            tx.rollback().await?;
            return Ok(Err(problems));
        }

        for e in entries {
            let unit_id = match unit_ids.get(&e.unit) {
                Some(id) => *id,
                None => {
                    let id = insert_unit(&mut tx, &e.unit, None, None).await?;
                    unit_ids.insert(e.unit.clone(), id);
                    outcome.units_added += 1;
                    id
                }
            };
            let tid = match techs.get(e.id_number.as_str()) {
                Some((tid, _)) => *tid,
                None => {
                    let r = sqlx::query(
                        "INSERT INTO technicians (id_number, name) VALUES ($1, $2) RETURNING id",
                    )
                    .bind(e.id_number.as_str())
                    .bind(&e.name)
                    .fetch_one(&mut *tx)
                    .await?;
                    let tid: i64 = r.try_get(0)?;
                    techs.insert(e.id_number.as_str().to_string(), (tid, e.name.clone()));
                    tid
                }
            };
            let fingerprint = format!(
                "{unit_id}|{}|{}|{}|{}|{}|{}",
                e.bank_account,
                e.bank_name,
                e.phone,
                e.occupation,
                e.level,
                e.email.clone().unwrap_or_default()
            );
            let existing = appts
                .get(&tid)
                .and_then(|v| v.iter().find(|(d, _)| *d == e.approval_date))
                .map(|(_, x)| x.clone());
            match existing {
                Some((aid, no, fp)) => {
                    if fp == fingerprint && no == e.approval_no {
                        outcome.unchanged += 1;
                        continue;
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
                        .bind(source_id)
                        .bind(e.row.map(i64::from))
                        .bind(aid)
                        .execute(&mut *tx)
                        .await?;
                    audit(
                        &mut tx,
                        &source.operator,
                        "roster-update",
                        &format!(
                            "appointment {aid} of {} ({}) updated from {} row {}",
                            crate::rules::id_number::mask(e.id_number.as_str()),
                            e.approval_date,
                            source.file_name.as_deref().unwrap_or("-"),
                            e.row.unwrap_or(0)
                        ),
                        true,
                    )
                    .await?;
                    outcome.updated += 1;
                }
                None => {
                    let r = sqlx::query("INSERT INTO appointments (technician_id, approval_date, approval_no, unit_id, occupation, level, bank_account, bank_name, phone, email, source_id, source_row) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id")
                        .bind(tid)
                        .bind(e.approval_date.to_string())
                        .bind(&e.approval_no)
                        .bind(unit_id)
                        .bind(&e.occupation)
                        .bind(&e.level)
                        .bind(&e.bank_account)
                        .bind(&e.bank_name)
                        .bind(&e.phone)
                        .bind(e.email.clone())
                        .bind(source_id)
                        .bind(e.row.map(i64::from))
                        .fetch_one(&mut *tx)
                        .await?;
                    let aid: i64 = r.try_get(0)?;
                    appts.entry(tid).or_default().push((
                        e.approval_date,
                        (aid, e.approval_no.clone(), fingerprint),
                    ));
                    outcome.added += 1;
                }
            }
        }
        audit(
            &mut tx,
            &source.operator,
            "import-roster",
            &format!(
                "{}: {} added, {} updated, {} unchanged",
                source.file_name.as_deref().unwrap_or("-"),
                outcome.added,
                outcome.updated,
                outcome.unchanged
            ),
            outcome.added + outcome.updated > 0,
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(outcome))
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
        "SELECT id, approval_date, approval_no FROM appointments WHERE technician_id = $1 ORDER BY approval_date",
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
    let r = sqlx::query("INSERT INTO units (name, contact, email) VALUES ($1, $2, $3) RETURNING id")
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
