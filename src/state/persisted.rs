//! What of a [`ZoneState`] survives a restart, and how it is taken and restored.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::server::AddressState;
use super::zone::{Publication, Rollback, ZoneState, MAX_GAPS, MAX_PUBLICATIONS};
use crate::UnixMs;

/// Persisted state of one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedAddress {
    /// Server name.
    pub server: String,
    /// Address.
    pub addr: SocketAddr,
    /// Latest serial.
    #[serde(default)]
    pub serial: Option<u32>,
    /// When the latest serial was answered.
    #[serde(default)]
    pub serial_at: Option<UnixMs>,
    /// Behind the zone's newest serial since.
    #[serde(default)]
    pub behind_since: Option<UnixMs>,
    /// Regression count.
    #[serde(default)]
    pub regressions: u64,
}

/// Persisted state of one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedServer {
    /// The last serial propagated to the server.
    #[serde(default)]
    pub propagated_serial: Option<u32>,
}

/// What of a [`ZoneState`] survives a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedZone {
    /// Recent publications, oldest first; the last one is the newest serial and its first-seen time.
    #[serde(default)]
    pub publications: Vec<Publication>,
    /// Recent gaps (ms) between successive observed publications, oldest first.
    #[serde(default)]
    pub gaps: Vec<u64>,
    /// Per-address serial state.
    #[serde(default)]
    pub addresses: Vec<PersistedAddress>,
    /// Per-server propagation state.
    #[serde(default)]
    pub servers: BTreeMap<String, PersistedServer>,
    /// Zone-wide rollbacks so far.
    #[serde(default)]
    pub rollbacks: u64,
    /// The last zone-wide rollback.
    #[serde(default)]
    pub last_rollback: Option<Rollback>,
}

impl PersistedZone {
    /// The newest serial and when it was first seen, if any.
    pub fn newest(&self) -> Option<(u32, UnixMs)> {
        self.publications.last().map(|p| (p.serial, p.first_seen))
    }
}

/// Restored state for servers/addresses not (yet) registered by [`ZoneState::sync_targets`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Pending {
    pub(super) addresses: BTreeMap<(String, SocketAddr), AddressState>,
    pub(super) propagated: BTreeMap<String, u32>,
}

impl ZoneState {
    /// What of this state survives a restart.
    pub fn to_persisted(&self) -> PersistedZone {
        let mut addresses: Vec<PersistedAddress> = self
            .servers
            .iter()
            .flat_map(|(name, s)| {
                s.addresses
                    .iter()
                    .map(move |(addr, a)| persisted_address(name, *addr, a))
            })
            .collect();
        addresses.extend(
            self.pending
                .addresses
                .iter()
                .map(|((name, addr), a)| persisted_address(name, *addr, a)),
        );
        let mut servers: BTreeMap<String, PersistedServer> = self
            .pending
            .propagated
            .iter()
            .map(|(name, s)| {
                (
                    name.clone(),
                    PersistedServer {
                        propagated_serial: Some(*s),
                    },
                )
            })
            .collect();
        for (name, s) in &self.servers {
            servers.insert(
                name.clone(),
                PersistedServer {
                    propagated_serial: s.propagated_serial,
                },
            );
        }
        PersistedZone {
            publications: self.publications.iter().copied().collect(),
            gaps: self.gaps.iter().copied().collect(),
            addresses,
            servers,
            rollbacks: self.rollbacks,
            last_rollback: self.last_rollback,
        }
    }

    /// Restores persisted state; meant to be called at startup, before the first observation.
    ///
    /// Replaces the publication history (newest serial and its first-seen time) and gaps,
    /// so that observing the same serial again does not reset its age. Address and server
    /// state is applied to registered addresses/servers now and to others when
    /// [`ZoneState::sync_targets`] first adds them.
    pub fn restore(&mut self, p: PersistedZone) {
        let skip = p.publications.len().saturating_sub(MAX_PUBLICATIONS);
        self.publications = p.publications.into_iter().skip(skip).collect();
        self.rollbacks = p.rollbacks;
        self.last_rollback = p.last_rollback;
        let skip = p.gaps.len().saturating_sub(MAX_GAPS);
        self.gaps = p.gaps.into_iter().skip(skip).collect();
        for pa in p.addresses {
            let state = AddressState {
                serial: pa.serial,
                serial_at: pa.serial_at,
                behind_since: pa.behind_since,
                regressions: pa.regressions,
                nsid: None,
                rrsig_expiration: None,
            };
            match self
                .servers
                .get_mut(&pa.server)
                .and_then(|s| s.addresses.get_mut(&pa.addr))
            {
                Some(a) => {
                    a.serial = state.serial;
                    a.serial_at = state.serial_at;
                    a.behind_since = state.behind_since;
                    a.regressions = state.regressions;
                }
                None => {
                    self.pending.addresses.insert((pa.server, pa.addr), state);
                }
            }
        }
        for (name, ps) in p.servers {
            let Some(serial) = ps.propagated_serial else {
                continue;
            };
            match self.servers.get_mut(&name) {
                Some(s) => s.propagated_serial = Some(serial),
                None => {
                    self.pending.propagated.insert(name, serial);
                }
            }
        }
    }
}

fn persisted_address(server: &str, addr: SocketAddr, a: &AddressState) -> PersistedAddress {
    PersistedAddress {
        server: server.to_string(),
        addr,
        serial: a.serial,
        serial_at: a.serial_at,
        behind_since: a.behind_since,
        regressions: a.regressions,
    }
}
