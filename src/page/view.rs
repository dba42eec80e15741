//! The status page's data: copied out of the read model under the lock, rendered after.

use std::collections::HashMap;

use crate::incidents::Incident;
use crate::model::{ComponentId, Inner};
use crate::state::MinutePoint;
use crate::status::{ComponentStatus, Status};
use crate::uptime::Uptime;
use crate::UnixMs;

use super::banner_rank;

/// Minutes of response-time history the 24-hour chart covers.
pub const CHART_MINUTES: usize = 1440;
/// Minutes per chart point (the 24-hour chart has `CHART_MINUTES / CHART_STEP` points).
pub const CHART_STEP: usize = 5;

/// Everything the page shows, as plain values.
#[derive(Debug, Clone)]
pub struct PageView {
    /// Page title (`[page] name`).
    pub name: String,
    /// When the view was taken.
    pub now: UnixMs,
    /// Worst group status (as `/api/v2/status.json` judges the page; see [`super::banner_rank`]).
    pub overall: Status,
    /// Components not operational, worst first: (name, status), for the banner.
    pub affected: Vec<(String, Status)>,
    /// One group per zone, in config order.
    pub groups: Vec<GroupView>,
    /// Maintenance windows in progress or to come, soonest first.
    pub maintenances: Vec<MaintenanceItem>,
    /// One response-time chart per nameserver and per service component, in page order.
    pub charts: Vec<ChartSeries>,
    /// Daily uptime per component (by public id) from the store, filled after the lock is
    /// released; empty without a store.
    pub uptime: HashMap<String, Uptime>,
    /// Incidents, newest first: the open ones copied under the lock, those of the last
    /// [`super::incidents::INCIDENT_DAYS`] days from the store merged in after it.
    pub incidents: Vec<Incident>,
    /// The charts' range; for 7 and 30 days the handler replaces the points with the
    /// store's after the lock is released.
    pub range: super::range::ChartRange,
    /// True when a store backs the page (7- and 30-day charts are offered).
    pub has_store: bool,
    /// The vantage points (this one first, then the `[[peer]]`s) when this nsprobe is a
    /// hub; empty otherwise (no per-vantage breakdown is shown).
    pub vantages: Vec<VantageItem>,
}

/// A vantage point in the page's vantage list.
#[derive(Debug, Clone, PartialEq)]
pub struct VantageItem {
    /// Its name (`[vantage] name`; a peer not reached yet shows its URL).
    pub name: String,
    /// Its location (may be empty).
    pub location: String,
    /// This nsprobe.
    pub own: bool,
    /// The last pull of its observations succeeded (always true for this one).
    pub up: bool,
    /// Its newest observation is recent enough to vote (`[vantage] max_age`).
    pub fresh: bool,
    /// When its newest observation was made.
    pub last_seen: Option<UnixMs>,
}

/// One vantage's view of one component.
#[derive(Debug, Clone, PartialEq)]
pub struct VantageCell {
    /// The vantage.
    pub vantage: String,
    /// The status its own evidence proposes.
    pub status: Status,
    /// Its median response time over the stats window, ms.
    pub rtt_ms: Option<f64>,
    /// Recent enough to vote.
    pub fresh: bool,
    /// Why, at that vantage.
    pub reason: String,
}

impl PageView {
    /// Every component (groups and members) as (group, name), for the store queries.
    pub fn component_ids(&self) -> Vec<(String, ComponentId)> {
        self.groups
            .iter()
            .flat_map(|g| std::iter::once(&g.group).chain(&g.members))
            .map(|c| (c.public_id.clone(), c.id.clone()))
            .collect()
    }
}

/// A group component and its members.
#[derive(Debug, Clone)]
pub struct GroupView {
    /// The group component.
    pub group: ComponentView,
    /// Its members (nameservers), in status order (by name).
    pub members: Vec<ComponentView>,
}

/// One component as the page shows it.
#[derive(Debug, Clone)]
pub struct ComponentView {
    /// (group, name).
    pub id: ComponentId,
    /// Stable public id (as in the Statuspage API and badge URLs).
    pub public_id: String,
    /// Published status.
    pub status: Status,
    /// Why.
    pub reason: String,
    /// Since when (last confirmed change).
    pub since: Option<UnixMs>,
    /// Share of successful probes over the last 24 hours (0..=1), when any probe ran.
    pub uptime_24h: Option<f64>,
    /// Each vantage's view of it (a hub; empty otherwise), by vantage name.
    pub vantages: Vec<VantageCell>,
}

/// A maintenance window, as listed on the page.
#[derive(Debug, Clone)]
pub struct MaintenanceItem {
    /// Why.
    pub reason: String,
    /// Start (ms).
    pub start: UnixMs,
    /// End (ms).
    pub end: UnixMs,
    /// Components as configured.
    pub components: Vec<String>,
    /// In progress now.
    pub active: bool,
}

/// The response-time series of one nameserver or service component.
#[derive(Debug, Clone)]
pub struct ChartSeries {
    /// The component (a nameserver, or a service component of a group).
    pub id: ComponentId,
    /// Points, oldest first, one per [`CHART_STEP`] minutes (per the range's step when
    /// the handler filled them from the store).
    pub points: Vec<ChartPoint>,
    /// The minutes of the last 24 hours the in-memory history holds (its tail: the
    /// handler joins them with the store's minute rows, [`PageView::join_day`]).
    pub minutes: Vec<MinutePoint>,
    /// On a hub, 24-hour range: every other vantage's line (the points above are this
    /// vantage's own), by vantage name; empty otherwise.
    pub vantages: Vec<VantageLine>,
}

/// One vantage's response-time line on a hub's 24-hour chart.
#[derive(Debug, Clone, PartialEq)]
pub struct VantageLine {
    /// The vantage (`[vantage] name`).
    pub vantage: String,
    /// Points, oldest first, one per [`CHART_STEP`] minutes: the mean of the vantage's
    /// per-minute medians (`probes` counts its records; `failures` is 0).
    pub points: Vec<ChartPoint>,
}

/// One chart point: a few minutes of probes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartPoint {
    /// Start (ms).
    pub start: UnixMs,
    /// Mean of the per-minute medians of successful probes, ms; None when none succeeded.
    pub median_ms: Option<f64>,
    /// Probes.
    pub probes: u32,
    /// Failed probes.
    pub failures: u32,
}

impl PageView {
    /// A component by its stable public id, its qualified name (`DNS (.dk)/a.nic.dk`),
    /// or its plain name (the first group member of that name, else the group).
    pub fn find(&self, spec: &str) -> Option<&ComponentView> {
        let all = || {
            self.groups
                .iter()
                .flat_map(|g| g.members.iter().chain(std::iter::once(&g.group)))
        };
        all()
            .find(|c| c.public_id == spec)
            .or_else(|| all().find(|c| c.id.to_string() == spec))
            .or_else(|| all().find(|c| c.id.name.eq_ignore_ascii_case(spec)))
    }
}

impl PageView {
    /// Replaces each chart's 24-hour points and its component's 24-hour uptime with
    /// those of `days` (one per chart, in chart order): the store's minute rows joined
    /// with the chart's [`ChartSeries::minutes`].
    pub fn join_day(&mut self, days: Vec<Vec<MinutePoint>>) {
        // One lookup per member: a page may have thousands of charts.
        let mut ups = HashMap::new();
        for (chart, minutes) in self.charts.iter_mut().zip(days) {
            ups.insert(chart.id.clone(), chart.set_day(minutes));
        }
        for c in self.groups.iter_mut().flat_map(|g| g.members.iter_mut()) {
            if let Some(up) = ups.get(&c.id) {
                c.uptime_24h = *up;
            }
        }
    }

    /// [`PageView::join_day`] for chart `index` only (a badge).
    pub fn join_chart(&mut self, index: usize, minutes: Vec<MinutePoint>) {
        let Some(chart) = self.charts.get_mut(index) else {
            return;
        };
        let up = chart.set_day(minutes);
        for c in self.groups.iter_mut().flat_map(|g| g.members.iter_mut()) {
            if c.id == chart.id {
                c.uptime_24h = up;
            }
        }
    }
}

impl ChartSeries {
    /// Takes `minutes` as the chart's 24 hours (points per [`CHART_STEP`]); returns the
    /// uptime they give.
    fn set_day(&mut self, minutes: Vec<MinutePoint>) -> Option<f64> {
        let up = uptime(&minutes);
        self.points = aggregate(&minutes, CHART_STEP);
        self.minutes = minutes;
        up
    }
}

/// The groups, charts and banner facts of a page being built.
struct Parts {
    groups: Vec<GroupView>,
    charts: Vec<ChartSeries>,
    overall: Status,
    affected: Vec<(String, Status)>,
}

impl Parts {
    /// Adds a group (a zone's or a service group) with its members and their minute
    /// histories: its view, a chart per member, the members not operational, and the
    /// banner's worst group status.
    fn add_group<'a>(
        &mut self,
        inner: &Inner,
        now: UnixMs,
        group: &ComponentStatus,
        members: impl Iterator<Item = (&'a ComponentStatus, Vec<MinutePoint>)>,
    ) {
        let mut views = Vec::new();
        for (c, minutes) in members {
            let id = ComponentId::member(&group.name, &c.name);
            if c.status != Status::Operational {
                self.affected.push((c.name.clone(), c.status));
            }
            let mut view = component(id.clone(), c, uptime(&minutes));
            view.vantages = cells(inner, &id, now);
            views.push(view);
            self.charts.push(ChartSeries {
                vantages: lines(inner, &id, now),
                id,
                points: aggregate(&minutes, CHART_STEP),
                minutes,
            });
        }
        if banner_rank(group.status) > banner_rank(self.overall) {
            self.overall = group.status;
        }
        self.groups.push(GroupView {
            group: component(ComponentId::group(&group.name), group, None),
            members: views,
        });
    }
}

/// Copy the page's data out of the read model at `now` (call under the lock; no I/O,
/// no text formatting).
pub fn build(inner: &Inner, now: UnixMs) -> PageView {
    let mut parts = Parts {
        groups: Vec::new(),
        charts: Vec::new(),
        overall: Status::Operational,
        affected: Vec::new(),
    };
    for (entry, zs) in inner.statuses(now) {
        let members = zs.servers.iter().map(|s| {
            let minutes = entry
                .state
                .response_times(&s.name, now, CHART_MINUTES)
                .unwrap_or_default();
            (s, minutes)
        });
        parts.add_group(inner, now, &zs.group, members);
    }
    // Service groups (websites, Whois, EPP…) follow the zones, in config order.
    for (entry, gs) in inner.group_statuses(now) {
        let members = gs.components.iter().map(|c| {
            let minutes = entry
                .component(&c.name)
                .map(|e| e.state.history.points(now, CHART_MINUTES))
                .unwrap_or_default();
            (c, minutes)
        });
        parts.add_group(inner, now, &gs.group, members);
    }
    let Parts {
        groups,
        charts,
        overall,
        mut affected,
    } = parts;
    let mut maintenances: Vec<MaintenanceItem> = inner
        .config
        .maintenance
        .iter()
        .filter(|w| w.end > now)
        .map(|w| MaintenanceItem {
            reason: w.reason.clone(),
            start: w.start,
            end: w.end,
            components: w.components.clone(),
            active: w.start <= now,
        })
        .collect();
    maintenances.sort_by_key(|m| (m.start, m.end));
    affected.sort_by_key(|(_, s)| std::cmp::Reverse(banner_rank(*s)));
    PageView {
        name: inner.config.page.name.clone(),
        now,
        overall,
        affected,
        groups,
        maintenances,
        charts,
        uptime: HashMap::new(),
        incidents: inner.incidents.open().cloned().collect(),
        range: super::range::ChartRange::Day,
        has_store: false,
        vantages: vantage_list(inner, now),
    }
}

fn max_age_ms(inner: &Inner) -> u64 {
    u64::try_from(inner.config.vantage.max_age.as_millis()).unwrap_or(u64::MAX)
}

/// Every vantage's newest observation of component `id` (a hub only).
fn cells(inner: &Inner, id: &ComponentId, now: UnixMs) -> Vec<VantageCell> {
    if inner.config.peers.is_empty() {
        return Vec::new();
    }
    let max_age = max_age_ms(inner);
    inner
        .views
        .of(&id.group, &id.name)
        .into_iter()
        .map(|r| VantageCell {
            vantage: r.vantage.clone(),
            status: r.status,
            rtt_ms: r.rtt_ms,
            fresh: now.saturating_sub(r.at) <= max_age,
            reason: r.reason.clone(),
        })
        .collect()
}

/// Every other vantage's response-time line of component `id` (a hub only).
fn lines(inner: &Inner, id: &ComponentId, now: UnixMs) -> Vec<VantageLine> {
    if inner.config.peers.is_empty() {
        return Vec::new();
    }
    let own = &inner.config.vantage.name;
    inner
        .series
        .of(&id.group, &id.name, now, CHART_MINUTES)
        .into_iter()
        .filter(|(v, _)| *v != own.as_str())
        .map(|(v, pts)| VantageLine {
            vantage: v.to_string(),
            points: buckets(
                pts.iter()
                    .map(|p| (p.start, p.records, 0, p.median_ms.map(|m| (m, 1)))),
                CHART_STEP as u64 * 60_000,
            ),
        })
        .collect()
}

/// This vantage and every `[[peer]]`, with health (a hub only).
fn vantage_list(inner: &Inner, now: UnixMs) -> Vec<VantageItem> {
    if inner.config.peers.is_empty() {
        return Vec::new();
    }
    let max_age = max_age_ms(inner);
    let newest: HashMap<&str, Option<UnixMs>> = inner.views.vantages().into_iter().collect();
    let seen = |name: &str| newest.get(name).copied().flatten();
    let own = &inner.config.vantage;
    let mut out = vec![VantageItem {
        name: own.name.clone(),
        location: own.location.clone(),
        own: true,
        up: true,
        fresh: seen(&own.name).is_some_and(|at| now.saturating_sub(at) <= max_age),
        last_seen: seen(&own.name),
    }];
    for p in &inner.peers {
        let last = p.vantage.as_deref().and_then(seen);
        out.push(VantageItem {
            name: p.vantage.clone().unwrap_or_else(|| p.url.clone()),
            location: p.location.clone(),
            own: false,
            up: p.up,
            fresh: last.is_some_and(|at| now.saturating_sub(at) <= max_age),
            last_seen: last,
        });
    }
    out
}

/// Share of successful probes over `minutes`; None when nothing was probed.
fn uptime(minutes: &[MinutePoint]) -> Option<f64> {
    let probes: u64 = minutes.iter().map(|p| u64::from(p.probes)).sum();
    let failures: u64 = minutes.iter().map(|p| u64::from(p.failures)).sum();
    (probes > 0).then(|| (probes - failures.min(probes)) as f64 / probes as f64)
}

fn component(id: ComponentId, s: &ComponentStatus, uptime_24h: Option<f64>) -> ComponentView {
    ComponentView {
        public_id: id.public_id(),
        id,
        status: s.status,
        reason: s.reason.clone(),
        since: s.since,
        uptime_24h,
        vantages: Vec::new(),
    }
}

/// Per-minute points → one point per `step` minutes (aligned to `step`-minute boundaries),
/// oldest first; minutes without probes add nothing.
pub fn aggregate(minutes: &[MinutePoint], step: usize) -> Vec<ChartPoint> {
    buckets(
        minutes
            .iter()
            .map(|p| (p.start, p.probes, p.failures, p.median_ms.map(|m| (m, 1)))),
        step.max(1) as u64 * 60_000,
    )
}

/// Points (start, probes, failures, and the typical response in ms with its weight when
/// some succeeded), oldest first → one chart point per `step_ms` (aligned to `step_ms`
/// boundaries) whose `median_ms` is the weighted mean of the typical responses.
pub(crate) fn buckets(
    points: impl IntoIterator<Item = (UnixMs, u32, u32, Option<(f64, u64)>)>,
    step_ms: u64,
) -> Vec<ChartPoint> {
    let step_ms = step_ms.max(1);
    let mut out: Vec<ChartPoint> = Vec::new();
    let mut sums: Vec<(f64, u64)> = Vec::new();
    for (at, probes, failures, typical) in points {
        let start = at - at % step_ms;
        if out.last().map(|c| c.start) != Some(start) {
            out.push(ChartPoint {
                start,
                median_ms: None,
                probes: 0,
                failures: 0,
            });
            sums.push((0.0, 0));
        }
        let (c, sum) = (
            out.last_mut().expect("pushed"),
            sums.last_mut().expect("pushed"),
        );
        c.probes = c.probes.saturating_add(probes);
        c.failures = c.failures.saturating_add(failures);
        if let Some((t, weight)) = typical {
            sum.0 += t * weight as f64;
            sum.1 += weight;
        }
    }
    for (c, (s, n)) in out.iter_mut().zip(sums) {
        c.median_ms = (n > 0).then(|| s / n as f64);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(m: u64, probes: u32, failures: u32, median: Option<f64>) -> MinutePoint {
        MinutePoint {
            start: m * 60_000,
            probes,
            failures,
            min_ms: median,
            median_ms: median,
            p95_ms: median,
            max_ms: median,
        }
    }

    #[test]
    fn aggregate_groups_by_aligned_steps() {
        let pts = [
            minute(9, 6, 0, Some(2.0)),
            minute(10, 6, 0, Some(4.0)),
            minute(11, 6, 6, None),
            minute(14, 6, 0, Some(6.0)),
            minute(15, 6, 3, Some(10.0)),
        ];
        let out = aggregate(&pts, 5);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].start, 5 * 60_000);
        assert_eq!(out[0].median_ms, Some(2.0));
        assert_eq!(out[1].start, 10 * 60_000);
        assert_eq!((out[1].probes, out[1].failures), (18, 6));
        assert_eq!(out[1].median_ms, Some(5.0));
        assert_eq!(out[2].median_ms, Some(10.0));
        assert_eq!(out[2].failures, 3);
    }

    #[test]
    fn all_failed_step_has_no_median() {
        let out = aggregate(&[minute(0, 4, 4, None)], 5);
        assert_eq!(out[0].median_ms, None);
        assert_eq!(out[0].failures, 4);
    }
}
