//! Badges: a flat SVG (`/badge/{component}.svg`, `/badge/{component}/uptime.svg`) and
//! the shields.io endpoint JSON (`/badge/{component}.json`, `/badge/{component}/uptime.json`).

use serde::Serialize;

use super::chart::escape;
use crate::status::Status;

/// Badge colour of a status (the page's palette).
pub fn color(s: Status) -> &'static str {
    match s {
        Status::Operational => "#2b8a3e",
        Status::DegradedPerformance => "#b08800",
        Status::PartialOutage => "#d9480f",
        Status::MajorOutage => "#c92a2a",
        Status::UnderMaintenance => "#1864ab",
        Status::Unknown => "#6c757d",
    }
}

/// Colour of an uptime share (0..=1).
pub fn uptime_color(share: f64) -> &'static str {
    if share >= 0.999 {
        "#2b8a3e"
    } else if share >= 0.99 {
        "#b08800"
    } else if share >= 0.95 {
        "#d9480f"
    } else {
        "#c92a2a"
    }
}

/// An uptime share as a badge/page figure: `99.95%` (two decimals, never rounded up to 100).
pub fn percent(share: f64) -> String {
    let p = (share * 10_000.0).floor() / 100.0;
    format!("{p:.2}%")
}

/// Approximate width in pixels of `text` in 11 px Verdana (the shields.io font).
fn text_width(text: &str) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'l' | '.' | ',' | ':' | '\'' | '|' | '!' => 3.5,
            'm' | 'w' | 'M' | 'W' | '%' => 10.0,
            c if c.is_ascii_uppercase() => 8.0,
            ' ' => 4.0,
            _ => 7.0,
        })
        .sum()
}

/// A flat two-part badge: `label` on grey, `message` on `color`.
pub fn svg(label: &str, message: &str, color: &str) -> String {
    let lw = text_width(label) + 12.0;
    let mw = text_width(message) + 12.0;
    let total = lw + mw;
    let (label, message) = (escape(label), escape(message));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total:.0}\" height=\"20\" role=\"img\" \
         aria-label=\"{label}: {message}\"><title>{label}: {message}</title>\
         <rect width=\"{lw:.0}\" height=\"20\" fill=\"#555\"/>\
         <rect x=\"{lw:.0}\" width=\"{mw:.0}\" height=\"20\" fill=\"{color}\"/>\
         <g fill=\"#fff\" font-family=\"Verdana,DejaVu Sans,sans-serif\" font-size=\"11\" text-anchor=\"middle\">\
         <text x=\"{:.1}\" y=\"14\">{label}</text><text x=\"{:.1}\" y=\"14\">{message}</text></g></svg>",
        lw / 2.0,
        lw + mw / 2.0
    )
}

/// The shields.io endpoint document (<https://shields.io/badges/endpoint-badge>).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// Always 1.
    pub schema_version: u8,
    /// Left text.
    pub label: String,
    /// Right text.
    pub message: String,
    /// Right colour.
    pub color: String,
}

impl Endpoint {
    /// A shields.io endpoint document.
    pub fn new(label: &str, message: &str, color: &str) -> Endpoint {
        Endpoint {
            schema_version: 1,
            label: label.to_string(),
            message: message.to_string(),
            color: color.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_never_rounds_up_to_full() {
        assert_eq!(percent(0.99999), "99.99%");
        assert_eq!(percent(1.0), "100.00%");
        assert_eq!(percent(0.5), "50.00%");
    }

    #[test]
    fn badge_escapes_and_sizes() {
        let s = svg("a&b", "major outage", color(Status::MajorOutage));
        assert!(s.contains("a&amp;b: major outage"));
        assert!(s.contains("#c92a2a"));
        let wide = svg("a.nic.dk", "degraded performance", "#000");
        let narrow = svg("a.nic.dk", "up", "#000");
        let w = |s: &str| -> f64 {
            s.split("width=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        assert!(w(&wide) > w(&narrow) + 50.0);
    }
}
