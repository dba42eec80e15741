//! HTTP: Prometheus `/metrics`, the JSON status API, a Statuspage v2-compatible
//! API, health and readiness, and (when enabled) `POST /-/reload`.
//!
//! Handlers take the daemon lock only to copy what they need into plain view
//! structs; serialisation happens after the lock is released. The API is
//! read-only apart from the opt-in reload endpoint.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use axum::extract::FromRef;

use crate::metrics::{DaemonMetrics, Scrapes};
use crate::model::{Inner, Shared, ZoneEntry};
use crate::status::Status;
use crate::store::day_cache::DayCache;
use crate::store::StoreReader;
use crate::{now_ms, UnixMs};

pub mod coalesce;
pub mod history;
pub mod incidents;
pub mod pages;
pub mod views;

pub use views::*;

/// Largest request body accepted (the API takes no bodies; reload has none).
const MAX_BODY: usize = 16 * 1024;

/// Default and largest `minutes` of the response-time endpoint.
pub const DEFAULT_MINUTES: u32 = 60;
/// Largest `minutes` the response-time endpoint serves (24 h of history).
pub const MAX_MINUTES: u32 = 1440;

/// What the handlers read: the read model and the daemon-level metrics.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The read model.
    pub shared: Arc<Shared>,
    /// Daemon-level metrics (for `/metrics`).
    pub metrics: Arc<DaemonMetrics>,
    /// The store's read side (history, uptime, incidents); None without a store.
    pub store: Option<StoreReader>,
    /// `/metrics` renders in flight (concurrent scrapes share one).
    pub scrapes: Arc<Scrapes>,
    /// The store's rows of the page's 24-hour charts, kept between renders.
    pub day_cache: DayCache,
}

impl FromRef<AppState> for Arc<Shared> {
    fn from_ref(s: &AppState) -> Self {
        s.shared.clone()
    }
}

impl FromRef<AppState> for Arc<DaemonMetrics> {
    fn from_ref(s: &AppState) -> Self {
        s.metrics.clone()
    }
}

/// The axum router for the daemon's HTTP server.
pub fn router(
    shared: Arc<Shared>,
    metrics: Arc<DaemonMetrics>,
    store: Option<StoreReader>,
) -> Router {
    let timeout = shared.lock().config.http.request_timeout;
    // Page views in flight together share one render (`coalesce`).
    let page_flights = axum::middleware::from_fn_with_state(
        Arc::new(coalesce::Coalesce::new()),
        coalesce::coalesce,
    );
    Router::new()
        .route("/", get(pages::status_page).layer(page_flights.clone()))
        .route("/status", get(pages::status_page).layer(page_flights))
        .route("/incidents/{id}", get(pages::incident_page))
        .route("/badge/{*rest}", get(pages::badge))
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/status", get(status_v1))
        .route("/api/v1/observations", get(observations_v1))
        .route("/api/v1/vantages", get(vantages_v1))
        .route(
            "/api/v1/zones/{zone}/servers/{server}/response-times",
            get(response_times),
        )
        .route("/api/v1/uptime", get(history::uptime_all))
        .route("/api/v1/components/{id}/uptime", get(history::uptime_one))
        .route("/api/v1/components/{id}/series", get(history::series))
        .route(
            "/api/v1/groups/{group}/components/{component}/response-times",
            get(service_response_times),
        )
        .route("/api/v2/summary.json", get(summary_v2))
        .route("/api/v2/incidents.json", get(incidents::incidents))
        .route(
            "/api/v2/incidents/unresolved.json",
            get(incidents::unresolved),
        )
        .route(
            "/api/v2/scheduled-maintenances.json",
            get(incidents::maintenances_all),
        )
        .route(
            "/api/v2/scheduled-maintenances/upcoming.json",
            get(incidents::maintenances_upcoming),
        )
        .route(
            "/api/v2/scheduled-maintenances/active.json",
            get(incidents::maintenances_active),
        )
        .route("/history.atom", get(incidents::atom))
        .route("/history.rss", get(incidents::rss))
        .route("/api/v2/components.json", get(components_v2))
        .route("/api/v2/status.json", get(page_status_v2))
        .route("/-/reload", post(reload))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError {
                code: StatusCode::METHOD_NOT_ALLOWED,
                message: "method not allowed on this endpoint".into(),
            }
        })
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout.max(Duration::from_millis(100)),
        ))
        .with_state(AppState {
            shared,
            metrics,
            store,
            scrapes: Arc::new(Scrapes::new()),
            day_cache: DayCache::new(),
        })
}

/// A JSON error response: `{"error": "..."}` with a status code.
#[derive(Debug)]
pub struct ApiError {
    code: StatusCode,
    message: String,
}

impl ApiError {
    /// 404 with a message.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            code: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// 401 or 403 with a message.
    pub fn refused(code: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// 503 with a message (the store cannot answer now).
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            code: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
        }
    }

    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            code: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body {
            error: String,
        }
        (
            self.code,
            Json(Body {
                error: self.message,
            }),
        )
            .into_response()
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.is_ready() {
        (StatusCode::OK, Json(serde_json::json!({"ready": true}))).into_response()
    } else {
        let reason = shared.lock().not_ready_reason();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"ready": false, "reason": reason})),
        )
            .into_response()
    }
}

async fn metrics_text(State(app): State<AppState>, headers: header::HeaderMap) -> Response {
    // Numbers are copied under the lock and the text rendered after it, on a thread of
    // its own; scrapes arriving meanwhile share the copy and the body (`metrics::Scrapes`).
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(crate::metrics::accepts_gzip);
    let (body, t, render) = app.scrapes.body(&app.shared, &app.metrics, gzip).await;
    tracing::debug!(
        lock_wait_us = t.lock_wait.as_micros() as u64,
        lock_held_us = t.lock_held.as_micros() as u64,
        render_us = render.as_micros() as u64,
        bytes = body.whole_len(),
        gzip,
        "/metrics scrape"
    );
    let content_type = (
        header::CONTENT_TYPE,
        "text/plain; version=0.0.4; charset=utf-8",
    );
    let vary = (header::VARY, "Accept-Encoding");
    let body = axum::body::Body::new(body);
    if gzip {
        (
            [content_type, vary, (header::CONTENT_ENCODING, "gzip")],
            body,
        )
            .into_response()
    } else {
        ([content_type, vary], body).into_response()
    }
}

async fn reload(State(shared): State<Arc<Shared>>) -> Response {
    if !shared.lock().config.http.enable_reload {
        return ApiError {
            code: StatusCode::FORBIDDEN,
            message: "reload over HTTP is disabled (set http.enable_reload = true)".into(),
        }
        .into_response();
    }
    match shared.reload().await {
        Ok(()) => Json(serde_json::json!({"reloaded": true})).into_response(),
        Err(e) => ApiError {
            code: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("reload failed, previous config kept: {e}"),
        }
        .into_response(),
    }
}

async fn status_v1(State(shared): State<Arc<Shared>>) -> Json<StatusView> {
    let now = now_ms();
    let mut view = {
        let inner = shared.lock();
        views::status_view(&inner, now)
    };
    // The same readiness as /readyz (computing it from the state alone says
    // "ready" before the first targets are even registered).
    view.ready = shared.is_ready();
    Json(view)
}

/// `GET /api/v1/vantages`: this vantage and every peer with their health.
async fn vantages_v1(State(shared): State<Arc<Shared>>) -> Json<VantagesView> {
    let now = now_ms();
    let view = {
        let inner = shared.lock();
        views::vantages_view(&inner, now)
    };
    Json(view)
}

/// `GET /api/v1/observations?after=CURSOR&limit=N`: this vantage's observation log for
/// hubs (wire format version 1, see README "Several vantage points"). Needs
/// `Authorization: Bearer <one of [vantage] observation_tokens>`.
async fn observations_v1(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut after = 0u64;
    let mut limit = crate::status::observation::DEFAULT_LIMIT;
    for (k, v) in &params {
        match k.as_str() {
            "after" => {
                after = v.parse().map_err(|_| {
                    ApiError::bad_request(format!("after must be a cursor (a whole number from a previous page's \"cursor\", or 0), got {v:?}"))
                })?
            }
            "limit" => {
                limit = v.parse().map_err(|_| {
                    ApiError::bad_request(format!("limit must be a whole number (at most {}), got {v:?}", crate::status::observation::MAX_LIMIT))
                })?
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {other:?}; use after and limit"
                )))
            }
        }
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    let page = {
        let inner = shared.lock();
        let tokens = &inner.config.vantage.observation_tokens;
        if tokens.is_empty() {
            return Err(ApiError::refused(
                StatusCode::FORBIDDEN,
                "observations are not served: set [vantage] observation_tokens",
            ));
        }
        let Some(presented) = presented else {
            return Err(ApiError::refused(
                StatusCode::UNAUTHORIZED,
                "send Authorization: Bearer <one of [vantage] observation_tokens>",
            ));
        };
        if !tokens
            .iter()
            .any(|t| constant_time_eq(t.as_bytes(), presented.as_bytes()))
        {
            return Err(ApiError::refused(StatusCode::FORBIDDEN, "wrong token"));
        }
        inner.observations.page(
            &inner.config.vantage.name,
            &inner.config.vantage.location,
            after,
            limit,
        )
    };
    Ok(Json(page).into_response())
}

/// Equality whose time does not depend on where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `minutes` of the response-time endpoints (parsed by hand for clear 400s).
fn minutes_param(params: &HashMap<String, String>) -> Result<u32, ApiError> {
    count_param(params, "minutes", DEFAULT_MINUTES, MAX_MINUTES, &[])
}

/// The one count query parameter `name` of an endpoint: a whole number from 1 to `max`,
/// `default` when absent; parameters in `allowed` are left to the caller, any other is
/// a 400.
pub(crate) fn count_param(
    params: &HashMap<String, String>,
    name: &str,
    default: u32,
    max: u32,
    allowed: &[&str],
) -> Result<u32, ApiError> {
    let mut n = default;
    for (k, v) in params {
        match k.as_str() {
            k if k == name => {
                n = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "{name} must be a whole number from 1 to {max}, got {v:?}"
                        ))
                    })?;
            }
            other if allowed.contains(&other) => {}
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {other:?} (expected: {name})"
                )))
            }
        }
    }
    Ok(n)
}

async fn response_times(
    State(state): State<AppState>,
    Path((zone, server)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ResponseTimesView>, ApiError> {
    let minutes = minutes_param(&params)?;
    let now = now_ms();
    let (mut view, key, tail) = {
        let inner = state.shared.lock();
        let entry = find_zone(&inner, &zone)?;
        // Nameserver names are DNS names: match them case-insensitively.
        let server = entry
            .state
            .servers()
            .keys()
            .find(|k| k.eq_ignore_ascii_case(&server))
            .cloned()
            .unwrap_or(server);
        let tail = entry
            .state
            .response_times(&server, now, minutes as usize)
            .ok_or_else(|| {
                ApiError::not_found(format!("zone {zone:?} has no nameserver {server:?}"))
            })?;
        let mut view = views::response_times_view(entry, &server, minutes, Vec::new());
        view.vantages =
            views::vantage_series(&inner, &entry.config.component, &server, now, minutes);
        (view, (entry.config.component.clone(), server), tail)
    };
    let points = joined_minutes(&state, key, tail, now, minutes as usize).await;
    view.points = views::point_views(points);
    Ok(Json(view))
}

/// Per-minute response times of a service component (group and component names as
/// configured, any case; percent-encode spaces in the path).
async fn service_response_times(
    State(state): State<AppState>,
    Path((group, component)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ServiceResponseTimesView>, ApiError> {
    let minutes = minutes_param(&params)?;
    let now = now_ms();
    let (mut view, key, tail) = {
        let inner = state.shared.lock();
        let entry = inner
            .groups
            .iter()
            .find(|g| g.config.name.eq_ignore_ascii_case(&group))
            .ok_or_else(|| ApiError::not_found(format!("no such group: {group:?}")))?;
        let c = entry.component(&component).ok_or_else(|| {
            ApiError::not_found(format!("group {group:?} has no component {component:?}"))
        })?;
        let tail = c.state.history.points(now, minutes as usize);
        let mut view =
            views::service_response_times_view(entry, &c.config.name, minutes, Vec::new());
        view.vantages = views::vantage_series(&inner, &view.group, &view.component, now, minutes);
        let key = (view.group.clone(), view.component.clone());
        (view, key, tail)
    };
    let points = joined_minutes(&state, key, tail, now, minutes as usize).await;
    view.points = views::point_views(points);
    Ok(Json(view))
}

/// The `minutes` minutes up to `now` of component `key`: the store's minute rows joined
/// with `tail`, the in-memory history's points over the same window (read on a
/// blocking thread); the tail alone without a store, or when it cannot be read (logged:
/// a store never opened released nothing, so the tail is then the whole window).
pub(crate) async fn joined_minutes(
    state: &AppState,
    key: crate::store::ComponentKey,
    tail: Vec<crate::state::MinutePoint>,
    now: UnixMs,
    minutes: usize,
) -> Vec<crate::state::MinutePoint> {
    let Some(reader) = state.store.clone() else {
        return tail;
    };
    let mine = tail.clone();
    let got = tokio::task::spawn_blocking(move || {
        let (group, name) = &key;
        reader
            .joined_minutes(group, name, mine, now, minutes)
            .map_err(|e| {
                tracing::warn!(%group, %name, error = %e, "stored minutes unavailable; serving those in memory");
            })
            .ok()
    })
    .await;
    match got {
        Ok(Some(points)) => points,
        Ok(None) => tail,
        Err(e) => {
            tracing::warn!(error = %e, "store query failed; serving the minutes in memory");
            tail
        }
    }
}

/// Find a zone by name, with or without the trailing dot, case-insensitively.
fn find_zone<'a>(inner: &'a Inner, zone: &str) -> Result<&'a ZoneEntry, ApiError> {
    let mut want = zone.to_ascii_lowercase();
    if !want.ends_with('.') {
        want.push('.');
    }
    inner
        .zones
        .iter()
        .find(|(k, _)| k.to_ascii_lowercase() == want)
        .map(|(_, z)| z)
        .ok_or_else(|| ApiError::not_found(format!("no such zone: {zone:?}")))
}

async fn summary_v2(State(shared): State<Arc<Shared>>) -> Json<statuspage::Summary> {
    let now = now_ms();
    let inner = shared.lock();
    Json(statuspage::summary(&inner, now))
}

async fn components_v2(State(shared): State<Arc<Shared>>) -> Json<statuspage::ComponentsDoc> {
    let now = now_ms();
    let inner = shared.lock();
    let s = statuspage::summary(&inner, now);
    Json(statuspage::ComponentsDoc {
        page: s.page,
        components: s.components,
    })
}

async fn page_status_v2(State(shared): State<Arc<Shared>>) -> Json<statuspage::StatusDoc> {
    let now = now_ms();
    let inner = shared.lock();
    let s = statuspage::summary(&inner, now);
    Json(statuspage::StatusDoc {
        page: s.page,
        status: s.status,
    })
}

/// RFC 3339 (UTC, seconds) for a Unix-ms timestamp.
pub fn rfc3339(ms: UnixMs) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// Worst status of a set, for an overall verdict (maintenance and unknown rank just above
/// operational: neither claims a problem).
pub fn worst(statuses: impl IntoIterator<Item = Status>) -> Status {
    statuses
        .into_iter()
        .max_by_key(|s| severity(*s))
        .unwrap_or(Status::Operational)
}

/// Ordering of statuses by how bad they are.
pub fn severity(s: Status) -> u8 {
    match s {
        Status::Operational => 0,
        Status::UnderMaintenance | Status::Unknown => 1,
        Status::DegradedPerformance => 2,
        Status::PartialOutage => 3,
        Status::MajorOutage => 4,
    }
}

pub mod statuspage;

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn count_param_default_range_and_unknown_names() {
        let p = |pairs: &[(&str, &str)]| count_param(&params(pairs), "days", 30, 90, &["range"]);
        assert_eq!(p(&[]).ok(), Some(30));
        assert_eq!(p(&[("days", "7"), ("range", "x")]).ok(), Some(7));
        let e = p(&[("days", "0")]).unwrap_err();
        assert_eq!(e.code, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.message,
            "days must be a whole number from 1 to 90, got \"0\""
        );
        assert_eq!(
            p(&[("hours", "1")]).unwrap_err().message,
            "unknown query parameter \"hours\" (expected: days)"
        );
        assert_eq!(
            minutes_param(&params(&[("minutes", "x")]))
                .unwrap_err()
                .message,
            format!("minutes must be a whole number from 1 to {MAX_MINUTES}, got \"x\"")
        );
    }
}
