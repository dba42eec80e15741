//! Parsers for single values: addresses, host and zone names, timestamps.

use std::net::{IpAddr, SocketAddr};
use std::time::UNIX_EPOCH;

use super::hints::TIMESTAMP_HINT;
use crate::UnixMs;

/// `ip`, `ip:port` or `[v6]:port`; the default port is 53.
pub(super) fn parse_address(s: &str) -> Option<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(a);
    }
    let ip = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    ip.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53))
}

/// A zone name without its trailing dot (`""` for the root), or None if it is not a domain name.
pub(super) fn zone_bare_name(given: &str) -> Option<&str> {
    if given == "." {
        return Some("");
    }
    let bare = given.strip_suffix('.').unwrap_or(given);
    is_host_name(bare).then_some(bare)
}

/// Letters, digits, `-` and `_` in dot-separated labels of 1–63 bytes, 253 bytes in all.
pub(super) fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// An RFC 3339 timestamp (TOML datetime or string) → ms since the epoch.
pub(super) fn timestamp(value: &toml::Value) -> Result<UnixMs, String> {
    let dt = match value {
        toml::Value::Datetime(d) => *d,
        toml::Value::String(s) => s
            .trim()
            .parse::<toml::value::Datetime>()
            .map_err(|_| format!("invalid timestamp {s:?}; {TIMESTAMP_HINT}"))?,
        other => {
            return Err(format!(
                "expected a timestamp, found a {}; {TIMESTAMP_HINT}",
                other.type_str()
            ))
        }
    };
    let (Some(date), Some(time), Some(offset)) = (dt.date, dt.time, dt.offset) else {
        return Err(format!(
            "timestamp {dt} needs a date, a time and a UTC offset; {TIMESTAMP_HINT}"
        ));
    };
    let utc = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        date.year, date.month, date.day, time.hour, time.minute, time.second, time.nanosecond
    );
    let t = humantime::parse_rfc3339(&utc)
        .map_err(|e| format!("invalid timestamp {dt} ({e}); {TIMESTAMP_HINT}"))?;
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| format!("timestamp {dt} is before 1970"))?
        .as_millis() as i128;
    let offset_min = match offset {
        toml::value::Offset::Z => 0i128,
        toml::value::Offset::Custom { minutes } => i128::from(minutes),
    };
    UnixMs::try_from(ms - offset_min * 60_000).map_err(|_| format!("timestamp {dt} is before 1970"))
}
