//! Issue #12 item 7, Host validation (RFC 9112 §3.2): a request whose Host is not
//! `uri-host [":" port]` (RFC 3986: reg-name, IPv4 or a bracketed IP-literal; digits-only
//! port), an HTTP/1.1 request without Host and one with several Host fields are 400 with the
//! connection closed; the server serves a fresh connection after each.

use squall::testing::TestServer;
use squall_tests::{assert_rejected, echo, options, roundtrip};

fn get(host_lines: &str) -> Vec<u8> {
    format!("GET /h HTTP/1.1\r\n{host_lines}X: 1\r\n\r\n").into_bytes()
}

#[test]
fn an_invalid_host_is_400() {
    let server = TestServer::start_with(|| echo, options());
    for bad in [
        "exa mple.com",
        "a/b",
        "[::1",
        "host:port",
        "h:80:81",
        "a@b",
        "h:8o",
        "%zz",
        "[::1]x",
        "[zz]:80",
        "a\\b",
        "h\u{e9}.example",
        "a-long-host-name-past-one-block.example:80x",
    ] {
        assert_rejected(&server, &get(&format!("Host: {bad}\r\n")), 400);
    }
    // The same rule for an absolute-form target's authority, which stands for the Host.
    assert_rejected(
        &server,
        b"GET http://a%zz/ HTTP/1.1\r\nHost: ok\r\n\r\n",
        400,
    );
}

#[test]
fn valid_hosts_are_served() {
    let server = TestServer::start_with(|| echo, options());
    for good in [
        "example.com",
        "127.0.0.1:8080",
        "[::1]:80",
        "[::ffff:192.0.2.1]",
        "xn--bcher-kva.example",
        "a_b~c.d-e",
        "%41b.example",
        "a-long-host-name-past-one-block.example:8080",
        "",
    ] {
        let (_, r) = roundtrip(server.addr(), &get(&format!("Host: {good}\r\n")));
        assert_eq!(r.status, 200, "{good:?}: {r:?}");
    }
}

#[test]
fn a_missing_or_repeated_host_is_400_on_http11() {
    let server = TestServer::start_with(|| echo, options());
    assert_rejected(&server, &get(""), 400);
    assert_rejected(&server, &get("Host: a\r\nHost: a\r\n"), 400);
    assert_rejected(&server, &get("Host: a\r\nhost: b\r\n"), 400);
    // HTTP/1.0 may omit it, but not repeat it.
    let (_, r) = roundtrip(server.addr(), b"GET /h HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_rejected(
        &server,
        b"GET /h HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
    );
}
