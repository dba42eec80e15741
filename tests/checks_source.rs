//! `[vantage] source_address` for the non-DNS checks: every kind (tcp, tls, http, whois,
//! epp) binds its connection to the source address before `connect`, so a loopback server
//! sees the connection come from it; without a source, or with one of the other family,
//! the kernel chooses (127.0.0.1 towards 127.0.0.1).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use nsprobe::probe::epp::EppSpec;
use nsprobe::probe::http::HttpSpec;
use nsprobe::probe::tcp::TcpSpec;
use nsprobe::probe::tls::TlsSpec;
use nsprobe::probe::whois::WhoisSpec;
use nsprobe::probe::{self, CheckSpec, TlsClient, TlsOptions};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;

const SOURCE: &str = "127.0.2.77";

/// A loopback server that reports every client's address, answers one HTTP response to
/// whatever it reads (enough for `http`, `whois` and `tcp`; `tls` and `epp` fail their
/// handshake after the connection was seen) and closes.
async fn server() -> (SocketAddr, mpsc::UnboundedReceiver<IpAddr>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, peer)) = listener.accept().await {
            let _ = tx.send(peer.ip());
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = tokio::time::timeout(Duration::from_millis(300), conn.read(&mut buf)).await;
                let _ = conn
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = conn.shutdown().await;
            });
        }
    });
    (addr, rx)
}

fn tls_client() -> TlsClient {
    TlsClient::new(&TlsOptions {
        insecure_skip_verify: true,
        ..TlsOptions::default()
    })
    .expect("tls client")
}

fn specs(addr: SocketAddr) -> Vec<CheckSpec> {
    let name = || ServerName::try_from("localhost").expect("name");
    let mut http = HttpSpec::new(&format!("http://{addr}/"), tls_client()).expect("url");
    http.addr = Some(addr);
    vec![
        CheckSpec::Tcp(TcpSpec::connect(addr)),
        CheckSpec::Tls(TlsSpec {
            addr,
            server_name: name(),
            tls: tls_client(),
        }),
        CheckSpec::Http(http),
        CheckSpec::Whois(WhoisSpec::new(addr, "example.dk")),
        CheckSpec::Epp(EppSpec::new(addr, name(), tls_client())),
    ]
}

async fn seen_from(spec: &CheckSpec, source: Option<IpAddr>) -> IpAddr {
    let (addr, mut rx) = server().await;
    let spec = retarget(spec, addr);
    let outcome = probe::run_from(&spec, source, Instant::now() + Duration::from_secs(3)).await;
    if matches!(
        spec,
        CheckSpec::Tcp(_) | CheckSpec::Http(_) | CheckSpec::Whois(_)
    ) {
        assert!(outcome.is_ok(), "{}: {outcome:?}", spec.target());
    }
    tokio::time::timeout(Duration::from_secs(3), rx.recv())
        .await
        .expect("the server saw a connection")
        .expect("peer")
}

/// The same check aimed at `addr`.
fn retarget(spec: &CheckSpec, addr: SocketAddr) -> CheckSpec {
    let kind = spec.kind();
    specs(addr)
        .into_iter()
        .find(|s| s.kind() == kind)
        .expect("kind")
}

#[tokio::test]
async fn every_check_kind_connects_from_the_source_address() {
    let source: IpAddr = SOURCE.parse().expect("ip");
    let placeholder: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    for spec in specs(placeholder) {
        let kind = spec.kind();
        assert_eq!(
            seen_from(&spec, Some(source)).await,
            source,
            "{kind:?} with source_address {SOURCE}"
        );
        assert_eq!(
            seen_from(&spec, None).await,
            IpAddr::from([127, 0, 0, 1]),
            "{kind:?} without source_address"
        );
        // A source of the other family is not used for this target: the kernel chooses.
        assert_eq!(
            seen_from(&spec, Some("::1".parse().expect("ip"))).await,
            IpAddr::from([127, 0, 0, 1]),
            "{kind:?} with an IPv6 source towards an IPv4 target"
        );
    }
}
