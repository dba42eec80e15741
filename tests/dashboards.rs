//! Checks the Grafana dashboard and the Prometheus alert rules against the metric
//! contract in `nsprobe::metrics::FAMILIES`, and runs the rules' promtool unit tests.
//!
//! `promtool` comes from the Debian package `prometheus`. Without it the promtool test
//! prints a skip line, unless `NSPROBE_REQUIRE_TOOLS=1` (set by CI), where it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use nsprobe::metrics::{Family, Kind, FAMILIES};

const DASHBOARD: &str = "dashboards/nsprobe.json";
const ALERTS: &str = "dashboards/alerts.yml";
const ALERT_TESTS: &str = "dashboards/alerts.test.yml";

/// Labels Prometheus adds: the scrape target's, and `vantage`, the external label of the
/// several-vantages recipe (README "Several vantage points").
const TARGET_LABELS: &[&str] = &["job", "instance", "vantage"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// One reference to an nsprobe metric: its name and the label names of its selector
/// (`name{label="..."}`), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    name: String,
    labels: Vec<String>,
}

/// Every `nsprobe_[a-z0-9_]+` in `text` (not preceded by an identifier character),
/// with the label names of a selector that directly follows it.
fn references(text: &str) -> Vec<Reference> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find("nsprobe_") {
        let start = from + pos;
        from = start + "nsprobe_".len();
        if start > 0 && is_ident(bytes[start - 1] as char) {
            continue;
        }
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .map_or(text.len(), |n| start + n);
        let name = text[start..end].to_string();
        let labels = if text[end..].starts_with('{') {
            selector_labels(&text[end + 1..])
        } else {
            Vec::new()
        };
        from = end;
        out.push(Reference { name, labels });
    }
    out
}

/// Label names of a selector body (`a="x", b=~"y"}`...), up to the closing brace.
fn selector_labels(body: &str) -> Vec<String> {
    let mut labels = Vec::new();
    let mut chars = body.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        match chars.peek() {
            None | Some('}') => return labels,
            _ => {}
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if !is_ident(c) {
                break;
            }
            name.push(c);
            chars.next();
        }
        if name.is_empty() {
            return labels; // not a selector we understand; what was read so far stands
        }
        labels.push(name);
        // operator, then a quoted value
        while chars.peek().is_some_and(|c| *c != '"') {
            chars.next();
        }
        chars.next();
        let mut escaped = false;
        for c in chars.by_ref() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => break,
                _ => {}
            }
        }
    }
}

/// The family a referenced name belongs to: the exact name, or a histogram's
/// `_bucket`/`_sum`/`_count` series. Returns the family and the extra labels allowed.
fn resolve(name: &str) -> Option<(&'static Family, &'static [&'static str])> {
    if let Some(f) = FAMILIES.iter().find(|f| f.name == name) {
        return Some((f, &[]));
    }
    for (suffix, extra) in [
        ("_bucket", &["le"][..]),
        ("_sum", &[][..]),
        ("_count", &[][..]),
    ] {
        if let Some(base) = name.strip_suffix(suffix) {
            if let Some(f) = FAMILIES
                .iter()
                .find(|f| f.name == base && f.kind == Kind::Histogram)
            {
                return Some((f, extra));
            }
        }
    }
    None
}

/// Problems of the references: unknown metric names and labels not in the family.
fn problems(source: &str, refs: &[Reference]) -> Vec<String> {
    let mut out = Vec::new();
    for r in refs {
        match resolve(&r.name) {
            None => out.push(format!(
                "{source}: `{}` is not a metric family in nsprobe::metrics::FAMILIES",
                r.name
            )),
            Some((family, extra)) => {
                for label in &r.labels {
                    let known = family.labels.contains(&label.as_str())
                        || extra.contains(&label.as_str())
                        || TARGET_LABELS.contains(&label.as_str());
                    if !known {
                        out.push(format!(
                            "{source}: `{}` has no label `{label}` (labels: {:?})",
                            r.name, family.labels
                        ));
                    }
                }
            }
        }
    }
    out
}

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&read(DASHBOARD)).expect("dashboards/nsprobe.json is not valid JSON")
}

/// Every string value in a JSON document.
fn json_strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(o) => o.values().for_each(|v| json_strings(v, out)),
        _ => {}
    }
}

fn dashboard_references() -> Vec<Reference> {
    let d = dashboard();
    let mut strings = Vec::new();
    json_strings(&d, &mut strings);
    strings.iter().flat_map(|s| references(s)).collect()
}

fn names(refs: &[Reference]) -> BTreeSet<&str> {
    refs.iter().map(|r| r.name.as_str()).collect()
}

#[test]
fn extraction_and_resolution_catch_unknown_names_and_labels() {
    let refs = references(
        r#"rate(nsprobe_probe_duration_seconds_bucket{zone=~"$zone", le!="x\"}"}[5m]) / nsprobe_bogus_total
           and nsprobe_target_up{zone="a,b", colour="red"} and xnsprobe_ignored"#,
    );
    assert_eq!(
        refs,
        vec![
            Reference {
                name: "nsprobe_probe_duration_seconds_bucket".into(),
                labels: vec!["zone".into(), "le".into()],
            },
            Reference {
                name: "nsprobe_bogus_total".into(),
                labels: vec![],
            },
            Reference {
                name: "nsprobe_target_up".into(),
                labels: vec!["zone".into(), "colour".into()],
            },
        ]
    );
    let p = problems("test", &refs);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].contains("nsprobe_bogus_total"), "{p:?}");
    assert!(p[1].contains("colour"), "{p:?}");

    assert!(resolve("nsprobe_probe_duration_seconds_sum").is_some());
    assert!(resolve("nsprobe_probe_duration_seconds_count").is_some());
    assert!(resolve("nsprobe_probe_duration_seconds").is_some());
    // Only histograms have _bucket/_sum/_count series.
    assert!(resolve("nsprobe_probes_total_bucket").is_none());
    assert!(resolve("nsprobe_zone_stale_count").is_none());
    assert!(resolve("nsprobe_probe_duration").is_none());
}

#[test]
fn dashboard_metrics_are_in_the_contract() {
    let refs = dashboard_references();
    let used = names(&refs);
    for expected in [
        "nsprobe_zone_serial_age_seconds",
        "nsprobe_zone_stale",
        "nsprobe_probe_duration_seconds_bucket",
        "nsprobe_probes_total",
        "nsprobe_server_soa_serial",
        "nsprobe_server_serial_lag",
        "nsprobe_server_serial_lag_seconds",
        "nsprobe_serial_propagation_seconds_bucket",
        "nsprobe_component_status",
        "nsprobe_soa_rrsig_expiration_timestamp_seconds",
    ] {
        assert!(used.contains(expected), "dashboard does not use {expected}");
    }
    let p = problems(DASHBOARD, &refs);
    assert!(p.is_empty(), "{}", p.join("\n"));
}

#[test]
fn alert_metrics_are_in_the_contract() {
    let refs = references(&read(ALERTS));
    let used = names(&refs);
    for expected in [
        "nsprobe_zone_stale",
        "nsprobe_target_up",
        "nsprobe_maintenance",
        "nsprobe_server_serial_lag_seconds",
        "nsprobe_probe_duration_seconds_bucket",
        "nsprobe_soa_rrsig_expiration_timestamp_seconds",
        "nsprobe_config_last_reload_successful",
        "nsprobe_vantage_up",
        "nsprobe_zone_serial_rollbacks_total",
        "nsprobe_check_up",
        "nsprobe_tls_cert_expiry_timestamp_seconds",
    ] {
        assert!(
            used.contains(expected),
            "alerts.yml does not use {expected}"
        );
    }
    let p = problems(ALERTS, &refs);
    assert!(p.is_empty(), "{}", p.join("\n"));
}

/// `- alert: Name` lines of the rule file.
fn alert_names(rules: &str) -> Vec<String> {
    rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert:"))
        .map(|n| n.trim().to_string())
        .collect()
}

#[test]
fn every_alert_has_unit_tests_severity_and_annotations() {
    let rules = read(ALERTS);
    let tests = read(ALERT_TESTS);
    let alerts = alert_names(&rules);
    for expected in [
        "NsprobeZoneSerialStale",
        "NsprobeNameserverDown",
        "NsprobeNameserverPartiallyDown",
        "NsprobeNameserverLagging",
        "NsprobeSlowResponses",
        "NsprobeSoaRrsigExpiring",
        "NsprobeConfigReloadFailed",
        "NsprobeAbsent",
        "NsprobeVantageDown",
        "NsprobeZoneSerialRollback",
        "NsprobeServiceComponentDown",
        "NsprobeTlsCertExpiring",
    ] {
        assert!(alerts.iter().any(|a| a == expected), "no alert {expected}");
    }
    for alert in &alerts {
        let needle = format!("alertname: {alert}\n");
        let count = tests.matches(&needle).count();
        assert!(
            count >= 2,
            "{alert}: needs unit tests in {ALERT_TESTS} (before and after its `for:`), found {count}"
        );
        // The rule's own block: from its `- alert:` line to the next rule.
        let start = rules.find(&format!("- alert: {alert}\n")).unwrap();
        let block = &rules[start..];
        let block = &block[..block[2..].find("- alert:").map_or(block.len(), |n| n + 2)];
        for key in ["for:", "severity:", "summary:", "description:"] {
            assert!(block.contains(key), "{alert}: no `{key}`");
        }
    }
}

#[test]
fn dashboard_structure() {
    let d = dashboard();
    let schema = d["schemaVersion"].as_u64().expect("schemaVersion");
    assert!(schema >= 36, "schemaVersion {schema} too old");
    assert!(d["uid"].as_str().is_some_and(|u| !u.is_empty()), "uid");

    let vars = d["templating"]["list"].as_array().expect("templating.list");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no template variable `{name}`"))
    };
    let ds = var("datasource");
    assert_eq!(ds["type"], "datasource");
    assert_eq!(ds["query"], "prometheus");
    let zone = var("zone");
    assert_eq!(zone["type"], "query");
    assert_eq!(
        zone["query"]["query"],
        "label_values(nsprobe_zone_soa_serial{vantage=~\"$vantage\"}, zone)"
    );
    assert_eq!(zone["datasource"]["uid"], "${datasource}");
    // The vantage variable (external label of the several-vantages recipe): All must
    // also match series without the label (a single vantage).
    let vantage = var("vantage");
    assert_eq!(
        vantage["query"]["query"],
        "label_values(nsprobe_build_info, vantage)"
    );
    assert_eq!(vantage["allValue"], ".*");
    assert_eq!(vantage["includeAll"], true);

    let panels = d["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    let mut types: BTreeMap<&str, usize> = BTreeMap::new();
    let mut queries = 0;
    for p in panels {
        let title = p["title"].as_str().unwrap_or("?");
        let id = p["id"].as_u64().unwrap_or_else(|| panic!("{title}: no id"));
        assert!(ids.insert(id), "duplicate panel id {id}");
        let ty = p["type"]
            .as_str()
            .unwrap_or_else(|| panic!("{title}: no type"));
        for k in ["h", "w", "x", "y"] {
            assert!(p["gridPos"][k].is_u64(), "{title}: gridPos.{k}");
        }
        if ty == "row" {
            continue;
        }
        *types.entry(ty).or_default() += 1;
        assert_eq!(
            p["datasource"]["uid"], "${datasource}",
            "{title}: datasource"
        );
        let targets = p["targets"].as_array();
        let targets = targets.unwrap_or_else(|| panic!("{title}: no targets"));
        assert!(!targets.is_empty(), "{title}: no targets");
        for t in targets {
            let expr = t["expr"].as_str().unwrap_or("");
            assert!(
                expr.contains("nsprobe_"),
                "{title}: target without an nsprobe query: {t}"
            );
            assert_eq!(
                t["datasource"]["uid"], "${datasource}",
                "{title}: target datasource"
            );
            queries += 1;
        }
    }
    assert!(queries >= 10, "only {queries} queries");
    for ty in ["stat", "timeseries", "state-timeline"] {
        assert!(types.contains_key(ty), "no {ty} panel: {types:?}");
    }
}

fn on_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

fn run(tool: &Path, args: &[&str]) {
    let out = Command::new(tool)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", tool.display()));
    assert!(
        out.status.success(),
        "{} {} failed ({}):\n{}{}",
        tool.display(),
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alert_rules_pass_promtool() {
    let Some(promtool) = on_path("promtool") else {
        if std::env::var("NSPROBE_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("promtool not on PATH but NSPROBE_REQUIRE_TOOLS=1 (apt-get install prometheus)");
        }
        // Written to stderr directly so that it shows even when the test output is captured.
        let _ = writeln!(
            std::io::stderr(),
            "SKIP alert_rules_pass_promtool: promtool not on PATH (apt-get install prometheus; \
             NSPROBE_REQUIRE_TOOLS=1 makes this a failure)"
        );
        return;
    };
    run(&promtool, &["check", "rules", ALERTS]);
    run(&promtool, &["check", "config", "contrib/prometheus.yml"]);
    run(&promtool, &["test", "rules", ALERT_TESTS]);
    run(
        &promtool,
        &["check", "rules", "dashboards/alerts-vantages.yml"],
    );
    run(
        &promtool,
        &["test", "rules", "dashboards/alerts-vantages.test.yml"],
    );
}

#[test]
fn vantage_rules_use_exported_families_and_are_tested() {
    let rules = read("dashboards/alerts-vantages.yml");
    let tests = read("dashboards/alerts-vantages.test.yml");
    for family in ["nsprobe_target_up", "nsprobe_peer_up"] {
        assert!(
            nsprobe::metrics::FAMILIES.iter().any(|f| f.name == family),
            "{family} is not exported"
        );
        assert!(
            rules.contains(family),
            "alerts-vantages.yml does not use {family}"
        );
    }
    let alerts = alert_names(&rules);
    for expected in [
        "NsprobeNameserverDownQuorum",
        "NsprobeNameserverDownSomeVantages",
        "NsprobePeerDown",
    ] {
        assert!(alerts.iter().any(|a| a == expected), "no alert {expected}");
    }
    for alert in &alerts {
        let needle = format!("alertname: {alert}\n");
        assert!(
            tests.matches(&needle).count() >= 2,
            "{alert}: needs unit tests before and after its `for:`"
        );
    }
}
