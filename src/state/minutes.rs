//! The closed minutes of a [`ResponseHistory`](super::ResponseHistory), packed.
//!
//! Normally a minute or two (the store has the rest), but while the store refuses
//! writes up to 24 h: 1,440 per server (and per service component), at 28 bytes each
//! 40 KB a server, 400 MB at 10,000 servers. Stored instead as
//! LEB128 varints, oldest first — the minute as the step from the previous one, probes,
//! failures, then min, median − min, p95 − median, max − p95 in µs — a minute of a server
//! answering in under 16 ms with no failure takes 7 to 10 bytes, one of a far server a
//! few more. Lossless: every field reads back exactly as written.

use std::collections::VecDeque;

use super::history::Bucket;

/// Closed minutes, oldest first (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Minutes {
    bytes: VecDeque<u8>,
    len: usize,
    /// Minute of the oldest record (its own step is not read).
    first: u64,
    /// Minute of the newest record (the next record's step is from it).
    last: u64,
}

/// Varints in a record: the step and the six [`fields`].
const VARINTS: usize = 7;

/// Most bytes one record can take (six varints of at most 5 bytes; the step at most 10).
const MAX_RECORD: usize = 40;

impl Minutes {
    /// Number of minutes held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The oldest minute's index (minutes since the epoch), if any.
    pub(super) fn first_minute(&self) -> Option<u64> {
        (self.len > 0).then_some(self.first)
    }

    /// Appends a minute; minutes come in increasing order (an older one is stored as
    /// the same minute as the newest).
    pub(super) fn push(&mut self, b: &Bucket) {
        let minute = u64::from(b.minute);
        let step = if self.len == 0 {
            self.first = minute;
            self.last = minute;
            0
        } else {
            let step = minute.saturating_sub(self.last);
            self.last += step;
            step
        };
        if self.bytes.capacity() - self.bytes.len() < MAX_RECORD {
            // Grow by a quarter, not double.
            // At least two records: the usual tail (`history.rs`) never grows past it.
            let more = (self.bytes.len() / 4).max(2 * MAX_RECORD);
            self.bytes.reserve_exact(more);
        }
        put(&mut self.bytes, step);
        for v in fields(b) {
            put(&mut self.bytes, u64::from(v));
        }
        self.len += 1;
    }

    /// Drops the oldest minute.
    pub(super) fn pop_front(&mut self) {
        if self.len == 0 {
            return;
        }
        let mut i = 0;
        for _ in 0..VARINTS {
            get(&self.bytes, &mut i);
        }
        self.bytes.drain(..i);
        self.len -= 1;
        if self.len == 0 {
            self.bytes.clear();
            self.bytes.shrink_to(2 * MAX_RECORD);
        } else {
            let mut j = 0;
            self.first += get(&self.bytes, &mut j);
        }
    }

    /// The minutes, oldest first.
    pub(super) fn iter(&self) -> impl Iterator<Item = Bucket> + '_ {
        let mut i = 0;
        let mut minute = self.first;
        (0..self.len).map(move |k| {
            let step = get(&self.bytes, &mut i);
            if k > 0 {
                minute += step;
            }
            let mut v = [0u32; VARINTS - 1];
            for x in v.iter_mut() {
                *x = u32::try_from(get(&self.bytes, &mut i)).unwrap_or(u32::MAX);
            }
            let [probes, failures, min_us, d_median, d_p95, d_max] = v;
            let median_us = min_us.wrapping_add(d_median);
            let p95_us = median_us.wrapping_add(d_p95);
            Bucket {
                minute: u32::try_from(minute).unwrap_or(u32::MAX),
                probes,
                failures,
                min_us,
                median_us,
                p95_us,
                max_us: p95_us.wrapping_add(d_max),
            }
        })
    }
}

/// The stored fields of a minute after its step: probes, failures, min and the
/// differences up to max (wrapping, so any values read back exactly).
fn fields(b: &Bucket) -> [u32; 6] {
    [
        b.probes,
        b.failures,
        b.min_us,
        b.median_us.wrapping_sub(b.min_us),
        b.p95_us.wrapping_sub(b.median_us),
        b.max_us.wrapping_sub(b.p95_us),
    ]
}

/// Appends `v` as an LEB128 varint.
fn put(out: &mut VecDeque<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push_back((v as u8) | 0x80);
        v >>= 7;
    }
    out.push_back(v as u8);
}

/// Reads the varint at `*i` and moves `*i` past it (0 past the end: never for records
/// this module wrote).
fn get(bytes: &VecDeque<u8>, i: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    while let Some(&b) = bytes.get(*i) {
        *i += 1;
        if shift < 64 {
            v |= u64::from(b & 0x7f) << shift;
        }
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn bucket(rng: &mut StdRng, minute: u32) -> Bucket {
        let big = |rng: &mut StdRng| {
            if rng.random_bool(0.1) {
                rng.random::<u32>()
            } else {
                rng.random_range(0..200_000u32)
            }
        };
        let mut v = [big(rng), big(rng), big(rng), big(rng)];
        if rng.random_bool(0.9) {
            v.sort_unstable(); // as summarised; the rest are out of order on purpose
        }
        Bucket {
            minute,
            probes: big(rng),
            failures: big(rng),
            min_us: v[0],
            median_us: v[1],
            p95_us: v[2],
            max_us: v[3],
        }
    }

    /// Whatever is pushed reads back exactly, through pops from the front; a minute of
    /// a loopback server takes at most 10 bytes.
    #[test]
    fn minutes_read_back_exactly() {
        for seed in 0..20u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut m = Minutes::default();
            let mut model: VecDeque<Bucket> = VecDeque::new();
            let mut minute = rng.random_range(0..30_000_000u32);
            for _ in 0..3000 {
                if rng.random_bool(0.3) && !model.is_empty() {
                    m.pop_front();
                    model.pop_front();
                } else {
                    minute += if rng.random_bool(0.05) {
                        rng.random_range(2..5000)
                    } else {
                        1
                    };
                    let b = bucket(&mut rng, minute);
                    m.push(&b);
                    model.push_back(b);
                }
                assert_eq!(m.len(), model.len());
                assert_eq!(m.first_minute(), model.front().map(|b| u64::from(b.minute)));
            }
            assert!(m.iter().eq(model.iter().copied()), "seed {seed}");
        }
        let mut m = Minutes::default();
        for k in 0..1440u32 {
            m.push(&Bucket {
                minute: 29_704_839 + k,
                probes: 60,
                failures: 0,
                min_us: 55,
                median_us: 61,
                p95_us: 90,
                max_us: 15_000,
            });
        }
        assert!(m.bytes.len() <= 10 * 1440, "{}", m.bytes.len());
        assert!(m.bytes.capacity() <= 13 * 1440, "{}", m.bytes.capacity());
        while m.len() > 0 {
            m.pop_front();
        }
        assert_eq!(m.first_minute(), None);
        assert!(m.iter().next().is_none());
    }
}
