//! The HTTP surface ("Exposition") against a running daemon probing in-process
//! lab servers: `/metrics` (families, label sets, buckets, removed series,
//! `promtool check metrics`), `/api/v1/*` (and its consistency with the metrics),
//! the Statuspage v2 documents, health and readiness, error responses, reload
//! over HTTP and SIGHUP, and the OpenAPI document and metrics table in `docs/`.

mod checks_support;
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::{closed_port, get_json, http, wait_until, Mode};
use nsprobe::metrics::{Kind, DURATION_BUCKETS, FAMILIES};
use serde_json::Value;

use common::daemon_lab::{find_server, server, start, status, wait_ready, zone, Lab, GROUP, ZONE};

// ---------------------------------------------------------------------------
// A small parser of the Prometheus text format (enough for what nsprobe emits).

/// One sample line.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed scrape: samples and `# TYPE` lines.
#[derive(Debug)]
struct Scrape {
    text: String,
    samples: Vec<Sample>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    fn parse(text: String) -> Scrape {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE line");
                types.insert(name.to_string(), kind.to_string());
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            samples.push(parse_sample(line));
        }
        Scrape {
            text,
            samples,
            types,
        }
    }

    /// Samples of `name` whose labels include every `(label, value)` of `with`.
    fn select(&self, name: &str, with: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                with.iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// Sum of the matching samples.
    fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.select(name, with).iter().map(|s| s.value).sum()
    }

    /// The value of the one matching sample.
    fn one(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        let found = self.select(name, with);
        assert_eq!(
            found.len(),
            1,
            "exactly one {name} with {with:?}, found {found:?}\n{}",
            self.text
        );
        found[0].value
    }
}

fn parse_sample(line: &str) -> Sample {
    let (name, rest) = match line.find(['{', ' ']) {
        Some(i) => line.split_at(i),
        None => panic!("bad sample line {line:?}"),
    };
    let mut labels = BTreeMap::new();
    let mut rest = rest;
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '}' {
                end = Some(i);
                break;
            }
            if c == ',' {
                continue;
            }
            // label name up to '='
            let mut key = String::from(c);
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "in {line:?}");
            let mut value = String::new();
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => match chars.next().map(|(_, c)| c) {
                        Some('n') => value.push('\n'),
                        Some(other) => value.push(other),
                        None => panic!("bad escape in {line:?}"),
                    },
                    '"' => break,
                    other => value.push(other),
                }
            }
            labels.insert(key, value);
        }
        let end = end.unwrap_or_else(|| panic!("unterminated labels in {line:?}"));
        rest = &body[end + 1..];
    }
    let value = rest
        .split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("no value in {line:?}"));
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse()
            .unwrap_or_else(|e| panic!("bad value in {line:?}: {e}")),
    };
    Sample {
        name: name.to_string(),
        labels,
        value,
    }
}

async fn scrape(addr: SocketAddr) -> Scrape {
    let (code, text) = http(addr, "GET", "/metrics").await;
    assert_eq!(code, 200, "{text}");
    Scrape::parse(text)
}

/// Checks every family of FAMILIES has series with exactly its label set and
/// the right `# TYPE`, and that nothing outside FAMILIES is exported.
fn assert_families(m: &Scrape) {
    let mut known = BTreeSet::new();
    for f in FAMILIES {
        let (ty, names): (&str, Vec<String>) = match f.kind {
            Kind::Counter => ("counter", vec![f.name.to_string()]),
            Kind::Gauge => ("gauge", vec![f.name.to_string()]),
            Kind::Histogram => (
                "histogram",
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .map(|s| format!("{}{s}", f.name))
                    .collect(),
            ),
        };
        assert_eq!(
            m.types.get(f.name).map(String::as_str),
            Some(ty),
            "# TYPE of {}",
            f.name
        );
        for n in &names {
            known.insert(n.clone());
            let series = m.select(n, &[]);
            assert!(!series.is_empty(), "no series of {n}:\n{}", m.text);
            let mut want: BTreeSet<String> = f.labels.iter().map(|l| l.to_string()).collect();
            if n.ends_with("_bucket") {
                want.insert("le".into());
            }
            for s in series {
                let got: BTreeSet<String> = s.labels.keys().cloned().collect();
                assert_eq!(got, want, "labels of {s:?}");
            }
        }
    }
    for s in &m.samples {
        assert!(
            known.contains(&s.name),
            "{} is exported but not in FAMILIES",
            s.name
        );
    }
}

/// Writes `body` to `$NSPROBE_DUMP_DIR/name` when that variable is set (used to
/// capture real responses for README.md).
fn dump(name: &str, body: &str) {
    if let Ok(dir) = std::env::var("NSPROBE_DUMP_DIR") {
        std::fs::create_dir_all(&dir).expect("dump dir");
        std::fs::write(Path::new(&dir).join(name), body).expect("dump");
    }
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_export_every_family_consistent_with_the_json_api() {
    let lab = Lab::new(2, 10).await;
    let exp = (std::time::SystemTime::now() + Duration::from_secs(30 * 86400))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    for (i, s) in lab.servers.iter().enumerate() {
        s.set_rrsig_expiration(Some(exp));
        s.set_nsid(Some(&format!("lab-{}", i + 1)));
    }
    // A service component with a TLS check against a rustls server (a test CA's
    // certificate): nsprobe_check_* and nsprobe_tls_cert_expiry_timestamp_seconds.
    let ca = checks_support::TestCa::new();
    let ca_file = lab.dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let tls = checks_support::Responder::tls(
        checks_support::handler(|c| async move {
            let _held = c;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }),
        &ca.valid(30),
    )
    .await;
    let group = format!(
        "\n[[group]]\nname = \"Registry\"\n[[group.component]]\nname = \"EPP\"\ninterval = \"300ms\"\n\
         timeout = \"200ms\"\n[[group.component.check]]\nkind = \"tls\"\naddress = \"{}\"\n\
         server_name = \"localhost\"\nca_file = \"{}\"\n",
        tls.addr,
        ca_file.display()
    );
    // A third nameserver without addresses whose name cannot be resolved
    // (the resolver is a closed loopback port): nsprobe_resolve_failures_total. A peer
    // at the same closed port: nsprobe_peer_* (a hub whose peer is down).
    let resolver = closed_port().await;
    let text = lab.text(
        &[0, 1],
        "enable_reload = true",
        "dnssec = true",
        &format!(
            "[resolver]\nservers = [\"{resolver}\"]\ntimeout = \"200ms\"\n\
             [[canary]]\nname = \"canary.lab\"\naddress = \"{}\"\n\
             [[peer]]\nurl = \"http://{resolver}\"\ntoken = \"0123456789abcdef\"\ninterval = \"200ms\"\n",
            lab.servers[0].addr()
        ),
    ) + "[[zone.nameservers]]\nname = \"ns-unresolvable.lab\"\n"
        + &group;
    let d = start(&lab.write(&text)).await;
    wait_ready(&d).await;
    let addr = d.http_addr;
    wait_until("TLS check up", Duration::from_secs(5), || async move {
        scrape(addr)
            .await
            .sum("nsprobe_check_up", &[("component", "EPP")])
            >= 1.0
    })
    .await;

    // A publication seen first on ns1 then on ns2 (propagation), then ns2 going
    // back (a regression).
    lab.servers[0].set_serial(11);
    wait_until("serial 11 seen", Duration::from_secs(3), || async move {
        zone(&status(addr).await)["serial"] == 11
    })
    .await;
    lab.servers[1].set_serial(11);
    wait_until("ns2 propagated", Duration::from_secs(3), || async move {
        scrape(addr).await.sum(
            "nsprobe_serial_propagation_seconds_count",
            &[("server", "ns2.lab")],
        ) >= 1.0
    })
    .await;
    lab.servers[1].set_serial(10);
    wait_until("ns2 regression", Duration::from_secs(3), || async move {
        scrape(addr)
            .await
            .sum("nsprobe_serial_regressions_total", &[("server", "ns2.lab")])
            >= 1.0
    })
    .await;
    // Let both transports of ns2 answer 10 so JSON and metrics are settled.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let m = scrape(addr).await;
    assert_families(&m);
    common::promtool::check_metrics(&m.text);
    dump("metrics.txt", &m.text);

    // Histogram buckets: 100 µs … 5 s, then +Inf.
    let les: Vec<f64> = m
        .select(
            "nsprobe_probe_duration_seconds_bucket",
            &[("server", "ns1.lab"), ("transport", "udp")],
        )
        .iter()
        .map(|s| s.labels["le"].parse::<f64>().expect("le"))
        .collect();
    let mut want = DURATION_BUCKETS.to_vec();
    want.push(f64::INFINITY);
    assert_eq!(les, want);
    assert_eq!(DURATION_BUCKETS.first(), Some(&0.0001));
    assert_eq!(DURATION_BUCKETS.last(), Some(&5.0));

    // Values agree with the JSON API.
    let (_, v) = get_json(addr, "/api/v1/status").await;
    dump("status.json", &serde_json::to_string_pretty(&v).unwrap());
    let z = zone(&v);
    assert_eq!(z["serial"], 11);
    assert_eq!(
        m.one("nsprobe_zone_soa_serial", &[("zone", ZONE)]),
        z["serial"].as_f64().unwrap()
    );
    assert_eq!(
        m.one("nsprobe_zone_stale", &[("zone", ZONE)]),
        if z["stale"] == true { 1.0 } else { 0.0 }
    );
    assert_eq!(
        m.one("nsprobe_zone_stale_threshold_seconds", &[("zone", ZONE)]),
        z["stale_after_seconds"].as_f64().unwrap()
    );
    let mut targets_seen = 0;
    for name in ["ns1.lab", "ns2.lab"] {
        let s = server(&v, name);
        let a = s["targets"][0]["address"].as_str().unwrap().to_string();
        let labels = [("server", name), ("address", a.as_str())];
        assert_eq!(
            m.one("nsprobe_server_soa_serial", &labels),
            s["serial"].as_f64().unwrap(),
            "{name}"
        );
        assert_eq!(
            m.one("nsprobe_server_serial_lag", &labels),
            s["lag"].as_f64().unwrap(),
            "{name}"
        );
        assert_eq!(
            m.one(
                "nsprobe_component_status",
                &[
                    ("component", name),
                    ("status", s["status"].as_str().unwrap())
                ]
            ),
            1.0
        );
        assert_eq!(m.one("nsprobe_server_addresses", &[("server", name)]), 1.0);
        assert_eq!(
            m.one("nsprobe_nsid_info", &labels),
            1.0,
            "nsid series of {name}"
        );
        assert_eq!(
            m.select("nsprobe_nsid_info", &labels)[0].labels["nsid"],
            s["targets"][0]["nsid"].as_str().unwrap()
        );
        assert_eq!(
            m.one("nsprobe_soa_rrsig_expiration_timestamp_seconds", &labels),
            f64::from(exp)
        );
        for t in s["targets"].as_array().unwrap() {
            targets_seen += 1;
            let up = m.one(
                "nsprobe_target_up",
                &[
                    ("server", name),
                    ("address", t["address"].as_str().unwrap()),
                    ("transport", t["transport"].as_str().unwrap()),
                ],
            );
            assert_eq!(up, if t["up"] == true { 1.0 } else { 0.0 }, "{t}");
            assert!(t["rrsig_expires_at"].is_string(), "{t}");
        }
    }
    assert_eq!(targets_seen, 4, "2 servers × udp+tcp");
    assert_eq!(server(&v, "ns2.lab")["serial"], 10);
    assert_eq!(server(&v, "ns2.lab")["lag"], 1);
    assert!(
        m.sum(
            "nsprobe_resolve_failures_total",
            &[("server", "ns-unresolvable.lab")]
        ) >= 1.0
    );
    assert_eq!(
        m.one(
            "nsprobe_server_addresses",
            &[("server", "ns-unresolvable.lab")]
        ),
        0.0
    );
    assert_eq!(
        m.one(
            "nsprobe_component_status",
            &[
                ("component", GROUP),
                ("group", ""),
                ("status", z["status"].as_str().unwrap())
            ]
        ),
        1.0
    );
    assert_eq!(m.one("nsprobe_config_last_reload_successful", &[]), 1.0);
    assert_eq!(
        m.one(
            "nsprobe_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    d.shutdown().await.expect("clean shutdown");
}

/// Sum of `nsprobe_probes_total` (every result) of one server.
fn probes_of(m: &Scrape, server: &str) -> f64 {
    m.sum("nsprobe_probes_total", &[("server", server)])
}

/// Every sample mentioning `name` as server or component.
fn series_of<'a>(m: &'a Scrape, name: &str) -> Vec<&'a Sample> {
    m.samples
        .iter()
        .filter(|s| {
            s.labels.get("server").map(String::as_str) == Some(name)
                || s.labels.get("component").map(String::as_str) == Some(name)
        })
        .collect()
}

async fn post_reload(addr: SocketAddr) -> (u16, Value) {
    let (code, body) = http(addr, "POST", "/-/reload").await;
    let v = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("reload body is not JSON ({e}): {body}"));
    (code, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_adds_and_removes_targets_keeping_state_and_survives_a_bad_file() {
    let lab = Lab::new(3, 100).await;
    lab.servers[1].set_mode(Mode::Silent);
    let only = |which: &[usize]| lab.text(which, "enable_reload = true", "", "");
    let d = start(&lab.write(&only(&[0, 1]))).await;
    wait_ready(&d).await;
    let addr = d.http_addr;

    // ns2 (silent) builds up consecutive failures; ns1 builds up probe counts.
    wait_until(
        "ns2 down for a while",
        Duration::from_secs(4),
        || async move {
            let v = status(addr).await;
            server(&v, "ns2.lab")["targets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["up"] == false && t["consecutive_failures"].as_u64().unwrap() >= 5)
        },
    )
    .await;
    let before = status(addr).await;
    dump(
        "status-failing.json",
        &serde_json::to_string_pretty(&before).unwrap(),
    );
    let m_before = scrape(addr).await;
    let ns1_probes = probes_of(&m_before, "ns1.lab");
    let (_, rt) = get_json(addr, "/api/v1/zones/dk./servers/ns1.lab/response-times").await;
    let ns1_history: u64 = rt["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["probes"].as_u64().unwrap())
        .sum();
    assert!(ns1_probes >= 4.0 && ns1_history >= 4, "{ns1_probes} {rt}");
    assert!(find_server(&before, "ns3.lab").is_none());

    // Add ns3.
    lab.write(&only(&[0, 1, 2]));
    let (code, v) = post_reload(addr).await;
    assert_eq!((code, &v), (200, &serde_json::json!({"reloaded": true})));
    let after = status(addr).await;
    let ns3 = server(&after, "ns3.lab");
    assert_eq!(ns3["targets"].as_array().unwrap().len(), 2, "{after}");
    // Unchanged servers keep their state.
    for (b, a) in server(&before, "ns2.lab")["targets"]
        .as_array()
        .unwrap()
        .iter()
        .zip(server(&after, "ns2.lab")["targets"].as_array().unwrap())
    {
        assert_eq!(a["address"], b["address"]);
        assert_eq!(a["up"], false, "{a}");
        assert!(
            a["consecutive_failures"].as_u64() >= b["consecutive_failures"].as_u64(),
            "consecutive failures kept: {b} -> {a}"
        );
    }
    let m_after = scrape(addr).await;
    assert!(probes_of(&m_after, "ns1.lab") >= ns1_probes);
    let (_, rt) = get_json(addr, "/api/v1/zones/dk./servers/ns1.lab/response-times").await;
    let h: u64 = rt["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["probes"].as_u64().unwrap())
        .sum();
    assert!(h >= ns1_history, "history kept: {ns1_history} -> {h}");
    wait_until(
        "ns3 probed and in metrics",
        Duration::from_secs(3),
        || async move {
            let m = scrape(addr).await;
            m.one("nsprobe_server_addresses", &[("server", "ns3.lab")]) == 1.0
                && probes_of(&m, "ns3.lab") >= 2.0
                && m.select("nsprobe_target_up", &[("server", "ns3.lab")])
                    .len()
                    == 2
        },
    )
    .await;

    // ns1 publishes first, goes back (propagation and regression series), then is removed.
    lab.servers[0].set_serial(101);
    lab.servers[2].set_serial(101);
    wait_until("ns1 propagated", Duration::from_secs(3), || async move {
        scrape(addr).await.sum(
            "nsprobe_serial_propagation_seconds_count",
            &[("server", "ns1.lab")],
        ) >= 1.0
    })
    .await;
    lab.servers[0].set_serial(100);
    wait_until("ns1 regression", Duration::from_secs(3), || async move {
        scrape(addr)
            .await
            .sum("nsprobe_serial_regressions_total", &[("server", "ns1.lab")])
            >= 1.0
    })
    .await;
    let good = only(&[1, 2]);
    lab.write(&good);
    assert_eq!(post_reload(addr).await.0, 200);
    let v = status(addr).await;
    assert!(find_server(&v, "ns1.lab").is_none(), "{v}");
    let m = scrape(addr).await;
    assert_eq!(
        series_of(&m, "ns1.lab").len(),
        0,
        "ns1.lab series left:\n{}",
        m.text
    );
    assert!(!m.text.contains("ns1.lab"), "ns1.lab left in:\n{}", m.text);
    let (code, _) = get_json(addr, "/api/v1/zones/dk./servers/ns1.lab/response-times").await;
    assert_eq!(code, 404);

    // A bad file: 500, the old config keeps probing, the metric says 0.
    let ok_at = m.one("nsprobe_config_last_reload_success_timestamp_seconds", &[]);
    lab.write("[[zone]]\nname = \"dk.\"\nbogus = 1\n");
    let (code, v) = post_reload(addr).await;
    assert_eq!(code, 500, "{v}");
    dump("reload-500.json", &v.to_string());
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("previous config kept"),
        "{v}"
    );
    let m = scrape(addr).await;
    assert_eq!(m.one("nsprobe_config_last_reload_successful", &[]), 0.0);
    assert_eq!(
        m.one("nsprobe_config_last_reload_success_timestamp_seconds", &[]),
        ok_at
    );
    let ns3_probes = probes_of(&m, "ns3.lab");
    wait_until(
        "old config still probing",
        Duration::from_secs(2),
        || async move { probes_of(&scrape(addr).await, "ns3.lab") > ns3_probes },
    )
    .await;
    assert!(find_server(&status(addr).await, "ns3.lab").is_some());

    // A good file again: 1.
    lab.write(&good);
    assert_eq!(post_reload(addr).await.0, 200);
    let m = scrape(addr).await;
    assert_eq!(m.one("nsprobe_config_last_reload_successful", &[]), 1.0);
    assert!(m.one("nsprobe_config_last_reload_success_timestamp_seconds", &[]) >= ok_at);

    // SIGHUP does the same: ns1 comes back.
    lab.write(&only(&[0, 1, 2]));
    let kill = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    wait_until(
        "SIGHUP reload adds ns1",
        Duration::from_secs(3),
        || async move { find_server(&status(addr).await, "ns1.lab").is_some() },
    )
    .await;
    d.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuspage_documents_have_the_v2_shape_and_stable_ids() {
    let lab = Lab::new(3, 5).await;
    let now = std::time::SystemTime::now();
    let fmt = |t: std::time::SystemTime| humantime::format_rfc3339_seconds(t).to_string();
    let hour = Duration::from_secs(3600);
    let tail = format!(
        "[[maintenance]]\ncomponents = [\"ns2.lab\"]\nstart = \"{}\"\nend = \"{}\"\nreason = \"Network work\"\n\
         [[maintenance]]\ncomponents = [\"{GROUP}\"]\nstart = \"{}\"\nend = \"{}\"\nreason = \"Key rollover\"\n\
         [[maintenance]]\ncomponents = [\"ns1.lab\"]\nstart = \"{}\"\nend = \"{}\"\nreason = \"Long over\"\n",
        fmt(now - hour),
        fmt(now + hour),
        fmt(now + 24 * hour),
        fmt(now + 25 * hour),
        fmt(now - 3 * hour),
        fmt(now - 2 * hour),
    );
    // ns3's UDP and TCP targets fall up to one interval apart: confirm_after 3 s publishes
    // one change to major_outage, so the incident opens as the server one (as with the
    // default 30 s); with 0 s a loaded machine opened it as a partial outage.
    let cfg = lab.config("confirm_after = \"3s\"", &tail);
    lab.servers[2].set_mode(Mode::Silent);
    let d = start(&cfg).await;
    wait_ready(&d).await;
    let addr = d.http_addr;
    wait_until("ns3 major outage", Duration::from_secs(10), || async move {
        server(&status(addr).await, "ns3.lab")["status"] == "major_outage"
    })
    .await;

    let (code, s) = get_json(addr, "/api/v2/summary.json").await;
    assert_eq!(code, 200);
    dump("summary.json", &serde_json::to_string_pretty(&s).unwrap());
    let page = &s["page"];
    for k in ["id", "name", "url", "time_zone", "updated_at"] {
        assert!(page[k].is_string(), "page.{k}: {s}");
    }
    assert!(humantime::parse_rfc3339(page["updated_at"].as_str().unwrap()).is_ok());
    let statuses = [
        "operational",
        "degraded_performance",
        "partial_outage",
        "major_outage",
        "under_maintenance",
    ];
    let comps = s["components"].as_array().expect("components");
    assert_eq!(comps.len(), 4, "one group and three servers: {s}");
    let group = &comps[0];
    assert_eq!(group["name"], GROUP);
    assert_eq!(group["group"], true);
    assert!(group["group_id"].is_null());
    assert_eq!(group["position"], 1);
    let members: Vec<&Value> = comps[1..].iter().collect();
    let member_ids: Vec<Value> = members.iter().map(|c| c["id"].clone()).collect();
    assert_eq!(group["components"], Value::Array(member_ids));
    for (i, c) in members.iter().enumerate() {
        assert_eq!(c["name"], format!("ns{}.lab", i + 1));
        assert_eq!(c["group"], false);
        assert_eq!(c["group_id"], group["id"]);
        assert_eq!(c["position"], i + 1);
        assert!(c.get("components").is_none(), "{c}");
    }
    let mut ids = BTreeSet::new();
    for c in comps {
        for k in ["id", "name", "created_at", "updated_at", "page_id"] {
            assert!(c[k].is_string(), "{k} of {c}");
        }
        assert!(
            ids.insert(c["id"].as_str().unwrap().to_string()),
            "unique ids"
        );
        assert!(statuses.contains(&c["status"].as_str().unwrap()), "{c}");
        assert!(humantime::parse_rfc3339(c["updated_at"].as_str().unwrap()).is_ok());
        assert_eq!(c["page_id"], page["id"]);
        for k in ["showcase", "only_show_if_degraded", "group"] {
            assert!(c[k].is_boolean(), "{k} of {c}");
        }
    }
    assert_eq!(members[0]["status"], "operational");
    assert_eq!(members[1]["status"], "under_maintenance");
    assert_eq!(members[2]["status"], "major_outage");
    assert_eq!(group["status"], "degraded_performance");
    assert_eq!(
        s["status"],
        serde_json::json!({"indicator": "minor", "description": "Minor Service Outage"})
    );
    // ns3 is unreachable: one incident, in the operator's words (tests/incidents.rs has more).
    let incidents = s["incidents"].as_array().expect("incidents");
    assert_eq!(incidents.len(), 1, "{s}");
    assert_eq!(
        incidents[0]["name"],
        "Network connectivity issue affecting ns3.lab"
    );
    assert_eq!(incidents[0]["status"], "investigating");
    let sm = s["scheduled_maintenances"]
        .as_array()
        .expect("maintenances");
    assert_eq!(sm.len(), 2, "past window left out: {s}");
    let by_name = |n: &str| sm.iter().find(|m| m["name"] == n).expect(n).clone();
    let active = by_name("Network work");
    assert_eq!(active["status"], "in_progress");
    assert_eq!(active["impact"], "maintenance");
    assert_eq!(active["scheduled_for"], fmt(now - hour));
    assert_eq!(active["scheduled_until"], fmt(now + hour));
    assert_eq!(active["started_at"], fmt(now - hour));
    assert_eq!(active["components"][0]["id"], members[1]["id"]);
    let future = by_name("Key rollover");
    assert_eq!(future["status"], "scheduled");
    assert!(future["started_at"].is_null());
    assert_eq!(future["components"][0]["id"], group["id"]);

    let (code, c) = get_json(addr, "/api/v2/components.json").await;
    assert_eq!(code, 200);
    dump(
        "components.json",
        &serde_json::to_string_pretty(&c).unwrap(),
    );
    assert_eq!(c["components"], s["components"]);
    assert_eq!(c["page"]["id"], page["id"]);
    assert_eq!(
        c.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["components", "page"]
    );
    let (code, st) = get_json(addr, "/api/v2/status.json").await;
    assert_eq!(code, 200);
    dump(
        "page-status.json",
        &serde_json::to_string_pretty(&st).unwrap(),
    );
    assert_eq!(st["status"], s["status"]);
    assert_eq!(st["page"]["id"], page["id"]);

    // Ids are the same after a restart.
    d.shutdown().await.expect("clean shutdown");
    let d = start(&cfg).await;
    let (_, s2) = get_json(d.http_addr, "/api/v2/summary.json").await;
    assert_eq!(s2["page"]["id"], page["id"]);
    let ids2: BTreeSet<String> = s2["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids2, ids);
    let sm_ids = |v: &Value| -> BTreeSet<String> {
        v["scheduled_maintenances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(sm_ids(&s2), sm_ids(&s));
    d.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_health_and_error_responses() {
    // One silent server, 1 s interval and 500 ms timeout: the first round cannot
    // be done for at least 500 ms after start.
    let lab = Lab::new(2, 3).await;
    lab.servers[1].set_mode(Mode::Silent);
    let cfg = lab.write(&lab.text(&[0, 1], "", "interval = \"1s\"\ntimeout = \"500ms\"", ""));
    let d = start(&cfg).await;
    let addr = d.http_addr;
    let (code, v) = get_json(addr, "/readyz").await;
    assert_eq!((code, &v["ready"]), (503, &Value::Bool(false)), "{v}");
    assert!(v["reason"].is_string());
    dump("readyz-503.json", &v.to_string());
    assert_eq!(status(addr).await["ready"], false);
    assert_eq!(
        http(addr, "GET", "/healthz").await,
        (200, "ok\n".to_string())
    );
    wait_until("ready", Duration::from_secs(4), || async move {
        http(addr, "GET", "/readyz").await.0 == 200
    })
    .await;
    assert_eq!(get_json(addr, "/readyz").await.1["ready"], true);
    assert_eq!(status(addr).await["ready"], true);

    let expect = |code: u16, path: &'static str, needle: &'static str| async move {
        let (got, body) = http(addr, "GET", path).await;
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"));
        assert_eq!(got, code, "GET {path}: {body}");
        let msg = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("error in {v}"));
        assert!(msg.contains(needle), "GET {path}: {msg:?} lacks {needle:?}");
        dump(&format!("error-{code}.json"), &body);
    };
    let rt = "/api/v1/zones/dk./servers/ns1.lab/response-times";
    expect(
        404,
        "/api/v1/zones/se./servers/ns1.lab/response-times",
        "no such zone",
    )
    .await;
    expect(
        404,
        "/api/v1/zones/dk./servers/ns9.lab/response-times",
        "ns9.lab",
    )
    .await;
    expect(404, "/nope", "no such endpoint").await;
    expect(404, "/api/v1/status/extra", "no such endpoint").await;
    expect(404, "/api/v2/incidentz.json", "no such endpoint").await;
    for bad in ["0", "1441", "abc", "-1", "1.5", ""] {
        let path: &'static str = Box::leak(format!("{rt}?minutes={bad}").into_boxed_str());
        expect(400, path, "minutes").await;
    }
    expect(
        400,
        "/api/v1/zones/dk./servers/ns1.lab/response-times?hours=1",
        "hours",
    )
    .await;
    expect(
        400,
        "/api/v1/zones/dk./servers/ns1.lab/response-times?minutes=%FF",
        "minutes",
    )
    .await;
    // Zone names: trailing dot optional, any case.
    for path in [
        rt,
        "/api/v1/zones/dk/servers/ns1.lab/response-times?minutes=5",
        "/api/v1/zones/DK./servers/ns1.lab/response-times?minutes=1440",
    ] {
        let (code, v) = get_json(addr, path).await;
        assert_eq!(code, 200, "{path}: {v}");
        assert_eq!(v["zone"], ZONE);
    }
    let (code, v) = get_json(addr, "/api/v1/zones/dk/servers/NS1.Lab/response-times").await;
    assert_eq!((code, &v["server"]), (200, &Value::from("ns1.lab")), "{v}");
    // Wrong method: 405 with a JSON error.
    let (code, body) = http(addr, "GET", "/-/reload").await;
    assert_eq!(code, 405, "{body}");
    assert!(serde_json::from_str::<Value>(&body).unwrap()["error"].is_string());
    // Reload is off unless enabled.
    let (code, v) = post_reload(addr).await;
    assert_eq!(code, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("enable_reload"));
    d.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_times_count_probes_and_loss_per_minute() {
    let lab = Lab::new(2, 1).await;
    lab.servers[1].set_mode(Mode::Silent);
    let d = start(&lab.config("", "")).await;
    wait_ready(&d).await;
    let addr = d.http_addr;
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let series = |server: &'static str| async move {
        let (code, v) = get_json(
            addr,
            &format!("/api/v1/zones/dk./servers/{server}/response-times?minutes=5"),
        )
        .await;
        assert_eq!(code, 200, "{v}");
        v
    };
    let total = |v: &Value| -> (u64, u64) {
        v["points"]
            .as_array()
            .unwrap()
            .iter()
            .fold((0, 0), |(p, f), x| {
                (
                    p + x["probes"].as_u64().unwrap(),
                    f + x["failures"].as_u64().unwrap(),
                )
            })
    };
    // Probes counted: the series agrees with nsprobe_probes_total.
    let a = series("ns1.lab").await;
    let m = scrape(addr).await;
    let b = series("ns1.lab").await;
    dump(
        "response-times.json",
        &serde_json::to_string_pretty(&b).unwrap(),
    );
    let counted = probes_of(&m, "ns1.lab") as u64;
    assert!(
        total(&a).0 <= counted && counted <= total(&b).0,
        "series {} ≤ counter {counted} ≤ series {}",
        total(&a).0,
        total(&b).0
    );
    // ~1.5 s at 200 ms over udp+tcp.
    assert!(total(&b).0 >= 8, "{b}");
    assert_eq!(b["zone"], ZONE);
    assert_eq!(b["server"], "ns1.lab");
    assert_eq!(b["minutes"], 5);
    let points = b["points"].as_array().unwrap();
    assert!(!points.is_empty() && points.len() <= 2, "{b}");
    let mut last = 0;
    for p in points {
        let ts = p["timestamp"].as_u64().unwrap();
        assert_eq!(ts % 60, 0);
        assert!(ts > last, "oldest first");
        last = ts;
        let t = humantime::parse_rfc3339(p["time"].as_str().unwrap()).unwrap();
        assert_eq!(
            t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
            ts
        );
        assert_eq!(p["failures"], 0);
        assert_eq!(p["loss"], 0.0);
        let q: Vec<f64> = ["min_ms", "median_ms", "p95_ms", "max_ms"]
            .iter()
            .map(|k| p[k].as_f64().unwrap_or_else(|| panic!("{k} in {p}")))
            .collect();
        assert!(q[0] > 0.0 && q.windows(2).all(|w| w[0] <= w[1]), "{p}");
        assert!(q[3] < 100.0, "loopback answers within the timeout: {p}");
    }
    // A silent server: every probe lost, no times.
    let s = series("ns2.lab").await;
    let (p, f) = total(&s);
    assert!(p >= 8 && p == f, "{s}");
    for pt in s["points"].as_array().unwrap() {
        assert_eq!(pt["loss"], 1.0, "{pt}");
        assert!(pt["min_ms"].is_null() && pt["median_ms"].is_null(), "{pt}");
    }
    let fails = scrape(addr).await.sum(
        "nsprobe_probes_total",
        &[("server", "ns2.lab"), ("result", "timeout")],
    );
    assert!(fails >= f as f64, "timeouts counted: {fails} vs {f}");
    // Default window.
    let (_, v) = get_json(addr, "/api/v1/zones/dk./servers/ns1.lab/response-times").await;
    assert_eq!(v["minutes"], nsprobe::api::DEFAULT_MINUTES);
    d.shutdown().await.expect("clean shutdown");
}

// ---------------------------------------------------------------------------
// docs/: the OpenAPI document and the metrics table.

fn repo_file(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// `(method, path)` of every operation under `paths:` of docs/openapi.yaml
/// (the document keeps the usual two-space layout).
fn openapi_operations() -> Vec<(String, String)> {
    let doc = repo_file("docs/openapi.yaml");
    let mut ops = Vec::new();
    let mut in_paths = false;
    let mut path: Option<String> = None;
    for line in doc.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_paths = line.trim_end() == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) {
            let p = p.trim_end().trim_end_matches(':');
            path = Some(p.trim_matches(|c| c == '"' || c == '\'').to_string());
        } else if let Some(m) = line.strip_prefix("    ").filter(|l| !l.starts_with(' ')) {
            let m = m.trim_end().trim_end_matches(':');
            if ["get", "post", "put", "delete", "patch", "head"].contains(&m) {
                ops.push((m.to_uppercase(), path.clone().expect("path before method")));
            }
        }
    }
    ops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_openapi_path_is_served() {
    let ops = openapi_operations();
    assert!(
        ops.len() >= 9,
        "operations found in docs/openapi.yaml: {ops:?}"
    );
    let lab = Lab::new(1, 1).await;
    let group = format!(
        "[[group]]\nname = \"Registry\"\n[[group.component]]\nname = \"DAS\"\n\
         interval = \"1s\"\ntimeout = \"500ms\"\n\
         [[group.component.check]]\nkind = \"tcp\"\naddress = \"{}\"\n",
        lab.servers[0].addr()
    );
    let d = start(&lab.config("", &group)).await;
    wait_ready(&d).await;
    // Component ids (the history endpoints) as /api/v2/components.json names them.
    let (_, comps) = get_json(d.http_addr, "/api/v2/components.json").await;
    let das_id = comps["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == "DAS")
        .and_then(|c| c["id"].as_str())
        .expect("DAS has an id")
        .to_string();
    let mut paths = BTreeSet::new();
    for (method, path) in &ops {
        let real = path
            .replace(
                "/api/v1/components/{id}/",
                &format!("/api/v1/components/{das_id}/"),
            )
            .replace("{zone}", "dk.")
            .replace("{server}", "ns1.lab")
            .replace("{group}", "Registry")
            .replace("{component}", "DAS");
        let (code, body) = http(d.http_addr, method, &real).await;
        // No incident has this id: the route answers with its own HTML 404 page (the
        // router's fallback is a JSON "no such endpoint").
        let own_404 =
            path == "/incidents/{id}" && code == 404 && body.contains("Incident not found");
        assert!(
            (200..300).contains(&code) || own_404,
            "{method} {path} ({real}) is not served: {code} {body}"
        );
        paths.insert(path.clone());
    }
    // And the router serves nothing the document does not describe.
    for p in [
        "/metrics",
        "/healthz",
        "/readyz",
        "/api/v1/status",
        "/api/v1/zones/{zone}/servers/{server}/response-times",
        "/api/v1/groups/{group}/components/{component}/response-times",
        "/api/v2/summary.json",
        "/api/v2/components.json",
        "/api/v2/status.json",
        "/-/reload",
        "/",
        "/status",
        "/incidents/{id}",
        "/badge/{component}.svg",
        "/badge/{component}/uptime.svg",
        "/badge/{component}.json",
        "/badge/{component}/uptime.json",
        "/api/v1/uptime",
        "/api/v1/components/{id}/uptime",
        "/api/v1/components/{id}/series",
        "/api/v2/incidents.json",
        "/api/v2/incidents/unresolved.json",
        "/api/v2/scheduled-maintenances.json",
        "/api/v2/scheduled-maintenances/upcoming.json",
        "/api/v2/scheduled-maintenances/active.json",
        "/history.atom",
        "/history.rss",
    ] {
        assert!(paths.contains(p), "{p} missing from docs/openapi.yaml");
    }
    d.shutdown().await.expect("clean shutdown");
}

/// The metrics table of README.md, generated from FAMILIES.
fn metrics_table() -> String {
    let mut t = String::from("| Metric | Type | Labels | Meaning |\n|---|---|---|---|\n");
    for f in FAMILIES {
        let kind = match f.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let labels = if f.labels.is_empty() {
            "—".to_string()
        } else {
            f.labels
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        t.push_str(&format!(
            "| `{}` | {kind} | {labels} | {} |\n",
            f.name,
            f.help.replace('|', "\\|")
        ));
    }
    t
}

#[test]
fn docs_metrics_table_matches_families() {
    const BEGIN: &str = "<!-- metrics-table:begin (generated from FAMILIES by tests/http.rs) -->\n";
    const END: &str = "<!-- metrics-table:end -->";
    let doc = repo_file("README.md");
    let (head, rest) = doc.split_once(BEGIN).expect("begin marker in README.md");
    let (table, tail) = rest.split_once(END).expect("end marker in README.md");
    let want = metrics_table();
    if table != want {
        if std::env::var("NSPROBE_BLESS").as_deref() == Ok("1") {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
            std::fs::write(p, format!("{head}{BEGIN}{want}{END}{tail}")).expect("write docs");
        } else {
            panic!("README.md metrics table is out of date (run with NSPROBE_BLESS=1):\n{want}");
        }
    }
}
