//! `nsprobe check` and `nsprobe validate` as a user runs them: the real binary
//! against in-process authoritative servers, asserting the table, the verdict
//! line and the Nagios exit code.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{closed_port, LabServer, Mode};

fn config(dir: &tempfile::TempDir, servers: &[(&str, Vec<String>)]) -> PathBuf {
    let mut text = String::from(
        "[[zone]]\nname = \"dk.\"\ninterval = \"2s\"\ntimeout = \"300ms\"\nslow_after = \"250ms\"\n",
    );
    for (name, addrs) in servers {
        let list: Vec<String> = addrs.iter().map(|a| format!("\"{a}\"")).collect();
        text.push_str(&format!(
            "[[zone.nameservers]]\nname = \"{name}\"\naddresses = [{}]\n",
            list.join(", ")
        ));
    }
    let path = dir.path().join("check.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn nsprobe(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_nsprobe"))
            .args(&args)
            .output()
            .expect("run nsprobe")
    })
    .await
    .unwrap()
}

async fn check(path: &std::path::Path, json: bool) -> (i32, String) {
    let mut args = vec!["check".into(), "-c".into(), path.display().to_string()];
    if json {
        args.push("--json".into());
    }
    let out = nsprobe(args).await;
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_servers_in_sync_is_ok() {
    let a = LabServer::start("dk.", 2026112401).await;
    let b = LabServer::start("dk.", 2026112401).await;
    a.set_nsid(Some("a.lab-1"));
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &[
            ("a.lab", vec![a.addr().to_string()]),
            ("b.lab", vec![b.addr().to_string()]),
        ],
    );
    let (code, out) = check(&cfg, false).await;
    assert_eq!(code, 0, "{out}");
    let header = out.lines().next().unwrap();
    for col in [
        "SERVER",
        "ADDRESS",
        "TRANSPORT",
        "RESULT",
        "SERIAL",
        "RTT_MS",
        "NSID",
    ] {
        assert!(header.contains(col), "{header}");
    }
    // 2 servers × 1 address × 2 transports.
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("dk.")).collect();
    assert_eq!(rows.len(), 4, "{out}");
    assert!(rows
        .iter()
        .all(|r| r.contains(" ok ") && r.contains("2026112401")));
    assert!(
        rows.iter().any(|r| r.contains("a.lab-1")),
        "NSID shown: {out}"
    );
    assert!(
        out.lines().last().unwrap().starts_with("OK: 4/4 probes ok"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_server_is_a_warning_and_marked() {
    let a = LabServer::start("dk.", 10).await;
    let b = LabServer::start("dk.", 9).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &[
            ("a.lab", vec![a.addr().to_string()]),
            ("b.lab", vec![b.addr().to_string()]),
        ],
    );
    let (code, out) = check(&cfg, false).await;
    assert_eq!(code, 1, "{out}");
    let lagging: Vec<&str> = out.lines().filter(|l| l.contains("9 LAG")).collect();
    assert_eq!(lagging.len(), 2, "both transports of b.lab marked: {out}");
    assert!(lagging.iter().all(|l| l.contains("b.lab")));
    let verdict = out.lines().last().unwrap();
    assert!(
        verdict.starts_with("WARNING:") && verdict.contains("lagging: b.lab"),
        "{verdict}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_server_is_a_warning() {
    let a = LabServer::start("dk.", 10).await;
    a.set_mode(Mode::Delay(std::time::Duration::from_millis(270)));
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dir, &[("a.lab", vec![a.addr().to_string()])]);
    let (code, out) = check(&cfg, false).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines().last().unwrap().contains("slow answers"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_or_lame_server_is_critical() {
    let a = LabServer::start("dk.", 10).await;
    let lame = LabServer::start("dk.", 10).await;
    lame.set_mode(Mode::NotAuthoritative);
    let dir = tempfile::tempdir().unwrap();
    let dead = closed_port().await;
    let cfg = config(
        &dir,
        &[
            ("a.lab", vec![a.addr().to_string()]),
            ("dead.lab", vec![dead.to_string()]),
            ("lame.lab", vec![lame.addr().to_string()]),
        ],
    );
    let (code, out) = check(&cfg, false).await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(" network "),
        "refused port classified as network: {out}"
    );
    assert!(out.contains(" lame "), "AA clear classified as lame: {out}");
    let verdict = out.lines().last().unwrap();
    assert!(verdict.starts_with("CRITICAL:"), "{verdict}");
    assert!(
        verdict.contains("dead.lab (dk.) not answering"),
        "{verdict}"
    );
    assert!(
        verdict.contains("lame.lab (dk.) not answering"),
        "{verdict}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partly_reachable_server_is_a_warning() {
    let a = LabServer::start("dk.", 10).await;
    a.set_tcp_mode(Mode::Refused);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dir, &[("a.lab", vec![a.addr().to_string()])]);
    let (code, out) = check(&cfg, false).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .contains("a.lab (dk.) 1/2 targets failing"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_has_rows_and_verdict() {
    let a = LabServer::start("dk.", 77).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dir, &[("a.lab", vec![a.addr().to_string()])]);
    let (code, out) = check(&cfg, true).await;
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON output");
    assert_eq!(v["verdict"], "OK");
    assert_eq!(v["newest_serial"]["dk."], 77);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert_eq!(r["result"], "ok");
        assert_eq!(r["serial"], 77);
        assert!(r["rtt_ms"].as_f64().unwrap() > 0.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_is_unknown_and_validate_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[[zone]]\nname = \"dk.\"\ninterval = \"1s\"\ntimeout = \"5s\"\n\
         [[zone.nameservers]]\nname = \"a.lab\"\naddresses = [\"127.0.0.1\"]\n",
    )
    .unwrap();
    let (code, out) = check(&path, false).await;
    assert_eq!(code, 3, "{out}");
    assert!(out.starts_with("UNKNOWN:"), "{out}");

    let out = nsprobe(vec![
        "validate".into(),
        "-c".into(),
        path.display().to_string(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let expected = format!("{}:4:", path.display());
    assert!(err.starts_with(&expected), "file and line: {err}");
    assert!(err.contains("timeout"), "key named: {err}");

    let good = concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.toml");
    let out = nsprobe(vec!["validate".into(), "-c".into(), good.into()]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Service checks run too, in a second table; a component with every target failing
/// is CRITICAL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_checks_are_part_of_the_round() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let a = LabServer::start("dk.", 2026112401).await;
    let whois = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let whois_addr = whois.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = whois.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"Domain: punktum.dk\r\n").await;
            });
        }
    });
    let closed = closed_port().await;
    let dir = tempfile::tempdir().unwrap();
    let path = config(&dir, &[("a.lab", vec![a.addr().to_string()])]);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "[[group]]\nname = \"Registry\"\n\
         [[group.component]]\nname = \"Whois\"\ntimeout = \"1s\"\n\
         [[group.component.check]]\nkind = \"whois\"\naddress = \"{whois_addr}\"\nquery = \"punktum.dk\"\nexpect = \"Domain:\"\n\
         [[group.component]]\nname = \"DAS\"\ntimeout = \"1s\"\n\
         [[group.component.check]]\nkind = \"tcp\"\naddress = \"{closed}\"\n"
    ));
    std::fs::write(&path, text).unwrap();
    let (code, out) = check(&path, false).await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("GROUP     COMPONENT  KIND   TARGET"),
        "second table: {out}"
    );
    let whois_line = out
        .lines()
        .find(|l| l.starts_with("Registry  Whois"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        whois_line.contains(&format!("whois://{whois_addr} punktum.dk")),
        "{out}"
    );
    assert!(whois_line.contains(" ok "), "{whois_line}");
    assert!(
        out.contains(&format!(
            "# Registry/DAS tcp://{closed}: tcp connect to {closed}"
        )),
        "{out}"
    );
    assert!(out.contains("1/2 service checks ok"), "{out}");
    assert!(
        out.contains("CRITICAL") && out.contains("Registry/DAS failing"),
        "{out}"
    );
    let (_, json) = check(&path, true).await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["checks"].as_array().unwrap().len(), 2, "{v}");
}
