//! The daemon against in-process authoritative servers: each incident of the
//! operator's status page (stalled publication, one unreachable server, a lagging
//! server, a maintenance window, a restart in the middle of a stall) shows in the
//! JSON API within its bound.

mod common;

use std::time::Duration;

use common::{get_json, http, wait_until, Mode};
use nsprobe::daemon::Running;
use serde_json::Value;

use common::daemon_lab::{server, start, wait_ready, zone, Lab};

async fn status(d: &Running) -> Value {
    common::daemon_lab::status(d.http_addr).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_publication_is_flagged_stale_and_clears() {
    let lab = Lab::new(3, 2026062400).await;
    let d = start(&lab.config("stale_after = \"2s\"", "")).await;
    wait_ready(&d).await;

    // Regular publications: never stale. (A start slower than `stale_after` under a
    // loaded machine has the first serial stale already, rightly: the first publication
    // clears it, and from then on every status is fresh.)
    let addr = d.http_addr;
    lab.set_serial(2026062401);
    let mut published = tokio::time::Instant::now();
    wait_until(
        "first publication seen",
        Duration::from_secs(2),
        || async move {
            let v = get_json(addr, "/api/v1/status").await.1;
            zone(&v)["serial"] == 2026062401u32 && zone(&v)["stale"] == false
        },
    )
    .await;
    for i in 2..=4 {
        lab.set_serial(2026062400 + i);
        published = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let v = status(&d).await;
        assert_eq!(zone(&v)["stale"], false, "{v}");
    }
    // Publication stops; every server keeps answering fast.
    let took = wait_until("zone stale", Duration::from_secs(6), || async move {
        let v = get_json(addr, "/api/v1/status").await.1;
        zone(&v)["stale"] == true
    })
    .await;
    let since_publication = published.elapsed();
    eprintln!("measured: stale {since_publication:?} after the last publication (stale_after 2s)");
    // The serial is first seen at most one interval after it is published, so the
    // zone may not be stale before 2 s have passed since the publication.
    assert!(
        since_publication >= Duration::from_millis(1950),
        "stale too early: {since_publication:?} after the last publication (stale_after 2s)"
    );
    assert!(
        took <= Duration::from_secs(4),
        "stale detected after {took:?}"
    );
    let v = status(&d).await;
    assert_eq!(zone(&v)["status"], "degraded_performance", "{v}");
    assert_eq!(zone(&v)["serial"], 2026062404u32);
    for name in ["ns1.lab", "ns2.lab", "ns3.lab"] {
        assert_eq!(server(&v, name)["status"], "operational", "{v}");
    }
    let (_, metrics) = http(d.http_addr, "GET", "/metrics").await;
    assert!(
        metrics.contains("nsprobe_zone_stale{zone=\"dk.\"} 1"),
        "metrics say stale:\n{metrics}"
    );

    // Publication resumes: stale clears.
    lab.set_serial(2026062405);
    wait_until("zone fresh again", Duration::from_secs(3), || async move {
        let v = get_json(addr, "/api/v1/status").await.1;
        zone(&v)["stale"] == false && zone(&v)["status"] == "operational"
    })
    .await;
    d.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_unreachable_server_is_an_outage_of_that_server_only() {
    let lab = Lab::new(3, 100).await;
    let d = start(&lab.config("", "")).await;
    wait_ready(&d).await;

    lab.servers[1].set_mode(Mode::Silent);
    let addr = d.http_addr;
    let took = wait_until(
        "ns2.lab major outage",
        Duration::from_secs(5),
        || async move {
            let v = get_json(addr, "/api/v1/status").await.1;
            server(&v, "ns2.lab")["status"] == "major_outage"
        },
    )
    .await;
    eprintln!("measured: outage status after {took:?} (interval 200ms, fail_after 2)");
    // fail_after 2 × interval 200ms + timeout 100ms, plus scheduling slack.
    assert!(
        took < Duration::from_secs(2),
        "outage detected after {took:?}"
    );
    let v = status(&d).await;
    assert_eq!(zone(&v)["status"], "degraded_performance", "{v}");
    assert_eq!(server(&v, "ns1.lab")["status"], "operational");
    assert_eq!(server(&v, "ns3.lab")["status"], "operational");
    let t = &server(&v, "ns2.lab")["targets"][0];
    assert_eq!(t["up"], false);
    assert_eq!(t["last_error"]["reason"], "timeout");

    // Connectivity returns: recovery after recover_after successes.
    lab.servers[1].set_mode(Mode::Normal);
    wait_until(
        "ns2.lab operational again",
        Duration::from_secs(3),
        || async move {
            let v = get_json(addr, "/api/v1/status").await.1;
            server(&v, "ns2.lab")["status"] == "operational" && zone(&v)["status"] == "operational"
        },
    )
    .await;
    d.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_lost_probe_does_not_flap() {
    let lab = Lab::new(2, 7).await;
    let d = start(&lab.config("fail_after = 3", "")).await;
    wait_ready(&d).await;
    // One probe interval of silence: at most one or two lost probes per target.
    lab.servers[0].set_mode(Mode::Silent);
    tokio::time::sleep(Duration::from_millis(250)).await;
    lab.servers[0].set_mode(Mode::Normal);
    for _ in 0..10 {
        let v = status(&d).await;
        assert_ne!(server(&v, "ns1.lab")["status"], "major_outage", "{v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    d.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_server_is_degraded_then_recovers() {
    let lab = Lab::new(3, 500).await;
    let d = start(&lab.config("", "")).await;
    wait_ready(&d).await;

    lab.servers[0].set_serial(501);
    lab.servers[1].set_serial(501);
    let addr = d.http_addr;
    wait_until("ns3.lab lag seen", Duration::from_secs(3), || async move {
        let v = get_json(addr, "/api/v1/status").await.1;
        server(&v, "ns3.lab")["lag"] == 1
    })
    .await;
    let took = wait_until("ns3.lab degraded", Duration::from_secs(4), || async move {
        let v = get_json(addr, "/api/v1/status").await.1;
        server(&v, "ns3.lab")["status"] == "degraded_performance"
    })
    .await;
    let v = status(&d).await;
    assert!(
        server(&v, "ns3.lab")["lag_seconds"].as_f64().unwrap() >= 1.0,
        "{v}"
    );
    eprintln!("measured: lag degraded {took:?} after the lag was seen (lag_after 1s)");
    assert!(took < Duration::from_secs(3), "lag degraded after {took:?}");
    assert_eq!(server(&v, "ns1.lab")["status"], "operational");
    assert_eq!(zone(&v)["serial"], 501);

    lab.servers[2].set_serial(501);
    wait_until("ns3.lab caught up", Duration::from_secs(3), || async move {
        let v = get_json(addr, "/api/v1/status").await.1;
        server(&v, "ns3.lab")["lag"] == 0 && server(&v, "ns3.lab")["status"] == "operational"
    })
    .await;
    let (_, metrics) = http(d.http_addr, "GET", "/metrics").await;
    assert!(
        metrics.contains(
            "nsprobe_serial_propagation_seconds_count{server=\"ns3.lab\",zone=\"dk.\"} 1"
        ),
        "propagation observed for ns3.lab:\n{metrics}"
    );
    d.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_window_shows_under_maintenance_not_outage() {
    let lab = Lab::new(3, 9).await;
    let now = std::time::SystemTime::now();
    let start_w = humantime::format_rfc3339_seconds(now - Duration::from_secs(3600));
    let end_w = humantime::format_rfc3339_seconds(now + Duration::from_secs(3600));
    let cfg = lab.config(
        "",
        &format!(
            "[[maintenance]]\ncomponents = [\"ns2.lab\"]\nstart = \"{start_w}\"\nend = \"{end_w}\"\n\
             reason = \"Secondary data-centre network work\"\n"
        ),
    );
    lab.servers[1].set_mode(Mode::Silent);
    let d = start(&cfg).await;
    let addr = d.http_addr;
    // ns2 is silent, so readiness waits for its first (failed) probe too.
    wait_ready(&d).await;
    tokio::time::sleep(Duration::from_millis(800)).await; // well past fail_after
    let v = status(&d).await;
    let ns2 = server(&v, "ns2.lab");
    assert_eq!(ns2["status"], "under_maintenance", "{v}");
    assert_eq!(
        ns2["maintenance"]["reason"],
        "Secondary data-centre network work"
    );
    assert_eq!(zone(&v)["status"], "operational", "{v}");
    let (_, metrics) = http(addr, "GET", "/metrics").await;
    assert!(
        metrics.contains("nsprobe_maintenance{component=\"ns2.lab\",group=\"DNS (.dk)\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("nsprobe_maintenance{component=\"ns1.lab\",group=\"DNS (.dk)\"} 0"));
    assert!(metrics.contains("nsprobe_maintenance{component=\"DNS (.dk)\",group=\"\"} 0"));
    d.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_stall_keeps_the_true_serial_age() {
    let lab = Lab::new(2, 42).await;
    let cfg = lab.config("stale_after = \"3s\"", "");
    let d = start(&cfg).await;
    wait_ready(&d).await;
    lab.set_serial(43); // a publication the daemon sees happen
    let addr = d.http_addr;
    wait_until("serial 43 seen", Duration::from_secs(3), || async move {
        zone(&get_json(addr, "/api/v1/status").await.1)["serial"] == 43
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = status(&d).await;
    let changed_at = zone(&before)["serial_changed_at"].clone();
    let age_before = zone(&before)["serial_age_seconds"].as_f64().unwrap();
    d.shutdown().await.expect("clean shutdown saves state");
    assert!(
        lab.dir.path().join("nsprobe.db").exists(),
        "store written beside the state file"
    );
    assert!(
        !lab.dir.path().join("state.json").exists(),
        "no JSON state file any more"
    );

    tokio::time::sleep(Duration::from_millis(2000)).await; // down during the stall
    let d = start(&cfg).await;
    wait_ready(&d).await;
    let after = status(&d).await;
    assert_eq!(zone(&after)["serial"], 43);
    assert_eq!(zone(&after)["serial_changed_at"], changed_at, "{after}");
    let age_after = zone(&after)["serial_age_seconds"].as_f64().unwrap();
    assert!(
        age_after >= age_before + 2.0,
        "age {age_before} -> {age_after}"
    );
    assert_eq!(
        zone(&after)["stale"],
        true,
        "3.5 s old with stale_after 3s: {after}"
    );
    d.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_state_file_is_ignored_and_left_alone() {
    let lab = Lab::new(1, 1).await;
    let cfg = lab.config("", "");
    std::fs::write(lab.dir.path().join("state.json"), b"{ not json").unwrap();
    let d = start(&cfg).await;
    wait_ready(&d).await;
    assert_eq!(zone(&status(&d).await)["serial"], 1);
    d.shutdown().await.expect("clean shutdown");
    let saved = std::fs::read_to_string(lab.dir.path().join("state.json")).unwrap();
    assert_eq!(saved, "{ not json", "the legacy file is never written");
    assert!(lab.dir.path().join("nsprobe.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_json_state_is_imported_once_then_left_alone() {
    let lab = Lab::new(2, 43).await;
    let cfg = lab.config("", "");
    // A state file of the previous version: serial 43 first seen 600 s ago.
    let seen = nsprobe::now_ms() - 600_000;
    let mut saved = nsprobe::persist::PersistedState::new(seen + 1000);
    saved.zones.insert(
        "dk.".into(),
        nsprobe::state::PersistedZone {
            publications: vec![nsprobe::state::Publication {
                serial: 43,
                first_seen: seen,
                observed: true,
            }],
            ..Default::default()
        },
    );
    let json_path = lab.dir.path().join("state.json");
    nsprobe::persist::save(&json_path, &saved).expect("legacy file");
    let legacy = std::fs::read(&json_path).unwrap();
    let d = start(&cfg).await;
    wait_ready(&d).await;
    let want =
        humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_millis(seen))
            .to_string();
    assert_eq!(zone(&status(&d).await)["serial_changed_at"], want.as_str());
    d.shutdown().await.expect("clean shutdown");
    assert_eq!(std::fs::read(&json_path).unwrap(), legacy, "left alone");
    // Imported once: a changed legacy file is not read again; the store's state wins.
    let mut other = saved.clone();
    other.zones.get_mut("dk.").unwrap().publications[0].first_seen = seen - 3_600_000;
    nsprobe::persist::save(&json_path, &other).expect("rewrite legacy file");
    let d = start(&cfg).await;
    wait_ready(&d).await;
    assert_eq!(zone(&status(&d).await)["serial_changed_at"], want.as_str());
    d.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolved_addresses_become_targets_and_survive_resolver_failure() {
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{Name, RData, Record};

    // A recursive-resolver stand-in: an authoritative server for `lab.` that the
    // daemon's [resolver] asks for the nameserver's A/AAAA records.
    let zone_file = "$ORIGIN lab.\n$TTL 3600\n@ IN SOA ns hostmaster 1 7200 900 1209600 3600\n\
                @ IN NS ns\nns IN A 127.0.0.1\nns1 IN A 127.0.1.1\n";
    let (resolver_addr, resolver, handler) = common::hickory_zone_server(zone_file).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("nsprobe.toml");
    std::fs::write(
        &cfg,
        format!(
            "[http]\nlisten = \"127.0.0.1:0\"\n[state]\npath = \"{}\"\n\
             [resolver]\nservers = [\"{resolver_addr}\"]\nrefresh = \"300ms\"\ntimeout = \"200ms\"\n\
             [[zone]]\nname = \"dk.\"\ninterval = \"500ms\"\ntimeout = \"100ms\"\ntransports = [\"udp\"]\n\
             [[zone.nameservers]]\nname = \"ns1.lab\"\n",
            dir.path().join("state.json").display()
        ),
    )
    .unwrap();
    let d = start(&cfg).await;
    let addr = d.http_addr;
    let addresses = |v: &Value| -> Vec<String> {
        let servers = zone(v)["servers"].as_array().cloned().unwrap_or_default();
        let Some(ns1) = servers.into_iter().find(|s| s["name"] == "ns1.lab") else {
            return Vec::new(); // not resolved yet
        };
        ns1["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["address"].as_str().unwrap().to_string())
            .collect()
    };
    wait_until(
        "resolved address probed",
        Duration::from_secs(3),
        || async move { addresses(&get_json(addr, "/api/v1/status").await.1) == ["127.0.1.1:53"] },
    )
    .await;

    // A second address appears in DNS: it becomes a target at the next refresh.
    let rec = Record::from_rdata(
        Name::from_ascii("ns1.lab.").unwrap(),
        3600,
        RData::A(A::new(127, 0, 1, 2)),
    );
    assert!(handler.upsert(rec, 2).await);
    wait_until(
        "new address probed",
        Duration::from_secs(3),
        || async move {
            addresses(&get_json(addr, "/api/v1/status").await.1) == ["127.0.1.1:53", "127.0.1.2:53"]
        },
    )
    .await;

    // The resolver goes away: the last known addresses stay, the failure is counted.
    resolver.shutdown().await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let v = status(&d).await;
    assert_eq!(addresses(&v), ["127.0.1.1:53", "127.0.1.2:53"], "{v}");
    let (_, metrics) = http(addr, "GET", "/metrics").await;
    assert!(
        metrics.contains("nsprobe_resolve_failures_total{server=\"ns1.lab\"}"),
        "resolution failures counted:\n{metrics}"
    );
    assert!(metrics.contains("nsprobe_server_addresses{server=\"ns1.lab\",zone=\"dk.\"} 2"));
    d.shutdown().await.expect("clean shutdown");
}
