//! Prometheus metrics.
//!
//! Counters and histograms are updated as probe reports arrive (with per-target
//! handles cached, so the hot path does no label lookups); gauges are rebuilt
//! from the zone state at scrape time, so series of targets that disappeared
//! vanish with them.
//! [`FAMILIES`] is the contract: the names, types and labels nsprobe exports. The
//! dashboard and alert-rule tests check their queries against it, and a test checks
//! that the real exposition matches it.

/// Metric type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A counter (`_total`).
    Counter,
    /// A gauge.
    Gauge,
    /// A histogram (`_bucket`, `_sum`, `_count`).
    Histogram,
}

/// One metric family nsprobe exports.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// Full metric name.
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// Label names, in order.
    pub labels: &'static [&'static str],
    /// HELP text.
    pub help: &'static str,
}

const TARGET: &[&str] = &["zone", "server", "address", "transport"];
const ADDRESS: &[&str] = &["zone", "server", "address"];

/// Every metric family nsprobe exports.
pub const FAMILIES: &[Family] = &[
    Family { name: "nsprobe_probe_duration_seconds", kind: Kind::Histogram, labels: TARGET, help: "Response time of successful SOA probes (TCP includes connect)." },
    Family { name: "nsprobe_probes_total", kind: Kind::Counter, labels: &["zone", "server", "address", "transport", "result"], help: "SOA probes by result: ok or a failure reason." },
    Family { name: "nsprobe_target_up", kind: Kind::Gauge, labels: TARGET, help: "1 if the target is up (hysteresis applied), 0 if down." },
    Family { name: "nsprobe_server_soa_serial", kind: Kind::Gauge, labels: ADDRESS, help: "Latest SOA serial answered by this server address." },
    Family { name: "nsprobe_zone_soa_serial", kind: Kind::Gauge, labels: &["zone"], help: "Newest SOA serial seen on any server of the zone (RFC 1982)." },
    Family { name: "nsprobe_zone_serial_last_change_timestamp_seconds", kind: Kind::Gauge, labels: &["zone"], help: "When the zone's newest serial was first seen (Unix time)." },
    Family { name: "nsprobe_zone_serial_age_seconds", kind: Kind::Gauge, labels: &["zone"], help: "Age of the zone's newest serial." },
    Family { name: "nsprobe_zone_stale", kind: Kind::Gauge, labels: &["zone"], help: "1 if the zone's newest serial is older than its staleness threshold." },
    Family { name: "nsprobe_zone_stale_threshold_seconds", kind: Kind::Gauge, labels: &["zone"], help: "Serial age above which the zone counts as stale (fixed or learned)." },
    Family { name: "nsprobe_server_serial_lag", kind: Kind::Gauge, labels: ADDRESS, help: "How far this server address is behind the zone's newest serial, in serial units." },
    Family { name: "nsprobe_server_serial_lag_seconds", kind: Kind::Gauge, labels: ADDRESS, help: "How long this server address has been behind the zone's newest serial." },
    Family { name: "nsprobe_zone_lag_threshold_seconds", kind: Kind::Gauge, labels: &["zone"], help: "How long a server may stay behind the zone's newest serial before it counts as lagging (lag_after)." },
    Family { name: "nsprobe_serial_propagation_seconds", kind: Kind::Histogram, labels: &["zone", "server"], help: "Time from the first server showing a new serial to this server showing it." },
    Family { name: "nsprobe_serial_regressions_total", kind: Kind::Counter, labels: ADDRESS, help: "Times this server address answered a serial older (RFC 1982) than it had before." },
    Family { name: "nsprobe_soa_rrsig_expiration_timestamp_seconds", kind: Kind::Gauge, labels: ADDRESS, help: "Expiration time of the RRSIG covering the SOA (Unix time), when DNSSEC is requested." },
    Family { name: "nsprobe_server_addresses", kind: Kind::Gauge, labels: &["zone", "server"], help: "Number of addresses currently probed for this nameserver." },
    Family { name: "nsprobe_resolve_failures_total", kind: Kind::Counter, labels: &["server"], help: "Failed resolutions of a nameserver name (last known addresses are kept)." },
    Family { name: "nsprobe_component_status", kind: Kind::Gauge, labels: &["component", "group", "status"], help: "Status-page component status: 1 for the current status, 0 for the others. group is empty for a group component." },
    Family { name: "nsprobe_maintenance", kind: Kind::Gauge, labels: &["component"], help: "1 while the component is in a declared maintenance window." },
    Family { name: "nsprobe_nsid_info", kind: Kind::Gauge, labels: &["zone", "server", "address", "nsid"], help: "Latest NSID answered by this server address (value always 1)." },
    Family { name: "nsprobe_schedule_slip_seconds", kind: Kind::Histogram, labels: &[], help: "How late probes start compared with their planned time." },
    Family { name: "nsprobe_build_info", kind: Kind::Gauge, labels: &["version"], help: "nsprobe build information (value always 1)." },
    Family { name: "nsprobe_config_last_reload_successful", kind: Kind::Gauge, labels: &[], help: "1 if the last configuration (re)load succeeded." },
    Family { name: "nsprobe_config_last_reload_success_timestamp_seconds", kind: Kind::Gauge, labels: &[], help: "When the configuration was last loaded successfully (Unix time)." },
];

/// Histogram buckets for DNS response times, 100 µs … 5 s.
pub const DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Histogram buckets for schedule slip, 10 µs … 1 s.
pub const SLIP_BUCKETS: &[f64] = &[
    0.00001, 0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0,
];

/// Histogram buckets for serial propagation delay, 1 s … 2 h.
pub const PROPAGATION_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
];

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    Opts, Registry, TextEncoder,
};

use crate::probe::FailureKind;
use crate::scheduler::Target;
use crate::state::{Event, Observation, TargetKey};
use crate::UnixMs;

fn spec(name: &str) -> &'static Family {
    FAMILIES
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("metric family {name} missing from FAMILIES"))
}

fn gauge_vec(reg: &Registry, name: &str) -> GaugeVec {
    let f = spec(name);
    let g = GaugeVec::new(Opts::new(f.name, f.help), f.labels).expect("valid gauge family");
    reg.register(Box::new(g.clone()))
        .expect("unique metric name");
    g
}

fn counter_vec(reg: &Registry, name: &str) -> IntCounterVec {
    let f = spec(name);
    let c = IntCounterVec::new(Opts::new(f.name, f.help), f.labels).expect("valid counter family");
    reg.register(Box::new(c.clone()))
        .expect("unique metric name");
    c
}

fn histogram_vec(reg: &Registry, name: &str, buckets: &[f64]) -> HistogramVec {
    let f = spec(name);
    let h = HistogramVec::new(
        HistogramOpts::new(f.name, f.help).buckets(buckets.to_vec()),
        f.labels,
    )
    .expect("valid histogram family");
    reg.register(Box::new(h.clone()))
        .expect("unique metric name");
    h
}

/// Cached handles of one target's per-probe series.
#[derive(Debug)]
struct TargetHandles {
    duration: Histogram,
    ok: IntCounter,
    failures: [IntCounter; FailureKind::ALL.len()],
}

/// Label values of a target: zone, server, address, transport.
fn target_labels(zone: &str, key: &TargetKey) -> [String; 4] {
    [
        zone.to_string(),
        key.server.clone(),
        key.addr.to_string(),
        key.transport.as_str().to_string(),
    ]
}

/// Every metric nsprobe exports, registered in its own registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `nsprobe_probe_duration_seconds`.
    pub probe_duration: HistogramVec,
    /// `nsprobe_probes_total`.
    pub probes_total: IntCounterVec,
    /// `nsprobe_target_up`.
    pub target_up: GaugeVec,
    /// `nsprobe_server_soa_serial`.
    pub server_serial: GaugeVec,
    /// `nsprobe_zone_soa_serial`.
    pub zone_serial: GaugeVec,
    /// `nsprobe_zone_serial_last_change_timestamp_seconds`.
    pub zone_serial_changed: GaugeVec,
    /// `nsprobe_zone_serial_age_seconds`.
    pub zone_serial_age: GaugeVec,
    /// `nsprobe_zone_stale`.
    pub zone_stale: GaugeVec,
    /// `nsprobe_zone_stale_threshold_seconds`.
    pub zone_stale_threshold: GaugeVec,
    /// `nsprobe_server_serial_lag`.
    pub server_lag: GaugeVec,
    /// `nsprobe_zone_lag_threshold_seconds`.
    pub zone_lag_threshold: GaugeVec,
    /// `nsprobe_server_serial_lag_seconds`.
    pub server_lag_seconds: GaugeVec,
    /// `nsprobe_serial_propagation_seconds`.
    pub propagation: HistogramVec,
    /// `nsprobe_serial_regressions_total`.
    pub regressions: IntCounterVec,
    /// `nsprobe_soa_rrsig_expiration_timestamp_seconds`.
    pub rrsig_expiration: GaugeVec,
    /// `nsprobe_server_addresses`.
    pub server_addresses: GaugeVec,
    /// `nsprobe_resolve_failures_total`.
    pub resolve_failures: IntCounterVec,
    /// `nsprobe_component_status`.
    pub component_status: GaugeVec,
    /// `nsprobe_maintenance`.
    pub maintenance: GaugeVec,
    /// `nsprobe_nsid_info`.
    pub nsid_info: GaugeVec,
    /// `nsprobe_schedule_slip_seconds`.
    pub schedule_slip: Histogram,
    /// `nsprobe_config_last_reload_successful`.
    pub reload_ok: Gauge,
    /// `nsprobe_config_last_reload_success_timestamp_seconds`.
    pub reload_timestamp: Gauge,
    handles: Mutex<HashMap<String, HashMap<TargetKey, TargetHandles>>>,
    /// Label values of the event-driven series (propagation: zone, server;
    /// regressions: zone, server, address), so they can be dropped with their targets.
    event_series: Mutex<EventSeries>,
}

/// Label values of the series created by [`Metrics::event`].
#[derive(Debug, Default)]
struct EventSeries {
    propagation: HashSet<(String, String)>,
    regressions: HashSet<(String, String, String)>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Register every family of [`FAMILIES`] in a fresh registry.
    pub fn new() -> Self {
        let r = Registry::new();
        let build = gauge_vec(&r, "nsprobe_build_info");
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1.0);
        let plain_gauge = |name: &str| {
            let f = spec(name);
            let g = Gauge::new(f.name, f.help).expect("valid gauge");
            r.register(Box::new(g.clone())).expect("unique metric name");
            g
        };
        let slip_spec = spec("nsprobe_schedule_slip_seconds");
        let schedule_slip = Histogram::with_opts(
            HistogramOpts::new(slip_spec.name, slip_spec.help).buckets(SLIP_BUCKETS.to_vec()),
        )
        .expect("valid histogram");
        r.register(Box::new(schedule_slip.clone()))
            .expect("unique metric name");
        Metrics {
            probe_duration: histogram_vec(&r, "nsprobe_probe_duration_seconds", DURATION_BUCKETS),
            probes_total: counter_vec(&r, "nsprobe_probes_total"),
            target_up: gauge_vec(&r, "nsprobe_target_up"),
            server_serial: gauge_vec(&r, "nsprobe_server_soa_serial"),
            zone_serial: gauge_vec(&r, "nsprobe_zone_soa_serial"),
            zone_serial_changed: gauge_vec(&r, "nsprobe_zone_serial_last_change_timestamp_seconds"),
            zone_serial_age: gauge_vec(&r, "nsprobe_zone_serial_age_seconds"),
            zone_stale: gauge_vec(&r, "nsprobe_zone_stale"),
            zone_stale_threshold: gauge_vec(&r, "nsprobe_zone_stale_threshold_seconds"),
            server_lag: gauge_vec(&r, "nsprobe_server_serial_lag"),
            zone_lag_threshold: gauge_vec(&r, "nsprobe_zone_lag_threshold_seconds"),
            server_lag_seconds: gauge_vec(&r, "nsprobe_server_serial_lag_seconds"),
            propagation: histogram_vec(
                &r,
                "nsprobe_serial_propagation_seconds",
                PROPAGATION_BUCKETS,
            ),
            regressions: counter_vec(&r, "nsprobe_serial_regressions_total"),
            rrsig_expiration: gauge_vec(&r, "nsprobe_soa_rrsig_expiration_timestamp_seconds"),
            server_addresses: gauge_vec(&r, "nsprobe_server_addresses"),
            resolve_failures: counter_vec(&r, "nsprobe_resolve_failures_total"),
            component_status: gauge_vec(&r, "nsprobe_component_status"),
            maintenance: gauge_vec(&r, "nsprobe_maintenance"),
            nsid_info: gauge_vec(&r, "nsprobe_nsid_info"),
            schedule_slip,
            reload_ok: plain_gauge("nsprobe_config_last_reload_successful"),
            reload_timestamp: plain_gauge("nsprobe_config_last_reload_success_timestamp_seconds"),
            handles: Mutex::new(HashMap::new()),
            event_series: Mutex::new(EventSeries::default()),
            registry: r,
        }
    }

    fn with_handles<R>(
        &self,
        zone: &str,
        key: &TargetKey,
        f: impl FnOnce(&TargetHandles) -> R,
    ) -> R {
        let mut map = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        // Borrowed lookups: no allocation once the target's handles exist.
        if let Some(h) = map.get(zone).and_then(|m| m.get(key)) {
            return f(h);
        }
        let l = target_labels(zone, key);
        let lr: [&str; 4] = [&l[0], &l[1], &l[2], &l[3]];
        let counter = |result: &str| {
            self.probes_total
                .with_label_values(&[lr[0], lr[1], lr[2], lr[3], result])
        };
        let h = TargetHandles {
            duration: self.probe_duration.with_label_values(&lr),
            ok: counter("ok"),
            failures: FailureKind::ALL.map(|k| counter(k.as_str())),
        };
        let r = f(&h);
        map.entry(zone.to_string())
            .or_default()
            .insert(key.clone(), h);
        r
    }

    /// Count one probe result (and its response time when it succeeded).
    pub fn observe(&self, zone: &str, obs: &Observation, slip: Duration) {
        self.schedule_slip.observe(slip.as_secs_f64());
        self.with_handles(zone, &obs.key, |h| match &obs.outcome {
            Ok(a) => {
                h.duration.observe(a.rtt.as_secs_f64());
                h.ok.inc();
            }
            Err(f) => {
                let i = FailureKind::ALL
                    .iter()
                    .position(|k| *k == f.kind)
                    .unwrap_or(0);
                h.failures[i].inc();
            }
        });
    }

    /// Feed a zone-state event into the histograms and counters it drives.
    pub fn event(&self, zone: &str, ev: &Event) {
        match ev {
            Event::Propagated {
                server, delay_ms, ..
            } => {
                self.propagation
                    .with_label_values(&[zone, server.as_str()])
                    .observe(*delay_ms as f64 / 1000.0);
                self.event_series()
                    .propagation
                    .insert((zone.to_string(), server.clone()));
            }
            Event::SerialRegression { key, .. } => {
                let addr = key.addr.to_string();
                self.regressions
                    .with_label_values(&[zone, key.server.as_str(), &addr])
                    .inc();
                self.event_series().regressions.insert((
                    zone.to_string(),
                    key.server.clone(),
                    addr,
                ));
            }
            _ => {}
        }
    }

    fn event_series(&self) -> std::sync::MutexGuard<'_, EventSeries> {
        self.event_series.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Count a failed resolution of a nameserver name.
    pub fn resolve_failure(&self, server: &str) {
        self.resolve_failures.with_label_values(&[server]).inc();
    }

    /// Record the outcome of a config (re)load at `now`.
    pub fn set_reload(&self, ok: bool, now: UnixMs) {
        self.reload_ok.set(if ok { 1.0 } else { 0.0 });
        if ok {
            self.reload_timestamp.set(now as f64 / 1000.0);
        }
    }

    /// Drop the per-probe series of targets that are no longer scheduled, and the
    /// propagation and regression series of servers and addresses no longer probed.
    pub fn retain_targets(&self, targets: &[Target]) {
        let keep: HashSet<(&str, &TargetKey)> =
            targets.iter().map(|t| (&*t.zone, &t.key)).collect();
        {
            let servers: HashSet<(&str, &str)> = targets
                .iter()
                .map(|t| (&*t.zone, t.key.server.as_str()))
                .collect();
            let addresses: HashSet<(&str, &str, String)> = targets
                .iter()
                .map(|t| (&*t.zone, t.key.server.as_str(), t.key.addr.to_string()))
                .collect();
            let mut ev = self.event_series();
            ev.propagation.retain(|(zone, server)| {
                let kept = servers.contains(&(zone.as_str(), server.as_str()));
                if !kept {
                    let _ = self.propagation.remove_label_values(&[zone, server]);
                }
                kept
            });
            ev.regressions.retain(|(zone, server, addr)| {
                let kept = addresses.contains(&(zone.as_str(), server.as_str(), addr.clone()));
                if !kept {
                    let _ = self.regressions.remove_label_values(&[zone, server, addr]);
                }
                kept
            });
        }
        let mut map = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        for (zone, per_zone) in map.iter_mut() {
            per_zone.retain(|key, _| {
                if keep.contains(&(zone.as_str(), key)) {
                    return true;
                }
                let l = target_labels(zone, key);
                let lr: [&str; 4] = [&l[0], &l[1], &l[2], &l[3]];
                let _ = self.probe_duration.remove_label_values(&lr);
                let results =
                    std::iter::once("ok").chain(FailureKind::ALL.iter().map(|k| k.as_str()));
                for result in results {
                    let _ = self
                        .probes_total
                        .remove_label_values(&[lr[0], lr[1], lr[2], lr[3], result]);
                }
                false
            });
        }
        map.retain(|_, per_zone| !per_zone.is_empty());
    }

    /// Encode every family in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut buf = Vec::new();
        let enc = TextEncoder::new();
        if let Err(e) = enc.encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Rebuild every gauge from the daemon's state at `now` (called at scrape time).
///
/// Gauges are reset first, so series of removed targets, servers and zones vanish.
pub fn refresh(m: &Metrics, inner: &crate::daemon::Inner, now: UnixMs) {
    use crate::status::{self, Status};
    for g in [
        &m.target_up,
        &m.server_serial,
        &m.zone_serial,
        &m.zone_serial_changed,
        &m.zone_serial_age,
        &m.zone_stale,
        &m.zone_stale_threshold,
        &m.zone_lag_threshold,
        &m.server_lag,
        &m.server_lag_seconds,
        &m.rrsig_expiration,
        &m.server_addresses,
        &m.component_status,
        &m.maintenance,
        &m.nsid_info,
    ] {
        g.reset();
    }
    let set_status = |component: &str, group: &str, current: Status| {
        for s in Status::ALL {
            m.component_status
                .with_label_values(&[component, group, s.as_str()])
                .set(if s == current { 1.0 } else { 0.0 });
        }
        let in_maintenance =
            status::active_maintenance(component, &inner.config.maintenance, now).is_some();
        m.maintenance
            .with_label_values(&[component])
            .set(if in_maintenance { 1.0 } else { 0.0 });
    };
    for (entry, zs) in inner.statuses(now) {
        let st = &entry.state;
        let zone = st.zone();
        set_status(&zs.group.name, "", zs.group.status);
        for s in &zs.servers {
            set_status(&s.name, &zs.group.name, s.status);
        }
        if let Some(serial) = st.newest_serial() {
            m.zone_serial
                .with_label_values(&[zone])
                .set(f64::from(serial));
        }
        if let Some(t) = st.serial_first_seen() {
            m.zone_serial_changed
                .with_label_values(&[zone])
                .set(t as f64 / 1000.0);
        }
        if let Some(age) = st.serial_age_ms(now) {
            m.zone_serial_age
                .with_label_values(&[zone])
                .set(age as f64 / 1000.0);
        }
        m.zone_stale
            .with_label_values(&[zone])
            .set(if zs.stale { 1.0 } else { 0.0 });
        m.zone_stale_threshold
            .with_label_values(&[zone])
            .set(st.stale_threshold_ms() as f64 / 1000.0);
        m.zone_lag_threshold
            .with_label_values(&[zone])
            .set(st.thresholds().lag_after.as_secs_f64());
        for (name, server) in st.servers() {
            for (key, t) in &server.targets {
                if let Some(up) = t.up {
                    let addr = key.addr.to_string();
                    m.target_up
                        .with_label_values(&[zone, name, &addr, key.transport.as_str()])
                        .set(if up { 1.0 } else { 0.0 });
                }
            }
            for (addr, a) in &server.addresses {
                let addr = addr.to_string();
                let labels = [zone, name.as_str(), addr.as_str()];
                if let Some(serial) = a.serial {
                    m.server_serial
                        .with_label_values(&labels)
                        .set(f64::from(serial));
                }
                if let Some(lag) = st.lag_of(a, now) {
                    m.server_lag
                        .with_label_values(&labels)
                        .set(f64::from(lag.serials));
                    m.server_lag_seconds
                        .with_label_values(&labels)
                        .set(lag.ms as f64 / 1000.0);
                }
                if let Some(exp) = a.rrsig_expiration {
                    m.rrsig_expiration
                        .with_label_values(&labels)
                        .set(f64::from(exp));
                }
                if let Some(nsid) = &a.nsid {
                    m.nsid_info
                        .with_label_values(&[zone, name, &addr, nsid])
                        .set(1.0);
                }
            }
        }
        for ns in &entry.config.nameservers {
            let n = inner.addresses.get(&ns.name).map_or(0, |a| a.addrs.len());
            m.server_addresses
                .with_label_values(&[zone, &ns.name])
                .set(n as f64);
        }
    }
}
