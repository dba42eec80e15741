//! `[vantage]` (who this nsprobe is, where it probes from, who may pull its observations)
//! and `[[peer]]` (the other vantages a hub pulls and merges into quorum statuses).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `[vantage]`: this instance's identity as a vantage point.
#[derive(Debug, Clone, PartialEq)]
pub struct VantageConfig {
    /// The vantage name carried by every observation (`cph-1`); default the host name, or
    /// `local` when it cannot be read.
    pub name: String,
    /// Free text shown in `/api/v1/vantages` (`Copenhagen, DK`); empty when not set.
    pub location: String,
    /// Local address DNS probes are sent from (UDP and TCP sockets are bound to it before
    /// connecting); used for targets of the same address family.
    pub source_address: Option<IpAddr>,
    /// Bearer tokens accepted by `GET /api/v1/observations`; empty = the endpoint refuses
    /// every request (403).
    pub observation_tokens: Vec<String>,
    /// Number of vantages that must see a nameserver down for an outage; None = a majority
    /// of the vantages reporting.
    pub quorum: Option<usize>,
    /// A vantage's observation of a component older than this no longer votes (default 30s).
    pub max_age: Duration,
}

/// One `[[peer]]`: another nsprobe whose observations this one (the hub) pulls.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerConfig {
    /// Base URL of the peer's HTTP server (`https://fra-1.example.net:9853`).
    pub url: String,
    /// Bearer token sent with every pull (one of the peer's `observation_tokens`).
    pub token: Option<String>,
    /// PEM CA bundle to verify the peer's certificate (default: the webpki roots).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for mTLS (with `client_key`).
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// How often the peer is pulled (default 2s).
    pub interval: Duration,
    /// Timeout of one pull (default 5s).
    pub timeout: Duration,
}

/// The vantage name when `[vantage] name` is not set: the host name, or `local`.
pub fn default_vantage_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".to_string())
}

impl Default for VantageConfig {
    fn default() -> VantageConfig {
        VantageConfig {
            name: default_vantage_name(),
            location: String::new(),
            source_address: None,
            observation_tokens: Vec::new(),
            quorum: None,
            max_age: Duration::from_secs(30),
        }
    }
}
