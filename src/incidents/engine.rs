//! The incident book: confirmed status changes + facts + now → incidents opened,
//! updated and resolved. Pure: no clock, no I/O.
//!
//! Rules (README, section Incidents):
//! - a change making a component `degraded_performance`, `partial_outage` or
//!   `major_outage` opens an incident for its group when none is open (a change to
//!   `under_maintenance` never does: maintenance is not an incident);
//! - one incident per group at a time: a server and its group are one incident;
//! - later changes of a component the incident tracks, or of another component of the
//!   group becoming non-operational, append an update; `unknown` is ignored (a restart
//!   or a vantage problem says nothing about the service);
//! - when every tracked component is `operational` (or under maintenance) again, the
//!   incident is resolved with a last update naming the duration;
//! - impact follows the worst status the group component had during the incident
//!   (degraded → minor, partial → major, major → critical); a member's own status raises
//!   it to `minor` at most (one nameserver of seven down is not a critical outage).

use std::collections::{BTreeMap, BTreeSet};

use super::facts::{Facts, ServerFacts, ZoneFacts};
use super::model::{AffectedComponent, Impact, Incident, IncidentStatus, IncidentUpdate};
use super::text::{self, render, Templates};
use crate::status::Status;
use crate::UnixMs;

/// One confirmed status change, with the facts known when it was confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeIn {
    /// The group of the component (the component itself for a group component).
    pub group: String,
    /// The component's name (equal to `group` for the group component).
    pub name: String,
    /// Status before (None for the first status ever).
    pub from: Option<Status>,
    /// Status now.
    pub to: Status,
    /// When it was confirmed.
    pub at: UnixMs,
    /// Why (the status layer's reason).
    pub reason: String,
    /// What nsprobe knows about the zone/server at that time.
    pub facts: Facts,
}

impl ChangeIn {
    fn is_group(&self) -> bool {
        self.name == self.group
    }
}

/// Kinds of incident (which templates they use).
const STALL: &str = "stall";
const SERVER: &str = "server";
const COMPONENT: &str = "component";

fn bad(s: Status) -> bool {
    matches!(
        s,
        Status::DegradedPerformance | Status::PartialOutage | Status::MajorOutage
    )
}

fn fine(s: Status) -> bool {
    matches!(s, Status::Operational | Status::UnderMaintenance)
}

/// The open incidents, one per group, and the templates their texts use.
#[derive(Debug, Clone, Default)]
pub struct IncidentBook {
    open: BTreeMap<String, Incident>,
    templates: Templates,
    /// Tracked members whose status is `unknown` now (after a restart, or while the
    /// vantage is down): their group's changes say nothing until they are known again.
    unknown: BTreeSet<(String, String)>,
    /// A group component's latest status while a tracked member was unknown, applied
    /// silently once every member is known again.
    deferred: BTreeMap<String, Status>,
}

impl IncidentBook {
    /// No incident open; texts from `templates`.
    pub fn new(templates: Templates) -> IncidentBook {
        IncidentBook {
            open: BTreeMap::new(),
            templates,
            unknown: BTreeSet::new(),
            deferred: BTreeMap::new(),
        }
    }

    /// Use other templates from now on (a reload).
    pub fn set_templates(&mut self, templates: Templates) {
        self.templates = templates;
    }

    /// Continue incidents that were open when nsprobe stopped.
    pub fn restore(&mut self, incidents: impl IntoIterator<Item = Incident>) {
        for i in incidents.into_iter().filter(Incident::is_open) {
            self.open.insert(i.group.clone(), i);
        }
    }

    /// The open incidents, by group.
    pub fn open(&self) -> impl Iterator<Item = &Incident> {
        self.open.values()
    }

    /// Number of open incidents.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Applies one status tick's changes; returns every incident opened, updated or
    /// resolved (to be stored), resolved ones no longer open.
    pub fn apply(&mut self, changes: &[ChangeIn]) -> Vec<Incident> {
        let mut by_group: BTreeMap<&str, Vec<&ChangeIn>> = BTreeMap::new();
        for c in changes {
            let key = (c.group.clone(), c.name.clone());
            let open = self.open.get(&c.group);
            if c.to == Status::Unknown {
                if !c.is_group() && open.is_some_and(|i| tracked(i, c).is_some()) {
                    self.unknown.insert(key);
                }
                continue;
            }
            self.unknown.remove(&key);
            if c.is_group() && open.is_some() && self.unknown.iter().any(|(g, _)| g == &c.group) {
                self.deferred.insert(c.group.clone(), c.to);
                continue;
            }
            if c.is_group() {
                // A status published with every member known supersedes a deferred one.
                self.deferred.remove(&c.group);
            }
            by_group.entry(c.group.as_str()).or_default().push(c);
        }
        // Groups whose members are all known again take their deferred status silently.
        let ready: Vec<String> = self
            .deferred
            .keys()
            .filter(|g| !self.unknown.iter().any(|(ug, _)| ug == *g))
            .cloned()
            .collect();
        for g in ready {
            if let (Some(s), Some(inc)) = (self.deferred.remove(&g), self.open.get_mut(&g)) {
                if let Some(a) = inc
                    .components
                    .iter_mut()
                    .find(|a| a.group.is_empty() && a.name == g)
                {
                    a.new_status = s;
                }
            }
        }
        let mut out = Vec::new();
        for (group, cs) in by_group {
            let changed = match self.open.remove(group) {
                None => self.open_incident(group, &cs),
                Some(mut inc) => {
                    if self.update_incident(&mut inc, &cs) {
                        Some(inc)
                    } else {
                        self.open.insert(group.to_string(), inc);
                        None
                    }
                }
            };
            if let Some(inc) = changed {
                if !inc.is_open() {
                    self.unknown.retain(|(g, _)| g != group);
                    self.deferred.remove(group);
                }
                if inc.is_open() {
                    self.open.insert(group.to_string(), inc.clone());
                }
                out.push(inc);
            }
        }
        out
    }

    fn open_incident(&self, group: &str, cs: &[&ChangeIn]) -> Option<Incident> {
        if !cs.iter().any(|c| bad(c.to)) {
            return None;
        }
        let t = &self.templates;
        // The most telling change opens it: an unreachable server, then a stall, then any.
        let server = cs.iter().find(|c| {
            !c.is_group() && bad(c.to) && matches!(&c.facts, Facts::Server(_, s) if s.unreachable)
        });
        let stall = cs
            .iter()
            .find(|c| c.is_group() && bad(c.to) && matches!(&c.facts, Facts::Zone(z) if z.stale));
        let first = cs
            .iter()
            .find(|c| !c.is_group() && bad(c.to))
            .or_else(|| cs.iter().find(|c| bad(c.to)))?;
        let (kind, opener) = match (server, stall) {
            (Some(c), _) => (SERVER, *c),
            (None, Some(c)) => (STALL, *c),
            (None, None) => (COMPONENT, *first),
        };
        let at = opener.at;
        let vars = vars(opener, at, at);
        let (title, body) = match kind {
            SERVER => (&t.server_title, &t.server_open),
            STALL => (&t.stall_title, &t.stall_open),
            _ => (&t.component_title, &t.component_open),
        };
        // Rendered as written: a title that starts with a host name keeps its case.
        let title = render(title, &vars);
        let id = incident_id(group, at);
        let mut inc = Incident {
            id: id.clone(),
            name: title,
            group: group.to_string(),
            kind: kind.to_string(),
            status: IncidentStatus::Investigating,
            impact: Impact::None,
            created_at: at,
            updated_at: at,
            resolved_at: None,
            updates: Vec::new(),
            components: Vec::new(),
        };
        let affected = track(&mut inc, cs);
        inc.updates.push(IncidentUpdate {
            id: format!("{id}-1"),
            status: IncidentStatus::Investigating,
            body: format!("Investigating — {}", render(body, &vars)),
            at,
            affected_components: affected,
        });
        Some(inc)
    }

    /// Appends an update for the relevant changes; false when none is relevant.
    fn update_incident(&self, inc: &mut Incident, cs: &[&ChangeIn]) -> bool {
        let t = &self.templates;
        // Only changes that differ from what the incident tracks (a restart republishes
        // the same statuses), and untracked components only when they turn bad.
        let relevant: Vec<&ChangeIn> = cs
            .iter()
            .copied()
            .filter(|c| match tracked(inc, c) {
                Some(s) => s != c.to,
                None => bad(c.to),
            })
            .collect();
        if relevant.is_empty() {
            return false;
        }
        let affected = track(inc, &relevant);
        let at = relevant
            .iter()
            .map(|c| c.at)
            .max()
            .unwrap_or(inc.updated_at);
        let n = inc.updates.len() + 1;
        let (status, body) = if inc.components.iter().all(|c| fine(c.new_status)) {
            let last = relevant
                .iter()
                .find(|c| c.is_group() == (inc.kind == STALL))
                .unwrap_or(&relevant[0]);
            let tpl = match inc.kind.as_str() {
                SERVER => &t.server_resolved,
                STALL => &t.stall_resolved,
                _ => &t.component_resolved,
            };
            let mut vars = vars(last, at, inc.created_at);
            if inc.kind == SERVER {
                // The server the incident was opened for, even if the group cleared last.
                let server = inc
                    .components
                    .iter()
                    .find(|c| !c.group.is_empty())
                    .map(|c| c.name.clone());
                if let Some(s) = server {
                    vars.retain(|(k, _)| *k != "server");
                    vars.push(("server", s));
                }
            }
            (
                IncidentStatus::Resolved,
                format!("Resolved — {}", render(tpl, &vars)),
            )
        } else {
            let worse = relevant
                .iter()
                .filter(|c| bad(c.to))
                .max_by_key(|c| (c.to.severity(), !c.is_group()));
            let body = match worse {
                Some(c) => render(&t.component_update, &vars(c, at, inc.created_at)),
                None => {
                    let names: Vec<String> = relevant.iter().map(|c| c.name.clone()).collect();
                    render(
                        &t.component_recovered,
                        &[("component", text::and_list(&names))],
                    )
                }
            };
            (IncidentStatus::Investigating, format!("Update — {body}"))
        };
        inc.status = status;
        inc.updated_at = at;
        if status == IncidentStatus::Resolved {
            inc.resolved_at = Some(at);
        }
        inc.updates.push(IncidentUpdate {
            id: format!("{}-{n}", inc.id),
            status,
            body,
            at,
            affected_components: affected,
        });
        true
    }
}

/// The status the incident tracks for the change's component.
fn tracked(inc: &Incident, c: &ChangeIn) -> Option<Status> {
    let group = if c.is_group() { "" } else { c.group.as_str() };
    inc.components
        .iter()
        .find(|a| a.group == group && a.name == c.name)
        .map(|a| a.new_status)
}

/// Records the changes in the incident's component list and impact; returns them as
/// the update's affected components.
fn track(inc: &mut Incident, cs: &[&ChangeIn]) -> Vec<AffectedComponent> {
    let mut affected = Vec::new();
    for c in cs {
        let group = if c.is_group() {
            String::new()
        } else {
            c.group.clone()
        };
        let old = tracked(inc, c)
            .or(c.from.filter(|s| *s != Status::Unknown))
            .unwrap_or(Status::Operational);
        let a = AffectedComponent {
            group,
            name: c.name.clone(),
            old_status: old,
            new_status: c.to,
        };
        match inc
            .components
            .iter_mut()
            .find(|x| x.group == a.group && x.name == a.name)
        {
            Some(x) => x.new_status = c.to,
            None => inc.components.push(a.clone()),
        }
        // The group component is the service as a whole; a member alone (one server of
        // seven) raises the impact to minor at most.
        let impact = if c.is_group() {
            Impact::of(c.to)
        } else {
            Impact::of(c.to).min(Impact::Minor)
        };
        inc.impact = inc.impact.max(impact);
        affected.push(a);
    }
    affected
}

fn vars(c: &ChangeIn, now: UnixMs, opened: UnixMs) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = vec![
        ("component", c.name.clone()),
        ("group", c.group.clone()),
        ("status", text::status_words(c.to).to_string()),
        ("reason", c.reason.trim_end_matches('.').to_string()),
        ("duration", text::duration(now.saturating_sub(opened))),
    ];
    let zone = |v: &mut Vec<(&'static str, String)>, z: &ZoneFacts| {
        v.push(("zone", z.zone.clone()));
        v.push((
            "served_by",
            if z.serving == z.servers {
                format!("all {} nameservers", z.servers)
            } else {
                format!("{} of {} nameservers", z.serving, z.servers)
            },
        ));
        v.push((
            "serial",
            z.serial.map_or_else(|| "unknown".into(), |s| s.to_string()),
        ));
        v.push((
            "published_at",
            z.published_at
                .map_or_else(|| "an unknown time".into(), text::datetime),
        ));
        v.push((
            "age",
            z.published_at
                .map_or_else(|| "unknown".into(), |p| text::age(now.saturating_sub(p))),
        ));
        // The servers the zone remains available through: those published operational
        // (the server the text is about is not; one in maintenance or down is not
        // serving either).
        v.push(("others", z.serving.to_string()));
    };
    let server = |v: &mut Vec<(&'static str, String)>, s: &ServerFacts| {
        v.push(("server", c.name.clone()));
        v.push(("transports", text::and_list(&s.transports)));
        let addrs: Vec<String> = s.addresses.iter().map(|a| a.to_string()).collect();
        v.push(("addresses", text::and_list(&addrs)));
        // Down since just after the last answer (probes are seconds apart), else the change.
        v.push(("since", text::clock(s.last_answer.unwrap_or(c.at))));
    };
    match &c.facts {
        Facts::None => {}
        Facts::Zone(z) => zone(&mut v, z),
        Facts::Server(z, s) => {
            zone(&mut v, z);
            server(&mut v, s);
        }
    }
    v
}

/// Stable incident id from the group and the opening time (FNV-1a 64, base 36, 12 chars).
fn incident_id(group: &str, at: UnixMs) -> String {
    crate::stable_id_of(
        "incident"
            .bytes()
            .chain([0u8])
            .chain(group.bytes())
            .chain(at.to_be_bytes()),
    )
}
