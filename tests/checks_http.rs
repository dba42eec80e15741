//! The `http` and `tls` kinds against a real nginx (Debian package) on loopback,
//! serving HTTPS with test-CA certificates (valid, expired, wrong host), and the
//! `http` kind against hostile in-test servers.
//!
//! Without nginx the nginx tests print a skip line, unless `NSPROBE_REQUIRE_TOOLS=1`
//! (set by CI), where they fail.

mod checks_support;

use std::net::SocketAddr;
use std::time::Duration;

use checks_support::{
    deadline_in, failed, free_port, handler, ok, Identity, Nginx, Responder, TestCa,
};
use nsprobe::probe::http::{self, HttpSpec, StatusSet, Url};
use nsprobe::probe::tls::TlsSpec;
use nsprobe::probe::{run, CheckSpec, Facts, Pattern, Reason, TlsClient};
use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;

/// nginx with four servers: valid, expired and wrong-host certificates, and plain HTTP.
struct Lab {
    _nginx: Nginx,
    ca: TestCa,
    good: Identity,
    expired: Identity,
    valid_port: u16,
    expired_port: u16,
    wrong_port: u16,
    plain_port: u16,
}

const ROUTES: &str = r#"
    location = / { return 200 "hello from nginx\n"; }
    location = /moved { return 301 /; }
    location = /loop { return 302 /loop; }
    location = /missing { return 404; }
    location = /big.txt { root DIR; }
"#;

fn lab() -> Option<Lab> {
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::new();
    let good = ca.valid(45);
    let expired = ca.expired();
    let wrong = ca.wrong_host();
    let (gc, gk) = good.write(dir.path(), "good");
    let (ec, ek) = expired.write(dir.path(), "expired");
    let (wc, wk) = wrong.write(dir.path(), "wrong");
    std::fs::write(dir.path().join("big.txt"), "y".repeat(200_000)).expect("big");
    let (valid_port, expired_port, wrong_port, plain_port) =
        (free_port(), free_port(), free_port(), free_port());
    let routes = ROUTES.replace("DIR", &dir.path().display().to_string());
    let tls_server = |port: u16, c: &std::path::Path, k: &std::path::Path| {
        format!(
            "server {{ listen 127.0.0.1:{port} ssl; server_name localhost;\n\
             ssl_certificate {}; ssl_certificate_key {};\n{routes}}}\n",
            c.display(),
            k.display()
        )
    };
    let servers = format!(
        "{}{}{}server {{ listen 127.0.0.1:{plain_port}; server_name localhost;\n{routes}}}\n",
        tls_server(valid_port, &gc, &gk),
        tls_server(expired_port, &ec, &ek),
        tls_server(wrong_port, &wc, &wk),
    );
    let nginx = Nginx::start(
        &servers,
        &[valid_port, expired_port, wrong_port, plain_port],
        dir,
    )?;
    Some(Lab {
        _nginx: nginx,
        ca,
        good,
        expired,
        valid_port,
        expired_port,
        wrong_port,
        plain_port,
    })
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Lab {
    fn client(&self) -> TlsClient {
        TlsClient::from_pem(self.ca.pem.as_bytes(), false).expect("client")
    }

    fn spec(&self, scheme: &str, port: u16, path: &str) -> HttpSpec {
        HttpSpec {
            url: Url::parse(&format!("{scheme}://localhost:{port}{path}")).expect("url"),
            addr: Some(loopback(port)),
            expect_status: StatusSet::default(),
            body: None,
            max_redirects: http::DEFAULT_MAX_REDIRECTS,
            max_body: http::DEFAULT_MAX_BODY,
            tls: self.client(),
        }
    }
}

async fn run_http(spec: HttpSpec) -> nsprobe::probe::CheckOutcome {
    run(&CheckSpec::Http(spec), deadline_in(5000)).await
}

#[tokio::test]
async fn http_against_nginx() {
    let Some(lab) = lab() else { return };
    // HTTPS, body pattern, certificate.
    let mut spec = lab.spec("https", lab.valid_port, "/");
    spec.body = Some(Pattern::new("hello from nginx").expect("re"));
    let s = ok(run_http(spec).await);
    let Facts::Http(f) = &s.facts else {
        panic!("{s:?}")
    };
    assert_eq!(f.status, 200);
    assert_eq!(f.body_bytes, "hello from nginx\n".len());
    assert_eq!(f.redirects, 0);
    assert_eq!(f.version, "HTTP/1.1");
    let cert = f.cert.as_ref().expect("cert");
    assert_eq!(cert.not_after, lab.good.not_after);
    assert!((44..=45).contains(&cert.days_to_expiry), "{cert:?}");
    assert_eq!(cert.chain_len, 2);

    // Plain HTTP: no certificate.
    let s = ok(run_http(lab.spec("http", lab.plain_port, "/")).await);
    assert_eq!(s.facts.cert(), None);

    // A redirect is followed and counted.
    let s = ok(run_http(lab.spec("https", lab.valid_port, "/moved")).await);
    let Facts::Http(f) = &s.facts else {
        panic!("{s:?}")
    };
    assert_eq!((f.status, f.redirects), (200, 1));
    assert!(
        f.final_url.ends_with(&format!(":{}/", lab.valid_port)),
        "{f:?}"
    );
    // Not followed with max_redirects = 0; a 301 can be the expected status.
    let mut spec = lab.spec("https", lab.valid_port, "/moved");
    spec.max_redirects = 0;
    failed(run_http(spec.clone()).await, Reason::HttpStatus);
    spec.expect_status = "301-302".parse().expect("status set");
    ok(run_http(spec).await);
    // A loop.
    let f = failed(
        run_http(lab.spec("https", lab.valid_port, "/loop")).await,
        Reason::HttpRedirects,
    );
    assert!(f.detail.contains("redirects"), "{f:?}");

    // Status and body mismatches, with the response time and certificate.
    let f = failed(
        run_http(lab.spec("https", lab.valid_port, "/missing")).await,
        Reason::HttpStatus,
    );
    assert!(f.detail.contains("404"), "{f:?}");
    assert!(f.rtt.is_some() && f.cert.is_some(), "{f:?}");
    let mut spec = lab.spec("https", lab.valid_port, "/");
    spec.body = Some(Pattern::new("goodbye").expect("re"));
    failed(run_http(spec).await, Reason::BodyMismatch);
    // Body bound.
    let mut spec = lab.spec("https", lab.valid_port, "/big.txt");
    let s = ok(run_http(spec.clone()).await);
    let Facts::Http(f) = &s.facts else {
        panic!("{s:?}")
    };
    assert_eq!(f.body_bytes, 200_000);
    spec.max_body = 100_000;
    failed(run_http(spec).await, Reason::TooLarge);

    // Certificates: expired (reported), wrong host, untrusted.
    let f = failed(
        run_http(lab.spec("https", lab.expired_port, "/")).await,
        Reason::CertExpired,
    );
    assert_eq!(f.cert.expect("cert").not_after, lab.expired.not_after);
    failed(
        run_http(lab.spec("https", lab.wrong_port, "/")).await,
        Reason::CertNameMismatch,
    );
    let mut spec = lab.spec("https", lab.valid_port, "/");
    spec.tls = TlsClient::from_pem(TestCa::new().pem.as_bytes(), false).expect("client");
    failed(run_http(spec).await, Reason::CertUntrusted);
    let mut spec = lab.spec("https", lab.expired_port, "/");
    spec.tls = TlsClient::from_pem(lab.ca.pem.as_bytes(), true).expect("client");
    let s = ok(run_http(spec).await);
    assert!(s.facts.cert().expect("cert").days_to_expiry < 0);

    // Wrong protocol for the port: plain HTTP to the TLS port gets nginx's 400;
    // HTTPS to the plain port fails the handshake.
    failed(
        run_http(lab.spec("http", lab.valid_port, "/")).await,
        Reason::HttpStatus,
    );
    failed(
        run_http(lab.spec("https", lab.plain_port, "/")).await,
        Reason::TlsHandshake,
    );
}

#[tokio::test]
async fn tls_against_nginx() {
    let Some(lab) = lab() else { return };
    let spec = |port: u16| {
        CheckSpec::Tls(TlsSpec {
            addr: loopback(port),
            server_name: ServerName::try_from("localhost").expect("name"),
            tls: lab.client(),
        })
    };
    let s = ok(run(&spec(lab.valid_port), deadline_in(3000)).await);
    assert_eq!(s.facts.cert().expect("cert").not_after, lab.good.not_after);
    failed(
        run(&spec(lab.expired_port), deadline_in(3000)).await,
        Reason::CertExpired,
    );
    failed(
        run(&spec(lab.wrong_port), deadline_in(3000)).await,
        Reason::CertNameMismatch,
    );
    failed(
        run(&spec(lab.plain_port), deadline_in(3000)).await,
        Reason::TlsHandshake,
    );
}

fn plain_spec(addr: SocketAddr) -> HttpSpec {
    HttpSpec {
        url: Url::parse(&format!("http://{addr}/")).expect("url"),
        addr: None,
        expect_status: StatusSet::default(),
        body: None,
        max_redirects: 3,
        max_body: 1 << 20,
        tls: TlsClient::from_pem(TestCa::new().pem.as_bytes(), false).expect("client"),
    }
}

#[tokio::test]
async fn http_hostile_servers_are_classified() {
    // Garbage instead of a status line.
    let garbage = Responder::plain(handler(|mut c| async move {
        let mut b = [0u8; 1024];
        let _ = tokio::io::AsyncReadExt::read(&mut c, &mut b).await;
        let _ = c.write_all(b"\x00\x01garbage \xff\xfe\r\n\r\n").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }))
    .await;
    failed(run_http(plain_spec(garbage.addr)).await, Reason::Malformed);
    // A body that drips past the deadline.
    let drip = Responder::plain(handler(|mut c| async move {
        let mut b = [0u8; 1024];
        let _ = tokio::io::AsyncReadExt::read(&mut c, &mut b).await;
        let _ = c
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            .await;
        for _ in 0..1000 {
            if c.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }))
    .await;
    let started = std::time::Instant::now();
    failed(
        run(&CheckSpec::Http(plain_spec(drip.addr)), deadline_in(400)).await,
        Reason::Timeout,
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // Closed mid-body.
    let short = Responder::plain(handler(|mut c| async move {
        let mut b = [0u8; 1024];
        let _ = tokio::io::AsyncReadExt::read(&mut c, &mut b).await;
        let _ = c
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc")
            .await;
    }))
    .await;
    failed(run_http(plain_spec(short.addr)).await, Reason::Network);
    // Reset and refused.
    let reset = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let reset_addr = reset.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((s, _)) = reset.accept().await {
            let _ = s.set_zero_linger();
            drop(s);
        }
    });
    failed(run_http(plain_spec(reset_addr)).await, Reason::Network);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    failed(run_http(plain_spec(closed)).await, Reason::Network);
    // Silence: timeout.
    let silent = Responder::plain(handler(|c| async move {
        let _held = c;
        tokio::time::sleep(Duration::from_secs(10)).await;
    }))
    .await;
    failed(
        run(&CheckSpec::Http(plain_spec(silent.addr)), deadline_in(300)).await,
        Reason::Timeout,
    );
}

#[test]
fn status_sets_and_pure_verdict() {
    let s: StatusSet = "200, 301-302,4xx".parse().expect("set");
    assert!(s.contains(200) && s.contains(302) && s.contains(404) && !s.contains(500));
    assert_eq!(s.to_string(), "200,301-302,400-499");
    for bad in ["", "abc", "99", "600", "300-200", "9xx", "2x"] {
        assert!(bad.parse::<StatusSet>().is_err(), "{bad}");
    }
    // From config text: a string, a bare code, or a list.
    #[derive(serde::Deserialize)]
    struct C {
        s: StatusSet,
        body: Option<Pattern>,
    }
    let c: C = toml::from_str("s = [200, \"3xx\"]\nbody = '(?m)^OK$'").expect("toml");
    assert_eq!(c.s.to_string(), "200,300-399");
    assert!(c.body.expect("body").is_match(b"x\nOK\n"));
    let c: C = toml::from_str("s = 204").expect("toml");
    assert!(c.s.contains(204) && !c.s.contains(200));
    let e = toml::from_str::<C>("s = \"20x\"")
        .err()
        .expect("bad status");
    assert!(e.to_string().contains("200-299"), "{e}");
    let e = toml::from_str::<C>("s = 200\nbody = '(unclosed'")
        .err()
        .expect("bad regex");
    assert!(e.to_string().contains("bad regular expression"), "{e}");
    assert_eq!(
        serde_json::to_string(&s).expect("json"),
        "\"200,301-302,400-499\""
    );
    let p = Pattern::new("ok").expect("re");
    assert_eq!(
        http::evaluate(500, b"ok", &StatusSet::default(), Some(&p))
            .expect_err("500")
            .reason,
        Reason::HttpStatus
    );
    assert_eq!(
        http::evaluate(200, b"\xff\x00", &StatusSet::default(), Some(&p))
            .expect_err("body")
            .reason,
        Reason::BodyMismatch
    );
    assert!(http::evaluate(204, b"", &StatusSet::default(), None).is_ok());
}

#[test]
fn spec_constructors_reject_bad_input() {
    let client = TlsClient::from_pem(TestCa::new().pem.as_bytes(), false).expect("client");
    let spec = HttpSpec::new("https://punktum.dk/", client.clone()).expect("url");
    assert_eq!(spec.expect_status, StatusSet::default());
    assert_eq!(spec.max_redirects, http::DEFAULT_MAX_REDIRECTS);
    for bad in [
        "punktum.dk",
        "ftp://punktum.dk/",
        "https://",
        "file:///etc/passwd",
    ] {
        let e = HttpSpec::new(bad, client.clone()).expect_err(bad);
        assert!(e.to_string().contains("bad url"), "{e}");
    }
    assert!(nsprobe::probe::tls::server_name("epp.punktum.dk").is_ok());
    assert!(nsprobe::probe::tls::server_name("127.0.0.1").is_ok());
    assert!(nsprobe::probe::tls::server_name("not a name").is_err());
}
