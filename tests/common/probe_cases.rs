//! What the probe tests share: the probe spec they send, the time-out and slack they
//! allow, and the verdict helpers (`tests/probe.rs` for the one-shot probe,
//! `tests/probe_batch.rs` for the daemon's UDP path).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::Name;
use nsprobe::probe::{Answer, Failure, FailureKind, Outcome, ProbeSpec, Transport};

use super::LabServer;

/// The probe time-out of these tests.
pub const TIMEOUT: Duration = Duration::from_millis(400);
/// Scheduling slack allowed beyond the timeout (2 shared cores, debug build).
pub const SLACK: Duration = Duration::from_millis(250);

/// A probe of `zone`'s SOA at `addr` over `transport`, asking for the NSID.
pub fn spec(zone: &str, addr: SocketAddr, transport: Transport) -> ProbeSpec {
    ProbeSpec {
        zone: Name::from_ascii(zone).expect("zone"),
        addr,
        transport,
        timeout: TIMEOUT,
        dnssec_ok: false,
        nsid: true,
        source: None,
    }
}

/// The answer, or a panic naming the failure.
pub fn ok(outcome: Outcome) -> Answer {
    match outcome {
        Ok(a) => a,
        Err(f) => panic!("expected an answer, got {f:?}"),
    }
}

/// The failure if it is of `kind`, or a panic naming what came instead.
pub fn failed(outcome: Outcome, kind: FailureKind) -> Failure {
    match outcome {
        Err(f) if f.kind == kind => f,
        other => panic!("expected {kind}, got {other:?}"),
    }
}

/// A lab server for `dk.` (serial 2024010101) answering NSID `lab-ns1`.
pub async fn lab() -> LabServer {
    let lab = LabServer::start("dk.", 2024010101).await;
    lab.set_nsid(Some("lab-ns1"));
    lab
}
