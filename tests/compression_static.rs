//! Static files under `Settings::compress_response`: compressible files compressed as they
//! are streamed (with their own ETag and 304), Range requests answered with identity bytes,
//! precompressed `.gz` siblings served as they are (nginx's `gzip_static`) with their own
//! validators and ranges, stale or escaping siblings ignored, and `Vary` wherever the
//! representation depends on `Accept-Encoding`.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use squall::prelude::*;
use squall::testing::{TestServer, WireResponse};
use squall::web::StaticFileHandler;
use squall_tests::{gunzip, options, unzlib, ScratchDir};

fn text(n: usize, seed: u32) -> Vec<u8> {
    let words = [
        "static ",
        "file ",
        "served ",
        "compressed\n",
        "range ",
        "sibling ",
    ];
    let mut out = Vec::with_capacity(n);
    let mut x = seed;
    while out.len() < n {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        out.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
    }
    out.truncate(n);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

const BASE_SECS: u64 = 1_600_000_000;

fn write_at(path: &Path, content: &[u8], secs: u64) {
    fs::write(path, content).unwrap();
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

const BIG: usize = 200_000;

/// The files: `big.txt` (several 64 KiB pieces), `small.txt` (one piece), `tiny.txt` (under
/// min_length), `image.png`, `app.js` with a fresh `app.js.gz`, `stale.css` with an older
/// `.gz`, `data.bin` with a `.gz`, and `escape.txt` whose `.gz` links outside the root.
fn files(dir: &Path, outside: &Path) {
    write_at(&dir.join("big.txt"), &text(BIG, 1), BASE_SECS);
    write_at(&dir.join("small.txt"), &text(3000, 2), BASE_SECS);
    write_at(&dir.join("tiny.txt"), &text(100, 3), BASE_SECS);
    write_at(&dir.join("image.png"), &text(5000, 4), BASE_SECS);
    write_at(&dir.join("app.js"), &text(3000, 5), BASE_SECS);
    write_at(
        &dir.join("app.js.gz"),
        &gzip(&text(3000, 5)),
        BASE_SECS + 10,
    );
    write_at(&dir.join("stale.css"), &text(3000, 6), BASE_SECS);
    write_at(
        &dir.join("stale.css.gz"),
        &gzip(b"an old version"),
        BASE_SECS - 10,
    );
    write_at(&dir.join("data.bin"), &text(3000, 7), BASE_SECS);
    write_at(
        &dir.join("data.bin.gz"),
        &gzip(&text(3000, 7)),
        BASE_SECS + 10,
    );
    write_at(&dir.join("escape.txt"), &text(3000, 8), BASE_SECS);
    write_at(
        &outside.join("secret.gz"),
        &gzip(b"TOP SECRET"),
        BASE_SECS + 10,
    );
    std::os::unix::fs::symlink(outside.join("secret.gz"), dir.join("escape.txt.gz")).unwrap();
}

struct Fixture {
    server: TestServer,
    _dirs: (ScratchDir, ScratchDir),
}

fn fixture(on: bool) -> Fixture {
    let root = ScratchDir::new("gzip-static");
    let outside = ScratchDir::new("gzip-outside");
    files(root.path(), outside.path());
    let path = root.path().to_owned();
    let server = TestServer::start_with(
        move || {
            Application::with_settings(
                routes![(r"/static/(.*)", StaticFileHandler::new(path))],
                Settings {
                    compress_response: on,
                    ..Settings::default()
                },
            )
            .expect("settings")
        },
        options(),
    );
    Fixture {
        server,
        _dirs: (root, outside),
    }
}

fn fetch(server: &TestServer, method: &str, path: &str, headers: &str) -> WireResponse {
    let mut c = server.connect();
    c.send(format!("{method} /static/{path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n").as_bytes());
    if method == "HEAD" {
        c.read_head_response()
    } else {
        c.read_response()
    }
}

const GZ: &str = "Accept-Encoding: gzip\r\n";

#[test]
fn files_are_compressed_as_they_stream_with_their_own_etag() {
    let f = fixture(true);
    let identity = fetch(&f.server, "GET", "big.txt", "");
    assert_eq!(identity.status, 200);
    assert_eq!(identity.header("Content-Encoding"), None);
    assert_eq!(identity.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(identity.header("Content-Length"), Some("200000"));
    assert_eq!(identity.body, text(BIG, 1));
    let identity_tag = identity.header("Etag").unwrap().to_owned();

    let r = fetch(&f.server, "GET", "big.txt", GZ);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=UTF-8"));
    assert_eq!(gunzip(&r.body), text(BIG, 1));
    assert!(r.body.len() < BIG / 2);
    let gzip_tag = r.header("Etag").unwrap().to_owned();
    assert_eq!(
        gzip_tag,
        format!("{}-gzip\"", identity_tag.trim_end_matches('"'))
    );
    assert_eq!(r.header("Last-Modified"), identity.header("Last-Modified"));

    // Each representation's tag gives its own 304.
    for (ae, tag) in [("", &identity_tag), (GZ, &gzip_tag)] {
        let r = fetch(
            &f.server,
            "GET",
            "big.txt",
            &format!("{ae}If-None-Match: {tag}\r\n"),
        );
        assert_eq!(r.status, 304, "{ae:?}");
        assert_eq!(r.header("Etag"), Some(tag.as_str()));
        assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
        assert_eq!(r.header("Content-Encoding"), None);
        assert!(r.body.is_empty());
    }
    let r = fetch(
        &f.server,
        "GET",
        "big.txt",
        &format!("{GZ}If-None-Match: {identity_tag}\r\n"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));

    // A file of one piece: compressed whole, with its compressed length.
    let r = fetch(
        &f.server,
        "GET",
        "small.txt",
        "Accept-Encoding: deflate\r\n",
    );
    assert_eq!(r.header("Content-Encoding"), Some("deflate"));
    assert_eq!(
        r.header("Content-Length")
            .map(|v| v.parse::<usize>().unwrap()),
        Some(r.body.len())
    );
    assert_eq!(unzlib(&r.body), text(3000, 2));
    assert!(r.header("Etag").unwrap().ends_with("-deflate\""));

    // HEAD: the headers of the compressed GET, no length, no body.
    let r = fetch(&f.server, "HEAD", "big.txt", GZ);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(r.header("Etag"), Some(gzip_tag.as_str()));
    assert_eq!(r.header("Content-Length"), None);
    f.server.assert_serves();
}

#[test]
fn range_requests_get_identity_bytes() {
    let f = fixture(true);
    let identity_tag = fetch(&f.server, "GET", "big.txt", "")
        .header("Etag")
        .unwrap()
        .to_owned();
    for range in ["bytes=0-99", "bytes=150000-", "bytes=-10"] {
        let r = fetch(
            &f.server,
            "GET",
            "big.txt",
            &format!("{GZ}Range: {range}\r\n"),
        );
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(r.header("Content-Encoding"), None, "{range}");
        assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
        assert_eq!(r.header("Etag"), Some(identity_tag.as_str()));
        let whole = text(BIG, 1);
        let cr = r.header("Content-Range").unwrap();
        let (span, _) = cr.trim_start_matches("bytes ").split_once('/').unwrap();
        let (a, b) = span.split_once('-').unwrap();
        let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
        assert_eq!(r.body, &whole[a..=b], "{range}");
    }
    // If-Range with the identity tag still applies the range.
    let r = fetch(
        &f.server,
        "GET",
        "big.txt",
        &format!("{GZ}Range: bytes=0-9\r\nIf-Range: {identity_tag}\r\n"),
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &text(BIG, 1)[..10]);
}

#[test]
fn a_gz_sibling_is_served_as_it_is() {
    let f = fixture(true);
    let gz_bytes = gzip(&text(3000, 5));
    let r = fetch(&f.server, "GET", "app.js", GZ);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    assert!(r.header("Content-Type").unwrap().contains("javascript"));
    assert_eq!(
        r.header("Content-Length"),
        Some(gz_bytes.len().to_string().as_str())
    );
    assert_eq!(r.body, gz_bytes, "the sibling's bytes, exactly");
    // The sibling's own validators: its modification time (BASE_SECS + 10).
    assert_eq!(
        r.header("Last-Modified"),
        Some("Sun, 13 Sep 2020 12:26:50 GMT")
    );
    let gz_tag = r.header("Etag").unwrap().to_owned();

    let identity = fetch(&f.server, "GET", "app.js", "");
    assert_eq!(identity.header("Content-Encoding"), None);
    assert_eq!(identity.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(identity.body, text(3000, 5));
    let identity_tag = identity.header("Etag").unwrap().to_owned();
    assert_ne!(gz_tag, identity_tag);

    let r = fetch(
        &f.server,
        "GET",
        "app.js",
        &format!("{GZ}If-None-Match: {gz_tag}\r\n"),
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.header("Etag"), Some(gz_tag.as_str()));
    let r = fetch(
        &f.server,
        "GET",
        "app.js",
        &format!("If-None-Match: {identity_tag}\r\n"),
    );
    assert_eq!(r.status, 304);

    // Ranges of the precompressed representation are ranges of its bytes.
    let r = fetch(
        &f.server,
        "GET",
        "app.js",
        &format!("{GZ}Range: bytes=0-9\r\n"),
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(r.body, &gz_bytes[..10]);
    assert_eq!(
        r.header("Content-Range"),
        Some(format!("bytes 0-9/{}", gz_bytes.len()).as_str())
    );

    // A sibling counts whatever the file's type: data.bin is not compressible itself.
    let r = fetch(&f.server, "GET", "data.bin", GZ);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body), text(3000, 7));
    let r = fetch(&f.server, "GET", "data.bin", "");
    assert_eq!(r.header("Content-Encoding"), None);
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(r.body, text(3000, 7));
    f.server.assert_serves();
}

#[test]
fn stale_and_escaping_siblings_are_ignored() {
    let f = fixture(true);
    // Older than its original: compressed on the fly from the original instead.
    let r = fetch(&f.server, "GET", "stale.css", GZ);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body), text(3000, 6));
    // A symbolic link out of the root is never followed.
    let r = fetch(&f.server, "GET", "escape.txt", GZ);
    assert_eq!(r.status, 200);
    let body = gunzip(&r.body);
    assert_eq!(body, text(3000, 8));
    assert!(!String::from_utf8_lossy(&body).contains("SECRET"));
}

#[test]
fn small_and_incompressible_files_are_untouched() {
    let f = fixture(true);
    for path in ["tiny.txt", "image.png"] {
        let r = fetch(&f.server, "GET", path, GZ);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Encoding"), None, "{path}");
        assert_eq!(r.header("Vary"), None, "{path}");
    }
}

#[test]
fn with_compression_off_siblings_are_not_used() {
    let f = fixture(false);
    let r = fetch(&f.server, "GET", "app.js", GZ);
    assert_eq!(r.header("Content-Encoding"), None);
    assert_eq!(r.header("Vary"), None);
    assert_eq!(r.body, text(3000, 5));
    let r = fetch(&f.server, "GET", "big.txt", GZ);
    assert_eq!(r.header("Content-Encoding"), None);
    assert_eq!(r.body, text(BIG, 1));
}
