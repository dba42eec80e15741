//! Validated types of the status page's other components: `[[group]]` →
//! `[[group.component]]` → `[[group.component.check]]`.
//!
//! A service component is identified by (group, name) everywhere. Each check is one
//! [`CheckSpec`] template plus where to send it ([`Endpoint`]); the targets module turns
//! templates into one scheduled target per address (or URL).

use std::net::SocketAddr;
use std::time::Duration;

use crate::probe::{CheckSpec, Kind};

/// One `[[group]]`: a status-page group of service components.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    /// The group's name (its own component on the status page), e.g. `Registry services`.
    pub name: String,
    /// Share of members in `major_outage` above which the group is a partial outage.
    pub partial_outage_share: f64,
    /// The group's components (non-empty, unique names).
    pub components: Vec<ComponentConfig>,
}

/// One `[[group.component]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentConfig {
    /// The component's name, unique within its group (e.g. `EPP`).
    pub name: String,
    /// Thresholds turning check results into a status.
    pub thresholds: ServiceThresholds,
    /// The checks (at least one).
    pub checks: Vec<CheckConfig>,
}

/// Thresholds of a service component (keys of `[[group.component]]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceThresholds {
    /// Consecutive failures before a target counts as down (`fail_after`, default 3).
    pub fail_after: u32,
    /// Consecutive successes before a down target counts as up again (`recover_after`, default 2).
    pub recover_after: u32,
    /// Median response time over the evidence window above this = degraded (`slow_after`, default 2s).
    pub slow_after: Duration,
    /// Lower 95 % bound of the loss share above which the component is degraded (`loss_after`, default 0.2).
    pub loss_after: f64,
    /// Span of the evidence window for loss and slowness (`stats_window`, default 10m).
    pub stats_window: Duration,
    /// Successes needed in the window before slowness is judged (`min_samples`, default 5).
    pub min_samples: u32,
    /// A worse status is published only after it has held this long (`confirm_after`, default 30s).
    pub confirm_after: Duration,
    /// A better status is published only after it has held this long (`clear_after`, default 2m).
    pub clear_after: Duration,
    /// A server certificate expiring within this = degraded (`cert_warn_before`, default 14d).
    pub cert_warn_before: Duration,
}

impl Default for ServiceThresholds {
    fn default() -> Self {
        ServiceThresholds {
            fail_after: 3,
            recover_after: 2,
            slow_after: Duration::from_secs(2),
            loss_after: 0.2,
            stats_window: Duration::from_secs(10 * 60),
            min_samples: 5,
            confirm_after: Duration::from_secs(30),
            clear_after: Duration::from_secs(2 * 60),
            cert_warn_before: Duration::from_secs(14 * 24 * 3600),
        }
    }
}

/// Default time between two runs of a check.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(30);
/// Default deadline of a check.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// One `[[group.component.check]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckConfig {
    /// Time between two runs (per target).
    pub interval: Duration,
    /// Deadline of one run; shorter than `interval`.
    pub timeout: Duration,
    /// Where the check goes.
    pub endpoint: Endpoint,
    /// The check with a placeholder address; [`CheckConfig::spec_for`] fills in each target's.
    pub template: CheckSpec,
}

/// Where a check connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `host` (+ `port`): resolved (A and AAAA) like nameserver names; one target per address.
    Host {
        /// The host name.
        name: String,
        /// The port every resolved address gets.
        port: u16,
    },
    /// `address` / `addresses`: fixed, one target each.
    Addresses(Vec<SocketAddr>),
    /// `http`: the URL (one target; reqwest resolves it, or `address` pins it).
    Url,
}

impl CheckConfig {
    /// The check's kind.
    pub fn kind(&self) -> Kind {
        self.template.kind()
    }

    /// The host name to resolve, if the check names one.
    pub fn host(&self) -> Option<&str> {
        match &self.endpoint {
            Endpoint::Host { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The template aimed at `addr` (for `http`, the template unchanged).
    pub fn spec_for(&self, addr: Option<SocketAddr>) -> CheckSpec {
        let mut spec = self.template.clone();
        if let Some(a) = addr {
            match &mut spec {
                CheckSpec::DnsSoa(s) => s.addr = a,
                CheckSpec::Tcp(s) => s.addr = a,
                CheckSpec::Tls(s) => s.addr = a,
                CheckSpec::Http(_) => {}
                CheckSpec::Whois(s) => s.addr = a,
                CheckSpec::Epp(s) => s.addr = a,
            }
        }
        spec
    }
}
