//! Unit tests of the zone state, driven by a fake clock (ms).

use super::*;
use std::net::SocketAddr;
use std::time::Duration;

use crate::config::Thresholds;
use crate::probe::{Answer, Failure, FailureKind, Outcome, Transport};
use crate::UnixMs;

/// 2026-06-24T08:39:01Z, the last publication before the June 2026 stall.
pub(crate) const T0: UnixMs = 1_782_290_341_000;
pub(crate) const SEC: u64 = 1000;
pub(crate) const MIN: u64 = 60 * SEC;

pub(crate) fn ok(serial: u32, rtt_ms: u64) -> Outcome {
    Ok(Answer {
        serial,
        rtt: Duration::from_millis(rtt_ms),
        nsid: Some("x1".into()),
        rrsig_expiration: None,
        size: 100,
        truncated: false,
    })
}

pub(crate) fn fail(kind: FailureKind) -> Outcome {
    Err(Failure {
        kind,
        detail: String::new(),
        rtt: None,
    })
}

pub(crate) fn sa(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

pub(crate) fn udp(server: &str, addr: &str) -> TargetKey {
    TargetKey::new(server, sa(addr), Transport::Udp)
}

pub(crate) fn tcp(server: &str, addr: &str) -> TargetKey {
    TargetKey::new(server, sa(addr), Transport::Tcp)
}

pub(crate) fn obs(key: &TargetKey, at: UnixMs, outcome: Outcome) -> Observation {
    Observation {
        key: key.clone(),
        at,
        outcome,
    }
}

/// A zone with one UDP target per named server (address 192.0.2.<i+1>).
pub(crate) fn zone(servers: &[&str]) -> (ZoneState, Vec<TargetKey>) {
    let keys: Vec<TargetKey> = servers
        .iter()
        .enumerate()
        .map(|(i, s)| udp(s, &format!("192.0.2.{}:53", i + 1)))
        .collect();
    let mut z = ZoneState::new("dk.", Thresholds::default());
    z.sync_targets(&keys);
    (z, keys)
}

#[test]
fn publication_every_five_minutes_then_frozen_goes_stale() {
    let (mut z, keys) = zone(&["a.nic.dk"]);
    let k = &keys[0];
    let base = 2026062400u32;
    // Probes every 30 s; a new serial every 5 minutes for 30 minutes.
    let mut t = T0;
    while t <= T0 + 30 * MIN {
        let serial = base + ((t - T0) / (5 * MIN)) as u32;
        z.observe(obs(k, t, ok(serial, 10)));
        t += 30 * SEC;
    }
    let last_pub = T0 + 30 * MIN;
    assert_eq!(z.newest_serial(), Some(base + 6));
    assert_eq!(z.serial_first_seen(), Some(last_pub));
    // The baseline's real publication time is unknown: 5 gaps, not 6.
    assert_eq!(
        z.gaps().iter().copied().collect::<Vec<_>>(),
        vec![5 * MIN; 5]
    );
    assert_eq!(z.learned_gap_ms(), Some(5 * MIN));
    // Frozen from now on: the same serial keeps coming back.
    while t <= last_pub + 40 * MIN {
        z.observe(obs(k, t, ok(base + 6, 10)));
        t += 30 * SEC;
    }
    assert_eq!(z.serial_first_seen(), Some(last_pub));
    assert_eq!(z.stale_threshold_ms(), 30 * MIN);
    assert!(!z.is_stale(last_pub + 26 * MIN));
    assert!(!z.is_stale(last_pub + 30 * MIN));
    assert!(z.is_stale(last_pub + 30 * MIN + 1));
    assert_eq!(z.serial_age_ms(last_pub + 31 * MIN), Some(31 * MIN));

    // Adaptive: 3 × 5 min = 15 min < 30 min.
    let mut th = Thresholds {
        stale_factor: Some(3.0),
        ..Thresholds::default()
    };
    z.set_thresholds(th.clone());
    assert_eq!(z.stale_threshold_ms(), 15 * MIN);
    assert!(!z.is_stale(last_pub + 15 * MIN));
    assert!(z.is_stale(last_pub + 15 * MIN + 1));
    // Not enough samples: fixed threshold.
    th.stale_min_samples = 6;
    z.set_thresholds(th.clone());
    assert_eq!(z.learned_gap_ms(), None);
    assert_eq!(z.stale_threshold_ms(), 30 * MIN);
    // A factor larger than stale_after / gap never raises the threshold.
    th.stale_min_samples = 5;
    th.stale_factor = Some(100.0);
    z.set_thresholds(th);
    assert_eq!(z.stale_threshold_ms(), 30 * MIN);
}

#[test]
fn no_serial_is_not_stale() {
    let (mut z, keys) = zone(&["a.nic.dk"]);
    assert!(!z.is_stale(T0 + 1000 * MIN));
    z.observe(obs(&keys[0], T0, fail(FailureKind::Timeout)));
    assert_eq!(z.newest_serial(), None);
    assert_eq!(z.serial_age_ms(T0), None);
    assert!(!z.is_stale(T0 + 1000 * MIN));
}

#[test]
fn serial_wrap_around_and_older_never_lowers() {
    let (mut z, keys) = zone(&["a.nic.dk", "b.nic.dk"]);
    let (a, b) = (&keys[0], &keys[1]);
    let ev = z.observe(obs(a, T0, ok(0xFFFF_FFFE, 5)));
    assert_eq!(
        ev,
        vec![Event::NewZoneSerial {
            serial: 0xFFFF_FFFE,
            previous: None
        }]
    );
    z.observe(obs(b, T0, ok(0xFFFF_FFFE, 5)));
    z.observe(obs(a, T0 + MIN, ok(0xFFFF_FFFF, 5)));
    let ev = z.observe(obs(a, T0 + 2 * MIN, ok(0, 5)));
    assert!(ev.contains(&Event::NewZoneSerial {
        serial: 0,
        previous: Some(0xFFFF_FFFF)
    }));
    let ev = z.observe(obs(a, T0 + 3 * MIN, ok(5, 5)));
    assert!(ev.contains(&Event::NewZoneSerial {
        serial: 5,
        previous: Some(0)
    }));
    assert_eq!(z.newest_serial(), Some(5));
    assert_eq!(z.serial_first_seen(), Some(T0 + 3 * MIN));
    // b answers an older serial: the newest stays.
    let ev = z.observe(obs(b, T0 + 4 * MIN, ok(0xFFFF_FFFF, 5)));
    assert!(ev.iter().all(|e| !matches!(e, Event::NewZoneSerial { .. })));
    assert_eq!(z.newest_serial(), Some(5));
    let lag = z.lag("b.nic.dk", b.addr, T0 + 4 * MIN).expect("lag");
    assert_eq!(lag.serials, 6);
    // At 0xFFFF_FFFF, b is behind since 0 was first seen (T0 + 2 min).
    assert_eq!(lag.ms, 2 * MIN);
    assert_eq!(
        z.lag("a.nic.dk", a.addr, T0 + 4 * MIN),
        Some(Lag { serials: 0, ms: 0 })
    );
}

#[test]
fn lagging_server_and_propagation_delay() {
    let (mut z, keys) = zone(&["a.nic.dk", "l.nic.dk"]);
    let (a, l) = (&keys[0], &keys[1]);
    let s1 = 2026062401;
    z.observe(obs(a, T0, ok(s1, 5)));
    let ev = z.observe(obs(l, T0, ok(s1, 5)));
    assert!(ev.is_empty(), "baseline: no propagation events: {ev:?}");
    let t1 = T0 + 5 * MIN;
    let ev = z.observe(obs(a, t1, ok(s1 + 1, 5)));
    assert_eq!(
        ev,
        vec![
            Event::NewZoneSerial {
                serial: s1 + 1,
                previous: Some(s1)
            },
            Event::Propagated {
                server: "a.nic.dk".into(),
                serial: s1 + 1,
                delay_ms: 0
            }
        ]
    );
    // l keeps answering the old serial.
    z.observe(obs(l, t1 + 30 * SEC, ok(s1, 5)));
    let addr_l = z.address("l.nic.dk", l.addr).expect("address");
    assert_eq!(addr_l.behind_since, Some(t1));
    assert_eq!(
        z.lag("l.nic.dk", l.addr, t1 + 6 * MIN),
        Some(Lag {
            serials: 1,
            ms: 6 * MIN
        })
    );
    // A third publication; l moves to s1+1 only: still behind, now since the third one.
    let t2 = t1 + 5 * MIN;
    z.observe(obs(a, t2, ok(s1 + 2, 5)));
    assert_eq!(
        z.address("l.nic.dk", l.addr).and_then(|x| x.behind_since),
        Some(t1)
    );
    let ev = z.observe(obs(l, t2 + MIN, ok(s1 + 1, 5)));
    assert_eq!(
        ev,
        vec![Event::Propagated {
            server: "l.nic.dk".into(),
            serial: s1 + 1,
            delay_ms: 6 * MIN
        }]
    );
    assert_eq!(
        z.address("l.nic.dk", l.addr).and_then(|x| x.behind_since),
        Some(t2)
    );
    assert_eq!(
        z.lag("l.nic.dk", l.addr, t2 + MIN).map(|x| x.serials),
        Some(1)
    );
    // Catches up: behind cleared, delay measured from first sight of s1+2.
    let ev = z.observe(obs(l, t2 + 7 * MIN, ok(s1 + 2, 5)));
    assert_eq!(
        ev,
        vec![Event::Propagated {
            server: "l.nic.dk".into(),
            serial: s1 + 2,
            delay_ms: 7 * MIN
        }]
    );
    assert_eq!(
        z.address("l.nic.dk", l.addr).and_then(|x| x.behind_since),
        None
    );
    // Once per server per serial.
    let ev = z.observe(obs(l, t2 + 8 * MIN, ok(s1 + 2, 5)));
    assert!(ev.is_empty());
}

#[test]
fn propagation_once_per_server_across_addresses_and_transports() {
    let mut z = ZoneState::new("dk.", Thresholds::default());
    let keys = vec![
        udp("a.nic.dk", "192.0.2.1:53"),
        tcp("a.nic.dk", "192.0.2.1:53"),
        udp("a.nic.dk", "[2001:db8::1]:53"),
        udp("b.nic.dk", "192.0.2.2:53"),
    ];
    z.sync_targets(&keys);
    for k in &keys {
        z.observe(obs(k, T0, ok(10, 5)));
    }
    z.observe(obs(&keys[3], T0 + MIN, ok(11, 5)));
    let mut propagated = Vec::new();
    for (i, k) in keys.iter().take(3).enumerate() {
        for e in z.observe(obs(k, T0 + 2 * MIN + i as u64 * SEC, ok(11, 5))) {
            if let Event::Propagated { delay_ms, .. } = e {
                propagated.push(delay_ms);
            }
        }
    }
    assert_eq!(propagated, vec![MIN]);
}

#[test]
fn serial_regression_is_counted() {
    let (mut z, keys) = zone(&["a.nic.dk", "b.nic.dk"]);
    z.observe(obs(&keys[0], T0, ok(100, 5)));
    z.observe(obs(&keys[1], T0, ok(101, 5)));
    let ev = z.observe(obs(&keys[0], T0 + MIN, ok(99, 5)));
    assert_eq!(
        ev,
        vec![Event::SerialRegression {
            key: keys[0].clone(),
            from: 100,
            to: 99
        }]
    );
    let a = z.address("a.nic.dk", keys[0].addr).expect("address");
    assert_eq!(a.regressions, 1);
    assert_eq!(a.serial, Some(99));
    assert_eq!(z.newest_serial(), Some(101));
    assert_eq!(
        z.lag("a.nic.dk", keys[0].addr, T0 + MIN).map(|l| l.serials),
        Some(2)
    );
}

#[test]
fn outage_hysteresis() {
    let (mut z, keys) = zone(&["l.nic.dk"]);
    let k = &keys[0];
    let up = |z: &ZoneState| z.target(k).and_then(|t| t.up);
    assert_eq!(up(&z), None);
    // First success: up, no up/down event (only the first zone serial).
    let ev = z.observe(obs(k, T0, ok(1, 5)));
    assert_eq!(
        ev,
        vec![Event::NewZoneSerial {
            serial: 1,
            previous: None
        }]
    );
    assert_eq!(up(&z), Some(true));
    // One lost probe never flips it.
    assert!(z
        .observe(obs(k, T0 + SEC, fail(FailureKind::Timeout)))
        .is_empty());
    assert_eq!(up(&z), Some(true));
    z.observe(obs(k, T0 + 2 * SEC, ok(1, 5)));
    // Two failures: still up; the third: down.
    assert!(z
        .observe(obs(k, T0 + 3 * SEC, fail(FailureKind::Timeout)))
        .is_empty());
    assert!(z
        .observe(obs(k, T0 + 4 * SEC, fail(FailureKind::Network)))
        .is_empty());
    assert_eq!(up(&z), Some(true));
    let ev = z.observe(obs(k, T0 + 5 * SEC, fail(FailureKind::Timeout)));
    assert_eq!(
        ev,
        vec![Event::TargetDown {
            key: k.clone(),
            reason: "3 consecutive failures, last: timeout".into()
        }]
    );
    assert_eq!(up(&z), Some(false));
    // More failures: no repeated event.
    assert!(z
        .observe(obs(k, T0 + 6 * SEC, fail(FailureKind::Timeout)))
        .is_empty());
    // One success: still down; the second: up.
    assert!(z.observe(obs(k, T0 + 7 * SEC, ok(1, 5))).is_empty());
    assert_eq!(up(&z), Some(false));
    z.observe(obs(k, T0 + 8 * SEC, fail(FailureKind::Timeout)));
    assert!(z.observe(obs(k, T0 + 9 * SEC, ok(1, 5))).is_empty());
    let ev = z.observe(obs(k, T0 + 10 * SEC, ok(1, 5)));
    assert_eq!(ev, vec![Event::TargetUp { key: k.clone() }]);
    assert_eq!(up(&z), Some(true));
    let t = z.target(k).expect("target");
    assert_eq!(t.probes, 11);
    assert_eq!(t.successes, 5);
    assert_eq!(t.failures(), 6);
    assert_eq!(t.failures_by_kind.get(&FailureKind::Network), Some(&1));
    assert_eq!(
        t.last_error.as_ref().map(|e| e.kind),
        Some(FailureKind::Timeout)
    );
}

#[test]
fn never_reachable_target_goes_down_after_fail_after() {
    let (mut z, keys) = zone(&["l.nic.dk"]);
    let k = &keys[0];
    z.observe(obs(k, T0, fail(FailureKind::Timeout)));
    z.observe(obs(k, T0 + SEC, fail(FailureKind::Timeout)));
    assert_eq!(z.target(k).and_then(|t| t.up), None);
    let ev = z.observe(obs(k, T0 + 2 * SEC, fail(FailureKind::Timeout)));
    assert_eq!(ev.len(), 1);
    assert_eq!(z.target(k).and_then(|t| t.up), Some(false));
}

#[test]
fn window_median_and_loss() {
    let (mut z, keys) = zone(&["a.nic.dk"]);
    let k = &keys[0];
    for (i, rtt) in [10u64, 20, 30, 40, 50, 60, 70, 80, 90, 100, 700, 800]
        .iter()
        .enumerate()
    {
        z.observe(obs(k, T0 + i as u64 * SEC, ok(1, *rtt)));
    }
    let t = z.target(k).expect("target");
    assert_eq!(t.window.len(), 10);
    // Window: 30..=100, 700, 800 → median of 10 values = (70 + 80) / 2.
    assert_eq!(t.window_median_rtt(), Some(Duration::from_millis(75)));
    assert_eq!(t.window_loss(10), Some(0.0));
    z.observe(obs(k, T0 + 20 * SEC, fail(FailureKind::Timeout)));
    z.observe(obs(k, T0 + 21 * SEC, fail(FailureKind::Servfail)));
    let t = z.target(k).expect("target");
    assert_eq!(t.window_loss(10), Some(0.2));
    assert_eq!(t.window_failures(), 2);
    // Shrinking the window trims it at once.
    let th = Thresholds {
        window: 4,
        ..Thresholds::default()
    };
    z.set_thresholds(th);
    let t = z.target(k).expect("target");
    assert_eq!(t.window.len(), 4);
    assert_eq!(t.window_loss(4), Some(0.5));
}

#[test]
fn early_single_failure_is_not_full_loss() {
    let (mut z, keys) = zone(&["a.nic.dk"]);
    z.observe(obs(&keys[0], T0, fail(FailureKind::Timeout)));
    let t = z.target(&keys[0]).expect("target");
    assert_eq!(t.window_loss(10), Some(0.1));
    assert_eq!(t.window_median_rtt(), None);
}

#[test]
fn sync_targets_adds_keeps_and_removes() {
    let mut z = ZoneState::new("dk.", Thresholds::default());
    let a4 = udp("a.nic.dk", "192.0.2.1:53");
    let a6 = udp("a.nic.dk", "[2001:db8::1]:53");
    let b4 = udp("b.nic.dk", "192.0.2.2:53");
    z.sync_targets(&[a4.clone(), a6.clone(), b4.clone()]);
    z.observe(obs(&a4, T0, ok(7, 5)));
    z.observe(obs(&a6, T0, ok(7, 5)));
    assert_eq!(z.servers().len(), 2);
    // Drop a6 and b: a4 keeps its state; the address and the server go.
    let a4t = tcp("a.nic.dk", "192.0.2.1:53");
    z.sync_targets(&[a4.clone(), a4t.clone()]);
    assert_eq!(z.servers().len(), 1);
    assert!(z.server("b.nic.dk").is_none());
    let a = z.server("a.nic.dk").expect("server");
    assert_eq!(a.targets.len(), 2);
    assert_eq!(a.addresses.len(), 1);
    assert_eq!(z.target(&a4).map(|t| t.probes), Some(1));
    assert_eq!(z.target(&a4t).map(|t| t.probes), Some(0));
    assert!(z.target(&a6).is_none());
    // Observations for removed targets are ignored.
    assert!(z.observe(obs(&b4, T0 + SEC, ok(9, 5))).is_empty());
    assert_eq!(z.newest_serial(), Some(7));
    assert_eq!(z.response_times("b.nic.dk", T0, 10), None);
    assert_eq!(
        z.response_times("a.nic.dk", T0, 10).map(|p| p.len()),
        Some(1)
    );
}

#[test]
fn restart_mid_stall_keeps_true_age() {
    let (mut z, keys) = zone(&["a.nic.dk", "l.nic.dk"]);
    let (a, l) = (&keys[0], &keys[1]);
    let s = 2026062401;
    z.observe(obs(a, T0 - 10 * MIN, ok(s - 1, 5)));
    z.observe(obs(l, T0 - 10 * MIN, ok(s - 1, 5)));
    z.observe(obs(a, T0 - 5 * MIN, ok(s, 5)));
    z.observe(obs(a, T0, ok(s + 1, 5)));
    z.observe(obs(l, T0 + MIN, ok(s - 1, 5)));
    z.observe(obs(a, T0 + 20 * MIN, ok(s + 1, 5)));
    let saved = z.to_persisted();
    assert_eq!(saved.newest(), Some((s + 1, T0)));
    // Through JSON, as on disk.
    let json = serde_json::to_string(&saved).expect("serialize");
    let back: PersistedZone = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, saved);

    // Restart: restore before the targets are known, then sync, then observe the same serial.
    let mut r = ZoneState::new("dk.", Thresholds::default());
    r.restore(back);
    r.sync_targets(&keys);
    let ev = r.observe(obs(a, T0 + 25 * MIN, ok(s + 1, 5)));
    assert!(
        ev.is_empty(),
        "same serial after restore: no events: {ev:?}"
    );
    assert_eq!(r.serial_first_seen(), Some(T0));
    assert_eq!(r.serial_age_ms(T0 + 26 * MIN), Some(26 * MIN));
    assert!(!r.is_stale(T0 + 30 * MIN));
    assert!(r.is_stale(T0 + 30 * MIN + 1));
    assert_eq!(r.gaps(), z.gaps());
    // l is still behind since s was first seen.
    r.observe(obs(l, T0 + 25 * MIN, ok(s - 1, 5)));
    assert_eq!(
        r.lag("l.nic.dk", l.addr, T0 + 25 * MIN),
        Some(Lag {
            serials: 2,
            ms: 30 * MIN
        })
    );
    // Restoring after sync works as well.
    let mut r2 = ZoneState::new("dk.", Thresholds::default());
    r2.sync_targets(&keys);
    r2.restore(z.to_persisted());
    assert_eq!(
        r2.address("l.nic.dk", l.addr).and_then(|x| x.behind_since),
        Some(T0 - 5 * MIN)
    );
    assert_eq!(
        r2.server("a.nic.dk").and_then(|x| x.propagated_serial),
        Some(s + 1)
    );
    // The next publication after a restore is measured from the restored first-seen time.
    let ev = r2.observe(obs(a, T0 + 40 * MIN, ok(s + 2, 5)));
    assert!(ev.contains(&Event::Propagated {
        server: "a.nic.dk".into(),
        serial: s + 2,
        delay_ms: 0
    }));
    assert_eq!(r2.gaps().back(), Some(&(40 * MIN)));
}

#[test]
fn unconsumed_restored_state_is_saved_again() {
    let (mut z, keys) = zone(&["a.nic.dk"]);
    z.observe(obs(&keys[0], T0, ok(3, 5)));
    let saved = z.to_persisted();
    let mut r = ZoneState::new("dk.", Thresholds::default());
    r.restore(saved.clone());
    assert_eq!(r.to_persisted(), saved);
}

#[test]
fn declared_server_without_targets_is_kept_and_shown() {
    let mut z = ZoneState::new("dk.", Thresholds::default());
    z.declare_servers(["a.nic.dk", "b.nic.dk"]);
    let key = TargetKey::new("a.nic.dk", "127.0.1.1:53".parse().unwrap(), Transport::Udp);
    z.sync_targets(std::slice::from_ref(&key));
    assert_eq!(z.servers().len(), 2, "b.nic.dk kept without targets");
    let st = crate::status::evaluate_zone(&z, "DNS (.dk)", &[], 0);
    let b = st.servers.iter().find(|s| s.name == "b.nic.dk").unwrap();
    assert_eq!(b.status, crate::status::Status::Unknown);
    assert!(b.reason.starts_with("no address known"), "{}", b.reason);
    // No longer declared and no targets: dropped.
    z.declare_servers(["a.nic.dk"]);
    assert_eq!(z.servers().len(), 1);
}
