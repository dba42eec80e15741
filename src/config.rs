//! Configuration: TOML file → validated [`Config`].
//!
//! [`load`] reads a file, [`parse`] validates text. A private serde layer
//! (`Raw*`, unknown keys rejected, values wrapped in [`toml::Spanned`]) is
//! converted into the validated types below; every error names the file, the
//! line and column of the offending key or value, the key, and what to do.
//! The key reference is `README.md, section Configuration`.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use hickory_proto::rr::Name;
use serde::Deserialize;
use toml::Spanned;

use crate::probe::Transport;
use crate::UnixMs;

/// A validated nsprobe configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file this configuration was read from.
    pub source: PathBuf,
    /// HTTP server settings.
    pub http: HttpConfig,
    /// Persistent state settings.
    pub state: StateConfig,
    /// How nameserver names are resolved to addresses.
    pub resolver: ResolverSettings,
    /// The zones to watch (at least one).
    pub zones: Vec<ZoneConfig>,
    /// Declared maintenance windows.
    pub maintenance: Vec<MaintenanceWindow>,
    /// Vantage canaries (`[[canary]]`): DNS servers outside the monitored zones; when they
    /// fail together with the monitored servers, nsprobe's own network is the suspect.
    pub canaries: Vec<CanaryConfig>,
}

/// One `[[canary]]`: a DNS server outside the monitored zones, probed like a nameserver
/// (SOA query for `zone`); any DNS answer, even an error or a non-authoritative one, counts
/// as reachable.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryConfig {
    /// A label for logs and metrics (`k.root-servers.net`).
    pub name: String,
    /// Address to query (default port 53).
    pub address: SocketAddr,
    /// Zone whose SOA is asked for (default the root, `.`).
    pub zone: Name,
    /// UDP (default) or TCP.
    pub transport: Transport,
}

/// `[http]`: where the metrics/JSON API server listens.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    /// Listen address, default `127.0.0.1:9853`.
    pub listen: SocketAddr,
    /// Allow `POST /-/reload` (default false).
    pub enable_reload: bool,
    /// Per-request timeout (default 10s).
    pub request_timeout: Duration,
}

/// `[state]`: what must survive a restart.
#[derive(Debug, Clone, PartialEq)]
pub struct StateConfig {
    /// State file path (default `nsprobe-state.json`), relative paths resolved against the working directory.
    pub path: PathBuf,
    /// How often state is saved (default 60s); it is also saved on shutdown.
    pub save_interval: Duration,
}

/// `[resolver]`: resolution of nameserver names (hickory-resolver).
#[derive(Debug, Clone, PartialEq)]
pub struct ResolverSettings {
    /// Recursive resolvers to use; empty = the system's `/etc/resolv.conf`.
    pub servers: Vec<SocketAddr>,
    /// How often names are re-resolved (default 5m).
    pub refresh: Duration,
    /// Timeout per resolution attempt (default 5s).
    pub timeout: Duration,
}

/// One `[[zone]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneConfig {
    /// Zone name, fully qualified (`dk.`).
    pub name: Name,
    /// Status-page group component name (`DNS (.dk)`), default `DNS (<zone>)`.
    pub component: String,
    /// Probe interval per target.
    pub interval: Duration,
    /// Timeout per probe; always shorter than `interval`.
    pub timeout: Duration,
    /// Transports to probe each address over (non-empty, no duplicates).
    pub transports: Vec<Transport>,
    /// Request the SOA's RRSIG (EDNS DO bit), default false.
    pub dnssec: bool,
    /// Request NSID, default true.
    pub nsid: bool,
    /// Thresholds turning state into statuses.
    pub thresholds: Thresholds,
    /// The zone's nameservers (non-empty, unique names).
    pub nameservers: Vec<NameserverConfig>,
}

/// Per-zone thresholds for staleness, outages and degradation.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Newest serial older than this = stalled publication (`stale_after`).
    pub stale_after: Duration,
    /// Adaptive staleness: flag stale when the current gap exceeds this multiple of the learned
    /// normal publication gap (`stale_factor`); None = off.
    pub stale_factor: Option<f64>,
    /// Serial changes observed before the learned cadence is trusted (`stale_min_samples`, default 5).
    pub stale_min_samples: u32,
    /// Consecutive failures before a target counts as down (`fail_after`, default 3).
    pub fail_after: u32,
    /// Consecutive successes before a down target counts as up again (`recover_after`, default 2).
    pub recover_after: u32,
    /// Median response time over the recent window above this = degraded (`slow_after`, default 500ms).
    pub slow_after: Duration,
    /// Number of recent probes per target in the slow/loss window (`window`, default 10).
    pub window: u32,
    /// Share of failed probes in the window at or above which a server is degraded (`loss_after`, default 0.2).
    pub loss_after: f64,
    /// A server behind the zone's newest serial for longer than this = degraded (`lag_after`, default 5m).
    pub lag_after: Duration,
    /// Share of servers out above which the zone is a partial outage (`partial_outage_share`, default 0.5).
    pub partial_outage_share: f64,
    /// RRSIG on the SOA expiring within this = degraded (`rrsig_warn_before`, default 2d).
    pub rrsig_warn_before: Duration,
    /// Span of the per-server evidence window that loss and slowness are judged over
    /// (`stats_window`, default 5m).
    pub stats_window: Duration,
    /// Successes needed in the evidence window before slowness is judged (`min_samples`, default 20).
    pub min_samples: u32,
    /// A worse status is published only after it has held this long (`confirm_after`, default 30s).
    pub confirm_after: Duration,
    /// A better status is published only after it has held this long (`clear_after`, default 2m).
    pub clear_after: Duration,
    /// Every responding server older than the zone's newest serial for this long = the zone
    /// rolled back; it re-baselines to the newest serial served (`rollback_after`, default 2m).
    pub rollback_after: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            stale_after: Duration::from_secs(30 * 60),
            stale_factor: None,
            stale_min_samples: 5,
            fail_after: 3,
            recover_after: 2,
            slow_after: Duration::from_millis(500),
            window: 10,
            loss_after: 0.2,
            lag_after: Duration::from_secs(5 * 60),
            partial_outage_share: 0.5,
            rrsig_warn_before: Duration::from_secs(2 * 24 * 3600),
            stats_window: Duration::from_secs(5 * 60),
            min_samples: 20,
            confirm_after: Duration::from_secs(30),
            clear_after: Duration::from_secs(2 * 60),
            rollback_after: Duration::from_secs(2 * 60),
        }
    }
}

/// One `[[zone.nameservers]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct NameserverConfig {
    /// Server name as given (`a.nic.dk`); also its status-page component name.
    pub name: String,
    /// Fixed addresses (default port 53); empty = resolve `name` (A and AAAA).
    pub addresses: Vec<SocketAddr>,
}

/// One `[[maintenance]]` window.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceWindow {
    /// Affected component names (nameserver names or zone component names).
    pub components: Vec<String>,
    /// Start, inclusive (ms since epoch).
    pub start: UnixMs,
    /// End, exclusive (ms since epoch); after `start`.
    pub end: UnixMs,
    /// Why (shown in the API and scheduled maintenances).
    pub reason: String,
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a configuration could not be loaded.
///
/// Display reads like
/// `config/dk.toml:14:11: zone "dk.": timeout (5s) must be shorter than interval (2s); …`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read configuration file: {source}", path.display())]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid TOML, does not match the schema, or fails validation.
    #[error("{}: {message}", location(.path, *.position))]
    Invalid {
        /// The file the text came from.
        path: PathBuf,
        /// 1-based line and column (in characters) of the offending key or value, when known.
        position: Option<(usize, usize)>,
        /// What is wrong (with the key) and what to do about it.
        message: String,
    },
}

fn location(path: &Path, position: Option<(usize, usize)>) -> String {
    match position {
        Some((line, col)) => format!("{}:{line}:{col}", path.display()),
        None => path.display().to_string(),
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The key whose value starts at `offset`, if the line reads `key = value`.
fn key_before(text: &str, offset: usize) -> Option<String> {
    let head = text.get(..offset.min(text.len()))?;
    let line = head.rsplit('\n').next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('[') && !key.starts_with('#')).then(|| key.to_string())
}

// ---------------------------------------------------------------------------
// Raw serde layer
// ---------------------------------------------------------------------------

type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    http: Option<RawHttp>,
    state: Option<RawState>,
    resolver: Option<RawResolver>,
    #[serde(default)]
    zone: Vec<RawZone>,
    #[serde(default)]
    maintenance: Vec<RawMaintenance>,
    #[serde(default)]
    canary: Vec<RawCanary>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCanary {
    name: S<String>,
    address: S<String>,
    zone: Option<S<String>>,
    transport: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<S<String>>,
    enable_reload: Option<bool>,
    request_timeout: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    path: Option<S<String>>,
    save_interval: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResolver {
    #[serde(default)]
    servers: Vec<S<String>>,
    refresh: Option<S<String>>,
    timeout: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    name: S<String>,
    component: Option<S<String>>,
    interval: Option<S<String>>,
    timeout: Option<S<String>>,
    transports: Option<S<Vec<S<String>>>>,
    dnssec: Option<bool>,
    nsid: Option<bool>,
    stale_after: Option<S<String>>,
    stale_factor: Option<S<f64>>,
    stale_min_samples: Option<S<u32>>,
    fail_after: Option<S<u32>>,
    recover_after: Option<S<u32>>,
    slow_after: Option<S<String>>,
    window: Option<S<u32>>,
    loss_after: Option<S<f64>>,
    lag_after: Option<S<String>>,
    partial_outage_share: Option<S<f64>>,
    rrsig_warn_before: Option<S<String>>,
    stats_window: Option<S<String>>,
    min_samples: Option<S<u32>>,
    confirm_after: Option<S<String>>,
    clear_after: Option<S<String>>,
    rollback_after: Option<S<String>>,
    #[serde(default)]
    nameservers: Vec<RawNameserver>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNameserver {
    name: S<String>,
    #[serde(default)]
    addresses: Vec<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaintenance {
    components: S<Vec<S<String>>>,
    start: S<toml::Value>,
    end: S<toml::Value>,
    #[serde(default)]
    reason: String,
}

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

/// Read and validate the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Validate configuration `text`; `source` names the file in errors and in [`Config::source`].
pub fn parse(text: &str, source: &Path) -> Result<Config, ConfigError> {
    let cx = Cx { text, path: source };
    let raw: RawConfig = toml::from_str(text).map_err(|e| cx.toml_error(&e))?;
    cx.config(raw)
}

/// Validation context: the text (for positions) and the file name.
struct Cx<'a> {
    text: &'a str,
    path: &'a Path,
}

const DURATION_HINT: &str = "write a duration like \"10s\", \"500ms\", \"2m\" or \"2d\"";
const ADDRESS_HINT: &str = "write an IP address, optionally with a port: \"192.0.2.1\", \"192.0.2.1:5300\", \"[2001:db8::1]:5300\"";

impl Cx<'_> {
    fn err(&self, span: Option<Range<usize>>, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            position: span.map(|s| line_col(self.text, s.start)),
            message,
        }
    }

    fn at<T>(&self, value: &S<T>, message: String) -> ConfigError {
        self.err(Some(value.span()), message)
    }

    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let span = e.span();
        let mut message = e.message().trim().replace('\n', " ");
        if let Some(key) = span.as_ref().and_then(|s| key_before(self.text, s.start)) {
            if !message.contains(&format!("`{key}`")) {
                message = format!("{key}: {message}");
            }
        }
        if message.starts_with("missing field") {
            message.push_str(" in this table; add it (see README.md, section Configuration)");
        } else if message.starts_with("unknown field") {
            message.push_str(
                "; check the spelling (keys are listed in README.md, section Configuration)",
            );
        }
        self.err(span, message)
    }

    fn duration(
        &self,
        ctx: &str,
        key: &str,
        value: &Option<S<String>>,
        default: Duration,
        allow_zero: bool,
    ) -> Result<Duration, ConfigError> {
        let Some(v) = value else { return Ok(default) };
        let d = humantime::parse_duration(v.get_ref().trim()).map_err(|e| {
            self.at(
                v,
                format!(
                    "{ctx}{key}: invalid duration {:?} ({e}); {DURATION_HINT}",
                    v.get_ref()
                ),
            )
        })?;
        if d.is_zero() && !allow_zero {
            return Err(self.at(
                v,
                format!("{ctx}{key} must be greater than zero; {DURATION_HINT}"),
            ));
        }
        Ok(d)
    }

    fn address(&self, ctx: &str, key: &str, v: &S<String>) -> Result<SocketAddr, ConfigError> {
        parse_address(v.get_ref().trim()).ok_or_else(|| {
            self.at(
                v,
                format!(
                    "{ctx}{key}: invalid address {:?}; {ADDRESS_HINT}",
                    v.get_ref()
                ),
            )
        })
    }

    fn addresses(
        &self,
        ctx: &str,
        key: &str,
        values: &[S<String>],
    ) -> Result<Vec<SocketAddr>, ConfigError> {
        let mut out: Vec<SocketAddr> = Vec::with_capacity(values.len());
        for v in values {
            let a = self.address(ctx, key, v)?;
            if out.contains(&a) {
                return Err(self.at(
                    v,
                    format!("{ctx}{key}: address {a} is listed twice; remove one"),
                ));
            }
            out.push(a);
        }
        Ok(out)
    }

    fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let http = self.http(raw.http)?;
        let state = self.state(raw.state)?;
        let resolver = self.resolver(raw.resolver)?;
        if raw.zone.is_empty() {
            return Err(self.err(
                None,
                "no zones: add at least one [[zone]] table with a name and [[zone.nameservers]]"
                    .into(),
            ));
        }
        let mut zones: Vec<ZoneConfig> = Vec::with_capacity(raw.zone.len());
        for rz in &raw.zone {
            let zone = self.zone(rz)?;
            if let Some(other) = zones.iter().find(|z| z.name == zone.name) {
                return Err(self.at(&rz.name, format!("zone {:?}: name: the zone {} is defined twice; merge the two [[zone]] tables", rz.name.get_ref(), other.name)));
            }
            if zones.iter().any(|z| z.component == zone.component) {
                return Err(self.err(
                    rz.component.as_ref().map_or(rz.name.span(), |c| c.span()).into(),
                    format!("zone \"{}\": component {:?} is already used by another zone; set a distinct component", zone.name, zone.component),
                ));
            }
            zones.push(zone);
        }
        let maintenance = raw
            .maintenance
            .iter()
            .enumerate()
            .map(|(i, m)| self.maintenance(i + 1, m, &zones))
            .collect::<Result<Vec<_>, _>>()?;
        let canaries = raw
            .canary
            .iter()
            .enumerate()
            .map(|(i, c)| self.canary(i + 1, c))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Config {
            source: self.path.to_path_buf(),
            http,
            state,
            resolver,
            zones,
            maintenance,
            canaries,
        })
    }

    fn canary(&self, index: usize, raw: &RawCanary) -> Result<CanaryConfig, ConfigError> {
        let ctx = format!("canary #{index}: ");
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty() {
            return Err(self.at(
                &raw.name,
                format!("{ctx}name must not be empty; give a label like \"k.root-servers.net\""),
            ));
        }
        let address = self.address(&ctx, "address", &raw.address)?;
        let zone = match &raw.zone {
            None => Name::root(),
            Some(z) => {
                let given = z.get_ref().trim();
                let bare = zone_bare_name(given).ok_or_else(|| {
                    self.at(z, format!("{ctx}zone: invalid zone name {given:?}; write a domain name like \"se.\" or \".\""))
                })?;
                let fq = if bare.is_empty() {
                    ".".to_string()
                } else {
                    format!("{bare}.")
                };
                Name::from_ascii(&fq)
                    .map_err(|e| self.at(z, format!("{ctx}zone: invalid zone name ({e})")))?
            }
        };
        let transport = match &raw.transport {
            None => Transport::Udp,
            Some(t) => match t.get_ref().trim().to_ascii_lowercase().as_str() {
                "udp" => Transport::Udp,
                "tcp" => Transport::Tcp,
                _ => {
                    return Err(self.at(
                        t,
                        format!(
                            "{ctx}transport: unknown transport {:?}; use \"udp\" or \"tcp\"",
                            t.get_ref()
                        ),
                    ))
                }
            },
        };
        Ok(CanaryConfig {
            name,
            address,
            zone,
            transport,
        })
    }

    fn http(&self, raw: Option<RawHttp>) -> Result<HttpConfig, ConfigError> {
        let ctx = "[http] ";
        let raw = raw.unwrap_or(RawHttp {
            listen: None,
            enable_reload: None,
            request_timeout: None,
        });
        let listen = match &raw.listen {
            Some(v) => v.get_ref().trim().parse::<SocketAddr>().map_err(|_| {
                self.at(v, format!("{ctx}listen: invalid listen address {:?}; write ip:port like \"127.0.0.1:9853\" or \"[::1]:9853\"", v.get_ref()))
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 9853)),
        };
        Ok(HttpConfig {
            listen,
            enable_reload: raw.enable_reload.unwrap_or(false),
            request_timeout: self.duration(
                ctx,
                "request_timeout",
                &raw.request_timeout,
                Duration::from_secs(10),
                false,
            )?,
        })
    }

    fn state(&self, raw: Option<RawState>) -> Result<StateConfig, ConfigError> {
        let ctx = "[state] ";
        let raw = raw.unwrap_or(RawState {
            path: None,
            save_interval: None,
        });
        let path = match &raw.path {
            Some(v) if v.get_ref().trim().is_empty() => {
                return Err(self.at(
                    v,
                    format!(
                        "{ctx}path must not be empty; give a file name like \"nsprobe-state.json\""
                    ),
                ));
            }
            Some(v) => PathBuf::from(v.get_ref()),
            None => PathBuf::from("nsprobe-state.json"),
        };
        Ok(StateConfig {
            path,
            save_interval: self.duration(
                ctx,
                "save_interval",
                &raw.save_interval,
                Duration::from_secs(60),
                false,
            )?,
        })
    }

    fn resolver(&self, raw: Option<RawResolver>) -> Result<ResolverSettings, ConfigError> {
        let ctx = "[resolver] ";
        let raw = raw.unwrap_or(RawResolver {
            servers: Vec::new(),
            refresh: None,
            timeout: None,
        });
        Ok(ResolverSettings {
            servers: self.addresses(ctx, "servers", &raw.servers)?,
            refresh: self.duration(
                ctx,
                "refresh",
                &raw.refresh,
                Duration::from_secs(300),
                false,
            )?,
            timeout: self.duration(ctx, "timeout", &raw.timeout, Duration::from_secs(5), false)?,
        })
    }

    fn zone(&self, raw: &RawZone) -> Result<ZoneConfig, ConfigError> {
        let given = raw.name.get_ref().trim();
        let bare = zone_bare_name(given).ok_or_else(|| {
            self.at(&raw.name, format!("zone {given:?}: name: invalid zone name; write a domain name like \"dk.\" or \"example.com\""))
        })?;
        let fq = if bare.is_empty() {
            ".".to_string()
        } else {
            format!("{bare}.")
        };
        let name = Name::from_ascii(&fq).map_err(|e| {
            self.at(
                &raw.name,
                format!("zone {given:?}: name: invalid zone name ({e})"),
            )
        })?;
        let ctx = format!("zone \"{fq}\": ");
        let c = ctx.as_str();

        let component = match &raw.component {
            Some(v) if v.get_ref().trim().is_empty() => {
                return Err(self.at(
                    v,
                    format!(
                        "{c}component must not be empty; omit it for the default \"DNS (.{bare})\""
                    ),
                ));
            }
            Some(v) => v.get_ref().trim().to_string(),
            None => format!("DNS (.{bare})"),
        };

        let interval =
            self.duration(c, "interval", &raw.interval, Duration::from_secs(10), false)?;
        let timeout = self.duration(c, "timeout", &raw.timeout, Duration::from_secs(2), false)?;
        if timeout >= interval {
            let span = raw
                .timeout
                .as_ref()
                .or(raw.interval.as_ref())
                .map_or(raw.name.span(), |v| v.span());
            return Err(self.err(
                Some(span),
                format!(
                    "{c}timeout ({}) must be shorter than interval ({}); lower timeout or raise interval",
                    humantime::format_duration(timeout),
                    humantime::format_duration(interval)
                ),
            ));
        }

        let transports = match &raw.transports {
            None => vec![Transport::Udp, Transport::Tcp],
            Some(list) => {
                if list.get_ref().is_empty() {
                    return Err(self.at(list, format!("{c}transports must not be empty; use [\"udp\", \"tcp\"], [\"udp\"] or [\"tcp\"]")));
                }
                let mut out = Vec::new();
                for t in list.get_ref() {
                    let tr = match t.get_ref().trim().to_ascii_lowercase().as_str() {
                        "udp" => Transport::Udp,
                        "tcp" => Transport::Tcp,
                        _ => {
                            return Err(self.at(
                                t,
                                format!(
                                    "{c}transports: unknown transport {:?}; use \"udp\" or \"tcp\"",
                                    t.get_ref()
                                ),
                            ))
                        }
                    };
                    if out.contains(&tr) {
                        return Err(self.at(
                            t,
                            format!("{c}transports: {tr} is listed twice; remove one"),
                        ));
                    }
                    out.push(tr);
                }
                out
            }
        };

        let d = Thresholds::default();
        let positive = |key: &str, v: &Option<S<u32>>, default: u32| -> Result<u32, ConfigError> {
            match v {
                None => Ok(default),
                Some(s) if *s.get_ref() == 0 => {
                    Err(self.at(s, format!("{c}{key} must be at least 1")))
                }
                Some(s) => Ok(*s.get_ref()),
            }
        };
        let share = |key: &str,
                     v: &Option<S<f64>>,
                     default: f64,
                     upper_inclusive: bool|
         -> Result<f64, ConfigError> {
            let Some(s) = v else { return Ok(default) };
            let x = *s.get_ref();
            let ok = x > 0.0 && (x < 1.0 || (upper_inclusive && x == 1.0));
            if ok {
                Ok(x)
            } else {
                let range = if upper_inclusive {
                    "(0, 1]: above 0, at most 1"
                } else {
                    "(0, 1): above 0 and below 1"
                };
                Err(self.at(
                    s,
                    format!("{c}{key} ({x}) is out of range; it is a share in {range}, e.g. 0.5"),
                ))
            }
        };
        let stale_factor = match &raw.stale_factor {
            None => None,
            Some(s) if s.get_ref().is_finite() && *s.get_ref() > 1.0 => Some(*s.get_ref()),
            Some(s) => {
                return Err(self.at(s, format!("{c}stale_factor ({}) must be a number greater than 1, e.g. 3.0; omit it to disable adaptive staleness", s.get_ref())));
            }
        };
        let thresholds = Thresholds {
            stale_after: self.duration(c, "stale_after", &raw.stale_after, d.stale_after, false)?,
            stale_factor,
            stale_min_samples: positive(
                "stale_min_samples",
                &raw.stale_min_samples,
                d.stale_min_samples,
            )?,
            fail_after: positive("fail_after", &raw.fail_after, d.fail_after)?,
            recover_after: positive("recover_after", &raw.recover_after, d.recover_after)?,
            slow_after: self.duration(c, "slow_after", &raw.slow_after, d.slow_after, false)?,
            window: positive("window", &raw.window, d.window)?,
            loss_after: share("loss_after", &raw.loss_after, d.loss_after, true)?,
            lag_after: self.duration(c, "lag_after", &raw.lag_after, d.lag_after, true)?,
            partial_outage_share: share(
                "partial_outage_share",
                &raw.partial_outage_share,
                d.partial_outage_share,
                false,
            )?,
            rrsig_warn_before: self.duration(
                c,
                "rrsig_warn_before",
                &raw.rrsig_warn_before,
                d.rrsig_warn_before,
                true,
            )?,
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
            rollback_after: self.duration(
                c,
                "rollback_after",
                &raw.rollback_after,
                d.rollback_after,
                false,
            )?,
        };

        if raw.nameservers.is_empty() {
            return Err(self.at(
                &raw.name,
                format!(
                    "{c}no nameservers; add at least one [[zone.nameservers]] table with a name"
                ),
            ));
        }
        let mut nameservers: Vec<NameserverConfig> = Vec::with_capacity(raw.nameservers.len());
        for ns in &raw.nameservers {
            let given = ns.name.get_ref().trim();
            let name = given.strip_suffix('.').unwrap_or(given).to_string();
            if name.is_empty() {
                return Err(self.at(&ns.name, format!("{c}nameservers: name must not be empty; give the server's host name like \"a.nic.dk\"")));
            }
            let nctx = format!("{c}nameserver {name:?}: ");
            let addresses = self.addresses(&nctx, "addresses", &ns.addresses)?;
            if addresses.is_empty() && !is_host_name(&name) {
                return Err(self.at(&ns.name, format!("{nctx}name is not a resolvable host name and no addresses are given; fix the name or add addresses = [\"192.0.2.1\"]")));
            }
            if nameservers
                .iter()
                .any(|n| n.name.eq_ignore_ascii_case(&name))
            {
                return Err(self.at(&ns.name, format!("{c}nameserver {name:?} is listed twice; remove one or give them distinct names")));
            }
            nameservers.push(NameserverConfig { name, addresses });
        }

        Ok(ZoneConfig {
            name,
            component,
            interval,
            timeout,
            transports,
            dnssec: raw.dnssec.unwrap_or(false),
            nsid: raw.nsid.unwrap_or(true),
            thresholds,
            nameservers,
        })
    }

    fn maintenance(
        &self,
        index: usize,
        raw: &RawMaintenance,
        zones: &[ZoneConfig],
    ) -> Result<MaintenanceWindow, ConfigError> {
        let ctx = format!("maintenance #{index}: ");
        let c = ctx.as_str();
        // Known components: lower-cased lookup key → canonical name.
        let mut known: HashMap<String, String> = HashMap::new();
        for z in zones {
            known.insert(z.component.to_lowercase(), z.component.clone());
            for ns in &z.nameservers {
                known.insert(ns.name.to_lowercase(), ns.name.clone());
            }
        }
        if raw.components.get_ref().is_empty() {
            return Err(self.at(&raw.components, format!("{c}components must not be empty; name the affected nameservers or zone components")));
        }
        let mut components = Vec::new();
        let mut seen = HashSet::new();
        for comp in raw.components.get_ref() {
            let given = comp.get_ref().trim();
            let key = given.strip_suffix('.').unwrap_or(given).to_lowercase();
            let Some(canonical) = known.get(&key).or_else(|| known.get(&given.to_lowercase()))
            else {
                let mut names: Vec<&String> = known.values().collect();
                names.sort();
                let names = names
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(self.at(comp, format!("{c}components: {given:?} is not a known component; use a nameserver name or a zone component: {names}")));
            };
            if !seen.insert(canonical.clone()) {
                return Err(self.at(
                    comp,
                    format!("{c}components: {given:?} is listed twice; remove one"),
                ));
            }
            components.push(canonical.clone());
        }
        let start = timestamp(raw.start.get_ref())
            .map_err(|e| self.at(&raw.start, format!("{c}start: {e}")))?;
        let end =
            timestamp(raw.end.get_ref()).map_err(|e| self.at(&raw.end, format!("{c}end: {e}")))?;
        if end <= start {
            return Err(self.at(
                &raw.end,
                format!("{c}end must be after start; check the dates"),
            ));
        }
        Ok(MaintenanceWindow {
            components,
            start,
            end,
            reason: raw.reason.clone(),
        })
    }
}

/// `ip`, `ip:port` or `[v6]:port`; the default port is 53.
fn parse_address(s: &str) -> Option<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(a);
    }
    let ip = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    ip.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53))
}

/// A zone name without its trailing dot (`""` for the root), or None if it is not a domain name.
fn zone_bare_name(given: &str) -> Option<&str> {
    if given == "." {
        return Some("");
    }
    let bare = given.strip_suffix('.').unwrap_or(given);
    is_host_name(bare).then_some(bare)
}

/// Letters, digits, `-` and `_` in dot-separated labels of 1–63 bytes, 253 bytes in all.
fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

const TIMESTAMP_HINT: &str = "write an RFC 3339 timestamp with a UTC offset, like \"2026-06-16T06:00:00Z\" or \"2026-06-16T08:00:00+02:00\"";

/// An RFC 3339 timestamp (TOML datetime or string) → ms since the epoch.
fn timestamp(value: &toml::Value) -> Result<UnixMs, String> {
    let dt = match value {
        toml::Value::Datetime(d) => *d,
        toml::Value::String(s) => s
            .trim()
            .parse::<toml::value::Datetime>()
            .map_err(|_| format!("invalid timestamp {s:?}; {TIMESTAMP_HINT}"))?,
        other => {
            return Err(format!(
                "expected a timestamp, found a {}; {TIMESTAMP_HINT}",
                other.type_str()
            ))
        }
    };
    let (Some(date), Some(time), Some(offset)) = (dt.date, dt.time, dt.offset) else {
        return Err(format!(
            "timestamp {dt} needs a date, a time and a UTC offset; {TIMESTAMP_HINT}"
        ));
    };
    let utc = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        date.year, date.month, date.day, time.hour, time.minute, time.second, time.nanosecond
    );
    let t = humantime::parse_rfc3339(&utc)
        .map_err(|e| format!("invalid timestamp {dt} ({e}); {TIMESTAMP_HINT}"))?;
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| format!("timestamp {dt} is before 1970"))?
        .as_millis() as i128;
    let offset_min = match offset {
        toml::value::Offset::Z => 0i128,
        toml::value::Offset::Custom { minutes } => i128::from(minutes),
    };
    UnixMs::try_from(ms - offset_min * 60_000).map_err(|_| format!("timestamp {dt} is before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[[zone]]
name = "dk"

[[zone.nameservers]]
name = "a.nic.dk."
"#;

    fn ok(text: &str) -> Config {
        match parse(text, Path::new("t.toml")) {
            Ok(c) => c,
            Err(e) => panic!("expected valid config, got: {e}"),
        }
    }

    fn err(text: &str) -> String {
        match parse(text, Path::new("t.toml")) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    /// A minimal zone followed by `extra` lines in the `[[zone]]` table (line 4 on).
    fn zone_with(extra: &str) -> String {
        format!("[[zone]]\nname = \"dk.\"\n\n{extra}\n[[zone.nameservers]]\nname = \"a.nic.dk\"\n")
    }

    fn assert_has(msg: &str, parts: &[&str]) {
        for p in parts {
            assert!(msg.contains(p), "message {msg:?} lacks {p:?}");
        }
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let c = ok(MINIMAL);
        assert_eq!(c.source, PathBuf::from("t.toml"));
        assert_eq!(
            c.http.listen,
            "127.0.0.1:9853".parse::<SocketAddr>().unwrap()
        );
        assert!(!c.http.enable_reload);
        assert_eq!(c.http.request_timeout, Duration::from_secs(10));
        assert_eq!(c.state.path, PathBuf::from("nsprobe-state.json"));
        assert_eq!(c.state.save_interval, Duration::from_secs(60));
        assert!(c.resolver.servers.is_empty());
        assert_eq!(c.resolver.refresh, Duration::from_secs(300));
        assert_eq!(c.resolver.timeout, Duration::from_secs(5));
        assert_eq!(c.zones.len(), 1);
        let z = &c.zones[0];
        assert_eq!(z.name, Name::from_ascii("dk.").unwrap());
        assert!(z.name.is_fqdn());
        assert_eq!(z.component, "DNS (.dk)");
        assert_eq!(z.interval, Duration::from_secs(10));
        assert_eq!(z.timeout, Duration::from_secs(2));
        assert_eq!(z.transports, vec![Transport::Udp, Transport::Tcp]);
        assert!(!z.dnssec);
        assert!(z.nsid);
        assert_eq!(z.thresholds, Thresholds::default());
        assert_eq!(
            z.nameservers,
            vec![NameserverConfig {
                name: "a.nic.dk".into(),
                addresses: vec![]
            }]
        );
        assert!(c.maintenance.is_empty());
    }

    #[test]
    fn full_file_is_read_exactly() {
        let text = r#"
[http]
listen = "[::1]:9000"
enable_reload = true
request_timeout = "3s"
[state]
path = "/var/lib/nsprobe/state.json"
save_interval = "2m"
[resolver]
servers = ["127.0.0.1:5353", "::1"]
refresh = "1m"
timeout = "1s"
[[zone]]
name = "example."
component = "Example DNS"
interval = "30s"
timeout = "3s"
transports = ["tcp"]
dnssec = true
nsid = false
stale_after = "1h"
stale_factor = 2.5
stale_min_samples = 7
fail_after = 4
recover_after = 5
slow_after = "250ms"
window = 20
loss_after = 1.0
lag_after = "10m"
partial_outage_share = 0.25
rrsig_warn_before = "3d"
stats_window = "10m"
min_samples = 30
confirm_after = "45s"
clear_after = "3m"
rollback_after = "4m"
[[zone.nameservers]]
name = "ns1.example"
[[zone.nameservers]]
name = "lab-1"
addresses = ["127.0.1.1:5300", "[::1]:5300", "192.0.2.1"]
[[maintenance]]
components = ["lab-1", "Example DNS", "ns1.example."]
start = "2026-06-16T06:00:00Z"
end = 2026-06-16T08:30:00+02:00
reason = ""
"#;
        let c = ok(text);
        assert_eq!(c.http.listen, "[::1]:9000".parse::<SocketAddr>().unwrap());
        assert!(c.http.enable_reload);
        assert_eq!(c.http.request_timeout, Duration::from_secs(3));
        assert_eq!(c.state.path, PathBuf::from("/var/lib/nsprobe/state.json"));
        assert_eq!(c.state.save_interval, Duration::from_secs(120));
        assert_eq!(
            c.resolver.servers,
            vec![
                "127.0.0.1:5353".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
        assert_eq!(c.resolver.refresh, Duration::from_secs(60));
        assert_eq!(c.resolver.timeout, Duration::from_secs(1));
        let z = &c.zones[0];
        assert_eq!(z.component, "Example DNS");
        assert_eq!(z.interval, Duration::from_secs(30));
        assert_eq!(z.timeout, Duration::from_secs(3));
        assert_eq!(z.transports, vec![Transport::Tcp]);
        assert!(z.dnssec);
        assert!(!z.nsid);
        assert_eq!(
            z.thresholds,
            Thresholds {
                stale_after: Duration::from_secs(3600),
                stale_factor: Some(2.5),
                stale_min_samples: 7,
                fail_after: 4,
                recover_after: 5,
                slow_after: Duration::from_millis(250),
                window: 20,
                loss_after: 1.0,
                lag_after: Duration::from_secs(600),
                partial_outage_share: 0.25,
                rrsig_warn_before: Duration::from_secs(3 * 86400),
                stats_window: Duration::from_secs(600),
                min_samples: 30,
                confirm_after: Duration::from_secs(45),
                clear_after: Duration::from_secs(180),
                rollback_after: Duration::from_secs(240),
            }
        );
        assert_eq!(z.nameservers[1].name, "lab-1");
        assert_eq!(
            z.nameservers[1].addresses,
            vec![
                "127.0.1.1:5300".parse::<SocketAddr>().unwrap(),
                "[::1]:5300".parse().unwrap(),
                "192.0.2.1:53".parse().unwrap()
            ]
        );
        let m = &c.maintenance[0];
        assert_eq!(m.components, vec!["lab-1", "Example DNS", "ns1.example"]);
        // 2026-06-16T06:00:00Z
        assert_eq!(m.start, 1_781_589_600_000);
        // 08:30+02:00 = 06:30Z
        assert_eq!(m.end, m.start + 30 * 60 * 1000);
        assert_eq!(m.reason, "");
    }

    #[test]
    fn shipped_configs_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dk = load(&root.join("config/dk.toml")).unwrap_or_else(|e| panic!("{e}"));
        let z = &dk.zones[0];
        assert_eq!(z.name, Name::from_ascii("dk.").unwrap());
        assert_eq!(z.component, "DNS (.dk)");
        assert!(z.dnssec);
        assert_eq!(z.interval, Duration::from_secs(10));
        assert_eq!(z.timeout, Duration::from_secs(2));
        let names: Vec<&str> = z.nameservers.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            ["a.nic.dk", "b.nic.dk", "c.nic.dk", "d.nic.dk", "l.nic.dk", "p.nic.dk", "s.nic.dk"]
        );
        assert!(z.nameservers.iter().all(|n| n.addresses.is_empty()));
        assert_eq!(
            dk.http.listen,
            "127.0.0.1:9853".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(dk.state.path, PathBuf::from("nsprobe-state.json"));

        let ex = load(&root.join("config/example.toml")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ex.maintenance.len(), 1);
        for z in &ex.zones {
            for ns in &z.nameservers {
                for a in &ns.addresses {
                    let ip = a.ip();
                    let doc = matches!(ip, IpAddr::V4(v4) if v4.octets()[..3] == [192, 0, 2]);
                    assert!(
                        ip.is_loopback() || doc,
                        "{a} is neither loopback nor documentation"
                    );
                }
            }
        }
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = load(Path::new("/nonexistent/nsprobe.toml")).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
        assert_has(
            &e.to_string(),
            &["/nonexistent/nsprobe.toml", "cannot read"],
        );
    }

    #[test]
    fn toml_syntax_error_has_position() {
        let e = err("[[zone]]\nname = \"dk.\n");
        assert_has(&e, &["t.toml:2:"]);
    }

    #[test]
    fn unknown_keys_are_rejected_with_position() {
        assert_has(
            &err(&zone_with("intervall = \"10s\"")),
            &["t.toml:4:1:", "intervall"],
        );
        assert_has(
            &err(&format!("[http]\nlisten_addr = \"x\"\n{MINIMAL}")),
            &["t.toml:2:1:", "listen_addr"],
        );
        assert_has(
            &err(&format!("{MINIMAL}\n[extra]\n")),
            &["t.toml:", "extra"],
        );
        let e = err(
            "[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"a\"\naddress = [\"::1\"]\n",
        );
        assert_has(&e, &["t.toml:5:1:", "address"]);
    }

    #[test]
    fn wrong_types_name_key_and_position() {
        let e = err(&zone_with("fail_after = \"3\""));
        assert_has(&e, &["t.toml:4:14:", "fail_after"]);
        let e = err(&zone_with("dnssec = 1"));
        assert_has(&e, &["t.toml:4:10:", "dnssec"]);
        let e = err(&zone_with("window = -1"));
        assert_has(&e, &["t.toml:4:", "window"]);
    }

    #[test]
    fn missing_required_key() {
        let e = err("[[zone]]\ncomponent = \"x\"\n[[zone.nameservers]]\nname = \"a\"\n");
        assert_has(&e, &["t.toml:1:", "name"]);
    }

    #[test]
    fn bad_durations() {
        let e = err(&zone_with("interval = \"10 parsecs\""));
        assert_has(
            &e,
            &[
                "t.toml:4:12:",
                "zone \"dk.\"",
                "interval",
                "10 parsecs",
                "duration",
            ],
        );
        let e = err(&format!("[resolver]\nrefresh = \"soon\"\n{MINIMAL}"));
        assert_has(&e, &["t.toml:2:11:", "[resolver] refresh", "soon"]);
        let e = err(&format!("[http]\nrequest_timeout = \"0s\"\n{MINIMAL}"));
        assert_has(&e, &["t.toml:2:", "request_timeout", "greater than zero"]);
        let e = err(&format!("[state]\nsave_interval = \"x\"\n{MINIMAL}"));
        assert_has(&e, &["t.toml:2:", "[state] save_interval"]);
    }

    #[test]
    fn zero_interval() {
        let e = err(&zone_with("interval = \"0s\""));
        assert_has(
            &e,
            &[
                "t.toml:4:12:",
                "zone \"dk.\"",
                "interval",
                "greater than zero",
            ],
        );
    }

    #[test]
    fn timeout_must_be_shorter_than_interval() {
        let e = err(&zone_with("interval = \"2s\"\ntimeout = \"5s\""));
        assert_has(
            &e,
            &[
                "t.toml:5:11:",
                "zone \"dk.\": timeout (5s) must be shorter than interval (2s)",
            ],
        );
        // Equal is not shorter; default timeout (2s) against a given interval.
        let e = err(&zone_with("interval = \"2s\""));
        assert_has(
            &e,
            &[
                "t.toml:4:",
                "timeout (2s) must be shorter than interval (2s)",
            ],
        );
    }

    #[test]
    fn bad_addresses() {
        let e = err("[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"lab\"\naddresses = [\"::1\", \"not-an-ip\"]\n");
        assert_has(
            &e,
            &[
                "t.toml:5:21:",
                "nameserver \"lab\"",
                "addresses",
                "not-an-ip",
            ],
        );
        let e = err("[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"lab\"\naddresses = [\"127.0.0.1:99999\"]\n");
        assert_has(&e, &["t.toml:5:", "addresses", "127.0.0.1:99999"]);
        let e = err("[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"lab\"\naddresses = [\"::1\", \"[::1]:53\"]\n");
        assert_has(&e, &["t.toml:5:", "listed twice"]);
        let e = err(&format!("[resolver]\nservers = [\"8.8.8.8.8\"]\n{MINIMAL}"));
        assert_has(&e, &["t.toml:2:12:", "[resolver] servers", "8.8.8.8.8"]);
        let e = err(&format!("[http]\nlisten = \"127.0.0.1\"\n{MINIMAL}"));
        assert_has(&e, &["t.toml:2:10:", "[http] listen"]);
    }

    #[test]
    fn bad_zone_names() {
        for bad in ["", "dk..", "-dk.", "d k", "a.b$c."] {
            let e = err(&format!(
                "[[zone]]\nname = \"{bad}\"\n[[zone.nameservers]]\nname = \"a.nic.dk\"\n"
            ));
            assert_has(&e, &["t.toml:2:8:", "name", "invalid zone name"]);
        }
    }

    #[test]
    fn duplicate_zone_names() {
        let text = format!(
            "{MINIMAL}\n[[zone]]\nname = \"DK.\"\n[[zone.nameservers]]\nname = \"b.nic.dk\"\n"
        );
        let e = err(&text);
        assert_has(&e, &["t.toml:9:8:", "defined twice"]);
    }

    #[test]
    fn duplicate_components_across_zones() {
        let text = format!("{MINIMAL}\n[[zone]]\nname = \"se\"\ncomponent = \"DNS (.dk)\"\n[[zone.nameservers]]\nname = \"a.nic.se\"\n");
        assert_has(&err(&text), &["t.toml:10:13:", "component", "already used"]);
    }

    #[test]
    fn duplicate_nameserver_names() {
        let text = "[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"a.nic.dk\"\n[[zone.nameservers]]\nname = \"A.nic.dk.\"\n";
        assert_has(
            &err(text),
            &[
                "t.toml:6:8:",
                "zone \"dk.\"",
                "nameserver \"A.nic.dk\"",
                "listed twice",
            ],
        );
    }

    #[test]
    fn unresolvable_nameserver_without_addresses() {
        let text = "[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \"lab 1\"\n";
        assert_has(
            &err(text),
            &["t.toml:4:8:", "nameserver \"lab 1\"", "addresses"],
        );
        let text = "[[zone]]\nname = \"dk\"\n[[zone.nameservers]]\nname = \" \"\n";
        assert_has(&err(text), &["t.toml:4:8:", "name must not be empty"]);
    }

    #[test]
    fn no_zones() {
        let e = err("[http]\nlisten = \"127.0.0.1:9853\"\n");
        assert_has(&e, &["t.toml: ", "no zones", "[[zone]]"]);
    }

    #[test]
    fn zone_without_nameservers() {
        let e = err("[[zone]]\nname = \"dk\"\n");
        assert_has(&e, &["t.toml:2:8:", "zone \"dk.\"", "no nameservers"]);
    }

    #[test]
    fn bad_transports() {
        assert_has(
            &err(&zone_with("transports = []")),
            &["t.toml:4:14:", "transports must not be empty"],
        );
        assert_has(
            &err(&zone_with("transports = [\"udp\", \"quic\"]")),
            &["t.toml:4:22:", "transports", "quic"],
        );
        assert_has(
            &err(&zone_with("transports = [\"udp\", \"udp\"]")),
            &["t.toml:4:22:", "transports", "udp is listed twice"],
        );
    }

    #[test]
    fn shares_out_of_range() {
        assert_has(
            &err(&zone_with("loss_after = 0.0")),
            &["t.toml:4:14:", "loss_after", "out of range"],
        );
        assert_has(
            &err(&zone_with("loss_after = 1.5")),
            &["t.toml:4:", "loss_after"],
        );
        assert_has(
            &err(&zone_with("partial_outage_share = 1.0")),
            &["t.toml:4:24:", "partial_outage_share", "out of range"],
        );
        assert_has(
            &err(&zone_with("partial_outage_share = 0")),
            &["t.toml:4:", "partial_outage_share"],
        );
        assert_has(
            &err(&zone_with("stale_factor = 1.0")),
            &["t.toml:4:16:", "stale_factor", "greater than 1"],
        );
        assert_has(
            &err(&zone_with("stale_factor = nan")),
            &["t.toml:4:", "stale_factor"],
        );
        // In range.
        let c = ok(&zone_with("loss_after = 1\npartial_outage_share = 0.99"));
        assert_eq!(c.zones[0].thresholds.loss_after, 1.0);
    }

    #[test]
    fn zero_counts() {
        for key in ["fail_after", "recover_after", "window", "stale_min_samples"] {
            let e = err(&zone_with(&format!("{key} = 0")));
            assert_has(&e, &["t.toml:4:", "zone \"dk.\"", key, "at least 1"]);
        }
    }

    fn with_maintenance(body: &str) -> String {
        // MINIMAL without its leading newline is 5 lines; [[maintenance]] is line 6, body from line 7.
        format!("{}[[maintenance]]\n{body}\n", MINIMAL.trim_start())
    }

    #[test]
    fn maintenance_end_must_follow_start() {
        let e = err(&with_maintenance(
            "components = [\"a.nic.dk\"]\nstart = \"2026-06-16T06:00:00Z\"\nend = \"2026-06-16T06:00:00Z\"",
        ));
        assert_has(
            &e,
            &["t.toml:9:7:", "maintenance #1", "end must be after start"],
        );
    }

    #[test]
    fn maintenance_bad_timestamps() {
        let e = err(&with_maintenance(
            "components = [\"a.nic.dk\"]\nstart = \"tomorrow\"\nend = \"2026-06-16T06:00:00Z\"",
        ));
        assert_has(
            &e,
            &[
                "t.toml:8:9:",
                "maintenance #1: start",
                "tomorrow",
                "RFC 3339",
            ],
        );
        let e = err(&with_maintenance("components = [\"a.nic.dk\"]\nstart = \"2026-06-16T06:00:00\"\nend = \"2026-06-17T06:00:00Z\""));
        assert_has(&e, &["t.toml:8:9:", "start", "UTC offset"]);
        let e = err(&with_maintenance("components = [\"a.nic.dk\"]\nstart = \"2026-02-30T06:00:00Z\"\nend = \"2026-06-17T06:00:00Z\""));
        assert_has(&e, &["t.toml:8:9:", "start"]);
        let e = err(&with_maintenance(
            "components = [\"a.nic.dk\"]\nstart = 5\nend = \"2026-06-17T06:00:00Z\"",
        ));
        assert_has(&e, &["t.toml:8:9:", "start", "integer"]);
    }

    #[test]
    fn maintenance_unknown_component() {
        let e = err(&with_maintenance(
            "components = [\"a.nic.dk\", \"z.nic.dk\"]\nstart = \"2026-06-16T06:00:00Z\"\nend = \"2026-06-17T06:00:00Z\"",
        ));
        assert_has(
            &e,
            &[
                "t.toml:7:27:",
                "maintenance #1: components",
                "\"z.nic.dk\" is not a known component",
                "\"DNS (.dk)\"",
            ],
        );
        let e = err(&with_maintenance(
            "components = []\nstart = \"2026-06-16T06:00:00Z\"\nend = \"2026-06-17T06:00:00Z\"",
        ));
        assert_has(&e, &["t.toml:7:14:", "components must not be empty"]);
    }

    #[test]
    fn maintenance_zone_component_and_empty_reason() {
        let c = ok(&with_maintenance(
            "components = [\"DNS (.dk)\", \"A.NIC.DK\"]\nstart = \"2026-06-16T06:00:00Z\"\nend = \"2026-06-16T06:00:01Z\"\nreason = \"\"",
        ));
        assert_eq!(c.maintenance[0].components, vec!["DNS (.dk)", "a.nic.dk"]);
        assert_eq!(c.maintenance[0].end - c.maintenance[0].start, 1000);
    }

    #[test]
    fn root_zone_and_address_forms() {
        assert_eq!(
            parse_address("192.0.2.1"),
            Some(SocketAddr::from(([192, 0, 2, 1], 53)))
        );
        assert_eq!(
            parse_address("[2001:db8::1]"),
            Some("[2001:db8::1]:53".parse().unwrap())
        );
        assert_eq!(
            parse_address("2001:db8::1"),
            Some("[2001:db8::1]:53".parse().unwrap())
        );
        assert_eq!(
            parse_address("[2001:db8::1]:5300"),
            Some("[2001:db8::1]:5300".parse().unwrap())
        );
        assert_eq!(parse_address("a.nic.dk"), None);
        assert_eq!(parse_address("192.0.2.1:"), None);
        let c = ok("[[zone]]\nname = \".\"\n[[zone.nameservers]]\nname = \"a.root-servers.net\"\n");
        assert_eq!(c.zones[0].name, Name::root());
        assert_eq!(c.zones[0].component, "DNS (.)");
    }

    #[test]
    fn line_col_counts_characters() {
        let t = "ab\nçd=x";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 1));
        assert_eq!(line_col(t, t.len() - 1), (2, 4));
        assert_eq!(line_col(t, 999), (2, 5));
    }
}
