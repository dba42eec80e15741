//! Per-server and per-address state: the serial an address answers, lag, regressions.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::history::ResponseHistory;
use super::target::{TargetKey, TargetState};
use super::window::SampleWindow;
use crate::UnixMs;

/// State of one server address (both transports report into it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressState {
    /// Latest serial answered on this address (any transport).
    pub serial: Option<u32>,
    /// When `serial` was last answered.
    pub serial_at: Option<UnixMs>,
    /// Since when this address has been behind the zone's newest serial (the time the zone
    /// first saw the oldest serial newer than this address's). None when up to date or unknown.
    pub behind_since: Option<UnixMs>,
    /// Times this address answered a serial older than it had before.
    pub regressions: u64,
    /// Latest NSID answered on this address.
    pub nsid: Option<String>,
    /// Latest SOA RRSIG expiration (seconds since the epoch) answered on this address.
    pub rrsig_expiration: Option<u32>,
}

/// State of one nameserver.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerState {
    /// The server's targets (address × transport). Boxed: a B-tree node has room for 11
    /// entries, and a server usually has one to four, so inline states (about 460 bytes
    /// each) would make every server's node 5 KB.
    pub targets: BTreeMap<TargetKey, Box<TargetState>>,
    /// The server's addresses (boxed for the same reason).
    pub addresses: BTreeMap<SocketAddr, Box<AddressState>>,
    /// The newest serial any of its addresses has shown (drives [`Event::Propagated`]).
    pub propagated_serial: Option<u32>,
    /// Per-minute response-time history (all targets of the server).
    pub history: ResponseHistory,
    /// Evidence for loss and slowness: every probe of the server's targets over the last
    /// `stats_window`, except those of a target that is down (an outage is not loss).
    pub samples: SampleWindow,
}

impl ServerState {
    /// True when no target of the server has completed a probe yet.
    pub fn never_probed(&self) -> bool {
        self.targets.values().all(|t| t.probes == 0)
    }

    /// True when some target has answered at least once.
    pub fn ever_answered(&self) -> bool {
        self.targets.values().any(|t| t.successes > 0)
    }
}
