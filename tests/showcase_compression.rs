//! The showcase (`examples/showcase.rs`, run as a child process) with `compress_response` on:
//! the `/lorem` row of `showcase-contract.md` (gzip when accepted, with `Vary`; identity
//! otherwise; each representation its own ETag and 304), and the older rows a client
//! accepting gzip reaches (`/stream` chunk by chunk, `/etag`, static files and their ranges).

use std::io::Write;

use squall::testing::{Framing, WireClient, WireResponse};
use squall_tests::showcase_support::showcase;
use squall_tests::{gunzip, roundtrip};

const LOREM_LEN: usize = 64 * 1024;

fn get(c: &mut WireClient, path: &str, extra: &str) -> WireResponse {
    c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n").as_bytes());
    c.read_response()
}

const GZ: &str = "Accept-Encoding: gzip\r\n";

#[test]
fn lorem_has_two_representations_each_with_its_etag() {
    let server = showcase();
    let mut c = WireClient::connect(server.addr());

    let identity = get(&mut c, "/lorem", "");
    assert_eq!(identity.status, 200);
    assert_eq!(
        identity.header("Content-Type"),
        Some("text/plain; charset=UTF-8")
    );
    assert_eq!(identity.header("Content-Encoding"), None);
    assert_eq!(identity.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(identity.body.len(), LOREM_LEN);
    assert!(identity
        .body
        .iter()
        .all(|b| b.is_ascii_lowercase() || b" \n".contains(b)));
    let identity_tag = identity.header("Etag").expect("an ETag").to_owned();
    assert_eq!(
        identity_tag,
        format!("\"{:x}\"", md5::compute(&identity.body))
    );

    let gzip = get(&mut c, "/lorem", GZ);
    assert_eq!(gzip.status, 200);
    assert_eq!(gzip.header("Content-Encoding"), Some("gzip"));
    assert_eq!(gzip.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(
        gzip.header("Content-Type"),
        Some("text/plain; charset=UTF-8")
    );
    assert_eq!(gunzip(&gzip.body), identity.body, "the same text");
    assert!(gzip.body.len() < LOREM_LEN / 2, "{} bytes", gzip.body.len());
    let gzip_tag = gzip.header("Etag").expect("an ETag").to_owned();
    assert_ne!(gzip_tag, identity_tag);

    // Deterministic: the same bytes on a second request.
    assert_eq!(get(&mut c, "/lorem", "").body, identity.body);

    for (ae, tag) in [("", &identity_tag), (GZ, &gzip_tag)] {
        let r = get(&mut c, "/lorem", &format!("{ae}If-None-Match: {tag}\r\n"));
        assert_eq!(r.status, 304, "{ae:?}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("Etag"), Some(tag.as_str()));
        assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    }
    // The other representation's tag does not match.
    let r = get(
        &mut c,
        "/lorem",
        &format!("{GZ}If-None-Match: {identity_tag}\r\n"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
}

#[test]
fn stream_chunks_decode_one_by_one_with_gzip() {
    let server = showcase();
    let mut c = WireClient::connect(server.addr());
    c.send(b"GET /stream HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.framing, Framing::Chunked);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    // Each chunk of the wire body is one flush: decoding them in order yields the pieces one
    // by one.
    let raw = &r.raw[r.raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    let mut decoder = flate2::write::GzDecoder::new(Vec::new());
    let mut pos = 0;
    let mut expected = Vec::new();
    let mut piece = 0;
    loop {
        let line_end = pos + raw[pos..].windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[pos..line_end]).unwrap(), 16).unwrap();
        pos = line_end + 2;
        if size == 0 {
            break;
        }
        decoder.write_all(&raw[pos..pos + size]).unwrap();
        decoder.flush().unwrap();
        pos += size + 2;
        if piece < 5 {
            expected.extend_from_slice(format!("chunk {piece}\n").as_bytes());
            assert_eq!(decoder.get_ref(), &expected, "after chunk {piece}");
            piece += 1;
        }
    }
    assert_eq!(piece, 5);
    assert_eq!(
        decoder.finish().unwrap(),
        b"chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n"
    );
    // The connection goes on.
    assert_eq!(get(&mut c, "/", "").body, b"Hello, world");
}

#[test]
fn small_bodies_and_binary_static_files_stay_as_they_were() {
    let server = showcase();
    let mut c = WireClient::connect(server.addr());
    // /etag: too small to compress, so its contract is unchanged for a gzip client.
    let r = get(&mut c, "/etag", GZ);
    assert_eq!(r.body, b"etag body\n");
    assert_eq!(r.header("Content-Encoding"), None);
    assert_eq!(r.header("Vary"), None);
    let tag = r.header("Etag").unwrap().to_owned();
    assert_eq!(tag, format!("\"{:x}\"", md5::compute(b"etag body\n")));
    let r = get(&mut c, "/etag", &format!("{GZ}If-None-Match: {tag}\r\n"));
    assert_eq!(r.status, 304);
    // Static files: hello.txt is small, big.bin is not a compressible type; ranges as before.
    let r = get(&mut c, "/static/hello.txt", GZ);
    assert_eq!(r.body, b"hello static\n");
    assert_eq!(r.header("Content-Encoding"), None);
    let r = get(
        &mut c,
        "/static/big.bin",
        &format!("{GZ}Range: bytes=1000-1009\r\n"),
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.header("Content-Encoding"), None);
    assert_eq!(r.header("Content-Range"), Some("bytes 1000-1009/1048576"));
    let want: Vec<u8> = (1000..1010).map(|i| i as u8).collect();
    assert_eq!(r.body, want);
    let (_, r) = roundtrip(
        server.addr(),
        b"GET /static/big.bin HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.header("Content-Encoding"), None);
    assert_eq!(r.body.len(), 1 << 20);
}
