//! The vantage guard: when the canaries fail together with the monitored servers, the
//! problem is nsprobe's own network, not the zone's.

use serde::Serialize;

use crate::state::{VantageState, ZoneState};

/// nsprobe's verdict on its own view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vantage {
    /// True when canaries are configured.
    pub guarded: bool,
    /// False when the canaries and the monitored servers fail together.
    pub up: bool,
    /// Why (`2 of 2 canaries and 14 of 14 monitored targets unreachable`).
    pub reason: String,
}

/// The vantage is down when canaries are configured, every canary is down, and more than
/// half of the monitored targets that have a verdict are down. Canaries down while the
/// monitored servers answer is a canary problem (vantage up, said in the reason); monitored
/// servers down while a canary answers is the servers' problem.
pub fn vantage_verdict<'a>(
    vantage: &VantageState,
    zones: impl IntoIterator<Item = &'a ZoneState>,
) -> Vantage {
    let canaries = vantage.canaries();
    if canaries.is_empty() {
        return Vantage {
            guarded: false,
            up: true,
            reason: "no canaries configured".to_string(),
        };
    }
    let canaries_down = canaries.values().filter(|c| c.up == Some(false)).count();
    let (mut judged, mut down) = (0usize, 0usize);
    for z in zones {
        for t in z.servers().values().flat_map(|s| s.targets.values()) {
            if t.up.is_some() {
                judged += 1;
                if t.is_down() {
                    down += 1;
                }
            }
        }
    }
    let n = canaries.len();
    let up = !(canaries_down == n && judged > 0 && down * 2 > judged);
    let reason = if up && canaries_down == n {
        format!("{canaries_down} of {n} canaries unreachable but {} of {judged} monitored targets answer: canary problem, not the vantage", judged - down)
    } else {
        format!(
            "{canaries_down} of {n} canaries and {down} of {judged} monitored targets unreachable"
        )
    };
    Vantage {
        guarded: true,
        up,
        reason,
    }
}
