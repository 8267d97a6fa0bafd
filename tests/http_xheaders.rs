//! `xheaders`: behind a proxy, the client's address comes from `X-Real-IP` or the last hop of
//! `X-Forwarded-For`, and the scheme from `X-Scheme` or `X-Forwarded-Proto`; without the
//! option those headers are ignored, and malformed values are never believed.

use squall::testing::TestServer;
use squall_tests::{echo, options};

fn ask(server: &TestServer, headers: &str) -> (String, String) {
    let mut c = server.connect();
    c.send(format!("GET / HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n").as_bytes());
    let r = c.read_response();
    assert_eq!(r.status, 200);
    (
        r.header("X-Remote-Ip").unwrap().to_owned(),
        r.header("X-Protocol").unwrap().to_owned(),
    )
}

fn pair(ip: &str, proto: &str) -> (String, String) {
    (ip.to_owned(), proto.to_owned())
}

#[test]
fn xheaders_enabled() {
    let mut o = options();
    o.xheaders = true;
    let server = TestServer::start_with(|| echo, o);
    assert_eq!(ask(&server, ""), pair("127.0.0.1", "http"));
    assert_eq!(
        ask(&server, "X-Real-IP: 10.1.2.3\r\n"),
        pair("10.1.2.3", "http")
    );
    assert_eq!(
        ask(&server, "X-Real-IP: 2001:db8::1\r\n"),
        pair("2001:db8::1", "http")
    );
    // The last hop of X-Forwarded-For (the one our proxy added).
    assert_eq!(
        ask(&server, "X-Forwarded-For: 1.1.1.1, 2.2.2.2,3.3.3.3\r\n"),
        pair("3.3.3.3", "http")
    );
    assert_eq!(
        ask(&server, "X-Forwarded-For: 4.4.4.4\r\n"),
        pair("4.4.4.4", "http")
    );
    // X-Real-IP wins over X-Forwarded-For.
    assert_eq!(
        ask(
            &server,
            "X-Forwarded-For: 4.4.4.4\r\nX-Real-IP: 5.5.5.5\r\n"
        ),
        pair("5.5.5.5", "http")
    );
    // Malformed addresses are not believed.
    assert_eq!(
        ask(&server, "X-Real-IP: not-an-ip\r\n"),
        pair("127.0.0.1", "http")
    );
    assert_eq!(
        ask(&server, "X-Forwarded-For: 1.1.1.1, evil\r\n"),
        pair("127.0.0.1", "http")
    );
    // Scheme.
    assert_eq!(
        ask(&server, "X-Scheme: https\r\n"),
        pair("127.0.0.1", "https")
    );
    assert_eq!(
        ask(&server, "X-Scheme: HTTPS\r\n"),
        pair("127.0.0.1", "https")
    );
    assert_eq!(
        ask(&server, "X-Forwarded-Proto: https\r\n"),
        pair("127.0.0.1", "https")
    );
    assert_eq!(
        ask(&server, "X-Forwarded-Proto: http, https\r\n"),
        pair("127.0.0.1", "https")
    );
    assert_eq!(
        ask(&server, "X-Scheme: http\r\nX-Forwarded-Proto: https\r\n"),
        pair("127.0.0.1", "http")
    );
    assert_eq!(
        ask(&server, "X-Scheme: gopher\r\n"),
        pair("127.0.0.1", "http")
    );
    assert_eq!(
        ask(
            &server,
            "X-Real-IP: 9.9.9.9\r\nX-Forwarded-Proto: https\r\n"
        ),
        pair("9.9.9.9", "https")
    );
}

#[test]
fn xheaders_disabled_are_ignored() {
    let server = TestServer::start_with(|| echo, options());
    assert_eq!(
        ask(&server, "X-Real-IP: 10.1.2.3\r\n"),
        pair("127.0.0.1", "http")
    );
    assert_eq!(
        ask(&server, "X-Forwarded-For: 1.1.1.1\r\n"),
        pair("127.0.0.1", "http")
    );
    assert_eq!(
        ask(&server, "X-Scheme: https\r\n"),
        pair("127.0.0.1", "http")
    );
    assert_eq!(
        ask(&server, "X-Forwarded-Proto: https\r\n"),
        pair("127.0.0.1", "http")
    );
}

#[test]
fn xheaders_apply_per_request_on_a_kept_alive_connection() {
    let mut o = options();
    o.xheaders = true;
    let server = TestServer::start_with(|| echo, o);
    let mut c = server.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Real-IP: 10.0.0.1\r\nX-Scheme: https\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let a = c.read_response();
    let b = c.read_response();
    assert_eq!(a.header("X-Remote-Ip"), Some("10.0.0.1"));
    assert_eq!(a.header("X-Protocol"), Some("https"));
    assert_eq!(b.header("X-Remote-Ip"), Some("127.0.0.1"));
    assert_eq!(b.header("X-Protocol"), Some("http"));
}
