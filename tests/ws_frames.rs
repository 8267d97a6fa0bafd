//! Messages, frames and failing the connection (websocket-contract.md "Messages and frames"
//! and "Failing the connection") against the showcase's `/ws/echo`, over raw sockets: every
//! frame the server sends is checked against the server-side rules (unmasked, minimal
//! length, RSV bits, control frames), and after every failure plain HTTP and a fresh echo
//! still work.

use std::net::SocketAddr;

use squall::testing::TestClient;
use squall_tests::showcase_support::showcase;
use squall_tests::ws::{WsClient, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT};

const MIB: usize = 1 << 20;

fn still_serves(addr: SocketAddr) {
    let r = TestClient::connect_to(addr).get("/plaintext");
    assert_eq!((r.status(), r.text().as_str()), (200, "Hello, World!"));
    let mut c = WsClient::connect(addr, "/ws/echo");
    c.send_binary(b"fresh");
    assert_eq!(c.read_message(), (OP_BINARY, b"fresh".to_vec()));
    c.close_cleanly();
}

#[test]
fn text_and_binary_are_echoed_byte_for_byte_with_every_length_encoding() {
    let server = showcase();
    let mut c = WsClient::connect(server.addr(), "/ws/echo");
    for len in [0usize, 1, 125, 126, 127, 65535, 65536, 200_000] {
        let text: String = "añ€𝄞".chars().cycle().take(len).collect::<String>();
        let text = &text[..text
            .char_indices()
            .map(|(i, _)| i)
            .take_while(|&i| i <= len)
            .last()
            .unwrap_or(0)];
        c.send_text(text);
        assert_eq!(c.read_text(), text, "text of {} bytes", text.len());
        let bin: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        c.send_binary(&bin);
        assert_eq!(c.read_message(), (OP_BINARY, bin), "binary of {len} bytes");
    }
    // Non-minimal length encodings are accepted: 3 bytes in the 16- and 64-bit forms.
    let mask = [1u8, 2, 3, 4];
    let payload: Vec<u8> = b"abc"
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    let mut f16 = vec![0x82, 0x80 | 126, 0, 3];
    f16.extend_from_slice(&mask);
    f16.extend_from_slice(&payload);
    let mut f64 = vec![0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 3];
    f64.extend_from_slice(&mask);
    f64.extend_from_slice(&payload);
    c.send_raw(&f16);
    c.send_raw(&f64);
    assert_eq!(c.read_message(), (OP_BINARY, b"abc".to_vec()));
    assert_eq!(c.read_message(), (OP_BINARY, b"abc".to_vec()));
    c.close_cleanly();
}

#[test]
fn frames_split_anywhere_and_many_messages_in_one_write() {
    let server = showcase();
    let mut c = WsClient::connect(server.addr(), "/ws/echo");
    let frame = c.encode(true, 0, OP_TEXT, "split κόσμε".as_bytes(), true);
    for piece in frame.chunks(1) {
        c.send_raw(piece);
    }
    assert_eq!(c.read_text(), "split κόσμε");
    let mut batch = Vec::new();
    for i in 0..100 {
        batch.extend(c.encode(true, 0, OP_TEXT, format!("m{i}").as_bytes(), true));
    }
    c.send_raw(&batch);
    for i in 0..100 {
        assert_eq!(c.read_text(), format!("m{i}"));
    }
    c.close_cleanly();
}

#[test]
fn fragments_with_control_frames_interleaved() {
    let server = showcase();
    let mut c = WsClient::connect(server.addr(), "/ws/echo");
    c.send_frame(false, 0, OP_TEXT, "frag".as_bytes());
    c.send_frame(true, 0, OP_PING, b"in between");
    c.send_frame(false, 0, OP_CONT, "men".as_bytes());
    c.send_frame(true, 0, OP_PONG, b"unsolicited");
    // A multi-byte character split across fragments.
    c.send_frame(false, 0, OP_CONT, &[0xe2, 0x82]);
    c.send_frame(true, 0, OP_CONT, &[0xac, b'!']);
    let pong = c.read_frame();
    assert_eq!(
        (pong.opcode, pong.payload.as_slice()),
        (OP_PONG, &b"in between"[..])
    );
    assert_eq!(c.read_text(), "fragmen€!");
    // Binary in three pieces, one empty.
    c.send_frame(false, 0, OP_BINARY, &[1, 2]);
    c.send_frame(false, 0, OP_CONT, &[]);
    c.send_frame(true, 0, OP_CONT, &[3]);
    assert_eq!(c.read_message(), (OP_BINARY, vec![1, 2, 3]));
    c.close_cleanly();
}

#[test]
fn pings_get_pongs_with_the_same_payload_and_pongs_are_ignored() {
    let server = showcase();
    let mut c = WsClient::connect(server.addr(), "/ws/echo");
    for payload in [&b""[..], b"x", &[7u8; 125]] {
        c.send_frame(true, 0, OP_PING, payload);
        let f = c.read_frame();
        assert_eq!((f.opcode, f.payload.as_slice()), (OP_PONG, payload));
    }
    c.send_frame(true, 0, OP_PONG, b"nobody asked");
    c.send_text("after the pong");
    assert_eq!(
        c.read_text(),
        "after the pong",
        "the unsolicited pong got no answer"
    );
    c.close_cleanly();
}

#[test]
fn exactly_the_max_message_size_is_accepted_one_more_byte_is_1009() {
    let server = showcase();
    let addr = server.addr();
    let mut c = WsClient::connect(addr, "/ws/echo");
    let data = vec![0x5a; MIB];
    c.send_binary(&data);
    assert_eq!(c.read_message(), (OP_BINARY, data.clone()));
    // Also as fragments adding up to exactly 1 MiB.
    c.send_frame(false, 0, OP_BINARY, &data[..MIB / 2]);
    c.send_frame(true, 0, OP_CONT, &data[MIB / 2..]);
    assert_eq!(c.read_message(), (OP_BINARY, data));
    // One byte more, across fragments: 1009.
    c.send_frame(false, 0, OP_BINARY, &vec![1; MIB / 2]);
    c.send_frame(true, 0, OP_CONT, &vec![1; MIB / 2 + 1]);
    c.expect_fail(1009);
    still_serves(addr);
}

#[test]
fn a_header_declaring_too_much_is_1009_at_once() {
    let server = showcase();
    let addr = server.addr();
    for len in [MIB as u64 + 1, 1 << 40] {
        let mut c = WsClient::connect(addr, "/ws/echo");
        // Only the header: no payload follows, the answer must not wait for it.
        let mut head = vec![0x82, 0x80 | 127];
        head.extend_from_slice(&len.to_be_bytes());
        head.extend_from_slice(&[9, 9, 9, 9]);
        c.send_raw(&head);
        c.expect_fail(1009);
    }
    still_serves(addr);
}

/// Each case: the frames to send (after a valid handshake) and the close code.
fn failure_cases(c: &mut WsClient) -> Vec<(&'static str, Vec<u8>, &'static [u16])> {
    let mut cases: Vec<(&'static str, Vec<u8>, &'static [u16])> = Vec::new();
    for rsv in [1u8, 2, 4] {
        // (No permessage-deflate was agreed: even RSV1 has no meaning.)
        cases.push((
            "an RSV bit",
            c.encode(true, rsv, OP_TEXT, b"x", true),
            &[1002],
        ));
    }
    for op in [3u8, 4, 5, 6, 7, 11, 12, 13, 14, 15] {
        cases.push((
            "a reserved opcode",
            c.encode(true, 0, op, b"", true),
            &[1002],
        ));
    }
    cases.push((
        "an unmasked frame",
        c.encode(true, 0, OP_TEXT, b"x", false),
        &[1002],
    ));
    cases.push((
        "a long ping",
        c.encode(true, 0, OP_PING, &[0; 126], true),
        &[1002],
    ));
    cases.push((
        "a fragmented ping",
        c.encode(false, 0, OP_PING, b"", true),
        &[1002],
    ));
    cases.push((
        "a lone continuation",
        c.encode(true, 0, OP_CONT, b"x", true),
        &[1002],
    ));
    let mut two = c.encode(false, 0, OP_TEXT, b"a", true);
    two.extend(c.encode(true, 0, OP_BINARY, b"b", true));
    cases.push(("a new message inside a fragmented one", two, &[1002]));
    cases.push((
        "a 1-byte Close",
        c.encode(true, 0, OP_CLOSE, &[3], true),
        &[1002],
    ));
    let mut top = vec![0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1];
    top.extend_from_slice(&[1, 2, 3, 4]);
    cases.push(("a 64-bit length with the top bit", top, &[1002, 1009]));
    for bad in [
        &[0xc0, 0x80][..],         // overlong
        &[0xed, 0xa0, 0x80],       // surrogate
        &[0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
        &[b'a', 0xe2, 0x82],       // truncated
        &[0xfe],
        &[0xff],
    ] {
        cases.push((
            "invalid UTF-8",
            c.encode(true, 0, OP_TEXT, bad, true),
            &[1007],
        ));
    }
    let mut spans = c.encode(false, 0, OP_TEXT, &[b'o', b'k', 0xf0, 0x9f], true);
    spans.extend(c.encode(true, 0, OP_CONT, &[0x98, b'x'], true));
    cases.push(("invalid UTF-8 spanning fragments", spans, &[1007]));
    let mut reason = vec![0x03, 0xe8];
    reason.extend_from_slice(&[0xce, 0xba, 0xff]);
    cases.push((
        "a Close reason that is not UTF-8",
        c.encode(true, 0, OP_CLOSE, &reason, true),
        &[1007],
    ));
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
    ] {
        let p = code.to_be_bytes();
        cases.push((
            "an invalid close code",
            c.encode(true, 0, OP_CLOSE, &p, true),
            &[1002],
        ));
    }
    cases
}

#[test]
fn protocol_errors_fail_the_connection_with_the_right_code() {
    let server = showcase();
    let addr = server.addr();
    let mut scratch = WsClient::tcp(addr);
    let cases = failure_cases(&mut scratch);
    drop(scratch);
    for (what, bytes, codes) in cases {
        let mut c = WsClient::connect(addr, "/ws/echo");
        c.send_raw(&bytes);
        // Anything sent after the bad frame must get no answer (no echo, no pong).
        let after = [
            c.encode(true, 0, OP_PING, b"after", true),
            c.encode(true, 0, OP_TEXT, b"after", true),
        ]
        .concat();
        let _ = c.try_send_raw(&after);
        let f = c.read_close(false);
        assert!(
            f.close_code().is_some_and(|code| codes.contains(&code)),
            "{what}: got {:?}, want {codes:?}",
            f.close_code()
        );
        c.assert_eof_within(std::time::Duration::from_secs(5));
    }
    still_serves(addr);
}
