//! HTML Tidy over a served page, for the status page tests (`tests/page.rs`) and the
//! browser system test (`tests/browser.rs`).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// tidy's warnings and errors about `page` (empty when it is valid HTML).
pub fn report(tidy: &Path, page: &str) -> String {
    let mut child = Command::new(tidy)
        // Empty elements (the uptime bars) are valid HTML; tidy only warns that it would drop them.
        .args([
            "-q",
            "-e",
            "--show-warnings",
            "yes",
            "--drop-empty-elements",
            "no",
            "-utf8",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stderr).trim().to_string();
    // tidy exits 0 when clean, 1 with warnings, 2 with errors: accept none of either.
    if out.status.success() || !report.is_empty() {
        report
    } else {
        format!("tidy exited with {}", out.status)
    }
}
