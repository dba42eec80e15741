//! Raw → validated: every check, each error pointing at its key or value.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::rr::Name;

use super::error::{key_before, line_col, ConfigError};
use super::groups::GroupConfig;
use super::hints::{
    closest, expected_keys, first_quoted, table_context, what_to_write, ADDRESS_HINT, DURATION_HINT,
};
use super::raw::*;
use super::types::*;
use super::values::{is_host_name, parse_address, timestamp, zone_bare_name};
use crate::probe::Transport;

/// Validate configuration `text` read from `path`.
pub(super) fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let cx = Cx { text, path };
    let raw: RawConfig = toml::from_str(text).map_err(|e| cx.toml_error(&e))?;
    cx.config(raw)
}

/// Validation context: the text (for positions) and the file name.
pub(super) struct Cx<'a> {
    pub(super) text: &'a str,
    pub(super) path: &'a Path,
}

impl Cx<'_> {
    pub(super) fn err(&self, span: Option<Range<usize>>, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            position: span.map(|s| line_col(self.text, s.start)),
            message,
        }
    }

    pub(super) fn at<T>(&self, value: &S<T>, message: String) -> ConfigError {
        self.err(Some(value.span()), message)
    }

    /// An error from the serde layer, reworded: which table, which key, what to write,
    /// and for an unknown key the closest known one.
    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let span = e.span();
        let raw = e.message().trim().replace('\n', " ");
        let ctx = span
            .as_ref()
            .map(|s| table_context(self.text, s.start))
            .unwrap_or_default();
        let key = span.as_ref().and_then(|s| key_before(self.text, s.start));
        let message = if raw.starts_with("unknown field") {
            let unknown = first_quoted(&raw).unwrap_or("?");
            let known = expected_keys(&raw);
            let mut m = format!("{ctx}unknown key `{unknown}`");
            if let Some(k) = closest(unknown, &known) {
                m.push_str(&format!("; did you mean `{k}`?"));
            }
            m.push_str(&format!(
                " (keys here: {}; see README.md, section Configuration)",
                known.join(", ")
            ));
            m
        } else if raw.starts_with("missing field") {
            format!("{ctx}{raw} in this table; add it (see README.md, section Configuration)")
        } else {
            // "invalid type: integer `10`, expected a string": say what was found and what to
            // write for this key instead of the Rust type serde expected.
            let typed = raw.starts_with("invalid type") || raw.starts_with("invalid value");
            let hint = key
                .as_deref()
                .filter(|_| typed)
                .and_then(|k| what_to_write(k, first_quoted(&raw)));
            match (&key, hint) {
                (Some(k), Some(hint)) => {
                    let found = raw
                        .split_once(": ")
                        .map_or(raw.as_str(), |(_, r)| r)
                        .split(", expected")
                        .next()
                        .unwrap_or_default();
                    format!("{ctx}{k}: wrong type ({found}); {hint}")
                }
                (Some(k), None) if !raw.contains(&format!("`{k}`")) => format!("{ctx}{k}: {raw}"),
                _ => format!("{ctx}{raw}"),
            }
        };
        self.err(span, message)
    }

    pub(super) fn duration(
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

    /// A count that must be at least 1: `value`, or `default` when absent.
    pub(super) fn positive(
        &self,
        ctx: &str,
        key: &str,
        value: &Option<S<u32>>,
        default: u32,
    ) -> Result<u32, ConfigError> {
        match value {
            None => Ok(default),
            Some(s) if *s.get_ref() == 0 => {
                Err(self.at(s, format!("{ctx}{key} must be at least 1")))
            }
            Some(s) => Ok(*s.get_ref()),
        }
    }

    /// A share: above 0 and below 1 (at most 1 when `upper_inclusive`): `value`, or
    /// `default` when absent; the error shows `example`.
    pub(super) fn share(
        &self,
        ctx: &str,
        key: &str,
        value: &Option<S<f64>>,
        default: f64,
        upper_inclusive: bool,
        example: &str,
    ) -> Result<f64, ConfigError> {
        let Some(s) = value else { return Ok(default) };
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
                format!(
                    "{ctx}{key} ({x}) is out of range; it is a share in {range}, e.g. {example}"
                ),
            ))
        }
    }

    pub(super) fn address(
        &self,
        ctx: &str,
        key: &str,
        v: &S<String>,
    ) -> Result<SocketAddr, ConfigError> {
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

    pub(super) fn addresses(
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
        let store = self.store(raw.store, &state)?;
        let resolver = self.resolver(raw.resolver)?;
        let page = self.page(raw.page)?;
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
        let groups = self.groups(&raw.group, &zones)?;
        let maintenance = raw
            .maintenance
            .iter()
            .enumerate()
            .map(|(i, m)| self.maintenance(i + 1, m, &zones, &groups))
            .collect::<Result<Vec<_>, _>>()?;
        let canaries = raw
            .canary
            .iter()
            .enumerate()
            .map(|(i, c)| self.canary(i + 1, c))
            .collect::<Result<Vec<_>, _>>()?;
        let mut incident_templates = std::collections::BTreeMap::new();
        for (k, v) in &raw.incidents {
            if !INCIDENT_TEMPLATES.contains(&k.as_str()) {
                return Err(self.at(
                    v,
                    format!(
                        "[incidents] {k}: unknown incident template; the templates are {}",
                        INCIDENT_TEMPLATES.join(", ")
                    ),
                ));
            }
            if v.get_ref().trim().is_empty() {
                return Err(self.at(
                    v,
                    format!("[incidents] {k} must not be empty; write the text with {{placeholders}}, or remove the key for the default"),
                ));
            }
            incident_templates.insert(k.clone(), v.get_ref().clone());
        }
        let vantage = self.vantage(raw.vantage)?;
        let peers = raw
            .peer
            .iter()
            .enumerate()
            .map(|(i, p)| self.peer(i + 1, p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Config {
            vantage,
            peers,
            source: self.path.to_path_buf(),
            http,
            state,
            store,
            resolver,
            page,
            zones,
            maintenance,
            canaries,
            groups,
            incident_templates,
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

    fn page(&self, raw: Option<RawPage>) -> Result<PageConfig, ConfigError> {
        let name = match raw.and_then(|p| p.name) {
            None => DEFAULT_PAGE_NAME.to_string(),
            Some(v) => {
                let name = v.get_ref().trim();
                if name.is_empty() || name.len() > 200 {
                    return Err(self.at(
                        &v,
                        "[page] name: give a title of 1 to 200 characters, like \"Punktum dk — status\"".into(),
                    ));
                }
                name.to_string()
            }
        };
        Ok(PageConfig { name })
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

    fn store(
        &self,
        raw: Option<RawStore>,
        state: &StateConfig,
    ) -> Result<StoreConfig, ConfigError> {
        let ctx = "[store] ";
        let raw = raw.unwrap_or(RawStore {
            path: None,
            retention: None,
            minute_retention: None,
        });
        let path = match &raw.path {
            Some(v) if v.get_ref().trim().is_empty() => {
                return Err(self.at(
                    v,
                    format!("{ctx}path must not be empty; give a file name like \"nsprobe.db\""),
                ));
            }
            Some(v) => PathBuf::from(v.get_ref()),
            None => state.path.with_file_name("nsprobe.db"),
        };
        let day = Duration::from_secs(86_400);
        let retention = self.duration(ctx, "retention", &raw.retention, 90 * day, false)?;
        let minute_retention = self.duration(
            ctx,
            "minute_retention",
            &raw.minute_retention,
            7 * day,
            false,
        )?;
        if let Some(v) = &raw.minute_retention {
            if minute_retention > retention {
                return Err(self.at(
                    v,
                    format!("{ctx}minute_retention must not be longer than retention ({}); shorten it, like \"7d\"", humantime::format_duration(retention)),
                ));
            }
        }
        // The 24-hour response-time charts read the store's minute rows.
        let minute_retention = minute_retention.min(retention);
        // Both default to more; one of them was written shorter.
        if let Some(v) = (minute_retention < day)
            .then(|| raw.minute_retention.as_ref().or(raw.retention.as_ref()))
            .flatten()
        {
            return Err(self.at(v, format!("{ctx}minute_retention (and retention) must be at least 1d: the 24-hour response-time charts are read from the store's minutes; write \"1d\" or more, like \"7d\"")));
        }
        Ok(StoreConfig {
            path,
            retention,
            minute_retention,
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
        let positive =
            |key: &str, v: &Option<S<u32>>, default: u32| self.positive(c, key, v, default);
        let share = |key: &str, v: &Option<S<f64>>, default: f64, upper_inclusive: bool| {
            self.share(c, key, v, default, upper_inclusive, "0.5")
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
        groups: &[GroupConfig],
    ) -> Result<MaintenanceWindow, ConfigError> {
        let ctx = format!("maintenance #{index}: ");
        let c = ctx.as_str();
        // Known components: lower-cased lookup key → canonical name.
        let mut known: HashMap<String, String> = HashMap::new();
        for z in zones {
            known.insert(z.component.to_lowercase(), z.component.clone());
            for ns in &z.nameservers {
                known.insert(ns.name.to_lowercase(), ns.name.clone());
                // Qualified: this nameserver in this group only.
                let qualified = format!("{}/{}", z.component, ns.name);
                known.insert(qualified.to_lowercase(), qualified);
            }
        }
        // Service groups and components: the same naming rule as nameservers.
        for g in groups {
            known.insert(g.name.to_lowercase(), g.name.clone());
            for c in &g.components {
                known.insert(c.name.to_lowercase(), c.name.clone());
                let qualified = format!("{}/{}", g.name, c.name);
                known.insert(qualified.to_lowercase(), qualified);
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
                return Err(self.at(comp, format!("{c}components: {given:?} is not a known component; use a nameserver name, a zone component, or group/nameserver (service components likewise: a name, a group, or group/component): {names}")));
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
