//! A slow client dribbling a large head in small pieces is parsed correctly, every byte of it
//! (the server rescans only new bytes for the end of the head; here we pin correctness).

use std::io::Write;

use squall::http1::{Request, Responder};
use squall::testing::TestServer;
use squall_tests::options;

/// Answers with the number of headers, the total bytes of their values and the last value.
fn summarize(req: Request, res: Responder) {
    let n = req.headers().count();
    let total: usize = req.headers().map(|(_, v)| v.len()).sum();
    let last = req
        .headers()
        .last()
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default();
    let body = format!("n={n} total={total} last={last}");
    res.respond(200, &[], body.as_bytes());
}

#[test]
fn thirty_kb_head_dribbled_in_small_pieces() {
    let server = TestServer::start_with(|| summarize, options());
    let mut head = String::from("GET /slow HTTP/1.1\r\nHost: t\r\n");
    let mut total = 1; // "t"
    for i in 0..90 {
        let v = format!("{i:03}-{}", "v".repeat(322));
        total += v.len();
        head.push_str(&format!("X-H{i}: {v}\r\n"));
    }
    head.push_str("\r\n");
    assert!(head.len() > 30_000, "{}", head.len());
    let mut c = server.connect();
    // Pieces of 1 to 7 bytes, each its own write (TCP_NODELAY), pausing now and then so the
    // server really sees the head in many reads.
    let bytes = head.as_bytes();
    let mut i = 0;
    let mut piece = 1;
    let mut writes = 0;
    while i < bytes.len() {
        let end = (i + piece).min(bytes.len());
        c.stream.write_all(&bytes[i..end]).unwrap();
        i = end;
        piece = piece % 7 + 1;
        writes += 1;
        if writes % 500 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    let r = c.read_response();
    assert_eq!(r.status, 200);
    let last = format!("089-{}", "v".repeat(322));
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        format!("n=91 total={total} last={last}")
    );
    // The same head in one piece on the same connection gives the same answer.
    c.send(bytes);
    let r2 = c.read_response();
    assert_eq!(
        String::from_utf8(r2.body).unwrap(),
        format!("n=91 total={total} last={last}")
    );
}

#[test]
fn head_terminator_split_across_reads() {
    // The blank line that ends a head arriving split at each of its bytes (CRLF and, where
    // the server accepts it, bare LF).
    let lenient = squall::http1::HttpServerOptions {
        allow_bare_lf: true,
        ..options()
    };
    let server = TestServer::start_with(|| summarize, lenient);
    let mut c = server.connect();
    for head in [
        &b"GET / HTTP/1.1\r\nHost: t\r\nA: b\r\n\r\n"[..],
        b"GET / HTTP/1.1\nHost: t\nA: b\n\n",
    ] {
        for cut in head.len() - 4..head.len() {
            c.send(&head[..cut]);
            c.assert_open_for(std::time::Duration::from_millis(20));
            c.send(&head[cut..]);
            let r = c.read_response();
            assert_eq!(r.body, b"n=2 total=2 last=b", "cut {cut}");
        }
    }
}
