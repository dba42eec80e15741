//! The read model's identities and the daemon loop's independence from I/O:
//! - a nameserver listed in two zones with different fixed addresses is two
//!   components: each zone probes its own addresses, no series is duplicated
//!   (`promtool check metrics` plus an exact duplicate check), Statuspage ids are
//!   distinct and `updated_at` does not flip;
//! - while name resolution hangs (a resolver on loopback that reads and never
//!   answers), the daemon keeps applying probe reports and answers `/readyz`,
//!   `/metrics` and `POST /-/reload` promptly.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use common::daemon_lab::{start, Lab};
use common::{get_json, http, wait_until, LabServer};
use serde_json::Value;

/// Every series (name and label set) appears once; returns the sample lines.
fn assert_no_duplicate_series(text: &str) -> Vec<&str> {
    let mut seen = HashSet::new();
    let mut lines = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let series = line.rsplit_once(' ').expect("sample has a value").0;
        assert!(seen.insert(series), "duplicate series {series}");
        lines.push(line);
    }
    lines
}

const SHARED: &str = "ns.shared.lab";

/// Two zones (`dk.`, `se.`) served by different lab servers, both listing the
/// nameserver `ns.shared.lab` with that zone's own fixed address.
async fn two_zone_lab() -> (Lab, LabServer, LabServer, std::path::PathBuf) {
    let lab = Lab::new(0, 0).await;
    let dk = LabServer::start("dk.", 2026010100).await;
    let se = LabServer::start("se.", 2026020200).await;
    let mut text = format!(
        "[http]\nlisten = \"127.0.0.1:0\"\n[state]\npath = \"{}\"\n",
        lab.dir.path().join("state.json").display()
    );
    for (zone, group, server) in [("dk.", "DNS (.dk)", &dk), ("se.", "DNS (.se)", &se)] {
        text.push_str(&format!(
            "[[zone]]\nname = \"{zone}\"\ncomponent = \"{group}\"\ninterval = \"200ms\"\n\
             timeout = \"100ms\"\nconfirm_after = \"0s\"\nclear_after = \"0s\"\n[[zone.nameservers]]\nname = \"{SHARED}\"\naddresses = [\"{}\"]\n",
            server.addr()
        ));
    }
    // A window on the shared name in one group only (qualified).
    text.push_str(
        "[[maintenance]]\ncomponents = [\"DNS (.se)/ns.shared.lab\"]\n\
         start = \"2020-01-01T00:00:00Z\"\nend = \"2099-01-01T00:00:00Z\"\nreason = \"se work\"\n",
    );
    let path = lab.write(&text);
    (lab, dk, se, path)
}

fn zone_doc<'a>(v: &'a Value, zone: &str) -> &'a Value {
    v["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .find(|z| z["zone"] == zone)
        .unwrap_or_else(|| panic!("zone {zone} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nameserver_in_two_zones_is_two_components() {
    let (_lab, dk, se, path) = two_zone_lab().await;
    let d = start(&path).await;
    let addr = d.http_addr;
    wait_until(
        "both zones answered and evaluated",
        Duration::from_secs(5),
        || async {
            let (_, v) = get_json(addr, "/api/v1/status").await;
            ["dk.", "se."].iter().all(|z| {
                let z = zone_doc(&v, z);
                z["serial"].is_u64() && z["servers"][0]["status"] != "unknown"
            })
        },
    )
    .await;

    // Each zone probes its own address, and gets its own zone's serial.
    let (_, v) = get_json(addr, "/api/v1/status").await;
    for (zone, server, serial) in [("dk.", &dk, 2026010100u64), ("se.", &se, 2026020200)] {
        let z = zone_doc(&v, zone);
        let s = &z["servers"][0];
        assert_eq!(s["name"], SHARED, "{z}");
        let addrs: HashSet<&str> = s["targets"]
            .as_array()
            .expect("targets")
            .iter()
            .map(|t| t["address"].as_str().expect("address"))
            .collect();
        let own = server.addr().to_string();
        assert_eq!(addrs, HashSet::from([own.as_str()]), "{zone}: {z}");
        assert_eq!(s["serial"], serial, "{zone}: {z}");
        assert!(server.queries() > 0);
    }
    // The window names the se. component only.
    assert_eq!(
        zone_doc(&v, "se.")["servers"][0]["status"],
        "under_maintenance"
    );
    assert_eq!(zone_doc(&v, "dk.")["servers"][0]["status"], "operational");

    // No duplicate series; promtool accepts the exposition.
    let (code, text) = http(addr, "GET", "/metrics").await;
    assert_eq!(code, 200);
    common::promtool::check_metrics(&text);
    let lines = assert_no_duplicate_series(&text);
    for want in [
        "nsprobe_maintenance{component=\"ns.shared.lab\",group=\"DNS (.dk)\"} 0",
        "nsprobe_maintenance{component=\"ns.shared.lab\",group=\"DNS (.se)\"} 1",
        "nsprobe_component_status{component=\"ns.shared.lab\",group=\"DNS (.dk)\",status=\"operational\"} 1",
        "nsprobe_server_addresses{server=\"ns.shared.lab\",zone=\"dk.\"} 1",
        "nsprobe_server_addresses{server=\"ns.shared.lab\",zone=\"se.\"} 1",
    ] {
        assert!(lines.contains(&want), "{want} missing from\n{text}");
    }

    // Distinct Statuspage ids; the two members point at their own groups.
    let (_, sum) = get_json(addr, "/api/v2/summary.json").await;
    let comps = sum["components"].as_array().expect("components");
    let ids: HashSet<&str> = comps.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), comps.len(), "ids not distinct: {sum}");
    let members: Vec<&Value> = comps.iter().filter(|c| c["name"] == SHARED).collect();
    assert_eq!(members.len(), 2, "{sum}");
    assert_ne!(members[0]["group_id"], members[1]["group_id"]);
    let window = &sum["scheduled_maintenances"][0];
    assert_eq!(
        window["components"].as_array().map(Vec::len),
        Some(1),
        "{window}"
    );
    assert_eq!(window["components"][0]["status"], "under_maintenance");

    // component_since does not flip: updated_at stays put across status evaluations.
    let updated = |v: &Value| -> BTreeMap<String, String> {
        v["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["id"].to_string(), c["updated_at"].to_string()))
            .collect()
    };
    let before = updated(&sum);
    tokio::time::sleep(Duration::from_millis(2300)).await; // two status ticks or more
    let (_, later) = get_json(addr, "/api/v2/summary.json").await;
    assert_eq!(before, updated(&later));
    d.shutdown().await.expect("clean shutdown");
}

/// A recursive resolver that never answers: a UDP socket on loopback that reads
/// queries and drops them (and a TCP listener that accepts and stays silent).
async fn black_hole_resolver() -> (std::net::SocketAddr, Vec<tokio::task::JoinHandle<()>>) {
    // The kernel's free UDP port may be taken over TCP: try another.
    let mut tries = 0;
    let (udp, tcp, addr) = loop {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = udp.local_addr().expect("addr");
        match tokio::net::TcpListener::bind(addr).await {
            Ok(tcp) => break (udp, tcp, addr),
            Err(e) if tries < 20 => {
                tries += 1;
                eprintln!("port {addr} taken over TCP ({e}); another");
            }
            Err(e) => panic!("no port free over both UDP and TCP: {e}"),
        }
    };
    let u = tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while udp.recv_from(&mut buf).await.is_ok() {}
    });
    let t = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = tcp.accept().await {
            held.push(s);
        }
    });
    (addr, vec![u, t])
}

fn probes_total(text: &str, server: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("nsprobe_probes_total{") && l.contains(server))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_keeps_working_while_name_resolution_hangs() {
    let lab = Lab::new(1, 2026030300).await;
    let (resolver, _tasks) = black_hole_resolver().await;
    // ns1.lab has a fixed address; ns.hang.lab must be resolved, through a resolver
    // that never answers (30 s timeout: longer than this test).
    let tail = format!("[resolver]\nservers = [\"{resolver}\"]\ntimeout = \"30s\"\n");
    let mut text = lab.text(&[0], "enable_reload = true", "", &tail);
    text.push_str("[[zone.nameservers]]\nname = \"ns.hang.lab\"\n");
    let path = lab.write(&text);
    let d = start(&path).await;
    let addr = d.http_addr;

    // Reports are applied: the fixed server's probe counters keep growing.
    wait_until("first reports applied", Duration::from_secs(5), || async {
        probes_total(&http(addr, "GET", "/metrics").await.1, "ns1.lab") >= 2.0
    })
    .await;
    let first = probes_total(&http(addr, "GET", "/metrics").await.1, "ns1.lab");

    // /readyz answers within 100 ms, every time, while resolution hangs (not ready:
    // the first resolution pass has not come back).
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let t = Instant::now();
        let (code, body) = http(addr, "GET", "/readyz").await;
        let took = t.elapsed();
        slowest = slowest.max(took);
        assert_eq!(code, 503, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        slowest < Duration::from_millis(100),
        "slowest /readyz: {slowest:?}"
    );

    // A reload is applied promptly too (it does not wait for the hanging resolution).
    let t = Instant::now();
    let (code, body) = http(addr, "POST", "/-/reload").await;
    assert_eq!(code, 200, "{body}");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "reload took {:?}",
        t.elapsed()
    );

    let later = probes_total(&http(addr, "GET", "/metrics").await.1, "ns1.lab");
    assert!(later > first + 2.0, "reports stalled: {first} -> {later}");
    let (_, v) = get_json(addr, "/api/v1/status").await;
    let ns1 = common::daemon_lab::server(&v, "ns1.lab");
    assert_eq!(ns1["status"], "operational", "{v}");
    assert!(common::daemon_lab::find_server(&v, "ns.hang.lab").is_some());
    d.shutdown().await.expect("clean shutdown");
}

/// The module dependency graph from `crate::` paths in the library sources (test
/// code excluded): top-level module → modules it uses.
fn module_graph() -> BTreeMap<String, std::collections::BTreeSet<String>> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read src") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut graph: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).expect("under src");
        if rel.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let first = rel.components().next().expect("path").as_os_str();
        let module = first.to_string_lossy().trim_end_matches(".rs").to_string();
        let text = std::fs::read_to_string(&f).expect("read source");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let deps = graph.entry(module.clone()).or_default();
        for part in code.split("crate::").skip(1) {
            let dep: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let is_module = src.join(format!("{dep}.rs")).exists() || src.join(&dep).is_dir();
            if !dep.is_empty() && is_module && dep != module {
                deps.insert(dep);
            }
        }
    }
    graph
}

#[test]
fn module_graph_has_no_cycles_and_only_main_wires_the_daemon() {
    let graph = module_graph();
    for (module, deps) in &graph {
        assert!(
            !deps.contains("daemon"),
            "{module} imports daemon; only main (and tests) may"
        );
    }
    for forbidden in ["api", "metrics"] {
        for dep in ["daemon", "api"] {
            if forbidden != dep {
                assert!(
                    !graph[forbidden].contains(dep),
                    "{forbidden} must read the model, not {dep}"
                );
            }
        }
    }
    // Depth-first search for a cycle.
    fn visit<'a>(
        m: &'a str,
        graph: &'a BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut HashSet<&'a str>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(i) = path.iter().position(|p| *p == m) {
            panic!("import cycle: {} -> {m}", path[i..].join(" -> "));
        }
        path.push(m);
        for d in graph.get(m).into_iter().flatten() {
            visit(d, graph, path, done);
        }
        path.pop();
        done.insert(m);
    }
    let mut done = HashSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done);
    }
    // The graph documented in ARCHITECTURE.md is the real one.
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"),
    )
    .expect("ARCHITECTURE.md");
    let mut missing = Vec::new();
    for (module, deps) in &graph {
        if module == "lib" || module == "main" {
            continue;
        }
        let line = if deps.is_empty() {
            format!("- `{module}` → —")
        } else {
            let d: Vec<String> = deps.iter().map(|d| format!("`{d}`")).collect();
            format!("- `{module}` → {}", d.join(", "))
        };
        if !doc.contains(&line) {
            missing.push(line);
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md, module dependencies, lacks:\n{}",
        missing.join("\n")
    );
}
