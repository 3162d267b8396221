//! What [`crate::rules::unit::unit_on`] needs from the ledger: each person's appointments with
//! the roster's unit for each, and the person's recorded (not voided) 单位变更. One loader for
//! the run view (notices, the summary's totals by unit), reminders and the inbox.

use super::{parse_date, Result};
use crate::rules::unit::{unit_on, UnitMove};
use crate::rules::{Appointment, ChangeKind};
use chrono::NaiveDate;
use sqlx::Row;
use std::collections::HashMap;

/// One person's unit history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitHistory {
    /// (appointment, the roster's unit) by approval date.
    pub appointments: Vec<(Appointment, Option<String>)>,
    /// Recorded 单位变更, in recording order.
    pub moves: Vec<UnitMove>,
}

impl UnitHistory {
    /// The person's unit on `date` (empty when the ledger names none).
    pub fn unit_on(&self, date: NaiveDate) -> String {
        unit_on(date, &self.appointments, &self.moves).unwrap_or_default()
    }
}

/// The unit histories of every person (`technician` None) or of one, by technician id.
pub(crate) async fn unit_histories(
    conn: &mut sqlx::AnyConnection,
    technician: Option<i64>,
) -> Result<HashMap<i64, UnitHistory>> {
    let mut out: HashMap<i64, UnitHistory> = HashMap::new();
    // Technician ids start at 1: 0 stands for "everyone".
    for r in sqlx::query("SELECT a.technician_id, a.id, a.approval_date, a.approval_no, u.name FROM appointments a LEFT JOIN units u ON u.id = a.unit_id WHERE a.voided_at IS NULL AND ($1 = 0 OR a.technician_id = $1) ORDER BY a.technician_id, a.approval_date, a.id")
        .bind(technician.unwrap_or(0))
        .fetch_all(&mut *conn)
        .await?
    {
        out.entry(r.try_get(0)?)
            .or_default()
            .appointments
            .push((
                Appointment {
                    id: r.try_get(1)?,
                    approval_date: parse_date(&r.try_get::<String, _>(2)?)?,
                    approval_no: r.try_get(3)?,
                },
                r.try_get(4)?,
            ));
    }
    for r in sqlx::query("SELECT technician_id, id, effective, new_unit FROM changes WHERE kind = $1 AND voided_at IS NULL AND new_unit IS NOT NULL AND ($2 = 0 OR technician_id = $2) ORDER BY id")
        .bind(ChangeKind::UnitChange.code())
        .bind(technician.unwrap_or(0))
        .fetch_all(&mut *conn)
        .await?
    {
        let new_unit: String = r.try_get(3)?;
        if new_unit.trim().is_empty() {
            continue;
        }
        out.entry(r.try_get(0)?).or_default().moves.push(UnitMove {
            id: r.try_get(1)?,
            effective: parse_date(&r.try_get::<String, _>(2)?)?,
            new_unit: new_unit.trim().to_string(),
        });
    }
    Ok(out)
}
