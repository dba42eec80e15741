//! SOA serial arithmetic (RFC 1982, SERIAL_BITS = 32).
//!
//! Serials wrap around: `0xFFFF_FFFF` is followed by `0`. Two serials are
//! compared by the direction of the shorter way round the circle; when both
//! ways are equally long (distance exactly 2^31) the comparison is undefined.

use std::cmp::Ordering;

/// Half the serial number space: the distance at which comparison is undefined.
const HALF: u32 = 1 << 31;

/// Compares two serials with RFC 1982 arithmetic.
///
/// Returns `Some(Ordering::Less)` when `a` precedes `b`, `Some(Ordering::Greater)` when
/// `a` follows `b`, `Some(Ordering::Equal)` when they are equal, and `None` when
/// the comparison is undefined (the two serials are exactly 2^31 apart).
pub fn serial_cmp(a: u32, b: u32) -> Option<Ordering> {
    let forward = distance(a, b);
    match forward {
        0 => Some(Ordering::Equal),
        d if d < HALF => Some(Ordering::Less),
        d if d > HALF => Some(Ordering::Greater),
        _ => None,
    }
}

/// True when `a` is newer than (follows) `b` under RFC 1982; false when older, equal or undefined.
pub fn is_newer(a: u32, b: u32) -> bool {
    serial_cmp(a, b) == Some(Ordering::Greater)
}

/// The forward distance from `from` to `to`: the wrapping difference `to - from`.
///
/// When `to` is newer than `from` this is the number of serial increments between them.
pub fn distance(from: u32, to: u32) -> u32 {
    to.wrapping_sub(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ordering() {
        assert_eq!(serial_cmp(1, 2), Some(Ordering::Less));
        assert_eq!(serial_cmp(2, 1), Some(Ordering::Greater));
        assert_eq!(serial_cmp(7, 7), Some(Ordering::Equal));
        assert!(is_newer(2026062402, 2026062401));
        assert!(!is_newer(2026062401, 2026062402));
        assert!(!is_newer(5, 5));
    }

    #[test]
    fn wrap_around() {
        assert!(is_newer(0, 0xFFFF_FFFF));
        assert!(is_newer(5, 0));
        assert!(is_newer(5, 0xFFFF_FFFF));
        assert!(!is_newer(0xFFFF_FFFF, 5));
        assert_eq!(serial_cmp(0xFFFF_FFFF, 0), Some(Ordering::Less));
        assert_eq!(distance(0xFFFF_FFFF, 0), 1);
        assert_eq!(distance(0xFFFF_FFFF, 5), 6);
        assert_eq!(distance(5, 3), u32::MAX - 1);
    }

    #[test]
    fn undefined_at_half_distance() {
        assert_eq!(serial_cmp(0, HALF), None);
        assert_eq!(serial_cmp(HALF, 0), None);
        assert_eq!(serial_cmp(10, 10u32.wrapping_add(HALF)), None);
        assert!(!is_newer(0, HALF));
        assert!(!is_newer(HALF, 0));
        // One less than half is still defined.
        assert_eq!(serial_cmp(0, HALF - 1), Some(Ordering::Less));
        assert_eq!(serial_cmp(0, HALF + 1), Some(Ordering::Greater));
    }
}
