//! The validated configuration types: what the rest of nsprobe reads.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hickory_proto::rr::Name;

use super::groups::GroupConfig;
use super::vantage::{PeerConfig, VantageConfig};
use crate::probe::Transport;
use crate::UnixMs;

/// A validated nsprobe configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file this configuration was read from.
    pub source: PathBuf,
    /// HTTP server settings.
    pub http: HttpConfig,
    /// Persistent state settings.
    pub state: StateConfig,
    /// The embedded store (history, incidents, restart state).
    pub store: StoreConfig,
    /// How nameserver names are resolved to addresses.
    pub resolver: ResolverSettings,
    /// The built-in status page (`[page]`).
    pub page: PageConfig,
    /// The zones to watch (at least one).
    pub zones: Vec<ZoneConfig>,
    /// Declared maintenance windows.
    pub maintenance: Vec<MaintenanceWindow>,
    /// Vantage canaries (`[[canary]]`): DNS servers outside the monitored zones; when they
    /// fail together with the monitored servers, nsprobe's own network is the suspect.
    pub canaries: Vec<CanaryConfig>,
    /// `[incidents]`: incident text templates overriding the defaults, by name (one of
    /// [`INCIDENT_TEMPLATES`]).
    pub incident_templates: std::collections::BTreeMap<String, String>,
    /// The status page's other components (`[[group]]`), in file order.
    pub groups: Vec<GroupConfig>,
    /// This instance as a vantage point (`[vantage]`).
    pub vantage: VantageConfig,
    /// Other vantages whose observations this instance pulls (`[[peer]]`): non-empty
    /// makes it a hub publishing quorum statuses.
    pub peers: Vec<PeerConfig>,
}

/// One `[[canary]]`: a DNS server outside the monitored zones, probed like a nameserver
/// (SOA query for `zone`); any DNS answer, even an error or a non-authoritative one, counts
/// as reachable.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryConfig {
    /// A label for logs and metrics (`k.root-servers.net`).
    pub name: String,
    /// Address to query (default port 53).
    pub address: SocketAddr,
    /// Zone whose SOA is asked for (default the root, `.`).
    pub zone: Name,
    /// UDP (default) or TCP.
    pub transport: Transport,
}

/// `[page]`: the built-in status page served at `/`.
#[derive(Debug, Clone, PartialEq)]
pub struct PageConfig {
    /// Page title (default `nsprobe status`), e.g. `Punktum dk — status`.
    pub name: String,
}

/// The page name when `[page] name` is not set.
pub const DEFAULT_PAGE_NAME: &str = "nsprobe status";

/// `[http]`: where the metrics/JSON API server listens.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    /// Listen address, default `127.0.0.1:9853`.
    pub listen: SocketAddr,
    /// Allow `POST /-/reload` (default false).
    pub enable_reload: bool,
    /// Per-request timeout (default 10s).
    pub request_timeout: Duration,
}

/// `[state]`: what must survive a restart.
#[derive(Debug, Clone, PartialEq)]
pub struct StateConfig {
    /// State file path (default `nsprobe-state.json`), relative paths resolved against the working directory.
    pub path: PathBuf,
    /// How often state is saved (default 60s); it is also saved on shutdown.
    pub save_interval: Duration,
}

/// The incident text templates `[incidents]` can override (README, section Incidents).
pub const INCIDENT_TEMPLATES: [&str; 11] = [
    "stall_title",
    "stall_open",
    "stall_resolved",
    "server_title",
    "server_open",
    "server_resolved",
    "component_title",
    "component_open",
    "component_update",
    "component_recovered",
    "component_resolved",
];

/// `[store]`: the SQLite file holding the restart state, status history, series and
/// incidents.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    /// Database file (default `nsprobe.db` in the directory of `[state] path`).
    pub path: PathBuf,
    /// How long status changes, hourly series and resolved incidents are kept (default 90 days).
    pub retention: Duration,
    /// How long per-minute series are kept (default 7 days; at most `retention`).
    pub minute_retention: Duration,
}

/// `[resolver]`: resolution of nameserver names (hickory-resolver).
#[derive(Debug, Clone, PartialEq)]
pub struct ResolverSettings {
    /// Recursive resolvers to use; empty = the system's `/etc/resolv.conf`.
    pub servers: Vec<SocketAddr>,
    /// How often names are re-resolved (default 5m).
    pub refresh: Duration,
    /// Timeout per resolution attempt (default 5s).
    pub timeout: Duration,
}

/// One `[[zone]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneConfig {
    /// Zone name, fully qualified (`dk.`).
    pub name: Name,
    /// Status-page group component name (`DNS (.dk)`), default `DNS (<zone>)`.
    pub component: String,
    /// Probe interval per target.
    pub interval: Duration,
    /// Timeout per probe; always shorter than `interval`.
    pub timeout: Duration,
    /// Transports to probe each address over (non-empty, no duplicates).
    pub transports: Vec<Transport>,
    /// Request the SOA's RRSIG (EDNS DO bit), default false.
    pub dnssec: bool,
    /// Request NSID, default true.
    pub nsid: bool,
    /// Thresholds turning state into statuses.
    pub thresholds: Thresholds,
    /// The zone's nameservers (non-empty, unique names).
    pub nameservers: Vec<NameserverConfig>,
}

/// Per-zone thresholds for staleness, outages and degradation.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Newest serial older than this = stalled publication (`stale_after`).
    pub stale_after: Duration,
    /// Adaptive staleness: flag stale when the current gap exceeds this multiple of the learned
    /// normal publication gap (`stale_factor`); None = off.
    pub stale_factor: Option<f64>,
    /// Serial changes observed before the learned cadence is trusted (`stale_min_samples`, default 5).
    pub stale_min_samples: u32,
    /// Consecutive failures before a target counts as down (`fail_after`, default 3).
    pub fail_after: u32,
    /// Consecutive successes before a down target counts as up again (`recover_after`, default 2).
    pub recover_after: u32,
    /// Median response time over the recent window above this = degraded (`slow_after`, default 500ms).
    pub slow_after: Duration,
    /// Number of recent probes per target in the slow/loss window (`window`, default 10).
    pub window: u32,
    /// Share of failed probes in the window at or above which a server is degraded (`loss_after`, default 0.2).
    pub loss_after: f64,
    /// A server behind the zone's newest serial for longer than this = degraded (`lag_after`, default 5m).
    pub lag_after: Duration,
    /// Share of servers out above which the zone is a partial outage (`partial_outage_share`, default 0.5).
    pub partial_outage_share: f64,
    /// RRSIG on the SOA expiring within this = degraded (`rrsig_warn_before`, default 2d).
    pub rrsig_warn_before: Duration,
    /// Span of the per-server evidence window that loss and slowness are judged over
    /// (`stats_window`, default 5m).
    pub stats_window: Duration,
    /// Successes needed in the evidence window before slowness is judged (`min_samples`, default 20).
    pub min_samples: u32,
    /// A worse status is published only after it has held this long (`confirm_after`, default 30s).
    pub confirm_after: Duration,
    /// A better status is published only after it has held this long (`clear_after`, default 2m).
    pub clear_after: Duration,
    /// Every responding server older than the zone's newest serial for this long = the zone
    /// rolled back; it re-baselines to the newest serial served (`rollback_after`, default 2m).
    pub rollback_after: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            stale_after: Duration::from_secs(30 * 60),
            stale_factor: None,
            stale_min_samples: 5,
            fail_after: 3,
            recover_after: 2,
            slow_after: Duration::from_millis(500),
            window: 10,
            loss_after: 0.2,
            lag_after: Duration::from_secs(5 * 60),
            partial_outage_share: 0.5,
            rrsig_warn_before: Duration::from_secs(2 * 24 * 3600),
            stats_window: Duration::from_secs(5 * 60),
            min_samples: 20,
            confirm_after: Duration::from_secs(30),
            clear_after: Duration::from_secs(2 * 60),
            rollback_after: Duration::from_secs(2 * 60),
        }
    }
}

/// One `[[zone.nameservers]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct NameserverConfig {
    /// Server name as given (`a.nic.dk`); also its status-page component name.
    pub name: String,
    /// Fixed addresses (default port 53); empty = resolve `name` (A and AAAA).
    pub addresses: Vec<SocketAddr>,
}

/// One `[[maintenance]]` window.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceWindow {
    /// Affected components, canonical spelling: a plain name (a zone's group component,
    /// or a nameserver name: that nameserver in every zone listing it) or a qualified
    /// `group/name` (that nameserver in that group only).
    pub components: Vec<String>,
    /// Start, inclusive (ms since epoch).
    pub start: UnixMs,
    /// End, exclusive (ms since epoch); after `start`.
    pub end: UnixMs,
    /// Why (shown in the API and scheduled maintenances).
    pub reason: String,
}

impl MaintenanceWindow {
    /// True if the window names component `name` of group `group` (`group` empty for a
    /// group component): by plain name, or qualified as `group/name`.
    pub fn covers(&self, group: &str, name: &str) -> bool {
        self.components.iter().any(|c| {
            c == name
                || (!group.is_empty()
                    && c.strip_prefix(group)
                        .and_then(|r| r.strip_prefix('/'))
                        .is_some_and(|n| n == name))
        })
    }

    /// The windows as seen from inside group `group`: qualified names of this group
    /// become plain (`DNS (.dk)/a.nic.dk` → `a.nic.dk`); everything else stays as it is
    /// (another group's qualified name matches no component of this group, since
    /// nameserver names contain no `/`).
    pub fn for_group(windows: &[MaintenanceWindow], group: &str) -> Vec<MaintenanceWindow> {
        windows
            .iter()
            .map(|w| MaintenanceWindow {
                components: w
                    .components
                    .iter()
                    .map(|c| {
                        c.strip_prefix(group)
                            .and_then(|r| r.strip_prefix('/'))
                            .unwrap_or(c)
                            .to_string()
                    })
                    .collect(),
                ..w.clone()
            })
            .collect()
    }
}
