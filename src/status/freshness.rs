//! Zone freshness over several vantages: the newest serial any vantage saw, and when it
//! was first seen anywhere.
//!
//! A hub remembers, per zone group, every serial its vantages' records carried (at most
//! [`MAX_SERIALS`] per group) with the earliest and the latest record time that carried it
//! ([`SerialSightings`]). The zone's newest serial is then the newest (RFC 1982) among this
//! vantage's own newest serial and the serials some vantage still reported within
//! `max_age`; its first sighting is the earliest time any vantage (this one included)
//! reported it. A serial nobody reports any more (e.g. after a rollback) stops counting
//! after `max_age`. Pure: no I/O, time is an argument.

use std::collections::BTreeMap;

use super::observation::ObservationRecord;
use crate::serial::is_newer;
use crate::UnixMs;

/// Serials remembered per group (the oldest-reported are forgotten first).
pub const MAX_SERIALS: usize = 16;

/// When a serial was reported, and by whom first.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sighting {
    first_at: UnixMs,
    last_at: UnixMs,
    first_by: String,
}

/// The serials reported per group, with their first and last report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SerialSightings {
    groups: BTreeMap<String, BTreeMap<u32, Sighting>>,
}

/// The zone's newest serial across vantages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshest {
    /// The serial.
    pub serial: u32,
    /// The earliest time any vantage reported it (Unix ms).
    pub first_seen: UnixMs,
    /// The vantage that saw it first.
    pub first_by: String,
}

impl SerialSightings {
    /// Nothing seen yet.
    pub fn new() -> SerialSightings {
        SerialSightings::default()
    }

    /// Takes in the serial a record carries (records without one change nothing).
    pub fn note(&mut self, record: &ObservationRecord) {
        let Some(serial) = record.serial else {
            return;
        };
        let per = self.groups.entry(record.group.clone()).or_default();
        per.entry(serial)
            .and_modify(|s| {
                if record.at < s.first_at {
                    s.first_at = record.at;
                    s.first_by = record.vantage.clone();
                }
                s.last_at = s.last_at.max(record.at);
            })
            .or_insert_with(|| Sighting {
                first_at: record.at,
                last_at: record.at,
                first_by: record.vantage.clone(),
            });
        while per.len() > MAX_SERIALS {
            let Some(oldest) = per
                .iter()
                .min_by_key(|(_, s)| s.last_at)
                .map(|(serial, _)| *serial)
            else {
                break;
            };
            per.remove(&oldest);
        }
    }

    /// Forgets groups no longer configured.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.groups.retain(|g, _| keep(g));
    }

    /// The newest serial of `group` at `now`: among `own` (this vantage's newest serial
    /// and when it first saw it, from its own probes) and the serials some vantage
    /// reported within `max_age_ms`; its first sighting is the earliest report of it by
    /// any vantage. None when nobody has seen a serial.
    pub fn freshest(
        &self,
        group: &str,
        own: Option<(u32, UnixMs)>,
        own_name: &str,
        max_age_ms: u64,
        now: UnixMs,
    ) -> Option<Freshest> {
        let mut best: Option<Freshest> = own.map(|(serial, first_seen)| Freshest {
            serial,
            first_seen,
            first_by: own_name.to_string(),
        });
        let Some(per) = self.groups.get(group) else {
            return best;
        };
        for (&serial, s) in per {
            if now.saturating_sub(s.last_at) > max_age_ms
                && best.as_ref().map(|b| b.serial) != Some(serial)
            {
                continue;
            }
            best = match best {
                Some(b) if b.serial == serial => Some(if s.first_at < b.first_seen {
                    Freshest {
                        serial,
                        first_seen: s.first_at,
                        first_by: s.first_by.clone(),
                    }
                } else {
                    b
                }),
                Some(b) if !is_newer(serial, b.serial) => Some(b),
                _ => Some(Freshest {
                    serial,
                    first_seen: s.first_at,
                    first_by: s.first_by.clone(),
                }),
            };
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Status;

    const G: &str = "DNS (.dk)";

    fn rec(vantage: &str, serial: u32, at: UnixMs) -> ObservationRecord {
        ObservationRecord {
            seq: 1,
            vantage: vantage.to_string(),
            at,
            group: G.to_string(),
            component: "a.nic.dk".to_string(),
            status: Status::Operational,
            reason: String::new(),
            rtt_ms: None,
            serial: Some(serial),
        }
    }

    #[test]
    fn a_newer_serial_seen_elsewhere_is_the_zone_newest_from_its_first_report() {
        let mut s = SerialSightings::new();
        s.note(&rec("fra-1", 11, 5_000));
        s.note(&rec("fra-1", 11, 10_000)); // heartbeat: the first report stays
        let f = s.freshest(G, Some((10, 1_000)), "cph-1", 30_000, 12_000);
        assert_eq!(
            f,
            Some(Freshest {
                serial: 11,
                first_seen: 5_000,
                first_by: "fra-1".to_string()
            })
        );
    }

    #[test]
    fn the_earliest_sighting_of_the_same_serial_wins() {
        let mut s = SerialSightings::new();
        s.note(&rec("fra-1", 10, 3_000));
        // This vantage saw it at 4 000: fra-1 was first.
        let f = s
            .freshest(G, Some((10, 4_000)), "cph-1", 30_000, 5_000)
            .expect("some");
        assert_eq!(
            (f.serial, f.first_seen, f.first_by.as_str()),
            (10, 3_000, "fra-1")
        );
        // This vantage was first.
        let f = s
            .freshest(G, Some((10, 2_000)), "cph-1", 30_000, 5_000)
            .expect("some");
        assert_eq!((f.first_seen, f.first_by.as_str()), (2_000, "cph-1"));
    }

    #[test]
    fn a_serial_nobody_reports_any_more_stops_counting_after_max_age() {
        let mut s = SerialSightings::new();
        s.note(&rec("fra-1", 99, 1_000));
        let own = Some((10, 500));
        assert_eq!(
            s.freshest(G, own, "cph-1", 30_000, 31_000)
                .map(|f| f.serial),
            Some(99)
        );
        assert_eq!(
            s.freshest(G, own, "cph-1", 30_000, 31_001)
                .map(|f| f.serial),
            Some(10)
        );
    }

    #[test]
    fn serial_arithmetic_wraps() {
        let mut s = SerialSightings::new();
        s.note(&rec("fra-1", 2, 1_000)); // 2 is newer than u32::MAX - 1 (RFC 1982)
        let f = s.freshest(G, Some((u32::MAX - 1, 0)), "cph-1", 30_000, 2_000);
        assert_eq!(f.map(|f| f.serial), Some(2));
    }

    #[test]
    fn nothing_seen_is_none_and_groups_are_separate() {
        let mut s = SerialSightings::new();
        assert_eq!(s.freshest(G, None, "cph-1", 30_000, 0), None);
        s.note(&rec("fra-1", 5, 0));
        assert_eq!(s.freshest("other", None, "cph-1", 30_000, 0), None);
        s.retain(|g| g != G);
        assert_eq!(s.freshest(G, None, "cph-1", 30_000, 0), None);
    }

    #[test]
    fn memory_is_bounded() {
        let mut s = SerialSightings::new();
        for i in 0..(MAX_SERIALS as u32 + 10) {
            s.note(&rec("fra-1", i, u64::from(i)));
        }
        assert_eq!(s.groups[G].len(), MAX_SERIALS);
        // The newest are kept.
        let f = s.freshest(G, None, "cph-1", 30_000, 100).expect("some");
        assert_eq!(f.serial, MAX_SERIALS as u32 + 9);
    }
}
