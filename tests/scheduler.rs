//! The scheduler against a real responder: nameserver targets over UDP run by its driver,
//! over TCP by a task each; ticks at the interval, never bunched; a removed target stops,
//! a changed one restarts, an unchanged one keeps its schedule.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::probe_cases::{lab, spec};
use common::Mode;
use nsprobe::probe::{CheckSpec, Transport};
use nsprobe::scheduler::{Probed, Report, Scheduler, Target, TargetId, TICK_GRID_MAX};
use nsprobe::state::TargetKey;
use tokio::sync::mpsc;

fn target(
    server: &str,
    addr: std::net::SocketAddr,
    transport: Transport,
    every: Duration,
) -> Target {
    let mut s = spec("dk.", addr, transport);
    s.timeout = Duration::from_millis(40);
    Target {
        id: TargetId::Dns {
            zone: Arc::from("dk."),
            key: TargetKey::new(server, addr, transport),
        },
        spec: CheckSpec::DnsSoa(s),
        interval: every,
        timeout: Duration::from_millis(40),
        source: None,
    }
}

/// Reports received for `window`, by server name: (answered, failed, largest slip).
async fn collect(
    rx: &mut mpsc::Receiver<Report>,
    window: Duration,
) -> HashMap<String, (u32, u32, Duration)> {
    let mut by: HashMap<String, (u32, u32, Duration)> = HashMap::new();
    let end = tokio::time::Instant::now() + window;
    while let Ok(Some(r)) = tokio::time::timeout_at(end, rx.recv()).await {
        let Probed::Dns { observation, .. } = r.probed else {
            panic!("only nameserver targets here");
        };
        let e = by.entry(observation.key.server.clone()).or_default();
        match observation.outcome {
            Ok(_) => e.0 += 1,
            Err(_) => e.1 += 1,
        }
        e.2 = e.2.max(r.slip);
    }
    by
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_are_probed_at_their_interval_and_follow_sync() {
    let lab = lab().await;
    let (tx, mut rx) = mpsc::channel(1024);
    let mut sched = Scheduler::new(tx);
    let every = Duration::from_millis(100);
    let a = target("a", lab.addr(), Transport::Udp, every);
    let b = target("b", lab.addr(), Transport::Udp, every);
    let t = target("t", lab.addr(), Transport::Tcp, every);
    sched.sync(vec![a.clone(), b.clone(), t.clone()]);
    assert_eq!(sched.len(), 3);
    let got = collect(&mut rx, Duration::from_millis(1050)).await;
    for name in ["a", "b", "t"] {
        let (ok, failed, slip) = got.get(name).copied().unwrap_or_default();
        // 10 ticks in a second, one more or less at the window's edges; none bunched.
        assert!((9..=12).contains(&ok), "{name}: {got:?}");
        assert_eq!(failed, 0, "{name}: {got:?}");
        assert!(slip < TICK_GRID_MAX, "{name}: {got:?}");
    }
    // b removed, a unchanged, t's interval changed.
    let slower = Duration::from_millis(250);
    sched.sync(vec![
        a.clone(),
        target("t", lab.addr(), Transport::Tcp, slower),
    ]);
    assert_eq!(sched.len(), 2);
    let _ = collect(&mut rx, Duration::from_millis(100)).await; // probes in flight at the sync
    let got = collect(&mut rx, Duration::from_millis(1000)).await;
    assert_eq!(got.get("b"), None, "{got:?}");
    let a_ok = got.get("a").map_or(0, |e| e.0);
    let t_ok = got.get("t").map_or(0, |e| e.0);
    assert!((9..=11).contains(&a_ok), "{got:?}");
    assert!((3..=5).contains(&t_ok), "{got:?}");

    // A silent server: every probe of the driven target is a timeout, one per tick, and a
    // target added later is probed too.
    lab.set_mode(Mode::Silent);
    let c = target("c", lab.addr(), Transport::Udp, every);
    sched.sync(vec![a, c]);
    let _ = collect(&mut rx, Duration::from_millis(100)).await;
    let got = collect(&mut rx, Duration::from_millis(1000)).await;
    for name in ["a", "c"] {
        let (ok, failed, _) = got.get(name).copied().unwrap_or_default();
        assert_eq!(ok, 0, "{name}: {got:?}");
        assert!((9..=11).contains(&failed), "{name}: {got:?}");
    }
    sched.stop();
    assert!(sched.is_empty());
    let _ = collect(&mut rx, Duration::from_millis(100)).await;
    let got = collect(&mut rx, Duration::from_millis(300)).await;
    assert!(got.is_empty(), "stopped: {got:?}");
}
