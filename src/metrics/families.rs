//! The exported contract: every metric family nsprobe exports, with its type,
//! labels and help text, and the histogram bucket bounds. The dashboard and
//! alert-rule tests check their queries against [`FAMILIES`], and a test checks
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
const CHECK: &[&str] = &["group", "component", "kind", "target"];

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
    Family { name: "nsprobe_peer_up", kind: Kind::Gauge, labels: &["peer"], help: "Hub: 1 if the last pull of the peer's observations succeeded, else 0 (peer = its URL)." },
    Family { name: "nsprobe_peer_last_success_timestamp_seconds", kind: Kind::Gauge, labels: &["peer"], help: "Hub: when the peer's observations were last pulled successfully (0 = never)." },
    Family { name: "nsprobe_peer_pulls_total", kind: Kind::Counter, labels: &["peer", "result"], help: "Hub: pulls of the peer's observations by result (ok, error)." },
    Family { name: "nsprobe_peer_received_bytes_total", kind: Kind::Counter, labels: &["peer"], help: "Hub: response bytes received from the peer." },
    Family { name: "nsprobe_peer_observations_total", kind: Kind::Counter, labels: &["peer"], help: "Hub: observation records received from the peer." },
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
    Family { name: "nsprobe_resolve_failures_total", kind: Kind::Counter, labels: &["server"], help: "Failed resolutions of a nameserver name or of a service check host, in the server label (last known addresses are kept)." },
    Family { name: "nsprobe_check_up", kind: Kind::Gauge, labels: CHECK, help: "1 if the service check target is up (hysteresis applied), 0 if down." },
    Family { name: "nsprobe_checks_total", kind: Kind::Counter, labels: &["group", "component", "kind", "target", "result"], help: "Service checks by result: ok or a failure reason." },
    Family { name: "nsprobe_check_duration_seconds", kind: Kind::Histogram, labels: CHECK, help: "Response time of successful service checks (what it covers depends on the kind)." },
    Family { name: "nsprobe_tls_cert_expiry_timestamp_seconds", kind: Kind::Gauge, labels: CHECK, help: "Not-after of the server certificate last seen by a tls, epp or https check (Unix time)." },
    Family { name: "nsprobe_component_status", kind: Kind::Gauge, labels: &["component", "group", "status"], help: "Status-page component status (nameservers, zone groups, service components and groups): 1 for the current status, 0 for the others. group is empty for a group component." },
    Family { name: "nsprobe_maintenance", kind: Kind::Gauge, labels: &["component", "group"], help: "1 while the component is in a declared maintenance window. group is empty for a group component." },
    Family { name: "nsprobe_nsid_info", kind: Kind::Gauge, labels: &["zone", "server", "address", "nsid"], help: "Latest NSID answered by this server address (value always 1)." },
    Family { name: "nsprobe_schedule_slip_seconds", kind: Kind::Histogram, labels: &[], help: "How late probes start compared with their planned time." },
    Family { name: "nsprobe_build_info", kind: Kind::Gauge, labels: &["version"], help: "nsprobe build information (value always 1)." },
    Family { name: "nsprobe_config_last_reload_successful", kind: Kind::Gauge, labels: &[], help: "1 if the last configuration (re)load succeeded." },
    Family { name: "nsprobe_store_write_duration_seconds", kind: Kind::Histogram, labels: &[], help: "Time to write one batch (one transaction) to the store." },
    Family { name: "nsprobe_store_errors_total", kind: Kind::Counter, labels: &["op"], help: "Store failures by operation: open, write, prune, dropped (records dropped while the disk refused writes)." },
    Family { name: "nsprobe_store_size_bytes", kind: Kind::Gauge, labels: &[], help: "Size of the store file and its write-ahead log." },
    Family { name: "nsprobe_store_pending_records", kind: Kind::Gauge, labels: &[], help: "Records waiting in memory for the store (non-zero while the disk refuses writes)." },
    Family { name: "nsprobe_incidents_open", kind: Kind::Gauge, labels: &[], help: "Incidents not resolved yet." },
    Family { name: "nsprobe_config_last_reload_success_timestamp_seconds", kind: Kind::Gauge, labels: &[], help: "When the configuration was last loaded successfully (Unix time)." },
];

/// Histogram buckets for DNS response times, 100 µs … 5 s (owned by the zone state).
pub const DURATION_BUCKETS: &[f64] = &crate::state::RTT_BUCKETS;

/// Histogram buckets for schedule slip, 10 µs … 1 s.
pub const SLIP_BUCKETS: &[f64] = &[
    0.00001, 0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0,
];

/// Histogram buckets for store batch writes, 100 µs … 10 s.
pub const STORE_WRITE_BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
];

/// Histogram buckets for serial propagation delay, 1 s … 2 h.
pub const PROPAGATION_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
];

/// The [`Family`] named `name`; panics if it is not in [`FAMILIES`] (a programming error).
pub fn spec(name: &str) -> &'static Family {
    FAMILIES
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("metric family {name} missing from FAMILIES"))
}
