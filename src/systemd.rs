//! systemd integration (`Type=notify`, `WatchdogSec=`) through the `sd-notify`
//! crate: `READY=1` once the first probe round is done, `WATCHDOG=1` pings while
//! the daemon's runtime and state lock are healthy, `STOPPING=1` on shutdown.
//!
//! Every function is a no-op when `NOTIFY_SOCKET` is unset (not under systemd).

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tracing::{debug, warn};

use crate::model::Shared;

/// Tells systemd the daemon is ready (the first probe round is done).
pub fn notify_ready(targets: usize) {
    let status = format!("probing {targets} targets");
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// Tells systemd the daemon is shutting down.
pub fn notify_stopping() {
    send(&[NotifyState::Stopping]);
}

fn send(state: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(state) {
        warn!(error = %e, "cannot notify systemd");
    }
}

/// With `WatchdogSec=` set (`WATCHDOG_USEC` in the environment), pings systemd
/// every half period as long as this runtime schedules tasks and the daemon's
/// state lock can be taken within the period: a wedged runtime or a deadlocked
/// daemon stops the pings and systemd restarts the service.
pub fn spawn_watchdog(shared: Arc<Shared>) {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (period / 2).max(Duration::from_millis(100));
    debug!(?period, "systemd watchdog enabled");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let probe = shared.clone();
            let healthy = tokio::time::timeout(
                period,
                tokio::task::spawn_blocking(move || drop(probe.lock())),
            )
            .await;
            match healthy {
                Ok(Ok(())) => send(&[NotifyState::Watchdog]),
                _ => warn!("state lock not available within the watchdog period; not pinging"),
            }
        }
    });
}
