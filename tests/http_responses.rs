//! Response framing: Content-Length when the length is known, chunked when a 1.1 response is
//! flushed before its length is known, close-delimited for 1.0; HEAD, 204 and 304 carry no
//! body; a response that fails after its head left is cut off (no terminating chunk) and the
//! connection closed; a dropped or panicking delegate gives 500 and the server carries on; a
//! header Squall may not send refuses the whole head (500), never dropped silently.

use std::cell::RefCell;
use std::time::Duration;

use squall::http1::{HttpDelegate, Request, Responder, ResponseError};
use squall::httputil::InvalidHeader;
use squall::testing::{normalize_date, Framing, TestServer, WireResponse};
use squall_tests::{echo, options};

/// Test endpoints. `/park*` write a head and a first chunk, flush, and park the responder;
/// `/release`, `/drop` and `/abort` (on another connection) finish, drop or abort it.
#[derive(Default)]
struct Endpoints {
    parked: RefCell<Option<Responder>>,
}

const PLAIN: (&str, &str) = ("Content-Type", "text/plain");

impl HttpDelegate for Endpoints {
    fn handle(&self, req: Request, mut res: Responder) {
        match req.path() {
            "/known" => res.respond(200, &[PLAIN], b"hello"),
            "/park" => {
                res.write_head(200, None, [PLAIN], None).unwrap();
                res.write(b"hello").unwrap();
                res.flush();
                *self.parked.borrow_mut() = Some(res);
            }
            "/release" => {
                let mut p = self.parked.borrow_mut().take().expect("nothing parked");
                p.write(b" world").unwrap();
                p.write(b"!").unwrap();
                p.finish().unwrap();
                res.respond(200, &[], b"released");
            }
            "/drop" => {
                drop(self.parked.borrow_mut().take().expect("nothing parked"));
                res.respond(200, &[], b"dropped");
            }
            "/abort" => {
                self.parked
                    .borrow_mut()
                    .take()
                    .expect("nothing parked")
                    .abort();
                res.respond(200, &[], b"aborted");
            }
            "/stream-now" => {
                res.write_head(200, None, [PLAIN], None).unwrap();
                res.write(b"abc").unwrap();
                res.flush();
                res.write(b"").unwrap();
                res.write(b"def").unwrap();
                res.finish().unwrap();
            }
            "/204" => res.respond(204, &[("X-A", "1")], b"must not be sent"),
            "/304" => res.respond(304, &[("ETag", "\"v1\"")], b""),
            "/304-with-length" => {
                res.write_head(304, None, [("ETag", "\"v1\"")], Some(1234))
                    .unwrap();
                res.finish().unwrap();
            }
            "/custom-reason" => {
                res.write_head(299, Some("Fine Indeed"), [], Some(0))
                    .unwrap();
                res.finish().unwrap();
            }
            "/drop-unwritten" => drop(res),
            "/panic" => panic!("delegate panicked on purpose"),
            "/panic-after-head" => {
                res.write_head(200, None, [PLAIN], None).unwrap();
                res.write(b"partial").unwrap();
                res.flush();
                panic!("delegate panicked after its head");
            }
            "/short" => {
                res.write_head(200, None, [], Some(10)).unwrap();
                res.write(b"abc").unwrap();
                assert_eq!(res.finish(), Err(ResponseError::TooShort));
            }
            "/long" => {
                res.write_head(200, None, [], Some(3)).unwrap();
                assert_eq!(res.write(b"abcdef"), Err(ResponseError::TooLong));
            }
            "/twice" => {
                res.write_head(200, None, [], Some(2)).unwrap();
                assert_eq!(
                    res.write_head(201, None, [], Some(2)),
                    Err(ResponseError::HeadAlreadyWritten)
                );
                res.write(b"ok").unwrap();
                res.finish().unwrap();
            }
            "/async" => {
                squall::task::spawn(async move {
                    squall::task::sleep(Duration::from_millis(20)).await;
                    res.respond(200, &[PLAIN], b"later");
                });
            }
            "/async-panic" => {
                squall::task::spawn(async move {
                    squall::task::sleep(Duration::from_millis(5)).await;
                    let _keep = res;
                    panic!("task panicked holding the responder");
                });
            }
            "/splitting" => res.respond(
                200,
                &[
                    ("X-Ok", "1"),
                    ("X-Bad", "a\r\nInjected: yes"),
                    ("Bad\nName", "v"),
                ],
                b"",
            ),
            "/non-ascii-name" => res.respond(200, &[("X-Ok", "1"), ("X-\u{dc}ber", "v")], b""),
            "/control-value" => res.respond(200, &[("X-Bell", "a\x07b")], b""),
            "/del-value" => res.respond(200, &[("X-Del", "a\x7f")], b""),
            "/separator-name" => res.respond(200, &[("X-A(b)", "v")], b""),
            "/obs-text" => res.respond(200, &[("X-Text", "caf\u{e9}\tau lait ~")], b""),
            "/retry-head" => {
                // A refused head writes nothing: the responder can write another.
                let err = res
                    .write_head(200, None, [PLAIN, ("Bad Name", "v")], Some(2))
                    .unwrap_err();
                assert!(matches!(
                    &err,
                    ResponseError::InvalidHeader { name, error: InvalidHeader::NameByte { byte: b' ', index: 3 } }
                        if name == "Bad Name"
                ));
                assert!(std::error::Error::source(&err).is_some());
                let message = err.to_string();
                res.write_head(200, None, [PLAIN, ("X-Error", message.as_str())], Some(2))
                    .unwrap();
                res.write(b"ok").unwrap();
                res.finish().unwrap();
            }
            "/upgrade-bad" => {
                let err = res
                    .upgrade([
                        ("Upgrade", "echo"),
                        ("Connection", "Upgrade"),
                        ("X-Bad", "a\nb"),
                    ])
                    .err();
                assert!(matches!(err, Some(ResponseError::InvalidHeader { .. })));
                // The responder went with the call, unwritten: the client gets a 500.
            }
            _ => echo(req, res),
        }
    }
}

fn server() -> TestServer {
    TestServer::start_with(Endpoints::default, options())
}

#[test]
fn content_length_when_the_length_is_known() {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /known HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.framing, Framing::Length);
    assert_eq!(
        r.normalized(),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: <date>\r\nContent-Length: 5\r\n\r\nhello"
    );
}

#[test]
fn flushed_response_without_length_is_chunked_on_http11() {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /park HTTP/1.1\r\nHost: t\r\n\r\n");
    // Head and first chunk arrive before the response is finished.
    let want_first = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: <date>\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
    let mut got = Vec::new();
    let mut tmp = [0u8; 4096];
    while normalize_date(&got).len() < want_first.len() {
        use std::io::Read;
        let n = c.stream.read(&mut tmp).expect("first chunk");
        assert!(n > 0, "closed early");
        got.extend_from_slice(&tmp[..n]);
    }
    assert_eq!(normalize_date(&got), want_first);
    // Release it from another connection.
    let mut other = server.connect();
    other.send(b"GET /release HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(other.read_response().body, b"released");
    let mut rest = Vec::new();
    while !rest.ends_with(b"0\r\n\r\n") {
        use std::io::Read;
        let n = c.stream.read(&mut tmp).expect("rest");
        assert!(n > 0, "closed early");
        rest.extend_from_slice(&tmp[..n]);
    }
    assert_eq!(rest, b"6\r\n world\r\n1\r\n!\r\n0\r\n\r\n");
    // The connection goes on.
    c.send(b"GET /known HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response().body, b"hello");
}

#[test]
fn chunked_response_parses_and_empty_writes_make_no_terminator() {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /stream-now HTTP/1.1\r\nHost: t\r\n\r\nGET /known HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.framing, Framing::Chunked);
    assert_eq!(
        r.normalized(),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: <date>\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"
    );
    assert_eq!(c.read_response().body, b"hello");
}

#[test]
fn http10_streaming_is_close_delimited() {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /park HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let mut other = server.connect();
    // Wait for the head before releasing, so the parked responder is there.
    let mut got = Vec::new();
    let mut tmp = [0u8; 4096];
    while !got.ends_with(b"hello") {
        use std::io::Read;
        let n = c.stream.read(&mut tmp).expect("head");
        assert!(n > 0, "closed early");
        got.extend_from_slice(&tmp[..n]);
    }
    other.send(b"GET /release HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(other.read_response().body, b"released");
    got.extend_from_slice(&c.read_to_close());
    assert_eq!(
        normalize_date(&got),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: <date>\r\nConnection: close\r\n\r\nhello world!"
    );
}

#[test]
fn head_gets_the_headers_of_get_and_no_body() {
    let server = server();
    let mut c = server.connect();
    for path in ["/known", "/echo-path", "/stream-now"] {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let get = c.read_response();
        c.send(format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let head = c.read_head_response();
        assert_eq!(head.status, get.status);
        assert!(head.body.is_empty());
        let strip = |r: &WireResponse| -> Vec<(String, String)> {
            r.headers
                .iter()
                .filter(|(n, _)| {
                    !n.eq_ignore_ascii_case("X-Method")
                        && !n.eq_ignore_ascii_case("Date")
                        && !n.eq_ignore_ascii_case("Transfer-Encoding")
                })
                .cloned()
                .collect()
        };
        assert_eq!(strip(&head), strip(&get), "{path}");
        // No body bytes followed the HEAD response: the next response parses.
        c.send(b"GET /known HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(c.read_response().body, b"hello", "{path}");
    }
    // Exactly: the known-length HEAD carries the GET's Content-Length.
    c.send(b"HEAD /known HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        c.read_head_response().normalized(),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: <date>\r\nContent-Length: 5\r\n\r\n"
    );
    c.assert_open_for(Duration::from_millis(30));
}

#[test]
fn status_204_and_304_carry_no_body() {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /204 HTTP/1.1\r\nHost: t\r\n\r\nGET /304 HTTP/1.1\r\nHost: t\r\n\r\nGET /304-with-length HTTP/1.1\r\nHost: t\r\n\r\nGET /known HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        c.read_response().normalized(),
        "HTTP/1.1 204 No Content\r\nX-A: 1\r\nDate: <date>\r\n\r\n"
    );
    assert_eq!(
        c.read_response().normalized(),
        "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nDate: <date>\r\n\r\n"
    );
    assert_eq!(
        c.read_response().normalized(),
        "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nDate: <date>\r\nContent-Length: 1234\r\n\r\n"
    );
    assert_eq!(c.read_response().body, b"hello");
}

#[test]
fn custom_reason_phrase() {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /custom-reason HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        c.read_response().normalized(),
        "HTTP/1.1 299 Fine Indeed\r\nDate: <date>\r\nContent-Length: 0\r\n\r\n"
    );
}

/// Parks a chunked response, reads its head and first chunk, then runs `end` on another
/// connection; the parked connection must be cut off without the terminating chunk.
fn cut_off(end: &str) {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /park HTTP/1.1\r\nHost: t\r\n\r\nGET /known HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut got = Vec::new();
    let mut tmp = [0u8; 4096];
    while !got.ends_with(b"5\r\nhello\r\n") {
        use std::io::Read;
        let n = c.stream.read(&mut tmp).expect("head");
        assert!(n > 0, "closed early");
        got.extend_from_slice(&tmp[..n]);
    }
    let mut other = server.connect();
    other.send(format!("GET {end} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    assert_eq!(other.read_response().status, 200);
    got.extend_from_slice(&c.read_to_close());
    assert_eq!(
        normalize_date(&got),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: <date>\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        "no terminating chunk, and the pipelined request is not answered"
    );
    server.assert_serves();
}

#[test]
fn dropping_a_flushed_responder_cuts_the_response_off() {
    cut_off("/drop");
}

#[test]
fn aborting_a_flushed_responder_cuts_the_response_off() {
    cut_off("/abort");
}

#[test]
fn panic_after_the_head_was_flushed_cuts_the_response_off() {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /panic-after-head HTTP/1.1\r\nHost: t\r\n\r\n");
    let got = c.read_to_close();
    assert_eq!(
        normalize_date(&got),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: <date>\r\nTransfer-Encoding: chunked\r\n\r\n7\r\npartial\r\n"
    );
    server.assert_serves();
}

#[test]
fn dropping_an_unwritten_responder_answers_500() {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /drop-unwritten HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        c.read_response().normalized(),
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nDate: <date>\r\nContent-Length: 21\r\n\r\nInternal Server Error"
    );
    // The connection carries on.
    c.send(b"GET /known HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response().body, b"hello");
}

#[test]
fn panicking_delegate_answers_500_and_the_server_keeps_serving() {
    let server = server();
    let mut c = server.connect();
    for _ in 0..3 {
        c.send(b"GET /panic HTTP/1.1\r\nHost: t\r\n\r\nGET /known HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 500);
        assert_eq!(r.body, b"Internal Server Error");
        assert_eq!(c.read_response().body, b"hello");
    }
    // A task that panics holding the responder: 500 too.
    c.send(b"GET /async-panic HTTP/1.1\r\nHost: t\r\n\r\nGET /known HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response().status, 500);
    assert_eq!(c.read_response().body, b"hello");
    server.assert_serves();
}

#[test]
fn wrong_length_responses_close_the_connection() {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /short HTTP/1.1\r\nHost: t\r\n\r\nGET /known HTTP/1.1\r\nHost: t\r\n\r\n");
    let got = c.read_to_close();
    assert_eq!(
        normalize_date(&got),
        "HTTP/1.1 200 OK\r\nDate: <date>\r\nContent-Length: 10\r\n\r\nabc"
    );
    let mut c = server.connect();
    c.send(b"GET /long HTTP/1.1\r\nHost: t\r\n\r\nGET /known HTTP/1.1\r\nHost: t\r\n\r\n");
    let got = c.read_to_close();
    assert_eq!(
        normalize_date(&got),
        "HTTP/1.1 200 OK\r\nDate: <date>\r\nContent-Length: 3\r\n\r\n"
    );
    server.assert_serves();
}

#[test]
fn second_head_is_refused() {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /twice HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"ok");
}

#[test]
fn async_delegate_responds_later() {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /async HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        c.read_response().normalized(),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: <date>\r\nContent-Length: 5\r\n\r\nlater"
    );
}

const INTERNAL_ERROR: &str = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nDate: <date>\r\nContent-Length: 21\r\n\r\nInternal Server Error";

/// A header that is not one Squall may send (the header policy of `squall::httputil`: a name
/// that is a token, a value without controls) is never sent, and never silently dropped either:
/// the response is refused as a whole and the client gets a 500, nothing of the refused head.
#[test]
fn a_header_squall_may_not_send_answers_500() {
    let server = server();
    let mut c = server.connect();
    for path in [
        "/splitting",
        "/non-ascii-name",
        "/control-value",
        "/del-value",
        "/separator-name",
    ] {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(c.read_response().normalized(), INTERNAL_ERROR, "{path}");
        // The connection carries on, and so does the server.
        c.send(b"GET /known HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(c.read_response().body, b"hello", "{path}");
        server.assert_serves();
    }
    // An upgrade with such a header switches nothing.
    let mut c = server.connect();
    c.send(b"GET /upgrade-bad HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n");
    assert_eq!(c.read_response().normalized(), INTERNAL_ERROR);
    c.send(b"GET /known HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response().body, b"hello");
}

#[test]
fn a_refused_head_writes_nothing_and_can_be_written_again() {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /retry-head HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        c.read_response().normalized(),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Error: refused response header \"Bad Name\": invalid byte 0x20 (' ') at offset 3 in header name\r\nDate: <date>\r\nContent-Length: 2\r\n\r\nok"
    );
}

#[test]
fn header_values_may_hold_tabs_and_non_ascii_text() {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /obs-text HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        c.read_response().normalized(),
        "HTTP/1.1 200 OK\r\nX-Text: caf\u{e9}\tau lait ~\r\nDate: <date>\r\nContent-Length: 0\r\n\r\n"
    );
}

#[test]
fn every_response_has_a_date() {
    let server = server();
    let mut c = server.connect();
    c.send(b"GET /known HTTP/1.1\r\nHost: t\r\n\r\nGET /204 HTTP/1.1\r\nHost: t\r\n\r\nGET /stream-now HTTP/1.1\r\nHost: t\r\n\r\n");
    for r in c.read_responses(3) {
        let d = r.header("Date").expect("Date");
        assert_eq!(r.header_count("Date"), 1);
        assert!(d.ends_with(" GMT") && d.len() == 29, "{d:?}");
    }
}
