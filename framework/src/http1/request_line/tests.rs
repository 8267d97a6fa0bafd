use super::*;
use crate::http1::Method;

/// As httparse reads it (a bare LF allowed); `strict` is the server's default.
fn parse(s: &[u8]) -> Result<Option<RequestLine>, BadLine> {
    parse_request_line(s, true)
}

#[test]
fn strict_refuses_a_bare_lf() {
    assert_eq!(parse_request_line(b"GET / HTTP/1.1\n", false), Err(BadLine));
    assert!(matches!(
        parse_request_line(b"GET / HTTP/1.1\r\n", false),
        Ok(Some(_))
    ));
    assert_eq!(parse_request_line(b"GET / HTTP/1.1\r", false), Ok(None));
}

fn accepted(s: &[u8]) -> RequestLine {
    match parse(s) {
        Ok(Some(line)) => line,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(s)),
    }
}

/// Every proper prefix of `s` needs more bytes, and `s` followed by anything parses the same.
fn check_prefixes_and_suffixes(s: &[u8], whole: Result<Option<RequestLine>, BadLine>) {
    for cut in 0..s.len() {
        assert_eq!(
            parse(&s[..cut]),
            Ok(None),
            "{:?} cut at {cut}",
            String::from_utf8_lossy(s)
        );
    }
    for tail in [&b""[..], b"Host: h\r\n\r\n", b"\r\n", b" ", b"\x00\xff"] {
        let mut longer = s.to_vec();
        longer.extend_from_slice(tail);
        assert_eq!(
            parse(&longer),
            whole,
            "{:?}",
            String::from_utf8_lossy(&longer)
        );
    }
}

#[test]
fn accepted_forms() {
    let cases: &[(&[u8], Method, &str, &str, Version)] = &[
        (
            b"GET / HTTP/1.1\r\n",
            Method::Get,
            "GET",
            "/",
            Version::Http11,
        ),
        (
            b"GET / HTTP/1.0\n",
            Method::Get,
            "GET",
            "/",
            Version::Http10,
        ),
        (
            b"POST /a/b?x=1&y=2 HTTP/1.1\r\n",
            Method::Post,
            "POST",
            "/a/b?x=1&y=2",
            Version::Http11,
        ),
        (
            b"HEAD /plaintext HTTP/1.1\r\n",
            Method::Head,
            "HEAD",
            "/plaintext",
            Version::Http11,
        ),
        (
            b"PUT * HTTP/1.1\r\n",
            Method::Put,
            "PUT",
            "*",
            Version::Http11,
        ),
        (
            b"DELETE /x HTTP/1.1\r\n",
            Method::Delete,
            "DELETE",
            "/x",
            Version::Http11,
        ),
        (
            b"PATCH /x HTTP/1.1\r\n",
            Method::Patch,
            "PATCH",
            "/x",
            Version::Http11,
        ),
        (
            b"OPTIONS * HTTP/1.1\r\n",
            Method::Options,
            "OPTIONS",
            "*",
            Version::Http11,
        ),
        (
            b"CONNECT h:443 HTTP/1.1\r\n",
            Method::Connect,
            "CONNECT",
            "h:443",
            Version::Http11,
        ),
        (
            b"TRACE / HTTP/1.1\r\n",
            Method::Trace,
            "TRACE",
            "/",
            Version::Http11,
        ),
        // Methods are case-sensitive: `get` is some other method.
        (
            b"get / HTTP/1.1\r\n",
            Method::parse("get").unwrap(),
            "get",
            "/",
            Version::Http11,
        ),
        (
            b"GETS / HTTP/1.1\r\n",
            Method::parse("GETS").unwrap(),
            "GETS",
            "/",
            Version::Http11,
        ),
        (
            b"G / HTTP/1.1\r\n",
            Method::parse("G").unwrap(),
            "G",
            "/",
            Version::Http11,
        ),
        (
            b"!#$%&'*+-.^_`|~09azAZ / HTTP/1.1\r\n",
            Method::parse("!#$%&'*+-.^_`|~09azAZ").unwrap(),
            "!#$%&'*+-.^_`|~09azAZ",
            "/",
            Version::Http11,
        ),
        // Every visible ASCII byte may be in a target; UTF-8 too.
        (
            b"GET /!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~ HTTP/1.1\r\n",
            Method::Get,
            "GET",
            "/!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~",
            Version::Http11,
        ),
        (
            "GET /caf\u{e9}/\u{1f600}?q=\u{e9} HTTP/1.1\r\n".as_bytes(),
            Method::Get,
            "GET",
            "/caf\u{e9}/\u{1f600}?q=\u{e9}",
            Version::Http11,
        ),
        (
            b"GET http://example.com:80/a?b HTTP/1.1\r\n",
            Method::Get,
            "GET",
            "http://example.com:80/a?b",
            Version::Http11,
        ),
        (
            b"GET ?? HTTP/1.1\r\n",
            Method::Get,
            "GET",
            "??",
            Version::Http11,
        ),
    ];
    for &(s, method, method_str, target, version) in cases {
        let line = accepted(s);
        assert_eq!(line.method, method.kind(), "{s:?}");
        assert_eq!(&s[..line.method_end], method_str.as_bytes());
        assert_eq!(&s[line.target.0..line.target.1], target.as_bytes());
        let path = target.split('?').next().unwrap_or("");
        assert_eq!(line.path_len, path.len(), "{target}");
        assert_eq!(line.version, version);
        assert_eq!(line.len, s.len());
        check_prefixes_and_suffixes(s, Ok(Some(line)));
    }
}

#[test]
fn long_targets_cross_the_word_at_a_time_scan() {
    // Targets of every length up to 40, with `?`, a non-ASCII char or a bad byte at every
    // position: the 8-byte fast path must agree with a byte-at-a-time reading.
    for len in 1..40 {
        for at in 0..len {
            for (mark, ok, is_query) in [
                (&b"?"[..], true, true),
                ("\u{e9}".as_bytes(), true, false),
                (b"\x7f", false, false),
                (b"\x20", false, false),
                (b"\x00", false, false),
                (b"\x80", false, false),
            ] {
                let mut target = vec![b'a'; len];
                target.splice(at..at + 1, mark.iter().copied());
                let mut s = b"GET ".to_vec();
                s.extend_from_slice(&target);
                s.extend_from_slice(b" HTTP/1.1\r\n");
                let got = parse(&s);
                if ok {
                    let line = got.unwrap_or_else(|e| panic!("{s:?}: {e:?}")).unwrap();
                    assert_eq!(&s[line.target.0..line.target.1], &target[..]);
                    assert_eq!(line.path_len, if is_query { at } else { target.len() });
                } else {
                    // (A space ends the target early: what follows is no version.)
                    assert_eq!(got, Err(BadLine), "{s:?}");
                }
            }
        }
    }
}

#[test]
fn refused_forms() {
    let cases: &[&[u8]] = &[
        b" / HTTP/1.1\r\n",                // no method
        b"G(T / HTTP/1.1\r\n",             // not a token
        b"GET\t/ HTTP/1.1\r\n",            // tab is no separator
        b"GET  / HTTP/1.1\r\n",            // two spaces
        b"GET / HTTP/1.1 \r\n",            // trailing space
        b"GET /a b HTTP/1.1\r\n",          // space in the target
        b"GET \x00 HTTP/1.1\r\n",          // control byte
        b"GET /\x7f HTTP/1.1\r\n",         // DEL
        b"GET /\x1f HTTP/1.1\r\n",         // control byte
        b"GET /\xff HTTP/1.1\r\n",         // not UTF-8
        b"GET /\xc3 HTTP/1.1\r\n",         // truncated UTF-8
        b"GET /\xc3\x28 HTTP/1.1\r\n",     // bad continuation
        b"GET /\xed\xa0\x80 HTTP/1.1\r\n", // surrogate
        b"GET /\r\n",                      // no version
        b"GET /\n",                        // no version
        b"GET / \r\n",                     // empty version
        b"GET / HTTP/2.0\r\n",
        b"GET / HTTP/1.2\r\n",
        b"GET / HTTP/0.9\r\n",
        b"GET / http/1.1\r\n",
        b"GET / HTTP/1.10\r\n",
        b"GET / HTTP/1.1\rX", // CR not followed by LF
        b"GET / HTTP/1.1\r\r\n",
        b"GET / HTTP/1.1X\r\n",
        b"\r\nGET / HTTP/1.1\r\n", // blank lines are the caller's to skip
        b"GET\r\n",
        b"\xc3\xa9 / HTTP/1.1\r\n", // non-ASCII method
    ];
    for &s in cases {
        assert_eq!(parse(s), Err(BadLine), "{:?}", String::from_utf8_lossy(s));
        // Once refused, refused whatever follows; before, never a complete line.
        let mut refused = false;
        for cut in 0..=s.len() {
            match parse(&s[..cut]) {
                Err(BadLine) => refused = true,
                Ok(None) => assert!(!refused, "{s:?}: refused at a shorter cut, not at {cut}"),
                Ok(Some(line)) => panic!("{s:?} cut at {cut}: {line:?}"),
            }
        }
    }
}

/// Refused exactly when a byte makes every continuation invalid, never later.
#[test]
fn refused_as_soon_as_the_bytes_decide() {
    let cases: &[(&[u8], usize)] = &[
        (b" ", 1),
        (b"G(", 2),
        (b"GET  ", 5),
        (b"GET /\x7f", 6),
        (b"GET / X", 7),
        (b"GET / HTTP/2", 12),
        (b"GET / HTTP/1.2", 14),
        (b"GET / HTTP/1.1\rX", 16),
        (b"GET / HTTP/1.1X", 15),
    ];
    for &(s, refused_at) in cases {
        for cut in 0..=s.len() {
            let expect = if cut >= refused_at {
                Err(BadLine)
            } else {
                Ok(None)
            };
            assert_eq!(parse(&s[..cut]), expect, "{s:?} cut at {cut}");
        }
    }
    // An invalid UTF-8 target is only decided at the space that ends it (as httparse does):
    // until then the bytes might still be the start of a longer target.
    assert_eq!(parse(b"GET /\xff"), Ok(None));
    assert_eq!(parse(b"GET /\xff "), Err(BadLine));
}

/// The method table and the token table agree with RFC 9110's `tchar`.
#[test]
fn token_table() {
    let tchar = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for b in 0..=255u8 {
        assert_eq!(TOKEN[b as usize], tchar.contains(&b), "byte {b:#x}");
    }
}

/// The 8-byte test finds the first stop and the first `?` where a byte-at-a-time reading would.
#[test]
fn target_blocks() {
    let stop = |b: u8| !((0x21..=0x7E).contains(&b) || b >= 0x80);
    let first = |mask: u64| (mask != 0).then(|| mask.trailing_zeros() as usize / 8);
    let check = |block: [u8; 8]| {
        let (stops, queries) = target_block(u64::from_le_bytes(block));
        assert_eq!(
            first(stops),
            block.iter().position(|&b| stop(b)),
            "{block:?}"
        );
        assert_eq!(
            first(queries),
            block.iter().position(|&b| b == b'?'),
            "{block:?}"
        );
    };
    for a in 0..=255u8 {
        for at in 0..8 {
            let mut block = *b"abcdefgh";
            block[at] = a;
            check(block);
            // A second odd byte after the first: a borrow from one must not hide the other.
            for b in [0u8, 0x20, 0x21, b'?', 0x7E, 0x7F, 0x80, 0xFF] {
                for later in at + 1..8 {
                    let mut two = block;
                    two[later] = b;
                    check(two);
                    two.swap(at, later);
                    check(two);
                }
            }
        }
    }
}
