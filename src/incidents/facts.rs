//! The facts an incident text needs, taken from the pure zone state at the time of a
//! confirmed change.

use std::net::IpAddr;

use crate::probe::Transport;
use crate::state::ZoneState;
use crate::status::{Status, ZoneStatus};
use crate::UnixMs;

/// What is known about a zone when one of its components changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFacts {
    /// The zone (`dk.`).
    pub zone: String,
    /// Nameservers of the zone.
    pub servers: usize,
    /// Nameservers published `operational`.
    pub serving: usize,
    /// The newest serial.
    pub serial: Option<u32>,
    /// When the newest serial was first seen.
    pub published_at: Option<UnixMs>,
    /// The newest serial is older than the staleness threshold.
    pub stale: bool,
}

/// What is known about one nameserver when it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFacts {
    /// Transports with a target down (`UDP`, `TCP`).
    pub transports: Vec<String>,
    /// Addresses with a target down.
    pub addresses: Vec<IpAddr>,
    /// Every target of the server is down.
    pub unreachable: bool,
    /// The last time any of its down targets answered (None: never).
    pub last_answer: Option<UnixMs>,
}

/// The facts attached to a change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Facts {
    /// Nothing beyond the status and reason (service components).
    #[default]
    None,
    /// A zone group changed.
    Zone(ZoneFacts),
    /// A nameserver of a zone changed.
    Server(ZoneFacts, ServerFacts),
}

/// The zone's facts from its state and published statuses.
pub fn zone_facts(state: &ZoneState, status: &ZoneStatus) -> ZoneFacts {
    ZoneFacts {
        zone: state.zone().to_string(),
        servers: status.servers.len(),
        serving: status
            .servers
            .iter()
            .filter(|s| s.status == Status::Operational)
            .count(),
        serial: state.newest_serial(),
        published_at: state.serial_first_seen(),
        stale: status.stale,
    }
}

/// A nameserver's facts from the zone state.
pub fn server_facts(state: &ZoneState, server: &str) -> ServerFacts {
    let mut transports = Vec::new();
    let mut addresses = Vec::new();
    let mut last_answer: Option<UnixMs> = None;
    let (mut total, mut down) = (0, 0);
    if let Some(s) = state.server(server) {
        for (key, t) in &s.targets {
            total += 1;
            if t.up == Some(false) {
                down += 1;
                let tr = match key.transport {
                    Transport::Udp => "UDP",
                    Transport::Tcp => "TCP",
                };
                if !transports.contains(&tr) {
                    transports.push(tr);
                }
                if !addresses.contains(&key.addr.ip()) {
                    addresses.push(key.addr.ip());
                }
                if let Some(at) = t.last_success_at {
                    last_answer = Some(last_answer.map_or(at, |l| l.max(at)));
                }
            }
        }
    }
    transports.sort_by_key(|t| if *t == "UDP" { 0 } else { 1 });
    addresses.sort_by_key(|a| (a.is_ipv6(), *a));
    ServerFacts {
        transports: transports.into_iter().map(String::from).collect(),
        addresses,
        unreachable: total > 0 && down == total,
        last_answer,
    }
}

/// A zone's confirmed changes of one status tick as incident input: the group
/// component's with the zone's facts, a nameserver's with its own too.
pub fn zone_changes(
    state: &ZoneState,
    status: &ZoneStatus,
    changes: &[crate::status::Change],
) -> Vec<super::ChangeIn> {
    let group = &status.group.name;
    let zone = zone_facts(state, status);
    changes
        .iter()
        .map(|c| super::ChangeIn {
            group: group.clone(),
            name: c.name.clone(),
            from: c.from,
            to: c.to,
            at: c.at,
            reason: c.reason.clone(),
            facts: if &c.name == group {
                Facts::Zone(zone.clone())
            } else {
                Facts::Server(zone.clone(), server_facts(state, &c.name))
            },
        })
        .collect()
}

/// A service group's confirmed changes as incident input (no facts beyond the reason).
pub fn service_changes(group: &str, changes: &[crate::status::Change]) -> Vec<super::ChangeIn> {
    changes
        .iter()
        .map(|c| super::ChangeIn {
            group: group.to_string(),
            name: c.name.clone(),
            from: c.from,
            to: c.to,
            at: c.at,
            reason: c.reason.clone(),
            facts: Facts::None,
        })
        .collect()
}
