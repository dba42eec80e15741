//! Handlers of the status page (`/`, `/status`), incident pages (`/incidents/{id}`) and
//! badges (`/badge/...`).
//!
//! Each copies a [`PageView`] under the lock and renders after releasing it.

use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{ApiError, AppState};
use crate::model::Shared;
use crate::now_ms;
use crate::page::range::ChartRange;
use crate::page::view::CHART_MINUTES;
use crate::page::{self, badge, incidents as page_incidents, status_words, timeline, PageView};
use crate::store::Resolution;

fn view(shared: &Shared) -> PageView {
    let now = now_ms();
    let inner = shared.lock();
    page::build(&inner, now)
}

/// The status page's query: `?range=24h|7d|30d` (the charts).
#[derive(Debug, serde::Deserialize)]
pub struct PageQuery {
    /// Chart range.
    pub range: Option<String>,
}

/// `GET /` and `GET /status`: the status page (`?range=7d` or `30d`: charts from the store).
pub async fn status_page(State(state): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    let range = match q.range.as_deref().map(ChartRange::parse) {
        None => ChartRange::Day,
        Some(Some(r)) => r,
        Some(None) => {
            return ApiError::bad_request("range: give 24h, 7d or 30d (e.g. /?range=7d)")
                .into_response()
        }
    };
    let started = Instant::now();
    let mut v = view(&state.shared);
    let locked = started.elapsed();
    v.range = range;
    v.has_store = state.store.is_some();
    if range.from_store() && state.store.is_none() {
        // Nothing to draw 7 or 30 days from: show the 24 hours rather than an empty chart.
        v.range = ChartRange::Day;
    }
    if let Some(reader) = state.store.clone() {
        // The store is SQLite: query on a blocking thread, after the lock is released.
        let ids = v.component_ids();
        let now = v.now;
        let chart_ids: Vec<_> = v.charts.iter().map(|c| c.id.clone()).collect();
        let tails: Vec<_> = v
            .charts
            .iter_mut()
            .map(|c| std::mem::take(&mut c.minutes))
            .collect();
        let day_cache = state.day_cache.clone();
        let got = tokio::task::spawn_blocking(move || {
            // The 24 hours (charts and uptime): the store's minutes joined with the tails
            // (the rows read for an earlier render while they are still valid).
            let components: Vec<_> = chart_ids
                .iter()
                .map(|id| (id.group.to_string(), id.name.to_string()))
                .collect();
            let days = day_cache
                .joined(&reader, &components, tails.clone(), now, CHART_MINUTES)
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "status page: stored minutes unavailable");
                    tails
                });
            let series = range.from_store().then(|| {
                let from = now.saturating_sub(range.span_ms());
                let from = from - from % range.step_ms();
                chart_ids
                    .iter()
                    .map(|id| {
                        reader
                            .series(&id.group, &id.name, Resolution::Hour, from, now + 1)
                            .map(|p| page::range::from_series(&p, range.step_ms()))
                            .unwrap_or_else(|e| {
                                tracing::warn!(component = %id, error = %e, "status page: series unavailable");
                                Vec::new()
                            })
                    })
                    .collect::<Vec<_>>()
            });
            let since = now.saturating_sub(page_incidents::INCIDENT_DAYS * 86_400_000);
            let stored = reader
                .incidents(since, page_incidents::MAX_INCIDENTS)
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "status page: stored incidents unavailable");
                    Vec::new()
                });
            let mut out = std::collections::HashMap::new();
            for (pid, c) in ids {
                match reader.uptime(&c.group, &c.name, page::render::UPTIME_DAYS, now) {
                    Ok(u) => {
                        out.insert(pid, u);
                    }
                    Err(e) => {
                        tracing::warn!(component = %c, error = %e, "status page: uptime unavailable");
                        break;
                    }
                }
            }
            (out, stored, series, days)
        })
        .await;
        if got.is_err() {
            v.range = ChartRange::Day;
        }
        if let Ok((u, stored, series, days)) = got {
            v.join_day(days);
            if let Some(series) = series {
                for (c, points) in v.charts.iter_mut().zip(series) {
                    c.points = points;
                    // The per-vantage lines cover 24 hours only (kept in memory).
                    c.vantages.clear();
                }
            }
            v.uptime = u;
            v.incidents = page_incidents::merge(std::mem::take(&mut v.incidents), stored);
        }
    }
    let body = page::render::page(&v);
    tracing::debug!(
        lock_us = locked.as_micros() as u64,
        total_us = started.elapsed().as_micros() as u64,
        bytes = body.len(),
        "status page rendered"
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn html(code: StatusCode, body: String) -> Response {
    (
        code,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /incidents/{id}`: one incident with its updates (open ones from memory, the
/// others from the store); an HTML 404 page for an unknown id.
pub async fn incident_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let (name, open) = {
        let inner = state.shared.lock();
        let open = inner.incidents.open().find(|i| i.id == id).cloned();
        (inner.config.page.name.clone(), open)
    };
    let found = match (open, state.store.clone()) {
        (Some(i), _) => Some(i),
        (None, Some(reader)) => {
            let key = id.clone();
            match tokio::task::spawn_blocking(move || reader.incident(&key)).await {
                Ok(Ok(i)) => i,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "incident page: store unreadable");
                    return html(
                        StatusCode::SERVICE_UNAVAILABLE,
                        timeline::unavailable_page(&name),
                    );
                }
                Err(_) => None,
            }
        }
        (None, None) => None,
    };
    match found {
        Some(i) => html(StatusCode::OK, timeline::incident_page(&name, &i)),
        None => html(StatusCode::NOT_FOUND, timeline::not_found_page(&name, &id)),
    }
}

/// What a badge URL asks for.
#[derive(Debug, PartialEq, Eq)]
enum BadgeKind {
    StatusSvg,
    StatusJson,
    UptimeSvg,
    UptimeJson,
}

/// `/badge/{component}.svg` and friends: split the component from the kind.
fn parse_badge(rest: &str) -> Option<(&str, BadgeKind)> {
    let table = [
        ("/uptime.svg", BadgeKind::UptimeSvg),
        ("/uptime.json", BadgeKind::UptimeJson),
        (".svg", BadgeKind::StatusSvg),
        (".json", BadgeKind::StatusJson),
    ];
    for (suffix, kind) in table {
        if let Some(c) = rest.strip_suffix(suffix) {
            return (!c.is_empty()).then_some((c, kind));
        }
    }
    None
}

/// `GET /badge/{component}.svg|.json`, `GET /badge/{component}/uptime.svg|.json`.
pub async fn badge(State(state): State<AppState>, Path(rest): Path<String>) -> Response {
    let Some((spec, kind)) = parse_badge(&rest) else {
        return ApiError::not_found(
            "badge URLs: /badge/{component}.svg, /badge/{component}.json, \
             /badge/{component}/uptime.svg, /badge/{component}/uptime.json",
        )
        .into_response();
    };
    let mut v = view(&state.shared);
    let Some(c) = v.find(spec) else {
        return ApiError::not_found(format!(
            "no component {spec:?} (give its id from /api/v2/components.json, its name, or group/name)"
        ))
        .into_response();
    };
    let id = c.id.clone();
    let uptime = matches!(kind, BadgeKind::UptimeSvg | BadgeKind::UptimeJson);
    if uptime && state.store.is_some() {
        // The 24-hour uptime: the store's minutes joined with the in-memory tail.
        if let Some(i) = v.charts.iter().position(|ch| ch.id == id) {
            let tail = std::mem::take(&mut v.charts[i].minutes);
            let key = (id.group.clone(), id.name.clone());
            let minutes = super::joined_minutes(&state, key, tail, v.now, CHART_MINUTES).await;
            v.join_chart(i, minutes);
        }
    }
    let Some(c) = v.find(spec) else {
        return ApiError::not_found(format!("no component {spec:?}")).into_response();
    };
    let label = c.id.name.as_str();
    let (label, message, color) = match kind {
        BadgeKind::StatusSvg | BadgeKind::StatusJson => (
            label.to_string(),
            status_words(c.status).to_ascii_lowercase(),
            badge::color(c.status),
        ),
        BadgeKind::UptimeSvg | BadgeKind::UptimeJson => (
            format!("{label} uptime 24h"),
            c.uptime_24h
                .map_or_else(|| "no data".to_string(), badge::percent),
            c.uptime_24h.map_or("#6c757d", badge::uptime_color),
        ),
    };
    match kind {
        BadgeKind::StatusSvg | BadgeKind::UptimeSvg => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "no-cache, max-age=0"),
            ],
            badge::svg(&label, &message, color),
        )
            .into_response(),
        BadgeKind::StatusJson | BadgeKind::UptimeJson => {
            Json(badge::Endpoint::new(&label, &message, color)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badge_urls() {
        assert_eq!(
            parse_badge("a.nic.dk.svg"),
            Some(("a.nic.dk", BadgeKind::StatusSvg))
        );
        assert_eq!(
            parse_badge("a.nic.dk/uptime.svg"),
            Some(("a.nic.dk", BadgeKind::UptimeSvg))
        );
        assert_eq!(
            parse_badge("DNS (.dk)/a.nic.dk.json"),
            Some(("DNS (.dk)/a.nic.dk", BadgeKind::StatusJson))
        );
        assert_eq!(parse_badge(".svg"), None);
        assert_eq!(parse_badge("a.nic.dk.png"), None);
    }
}
