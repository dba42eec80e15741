//! systemd `Type=notify` and watchdog as systemd sees them: the real binary with
//! `NOTIFY_SOCKET` pointing at a datagram socket of this test sends `READY=1`
//! only after its first probe round, `WATCHDOG=1` pings at half `WATCHDOG_USEC`,
//! and `STOPPING=1` on SIGTERM.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::LabServer;

#[tokio::test]
async fn ready_after_first_round_then_watchdog_pings_then_stopping() {
    let server = LabServer::start("dk.", 2026112601).await;
    let dir = tempfile::tempdir().unwrap();
    let config = common::one_server_config(dir.path(), server.addr());
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nsprobe"))
        .args(["run", "-c"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "400000")
        .env_remove("WATCHDOG_PID")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();

    let messages = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut got: Vec<(Duration, String)> = Vec::new();
        let mut buf = [0u8; 4096];
        let mut stopped_sent = false;
        while started.elapsed() < Duration::from_secs(8) {
            if let Ok(n) = sock.recv(&mut buf) {
                got.push((
                    started.elapsed(),
                    String::from_utf8_lossy(&buf[..n]).into_owned(),
                ));
            }
            let pings = got.iter().filter(|(_, m)| m.contains("WATCHDOG=1")).count();
            let ready = got.iter().any(|(_, m)| m.contains("READY=1"));
            if ready && pings >= 4 && !stopped_sent {
                // SIGTERM the daemon we started.
                Command::new("kill")
                    .arg(child.id().to_string())
                    .status()
                    .unwrap();
                stopped_sent = true;
            }
            if got.iter().any(|(_, m)| m.contains("STOPPING=1")) {
                break;
            }
        }
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let _ = child.wait();
        got
    })
    .await
    .unwrap();
    let logs = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    let ready: Vec<_> = messages
        .iter()
        .filter(|(_, m)| m.contains("READY=1"))
        .collect();
    assert_eq!(ready.len(), 1, "{messages:?}\n{logs}");
    assert!(
        ready[0].1.contains("STATUS=probing 2 targets"),
        "{messages:?}"
    );
    assert!(logs.contains("first probe round done"), "{logs}");
    let pings: Vec<Duration> = messages
        .iter()
        .filter(|(_, m)| m.contains("WATCHDOG=1"))
        .map(|(t, _)| *t)
        .collect();
    assert!(pings.len() >= 4, "{messages:?}");
    // Half of WATCHDOG_USEC apart (200 ms), give or take scheduling.
    for w in pings.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap > Duration::from_millis(100) && gap < Duration::from_millis(400),
            "watchdog gap {gap:?}: {messages:?}"
        );
    }
    assert!(
        messages.iter().any(|(_, m)| m.contains("STOPPING=1")),
        "{messages:?}\n{logs}"
    );
}
