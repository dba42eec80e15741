//! The writer thread: batches everything waiting on the channel into one transaction;
//! on failure keeps the records (bounded) and retries, reopening the file if needed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};
use tracing::{error, info, warn};

use super::{schema, Clock, ComponentKey, Msg, StoreError, Write, MAX_PENDING};
use crate::config::StoreConfig;
use crate::metrics::DaemonMetrics;
use crate::UnixMs;

/// Largest number of records written in one transaction.
const BATCH: usize = 5_000;
/// Wait between attempts while the disk refuses writes.
const RETRY: Duration = Duration::from_secs(5);
/// How often old rows are pruned and the file size measured.
const MAINTAIN: Duration = Duration::from_secs(600);
/// [`MAINTAIN`] on the writer's clock.
const MAINTAIN_MS: u64 = 600_000;

pub(super) struct Writer {
    settings: StoreConfig,
    conn: Option<Connection>,
    metrics: Arc<DaemonMetrics>,
    pending: VecDeque<Write>,
    ids: HashMap<ComponentKey, i64>,
    failing: bool,
    last_attempt: Option<Instant>,
    /// When rows were last pruned, on `clock`.
    last_maintain: Option<UnixMs>,
    clock: Clock,
    /// Published [`super::Store::written_before`].
    written_before: Arc<AtomicU64>,
    /// The newest committed [`Write::SeriesMark`].
    mark: u64,
    /// Most records pending ([`MAX_PENDING`]; fewer in tests).
    max_pending: usize,
    /// Minutes (since the epoch) of minute records dropped at [`MAX_PENDING`], oldest
    /// first, each once; those older than a day are forgotten.
    dropped: VecDeque<u64>,
}

/// Minutes a dropped minute holds [`super::Store::written_before`] back (the 24-hour charts).
const DROPPED_HOLD_MINUTES: u64 = 1440;

impl Writer {
    pub(super) fn new(
        settings: StoreConfig,
        conn: Option<Connection>,
        metrics: Arc<DaemonMetrics>,
        clock: Clock,
        written_before: Arc<AtomicU64>,
    ) -> Writer {
        let failing = conn.is_none();
        Writer {
            settings,
            conn,
            metrics,
            pending: VecDeque::new(),
            ids: HashMap::new(),
            failing,
            last_attempt: failing.then(Instant::now),
            last_maintain: None,
            clock,
            written_before,
            mark: 0,
            max_pending: MAX_PENDING,
            dropped: VecDeque::new(),
        }
    }

    pub(super) fn run(mut self, rx: Receiver<Msg>) {
        self.maintain();
        let mut acks: Vec<Sender<()>> = Vec::new();
        loop {
            let wait = if self.pending.is_empty() {
                MAINTAIN
            } else {
                RETRY
            };
            let mut stop = false;
            match rx.recv_timeout(wait) {
                Ok(m) => stop |= self.take(m, &mut acks),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => stop = true,
            }
            // Everything already waiting joins the same batch.
            while self.pending.len() < BATCH * 4 {
                match rx.try_recv() {
                    Ok(m) => stop |= self.take(m, &mut acks),
                    Err(_) => break,
                }
            }
            let retry_due = self
                .last_attempt
                .is_none_or(|t| t.elapsed() >= RETRY || !self.failing);
            if !self.pending.is_empty() && (retry_due || !acks.is_empty() || stop) {
                self.write_pending();
            }
            let now = (self.clock)();
            if self
                .last_maintain
                .is_none_or(|t| now.saturating_sub(t) >= MAINTAIN_MS)
            {
                self.maintain();
            }
            for a in acks.drain(..) {
                let _ = a.send(());
            }
            if stop {
                break;
            }
        }
    }

    /// Queue a message; true for Stop.
    fn take(&mut self, m: Msg, acks: &mut Vec<Sender<()>>) -> bool {
        match m {
            Msg::Write(w) => {
                if self.pending.len() >= self.max_pending {
                    if let Some(Write::Minute { record, .. }) = self.pending.pop_front() {
                        let minute = record.minute / 60_000;
                        if self.dropped.back() != Some(&minute) {
                            self.dropped.push_back(minute);
                        }
                    }
                    self.metrics.store_error("dropped");
                }
                self.pending.push_back(w);
                false
            }
            Msg::Flush(a) => {
                acks.push(a);
                false
            }
            Msg::Stop => true,
        }
    }

    fn connection(&mut self) -> Result<&mut Connection, StoreError> {
        if self.conn.is_none() {
            self.conn = Some(schema::open_rw(&self.settings.path)?);
            self.ids.clear();
        }
        Ok(self.conn.as_mut().expect("just opened"))
    }

    fn write_pending(&mut self) {
        self.last_attempt = Some(Instant::now());
        while !self.pending.is_empty() {
            let n = self.pending.len().min(BATCH);
            let started = Instant::now();
            match self.write_batch(n) {
                Ok(()) => {
                    self.metrics.observe_store_write(started.elapsed());
                    for w in self.pending.drain(..n) {
                        if let Write::SeriesMark(m) = w {
                            self.mark = self.mark.max(m);
                        }
                    }
                    self.publish_mark();
                    if self.failing {
                        self.failing = false;
                        info!(path = %self.settings.path.display(), "store writable again; caught up");
                    }
                }
                Err(e) => {
                    self.metrics.store_error("write");
                    if !self.failing {
                        error!(error = %e, pending = self.pending.len(), "store write failed; keeping records in memory and retrying");
                    }
                    self.failing = true;
                    // Reopen next time: the file may have been replaced or remounted.
                    self.conn = None;
                    break;
                }
            }
        }
        self.metrics.set_store_pending(self.pending.len());
    }

    /// Publishes how far the series minutes are readable: the newest committed mark,
    /// held back to the oldest minute dropped in the last day.
    fn publish_mark(&mut self) {
        let horizon = ((self.clock)() / 60_000).saturating_sub(DROPPED_HOLD_MINUTES);
        while self.dropped.front().is_some_and(|m| *m < horizon) {
            self.dropped.pop_front();
        }
        let before = self
            .dropped
            .front()
            .map_or(self.mark, |m| self.mark.min(*m));
        self.written_before.fetch_max(before, Ordering::Release);
    }

    fn write_batch(&mut self, n: usize) -> Result<(), StoreError> {
        let path = self.settings.path.clone();
        let batch: Vec<Write> = self.pending.iter().take(n).cloned().collect();
        let mut ids = std::mem::take(&mut self.ids);
        let res = (|| {
            let conn = self.connection()?;
            let err = |what: &str| {
                let path = path.clone();
                let what = what.to_string();
                move |e| StoreError::sqlite(&path, &what, e)
            };
            let tx = conn.transaction().map_err(err("begin a write on"))?;
            for w in &batch {
                write_one(&tx, &mut ids, w).map_err(err("write to"))?;
            }
            tx.commit().map_err(err("commit to"))
        })();
        if res.is_ok() {
            self.ids = ids;
        }
        res
    }

    /// Prune by retention and measure the file size. The series deletes name the
    /// component so that SQLite walks the primary key (component, minute) per component
    /// instead of scanning the whole table every ten minutes.
    fn maintain(&mut self) {
        let now = (self.clock)();
        self.last_maintain = Some(now);
        let minute_cut = now.saturating_sub(self.settings.minute_retention.as_millis() as u64);
        let cut = now.saturating_sub(self.settings.retention.as_millis() as u64);
        if let Some(conn) = self.conn.as_mut() {
            let res = conn.execute_batch(&format!(
                "DELETE FROM series_minute
                   WHERE component IN (SELECT id FROM component) AND minute < {minute_cut};
                 DELETE FROM series_hour
                   WHERE component IN (SELECT id FROM component) AND hour < {cut};
                 DELETE FROM incident WHERE resolved_at IS NOT NULL AND resolved_at < {cut};
                 DELETE FROM status_change WHERE at < {cut} AND rowid NOT IN
                   (SELECT max(rowid) FROM status_change WHERE at < {cut} GROUP BY component);
                 PRAGMA wal_checkpoint(PASSIVE);"
            ));
            if let Err(e) = res {
                warn!(error = %e, "store pruning failed");
                self.metrics.store_error("prune");
            }
        }
        self.metrics.set_store_size(file_size(&self.settings.path));
    }
}

/// Size of the database file plus its WAL.
pub(super) fn file_size(path: &std::path::Path) -> u64 {
    let len = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    len(path) + len(std::path::Path::new(&wal))
}

fn component_id(
    tx: &Connection,
    ids: &mut HashMap<ComponentKey, i64>,
    key: &ComponentKey,
) -> rusqlite::Result<i64> {
    if let Some(id) = ids.get(key) {
        return Ok(*id);
    }
    tx.prepare_cached("INSERT OR IGNORE INTO component (grp, name) VALUES (?1, ?2)")?
        .execute(params![key.0, key.1])?;
    let id: i64 = tx
        .prepare_cached("SELECT id FROM component WHERE grp = ?1 AND name = ?2")?
        .query_row(params![key.0, key.1], |r| r.get(0))?;
    ids.insert(key.clone(), id);
    Ok(id)
}

fn write_one(
    tx: &Connection,
    ids: &mut HashMap<ComponentKey, i64>,
    w: &Write,
) -> rusqlite::Result<()> {
    match w {
        Write::StatusChange {
            component,
            at,
            status,
            reason,
        } => {
            let id = component_id(tx, ids, component)?;
            tx.prepare_cached(
                "INSERT INTO status_change (component, at, status, reason) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, *at as i64, status.as_str(), reason])?;
        }
        Write::Minute { component, record } => {
            let id = component_id(tx, ids, component)?;
            let r = record;
            let minute = (r.minute / 60_000 * 60_000) as i64;
            let hour = (r.minute / 3_600_000 * 3_600_000) as i64;
            // A minute written twice (a retry after a commit whose ack was lost) is replaced,
            // but the hour sums would count it twice: skip it when already present.
            let exists: Option<i64> = tx
                .prepare_cached("SELECT 1 FROM series_minute WHERE component = ?1 AND minute = ?2")?
                .query_row(params![id, minute], |row| row.get(0))
                .optional()?;
            if exists.is_some() {
                return Ok(());
            }
            tx.prepare_cached(
                "INSERT INTO series_minute (component, minute, probes, failures, min_us, median_us, p95_us, max_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![id, minute, r.probes, r.failures, r.min_us, r.median_us, r.p95_us, r.max_us])?;
            let ok = i64::from(r.probes.saturating_sub(r.failures));
            let sum = r.median_us.map_or(0, |m| i64::from(m) * ok);
            tx.prepare_cached(
                "INSERT INTO series_hour (component, hour, probes, failures, ok, sum_median_us, min_us, p95_us, max_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (component, hour) DO UPDATE SET
                   probes = probes + excluded.probes,
                   failures = failures + excluded.failures,
                   ok = ok + excluded.ok,
                   sum_median_us = sum_median_us + excluded.sum_median_us,
                   min_us = CASE WHEN min_us IS NULL THEN excluded.min_us
                                 WHEN excluded.min_us IS NULL THEN min_us
                                 ELSE min(min_us, excluded.min_us) END,
                   p95_us = max(coalesce(p95_us, 0), coalesce(excluded.p95_us, 0)),
                   max_us = max(coalesce(max_us, 0), coalesce(excluded.max_us, 0))",
            )?
            .execute(params![id, hour, r.probes, r.failures, ok, sum, r.min_us, r.p95_us, r.max_us])?;
        }
        Write::RestartState(json) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO kv (key, value) VALUES ('restart_state', ?1)",
            )?
            .execute(params![json])?;
        }
        Write::Imported(path) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO kv (key, value) VALUES ('imported_state_file', ?1)",
            )?
            .execute(params![path])?;
        }
        Write::SeriesMark(_) => {}
        Write::Incident(inc) => {
            let body = serde_json::to_string(inc.as_ref())
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO incident (id, created_at, resolved_at, body) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![inc.id, inc.created_at as i64, inc.resolved_at.map(|t| t as i64), body])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MinuteRecord;
    use std::sync::atomic::AtomicU64;

    fn minute(m: u64) -> Write {
        Write::Minute {
            component: ("g".into(), "c".into()),
            record: MinuteRecord {
                minute: m * 60_000,
                probes: 1,
                failures: 0,
                min_us: Some(1),
                median_us: Some(1),
                p95_us: Some(1),
                max_us: Some(1),
            },
        }
    }

    /// Minutes dropped while the disk refused writes hold `written_before` back for a
    /// day (the daemon keeps them in memory for the 24-hour charts), then let it go.
    #[test]
    fn dropped_minutes_hold_the_mark_back_for_a_day() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("not-yet");
        let settings = StoreConfig {
            path: sub.join("nsprobe.db"),
            retention: Duration::from_secs(90 * 86_400),
            minute_retention: Duration::from_secs(7 * 86_400),
        };
        let now = Arc::new(AtomicU64::new(1000 * 60_000));
        let clock = now.clone();
        let written = Arc::new(AtomicU64::new(0));
        let mut w = Writer::new(
            settings,
            None,
            Arc::new(DaemonMetrics::new()),
            Arc::new(move || clock.load(Ordering::Relaxed)),
            written.clone(),
        );
        w.max_pending = 6;
        let mut acks = Vec::new();
        for m in [
            minute(1000),
            minute(1000),
            Write::SeriesMark(1001),
            minute(1001),
            Write::SeriesMark(1002),
            minute(1002),
            Write::SeriesMark(1003),
            minute(1003),
        ] {
            w.take(Msg::Write(m), &mut acks);
        }
        // The directory is missing: nothing is written, minute 1000 was dropped twice.
        w.write_pending();
        assert_eq!(written.load(Ordering::Relaxed), 0);
        assert_eq!(w.dropped, [1000]);
        std::fs::create_dir(&sub).expect("mkdir");
        w.write_pending();
        assert!(w.pending.is_empty());
        assert_eq!(w.mark, 1003);
        assert_eq!(
            written.load(Ordering::Relaxed),
            1000,
            "held at the dropped minute"
        );
        // A day later the dropped minute is out of every chart: the mark goes on.
        now.store(2441 * 60_000, Ordering::Relaxed);
        w.take(Msg::Write(Write::SeriesMark(2441)), &mut acks);
        w.write_pending();
        assert_eq!(written.load(Ordering::Relaxed), 2441);
        assert!(w.dropped.is_empty());
    }
}
