//! Issue #12 item 4: connections that never send a byte must not lock clients out.
//!
//! - A server whose descriptors are all taken by silent connections (a child process with
//!   RLIMIT_NOFILE lowered to 64, 100 silent connections) closes its oldest idle ones when
//!   `accept` fails with EMFILE, so a real client is served, long before any timeout could
//!   have freed a descriptor (the first-byte timeout is a minute there).
//! - A connection that sends nothing is closed after `first_byte_timeout`; one that has sent a
//!   request is kept alive for `idle_timeout` instead.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use squall::http1::HttpServerOptions;
use squall::testing::TestServer;
use squall_tests::app_process::AppProcess;
use squall_tests::{echo, options};

const SERVER: &str = env!("CARGO_BIN_EXE_fd_limit_server");

/// A request on a new connection, answered (bounded by a generous timeout).
fn served(addr: std::net::SocketAddr) -> String {
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out)
        .expect("the real client was not answered");
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn silent_connections_past_the_fd_limit_do_not_lock_out_a_client() {
    let mut server = AppProcess::start(SERVER, &["64", "60000"]);
    let addr = server.expect_port();
    // The kernel completes these handshakes from the listen backlog whether or not the
    // server can accept them.
    let silent: Vec<TcpStream> = (0..100)
        .map(|i| TcpStream::connect(addr).unwrap_or_else(|e| panic!("silent {i}: {e}")))
        .collect();
    for _ in 0..3 {
        let r = served(addr);
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r:?}");
        assert!(r.ends_with("\r\n\r\nok"), "{r:?}");
    }
    // The room was made by closing silent connections, oldest first: the first one opened
    // is closed (a read sees EOF or a reset, not a timeout).
    let mut first = &silent[0];
    first
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut byte = [0u8; 1];
    match first.read(&mut byte) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the oldest silent connection is still open: {other:?}"),
    }
    drop(silent);
    assert!(served(addr).ends_with("ok"));
}

#[test]
fn a_silent_connection_is_closed_after_the_first_byte_timeout() {
    let server = TestServer::start_with(
        || echo,
        HttpServerOptions {
            first_byte_timeout: Some(Duration::from_millis(300)),
            ..options()
        },
    );
    let mut silent = server.connect();
    silent.assert_closed();
    // A connection that has sent a request waits for the idle timeout (an hour), not this one.
    let mut busy = server.connect();
    busy.send(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(busy.read_response().status, 200);
    busy.assert_open_for(Duration::from_millis(1500));
    busy.send(b"GET /b HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(busy.read_response().status, 200);
    server.assert_serves();
}
