//! Servers for the check-kind tests: a programmable TCP responder (plain or TLS),
//! a test CA with valid, expired and wrong-host certificates (rcgen), and nginx.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nsprobe::probe::{CheckFailure, CheckOutcome, Reason, Success};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

/// A connection handed to a responder: plain TCP or TLS.
pub trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// What a responder does with one accepted connection.
pub type Handler =
    Arc<dyn Fn(Box<dyn Conn>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Wraps an async closure as a [`Handler`].
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Box<dyn Conn>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |c| Box::pin(f(c)))
}

/// A loopback TCP server running `handler` per connection (over TLS when `tls` is given).
pub struct Responder {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Responder {
    /// Starts a plain TCP responder.
    pub async fn plain(handler: Handler) -> Responder {
        Responder::start(handler, None).await
    }

    /// Starts a TLS responder presenting `identity`.
    pub async fn tls(handler: Handler, identity: &Identity) -> Responder {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(identity.chain(), identity.key())
        .expect("server cert");
        Responder::start(
            handler,
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
        )
        .await
    }

    /// Starts a TLS responder presenting `identity` that requires a client certificate
    /// issued by `ca`.
    pub async fn tls_requiring_client(
        handler: Handler,
        identity: &Identity,
        ca: &TestCa,
    ) -> Responder {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(ca.der.clone()))
            .expect("ca root");
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .expect("client verifier");
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(identity.chain(), identity.key())
            .expect("server cert");
        Responder::start(
            handler,
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
        )
        .await
    }

    async fn start(handler: Handler, tls: Option<tokio_rustls::TlsAcceptor>) -> Responder {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                // Like real servers: no Nagle delay on small writes after the handshake.
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => handler(Box::new(stream)).await,
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(stream).await {
                                handler(Box::new(s)).await
                            }
                        }
                    }
                });
            }
        });
        Responder { addr, task }
    }
}

/// A deadline `ms` milliseconds from now.
pub fn deadline_in(ms: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_millis(ms)
}

/// Unwraps a success, printing the failure otherwise.
pub fn ok(outcome: CheckOutcome) -> Success {
    match outcome {
        Ok(s) => s,
        Err(f) => panic!("expected success, got {f:?}"),
    }
}

/// Unwraps a failure with `reason`, printing the outcome otherwise.
pub fn failed(outcome: CheckOutcome, reason: Reason) -> CheckFailure {
    match outcome {
        Err(f) if f.reason == reason => f,
        other => panic!("expected {reason}, got {other:?}"),
    }
}

/// A certificate chain and key, as PEM and DER.
pub struct Identity {
    /// Leaf then CA, DER.
    pub chain_der: Vec<Vec<u8>>,
    /// The leaf key, PKCS#8 DER.
    pub key_der: Vec<u8>,
    /// Leaf then CA, PEM.
    pub chain_pem: String,
    /// Leaf key, PEM.
    pub key_pem: String,
    /// The leaf's not-after, Unix seconds.
    pub not_after: i64,
}

impl Identity {
    /// The chain for rustls.
    pub fn chain(&self) -> Vec<rustls::pki_types::CertificateDer<'static>> {
        self.chain_der
            .iter()
            .map(|d| rustls::pki_types::CertificateDer::from(d.clone()))
            .collect()
    }

    /// The key for rustls.
    pub fn key(&self) -> rustls::pki_types::PrivateKeyDer<'static> {
        rustls::pki_types::PrivateKeyDer::Pkcs8(self.key_der.clone().into())
    }

    /// Writes `cert.pem` (chain) and `key.pem` into `dir` with `stem` prefix; returns both paths.
    pub fn write(&self, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let c = dir.join(format!("{stem}.crt"));
        let k = dir.join(format!("{stem}.key"));
        std::fs::write(&c, &self.chain_pem).expect("write cert");
        std::fs::write(&k, &self.key_pem).expect("write key");
        (c, k)
    }
}

/// A test CA and certificates it issues.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub pem: String,
    der: Vec<u8>,
}

impl TestCa {
    /// A fresh CA (`nsprobe test CA`).
    pub fn new() -> TestCa {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "nsprobe test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("ca key");
        let cert = params.self_signed(&key).expect("ca cert");
        TestCa {
            pem: cert.pem(),
            der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names` valid from `from` to `until` (Unix seconds).
    pub fn issue(&self, names: &[&str], from: i64, until: i64) -> Identity {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or("x"));
        params.not_before = time::OffsetDateTime::from_unix_timestamp(from).expect("from");
        params.not_after = time::OffsetDateTime::from_unix_timestamp(until).expect("until");
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf cert");
        Identity {
            chain_der: vec![cert.der().to_vec(), self.der.clone()],
            key_der: key.serialize_der(),
            chain_pem: format!("{}{}", cert.pem(), self.pem),
            key_pem: key.serialize_pem(),
            not_after: until,
        }
    }

    /// A leaf for `localhost` valid for `days` more days.
    pub fn valid(&self, days: i64) -> Identity {
        let now = now();
        self.issue(&["localhost"], now - 86_400, now + days * 86_400)
    }

    /// A `localhost` leaf that expired yesterday.
    pub fn expired(&self) -> Identity {
        let now = now();
        self.issue(&["localhost"], now - 30 * 86_400, now - 86_400)
    }

    /// A valid leaf for another name only.
    pub fn wrong_host(&self) -> Identity {
        let now = now();
        self.issue(&["elsewhere.example"], now - 86_400, now + 30 * 86_400)
    }
}

/// Now, Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Whether `tool` runs; otherwise prints a skip line (or panics with NSPROBE_REQUIRE_TOOLS=1).
pub fn have_tool(tool: &str, args: &[&str], package: &str) -> bool {
    let ok = Command::new(tool)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("NSPROBE_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{tool} not usable but NSPROBE_REQUIRE_TOOLS=1 (apt-get install {package})");
        }
        eprintln!(
            "SKIP: {tool} not on PATH (apt-get install {package}; NSPROBE_REQUIRE_TOOLS=1 makes this a failure)"
        );
    }
    ok
}

/// A free loopback TCP port (bound, then released for the server under test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// nginx run as a child process with its own prefix directory; killed on drop.
pub struct Nginx {
    child: Child,
    /// The prefix directory (config, logs, temp paths).
    pub dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    /// Starts nginx with `servers` (the inside of `http { }`), waiting until every port in
    /// `ports` accepts connections. None when nginx is missing (and tools are not required).
    pub fn start(servers: &str, ports: &[u16], dir: tempfile::TempDir) -> Option<Nginx> {
        if !have_tool("nginx", &["-v"], "nginx") {
            return None;
        }
        let p = dir.path();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {pid};\n\
             error_log {err} warn;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  \
             fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n  \
             default_type text/plain;\n{servers}\n}}\n",
            pid = p.join("nginx.pid").display(),
            err = p.join("error.log").display(),
            p = p.display(),
        );
        let conf_path = p.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let child = Command::new("nginx")
            .arg("-p")
            .arg(p)
            .arg("-e")
            .arg(p.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nginx");
        let mut nginx = Nginx { child, dir };
        let until = std::time::Instant::now() + Duration::from_secs(10);
        for &port in ports {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(status)) = nginx.child.try_wait() {
                    let log = std::fs::read_to_string(nginx.dir.path().join("error.log"))
                        .unwrap_or_default();
                    panic!("nginx exited ({status}): {log}");
                }
                assert!(
                    std::time::Instant::now() < until,
                    "nginx did not listen on {port}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Some(nginx)
    }
}
