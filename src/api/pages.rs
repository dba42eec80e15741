//! Handlers of the status page (`/`, `/status`) and badges (`/badge/...`).
//!
//! Each copies a [`PageView`] under the lock and renders after releasing it.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{ApiError, AppState};
use crate::model::Shared;
use crate::now_ms;
use crate::page::{self, badge, status_words, PageView};

fn view(shared: &Shared) -> PageView {
    let now = now_ms();
    let inner = shared.lock();
    page::build(&inner, now)
}

/// `GET /` and `GET /status`: the status page.
pub async fn status_page(State(state): State<AppState>) -> Response {
    let started = Instant::now();
    let mut v = view(&state.shared);
    let locked = started.elapsed();
    if let Some(reader) = state.store.clone() {
        // The store is SQLite: query on a blocking thread, after the lock is released.
        let ids = v.component_ids();
        let now = v.now;
        let got = tokio::task::spawn_blocking(move || {
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
            out
        })
        .await;
        if let Ok(u) = got {
            v.uptime = u;
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
pub async fn badge(State(shared): State<Arc<Shared>>, Path(rest): Path<String>) -> Response {
    let Some((spec, kind)) = parse_badge(&rest) else {
        return ApiError::not_found(
            "badge URLs: /badge/{component}.svg, /badge/{component}.json, \
             /badge/{component}/uptime.svg, /badge/{component}/uptime.json",
        )
        .into_response();
    };
    let v = view(&shared);
    let Some(c) = v.find(spec) else {
        return ApiError::not_found(format!(
            "no component {spec:?} (give its id from /api/v2/components.json, its name, or group/name)"
        ))
        .into_response();
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
