//! Replays with a fake clock: zone state → confirmed statuses → incidents.

use std::time::Duration;

use super::*;
use crate::config::{MaintenanceWindow, Thresholds};
use crate::probe::{FailureKind, Transport};
use crate::state::tests::{fail, ok, MIN, SEC, T0};
use crate::state::{Observation, TargetKey, ZoneState};
use crate::status::{Status, Vantage, ZoneTracker};
use crate::UnixMs;

const SERVERS: [&str; 7] = [
    "a.nic.dk", "b.nic.dk", "c.nic.dk", "l.nic.dk", "p.nic.dk", "s.nic.dk", "x.nic.dk",
];
/// 2026-06-24 06:40:00 UTC.
const B: UnixMs = 1_782_283_200_000;
const STEP: u64 = 10 * SEC;

struct Replay {
    z: ZoneState,
    tracker: ZoneTracker,
    keys: Vec<TargetKey>,
    book: IncidentBook,
    emitted: Vec<Incident>,
    maintenance: Vec<MaintenanceWindow>,
    probes: u64,
}

impl Replay {
    fn new(th: Thresholds) -> Replay {
        let mut keys = Vec::new();
        for (i, s) in SERVERS.iter().enumerate() {
            let n = if *s == "l.nic.dk" { 12 } else { i + 1 };
            for addr in [format!("192.0.2.{n}:53"), format!("[2001:db8::{n}]:53")] {
                for t in [Transport::Udp, Transport::Tcp] {
                    keys.push(TargetKey::new(s, addr.parse().expect("addr"), t));
                }
            }
        }
        let mut z = ZoneState::new("dk.", th);
        z.sync_targets(&keys);
        Replay {
            z,
            tracker: ZoneTracker::new(),
            keys,
            book: IncidentBook::new(Templates::default()),
            emitted: Vec::new(),
            maintenance: Vec::new(),
            probes: 0,
        }
    }

    /// Probe every target at `now` (serial `serial`; `down` says which fail), then one
    /// status tick.
    fn step(&mut self, now: UnixMs, serial: u32, down: &dyn Fn(&TargetKey, u64) -> bool) {
        for k in self.keys.clone() {
            self.probes += 1;
            let outcome = if down(&k, self.probes) {
                fail(FailureKind::Timeout)
            } else {
                ok(serial, 5)
            };
            self.z.observe(Observation {
                key: k.clone(),
                at: now,
                outcome,
            });
        }
        let vantage = Vantage {
            guarded: false,
            up: true,
            reason: String::new(),
        };
        let changes = self
            .tracker
            .update(&self.z, "DNS (.dk)", &self.maintenance, &vantage, now);
        let current = self.tracker.current().expect("published").clone();
        let input = zone_changes(&self.z, &current, &changes);
        self.emitted.extend(self.book.apply(&input));
    }

    fn run(
        &mut self,
        from: UnixMs,
        to: UnixMs,
        serial: u32,
        down: &dyn Fn(&TargetKey, u64) -> bool,
    ) {
        let mut t = from;
        while t < to {
            self.step(t, serial, down);
            t += STEP;
        }
    }

    fn last(&self) -> &Incident {
        self.emitted.last().expect("an incident")
    }
}

/// Default thresholds, but publication is not watched (these replays keep one serial).
fn no_stall() -> Thresholds {
    Thresholds {
        stale_after: Duration::from_secs(24 * 3600),
        ..Thresholds::default()
    }
}

fn none(_: &TargetKey, _: u64) -> bool {
    false
}

#[test]
fn stall_opens_an_incident_in_the_operators_words_and_resolves() {
    let th = Thresholds {
        stale_after: Duration::from_secs(26 * 60),
        ..Thresholds::default()
    };
    let mut r = Replay::new(th);
    // 2026062400 before; 2026062401 first seen at 08:39:01, then nothing new.
    r.run(T0 - 10 * MIN, T0, 2026062400, &none);
    r.run(T0, T0 + 40 * MIN, 2026062401, &none);
    assert_eq!(r.emitted.len(), 1, "{:#?}", r.emitted);
    let inc = r.last().clone();
    assert_eq!(inc.name, "Updates to the dk. zone are not being published");
    assert_eq!(inc.kind, "stall");
    assert_eq!(inc.status, IncidentStatus::Investigating);
    assert_eq!(inc.impact, Impact::Minor);
    // Stale once older than 26 min: the first tick after 09:05:01.
    assert!(inc.created_at > T0 + 26 * MIN && inc.created_at <= T0 + 26 * MIN + STEP);
    assert_eq!(
        inc.updates[0].body,
        "Investigating — updates to the dk. zone are not being published. The zone is served \
         normally by all 7 nameservers, but the latest published version is from \
         2026-06-24 08:39:01 UTC (serial 2026062401), 26 minutes ago."
    );
    assert_eq!(inc.updates[0].affected_components.len(), 1);
    assert_eq!(inc.updates[0].affected_components[0].name, "DNS (.dk)");
    assert_eq!(
        inc.updates[0].affected_components[0].new_status,
        Status::DegradedPerformance
    );
    // A new serial 1 h 6 min after the incident opened.
    let next = inc.created_at + 66 * MIN;
    r.run(T0 + 40 * MIN, next, 2026062401, &none);
    assert_eq!(r.emitted.len(), 1, "nothing new while stalled");
    r.run(next, next + 5 * MIN, 2026062402, &none);
    let done = r.last();
    assert_eq!(done.id, inc.id);
    assert_eq!(done.status, IncidentStatus::Resolved);
    assert_eq!(done.resolved_at, Some(next));
    assert_eq!(
        done.updates.last().expect("update").body,
        format!(
            "Resolved — updates to the dk. zone are published again (serial 2026062402, \
             published {}) after 1 h 6 min.",
            text::datetime(next)
        )
    );
    assert_eq!(r.book.open_count(), 0);
}

#[test]
fn one_server_unreachable_is_one_incident_with_its_group() {
    let mut r = Replay::new(no_stall());
    let l_down = |k: &TargetKey, _: u64| k.server == "l.nic.dk";
    // Everything answers up to 06:40:00; l.nic.dk answers nothing after.
    r.run(B - 10 * MIN, B + STEP, 2026062401, &none);
    r.run(B + STEP, B + 2 * MIN, 2026062401, &l_down);
    assert_eq!(r.book.open_count(), 1);
    let inc = r.last().clone();
    assert_eq!(inc.kind, "server");
    assert_eq!(inc.name, "Network connectivity issue affecting l.nic.dk");
    assert_eq!(
        inc.updates[0].body,
        "Investigating — l.nic.dk is not reachable (UDP and TCP, 192.0.2.12 and 2001:db8::12) \
         since 06:40 UTC. The zone remains available through the other 6 nameservers."
    );
    // The server and its group change together: one incident, one update, both affected.
    let names: Vec<&str> = inc.updates[0]
        .affected_components
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert!(
        names.contains(&"l.nic.dk") && names.contains(&"DNS (.dk)"),
        "{names:?}"
    );
    assert_eq!(inc.impact, Impact::Minor, "the zone is degraded, not down");
    // Back after a while: resolved, with the duration.
    let back = inc.created_at + 64 * MIN;
    r.run(B + 2 * MIN, back, 2026062401, &l_down);
    assert_eq!(r.book.open_count(), 1);
    r.run(back, back + 10 * MIN, 2026062401, &none);
    let done = r.last();
    assert_eq!(done.id, inc.id);
    assert_eq!(done.status, IncidentStatus::Resolved);
    let took = done.resolved_at.expect("resolved") - done.created_at;
    assert_eq!(text::duration(took), "1 h 6 min", "{took} ms");
    assert_eq!(
        done.updates.last().expect("update").body,
        "Resolved — l.nic.dk is reachable again after 1 h 6 min."
    );
    assert_eq!(done.updates.len(), 2, "{:#?}", done.updates);
}

#[test]
fn maintenance_window_opens_no_incident() {
    let mut r = Replay::new(no_stall());
    r.maintenance = vec![MaintenanceWindow {
        components: vec!["l.nic.dk".into()],
        start: B,
        end: B + 60 * MIN,
        reason: "Router replacement".into(),
    }];
    let l_down = |k: &TargetKey, _: u64| k.server == "l.nic.dk";
    r.run(B - 10 * MIN, B, 2026062401, &none);
    r.run(B, B + 55 * MIN, 2026062401, &l_down);
    r.run(B + 55 * MIN, B + 80 * MIN, 2026062401, &none);
    assert!(r.emitted.is_empty(), "{:#?}", r.emitted);
}

#[test]
fn five_percent_loss_opens_no_incident() {
    let mut r = Replay::new(no_stall());
    // Every 20th probe fails, spread over all targets.
    let lossy = |_: &TargetKey, n: u64| n.is_multiple_of(20);
    r.run(B - 10 * MIN, B + 3 * 60 * MIN, 2026062401, &lossy);
    assert!(r.emitted.is_empty(), "{:#?}", r.emitted);
}

#[test]
fn a_restart_continues_the_open_incident() {
    let mut r = Replay::new(no_stall());
    let l_down = |k: &TargetKey, _: u64| k.server == "l.nic.dk";
    r.run(B - 10 * MIN, B + STEP, 2026062401, &none);
    r.run(B + STEP, B + 5 * MIN, 2026062401, &l_down);
    let open: Vec<Incident> = r.book.open().cloned().collect();
    assert_eq!(open.len(), 1);
    // A new process: fresh state and tracker, the open incident restored from the store.
    let mut r2 = Replay::new(no_stall());
    r2.book.restore(open.clone());
    r2.run(B + 6 * MIN, B + 15 * MIN, 2026062401, &l_down);
    // Republishing the same statuses after the restart adds nothing.
    assert!(r2.emitted.is_empty(), "{:#?}", r2.emitted);
    r2.run(B + 15 * MIN, B + 25 * MIN, 2026062401, &none);
    let done = r2.last();
    assert_eq!(done.id, open[0].id, "the same incident");
    assert_eq!(done.status, IncidentStatus::Resolved);
    assert_eq!(done.updates.len(), 2);
}

#[test]
fn templates_can_be_overridden() {
    let mut o = std::collections::BTreeMap::new();
    o.insert(
        "server_open".to_string(),
        "Vi undersøger: {server} svarer ikke ({addresses}).".to_string(),
    );
    let t = Templates::with_overrides(&o).expect("valid");
    assert_eq!(
        t.server_open,
        "Vi undersøger: {server} svarer ikke ({addresses})."
    );
    let mut r = Replay::new(no_stall());
    r.book = IncidentBook::new(t);
    let l_down = |k: &TargetKey, _: u64| k.server == "l.nic.dk";
    r.run(B - 10 * MIN, B + STEP, 2026062401, &none);
    r.run(B + STEP, B + 2 * MIN, 2026062401, &l_down);
    assert_eq!(
        r.last().updates[0].body,
        "Investigating — Vi undersøger: l.nic.dk svarer ikke (192.0.2.12 and 2001:db8::12)."
    );
    o.insert("nonsense".into(), "x".into());
    assert!(Templates::with_overrides(&o)
        .expect_err("unknown key")
        .contains("nonsense"));
}
