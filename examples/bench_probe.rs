//! Benchmark helper: runs nsprobe's own probe (`nsprobe::probe::Prober` over a
//! `UdpPool`, the code the daemon's scheduler calls) `count` times in sequence against one server and prints
//! each reported response time in microseconds, one per line. Same runtime kind as
//! `nsprobe run` (tokio multi-thread). Used by `bench/run.sh` only.
//!
//! ```text
//! bench_probe ADDR ZONE COUNT [udp|tcp]
//! ```

use std::time::Duration;

use std::sync::Arc;

use nsprobe::probe::{ProbeSpec, Prober, Transport, UdpPool};

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
        let mut prober = Prober::new(spec, Arc::new(UdpPool::new()));
        for _ in 0..count {
            match prober.probe().await {
                Ok(a) => println!("{}", a.rtt.as_secs_f64() * 1e6),
                Err(f) => eprintln!("probe failed: {} {}", f.kind, f.detail),
            }
            // Sequential, spaced like the other tools' runs (no back-to-back bursts).
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
}
