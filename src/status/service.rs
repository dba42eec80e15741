//! Service component status rules: component state + maintenance + now → the *proposed*
//! status of a service component, the group rule over its members, and a tracker that
//! publishes them through the generic confirmation layer ([`super::confirm`]).
//!
//! The reachability rules are a nameserver's (README.md, section Status rules): every target
//! down → `major_outage`, some → `partial_outage`, loss or slowness over the evidence window
//! → `degraded_performance`; plus a server certificate expiring within `cert_warn_before` →
//! `degraded_performance`; `unknown` before the first result. Pure functions.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::confirm::{Change, Confirmation, Member, SavedTracker, Timing};
use super::dns::{active_maintenance, NO_ADDRESS};
use super::judge::{maintenance_reason, targets_down, window_reasons, WindowRule, Wording};
use super::observation::Noted;
use super::vantage::Vantage;
use super::{fmt_ms, ComponentStatus, Status};
use crate::config::{MaintenanceWindow, ServiceThresholds};
use crate::state::ServiceState;
use crate::{duration_ms, UnixMs};

/// How service reasons word the evidence window: checks, whole milliseconds.
const WORDING: Wording = Wording {
    samples: "checks",
    successes: "checks",
    median: |d| format!("{:.0}ms", d.as_secs_f64() * 1000.0),
    slow_after: |d| format!("{}ms", d.as_millis()),
};

/// The proposed status of service component `name` (rules in README.md, section Status rules).
pub fn evaluate_service(
    name: &str,
    state: &ServiceState,
    maintenance: &[MaintenanceWindow],
    now: UnixMs,
) -> ComponentStatus {
    let c = |status, reason| ComponentStatus::new(name, status, reason);
    if let Some(w) = active_maintenance(name, maintenance, now) {
        return c(Status::UnderMaintenance, maintenance_reason(w));
    }
    if state.checks.is_empty() {
        return c(
            Status::Unknown,
            format!("{NO_ADDRESS}: no check target resolves, nothing to check"),
        );
    }
    if state.never_checked() {
        return c(Status::Unknown, "not checked yet".to_string());
    }
    let n = state.checks.len();
    let down: Vec<String> = state
        .checks
        .iter()
        .filter(|(_, s)| s.is_down())
        .map(|(k, s)| match &s.last_error {
            Some(e) => format!("{k} down: {}", e.reason),
            None => format!("{k} down"),
        })
        .collect();
    if let Some((status, reason)) = targets_down(&down, n) {
        return c(status, reason);
    }
    if state.checks.values().all(|s| s.up.is_none()) {
        return c(Status::Unknown, "no successful check yet".to_string());
    }
    let th: &ServiceThresholds = state.thresholds();
    let rule = WindowRule {
        span_ms: duration_ms(th.stats_window),
        loss_after: th.loss_after,
        min_samples: th.min_samples,
        slow_after: th.slow_after,
    };
    let w = state.samples.stats(now, rule.span_ms);
    let mut degraded = window_reasons(&w, &rule, &WORDING);
    let now_s = i64::try_from(now / 1000).unwrap_or(i64::MAX);
    let warn_s = i64::try_from(th.cert_warn_before.as_secs()).unwrap_or(i64::MAX);
    for (k, s) in &state.checks {
        let Some(cert) = &s.cert else { continue };
        let expiry = cert.not_after.min(cert.chain_not_after);
        let left = expiry.saturating_sub(now_s);
        if left <= 0 {
            degraded.push(format!(
                "{k}: certificate expired {} ago",
                fmt_ms(left.unsigned_abs().saturating_mul(1000))
            ));
        } else if left < warn_s {
            degraded.push(format!(
                "{k}: certificate expires in {} (warn before {})",
                fmt_ms(u64::try_from(left).unwrap_or(0).saturating_mul(1000)),
                fmt_ms(duration_ms(th.cert_warn_before))
            ));
        }
    }
    if !degraded.is_empty() {
        return c(Status::DegradedPerformance, degraded.join("; "));
    }
    let up = state.checks.values().filter(|s| s.up == Some(true)).count();
    c(Status::Operational, format!("{up} of {n} targets up"))
}

/// A service group's own component over its members' statuses (the confirmed ones in the
/// daemon): the rule of a zone group without staleness. In maintenance when a window names
/// the group; members in maintenance are left out; unknown members are named but do not
/// count (all unknown: unknown); all in major outage → `major_outage`; a share above
/// `partial_outage_share` in major outage → `partial_outage`; any not operational →
/// `degraded_performance`; otherwise `operational`.
pub fn evaluate_service_group(
    name: &str,
    members: &[ComponentStatus],
    partial_outage_share: f64,
    maintenance: &[MaintenanceWindow],
    now: UnixMs,
) -> ComponentStatus {
    let c = |status, reason| ComponentStatus::new(name, status, reason);
    if let Some(w) = active_maintenance(name, maintenance, now) {
        return c(Status::UnderMaintenance, maintenance_reason(w));
    }
    let in_service: Vec<&ComponentStatus> = members
        .iter()
        .filter(|m| m.status != Status::UnderMaintenance)
        .collect();
    let considered: Vec<&ComponentStatus> = in_service
        .iter()
        .copied()
        .filter(|m| m.status != Status::Unknown)
        .collect();
    if !in_service.is_empty() && considered.is_empty() {
        return c(
            Status::Unknown,
            format!("no component observable: {}", in_service[0].reason),
        );
    }
    let n = considered.len();
    let major: Vec<&str> = considered
        .iter()
        .filter(|m| m.status == Status::MajorOutage)
        .map(|m| m.name.as_str())
        .collect();
    if n > 0 && major.len() == n {
        return c(
            Status::MajorOutage,
            format!("all {n} components in major outage"),
        );
    }
    if n > 0 && major.len() as f64 / n as f64 > partial_outage_share {
        return c(
            Status::PartialOutage,
            format!(
                "{} of {n} components in major outage: {}",
                major.len(),
                major.join(", ")
            ),
        );
    }
    let not_ok: Vec<String> = considered
        .iter()
        .filter(|m| m.status != Status::Operational)
        .map(|m| format!("{} ({})", m.name, m.status))
        .collect();
    if !not_ok.is_empty() {
        return c(
            Status::DegradedPerformance,
            format!(
                "{} of {n} components not operational: {}",
                not_ok.len(),
                not_ok.join(", ")
            ),
        );
    }
    let mut reason = format!("{n} components operational");
    let unknown = in_service.len() - n;
    if unknown > 0 {
        reason.push_str(&format!(", {unknown} unknown"));
    }
    c(Status::Operational, reason)
}

/// A service group's published statuses: its group component and its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStatus {
    /// The group component.
    pub group: ComponentStatus,
    /// One per member component, in config order.
    pub components: Vec<ComponentStatus>,
}

/// What a service group is judged by besides its members (see [`ServiceTracker::update_merged`]).
#[derive(Debug, Clone, Copy)]
pub struct GroupRule<'a> {
    /// `partial_outage_share` of the group.
    pub partial_outage_share: f64,
    /// Declared maintenance windows.
    pub maintenance: &'a [MaintenanceWindow],
    /// This vantage's own network verdict.
    pub vantage: &'a Vantage,
}

/// The confirmation state of one service group's components and what is published now.
#[derive(Debug, Clone, Default)]
pub struct ServiceTracker {
    members: BTreeMap<String, Member>,
    group: Confirmation,
    current: Option<GroupStatus>,
}

impl ServiceTracker {
    /// Nothing published yet.
    pub fn new() -> ServiceTracker {
        ServiceTracker::default()
    }

    /// What survives a restart: every member's confirmation state and the group's.
    pub fn save(&self) -> SavedTracker {
        SavedTracker::of(&self.members, &self.group)
    }

    /// A tracker continuing the one saved before a restart ([`Confirmation::restore`]).
    pub fn restore(saved: &SavedTracker) -> ServiceTracker {
        let (members, group) = saved.restore();
        ServiceTracker {
            members,
            group,
            current: None,
        }
    }

    /// What [`ServiceTracker::update`] would publish at `now`, without changing anything
    /// (for readers before the first status tick).
    pub fn preview<'a>(
        &self,
        group_name: &str,
        members: impl IntoIterator<Item = (&'a str, &'a ServiceState)>,
        partial_outage_share: f64,
        maintenance: &[MaintenanceWindow],
        now: UnixMs,
    ) -> GroupStatus {
        let mut t = self.clone();
        let vantage = Vantage {
            guarded: false,
            up: true,
            reason: String::new(),
        };
        t.update(
            group_name,
            members,
            partial_outage_share,
            maintenance,
            &vantage,
            now,
        );
        t.current.unwrap_or_else(|| GroupStatus {
            group: ComponentStatus::new(group_name, Status::Unknown, "not evaluated yet".into()),
            components: Vec::new(),
        })
    }

    /// What the last [`ServiceTracker::update`] published (None before the first).
    pub fn current(&self) -> Option<&GroupStatus> {
        self.current.as_ref()
    }

    /// Evaluates the group's members (`(name, state)` in config order) at `now` and
    /// publishes through the confirmation layer (each member with its own `confirm_after`
    /// and `clear_after`; held as `unknown` while the vantage is down); returns every
    /// published change.
    pub fn update<'a>(
        &mut self,
        group_name: &str,
        members: impl IntoIterator<Item = (&'a str, &'a ServiceState)>,
        partial_outage_share: f64,
        maintenance: &[MaintenanceWindow],
        vantage: &Vantage,
        now: UnixMs,
    ) -> Vec<Change> {
        let rule = GroupRule {
            partial_outage_share,
            maintenance,
            vantage,
        };
        self.update_merged(group_name, members, rule, &mut |p, _| p, now)
    }

    /// Like [`ServiceTracker::update`], with every member's local proposal passed through
    /// `merge` before confirmation (a hub: this vantage's proposal is recorded and replaced
    /// by the quorum verdict over every vantage, see [`super::quorum`]). Maintenance is
    /// decided here, not voted on.
    pub fn update_merged<'a>(
        &mut self,
        group_name: &str,
        members: impl IntoIterator<Item = (&'a str, &'a ServiceState)>,
        rule: GroupRule<'_>,
        merge: &mut dyn FnMut(ComponentStatus, &mut Noted) -> ComponentStatus,
        now: UnixMs,
    ) -> Vec<Change> {
        let GroupRule {
            partial_outage_share,
            maintenance,
            vantage,
        } = rule;
        let mut changes = Vec::new();
        let mut published = Vec::new();
        let mut seen = BTreeSet::new();
        for (name, state) in members {
            let mut p = evaluate_service(name, state, maintenance, now);
            if !vantage.up && p.status != Status::UnderMaintenance {
                p.reason = format!(
                    "vantage down ({}); holding the last confirmed status; evidence: {}",
                    vantage.reason, p.reason
                );
                p.status = Status::Unknown;
            }
            let member = match self.members.get_mut(name) {
                Some(m) => m,
                None => self.members.entry(name.to_string()).or_default(),
            };
            if p.status != Status::UnderMaintenance {
                p = merge(p, &mut member.noted);
            }
            let th = state.thresholds();
            let timing = Timing {
                confirm_after: th.confirm_after,
                clear_after: th.clear_after,
            };
            let (out, change) = member.confirmation.update(p, timing, now);
            changes.extend(change);
            published.push(out);
            seen.insert(name);
        }
        self.members.retain(|n, _| seen.contains(n.as_str()));
        let group = evaluate_service_group(
            group_name,
            &published,
            partial_outage_share,
            maintenance,
            now,
        );
        let at_once = Timing {
            confirm_after: Duration::ZERO,
            clear_after: Duration::ZERO,
        };
        let (group, change) = self.group.update(group, at_once, now);
        changes.extend(change);
        self.current = Some(GroupStatus {
            group,
            components: published,
        });
        changes
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // helpers return whole check outcomes, as the probe does
mod tests {
    use super::*;
    use crate::probe::{
        tcp::StreamFacts, tls::TlsFacts, CertFacts, CheckFailure, CheckOutcome, Facts, Kind,
        Reason, Success,
    };
    use crate::state::{CheckKey, CheckObservation};

    const DAY: i64 = 86_400;
    /// 2026-06-24T09:00:00Z in ms.
    const NOW: UnixMs = 1_782_291_600_000;

    fn key(i: u8) -> CheckKey {
        CheckKey {
            kind: Kind::Tls,
            target: format!("tls://epp.lab@127.0.0.{i}:700"),
        }
    }

    fn th() -> ServiceThresholds {
        ServiceThresholds {
            fail_after: 2,
            recover_after: 2,
            min_samples: 3,
            ..ServiceThresholds::default()
        }
    }

    fn tls_ok(ms: u64, not_after: i64) -> CheckOutcome {
        Ok(Success {
            rtt: Duration::from_millis(ms),
            facts: Facts::Tls(TlsFacts {
                connect: Duration::from_millis(1),
                version: "TLSv1_3".into(),
                cert: CertFacts {
                    subject: "CN=epp.lab".into(),
                    issuer: "CN=lab".into(),
                    not_after,
                    days_to_expiry: 0,
                    chain_not_after: not_after,
                    chain_len: 1,
                },
            }),
        })
    }

    fn tcp_ok(ms: u64) -> CheckOutcome {
        Ok(Success {
            rtt: Duration::from_millis(ms),
            facts: Facts::Tcp(StreamFacts {
                connect: Duration::from_millis(ms),
                bytes_read: 0,
                matched: None,
            }),
        })
    }

    fn fail() -> CheckOutcome {
        Err(CheckFailure {
            reason: Reason::Timeout,
            detail: "tcp connect: deadline passed".into(),
            rtt: None,
            cert: None,
        })
    }

    fn feed(s: &mut ServiceState, i: u8, at: UnixMs, outcome: CheckOutcome) {
        s.observe(CheckObservation {
            key: key(i),
            at,
            outcome,
        });
    }

    fn state(n: u8) -> ServiceState {
        let mut s = ServiceState::new(th());
        s.sync_checks(&(1..=n).map(key).collect::<Vec<_>>());
        s
    }

    fn eval(s: &ServiceState, now: UnixMs) -> ComponentStatus {
        evaluate_service("EPP", s, &[], now)
    }

    #[test]
    fn unknown_before_results_and_without_targets() {
        let none = ServiceState::new(th());
        let c = eval(&none, NOW);
        assert_eq!(c.status, Status::Unknown);
        assert!(c.reason.starts_with(NO_ADDRESS), "{}", c.reason);
        // The Statuspage view of a component that cannot resolve: an outage.
        assert_eq!(c.statuspage_status(), Status::MajorOutage);
        let s = state(2);
        assert_eq!(eval(&s, NOW).reason, "not checked yet");
        let mut s = state(1);
        feed(&mut s, 1, NOW, fail());
        assert_eq!(eval(&s, NOW).status, Status::Unknown);
    }

    #[test]
    fn all_down_is_major_some_down_is_partial_and_back() {
        let far = NOW as i64 / 1000 + 365 * DAY;
        let mut s = state(2);
        for t in 0..3 {
            feed(&mut s, 1, NOW + t, tls_ok(5, far));
            feed(&mut s, 2, NOW + t, tls_ok(5, far));
        }
        let c = eval(&s, NOW + 3);
        assert_eq!(
            (c.status, c.reason.as_str()),
            (Status::Operational, "2 of 2 targets up")
        );
        feed(&mut s, 2, NOW + 4, fail());
        assert_eq!(
            eval(&s, NOW + 4).status,
            Status::Operational,
            "one failure is not down"
        );
        feed(&mut s, 2, NOW + 5, fail());
        let c = eval(&s, NOW + 5);
        assert_eq!(c.status, Status::PartialOutage);
        assert!(
            c.reason.contains("127.0.0.2:700 down: timeout"),
            "{}",
            c.reason
        );
        feed(&mut s, 1, NOW + 6, fail());
        feed(&mut s, 1, NOW + 7, fail());
        let c = eval(&s, NOW + 7);
        assert_eq!(c.status, Status::MajorOutage);
        assert!(c.reason.starts_with("all 2 targets down"), "{}", c.reason);
        for t in 8..10 {
            feed(&mut s, 1, NOW + t, tls_ok(5, far));
            feed(&mut s, 2, NOW + t, tls_ok(5, far));
        }
        assert_eq!(eval(&s, NOW + 10).status, Status::Operational);
    }

    #[test]
    fn expiring_certificate_and_slowness_degrade() {
        let now_s = NOW as i64 / 1000;
        let mut s = state(1);
        for t in 0..3 {
            feed(&mut s, 1, NOW + t, tls_ok(5, now_s + 3 * DAY));
        }
        let c = eval(&s, NOW + 3);
        assert_eq!(c.status, Status::DegradedPerformance);
        assert!(
            c.reason
                .contains("certificate expires in 3days (warn before 14days)"),
            "{}",
            c.reason
        );
        // Outside the warn time: operational.
        let mut s = state(1);
        for t in 0..3 {
            feed(&mut s, 1, NOW + t, tls_ok(5, now_s + 30 * DAY));
        }
        assert_eq!(eval(&s, NOW + 3).status, Status::Operational);
        // Slow: median 3 s over 3 successes (min_samples 3), slow after 2 s.
        let mut s = ServiceState::new(th());
        let k = CheckKey {
            kind: Kind::Tcp,
            target: "tcp://127.0.0.1:43".into(),
        };
        s.sync_checks(std::slice::from_ref(&k));
        for t in 0..3 {
            s.observe(CheckObservation {
                key: k.clone(),
                at: NOW + t,
                outcome: tcp_ok(3000),
            });
        }
        let c = eval(&s, NOW + 3);
        assert_eq!(c.status, Status::DegradedPerformance);
        assert!(
            c.reason.starts_with("slow: median 3000ms over 3 checks"),
            "{}",
            c.reason
        );
    }

    #[test]
    fn maintenance_wins_and_group_rule() {
        let s = state(1);
        let w = MaintenanceWindow {
            components: vec!["EPP".into()],
            start: NOW - 1,
            end: NOW + 1,
            reason: "upgrade".into(),
        };
        let c = evaluate_service("EPP", &s, std::slice::from_ref(&w), NOW);
        assert_eq!(
            (c.status, c.reason.as_str()),
            (Status::UnderMaintenance, "upgrade")
        );

        let m = |name: &str, status| ComponentStatus::new(name, status, String::new());
        let g = |members: &[ComponentStatus]| {
            evaluate_service_group("Registry", members, 0.5, &[], NOW).status
        };
        assert_eq!(
            g(&[
                m("EPP", Status::Operational),
                m("Whois", Status::Operational)
            ]),
            Status::Operational
        );
        assert_eq!(
            g(&[
                m("EPP", Status::MajorOutage),
                m("Whois", Status::Operational)
            ]),
            Status::DegradedPerformance
        );
        assert_eq!(
            g(&[
                m("EPP", Status::MajorOutage),
                m("Whois", Status::MajorOutage),
                m("DAS", Status::Operational)
            ]),
            Status::PartialOutage
        );
        assert_eq!(
            g(&[
                m("EPP", Status::MajorOutage),
                m("Whois", Status::UnderMaintenance)
            ]),
            Status::MajorOutage
        );
        assert_eq!(g(&[m("EPP", Status::Unknown)]), Status::Unknown);
    }

    #[test]
    fn tracker_confirms_like_nameservers() {
        let far = NOW as i64 / 1000 + 365 * DAY;
        let mut s = state(1);
        let th = ServiceThresholds {
            confirm_after: Duration::from_secs(30),
            ..th()
        };
        s.set_thresholds(th);
        let up = Vantage {
            guarded: false,
            up: true,
            reason: String::new(),
        };
        let mut tr = ServiceTracker::new();
        feed(&mut s, 1, NOW, tls_ok(5, far));
        let ch = tr.update("Registry", [("EPP", &s)], 0.5, &[], &up, NOW);
        assert_eq!(ch.len(), 2, "member and group published at once: {ch:?}");
        feed(&mut s, 1, NOW + 1000, fail());
        feed(&mut s, 1, NOW + 2000, fail());
        assert!(tr
            .update("Registry", [("EPP", &s)], 0.5, &[], &up, NOW + 2000)
            .is_empty());
        let ch = tr.update("Registry", [("EPP", &s)], 0.5, &[], &up, NOW + 32_000);
        let to: Vec<Status> = ch.iter().map(|c| c.to).collect();
        assert_eq!(to, [Status::MajorOutage, Status::MajorOutage], "{ch:?}");
        let cur = tr.current().unwrap();
        assert_eq!(cur.components[0].status, Status::MajorOutage);
        assert_eq!(cur.group.name, "Registry");
    }
    #[test]
    fn a_hub_confirms_the_quorum_verdict_over_vantages() {
        use crate::status::observation::ObservationRecord;
        use crate::status::quorum::{decide, QuorumRule};
        let mut s = state(1);
        s.set_thresholds(ServiceThresholds {
            confirm_after: Duration::from_secs(2),
            ..th()
        });
        let up = Vantage {
            guarded: false,
            up: true,
            reason: String::new(),
        };
        // This vantage (cph-1) sees EPP down; fra-1 and ams-1 see it up.
        feed(&mut s, 1, NOW - 2000, fail());
        feed(&mut s, 1, NOW - 1000, fail());
        feed(&mut s, 1, NOW, fail());
        let peer = |vantage: &str, status: Status, at: UnixMs| ObservationRecord {
            seq: 1,
            vantage: vantage.to_string(),
            at,
            group: "Registry".to_string(),
            component: "EPP".to_string(),
            status,
            reason: format!("{} at {vantage}", status.as_str()),
            rtt_ms: Some(12.0),
            serial: None,
        };
        let rule = QuorumRule {
            quorum: None,
            max_age_ms: 30_000,
        };
        let run = |tr: &mut ServiceTracker, others: &[ObservationRecord], now: UnixMs| {
            let mut merge = |p: ComponentStatus, _: &mut Noted| {
                let own = peer("cph-1", p.status, now);
                let mut views: Vec<&ObservationRecord> = others.iter().collect();
                views.push(&own);
                decide(&p.name, &views, rule, now)
            };
            let group_rule = GroupRule {
                partial_outage_share: 0.5,
                maintenance: &[],
                vantage: &up,
            };
            tr.update_merged("Registry", [("EPP", &s)], group_rule, &mut merge, now);
            tr.current().expect("published").components[0].clone()
        };
        let one_of_three = [
            peer("fra-1", Status::Operational, NOW),
            peer("ams-1", Status::Operational, NOW),
        ];
        let mut tr = ServiceTracker::new();
        run(&mut tr, &one_of_three, NOW);
        let c = run(&mut tr, &one_of_three, NOW + 3000);
        assert_eq!(c.status, Status::DegradedPerformance);
        assert_eq!(
            c.reason,
            "EPP unreachable from cph-1, answering at ams-1 and fra-1 (1 of 3 vantages, quorum 2)"
        );
        // Two of three: an outage once confirmed.
        let two_of_three = [
            peer("fra-1", Status::MajorOutage, NOW + 3000),
            peer("ams-1", Status::Operational, NOW + 3000),
        ];
        run(&mut tr, &two_of_three, NOW + 3000);
        let c = run(&mut tr, &two_of_three, NOW + 5500);
        assert_eq!(c.status, Status::MajorOutage, "{}", c.reason);
        assert!(c.reason.starts_with("EPP unreachable from cph-1 and fra-1, answering at ams-1 (2 of 3 vantages, quorum 2)"), "{}", c.reason);
        // The same records without merge (a single vantage): this vantage's own view.
        let mut alone = ServiceTracker::new();
        alone.update("Registry", [("EPP", &s)], 0.5, &[], &up, NOW);
        alone.update("Registry", [("EPP", &s)], 0.5, &[], &up, NOW + 3000);
        let own = &alone.current().expect("published").components[0];
        assert_eq!(own.status, Status::MajorOutage);
    }
}
