//! The text exposition (Prometheus format 0.0.4) of `/metrics`, written by hand.
//!
//! This is the measured hot path of a scrape (about 3.4 MB at 1,000 targets), so it
//! is a single pass over plain copies — a [`Snapshot`] of the zone state and a
//! [`DaemonSnapshot`] of the daemon-level metrics — with label sets formatted once per
//! target and integers written with `itoa`. It runs after the state lock is released.
//! Families are written in [`FAMILIES`] order, each with its `# HELP` and `# TYPE`.

use std::fmt::Write as _;

use super::counters::{DaemonSnapshot, Histogram};
use super::families::{spec, Kind, FAMILIES};
use super::snapshot::{ComponentSnapshot, Snapshot, ZoneSnapshot};
use crate::status::Status;

/// Size of the chunks handed to the sink of [`render_into`].
pub const CHUNK: usize = 64 * 1024;

/// Writes the Prometheus text exposition format (version 0.0.4).
struct Exposition<'a> {
    out: String,
    /// Receives the text in chunks of about [`CHUNK`] bytes.
    sink: &'a mut dyn FnMut(&str),
}

impl Exposition<'_> {
    /// Hands the buffered text to the sink once a chunk is full.
    fn maybe_flush(&mut self) {
        if self.out.len() >= CHUNK {
            (self.sink)(&self.out);
            self.out.clear();
        }
    }

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
        self.maybe_flush();
    }

    /// The hot path: `name{labels` + `tail` + value, where `labels` is a non-empty
    /// pre-rendered label set and `tail` closes it (`} `, or `,le="0.1"} ` from
    /// [`Tails`]). Same text as [`Exposition::sample_with`], a third of the calls.
    fn series(&mut self, name: &str, labels: &str, tail: &str, value: impl SampleValue) {
        debug_assert!(!labels.is_empty() && tail.ends_with("} "));
        self.out.push_str(name);
        self.out.push('{');
        self.out.push_str(labels);
        self.out.push_str(tail);
        value.write_to(&mut self.out);
        self.out.push('\n');
        self.maybe_flush();
    }
}

/// Label set endings shared by many series, rendered once per scrape.
struct Tails {
    /// `,le="…"} ` per bound of [`DURATION_LE`], then `,le="+Inf"} `.
    le: Vec<String>,
    /// `,status="…"} ` per [`Status::ALL`].
    status: Vec<String>,
}

/// Closes a label set without adding a label.
const CLOSE: &str = "} ";

impl Tails {
    fn new() -> Tails {
        let tail = |k: &str, v: &str| {
            let mut s = String::from(",");
            push_label(&mut s, k, v);
            s.push_str(CLOSE);
            s
        };
        Tails {
            le: DURATION_LE
                .iter()
                .chain(&["+Inf"])
                .map(|le| tail("le", le))
                .collect(),
            status: Status::ALL
                .iter()
                .map(|s| tail("status", s.as_str()))
                .collect(),
        }
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
    // Sized up front (`k="v",` each): growing it push by push reallocated it about
    // five times per set, thousands of times per scrape.
    let size = labels.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    let mut s = String::with_capacity(size);
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

/// The whole `/metrics` document from the two copies.
pub fn render(snap: &Snapshot, daemon: &DaemonSnapshot) -> String {
    let mut text = String::with_capacity(4096 + snap.target_count() * 3800);
    render_into(snap, daemon, &mut |chunk| text.push_str(chunk));
    text
}

/// [`render`], handing the text to `sink` in chunks of about [`CHUNK`] bytes (so a
/// compressor can consume it without the whole document in memory).
pub fn render_into(snap: &Snapshot, daemon: &DaemonSnapshot, sink: &mut dyn FnMut(&str)) {
    let mut e = Exposition {
        out: String::with_capacity(CHUNK + 4096),
        sink,
    };
    let now = snap.now;
    // Label sets are rendered once per scrape: formatting addresses is the most
    // expensive part of a line, and every target appears in several families.
    let labelled: Vec<Labelled> = snap.zones.iter().map(Labelled::new).collect();
    let tails = Tails::new();
    for family in FAMILIES {
        let name = family.name;
        e.header(name);
        if render_daemon_family(&mut e, name, daemon) {
            continue;
        }
        match name {
            "nsprobe_vantage_up" => {
                e.sample(name, &[], flag(snap.vantage_up));
                continue;
            }
            "nsprobe_peer_up"
            | "nsprobe_peer_last_success_timestamp_seconds"
            | "nsprobe_peer_pulls_total"
            | "nsprobe_peer_received_bytes_total"
            | "nsprobe_peer_observations_total" => {
                for p in &snap.peers {
                    let l = [("peer", p.url.as_str())];
                    match name {
                        "nsprobe_peer_up" => e.sample(name, &l, flag(p.up)),
                        "nsprobe_peer_last_success_timestamp_seconds" => {
                            e.sample(name, &l, p.last_success.map_or(0.0, |t| t as f64 / 1000.0))
                        }
                        "nsprobe_peer_pulls_total" => {
                            let ok = (p.pulls - p.failures) as f64;
                            e.sample(name, &[("peer", &p.url), ("result", "ok")], ok);
                            let err = p.failures as f64;
                            e.sample(name, &[("peer", &p.url), ("result", "error")], err);
                        }
                        "nsprobe_peer_received_bytes_total" => e.sample(name, &l, p.bytes as f64),
                        _ => e.sample(name, &l, p.records as f64),
                    }
                }
                continue;
            }
            "nsprobe_canary_up" => {
                for (canary, addr, transport, up) in &snap.canaries {
                    let addr = addr.to_string();
                    let labels = [
                        ("address", addr.as_str()),
                        ("canary", canary.as_str()),
                        ("transport", transport.as_str()),
                    ];
                    e.sample(name, &labels, flag(*up));
                }
                continue;
            }
            "nsprobe_check_up"
            | "nsprobe_checks_total"
            | "nsprobe_check_duration_seconds"
            | "nsprobe_tls_cert_expiry_timestamp_seconds" => {
                render_check_family(&mut e, name, snap);
                continue;
            }
            _ => {}
        }
        for (z, labelled) in snap.zones.iter().zip(&labelled) {
            let zl = [("zone", z.zone.as_str())];
            match name {
                "nsprobe_zone_soa_serial" => {
                    if let Some(serial) = z.newest_serial {
                        e.sample(name, &zl, serial);
                    }
                }
                "nsprobe_zone_serial_last_change_timestamp_seconds" => {
                    if let Some(t) = z.serial_first_seen {
                        e.sample(name, &zl, t as f64 / 1000.0);
                    }
                }
                "nsprobe_zone_serial_age_seconds" => {
                    if let Some(age) = z.serial_age_ms {
                        e.sample(name, &zl, age as f64 / 1000.0);
                    }
                }
                "nsprobe_zone_stale" => e.sample(name, &zl, flag(z.stale)),
                "nsprobe_zone_serial_rollbacks_total" => e.sample(name, &zl, z.rollbacks),
                "nsprobe_zone_stale_threshold_seconds" => {
                    e.sample(name, &zl, z.stale_threshold_ms as f64 / 1000.0)
                }
                "nsprobe_zone_lag_threshold_seconds" => {
                    e.sample(name, &zl, z.lag_after.as_secs_f64())
                }
                "nsprobe_server_addresses" => {
                    for (server, n) in &z.server_addresses {
                        e.sample(name, &[("server", server), ("zone", &z.zone)], *n);
                    }
                }
                "nsprobe_maintenance" | "nsprobe_component_status" => {
                    render_components(&mut e, name, &z.components, &tails)
                }
                _ => render_server_family(&mut e, name, z, labelled, &tails, now),
            }
        }
        if matches!(name, "nsprobe_component_status" | "nsprobe_maintenance") {
            for g in &snap.groups {
                render_components(&mut e, name, &g.components, &tails);
            }
        }
    }
    if !e.out.is_empty() {
        (e.sink)(&e.out);
    }
}

/// `nsprobe_maintenance` or `nsprobe_component_status` of `components`.
fn render_components(
    e: &mut Exposition,
    name: &str,
    components: &[ComponentSnapshot],
    tails: &Tails,
) {
    let mut set = String::new();
    for c in components {
        set.clear();
        push_label(&mut set, "component", &c.name);
        set.push(',');
        push_label(&mut set, "group", &c.group);
        if name == "nsprobe_maintenance" {
            e.series(name, &set, CLOSE, flag(c.maintenance));
            continue;
        }
        for (s, tail) in Status::ALL.iter().zip(&tails.status) {
            e.series(name, &set, tail, flag(*s == c.status));
        }
    }
}

/// The service check families (one series per check target).
fn render_check_family(e: &mut Exposition, name: &str, snap: &Snapshot) {
    for c in snap.groups.iter().flat_map(|g| &g.checks) {
        let set = label_set(&[
            ("component", &c.component),
            ("group", &c.group),
            ("kind", c.kind.as_str()),
            ("target", &c.target),
        ]);
        match name {
            "nsprobe_check_up" => {
                if let Some(up) = c.up {
                    e.sample_with(name, &set, None, flag(up));
                }
            }
            "nsprobe_checks_total" => {
                e.sample_with(name, &set, Some(("result", "ok")), c.successes);
                for (reason, n) in &c.failures {
                    e.sample_with(name, &set, Some(("result", reason.as_str())), *n);
                }
            }
            "nsprobe_check_duration_seconds" => {
                let bucket = "nsprobe_check_duration_seconds_bucket";
                for ((_, n), le) in c.rtt.cumulative().zip(DURATION_LE) {
                    e.sample_with(bucket, &set, Some(("le", le)), n);
                }
                e.sample_with(bucket, &set, Some(("le", "+Inf")), c.rtt.count);
                e.sample_with("nsprobe_check_duration_seconds_sum", &set, None, c.rtt.sum);
                e.sample_with(
                    "nsprobe_check_duration_seconds_count",
                    &set,
                    None,
                    c.rtt.count,
                );
            }
            _ => {
                if let Some(t) = c.cert_not_after {
                    e.sample_with(name, &set, None, t as f64);
                }
            }
        }
    }
}

/// The daemon-level families; false if `name` is not one of them.
fn render_daemon_family(e: &mut Exposition, name: &str, d: &DaemonSnapshot) -> bool {
    match name {
        "nsprobe_schedule_slip_seconds" => histogram(e, name, "", &d.slip),
        "nsprobe_serial_propagation_seconds" => {
            for ((zone, server), h) in &d.propagation {
                histogram(
                    e,
                    name,
                    &label_set(&[("server", server), ("zone", zone)]),
                    h,
                );
            }
        }
        "nsprobe_resolve_failures_total" => {
            for (server, n) in &d.resolve_failures {
                e.sample(name, &[("server", server)], *n);
            }
        }
        "nsprobe_store_write_duration_seconds" => histogram(e, name, "", &d.store_write),
        "nsprobe_store_errors_total" => {
            for (op, n) in &d.store_errors {
                e.sample(name, &[("op", op)], *n);
            }
        }
        "nsprobe_store_size_bytes" => e.sample(name, &[], d.store_size),
        "nsprobe_store_pending_records" => e.sample(name, &[], d.store_pending),
        "nsprobe_incidents_open" => e.sample(name, &[], d.incidents_open),
        "nsprobe_build_info" => e.sample(name, &[("version", env!("CARGO_PKG_VERSION"))], 1u8),
        "nsprobe_config_last_reload_successful" => e.sample(name, &[], flag(d.reload_ok)),
        "nsprobe_config_last_reload_success_timestamp_seconds" => {
            if let Some(t) = d.reload_success_at {
                e.sample(name, &[], t as f64 / 1000.0);
            }
        }
        _ => return false,
    }
    true
}

/// `_bucket` (with `le`), `_sum` and `_count` of one histogram series.
fn histogram(e: &mut Exposition, name: &str, labels: &str, h: &Histogram) {
    let bucket = format!("{name}_bucket");
    let mut le = String::new();
    for (bound, n) in h.cumulative() {
        le.clear();
        let _ = write!(le, "{bound}");
        e.sample_with(&bucket, labels, Some(("le", &le)), n);
    }
    e.sample_with(&bucket, labels, Some(("le", "+Inf")), h.count);
    e.sample_with(&format!("{name}_sum"), labels, None, h.sum);
    e.sample_with(&format!("{name}_count"), labels, None, h.count);
}

/// `a` as `Display` writes it; IPv4 (the common case) without the fmt machinery.
fn push_addr(out: &mut String, a: std::net::SocketAddr) {
    match a {
        std::net::SocketAddr::V4(v4) => {
            let mut b = itoa::Buffer::new();
            for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(b.format(octet));
            }
            out.push(':');
            out.push_str(b.format(v4.port()));
        }
        std::net::SocketAddr::V6(_) => {
            let _ = write!(out, "{a}");
        }
    }
}

/// One zone's targets and addresses with their label sets rendered once per scrape.
struct Labelled {
    /// `address="…",server="…",transport="…",zone="…"` per target (same order as the snapshot).
    targets: Vec<String>,
    /// `address="…",server="…",zone="…"` per address.
    addresses: Vec<String>,
}

impl Labelled {
    fn new(z: &ZoneSnapshot) -> Labelled {
        let zone = z.zone.as_str();
        let mut addr = String::new();
        let mut set = |server: usize, a: std::net::SocketAddr, transport: Option<&str>| {
            addr.clear();
            push_addr(&mut addr, a);
            let server = z.servers[server].as_str();
            match transport {
                Some(t) => label_set(&[
                    ("address", &addr),
                    ("server", server),
                    ("transport", t),
                    ("zone", zone),
                ]),
                None => label_set(&[("address", &addr), ("server", server), ("zone", zone)]),
            }
        };
        let targets = z
            .targets
            .iter()
            .map(|t| set(t.server, t.addr, Some(t.transport.as_str())))
            .collect();
        let addresses = z
            .addresses
            .iter()
            .map(|a| set(a.server, a.addr, None))
            .collect();
        Labelled { targets, addresses }
    }
}

/// Families with one series per target or per address.
fn render_server_family(
    e: &mut Exposition,
    name: &str,
    z: &ZoneSnapshot,
    labelled: &Labelled,
    tails: &Tails,
    _now: crate::UnixMs,
) {
    match name {
        "nsprobe_target_up" => {
            for (t, set) in z.targets.iter().zip(&labelled.targets) {
                if let Some(up) = t.up {
                    e.series(name, set, CLOSE, flag(up));
                }
            }
        }
        "nsprobe_probes_total" => {
            for (t, set) in z.targets.iter().zip(&labelled.targets) {
                e.series(name, set, ",result=\"ok\"} ", t.successes);
                for (kind, n) in &t.failures {
                    e.sample_with(name, set, Some(("result", kind.as_str())), *n);
                }
            }
        }
        "nsprobe_probe_duration_seconds" => {
            let bucket = "nsprobe_probe_duration_seconds_bucket";
            for (t, set) in z.targets.iter().zip(&labelled.targets) {
                let h = &t.rtt;
                for ((_, n), tail) in h.cumulative().zip(&tails.le) {
                    e.series(bucket, set, tail, n);
                }
                e.series(bucket, set, &tails.le[DURATION_LE.len()], h.count);
                e.series("nsprobe_probe_duration_seconds_sum", set, CLOSE, h.sum);
                e.series("nsprobe_probe_duration_seconds_count", set, CLOSE, h.count);
            }
        }
        _ => {
            for (a, set) in z.addresses.iter().zip(&labelled.addresses) {
                match name {
                    "nsprobe_server_soa_serial" => {
                        if let Some(serial) = a.serial {
                            e.series(name, set, CLOSE, serial);
                        }
                    }
                    "nsprobe_server_serial_lag" => {
                        if let Some(lag) = a.lag {
                            e.series(name, set, CLOSE, lag.serials);
                        }
                    }
                    "nsprobe_server_serial_lag_seconds" => {
                        if let Some(lag) = a.lag {
                            e.series(name, set, CLOSE, lag.ms as f64 / 1000.0);
                        }
                    }
                    "nsprobe_serial_regressions_total" => e.series(name, set, CLOSE, a.regressions),
                    "nsprobe_soa_rrsig_expiration_timestamp_seconds" => {
                        if let Some(exp) = a.rrsig_expiration {
                            e.series(name, set, CLOSE, exp);
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
    use super::super::DURATION_BUCKETS;
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
    fn daemon_families_are_rendered_without_zones() {
        let m = super::super::DaemonMetrics::new();
        m.set_reload(true, 1_500);
        m.observe_propagation("dk.", "a.nic.dk", 2_000);
        m.resolve_failure("b.nic.dk");
        let text = render(
            &Snapshot {
                now: 0,
                zones: Vec::new(),
                vantage_up: false,
                peers: vec![crate::model::PeerHealth {
                    url: "https://fra-1:9853".into(),
                    up: true,
                    last_success: Some(2_000),
                    pulls: 3,
                    failures: 1,
                    bytes: 900,
                    records: 12,
                    ..Default::default()
                }],
                groups: Vec::new(),
                canaries: vec![(
                    "k.root".into(),
                    "127.0.2.1:53".parse().unwrap(),
                    crate::probe::Transport::Udp,
                    false,
                )],
            },
            &m.snapshot(),
        );
        for line in [
            "nsprobe_vantage_up 0",
            "nsprobe_peer_up{peer=\"https://fra-1:9853\"} 1",
            "nsprobe_peer_last_success_timestamp_seconds{peer=\"https://fra-1:9853\"} 2",
            "nsprobe_peer_pulls_total{peer=\"https://fra-1:9853\",result=\"error\"} 1",
            "nsprobe_peer_received_bytes_total{peer=\"https://fra-1:9853\"} 900",
            "nsprobe_canary_up{address=\"127.0.2.1:53\",canary=\"k.root\",transport=\"udp\"} 0",
            "nsprobe_config_last_reload_successful 1",
            "nsprobe_config_last_reload_success_timestamp_seconds 1.5",
            "nsprobe_resolve_failures_total{server=\"b.nic.dk\"} 1",
            "nsprobe_serial_propagation_seconds_bucket{server=\"a.nic.dk\",zone=\"dk.\",le=\"5\"} 1",
            "nsprobe_serial_propagation_seconds_count{server=\"a.nic.dk\",zone=\"dk.\"} 1",
            "nsprobe_schedule_slip_seconds_bucket{le=\"+Inf\"} 0",
            "nsprobe_build_info{version=",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        // Every family has exactly one HELP line.
        for f in FAMILIES {
            assert_eq!(text.matches(&format!("# HELP {} ", f.name)).count(), 1);
        }
        let _ = Kind::Counter;
    }
}
