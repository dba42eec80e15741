//! Resolution of nameserver names (`a.nic.dk`) to addresses, with hickory-resolver.
//!
//! A and AAAA are looked up separately, so that one family failing (timeout,
//! SERVFAIL) or being empty (NODATA) does not hide the other. Nothing is served
//! from a cache: every [`NameResolver::resolve`] asks the recursive resolvers
//! again, so a renumbered nameserver is seen on the next refresh.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use hickory_proto::rr::{Name, RData, RecordType};
use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
    ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::{Resolver, TokioResolver};

use crate::config::ResolverSettings;

/// Why a name could not be resolved, or the resolver not built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The resolver could not be configured (e.g. unreadable `/etc/resolv.conf`).
    #[error("cannot set up the resolver: {0}")]
    Setup(String),
    /// The name is not a valid DNS name.
    #[error("cannot resolve {name:?}: not a valid host name ({reason})")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Neither the A nor the AAAA lookup produced an address.
    #[error("cannot resolve {name}: A: {a}; AAAA: {aaaa}")]
    NoAddress {
        /// The fully-qualified name that was looked up.
        name: String,
        /// What happened to the A lookup.
        a: FamilyFailure,
        /// What happened to the AAAA lookup.
        aaaa: FamilyFailure,
    },
}

impl ResolveError {
    /// True if the resolvers said the name does not exist (NXDOMAIN).
    pub fn is_nx_domain(&self) -> bool {
        matches!(
            self,
            ResolveError::NoAddress { a, aaaa, .. }
                if *a == FamilyFailure::NxDomain || *aaaa == FamilyFailure::NxDomain
        )
    }
}

/// What went wrong for one address family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FamilyFailure {
    /// The name does not exist.
    NxDomain,
    /// The name exists but has no record of this type.
    NoData,
    /// No answer within the timeout (after all attempts).
    Timeout,
    /// Anything else (SERVFAIL, REFUSED, network error…), described.
    Other(String),
}

impl fmt::Display for FamilyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FamilyFailure::NxDomain => f.write_str("NXDOMAIN (name does not exist)"),
            FamilyFailure::NoData => f.write_str("no records (NODATA)"),
            FamilyFailure::Timeout => f.write_str("timed out"),
            FamilyFailure::Other(s) => f.write_str(s),
        }
    }
}

impl From<&NetError> for FamilyFailure {
    fn from(e: &NetError) -> Self {
        if e.is_nx_domain() {
            FamilyFailure::NxDomain
        } else if e.is_no_records_found() {
            FamilyFailure::NoData
        } else if matches!(e, NetError::Timeout) {
            FamilyFailure::Timeout
        } else {
            FamilyFailure::Other(e.to_string())
        }
    }
}

/// Resolves nameserver names to their IPv4 and IPv6 addresses, without caching.
#[derive(Clone)]
pub struct NameResolver {
    resolver: TokioResolver,
}

impl fmt::Debug for NameResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NameResolver")
            .field("options", self.resolver.options())
            .finish_non_exhaustive()
    }
}

impl NameResolver {
    /// Build a resolver: `settings.servers` over UDP and TCP, or the system's
    /// `/etc/resolv.conf` when that list is empty. The hosts file is never read;
    /// each query times out after `settings.timeout` and is tried twice.
    ///
    /// Must be called within a Tokio runtime.
    pub fn new(settings: &ResolverSettings) -> Result<Self, ResolveError> {
        let mut builder = if settings.servers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| ResolveError::Setup(e.to_string()))?
        } else {
            let servers = settings.servers.iter().map(server_config).collect();
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            )
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.timeout = settings.timeout;
        opts.attempts = 2;
        // No stale answers between refreshes: nothing is cached.
        opts.cache_size = 0;
        let resolver = builder
            .build()
            .map_err(|e| ResolveError::Setup(e.to_string()))?;
        Ok(NameResolver { resolver })
    }

    /// The IPv4 and IPv6 addresses of `name` (a trailing dot is optional; the
    /// name is always taken as fully qualified, no search domains), sorted and
    /// deduplicated. Errs only if neither family produced an address.
    pub async fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let fq = if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.")
        };
        let qname = Name::from_ascii(&fq).map_err(|e| ResolveError::InvalidName {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        // Belt and braces: `cache_size = 0` alone already defeats caching (as does
        // this call alone; tests/resolve.rs checks it), but an entry may linger
        // briefly in the zero-capacity cache under concurrent lookups.
        self.resolver.clear_cache();
        let (a, aaaa) = tokio::join!(
            self.family(&qname, RecordType::A),
            self.family(&qname, RecordType::AAAA)
        );
        match (a, aaaa) {
            (Err(a), Err(aaaa)) => Err(ResolveError::NoAddress { name: fq, a, aaaa }),
            (a, aaaa) => {
                let mut ips: Vec<IpAddr> = a.unwrap_or_default();
                ips.extend(aaaa.unwrap_or_default());
                ips.sort();
                ips.dedup();
                Ok(ips)
            }
        }
    }

    /// Addresses of one family; an empty answer counts as NODATA.
    async fn family(&self, name: &Name, rtype: RecordType) -> Result<Vec<IpAddr>, FamilyFailure> {
        let lookup = self
            .resolver
            .lookup(name.clone(), rtype)
            .await
            .map_err(|e| FamilyFailure::from(&e))?;
        let ips: Vec<IpAddr> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) if rtype == RecordType::A => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) if rtype == RecordType::AAAA => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect();
        if ips.is_empty() {
            Err(FamilyFailure::NoData)
        } else {
            Ok(ips)
        }
    }
}

/// One configured recursive resolver, reachable over UDP and TCP on its port.
fn server_config(addr: &SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
}
