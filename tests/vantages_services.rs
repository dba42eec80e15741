//! Quorum for service components across three in-process vantages (source addresses
//! 127.0.2.1-3): a loopback TCP service (the DAS line protocol) that stops answering
//! the connections coming from some source addresses. From one vantage of three the
//! hub shows the component `degraded_performance` naming that vantage; from two of
//! three, `major_outage`. This also proves that service checks leave from
//! `[vantage] source_address`: the service tells the vantages apart by it alone.

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::daemon_lab::{start, wait_ready, Lab};
use common::wait_until;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

type Blocked = Arc<Mutex<HashSet<IpAddr>>>;

/// A DAS-like service: `status: ok` to every client whose address is not blocked; a
/// blocked client's connection is closed without a word.
async fn das() -> (SocketAddr, Blocked) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let blocked: Blocked = Arc::default();
    let b = blocked.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, peer)) = listener.accept().await {
            let silent = b.lock().expect("lock").contains(&peer.ip());
            tokio::spawn(async move {
                if !silent {
                    let _ = conn.write_all(b"status: ok\r\n").await;
                }
                let _ = conn.shutdown().await;
            });
        }
    });
    (addr, blocked)
}

fn config(lab: &Lab, name: &str, source: &str, das: SocketAddr, peers: &str) -> std::path::PathBuf {
    let tail = format!(
        "[vantage]\nname = \"{name}\"\nsource_address = \"{source}\"\n\
         observation_tokens = [\"{TOKEN}\"]\nmax_age = \"3s\"\n{peers}\n"
    );
    let group = format!(
        "\n[[group]]\nname = \"Registry\"\n[[group.component]]\nname = \"DAS\"\n\
         interval = \"200ms\"\ntimeout = \"150ms\"\nfail_after = 2\nrecover_after = 2\n\
         confirm_after = \"0s\"\nclear_after = \"0s\"\n\
         [[group.component.check]]\nkind = \"tcp\"\naddress = \"{das}\"\nexpect = \"status: ok\"\n"
    );
    let text = lab
        .text(&[0], "", "", &tail)
        .replace("state.json", &format!("state-{name}.json"))
        + &group;
    let path = lab.dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write config");
    path
}

/// The hub's DAS component: (status, reason, per-vantage statuses).
async fn das_status(addr: SocketAddr) -> (String, String, Vec<(String, String)>) {
    let v: Value = common::daemon_lab::status(addr).await;
    let c = v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == "Registry")
        .and_then(|g| {
            g["components"]
                .as_array()
                .expect("components")
                .iter()
                .find(|c| c["name"] == "DAS")
        })
        .cloned()
        .unwrap_or_else(|| panic!("Registry/DAS in {v}"));
    let per = c["vantages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["vantage"].as_str().unwrap_or_default().to_string(),
                        x["status"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (
        c["status"].as_str().unwrap_or_default().to_string(),
        c["reason"].as_str().unwrap_or_default().to_string(),
        per,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_component_quorum_over_three_vantages() {
    let lab = Lab::new(1, 2026112601).await;
    let (das_addr, blocked) = das().await;
    let fra = start(&config(&lab, "fra-1", "127.0.2.2", das_addr, "")).await;
    let ams = start(&config(&lab, "ams-1", "127.0.2.3", das_addr, "")).await;
    let peers = format!(
        "[[peer]]\nurl = \"http://{}\"\ntoken = \"{TOKEN}\"\ninterval = \"200ms\"\n\
         [[peer]]\nurl = \"http://{}\"\ntoken = \"{TOKEN}\"\ninterval = \"200ms\"\n",
        fra.http_addr, ams.http_addr
    );
    let hub = start(&config(&lab, "cph-1", "127.0.2.1", das_addr, &peers)).await;
    wait_ready(&hub).await;
    let h = hub.http_addr;
    wait_until(
        "DAS operational from 3 vantages",
        Duration::from_secs(10),
        || async {
            let (s, _, per) = das_status(h).await;
            s == "operational" && per.len() == 3 && per.iter().all(|(_, s)| s == "operational")
        },
    )
    .await;

    // The service ignores cph-1 only: degraded at the hub, naming cph-1.
    blocked
        .lock()
        .expect("lock")
        .insert("127.0.2.1".parse().expect("ip"));
    wait_until(
        "DAS degraded at the hub",
        Duration::from_secs(10),
        || async { das_status(h).await.0 == "degraded_performance" },
    )
    .await;
    let (_, reason, per) = das_status(h).await;
    assert_eq!(
        reason,
        "DAS unreachable from cph-1, answering at ams-1 and fra-1 (1 of 3 vantages, quorum 2)"
    );
    assert!(
        per.contains(&("cph-1".to_string(), "major_outage".to_string())),
        "{per:?}"
    );
    for _ in 0..5 {
        assert_eq!(das_status(h).await.0, "degraded_performance");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Two of three: an outage.
    blocked
        .lock()
        .expect("lock")
        .insert("127.0.2.2".parse().expect("ip"));
    wait_until(
        "DAS major outage at the hub",
        Duration::from_secs(10),
        || async { das_status(h).await.0 == "major_outage" },
    )
    .await;
    let (_, reason, _) = das_status(h).await;
    assert!(
        reason.starts_with(
            "DAS unreachable from cph-1 and fra-1, answering at ams-1 (2 of 3 vantages, quorum 2)"
        ),
        "{reason}"
    );

    // Healed: operational again.
    blocked.lock().expect("lock").clear();
    wait_until("DAS operational again", Duration::from_secs(10), || async {
        das_status(h).await.0 == "operational"
    })
    .await;
    hub.shutdown().await.expect("hub stops");
    fra.shutdown().await.expect("fra-1 stops");
    ams.shutdown().await.expect("ams-1 stops");
}
