use super::*;
use crate::http1::Method;
use std::mem::MaybeUninit;

/// Lenient about bare LF, as httparse (the reference the tests compare with) is.
const LIMITS: HeadLimits = HeadLimits {
    max_header_size: 1024,
    max_request_line: 256,
    allow_bare_lf: true,
};

fn scan(s: &[u8]) -> Scan {
    scan_head(s, Progress::default(), LIMITS, &mut Parts::default())
}

fn status(s: &[u8]) -> u16 {
    match scan(s) {
        Scan::Error(st) => st,
        other => panic!(
            "expected an error for {:?}, got {other:?}",
            String::from_utf8_lossy(s)
        ),
    }
}

#[test]
fn complete_head_with_body_framing() {
    let mut parts = Parts::default();
    let buf = b"\r\nPOST /a/b?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    match scan_head(buf, Progress::default(), LIMITS, &mut parts) {
        Scan::Complete(h) => {
            assert_eq!(h.consumed, buf.len() - 5);
            assert_eq!(h.method, MethodKind::Post);
            assert_eq!(h.framing, Framing::Length(5));
            assert!(h.keep_alive);
            let t = &parts.head[h.target.0 as usize..h.target.1 as usize];
            assert_eq!(t, b"/a/b?x=1");
            assert_eq!(h.path_len, 4);
            assert_eq!(parts.headers.len(), 2);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn absolute_form_targets() {
    // (target, the origin-form target, path length, authority)
    let cases: &[(&str, &str, u32, &str)] = &[
        ("http://example.test/a/b?x=1", "/a/b?x=1", 4, "example.test"),
        ("HTTPS://h:8080/", "/", 1, "h:8080"),
        ("http://h", "/", 1, "h"),
        ("http://h?q=1", "/?q=1", 1, "h"),
        ("http://[::1]:80/p", "/p", 2, "[::1]:80"),
        ("hTtP://h/p?", "/p?", 2, "h"),
    ];
    for &(t, origin, path_len, authority) in cases {
        let mut parts = Parts::default();
        let buf = format!("GET {t} HTTP/1.1\r\nHost: other\r\n\r\n");
        let Scan::Complete(h) = scan_head(buf.as_bytes(), Progress::default(), LIMITS, &mut parts)
        else {
            panic!("{t} refused");
        };
        let at = |(a, b): Span| &parts.head[a as usize..b as usize];
        assert_eq!(at(h.target), origin.as_bytes(), "{t}");
        assert_eq!(h.path_len, path_len, "{t}");
        assert_eq!(at(h.authority), authority.as_bytes(), "{t}");
        // The fields' spans still point into the head as it arrived.
        assert_eq!(at(parts.headers[0].1), b"other");
    }
    // Origin-form and other targets are left alone.
    for t in ["/a?b", "*", "ftp://h/x", "http:/h/x", "example.test:80"] {
        let mut parts = Parts::default();
        let buf = format!("OPTIONS {t} HTTP/1.1\r\nHost: h\r\n\r\n");
        let Scan::Complete(h) = scan_head(buf.as_bytes(), Progress::default(), LIMITS, &mut parts)
        else {
            panic!("{t} refused");
        };
        assert_eq!(
            &parts.head[h.target.0 as usize..h.target.1 as usize],
            t.as_bytes()
        );
        assert_eq!(h.authority, (0, 0), "{t}");
    }
    // An http(s) URI without a host, or with userinfo, is refused (RFC 9110 §4.2.1, §4.2.4).
    for t in ["http:///x", "https://?q", "http://user@h/x", "http://u:p@h"] {
        assert_eq!(
            status(format!("GET {t} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes()),
            400,
            "{t}"
        );
    }
}

#[test]
fn partial_heads_resume_search() {
    let mut parts = Parts::default();
    let full = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    let mut progress = Progress::default();
    for cut in 1..full.len() {
        match scan_head(&full[..cut], progress, LIMITS, &mut parts) {
            Scan::Partial(p) => {
                assert_eq!(p.searched(), cut);
                // The request line is judged once, when complete.
                assert_eq!(p.line_ok(), cut >= 16, "cut {cut}");
                progress = p;
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
    assert!(matches!(
        scan_head(full, progress, LIMITS, &mut parts),
        Scan::Complete(_)
    ));
    // LF-only line endings are accepted too.
    assert!(matches!(
        scan(b"GET / HTTP/1.1\nHost: h\n\n"),
        Scan::Complete(_)
    ));
}

#[test]
fn keep_alive_rules() {
    let ka = |s: &[u8]| match scan(s) {
        Scan::Complete(h) => h.keep_alive,
        other => panic!("{other:?}"),
    };
    assert!(ka(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n"
    ));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: te, close\r\n\r\n"
    ));
    assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(ka(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
}

#[test]
fn framing_errors() {
    assert_eq!(status(b"GARBAGE\r\n\r\n"), 400);
    assert_eq!(status(b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), 400, "missing Host");
    assert_eq!(status(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
    assert_eq!(
        status(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
        400
    );
    assert_eq!(
        status(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"),
        400
    );
    assert_eq!(
        status(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\n"),
        400
    );
    assert_eq!(
        status(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -3\r\n\r\n"),
        400
    );
    assert_eq!(
        status(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n"),
        400
    );
    assert_eq!(
        status(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"),
        400
    );
    assert_eq!(
        status(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
        400
    );
    assert_eq!(
        status(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  folded\r\n\r\n"),
        400,
        "obs-fold"
    );
    assert_eq!(
        status(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n"),
        400,
        "NUL"
    );
    assert_eq!(
        status(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n"),
        400,
        "bare CR"
    );
    assert_eq!(status(b"GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 400);
    // Identical duplicates are one value.
    assert!(matches!(
        scan(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\n"),
        Scan::Complete(Head {
            framing: Framing::Length(3),
            ..
        })
    ));
}

#[test]
fn size_limits() {
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(300));
    assert_eq!(status(long_target.as_bytes()), 414);
    let unfinished_line = format!("GET /{}", "a".repeat(300));
    assert_eq!(status(unfinished_line.as_bytes()), 414);
    // A target exactly at the limit is fine however much of its line has arrived.
    let at_limit = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(255));
    for cut in 1..at_limit.len() {
        assert!(
            matches!(scan(&at_limit.as_bytes()[..cut]), Scan::Partial { .. }),
            "cut {cut}"
        );
    }
    assert!(matches!(scan(at_limit.as_bytes()), Scan::Complete(_)));
    // A "method" longer than MAX_METHOD is refused however it arrives.
    let long_method = format!("{} / HTTP/1.1\r\nHost: h\r\n\r\n", "A".repeat(65));
    assert_eq!(status(long_method.as_bytes()), 400);
    assert_eq!(status(&long_method.as_bytes()[..66]), 400);
    assert_eq!(status("A".repeat(300).as_bytes()), 400);
    let ok_method = format!("{} / HTTP/1.1\r\nHost: h\r\n\r\n", "A".repeat(64));
    assert!(matches!(scan(ok_method.as_bytes()), Scan::Complete(_)));
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
        "b".repeat(2000)
    );
    assert_eq!(status(big_header.as_bytes()), 431);
    let unfinished_header = format!("GET / HTTP/1.1\r\nHost: h\r\nX: {}", "b".repeat(2000));
    assert_eq!(status(unfinished_header.as_bytes()), 431);
    let mut many = String::from("GET / HTTP/1.1\r\nHost: h\r\n");
    for i in 0..MAX_HEADERS {
        many.push_str(&format!("X{i}: 1\r\n"));
    }
    many.push_str("\r\n");
    let limits = HeadLimits {
        max_header_size: 64 * 1024,
        max_request_line: 256,
        allow_bare_lf: true,
    };
    assert!(matches!(
        scan_head(
            many.as_bytes(),
            Progress::default(),
            limits,
            &mut Parts::default()
        ),
        Scan::Error(431)
    ));
}

#[test]
fn content_length_values() {
    assert_eq!(parse_content_length(b"0"), Some(0));
    assert_eq!(parse_content_length(b" 12 "), Some(12));
    assert_eq!(parse_content_length(b"12, 12"), Some(12));
    assert_eq!(parse_content_length(b"+12"), None);
    assert_eq!(parse_content_length(b""), None);
    assert_eq!(parse_content_length(b"1 2"), None);
    assert_eq!(
        parse_content_length(b"18446744073709551615"),
        Some(u64::MAX)
    );
    assert_eq!(parse_content_length(b"00000000000000000000012"), Some(12));
    assert_eq!(parse_content_length(b"18446744073709551616"), None);
}

/// The parser before the request line was parsed here: httparse for the whole head. Kept as the
/// reference the current one must agree with on every input.
fn reference_parse(buf: &[u8], limits: HeadLimits, parts: &mut Parts) -> Result<Option<Head>, u16> {
    let mut storage: [MaybeUninit<httparse::Header<'_>>; MAX_HEADERS] =
        [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let status = httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut req,
        buf,
        &mut storage,
    );
    let head_len = match status {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(431),
        Err(_) => return Err(400),
    };
    if head_len > limits.max_header_size {
        return Err(431);
    }
    let head = &buf[..head_len];
    let base = head.as_ptr() as usize;
    let span = |s: &[u8]| -> Span {
        let a = (s.as_ptr() as usize - base) as u32;
        (a, a + s.len() as u32)
    };
    let method_s = req.method.ok_or(400u16)?;
    if method_s.len() > MAX_METHOD {
        return Err(400);
    }
    let path = req.path.ok_or(400u16)?;
    if path.len() > limits.max_request_line {
        return Err(414);
    }
    if path.is_empty() {
        return Err(400);
    }
    let version = match req.version {
        Some(1) => Version::Http11,
        Some(0) => Version::Http10,
        _ => return Err(505),
    };
    let method = Method::parse(method_s).ok_or(400u16)?;
    parts.head.clear();
    parts.head.extend_from_slice(head);
    parts.headers.clear();
    // Absolute-form targets: the same rewriting (tested on its own in `absolute_form_targets`).
    let mut target = span(path.as_bytes());
    let mut path_len = path.bytes().position(|b| b == b'?').unwrap_or(path.len()) as u32;
    let mut authority = (0, 0);
    if !path.starts_with('/') {
        let at = (target.0 as usize, target.1 as usize);
        if let Some(t) = absolute_target(&mut parts.head, at).map_err(|_| 400u16)? {
            (target, path_len, authority) = t;
        }
    }

    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut has_te = false;
    let mut hosts = 0;
    let mut conn_close = false;
    let mut conn_keep_alive = false;
    let mut expect_continue = false;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        let value = h.value;
        // RFC 9110 §5.5: CR, LF and NUL are never valid in a field value; httparse refuses
        // them (pinned by `framing_errors`), so values need no second scan here.
        parts.headers.push((span(name), span(value)));
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => {
                // The grammar itself is tested in `host.rs`: here, its full (scalar) form.
                if !crate::http1::host::valid_authority(value) {
                    return Err(400);
                }
                hosts += 1;
            }
            6 if name.eq_ignore_ascii_case(b"expect")
                && value.trim_ascii().eq_ignore_ascii_case(b"100-continue") =>
            {
                expect_continue = true;
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                conn_close |= token_list_contains(value, "close");
                conn_keep_alive |= token_list_contains(value, "keep-alive");
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                let n = parse_content_length(value).ok_or(400u16)?;
                if content_length.is_some_and(|m| m != n) {
                    return Err(400);
                }
                content_length = Some(n);
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                // Only `chunked` is supported, once (RFC 9112 §6.1); anything else is refused
                // rather than guessed at (request smuggling).
                if has_te || !value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                    return Err(400);
                }
                has_te = true;
                chunked = true;
            }
            _ => {}
        }
    }
    if version == Version::Http11 && hosts != 1 {
        return Err(400);
    }
    if hosts > 1 {
        return Err(400);
    }
    if has_te && (content_length.is_some() || version == Version::Http10) {
        return Err(400);
    }
    let framing = if chunked {
        Framing::Chunked
    } else {
        match content_length {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        }
    };
    let keep_alive = match version {
        Version::Http11 => !conn_close,
        Version::Http10 => conn_keep_alive && !conn_close,
    };
    Ok(Some(Head {
        consumed: head_len,
        method: method.kind(),
        method_span: span(method_s.as_bytes()),
        target,
        path_len,
        authority,
        version,
        framing,
        expect_continue: expect_continue && version == Version::Http11,
        keep_alive,
    }))
}

/// Compares [`parse`] with [`reference_parse`] on `buf` (as `scan_head` calls it: leading blank
/// lines already skipped), answer and filled parts alike.
fn same_as_reference(buf: &[u8], limits: HeadLimits) {
    let skip = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let buf = &buf[skip..];
    let (mut new_parts, mut old_parts) = (Parts::default(), Parts::default());
    let new = match parse(buf, 0, limits, &mut new_parts) {
        Scan::Complete(head) => Ok(Some(head)),
        Scan::Partial { .. } => Ok(None),
        Scan::Error(status) => Err(status),
    };
    let old = reference_parse(buf, limits, &mut old_parts);
    assert_eq!(
        format!("{new:?}"),
        format!("{old:?}"),
        "{:?}",
        String::from_utf8_lossy(buf)
    );
    if let Ok(Some(_)) = new {
        assert_eq!(new_parts.head, old_parts.head);
        assert_eq!(new_parts.headers, old_parts.headers);
    }
}

#[test]
fn agrees_with_httparse_on_generated_heads() {
    const PIECES: &[&[u8]] = &[
        b"GET",
        b"POST",
        b"HEAD",
        b"G(T",
        b"get",
        b" ",
        b"  ",
        b"\t",
        b"/",
        b"/a/b",
        b"?",
        b"?x=1",
        b"*",
        b"http://h",
        b"HTTPS://",
        b"@",
        b"\xc3\xa9",
        b"\xff",
        b"\xc3",
        b"\x7f",
        b"\x00",
        b"HTTP/1.1",
        b"HTTP/1.0",
        b"HTTP/1.",
        b"HTTP/2.0",
        b"http/1.1",
        b"\r\n",
        b"\n",
        b"\r",
        b"Host: h",
        b"Host:",
        b"host: a",
        b"Content-Length: 3",
        b"Transfer-Encoding: chunked",
        b"Connection: close",
        b"Expect: 100-continue",
        b"X: a b",
        b":",
        b"X",
        b" x",
        b"GET / HTTP/1.1\r\n",
        b"POST /p?q HTTP/1.0\r\n",
        b"Host: h\r\n",
        b"\r\n\r\n",
        b"aaaaaaaaaaaaaaaa",
    ];
    let limits = [
        LIMITS,
        HeadLimits {
            max_header_size: 40,
            max_request_line: 6,
            allow_bare_lf: true,
        },
    ];
    // xorshift64: deterministic, no dependency.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let mut buf = Vec::new();
        for _ in 0..1 + next() % 14 {
            buf.extend_from_slice(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        for cut in 0..=buf.len() {
            for l in limits {
                same_as_reference(&buf[..cut], l);
            }
        }
    }
}

#[test]
fn agrees_with_httparse_on_every_single_byte_change() {
    let base = b"PUT /a?b=c HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n";
    for at in 0..base.len() {
        for b in 0..=255u8 {
            let mut buf = base.to_vec();
            buf[at] = b;
            same_as_reference(&buf, LIMITS);
            buf.insert(at, b);
            same_as_reference(&buf, LIMITS);
        }
    }
    let mut many = String::from("GET / HTTP/1.1\r\nHost: h\r\n");
    for i in 0..MAX_HEADERS + 1 {
        many.push_str(&format!("X{i}: 1\r\n"));
        let mut done = many.clone().into_bytes();
        same_as_reference(&done, LIMITS);
        done.extend_from_slice(b"\r\n");
        let big = HeadLimits {
            max_header_size: 64 * 1024,
            max_request_line: 256,
            allow_bare_lf: true,
        };
        same_as_reference(&done, big);
        done.insert(done.len() - 4, 0);
        same_as_reference(&done, big);
    }
}

/// A head that arrives in two reads, split at any byte, gets the answer it gets whole: the
/// same head, or the same refusal with the same status (issue #12 item 5).
#[test]
fn split_reads_agree_with_whole() {
    let heads: &[&[u8]] = &[
        b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
        b"\r\n\nPOST /a?b=c HTTP/1.0\nHost: h\nContent-Length: 2\n\nhi",
        "GET /caf\u{e9}?q=\u{e9} HTTP/1.1\r\nHost: h\r\n\r\n".as_bytes(),
        b"OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.2\r\nHost: h\r\n\r\n",
        b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /a\x7fb HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\rX\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: \x00\r\n\r\n",
        b"\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    ];
    // The issue's case: a bad request line, then a head past the limit.
    let mut long_bad_line = b"GET / HTTP/1.1\rX".to_vec();
    long_bad_line.extend(std::iter::repeat_n(b'a', 1500));
    long_bad_line.extend_from_slice(b"\r\n\r\n");
    // A method or target over its limit, in a head also over its limit, then bad bytes.
    let long_method = format!(
        "{} / HTTP/1.1\r\nX: {}\r\n\r\n",
        "M".repeat(70),
        "x".repeat(1100)
    );
    let long_target = format!("GET /{}\x01 HTTP/1.1\r\n\r\n", "t".repeat(1100));
    let bad_after_target = format!(
        "GET /{}\x01{} HTTP/1.1\r\n\r\n",
        "t".repeat(100),
        "t".repeat(300)
    );
    let big_fields = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nX: \x00{}\r\n\r\n",
        "x".repeat(1100)
    );
    let owned = [
        long_bad_line,
        long_method.into_bytes(),
        long_target.into_bytes(),
        bad_after_target.into_bytes(),
        big_fields.into_bytes(),
    ];
    let all = heads.iter().copied().chain(owned.iter().map(Vec::as_slice));
    let limits = [
        LIMITS,
        HeadLimits {
            max_header_size: 40,
            max_request_line: 6,
            allow_bare_lf: true,
        },
        STRICT,
    ];
    for head in all {
        for limits in limits {
            let whole = format!(
                "{:?}",
                scan_head(head, Progress::default(), limits, &mut Parts::default())
            );
            for cut in 0..head.len() {
                let mut parts = Parts::default();
                let first = scan_head(&head[..cut], Progress::default(), limits, &mut parts);
                let answer = match first {
                    Scan::Partial(p) => scan_head(head, p, limits, &mut parts),
                    other => other,
                };
                assert_eq!(
                    format!("{answer:?}"),
                    whole,
                    "{:?} cut at {cut}",
                    String::from_utf8_lossy(&head[..head.len().min(80)])
                );
            }
        }
        // And byte by byte, as the fuzz target feeds it (under its own limits).
        let cuts: Vec<usize> = (0..head.len()).collect();
        crate::http1::__fuzz::scan_head_split(head, &cuts);
    }
}

/// The server's default: a bare LF in a head is refused.
const STRICT: HeadLimits = HeadLimits {
    allow_bare_lf: false,
    ..LIMITS
};

/// Issue #12 item 6: a LF without its CR anywhere in a head (request line, fields, the blank
/// line, blank lines before it) is 400 unless allowed; CRLF heads are unaffected.
#[test]
fn bare_lf_is_refused_unless_allowed() {
    let bare: &[&[u8]] = &[
        b"GET / HTTP/1.1\nHost: t\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\nX: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\n\n",
        b"GET / HTTP/1.1\r\nHost: t\n\n",
        b"\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
        b"\r\n\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
        b"\r\rGET / HTTP/1.1\r\nHost: t\r\n\r\n",
        b"\rGET / HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET / HTTP/1.0\n\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX: \xff\nY: 1\r\n\r\n",
    ];
    for &head in bare {
        let strict = scan_head(head, Progress::default(), STRICT, &mut Parts::default());
        assert!(
            matches!(strict, Scan::Error(400)),
            "{:?}: {strict:?}",
            String::from_utf8_lossy(head)
        );
    }
    for &head in &bare[..bare.len() - 1] {
        let lenient = scan_head(head, Progress::default(), LIMITS, &mut Parts::default());
        assert!(
            matches!(lenient, Scan::Complete(_)),
            "{:?}: {lenient:?}",
            String::from_utf8_lossy(head)
        );
    }
    for ok in [
        &b"\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: t\r\nX: \xff\r\n\r\n",
    ] {
        let strict = scan_head(ok, Progress::default(), STRICT, &mut Parts::default());
        assert!(matches!(strict, Scan::Complete(_)), "{strict:?}");
    }
    // A CR that may still get its LF is not refused yet.
    for partial in [&b"\r"[..], b"\r\n\r", b"GET / HTTP/1.1\r"] {
        let strict = scan_head(partial, Progress::default(), STRICT, &mut Parts::default());
        assert!(matches!(strict, Scan::Partial(_)), "{strict:?}");
    }
}
