//! Per-request middleware around the API router: configured response headers,
//! the request-head size limit, basic authentication, and a JSON body on every
//! error response (timeouts, body limits and extractor rejections included).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::Denied;
use super::WebHandle;

/// Paths served without authentication when `nsprobe.public_status_page` is
/// set: the status page and its assets, badges, health and readiness.
pub fn is_status_page_path(path: &str) -> bool {
    const EXACT: [&str; 4] = ["/", "/healthz", "/readyz", "/favicon.ico"];
    const PREFIXES: [&str; 6] = [
        "/status",
        "/badge",
        "/badges/",
        "/static/",
        "/assets/",
        "/incidents/",
    ];
    EXACT.contains(&path) || PREFIXES.iter().any(|p| path.starts_with(p))
}

/// A JSON error response `{"error": message}`, the shape of every API error.
pub fn json_error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// Adds `http_server_config.headers` to every response.
pub async fn extra_headers(State(web): State<WebHandle>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let current = web.current();
    for (name, value) in &current.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            res.headers_mut().insert(n, v);
        }
    }
    res
}

/// Rejects a request head larger than `nsprobe.max_header_bytes` with 431,
/// then enforces basic authentication when users are configured.
pub async fn guard(State(web): State<WebHandle>, req: Request, next: Next) -> Response {
    let current = web.current();
    let head = req.uri().to_string().len()
        + req
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>();
    if head > current.limits.max_header_bytes {
        return json_error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "request head of {head} bytes exceeds the limit of {} (nsprobe.max_header_bytes)",
                current.limits.max_header_bytes
            ),
        );
    }
    if let Some(auth) = &current.auth {
        let public = current.limits.public_status_page && is_status_page_path(req.uri().path());
        if !public {
            let value = req
                .headers()
                .get(header::AUTHORIZATION)
                .map(|v| v.as_bytes());
            if let Err(denied) = auth.check(value).await {
                let message = match denied {
                    Denied::Missing => "authentication required (HTTP basic auth)",
                    Denied::Wrong => "wrong user name or password",
                };
                let mut res = json_error(StatusCode::UNAUTHORIZED, message);
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"nsprobe\", charset=\"UTF-8\""),
                );
                return res;
            }
        }
    }
    next.run(req).await
}

/// Largest error body re-read to wrap it in JSON.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Gives every 4xx/5xx response that is not already JSON a `{"error": ...}`
/// body: the original text if there was one (axum's extractor rejections),
/// otherwise the status's reason (tower-http's empty 408, 413 …). HTML error pages
/// written on purpose (the status page's "Incident not found") pass unchanged.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        default_message(status)
    } else {
        text
    };
    let body = serde_json::to_vec(&serde_json::json!({ "error": message }))
        .unwrap_or_else(|_| b"{\"error\":\"error\"}".to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::REQUEST_TIMEOUT => "request took longer than http.request_timeout".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large".into(),
        s => s
            .canonical_reason()
            .map(|r| r.to_lowercase())
            .unwrap_or_else(|| format!("HTTP {}", s.as_u16())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, post};
    use axum::Router;
    use std::time::Duration;
    use tower::ServiceExt as _;

    async fn call(
        router: Router,
        req: axum::http::Request<Body>,
    ) -> (StatusCode, serde_json::Value) {
        let res = router
            .layer(axum::middleware::from_fn(json_errors))
            .oneshot(req)
            .await
            .unwrap();
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn timeout_and_body_limit_errors_become_json() {
        let slow = Router::new()
            .route(
                "/",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_millis(20),
            ));
        let req = axum::http::Request::get("/").body(Body::empty()).unwrap();
        let (code, v) = call(slow, req).await;
        assert_eq!(code, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(v["error"], "request took longer than http.request_timeout");

        let limited = Router::new()
            .route(
                "/",
                post(|b: axum::body::Bytes| async move { b.len().to_string() }),
            )
            .layer(tower_http::limit::RequestBodyLimitLayer::new(10));
        let req = axum::http::Request::post("/")
            .body(Body::from("x".repeat(100)))
            .unwrap();
        let (code, v) = call(limited, req).await;
        assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(!v["error"].as_str().unwrap().is_empty(), "{v}");
    }

    #[test]
    fn status_page_paths() {
        for p in [
            "/",
            "/healthz",
            "/readyz",
            "/status",
            "/status/dk",
            "/badge/dk.svg",
            "/static/a.css",
            "/incidents/0abc",
        ] {
            assert!(is_status_page_path(p), "{p}");
        }
        for p in [
            "/metrics",
            "/api/v1/status",
            "/api/v2/summary.json",
            "/-/reload",
            "/healthzz",
        ] {
            assert!(!is_status_page_path(p), "{p}");
        }
    }
}
