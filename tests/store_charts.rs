//! The 24-hour response-time charts from the store: a day of minutes through the real
//! writer on a fake clock, with each history kept only as the tail the daemon keeps
//! (sent with `store::series::take_minutes`, released once committed). The store's
//! minutes joined with that tail give exactly the points the whole in-memory day gave,
//! at every moment, and survive a restart.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nsprobe::config::StoreConfig;
use nsprobe::metrics::DaemonMetrics;
use nsprobe::page::view::aggregate;
use nsprobe::state::{ResponseHistory, MINUTE_MS};
use nsprobe::store::day_cache::DayCache;
use nsprobe::store::series::take_minutes;
use nsprobe::store::{ComponentKey, Store, Write};

/// 2026-06-24 00:00 UTC.
const T0: u64 = 1_782_259_200_000;

/// One component: the whole day in memory (today's ring) and the daemon's tail.
struct Component {
    key: ComponentKey,
    full: ResponseHistory,
    tail: ResponseHistory,
}

impl Component {
    fn new(group: &str, name: &str) -> Component {
        Component {
            key: (group.to_string(), name.to_string()),
            full: ResponseHistory::default(),
            tail: ResponseHistory::default(),
        }
    }

    fn record(&mut self, at: u64, rtt: Option<Duration>) {
        self.full.record(at, rtt);
        self.tail.record(at, rtt);
    }
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn open(path: &std::path::Path, clock: &Arc<AtomicU64>) -> Store {
    let settings = StoreConfig {
        path: path.to_path_buf(),
        retention: Duration::from_secs(90 * 86_400),
        minute_retention: Duration::from_secs(7 * 86_400),
    };
    let c = clock.clone();
    Store::open_with_clock(
        &settings,
        Arc::new(DaemonMetrics::new()),
        Arc::new(move || c.load(Ordering::Relaxed)),
    )
    .expect("open the store")
    .0
}

/// What `Daemon::send_series` does at a tick in minute `current`.
fn send_series(store: &Store, comps: &mut [Component], from: u64, current: u64) {
    let written = store.written_before();
    assert!(written <= from, "the mark never passes a minute not sent");
    let mut writes = Vec::new();
    for c in comps.iter_mut() {
        take_minutes(&mut c.tail, &c.key, from, current, written, &mut writes);
    }
    for w in writes {
        store.send(w);
    }
    store.send(Write::SeriesMark(current));
}

/// The store+tail points equal the whole day's, for several windows.
fn assert_same(store: &Store, comps: &[Component], now: u64) -> usize {
    let reader = store.reader();
    let mut compared = 0;
    for c in comps {
        for minutes in [1usize, 60, 1440] {
            let want = c.full.points(now, minutes);
            let got = reader
                .joined_minutes(
                    &c.key.0,
                    &c.key.1,
                    c.tail.points(now, minutes),
                    now,
                    minutes,
                )
                .expect("read the store");
            assert_eq!(
                got,
                want,
                "{:?} {minutes} min at +{} s",
                c.key,
                (now - T0) / 1000
            );
            assert_eq!(aggregate(&got, 5), aggregate(&want, 5));
            compared += got.len();
        }
    }
    compared
}

#[test]
fn day_charts_from_store_and_tail_equal_the_in_memory_day_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nsprobe.db");
    let clock = Arc::new(AtomicU64::new(T0));
    let store = open(&path, &clock);
    let mut comps = vec![
        Component::new("DNS (.dk)", "a.nic.dk"),
        Component::new("Registry services", "Whois"),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut last_minute = T0 / MINUTE_MS;
    let mut compared = 0;
    let mut max_tail = 0;
    let day_cache = DayCache::new();
    let (mut cache_calls, mut cache_compared) = (0, 0);
    let end_s = 25 * 3600 + 1234;
    for s in 0..end_s {
        let now = T0 + s * 1000 + rng.next() % 900;
        clock.store(now, Ordering::Relaxed);
        let minute = (now - T0) / MINUTE_MS;
        // a.nic.dk: every second, 1 % failures, an hour of outage (every probe fails).
        let r = rng.next();
        let a_ok = !(300..360).contains(&minute) && !r.is_multiple_of(100);
        let rtt = Duration::from_micros(40 + (r >> 8) % 30_000);
        comps[0].record(now, a_ok.then_some(rtt));
        // Whois: every 5 s, silent for an hour (minutes without probes are omitted).
        if s.is_multiple_of(5) && !(700..760).contains(&minute) {
            let ok = !rng.next().is_multiple_of(20);
            comps[1].record(now, ok.then(|| Duration::from_millis(3 + s % 200)));
        }
        // The daemon's series tick (every 10 s).
        if s.is_multiple_of(10) {
            // The page's day, from the rows an earlier render read while still valid:
            // every tick of a minute in 13 (the tails release a minute at one of them).
            if minute.is_multiple_of(13) {
                let keys: Vec<_> = comps.iter().map(|c| c.key.clone()).collect();
                let tails = comps.iter().map(|c| c.tail.points(now, 1440)).collect();
                let got = day_cache
                    .joined(&store.reader(), &keys, tails, now, 1440)
                    .expect("read the store");
                for (c, got) in comps.iter().zip(got) {
                    let want = c.full.points(now, 1440);
                    assert_eq!(
                        got,
                        want,
                        "{:?} cached day at +{} s",
                        c.key,
                        (now - T0) / 1000
                    );
                    cache_compared += got.len();
                }
                cache_calls += 1;
            }
            let current = now / MINUTE_MS;
            if current > last_minute {
                send_series(&store, &mut comps, last_minute, current);
                if last_minute.is_multiple_of(7) && current == last_minute + 1 {
                    // The writer had caught up at the last tick (as it has in a daemon,
                    // ten seconds later): only the minute sent now is left.
                    let most = comps.iter().map(|c| c.tail.closed_minutes()).max();
                    max_tail = max_tail.max(most.unwrap_or(0));
                }
                last_minute = current;
                // Mostly the writer is left to run; every 7th minute it is waited for.
                if current.is_multiple_of(7) {
                    assert!(store.flush(Duration::from_secs(10)), "flush");
                }
                if current.is_multiple_of(53) || minute == 1441 {
                    compared += assert_same(&store, &comps, now);
                }
            }
        }
    }
    let now = clock.load(Ordering::Relaxed);
    compared += assert_same(&store, &comps, now);
    assert!(compared > 50_000, "compared {compared} points");
    // Most calls were served from an earlier read, and every one equalled the day.
    assert!(
        cache_compared > 100_000,
        "compared {cache_compared} cached points"
    );
    let reads = day_cache.reads();
    assert!(
        reads * 2 < cache_calls && reads * 8 > cache_calls,
        "{reads} store reads for {cache_calls} calls"
    );
    // The whole day was in memory before; now the minute just sent (released at the
    // next tick once its mark is committed), more only while the writer lags.
    assert_eq!(comps[0].full.closed_minutes(), 1440);
    assert_eq!(max_tail, 1, "tail of {max_tail} closed minutes");

    // Shutdown as the daemon does (the minutes closed since the last tick, then close),
    // and a restart with empty histories: the day is still there, every minute but the
    // one open at shutdown (the in-memory ring lost the whole day at a restart).
    let current = now / MINUTE_MS;
    if current > last_minute {
        send_series(&store, &mut comps, last_minute, current);
    }
    store.close(Duration::from_secs(10));
    let store = open(&path, &clock);
    let reader = store.reader();
    for c in &comps {
        let mut want = c.full.points(now, 1440);
        if want.last().is_some_and(|p| p.start / MINUTE_MS == current) {
            want.pop();
        }
        let got = reader
            .joined_minutes(&c.key.0, &c.key.1, Vec::new(), now, 1440)
            .expect("read after restart");
        assert!(got.len() > 1300, "{}", got.len());
        assert_eq!(got, want, "{:?} after restart", c.key);
    }
    store.close(Duration::from_secs(10));
}
