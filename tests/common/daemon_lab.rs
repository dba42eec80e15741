//! A daemon under test: in-process lab servers, a config file for them, and
//! helpers to start `nsprobe run` in-process and read its JSON API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nsprobe::daemon::{self, RunOptions, Running};
use serde_json::Value;

use super::{get_json, http, wait_until, LabServer};

/// The zone every lab serves.
pub const ZONE: &str = "dk.";
/// The zone's status-page group component.
pub const GROUP: &str = "DNS (.dk)";

/// Lab servers (`ns1.lab`, `ns2.lab`, … in order) and a directory for config and state.
pub struct Lab {
    /// The servers, `ns1.lab` first.
    pub servers: Vec<LabServer>,
    /// Directory of the config and state files.
    pub dir: tempfile::TempDir,
}

impl Lab {
    /// Start `n` lab servers answering `serial`.
    pub async fn new(n: usize, serial: u32) -> Lab {
        let mut servers = Vec::new();
        for _ in 0..n {
            servers.push(LabServer::start(ZONE, serial).await);
        }
        Lab {
            servers,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Set the serial of every server.
    pub fn set_serial(&self, serial: u32) {
        for s in &self.servers {
            s.set_serial(serial);
        }
    }

    /// Path of the config file.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("nsprobe.toml")
    }

    /// Config text probing the lab servers with the given indexes (0-based; named
    /// `ns{i+1}.lab`). `http` adds keys to `[http]`, `zone_keys` to the zone (they
    /// override the defaults), `servers_tail` adds nameserver tables, `tail` ends the file.
    pub fn text(&self, which: &[usize], http: &str, zone_keys: &str, tail: &str) -> String {
        let defaults = [
            "interval = \"200ms\"",
            "timeout = \"100ms\"",
            "fail_after = 2",
            "recover_after = 2",
            "window = 5",
            "lag_after = \"1s\"",
            // Rules are judged at once here; tests/statuses.rs covers the confirmation layer.
            "confirm_after = \"0s\"",
            "clear_after = \"0s\"",
        ];
        let overridden = |line: &str| {
            let key = line.split('=').next().unwrap_or("").trim();
            zone_keys
                .lines()
                .any(|l| l.split('=').next().unwrap_or("").trim() == key)
        };
        let mut text = format!(
            "[http]\nlisten = \"127.0.0.1:0\"\n{http}\n\
             [state]\npath = \"{}\"\n",
            self.dir.path().join("state.json").display()
        );
        text.push_str(tail);
        text.push_str(&format!(
            "\n[[zone]]\nname = \"{ZONE}\"\ncomponent = \"{GROUP}\"\n{zone_keys}\n"
        ));
        for line in defaults.iter().filter(|l| !overridden(l)) {
            text.push_str(line);
            text.push('\n');
        }
        for &i in which {
            text.push_str(&format!(
                "[[zone.nameservers]]\nname = \"ns{}.lab\"\naddresses = [\"{}\"]\n",
                i + 1,
                self.servers[i].addr()
            ));
        }
        text
    }

    /// Write `text` as the config file and return its path.
    pub fn write(&self, text: &str) -> PathBuf {
        std::fs::write(self.path(), text).expect("write config");
        self.path()
    }

    /// Config with every lab server, reload enabled, and `zone_keys` / `tail` as in [`Lab::text`].
    pub fn config(&self, zone_keys: &str, tail: &str) -> PathBuf {
        let all: Vec<usize> = (0..self.servers.len()).collect();
        self.write(&self.text(&all, "enable_reload = true", zone_keys, tail))
    }
}

/// Start the daemon in-process on `config` (HTTP on the port the config gives, 0 = any).
pub async fn start(config: &Path) -> Running {
    daemon::start(RunOptions {
        web_config: None,
        config_path: config.to_path_buf(),
        listen: None,
    })
    .await
    .expect("daemon starts")
}

/// Wait (up to 5 s) until `/readyz` answers 200.
pub async fn wait_ready(d: &Running) {
    let addr = d.http_addr;
    wait_until("first probe round", Duration::from_secs(5), || async move {
        http(addr, "GET", "/readyz").await.0 == 200
    })
    .await;
}

/// `GET /api/v1/status`, asserting 200.
pub async fn status(addr: SocketAddr) -> Value {
    let (code, v) = get_json(addr, "/api/v1/status").await;
    assert_eq!(code, 200, "{v}");
    v
}

/// The first (only) zone of a status document.
pub fn zone(v: &Value) -> &Value {
    &v["zones"][0]
}

/// A server of the first zone by name, if present.
pub fn find_server<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    zone(v)["servers"]
        .as_array()
        .expect("servers array")
        .iter()
        .find(|s| s["name"] == name)
}

/// A server of the first zone by name; panics if absent.
pub fn server<'a>(v: &'a Value, name: &str) -> &'a Value {
    find_server(v, name).unwrap_or_else(|| panic!("server {name} in {v}"))
}
