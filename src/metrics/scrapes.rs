//! Serving `/metrics`: concurrent scrapes share one snapshot and one render per encoding.
//!
//! A scrape that arrives while a scrape's snapshot is being taken waits for it and
//! shares it (the state changes in 20 ms report batches and 250 ms status ticks, so a
//! snapshot under way is as fresh as a new one would be); one that arrives later takes
//! a new one. Each snapshot is rendered at most once as text and once as gzip, and
//! every response shares that body (`Bytes`). So a thousand concurrent scrapes cost
//! one copy under the lock, one render and one body in memory; nothing is kept once
//! the responses are sent.
//!
//! gzip (what Prometheus asks for) is rendered straight into the compressor in
//! [`CHUNK`]-sized pieces: the uncompressed document never exists in memory.
//! Snapshot, render and compression run on the blocking pool, never on an async
//! worker: a large body cannot stall the listener or other requests.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::OnceCell;

use super::{render, render_into, take, DaemonMetrics, DaemonSnapshot, ScrapeTimes, Snapshot};
use crate::model::Shared;

/// gzip level of `/metrics`: 1, the fastest (about 20× smaller on the exposition text;
/// higher levels cost several times the CPU for a few percent more).
const GZIP_LEVEL: u32 = 1;

/// One snapshot of the metrics, shared by the scrapes that waited for it, with its
/// renders.
#[derive(Debug)]
pub struct Rendered {
    snap: Snapshot,
    daemon: DaemonSnapshot,
    /// Lock wait and hold of the snapshot.
    pub times: ScrapeTimes,
    text: OnceCell<(Bytes, std::time::Duration)>,
    gzip: OnceCell<(Bytes, std::time::Duration)>,
}

impl Rendered {
    /// The text exposition and how long rendering it took (rendered once, on the blocking pool).
    pub async fn text(self: &Arc<Self>) -> (Bytes, std::time::Duration) {
        let me = self.clone();
        self.text
            .get_or_init(|| blocking(move || timed(|| Bytes::from(render(&me.snap, &me.daemon)))))
            .await
            .clone()
    }

    /// The text exposition gzip-compressed, and how long rendering and compressing took
    /// (once, on the blocking pool, without the uncompressed text in memory).
    pub async fn gzip(self: &Arc<Self>) -> (Bytes, std::time::Duration) {
        let me = self.clone();
        self.gzip
            .get_or_init(|| {
                blocking(move || {
                    timed(|| {
                        let mut z = Gzip::new(me.snap.target_count() * 200 + 4096);
                        render_into(&me.snap, &me.daemon, &mut |chunk| z.write(chunk.as_bytes()));
                        z.finish()
                    })
                })
            })
            .await
            .clone()
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, std::time::Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// A gzip stream into memory at [`GZIP_LEVEL`].
struct Gzip(flate2::write::GzEncoder<Vec<u8>>);

impl Gzip {
    fn new(capacity: usize) -> Self {
        Gzip(flate2::write::GzEncoder::new(
            Vec::with_capacity(capacity),
            flate2::Compression::new(GZIP_LEVEL),
        ))
    }

    fn write(&mut self, bytes: &[u8]) {
        // Writing into a Vec cannot fail.
        let _ = self.0.write_all(bytes);
    }

    fn finish(self) -> Bytes {
        Bytes::from(self.0.finish().unwrap_or_default())
    }
}

/// gzip of `text` at [`GZIP_LEVEL`] (the same encoder `/metrics` uses).
pub fn gzip(text: &[u8]) -> Bytes {
    let mut z = Gzip::new(text.len() / 16 + 64);
    z.write(text);
    z.finish()
}

/// The snapshot in flight, if any (see the module doc).
#[derive(Debug, Default)]
pub struct Scrapes {
    current: Mutex<Option<Arc<OnceCell<Arc<Rendered>>>>>,
}

impl Scrapes {
    /// Nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// The snapshot being taken, or a new one.
    pub async fn get(&self, shared: &Arc<Shared>, daemon: &Arc<DaemonMetrics>) -> Arc<Rendered> {
        let cell = {
            let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
            match &*cur {
                Some(c) if !c.initialized() => c.clone(),
                _ => {
                    let c = Arc::new(OnceCell::new());
                    *cur = Some(c.clone());
                    c
                }
            }
        };
        let (shared, daemon) = (shared.clone(), daemon.clone());
        let rendered = cell
            .get_or_init(|| {
                blocking(move || {
                    let (snap, daemon, times) = take(&shared, &daemon, crate::now_ms());
                    Arc::new(Rendered {
                        snap,
                        daemon,
                        times,
                        text: OnceCell::new(),
                        gzip: OnceCell::new(),
                    })
                })
            })
            .await
            .clone();
        // Taken: later scrapes take a new one; this one is freed with its responses.
        let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if cur.as_ref().is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            *cur = None;
        }
        rendered
    }
}

/// Whether an `Accept-Encoding` value accepts gzip (`gzip`, `x-gzip` or `*` with a
/// q-value above zero).
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let wanted = ["gzip", "x-gzip", "*"]
            .iter()
            .any(|c| coding.eq_ignore_ascii_case(c));
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .filter_map(|v| v.trim().parse::<f64>().ok())
            .next()
            .unwrap_or(1.0);
        wanted && q > 0.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("identity;q=0.5, GZIP;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(accepts_gzip("x-gzip"));
        assert!(!accepts_gzip(""));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("gzip; q=0.0, identity"));
        assert!(!accepts_gzip("gzipx"));
    }

    #[test]
    fn gzip_round_trip() {
        use std::io::Read as _;
        let text = "nsprobe_target_up{zone=\"dk.\"} 1\n".repeat(1000);
        let z = gzip(text.as_bytes());
        assert!(z.len() < text.len() / 10);
        let mut back = String::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_string(&mut back)
            .expect("gunzip");
        assert_eq!(back, text);
    }
}
