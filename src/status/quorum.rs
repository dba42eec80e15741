//! The quorum verdict: several vantages' views of one component + now → one status.
//!
//! A vantage votes with its newest observation of the component (see
//! [`super::observation`]) when it is at most `max_age` old and says something (not
//! `unknown`, e.g. because that vantage's own network is down). A component is down
//! (`major_outage`, or `partial_outage` when fewer than `quorum` vantages see it fully
//! down) only when at least `quorum` voting vantages see it down; down at fewer is
//! `degraded_performance` naming them. `quorum` defaults to a majority of the voting
//! vantages. The verdict depends only on the views and `now`, in vantage-name order, so
//! two hubs holding the same observations publish the same statuses.

use super::observation::ObservationRecord;
use super::{ComponentStatus, Status};
use crate::UnixMs;

/// The quorum settings (`[vantage] quorum`, `max_age`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuorumRule {
    /// Vantages that must see a component down; None = a majority of those voting.
    pub quorum: Option<usize>,
    /// Older observations do not vote.
    pub max_age_ms: u64,
}

/// A vantage's vote, as used in the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vote {
    Up,
    Degraded,
    Partial,
    Down,
}

/// The quorum verdict for component `name` from `views` (one per vantage) at `now`.
/// A component with no vote is `unknown`.
pub fn decide(
    name: &str,
    views: &[&ObservationRecord],
    rule: QuorumRule,
    now: UnixMs,
) -> ComponentStatus {
    let mut views: Vec<&ObservationRecord> = views.to_vec();
    views.sort_by(|a, b| a.vantage.cmp(&b.vantage));
    let mut votes: Vec<(&str, Vote, &str)> = Vec::new();
    let mut silent: Vec<&str> = Vec::new();
    for v in &views {
        let fresh = now.saturating_sub(v.at) <= rule.max_age_ms;
        let vote = match v.status {
            Status::Operational => Some(Vote::Up),
            Status::DegradedPerformance => Some(Vote::Degraded),
            Status::PartialOutage => Some(Vote::Partial),
            Status::MajorOutage => Some(Vote::Down),
            Status::UnderMaintenance | Status::Unknown => None,
        };
        match vote {
            Some(vote) if fresh => votes.push((&v.vantage, vote, &v.reason)),
            _ => silent.push(&v.vantage),
        }
    }
    let n = votes.len();
    if n == 0 {
        let reason = if silent.is_empty() {
            "no vantage has observed it yet".to_string()
        } else {
            format!(
                "no vantage reporting a status (silent or stale: {})",
                list(&silent)
            )
        };
        return ComponentStatus::new(name, Status::Unknown, reason);
    }
    let quorum = rule.quorum.unwrap_or(n / 2 + 1).max(1);
    let named = |f: &dyn Fn(Vote) -> bool| -> Vec<&str> {
        votes
            .iter()
            .filter(|(_, v, _)| f(*v))
            .map(|(n, _, _)| *n)
            .collect()
    };
    let down = named(&|v| v == Vote::Down);
    let failing = named(&|v| matches!(v, Vote::Down | Vote::Partial));
    let answering = named(&|v| matches!(v, Vote::Up | Vote::Degraded));
    let degraded = named(&|v| v == Vote::Degraded);
    let tally = format!("{} of {n} vantages, quorum {quorum}", failing.len());
    let tail = if silent.is_empty() {
        String::new()
    } else {
        format!("; not voting: {}", list(&silent))
    };
    if failing.len() >= quorum {
        let status = if down.len() >= quorum {
            Status::MajorOutage
        } else {
            Status::PartialOutage
        };
        let answering = if answering.is_empty() {
            String::new()
        } else {
            format!(", answering at {}", list(&answering))
        };
        let first = votes
            .iter()
            .find(|(_, v, _)| matches!(v, Vote::Down | Vote::Partial))
            .map_or("", |(_, _, r)| *r);
        return ComponentStatus::new(
            name,
            status,
            format!(
                "{name} unreachable from {}{answering} ({tally}{tail}); at {}: {first}",
                list(&failing),
                failing[0]
            ),
        );
    }
    if !failing.is_empty() {
        return ComponentStatus::new(
            name,
            Status::DegradedPerformance,
            format!(
                "{name} unreachable from {}, answering at {} ({tally}{tail})",
                list(&failing),
                list(&answering)
            ),
        );
    }
    if degraded.len() >= quorum {
        let first = votes
            .iter()
            .find(|(_, v, _)| *v == Vote::Degraded)
            .map_or("", |(_, _, r)| *r);
        return ComponentStatus::new(
            name,
            Status::DegradedPerformance,
            format!(
                "degraded at {} ({} of {n} vantages, quorum {quorum}{tail}); at {}: {first}",
                list(&degraded),
                degraded.len(),
                degraded[0]
            ),
        );
    }
    let reason = if degraded.is_empty() {
        format!("operational at {} ({n} vantages{tail})", list(&answering))
    } else {
        format!(
            "operational at a quorum; degraded at {} only ({} of {n} vantages, quorum {quorum}{tail})",
            list(&degraded),
            degraded.len()
        )
    };
    ComponentStatus::new(name, Status::Operational, reason)
}

/// `a`, `a and b`, `a, b and c`.
fn list(names: &[&str]) -> String {
    match names {
        [] => "none".to_string(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMs = 1_800_000_000_000;
    const RULE: QuorumRule = QuorumRule {
        quorum: None,
        max_age_ms: 30_000,
    };

    fn view(vantage: &str, status: Status, age_ms: u64) -> ObservationRecord {
        ObservationRecord {
            seq: 1,
            vantage: vantage.to_string(),
            at: NOW - age_ms,
            group: "DNS (.dk)".to_string(),
            component: "l.nic.dk".to_string(),
            status,
            reason: format!("{} at {vantage}", status.as_str()),
            rtt_ms: None,
            serial: None,
        }
    }

    fn verdict(views: &[ObservationRecord], rule: QuorumRule) -> ComponentStatus {
        let refs: Vec<&ObservationRecord> = views.iter().collect();
        decide("l.nic.dk", &refs, rule, NOW)
    }

    use Status::*;

    #[test]
    fn down_from_one_of_three_is_degraded_naming_it() {
        let v = [
            view("fra-1", Operational, 0),
            view("cph-1", MajorOutage, 0),
            view("ams-1", Operational, 1_000),
        ];
        let s = verdict(&v, RULE);
        assert_eq!(s.status, DegradedPerformance);
        assert_eq!(
            s.reason,
            "l.nic.dk unreachable from cph-1, answering at ams-1 and fra-1 (1 of 3 vantages, quorum 2)"
        );
    }

    #[test]
    fn down_from_two_of_three_is_an_outage() {
        let v = [
            view("fra-1", Operational, 0),
            view("cph-1", MajorOutage, 0),
            view("ams-1", MajorOutage, 0),
        ];
        let s = verdict(&v, RULE);
        assert_eq!(s.status, MajorOutage);
        assert!(
            s.reason.starts_with("l.nic.dk unreachable from ams-1 and cph-1, answering at fra-1 (2 of 3 vantages, quorum 2)"),
            "{}",
            s.reason
        );
    }

    #[test]
    fn partial_outages_count_as_failing_but_not_as_fully_down() {
        let v = [
            view("a", PartialOutage, 0),
            view("b", MajorOutage, 0),
            view("c", Operational, 0),
        ];
        assert_eq!(verdict(&v, RULE).status, PartialOutage);
    }

    #[test]
    fn stale_views_and_unknown_views_do_not_vote() {
        // ams-1 stopped reporting 31 s ago: its old "down" no longer votes; of the two
        // left, one down is not a majority of two (quorum 2).
        let v = [
            view("fra-1", Operational, 0),
            view("cph-1", MajorOutage, 0),
            view("ams-1", MajorOutage, 31_000),
        ];
        let s = verdict(&v, RULE);
        assert_eq!(s.status, DegradedPerformance);
        assert!(s.reason.ends_with("not voting: ams-1)"), "{}", s.reason);
        // The same at exactly max_age still votes.
        let v = [
            view("fra-1", Operational, 0),
            view("cph-1", MajorOutage, 0),
            view("ams-1", MajorOutage, 30_000),
        ];
        assert_eq!(verdict(&v, RULE).status, MajorOutage);
        // A vantage whose own network is down says unknown: it does not vote.
        let v = [view("fra-1", Unknown, 0), view("cph-1", MajorOutage, 0)];
        assert_eq!(verdict(&v, RULE).status, MajorOutage);
    }

    #[test]
    fn nobody_voting_is_unknown() {
        assert_eq!(verdict(&[], RULE).status, Unknown);
        let v = [view("fra-1", MajorOutage, 60_000)];
        let s = verdict(&v, RULE);
        assert_eq!(s.status, Unknown);
        assert!(s.reason.contains("fra-1"), "{}", s.reason);
    }

    #[test]
    fn a_configured_quorum_is_used_as_is() {
        let rule = QuorumRule {
            quorum: Some(3),
            ..RULE
        };
        let v = [
            view("a", MajorOutage, 0),
            view("b", MajorOutage, 0),
            view("c", Operational, 0),
        ];
        assert_eq!(verdict(&v, rule).status, DegradedPerformance);
        let rule = QuorumRule {
            quorum: Some(1),
            ..RULE
        };
        assert_eq!(verdict(&v, rule).status, MajorOutage);
    }

    #[test]
    fn single_vantage_is_its_own_majority() {
        let v = [view("solo", MajorOutage, 0)];
        assert_eq!(verdict(&v, RULE).status, MajorOutage);
        let v = [view("solo", Operational, 0)];
        assert_eq!(verdict(&v, RULE).status, Operational);
    }

    #[test]
    fn degraded_needs_a_quorum_too() {
        let v = [
            view("a", DegradedPerformance, 0),
            view("b", Operational, 0),
            view("c", Operational, 0),
        ];
        let s = verdict(&v, RULE);
        assert_eq!(s.status, Operational);
        assert!(s.reason.contains("degraded at a only"), "{}", s.reason);
        let v = [
            view("a", DegradedPerformance, 0),
            view("b", DegradedPerformance, 0),
            view("c", Operational, 0),
        ];
        assert_eq!(verdict(&v, RULE).status, DegradedPerformance);
    }

    #[test]
    fn the_verdict_does_not_depend_on_the_order_views_arrive_in() {
        let mut v = vec![
            view("fra-1", Operational, 0),
            view("cph-1", MajorOutage, 0),
            view("ams-1", Operational, 0),
        ];
        let first = verdict(&v, RULE);
        v.reverse();
        assert_eq!(verdict(&v, RULE), first);
        v.swap(0, 1);
        assert_eq!(verdict(&v, RULE), first);
    }
}
