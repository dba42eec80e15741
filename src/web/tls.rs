//! `tls_server_config` → a rustls server configuration (ring provider, no OpenSSL).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use super::config::{ClientAuth, Pem, TlsSettings, TlsVersion, WebConfigError};

/// Builds the rustls server config: reads the PEM files, checks the key
/// matches the certificate, sets up client-certificate verification. Errors
/// name the web config file and the key whose material is wrong.
pub fn server_config(
    settings: &TlsSettings,
    source: &Path,
) -> Result<Arc<ServerConfig>, WebConfigError> {
    let err = |key: &str, message: String| WebConfigError {
        file: source.to_path_buf(),
        key: format!("tls_server_config.{key}"),
        message,
    };
    let certs = read_certs(&settings.cert).map_err(|m| err(pem_key(&settings.cert, "cert"), m))?;
    let key = read_key(&settings.key).map_err(|m| err(pem_key(&settings.key, "key"), m))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (settings.min_version..=settings.max_version).contains(v))
    .map(|(_, p)| p)
    .collect();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| err("min_version", e.to_string()))?;
    let builder = match (&settings.client_ca, settings.client_auth) {
        (_, ClientAuth::None) | (None, _) => builder.with_no_client_auth(),
        (Some(ca), mode) => {
            let ca_key = pem_key(ca, "client_ca");
            let mut roots = RootCertStore::empty();
            for c in read_certs(ca).map_err(|m| err(ca_key, m))? {
                roots
                    .add(c)
                    .map_err(|e| err(ca_key, format!("unusable CA certificate: {e}")))?;
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let v = if mode == ClientAuth::VerifyIfGiven {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(
                v.build()
                    .map_err(|e| err(ca_key, format!("cannot verify clients: {e}")))?,
            )
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        err(
            pem_key(&settings.key, "key"),
            format!("does not fit the certificate: {e}"),
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The key name for PEM material: `cert_file` or `cert` (inline).
fn pem_key(pem: &Pem, name: &'static str) -> &'static str {
    match (pem, name) {
        (Pem::File(_), "cert") => "cert_file",
        (Pem::File(_), "key") => "key_file",
        (Pem::File(_), _) => "client_ca_file",
        (Pem::Inline(_), "cert") => "cert",
        (Pem::Inline(_), "key") => "key",
        (Pem::Inline(_), _) => "client_ca",
    }
}

fn pem_bytes(pem: &Pem) -> Result<Vec<u8>, String> {
    match pem {
        Pem::File(p) => std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display())),
        Pem::Inline(t) => Ok(t.as_bytes().to_vec()),
    }
}

fn read_certs(pem: &Pem) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = pem_bytes(pem)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block found (expected PEM)".into());
    }
    Ok(certs)
}

fn read_key(pem: &Pem) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = pem_bytes(pem)?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| format!("no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}"))
}
