//! Pipelining: requests sent back to back on one connection are answered in order, the
//! responses of one batch leave in one write, and an asynchronous response holds the later
//! ones back without reordering them.

use std::time::Duration;

use squall::http1::{Request, Responder};
use squall::ioloop::Trigger;
use squall::testing::{TestServer, WireClient};
use squall_tests::{echo, echo_expected, options};

fn ten_gets() -> Vec<u8> {
    let mut reqs = Vec::new();
    for i in 0..10 {
        reqs.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    reqs
}

fn ten_in_one_send(trigger: Trigger) {
    let server = TestServer::start_on(trigger, || echo, options());
    let mut c = server.connect();
    // Twice: the first batch on a fresh connection, the second on a warm one.
    for _ in 0..2 {
        let reads = c.reads;
        c.send(&ten_gets());
        for i in 0..10 {
            let r = c.read_response();
            assert_eq!(
                r.normalized(),
                echo_expected("GET", &format!("/{i}"), "1.1", b"", None)
            );
        }
        assert!(c.buffered().is_empty());
        let used = c.reads - reads;
        assert!(
            used <= 2,
            "10 pipelined responses took {used} reads: not written as one batch"
        );
    }
}

#[test]
fn ten_requests_in_one_send_answered_in_order_in_one_batch() {
    ten_in_one_send(Trigger::Level);
}

#[test]
fn ten_requests_in_one_send_edge_triggered() {
    ten_in_one_send(Trigger::Edge);
}

#[test]
fn mixed_pipeline_of_gets_and_posts_with_bodies() {
    let server = TestServer::start_with(|| echo, options());
    let mut c = server.connect();
    let reqs: &[&[u8]] = &[
        b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
        b"GET /c?q=1 HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /d HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n",
        b"PUT /e HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
        b"POST /f HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nGET /x HTTP",
        b"GET /g HTTP/1.1\r\nHost: t\r\n\r\n",
    ];
    c.send(&reqs.concat());
    let expected = [
        ("GET", "/a", &b""[..]),
        ("POST", "/b", b"hello"),
        ("GET", "/c?q=1", b""),
        ("POST", "/d", b"abcde"),
        ("PUT", "/e", b""),
        ("POST", "/f", b"GET /x HTTP"),
        ("GET", "/g", b""),
    ];
    for (m, u, b) in expected {
        let r = c.read_response();
        assert_eq!(r.normalized(), echo_expected(m, u, "1.1", b, None));
    }
    c.assert_open_for(Duration::from_millis(50));
}

#[test]
fn pipeline_split_at_every_byte_boundary() {
    // The same pipeline delivered in two pieces, cut at every position.
    let server = TestServer::start_with(|| echo, options());
    let pipeline: &[u8] = b"POST /1 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: t\r\n\r\nPOST /3 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1;e\r\nz\r\n0\r\n\r\n";
    for cut in 1..pipeline.len() {
        let mut c = server.connect();
        c.send(&pipeline[..cut]);
        c.send(&pipeline[cut..]);
        let rs = c.read_responses(3);
        assert_eq!(rs[0].body, b"abc", "cut {cut}");
        assert_eq!(rs[1].header("X-Uri"), Some("/2"), "cut {cut}");
        assert_eq!(rs[2].body, b"z", "cut {cut}");
    }
}

/// Answers `/slow` from a task after a sleep, everything else at once.
fn slow_first(req: Request, res: Responder) {
    if req.path() == "/slow" {
        squall::task::spawn(async move {
            squall::task::sleep(Duration::from_millis(50)).await;
            res.respond(200, &[("X-Uri", "/slow")], b"slow");
        });
    } else {
        echo(req, res)
    }
}

#[test]
fn async_response_keeps_pipelined_order() {
    let server = TestServer::start_with(|| slow_first, options());
    let mut c = server.connect();
    let mut reqs = b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
    for i in 0..5 {
        reqs.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    reqs.extend_from_slice(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    reqs.extend_from_slice(b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok");
    c.send(&reqs);
    let r = c.read_response();
    assert_eq!(r.body, b"slow");
    for i in 0..5 {
        let r = c.read_response();
        assert_eq!(r.header("X-Uri"), Some(format!("/{i}").as_str()));
    }
    assert_eq!(c.read_response().body, b"slow");
    let r = c.read_response();
    assert_eq!(r.header("X-Uri"), Some("/p"));
    assert_eq!(r.body, b"ok");
    c.assert_open_for(Duration::from_millis(50));
}

#[test]
fn connection_close_in_a_pipeline_ends_it_there() {
    let server = TestServer::start_with(|| echo, options());
    let mut c = server.connect();
    c.send(
        b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /3 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let r1 = c.read_response();
    assert_eq!(r1.header("X-Uri"), Some("/1"));
    assert_eq!(r1.header("Connection"), None);
    let r2 = c.read_response();
    assert_eq!(r2.header("X-Uri"), Some("/2"));
    assert_eq!(r2.header("Connection"), Some("close"));
    // /3 is never answered.
    c.assert_closed();
}

#[test]
fn half_close_mid_request_still_answers_the_complete_ones() {
    half_close_mid_request(Trigger::Level);
}

#[test]
fn half_close_mid_request_edge_triggered() {
    half_close_mid_request(Trigger::Edge);
}

fn half_close_mid_request(trigger: Trigger) {
    let server = TestServer::start_on(trigger, || slow_first, options());
    // A partial head after complete requests, then EOF: the complete ones are answered.
    let mut c = server.connect();
    c.send(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\nGET /3 HTT");
    c.shutdown_write();
    let rs = c.read_responses(2);
    assert_eq!(rs[0].header("X-Uri"), Some("/1"));
    assert_eq!(rs[1].header("X-Uri"), Some("/2"));
    c.assert_closed();
    // A partial body after a complete request, then EOF.
    let mut c = server.connect();
    c.send(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nPOST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    c.shutdown_write();
    let r = c.read_response();
    assert_eq!(r.header("X-Uri"), Some("/1"));
    c.assert_closed();
    // The same behind an asynchronous response (EOF seen while it is pending).
    let mut c = server.connect();
    c.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\nGET /3 HTT");
    c.shutdown_write();
    let rs = c.read_responses(2);
    assert_eq!(rs[0].body, b"slow");
    assert_eq!(rs[1].header("X-Uri"), Some("/2"));
    c.assert_closed();
    let mut c = server.connect();
    c.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\nPOST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    c.shutdown_write();
    assert_eq!(c.read_response().body, b"slow");
    c.assert_closed();
    // Stray blank lines after the last request (RFC 9112 §2.2), then EOF.
    let mut c = server.connect();
    c.send(b"POST /1 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok\r\n");
    c.shutdown_write();
    let r = c.read_response();
    assert_eq!(r.body, b"ok");
    c.assert_closed();
    server.assert_serves();
}

#[test]
fn leading_blank_lines_before_a_request_are_ignored() {
    let server = TestServer::start_with(|| echo, options());
    let mut c = server.connect();
    c.send(b"POST /1 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response().body, b"ok");
    assert_eq!(c.read_response().header("X-Uri"), Some("/2"));
}

#[test]
fn many_pipelined_requests_beyond_the_read_buffer() {
    many_pipelined(Trigger::Level);
}

#[test]
fn many_pipelined_requests_beyond_the_read_buffer_edge_triggered() {
    many_pipelined(Trigger::Edge);
}

fn many_pipelined(trigger: Trigger) {
    // More pipelined bytes than the connection's read buffer holds: reading pauses and resumes,
    // every request is answered, in order.
    let server = TestServer::start_on(trigger, || echo, options());
    let mut c = WireClient::connect(server.addr());
    let n = 3000;
    let mut reqs = Vec::new();
    for i in 0..n {
        reqs.extend_from_slice(
            format!(
                "GET /{i} HTTP/1.1\r\nHost: t\r\nX-Pad: {}\r\n\r\n",
                "p".repeat(40)
            )
            .as_bytes(),
        );
    }
    assert!(reqs.len() > 200 * 1024);
    // Send from another thread: the server's responses must be read while we send.
    let mut w = c.stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        use std::io::Write;
        w.write_all(&reqs).unwrap();
    });
    for i in 0..n {
        let r = c.read_response();
        assert_eq!(r.header("X-Uri"), Some(format!("/{i}").as_str()));
    }
    sender.join().unwrap();
}
