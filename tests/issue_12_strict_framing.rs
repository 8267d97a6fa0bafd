//! Issue #12 item 6, strict framing: a chunk-size line is `1*HEXDIG [ BWS ";" ext ]` (RFC 9112
//! §7.1), and only CRLF ends a line of a request head unless `allow_bare_lf` is set. Each bad
//! case is 400 with the connection closed, and the server serves a fresh connection after.

use squall::http1::HttpServerOptions;
use squall::testing::TestServer;
use squall_tests::{assert_rejected, echo, options, roundtrip};

fn chunked(size_line: &str) -> Vec<u8> {
    format!(
        "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{size_line}\r\nhello\r\n0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn a_chunk_size_is_hex_digits_then_only_extensions() {
    let server = TestServer::start_with(|| echo, options());
    for bad in [
        "5 xyz", "5 5", "5 ", "5\t", "5x", "0x5", "+5", "5 ;\x01", " 5", "5;a\nb",
    ] {
        assert_rejected(&server, &chunked(bad), 400);
    }
    for good in ["5", "5;a=1", "5 ;a=1", "5\t; a = \"q\" ;b", "00005"] {
        let (_, r) = roundtrip(server.addr(), &chunked(good));
        assert_eq!(r.status, 200, "{good:?}: {r:?}");
        assert_eq!(r.body, b"hello", "{good:?}");
    }
}

const BARE_LF: &[&[u8]] = &[
    b"GET / HTTP/1.1\nHost: t\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: t\nX: 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: t\r\n\n",
    b"GET / HTTP/1.1\nHost: t\n\n",
    b"\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET / HTTP/1.0\n\n",
];

#[test]
fn a_bare_lf_in_the_head_is_400_by_default() {
    let server = TestServer::start_with(|| echo, options());
    for &head in BARE_LF {
        assert_rejected(&server, head, 400);
    }
    // CRLF blank lines before a request are still skipped.
    let (_, r) = roundtrip(server.addr(), b"\r\n\r\nGET /x HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 200);
}

#[test]
fn allow_bare_lf_accepts_it() {
    let server = TestServer::start_with(
        || echo,
        HttpServerOptions {
            allow_bare_lf: true,
            ..options()
        },
    );
    for &head in BARE_LF {
        let (_, r) = roundtrip(server.addr(), head);
        assert_eq!(r.status, 200, "{:?}: {r:?}", String::from_utf8_lossy(head));
    }
    // Chunked framing still needs CRLF.
    assert_rejected(&server, &chunked("5\n"), 400);
}
