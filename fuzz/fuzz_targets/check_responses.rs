//! The check kinds' response parsing on arbitrary server bytes: the EPP frame
//! header and greeting (quick-xml), Whois and TCP expect matching, and the HTTP
//! status/body verdict. The first input byte selects the parser. Invariants: no
//! panic; every rejection carries a detail; an accepted greeting has an svID.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nsprobe::probe::http::StatusSet;
use nsprobe::probe::{epp, http, tcp, whois, Pattern};

fn pattern() -> &'static Pattern {
    static P: OnceLock<Pattern> = OnceLock::new();
    P.get_or_init(|| Pattern::new(r"(?i)domain:\s+punktum\.dk|^\+OK|<svID>").unwrap())
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => {
            if let [a, b, c, d, xml @ ..] = rest {
                match epp::frame_length([*a, *b, *c, *d], epp::DEFAULT_MAX_FRAME) {
                    Ok(n) => assert!((1..=epp::DEFAULT_MAX_FRAME - 4).contains(&n)),
                    Err(r) => assert!(!r.detail.is_empty()),
                }
                match epp::parse_greeting(xml) {
                    Ok(g) => assert!(!g.sv_id.is_empty()),
                    Err(r) => assert!(!r.detail.is_empty()),
                }
            }
        }
        1 => {
            for full in [false, true] {
                for expect in [None, Some(pattern())] {
                    match whois::evaluate(rest, full, expect) {
                        Ok(Some(m)) => assert!(expect.is_some() && m.chars().count() <= 200),
                        Ok(None) => assert!(expect.is_none() && !full && !rest.is_empty()),
                        Err(r) => assert!(!r.detail.is_empty()),
                    }
                }
            }
        }
        2 => {
            for done in [false, true] {
                match tcp::evaluate(rest, pattern(), done) {
                    Ok(Some(_)) => assert!(pattern().is_match(rest)),
                    Ok(None) => assert!(!done),
                    Err(r) => assert!(done && !r.detail.is_empty()),
                }
            }
        }
        _ => {
            let status = match rest {
                [a, b, ..] => u16::from_be_bytes([*a, *b]) % 1000,
                _ => 200,
            };
            let expect = StatusSet::new(vec![(200, 299)]);
            match http::evaluate(status, rest, &expect, Some(pattern())) {
                Ok(()) => assert!((200..=299).contains(&status) && pattern().is_match(rest)),
                Err(r) => assert!(!r.detail.is_empty()),
            }
        }
    }
});
