//! Several vantage points in-process: three daemons probing the same lab servers from
//! three loopback source addresses (127.0.2.1-3), one of them a hub pulling the other two.
//! A lab server ignoring one vantage's source address (a path broken for that vantage
//! only) is `degraded_performance` naming it; for two of three it is `major_outage`; a
//! peer stopped shows `nsprobe_peer_up 0` and ages out while statuses keep working.
//! Plus the observation endpoint: token, cursor, bounded size.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::daemon_lab::{server, start, wait_ready, zone, Lab};
use common::{http, wait_until};
use nsprobe::daemon::Running;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// Config text for one vantage (the lab's servers; `extra` ends the file).
fn vantage_config(lab: &Lab, name: &str, source: &str, extra: &str) -> std::path::PathBuf {
    let tail = format!(
        "[vantage]\nname = \"{name}\"\nlocation = \"lab {name}\"\nsource_address = \"{source}\"\n\
         observation_tokens = [\"{TOKEN}\"]\nmax_age = \"3s\"\n{extra}\n"
    );
    let all: Vec<usize> = (0..lab.servers.len()).collect();
    let text = lab
        .text(&all, "", "", &tail)
        .replace("state.json", &format!("state-{name}.json"));
    let path = lab.dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write config");
    path
}

/// `GET path` with an optional bearer token: (status, body).
async fn get_auth(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("head");
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("code");
    (code, body.to_string())
}

async fn status(d: &Running) -> Value {
    common::daemon_lab::status(d.http_addr).await
}

fn server_status(v: &Value, name: &str) -> (String, String) {
    let s = server(v, name);
    (
        s["status"].as_str().unwrap_or_default().to_string(),
        s["reason"].as_str().unwrap_or_default().to_string(),
    )
}

async fn metrics(d: &Running) -> String {
    let (code, body) = http(d.http_addr, "GET", "/metrics").await;
    assert_eq!(code, 200);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_over_three_vantages() {
    let lab = Lab::new(3, 2026112601).await;
    let fra = start(&vantage_config(&lab, "fra-1", "127.0.2.2", "")).await;
    let ams = start(&vantage_config(&lab, "ams-1", "127.0.2.3", "")).await;
    let peers = format!(
        "[[peer]]\nurl = \"http://{}\"\ntoken = \"{TOKEN}\"\ninterval = \"200ms\"\n\
         [[peer]]\nurl = \"http://{}\"\ntoken = \"{TOKEN}\"\ninterval = \"200ms\"\n",
        fra.http_addr, ams.http_addr
    );
    let hub = start(&vantage_config(&lab, "cph-1", "127.0.2.1", &peers)).await;
    wait_ready(&hub).await;

    // Every vantage reports, every server operational everywhere.
    wait_until(
        "three fresh vantages per server",
        Duration::from_secs(10),
        || async {
            let v = status(&hub).await;
            let s = server(&v, "ns2.lab");
            s["status"] == "operational"
                && s["vantages"].as_array().is_some_and(|a| {
                    a.len() == 3
                        && a.iter()
                            .all(|x| x["fresh"] == true && x["status"] == "operational")
                })
        },
    )
    .await;
    let (code, vs) = common::get_json(hub.http_addr, "/api/v1/vantages").await;
    assert_eq!(code, 200);
    assert_eq!(vs["hub"], true);
    let names: Vec<&str> = vs["vantages"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert_eq!(names, ["cph-1", "fra-1", "ams-1"]);
    assert_eq!(vs["newest_serials"]["dk."], 2026112601);

    // ns2.lab drops cph-1's packets only: degraded, naming cph-1; no outage anywhere.
    lab.servers[1].set_silent_for(&[ip("127.0.2.1")]);
    let took = wait_until(
        "ns2.lab degraded at the hub",
        Duration::from_secs(10),
        || async { server_status(&status(&hub).await, "ns2.lab").0 == "degraded_performance" },
    )
    .await;
    eprintln!("one vantage of three: degraded after {took:?}");
    let v = status(&hub).await;
    let (_, reason) = server_status(&v, "ns2.lab");
    assert!(
        reason.starts_with("ns2.lab unreachable from cph-1, answering at ams-1 and fra-1"),
        "{reason}"
    );
    // cph-1's own view: both transports down (the hub may publish while only one is).
    wait_until(
        "cph-1 sees ns2.lab fully down",
        Duration::from_secs(5),
        || async {
            let v = status(&hub).await;
            server(&v, "ns2.lab")["vantages"]
                .as_array()
                .expect("vantages")
                .iter()
                .any(|x| x["vantage"] == "cph-1" && x["status"] == "major_outage")
        },
    )
    .await;
    // Held for a while: never an outage from one vantage.
    for _ in 0..10 {
        let v = status(&hub).await;
        assert_eq!(server_status(&v, "ns2.lab").0, "degraded_performance");
        assert_ne!(zone(&v)["status"], "major_outage");
        assert_ne!(zone(&v)["status"], "partial_outage");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The hub's status page: the per-vantage breakdown and the vantage list, valid HTML.
    let (code, page) = http(hub.http_addr, "GET", "/").await;
    assert_eq!(code, 200);
    assert!(page.contains("Vantage points"), "{page}");
    assert!(page.contains("cph-1 (this one)"), "{page}");
    let row = page_row(&page, "ns2.lab");
    assert!(row.contains("Per vantage: operational at 2 of 3"), "{row}");
    assert!(
        row.contains("<tr class=\"s-major_outage\"><th scope=\"row\">cph-1</th>"),
        "{row}"
    );
    assert!(
        row.contains(" ms</td>"),
        "median response time per vantage: {row}"
    );
    if let Some(report) = tidy_report(&page) {
        assert_eq!(report, "", "hub status page is valid HTML");
    }
    // A single vantage (fra-1) sees nothing wrong at all.
    assert_eq!(
        server_status(&status(&fra).await, "ns2.lab").0,
        "operational"
    );

    // Two of three: an outage.
    lab.servers[1].set_silent_for(&[ip("127.0.2.1"), ip("127.0.2.2")]);
    let took = wait_until(
        "ns2.lab major outage at the hub",
        Duration::from_secs(10),
        || async { server_status(&status(&hub).await, "ns2.lab").0 == "major_outage" },
    )
    .await;
    eprintln!("two vantages of three: major outage at the hub after {took:?}");
    let own = wait_until("fra-1's own status", Duration::from_secs(5), || async {
        server_status(&status(&fra).await, "ns2.lab").0 == "major_outage"
    })
    .await;
    eprintln!("fra-1 alone (single vantage) already major outage {own:?} after that");
    let (_, reason) = server_status(&status(&hub).await, "ns2.lab");
    assert!(
        reason.starts_with("ns2.lab unreachable from cph-1 and fra-1, answering at ams-1 (2 of 3 vantages, quorum 2)"),
        "{reason}"
    );

    // ams-1 stops: peer down at once, its data ages out after max_age; statuses go on
    // from the two left (both see ns2.lab down: still an outage, now 2 of 2).
    let ams_url = format!("http://{}", ams.http_addr);
    ams.shutdown().await.expect("ams-1 stops");
    wait_until(
        "nsprobe_peer_up 0 for ams-1",
        Duration::from_secs(5),
        || async {
            metrics(&hub)
                .await
                .contains(&format!("nsprobe_peer_up{{peer=\"{ams_url}\"}} 0"))
        },
    )
    .await;
    wait_until("ams-1 aged out", Duration::from_secs(10), || async {
        let (_, reason) = server_status(&status(&hub).await, "ns2.lab");
        reason.contains("2 of 2 vantages")
    })
    .await;
    let v = status(&hub).await;
    assert_eq!(server_status(&v, "ns2.lab").0, "major_outage");
    assert_eq!(server_status(&v, "ns1.lab").0, "operational");
    let (_, vs) = common::get_json(hub.http_addr, "/api/v1/vantages").await;
    for p in vs["vantages"].as_array().expect("list").iter().skip(1) {
        let (pulls, bytes) = (
            p["pulls"].as_u64().unwrap_or(0),
            p["bytes"].as_u64().unwrap_or(0),
        );
        eprintln!(
            "peer {}: {pulls} pulls, {bytes} bytes, {} records, {:.0} bytes/pull",
            p["url"],
            p["records"],
            bytes as f64 / pulls.max(1) as f64
        );
    }
    let (_, page) = http(hub.http_addr, "GET", "/").await;
    assert!(
        page.contains("<tr class=\"s-major_outage\"><th scope=\"row\">ams-1"),
        "ams-1 listed as unreachable: {page}"
    );
    let ams_view = &vs["vantages"][2];
    assert_eq!(ams_view["up"], false, "{vs}");
    assert_eq!(ams_view["fresh"], false, "{vs}");
    assert!(ams_view["error"].is_string(), "{vs}");

    // The path heals: operational again.
    lab.servers[1].set_silent_for(&[]);
    wait_until(
        "ns2.lab operational again",
        Duration::from_secs(10),
        || async { server_status(&status(&hub).await, "ns2.lab").0 == "operational" },
    )
    .await;
    hub.shutdown().await.expect("hub stops");
    fra.shutdown().await.expect("fra-1 stops");
}

/// The median of a vantage's points in a response-times answer (`vantages` of a hub).
fn vantage_median(v: &Value, vantage: &str) -> Option<f64> {
    let line = v["vantages"]
        .as_array()?
        .iter()
        .find(|x| x["vantage"] == vantage)?;
    let mut ms: Vec<f64> = line["points"]
        .as_array()?
        .iter()
        .filter_map(|p| p["median_ms"].as_f64())
        .collect();
    ms.sort_by(f64::total_cmp);
    ms.get(ms.len() / 2).copied()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_times_per_vantage() {
    let lab = Lab::new(2, 2026112601).await;
    // Longer paths from fra-1 and ams-1.
    for s in &lab.servers {
        s.set_delay_for(&[
            (ip("127.0.2.2"), Duration::from_millis(20)),
            (ip("127.0.2.3"), Duration::from_millis(45)),
        ]);
    }
    // A probe timeout with room for the delays on a loaded machine (below the interval).
    let config = |name: &str, source: &str, extra: &str| {
        let path = vantage_config(&lab, name, source, extra);
        let text = std::fs::read_to_string(&path).expect("config");
        let text = text.replace("timeout = \"100ms\"", "timeout = \"180ms\"");
        std::fs::write(&path, text).expect("write config");
        path
    };
    let fra = start(&config("fra-1", "127.0.2.2", "")).await;
    let ams = start(&config("ams-1", "127.0.2.3", "")).await;
    let peers = format!(
        "[[peer]]\nurl = \"http://{}\"\ntoken = \"{TOKEN}\"\ninterval = \"200ms\"\n\
         [[peer]]\nurl = \"http://{}\"\ntoken = \"{TOKEN}\"\ninterval = \"200ms\"\n",
        fra.http_addr, ams.http_addr
    );
    let hub = start(&config("cph-1", "127.0.2.1", &peers)).await;
    wait_ready(&hub).await;
    let path = "/api/v1/zones/dk./servers/ns1.lab/response-times?minutes=60";
    wait_until(
        "three vantages' response times at the hub",
        Duration::from_secs(30),
        || async {
            let (code, v) = common::get_json(hub.http_addr, path).await;
            code == 200
                && ["cph-1", "fra-1", "ams-1"]
                    .iter()
                    .all(|n| vantage_median(&v, n).is_some())
        },
    )
    .await;
    // A few more seconds of records, so the medians settle on the paths' delays.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, v) = common::get_json(hub.http_addr, path).await;
    let names: Vec<&str> = v["vantages"]
        .as_array()
        .expect("vantages")
        .iter()
        .filter_map(|x| x["vantage"].as_str())
        .collect();
    assert_eq!(names, ["ams-1", "cph-1", "fra-1"], "{v}");
    let m = |n| vantage_median(&v, n).expect("median");
    let (cph, fra_ms, ams_ms) = (m("cph-1"), m("fra-1"), m("ams-1"));
    eprintln!("per-vantage medians: cph-1 {cph:.1} ms, fra-1 {fra_ms:.1} ms, ams-1 {ams_ms:.1} ms");
    assert!(cph < 15.0, "{v}");
    assert!(fra_ms >= 20.0 && fra_ms > cph + 10.0, "{v}");
    assert!(ams_ms >= 45.0 && ams_ms > fra_ms + 15.0, "{v}");
    // The same for a service group's endpoint shape; a single vantage has no breakdown.
    let (_, single) = common::get_json(fra.http_addr, path).await;
    assert!(single["points"].is_array(), "{single}");
    assert!(single.get("vantages").is_none(), "{single}");

    // The hub's 24-hour chart: its own line plus one line per other vantage, with points,
    // and a legend naming every vantage; valid HTML.
    let (code, page) = http(hub.http_addr, "GET", "/").await;
    assert_eq!(code, 200);
    let fig_start = page
        .find("<figure class=\"card\" data-component=\"ns1.lab\"")
        .expect("ns1.lab chart");
    let fig = &page[fig_start..fig_start + page[fig_start..].find("</figure>").expect("end")];
    assert!(
        fig.contains("class=\"line\"") || fig.contains("class=\"pt\""),
        "own line: {fig}"
    );
    for peer in ["fra-1", "ams-1"] {
        let g_start = fig
            .find(&format!("<g class=\"vl\" data-vantage=\"{peer}\""))
            .unwrap_or_else(|| panic!("{peer}'s line: {fig}"));
        let g = &fig[g_start..g_start + fig[g_start..].find("</g>").expect("g end")];
        assert!(
            g.contains("<path d=\"M") || g.contains("<circle"),
            "{peer}'s line has points: {g}"
        );
        assert!(
            g.contains("stroke-dasharray=\""),
            "told apart by dashes: {g}"
        );
    }
    assert!(fig.contains("aria-label=\"Vantages\""), "{fig}");
    assert!(fig.contains("cph-1 (this one)"), "{fig}");
    assert!(
        fig.contains("</svg> fra-1</li>") && fig.contains("</svg> ams-1</li>"),
        "{fig}"
    );
    if let Some(report) = tidy_report(&page) {
        assert_eq!(report, "", "hub status page is valid HTML");
    }
    // A single vantage's page has no per-vantage lines or legend.
    let (_, single_page) = http(fra.http_addr, "GET", "/").await;
    assert!(!single_page.contains("class=\"vl\""));
    assert!(!single_page.contains("aria-label=\"Vantages\""));

    hub.shutdown().await.expect("hub stops");
    fra.shutdown().await.expect("fra-1 stops");
    ams.shutdown().await.expect("ams-1 stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observations_endpoint_token_cursor_and_size() {
    let lab = Lab::new(3, 7).await;
    let d = start(&vantage_config(&lab, "solo", "127.0.2.9", "")).await;
    wait_ready(&d).await;
    let path = "/api/v1/observations?after=0";
    assert_eq!(get_auth(d.http_addr, path, None).await.0, 401);
    assert_eq!(
        get_auth(d.http_addr, path, Some("wrong-token-wrong-token"))
            .await
            .0,
        403
    );
    wait_until("records", Duration::from_secs(5), || async {
        let (_, body) = get_auth(d.http_addr, path, Some(TOKEN)).await;
        let v: Value = serde_json::from_str(&body).expect("json");
        v["observations"].as_array().is_some_and(|a| a.len() >= 3)
    })
    .await;
    let (code, body) = get_auth(
        d.http_addr,
        "/api/v1/observations?after=0&limit=2",
        Some(TOKEN),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let page: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(page["version"], 1);
    assert_eq!(page["vantage"], "solo");
    let obs = page["observations"].as_array().expect("observations");
    assert_eq!(obs.len(), 2);
    assert_eq!(obs[0]["seq"], 1);
    assert_eq!(obs[1]["seq"], 2);
    assert_eq!(page["cursor"], 2);
    assert_eq!(page["more"], true);
    // after=cursor: only later records, in order, none repeated.
    let (_, body) = get_auth(
        d.http_addr,
        "/api/v1/observations?after=2&limit=1000",
        Some(TOKEN),
    )
    .await;
    let next: Value = serde_json::from_str(&body).expect("json");
    let seqs: Vec<u64> = next["observations"]
        .as_array()
        .expect("observations")
        .iter()
        .map(|o| o["seq"].as_u64().expect("seq"))
        .collect();
    assert!(!seqs.is_empty());
    assert_eq!(seqs[0], 3);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert_eq!(next["cursor"].as_u64(), seqs.last().copied());
    // A huge limit is clamped: bounded response.
    let (code, body) = get_auth(
        d.http_addr,
        "/api/v1/observations?after=0&limit=99999999",
        Some(TOKEN),
    )
    .await;
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).expect("json");
    assert!(v["observations"].as_array().expect("obs").len() <= 1000);
    assert!(body.len() < 1024 * 1024);
    // Bad parameters are 400 with a message.
    let (code, body) = get_auth(d.http_addr, "/api/v1/observations?after=x", Some(TOKEN)).await;
    assert_eq!(code, 400, "{body}");
    // Without observation_tokens the endpoint is refused outright.
    let lab2 = Lab::new(1, 7).await;
    let plain = start(&lab2.config("", "")).await;
    assert_eq!(get_auth(plain.http_addr, path, Some(TOKEN)).await.0, 403);
    plain.shutdown().await.expect("stops");
    d.shutdown().await.expect("stops");
}

/// The page's list item of component `name`.
fn page_row<'a>(page: &'a str, name: &str) -> &'a str {
    let start = page
        .find(&format!("data-component=\"{name}\""))
        .unwrap_or_else(|| panic!("{name} on the page"));
    let end = page[start..]
        .find("</li>")
        .map_or(page.len(), |e| start + e);
    &page[start..end]
}

/// tidy's warnings and errors about `page` (empty when valid); None without tidy (it is
/// required in CI: NSPROBE_REQUIRE_TOOLS).
fn tidy_report(page: &str) -> Option<String> {
    let tidy = ["/usr/bin/tidy", "/usr/local/bin/tidy"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(tidy) = tidy else {
        assert!(
            std::env::var_os("NSPROBE_REQUIRE_TOOLS").is_none(),
            "tidy is required (NSPROBE_REQUIRE_TOOLS)"
        );
        eprintln!("tidy not found: HTML validity not checked");
        return None;
    };
    Some(common::tidy::report(std::path::Path::new(tidy), page))
}
