//! Durations in JSON as milliseconds (a float, e.g. `2.574152`), the unit of every
//! response time in the API (`rtt_ms`). Fields using it are named `…_ms` on the wire:
//!
//! ```ignore
//! #[serde(rename = "connect_ms", with = "super::millis")]
//! pub connect: Duration,
//! ```
//!
//! Reading back accepts any finite, non-negative number of milliseconds.

use std::time::Duration;

use serde::{de, Deserialize, Deserializer, Serializer};

/// `d` as float milliseconds.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(as_ms(*d))
}

/// Float milliseconds back into a duration.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    from_ms(f64::deserialize(d)?)
}

/// A duration in float milliseconds (nanoseconds over 10⁶, correctly rounded).
pub fn as_ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

fn from_ms<E: de::Error>(ms: f64) -> Result<Duration, E> {
    Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| {
        E::custom(format!(
            "{ms} is not a duration in milliseconds (a finite number >= 0)"
        ))
    })
}

/// The same for `Option<Duration>` (`null` for None).
pub mod option {
    use super::*;

    /// `Some(d)` as float milliseconds, None as `null`.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&as_ms(*d)),
            None => s.serialize_none(),
        }
    }

    /// `null` or float milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?.map(from_ms).transpose()
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use std::time::Duration;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct T {
        #[serde(rename = "connect_ms", with = "super")]
        connect: Duration,
        #[serde(rename = "rtt_ms", with = "super::option")]
        rtt: Option<Duration>,
    }

    #[test]
    fn milliseconds_as_floats_both_ways() {
        let t = T {
            connect: Duration::from_micros(2_574_152),
            rtt: Some(Duration::from_micros(1500)),
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"connect_ms": 2574.152, "rtt_ms": 1.5})
        );
        assert_eq!(serde_json::from_value::<T>(v).unwrap(), t);
        let none = T {
            connect: Duration::ZERO,
            rtt: None,
        };
        let v = serde_json::to_value(&none).unwrap();
        assert_eq!(v, serde_json::json!({"connect_ms": 0.0, "rtt_ms": null}));
        assert_eq!(serde_json::from_value::<T>(v).unwrap(), none);
    }

    #[test]
    fn negative_or_huge_milliseconds_are_errors() {
        for bad in ["-1", "1e300"] {
            let text = format!(r#"{{"connect_ms": {bad}, "rtt_ms": null}}"#);
            let e = serde_json::from_str::<T>(&text).unwrap_err().to_string();
            assert!(e.contains("not a duration in milliseconds"), "{bad}: {e}");
        }
    }
}
