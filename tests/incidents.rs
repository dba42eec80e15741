//! Incidents end to end: a nameserver of the lab goes silent, nsprobe opens an incident
//! (Statuspage `incidents/unresolved.json`, `summary.json`), continues it across a
//! restart, resolves it when the server answers again (`incidents.json`), and the Atom
//! and RSS feeds (parsed by feed-rs) carry it with the maintenance windows.

mod common;

use std::time::{Duration, SystemTime};

use common::{get_json, http, wait_until, Mode};
use serde_json::Value;

use common::daemon_lab::{start, wait_ready, Lab};

fn window(from_now: i64, len: u64, reason: &str) -> String {
    let now = SystemTime::now();
    let start = if from_now >= 0 {
        now + Duration::from_secs(from_now as u64)
    } else {
        now - Duration::from_secs((-from_now) as u64)
    };
    format!(
        "[[maintenance]]\ncomponents = [\"ns3.lab\"]\nstart = \"{}\"\nend = \"{}\"\nreason = \"{reason}\"\n",
        humantime::format_rfc3339_seconds(start),
        humantime::format_rfc3339_seconds(start + Duration::from_secs(len)),
    )
}

fn check_incident_shape(i: &Value) {
    for key in [
        "id",
        "name",
        "status",
        "created_at",
        "updated_at",
        "monitoring_at",
        "resolved_at",
        "impact",
        "shortlink",
        "started_at",
        "page_id",
        "incident_updates",
        "components",
    ] {
        assert!(i.get(key).is_some(), "incident lacks {key}: {i}");
    }
    for u in i["incident_updates"].as_array().expect("updates") {
        for key in [
            "id",
            "status",
            "body",
            "incident_id",
            "created_at",
            "updated_at",
            "display_at",
            "affected_components",
        ] {
            assert!(u.get(key).is_some(), "update lacks {key}: {u}");
        }
        assert_eq!(u["incident_id"], i["id"]);
        for a in u["affected_components"].as_array().expect("affected") {
            for key in ["code", "name", "old_status", "new_status"] {
                assert!(a.get(key).is_some(), "affected lacks {key}: {a}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_an_incident_until_it_answers_again() {
    let lab = Lab::new(3, 7).await;
    let tail = format!(
        "{}{}",
        window(3600, 1800, "Router replacement"),
        window(-7200, 1800, "Software upgrade")
    );
    // A silent server's UDP and TCP targets fall up to one interval (200 ms) apart: with
    // confirm_after 3 s the confirmation layer publishes one change to major_outage (an
    // outage building up within a tenth of confirm_after), as the default 30 s does; with
    // 0 s the first target down would open the incident as a partial outage.
    let cfg = lab.config("confirm_after = \"3s\"", &tail);
    let d = start(&cfg).await;
    wait_ready(&d).await;
    let addr = d.http_addr;
    lab.servers[1].set_mode(Mode::Silent);
    wait_until("incident opened", Duration::from_secs(10), || async move {
        let (_, v) = get_json(addr, "/api/v2/incidents/unresolved.json").await;
        v["incidents"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    let (code, v) = get_json(addr, "/api/v2/incidents/unresolved.json").await;
    assert_eq!(code, 200);
    let inc = v["incidents"][0].clone();
    check_incident_shape(&inc);
    assert_eq!(inc["status"], "investigating");
    assert_eq!(inc["name"], "Network connectivity issue affecting ns2.lab");
    assert_eq!(inc["impact"], "minor", "{inc}");
    let body = inc["incident_updates"][0]["body"].as_str().expect("body");
    let ip = lab.servers[1].addr().ip().to_string();
    assert!(
        body.starts_with(&format!(
            "Investigating — ns2.lab is not reachable (UDP and TCP, {ip}) since "
        )) && body.ends_with(" UTC. The zone remains available through the other 2 nameservers."),
        "{body}"
    );
    let comps: Vec<&str> = inc["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or(""))
        .collect();
    assert!(
        comps.contains(&"ns2.lab") && comps.contains(&"DNS (.dk)"),
        "{comps:?}"
    );
    let (_, summary) = get_json(addr, "/api/v2/summary.json").await;
    assert_eq!(summary["incidents"][0]["id"], inc["id"]);
    let (_, metrics) = http(addr, "GET", "/metrics").await;
    assert!(metrics.contains("nsprobe_incidents_open 1"), "{metrics}");

    // A restart during the incident continues it.
    d.shutdown().await.expect("shutdown");
    let d = start(&cfg).await;
    let addr = d.http_addr;
    let (_, v) = get_json(addr, "/api/v2/incidents/unresolved.json").await;
    assert_eq!(v["incidents"][0]["id"], inc["id"], "continued: {v}");
    wait_ready(&d).await;

    lab.servers[1].set_mode(Mode::Normal);
    wait_until(
        "incident resolved",
        Duration::from_secs(10),
        || async move {
            let (_, v) = get_json(addr, "/api/v2/incidents/unresolved.json").await;
            v["incidents"].as_array().is_some_and(|a| a.is_empty())
        },
    )
    .await;
    // incidents.json reads resolved incidents from the store: wait for the writer's commit.
    wait_until(
        "resolution in the store",
        Duration::from_secs(10),
        || async move {
            let (_, v) = get_json(addr, "/api/v2/incidents.json").await;
            v["incidents"][0]["status"] == "resolved"
        },
    )
    .await;
    let (code, v) = get_json(addr, "/api/v2/incidents.json").await;
    assert_eq!(code, 200);
    let done = &v["incidents"][0];
    check_incident_shape(done);
    assert_eq!(done["id"], inc["id"]);
    assert_eq!(done["status"], "resolved");
    assert!(done["resolved_at"].is_string());
    let last = done["incident_updates"][0]["body"].as_str().expect("body");
    assert!(
        last.starts_with("Resolved — ns2.lab is reachable again after "),
        "{last}"
    );
    assert_eq!(done["incident_updates"][0]["status"], "resolved");
    // Nothing from the restart: no update after the first repeats ns2's major outage
    // (a recovery may pass through degraded, which is an update of its own).
    let updates = done["incident_updates"].as_array().expect("updates");
    assert!(updates.len() >= 2, "{done}");
    for u in &updates[..updates.len() - 1] {
        for a in u["affected_components"].as_array().expect("affected") {
            assert!(
                !(a["name"] == "ns2.lab" && a["new_status"] == "major_outage"),
                "restart noise: {u}"
            );
        }
    }

    // Scheduled maintenances: one to come, one completed.
    let (_, all) = get_json(addr, "/api/v2/scheduled-maintenances.json").await;
    let list = all["scheduled_maintenances"].as_array().expect("list");
    assert_eq!(list.len(), 2, "{all}");
    assert_eq!(list[0]["status"], "scheduled");
    assert_eq!(list[0]["name"], "Router replacement");
    assert_eq!(list[0]["impact"], "maintenance");
    assert!(list[0]["started_at"].is_null());
    assert_eq!(list[1]["status"], "completed");
    assert!(list[1]["resolved_at"].is_string());
    assert_eq!(list[1]["incident_updates"][0]["status"], "completed");
    assert_eq!(list[1]["components"][0]["name"], "ns3.lab");
    let (_, up) = get_json(addr, "/api/v2/scheduled-maintenances/upcoming.json").await;
    assert_eq!(
        up["scheduled_maintenances"].as_array().map(Vec::len),
        Some(1)
    );
    let (_, active) = get_json(addr, "/api/v2/scheduled-maintenances/active.json").await;
    assert_eq!(
        active["scheduled_maintenances"].as_array().map(Vec::len),
        Some(0)
    );

    // Feeds, parsed by a real feed parser.
    for path in ["/history.atom", "/history.rss"] {
        let (code, body) = http(addr, "GET", path).await;
        assert_eq!(code, 200, "{path}");
        let feed = feed_rs::parser::parse(body.as_bytes())
            .unwrap_or_else(|e| panic!("{path} does not parse: {e}\n{body}"));
        assert_eq!(feed.entries.len(), 3, "{path}: {body}");
        let entry = feed
            .entries
            .iter()
            .find(|e| {
                e.title
                    .as_ref()
                    .is_some_and(|t| t.content == "Network connectivity issue affecting ns2.lab")
            })
            .unwrap_or_else(|| panic!("{path}: incident entry missing: {body}"));
        let text = entry
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .or_else(|| entry.summary.as_ref().map(|s| s.content.clone()))
            .unwrap_or_default();
        assert!(
            text.contains("Resolved — ns2.lab is reachable again"),
            "{path}: {text}"
        );
        assert!(
            text.contains("Investigating — ns2.lab is not reachable"),
            "{path}: {text}"
        );
        assert!(
            entry.published.is_some() || entry.updated.is_some(),
            "{path}"
        );
        assert!(feed.entries.iter().any(|e| e
            .title
            .as_ref()
            .is_some_and(|t| t.content == "Maintenance: Router replacement")));
    }
    d.shutdown().await.expect("shutdown");
}

/// A restart during a confirmed outage: the confirmed statuses are restored from the store's
/// restart state, so the outage stays published with its `since` from the first request
/// after the restart on (no flap through `unknown` or `operational`, no status change
/// logged), no second incident is opened and the open one gets no update; recovery after
/// the restart still waits for `clear_after` and resolves the same incident.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_an_outage_keeps_it_confirmed_and_continues_the_incident() {
    use common::daemon_lab::{server, status, zone};
    let lab = Lab::new(3, 7).await;
    let cfg = lab.config("confirm_after = \"600ms\"\nclear_after = \"1500ms\"", "");
    let d = start(&cfg).await;
    wait_ready(&d).await;
    let addr = d.http_addr;
    lab.servers[1].set_mode(Mode::Silent);
    wait_until(
        "ns2 confirmed down",
        Duration::from_secs(10),
        || async move { server(&status(addr).await, "ns2.lab")["status"] == "major_outage" },
    )
    .await;
    wait_until("incident opened", Duration::from_secs(10), || async move {
        let (_, v) = get_json(addr, "/api/v2/incidents/unresolved.json").await;
        v["incidents"].as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    let before = status(addr).await;
    let since = server(&before, "ns2.lab")["since"].clone();
    assert!(since.is_string(), "{before}");
    let (_, v) = get_json(addr, "/api/v2/incidents/unresolved.json").await;
    let inc = v["incidents"][0].clone();
    let updates = inc["incident_updates"].as_array().map(Vec::len);
    d.shutdown().await.expect("shutdown");
    let restarted_at = nsprobe::now_ms();

    // From the first request on, for the first probe rounds (interval 200 ms, fail_after 2)
    // and beyond: the restored outage, with its since.
    let d = start(&cfg).await;
    let addr = d.http_addr;
    let until = std::time::Instant::now() + Duration::from_secs(3);
    let mut polls = 0;
    while std::time::Instant::now() < until {
        let v = status(addr).await;
        let s = server(&v, "ns2.lab");
        assert_eq!(
            s["status"], "major_outage",
            "poll {polls} after restart: {v}"
        );
        assert_eq!(s["since"], since, "poll {polls}: since changed: {v}");
        assert_eq!(
            zone(&v)["status"],
            "degraded_performance",
            "poll {polls}: {v}"
        );
        let (_, sp) = get_json(addr, "/api/v2/components.json").await;
        let c = sp["components"]
            .as_array()
            .expect("components")
            .iter()
            .find(|c| c["name"] == "ns2.lab")
            .cloned()
            .unwrap_or_default();
        assert_eq!(c["status"], "major_outage", "poll {polls}: {sp}");
        polls += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The same incident, no update from the restart, no second incident.
    let (_, v) = get_json(addr, "/api/v2/incidents/unresolved.json").await;
    assert_eq!(v["incidents"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["incidents"][0]["id"], inc["id"]);
    assert_eq!(
        v["incidents"][0]["incident_updates"]
            .as_array()
            .map(Vec::len),
        updates,
        "the restart added an update: {v}"
    );
    let (_, all) = get_json(addr, "/api/v2/incidents.json").await;
    assert_eq!(all["incidents"].as_array().map(Vec::len), Some(1), "{all}");
    // Nothing logged for ns2.lab since the restart.
    let db = rusqlite::Connection::open_with_flags(
        lab.dir.path().join("nsprobe.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("store");
    let n: i64 = db
        .query_row(
            "SELECT count(*) FROM status_change s JOIN component c ON c.id = s.component
             WHERE c.name = 'ns2.lab' AND s.at >= ?1",
            [restarted_at as i64],
            |r| r.get(0),
        )
        .expect("query");
    assert_eq!(n, 0, "status changes of ns2.lab logged after the restart");

    // Recovery still waits for clear_after and resolves the same incident.
    lab.servers[1].set_mode(Mode::Normal);
    let answered = std::time::Instant::now();
    wait_until("ns2 operational", Duration::from_secs(10), || async move {
        server(&status(addr).await, "ns2.lab")["status"] == "operational"
    })
    .await;
    assert!(
        answered.elapsed() >= Duration::from_millis(1500),
        "cleared before clear_after: {:?}",
        answered.elapsed()
    );
    // incidents.json reads the store: the resolution is there once the writer committed it.
    wait_until(
        "incident resolved",
        Duration::from_secs(10),
        || async move {
            let (_, v) = get_json(addr, "/api/v2/incidents.json").await;
            v["incidents"][0]["status"] == "resolved"
        },
    )
    .await;
    let (_, v) = get_json(addr, "/api/v2/incidents/unresolved.json").await;
    assert_eq!(v["incidents"].as_array().map(Vec::len), Some(0), "{v}");
    let (_, all) = get_json(addr, "/api/v2/incidents.json").await;
    assert_eq!(all["incidents"].as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(all["incidents"][0]["id"], inc["id"]);
    assert_eq!(all["incidents"][0]["status"], "resolved");
    d.shutdown().await.expect("shutdown");
}
