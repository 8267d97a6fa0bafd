//! Request bodies: Content-Length and chunked (extensions and trailers accepted), buffered or
//! streamed to a `BodySink`, `Expect: 100-continue` answered only when the body will be read,
//! `BodyMode::Reject`.

use std::any::Any;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use squall::http1::{BodyMode, BodySink, HttpDelegate, Request, Responder};
use squall::ioloop::Trigger;
use squall::testing::{TestServer, WireClient, READ_TIMEOUT};
use squall_tests::{echo, echo_expected, options};

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Pieces a streaming sink received, sent to the test thread as they arrive.
struct Sink {
    tx: Sender<Vec<u8>>,
    total: usize,
    pieces: usize,
    fail_after: Option<usize>,
}

impl BodySink for Sink {
    fn data(&mut self, chunk: &[u8]) -> Result<(), u16> {
        if self.fail_after == Some(0) {
            panic!("sink panicked on purpose");
        }
        self.total += chunk.len();
        self.pieces += 1;
        let _ = self.tx.send(chunk.to_vec());
        match self.fail_after {
            Some(n) if self.total > n => Err(507),
            _ => Ok(()),
        }
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// `/stream*` streams the body to a [`Sink`], `/reject` refuses with 403, `/fail` streams to a
/// sink that fails after 10 bytes; everything else is [`echo`]ed.
struct Bodies {
    tx: Sender<Vec<u8>>,
}

impl HttpDelegate for Bodies {
    fn body_mode(&self, request: &Request) -> BodyMode {
        match request.path() {
            "/reject" => BodyMode::Reject(403),
            "/panic-mode" => panic!("body_mode panicked on purpose"),
            "/panic-sink" => BodyMode::Stream(Box::new(Sink {
                tx: self.tx.clone(),
                total: 0,
                pieces: 0,
                fail_after: Some(0),
            })),
            p if p.starts_with("/stream") || p == "/fail" => BodyMode::Stream(Box::new(Sink {
                tx: self.tx.clone(),
                total: 0,
                pieces: 0,
                fail_after: (p == "/fail").then_some(10),
            })),
            _ => BodyMode::Buffer,
        }
    }

    fn handle(&self, mut request: Request, responder: Responder) {
        if request.path().starts_with("/stream") {
            let sink = request.take_body_sink().expect("sink given back");
            let sink = sink.into_any().downcast::<Sink>().expect("our sink");
            let body = format!(
                "streamed {} bytes; buffered {}",
                sink.total,
                request.body().len()
            );
            responder.respond(200, &[], body.as_bytes());
        } else {
            echo(request, responder)
        }
    }
}

fn server() -> (TestServer, Receiver<Vec<u8>>) {
    server_with(Trigger::Level)
}

fn server_with(trigger: Trigger) -> (TestServer, Receiver<Vec<u8>>) {
    let (tx, rx) = mpsc::channel();
    let mut o = options();
    o.max_body_size = 1000;
    (TestServer::start_on(trigger, move || Bodies { tx }, o), rx)
}

#[test]
fn content_length_body() {
    let (server, _rx) = server();
    let mut c = server.connect();
    c.send(b"POST /cl HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world");
    let r = c.read_response();
    assert_eq!(
        r.normalized(),
        echo_expected("POST", "/cl", "1.1", b"hello world", None)
    );
    // A body of exactly max_body_size is fine.
    let body = vec![b'x'; 1000];
    c.send(b"POST /max HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
    c.send(&body);
    let r = c.read_response();
    assert_eq!(r.body, body);
    // Identical duplicate Content-Length values are one value.
    c.send(b"POST /dup HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!(c.read_response().body, b"ok");
}

#[test]
fn body_arriving_in_pieces() {
    let (server, _rx) = server();
    let mut c = server.connect();
    c.send(b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n01");
    c.assert_open_for(Duration::from_millis(30));
    c.send(b"2345");
    c.assert_open_for(Duration::from_millis(30));
    c.send(b"6789");
    assert_eq!(c.read_response().body, b"0123456789");
}

#[test]
fn chunked_body_with_extensions_and_trailers() {
    let (server, _rx) = server();
    let body: &[u8] = b"4\r\nWiki\r\n5;ext=1;name=\"a;b\"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n\
a ; spaced\r\n0123456789\r\n0;last\r\nX-Trailer: 1\r\nY-Trailer: two\r\n\r\n";
    let head = b"POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    let expect = b"Wikipedia in\r\n\r\nchunks.0123456789";
    // Whole, then cut into pieces of every size from 1 to 9 bytes on one connection.
    let mut c = server.connect();
    c.send(&[&head[..], body].concat());
    let r = c.read_response();
    assert_eq!(
        r.normalized(),
        echo_expected("POST", "/chunked", "1.1", expect, None)
    );
    for piece in 1..10 {
        c.send(head);
        for p in body.chunks(piece) {
            c.send(p);
        }
        assert_eq!(c.read_response().body, expect, "piece {piece}");
    }
    // Upper-case hex, leading zeros, a bigger chunk.
    let big = vec![b'z'; 0x3E8];
    let mut req = head.to_vec();
    req.extend_from_slice(b"003E8\r\n");
    req.extend_from_slice(&big);
    req.extend_from_slice(b"\r\n0\r\n\r\n");
    c.send(&req);
    assert_eq!(c.read_response().body, big);
    // Transfer-Encoding is case-insensitive.
    c.send(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\n\r\n1\r\na\r\n0\r\n\r\n");
    assert_eq!(c.read_response().body, b"a");
    // An empty chunked body.
    c.send(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_eq!(c.read_response().body, b"");
}

#[test]
fn expect_continue_is_answered_when_the_body_will_be_read() {
    let (server, _rx) = server();
    let mut c = server.connect();
    c.send(b"POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.raw, CONTINUE);
    c.send(b"hello");
    let r = c.read_response();
    assert_eq!(
        r.normalized(),
        echo_expected("POST", "/e", "1.1", b"hello", None)
    );
    // Case-insensitive expectation, chunked body.
    c.send(b"POST /e2 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nExpect: 100-Continue\r\n\r\n");
    assert_eq!(c.read_response().raw, CONTINUE);
    c.send(b"3\r\nabc\r\n0\r\n\r\n");
    assert_eq!(c.read_response().body, b"abc");
    // A client that sends the body without waiting gets one 100 and one response.
    c.send(b"POST /e3 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi");
    assert_eq!(c.read_response().raw, CONTINUE);
    assert_eq!(c.read_response().body, b"hi");
    // A streamed body will be read too.
    c.send(
        b"POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(c.read_response().raw, CONTINUE);
    c.send(b"xyz");
    assert_eq!(c.read_response().body, b"streamed 3 bytes; buffered 0");
    c.assert_open_for(Duration::from_millis(30));
}

#[test]
fn expect_continue_without_a_body_sends_no_100() {
    let (server, _rx) = server();
    let mut c = server.connect();
    c.send(b"GET /g HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    c.send(b"POST /z HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Uri"), Some("/z"));
}

#[test]
fn expect_continue_from_http10_sends_no_100() {
    let (server, _rx) = server();
    let mut c = server.connect();
    c.send(b"POST /old HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
    c.assert_open_for(Duration::from_millis(50));
    c.send(b"ok");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"ok");
}

#[test]
fn expect_continue_over_max_body_size_is_413_at_once() {
    let (server, _rx) = server();
    let mut c = server.connect();
    c.send(
        b"POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n",
    );
    let r = c.read_response();
    assert_eq!(
        r.normalized(),
        "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\nDate: <date>\r\n\r\n"
    );
    c.assert_closed();
    server.assert_serves();
}

#[test]
fn rejected_body_mode_answers_without_100_and_closes() {
    let (server, _rx) = server();
    let mut c = server.connect();
    c.send(
        b"POST /reject HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let r = c.read_response();
    assert_eq!(
        r.normalized(),
        "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\nDate: <date>\r\n\r\n"
    );
    c.assert_closed();
    // Without Expect, the same.
    let mut c = server.connect();
    c.send(b"POST /reject HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(c.read_response().status, 403);
    c.assert_closed();
    server.assert_serves();
}

/// Collects what the sink received until `n` bytes have arrived (bounded wait).
fn sink_bytes(rx: &Receiver<Vec<u8>>, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        let piece = rx
            .recv_timeout(READ_TIMEOUT)
            .expect("sink did not receive the piece");
        got.extend_from_slice(&piece);
    }
    assert_eq!(got.len(), n, "sink got more than was sent");
    got
}

#[test]
fn streamed_body_reaches_the_sink_as_it_arrives() {
    let (server, rx) = server();
    let mut c = server.connect();
    c.send(b"POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 30\r\n\r\n");
    // Each piece reaches the sink before the next is sent: the body is not buffered first.
    for piece in [&b"0123456789"[..], b"abcdefghij", b"ABCDEFGHIJ"] {
        c.send(piece);
        assert_eq!(sink_bytes(&rx, piece.len()), piece);
    }
    let r = c.read_response();
    assert_eq!(r.body, b"streamed 30 bytes; buffered 0");
    // Chunked, the same; only the data reaches the sink.
    c.send(b"POST /stream2 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(b"5;x=1\r\nhello\r\n");
    assert_eq!(sink_bytes(&rx, 5), b"hello");
    c.send(b"6\r\n world\r\n");
    assert_eq!(sink_bytes(&rx, 6), b" world");
    c.send(b"0\r\nT: v\r\n\r\n");
    assert_eq!(c.read_response().body, b"streamed 11 bytes; buffered 0");
    assert!(rx.try_recv().is_err());
}

#[test]
fn failing_sink_answers_its_status_and_closes() {
    let (server, rx) = server();
    let mut c = server.connect();
    c.send(b"POST /fail HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n0123456789ABCDEFGHIJ");
    let r = c.read_response();
    assert_eq!(r.status, 507);
    assert_eq!(r.header("Connection"), Some("close"));
    c.assert_closed();
    drop(rx);
    server.assert_serves();
}

#[test]
fn http10_body_by_content_length() {
    let (server, _rx) = server();
    let mut c = WireClient::connect(server.addr());
    c.send(b"POST /old HTTP/1.0\r\nContent-Length: 4\r\n\r\nbody");
    let r = c.read_response();
    assert_eq!(
        r.normalized(),
        echo_expected("POST", "/old", "1.0", b"body", Some("close"))
    );
    c.assert_closed();
}

#[test]
fn panicking_body_mode_or_sink_answers_500_and_closes() {
    let (server, _rx) = server();
    for (path, body) in [("/panic-mode", "abc"), ("/panic-sink", "abc")] {
        let mut c = server.connect();
        c.send(
            format!("POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\n{body}")
                .as_bytes(),
        );
        let r = c.read_response();
        assert_eq!(r.status, 500, "{path}: {r:?}");
        assert_eq!(r.header("Connection"), Some("close"), "{path}");
        c.assert_closed();
    }
    server.assert_serves();
}

#[test]
fn bodies_edge_triggered() {
    // The same framing paths on an edge-triggered loop, where every read drains the socket.
    let (server, rx) = server_with(Trigger::Edge);
    let mut c = server.connect();
    c.send(b"POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(c.read_response().raw, CONTINUE);
    c.send(b"he");
    c.send(b"llo");
    assert_eq!(c.read_response().body, b"hello");
    c.send(b"POST /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2;x\r\nab\r\n0\r\nT: 1\r\n\r\n");
    assert_eq!(c.read_response().body, b"ab");
    c.send(b"POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\n12");
    assert_eq!(sink_bytes(&rx, 2), b"12");
    c.send(b"34");
    assert_eq!(sink_bytes(&rx, 2), b"34");
    assert_eq!(c.read_response().body, b"streamed 4 bytes; buffered 0");
    c.send(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    assert_eq!(c.read_response().status, 400);
    c.assert_closed();
    server.assert_serves();
}
