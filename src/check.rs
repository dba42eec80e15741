//! `nsprobe check`: one round of probes over every target (nameservers, then service
//! checks), as a table or JSON, with a Nagios-style verdict.
//!
//! Exit codes: 0 OK, 1 WARNING (slow or lagging answers, or a server or service
//! component only partly reachable), 2 CRITICAL (a server with no target answering
//! authoritatively, or a service component with every check target failing),
//! 3 UNKNOWN (config or resolution error).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::probe::{self, CheckSpec, Facts, Kind, ProbeSpec, Transport};
use crate::resolve::NameResolver;
use crate::scheduler::TargetId;
use crate::serial;
use crate::state::TargetKey;
use crate::targets::{self, AddressBook, HostBook};

/// Nagios plugin verdict, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Everything answered, fast and in sync.
    Ok,
    /// Slow, lagging, or partly unreachable.
    Warning,
    /// A problem prevented checking (config, resolution).
    Unknown,
    /// A server with no target answering authoritatively.
    Critical,
}

impl Verdict {
    /// Upper-case name as Nagios prints it (`OK`, `WARNING`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Warning => "WARNING",
            Verdict::Critical => "CRITICAL",
            Verdict::Unknown => "UNKNOWN",
        }
    }

    /// The process exit code Nagios expects.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Ok => 0,
            Verdict::Warning => 1,
            Verdict::Critical => 2,
            Verdict::Unknown => 3,
        }
    }
}

/// One probed target in the report.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Zone name.
    pub zone: String,
    /// Nameserver name.
    pub server: String,
    /// Address probed.
    pub address: SocketAddr,
    /// Transport used.
    pub transport: Transport,
    /// `ok` or the failure reason.
    pub result: String,
    /// Failure detail, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// SOA serial answered.
    pub serial: Option<u32>,
    /// Response time in milliseconds.
    pub rtt_ms: Option<f64>,
    /// NSID answered.
    pub nsid: Option<String>,
    /// The answer was truncated over UDP and came over TCP.
    pub truncated: bool,
    /// The serial is behind the zone's newest serial.
    pub lagging: bool,
    /// Response time above the zone's `slow_after`.
    pub slow: bool,
}

/// One service check target in the report.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRow {
    /// The component's group.
    pub group: String,
    /// The component.
    pub component: String,
    /// Check kind.
    pub kind: Kind,
    /// What was checked.
    pub target: String,
    /// `ok` or the failure reason.
    pub result: String,
    /// Failure detail, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Response time in milliseconds.
    pub rtt_ms: Option<f64>,
    /// A short summary of the facts (`HTTP 200`, `svID …`, certificate days left).
    pub info: String,
}

/// The whole report of one check round.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every target probed.
    pub rows: Vec<Row>,
    /// Every service check target run (empty without `[[group]]`).
    pub checks: Vec<CheckRow>,
    /// Newest serial per zone.
    pub newest_serial: BTreeMap<String, u32>,
    /// Nameserver names that could not be resolved (with the error).
    pub resolve_errors: BTreeMap<String, String>,
    /// Overall verdict.
    pub verdict: Verdict,
    /// One-line summary.
    pub summary: String,
}

/// Run one round of probes over every zone/server/address/transport of `config`.
pub async fn run(config: &Config, resolver: &NameResolver) -> Report {
    let mut book = AddressBook::new();
    let now = crate::now_ms();
    let resolved = targets::resolve_names(resolver, targets::names_to_resolve(config)).await;
    let pass = targets::apply(config, &mut book, &resolved, now);
    let mut hosts = HostBook::new();
    targets::apply_hosts(config, &mut hosts, &resolved, now);
    let resolve_errors: BTreeMap<String, String> = pass.failures.into_iter().collect();
    let services = targets::expand_services(config, &hosts);
    let mut checks_set = JoinSet::new();
    for (i, t) in services.iter().enumerate() {
        let (spec, source) = (t.spec.clone(), t.source);
        let deadline = tokio::time::Instant::now() + t.timeout;
        checks_set.spawn(async move { (i, probe::run_from(&spec, source, deadline).await) });
    }
    let targets: Vec<(Arc<str>, TargetKey, ProbeSpec)> = targets::expand(config, &book)
        .into_iter()
        .filter_map(|t| match (t.id, t.spec) {
            (TargetId::Dns { zone, key }, CheckSpec::DnsSoa(spec)) => Some((zone, key, spec)),
            _ => None,
        })
        .collect();
    let mut set = JoinSet::new();
    for (i, (_, _, spec)) in targets.iter().enumerate() {
        let spec = spec.clone();
        set.spawn(async move { (i, probe::probe(&spec).await) });
    }
    let mut outcomes = vec![None; targets.len()];
    while let Some(res) = set.join_next().await {
        if let Ok((i, o)) = res {
            outcomes[i] = Some(o);
        }
    }
    let mut rows = Vec::with_capacity(targets.len());
    for ((zone, key, _), outcome) in targets.iter().zip(outcomes) {
        let slow_after = config
            .zones
            .iter()
            .find(|z| z.name.to_ascii() == **zone)
            .map(|z| z.thresholds.slow_after);
        let mut row = Row {
            zone: zone.to_string(),
            server: key.server.clone(),
            address: key.addr,
            transport: key.transport,
            result: "internal".into(),
            error: Some("probe task failed".into()),
            serial: None,
            rtt_ms: None,
            nsid: None,
            truncated: false,
            lagging: false,
            slow: false,
        };
        match outcome {
            Some(Ok(a)) => {
                row.result = "ok".into();
                row.error = None;
                row.serial = Some(a.serial);
                row.rtt_ms = Some(a.rtt.as_secs_f64() * 1000.0);
                row.nsid = a.nsid;
                row.truncated = a.truncated;
                row.slow = slow_after.is_some_and(|s| a.rtt > s);
            }
            Some(Err(f)) => {
                row.result = f.kind.as_str().into();
                row.error = Some(f.detail);
                row.rtt_ms = f.rtt.map(|d| d.as_secs_f64() * 1000.0);
            }
            None => {}
        }
        rows.push(row);
    }
    let mut check_outcomes = vec![None; services.len()];
    while let Some(res) = checks_set.join_next().await {
        if let Ok((i, o)) = res {
            check_outcomes[i] = Some(o);
        }
    }
    let checks = services
        .iter()
        .zip(check_outcomes)
        .filter_map(|(t, outcome)| {
            let TargetId::Check {
                group,
                component,
                key,
            } = &t.id
            else {
                return None;
            };
            let mut row = CheckRow {
                group: group.to_string(),
                component: component.to_string(),
                kind: key.kind,
                target: key.target.clone(),
                result: "internal".into(),
                error: Some("check task failed".into()),
                rtt_ms: None,
                info: String::new(),
            };
            match outcome {
                Some(Ok(s)) => {
                    row.result = "ok".into();
                    row.error = None;
                    row.rtt_ms = Some(s.rtt.as_secs_f64() * 1000.0);
                    row.info = facts_summary(&s.facts);
                }
                Some(Err(f)) => {
                    row.result = f.reason.as_str().into();
                    row.error = Some(f.detail);
                    row.rtt_ms = f.rtt.map(|d| d.as_secs_f64() * 1000.0);
                    row.info = f
                        .cert
                        .map(|c| format!("cert {}d", c.days_to_expiry))
                        .unwrap_or_default();
                }
                None => {}
            }
            Some(row)
        })
        .collect();
    finish(config, rows, checks, resolve_errors)
}

/// A few words about what a passed check saw, for the table.
fn facts_summary(facts: &Facts) -> String {
    let mut parts = Vec::new();
    match facts {
        Facts::Http(h) => parts.push(format!("HTTP {}", h.status)),
        Facts::Epp(e) => parts.push(format!("svID {}", e.sv_id)),
        Facts::Tls(t) => parts.push(t.version.clone()),
        Facts::Tcp(t) | Facts::Whois(t) => parts.push(format!("{} bytes", t.bytes_read)),
        Facts::DnsSoa(a) => parts.push(format!("serial {}", a.serial)),
    }
    if let Some(c) = facts.cert() {
        parts.push(format!("cert {}d", c.days_to_expiry));
    }
    parts.join(", ")
}

fn finish(
    config: &Config,
    mut rows: Vec<Row>,
    checks: Vec<CheckRow>,
    resolve_errors: BTreeMap<String, String>,
) -> Report {
    let mut newest_serial: BTreeMap<String, u32> = BTreeMap::new();
    for r in &rows {
        if let Some(s) = r.serial {
            newest_serial
                .entry(r.zone.clone())
                .and_modify(|n| {
                    if serial::is_newer(s, *n) {
                        *n = s
                    }
                })
                .or_insert(s);
        }
    }
    for r in &mut rows {
        if let (Some(s), Some(n)) = (r.serial, newest_serial.get(&r.zone)) {
            r.lagging = serial::is_newer(*n, s);
        }
    }
    // Per-server: how many targets, how many answered.
    let mut per_server: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for r in &rows {
        let e = per_server
            .entry((r.zone.clone(), r.server.clone()))
            .or_default();
        e.0 += 1;
        if r.result == "ok" {
            e.1 += 1;
        }
    }
    let mut verdict = Verdict::Ok;
    let mut problems = Vec::new();
    for ((zone, server), (total, ok)) in &per_server {
        if *ok == 0 {
            verdict = verdict.max(Verdict::Critical);
            problems.push(format!("{server} ({zone}) not answering"));
        } else if ok < total {
            verdict = verdict.max(Verdict::Warning);
            problems.push(format!(
                "{server} ({zone}) {}/{} targets failing",
                total - ok,
                total
            ));
        }
    }
    let lagging: Vec<&Row> = rows.iter().filter(|r| r.lagging).collect();
    if !lagging.is_empty() {
        verdict = verdict.max(Verdict::Warning);
        let mut names: Vec<&str> = lagging.iter().map(|r| r.server.as_str()).collect();
        names.dedup();
        problems.push(format!("lagging: {}", names.join(", ")));
    }
    if rows.iter().any(|r| r.slow) {
        verdict = verdict.max(Verdict::Warning);
        problems.push("slow answers".into());
    }
    // Per service component: how many targets, how many passed.
    let mut per_component: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
    for c in &checks {
        let e = per_component
            .entry((c.group.as_str(), c.component.as_str()))
            .or_default();
        e.0 += 1;
        if c.result == "ok" {
            e.1 += 1;
        }
    }
    for ((group, component), (total, ok)) in &per_component {
        if *ok == 0 {
            verdict = verdict.max(Verdict::Critical);
            problems.push(format!("{group}/{component} failing"));
        } else if ok < total {
            verdict = verdict.max(Verdict::Warning);
            problems.push(format!(
                "{group}/{component} {}/{} check targets failing",
                total - ok,
                total
            ));
        }
    }
    for err in resolve_errors.values() {
        verdict = verdict.max(Verdict::Unknown);
        problems.push(err.clone());
    }
    // A zone whose servers all failed resolution has no rows at all.
    for z in &config.zones {
        if !rows.iter().any(|r| r.zone == z.name.to_ascii()) {
            verdict = verdict.max(Verdict::Unknown);
            problems.push(format!("zone {}: nothing to probe", z.name));
        }
    }
    let serials: Vec<String> = newest_serial
        .iter()
        .map(|(z, s)| format!("{z} serial {s}"))
        .collect();
    let ok = rows.iter().filter(|r| r.result == "ok").count();
    let services = if checks.is_empty() {
        String::new()
    } else {
        format!(
            "; {}/{} service checks ok",
            checks.iter().filter(|c| c.result == "ok").count(),
            checks.len()
        )
    };
    let summary = format!(
        "{}: {ok}/{} probes ok{services}; {}{}{}",
        verdict.as_str(),
        rows.len(),
        if serials.is_empty() {
            "no serial".to_string()
        } else {
            serials.join(", ")
        },
        if problems.is_empty() { "" } else { "; " },
        problems.join("; ")
    );
    Report {
        rows,
        checks,
        newest_serial,
        resolve_errors,
        verdict,
        summary,
    }
}

/// Render the report as a plain-text table followed by the one-line verdict.
pub fn render_table(report: &Report) -> String {
    let header = [
        "ZONE",
        "SERVER",
        "ADDRESS",
        "TRANSPORT",
        "RESULT",
        "SERIAL",
        "RTT_MS",
        "NSID",
    ];
    let mut cells: Vec<[String; 8]> = Vec::new();
    for r in &report.rows {
        let mut result = r.result.clone();
        if r.truncated {
            result.push_str(" (tc)");
        }
        cells.push([
            r.zone.clone(),
            r.server.clone(),
            r.address.to_string(),
            r.transport.to_string(),
            result,
            match (r.serial, r.lagging) {
                (Some(s), true) => format!("{s} LAG"),
                (Some(s), false) => s.to_string(),
                (None, _) => "-".into(),
            },
            r.rtt_ms.map_or("-".into(), |v| format!("{v:.3}")),
            r.nsid.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let mut out = aligned(&header, &cells);
    for r in &report.rows {
        if let Some(e) = &r.error {
            let _ = writeln!(out, "# {} {} {}: {}", r.server, r.address, r.transport, e);
        }
    }
    if !report.checks.is_empty() {
        out.push('\n');
        out.push_str(&render_checks(&report.checks));
    }
    out.push_str(&report.summary);
    out.push('\n');
    out
}

/// The service checks as a second table (GROUP, COMPONENT, KIND, TARGET, RESULT,
/// RTT_MS, INFO), then their failure details.
fn render_checks(checks: &[CheckRow]) -> String {
    let header = [
        "GROUP",
        "COMPONENT",
        "KIND",
        "TARGET",
        "RESULT",
        "RTT_MS",
        "INFO",
    ];
    let cells: Vec<[String; 7]> = checks
        .iter()
        .map(|c| {
            [
                c.group.clone(),
                c.component.clone(),
                c.kind.to_string(),
                c.target.clone(),
                c.result.clone(),
                c.rtt_ms.map_or("-".into(), |v| format!("{v:.3}")),
                if c.info.is_empty() {
                    "-".into()
                } else {
                    c.info.clone()
                },
            ]
        })
        .collect();
    let mut out = aligned(&header, &cells);
    for c in checks {
        if let Some(e) = &c.error {
            let _ = writeln!(out, "# {}/{} {}: {}", c.group, c.component, c.target, e);
        }
    }
    out
}

/// `header` and `cells` as left-aligned columns two spaces apart (widths in characters),
/// one line each, trailing spaces trimmed.
fn aligned<const N: usize>(header: &[&str; N], cells: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in cells {
        for (w, c) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |row: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, (c, w)) in row.zip(&widths).enumerate() {
            if i + 1 == N {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in cells {
        line(&mut row.iter().map(String::as_str));
    }
    out
}
