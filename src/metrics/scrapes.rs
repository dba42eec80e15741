//! Serving `/metrics`: scrapes close together share one snapshot and one render per
//! encoding.
//!
//! A scrape joins the current job — one snapshot and its renders — while the job's
//! snapshot or a render is still in flight, or for [`REUSE`] (20 ms) after it
//! started; otherwise it starts a new job. Each job is rendered
//! at most once as text and once as gzip, and every response shares that body
//! (`Bytes`). So at most one snapshot and render run at a time, a thousand concurrent
//! scrapes cost one copy under the lock, one render and one body in memory, and
//! nothing is kept once the last response is sent. Two Prometheus servers of an HA
//! pair scraping together share the work too.
//!
//! gzip (what Prometheus asks for) is rendered straight into the compressor in
//! [`CHUNK`](super::CHUNK)-sized pieces: the uncompressed document never exists in memory.
//! Neither does a large identity body: above [`STREAM_ABOVE`] (estimated from the number
//! of targets: about 3.7 KB of text each) every identity scrape renders the shared
//! snapshot itself and streams the text as it is produced, a few chunks in flight
//! (36 MB at 10,000 targets would otherwise be held whole while it is sent).
//! Snapshot, render and compression run on a thread of their own, never on an async
//! worker nor the shared blocking pool: a large body cannot stall the listener or other
//! requests, and a backlog of other blocking work cannot stall a scrape. The scrape that
//! starts a job has its body rendered on the snapshot's thread right after the copy (one
//! thread hand-off per scrape, not two).

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, OnceCell};

use super::{render, render_into, take, DaemonMetrics, DaemonSnapshot, ScrapeTimes, Snapshot};
use crate::model::Shared;

/// gzip level of `/metrics`: 1, the fastest. flate2's backend is zlib-rs (Cargo feature
/// `zlib-rs`): on the 1,000-target exposition (3.5 MB) its level 1 takes 1.7 ms where
/// miniz_oxide's took 2.0 ms (226 KB on the wire instead of 190 KB, still 16× smaller
/// than the text); its level 2 takes 1.9 ms for 167 KB, level 3 3.3 ms for 153 KB.
const GZIP_LEVEL: u32 = 1;

/// A scrape arriving within this long after a snapshot was taken shares it: the daemon
/// applies probe reports in batches 100 ms apart, so a snapshot this young is mostly
/// as fresh as a new one would be.
pub const REUSE: Duration = Duration::from_millis(20);

/// Identity bodies estimated larger than this are streamed, not held whole (see the module
/// doc): at 3.7 KB a target, from about 2,300 targets on.
pub const STREAM_ABOVE: usize = 8 << 20;

/// Estimated identity text per target (bytes), for [`STREAM_ABOVE`].
const TEXT_PER_TARGET: usize = 3700;

/// Chunks of a streamed body in flight between the render thread and the connection.
const STREAM_CHUNKS: usize = 4;

/// A `/metrics` body: whole (shared by the scrapes of a job), or streamed from a render.
#[derive(Debug)]
pub enum MetricsBody {
    /// The body, shared.
    Whole(Bytes),
    /// The chunks of an identity render in progress, in order; closed at the end.
    Streamed(mpsc::Receiver<Bytes>),
}

impl MetricsBody {
    /// Length of a whole body (None while streaming).
    pub fn whole_len(&self) -> Option<usize> {
        match self {
            MetricsBody::Whole(b) => Some(b.len()),
            MetricsBody::Streamed(_) => None,
        }
    }

    /// The whole body, reading a streamed one to its end.
    pub async fn collect(self) -> Bytes {
        match self {
            MetricsBody::Whole(b) => b,
            MetricsBody::Streamed(mut rx) => {
                let mut out = Vec::new();
                while let Some(chunk) = rx.recv().await {
                    out.extend_from_slice(&chunk);
                }
                Bytes::from(out)
            }
        }
    }
}

impl http_body::Body for MetricsBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        match self.get_mut() {
            MetricsBody::Whole(b) if b.is_empty() => Poll::Ready(None),
            MetricsBody::Whole(b) => {
                Poll::Ready(Some(Ok(http_body::Frame::data(std::mem::take(b)))))
            }
            MetricsBody::Streamed(rx) => rx
                .poll_recv(cx)
                .map(|chunk| chunk.map(|c| Ok(http_body::Frame::data(c)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, MetricsBody::Whole(b) if b.is_empty())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            MetricsBody::Whole(b) => http_body::SizeHint::with_exact(b.len() as u64),
            MetricsBody::Streamed(_) => http_body::SizeHint::default(),
        }
    }
}

/// One snapshot of the metrics, shared by the scrapes that joined it, with its renders.
#[derive(Debug)]
pub struct Rendered {
    started: Instant,
    snap: OnceCell<(Arc<(Snapshot, DaemonSnapshot)>, ScrapeTimes)>,
    text: OnceCell<(Bytes, Duration)>,
    gzip: OnceCell<(Bytes, Duration)>,
    /// The body rendered on the snapshot's thread right after it was taken, for the
    /// encoding of the scrape that started the job: (gzip, body, render time). Taken by
    /// that encoding's cell, so a new job costs one thread hand-off, not two.
    first: Mutex<Option<(bool, Bytes, Duration)>>,
    /// Renders in flight (a scrape joins a job whose render it can wait for).
    rendering: AtomicUsize,
}

impl Rendered {
    fn new() -> Self {
        Rendered {
            started: Instant::now(),
            snap: OnceCell::new(),
            text: OnceCell::new(),
            gzip: OnceCell::new(),
            first: Mutex::new(None),
            rendering: AtomicUsize::new(0),
        }
    }

    fn joinable(&self) -> bool {
        self.started.elapsed() < REUSE
            || !self.snap.initialized()
            || self.rendering.load(Ordering::Acquire) > 0
    }

    /// The body (text, or gzip when `gzip`), the snapshot's lock times and how long
    /// rendering took. Each is computed once per job, on a thread of its own, except a
    /// large identity body: streamed from a render of its own (render time zero here;
    /// the thread logs it).
    async fn body(
        &self,
        shared: &Arc<Shared>,
        daemon: &Arc<DaemonMetrics>,
        gzip: bool,
    ) -> (MetricsBody, ScrapeTimes, Duration) {
        self.rendering.fetch_add(1, Ordering::AcqRel);
        let _done = Decrement(&self.rendering);
        let (shared, daemon) = (shared.clone(), daemon.clone());
        let (snap, times) = self
            .snap
            .get_or_init(|| async {
                let (snap, times, first) = blocking(move || {
                    let (snap, d, times) = take(&shared, &daemon, crate::now_ms());
                    let snap = Arc::new((snap, d));
                    let first = (!streamed(&snap.0, gzip))
                        .then(|| timed(|| encode(&snap.0, &snap.1, gzip)));
                    (snap, times, first)
                })
                .await;
                if let Some(first) = first {
                    self.keep_first(gzip, first);
                }
                (snap, times)
            })
            .await
            .clone();
        if streamed(&snap.0, gzip) {
            return (stream(snap), times, Duration::ZERO);
        }
        let cell = if gzip { &self.gzip } else { &self.text };
        let (body, took) = cell
            .get_or_init(|| async {
                if let Some(first) = self.take_first(gzip) {
                    return first;
                }
                blocking(move || {
                    let (s, d) = &*snap;
                    timed(|| encode(s, d, gzip))
                })
                .await
            })
            .await
            .clone();
        (MetricsBody::Whole(body), times, took)
    }
}

impl Rendered {
    fn keep_first(&self, gzip: bool, first: (Bytes, Duration)) {
        *self.first.lock().unwrap_or_else(|e| e.into_inner()) = Some((gzip, first.0, first.1));
    }

    fn take_first(&self, gzip: bool) -> Option<(Bytes, Duration)> {
        let mut slot = self.first.lock().unwrap_or_else(|e| e.into_inner());
        match slot.take() {
            Some((g, body, took)) if g == gzip => Some((body, took)),
            other => {
                *slot = other;
                None
            }
        }
    }
}

/// Whether a scrape of `snap` in this encoding is streamed (identity above
/// [`STREAM_ABOVE`]) rather than rendered whole and shared.
fn streamed(snap: &Snapshot, gzip: bool) -> bool {
    !gzip && snap.target_count().saturating_mul(TEXT_PER_TARGET) > STREAM_ABOVE
}

/// The body of one encoding: the text, or gzip.
fn encode(s: &Snapshot, d: &DaemonSnapshot, gzip: bool) -> Bytes {
    if gzip {
        render_gzip(s, d)
    } else {
        Bytes::from(render(s, d))
    }
}

/// The gzip body: rendered straight into the compressor, chunk by chunk, on this
/// thread. (Compressing on a second thread fed by the render was measured: on this
/// shared 2-core machine the hand-off cost more than the overlap saved — 2.9–3.5 ms
/// instead of 2.5 ms per 1,000-target scrape.)
pub fn render_gzip(s: &Snapshot, d: &DaemonSnapshot) -> Bytes {
    let mut z = Gzip::new(s.target_count() * 240 + 4096);
    render_into(s, d, &mut |chunk| z.write(chunk.as_bytes()));
    z.finish()
}

/// Renders `snap` as text on a thread of its own into a channel of [`STREAM_CHUNKS`]
/// chunks: the render waits while the client reads. A client gone stops the sending
/// (the render runs to its end, discarding).
fn stream(snap: Arc<(Snapshot, DaemonSnapshot)>) -> MetricsBody {
    let (tx, rx) = mpsc::channel(STREAM_CHUNKS);
    let spawned = std::thread::Builder::new()
        .name("nsprobe-metrics".into())
        .spawn(move || {
            crate::priority::lower_reader_thread();
            let (s, d) = &*snap;
            let t = Instant::now();
            let (mut open, mut bytes) = (true, 0usize);
            render_into(s, d, &mut |chunk| {
                bytes += chunk.len();
                open = open
                    && tx
                        .blocking_send(Bytes::copy_from_slice(chunk.as_bytes()))
                        .is_ok();
            });
            tracing::debug!(
                render_us = t.elapsed().as_micros() as u64,
                bytes,
                complete = open,
                "/metrics identity body streamed"
            );
        });
    if let Err(e) = spawned {
        panic!("cannot start a metrics thread: {e}");
    }
    MetricsBody::Streamed(rx)
}

struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

/// Runs `f` on a thread of its own (`nsprobe-metrics`), not on an async worker nor the
/// runtime's blocking pool: a backlog there (store reads of a flood of page requests)
/// must not hold up a scrape. One job runs at a time (see [`Scrapes`]), so these
/// threads are few. They serve readers, so they run at the readers' priority
/// ([`crate::priority`]), below the probes.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("nsprobe-metrics".into())
        .spawn(move || {
            crate::priority::lower_reader_thread();
            let _ = tx.send(f());
        });
    match spawned {
        Ok(_) => rx
            .await
            .unwrap_or_else(|_| panic!("the metrics thread panicked")),
        Err(e) => panic!("cannot start a metrics thread: {e}"),
    }
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

/// The current job, if any (see the module doc). Held weakly: a job is freed with
/// its last response.
#[derive(Debug, Default)]
pub struct Scrapes {
    current: Mutex<Weak<Rendered>>,
}

impl Scrapes {
    /// No job yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The body of a scrape (gzip or text), sharing the current job when it is joinable,
    /// with the snapshot's lock times and the render time.
    pub async fn body(
        &self,
        shared: &Arc<Shared>,
        daemon: &Arc<DaemonMetrics>,
        gzip: bool,
    ) -> (MetricsBody, ScrapeTimes, Duration) {
        let job = {
            let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
            match cur.upgrade() {
                Some(j) if j.joinable() => j,
                _ => {
                    let j = Arc::new(Rendered::new());
                    *cur = Arc::downgrade(&j);
                    j
                }
            }
        };
        job.body(shared, daemon, gzip).await
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

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn renders_run_at_the_readers_priority() {
        use crate::priority::{current_nice, process_nice, reader_nice};
        let (name, nice) = blocking(|| {
            let name = std::thread::current().name().map(str::to_string);
            (name, current_nice().unwrap())
        })
        .await;
        assert_eq!(name.as_deref(), Some("nsprobe-metrics"));
        assert_eq!(nice, reader_nice(process_nice().unwrap()));
    }

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

    /// A streamed identity body is the rendered text, in order, over several chunks.
    #[tokio::test]
    async fn streamed_body_is_the_text() {
        let m = DaemonMetrics::new();
        let snap = || Snapshot {
            now: 0,
            zones: Vec::new(),
            vantage_up: false,
            peers: (0..3000)
                .map(|i| crate::model::PeerHealth {
                    url: format!("https://vantage-{i}.example:9853"),
                    up: i % 3 == 0,
                    pulls: i,
                    ..Default::default()
                })
                .collect(),
            groups: Vec::new(),
            canaries: Vec::new(),
        };
        let text = render(&snap(), &m.snapshot());
        assert!(text.len() > 4 * super::super::CHUNK, "{}", text.len());
        let body = stream(Arc::new((snap(), m.snapshot())));
        assert_eq!(body.whole_len(), None);
        assert_eq!(body.collect().await, text.as_bytes());
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
