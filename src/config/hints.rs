//! Help for errors the serde layer reports (wrong type, unknown key, missing key):
//! which table the error is in (`zone "dk.": `), what to write for a key, and the
//! closest known key for a misspelt one.
//!
//! The serde layer only knows the key and the expected Rust type; these helpers turn
//! that into the words a person editing the file needs.

/// What to write for `key`, by the kind of value it takes; None for keys without a fixed shape.
pub(super) fn what_to_write(key: &str, found: Option<&str>) -> Option<String> {
    let hint = match key {
        "interval" | "timeout" | "refresh" | "request_timeout" | "save_interval" | "retention"
        | "minute_retention" | "stale_after" | "slow_after" | "lag_after" | "rrsig_warn_before"
        | "stats_window" | "confirm_after" | "clear_after" | "rollback_after"
        | "cert_warn_before" => {
            // `interval = 10`: show the fix with the number the user wrote.
            let example = found
                .and_then(|f| f.trim_matches('`').parse::<u64>().ok())
                .map(|n| format!(" (for {n} seconds: {key} = \"{n}s\")"))
                .unwrap_or_default();
            format!("{DURATION_HINT}{example}")
        }
        "servers" | "addresses" => format!("write a list of addresses: [{ADDRESS_EXAMPLES}]"),
        "listen" => "write ip:port in quotes, like \"127.0.0.1:9853\" or \"[::1]:9853\"".into(),
        "enable_reload" | "dnssec" | "nsid" => "write true or false (no quotes)".into(),
        "stale_min_samples" | "fail_after" | "recover_after" | "window" | "min_samples" => {
            "write a whole number of at least 1 (no quotes), like 3".into()
        }
        "loss_after" | "partial_outage_share" => {
            "write a share between 0 and 1 (no quotes), like 0.5".into()
        }
        "port" => "write a port number (no quotes), like 43".into(),
        "max_read" | "max_body" | "max_frame" | "max_redirects" => {
            "write a whole number (no quotes), like 65536".into()
        }
        "insecure_skip_verify" => "write true or false (no quotes)".into(),
        "kind" => "write kind = \"tcp\", \"tls\", \"http\", \"whois\" or \"epp\"".into(),
        "host" | "url" | "query" | "send" | "expect" | "body" | "server_name" | "ca_file"
        | "client_cert" | "client_key" | "expect_status" | "address" => {
            "write a string in quotes".into()
        }
        "stale_factor" => "write a number greater than 1 (no quotes), like 3.0".into(),
        "transports" => "write a list like [\"udp\", \"tcp\"]".into(),
        "components" => "write a list of component names like [\"a.nic.dk\"]".into(),
        "start" | "end" => TIMESTAMP_HINT.to_string(),
        "name" | "component" | "reason" | "path" => "write a string in quotes".into(),
        _ => return None,
    };
    Some(hint)
}

/// How to write a duration.
pub(super) const DURATION_HINT: &str = "write a duration like \"10s\", \"500ms\", \"2m\" or \"2d\"";
/// Example addresses in every accepted form.
const ADDRESS_EXAMPLES: &str = "\"192.0.2.1\", \"192.0.2.1:5300\", \"[2001:db8::1]:5300\"";
/// How to write an address.
pub(super) const ADDRESS_HINT: &str =
    "write an IP address, optionally with a port: \"192.0.2.1\", \"192.0.2.1:5300\", \"[2001:db8::1]:5300\"";
/// How to write a timestamp.
pub(super) const TIMESTAMP_HINT: &str = "write an RFC 3339 timestamp with a UTC offset, like \"2026-06-16T06:00:00Z\" or \"2026-06-16T08:00:00+02:00\"";

/// The known key closest to `unknown` (case-insensitive edit distance), if it is close
/// enough to be a plausible typo: at most a third of the longer key's length (at least 1).
pub(super) fn closest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let u = unknown.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&u, &k.to_ascii_lowercase()), *k))
        .filter(|(d, k)| *d <= (u.chars().count().max(k.chars().count()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions and
/// transpositions of adjacent characters each cost 1.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j] = distance between a[..i] and b[..j]; three rows suffice.
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The keys listed in a serde "unknown field `x`, expected one of `a`, `b`" message.
pub(super) fn expected_keys(message: &str) -> Vec<&str> {
    let Some((_, list)) = message.split_once("expected") else {
        return Vec::new();
    };
    list.split('`').skip(1).step_by(2).collect()
}

/// The backquoted name in a serde message (`unknown field `x`` → `x`).
pub(super) fn first_quoted(message: &str) -> Option<&str> {
    message.split('`').nth(1)
}

/// Which table `offset` is in, as the prefix validation errors use: `[http] `,
/// `zone "dk.": `, `zone "dk.": nameserver "a.nic.dk": `, `maintenance #2: `, or "" at top level.
///
/// A line-based reading of the text (table headers and `name = "..."` lines); good
/// enough for a hint, and only used when the serde layer has already rejected the file.
pub(super) fn table_context(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let mut zone: Option<String> = None;
    let mut nameserver: Option<String> = None;
    let mut maintenance = 0usize;
    let mut group: Option<String> = None;
    let mut component: Option<String> = None;
    let mut check = 0usize;
    let mut current = String::new();
    let mut pos = 0usize;
    for line in text.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        let t = line.trim();
        if t.starts_with('[') {
            if start > offset {
                break;
            }
            let header = t.split('#').next().unwrap_or("").trim();
            let kind = match header {
                "[[zone]]" => {
                    zone = name_in_table(&text[pos..]).map(|n| fq(&n));
                    nameserver = None;
                    "zone"
                }
                "[[zone.nameservers]]" => {
                    nameserver = name_in_table(&text[pos..]);
                    "nameserver"
                }
                "[[maintenance]]" => {
                    maintenance += 1;
                    "maintenance"
                }
                "[[canary]]" => "canary",
                "[[peer]]" => "peer",
                "[[group]]" => {
                    group = name_in_table(&text[pos..]);
                    component = None;
                    "group"
                }
                "[[group.component]]" => {
                    component = name_in_table(&text[pos..]);
                    check = 0;
                    "component"
                }
                "[[group.component.check]]" => {
                    check += 1;
                    "check"
                }
                "[http]" => "http",
                "[state]" => "state",
                "[store]" => "store",
                "[resolver]" => "resolver",
                "[vantage]" => "vantage",
                "[page]" => "page",
                _ => "other",
            };
            current = match kind {
                "zone" => zone_prefix(&zone),
                "nameserver" => format!(
                    "{}nameserver {:?}: ",
                    zone_prefix(&zone),
                    nameserver.clone().unwrap_or_default()
                ),
                "maintenance" => format!("maintenance #{maintenance}: "),
                "canary" => "canary: ".to_string(),
                "peer" => "peer: ".to_string(),
                "group" => format!("group {:?}: ", group.clone().unwrap_or_default()),
                "component" => format!(
                    "group {:?}: component {:?}: ",
                    group.clone().unwrap_or_default(),
                    component.clone().unwrap_or_default()
                ),
                "check" => format!(
                    "group {:?}: component {:?}: check #{check}: ",
                    group.clone().unwrap_or_default(),
                    component.clone().unwrap_or_default()
                ),
                "other" => String::new(),
                h => format!("[{h}] "),
            };
        }
    }
    current
}

fn zone_prefix(zone: &Option<String>) -> String {
    match zone {
        Some(z) => format!("zone \"{z}\": "),
        None => "zone: ".into(),
    }
}

fn fq(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// The `name = "..."` value in the table starting at `rest` (up to the next header).
fn name_in_table(rest: &str) -> Option<String> {
    for line in rest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            return None;
        }
        if let Some((k, v)) = t.split_once('=') {
            if k.trim() == "name" {
                let v = v.trim();
                let v = v.strip_prefix('"')?;
                return v.split('"').next().map(str::to_string);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_typos() {
        assert_eq!(edit_distance("timeout", "timeout"), 0);
        assert_eq!(edit_distance("timout", "timeout"), 1);
        assert_eq!(edit_distance("tiemout", "timeout"), 1);
        assert_eq!(edit_distance("intervall", "interval"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn closest_only_suggests_plausible_typos() {
        let keys = ["name", "interval", "timeout", "nameservers"];
        assert_eq!(closest("timout", &keys), Some("timeout"));
        assert_eq!(closest("Intervall", &keys), Some("interval"));
        assert_eq!(closest("nameserver", &keys), Some("nameservers"));
        assert_eq!(closest("adress", &["name", "addresses"]), Some("addresses"));
        assert_eq!(closest("colour", &keys), None);
        assert_eq!(closest("x", &keys), None);
    }

    #[test]
    fn table_context_follows_headers() {
        let t = "[http]\nlisten = 1\n[[zone]]\nname = \"dk\"\ninterval = 1\n[[zone.nameservers]]\nname = \"a.nic.dk\"\nx = 1\n[[maintenance]]\ny = 1\n";
        let at = |needle: &str| table_context(t, t.find(needle).unwrap());
        assert_eq!(at("listen"), "[http] ");
        assert_eq!(at("interval"), "zone \"dk.\": ");
        assert_eq!(at("x = 1"), "zone \"dk.\": nameserver \"a.nic.dk\": ");
        assert_eq!(at("y = 1"), "maintenance #1: ");
        assert_eq!(table_context("a = 1\n", 0), "");
    }
}
