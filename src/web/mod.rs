//! The HTTP(S) listener in front of the API router: exporter-toolkit web config
//! (TLS, client certificates, basic auth, response headers), connection and
//! request-head limits, JSON errors, graceful shutdown, reload on SIGHUP.
//!
//! - [`config`]: `--web.config.file` YAML → [`WebConfig`];
//! - [`tls`]: rustls server config from it;
//! - [`auth`]: basic auth with a cache of successful bcrypt verifications;
//! - [`layers`]: per-request middleware (headers, head size, auth, JSON errors),
//!   plus gzip when the client accepts it;
//! - [`listener`]: the accept loop (connection limit, TLS handshake, hyper);
//! - [`hyper_errors`]: JSON bodies for the errors hyper answers by itself (431, 400).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::Router;
use tokio_rustls::TlsAcceptor;
use tower_http::compression::{CompressionLayer, CompressionLevel};

pub mod auth;
pub mod config;
pub mod hyper_errors;
pub mod layers;
pub mod listener;
pub mod tls;

pub use config::{NsprobeWeb, WebConfig, WebConfigError};
pub use listener::serve;

/// The web settings in force, swapped as a whole on reload.
pub struct Current {
    /// TLS acceptor; `None` serves plain HTTP.
    pub tls: Option<TlsAcceptor>,
    /// Basic auth; `None` when no users are configured.
    pub auth: Option<auth::BasicAuth>,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// Limits and the public-status-page switch.
    pub limits: NsprobeWeb,
}

impl std::fmt::Debug for Current {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Current")
            .field("tls", &self.tls.is_some())
            .field("auth", &self.auth)
            .field("headers", &self.headers)
            .field("limits", &self.limits)
            .finish()
    }
}

impl Current {
    /// Builds the settings from a validated config (reads certificate files).
    pub fn build(config: WebConfig, source: &Path) -> Result<Self, WebConfigError> {
        let tls = match &config.tls {
            Some(t) => Some(TlsAcceptor::from(tls::server_config(t, source)?)),
            None => None,
        };
        Ok(Current {
            tls,
            auth: (!config.users.is_empty()).then(|| auth::BasicAuth::new(config.users)),
            headers: config.headers,
            limits: config.nsprobe,
        })
    }
}

/// Shared handle to the current web settings and the file they came from.
#[derive(Debug, Clone)]
pub struct WebHandle {
    path: Option<PathBuf>,
    current: Arc<RwLock<Arc<Current>>>,
}

impl WebHandle {
    /// Loads `path` (or the defaults: plain HTTP, no auth, default limits).
    pub fn load(path: Option<&Path>) -> Result<Self, WebConfigError> {
        let current = match path {
            Some(p) => Current::build(config::load(p)?, p)?,
            None => Current::build(WebConfig::default(), Path::new("-"))?,
        };
        Ok(WebHandle {
            path: path.map(Path::to_path_buf),
            current: Arc::new(RwLock::new(Arc::new(current))),
        })
    }

    /// The settings in force now.
    pub fn current(&self) -> Arc<Current> {
        self.current.read().expect("web settings lock").clone()
    }

    /// Re-reads the web config file; on error the running settings stay.
    /// New connections and requests use the new settings; `max_connections`
    /// changes take effect on restart.
    pub fn reload(&self) -> Result<(), WebConfigError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let next = Current::build(config::load(path)?, path)?;
        *self.current.write().expect("web settings lock") = Arc::new(next);
        Ok(())
    }

    /// Whether a web config file is in use.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Wraps the API router in the per-request layers.
    pub fn wrap(&self, router: Router) -> Router {
        use axum::middleware::{from_fn, from_fn_with_state};
        router
            .layer(from_fn(layers::json_errors))
            .layer(from_fn_with_state(self.clone(), layers::guard))
            .layer(from_fn_with_state(self.clone(), layers::extra_headers))
            // Prometheus asks for gzip; the fastest level costs the least CPU per scrape
            // for nearly all of the size reduction on the repetitive exposition text.
            .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
    }
}
