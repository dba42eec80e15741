//! `--web.config.file`: the Prometheus exporter-toolkit web configuration
//! (YAML), validated into [`WebConfig`].
//!
//! Same keys as every Prometheus exporter (`tls_server_config`,
//! `http_server_config`, `basic_auth_users`), plus an `nsprobe` section for
//! what exporter-toolkit has no key for (public status page, connection
//! limits). Every error names the file and the key, and says what to write.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// A web config problem: the file, the key (dotted path) and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct WebConfigError {
    /// The web config file.
    pub file: PathBuf,
    /// Dotted path of the offending key (`tls_server_config.min_version`), or
    /// `line L column C` for a YAML syntax error.
    pub key: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// The validated web config. [`WebConfig::default`] is a plain-HTTP listener
/// without authentication and with the default limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebConfig {
    /// TLS settings; `None` serves plain HTTP.
    pub tls: Option<TlsSettings>,
    /// Basic-auth users → bcrypt hashes; empty means no authentication.
    pub users: BTreeMap<String, String>,
    /// Extra response headers (`http_server_config.headers`).
    pub headers: Vec<(String, String)>,
    /// nsprobe's own settings.
    pub nsprobe: NsprobeWeb,
}

/// How the server asks for and checks client certificates (`client_auth_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// `NoClientCert` (the default without `client_ca_file`).
    #[default]
    None,
    /// `VerifyClientCertIfGiven`: a certificate is optional but must chain to the CA.
    VerifyIfGiven,
    /// `RequireAndVerifyClientCert`: mutual TLS (the default with `client_ca_file`).
    RequireAndVerify,
}

/// Lowest or highest TLS version (`min_version`, `max_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// `TLS12`.
    Tls12,
    /// `TLS13`.
    Tls13,
}

/// PEM material: a file, or inline text in the web config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pem {
    /// Read from this file (relative paths are relative to the web config file).
    File(PathBuf),
    /// Inline PEM text.
    Inline(String),
}

/// `tls_server_config`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsSettings {
    /// Server certificate chain.
    pub cert: Pem,
    /// Server private key.
    pub key: Pem,
    /// CA bundle client certificates must chain to.
    pub client_ca: Option<Pem>,
    /// Client certificate policy.
    pub client_auth: ClientAuth,
    /// Lowest version offered (default TLS 1.2).
    pub min_version: TlsVersion,
    /// Highest version offered (default TLS 1.3).
    pub max_version: TlsVersion,
}

/// The `nsprobe:` section: settings exporter-toolkit has no key for.
#[derive(Debug, Clone, PartialEq)]
pub struct NsprobeWeb {
    /// Serve the status page, badges, `/healthz` and `/readyz` without
    /// authentication; `/metrics` and the JSON APIs still need it.
    pub public_status_page: bool,
    /// Most simultaneous connections; beyond it the oldest connection that has
    /// not sent a request yet is closed, or the new one is refused with 503.
    pub max_connections: usize,
    /// A client must send its complete request head within this time
    /// (slowloris); also bounds the TLS handshake and keep-alive idle time.
    pub header_read_timeout: Duration,
    /// Largest request head (request line + headers) answered; larger gets 431.
    pub max_header_bytes: usize,
}

impl Default for NsprobeWeb {
    fn default() -> Self {
        NsprobeWeb {
            public_status_page: false,
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
        }
    }
}

/// Response headers exporter-toolkit allows in `http_server_config.headers`.
const ALLOWED_HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWeb {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttpServer>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    nsprobe: Option<RawNsprobe>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_ca: Option<String>,
    client_allowed_sans: Option<serde_yaml_ng::Value>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<serde_yaml_ng::Value>,
    curve_preferences: Option<serde_yaml_ng::Value>,
    prefer_server_cipher_suites: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpServer {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNsprobe {
    public_status_page: Option<bool>,
    max_connections: Option<usize>,
    header_read_timeout: Option<String>,
    max_header_bytes: Option<usize>,
}

/// Reads and validates a web config file (certificate files are read later,
/// by [`super::tls`], which reports errors against the same keys).
pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| WebConfigError {
        file: path.to_path_buf(),
        key: "(file)".into(),
        message: format!("cannot read the web config file: {e}"),
    })?;
    parse(&text, path)
}

/// Parses and validates web config text; `source` names it in errors and is
/// the base for relative file paths.
pub fn parse(text: &str, source: &Path) -> Result<WebConfig, WebConfigError> {
    let err = |key: &str, message: String| WebConfigError {
        file: source.to_path_buf(),
        key: key.to_string(),
        message,
    };
    // An empty file (or only comments) is a valid, empty config, as in exporter-toolkit.
    let raw: RawWeb = if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        RawWeb::default()
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| {
            let key = e
                .location()
                .map(|l| format!("line {} column {}", l.line(), l.column()))
                .unwrap_or_else(|| "(document)".into());
            err(
                &key,
                format!(
                    "{e} (known top-level keys: tls_server_config, http_server_config, \
                     basic_auth_users, nsprobe)"
                ),
            )
        })?
    };
    let base = source.parent().unwrap_or(Path::new("."));
    let tls = match raw.tls_server_config {
        Some(t) => Some(tls_settings(t, base, &err)?),
        None => None,
    };
    let mut users = BTreeMap::new();
    for (user, hash) in raw.basic_auth_users.unwrap_or_default() {
        let key = format!("basic_auth_users.{user}");
        if user.is_empty() || user.contains(':') {
            return Err(err(
                &key,
                "a user name must be non-empty and must not contain ':'".into(),
            ));
        }
        if hash.parse::<bcrypt::HashParts>().is_err() {
            return Err(err(
                &key,
                "not a bcrypt hash: write the output of `htpasswd -nbBC 10 \"\" PASSWORD | tr -d ':\\n'` \
                 (starts with $2y$, $2b$ or $2a$)"
                    .into(),
            ));
        }
        users.insert(user, hash);
    }
    let mut headers = Vec::new();
    if let Some(h) = raw.http_server_config {
        // HTTP/2 is never offered (nsprobe serves HTTP/1.1), so both values are accepted.
        let _ = h.http2;
        for (name, value) in h.headers.unwrap_or_default() {
            let key = format!("http_server_config.headers.{name}");
            let Some(canonical) = ALLOWED_HEADERS
                .iter()
                .find(|a| a.eq_ignore_ascii_case(&name))
            else {
                return Err(err(
                    &key,
                    format!(
                        "header not allowed; use one of {}",
                        ALLOWED_HEADERS.join(", ")
                    ),
                ));
            };
            if axum::http::HeaderValue::from_str(&value).is_err() {
                return Err(err(&key, "value is not a valid HTTP header value".into()));
            }
            headers.push((canonical.to_string(), value));
        }
    }
    let nsprobe = match raw.nsprobe {
        None => NsprobeWeb::default(),
        Some(n) => nsprobe_settings(n, &err)?,
    };
    Ok(WebConfig {
        tls,
        users,
        headers,
        nsprobe,
    })
}

fn nsprobe_settings(
    raw: RawNsprobe,
    err: &impl Fn(&str, String) -> WebConfigError,
) -> Result<NsprobeWeb, WebConfigError> {
    let d = NsprobeWeb::default();
    let max_connections = raw.max_connections.unwrap_or(d.max_connections);
    if max_connections == 0 {
        return Err(err(
            "nsprobe.max_connections",
            "must be at least 1 (default 4096)".into(),
        ));
    }
    let header_read_timeout = match raw.header_read_timeout {
        None => d.header_read_timeout,
        Some(s) => {
            let t = humantime::parse_duration(&s).map_err(|e| {
                err(
                    "nsprobe.header_read_timeout",
                    format!("{e}: write a duration like \"10s\""),
                )
            })?;
            if t < Duration::from_millis(100) || t > Duration::from_secs(300) {
                return Err(err(
                    "nsprobe.header_read_timeout",
                    "must be between 100ms and 5m (default \"10s\")".into(),
                ));
            }
            t
        }
    };
    let max_header_bytes = raw.max_header_bytes.unwrap_or(d.max_header_bytes);
    if !(1024..=1024 * 1024).contains(&max_header_bytes) {
        return Err(err(
            "nsprobe.max_header_bytes",
            "must be between 1024 and 1048576 (default 16384)".into(),
        ));
    }
    Ok(NsprobeWeb {
        public_status_page: raw.public_status_page.unwrap_or(false),
        max_connections,
        header_read_timeout,
        max_header_bytes,
    })
}

fn tls_settings(
    raw: RawTls,
    base: &Path,
    err: &impl Fn(&str, String) -> WebConfigError,
) -> Result<TlsSettings, WebConfigError> {
    const K: &str = "tls_server_config";
    let unsupported = |key: &str, what: &str| {
        err(
            &format!("{K}.{key}"),
            format!("not supported by nsprobe ({what}); remove the key"),
        )
    };
    if raw.cipher_suites.is_some() {
        return Err(unsupported(
            "cipher_suites",
            "rustls offers only modern AEAD suites",
        ));
    }
    if raw.curve_preferences.is_some() {
        return Err(unsupported(
            "curve_preferences",
            "rustls picks X25519 or P-256/P-384",
        ));
    }
    if raw.client_allowed_sans.is_some() {
        return Err(unsupported(
            "client_allowed_sans",
            "restrict clients by the CA in client_ca_file instead",
        ));
    }
    let _ = raw.prefer_server_cipher_suites; // rustls always prefers the server's order
    let pem =
        |file: Option<String>, inline: Option<String>, name: &str, what: &str| match (file, inline)
        {
            (Some(_), Some(_)) => Err(err(
                &format!("{K}.{name}_file"),
                format!("set either {name}_file or {name}, not both"),
            )),
            (Some(f), None) if f.is_empty() => Err(err(
                &format!("{K}.{name}_file"),
                format!("empty path: write the path of the {what} (PEM)"),
            )),
            (Some(f), None) => Ok(Some(Pem::File(base.join(f)))),
            (None, Some(t)) => Ok(Some(Pem::Inline(t))),
            (None, None) => Ok(None),
        };
    let cert = pem(raw.cert_file, raw.cert, "cert", "certificate chain")?;
    let key = pem(raw.key_file, raw.key, "key", "private key")?;
    let client_ca = pem(raw.client_ca_file, raw.client_ca, "client_ca", "client CA")?;
    let (cert, key) = match (cert, key) {
        (Some(c), Some(k)) => (c, k),
        (None, _) => {
            return Err(err(
                &format!("{K}.cert_file"),
                "missing: TLS needs cert_file (PEM certificate chain) and key_file".into(),
            ))
        }
        (_, None) => {
            return Err(err(
                &format!("{K}.key_file"),
                "missing: TLS needs key_file (PEM private key) and cert_file".into(),
            ))
        }
    };
    let client_auth = match raw.client_auth_type.as_deref() {
        None | Some("") if client_ca.is_some() => ClientAuth::RequireAndVerify,
        None | Some("") | Some("NoClientCert") => ClientAuth::None,
        Some("VerifyClientCertIfGiven") => ClientAuth::VerifyIfGiven,
        Some("RequireAndVerifyClientCert") => ClientAuth::RequireAndVerify,
        Some(t @ ("RequestClientCert" | "RequireAnyClientCert")) => {
            return Err(err(
                &format!("{K}.client_auth_type"),
                format!(
                    "{t} (client certificates without verification) is not supported; \
                     use VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                ),
            ))
        }
        Some(other) => {
            return Err(err(
                &format!("{K}.client_auth_type"),
                format!(
                    "unknown value {other:?}; write NoClientCert, VerifyClientCertIfGiven \
                     or RequireAndVerifyClientCert"
                ),
            ))
        }
    };
    if client_auth != ClientAuth::None && client_ca.is_none() {
        return Err(err(
            &format!("{K}.client_ca_file"),
            "missing: client_auth_type verifies client certificates, so write the CA bundle \
             they must chain to"
                .into(),
        ));
    }
    let version = |v: Option<String>, key: &str, default: TlsVersion| match v.as_deref() {
        None | Some("") => Ok(default),
        Some("TLS12") => Ok(TlsVersion::Tls12),
        Some("TLS13") => Ok(TlsVersion::Tls13),
        Some(t @ ("TLS10" | "TLS11")) => Err(err(
            &format!("{K}.{key}"),
            format!("{t} is not supported (rustls speaks TLS 1.2 and 1.3); write TLS12 or TLS13"),
        )),
        Some(other) => Err(err(
            &format!("{K}.{key}"),
            format!("unknown TLS version {other:?}; write TLS12 or TLS13"),
        )),
    };
    let min_version = version(raw.min_version, "min_version", TlsVersion::Tls12)?;
    let max_version = version(raw.max_version, "max_version", TlsVersion::Tls13)?;
    if min_version > max_version {
        return Err(err(
            &format!("{K}.max_version"),
            "lower than min_version".into(),
        ));
    }
    Ok(TlsSettings {
        cert,
        key,
        client_ca,
        client_auth,
        min_version,
        max_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> WebConfig {
        parse(text, Path::new("/etc/nsprobe/web.yml")).unwrap()
    }

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("/etc/nsprobe/web.yml"))
            .unwrap_err()
            .to_string()
    }

    const HASH: &str = "$2y$10$zLiRqFGzB9JuARNc2Vps5OUWkOsKQGnhlvOdP06WVN0c.bK6HcH5u";

    #[test]
    fn empty_file_is_plain_http_without_auth() {
        assert_eq!(parse_ok(""), WebConfig::default());
        assert_eq!(parse_ok("# nothing yet\n"), WebConfig::default());
    }

    #[test]
    fn full_exporter_toolkit_file() {
        let c = parse_ok(&format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: /abs/server.key\n  \
             client_ca_file: ca.crt\n  min_version: TLS13\n  prefer_server_cipher_suites: true\n\
             http_server_config:\n  http2: false\n  headers:\n    x-frame-options: deny\n\
             basic_auth_users:\n  prometheus: '{HASH}'\n\
             nsprobe:\n  public_status_page: true\n  max_connections: 100\n  \
             header_read_timeout: 3s\n  max_header_bytes: 4096\n"
        ));
        let tls = c.tls.unwrap();
        assert_eq!(tls.cert, Pem::File("/etc/nsprobe/server.crt".into()));
        assert_eq!(tls.key, Pem::File("/abs/server.key".into()));
        assert_eq!(tls.client_ca, Some(Pem::File("/etc/nsprobe/ca.crt".into())));
        assert_eq!(tls.client_auth, ClientAuth::RequireAndVerify);
        assert_eq!(tls.min_version, TlsVersion::Tls13);
        assert_eq!(c.users.get("prometheus").map(String::as_str), Some(HASH));
        assert_eq!(
            c.headers,
            vec![("X-Frame-Options".to_string(), "deny".to_string())]
        );
        assert!(c.nsprobe.public_status_page);
        assert_eq!(c.nsprobe.max_connections, 100);
        assert_eq!(c.nsprobe.header_read_timeout, Duration::from_secs(3));
        assert_eq!(c.nsprobe.max_header_bytes, 4096);
    }

    #[test]
    fn bad_files_name_the_key() {
        let cases: &[(&str, &str)] = &[
            ("tls_server_config:\n  cert_file: a\n", "tls_server_config.key_file: missing"),
            ("tls_server_config:\n  key_file: a\n", "tls_server_config.cert_file: missing"),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n",
                "tls_server_config.min_version: TLS10 is not supported",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n",
                "tls_server_config.max_version: lower than min_version",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
                "tls_server_config.client_ca_file: missing",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Sometimes\n",
                "tls_server_config.client_auth_type: unknown value \"Sometimes\"",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
                "tls_server_config.cipher_suites: not supported",
            ),
            ("basic_auth_users:\n  alice: hunter2\n", "basic_auth_users.alice: not a bcrypt hash"),
            (
                "http_server_config:\n  headers:\n    Server: nsprobe\n",
                "http_server_config.headers.Server: header not allowed",
            ),
            ("nsprobe:\n  max_connections: 0\n", "nsprobe.max_connections: must be at least 1"),
            (
                "nsprobe:\n  header_read_timeout: soon\n",
                "nsprobe.header_read_timeout: ",
            ),
            ("nsprobe:\n  max_header_bytes: 10\n", "nsprobe.max_header_bytes: must be between"),
            ("tls_config:\n  cert_file: a\n", "line 1 column 1: unknown field `tls_config`"),
            (
                "tls_server_config:\n  cert_fle: a\n",
                "line 2 column 3: tls_server_config: unknown field `cert_fle`",
            ),
            ("basic_auth_users: [a, b]\n", "line 1 column 19"),
        ];
        for (text, want) in cases {
            let got = parse_err(text);
            assert!(
                got.starts_with("/etc/nsprobe/web.yml: ") && got.contains(want),
                "for {text:?}\n got: {got}\nwant: {want}"
            );
        }
    }

    #[test]
    fn inline_pem_and_optional_client_certs() {
        let c = parse_ok(
            "tls_server_config:\n  cert: |\n    -----BEGIN CERTIFICATE-----\n  key: k\n  \
             client_ca: c\n  client_auth_type: VerifyClientCertIfGiven\n",
        );
        let tls = c.tls.unwrap();
        assert!(matches!(tls.cert, Pem::Inline(ref t) if t.starts_with("-----BEGIN")));
        assert_eq!(tls.client_auth, ClientAuth::VerifyIfGiven);
        assert_eq!(tls.min_version, TlsVersion::Tls12);
        assert_eq!(tls.max_version, TlsVersion::Tls13);
    }
}
