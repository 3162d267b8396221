//! What a forecast reads from the ledger (read-only): every person's appointments not voided
//! with the roster's unit, their 单位变更, their recorded changes, and what approved runs paid
//! by year. The arithmetic is [`crate::rules::forecast`].

use super::changes::change_from_row;
use super::{Result, Store};
use crate::rules::forecast::{ForecastInput, ForecastPerson};
use crate::rules::Change;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

impl Store {
    /// The forecast's inputs: people in technician order.
    pub async fn forecast_input(&self) -> Result<ForecastInput> {
        let mut conn = self.pool.acquire().await?;
        let histories = super::units::unit_histories(&mut conn, None).await?;
        let mut changes = load_changes(&mut conn).await?;
        let mut ids: Vec<i64> = histories.keys().copied().collect();
        ids.sort();
        let mut histories = histories;
        let people = ids
            .into_iter()
            .filter_map(|tid| {
                let h = histories.remove(&tid)?;
                Some(ForecastPerson {
                    appointments: h.appointments,
                    changes: changes.remove(&tid).unwrap_or_default(),
                    moves: h.moves,
                })
            })
            .filter(|p| !p.appointments.is_empty())
            .collect();
        let paid_by_year = paid_by_year(&mut conn).await?;
        Ok(ForecastInput {
            people,
            paid_by_year,
        })
    }
}

/// Every recorded, non-voided change, by technician, in recording order.
async fn load_changes(conn: &mut sqlx::AnyConnection) -> Result<HashMap<i64, Vec<Change>>> {
    use futures_util::TryStreamExt;
    let mut out: HashMap<i64, Vec<Change>> = HashMap::new();
    let mut rows = sqlx::query("SELECT id, kind, effective, end_date, COALESCE(appointment_ids, CAST(appointment_id AS TEXT), '') AS appointment_ids, technician_id, reported_by FROM changes WHERE voided_at IS NULL ORDER BY id")
        .fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        out.entry(r.try_get(5)?)
            .or_default()
            .push(change_from_row(&r)?);
    }
    Ok(out)
}

/// The net of the lines of every approved run, by the run's year (re-issues and offsets are
/// not months and are not counted).
async fn paid_by_year(conn: &mut sqlx::AnyConnection) -> Result<BTreeMap<i32, i64>> {
    let mut out: BTreeMap<i32, i64> = BTreeMap::new();
    for r in sqlx::query("SELECT r.year, i.lines FROM run_items i JOIN runs r ON r.id = i.run_id WHERE r.status = 'approved'")
        .fetch_all(&mut *conn)
        .await?
    {
        let year: i64 = r.try_get(0)?;
        let text: String = r.try_get(1)?;
        let lines = super::payrun::stored_lines(&text)?;
        *out.entry(year as i32).or_default() += lines.iter().map(|l| l.fen).sum::<i64>();
    }
    // A year whose approved runs have no lines at all still paid: nothing.
    for r in sqlx::query("SELECT DISTINCT year FROM runs WHERE status = 'approved'")
        .fetch_all(&mut *conn)
        .await?
    {
        out.entry(r.try_get::<i64, _>(0)? as i32).or_default();
    }
    Ok(out)
}
