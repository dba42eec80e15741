//! The private serde layer: the file's shape, unknown keys rejected, values
//! wrapped in [`Spanned`] so validation errors can point at them.

use serde::Deserialize;
use toml::Spanned;

pub(super) type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) http: Option<RawHttp>,
    pub(super) state: Option<RawState>,
    pub(super) store: Option<RawStore>,
    pub(super) resolver: Option<RawResolver>,
    pub(super) page: Option<RawPage>,
    #[serde(default)]
    pub(super) zone: Vec<RawZone>,
    #[serde(default)]
    pub(super) maintenance: Vec<RawMaintenance>,
    #[serde(default)]
    pub(super) canary: Vec<RawCanary>,
    #[serde(default)]
    pub(super) incidents: std::collections::BTreeMap<String, S<String>>,
    #[serde(default)]
    pub(super) group: Vec<RawGroup>,
    pub(super) vantage: Option<RawVantage>,
    #[serde(default)]
    pub(super) peer: Vec<RawPeer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVantage {
    pub(super) name: Option<S<String>>,
    pub(super) location: Option<S<String>>,
    pub(super) source_address: Option<S<String>>,
    #[serde(default)]
    pub(super) observation_tokens: Vec<S<String>>,
    pub(super) quorum: Option<S<u32>>,
    pub(super) max_age: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPeer {
    pub(super) url: S<String>,
    pub(super) token: Option<S<String>>,
    pub(super) ca_file: Option<S<String>>,
    pub(super) client_cert: Option<S<String>>,
    pub(super) client_key: Option<S<String>>,
    pub(super) interval: Option<S<String>>,
    pub(super) timeout: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGroup {
    pub(super) name: S<String>,
    pub(super) partial_outage_share: Option<S<f64>>,
    #[serde(default)]
    pub(super) component: Vec<RawComponent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawComponent {
    pub(super) name: S<String>,
    pub(super) interval: Option<S<String>>,
    pub(super) timeout: Option<S<String>>,
    pub(super) fail_after: Option<S<u32>>,
    pub(super) recover_after: Option<S<u32>>,
    pub(super) slow_after: Option<S<String>>,
    pub(super) loss_after: Option<S<f64>>,
    pub(super) stats_window: Option<S<String>>,
    pub(super) min_samples: Option<S<u32>>,
    pub(super) confirm_after: Option<S<String>>,
    pub(super) clear_after: Option<S<String>>,
    pub(super) cert_warn_before: Option<S<String>>,
    #[serde(default)]
    pub(super) check: Vec<RawCheck>,
}

/// Every key any check kind takes; validation rejects the ones that do not apply to `kind`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCheck {
    pub(super) kind: S<String>,
    pub(super) interval: Option<S<String>>,
    pub(super) timeout: Option<S<String>>,
    pub(super) host: Option<S<String>>,
    pub(super) port: Option<S<u16>>,
    pub(super) address: Option<S<String>>,
    pub(super) addresses: Option<S<Vec<S<String>>>>,
    pub(super) url: Option<S<String>>,
    pub(super) send: Option<S<String>>,
    pub(super) expect: Option<S<String>>,
    pub(super) query: Option<S<String>>,
    pub(super) max_read: Option<S<u32>>,
    pub(super) server_name: Option<S<String>>,
    pub(super) ca_file: Option<S<String>>,
    pub(super) insecure_skip_verify: Option<S<bool>>,
    pub(super) client_cert: Option<S<String>>,
    pub(super) client_key: Option<S<String>>,
    pub(super) expect_status: Option<S<String>>,
    pub(super) body: Option<S<String>>,
    pub(super) max_redirects: Option<S<u32>>,
    pub(super) max_body: Option<S<u32>>,
    pub(super) max_frame: Option<S<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCanary {
    pub(super) name: S<String>,
    pub(super) address: S<String>,
    pub(super) zone: Option<S<String>>,
    pub(super) transport: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPage {
    pub(super) name: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    pub(super) listen: Option<S<String>>,
    pub(super) enable_reload: Option<bool>,
    pub(super) request_timeout: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawState {
    pub(super) path: Option<S<String>>,
    pub(super) save_interval: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub(super) path: Option<S<String>>,
    pub(super) retention: Option<S<String>>,
    pub(super) minute_retention: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawResolver {
    #[serde(default)]
    pub(super) servers: Vec<S<String>>,
    pub(super) refresh: Option<S<String>>,
    pub(super) timeout: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawZone {
    pub(super) name: S<String>,
    pub(super) component: Option<S<String>>,
    pub(super) interval: Option<S<String>>,
    pub(super) timeout: Option<S<String>>,
    pub(super) transports: Option<S<Vec<S<String>>>>,
    pub(super) dnssec: Option<bool>,
    pub(super) nsid: Option<bool>,
    pub(super) stale_after: Option<S<String>>,
    pub(super) stale_factor: Option<S<f64>>,
    pub(super) stale_min_samples: Option<S<u32>>,
    pub(super) fail_after: Option<S<u32>>,
    pub(super) recover_after: Option<S<u32>>,
    pub(super) slow_after: Option<S<String>>,
    pub(super) window: Option<S<u32>>,
    pub(super) loss_after: Option<S<f64>>,
    pub(super) lag_after: Option<S<String>>,
    pub(super) partial_outage_share: Option<S<f64>>,
    pub(super) rrsig_warn_before: Option<S<String>>,
    pub(super) stats_window: Option<S<String>>,
    pub(super) min_samples: Option<S<u32>>,
    pub(super) confirm_after: Option<S<String>>,
    pub(super) clear_after: Option<S<String>>,
    pub(super) rollback_after: Option<S<String>>,
    #[serde(default)]
    pub(super) nameservers: Vec<RawNameserver>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNameserver {
    pub(super) name: S<String>,
    #[serde(default)]
    pub(super) addresses: Vec<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMaintenance {
    pub(super) components: S<Vec<S<String>>>,
    pub(super) start: S<toml::Value>,
    pub(super) end: S<toml::Value>,
    #[serde(default)]
    pub(super) reason: String,
}
