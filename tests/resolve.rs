//! `NameResolver` against an in-process authoritative hickory-server on loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{LowerName, Name, RData, Record};
use hickory_proto::serialize::txt::Parser;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use hickory_server::Server;
use nsprobe::config::ResolverSettings;
use nsprobe::resolve::{FamilyFailure, NameResolver, ResolveError};

const ZONE: &str = r#"
$TTL 3600
@        IN SOA  ns1.lab. hostmaster.lab. 1 7200 900 1209600 3600
@        IN NS   ns1.lab.
ns1      IN A    127.0.1.1
ns1      IN AAAA ::1
v4only   IN A    127.0.1.2
v6only   IN AAAA ::1
dup      IN A    127.0.1.9
dup      IN A    127.0.1.3
"#;

struct Lab {
    server: Server<Catalog>,
    zone: Arc<InMemoryZoneHandler<TokioRuntimeProvider>>,
    addr: SocketAddr,
}

/// An authoritative server for `lab.` on 127.0.0.1, UDP and TCP on the same random port.
async fn lab() -> Lab {
    let origin = Name::from_ascii("lab.").unwrap();
    let (origin, records) = Parser::new(ZONE, None, Some(origin)).parse().unwrap();
    let zone = Arc::new(
        InMemoryZoneHandler::<TokioRuntimeProvider>::new(
            origin.clone(),
            records,
            ZoneType::Primary,
            AxfrPolicy::Deny,
        )
        .unwrap(),
    );
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::from(&origin), vec![zone.clone()]);
    let mut server = Server::new(catalog);
    // Find a port free for both UDP and TCP.
    let (udp, tcp) = loop {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            break (udp, tcp);
        }
    };
    let addr = udp.local_addr().unwrap();
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 64);
    Lab { server, zone, addr }
}

fn settings(server: SocketAddr, timeout: Duration) -> ResolverSettings {
    ResolverSettings {
        servers: vec![server],
        refresh: Duration::from_secs(300),
        timeout,
    }
}

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from_str(s).unwrap())
}

#[tokio::test]
async fn resolves_both_families_sorted() {
    let mut lab = lab().await;
    let r = NameResolver::new(&settings(lab.addr, Duration::from_secs(2))).unwrap();

    let ips = r.resolve("ns1.lab").await.unwrap();
    assert_eq!(ips, vec![v4("127.0.1.1"), IpAddr::V6(Ipv6Addr::LOCALHOST)]);
    // A trailing dot makes no difference.
    assert_eq!(r.resolve("ns1.lab.").await.unwrap(), ips);
    // One family NODATA does not hide the other, in either direction.
    assert_eq!(
        r.resolve("v4only.lab").await.unwrap(),
        vec![v4("127.0.1.2")]
    );
    assert_eq!(
        r.resolve("v6only.lab").await.unwrap(),
        vec![IpAddr::V6(Ipv6Addr::LOCALHOST)]
    );
    // Sorted regardless of answer order.
    assert_eq!(
        r.resolve("dup.lab").await.unwrap(),
        vec![v4("127.0.1.3"), v4("127.0.1.9")]
    );
    lab.server.shutdown_gracefully().await.unwrap();
}

#[tokio::test]
async fn nxdomain_is_reported_for_both_families() {
    let mut lab = lab().await;
    let r = NameResolver::new(&settings(lab.addr, Duration::from_secs(2))).unwrap();
    let e = r.resolve("missing.lab").await.unwrap_err();
    assert!(e.is_nx_domain(), "{e:?}");
    match &e {
        ResolveError::NoAddress { name, a, aaaa } => {
            assert_eq!(name, "missing.lab.");
            assert_eq!(*a, FamilyFailure::NxDomain);
            assert_eq!(*aaaa, FamilyFailure::NxDomain);
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("missing.lab.") && msg.contains("NXDOMAIN"),
        "{msg}"
    );
    lab.server.shutdown_gracefully().await.unwrap();
}

#[tokio::test]
async fn changed_answer_is_seen_on_next_resolve() {
    let mut lab = lab().await;
    let r = NameResolver::new(&settings(lab.addr, Duration::from_secs(2))).unwrap();
    assert_eq!(
        r.resolve("v4only.lab").await.unwrap(),
        vec![v4("127.0.1.2")]
    );

    // TTL is 3600: a cached answer would hide this new address.
    let name = Name::from_ascii("v4only.lab.").unwrap();
    let rec = Record::from_rdata(name, 3600, RData::A(A::new(127, 0, 1, 7)));
    assert!(lab.zone.upsert(rec, 2).await);

    assert_eq!(
        r.resolve("v4only.lab").await.unwrap(),
        vec![v4("127.0.1.2"), v4("127.0.1.7")]
    );
    lab.server.shutdown_gracefully().await.unwrap();
}

#[tokio::test]
async fn unresponsive_server_times_out() {
    // Bound but never read (UDP) and never accepted (TCP): no answer ever comes.
    let (udp, _tcp) = loop {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            break (udp, tcp);
        }
    };
    let r = NameResolver::new(&settings(
        udp.local_addr().unwrap(),
        Duration::from_millis(200),
    ))
    .unwrap();
    let started = Instant::now();
    let e = r.resolve("ns1.lab").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(!e.is_nx_domain());
    let msg = e.to_string();
    assert!(msg.contains("A: timed out; AAAA: timed out"), "{msg}");
    match e {
        ResolveError::NoAddress { a, aaaa, .. } => {
            assert_eq!(a, FamilyFailure::Timeout);
            assert_eq!(aaaa, FamilyFailure::Timeout);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn invalid_name_is_an_error_not_a_panic() {
    let r = NameResolver::new(&settings(
        "127.0.0.1:9".parse().unwrap(),
        Duration::from_millis(100),
    ))
    .unwrap();
    let long = "a".repeat(300);
    let e = r.resolve(&long).await.unwrap_err();
    assert!(matches!(e, ResolveError::InvalidName { .. }), "{e:?}");
}
