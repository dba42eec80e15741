//! Service components end to end: the daemon runs whois, EPP (TLS) and HTTP (nginx, when
//! installed) checks against real servers on loopback, next to a nameserver lab.
//! - a whois server stopped → its component goes `major_outage` (API, metrics,
//!   Statuspage) and its group degraded; restarted on the same port → `operational`;
//! - EPP facts (svID) and the certificate's expiry reach the API and the metrics;
//! - a component named in a maintenance window is `under_maintenance`;
//! - every `nsprobe_check_*` family is exported, `promtool check metrics` passes, and
//!   Statuspage ids are distinct and stable for (group, name);
//! - the response-time series of a service component.

mod checks_support;
mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use checks_support::{free_port, handler, Identity, Nginx, Responder, TestCa};
use common::daemon_lab::{start, status, wait_ready, Lab};
use common::{get_json, http, wait_until};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const GREETING: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <greeting>
    <svID>lab EPP</svID>
    <svDate>2026-11-26T07:00:00.0Z</svDate>
  </greeting>
</epp>
"#;

/// An RFC 3912 whois server on `addr`: reads the query line, answers, closes.
/// Stopping it (abort) closes the listening socket.
async fn whois_server(addr: SocketAddr) -> JoinHandle<()> {
    let listener = TcpListener::bind(addr).await.expect("bind whois");
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 512];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let q = String::from_utf8_lossy(&buf[..n]).trim().to_string();
                let answer =
                    format!("# lab whois\r\nDomain:               {q}\r\nStatus: Active\r\n");
                let _ = s.write_all(answer.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    })
}

/// An EPP server over TLS sending the greeting frame on connect.
async fn epp_server(id: &Identity) -> Responder {
    let mut frame = ((GREETING.len() + 4) as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(GREETING.as_bytes());
    let frame = Arc::new(frame);
    Responder::tls(
        handler(move |mut c| {
            let frame = frame.clone();
            async move {
                let _ = c.write_all(&frame).await;
                let _ = c.flush().await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }),
        id,
    )
    .await
}

/// A service group's component by name in `/api/v1/status`.
fn component<'a>(v: &'a Value, group: &str, name: &str) -> &'a Value {
    v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == group)
        .and_then(|g| {
            g["components"]
                .as_array()
                .expect("components")
                .iter()
                .find(|c| c["name"] == name)
        })
        .unwrap_or_else(|| panic!("{group}/{name} in {v}"))
}

fn group<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("group {name} in {v}"))
}

async fn metrics(addr: SocketAddr) -> String {
    let (code, text) = http(addr, "GET", "/metrics").await;
    assert_eq!(code, 200);
    text
}

/// The value of the one sample line starting with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn wait_status(
    addr: SocketAddr,
    group: &'static str,
    name: &'static str,
    want: &'static str,
) {
    wait_until(
        &format!("{group}/{name} {want}"),
        Duration::from_secs(10),
        || async move { component(&status(addr).await, group, name)["status"] == want },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_components_end_to_end() {
    let lab = Lab::new(1, 10).await;
    let ca = TestCa::new();
    let ca_file = lab.dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let whois_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let whois = whois_server(whois_addr).await;
    let epp = epp_server(&ca.valid(10)).await;

    // nginx for the http kind, when installed (required in CI).
    let nginx_port = free_port();
    let nginx_dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(
        &format!(
            "server {{ listen 127.0.0.1:{nginx_port}; server_name localhost;\n\
             location / {{ return 200 \"welcome to the lab\\n\"; }} }}\n"
        ),
        &[nginx_port],
        nginx_dir,
    );
    let web = match &nginx {
        Some(_) => format!(
            "[[group]]\nname = \"Web\"\n[[group.component]]\nname = \"Website\"\n{timing}\
             [[group.component.check]]\nkind = \"http\"\nurl = \"http://127.0.0.1:{nginx_port}/\"\nbody = \"welcome\"\n",
            timing = TIMING
        ),
        None => String::new(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let services = format!(
        "[[group]]\nname = \"Registry\"\n\
         [[group.component]]\nname = \"Whois (text)\"\n{TIMING}\
         [[group.component.check]]\nkind = \"whois\"\naddress = \"{whois_addr}\"\nquery = \"punktum.dk\"\n\
         expect = '(?m)^Domain:\\s+punktum\\.dk'\n\
         [[group.component]]\nname = \"EPP\"\n{TIMING}cert_warn_before = \"5d\"\n\
         [[group.component.check]]\nkind = \"epp\"\naddress = \"{epp}\"\nserver_name = \"localhost\"\nca_file = \"{ca}\"\n\
         [[group.component]]\nname = \"DAS\"\n{TIMING}\
         [[group.component.check]]\nkind = \"tcp\"\naddress = \"{whois_addr}\"\n\
         {web}\
         [[maintenance]]\ncomponents = [\"Registry/DAS\"]\nstart = {start}\nend = {end}\nreason = \"DAS upgrade\"\n",
        epp = epp.addr,
        ca = ca_file.display(),
        start = rfc3339(now - 60),
        end = rfc3339(now + 3600),
    );
    let text = lab.text(&[0], "enable_reload = true", "", "") + "\n" + &services;
    let d = start(&lab.write(&text)).await;
    wait_ready(&d).await;
    let addr = d.http_addr;

    wait_status(addr, "Registry", "Whois (text)", "operational").await;
    wait_status(addr, "Registry", "EPP", "operational").await;
    let v = status(addr).await;
    let epp_c = component(&v, "Registry", "EPP");
    let check = &epp_c["checks"][0];
    assert_eq!(check["kind"], "epp");
    assert_eq!(check["facts"]["sv_id"], "lab EPP", "{check}");
    // Durations in facts are float milliseconds, like `rtt_ms`.
    let connect_ms = check["facts"]["connect_ms"].as_f64();
    assert!(connect_ms.is_some_and(|ms| ms >= 0.0), "{check}");
    assert!(check["facts"].get("connect").is_none(), "{check}");
    let whois_check = &component(&v, "Registry", "Whois (text)")["checks"][0];
    assert!(whois_check["facts"]["connect_ms"].is_f64(), "{whois_check}");
    assert!(
        whois_check["facts"].get("connect").is_none(),
        "{whois_check}"
    );
    assert!(check["cert_expires_at"].is_string(), "{check}");
    assert_eq!(epp_c["reason"], "1 of 1 targets up");
    let das = component(&v, "Registry", "DAS");
    assert_eq!(das["status"], "under_maintenance");
    assert_eq!(das["reason"], "DAS upgrade");
    assert_eq!(das["maintenance"]["reason"], "DAS upgrade");
    if nginx.is_some() {
        wait_status(addr, "Web", "Website", "operational").await;
        let v = status(addr).await;
        let site = component(&v, "Web", "Website");
        assert_eq!(site["checks"][0]["facts"]["status"], 200, "{site}");
    }

    // Metrics: every check family, the certificate's expiry, component statuses.
    let m = metrics(addr).await;
    let whois_labels = format!(
        "component=\"Whois (text)\",group=\"Registry\",kind=\"whois\",target=\"whois://{whois_addr} punktum.dk\""
    );
    assert_eq!(
        sample(&m, &format!("nsprobe_check_up{{{whois_labels}}}")),
        Some(1.0),
        "{m}"
    );
    assert!(
        sample(
            &m,
            &format!("nsprobe_checks_total{{{whois_labels},result=\"ok\"}}")
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        sample(
            &m,
            &format!("nsprobe_check_duration_seconds_count{{{whois_labels}}}")
        )
        .unwrap()
            >= 1.0
    );
    let expiry = sample(
        &m,
        &format!(
            "nsprobe_tls_cert_expiry_timestamp_seconds{{component=\"EPP\",group=\"Registry\",kind=\"epp\",target=\"epp://localhost@{}\"}}",
            epp.addr
        ),
    )
    .expect("cert expiry series");
    assert!(
        (expiry - (now + 10 * 86_400) as f64).abs() < 120.0,
        "{expiry}"
    );
    assert_eq!(
        sample(&m, "nsprobe_component_status{component=\"DAS\",group=\"Registry\",status=\"under_maintenance\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &m,
            "nsprobe_maintenance{component=\"DAS\",group=\"Registry\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &m,
            "nsprobe_component_status{component=\"Registry\",group=\"\",status=\"operational\"}"
        ),
        Some(1.0),
        "{m}"
    );
    common::promtool::check_metrics(&m);

    // Statuspage: service groups with their members; ids distinct and stable.
    let (code, sp) = get_json(addr, "/api/v2/components.json").await;
    assert_eq!(code, 200);
    let comps = sp["components"].as_array().unwrap();
    let ids: HashSet<&str> = comps.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), comps.len(), "ids distinct: {sp}");
    let by_name = |n: &str| {
        comps
            .iter()
            .find(|c| c["name"] == n)
            .unwrap_or_else(|| panic!("{n} in {sp}"))
            .clone()
    };
    let registry = by_name("Registry");
    assert_eq!(registry["group"], true);
    let epp_sp = by_name("EPP");
    assert_eq!(epp_sp["group_id"], registry["id"]);
    assert_eq!(epp_sp["id"], epp_c["id"]);
    assert!(registry["components"]
        .as_array()
        .unwrap()
        .contains(&epp_sp["id"]));
    assert_eq!(by_name("DAS")["status"], "under_maintenance");
    let (_, summary) = get_json(addr, "/api/v2/summary.json").await;
    let sm = summary["scheduled_maintenances"].as_array().unwrap();
    assert!(
        sm.iter().any(|w| w["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "DAS")),
        "{summary}"
    );

    // The whois server stops: connection refused → major outage, group degraded.
    whois.abort();
    let _ = whois.await;
    wait_status(addr, "Registry", "Whois (text)", "major_outage").await;
    let v = status(addr).await;
    let w = component(&v, "Registry", "Whois (text)");
    assert_eq!(w["checks"][0]["up"], false);
    assert_eq!(w["checks"][0]["last_error"]["reason"], "network", "{w}");
    assert!(
        w["reason"].as_str().unwrap().contains("down: network"),
        "{w}"
    );
    assert_eq!(group(&v, "Registry")["status"], "degraded_performance");
    let m = metrics(addr).await;
    assert_eq!(
        sample(&m, &format!("nsprobe_check_up{{{whois_labels}}}")),
        Some(0.0)
    );
    assert!(
        sample(
            &m,
            &format!("nsprobe_checks_total{{{whois_labels},result=\"network\"}}")
        )
        .unwrap()
            >= 2.0
    );
    let (_, sp) = get_json(addr, "/api/v2/components.json").await;
    let whois_sp = sp["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Whois (text)")
        .unwrap()
        .clone();
    assert_eq!(whois_sp["status"], "major_outage");

    // Back on the same port: operational again.
    let whois = whois_server(whois_addr).await;
    wait_status(addr, "Registry", "Whois (text)", "operational").await;
    assert_eq!(
        group(&status(addr).await, "Registry")["status"],
        "operational"
    );

    // Response-time series of a service component (names percent-encoded).
    let (code, rt) = get_json(
        addr,
        "/api/v1/groups/registry/components/Whois%20(text)/response-times?minutes=5",
    )
    .await;
    assert_eq!(code, 200, "{rt}");
    assert_eq!(rt["component"], "Whois (text)");
    let points = rt["points"].as_array().unwrap();
    assert!(!points.is_empty());
    assert!(
        points
            .iter()
            .map(|p| p["failures"].as_u64().unwrap())
            .sum::<u64>()
            >= 2
    );
    let (code, _) = get_json(
        addr,
        "/api/v1/groups/Registry/components/Nope/response-times",
    )
    .await;
    assert_eq!(code, 404);

    // A reload that drops DAS (and its window) keeps the other components' state.
    let das_start = text.find("[[group.component]]\nname = \"DAS\"").unwrap();
    let das_end = das_start
        + text[das_start..]
            .find("[[group]]")
            .unwrap_or(text.len() - das_start);
    let mut reloaded = format!("{}{}", &text[..das_start], &text[das_end..]);
    if let Some(i) = reloaded.find("[[maintenance]]") {
        reloaded.truncate(i);
    }
    lab.write(&reloaded);
    let (code, body) = http(addr, "POST", "/-/reload").await;
    assert_eq!(code, 200, "{body}");
    let v = status(addr).await;
    let names: Vec<&str> = group(&v, "Registry")["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Whois (text)", "EPP"]);
    let w = component(&v, "Registry", "Whois (text)");
    assert_eq!(
        w["status"], "operational",
        "state kept across the reload: {w}"
    );
    assert!(
        w["checks"][0]["last_error"]["reason"] == "network",
        "history kept: {w}"
    );
    let m = metrics(addr).await;
    assert!(
        !m.contains("component=\"DAS\""),
        "DAS series gone after the reload"
    );

    whois.abort();
    d.shutdown().await.expect("clean shutdown");
}

/// Readiness (`/readyz`, "first probe round done") waits for the service components'
/// check targets too, not only the nameservers'; a component whose `host` never resolves
/// has no targets and does not hold it back (as a nameserver whose name never resolves).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_for_service_checks() {
    let lab = Lab::new(1, 1).await;
    // Accepts and never sends: the DAS check (`expect`) ends at its 1.5 s timeout, long
    // after the nameserver's first probe (interval 200 ms, loopback).
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    let holder = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            open.push(s);
        }
    });
    // The resolver is a closed loopback port: whois.unresolvable.lab never resolves.
    let resolver = common::closed_port().await;
    let services = format!(
        "[resolver]\nservers = [\"{resolver}\"]\ntimeout = \"200ms\"\n\
         [[group]]\nname = \"Registry\"\n\
         [[group.component]]\nname = \"DAS\"\ninterval = \"3s\"\ntimeout = \"1500ms\"\n\
         [[group.component.check]]\nkind = \"tcp\"\naddress = \"{silent_addr}\"\nexpect = \"never sent\"\n\
         [[group.component]]\nname = \"Whois\"\ninterval = \"1s\"\ntimeout = \"500ms\"\n\
         [[group.component.check]]\nkind = \"whois\"\nhost = \"whois.unresolvable.lab\"\nquery = \"punktum.dk\"\n"
    );
    let started = std::time::Instant::now();
    let d = start(&lab.write(&lab.text(&[0], "", "", &services))).await;
    let addr = d.http_addr;
    wait_until("ready", Duration::from_secs(10), || async move {
        http(addr, "GET", "/readyz").await.0 == 200
    })
    .await;
    let took = started.elapsed();
    let v = status(addr).await;
    assert_eq!(v["ready"], true);
    let das = &component(&v, "Registry", "DAS")["checks"][0];
    assert!(
        das["last_check_at"].is_string(),
        "ready after {took:?} before the DAS check was done: {das}"
    );
    assert_eq!(das["last_error"]["reason"], "timeout", "{das}");
    assert!(took >= Duration::from_millis(1500), "ready after {took:?}");
    // The unresolvable component: no targets, unknown, and it did not block readiness.
    let whois = component(&v, "Registry", "Whois");
    assert_eq!(whois["checks"].as_array().map(Vec::len), Some(0), "{whois}");
    assert_eq!(whois["status"], "unknown", "{whois}");
    holder.abort();
    d.shutdown().await.expect("clean shutdown");
}

/// Check timing for the lab: fast, confirmed at once (tests/statuses.rs covers confirmation).
const TIMING: &str =
    "interval = \"200ms\"\ntimeout = \"150ms\"\nfail_after = 2\nrecover_after = 2\n\
                      confirm_after = \"0s\"\nclear_after = \"0s\"\n";

fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}
