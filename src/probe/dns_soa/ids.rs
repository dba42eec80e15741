//! The message IDs of one pooled UDP socket: every one of the 65,536 IDs once, in an order
//! drawn at random for the socket.
//!
//! A socket shared by many queries must not give a new query the ID of one still pending
//! on it, nor of one that ended lately (its late answer would be taken for the new
//! query's). Random IDs checked against a set of the ended ones did that, at the price of
//! a set per socket (8 KiB) whose random bit was a cache miss on every query. Here the
//! socket walks a permutation of all IDs instead: an ID comes up once in the socket's
//! life (the pool replaces a socket before its walk ends), and whether a datagram's ID
//! was handed out on the socket is one inverse computation.
//!
//! The permutation is a four-round Feistel network over the two bytes of the index, keyed
//! with 128 random bits per socket: a peer that does not see the socket's traffic cannot
//! tell the next ID from a random one (the same defence against blind spoofing as a
//! random ID per query; the source port, random per socket, adds its 16 bits).

/// Rounds of the Feistel network.
const ROUNDS: usize = 4;

/// Number of distinct message IDs.
const IDS: u32 = 1 << 16;

/// One socket's walk through the message IDs. See the module doc.
#[derive(Debug)]
pub(super) struct IdSequence {
    keys: [u32; ROUNDS],
    /// How many IDs were handed out: those at the indices below it.
    issued: u32,
}

impl Default for IdSequence {
    fn default() -> Self {
        IdSequence::with_keys(rand::random())
    }
}

impl IdSequence {
    /// A walk under the round keys `keys` (tests; [`Default`] draws them at random).
    fn with_keys(keys: [u32; ROUNDS]) -> Self {
        IdSequence { keys, issued: 0 }
    }

    /// The next ID of the walk; None once all 65,536 were handed out.
    pub(super) fn next_id(&mut self) -> Option<u16> {
        if self.issued >= IDS {
            return None;
        }
        let index = u16::try_from(self.issued).ok()?;
        self.issued += 1;
        Some(self.permute(index))
    }

    /// True if `id` was handed out by this walk.
    pub(super) fn issued(&self, id: u16) -> bool {
        u32::from(self.unpermute(id)) < self.issued
    }

    fn permute(&self, index: u16) -> u16 {
        let [mut l, mut r] = index.to_be_bytes();
        for &k in &self.keys {
            (l, r) = (r, l ^ round(r, k));
        }
        u16::from_be_bytes([l, r])
    }

    fn unpermute(&self, id: u16) -> u16 {
        let [mut l, mut r] = id.to_be_bytes();
        for &k in self.keys.iter().rev() {
            (l, r) = (r ^ round(l, k), l);
        }
        u16::from_be_bytes([l, r])
    }
}

/// The round function: a multiply-shift hash of one byte under the round key. (A Feistel
/// network is a permutation whatever this function is; the hash makes the order depend on
/// every bit of the key.)
fn round(half: u8, key: u32) -> u8 {
    let [top, ..] = (u32::from(half) ^ key)
        .wrapping_mul(0x9E37_79B1)
        .rotate_left(5)
        .wrapping_mul(0x85EB_CA77)
        .to_be_bytes();
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_comes_up_once_and_issued_follows_the_walk() {
        for keys in [[0, 0, 0, 0], [1, 2, 3, 4], rand::random()] {
            let mut ids = IdSequence::with_keys(keys);
            let mut seen = vec![false; IDS as usize];
            for n in 0..IDS {
                let id = ids.next_id().expect("an ID left");
                assert!(!seen[usize::from(id)], "{id} twice under {keys:?}");
                seen[usize::from(id)] = true;
                assert!(ids.issued(id));
                assert_eq!(u32::from(ids.unpermute(id)), n);
                if n % 4099 == 0 {
                    // Every ID not handed out yet is not issued.
                    let fresh = seen.iter().filter(|s| !**s).count();
                    let not_issued = (0..=u16::MAX).filter(|i| !ids.issued(*i)).count();
                    assert_eq!(fresh, not_issued);
                }
            }
            assert_eq!(ids.next_id(), None);
        }
    }

    #[test]
    fn different_keys_walk_differently() {
        let firsts = |keys| {
            let mut ids = IdSequence::with_keys(keys);
            (0..16).map(|_| ids.next_id()).collect::<Vec<_>>()
        };
        assert_ne!(firsts([1, 2, 3, 4]), firsts([1, 2, 3, 5]));
        // Not the identity, nor a shift of it.
        let walk = firsts([7, 11, 13, 17]);
        let steps: Vec<_> = walk
            .windows(2)
            .map(|w| w[1].unwrap().wrapping_sub(w[0].unwrap()))
            .collect();
        assert!(steps.windows(2).any(|s| s[0] != s[1]), "{walk:?}");
    }
}
