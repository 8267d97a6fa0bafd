//! Keep-alive rules (RFC 9112 §9.3): HTTP/1.1 persists unless `Connection: close` (a
//! case-insensitive token list); HTTP/1.0 persists only with `Connection: keep-alive`, and its
//! response then says `Connection: keep-alive`; the response that ends a connection says
//! `Connection: close`.

use squall::http1::{Request, Responder};
use squall::testing::TestServer;
use squall_tests::{echo, echo_expected, options};

#[test]
fn http11_persists_by_default() {
    let server = TestServer::start_with(|| echo, options());
    let mut c = server.connect();
    for i in 0..3 {
        let uri = format!("/r{i}");
        c.send(format!("GET {uri} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let r = c.read_response();
        assert_eq!(r.normalized(), echo_expected("GET", &uri, "1.1", b"", None));
    }
    // Still open and silent.
    c.assert_open_for(std::time::Duration::from_millis(50));
    c.send(b"GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let r = c.read_response();
    assert_eq!(
        r.normalized(),
        echo_expected("GET", "/last", "1.1", b"", Some("close"))
    );
    c.assert_closed();
}

#[test]
fn connection_close_is_a_case_insensitive_token_list() {
    let server = TestServer::start_with(|| echo, options());
    for value in [
        "close",
        "Close",
        "CLOSE",
        "keep-alive, close",
        "TE,close",
        "te , Close , upgrade",
    ] {
        let mut c = server.connect();
        c.send(format!("GET /x HTTP/1.1\r\nHost: t\r\nConnection: {value}\r\n\r\n").as_bytes());
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Connection"), Some("close"), "for {value:?}");
        c.assert_closed();
    }
    // Tokens that merely contain "close" do not count.
    for value in ["closed", "x-close", "keep-alive"] {
        let mut c = server.connect();
        c.send(format!("GET /x HTTP/1.1\r\nHost: t\r\nConnection: {value}\r\n\r\n").as_bytes());
        let r = c.read_response();
        assert_eq!(r.header("Connection"), None, "for {value:?}");
        c.send(b"GET /again HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(c.read_response().status, 200, "for {value:?}");
    }
}

#[test]
fn http10_closes_without_keep_alive() {
    let server = TestServer::start_with(|| echo, options());
    let mut c = server.connect();
    c.send(b"GET /old HTTP/1.0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(
        r.normalized(),
        echo_expected("GET", "/old", "1.0", b"", Some("close"))
    );
    c.assert_closed();
}

#[test]
fn http10_keep_alive_is_honoured_and_announced() {
    let server = TestServer::start_with(|| echo, options());
    let mut c = server.connect();
    for (i, value) in ["keep-alive", "Keep-Alive", "KEEP-ALIVE"]
        .iter()
        .enumerate()
    {
        let uri = format!("/k{i}");
        c.send(format!("GET {uri} HTTP/1.0\r\nConnection: {value}\r\n\r\n").as_bytes());
        let r = c.read_response();
        assert_eq!(
            r.normalized(),
            echo_expected("GET", &uri, "1.0", b"", Some("keep-alive"))
        );
    }
    // A POST with a body keeps it too.
    c.send(b"POST /p HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc");
    let r = c.read_response();
    assert_eq!(
        r.normalized(),
        echo_expected("POST", "/p", "1.0", b"abc", Some("keep-alive"))
    );
    // A 1.0 request without keep-alive ends it.
    c.send(b"GET /end HTTP/1.0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.header("Connection"), Some("close"));
    c.assert_closed();
}

#[test]
fn http10_keep_alive_and_close_together_closes() {
    let server = TestServer::start_with(|| echo, options());
    let mut c = server.connect();
    c.send(b"GET /x HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.header("Connection"), Some("close"));
    c.assert_closed();
}

#[test]
fn delegate_connection_close_ends_the_connection() {
    let server = TestServer::start_with(
        || |_req: Request, res: Responder| res.respond(200, &[("Connection", "close")], b"bye"),
        options(),
    );
    let mut c = server.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.body, b"bye");
    assert_eq!(r.header_count("Connection"), 1);
    assert_eq!(r.header("Connection"), Some("close"));
    c.assert_closed();
}

#[test]
fn no_keep_alive_option_closes_after_each_response() {
    let mut o = options();
    o.no_keep_alive = true;
    let server = TestServer::start_with(|| echo, o);
    let mut c = server.connect();
    c.send(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.read_response();
    assert_eq!(
        r.normalized(),
        echo_expected("GET", "/a", "1.1", b"", Some("close"))
    );
    c.assert_closed();
}

#[test]
fn client_close_after_requests_gets_every_response() {
    let server = TestServer::start_with(|| echo, options());
    let mut c = server.connect();
    c.send(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\n");
    c.shutdown_write();
    let rs = c.read_responses(2);
    assert_eq!(rs[0].header("X-Uri"), Some("/1"));
    assert_eq!(rs[1].header("X-Uri"), Some("/2"));
    c.assert_closed();
}
