//! The built-in status page against a daemon probing real DNS servers (in-process
//! hickory-server, as `nsprobe demo` runs them): the page and badges over HTTP, valid
//! HTML (tidy), and the `nsprobe demo` binary. The page in a real browser (Chromium over
//! WebDriver, against real Knot servers) is `tests/browser.rs`, run by
//! `tests/system/browser.sh`.
//!
//! tidy is an external tool: without it that test prints a skip line, unless
//! `NSPROBE_REQUIRE_TOOLS=1` (set by CI), where it fails.

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
    setup_with(|_| {}).await
}

/// Like [`setup`], after `seed` wrote to the store file (given its path) the daemon opens.
async fn setup_with(seed: impl FnOnce(&std::path::Path)) -> Setup {
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
    // The store's default place: beside the state file.
    seed(&dir.path().join("nsprobe.db"));
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

/// The first incident link (`incidents/{id}`) of the active incidents on top of the page.
fn active_incident(html: &str) -> Option<&str> {
    let at = html.find("id=\"active-incidents\"")?;
    let sec = &html[at..at + html[at..].find("</section>")?];
    sec.split("href=\"incidents/").nth(1)?.split('"').next()
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
    // No incident yet: nothing on top, fourteen quiet days.
    assert!(active_incident(&page).is_none());
    assert_eq!(page.matches("No incidents reported.").count(), 14);
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

    // The outage opened an incident: on top of the page (before the components), with
    // its update timeline, listed today in the past days, and on its own page.
    let (_, page) = http(addr, "GET", "/").await;
    let id = active_incident(&page)
        .unwrap_or_else(|| panic!("no active incident on the page: {page}"))
        .to_string();
    let top = page.find("id=\"active-incidents\"").unwrap();
    assert!(
        top < page.find("<h2>Components</h2>").unwrap(),
        "incident on top"
    );
    let sec = &page[top..top + page[top..].find("</section>").unwrap()];
    // Its title names the server ("Network connectivity issue affecting l.nic.dk", or
    // "l.nic.dk: Partial Outage" when UDP failed a tick before TCP on a loaded machine).
    let title = sec
        .split(&format!("href=\"incidents/{id}\">"))
        .nth(1)
        .and_then(|t| t.split("</a>").next())
        .unwrap_or_else(|| panic!("title link: {sec}"));
    assert!(title.contains("l.nic.dk"), "{sec}");
    assert!(sec.contains("<strong>Investigating</strong>"), "{sec}");
    assert_eq!(
        page.matches("No incidents reported.").count(),
        13,
        "quiet days"
    );
    let (code, inc) = http(addr, "GET", &format!("/incidents/{id}")).await;
    assert_eq!(code, 200, "{inc}");
    assert!(inc.contains(&format!("<h3>{title}</h3>")), "{inc}");
    assert!(inc.contains("Ongoing"), "{inc}");
    let (code, nope) = http(addr, "GET", "/incidents/nosuchincident").await;
    assert_eq!(code, 404);
    assert!(nope.contains("Incident not found"), "{nope}");
    s.daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_is_valid_html() {
    let Some(tidy) = tool("page_is_valid_html", "tidy", "tidy") else {
        return;
    };
    let mut s = setup().await;
    let addr = s.daemon.http_addr;
    let (_, page) = http(addr, "GET", "/").await;
    assert_eq!(common::tidy::report(&tidy, &page), "", "status page");
    // With an incident: the page and the incident page.
    s.servers[2].stop().await;
    wait_until("incident on the page", OUTAGE_BOUND, || async move {
        active_incident(&http(addr, "GET", "/").await.1).is_some()
    })
    .await;
    let (_, page) = http(addr, "GET", "/").await;
    assert_eq!(
        common::tidy::report(&tidy, &page),
        "",
        "status page with an incident"
    );
    let id = active_incident(&page).unwrap();
    let (_, inc) = http(addr, "GET", &format!("/incidents/{id}")).await;
    assert_eq!(common::tidy::report(&tidy, &inc), "", "incident page");
    let (_, nope) = http(addr, "GET", "/incidents/nope").await;
    assert_eq!(common::tidy::report(&tidy, &nope), "", "404 page");
    s.daemon.shutdown().await.unwrap();
}

const DAY: u64 = 86_400_000;

/// Writes what the daemon would have written weeks ago: a.nic.dk answering in 7.5 ms three
/// days ago and in 9.5 ms twenty days ago; l.nic.dk down for an hour three days ago, with
/// its (resolved) incident. And what a daemon stopped an hour ago wrote: a minute of
/// b.nic.dk two hours ago, half its probes failed, the others answered in 31.5 ms.
fn seed_history(path: &std::path::Path, now: u64) {
    use nsprobe::config::StoreConfig;
    use nsprobe::incidents::{AffectedComponent, Impact, Incident, IncidentStatus, IncidentUpdate};
    use nsprobe::status::Status;
    use nsprobe::store::{MinuteRecord, Store, Write};
    let settings = StoreConfig {
        path: path.to_path_buf(),
        retention: Duration::from_secs(90 * 86_400),
        minute_retention: Duration::from_secs(7 * 86_400),
    };
    let (store, _) = Store::open(
        &settings,
        std::sync::Arc::new(nsprobe::metrics::DaemonMetrics::new()),
    )
    .expect("store");
    let today = now / DAY * DAY;
    for (at, us) in [(today - 3 * DAY, 7_500), (today - 20 * DAY, 9_500)] {
        store.send(Write::Minute {
            component: ("DNS (.dk)".into(), "a.nic.dk".into()),
            record: MinuteRecord {
                minute: at + 10 * 3_600_000,
                probes: 60,
                failures: 0,
                min_us: Some(us),
                median_us: Some(us),
                p95_us: Some(us),
                max_us: Some(us),
            },
        });
    }
    store.send(Write::Minute {
        component: ("DNS (.dk)".into(), "b.nic.dk".into()),
        record: MinuteRecord {
            minute: (now - 2 * 3_600_000) / 60_000 * 60_000,
            probes: 60,
            failures: 30,
            min_us: Some(31_000),
            median_us: Some(31_500),
            p95_us: Some(32_000),
            max_us: Some(33_000),
        },
    });
    let (down, up) = (
        today - 3 * DAY + 6 * 3_600_000,
        today - 3 * DAY + 7 * 3_600_000,
    );
    let l = ("DNS (.dk)".to_string(), "l.nic.dk".to_string());
    for (at, status) in [
        (today - 10 * DAY, Status::Operational),
        (down, Status::MajorOutage),
        (up, Status::Operational),
    ] {
        store.send(Write::StatusChange {
            component: l.clone(),
            at,
            status,
            reason: "seeded".into(),
        });
    }
    let affected = |new_status| AffectedComponent {
        group: l.0.clone(),
        name: l.1.clone(),
        old_status: Status::Operational,
        new_status,
    };
    store.send(Write::Incident(Box::new(Incident {
        id: "seeded0incid".into(),
        name: "Seeded: l.nic.dk was not reachable".into(),
        group: l.0.clone(),
        kind: "server".into(),
        status: IncidentStatus::Resolved,
        impact: Impact::Minor,
        created_at: down,
        updated_at: up,
        resolved_at: Some(up),
        updates: vec![
            IncidentUpdate {
                id: "seeded0incid-1".into(),
                status: IncidentStatus::Investigating,
                body: "Investigating — l.nic.dk is not reachable.".into(),
                at: down,
                affected_components: vec![affected(Status::MajorOutage)],
            },
            IncidentUpdate {
                id: "seeded0incid-2".into(),
                status: IncidentStatus::Resolved,
                body: "Resolved — l.nic.dk is reachable again after 1 h.".into(),
                at: up,
                affected_components: vec![affected(Status::Operational)],
            },
        ],
        components: vec![affected(Status::Operational)],
    })));
    store.close(Duration::from_secs(10));
}

/// The chart figure of `name` in a page.
fn figure<'a>(html: &'a str, name: &str) -> &'a str {
    let at = html
        .find(&format!("<figure class=\"card\" data-component=\"{name}\""))
        .unwrap_or_else(|| panic!("chart of {name}"));
    &html[at..at + html[at..].find("</figure>").unwrap()]
}

/// The values (ms) a chart draws, read back from its line as the page's script does: the
/// path's y coordinates scaled to `data-top` (plot area y 8..124).
fn drawn_ms(fig: &str) -> Vec<f64> {
    let attr = |name: &str| {
        fig.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
    };
    let top: f64 = attr("data-top").unwrap().parse().unwrap();
    let Some(d) = fig.split("class=\"line\" d=\"").nth(1) else {
        return Vec::new();
    };
    let nums: Vec<f64> = d[..d.find('"').unwrap()]
        .split(['M', ' '])
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().unwrap())
        .collect();
    nums.chunks(2)
        .map(|p| (124.0 - p[1]) / 116.0 * top)
        .collect()
}

/// True when the chart draws a value within 0.05 ms of `ms`.
fn draws(fig: &str, ms: f64) -> bool {
    drawn_ms(fig).iter().any(|v| (v - ms).abs() < 0.05)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_history_charts_incidents_and_bars() {
    let now = nsprobe::now_ms();
    let s = setup_with(|p| seed_history(p, now)).await;
    let addr = s.daemon.http_addr;
    let (_, page) = http(addr, "GET", "/").await;
    // Three days ago lists the stored incident; the other 13 days are quiet.
    let day = nsprobe::uptime::date(now / DAY * DAY - 3 * DAY);
    let at = page
        .find(&format!("id=\"d-{day}\""))
        .unwrap_or_else(|| panic!("day {day} in the history"));
    let listed = &page[at..at + page[at..].find("</div>").unwrap()];
    assert!(
        listed.contains("href=\"incidents/seeded0incid\""),
        "{listed}"
    );
    assert!(listed.contains("<strong>Resolved</strong>"), "{listed}");
    assert_eq!(page.matches("No incidents reported.").count(), 13);
    assert!(active_incident(&page).is_none(), "resolved: not on top");
    // l.nic.dk's bar of that day is focusable and links to it; a.nic.dk's bars do not.
    let l_row = &page[page.find("data-component=\"l.nic.dk\"").unwrap()..];
    let l_row = &l_row[..l_row.find("</li>").unwrap()];
    assert!(l_row.contains("tabindex=\"0\""), "{l_row}");
    assert!(l_row.contains(&format!("<b>{day}</b>")), "{l_row}");
    assert!(l_row.contains("href=\"incidents/seeded0incid\""), "{l_row}");
    let a_row = &page[page.find("data-component=\"a.nic.dk\"").unwrap()..];
    assert!(!a_row[..a_row.find("</li>").unwrap()].contains("tabindex"));
    let (code, inc) = http(addr, "GET", "/incidents/seeded0incid").await;
    assert_eq!(code, 200);
    assert!(inc.contains("Seeded: l.nic.dk was not reachable") && inc.contains("Resolved"));
    // 24 hours: the store's minutes of the last day (written before this daemon started)
    // joined with those in memory; the stored days before are not in it.
    assert!(!draws(figure(&page, "a.nic.dk"), 7.5));
    assert!(
        draws(figure(&page, "b.nic.dk"), 31.5),
        "the minute of 2 h ago"
    );
    let (code, rt) = http(
        addr,
        "GET",
        "/api/v1/zones/dk/servers/b.nic.dk/response-times?minutes=1440",
    )
    .await;
    assert_eq!(code, 200, "{rt}");
    let rt: serde_json::Value = serde_json::from_str(&rt).unwrap();
    let points = rt["points"].as_array().unwrap();
    let stored = &points[0];
    assert_eq!(
        (stored["probes"].as_u64(), stored["failures"].as_u64()),
        (Some(60), Some(30)),
        "{rt}"
    );
    assert_eq!(stored["median_ms"].as_f64(), Some(31.5), "{rt}");
    assert!(points.len() >= 2, "and the minutes in memory: {rt}");
    let (_, rt) = http(
        addr,
        "GET",
        "/api/v1/zones/dk/servers/b.nic.dk/response-times?minutes=60",
    )
    .await;
    assert!(!rt.contains("31.5"), "outside the last hour: {rt}");
    let (_, badge) = http(addr, "GET", "/badge/b.nic.dk/uptime.json").await;
    let badge: serde_json::Value = serde_json::from_str(&badge).unwrap();
    let up: f64 = badge["message"]
        .as_str()
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(
        up < 100.0 && up > 40.0,
        "the stored failures count: {badge}"
    );
    // 7 days: hourly points from the store (three days ago), not twenty days ago.
    let (code, week) = http(addr, "GET", "/?range=7d").await;
    assert_eq!(code, 200);
    assert!(week.len() < 150 * 1024, "{} bytes", week.len());
    assert!(
        week.contains("<strong>7 days</strong>"),
        "the current range"
    );
    assert!(week.contains("href=\"?range=30d#response-time\""));
    let fig = figure(&week, "a.nic.dk");
    assert!(
        fig.contains("data-range=\"7d\"") && fig.contains("last 7 days"),
        "{fig}"
    );
    assert!(draws(fig, 7.5) && !draws(fig, 9.5), "{fig}");
    assert!(
        fig.contains("class=\"pt\"") || fig.contains("class=\"line\""),
        "{fig}"
    );
    // 30 days: both, in 4-hour points.
    let (code, month) = http(addr, "GET", "/?range=30d").await;
    assert_eq!(code, 200);
    assert!(month.len() < 150 * 1024, "{} bytes", month.len());
    let fig = figure(&month, "a.nic.dk");
    assert!(draws(fig, 7.5) && draws(fig, 9.5), "{fig}");
    assert!(fig.contains("30 d ago"), "{fig}");
    let (code, bad) = http(addr, "GET", "/?range=1y").await;
    assert_eq!(code, 400, "{bad}");
    assert!(bad.contains("24h, 7d or 30d"), "{bad}");
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
