//! Reading a source: one connection, one read-only transaction with a consistent snapshot, rows
//! streamed (never fetched whole), every value as text. Nothing is ever written to a source:
//! the transaction is read-only and is rolled back at the end.

use super::config::{SourceBackend, SourceConfig};
use futures_util::stream::{BoxStream, StreamExt};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Row};
use std::str::FromStr;

/// An open source: a connection inside its snapshot transaction.
pub enum SourceConn {
    Pg(PgConnection),
    MySql(MySqlConnection),
}

/// A row's values, as text (NULL: None), in the order of the SELECT.
pub type TextRow = Vec<Option<String>>;

/// Why a source could not be read: the reason, masked (no password is ever in it; ID-like
/// numbers are masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFailure(pub String);

fn failure(e: impl std::fmt::Display) -> ReadFailure {
    ReadFailure(crate::rules::id_number::mask_numbers(&e.to_string()))
}

/// The password of a source from its environment variable (none when unset).
fn password(s: &SourceConfig) -> Option<String> {
    std::env::var(&s.password_env)
        .ok()
        .filter(|p| !p.is_empty())
}

impl SourceConn {
    /// Connects (within `connect_timeout_seconds`) and opens the snapshot.
    pub async fn open(s: &SourceConfig) -> Result<SourceConn, ReadFailure> {
        let timeout = std::time::Duration::from_secs(s.connect_timeout_seconds);
        let connect = async {
            match s.backend {
                SourceBackend::Postgres => {
                    let mut o = PgConnectOptions::from_str(&s.url).map_err(failure)?;
                    if let Some(p) = password(s) {
                        o = o.password(&p);
                    }
                    let o = o.application_name("chieftech-source");
                    Ok(SourceConn::Pg(
                        PgConnection::connect_with(&o).await.map_err(failure)?,
                    ))
                }
                SourceBackend::MySql => {
                    let url = s.url.replacen("mariadb://", "mysql://", 1);
                    let mut o = MySqlConnectOptions::from_str(&url).map_err(failure)?;
                    if let Some(p) = password(s) {
                        o = o.password(&p);
                    }
                    Ok(SourceConn::MySql(
                        MySqlConnection::connect_with(&o).await.map_err(failure)?,
                    ))
                }
            }
        };
        let mut conn = tokio::time::timeout(timeout, connect).await.map_err(|_| {
            ReadFailure(format!("no answer within {} s", s.connect_timeout_seconds))
        })??;
        conn.begin_snapshot().await?;
        Ok(conn)
    }

    /// A read-only transaction that sees one consistent snapshot for all its reads.
    async fn begin_snapshot(&mut self) -> Result<(), ReadFailure> {
        match self {
            SourceConn::Pg(c) => {
                sqlx::raw_sql("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *c)
                    .await
                    .map_err(failure)?;
            }
            SourceConn::MySql(c) => {
                sqlx::raw_sql("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .execute(&mut *c)
                    .await
                    .map_err(failure)?;
                sqlx::raw_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                    .execute(&mut *c)
                    .await
                    .map_err(failure)?;
            }
        }
        Ok(())
    }

    /// The rows of a SELECT, streamed from the server.
    pub fn rows(&mut self, sql: String) -> BoxStream<'_, Result<TextRow, ReadFailure>> {
        match self {
            SourceConn::Pg(c) => sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch(c)
                .map(|r| {
                    let row = r.map_err(failure)?;
                    (0..row.len())
                        .map(|i| row.try_get_unchecked::<Option<String>, _>(i))
                        .collect::<Result<TextRow, _>>()
                        .map_err(failure)
                })
                .boxed(),
            SourceConn::MySql(c) => sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch(c)
                .map(|r| {
                    let row = r.map_err(failure)?;
                    (0..row.len())
                        .map(|i| row.try_get_unchecked::<Option<String>, _>(i))
                        .collect::<Result<TextRow, _>>()
                        .map_err(failure)
                })
                .boxed(),
        }
    }

    /// Ends the snapshot (rolled back: nothing was written) and closes the connection.
    pub async fn close(self) {
        match self {
            SourceConn::Pg(mut c) => {
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut c).await;
                let _ = c.close().await;
            }
            SourceConn::MySql(mut c) => {
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut c).await;
                let _ = c.close().await;
            }
        }
    }
}
