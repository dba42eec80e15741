//! The `http` check: an HTTP(S) GET (reqwest on rustls), expected status, optional
//! body pattern, bounded redirects, the server certificate for `https` URLs.
//!
//! The response time runs from before the request (DNS for unpinned hosts, connect,
//! TLS handshake included) until the last byte of the final response's body.
//! Each check uses a fresh client: no connection is reused between checks.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant as StdInstant;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::cert::{classify_tls_error, find_rustls_error, unix_now, CertFacts, Seen, TlsClient};
use super::tcp::excerpt;
use super::{fail, CheckFailure, CheckOutcome, Facts, Pattern, Reason, Rejection, Success};

pub use reqwest::Url;

/// Default bound on the body size (4 MiB).
pub const DEFAULT_MAX_BODY: usize = 4 * 1024 * 1024;
/// Default number of redirects followed.
pub const DEFAULT_MAX_REDIRECTS: usize = 5;

/// An `http` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSpec {
    /// The URL (`http` or `https`).
    pub url: Url,
    /// Connect to this address instead of resolving the URL's host (like `curl --resolve`);
    /// the `Host` header, SNI and certificate name still come from the URL. A port of 0
    /// keeps the URL's port.
    pub addr: Option<SocketAddr>,
    /// Statuses that pass (default `200-299`), checked on the final response.
    pub expect_status: StatusSet,
    /// Pattern the body must contain, if any.
    pub body: Option<Pattern>,
    /// Redirects followed at most (0: a 3xx is the final response).
    pub max_redirects: usize,
    /// Bound on the body size; a longer body is [`Reason::TooLarge`].
    pub max_body: usize,
    /// Trust anchors and verification mode for `https`.
    pub tls: TlsClient,
}

impl HttpSpec {
    /// A GET of `url` (`http` or `https` with a host) with the defaults: status 200-299,
    /// no body pattern, [`DEFAULT_MAX_REDIRECTS`], [`DEFAULT_MAX_BODY`], URL host resolved.
    pub fn new(url: &str, tls: TlsClient) -> Result<HttpSpec, UrlError> {
        let url = Url::parse(url).map_err(|e| UrlError(format!("{url:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(UrlError(format!(
                "{url}: write an http:// or https:// URL with a host"
            )));
        }
        Ok(HttpSpec {
            url,
            addr: None,
            expect_status: StatusSet::default(),
            body: None,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            max_body: DEFAULT_MAX_BODY,
            tls,
        })
    }
}

/// A URL an `http` check cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad url {0}")]
pub struct UrlError(pub String);

/// What an `http` check saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpFacts {
    /// Status code of the final response.
    pub status: u16,
    /// Redirects followed.
    pub redirects: usize,
    /// Body size in bytes.
    pub body_bytes: usize,
    /// The final URL (after redirects).
    pub final_url: String,
    /// HTTP version of the final response (e.g. `HTTP/1.1`).
    pub version: String,
    /// The certificate of the last TLS handshake (the final response's server), for `https`.
    pub cert: Option<CertFacts>,
}

/// A set of accepted status codes: ranges, written `200`, `200-299`, `2xx`, comma-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet(Vec<(u16, u16)>);

impl Default for StatusSet {
    fn default() -> StatusSet {
        StatusSet(vec![(200, 299)])
    }
}

impl StatusSet {
    /// The set of the given inclusive ranges.
    pub fn new(ranges: Vec<(u16, u16)>) -> StatusSet {
        StatusSet(ranges)
    }

    /// Whether `status` is in the set.
    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| (lo..=hi).contains(&status))
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (lo, hi)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

/// A status set that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad status {0:?}: write codes like \"200\", \"200-299\", \"2xx\", comma-separated, each 100-599")]
pub struct StatusSetError(pub String);

impl FromStr for StatusSet {
    type Err = StatusSetError;

    fn from_str(s: &str) -> Result<StatusSet, StatusSetError> {
        let bad = || StatusSetError(s.to_string());
        let code = |t: &str| -> Result<u16, StatusSetError> {
            t.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(bad)
        };
        let mut ranges = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            let range = if let Some(class) = part.strip_suffix("xx").or(part.strip_suffix("XX")) {
                let c = code(&format!("{class}00"))?;
                (c, c + 99)
            } else if let Some((lo, hi)) = part.split_once('-') {
                let (lo, hi) = (code(lo)?, code(hi)?);
                if lo > hi {
                    return Err(bad());
                }
                (lo, hi)
            } else {
                let c = code(part)?;
                (c, c)
            };
            ranges.push(range);
        }
        Ok(StatusSet(ranges))
    }
}

impl Serialize for StatusSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Deserialises from `"200-299"`-style text, a bare code (`200`), or a list of either.
impl<'de> Deserialize<'de> for StatusSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<StatusSet, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum One {
            Code(u16),
            Text(String),
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(One),
            List(Vec<One>),
        }
        let text = |o: One| match o {
            One::Code(c) => c.to_string(),
            One::Text(t) => t,
        };
        let joined = match Form::deserialize(d)? {
            Form::One(o) => text(o),
            Form::List(v) => v.into_iter().map(text).collect::<Vec<_>>().join(","),
        };
        joined.parse().map_err(serde::de::Error::custom)
    }
}

/// Verdict on a final response: the status must be in `expect`, the body must match `body`.
///
/// Pure; never panics on any input.
pub fn evaluate(
    status: u16,
    body_bytes: &[u8],
    expect: &StatusSet,
    body: Option<&Pattern>,
) -> Result<(), Rejection> {
    if !expect.contains(status) {
        return Err(Rejection::new(
            Reason::HttpStatus,
            format!("status {status}, expected {expect}"),
        ));
    }
    if let Some(p) = body {
        if !p.is_match(body_bytes) {
            return Err(Rejection::new(
                Reason::BodyMismatch,
                format!(
                    "no match for /{}/ in the {}-byte body: {}",
                    p.as_str(),
                    body_bytes.len(),
                    excerpt(body_bytes)
                ),
            ));
        }
    }
    Ok(())
}

/// The redirect policy's error when the bound is passed.
#[derive(Debug)]
struct TooManyRedirects(usize);

impl fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {} redirects", self.0)
    }
}

impl std::error::Error for TooManyRedirects {}

/// Classifies a reqwest error by walking its source chain.
fn classify(err: &reqwest::Error, seen: &Seen) -> Rejection {
    let detail = error_chain(err);
    if let Some(e) = seen.error() {
        return Rejection::new(classify_tls_error(&e), format!("certificate: {e}"));
    }
    if let Some(t) = find_rustls_error(err) {
        return Rejection::new(classify_tls_error(t), detail);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<TooManyRedirects>().is_some() {
            return Rejection::new(Reason::HttpRedirects, detail);
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_parse() || h.is_parse_status() || h.is_parse_too_large() {
                return Rejection::new(Reason::Malformed, detail);
            }
            if h.is_timeout() {
                return Rejection::new(Reason::Timeout, detail);
            }
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return Rejection::new(Reason::Timeout, detail);
            }
        }
        source = e.source();
    }
    if err.is_timeout() {
        return Rejection::new(Reason::Timeout, detail);
    }
    if err.is_redirect() {
        return Rejection::new(Reason::HttpRedirects, detail);
    }
    Rejection::new(Reason::Network, detail)
}

/// `outer: inner: innermost`, skipping repeats.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        source = e.source();
    }
    out
}

/// Runs an `http` check.
pub async fn check(spec: &HttpSpec, source: Option<IpAddr>, deadline: Instant) -> CheckOutcome {
    let (config, seen) = spec
        .tls
        .connection(&[b"http/1.1"])
        .map_err(|r| r.into_failure(None, None))?;
    let redirects = Arc::new(AtomicUsize::new(0));
    let policy = if spec.max_redirects == 0 {
        reqwest::redirect::Policy::none()
    } else {
        let max = spec.max_redirects;
        let count = redirects.clone();
        reqwest::redirect::Policy::custom(move |attempt| {
            // `previous` holds the initial URL and every redirect followed so far.
            let n = attempt.previous().len();
            if n > max {
                attempt.error(TooManyRedirects(max))
            } else {
                count.store(n, Ordering::Relaxed);
                attempt.follow()
            }
        })
    };
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .no_proxy()
        .redirect(policy)
        .pool_max_idle_per_host(0)
        .user_agent(concat!("nsprobe/", env!("CARGO_PKG_VERSION")));
    // The source address, unless the pinned address is of the other family.
    if let Some(src) = source.filter(|s| spec.addr.is_none_or(|a| a.is_ipv4() == s.is_ipv4())) {
        builder = builder.local_address(src);
    }
    if let (Some(addr), Some(host)) = (spec.addr, spec.url.host_str()) {
        builder = builder.resolve(host, addr);
    }
    let client = builder.build().map_err(|e| {
        fail(
            Reason::Malformed,
            format!("HTTP client setup: {}", error_chain(&e)),
        )
    })?;
    let left = deadline.saturating_duration_since(Instant::now());
    let start = StdInstant::now();
    let now = unix_now();
    let fetch = async {
        let mut resp = client
            .get(spec.url.clone())
            .timeout(left)
            .send()
            .await
            .map_err(|e| classify(&e, &seen).into_failure(None, seen.cert(now)))?;
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len().saturating_add(chunk.len()) > spec.max_body {
                        return Err(Rejection::new(
                            Reason::TooLarge,
                            format!("body exceeds the {}-byte bound", spec.max_body),
                        )
                        .into_failure(Some(start.elapsed()), seen.cert(now)));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(classify(&e, &seen).into_failure(None, seen.cert(now)));
                }
            }
        }
        Ok::<_, CheckFailure>((resp, body))
    };
    let (resp, body) = match tokio::time::timeout_at(deadline, fetch).await {
        Ok(r) => r?,
        Err(_) => {
            let mut f = fail(
                Reason::Timeout,
                "HTTP: no complete response before the deadline",
            );
            f.cert = seen.cert(now);
            return Err(f);
        }
    };
    let rtt = start.elapsed();
    let cert = seen.cert(now);
    let status = resp.status().as_u16();
    evaluate(status, &body, &spec.expect_status, spec.body.as_ref())
        .map_err(|r| r.into_failure(Some(rtt), cert.clone()))?;
    Ok(Success {
        rtt,
        facts: Facts::Http(HttpFacts {
            status,
            redirects: redirects.load(Ordering::Relaxed),
            body_bytes: body.len(),
            final_url: resp.url().to_string(),
            version: format!("{:?}", resp.version()),
            cert,
        }),
    })
}
