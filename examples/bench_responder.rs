//! Benchmark responder: answers every SOA query authoritatively (UDP and TCP).
//!
//! Not a DNS server: it echoes the question and appends a synthetic SOA for the
//! query name (owner compressed to the question), serial fixed, AA set, plus an
//! OPT record when the query had one. Used by `bench/run.sh` only.
//!
//! ```text
//! bench_responder --addr 127.0.0.1 --port 20000 --count 50 [--delay-ms 20] [--tcp]
//! ```
//! Binds `count` UDP sockets (and TCP listeners with `--tcp`) on ports
//! `port .. port+count`. Without a delay, one tokio current-thread runtime serves
//! all sockets. With `--delay-ms`, each UDP socket gets a blocking thread that
//! holds every answer until exactly `delay` after the query was received
//! (sleep, then spin for the last 300 µs), so the injected delay is known.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

const SERIAL: u32 = 2026010101;

/// Builds the answer to `q` into `out`; `None` when `q` is not a plain query.
fn answer(q: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if q.len() < 12 || q[2] & 0x80 != 0 {
        return None;
    }
    let qdcount = u16::from_be_bytes([q[4], q[5]]);
    let arcount = u16::from_be_bytes([q[10], q[11]]);
    if qdcount != 1 {
        return None;
    }
    // Walk the question name.
    let mut i = 12;
    loop {
        let l = *q.get(i)? as usize;
        if l == 0 {
            i += 1;
            break;
        }
        if l & 0xC0 != 0 {
            return None;
        }
        i += 1 + l;
    }
    let qend = i + 4;
    if q.len() < qend {
        return None;
    }
    out.clear();
    out.extend_from_slice(&q[0..2]);
    // QR, opcode copied, AA; RD copied; RA clear; NOERROR.
    out.push(0x80 | (q[2] & 0x79) | 0x04);
    out.push(0x00);
    out.extend_from_slice(&[0, 1, 0, 1, 0, 0]);
    out.extend_from_slice(&[0, u8::from(arcount > 0)]);
    out.extend_from_slice(&q[12..qend]);
    // Answer: owner = pointer to the question name, SOA IN, TTL 300.
    out.extend_from_slice(&[0xC0, 0x0C, 0, 6, 0, 1, 0, 0, 1, 0x2C]);
    out.extend_from_slice(&22u16.to_be_bytes());
    out.push(0); // mname: root
    out.push(0); // rname: root
    for v in [SERIAL, 7200, 3600, 1_209_600, 300] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    if arcount > 0 {
        // OPT: root owner, payload 1232, no options.
        out.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
    }
    Some(())
}

fn delayed_udp(addr: SocketAddr, delay: Duration) {
    let sock = std::net::UdpSocket::bind(addr).expect("bind udp");
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut out = Vec::with_capacity(512);
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                continue;
            };
            let until = Instant::now() + delay;
            if answer(&buf[..n], &mut out).is_none() {
                continue;
            }
            let spin = Duration::from_micros(300);
            let left = until.saturating_duration_since(Instant::now());
            if left > spin {
                std::thread::sleep(left - spin);
            }
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            let _ = sock.send_to(&out, peer);
        }
    });
}

async fn serve_udp(sock: tokio::net::UdpSocket) {
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::with_capacity(512);
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        if answer(&buf[..n], &mut out).is_some() {
            let _ = sock.send_to(&out, peer).await;
        }
    }
}

async fn serve_tcp(l: tokio::net::TcpListener) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let _ = s.set_nodelay(true);
            let mut out = Vec::with_capacity(512);
            loop {
                let mut len = [0u8; 2];
                if s.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                if s.read_exact(&mut q).await.is_err() {
                    return;
                }
                if answer(&q, &mut out).is_none() {
                    return;
                }
                let mut framed = (out.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&out);
                if s.write_all(&framed).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn main() {
    let mut ip: IpAddr = [127, 0, 0, 1].into();
    let (mut port, mut count, mut delay_ms, mut tcp) = (20000u16, 1u16, 0u64, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().expect("missing value");
        match a.as_str() {
            "--addr" => ip = val().parse().expect("--addr"),
            "--port" => port = val().parse().expect("--port"),
            "--count" => count = val().parse().expect("--count"),
            "--delay-ms" => delay_ms = val().parse().expect("--delay-ms"),
            "--tcp" => tcp = true,
            other => panic!("unknown argument {other}"),
        }
    }
    let addrs: Vec<SocketAddr> = (0..count).map(|i| SocketAddr::new(ip, port + i)).collect();
    if delay_ms > 0 {
        for a in &addrs {
            delayed_udp(*a, Duration::from_millis(delay_ms));
        }
        println!("ready");
        loop {
            std::thread::park();
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        for a in addrs {
            let s = tokio::net::UdpSocket::bind(a).await.expect("bind udp");
            tokio::spawn(serve_udp(s));
            if tcp {
                let l = tokio::net::TcpListener::bind(a).await.expect("bind tcp");
                tokio::spawn(serve_tcp(l));
            }
        }
        println!("ready");
        std::future::pending::<()>().await;
    });
}
