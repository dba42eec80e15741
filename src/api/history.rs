//! History endpoints read from the store (`/api/v1/uptime`,
//! `/api/v1/components/{id}/uptime`, `/api/v1/components/{id}/series`).
//!
//! Components are named by their Statuspage id ([`super::statuspage::component_id`]),
//! as on `/api/v2/components.json`. The component list is copied from the read model
//! under the lock; the store is queried after, on a blocking thread (never the loop).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Serialize;

use super::statuspage::component_id;
use super::{ApiError, AppState};
use crate::model::{ComponentId, Inner};
use crate::store::{Resolution, SeriesPoint, StoreReader};
use crate::uptime::Uptime;
use crate::{now_ms, UnixMs};

/// Default and largest number of days of the uptime endpoints.
pub const DEFAULT_DAYS: u32 = 90;
/// Largest number of days served.
pub const MAX_DAYS: u32 = 366;

/// One component's daily uptime.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentUptime {
    /// Statuspage id of the component.
    pub id: String,
    /// Group (empty for a group component).
    pub group: String,
    /// Name.
    pub name: String,
    /// Daily figures (oldest first) and the total; weighting in README, section Uptime.
    #[serde(flatten)]
    pub uptime: Uptime,
}

/// `/api/v1/uptime`.
#[derive(Debug, Clone, Serialize)]
pub struct UptimeDoc {
    /// Days covered (the last is today, up to now).
    pub days: u32,
    /// Every component, in page order (each group, then its members).
    pub components: Vec<ComponentUptime>,
}

/// `/api/v1/components/{id}/series`.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesDoc {
    /// Statuspage id of the component.
    pub id: String,
    /// Group (empty for a group component).
    pub group: String,
    /// Name.
    pub name: String,
    /// `minute`, `hour` or `day`.
    pub resolution: Resolution,
    /// Start of the range (ms since the epoch, inclusive).
    pub from: UnixMs,
    /// End of the range (ms, exclusive).
    pub to: UnixMs,
    /// Points with probes, oldest first.
    pub points: Vec<SeriesPoint>,
}

/// Every component of the page, in page order, with its Statuspage id.
pub fn page_components(inner: &Inner, now: UnixMs) -> Vec<(String, ComponentId)> {
    let mut out = Vec::new();
    for (_, zs) in inner.statuses(now) {
        let g = ComponentId::group(&zs.group.name);
        out.push((component_id(&g), g));
        for s in &zs.servers {
            let m = ComponentId::member(&zs.group.name, &s.name);
            out.push((component_id(&m), m));
        }
    }
    for (_, gs) in inner.group_statuses(now) {
        let g = ComponentId::group(&gs.group.name);
        out.push((component_id(&g), g));
        for c in &gs.components {
            let m = ComponentId::member(&gs.group.name, &c.name);
            out.push((component_id(&m), m));
        }
    }
    out
}

fn reader(state: &AppState) -> Result<StoreReader, ApiError> {
    state
        .store
        .clone()
        .ok_or_else(|| ApiError::not_found("no store configured"))
}

fn find(state: &AppState, id: &str) -> Result<ComponentId, ApiError> {
    let now = now_ms();
    let inner = state.shared.lock();
    page_components(&inner, now)
        .into_iter()
        .find(|(cid, _)| cid == id)
        .map(|(_, c)| c)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no component with id {id:?} (ids as on /api/v2/components.json)"
            ))
        })
}

fn days_param(params: &HashMap<String, String>, allowed: &[&str]) -> Result<u32, ApiError> {
    super::count_param(params, "days", DEFAULT_DAYS, MAX_DAYS, allowed)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::unavailable(format!("store: {e}"))),
        Err(e) => Err(ApiError::unavailable(format!("store query failed: {e}"))),
    }
}

/// `GET /api/v1/uptime?days=N`: every component's last N days (default 90).
pub async fn uptime_all(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<UptimeDoc>, ApiError> {
    let days = days_param(&params, &[])?;
    let reader = reader(&state)?;
    let now = now_ms();
    let comps = page_components(&state.shared.lock(), now);
    let components = blocking(move || {
        comps
            .into_iter()
            .map(|(id, c)| {
                let uptime = reader.uptime(&c.group, &c.name, days, now)?;
                Ok(ComponentUptime {
                    id,
                    group: c.group,
                    name: c.name,
                    uptime,
                })
            })
            .collect()
    })
    .await?;
    Ok(Json(UptimeDoc { days, components }))
}

/// `GET /api/v1/components/{id}/uptime?days=N`.
pub async fn uptime_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ComponentUptime>, ApiError> {
    let days = days_param(&params, &[])?;
    let reader = reader(&state)?;
    let c = find(&state, &id)?;
    let now = now_ms();
    let uptime = {
        let (g, n) = (c.group.clone(), c.name.clone());
        blocking(move || reader.uptime(&g, &n, days, now)).await?
    };
    Ok(Json(ComponentUptime {
        id,
        group: c.group,
        name: c.name,
        uptime,
    }))
}

/// `GET /api/v1/components/{id}/series?resolution=minute|hour|day[&range=24h]`:
/// default ranges 24 h (minute), 7 d (hour), 90 d (day).
pub async fn series(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<SeriesDoc>, ApiError> {
    let mut resolution = Resolution::Minute;
    let mut range = None;
    for (k, v) in &params {
        match k.as_str() {
            "resolution" => {
                resolution = match v.as_str() {
                    "minute" => Resolution::Minute,
                    "hour" => Resolution::Hour,
                    "day" => Resolution::Day,
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "resolution must be minute, hour or day, got {v:?}"
                        )))
                    }
                }
            }
            "range" => {
                let d = humantime::parse_duration(v)
                    .ok()
                    .filter(|d| !d.is_zero() && d.as_secs() <= u64::from(MAX_DAYS) * 86_400)
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "range must be a duration like 24h, 7d or 90d (at most {MAX_DAYS}d), got {v:?}"
                        ))
                    })?;
                range = Some(d.as_millis() as u64);
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {other:?} (expected: resolution, range)"
                )))
            }
        }
    }
    let range = range.unwrap_or(match resolution {
        Resolution::Minute => 86_400_000,
        Resolution::Hour => 7 * 86_400_000,
        Resolution::Day => 90 * 86_400_000,
    });
    let reader = reader(&state)?;
    let c = find(&state, &id)?;
    let step = resolution.step_ms();
    let to = (now_ms() / step + 1) * step;
    let from = to.saturating_sub(range.div_ceil(step) * step);
    let points = {
        let (g, n) = (c.group.clone(), c.name.clone());
        blocking(move || reader.series(&g, &n, resolution, from, to)).await?
    };
    Ok(Json(SeriesDoc {
        id,
        group: c.group,
        name: c.name,
        resolution,
        from,
        to,
        points,
    }))
}
