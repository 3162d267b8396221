//! The ledger in a database: SQLite (a file, the default) or PostgreSQL, through one code path
//! (sqlx's `any` driver; money as integer fen, dates as ISO text, so both backends agree).
//!
//! - [`roster`]: technicians, units and appointments;
//! - [`changes`]: status changes, their checks, listing and voiding;
//! - [`payrun`]: computing, approving and showing payment runs;
//! - [`explain`]: why a month earned what it did;
//! - [`units`]: each person's unit history, for [`crate::rules::unit::unit_on`];
//! - [`selection`]: the selection round: candidates, steps, objections, scores, approval.

pub mod changes;
pub mod explain;
pub mod forecast;
pub(crate) mod native;
pub mod payments;
pub mod payrun;
pub mod people;
pub mod recovery;
pub(crate) mod refs;
pub mod roster;
pub mod selection;
pub mod units;

use chrono::NaiveDate;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::MigrateDatabase;
use sqlx::{Any, AnyPool, ConnectOptions, Row};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use crate::input::{ChangeEntry, RosterEntry, UnitEntry};
pub use changes::{ChangeRecord, ChangesOutcome, RowProblem};
pub use payrun::{RunPerson, RunSummary, RunView};
pub use roster::RosterOutcome;

/// A failure of the store; the CLI maps each to an exit status.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// An error of SQLite's own API on a bulk statement (`store::native`).
    #[error("database error: {0}")]
    Native(String),
    /// A read-only command found no database where it looked (exit status 2).
    #[error("there is no database at {0}: nothing was created. Check --database or the [database] url of the configuration (run `chieftech init` to create one)")]
    NoDatabase(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the folder for the database file {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("unsupported database URL `{0}`: use sqlite://FILE or postgres://USER@HOST/DB")]
    Url(String),
    #[error("the ledger holds a value it cannot read: {0}")]
    Corrupt(String),
    /// The operation is refused as asked (exit status 1), with the reason.
    #[error("{0}")]
    Refused(String),
    /// The command does not fit the ledger's state (exit status 2), with what to do.
    #[error("{0}")]
    Usage(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool to the ledger.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Set while SQLite's one connection carries an import's settings
    /// ([`Store::begin_import`]); the pool sets them back when the connection is released.
    import_settings: Arc<AtomicBool>,
}

/// A connection for reading beside the pool's ([`Store::reader`]).
pub(crate) enum Reader {
    Pooled(sqlx::pool::PoolConnection<Any>),
    Own(sqlx::AnyConnection),
}

impl Reader {
    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        match self {
            Reader::Pooled(c) => c,
            Reader::Own(c) => c,
        }
    }

    /// Closes a connection of its own (a pooled one goes back to the pool).
    pub(crate) async fn close(self) -> Result<()> {
        if let Reader::Own(c) = self {
            sqlx::Connection::close(c).await?;
        }
        Ok(())
    }
}

/// Who records something, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// roster-file | changes-file | operator | api
    pub kind: String,
    pub file_name: Option<String>,
    /// SHA-256 of the file's content; a file with a recorded hash is not taken in again.
    pub sha256: Option<String>,
    pub operator: String,
}

impl Source {
    /// An operator acting by hand (no file).
    pub fn operator(operator: &str) -> Source {
        Source {
            kind: "operator".into(),
            file_name: None,
            sha256: None,
            operator: operator.into(),
        }
    }

    /// A file of the given kind, identified by its content hash.
    pub fn file(kind: &str, file_name: &str, content: &[u8], operator: &str) -> Source {
        Source {
            kind: kind.into(),
            file_name: Some(file_name.into()),
            sha256: Some(sha256_hex(content)),
            operator: operator.into(),
        }
    }
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A statement slower than this is logged at debug level (never on the console by default).
const SLOW_STATEMENT: std::time::Duration = std::time::Duration::from_secs(1);

static MIGRATE_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static MIGRATE_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Store {
    /// Opens the database a URL names, creating it (and a SQLite file's folder) when missing,
    /// and runs the migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Url(url.into()));
        };
        if backend == Backend::Sqlite {
            let path = sqlite_path(url);
            if !path.is_empty() && !path.contains(":memory:") {
                create_private_file(Path::new(&path))?;
            }
        }
        if !Any::database_exists(url).await? {
            Any::create_database(url).await?;
        }
        // sqlx logs every statement at debug and a slow one at warn, with the whole SQL text:
        // at province scale a bulk insert or a long scan is slow by nature, and its text has
        // no place on the clerk's console. Slow statements go to the log at debug level (seen
        // with RUST_LOG=sqlx=debug), the others at trace.
        let options = AnyConnectOptions::from_str(url)?
            .log_statements(log::LevelFilter::Trace)
            .log_slow_statements(log::LevelFilter::Debug, SLOW_STATEMENT);
        let sqlite = backend == Backend::Sqlite;
        let import_settings = Arc::new(AtomicBool::new(false));
        let imported = import_settings.clone();
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 1 } else { 4 })
            .after_release(move |conn, _| {
                let imported = imported.clone();
                Box::pin(async move {
                    if !imported.swap(false, Ordering::SeqCst) {
                        return Ok(true);
                    }
                    // An import's transaction has ended (committed, rolled back, or dropped:
                    // its rollback is queued before this): the connection gets the settings
                    // every other statement runs with, or is closed (a new one starts with
                    // them) when foreign keys do not read back as on.
                    Ok(restore_settings(conn).await.unwrap_or(false))
                })
            })
            .after_connect(move |conn, _| Box::pin(session_settings(conn, sqlite)))
            .connect_with(options)
            .await?;
        if sqlite {
            MIGRATE_SQLITE.run(&pool).await?;
        } else {
            MIGRATE_POSTGRES.run(&pool).await?;
        }
        Ok(Store {
            pool,
            backend,
            import_settings,
        })
    }

    /// Opens a database that must exist already (read-only commands: they never create one);
    /// [`StoreError::NoDatabase`] names where it looked.
    pub async fn open_existing(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        if url.starts_with("sqlite:") {
            let path = sqlite_path(url);
            if !path.contains(":memory:") && !Path::new(&path).is_file() {
                let shown = std::path::absolute(&path)
                    .map(|p| p.display().to_string())
                    .unwrap_or(path);
                return Err(StoreError::NoDatabase(shown));
            }
        } else if (url.starts_with("postgres://") || url.starts_with("postgresql://"))
            && !Any::database_exists(url).await?
        {
            return Err(StoreError::NoDatabase(crate::store::redact(url)));
        }
        Store::connect(url).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A connection of its own for reading beside the pool's one in use (a write transaction
    /// holding SQLite's one pooled connection, say), or `None` for an in-memory SQLite
    /// database (a second connection would see another database). PostgreSQL: one of the
    /// pool's. SQLite: a new connection to the same file, read-only; in WAL mode it reads the
    /// last committed state while a write is under way, and under the ledger's lock nobody
    /// else commits.
    pub(crate) async fn reader(&self) -> Result<Option<Reader>> {
        use sqlx::ConnectOptions;
        if self.backend == Backend::Postgres {
            return Ok(Some(Reader::Pooled(self.pool.acquire().await?)));
        }
        let options = self.pool.connect_options();
        let url = options.database_url.as_str();
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Ok(None);
        }
        let mut conn = options.connect().await?;
        use sqlx::Executor;
        conn.execute(concat!(
            sqlite_every_connection!(),
            " PRAGMA query_only = 1;"
        ))
        .await?;
        Ok(Some(Reader::Own(conn)))
    }

    /// Closes the pool (a SQLite file is released).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a write transaction holding the ledger's lock, so writers never interleave.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'_, Any>> {
        let mut tx = self.pool.begin().await?;
        take_ledger_lock(&mut tx).await?;
        Ok(tx)
    }

    /// Starts the write transaction of an import (a roster, a changes file, a source's pull):
    /// like [`Store::begin_write`], and on SQLite set up for hundreds of thousands of INSERTs.
    /// The pool gives the connection its usual settings back when the transaction ends,
    /// whichever way it ends (`after_release` in [`Store::connect`]).
    ///
    /// - Each multi-row INSERT keeps a statement journal (the pages it changes, to undo the
    ///   statement alone when a row breaks a constraint), which SQLite writes to a temporary
    ///   file past 64 KiB. The transaction keeps it in memory instead: SQLite decides where
    ///   at the transaction's first write, from `temp_store`, which is MEMORY until that
    ///   moment only (kept, it would also sort and materialise large queries in memory). One
    ///   statement's journal is the pages its rows touch.
    /// - The page cache is [`IMPORT_CACHE_KIB`] instead of SQLite's 2 MB, so the ID-number
    ///   index the rows are looked up and inserted by stays in memory at province scale.
    /// - Foreign keys are not checked: each check is a look-up of the parent row, at random in
    ///   a table of a million rows. Every id an import writes was read or inserted by the same
    ///   transaction under the ledger's lock, and the ledger never deletes a technician,
    ///   appointment, change, unit or source (only a draft run's lines are ever deleted);
    ///   PostgreSQL, on which the tests run imports too, still checks them: row by row, or
    ///   where the role may, once per key before the commit (`store::refs`).
    ///
    /// At a million people the first two took the roster import from 16.6–18.1 s to
    /// 14.4–16.2 s and the changes import (677,000 rows) from 20.7–24.0 s to 18.4–20.2 s; the
    /// third, another 14.3–16.8 s to 13.1–15.2 s and 18.8–19.6 s to 14.8–16.3 s (README,
    /// issue 15). A statement that changes many existing rows at once journals them all in
    /// memory: in an import that is a source's pull marking the keys it no longer lists (one
    /// small table).
    ///
    /// Those figures were taken when the imports inserted 500 rows a statement through sqlx.
    /// They now insert one row a statement through SQLite's own API (`store::native`), which
    /// rarely needs a statement journal at all; the page cache and the foreign keys still
    /// count, and the settings were not measured again apart.
    pub(crate) async fn begin_import(&self) -> Result<sqlx::Transaction<'_, Any>> {
        if self.backend != Backend::Sqlite {
            return self.begin_write().await;
        }
        use sqlx::Executor;
        let mut conn = self.pool.acquire().await?;
        self.import_settings.store(true, Ordering::SeqCst);
        // Outside a transaction: SQLite ignores `foreign_keys` inside one.
        conn.execute(sqlx::AssertSqlSafe(format!(
            "PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -{IMPORT_CACHE_KIB}"
        )))
        .await?;
        let mut tx = sqlx::Transaction::begin(conn, None).await?;
        take_ledger_lock(&mut tx).await?;
        sqlx::query("PRAGMA temp_store = DEFAULT")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// A text dump of the whole ledger without timestamps, for comparing states in tests.
    pub async fn dump(&self) -> Result<String> {
        let mut out = String::new();
        let queries = [
            "SELECT id_number || '|' || name FROM technicians ORDER BY id_number",
            "SELECT t.id_number || '|' || a.approval_date || '|' || a.approval_no || '|' || COALESCE(a.bank_account, '') FROM appointments a JOIN technicians t ON t.id = a.technician_id ORDER BY t.id_number, a.approval_date",
            "SELECT t.id_number || '|' || c.kind || '|' || c.effective || '|' || COALESCE(c.end_date, '') || '|' || CASE WHEN c.voided_at IS NULL THEN 'live' ELSE 'void' END FROM changes c JOIN technicians t ON t.id = c.technician_id ORDER BY c.id",
            "SELECT CAST(r.year AS TEXT) || '|' || CAST(r.seq AS TEXT) || '|' || r.status || '|' || t.id_number || '|' || i.lines || '|' || COALESCE(i.bank_account, '') FROM run_items i JOIN runs r ON r.id = i.run_id JOIN technicians t ON t.id = i.technician_id ORDER BY r.year, r.seq, t.id_number, i.appointment_id",
            "SELECT CAST(r.year AS TEXT) || '|' || CAST(r.seq AS TEXT) || '|' || r.status FROM runs r ORDER BY r.year, r.seq",
        ];
        for q in queries {
            for row in sqlx::query(q).fetch_all(&self.pool).await? {
                out.push_str(&row.try_get::<String, _>(0)?);
                out.push('\n');
            }
            out.push_str("--\n");
        }
        Ok(out)
    }
}

/// The page cache (KiB) of an import's transaction on SQLite ([`Store::begin_import`]): holds
/// the technicians' ID-number index (about 30 MB at a million people). 64 MB measured no
/// faster at a million rows than 32.
pub(crate) const IMPORT_CACHE_KIB: i64 = 32 * 1024;

/// What every statement but an import's runs with on SQLite: foreign keys checked, temporary
/// storage in files, SQLite's 2 MB page cache. True when foreign keys read back as on.
async fn restore_settings(conn: &mut sqlx::AnyConnection) -> Result<bool> {
    use sqlx::Executor;
    conn.execute(
        "PRAGMA foreign_keys = ON; PRAGMA temp_store = DEFAULT; PRAGMA cache_size = -2000",
    )
    .await?;
    let on: i64 = sqlx::query("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    Ok(on == 1)
}

/// A read running as a task of its own: a read the caller no longer waits for (it failed,
/// say) stops when this is dropped, instead of reading on.
pub(crate) struct Reading<T>(tokio::task::JoinHandle<Result<T>>);

impl<T: Send + 'static> Reading<T> {
    pub(crate) fn spawn(
        read: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Reading<T> {
        Reading(tokio::spawn(read))
    }

    /// What the read gave, or why it stopped (`what` names it in the message).
    pub(crate) async fn join(&mut self, what: &str) -> Result<T> {
        (&mut self.0)
            .await
            .map_err(|e| StoreError::Usage(format!("reading {what} stopped: {e}")))?
    }
}

impl<T> Drop for Reading<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A read started beside whatever the caller does next, on a connection of its own
/// ([`Store::reader`]), so both cores decode rows ([`Store::read_beside`]). Where the store has
/// no such connection (an in-memory SQLite database), [`Beside::join`] reads on the caller's.
pub(crate) struct Beside<T, F> {
    task: Reading<Option<T>>,
    read: F,
    what: &'static str,
}

impl<T, F> Beside<T, F>
where
    T: Send + 'static,
    F: for<'c> Fn(&'c mut sqlx::AnyConnection) -> futures_util::future::BoxFuture<'c, Result<T>>,
{
    /// What the read gave, or (no connection of its own) the read done now on `conn`.
    pub(crate) async fn join(mut self, conn: &mut sqlx::AnyConnection) -> Result<T> {
        match self.task.join(self.what).await? {
            Some(out) => Ok(out),
            None => (self.read)(conn).await,
        }
    }
}

impl Store {
    /// Starts `read` (of `what`, for an error's message) beside the caller: see [`Beside`].
    /// Only for reads of what the caller's own transaction does not write: the connection
    /// beside sees the last committed state.
    pub(crate) fn read_beside<T, F>(&self, what: &'static str, read: F) -> Beside<T, F>
    where
        T: Send + 'static,
        F: for<'c> Fn(
                &'c mut sqlx::AnyConnection,
            ) -> futures_util::future::BoxFuture<'c, Result<T>>
            + Clone
            + Send
            + 'static,
    {
        let (store, beside) = (self.clone(), read.clone());
        let task = Reading::spawn(async move {
            let Some(mut reader) = store.reader().await? else {
                return Ok(None);
            };
            let out = beside(reader.conn()).await;
            reader.close().await?;
            out.map(Some)
        });
        Beside { task, read, what }
    }
}

/// The settings every SQLite connection of the ledger has, the pool's and the readers'
/// alike: wait up to 30 s for a lock, and a second thread for a large sort.
macro_rules! sqlite_every_connection {
    () => {
        "PRAGMA busy_timeout = 30000; PRAGMA threads = 2;"
    };
}
use sqlite_every_connection;

/// What every new connection is set up with. SQLite: foreign keys on, a wait for the file's
/// lock, WAL, and a second thread for a large sort (a run's lines in ID-number order, for
/// approval and export). PostgreSQL: no JIT compilation (the ledger's statements are either
/// small or one pass over a table, and compiling a plan took longer than the compiled code
/// saved: 0.2–0.3 s on each bulk statement at a million rows, measured with EXPLAIN ANALYZE).
async fn session_settings(
    conn: &mut sqlx::AnyConnection,
    sqlite: bool,
) -> std::result::Result<(), sqlx::Error> {
    use sqlx::Executor;
    if sqlite {
        conn.execute(concat!(
            sqlite_every_connection!(),
            " PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
        ))
        .await?;
    } else {
        conn.execute("SET jit = off").await?;
    }
    Ok(())
}

/// Refreshes PostgreSQL's statistics of `tables` where they are stale: a table filled since
/// PostgreSQL last sampled it (a roster imported a minute ago, a run computed a minute ago)
/// has none, and what reads it next is planned as if it were empty (look-ups by technician
/// planned as scans of the whole table, each; a run's million lines joined by index look-ups
/// across parallel workers). A table is sampled when it never was (or holds rows but no
/// column statistics), or when its rows differ from the planner's count by more than a
/// fifth; a table sampled since it last grew is not sampled again (at a million people,
/// sampling three tables took 0.75 s; counting them, a tenth of that). PostgreSQL only.
pub(crate) async fn analyze_stale(tx: &mut sqlx::AnyConnection, tables: &[&str]) -> Result<()> {
    let mut stale = Vec::new();
    for table in tables {
        let sql = format!("SELECT CAST(c.reltuples AS BIGINT), (SELECT COUNT(*) FROM {table}), (SELECT COUNT(*) FROM pg_stats s WHERE s.schemaname = current_schema() AND s.tablename = '{table}') FROM pg_class c WHERE c.oid = CAST('{table}' AS regclass)");
        let (planned, rows, columns): (i64, i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *tx)
            .await?;
        // A restored table may have its count and no column statistics.
        if planned < 0 || (rows - planned).abs() * 5 > rows || (rows > 0 && columns == 0) {
            stale.push(*table);
        }
    }
    if !stale.is_empty() {
        let sql = format!("ANALYZE {}", stale.join(", "));
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// After rows were inserted into `table` with explicit ids (an import hands them out under
/// the ledger's lock), PostgreSQL's serial sequence continues after them; SQLite needs
/// nothing (its next rowid follows the largest).
async fn continue_sequence(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    table: &'static str,
) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        )))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Takes the ledger's lock inside a transaction: the first write, so writers never interleave.
async fn take_ledger_lock(tx: &mut sqlx::AnyConnection) -> Result<()> {
    sqlx::query("UPDATE ledger_lock SET n = n + 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Creates a SQLite database file (and its missing folders, mode 0700) readable by its owner
/// only (0600) whatever the umask, before SQLite opens it; SQLite gives its `-wal` and `-shm`
/// files the database file's mode. An existing file is tightened to 0600 as well: the ledger
/// holds full ID and bank account numbers.
fn create_private_file(path: &Path) -> Result<()> {
    let folder_error = |p: &Path, source| StoreError::Folder {
        path: p.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(parent).map_err(|e| folder_error(parent, e))?;
        }
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map_err(|e| folder_error(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| folder_error(path, e))?;
    }
    Ok(())
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The file path of a sqlite URL (`sqlite://data/x.db`, `sqlite:///abs/x.db`, `sqlite:x.db`).
pub fn sqlite_path(url: &str) -> String {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    rest.split('?').next().unwrap_or(rest).to_string()
}

/// Appends an audit entry; `money` marks entries that make draft runs stale.
pub(crate) async fn audit(
    conn: &mut sqlx::AnyConnection,
    operator: &str,
    action: &str,
    detail: &str,
    money: bool,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO audit (at, operator, action, detail, money) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(now_text())
    .bind(operator)
    .bind(action)
    .bind(detail)
    .bind(i64::from(money))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get::<i64, _>(0)?)
}

/// Inserts a source row and returns its id.
pub(crate) async fn insert_source(
    conn: &mut sqlx::AnyConnection,
    source: &Source,
    summary: &str,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO sources (kind, file_name, sha256, operator, recorded_at, summary) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&source.kind)
    .bind(source.file_name.clone())
    .bind(source.sha256.clone())
    .bind(&source.operator)
    .bind(now_text())
    .bind(summary)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get::<i64, _>(0)?)
}

/// The source row of a file with this kind and hash taken in before: its id, when, and by whom.
pub(crate) async fn find_source_id(
    conn: &mut sqlx::AnyConnection,
    source: &Source,
) -> Result<Option<(i64, String, String)>> {
    let Some(hash) = &source.sha256 else {
        return Ok(None);
    };
    let row = sqlx::query(
        "SELECT id, recorded_at, operator FROM sources WHERE kind = $1 AND sha256 = $2",
    )
    .bind(&source.kind)
    .bind(hash)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some(r) => Some((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
        None => None,
    })
}

/// Whether a file with this kind and hash was already taken in; returns when, and by whom.
pub(crate) async fn find_source(
    conn: &mut sqlx::AnyConnection,
    source: &Source,
) -> Result<Option<(String, String)>> {
    let Some(hash) = &source.sha256 else {
        return Ok(None);
    };
    let row =
        sqlx::query("SELECT recorded_at, operator FROM sources WHERE kind = $1 AND sha256 = $2")
            .bind(&source.kind)
            .bind(hash)
            .fetch_optional(conn)
            .await?;
    Ok(match row {
        Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
        None => None,
    })
}

static RECORD_DAY: std::sync::RwLock<Option<NaiveDate>> = std::sync::RwLock::new(None);

/// Makes `day` the date of everything this process records from now on (`--today`): audit
/// entries, sources, changes, voids, computations, approvals and exports. The command line sets
/// it once; the demo moves it from year to year (each run approved on its own 1 December).
/// Without it the clock is used.
pub fn set_record_day(day: NaiveDate) {
    if let Ok(mut d) = RECORD_DAY.write() {
        *d = Some(day);
    }
}

/// The time recorded for an action (RFC 3339, UTC): the clock's, unless `--today` names a day;
/// then that day at the clock's time of day (Asia/Shanghai), so actions recorded one after the
/// other keep their order.
pub fn now_text() -> String {
    let now = chrono::Utc::now();
    let text =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let Some(day) = RECORD_DAY.read().ok().and_then(|d| *d) else {
        return text(now);
    };
    let local = now.with_timezone(&chrono_tz::Asia::Shanghai);
    day.and_time(local.time())
        .and_local_timezone(chrono_tz::Asia::Shanghai)
        .earliest()
        .map(|t| text(t.with_timezone(&chrono::Utc)))
        .unwrap_or_else(|| text(now))
}

/// The day in Asia/Shanghai of a time recorded by [`now_text`] (RFC 3339, UTC): the day the
/// bureau saw it happen, which is not the UTC date before 08:00 Shanghai time. `None` for any
/// other text.
pub fn recorded_day(at: &str) -> Option<NaiveDate> {
    chrono::DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.with_timezone(&chrono_tz::Asia::Shanghai).date_naive())
}

/// Parses an ISO date stored in the ledger.
pub(crate) fn parse_date(s: &str) -> Result<NaiveDate> {
    iso_date(s)
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .ok_or_else(|| StoreError::Corrupt(format!("date `{s}`")))
}

/// A date as the ledger writes it, `YYYY-MM-DD` exactly, read digit by digit (chrono's
/// format parser, for every date of a million rows, was a few per cent of a step, issue 15);
/// None for any other text, which [`parse_date`] gives chrono.
fn iso_date(s: &str) -> Option<NaiveDate> {
    let b: &[u8; 10] = s.as_bytes().try_into().ok()?;
    let digits = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
}

/// For the store's own tests: the PostgreSQL server they make their databases on
/// (`CHIEFTECH_TEST_PG`, else the local one) and a connection to its `postgres` database;
/// None, said loudly, where no server answers outside CI (under `CI=true` one must).
#[cfg(test)]
pub(crate) async fn test_server() -> Option<(String, sqlx::AnyConnection)> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let server = std::env::var("CHIEFTECH_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    match sqlx::AnyConnection::connect(&format!("{server}/postgres")).await {
        Ok(admin) => Some((server, admin)),
        Err(_) => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "PostgreSQL does not answer under CI=true"
            );
            eprintln!("*** SKIPPED PostgreSQL test: {server} does not answer ***");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Reading a date digit by digit gives what chrono's `%Y-%m-%d` gives, for the ledger's
        /// own dates and for any other ten characters or fewer or more.
        #[test]
        fn a_date_read_digit_by_digit_is_the_date_chrono_reads(
            days in -800_000i32..800_000,
            text in "[0-9-]{8,12}|[0-9]{4}-[0-9]{2}-[0-9]{2}|.{0,12}",
        ) {
            let day = NaiveDate::from_num_days_from_ce_opt(days).unwrap();
            let written = day.format("%Y-%m-%d").to_string();
            proptest::prop_assert_eq!(parse_date(&written).ok(), Some(day));
            proptest::prop_assert_eq!(
                parse_date(&text).ok(),
                NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok()
            );
        }
    }

    #[test]
    fn a_ledger_date_is_read_exactly_and_other_text_is_refused() {
        assert_eq!(
            parse_date("2024-02-29").unwrap(),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024/01/01",
            "20240101",
            "",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        // Not the ledger's form, but chrono reads it: read as before.
        assert_eq!(
            parse_date("2024-1-5").unwrap(),
            NaiveDate::from_ymd_opt(2024, 1, 5).unwrap()
        );
    }

    /// On PostgreSQL the ledger's ID numbers compare byte by byte (collation "C"), as SQLite
    /// compares them, whatever locale the server was set up with.
    #[tokio::test]
    async fn postgres_compares_id_numbers_bytewise() {
        use sqlx::Connection;
        let Some((server, mut admin)) = test_server().await else {
            return;
        };
        let name = format!("chieftech_bytewise_{}", std::process::id());
        let store = Store::connect(&format!("{server}/{name}")).await.unwrap();
        let (collation,): (Option<String>,) = sqlx::query_as("SELECT CAST(collation_name AS TEXT) FROM information_schema.columns WHERE table_name = 'technicians' AND column_name = 'id_number'")
            .fetch_one(store.pool())
            .await
            .unwrap();
        store.close().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        assert_eq!(collation.as_deref(), Some("C"));
    }

    /// A SQLite reader has the settings of every connection, and cannot write.
    #[tokio::test]
    async fn a_sqlite_reader_waits_for_locks_and_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        let store = Store::connect(&url).await.unwrap();
        let mut reader = store.reader().await.unwrap().expect("a file has readers");
        let conn = reader.conn();
        let (timeout,): (i64,) = sqlx::query_as("PRAGMA busy_timeout")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(timeout, 30_000);
        let (threads,): (i64,) = sqlx::query_as("PRAGMA threads")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(threads, 2);
        let write = sqlx::query("INSERT INTO units (name) VALUES ('只读连接')")
            .execute(&mut *conn)
            .await;
        assert!(write.is_err(), "a reader wrote: {write:?}");
        store.close().await;
    }
}
