//! The `Prober` path (a future per probe over a `UdpPool`'s shared sockets) against the
//! programmable [`LabServer`]: every classification of `tests/probe.rs` holds, plus
//! what sharing a socket adds (demultiplexing by ID, late answers, refusals).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::probe_cases::{check_mode, failed, lab, ok, spec, SLACK, TIMEOUT, UDP_MODES};
use common::{closed_port, LabServer, Mode};
use nsprobe::probe::{FailureKind, Outcome, ProbeSpec, Prober, Transport, UdpPool};

async fn pooled(pool: &Arc<UdpPool>, s: ProbeSpec) -> Outcome {
    Prober::new(s, pool.clone()).probe().await
}

#[tokio::test]
async fn every_mode_is_classified_as_with_a_fresh_socket() {
    every_mode_classified(Arc::new(UdpPool::new())).await;
}

/// The same with a pool read on a 10 ms tick grid. (The daemon's UDP path is a
/// `UdpBatch` on a driven pool: `tests/probe_batch.rs`.)
#[tokio::test]
async fn every_mode_is_classified_on_the_tick_grid_too() {
    let epoch = tokio::time::Instant::now();
    every_mode_classified(Arc::new(UdpPool::aligned(epoch, Duration::from_millis(10)))).await;
}

async fn every_mode_classified(pool: Arc<UdpPool>) {
    let lab = lab().await;
    for (mode, kind) in UDP_MODES {
        lab.set_mode(mode);
        let started = Instant::now();
        let outcome = pooled(&pool, spec("dk.", lab.addr(), Transport::Udp)).await;
        check_mode(mode, kind, outcome, started.elapsed());
    }
    // Every UDP query to the lab went over one socket.
    assert_eq!(pool.len(), 1);
    lab.set_mode(Mode::Normal);
    let a = ok(pooled(&pool, spec("dk.", lab.addr(), Transport::Udp)).await);
    assert_eq!(a.serial, 2024010101);
    assert_eq!(a.nsid.as_deref(), Some("lab-ns1"));
    assert!(!a.truncated);
}

#[tokio::test]
async fn concurrent_queries_on_one_socket_get_their_own_answers() {
    let lab = lab().await;
    lab.set_mode(Mode::Delay(Duration::from_millis(30)));
    let pool = Arc::new(UdpPool::new());
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let pool = pool.clone();
        let s = spec("dk.", lab.addr(), Transport::Udp);
        set.spawn(async move { pooled(&pool, s).await });
    }
    while let Some(res) = set.join_next().await {
        let a = ok(res.expect("task"));
        assert!(a.rtt >= Duration::from_millis(30), "{:?}", a.rtt);
        assert!(a.rtt < TIMEOUT, "{:?}", a.rtt);
    }
    assert_eq!(lab.udp_queries(), 50);
    assert_eq!(pool.len(), 1);
}

#[tokio::test]
async fn two_zones_on_one_server_share_the_socket_and_keep_their_questions() {
    let lab = lab().await;
    let pool = Arc::new(UdpPool::new());
    let good = pooled(&pool, spec("dk.", lab.addr(), Transport::Udp));
    // The lab answers for dk. only: another zone's question gets its own classification.
    let other = pooled(&pool, spec("se.", lab.addr(), Transport::Udp));
    let (good, other) = tokio::join!(good, other);
    ok(good);
    assert!(other.is_err(), "{other:?}");
    assert_eq!(pool.len(), 1);
}

#[tokio::test]
async fn decoys_do_not_win_and_decoys_alone_are_classified() {
    let lab = lab().await;
    let pool = Arc::new(UdpPool::new());
    lab.set_udp_mode(Mode::Decoy(Duration::from_millis(50)));
    let a = ok(pooled(&pool, spec("dk.", lab.addr(), Transport::Udp)).await);
    assert!(a.rtt >= Duration::from_millis(50), "{:?}", a.rtt);
    lab.set_udp_mode(Mode::Decoy(TIMEOUT + Duration::from_millis(200)));
    let started = Instant::now();
    let f = failed(
        pooled(&pool, spec("dk.", lab.addr(), Transport::Udp)).await,
        FailureKind::IdMismatch,
    );
    assert!(started.elapsed() >= TIMEOUT);
    assert!(f.rtt.is_some());
}

#[tokio::test]
async fn a_late_answer_is_a_timeout_and_no_stray_for_the_next_query() {
    let lab = lab().await;
    let pool = Arc::new(UdpPool::new());
    lab.set_mode(Mode::LateAnswer(TIMEOUT + Duration::from_millis(100)));
    let f = failed(
        pooled(&pool, spec("dk.", lab.addr(), Transport::Udp)).await,
        FailureKind::Timeout,
    );
    assert_eq!(f.rtt, None);
    // The late answer arrives while the next query waits on the same socket: it is
    // dropped (a fresh socket would have been closed), so silence stays a timeout.
    lab.set_mode(Mode::Silent);
    let f = failed(
        pooled(&pool, spec("dk.", lab.addr(), Transport::Udp)).await,
        FailureKind::Timeout,
    );
    assert_eq!(f.rtt, None);
    assert_eq!(lab.udp_queries(), 2);
}

#[tokio::test]
async fn refusals_are_network_quickly_and_the_socket_recovers() {
    let pool = Arc::new(UdpPool::new());
    let addr = closed_port().await;
    for _ in 0..3 {
        let started = Instant::now();
        let f = failed(
            pooled(&pool, spec("dk.", addr, Transport::Udp)).await,
            FailureKind::Network,
        );
        assert!(started.elapsed() < TIMEOUT / 2);
        assert_eq!(f.rtt, None);
    }

    let mut lab = lab().await;
    let addr = lab.addr();
    ok(pooled(&pool, spec("dk.", addr, Transport::Udp)).await);
    lab.stop();
    tokio::time::sleep(Duration::from_millis(20)).await;
    failed(
        pooled(&pool, spec("dk.", addr, Transport::Udp)).await,
        FailureKind::Network,
    );
}

#[tokio::test]
async fn truncation_is_retried_over_tcp_and_tcp_works() {
    let lab = lab().await;
    let pool = Arc::new(UdpPool::new());
    lab.set_mode(Mode::Truncate);
    let a = ok(pooled(&pool, spec("dk.", lab.addr(), Transport::Udp)).await);
    assert!(a.truncated);
    assert_eq!((lab.udp_queries(), lab.tcp_queries()), (1, 1));
    lab.set_mode(Mode::Normal);
    let mut prober = Prober::new(spec("dk.", lab.addr(), Transport::Tcp), pool.clone());
    for _ in 0..3 {
        ok(prober.probe().await);
    }
    assert_eq!(lab.tcp_queries(), 4);
}

#[tokio::test]
async fn one_prober_many_probes_uses_fresh_ids() {
    let lab = lab().await;
    let pool = Arc::new(UdpPool::new());
    let mut prober = Prober::new(spec("dk.", lab.addr(), Transport::Udp), pool.clone());
    for _ in 0..20 {
        assert_eq!(ok(prober.probe().await).serial, 2024010101);
    }
    assert_eq!(lab.udp_queries(), 20);
}

#[tokio::test]
async fn ipv6_loopback_and_a_source_address() {
    let lab = LabServer::start_on("::1".parse().expect("ip"), "dk.", 7).await;
    let pool = Arc::new(UdpPool::new());
    let mut s = spec("dk.", lab.addr(), Transport::Udp);
    assert_eq!(ok(pooled(&pool, s.clone()).await).serial, 7);
    // A source of the same family is used; one of the other family is ignored.
    s.source = Some("::1".parse().expect("ip"));
    assert_eq!(ok(pooled(&pool, s.clone()).await).serial, 7);
    s.source = Some("127.0.0.1".parse().expect("ip"));
    assert_eq!(ok(pooled(&pool, s).await).serial, 7);
    assert_eq!(pool.len(), 2, "(no source) and (::1) are two sockets");
}

/// A pool drained on a grid much coarser than the timeout: the reaper never reads the
/// answer in time, the query's own drain at its deadline does, with the kernel's RTT.
#[tokio::test]
async fn an_answer_not_yet_drained_at_the_deadline_still_counts() {
    let lab = lab().await;
    // The kernel turns arrival stamps on for the whole system a moment after the first
    // socket asks (deferred work); before that a datagram is stamped when read. A socket
    // that keeps them on, and a moment, make the stamp below the arrival's.
    let warm = Arc::new(UdpPool::new());
    ok(pooled(&warm, spec("dk.", lab.addr(), Transport::Udp)).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let epoch = tokio::time::Instant::now() + Duration::from_secs(3600);
    let pool = Arc::new(UdpPool::aligned(epoch, Duration::from_secs(3600)));
    let started = Instant::now();
    let a = ok(pooled(&pool, spec("dk.", lab.addr(), Transport::Udp)).await);
    let took = started.elapsed();
    assert_eq!(a.serial, 2024010101);
    // Answered at the deadline (nothing drained it earlier), timed by the kernel's stamp.
    assert!(took >= TIMEOUT && took < TIMEOUT + SLACK, "{took:?}");
    assert!(a.rtt < TIMEOUT, "{:?}", a.rtt);
    // Silence is still a timeout.
    lab.set_mode(Mode::Silent);
    failed(
        pooled(&pool, spec("dk.", lab.addr(), Transport::Udp)).await,
        FailureKind::Timeout,
    );
    drop(warm);
}
