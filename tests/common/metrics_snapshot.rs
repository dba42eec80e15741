//! A realistic synthetic `/metrics` snapshot, for the exposition golden test
//! (`tests/metrics_render.rs`) and the render benchmark (`examples/bench_metrics.rs`).
//!
//! Shaped like bench/bench.py's daemon: `zones` zones of `servers` nameservers with one
//! address each; every `rich` detail the renderer has a branch for (IPv6, TCP, failures,
//! NSIDs that need escaping, lag, RRSIG expiry, maintenance, service groups with checks,
//! peers, canaries, daemon histograms) is filled in on some of them. Numbers vary by
//! index so that no two series print alike.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use nsprobe::metrics::{
    AddressSnapshot, CheckSnapshot, ComponentSnapshot, DaemonMetrics, DaemonSnapshot,
    GroupSnapshot, Snapshot, TargetSnapshot, ZoneSnapshot,
};
use nsprobe::model::PeerHealth;
use nsprobe::probe::{FailureKind, Kind, Reason, Transport};
use nsprobe::state::{Lag, RttHistogram};
use nsprobe::status::Status;

/// 2026-11-26 12:00 UTC.
pub const NOW: u64 = 1_795_694_400_000;

fn histogram(seed: u64) -> RttHistogram {
    let mut h = RttHistogram::default();
    // Loopback-like answers: most in the first buckets, a tail further up.
    for i in 0..(seed % 7 + 3) {
        let us = 60 + (seed * 37 + i * 1_013) % 400 + if i % 5 == 4 { 30_000 } else { 0 };
        for _ in 0..(seed % 400 + 900) / (i + 1) {
            h.observe(Duration::from_micros(us));
        }
    }
    h
}

fn status(i: usize) -> Status {
    Status::ALL[i % Status::ALL.len()]
}

/// The snapshot and the daemon metrics: `zones` × `servers` targets (× 2 with `rich`:
/// every server also has an IPv6 address probed over UDP and TCP on some).
pub fn snapshot(zones: usize, servers: usize, rich: bool) -> (Snapshot, DaemonSnapshot) {
    let mut zs = Vec::with_capacity(zones);
    for z in 0..zones {
        let zone = format!("z{z}.dk.");
        let group = format!("Nameservers of {zone}");
        let mut components = vec![ComponentSnapshot {
            group: String::new(),
            name: group.clone(),
            status: if rich { status(z) } else { Status::Operational },
            maintenance: rich && z == 1,
        }];
        let mut names = Vec::with_capacity(servers);
        let mut targets = Vec::new();
        let mut addresses = Vec::new();
        let mut server_addresses = Vec::new();
        for s in 0..servers {
            let name = format!("ns{s}");
            let seed = (z * servers + s) as u64;
            components.push(ComponentSnapshot {
                group: group.clone(),
                name: name.clone(),
                status: if rich {
                    status(s + 1)
                } else {
                    Status::Operational
                },
                maintenance: rich && s == 2,
            });
            let mut addrs = vec![SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
                26_000 + s as u16,
            )];
            if rich {
                addrs.push(SocketAddr::new(
                    IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1)),
                    5_300 + s as u16,
                ));
            }
            server_addresses.push((name.clone(), addrs.len()));
            for (k, addr) in addrs.iter().enumerate() {
                let seed = seed * 3 + k as u64;
                let transports: &[Transport] = if rich && s % 2 == 0 {
                    &[Transport::Udp, Transport::Tcp]
                } else {
                    &[Transport::Udp]
                };
                for (t, transport) in transports.iter().enumerate() {
                    let seed = seed * 2 + t as u64;
                    let mut failures = Vec::new();
                    if rich && seed.is_multiple_of(3) {
                        failures.push((FailureKind::Timeout, seed % 11 + 1));
                    }
                    if rich && seed % 4 == 1 {
                        failures.push((FailureKind::Servfail, 2));
                        failures.push((FailureKind::Lame, seed));
                    }
                    targets.push(TargetSnapshot {
                        server: s,
                        addr: *addr,
                        transport: *transport,
                        up: if rich && seed % 9 == 5 {
                            None
                        } else {
                            Some(seed % 13 != 7)
                        },
                        successes: 3_600 + seed * 17,
                        failures,
                        rtt: histogram(seed),
                    });
                }
                let behind = rich && seed % 5 == 2;
                addresses.push(AddressSnapshot {
                    server: s,
                    addr: *addr,
                    serial: if rich && seed % 17 == 3 {
                        None
                    } else {
                        Some(2_026_112_601 - u32::from(behind))
                    },
                    lag: Some(if behind {
                        Lag {
                            serials: 1,
                            ms: 1_234 + seed,
                        }
                    } else {
                        Lag { serials: 0, ms: 0 }
                    }),
                    regressions: if rich { seed % 3 } else { 0 },
                    rrsig_expiration: rich.then_some(1_796_000_000 + seed as u32),
                    nsid: match (rich, seed % 4) {
                        (true, 0) => Some(format!("fra-{seed}")),
                        (true, 1) => Some("odd \"quoted\" \\ nsid\nline".to_string()),
                        _ => None,
                    },
                });
            }
            names.push(name);
        }
        zs.push(ZoneSnapshot {
            zone,
            newest_serial: Some(2_026_112_601),
            serial_first_seen: Some(NOW - 61_234 - z as u64),
            serial_age_ms: Some(61_234 + z as u64),
            stale: rich && z == 1,
            rollbacks: if rich { z as u64 } else { 0 },
            stale_threshold_ms: 3_600_000,
            lag_after: Duration::from_millis(300_500),
            server_addresses,
            components,
            servers: names,
            targets,
            addresses,
        });
    }
    let mut groups = Vec::new();
    if rich {
        for g in 0..2 {
            let name = format!("Services {g}");
            let mut components = vec![ComponentSnapshot {
                group: String::new(),
                name: name.clone(),
                status: status(g),
                maintenance: false,
            }];
            let mut checks = Vec::new();
            for (c, (kind, target)) in [
                (Kind::Http, "https://example.dk/?a=\"b\""),
                (Kind::Tls, "example.dk:443"),
                (Kind::Whois, "whois.example.dk:43"),
                (Kind::Epp, "epp.example.dk:700"),
            ]
            .into_iter()
            .enumerate()
            {
                let component = format!("Service {c}");
                components.push(ComponentSnapshot {
                    group: name.clone(),
                    name: component.clone(),
                    status: status(c + g),
                    maintenance: c == 3,
                });
                let seed = (g * 4 + c) as u64;
                checks.push(CheckSnapshot {
                    group: name.clone(),
                    component,
                    kind,
                    target: target.to_string(),
                    up: if c == 2 { None } else { Some(c != 1) },
                    successes: 100 + seed,
                    failures: if c == 1 {
                        vec![(Reason::Timeout, 3), (Reason::Network, 1)]
                    } else {
                        Vec::new()
                    },
                    rtt: histogram(seed * 1_000 + 7),
                    cert_not_after: (kind == Kind::Tls).then_some(1_799_000_000),
                });
            }
            groups.push(GroupSnapshot { components, checks });
        }
    }
    let daemon = DaemonMetrics::new();
    if rich {
        daemon.set_reload(true, NOW - 5_500);
        for z in 0..zones.min(3) {
            for s in 0..servers.min(3) {
                daemon.observe_propagation(
                    &format!("z{z}.dk."),
                    &format!("ns{s}"),
                    1_500 + s as u64 * 700,
                );
            }
        }
        daemon.resolve_failure("ns1");
        for i in 0..500u64 {
            daemon.observe_slip(Duration::from_micros(100 + i * i * 7));
        }
        daemon.observe_store_write(Duration::from_micros(850));
        daemon.store_error("append");
        daemon.set_store_size(12_345_678);
        daemon.set_store_pending(17);
        daemon.set_incidents_open(2);
    } else {
        daemon.set_reload(true, NOW - 5_500);
    }
    let snap = Snapshot {
        now: NOW,
        zones: zs,
        vantage_up: true,
        peers: if rich {
            vec![PeerHealth {
                url: "https://fra-1:9853".into(),
                up: true,
                last_success: Some(NOW - 2_345),
                pulls: 300,
                failures: 4,
                bytes: 1_234_567,
                records: 45_678,
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        canaries: if rich {
            vec![(
                "k.root".into(),
                "127.0.2.1:53".parse().unwrap(),
                Transport::Udp,
                true,
            )]
        } else {
            Vec::new()
        },
        groups,
    };
    (snap, daemon.snapshot())
}
