//! The status page in a real browser, against the real daemon probing real DNS servers
//! (run by `tests/system/browser.sh`; `#[ignore]`d in plain `cargo test`).
//!
//! The `nsprobe` binary probes three Knot DNS servers (`knotd`) on 127.0.4.1-3 and two
//! service components (HTTP to its own `/healthz`, TCP to the first Knot server), and
//! serves the page; headless Chromium loads it, driven over WebDriver (`chromedriver`,
//! the `fantoccini` crate):
//! - the page loads with no console error (the browser log, `goog:loggingPrefs`);
//! - every response-time chart has points (nameservers and service components), and the
//!   page's script shows the value under the pointer;
//! - killing one Knot server turns its row to `Major Outage` within README's bound
//!   (`fail_after × interval + timeout + confirm_after` + 1.18 s; one page load of
//!   allowance, as `tests/system/statuses.sh` allows one poll) and shows an incident on
//!   top, above the components;
//! - in a second session with JavaScript disabled the page has the same content: the
//!   statuses in words, the incident, the charts;
//! - the real page is valid HTML (`tidy`).
//!
//! With `NSPROBE_SCREENSHOTS=DIR` it also saves, during the outage, the page at 1280 px
//! (desktop) and 360 px (phone), light and dark (`prefers-color-scheme` emulated over
//! CDP): README's pictures in `docs/`.
//!
//! A missing tool fails the test naming the Debian package; nothing is skipped.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use common::{http, wait_until};

const PAGE_NAME: &str = "Punktum dk — status";
const ZONE: &str = "dk.";
/// The Knot servers: name and loopback address (127.0.4.x: not the other system tests' nets).
const SERVERS: [(&str, Ipv4Addr); 3] = [
    ("a.nic.dk", Ipv4Addr::new(127, 0, 4, 1)),
    ("b.nic.dk", Ipv4Addr::new(127, 0, 4, 2)),
    ("l.nic.dk", Ipv4Addr::new(127, 0, 4, 3)),
];
/// The server the test kills (as in the seed's incident).
const VICTIM: usize = 2;
/// Service components of the test config (group "Registry services").
const SERVICES: [&str; 2] = ["Website", "TCP service"];

// The zone's timing in the test config, and README's bound computed from it.
const INTERVAL: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_millis(500);
const FAIL_AFTER: u32 = 3;
const CONFIRM_AFTER: Duration = Duration::from_secs(2);

/// README (Status rules, Bounds): `fail_after × interval + timeout + confirm_after` + 1.18 s.
fn outage_bound() -> Duration {
    INTERVAL * FAIL_AFTER + TIMEOUT + CONFIRM_AFTER + Duration::from_millis(1184)
}

/// The tool's path, or a failure naming the package that provides it.
fn need(tool: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{tool} not on PATH: apt-get install {package} (tests/system/browser.sh)")
        })
}

/// A child process, killed and reaped when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port free on every Knot address, for UDP and TCP (bound and released).
fn free_dns_port() -> u16 {
    for _ in 0..50 {
        let probe = std::net::TcpListener::bind((SERVERS[0].1, 0)).unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let free = SERVERS.iter().all(|(_, ip)| {
            std::net::TcpListener::bind((*ip, port)).is_ok()
                && std::net::UdpSocket::bind((*ip, port)).is_ok()
        });
        if free {
            return port;
        }
    }
    panic!("no port free on {SERVERS:?} for UDP and TCP");
}

/// A free loopback TCP port on 127.0.0.1 (bound and released).
fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn zone_text() -> String {
    let mut z = format!(
        "$ORIGIN {ZONE}\n$TTL 300\n@ SOA a.nic.dk. hostmaster.nic.dk. 2026062401 1800 600 604800 300\n"
    );
    for (name, _) in SERVERS {
        z.push_str(&format!("@ NS {name}.\n"));
    }
    for (name, ip) in SERVERS {
        z.push_str(&format!("{name}. A {ip}\n"));
    }
    z
}

/// Starts `knotd` for `name` on `ip:port` (its own config, run directory and storage
/// under `dir`) and waits until it answers the zone's SOA.
fn start_knot(knotd: &Path, kdig: &Path, dir: &Path, name: &str, ip: Ipv4Addr, port: u16) -> Proc {
    for sub in ["run", "storage", "zones"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("zones").join(format!("{ZONE}zone")), zone_text()).unwrap();
    let d = dir.display();
    let conf = format!(
        "server:\n    rundir: \"{d}/run\"\n    listen: {ip}@{port}\n    nsid: \"{name}\"\n    \
         identity: \"{name}\"\n    background-workers: 1\n    udp-workers: 1\n    tcp-workers: 1\n\
         log:\n  - target: \"{d}/knotd.log\"\n    any: info\n\
         database:\n    storage: \"{d}/storage\"\n\
         control:\n    listen: \"{d}/run/knot.sock\"\n\
         zone:\n  - domain: {ZONE}\n    storage: \"{d}/zones\"\n    file: \"{ZONE}zone\"\n    \
         zonefile-sync: -1\n    journal-content: none\n"
    );
    let conf_path = dir.join("knot.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let stderr = std::fs::File::create(dir.join("knotd.stderr")).unwrap();
    let mut child = Proc(
        Command::new(knotd)
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start knotd"),
    );
    let started = Instant::now();
    loop {
        // `knotd` may exit 0 on a bad config: trust only an answer.
        let out = Command::new(kdig)
            .arg(format!("@{ip}"))
            .args(["-p", &port.to_string(), ZONE, "SOA", "+norec", "+short"])
            .args(["+time=1", "+retry=0"])
            .output()
            .expect("run kdig");
        if String::from_utf8_lossy(&out.stdout).contains("2026062401") {
            return child;
        }
        if let Ok(Some(st)) = child.0.try_wait() {
            panic!(
                "knotd for {name} exited ({st}): {}",
                std::fs::read_to_string(dir.join("knotd.stderr")).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "knotd for {name} on {ip}:{port} does not answer: {}",
            std::fs::read_to_string(dir.join("knotd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The daemon's config: the zone on the three Knot servers, two service components.
fn config(dir: &Path, listen: SocketAddr, dns_port: u16) -> String {
    let mut cfg = format!(
        "[page]\nname = \"{PAGE_NAME}\"\n\n[http]\nlisten = \"{listen}\"\n\n\
         [state]\npath = \"{state}\"\n\n\
         [[zone]]\nname = \"{ZONE}\"\ncomponent = \"DNS (.dk)\"\ninterval = \"{i}ms\"\n\
         timeout = \"{t}ms\"\nfail_after = {FAIL_AFTER}\nrecover_after = 2\n\
         confirm_after = \"{c}ms\"\nclear_after = \"3s\"\nstale_after = \"1h\"\n",
        state = dir.join("nsprobe-state.json").display(),
        i = INTERVAL.as_millis(),
        t = TIMEOUT.as_millis(),
        c = CONFIRM_AFTER.as_millis(),
    );
    for (name, ip) in SERVERS {
        cfg.push_str(&format!(
            "\n[[zone.nameservers]]\nname = \"{name}\"\naddresses = [\"{ip}:{dns_port}\"]\n"
        ));
    }
    cfg.push_str(&format!(
        "\n[[group]]\nname = \"Registry services\"\n\n\
         [[group.component]]\nname = \"{web}\"\ninterval = \"1s\"\ntimeout = \"500ms\"\n\
         confirm_after = \"2s\"\nclear_after = \"3s\"\n\n\
         [[group.component.check]]\nkind = \"http\"\nurl = \"http://{listen}/healthz\"\n\n\
         [[group.component]]\nname = \"{tcp}\"\ninterval = \"1s\"\ntimeout = \"500ms\"\n\
         confirm_after = \"2s\"\nclear_after = \"3s\"\n\n\
         [[group.component.check]]\nkind = \"tcp\"\naddress = \"{ip}:{dns_port}\"\n",
        web = SERVICES[0],
        tcp = SERVICES[1],
        ip = SERVERS[0].1,
    ));
    cfg
}

/// `POST /session/{id}/se/log {"type":"browser"}`: chromedriver's browser log (console
/// messages and failed loads) since the last call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(r#"{"type":"browser"}"#.to_string()),
        )
    }
}

/// A Chrome DevTools Protocol command through chromedriver (`goog/cdp/execute`).
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

async fn cdp(c: &Client, cmd: &'static str, params: Value) -> Value {
    c.issue_cmd(Cdp { cmd, params })
        .await
        .unwrap_or_else(|e| panic!("CDP {cmd}: {e}"))
}

/// The browser log's entries since the last call, as `LEVEL message` lines.
async fn console(c: &Client) -> Vec<String> {
    let log = c.issue_cmd(BrowserLog).await.expect("browser log");
    log.as_array()
        .expect("browser log is an array")
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["level"].as_str().unwrap_or("?"),
                e["message"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Fails on any console error (level SEVERE: script errors, failed loads, CSP refusals).
async fn assert_no_console_error(c: &Client, when: &str) {
    let lines = console(c).await;
    for l in &lines {
        eprintln!("browser console ({when}): {l}");
    }
    let errors: Vec<_> = lines.iter().filter(|l| l.starts_with("SEVERE")).collect();
    assert!(errors.is_empty(), "console errors {when}: {errors:#?}");
}

async fn session(driver: &str, chromium: &Path, profile: &Path, javascript: bool) -> Client {
    let mut prefs = json!({});
    if !javascript {
        // What a user's "Don't allow sites to use JavaScript" sets.
        prefs = json!({ "profile.managed_default_content_settings.javascript": 2 });
    }
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--hide-scrollbars", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": prefs,
        },
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    let caps: Capabilities = caps.as_object().unwrap().clone();
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(driver)
        .await
        .unwrap_or_else(|e| panic!("WebDriver session on {driver}: {e}"))
}

async fn attr(c: &Client, css: &str, name: &str) -> Option<String> {
    let el = c.find(Locator::Css(css)).await.ok()?;
    el.attr(name).await.ok().flatten()
}

fn row_css(name: &str) -> String {
    format!("li.comp[data-component=\"{name}\"]")
}

/// Every chart (figure) on the page: (component, has a line or a point).
async fn charts(c: &Client) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for fig in c
        .find_all(Locator::Css("figure[data-component]"))
        .await
        .unwrap()
    {
        let name = fig
            .attr("data-component")
            .await
            .unwrap()
            .unwrap_or_default();
        let drawn = !fig
            .find_all(Locator::Css("svg.chart path.line, svg.chart circle.pt"))
            .await
            .unwrap()
            .is_empty();
        out.push((name, drawn));
    }
    out
}

/// Saves the page as a PNG: `width` CSS px wide, from the top of the element `from`
/// (or of the page) down, at most `max_height` px; light or dark.
async fn screenshot(
    c: &Client,
    path: &Path,
    width: u32,
    from: Option<&str>,
    max_height: u32,
    dark: bool,
) {
    let mobile = width < 600;
    let scheme = if dark { "dark" } else { "light" };
    cdp(
        c,
        "Emulation.setEmulatedMedia",
        json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
    )
    .await;
    let metrics =
        |h: u32| json!({ "width": width, "height": h, "deviceScaleFactor": 1, "mobile": mobile });
    cdp(c, "Emulation.setDeviceMetricsOverride", metrics(800)).await;
    let layout = cdp(c, "Page.getLayoutMetrics", json!({})).await;
    let height = layout["cssContentSize"]["height"]
        .as_f64()
        .expect("content height")
        .ceil() as u32;
    // The whole page in the viewport, then the part wanted.
    cdp(c, "Emulation.setDeviceMetricsOverride", metrics(height)).await;
    let top = match from {
        Some(css) => c
            .execute(
                "return Math.floor(document.querySelector(arguments[0]).getBoundingClientRect().top + scrollY)",
                vec![json!(css)],
            )
            .await
            .expect("element position")
            .as_u64()
            .expect("a position"),
        None => 0,
    } as u32;
    let shown = max_height.min(height.saturating_sub(top));
    let clip = json!({ "x": 0, "y": top, "width": width, "height": shown, "scale": 1 });
    let shot = cdp(
        c,
        "Page.captureScreenshot",
        json!({ "format": "png", "clip": clip }),
    )
    .await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().expect("screenshot data"))
        .expect("base64 PNG");
    std::fs::write(path, png).unwrap();
    eprintln!(
        "screenshot {} ({width} px wide, {shown} px from {top} of {height}, {scheme})",
        path.display(),
    );
    cdp(c, "Emulation.clearDeviceMetricsOverride", json!({})).await;
    cdp(c, "Emulation.setEmulatedMedia", json!({ "features": [] })).await;
}

/// Moves the pointer over the newest point of `name`'s chart; returns the script's tip.
async fn hover_newest_point(c: &Client, name: &str) -> String {
    let script = r#"
        const fig = document.querySelector('figure[data-component="' + arguments[0] + '"]');
        const svg = fig.querySelector('svg.chart');
        svg.scrollIntoView({ block: 'center' });
        // The line's last point, in the chart's viewBox (600 x 150).
        const nums = svg.querySelector('path.line').getAttribute('d').match(/-?[\d.]+/g);
        const vx = +nums[nums.length - 2], vy = +nums[nums.length - 1];
        const r = svg.getBoundingClientRect();
        return [r.left + vx / 600 * r.width, r.top + vy / 150 * r.height];
    "#;
    let at = c
        .execute(script, vec![json!(name)])
        .await
        .expect("chart position");
    let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
    cdp(
        c,
        "Input.dispatchMouseEvent",
        json!({ "type": "mouseMoved", "x": x, "y": y }),
    )
    .await;
    let tip = format!("figure[data-component=\"{name}\"] .tip");
    c.find(Locator::Css(&tip))
        .await
        .expect("tip")
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs knotd, kdig, chromium, chromedriver, tidy: run by tests/system/browser.sh"]
async fn status_page_in_a_real_browser() {
    let knotd = need("knotd", "knot");
    let kdig = need("kdig", "knot-dnsutils");
    let chromium = need("chromium", "chromium");
    let chromedriver = need("chromedriver", "chromium-driver");
    let tidy = need("tidy", "tidy");
    let dir = tempfile::tempdir().unwrap();

    // Three Knot servers on 127.0.4.1-3.
    let port = free_dns_port();
    let mut knots: Vec<Option<Proc>> = SERVERS
        .iter()
        .map(|(name, ip)| {
            Some(start_knot(
                &knotd,
                &kdig,
                &dir.path().join(name),
                name,
                *ip,
                port,
            ))
        })
        .collect();

    // The real daemon.
    let listen = free_port();
    let cfg_path = dir.path().join("nsprobe.toml");
    std::fs::write(&cfg_path, config(dir.path(), listen, port)).unwrap();
    let log_path = dir.path().join("nsprobe.log");
    let _daemon = Proc(
        Command::new(env!("CARGO_BIN_EXE_nsprobe"))
            .args(["run", "-c"])
            .arg(&cfg_path)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .expect("start nsprobe"),
    );
    let daemon_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    wait_until(
        "nsprobe: every component operational, every chart drawn",
        Duration::from_secs(30),
        || async move {
            let up = tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(listen),
            )
            .await;
            if !matches!(up, Ok(Ok(_))) {
                return false;
            }
            let (code, page) = http(listen, "GET", "/").await;
            code == 200
                && page.contains("All Systems Operational")
                && page.matches("<figure").count() == SERVERS.len() + SERVICES.len()
                && page.split("<figure").skip(1).all(|f| {
                    let f = &f[..f.find("</figure>").unwrap_or(f.len())];
                    f.contains("class=\"line\"") || f.contains("class=\"pt\"")
                })
        },
    )
    .await;
    let url = format!("http://{listen}/");

    // chromedriver on a free port.
    let driver_port = free_port().port();
    let _driver = Proc(
        Command::new(&chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let driver = format!("http://127.0.0.1:{driver_port}/");
    wait_until("chromedriver listening", Duration::from_secs(10), || {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), driver_port);
        async move { tokio::net::TcpStream::connect(addr).await.is_ok() }
    })
    .await;

    // 1. The page with JavaScript: no console error, the script ran, charts drawn.
    let profile = tempfile::tempdir().unwrap();
    let c = session(&driver, &chromium, profile.path(), true).await;
    c.goto(&url).await.expect("load the page");
    assert_eq!(c.title().await.unwrap(), PAGE_NAME);
    assert_no_console_error(&c, "loading the page").await;
    assert_eq!(
        attr(&c, "html", "data-js").await.as_deref(),
        Some("on"),
        "the page's script ran"
    );
    let banner = c.find(Locator::Id("overall")).await.unwrap();
    assert_eq!(banner.text().await.unwrap(), "All Systems Operational");
    for (name, _) in SERVERS {
        assert_eq!(
            attr(&c, &row_css(name), "data-status").await.as_deref(),
            Some("operational"),
            "{name}"
        );
    }
    let drawn = charts(&c).await;
    let mut names: Vec<&str> = drawn.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    let mut want: Vec<&str> = SERVERS.iter().map(|(n, _)| *n).chain(SERVICES).collect();
    want.sort_unstable();
    assert_eq!(
        names, want,
        "one chart per nameserver and service component"
    );
    for (name, has_points) in &drawn {
        assert!(has_points, "the chart of {name} has no points");
    }
    let tip = hover_newest_point(&c, "a.nic.dk").await;
    eprintln!("hover tip over the newest point of a.nic.dk: {tip:?}");

    // "10:35 UTC: 0.43 ms median": the start of the newest 5-minute step, a positive value.
    let (at, value) = tip
        .trim_end_matches(", some probes failed")
        .strip_suffix(" ms median")
        .and_then(|t| t.split_once(" UTC: "))
        .unwrap_or_else(|| panic!("hover tip: {tip:?}"));
    let minute: u32 = at.get(3..5).and_then(|m| m.parse().ok()).unwrap_or(1);
    assert!(
        at.len() == 5 && minute.is_multiple_of(5),
        "hover tip's time: {tip:?}"
    );
    let value: f64 = value.parse().unwrap_or(-1.0);
    assert!(value > 0.0 && value < 500.0, "hover tip's value: {tip:?}");
    assert_no_console_error(&c, "hovering a chart").await;
    // The 7- and 30-day ranges (from the store): every component keeps its chart.
    for range in ["7d", "30d"] {
        c.goto(&format!("{url}?range={range}")).await.unwrap();
        assert_no_console_error(&c, &format!("loading ?range={range}")).await;
        let figs = c
            .find_all(Locator::Css(&format!(
                "figure[data-range=\"{range}\"] svg.chart"
            )))
            .await
            .unwrap();
        assert_eq!(
            figs.len(),
            want.len(),
            "?range={range}: one chart per component"
        );
    }

    // 2. Kill l.nic.dk's Knot: its row turns to major outage within the bound, an
    //    incident on top.
    let victim = SERVERS[VICTIM].0;
    let killed = Instant::now();
    knots[VICTIM] = None; // SIGKILL: its port then refuses (ICMP port unreachable).
    let seen = loop {
        c.goto(&url).await.expect("reload the page");
        let status = attr(&c, &row_css(victim), "data-status").await;
        let incident = !c
            .find_all(Locator::Id("active-incidents"))
            .await
            .unwrap()
            .is_empty();
        if status.as_deref() == Some("major_outage") && incident {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < outage_bound() + Duration::from_secs(10),
            "{victim} not in outage on the page {:?} after the kill (status {status:?}, \
             incident {incident}); daemon log:\n{}",
            killed.elapsed(),
            daemon_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!(
        "{victim} shown as Major Outage with an incident on top {seen:?} after the kill \
         (bound {:?})",
        outage_bound()
    );
    assert!(
        seen <= outage_bound() + Duration::from_secs(1),
        "{victim} in outage on the page only {seen:?} after the kill (bound {:?} + 1 s for \
         the page load)",
        outage_bound()
    );
    assert_no_console_error(&c, "during the outage").await;
    let row = c.find(Locator::Css(&row_css(victim))).await.unwrap();
    assert!(row.is_displayed().await.unwrap());
    assert!(
        row.text().await.unwrap().contains("Major Outage"),
        "the status in words"
    );
    let group = attr(&c, "details.group[data-status]", "data-status").await;
    assert_eq!(
        group.as_deref(),
        Some("degraded_performance"),
        "one server of three out degrades the group"
    );
    let banner = c.find(Locator::Id("overall")).await.unwrap();
    let banner_text = banner.text().await.unwrap();
    assert!(
        banner_text.contains(&format!("{victim}: Major Outage")),
        "the banner names the server: {banner_text:?}"
    );
    let incidents = c.find(Locator::Id("active-incidents")).await.unwrap();
    assert!(incidents.is_displayed().await.unwrap());
    let incident_text = incidents.text().await.unwrap();
    assert!(
        incident_text.to_lowercase().contains(victim),
        "the incident names {victim}: {incident_text:?}"
    );
    let components = c
        .find(Locator::XPath("//h2[normalize-space()='Components']"))
        .await
        .unwrap();
    let (_, incident_y, _, _) = incidents.rectangle().await.unwrap();
    let (_, components_y, _, _) = components.rectangle().await.unwrap();
    assert!(
        incident_y < components_y,
        "the incident ({incident_y}) is above the components ({components_y})"
    );
    // The charts still have their points; the victim's now shows failures.
    for (name, has_points) in charts(&c).await {
        assert!(has_points, "the chart of {name} has no points");
    }
    let fails = c
        .find_all(Locator::Css(&format!(
            "figure[data-component=\"{victim}\"] rect.fail"
        )))
        .await
        .unwrap();
    assert!(!fails.is_empty(), "failed probes of {victim} marked");

    // The real page is valid HTML, with the incident and the outage on it.
    let (_, html) = http(listen, "GET", "/").await;
    assert_eq!(
        common::tidy::report(&tidy, &html),
        "",
        "tidy on the real page"
    );
    eprintln!("page weight during the outage: {} bytes", html.len());
    let (_, metrics) = http(listen, "GET", "/metrics").await;
    for l in metrics.lines().filter(|l| {
        l.starts_with("nsprobe_probes_total{") && !l.contains("result=\"ok\"") && !l.ends_with(" 0")
    }) {
        eprintln!("failed probes: {l}");
    }

    if let Some(out) = std::env::var_os("NSPROBE_SCREENSHOTS") {
        let out = PathBuf::from(out);
        std::fs::create_dir_all(&out).unwrap();
        c.goto(&url).await.unwrap();
        let shots = [
            ("status-page-desktop.png", 1280, None, 2400, false),
            ("status-page-phone.png", 360, None, 1800, false),
            ("status-page-desktop-dark.png", 1280, None, 2400, true),
            ("status-page-phone-dark.png", 360, None, 1800, true),
            (
                "status-page-phone-charts.png",
                360,
                Some("#response-time"),
                900,
                false,
            ),
        ];
        for (file, width, from, max_height, dark) in shots {
            screenshot(&c, &out.join(file), width, from, max_height, dark).await;
        }
        assert_no_console_error(&c, "screenshots").await;
    }
    c.close().await.unwrap();

    // 3. JavaScript disabled: the same content, statuses and incident.
    let profile = tempfile::tempdir().unwrap();
    let c = session(&driver, &chromium, profile.path(), false).await;
    c.goto(&url)
        .await
        .expect("load the page without JavaScript");
    assert_no_console_error(&c, "without JavaScript").await;
    assert_eq!(
        attr(&c, "html", "data-js").await,
        None,
        "JavaScript was disabled: the page's script did not run"
    );
    assert_eq!(c.title().await.unwrap(), PAGE_NAME);
    let row = c.find(Locator::Css(&row_css(victim))).await.unwrap();
    assert!(row.is_displayed().await.unwrap());
    assert_eq!(
        row.attr("data-status").await.unwrap().as_deref(),
        Some("major_outage")
    );
    assert!(row.text().await.unwrap().contains("Major Outage"));
    for (name, _) in SERVERS.iter().filter(|(n, _)| *n != victim) {
        let row = c.find(Locator::Css(&row_css(name))).await.unwrap();
        assert!(row.text().await.unwrap().contains("Operational"), "{name}");
    }
    let incidents = c.find(Locator::Id("active-incidents")).await.unwrap();
    assert!(incidents.is_displayed().await.unwrap());
    assert!(incidents
        .text()
        .await
        .unwrap()
        .to_lowercase()
        .contains(victim));
    let drawn = charts(&c).await;
    assert_eq!(drawn.len(), SERVERS.len() + SERVICES.len());
    for (name, has_points) in drawn {
        assert!(
            has_points,
            "without JavaScript, the chart of {name} has no points"
        );
    }
    c.close().await.unwrap();
    drop(knots);
}
