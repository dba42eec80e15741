//! From configuration to the list of targets: nameserver addresses (fixed or
//! resolved, last known kept on failure) expanded over transports.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::config::{Config, NameserverConfig};
use crate::probe::ProbeSpec;
use crate::resolve::NameResolver;
use crate::scheduler::Target;
use crate::state::TargetKey;
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

/// Addresses of every nameserver, keyed by nameserver name.
pub type AddressBook = BTreeMap<String, Addresses>;

/// Port used for resolved nameserver addresses.
pub const DNS_PORT: u16 = 53;

/// Every distinct nameserver in the config (a name may serve several zones).
fn nameservers(config: &Config) -> BTreeMap<&str, &NameserverConfig> {
    config
        .zones
        .iter()
        .flat_map(|z| z.nameservers.iter())
        .map(|ns| (ns.name.as_str(), ns))
        .collect()
}

/// Outcome of one resolution pass, for logging and metrics.
#[derive(Debug, Default)]
pub struct ResolvePass {
    /// Names whose resolution failed, with the error.
    pub failures: Vec<(String, String)>,
    /// True when any name's address set changed.
    pub changed: bool,
}

/// Bring `book` in line with `config`: fixed addresses copied, names without
/// addresses resolved (A and AAAA). A failed resolution keeps the last known
/// addresses and is reported in the returned pass, never fatal. Names no longer
/// in the config are dropped.
pub async fn refresh(
    config: &Config,
    resolver: &NameResolver,
    book: &mut AddressBook,
    now: UnixMs,
) -> ResolvePass {
    let wanted = nameservers(config);
    let mut pass = ResolvePass::default();
    let before = book.len();
    book.retain(|name, _| wanted.contains_key(name.as_str()));
    pass.changed |= book.len() != before;
    for (name, ns) in wanted {
        let entry = book.entry(name.to_string()).or_default();
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
        match resolver.resolve(name).await {
            Ok(ips) => {
                let addrs = to_sockets(&ips);
                pass.changed |= entry.addrs != addrs;
                entry.addrs = addrs;
                entry.resolved_at = Some(now);
                entry.last_error = None;
            }
            Err(e) => {
                let msg = e.to_string();
                pass.failures.push((name.to_string(), msg.clone()));
                entry.last_error = Some(msg);
            }
        }
    }
    pass
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
            zone: zone.clone(),
            key: TargetKey::new(&c.name, c.address, c.transport),
            spec: ProbeSpec {
                zone: c.zone.clone(),
                addr: c.address,
                transport: c.transport,
                timeout: pace.timeout,
                dnssec_ok: false,
                nsid: false,
            },
            interval: pace.interval,
        })
        .collect()
}

/// Expand the config over the known addresses and configured transports (no canaries: see
/// [`canaries`]).
pub fn expand(config: &Config, book: &AddressBook) -> Vec<Target> {
    let mut out = Vec::new();
    for zone in &config.zones {
        let zone_name: Arc<str> = Arc::from(zone.name.to_ascii().as_str());
        for ns in &zone.nameservers {
            let Some(addrs) = book.get(&ns.name) else {
                continue;
            };
            for addr in &addrs.addrs {
                for transport in &zone.transports {
                    out.push(Target {
                        zone: zone_name.clone(),
                        key: TargetKey {
                            server: ns.name.clone(),
                            addr: *addr,
                            transport: *transport,
                        },
                        spec: ProbeSpec {
                            zone: zone.name.clone(),
                            addr: *addr,
                            transport: *transport,
                            timeout: zone.timeout,
                            dnssec_ok: zone.dnssec,
                            nsid: zone.nsid,
                        },
                        interval: zone.interval,
                    });
                }
            }
        }
    }
    out
}
