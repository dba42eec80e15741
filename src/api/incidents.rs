//! Incident and maintenance endpoints: Statuspage v2 `incidents.json`,
//! `incidents/unresolved.json`, `scheduled-maintenances.json` (+ `upcoming`, `active`),
//! and the Atom and RSS feeds of incidents and maintenance (`/history.atom`,
//! `/history.rss`).
//!
//! Open incidents come from the read model (copied under the lock); resolved ones from
//! the store (read on a blocking thread). Feed XML is written with quick-xml.

use std::io::Cursor;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde::Serialize;

use super::statuspage::{self, IncidentDoc, Page, ScheduledMaintenance, Summary};
use super::{rfc3339, ApiError, AppState};
use crate::incidents::Incident;
use crate::now_ms;

/// Incidents served by `incidents.json` and the feeds: the last 90 days, at most this many.
pub const MAX_INCIDENTS: usize = 50;
const INCIDENT_DAYS: u64 = 90;

/// `incidents.json` and `incidents/unresolved.json`.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentsDoc {
    /// Page.
    pub page: Page,
    /// Incidents, newest first.
    pub incidents: Vec<IncidentDoc>,
}

/// `scheduled-maintenances.json` and its `upcoming` / `active` variants.
#[derive(Debug, Clone, Serialize)]
pub struct MaintenancesDoc {
    /// Page.
    pub page: Page,
    /// Scheduled maintenances, latest window first.
    pub scheduled_maintenances: Vec<ScheduledMaintenance>,
}

fn summary(state: &AppState) -> Summary {
    let now = now_ms();
    let inner = state.shared.lock();
    statuspage::summary(&inner, now)
}

/// Every incident of the last 90 days: the store's, with the open ones from memory
/// (newer than the store's copy while a write is pending or the disk refuses writes).
async fn all_incidents(state: &AppState, s: &Summary) -> Result<Vec<IncidentDoc>, ApiError> {
    let open: Vec<Incident> = state.shared.lock().incidents.open().cloned().collect();
    let mut list: Vec<Incident> = match state.store.clone() {
        Some(reader) => {
            let since = now_ms().saturating_sub(INCIDENT_DAYS * 86_400_000);
            tokio::task::spawn_blocking(move || reader.incidents(since, MAX_INCIDENTS))
                .await
                .map_err(|e| ApiError::unavailable(format!("store query failed: {e}")))?
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "store unreadable; serving open incidents only");
                    Vec::new()
                })
        }
        None => Vec::new(),
    };
    list.retain(|i| !open.iter().any(|o| o.id == i.id));
    list.extend(open);
    list.sort_by_key(|i| std::cmp::Reverse(i.created_at));
    list.truncate(MAX_INCIDENTS);
    Ok(list
        .iter()
        .map(|i| statuspage::incident_doc(i, &s.page.id, &s.components, &s.component_ids))
        .collect())
}

/// `GET /api/v2/incidents.json`: the last 90 days, newest first (at most 50).
pub async fn incidents(State(state): State<AppState>) -> Result<Json<IncidentsDoc>, ApiError> {
    let s = summary(&state);
    let incidents = all_incidents(&state, &s).await?;
    Ok(Json(IncidentsDoc {
        page: s.page,
        incidents,
    }))
}

/// `GET /api/v2/incidents/unresolved.json`.
pub async fn unresolved(State(state): State<AppState>) -> Json<IncidentsDoc> {
    let s = summary(&state);
    Json(IncidentsDoc {
        page: s.page,
        incidents: s.incidents,
    })
}

fn maintenances(state: &AppState, keep: &[&str]) -> Json<MaintenancesDoc> {
    let s = summary(&state.clone());
    let mut list: Vec<ScheduledMaintenance> = s
        .all_maintenances
        .into_iter()
        .filter(|m| keep.contains(&m.status))
        .collect();
    list.sort_by(|a, b| b.scheduled_for.cmp(&a.scheduled_for));
    Json(MaintenancesDoc {
        page: s.page,
        scheduled_maintenances: list,
    })
}

/// `GET /api/v2/scheduled-maintenances.json`: every declared window.
pub async fn maintenances_all(State(state): State<AppState>) -> Json<MaintenancesDoc> {
    maintenances(&state, &["scheduled", "in_progress", "completed"])
}

/// `GET /api/v2/scheduled-maintenances/upcoming.json`: windows not started yet.
pub async fn maintenances_upcoming(State(state): State<AppState>) -> Json<MaintenancesDoc> {
    maintenances(&state, &["scheduled"])
}

/// `GET /api/v2/scheduled-maintenances/active.json`: windows in progress.
pub async fn maintenances_active(State(state): State<AppState>) -> Json<MaintenancesDoc> {
    maintenances(&state, &["in_progress"])
}

/// One feed entry: an incident or a maintenance with its updates.
struct Entry {
    id: String,
    title: String,
    updated: String,
    published: String,
    /// Updates newest first, as text lines.
    lines: Vec<String>,
}

async fn entries(state: &AppState) -> Result<(Summary, Vec<Entry>), ApiError> {
    let s = summary(state);
    let mut entries: Vec<Entry> = all_incidents(state, &s)
        .await?
        .into_iter()
        .map(|i| Entry {
            id: format!("urn:nsprobe:incident:{}", i.id),
            title: i.name,
            updated: i.updated_at,
            published: i.created_at,
            lines: i
                .incident_updates
                .iter()
                .map(|u| format!("{}: {}", u.display_at, u.body))
                .collect(),
        })
        .collect();
    entries.extend(s.all_maintenances.iter().map(|m| {
        Entry {
            id: format!("urn:nsprobe:maintenance:{}", m.id),
            title: format!("Maintenance: {}", m.name),
            updated: m.updated_at.clone(),
            published: m.created_at.clone(),
            lines: m
                .incident_updates
                .iter()
                .map(|u| format!("{}: {}", u.display_at, u.body))
                .collect(),
        }
    }));
    entries.sort_by(|a, b| b.updated.cmp(&a.updated));
    Ok((s, entries))
}

type Xml = Writer<Cursor<Vec<u8>>>;

fn start(w: &mut Xml, name: &str, attrs: &[(&str, &str)]) {
    let mut e = BytesStart::new(name);
    for a in attrs {
        e.push_attribute(*a);
    }
    let _ = w.write_event(Event::Start(e));
}

fn end(w: &mut Xml, name: &str) {
    let _ = w.write_event(Event::End(BytesEnd::new(name)));
}

fn text_el(w: &mut Xml, name: &str, attrs: &[(&str, &str)], text: &str) {
    start(w, name, attrs);
    let _ = w.write_event(Event::Text(BytesText::new(text)));
    end(w, name);
}

fn empty(w: &mut Xml, name: &str, attrs: &[(&str, &str)]) {
    let mut e = BytesStart::new(name);
    for a in attrs {
        e.push_attribute(*a);
    }
    let _ = w.write_event(Event::Empty(e));
}

fn xml_response(w: Xml, content_type: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, content_type)],
        w.into_inner().into_inner(),
    )
        .into_response()
}

/// `GET /history.atom`: incidents and maintenance as an Atom feed (RFC 4287).
pub async fn atom(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (s, entries) = entries(&state).await?;
    let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)));
    start(&mut w, "feed", &[("xmlns", "http://www.w3.org/2005/Atom")]);
    text_el(
        &mut w,
        "id",
        &[],
        &format!("urn:nsprobe:{}:history", s.page.id),
    );
    text_el(
        &mut w,
        "title",
        &[],
        &format!("{} status history", s.page.name),
    );
    let updated = entries
        .first()
        .map_or_else(|| rfc3339(0), |e| e.updated.clone());
    text_el(&mut w, "updated", &[], &updated);
    let self_url = format!("{}/history.atom", s.page.url);
    empty(&mut w, "link", &[("rel", "self"), ("href", &self_url)]);
    empty(
        &mut w,
        "link",
        &[("rel", "alternate"), ("href", &s.page.url)],
    );
    start(&mut w, "author", &[]);
    text_el(&mut w, "name", &[], "nsprobe");
    end(&mut w, "author");
    for e in &entries {
        start(&mut w, "entry", &[]);
        text_el(&mut w, "id", &[], &e.id);
        text_el(&mut w, "title", &[], &e.title);
        text_el(&mut w, "updated", &[], &e.updated);
        text_el(&mut w, "published", &[], &e.published);
        text_el(&mut w, "content", &[("type", "text")], &e.lines.join("\n"));
        end(&mut w, "entry");
    }
    end(&mut w, "feed");
    Ok(xml_response(w, "application/atom+xml; charset=utf-8"))
}

/// RFC 822 date (RSS) from an RFC 3339 UTC timestamp.
fn rfc822(rfc3339: &str) -> String {
    humantime::parse_rfc3339(rfc3339)
        .ok()
        .map(httpdate_like)
        .unwrap_or_default()
}

fn httpdate_like(t: std::time::SystemTime) -> String {
    // IMF-fixdate is a valid RFC 822 date: "Wed, 24 Jun 2026 08:39:01 GMT".
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let s = humantime::format_rfc3339_seconds(t).to_string();
    let (y, m, d) = (&s[0..4], &s[5..7], &s[8..10]);
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][m.parse::<usize>().unwrap_or(1).clamp(1, 12) - 1];
    format!("{weekday}, {d} {month} {y} {} GMT", &s[11..19])
}

/// `GET /history.rss`: the same as an RSS 2.0 feed.
pub async fn rss(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (s, entries) = entries(&state).await?;
    let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)));
    start(&mut w, "rss", &[("version", "2.0")]);
    start(&mut w, "channel", &[]);
    text_el(
        &mut w,
        "title",
        &[],
        &format!("{} status history", s.page.name),
    );
    text_el(&mut w, "link", &[], &s.page.url);
    text_el(
        &mut w,
        "description",
        &[],
        "Incidents and maintenance written by nsprobe",
    );
    if let Some(e) = entries.first() {
        text_el(&mut w, "lastBuildDate", &[], &rfc822(&e.updated));
    }
    for e in &entries {
        start(&mut w, "item", &[]);
        text_el(&mut w, "title", &[], &e.title);
        text_el(&mut w, "guid", &[("isPermaLink", "false")], &e.id);
        text_el(&mut w, "pubDate", &[], &rfc822(&e.published));
        text_el(&mut w, "description", &[], &e.lines.join("\n"));
        end(&mut w, "item");
    }
    end(&mut w, "channel");
    end(&mut w, "rss");
    Ok(xml_response(w, "application/rss+xml; charset=utf-8"))
}
