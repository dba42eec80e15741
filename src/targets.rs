//! From configuration to the list of targets: nameserver addresses (fixed or
//! resolved, last known kept on failure) expanded over transports, and service
//! component checks expanded over their hosts' addresses (or fixed addresses, or URL).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::config::{Config, Endpoint, NameserverConfig};
use crate::probe::{CheckSpec, ProbeSpec};
use crate::resolve::NameResolver;
use crate::scheduler::{Target, TargetId};
use crate::state::{CheckKey, TargetKey};
use crate::UnixMs;

/// What is known about the addresses of one nameserver name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    /// Addresses to probe (fixed from config, or the last successful resolution).
    pub addrs: Vec<SocketAddr>,
    /// True when the addresses come from the config rather than resolution.
    pub fixed: bool,
    /// When the name was last resolved successfully.
    pub resolved_at: Option<UnixMs>,
    /// The error of the last resolution attempt, when it failed.
    pub last_error: Option<String>,
}

/// Addresses of every nameserver, keyed by (zone, nameserver name): a nameserver
/// listed in two zones with different fixed addresses probes each zone's own.
pub type AddressBook = BTreeMap<(String, String), Addresses>;

/// The result of resolving names, by name: addresses (port 53, sorted) or the error.
pub type Resolutions = BTreeMap<String, Result<Vec<SocketAddr>, String>>;

/// Port used for resolved nameserver addresses.
pub const DNS_PORT: u16 = 53;

/// Every (zone, nameserver) in the config.
fn nameservers(config: &Config) -> BTreeMap<(String, String), &NameserverConfig> {
    config
        .zones
        .iter()
        .flat_map(|z| {
            let zone = z.name.to_ascii();
            z.nameservers
                .iter()
                .map(move |ns| ((zone.clone(), ns.name.clone()), ns))
        })
        .collect()
}

/// Addresses of every check host name (`host = "..."` of a service check), by name.
/// The ports are the DNS port as resolved; each check applies its own.
pub type HostBook = BTreeMap<String, Addresses>;

/// Every host name a service check names, once.
fn check_hosts(config: &Config) -> Vec<String> {
    let mut hosts: Vec<String> = config
        .groups
        .iter()
        .flat_map(|g| g.components.iter())
        .flat_map(|c| c.checks.iter())
        .filter_map(|c| c.host().map(str::to_string))
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Names to resolve: every nameserver listed without fixed addresses in some zone, and
/// every service check host, once.
pub fn names_to_resolve(config: &Config) -> Vec<String> {
    let mut names: Vec<String> = config
        .zones
        .iter()
        .flat_map(|z| z.nameservers.iter())
        .filter(|ns| ns.addresses.is_empty())
        .map(|ns| ns.name.clone())
        .chain(check_hosts(config))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Resolve `names` (A and AAAA each), all at once. This is the network part; the
/// daemon runs it beside its loop and applies the result with [`apply`].
pub async fn resolve_names(resolver: &NameResolver, names: Vec<String>) -> Resolutions {
    let mut set = tokio::task::JoinSet::new();
    for name in names {
        let resolver = resolver.clone();
        set.spawn(async move {
            let res = resolver.resolve(&name).await;
            (
                name,
                res.map(|ips| to_sockets(&ips)).map_err(|e| e.to_string()),
            )
        });
    }
    let mut out = Resolutions::new();
    while let Some(joined) = set.join_next().await {
        if let Ok((name, res)) = joined {
            out.insert(name, res);
        }
    }
    out
}

/// Outcome of one resolution pass, for logging and metrics.
#[derive(Debug, Default)]
pub struct ResolvePass {
    /// Names whose resolution failed, with the error (once per name).
    pub failures: Vec<(String, String)>,
    /// True when any (zone, nameserver)'s address set changed.
    pub changed: bool,
}

/// Bring `book` in line with `config` and fresh `resolved` names (pure): fixed
/// addresses copied per zone, resolved names take their new addresses, a failed
/// resolution keeps the last known addresses and is reported in the returned pass,
/// never fatal. A name missing from `resolved` keeps what it had. Entries no longer
/// in the config are dropped.
pub fn apply(
    config: &Config,
    book: &mut AddressBook,
    resolved: &Resolutions,
    now: UnixMs,
) -> ResolvePass {
    let wanted = nameservers(config);
    let mut pass = ResolvePass::default();
    let before = book.len();
    book.retain(|key, _| wanted.contains_key(key));
    pass.changed |= book.len() != before;
    for (key, ns) in wanted {
        let entry = book.entry(key).or_default();
        if !ns.addresses.is_empty() {
            let fresh = Addresses {
                addrs: ns.addresses.clone(),
                fixed: true,
                resolved_at: None,
                last_error: None,
            };
            pass.changed |= *entry != fresh;
            *entry = fresh;
            continue;
        }
        entry.fixed = false;
        match resolved.get(&ns.name) {
            None => {}
            Some(Ok(addrs)) => {
                pass.changed |= entry.addrs != *addrs;
                entry.addrs = addrs.clone();
                entry.resolved_at = Some(now);
                entry.last_error = None;
            }
            Some(Err(msg)) => entry.last_error = Some(msg.clone()),
        }
    }
    for (name, res) in resolved {
        if let Err(msg) = res {
            pass.failures.push((name.clone(), msg.clone()));
        }
    }
    pass
}

/// Bring the check host book in line with `config` and fresh `resolved` names (pure), as
/// [`apply`] does for nameservers: a failed resolution keeps the last known addresses.
/// Returns true when any host's address set changed.
pub fn apply_hosts(
    config: &Config,
    hosts: &mut HostBook,
    resolved: &Resolutions,
    now: UnixMs,
) -> bool {
    let wanted = check_hosts(config);
    let before = hosts.len();
    hosts.retain(|h, _| wanted.contains(h));
    let mut changed = hosts.len() != before;
    for host in wanted {
        let entry = hosts.entry(host.clone()).or_default();
        match resolved.get(&host) {
            None => {}
            Some(Ok(addrs)) => {
                changed |= entry.addrs != *addrs;
                entry.addrs = addrs.clone();
                entry.resolved_at = Some(now);
                entry.last_error = None;
            }
            Some(Err(msg)) => entry.last_error = Some(msg.clone()),
        }
    }
    changed
}

/// Service check targets: one per (component, check, address) — a host's every resolved
/// address (IPv4 and IPv6), each fixed address, or the URL of an `http` check. Two checks
/// of a component landing on the same kind and target are one target.
pub fn expand_services(config: &Config, hosts: &HostBook) -> Vec<Target> {
    let mut out = Vec::new();
    for g in &config.groups {
        let group: Arc<str> = Arc::from(g.name.as_str());
        for c in &g.components {
            let component: Arc<str> = Arc::from(c.name.as_str());
            let mut keys: Vec<CheckKey> = Vec::new();
            for check in &c.checks {
                let addrs: Vec<Option<SocketAddr>> = match &check.endpoint {
                    Endpoint::Url => vec![None],
                    Endpoint::Addresses(a) => a.iter().copied().map(Some).collect(),
                    Endpoint::Host { name, port } => hosts
                        .get(name)
                        .map(|h| {
                            h.addrs
                                .iter()
                                .map(|a| Some(SocketAddr::new(a.ip(), *port)))
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                for addr in addrs {
                    let spec: CheckSpec = check.spec_for(addr);
                    let key = CheckKey {
                        kind: spec.kind(),
                        target: spec.target(),
                    };
                    if keys.contains(&key) {
                        continue;
                    }
                    keys.push(key.clone());
                    out.push(Target {
                        id: TargetId::Check {
                            group: group.clone(),
                            component: component.clone(),
                            key,
                        },
                        spec,
                        interval: check.interval,
                        timeout: check.timeout,
                        source: config.vantage.source_address,
                    });
                }
            }
        }
    }
    out
}

/// Resolve every name that needs it and apply the result to `book` (one-shot use:
/// `nsprobe check`; the daemon does the two steps separately).
pub async fn refresh(
    config: &Config,
    resolver: &NameResolver,
    book: &mut AddressBook,
    now: UnixMs,
) -> ResolvePass {
    let resolved = resolve_names(resolver, names_to_resolve(config)).await;
    apply(config, book, &resolved, now)
}

fn to_sockets(ips: &[IpAddr]) -> Vec<SocketAddr> {
    let mut v: Vec<SocketAddr> = ips
        .iter()
        .map(|ip| SocketAddr::new(*ip, DNS_PORT))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The zone label of vantage canary targets (not a zone: reports go to the vantage guard).
pub const CANARY_ZONE: &str = "(canary)";

/// Canary targets: probed at the shortest zone interval with that zone's timeout, so that
/// they fail as fast as the monitored servers when nsprobe's own network is down.
pub fn canaries(config: &Config) -> Vec<Target> {
    let Some(pace) = config.zones.iter().min_by_key(|z| z.interval) else {
        return Vec::new();
    };
    let zone: Arc<str> = Arc::from(CANARY_ZONE);
    config
        .canaries
        .iter()
        .map(|c| Target {
            id: TargetId::Dns {
                zone: zone.clone(),
                key: TargetKey::new(&c.name, c.address, c.transport),
            },
            spec: CheckSpec::DnsSoa(ProbeSpec {
                zone: c.zone.clone(),
                addr: c.address,
                transport: c.transport,
                timeout: pace.timeout,
                dnssec_ok: false,
                nsid: false,
                source: config.vantage.source_address,
            }),
            interval: pace.interval,
            timeout: pace.timeout,
            source: config.vantage.source_address,
        })
        .collect()
}

/// Expand the config over the known addresses and configured transports (no canaries: see
/// [`canaries`]).
pub fn expand(config: &Config, book: &AddressBook) -> Vec<Target> {
    let mut out = Vec::new();
    for zone in &config.zones {
        let key = zone.name.to_ascii();
        let zone_name: Arc<str> = Arc::from(key.as_str());
        for ns in &zone.nameservers {
            let Some(addrs) = book.get(&(key.clone(), ns.name.clone())) else {
                continue;
            };
            for addr in &addrs.addrs {
                for transport in &zone.transports {
                    out.push(Target {
                        id: TargetId::Dns {
                            zone: zone_name.clone(),
                            key: TargetKey {
                                server: ns.name.clone(),
                                addr: *addr,
                                transport: *transport,
                            },
                        },
                        spec: CheckSpec::DnsSoa(ProbeSpec {
                            zone: zone.name.clone(),
                            addr: *addr,
                            transport: *transport,
                            timeout: zone.timeout,
                            dnssec_ok: zone.dnssec,
                            nsid: zone.nsid,
                            source: config.vantage.source_address,
                        }),
                        interval: zone.interval,
                        timeout: zone.timeout,
                        source: config.vantage.source_address,
                    });
                }
            }
        }
    }
    out
}
