//! Benchmark (not a test): the CPU parts of a `/metrics` scrape after the state lock is
//! released — rendering the text exposition, rendering it into the gzip encoder as
//! `/metrics` does, and compressing the text alone — on bench/bench.py's shape (zones of 50 nameservers, one UDP target
//! each) at 1,000 and 10,000 targets.
//!
//! `cargo run --release --example bench_metrics [-- --dump DIR]` (see bench/README.md).
//! Prints the median and minimum of several runs per part; `--dump DIR` writes the
//! 1,000-target body to `DIR/metrics-1000.txt`. The lock-held copy and the end-to-end
//! time are measured on a running daemon by bench/run.sh.

use std::time::{Duration, Instant};

use nsprobe::metrics::{render, render_gzip};

#[path = "../tests/common/metrics_snapshot.rs"]
mod metrics_snapshot;

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[0]))
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut last = f();
    let mut ts = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        last = f();
        ts.push(t.elapsed());
    }
    let (p50, min) = stats(ts);
    (p50, min, last)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dump = args
        .iter()
        .position(|a| a == "--dump")
        .and_then(|i| args.get(i + 1).cloned());
    for (targets, runs) in [(1_000usize, 60usize), (10_000, 10)] {
        let (snap, daemon) = metrics_snapshot::snapshot(targets / 50, 50, false);
        let (p50, min, text) = time(runs, || render(&snap, &daemon));
        println!(
            "{targets:>6} targets  render identity: p50 {p50:6.2} ms  min {min:6.2} ms  ({} bytes, {:.0} MB/s at p50)",
            text.len(),
            text.len() as f64 / p50 / 1000.0
        );
        // As /metrics does it: rendered straight into the compressor.
        let (p50, min, z) = time(runs, || render_gzip(&snap, &daemon));
        println!(
            "{targets:>6} targets  render gzip:     p50 {p50:6.2} ms  min {min:6.2} ms  ({} bytes on the wire)",
            z.len()
        );
        let (p50, min, _) = time(runs, || nsprobe::metrics::gzip(text.as_bytes()));
        println!("{targets:>6} targets  deflate only:    p50 {p50:6.2} ms  min {min:6.2} ms");
        if targets == 1_000 {
            if let Some(dir) = &dump {
                std::fs::write(format!("{dir}/metrics-1000.txt"), &text).expect("dump");
            }
        }
    }
}
