//! Tests of static file serving.

use super::*;

#[test]
fn relative_paths() {
    let ok = |p: &str| relative_path(p).unwrap();
    assert_eq!(ok("a/b.txt"), Path::new("a/b.txt"));
    assert_eq!(ok("./a//b/./c/"), Path::new("a/b/c"));
    assert_eq!(ok(""), Path::new(""));
    assert_eq!(ok("..."), Path::new("..."));
    assert_eq!(ok("a..b/..c"), Path::new("a..b/..c"));
    for bad in [
        "..",
        "../x",
        "a/../b",
        "a/..",
        "/etc/passwd",
        "//etc/passwd",
        "a\0b",
        "./../x",
    ] {
        assert!(relative_path(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn ranges() {
    use ByteRange::*;
    let p = |first, last| Part { first, last };
    assert_eq!(parse_range("bytes=0-9", 100), p(0, 9));
    assert_eq!(parse_range("bytes=10-", 100), p(10, 99));
    assert_eq!(parse_range("bytes=0-", 100), p(0, 99));
    assert_eq!(parse_range("bytes=-10", 100), p(90, 99));
    assert_eq!(parse_range("bytes=-1000", 100), p(0, 99));
    assert_eq!(parse_range("bytes=50-1000", 100), p(50, 99));
    assert_eq!(parse_range("bytes=99-99", 100), p(99, 99));
    assert_eq!(parse_range("BYTES = 1-2", 100), Whole, "no spaces around =");
    assert_eq!(parse_range("Bytes=1-2", 100), p(1, 2));
    assert_eq!(parse_range(" bytes= 1-2 , ", 100), p(1, 2));
    assert_eq!(
        parse_range("bytes=0-99999999999999999999999", 100),
        p(0, 99)
    );
    assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
    assert_eq!(parse_range("bytes=100-200", 100), Unsatisfiable);
    assert_eq!(
        parse_range("bytes=99999999999999999999-", 100),
        Unsatisfiable
    );
    assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
    for ignored in [
        "bytes=0-1,2-3",
        "bytes=5-1",
        "bytes=",
        "bytes=-",
        "bytes=a-b",
        "bytes=1-2-3",
        "bytes=+1-2",
        "bytes=1 -2",
        "bytes=--1",
        "items=0-1",
        "bytes",
        "0-1",
    ] {
        assert_eq!(parse_range(ignored, 100), Whole, "{ignored:?}");
    }
    assert_eq!(parse_range("bytes=0-0", 0), Whole);
    assert_eq!(parse_range("bytes=-5", 0), Whole);
}

#[test]
fn etag_shape() {
    let info = FileInfo {
        stamp: FileStamp {
            size: 255,
            mtime_ns: 1_700_000_000_123_456_789,
            ino: 4096,
        },
        last_modified: UNIX_EPOCH,
        settled: true,
    };
    let etag = info.etag();
    assert_eq!(etag, "\"ff-17979cfe3d85cd15-1000\"");
    assert!(EntityTag::parse(&etag).is_some_and(|t| !t.is_weak()));
}

#[test]
fn content_types() {
    assert_eq!(
        content_type(Path::new("a.txt")),
        "text/plain; charset=UTF-8"
    );
    assert_eq!(
        content_type(Path::new("a.html")),
        "text/html; charset=UTF-8"
    );
    assert_eq!(content_type(Path::new("a.png")), "image/png");
    assert_eq!(content_type(Path::new("a")), "application/octet-stream");
}
