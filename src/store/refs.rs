//! Foreign keys of a bulk write on PostgreSQL, checked once per key at the end instead of row
//! by row.
//!
//! PostgreSQL checks a foreign key with a trigger that runs a query for every row inserted: at
//! a hundred thousand people half of the server's work in a roster import, and half of
//! compute's, was those queries (`perf`, issue 15). A bulk write (the roster and changes
//! imports, compute's run lines) therefore asks, where its role may, for
//! `SET LOCAL session_replication_role = replica`, under which PostgreSQL fires no trigger for
//! the rest of the transaction (the ledger has no triggers but the foreign keys'), and before
//! it commits checks the rows it wrote against their parents in one query per foreign key
//! ([`RowChecks::check`]), read from the catalog so that exactly the database's own keys are
//! checked. A row whose parent is missing fails the write as the trigger would have, and the
//! transaction is rolled back: nothing is written.
//!
//! Only a role that may set `session_replication_role` (a superuser; from PostgreSQL 15, a
//! role granted `SET` on it: `GRANT SET ON PARAMETER session_replication_role TO …`) takes
//! this path; for any other role the triggers check every row as before. SQLite: nothing here
//! (an import there does not check foreign keys at all, `Store::begin_import`; compute does).

use super::native::{each_row, Arg};
use super::{Backend, Result, StoreError};
use sqlx::Row;

/// Which of a table's rows a bulk write may have written or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// Any row (the write also updated rows it did not insert).
    All,
    /// Rows whose `id` is above this (ids handed out by the write under the ledger's lock).
    IdAbove(i64),
    /// Rows of this run (`run_id`).
    OfRun(i64),
}

/// Whether a transaction's foreign keys are left to [`RowChecks::check`] instead of PostgreSQL's
/// triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "rows written with the triggers off must be checked before the commit"]
pub(crate) struct RowChecks {
    off: bool,
}

impl RowChecks {
    /// Turns the per-row foreign key triggers off for the rest of the transaction, where the
    /// backend is PostgreSQL and the role may; otherwise leaves them on.
    pub(crate) async fn defer(tx: &mut sqlx::AnyConnection, backend: Backend) -> Result<RowChecks> {
        if backend != Backend::Postgres || !may_set_replication_role(&mut *tx).await? {
            return Ok(RowChecks { off: false });
        }
        sqlx::query("SET LOCAL session_replication_role = replica")
            .execute(&mut *tx)
            .await?;
        Ok(RowChecks { off: true })
    }

    /// Checks every foreign key of `table` over the rows `written`: each names a parent row
    /// that exists. A no-op when the triggers were left on (they checked each row already).
    pub(crate) async fn check(
        self,
        tx: &mut sqlx::AnyConnection,
        table: &'static str,
        written: Written,
    ) -> Result<()> {
        if !self.off {
            return Ok(());
        }
        let keys = foreign_keys(&mut *tx, table).await?;
        let hashed = !keys.is_empty() && many_written(&mut *tx, table, written).await?;
        if hashed {
            sqlx::query("SET LOCAL enable_nestloop = off")
                .execute(&mut *tx)
                .await?;
        }
        for key in keys {
            if let Some(value) = first_orphan(&mut *tx, table, &key, written).await? {
                return Err(StoreError::Refused(format!(
                    "a row of {table} names {} = {value}, which {} does not hold: nothing was written (this is a fault of chieftech; please report it)",
                    key.column, key.parent
                )));
            }
        }
        if hashed {
            sqlx::query("SET LOCAL enable_nestloop TO DEFAULT")
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }
}

/// From how many rows written a table's checks read each parent table once (a hash join)
/// instead of looking each row's parent up in its index.
const HASHED_FROM_ROWS: i64 = 10_000;

/// Whether the rows `written` are at least [`HASHED_FROM_ROWS`]: a whole table always is. The
/// statistics a plan is made from predate the write (a changes file of 250,000 rows was planned
/// as 17,000, as index look-ups across two parallel workers: 0.8 s and three processes busy,
/// against 0.5 s on one for a hash join), so the rows are counted, up to that many.
async fn many_written(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    written: Written,
) -> Result<bool> {
    let (filter, bound) = match written {
        Written::All => return Ok(true),
        Written::IdAbove(id) => ("id > $1", id),
        Written::OfRun(run) => ("run_id = $1", run),
    };
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {filter} LIMIT {HASHED_FROM_ROWS}) s",
        table = quoted(table),
    );
    let mut rows = 0;
    each_row(&mut *conn, &sql, &[Arg::Int(bound)], |r| {
        rows = r.int(0)?;
        Ok::<_, StoreError>(())
    })
    .await?;
    Ok(rows >= HASHED_FROM_ROWS)
}

/// Whether the connection's role may set `session_replication_role`.
async fn may_set_replication_role(conn: &mut sqlx::AnyConnection) -> Result<bool> {
    let version: i64 = sqlx::query("SELECT CAST(current_setting('server_version_num') AS BIGINT)")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    // `has_parameter_privilege` came with PostgreSQL 15; before it only a superuser may.
    let sql = if version >= 150_000 {
        "SELECT has_parameter_privilege('session_replication_role', 'SET')"
    } else {
        "SELECT usesuper FROM pg_user WHERE usename = current_user"
    };
    let may = sqlx::query(sql).fetch_optional(&mut *conn).await?;
    Ok(match may {
        Some(r) => r.try_get::<bool, _>(0)?,
        None => false,
    })
}

/// A single-column foreign key: `table.column` references `parent.parent_column`.
struct ForeignKey {
    column: String,
    parent: String,
    parent_column: String,
}

/// The foreign keys of `table`, from PostgreSQL's catalog (the ledger's are single-column).
async fn foreign_keys(conn: &mut sqlx::AnyConnection, table: &str) -> Result<Vec<ForeignKey>> {
    let mut keys = Vec::new();
    each_row(
        &mut *conn,
        "SELECT a.attname::text, p.relname::text, pa.attname::text, CAST(array_length(c.conkey, 1) AS BIGINT) FROM pg_constraint c JOIN pg_class p ON p.oid = c.confrelid JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1] WHERE c.contype = 'f' AND c.conrelid = CAST(CAST($1 AS TEXT) AS regclass) ORDER BY c.conname",
        &[Arg::Text(table)],
        |r| {
            if r.int(3)? != 1 {
                return Err(StoreError::Usage(format!(
                    "a foreign key of {table} has several columns: chieftech checks single-column keys only"
                )));
            }
            keys.push(ForeignKey {
                column: r.text(0)?,
                parent: r.text(1)?,
                parent_column: r.text(2)?,
            });
            Ok(())
        },
    )
    .await?;
    Ok(keys)
}

/// The first value of `key` among the rows `written` that names no parent row, if any.
async fn first_orphan(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    key: &ForeignKey,
    written: Written,
) -> Result<Option<i64>> {
    let (filter, bound) = match written {
        Written::All => ("", None),
        Written::IdAbove(id) => (" AND c.id > $1", Some(id)),
        Written::OfRun(run) => (" AND c.run_id = $1", Some(run)),
    };
    let sql = format!(
        "SELECT CAST(c.{col} AS BIGINT) FROM {table} c WHERE c.{col} IS NOT NULL{filter} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{pcol} = c.{col}) LIMIT 1",
        col = quoted(&key.column),
        table = quoted(table),
        parent = quoted(&key.parent),
        pcol = quoted(&key.parent_column),
    );
    let args: Vec<Arg> = bound.into_iter().map(Arg::Int).collect();
    let mut found = None;
    each_row(&mut *conn, &sql, &args, |r| {
        found = Some(r.int(0)?);
        Ok::<_, StoreError>(())
    })
    .await?;
    Ok(found)
}

/// An identifier quoted for PostgreSQL.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    #[test]
    fn identifiers_are_quoted_whatever_they_hold() {
        assert_eq!(quoted("run_items"), "\"run_items\"");
        assert_eq!(quoted("a\"b"), "\"a\"\"b\"");
    }

    fn unique(prefix: &str) -> String {
        format!(
            "{prefix}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        )
    }

    async fn exec(conn: &mut sqlx::AnyConnection, sql: String) {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await
            .unwrap();
    }

    /// A parent and a child table; the child's row 1 names parent 1, which exists.
    async fn tables(conn: &mut sqlx::AnyConnection) {
        for sql in [
            "CREATE TABLE parent (id BIGINT PRIMARY KEY)",
            "CREATE TABLE child (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES parent (id), run_id BIGINT)",
            "INSERT INTO parent VALUES (1)",
            "INSERT INTO child VALUES (1, 1, 10)",
        ] {
            exec(conn, sql.into()).await;
        }
    }

    /// A row naming parent 7 (missing), as child 2 of run 20.
    async fn insert_orphan(conn: &mut sqlx::AnyConnection) -> std::result::Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO child VALUES (2, 7, 20)")
            .execute(&mut *conn)
            .await
            .map(|_| ())
    }

    /// A transaction with the triggers off that wrote 10,000 rows of run 30, each naming
    /// parent 1.
    async fn run_of_10_000(
        conn: &mut sqlx::AnyConnection,
    ) -> (sqlx::Transaction<'_, sqlx::Any>, RowChecks) {
        let mut tx = conn.begin().await.unwrap();
        let checks = RowChecks::defer(&mut tx, Backend::Postgres).await.unwrap();
        let sql = "INSERT INTO child SELECT g, 1, 30 FROM generate_series(100, 10099) g";
        exec(&mut tx, sql.into()).await;
        (tx, checks)
    }

    /// With the triggers off, the rows written are checked in one query per key: an orphan
    /// among them fails the write, one outside them (another run, an older id) does not; a
    /// role that may not turn the triggers off keeps PostgreSQL's own check of every row.
    #[tokio::test]
    async fn rows_written_with_the_triggers_off_are_checked_before_the_commit() {
        let Some((server, mut admin)) = crate::store::test_server().await else {
            return;
        };
        let (db, role) = (unique("chieftech_refs"), unique("chieftech_refs_role"));
        exec(&mut admin, format!("CREATE DATABASE {db}")).await;
        exec(&mut admin, format!("CREATE ROLE {role} LOGIN")).await;
        let mut conn = sqlx::AnyConnection::connect(&format!("{server}/{db}"))
            .await
            .unwrap();
        tables(&mut conn).await;
        exec(&mut conn, format!("GRANT ALL ON parent, child TO {role}")).await;

        let mut tx = conn.begin().await.unwrap();
        let checks = RowChecks::defer(&mut tx, Backend::Postgres).await.unwrap();
        assert_eq!(
            checks,
            RowChecks { off: true },
            "a superuser turns them off"
        );
        insert_orphan(&mut tx)
            .await
            .expect("no trigger checks the row");
        checks
            .check(&mut tx, "child", Written::OfRun(10))
            .await
            .unwrap();
        checks
            .check(&mut tx, "child", Written::IdAbove(2))
            .await
            .unwrap();
        let refused = checks.check(&mut tx, "child", Written::IdAbove(1)).await;
        let message = refused.expect_err("the orphan is found").to_string();
        assert!(message.contains("child names parent_id = 7"), "{message}");
        assert!(message.contains("parent does not hold"), "{message}");
        let all = checks.check(&mut tx, "child", Written::All).await;
        assert!(all.is_err(), "every row checked finds it too");
        tx.rollback().await.unwrap();

        // Past HASHED_FROM_ROWS rows written, the same checks planned as hash joins find the
        // orphan among them too, and leave the planner's setting as they found it.
        let (mut tx, checks) = run_of_10_000(&mut conn).await;
        insert_orphan(&mut tx).await.unwrap();
        assert!(many_written(&mut tx, "child", Written::IdAbove(1))
            .await
            .unwrap());
        assert!(!many_written(&mut tx, "child", Written::IdAbove(5000))
            .await
            .unwrap());
        checks
            .check(&mut tx, "child", Written::OfRun(30))
            .await
            .expect("the run's 10,000 rows name parent 1");
        let refused = checks.check(&mut tx, "child", Written::IdAbove(1)).await;
        assert!(refused.is_err(), "the orphan is found among 10,001 rows");
        tx.rollback().await.unwrap();
        let (mut tx, checks) = run_of_10_000(&mut conn).await;
        checks
            .check(&mut tx, "child", Written::OfRun(30))
            .await
            .unwrap();
        let nestloop: String = sqlx::query_scalar("SELECT current_setting('enable_nestloop')")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(nestloop, "on");
        tx.rollback().await.unwrap();

        // Off for the transaction only: the next one checks every row again.
        let mut tx = conn.begin().await.unwrap();
        assert!(insert_orphan(&mut tx).await.is_err(), "the trigger is back");
        tx.rollback().await.unwrap();
        conn.close().await.unwrap();

        let mut plain = sqlx::AnyConnection::connect(&format!(
            "{}/{db}",
            server.replacen("postgres@", &format!("{role}@"), 1)
        ))
        .await
        .unwrap();
        let mut tx = plain.begin().await.unwrap();
        let checks = RowChecks::defer(&mut tx, Backend::Postgres).await.unwrap();
        assert_eq!(checks, RowChecks { off: false }, "a plain role may not");
        assert!(
            insert_orphan(&mut tx).await.is_err(),
            "PostgreSQL checks the row"
        );
        drop(tx);
        plain.close().await.unwrap();

        exec(&mut admin, format!("DROP DATABASE {db}")).await;
        exec(&mut admin, format!("DROP ROLE {role}")).await;
    }

    #[tokio::test]
    async fn sqlite_keeps_its_own_settings() {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        let checks = RowChecks::defer(&mut tx, Backend::Sqlite).await.unwrap();
        assert_eq!(checks, RowChecks { off: false });
        checks
            .check(&mut tx, "no_such_table", Written::All)
            .await
            .expect("nothing to check: SQLite's own settings hold");
    }
}
