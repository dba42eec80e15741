//! The stored part of the status page's 24-hour charts, kept between renders.
//!
//! A chart's day is the store's minute rows joined with the minutes still in memory
//! (the tail, [`crate::state::merge_minutes`]). Reading a day of rows costs about
//! 0.2 ms a chart, 4 ms for the .dk page's 19 charts, four times the render itself. The
//! rows read for one render serve the next ones for as long as no chart's tail has
//! released a minute: a minute leaves the tail only once the store has committed it,
//! so while every tail still starts at the same minute, every row committed since the
//! read is one the tail holds and the join prefers. In a running daemon a tail releases
//! a minute once a minute, so the rows are read again about once a minute, not per render.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::reader::StoreReader;
use super::StoreError;
use crate::state::{merge_minutes, window_start, MinutePoint};
use crate::UnixMs;

/// The most minute rows kept (about 110 KB a chart with a full day; the .dk page's 19
/// charts are 2 MB): a page with more charts than this allows is read at every render.
pub const MAX_ROWS: usize = 150 * 1440;

/// One read of the store's rows for a page's charts, and what it is valid for.
#[derive(Debug)]
struct Read {
    /// The charts' components, in order.
    components: Vec<(String, String)>,
    /// Each chart's first tail minute at the read (None: an empty tail).
    tail_first: Vec<Option<UnixMs>>,
    /// The rows read, per chart.
    rows: Vec<Arc<Vec<MinutePoint>>>,
}

/// The last read of the page's 24-hour rows (see the module doc). Cheap to share.
#[derive(Debug, Default, Clone)]
pub struct DayCache {
    last: Arc<Mutex<Option<Read>>>,
    reads: Arc<AtomicU64>,
}

impl DayCache {
    /// An empty cache.
    pub fn new() -> DayCache {
        DayCache::default()
    }

    /// How many times the rows were read from the store (the other calls were served
    /// from the last read).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Option<Read>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Each chart's `minutes` minutes (at most a day) ending with the minute containing
    /// `now`: the store's rows of component `components[i]` joined with `tails[i]`, as
    /// [`StoreReader::joined_minutes`] gives them, from the last read while it is valid.
    pub fn joined(
        &self,
        reader: &StoreReader,
        components: &[(String, String)],
        tails: Vec<Vec<MinutePoint>>,
        now: UnixMs,
        minutes: usize,
    ) -> Result<Vec<Vec<MinutePoint>>, StoreError> {
        let from = window_start(now, minutes);
        let tail_first: Vec<Option<UnixMs>> =
            tails.iter().map(|t| t.first().map(|p| p.start)).collect();
        let cached = {
            let last = self.lock();
            last.as_ref()
                .filter(|r| r.components == components && r.tail_first == tail_first)
                .map(|r| r.rows.clone())
        };
        let rows = match cached {
            Some(rows) => rows,
            None => {
                // The window at `now`; the rows before a later render's window are
                // skipped then.
                let mut rows = Vec::with_capacity(components.len());
                for (group, name) in components {
                    rows.push(Arc::new(reader.window_minutes(group, name, now, minutes)?));
                }
                self.reads.fetch_add(1, Ordering::Relaxed);
                let total: usize = rows.iter().map(|r| r.len()).sum();
                *self.lock() = (total <= MAX_ROWS).then(|| Read {
                    components: components.to_vec(),
                    tail_first,
                    rows: rows.clone(),
                });
                rows
            }
        };
        Ok(rows
            .iter()
            .zip(tails)
            .map(|(stored, tail)| {
                let skip = stored.partition_point(|p| p.start < from);
                merge_minutes(stored.get(skip..).unwrap_or_default().to_vec(), tail)
            })
            .collect())
    }
}
