//! What the ledger remembers of each source (migration 0013): its pulls, its watermark, and
//! the row keys seen, from which a full pull tells which rows have gone.

use crate::store::roster::placeholders;
use crate::store::{Backend, Store, StoreError};
use sqlx::Row;

type Result<T> = std::result::Result<T, StoreError>;

/// A source's state as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceState {
    pub pulls: i64,
    pub watermark: Option<String>,
    pub last_pull_at: Option<String>,
    pub last_full_at: Option<String>,
    pub last_outcome: Option<String>,
    /// Keys seen and not reported missing since.
    pub keys: i64,
    /// Keys reported missing (and not seen since).
    pub missing: i64,
}

/// Keys upserted per statement (4 values each).
const KEY_CHUNK: usize = 500;

/// The recorded state of a source (all defaults before its first pull).
pub async fn load(store: &Store, name: &str) -> Result<SourceState> {
    let mut conn = store.pool().acquire().await?;
    let mut s = SourceState::default();
    if let Some(r) = sqlx::query("SELECT pulls, watermark, last_pull_at, last_full_at, last_outcome FROM source_state WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?
    {
        s.pulls = r.try_get(0)?;
        s.watermark = r.try_get(1)?;
        s.last_pull_at = r.try_get(2)?;
        s.last_full_at = r.try_get(3)?;
        s.last_outcome = r.try_get(4)?;
    }
    let r = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN reported_missing_pull IS NOT NULL AND reported_missing_pull > last_pull THEN 1 ELSE 0 END), 0) AS BIGINT) FROM source_keys WHERE source = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    let all: i64 = r.try_get(0)?;
    s.missing = r.try_get(1)?;
    s.keys = all - s.missing;
    Ok(s)
}

/// Takes the next pull number of a source (committed at once: numbers only grow, even for a
/// pull rolled back later).
pub async fn next_pull(store: &Store, name: &str, kind: &str) -> Result<i64> {
    let mut tx = store.pool().begin().await?;
    sqlx::query("INSERT INTO source_state (name, kind, pulls) VALUES ($1, $2, 0) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(kind)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE source_state SET pulls = pulls + 1 WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    let n: i64 = sqlx::query("SELECT pulls FROM source_state WHERE name = $1")
        .bind(name)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    tx.commit().await?;
    Ok(n)
}

/// Records that pull `pull` read these keys (each once per statement).
pub async fn see_keys(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    name: &str,
    pull: i64,
    keys: &[String],
) -> Result<()> {
    let mut unique: Vec<&str> = keys.iter().map(String::as_str).collect();
    unique.sort_unstable();
    unique.dedup();
    for chunk in unique.chunks(KEY_CHUNK) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(backend, 4 * i + 1, 4)))
            .collect();
        let sql = format!(
            "INSERT INTO source_keys (source, row_key, first_pull, last_pull) VALUES {} ON CONFLICT (source, row_key) DO UPDATE SET last_pull = excluded.last_pull, returned_pull = CASE WHEN source_keys.reported_missing_pull > source_keys.last_pull THEN excluded.last_pull ELSE source_keys.returned_pull END",
            values.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in chunk {
            q = q.bind(name).bind(*k).bind(pull).bind(pull);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Keys pull `pull` saw for the first time, and keys it saw again after they were reported
/// missing.
pub async fn new_and_returned(
    conn: &mut sqlx::AnyConnection,
    name: &str,
    pull: i64,
) -> Result<(i64, i64)> {
    let r = sqlx::query("SELECT CAST(COALESCE(SUM(CASE WHEN first_pull = $2 THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN returned_pull = $2 THEN 1 ELSE 0 END), 0) AS BIGINT) FROM source_keys WHERE source = $1 AND last_pull = $2")
        .bind(name)
        .bind(pull)
        .fetch_one(&mut *conn)
        .await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

/// After a full pull: the keys it did not read that were seen before and not reported missing
/// since, marked reported by this pull. Returns how many, and the first `list` of them.
pub async fn mark_missing(
    conn: &mut sqlx::AnyConnection,
    name: &str,
    pull: i64,
    list: i64,
) -> Result<(i64, Vec<String>)> {
    let r = sqlx::query("UPDATE source_keys SET reported_missing_pull = $2, reported_missing_at = $3 WHERE source = $1 AND last_pull < $2 AND (reported_missing_pull IS NULL OR reported_missing_pull < last_pull)")
        .bind(name)
        .bind(pull)
        .bind(crate::store::now_text())
        .execute(&mut *conn)
        .await?;
    let n = i64::try_from(r.rows_affected()).unwrap_or(i64::MAX);
    if n == 0 {
        return Ok((0, Vec::new()));
    }
    let keys = sqlx::query("SELECT row_key FROM source_keys WHERE source = $1 AND reported_missing_pull = $2 ORDER BY row_key LIMIT $3")
        .bind(name)
        .bind(pull)
        .bind(list)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((n, keys))
}

/// Records the pull's watermark (None: keep the recorded one) and outcome.
pub async fn save(
    conn: &mut sqlx::AnyConnection,
    name: &str,
    watermark: Option<&str>,
    full: bool,
    outcome: &str,
) -> Result<()> {
    let now = crate::store::now_text();
    sqlx::query("UPDATE source_state SET watermark = COALESCE($2, watermark), last_pull_at = $3, last_full_at = CASE WHEN $4 = 1 THEN $3 ELSE last_full_at END, last_outcome = $5 WHERE name = $1")
        .bind(name)
        .bind(watermark)
        .bind(&now)
        .bind(i64::from(full))
        .bind(outcome)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
