//! Benchmark helper: runs nsprobe's own probe as the daemon does (over UDP a
//! `nsprobe::probe::UdpBatch` polled every millisecond, as the scheduler's driver does;
//! over TCP `nsprobe::probe::probe`, as a TCP target's task does) `count` times in
//! sequence against one server and prints each reported response time in microseconds,
//! one per line. Same runtime kind as `nsprobe run` (tokio multi-thread). Used by
//! `bench/run.sh` only.
//!
//! ```text
//! bench_probe ADDR ZONE COUNT [udp|tcp]
//! ```

use std::time::Duration;

use nsprobe::probe::{probe, Finished, Outcome, ProbeSpec, Transport, UdpBatch};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = args[1].parse().expect("ADDR");
    let zone = hickory_proto::rr::Name::from_ascii(&args[2]).expect("ZONE");
    let count: usize = args[3].parse().expect("COUNT");
    let transport = match args.get(4).map(String::as_str) {
        Some("tcp") => Transport::Tcp,
        _ => Transport::Udp,
    };
    let spec = ProbeSpec {
        zone,
        addr,
        transport,
        timeout: Duration::from_secs(1),
        dnssec_ok: false,
        nsid: false,
        source: None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut batch = UdpBatch::new();
        let token = batch.add(spec.clone());
        for _ in 0..count {
            let outcome = match transport {
                Transport::Tcp => probe(&spec).await,
                Transport::Udp => batched(&mut batch, token).await,
            };
            match outcome {
                Ok(a) => println!("{}", a.rtt.as_secs_f64() * 1e6),
                Err(f) => eprintln!("probe failed: {} {}", f.kind, f.detail),
            }
            // Sequential, spaced like the other tools' runs (no back-to-back bursts).
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
}

/// One probe of `token`, the batch polled every millisecond until it ends.
async fn batched(batch: &mut UdpBatch, token: nsprobe::probe::Token) -> Outcome {
    if let Some(outcome) = batch.start(token, tokio::time::Instant::now()) {
        return outcome;
    }
    let mut done = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_millis(1)).await;
        batch.poll(tokio::time::Instant::now(), &mut done);
        if let Some((_, finished)) = done.pop() {
            return match finished {
                Finished::Done(outcome) => outcome,
                Finished::Truncated(deadline) => batch.tcp_retry(token, deadline).await,
            };
        }
    }
}
