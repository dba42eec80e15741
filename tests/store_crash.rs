//! kill -9 of the real `nsprobe` binary while it writes to its store: what was
//! committed survives, at most the batch being written is lost, and the file reopens
//! cleanly (integrity check, schema version, the next daemon restores from it).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::LabServer;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// The restart state is written this often: a steady stream of small batches.
const SAVE_MS: u64 = 20;

fn now_ms() -> u64 {
    nsprobe::now_ms()
}

/// `saved_at` of the restart state committed in the store (read-only, as a WAL reader).
fn committed_saved_at(db: &std::path::Path) -> Option<u64> {
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    c.busy_timeout(Duration::from_secs(2)).ok()?;
    let json: Option<String> = c
        .query_row(
            "SELECT value FROM kv WHERE key = 'restart_state'",
            [],
            |r| r.get(0),
        )
        .optional()
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(&json?).ok()?;
    v["saved_at"].as_u64()
}

fn spawn(config: &std::path::Path, log: &std::path::Path) -> Child {
    let log = std::fs::File::create(log).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_nsprobe"))
        .args(["run", "-c"])
        .arg(config)
        .env("RUST_LOG", "nsprobe=info")
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start nsprobe")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_writing_loses_at_most_the_last_batch_and_reopens_cleanly() {
    let ns1 = LabServer::start("dk.", 2026062401).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("nsprobe.db");
    let config = dir.path().join("nsprobe.toml");
    std::fs::write(
        &config,
        format!(
            "[http]\nlisten = \"127.0.0.1:0\"\n\
             [state]\npath = \"{}\"\nsave_interval = \"{SAVE_MS}ms\"\n\
             [store]\npath = \"{}\"\n\
             [[zone]]\nname = \"dk.\"\ninterval = \"100ms\"\ntimeout = \"50ms\"\n\
             [[zone.nameservers]]\nname = \"ns1.lab\"\naddresses = [\"{}\"]\n",
            dir.path().join("state.json").display(),
            db.display(),
            ns1.addr()
        ),
    )
    .expect("config");

    let mut previous: Option<u64> = None;
    // Kill at different points of the write stream.
    for (round, run_ms) in [700u64, 1100, 1500].into_iter().enumerate() {
        let log = dir.path().join(format!("nsprobe-{round}.log"));
        let mut child = spawn(&config, &log);
        // Wait until this run has committed a restart state of its own.
        let started = now_ms();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if committed_saved_at(&db).is_some_and(|t| t >= started) {
                break;
            }
            if let Ok(Some(st)) = child.try_wait() {
                panic!(
                    "nsprobe exited ({st}) in round {round}:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: no restart state committed within 10 s:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        if round > 0 {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                text.contains("state restored from the store"),
                "round {round}: the killed file did not restore:\n{text}"
            );
        }
        std::thread::sleep(Duration::from_millis(run_ms));
        let seen = committed_saved_at(&db).expect("committed state before the kill");
        // SIGKILL: no shutdown, no final save, the writer thread dies mid-stream.
        child.kill().expect("kill -9");
        let killed_at = now_ms();
        child.wait().expect("reap");

        // The file as the next start finds it (WAL recovery on open).
        let c = Connection::open(&db).expect("reopen after kill -9");
        let check: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(check, "ok", "round {round}");
        let version: u32 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("user_version");
        assert_eq!(version, nsprobe::store::schema::current_version());
        drop(c);
        let after = committed_saved_at(&db).expect("restart state after the kill");
        // Everything committed before the kill is there…
        assert!(
            after >= seen,
            "round {round}: committed state lost: {after} < {seen}"
        );
        if let Some(p) = previous {
            assert!(after > p, "round {round}: no progress over the last round");
        }
        // …and what is missing is at most the batch in flight: the newest stored state
        // is one save interval plus one batch old, not more (2 s covers a loaded CI
        // machine; the default save interval is 60 s).
        assert!(
            killed_at.saturating_sub(after) < 2_000,
            "round {round}: the newest stored state is {} ms older than the kill",
            killed_at - after
        );
        previous = Some(after);
    }

    // The file still works for a daemon that shuts down properly.
    let log = dir.path().join("nsprobe-final.log");
    let mut child = spawn(&config, &log);
    let started = now_ms();
    let deadline = Instant::now() + Duration::from_secs(10);
    while committed_saved_at(&db).is_none_or(|t| t < started) {
        assert!(Instant::now() < deadline, "final run wrote nothing");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .expect("kill -TERM");
    let st = child.wait().expect("reap");
    assert!(
        st.success(),
        "{st}: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
