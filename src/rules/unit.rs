//! Which unit (工作单位) a technician belongs to on a day (`docs/rules.md` §4, 单位变更): the only
//! implementation. Notices, the summary's totals by unit, reminders and the inbox's check of who
//! may report on whom all ask [`unit_on`].
//!
//! A person's unit changes on two kinds of dated events: the approval of an appointment (the
//! roster names its unit) and a recorded, non-voided 单位变更 (from its effective date `x`, day `x`
//! included, the new unit). On a day, the latest event on or before it decides; on the same day
//! a move comes after an approval. Before the first approval, the first appointment's unit.

use super::change::{Appointment, Change, ChangeKind};
use chrono::NaiveDate;

/// A 单位变更: from `effective` on, the person belongs to `new_unit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitMove {
    /// The change's id (recording order breaks ties of one day).
    pub id: i64,
    pub effective: NaiveDate,
    pub new_unit: String,
}

impl UnitMove {
    /// The move a recorded change makes, if it is a 单位变更 with a new unit.
    pub fn of(change: &Change, new_unit: Option<&str>) -> Option<UnitMove> {
        let unit = new_unit.map(str::trim).filter(|u| !u.is_empty())?;
        (change.kind == ChangeKind::UnitChange).then(|| UnitMove {
            id: change.id,
            effective: change.effective,
            new_unit: unit.to_string(),
        })
    }
}

/// The unit of a person on `date`: `appointments` pairs each appointment with the unit the
/// roster names for it (None when the roster names none); `moves` are the person's recorded
/// 单位变更. None only when the person has no appointment with a unit and no move.
pub fn unit_on(
    date: NaiveDate,
    appointments: &[(Appointment, Option<String>)],
    moves: &[UnitMove],
) -> Option<String> {
    latest_unit(
        date,
        appointments
            .iter()
            .filter_map(|(a, u)| u.as_ref().map(|u| (a.approval_date, a.id, u))),
        moves.iter().map(|m| (m.effective, m.id, &m.new_unit)),
    )
    .cloned()
}

/// [`unit_on`] over any handle of a unit (a name, or the store's index of one, which spares a
/// string per look-up): `approvals` are (approval date, appointment id, unit) of the
/// appointments whose roster names a unit, `moves` (effective date, change id, new unit).
pub fn latest_unit<U: Copy>(
    date: NaiveDate,
    approvals: impl Iterator<Item = (NaiveDate, i64, U)>,
    moves: impl Iterator<Item = (NaiveDate, i64, U)>,
) -> Option<U> {
    // (day, order within the day, id) → unit; approvals sort before moves of the same day.
    let events: Vec<((NaiveDate, u8, i64), U)> = approvals
        .map(|(day, id, u)| ((day, 0, id), u))
        .chain(moves.map(|(day, id, u)| ((day, 1, id), u)))
        .collect();
    if let Some((_, unit)) = events
        .iter()
        .filter(|((day, _, _), _)| *day <= date)
        .max_by_key(|(key, _)| *key)
    {
        return Some(*unit);
    }
    // Before every event: the unit of the first appointment (the roster's first word).
    events
        .iter()
        .filter(|((_, kind, _), _)| *kind == 0)
        .min_by_key(|(key, _)| *key)
        .or_else(|| events.iter().min_by_key(|(key, _)| *key))
        .map(|(_, u)| *u)
}

/// Whether the person belongs to `unit` on every day from `from` through `to` (None: with no
/// end, i.e. also after every later event). A unit may report a period only while the person
/// is its own: a former unit cannot stop the pay earned at the new one.
pub fn unit_throughout(
    unit: &str,
    from: NaiveDate,
    to: Option<NaiveDate>,
    appointments: &[(Appointment, Option<String>)],
    moves: &[UnitMove],
) -> bool {
    let same = |d: NaiveDate| unit_on(d, appointments, moves).is_some_and(|u| same_unit(&u, unit));
    if !same(from) {
        return false;
    }
    // The unit can only change on an event day: check each one inside the period.
    let days = appointments
        .iter()
        .map(|(a, _)| a.approval_date)
        .chain(moves.iter().map(|m| m.effective));
    days.filter(|d| *d > from && to.is_none_or(|t| *d <= t))
        .all(same)
}

/// Unit names are compared without white space (clerks type them with and without).
pub fn same_unit(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.split_whitespace().collect::<String>();
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn appt(id: i64, approval: &str) -> Appointment {
        Appointment {
            id,
            approval_date: d(approval),
            approval_no: format!("张人社〔{id}〕号"),
        }
    }

    fn mv(id: i64, x: &str, unit: &str) -> UnitMove {
        UnitMove {
            id,
            effective: d(x),
            new_unit: unit.into(),
        }
    }

    #[test]
    fn a_move_hands_the_technician_to_the_new_unit_from_its_day() {
        let appts = [(appt(7, "2021-10-15"), Some("甲公司".to_string()))];
        let moves = [mv(1, "2023-03-01", "乙公司")];
        let on = |x: &str| unit_on(d(x), &appts, &moves);
        assert_eq!(on("2023-02-28").as_deref(), Some("甲公司"));
        assert_eq!(on("2023-03-01").as_deref(), Some("乙公司"));
        assert_eq!(on("2026-01-01").as_deref(), Some("乙公司"));
        assert_eq!(
            on("2020-01-01").as_deref(),
            Some("甲公司"),
            "before approval"
        );
        assert_eq!(unit_on(d("2023-03-01"), &[], &[]), None);
    }

    #[test]
    fn a_later_appointment_at_another_unit_counts_from_its_approval() {
        let appts = [
            (appt(1, "2021-10-15"), Some("甲公司".to_string())),
            (appt(2, "2024-11-20"), Some("丙公司".to_string())),
        ];
        let moves = [mv(5, "2023-03-01", "乙公司")];
        let on = |x: &str| unit_on(d(x), &appts, &moves);
        assert_eq!(on("2024-11-19").as_deref(), Some("乙公司"));
        assert_eq!(on("2024-11-20").as_deref(), Some("丙公司"));
        // A move on the approval day itself comes after it.
        let moves = [mv(6, "2024-11-20", "丁公司")];
        assert_eq!(
            unit_on(d("2024-11-20"), &appts, &moves).as_deref(),
            Some("丁公司")
        );
    }

    #[test]
    fn a_former_unit_cannot_report_a_period_reaching_past_the_move() {
        let appts = [(appt(1, "2021-10-15"), Some("甲公司".to_string()))];
        let moves = [mv(5, "2023-03-01", "乙公司")];
        let through = |u: &str, from: &str, to: Option<&str>| {
            unit_throughout(u, d(from), to.map(d), &appts, &moves)
        };
        assert!(through("甲公司", "2022-01-01", Some("2023-02-28")));
        assert!(!through("甲公司", "2022-01-01", Some("2023-03-01")));
        assert!(!through("甲公司", "2022-01-01", None), "open-ended");
        assert!(through("乙公司", "2023-03-01", None));
        assert!(through("乙 公司", "2023-05-01", Some("2023-09-30")));
        assert!(!through("乙公司", "2023-02-01", None));
    }

    #[test]
    fn a_unit_by_index_is_the_unit_by_name() {
        let names = ["甲公司", "乙公司", "丙公司", "丁公司"];
        let appts = [
            (appt(1, "2021-10-15"), Some(names[0].to_string())),
            (appt(2, "2024-11-20"), Some(names[2].to_string())),
            (appt(3, "2022-06-01"), None),
        ];
        let moves = [mv(5, "2023-03-01", names[1]), mv(6, "2024-11-20", names[3])];
        let index = |u: &str| names.iter().position(|n| *n == u).unwrap();
        for day in [
            "2020-01-01",
            "2021-10-15",
            "2023-02-28",
            "2023-03-01",
            "2024-11-20",
            "2026-01-01",
        ] {
            let by_index = latest_unit(
                d(day),
                appts
                    .iter()
                    .filter_map(|(a, u)| u.as_deref().map(|u| (a.approval_date, a.id, index(u)))),
                moves
                    .iter()
                    .map(|m| (m.effective, m.id, index(&m.new_unit))),
            );
            assert_eq!(
                by_index.map(|i| names[i].to_string()),
                unit_on(d(day), &appts, &moves),
                "{day}"
            );
        }
    }
}
