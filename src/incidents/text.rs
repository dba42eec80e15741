//! Incident texts: templates with `{placeholders}`, the defaults, and the rendering of
//! times and durations the way an operator writes them ("2026-06-24 08:39:01 UTC",
//! "26 minutes", "1 h 6 min").
//!
//! Placeholders: `{zone}`, `{served_by}` ("all 7 nameservers", "5 of 7 nameservers"),
//! `{published_at}`, `{serial}`, `{age}`, `{server}`, `{transports}` ("UDP and TCP"),
//! `{addresses}`, `{since}` ("06:40 UTC"), `{others}` (the nameservers published
//! operational, which the zone remains available through), `{component}`, `{group}`,
//! `{status}` ("a major outage"), `{reason}`, `{duration}`. An unknown placeholder is
//! left as written.

use std::collections::BTreeMap;

use crate::status::Status;
use crate::UnixMs;

/// The templates of every incident text; each can be overridden in `[incidents]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    /// Title of a publication stall.
    pub stall_title: String,
    /// First update of a publication stall.
    pub stall_open: String,
    /// Last update of a publication stall.
    pub stall_resolved: String,
    /// Title of an unreachable nameserver.
    pub server_title: String,
    /// First update of an unreachable nameserver.
    pub server_open: String,
    /// Last update of an unreachable nameserver.
    pub server_resolved: String,
    /// Title of any other incident.
    pub component_title: String,
    /// First update of any other incident.
    pub component_open: String,
    /// A later change making a component worse (or different).
    pub component_update: String,
    /// A component operational again while others are still affected.
    pub component_recovered: String,
    /// Last update of any other incident.
    pub component_resolved: String,
}

impl Default for Templates {
    fn default() -> Templates {
        let s = |v: &str| v.to_string();
        Templates {
            stall_title: s("Updates to the {zone} zone are not being published"),
            stall_open: s("updates to the {zone} zone are not being published. The zone is served normally by {served_by}, but the latest published version is from {published_at} (serial {serial}), {age} ago."),
            stall_resolved: s("updates to the {zone} zone are published again (serial {serial}, published {published_at}) after {duration}."),
            server_title: s("Network connectivity issue affecting {server}"),
            server_open: s("{server} is not reachable ({transports}, {addresses}) since {since}. The zone remains available through the other {others} nameservers."),
            server_resolved: s("{server} is reachable again after {duration}."),
            component_title: s("{component}: {status}"),
            component_open: s("{component} has {status}: {reason}."),
            component_update: s("{component} now has {status}: {reason}."),
            component_recovered: s("{component} is operational again."),
            component_resolved: s("all affected components are operational again after {duration}."),
        }
    }
}

impl Templates {
    /// The names accepted in `[incidents]` (config keys), for validation and hints.
    pub const KEYS: [&'static str; 11] = crate::config::INCIDENT_TEMPLATES;

    /// The defaults with `overrides` (key → template) applied; an unknown key is an error
    /// naming it.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<Templates, String> {
        let mut t = Templates::default();
        for (k, v) in overrides {
            let slot = match k.as_str() {
                "stall_title" => &mut t.stall_title,
                "stall_open" => &mut t.stall_open,
                "stall_resolved" => &mut t.stall_resolved,
                "server_title" => &mut t.server_title,
                "server_open" => &mut t.server_open,
                "server_resolved" => &mut t.server_resolved,
                "component_title" => &mut t.component_title,
                "component_open" => &mut t.component_open,
                "component_update" => &mut t.component_update,
                "component_recovered" => &mut t.component_recovered,
                "component_resolved" => &mut t.component_resolved,
                other => {
                    return Err(format!(
                        "unknown incident template {other:?}; the templates are {}",
                        Templates::KEYS.join(", ")
                    ))
                }
            };
            *slot = v.clone();
        }
        Ok(t)
    }
}

/// Fills `{key}` placeholders of `template` from `vars`.
pub fn render(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let key = &after[..close];
                match vars.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `2026-06-24 08:39:01 UTC`.
pub fn datetime(ms: UnixMs) -> String {
    let s = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
    )
    .to_string();
    format!("{} {} UTC", &s[..10], &s[11..19])
}

/// `06:40 UTC` (minutes, as an operator says it).
pub fn clock(ms: UnixMs) -> String {
    let s = datetime(ms);
    format!("{} UTC", &s[11..16])
}

/// An age in words: `45 seconds`, `1 minute`, `26 minutes`, `3 hours`, `2 days`.
pub fn age(ms: u64) -> String {
    let secs = ms / 1000;
    let (n, unit) = if secs < 60 {
        (secs, "second")
    } else if secs < 3600 * 2 {
        (secs / 60, "minute")
    } else if secs < 86_400 * 2 {
        (secs / 3600, "hour")
    } else {
        (secs / 86_400, "day")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// A duration the short way: `45 s`, `26 min`, `1 h 6 min`, `2 d 3 h`.
pub fn duration(ms: u64) -> String {
    let mins = ms / 60_000;
    if mins == 0 {
        return format!("{} s", ms / 1000);
    }
    let (d, h, m) = (mins / 1440, mins % 1440 / 60, mins % 60);
    match (d, h, m) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// A list the way it is written: `a`, `a and b`, `a, b and c`.
pub fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A status as a noun phrase: `degraded performance`, `a partial outage`, `a major outage`.
pub fn status_words(s: Status) -> &'static str {
    match s {
        Status::Operational => "no problems",
        Status::DegradedPerformance => "degraded performance",
        Status::PartialOutage => "a partial outage",
        Status::MajorOutage => "a major outage",
        Status::UnderMaintenance => "maintenance",
        Status::Unknown => "an unknown status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(duration(66 * 60_000), "1 h 6 min");
        assert_eq!(duration(26 * 60_000 + 5000), "26 min");
        assert_eq!(duration(2 * 3_600_000), "2 h");
        assert_eq!(duration(45_000), "45 s");
        assert_eq!(age(26 * 60_000 + 30_000), "26 minutes");
        assert_eq!(age(60_000), "1 minute");
        assert_eq!(and_list(&["UDP".into(), "TCP".into()]), "UDP and TCP");
        assert_eq!(
            and_list(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
        assert_eq!(render("x {a} {b} {c", &[("a", "1".into())]), "x 1 {b} {c");
    }
}
