//! Which unit may report on a technician: a unit reports only its own technicians, on the
//! date of the change.
//!
//! The unit of a technician on a day is [`crate::rules::unit::unit_on`] (the one rule, also used
//! by notices, the summary and reminders). A unit may report a row dated `x` only when the
//! technician is its own on `x`; a 单位变更 row is reported by the unit the technician leaves (its
//! own on the day before the move); a 享受其他人才津贴 period only when the technician is its own
//! on every day of the period (an open-ended one: from `x` on, for good), so a unit the technician
//! left can never stop the pay earned at the new one.
//!
//! Rows naming an ID number the roster does not hold pass through: the store refuses them
//! with its own reason. Rows about another unit's technician are refused here, before the
//! store sees them, so the reply never tells a unit anything about other units' people.

use crate::rules::unit::{same_unit, unit_on, unit_throughout, UnitMove};
use crate::rules::ChangeKind;
use crate::store::{ChangeEntry, RowProblem};
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

/// A person's appointments (with the roster's unit for each) and recorded moves.
type Membership = crate::store::units::UnitHistory;

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
    let mut histories = crate::store::units::unit_histories(conn, Some(tid)).await?;
    Ok(Some(histories.remove(&tid).unwrap_or_default()))
}

/// Splits a unit's rows into those it may report and problems for the rest.
pub async fn restrict(
    conn: &mut sqlx::AnyConnection,
    units: &[Unit],
    entries: &[ChangeEntry],
) -> Result<(Vec<ChangeEntry>, Vec<RowProblem>), crate::store::StoreError> {
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
        if !may_report(units, e, m) {
            problems.push(not_own(e, &own_name));
            continue;
        }
        see_move(m, e);
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

/// Whether one of `units` may report the row on a technician with membership `m`.
fn may_report(units: &[Unit], e: &ChangeEntry, m: &Membership) -> bool {
    let is_mine = |u: &str| units.iter().any(|m| same_unit(&m.name, u));
    match e.kind {
        // The unit the technician leaves reports the move: its own the day before.
        ChangeKind::UnitChange => {
            let before = e.effective.pred_opt().unwrap_or(e.effective);
            unit_on(before, &m.appointments, &m.moves).is_some_and(|u| is_mine(&u))
        }
        // A period: the unit's own on every day of it.
        ChangeKind::OtherAllowance => units
            .iter()
            .any(|u| unit_throughout(&u.name, e.effective, e.end, &m.appointments, &m.moves)),
        _ => unit_on(e.effective, &m.appointments, &m.moves).is_some_and(|u| is_mine(&u)),
    }
}

/// The problem of a row about a technician who is not the unit's own (`own_name`).
fn not_own(e: &ChangeEntry, own_name: &str) -> RowProblem {
    RowProblem {
        row: e.row,
        column: "身份证号码",
        message: format!(
            "身份证号码为{}的首席技师在{}（或其后的期间内）不是本单位（{}）的首席技师，本单位不能报告其变动；已调出的技师，调出之后的变动由调入单位报告",
            e.id_number.masked(),
            e.effective,
            own_name
        ),
    }
}

/// A kept 单位变更 row: later rows of this batch see the move (ids after every recorded one).
fn see_move(m: &mut Membership, e: &ChangeEntry) {
    if e.kind == ChangeKind::UnitChange {
        if let Some(new_unit) = e.new_unit.clone() {
            let id = m.moves.iter().map(|x| x.id).max().unwrap_or(0) + 1;
            m.moves.push(UnitMove {
                id,
                effective: e.effective,
                new_unit,
            });
        }
    }
}
