//! The read model: what the daemon knows, behind one lock, for the HTTP side to read.
//!
//! The daemon loop (`daemon.rs`) is the only writer; `api` (JSON, Statuspage) and
//! `metrics` only read it. Nothing here does I/O. Components are identified by
//! [`ComponentId`] — (group, name) — everywhere: a nameserver listed in two zones
//! is two components, one per zone group.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, oneshot};

use crate::config::{ComponentConfig, Config, GroupConfig, MaintenanceWindow, ZoneConfig};
use crate::incidents::IncidentBook;
use crate::state::{ServiceState, VantageState, ZoneState};
use crate::status::{
    self, GroupStatus, ObservationLog, ServiceTracker, Status, Vantage, VantageSeries,
    VantageViews, ZoneStatus, ZoneTracker,
};
use crate::targets::{AddressBook, HostBook};
use crate::UnixMs;

/// One watched zone: its config and its pure state.
#[derive(Debug)]
pub struct ZoneEntry {
    /// The zone's configuration.
    pub config: ZoneConfig,
    /// Everything observed about the zone.
    pub state: ZoneState,
    /// The maintenance windows as seen from this zone's group (see
    /// [`MaintenanceWindow::for_group`]): plain component names, this group's only.
    pub maintenance: Vec<MaintenanceWindow>,
    /// The zone's published statuses (confirmation layer), updated every status tick.
    pub tracker: ZoneTracker,
}

impl ZoneEntry {
    /// A fresh entry for a configured zone. Its nameservers are declared at once, so
    /// they are components from the first request on, before any address is known.
    pub fn new(config: &ZoneConfig, windows: &[MaintenanceWindow]) -> ZoneEntry {
        let mut state = ZoneState::new(&zone_key(config), config.thresholds.clone());
        state.declare_servers(config.nameservers.iter().map(|n| n.name.as_str()));
        ZoneEntry {
            config: config.clone(),
            state,
            maintenance: MaintenanceWindow::for_group(windows, &config.component),
            tracker: ZoneTracker::new(),
        }
    }

    /// Take a reloaded config (state kept).
    pub fn reconfigure(&mut self, config: &ZoneConfig, windows: &[MaintenanceWindow]) {
        self.state.set_thresholds(config.thresholds.clone());
        self.maintenance = MaintenanceWindow::for_group(windows, &config.component);
        self.config = config.clone();
    }

    /// The window covering component `name` of this zone (its group or a server) at `now`.
    pub fn active_maintenance(&self, name: &str, now: UnixMs) -> Option<&MaintenanceWindow> {
        status::active_maintenance(name, &self.maintenance, now)
    }

    /// True while a window covers component `name` of this zone.
    pub fn in_maintenance(&self, name: &str, now: UnixMs) -> bool {
        self.active_maintenance(name, now).is_some()
    }
}

/// One service component: its config and its pure state.
#[derive(Debug)]
pub struct ServiceEntry {
    /// The component's configuration.
    pub config: ComponentConfig,
    /// Everything observed about its checks.
    pub state: ServiceState,
}

/// One `[[group]]` of service components, in config order.
#[derive(Debug)]
pub struct GroupEntry {
    /// The group's configuration.
    pub config: GroupConfig,
    /// Its components, in config order.
    pub components: Vec<ServiceEntry>,
    /// The maintenance windows as seen from this group (see [`MaintenanceWindow::for_group`]).
    pub maintenance: Vec<MaintenanceWindow>,
    /// The group's published statuses (confirmation layer), updated every status tick.
    pub tracker: ServiceTracker,
}

impl GroupEntry {
    /// A fresh entry for a configured group; `previous` (a reload) hands over the state of
    /// components that keep their name.
    pub fn new(
        config: &GroupConfig,
        windows: &[MaintenanceWindow],
        previous: Option<GroupEntry>,
    ) -> GroupEntry {
        let (mut old, tracker) = match previous {
            Some(p) => (p.components, p.tracker),
            None => (Vec::new(), ServiceTracker::new()),
        };
        let components = config
            .components
            .iter()
            .map(|c| {
                let state = match old.iter().position(|o| o.config.name == c.name) {
                    Some(i) => {
                        let mut st = old.swap_remove(i).state;
                        st.set_thresholds(c.thresholds.clone());
                        st
                    }
                    None => ServiceState::new(c.thresholds.clone()),
                };
                ServiceEntry {
                    config: c.clone(),
                    state,
                }
            })
            .collect();
        GroupEntry {
            config: config.clone(),
            components,
            maintenance: MaintenanceWindow::for_group(windows, &config.name),
            tracker,
        }
    }

    /// The component called `name`.
    pub fn component_mut(&mut self, name: &str) -> Option<&mut ServiceEntry> {
        self.components.iter_mut().find(|c| c.config.name == name)
    }

    /// The component called `name` (case-insensitive, as in API paths).
    pub fn component(&self, name: &str) -> Option<&ServiceEntry> {
        self.components
            .iter()
            .find(|c| c.config.name.eq_ignore_ascii_case(name))
    }

    /// The window covering component `name` of this group (or the group itself) at `now`.
    pub fn active_maintenance(&self, name: &str, now: UnixMs) -> Option<&MaintenanceWindow> {
        status::active_maintenance(name, &self.maintenance, now)
    }

    /// The published statuses; before the first status tick, what the tracker would
    /// publish now (restored statuses after a restart, else the first proposals).
    pub fn status(&self, now: UnixMs) -> GroupStatus {
        if let Some(s) = self.tracker.current() {
            return s.clone();
        }
        self.tracker.preview(
            &self.config.name,
            self.components
                .iter()
                .map(|c| (c.config.name.as_str(), &c.state)),
            self.config.partial_outage_share,
            &self.maintenance,
            now,
        )
    }
}

/// The zone map key: the fully-qualified zone name (`dk.`).
pub fn zone_key(z: &ZoneConfig) -> String {
    z.name.to_ascii()
}

/// A status-page component: (group, name). A group component (e.g. `DNS (.dk)`) has
/// an empty `group`; a member (e.g. nameserver `a.nic.dk`) names its group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId {
    /// The group the component belongs to; empty for a group component itself.
    pub group: String,
    /// The component's name.
    pub name: String,
}

impl ComponentId {
    /// A group component.
    pub fn group(name: &str) -> ComponentId {
        ComponentId {
            group: String::new(),
            name: name.to_string(),
        }
    }

    /// A member of `group`.
    pub fn member(group: &str, name: &str) -> ComponentId {
        ComponentId {
            group: group.to_string(),
            name: name.to_string(),
        }
    }
}

impl ComponentId {
    /// The component's stable public id (Statuspage `id`, badge URLs): from its name for
    /// a group component, from group and name for a member, so a nameserver listed in two
    /// zones gets two distinct ids.
    pub fn public_id(&self) -> String {
        if self.group.is_empty() {
            stable_id("component", &self.name)
        } else {
            stable_id("component", &format!("{}\u{0}{}", self.group, self.name))
        }
    }
}

/// Stable 12-character id from a name (FNV-1a 64, base 36).
pub fn stable_id(kind: &str, name: &str) -> String {
    crate::stable_id_of(kind.bytes().chain([0u8]).chain(name.bytes()))
}

impl std::fmt::Display for ComponentId {
    /// `DNS (.dk)/a.nic.dk` for a member, `DNS (.dk)` for a group (as in logs and
    /// qualified maintenance component names).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.group, self.name)
        }
    }
}

/// Outcome of the last configuration (re)load.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    /// Whether the last attempt succeeded.
    pub ok: bool,
    /// When the config was last loaded successfully.
    pub last_success: UnixMs,
    /// The error of the last attempt, if it failed.
    pub error: Option<String>,
}

/// Everything the daemon knows, behind one lock.
#[derive(Debug)]
pub struct Inner {
    /// The configuration in force.
    pub config: Arc<Config>,
    /// Watched zones, keyed by fully-qualified zone name (`dk.`).
    pub zones: BTreeMap<String, ZoneEntry>,
    /// Addresses of every (zone, nameserver).
    pub addresses: AddressBook,
    /// Service groups (`[[group]]`), in config order.
    pub groups: Vec<GroupEntry>,
    /// Addresses of every service check host.
    pub hosts: HostBook,
    /// Outcome of the last config (re)load.
    pub reload: ReloadStatus,
    /// Last status and since when, per component (for logging changes and `updated_at`).
    pub component_since: BTreeMap<ComponentId, (Status, UnixMs)>,
    /// The open incidents (written from confirmed changes; stored by the daemon).
    pub incidents: IncidentBook,
    /// When the daemon started.
    pub started_at: UnixMs,
    /// The address the HTTP server is bound to (the configured one until a restart).
    pub http_addr: SocketAddr,
    /// Canary reachability (vantage guard).
    pub vantage: VantageState,
    /// The last vantage verdict.
    pub vantage_verdict: Vantage,
    /// Nameserver names whose last resolution failed, with the error (for `/readyz`).
    pub unresolved: BTreeMap<String, String>,
    /// This vantage's observation log (served at `/api/v1/observations`).
    pub observations: ObservationLog,
    /// The newest observation of every component per vantage, this one's included (a
    /// hub votes with them; every instance shows them per component).
    pub views: VantageViews,
    /// A hub's per-minute response times per vantage and component, last 24 h (empty
    /// unless a hub).
    pub series: VantageSeries,
    /// The `[[peer]]`s' pull health, in config order (empty unless a hub).
    pub peers: Vec<PeerHealth>,
}

/// What a hub knows of one `[[peer]]`'s pulls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerHealth {
    /// The peer's base URL (config).
    pub url: String,
    /// The vantage name the peer reports (None before the first successful pull).
    pub vantage: Option<String>,
    /// The peer's location, as it reports it.
    pub location: String,
    /// The last pull succeeded.
    pub up: bool,
    /// When the last pull succeeded.
    pub last_success: Option<UnixMs>,
    /// When the last pull was tried.
    pub last_attempt: Option<UnixMs>,
    /// Why the last pull failed (None after a success).
    pub error: Option<String>,
    /// The peer's cursor after the last successful pull.
    pub cursor: u64,
    /// Pulls tried, and failed.
    pub pulls: u64,
    /// Failed pulls.
    pub failures: u64,
    /// Response bytes received.
    pub bytes: u64,
    /// Observation records received.
    pub records: u64,
    /// Records lost to gaps (`truncated` pages).
    pub gaps: u64,
    /// Time spent in pulls, seconds.
    pub seconds: f64,
}

impl Inner {
    /// True when every target of every zone, and every check target of every service
    /// component, has been probed at least once. A nameserver or check host that has not
    /// resolved has no targets, so it does not hold readiness back.
    pub fn all_targets_probed(&self) -> bool {
        let zones = self.zones.values().all(|z| {
            z.state
                .servers()
                .values()
                .all(|s| s.targets.values().all(|t| t.last_at.is_some()))
        });
        let services = self.groups.iter().all(|g| {
            g.components
                .iter()
                .all(|c| c.state.checks.values().all(|t| t.last_at.is_some()))
        });
        zones && services
    }

    /// Nameservers (zone, name) without any address to probe yet.
    pub fn servers_without_address(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for z in self.zones.values() {
            for ns in &z.config.nameservers {
                let has = z
                    .state
                    .server(&ns.name)
                    .is_some_and(|s| !s.targets.is_empty());
                if !has && !out.contains(&ns.name) {
                    out.push(ns.name.clone());
                }
            }
        }
        out
    }

    /// Why the daemon is not ready yet, in words: which names have no address (and the
    /// last resolution error, and when resolution is retried), or that the first probe
    /// round is still running.
    pub fn not_ready_reason(&self) -> String {
        let missing = self.servers_without_address();
        if missing.is_empty() {
            return "first probe round not done".into();
        }
        let errors: Vec<String> = missing
            .iter()
            .filter_map(|n| self.unresolved.get(n).map(|e| format!("{n}: {e}")))
            .collect();
        let mut s = format!("waiting for the addresses of {}", missing.join(", "));
        if errors.is_empty() {
            s.push_str(" (resolution in progress)");
        } else {
            s.push_str(&format!(" (resolution failed: {})", errors.join("; ")));
        }
        s.push_str(&format!(
            "; retrying every {}",
            humantime::format_duration(self.config.resolver.refresh)
        ));
        s
    }

    /// Every zone's published (confirmed) statuses; before the first status tick, what
    /// the tracker would publish at `now` (restored statuses after a restart).
    pub fn statuses(&self, now: UnixMs) -> Vec<(&ZoneEntry, ZoneStatus)> {
        self.zones
            .values()
            .map(|z| (z, self.zone_status(z, now).into_owned()))
            .collect()
    }

    /// One zone's published statuses, borrowed (no reason string cloned); before the
    /// first status tick, what its tracker would publish at `now`.
    pub fn zone_status<'a>(&self, z: &'a ZoneEntry, now: UnixMs) -> Cow<'a, ZoneStatus> {
        match z.tracker.current() {
            Some(published) => Cow::Borrowed(published),
            None => Cow::Owned(z.tracker.preview(
                &z.state,
                &z.config.component,
                &z.maintenance,
                &self.vantage_verdict,
                now,
            )),
        }
    }
}

impl Inner {
    /// Every service group's published statuses, in config order.
    pub fn group_statuses(&self, now: UnixMs) -> Vec<(&GroupEntry, GroupStatus)> {
        self.groups.iter().map(|g| (g, g.status(now))).collect()
    }
}

/// A request to reload the configuration, answered with the outcome.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// State shared between the daemon loop (the writer) and the HTTP server (readers).
#[derive(Debug)]
pub struct Shared {
    inner: Mutex<Inner>,
    ready: AtomicBool,
    reload_tx: mpsc::Sender<ReloadRequest>,
}

impl Shared {
    /// Shared state around `inner`; reload requests go to `reload_tx`.
    pub fn new(inner: Inner, reload_tx: mpsc::Sender<ReloadRequest>) -> Shared {
        Shared {
            inner: Mutex::new(inner),
            ready: AtomicBool::new(false),
            reload_tx,
        }
    }

    /// Lock the daemon's state for reading or writing. Keep the guard short-lived:
    /// copy what you need and build responses after releasing it.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave Inner half-updated in a way
        // that matters more than stopping the daemon would; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True once every target has been probed at least once.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Mark the daemon ready (the daemon loop does, after the first probe round).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// Ask the daemon loop to reload its configuration and wait for the outcome.
    pub async fn reload(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.reload_tx
            .send(tx)
            .await
            .map_err(|_| "daemon is shutting down".to_string())?;
        rx.await
            .map_err(|_| "daemon is shutting down".to_string())?
    }
}
