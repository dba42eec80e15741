//! Raw → validated for `[[group]]`, `[[group.component]]` and `[[group.component.check]]`.
//!
//! Every error names the group, the component and the check (`group "Registry": component
//! "EPP": check #1 (epp): `), the key, and what to write.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::error::ConfigError;
use super::groups::*;
use super::raw::*;
use super::types::ZoneConfig;
use super::validate::Cx;
use super::values::is_host_name;
use crate::probe::{
    epp::EppSpec,
    http::{HttpSpec, StatusSet},
    tcp::TcpSpec,
    tls::{server_name, TlsSpec},
    whois::WhoisSpec,
    CheckSpec, Pattern, TlsClient, TlsOptions,
};

/// The kinds a `[[group.component.check]]` takes, as written in `kind = "..."`.
const KINDS: &str = "\"tcp\", \"tls\", \"http\", \"whois\" or \"epp\"";

/// A placeholder address for templates; every target gets its own.
const UNSPECIFIED: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

impl Cx<'_> {
    pub(super) fn groups(
        &self,
        raw: &[RawGroup],
        zones: &[ZoneConfig],
    ) -> Result<Vec<GroupConfig>, ConfigError> {
        let mut out: Vec<GroupConfig> = Vec::with_capacity(raw.len());
        for rg in raw {
            let name = self.label(&rg.name, "group: ", "name", "\"Registry services\"")?;
            let ctx = format!("group {name:?}: ");
            if out.iter().any(|g| g.name.eq_ignore_ascii_case(&name))
                || zones
                    .iter()
                    .any(|z| z.component.eq_ignore_ascii_case(&name))
            {
                return Err(self.at(&rg.name, format!("{ctx}name: another group (or a zone's component) is already called {name:?}; give each group a distinct name")));
            }
            let partial_outage_share = self.share(
                &ctx,
                "partial_outage_share",
                &rg.partial_outage_share,
                0.5,
                false,
                "0.5",
            )?;
            if rg.component.is_empty() {
                return Err(self.at(&rg.name, format!("{ctx}no components; add at least one [[group.component]] table with a name and a [[group.component.check]]")));
            }
            let mut components: Vec<ComponentConfig> = Vec::with_capacity(rg.component.len());
            for rc in &rg.component {
                let c = self.component(&ctx, rc)?;
                if components
                    .iter()
                    .any(|o| o.name.eq_ignore_ascii_case(&c.name))
                {
                    return Err(self.at(&rc.name, format!("{ctx}component {:?} is listed twice; remove one or give them distinct names", c.name)));
                }
                components.push(c);
            }
            out.push(GroupConfig {
                name,
                partial_outage_share,
                components,
            });
        }
        Ok(out)
    }

    /// A non-empty name without `/` (which separates group and component in maintenance windows).
    fn label(
        &self,
        v: &S<String>,
        ctx: &str,
        key: &str,
        example: &str,
    ) -> Result<String, ConfigError> {
        let name = v.get_ref().trim().to_string();
        if name.is_empty() {
            return Err(self.at(
                v,
                format!("{ctx}{key} must not be empty; give a name like {example}"),
            ));
        }
        if name.contains('/') {
            return Err(self.at(v, format!("{ctx}{key} {name:?} contains `/`, which separates group and component in maintenance windows; use another character")));
        }
        Ok(name)
    }

    fn component(&self, gctx: &str, raw: &RawComponent) -> Result<ComponentConfig, ConfigError> {
        let name = self.label(&raw.name, gctx, "component name", "\"EPP\"")?;
        let ctx = format!("{gctx}component {name:?}: ");
        let c = ctx.as_str();
        let d = ServiceThresholds::default();
        let positive =
            |key: &str, v: &Option<S<u32>>, default: u32| self.positive(c, key, v, default);
        let loss_after = self.share(c, "loss_after", &raw.loss_after, d.loss_after, true, "0.2")?;
        let thresholds = ServiceThresholds {
            fail_after: positive("fail_after", &raw.fail_after, d.fail_after)?,
            recover_after: positive("recover_after", &raw.recover_after, d.recover_after)?,
            slow_after: self.duration(c, "slow_after", &raw.slow_after, d.slow_after, false)?,
            loss_after,
            stats_window: self.duration(
                c,
                "stats_window",
                &raw.stats_window,
                d.stats_window,
                false,
            )?,
            min_samples: positive("min_samples", &raw.min_samples, d.min_samples)?,
            confirm_after: self.duration(
                c,
                "confirm_after",
                &raw.confirm_after,
                d.confirm_after,
                true,
            )?,
            clear_after: self.duration(c, "clear_after", &raw.clear_after, d.clear_after, true)?,
            cert_warn_before: self.duration(
                c,
                "cert_warn_before",
                &raw.cert_warn_before,
                d.cert_warn_before,
                true,
            )?,
        };
        let interval =
            self.duration(c, "interval", &raw.interval, DEFAULT_CHECK_INTERVAL, false)?;
        let timeout = self.duration(c, "timeout", &raw.timeout, DEFAULT_CHECK_TIMEOUT, false)?;
        if raw.check.is_empty() {
            return Err(self.at(
                &raw.name,
                format!(
                    "{c}no checks; add at least one [[group.component.check]] with kind = {KINDS}"
                ),
            ));
        }
        let mut checks = Vec::with_capacity(raw.check.len());
        for (i, rc) in raw.check.iter().enumerate() {
            checks.push(self.check(c, i + 1, rc, interval, timeout)?);
        }
        Ok(ComponentConfig {
            name,
            thresholds,
            checks,
        })
    }

    fn check(
        &self,
        cctx: &str,
        index: usize,
        raw: &RawCheck,
        interval: Duration,
        timeout: Duration,
    ) -> Result<CheckConfig, ConfigError> {
        let kind = raw.kind.get_ref().trim().to_ascii_lowercase();
        let ctx = format!("{cctx}check #{index} ({kind}): ");
        let c = ctx.as_str();
        let allowed: &[&str] = match kind.as_str() {
            "tcp" => &[
                "host",
                "port",
                "address",
                "addresses",
                "send",
                "expect",
                "max_read",
            ],
            "tls" => &[
                "host",
                "port",
                "address",
                "addresses",
                "server_name",
                "ca_file",
                "insecure_skip_verify",
                "client_cert",
                "client_key",
            ],
            "http" => &[
                "url",
                "address",
                "expect_status",
                "body",
                "max_redirects",
                "max_body",
                "ca_file",
                "insecure_skip_verify",
                "client_cert",
                "client_key",
            ],
            "whois" => &[
                "host",
                "port",
                "address",
                "addresses",
                "query",
                "expect",
                "max_read",
            ],
            "epp" => &[
                "host",
                "port",
                "address",
                "addresses",
                "server_name",
                "ca_file",
                "insecure_skip_verify",
                "client_cert",
                "client_key",
                "max_frame",
            ],
            "dns_soa" => {
                return Err(self.at(&raw.kind, format!("{cctx}check #{index}: kind \"dns_soa\" is configured through [[zone]] and [[zone.nameservers]], not as a component check")));
            }
            _ => {
                return Err(self.at(
                    &raw.kind,
                    format!(
                        "{cctx}check #{index}: unknown kind {:?}; write kind = {KINDS}",
                        raw.kind.get_ref()
                    ),
                ));
            }
        };
        self.reject_foreign_keys(c, &kind, raw, allowed)?;

        let interval = self.duration(c, "interval", &raw.interval, interval, false)?;
        let timeout = self.duration(c, "timeout", &raw.timeout, timeout, false)?;
        if timeout >= interval {
            let span = raw
                .timeout
                .as_ref()
                .or(raw.interval.as_ref())
                .map_or(raw.kind.span(), |v| v.span());
            return Err(self.err(Some(span), format!(
                "{c}timeout ({}) must be shorter than interval ({}); lower timeout or raise interval",
                humantime::format_duration(timeout),
                humantime::format_duration(interval)
            )));
        }
        let pattern = |key: &str, v: &Option<S<String>>| -> Result<Option<Pattern>, ConfigError> {
            v.as_ref()
                .map(|p| {
                    Pattern::new(p.get_ref()).map_err(|e| {
                        self.at(p, format!("{c}{key}: not a valid regular expression ({e}); write Rust regex syntax, e.g. '(?m)^Domain:'"))
                    })
                })
                .transpose()
        };
        let size = |key: &str, v: &Option<S<u32>>, default: usize| match v {
            None => Ok(default),
            Some(s) if *s.get_ref() == 0 => {
                Err(self.at(s, format!("{c}{key} must be at least 1 (bytes)")))
            }
            Some(s) => Ok(*s.get_ref() as usize),
        };

        let (endpoint, template) = if kind == "http" {
            let Some(url) = &raw.url else {
                return Err(self.at(
                    &raw.kind,
                    format!("{c}url is missing; add url = \"https://www.example.dk/\""),
                ));
            };
            let tls = self.tls_client(c, raw)?;
            let mut spec = HttpSpec::new(url.get_ref().trim(), tls)
                .map_err(|e| self.at(url, format!("{c}url: {e}")))?;
            if let Some(a) = &raw.address {
                spec.addr =
                    Some(self.check_address(c, "address", a, spec.url.port_or_known_default())?);
            }
            if let Some(s) = &raw.expect_status {
                spec.expect_status = s.get_ref().parse::<StatusSet>().map_err(|e| {
                    self.at(s, format!("{c}expect_status: {}; write codes, ranges and classes like \"200-299\" or \"200,301-302,4xx\"", e.0))
                })?;
            }
            spec.body = pattern("body", &raw.body)?;
            if let Some(r) = &raw.max_redirects {
                spec.max_redirects = *r.get_ref() as usize;
            }
            spec.max_body = size("max_body", &raw.max_body, spec.max_body)?;
            (Endpoint::Url, CheckSpec::Http(spec))
        } else {
            let default_port = match kind.as_str() {
                "tls" => Some(443),
                "whois" => Some(43),
                "epp" => Some(700),
                _ => None,
            };
            let endpoint = self.endpoint(c, raw, default_port)?;
            let host = match &endpoint {
                Endpoint::Host { name, .. } => Some(name.clone()),
                _ => None,
            };
            let template = match kind.as_str() {
                "tcp" => {
                    let mut s = TcpSpec::connect(UNSPECIFIED);
                    s.send = raw.send.as_ref().map(|v| v.get_ref().as_bytes().to_vec());
                    s.expect = pattern("expect", &raw.expect)?;
                    s.max_read = size("max_read", &raw.max_read, s.max_read)?;
                    CheckSpec::Tcp(s)
                }
                "whois" => {
                    let Some(q) = &raw.query else {
                        return Err(self.at(&raw.kind, format!("{c}query is missing; add query = \"punktum.dk\" (the line sent to the server)")));
                    };
                    if q.get_ref().trim().is_empty() || q.get_ref().contains(['\r', '\n']) {
                        return Err(self.at(q, format!("{c}query must be one non-empty line (CRLF is added), like \"punktum.dk\"")));
                    }
                    let mut s = WhoisSpec::new(UNSPECIFIED, q.get_ref().trim());
                    s.expect = pattern("expect", &raw.expect)?;
                    s.max_read = size("max_read", &raw.max_read, s.max_read)?;
                    CheckSpec::Whois(s)
                }
                _ => {
                    // tls and epp: SNI and verification name from server_name, else the host.
                    let sni = match (&raw.server_name, &host) {
                        (Some(v), _) => v.get_ref().trim().to_string(),
                        (None, Some(h)) => h.clone(),
                        (None, None) => match &endpoint {
                            Endpoint::Addresses(a) => a[0].ip().to_string(),
                            _ => String::new(),
                        },
                    };
                    let name = server_name(&sni).map_err(|e| {
                        let span = raw.server_name.as_ref().map_or(raw.kind.span(), |v| v.span());
                        self.err(Some(span), format!("{c}server_name {sni:?}: {e}; write a host name like \"epp.example.dk\""))
                    })?;
                    let tls = self.tls_client(c, raw)?;
                    if kind == "tls" {
                        CheckSpec::Tls(TlsSpec {
                            addr: UNSPECIFIED,
                            server_name: name,
                            tls,
                        })
                    } else {
                        let mut s = EppSpec::new(UNSPECIFIED, name, tls);
                        s.max_frame = size("max_frame", &raw.max_frame, s.max_frame)?;
                        CheckSpec::Epp(s)
                    }
                }
            };
            (endpoint, template)
        };
        Ok(CheckConfig {
            interval,
            timeout,
            endpoint,
            template,
        })
    }

    /// Keys set in `raw` that `kind` does not take are errors naming the keys it does take.
    fn reject_foreign_keys(
        &self,
        c: &str,
        kind: &str,
        raw: &RawCheck,
        allowed: &[&str],
    ) -> Result<(), ConfigError> {
        let set: [(&str, Option<std::ops::Range<usize>>); 19] = [
            ("host", raw.host.as_ref().map(|v| v.span())),
            ("port", raw.port.as_ref().map(|v| v.span())),
            ("address", raw.address.as_ref().map(|v| v.span())),
            ("addresses", raw.addresses.as_ref().map(|v| v.span())),
            ("url", raw.url.as_ref().map(|v| v.span())),
            ("send", raw.send.as_ref().map(|v| v.span())),
            ("expect", raw.expect.as_ref().map(|v| v.span())),
            ("query", raw.query.as_ref().map(|v| v.span())),
            ("max_read", raw.max_read.as_ref().map(|v| v.span())),
            ("server_name", raw.server_name.as_ref().map(|v| v.span())),
            ("ca_file", raw.ca_file.as_ref().map(|v| v.span())),
            (
                "insecure_skip_verify",
                raw.insecure_skip_verify.as_ref().map(|v| v.span()),
            ),
            ("client_cert", raw.client_cert.as_ref().map(|v| v.span())),
            ("client_key", raw.client_key.as_ref().map(|v| v.span())),
            (
                "expect_status",
                raw.expect_status.as_ref().map(|v| v.span()),
            ),
            ("body", raw.body.as_ref().map(|v| v.span())),
            (
                "max_redirects",
                raw.max_redirects.as_ref().map(|v| v.span()),
            ),
            ("max_body", raw.max_body.as_ref().map(|v| v.span())),
            ("max_frame", raw.max_frame.as_ref().map(|v| v.span())),
        ];
        for (key, at) in set {
            if let Some(at) = at {
                if !allowed.contains(&key) {
                    return Err(self.err(Some(at), format!("{c}key `{key}` does not apply to kind \"{kind}\" (keys here: kind, interval, timeout, {}; see README.md, section Check kinds)", allowed.join(", "))));
                }
            }
        }
        Ok(())
    }

    /// `host` (+ `port`), `address` or `addresses`: exactly one of them.
    fn endpoint(
        &self,
        c: &str,
        raw: &RawCheck,
        default_port: Option<u16>,
    ) -> Result<Endpoint, ConfigError> {
        let port = raw.port.as_ref().map(|p| *p.get_ref()).or(default_port);
        if let Some(p) = &raw.port {
            if *p.get_ref() == 0 {
                return Err(self.at(p, format!("{c}port must be 1-65535")));
            }
        }
        let given = [
            raw.host.is_some(),
            raw.address.is_some(),
            raw.addresses.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given != 1 {
            return Err(self.at(&raw.kind, format!("{c}say where to connect with exactly one of host = \"whois.example.dk\" (resolved, A and AAAA), address = \"192.0.2.7\" or addresses = [\"192.0.2.7\", \"2001:db8::7\"]")));
        }
        if let Some(h) = &raw.host {
            let name = h.get_ref().trim().trim_end_matches('.').to_string();
            if !is_host_name(&name) {
                return Err(self.at(h, format!("{c}host {:?} is not a host name; write one like \"whois.example.dk\", or use address = \"192.0.2.7\" for an IP address", h.get_ref())));
            }
            let Some(port) = port else {
                return Err(self.at(h, format!("{c}port is missing; add port = 4343")));
            };
            return Ok(Endpoint::Host { name, port });
        }
        let list: Vec<&S<String>> = match (&raw.address, &raw.addresses) {
            (Some(a), _) => vec![a],
            (_, Some(l)) => l.get_ref().iter().collect(),
            _ => Vec::new(),
        };
        if list.is_empty() {
            let at = raw.addresses.as_ref().map_or(raw.kind.span(), |v| v.span());
            return Err(self.err(
                Some(at),
                format!("{c}addresses must not be empty; list at least one like [\"192.0.2.7\"]"),
            ));
        }
        let mut out: Vec<SocketAddr> = Vec::with_capacity(list.len());
        for v in list {
            let key = if raw.address.is_some() {
                "address"
            } else {
                "addresses"
            };
            let a = self.check_address(c, key, v, port)?;
            if out.contains(&a) {
                return Err(self.at(v, format!("{c}{key}: {a} is listed twice; remove one")));
            }
            out.push(a);
        }
        Ok(Endpoint::Addresses(out))
    }

    /// `ip:port`, `[v6]:port`, or a bare IP taking `port`.
    fn check_address(
        &self,
        c: &str,
        key: &str,
        v: &S<String>,
        port: Option<u16>,
    ) -> Result<SocketAddr, ConfigError> {
        let s = v.get_ref().trim();
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(a);
        }
        let bare = s
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .unwrap_or(s);
        match (bare.parse::<IpAddr>(), port) {
            (Ok(ip), Some(p)) => Ok(SocketAddr::new(ip, p)),
            (Ok(_), None) => Err(self.at(v, format!("{c}{key}: {s:?} has no port; add port = 4343 or write \"{s}:4343\""))),
            (Err(_), _) => Err(self.at(v, format!("{c}{key}: invalid address {s:?}; write an IP address, optionally with a port: \"192.0.2.7\", \"192.0.2.7:43\", \"[2001:db8::7]:700\" (for a name use host = \"...\")"))),
        }
    }

    /// The TLS client of a check (`ca_file`, `insecure_skip_verify`, `client_cert`, `client_key`);
    /// relative paths are relative to the config file's directory.
    fn tls_client(&self, c: &str, raw: &RawCheck) -> Result<TlsClient, ConfigError> {
        let base = self.path.parent().map(PathBuf::from).unwrap_or_default();
        let file = |v: &Option<S<String>>| v.as_ref().map(|p| base.join(p.get_ref().trim()));
        let opts = TlsOptions {
            ca_file: file(&raw.ca_file),
            insecure_skip_verify: raw
                .insecure_skip_verify
                .as_ref()
                .is_some_and(|v| *v.get_ref()),
            client_cert: file(&raw.client_cert),
            client_key: file(&raw.client_key),
        };
        TlsClient::new(&opts).map_err(|e| {
            let at = raw
                .ca_file
                .as_ref()
                .or(raw.client_cert.as_ref())
                .or(raw.client_key.as_ref())
                .map_or(raw.kind.span(), |v| v.span());
            self.err(Some(at), format!("{c}{e}"))
        })
    }
}
