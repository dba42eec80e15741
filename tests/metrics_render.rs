//! The `/metrics` exposition, byte for byte: the renderer is a measured hot path and is
//! optimised by hand, so its output is pinned on realistic snapshots
//! (`tests/common/metrics_snapshot.rs`):
//!
//! - a small snapshot with every branch the renderer has (IPv6, TCP, failures, escaped
//!   NSIDs, lag, maintenance, service checks, peers, canaries, daemon histograms)
//!   against `tests/golden/metrics-rich.txt`, readable in a diff;
//! - bench/bench.py's shape at 1,000 targets (20 zones × 50 servers) by its SHA-256.
//!
//! Both references were written by the renderer before it was optimised. After an
//! intended change of the exposition, rewrite them with `NSPROBE_BLESS=1 cargo test
//! --test metrics_render` and review the diff of the golden file.

#[path = "common/metrics_snapshot.rs"]
mod metrics_snapshot;

use nsprobe::metrics::{render, render_into, CHUNK};

const GOLDEN: &str = "tests/golden/metrics-rich.txt";
const DIGEST_1000: &str = "tests/golden/metrics-1000.sha256";

fn sha256(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn bless() -> bool {
    std::env::var_os("NSPROBE_BLESS").is_some()
}

#[test]
fn rich_snapshot_renders_as_the_golden_file() {
    let (snap, daemon) = metrics_snapshot::snapshot(2, 3, true);
    let text = render(&snap, &daemon);
    if bless() {
        std::fs::write(GOLDEN, &text).expect("write the golden file");
    }
    let golden = std::fs::read_to_string(GOLDEN).expect("read the golden file");
    if text != golden {
        let line = text
            .lines()
            .zip(golden.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(text.lines().count().min(golden.lines().count()));
        panic!(
            "exposition differs from {GOLDEN} at line {}:\n  got:  {:?}\n  want: {:?}",
            line + 1,
            text.lines().nth(line),
            golden.lines().nth(line)
        );
    }
}

#[test]
fn thousand_targets_render_as_before() {
    let (snap, daemon) = metrics_snapshot::snapshot(20, 50, false);
    assert_eq!(snap.target_count(), 1_000);
    let text = render(&snap, &daemon);
    assert!(text.len() > 2_000_000, "{} bytes", text.len());
    let digest = sha256(&text);
    if bless() {
        std::fs::write(DIGEST_1000, format!("{digest}\n")).expect("write the digest");
    }
    let want = std::fs::read_to_string(DIGEST_1000).expect("read the digest");
    assert_eq!(digest, want.trim(), "the 1,000-target exposition changed");
}

#[test]
fn chunks_concatenate_to_the_document() {
    let (snap, daemon) = metrics_snapshot::snapshot(3, 40, true);
    let whole = render(&snap, &daemon);
    let mut chunks = Vec::new();
    render_into(&snap, &daemon, &mut |c| chunks.push(c.to_string()));
    assert!(chunks.len() > 2, "{} chunks", chunks.len());
    // Every chunk but the last is about CHUNK bytes and ends on a line.
    for c in &chunks[..chunks.len() - 1] {
        assert!(c.len() >= CHUNK && c.len() < CHUNK + 4096, "{}", c.len());
        assert!(c.ends_with('\n'));
    }
    assert_eq!(chunks.concat(), whole);
}

#[test]
fn gzip_body_inflates_to_the_text() {
    use std::io::Read as _;
    let (snap, daemon) = metrics_snapshot::snapshot(4, 50, true);
    let text = render(&snap, &daemon);
    let z = nsprobe::metrics::render_gzip(&snap, &daemon);
    assert!(z.len() * 8 < text.len(), "{} of {}", z.len(), text.len());
    let mut back = String::new();
    flate2::read::GzDecoder::new(&z[..])
        .read_to_string(&mut back)
        .expect("gunzip");
    assert!(back == text, "the gzip body is not the text");
}
