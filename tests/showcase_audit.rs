//! An outside review of the showcase against `showcase-contract.md` and the RFCs: the cases
//! the per-feature tests missed, each found by probing the real binary over sockets. Every
//! test runs the example as a child process on a free port and, after the abusive input,
//! checks that a fresh connection is still served.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use squall::testing::TestClient;
use squall_tests::showcase_support::{assert_fresh_connection_serves, hidden, showcase};
use squall_tests::ExampleServer;

/// Sends `request` on a fresh connection and returns the raw response head (up to the blank
/// line), read byte for byte so that what the server put in a header is seen as sent.
fn raw_head(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).expect("send");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => panic!("connection ended inside the head: {head:?}"),
        }
    }
    head
}

/// The `Location` header's raw bytes in `head`.
fn location(head: &[u8]) -> Vec<u8> {
    head.split(|&b| b == b'\n')
        .find_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let lower = line.to_ascii_lowercase();
            lower
                .starts_with(b"location:")
                .then(|| line[9..].trim_ascii().to_vec())
        })
        .unwrap_or_else(|| panic!("no Location in {}", String::from_utf8_lossy(head)))
}

/// `POST /login` with the client's XSRF token, `name=ann` and `next` exactly as given
/// (already form-encoded), on a raw connection: the head as sent.
fn login_raw(addr: SocketAddr, c: &mut TestClient, encoded_next: &str) -> Vec<u8> {
    let token = hidden(&c.get("/login").text(), "_xsrf");
    let cookie = c.cookie("_xsrf").expect("an _xsrf cookie").to_owned();
    let body = format!(
        "_xsrf={}&name=ann&next={encoded_next}",
        squall::escape::url_escape(&token, true)
    );
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: {addr}\r\nCookie: _xsrf={cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    raw_head(addr, request.as_bytes())
}

fn status_of(head: &[u8]) -> u16 {
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {}", String::from_utf8_lossy(head)))
}

/// Browsers remove every tab, CR and LF from a URL before resolving it (WHATWG URL parser),
/// so `Location: /<TAB>/evil.example` takes them to `//evil.example`: another site. A `next`
/// with control characters is not a local path; the login goes to `/` instead, and never
/// answers 500 (a CR/LF/NUL in `next` used to reach `redirect`, which refuses them).
#[test]
fn login_next_with_control_characters_is_not_local() {
    let server = showcase();
    let addr = server.addr();
    let mut c = TestClient::connect_to(addr);
    for next in [
        "%2F%09%2Fevil.example",
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%0D/evil.example",
        "%2F%0D%0ASet-Cookie%3A%20x%3D1",
        "/%7F",
        "%09/%2Fevil.example",
        "%2F%5C%09evil.example",
    ] {
        let head = login_raw(addr, &mut c, next);
        assert_eq!(
            status_of(&head),
            302,
            "{next}: {}",
            String::from_utf8_lossy(&head)
        );
        assert_eq!(location(&head), b"/", "{next}");
        assert_fresh_connection_serves(addr);
    }
}

/// A local `next` with characters outside ASCII goes out percent-encoded (a `Location` is a
/// URI reference, RFC 9110 §10.2.2, so raw UTF-8 bytes do not belong in it); an ordinary local
/// path with a query comes back as it was. A NUL is made a space by `argument` (as Tornado's
/// `get_argument` does), which then goes out encoded.
#[test]
fn login_next_goes_out_as_a_uri() {
    let server = showcase();
    let addr = server.addr();
    let mut c = TestClient::connect_to(addr);
    let cases: [(&str, &[u8]); 5] = [
        ("%2Fcaf%C3%A9", b"/caf%C3%A9"),
        ("/x%00y", b"/x%20y"),
        ("%2Fa%20b", b"/a%20b"),
        ("%2Fok%3Fa%3D1%26b%3D2", b"/ok?a=1&b=2"),
        ("%2Fprivate", b"/private"),
    ];
    for (next, want) in cases {
        let head = login_raw(addr, &mut c, next);
        assert_eq!(status_of(&head), 302, "{next}");
        assert_eq!(
            location(&head),
            want,
            "{next}: {}",
            String::from_utf8_lossy(&head)
        );
    }
    // The login page carries only a local next, and the same one the POST would follow.
    let page = c.get("/login?next=%2F%09%2Fevil.example").text();
    assert_eq!(hidden(&page, "next"), "/");
    assert_fresh_connection_serves(addr);
}

/// Runs the showcase with `SHOWCASE_SECRET=value`: it must exit with a failure status, never
/// listen, and say in its message what is wrong and what unsetting the variable does here (the
/// public development secret, not the framework's random per-start one). Returns stderr.
fn refused_secret(value: &str) -> String {
    ExampleServer::builder("showcase")
        .env("SHOWCASE_SECRET", value)
        .start_refused()
}

/// Set but empty refuses to start (the contract); so does a blank value, which is no more
/// secret. The message tells what unset means for the showcase: its development secret.
#[test]
fn empty_or_blank_secret_refuses_with_an_accurate_message() {
    for value in ["", " ", " \t "] {
        let stderr = refused_secret(value);
        assert!(
            stderr.contains("SHOWCASE_SECRET") && stderr.contains("empty"),
            "{value:?}: {stderr}"
        );
        assert!(
            stderr.contains("development") && !stderr.contains("random one per start"),
            "{value:?}: the message must describe the showcase's unset behaviour: {stderr}"
        );
    }
}

/// Tornado's `get_argument` turns each control character other than tab, LF, VT, FF and CR
/// into a space before stripping, so a NUL or an ESC sent in a field does not come back into
/// a page as is. The showcase's `argument` readers (`/page`, `/form`, `/login`) do the same;
/// `/args` (Tornado's raw `request.arguments`) keeps the raw values.
#[test]
fn arguments_make_control_characters_spaces() {
    let server = showcase();
    let addr = server.addr();
    let mut c = TestClient::connect_to(addr);

    let page = c.get("/page?name=%00a%01b%1B%5B31mc%1F").text();
    assert!(page.contains("<h1>Hello, a b [31mc</h1>"), "{page}");
    assert!(!page.contains(['\0', '\x01', '\x1b', '\x1f']), "{page:?}");

    c.fetch_xsrf("/form");
    let r = c
        .request("POST", "/form")
        .xsrf()
        .form(&[("name", "\0x\x08y\tz\x0e")])
        .send();
    assert_eq!((r.status(), r.text().as_str()), (200, "Hello, x y\tz"));

    // The raw view is untouched.
    let r = c.get("/args?a=%00x%1F");
    assert_eq!(r.json(), serde_json::json!({ "a": ["\u{0}x\u{1f}"] }));
    assert_fresh_connection_serves(addr);
}

/// The 101 or the status of a WebSocket handshake to `/ws/echo` carrying `origins`, each in a
/// header of its own.
fn ws_handshake_status(addr: SocketAddr, origins: &[String]) -> u16 {
    let mut request = format!(
        "GET /ws/echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n"
    );
    for o in origins {
        request.push_str(&format!("Origin: {o}\r\n"));
    }
    request.push_str("\r\n");
    status_of(&raw_head(addr, request.as_bytes()))
}

/// A browser sends one `Origin` (RFC 6454 §7.3). The handshake used to check only the first
/// of several, so `Origin: <same>` then `Origin: <other>` was accepted; several Origin
/// headers are now refused as cross-origin (403), in either order. One same-origin header
/// (or none) is still accepted.
#[test]
fn websocket_with_several_origins_is_refused() {
    let server = showcase();
    let addr = server.addr();
    let same = format!("http://{addr}");
    let other = "http://evil.example".to_owned();
    assert_eq!(ws_handshake_status(addr, &[]), 101);
    assert_eq!(ws_handshake_status(addr, std::slice::from_ref(&same)), 101);
    assert_eq!(ws_handshake_status(addr, std::slice::from_ref(&other)), 403);
    for origins in [
        [same.clone(), other.clone()],
        [other.clone(), same.clone()],
        [same.clone(), same.clone()],
    ] {
        assert_eq!(ws_handshake_status(addr, &origins), 403, "{origins:?}");
        assert_fresh_connection_serves(addr);
    }
}
