//! Steady-state heap of the zone state at scale, by structure (bytes per target).
//!
//! `bench/run.sh` measures a daemon that has run for a minute; the per-server evidence
//! window (`stats_window`, 10 min) and the response-time history only reach their size
//! later. This example drives the pure state core with an injected clock through 24 h of
//! probes in the bench's shape (zones of 50 nameservers, one UDP target each; default
//! thresholds) and counts the live heap bytes after each phase:
//!
//! ```text
//! cargo run --release --example state_mem -- [TARGETS] [--no-store] [--read-cost]   (default 10000)
//! ```
//!
//! Phases: targets registered; 23 h 50 min at one probe a minute per target (fills the
//! history, not the window); the last 10 min at one probe a second (fills the window).
//! Once a minute the histories go through the daemon's series tick
//! (`store::series::take_minutes`, the writer committing each mark before the next
//! tick, as it does when the disk keeps up): only the tail the store has not committed
//! stays. With `--no-store` nothing is released: every history keeps its 24 h of
//! minutes, as when the store refuses writes for a day (and as every daemon did before
//! the charts read the store). Per-structure figures are measured by rebuilding one
//! structure alone. `--read-cost` also times what the memory is traded for: reading a
//! component's day of minutes back from a real store (`StoreReader::joined_minutes`,
//! as the status page does per chart).

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nsprobe::config::Thresholds;
use nsprobe::probe::{Answer, Outcome, Transport};
use nsprobe::state::{Observation, ResponseHistory, SampleWindow, TargetKey, ZoneState};
use nsprobe::store::series::take_minutes;

/// Counts live heap bytes (requested sizes) on top of the system allocator.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

const T0: u64 = 1_782_290_340_000; // a whole minute
const SEC: u64 = 1000;
const MIN: u64 = 60 * SEC;
const PER_ZONE: usize = 50;

fn answer(i: u64) -> Outcome {
    Ok(Answer {
        serial: 2026010101,
        rtt: Duration::from_nanos(60_000 + (i * 7919) % 40_000),
        nsid: None,
        rrsig_expiration: None,
        size: 90,
        truncated: false,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let store = !args.iter().any(|a| a == "--no-store");
    let n: usize = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(|a| a.parse().expect("TARGETS: a whole number"))
        .unwrap_or(10_000);
    let zones_n = n.div_ceil(PER_ZONE);
    let per_target = |bytes: usize| bytes as f64 / n as f64;

    let h0 = live();
    let mut zones: Vec<(ZoneState, Vec<TargetKey>)> = (0..zones_n)
        .map(|z| {
            let keys: Vec<TargetKey> = (0..PER_ZONE)
                .map(|i| {
                    let addr: SocketAddr = format!("127.0.0.1:{}", 26000 + i).parse().unwrap();
                    TargetKey::new(&format!("ns{i}"), addr, Transport::Udp)
                })
                .collect();
            let mut st = ZoneState::new(&format!("z{z}.bench.test."), Thresholds::default());
            st.sync_targets(&keys);
            (st, keys)
        })
        .collect();
    let h1 = live();
    println!(
        "targets {n} (zones of {PER_ZONE} servers, one UDP target each), {}, bytes per target:",
        if store {
            "minutes released once the store has them"
        } else {
            "--no-store: 24 h of minutes in memory"
        }
    );
    println!(
        "  registered, no probe yet        {:8.0}",
        per_target(h1 - h0)
    );

    let mut i = 0u64;
    let mut feed = |zones: &mut Vec<(ZoneState, Vec<TargetKey>)>, at: u64| {
        for (st, keys) in zones.iter_mut() {
            for k in keys.iter() {
                i += 1;
                st.observe(Observation {
                    key: k.clone(),
                    at: at + (i % 997),
                    outcome: answer(i),
                });
            }
        }
    };
    // The daemon's series tick: minutes before `current` are sent; the mark sent at
    // the previous tick is committed (`written`).
    let mut last = T0 / MIN;
    let mut tick = |zones: &mut Vec<(ZoneState, Vec<TargetKey>)>, at: u64| {
        let current = at / MIN;
        if !store || current <= last {
            return;
        }
        let mut writes = Vec::new();
        for (st, _) in zones.iter_mut() {
            let zone = st.zone().to_string();
            for (name, h) in st.histories_mut() {
                let key = (zone.clone(), name.clone());
                take_minutes(h, &key, last, current, last, &mut writes);
            }
        }
        last = current;
    };
    let end = T0 + 24 * 60 * MIN;
    let mut t = T0;
    while t < end - 10 * MIN {
        feed(&mut zones, t);
        tick(&mut zones, t + 5 * SEC);
        t += MIN;
    }
    let h2 = live();
    println!(
        "  + 23 h 50 min at 1/min          {:8.0}",
        per_target(h2 - h0)
    );
    while t < end {
        feed(&mut zones, t);
        tick(&mut zones, t);
        t += SEC;
    }
    let h3 = live();
    println!(
        "  + last 10 min at 1/s (= 24 h)   {:8.0}",
        per_target(h3 - h0)
    );

    // One structure alone, in the same steady state.
    let b = live();
    let mut w = SampleWindow::new();
    let span = Thresholds::default().stats_window.as_millis() as u64;
    for s in 0..3600u64 {
        w.push(T0 + s * SEC, Some(Duration::from_micros(61)), span);
    }
    println!(
        "  of which evidence window (server, {} samples)  {:8}",
        w.len(),
        live() - b
    );
    let b = live();
    let mut h = ResponseHistory::default();
    let key = ("z".to_string(), "ns".to_string());
    for m in 0..2000u64 {
        h.record(T0 + m * MIN, Some(Duration::from_micros(61)));
        if store && m > 0 {
            let current = T0 / MIN + m;
            let mut sent = Vec::new();
            take_minutes(&mut h, &key, current - 1, current, current - 1, &mut sent);
        }
    }
    println!(
        "  of which response history (server, {} closed minutes)  {:8}",
        h.closed_minutes(),
        live() - b
    );
    drop((w, h));
    println!(
        "total {:.1} MiB for {n} targets",
        (h3 - h0) as f64 / 1024.0 / 1024.0
    );
    drop(zones);
    if args.iter().any(|a| a == "--read-cost") {
        read_cost();
    }
}

/// Times `joined_minutes` over a full day of one component's minutes in a real store.
fn read_cost() {
    use nsprobe::config::StoreConfig;
    use nsprobe::metrics::DaemonMetrics;
    use nsprobe::store::{MinuteRecord, Store, Write};
    use std::sync::Arc;
    let dir = tempfile::tempdir().expect("tempdir");
    let now = T0 + 1440 * MIN - 1;
    let settings = StoreConfig {
        path: dir.path().join("nsprobe.db"),
        retention: Duration::from_secs(90 * 86_400),
        minute_retention: Duration::from_secs(7 * 86_400),
    };
    let (store, _) = Store::open_with_clock(
        &settings,
        Arc::new(DaemonMetrics::new()),
        Arc::new(move || now),
    )
    .expect("store");
    let charts = 19;
    for c in 0..charts {
        for m in 0..1440u64 {
            store.send(Write::Minute {
                component: ("DNS (.dk)".into(), format!("ns{c}")),
                record: MinuteRecord {
                    minute: T0 + m * MIN,
                    probes: 60,
                    failures: 0,
                    min_us: Some(55),
                    median_us: Some(61 + (m % 7) as u32),
                    p95_us: Some(90),
                    max_us: Some(15_000),
                },
            });
        }
    }
    assert!(store.flush(Duration::from_secs(60)), "flush");
    let reader = store.reader();
    // The whole day per chart (a daemon up for a day), then its last minute only (the
    // fixed cost of a query: a daemon up for a minute).
    for (what, minutes, rows) in [("a day of minutes", 1440, 1440), ("one minute", 1, 1)] {
        let mut times = Vec::new();
        for round in 0..50 {
            let t = std::time::Instant::now();
            for c in 0..charts {
                let got = reader
                    .joined_minutes("DNS (.dk)", &format!("ns{c}"), Vec::new(), now, minutes)
                    .expect("read");
                assert_eq!(got.len(), rows);
            }
            if round > 0 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "read-cost: {what} ({rows} rows) for {charts} charts (the .dk page): median {:.2} ms, max {:.2} ms over {} rounds ({:.1} µs per chart)",
            times[times.len() / 2],
            times[times.len() - 1],
            times.len(),
            times[times.len() / 2] * 1000.0 / charts as f64
        );
    }
    store.close(Duration::from_secs(10));
}
