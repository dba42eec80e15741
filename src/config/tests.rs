//! Config tests: every accepted form and every error message with its position.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::rr::Name;

use super::error::line_col;
use super::values::parse_address;
use super::*;
use crate::probe::Transport;

const MINIMAL: &str = r#"
[[zone]]
name = "dk"

[[zone.nameservers]]
name = "a.nic.dk."
"#;

fn ok(text: &str) -> Config {
    match parse(text, Path::new("t.toml")) {
        Ok(c) => c,
        Err(e) => panic!("expected valid config, got: {e}"),
    }
}

fn err(text: &str) -> String {
    match parse(text, Path::new("t.toml")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// A minimal zone followed by `extra` lines in the `[[zone]]` table (line 4 on).
fn zone_with(extra: &str) -> String {
    format!("[[zone]]\nname = \"dk.\"\n\n{extra}\n[[zone.nameservers]]\nname = \"a.nic.dk\"\n")
}

fn assert_has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} lacks {p:?}");
    }
}

#[test]
fn minimal_file_gets_defaults() {
    let c = ok(MINIMAL);
    assert_eq!(c.source, PathBuf::from("t.toml"));
    assert_eq!(
        c.http.listen,
        "127.0.0.1:9853".parse::<SocketAddr>().unwrap()
    );
    assert!(!c.http.enable_reload);
    assert_eq!(c.http.request_timeout, Duration::from_secs(10));
    assert_eq!(c.state.path, PathBuf::from("nsprobe-state.json"));
    assert_eq!(c.state.save_interval, Duration::from_secs(60));
    assert!(c.resolver.servers.is_empty());
    assert_eq!(c.resolver.refresh, Duration::from_secs(300));
    assert_eq!(c.resolver.timeout, Duration::from_secs(5));
    assert_eq!(c.zones.len(), 1);
    let z = &c.zones[0];
    assert_eq!(z.name, Name::from_ascii("dk.").unwrap());
    assert!(z.name.is_fqdn());
    assert_eq!(z.component, "DNS (.dk)");
    assert_eq!(z.interval, Duration::from_secs(10));
    assert_eq!(z.timeout, Duration::from_secs(2));
    assert_eq!(z.transports, vec![Transport::Udp, Transport::Tcp]);
    assert!(!z.dnssec);
    assert!(z.nsid);
    assert_eq!(z.thresholds, Thresholds::default());
    assert_eq!(
        z.nameservers,
        vec![NameserverConfig {
            name: "a.nic.dk".into(),
            addresses: vec![]
        }]
    );
    assert!(c.maintenance.is_empty());
}

#[test]
fn full_file_is_read_exactly() {
    let text = r#"
[http]
listen = "[::1]:9000"
enable_reload = true
request_timeout = "3s"
[state]
path = "/var/lib/nsprobe/state.json"
save_interval = "2m"
[resolver]
servers = ["127.0.0.1:5353", "::1"]
refresh = "1m"
timeout = "1s"
[[zone]]
name = "example."
component = "Example DNS"
interval = "30s"
timeout = "3s"
transports = ["tcp"]
dnssec = true
nsid = false
stale_after = "1h"
stale_factor = 2.5
stale_min_samples = 7
fail_after = 4
recover_after = 5
slow_after = "250ms"
window = 20
loss_after = 1.0
lag_after = "10m"
partial_outage_share = 0.25
rrsig_warn_before = "3d"
stats_window = "10m"
min_samples = 30
confirm_after = "45s"
clear_after = "3m"
rollback_after = "4m"
[[zone.nameservers]]
name = "ns1.example"
[[zone.nameservers]]
name = "lab-1"
addresses = ["127.0.1.1:5300", "[::1]:5300", "192.0.2.1"]
[[maintenance]]
components = ["lab-1", "Example DNS", "ns1.example."]
start = "2026-06-16T06:00:00Z"
end = 2026-06-16T08:30:00+02:00
reason = ""
[[canary]]
name = "k.root-servers.net"
address = "127.0.2.1"
[[canary]]
name = "se"
address = "127.0.2.2:5300"
zone = "se"
transport = "tcp"
"#;
    let c = ok(text);
    assert_eq!(c.canaries.len(), 2);
    assert_eq!(
        c.canaries[0].address,
        "127.0.2.1:53".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.canaries[0].zone.to_ascii(), ".");
    assert_eq!(c.canaries[0].transport, Transport::Udp);
    assert_eq!(c.canaries[1].zone.to_ascii(), "se.");
    assert_eq!(c.canaries[1].transport, Transport::Tcp);
    assert_eq!(c.http.listen, "[::1]:9000".parse::<SocketAddr>().unwrap());
    assert!(c.http.enable_reload);
    assert_eq!(c.http.request_timeout, Duration::from_secs(3));
    assert_eq!(c.state.path, PathBuf::from("/var/lib/nsprobe/state.json"));
    assert_eq!(c.state.save_interval, Duration::from_secs(120));
    assert_eq!(
        c.resolver.servers,
        vec![
            "127.0.0.1:5353".parse::<SocketAddr>().unwrap(),
            "[::1]:53".parse().unwrap()
        ]
    );
    assert_eq!(c.resolver.refresh, Duration::from_secs(60));
    assert_eq!(c.resolver.timeout, Duration::from_secs(1));
    let z = &c.zones[0];
    assert_eq!(z.component, "Example DNS");
    assert_eq!(z.interval, Duration::from_secs(30));
    assert_eq!(z.timeout, Duration::from_secs(3));
    assert_eq!(z.transports, vec![Transport::Tcp]);
    assert!(z.dnssec);
    assert!(!z.nsid);
    assert_eq!(
        z.thresholds,
        Thresholds {
            stale_after: Duration::from_secs(3600),
            stale_factor: Some(2.5),
            stale_min_samples: 7,
            fail_after: 4,
            recover_after: 5,
            slow_after: Duration::from_millis(250),
            window: 20,
            loss_after: 1.0,
            lag_after: Duration::from_secs(600),
            partial_outage_share: 0.25,
            rrsig_warn_before: Duration::from_secs(3 * 86400),
            stats_window: Duration::from_secs(600),
            min_samples: 30,
            confirm_after: Duration::from_secs(45),
            clear_after: Duration::from_secs(180),
            rollback_after: Duration::from_secs(240),
        }
    );
    assert_eq!(z.nameservers[1].name, "lab-1");
    assert_eq!(
        z.nameservers[1].addresses,
        vec![
            "127.0.1.1:5300".parse::<SocketAddr>().unwrap(),
            "[::1]:5300".parse().unwrap(),
            "192.0.2.1:53".parse().unwrap()
        ]
    );
    let m = &c.maintenance[0];
    assert_eq!(m.components, vec!["lab-1", "Example DNS", "ns1.example"]);
    // 2026-06-16T06:00:00Z
    assert_eq!(m.start, 1_781_589_600_000);
    // 08:30+02:00 = 06:30Z
    assert_eq!(m.end, m.start + 30 * 60 * 1000);
    assert_eq!(m.reason, "");
}

#[test]
fn shipped_configs_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dk = load(&root.join("config/dk.toml")).unwrap_or_else(|e| panic!("{e}"));
    let z = &dk.zones[0];
    assert_eq!(z.name, Name::from_ascii("dk.").unwrap());
    assert_eq!(z.component, "DNS (.dk)");
    assert!(z.dnssec);
    assert_eq!(z.interval, Duration::from_secs(10));
    assert_eq!(z.timeout, Duration::from_secs(2));
    let names: Vec<&str> = z.nameservers.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        ["a.nic.dk", "b.nic.dk", "c.nic.dk", "d.nic.dk", "l.nic.dk", "p.nic.dk", "s.nic.dk"]
    );
    assert!(z.nameservers.iter().all(|n| n.addresses.is_empty()));
    assert_eq!(
        dk.http.listen,
        "127.0.0.1:9853".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(dk.state.path, PathBuf::from("nsprobe-state.json"));

    let ex = load(&root.join("config/example.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ex.maintenance.len(), 1);
    assert_eq!(ex.canaries.len(), 1);
    assert_eq!(ex.canaries[0].address.ip().to_string(), "192.0.2.53");
    for z in &ex.zones {
        for ns in &z.nameservers {
            for a in &ns.addresses {
                let ip = a.ip();
                let doc = matches!(ip, IpAddr::V4(v4) if v4.octets()[..3] == [192, 0, 2]);
                assert!(
                    ip.is_loopback() || doc,
                    "{a} is neither loopback nor documentation"
                );
            }
        }
    }
}

#[test]
fn missing_file_names_the_path() {
    let e = load(Path::new("/nonexistent/nsprobe.toml")).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert_has(
        &e.to_string(),
        &["/nonexistent/nsprobe.toml", "cannot read"],
    );
}

#[test]
fn toml_syntax_error_has_position() {
    let e = err("[[zone]]\nname = \"dk.\n");
    assert_has(&e, &["t.toml:2:"]);
}

#[test]
fn unknown_keys_are_rejected_with_position() {
    assert_has(
        &err(&zone_with("intervall = \"10s\"")),
        &["t.toml:4:1:", "intervall"],
    );
    assert_has(
        &err(&format!("[http]\nlisten_addr = \"x\"\n{MINIMAL}")),
        &["t.toml:2:1:", "listen_addr"],
    );
    assert_has(
        &err(&format!("{MINIMAL}\n[extra]\n")),
        &["t.toml:", "extra"],
    );
    let e =
        err("[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"a\"\naddress = [\"::1\"]\n");
    assert_has(&e, &["t.toml:5:1:", "address"]);
}

#[test]
fn wrong_types_name_key_and_position() {
    let e = err(&zone_with("fail_after = \"3\""));
    assert_has(&e, &["t.toml:4:14:", "fail_after"]);
    let e = err(&zone_with("dnssec = 1"));
    assert_has(&e, &["t.toml:4:10:", "dnssec"]);
    let e = err(&zone_with("window = -1"));
    assert_has(&e, &["t.toml:4:", "window"]);
}

#[test]
fn missing_required_key() {
    let e = err("[[zone]]\ncomponent = \"x\"\n[[zone.nameservers]]\nname = \"a\"\n");
    assert_has(&e, &["t.toml:1:", "name"]);
}

#[test]
fn bad_durations() {
    let e = err(&zone_with("interval = \"10 parsecs\""));
    assert_has(
        &e,
        &[
            "t.toml:4:12:",
            "zone \"dk.\"",
            "interval",
            "10 parsecs",
            "duration",
        ],
    );
    let e = err(&format!("[resolver]\nrefresh = \"soon\"\n{MINIMAL}"));
    assert_has(&e, &["t.toml:2:11:", "[resolver] refresh", "soon"]);
    let e = err(&format!("[http]\nrequest_timeout = \"0s\"\n{MINIMAL}"));
    assert_has(&e, &["t.toml:2:", "request_timeout", "greater than zero"]);
    let e = err(&format!("[state]\nsave_interval = \"x\"\n{MINIMAL}"));
    assert_has(&e, &["t.toml:2:", "[state] save_interval"]);
}

#[test]
fn zero_interval() {
    let e = err(&zone_with("interval = \"0s\""));
    assert_has(
        &e,
        &[
            "t.toml:4:12:",
            "zone \"dk.\"",
            "interval",
            "greater than zero",
        ],
    );
}

#[test]
fn timeout_must_be_shorter_than_interval() {
    let e = err(&zone_with("interval = \"2s\"\ntimeout = \"5s\""));
    assert_has(
        &e,
        &[
            "t.toml:5:11:",
            "zone \"dk.\": timeout (5s) must be shorter than interval (2s)",
        ],
    );
    // Equal is not shorter; default timeout (2s) against a given interval.
    let e = err(&zone_with("interval = \"2s\""));
    assert_has(
        &e,
        &[
            "t.toml:4:",
            "timeout (2s) must be shorter than interval (2s)",
        ],
    );
}

#[test]
fn bad_addresses() {
    let e = err("[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"lab\"\naddresses = [\"::1\", \"not-an-ip\"]\n");
    assert_has(
        &e,
        &[
            "t.toml:5:21:",
            "nameserver \"lab\"",
            "addresses",
            "not-an-ip",
        ],
    );
    let e = err("[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"lab\"\naddresses = [\"127.0.0.1:99999\"]\n");
    assert_has(&e, &["t.toml:5:", "addresses", "127.0.0.1:99999"]);
    let e = err("[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"lab\"\naddresses = [\"::1\", \"[::1]:53\"]\n");
    assert_has(&e, &["t.toml:5:", "listed twice"]);
    let e = err(&format!("[resolver]\nservers = [\"8.8.8.8.8\"]\n{MINIMAL}"));
    assert_has(&e, &["t.toml:2:12:", "[resolver] servers", "8.8.8.8.8"]);
    let e = err(&format!("[http]\nlisten = \"127.0.0.1\"\n{MINIMAL}"));
    assert_has(&e, &["t.toml:2:10:", "[http] listen"]);
}

#[test]
fn bad_zone_names() {
    for bad in ["", "dk..", "-dk.", "d k", "a.b$c."] {
        let e = err(&format!(
            "[[zone]]\nname = \"{bad}\"\n[[zone.nameservers]]\nname = \"a.nic.dk\"\n"
        ));
        assert_has(&e, &["t.toml:2:8:", "name", "invalid zone name"]);
    }
}

#[test]
fn duplicate_zone_names() {
    let text =
        format!("{MINIMAL}\n[[zone]]\nname = \"DK.\"\n[[zone.nameservers]]\nname = \"b.nic.dk\"\n");
    let e = err(&text);
    assert_has(&e, &["t.toml:9:8:", "defined twice"]);
}

#[test]
fn duplicate_components_across_zones() {
    let text = format!("{MINIMAL}\n[[zone]]\nname = \"se\"\ncomponent = \"DNS (.dk)\"\n[[zone.nameservers]]\nname = \"a.nic.se\"\n");
    assert_has(&err(&text), &["t.toml:10:13:", "component", "already used"]);
}

#[test]
fn duplicate_nameserver_names() {
    let text = "[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"a.nic.dk\"\n[[zone.nameservers]]\nname = \"A.nic.dk.\"\n";
    assert_has(
        &err(text),
        &[
            "t.toml:6:8:",
            "zone \"dk.\"",
            "nameserver \"A.nic.dk\"",
            "listed twice",
        ],
    );
}

#[test]
fn unresolvable_nameserver_without_addresses() {
    let text = "[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"lab 1\"\n";
    assert_has(
        &err(text),
        &["t.toml:4:8:", "nameserver \"lab 1\"", "addresses"],
    );
    let text = "[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \" \"\n";
    assert_has(&err(text), &["t.toml:4:8:", "name must not be empty"]);
}

#[test]
fn no_zones() {
    let e = err("[http]\nlisten = \"127.0.0.1:9853\"\n");
    assert_has(&e, &["t.toml: ", "no zones", "[[zone]]"]);
}

#[test]
fn zone_without_nameservers() {
    let e = err("[[zone]]\nname = \"dk\"\n");
    assert_has(&e, &["t.toml:2:8:", "zone \"dk.\"", "no nameservers"]);
}

#[test]
fn bad_transports() {
    assert_has(
        &err(&zone_with("transports = []")),
        &["t.toml:4:14:", "transports must not be empty"],
    );
    assert_has(
        &err(&zone_with("transports = [\"udp\", \"quic\"]")),
        &["t.toml:4:22:", "transports", "quic"],
    );
    assert_has(
        &err(&zone_with("transports = [\"udp\", \"udp\"]")),
        &["t.toml:4:22:", "transports", "udp is listed twice"],
    );
}

#[test]
fn shares_out_of_range() {
    assert_has(
        &err(&zone_with("loss_after = 0.0")),
        &["t.toml:4:14:", "loss_after", "out of range"],
    );
    assert_has(
        &err(&zone_with("loss_after = 1.5")),
        &["t.toml:4:", "loss_after"],
    );
    assert_has(
        &err(&zone_with("partial_outage_share = 1.0")),
        &["t.toml:4:24:", "partial_outage_share", "out of range"],
    );
    assert_has(
        &err(&zone_with("partial_outage_share = 0")),
        &["t.toml:4:", "partial_outage_share"],
    );
    assert_has(
        &err(&zone_with("stale_factor = 1.0")),
        &["t.toml:4:16:", "stale_factor", "greater than 1"],
    );
    assert_has(
        &err(&zone_with("stale_factor = nan")),
        &["t.toml:4:", "stale_factor"],
    );
    // In range.
    let c = ok(&zone_with("loss_after = 1\npartial_outage_share = 0.99"));
    assert_eq!(c.zones[0].thresholds.loss_after, 1.0);
}

#[test]
fn zero_counts() {
    for key in ["fail_after", "recover_after", "window", "stale_min_samples"] {
        let e = err(&zone_with(&format!("{key} = 0")));
        assert_has(&e, &["t.toml:4:", "zone \"dk.\"", key, "at least 1"]);
    }
}

fn with_maintenance(body: &str) -> String {
    // MINIMAL without its leading newline is 5 lines; [[maintenance]] is line 6, body from line 7.
    format!("{}[[maintenance]]\n{body}\n", MINIMAL.trim_start())
}

#[test]
fn maintenance_end_must_follow_start() {
    let e = err(&with_maintenance(
        "components = [\"a.nic.dk\"]\nstart = \"2026-06-16T06:00:00Z\"\nend = \"2026-06-16T06:00:00Z\"",
    ));
    assert_has(
        &e,
        &["t.toml:9:7:", "maintenance #1", "end must be after start"],
    );
}

#[test]
fn maintenance_bad_timestamps() {
    let e = err(&with_maintenance(
        "components = [\"a.nic.dk\"]\nstart = \"tomorrow\"\nend = \"2026-06-16T06:00:00Z\"",
    ));
    assert_has(
        &e,
        &[
            "t.toml:8:9:",
            "maintenance #1: start",
            "tomorrow",
            "RFC 3339",
        ],
    );
    let e = err(&with_maintenance("components = [\"a.nic.dk\"]\nstart = \"2026-06-16T06:00:00\"\nend = \"2026-06-17T06:00:00Z\""));
    assert_has(&e, &["t.toml:8:9:", "start", "UTC offset"]);
    let e = err(&with_maintenance("components = [\"a.nic.dk\"]\nstart = \"2026-02-30T06:00:00Z\"\nend = \"2026-06-17T06:00:00Z\""));
    assert_has(&e, &["t.toml:8:9:", "start"]);
    let e = err(&with_maintenance(
        "components = [\"a.nic.dk\"]\nstart = 5\nend = \"2026-06-17T06:00:00Z\"",
    ));
    assert_has(&e, &["t.toml:8:9:", "start", "integer"]);
}

#[test]
fn maintenance_unknown_component() {
    let e = err(&with_maintenance(
        "components = [\"a.nic.dk\", \"z.nic.dk\"]\nstart = \"2026-06-16T06:00:00Z\"\nend = \"2026-06-17T06:00:00Z\"",
    ));
    assert_has(
        &e,
        &[
            "t.toml:7:27:",
            "maintenance #1: components",
            "\"z.nic.dk\" is not a known component",
            "\"DNS (.dk)\"",
        ],
    );
    let e = err(&with_maintenance(
        "components = []\nstart = \"2026-06-16T06:00:00Z\"\nend = \"2026-06-17T06:00:00Z\"",
    ));
    assert_has(&e, &["t.toml:7:14:", "components must not be empty"]);
}

#[test]
fn maintenance_zone_component_and_empty_reason() {
    let c = ok(&with_maintenance(
        "components = [\"DNS (.dk)\", \"A.NIC.DK\"]\nstart = \"2026-06-16T06:00:00Z\"\nend = \"2026-06-16T06:00:01Z\"\nreason = \"\"",
    ));
    assert_eq!(c.maintenance[0].components, vec!["DNS (.dk)", "a.nic.dk"]);
    assert_eq!(c.maintenance[0].end - c.maintenance[0].start, 1000);
}

#[test]
fn root_zone_and_address_forms() {
    assert_eq!(
        parse_address("192.0.2.1"),
        Some(SocketAddr::from(([192, 0, 2, 1], 53)))
    );
    assert_eq!(
        parse_address("[2001:db8::1]"),
        Some("[2001:db8::1]:53".parse().unwrap())
    );
    assert_eq!(
        parse_address("2001:db8::1"),
        Some("[2001:db8::1]:53".parse().unwrap())
    );
    assert_eq!(
        parse_address("[2001:db8::1]:5300"),
        Some("[2001:db8::1]:5300".parse().unwrap())
    );
    assert_eq!(parse_address("a.nic.dk"), None);
    assert_eq!(parse_address("192.0.2.1:"), None);
    let c = ok("[[zone]]\nname = \".\"\n[[zone.nameservers]]\nname = \"a.root-servers.net\"\n");
    assert_eq!(c.zones[0].name, Name::root());
    assert_eq!(c.zones[0].component, "DNS (.)");
}

#[test]
fn line_col_counts_characters() {
    let t = "ab\nçd=x";
    assert_eq!(line_col(t, 0), (1, 1));
    assert_eq!(line_col(t, 3), (2, 1));
    assert_eq!(line_col(t, t.len() - 1), (2, 4));
    assert_eq!(line_col(t, 999), (2, 5));
}

#[test]
fn type_error_names_the_zone_and_what_to_write() {
    let e = err(&zone_with("interval = 10"));
    assert_has(
        &e,
        &[
            "t.toml:4:12:",
            "zone \"dk.\": interval",
            "write a duration like \"10s\"",
            "interval = \"10s\"",
        ],
    );
    let e = err(&zone_with("dnssec = \"yes\""));
    assert_has(&e, &["zone \"dk.\": dnssec", "write true or false"]);
    let e = err(&zone_with("window = -1"));
    assert_has(&e, &["zone \"dk.\": window", "whole number"]);
    let e = err(&zone_with("loss_after = \"half\""));
    assert_has(&e, &["zone \"dk.\": loss_after", "share between 0 and 1"]);
    let e = err(&format!("[resolver]\ntimeout = 5\n{MINIMAL}"));
    assert_has(&e, &["t.toml:2:11:", "[resolver] timeout", "\"5s\""]);
    let e = err(&format!("[http]\nlisten = 9853\n{MINIMAL}"));
    assert_has(&e, &["[http] listen", "127.0.0.1:9853"]);
    // The second zone is named, not the first.
    let text = format!("{MINIMAL}\n[[zone]]\nname = \"se\"\nslow_after = 1\n[[zone.nameservers]]\nname = \"a.nic.se\"\n");
    assert_has(&err(&text), &["t.toml:10:14:", "zone \"se.\": slow_after"]);
    let e =
        err("[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"lab\"\naddresses = \"::1\"\n");
    assert_has(
        &e,
        &[
            "zone \"dk.\": nameserver \"lab\": addresses",
            "list of addresses",
        ],
    );
}

#[test]
fn unknown_key_suggests_the_closest_known_one() {
    let e = err(&zone_with("timout = \"1s\""));
    assert_has(
        &e,
        &[
            "t.toml:4:1:",
            "zone \"dk.\"",
            "unknown key `timout`",
            "did you mean `timeout`?",
        ],
    );
    let e = err(&format!("[http]\nlistn = \"127.0.0.1:1\"\n{MINIMAL}"));
    assert_has(
        &e,
        &["[http] unknown key `listn`", "did you mean `listen`?"],
    );
    let e =
        err("[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"a\"\nadress = [\"::1\"]\n");
    assert_has(&e, &["t.toml:5:1:", "did you mean `addresses`?"]);
    // Nothing close: no guess, but the keys of the table are listed.
    let e = err(&zone_with("colour = \"red\""));
    assert_has(&e, &["unknown key `colour`", "keys here: name, component"]);
    assert!(!e.contains("did you mean"), "{e}");
}

#[test]
fn missing_file_shows_the_os_error_once() {
    let e = load(Path::new("/nonexistent/nsprobe.toml")).unwrap_err();
    let os = std::io::Error::from(std::io::ErrorKind::NotFound).to_string();
    // As printed by `nsprobe validate` ({e}) and by `nsprobe run` through anyhow ({e:#}).
    for shown in [e.to_string(), format!("{:#}", anyhow::Error::from(e))] {
        assert_eq!(shown.matches("No such file").count(), 1, "{shown} ({os})");
        assert_has(&shown, &["/nonexistent/nsprobe.toml", "cannot read"]);
    }
}

#[test]
fn maintenance_qualified_names_and_group_views() {
    let two = "[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"ns.lab\"\naddresses = [\"127.0.0.1\"]\n\
               [[zone]]\nname = \"se\"\n[[zone.nameservers]]\nname = \"ns.lab\"\naddresses = [\"127.0.0.2\"]\n";
    let window = |comps: &str| {
        format!("{two}[[maintenance]]\ncomponents = [{comps}]\nstart = \"2026-06-16T06:00:00Z\"\nend = \"2026-06-17T06:00:00Z\"\n")
    };
    // Qualified, case-insensitive, canonical spelling kept.
    let c = ok(&window("\"dns (.SE)/NS.lab.\""));
    let w = &c.maintenance[0];
    assert_eq!(w.components, vec!["DNS (.se)/ns.lab"]);
    assert!(w.covers("DNS (.se)", "ns.lab"));
    assert!(!w.covers("DNS (.dk)", "ns.lab"));
    assert!(!w.covers("", "DNS (.se)"));
    let in_se = MaintenanceWindow::for_group(&c.maintenance, "DNS (.se)");
    assert_eq!(in_se[0].components, vec!["ns.lab"]);
    let in_dk = MaintenanceWindow::for_group(&c.maintenance, "DNS (.dk)");
    assert!(!in_dk[0].components.contains(&"ns.lab".to_string()));
    // Plain: the nameserver in every group; a group component by its name.
    let c = ok(&window("\"ns.lab\", \"DNS (.dk)\""));
    let w = &c.maintenance[0];
    assert!(w.covers("DNS (.se)", "ns.lab") && w.covers("DNS (.dk)", "ns.lab"));
    assert!(w.covers("", "DNS (.dk)"));
    // A qualified name of a nameserver the group does not have is an error.
    let text = window("\"DNS (.dk)/other.lab\"");
    assert_has(
        &err(&text),
        &[
            "maintenance #1: components",
            "\"DNS (.dk)/other.lab\" is not a known component",
            "group/nameserver",
        ],
    );
}

#[test]
fn canary_errors_name_the_canary_and_key() {
    let e = err(&format!(
        "{MINIMAL}[[canary]]\nname = \"k\"\naddress = \"not an address\"\n"
    ));
    assert!(e.contains("canary #1: address"), "{e}");
    let e = err(&format!(
        "{MINIMAL}[[canary]]\nname = \"k\"\naddress = \"127.0.2.1\"\ntransport = \"sctp\"\n"
    ));
    assert!(
        e.contains("canary #1: transport: unknown transport \"sctp\""),
        "{e}"
    );
    let e = err(&format!(
        "{MINIMAL}[[canary]]\nname = \" \"\naddress = \"127.0.2.1\"\n"
    ));
    assert!(e.contains("canary #1: name must not be empty"), "{e}");
}

#[test]
fn confirmation_durations_may_be_zero() {
    let c = ok(&zone_with("confirm_after = \"0s\"\nclear_after = \"0s\""));
    assert_eq!(c.zones[0].thresholds.confirm_after, Duration::ZERO);
    let e = err(&zone_with("stats_window = \"0s\""));
    assert!(e.contains("stats_window must be greater than zero"), "{e}");
}

#[test]
fn shipped_status_page_config_has_every_component() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let c = load(&root.join("config/dk-status-page.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.zones[0].nameservers.len(), 7);
    let mut names: Vec<&str> = c
        .groups
        .iter()
        .flat_map(|g| g.components.iter().map(|c| c.name.as_str()))
        .collect();
    names.sort();
    let mut want = vec![
        "Website",
        "Self-Service Portal",
        "Registrar Portal",
        "Whois (web)",
        "Whois (text)",
        "Whois API",
        "EPP",
        "DAS",
        "Administrative services",
        "Zonemaster",
        "Stats",
        "Sandbox environment",
    ];
    want.sort();
    assert_eq!(names, want);
    // dk.toml stays nameservers only.
    let dk = load(&root.join("config/dk.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(dk.groups.is_empty());
}

const GROUP: &str = "\n[[group]]\nname = \"Registry\"\n[[group.component]]\nname = \"EPP\"\n";

fn with_check(check: &str) -> String {
    format!("{MINIMAL}{GROUP}[[group.component.check]]\n{check}\n")
}

#[test]
fn groups_components_and_checks_are_read() {
    let c = ok(&with_check(
        "kind = \"epp\"\naddresses = [\"127.0.0.1\", \"[::1]:7000\"]\nserver_name = \"epp.lab\"\ninterval = \"20s\"\ntimeout = \"5s\"",
    ));
    let g = &c.groups[0];
    assert_eq!((g.name.as_str(), g.partial_outage_share), ("Registry", 0.5));
    let comp = &g.components[0];
    assert_eq!(comp.thresholds, ServiceThresholds::default());
    let check = &comp.checks[0];
    assert_eq!(check.kind(), crate::probe::Kind::Epp);
    assert_eq!(
        (check.interval, check.timeout),
        (Duration::from_secs(20), Duration::from_secs(5))
    );
    assert_eq!(
        check.endpoint,
        Endpoint::Addresses(vec![
            "127.0.0.1:700".parse().unwrap(),
            "[::1]:7000".parse().unwrap()
        ])
    );
    assert_eq!(
        check
            .spec_for(Some("127.0.0.1:700".parse().unwrap()))
            .target(),
        "epp://epp.lab@127.0.0.1:700"
    );
    // A host is resolved later; whois gets port 43 by default.
    let c = ok(&with_check(
        "kind = \"whois\"\nhost = \"whois.example.dk.\"\nquery = \"example.dk\"\nexpect = '(?m)^Domain:'",
    ));
    assert_eq!(
        c.groups[0].components[0].checks[0].endpoint,
        Endpoint::Host {
            name: "whois.example.dk".into(),
            port: 43
        }
    );
    let c = ok(&with_check(
        "kind = \"http\"\nurl = \"https://www.example.dk/\"\nexpect_status = \"200,3xx\"\nbody = \"Punktum\"",
    ));
    assert_eq!(c.groups[0].components[0].checks[0].endpoint, Endpoint::Url);
}

#[test]
fn check_errors_name_group_component_check_and_key() {
    let e = err(&with_check("kind = \"smtp\"\nhost = \"a.example\""));
    assert_has(
        &e,
        &[
            "t.toml:",
            "group \"Registry\": component \"EPP\": check #1: unknown kind \"smtp\"",
            "\"tcp\", \"tls\", \"http\", \"whois\" or \"epp\"",
        ],
    );
    let e = err(&with_check(
        "kind = \"tcp\"\nhost = \"a.example\"\nport = 1\nurl = \"http://x/\"",
    ));
    assert_has(
        &e,
        &[
            "check #1 (tcp): key `url` does not apply to kind \"tcp\"",
            "keys here: kind, interval, timeout, host",
        ],
    );
    let e = err(&with_check("kind = \"tcp\"\nhost = \"a.example\""));
    assert_has(&e, &["check #1 (tcp): port is missing"]);
    let e = err(&with_check("kind = \"tls\""));
    assert_has(&e, &["exactly one of host"]);
    let e = err(&with_check("kind = \"whois\"\naddress = \"192.0.2.1\""));
    assert_has(&e, &["query is missing"]);
    let e = err(&with_check(
        "kind = \"tcp\"\naddress = \"192.0.2.1:4343\"\nexpect = \"(\"",
    ));
    assert_has(&e, &["expect: not a valid regular expression"]);
    let e = err(&with_check("kind = \"http\"\nurl = \"ftp://x/\""));
    assert_has(&e, &["check #1 (http): url:", "http:// or https://"]);
    let e = err(&with_check(
        "kind = \"http\"\nurl = \"http://x/\"\ntimeout = \"1m\"",
    ));
    assert_has(&e, &["timeout (1m) must be shorter than interval (30s)"]);
    let e = err(&with_check(
        "kind = \"http\"\nurl = \"http://x/\"\nexpect_status = \"abc\"",
    ));
    assert_has(&e, &["expect_status:"]);
    let e = err(&with_check("kind = \"dns_soa\""));
    assert_has(&e, &["configured through [[zone]]"]);
    let e = err(&with_check(
        "kind = \"tls\"\nhost = \"a.example\"\nca_file = \"/nonexistent/ca.pem\"",
    ));
    assert_has(&e, &["check #1 (tls):", "/nonexistent/ca.pem"]);
    // A typo gets the closest key and the table it is in.
    let e = err(&with_check("kind = \"tcp\"\nhots = \"a.example\""));
    assert_has(&e, &["group \"Registry\": component \"EPP\": check #1: unknown key `hots`; did you mean `host`?"]);
    let e = err(&with_check(
        "kind = \"tcp\"\nhost = \"a.example\"\nport = \"43\"",
    ));
    assert_has(&e, &["port: wrong type", "write a port number"]);
}

#[test]
fn group_errors() {
    let e = err(&format!("{MINIMAL}\n[[group]]\nname = \"Registry\"\n"));
    assert_has(&e, &["group \"Registry\": no components"]);
    let e = err(&format!("{MINIMAL}{GROUP}"));
    assert_has(&e, &["component \"EPP\": no checks"]);
    let e = err(&format!("{MINIMAL}\n[[group]]\nname = \"DNS (.dk)\"\n"));
    assert_has(&e, &["already called \"DNS (.dk)\""]);
    let e = err(&format!("{MINIMAL}\n[[group]]\nname = \"a/b\"\n"));
    assert_has(&e, &["contains `/`"]);
    let twice = format!("{}[[group.component.check]]\nkind = \"tcp\"\naddress = \"192.0.2.1:1\"\n[[group.component]]\nname = \"epp\"\n[[group.component.check]]\nkind = \"tcp\"\naddress = \"192.0.2.1:1\"\n", MINIMAL.to_string() + GROUP);
    assert_has(&err(&twice), &["component \"epp\" is listed twice"]);
}

#[test]
fn maintenance_names_service_components_like_nameservers() {
    let text = format!(
        "{}[[maintenance]]\ncomponents = [\"registry/epp\", \"Registry\"]\nstart = \"2026-06-16T06:00:00Z\"\nend = \"2026-06-17T06:00:00Z\"\n",
        with_check("kind = \"tcp\"\naddress = \"192.0.2.1:1\"")
    );
    let c = ok(&text);
    assert_eq!(
        c.maintenance[0].components,
        vec!["Registry/EPP", "Registry"]
    );
    assert!(c.maintenance[0].covers("Registry", "EPP"));
    assert!(!c.maintenance[0].covers("Other", "EPP"));
}

#[test]
fn store_minute_retention_covers_the_day_charts() {
    let c = ok(&format!("{MINIMAL}\n[store]\nminute_retention = \"1d\"\n"));
    assert_eq!(c.store.minute_retention, Duration::from_secs(86_400));
    let e = err(&format!("{MINIMAL}\n[store]\nminute_retention = \"12h\"\n"));
    assert!(e.contains("t.toml:9:"), "{e}");
    assert!(
        e.contains("minute_retention (and retention) must be at least 1d"),
        "{e}"
    );
    // A short retention shortens the minutes too: named at retention.
    let e = err(&format!("{MINIMAL}\n[store]\nretention = \"6h\"\n"));
    assert!(e.contains("t.toml:9:"), "{e}");
    assert!(e.contains("at least 1d"), "{e}");
}
