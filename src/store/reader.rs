//! The read side: queries for the API and the status page on a separate read-only
//! connection. Every method blocks on SQLite: call it from `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

use super::{schema, ComponentKey, Opened, Resolution, SeriesPoint, StoreError};
use crate::incidents::Incident;
use crate::state::{merge_minutes, window_start, MinutePoint, MINUTE_MS};
use crate::status::Status;
use crate::uptime::{self, Uptime, DAY_MS};
use crate::UnixMs;

/// A read-only handle on the store (clones share one connection).
#[derive(Debug, Clone)]
pub struct StoreReader {
    path: PathBuf,
    conn: Arc<Mutex<Option<Connection>>>,
}

impl StoreReader {
    /// A reader on `path`; the connection is opened at the first query.
    pub fn new(path: &Path) -> StoreReader {
        StoreReader {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(None)),
        }
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(schema::open_ro(&self.path)?);
        }
        let conn = guard.as_ref().expect("just opened");
        f(conn).map_err(|e| {
            // A broken connection is reopened at the next query.
            *guard = None;
            StoreError::sqlite(&self.path, "read", e)
        })
    }

    /// Every component with stored data, as (group, name), ordered.
    pub fn components(&self) -> Result<Vec<ComponentKey>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached("SELECT grp, name FROM component ORDER BY grp, name")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    /// Daily uptime of component (group, name) for the `days` UTC days ending today
    /// (the day of `now`), with the total; weighting in [`crate::uptime`]. A component
    /// never stored has no data (every day `uptime_percent: null`).
    pub fn uptime(
        &self,
        group: &str,
        name: &str,
        days: u32,
        now: UnixMs,
    ) -> Result<Uptime, StoreError> {
        let first =
            (now / DAY_MS * DAY_MS).saturating_sub(u64::from(days.saturating_sub(1)) * DAY_MS);
        let (before, changes) = self.with(|c| {
            let Some(id) = component_id(c, group, name)? else {
                return Ok((None, Vec::new()));
            };
            let before: Option<String> = c
                .prepare_cached(
                    "SELECT status FROM status_change WHERE component = ?1 AND at <= ?2
                     ORDER BY at DESC, rowid DESC LIMIT 1",
                )?
                .query_row(params![id, first as i64], |r| r.get(0))
                .optional()?;
            let mut st = c.prepare_cached(
                "SELECT at, status FROM status_change WHERE component = ?1 AND at > ?2 AND at <= ?3
                 ORDER BY at, rowid",
            )?;
            let rows = st.query_map(params![id, first as i64, now as i64], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
            })?;
            Ok((before, rows.collect::<rusqlite::Result<Vec<_>>>()?))
        })?;
        let before = before.as_deref().and_then(parse_status);
        let changes: Vec<(UnixMs, Status)> = changes
            .into_iter()
            .filter_map(|(at, s)| parse_status(&s).map(|s| (at, s)))
            .collect();
        Ok(uptime::daily(before, &changes, days, now))
    }

    /// The response-time series of component (group, name) at `resolution`, points
    /// starting in `[from, to)`, oldest first; periods without probes are omitted.
    pub fn series(
        &self,
        group: &str,
        name: &str,
        resolution: Resolution,
        from: UnixMs,
        to: UnixMs,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        self.with(|c| {
            let Some(id) = component_id(c, group, name)? else {
                return Ok(Vec::new());
            };
            match resolution {
                Resolution::Minute => Ok(minute_rows(c, id, from, to)?
                    .into_iter()
                    .map(|p| SeriesPoint {
                        start: p.start,
                        probes: u64::from(p.probes),
                        failures: u64::from(p.failures),
                        min_ms: p.min_ms,
                        typical_ms: p.median_ms,
                        p95_ms: p.p95_ms,
                        max_ms: p.max_ms,
                    })
                    .collect()),
                Resolution::Hour | Resolution::Day => {
                    let step = resolution.step_ms() as i64;
                    let mut st = c.prepare_cached(
                        "SELECT (hour / ?4) * ?4 AS t, sum(probes), sum(failures), sum(ok),
                                sum(sum_median_us), min(min_us), max(p95_us), max(max_us)
                         FROM series_hour WHERE component = ?1 AND hour >= ?2 AND hour < ?3
                         GROUP BY t ORDER BY t",
                    )?;
                    let ms = |us: Option<i64>| us.map(|v| v as f64 / 1000.0);
                    let rows = st.query_map(params![id, from as i64, to as i64, step], |r| {
                        let ok: i64 = r.get(3)?;
                        let sum: i64 = r.get(4)?;
                        let has = ok > 0;
                        Ok(SeriesPoint {
                            start: r.get::<_, i64>(0)? as u64,
                            probes: r.get::<_, i64>(1)? as u64,
                            failures: r.get::<_, i64>(2)? as u64,
                            min_ms: if has { ms(r.get(5)?) } else { None },
                            typical_ms: has.then(|| sum as f64 / ok as f64 / 1000.0),
                            p95_ms: if has { ms(r.get(6)?) } else { None },
                            max_ms: if has { ms(r.get(7)?) } else { None },
                        })
                    })?;
                    rows.collect()
                }
            }
        })
    }

    /// The minute rows of component (group, name) starting in `[from, to)`, oldest
    /// first, as the in-memory history gives them (see [`crate::state::merge_minutes`]).
    pub fn minutes(
        &self,
        group: &str,
        name: &str,
        from: UnixMs,
        to: UnixMs,
    ) -> Result<Vec<MinutePoint>, StoreError> {
        self.with(|c| match component_id(c, group, name)? {
            Some(id) => minute_rows(c, id, from, to),
            None => Ok(Vec::new()),
        })
    }

    /// The `minutes` minutes (at most a day) ending with the minute containing `now` of
    /// component (group, name): the stored rows joined with `tail`, the points its
    /// in-memory history holds over the same window ([`crate::state::merge_minutes`]).
    pub fn joined_minutes(
        &self,
        group: &str,
        name: &str,
        tail: Vec<MinutePoint>,
        now: UnixMs,
        minutes: usize,
    ) -> Result<Vec<MinutePoint>, StoreError> {
        let stored = self.window_minutes(group, name, now, minutes)?;
        Ok(merge_minutes(stored, tail))
    }

    /// The stored rows of the `minutes` minutes (at most a day) ending with the minute
    /// containing `now` of component (group, name): the store's side of
    /// [`StoreReader::joined_minutes`].
    pub fn window_minutes(
        &self,
        group: &str,
        name: &str,
        now: UnixMs,
        minutes: usize,
    ) -> Result<Vec<MinutePoint>, StoreError> {
        let to = (now / MINUTE_MS + 1) * MINUTE_MS;
        self.minutes(group, name, window_start(now, minutes), to)
    }

    /// Incidents created or resolved at or after `since`, newest first, at most `limit`.
    pub fn incidents(&self, since: UnixMs, limit: usize) -> Result<Vec<Incident>, StoreError> {
        let bodies = self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT body FROM incident WHERE created_at >= ?1 OR resolved_at IS NULL OR resolved_at >= ?1
                 ORDER BY created_at DESC LIMIT ?2",
            )?;
            let rows = st.query_map(params![since as i64, limit as i64], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        bodies.iter().map(|b| decode(&self.path, b)).collect()
    }

    /// One incident by id.
    pub fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let body = self.with(|c| {
            c.prepare_cached("SELECT body FROM incident WHERE id = ?1")?
                .query_row(params![id], |r| r.get::<_, String>(0))
                .optional()
        })?;
        body.map(|b| decode(&self.path, &b)).transpose()
    }

    /// Size of the database file and its WAL, in bytes.
    pub fn size_bytes(&self) -> u64 {
        super::writer::file_size(&self.path)
    }
}

fn decode(path: &Path, body: &str) -> Result<Incident, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("incident: {e}"),
    })
}

/// A stored status name back to a [`Status`].
pub fn parse_status(s: &str) -> Option<Status> {
    Status::ALL.into_iter().find(|x| x.as_str() == s)
}

/// What a restart needs, read on the writer's connection at open.
pub(super) fn read_opened(c: &Connection, path: &Path) -> Result<Opened, StoreError> {
    let err = |e| StoreError::sqlite(path, "read", e);
    let kv = |key: &str| -> Result<Option<String>, StoreError> {
        c.query_row("SELECT value FROM kv WHERE key = ?1", params![key], |r| {
            r.get(0)
        })
        .optional()
        .map_err(err)
    };
    let restart_state = kv("restart_state")?;
    let imported = kv("imported_state_file")?;
    let bodies: Vec<String> = c
        .prepare("SELECT body FROM incident WHERE resolved_at IS NULL ORDER BY created_at")
        .and_then(|mut st| {
            st.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(err)?;
    let open_incidents = bodies
        .iter()
        .map(|b| decode(path, b))
        .collect::<Result<Vec<_>, _>>()?;
    let last: Vec<(String, String, String, i64)> = c
        .prepare(
            "SELECT c.grp, c.name, s.status, s.at FROM status_change s JOIN component c ON c.id = s.component
             WHERE s.rowid IN (SELECT max(rowid) FROM status_change GROUP BY component)",
        )
        .and_then(|mut st| {
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(err)?;
    let last_status = last
        .into_iter()
        .filter_map(|(g, n, s, at)| parse_status(&s).map(|s| ((g, n), s, at as u64)))
        .collect();
    Ok(Opened {
        restart_state,
        imported,
        open_incidents,
        last_status,
    })
}

/// The id of component (group, name); None before it has any row.
fn component_id(c: &Connection, group: &str, name: &str) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached("SELECT id FROM component WHERE grp = ?1 AND name = ?2")?
        .query_row(params![group, name], |r| r.get(0))
        .optional()
}

/// The minute rows of component `id` starting in `[from, to)`, oldest first.
fn minute_rows(
    c: &Connection,
    id: i64,
    from: UnixMs,
    to: UnixMs,
) -> rusqlite::Result<Vec<MinutePoint>> {
    let ms = |us: Option<i64>| us.map(|v| v as f64 / 1000.0);
    let n = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
    let mut st = c.prepare_cached(
        "SELECT minute, probes, failures, min_us, median_us, p95_us, max_us
         FROM series_minute WHERE component = ?1 AND minute >= ?2 AND minute < ?3
         ORDER BY minute",
    )?;
    let rows = st.query_map(params![id, from as i64, to as i64], |r| {
        Ok(MinutePoint {
            start: r.get::<_, i64>(0)? as u64,
            probes: n(r.get(1)?),
            failures: n(r.get(2)?),
            min_ms: ms(r.get(3)?),
            median_ms: ms(r.get(4)?),
            p95_ms: ms(r.get(5)?),
            max_ms: ms(r.get(6)?),
        })
    })?;
    rows.collect()
}
