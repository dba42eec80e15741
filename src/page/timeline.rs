//! Incident markup of the status page: an incident with its update timeline (active
//! ones on top, the incident page), the past days' list, and the incident page itself.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::incidents::{self, HISTORY_DAYS};
use super::render::{utc_minute, CSS};
use super::status_words;
use crate::incidents::{Impact, Incident, IncidentStatus};
use crate::status::Status;
use crate::UnixMs;

/// The status whose colour shows an impact.
fn impact_status(i: Impact) -> Status {
    match i {
        Impact::None => Status::Operational,
        Impact::Minor => Status::DegradedPerformance,
        Impact::Major => Status::PartialOutage,
        Impact::Critical => Status::MajorOutage,
    }
}

/// `Nov 26, 2026` (the Statuspage history's day heading).
pub fn day_words(day: UnixMs) -> String {
    let d = crate::uptime::date(day);
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][d[5..7].parse::<usize>().unwrap_or(1).clamp(1, 12) - 1];
    let dd = d[8..10].trim_start_matches('0');
    format!("{month} {dd}, {}", &d[..4])
}

fn iso(ms: UnixMs) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
        .to_string()
}

/// The names of the components an incident touched, with their status now.
fn affected(i: &Incident) -> Markup {
    html! {
        p class="meta" {
            "Affected: "
            @for (n, c) in i.components.iter().enumerate() {
                @if n > 0 { ", " }
                (c.name) " (" (status_words(c.new_status)) ")"
            }
        }
    }
}

/// The updates, newest first: the status word in bold, the text, the time.
fn updates(i: &Incident) -> Markup {
    html! {
        ol class="updates" {
            @for u in i.updates.iter().rev() {
                @let (head, rest) = u.body.split_once(" — ").unwrap_or(("", &u.body));
                li {
                    p {
                        @if !head.is_empty() { strong { (head) } " — " }
                        (rest)
                    }
                    time class="meta" datetime=(iso(u.at)) { (utc_minute(u.at)) }
                }
            }
        }
    }
}

/// One incident as a card: title (a link to its page under `href_prefix` when `link`),
/// the update timeline, the components.
pub fn card(i: &Incident, href_prefix: &str, link: bool) -> Markup {
    let s = impact_status(i.impact);
    html! {
        article class={ "card inc s-" (s.as_str()) } id={ "i-" (i.id) }
            data-incident=(i.id) data-state=(i.status.as_str()) {
            h3 {
                @if link { a href={ (href_prefix) (i.id) } { (i.name) } } @else { (i.name) }
            }
            (updates(i))
            (affected(i))
        }
    }
}

/// Active incidents on top of the page (nothing when none is open).
pub fn active(list: &[Incident]) -> Markup {
    let open: Vec<&Incident> = list.iter().filter(|i| i.is_open()).collect();
    html! {
        @if !open.is_empty() {
            section id="active-incidents" aria-label="Active incidents" {
                h2 { "Active incidents" }
                @for i in open { (card(i, "incidents/", true)) }
            }
        }
    }
}

/// The past [`HISTORY_DAYS`] days, today first: each day's incidents, or "No incidents
/// reported." on a quiet day.
pub fn history(list: &[Incident], now: UnixMs) -> Markup {
    html! {
        section id="past-incidents" aria-label="Past incidents" {
            h2 { "Past incidents" }
            @for (day, items) in incidents::history(list, now, HISTORY_DAYS) {
                div class="day" id={ "d-" (crate::uptime::date(day)) } {
                    h3 { (day_words(day)) }
                    @if items.is_empty() {
                        p class="none" { "No incidents reported." }
                    } @else {
                        @for i in items {
                            div class="past" {
                                p { a href={ "incidents/" (i.id) } { (i.name) }
                                    @if i.status != IncidentStatus::Resolved { " (ongoing)" } }
                                (updates(i))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn shell(title: &str, page_name: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                link rel="icon" href=(super::render::ICON);
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header { h1 { a class="home" href="../" { (page_name) } } }
                main { (body) }
                footer { a href="../" { "Current status" } ". Served by nsprobe." }
            }
        }
    }
    .into_string()
}

/// The page of one incident (`/incidents/{id}`).
pub fn incident_page(page_name: &str, i: &Incident) -> String {
    let started = utc_minute(i.created_at);
    let body = html! {
        p class="meta" {
            (if i.is_open() { "Ongoing" } else { "Resolved" })
            " · impact " (i.impact.as_str())
            " · started " (started)
            @if let Some(r) = i.resolved_at { " · resolved " (utc_minute(r)) }
        }
        (card(i, "", false))
    };
    shell(&format!("{} — {page_name}", i.name), page_name, body)
}

/// The page for an incident id nsprobe does not know.
pub fn not_found_page(page_name: &str, id: &str) -> String {
    let body = html! {
        h2 { "Incident not found" }
        p { "There is no incident " code { (id) } " (incidents are kept for the store's retention)." }
    };
    shell(
        &format!("Incident not found — {page_name}"),
        page_name,
        body,
    )
}

/// The page shown when the store cannot be read now.
pub fn unavailable_page(page_name: &str) -> String {
    let body = html! {
        h2 { "Incident history unavailable" }
        p { "The incident store cannot be read right now; try again in a minute." }
    };
    shell(&format!("Unavailable — {page_name}"), page_name, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_heading() {
        // 2024-10-04
        assert_eq!(day_words(20_000 * 86_400_000), "Oct 4, 2024");
    }
}
