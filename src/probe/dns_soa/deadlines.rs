//! The deadlines of a [`super::UdpBatch`]'s probes in flight, earliest first, without a
//! scan of the probes.
//!
//! A probe's deadline is its start plus its target's timeout, and probes start in time
//! order, so the deadlines of one timeout value arrive in order: one queue per timeout
//! value keeps them sorted at O(1) a probe (a start that goes back in time is inserted in
//! place). A probe that ends before its deadline leaves its entry behind; the owner says
//! which entries are still live ([`Deadlines::prune`]), and only the queues' fronts are
//! ever looked at, so the earliest deadline is exact once the fronts are pruned.
//!
//! The batch scanned every probe in flight for these (three times a poll): at 10,000
//! targets with every server silent, 5,000 probes a wake-up.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// One probe's deadline: when, its token, and which of its flights.
type Due = (Instant, u32, u64);

/// The deadlines of the probes in flight (see the module doc).
#[derive(Debug, Default)]
pub(super) struct Deadlines {
    /// One queue per timeout value (a handful at most), each ordered by deadline.
    queues: Vec<(Duration, VecDeque<Due>)>,
}

impl Deadlines {
    /// Files flight `flight` of `token`, started with `timeout`, due at `deadline`.
    pub(super) fn push(&mut self, timeout: Duration, deadline: Instant, token: u32, flight: u64) {
        let i = match self.queues.iter().position(|(t, _)| *t == timeout) {
            Some(i) => i,
            None => {
                self.queues.push((timeout, VecDeque::new()));
                self.queues.len() - 1
            }
        };
        let Some((_, q)) = self.queues.get_mut(i) else {
            return;
        };
        match q.back() {
            Some((last, ..)) if *last > deadline => {
                let at = q.partition_point(|(d, ..)| *d <= deadline);
                q.insert(at, (deadline, token, flight));
            }
            _ => q.push_back((deadline, token, flight)),
        }
    }

    /// The earliest deadline filed (exact when the fronts are pruned).
    pub(super) fn earliest(&self) -> Option<Instant> {
        self.queues
            .iter()
            .filter_map(|(_, q)| q.front().map(|(d, ..)| *d))
            .min()
    }

    /// Takes out every entry due at `now` or before, live or not, into `due` as
    /// (token, flight).
    pub(super) fn take_due(&mut self, now: Instant, due: &mut Vec<(u32, u64)>) {
        for (_, q) in &mut self.queues {
            while let Some(&(d, token, flight)) = q.front() {
                if d > now {
                    break;
                }
                q.pop_front();
                due.push((token, flight));
            }
        }
    }

    /// Drops the entries at the queues' fronts whose flight ended (`live` says false), and
    /// the queues left empty.
    pub(super) fn prune(&mut self, mut live: impl FnMut(u32, u64) -> bool) {
        for (_, q) in &mut self.queues {
            while let Some(&(_, token, flight)) = q.front() {
                if live(token, flight) {
                    break;
                }
                q.pop_front();
            }
        }
        self.queues.retain(|(_, q)| !q.is_empty());
    }

    /// Entries filed, live or not.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.queues.iter().map(|(_, q)| q.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Seeded starts, timeouts and early ends against a scan of the live flights: the
    /// earliest deadline and what is due agree at every step, and the queues stay bounded.
    #[test]
    fn agrees_with_a_scan_of_the_flights() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(13);
        let t0 = Instant::now();
        let mut now = t0;
        let mut d = Deadlines::default();
        // token → (flight, deadline) of the live flights
        let mut flights: std::collections::BTreeMap<u32, (u64, Instant)> = Default::default();
        let mut next_flight = 0u64;
        let timeouts = [500 * MS, 500 * MS, 2000 * MS, 100 * MS];
        let mut due = Vec::new();
        for step in 0..20_000 {
            // Mostly forward, sometimes a start a little in the past.
            if rng.random_bool(0.05) {
                now = now.checked_sub(3 * MS).unwrap_or(now).max(t0);
            } else {
                now += Duration::from_micros(rng.random_range(0..3_000));
            }
            let token = rng.random_range(0..300u32);
            match rng.random_range(0..3) {
                0 if !flights.contains_key(&token) => {
                    let timeout = timeouts[rng.random_range(0..timeouts.len())];
                    next_flight += 1;
                    flights.insert(token, (next_flight, now + timeout));
                    d.push(timeout, now + timeout, token, next_flight);
                }
                1 => {
                    flights.remove(&token); // answered: ends before its deadline
                }
                _ => {}
            }
            due.clear();
            d.take_due(now, &mut due);
            let mut expired: Vec<u32> = due
                .iter()
                .filter(|(t, f)| flights.get(t).is_some_and(|(lf, _)| lf == f))
                .map(|(t, _)| *t)
                .collect();
            expired.sort_unstable();
            let mut want: Vec<u32> = flights
                .iter()
                .filter(|(_, (_, dl))| *dl <= now)
                .map(|(t, _)| *t)
                .collect();
            want.sort_unstable();
            assert_eq!(expired, want, "step {step}");
            for t in &expired {
                flights.remove(t);
            }
            d.prune(|t, f| flights.get(&t).is_some_and(|(lf, _)| *lf == f));
            let scan = flights.values().map(|(_, dl)| *dl).min();
            assert_eq!(d.earliest(), scan, "step {step}");
            assert!(d.len() <= 300 * 8, "step {step}: {} entries", d.len());
        }
    }

    #[test]
    fn a_start_back_in_time_is_filed_in_order() {
        let t = Instant::now();
        let mut d = Deadlines::default();
        d.push(500 * MS, t + 500 * MS, 1, 1);
        d.push(500 * MS, t + 490 * MS, 2, 2);
        assert_eq!(d.earliest(), Some(t + 490 * MS));
        let mut due = Vec::new();
        d.take_due(t + 495 * MS, &mut due);
        assert_eq!(due, vec![(2, 2)]);
    }
}
