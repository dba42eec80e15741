//! The `tls` and `epp` kinds against in-test rustls servers on loopback (valid,
//! expired, wrong-host and untrusted certificates; EPP greetings good and hostile).

mod checks_support;

use std::net::SocketAddr;
use std::time::Duration;

use checks_support::{deadline_in, failed, handler, now, ok, Identity, Responder, TestCa};
use nsprobe::probe::epp::{self, EppSpec};
use nsprobe::probe::tls::TlsSpec;
use nsprobe::probe::{run, CheckSpec, Facts, Reason, TlsClient, TlsOptions};
use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;

fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("name")
}

fn tls_spec(addr: SocketAddr, client: &TlsClient) -> CheckSpec {
    CheckSpec::Tls(TlsSpec {
        addr,
        server_name: localhost(),
        tls: client.clone(),
    })
}

/// A TLS server that completes the handshake and holds the connection briefly.
async fn tls_server(id: &Identity) -> Responder {
    Responder::tls(
        handler(|c| async move {
            let _held = c;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }),
        id,
    )
    .await
}

#[tokio::test]
async fn tls_certificates_are_reported_and_classified() {
    let ca = TestCa::new();
    let trusting = TlsClient::from_pem(ca.pem.as_bytes(), false).expect("client");

    let good = ca.valid(30);
    let srv = tls_server(&good).await;
    let s = ok(run(&tls_spec(srv.addr, &trusting), deadline_in(3000)).await);
    let Facts::Tls(f) = &s.facts else {
        panic!("{s:?}")
    };
    assert_eq!(f.cert.not_after, good.not_after);
    assert!((29..=30).contains(&f.cert.days_to_expiry), "{f:?}");
    assert_eq!(f.cert.chain_len, 2);
    assert!(f.cert.subject.contains("localhost"), "{f:?}");
    assert!(f.cert.issuer.contains("nsprobe test CA"), "{f:?}");
    assert_eq!(f.version, "TLSv1_3");
    assert!(s.rtt >= f.connect);
    assert_eq!(s.facts.cert(), Some(&f.cert));

    // Expired: classified, and the certificate is still reported.
    let expired = ca.expired();
    let srv = tls_server(&expired).await;
    let f = failed(
        run(&tls_spec(srv.addr, &trusting), deadline_in(3000)).await,
        Reason::CertExpired,
    );
    let cert = f.cert.expect("expired cert reported");
    assert_eq!(cert.not_after, expired.not_after);
    assert!(cert.days_to_expiry < 0);
    // insecure_skip_verify accepts it and still reports the expiry.
    let insecure = TlsClient::from_pem(ca.pem.as_bytes(), true).expect("client");
    let s = ok(run(&tls_spec(srv.addr, &insecure), deadline_in(3000)).await);
    assert!(s.facts.cert().expect("cert").days_to_expiry < 0);

    // Wrong host.
    let srv = tls_server(&ca.wrong_host()).await;
    let f = failed(
        run(&tls_spec(srv.addr, &trusting), deadline_in(3000)).await,
        Reason::CertNameMismatch,
    );
    assert!(f.cert.expect("cert").subject.contains("elsewhere.example"));

    // Untrusted: a client trusting another CA (and the default Mozilla roots).
    let srv = tls_server(&good).await;
    let other = TestCa::new();
    let stranger = TlsClient::from_pem(other.pem.as_bytes(), false).expect("client");
    failed(
        run(&tls_spec(srv.addr, &stranger), deadline_in(3000)).await,
        Reason::CertUntrusted,
    );
    let mozilla = TlsClient::new(&TlsOptions::default()).expect("mozilla roots");
    failed(
        run(&tls_spec(srv.addr, &mozilla), deadline_in(3000)).await,
        Reason::CertUntrusted,
    );
}

#[tokio::test]
async fn ca_file_option() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, &ca.pem).expect("write");
    let client = TlsClient::new(&TlsOptions {
        ca_file: Some(path.clone()),
        ..TlsOptions::default()
    })
    .expect("client");
    let srv = tls_server(&ca.valid(10)).await;
    ok(run(&tls_spec(srv.addr, &client), deadline_in(3000)).await);

    let missing = TlsClient::new(&TlsOptions {
        ca_file: Some(dir.path().join("nope.pem")),
        ..TlsOptions::default()
    })
    .expect_err("missing file");
    assert!(missing.to_string().contains("nope.pem"), "{missing}");
    std::fs::write(&path, "not a certificate\n").expect("write");
    let e = TlsClient::new(&TlsOptions {
        ca_file: Some(path),
        ..TlsOptions::default()
    })
    .expect_err("no certificate");
    assert!(e.to_string().contains("BEGIN CERTIFICATE"), "{e}");
}

#[tokio::test]
async fn tls_to_hostile_ports() {
    let ca = TestCa::new();
    let client = TlsClient::from_pem(ca.pem.as_bytes(), false).expect("client");
    // A plain-text server that greets first.
    let plain = Responder::plain(handler(|mut c| async move {
        let _ = c.write_all(b"+OK plain text here\r\n").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }))
    .await;
    failed(
        run(&tls_spec(plain.addr, &client), deadline_in(3000)).await,
        Reason::TlsHandshake,
    );
    // An HTTP server answering the ClientHello with an HTTP error.
    let http = Responder::plain(handler(|mut c| async move {
        let mut b = [0u8; 512];
        let _ = tokio::io::AsyncReadExt::read(&mut c, &mut b).await;
        let _ = c
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
    }))
    .await;
    failed(
        run(&tls_spec(http.addr, &client), deadline_in(3000)).await,
        Reason::TlsHandshake,
    );
    // A server that accepts and says nothing.
    let silent = Responder::plain(handler(|c| async move {
        let _held = c;
        tokio::time::sleep(Duration::from_secs(10)).await;
    }))
    .await;
    let started = std::time::Instant::now();
    failed(
        run(&tls_spec(silent.addr, &client), deadline_in(300)).await,
        Reason::Timeout,
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // Reset (SO_LINGER 0) right after reading the ClientHello: for tls and epp.
    let reset = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let reset_addr = reset.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = reset.accept().await {
            let mut b = [0u8; 512];
            let _ = tokio::io::AsyncReadExt::read(&mut s, &mut b).await;
            let _ = s.set_zero_linger();
            drop(s);
        }
    });
    failed(
        run(&tls_spec(reset_addr, &client), deadline_in(3000)).await,
        Reason::Network,
    );
    failed(
        run(
            &epp_spec(reset_addr, &client, epp::DEFAULT_MAX_FRAME),
            deadline_in(3000),
        )
        .await,
        Reason::Network,
    );
    // Closed without a word.
    let closer = Responder::plain(handler(|_c| async move {})).await;
    let f = run(&tls_spec(closer.addr, &client), deadline_in(3000))
        .await
        .expect_err("closed");
    assert!(
        matches!(f.reason, Reason::TlsHandshake | Reason::Network),
        "{f:?}"
    );
}

const GREETING: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <greeting>
    <svID>Punktum dk EPP &amp; test</svID>
    <svDate>2026-11-26T07:00:00.0Z</svDate>
    <svcMenu><version>1.0</version><lang>en</lang>
      <objURI>urn:ietf:params:xml:ns:domain-1.0</objURI></svcMenu>
    <dcp><access><all/></access><statement><purpose><admin/></purpose>
      <recipient><ours/></recipient><retention><stated/></retention></statement></dcp>
  </greeting>
</epp>
"#;

/// A frame: big-endian total length (header included) then `xml`.
fn frame(xml: &[u8]) -> Vec<u8> {
    let mut v = ((xml.len() + 4) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(xml);
    v
}

/// An EPP server over TLS sending `bytes` on connect, then holding the connection.
async fn epp_server(id: &Identity, bytes: Vec<u8>) -> Responder {
    let bytes = std::sync::Arc::new(bytes);
    Responder::tls(
        handler(move |mut c| {
            let bytes = bytes.clone();
            async move {
                let _ = c.write_all(&bytes).await;
                let _ = c.flush().await;
                tokio::time::sleep(Duration::from_millis(800)).await;
            }
        }),
        id,
    )
    .await
}

fn epp_spec(addr: SocketAddr, client: &TlsClient, max_frame: usize) -> CheckSpec {
    CheckSpec::Epp(EppSpec {
        addr,
        server_name: localhost(),
        tls: client.clone(),
        max_frame,
    })
}

#[tokio::test]
async fn epp_greeting_over_tls() {
    let ca = TestCa::new();
    let client = TlsClient::from_pem(ca.pem.as_bytes(), false).expect("client");
    let id = ca.valid(60);
    let srv = epp_server(&id, frame(GREETING.as_bytes())).await;
    let s = ok(run(
        &epp_spec(srv.addr, &client, epp::DEFAULT_MAX_FRAME),
        deadline_in(3000),
    )
    .await);
    let Facts::Epp(f) = &s.facts else {
        panic!("{s:?}")
    };
    assert_eq!(f.sv_id, "Punktum dk EPP & test");
    assert_eq!(f.sv_date.as_deref(), Some("2026-11-26T07:00:00.0Z"));
    assert_eq!(f.frame_bytes, GREETING.len() + 4);
    assert_eq!(f.cert.not_after, id.not_after);
    assert!(s.rtt > f.connect);
    // The same greeting arriving one byte at a time still parses.
    let bytes = frame(GREETING.as_bytes());
    let dripper = Responder::tls(
        handler(move |mut c| {
            let bytes = bytes.clone();
            async move {
                for b in bytes {
                    if c.write_all(&[b]).await.is_err() || c.flush().await.is_err() {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }),
        &id,
    )
    .await;
    ok(run(
        &epp_spec(dripper.addr, &client, epp::DEFAULT_MAX_FRAME),
        deadline_in(5000),
    )
    .await);
}

#[tokio::test]
async fn epp_hostile_servers_are_classified() {
    let ca = TestCa::new();
    let client = TlsClient::from_pem(ca.pem.as_bytes(), false).expect("client");
    let id = ca.valid(60);
    let max = epp::DEFAULT_MAX_FRAME;
    let response = r#"<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response><result code="2500"><msg>bye</msg></result></response></epp>"#;
    let mut announced_more = 1000u32.to_be_bytes().to_vec();
    announced_more.extend_from_slice(b"<epp");
    let cases: Vec<(&str, Vec<u8>, Reason)> = vec![
        (
            "a response, not a greeting",
            frame(response.as_bytes()),
            Reason::NotEppGreeting,
        ),
        (
            "garbage XML",
            frame(b"<epp><greeting></epp>\x00\xff"),
            Reason::Malformed,
        ),
        ("plain text", frame(b"hello there"), Reason::Malformed),
        ("length 3", 3u32.to_be_bytes().to_vec(), Reason::EppFrame),
        ("length 0", vec![0, 0, 0, 0], Reason::EppFrame),
        (
            "oversized",
            u32::MAX.to_be_bytes().to_vec(),
            Reason::EppFrame,
        ),
        ("short header then hold", vec![0, 0], Reason::Timeout),
        ("announced more, then hold", announced_more, Reason::Timeout),
    ];
    for (what, bytes, reason) in cases {
        let srv = epp_server(&id, bytes).await;
        // Short deadline only where the deadline is the point (the server holds on).
        let ms = if reason == Reason::Timeout { 400 } else { 5000 };
        let f = run(&epp_spec(srv.addr, &client, max), deadline_in(ms))
            .await
            .expect_err(what);
        assert_eq!(f.reason, reason, "{what}: {f:?}");
        assert_eq!(
            f.cert.as_ref().map(|c| c.not_after),
            Some(id.not_after),
            "{what}: the certificate is reported with the failure"
        );
    }
    // Announced more, then closed: a short frame.
    let srv = Responder::tls(
        handler(|mut c| async move {
            let mut v = 100u32.to_be_bytes().to_vec();
            v.extend_from_slice(b"<epp xmlns=");
            let _ = c.write_all(&v).await;
            let _ = c.shutdown().await;
        }),
        &id,
    )
    .await;
    let f = failed(
        run(&epp_spec(srv.addr, &client, max), deadline_in(3000)).await,
        Reason::EppFrame,
    );
    assert!(f.detail.contains("closed"), "{f:?}");
    // A frame bigger than a small bound.
    let srv = epp_server(&id, frame(GREETING.as_bytes())).await;
    failed(
        run(&epp_spec(srv.addr, &client, 64), deadline_in(3000)).await,
        Reason::EppFrame,
    );
    // EPP to a plain-text port.
    let plain = Responder::plain(handler(|mut c| async move {
        let _ = c.write_all(&frame(GREETING.as_bytes())).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }))
    .await;
    failed(
        run(&epp_spec(plain.addr, &client, max), deadline_in(3000)).await,
        Reason::TlsHandshake,
    );
    // Expired certificate on the EPP port.
    let srv = epp_server(&ca.expired(), frame(GREETING.as_bytes())).await;
    failed(
        run(&epp_spec(srv.addr, &client, max), deadline_in(3000)).await,
        Reason::CertExpired,
    );
}

#[tokio::test]
async fn epp_with_a_client_certificate() {
    let ca = TestCa::new();
    let id = ca.valid(60);
    let srv = Responder::tls_requiring_client(
        handler(|mut c| async move {
            let _ = c.write_all(&frame(GREETING.as_bytes())).await;
            let _ = c.flush().await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }),
        &id,
        &ca,
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let (ca_path, client_cert, client_key) = {
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, &ca.pem).expect("ca");
        let client = ca.issue(&["nsprobe-client"], now() - 3600, now() + 86_400);
        let (c, k) = client.write(dir.path(), "client");
        (p, c, k)
    };
    // Without a client certificate the server refuses (TLS 1.3: by an alert after the handshake).
    let anonymous = TlsClient::from_pem(ca.pem.as_bytes(), false).expect("client");
    let f = run(
        &epp_spec(srv.addr, &anonymous, epp::DEFAULT_MAX_FRAME),
        deadline_in(3000),
    )
    .await
    .expect_err("client certificate required");
    assert_eq!(f.reason, Reason::TlsHandshake, "{f:?}");
    // With one it passes.
    let opts = TlsOptions {
        ca_file: Some(ca_path.clone()),
        insecure_skip_verify: false,
        client_cert: Some(client_cert.clone()),
        client_key: Some(client_key.clone()),
    };
    let client = TlsClient::new(&opts).expect("client with certificate");
    let s = ok(run(
        &epp_spec(srv.addr, &client, epp::DEFAULT_MAX_FRAME),
        deadline_in(3000),
    )
    .await);
    let Facts::Epp(f) = &s.facts else {
        panic!("{s:?}")
    };
    assert_eq!(f.sv_id, "Punktum dk EPP & test");
    // Configuration errors: half a pair, a key that does not match, a missing file.
    let half = TlsOptions {
        client_key: None,
        ..opts.clone()
    };
    assert!(TlsClient::new(&half)
        .expect_err("half")
        .to_string()
        .contains("together"));
    let other = ca.issue(&["other"], now() - 3600, now() + 86_400);
    let (_, other_key) = other.write(dir.path(), "other");
    let mismatched = TlsOptions {
        client_key: Some(other_key),
        ..opts.clone()
    };
    let e = TlsClient::new(&mismatched).expect_err("mismatched key");
    assert!(e.to_string().contains("other.key"), "{e}");
    let missing = TlsOptions {
        client_cert: Some(dir.path().join("absent.crt")),
        ..opts
    };
    let e = TlsClient::new(&missing).expect_err("missing");
    assert!(e.to_string().contains("absent.crt"), "{e}");
}

#[test]
fn greeting_parser() {
    let g = epp::parse_greeting(GREETING.as_bytes()).expect("greeting");
    assert_eq!(g.sv_id, "Punktum dk EPP & test");
    // A prefixed namespace is the same namespace.
    let prefixed = r#"<e:epp xmlns:e="urn:ietf:params:xml:ns:epp-1.0"><e:greeting><e:svID>x&#65;</e:svID></e:greeting></e:epp>"#;
    assert_eq!(
        epp::parse_greeting(prefixed.as_bytes()).expect("ok").sv_id,
        "xA"
    );
    let reject = |xml: &str| epp::parse_greeting(xml.as_bytes()).expect_err(xml).reason;
    // Wrong namespace, wrong root, no svID, empty epp.
    assert_eq!(
        reject(r#"<epp xmlns="urn:example"><greeting><svID>x</svID></greeting></epp>"#),
        Reason::NotEppGreeting
    );
    assert_eq!(reject(r#"<html><body/></html>"#), Reason::NotEppGreeting);
    assert_eq!(
        reject(r#"<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><greeting/></epp>"#),
        Reason::NotEppGreeting
    );
    assert_eq!(
        reject(r#"<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"/>"#),
        Reason::NotEppGreeting
    );
    // Not XML, truncated, not UTF-8, two roots.
    assert_eq!(reject(""), Reason::Malformed);
    assert_eq!(
        reject(r#"<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><greeting><svID>x</svID>"#),
        Reason::Malformed
    );
    assert_eq!(
        epp::parse_greeting(b"<epp>\xff</epp>")
            .expect_err("utf8")
            .reason,
        Reason::Malformed
    );
    assert_eq!(
        reject(
            r#"<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><greeting><svID>x</svID></greeting></epp><epp/>"#
        ),
        Reason::Malformed
    );
    // Frame header bounds.
    assert_eq!(epp::frame_length(5u32.to_be_bytes(), 100), Ok(1));
    assert_eq!(
        epp::frame_length(4u32.to_be_bytes(), 100)
            .expect_err("4")
            .reason,
        Reason::EppFrame
    );
    assert_eq!(
        epp::frame_length(101u32.to_be_bytes(), 100)
            .expect_err("big")
            .reason,
        Reason::EppFrame
    );
    // Every prefix of a greeting: a verdict, never a panic.
    for n in 0..GREETING.len() {
        let _ = epp::parse_greeting(&GREETING.as_bytes()[..n]);
    }
    let _ = now();
}

#[test]
fn mutated_input_never_panics() {
    use nsprobe::probe::cert::cert_facts;
    use rand::{Rng, SeedableRng};
    use rustls::pki_types::CertificateDer;
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261126);
    let ca = TestCa::new();
    let id = ca.valid(10);
    let der = id.chain_der[0].clone();
    let good = cert_facts(&[CertificateDer::from(der.clone())], now()).expect("valid cert");
    assert_eq!(good.not_after, id.not_after);
    let greeting = GREETING.as_bytes().to_vec();
    for round in 0..3000 {
        // Flip a few bytes of a valid greeting / certificate, or make random bytes.
        let mutate = |src: &[u8], rng: &mut rand::rngs::StdRng| {
            let mut v = src.to_vec();
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..v.len());
                v[i] = rng.random();
            }
            v
        };
        let random: Vec<u8> = (0..rng.random_range(0..256))
            .map(|_| rng.random())
            .collect();
        let xml = if round % 2 == 0 {
            mutate(&greeting, &mut rng)
        } else {
            random.clone()
        };
        let _ = epp::parse_greeting(&xml);
        let cert = if round % 2 == 0 {
            mutate(&der, &mut rng)
        } else {
            random
        };
        if let Err(r) = cert_facts(&[CertificateDer::from(cert)], now()) {
            assert_eq!(r.reason, Reason::CertInvalid);
        }
        let mut header = [0u8; 4];
        rng.fill(&mut header);
        let _ = epp::frame_length(header, epp::DEFAULT_MAX_FRAME);
    }
    assert_eq!(
        cert_facts(&[], now()).expect_err("empty chain").reason,
        Reason::CertInvalid
    );
}
