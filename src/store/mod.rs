//! The embedded store: one SQLite file (WAL mode) holding the restart state, the
//! confirmed status-change log, per-component response-time series and incidents.
//!
//! - [`Store`] is the write side: [`Store::send`] never blocks (a channel to a writer
//!   thread that batches everything waiting into one transaction). When the disk is
//!   full or read-only, the writer logs, counts `nsprobe_store_errors_total`, keeps the
//!   records in memory (bounded by [`MAX_PENDING`]) and retries; the daemon goes on
//!   with its in-memory state.
//! - [`StoreReader`] is the read side for the API and the status page: a separate
//!   read-only connection (WAL: readers never wait for the writer). Its methods block;
//!   call them from `spawn_blocking`.
//! - [`schema`]: migrations versioned in code (`PRAGMA user_version`); a file of a
//!   newer schema is refused and left untouched.
//!
//! Retention: minute rows for `minute_retention` (default 7 days), hour rows (from
//! which day figures are computed), status changes and resolved incidents for
//! `retention` (default 90 days).

pub mod day_cache;
pub mod reader;
pub mod schema;
pub mod series;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

use crate::config::StoreConfig;
use crate::incidents::Incident;
use crate::metrics::DaemonMetrics;
use crate::status::Status;
use crate::UnixMs;

pub use reader::StoreReader;

/// Most records kept in memory while the disk refuses writes; older ones are dropped
/// (counted as errors with `op="dropped"`).
pub const MAX_PENDING: usize = 200_000;

/// Why the store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file has a newer schema than this nsprobe knows: refused, never touched.
    #[error("store {} has schema version {found}, this nsprobe knows up to {supported}: it was written by a newer nsprobe; run that version, or point [store] path at another file (the file was not modified)", path.display())]
    NewerSchema {
        /// The store file.
        path: PathBuf,
        /// Version found.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// The file exists but is not an SQLite database: refused, never touched.
    #[error("store {} is not an SQLite database; point [store] path at another file (the file was not modified)", path.display())]
    NotADatabase {
        /// The store file.
        path: PathBuf,
    },
    /// A reader found a file not (yet) migrated by the writer.
    #[error("store {} has schema version {found}, not migrated yet", path.display())]
    Unmigrated {
        /// The store file.
        path: PathBuf,
        /// Version found.
        found: u32,
    },
    /// An SQLite error (I/O, disk full, read-only, locked…).
    #[error("cannot {what} store {}: {source}", path.display())]
    Sqlite {
        /// The store file.
        path: PathBuf,
        /// What was being done.
        what: String,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A stored record could not be decoded.
    #[error("store {}: corrupt record: {detail}", path.display())]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
}

impl StoreError {
    fn sqlite(path: &Path, what: &str, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: path.to_path_buf(),
            what: what.to_string(),
            source,
        }
    }

    /// True for errors that must stop the daemon (the file is someone else's, or newer):
    /// nsprobe refuses to run rather than overwrite it.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            StoreError::NewerSchema { .. } | StoreError::NotADatabase { .. }
        )
    }
}

/// One minute of a component's response times (as summarised by the zone state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteRecord {
    /// Start of the minute (ms since the epoch).
    pub minute: UnixMs,
    /// Probes completed in the minute.
    pub probes: u32,
    /// Failed probes.
    pub failures: u32,
    /// Fastest successful response (µs); None when no probe succeeded.
    pub min_us: Option<u32>,
    /// Median successful response (µs).
    pub median_us: Option<u32>,
    /// 95th percentile (µs).
    pub p95_us: Option<u32>,
    /// Slowest successful response (µs).
    pub max_us: Option<u32>,
}

impl MinuteRecord {
    /// From a [`crate::state::MinutePoint`] (milliseconds as f64).
    pub fn from_point(p: &crate::state::MinutePoint) -> MinuteRecord {
        let us =
            |ms: Option<f64>| ms.map(|v| (v * 1000.0).round().clamp(0.0, u32::MAX as f64) as u32);
        MinuteRecord {
            minute: p.start,
            probes: p.probes,
            failures: p.failures,
            min_us: us(p.min_ms),
            median_us: us(p.median_ms),
            p95_us: us(p.p95_ms),
            max_us: us(p.max_ms),
        }
    }
}

/// The clock the writer prunes by (ms since the epoch): the wall clock in the daemon
/// ([`Store::open`]), a fake one in benchmarks and tests ([`Store::open_with_clock`]).
pub type Clock = Arc<dyn Fn() -> UnixMs + Send + Sync>;

/// A component as the store names it: (group, name), group empty for a group component.
pub type ComponentKey = (String, String);

/// A record for the writer.
#[derive(Debug, Clone)]
pub enum Write {
    /// A confirmed status change.
    StatusChange {
        /// (group, name).
        component: ComponentKey,
        /// When it was confirmed.
        at: UnixMs,
        /// The new status.
        status: Status,
        /// Why.
        reason: String,
    },
    /// One minute of a component's series.
    Minute {
        /// (group, name).
        component: ComponentKey,
        /// The minute.
        record: MinuteRecord,
    },
    /// The restart state (JSON of [`crate::persist::PersistedState`]), replacing the last.
    RestartState(String),
    /// An incident, created or updated (replaces the stored version).
    Incident(Box<Incident>),
    /// Mark a legacy JSON state file as imported (its path), so it is imported once.
    Imported(String),
    /// Every [`Write::Minute`] sent so far is for a minute before this one (minutes since
    /// the epoch): once this mark is committed, [`Store::written_before`] reaches it.
    SeriesMark(u64),
}

/// What the store held at start.
#[derive(Debug, Clone, Default)]
pub struct Opened {
    /// The saved restart state (JSON), if any.
    pub restart_state: Option<String>,
    /// The legacy JSON state file already imported, if any.
    pub imported: Option<String>,
    /// Incidents not resolved yet (continued after the restart).
    pub open_incidents: Vec<Incident>,
    /// The last confirmed status of every component, by (group, name).
    pub last_status: Vec<(ComponentKey, Status, UnixMs)>,
}

enum Msg {
    Write(Write),
    Flush(mpsc::Sender<()>),
    Stop,
}

/// Resolution of a response-time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// One point per minute (kept `minute_retention`).
    Minute,
    /// One point per hour.
    Hour,
    /// One point per UTC day.
    Day,
}

impl Resolution {
    /// Length of one point in ms.
    pub fn step_ms(self) -> u64 {
        match self {
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
            Resolution::Day => 86_400_000,
        }
    }
}

/// One point of a response-time series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesPoint {
    /// Start of the minute, hour or day (ms since the epoch).
    pub start: UnixMs,
    /// Probes completed.
    pub probes: u64,
    /// Failed probes.
    pub failures: u64,
    /// Fastest successful response (ms); null when none succeeded.
    pub min_ms: Option<f64>,
    /// Typical response (ms): the median for a minute; for an hour or a day the mean of
    /// the minute medians weighted by successful probes.
    pub typical_ms: Option<f64>,
    /// 95th percentile for a minute; the largest minute p95 for an hour or day (ms).
    pub p95_ms: Option<f64>,
    /// Slowest successful response (ms).
    pub max_ms: Option<f64>,
}

/// The write side of the store (see the module documentation).
#[derive(Debug)]
pub struct Store {
    tx: mpsc::Sender<Msg>,
    thread: Option<JoinHandle<()>>,
    reader: StoreReader,
    written_before: Arc<AtomicU64>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Write(w) => w.fmt(f),
            Msg::Flush(_) => f.write_str("Flush"),
            Msg::Stop => f.write_str("Stop"),
        }
    }
}

impl Store {
    /// Opens the store (creating and migrating it), reads what a restart needs, and
    /// starts the writer thread.
    ///
    /// A fatal error ([`StoreError::is_fatal`]: newer schema, not a database) is
    /// returned; any other error (read-only directory, disk full…) is logged and
    /// counted, and the store starts empty, the writer retrying in the background.
    pub fn open(
        settings: &StoreConfig,
        metrics: Arc<DaemonMetrics>,
    ) -> Result<(Store, Opened), StoreError> {
        Store::open_with_clock(settings, metrics, Arc::new(crate::now_ms))
    }

    /// [`Store::open`] with the clock the writer prunes by (retention cut-offs and the
    /// pruning cadence follow it): a simulation drives 90 days through the real writer.
    pub fn open_with_clock(
        settings: &StoreConfig,
        metrics: Arc<DaemonMetrics>,
        clock: Clock,
    ) -> Result<(Store, Opened), StoreError> {
        let (conn, opened) = match schema::open_rw(&settings.path)
            .and_then(|c| reader::read_opened(&c, &settings.path).map(|o| (c, o)))
        {
            Ok((c, o)) => (Some(c), o),
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => {
                tracing::error!(error = %e, "store unavailable; running on in-memory state and retrying");
                metrics.store_error("open");
                (None, Opened::default())
            }
        };
        let (tx, rx) = mpsc::channel();
        let written_before = Arc::new(AtomicU64::new(0));
        let w = writer::Writer::new(
            settings.clone(),
            conn,
            metrics,
            clock,
            written_before.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("nsprobe-store".into())
            .spawn(move || w.run(rx))
            .map_err(|e| StoreError::Corrupt {
                path: settings.path.clone(),
                detail: format!("cannot start the writer thread: {e}"),
            })?;
        Ok((
            Store {
                tx,
                thread: Some(thread),
                reader: StoreReader::new(&settings.path),
                written_before,
            },
            opened,
        ))
    }

    /// Queues a record for the writer; never blocks.
    pub fn send(&self, w: Write) {
        let _ = self.tx.send(Msg::Write(w));
    }

    /// The minute (minutes since the epoch) before which every series minute sent so far
    /// can be read back from the file: the newest committed [`Write::SeriesMark`], held
    /// back to the oldest minute the writer had to drop ([`MAX_PENDING`]) in the last 24
    /// hours, so that the daemon keeps such minutes in memory for the 24-hour charts.
    /// 0 before the first mark is written.
    pub fn written_before(&self) -> u64 {
        self.written_before.load(Ordering::Acquire)
    }

    /// A reader on the same file (cheap to clone).
    pub fn reader(&self) -> StoreReader {
        self.reader.clone()
    }

    /// Blocks until everything sent so far has been written (or the attempt failed),
    /// at most `timeout`. For tests and shutdown.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Msg::Flush(tx)).is_err() {
            return false;
        }
        rx.recv_timeout(timeout).is_ok()
    }

    /// Writes what is queued and stops the writer (blocking, at most `timeout` for the
    /// flush). Called once at shutdown, from a blocking thread.
    pub fn close(mut self, timeout: Duration) {
        self.flush(timeout);
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
