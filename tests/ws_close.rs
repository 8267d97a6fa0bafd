//! The closing handshake of `/ws/echo` (websocket-contract.md "Closing handshake"): the
//! server echoes the client's code, processes nothing after a Close, and ends the TCP
//! connection within a second; invalid codes fail the connection with 1002.

use std::net::Shutdown;
use std::time::Duration;

use squall_tests::showcase_support::showcase;
use squall_tests::ws::{WsClient, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT};

const VALID: [u16; 16] = [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
];

#[test]
fn every_valid_code_is_echoed_and_tcp_closes_within_a_second() {
    let server = showcase();
    for code in VALID {
        let mut c = WsClient::connect(server.addr(), "/ws/echo");
        c.send_text("before");
        assert_eq!(c.read_text(), "before");
        c.send_close(code, "bye");
        let f = c.read_close(false);
        assert_eq!(f.close_code(), Some(code));
        c.assert_eof_within(Duration::from_secs(1));
    }
}

#[test]
fn an_empty_close_gets_an_empty_close_or_1000() {
    let server = showcase();
    let mut c = WsClient::connect(server.addr(), "/ws/echo");
    c.send_frame(true, 0, OP_CLOSE, b"");
    let f = c.read_close(false);
    assert!(
        f.payload.is_empty() || f.close_code() == Some(1000),
        "{f:?}"
    );
    c.assert_eof_within(Duration::from_secs(1));
}

#[test]
fn nothing_is_processed_after_a_close() {
    let server = showcase();
    let mut c = WsClient::connect(server.addr(), "/ws/echo");
    // In one write: Close, then data, a ping and a second Close.
    let mut bytes = c.encode(true, 0, OP_CLOSE, &1001u16.to_be_bytes(), true);
    bytes.extend(c.encode(true, 0, OP_TEXT, b"after", true));
    bytes.extend(c.encode(true, 0, OP_PING, b"after", true));
    bytes.extend(c.encode(true, 0, OP_CLOSE, &1000u16.to_be_bytes(), true));
    c.send_raw(&bytes);
    let f = c.read_frame();
    assert_eq!((f.opcode, f.close_code()), (OP_CLOSE, Some(1001)));
    // Then EOF: no echo, no pong, no second Close.
    c.assert_eof_within(Duration::from_secs(1));
}

#[test]
fn a_close_inside_a_fragmented_message_drops_the_message() {
    let server = showcase();
    let mut c = WsClient::connect(server.addr(), "/ws/echo");
    c.send_frame(false, 0, OP_BINARY, b"unfinished");
    c.send_close(3000, "");
    let f = c.read_frame();
    assert_eq!((f.opcode, f.close_code()), (OP_CLOSE, Some(3000)));
    c.assert_eof_within(Duration::from_secs(1));
    // Also with the continuation already started.
    let mut c = WsClient::connect(server.addr(), "/ws/echo");
    c.send_frame(false, 0, OP_TEXT, b"a");
    c.send_frame(false, 0, OP_CONT, b"b");
    c.send_close(1000, "");
    let f = c.read_frame();
    assert_eq!((f.opcode, f.close_code()), (OP_CLOSE, Some(1000)));
    c.assert_eof_within(Duration::from_secs(1));
}

#[test]
fn a_client_that_half_closes_after_its_close_still_gets_the_echo() {
    let server = showcase();
    let mut c = WsClient::connect(server.addr(), "/ws/echo");
    c.send_close(1000, "done");
    c.stream.shutdown(Shutdown::Write).unwrap();
    let f = c.read_frame();
    assert_eq!((f.opcode, f.close_code()), (OP_CLOSE, Some(1000)));
    c.assert_eof_within(Duration::from_secs(1));
}

#[test]
fn invalid_codes_fail_with_1002() {
    let server = showcase();
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        let mut c = WsClient::connect(server.addr(), "/ws/echo");
        c.send_close(code, "");
        c.expect_fail(1002);
    }
    let mut c = WsClient::connect(server.addr(), "/ws/echo");
    c.send_text("still serving");
    assert_eq!(c.read_text(), "still serving");
    c.close_cleanly();
}
