//! Lingering close (RFC 9112 §9.6): when the server closes while the client may still be
//! sending (bad input refused, requests left unanswered), it shuts its write side and reads and
//! drops input until the client closes or `linger_timeout` passes, instead of closing with
//! input unread (which makes the kernel reset the connection and can destroy the response).
//!
//! From outside: after the response and the server's end of output, the client can go on
//! sending for a while; a server that has closed its socket answers the next bytes with a
//! reset, so a second write fails.

use std::time::{Duration, Instant};

use squall::testing::{TestServer, WireClient};
use squall_tests::{echo, options};

/// Whether the server still reads the connection: two writes a little apart both succeed.
/// (Bytes sent to a closed socket are answered with a reset, which fails the next write.)
fn server_still_reads(c: &mut WireClient) -> bool {
    for _ in 0..2 {
        if c.try_send(&[b'x'; 1024]).is_err() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The server's end of output: a read returns 0 (not a reset).
fn assert_eof(c: &mut WireClient) {
    use std::io::Read;
    let mut b = [0u8; 64];
    match c.stream.read(&mut b) {
        Ok(0) => {}
        other => panic!("expected the server's end of output, got {other:?}"),
    }
}

fn server(linger: Option<Duration>) -> TestServer {
    let mut o = options();
    o.max_body_size = 1000;
    o.linger_timeout = linger;
    TestServer::start_with(|| echo, o)
}

/// A request whose body is over the limit, and the start of that body.
fn send_refused_request(c: &mut WireClient) {
    c.send(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n");
    // The server refuses on the head; the client, not knowing yet, sends body bytes.
    c.send(&[b'a'; 64 * 1024]);
}

#[test]
fn a_refused_body_is_answered_and_the_rest_is_read_and_dropped() {
    let server = server(Some(Duration::from_secs(10)));
    let mut c = server.connect();
    send_refused_request(&mut c);
    let r = c.read_response();
    assert_eq!(r.status, 413);
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eof(&mut c);
    // The client may go on sending its body: the server still reads (and drops) it.
    for _ in 0..32 {
        c.send(&[b'a'; 64 * 1024]);
    }
    assert!(server_still_reads(&mut c));
    // The server is not stuck: other connections are served.
    server.assert_serves();
}

#[test]
fn lingering_ends_after_linger_timeout() {
    let linger = Duration::from_millis(300);
    let server = server(Some(linger));
    let mut c = server.connect();
    let t0 = Instant::now();
    send_refused_request(&mut c);
    assert_eq!(c.read_response().status, 413);
    assert_eof(&mut c);
    // A client that neither closes nor stops sending is closed on after the linger timeout.
    let deadline = t0 + Duration::from_secs(10);
    while server_still_reads(&mut c) {
        assert!(Instant::now() < deadline, "still lingering after 10 s");
    }
    assert!(
        t0.elapsed() >= linger,
        "closed after {:?}, before the linger timeout",
        t0.elapsed()
    );
}

#[test]
fn without_linger_timeout_the_connection_closes_at_once() {
    let server = server(None);
    let mut c = server.connect();
    send_refused_request(&mut c);
    // The response may or may not survive the reset here: that is what lingering is for.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server_still_reads(&mut c) {
        assert!(Instant::now() < deadline, "not closed after 10 s");
    }
}

#[test]
fn requests_left_unanswered_make_the_connection_linger() {
    let server = server(Some(Duration::from_secs(10)));
    let mut c = server.connect();
    // A request that ends the connection, with another behind it in the same write.
    c.send(
        b"GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n\
          GET /b HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Uri"), Some("/a"));
    assert_eof(&mut c);
    assert!(server_still_reads(&mut c));
}

#[test]
fn a_normal_close_does_not_linger() {
    let server = server(Some(Duration::from_secs(10)));
    let mut c = server.connect();
    c.send(b"GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
    assert_eof(&mut c);
    // Nothing was left unread: the socket is closed, not kept for 10 s.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server_still_reads(&mut c) {
        assert!(Instant::now() < deadline, "a plain close lingered");
    }
}
