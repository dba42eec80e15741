//! Serving `/metrics`: concurrent scrapes share one render, gzip is done once per render.
//!
//! A scrape that arrives while a render is in flight waits for that render and gets
//! its body (the state changes in 20 ms report batches and 250 ms status ticks, so a
//! render already under way is as fresh as a new one would be). A scrape that arrives
//! after a render finished starts a new one. So at most one render runs at a time and
//! a thousand concurrent scrapes cost one render, one gzip and one body in memory,
//! shared (`Bytes`) by every response. Nothing is kept once the responses are sent.
//!
//! The render (lock, copy, text) and the gzip run on the blocking pool, never on an
//! async worker: a large body cannot stall the listener or other requests.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::OnceCell;

use super::{scrape, DaemonMetrics, ScrapeTimes};
use crate::model::Shared;

/// gzip level of `/metrics`: 1, the fastest (about 20× smaller on the exposition text;
/// higher levels cost several times the CPU for a few percent more).
const GZIP_LEVEL: u32 = 1;

/// One render of `/metrics`, shared by the scrapes that waited for it.
#[derive(Debug)]
pub struct Rendered {
    /// The text exposition.
    pub text: Bytes,
    /// Where the render's time went.
    pub times: ScrapeTimes,
    gzip: OnceCell<Bytes>,
}

impl Rendered {
    /// The text, gzip-compressed (computed once, on the blocking pool).
    pub async fn gzip(self: &Arc<Self>) -> Bytes {
        let me = self.clone();
        self.gzip
            .get_or_init(|| async move {
                let text = me.text.clone();
                tokio::task::spawn_blocking(move || gzip(&text))
                    .await
                    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
            })
            .await
            .clone()
    }
}

/// gzip of `text` at [`GZIP_LEVEL`].
pub fn gzip(text: &[u8]) -> Bytes {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(text.len() / 16 + 64),
        flate2::Compression::new(GZIP_LEVEL),
    );
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(text);
    Bytes::from(enc.finish().unwrap_or_default())
}

/// The render in flight, if any (see the module doc).
#[derive(Debug, Default)]
pub struct Scrapes {
    current: Mutex<Option<Arc<OnceCell<Arc<Rendered>>>>>,
}

impl Scrapes {
    /// No render in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// The render in flight, or a new one.
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
            .get_or_init(|| async move {
                let (text, times) =
                    tokio::task::spawn_blocking(move || scrape(&shared, &daemon, crate::now_ms()))
                        .await
                        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                Arc::new(Rendered {
                    text: Bytes::from(text),
                    times,
                    gzip: OnceCell::new(),
                })
            })
            .await
            .clone();
        // Done: later scrapes start a new render, and this one is freed with its responses.
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
