//! `Settings::compress_response` over real sockets: negotiation by `Accept-Encoding` with
//! q-values, gzip and deflate bodies that decode to the original, which responses are left
//! alone (small, incompressible, already encoded, 204/304/HEAD bodies), `Vary`, one ETag per
//! representation with its 304, streamed responses whose chunks decode one by one as they
//! arrive, declared lengths, and the cap on streams. Static files: `compression_static.rs`.

use std::cell::Cell;
use std::io::{Read, Write};
use std::rc::Rc;

use squall::locks::Condition;
use squall::prelude::*;
use squall::testing::{TestServer, WireClient, WireResponse};
use squall::web::CompressionOptions;
use squall_tests::{gunzip, options, unzlib};

/// A text of `n` bytes that compresses well but not trivially.
fn text(n: usize) -> Vec<u8> {
    let words = ["alpha ", "beta ", "gamma ", "delta\n", "epsilon ", "zeta "];
    let mut out = Vec::with_capacity(n);
    let mut x: u32 = 7;
    while out.len() < n {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        out.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
    }
    out.truncate(n);
    out
}

const TEXT_LEN: usize = 4000;

/// `GET /text`: TEXT_LEN bytes of text/plain, automatic ETag.
#[derive(Clone, Default)]
struct Text;

#[handler]
impl Text {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.set_header("Content-Type", "text/plain; charset=UTF-8")?;
        cx.write(text(TEXT_LEN));
        Ok(())
    }
}

/// `GET /kind/<what>`: responses compression must leave alone, or treat specially.
#[derive(Clone, Default)]
struct Kind;

#[handler]
impl Kind {
    fn get(&mut self, cx: &mut Context, what: String) -> Result<()> {
        match what.as_str() {
            // Under min_length.
            "small" => cx.write(text(100)),
            // Not a compressible type.
            "png" => {
                cx.set_header("Content-Type", "image/png")?;
                cx.write(text(TEXT_LEN));
            }
            // Already encoded by the handler.
            "encoded" => {
                let mut gz =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                gz.write_all(&text(TEXT_LEN)).map_err(HttpError::from)?;
                cx.set_header("Content-Type", "text/plain")?;
                cx.set_header("Content-Encoding", "gzip")?;
                cx.write(gz.finish().map_err(HttpError::from)?);
            }
            // The default text/html type, a Vary of its own, and its own ETag.
            "vary" => {
                cx.set_header("Vary", "Cookie")?;
                cx.set_header("Etag", "\"v1\"")?;
                cx.write(text(TEXT_LEN));
            }
            "vary-named" => {
                cx.set_header("Vary", "accept-encoding")?;
                cx.write(text(TEXT_LEN));
            }
            "json" => {
                let items: Vec<u32> = (0..2000).collect();
                cx.write_json(&items)?;
            }
            "nocontent" => {
                cx.set_status(204);
            }
            "off" => {
                cx.set_compression_enabled(false);
                cx.write(text(TEXT_LEN));
            }
            "partial" => {
                cx.set_status(206);
                cx.set_header("Content-Range", "bytes 0-3999/8000")?;
                cx.write(text(TEXT_LEN));
            }
            _ => return Err(HttpError::new(404)),
        }
        Ok(())
    }
}

/// `GET /stream`: five pieces, each flushed; with `?wait=1` each piece after the first waits
/// until a request to `/next` says go, so the test sees each arrive on its own.
#[derive(Clone)]
struct Stream {
    go: Rc<Condition>,
    released: Rc<Cell<u32>>,
}

#[handler]
impl Stream {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        let wait = cx.query_argument("wait").is_ok();
        for i in 0..5 {
            if wait && i > 0 {
                while self.released.get() < i {
                    self.go.wait().await;
                }
            }
            cx.write(format!("chunk {i}\n"));
            cx.flush_and_wait().await?;
        }
        Ok(())
    }
}

/// `GET /next`: lets the waiting stream send its next piece.
#[derive(Clone)]
struct Next {
    go: Rc<Condition>,
    released: Rc<Cell<u32>>,
}

#[handler]
impl Next {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        self.released.set(self.released.get() + 1);
        self.go.notify_all();
        cx.write("ok");
        Ok(())
    }
}

/// `GET /declared/<n>`: declares TEXT_LEN bytes and writes `n` in two flushed pieces.
#[derive(Clone, Default)]
struct Declared;

#[handler]
impl Declared {
    async fn get(&mut self, cx: &mut Context, n: usize) -> Result<()> {
        let body = text(n);
        cx.set_header("Content-Type", "text/plain")?;
        cx.set_content_length(TEXT_LEN as u64)?;
        let (a, b) = body.split_at(n / 2);
        cx.write(a);
        cx.flush_and_wait().await?;
        cx.write(b);
        Ok(())
    }
}

fn server_with(compression: CompressionOptions, on: bool) -> TestServer {
    TestServer::start_with(
        move || {
            let go = Rc::new(Condition::new());
            let released = Rc::new(Cell::new(0));
            Application::with_settings(
                routes![
                    (r"/text", Text),
                    (r"/kind/([\w-]+)", Kind),
                    (
                        r"/stream",
                        Stream {
                            go: go.clone(),
                            released: released.clone()
                        }
                    ),
                    (r"/next", Next { go, released }),
                    (r"/declared/(\d+)", Declared),
                ],
                Settings {
                    compress_response: on,
                    compression,
                    ..Settings::default()
                },
            )
            .expect("settings")
        },
        options(),
    )
}

fn server() -> TestServer {
    server_with(CompressionOptions::default(), true)
}

/// GET `path` with `Accept-Encoding: ae` (none when `None`) and extra header lines.
fn get(server: &TestServer, path: &str, ae: Option<&str>, extra: &str) -> WireResponse {
    let mut c = server.connect();
    c.send(request("GET", path, ae, extra).as_bytes());
    c.read_response()
}

fn request(method: &str, path: &str, ae: Option<&str>, extra: &str) -> String {
    let ae = ae.map_or(String::new(), |v| format!("Accept-Encoding: {v}\r\n"));
    format!("{method} {path} HTTP/1.1\r\nHost: t\r\n{ae}{extra}\r\n")
}

/// The body as the client reads it: decoded according to `Content-Encoding`.
fn decoded(r: &WireResponse) -> Vec<u8> {
    match r.header("Content-Encoding") {
        None => r.body.clone(),
        Some("gzip") => gunzip(&r.body),
        Some("deflate") => unzlib(&r.body),
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    }
}

#[test]
fn the_coding_follows_accept_encoding() {
    let server = server();
    let original = text(TEXT_LEN);
    for (ae, want) in [
        (None, None),
        (Some("gzip"), Some("gzip")),
        (Some("gzip, deflate, br"), Some("gzip")),
        (Some("deflate"), Some("deflate")),
        (Some("gzip;q=0.5, deflate"), Some("deflate")),
        (Some("gzip;q=0, deflate;q=0.1"), Some("deflate")),
        (Some("gzip;q=0"), None),
        (Some("*"), Some("gzip")),
        (Some("*;q=0"), None),
        (Some("identity"), None),
        (Some("gzip;q=0.5, identity"), None),
        (Some("identity;q=0.5, gzip"), Some("gzip")),
        (Some("br"), None),
        (Some(""), None),
        // Identity refused with nothing else acceptable: identity anyway, never a 406.
        (Some("identity;q=0, *;q=0"), None),
        // Malformed weights make their element unreadable.
        (Some("gzip;q=abc"), None),
        (Some("gzip;q=abc, deflate"), Some("deflate")),
    ] {
        let r = get(&server, "/text", ae, "");
        assert_eq!(r.status, 200, "{ae:?}");
        assert_eq!(r.header("Content-Encoding"), want, "{ae:?}");
        assert_eq!(r.header("Vary"), Some("Accept-Encoding"), "{ae:?}");
        assert_eq!(r.header_count("Vary"), 1);
        assert_eq!(decoded(&r), original, "{ae:?}");
        let cl: usize = r.header("Content-Length").unwrap().parse().unwrap();
        assert_eq!(cl, r.body.len());
        if want.is_some() {
            assert!(
                r.body.len() < TEXT_LEN / 2,
                "compressed to {}",
                r.body.len()
            );
        }
    }
    server.assert_serves();
}

#[test]
fn json_and_the_default_html_type_are_compressed() {
    let server = server();
    let r = get(&server, "/kind/json", Some("gzip"), "");
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let items: Vec<u32> = serde_json::from_slice(&gunzip(&r.body)).unwrap();
    assert_eq!(items, (0..2000).collect::<Vec<_>>());

    let r = get(&server, "/kind/vary", Some("deflate"), "");
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
    assert_eq!(r.header("Content-Encoding"), Some("deflate"));
    assert_eq!(unzlib(&r.body), text(TEXT_LEN));
}

#[test]
fn responses_compression_cannot_help_are_left_alone() {
    let server = server();
    for path in ["/kind/small", "/kind/png", "/kind/off", "/kind/partial"] {
        let r = get(&server, path, Some("gzip, deflate"), "");
        assert_eq!(r.header("Content-Encoding"), None, "{path}");
        assert_eq!(r.header("Vary"), None, "{path}");
        let len = if path == "/kind/small" { 100 } else { TEXT_LEN };
        assert_eq!(r.body, text(len), "{path}");
    }
    // The handler's own encoding passes through untouched: no second coding, no Vary.
    let r = get(&server, "/kind/encoded", Some("gzip"), "");
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(r.header_count("Content-Encoding"), 1);
    assert_eq!(r.header("Vary"), None);
    assert_eq!(gunzip(&r.body), text(TEXT_LEN));
    // 204 carries no body and gets nothing.
    let r = get(&server, "/kind/nocontent", Some("gzip"), "");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("Content-Encoding"), None);
    assert!(r.body.is_empty());
    // Error pages are small: untouched.
    let r = get(&server, "/kind/nothing", Some("gzip"), "");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("Content-Encoding"), None);
}

#[test]
fn with_compression_off_nothing_changes() {
    let server = server_with(CompressionOptions::default(), false);
    for path in ["/text", "/stream", "/kind/json"] {
        let r = get(&server, path, Some("gzip"), "");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Encoding"), None, "{path}");
        assert_eq!(r.header("Vary"), None, "{path}");
    }
}

#[test]
fn vary_is_merged_once() {
    let server = server();
    for ae in [None, Some("gzip")] {
        let r = get(&server, "/kind/vary", ae, "");
        assert_eq!(r.header_count("Vary"), 1, "{ae:?}");
        assert_eq!(r.header("Vary"), Some("Cookie, Accept-Encoding"), "{ae:?}");
        let r = get(&server, "/kind/vary-named", ae, "");
        assert_eq!(r.header_count("Vary"), 1, "{ae:?}");
        assert_eq!(r.header("Vary"), Some("accept-encoding"), "{ae:?}");
    }
}

#[test]
fn each_representation_has_its_etag_and_its_304() {
    let server = server();
    let identity = get(&server, "/text", None, "");
    let gzip = get(&server, "/text", Some("gzip"), "");
    let deflate = get(&server, "/text", Some("deflate"), "");
    let md5 = format!("{:x}", md5::compute(text(TEXT_LEN)));
    assert_eq!(identity.header("Etag"), Some(format!("\"{md5}\"").as_str()));
    assert_eq!(
        gzip.header("Etag"),
        Some(format!("\"{md5}-gzip\"").as_str())
    );
    assert_eq!(
        deflate.header("Etag"),
        Some(format!("\"{md5}-deflate\"").as_str())
    );
    for (r, ae) in [
        (&identity, None),
        (&gzip, Some("gzip")),
        (&deflate, Some("deflate")),
    ] {
        let tag = r.header("Etag").unwrap();
        let inm = format!("If-None-Match: {tag}\r\n");
        let not_modified = get(&server, "/text", ae, &inm);
        assert_eq!(not_modified.status, 304, "{ae:?}");
        assert!(not_modified.body.is_empty());
        assert_eq!(not_modified.header("Etag"), Some(tag));
        assert_eq!(not_modified.header("Vary"), Some("Accept-Encoding"));
        assert_eq!(not_modified.header("Content-Encoding"), None);
        // A weak comparison, in a list, as usual.
        let inm = format!("If-None-Match: \"other\", W/{tag}\r\n");
        assert_eq!(get(&server, "/text", ae, &inm).status, 304);
    }
    // The tag of the other representation is not a match: the full response comes.
    let identity_tag = identity.header("Etag").unwrap();
    let r = get(
        &server,
        "/text",
        Some("gzip"),
        &format!("If-None-Match: {identity_tag}\r\n"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(gunzip(&r.body), text(TEXT_LEN));
    let gzip_tag = gzip.header("Etag").unwrap();
    let r = get(
        &server,
        "/text",
        None,
        &format!("If-None-Match: {gzip_tag}\r\n"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, text(TEXT_LEN));
    // A handler's own ETag is coded the same way.
    let r = get(&server, "/kind/vary", Some("gzip"), "");
    assert_eq!(r.header("Etag"), Some("\"v1-gzip\""));
    let r = get(
        &server,
        "/kind/vary",
        Some("gzip"),
        "If-None-Match: \"v1-gzip\"\r\n",
    );
    assert_eq!(r.status, 304);
    let r = get(&server, "/kind/vary", None, "If-None-Match: \"v1\"\r\n");
    assert_eq!(r.status, 304);
    assert_eq!(r.header("Etag"), Some("\"v1\""));
}

#[test]
fn head_gets_the_headers_of_get_without_a_body() {
    let server = server();
    let mut c = server.connect();
    c.send(request("HEAD", "/text", Some("gzip"), "").as_bytes());
    let r = c.read_head_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    let md5 = format!("{:x}", md5::compute(text(TEXT_LEN)));
    assert_eq!(r.header("Etag"), Some(format!("\"{md5}-gzip\"").as_str()));
    // The compressed length is not computed for a HEAD: left out, and nothing follows.
    assert_eq!(r.header("Content-Length"), None);
    assert_eq!(r.header("Transfer-Encoding"), None);
    // The connection is still in step: the next response is the next request's.
    c.send(request("GET", "/text", Some("gzip"), "").as_bytes());
    let r = c.read_response();
    assert_eq!(gunzip(&r.body), text(TEXT_LEN));
    // HEAD without gzip: the identity headers, with the identity length.
    c.send(request("HEAD", "/text", None, "").as_bytes());
    let r = c.read_head_response();
    assert_eq!(r.header("Content-Encoding"), None);
    assert_eq!(r.header("Content-Length"), Some("4000"));
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
}

/// Reads one chunk of a chunked body (its data; empty for the last chunk).
fn read_chunk(c: &mut WireClient) -> Vec<u8> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        c.stream.read_exact(&mut byte).expect("a chunk size line");
        line.push(byte[0]);
    }
    let size = usize::from_str_radix(std::str::from_utf8(&line[..line.len() - 2]).unwrap(), 16)
        .expect("a chunk size");
    let mut data = vec![0u8; size + 2];
    c.stream.read_exact(&mut data).expect("chunk data");
    assert_eq!(&data[size..], b"\r\n");
    data.truncate(size);
    data
}

/// Reads a response head byte by byte (so no body byte is consumed with it).
fn read_head(c: &mut WireClient) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        c.stream.read_exact(&mut byte).expect("a response head");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[test]
fn streamed_chunks_arrive_and_decode_one_by_one() {
    let server = server();
    let mut c = server.connect();
    c.send(request("GET", "/stream?wait=1", Some("gzip"), "").as_bytes());
    let head = read_head(&mut c);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nContent-Encoding: gzip\r\n"), "{head}");
    assert!(head.contains("\r\nVary: Accept-Encoding\r\n"), "{head}");
    assert!(
        head.contains("\r\nTransfer-Encoding: chunked\r\n"),
        "{head}"
    );
    let mut decoder = flate2::write::GzDecoder::new(Vec::new());
    let mut expected = Vec::new();
    for i in 0..5 {
        if i > 0 {
            // The stream waits for this before writing piece i: what was read so far
            // arrived while the handler was blocked, i.e. promptly, at each flush.
            assert_eq!(get(&server, "/next", None, "").status, 200);
        }
        let chunk = read_chunk(&mut c);
        decoder.write_all(&chunk).unwrap();
        decoder.flush().unwrap();
        expected.extend_from_slice(format!("chunk {i}\n").as_bytes());
        assert_eq!(decoder.get_ref(), &expected, "decoded after chunk {i}");
    }
    // The end of the gzip stream, then the last chunk.
    loop {
        let chunk = read_chunk(&mut c);
        if chunk.is_empty() {
            break;
        }
        decoder.write_all(&chunk).unwrap();
    }
    assert_eq!(decoder.finish().unwrap(), expected);
    server.assert_serves();
}

#[test]
fn a_stream_without_gzip_is_identity_and_http10_streams_until_close() {
    let server = server();
    let r = get(&server, "/stream", None, "");
    assert_eq!(r.header("Content-Encoding"), None);
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(r.body, b"chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");

    let mut c = server.connect();
    c.send(b"GET /stream HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n");
    let raw = c.read_to_close();
    let text = String::from_utf8_lossy(&raw);
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(text.contains("\r\nContent-Encoding: gzip\r\n"), "{text}");
    assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
    assert_eq!(
        gunzip(&raw[end..]),
        b"chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n"
    );
}

#[test]
fn a_declared_length_counts_uncompressed_bytes() {
    let server = server();
    let r = get(&server, &format!("/declared/{TEXT_LEN}"), Some("gzip"), "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(r.header("Content-Length"), None);
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(gunzip(&r.body), text(TEXT_LEN));
    // Without gzip the declared length goes out as it is.
    let r = get(&server, &format!("/declared/{TEXT_LEN}"), None, "");
    assert_eq!(r.header("Content-Length"), Some("4000"));
    assert_eq!(r.body, text(TEXT_LEN));
    // Fewer or more bytes than declared: the response is cut off (no final chunk), never
    // completed as if it were whole.
    for n in [TEXT_LEN - 10, TEXT_LEN + 10] {
        let mut c = server.connect();
        c.send(request("GET", &format!("/declared/{n}"), Some("gzip"), "").as_bytes());
        let raw = c.read_to_close();
        assert!(raw.starts_with(b"HTTP/1.1 200 OK\r\n"), "{n}");
        assert!(!raw.ends_with(b"\r\n0\r\n\r\n"), "{n}: completed");
    }
    server.assert_serves();
}

#[test]
fn streams_beyond_the_cap_go_uncompressed() {
    let server = server_with(
        CompressionOptions {
            max_streams: 0,
            ..CompressionOptions::default()
        },
        true,
    );
    let r = get(&server, "/stream", Some("gzip"), "");
    assert_eq!(r.header("Content-Encoding"), None);
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(r.body, b"chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
    // Complete bodies are not streams: still compressed.
    let r = get(&server, "/text", Some("gzip"), "");
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
}

#[test]
fn level_and_minimum_length_are_settings() {
    let server = server_with(
        CompressionOptions {
            level: 9,
            min_length: 50,
            ..CompressionOptions::default()
        },
        true,
    );
    let r = get(&server, "/kind/small", Some("gzip"), "");
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body), text(100));
    let stored = server_with(
        CompressionOptions {
            level: 0,
            ..CompressionOptions::default()
        },
        true,
    );
    let r = get(&stored, "/text", Some("gzip"), "");
    assert_eq!(gunzip(&r.body), text(TEXT_LEN));
    assert!(r.body.len() > TEXT_LEN, "level 0 stores");
    // Out of range: refused when the application is built.
    let err = Application::with_settings(
        routes![(r"/text", Text)],
        Settings {
            compression: CompressionOptions {
                level: 10,
                ..CompressionOptions::default()
            },
            ..Settings::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("compression level 10"), "{err}");
}

#[test]
fn the_stream_cap_counts_live_streams_and_frees_their_slot() {
    let server = server_with(
        CompressionOptions {
            max_streams: 1,
            ..CompressionOptions::default()
        },
        true,
    );
    // Two streams at once, both held open (each waits for /next after its first piece): the
    // first gets the only compressor, the second goes uncompressed.
    let mut first = server.connect();
    first.send(request("GET", "/stream?wait=1", Some("gzip"), "").as_bytes());
    let head = read_head(&mut first);
    assert!(head.contains("\r\nContent-Encoding: gzip\r\n"), "{head}");
    let mut second = server.connect();
    second.send(request("GET", "/stream?wait=1", Some("gzip"), "").as_bytes());
    let head = read_head(&mut second);
    assert!(!head.contains("Content-Encoding"), "{head}");
    assert!(head.contains("\r\nVary: Accept-Encoding\r\n"), "{head}");
    for _ in 1..5 {
        assert_eq!(get(&server, "/next", None, "").status, 200);
    }
    let mut gz = Vec::new();
    loop {
        let chunk = read_chunk(&mut first);
        if chunk.is_empty() {
            break;
        }
        gz.extend_from_slice(&chunk);
    }
    assert_eq!(
        gunzip(&gz),
        b"chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n"
    );
    let mut plain = Vec::new();
    loop {
        let chunk = read_chunk(&mut second);
        if chunk.is_empty() {
            break;
        }
        plain.extend_from_slice(&chunk);
    }
    assert_eq!(plain, b"chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
    // Both finished: the slot is free again.
    let r = get(&server, "/stream", Some("gzip"), "");
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(
        gunzip(&r.body),
        b"chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n"
    );
}
