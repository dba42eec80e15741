//! Benchmark helper: runs nsprobe's own probe (over UDP a `nsprobe::probe::UdpBatch` polled
//! every millisecond, what the daemon's scheduler drives; over TCP a `Prober`) `count`
//! times in sequence against one server and prints
//! each reported response time in microseconds, one per line. Same runtime kind as
//! `nsprobe run` (tokio multi-thread). Used by `bench/run.sh` only.
//!
//! ```text
//! bench_probe ADDR ZONE COUNT [udp|tcp]
//! ```

use std::time::Duration;

use std::sync::Arc;

use nsprobe::probe::{Finished, Outcome, ProbeSpec, Prober, Transport, UdpBatch, UdpPool};

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
        let mut prober = Prober::new(spec.clone(), Arc::new(UdpPool::new()));
        let mut batch = UdpBatch::new();
        let token = batch.add(spec);
        for _ in 0..count {
            let outcome = match transport {
                Transport::Tcp => prober.probe().await,
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
