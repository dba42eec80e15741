//! The demo's authoritative servers: real hickory-server instances on loopback (UDP and
//! TCP on one port each), serving a zone whose SOA serial the demo advances.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::rdata::opt::NSIDPayload;
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{LowerName, Name, RData, Record};
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};

/// Why a demo server could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoServerError {
    /// Binding the loopback sockets failed.
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        /// `UDP` or `TCP`.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The zone text did not parse (a bug in the demo).
    #[error("demo zone does not parse: {0}")]
    Zone(String),
}

type Handler = InMemoryZoneHandler<TokioRuntimeProvider>;

/// One authoritative server of the demo zone.
pub struct DemoServer {
    name: String,
    origin: Name,
    addr: SocketAddr,
    handler: Arc<Handler>,
    server: Option<Server<Catalog>>,
}

impl std::fmt::Debug for DemoServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoServer")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .field("running", &self.server.is_some())
            .finish()
    }
}

/// The demo zone's text: SOA with `serial`, NS records for `names`.
pub fn zone_text(zone: &str, names: &[&str], serial: u32) -> String {
    let mut t = format!(
        "$ORIGIN {zone}\n$TTL 3600\n@ IN SOA {first}. hostmaster.{zone} {serial} 1800 600 1209600 300\n",
        first = names.first().copied().unwrap_or("ns")
    );
    for n in names {
        t.push_str(&format!("@ IN NS {n}.\n"));
    }
    t
}

impl DemoServer {
    /// Start server `name` on a free loopback port serving `zone_text`.
    pub async fn start(name: &str, zone_text: &str) -> Result<DemoServer, DemoServerError> {
        let (origin, records) = hickory_proto::serialize::txt::Parser::new(zone_text, None, None)
            .parse()
            .map_err(|e| DemoServerError::Zone(e.to_string()))?;
        let handler = Arc::new(
            Handler::new(origin.clone(), records, ZoneType::Primary, AxfrPolicy::Deny)
                .map_err(DemoServerError::Zone)?,
        );
        let (udp, tcp) = bind_same_port().await?;
        let addr = udp.local_addr().map_err(|source| DemoServerError::Bind {
            what: "UDP",
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            source,
        })?;
        let mut s = DemoServer {
            name: name.to_string(),
            origin,
            addr,
            handler,
            server: None,
        };
        s.serve(udp, tcp);
        Ok(s)
    }

    fn serve(&mut self, udp: UdpSocket, tcp: TcpListener) {
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::from(&self.origin), vec![self.handler.clone()]);
        let short = self.name.split('.').next().unwrap_or("ns");
        if let Ok(nsid) = NSIDPayload::new(format!("demo-{short}").into_bytes()) {
            catalog.set_nsid(Some(nsid));
        }
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64);
        self.server = Some(server);
    }

    /// The server's name (`l.nic.dk`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The loopback address it answers on (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// True while it answers.
    pub fn running(&self) -> bool {
        self.server.is_some()
    }

    /// Stop answering: both sockets are closed, so queries are refused.
    pub async fn stop(&mut self) {
        if let Some(mut s) = self.server.take() {
            let _ = s.shutdown_gracefully().await;
        }
    }

    /// Answer again on the same address.
    pub async fn restart(&mut self) -> Result<(), DemoServerError> {
        if self.server.is_some() {
            return Ok(());
        }
        let udp = UdpSocket::bind(self.addr)
            .await
            .map_err(|source| DemoServerError::Bind {
                what: "UDP",
                addr: self.addr,
                source,
            })?;
        let tcp = TcpListener::bind(self.addr)
            .await
            .map_err(|source| DemoServerError::Bind {
                what: "TCP",
                addr: self.addr,
                source,
            })?;
        self.serve(udp, tcp);
        Ok(())
    }

    /// Publish `serial`: the SOA it serves from now on (also while stopped, so it serves
    /// the current version when it comes back, like a secondary catching up).
    pub async fn publish(&self, serial: u32) {
        let soa = SOA::new(
            Name::from_ascii(format!("{}.", self.name)).unwrap_or_else(|_| self.origin.clone()),
            Name::from_ascii(format!("hostmaster.{}", self.origin))
                .unwrap_or_else(|_| self.origin.clone()),
            serial,
            1800,
            600,
            1_209_600,
            300,
        );
        let rec = Record::from_rdata(self.origin.clone(), 3600, RData::SOA(soa));
        self.handler.upsert(rec, serial).await;
    }
}

async fn bind_same_port() -> Result<(UdpSocket, TcpListener), DemoServerError> {
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let any = SocketAddr::new(ip, 0);
    let mut last = None;
    for _ in 0..50 {
        let udp = UdpSocket::bind(any)
            .await
            .map_err(|source| DemoServerError::Bind {
                what: "UDP",
                addr: any,
                source,
            })?;
        let addr = udp.local_addr().map_err(|source| DemoServerError::Bind {
            what: "UDP",
            addr: any,
            source,
        })?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, source) = last.expect("tried at least once");
    Err(DemoServerError::Bind {
        what: "TCP",
        addr,
        source,
    })
}
