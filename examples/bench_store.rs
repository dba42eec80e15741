//! Store benchmark: 90 days of the whole .dk status page (`config/dk-status-page.toml`:
//! the seven nameservers of `DNS (.dk)` and the twelve service components in their
//! three groups) written through the real store: `nsprobe::store::Store` (writer
//! thread, batching, schema, retention and pruning as configured by default), with a
//! fake clock driving time.
//!
//! Every simulated minute the bench sends what the daemon sends in that minute (one
//! minute record per component, the restart state, the confirmed status changes and
//! the incidents the real `IncidentBook` writes for them) and waits for the writer to
//! commit it (`Store::flush`): that wait is the batch write latency. CPU time is the
//! writer thread's (`/proc/self/task/*/schedstat`).
//!
//! Baselines in the same run, on the same minute rows of the first 7 days and the same
//! schema in another file: (a) one autocommit INSERT per row, (b) one transaction per
//! minute of plain INSERTs (no hourly roll-up, no duplicate check).
//!
//! Usage: `bench_store CONFIG DB_PATH [DAYS]` (bench/store.sh runs it).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use nsprobe::incidents::{ChangeIn, Facts, IncidentBook, ServerFacts, Templates, ZoneFacts};
use nsprobe::metrics::DaemonMetrics;
use nsprobe::persist::PersistedState;
use nsprobe::probe::Kind as CheckKind;
use nsprobe::state::{
    PersistedAddress, PersistedCheck, PersistedServer, PersistedService, PersistedZone, Publication,
};
use nsprobe::status::{SavedConfirmation, Status};
use nsprobe::store::{schema, MinuteRecord, Store, Write};

const MINUTE: u64 = 60_000;
const DAY: u64 = 86_400_000;
/// 2026-06-01 00:00:00 UTC.
const START: u64 = 1_780_272_000_000;

#[derive(Clone)]
struct Member {
    group: String,
    name: String,
    /// Probes per minute.
    probes: u32,
    /// Typical response time (µs).
    base_us: f64,
    is_dns: bool,
}

/// A component's status over time, and the facts for the incident texts.
struct Episode {
    start: u64,
    end: u64,
    /// Index into members.
    member: usize,
    status: Status,
    /// The group's status meanwhile.
    group_status: Status,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    ServerDown,
    Stall,
    Service,
    Maintenance,
    Restart,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: bench_store CONFIG DB_PATH [DAYS]");
        std::process::exit(2);
    }
    let config = nsprobe::config::load(std::path::Path::new(&args[1])).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let db = std::path::PathBuf::from(&args[2]);
    let days: u64 = args.get(3).map_or(90, |d| d.parse().expect("DAYS"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let mut settings = config.store.clone();
    settings.path = db.clone();

    // The components of the page, with their probe rates.
    let mut members = Vec::new();
    let mut rng = StdRng::seed_from_u64(2026);
    let zone = &config.zones[0];
    let per_min = (60_000 / zone.interval.as_millis().max(1) as u32).max(1);
    for ns in &zone.nameservers {
        members.push(Member {
            group: zone.component.clone(),
            name: ns.name.clone(),
            // UDP and TCP × IPv4 and IPv6.
            probes: per_min * zone.transports.len() as u32 * 2,
            base_us: rng.random_range(2_000.0..30_000.0),
            is_dns: true,
        });
    }
    for g in &config.groups {
        for c in &g.components {
            members.push(Member {
                group: g.name.clone(),
                name: c.name.clone(),
                probes: c.checks.len() as u32,
                base_us: rng.random_range(40_000.0..400_000.0),
                is_dns: false,
            });
        }
    }
    let groups: Vec<String> = std::iter::once(zone.component.clone())
        .chain(config.groups.iter().map(|g| g.name.clone()))
        .collect();
    let targets: u32 = zone.nameservers.len() as u32 * zone.transports.len() as u32 * 2
        + config
            .groups
            .iter()
            .flat_map(|g| &g.components)
            .map(|c| c.checks.len() as u32)
            .sum::<u32>();

    let episodes = plan(&members, days, &mut rng);
    let clock = Arc::new(AtomicU64::new(START));
    let c2 = clock.clone();
    let metrics = Arc::new(DaemonMetrics::new());
    let (store, _) = Store::open_with_clock(
        &settings,
        metrics.clone(),
        Arc::new(move || c2.load(Ordering::Relaxed)),
    )
    .expect("open the store");
    let writer_tid = find_thread("nsprobe-store").expect("the writer thread");
    let cpu0 = thread_cpu_ns(writer_tid);

    println!(
        "store bench: {} days from 2026-06-01, {} components ({} groups + {} members), {} targets, retention {:?}, minute retention {:?}",
        days,
        groups.len() + members.len(),
        groups.len(),
        members.len(),
        targets,
        settings.retention,
        settings.minute_retention
    );

    let mut book = IncidentBook::new(Templates::default());
    let mut status: BTreeMap<(String, String), Status> = BTreeMap::new();
    let mut latencies: Vec<u64> = Vec::new();
    let mut first_week: Vec<(usize, MinuteRecord)> = Vec::new();
    let (mut n_changes, mut n_incident_writes, mut n_minutes) = (0u64, 0u64, 0u64);
    let mut serial: u32 = 2026060100;
    let mut last_publication = START;
    let total = days * 1440;
    let wall = Instant::now();
    let mut first_week_cpu = 0;
    for m in 0..total {
        let now = START + m * MINUTE;
        clock.store(now + MINUTE - 1, Ordering::Relaxed);
        // Which episodes hold this minute.
        let active: Vec<&Episode> = episodes
            .iter()
            .filter(|e| e.start <= now && now < e.end)
            .collect();
        let stalled = active.iter().any(|e| e.kind == Kind::Stall);
        if !stalled && m % 10 == 0 {
            serial += 1;
            last_publication = now;
        }
        // Statuses wanted now.
        let mut want: BTreeMap<(String, String), Status> = BTreeMap::new();
        for g in &groups {
            want.insert((g.clone(), g.clone()), Status::Operational);
        }
        for mb in &members {
            want.insert((mb.group.clone(), mb.name.clone()), Status::Operational);
        }
        for e in &active {
            let mb = &members[e.member];
            if e.kind == Kind::Restart {
                for s in want.values_mut() {
                    *s = Status::Unknown;
                }
                continue;
            }
            if e.kind != Kind::Stall {
                want.insert((mb.group.clone(), mb.name.clone()), e.status);
            }
            want.insert((mb.group.clone(), mb.group.clone()), e.group_status);
        }
        let mut changes = Vec::new();
        for (k, s) in &want {
            let old = status.get(k).copied();
            if old == Some(*s) {
                continue;
            }
            status.insert(k.clone(), *s);
            let is_dns = k.0 == zone.component;
            let zf = ZoneFacts {
                zone: "dk.".into(),
                servers: 7,
                serving: 7 - usize::from(want.iter().any(|(kk, st)| {
                    kk.0 == zone.component && kk.0 != kk.1 && *st == Status::MajorOutage
                })),
                serial: Some(serial),
                published_at: Some(last_publication),
                stale: stalled,
            };
            let facts = if !is_dns {
                Facts::None
            } else if k.0 == k.1 {
                Facts::Zone(zf)
            } else {
                Facts::Server(
                    zf,
                    ServerFacts {
                        transports: vec!["UDP".into(), "TCP".into()],
                        addresses: vec![
                            "192.0.2.12".parse().unwrap(),
                            "2001:db8::12".parse().unwrap(),
                        ],
                        unreachable: *s == Status::MajorOutage,
                        last_answer: Some(now - MINUTE),
                    },
                )
            };
            let reason = format!(
                "bench: {} → {}",
                old.map_or("none", |o| o.as_str()),
                s.as_str()
            );
            store.send(Write::StatusChange {
                component: k.clone(),
                at: now,
                status: *s,
                reason: reason.clone(),
            });
            n_changes += 1;
            changes.push(ChangeIn {
                group: k.0.clone(),
                name: k.1.clone(),
                from: old,
                to: *s,
                at: now,
                reason,
                facts,
            });
        }
        if !changes.is_empty() {
            for inc in book.apply(&changes) {
                store.send(Write::Incident(Box::new(inc)));
                n_incident_writes += 1;
            }
        }
        // One closed minute per component.
        for (i, mb) in members.iter().enumerate() {
            let st = status[&(mb.group.clone(), mb.name.clone())];
            let rec = minute_record(mb, st, now, &mut rng);
            if m < 7 * 1440 {
                first_week.push((i, rec));
            }
            store.send(Write::Minute {
                component: (mb.group.clone(), mb.name.clone()),
                record: rec,
            });
        }
        // The restart state, every save_interval (60 s by default).
        store.send(Write::RestartState(restart_state(
            now,
            serial,
            last_publication,
            &members,
            &status,
        )));
        let t = Instant::now();
        assert!(store.flush(Duration::from_secs(60)), "flush timed out");
        latencies.push(t.elapsed().as_micros() as u64);
        n_minutes += 1;
        if m + 1 == 7 * 1440 {
            first_week_cpu = thread_cpu_ns(writer_tid) - cpu0;
        }
        if (m + 1) % (10 * 1440) == 0 {
            eprintln!(
                "day {:>3}: {} MB, {:.0} s",
                (m + 1) / 1440,
                store.reader().size_bytes() / 1_000_000,
                wall.elapsed().as_secs_f64()
            );
        }
    }
    let cpu = thread_cpu_ns(writer_tid) - cpu0;
    let elapsed = wall.elapsed();
    // One last pruning pass at day 90 (the writer prunes every 10 minutes of its clock).
    clock.store(START + total * MINUTE + 11 * MINUTE, Ordering::Relaxed);
    store.send(Write::RestartState(restart_state(
        START + total * MINUTE,
        serial,
        last_publication,
        &members,
        &status,
    )));
    store.flush(Duration::from_secs(60));
    let reader = store.reader();
    let size_live = reader.size_bytes();
    store.close(Duration::from_secs(60));
    let size_closed = file_size(&db);

    let conn = rusqlite::Connection::open(&db).expect("reopen");
    let count = |t: &str| -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    };
    let pragma = |p: &str| -> i64 {
        conn.query_row(&format!("PRAGMA {p}"), [], |r| r.get(0))
            .unwrap()
    };

    println!("\n== nsprobe store (real writer thread, one flush per simulated minute)");
    println!(
        "simulated minutes {n_minutes}, minute records {}, status changes {n_changes}, incident writes {n_incident_writes}, restart states {n_minutes}",
        n_minutes * members.len() as u64
    );
    println!(
        "rows at the end: series_minute {}, series_hour {}, status_change {}, incident {}, component {}",
        count("series_minute"),
        count("series_hour"),
        count("status_change"),
        count("incident"),
        count("component")
    );
    println!(
        "file size after {days} days: {:.2} MB with the writer open (db + wal), {:.2} MB after close (page_size {}, page_count {}, freelist_count {})",
        size_live as f64 / 1e6,
        size_closed as f64 / 1e6,
        pragma("page_size"),
        pragma("page_count"),
        pragma("freelist_count")
    );
    println!(
        "wall {:.1} s for {days} days; writer thread CPU {:.2} s = {:.1} µs per simulated minute{}",
        elapsed.as_secs_f64(),
        cpu as f64 / 1e9,
        cpu as f64 / 1e3 / n_minutes as f64,
        if days >= 7 {
            format!(
                " ({:.1} µs in the first 7 days)",
                first_week_cpu as f64 / 1e3 / (7.0 * 1440.0)
            )
        } else {
            String::new()
        }
    );
    print_latency(
        "batch write latency (send → committed), all minutes",
        &latencies,
    );
    print_latency(
        "batch write latency, first 7 days",
        &latencies[..latencies.len().min(7 * 1440)],
    );
    drop(conn);

    // Baselines: the same minute rows of the first 7 days, same schema, another file.
    let base_path = db.with_extension("baseline.db");
    for (label, per_row) in [
        ("(a) one autocommit INSERT per row", true),
        ("(b) one transaction per minute, plain INSERT", false),
    ] {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", base_path.display()));
        }
        let mut c = schema::open_rw(&base_path).expect("baseline db");
        for (i, mb) in members.iter().enumerate() {
            c.execute(
                "INSERT INTO component (id, grp, name) VALUES (?1, ?2, ?3)",
                rusqlite::params![i as i64 + 1, mb.group, mb.name],
            )
            .unwrap();
        }
        let main_tid = gettid();
        let cpu0 = thread_cpu_ns(main_tid);
        let mut lat = Vec::new();
        let sql = "INSERT INTO series_minute (component, minute, probes, failures, min_us, median_us, p95_us, max_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
        for chunk in first_week.chunks(members.len()) {
            let t = Instant::now();
            if per_row {
                insert_minutes(&c, sql, chunk);
            } else {
                let tx = c.transaction().unwrap();
                insert_minutes(&tx, sql, chunk);
                tx.commit().unwrap();
            }
            lat.push(t.elapsed().as_micros() as u64);
        }
        let cpu = thread_cpu_ns(main_tid) - cpu0;
        println!(
            "\n== baseline {label}: first 7 days, {} rows",
            first_week.len()
        );
        println!(
            "CPU {:.2} s = {:.1} µs per simulated minute",
            cpu as f64 / 1e9,
            cpu as f64 / 1e3 / lat.len() as f64
        );
        print_latency("write latency per minute of rows", &lat);
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", base_path.display()));
    }
}

/// The outages, stalls, maintenance windows and restarts of `days` days (deterministic).
/// The baselines' minute rows, one `INSERT` each, on `c` (a connection, or a transaction
/// through its `Deref`).
fn insert_minutes(c: &rusqlite::Connection, sql: &str, rows: &[(usize, MinuteRecord)]) {
    for (i, r) in rows {
        c.prepare_cached(sql)
            .unwrap()
            .execute(rusqlite::params![
                *i as i64 + 1,
                r.minute as i64,
                r.probes,
                r.failures,
                r.min_us,
                r.median_us,
                r.p95_us,
                r.max_us
            ])
            .unwrap();
    }
}

fn plan(members: &[Member], days: u64, rng: &mut StdRng) -> Vec<Episode> {
    let mut out = Vec::new();
    let end = START + days * DAY;
    let dns: Vec<usize> = (0..members.len()).filter(|&i| members[i].is_dns).collect();
    let svc: Vec<usize> = (0..members.len()).filter(|&i| !members[i].is_dns).collect();
    // Nameserver outages: about one every 4 days, 5–90 minutes.
    let mut t = START + rng.random_range(0..4 * DAY);
    while t < end {
        let len = rng.random_range(5..=90) * MINUTE;
        out.push(Episode {
            start: t,
            end: t + len,
            member: dns[rng.random_range(0..dns.len())],
            status: Status::MajorOutage,
            group_status: Status::DegradedPerformance,
            kind: Kind::ServerDown,
        });
        t += len + rng.random_range(DAY..7 * DAY);
    }
    // Publication stalls: about one every 15 days, 20–60 minutes.
    let mut t = START + rng.random_range(3 * DAY..15 * DAY);
    while t < end {
        let len = rng.random_range(20..=60) * MINUTE;
        out.push(Episode {
            start: t,
            end: t + len,
            member: dns[0],
            status: Status::Operational,
            group_status: Status::DegradedPerformance,
            kind: Kind::Stall,
        });
        t += len + rng.random_range(10 * DAY..20 * DAY);
    }
    // Service components: about one every 3 days, 3 minutes to 2 hours.
    let mut t = START + rng.random_range(0..3 * DAY);
    while t < end {
        let len = rng.random_range(3..=120) * MINUTE;
        let status = [
            Status::DegradedPerformance,
            Status::PartialOutage,
            Status::MajorOutage,
        ][rng.random_range(0..3)];
        out.push(Episode {
            start: t,
            end: t + len,
            member: svc[rng.random_range(0..svc.len())],
            status,
            group_status: Status::DegradedPerformance,
            kind: Kind::Service,
        });
        t += len + rng.random_range(DAY..5 * DAY);
    }
    // Maintenance: one 8-hour window a month on s.nic.dk (the last nameserver).
    let mut t = START + 10 * DAY + 6 * 3_600_000;
    while t < end {
        out.push(Episode {
            start: t,
            end: t + 8 * 3_600_000,
            member: *dns.last().unwrap(),
            status: Status::UnderMaintenance,
            group_status: Status::Operational,
            kind: Kind::Maintenance,
        });
        t += 30 * DAY;
    }
    // Restarts: every 14 days, everything unknown for two minutes.
    let mut t = START + 14 * DAY + 2 * 3_600_000;
    while t < end {
        out.push(Episode {
            start: t,
            end: t + 2 * MINUTE,
            member: 0,
            status: Status::Unknown,
            group_status: Status::Unknown,
            kind: Kind::Restart,
        });
        t += 14 * DAY;
    }
    out
}

fn minute_record(mb: &Member, st: Status, minute: u64, rng: &mut StdRng) -> MinuteRecord {
    let probes = mb.probes;
    let down = matches!(st, Status::MajorOutage);
    let failures = if down {
        probes
    } else if st == Status::PartialOutage {
        probes / 2
    } else {
        u32::from(rng.random_bool(0.002))
    };
    let slow = if st == Status::DegradedPerformance {
        5.0
    } else {
        1.0
    };
    let median = mb.base_us * slow * rng.random_range(0.85..1.2);
    let ok = probes - failures;
    let us = |v: f64| Some(v.round() as u32);
    MinuteRecord {
        minute,
        probes,
        failures,
        min_us: if ok > 0 { us(median * 0.8) } else { None },
        median_us: if ok > 0 { us(median) } else { None },
        p95_us: if ok > 0 {
            us(median * rng.random_range(1.1..2.0))
        } else {
            None
        },
        max_us: if ok > 0 {
            us(median * rng.random_range(2.0..4.0))
        } else {
            None
        },
    }
}

/// A restart state shaped like the daemon's for the .dk page: the zone (7 servers × 4
/// addresses), every group's confirmation states and every service check's latch.
fn restart_state(
    now: u64,
    serial: u32,
    published: u64,
    members: &[Member],
    status: &BTreeMap<(String, String), Status>,
) -> String {
    let mut st = PersistedState::new(now);
    let saved = |s: Status| SavedConfirmation {
        confirmed: Some(if s.severity().is_some() {
            s
        } else {
            Status::Operational
        }),
        reason: format!("bench: {}", s.as_str()),
        shown: Some(s),
        since: Some(now.saturating_sub(3_600_000)),
    };
    for ((g, n), s) in status {
        let t = st.statuses.entry(g.clone()).or_default();
        if g == n {
            t.group = Some(saved(*s));
        } else {
            t.members.insert(n.clone(), saved(*s));
        }
    }
    for mb in members.iter().filter(|m| !m.is_dns) {
        let checks = (0..mb.probes.max(1))
            .map(|i| PersistedCheck {
                kind: CheckKind::Http,
                target: format!("https://{}.example/{i}", mb.name.replace(' ', "-")),
                up: Some(true),
                consecutive_failures: 0,
                consecutive_successes: 42,
                last_at: Some(now - 1000),
                last_error: None,
            })
            .collect();
        st.services
            .entry(mb.group.clone())
            .or_default()
            .insert(mb.name.clone(), PersistedService { checks });
    }
    let mut z = PersistedZone {
        publications: (0..33u32)
            .map(|i| Publication {
                serial: serial - 32 + i,
                first_seen: published.saturating_sub(u64::from(32 - i) * 10 * MINUTE),
                observed: true,
            })
            .collect(),
        gaps: vec![600_000; 32],
        ..Default::default()
    };
    for s in ["a", "b", "c", "d", "l", "p", "s"] {
        let server = format!("{s}.nic.dk");
        for (i, addr) in ["192.0.2.1:53", "[2001:db8::1]:53"].iter().enumerate() {
            for _transport in 0..2 {
                z.addresses.push(PersistedAddress {
                    server: server.clone(),
                    addr: addr.parse().unwrap(),
                    serial: Some(serial),
                    serial_at: Some(now - (i as u64) * 1000),
                    behind_since: None,
                    regressions: 0,
                });
            }
        }
        z.servers.insert(
            server,
            PersistedServer {
                propagated_serial: Some(serial),
            },
        );
    }
    st.zones.insert("dk.".into(), z);
    serde_json::to_string(&st).unwrap()
}

fn print_latency(label: &str, v: &[u64]) {
    let mut s = v.to_vec();
    s.sort_unstable();
    let q = |p: f64| s[((s.len() as f64 - 1.0) * p).round() as usize];
    let mean = s.iter().sum::<u64>() as f64 / s.len() as f64;
    println!(
        "{label}: n {}, mean {:.0} µs, p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs",
        s.len(),
        mean,
        q(0.5),
        q(0.99),
        q(0.999),
        s[s.len() - 1]
    );
}

fn file_size(path: &std::path::Path) -> u64 {
    let len = |p: String| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    len(path.display().to_string()) + len(format!("{}-wal", path.display()))
}

/// The id of this process's thread named `name`.
fn find_thread(name: &str) -> Option<u32> {
    for _ in 0..100 {
        for e in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            if comm.trim() == name {
                return e.file_name().to_str()?.parse().ok();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn gettid() -> u32 {
    // /proc/thread-self links to /proc/<pid>/task/<tid>.
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    link.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

/// CPU time of thread `tid` of this process, in ns (first field of schedstat).
fn thread_cpu_ns(tid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("schedstat")
}
