//! The demo's script: the seed's incidents on a compressed clock, as plain data.

use std::time::Duration;

/// The demo's compressed timing (also written into the demo config).
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// A new serial is published this often.
    pub publish_every: Duration,
    /// Probe interval.
    pub interval: Duration,
    /// Probe timeout.
    pub timeout: Duration,
    /// Consecutive failures before a target is down.
    pub fail_after: u32,
    /// Consecutive successes before it is up again.
    pub recover_after: u32,
    /// How long a worse status must hold before it is published.
    pub confirm_after: Duration,
    /// How long a better status must hold before it is published.
    pub clear_after: Duration,
    /// Age of the newest serial after which publication counts as stalled.
    pub stale_after: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            publish_every: Duration::from_secs(5),
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
            fail_after: 2,
            recover_after: 2,
            confirm_after: Duration::from_secs(2),
            clear_after: Duration::from_secs(2),
            stale_after: Duration::from_secs(15),
        }
    }
}

/// The status tick's share of a bound: up to two ticks.
const TICKS: Duration = crate::status::STATUS_TICK.saturating_mul(2);

impl Timing {
    /// Upper bound from a server going silent to its outage being published.
    pub fn outage_bound(&self) -> Duration {
        (self.interval + self.timeout) * self.fail_after + self.confirm_after + TICKS
    }

    /// Upper bound from a server answering again to `operational` being published.
    pub fn recovery_bound(&self) -> Duration {
        self.interval * self.recover_after + self.clear_after + TICKS
    }

    /// Upper bound from the last publication to the zone being reported stale.
    pub fn stale_bound(&self) -> Duration {
        self.stale_after + self.interval + self.confirm_after + TICKS
    }
}

/// What the demo does at a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing: only the log line.
    Note,
    /// The named server stops answering.
    Stop(&'static str),
    /// The named server answers again.
    Start(&'static str),
    /// Publication stops (the serial stays).
    Stall,
    /// Publication resumes.
    Resume,
}

/// One step of the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// When, from the start of the demo.
    pub at: Duration,
    /// What happens.
    pub action: Action,
    /// The log line (after `demo: `).
    pub say: String,
}

/// The server that goes unreachable (incident 2 of the seed).
pub const UNREACHABLE: &str = "l.nic.dk";
/// The server in the maintenance window (incident 3).
pub const MAINTAINED: &str = "s.nic.dk";

/// When the maintenance window starts and ends, from the start of the demo.
pub const MAINTENANCE: (Duration, Duration) = (Duration::from_secs(110), Duration::from_secs(140));

/// The whole script: l.nic.dk unreachable, a publication stall, a maintenance window.
pub fn script(t: &Timing) -> Vec<Step> {
    let s = |secs: u64| Duration::from_secs(secs);
    let n = |d: Duration| format!("{}s", d.as_secs_f64().ceil());
    vec![
        Step {
            at: s(0),
            action: Action::Note,
            say: format!(
                "7 .dk nameservers answer on loopback; a new serial every {}; all should be operational within a few seconds",
                n(t.publish_every)
            ),
        },
        Step {
            at: s(15),
            action: Action::Stop(UNREACHABLE),
            say: format!(
                "{UNREACHABLE} stops answering now; expect major_outage for {UNREACHABLE} within {} (the DNS (.dk) group stays available through the other six)",
                n(t.outage_bound())
            ),
        },
        Step {
            at: s(45),
            action: Action::Start(UNREACHABLE),
            say: format!(
                "{UNREACHABLE} answers again now; expect operational within {}",
                n(t.recovery_bound())
            ),
        },
        Step {
            at: s(60),
            action: Action::Stall,
            say: format!(
                "zone publication stalls now: every server keeps answering the same serial; expect the zone stale within {}",
                n(t.stale_bound())
            ),
        },
        Step {
            at: s(95),
            action: Action::Resume,
            say: format!(
                "zone publication resumes now; expect the zone fresh again within {}",
                n(t.publish_every + t.recovery_bound())
            ),
        },
        Step {
            at: MAINTENANCE.0,
            action: Action::Note,
            say: format!(
                "the maintenance window for {MAINTAINED} begins now; expect under_maintenance (no alert) until {}s",
                MAINTENANCE.1.as_secs()
            ),
        },
        Step {
            at: MAINTENANCE.1,
            action: Action::Note,
            say: format!("the maintenance window for {MAINTAINED} ends now; expect operational"),
        },
        Step {
            at: s(150),
            action: Action::Note,
            say: "replay finished; nsprobe keeps probing the demo servers (Ctrl-C stops)".into(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_is_ordered_and_restores_everything() {
        let steps = script(&Timing::default());
        assert!(steps.windows(2).all(|w| w[0].at < w[1].at));
        let stops = steps
            .iter()
            .filter(|s| matches!(s.action, Action::Stop(_)))
            .count();
        let starts = steps
            .iter()
            .filter(|s| matches!(s.action, Action::Start(_)))
            .count();
        assert_eq!(stops, starts);
        let stall = steps
            .iter()
            .position(|s| s.action == Action::Stall)
            .unwrap();
        let resume = steps
            .iter()
            .position(|s| s.action == Action::Resume)
            .unwrap();
        assert!(stall < resume);
        // The stall lasts long enough to be seen.
        assert!(steps[resume].at - steps[stall].at > Timing::default().stale_bound());
    }

    #[test]
    fn bounds_follow_the_timing() {
        let t = Timing::default();
        assert_eq!(t.outage_bound(), Duration::from_millis(5000) + TICKS);
        let slow = Timing {
            confirm_after: Duration::from_secs(10),
            ..t.clone()
        };
        assert_eq!(
            slow.outage_bound() - t.outage_bound(),
            Duration::from_secs(8)
        );
    }
}
