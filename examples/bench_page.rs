//! Benchmark (not a test): server time to render the status page of the whole .dk page
//! (7 nameservers and the 12 other components of the .dk page in a service group, each
//! with a full 24-hour chart and 90 days of uptime bars, one open incident on top and a resolved
//! one every third day of the 14-day history), and the page's weight.
//!
//! `cargo run --release --example bench_page` (see bench/README.md). Rendering is what the
//! handler does after releasing the lock; the lock-held copy (`page::build`) is timed on a
//! running daemon by bench/page.sh from the handler's debug log.

use std::collections::HashMap;
use std::time::Instant;

use nsprobe::incidents::{AffectedComponent, Impact, Incident, IncidentStatus, IncidentUpdate};
use nsprobe::model::ComponentId;
use nsprobe::page::render;
use nsprobe::page::view::{ChartPoint, ChartSeries, ComponentView, GroupView, PageView};
use nsprobe::status::Status;
use nsprobe::uptime;

const NOW: u64 = 1_782_302_400_000; // 2026-06-24 12:00 UTC
const SERVERS: [&str; 7] = [
    "a.nic.dk", "b.nic.dk", "c.nic.dk", "d.nic.dk", "l.nic.dk", "p.nic.dk", "s.nic.dk",
];
const SERVICES: [&str; 12] = [
    "Website",
    "Self-Service Portal",
    "Registrar Portal",
    "Whois (web)",
    "Whois (text)",
    "Whois API",
    "EPP",
    "DAS",
    "Administrative services",
    "Zonemaster",
    "Stats",
    "Sandbox environment",
];

fn comp(group: &str, name: &str, status: Status) -> ComponentView {
    let id = if group.is_empty() {
        ComponentId::group(name)
    } else {
        ComponentId::member(group, name)
    };
    ComponentView {
        public_id: id.public_id(),
        id,
        status,
        reason: "2 of 2 targets up".into(),
        since: Some(NOW - 3_600_000),
        uptime_24h: Some(0.9993),
        vantages: Vec::new(),
    }
}

/// A l.nic.dk incident opened at `at`, resolved an hour later unless `open`.
fn incident(at: u64, open: bool) -> Incident {
    let c = |s| AffectedComponent {
        group: "DNS (.dk)".into(),
        name: "l.nic.dk".into(),
        old_status: Status::Operational,
        new_status: s,
    };
    let id = format!("bench{at}");
    let mut updates = vec![IncidentUpdate {
        id: format!("{id}-1"),
        status: IncidentStatus::Investigating,
        body: "Investigating — l.nic.dk is not reachable (UDP and TCP, 192.0.2.12 and \
               2001:db8::12) since 06:40 UTC. The zone remains available through the other 6 \
               nameservers."
            .into(),
        at,
        affected_components: vec![c(Status::MajorOutage)],
    }];
    if !open {
        updates.push(IncidentUpdate {
            id: format!("{id}-2"),
            status: IncidentStatus::Resolved,
            body: "Resolved — l.nic.dk is reachable again after 1 h 0 min.".into(),
            at: at + 3_600_000,
            affected_components: vec![c(Status::Operational)],
        });
    }
    Incident {
        id,
        name: "Network connectivity issue affecting l.nic.dk".into(),
        group: "DNS (.dk)".into(),
        kind: "server".into(),
        status: if open {
            IncidentStatus::Investigating
        } else {
            IncidentStatus::Resolved
        },
        impact: Impact::Minor,
        created_at: at,
        updated_at: at,
        resolved_at: (!open).then_some(at + 3_600_000),
        updates,
        components: vec![c(if open {
            Status::MajorOutage
        } else {
            Status::Operational
        })],
    }
}

fn main() {
    let day = 86_400_000u64;
    // 90 days with a few outages, as the store's uptime function computes them.
    let changes: Vec<(u64, Status)> = (0..90u64)
        .flat_map(|d| {
            let t = NOW - (90 - d) * day + 3_600_000;
            if d % 11 == 0 {
                vec![
                    (t, Status::MajorOutage),
                    (t + 1_800_000, Status::Operational),
                ]
            } else if d % 7 == 0 {
                vec![
                    (t, Status::DegradedPerformance),
                    (t + 600_000, Status::Operational),
                ]
            } else {
                vec![]
            }
        })
        .collect();
    let up = uptime::daily(Some(Status::Operational), &changes, 90, NOW);
    let mut v = PageView {
        name: "Punktum dk — status".into(),
        now: NOW,
        overall: Status::DegradedPerformance,
        affected: vec![("l.nic.dk".into(), Status::MajorOutage)],
        groups: vec![
            GroupView {
                group: comp("", "DNS (.dk)", Status::DegradedPerformance),
                members: SERVERS
                    .iter()
                    .map(|s| {
                        comp(
                            "DNS (.dk)",
                            s,
                            if *s == "l.nic.dk" {
                                Status::MajorOutage
                            } else {
                                Status::Operational
                            },
                        )
                    })
                    .collect(),
            },
            GroupView {
                group: comp("", "Registry services", Status::Operational),
                members: SERVICES
                    .iter()
                    .map(|s| comp("Registry services", s, Status::Operational))
                    .collect(),
            },
        ],
        maintenances: Vec::new(),
        // One full 24-hour chart per nameserver and per service component.
        charts: SERVERS
            .iter()
            .map(|s| ComponentId::member("DNS (.dk)", s))
            .chain(
                SERVICES
                    .iter()
                    .map(|s| ComponentId::member("Registry services", s)),
            )
            .map(|id| ChartSeries {
                id,
                points: (0..288u64)
                    .map(|i| ChartPoint {
                        start: NOW - day + i * 300_000,
                        median_ms: (i % 50 != 0).then_some(8.0 + (i % 17) as f64 * 0.7),
                        probes: 60,
                        failures: u32::from(i % 50 == 0) * 60,
                    })
                    .collect(),
                minutes: Vec::new(),
                vantages: Vec::new(),
            })
            .collect(),
        uptime: HashMap::new(),
        incidents: std::iter::once(incident(NOW - 1_800_000, true))
            .chain(
                (1..14u64)
                    .step_by(3)
                    .map(|d| incident(NOW - d * day, false)),
            )
            .collect(),
        range: Default::default(),
        has_store: true,
        vantages: Vec::new(),
    };
    for g in &v.groups.clone() {
        for m in &g.members {
            v.uptime.insert(m.public_id.clone(), up.clone());
        }
    }
    // Warm up, then time.
    let mut bytes = 0;
    for _ in 0..20 {
        bytes = render::page(&v).len();
    }
    let mut times = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        let page = render::page(&v);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(page);
    }
    times.sort_by(f64::total_cmp);
    let q = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    println!(
        "render / of the .dk page (7 nameservers + 12 components, 19 full 24 h charts, 90-day bars): \
         median {:.3} ms, p95 {:.3} ms, max {:.3} ms over {} renders; page {} bytes ({:.1} KB)",
        q(0.5),
        q(0.95),
        q(1.0),
        times.len(),
        bytes,
        bytes as f64 / 1024.0
    );
}
