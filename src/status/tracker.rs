//! One zone's published statuses: proposed server statuses ([`super::dns`]) through the
//! confirmation layer ([`super::confirm`]), held while the vantage is down, then the group
//! rule over the confirmed server statuses (the group needs no confirmation of its own).

use std::collections::BTreeMap;
use std::time::Duration;

use super::confirm::{Change, Confirmation, Member, SavedTracker, Timing};
use super::dns::{evaluate_group, propose_servers_into, staleness};
use super::freshness::Freshest;
use super::observation::Noted;
use super::vantage::Vantage;
use super::{ComponentStatus, Status, ZoneStatus};
use crate::config::MaintenanceWindow;
use crate::state::ZoneState;
use crate::UnixMs;

/// What a hub adds to a zone's evaluation (see [`ZoneTracker::update_merged`]).
pub struct HubView<'a> {
    /// Each server's local proposal and its last observation record → the status to
    /// confirm (the quorum verdict; the proposal is recorded in the log, see
    /// [`super::ObservationLog::note`]).
    pub merge: &'a mut dyn FnMut(ComponentStatus, &mut Noted) -> ComponentStatus,
    /// The zone's newest serial across vantages; None = this vantage's own probes.
    pub freshest: Option<Freshest>,
}

/// The confirmation state of one zone's components and what is published now.
#[derive(Debug, Clone, Default)]
pub struct ZoneTracker {
    servers: BTreeMap<String, Member>,
    group: Confirmation,
    current: Option<ZoneStatus>,
}

impl ZoneTracker {
    /// Nothing published yet.
    pub fn new() -> ZoneTracker {
        ZoneTracker::default()
    }

    /// What survives a restart: every server's confirmation state and the group's.
    pub fn save(&self) -> SavedTracker {
        SavedTracker::of(&self.servers, &self.group)
    }

    /// A tracker continuing the one saved before a restart ([`Confirmation::restore`]).
    pub fn restore(saved: &SavedTracker) -> ZoneTracker {
        let (servers, group) = saved.restore();
        ZoneTracker {
            servers,
            group,
            current: None,
        }
    }

    /// What [`ZoneTracker::update`] would publish at `now`, without changing anything:
    /// for readers before the first status tick (a restored tracker shows its restored
    /// statuses, a fresh one the first proposals).
    pub fn preview(
        &self,
        state: &ZoneState,
        group_name: &str,
        maintenance: &[MaintenanceWindow],
        vantage: &Vantage,
        now: UnixMs,
    ) -> ZoneStatus {
        let mut t = self.clone();
        t.update(state, group_name, maintenance, vantage, now);
        t.current.unwrap_or_else(|| ZoneStatus {
            group: ComponentStatus::new(group_name, Status::Unknown, "not evaluated yet".into()),
            stale: false,
            servers: Vec::new(),
        })
    }

    /// What was published by the last [`ZoneTracker::update`] (None before the first).
    pub fn current(&self) -> Option<&ZoneStatus> {
        self.current.as_ref()
    }

    /// Evaluates the zone at `now` and publishes through the confirmation layer; returns
    /// every published change (one log line each).
    pub fn update(
        &mut self,
        state: &ZoneState,
        group_name: &str,
        maintenance: &[MaintenanceWindow],
        vantage: &Vantage,
        now: UnixMs,
    ) -> Vec<Change> {
        let hub = HubView {
            merge: &mut |p, _| p,
            freshest: None,
        };
        self.update_merged(state, group_name, maintenance, vantage, hub, now)
    }

    /// Like [`ZoneTracker::update`], with every server's local proposal passed through
    /// `hub.merge` before confirmation (a hub: this vantage's proposal is recorded and
    /// replaced by the quorum verdict over every vantage, see [`super::quorum`]) and the
    /// zone's freshness judged on `hub.freshest` (the newest serial any vantage saw, see
    /// [`super::freshness`]) when given. Maintenance is decided here, not voted on.
    pub fn update_merged(
        &mut self,
        state: &ZoneState,
        group_name: &str,
        maintenance: &[MaintenanceWindow],
        vantage: &Vantage,
        hub: HubView<'_>,
        now: UnixMs,
    ) -> Vec<Change> {
        let HubView { merge, freshest } = hub;
        let th = state.thresholds();
        let timing = Timing {
            confirm_after: th.confirm_after,
            clear_after: th.clear_after,
        };
        let mut changes = Vec::new();
        // Last tick's published statuses are this tick's buffers: in the steady state a
        // tick allocates no string per server (the proposal's strings become the
        // published ones, see `Confirmation::update`).
        let reuse = self.current.take().map(|c| c.servers).unwrap_or_default();
        let mut proposed = propose_servers_into(reuse, state, maintenance, now);
        if !vantage.up {
            for p in proposed
                .iter_mut()
                .filter(|p| p.status != Status::UnderMaintenance)
            {
                p.reason = format!(
                    "vantage down ({}); holding the last confirmed status; evidence: {}",
                    vantage.reason, p.reason
                );
                p.status = Status::Unknown;
            }
        }
        // `proposed` is ordered by name (the zone state's server map is): once the
        // members are keyed by exactly those names, they pair up in order.
        let same_names = self.servers.len() == proposed.len()
            && self
                .servers
                .keys()
                .zip(&proposed)
                .all(|(k, p)| *k == p.name);
        if !same_names {
            self.servers.retain(|name, _| {
                proposed
                    .binary_search_by(|p| p.name.as_str().cmp(name))
                    .is_ok()
            });
            for p in &proposed {
                if !self.servers.contains_key(&p.name) {
                    self.servers.insert(p.name.clone(), Member::default());
                }
            }
        }
        let servers: Vec<ComponentStatus> = self
            .servers
            .values_mut()
            .zip(proposed)
            .map(|(member, p)| {
                let p = match p.status {
                    Status::UnderMaintenance => p,
                    _ => merge(p, &mut member.noted),
                };
                let (published, change) = member.confirmation.update(p, timing, now);
                changes.extend(change);
                published
            })
            .collect();
        let stale = staleness(state, freshest.as_ref(), now);
        let group = evaluate_group(
            state,
            group_name,
            &servers,
            stale.as_deref(),
            maintenance,
            now,
        );
        let at_once = Timing {
            confirm_after: Duration::ZERO,
            clear_after: Duration::ZERO,
        };
        let (group, change) = self.group.update(group, at_once, now);
        changes.extend(change);
        self.current = Some(ZoneStatus {
            group,
            stale: stale.is_some(),
            servers,
        });
        changes
    }
}

#[cfg(test)]
mod tests {
    //! The acceptance cases of the system tests, deterministically: a fake clock, seeded
    //! random loss, probes every second per target (UDP and TCP per server), timeouts
    //! reported 500 ms after the send, the tracker fed every 512 ms as the daemon does
    //! ([`super::STATUS_TICK`]),
    //! every other threshold at its default.

    use std::collections::BTreeMap;

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::config::Thresholds;
    use crate::probe::FailureKind;
    use crate::state::tests::{fail, obs, ok, tcp, udp, SEC, T0};
    use crate::state::{Observation, TargetKey, VantageState};
    use crate::status::vantage_verdict;

    const SEVEN: [&str; 7] = [
        "a.nic.dk", "b.nic.dk", "c.nic.dk", "d.nic.dk", "l.nic.dk", "p.nic.dk", "s.nic.dk",
    ];
    const GROUP: &str = "DNS (.dk)";
    const TICK: u64 = 512;
    const TIMEOUT: u64 = 500;

    /// What a probe sent to a target at a time gets: Some(serial) answered, None lost.
    type World<'a> = &'a mut dyn FnMut(&TargetKey, UnixMs) -> Option<u32>;

    struct Sim {
        zone: ZoneState,
        keys: Vec<TargetKey>,
        tracker: ZoneTracker,
        vantage: VantageState,
        canaries: Vec<TargetKey>,
        canary_up: bool,
        now: UnixMs,
        pending: Vec<(bool, Observation)>,
        changes: Vec<Change>,
    }

    impl Sim {
        fn new(servers: &[&str]) -> Sim {
            let mut keys = Vec::new();
            for (i, s) in servers.iter().enumerate() {
                let addr = format!("192.0.2.{}:53", i + 1);
                keys.push(udp(s, &addr));
                keys.push(tcp(s, &addr));
            }
            let mut zone = ZoneState::new("dk.", Thresholds::default());
            zone.declare_servers(servers.iter().copied());
            zone.sync_targets(&keys);
            Sim {
                zone,
                keys,
                tracker: ZoneTracker::new(),
                vantage: VantageState::new(),
                canaries: Vec::new(),
                canary_up: true,
                now: T0,
                pending: Vec::new(),
                changes: Vec::new(),
            }
        }

        fn with_canary(mut self) -> Sim {
            self.canaries = vec![udp("k.root", "192.0.2.200:53")];
            self.vantage.sync(&self.canaries);
            self
        }

        /// One tick: probes sent in [now, now + tick) (each target once a second, phases
        /// spread over the second), results delivered in time order, then the tracker.
        fn tick(&mut self, world: World<'_>) {
            let t = self.now;
            let n = (self.keys.len() + self.canaries.len()) as u64;
            for (i, k) in self.keys.iter().chain(&self.canaries).enumerate() {
                let send = t - t % SEC + i as u64 * SEC / n;
                let sends = [send, send + SEC];
                for send in sends.into_iter().filter(|s| (t..t + TICK).contains(s)) {
                    let canary = i >= self.keys.len();
                    let answer = if canary {
                        self.canary_up.then_some(1)
                    } else {
                        world(k, send)
                    };
                    let (at, outcome) = match answer {
                        Some(serial) => (send + 1, ok(serial, 1)),
                        None => (send + TIMEOUT, fail(FailureKind::Timeout)),
                    };
                    self.pending.push((canary, obs(k, at, outcome)));
                }
            }
            self.pending.sort_by_key(|(_, o)| o.at);
            let due = self.pending.partition_point(|(_, o)| o.at < t + TICK);
            let fail_after = self.zone.thresholds().fail_after;
            for (canary, o) in self.pending.drain(..due) {
                if canary {
                    self.vantage.observe(&o, fail_after);
                } else {
                    self.zone.observe(o);
                }
            }
            self.now = t + TICK;
            let v = vantage_verdict(&self.vantage, [&self.zone]);
            let changes = self.tracker.update(&self.zone, GROUP, &[], &v, self.now);
            self.changes.extend(changes);
        }

        fn run(&mut self, secs: u64, world: World<'_>) {
            for _ in 0..secs * SEC / TICK {
                self.tick(world);
            }
        }

        /// Seconds until `name` is published as `status` (at most `limit` seconds).
        fn until(&mut self, name: &str, status: Status, limit: u64, world: World<'_>) -> f64 {
            let start = self.now;
            while self.now < start + limit * SEC {
                self.tick(world);
                if self.status(name).status == status {
                    return (self.now - start) as f64 / 1000.0;
                }
            }
            panic!(
                "{name} not {status} within {limit}s: {:?}",
                self.status(name)
            );
        }

        fn status(&self, name: &str) -> &ComponentStatus {
            let zs = self.tracker.current().expect("published");
            if name == GROUP {
                return &zs.group;
            }
            zs.servers.iter().find(|c| c.name == name).expect("server")
        }

        /// Changes per component from index `from` of the change log on.
        fn changes_since(&self, from: usize) -> BTreeMap<String, usize> {
            let mut m = BTreeMap::new();
            for c in &self.changes[from..] {
                *m.entry(c.name.clone()).or_insert(0) += 1;
            }
            m
        }

        /// Runs until every component is operational (start-up), then returns the mark.
        fn settle(&mut self, world: World<'_>) -> usize {
            self.run(10, world);
            assert_eq!(
                self.status(GROUP).status,
                Status::Operational,
                "{:?}",
                self.tracker.current()
            );
            self.changes.len()
        }
    }

    fn lossy(
        seed: u64,
        share: impl Fn(&TargetKey) -> f64,
    ) -> impl FnMut(&TargetKey, UnixMs) -> Option<u32> {
        let mut rng = StdRng::seed_from_u64(seed);
        move |k, _| (!rng.random_bool(share(k))).then_some(1)
    }

    #[test]
    fn five_percent_loss_on_seven_servers_never_changes_a_status() {
        for seed in [1u64, 2, 3] {
            let mut sim = Sim::new(&SEVEN);
            let mut world = lossy(seed, |_| 0.05);
            let mark = sim.settle(&mut world);
            sim.run(20 * 60, &mut world); // (shorter than stale_after: no publications here)
            assert_eq!(sim.changes_since(mark), BTreeMap::new(), "seed {seed}");
        }
    }

    #[test]
    fn thirty_percent_loss_degrades_that_server_only() {
        for seed in [4u64, 5, 6] {
            let mut sim = Sim::new(&SEVEN);
            let mut world = lossy(seed, |k| if k.server == "a.nic.dk" { 0.30 } else { 0.0 });
            let mark = sim.settle(&mut world);
            sim.run(20 * 60, &mut world); // (shorter than stale_after: no publications here)
            let changes = sim.changes_since(mark);
            assert_eq!(sim.status("a.nic.dk").status, Status::DegradedPerformance);
            assert!(
                changes.get("a.nic.dk").copied().unwrap_or(0) <= 2,
                "seed {seed}: {changes:?}"
            );
            assert!(
                changes.get(GROUP).copied().unwrap_or(0) <= 1,
                "seed {seed}: {changes:?}"
            );
            assert!(
                changes.keys().all(|c| c == "a.nic.dk" || c == GROUP),
                "seed {seed}: {changes:?}"
            );
            assert!(
                sim.status("a.nic.dk").reason.starts_with("lossy: "),
                "{:?}",
                sim.status("a.nic.dk")
            );
        }
    }

    #[test]
    fn silent_server_is_an_outage_within_the_bound_and_back_within_the_bound() {
        let mut sim = Sim::new(&SEVEN);
        let mut up = |_: &TargetKey, _: UnixMs| Some(1);
        let mark = sim.settle(&mut up);
        let mut silent_a = |k: &TargetKey, _: UnixMs| (k.server != "a.nic.dk").then_some(1);
        let took = sim.until("a.nic.dk", Status::MajorOutage, 60, &mut silent_a);
        // fail_after × interval + timeout + confirm_after, plus two ticks.
        assert!(took <= 3.0 + 0.5 + 30.0 + 0.5, "{took}");
        assert!(took >= 30.0, "published before confirmation: {took}");
        let took = sim.until("a.nic.dk", Status::Operational, 200, &mut up);
        // recover_after × interval + clear_after, plus two ticks (answers take 1 ms and
        // reports apply at once here; the worst case is the test below).
        assert!(took <= 2.0 + 120.0 + 0.5, "{took}");
        assert!(took >= 120.0, "cleared before clear_after: {took}");
        let changes = sim.changes_since(mark);
        assert_eq!(changes.get("a.nic.dk"), Some(&2), "{changes:?}");
        assert_eq!(changes.get(GROUP), Some(&2), "{changes:?}");
        assert_eq!(changes.len(), 2, "{changes:?}");
    }

    /// The recovery bound of README (Status rules, Bounds) is an upper bound: its worst
    /// case step by step, interval 1 s, timeout 500 ms, defaults otherwise. The probe sent
    /// 1 ms before the network is back went into the outage and fails; the next two succeed,
    /// each answer taking 499 ms; the second report waits 20 ms for the loop (busy with
    /// other work); the status tick due a tick less 1 ms later is the first to see
    /// `operational` and fires 20 ms late (behind other work again), so `clear_after`
    /// counts from there; the tick due `clear_after` later is on time, 20 ms short, and the
    /// next one, again 20 ms late, publishes (`clear_after` here is a whole number of
    /// ticks, 234 × 512 ms, which makes that tick exactly 20 ms short). recover_after ×
    /// interval + timeout + clear_after + 2 ticks + 2 × 20 ms holds; the bound without the
    /// response time and the loop's delays does not.
    #[test]
    fn recovery_worst_case_is_within_the_documented_bound() {
        const BATCH_WAIT: u64 = 20;
        let a = udp("a.nic.dk", "192.0.2.1:53");
        let th = Thresholds {
            clear_after: Duration::from_millis(234 * TICK),
            ..Thresholds::default()
        };
        let mut zone = ZoneState::new("dk.", th.clone());
        zone.declare_servers(["a.nic.dk"]);
        zone.sync_targets(std::slice::from_ref(&a));
        let (interval, timeout) = (SEC, TIMEOUT);
        let clear_after = th.clear_after.as_millis() as u64;
        let down_from = T0 + 60 * SEC;
        let back = T0 + 120 * SEC;
        // Probes sent at T0 + 999 ms + k s: the one at back − 1 ms goes into the outage.
        let mut reports: Vec<(UnixMs, Observation)> = (0..300u64)
            .map(|k| {
                let send = T0 + k * interval + 999;
                let (done, outcome) = if (down_from..back).contains(&send) {
                    (send + timeout, fail(FailureKind::Timeout))
                } else {
                    (send + 499, ok(1, 499))
                };
                (done + BATCH_WAIT, obs(&a, send, outcome))
            })
            .collect();
        reports.reverse();
        let second_success = back + 999 + interval + 499 + BATCH_WAIT;
        // Status ticks due at T0 + 149 ms + k × 512 ms (one of them 1 ms before the second
        // success is applied); two of them fire 20 ms late.
        let first_seen_due = second_success - 1 + TICK;
        let late = [first_seen_due, first_seen_due + clear_after + TICK];
        let vantage = vantage_verdict(&VantageState::new(), [&zone]);
        let mut tracker = ZoneTracker::new();
        let (mut published_at, mut before_back) = (None, None);
        let mut due = T0 + 149;
        while due < back + 200 * SEC && published_at.is_none() {
            let fire = if late.contains(&due) {
                due + BATCH_WAIT
            } else {
                due
            };
            while reports.last().is_some_and(|(applied, _)| *applied < fire) {
                let (_, o) = reports.pop().expect("report");
                zone.observe(o);
            }
            tracker.update(&zone, GROUP, &[], &vantage, fire);
            let a_now = &tracker.current().expect("published").servers[0];
            if fire > back && a_now.status == Status::Operational {
                published_at = Some(fire);
            }
            if fire < back {
                before_back = Some(a_now.status);
            }
            due += TICK;
        }
        assert_eq!(before_back, Some(Status::MajorOutage));
        let took = published_at.expect("operational again") - back;
        let (n, tick) = (u64::from(th.recover_after), TICK);
        let bound = n * interval + timeout + clear_after + 2 * tick + 2 * BATCH_WAIT;
        assert!(took <= bound, "took {took} ms, bound {bound} ms");
        assert_eq!(took, 123_369);
        let old_bound = n * interval + clear_after + 2 * tick;
        assert!(took > old_bound, "took {took} ms, old bound {old_bound} ms");
    }

    #[test]
    fn every_server_on_a_lower_serial_rolls_the_zone_back_without_a_status_change() {
        let mut sim = Sim::new(&SEVEN);
        let mut high = |_: &TargetKey, _: UnixMs| Some(2_026_010_100);
        let mark = sim.settle(&mut high);
        let mut low = |_: &TargetKey, _: UnixMs| Some(887_003);
        let start = sim.now;
        while sim.zone.newest_serial() != Some(887_003) {
            sim.tick(&mut low);
            assert!(sim.now - start <= 200 * SEC, "no rollback");
        }
        let took = (sim.now - start) as f64 / 1000.0;
        // rollback_after + interval, plus a tick.
        assert!(took <= 120.0 + 1.0 + TICK as f64 / 1000.0, "{took}");
        assert_eq!(sim.zone.rollbacks(), 1);
        sim.run(10 * 60, &mut low);
        for (name, s) in sim.zone.servers() {
            for a in s.addresses.values() {
                assert_eq!(
                    sim.zone.lag_of(a, sim.now).map(|l| l.serials),
                    Some(0),
                    "{name}"
                );
            }
        }
        assert_eq!(sim.changes_since(mark), BTreeMap::new());
        assert_eq!(sim.zone.rollbacks(), 1);
    }

    #[test]
    fn one_server_going_backwards_is_regression_and_lag_not_rollback() {
        let mut sim = Sim::new(&SEVEN);
        let mut high = |_: &TargetKey, _: UnixMs| Some(10);
        sim.settle(&mut high);
        let mut a_low =
            |k: &TargetKey, _: UnixMs| Some(if k.server == "a.nic.dk" { 9 } else { 10 });
        let took = sim.until("a.nic.dk", Status::DegradedPerformance, 600, &mut a_low);
        // Behind since the regression: lag_after (5m) + confirm_after.
        assert!((300.0..=332.0).contains(&took), "{took}");
        assert_eq!(sim.zone.rollbacks(), 0);
        assert_eq!(sim.zone.newest_serial(), Some(10));
    }

    #[test]
    fn canaries_failing_with_every_server_hold_the_statuses() {
        let mut sim = Sim::new(&SEVEN).with_canary();
        let mut up = |_: &TargetKey, _: UnixMs| Some(1);
        let mark = sim.settle(&mut up);
        sim.canary_up = false;
        let mut dark = |_: &TargetKey, _: UnixMs| None;
        for _ in 0..(5 * 60 * SEC / TICK) {
            sim.tick(&mut dark);
            for s in &sim.tracker.current().expect("published").servers {
                assert_ne!(s.status, Status::MajorOutage, "{s:?}");
                assert_ne!(s.status, Status::PartialOutage, "{s:?}");
            }
        }
        let a = sim.status("a.nic.dk");
        assert_eq!(a.status, Status::Unknown);
        assert_eq!(a.last_known, Some(Status::Operational));
        assert_eq!(a.statuspage_status(), Status::Operational);
        assert!(a.reason.starts_with("vantage down"), "{a:?}");
        assert_eq!(sim.status(GROUP).status, Status::Unknown);
        // Back: everything operational again at once (the held status is confirmed).
        sim.canary_up = true;
        let took = sim.until(GROUP, Status::Operational, 30, &mut up);
        assert!(took <= 5.0, "{took}");
        let changes = sim.changes_since(mark);
        assert!(changes.values().all(|&n| n == 2), "{changes:?}");
        // A canary failing alone changes nothing.
        sim.canary_up = false;
        let mark = sim.changes.len();
        sim.run(5 * 60, &mut up);
        assert_eq!(sim.changes_since(mark), BTreeMap::new());
    }

    #[test]
    fn unknown_is_never_operational() {
        let mut sim = Sim::new(&["a.nic.dk", "b.nic.dk"]);
        // b.nic.dk's name never resolved: no target.
        let keep: Vec<TargetKey> = sim
            .keys
            .iter()
            .filter(|k| k.server == "a.nic.dk")
            .cloned()
            .collect();
        sim.zone.sync_targets(&keep);
        sim.keys = keep;
        let v = vantage_verdict(&sim.vantage, [&sim.zone]);
        sim.tracker.update(&sim.zone, GROUP, &[], &v, sim.now);
        assert_eq!(sim.status("a.nic.dk").status, Status::Unknown);
        assert_eq!(sim.status("a.nic.dk").reason, "not probed yet");
        assert_eq!(
            sim.status("a.nic.dk").statuspage_status(),
            Status::DegradedPerformance
        );
        let mut up = |_: &TargetKey, _: UnixMs| Some(1);
        sim.run(5, &mut up);
        assert_eq!(sim.status("a.nic.dk").status, Status::Operational);
        let b = sim.status("b.nic.dk");
        assert_eq!(b.status, Status::Unknown);
        assert!(b.reason.starts_with("no address known"), "{b:?}");
        assert_eq!(b.statuspage_status(), Status::MajorOutage);
        let g = sim.status(GROUP);
        assert_eq!(g.status, Status::Operational);
        assert!(g.reason.ends_with("status unknown: b.nic.dk"), "{g:?}");
    }
    #[test]
    fn a_hub_judges_freshness_on_the_newest_serial_any_vantage_saw() {
        use crate::state::tests::{zone, MIN};
        use crate::status::Freshest;
        // This vantage has seen serial 10 only, first at T0; every probe answers.
        let (mut z, keys) = zone(&["a.nic.dk"]);
        let mut t = T0;
        while t <= T0 + 40 * MIN {
            z.observe(obs(&keys[0], t, ok(10, 1)));
            t += 10 * SEC;
        }
        let now = T0 + 40 * MIN;
        let v = vantage_verdict(&VantageState::new(), [&z]);
        // Alone: no new serial for 40m (stale after 30m).
        let mut tr = ZoneTracker::new();
        tr.update(&z, GROUP, &[], &v, now);
        let zs = tr.current().expect("published");
        assert!(zs.stale);
        assert!(
            zs.group.reason.starts_with("no new serial for 40m"),
            "{}",
            zs.group.reason
        );
        // fra-1 saw serial 11 five minutes ago: the zone is fresh at the hub.
        let mut hub = ZoneTracker::new();
        let fresh = Freshest {
            serial: 11,
            first_seen: now - 5 * MIN,
            first_by: "fra-1".to_string(),
        };
        let view = HubView {
            merge: &mut |p, _| p,
            freshest: Some(fresh),
        };
        hub.update_merged(&z, GROUP, &[], &v, view, now);
        let zs = hub.current().expect("published");
        assert!(!zs.stale);
        assert_eq!(zs.group.status, Status::Operational, "{}", zs.group.reason);
        // Seen first 31 minutes ago (by fra-1): stale, and the reason says by whom.
        let old = Freshest {
            serial: 11,
            first_seen: now - 31 * MIN,
            first_by: "fra-1".to_string(),
        };
        let view = HubView {
            merge: &mut |p, _| p,
            freshest: Some(old),
        };
        hub.update_merged(&z, GROUP, &[], &v, view, now);
        let zs = hub.current().expect("published");
        assert!(zs.stale);
        assert_eq!(zs.group.status, Status::DegradedPerformance);
        assert!(
            zs.group
                .reason
                .starts_with("no new serial for 31m (stale after 30m); newest 11 first seen"),
            "{}",
            zs.group.reason
        );
        assert!(
            zs.group.reason.ends_with(" by fra-1"),
            "{}",
            zs.group.reason
        );
    }
}
