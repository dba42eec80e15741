//! The floor under CPU per probe: the least a prober can do at N SOA queries a second on
//! a tick grid against `bench_responder` — one `send` per query on 50 connected sockets,
//! and per slot one non-blocking `recv` per answer outstanding, with no parsing, no
//! timers but the slot's sleep, no state. What nsprobe costs above this is its own work;
//! what this costs is the kernel's (on loopback the send also runs the responder's
//! receive path) and the wake-ups'.
//!
//! ```text
//! target/release/examples/bench_responder --port 26000 --count 50 &
//! cargo run --release --example bench_floor -- 1000 10 64
//! ```
//!
//! Arguments: queries a second (default 1000), seconds (default 10), slot in ms
//! (default 10). Prints the CPU (this thread's on-CPU time from schedstat) per 10,000
//! queries. Loopback only (127.0.0.1:26000–26049).

use std::net::UdpSocket;
use std::time::{Duration, Instant};

const PORTS: usize = 50;

/// This thread's on-CPU seconds (nanosecond resolution).
fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    s.split_whitespace()
        .next()
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1e9
}

fn main() -> std::io::Result<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: rate, seconds, slot ms"))
        .collect();
    let rate = args.first().copied().unwrap_or(1000);
    let secs = args.get(1).copied().unwrap_or(10);
    let slot_ms = args.get(2).copied().unwrap_or(10).max(1);
    let socks = (0..PORTS)
        .map(|i| {
            let s = UdpSocket::bind("127.0.0.1:0")?;
            s.connect(("127.0.0.1", 26000 + i as u16))?;
            s.set_nonblocking(true)?;
            Ok(s)
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    // example. SOA IN, no EDNS; the ID is patched per query.
    let mut query = vec![0u8, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    query.extend_from_slice(b"\x07example\x00\x00\x06\x00\x01");
    let per_slot = (rate * slot_ms / 1000).max(1) as usize;
    let mut pending = [0u32; PORTS];
    let mut buf = [0u8; 4096];
    let (mut sent, mut answered, mut id, mut next) = (0u64, 0u64, 0u16, 0usize);
    let start = Instant::now();
    let cpu0 = cpu();
    let mut slot = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        for _ in 0..per_slot {
            id = id.wrapping_add(1);
            query[..2].copy_from_slice(&id.to_be_bytes());
            if socks[next].send(&query).is_ok() {
                pending[next] += 1;
                sent += 1;
            }
            next = (next + 1) % PORTS;
        }
        for (s, p) in socks.iter().zip(pending.iter_mut()) {
            while *p > 0 && s.recv(&mut buf).is_ok() {
                *p -= 1;
                answered += 1;
            }
        }
        slot += 1;
        let due = start + Duration::from_millis(slot * slot_ms);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let used = cpu() - cpu0;
    println!(
        "{rate} queries/s, {slot_ms} ms slots, {secs} s: sent {sent}, answered {answered}, \
         CPU {used:.3} s, {:.3} CPU s per 10k queries",
        used / sent.max(1) as f64 * 10000.0
    );
    Ok(())
}
