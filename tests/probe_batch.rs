//! The daemon's UDP probe path (`UdpBatch`, driven by the scheduler's driver) against the
//! programmable [`LabServer`]: every classification of the fresh-socket probe
//! (`tests/probe.rs`) holds when no task waits per probe and the sockets are read only
//! when the owner polls, plus what sharing a socket adds (demultiplexing by ID, late
//! answers, refusals, reuse of the socket).

mod common;

use std::time::{Duration, Instant};

use common::probe_cases::{failed, lab, ok, spec, SLACK, TIMEOUT};
use common::{closed_port, LabServer, Mode};
use nsprobe::probe::{FailureKind, Finished, Outcome, ProbeSpec, Token, Transport, UdpBatch};

/// How often the tests' owner polls (the daemon polls on its tick grid).
const POLL: Duration = Duration::from_millis(10);

/// The lab's misbehaviours over UDP and the failure each must be classified as (as
/// `tests/probe.rs` checks them one by one for the fresh-socket probe).
const UDP_MODES: [(Mode, FailureKind); 12] = [
    (Mode::Refused, FailureKind::Refused),
    (Mode::Servfail, FailureKind::Servfail),
    (Mode::Formerr, FailureKind::Formerr),
    (Mode::Nxdomain, FailureKind::Nxdomain),
    (Mode::NotAuthoritative, FailureKind::Lame),
    (Mode::NoSoa, FailureKind::NoSoa),
    (Mode::WrongZoneSoa, FailureKind::NoSoa),
    (Mode::WrongId, FailureKind::IdMismatch),
    (Mode::WrongQuestion, FailureKind::QuestionMismatch),
    (Mode::Garbage, FailureKind::Malformed),
    (Mode::Silent, FailureKind::Timeout),
    (Mode::TruncateAlways, FailureKind::TruncatedTcp),
];

/// Checks one probe of [`UDP_MODES`]: classified as `kind`, in how long it `took` and with
/// what response time: a timeout has none; strays (wrong ID or question, garbage) do not
/// end the wait and are classified at the deadline with the stray's time; the others end
/// before the deadline.
fn check_mode(mode: Mode, kind: FailureKind, outcome: Outcome, took: Duration) {
    let f = failed(outcome, kind);
    assert!(took < TIMEOUT + SLACK, "{mode:?}: {took:?}");
    match kind {
        FailureKind::Timeout => assert_eq!(f.rtt, None),
        FailureKind::IdMismatch | FailureKind::QuestionMismatch | FailureKind::Malformed => {
            assert!(took >= TIMEOUT, "{mode:?}: {took:?}");
            assert!(f.rtt.is_some());
        }
        _ => assert!(took < TIMEOUT, "{mode:?}: {took:?}"),
    }
}

/// Starts the probes of `tokens` together and polls every `every` until all ended (TC
/// answers retried over TCP, as the driver does). Outcomes in the order they ended.
async fn run(batch: &mut UdpBatch, tokens: &[Token], every: Duration) -> Vec<(Token, Outcome)> {
    let mut out = Vec::new();
    let now = tokio::time::Instant::now();
    for t in tokens {
        if let Some(o) = batch.start(*t, now) {
            out.push((*t, o));
        }
    }
    let mut done = Vec::new();
    while batch.flying() > 0 {
        tokio::time::sleep(every).await;
        batch.poll(tokio::time::Instant::now(), &mut done);
        for (t, finished) in done.drain(..) {
            let outcome = match finished {
                Finished::Done(o) => o,
                Finished::Truncated(deadline) => batch.tcp_retry(t, deadline).await,
            };
            out.push((t, outcome));
        }
    }
    out
}

/// One probe of `s` in a batch of its own target.
async fn once(batch: &mut UdpBatch, s: ProbeSpec) -> Outcome {
    let t = batch.add(s);
    let mut got = run(batch, &[t], POLL).await;
    batch.remove(t);
    assert_eq!(got.len(), 1, "{got:?}");
    got.remove(0).1
}

#[tokio::test]
async fn every_mode_is_classified_as_with_a_fresh_socket() {
    let lab = lab().await;
    let mut batch = UdpBatch::new();
    for (mode, kind) in UDP_MODES {
        lab.set_mode(mode);
        let started = Instant::now();
        let outcome = once(&mut batch, spec("dk.", lab.addr(), Transport::Udp)).await;
        check_mode(mode, kind, outcome, started.elapsed());
    }
    // Every UDP query to the lab went over one socket.
    assert_eq!(batch.sockets(), 1);
    lab.set_mode(Mode::Normal);
    let a = ok(once(&mut batch, spec("dk.", lab.addr(), Transport::Udp)).await);
    assert_eq!(a.serial, 2024010101);
    assert_eq!(a.nsid.as_deref(), Some("lab-ns1"));
    assert!(!a.truncated);
}

#[tokio::test]
async fn many_queries_on_one_socket_get_their_own_answers() {
    let lab = lab().await;
    lab.set_mode(Mode::Delay(Duration::from_millis(30)));
    let mut batch = UdpBatch::new();
    let tokens: Vec<Token> = (0..50)
        .map(|_| batch.add(spec("dk.", lab.addr(), Transport::Udp)))
        .collect();
    let got = run(&mut batch, &tokens, POLL).await;
    assert_eq!(got.len(), 50);
    let mut seen: Vec<Token> = got.iter().map(|(t, _)| *t).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 50, "each probe ends once");
    for (_, outcome) in got {
        let a = ok(outcome);
        assert!(a.rtt >= Duration::from_millis(30), "{:?}", a.rtt);
        assert!(a.rtt < TIMEOUT, "{:?}", a.rtt);
    }
    assert_eq!(lab.udp_queries(), 50);
    assert_eq!(batch.sockets(), 1);
}

#[tokio::test]
async fn two_zones_on_one_server_share_the_socket_and_keep_their_questions() {
    let lab = lab().await;
    let mut batch = UdpBatch::new();
    let good = batch.add(spec("dk.", lab.addr(), Transport::Udp));
    // The lab answers for dk. only: another zone's question gets its own classification.
    let other = batch.add(spec("se.", lab.addr(), Transport::Udp));
    let got = run(&mut batch, &[good, other], POLL).await;
    assert_eq!(got.len(), 2);
    for (t, outcome) in got {
        if t == good {
            ok(outcome);
        } else {
            assert!(outcome.is_err(), "{outcome:?}");
        }
    }
    assert_eq!(batch.sockets(), 1);
}

#[tokio::test]
async fn decoys_do_not_win_and_decoys_alone_are_classified() {
    let lab = lab().await;
    let mut batch = UdpBatch::new();
    lab.set_udp_mode(Mode::Decoy(Duration::from_millis(50)));
    let a = ok(once(&mut batch, spec("dk.", lab.addr(), Transport::Udp)).await);
    assert!(a.rtt >= Duration::from_millis(50), "{:?}", a.rtt);
    lab.set_udp_mode(Mode::Decoy(TIMEOUT + Duration::from_millis(200)));
    let started = Instant::now();
    let f = failed(
        once(&mut batch, spec("dk.", lab.addr(), Transport::Udp)).await,
        FailureKind::IdMismatch,
    );
    assert!(started.elapsed() >= TIMEOUT);
    assert!(f.rtt.is_some());
}

#[tokio::test]
async fn a_late_answer_is_a_timeout_and_no_stray_for_the_next_query() {
    let lab = lab().await;
    let mut batch = UdpBatch::new();
    lab.set_mode(Mode::LateAnswer(TIMEOUT + Duration::from_millis(100)));
    let f = failed(
        once(&mut batch, spec("dk.", lab.addr(), Transport::Udp)).await,
        FailureKind::Timeout,
    );
    assert_eq!(f.rtt, None);
    // The late answer arrives while the next query waits on the same socket: dropped.
    lab.set_mode(Mode::Silent);
    let f = failed(
        once(&mut batch, spec("dk.", lab.addr(), Transport::Udp)).await,
        FailureKind::Timeout,
    );
    assert_eq!(f.rtt, None);
    assert_eq!(lab.udp_queries(), 2);
}

#[tokio::test]
async fn refusals_are_network_quickly_and_the_socket_recovers() {
    let mut batch = UdpBatch::new();
    let addr = closed_port().await;
    for _ in 0..3 {
        let started = Instant::now();
        let f = failed(
            once(&mut batch, spec("dk.", addr, Transport::Udp)).await,
            FailureKind::Network,
        );
        assert!(started.elapsed() < TIMEOUT / 2);
        assert_eq!(f.rtt, None);
    }
    let mut lab = lab().await;
    let addr = lab.addr();
    ok(once(&mut batch, spec("dk.", addr, Transport::Udp)).await);
    lab.stop();
    tokio::time::sleep(Duration::from_millis(20)).await;
    failed(
        once(&mut batch, spec("dk.", addr, Transport::Udp)).await,
        FailureKind::Network,
    );
}

#[tokio::test]
async fn truncation_is_handed_back_for_the_tcp_retry() {
    let lab = lab().await;
    let mut batch = UdpBatch::new();
    lab.set_mode(Mode::Truncate);
    let t = batch.add(spec("dk.", lab.addr(), Transport::Udp));
    let now = tokio::time::Instant::now();
    assert_eq!(batch.start(t, now), None);
    let mut done = Vec::new();
    while done.is_empty() {
        tokio::time::sleep(POLL).await;
        batch.poll(tokio::time::Instant::now(), &mut done);
    }
    let Some((tok, Finished::Truncated(deadline))) = done.pop() else {
        panic!("{done:?}");
    };
    assert_eq!(tok, t);
    assert_eq!(
        deadline,
        now + TIMEOUT,
        "the retry keeps the probe's deadline"
    );
    let a = ok(batch.tcp_retry(t, deadline).await);
    assert!(a.truncated);
    assert_eq!((lab.udp_queries(), lab.tcp_queries()), (1, 1));
}

#[tokio::test]
async fn one_target_many_probes_uses_fresh_ids_and_skips_while_in_flight() {
    let lab = lab().await;
    let mut batch = UdpBatch::new();
    let t = batch.add(spec("dk.", lab.addr(), Transport::Udp));
    for _ in 0..20 {
        let got = run(&mut batch, &[t], Duration::from_millis(2)).await;
        assert_eq!(
            ok(got.into_iter().next().expect("one").1).serial,
            2024010101
        );
    }
    assert_eq!(lab.udp_queries(), 20);
    // A second start while the probe is in flight starts nothing.
    let now = tokio::time::Instant::now();
    assert_eq!(batch.start(t, now), None);
    assert!(batch.in_flight(t));
    assert_eq!(batch.start(t, now), None);
    let _ = run(&mut batch, &[], POLL).await;
    assert_eq!(lab.udp_queries(), 21);
}

#[tokio::test]
async fn a_removed_target_ends_nothing_and_its_late_answer_is_nobodys() {
    let lab = lab().await;
    lab.set_mode(Mode::Delay(Duration::from_millis(50)));
    let mut batch = UdpBatch::new();
    let gone = batch.add(spec("dk.", lab.addr(), Transport::Udp));
    assert_eq!(batch.start(gone, tokio::time::Instant::now()), None);
    batch.remove(gone);
    assert_eq!(batch.flying(), 0);
    // The token is reused; the removed probe's answer (its ID) is not the new one's.
    lab.set_mode(Mode::Silent);
    let t = batch.add(spec("dk.", lab.addr(), Transport::Udp));
    assert_eq!(t, gone);
    let got = run(&mut batch, &[t], POLL).await;
    assert_eq!(got.len(), 1);
    let f = failed(got.into_iter().next().expect("one").1, FailureKind::Timeout);
    assert_eq!(f.rtt, None);
}

#[tokio::test]
async fn ipv6_loopback_and_a_source_address() {
    let lab = LabServer::start_on("::1".parse().expect("ip"), "dk.", 7).await;
    let mut batch = UdpBatch::new();
    let mut s = spec("dk.", lab.addr(), Transport::Udp);
    assert_eq!(ok(once(&mut batch, s.clone()).await).serial, 7);
    // A source of the same family is used; one of the other family is ignored.
    s.source = Some("::1".parse().expect("ip"));
    assert_eq!(ok(once(&mut batch, s.clone()).await).serial, 7);
    s.source = Some("127.0.0.1".parse().expect("ip"));
    assert_eq!(ok(once(&mut batch, s).await).serial, 7);
    assert_eq!(batch.sockets(), 2, "(no source) and (::1) are two sockets");
}

/// Polled only after the deadline: the answer that arrived in time still counts, timed by
/// the kernel's arrival stamp; silence is still a timeout.
#[tokio::test]
async fn an_answer_read_after_the_deadline_counts_if_it_arrived_in_time() {
    let lab = lab().await;
    // Arrival stamps come on system-wide a moment after the first socket asks for them.
    let mut warm = UdpBatch::new();
    ok(once(&mut warm, spec("dk.", lab.addr(), Transport::Udp)).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut batch = UdpBatch::new();
    let t = batch.add(spec("dk.", lab.addr(), Transport::Udp));
    let got = run(&mut batch, &[t], TIMEOUT + Duration::from_millis(50)).await;
    let a = ok(got.into_iter().next().expect("one").1);
    assert_eq!(a.serial, 2024010101);
    assert!(a.rtt < TIMEOUT, "{:?}", a.rtt);
    lab.set_mode(Mode::Silent);
    let got = run(&mut batch, &[t], TIMEOUT + Duration::from_millis(50)).await;
    failed(got.into_iter().next().expect("one").1, FailureKind::Timeout);
    // A poll before the deadline ends nothing that has no answer.
    lab.set_mode(Mode::Silent);
    let now = tokio::time::Instant::now();
    assert_eq!(batch.start(t, now), None);
    let mut done = Vec::new();
    batch.poll(now, &mut done);
    assert!(done.is_empty(), "{done:?}");
    assert_eq!(batch.next_deadline(), Some(now + TIMEOUT));
    let _ = run(&mut batch, &[], POLL).await;
}

/// A burst's own sockets wait for the next poll (their answers are timed by the kernel's
/// stamp all the same); a socket that also has an older probe is read, and so is every
/// socket once a deadline has passed.
#[tokio::test]
async fn a_burst_leaves_its_own_sockets_for_the_next_poll() {
    let lab = lab().await;
    let mut warm = UdpBatch::new();
    ok(once(&mut warm, spec("dk.", lab.addr(), Transport::Udp)).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let wait = Duration::from_millis(60);
    let mut batch = UdpBatch::new();
    let t = batch.add(spec("dk.", lab.addr(), Transport::Udp));
    let mut done = Vec::new();

    batch.begin_burst();
    assert_eq!(batch.start(t, tokio::time::Instant::now()), None);
    tokio::time::sleep(wait).await;
    batch.poll(tokio::time::Instant::now(), &mut done);
    assert!(done.is_empty(), "read in its own burst: {done:?}");
    batch.poll(tokio::time::Instant::now(), &mut done);
    let (_, Finished::Done(outcome)) = done.pop().expect("read by the next poll") else {
        panic!("truncated?");
    };
    assert!(ok(outcome).rtt < wait / 2, "timed by the arrival stamp");

    // An older probe on the same socket: the socket is read, both answers with it.
    let u = batch.add(spec("dk.", lab.addr(), Transport::Udp));
    assert_eq!(batch.start(u, tokio::time::Instant::now()), None);
    batch.begin_burst();
    assert_eq!(batch.start(t, tokio::time::Instant::now()), None);
    tokio::time::sleep(wait).await;
    batch.poll(tokio::time::Instant::now(), &mut done);
    assert_eq!(done.len(), 2, "{done:?}");
    done.clear();

    // A deadline passed: every socket is read before the probe is judged.
    batch.begin_burst();
    let started = tokio::time::Instant::now();
    assert_eq!(batch.start(t, started), None);
    tokio::time::sleep(TIMEOUT + Duration::from_millis(20)).await;
    batch.poll(tokio::time::Instant::now(), &mut done);
    let (_, Finished::Done(outcome)) = done.pop().expect("ended") else {
        panic!("truncated?");
    };
    ok(outcome);
}

/// Probes with different timeouts to a silent server end at their own deadlines, earliest
/// first, and `next_deadline` is always the earliest deadline of the probes still in
/// flight (not one of a probe that ended, nor a later one), also after the target of the
/// earliest is removed and another probe answered.
#[tokio::test]
async fn deadlines_of_mixed_timeouts_end_in_order() {
    let lab = lab().await;
    lab.set_mode(Mode::Silent);
    let answering = LabServer::start("dk.", 2024010101).await;
    let ms = Duration::from_millis;
    let mut batch = UdpBatch::new();
    let mut target = |timeout: Duration, addr| {
        let mut s = spec("dk.", addr, Transport::Udp);
        s.timeout = timeout;
        batch.add(s)
    };
    let t300 = target(ms(300), lab.addr());
    let t100 = target(ms(100), lab.addr());
    let t200 = target(ms(200), lab.addr());
    let gone = target(ms(50), lab.addr());
    let quick = target(ms(1000), answering.addr());
    let start = tokio::time::Instant::now();
    for t in [t300, t100, t200, gone, quick] {
        assert!(batch.start(t, start).is_none());
    }
    assert_eq!(batch.next_deadline(), Some(start + ms(50)));
    batch.remove(gone);
    assert_eq!(batch.flying(), 4);
    assert_eq!(batch.next_deadline(), Some(start + ms(100)));
    let mut ended = Vec::new();
    let mut done = Vec::new();
    while batch.flying() > 0 {
        tokio::time::sleep(ms(5)).await;
        let now = tokio::time::Instant::now();
        batch.poll(now, &mut done);
        for (t, finished) in done.drain(..) {
            let Finished::Done(outcome) = finished else {
                panic!("{t:?}: truncated");
            };
            if t == quick {
                ok(outcome);
            } else {
                failed(outcome, FailureKind::Timeout);
            }
            ended.push(t);
        }
        let left = [(t100, 100), (t200, 200), (t300, 300), (quick, 1000)]
            .into_iter()
            .filter(|(t, _)| !ended.contains(t))
            .map(|(_, d)| start + ms(d))
            .min();
        assert_eq!(batch.next_deadline(), left, "after {ended:?}");
    }
    assert_eq!(ended, vec![quick, t100, t200, t300]);
}
