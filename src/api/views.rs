//! Plain, serialisable views of the daemon's state for `/api/v1`.
//!
//! Built under the daemon lock, serialised after it is released.

use serde::Serialize;

use super::statuspage::component_id;
use super::{rfc3339, worst};
use crate::config::MaintenanceWindow;
use crate::model::{ComponentId, GroupEntry, Inner, ZoneEntry};
use crate::probe::{CertFacts, Facts, Kind, Transport};
use crate::state::MinutePoint;
use crate::status::{self, Status};
use crate::{duration_ms, UnixMs};

/// `GET /api/v1/status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    /// When this document was generated (RFC 3339).
    pub generated_at: String,
    /// Worst status over every zone group and service group.
    pub status: Status,
    /// True once the first probe round is done (the same as `/readyz`).
    pub ready: bool,
    /// The vantage guard's verdict (canaries): when down, statuses are `unknown` and the
    /// last confirmed ones are held.
    pub vantage: status::Vantage,
    /// Every watched zone.
    pub zones: Vec<ZoneView>,
    /// Every service group (`[[group]]`), in config order.
    pub groups: Vec<GroupView>,
}

/// One service group in `/api/v1/status`.
#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    /// The group's Statuspage component id (stable, from its name).
    pub id: String,
    /// Group name (its own status-page component).
    pub name: String,
    /// Group status.
    pub status: Status,
    /// Why.
    pub reason: String,
    /// When the group's status last changed (RFC 3339).
    pub since: Option<String>,
    /// Maintenance window in force for the group.
    pub maintenance: Option<MaintenanceView>,
    /// Its components, in config order.
    pub components: Vec<ServiceView>,
}

/// One service component in `/api/v1/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    /// Statuspage component id (stable, from group and name).
    pub id: String,
    /// Component name.
    pub name: String,
    /// Component status (confirmed; `unknown` when not observable).
    pub status: Status,
    /// Why.
    pub reason: String,
    /// When the status last changed (RFC 3339).
    pub since: Option<String>,
    /// The last confirmed observed status, held while `unknown` or in maintenance.
    pub last_known: Option<Status>,
    /// Loss over the evidence window (`stats_window`).
    pub window_loss: f64,
    /// Lower bound of the 95 % Wilson interval of that share (degraded above `loss_after`).
    pub window_loss_low: f64,
    /// Checks in the evidence window.
    pub window_checks: usize,
    /// Maintenance window in force.
    pub maintenance: Option<MaintenanceView>,
    /// Every check target.
    pub checks: Vec<CheckView>,
    /// What each vantage sees of it (this one and, on a hub, every peer), by vantage name.
    pub vantages: Vec<VantageStatusView>,
}

/// One vantage's view of a component (its newest observation).
#[derive(Debug, Clone, Serialize)]
pub struct VantageStatusView {
    /// The vantage's name.
    pub vantage: String,
    /// The status that vantage's own evidence proposes.
    pub status: Status,
    /// Why, at that vantage.
    pub reason: String,
    /// When it was observed (RFC 3339).
    pub at: String,
    /// Age of the observation, seconds.
    pub age_seconds: f64,
    /// The observation is recent enough to vote (`[vantage] max_age`).
    pub fresh: bool,
    /// Median response time at that vantage, ms.
    pub rtt_ms: Option<f64>,
    /// Newest serial that vantage saw (nameservers).
    pub serial: Option<u32>,
}

/// `GET /api/v1/vantages`: this vantage and every peer.
#[derive(Debug, Clone, Serialize)]
pub struct VantagesView {
    /// This instance's vantage name.
    pub name: String,
    /// This instance's location.
    pub location: String,
    /// True when this instance pulls peers and publishes quorum statuses.
    pub hub: bool,
    /// The quorum in force: configured, or None for a majority of the vantages reporting.
    pub quorum: Option<usize>,
    /// Observations older than this do not vote, seconds.
    pub max_age_seconds: f64,
    /// Newest zone serial any vantage saw, per zone (RFC 1982 order).
    pub newest_serials: std::collections::BTreeMap<String, u32>,
    /// Every vantage known: this one first, then the peers in config order.
    pub vantages: Vec<VantageHealthView>,
}

/// One vantage in `/api/v1/vantages`.
#[derive(Debug, Clone, Serialize)]
pub struct VantageHealthView {
    /// Its name (None for a peer never reached).
    pub name: Option<String>,
    /// Its location.
    pub location: String,
    /// `self` or the peer's URL.
    pub url: String,
    /// Pulled successfully the last time (always true for `self`).
    pub up: bool,
    /// Its newest observation is recent enough to vote.
    pub fresh: bool,
    /// When its newest observation was made (RFC 3339).
    pub last_observation: Option<String>,
    /// When it was last pulled successfully (RFC 3339; peers).
    pub last_success: Option<String>,
    /// Why the last pull failed.
    pub error: Option<String>,
    /// Pulls, failures, bytes and records received (peers).
    pub pulls: u64,
    /// Failed pulls.
    pub failures: u64,
    /// Response bytes received.
    pub bytes: u64,
    /// Records received.
    pub records: u64,
}

/// One check target of a service component.
#[derive(Debug, Clone, Serialize)]
pub struct CheckView {
    /// Check kind (`tcp`, `tls`, `http`, `whois`, `epp`).
    pub kind: Kind,
    /// What is checked (`epp://epp.example.dk@192.0.2.7:700`, a URL…).
    pub target: String,
    /// Up after hysteresis (null before the first result).
    pub up: Option<bool>,
    /// Response time of the last success, ms.
    pub rtt_ms: Option<f64>,
    /// The most recent failure (it stays after recovery).
    pub last_error: Option<ErrorView>,
    /// Consecutive failures up to now.
    pub consecutive_failures: u32,
    /// When the last check ran (RFC 3339).
    pub last_check_at: Option<String>,
    /// Facts of the last success (HTTP status, EPP svID, TLS version, certificate…).
    pub facts: Option<Facts>,
    /// The last server certificate seen (also from a failed check).
    pub cert: Option<CertFacts>,
    /// Its expiry (RFC 3339).
    pub cert_expires_at: Option<String>,
}

/// A zone-wide serial rollback.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackView {
    /// The newest serial before, no longer served.
    pub from: u32,
    /// The newest serial served, the zone's newest since.
    pub to: u32,
    /// When the zone re-baselined (RFC 3339).
    pub at: String,
    /// How long no server had answered `from`, seconds.
    pub unserved_seconds: f64,
}

/// A maintenance window in force.
#[derive(Debug, Clone, Serialize)]
pub struct MaintenanceView {
    /// Why.
    pub reason: String,
    /// Start (RFC 3339).
    pub start: String,
    /// End (RFC 3339).
    pub end: String,
}

/// One zone in `/api/v1/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ZoneView {
    /// Zone name (`dk.`).
    pub zone: String,
    /// Status-page group component name.
    pub component: String,
    /// Group status.
    pub status: Status,
    /// Why the group has this status.
    pub reason: String,
    /// When the group's status last changed (RFC 3339).
    pub since: Option<String>,
    /// Zone-wide serial rollbacks so far.
    pub serial_rollbacks: u64,
    /// The last zone-wide rollback, if any.
    pub last_rollback: Option<RollbackView>,
    /// Newest SOA serial seen on any server.
    pub serial: Option<u32>,
    /// When the newest serial was first seen (RFC 3339).
    pub serial_changed_at: Option<String>,
    /// Age of the newest serial in seconds.
    pub serial_age_seconds: Option<f64>,
    /// The newest serial is older than the staleness threshold.
    pub stale: bool,
    /// Staleness threshold in force (fixed, or learned from the publication cadence).
    pub stale_after_seconds: f64,
    /// Learned normal gap between publications, once known.
    pub publication_interval_seconds: Option<f64>,
    /// Maintenance window in force for the group.
    pub maintenance: Option<MaintenanceView>,
    /// The zone's nameservers.
    pub servers: Vec<ServerView>,
}

/// One nameserver in `/api/v1/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ServerView {
    /// Nameserver name (also its component name).
    pub name: String,
    /// Component status (confirmed; `unknown` when not observable).
    pub status: Status,
    /// Why.
    pub reason: String,
    /// When the status last changed (RFC 3339).
    pub since: Option<String>,
    /// The last confirmed observed status, held while the status is `unknown` or in maintenance.
    pub last_known: Option<Status>,
    /// Loss over the evidence window (`stats_window`): failed share of the probes.
    pub window_loss: f64,
    /// Lower bound of the 95 % Wilson interval of that share (degraded above `loss_after`).
    pub window_loss_low: f64,
    /// Probes in the evidence window.
    pub window_probes: usize,
    /// Oldest serial among its addresses (what a resolver may get at worst).
    pub serial: Option<u32>,
    /// Largest lag behind the zone's newest serial, in serial units, over its addresses.
    pub lag: u32,
    /// Longest time any of its addresses has been behind, in seconds.
    pub lag_seconds: f64,
    /// Maintenance window in force.
    pub maintenance: Option<MaintenanceView>,
    /// Every address × transport probed.
    pub targets: Vec<TargetView>,
    /// What each vantage sees of it (this one and, on a hub, every peer), by vantage name.
    pub vantages: Vec<VantageStatusView>,
}

/// A failure as shown in the API.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorView {
    /// Stable short reason (`timeout`, `refused`, `lame`…).
    pub reason: String,
    /// Human detail.
    pub detail: String,
    /// When it happened (RFC 3339).
    pub at: String,
}

impl ErrorView {
    /// A failure with its stable `reason`, `detail` and time.
    fn new(reason: &str, detail: &str, at: UnixMs) -> ErrorView {
        ErrorView {
            reason: reason.to_string(),
            detail: detail.to_string(),
            at: rfc3339(at),
        }
    }
}

/// One target in `/api/v1/status`.
#[derive(Debug, Clone, Serialize)]
pub struct TargetView {
    /// Address probed.
    pub address: String,
    /// Transport.
    pub transport: Transport,
    /// Up after hysteresis (null before the first probe).
    pub up: Option<bool>,
    /// Response time of the last successful probe, in ms.
    pub rtt_ms: Option<f64>,
    /// Last serial answered.
    pub serial: Option<u32>,
    /// Last NSID answered.
    pub nsid: Option<String>,
    /// The most recent failure (it stays after recovery; compare `at` with `last_probe_at`).
    pub last_error: Option<ErrorView>,
    /// Consecutive failures up to now.
    pub consecutive_failures: u32,
    /// When the last probe ran (RFC 3339).
    pub last_probe_at: Option<String>,
    /// Expiration of the SOA's RRSIG (RFC 3339), when DNSSEC is requested.
    pub rrsig_expires_at: Option<String>,
}

/// `GET /api/v1/zones/{zone}/servers/{server}/response-times`.
#[derive(Debug, Clone, Serialize)]
pub struct ResponseTimesView {
    /// Zone name.
    pub zone: String,
    /// Nameserver name.
    pub server: String,
    /// Minutes asked for.
    pub minutes: u32,
    /// Per-minute points, oldest first.
    pub points: Vec<PointView>,
    /// On a hub: every vantage's per-minute response times (this one's included), by
    /// vantage name; absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vantages: Vec<VantageSeriesView>,
}

/// One vantage's response-time series of a component (a hub).
#[derive(Debug, Clone, Serialize)]
pub struct VantageSeriesView {
    /// The vantage (`[vantage] name`).
    pub vantage: String,
    /// Per-minute points, oldest first; minutes without a record are left out.
    pub points: Vec<VantagePointView>,
}

/// One minute of one vantage's response times.
#[derive(Debug, Clone, Serialize)]
pub struct VantagePointView {
    /// Start of the minute (RFC 3339).
    pub time: String,
    /// Start of the minute (Unix seconds).
    pub timestamp: u64,
    /// Observation records the vantage sent for that minute.
    pub records: u32,
    /// Median of the response times (each the vantage's median over its stats window)
    /// those records carried, ms; null when nothing answered there.
    pub median_ms: Option<f64>,
}

/// Every vantage's response-time series of (`group`, `name`) over the last `minutes`
/// (a hub only; empty otherwise).
pub fn vantage_series(
    inner: &Inner,
    group: &str,
    name: &str,
    now: UnixMs,
    minutes: u32,
) -> Vec<VantageSeriesView> {
    if inner.config.peers.is_empty() {
        return Vec::new();
    }
    inner
        .series
        .of(group, name, now, minutes as usize)
        .into_iter()
        .map(|(v, pts)| VantageSeriesView {
            vantage: v.to_string(),
            points: pts
                .into_iter()
                .map(|p| VantagePointView {
                    time: rfc3339(p.start),
                    timestamp: p.start / 1000,
                    records: p.records,
                    median_ms: p.median_ms,
                })
                .collect(),
        })
        .collect()
}

/// One minute of response-time history.
#[derive(Debug, Clone, Serialize)]
pub struct PointView {
    /// Start of the minute (RFC 3339).
    pub time: String,
    /// Start of the minute (Unix seconds), for charting.
    pub timestamp: u64,
    /// Probes in the minute.
    pub probes: u32,
    /// Failed probes in the minute.
    pub failures: u32,
    /// Share of failed probes (0..1).
    pub loss: f64,
    /// Fastest successful response, ms.
    pub min_ms: Option<f64>,
    /// Median, ms.
    pub median_ms: Option<f64>,
    /// 95th percentile, ms.
    pub p95_ms: Option<f64>,
    /// Slowest, ms.
    pub max_ms: Option<f64>,
}

/// The maintenance window in force (a zone's or a group's `active_maintenance`), as shown.
fn maintenance_view(window: Option<&MaintenanceWindow>) -> Option<MaintenanceView> {
    window.map(|w| MaintenanceView {
        reason: w.reason.clone(),
        start: rfc3339(w.start),
        end: rfc3339(w.end),
    })
}

/// The whole `/api/v1/status` document at `now`.
pub fn status_view(inner: &Inner, now: UnixMs) -> StatusView {
    let mut zones = Vec::new();
    for (entry, zs) in inner.statuses(now) {
        zones.push(zone_view(entry, &zs, now));
    }
    let mut groups: Vec<GroupView> = inner
        .group_statuses(now)
        .into_iter()
        .map(|(g, gs)| group_view(g, &gs, now))
        .collect();
    for z in zones.iter_mut() {
        for s in z.servers.iter_mut() {
            s.vantages = vantage_statuses(inner, &z.component, &s.name, now);
        }
    }
    for g in groups.iter_mut() {
        for c in g.components.iter_mut() {
            c.vantages = vantage_statuses(inner, &g.name, &c.name, now);
        }
    }
    StatusView {
        generated_at: rfc3339(now),
        status: worst(
            zones
                .iter()
                .map(|z| z.status)
                .chain(groups.iter().map(|g| g.status)),
        ),
        ready: inner.all_targets_probed(),
        vantage: inner.vantage_verdict.clone(),
        zones,
        groups,
    }
}

fn group_view(g: &GroupEntry, gs: &status::GroupStatus, now: UnixMs) -> GroupView {
    let name = g.config.name.as_str();
    let components = g
        .components
        .iter()
        .zip(&gs.components)
        .map(|(entry, cs)| {
            let th = entry.state.thresholds();
            let w = entry.state.samples.stats(now, duration_ms(th.stats_window));
            ServiceView {
                id: component_id(&ComponentId::member(name, &cs.name)),
                name: cs.name.clone(),
                status: cs.status,
                reason: cs.reason.clone(),
                since: cs.since.map(rfc3339),
                last_known: cs.last_known,
                window_loss: w.loss(),
                window_loss_low: w.loss_low,
                window_checks: w.samples,
                maintenance: maintenance_view(g.active_maintenance(&cs.name, now)),
                vantages: Vec::new(),
                checks: entry
                    .state
                    .checks
                    .iter()
                    .map(|(key, c)| CheckView {
                        kind: key.kind,
                        target: key.target.clone(),
                        up: c.up,
                        rtt_ms: c.last_rtt.map(|d| d.as_secs_f64() * 1000.0),
                        last_error: c
                            .last_error
                            .as_ref()
                            .map(|e| ErrorView::new(e.reason.as_str(), &e.detail, e.at)),
                        consecutive_failures: c.consecutive_failures,
                        last_check_at: c.last_at.map(rfc3339),
                        facts: c.last_facts.clone(),
                        cert: c.cert.clone(),
                        cert_expires_at: c
                            .cert
                            .as_ref()
                            .and_then(|x| u64::try_from(x.not_after).ok())
                            .map(|t| rfc3339(t.saturating_mul(1000))),
                    })
                    .collect(),
            }
        })
        .collect();
    GroupView {
        id: component_id(&ComponentId::group(name)),
        name: name.to_string(),
        status: gs.group.status,
        reason: gs.group.reason.clone(),
        since: gs.group.since.map(rfc3339),
        maintenance: maintenance_view(g.active_maintenance(name, now)),
        components,
    }
}

fn zone_view(entry: &ZoneEntry, zs: &status::ZoneStatus, now: UnixMs) -> ZoneView {
    let st = &entry.state;
    let mut servers = Vec::new();
    for s in &zs.servers {
        let mut targets = Vec::new();
        let mut serial: Option<u32> = None;
        let mut lag = 0u32;
        let mut lag_ms = 0u64;
        let mut window = None;
        if let Some(server) = st.server(&s.name) {
            window = Some(
                server
                    .samples
                    .stats(now, duration_ms(st.thresholds().stats_window)),
            );
            for (key, t) in &server.targets {
                targets.push(TargetView {
                    address: key.addr.to_string(),
                    transport: key.transport,
                    up: t.up,
                    rtt_ms: t.last_rtt.map(|d| d.as_secs_f64() * 1000.0),
                    serial: t.last_serial,
                    nsid: t.last_nsid.clone(),
                    last_error: t
                        .last_error
                        .as_ref()
                        .map(|e| ErrorView::new(e.kind.as_str(), &e.detail, e.at)),
                    consecutive_failures: t.consecutive_failures,
                    last_probe_at: t.last_at.map(rfc3339),
                    rrsig_expires_at: t
                        .last_rrsig_expiration
                        .map(|e| rfc3339(u64::from(e) * 1000)),
                });
            }
            for a in server.addresses.values() {
                if let Some(sv) = a.serial {
                    serial = Some(match serial {
                        Some(cur) if crate::serial::is_newer(sv, cur) => cur,
                        _ => sv,
                    });
                }
                if let Some(l) = st.lag_of(a, now) {
                    lag = lag.max(l.serials);
                    lag_ms = lag_ms.max(l.ms);
                }
            }
        }
        servers.push(ServerView {
            name: s.name.clone(),
            status: s.status,
            reason: s.reason.clone(),
            since: s.since.map(rfc3339),
            last_known: s.last_known,
            window_loss: window.map_or(0.0, |w| w.loss()),
            window_loss_low: window.map_or(0.0, |w| w.loss_low),
            window_probes: window.map_or(0, |w| w.samples),
            serial,
            lag,
            lag_seconds: lag_ms as f64 / 1000.0,
            maintenance: maintenance_view(entry.active_maintenance(&s.name, now)),
            targets,
            vantages: Vec::new(),
        });
    }
    ZoneView {
        zone: entry.state.zone().to_string(),
        component: zs.group.name.clone(),
        status: zs.group.status,
        reason: zs.group.reason.clone(),
        since: zs.group.since.map(rfc3339),
        serial_rollbacks: st.rollbacks(),
        last_rollback: st.last_rollback().map(|r| RollbackView {
            from: r.from,
            to: r.to,
            at: rfc3339(r.at),
            unserved_seconds: r.unserved_ms as f64 / 1000.0,
        }),
        serial: st.newest_serial(),
        serial_changed_at: st.serial_first_seen().map(rfc3339),
        serial_age_seconds: st.serial_age_ms(now).map(|a| a as f64 / 1000.0),
        stale: zs.stale,
        stale_after_seconds: st.stale_threshold_ms() as f64 / 1000.0,
        publication_interval_seconds: st.learned_gap_ms().map(|g| g as f64 / 1000.0),
        maintenance: maintenance_view(entry.active_maintenance(&zs.group.name, now)),
        servers,
    }
}

/// The response-time series of one server from its per-minute `points` (the store's
/// minutes joined with the history's tail).
pub fn response_times_view(
    entry: &ZoneEntry,
    server: &str,
    minutes: u32,
    points: Vec<MinutePoint>,
) -> ResponseTimesView {
    ResponseTimesView {
        zone: entry.state.zone().to_string(),
        server: server.to_string(),
        minutes,
        points: point_views(points),
        vantages: Vec::new(),
    }
}

/// `GET /api/v1/groups/{group}/components/{component}/response-times`.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceResponseTimesView {
    /// Group name.
    pub group: String,
    /// Component name.
    pub component: String,
    /// Minutes asked for.
    pub minutes: u32,
    /// Per-minute points over every check target of the component, oldest first.
    pub points: Vec<PointView>,
    /// On a hub: every vantage's per-minute response times (this one's included), by
    /// vantage name; absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vantages: Vec<VantageSeriesView>,
}

/// The response-time series of one service component from its per-minute `points`.
pub fn service_response_times_view(
    group: &GroupEntry,
    component: &str,
    minutes: u32,
    points: Vec<MinutePoint>,
) -> ServiceResponseTimesView {
    ServiceResponseTimesView {
        group: group.config.name.clone(),
        component: component.to_string(),
        minutes,
        points: point_views(points),
        vantages: Vec::new(),
    }
}

/// Minute points as the API shows them.
pub fn point_views(points: Vec<MinutePoint>) -> Vec<PointView> {
    points
        .into_iter()
        .map(|p| PointView {
            time: rfc3339(p.start),
            timestamp: p.start / 1000,
            probes: p.probes,
            failures: p.failures,
            loss: if p.probes == 0 {
                0.0
            } else {
                f64::from(p.failures) / f64::from(p.probes)
            },
            min_ms: p.min_ms,
            median_ms: p.median_ms,
            p95_ms: p.p95_ms,
            max_ms: p.max_ms,
        })
        .collect()
}

fn max_age_ms(inner: &Inner) -> u64 {
    u64::try_from(inner.config.vantage.max_age.as_millis()).unwrap_or(u64::MAX)
}

/// Every vantage's newest observation of (`group`, `name`).
fn vantage_statuses(inner: &Inner, group: &str, name: &str, now: UnixMs) -> Vec<VantageStatusView> {
    let max_age = max_age_ms(inner);
    inner
        .views
        .of(group, name)
        .into_iter()
        .map(|r| VantageStatusView {
            vantage: r.vantage.clone(),
            status: r.status,
            reason: r.reason.clone(),
            at: rfc3339(r.at),
            age_seconds: now.saturating_sub(r.at) as f64 / 1000.0,
            fresh: now.saturating_sub(r.at) <= max_age,
            rtt_ms: r.rtt_ms,
            serial: r.serial,
        })
        .collect()
}

/// `GET /api/v1/vantages`.
pub fn vantages_view(inner: &Inner, now: UnixMs) -> VantagesView {
    let max_age = max_age_ms(inner);
    let newest: std::collections::BTreeMap<&str, Option<UnixMs>> =
        inner.views.vantages().into_iter().collect();
    let fresh = |name: Option<&str>| {
        name.and_then(|n| newest.get(n).copied().flatten())
            .is_some_and(|at| now.saturating_sub(at) <= max_age)
    };
    let last = |name: Option<&str>| {
        name.and_then(|n| newest.get(n).copied().flatten())
            .map(rfc3339)
    };
    let own = inner.config.vantage.name.as_str();
    let mut vantages = vec![VantageHealthView {
        name: Some(own.to_string()),
        location: inner.config.vantage.location.clone(),
        url: "self".to_string(),
        up: true,
        fresh: fresh(Some(own)),
        last_observation: last(Some(own)),
        last_success: None,
        error: None,
        pulls: 0,
        failures: 0,
        bytes: 0,
        records: 0,
    }];
    for p in &inner.peers {
        let name = p.vantage.as_deref();
        vantages.push(VantageHealthView {
            name: p.vantage.clone(),
            location: p.location.clone(),
            url: p.url.clone(),
            up: p.up,
            fresh: fresh(name),
            last_observation: last(name),
            last_success: p.last_success.map(rfc3339),
            error: p.error.clone(),
            pulls: p.pulls,
            failures: p.failures,
            bytes: p.bytes,
            records: p.records,
        });
    }
    let mut newest_serials = std::collections::BTreeMap::new();
    for z in inner.zones.values() {
        let mut best = z.state.newest_serial();
        for ns in &z.config.nameservers {
            for r in inner.views.of(&z.config.component, &ns.name) {
                if now.saturating_sub(r.at) > max_age {
                    continue;
                }
                if let Some(s) = r.serial {
                    best = match best {
                        Some(b) if !crate::serial::is_newer(s, b) => Some(b),
                        _ => Some(s),
                    };
                }
            }
        }
        if let Some(b) = best {
            newest_serials.insert(z.state.zone().to_string(), b);
        }
    }
    VantagesView {
        name: own.to_string(),
        location: inner.config.vantage.location.clone(),
        hub: !inner.config.peers.is_empty(),
        quorum: inner.config.vantage.quorum,
        max_age_seconds: max_age as f64 / 1000.0,
        newest_serials,
        vantages,
    }
}
