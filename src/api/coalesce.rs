//! Concurrent identical GETs of an expensive page share one response.
//!
//! The status page reads 90 days of uptime per component from the store and renders
//! every component: at 1,000 components that is hundreds of milliseconds. A request
//! for a URI whose response is being built waits for it and gets a copy (`Bytes`,
//! shared); one arriving after it was built starts a new one. So a flood of page
//! views costs one build at a time, never one per client, and nothing is kept once
//! the responses are sent. Authentication runs before (in the web layers), so only
//! requests that passed it meet here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::OnceCell;

/// Largest body shared (a larger one is answered with an error to every waiter).
const MAX_BODY: usize = 64 * 1024 * 1024;

type Built = (StatusCode, HeaderMap, Bytes);

/// The responses being built, by URI. Held weakly: freed with the last response.
#[derive(Debug, Default)]
pub struct Coalesce {
    flights: Mutex<HashMap<String, Weak<OnceCell<Built>>>>,
}

impl Coalesce {
    /// Nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    fn flight(&self, key: String) -> Arc<OnceCell<Built>> {
        let mut map = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 64 {
            map.retain(|_, w| w.strong_count() > 0);
        }
        match map.get(&key).and_then(Weak::upgrade) {
            Some(c) if !c.initialized() => c,
            _ => {
                let c = Arc::new(OnceCell::new());
                map.insert(key, Arc::downgrade(&c));
                c
            }
        }
    }
}

/// Middleware: GETs of the same URI in flight together share one response.
pub async fn coalesce(State(c): State<Arc<Coalesce>>, req: Request, next: Next) -> Response {
    if req.method() != Method::GET {
        return next.run(req).await;
    }
    let cell = c.flight(req.uri().to_string());
    let (status, headers, body) = cell
        .get_or_init(|| async move {
            let (parts, body) = next.run(req).await.into_parts();
            match axum::body::to_bytes(body, MAX_BODY).await {
                Ok(b) => (parts.status, parts.headers, b),
                Err(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    HeaderMap::new(),
                    Bytes::from_static(b"response too large to share"),
                ),
            }
        })
        .await
        .clone();
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}
