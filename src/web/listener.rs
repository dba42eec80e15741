//! The accept loop: one task per connection, HTTP/1.1 via hyper with a request
//! head timeout (slowloris) and a bounded read buffer, optional TLS, a
//! connection limit that sheds idle connections first, graceful shutdown.
//!
//! At the limit the oldest connection that has not yet sent a request (an
//! idle or slowloris client) is closed to admit the new one; if every
//! connection is busy with a request, the new one gets a JSON 503 (plain
//! HTTP) or is closed (TLS) at once. So thousands of idle connections never
//! keep a real client out.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tower::Service;
use tracing::{debug, info, warn};

use super::WebHandle;

/// Longest wait for open connections to finish after shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Send buffer of an HTTP connection (`SO_SNDBUF`; Linux doubles it). It caps how much
/// one write hands the kernel: with the default autotuning (up to 4 MiB) one write of
/// a large `/metrics` or page body copied megabytes, and over loopback ran the
/// receiver's TCP path too, in one system call that a kernel without forced preemption
/// (`PREEMPT_NONE`) does not interrupt, so a probe tick waited milliseconds for that
/// CPU. 256 KiB still fills a 50 ms path at 10 MB/s.
const SEND_BUFFER: usize = 256 * 1024;

/// Serves `router` (wrapped in the web layers) on `listener` until `shutdown`
/// completes, then lets in-flight requests finish (up to 10 s). Reloads the
/// web config file on SIGHUP.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    web: WebHandle,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let router = web.wrap(router);
    let table = Arc::new(ConnTable::default());
    let max_connections = web.current().limits.max_connections;
    let graceful = GracefulShutdown::new();
    let reloader = tokio::spawn(reload_on_hangup(web.clone()));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            res = listener.accept() => match res {
                Ok(s) => s,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let current = web.current();
        let Some(slot) = table.admit(max_connections) else {
            debug!(%peer, "connection limit reached and every connection busy: refusing");
            tokio::spawn(refuse(stream, current.tls.is_some()));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let _ =
            nix::sys::socket::setsockopt(&stream, nix::sys::socket::sockopt::SndBuf, &SEND_BUFFER);
        let router = router.clone();
        let watcher = graceful.watcher();
        let id = slot.id;
        let task_table = table.clone();
        let handle = tokio::spawn(async move {
            let limits = &current.limits;
            let service = FirstRequest {
                inner: router,
                slot: Arc::new(slot),
                seen: Arc::new(AtomicBool::new(false)),
            };
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size((2 * limits.max_header_bytes).max(8192))
                .keep_alive(true);
            match &current.tls {
                None => serve_conn(&builder, stream, service, watcher, peer).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream))
                            .await;
                    match handshake {
                        Ok(Ok(tls)) => serve_conn(&builder, tls, service, watcher, peer).await,
                        Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
        task_table.register(id, handle.abort_handle());
    }
    drop(listener);
    reloader.abort();
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        warn!("HTTP connections still open after {SHUTDOWN_GRACE:?}; closing them");
    }
}

async fn serve_conn<IO>(
    builder: &http1::Builder,
    io: IO,
    service: FirstRequest,
    watcher: hyper_util::server::graceful::Watcher,
    peer: SocketAddr,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // hyper's own error responses (head too large, unparseable) get a JSON body too.
    let io = super::hyper_errors::JsonErrors::new(io);
    let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
    if let Err(e) = watcher.watch(conn).await {
        debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}

/// Answers a connection over the limit and closes it.
async fn refuse(mut stream: TcpStream, tls: bool) {
    if tls {
        return; // no HTTP can be spoken before a handshake; closing is the answer
    }
    const BODY: &str =
        "{\"error\":\"too many connections (nsprobe.max_connections); retry later\"}";
    let res = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(res.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// Reloads the web config file on every SIGHUP (the daemon reloads its own
/// config on the same signal).
async fn reload_on_hangup(web: WebHandle) {
    if web.path().is_none() {
        return;
    }
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        match web.reload() {
            Ok(()) => info!("web config reloaded"),
            Err(e) => warn!(error = %e, "web config reload failed; keeping the running settings"),
        }
    }
}

/// Open connections: a count, and the ones that have not sent a request yet
/// (evictable, oldest first).
#[derive(Debug, Default)]
struct ConnTable {
    open: AtomicUsize,
    next_id: AtomicU64,
    idle: Mutex<BTreeMap<u64, Option<AbortHandle>>>,
}

/// One admitted connection; dropping it frees the slot.
#[derive(Debug)]
struct Slot {
    table: Arc<ConnTable>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.open.fetch_sub(1, Ordering::AcqRel);
        self.table.idle.lock().expect("conn table").remove(&self.id);
    }
}

impl ConnTable {
    /// Admits a connection, shedding the oldest not-yet-active one at the limit.
    fn admit(self: &Arc<Self>, max: usize) -> Option<Slot> {
        if self.open.load(Ordering::Acquire) >= max {
            let victim = self.idle.lock().expect("conn table").pop_first();
            match victim {
                Some((_, Some(handle))) => handle.abort(),
                // Not registered yet (being spawned) or none idle: refuse.
                _ => return None,
            }
        }
        self.open.fetch_add(1, Ordering::AcqRel);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.idle.lock().expect("conn table").insert(id, None);
        Some(Slot {
            table: self.clone(),
            id,
        })
    }

    /// Records the task of connection `id` so it can be shed while idle.
    fn register(&self, id: u64, handle: AbortHandle) {
        if let Some(entry) = self.idle.lock().expect("conn table").get_mut(&id) {
            *entry = Some(handle);
        }
    }

    /// Connection `id` sent a request: no longer shed first.
    fn active(&self, id: u64) {
        self.idle.lock().expect("conn table").remove(&id);
    }
}

/// The router, marking its connection active on the first request.
#[derive(Clone)]
struct FirstRequest {
    inner: Router,
    slot: Arc<Slot>,
    seen: Arc<AtomicBool>,
}

impl Service<Request<hyper::body::Incoming>> for FirstRequest {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = <Router as Service<Request<hyper::body::Incoming>>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        <Router as Service<Request<hyper::body::Incoming>>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, req: Request<hyper::body::Incoming>) -> Self::Future {
        if !self.seen.swap(true, Ordering::Relaxed) {
            self.slot.table.active(self.slot.id);
        }
        self.inner.call(req)
    }
}
