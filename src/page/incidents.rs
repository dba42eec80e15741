//! Which incidents the status page shows where (pure): active ones on top, the past
//! days' list, and the incidents of one component on one day (for its uptime bar).

use crate::incidents::Incident;
use crate::model::ComponentId;
use crate::uptime::DAY_MS;
use crate::UnixMs;

/// Days of incident history listed on the page (today included).
pub const HISTORY_DAYS: u64 = 14;
/// How far back the page reads incidents from the store (the uptime bars' 90 days).
pub const INCIDENT_DAYS: u64 = 90;
/// At most this many stored incidents are read for one page.
pub const MAX_INCIDENTS: usize = 200;

/// Open incidents (from memory, newest) and stored ones merged: one per id (the open
/// copy wins: it is newer while a write is pending), newest first.
pub fn merge(open: Vec<Incident>, stored: Vec<Incident>) -> Vec<Incident> {
    let mut list: Vec<Incident> = stored
        .into_iter()
        .filter(|i| !open.iter().any(|o| o.id == i.id))
        .collect();
    list.extend(open);
    list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    list
}

/// Start of the UTC day of `ms`.
pub fn day_start(ms: UnixMs) -> UnixMs {
    ms / DAY_MS * DAY_MS
}

/// The last `days` UTC days, today first, each with the incidents created that day
/// (newest first), as the Statuspage history lists them.
pub fn history(incidents: &[Incident], now: UnixMs, days: u64) -> Vec<(UnixMs, Vec<&Incident>)> {
    let today = day_start(now);
    (0..days)
        .map(|back| {
            let day = today.saturating_sub(back * DAY_MS);
            let list = incidents
                .iter()
                .filter(|i| day_start(i.created_at) == day)
                .collect();
            (day, list)
        })
        .collect()
}

/// True when the incident touched the component.
pub fn touches(i: &Incident, c: &ComponentId) -> bool {
    i.components
        .iter()
        .any(|a| a.group == c.group && a.name == c.name)
}

/// Incidents that touched component `c` and were open at some time of the UTC day
/// starting at `day` (an open one runs until `now`), oldest first.
pub fn on_day<'a>(
    incidents: &'a [Incident],
    c: &ComponentId,
    day: UnixMs,
    now: UnixMs,
) -> Vec<&'a Incident> {
    let end = day + DAY_MS;
    let mut out: Vec<&Incident> = incidents
        .iter()
        .filter(|i| {
            let until = i.resolved_at.unwrap_or(now);
            i.created_at < end && until >= day && touches(i, c)
        })
        .collect();
    out.sort_by_key(|i| i.created_at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::{AffectedComponent, Impact, IncidentStatus};
    use crate::status::Status;

    const D0: UnixMs = 20_000 * DAY_MS;
    const H: u64 = 3_600_000;

    fn inc(id: &str, name: &str, from: UnixMs, to: Option<UnixMs>) -> Incident {
        Incident {
            id: id.into(),
            name: format!("{name} is not reachable"),
            group: "DNS (.dk)".into(),
            kind: "server".into(),
            status: if to.is_some() {
                IncidentStatus::Resolved
            } else {
                IncidentStatus::Investigating
            },
            impact: Impact::Minor,
            created_at: from,
            updated_at: to.unwrap_or(from),
            resolved_at: to,
            updates: Vec::new(),
            components: vec![AffectedComponent {
                group: "DNS (.dk)".into(),
                name: name.into(),
                old_status: Status::Operational,
                new_status: Status::MajorOutage,
            }],
        }
    }

    #[test]
    fn open_copy_wins_and_newest_first() {
        let stored = vec![
            inc("a", "l.nic.dk", D0, None),
            inc("b", "a.nic.dk", D0 + H, Some(D0 + 2 * H)),
        ];
        let mut open = inc("a", "l.nic.dk", D0, None);
        open.name = "newer".into();
        let m = merge(vec![open], stored);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].id, "b");
        assert_eq!(m[1].name, "newer");
    }

    #[test]
    fn history_lists_days_and_quiet_days_are_empty() {
        let list = vec![
            inc("a", "l.nic.dk", D0 + 5 * H, Some(D0 + 6 * H)),
            inc(
                "b",
                "l.nic.dk",
                D0 - 3 * DAY_MS + H,
                Some(D0 - 2 * DAY_MS + H),
            ),
        ];
        let h = history(&list, D0 + 10 * H, 14);
        assert_eq!(h.len(), 14);
        assert_eq!(h[0].0, D0);
        assert_eq!(h[0].1.len(), 1);
        assert_eq!(h[3].0, D0 - 3 * DAY_MS);
        assert_eq!(h[3].1[0].id, "b");
        // Listed on the day it was created only.
        assert!(h[2].1.is_empty());
        assert_eq!(h.iter().filter(|(_, l)| l.is_empty()).count(), 12);
    }

    #[test]
    fn bars_get_the_incidents_of_their_component_and_day() {
        let l = ComponentId::member("DNS (.dk)", "l.nic.dk");
        let a = ComponentId::member("DNS (.dk)", "a.nic.dk");
        let list = vec![
            // Across midnight: on both days.
            inc("x", "l.nic.dk", D0 - 2 * H, Some(D0 + H)),
            // Still open: every day up to now.
            inc("y", "l.nic.dk", D0 + 3 * DAY_MS, None),
        ];
        let now = D0 + 5 * DAY_MS + H;
        assert_eq!(on_day(&list, &l, D0 - DAY_MS, now).len(), 1);
        assert_eq!(on_day(&list, &l, D0, now).len(), 1);
        assert!(on_day(&list, &l, D0 + DAY_MS, now).is_empty());
        assert_eq!(on_day(&list, &l, D0 + 5 * DAY_MS, now)[0].id, "y");
        assert!(on_day(&list, &a, D0, now).is_empty());
    }
}
