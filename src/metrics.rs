//! Prometheus metrics.
//!
//! Everything about targets, servers and zones — probe counters and response-time
//! histograms included — lives in the zone state; [`render`] writes it in the
//! Prometheus text format at scrape time in one pass, so the probe hot path does
//! no metric work at all and series of removed targets vanish with them. The few
//! daemon-level families that no zone state holds (schedule slip, propagation
//! delay, resolution failures, reloads, build info) live in a `prometheus`
//! registry and are appended to the same exposition.
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
    Family { name: "nsprobe_zone_serial_rollbacks_total", kind: Kind::Counter, labels: &["zone"], help: "Zone-wide rollbacks: every responding server served an older serial than the zone's newest for rollback_after, so the zone re-baselined to the newest served." },
    Family { name: "nsprobe_vantage_up", kind: Kind::Gauge, labels: &[], help: "0 when the canaries fail together with the monitored servers (nsprobe's own network is down; statuses are held), else 1. Always 1 without canaries." },
    Family { name: "nsprobe_canary_up", kind: Kind::Gauge, labels: &["canary", "address", "transport"], help: "1 if the vantage canary answers (any DNS answer), 0 if it is unreachable (hysteresis applied)." },
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

/// Histogram buckets for DNS response times, 100 µs … 5 s (owned by the zone state).
pub const DURATION_BUCKETS: &[f64] = &crate::state::RTT_BUCKETS;

/// Histogram buckets for schedule slip, 10 µs … 1 s.
pub const SLIP_BUCKETS: &[f64] = &[
    0.00001, 0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0,
];

/// Histogram buckets for serial propagation delay, 1 s … 2 h.
pub const PROPAGATION_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
];

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts,
    Registry, TextEncoder,
};

use crate::daemon::Inner;
use crate::probe::FailureKind;
use crate::scheduler::Target;
use crate::state::Event;
use crate::status::{self, Status};
use crate::UnixMs;

fn spec(name: &str) -> &'static Family {
    FAMILIES
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("metric family {name} missing from FAMILIES"))
}

/// Families kept in the `prometheus` registry; every other family is rendered from state.
const REGISTRY_FAMILIES: &[&str] = &[
    "nsprobe_serial_propagation_seconds",
    "nsprobe_resolve_failures_total",
    "nsprobe_schedule_slip_seconds",
    "nsprobe_build_info",
    "nsprobe_config_last_reload_successful",
    "nsprobe_config_last_reload_success_timestamp_seconds",
];

fn register<C: prometheus::core::Collector + Clone + 'static>(reg: &Registry, c: C) -> C {
    reg.register(Box::new(c.clone()))
        .expect("unique metric name");
    c
}

/// The daemon-level metrics no zone state holds, in their own registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `nsprobe_serial_propagation_seconds`.
    pub propagation: HistogramVec,
    /// `nsprobe_resolve_failures_total`.
    pub resolve_failures: IntCounterVec,
    /// `nsprobe_schedule_slip_seconds`.
    pub schedule_slip: Histogram,
    /// `nsprobe_config_last_reload_successful`.
    pub reload_ok: Gauge,
    /// `nsprobe_config_last_reload_success_timestamp_seconds`.
    pub reload_timestamp: Gauge,
    /// (zone, server) pairs with a propagation series, to drop those of removed servers.
    propagation_series: Mutex<HashSet<(String, String)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Register the daemon-level families in a fresh registry.
    pub fn new() -> Self {
        let r = Registry::new();
        let f = spec("nsprobe_build_info");
        let build = register(
            &r,
            GaugeVec::new(Opts::new(f.name, f.help), f.labels).expect("valid gauge"),
        );
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1.0);
        let gauge = |name: &str| {
            let f = spec(name);
            register(&r, Gauge::new(f.name, f.help).expect("valid gauge"))
        };
        let f = spec("nsprobe_serial_propagation_seconds");
        let propagation = HistogramVec::new(
            HistogramOpts::new(f.name, f.help).buckets(PROPAGATION_BUCKETS.to_vec()),
            f.labels,
        )
        .expect("valid histogram");
        let f = spec("nsprobe_resolve_failures_total");
        let resolve_failures =
            IntCounterVec::new(Opts::new(f.name, f.help), f.labels).expect("valid counter");
        let f = spec("nsprobe_schedule_slip_seconds");
        let schedule_slip =
            Histogram::with_opts(HistogramOpts::new(f.name, f.help).buckets(SLIP_BUCKETS.to_vec()))
                .expect("valid histogram");
        Metrics {
            propagation: register(&r, propagation),
            resolve_failures: register(&r, resolve_failures),
            schedule_slip: register(&r, schedule_slip),
            reload_ok: gauge("nsprobe_config_last_reload_successful"),
            reload_timestamp: gauge("nsprobe_config_last_reload_success_timestamp_seconds"),
            propagation_series: Mutex::new(HashSet::new()),
            registry: r,
        }
    }

    /// Record how late a probe started compared with its plan.
    pub fn observe_slip(&self, slip: Duration) {
        self.schedule_slip.observe(slip.as_secs_f64());
    }

    /// Feed a zone-state event into the histograms it drives.
    pub fn event(&self, zone: &str, ev: &Event) {
        if let Event::Propagated {
            server, delay_ms, ..
        } = ev
        {
            self.propagation
                .with_label_values(&[zone, server.as_str()])
                .observe(*delay_ms as f64 / 1000.0);
            self.propagation_series
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((zone.to_string(), server.clone()));
        }
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

    /// Drop the propagation series of servers that are no longer probed (the
    /// per-target series are rendered from state and vanish by themselves).
    pub fn retain_targets(&self, targets: &[Target]) {
        let servers: HashSet<(&str, &str)> = targets
            .iter()
            .map(|t| (&*t.zone, t.key.server.as_str()))
            .collect();
        self.propagation_series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(zone, server)| {
                let kept = servers.contains(&(zone.as_str(), server.as_str()));
                if !kept {
                    let _ = self.propagation.remove_label_values(&[zone, server]);
                }
                kept
            });
    }

    /// The registry's families in the text format.
    fn encode_registry(&self, out: &mut String) {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out.push_str(&String::from_utf8_lossy(&buf));
    }
}

/// Writes the Prometheus text exposition format (version 0.0.4).
struct Exposition {
    out: String,
}

impl Exposition {
    /// `# HELP` and `# TYPE` of a family from [`FAMILIES`].
    fn header(&mut self, name: &str) {
        let f = spec(name);
        let kind = match f.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let help = f.help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample: `name{k="v",…} value`. Label values are escaped.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl SampleValue) {
        let labels = label_set(labels);
        self.sample_with(name, &labels, None, value);
    }

    /// One sample with a pre-rendered label set (from [`label_set`]) and optionally
    /// one more label appended (a histogram's `le`).
    fn sample_with(
        &mut self,
        name: &str,
        labels: &str,
        extra: Option<(&str, &str)>,
        value: impl SampleValue,
    ) {
        self.out.push_str(name);
        if !labels.is_empty() || extra.is_some() {
            self.out.push('{');
            self.out.push_str(labels);
            if let Some((k, v)) = extra {
                if !labels.is_empty() {
                    self.out.push(',');
                }
                push_label(&mut self.out, k, v);
            }
            self.out.push('}');
        }
        self.out.push(' ');
        value.write_to(&mut self.out);
        self.out.push('\n');
    }
}

/// A sample value: integers (counts, serials, flags) are written with `itoa`, the
/// common case on the hot path of a scrape; floats with `Display`.
trait SampleValue {
    fn write_to(self, out: &mut String);
}

macro_rules! int_sample_value {
    ($($t:ty),*) => {$(
        impl SampleValue for $t {
            fn write_to(self, out: &mut String) {
                out.push_str(itoa::Buffer::new().format(self));
            }
        }
    )*};
}
int_sample_value!(u8, u32, u64, usize);

impl SampleValue for f64 {
    fn write_to(self, out: &mut String) {
        if self.is_nan() {
            out.push_str("NaN");
        } else if self.is_infinite() {
            out.push_str(if self > 0.0 { "+Inf" } else { "-Inf" });
        } else {
            let _ = write!(out, "{self}");
        }
    }
}

/// `k="v"` with the value escaped as the text format requires.
fn push_label(out: &mut String, k: &str, v: &str) {
    out.push_str(k);
    out.push_str("=\"");
    if !v.contains(['\\', '"', '\n']) {
        out.push_str(v);
        out.push('"');
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A rendered label set without braces: `k1="v1",k2="v2"`.
fn label_set(labels: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_label(&mut s, k, v);
    }
    s
}

/// The `le` label values of [`DURATION_BUCKETS`], as the text format writes them.
const DURATION_LE: [&str; 15] = [
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "5",
];

fn flag(b: bool) -> u8 {
    u8::from(b)
}

/// The whole `/metrics` document: every family of [`FAMILIES`], rendered from the
/// daemon's state at `now` plus the registry's daemon-level families.
pub fn render(m: &Metrics, inner: &Inner, now: UnixMs) -> String {
    let targets: usize = inner
        .zones
        .values()
        .flat_map(|z| z.state.servers().values())
        .map(|s| s.targets.len())
        .sum();
    let mut e = Exposition {
        out: String::with_capacity(4096 + targets * 3800),
    };
    let statuses = inner.statuses(now);
    // Label sets are rendered once per scrape: formatting addresses is the most
    // expensive part of a line, and every target appears in several families.
    let labelled: Vec<Labelled> = statuses
        .iter()
        .map(|(entry, _)| Labelled::new(&entry.state))
        .collect();
    for family in FAMILIES {
        let name = family.name;
        if REGISTRY_FAMILIES.contains(&name) {
            continue;
        }
        e.header(name);
        match name {
            "nsprobe_vantage_up" => {
                e.sample(name, &[], flag(inner.vantage_verdict.up));
                continue;
            }
            "nsprobe_canary_up" => {
                for (k, c) in inner.vantage.canaries() {
                    if let Some(up) = c.up {
                        let addr = k.addr.to_string();
                        let labels = [
                            ("address", addr.as_str()),
                            ("canary", k.server.as_str()),
                            ("transport", k.transport.as_str()),
                        ];
                        e.sample(name, &labels, flag(up));
                    }
                }
                continue;
            }
            _ => {}
        }
        for ((entry, zs), labelled) in statuses.iter().zip(&labelled) {
            let st = &entry.state;
            let zone = st.zone();
            let z = [("zone", zone)];
            match name {
                "nsprobe_zone_soa_serial" => {
                    if let Some(serial) = st.newest_serial() {
                        e.sample(name, &z, serial);
                    }
                }
                "nsprobe_zone_serial_last_change_timestamp_seconds" => {
                    if let Some(t) = st.serial_first_seen() {
                        e.sample(name, &z, t as f64 / 1000.0);
                    }
                }
                "nsprobe_zone_serial_age_seconds" => {
                    if let Some(age) = st.serial_age_ms(now) {
                        e.sample(name, &z, age as f64 / 1000.0);
                    }
                }
                "nsprobe_zone_stale" => e.sample(name, &z, flag(zs.stale)),
                "nsprobe_zone_serial_rollbacks_total" => e.sample(name, &z, st.rollbacks()),
                "nsprobe_zone_stale_threshold_seconds" => {
                    e.sample(name, &z, st.stale_threshold_ms() as f64 / 1000.0)
                }
                "nsprobe_zone_lag_threshold_seconds" => {
                    e.sample(name, &z, st.thresholds().lag_after.as_secs_f64())
                }
                "nsprobe_server_addresses" => {
                    for ns in &entry.config.nameservers {
                        let n = inner.addresses.get(&ns.name).map_or(0, |a| a.addrs.len());
                        e.sample(name, &[("server", &ns.name), ("zone", zone)], n);
                    }
                }
                "nsprobe_component_status" | "nsprobe_maintenance" => {
                    let group = zs.group.name.as_str();
                    let components = std::iter::once((&zs.group, ""))
                        .chain(zs.servers.iter().map(|s| (s, group)));
                    for (c, parent) in components {
                        if name == "nsprobe_maintenance" {
                            let on =
                                status::active_maintenance(&c.name, &inner.config.maintenance, now)
                                    .is_some();
                            e.sample(name, &[("component", &c.name)], flag(on));
                            continue;
                        }
                        for s in Status::ALL {
                            let labels = [
                                ("component", c.name.as_str()),
                                ("group", parent),
                                ("status", s.as_str()),
                            ];
                            e.sample(name, &labels, flag(s == c.status));
                        }
                    }
                }
                _ => render_server_family(&mut e, name, st, labelled, now),
            }
        }
    }
    m.encode_registry(&mut e.out);
    e.out
}

/// One zone's targets and addresses with their label sets rendered once per scrape.
struct Labelled<'a> {
    /// Target state and `address="…",server="…",transport="…",zone="…"`.
    targets: Vec<(&'a crate::state::TargetState, String)>,
    /// Address state and `address="…",server="…",zone="…"`.
    addresses: Vec<(&'a crate::state::AddressState, String)>,
}

impl<'a> Labelled<'a> {
    fn new(st: &'a crate::state::ZoneState) -> Labelled<'a> {
        let zone = st.zone();
        let mut targets = Vec::new();
        let mut addresses = Vec::new();
        for (server, ss) in st.servers() {
            for (addr, a) in &ss.addresses {
                let addr = addr.to_string();
                let set = label_set(&[("address", &addr), ("server", server), ("zone", zone)]);
                addresses.push((a, set));
            }
            for (key, t) in &ss.targets {
                let addr = key.addr.to_string();
                let set = label_set(&[
                    ("address", &addr),
                    ("server", server),
                    ("transport", key.transport.as_str()),
                    ("zone", zone),
                ]);
                targets.push((t, set));
            }
        }
        Labelled { targets, addresses }
    }
}

/// Families with one series per target or per address.
fn render_server_family(
    e: &mut Exposition,
    name: &str,
    st: &crate::state::ZoneState,
    labelled: &Labelled<'_>,
    now: UnixMs,
) {
    match name {
        "nsprobe_target_up" => {
            for (t, set) in &labelled.targets {
                if let Some(up) = t.up {
                    e.sample_with(name, set, None, flag(up));
                }
            }
        }
        "nsprobe_probes_total" => {
            for (t, set) in &labelled.targets {
                e.sample_with(name, set, Some(("result", "ok")), t.successes);
                for kind in FailureKind::ALL {
                    if let Some(n) = t.failures_by_kind.get(&kind) {
                        e.sample_with(name, set, Some(("result", kind.as_str())), *n);
                    }
                }
            }
        }
        "nsprobe_probe_duration_seconds" => {
            let bucket = "nsprobe_probe_duration_seconds_bucket";
            for (t, set) in &labelled.targets {
                let h = &t.rtt_histogram;
                for ((_, n), le) in h.cumulative().zip(DURATION_LE) {
                    e.sample_with(bucket, set, Some(("le", le)), n);
                }
                e.sample_with(bucket, set, Some(("le", "+Inf")), h.count);
                e.sample_with("nsprobe_probe_duration_seconds_sum", set, None, h.sum);
                e.sample_with("nsprobe_probe_duration_seconds_count", set, None, h.count);
            }
        }
        _ => {
            for (a, set) in &labelled.addresses {
                match name {
                    "nsprobe_server_soa_serial" => {
                        if let Some(serial) = a.serial {
                            e.sample_with(name, set, None, serial);
                        }
                    }
                    "nsprobe_server_serial_lag" => {
                        if let Some(lag) = st.lag_of(a, now) {
                            e.sample_with(name, set, None, lag.serials);
                        }
                    }
                    "nsprobe_server_serial_lag_seconds" => {
                        if let Some(lag) = st.lag_of(a, now) {
                            e.sample_with(name, set, None, lag.ms as f64 / 1000.0);
                        }
                    }
                    "nsprobe_serial_regressions_total" => {
                        e.sample_with(name, set, None, a.regressions)
                    }
                    "nsprobe_soa_rrsig_expiration_timestamp_seconds" => {
                        if let Some(exp) = a.rrsig_expiration {
                            e.sample_with(name, set, None, exp);
                        }
                    }
                    "nsprobe_nsid_info" => {
                        if let Some(nsid) = &a.nsid {
                            e.sample_with(name, set, Some(("nsid", nsid)), 1u8);
                        }
                    }
                    other => debug_assert!(false, "family {other} has no renderer"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn le_labels_match_the_buckets() {
        let formatted: Vec<String> = DURATION_BUCKETS.iter().map(|b| b.to_string()).collect();
        assert_eq!(formatted, DURATION_LE);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            label_set(&[("nsid", "a\"b\\c\nd"), ("zone", "dk.")]),
            r#"nsid="a\"b\\c\nd",zone="dk.""#
        );
    }

    #[test]
    fn every_family_is_rendered_from_state_or_the_registry() {
        let m = Metrics::new();
        let registry: Vec<String> = m
            .registry
            .gather()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        for name in REGISTRY_FAMILIES {
            assert!(
                FAMILIES.iter().any(|f| f.name == *name),
                "{name} in FAMILIES"
            );
            // Vec families without series are not gathered; the plain ones are.
            let _ = &registry;
        }
        for f in FAMILIES {
            if !REGISTRY_FAMILIES.contains(&f.name) {
                assert!(
                    !registry.contains(&f.name.to_string()),
                    "{} rendered twice",
                    f.name
                );
            }
        }
    }
}
