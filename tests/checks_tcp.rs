//! The `tcp`, `whois` and `dns_soa` kinds through `probe::run`, against in-test
//! loopback servers, including hostile ones (garbage, slow drip, reset, silence).

mod checks_support;
mod common;

use std::time::Duration;

use checks_support::{deadline_in, failed, handler, ok, Responder};
use nsprobe::probe::tcp::{self, TcpSpec};
use nsprobe::probe::whois::{self, WhoisSpec};
use nsprobe::probe::{run, CheckSpec, Facts, Kind, Pattern, ProbeSpec, Reason, Transport};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

fn pat(re: &str) -> Option<Pattern> {
    Some(Pattern::new(re).expect("regex"))
}

/// A line server: greets with a banner, answers each line `X` with `you said X`.
async fn line_server() -> Responder {
    Responder::plain(handler(|c| async move {
        let mut c = BufReader::new(c);
        let _ = c.write_all(b"+OK das ready\r\n").await;
        let mut line = String::new();
        while c.read_line(&mut line).await.unwrap_or(0) > 0 {
            let reply = format!("you said {}\r\n", line.trim_end());
            if c.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
            line.clear();
        }
    }))
    .await
}

/// Sends `bytes` then holds the connection open for `hold`.
async fn sender(bytes: &'static [u8], hold: Duration) -> Responder {
    Responder::plain(handler(move |mut c| async move {
        let _ = c.write_all(bytes).await;
        tokio::time::sleep(hold).await;
    }))
    .await
}

/// Drips one byte every 50 ms forever.
async fn drip() -> Responder {
    Responder::plain(handler(|mut c| async move {
        loop {
            if c.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }))
    .await
}

/// Accepts and resets the connection (SO_LINGER 0) after reading the first bytes.
async fn resetter() -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut b = [0u8; 64];
            let _ = tokio::time::timeout(Duration::from_millis(100), s.read(&mut b)).await;
            let _ = s.set_zero_linger();
            drop(s);
        }
    });
    addr
}

/// A port nothing listens on.
fn closed_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let a = l.local_addr().expect("addr");
    drop(l);
    a
}

fn tcp_spec(addr: std::net::SocketAddr, send: Option<&str>, expect: &str) -> CheckSpec {
    CheckSpec::Tcp(TcpSpec {
        addr,
        send: send.map(|s| s.as_bytes().to_vec()),
        expect: pat(expect),
        max_read: tcp::DEFAULT_MAX_READ,
    })
}

#[tokio::test]
async fn tcp_connect_send_expect() {
    let srv = line_server().await;
    // Plain connect.
    let spec = CheckSpec::Tcp(TcpSpec::connect(srv.addr));
    assert_eq!(spec.kind(), Kind::Tcp);
    let s = ok(run(&spec, deadline_in(2000)).await);
    let Facts::Tcp(f) = &s.facts else {
        panic!("{s:?}")
    };
    assert_eq!(f.bytes_read, 0);
    assert_eq!(s.rtt, f.connect);
    // Banner only.
    let s = ok(run(&tcp_spec(srv.addr, None, r"^\+OK das"), deadline_in(2000)).await);
    let Facts::Tcp(f) = &s.facts else {
        panic!("{s:?}")
    };
    assert_eq!(f.matched.as_deref(), Some("+OK das"));
    assert!(s.rtt >= f.connect);
    // Send, expect the echo (after the banner).
    let spec = tcp_spec(srv.addr, Some("status dk\r\n"), r"you said (\w+ \w+)");
    let s = ok(run(&spec, deadline_in(2000)).await);
    let Facts::Tcp(f) = &s.facts else {
        panic!("{s:?}")
    };
    assert_eq!(f.matched.as_deref(), Some("you said status dk"));
    assert_eq!(spec.target(), format!("tcp://{}", srv.addr));
    // Outcomes serialise for the JSON API, tagged by kind.
    let json = serde_json::to_value(&s).expect("json");
    assert_eq!(json["facts"]["kind"], "tcp");
    assert_eq!(json["facts"]["matched"], "you said status dk");
    // Durations as float milliseconds, named `…_ms`.
    let ms = |d: Duration| d.as_nanos() as f64 / 1e6;
    assert_eq!(json["facts"]["connect_ms"].as_f64(), Some(ms(f.connect)));
    assert_eq!(json["rtt_ms"].as_f64(), Some(ms(s.rtt)));
    assert!(json["facts"].get("connect").is_none(), "{json}");
    assert!(f.bytes_read >= "+OK das ready\r\nyou said status dk".len());
}

#[tokio::test]
async fn tcp_hostile_servers_are_classified() {
    // Connection refused.
    let f = failed(
        run(
            &CheckSpec::Tcp(TcpSpec::connect(closed_port())),
            deadline_in(2000),
        )
        .await,
        Reason::Network,
    );
    assert!(f.detail.contains("connect"), "{f:?}");
    // Garbage then EOF: no match.
    let srv = Responder::plain(handler(|mut c| async move {
        let _ = c.write_all(b"\x00\xff\xfegarbage\x1b[31m").await;
    }))
    .await;
    let f = failed(
        run(&tcp_spec(srv.addr, None, "^OK"), deadline_in(2000)).await,
        Reason::ExpectMismatch,
    );
    assert!(f.detail.contains("garbage"), "{f:?}");
    assert!(f.rtt.is_some());
    // Garbage, connection held open: the deadline ends the wait.
    let srv = sender(b"nope\r\n", Duration::from_secs(10)).await;
    let started = std::time::Instant::now();
    let f = failed(
        run(&tcp_spec(srv.addr, None, "^OK"), deadline_in(300)).await,
        Reason::Timeout,
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(f.detail.contains("nope"), "{f:?}");
    // Slow drip past the deadline.
    let srv = drip().await;
    let started = std::time::Instant::now();
    failed(
        run(&tcp_spec(srv.addr, None, "never"), deadline_in(300)).await,
        Reason::Timeout,
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // Endless stream with a small read bound: stops at the bound, no match.
    let srv = drip().await;
    let spec = CheckSpec::Tcp(TcpSpec {
        addr: srv.addr,
        send: None,
        expect: pat("never"),
        max_read: 3,
    });
    let f = failed(run(&spec, deadline_in(3000)).await, Reason::ExpectMismatch);
    assert!(f.detail.contains("3 bytes"), "{f:?}");
    // Reset after the send.
    let addr = resetter().await;
    let f = failed(
        run(&tcp_spec(addr, Some("hello\r\n"), "OK"), deadline_in(2000)).await,
        Reason::Network,
    );
    assert!(f.rtt.is_none(), "{f:?}");
}

/// A whois server: reads the query line, answers per query, closes.
async fn whois_server() -> Responder {
    Responder::plain(handler(|c| async move {
        let mut c = BufReader::new(c);
        let mut line = String::new();
        if c.read_line(&mut line).await.is_err() || !line.ends_with("\r\n") {
            return;
        }
        let q = line.trim_end().to_string();
        let answer = match q.as_str() {
            "punktum.dk" => "# Hello\r\n\r\nDomain:               punktum.dk\r\nStatus:               Active\r\n".to_string(),
            "empty.dk" => String::new(),
            "big.dk" => "x".repeat(10_000),
            _ => format!("No entries found for the selected source(s): {q}\r\n"),
        };
        let _ = c.write_all(answer.as_bytes()).await;
        let _ = c.shutdown().await;
    }))
    .await
}

fn whois_spec(addr: std::net::SocketAddr, query: &str, expect: Option<&str>) -> CheckSpec {
    CheckSpec::Whois(WhoisSpec {
        addr,
        query: query.to_string(),
        expect: expect.and_then(pat),
        max_read: whois::DEFAULT_MAX_READ,
    })
}

#[tokio::test]
async fn whois_answers_and_failures() {
    let srv = whois_server().await;
    let s = ok(run(
        &whois_spec(srv.addr, "punktum.dk", Some(r"(?m)^Domain:\s+punktum\.dk")),
        deadline_in(2000),
    )
    .await);
    let Facts::Whois(f) = &s.facts else {
        panic!("{s:?}")
    };
    assert!(f.matched.as_deref().unwrap_or("").ends_with("punktum.dk"));
    assert!(f.bytes_read > 40);
    assert!(s.rtt >= f.connect);
    // Any answer passes without `expect`.
    ok(run(&whois_spec(srv.addr, "other.dk", None), deadline_in(2000)).await);
    // Wrong answer.
    let f = failed(
        run(
            &whois_spec(srv.addr, "other.dk", Some("^Domain:")),
            deadline_in(2000),
        )
        .await,
        Reason::ExpectMismatch,
    );
    assert!(f.detail.contains("No entries"), "{f:?}");
    // Nothing at all.
    failed(
        run(&whois_spec(srv.addr, "empty.dk", None), deadline_in(2000)).await,
        Reason::EmptyResponse,
    );
    // Larger than the bound.
    let spec = CheckSpec::Whois(WhoisSpec {
        addr: srv.addr,
        query: "big.dk".to_string(),
        expect: None,
        max_read: 4096,
    });
    failed(run(&spec, deadline_in(2000)).await, Reason::TooLarge);
    // A server that never closes: timeout, with what was read in the detail.
    let srv = sender(b"Domain: punktum.dk\r\n", Duration::from_secs(10)).await;
    let f = failed(
        run(
            &whois_spec(srv.addr, "punktum.dk", Some("Domain")),
            deadline_in(300),
        )
        .await,
        Reason::Timeout,
    );
    assert!(f.detail.contains("Domain"), "{f:?}");
    // Refused and reset.
    failed(
        run(
            &whois_spec(closed_port(), "punktum.dk", None),
            deadline_in(2000),
        )
        .await,
        Reason::Network,
    );
    failed(
        run(
            &whois_spec(resetter().await, "punktum.dk", None),
            deadline_in(2000),
        )
        .await,
        Reason::Network,
    );
}

#[test]
fn pure_verdicts() {
    let p = Pattern::new("(?m)^Status: +Active").expect("re");
    assert_eq!(
        whois::evaluate(b"Status:  Active\r\n", false, Some(&p))
            .expect("match")
            .as_deref(),
        Some("Status:  Active")
    );
    assert_eq!(
        whois::evaluate(b"", false, None).expect_err("empty").reason,
        Reason::EmptyResponse
    );
    assert_eq!(
        whois::evaluate(b"abc", true, None)
            .expect_err("full")
            .reason,
        Reason::TooLarge
    );
    assert_eq!(tcp::evaluate(b"Status: Ac", &p, false), Ok(None));
    assert_eq!(
        tcp::evaluate(b"Status: Ac", &p, true)
            .expect_err("done")
            .reason,
        Reason::ExpectMismatch
    );
    // Every byte value, every length up to 300: never a panic.
    for n in 0..300usize {
        let buf: Vec<u8> = (0..n).map(|i| (i * 37 % 256) as u8).collect();
        let _ = whois::evaluate(&buf, n % 2 == 0, Some(&p));
        let _ = tcp::evaluate(&buf, &p, n % 3 == 0);
        let _ = tcp::excerpt(&buf);
    }
}

#[tokio::test]
async fn dns_soa_through_the_seam() {
    let lab = common::LabServer::start("dk.", 2026112601).await;
    let spec = CheckSpec::DnsSoa(ProbeSpec {
        zone: hickory_proto::rr::Name::from_ascii("dk.").expect("name"),
        addr: lab.addr(),
        transport: Transport::Udp,
        timeout: Duration::from_secs(2),
        dnssec_ok: false,
        nsid: false,
        source: None,
    });
    assert_eq!(spec.kind().as_str(), "dns_soa");
    let s = ok(run(&spec, deadline_in(2000)).await);
    let Facts::DnsSoa(a) = &s.facts else {
        panic!("{s:?}")
    };
    assert_eq!(a.serial, 2026112601);
    assert_eq!(a.rtt, s.rtt);
    let json = serde_json::to_value(&s).expect("json");
    assert_eq!(json["facts"]["kind"], "dns_soa");
    assert_eq!(json["facts"]["serial"], 2026112601);
    assert_eq!(
        json["facts"]["rtt_ms"].as_f64(),
        Some(a.rtt.as_nanos() as f64 / 1e6)
    );
    // The seam's deadline wins over a longer probe timeout: a silent server times out fast.
    let quiet = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let CheckSpec::DnsSoa(mut p) = spec else {
        unreachable!()
    };
    p.addr = quiet.local_addr().expect("addr");
    let started = std::time::Instant::now();
    let f = failed(
        run(&CheckSpec::DnsSoa(p), deadline_in(200)).await,
        Reason::Timeout,
    );
    assert!(started.elapsed() < Duration::from_secs(1), "{f:?}");
}

#[test]
fn reasons_are_stable_labels() {
    let mut seen = std::collections::BTreeSet::new();
    for r in Reason::ALL {
        let s = r.as_str();
        assert!(
            s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{s}"
        );
        assert!(seen.insert(s), "duplicate {s}");
        assert_eq!(serde_json::to_string(&r).expect("json"), format!("\"{s}\""));
    }
    for k in nsprobe::probe::FailureKind::ALL {
        assert_eq!(Reason::from(k).as_str(), k.as_str());
    }
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(kinds, ["dns_soa", "tcp", "tls", "http", "whois", "epp"]);
}

#[tokio::test]
async fn ipv6_loopback() {
    let Ok(l) = tokio::net::TcpListener::bind("[::1]:0").await else {
        eprintln!("SKIP: no IPv6 loopback");
        return;
    };
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let _ = s.write_all(b"hello over v6\r\n").await;
        }
    });
    let s = ok(run(&tcp_spec(addr, None, "v6"), deadline_in(2000)).await);
    assert_eq!(
        CheckSpec::Tcp(TcpSpec::connect(addr)).target(),
        format!("tcp://[::1]:{}", addr.port())
    );
    let Facts::Tcp(f) = &s.facts else {
        panic!("{s:?}")
    };
    assert_eq!(f.matched.as_deref(), Some("v6"));
}
