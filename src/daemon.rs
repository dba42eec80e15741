//! The daemon: wires config → scheduler → zone state → status → metrics/API.
//!
//! The only module that wires things together (only `main` and tests import it).
//! One task (the loop in `Daemon::run`) owns every write to the read model
//! ([`crate::model`]): it receives probe reports, feeds them to the pure zone states,
//! applies name resolutions and reloaded configs, takes state snapshots and logs status
//! changes. The loop never awaits network or disk I/O: name resolution, config file
//! reads and state saving run beside it (a spawned task or a blocking thread) and
//! send their results back on channels. HTTP handlers take the lock only to copy.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

use crate::config::{self, Config};
use crate::incidents::{self, IncidentBook};
use crate::metrics::DaemonMetrics;
use crate::model::{
    zone_key, ComponentId, GroupEntry, Inner, PeerHealth, ReloadRequest, ReloadStatus, Shared,
    ZoneEntry,
};
use crate::peer::{self, Pulled, Pullers};
use crate::persist::{self, PersistedState};
use crate::resolve::NameResolver;
use crate::scheduler::{Probed, Report, Scheduler, TargetId};
use crate::state::MINUTE_MS;
use crate::state::{CheckEvent, Event, VantageState};
use crate::status::{
    self, ComponentStatus, GroupRule, HubView, Noted, ObservationLog, QuorumRule, SavedTracker,
    Seen, ServiceTracker, Status, VantageSeries, VantageViews, ZoneTracker,
};
use crate::store::{series, Store, Write};
use crate::targets::{self, AddressBook, HostBook, Resolutions};
use crate::{duration_ms, now_ms, UnixMs};

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
    let metrics = Arc::new(DaemonMetrics::new());
    metrics.set_reload(true, now);

    let mut zones = BTreeMap::new();
    for z in &config.zones {
        zones.insert(zone_key(z), ZoneEntry::new(z, &config.maintenance));
    }
    // A newer or foreign store file stops the daemon here (never overwritten); an
    // unwritable one is logged and retried while the daemon runs on memory.
    let (store, opened) = Store::open(&config.store, metrics.clone()).with_context(|| {
        format!(
            "cannot use the store (config {})",
            opts.config_path.display()
        )
    })?;
    let mut groups: Vec<GroupEntry> = config
        .groups
        .iter()
        .map(|g| GroupEntry::new(g, &config.maintenance, None))
        .collect();
    let component_since =
        restore_state(&config.state.path, &store, &opened, &mut zones, &mut groups);
    // Incidents open when nsprobe stopped are continued.
    let mut incidents = IncidentBook::new(
        incidents::Templates::with_overrides(&config.incident_templates)
            .map_err(anyhow::Error::msg)?,
    );
    incidents.restore(opened.open_incidents.clone());
    metrics.set_incidents_open(incidents.open_count());
    if incidents.open_count() > 0 {
        info!(open = incidents.open_count(), "continuing open incidents");
    }

    let web = crate::web::WebHandle::load(opts.web_config.as_deref())?;
    let resolver = NameResolver::new(&config.resolver).context("cannot set up the resolver")?;
    let listen = opts.listen.unwrap_or(config.http.listen);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (http.listen)"))?;
    let http_addr = listener.local_addr()?;

    let (reload_tx, reload_rx) = mpsc::channel(4);
    let shared = Arc::new(Shared::new(
        Inner {
            config: config.clone(),
            zones,
            addresses: AddressBook::new(),
            groups,
            hosts: HostBook::new(),
            reload: ReloadStatus {
                ok: true,
                last_success: now,
                error: None,
            },
            component_since,
            incidents,
            vantage: VantageState::new(),
            vantage_verdict: status::vantage_verdict(&VantageState::new(), []),
            unresolved: BTreeMap::new(),
            started_at: now,
            http_addr,
            observations: ObservationLog::with_capacity(status::observation::LOG_CAPACITY, now),
            views: VantageViews::new(),
            series: VantageSeries::new(),
            peers: peer_health(&config, &[]),
        },
        reload_tx,
    ));
    let (stop_tx, stop_rx) = watch::channel(false);

    let router = crate::api::router(shared.clone(), metrics.clone(), Some(store.reader()));
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(async move {
        crate::web::serve(listener, router, web, async move {
            stopped(&mut http_stop).await
        })
        .await;
    });
    info!(%http_addr, config = %opts.config_path.display(), "nsprobe started");

    let (resolved_tx, resolved_rx) = mpsc::channel(1);
    let (loaded_tx, loaded_rx) = mpsc::channel(4);
    crate::systemd::spawn_watchdog(shared.clone());
    let daemon = Daemon {
        shared: shared.clone(),
        metrics,
        config_path: opts.config_path.clone(),
        resolver,
        resolving: false,
        resolve_again: false,
        resolved_once: false,
        resolved_tx,
        loaded_tx,
        store: Some(store),
        last_minute: now / MINUTE_MS,
    };
    // The single writer runs on its own thread (a current-thread runtime): a flood of
    // HTTP requests on the main runtime cannot delay report application, so the
    // probes' report channel never backs up into the probe tasks. Like the probe
    // runtime it creates, it runs at the probing threads' priority (see `priority`).
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("nsprobe-state".into())
        .spawn(move || {
            crate::priority::raise_probing_thread();
            // Taken just before the runtime's timer starts counting (see `status::STATUS_TICK`).
            let epoch = tokio::time::Instant::now();
            let res = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot build the state loop's runtime")
                .and_then(|rt| {
                    rt.block_on(daemon.run(epoch, reload_rx, resolved_rx, loaded_rx, stop_rx))
                });
            let _ = done_tx.send(res);
        })
        .context("cannot start the state loop's thread")?;
    let task = tokio::spawn(async move {
        let res = done_rx
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the state loop's thread panicked")));
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
        crate::systemd::notify_stopping();
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

/// Restores the restart state from the store; on the first start with a store, imports
/// the legacy JSON state file once (it is left in place, never written again). Returns
/// the published status and `since` of every component whose confirmation state was
/// restored.
fn restore_state(
    path: &Path,
    store: &Store,
    opened: &crate::store::Opened,
    zones: &mut BTreeMap<String, ZoneEntry>,
    groups: &mut [GroupEntry],
) -> BTreeMap<ComponentId, (Status, UnixMs)> {
    if let Some(json) = &opened.restart_state {
        match serde_json::from_str::<PersistedState>(json) {
            Ok(saved) => {
                let (n, since) = apply_saved(saved, zones, groups);
                info!(store = %store.reader().path().display(), zones = n, components = since.len(), "state restored from the store");
                return since;
            }
            Err(e) => warn!(error = %e, "ignoring unreadable restart state in the store"),
        }
        return BTreeMap::new();
    }
    if opened.imported.is_some() {
        info!("no saved state; starting fresh");
        return BTreeMap::new();
    }
    match persist::load(path) {
        Ok(None) => info!(path = %path.display(), "no saved state; starting fresh"),
        Ok(Some(saved)) => {
            if let Ok(json) = serde_json::to_string(&saved) {
                store.send(Write::RestartState(json));
            }
            store.send(Write::Imported(path.display().to_string()));
            let (n, since) = apply_saved(saved, zones, groups);
            info!(path = %path.display(), zones = n, "legacy JSON state file imported into the store (the file is left alone)");
            return since;
        }
        Err(e) => warn!(path = %path.display(), error = %e, "ignoring unreadable state file"),
    }
    BTreeMap::new()
}

/// Applies a saved state: zone state, confirmed statuses (trackers) and service check
/// latches. Returns the number of zones restored and each restored component's published
/// status and since.
fn apply_saved(
    mut saved: PersistedState,
    zones: &mut BTreeMap<String, ZoneEntry>,
    groups: &mut [GroupEntry],
) -> (usize, BTreeMap<ComponentId, (Status, UnixMs)>) {
    let mut n = 0;
    let mut since = BTreeMap::new();
    let mut note = |group: &str, t: &SavedTracker| {
        for (name, c) in &t.members {
            if let (Some(s), Some(at)) = (c.shown, c.since) {
                since.insert(ComponentId::member(group, name), (s, at));
            }
        }
        if let Some((s, at)) = t.group.as_ref().and_then(|c| c.shown.zip(c.since)) {
            since.insert(ComponentId::group(group), (s, at));
        }
    };
    for (name, pz) in std::mem::take(&mut saved.zones) {
        if let Some(z) = zones.get_mut(&name) {
            z.state.restore(pz);
            if let Some(t) = saved.statuses.get(&z.config.component) {
                z.tracker = ZoneTracker::restore(t);
                note(&z.config.component, t);
            }
            n += 1;
        }
    }
    for g in groups.iter_mut() {
        if let Some(t) = saved.statuses.get(&g.config.name) {
            g.tracker = ServiceTracker::restore(t);
            note(&g.config.name, t);
        }
        if let Some(mut services) = saved.services.remove(&g.config.name) {
            for c in g.components.iter_mut() {
                if let Some(p) = services.remove(&c.config.name) {
                    c.state.restore(p);
                }
            }
        }
    }
    (n, since)
}

/// A config file read beside the loop, with whoever asked for it (None for SIGHUP).
type Loaded = (Result<Config, config::ConfigError>, Option<ReloadRequest>);

struct Daemon {
    shared: Arc<Shared>,
    metrics: Arc<DaemonMetrics>,
    config_path: PathBuf,
    resolver: NameResolver,
    /// A resolution task is running.
    resolving: bool,
    /// Another resolution is wanted once the running one is done (the config changed).
    resolve_again: bool,
    /// The first resolution pass has been applied (or there was nothing to resolve):
    /// until then the daemon is not ready, since resolved names have no targets yet.
    resolved_once: bool,
    /// Where resolution tasks send their results.
    resolved_tx: mpsc::Sender<Resolutions>,
    /// Where config reads send their results.
    loaded_tx: mpsc::Sender<Loaded>,
    /// The store's write side (None only after shutdown).
    store: Option<Store>,
    /// The last minute (minutes since the epoch) whose series were sent to the store.
    last_minute: u64,
}

/// How often closed minutes of the response-time histories are sent to the store.
const SERIES_TICK: Duration = Duration::from_secs(10);

/// How long shutdown waits for the store to write what is queued.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(10);

/// Largest number of reports applied under one lock acquisition.
const REPORT_BATCH: usize = 1024;

/// Reports the channel from the probes holds before the probing (the driver, a probe task) waits to send.
const REPORT_CHANNEL: usize = 16384;

impl Daemon {
    async fn run(
        mut self,
        epoch: tokio::time::Instant,
        mut reload_rx: mpsc::Receiver<ReloadRequest>,
        mut resolved_rx: mpsc::Receiver<Resolutions>,
        mut loaded_rx: mpsc::Receiver<Loaded>,
        mut stop_rx: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let (report_tx, mut report_rx) = mpsc::channel::<Report>(REPORT_CHANNEL);
        let mut scheduler = Scheduler::new(report_tx);
        // Fixed addresses are probed at once; resolved names join when their answers arrive.
        self.sync_targets(&mut scheduler, &Resolutions::new());
        self.start_resolution();

        let (mut resolve_tick, mut save_tick) = self.periodic_timers();
        let mut status_tick = tokio::time::interval_at(epoch, status::STATUS_TICK);
        // A tick held up past the next one is not followed by a catch-up burst.
        status_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut series_tick = tokio::time::interval(SERIES_TICK);
        let mut hup = hangup_stream();
        let mut batch = Vec::with_capacity(REPORT_BATCH);
        let (pulled_tx, mut pulled_rx) = mpsc::channel::<Pulled>(64);
        let mut pullers = self.start_pullers(&pulled_tx);
        // Reports are applied in batches, by the status tick: it applies every report that
        // arrived since the last one, then judges statuses. Probes finish spread over the
        // interval, and waking the loop (and taking the lock) costs more CPU than applying
        // a report (30–100 µs a wake-up on the benchmark VM), so reports never wake it.
        // Counters and the JSON API lag reality by at most a tick; statuses do not. At
        // 10,000 reports a second a tick's worth is 5,120, under a third of REPORT_CHANNEL;
        // a tick held up past the channel's worth makes the probing wait to send.

        loop {
            let mut reloaded = false;
            tokio::select! {
                _ = status_tick.tick() => {
                    // Statuses are judged on every report that has arrived.
                    // (At most a channel's worth: probes keep sending meanwhile.)
                    for _ in 0..REPORT_CHANNEL / REPORT_BATCH {
                        while batch.len() < REPORT_BATCH {
                            match report_rx.try_recv() {
                                Ok(report) => batch.push(report),
                                Err(_) => break,
                            }
                        }
                        if batch.is_empty() {
                            break;
                        }
                        self.apply(&mut batch);
                    }
                    self.check_statuses(&scheduler);
                }
                Some(pulled) = pulled_rx.recv() => self.apply_pull(pulled),
                _ = series_tick.tick() => self.send_series(false),
                _ = resolve_tick.tick() => self.start_resolution(),
                Some(resolved) = resolved_rx.recv() => {
                    self.resolving = false;
                    self.resolved_once = true;
                    self.sync_targets(&mut scheduler, &resolved);
                    if std::mem::take(&mut self.resolve_again) {
                        self.start_resolution();
                    }
                }
                _ = save_tick.tick() => self.start_save(),
                Some(reply) = reload_rx.recv() => self.start_load(Some(reply)),
                _ = recv_hangup(&mut hup) => {
                    info!("SIGHUP: reloading configuration");
                    self.start_load(None);
                }
                Some((res, reply)) = loaded_rx.recv() => {
                    let res = self.reload(res, &mut scheduler);
                    reloaded = res.is_ok();
                    if let Some(reply) = reply {
                        let _ = reply.send(res);
                    }
                }
                _ = stopped(&mut stop_rx) => break,
            }
            if reloaded {
                (resolve_tick, save_tick) = self.periodic_timers();
                let changed = {
                    let mut inner = self.shared.lock();
                    let peers = peer_health(&inner.config, &inner.peers);
                    let changed = peers
                        .iter()
                        .map(|p| &p.url)
                        .ne(inner.peers.iter().map(|p| &p.url));
                    inner.peers = peers;
                    changed
                };
                if changed {
                    drop(pullers);
                    pullers = self.start_pullers(&pulled_tx);
                }
            }
        }
        drop(pullers);
        scheduler.stop();
        // The final save is awaited: it must reach the disk before the process exits.
        // Minutes closed since the last series tick go with it (no probe runs any more:
        // every closed minute is complete).
        self.send_series(true);
        self.start_save();
        if let Some(store) = self.store.take() {
            let _ = tokio::task::spawn_blocking(move || store.close(SHUTDOWN_FLUSH)).await;
        }
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
            let (zone, observation) = match report.probed {
                Probed::Check {
                    group,
                    component,
                    observation,
                } => {
                    let Some(entry) = inner
                        .groups
                        .iter_mut()
                        .find(|g| *g.config.name == *group)
                        .and_then(|g| g.component_mut(&component))
                    else {
                        continue; // removed by a reload while the check ran
                    };
                    self.metrics.observe_slip(report.slip);
                    match entry.state.observe(observation) {
                        Some(CheckEvent::Down { key, reason }) => warn!(
                            group = %group, component = %component, kind = %key.kind,
                            target = %key.target, %reason, "check target down"
                        ),
                        Some(CheckEvent::Up { key }) => info!(
                            group = %group, component = %component, kind = %key.kind,
                            target = %key.target, "check target up"
                        ),
                        None => {}
                    }
                    continue;
                }
                Probed::Dns { zone, observation } => (zone, observation),
            };
            if &*zone == targets::CANARY_ZONE {
                let fail_after = inner
                    .config
                    .zones
                    .iter()
                    .map(|z| z.thresholds.fail_after)
                    .min()
                    .unwrap_or(1);
                let obs = observation;
                if let Some(up) = inner.vantage.observe(&obs, fail_after) {
                    info!(canary = %obs.key.server, address = %obs.key.addr, up, "canary reachability changed");
                }
                continue;
            }
            let Some(zone_entry) = inner.zones.get_mut(&*zone) else {
                continue; // zone removed by a reload while the probe ran
            };
            self.metrics.observe_slip(report.slip);
            let events = zone_entry.state.observe(observation);
            for ev in &events {
                if let Event::Propagated {
                    server, delay_ms, ..
                } = ev
                {
                    self.metrics.observe_propagation(&zone, server, *delay_ms);
                }
                log_event(&zone, ev);
            }
        }
    }

    /// Publish statuses through the confirmation layer, log every change, update readiness.
    fn check_statuses(&self, scheduler: &Scheduler) {
        let now = now_ms();
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        let verdict =
            status::vantage_verdict(&inner.vantage, inner.zones.values().map(|z| &z.state));
        if verdict.up != inner.vantage_verdict.up {
            if verdict.up {
                info!(reason = %verdict.reason, "vantage up: statuses follow the evidence again");
            } else {
                warn!(reason = %verdict.reason, "vantage down: nsprobe's own network fails; statuses held");
            }
        }
        inner.vantage_verdict = verdict;
        let mut changes = Vec::new();
        let vantage = inner.config.vantage.name.clone();
        let hub = !inner.config.peers.is_empty();
        // A hub gives no verdict before it tried to pull every peer once (at start or
        // after a reload added peers): its own view alone would be a quorum of one.
        let waiting: Vec<&str> = inner
            .peers
            .iter()
            .filter(|p| p.last_attempt.is_none())
            .map(|p| p.url.as_str())
            .collect();
        let waiting = (!waiting.is_empty())
            .then(|| format!("hub: waiting for the first pull of {}", waiting.join(", ")));
        let rule = QuorumRule {
            quorum: inner.config.vantage.quorum,
            max_age_ms: duration_ms(inner.config.vantage.max_age),
        };
        inner
            .observations
            .set_heartbeat(status::observation::heartbeat_ms(rule.max_age_ms));
        let mut m = Merge {
            log: &mut inner.observations,
            views: &mut inner.views,
            series: &mut inner.series,
            vantage: &vantage,
            hub,
            waiting,
            rule,
            now,
        };
        let mut incident_input = Vec::new();
        for z in inner.zones.values_mut() {
            let group = z.config.component.clone();
            let span = duration_ms(z.config.thresholds.stats_window);
            let st = &z.state;
            // A hub judges freshness on the newest serial any vantage saw.
            let freshest = hub
                .then(|| {
                    let own = st.newest_serial().zip(st.serial_first_seen());
                    m.views
                        .freshest(&group, own, &vantage, rule.max_age_ms, now)
                })
                .flatten();
            let mut merge = |p: ComponentStatus, noted: &mut Noted| {
                m.merge(&group, p, noted, |name| {
                    let server = st.server(name);
                    let rtt_ms = server
                        .and_then(|s| s.samples.stats(now, span).median_rtt)
                        .map(|d| d.as_secs_f64() * 1000.0);
                    let serial = server.and_then(|s| {
                        s.addresses
                            .values()
                            .filter(|a| a.serial.is_some())
                            .max_by_key(|a| a.serial_at)
                            .and_then(|a| a.serial)
                    });
                    (rtt_ms, serial)
                })
            };
            let zone_changes = z.tracker.update_merged(
                &z.state,
                &group,
                &z.maintenance,
                &inner.vantage_verdict,
                HubView {
                    merge: &mut merge,
                    freshest,
                },
                now,
            );
            if let (false, Some(current)) = (zone_changes.is_empty(), z.tracker.current()) {
                incident_input.extend(incidents::zone_changes(&z.state, current, &zone_changes));
            }
            for c in zone_changes {
                let id = if c.name == group {
                    ComponentId::group(&group)
                } else {
                    ComponentId::member(&group, &c.name)
                };
                changes.push((id, c));
            }
        }
        for g in inner.groups.iter_mut() {
            let group = g.config.name.clone();
            let components = &g.components;
            let mut merge = |p: ComponentStatus, noted: &mut Noted| {
                m.merge(&group, p, noted, |name| {
                    let rtt_ms = components
                        .iter()
                        .find(|c| c.config.name == name)
                        .and_then(|c| {
                            let span = duration_ms(c.state.thresholds().stats_window);
                            c.state.samples.stats(now, span).median_rtt
                        })
                        .map(|d| d.as_secs_f64() * 1000.0);
                    (rtt_ms, None)
                })
            };
            let members = components
                .iter()
                .map(|c| (c.config.name.as_str(), &c.state));
            let group_rule = GroupRule {
                partial_outage_share: g.config.partial_outage_share,
                maintenance: &g.maintenance,
                vantage: &inner.vantage_verdict,
            };
            let group_changes = g
                .tracker
                .update_merged(&group, members, group_rule, &mut merge, now);
            incident_input.extend(incidents::service_changes(&group, &group_changes));
            for c in group_changes {
                let id = if c.name == group {
                    ComponentId::group(&group)
                } else {
                    ComponentId::member(&group, &c.name)
                };
                changes.push((id, c));
            }
        }
        for (id, c) in changes {
            match c.from {
                None if c.to == Status::Unknown => debug!(
                    component = %id.name, group = %id.group, status = c.to.as_str(),
                    reason = %c.reason, "status"
                ),
                from => info!(
                    component = %id.name, group = %id.group,
                    from = from.map_or("none", |s| s.as_str()), to = c.to.as_str(),
                    reason = %c.reason, "status change"
                ),
            }
            if let Some(store) = &self.store {
                store.send(Write::StatusChange {
                    component: (id.group.clone(), id.name.clone()),
                    at: c.at,
                    status: c.to,
                    reason: c.reason.clone(),
                });
            }
            inner.component_since.insert(id, (c.to, c.at));
        }
        if !incident_input.is_empty() {
            for inc in inner.incidents.apply(&incident_input) {
                let update = inc.updates.last().map_or("", |u| u.body.as_str());
                info!(incident = %inc.id, group = %inc.group, status = inc.status.as_str(), impact = inc.impact.as_str(), update, "incident");
                if let Some(store) = &self.store {
                    store.send(Write::Incident(Box::new(inc)));
                }
            }
            self.metrics
                .set_incidents_open(inner.incidents.open_count());
        }
        if !self.shared.is_ready()
            && self.resolved_once
            && inner.all_targets_probed()
            && !scheduler.is_empty()
        {
            self.shared.set_ready();
            info!(targets = scheduler.len(), "first probe round done: ready");
            crate::systemd::notify_ready(scheduler.len());
        }
    }

    /// Start one puller per `[[peer]]` of the config in force.
    fn start_pullers(&self, tx: &mpsc::Sender<Pulled>) -> Pullers {
        let peers = self.shared.lock().config.peers.clone();
        if !peers.is_empty() {
            info!(peers = peers.len(), "hub: pulling observations from peers");
        }
        peer::spawn(&peers, tx.clone())
    }

    /// Apply one pull: the peer's health, and its records into the per-vantage views.
    fn apply_pull(&self, pulled: Pulled) {
        let now = now_ms();
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        let own = inner.config.vantage.name.clone();
        let Some(p) = inner.peers.get_mut(pulled.index) else {
            return; // removed by a reload
        };
        p.pulls += 1;
        p.bytes += pulled.bytes as u64;
        p.seconds += pulled.elapsed.as_secs_f64();
        p.last_attempt = Some(now);
        match pulled.result {
            Ok(page) => {
                if !p.up {
                    info!(peer = %p.url, vantage = %page.vantage, "peer up");
                }
                if page.truncated {
                    p.gaps += 1;
                }
                p.up = true;
                p.error = None;
                p.last_success = Some(now);
                p.cursor = page.cursor;
                p.vantage = Some(page.vantage.clone());
                p.location = page.location;
                p.records += page.observations.len() as u64;
                for r in page.observations {
                    // A peer speaks for itself only; never for this vantage.
                    if r.vantage == page.vantage && r.vantage != own {
                        inner.series.ingest(&r);
                        inner.views.ingest(r);
                    }
                }
            }
            Err(e) => {
                p.failures += 1;
                if p.up || p.error.is_none() {
                    warn!(peer = %p.url, error = %e, "peer pull failed");
                }
                p.up = false;
                p.error = Some(e);
            }
        }
    }

    /// Resolve nameserver names beside the loop; the answers come back on `resolved_tx`.
    /// One resolution at a time: if one is running, another follows it.
    fn start_resolution(&mut self) {
        if self.resolving {
            self.resolve_again = true;
            return;
        }
        let names = targets::names_to_resolve(&self.shared.lock().config);
        if names.is_empty() {
            self.resolved_once = true;
            return;
        }
        self.resolving = true;
        let resolver = self.resolver.clone();
        let tx = self.resolved_tx.clone();
        tokio::spawn(async move {
            let resolved = targets::resolve_names(&resolver, names).await;
            let _ = tx.send(resolved).await;
        });
    }

    /// Bring the address book and targets in line with the config and `resolved` names.
    fn sync_targets(&self, scheduler: &mut Scheduler, resolved: &Resolutions) {
        let (targets, pass) = {
            let mut inner = self.shared.lock();
            let config = inner.config.clone();
            let now = now_ms();
            let mut pass = targets::apply(&config, &mut inner.addresses, resolved, now);
            pass.changed |= targets::apply_hosts(&config, &mut inner.hosts, resolved, now);
            for (name, result) in resolved {
                match result {
                    Ok(_) => inner.unresolved.remove(name),
                    Err(e) => inner.unresolved.insert(name.clone(), e.clone()),
                };
            }
            let mut targets = targets::expand(&config, &inner.addresses);
            let canaries = targets::canaries(&config);
            let dns_key = |t: &crate::scheduler::Target| match &t.id {
                TargetId::Dns { zone, key } => Some((zone.clone(), key.clone())),
                TargetId::Check { .. } => None,
            };
            inner.vantage.sync(
                &canaries
                    .iter()
                    .filter_map(|t| dns_key(t).map(|(_, k)| k))
                    .collect::<Vec<_>>(),
            );
            let services = targets::expand_services(&config, &inner.hosts);
            for g in inner.groups.iter_mut() {
                for c in g.components.iter_mut() {
                    let keys: Vec<_> = services
                        .iter()
                        .filter_map(|t| match &t.id {
                            TargetId::Check {
                                group,
                                component,
                                key,
                            } if **group == *g.config.name && **component == *c.config.name => {
                                Some(key.clone())
                            }
                            _ => None,
                        })
                        .collect();
                    c.state.sync_checks(&keys);
                }
            }
            for (zname, zone) in inner.zones.iter_mut() {
                let keys: Vec<_> = targets
                    .iter()
                    .filter_map(dns_key)
                    .filter(|(z, _)| &**z == zname.as_str())
                    .map(|(_, k)| k)
                    .collect();
                zone.state
                    .declare_servers(zone.config.nameservers.iter().map(|n| n.name.as_str()));
                zone.state.sync_targets(&keys);
            }
            targets.extend(canaries);
            targets.extend(services);
            (targets, pass)
        };
        let retry = humantime::format_duration(self.shared.lock().config.resolver.refresh);
        for (name, err) in &pass.failures {
            self.metrics.resolve_failure(name);
            warn!(name = %name, error = %err, retry_in = %retry, "cannot resolve name (nameserver or check host); keeping last known addresses, retrying in {retry}");
        }
        let servers: HashSet<(&str, &str)> = targets
            .iter()
            .filter_map(|t| match &t.id {
                TargetId::Dns { zone, key } => Some((&**zone, key.server.as_str())),
                TargetId::Check { .. } => None,
            })
            .collect();
        self.metrics.retain_servers(&servers);
        if pass.changed {
            info!(targets = targets.len(), "targets updated");
        }
        scheduler.sync(targets);
        // Components added or removed show at once, not at the next status tick.
        self.check_statuses(scheduler);
    }

    /// Read the config file on a blocking thread; the result comes back on `loaded_tx`.
    fn start_load(&self, reply: Option<ReloadRequest>) {
        let path = self.config_path.clone();
        let tx = self.loaded_tx.clone();
        tokio::spawn(async move {
            let read_path = path.clone();
            let res = tokio::task::spawn_blocking(move || config::load(&read_path))
                .await
                .unwrap_or_else(|e| {
                    Err(config::ConfigError::Read {
                        path,
                        io: std::io::Error::other(e.to_string()),
                    })
                });
            let _ = tx.send((res, reply)).await;
        });
    }

    /// Take a freshly read config; on failure keep the old config running.
    fn reload(
        &mut self,
        loaded: Result<Config, config::ConfigError>,
        scheduler: &mut Scheduler,
    ) -> Result<(), String> {
        let now = now_ms();
        let new = match loaded {
            Ok(c) => Arc::new(c),
            Err(e) => {
                let msg = e.to_string();
                error!(error = %msg, "config reload failed; keeping the running config");
                self.metrics.set_reload(false, now);
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
                        e.reconfigure(z, &new.maintenance);
                        e
                    }
                    None => ZoneEntry::new(z, &new.maintenance),
                };
                next.insert(key, entry);
            }
            for gone in zones.keys() {
                info!(zone = %gone, "zone removed by reload");
            }
            inner.zones = next;
            let mut old_groups = std::mem::take(&mut inner.groups);
            inner.groups = new
                .groups
                .iter()
                .map(|g| {
                    let previous = old_groups
                        .iter()
                        .position(|o| o.config.name == g.name)
                        .map(|i| old_groups.swap_remove(i));
                    GroupEntry::new(g, &new.maintenance, previous)
                })
                .collect();
            inner.config = new;
            inner.reload = ReloadStatus {
                ok: true,
                last_success: now,
                error: None,
            };
        }
        self.metrics.set_reload(true, now);
        // Fixed addresses and removed servers take effect now; new names when resolved.
        self.sync_targets(scheduler, &Resolutions::new());
        self.start_resolution();
        info!("configuration reloaded");
        Ok(())
    }

    /// Snapshot the restart state under the lock and hand it to the store's writer
    /// (serialised after the lock is released; written beside the loop).
    fn start_save(&mut self) {
        let state = {
            let inner = self.shared.lock();
            let mut state = PersistedState::new(now_ms());
            state.zones = inner
                .zones
                .iter()
                .map(|(k, z)| (k.clone(), z.state.to_persisted()))
                .collect();
            for z in inner.zones.values() {
                state
                    .statuses
                    .insert(z.config.component.clone(), z.tracker.save());
            }
            for g in &inner.groups {
                state
                    .statuses
                    .insert(g.config.name.clone(), g.tracker.save());
                state.services.insert(
                    g.config.name.clone(),
                    g.components
                        .iter()
                        .map(|c| (c.config.name.clone(), c.state.to_persisted()))
                        .collect(),
                );
            }
            state
        };
        match serde_json::to_string(&state) {
            Ok(json) => {
                if let Some(store) = &self.store {
                    store.send(Write::RestartState(json));
                }
            }
            Err(e) => error!(error = %e, "cannot serialise the restart state"),
        }
    }

    /// Send every closed minute of every component's response-time history not sent
    /// yet to the store, then a mark; release the minutes the writer has committed (the
    /// charts read those from the store). See [`crate::store::series`].
    ///
    /// A minute goes once every probe started in it has been recorded
    /// ([`series::complete_before`]); when `stopped` (the probes are stopped), every
    /// closed minute goes.
    fn send_series(&mut self, stopped: bool) {
        let now = now_ms();
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        let grace = if stopped {
            0
        } else {
            series::grace_ms(&inner.config)
        };
        let current = series::complete_before(now, grace);
        if current <= self.last_minute {
            return;
        }
        let from = self.last_minute;
        let Some(store) = &self.store else { return };
        let written = store.written_before();
        let mut writes = Vec::new();
        for z in inner.zones.values_mut() {
            let zone = &z.config.component;
            for (name, h) in z.state.histories_mut() {
                let key = (zone.clone(), name.clone());
                series::take_minutes(h, &key, from, current, written, &mut writes);
            }
        }
        for g in &mut inner.groups {
            for c in &mut g.components {
                let key = (g.config.name.clone(), c.config.name.clone());
                let h = &mut c.state.history;
                series::take_minutes(h, &key, from, current, written, &mut writes);
            }
        }
        drop(guard);
        for w in writes {
            store.send(w);
        }
        store.send(Write::SeriesMark(current));
        self.last_minute = current;
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
        Event::ZoneRollback(r) => warn!(
            zone, from = r.from, to = r.to, unserved_ms = r.unserved_ms,
            "zone serial rolled back: no server has answered the newest serial; re-baselined to the newest served"
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

/// Pull health per `[[peer]]` of `config`; peers that keep their URL keep their health.
fn peer_health(config: &Config, old: &[PeerHealth]) -> Vec<PeerHealth> {
    config
        .peers
        .iter()
        .map(|p| {
            old.iter()
                .find(|o| o.url == p.url)
                .cloned()
                .unwrap_or_else(|| PeerHealth {
                    url: p.url.clone(),
                    ..PeerHealth::default()
                })
        })
        .collect()
}

/// What the status tick does with each component's local proposal (the trackers'
/// `merge`): records it in the observation log when due, and on a hub replaces it by the
/// quorum verdict over every vantage's newest record of the component.
struct Merge<'a> {
    log: &'a mut ObservationLog,
    views: &'a mut VantageViews,
    series: &'a mut VantageSeries,
    /// This vantage's name.
    vantage: &'a str,
    /// This daemon pulls peers.
    hub: bool,
    /// Why a hub gives no verdict yet (a peer not pulled once).
    waiting: Option<String>,
    rule: QuorumRule,
    now: UnixMs,
}

impl Merge<'_> {
    /// `p`, proposed for a component of `group` whose last record is `noted`: recorded
    /// when due, with the median response time (ms) and newest serial that `figures`
    /// gives for the component's name (asked only then). Returns the status to confirm:
    /// `p` on a single vantage, the quorum verdict on a hub.
    fn merge(
        &mut self,
        group: &str,
        p: ComponentStatus,
        noted: &mut Noted,
        figures: impl FnOnce(&str) -> (Option<f64>, Option<u32>),
    ) -> ComponentStatus {
        if self.log.due(noted, p.status, self.now) {
            let (rtt_ms, serial) = figures(&p.name);
            let seen = Seen {
                group,
                component: &p.name,
                status: p.status,
                reason: &p.reason,
                rtt_ms,
                serial,
            };
            if let Some(r) = self.log.note(noted, self.vantage, seen, self.now) {
                if self.hub {
                    self.series.ingest(r);
                }
                self.views.ingest(r.clone());
            }
        }
        if !self.hub {
            return p;
        }
        if let Some(why) = &self.waiting {
            return ComponentStatus::new(&p.name, Status::Unknown, why.clone());
        }
        let views = self.views.of(group, &p.name);
        status::decide(&p.name, &views, self.rule, self.now)
    }
}
