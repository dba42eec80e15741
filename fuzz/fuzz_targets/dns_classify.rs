//! DNS answer validation and classification (`probe::message::classify`) on
//! arbitrary bytes. The query's ID is taken from the input's first two bytes so
//! the fuzzer gets past the ID check and into question/RCODE/AA/SOA/RRSIG/NSID
//! handling. Invariants: no panic; an accepted answer is a parseable response
//! with AA set, our ID and question, and `size` equal to the input length.
#![no_main]

use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;
use nsprobe::probe::message::{build_query_with_id, classify, Verdict};

fuzz_target!(|data: &[u8]| {
    let id = match data {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    let zone: Name = "dk.".parse().unwrap();
    let query = build_query_with_id(id, &zone, true, true).unwrap();
    match classify(&query, data) {
        Verdict::Answer(v) => {
            assert_eq!(v.size, data.len());
            let msg = Message::from_vec(data).expect("an accepted answer parses");
            assert_eq!(msg.metadata.id, id);
            assert_eq!(msg.metadata.message_type, MessageType::Response);
            assert!(msg.metadata.authoritative);
            assert!(!msg.metadata.truncation);
            assert_eq!(msg.queries.len(), 1);
            if let Some(nsid) = v.nsid {
                assert!(!nsid.is_empty());
            }
        }
        Verdict::Truncated => {
            let msg = Message::from_vec(data).expect("a truncated answer parses");
            assert!(msg.metadata.truncation);
        }
        Verdict::Reject(_, detail) => assert!(!detail.is_empty()),
    }
});
