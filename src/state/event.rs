//! What an observation can cause: [`Event`]s for the daemon to log and count.

use serde::Serialize;

use super::target::TargetKey;
use super::zone::Rollback;

/// Something noteworthy that an observation caused.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The zone's newest serial advanced (or the first serial was seen: `previous` is None).
    NewZoneSerial {
        /// The new newest serial.
        serial: u32,
        /// The previous newest serial, None for the first serial ever seen.
        previous: Option<u32>,
    },
    /// The first address of `server` showed a newly published `serial`, `delay_ms` after
    /// the zone first saw it (0 for the server that showed it first). Not emitted for the
    /// baseline serial seen at startup, whose publication time is unknown.
    Propagated {
        /// Server name.
        server: String,
        /// The serial that reached the server.
        serial: u32,
        /// Milliseconds since the zone first saw this serial.
        delay_ms: u64,
    },
    /// An address answered a serial older (RFC 1982) than it answered before.
    SerialRegression {
        /// The target that answered the older serial.
        key: TargetKey,
        /// Serial the address had before.
        from: u32,
        /// Older serial just answered.
        to: u32,
    },
    /// A target went down (`fail_after` consecutive failures).
    TargetDown {
        /// The target.
        key: TargetKey,
        /// Human-readable cause, e.g. `3 consecutive failures, last: timeout (no answer)`.
        reason: String,
    },
    /// A down target recovered (`recover_after` consecutive successes). Not emitted for a
    /// target's very first success (it was never down).
    TargetUp {
        /// The target.
        key: TargetKey,
    },
    /// Every responding server served an older serial than the zone's newest for
    /// `rollback_after`: the zone re-baselined to the newest serial served.
    ZoneRollback(Rollback),
}
