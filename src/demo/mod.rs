//! `nsprobe demo`: the seven .dk nameservers as real authoritative servers on loopback
//! (hickory-server, UDP and TCP), a config for them, and the seed's incidents replayed on
//! a compressed clock, so the page, metrics and statuses can be watched within minutes,
//! offline and without root. `main.rs` starts the real daemon on the config.
//!
//! - [`servers`]: one hickory-server per name, stoppable and restartable;
//! - [`scenario`]: the script (what happens when) as plain data.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::UnixMs;

pub mod scenario;
pub mod servers;

pub use scenario::{script, Action, Step, Timing};
pub use servers::{DemoServer, DemoServerError};

/// The zone.
pub const ZONE: &str = "dk.";
/// Its nameservers (the seed's seven).
pub const NAMES: [&str; 7] = [
    "a.nic.dk", "b.nic.dk", "c.nic.dk", "d.nic.dk", "l.nic.dk", "p.nic.dk", "s.nic.dk",
];
/// The first serial published.
pub const FIRST_SERIAL: u32 = 2026062401;

/// The demo: its servers and timing.
#[derive(Debug)]
pub struct Demo {
    /// The servers, in [`NAMES`] order.
    pub servers: Vec<Mutex<DemoServer>>,
    /// Its addresses, in the same order.
    pub addresses: Vec<(String, SocketAddr)>,
    /// The compressed timing.
    pub timing: Timing,
}

fn rfc3339(ms: UnixMs) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

impl Demo {
    /// Start the seven servers.
    pub async fn start(timing: Timing) -> Result<Demo, DemoServerError> {
        let text = servers::zone_text(ZONE, &NAMES, FIRST_SERIAL);
        let mut servers = Vec::new();
        let mut addresses = Vec::new();
        for name in NAMES {
            let s = DemoServer::start(name, &text).await?;
            addresses.push((name.to_string(), s.addr()));
            servers.push(Mutex::new(s));
        }
        Ok(Demo {
            servers,
            addresses,
            timing,
        })
    }

    /// The daemon config for the demo: the servers' loopback addresses, the compressed
    /// timing, the maintenance window at `started + MAINTENANCE`, HTTP on `listen`.
    pub fn config_text(&self, listen: SocketAddr, state_path: &Path, started: UnixMs) -> String {
        let t = &self.timing;
        let ms = |d: Duration| format!("{}ms", d.as_millis());
        let (m0, m1) = scenario::MAINTENANCE;
        let mut text = format!(
            "# Written by `nsprobe demo`.\n\
             [page]\nname = \"Punktum dk — status (nsprobe demo)\"\n\n\
             [http]\nlisten = \"{listen}\"\n\n\
             [state]\npath = \"{state}\"\n\n\
             [[maintenance]]\ncomponents = [\"{maint}\"]\nstart = \"{start}\"\nend = \"{end}\"\n\
             reason = \"Demo: planned work on {maint}\"\n\n\
             [[zone]]\nname = \"{ZONE}\"\ncomponent = \"DNS (.dk)\"\n\
             interval = \"{interval}\"\ntimeout = \"{timeout}\"\ntransports = [\"udp\", \"tcp\"]\n\
             nsid = true\nstale_after = \"{stale}\"\nfail_after = {fail}\nrecover_after = {recover}\n\
             confirm_after = \"{confirm}\"\nclear_after = \"{clear}\"\n",
            state = state_path.display().to_string().replace('\\', "\\\\").replace('"', "\\\""),
            maint = scenario::MAINTAINED,
            start = rfc3339(started + m0.as_millis() as u64),
            end = rfc3339(started + m1.as_millis() as u64),
            interval = ms(t.interval),
            timeout = ms(t.timeout),
            stale = ms(t.stale_after),
            fail = t.fail_after,
            recover = t.recover_after,
            confirm = ms(t.confirm_after),
            clear = ms(t.clear_after),
        );
        for (name, addr) in &self.addresses {
            text.push_str(&format!(
                "\n[[zone.nameservers]]\nname = \"{name}\"\naddresses = [\"{addr}\"]\n"
            ));
        }
        text
    }

    /// Publish `serial` on every server.
    async fn publish(&self, serial: u32) {
        for s in &self.servers {
            s.lock().await.publish(serial).await;
        }
    }

    async fn server(&self, name: &str) -> Option<tokio::sync::MutexGuard<'_, DemoServer>> {
        for s in &self.servers {
            let g = s.lock().await;
            if g.name() == name {
                return Some(g);
            }
        }
        None
    }

    /// Play the script from `start` (publishing on schedule meanwhile), then keep
    /// publishing until the task is dropped.
    pub async fn play(&self, start: Instant) {
        let steps = script(&self.timing);
        let mut serial = FIRST_SERIAL;
        let mut stalled = false;
        let mut next_publish = start + self.timing.publish_every;
        let mut steps = steps.into_iter().peekable();
        loop {
            let next_step = steps.peek().map(|s| start + s.at);
            let wake = next_step.map_or(next_publish, |s| s.min(next_publish));
            tokio::time::sleep_until(wake).await;
            if Instant::now() >= next_publish {
                next_publish += self.timing.publish_every;
                if !stalled {
                    serial = serial.wrapping_add(1);
                    self.publish(serial).await;
                    tracing::debug!(serial, "demo: published");
                }
            }
            while let Some(step) = steps.next_if(|s| Instant::now() >= start + s.at) {
                info!("demo: {}", step.say);
                match step.action {
                    Action::Note => {}
                    Action::Stop(name) => {
                        if let Some(mut s) = self.server(name).await {
                            s.stop().await;
                        }
                    }
                    Action::Start(name) => {
                        if let Some(mut s) = self.server(name).await {
                            if let Err(e) = s.restart().await {
                                warn!("demo: {name} cannot answer again: {e}");
                            }
                        }
                    }
                    Action::Stall => {
                        stalled = true;
                        info!("demo: serial stays at {serial}");
                    }
                    Action::Resume => stalled = false,
                }
            }
        }
    }
}
