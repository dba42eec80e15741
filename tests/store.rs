//! The embedded store: migrations, refusal of newer files, writes through the writer
//! thread and reads through the read side.

use std::sync::Arc;
use std::time::Duration;

use nsprobe::config::StoreConfig;
use nsprobe::incidents::{Impact, Incident, IncidentStatus};
use nsprobe::metrics::DaemonMetrics;
use nsprobe::status::Status;
use nsprobe::store::{schema, MinuteRecord, Resolution, Store, StoreError, Write};

const DAY: u64 = 86_400_000;
const MIN: u64 = 60_000;

fn settings(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        path: dir.join("nsprobe.db"),
        retention: Duration::from_secs(90 * 86_400),
        minute_retention: Duration::from_secs(7 * 86_400),
    }
}

fn key(g: &str, n: &str) -> (String, String) {
    (g.to_string(), n.to_string())
}

#[test]
fn empty_file_is_migrated_and_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = settings(dir.path());
    let metrics = Arc::new(DaemonMetrics::new());
    let (store, opened) = Store::open(&s, metrics.clone()).expect("open");
    assert!(opened.restart_state.is_none());
    assert!(opened.open_incidents.is_empty());
    let now = nsprobe::now_ms();
    let today = now / DAY * DAY;
    let c = key("DNS (.dk)", "l.nic.dk");
    // Yesterday: 6 h major outage from 06:00, operational otherwise (and before).
    store.send(Write::StatusChange {
        component: c.clone(),
        at: today - 3 * DAY,
        status: Status::Operational,
        reason: "ok".into(),
    });
    store.send(Write::StatusChange {
        component: c.clone(),
        at: today - DAY + 6 * 3_600_000,
        status: Status::MajorOutage,
        reason: "down".into(),
    });
    store.send(Write::StatusChange {
        component: c.clone(),
        at: today - DAY + 12 * 3_600_000,
        status: Status::Operational,
        reason: "up".into(),
    });
    for i in 0..3u64 {
        store.send(Write::Minute {
            component: c.clone(),
            record: MinuteRecord {
                minute: today - DAY + i * MIN,
                probes: 4,
                failures: 1,
                min_us: Some(1000),
                median_us: Some(2000 + 1000 * i as u32),
                p95_us: Some(5000),
                max_us: Some(6000),
            },
        });
    }
    store.send(Write::RestartState("{\"x\":1}".into()));
    assert!(store.flush(Duration::from_secs(10)), "flush");
    let r = store.reader();
    let u = r.uptime("DNS (.dk)", "l.nic.dk", 3, now).expect("uptime");
    assert_eq!(u.days.len(), 3);
    assert_eq!(u.days[0].uptime_percent, Some(100.0));
    assert_eq!(u.days[1].seconds.major_outage, 6.0 * 3600.0);
    assert_eq!(u.days[1].uptime_percent, Some(75.0));
    assert_eq!(u.days[1].worst, Some(Status::MajorOutage));
    let minutes = r
        .series(
            "DNS (.dk)",
            "l.nic.dk",
            Resolution::Minute,
            today - DAY,
            today,
        )
        .expect("series");
    assert_eq!(minutes.len(), 3);
    assert_eq!(minutes[1].typical_ms, Some(3.0));
    assert_eq!(minutes[1].p95_ms, Some(5.0));
    let hours = r
        .series(
            "DNS (.dk)",
            "l.nic.dk",
            Resolution::Hour,
            today - DAY,
            today,
        )
        .expect("hours");
    assert_eq!(hours.len(), 1);
    assert_eq!(hours[0].probes, 12);
    assert_eq!(hours[0].failures, 3);
    // Mean of the minute medians 2, 3, 4 ms weighted by 3 successes each.
    assert_eq!(hours[0].typical_ms, Some(3.0));
    let days = r
        .series(
            "DNS (.dk)",
            "l.nic.dk",
            Resolution::Day,
            today - 2 * DAY,
            today + DAY,
        )
        .expect("days");
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].start, today - DAY);
    // Unknown components have no data, not an error.
    let none = r.uptime("DNS (.dk)", "x.nic.dk", 2, now).expect("uptime");
    assert!(none.days.iter().all(|d| d.uptime_percent.is_none()));
    store.close(Duration::from_secs(5));
    // Reopened: the restart state and last statuses are there.
    let (store, opened) = Store::open(&s, metrics).expect("reopen");
    assert_eq!(opened.restart_state.as_deref(), Some("{\"x\":1}"));
    assert_eq!(opened.last_status.len(), 1);
    assert_eq!(opened.last_status[0].1, Status::Operational);
    store.close(Duration::from_secs(5));
    let conn = rusqlite::Connection::open(&s.path).expect("sqlite");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    let v: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(v, schema::current_version());
}

#[test]
fn newer_schema_is_refused_and_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = settings(dir.path());
    {
        let conn = rusqlite::Connection::open(&s.path).expect("sqlite");
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .expect("future file");
    }
    let before = std::fs::read(&s.path).expect("read");
    let err = Store::open(&s, Arc::new(DaemonMetrics::new())).expect_err("refused");
    assert!(
        matches!(err, StoreError::NewerSchema { found: 99, .. }),
        "{err:?}"
    );
    assert!(err.is_fatal());
    let msg = err.to_string();
    assert!(
        msg.contains("schema version 99") && msg.contains("not modified"),
        "{msg}"
    );
    assert_eq!(
        std::fs::read(&s.path).expect("read"),
        before,
        "file untouched"
    );
    assert!(!dir.path().join("nsprobe.db-wal").exists());
    // Not a database at all: refused too, untouched.
    std::fs::write(
        &s.path,
        b"this is not sqlite, it is a config file by mistake\n".repeat(100),
    )
    .expect("write");
    let before = std::fs::read(&s.path).expect("read");
    let err = Store::open(&s, Arc::new(DaemonMetrics::new())).expect_err("refused");
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    assert_eq!(std::fs::read(&s.path).expect("read"), before);
}

#[test]
fn incidents_round_trip_and_open_ones_come_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = settings(dir.path());
    let m = Arc::new(DaemonMetrics::new());
    let (store, _) = Store::open(&s, m.clone()).expect("open");
    let inc = |id: &str, at: u64, resolved: Option<u64>| Incident {
        id: id.into(),
        name: format!("incident {id}"),
        group: "DNS (.dk)".into(),
        kind: "component".into(),
        status: if resolved.is_some() {
            IncidentStatus::Resolved
        } else {
            IncidentStatus::Investigating
        },
        impact: Impact::Minor,
        created_at: at,
        updated_at: at,
        resolved_at: resolved,
        updates: Vec::new(),
        components: Vec::new(),
    };
    let now = nsprobe::now_ms();
    store.send(Write::Incident(Box::new(inc(
        "a",
        now - 2 * DAY,
        Some(now - DAY),
    ))));
    store.send(Write::Incident(Box::new(inc("b", now - 3_600_000, None))));
    assert!(store.flush(Duration::from_secs(10)));
    let r = store.reader();
    let all = r.incidents(now - 10 * DAY, 50).expect("list");
    assert_eq!(
        all.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["b", "a"]
    );
    assert_eq!(
        r.incident("a").expect("get"),
        Some(inc("a", now - 2 * DAY, Some(now - DAY)))
    );
    assert_eq!(r.incident("zz").expect("get"), None);
    store.close(Duration::from_secs(5));
    let (store, opened) = Store::open(&s, m).expect("reopen");
    assert_eq!(opened.open_incidents.len(), 1);
    assert_eq!(opened.open_incidents[0].id, "b");
    store.close(Duration::from_secs(5));
}
