//! The daemon's side of the response-time series: each closed minute of a history goes
//! to the writer once, and the minutes the writer has committed leave the history (the
//! 24-hour charts read them back from the store, [`super::StoreReader::joined_minutes`]).

use std::time::Duration;

use super::{ComponentKey, MinuteRecord, Write};
use crate::config::Config;
use crate::state::{ResponseHistory, MINUTE_MS};
use crate::{duration_ms, UnixMs};

/// How late, beyond its timeout, a probe's result can be recorded: it starts up to one
/// tick-grid slot late, its answer is read up to one slot after it arrives, and reports
/// are applied at the next status tick (README, Bounds: 1.18 s in all). Rounded up.
pub const REPORT_LATENESS: Duration = Duration::from_secs(2);

/// How long after a minute ends every probe that started in it has been recorded: the
/// longest probe timeout of `config` (nameservers and service checks) plus
/// [`REPORT_LATENESS`], in ms.
pub fn grace_ms(config: &Config) -> u64 {
    let zones = config.zones.iter().map(|z| z.timeout);
    let checks = config
        .groups
        .iter()
        .flat_map(|g| &g.components)
        .flat_map(|c| &c.checks)
        .map(|c| c.timeout);
    let longest = zones.chain(checks).max().unwrap_or_default();
    duration_ms(longest + REPORT_LATENESS)
}

/// The minutes before this one (minutes since the epoch) can be sent at `now`: a
/// probe is recorded in the minute it started, up to `grace_ms` after it started
/// ([`grace_ms`]), so a minute is complete only `grace_ms` after it ends. Sent sooner,
/// its row would miss the probes still running at its end, and once the store had it
/// the history would release the minute with them.
pub fn complete_before(now: UnixMs, grace_ms: u64) -> u64 {
    now.saturating_sub(grace_ms) / MINUTE_MS
}

/// Queues in `out` a [`Write::Minute`] for every minute of `history` in `[from, before)`
/// (minutes since the epoch; the minutes not sent yet once `before` has begun), then
/// releases the minutes before `written` ([`super::Store::written_before`]).
///
/// Nothing is missed however late this runs: a history keeps every minute the store has
/// not committed (up to a day), and `written` never passes a minute not sent yet.
/// After the calls for one `before`, queue [`Write::SeriesMark`]`(before)`.
pub fn take_minutes(
    history: &mut ResponseHistory,
    key: &ComponentKey,
    from: u64,
    before: u64,
    written: u64,
    out: &mut Vec<Write>,
) {
    for p in history.points_between(from, before) {
        if p.probes > 0 {
            out.push(Write::Minute {
                component: key.clone(),
                record: MinuteRecord::from_point(&p),
            });
        }
    }
    history.release(written.min(from));
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1000;
    /// A minute boundary (2026-11-26 12:00 UTC).
    const M: u64 = 1_795_003_200_000;

    #[test]
    fn the_grace_is_the_longest_timeout_plus_the_reporting_delay() {
        let text = "[[zone]]\nname = \"dk\"\ntimeout = \"800ms\"\n[[zone.nameservers]]\nname = \"a.nic.dk.\"\n\
                    [[group]]\nname = \"Registry\"\n[[group.component]]\nname = \"EPP\"\n\
                    [[group.component.check]]\nkind = \"tcp\"\naddress = \"192.0.2.1:700\"\ninterval = \"30s\"\ntimeout = \"7s\"\n";
        let config = crate::config::parse(text, std::path::Path::new("t.toml")).expect("config");
        assert_eq!(grace_ms(&config), 9 * SEC);
        let dns_only = "[[zone]]\nname = \"dk\"\ntimeout = \"800ms\"\n[[zone.nameservers]]\nname = \"a.nic.dk.\"\n";
        let config =
            crate::config::parse(dns_only, std::path::Path::new("t.toml")).expect("config");
        assert_eq!(grace_ms(&config), 2800);
        assert_eq!(complete_before(M + 2799, 2800), M / MINUTE_MS - 1);
        assert_eq!(complete_before(M + 2800, 2800), M / MINUTE_MS);
    }

    /// The daemon's loop in small: probes recorded when their results arrive, the series
    /// sent every 10 s from `first_send` on with `grace`; returns the row sent for minute
    /// `M` (probes, failures).
    fn row_of_m(grace: u64, first_send: u64) -> (u32, u32) {
        let key: ComponentKey = ("Registry".into(), "EPP".into());
        let mut h = ResponseHistory::default();
        // A check every 10 s with a 7 s timeout: (start, recorded at, rtt). The one started
        // at 12:00:55 times out and is recorded at 12:01:02, in the minute it started.
        let ms = Duration::from_millis;
        let mut probes: Vec<(u64, u64, Option<Duration>)> = (0..5)
            .map(|i| (M + i * 10 * SEC, M + i * 10 * SEC + 3, Some(ms(3))))
            .collect();
        probes.push((M + 55 * SEC, M + 62 * SEC, None));
        probes.push((M + 65 * SEC, M + 65 * SEC + 3, Some(ms(3))));
        let mut sent = Vec::new();
        let mut last = M / MINUTE_MS;
        let mut t = first_send;
        while t < M + 3 * MINUTE_MS {
            for &(at, _, rtt) in probes.iter().filter(|p| p.1 <= t && p.1 > t - 10 * SEC) {
                h.record(at, rtt);
            }
            let before = complete_before(t, grace);
            if before > last {
                take_minutes(&mut h, &key, last, before, 0, &mut sent);
                last = before;
            }
            t += 10 * SEC;
        }
        sent.iter()
            .find_map(|w| match w {
                Write::Minute { record, .. } if record.minute == M => {
                    Some((record.probes, record.failures))
                }
                _ => None,
            })
            .expect("minute M sent")
    }

    #[test]
    fn a_minute_goes_to_the_store_with_the_probes_still_running_at_its_end() {
        // Without it, sent at 12:01:01 (series ticks at :01, :11, …), before the timeout
        // is recorded: the row lacked the failure, and the history released the minute
        // once the store had it, so the failure was lost.
        assert_eq!(row_of_m(0, M + SEC + 1), (5, 0));
        // With the grace (7 s timeout + 2 s) the row waits until 12:01:11 and has it, for
        // every phase of the series tick.
        for phase in 0..10 {
            assert_eq!(
                row_of_m(9 * SEC, M + phase * SEC + 1),
                (6, 1),
                "phase {phase}"
            );
        }
    }
}
