//! The hub's pullers: one task per `[[peer]]` pulls the peer's observations
//! (`GET /api/v1/observations?after=CURSOR&limit=N`, bearer token and/or a TLS client
//! certificate) and hands each page to the daemon loop on a channel. The task owns the
//! cursor; the daemon loop only applies what arrives, so a slow or hanging peer never
//! delays it.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::PeerConfig;
use crate::probe::{TlsClient, TlsOptions};
use crate::status::observation::{ObservationPage, DEFAULT_LIMIT, WIRE_VERSION};

/// Largest response body read from a peer (a page of [`crate::status::observation::MAX_LIMIT`]
/// records is well under it).
pub const MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// The outcome of one pull from peer number `index` (config order).
#[derive(Debug)]
pub struct Pulled {
    /// Which `[[peer]]`.
    pub index: usize,
    /// The page, or why the pull failed.
    pub result: Result<ObservationPage, String>,
    /// Response body size, bytes.
    pub bytes: usize,
    /// Wall time of the request.
    pub elapsed: Duration,
}

/// The running pullers; dropping it stops them.
#[derive(Debug, Default)]
pub struct Pullers {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Pullers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts one puller per peer; pages go to `tx`. A peer whose TLS files cannot be read
/// reports that error on every pull (shown as the peer's error, `nsprobe_peer_up 0`).
pub fn spawn(peers: &[PeerConfig], tx: mpsc::Sender<Pulled>) -> Pullers {
    let tasks = peers
        .iter()
        .enumerate()
        .map(|(index, peer)| tokio::spawn(pull_loop(index, peer.clone(), tx.clone())))
        .collect();
    Pullers { tasks }
}

fn client(peer: &PeerConfig) -> Result<reqwest::Client, String> {
    let tls = TlsClient::new(&TlsOptions {
        ca_file: peer.ca_file.clone(),
        insecure_skip_verify: false,
        client_cert: peer.client_cert.clone(),
        client_key: peer.client_key.clone(),
    })
    .map_err(|e| format!("TLS setup: {e}"))?;
    let (config, _) = tls
        .connection(&[b"http/1.1"])
        .map_err(|e| format!("TLS setup: {e:?}"))?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .no_proxy()
        .timeout(peer.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("nsprobe/", env!("CARGO_PKG_VERSION"), " hub"))
        .build()
        .map_err(|e| format!("HTTP client setup: {e}"))
}

async fn pull_loop(index: usize, peer: PeerConfig, tx: mpsc::Sender<Pulled>) {
    let client = client(&peer);
    let mut cursor = 0u64;
    let mut epoch = None;
    let mut tick = tokio::time::interval(peer.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // Drain: pull again at once while the peer says more is waiting.
        loop {
            let start = Instant::now();
            let (result, bytes) = match &client {
                Ok(c) => pull(c, &peer, cursor).await,
                Err(e) => (Err(e.clone()), 0),
            };
            let more = match &result {
                Ok(page) => {
                    if epoch.is_some_and(|e| e != page.epoch) && !page.truncated {
                        // The peer restarted: its log began again; start over.
                        cursor = 0;
                        epoch = Some(page.epoch);
                        continue;
                    }
                    epoch = Some(page.epoch);
                    cursor = page.cursor;
                    page.more
                }
                Err(_) => false,
            };
            let pulled = Pulled {
                index,
                result,
                bytes,
                elapsed: start.elapsed(),
            };
            if tx.send(pulled).await.is_err() {
                return;
            }
            if !more {
                break;
            }
        }
    }
}

async fn pull(
    client: &reqwest::Client,
    peer: &PeerConfig,
    after: u64,
) -> (Result<ObservationPage, String>, usize) {
    let url = format!(
        "{}/api/v1/observations?after={after}&limit={DEFAULT_LIMIT}",
        peer.url
    );
    let mut req = client.get(&url);
    if let Some(t) = &peer.token {
        req = req.bearer_auth(t);
    }
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return (Err(error_chain(&e)), 0),
    };
    let status = resp.status();
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_RESPONSE {
                    return (
                        Err(format!("response larger than {MAX_RESPONSE} bytes")),
                        body.len(),
                    );
                }
            }
            Ok(None) => break,
            Err(e) => return (Err(error_chain(&e)), body.len()),
        }
    }
    let n = body.len();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body[..n.min(200)]).into_owned();
        return (Err(format!("HTTP {status}: {text}")), n);
    }
    match serde_json::from_slice::<ObservationPage>(&body) {
        Ok(p) if p.version == WIRE_VERSION => (Ok(p), n),
        Ok(p) => (
            Err(format!(
                "observation format version {} (this nsprobe reads {WIRE_VERSION})",
                p.version
            )),
            n,
        ),
        Err(e) => (Err(format!("not an observation page: {e}")), n),
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
