//! The HTTP listener as an operator deploys it: `--web.config.file` with TLS
//! (rustls), client certificates and basic auth, checked with curl against the
//! real listener of an in-process daemon; the public-status-page switch; the
//! limits against abuse (slowloris, huge heads, connection floods); JSON on
//! every error; and the real binary rejecting a bad web config and reloading
//! it on SIGHUP.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nsprobe::daemon::{self, RunOptions, Running};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Password "s3cret" (htpasswd -nbBC 10 "" s3cret).
const HASH: &str = "$2y$10$zLiRqFGzB9JuARNc2Vps5OUWkOsKQGnhlvOdP06WVN0c.bK6HcH5u";

/// A CA, a server certificate for 127.0.0.1/localhost, and a client certificate, as PEM files.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "nsprobe test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |names: Vec<String>, file: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.use_authority_key_identifier_extension = true;
            let cert = params.signed_by(&key, &issuer).unwrap();
            std::fs::write(dir.join(format!("{file}.crt")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
        };
        leaf(vec!["127.0.0.1".into(), "localhost".into()], "server");
        leaf(vec!["client.example".into()], "client");
        std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
        Pki {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// A daemon config whose one nameserver never answers (this file tests HTTP only).
fn daemon_config(dir: &Path, silent: &std::net::UdpSocket) -> PathBuf {
    let path = dir.join("nsprobe.toml");
    std::fs::write(
        &path,
        format!(
            "[http]\nlisten = \"127.0.0.1:0\"\nrequest_timeout = \"2s\"\n[state]\npath = \"{}\"\n\
             [[zone]]\nname = \"dk.\"\ninterval = \"1s\"\ntimeout = \"200ms\"\n\
             [[zone.nameservers]]\nname = \"ns1.dk.\"\naddresses = [\"{}\"]\n",
            dir.join("state.json").display(),
            silent.local_addr().unwrap()
        ),
    )
    .unwrap();
    path
}

struct Web {
    running: Running,
    dir: tempfile::TempDir,
    _silent: std::net::UdpSocket,
}

impl Web {
    async fn start(web_yml: &str) -> Web {
        let dir = tempfile::tempdir().unwrap();
        Pki::new(dir.path());
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let config = daemon_config(dir.path(), &silent);
        let web = dir.path().join("web.yml");
        std::fs::write(&web, web_yml).unwrap();
        let running = daemon::start(RunOptions {
            config_path: config,
            listen: None,
            web_config: Some(web),
        })
        .await
        .expect("daemon starts");
        Web {
            running,
            dir,
            _silent: silent,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.running.http_addr
    }

    fn pki(&self) -> Pki {
        Pki {
            dir: self.dir.path().to_path_buf(),
        }
    }

    /// curl against the listener: (exit code, HTTP status, body, headers).
    async fn curl(&self, scheme: &str, path: &str, args: &[String]) -> (i32, u16, String, String) {
        let url = format!("{scheme}://127.0.0.1:{}{path}", self.addr().port());
        curl(url, args.to_vec(), self.dir.path().to_path_buf()).await
    }
}

async fn curl(url: String, args: Vec<String>, dir: PathBuf) -> (i32, u16, String, String) {
    tokio::task::spawn_blocking(move || {
        let headers = dir.join(format!("headers-{}", rand_suffix()));
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"])
            .arg("-D")
            .arg(&headers)
            .args(&args)
            .arg(&url)
            .output()
            .expect("curl must be installed (apt-get install curl)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        let head = std::fs::read_to_string(&headers).unwrap_or_default();
        (
            out.status.code().unwrap_or(-1),
            code.trim().parse().unwrap_or(0),
            body.to_string(),
            head,
        )
    })
    .await
    .unwrap()
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn tls_yml(pki_dir: &str, extra_tls: &str, tail: &str) -> String {
    format!(
        "tls_server_config:\n  cert_file: {pki_dir}/server.crt\n  key_file: {pki_dir}/server.key\n{extra_tls}{tail}"
    )
}

fn error_of(body: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"));
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error string: {body}"))
        .to_string()
}

#[tokio::test]
async fn tls_and_basic_auth_with_curl() {
    // Relative paths in the web config are relative to the web config file.
    let web = Web::start(&tls_yml(
        ".",
        "",
        &format!(
            "basic_auth_users:\n  prometheus: '{HASH}'\n\
             http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
        ),
    ))
    .await;
    let ca = vec!["--cacert".to_string(), web.pki().path("ca.crt")];
    let with = |extra: &[&str]| {
        let mut a = ca.clone();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };

    let (rc, code, body, head) = web.curl("https", "/metrics", &ca).await;
    assert_eq!((rc, code), (0, 401), "{body}");
    assert_eq!(error_of(&body), "authentication required (HTTP basic auth)");
    assert!(
        head.to_lowercase().contains("www-authenticate: basic"),
        "{head}"
    );
    assert!(
        head.to_lowercase()
            .contains("x-content-type-options: nosniff"),
        "{head}"
    );

    let (rc, code, body, _) = web
        .curl("https", "/metrics", &with(&["-u", "prometheus:wrong"]))
        .await;
    assert_eq!((rc, code), (0, 401), "{body}");
    assert_eq!(error_of(&body), "wrong user name or password");

    let (rc, code, body, _) = web
        .curl("https", "/metrics", &with(&["-u", "nobody:s3cret"]))
        .await;
    assert_eq!((rc, code), (0, 401), "{body}");

    // The first right password costs a bcrypt, the next ones hit the cache.
    for _ in 0..3 {
        let (rc, code, body, _) = web
            .curl("https", "/metrics", &with(&["-u", "prometheus:s3cret"]))
            .await;
        assert_eq!((rc, code), (0, 200), "{body}");
        assert!(body.contains("nsprobe_build_info"), "{body}");
    }
    let started = Instant::now();
    for _ in 0..5 {
        let (_, code, _, _) = web
            .curl("https", "/healthz", &with(&["-u", "prometheus:s3cret"]))
            .await;
        assert_eq!(code, 200);
    }
    // Without the status-page switch, health needs auth too.
    let (_, code, _, _) = web.curl("https", "/healthz", &ca).await;
    assert_eq!(code, 401);
    assert!(started.elapsed() < Duration::from_secs(5));

    // TLS only: plain HTTP on the same port gets no HTTP answer, TLS 1.2 still works,
    // and a client that does not trust the CA refuses the certificate.
    let (rc, code, _, _) = web.curl("http", "/healthz", &[]).await;
    assert!(rc != 0 || code != 200, "plain HTTP served on a TLS port");
    let (rc, code, _, _) = web
        .curl(
            "https",
            "/healthz",
            &with(&["-u", "prometheus:s3cret", "--tls-max", "1.2"]),
        )
        .await;
    assert_eq!((rc, code), (0, 200));
    let (rc, _, _, _) = web.curl("https", "/healthz", &[]).await;
    assert_eq!(rc, 60, "curl should reject an unknown CA (exit 60)");
    web.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn min_version_tls13_refuses_tls12_clients() {
    let web = Web::start(&tls_yml(".", "  min_version: TLS13\n", "")).await;
    let ca = web.pki().path("ca.crt");
    let (rc, code, _, _) = web
        .curl(
            "https",
            "/healthz",
            &[
                "--cacert".into(),
                ca.clone(),
                "--tls-max".into(),
                "1.2".into(),
            ],
        )
        .await;
    assert!(
        rc != 0 && code == 0,
        "a TLS 1.2 client was served (rc {rc}, {code})"
    );
    let (rc, code, _, _) = web
        .curl("https", "/healthz", &["--cacert".into(), ca])
        .await;
    assert_eq!((rc, code), (0, 200));
    web.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn client_certificates_are_required_and_verified() {
    let web = Web::start(&tls_yml(".", "  client_ca_file: ca.crt\n", "")).await;
    let pki = web.pki();
    let ca = vec!["--cacert".to_string(), pki.path("ca.crt")];
    let (rc, code, _, _) = web.curl("https", "/healthz", &ca).await;
    assert!(rc != 0 && code == 0, "served without a client certificate");
    let mut with_cert = ca.clone();
    with_cert.extend([
        "--cert".to_string(),
        pki.path("client.crt"),
        "--key".to_string(),
        pki.path("client.key"),
    ]);
    let (rc, code, body, _) = web.curl("https", "/healthz", &with_cert).await;
    assert_eq!((rc, code), (0, 200), "{body}");
    // A certificate from another CA is refused.
    let other = tempfile::tempdir().unwrap();
    let other_pki = Pki::new(other.path());
    let mut wrong = ca.clone();
    wrong.extend([
        "--cert".to_string(),
        other_pki.path("client.crt"),
        "--key".to_string(),
        other_pki.path("client.key"),
    ]);
    let (rc, code, _, _) = web.curl("https", "/healthz", &wrong).await;
    assert!(
        rc != 0 && code == 0,
        "served with a certificate from an unknown CA"
    );
    web.running.shutdown().await.unwrap();
}

/// One raw HTTP/1.1 request with extra header lines; returns (status, headers, body).
async fn raw(addr: SocketAddr, path: &str, extra: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

#[tokio::test]
async fn public_status_page_switch_keeps_metrics_and_api_protected() {
    let web = Web::start(&format!(
        "basic_auth_users:\n  prometheus: '{HASH}'\nnsprobe:\n  public_status_page: true\n"
    ))
    .await;
    let a = web.addr();
    for path in ["/healthz", "/readyz"] {
        let (code, _, body) = raw(a, path, "").await;
        assert!(code == 200 || code == 503, "{path}: {code} {body}");
    }
    for path in [
        "/metrics",
        "/api/v1/status",
        "/api/v2/summary.json",
        "/nope",
    ] {
        let (code, head, body) = raw(a, path, "").await;
        assert_eq!(code, 401, "{path} public: {body}");
        assert!(head.to_lowercase().contains("www-authenticate"), "{head}");
        assert!(error_of(&body).contains("authentication required"));
    }
    // prometheus:s3cret
    let auth = "Authorization: Basic cHJvbWV0aGV1czpzM2NyZXQ=\r\n";
    let (code, _, body) = raw(a, "/api/v1/status", auth).await;
    assert_eq!(code, 200, "{body}");
    web.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_error_has_a_json_body() {
    let web = Web::start("nsprobe:\n  max_header_bytes: 2048\n").await;
    let a = web.addr();
    // axum's query rejection (plain text before) and the 404/405 fallbacks.
    let (code, head, body) = raw(
        a,
        "/api/v1/zones/dk./servers/ns1.dk./response-times?minutes=many",
        "",
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        head.to_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert!(error_of(&body).contains("minutes"), "{body}");
    let (code, _, body) = raw(a, "/nope", "").await;
    assert_eq!(code, 404);
    error_of(&body);
    // A request head over nsprobe.max_header_bytes: 431 with a JSON body.
    let big = format!("X-Big: {}\r\n", "a".repeat(3000));
    let (code, _, body) = raw(a, "/healthz", &big).await;
    assert_eq!(code, 431, "{body}");
    assert!(
        error_of(&body).contains("nsprobe.max_header_bytes"),
        "{body}"
    );
    // Heads far over the limit are refused by hyper itself (its read buffer), and a
    // request line that does not parse too: still a JSON body (it was empty).
    for size in [100_000, 1_000_000] {
        let mut s = TcpStream::connect(a).await.unwrap();
        let req = format!(
            "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(size)
        );
        let _ = s.write_all(req.as_bytes()).await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        let text = String::from_utf8_lossy(&out);
        let (head, body) = text.split_once("\r\n\r\n").expect("a response");
        assert!(head.starts_with("HTTP/1.1 431"), "{size}: {head}");
        assert!(
            head.to_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        assert!(error_of(body).contains("too large"), "{body}");
    }
    let mut s = TcpStream::connect(a).await.unwrap();
    let _ = s.write_all(b"GARBAGE\x01 / HTTP/9\r\n\r\n").await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(error_of(body).contains("malformed"), "{body}");
    // A body over the API's limit: 413 with a JSON body (it was plain text).
    let mut s = TcpStream::connect(a).await.unwrap();
    let body = "x".repeat(64 * 1024);
    let req = format!(
        "POST /-/reload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(req.as_bytes()).await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.1 413") || head.starts_with("HTTP/1.1 403"),
        "{head}"
    );
    error_of(body);
    web.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn slowloris_is_cut_off_and_does_not_block_others() {
    let web = Web::start("nsprobe:\n  header_read_timeout: 500ms\n").await;
    let a = web.addr();
    let mut slow = TcpStream::connect(a).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    // Others are served while the slow client dribbles.
    let (code, _, _) = raw(a, "/healthz", "").await;
    assert_eq!(code, 200);
    let mut buf = [0u8; 256];
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(5) {
        let _ = slow.write_all(b"X-Drip: 1\r\n").await;
        match tokio::time::timeout(Duration::from_millis(100), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            _ => {}
        }
    }
    assert!(closed, "slow client still connected after 5 s");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "cut off after {took:?}, want ~500ms"
    );
    web.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn idle_connections_over_the_limit_do_not_keep_a_client_out() {
    let web = Web::start("nsprobe:\n  max_connections: 8\n  header_read_timeout: 30s\n").await;
    let a = web.addr();
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(a).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let (code, _, body) = raw(a, "/healthz", "").await;
    assert_eq!(code, 200, "{body}");
    assert!(started.elapsed() < Duration::from_secs(1));
    // The oldest idle connections were shed to make room.
    let mut closed = 0;
    for s in &mut idle {
        let mut b = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(20), s.read(&mut b)).await {
            closed += 1;
        }
    }
    assert!(
        closed >= 12,
        "only {closed} of 20 idle connections shed at a limit of 8"
    );
    web.running.shutdown().await.unwrap();
}

#[test]
fn binary_rejects_a_bad_web_config_and_reloads_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = daemon_config(dir.path(), &silent);
    let web = dir.path().join("web.yml");

    // Bad at start: a clear error naming the key, non-zero exit.
    std::fs::write(&web, "basic_auth_users:\n  prometheus: hunter2\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nsprobe"))
        .args(["run", "-c"])
        .arg(&config)
        .arg("--web.config.file")
        .arg(&web)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("web.yml: basic_auth_users.prometheus: not a bcrypt hash"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_nsprobe"))
        .args(["validate", "-c"])
        .arg(&config)
        .arg("--web.config.file")
        .arg(&web)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("basic_auth_users.prometheus"));

    // Good: start with user a, switch to user b by SIGHUP; a bad file on the next
    // SIGHUP keeps b working.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    std::fs::write(&config, text).unwrap();
    std::fs::write(&web, format!("basic_auth_users:\n  a: '{HASH}'\n")).unwrap();
    let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nsprobe"))
        .args(["run", "-c"])
        .arg(&config)
        .arg("--web.config.file")
        .arg(&web)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let status_as = |user: &'static str| {
        let header = format!(
            "Authorization: Basic {}\r\n",
            match user {
                "a" => "YTpzM2NyZXQ=",
                _ => "YjpzM2NyZXQ=",
            }
        );
        rt.block_on(async move {
            for _ in 0..100 {
                if TcpStream::connect(addr).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            raw(addr, "/metrics", &header).await.0
        })
    };
    let hup = |pid: u32| {
        Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_eq!(status_as("a"), 200);
        assert_eq!(status_as("b"), 401);
        std::fs::write(&web, format!("basic_auth_users:\n  b: '{HASH}'\n")).unwrap();
        hup(child.id());
        assert_eq!(status_as("b"), 200);
        assert_eq!(status_as("a"), 401);
        std::fs::write(&web, "basic_auth_users: [oops\n").unwrap();
        hup(child.id());
        assert_eq!(
            status_as("b"),
            200,
            "a bad reload must keep the running settings"
        );
    }));
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    let logs = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    if let Err(e) = result {
        panic!("{e:?}\nlogs:\n{logs}");
    }
    assert!(logs.contains("web config reloaded"), "{logs}");
    assert!(logs.contains("web config reload failed"), "{logs}");
}

#[tokio::test]
async fn gzip_when_the_client_accepts_it() {
    let web = Web::start("").await;
    let (rc, code, plain, head) = web.curl("http", "/metrics", &[]).await;
    assert_eq!((rc, code), (0, 200));
    assert!(!head.to_lowercase().contains("content-encoding"), "{head}");
    let (rc, code, body, head) = web.curl("http", "/metrics", &["--compressed".into()]).await;
    assert_eq!((rc, code), (0, 200));
    assert!(
        head.to_lowercase().contains("content-encoding: gzip"),
        "{head}"
    );
    assert!(body.contains("# TYPE nsprobe_build_info gauge"), "{body}");
    assert_eq!(
        body.lines().filter(|l| l.starts_with("# TYPE")).count(),
        plain.lines().filter(|l| l.starts_with("# TYPE")).count()
    );
    web.running.shutdown().await.unwrap();
}
