//! The confirmation layer: evidence over time before a status is published.
//!
//! Generic over the component kind (nameserver, HTTP, TLS, Whois, EPP…): it sees only a
//! proposed [`ComponentStatus`] and the time. A component moves to a worse status only when a
//! status at least that bad has been proposed without interruption for `confirm_after`, and to
//! a better one only when a status at most that bad has been proposed without interruption for
//! `clear_after`. Maintenance applies at once (entering and leaving); `unknown` is published at
//! once and holds the last confirmed status (`last_known`), from which confirmation resumes.
//! The first observed status of a component is published at once (there is nothing to hold).
//!
//! Across a restart ([`Confirmation::save`], [`Confirmation::restore`]): the confirmed status,
//! its reason and what was published since when are kept. After the restart the restored
//! status stays published while the component is `unknown` because nothing has been observed
//! yet (at most [`RESTORE_HOLD`]); from the first observation on, confirmation resumes from
//! the restored status: an outage confirmed before the restart is neither announced again nor
//! cleared before `clear_after`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::observation::Noted;
use super::{ComponentStatus, Status};
use crate::{duration_ms, UnixMs};

/// How long, at most, a restored status stays published while nothing is observed after a
/// restart (the first probes of a nameserver take `fail_after` × `interval`, 30 s by
/// default; a service check at a 60 s interval 3 minutes).
pub const RESTORE_HOLD: Duration = Duration::from_secs(10 * 60);

/// What of a [`Confirmation`] survives a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedConfirmation {
    /// The last confirmed observed status (operational … major outage), if any.
    #[serde(default)]
    pub confirmed: Option<Status>,
    /// The reason it was confirmed with.
    #[serde(default)]
    pub reason: String,
    /// What was published.
    #[serde(default)]
    pub shown: Option<Status>,
    /// Since when it was published.
    #[serde(default)]
    pub since: Option<UnixMs>,
}

/// What of a group's confirmation states survives a restart: its members by name and
/// the group component.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedTracker {
    /// Member components by name.
    #[serde(default)]
    pub members: BTreeMap<String, SavedConfirmation>,
    /// The group component.
    #[serde(default)]
    pub group: Option<SavedConfirmation>,
}

/// One member component of a tracker: its confirmation state and its last record in the
/// observation log (which is not saved: after a restart every member is due a record).
#[derive(Debug, Clone, Default)]
pub struct Member {
    /// What is published and the runs towards the next status.
    pub confirmation: Confirmation,
    /// Its last observation record ([`super::ObservationLog::note`]).
    pub noted: Noted,
}

impl SavedTracker {
    /// The saved form of a group's member confirmations and its own.
    pub fn of(members: &BTreeMap<String, Member>, group: &Confirmation) -> SavedTracker {
        SavedTracker {
            members: members
                .iter()
                .map(|(n, m)| (n.clone(), m.confirmation.save()))
                .collect(),
            group: Some(group.save()),
        }
    }

    /// The member confirmations and the group's, continuing the saved ones
    /// ([`Confirmation::restore`]; a group never saved starts fresh).
    pub fn restore(&self) -> (BTreeMap<String, Member>, Confirmation) {
        let members = self
            .members
            .iter()
            .map(|(n, c)| {
                let member = Member {
                    confirmation: Confirmation::restore(c),
                    noted: Noted::default(),
                };
                (n.clone(), member)
            })
            .collect();
        let group = self
            .group
            .as_ref()
            .map(Confirmation::restore)
            .unwrap_or_default();
        (members, group)
    }
}

/// Number of observed severities (operational … major outage).
const LEVELS: usize = 4;

/// How long a proposal must hold before it is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// To a worse status.
    pub confirm_after: Duration,
    /// To a better status.
    pub clear_after: Duration,
}

/// A published status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Component name.
    pub name: String,
    /// Status before (None for the first status ever published).
    pub from: Option<Status>,
    /// Status now.
    pub to: Status,
    /// Why.
    pub reason: String,
    /// When.
    pub at: UnixMs,
}

/// The confirmation state of one component.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Confirmation {
    /// Last confirmed observed status (severity) and the reason it was confirmed with.
    known: Option<(usize, String)>,
    /// What is published now, and since when.
    shown: Option<(Status, UnixMs)>,
    /// `at_least[l]`: since when every proposal had severity ≥ l (unbroken run).
    at_least: [Option<UnixMs>; LEVELS],
    /// `at_most[l]`: since when every proposal had severity ≤ l (unbroken run).
    at_most: [Option<UnixMs>; LEVELS],
    /// `latest[l]`: the reason of the newest proposal of exactly severity l, and when. A
    /// level published while the proposal is another one (a partial outage confirmed while
    /// all targets are down, but not yet for long enough) is published with its own reason.
    latest: [Option<(UnixMs, String)>; LEVELS],
    /// Restored after a restart and nothing observed yet: `unknown` proposals keep the
    /// restored status published (until the time given, set at the first update).
    restored: Option<Option<UnixMs>>,
}

impl Confirmation {
    /// A component with nothing published yet.
    pub fn new() -> Confirmation {
        Confirmation::default()
    }

    /// What survives a restart.
    pub fn save(&self) -> SavedConfirmation {
        SavedConfirmation {
            confirmed: self.last_known(),
            reason: self
                .known
                .as_ref()
                .map(|(_, r)| r.clone())
                .unwrap_or_default(),
            shown: self.shown.map(|(s, _)| s),
            since: self.shown.map(|(_, t)| t),
        }
    }

    /// The state saved by [`Confirmation::save`] before a restart: confirmation resumes
    /// from the saved confirmed status; the saved published status (and its `since`) stays
    /// published while the proposals are `unknown` (nothing observed yet), at most
    /// [`RESTORE_HOLD`] from the first update.
    pub fn restore(saved: &SavedConfirmation) -> Confirmation {
        let known = saved
            .confirmed
            .and_then(Status::severity)
            .map(|l| (l, saved.reason.clone()));
        let shown = saved.shown.zip(saved.since);
        Confirmation {
            restored: (known.is_some() && shown.is_some_and(|(s, _)| s.severity().is_some()))
                .then_some(None),
            known,
            shown,
            at_least: [None; LEVELS],
            at_most: [None; LEVELS],
            latest: Default::default(),
        }
    }

    /// The last confirmed observed status, if any.
    pub fn last_known(&self) -> Option<Status> {
        self.known.as_ref().map(|(l, _)| Status::from_severity(*l))
    }

    /// Feeds the proposal of `now`; returns what is published (with `since` and
    /// `last_known` filled in) and the change, if the published status changed. The
    /// proposal's strings become the published one's when they are what is published.
    pub fn update(
        &mut self,
        proposed: ComponentStatus,
        timing: Timing,
        now: UnixMs,
    ) -> (ComponentStatus, Option<Change>) {
        if let Some(until) = self.restored {
            let until = until.unwrap_or_else(|| now + duration_ms(RESTORE_HOLD));
            match (proposed.status, self.shown) {
                (Status::Unknown, Some((shown, since))) if now < until => {
                    self.restored = Some(Some(until));
                    let published = ComponentStatus {
                        name: proposed.name,
                        status: shown,
                        reason: format!(
                            "{} (restored after a restart; not observed since: {})",
                            self.known.as_ref().map_or("", |(_, r)| r.as_str()),
                            proposed.reason
                        ),
                        since: Some(since),
                        last_known: self.last_known(),
                    };
                    return (published, None);
                }
                _ => self.restored = None,
            }
        }
        let (status, reason) = match proposed.status.severity() {
            None => {
                // Maintenance or unknown: published at once; runs restart afterwards.
                self.at_least = [None; LEVELS];
                self.at_most = [None; LEVELS];
                if proposed.status == Status::UnderMaintenance {
                    // Leaving maintenance publishes the proposal at once.
                    self.known = None;
                }
                (proposed.status, None)
            }
            Some(level) => self.observe(level, &proposed.reason, timing, now),
        };
        let reason = reason.unwrap_or(proposed.reason);
        let previous = self.shown.map(|(s, _)| s);
        let change = if previous != Some(status) {
            self.shown = Some((status, now));
            Some(Change {
                name: proposed.name.clone(),
                from: previous,
                to: status,
                reason: reason.clone(),
                at: now,
            })
        } else {
            None
        };
        let published = ComponentStatus {
            name: proposed.name,
            status,
            reason,
            since: self.shown.map(|(_, t)| t),
            last_known: self.last_known(),
        };
        (published, change)
    }

    /// An observed proposal of severity `level`: updates the runs and the confirmed level.
    /// Returns the status to publish and its reason (None: the proposal's `reason`).
    fn observe(
        &mut self,
        level: usize,
        reason: &str,
        timing: Timing,
        now: UnixMs,
    ) -> (Status, Option<String>) {
        for l in 0..LEVELS {
            if level >= l {
                self.at_least[l].get_or_insert(now);
            } else {
                self.at_least[l] = None;
            }
            if level <= l {
                self.at_most[l].get_or_insert(now);
            } else {
                self.at_most[l] = None;
            }
        }
        // Every tick proposes again, mostly with the same reason: the strings are
        // overwritten in place, not reallocated.
        match &mut self.latest[level] {
            Some((at, r)) => {
                *at = now;
                set(r, reason);
            }
            slot => *slot = Some((now, reason.to_string())),
        }
        let held = |since: Option<UnixMs>, d: Duration| {
            since.is_some_and(|t| now.saturating_sub(t) >= duration_ms(d))
        };
        let Some(known) = self.known.as_ref().map(|(l, _)| *l) else {
            self.known = Some((level, reason.to_string()));
            return (Status::from_severity(level), None);
        };
        // Worse: the worst level held for confirm_after, unless an even worse one is about to
        // be (within a tenth of confirm_after): an outage building up over a few seconds
        // (one target down, then all) is one change, not three.
        if let Some(l) = (known + 1..LEVELS)
            .rev()
            .find(|&l| held(self.at_least[l], timing.confirm_after))
        {
            let soon = timing
                .confirm_after
                .saturating_sub(timing.confirm_after / 10);
            let worse_soon = (l + 1..LEVELS).any(|h| held(self.at_least[h], soon));
            if worse_soon {
                return self.pending(known, level, reason, timing, now);
            }
            return self.confirm(l, self.at_least[l], reason);
        }
        // Better: the best level held for clear_after, unless an even better one is about
        // to be (within a tenth of clear_after).
        if let Some(l) = (0..known).find(|&l| held(self.at_most[l], timing.clear_after)) {
            let soon = timing.clear_after.saturating_sub(timing.clear_after / 10);
            let better_soon = (0..l).any(|b| held(self.at_most[b], soon));
            if better_soon {
                return self.pending(known, level, reason, timing, now);
            }
            return self.confirm(l, self.at_most[l], reason);
        }
        if level == known {
            if let Some((_, r)) = &mut self.known {
                set(r, reason);
            }
            return (Status::from_severity(known), None);
        }
        self.pending(known, level, reason, timing, now)
    }

    /// Confirms severity `l`, held in a run since `run`: published with the reason of the
    /// newest proposal of exactly `l` in that run (`current`, the newest proposal's reason,
    /// when there is none).
    fn confirm(
        &mut self,
        l: usize,
        run: Option<UnixMs>,
        current: &str,
    ) -> (Status, Option<String>) {
        let reason = match (&self.latest[l], run) {
            (Some((at, r)), Some(since)) if *at >= since => Some(r.clone()),
            _ => None,
        };
        self.known = Some((l, reason.clone().unwrap_or_else(|| current.to_string())));
        (Status::from_severity(l), reason)
    }

    /// The confirmed status (`known`, with the reason it was confirmed with) is kept while
    /// a different proposal has not held long enough; the reason says what is pending.
    fn pending(
        &self,
        known: usize,
        level: usize,
        reason: &str,
        timing: Timing,
        now: UnixMs,
    ) -> (Status, Option<String>) {
        let (verb, since, wait) = if level > known {
            ("confirmed", self.at_least[level], timing.confirm_after)
        } else {
            ("cleared", self.at_most[level], timing.clear_after)
        };
        let for_ms = since.map_or(0, |t| now.saturating_sub(t));
        let known_reason = self.known.as_ref().map_or("", |(_, r)| r.as_str());
        let reason = format!(
            "{known_reason} (now {} for {}s, {verb} after {}s: {reason})",
            Status::from_severity(level),
            for_ms / 1000,
            timing_secs(wait),
        );
        (Status::from_severity(known), Some(reason))
    }
}

/// `r` = `to`, keeping `r`'s buffer (no allocation when it is large enough). Written
/// without comparing first: `r` is rarely in cache at a status tick, and a compare waits
/// for it to be read where a write does not (two compares a server were 2.6 % of the
/// process at 1,000 targets).
fn set(r: &mut String, to: &str) {
    r.clear();
    r.push_str(to);
}

fn timing_secs(d: Duration) -> u64 {
    d.as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1000;
    const T: Timing = Timing {
        confirm_after: Duration::from_secs(30),
        clear_after: Duration::from_secs(120),
    };

    fn p(status: Status) -> ComponentStatus {
        ComponentStatus::new("a.nic.dk", status, format!("because {status}"))
    }

    /// Feeds `status` every second over `[from, to)`; returns the changes.
    fn feed(c: &mut Confirmation, status: Status, from: u64, to: u64) -> Vec<Change> {
        (from..to)
            .filter_map(|s| c.update(p(status), T, s * SEC).1)
            .collect()
    }

    #[test]
    fn first_observation_is_published_at_once() {
        let mut c = Confirmation::new();
        let (out, change) = c.update(p(Status::Operational), T, 0);
        assert_eq!(out.status, Status::Operational);
        assert_eq!(out.since, Some(0));
        assert_eq!(change.map(|c| c.from), Some(None));
    }

    #[test]
    fn worse_only_after_confirm_after_better_after_clear_after() {
        let mut c = Confirmation::new();
        feed(&mut c, Status::Operational, 0, 10);
        // 29 s of major outage: nothing published.
        assert!(feed(&mut c, Status::MajorOutage, 10, 39).is_empty());
        let (out, _) = c.update(p(Status::MajorOutage), T, 38 * SEC);
        assert_eq!(out.status, Status::Operational);
        assert!(
            out.reason.contains("now major_outage for 28s"),
            "{}",
            out.reason
        );
        // At 30 s: published.
        let ch = feed(&mut c, Status::MajorOutage, 40, 41);
        assert_eq!(ch.len(), 1);
        assert_eq!(
            (ch[0].from, ch[0].to, ch[0].at),
            (Some(Status::Operational), Status::MajorOutage, 40 * SEC)
        );
        // Good again: held for 119 s, nothing; at 120 s operational.
        assert!(feed(&mut c, Status::Operational, 41, 161).is_empty());
        let ch = feed(&mut c, Status::Operational, 161, 162);
        assert_eq!(ch.len(), 1);
        assert_eq!(ch[0].to, Status::Operational);
    }

    #[test]
    fn interrupted_runs_never_confirm() {
        let mut c = Confirmation::new();
        feed(&mut c, Status::Operational, 0, 1);
        // 20 s bad, 1 s good, repeated for an hour: never published.
        let mut t = 1;
        let mut changes = 0;
        while t < 3600 {
            changes += feed(&mut c, Status::MajorOutage, t, t + 20).len();
            changes += feed(&mut c, Status::Operational, t + 20, t + 21).len();
            t += 21;
        }
        assert_eq!(changes, 0);
    }

    #[test]
    fn mixed_severities_confirm_the_level_held() {
        let mut c = Confirmation::new();
        feed(&mut c, Status::Operational, 0, 1);
        // Degraded 20 s then major 15 s: degraded (≥ degraded for 35 s) is confirmed, not major.
        let mut ch = feed(&mut c, Status::DegradedPerformance, 1, 21);
        ch.extend(feed(&mut c, Status::MajorOutage, 21, 36));
        assert_eq!(ch.len(), 1);
        assert_eq!(
            (ch[0].to, ch[0].at),
            (Status::DegradedPerformance, 31 * SEC)
        );
        // Published with the reason of the level published, not the newest proposal's.
        assert_eq!(ch[0].reason, "because degraded_performance");
        let (out, _) = c.update(p(Status::MajorOutage), T, 36 * SEC);
        assert!(
            out.reason
                .starts_with("because degraded_performance (now major_outage for 15s"),
            "{}",
            out.reason
        );
        // Major held 30 s from 21 s: major at 51 s.
        let ch = feed(&mut c, Status::MajorOutage, 37, 52);
        assert_eq!(ch.len(), 1);
        assert_eq!((ch[0].to, ch[0].at), (Status::MajorOutage, 51 * SEC));
        assert_eq!(ch[0].reason, "because major_outage");
        // Recovery: partial 130 s, then operational: partial is cleared to with its reason.
        let mut ch = feed(&mut c, Status::PartialOutage, 52, 140);
        ch.extend(feed(&mut c, Status::Operational, 140, 190));
        assert_eq!(ch.len(), 1, "{ch:?}");
        assert_eq!(
            (ch[0].to, ch[0].at, ch[0].reason.as_str()),
            (Status::PartialOutage, 172 * SEC, "because partial_outage")
        );
    }

    #[test]
    fn an_outage_building_up_over_seconds_is_one_change() {
        let mut c = Confirmation::new();
        feed(&mut c, Status::Operational, 0, 1);
        // Degraded at 1 s, partial at 2 s, major at 3 s (targets going down one by one).
        let mut ch = feed(&mut c, Status::DegradedPerformance, 1, 2);
        ch.extend(feed(&mut c, Status::PartialOutage, 2, 3));
        ch.extend(feed(&mut c, Status::MajorOutage, 3, 60));
        assert_eq!(ch.len(), 1, "{ch:?}");
        assert_eq!((ch[0].to, ch[0].at), (Status::MajorOutage, 33 * SEC));
        // Recovery in steps: partial for 2 s, then operational: one change, at clear_after.
        let mut ch = feed(&mut c, Status::PartialOutage, 60, 62);
        ch.extend(feed(&mut c, Status::Operational, 62, 300));
        assert_eq!(ch.len(), 1, "{ch:?}");
        assert_eq!((ch[0].to, ch[0].at), (Status::Operational, 182 * SEC));
    }

    #[test]
    fn maintenance_and_unknown_apply_at_once_and_hold() {
        let mut c = Confirmation::new();
        feed(&mut c, Status::Operational, 0, 5);
        let ch = feed(&mut c, Status::Unknown, 5, 6);
        assert_eq!(ch[0].to, Status::Unknown);
        let (out, _) = c.update(p(Status::Unknown), T, 7 * SEC);
        assert_eq!(out.last_known, Some(Status::Operational));
        // Back from unknown with an outage: confirmation resumes from the held status.
        assert_eq!(
            feed(&mut c, Status::MajorOutage, 8, 9)[0].to,
            Status::Operational
        );
        assert!(feed(&mut c, Status::MajorOutage, 9, 38).is_empty());
        assert_eq!(
            feed(&mut c, Status::MajorOutage, 38, 39)[0].to,
            Status::MajorOutage
        );
        // Maintenance at once, and leaving it publishes the proposal at once.
        assert_eq!(
            feed(&mut c, Status::UnderMaintenance, 39, 40)[0].to,
            Status::UnderMaintenance
        );
        assert_eq!(
            feed(&mut c, Status::Operational, 40, 41)[0].to,
            Status::Operational
        );
    }

    #[test]
    fn a_restored_outage_is_held_while_unknown_and_cleared_only_after_clear_after() {
        let mut c = Confirmation::new();
        feed(&mut c, Status::Operational, 0, 10);
        feed(&mut c, Status::MajorOutage, 10, 45);
        let saved = c.save();
        assert_eq!(saved.confirmed, Some(Status::MajorOutage));
        assert_eq!(
            (saved.shown, saved.since),
            (Some(Status::MajorOutage), Some(40 * SEC))
        );
        // JSON round trip, as in the store's restart state.
        let saved: SavedConfirmation =
            serde_json::from_str(&serde_json::to_string(&saved).unwrap()).unwrap();

        // After the restart: nothing observed yet (unknown) → the outage stays published.
        let mut r = Confirmation::restore(&saved);
        let (out, change) = r.update(p(Status::Unknown), T, 100 * SEC);
        assert_eq!(change, None);
        assert_eq!(out.status, Status::MajorOutage);
        assert_eq!(out.since, Some(40 * SEC));
        assert!(
            out.reason.contains("restored after a restart"),
            "{}",
            out.reason
        );
        // Observed down again: no change.
        assert!(feed(&mut r, Status::MajorOutage, 101, 110).is_empty());
        // Observed fine: cleared only after clear_after (120 s), as before the restart.
        assert!(feed(&mut r, Status::Operational, 110, 229).is_empty());
        let ch = feed(&mut r, Status::Operational, 230, 231);
        assert_eq!(
            (ch[0].from, ch[0].to),
            (Some(Status::MajorOutage), Status::Operational)
        );

        // The hold ends after RESTORE_HOLD of unknown: then unknown is published.
        let mut r = Confirmation::restore(&saved);
        let hold = duration_ms(RESTORE_HOLD);
        assert_eq!(r.update(p(Status::Unknown), T, 100 * SEC).1, None);
        assert_eq!(
            r.update(p(Status::Unknown), T, 100 * SEC + hold - 1).1,
            None
        );
        let (out, change) = r.update(p(Status::Unknown), T, 100 * SEC + hold);
        assert_eq!(out.status, Status::Unknown);
        assert_eq!(out.last_known, Some(Status::MajorOutage));
        assert_eq!(change.map(|c| c.from), Some(Some(Status::MajorOutage)));
    }
}
