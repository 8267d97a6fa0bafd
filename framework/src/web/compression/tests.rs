use std::io::Read;
use std::rc::Rc;

use super::*;

fn choose(header: &str) -> Option<ContentCoding> {
    negotiate(std::iter::once(header))
}

#[test]
fn qvalues_parse_as_the_rfc_writes_them() {
    for (text, q) in [
        ("0", Some(0)),
        ("1", Some(1000)),
        ("1.", Some(1000)),
        ("1.000", Some(1000)),
        ("0.5", Some(500)),
        ("0.05", Some(50)),
        ("0.001", Some(1)),
        ("0.", Some(0)),
        ("1.001", None),
        ("2", None),
        ("0.0001", None),
        (".5", None),
        ("", None),
        ("0.5x", None),
        ("-0", None),
    ] {
        assert_eq!(qvalue(text), q, "{text:?}");
    }
}

#[test]
fn negotiation_follows_the_weights() {
    use ContentCoding::{Deflate, Gzip};
    for (header, want) in [
        ("gzip", Some(Gzip)),
        ("GZIP", Some(Gzip)),
        ("x-gzip", Some(Gzip)),
        ("deflate", Some(Deflate)),
        ("gzip, deflate, br", Some(Gzip)),
        ("deflate, gzip", Some(Gzip)),
        ("gzip;q=0.5, deflate", Some(Deflate)),
        ("gzip;q=0.5, deflate;q=0.5", Some(Gzip)),
        ("gzip;q=0", None),
        ("gzip; q=0", None),
        ("gzip;Q=0.000", None),
        ("gzip;q=0, deflate;q=0.1", Some(Deflate)),
        ("*", Some(Gzip)),
        ("*;q=0", None),
        ("*;q=0, gzip", Some(Gzip)),
        ("gzip;q=0, *", Some(Deflate)),
        ("identity", None),
        ("identity, gzip;q=0.5", None),
        ("identity;q=0.5, gzip", Some(Gzip)),
        ("identity;q=0, gzip;q=0", None),
        ("gzip, identity;q=1", Some(Gzip)),
        ("", None),
        ("br", None),
        // A coding named twice takes its lower weight.
        ("gzip, gzip;q=0", None),
        // A malformed weight makes its element unreadable; the rest still counts.
        ("gzip;q=high, deflate", Some(Deflate)),
        ("gzip;q=2", None),
        // Other parameters, empty elements and odd spacing are fine.
        (" , gzip ;level=1; q=0.8 ,,", Some(Gzip)),
        ("\tgzip\t", Some(Gzip)),
    ] {
        assert_eq!(choose(header), want, "{header:?}");
    }
    // Several field lines are one list.
    assert_eq!(negotiate(["identity", "gzip"].into_iter()), Some(Gzip));
    assert_eq!(negotiate(["gzip", "gzip;q=0"].into_iter()), None);
    assert_eq!(negotiate(std::iter::empty()), None);
}

#[test]
fn gzip_acceptance_for_precompressed_files() {
    assert!(accepts_gzip(std::iter::once("gzip;q=0.1, deflate")));
    assert!(accepts_gzip(std::iter::once("*")));
    assert!(!accepts_gzip(std::iter::once("gzip;q=0, *")));
    assert!(!accepts_gzip(std::iter::once("deflate")));
    assert!(!accepts_gzip(std::iter::empty()));
}

#[test]
fn negotiation_is_linear_in_the_header() {
    // A long header of many elements and parameters is read in one pass (a smoke check that
    // it completes and still finds the coding at the end).
    let mut header = "x;a=1;b=2, ".repeat(20_000);
    header.push_str("gzip");
    assert_eq!(choose(&header), Some(ContentCoding::Gzip));
}

#[test]
fn compressible_types() {
    for t in [
        "text/html",
        "text/plain; charset=UTF-8",
        "TEXT/CSS",
        "text/event-stream",
        "application/json",
        "application/json; charset=utf-8",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "application/xml",
        "application/xhtml+xml",
        "application/ld+json",
        "application/problem+json",
        "image/svg+xml",
        "application/atom+xml",
    ] {
        assert!(compressible_type(t), "{t}");
    }
    for t in [
        "image/png",
        "application/octet-stream",
        "application/zip",
        "application/gzip",
        "video/mp4",
        "font/woff2",
        "json",
        "",
        "application/jsonx",
        "application/x+jso",
    ] {
        assert!(!compressible_type(t), "{t}");
    }
}

#[test]
fn coded_etags_keep_strength_and_differ() {
    assert_eq!(
        coded_etag("\"abc\"", ContentCoding::Gzip).as_deref(),
        Some("\"abc-gzip\"")
    );
    assert_eq!(
        coded_etag("W/\"abc\"", ContentCoding::Deflate).as_deref(),
        Some("W/\"abc-deflate\"")
    );
    assert_eq!(coded_etag("abc", ContentCoding::Gzip), None);
    assert_eq!(
        coded_etags("\"v\""),
        [
            Some("\"v-gzip\"".to_owned()),
            Some("\"v-deflate\"".to_owned())
        ]
    );
}

#[test]
fn vary_is_merged_not_repeated() {
    let mut h = HeaderMap::new();
    assert!(merge_vary(&mut h), "no Vary: the caller adds the line");
    assert!(h.is_empty());

    let mut h: HeaderMap = [("Vary", "Cookie")].into_iter().collect();
    assert!(!merge_vary(&mut h));
    assert_eq!(
        h.get_all("Vary").collect::<Vec<_>>(),
        ["Cookie, Accept-Encoding"]
    );
    // Once there, it stays as it is.
    assert!(!merge_vary(&mut h));
    assert_eq!(
        h.get_all("Vary").collect::<Vec<_>>(),
        ["Cookie, Accept-Encoding"]
    );

    let mut h: HeaderMap = [("vary", "accept-encoding, Origin")].into_iter().collect();
    assert!(!merge_vary(&mut h));
    assert_eq!(h.get("Vary"), Some("accept-encoding, Origin"));

    let mut h: HeaderMap = [("Vary", "*")].into_iter().collect();
    assert!(!merge_vary(&mut h));
    assert_eq!(h.get("Vary"), Some("*"));

    // Two lines become one list.
    let mut h: HeaderMap = [("Vary", "Cookie"), ("X", "1"), ("Vary", "Origin")]
        .into_iter()
        .collect();
    assert!(!merge_vary(&mut h));
    assert_eq!(
        h.get_all("Vary").collect::<Vec<_>>(),
        ["Cookie, Origin, Accept-Encoding"]
    );
    assert_eq!(h.len(), 2);
}

fn text(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| b"the quick brown fox jumps over the lazy dog\n"[i % 44] ^ ((i / 997) as u8 & 1))
        .collect()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn unzlib(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .read_to_end(&mut out)
        .expect("valid zlib");
    out
}

#[test]
fn one_shot_bodies_decode_to_the_original() {
    let pool = Rc::new(EncoderPool::default());
    let options = CompressionOptions::default();
    for len in [0, 1, 100, 4096, 100_000, 300_000] {
        let body = text(len);
        let mut lease = pool.lease(ContentCoding::Gzip, &options, false).unwrap();
        let out = lease
            .encoder()
            .unwrap()
            .compress(&body, true)
            .unwrap()
            .to_vec();
        assert_eq!(gunzip(&out), body, "gzip, {len} bytes");
        if len >= 4096 {
            assert!(out.len() < body.len() / 2, "{} of {len}", out.len());
        }
        drop(lease);
        let mut lease = pool.lease(ContentCoding::Deflate, &options, false).unwrap();
        let out = lease
            .encoder()
            .unwrap()
            .compress(&body, true)
            .unwrap()
            .to_vec();
        assert_eq!(unzlib(&out), body, "deflate, {len} bytes");
    }
    // Incompressible input still round-trips (deflate stores it).
    let noise: Vec<u8> = (0u32..70_000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut lease = pool.lease(ContentCoding::Gzip, &options, false).unwrap();
    let out = lease
        .encoder()
        .unwrap()
        .compress(&noise, true)
        .unwrap()
        .to_vec();
    assert_eq!(gunzip(&out), noise);
}

#[test]
fn each_sync_flush_is_decodable_at_once() {
    let pool = Rc::new(EncoderPool::default());
    let mut lease = pool
        .lease(ContentCoding::Gzip, &CompressionOptions::default(), true)
        .unwrap();
    let mut decoder = flate2::write::GzDecoder::new(Vec::new());
    let mut expected = Vec::new();
    for i in 0..5 {
        let piece = format!("chunk {i}\n");
        let out = lease
            .encoder()
            .unwrap()
            .compress(piece.as_bytes(), false)
            .unwrap();
        assert!(!out.is_empty());
        std::io::Write::write_all(&mut decoder, out).unwrap();
        std::io::Write::flush(&mut decoder).unwrap();
        expected.extend_from_slice(piece.as_bytes());
        assert_eq!(decoder.get_ref(), &expected, "after piece {i}");
    }
    // An empty flush is fine, and the end completes the stream.
    let out = lease
        .encoder()
        .unwrap()
        .compress(b"", false)
        .unwrap()
        .to_vec();
    std::io::Write::write_all(&mut decoder, &out).unwrap();
    let out = lease
        .encoder()
        .unwrap()
        .compress(b"", true)
        .unwrap()
        .to_vec();
    std::io::Write::write_all(&mut decoder, &out).unwrap();
    assert_eq!(decoder.finish().unwrap(), expected);
    assert_eq!(lease.encoder().unwrap().taken(), expected.len() as u64);
}

#[test]
fn pooled_compressors_are_reset_and_streams_are_capped() {
    let pool = Rc::new(EncoderPool::default());
    let options = CompressionOptions {
        max_streams: 2,
        ..CompressionOptions::default()
    };
    let a = pool.lease(ContentCoding::Gzip, &options, true).unwrap();
    let mut b = pool.lease(ContentCoding::Gzip, &options, true).unwrap();
    assert_eq!(pool.streams(), 2);
    assert!(pool.lease(ContentCoding::Gzip, &options, true).is_none());
    // Complete bodies do not count against the cap.
    assert!(pool.lease(ContentCoding::Gzip, &options, false).is_some());
    // A stream abandoned midway goes back, and its reused compressor starts afresh.
    b.encoder()
        .unwrap()
        .compress(b"half a stream", false)
        .unwrap();
    drop(b);
    assert_eq!(pool.streams(), 1);
    let mut c = pool.lease(ContentCoding::Gzip, &options, true).unwrap();
    assert_eq!(c.encoder().unwrap().taken(), 0);
    let out = c
        .encoder()
        .unwrap()
        .compress(b"whole", true)
        .unwrap()
        .to_vec();
    assert_eq!(gunzip(&out), b"whole");
    drop((a, c));
    assert_eq!(pool.streams(), 0);
    assert!(pool.idle.borrow().len() <= IDLE_MAX);
    // No stream at all with max_streams 0.
    let none = CompressionOptions {
        max_streams: 0,
        ..CompressionOptions::default()
    };
    assert!(pool.lease(ContentCoding::Gzip, &none, true).is_none());
}
