//! Request-head parsing (httparse) and the RFC 9112 framing checks.
//!
//! ### Rescanning
//!
//! A head that arrives in pieces is not re-parsed from the start on every piece: the caller
//! keeps the offset already searched for the blank line that ends a head, and httparse runs
//! once, on a complete head. A slow client costs O(n), never O(n²).

use std::mem::MaybeUninit;

use super::request::{Method, Parts, Span, Version};

/// Most header fields a request may have (more: 431).
pub(crate) const MAX_HEADERS: usize = 100;

/// How the request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// What the parser learned from a complete head, besides the parts it filled.
#[derive(Debug)]
pub(crate) struct Head {
    /// Bytes of the buffer the head used (leading blank lines included).
    pub(crate) consumed: usize,
    pub(crate) method: Method,
    pub(crate) method_span: Span,
    pub(crate) target: Span,
    pub(crate) path_len: u32,
    pub(crate) version: Version,
    pub(crate) framing: Framing,
    pub(crate) expect_continue: bool,
    /// The client asked to keep the connection (HTTP/1.1 default, 1.0 with keep-alive).
    pub(crate) keep_alive: bool,
}

/// The outcome of looking at the buffer for a head.
#[derive(Debug)]
pub(crate) enum Scan {
    /// No complete head yet; `searched` bytes need not be searched again.
    Partial { searched: usize },
    /// A complete, valid head.
    Complete(Head),
    /// Bad input: answer with this status and close.
    Error(u16),
}

/// Limits that apply to a head.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadLimits {
    pub(crate) max_header_size: usize,
    pub(crate) max_request_line: usize,
}

/// Index just past the blank line that ends a head, searching from `from`.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        let nl = buf[i..].iter().position(|&b| b == b'\n')? + i;
        // "\n\n" or "\n\r\n" ends the head.
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            Some(_) => i = nl + 1,
            None => return None,
        }
    }
    None
}

/// Looks for a complete head in `buf` (searching from `searched`) and parses it into `parts`.
pub(crate) fn scan_head(
    buf: &[u8],
    searched: usize,
    limits: HeadLimits,
    parts: &mut Parts,
) -> Scan {
    // RFC 9112 §2.2: ignore blank lines before the request line (left after a body by some
    // clients).
    let skip = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let body = &buf[skip..];
    if body.is_empty() {
        return Scan::Partial { searched: 0 };
    }
    // A fresh head usually arrives whole: one httparse pass finds and parses it. Only when it
    // is incomplete does the rescan bookkeeping start: later reads search just the new bytes
    // for the blank line, and httparse runs again only once that is there.
    let end = if searched == 0 {
        match parse(body, limits, parts) {
            Ok(Some(mut head)) => {
                head.consumed += skip;
                return Scan::Complete(head);
            }
            // httparse can refuse an unfinished head early; decide it only once the head is
            // complete (or over a limit), as for a head that arrives in pieces, so the answer
            // does not depend on how the bytes were split into reads.
            Err(status) => match find_head_end(body, 0) {
                Some(_) => return Scan::Error(status),
                None => None,
            },
            Ok(None) => None,
        }
    } else {
        // Resume where the last search stopped, backing up so a terminator split across
        // reads is still seen.
        find_head_end(body, searched.saturating_sub(skip + 2))
    };
    let Some(end) = end else {
        if body.len() > MAX_METHOD {
            if let Some(status) = early_refusal(body, limits.max_request_line) {
                return Scan::Error(status);
            }
        }
        if body.len() > limits.max_header_size {
            return Scan::Error(431);
        }
        return Scan::Partial {
            searched: buf.len(),
        };
    };
    if end > limits.max_header_size {
        return Scan::Error(431);
    }
    match parse(&body[..end], limits, parts) {
        Ok(Some(mut head)) => {
            head.consumed += skip;
            Scan::Complete(head)
        }
        // The blank line was found, so httparse sees the whole head: not being done is bad input.
        Ok(None) => Scan::Error(400),
        Err(status) => Scan::Error(status),
    }
}

/// Longest method accepted (a longer "method" is garbage: 400).
pub(crate) const MAX_METHOD: usize = 64;

/// Refuses a head still arriving whose request line is already bad: a method longer than
/// [`MAX_METHOD`] (400) or a target longer than `max_target` (414). Both only grow as bytes
/// arrive, so a refusal never depends on how the bytes were split into reads. Only the first
/// line, and at most `MAX_METHOD + max_target + 2` bytes of it, is looked at.
fn early_refusal(body: &[u8], max_target: usize) -> Option<u16> {
    let window = &body[..body.len().min(MAX_METHOD + max_target + 2)];
    let line = match window.iter().position(|&b| b == b'\n') {
        Some(i) => &window[..i],
        None => window,
    };
    let Some(sp) = line.iter().position(|&b| b == b' ') else {
        return (line.len() > MAX_METHOD).then_some(400);
    };
    if sp > MAX_METHOD {
        return Some(400);
    }
    let rest = &line[sp + 1..];
    let target = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    (target > max_target).then_some(414)
}

fn token_list_contains(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

fn parse_content_length(value: &[u8]) -> Option<u64> {
    // "5" or a list of identical values "5, 5" (RFC 9110 §8.6); digits only, no sign.
    let mut found: Option<u64> = None;
    for part in value.split(|&b| b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Every value that fits in a u64 is a length (then 413 if over max_body_size); only
        // one that overflows is unframeable.
        let n = part.iter().try_fold(0u64, |acc, &d| {
            acc.checked_mul(10)?.checked_add((d - b'0') as u64)
        })?;
        match found {
            Some(m) if m != n => return None,
            _ => found = Some(n),
        }
    }
    found
}

/// Parses the head at the start of `buf` (which may hold more after it). `Ok(None)`: the head
/// is not complete yet.
fn parse(buf: &[u8], limits: HeadLimits, parts: &mut Parts) -> Result<Option<Head>, u16> {
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
    let method = Method::parse(method_s);
    parts.head.clear();
    parts.head.extend_from_slice(head);
    parts.headers.clear();

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
            4 if name.eq_ignore_ascii_case(b"host") => hosts += 1,
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
    let path_len = path.bytes().position(|b| b == b'?').unwrap_or(path.len()) as u32;
    Ok(Some(Head {
        consumed: head_len,
        method,
        method_span: span(method_s.as_bytes()),
        target: span(path.as_bytes()),
        path_len,
        version,
        framing,
        expect_continue: expect_continue && version == Version::Http11,
        keep_alive,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_header_size: 1024,
        max_request_line: 256,
    };

    fn scan(s: &[u8]) -> Scan {
        scan_head(s, 0, LIMITS, &mut Parts::default())
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
        match scan_head(buf, 0, LIMITS, &mut parts) {
            Scan::Complete(h) => {
                assert_eq!(h.consumed, buf.len() - 5);
                assert_eq!(h.method, Method::Post);
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
    fn partial_heads_resume_search() {
        let mut parts = Parts::default();
        let full = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        let mut searched = 0;
        for cut in 1..full.len() {
            match scan_head(&full[..cut], searched, LIMITS, &mut parts) {
                Scan::Partial { searched: s } => searched = s,
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        assert!(matches!(
            scan_head(full, searched, LIMITS, &mut parts),
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
        };
        assert!(matches!(
            scan_head(many.as_bytes(), 0, limits, &mut Parts::default()),
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
}
