//! DNS over TCP length framing (`probe::dns_soa::read_framed` / `frame`) followed
//! by answer classification, on an arbitrary byte stream as a server may send it.
//! Invariants: no panic; a frame is read only when the stream holds the two-byte
//! prefix and all the bytes it announces, and the body is exactly those bytes;
//! framing a message and reading it back returns it.
#![no_main]

use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;
use nsprobe::probe::dns_soa::message::{build_query_with_id, classify};
use nsprobe::probe::dns_soa::{frame, read_framed};

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
}

fuzz_target!(|data: &[u8]| {
    RT.with(|rt| {
        let mut stream = data;
        let got = rt.block_on(read_framed(&mut stream));
        match got {
            Ok(body) => {
                assert!(data.len() >= 2);
                let n = usize::from(u16::from_be_bytes([data[0], data[1]]));
                assert_eq!(body.len(), n);
                assert_eq!(&body[..], &data[2..2 + n]);
                assert_eq!(stream.len(), data.len() - 2 - n);
                let id = match body.as_slice() {
                    [a, b, ..] => u16::from_be_bytes([*a, *b]),
                    _ => 0,
                };
                let zone: Name = "dk.".parse().unwrap();
                let query = build_query_with_id(id, &zone, true, true).unwrap();
                let _ = classify(&query, &body);
            }
            Err(f) => {
                let n = match data {
                    [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
                    _ => usize::MAX,
                };
                assert!(data.len() < 2 || data.len() < 2 + n, "{f:?}");
            }
        }
        // Round trip of whatever fits in a frame.
        let msg = &data[..data.len().min(usize::from(u16::MAX))];
        let framed = frame(msg).unwrap();
        let mut s = &framed[..];
        assert_eq!(rt.block_on(read_framed(&mut s)).unwrap(), msg);
    });
});
