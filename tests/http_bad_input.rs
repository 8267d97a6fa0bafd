//! Bad input: each is answered with its status (`Connection: close`, no body) and the
//! connection closed, the delegate never sees it, and a fresh connection is served after.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use squall::http1::{Method, Request, Responder};
use squall::testing::{TestServer, WireClient};
use squall_tests::{assert_rejected, echo, options};

/// An echo server with small limits that counts the requests its delegate saw.
fn server() -> (TestServer, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let s2 = seen.clone();
    let mut o = options();
    o.max_header_size = 4096;
    o.max_request_line = 1024;
    o.max_body_size = 1000;
    let server = TestServer::start_with(
        move || {
            move |req: Request, res: Responder| {
                s2.fetch_add(1, Ordering::SeqCst);
                echo(req, res)
            }
        },
        o,
    );
    (server, seen)
}

/// Every request of `cases` is answered `status` and closed, never reaching the delegate.
fn rejects(cases: &[&[u8]], status: u16) {
    let (server, seen) = server();
    for case in cases {
        assert_rejected(&server, case, status);
    }
    // assert_serves made one request per case (2 each) on fresh connections.
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "a bad request reached the delegate"
    );
}

#[test]
fn garbage_request_line_is_400() {
    rejects(
        &[
            b"GARBAGE\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
            b"GET\r\nHost: t\r\n\r\n",
            b"GET /\r\nHost: t\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n",
            b"GET / FTP/1.1\r\nHost: t\r\n\r\n",
            b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n",
            b" GET / HTTP/1.1\r\nHost: t\r\n\r\n",
            b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: t\r\n: empty name\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : t\r\n\r\n",
        ],
        400,
    );
}

#[test]
fn invalid_method_token_is_400() {
    rejects(
        &[
            b"G(T / HTTP/1.1\r\nHost: t\r\n\r\n",
            b"GE\"T / HTTP/1.1\r\nHost: t\r\n\r\n",
            b"G@T / HTTP/1.1\r\nHost: t\r\n\r\n",
            b"GET\x00 / HTTP/1.1\r\nHost: t\r\n\r\n",
        ],
        400,
    );
    // A "method" longer than 64 bytes, complete or still arriving.
    let long = format!("{} / HTTP/1.1\r\nHost: t\r\n\r\n", "M".repeat(65));
    rejects(
        &[
            long.as_bytes(),
            &long.as_bytes()[..70],
            "M".repeat(2000).as_bytes(),
        ],
        400,
    );
}

#[test]
fn unknown_but_valid_method_reaches_the_delegate() {
    let (server, seen) = server();
    let mut c = server.connect();
    c.send(b"PROPFIND /x HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.header("X-Method"), Some("PROPFIND"));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

/// `Method::Other` keeps the method's text, up to the longest accepted (64 bytes).
#[test]
fn extension_method_keeps_its_text() {
    let server = TestServer::start_with(
        || {
            |req: Request, res: Responder| {
                let body = match req.method() {
                    Method::Other(name) => format!("other {}", name.as_str()),
                    known => format!("known {known}"),
                };
                res.respond(200, &[], body.as_bytes())
            }
        },
        options(),
    );
    let longest = "M".repeat(64);
    for (method, want) in [
        ("PROPFIND", "other PROPFIND".to_owned()),
        ("get", "other get".to_owned()),
        ("PATCH", "known PATCH".to_owned()),
        (longest.as_str(), format!("other {longest}")),
    ] {
        let mut c = server.connect();
        c.send(format!("{method} /x HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let r = c.read_response();
        assert_eq!(r.status, 200, "{method}");
        assert_eq!(r.body, want.as_bytes(), "{method}");
    }
}

#[test]
fn missing_or_repeated_host_on_http11_is_400() {
    rejects(
        &[
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: y\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        ],
        400,
    );
}

#[test]
fn http10_without_host_is_served() {
    let (server, _) = server();
    let mut c = server.connect();
    c.send(b"GET /x HTTP/1.0\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
    c.assert_closed();
}

#[test]
fn content_length_and_transfer_encoding_together_is_400() {
    rejects(
        &[
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        ],
        400,
    );
}

#[test]
fn differing_content_lengths_are_400() {
    rejects(
        &[
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 4\r\n\r\nabcd",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length:\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        ],
        400,
    );
}

#[test]
fn transfer_encoding_other_than_chunked_is_400() {
    rejects(
        &[
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n\r\n",
            // HTTP/1.0 has no transfer codings.
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ],
        400,
    );
}

#[test]
fn invalid_chunk_framing_is_400() {
    let head: &[u8] = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    let bodies: &[&[u8]] = &[
        b"zz\r\nab\r\n0\r\n\r\n",
        b"\r\n",
        b"-1\r\n",
        b"0x3\r\nabc\r\n0\r\n\r\n",
        b"3\nabc\r\n0\r\n\r\n",
        b"3\r\nabcXX0\r\n\r\n",
        b"3\r\nabc\r\n0\r\n\n",
        b"11111111111111111\r\n",
        b"3;a\x01b\r\nabc\r\n0\r\n\r\n",
        b"0\r\nBad\x00Trailer: 1\r\n\r\n",
    ];
    let cases: Vec<Vec<u8>> = bodies.iter().map(|b| [head, b].concat()).collect();
    let refs: Vec<&[u8]> = cases.iter().map(|c| c.as_slice()).collect();
    rejects(&refs, 400);
}

#[test]
fn obs_fold_is_400() {
    rejects(
        &[
            b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n\tfolded\r\n\r\n",
            b"GET / HTTP/1.1\r\n Host: t\r\n\r\n",
        ],
        400,
    );
}

#[test]
fn nul_or_bare_cr_in_a_field_is_400() {
    rejects(
        &[
            b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: t\r\nX\rY: ab\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: t\x00\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x01b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x7fb\r\n\r\n",
            b"GET /a\rb HTTP/1.1\r\nHost: t\r\n\r\n",
        ],
        400,
    );
}

#[test]
fn header_block_over_max_header_size_is_431() {
    let long_value = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "v".repeat(5000)
    );
    let many = {
        let mut s = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
        for i in 0..400 {
            s.push_str(&format!("X-{i}: 1\r\n"));
        }
        s.push_str("\r\n");
        s
    };
    let unfinished = format!("GET / HTTP/1.1\r\nHost: t\r\nX: {}", "v".repeat(5000));
    rejects(
        &[
            long_value.as_bytes(),
            many.as_bytes(),
            unfinished.as_bytes(),
        ],
        431,
    );
}

#[test]
fn header_block_just_under_the_limit_is_served() {
    let (server, _) = server();
    let mut c = server.connect();
    let prefix = "GET / HTTP/1.1\r\nHost: t\r\nX: ";
    let pad = 4096 - prefix.len() - 4;
    let req = format!("{prefix}{}\r\n\r\n", "v".repeat(pad));
    assert_eq!(req.len(), 4096);
    c.send(req.as_bytes());
    assert_eq!(c.read_response().status, 200);
}

#[test]
fn request_target_over_the_limit_is_414() {
    let complete = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(1100));
    let unfinished = format!("GET /{}", "a".repeat(1100));
    rejects(&[complete.as_bytes(), unfinished.as_bytes()], 414);
}

#[test]
fn request_target_at_the_limit_is_served_whole_or_in_pieces() {
    let (server, _) = server();
    let target = format!("/{}", "a".repeat(1023));
    assert_eq!(target.len(), 1024);
    let req = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut c = server.connect();
    c.send(req.as_bytes());
    assert_eq!(c.read_response().header("X-Uri"), Some(target.as_str()));
    // The same request line arriving in two pieces, cut just before its end.
    let line_end = req.find("\r\n").unwrap();
    for cut in [line_end - 2, line_end, line_end + 1] {
        c.send(&req.as_bytes()[..cut]);
        c.assert_open_for(std::time::Duration::from_millis(30));
        c.send(&req.as_bytes()[cut..]);
        let r = c.read_response();
        assert_eq!(r.status, 200, "cut at {cut}: {r:?}");
    }
}

#[test]
fn body_over_max_body_size_by_content_length_is_413() {
    rejects(
        &[
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 18446744073709551615\r\n\r\n",
        ],
        413,
    );
}

#[test]
fn body_over_max_body_size_while_reading_chunks_is_413() {
    let head: &[u8] = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    // One chunk too big, and many small chunks adding up past the limit.
    let one = [head, b"3e9\r\n"].concat();
    let mut many = head.to_vec();
    for _ in 0..11 {
        many.extend_from_slice(b"64\r\n");
        many.extend_from_slice(&[b'x'; 100]);
        many.extend_from_slice(b"\r\n");
    }
    let huge = [head, b"ffffffffffffffff\r\n"].concat();
    rejects(&[&one, &many, &huge], 413);
}

#[test]
fn oversized_body_sent_whole_still_gets_its_413() {
    // The client sends everything before reading: the 413 must not be lost to a reset.
    let (server, _) = server();
    for _ in 0..5 {
        let mut c = WireClient::connect(server.addr());
        let mut req = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        req.extend_from_slice(b"1000\r\n");
        req.extend_from_slice(&[b'x'; 0x1000]);
        req.extend_from_slice(b"\r\n0\r\n\r\n");
        let _ = c.try_send(&req);
        let r = c.read_response();
        assert_eq!(r.status, 413);
        c.assert_closed();
    }
    server.assert_serves();
}

#[test]
fn bad_request_after_good_ones_answers_them_first() {
    let (server, _) = server();
    let mut c = server.connect();
    c.send(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\nBAD\r\n\r\nGET /3 HTTP/1.1\r\nHost: t\r\n\r\n");
    let rs = c.read_responses(3);
    assert_eq!(rs[0].header("X-Uri"), Some("/1"));
    assert_eq!(rs[1].header("X-Uri"), Some("/2"));
    assert_eq!(rs[2].status, 400);
    assert_eq!(rs[2].header("Connection"), Some("close"));
    c.assert_closed();
}

#[test]
fn oversized_body_larger_than_the_read_buffer_still_gets_its_413() {
    // More than the server ever reads: it closes with data unread.
    let (server, _) = server();
    for _ in 0..5 {
        let mut c = WireClient::connect(server.addr());
        let mut req = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n".to_vec();
        req.extend_from_slice(&vec![b'x'; 2_000_000]);
        let _ = c.try_send(&req);
        let r = c.read_response();
        assert_eq!(r.status, 413);
        c.assert_closed();
    }
    for _ in 0..5 {
        let mut c = WireClient::connect(server.addr());
        let mut req = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..200 {
            req.extend_from_slice(b"2710\r\n");
            req.extend_from_slice(&[b'x'; 10000]);
            req.extend_from_slice(b"\r\n");
        }
        let _ = c.try_send(&req);
        let r = c.read_response();
        assert_eq!(r.status, 413);
        c.assert_closed();
    }
    server.assert_serves();
}
