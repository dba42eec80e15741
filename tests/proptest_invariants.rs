//! Property tests for the invariants the fuzz targets (fuzz/) check, run by
//! `cargo test`: whatever bytes a server sends or text a user writes, parsing is
//! classified and never panics, and accepted input satisfies the contract.

use std::path::Path;

use hickory_proto::op::Message;
use hickory_proto::rr::Name;
use nsprobe::probe::dns_soa::message::{build_query_with_id, classify, Verdict};
use nsprobe::probe::dns_soa::{frame, read_framed};
use nsprobe::probe::http::StatusSet;
use nsprobe::probe::{epp, http, tcp, whois, Pattern};
use proptest::prelude::*;

/// Real Knot DNS answers (captured by fuzz/README.md's recipe) to mutate.
const KNOT: [&[u8]; 4] = [
    include_bytes!("../fuzz/corpus/dns_classify/knot_udp_soa_do_nsid.bin"),
    include_bytes!("../fuzz/corpus/dns_classify/knot_tcp_soa_plain.bin"),
    include_bytes!("../fuzz/corpus/dns_classify/knot_udp_nxdomain.bin"),
    include_bytes!("../fuzz/corpus/dns_classify/knot_udp_refused.bin"),
];

fn query_for(bytes: &[u8]) -> nsprobe::probe::dns_soa::message::SoaQuery {
    let id = match bytes {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    build_query_with_id(id, &"dk.".parse::<Name>().unwrap(), true, true).unwrap()
}

fn check_verdict(bytes: &[u8]) -> Verdict {
    let v = classify(&query_for(bytes), bytes);
    match &v {
        Verdict::Answer(a) => {
            assert_eq!(a.size, bytes.len());
            let msg = Message::from_vec(bytes).expect("accepted answers parse");
            assert!(msg.metadata.authoritative && !msg.metadata.truncation);
            assert_eq!(msg.queries.len(), 1);
        }
        Verdict::Truncated => {}
        Verdict::Reject(_, detail) => assert!(!detail.is_empty()),
    }
    v
}

#[test]
fn knot_captures_classify_as_knot_answered() {
    assert!(matches!(check_verdict(KNOT[0]), Verdict::Answer(ref a) if a.nsid.is_some()));
    assert!(matches!(check_verdict(KNOT[1]), Verdict::Answer(ref a) if a.nsid.is_none()));
    // Asked for another name: our "dk." query does not match its question (a stray).
    assert!(check_verdict(KNOT[2]).is_stray());
    let for_zone = |bytes: &[u8], zone: &str| {
        let id = u16::from_be_bytes([bytes[0], bytes[1]]);
        let q = build_query_with_id(id, &zone.parse::<Name>().unwrap(), true, true).unwrap();
        classify(&q, bytes)
    };
    assert!(
        matches!(for_zone(KNOT[2], "nonexist.dk."), Verdict::Reject(k, _) if k.as_str() == "nxdomain")
    );
    assert!(
        matches!(for_zone(KNOT[3], "example.com."), Verdict::Reject(k, _) if k.as_str() == "refused")
    );
}

proptest! {
    #[test]
    fn classify_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check_verdict(&bytes);
    }

    #[test]
    fn classify_never_panics_on_mutated_knot_answers(
        which in 0usize..4,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut bytes = KNOT[which].to_vec();
        for (at, value) in flips {
            let i = at % bytes.len();
            bytes[i] = value;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        check_verdict(&bytes);
    }

    #[test]
    fn tcp_framing_round_trips_and_short_streams_fail(
        msg in proptest::collection::vec(any::<u8>(), 0..3000),
        short in any::<usize>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let framed = frame(&msg).unwrap();
        prop_assert_eq!(framed.len(), msg.len() + 2);
        let mut s = &framed[..];
        prop_assert_eq!(rt.block_on(read_framed(&mut s)).unwrap(), msg.clone());
        let cut = short % framed.len();
        let mut s = &framed[..cut];
        let err = rt.block_on(read_framed(&mut s)).unwrap_err();
        prop_assert_eq!(err.kind.as_str(), "network");
    }

    #[test]
    fn config_parser_never_panics_and_names_the_file(text in "\\PC{0,300}") {
        if let Err(e) = nsprobe::config::parse(&text, Path::new("prop.toml")) {
            prop_assert!(e.to_string().contains("prop.toml"), "{}", e);
        }
    }

    #[test]
    fn config_parser_survives_mutated_real_configs(
        cut in any::<usize>(),
        insert in "\\PC{0,20}",
    ) {
        let text = include_str!("../config/dk.toml");
        let mut at = cut % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mutated = format!("{}{}{}", &text[..at], insert, &text[at..]);
        if let Err(e) = nsprobe::config::parse(&mutated, Path::new("dk.toml")) {
            prop_assert!(e.to_string().contains("dk.toml"));
        }
    }

    #[test]
    fn web_config_parser_never_panics_and_names_the_file(text in "\\PC{0,200}") {
        if let Err(e) = nsprobe::web::config::parse(&text, Path::new("web.yml")) {
            prop_assert!(e.to_string().starts_with("web.yml: "), "{}", e);
        }
    }

    #[test]
    fn epp_frame_and_greeting_are_classified(header in any::<[u8; 4]>(), xml in proptest::collection::vec(any::<u8>(), 0..400)) {
        match epp::frame_length(header, epp::DEFAULT_MAX_FRAME) {
            Ok(n) => prop_assert!(n >= 1 && n + 4 <= epp::DEFAULT_MAX_FRAME),
            Err(r) => prop_assert!(!r.detail.is_empty()),
        }
        match epp::parse_greeting(&xml) {
            Ok(g) => prop_assert!(!g.sv_id.is_empty()),
            Err(r) => prop_assert!(!r.detail.is_empty()),
        }
    }

    #[test]
    fn whois_tcp_and_http_verdicts_are_consistent(body in proptest::collection::vec(any::<u8>(), 0..400), status in 100u16..600) {
        let p = Pattern::new(r"(?i)domain:\s+punktum\.dk|^\+OK").unwrap();
        match whois::evaluate(&body, false, Some(&p)) {
            Ok(m) => prop_assert!(m.is_some() && p.is_match(&body)),
            Err(r) => prop_assert!(body.is_empty() || !p.is_match(&body), "{}", r.detail),
        }
        match tcp::evaluate(&body, &p, true) {
            Ok(m) => prop_assert!(m.is_some() && p.is_match(&body)),
            Err(_) => prop_assert!(!p.is_match(&body)),
        }
        let ok = http::evaluate(status, &body, &StatusSet::new(vec![(200, 299)]), Some(&p)).is_ok();
        prop_assert_eq!(ok, (200..=299).contains(&status) && p.is_match(&body));
    }

    #[test]
    fn basic_auth_header_parsing_never_panics(value in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = nsprobe::web::auth::parse_basic(&value);
    }
}
