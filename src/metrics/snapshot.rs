//! The numbers `/metrics` needs, copied out of the read model under the state lock.
//!
//! [`Snapshot::take`] is the only part of a scrape that runs with the lock held: it
//! evaluates statuses and copies plain numbers (no strings formatted, no text
//! written). Rendering the text from the copy happens after the lock is released.

use std::net::SocketAddr;
use std::time::Duration;

use crate::model::Inner;
use crate::probe::{FailureKind, Kind as CheckKind, Reason, Transport};
use crate::state::{Lag, RttHistogram};
use crate::status::Status;
use crate::UnixMs;

/// Everything `/metrics` renders from the daemon's state, at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When it was taken.
    pub now: UnixMs,
    /// One entry per zone, in zone order.
    pub zones: Vec<ZoneSnapshot>,
    /// The vantage guard's verdict.
    pub vantage_up: bool,
    /// Hub: every peer's pull health.
    pub peers: Vec<crate::model::PeerHealth>,
    /// Canaries with a verdict: (name, address, transport, up).
    pub canaries: Vec<(String, SocketAddr, Transport, bool)>,
    /// Service groups, in config order.
    pub groups: Vec<GroupSnapshot>,
}

/// One service group's numbers.
#[derive(Debug, Clone, Default)]
pub struct GroupSnapshot {
    /// The group component first, then its members.
    pub components: Vec<ComponentSnapshot>,
    /// Every check target of its components.
    pub checks: Vec<CheckSnapshot>,
}

/// One service check target's numbers.
#[derive(Debug, Clone)]
pub struct CheckSnapshot {
    /// The component's group.
    pub group: String,
    /// The component.
    pub component: String,
    /// The check kind.
    pub kind: CheckKind,
    /// What is checked.
    pub target: String,
    /// Up/down after hysteresis; None before the first decision.
    pub up: Option<bool>,
    /// Successful checks.
    pub successes: u64,
    /// Failed checks by reason (only reasons seen).
    pub failures: Vec<(Reason, u64)>,
    /// Response-time histogram of the successes.
    pub rtt: RttHistogram,
    /// Not-after of the last server certificate seen (Unix seconds), for TLS kinds.
    pub cert_not_after: Option<i64>,
}

/// One zone's numbers.
#[derive(Debug, Clone)]
pub struct ZoneSnapshot {
    /// Fully-qualified zone name.
    pub zone: String,
    /// Newest serial seen on any server.
    pub newest_serial: Option<u32>,
    /// When the newest serial was first seen.
    pub serial_first_seen: Option<UnixMs>,
    /// Age of the newest serial.
    pub serial_age_ms: Option<u64>,
    /// Whether the zone is stale.
    pub stale: bool,
    /// Zone-wide serial rollbacks so far.
    pub rollbacks: u64,
    /// The staleness threshold in force.
    pub stale_threshold_ms: u64,
    /// `lag_after`.
    pub lag_after: Duration,
    /// Addresses currently probed per configured nameserver (config order).
    pub server_addresses: Vec<(String, usize)>,
    /// The zone's group component first, then its members.
    pub components: Vec<ComponentSnapshot>,
    /// Server names; targets and addresses refer to them by index.
    pub servers: Vec<String>,
    /// Every target.
    pub targets: Vec<TargetSnapshot>,
    /// Every probed address.
    pub addresses: Vec<AddressSnapshot>,
}

/// One status-page component.
#[derive(Debug, Clone)]
pub struct ComponentSnapshot {
    /// Its group; empty for a group component.
    pub group: String,
    /// Its name.
    pub name: String,
    /// Current status.
    pub status: Status,
    /// Whether a maintenance window covers it now.
    pub maintenance: bool,
}

/// One target's counters.
#[derive(Debug, Clone)]
pub struct TargetSnapshot {
    /// Index into [`ZoneSnapshot::servers`].
    pub server: usize,
    /// Address probed.
    pub addr: SocketAddr,
    /// Transport.
    pub transport: Transport,
    /// Up/down after hysteresis; None before the first decision.
    pub up: Option<bool>,
    /// Successful probes.
    pub successes: u64,
    /// Failed probes by reason (only reasons seen).
    pub failures: Vec<(FailureKind, u64)>,
    /// Response-time histogram.
    pub rtt: RttHistogram,
}

/// One address's serial facts.
#[derive(Debug, Clone)]
pub struct AddressSnapshot {
    /// Index into [`ZoneSnapshot::servers`].
    pub server: usize,
    /// The address.
    pub addr: SocketAddr,
    /// Latest serial.
    pub serial: Option<u32>,
    /// Lag behind the newest serial.
    pub lag: Option<Lag>,
    /// Serial regressions.
    pub regressions: u64,
    /// RRSIG expiration (Unix seconds).
    pub rrsig_expiration: Option<u32>,
    /// Latest NSID.
    pub nsid: Option<String>,
}

impl Snapshot {
    /// Copy what `/metrics` needs from `inner` at `now` (call with the lock held; cheap).
    pub fn take(inner: &Inner, now: UnixMs) -> Snapshot {
        let mut zones = Vec::with_capacity(inner.zones.len());
        for entry in inner.zones.values() {
            // Borrowed: no reason string is cloned under the lock.
            let zs = inner.zone_status(entry, now);
            let st = &entry.state;
            let zone = st.zone().to_string();
            let group = zs.group.name.as_str();
            let mut components = Vec::with_capacity(zs.servers.len() + 1);
            components.push(ComponentSnapshot {
                group: String::new(),
                name: zs.group.name.clone(),
                status: zs.group.status,
                maintenance: entry.in_maintenance(&zs.group.name, now),
            });
            for s in &zs.servers {
                components.push(ComponentSnapshot {
                    group: group.to_string(),
                    name: s.name.clone(),
                    status: s.status,
                    maintenance: entry.in_maintenance(&s.name, now),
                });
            }
            // The zone's entries of the address book (keyed by (zone, nameserver), in
            // order), found by one range scan instead of a lookup with a cloned key each.
            let book: Vec<(&str, usize)> = inner
                .addresses
                .range((zone.clone(), String::new())..)
                .take_while(|((z, _), _)| *z == zone)
                .map(|((_, ns), a)| (ns.as_str(), a.addrs.len()))
                .collect();
            let server_addresses = entry
                .config
                .nameservers
                .iter()
                .map(|ns| {
                    let n = book
                        .binary_search_by(|(name, _)| (*name).cmp(ns.name.as_str()))
                        .map_or(0, |i| book[i].1);
                    (ns.name.clone(), n)
                })
                .collect();
            let mut servers = Vec::with_capacity(st.servers().len());
            let mut targets =
                Vec::with_capacity(st.servers().values().map(|s| s.targets.len()).sum());
            let mut addresses =
                Vec::with_capacity(st.servers().values().map(|s| s.addresses.len()).sum());
            for (i, (name, ss)) in st.servers().iter().enumerate() {
                servers.push(name.clone());
                for (addr, a) in &ss.addresses {
                    addresses.push(AddressSnapshot {
                        server: i,
                        addr: *addr,
                        serial: a.serial,
                        lag: st.lag_of(a, now),
                        regressions: a.regressions,
                        rrsig_expiration: a.rrsig_expiration,
                        nsid: a.nsid.clone(),
                    });
                }
                for (key, t) in &ss.targets {
                    targets.push(TargetSnapshot {
                        server: i,
                        addr: key.addr,
                        transport: key.transport,
                        up: t.up,
                        successes: t.successes,
                        failures: t.failures_by_kind.iter().map(|(k, n)| (*k, *n)).collect(),
                        rtt: t.rtt_histogram.clone(),
                    });
                }
            }
            zones.push(ZoneSnapshot {
                newest_serial: st.newest_serial(),
                serial_first_seen: st.serial_first_seen(),
                serial_age_ms: st.serial_age_ms(now),
                stale: zs.stale,
                rollbacks: st.rollbacks(),
                stale_threshold_ms: st.stale_threshold_ms(),
                lag_after: st.thresholds().lag_after,
                zone,
                server_addresses,
                components,
                servers,
                targets,
                addresses,
            });
        }
        let canaries = inner
            .vantage
            .canaries()
            .iter()
            .filter_map(|(k, c)| Some((k.server.clone(), k.addr, k.transport, c.up?)))
            .collect();
        let groups = inner
            .group_statuses(now)
            .into_iter()
            .map(|(g, gs)| {
                let name = g.config.name.as_str();
                let mut components = vec![ComponentSnapshot {
                    group: String::new(),
                    name: name.to_string(),
                    status: gs.group.status,
                    maintenance: g.active_maintenance(name, now).is_some(),
                }];
                let mut checks = Vec::new();
                for (entry, cs) in g.components.iter().zip(&gs.components) {
                    components.push(ComponentSnapshot {
                        group: name.to_string(),
                        name: cs.name.clone(),
                        status: cs.status,
                        maintenance: g.active_maintenance(&cs.name, now).is_some(),
                    });
                    for (key, c) in &entry.state.checks {
                        checks.push(CheckSnapshot {
                            group: name.to_string(),
                            component: entry.config.name.clone(),
                            kind: key.kind,
                            target: key.target.clone(),
                            up: c.up,
                            successes: c.successes,
                            failures: c.failures_by_reason.iter().map(|(r, n)| (*r, *n)).collect(),
                            rtt: c.rtt_histogram.clone(),
                            cert_not_after: c.cert.as_ref().map(|x| x.not_after),
                        });
                    }
                }
                GroupSnapshot { components, checks }
            })
            .collect();
        Snapshot {
            now,
            zones,
            groups,
            vantage_up: inner.vantage_verdict.up,
            peers: inner.peers.clone(),
            canaries,
        }
    }

    /// Number of targets (to size the output buffer).
    pub fn target_count(&self) -> usize {
        self.zones.iter().map(|z| z.targets.len()).sum()
    }
}
