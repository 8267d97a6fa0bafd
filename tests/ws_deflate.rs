//! permessage-deflate on `/ws/echo` (websocket-contract.md "permessage-deflate"): the
//! negotiation response, declined offers, context takeover both ways, window sizes checked by
//! inflating the server's messages with the window it promised, and compressed client
//! messages (fragmented, with control frames between, bounded by the message limit).

use std::net::SocketAddr;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use squall::testing::TestClient;
use squall::websocket::CompressionOptions;
use squall_tests::showcase_support::showcase;
use squall_tests::ws::{request, WsClient, OP_BINARY, OP_CONT, OP_PING, OP_PONG, OP_TEXT};

/// The `Sec-WebSocket-Extensions` of the 101 for an offer (None: absent).
fn negotiate(addr: SocketAddr, offer: &str) -> Option<String> {
    let mut c = WsClient::tcp(addr);
    let h = c.handshake(&request(
        "/ws/echo",
        &addr.to_string(),
        &[("Sec-WebSocket-Extensions", offer)],
    ));
    assert_eq!(h.status, 101, "{offer}: {h:?}");
    assert!(h.count("Sec-WebSocket-Extensions") <= 1);
    h.header("Sec-WebSocket-Extensions").map(str::to_owned)
}

/// Checks a response is one permessage-deflate with RFC 7692 parameters only, no duplicates,
/// flags without values, window bits 8-15; returns its parameters.
fn check_response(value: &str) -> Vec<(String, Option<u8>)> {
    let mut parts = value.split(';').map(str::trim);
    assert_eq!(parts.next(), Some("permessage-deflate"), "{value}");
    assert!(!value.contains(','), "more than one extension: {value}");
    let mut seen = Vec::new();
    for p in parts {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
            None => (p, None),
        };
        assert!(
            !seen.iter().any(|(s, _): &(String, _)| s == k),
            "duplicate {k} in {value}"
        );
        let bits = match k {
            "server_no_context_takeover" | "client_no_context_takeover" => {
                assert_eq!(v, None, "flag with a value: {value}");
                None
            }
            "server_max_window_bits" | "client_max_window_bits" => {
                let n: u8 = v
                    .expect("window bits need a value in a response")
                    .parse()
                    .unwrap();
                assert!((8..=15).contains(&n), "{value}");
                Some(n)
            }
            other => panic!("parameter {other} is not RFC 7692's: {value}"),
        };
        seen.push((k.to_owned(), bits));
    }
    seen
}

fn param(params: &[(String, Option<u8>)], name: &str) -> Option<Option<u8>> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

#[test]
fn valid_offers_are_accepted_with_a_well_formed_response() {
    let server = showcase();
    let addr = server.addr();
    for offer in [
        "permessage-deflate",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=10",
        "permessage-deflate; server_no_context_takeover",
        "permessage-deflate; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=12; client_no_context_takeover",
        "permessage-deflate;server_max_window_bits=\"10\"",
        "PerMessage-Deflate; Server_No_Context_Takeover",
    ] {
        let resp = negotiate(addr, offer).unwrap_or_else(|| panic!("declined: {offer}"));
        let params = check_response(&resp);
        let lower = offer.to_ascii_lowercase();
        // server_no_context_takeover offered: in the response.
        if lower.contains("server_no_context_takeover") {
            assert!(
                param(&params, "server_no_context_takeover").is_some(),
                "{offer} -> {resp}"
            );
        }
        // client_max_window_bits only if offered, and no larger than offered.
        match param(&params, "client_max_window_bits") {
            None => {}
            Some(n) => {
                assert!(
                    lower.contains("client_max_window_bits"),
                    "{offer} -> {resp}"
                );
                if lower.contains("client_max_window_bits=10") {
                    assert!(n.unwrap() <= 10);
                }
            }
        }
        if let Some(Some(n)) = param(&params, "server_max_window_bits") {
            if let Some(i) = lower.find("server_max_window_bits=") {
                let offered: u8 = lower[i + 23..]
                    .trim_matches(|c: char| !c.is_ascii_digit())
                    .parse()
                    .unwrap();
                assert!(n <= offered, "{offer} -> {resp}");
            }
        }
    }
}

#[test]
fn invalid_offers_are_declined_and_a_later_valid_one_is_accepted() {
    let server = showcase();
    let addr = server.addr();
    for offer in [
        "permessage-deflate; foo",
        "permessage-deflate; foo=bar",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits=0",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=true",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits=10; client_max_window_bits=11",
        "x-webkit-deflate-frame",
    ] {
        assert_eq!(negotiate(addr, offer), None, "{offer} was accepted");
    }
    let resp = negotiate(
        addr,
        "permessage-deflate; foo, permessage-deflate; client_no_context_takeover",
    )
    .expect("the later valid offer");
    check_response(&resp);
    // N = 8: declined, or answered with at most 8.
    if let Some(resp) = negotiate(addr, "permessage-deflate; server_max_window_bits=8") {
        let params = check_response(&resp);
        assert!(param(&params, "server_max_window_bits")
            .flatten()
            .is_some_and(|n| n <= 8));
    }
    let r = TestClient::connect_to(addr).get("/plaintext");
    assert_eq!(r.status(), 200);
}

/// A client-side compressor (raw deflate, sync flush, tail removed).
struct ClientDeflate {
    z: Compress,
    reset_each: bool,
}

impl ClientDeflate {
    fn new(reset_each: bool) -> Self {
        ClientDeflate {
            z: Compress::new_with_window_bits(Compression::new(6), false, 15),
            reset_each,
        }
    }
    fn compress(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 64);
        let mut pos = 0;
        loop {
            let before = self.z.total_in();
            self.z
                .compress_vec(&data[pos..], &mut out, FlushCompress::Sync)
                .unwrap();
            pos += (self.z.total_in() - before) as usize;
            if pos >= data.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(1024));
        }
        if out.ends_with(&[0, 0, 0xff, 0xff]) {
            out.truncate(out.len() - 4);
        }
        if out.is_empty() {
            // Nothing since the last flush (zlib skips a second marker): RFC 7692 §7.2.3.6.
            out.push(0);
        }
        if self.reset_each {
            self.z.reset();
        }
        out
    }
}

#[test]
fn compressed_client_messages_with_context_takeover_fragments_and_control_frames() {
    let server = showcase();
    let (mut c, h) = WsClient::connect_with(
        server.addr(),
        "/ws/echo",
        &[("Sec-WebSocket-Extensions", "permessage-deflate")],
    );
    assert!(h.header("Sec-WebSocket-Extensions").is_some());
    let mut d = ClientDeflate::new(false);
    let text = "a compressible message, a compressible message, κόσμε! ".repeat(20);
    for _ in 0..3 {
        // Context kept across messages: later copies are mostly back-references.
        let wire = d.compress(text.as_bytes());
        c.send_frame(true, 4, OP_TEXT, &wire);
        assert_eq!(c.read_text(), text);
    }
    // Fragmented, with a ping between the fragments; RSV1 on the first frame only.
    let bin: Vec<u8> = (0..50_000u32).map(|i| (i % 97) as u8).collect();
    let wire = d.compress(&bin);
    let (a, b) = wire.split_at(wire.len() / 3);
    c.send_frame(false, 4, OP_BINARY, a);
    c.send_frame(true, 0, OP_PING, b"mid");
    c.send_frame(true, 0, OP_CONT, b);
    let pong = c.read_frame();
    assert_eq!(
        (pong.opcode, pong.payload.as_slice()),
        (OP_PONG, &b"mid"[..])
    );
    assert_eq!(c.read_message(), (OP_BINARY, bin));
    // Uncompressed messages are allowed too (RSV1 clear).
    c.send_text("plain");
    assert_eq!(c.read_text(), "plain");
    // An empty compressed message.
    let wire = d.compress(b"");
    c.send_frame(true, 4, OP_BINARY, &wire);
    assert_eq!(c.read_message(), (OP_BINARY, Vec::new()));
    c.close_cleanly();
}

#[test]
fn client_no_context_takeover_messages_inflate_alone() {
    let server = showcase();
    let (mut c, _) = WsClient::connect_with(
        server.addr(),
        "/ws/echo",
        &[(
            "Sec-WebSocket-Extensions",
            "permessage-deflate; client_no_context_takeover",
        )],
    );
    let mut d = ClientDeflate::new(true);
    for i in 0..5 {
        let m = format!("message {i}: {}", "padding ".repeat(10));
        let wire = d.compress(m.as_bytes());
        c.send_frame(true, 4, OP_TEXT, &wire);
        assert_eq!(c.read_text(), m);
    }
    c.close_cleanly();
}

#[test]
fn server_no_context_takeover_messages_inflate_alone() {
    let server = showcase();
    let (mut c, h) = WsClient::connect_with(
        server.addr(),
        "/ws/echo",
        &[(
            "Sec-WebSocket-Extensions",
            "permessage-deflate; server_no_context_takeover",
        )],
    );
    assert!(h
        .header("Sec-WebSocket-Extensions")
        .unwrap()
        .contains("server_no_context_takeover"));
    assert!(c.server_no_context_takeover);
    let m = "the same text again and again ".repeat(30);
    let mut compressed = 0;
    for _ in 0..4 {
        c.send_text(&m);
        // read_message inflates each message with a fresh inflater here.
        let f = c.read_frame();
        assert_eq!(f.opcode, OP_TEXT);
        if f.rsv & 4 != 0 {
            compressed += 1;
            let mut fresh = Decompress::new_with_window_bits(false, 15);
            let mut input = f.payload.clone();
            input.extend_from_slice(&[0, 0, 0xff, 0xff]);
            let mut out = Vec::with_capacity(m.len() + 64);
            fresh
                .decompress_vec(&input, &mut out, FlushDecompress::Sync)
                .expect("inflates alone");
            assert_eq!(out, m.as_bytes());
        } else {
            assert_eq!(f.payload, m.as_bytes());
        }
    }
    assert!(compressed > 0, "the server never compressed");
    c.close_cleanly();
}

/// Messages shorter than `CompressionOptions::min_length` (the showcase has the default, 256
/// bytes) are echoed uncompressed, RSV1 clear, where deflate would cost more than it saves;
/// from that length on they are compressed, and the compressed ones inflate in order with
/// context takeover (the uncompressed ones in between never entered either side's window).
#[test]
fn messages_below_min_length_are_sent_uncompressed() {
    let server = showcase();
    let (mut c, h) = WsClient::connect_with(
        server.addr(),
        "/ws/echo",
        &[("Sec-WebSocket-Extensions", "permessage-deflate")],
    );
    assert!(h.header("Sec-WebSocket-Extensions").is_some(), "{h:?}");
    let min = CompressionOptions::default().min_length;
    assert_eq!(min, 256);
    let text = "a chat message, and another one. ".repeat(4 * min / 30 + 1);
    for (len, compressed) in [
        (32, false),
        (min - 1, false),
        (min, true),
        (100, false),
        (4 * min, true),
    ] {
        let m = &text[..len];
        c.send_text(m);
        let f = c.read_frame();
        assert_eq!((f.opcode, f.fin), (OP_TEXT, true), "{len} bytes");
        assert_eq!(f.rsv & 4 != 0, compressed, "{len} bytes: rsv {}", f.rsv);
        let got = if compressed {
            assert!(
                f.payload.len() < len,
                "{len} bytes sent as {}",
                f.payload.len()
            );
            c.inflate(&f.payload)
        } else {
            f.payload
        };
        assert_eq!(got, m.as_bytes(), "{len} bytes");
    }
    c.close_cleanly();
}

#[test]
fn server_max_window_bits_is_honoured() {
    let server = showcase();
    // Random-looking blocks repeated at a distance: a larger window would reference them.
    let block: Vec<u8> = (0..3000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let mut msg = block.clone();
    msg.extend_from_slice(&block);
    msg.extend_from_slice(&block);
    for n in 9u8..=15 {
        let offer = format!("permessage-deflate; server_max_window_bits={n}");
        let (mut c, h) = WsClient::connect_with(
            server.addr(),
            "/ws/echo",
            &[("Sec-WebSocket-Extensions", &offer)],
        );
        let resp = h
            .header("Sec-WebSocket-Extensions")
            .expect("accepted")
            .to_owned();
        let params = check_response(&resp);
        let agreed = param(&params, "server_max_window_bits")
            .flatten()
            .expect("answered with a value");
        assert!(agreed <= n, "{resp}");
        for _ in 0..2 {
            c.send_binary(&msg);
            let f = c.read_frame();
            assert_eq!(f.opcode, OP_BINARY);
            assert!(f.fin);
            if f.rsv & 4 != 0 {
                // Inflate with exactly the agreed window: a reference further back fails.
                let mut z = Decompress::new_with_window_bits(false, agreed.max(9));
                let mut input = f.payload.clone();
                input.extend_from_slice(&[0, 0, 0xff, 0xff]);
                let mut out = Vec::with_capacity(msg.len() + 64);
                z.decompress_vec(&input, &mut out, FlushDecompress::Sync)
                    .unwrap_or_else(|e| panic!("window {agreed}: {e}"));
                assert_eq!(out, msg);
                // (Each message is inflated alone here: only valid if it references nothing
                // before it, so also send with no context expected... keep one per connection.)
                break;
            } else {
                assert_eq!(f.payload, msg);
            }
        }
        c.close_cleanly();
    }
}

#[test]
fn bad_compressed_messages_fail_the_connection() {
    let server = showcase();
    let addr = server.addr();
    let ext = [("Sec-WebSocket-Extensions", "permessage-deflate")];
    // Does not inflate: 1002 or 1007.
    let (mut c, _) = WsClient::connect_with(addr, "/ws/echo", &ext);
    c.send_frame(true, 4, OP_BINARY, &[0xff; 40]);
    let f = c.read_close(false);
    assert!(
        matches!(f.close_code(), Some(1002 | 1007)),
        "{:?}",
        f.close_code()
    );
    c.assert_eof_within(std::time::Duration::from_secs(5));
    // RSV1 on a continuation, on a control frame: 1002.
    let (mut c, _) = WsClient::connect_with(addr, "/ws/echo", &ext);
    c.send_frame(false, 0, OP_TEXT, b"a");
    c.send_frame(true, 4, OP_CONT, b"b");
    c.expect_fail(1002);
    let (mut c, _) = WsClient::connect_with(addr, "/ws/echo", &ext);
    c.send_frame(true, 4, OP_PING, b"");
    c.expect_fail(1002);
    // Exactly 1 MiB after inflation passes; one byte more is 1009 (a small frame: no bomb).
    let (mut c, _) = WsClient::connect_with(addr, "/ws/echo", &ext);
    let mut d = ClientDeflate::new(false);
    let exact = vec![b'x'; 1 << 20];
    let wire = d.compress(&exact);
    assert!(wire.len() < 10_000);
    c.send_frame(true, 4, OP_BINARY, &wire);
    assert_eq!(c.read_message(), (OP_BINARY, exact));
    let wire = d.compress(&vec![b'y'; (1 << 20) + 1]);
    c.send_frame(true, 4, OP_BINARY, &wire);
    c.expect_fail(1009);
    // A bomb: 100 MiB of zeros in a few KiB.
    let (mut c, _) = WsClient::connect_with(addr, "/ws/echo", &ext);
    let mut d = ClientDeflate::new(false);
    let wire = d.compress(&vec![0u8; 100 << 20]);
    c.send_frame(true, 4, OP_BINARY, &wire);
    c.expect_fail(1009);
    // Invalid UTF-8 after inflation: 1007.
    let (mut c, _) = WsClient::connect_with(addr, "/ws/echo", &ext);
    let mut d = ClientDeflate::new(false);
    let wire = d.compress(&[b'o', b'k', 0xed, 0xa0, 0x80]);
    c.send_frame(true, 4, OP_TEXT, &wire);
    c.expect_fail(1007);
    let r = TestClient::connect_to(addr).get("/plaintext");
    assert_eq!(r.status(), 200);
    let mut c = WsClient::connect(addr, "/ws/echo");
    c.send_text("fresh");
    assert_eq!(c.read_text(), "fresh");
}
