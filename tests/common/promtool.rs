//! `promtool check metrics` for the tests that scrape the daemon's `/metrics`.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Runs `promtool check metrics` on `text` and fails on any complaint; a skip line
/// when promtool is missing (a failure when NSPROBE_REQUIRE_TOOLS=1).
pub fn check_metrics(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("NSPROBE_REQUIRE_TOOLS").as_deref() == Ok("1") {
                panic!("promtool is required (NSPROBE_REQUIRE_TOOLS=1) but cannot run: {e}");
            }
            eprintln!("SKIP promtool check metrics: promtool not runnable ({e})");
            return;
        }
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics: {}\n{report}",
        out.status
    );
}
