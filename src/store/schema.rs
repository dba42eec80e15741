//! The schema, versioned in code: migration `n` (1-based) brings a file from
//! `PRAGMA user_version = n - 1` to `n`. A file of a newer version than [`MIGRATIONS`]
//! knows is refused before anything is written to it.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// Every migration, oldest first; the schema version is the number applied.
pub const MIGRATIONS: &[&str] = &[
    // 1: components, the confirmed status-change log, series, incidents, key-value state.
    r#"
    CREATE TABLE component (
        id    INTEGER PRIMARY KEY,
        grp   TEXT NOT NULL,
        name  TEXT NOT NULL,
        UNIQUE (grp, name)
    );
    CREATE TABLE status_change (
        component INTEGER NOT NULL REFERENCES component(id),
        at        INTEGER NOT NULL,
        status    TEXT NOT NULL,
        reason    TEXT NOT NULL
    );
    CREATE INDEX status_change_by_component ON status_change (component, at);
    CREATE TABLE series_minute (
        component INTEGER NOT NULL,
        minute    INTEGER NOT NULL,
        probes    INTEGER NOT NULL,
        failures  INTEGER NOT NULL,
        min_us    INTEGER,
        median_us INTEGER,
        p95_us    INTEGER,
        max_us    INTEGER,
        PRIMARY KEY (component, minute)
    ) WITHOUT ROWID;
    CREATE TABLE series_hour (
        component     INTEGER NOT NULL,
        hour          INTEGER NOT NULL,
        probes        INTEGER NOT NULL,
        failures      INTEGER NOT NULL,
        ok            INTEGER NOT NULL,
        sum_median_us INTEGER NOT NULL,
        min_us        INTEGER,
        p95_us        INTEGER,
        max_us        INTEGER,
        PRIMARY KEY (component, hour)
    ) WITHOUT ROWID;
    CREATE TABLE incident (
        id          TEXT PRIMARY KEY,
        created_at  INTEGER NOT NULL,
        resolved_at INTEGER,
        body        TEXT NOT NULL
    );
    CREATE INDEX incident_by_time ON incident (created_at);
    CREATE TABLE kv (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    "#,
];

/// The schema version this build writes.
pub fn current_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// Opens (creating if missing) and migrates the store at `path` for writing, in WAL mode.
///
/// The version is read before anything is written: a newer file is refused with
/// [`StoreError::NewerSchema`], a file that is not SQLite with [`StoreError::NotADatabase`].
pub fn open_rw(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::sqlite(path, "open", e))?;
    let version = read_version(&conn, path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| StoreError::sqlite(path, "open", e))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| StoreError::sqlite(path, "set WAL mode on", e))?;
    // WAL + NORMAL: a crash loses at most the last transactions, never corrupts.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| StoreError::sqlite(path, "open", e))?;
    migrate(conn, path, version)
}

/// Opens the store read-only (for the API): a separate connection that never blocks
/// the writer (WAL).
pub fn open_ro(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::sqlite(path, "open", e))?;
    let version = read_version(&conn, path)?;
    if version != current_version() {
        return Err(StoreError::Unmigrated {
            path: path.to_path_buf(),
            found: version,
        });
    }
    conn.busy_timeout(std::time::Duration::from_secs(2))
        .map_err(|e| StoreError::sqlite(path, "open", e))?;
    Ok(conn)
}

fn read_version(conn: &Connection, path: &Path) -> Result<u32, StoreError> {
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotADatabase {
                path: path.to_path_buf(),
            },
            _ => StoreError::sqlite(path, "read the schema version of", e),
        })?;
    if version > current_version() {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: current_version(),
        });
    }
    Ok(version)
}

fn migrate(mut conn: Connection, path: &Path, from: u32) -> Result<Connection, StoreError> {
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let to = i as u32 + 1;
        let tx = conn
            .transaction()
            .map_err(|e| StoreError::sqlite(path, "migrate", e))?;
        tx.execute_batch(sql)
            .and_then(|()| tx.pragma_update(None, "user_version", to))
            .and_then(|()| tx.commit())
            .map_err(|e| StoreError::sqlite(path, &format!("migrate to schema {to}"), e))?;
        tracing::info!(path = %path.display(), version = to, "store schema migrated");
    }
    Ok(conn)
}
