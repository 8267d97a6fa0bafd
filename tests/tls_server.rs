//! HTTP/1.1 over TLS, exact bytes: a real TLS client (Python's ssl, through
//! `tls_support::Bridge`) talks to the server; HTTP behaves as over plain TCP (keep-alive,
//! pipelining, large bodies both ways) and requests say `https`.

mod tls_support;

use std::time::Duration;

use squall::ioloop::Trigger;
use squall::testing::{normalize_date, TestServer, ALIVE_PATH};
use squall_tests::echo;
use tls_support::{echo_expected_https, server_tls, tls_options, Bridge};

fn https_echo() -> TestServer {
    TestServer::start_with(|| echo, tls_options(server_tls()))
}

#[test]
fn keep_alive_serves_many_requests_on_one_tls_session() {
    let server = https_echo();
    let bridge = Bridge::start(server.addr(), &[]);
    let mut c = bridge.connect();
    for i in 0..3 {
        let uri = format!("/r{i}");
        c.send(format!("GET {uri} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let r = c.read_response();
        assert_eq!(r.normalized(), echo_expected_https("GET", &uri, b"", None));
    }
    let hs = bridge.handshake();
    assert_eq!(hs["alpn"], "http/1.1", "{hs}");
    c.assert_open_for(Duration::from_millis(50));
    c.send(b"GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let r = c.read_response();
    assert_eq!(
        r.normalized(),
        echo_expected_https("GET", "/last", b"", Some("close"))
    );
    c.assert_closed();
    // A clean close ends the TLS session with close_notify before the TCP FIN.
    assert_eq!(bridge.closed(), "close_notify");
    server.assert_serves_tls(&bridge);
}

#[test]
fn pipelined_requests_are_answered_in_order_in_one_write() {
    for trigger in [Trigger::Level, Trigger::Edge] {
        let server = TestServer::start_on(trigger, || echo, tls_options(server_tls()));
        let bridge = Bridge::start(server.addr(), &[]);
        let mut c = bridge.connect();
        c.send(
            b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n\
              POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello\
              GET /c HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        let raw = c.read_to_close();
        let expected = [
            echo_expected_https("GET", "/a", b"", None),
            echo_expected_https("POST", "/b", b"hello", None),
            echo_expected_https("GET", "/c", b"", Some("close")),
        ]
        .concat();
        assert_eq!(normalize_date(&raw), expected, "{trigger:?}");
    }
}

/// A body larger than every buffer on the way (the stream's read bound, rustls's 64 KiB of
/// records, the kernel's socket buffers) goes up and comes back whole, in both trigger modes.
#[test]
fn large_bodies_both_ways() {
    for trigger in [Trigger::Level, Trigger::Edge] {
        let server = TestServer::start_on(trigger, || echo, tls_options(server_tls()));
        let bridge = Bridge::start(server.addr(), &[]);
        let body: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| (i % 251) as u8).collect();
        let head = format!(
            "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let r = squall_tests::send_while_reading(bridge.addr(), head.as_bytes(), &body);
        assert_eq!(r.status, 200, "{trigger:?}");
        assert_eq!(
            r.header("X-Body-Len"),
            Some(body.len().to_string().as_str())
        );
        assert_eq!(r.header("X-Protocol"), Some("https"));
        assert!(r.body == body, "{trigger:?}: the echoed body differs");
        server.assert_serves_tls(&bridge);
    }
}

#[test]
fn chunked_upload_over_tls() {
    let server = https_echo();
    let bridge = Bridge::start(server.addr(), &[]);
    let mut c = bridge.connect();
    c.send(b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(b"5\r\nhello\r\n");
    c.send(b"6\r\n world\r\n0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(
        r.normalized(),
        echo_expected_https("POST", "/up", b"hello world", None)
    );
}

/// A client that ends its side with a bare TCP FIN (no close_notify) is a client at its end
/// of input: its responses still go out, then the connection closes.
#[test]
fn client_closing_without_close_notify() {
    let server = https_echo();
    let bridge = Bridge::start(server.addr(), &["--eof", "abrupt"]);
    let mut c = bridge.connect();
    c.send(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
    c.shutdown_write();
    let raw = c.read_to_close();
    assert_eq!(
        normalize_date(&raw),
        echo_expected_https("GET", "/x", b"", None)
    );
    // Half a request, then the abrupt end: closed, no answer, nothing breaks.
    let mut c = bridge.connect();
    c.send(b"GET /half HTTP/1.1\r\nHo");
    c.shutdown_write();
    assert_eq!(c.read_to_close(), b"");
    server.assert_serves_tls(&bridge);
}

/// The same with close_notify before the FIN.
#[test]
fn client_closing_with_close_notify() {
    let server = https_echo();
    let bridge = Bridge::start(server.addr(), &["--eof", "notify"]);
    let mut c = bridge.connect();
    c.send(b"GET /y HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.normalized(), echo_expected_https("GET", "/y", b"", None));
    c.shutdown_write();
    assert_eq!(c.read_to_close(), b"");
    server.assert_serves_tls(&bridge);
}

/// Bad HTTP inside TLS gets the same answers as over TCP.
#[test]
fn bad_request_inside_tls_is_400() {
    let server = https_echo();
    let bridge = Bridge::start(server.addr(), &[]);
    let mut c = bridge.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 400);
    assert_eq!(r.header("Connection"), Some("close"));
    c.assert_closed();
    server.assert_serves_tls(&bridge);
}

/// Pipelined requests beyond the read buffer's bound (128 KiB here), behind a response that
/// takes a while: the stream stops reading, and rustls keeps what it decrypted but the buffer
/// could not take. With the tail of the input all decrypted (the socket empty), only the
/// stream itself can resume when the slow answer frees room: no readiness event announces
/// plaintext already decrypted. Every request is answered, in order, whatever the excess.
#[test]
fn back_pressure_resumes_with_plaintext_held_by_tls() {
    for trigger in [Trigger::Level, Trigger::Edge] {
        let server = TestServer::start_on(
            trigger,
            || {
                |req: squall::http1::Request, res: squall::http1::Responder| {
                    if req.path() == "/slow" {
                        let io_loop = squall::ioloop::IOLoop::current();
                        io_loop.call_later(Duration::from_millis(200), move || {
                            res.respond(200, &[], b"slow")
                        });
                    } else {
                        echo(req, res)
                    }
                }
            },
            tls_options(server_tls()),
        );
        let bridge = Bridge::start(server.addr(), &[]);
        let body = vec![b'x'; 4096];
        // 31 requests of ~4.1 KB are just under the bound; up to 40 go ~40 KB over it.
        for n in 30..=40 {
            let mut c = bridge.connect();
            let mut batch = b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
            for i in 0..n {
                batch.extend_from_slice(
                    format!("POST /p{i} HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n")
                        .as_bytes(),
                );
                batch.extend_from_slice(&body);
            }
            batch.extend_from_slice(b"GET /end HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
            let mut w = c.stream.try_clone().unwrap();
            let writer = std::thread::spawn(move || {
                use std::io::Write;
                w.write_all(&batch).unwrap();
            });
            let r = c.read_response();
            assert_eq!(
                (r.status, r.body.as_slice()),
                (200, &b"slow"[..]),
                "{trigger:?}"
            );
            for i in 0..n {
                let r = c.read_response();
                assert_eq!(r.header("X-Uri"), Some(format!("/p{i}").as_str()), "{n}");
                assert_eq!(r.body.len(), 4096);
            }
            let r = c.read_response();
            assert_eq!(r.header("X-Uri"), Some("/end"), "{trigger:?} {n}");
            c.assert_closed();
            writer.join().unwrap();
        }
    }
}

trait ServesTls {
    fn assert_serves_tls(&self, bridge: &Bridge);
}

impl ServesTls for TestServer {
    /// A fresh TLS connection is served (after a negative case).
    fn assert_serves_tls(&self, bridge: &Bridge) {
        let mut c = bridge.connect();
        c.send(
            format!("GET {ALIVE_PATH} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let r = c.read_response();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"alive"[..]), "{r:?}");
        c.assert_closed();
    }
}
