//! The probe against a real hickory-server and against the programmable [`LabServer`].

mod common;

use std::time::{Duration, Instant};

use common::probe_cases::{failed, lab, ok, spec, SLACK, TIMEOUT};
use common::{closed_port, hickory_auth_server, zone_text, LabServer, Mode, HICKORY_NSID};
use hickory_proto::op::MessageType;
use hickory_proto::rr::rdata::opt::EdnsCode;
use hickory_proto::rr::RecordType;
use nsprobe::probe::{probe, Failure, FailureKind, Transport};

/// Probes `lab` over `transport` in `mode` and expects the failure `kind`.
async fn expect_failure(mode: Mode, transport: Transport, kind: FailureKind) -> Failure {
    let lab = lab().await;
    lab.set_mode(mode);
    let f = failed(probe(&spec("dk.", lab.addr(), transport)).await, kind);
    assert!(lab.queries() >= 1);
    f
}

#[tokio::test]
async fn hickory_server_udp_and_tcp() {
    let (addr, server) = hickory_auth_server(&zone_text("dk.", 2025063001)).await;
    for transport in [Transport::Udp, Transport::Tcp] {
        let a = ok(probe(&spec("dk.", addr, transport)).await);
        assert_eq!(a.serial, 2025063001, "{transport}");
        assert_eq!(a.nsid.as_deref(), Some(HICKORY_NSID), "{transport}");
        assert_eq!(a.rrsig_expiration, None);
        assert!(!a.truncated);
        assert!(a.size > 12);
        assert!(a.rtt > Duration::ZERO && a.rtt < TIMEOUT);
    }
    // Case-insensitive zone, no NSID requested.
    let mut s = spec("DK.", addr, Transport::Udp);
    s.nsid = false;
    let a = ok(probe(&s).await);
    assert_eq!((a.serial, a.nsid), (2025063001, None));
    // A zone it does not serve: REFUSED.
    failed(
        probe(&spec("se.", addr, Transport::Udp)).await,
        FailureKind::Refused,
    );
    server.shutdown().await;
}

#[tokio::test]
async fn query_shape_on_the_wire() {
    let lab = lab().await;
    let mut s = spec("dk.", lab.addr(), Transport::Udp);
    s.dnssec_ok = true;
    ok(probe(&s).await);
    let q = lab.last_query().expect("query seen");
    assert_eq!(q.metadata.message_type, MessageType::Query);
    assert!(!q.metadata.recursion_desired);
    assert_eq!(q.queries.len(), 1);
    assert_eq!(q.queries[0].query_type, RecordType::SOA);
    let edns = q.edns.expect("edns");
    assert_eq!(edns.max_payload(), 1232);
    assert!(edns.flags().dnssec_ok);
    assert!(edns.option(EdnsCode::NSID).is_some());

    s.dnssec_ok = false;
    s.nsid = false;
    ok(probe(&s).await);
    let edns = lab.last_query().expect("query").edns.expect("edns");
    assert!(!edns.flags().dnssec_ok);
    assert!(edns.option(EdnsCode::NSID).is_none());
}

#[tokio::test]
async fn normal_udp_and_tcp_with_serial_nsid_and_rrsig() {
    let lab = lab().await;
    lab.set_rrsig_expiration(Some(1_900_000_000));
    for transport in [Transport::Udp, Transport::Tcp] {
        let mut s = spec("dk.", lab.addr(), transport);
        let a = ok(probe(&s).await);
        assert_eq!(a.serial, 2024010101);
        assert_eq!(a.nsid.as_deref(), Some("lab-ns1"));
        assert_eq!(a.rrsig_expiration, None, "no DO bit, no RRSIG");
        s.dnssec_ok = true;
        let a = ok(probe(&s).await);
        assert_eq!(a.rrsig_expiration, Some(1_900_000_000));
    }
    assert_eq!((lab.udp_queries(), lab.tcp_queries()), (2, 2));

    // Changes are visible on the next probe.
    lab.set_serial(2024010102);
    lab.set_nsid_bytes(Some(vec![0, 1, 0xfe]));
    let a = ok(probe(&spec("dk.", lab.addr(), Transport::Udp)).await);
    assert_eq!(a.serial, 2024010102);
    assert_eq!(a.nsid.as_deref(), Some("0001fe"));
}

#[tokio::test]
async fn ipv6_loopback() {
    let lab = LabServer::start_on("::1".parse().expect("ip"), "dk.", 7).await;
    for transport in [Transport::Udp, Transport::Tcp] {
        assert_eq!(
            ok(probe(&spec("dk.", lab.addr(), transport)).await).serial,
            7
        );
    }
}

#[tokio::test]
async fn delay_is_measured() {
    let lab = lab().await;
    lab.set_mode(Mode::Delay(Duration::from_millis(80)));
    for transport in [Transport::Udp, Transport::Tcp] {
        let a = ok(probe(&spec("dk.", lab.addr(), transport)).await);
        assert!(
            a.rtt >= Duration::from_millis(80),
            "{transport}: {:?}",
            a.rtt
        );
        assert!(a.rtt < TIMEOUT, "{transport}: {:?}", a.rtt);
    }
}

#[tokio::test]
async fn silence_is_a_timeout() {
    for transport in [Transport::Udp, Transport::Tcp] {
        let started = Instant::now();
        let f = expect_failure(Mode::Silent, transport, FailureKind::Timeout).await;
        let took = started.elapsed();
        assert!(
            took >= TIMEOUT && took < TIMEOUT + SLACK,
            "{transport}: {took:?}"
        );
        assert_eq!(f.rtt, None);
    }
}

#[tokio::test]
async fn late_answer_is_a_timeout() {
    for transport in [Transport::Udp, Transport::Tcp] {
        let started = Instant::now();
        expect_failure(
            Mode::LateAnswer(TIMEOUT + Duration::from_millis(200)),
            transport,
            FailureKind::Timeout,
        )
        .await;
        assert!(started.elapsed() < TIMEOUT + SLACK, "{transport}");
    }
}

#[tokio::test]
async fn decoys_do_not_win() {
    let lab = lab().await;
    lab.set_udp_mode(Mode::Decoy(Duration::from_millis(50)));
    let a = ok(probe(&spec("dk.", lab.addr(), Transport::Udp)).await);
    assert_eq!(a.serial, 2024010101);
    assert!(a.rtt >= Duration::from_millis(50), "{:?}", a.rtt);
}

#[tokio::test]
async fn decoys_only_are_classified_not_timeout() {
    // The real answer comes after the timeout: the last decoy (wrong ID) is reported.
    let started = Instant::now();
    let f = expect_failure(
        Mode::Decoy(TIMEOUT + Duration::from_millis(200)),
        Transport::Udp,
        FailureKind::IdMismatch,
    )
    .await;
    assert!(started.elapsed() >= TIMEOUT, "waited for the deadline");
    assert!(f.rtt.is_some());
}

#[tokio::test]
async fn closed_port_is_network_quickly() {
    let addr = closed_port().await;
    for transport in [Transport::Udp, Transport::Tcp] {
        let started = Instant::now();
        let f = failed(
            probe(&spec("dk.", addr, transport)).await,
            FailureKind::Network,
        );
        assert!(started.elapsed() < TIMEOUT / 2, "{transport}");
        assert_eq!(f.rtt, None);
    }
}

#[tokio::test]
async fn stopped_server_is_network() {
    let mut lab = lab().await;
    let addr = lab.addr();
    ok(probe(&spec("dk.", addr, Transport::Udp)).await);
    lab.stop();
    tokio::time::sleep(Duration::from_millis(20)).await;
    failed(
        probe(&spec("dk.", addr, Transport::Udp)).await,
        FailureKind::Network,
    );
}

#[tokio::test]
async fn tcp_hangup_is_network() {
    expect_failure(Mode::Hangup, Transport::Tcp, FailureKind::Network).await;
}

#[tokio::test]
async fn refused() {
    for t in [Transport::Udp, Transport::Tcp] {
        let f = expect_failure(Mode::Refused, t, FailureKind::Refused).await;
        assert!(f.rtt.is_some());
    }
}

#[tokio::test]
async fn servfail() {
    for t in [Transport::Udp, Transport::Tcp] {
        expect_failure(Mode::Servfail, t, FailureKind::Servfail).await;
    }
}

#[tokio::test]
async fn formerr() {
    for t in [Transport::Udp, Transport::Tcp] {
        expect_failure(Mode::Formerr, t, FailureKind::Formerr).await;
    }
}

#[tokio::test]
async fn nxdomain() {
    for t in [Transport::Udp, Transport::Tcp] {
        expect_failure(Mode::Nxdomain, t, FailureKind::Nxdomain).await;
    }
}

#[tokio::test]
async fn not_authoritative_is_lame() {
    for t in [Transport::Udp, Transport::Tcp] {
        expect_failure(Mode::NotAuthoritative, t, FailureKind::Lame).await;
    }
}

#[tokio::test]
async fn no_soa() {
    for t in [Transport::Udp, Transport::Tcp] {
        expect_failure(Mode::NoSoa, t, FailureKind::NoSoa).await;
    }
}

#[tokio::test]
async fn wrong_zone_soa_is_no_soa() {
    for t in [Transport::Udp, Transport::Tcp] {
        expect_failure(Mode::WrongZoneSoa, t, FailureKind::NoSoa).await;
    }
}

#[tokio::test]
async fn garbage_is_malformed() {
    for t in [Transport::Udp, Transport::Tcp] {
        let started = Instant::now();
        expect_failure(Mode::Garbage, t, FailureKind::Malformed).await;
        let took = started.elapsed();
        match t {
            // Over UDP a bad datagram does not end the wait.
            Transport::Udp => assert!(took >= TIMEOUT, "{took:?}"),
            Transport::Tcp => assert!(took < TIMEOUT, "{took:?}"),
        }
    }
}

#[tokio::test]
async fn wrong_id() {
    for t in [Transport::Udp, Transport::Tcp] {
        expect_failure(Mode::WrongId, t, FailureKind::IdMismatch).await;
    }
}

#[tokio::test]
async fn wrong_question() {
    for t in [Transport::Udp, Transport::Tcp] {
        expect_failure(Mode::WrongQuestion, t, FailureKind::QuestionMismatch).await;
    }
}

#[tokio::test]
async fn truncated_udp_is_retried_over_tcp() {
    let lab = lab().await;
    lab.set_rrsig_expiration(Some(1_800_000_000));
    lab.set_mode(Mode::Truncate);
    let mut s = spec("dk.", lab.addr(), Transport::Udp);
    s.dnssec_ok = true;
    let a = ok(probe(&s).await);
    assert!(a.truncated);
    assert_eq!(a.serial, 2024010101);
    assert_eq!(a.rrsig_expiration, Some(1_800_000_000));
    assert_eq!(a.nsid.as_deref(), Some("lab-ns1"));
    assert_eq!((lab.udp_queries(), lab.tcp_queries()), (1, 1));

    // Over TCP directly, Truncate is a normal answer, not marked truncated.
    let a = ok(probe(&spec("dk.", lab.addr(), Transport::Tcp)).await);
    assert!(!a.truncated);
}

#[tokio::test]
async fn truncated_retry_stays_within_the_deadline() {
    let lab = lab().await;
    lab.set_udp_mode(Mode::Truncate);
    lab.set_tcp_mode(Mode::Silent);
    let started = Instant::now();
    failed(
        probe(&spec("dk.", lab.addr(), Transport::Udp)).await,
        FailureKind::Timeout,
    );
    let took = started.elapsed();
    assert!(took < TIMEOUT + SLACK, "{took:?}");
    assert_eq!(lab.tcp_queries(), 1);
}

#[tokio::test]
async fn truncate_always() {
    for t in [Transport::Udp, Transport::Tcp] {
        expect_failure(Mode::TruncateAlways, t, FailureKind::TruncatedTcp).await;
    }
}
