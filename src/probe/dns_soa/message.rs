//! Pure wire-format half of the probe: building the SOA query and classifying answer bytes.
//!
//! Nothing here touches a socket or a clock, so every rule is unit-testable, and
//! nothing here panics on any byte sequence a server may send.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use hickory_proto::ProtoError;

use super::FailureKind;

/// EDNS0 UDP payload size advertised in every query (the DNS Flag Day 2020 value).
pub const EDNS_PAYLOAD: u16 = 1232;

/// A query ready to be sent: its wire bytes plus what the answer must echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoaQuery {
    /// The random message ID.
    pub id: u16,
    /// The zone asked for (always fully qualified).
    pub zone: Name,
    /// The encoded message (no TCP length prefix).
    pub bytes: Vec<u8>,
}

impl SoaQuery {
    /// Gives the query another message ID (the first two bytes of the message).
    pub fn set_id(&mut self, id: u16) {
        self.id = id;
        if let Some(head) = self.bytes.get_mut(..2) {
            head.copy_from_slice(&id.to_be_bytes());
        }
    }
}

/// What a validated answer carries, apart from timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    /// The serial of the SOA owned by exactly the zone in the answer section.
    pub serial: u32,
    /// The NSID (printable ASCII as is, otherwise lowercase hex); `None` when absent or empty.
    pub nsid: Option<String>,
    /// Expiration (seconds since the epoch, as on the wire) of an RRSIG covering the zone's SOA.
    pub rrsig_expiration: Option<u32>,
    /// Size in bytes of the answer message.
    pub size: usize,
}

/// The classification of one answer message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A valid, authoritative SOA answer for the zone.
    Answer(Validated),
    /// The answer is ours (ID and question match) but has TC set: the caller decides
    /// (retry over TCP after UDP, [`FailureKind::TruncatedTcp`] over TCP).
    Truncated,
    /// The answer is rejected with this kind and human detail.
    Reject(FailureKind, String),
}

impl Verdict {
    /// True when the bytes might not be the answer to our query at all (unparseable,
    /// wrong ID, wrong question): over UDP such a datagram must not end the wait,
    /// since a spoofed or stale packet must not win.
    pub fn is_stray(&self) -> bool {
        matches!(
            self,
            Verdict::Reject(
                FailureKind::Malformed | FailureKind::IdMismatch | FailureKind::QuestionMismatch,
                _
            )
        )
    }
}

/// Builds the SOA query for `zone`: random ID (rand crate), RD clear, EDNS0 with a
/// 1232-byte UDP payload, the DO bit when `dnssec_ok`, an empty NSID option when `nsid`.
///
/// `zone` is made fully qualified if it is not already.
pub fn build_query(zone: &Name, dnssec_ok: bool, nsid: bool) -> Result<SoaQuery, ProtoError> {
    build_query_with_id(rand::random::<u16>(), zone, dnssec_ok, nsid)
}

/// [`build_query`] with a caller-chosen ID (deterministic tests).
pub fn build_query_with_id(
    id: u16,
    zone: &Name,
    dnssec_ok: bool,
    nsid: bool,
) -> Result<SoaQuery, ProtoError> {
    let mut zone = zone.clone();
    zone.set_fqdn(true);
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = false;
    let mut q = Query::query(zone.clone(), RecordType::SOA);
    q.set_query_class(DNSClass::IN);
    msg.queries.push(q);
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD).set_dnssec_ok(dnssec_ok);
    if nsid {
        edns.options_mut()
            .insert(EdnsOption::NSID(NSIDPayload::new(Vec::<u8>::new())?));
    }
    msg.set_edns(edns);
    let mut bytes = msg.to_vec()?;
    // The encoder reserves 512 bytes; a query is about 40 and is kept per target.
    bytes.shrink_to_fit();
    Ok(SoaQuery { id, zone, bytes })
}

/// Classifies `bytes` as the answer to `query`, in this order:
///
/// 1. parse → [`FailureKind::Malformed`];
/// 2. QR set and opcode QUERY → [`FailureKind::QuestionMismatch`]; ID → [`FailureKind::IdMismatch`];
/// 3. exactly one question, echoing the zone (case-insensitive), type SOA, class IN →
///    [`FailureKind::QuestionMismatch`];
/// 4. TC set → [`Verdict::Truncated`];
/// 5. RCODE: NOERROR continues; SERVFAIL, REFUSED, FORMERR, NXDOMAIN map to their kinds,
///    any other to [`FailureKind::Rcode`] with the RCODE in the detail;
/// 6. AA clear → [`FailureKind::Lame`];
/// 7. no SOA owned by exactly the zone in the answer section → [`FailureKind::NoSoa`].
///
/// Then the serial, NSID, SOA RRSIG expiration and size are extracted.
pub fn classify(query: &SoaQuery, bytes: &[u8]) -> Verdict {
    let msg = match Message::from_vec(bytes) {
        Ok(m) => m,
        Err(e) => {
            return Verdict::Reject(
                FailureKind::Malformed,
                format!("unparseable answer ({} bytes): {e}", bytes.len()),
            )
        }
    };
    let md = &msg.metadata;
    if md.message_type != MessageType::Response {
        return reject(
            FailureKind::QuestionMismatch,
            "QR bit clear (not a response)",
        );
    }
    if md.op_code != OpCode::Query {
        return Verdict::Reject(
            FailureKind::QuestionMismatch,
            format!("opcode {:?} instead of QUERY", md.op_code),
        );
    }
    if md.id != query.id {
        return Verdict::Reject(
            FailureKind::IdMismatch,
            format!("answer ID {} does not match query ID {}", md.id, query.id),
        );
    }
    if let Err(detail) = check_question(query, &msg) {
        return Verdict::Reject(FailureKind::QuestionMismatch, detail);
    }
    if md.truncation {
        return Verdict::Truncated;
    }
    let rcode = md.response_code;
    let kind = match rcode {
        ResponseCode::NoError => None,
        ResponseCode::ServFail => Some(FailureKind::Servfail),
        ResponseCode::Refused => Some(FailureKind::Refused),
        ResponseCode::FormErr => Some(FailureKind::Formerr),
        ResponseCode::NXDomain => Some(FailureKind::Nxdomain),
        _ => Some(FailureKind::Rcode),
    };
    if let Some(kind) = kind {
        return Verdict::Reject(
            kind,
            format!("rcode {} ({})", rcode.to_str(), u16::from(rcode)),
        );
    }
    if !md.authoritative {
        return reject(FailureKind::Lame, "NOERROR without AA: not authoritative");
    }
    let serial = msg.answers.iter().find_map(|rec| match &rec.data {
        RData::SOA(soa) if rec.name == query.zone => Some(soa.serial),
        _ => None,
    });
    let Some(serial) = serial else {
        return Verdict::Reject(
            FailureKind::NoSoa,
            format!(
                "no SOA for {} in the answer section ({} answer records)",
                query.zone,
                msg.answers.len()
            ),
        );
    };
    Verdict::Answer(Validated {
        serial,
        nsid: nsid_of(&msg),
        rrsig_expiration: msg
            .answers
            .iter()
            .filter(|rec| rec.name == query.zone)
            .find_map(soa_rrsig_expiration),
        size: bytes.len(),
    })
}

fn reject(kind: FailureKind, detail: &str) -> Verdict {
    Verdict::Reject(kind, detail.to_string())
}

fn check_question(query: &SoaQuery, msg: &Message) -> Result<(), String> {
    let [q] = msg.queries.as_slice() else {
        return Err(format!(
            "{} questions in the answer instead of 1",
            msg.queries.len()
        ));
    };
    if q.name != query.zone || q.query_type != RecordType::SOA || q.query_class != DNSClass::IN {
        return Err(format!(
            "question {} {} {} does not echo {} IN SOA",
            q.name, q.query_class, q.query_type, query.zone
        ));
    }
    Ok(())
}

/// The NSID option's payload: printable ASCII as is, otherwise lowercase hex; `None` if absent or empty.
fn nsid_of(msg: &Message) -> Option<String> {
    let bytes: &[u8] = match msg.edns.as_ref()?.option(EdnsCode::NSID)? {
        EdnsOption::NSID(p) => p.as_ref(),
        EdnsOption::Unknown(_, b) => b.as_slice(),
        _ => return None,
    };
    format_nsid(bytes)
}

/// Formats NSID bytes: printable ASCII (0x20..=0x7e) as is, otherwise lowercase hex.
pub fn format_nsid(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    if bytes.iter().all(|b| (0x20..=0x7e).contains(b)) {
        Some(bytes.iter().map(|&b| char::from(b)).collect())
    } else {
        Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// If `rec` is an RRSIG covering SOA, its signature expiration.
///
/// Without hickory's dnssec features an RRSIG parses as `RData::Unknown` and the raw RDATA
/// is read directly; with them the RDATA is re-encoded to the same wire layout. Layout:
/// type covered `[0..2]`, algorithm `[2]`, labels `[3]`, original TTL `[4..8]`,
/// expiration `[8..12]`, inception `[12..16]`, key tag `[16..18]`, signer name…
fn soa_rrsig_expiration(rec: &Record) -> Option<u32> {
    if rec.record_type() != RecordType::RRSIG {
        return None;
    }
    let owned;
    let raw: &[u8] = match &rec.data {
        RData::Unknown { rdata, .. } => &rdata.anything,
        other => {
            owned = other.to_bytes().ok()?;
            &owned
        }
    };
    let covered = u16::from_be_bytes(raw.get(0..2)?.try_into().ok()?);
    if covered != u16::from(RecordType::SOA) {
        return None;
    }
    Some(u32::from_be_bytes(raw.get(8..12)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{NULL, SOA};

    fn zone() -> Name {
        Name::from_ascii("dk.").expect("name")
    }

    fn query() -> SoaQuery {
        build_query_with_id(0x1234, &zone(), true, true).expect("query")
    }

    fn soa_record(owner: &Name, serial: u32) -> Record {
        let soa = SOA::new(
            Name::from_ascii("a.nic.dk.").expect("name"),
            Name::from_ascii("hostmaster.dk.").expect("name"),
            serial,
            1800,
            600,
            86400,
            300,
        );
        Record::from_rdata(owner.clone(), 3600, RData::SOA(soa))
    }

    fn rrsig_record(owner: &Name, covered: RecordType, expiration: u32) -> Record {
        let mut b = Vec::new();
        b.extend_from_slice(&u16::from(covered).to_be_bytes());
        b.push(13);
        b.push(1);
        b.extend_from_slice(&3600u32.to_be_bytes());
        b.extend_from_slice(&expiration.to_be_bytes());
        b.extend_from_slice(&(expiration - 86400).to_be_bytes());
        b.extend_from_slice(&4242u16.to_be_bytes());
        b.extend_from_slice(&[2, b'd', b'k', 0]);
        b.extend_from_slice(&[0xab; 64]);
        Record::from_rdata(
            owner.clone(),
            3600,
            RData::Unknown {
                code: RecordType::RRSIG,
                rdata: NULL::with(b),
            },
        )
    }

    /// A good answer to [`query`]: AA, SOA 2024010101, RRSIG exp 1_800_000_000, NSID "ns1".
    fn good_answer() -> Message {
        let mut m = Message::response(0x1234, OpCode::Query);
        m.metadata.authoritative = true;
        m.queries.push(Query::query(zone(), RecordType::SOA));
        m.answers.push(soa_record(&zone(), 2024010101));
        m.answers
            .push(rrsig_record(&zone(), RecordType::SOA, 1_800_000_000));
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns.options_mut().insert(EdnsOption::NSID(
            NSIDPayload::new(b"ns1".to_vec()).expect("nsid"),
        ));
        m.set_edns(edns);
        m
    }

    fn verdict(m: &Message) -> Verdict {
        classify(&query(), &m.to_vec().expect("encode"))
    }

    fn kind(m: &Message) -> FailureKind {
        match verdict(m) {
            Verdict::Reject(k, _) => k,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn query_has_the_requested_shape() {
        let q = query();
        let m = Message::from_vec(&q.bytes).expect("parse");
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.metadata.message_type, MessageType::Query);
        assert!(!m.metadata.recursion_desired);
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.queries[0].name, zone());
        assert_eq!(m.queries[0].query_type, RecordType::SOA);
        assert_eq!(m.queries[0].query_class, DNSClass::IN);
        let edns = m.edns.expect("edns");
        assert_eq!(edns.max_payload(), 1232);
        assert!(edns.flags().dnssec_ok);
        assert!(edns.option(EdnsCode::NSID).is_some());

        let plain = build_query_with_id(7, &Name::from_ascii("dk").expect("n"), false, false)
            .expect("query");
        assert_eq!(plain.zone, zone(), "zone made fully qualified");
        let m = Message::from_vec(&plain.bytes).expect("parse");
        let edns = m.edns.expect("edns");
        assert!(!edns.flags().dnssec_ok);
        assert!(edns.option(EdnsCode::NSID).is_none());
    }

    #[test]
    fn query_ids_are_random() {
        let ids: std::collections::HashSet<u16> = (0..64)
            .map(|_| build_query(&zone(), false, false).expect("q").id)
            .collect();
        assert!(ids.len() > 32, "only {} distinct ids", ids.len());
    }

    #[test]
    fn good_answer_is_extracted() {
        let m = good_answer();
        let bytes = m.to_vec().expect("encode");
        assert_eq!(
            classify(&query(), &bytes),
            Verdict::Answer(Validated {
                serial: 2024010101,
                nsid: Some("ns1".into()),
                rrsig_expiration: Some(1_800_000_000),
                size: bytes.len(),
            })
        );
    }

    #[test]
    fn question_name_is_case_insensitive() {
        let mut m = good_answer();
        m.queries[0].name = Name::from_ascii("DK.").expect("n");
        assert!(matches!(verdict(&m), Verdict::Answer(_)));
    }

    #[test]
    fn rrsig_covering_other_types_or_owners_is_ignored() {
        let mut m = good_answer();
        m.answers.truncate(1);
        m.answers
            .push(rrsig_record(&zone(), RecordType::NS, 1_900_000_000));
        let other = Name::from_ascii("x.dk.").expect("n");
        m.answers
            .push(rrsig_record(&other, RecordType::SOA, 1_900_000_000));
        match verdict(&m) {
            Verdict::Answer(v) => assert_eq!(v.rrsig_expiration, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn binary_nsid_is_hex() {
        assert_eq!(format_nsid(b"a.nic.dk"), Some("a.nic.dk".into()));
        assert_eq!(format_nsid(&[0x00, 0xff, 0x41]), Some("00ff41".into()));
        assert_eq!(format_nsid(b""), None);
        let mut m = good_answer();
        let opts = m.edns.as_mut().expect("edns").options_mut();
        opts.remove(EdnsCode::NSID);
        opts.insert(EdnsOption::NSID(
            NSIDPayload::new(vec![1, 2, 0xab]).expect("nsid"),
        ));
        match verdict(&m) {
            Verdict::Answer(v) => assert_eq!(v.nsid.as_deref(), Some("0102ab")),
            other => panic!("{other:?}"),
        }
        m.edns = None;
        match verdict(&m) {
            Verdict::Answer(v) => assert_eq!(v.nsid, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejections_in_order() {
        let mut m = good_answer();
        m.metadata.message_type = MessageType::Query;
        assert_eq!(kind(&m), FailureKind::QuestionMismatch);

        let mut m = good_answer();
        m.metadata.op_code = OpCode::Notify;
        assert_eq!(kind(&m), FailureKind::QuestionMismatch);

        let mut m = good_answer();
        m.metadata.id = 0x4321;
        assert_eq!(kind(&m), FailureKind::IdMismatch);

        // Wrong ID wins over a wrong question.
        m.queries[0].query_type = RecordType::NS;
        assert_eq!(kind(&m), FailureKind::IdMismatch);

        let mut m = good_answer();
        m.queries[0].name = Name::from_ascii("se.").expect("n");
        assert_eq!(kind(&m), FailureKind::QuestionMismatch);

        let mut m = good_answer();
        m.queries[0].query_type = RecordType::NS;
        assert_eq!(kind(&m), FailureKind::QuestionMismatch);

        let mut m = good_answer();
        m.queries[0].query_class = DNSClass::CH;
        assert_eq!(kind(&m), FailureKind::QuestionMismatch);

        let mut m = good_answer();
        m.queries.clear();
        assert_eq!(kind(&m), FailureKind::QuestionMismatch);

        let mut m = good_answer();
        m.queries.push(Query::query(zone(), RecordType::SOA));
        assert_eq!(kind(&m), FailureKind::QuestionMismatch);

        // TC comes before the rcode.
        let mut m = good_answer();
        m.metadata.truncation = true;
        m.metadata.response_code = ResponseCode::ServFail;
        assert_eq!(verdict(&m), Verdict::Truncated);

        for (rc, k) in [
            (ResponseCode::ServFail, FailureKind::Servfail),
            (ResponseCode::Refused, FailureKind::Refused),
            (ResponseCode::FormErr, FailureKind::Formerr),
            (ResponseCode::NXDomain, FailureKind::Nxdomain),
            (ResponseCode::NotImp, FailureKind::Rcode),
            (ResponseCode::NotAuth, FailureKind::Rcode),
        ] {
            let mut m = good_answer();
            m.metadata.response_code = rc;
            assert_eq!(kind(&m), k, "{rc:?}");
        }
        let mut m = good_answer();
        m.metadata.response_code = ResponseCode::NotImp;
        match verdict(&m) {
            Verdict::Reject(FailureKind::Rcode, d) => assert!(d.contains('4'), "{d}"),
            other => panic!("{other:?}"),
        }

        // The rcode comes before AA.
        let mut m = good_answer();
        m.metadata.authoritative = false;
        m.metadata.response_code = ResponseCode::Refused;
        assert_eq!(kind(&m), FailureKind::Refused);

        let mut m = good_answer();
        m.metadata.authoritative = false;
        assert_eq!(kind(&m), FailureKind::Lame);

        // An SOA only in the authority section is not an answer.
        let mut m = good_answer();
        m.answers.clear();
        m.authorities.push(soa_record(&zone(), 1));
        assert_eq!(kind(&m), FailureKind::NoSoa);

        let mut m = good_answer();
        m.answers = vec![soa_record(&Name::from_ascii("x.dk.").expect("n"), 1)];
        assert_eq!(kind(&m), FailureKind::NoSoa);
    }

    #[test]
    fn garbage_is_malformed_and_stray() {
        for bytes in [&b""[..], &[0u8; 5][..], &[0xff; 12][..]] {
            let v = classify(&query(), bytes);
            assert!(
                matches!(v, Verdict::Reject(FailureKind::Malformed, _)),
                "{v:?}"
            );
            assert!(v.is_stray());
        }
        assert!(!Verdict::Truncated.is_stray());
        assert!(!Verdict::Reject(FailureKind::Lame, String::new()).is_stray());
    }

    /// A small deterministic PRNG (xorshift64*), so the fuzz inputs are reproducible.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    #[test]
    fn never_panics_on_any_bytes() {
        let q = query();
        let good = good_answer().to_vec().expect("encode");
        // Every prefix of a valid answer.
        for n in 0..good.len() {
            let _ = classify(&q, &good[..n]);
        }
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        // Random buffers, some starting with a plausible header.
        for i in 0..3000 {
            let len = (rng.next() % 600) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if i % 2 == 0 && buf.len() >= 12 {
                buf[0..2].copy_from_slice(&0x1234u16.to_be_bytes());
                buf[2] |= 0x80;
                buf[4..6].copy_from_slice(&1u16.to_be_bytes());
            }
            let _ = classify(&q, &buf);
        }
        // A valid answer with random bytes flipped or cut.
        for _ in 0..3000 {
            let mut buf = good.clone();
            for _ in 0..(1 + rng.next() % 4) {
                let at = (rng.next() as usize) % buf.len();
                buf[at] = rng.next() as u8;
            }
            let cut = (rng.next() as usize) % (buf.len() + 1);
            buf.truncate(cut);
            let _ = classify(&q, &buf);
        }
    }
}
