//! Response-time charts as inline SVG, drawn on the server (no script needed).

use std::fmt::Write as _;

use super::view::{ChartPoint, VantageLine};
use crate::UnixMs;

/// Width of the chart's coordinate system (it scales to the page width).
pub const WIDTH: f64 = 600.0;
/// Height of the chart's coordinate system.
pub const HEIGHT: f64 = 150.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 594.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 124.0;

/// A round upper bound for the y axis (1, 2, 5 × 10ⁿ ms), at least 1 ms.
pub fn y_max(max: f64) -> f64 {
    let mut scale = 1.0;
    loop {
        for m in [1.0, 2.0, 5.0] {
            if max <= m * scale {
                return m * scale;
            }
        }
        scale *= 10.0;
    }
}

/// The SVG of one chart: median response time per point over `[now - span_ms, now]`,
/// the line broken where nothing answered, failures as red marks along the bottom.
/// `label` names the server in the accessible title. On a hub, `others` are the other
/// vantages' lines, drawn over it each in its own colour and dash pattern ([`STYLES`]).
pub fn svg(
    label: &str,
    points: &[ChartPoint],
    others: &[VantageLine],
    now: UnixMs,
    span_ms: u64,
    step_ms: u64,
) -> String {
    let from = now.saturating_sub(span_ms);
    let x = |t: UnixMs| LEFT + (t.saturating_sub(from) as f64 / span_ms as f64) * (RIGHT - LEFT);
    let shown: Vec<&ChartPoint> = points.iter().filter(|p| p.start >= from).collect();
    let medians: Vec<f64> = shown.iter().filter_map(|p| p.median_ms).collect();
    let max = others
        .iter()
        .flat_map(|l| &l.points)
        .filter(|p| p.start >= from)
        .filter_map(|p| p.median_ms)
        .chain(medians.iter().copied())
        .fold(0.0, f64::max);
    let top = y_max(max);
    let y = |ms: f64| BOTTOM - (ms / top).min(1.0) * (BOTTOM - TOP);
    let words = span_words(span_ms);
    let mut title = format!(
        "Response time of {} over the last {}: ",
        escape(label),
        words.0
    );
    if medians.is_empty() {
        title.push_str("no answers yet");
    } else {
        let mean = medians.iter().sum::<f64>() / medians.len() as f64;
        let _ = write!(title, "average {mean:.1} ms, highest {max:.1} ms");
    }
    for l in others {
        let m: Vec<f64> = l
            .points
            .iter()
            .filter(|p| p.start >= from)
            .filter_map(|p| p.median_ms)
            .collect();
        if !m.is_empty() {
            let mean = m.iter().sum::<f64>() / m.len() as f64;
            let _ = write!(title, "; from {}: average {mean:.1} ms", escape(&l.vantage));
        }
    }
    let mut s = String::with_capacity(4096);
    // The script reads the values back from the drawing (the path's points, `data-top`
    // the y axis' top): no second copy of the series in the page.
    let _ = write!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"{title}\" data-from=\"{from}\" data-span=\"{span_ms}\" data-step=\"{step_ms}\" \
         data-top=\"{top}"
    );
    s.push_str("\"><title>");
    s.push_str(&title);
    s.push_str("</title>");
    // Grid and labels.
    for (v, label) in [(0.0, "0"), (top / 2.0, ""), (top, "")] {
        let yy = y(v);
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{RIGHT}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\"/>"
        );
        let text = if label.is_empty() {
            format!("{} ms", fmt_ms(v))
        } else {
            label.to_string()
        };
        let _ = write!(
            s,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{text}</text>",
            LEFT - 4.0,
            yy + 4.0
        );
    }
    for (frac, text) in [(0.0, words.1), (0.5, words.2), (1.0, "now")] {
        let anchor = match frac {
            f if f >= 1.0 => "end",
            f if f <= 0.0 => "start",
            _ => "middle",
        };
        let _ = write!(
            s,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{text}</text>",
            LEFT + frac * (RIGHT - LEFT),
            HEIGHT - 6.0
        );
    }
    // The line: a new subpath after every gap (a point without answers, or missing steps).
    let (d, dots) = trace(&shown, step_ms, &x, &y);
    if !d.is_empty() {
        let _ = write!(s, "<path class=\"line\" d=\"{d}\"/>");
    }
    s.push_str(&dots);
    for (i, l) in others.iter().enumerate() {
        let (colour, dash) = STYLES[i % STYLES.len()];
        let pts: Vec<&ChartPoint> = l.points.iter().filter(|p| p.start >= from).collect();
        let (d, dots) = trace(&pts, step_ms, &x, &y);
        let _ = write!(
            s,
            "<g class=\"vl\" data-vantage=\"{}\" fill=\"none\" stroke=\"{colour}\" \
             stroke-width=\"1.5\" stroke-dasharray=\"{dash}\"><title>{}</title>",
            escape(&l.vantage),
            escape(&l.vantage)
        );
        if !d.is_empty() {
            let _ = write!(
                s,
                "<path d=\"{d}\" vector-effect=\"non-scaling-stroke\" stroke-linejoin=\"round\"/>"
            );
        }
        // Isolated points: hollow markers in the line's colour.
        s.push_str(&dots.replace("class=\"pt\"", "fill=\"none\" stroke-dasharray=\"none\""));
        s.push_str("</g>");
    }
    // Failures: a red mark whose height is the failed share.
    let w = ((step_ms as f64 / span_ms as f64) * (RIGHT - LEFT)).max(1.0);
    for p in shown.iter().filter(|p| p.failures > 0) {
        let share = f64::from(p.failures) / f64::from(p.probes.max(1));
        let h = 4.0 + share * 12.0;
        let _ = write!(
            s,
            "<rect class=\"fail\" x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{h:.1}\"/>",
            x(p.start),
            BOTTOM - h
        );
    }
    s.push_str("</svg>");
    s
}

/// Other vantages' lines on a hub's chart: (colour, dash pattern), by position; the
/// dash patterns tell them apart without colour. This vantage's line stays solid.
pub const STYLES: [(&str, &str); 4] = [
    ("#e8590c", "6 3"),
    ("#7048e8", "2 3"),
    ("#2f9e44", "9 3 2 3"),
    ("#c2255c", "1 5"),
];

/// A legend sample of a line: `style` `None` is this vantage's solid line, `Some(i)` the
/// `i`th other vantage's ([`STYLES`]).
pub fn swatch(style: Option<usize>) -> String {
    let stroke = match style {
        None => "stroke=\"currentColor\" style=\"stroke:var(--chart)\"".to_string(),
        Some(i) => {
            let (colour, dash) = STYLES[i % STYLES.len()];
            format!("stroke=\"{colour}\" stroke-dasharray=\"{dash}\"")
        }
    };
    format!(
        "<svg width=\"30\" height=\"8\" viewBox=\"0 0 30 8\" aria-hidden=\"true\">\
         <line x1=\"0\" y1=\"4\" x2=\"30\" y2=\"4\" stroke-width=\"2\" {stroke}/></svg>"
    )
}

/// A line's path data (a new subpath after every gap: a point without answers, or
/// missing steps) and dots for points that stand alone.
fn trace(
    shown: &[&ChartPoint],
    step_ms: u64,
    x: &dyn Fn(UnixMs) -> f64,
    y: &dyn Fn(f64) -> f64,
) -> (String, String) {
    let mut d = String::new();
    let mut prev: Option<UnixMs> = None;
    let mut dots = String::new();
    for (i, p) in shown.iter().enumerate() {
        match p.median_ms {
            Some(m) => {
                let joined = prev.is_some_and(|t| p.start.saturating_sub(t) <= step_ms);
                let next_joined = shown.get(i + 1).is_some_and(|n| {
                    n.median_ms.is_some() && n.start.saturating_sub(p.start) <= step_ms
                });
                if !joined && !next_joined {
                    // An isolated point: a line needs two, so draw a dot.
                    let _ = write!(
                        dots,
                        "<circle class=\"pt\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"/>",
                        x(p.start + step_ms / 2),
                        y(m)
                    );
                }
                // After `M`, further pairs are implicit line-tos (SVG paths): no `L` each.
                let _ = write!(
                    d,
                    "{}{:.0} {:.1}",
                    if joined { " " } else { "M" },
                    x(p.start + step_ms / 2),
                    y(m)
                );
                prev = Some(p.start);
            }
            None => prev = None,
        }
    }
    (d, dots)
}

/// (span in words, "… ago" at the left edge, "… ago" in the middle).
fn span_words(span_ms: u64) -> (&'static str, &'static str, &'static str) {
    match span_ms / 3_600_000 {
        0..=24 => ("24 hours", "24 h ago", "12 h ago"),
        25..=168 => ("7 days", "7 d ago", "3.5 d ago"),
        _ => ("30 days", "30 d ago", "15 d ago"),
    }
}

fn fmt_ms(v: f64) -> String {
    if v >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Escape text for an XML attribute or element.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(min: u64, ms: Option<f64>, failures: u32) -> ChartPoint {
        ChartPoint {
            start: min * 60_000,
            median_ms: ms,
            probes: 10,
            failures,
        }
    }

    #[test]
    fn y_axis_rounds_up() {
        assert_eq!(y_max(0.0), 1.0);
        assert_eq!(y_max(1.3), 2.0);
        assert_eq!(y_max(4.9), 5.0);
        assert_eq!(y_max(51.0), 100.0);
    }

    #[test]
    fn line_breaks_at_gaps_and_failures_are_marked() {
        let now = 100 * 60_000;
        let pts = [
            p(80, Some(1.0), 0),
            p(85, Some(2.0), 0),
            p(90, None, 10),
            p(95, Some(1.5), 2),
        ];
        let s = svg("a.nic.dk", &pts, &[], now, 30 * 60_000, 5 * 60_000);
        let d = s.split("d=\"").nth(1).unwrap().split('"').next().unwrap();
        // Two subpaths: two points joined, then one alone (also drawn as a dot).
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.split('M').nth(1).unwrap().split(' ').count(), 4, "{d}");
        assert_eq!(s.matches("class=\"pt\"").count(), 1, "{s}");
        assert!(s.contains("data-top=\"2\""), "{s}");
        assert_eq!(s.matches("class=\"fail\"").count(), 2);
        assert!(s.contains("highest 2.0 ms"), "{s}");
    }

    #[test]
    fn other_vantages_get_dashed_lines_and_share_the_axis() {
        let now = 100 * 60_000;
        let own = [p(90, Some(1.0), 0), p(95, Some(1.2), 0)];
        let line = |v: &str, ms: f64| VantageLine {
            vantage: v.to_string(),
            points: vec![p(90, Some(ms), 0), p(95, Some(ms), 0)],
        };
        let others = [line("fra-1", 20.0), line("a<b", 45.0)];
        let s = svg("a.nic.dk", &own, &others, now, 30 * 60_000, 5 * 60_000);
        assert!(s.contains("data-top=\"50\""), "axis fits every line: {s}");
        assert_eq!(s.matches("<g class=\"vl\"").count(), 2, "{s}");
        assert!(s.contains("data-vantage=\"fra-1\""), "{s}");
        assert!(s.contains("data-vantage=\"a&lt;b\""), "{s}");
        for (_, dash) in &STYLES[..2] {
            assert!(s.contains(&format!("stroke-dasharray=\"{dash}\"")), "{s}");
        }
        assert_eq!(s.matches("<path").count(), 3, "{s}");
        assert!(s.contains("from fra-1: average 20.0 ms"), "{s}");
        // Without other vantages nothing of this is drawn.
        let single = svg("a.nic.dk", &own, &[], now, 30 * 60_000, 5 * 60_000);
        assert!(
            !single.contains("vl") && !single.contains("dasharray"),
            "{single}"
        );
    }

    #[test]
    fn empty_chart_says_so() {
        let s = svg("a<b", &[], &[], 1_000_000, 60_000, 60_000);
        assert!(s.contains("no answers yet"));
        assert!(s.contains("a&lt;b"));
        assert!(!s.contains("class=\"line\""));
    }
}
