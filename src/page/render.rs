//! HTML of the status page (maud templates compiled into the binary; CSS and script
//! embedded with `include_str!`, nothing loaded from elsewhere).

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::badge::percent;
use super::incidents::on_day;
use super::range::ChartRange;
use super::view::{ChartSeries, ComponentView, GroupView, PageView};
use super::{banner_words, chart, status_words, timeline};
use crate::incidents::Incident;
use crate::model::ComponentId;
use crate::status::Status;
use crate::uptime::Uptime;
use crate::UnixMs;

/// The page's style sheet.
pub const CSS: &str = include_str!("assets/page.css");
/// The page's optional script (chart hover details, refresh).
pub const JS: &str = include_str!("assets/page.js");
/// The pages' icon, inline (a browser asks for `/favicon.ico` when a page names none, and
/// logs the 404 as a console error): a green dot.
pub const ICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' \
    viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%232b8a3e'/%3E%3C/svg%3E";

/// `2026-06-24 08:39 UTC`.
pub fn utc_minute(ms: UnixMs) -> String {
    let t = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
    )
    .to_string();
    // 2026-06-24T08:39:01Z
    format!("{} {} UTC", &t[..10], &t[11..16])
}

/// `2026-06-24 08:39:01 UTC`.
pub fn utc_second(ms: UnixMs) -> String {
    let t = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
    )
    .to_string();
    format!("{} {} UTC", &t[..10], &t[11..19])
}

fn state(s: Status) -> Markup {
    html! {
        span class="state dot" { (status_words(s)) }
    }
}

/// Days of uptime bars per component.
pub const UPTIME_DAYS: u32 = 90;

/// One letter per bar class (kept short: up to 90 bars per component).
fn bar_class(s: Option<Status>) -> &'static str {
    match s {
        Some(Status::Operational) => "o",
        Some(Status::DegradedPerformance) => "d",
        Some(Status::PartialOutage) => "p",
        Some(Status::MajorOutage) => "m",
        Some(Status::UnderMaintenance) => "u",
        Some(Status::Unknown) | None => "n",
    }
}

/// A day's bar key: days with the same key next to each other merge into one wider bar
/// (no data, or a full 100 % operational day), which keeps the page light.
fn bar_key(d: &crate::uptime::DayUptime) -> Option<&'static str> {
    match (d.uptime_percent, d.worst) {
        (None, _) => Some("n"),
        (Some(p), Some(Status::Operational)) if p >= 100.0 => Some("o"),
        _ => None,
    }
}

/// 90 daily bars and the total. Each bar's title gives the day and its uptime; a day
/// with incidents of the component is a focusable bar whose pop-up (on hover and focus)
/// gives the figure and links to the incidents.
fn uptime_bars(u: &Uptime, c: &ComponentId, incidents: &[Incident], now: UnixMs) -> Markup {
    let day_incidents: Vec<Vec<&Incident>> = u
        .days
        .iter()
        .map(|d| on_day(incidents, c, d.start, now))
        .collect();
    let key = |i: usize| {
        if day_incidents[i].is_empty() {
            bar_key(&u.days[i])
        } else {
            None
        }
    };
    let mut runs: Vec<(usize, usize)> = Vec::new(); // (first day index, length)
    for i in 0..u.days.len() {
        match runs.last_mut() {
            Some((start, len)) if key(i).is_some() && key(i) == key(*start) => {
                *len += 1;
            }
            _ => runs.push((i, 1)),
        }
    }
    html! {
        div class="bars" role="group" aria-label={ (u.days.len()) "-day uptime" } {
            @for (start, len) in &runs {
                @let d = &u.days[*start];
                @let what = match d.uptime_percent {
                    Some(p) => format!("{p:.2}%"),
                    None => "no data".to_string(),
                };
                @let worst = match d.worst {
                    Some(w) if w != Status::Operational => format!(", {}", status_words(w)),
                    _ => String::new(),
                };
                @let incs = &day_incidents[*start];
                @if !incs.is_empty() {
                    i class={ (bar_class(d.worst)) " x" } tabindex="0" {
                        span class="pop" {
                            b { (d.date) } " " (what) (worst)
                            @for inc in incs {
                                br;
                                a href={ "incidents/" (inc.id) } { (inc.name) }
                            }
                        }
                    }
                } @else if *len > 1 {
                    i class=(bar_class(d.worst)) style={ "flex-grow:" (len) }
                        title={ (d.date) " to " (u.days[start + len - 1].date) " " (what) } {}
                } @else {
                    i class=(bar_class(d.worst)) title={ (d.date) " " (what) (worst) } {}
                }
            }
        }
        span class="meta bars-meta" {
            (u.days.len()) " days ago"
            span { @if let Some(p) = u.total_uptime_percent { (format!("{p:.2}")) "% uptime" } @else { "no data yet" } }
            "today"
        }
    }
}

fn component_row(c: &ComponentView, uptime: Option<&Uptime>, v: &PageView) -> Markup {
    html! {
        li class={ "comp s-" (c.status.as_str()) } id={ "c-" (c.public_id) }
            data-status=(c.status.as_str()) data-component=(c.id.name) {
            span class="name" { (c.id.name) }
            @if let Some(u) = c.uptime_24h {
                // Probe success, not uptime: the uptime is the 90-day figure below, from
                // the confirmed statuses; 5 % lost packets leave a component operational.
                span class="uptime" title="share of probes answered over the last 24 hours" {
                    (percent(u)) " probes answered (24 h)"
                }
            }
            (state(c.status))
            span class="meta" {
                (c.reason)
                @if let Some(since) = c.since { " · since " (utc_minute(since)) }
            }
            @if !c.vantages.is_empty() { (per_vantage(c)) }
            @if let Some(u) = uptime { (uptime_bars(u, &c.id, &v.incidents, v.now)) }
        }
    }
}

/// `1.2 ms`, `35 ms`, or a dash.
fn ms(v: Option<f64>) -> String {
    match v {
        Some(m) if m >= 10.0 => format!("{m:.0} ms"),
        Some(m) => format!("{m:.1} ms"),
        None => "–".to_string(),
    }
}

/// A component's breakdown per vantage: a closed `details` with one table row per
/// vantage (its own status, reason and median response time).
fn per_vantage(c: &ComponentView) -> Markup {
    let ok = c
        .vantages
        .iter()
        .filter(|x| x.fresh && x.status == Status::Operational)
        .count();
    html! {
        details class="vant" {
            summary { "Per vantage: operational at " (ok) " of " (c.vantages.len()) }
            table {
                thead { tr { th scope="col" { "Vantage" } th scope="col" { "Status there" } th scope="col" class="num" { "Median" } } }
                tbody {
                    @for x in &c.vantages {
                        tr class={ "s-" (x.status.as_str()) } {
                            th scope="row" { (x.vantage) @if !x.fresh { " (stale)" } }
                            td { (state(x.status)) br; small { (x.reason) } }
                            td class="num" { (ms(x.rtt_ms)) }
                        }
                    }
                }
            }
        }
    }
}

/// A hub chart's legend: this vantage's solid line, then each other vantage's dash
/// pattern and colour (as drawn, see [`chart::STYLES`]).
fn chart_legend(v: &PageView, c: &ChartSeries) -> Markup {
    let own = v
        .vantages
        .first()
        .map_or("this vantage", |x| x.name.as_str());
    html! {
        ul class="legend" aria-label="Vantages" {
            li { (PreEscaped(chart::swatch(None))) " " (own) " (this one)" }
            @for (i, l) in c.vantages.iter().enumerate() {
                li { (PreEscaped(chart::swatch(Some(i)))) " " (l.vantage) }
            }
        }
    }
}

/// The vantage points and their health (a hub).
fn vantage_list(v: &PageView) -> Markup {
    html! {
        h2 id="vantages" { "Vantage points" }
        div class="card scroll" {
            table class="vantages" {
                thead { tr { th scope="col" { "Vantage" } th scope="col" { "Health, last observation" } } }
                tbody {
                    @for x in &v.vantages {
                        @let (class, words) = match (x.up, x.fresh) {
                            (true, true) => ("s-operational", "reporting"),
                            (true, false) => ("s-degraded_performance", "stale: not voting"),
                            (false, _) => ("s-major_outage", "unreachable"),
                        };
                        tr class=(class) {
                            th scope="row" {
                                (x.name) @if x.own { " (this one)" }
                                @if !x.location.is_empty() { br; small { (x.location) } }
                            }
                            td {
                                span class="state dot" { (words) } br;
                                small { @if let Some(t) = x.last_seen { (utc_second(t)) } @else { "no observation yet" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn group(g: &GroupView, open: bool, v: &PageView) -> Markup {
    let c = &g.group;
    html! {
        details class={ "card group s-" (c.status.as_str()) } open[open]
            id={ "c-" (c.public_id) } data-status=(c.status.as_str()) {
            summary { span { (c.id.name) } (state(c.status)) }
            ul class="comps" {
                @for m in &g.members { (component_row(m, v.uptime.get(&m.public_id), v)) }
            }
        }
    }
}

/// The whole page.
pub fn page(v: &PageView) -> String {
    let few_groups = v.groups.len() <= 2;
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                link rel="icon" href=(ICON);
                title { (v.name) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header { h1 { (v.name) } }
                main {
                    p class={ "banner s-" (v.overall.as_str()) } role="status" id="overall"
                        data-status=(v.overall.as_str()) {
                        span class="dot" { (banner_words(v.overall)) }
                        @if !v.affected.is_empty() {
                            span class="affected" {
                                @for (i, (name, s)) in v.affected.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (name) ": " (status_words(*s))
                                }
                            }
                        }
                    }
                    (timeline::active(&v.incidents))
                    @if !v.maintenances.is_empty() {
                        h2 { "Scheduled maintenance" }
                        @for m in &v.maintenances {
                            div class={ "card maint" @if m.active { " s-under_maintenance" } } {
                                p { strong {
                                    @if m.reason.is_empty() { "Scheduled maintenance" } @else { (m.reason) }
                                } }
                                p { (if m.active { "In progress" } else { "Scheduled" }) ": "
                                    (utc_second(m.start)) " to " (utc_second(m.end)) }
                                p class="meta" { "Affects " (m.components.join(", ")) }
                            }
                        }
                    }
                    h2 { "Components" }
                    @for g in &v.groups {
                        (group(g, few_groups || g.group.status != Status::Operational, v))
                    }
                    ul class="legend" aria-label="Legend" {
                        @for s in Status::ALL {
                            li class={ "dot s-" (s.as_str()) } { (status_words(s)) }
                        }
                    }
                    @if !v.vantages.is_empty() { (vantage_list(v)) }
                    h2 id="response-time" { "Response time" }
                    @if v.has_store {
                        nav class="ranges" aria-label="Chart range" {
                            @for r in ChartRange::ALL {
                                @if r == v.range {
                                    strong { (r.words()) }
                                } @else {
                                    a href={ "?range=" (r.as_str()) "#response-time" } { (r.words()) }
                                }
                            }
                        }
                    }
                    @for (i, c) in v.charts.iter().enumerate() {
                        @if i == 0 || v.charts[i - 1].id.group != c.id.group {
                            h3 class="chart-group" { (c.id.group) }
                        }
                        figure class="card" data-component=(c.id.name) data-range=(v.range.as_str()) {
                            figcaption { (c.id.name) span { "median per " (v.range.step_words()) ", last " (v.range.words()) } }
                            (PreEscaped(chart::svg(
                                &c.id.name,
                                &c.points,
                                &c.vantages,
                                v.now,
                                v.range.span_ms(),
                                v.range.step_ms(),
                            )))
                            @if !c.vantages.is_empty() { (chart_legend(v, c)) }
                            p class="tip" {}
                        }
                    }
                    (timeline::history(&v.incidents, v.now))
                }
                footer {
                    "Updated " (utc_minute(v.now)) ". "
                    "Machine-readable: " a href="api/v2/summary.json" { "Statuspage API" } ", "
                    a href="api/v1/status" { "status JSON" } ". Served by nsprobe."
                }
                script { (PreEscaped(JS)) }
            }
        }
    };
    markup.into_string()
}
