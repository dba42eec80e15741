//! Response time per check kind: what nsprobe reports vs. `curl -w` (and `openssl
//! s_client` wall time) against the same loopback servers.
//!
//! Run: `cargo run --release --example check_timing [-- N]` (N rounds, default 200;
//! needs `nginx`, `curl`, `openssl`). Starts nginx (HTTPS with a test-CA certificate,
//! plain HTTP) and in-process TCP, whois and EPP-over-TLS servers on 127.0.0.1, then
//! alternates one nsprobe check and one reference measurement per round and prints
//! median and p90 for each. curl's `time_appconnect` includes building its OpenSSL
//! context and loading `--cacert` on every run; the Python clients build theirs once,
//! outside the timed part, so they are the closer TLS reference.

#[path = "../tests/checks_support/mod.rs"]
mod checks_support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use checks_support::{free_port, handler, Nginx, Responder, TestCa};
use nsprobe::probe::epp::EppSpec;
use nsprobe::probe::http::HttpSpec;
use nsprobe::probe::tcp::TcpSpec;
use nsprobe::probe::tls::{server_name, TlsSpec};
use nsprobe::probe::whois::WhoisSpec;
use nsprobe::probe::{run, CheckSpec, TlsClient};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn q(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or(f64::NAN)
}

fn row(name: &str, v: &mut [f64]) {
    println!(
        "{name:<58} median {:>8.1} µs   p90 {:>8.1} µs   (n={})",
        q(v, 0.5),
        q(v, 0.9),
        v.len()
    );
}

/// `curl -w` fields (seconds) for one run; `extra` goes before the URL.
fn curl(extra: &[&str], url: &str, fields: &str) -> Vec<f64> {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--max-time", "5", "-w", fields])
        .args(extra)
        .arg(url)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|s| s.parse::<f64>().unwrap_or(f64::NAN) * 1e6)
        .collect()
}

/// A minimal client in Python timing `n` whois, TLS or EPP exchanges (perf_counter, µs;
/// the SSL context, with the CA file, is built once outside the timed part).
const PY: &str = r#"
import socket, ssl, sys, time
kind, addr, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port = addr.rsplit(':', 1)
ctx = ssl.create_default_context(cafile=sys.argv[4]) if kind != 'whois' else None
out = []
for _ in range(n):
    t = time.perf_counter()
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if kind == 'whois':
        s.sendall(b'punktum.dk\r\n')
        while s.recv(65536):
            pass
    elif kind == 'tls':
        s = ctx.wrap_socket(s, server_hostname='localhost')
    else:
        s = ctx.wrap_socket(s, server_hostname='localhost')
        hdr = b''
        while len(hdr) < 4:
            hdr += s.recv(4 - len(hdr))
        want = int.from_bytes(hdr, 'big') - 4
        body = b''
        while len(body) < want:
            body += s.recv(want - len(body))
    out.append((time.perf_counter() - t) * 1e6)
    s.close()
print(' '.join('%.1f' % x for x in out))
"#;

fn python(args: &[&str]) -> Vec<f64> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(PY)
        .args(args)
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

async fn nsprobe_us(spec: &CheckSpec) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    match run(spec, deadline).await {
        Ok(s) => s.rtt.as_secs_f64() * 1e6,
        Err(f) => panic!("check failed: {f:?}"),
    }
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::new();
    let id = ca.valid(90);
    let (crt, key) = id.write(dir.path(), "localhost");
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, &ca.pem).expect("ca");
    let ca_arg = ca_path.display().to_string();
    let (https_port, http_port) = (free_port(), free_port());
    let servers = format!(
        "server {{ listen 127.0.0.1:{https_port} ssl; server_name localhost;\n\
         ssl_certificate {}; ssl_certificate_key {};\n\
         location = / {{ return 200 \"hello from nginx\\n\"; }} }}\n\
         server {{ listen 127.0.0.1:{http_port}; location = / {{ return 200 \"hello\\n\"; }} }}\n",
        crt.display(),
        key.display()
    );
    let ngdir = tempfile::tempdir().expect("dir");
    let _nginx = Nginx::start(&servers, &[https_port, http_port], ngdir).expect("nginx");
    let client = TlsClient::from_pem(ca.pem.as_bytes(), false).expect("client");

    // In-process servers: a banner line server, whois, EPP greeting over TLS.
    let line = Responder::plain(handler(|c| async move {
        let mut c = BufReader::new(c);
        let _ = c.write_all(b"+OK das ready\r\n").await;
        let mut l = String::new();
        let _ = c.read_line(&mut l).await;
    }))
    .await;
    let whois = Responder::plain(handler(|c| async move {
        let mut c = BufReader::new(c);
        let mut l = String::new();
        let _ = c.read_line(&mut l).await;
        let _ = c
            .write_all(b"Domain:               punktum.dk\r\nStatus:               Active\r\n")
            .await;
        let _ = c.shutdown().await;
    }))
    .await;
    let xml = br#"<?xml version="1.0" encoding="UTF-8"?><epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><greeting><svID>test EPP</svID><svDate>2026-11-26T07:00:00Z</svDate></greeting></epp>"#;
    let mut frame = ((xml.len() + 4) as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(xml);
    let epp = Responder::tls(
        handler(move |mut c| {
            let frame = frame.clone();
            async move {
                let _ = c.write_all(&frame).await;
                let _ = c.flush().await;
                let mut b = [0u8; 64];
                let _ = tokio::io::AsyncReadExt::read(&mut c, &mut b).await;
            }
        }),
        &id,
    )
    .await;

    let https_addr = SocketAddr::from(([127, 0, 0, 1], https_port));
    let mut http_spec =
        HttpSpec::new(&format!("https://localhost:{https_port}/"), client.clone()).expect("url");
    http_spec.addr = Some(https_addr);
    let http_spec = CheckSpec::Http(http_spec);
    let plain_spec = CheckSpec::Http(
        HttpSpec::new(&format!("http://127.0.0.1:{http_port}/"), client.clone()).expect("url"),
    );
    let tls_spec = CheckSpec::Tls(TlsSpec {
        addr: https_addr,
        server_name: server_name("localhost").expect("name"),
        tls: client.clone(),
    });
    let tcp_spec = CheckSpec::Tcp(TcpSpec::connect(line.addr));
    let whois_spec = CheckSpec::Whois(WhoisSpec::new(whois.addr, "punktum.dk"));
    let epp_spec = CheckSpec::Epp(EppSpec::new(
        epp.addr,
        server_name("localhost").expect("name"),
        client.clone(),
    ));
    let resolve = format!("localhost:{https_port}:127.0.0.1");
    let https_url = format!("https://localhost:{https_port}/");
    let epp_resolve = format!("localhost:{}:127.0.0.1", epp.addr.port());
    let epp_url = format!("https://localhost:{}/", epp.addr.port());

    let mut m: Vec<(&str, Vec<f64>)> = [
        "http  nsprobe rtt (https GET, connect..last body byte)",
        "http  curl time_connect",
        "http  curl time_appconnect",
        "http  curl time_total",
        "http  nsprobe rtt (plain http GET)",
        "http  curl time_total (plain http)",
        "tls   nsprobe rtt (connect + handshake)",
        "tls   curl time_appconnect (connect + handshake)",
        "tls   openssl s_client wall time (incl. process start)",
        "tls   python3 ssl client (connect + handshake)",
        "tcp   nsprobe rtt (connect)",
        "tcp   curl time_connect",
        "whois nsprobe rtt (connect..EOF)",
        "whois python3 socket client (connect..EOF)",
        "epp   nsprobe rtt (connect + handshake + greeting)",
        "epp   curl time_appconnect (connect + handshake only)",
        "epp   python3 ssl client (connect + handshake + greeting)",
    ]
    .into_iter()
    .map(|s| (s, Vec::with_capacity(n)))
    .collect();
    for _ in 0..n {
        m[0].1.push(nsprobe_us(&http_spec).await);
        let c = curl(
            &["--cacert", &ca_arg, "--resolve", &resolve],
            &https_url,
            "%{time_connect} %{time_appconnect} %{time_total}",
        );
        if let [a, b, t] = c[..] {
            m[1].1.push(a);
            m[2].1.push(b);
            m[3].1.push(t);
        }
        m[4].1.push(nsprobe_us(&plain_spec).await);
        let c = curl(
            &[],
            &format!("http://127.0.0.1:{http_port}/"),
            "%{time_total}",
        );
        m[5].1.extend(c);
        m[6].1.push(nsprobe_us(&tls_spec).await);
        // curl's appconnect on the same nginx port (the request after it is not counted).
        m[7].1.extend(curl(
            &["--cacert", &ca_arg, "--resolve", &resolve],
            &https_url,
            "%{time_appconnect}",
        ));
        let t = Instant::now();
        let out = Command::new("openssl")
            .args(["s_client", "-connect"])
            .arg(https_addr.to_string())
            .args(["-servername", "localhost", "-CAfile", &ca_arg, "-brief"])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("openssl");
        if out.status.success() {
            m[8].1.push(t.elapsed().as_secs_f64() * 1e6);
        }
        m[10].1.push(nsprobe_us(&tcp_spec).await);
        m[11].1.extend(curl(
            &[],
            &format!("http://{}/", line.addr),
            "%{time_connect}",
        ));
        m[12].1.push(nsprobe_us(&whois_spec).await);
        m[14].1.push(nsprobe_us(&epp_spec).await);
        m[15].1.extend(curl(
            &["--cacert", &ca_arg, "--resolve", &epp_resolve],
            &epp_url,
            "%{time_appconnect}",
        ));
    }
    // Minimal Python clients for the protocols curl does not speak; timed inside Python.
    m[13].1 = python(&["whois", &whois.addr.to_string(), &n.to_string()]);
    m[16].1 = python(&["epp", &epp.addr.to_string(), &n.to_string(), &ca_arg]);
    m[9].1 = python(&["tls", &https_addr.to_string(), &n.to_string(), &ca_arg]);
    for (name, v) in &mut m {
        row(name, v);
    }
}
