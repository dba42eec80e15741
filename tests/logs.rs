//! Log output as an operator's journald or log file sees it: the real binary
//! with stderr redirected to a file carries no ANSI escape codes, with or
//! without `NO_COLOR`, and `--log-format json` stays one JSON object a line.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `nsprobe run` for a moment with stderr to a file and returns what it wrote.
fn run_daemon_stderr(extra_args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    // A silent "nameserver": probes time out, which the daemon logs.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = common::one_server_config(dir.path(), silent.local_addr().unwrap());
    let log_path = dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nsprobe"));
    cmd.args(extra_args)
        .args(["run", "-c"])
        .arg(&config)
        .env_remove("NO_COLOR")
        .env_remove("JOURNAL_STREAM")
        .env("RUST_LOG", "nsprobe=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start nsprobe");
    std::thread::sleep(Duration::from_millis(1500));
    // SIGTERM the daemon we started, by its pid, so it logs its shutdown too.
    let _ = Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    let _ = child.wait();
    std::fs::read_to_string(&log_path).unwrap()
}

#[test]
fn text_logs_to_a_file_have_no_ansi_escapes() {
    let text = run_daemon_stderr(&[], &[]);
    assert!(text.contains("nsprobe started"), "no logs captured: {text}");
    assert!(
        !text.contains('\u{1b}'),
        "ANSI escape in logs written to a file:\n{text:?}"
    );
    // Fields are still readable as key=value.
    assert!(text.contains("http_addr=127.0.0.1:"), "{text}");
}

#[test]
fn no_color_also_disables_ansi() {
    let text = run_daemon_stderr(&[], &[("NO_COLOR", "1")]);
    assert!(text.contains("nsprobe started"), "no logs captured: {text}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let text = run_daemon_stderr(&["--log-format", "json"], &[]);
    let mut started = false;
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v.get("level").is_some() && v.get("fields").is_some(),
            "{line}"
        );
        started |= v["fields"]["message"] == "nsprobe started";
    }
    assert!(started, "{text}");
    assert!(!text.contains('\u{1b}'));
}
