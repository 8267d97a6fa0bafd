//! The WebSocket opening handshake of the showcase (`/ws/echo`, `/ws/chat`), rule by rule of
//! websocket-contract.md "Opening handshake": exact statuses and headers over raw sockets,
//! and after every refusal, plain HTTP and a fresh WebSocket still work.

use std::net::SocketAddr;

use squall::testing::TestClient;
use squall_tests::showcase_support::showcase;
use squall_tests::ws::{request, Head, WsClient, ACCEPT, KEY};

/// Sends a raw handshake request and returns the response head.
fn ask(addr: SocketAddr, req: &str) -> Head {
    WsClient::tcp(addr).handshake(req.as_bytes())
}

/// The server still serves plain HTTP and a fresh echo after a bad handshake.
fn still_serves(addr: SocketAddr) {
    let r = TestClient::connect_to(addr).get("/plaintext");
    assert_eq!((r.status(), r.text().as_str()), (200, "Hello, World!"));
    let mut c = WsClient::connect(addr, "/ws/echo");
    c.send_text("still here");
    assert_eq!(c.read_text(), "still here");
    c.close_cleanly();
}

fn req_with(addr: SocketAddr, replace: &[(&str, Option<&str>)]) -> String {
    // The standard headers, each replaced or dropped as asked.
    let mut headers: Vec<(String, String)> = vec![
        ("Host".into(), addr.to_string()),
        ("Upgrade".into(), "websocket".into()),
        ("Connection".into(), "Upgrade".into()),
        ("Sec-WebSocket-Key".into(), KEY.into()),
        ("Sec-WebSocket-Version".into(), "13".into()),
    ];
    for (name, value) in replace {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        if let Some(v) = value {
            headers.push(((*name).into(), (*v).into()));
        }
    }
    let mut r = String::from("GET /ws/echo HTTP/1.1\r\n");
    for (n, v) in headers {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r
}

#[test]
fn a_valid_request_is_switched_with_the_right_headers() {
    let server = showcase();
    let addr = server.addr();
    for path in ["/ws/echo", "/ws/chat"] {
        let mut c = WsClient::tcp(addr);
        let h = c.handshake(&request(path, &addr.to_string(), &[]));
        assert_eq!(h.status, 101, "{h:?}");
        assert_eq!(
            h.header("Upgrade").map(str::to_ascii_lowercase).as_deref(),
            Some("websocket")
        );
        assert_eq!(
            h.header("Connection")
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("upgrade")
        );
        assert_eq!(h.header("Sec-WebSocket-Accept"), Some(ACCEPT));
        assert_eq!(
            h.count("Sec-WebSocket-Protocol"),
            0,
            "no subprotocols are supported"
        );
        assert_eq!(
            h.count("Sec-WebSocket-Extensions"),
            0,
            "no extension was offered"
        );
        assert_eq!(h.count("Content-Length") + h.count("Transfer-Encoding"), 0);
        c.close_cleanly();
    }
}

#[test]
fn subprotocols_and_unknown_extensions_are_not_accepted() {
    let server = showcase();
    let addr = server.addr();
    let (c, h) = WsClient::connect_with(
        addr,
        "/ws/echo",
        &[
            ("Sec-WebSocket-Protocol", "chat, superchat"),
            (
                "Sec-WebSocket-Extensions",
                "x-webkit-deflate-frame, foo; bar=1",
            ),
        ],
    );
    assert_eq!(h.count("Sec-WebSocket-Protocol"), 0);
    assert_eq!(h.count("Sec-WebSocket-Extensions"), 0);
    drop(c);
    still_serves(addr);
}

#[test]
fn names_and_tokens_are_case_insensitive_and_connection_is_a_list() {
    let server = showcase();
    let addr = server.addr();
    let req = format!(
        "GET /ws/echo HTTP/1.1\r\nhost: {addr}\r\nUPGRADE: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n\
         sec-websocket-key: {KEY}\r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n"
    );
    let mut c = WsClient::tcp(addr);
    let h = c.handshake(req.as_bytes());
    assert_eq!(h.status, 101, "{h:?}");
    assert_eq!(h.header("sec-websocket-accept"), Some(ACCEPT));
    c.send_text("ok");
    assert_eq!(c.read_text(), "ok");
    c.close_cleanly();
}

#[test]
fn the_upgrade_may_follow_other_requests_on_a_keep_alive_connection() {
    let server = showcase();
    let addr = server.addr();
    let mut c = WsClient::tcp(addr);
    // Two plain requests, pipelined, then the upgrade and a frame right behind it.
    let mut bytes = format!(
        "GET /plaintext HTTP/1.1\r\nHost: {addr}\r\n\r\nGET /json HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    )
    .into_bytes();
    bytes.extend(request("/ws/echo", &addr.to_string(), &[]));
    let frame = c.encode(true, 0, 1, b"right behind the head", true);
    bytes.extend(frame);
    c.send_raw(&bytes);
    assert_eq!(c.read_head().status, 200);
    assert_eq!(c.read_head().status, 200);
    let h = c.read_head();
    assert_eq!(h.status, 101);
    assert_eq!(c.read_text(), "right behind the head");
    c.close_cleanly();
}

#[test]
fn bad_keys_are_400() {
    let server = showcase();
    let addr = server.addr();
    let cases: Vec<Vec<(&str, Option<&str>)>> = vec![
        vec![("Sec-WebSocket-Key", None)],
        vec![("Sec-WebSocket-Key", Some("not base64!"))],
        vec![("Sec-WebSocket-Key", Some("AAAAAAAAAAAAAAAAAAAA"))], // 15 bytes
        vec![("Sec-WebSocket-Key", Some("AAAAAAAAAAAAAAAAAAAAAAAAAA=="))], // 19 bytes
        vec![("Sec-WebSocket-Key", Some("dGhlIHNhbXBsZSBub25jZQ"))], // unpadded
    ];
    for case in cases {
        let h = ask(addr, &req_with(addr, &case));
        assert_eq!(h.status, 400, "{case:?}");
    }
    // Duplicated (even with the same value).
    let dup =
        req_with(addr, &[]).replace("\r\n\r\n", &format!("\r\nSec-WebSocket-Key: {KEY}\r\n\r\n"));
    assert_eq!(ask(addr, &dup).status, 400);
    still_serves(addr);
}

#[test]
fn other_versions_are_426_with_version_13() {
    let server = showcase();
    let addr = server.addr();
    for v in [Some("8"), Some("12"), Some("14"), Some("13, 8")] {
        let h = ask(addr, &req_with(addr, &[("Sec-WebSocket-Version", v)]));
        assert_eq!(h.status, 426, "{v:?}");
        assert_eq!(h.header("Sec-WebSocket-Version"), Some("13"));
    }
    // Missing: 400, or 426 with the header.
    let h = ask(addr, &req_with(addr, &[("Sec-WebSocket-Version", None)]));
    assert!(
        h.status == 400 || (h.status == 426 && h.header("Sec-WebSocket-Version") == Some("13")),
        "{h:?}"
    );
    still_serves(addr);
}

#[test]
fn upgrade_and_connection_tokens_are_required() {
    let server = showcase();
    let addr = server.addr();
    for case in [
        vec![("Upgrade", None)],
        vec![("Upgrade", Some("h2c"))],
        vec![("Connection", None)],
        vec![("Connection", Some("keep-alive"))],
    ] {
        let h = ask(addr, &req_with(addr, &case));
        assert_eq!(h.status, 400, "{case:?}");
    }
    still_serves(addr);
}

#[test]
fn not_get_or_not_http11_is_never_switched() {
    let server = showcase();
    let addr = server.addr();
    for method in ["POST", "PUT", "DELETE", "HEAD"] {
        let r = req_with(addr, &[("Content-Length", Some("0"))]).replacen("GET", method, 1);
        let mut c = WsClient::tcp(addr);
        c.send_raw(r.as_bytes());
        let h = c.read_head_for(method == "HEAD");
        assert!((400..600).contains(&h.status), "{method}: {h:?}");
    }
    let r = req_with(addr, &[]).replacen("HTTP/1.1", "HTTP/1.0", 1);
    let h = ask(addr, &r);
    assert!((400..600).contains(&h.status), "HTTP/1.0: {h:?}");
    still_serves(addr);
}

#[test]
fn cross_origin_is_403_and_same_origin_is_accepted() {
    let server = showcase();
    let addr = server.addr();
    for origin in [
        "http://evil.example",
        "null",
        "http://127.0.0.1:1",
        "https://localhost",
    ] {
        let h = ask(addr, &req_with(addr, &[("Origin", Some(origin))]));
        assert_eq!(h.status, 403, "{origin}");
    }
    let same = format!("http://{addr}");
    let (mut c, _) = WsClient::connect_with(addr, "/ws/echo", &[("Origin", &same)]);
    c.send_text("same origin");
    assert_eq!(c.read_text(), "same origin");
    c.close_cleanly();
    still_serves(addr);
}
