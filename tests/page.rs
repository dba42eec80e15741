//! The built-in status page against a daemon probing real DNS servers (in-process
//! hickory-server, as `nsprobe demo` runs them): the page and badges over HTTP, valid
//! HTML (tidy), the page in headless Chromium (no console error, a killed server's row
//! turns to an outage, the charts have points, complete without JavaScript), and the
//! `nsprobe demo` binary.
//!
//! Chromium (`chromium`) and tidy are external tools: without them those tests print a
//! skip line, unless `NSPROBE_REQUIRE_TOOLS=1` (set by CI), where they fail.

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{http, wait_until};
use nsprobe::daemon::{self, RunOptions, Running};
use nsprobe::demo::{servers::zone_text, DemoServer};

const NAMES: [&str; 3] = ["a.nic.dk", "b.nic.dk", "l.nic.dk"];
const PAGE_NAME: &str = "Punktum dk — status";

/// Interval × fail_after + confirm_after + two status ticks, with room for a loaded machine.
const OUTAGE_BOUND: Duration = Duration::from_secs(5);

fn on_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// The tool, or None after a skip line (a failure under `NSPROBE_REQUIRE_TOOLS=1`).
fn tool(test: &str, name: &str, package: &str) -> Option<PathBuf> {
    if let Some(p) = on_path(name) {
        return Some(p);
    }
    if std::env::var("NSPROBE_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{name} not on PATH but NSPROBE_REQUIRE_TOOLS=1 (apt-get install {package})");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIP {test}: {name} not on PATH (apt-get install {package}; NSPROBE_REQUIRE_TOOLS=1 makes this a failure)"
    );
    None
}

struct Setup {
    servers: Vec<DemoServer>,
    daemon: Running,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let text = zone_text("dk.", &NAMES, 2026062401);
    let mut servers = Vec::new();
    for n in NAMES {
        servers.push(DemoServer::start(n, &text).await.expect("demo server"));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = format!(
        "[page]\nname = \"{PAGE_NAME}\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
         [state]\npath = \"{}\"\n\
         [[zone]]\nname = \"dk.\"\ncomponent = \"DNS (.dk)\"\ninterval = \"200ms\"\ntimeout = \"100ms\"\n\
         fail_after = 2\nrecover_after = 2\nconfirm_after = \"0s\"\nclear_after = \"0s\"\n",
        dir.path().join("state.json").display()
    );
    for s in &servers {
        cfg.push_str(&format!(
            "[[zone.nameservers]]\nname = \"{}\"\naddresses = [\"{}\"]\n",
            s.name(),
            s.addr()
        ));
    }
    let path = dir.path().join("nsprobe.toml");
    std::fs::write(&path, cfg).unwrap();
    let daemon = daemon::start(RunOptions {
        config_path: path,
        listen: None,
        web_config: None,
    })
    .await
    .expect("daemon starts");
    let addr = daemon.http_addr;
    wait_until("all operational", Duration::from_secs(10), || async move {
        let (code, body) = http(addr, "GET", "/").await;
        code == 200 && body.contains("All Systems Operational")
    })
    .await;
    Setup {
        servers,
        daemon,
        _dir: dir,
    }
}

/// The `data-status` of a component row in the page's HTML.
fn row_status<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let at = html.find(&format!("data-component=\"{name}\""))?;
    let row_start = html[..at].rfind("<li")?;
    let row = &html[row_start..at];
    row.split("data-status=\"").nth(1)?.split('"').next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_badges_and_outage_over_http() {
    let mut s = setup().await;
    let addr = s.daemon.http_addr;
    let (code, page) = http(addr, "GET", "/").await;
    assert_eq!(code, 200);
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..100]);
    assert!(page.contains(&format!("<title>{PAGE_NAME}</title>")));
    assert!(page.len() < 150 * 1024, "page is {} bytes", page.len());
    for n in NAMES {
        assert_eq!(row_status(&page, n), Some("operational"), "{n}");
    }
    // Words as well as colour, and a legend with every status.
    assert!(page.contains(">Operational</span>"));
    for words in [
        "Degraded Performance",
        "Partial Outage",
        "Major Outage",
        "Under Maintenance",
        "Unknown",
    ] {
        assert!(page.contains(words), "legend lacks {words}");
    }
    assert_eq!(http(addr, "GET", "/status").await.0, 200);
    // The store is on by default: every nameserver has its 90 daily uptime bars.
    assert_eq!(
        page.matches("<div class=\"bars\"").count(),
        NAMES.len(),
        "uptime bars"
    );

    // Badges: by name, by group/name, by stable id; shields.io JSON.
    let (code, svg) = http(addr, "GET", "/badge/a.nic.dk.svg").await;
    assert_eq!(code, 200);
    assert!(svg.contains("a.nic.dk: operational"), "{svg}");
    let (code, svg) = http(addr, "GET", "/badge/DNS%20(.dk)/a.nic.dk/uptime.svg").await;
    assert_eq!(code, 200, "{svg}");
    assert!(svg.contains("uptime 24h: 100.00%"), "{svg}");
    let (_, comps) = common::get_json(addr, "/api/v2/components.json").await;
    let id = comps["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "b.nic.dk")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, json) = common::get_json(addr, &format!("/badge/{id}.json")).await;
    assert_eq!(code, 200);
    assert_eq!(json["schemaVersion"], 1);
    assert_eq!(json["label"], "b.nic.dk");
    assert_eq!(json["message"], "operational");
    assert_eq!(http(addr, "GET", "/badge/nope.nic.dk.svg").await.0, 404);
    assert_eq!(http(addr, "GET", "/badge/a.nic.dk.png").await.0, 404);

    // One server stops answering: its row and badge show the outage, the banner says so.
    let started = Instant::now();
    s.servers[2].stop().await;
    wait_until(
        "l.nic.dk major outage on the page",
        OUTAGE_BOUND,
        || async move {
            let (_, page) = http(addr, "GET", "/").await;
            row_status(&page, "l.nic.dk") == Some("major_outage")
        },
    )
    .await;
    eprintln!("outage on the page after {:?}", started.elapsed());
    let (_, page) = http(addr, "GET", "/").await;
    assert!(!page.contains("All Systems Operational"));
    assert!(
        page.contains("l.nic.dk: Major Outage"),
        "banner names the server"
    );
    assert_eq!(row_status(&page, "a.nic.dk"), Some("operational"));
    let (_, svg) = http(addr, "GET", "/badge/l.nic.dk.svg").await;
    assert!(svg.contains("major outage"), "{svg}");
    s.daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_is_valid_html() {
    let Some(tidy) = tool("page_is_valid_html", "tidy", "tidy") else {
        return;
    };
    let s = setup().await;
    let (_, page) = http(s.daemon.http_addr, "GET", "/").await;
    let mut child = Command::new(tidy)
        // Empty elements (the uptime bars) are valid HTML; tidy only warns that it would drop them.
        .args([
            "-q",
            "-e",
            "--show-warnings",
            "yes",
            "--drop-empty-elements",
            "no",
            "-utf8",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    // tidy exits 0 when clean, 1 with warnings, 2 with errors: accept none of either.
    assert!(
        out.status.success() && report.trim().is_empty(),
        "tidy: {report}"
    );
    s.daemon.shutdown().await.unwrap();
}

/// Load `url` in headless Chromium; returns (DOM after scripts ran, console lines).
fn chromium(bin: &std::path::Path, url: &str, javascript: bool) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=3000",
        "--dump-dom",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()));
    if !javascript {
        // The profile's content setting (what a user's "block JavaScript" sets); the
        // --blink-settings switch would also stop --dump-dom from reading the page.
        let default = profile.path().join("Default");
        std::fs::create_dir_all(&default).unwrap();
        std::fs::write(
            default.join("Preferences"),
            r#"{"profile":{"default_content_setting_values":{"javascript":2}}}"#,
        )
        .unwrap();
    }
    let out = cmd.arg(url).output().expect("run chromium");
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_in_headless_chromium() {
    let Some(bin) = tool("page_in_headless_chromium", "chromium", "chromium") else {
        return;
    };
    let mut s = setup().await;
    let url = format!("http://{}/", s.daemon.http_addr);
    // Let a few probes land in the history so the charts have points.
    tokio::time::sleep(Duration::from_millis(600)).await;

    let b = bin.clone();
    let u = url.clone();
    let (dom, console) = tokio::task::spawn_blocking(move || chromium(&b, &u, true))
        .await
        .unwrap();
    assert!(console.is_empty(), "console output: {console:#?}");
    assert!(dom.contains(PAGE_NAME), "{dom}");
    assert!(dom.contains("data-js=\"on\""), "the page's script ran");
    assert_eq!(row_status(&dom, "l.nic.dk"), Some("operational"));
    for n in NAMES {
        let at = dom
            .find(&format!("<figure class=\"card\" data-component=\"{n}\""))
            .unwrap_or_else(|| panic!("chart of {n}"));
        let fig = &dom[at..at + dom[at..].find("</figure>").unwrap()];
        assert!(
            fig.contains("class=\"line\"") || fig.contains("class=\"pt\""),
            "chart of {n} has no points: {fig}"
        );
    }

    // Kill one server: within the bound the browser shows its row in outage.
    let started = Instant::now();
    s.servers[2].stop().await;
    let dom = loop {
        let b = bin.clone();
        let u = url.clone();
        let (dom, console) = tokio::task::spawn_blocking(move || chromium(&b, &u, true))
            .await
            .unwrap();
        assert!(console.is_empty(), "console output: {console:#?}");
        if row_status(&dom, "l.nic.dk") == Some("major_outage") {
            break dom;
        }
        assert!(
            started.elapsed() < OUTAGE_BOUND + Duration::from_secs(5),
            "l.nic.dk not in outage on the page after {:?}",
            started.elapsed()
        );
    };
    assert!(dom.contains("data-status=\"degraded_performance\"") || dom.contains("partial_outage"));

    // Without JavaScript the page is the same document: statuses, words, charts.
    let (dom, console) = tokio::task::spawn_blocking(move || chromium(&bin, &url, false))
        .await
        .unwrap();
    assert!(console.is_empty(), "{console:#?}");
    assert!(!dom.contains("data-js="), "JavaScript was disabled");
    assert_eq!(row_status(&dom, "l.nic.dk"), Some("major_outage"));
    assert!(dom.contains("Major Outage"));
    assert!(dom.contains("<svg class=\"chart\""));
    s.daemon.shutdown().await.unwrap();
}

/// A free loopback port (bound and released).
fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_shows_probes_within_seconds() {
    let addr = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_nsprobe"))
        .args(["demo", "--listen", &addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nsprobe demo");
    let _guard = Child(child);
    wait_until(
        "demo page all operational",
        Duration::from_secs(15),
        || async move {
            let Ok(Ok(stream)) = tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(addr),
            )
            .await
            else {
                return false;
            };
            drop(stream);
            let (code, page) = http(addr, "GET", "/").await;
            code == 200
                && nsprobe::demo::NAMES
                    .iter()
                    .all(|n| row_status(&page, n) == Some("operational"))
        },
    )
    .await;
    let (code, metrics) = http(addr, "GET", "/metrics").await;
    assert_eq!(code, 200);
    for n in nsprobe::demo::NAMES {
        let ok = metrics.lines().any(|l| {
            l.starts_with("nsprobe_probes_total{")
                && l.contains(&format!("server=\"{n}\""))
                && l.contains("result=\"ok\"")
                && !l.ends_with(" 0")
        });
        assert!(ok, "no successful probe of {n} in /metrics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_what_it_waits_for() {
    let closed = common::closed_port().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nsprobe.toml");
    std::fs::write(
        &path,
        format!(
            "[http]\nlisten = \"127.0.0.1:0\"\n[state]\npath = \"{}\"\n\
             [resolver]\nservers = [\"{closed}\"]\ntimeout = \"200ms\"\nrefresh = \"1m\"\n\
             [[zone]]\nname = \"dk.\"\n[[zone.nameservers]]\nname = \"a.nic.dk\"\n",
            dir.path().join("state.json").display()
        ),
    )
    .unwrap();
    let d = daemon::start(RunOptions {
        config_path: path,
        listen: None,
        web_config: None,
    })
    .await
    .unwrap();
    let addr = d.http_addr;
    wait_until(
        "resolution failure in /readyz",
        Duration::from_secs(10),
        || async move {
            let (code, v) = common::get_json(addr, "/readyz").await;
            let reason = v["reason"].as_str().unwrap_or("").to_string();
            code == 503
                && reason.contains("waiting for the addresses of a.nic.dk")
                && reason.contains("resolution failed")
                && reason.contains("retrying every 1m")
        },
    )
    .await;
    // Nothing probed: the page does not claim health.
    let (_, page) = http(addr, "GET", "/").await;
    assert!(!page.contains("All Systems Operational"));
    assert_eq!(row_status(&page, "a.nic.dk"), Some("unknown"));
    d.shutdown().await.unwrap();
}
