//! Thread priorities as README ("Thread priorities") states them, read back from
//! `/proc/<pid>/task/*/stat` of the real binary: started under `nice -n 3`, its probing
//! threads (`nsprobe-probe`, `nsprobe-state`) run at 3 − `PROBE_RAISE` where this test
//! may raise priorities (else at 3), its main thread at 3, the HTTP runtime's threads
//! (`nsprobe-http`) at 3 + `READER_NICE`.

#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::LabServer;
use nsprobe::priority::{probing_nice, reader_nice, PROBE_RAISE, READER_NICE};

/// (thread name, nice) of every thread of `pid`.
fn threads(pid: u32) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let Ok(stat) = std::fs::read_to_string(task.unwrap().path().join("stat")) else {
            continue; // the thread ended meanwhile
        };
        // pid (comm) state ppid …: comm may hold spaces, so split at the last ')'.
        let (head, rest) = stat.rsplit_once(')').unwrap();
        let name = head.split_once('(').unwrap().1.to_string();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // Field 19 of stat is nice; `rest` starts at field 3 (state).
        out.push((name, fields[19 - 3].parse().unwrap()));
    }
    out
}

fn get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}

#[tokio::test]
async fn probing_threads_run_above_the_process_readers_below() {
    // `nice -n 3` adds to the nice value this test runs at (CI may run it niced), up
    // to the highest, 19.
    let own = rustix::process::getpriority_process(None).expect("getpriority");
    let process_nice: i32 = (own + 3).min(19);
    let server = LabServer::start("dk.", 2026112601).await;
    let dir = tempfile::tempdir().unwrap();
    let config = common::one_server_config(dir.path(), server.addr());
    let log_path = dir.path().join("stderr.log");
    let mut child = Command::new("nice")
        .args(["-n", "3"])
        .arg(env!("CARGO_BIN_EXE_nsprobe"))
        .args(["run", "-c"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let result = tokio::task::spawn_blocking(move || {
        // Ready once the first probe round is done; then serve a few requests so the
        // HTTP runtime has run (and started blocking threads for the store reads).
        let started = Instant::now();
        let logs = loop {
            let logs = std::fs::read_to_string(&log_path).unwrap_or_default();
            if logs.contains("first probe round done")
                || started.elapsed() > Duration::from_secs(15)
            {
                break logs;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let addr = logs
            .split("http_addr=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .map(str::to_string);
        if let Some(addr) = &addr {
            for path in ["/metrics", "/api/v1/status", "/api/v1/uptime?days=1", "/"] {
                get(addr, path);
            }
        }
        (threads(pid), logs, addr)
    })
    .await
    .unwrap();
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = child.wait();
    let (threads, logs, addr) = result;
    assert!(addr.is_some(), "no http_addr in the logs:\n{logs}");

    let nice_of = |name: &str| -> Vec<i32> {
        threads
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, nice)| *nice)
            .collect()
    };
    let reader = reader_nice(process_nice);
    assert_eq!(reader, (process_nice + READER_NICE).min(19));
    // The main thread has the binary's name.
    assert_eq!(nice_of("nsprobe"), [process_nice], "{threads:?}");
    // The daemon runs as this test does: may it raise a thread's priority?
    let probing = probing_nice(process_nice);
    assert_eq!(probing, process_nice - PROBE_RAISE);
    let may_raise = std::thread::spawn(move || {
        let tid = rustix::thread::gettid();
        rustix::process::setpriority_process(Some(tid), probing).is_ok()
    })
    .join()
    .unwrap();
    let probing = if may_raise { probing } else { process_nice };
    assert_eq!(nice_of("nsprobe-state"), [probing], "{threads:?}");
    let probe = nice_of("nsprobe-probe");
    assert!(!probe.is_empty(), "no probe thread: {threads:?}");
    assert!(probe.iter().all(|n| *n == probing), "{threads:?}");
    let http = nice_of("nsprobe-http");
    assert!(!http.is_empty(), "no HTTP thread: {threads:?}");
    assert!(http.iter().all(|n| *n == reader), "{threads:?}");
    assert!(
        !logs.contains("cannot lower") && !logs.contains("below the process's priority"),
        "{logs}"
    );
}
