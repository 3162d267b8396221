//! SQLite's own API on the connection sqlx opened, for the statements that handle a run's or
//! an import's rows by the hundred thousand.
//!
//! sqlx's SQLite driver runs each connection on a worker thread and hands every row of a
//! result to the caller through a channel: each row costs a copy of every value, a message
//! and a thread wake-up on each side. Streaming a run of 74,000 lines took 1.9 s that way,
//! 0.3 s through SQLite's API. [`with_sqlite`] lends the same connection (the same
//! transaction, the same file lock) to `rusqlite` while sqlx's worker is held off it, so a
//! use case reads or writes its bulk rows natively and everything else stays on sqlx.
//!
//! On PostgreSQL [`with_sqlite`] returns `None`: [`each_row`] streams PostgreSQL's own rows
//! through sqlx's PostgreSQL driver (not copied into `AnyRow`s), [`insert_rows`] sends its rows
//! with `COPY … FROM STDIN`, and [`Bulk`] keeps one such `COPY` open while its caller makes
//! batch after batch (the driver's own API, reached the same way). Both paths take their SQL
//! text from one constant and decode rows through [`Cols`], so a statement and what is made
//! of its rows have one implementation.
//!
//! The native work runs on the calling thread and blocks it (about a second at 100,000 rows,
//! while the transaction it belongs to holds the ledger's write lock anyway).

use super::{Result, StoreError};

/// Runs `f` with SQLite's native connection under `conn` (the same connection, inside the
/// transaction it is in), or returns `Ok(None)` without calling `f` when `conn` is not SQLite.
///
/// `f` runs on the calling thread and blocks it: keep it to the bulk work.
pub(crate) async fn with_sqlite<T>(
    conn: &mut sqlx::AnyConnection,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T>,
) -> Result<Option<T>> {
    let backend: &mut dyn std::any::Any = conn.backend_mut();
    let Some(sqlite) = backend.downcast_mut::<sqlx::SqliteConnection>() else {
        return Ok(None);
    };
    let mut locked = sqlite.lock_handle().await?;
    let raw = locked.as_raw_handle();
    // SAFETY: `raw` is the open connection sqlx's worker owns; `locked` keeps the worker off
    // it until it drops, after `native`. A connection made by `from_handle` does not close
    // the handle when dropped (it finalizes only the statements it prepared itself).
    let native = unsafe { rusqlite::Connection::from_handle(raw.as_ptr()) }.map_err(native_err)?;
    let out = f(&native);
    drop(native);
    drop(locked);
    out.map(Some)
}

/// A value bound to a statement's parameter in [`each_row`] and [`insert_rows`]. A NULL
/// keeps its column's type (PostgreSQL refuses a NULL of another type).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Int(i64),
    Text(&'a str),
    OptInt(Option<i64>),
    OptText(Option<&'a str>),
}

impl Arg<'_> {
    fn bind_native(&self, st: &mut rusqlite::Statement<'_>, i: usize) -> Result<()> {
        match *self {
            Arg::Int(v) => st.raw_bind_parameter(i, v),
            Arg::Text(v) => st.raw_bind_parameter(i, v),
            Arg::OptInt(v) => st.raw_bind_parameter(i, v),
            Arg::OptText(v) => st.raw_bind_parameter(i, v),
        }
        .map_err(native_err)
    }

    /// Binds the value to sqlx's next parameter, on any of its databases.
    fn bind_to<'q, DB>(
        &self,
        q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    ) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
    where
        DB: sqlx::Database,
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        match *self {
            Arg::Int(v) => q.bind(v),
            Arg::Text(v) => q.bind(v.to_string()),
            Arg::OptInt(v) => q.bind(v),
            Arg::OptText(v) => q.bind(v.map(str::to_string)),
        }
    }
}

/// Rows of one `COPY` message [`insert_rows`] sends on PostgreSQL.
const COPY_SLICE_ROWS: usize = 500;

/// Inserts rows into `target` (`t (a, b, …)`), `cols` values a row, `args` row after row.
/// On SQLite one prepared single-row statement runs once a row (through SQLite's API a
/// statement costs next to nothing); on PostgreSQL the rows go in with `COPY … FROM STDIN`
/// (one round trip, no statement to plan). Either way inside the caller's transaction.
pub(crate) async fn insert_rows(
    conn: &mut sqlx::AnyConnection,
    target: &str,
    cols: usize,
    args: &[Arg<'_>],
) -> Result<()> {
    insert_rows_meanwhile(conn, target, cols, args, || ()).await
}

/// Inserts rows like [`insert_rows`] and runs `meanwhile` once they are sent: on PostgreSQL
/// while the server takes them in (the caller makes its next rows meanwhile), elsewhere after
/// the insert. `meanwhile` does not run when sending fails.
pub(crate) async fn insert_rows_meanwhile<T>(
    conn: &mut sqlx::AnyConnection,
    target: &str,
    cols: usize,
    args: &[Arg<'_>],
    meanwhile: impl FnOnce() -> T,
) -> Result<T> {
    if args.is_empty() || cols == 0 {
        return Ok(meanwhile());
    }
    debug_assert_eq!(args.len() % cols, 0, "{target}: a row has {cols} values");
    let backend: &mut dyn std::any::Any = conn.backend_mut();
    if let Some(pg) = backend.downcast_mut::<sqlx::PgConnection>() {
        // Sent a slice at a time as it is made: the server takes in one slice while the next
        // is made (a roster import's chunk of 5,000 appointments waited for all its text).
        let slices = args
            .chunks(cols * COPY_SLICE_ROWS)
            .map(|rows| copy_text(cols, rows));
        return copy_in(pg, target, slices, meanwhile).await;
    }
    let native = with_sqlite(&mut *conn, |db| {
        let sql = format!(
            "INSERT INTO {target} VALUES ({})",
            vec!["?"; cols].join(", ")
        );
        let mut st = db.prepare(&sql).map_err(native_err)?;
        for row in args.chunks(cols) {
            for (i, a) in row.iter().enumerate() {
                a.bind_native(&mut st, i + 1)?;
            }
            st.raw_execute().map_err(native_err)?;
        }
        Ok(())
    })
    .await?;
    match native {
        Some(()) => Ok(meanwhile()),
        None => Err(StoreError::Native(format!(
            "no bulk insert for the {} driver",
            conn.backend_name()
        ))),
    }
}

/// Inserts rows whose `COPY` text ([`copy_text`]) was made already, on PostgreSQL.
pub(crate) async fn insert_copy_text(
    conn: &mut sqlx::AnyConnection,
    target: &str,
    text: String,
) -> Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    let backend: &mut dyn std::any::Any = conn.backend_mut();
    let Some(pg) = backend.downcast_mut::<sqlx::PgConnection>() else {
        return Err(StoreError::Native(format!(
            "COPY text for {target} on the {} driver",
            conn.backend_name()
        )));
    };
    copy_in(pg, target, std::iter::once(text), || ()).await
}

/// `COPY target FROM STDIN` of `text`, each piece sent as it is made; `meanwhile` runs once
/// all is sent, before the server's answer is awaited.
async fn copy_in<T>(
    pg: &mut sqlx::PgConnection,
    target: &str,
    text: impl Iterator<Item = String>,
    meanwhile: impl FnOnce() -> T,
) -> Result<T> {
    let mut copy = pg.copy_in_raw(&format!("COPY {target} FROM STDIN")).await?;
    for piece in text {
        copy.send(piece.into_bytes()).await?;
    }
    let out = meanwhile();
    copy.finish().await?;
    Ok(out)
}

/// Rows streamed into one table by one statement, batch after batch: on PostgreSQL one
/// `COPY … FROM STDIN` kept open until [`Bulk::finish`], so the server takes in a batch while
/// the caller makes the next (a run's 740,000 lines as 1,855 COPY statements of 400 made the
/// caller wait for each; a statement's own cost is about a third of its rows' at that size);
/// on SQLite each batch through [`insert_rows`] (an insert there costs no round trip).
///
/// The connection is the bulk's until it finishes: nothing else may run on it in between.
/// Between [`Bulk::start`] and [`Bulk::finish`] only [`Bulk::push`] may fail; a caller that
/// must stop on an error of its own calls [`Bulk::abort`] (a PostgreSQL COPY dropped unfinished
/// leaves the server's answer unread on the connection).
pub(crate) struct Bulk<'c> {
    sink: Sink<'c>,
    table: &'static str,
    cols: usize,
    rows: u64,
}

/// Where a [`Bulk`]'s rows go.
enum Sink<'c> {
    /// PostgreSQL: the open COPY.
    Copy(sqlx::postgres::PgCopyIn<&'c mut sqlx::PgConnection>),
    /// Elsewhere: [`insert_rows`] on the connection, a batch at a time.
    Rows(&'c mut sqlx::AnyConnection),
}

impl<'c> Bulk<'c> {
    /// Starts streaming rows into `table` (`t (a, b, …)`), `cols` values a row.
    pub(crate) async fn start(
        conn: &'c mut sqlx::AnyConnection,
        table: &'static str,
        cols: usize,
    ) -> Result<Bulk<'c>> {
        let postgres = {
            let backend: &mut dyn std::any::Any = conn.backend_mut();
            backend.is::<sqlx::PgConnection>()
        };
        let sink = if postgres {
            let backend: &mut dyn std::any::Any = conn.backend_mut();
            let Some(pg) = backend.downcast_mut::<sqlx::PgConnection>() else {
                return Err(StoreError::Native(
                    "the PostgreSQL connection went away".into(),
                ));
            };
            Sink::Copy(pg.copy_in_raw(&format!("COPY {table} FROM STDIN")).await?)
        } else {
            Sink::Rows(conn)
        };
        Ok(Bulk {
            sink,
            table,
            cols,
            rows: 0,
        })
    }

    /// Sends rows (`cols` values each, row after row).
    pub(crate) async fn push(&mut self, args: &[Arg<'_>]) -> Result<()> {
        if args.is_empty() {
            return Ok(());
        }
        debug_assert_eq!(
            args.len() % self.cols,
            0,
            "{}: a row has {} values",
            self.table,
            self.cols
        );
        self.rows += (args.len() / self.cols) as u64;
        match &mut self.sink {
            Sink::Copy(copy) => {
                copy.send(copy_text(self.cols, args).into_bytes()).await?;
                Ok(())
            }
            Sink::Rows(conn) => insert_rows(conn, self.table, self.cols, args).await,
        }
    }

    /// Ends the statement without its rows: PostgreSQL's COPY is cancelled and its error read,
    /// so the connection is left in step for the transaction's rollback. Use it when the
    /// caller stops on an error of its own; a bulk merely dropped leaves PostgreSQL's answer
    /// to the cancelled COPY unread, which the connection's next statement would take for its
    /// own (`tests`: `a_bulk_…_an_aborted_one_…`).
    pub(crate) async fn abort(self) -> Result<()> {
        if let Sink::Copy(copy) = self.sink {
            copy.abort("the caller stopped").await?;
        }
        Ok(())
    }

    /// Ends the statement (PostgreSQL: waits for the server to take the last rows in) and
    /// returns how many rows went in.
    pub(crate) async fn finish(self) -> Result<u64> {
        if let Sink::Copy(copy) = self.sink {
            copy.finish().await?;
        }
        Ok(self.rows)
    }
}

/// Rows in PostgreSQL's COPY text format: tab between values, a line a row, `\N` for NULL,
/// and backslash, tab, newline and carriage return escaped.
pub(crate) fn copy_text(cols: usize, args: &[Arg<'_>]) -> String {
    let mut out = String::with_capacity(args.len() * 12);
    for row in args.chunks(cols) {
        for (i, a) in row.iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            match *a {
                Arg::Int(v) | Arg::OptInt(Some(v)) => {
                    out.push_str(itoa::Buffer::new().format(v));
                }
                // Nothing to escape: copied whole. The test looks at every byte without
                // stopping early (a loop the compiler runs many bytes at a time); a control
                // character other than the three COPY reads takes the escaping path, which
                // copies it unchanged.
                Arg::Text(v) | Arg::OptText(Some(v))
                    if !v
                        .bytes()
                        .fold(false, |seen, b| seen | (b < 0x20) | (b == b'\\')) =>
                {
                    out.push_str(v);
                }
                Arg::Text(v) | Arg::OptText(Some(v)) => {
                    for c in v.chars() {
                        match c {
                            '\\' => out.push_str("\\\\"),
                            '\t' => out.push_str("\\t"),
                            '\n' => out.push_str("\\n"),
                            '\r' => out.push_str("\\r"),
                            c => out.push(c),
                        }
                    }
                }
                Arg::OptInt(None) | Arg::OptText(None) => out.push_str("\\N"),
            }
        }
        out.push('\n');
    }
    out
}

/// Calls `f` with each row of `sql` (its parameters `$1`, `$2`… bound to `args`), streamed:
/// through SQLite's own API on SQLite, through sqlx elsewhere. An error of `f` stops it.
pub(crate) async fn each_row<E: From<StoreError>>(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    args: &[Arg<'_>],
    mut f: impl FnMut(&dyn Cols) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let native = with_sqlite(&mut *conn, |db| {
        let mut st = db.prepare(sql).map_err(native_err)?;
        for (i, a) in args.iter().enumerate() {
            a.bind_native(&mut st, i + 1)?;
        }
        let mut rows = st.raw_query();
        let mut out = Ok(());
        while let Some(r) = rows.next().map_err(native_err)? {
            out = f(r);
            if out.is_err() {
                break;
            }
        }
        Ok(out)
    })
    .await
    .map_err(E::from)?;
    if let Some(out) = native {
        return out;
    }
    let backend: &mut dyn std::any::Any = conn.backend_mut();
    if let Some(pg) = backend.downcast_mut::<sqlx::PgConnection>() {
        // PostgreSQL's own rows: an `AnyRow` copies every value of every row (and the row's
        // column list) once more, a fifth of the client's time reading a million rows.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
        for a in args {
            query = a.bind_to(query);
        }
        return drain(query.fetch(pg), f).await;
    }
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for a in args {
        query = a.bind_to(query);
    }
    drain(query.fetch(&mut *conn), f).await
}

/// The values a [`Lookup`] matches its column against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Keys<'a> {
    Texts(&'a [&'a str]),
    Ints(&'a [i64]),
}

impl Keys<'_> {
    fn is_empty(&self) -> bool {
        match self {
            Keys::Texts(k) => k.is_empty(),
            Keys::Ints(k) => k.is_empty(),
        }
    }
}

/// A look-up of the rows whose `column` is one of many keys: `SELECT {select} WHERE {column}
/// = key [AND {filter}] {order}`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lookup<'a> {
    /// `SELECT … FROM table` (one table, no WHERE).
    pub select: &'a str,
    pub column: &'a str,
    pub filter: Option<&'a str>,
    /// `ORDER BY …` or empty: on SQLite it orders each chunk of keys alone.
    pub order: &'a str,
}

/// Keys per `IN (…)` list of a [`Lookup`] on SQLite.
const LOOKUP_CHUNK: usize = 500;

/// Calls `f` with each row of `lookup` over `keys` (each key once; a key with no row gives
/// none). On PostgreSQL one statement takes the keys as one array parameter (`= ANY($1)`),
/// planned for them each time, so that the planner, which sees how many there are, hashes a
/// long list and tests each row of one pass over the table against it instead of looking
/// every key up in an index (200,000 ID numbers against a million technicians: 0.1 s; as a
/// join with the keys, which hashed the whole table instead, 0.27 s; key by key 1.5 s, and
/// 400 round trips). On SQLite, `IN` lists of 500 keys, each a few index look-ups in the
/// same process.
pub(crate) async fn each_row_matching<E: From<StoreError>>(
    conn: &mut sqlx::AnyConnection,
    lookup: &Lookup<'_>,
    keys: Keys<'_>,
    mut f: impl FnMut(&dyn Cols) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let Lookup {
        select,
        column,
        filter,
        order,
    } = *lookup;
    let and = filter.map(|c| format!(" AND {c}")).unwrap_or_default();
    let backend: &mut dyn std::any::Any = conn.backend_mut();
    if let Some(pg) = backend.downcast_mut::<sqlx::PgConnection>() {
        if keys.is_empty() {
            return Ok(());
        }
        let kind = match keys {
            Keys::Texts(_) => "text",
            Keys::Ints(_) => "bigint",
        };
        let sql = format!("{select} WHERE {column} = ANY(CAST($1 AS {kind}[])){and} {order}");
        // Planned for these keys every time (not cached): a plan made for a few keys (index
        // look-ups) would be kept for two hundred thousand.
        let query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
        let query = match keys {
            Keys::Texts(k) => query.bind(k.to_vec()),
            Keys::Ints(k) => query.bind(k.to_vec()),
        };
        return drain(query.fetch(pg), f).await;
    }
    let args: Vec<Arg> = match keys {
        Keys::Texts(k) => k.iter().map(|v| Arg::Text(v)).collect(),
        Keys::Ints(k) => k.iter().map(|v| Arg::Int(*v)).collect(),
    };
    for chunk in args.chunks(LOOKUP_CHUNK) {
        let list = super::roster::placeholders(super::Backend::Sqlite, 1, chunk.len());
        let sql = format!("{select} WHERE {column} IN ({list}){and} {order}");
        each_row(&mut *conn, &sql, chunk, &mut f).await?;
    }
    Ok(())
}

/// Calls `f` with each row of a sqlx stream; an error of either stops it.
async fn drain<R: Cols, E: From<StoreError>>(
    mut rows: impl futures_util::Stream<Item = std::result::Result<R, sqlx::Error>> + Unpin,
    mut f: impl FnMut(&dyn Cols) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    use futures_util::TryStreamExt;
    while let Some(r) = rows
        .try_next()
        .await
        .map_err(|e| E::from(StoreError::from(e)))?
    {
        f(&r)?;
    }
    Ok(())
}

/// A native SQLite error as the store reports it.
pub(crate) fn native_err(e: rusqlite::Error) -> StoreError {
    StoreError::Native(e.to_string())
}

/// The columns of a result row, read the same way from sqlx's rows and SQLite's.
pub(crate) trait Cols {
    fn int(&self, i: usize) -> Result<i64>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>>;
    fn text(&self, i: usize) -> Result<String>;
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
    /// The index of the column named `name`.
    fn index(&self, name: &str) -> Result<usize>;
}

/// [`Cols`] for a row type of sqlx (its `try_get`, its column names).
macro_rules! sqlx_cols {
    ($row:ty) => {
        impl Cols for $row {
            fn int(&self, i: usize) -> Result<i64> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn opt_int(&self, i: usize) -> Result<Option<i64>> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn text(&self, i: usize) -> Result<String> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn opt_text(&self, i: usize) -> Result<Option<String>> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn index(&self, name: &str) -> Result<usize> {
                use sqlx::ColumnIndex;
                Ok(name.index(self)?)
            }
        }
    };
}

sqlx_cols!(sqlx::any::AnyRow);
sqlx_cols!(sqlx::postgres::PgRow);

impl Cols for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> Result<i64> {
        self.get(i).map_err(native_err)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        self.get(i).map_err(native_err)
    }
    fn text(&self, i: usize) -> Result<String> {
        self.get(i).map_err(native_err)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        self.get(i).map_err(native_err)
    }
    fn index(&self, name: &str) -> Result<usize> {
        self.as_ref().column_index(name).map_err(native_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite_conn() -> sqlx::AnyConnection {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect("sqlite::memory:")
            .await
            .unwrap()
    }

    #[test]
    fn copy_text_escapes_what_copy_would_misread() {
        let args = [
            Arg::Text("a\tb"),
            Arg::OptText(None),
            Arg::Int(-5),
            Arg::Text("x\\y\nz\r"),
            Arg::OptInt(None),
            Arg::OptText(Some("张店")),
        ];
        assert_eq!(
            copy_text(3, &args),
            "a\\tb\t\\N\t-5\nx\\\\y\\nz\\r\t\\N\t张店\n"
        );
    }

    /// The rows `insert_rows` wrote into `t`, as text.
    async fn rows_of_t(conn: &mut sqlx::AnyConnection) -> Vec<(i64, Option<String>, Option<i64>)> {
        sqlx::query_as("SELECT id, t, n FROM t ORDER BY id")
            .fetch_all(conn)
            .await
            .unwrap()
    }

    const AWKWARD: [&str; 4] = [
        "tab\there",
        "line\nbreak\r\n",
        "back\\slash \\N",
        "首席技师",
    ];

    /// Row `i` of the awkward rows: its text NULL on row 1, its number NULL on row 2.
    fn awkward_args(i: usize, text: &str) -> [Arg<'_>; 3] {
        [
            Arg::Int(i as i64),
            Arg::OptText((i != 1).then_some(text)),
            Arg::OptInt((i != 2).then_some(i as i64 * 10)),
        ]
    }

    /// The awkward rows as [`rows_of_t`] reads them back.
    fn awkward_rows() -> Vec<(i64, Option<String>, Option<i64>)> {
        AWKWARD
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let i = i as i64;
                (
                    i,
                    (i != 1).then(|| t.to_string()),
                    (i != 2).then_some(i * 10),
                )
            })
            .collect()
    }

    async fn insert_awkward(conn: &mut sqlx::AnyConnection) {
        use sqlx::Connection;
        sqlx::query("CREATE TABLE t (id BIGINT PRIMARY KEY, t TEXT, n BIGINT)")
            .execute(&mut *conn)
            .await
            .unwrap();
        let mut args = Vec::new();
        for (i, text) in AWKWARD.iter().enumerate() {
            args.extend(awkward_args(i, text));
        }
        let mut tx = conn.begin().await.unwrap();
        insert_rows(&mut tx, "t (id, t, n)", 3, &args)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let expected = awkward_rows();
        assert_eq!(rows_of_t(conn).await, expected);
    }

    #[tokio::test]
    async fn insert_rows_writes_awkward_text_and_nulls_on_sqlite() {
        let mut conn = sqlite_conn().await;
        insert_awkward(&mut conn).await;
    }

    /// A database of its own on the test server ([`crate::store::test_server`]): (a
    /// connection to `postgres`, one to the new database, its name); None where no server
    /// answers outside CI. [`drop_pg`] drops it.
    async fn pg_conn() -> Option<(sqlx::AnyConnection, sqlx::AnyConnection, String)> {
        use sqlx::Connection;
        let (server, mut admin) = crate::store::test_server().await?;
        let name = format!(
            "chieftech_native_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let conn = sqlx::AnyConnection::connect(&format!("{server}/{name}"))
            .await
            .unwrap();
        Some((admin, conn, name))
    }

    async fn drop_pg((mut admin, conn, name): (sqlx::AnyConnection, sqlx::AnyConnection, String)) {
        use sqlx::Connection;
        conn.close().await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
    }

    /// More rows than one COPY message holds arrive whole and in order, the message
    /// boundaries falling inside the rows' run.
    #[tokio::test]
    async fn insert_rows_sends_many_rows_in_slices_on_postgres() {
        let Some(mut pg) = pg_conn().await else {
            return;
        };
        let conn = &mut pg.1;
        sqlx::query("CREATE TABLE t (id BIGINT PRIMARY KEY, t TEXT, n BIGINT)")
            .execute(&mut *conn)
            .await
            .unwrap();
        let n = COPY_SLICE_ROWS * 2 + 1;
        let texts: Vec<String> = (0..n).map(|i| format!("第{i}行\t")).collect();
        let args: Vec<Arg> = texts
            .iter()
            .enumerate()
            .flat_map(|(i, t)| [Arg::Int(i as i64), Arg::Text(t), Arg::OptInt(None)])
            .collect();
        insert_rows(&mut *conn, "t (id, t, n)", 3, &args)
            .await
            .unwrap();
        let expected: Vec<(i64, Option<String>, Option<i64>)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| (i as i64, Some(t.clone()), None))
            .collect();
        assert_eq!(rows_of_t(conn).await, expected);
        drop_pg(pg).await;
    }

    #[tokio::test]
    async fn insert_rows_writes_awkward_text_and_nulls_on_postgres_through_copy() {
        let Some(mut pg) = pg_conn().await else {
            return;
        };
        insert_awkward(&mut pg.1).await;
        drop_pg(pg).await;
    }

    /// Streams the awkward rows through a [`Bulk`] a row a batch, then checks that a bulk
    /// aborted unfinished writes nothing and leaves the connection in step.
    async fn bulk_awkward(conn: &mut sqlx::AnyConnection) {
        use sqlx::Connection;
        sqlx::query("CREATE TABLE t (id BIGINT PRIMARY KEY, t TEXT, n BIGINT)")
            .execute(&mut *conn)
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        let mut bulk = Bulk::start(&mut tx, "t (id, t, n)", 3).await.unwrap();
        for (i, text) in AWKWARD.iter().enumerate() {
            bulk.push(&awkward_args(i, text)).await.unwrap();
        }
        assert_eq!(bulk.finish().await.unwrap(), AWKWARD.len() as u64);
        tx.commit().await.unwrap();
        let expected = awkward_rows();
        assert_eq!(rows_of_t(conn).await, expected);
        // Aborted before it finished (the caller stopped on an error of its own): nothing of
        // it is kept, and the connection answers its next statements in step.
        let mut tx = conn.begin().await.unwrap();
        let mut bulk = Bulk::start(&mut tx, "t (id, t, n)", 3).await.unwrap();
        bulk.push(&[Arg::Int(99), Arg::Text("lost"), Arg::OptInt(None)])
            .await
            .unwrap();
        bulk.abort().await.unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(rows_of_t(conn).await, expected);
        let one: (i64,) = sqlx::query_as("SELECT CAST(1 AS BIGINT)")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(one, (1,));
    }

    #[tokio::test]
    async fn a_bulk_streams_its_batches_and_an_aborted_one_writes_nothing_on_sqlite() {
        let mut conn = sqlite_conn().await;
        bulk_awkward(&mut conn).await;
    }

    #[tokio::test]
    async fn a_bulk_streams_its_batches_through_one_copy_and_an_aborted_one_writes_nothing_on_postgres(
    ) {
        let Some(mut pg) = pg_conn().await else {
            return;
        };
        bulk_awkward(&mut pg.1).await;
        drop_pg(pg).await;
    }

    /// [`each_row_matching`] over more keys than one `IN` list holds on SQLite, text and
    /// integer keys, a key with no row, and a filter: the rows the same SQL with one `IN`
    /// list would give.
    async fn lookup_rows(conn: &mut sqlx::AnyConnection) {
        sqlx::query("CREATE TABLE p (id BIGINT PRIMARY KEY, k TEXT NOT NULL, live BIGINT)")
            .execute(&mut *conn)
            .await
            .unwrap();
        let names: Vec<String> = (0..1200).map(|i| format!("工号{i:05}")).collect();
        let mut args = Vec::new();
        for (i, k) in names.iter().enumerate() {
            args.extend([
                Arg::Int(i as i64),
                Arg::Text(k),
                Arg::Int(i64::from(i % 3 != 0)),
            ]);
        }
        insert_rows(&mut *conn, "p (id, k, live)", 3, &args)
            .await
            .unwrap();
        let mut keys: Vec<&str> = names.iter().step_by(2).map(String::as_str).collect();
        keys.push("没有这个人");
        let lookup = Lookup {
            select: "SELECT id, k FROM p",
            column: "k",
            filter: Some("live = 1"),
            order: "ORDER BY id",
        };
        let mut seen = Vec::new();
        each_row_matching(&mut *conn, &lookup, Keys::Texts(&keys), |r| {
            seen.push((r.int(0)?, r.text(1)?));
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
        seen.sort();
        let expected: Vec<(i64, String)> = (0..1200_i64)
            .filter(|i| i % 2 == 0 && i % 3 != 0)
            .map(|i| (i, names[i as usize].clone()))
            .collect();
        assert_eq!(seen.len(), 400);
        assert_eq!(seen, expected);
        let by_id = Lookup {
            select: "SELECT id FROM p",
            column: "id",
            filter: None,
            order: "ORDER BY id",
        };
        let mut ids = Vec::new();
        each_row_matching(&mut *conn, &by_id, Keys::Ints(&[3, 5, 99_999]), |r| {
            ids.push(r.int(0)?);
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
        assert_eq!(ids, vec![3, 5]);
        each_row_matching(&mut *conn, &by_id, Keys::Ints(&[]), |_| {
            Err::<(), _>(StoreError::Corrupt("no key, no row".into()))
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn each_row_matching_finds_the_rows_of_many_keys_on_sqlite() {
        lookup_rows(&mut sqlite_conn().await).await;
    }

    #[tokio::test]
    async fn each_row_matching_finds_the_rows_of_many_keys_on_postgres_in_one_statement() {
        let Some(mut pg) = pg_conn().await else {
            return;
        };
        lookup_rows(&mut pg.1).await;
        drop_pg(pg).await;
    }

    /// A task that panics with a bulk open (so neither finish nor abort runs) costs the pool
    /// that connection, not the next caller's answers: on its way back to the pool the
    /// connection meets the cancelled COPY's error and is closed, and the pool's next
    /// connection (one at most here, so the same slot) answers in step.
    #[tokio::test]
    async fn a_bulk_left_open_by_a_panic_leaves_the_pool_answering_in_step() {
        use sqlx::Connection;
        let Some(pg) = pg_conn().await else {
            return;
        };
        let (server, _) = crate::store::test_server().await.unwrap();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{server}/{}", pg.2))
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (id BIGINT PRIMARY KEY, t TEXT, n BIGINT)")
            .execute(&pool)
            .await
            .unwrap();
        let panicking = pool.clone();
        let task = tokio::spawn(async move {
            let mut conn = panicking.acquire().await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            let mut bulk = Bulk::start(&mut tx, "t (id, t, n)", 3).await.unwrap();
            bulk.push(&[Arg::Int(7), Arg::Text("lost"), Arg::OptInt(None)])
                .await
                .unwrap();
            panic!("a fault of the caller, the bulk still open");
        });
        assert!(task.await.unwrap_err().is_panic());
        for round in 0..3_i64 {
            let rows: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM t")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(rows, (round,), "nothing of the open bulk was kept");
            sqlx::query("INSERT INTO t (id, t) VALUES ($1, 'kept')")
                .bind(round)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
        drop_pg(pg).await;
    }

    /// Rows read through [`each_row`] on PostgreSQL come as its own rows, decoded alike.
    #[tokio::test]
    async fn each_row_reads_postgres_rows_with_their_nulls_and_parameters() {
        let Some(mut pg) = pg_conn().await else {
            return;
        };
        insert_awkward(&mut pg.1).await;
        let mut seen = Vec::new();
        each_row(
            &mut pg.1,
            "SELECT id, t, n FROM t WHERE id >= $1 AND (t IS NULL OR t <> $2) ORDER BY id",
            &[Arg::Int(1), Arg::Text("首席技师")],
            |r| {
                seen.push((r.int(0)?, r.opt_text(1)?, r.opt_int(2)?, r.index("n")?));
                Ok::<_, StoreError>(())
            },
        )
        .await
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (1, None, Some(10), 2),
                (2, Some(AWKWARD[2].to_string()), None, 2),
            ]
        );
        drop_pg(pg).await;
    }

    #[tokio::test]
    async fn the_native_connection_is_sqlxs_own_inside_its_transaction() {
        use sqlx::Connection;
        let mut conn = sqlite_conn().await;
        sqlx::query("CREATE TABLE t (a INTEGER)")
            .execute(&mut conn)
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut *tx)
            .await
            .unwrap();
        let seen = with_sqlite(&mut tx, |db| {
            db.execute("INSERT INTO t VALUES (2)", [])
                .map_err(native_err)?;
            db.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0))
                .map_err(native_err)
        })
        .await
        .unwrap();
        assert_eq!(seen, Some(2), "the native side sees the transaction's row");
        tx.rollback().await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            left, 0,
            "the native insert was part of the rolled-back transaction"
        );
        // The connection still works for sqlx after being lent.
        sqlx::query("INSERT INTO t VALUES (3)")
            .execute(&mut conn)
            .await
            .unwrap();
    }
}
