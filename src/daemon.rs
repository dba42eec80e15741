//! The daemon: wires config → scheduler → zone state → status → metrics/API.
//!
//! One task (the loop in [`run`]) owns every write: it receives probe reports,
//! feeds them to the pure [`ZoneState`]s, re-resolves names, reloads the config,
//! saves state and logs status changes. HTTP handlers only take the [`Shared`]
//! lock briefly to read.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, error, info, warn};

use crate::config::{self, Config, ZoneConfig};
use crate::metrics::Metrics;
use crate::persist::{self, PersistedState};
use crate::resolve::NameResolver;
use crate::scheduler::{Report, Scheduler};
use crate::state::{Event, ZoneState};
use crate::status::{self, Status, ZoneStatus};
use crate::targets::{self, AddressBook};
use crate::{now_ms, UnixMs};

/// One watched zone: its config, its pure state, and its last evaluated status.
#[derive(Debug)]
pub struct ZoneEntry {
    /// The zone's configuration.
    pub config: ZoneConfig,
    /// Everything observed about the zone.
    pub state: ZoneState,
}

impl ZoneEntry {
    /// A fresh entry for a configured zone. Its nameservers are declared at once, so
    /// they are components from the first request on, before any address is known.
    pub fn new(config: &ZoneConfig) -> ZoneEntry {
        let mut state = ZoneState::new(&zone_key(config), config.thresholds.clone());
        state.declare_servers(config.nameservers.iter().map(|n| n.name.as_str()));
        ZoneEntry {
            config: config.clone(),
            state,
        }
    }
}

/// Outcome of the last configuration (re)load.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    /// Whether the last attempt succeeded.
    pub ok: bool,
    /// When the config was last loaded successfully.
    pub last_success: UnixMs,
    /// The error of the last attempt, if it failed.
    pub error: Option<String>,
}

/// Everything the daemon knows, behind one lock.
#[derive(Debug)]
pub struct Inner {
    /// The configuration in force.
    pub config: Arc<Config>,
    /// Watched zones, keyed by fully-qualified zone name (`dk.`).
    pub zones: BTreeMap<String, ZoneEntry>,
    /// Addresses of every nameserver.
    pub addresses: AddressBook,
    /// Outcome of the last config (re)load.
    pub reload: ReloadStatus,
    /// Last status and since when, per component name (for logging changes and `updated_at`).
    pub component_since: BTreeMap<String, (Status, UnixMs)>,
    /// When the daemon started.
    pub started_at: UnixMs,
    /// The address the HTTP server is bound to (the configured one until a restart).
    pub http_addr: SocketAddr,
}

impl Inner {
    /// True when every target of every zone has been probed at least once.
    pub fn all_targets_probed(&self) -> bool {
        self.zones.values().all(|z| {
            z.state
                .servers()
                .values()
                .all(|s| s.targets.values().all(|t| t.last_at.is_some()))
        })
    }

    /// Evaluate every zone's status at `now`.
    pub fn statuses(&self, now: UnixMs) -> Vec<(&ZoneEntry, ZoneStatus)> {
        self.zones
            .values()
            .map(|z| {
                let s = status::evaluate_zone(
                    &z.state,
                    &z.config.component,
                    &self.config.maintenance,
                    now,
                );
                (z, s)
            })
            .collect()
    }
}

/// A request to reload the configuration, answered with the outcome.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// State shared between the daemon loop and the HTTP server.
#[derive(Debug)]
pub struct Shared {
    inner: Mutex<Inner>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    ready: AtomicBool,
    reload_tx: mpsc::Sender<ReloadRequest>,
}

impl Shared {
    /// Lock the daemon's state for reading or writing. Keep the guard short-lived.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave Inner half-updated in a way
        // that matters more than stopping the daemon would; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True once every target has been probed at least once.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Ask the daemon loop to reload its configuration and wait for the outcome.
    pub async fn reload(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.reload_tx
            .send(tx)
            .await
            .map_err(|_| "daemon is shutting down".to_string())?;
        rx.await
            .map_err(|_| "daemon is shutting down".to_string())?
    }
}

/// Options of `nsprobe run` beyond the config file.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The config file.
    pub config_path: PathBuf,
    /// Override of `http.listen` (e.g. port 0 in tests).
    pub listen: Option<SocketAddr>,
    /// `--web.config.file`: TLS, basic auth and HTTP limits (exporter-toolkit format).
    pub web_config: Option<PathBuf>,
}

/// Handle on a started daemon: its HTTP address and a way to stop it.
pub struct Running {
    /// Address the HTTP server listens on.
    pub http_addr: SocketAddr,
    /// Shared state (for tests and embedding).
    pub shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stop gracefully (state saved) and wait for the daemon to finish.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await.context("daemon task panicked")?
    }

    /// Wait until the daemon stops by itself (signal).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("daemon task panicked")?
    }
}

/// Start the daemon: load config and state, bind HTTP, start probing.
///
/// Returns once the HTTP server is bound; the daemon runs in background tasks
/// until [`Running::shutdown`] or SIGTERM/SIGINT.
pub async fn start(opts: RunOptions) -> anyhow::Result<Running> {
    let config = Arc::new(config::load(&opts.config_path)?);
    let now = now_ms();
    let metrics = Metrics::new();
    metrics.set_reload(true, now);

    let mut zones = BTreeMap::new();
    for z in &config.zones {
        zones.insert(zone_key(z), ZoneEntry::new(z));
    }
    restore_state(&config.state.path, &mut zones);

    let web = crate::web::WebHandle::load(opts.web_config.as_deref())?;
    let resolver = NameResolver::new(&config.resolver).context("cannot set up the resolver")?;
    let listen = opts.listen.unwrap_or(config.http.listen);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (http.listen)"))?;
    let http_addr = listener.local_addr()?;

    let (reload_tx, reload_rx) = mpsc::channel(4);
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            config: config.clone(),
            zones,
            addresses: AddressBook::new(),
            reload: ReloadStatus {
                ok: true,
                last_success: now,
                error: None,
            },
            component_since: BTreeMap::new(),
            started_at: now,
            http_addr,
        }),
        metrics,
        ready: AtomicBool::new(false),
        reload_tx,
    });
    let (stop_tx, stop_rx) = watch::channel(false);

    let router = crate::api::router(shared.clone());
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(async move {
        crate::web::serve(listener, router, web, async move {
            stopped(&mut http_stop).await
        })
        .await;
    });
    info!(%http_addr, config = %opts.config_path.display(), "nsprobe started");

    let daemon = Daemon {
        shared: shared.clone(),
        config_path: opts.config_path.clone(),
        resolver,
    };
    let task = tokio::spawn(async move {
        let res = daemon.run(reload_rx, stop_rx).await;
        let _ = http.await;
        res
    });
    Ok(Running {
        http_addr,
        shared,
        stop: stop_tx,
        task,
    })
}

/// Run until SIGTERM/SIGINT, reloading on SIGHUP.
pub async fn run(opts: RunOptions) -> anyhow::Result<()> {
    let running = start(opts).await?;
    let stop = running.stop.clone();
    let signals = tokio::spawn(async move {
        wait_for_termination().await;
        let _ = stop.send(true);
    });
    let res = running.wait().await;
    signals.abort();
    res
}

#[cfg(unix)]
async fn wait_for_termination() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: shutting down"),
        _ = int.recv() => info!("SIGINT: shutting down"),
    }
}

#[cfg(not(unix))]
async fn wait_for_termination() {
    let _ = tokio::signal::ctrl_c().await;
}

/// The zone map key: the fully-qualified zone name.
pub fn zone_key(z: &ZoneConfig) -> String {
    z.name.to_ascii()
}

fn restore_state(path: &Path, zones: &mut BTreeMap<String, ZoneEntry>) {
    match persist::load(path) {
        Ok(None) => info!(path = %path.display(), "no saved state; starting fresh"),
        Ok(Some(saved)) => {
            let mut n = 0;
            for (name, pz) in saved.zones {
                if let Some(z) = zones.get_mut(&name) {
                    z.state.restore(pz);
                    n += 1;
                }
            }
            info!(path = %path.display(), zones = n, saved_at = saved.saved_at, "state restored");
        }
        Err(e) => warn!(path = %path.display(), error = %e, "ignoring unreadable state file"),
    }
}

struct Daemon {
    shared: Arc<Shared>,
    config_path: PathBuf,
    resolver: NameResolver,
}

/// Largest number of reports applied under one lock acquisition.
const REPORT_BATCH: usize = 1024;

/// After applying a batch, the loop waits this long so that reports arriving
/// meanwhile are applied together: probes finish spread over the interval, and
/// waking the loop (and taking the lock) once per probe costs more CPU than the
/// probe itself. State lags reality by at most this much.
const REPORT_COALESCE: Duration = Duration::from_millis(20);

impl Daemon {
    async fn run(
        self,
        mut reload_rx: mpsc::Receiver<ReloadRequest>,
        mut stop_rx: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let (report_tx, mut report_rx) = mpsc::channel::<Report>(4096);
        let mut scheduler = Scheduler::new(report_tx);
        self.resolve_and_sync(&mut scheduler).await;

        let (mut resolve_tick, mut save_tick) = self.periodic_timers();
        let mut status_tick = tokio::time::interval(Duration::from_secs(1));
        let mut hup = hangup_stream();
        let mut batch = Vec::with_capacity(REPORT_BATCH);

        loop {
            let mut reloaded = false;
            tokio::select! {
                n = report_rx.recv_many(&mut batch, REPORT_BATCH) => {
                    if n == 0 { break; }
                    self.apply(&mut batch);
                    tokio::time::sleep(REPORT_COALESCE).await;
                }
                _ = status_tick.tick() => self.check_statuses(&scheduler),
                _ = resolve_tick.tick() => self.resolve_and_sync(&mut scheduler).await,
                _ = save_tick.tick() => self.save(),
                Some(reply) = reload_rx.recv() => {
                    let res = self.reload(&mut scheduler).await;
                    reloaded = res.is_ok();
                    let _ = reply.send(res);
                }
                _ = recv_hangup(&mut hup) => {
                    info!("SIGHUP: reloading configuration");
                    reloaded = self.reload(&mut scheduler).await.is_ok();
                }
                _ = stopped(&mut stop_rx) => break,
            }
            if reloaded {
                (resolve_tick, save_tick) = self.periodic_timers();
            }
        }
        scheduler.stop();
        self.save();
        info!("nsprobe stopped");
        Ok(())
    }

    /// Timers for name re-resolution and state saving, from the config in force.
    /// Their first tick is one period from now.
    fn periodic_timers(&self) -> (tokio::time::Interval, tokio::time::Interval) {
        let cfg = self.shared.lock().config.clone();
        let start = tokio::time::Instant::now();
        (
            tokio::time::interval_at(start + cfg.resolver.refresh, cfg.resolver.refresh),
            tokio::time::interval_at(start + cfg.state.save_interval, cfg.state.save_interval),
        )
    }

    /// Feed a batch of reports to the zone states and metrics.
    fn apply(&self, batch: &mut Vec<Report>) {
        let mut inner = self.shared.lock();
        for report in batch.drain(..) {
            let Some(zone) = inner.zones.get_mut(&*report.zone) else {
                continue; // zone removed by a reload while the probe ran
            };
            self.shared.metrics.observe_slip(report.slip);
            let events = zone.state.observe(report.observation);
            for ev in &events {
                self.shared.metrics.event(&report.zone, ev);
                log_event(&report.zone, ev);
            }
        }
    }

    /// Evaluate statuses, log changes, update readiness.
    fn check_statuses(&self, scheduler: &Scheduler) {
        let now = now_ms();
        let mut inner = self.shared.lock();
        let mut changes = Vec::new();
        for (_, zs) in inner.statuses(now) {
            for c in std::iter::once(&zs.group).chain(zs.servers.iter()) {
                changes.push((c.name.clone(), c.status, c.reason.clone()));
            }
        }
        for (name, st, reason) in changes {
            match inner.component_since.get(&name) {
                Some((prev, _)) if *prev == st => {}
                prev => {
                    let from = prev.map(|(p, _)| p.as_str()).unwrap_or("none");
                    if st == Status::Operational && prev.is_none() {
                        debug!(component = %name, status = st.as_str(), %reason, "status");
                    } else {
                        info!(component = %name, from, to = st.as_str(), %reason, "status change");
                    }
                    inner.component_since.insert(name, (st, now));
                }
            }
        }
        if !self.shared.is_ready() && inner.all_targets_probed() && !scheduler.is_empty() {
            self.shared.ready.store(true, Ordering::Relaxed);
            info!(targets = scheduler.len(), "first probe round done: ready");
        }
    }

    /// Re-resolve nameserver names and bring targets in line with config and addresses.
    async fn resolve_and_sync(&self, scheduler: &mut Scheduler) {
        let (config, mut book) = {
            let inner = self.shared.lock();
            (inner.config.clone(), inner.addresses.clone())
        };
        let pass = targets::refresh(&config, &self.resolver, &mut book, now_ms()).await;
        for (name, err) in &pass.failures {
            self.shared.metrics.resolve_failure(name);
            warn!(server = %name, error = %err, "cannot resolve nameserver; keeping last known addresses");
        }
        let targets = targets::expand(&config, &book);
        let mut inner = self.shared.lock();
        for (zname, zone) in inner.zones.iter_mut() {
            let keys: Vec<_> = targets
                .iter()
                .filter(|t| &*t.zone == zname.as_str())
                .map(|t| t.key.clone())
                .collect();
            zone.state
                .declare_servers(zone.config.nameservers.iter().map(|n| n.name.as_str()));
            zone.state.sync_targets(&keys);
        }
        inner.addresses = book;
        self.shared.metrics.retain_targets(&targets);
        if pass.changed {
            info!(targets = targets.len(), "targets updated");
        }
        scheduler.sync(targets);
    }

    /// Re-read the config file; on failure keep the old config running.
    async fn reload(&self, scheduler: &mut Scheduler) -> Result<(), String> {
        let now = now_ms();
        let new = match config::load(&self.config_path) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                let msg = e.to_string();
                error!(error = %msg, "config reload failed; keeping the running config");
                self.shared.metrics.set_reload(false, now);
                let mut inner = self.shared.lock();
                inner.reload.ok = false;
                inner.reload.error = Some(msg.clone());
                return Err(msg);
            }
        };
        {
            let mut inner = self.shared.lock();
            if new.http.listen != inner.config.http.listen {
                warn!("http.listen changed: takes effect after a restart");
            }
            if new.state.path != inner.config.state.path {
                warn!("state.path changed: state will be saved to the new path");
            }
            let mut zones = std::mem::take(&mut inner.zones);
            let mut next = BTreeMap::new();
            for z in &new.zones {
                let key = zone_key(z);
                let entry = match zones.remove(&key) {
                    Some(mut e) => {
                        e.state.set_thresholds(z.thresholds.clone());
                        e.config = z.clone();
                        e
                    }
                    None => ZoneEntry::new(z),
                };
                next.insert(key, entry);
            }
            for gone in zones.keys() {
                info!(zone = %gone, "zone removed by reload");
            }
            inner.zones = next;
            inner.config = new;
            inner.reload = ReloadStatus {
                ok: true,
                last_success: now,
                error: None,
            };
        }
        self.shared.metrics.set_reload(true, now);
        self.resolve_and_sync(scheduler).await;
        info!("configuration reloaded");
        Ok(())
    }

    /// Write the persistent state atomically; errors are logged, never fatal.
    fn save(&self) {
        let (path, state) = {
            let inner = self.shared.lock();
            let mut state = PersistedState::new(now_ms());
            state.zones = inner
                .zones
                .iter()
                .map(|(k, z)| (k.clone(), z.state.to_persisted()))
                .collect();
            (inner.config.state.path.clone(), state)
        };
        match persist::save(&path, &state) {
            Ok(()) => debug!(path = %path.display(), "state saved"),
            Err(e) => error!(path = %path.display(), error = %e, "cannot save state"),
        }
    }
}

fn log_event(zone: &str, ev: &Event) {
    match ev {
        Event::NewZoneSerial { serial, previous } => {
            info!(zone, serial, previous = ?previous, "new zone serial")
        }
        Event::Propagated {
            server,
            serial,
            delay_ms,
        } => debug!(zone, server = %server, serial, delay_ms, "serial propagated"),
        Event::SerialRegression { key, from, to } => warn!(
            zone, server = %key.server, address = %key.addr, from, to,
            "serial moved backwards"
        ),
        Event::TargetDown { key, reason } => warn!(
            zone, server = %key.server, address = %key.addr, transport = %key.transport,
            %reason, "target down"
        ),
        Event::TargetUp { key } => info!(
            zone, server = %key.server, address = %key.addr, transport = %key.transport,
            "target up"
        ),
    }
}

/// Resolves once the stop flag is set (or its sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

#[cfg(unix)]
fn hangup_stream() -> Hangup {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}
#[cfg(not(unix))]
fn hangup_stream() -> Hangup {
    None
}

#[cfg(unix)]
async fn recv_hangup(h: &mut Hangup) {
    match h {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}
#[cfg(not(unix))]
async fn recv_hangup(_: &mut Hangup) {
    std::future::pending().await
}
