//! Published statuses through the daemon, against in-process authoritative servers:
//! the confirmation layer (worse only after `confirm_after`, better only after
//! `clear_after`), a zone-wide serial rollback, and the vantage guard (canaries).

mod common;

use std::time::Duration;

use common::{get_json, http, wait_until, LabServer, Mode};
use serde_json::Value;

use common::daemon_lab::{server, start, status, wait_ready, zone, Lab, ZONE};

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn statuspage_component<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["components"]
        .as_array()
        .expect("components")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("component {name} in {v}"))
}

/// Interval 200ms, timeout 100ms, fail_after 2, recover_after 2, status tick 512ms.
const CONFIRM: &str = "confirm_after = \"1500ms\"\nclear_after = \"2500ms\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_is_published_after_confirmation_and_cleared_after_clearing() {
    let lab = Lab::new(3, 100).await;
    let d = start(&lab.config(CONFIRM, "")).await;
    wait_ready(&d).await;
    let addr = d.http_addr;
    wait_until("all operational", Duration::from_secs(3), || async move {
        let v = status(addr).await;
        zone(&v)["status"] == "operational"
    })
    .await;

    // A short outage (well below confirm_after) is never published.
    lab.servers[1].set_mode(Mode::Silent);
    tokio::time::sleep(Duration::from_millis(600)).await;
    lab.servers[1].set_mode(Mode::Normal);
    for _ in 0..30 {
        let v = status(addr).await;
        assert_eq!(server(&v, "ns2.lab")["status"], "operational", "{v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A long one is, within fail_after × interval + timeout + confirm_after + 2 ticks
    // + 2 × 20 ms batch waits (README, Status rules, Bounds).
    lab.servers[1].set_mode(Mode::Silent);
    let took = wait_until(
        "ns2.lab major outage",
        Duration::from_secs(6),
        || async move { server(&status(addr).await, "ns2.lab")["status"] == "major_outage" },
    )
    .await;
    eprintln!("measured: major_outage published {took:?} after the server fell silent (bound 0.4s + 0.1s timeout + 1.5s confirm + 1.18s ticks and batch waits)");
    assert!(
        took >= Duration::from_millis(1500),
        "published before confirmation: {took:?}"
    );
    assert!(
        took <= Duration::from_millis(3820),
        "outage bound missed: {took:?}"
    );
    let v = status(addr).await;
    let ns2 = server(&v, "ns2.lab");
    assert!(
        ns2["reason"].as_str().unwrap().contains("down: timeout"),
        "{v}"
    );
    assert_eq!(zone(&v)["status"], "degraded_performance");
    // updated_at on the Statuspage API is the confirmed change.
    let (_, sp) = get_json(addr, "/api/v2/summary.json").await;
    let c = statuspage_component(&sp, "ns2.lab");
    assert_eq!(c["status"], "major_outage");
    assert_eq!(c["updated_at"], ns2["since"], "{sp}");

    lab.servers[1].set_mode(Mode::Normal);
    let took = wait_until(
        "ns2.lab operational",
        Duration::from_secs(7),
        || async move { server(&status(addr).await, "ns2.lab")["status"] == "operational" },
    )
    .await;
    eprintln!("measured: operational again {took:?} after the server answered (bound 0.4s + 0.1s timeout + 2.5s clear + 1.18s ticks and batch waits)");
    assert!(
        took >= Duration::from_millis(2500),
        "cleared too early: {took:?}"
    );
    assert!(
        took <= Duration::from_millis(4920),
        "recovery bound missed: {took:?}"
    );
    d.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_on_a_lower_serial_rolls_the_zone_back() {
    let lab = Lab::new(3, 887_003).await;
    let d = start(&lab.config(&format!("{CONFIRM}\nrollback_after = \"1s\""), "")).await;
    wait_ready(&d).await;
    let addr = d.http_addr;
    // One server going backwards alone: regression and lag, no rollback.
    lab.servers[2].set_serial(887_001);
    wait_until("ns3.lab lag 2", Duration::from_secs(3), || async move {
        server(&status(addr).await, "ns3.lab")["lag"] == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let v = status(addr).await;
    assert_eq!(zone(&v)["serial"], 887_003, "{v}");
    assert_eq!(zone(&v)["serial_rollbacks"], 0);
    // ns3.lab catches up again, so the rollback below starts with no server lagging: the
    // last check (nothing degraded) must not depend on how long this first lag lasted
    // (lag_after 1s + confirm_after 1.5s is only a little more than the steps above).
    lab.servers[2].set_serial(887_003);
    wait_until(
        "ns3.lab caught up and operational",
        Duration::from_secs(8),
        || async move {
            let v = status(addr).await;
            let s = server(&v, "ns3.lab");
            s["lag"] == 0 && s["status"] == "operational"
        },
    )
    .await;

    // Every server on the lower serial: the zone follows within rollback_after (+ an interval).
    lab.set_serial(1);
    let took = wait_until("zone serial 1", Duration::from_secs(4), || async move {
        zone(&status(addr).await)["serial"] == 1
    })
    .await;
    eprintln!("measured: zone re-baselined {took:?} after every server served a lower serial (rollback_after 1s)");
    assert!(
        took <= Duration::from_millis(1800),
        "rollback bound missed: {took:?}"
    );
    let v = status(addr).await;
    let z = zone(&v);
    assert_eq!(z["serial_rollbacks"], 1, "{v}");
    assert_eq!(z["last_rollback"]["from"], 887_003);
    assert_eq!(z["last_rollback"]["to"], 1);
    for s in z["servers"].as_array().unwrap() {
        assert_eq!(s["lag"], 0, "{v}");
    }
    // Nothing was degraded by the rollback (it is shorter than confirm_after + lag_after).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let v = status(addr).await;
    for s in zone(&v)["servers"].as_array().unwrap() {
        assert_eq!(s["status"], "operational", "{v}");
    }
    let (_, m) = http(addr, "GET", "/metrics").await;
    assert_eq!(
        metric(&m, "nsprobe_zone_serial_rollbacks_total{zone=\"dk.\"}"),
        Some(1.0),
        "{m}"
    );
    d.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canaries_failing_with_every_server_hold_statuses() {
    let lab = Lab::new(3, 100).await;
    let canary = LabServer::start(ZONE, 1).await;
    let tail = format!(
        "[[canary]]\nname = \"canary.lab\"\naddress = \"{}\"\n",
        canary.addr()
    );
    let d = start(&lab.config(CONFIRM, &tail)).await;
    wait_ready(&d).await;
    let addr = d.http_addr;
    wait_until("vantage up", Duration::from_secs(3), || async move {
        let (_, m) = http(addr, "GET", "/metrics").await;
        metric(&m, "nsprobe_vantage_up") == Some(1.0)
            && zone(&status(addr).await)["status"] == "operational"
    })
    .await;

    // The canary alone failing is the canary's problem: nothing changes.
    canary.set_mode(Mode::Silent);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, m) = http(addr, "GET", "/metrics").await;
    assert_eq!(metric(&m, "nsprobe_vantage_up"), Some(1.0), "{m}");
    assert_eq!(
        metric(
            &m,
            &format!(
                "nsprobe_canary_up{{address=\"{}\",canary=\"canary.lab\",transport=\"udp\"}}",
                canary.addr()
            )
        ),
        Some(0.0),
        "{m}"
    );

    // Canary and every server silent: nsprobe's own network is the suspect.
    for s in &lab.servers {
        s.set_mode(Mode::Silent);
    }
    let took = wait_until("vantage down", Duration::from_secs(3), || async move {
        let (_, m) = http(addr, "GET", "/metrics").await;
        metric(&m, "nsprobe_vantage_up") == Some(0.0)
    })
    .await;
    eprintln!("measured: vantage down {took:?} after everything fell silent");
    // Well past the outage bound: no server is published in major outage.
    for _ in 0..40 {
        let v = status(addr).await;
        for s in zone(&v)["servers"].as_array().unwrap() {
            assert_eq!(s["status"], "unknown", "{v}");
            assert_eq!(s["last_known"], "operational", "{v}");
            assert!(
                s["reason"].as_str().unwrap().starts_with("vantage down"),
                "{v}"
            );
        }
        assert_eq!(v["vantage"]["up"], false);
        let (_, sp) = get_json(addr, "/api/v2/summary.json").await;
        let c = statuspage_component(&sp, "ns1.lab");
        assert_eq!(c["status"], "operational", "{sp}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The network returns: statuses follow the evidence again.
    canary.set_mode(Mode::Normal);
    for s in &lab.servers {
        s.set_mode(Mode::Normal);
    }
    wait_until(
        "vantage up, servers operational",
        Duration::from_secs(4),
        || async move {
            let (_, m) = http(addr, "GET", "/metrics").await;
            let v = status(addr).await;
            metric(&m, "nsprobe_vantage_up") == Some(1.0)
                && zone(&v)["servers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|s| s["status"] == "operational")
        },
    )
    .await;

    // Servers silent while the canary answers: a real outage, published as usual.
    lab.servers[0].set_mode(Mode::Silent);
    wait_until(
        "ns1.lab major outage",
        Duration::from_secs(5),
        || async move { server(&status(addr).await, "ns1.lab")["status"] == "major_outage" },
    )
    .await;
    d.shutdown().await.expect("clean shutdown");
}
