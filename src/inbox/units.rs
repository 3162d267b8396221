//! Which unit may report on a technician: a unit reports only its own technicians.
//!
//! The unit of a technician on a day `x` is the unit of the appointment a change dated `x`
//! applies to (the one its 称号批准文号 names; else the one whose term holds `x`; else the
//! latest approved on or before `x`; else the earliest), unless a 单位变更 of that appointment
//! (recorded, not voided, dated on or after its approval) took effect on or before `x`: then the
//! latest such move's new unit. So after a move the new unit reports, and the old unit only
//! changes dated before the move. A 单位变更 row itself is reported by the unit the technician
//! leaves (its unit on the day of the move, before the move applies).
//!
//! Rows naming an ID number the roster does not hold pass through: the store refuses them
//! with its own reason. Rows about another unit's technician are refused here, before the
//! store sees them, so the reply never tells a unit anything about other units' people.

use crate::rules::{Appointment, ChangeKind};
use crate::store::{ChangeEntry, RowProblem};
use chrono::NaiveDate;
use sqlx::Row;
use std::collections::HashMap;

/// A registered unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub id: i64,
    pub name: String,
}

/// The units whose registered e-mail (one address, or several separated by `,` `;` or
/// spaces) is `address`, compared case-insensitively.
pub async fn units_of_address(
    conn: &mut sqlx::AnyConnection,
    address: &str,
) -> Result<Vec<Unit>, sqlx::Error> {
    let wanted = address.trim().to_lowercase();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query("SELECT id, name, email FROM units WHERE email IS NOT NULL ORDER BY id")
        .fetch_all(conn)
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let email: String = r.try_get(2)?;
        let hit = email
            .split([',', ';', ' ', '，', '；'])
            .map(|e| e.trim().trim_matches(['<', '>']).to_lowercase())
            .any(|e| e == wanted);
        if hit {
            out.push(Unit {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
            });
        }
    }
    Ok(out)
}

/// A person's appointments (with their unit's name) and recorded moves.
#[derive(Debug, Clone, Default)]
pub struct Membership {
    /// (appointment, unit name) by approval date.
    pub appointments: Vec<(Appointment, Option<String>)>,
    /// (appointment id, effective, new unit) of 单位变更 changes.
    pub moves: Vec<(Option<i64>, NaiveDate, String)>,
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<String>()
}

impl Membership {
    /// The appointment a change dated `x` (naming `title_no`, if any) is about.
    fn appointment_for(&self, x: NaiveDate, title_no: Option<&str>) -> Option<usize> {
        let a = &self.appointments;
        if let Some(no) = title_no.map(norm).filter(|n| !n.is_empty()) {
            if let Some(i) = a.iter().position(|(ap, _)| norm(&ap.approval_no) == no) {
                return Some(i);
            }
        }
        if let Some(i) = a
            .iter()
            .position(|(ap, _)| ap.term_start() <= x && x <= ap.term_end())
        {
            return Some(i);
        }
        if let Some(i) = a.iter().rposition(|(ap, _)| ap.approval_date <= x) {
            return Some(i);
        }
        (!a.is_empty()).then_some(0)
    }

    /// The unit the technician belongs to on day `x` (None when unknown).
    pub fn unit_at(&self, x: NaiveDate, title_no: Option<&str>) -> Option<String> {
        let i = self.appointment_for(x, title_no)?;
        let (ap, unit) = &self.appointments[i];
        let moved = self
            .moves
            .iter()
            .filter(|(aid, eff, _)| {
                aid.is_none_or(|id| id == ap.id) && *eff >= ap.approval_date && *eff <= x
            })
            .max_by_key(|(_, eff, _)| *eff)
            .map(|(_, _, u)| u.clone());
        moved.or_else(|| unit.clone())
    }

    /// The appointment id a move dated `x` applies to, for recording moves of this batch.
    fn appointment_id(&self, x: NaiveDate, title_no: Option<&str>) -> Option<i64> {
        self.appointment_for(x, title_no)
            .map(|i| self.appointments[i].0.id)
    }
}

async fn load_membership(
    conn: &mut sqlx::AnyConnection,
    id_number: &str,
) -> Result<Option<Membership>, crate::store::StoreError> {
    let Some(t) = sqlx::query("SELECT id FROM technicians WHERE id_number = $1")
        .bind(id_number)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let tid: i64 = t.try_get(0)?;
    let mut m = Membership::default();
    for r in sqlx::query(
        "SELECT a.id, a.approval_date, a.approval_no, u.name FROM appointments a LEFT JOIN units u ON u.id = a.unit_id WHERE a.technician_id = $1 ORDER BY a.approval_date",
    )
    .bind(tid)
    .fetch_all(&mut *conn)
    .await?
    {
        let date: String = r.try_get(1)?;
        let approval_date = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .map_err(|_| crate::store::StoreError::Corrupt(format!("date `{date}`")))?;
        m.appointments.push((
            Appointment {
                id: r.try_get(0)?,
                approval_date,
                approval_no: r.try_get(2)?,
            },
            r.try_get(3)?,
        ));
    }
    for r in sqlx::query(
        "SELECT appointment_id, effective, new_unit FROM changes WHERE technician_id = $1 AND kind = $2 AND voided_at IS NULL AND new_unit IS NOT NULL ORDER BY id",
    )
    .bind(tid)
    .bind(ChangeKind::UnitChange.code())
    .fetch_all(&mut *conn)
    .await?
    {
        let date: String = r.try_get(1)?;
        let eff = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .map_err(|_| crate::store::StoreError::Corrupt(format!("date `{date}`")))?;
        m.moves.push((r.try_get(0)?, eff, r.try_get(2)?));
    }
    Ok(Some(m))
}

/// Splits a unit's rows into those it may report and problems for the rest.
pub async fn restrict(
    conn: &mut sqlx::AnyConnection,
    units: &[Unit],
    entries: &[ChangeEntry],
) -> Result<(Vec<ChangeEntry>, Vec<RowProblem>), crate::store::StoreError> {
    let mine: Vec<String> = units.iter().map(|u| norm(&u.name)).collect();
    let own_name = units
        .iter()
        .map(|u| u.name.as_str())
        .collect::<Vec<_>>()
        .join("、");
    let mut people: HashMap<String, Option<Membership>> = HashMap::new();
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| (entries[i].effective, i));
    let mut keep = vec![false; entries.len()];
    let mut problems = Vec::new();
    for i in order {
        let e = &entries[i];
        let key = e.id_number.as_str().to_string();
        if !people.contains_key(&key) {
            let m = load_membership(conn, &key).await?;
            people.insert(key.clone(), m);
        }
        let Some(Some(m)) = people.get_mut(&key) else {
            // Unknown to the roster: the store refuses it with its reason.
            keep[i] = true;
            continue;
        };
        let unit = m.unit_at(e.effective, e.title_no.as_deref());
        let ok = unit.as_deref().is_some_and(|u| mine.contains(&norm(u)));
        if !ok {
            problems.push(RowProblem {
                row: e.row,
                column: "身份证号码",
                message: format!(
                    "身份证号码为{}的首席技师在{}不是本单位（{}）的首席技师，本单位不能报告其变动；已调出的技师，调出之后的变动由调入单位报告",
                    e.id_number.masked(),
                    e.effective,
                    own_name
                ),
            });
            continue;
        }
        if e.kind == ChangeKind::UnitChange {
            if let Some(new_unit) = e.new_unit.clone() {
                let aid = m.appointment_id(e.effective, e.title_no.as_deref());
                m.moves.push((aid, e.effective, new_unit));
            }
        }
        keep[i] = true;
    }
    let kept = entries
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(e, _)| e.clone())
        .collect();
    problems.sort_by_key(|p| p.row);
    Ok((kept, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn moves_hand_the_technician_to_the_new_unit() {
        let ap = Appointment {
            id: 7,
            approval_date: d("2021-10-15"),
            approval_no: "张人社〔2021〕1号".into(),
        };
        let m = Membership {
            appointments: vec![(ap, Some("甲公司".into()))],
            moves: vec![(Some(7), d("2023-03-01"), "乙公司".into())],
        };
        assert_eq!(m.unit_at(d("2023-02-28"), None).as_deref(), Some("甲公司"));
        assert_eq!(m.unit_at(d("2023-03-01"), None).as_deref(), Some("乙公司"));
        assert_eq!(m.unit_at(d("2020-01-01"), None).as_deref(), Some("甲公司"));
        assert_eq!(Membership::default().unit_at(d("2023-03-01"), None), None);
    }
}
