//! TLS client setup shared by `tls`, `http` and `epp`, and what a certificate shows.
//!
//! [`TlsClient`] is built once per check from [`TlsOptions`] (reading a private CA
//! file is a configuration step, not a check step). Each connection then gets a
//! verifier that records the chain the server sent and the verification verdict, so
//! an expired or untrusted certificate is still reported ([`CheckFailure::cert`]).
//! rustls with the `ring` provider only; no OpenSSL.
//!
//! [`CheckFailure::cert`]: super::CheckFailure::cert

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use serde::{Deserialize, Serialize};

use super::{Reason, Rejection};

/// Seconds in a day, for days-to-expiry.
const DAY: i64 = 86_400;

/// How a check's TLS client trusts servers and identifies itself (config keys `ca_file`,
/// `insecure_skip_verify`, `client_cert`, `client_key`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of CA certificates to trust **instead of** the built-in Mozilla roots
    /// (for a private CA).
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (still parsed and reported, so expiry is still visible).
    pub insecure_skip_verify: bool,
    /// PEM certificate chain to present when the server asks for a client certificate
    /// (EPP servers often do); needs `client_key`.
    pub client_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for `client_cert`.
    pub client_key: Option<PathBuf>,
}

/// Why a [`TlsClient`] cannot be built (a configuration error).
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// The CA file cannot be read.
    #[error("cannot read ca_file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The CA file holds no usable certificate.
    #[error(
        "ca_file {path}: {what} (write a PEM file with one or more `BEGIN CERTIFICATE` blocks)"
    )]
    Pem {
        /// The file (or `<pem>` for in-memory PEM).
        path: String,
        /// What is wrong.
        what: String,
    },
    /// Only one of `client_cert` and `client_key` is set.
    #[error("client_cert and client_key go together: set both or neither")]
    ClientPair,
    /// The client certificate or key is unusable.
    #[error("{path}: {what}")]
    ClientAuth {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// rustls rejected the setup.
    #[error("TLS setup: {0}")]
    Rustls(String),
}

/// A ready TLS client setup: trust anchors, verifier and crypto provider.
#[derive(Clone)]
pub struct TlsClient {
    provider: Arc<CryptoProvider>,
    verifier: Arc<WebPkiServerVerifier>,
    insecure: bool,
    /// The client certificate and key, if configured.
    client_auth: Option<Arc<CertifiedKey>>,
    /// Where the roots (and client certificate) came from, with a hash of the contents,
    /// for Debug and equality (a changed file makes a different client).
    source: String,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("roots", &self.source)
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl PartialEq for TlsClient {
    fn eq(&self, other: &TlsClient) -> bool {
        self.source == other.source && self.insecure == other.insecure
    }
}

impl Eq for TlsClient {}

impl TlsClient {
    /// Builds the client for `opts`, reading `ca_file` if given.
    pub fn new(opts: &TlsOptions) -> Result<TlsClient, TlsConfigError> {
        let mut client = match &opts.ca_file {
            None => TlsClient::build(None, opts.insecure_skip_verify, "mozilla".to_string())?,
            Some(path) => {
                let pem = std::fs::read(path).map_err(|source| TlsConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                TlsClient::build(
                    Some((&pem, &path.display().to_string())),
                    opts.insecure_skip_verify,
                    format!("{} #{:016x}", path.display(), digest(&pem)),
                )?
            }
        };
        match (&opts.client_cert, &opts.client_key) {
            (None, None) => {}
            (Some(cert), Some(key)) => {
                let read = |path: &PathBuf| {
                    std::fs::read(path).map_err(|e| TlsConfigError::ClientAuth {
                        path: path.clone(),
                        what: format!("cannot read: {e}"),
                    })
                };
                client = client.with_client_auth(&read(cert)?, &read(key)?, cert, key)?;
            }
            _ => return Err(TlsConfigError::ClientPair),
        }
        Ok(client)
    }

    /// Adds a client certificate chain and key (PEM); `cert_path`/`key_path` name them in errors.
    pub fn with_client_auth(
        mut self,
        cert_pem: &[u8],
        key_pem: &[u8],
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<TlsClient, TlsConfigError> {
        let bad = |path: &Path, what: String| TlsConfigError::ClientAuth {
            path: path.to_path_buf(),
            what,
        };
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(cert_path, format!("not a PEM certificate chain: {e}")))?;
        if chain.is_empty() {
            return Err(bad(cert_path, "no `BEGIN CERTIFICATE` block".to_string()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| bad(key_path, format!("not a PEM private key: {e}")))?;
        let certified = CertifiedKey::from_der(chain, key, &self.provider).map_err(|e| {
            bad(
                key_path,
                format!("unusable with {}: {e}", cert_path.display()),
            )
        })?;
        self.client_auth = Some(Arc::new(certified));
        self.source = format!(
            "{} client {} #{:016x}",
            self.source,
            cert_path.display(),
            digest(&[cert_pem, key_pem].concat())
        );
        Ok(self)
    }

    /// Builds a client trusting only the CA certificates in `pem` (tests, embedded CAs).
    pub fn from_pem(pem: &[u8], insecure_skip_verify: bool) -> Result<TlsClient, TlsConfigError> {
        TlsClient::build(
            Some((pem, "<pem>")),
            insecure_skip_verify,
            format!("<pem> #{:016x}", digest(pem)),
        )
    }

    fn build(
        pem: Option<(&[u8], &str)>,
        insecure: bool,
        source: String,
    ) -> Result<TlsClient, TlsConfigError> {
        let mut roots = RootCertStore::empty();
        match pem {
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Some((pem, name)) => {
                let mut n = 0;
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|e| TlsConfigError::Pem {
                        path: name.to_string(),
                        what: e.to_string(),
                    })?;
                    roots.add(cert).map_err(|e| TlsConfigError::Pem {
                        path: name.to_string(),
                        what: format!("not a usable CA certificate: {e}"),
                    })?;
                    n += 1;
                }
                if n == 0 {
                    return Err(TlsConfigError::Pem {
                        path: name.to_string(),
                        what: "no certificate found".to_string(),
                    });
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| TlsConfigError::Rustls(e.to_string()))?;
        Ok(TlsClient {
            provider,
            verifier,
            insecure,
            client_auth: None,
            source,
        })
    }

    /// A fresh rustls config for one connection (ALPN `alpn`) and the slot where its
    /// verifier records what the server presented.
    pub(crate) fn connection(&self, alpn: &[&[u8]]) -> Result<(ClientConfig, Seen), Rejection> {
        let seen = Seen::default();
        let capture = Capture {
            inner: self.verifier.clone(),
            insecure: self.insecure,
            seen: seen.clone(),
        };
        let builder = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Rejection::new(Reason::TlsHandshake, format!("TLS setup: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(capture));
        let mut config = match &self.client_auth {
            Some(key) => {
                builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(key.clone())))
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok((config, seen))
    }
}

/// A content fingerprint for equality (not a security property).
fn digest(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// What a connection's verifier saw: the chain as sent and the verification error, if any.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen(Arc<Mutex<Option<Presented>>>);

/// A chain as the server sent it and the verifier's error for it, if any.
type Presented = (Vec<CertificateDer<'static>>, Option<rustls::Error>);

impl Seen {
    fn record(&self, chain: Vec<CertificateDer<'static>>, err: Option<rustls::Error>) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some((chain, err));
        }
    }

    /// The last chain the server presented, parsed (None if no certificate arrived or it
    /// does not parse).
    pub(crate) fn cert(&self, now: i64) -> Option<CertFacts> {
        let g = self.0.lock().ok()?;
        let (chain, _) = g.as_ref()?;
        cert_facts(chain, now).ok()
    }

    /// The verification error of the last chain, if it failed.
    pub(crate) fn error(&self) -> Option<rustls::Error> {
        let g = self.0.lock().ok()?;
        g.as_ref().and_then(|(_, e)| e.clone())
    }
}

/// Verifies with webpki, records chain and verdict; accepts anything when `insecure`.
#[derive(Debug)]
struct Capture {
    inner: Arc<WebPkiServerVerifier>,
    insecure: bool,
    seen: Seen,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        if self.insecure {
            self.seen.record(chain, None);
            Ok(ServerCertVerified::assertion())
        } else {
            self.seen.record(chain, verdict.as_ref().err().cloned());
            verdict
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// What the server certificate shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertFacts {
    /// Subject of the end-entity certificate (RFC 4514 string).
    pub subject: String,
    /// Issuer of the end-entity certificate.
    pub issuer: String,
    /// Not-after of the end-entity certificate, Unix seconds.
    pub not_after: i64,
    /// Whole days from the check until `not_after` (negative once expired; floor).
    pub days_to_expiry: i64,
    /// Earliest not-after in the chain as sent, Unix seconds (an intermediate may expire first).
    pub chain_not_after: i64,
    /// Certificates the server sent (end entity first).
    pub chain_len: usize,
}

/// Now as Unix seconds (wall clock; certificates are dated in wall-clock time).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Parses a chain (DER, end entity first) into [`CertFacts`] as of `now` (Unix seconds).
///
/// Pure; any byte sequence is either facts or a [`Reason::CertInvalid`] rejection.
pub fn cert_facts(chain: &[CertificateDer<'_>], now: i64) -> Result<CertFacts, Rejection> {
    let Some(ee) = chain.first() else {
        return Err(Rejection::new(Reason::CertInvalid, "no certificate"));
    };
    let (_, leaf) = x509_parser::parse_x509_certificate(ee.as_ref()).map_err(|e| {
        Rejection::new(
            Reason::CertInvalid,
            format!("certificate does not parse: {e}"),
        )
    })?;
    let not_after = leaf.validity().not_after.timestamp();
    let mut chain_not_after = not_after;
    for c in chain.iter().skip(1) {
        if let Ok((_, cert)) = x509_parser::parse_x509_certificate(c.as_ref()) {
            chain_not_after = chain_not_after.min(cert.validity().not_after.timestamp());
        }
    }
    Ok(CertFacts {
        subject: leaf.subject().to_string(),
        issuer: leaf.issuer().to_string(),
        not_after,
        days_to_expiry: not_after.saturating_sub(now).div_euclid(DAY),
        chain_not_after,
        chain_len: chain.len(),
    })
}

/// Classifies a rustls error: certificate problems get their own reasons, the rest is
/// [`Reason::TlsHandshake`].
pub fn classify_tls_error(err: &rustls::Error) -> Reason {
    match err {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                Reason::CertExpired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                Reason::CertNotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Reason::CertNameMismatch
            }
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                Reason::CertUntrusted
            }
            _ => Reason::CertInvalid,
        },
        _ => Reason::TlsHandshake,
    }
}

/// Classifies an error from a TLS handshake (rustls wraps its errors in `io::Error`).
///
/// A certificate the verifier rejected wins (the recorded error); then a rustls error
/// inside the I/O error; a reset or refused connection is [`Reason::Network`]; anything
/// else (EOF mid-handshake, garbage) is [`Reason::TlsHandshake`].
pub(crate) fn classify_handshake(err: &std::io::Error, seen: &Seen) -> Rejection {
    if let Some(e) = seen.error() {
        return Rejection::new(classify_tls_error(&e), format!("certificate: {e}"));
    }
    if let Some(e) = err
        .get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
    {
        return Rejection::new(classify_tls_error(e), format!("TLS handshake: {e}"));
    }
    use std::io::ErrorKind as K;
    let reason = match err.kind() {
        K::ConnectionReset | K::ConnectionAborted | K::ConnectionRefused | K::BrokenPipe => {
            Reason::Network
        }
        _ => Reason::TlsHandshake,
    };
    Rejection::new(reason, format!("TLS handshake: {err}"))
}

/// The rustls error inside `err`, looking through source chains and `io::Error`s
/// wrapping other errors (hyper-util wraps rustls's `io::Error` in another one).
pub(crate) fn find_rustls_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut next: Option<&'a (dyn std::error::Error + 'static)> = Some(err);
    // Bounded: error chains are short; a cycle cannot make this loop forever.
    for _ in 0..32 {
        let e = next?;
        if let Some(t) = e.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        next = match e.downcast_ref::<std::io::Error>() {
            Some(io) => match io.get_ref() {
                Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                None => None,
            },
            None => e.source(),
        };
    }
    None
}
