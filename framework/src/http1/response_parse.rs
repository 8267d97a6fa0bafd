//! The client side of the wire: reading an HTTP/1.x *response* head (for
//! [`httpclient`](crate::httpclient)), with the server's framing rules and strictness.
//!
//! The head is found and parsed once it is complete ([`scan_response_head`]); its fields are
//! read by httparse and its framing judged by the same helpers as a request's
//! (`parse_content_length`, `token_list_contains`). The body that follows is
//! `response_body.rs`'s: this module says how it is framed ([`BodyFraming`]), the
//! [`BodyDecoder`] there decodes it.
//!
//! ### Strictness
//!
//! Anything a client could only frame by guessing is refused, as the server refuses it in a
//! request: Content-Length beside Transfer-Encoding, differing Content-Length values, a
//! transfer coding other than `chunked`, chunked framing on HTTP/1.0, a bare LF as a line end,
//! obs-fold, control characters in a field, a status outside 100-599. A pooled connection
//! that read a response wrongly would hand the next request someone else's bytes, so a
//! refused response is an error and its connection is closed.
//!
//! ### Limits
//!
//! A head longer than its limit, or with more than [`MAX_HEADERS`] fields, is refused as too
//! large (a body's limit is [`BodyDecoder`]'s).
//!
//! ### Rescanning
//!
//! A head arriving in pieces is searched only in its new bytes (the caller keeps the offset
//! searched so far): O(n) for a slow server, never O(n²).

use std::borrow::Cow;

use super::method::Version;
use super::parse::{parse_content_length, token_list_contains};
use super::parts::MAX_HEADERS;
use super::response_body::{BodyDecoder, BodyError, BodyFraming};
use crate::httputil::HeaderMap;

/// A complete, valid response head.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    /// Bytes of the buffer the head used.
    pub(crate) consumed: usize,
    pub(crate) version: Version,
    pub(crate) status: u16,
    pub(crate) reason: String,
    pub(crate) headers: HeaderMap,
    pub(crate) framing: BodyFraming,
    /// Whether the connection may carry another request after this response's body.
    pub(crate) keep_alive: bool,
}

/// Why a response head was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// Longer than the head limit, or more than [`MAX_HEADERS`] fields.
    TooLarge,
    /// Not a valid, unambiguous HTTP/1.x response head.
    Bad(String),
}

/// The outcome of looking at the buffer for a response head.
#[derive(Debug)]
pub(crate) enum ResponseScan {
    /// No complete head yet; `searched` bytes need not be searched again.
    Partial {
        searched: usize,
    },
    Complete(ResponseHead),
    Error(HeadError),
}

fn bad(why: impl Into<String>) -> ResponseScan {
    ResponseScan::Error(HeadError::Bad(why.into()))
}

/// Looks for a complete response head at the start of `buf` (searching from `searched`) and
/// parses it. `head_request`: the request was HEAD, so no body follows whatever the fields say.
pub(crate) fn scan_response_head(
    buf: &[u8],
    searched: usize,
    max_size: usize,
    head_request: bool,
) -> ResponseScan {
    // One pass over the new bytes: every LF must end a CRLF, and CRLF CRLF ends the head.
    // Bytes past the limit are never looked at (a head ending there is too large anyway), so
    // the outcome does not depend on how the bytes were split into reads.
    let mut end = None;
    for i in searched..buf.len().min(max_size) {
        if buf[i] != b'\n' {
            continue;
        }
        if i == 0 || buf[i - 1] != b'\r' {
            return bad("bare LF in the response head");
        }
        if i >= 3 && buf[i - 3..i - 1] == *b"\r\n" {
            end = Some(i + 1);
            break;
        }
    }
    let Some(end) = end else {
        if buf.len() > max_size {
            return ResponseScan::Error(HeadError::TooLarge);
        }
        // Each LF is judged by the bytes before it: the next search starts at the new bytes.
        return ResponseScan::Partial {
            searched: buf.len(),
        };
    };
    parse_head(&buf[..end], head_request)
}

fn parse_head(head: &[u8], head_request: bool) -> ResponseScan {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut fields);
    match res.parse(head) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Ok(_) => return bad("malformed response head"),
        Err(httparse::Error::TooManyHeaders) => return ResponseScan::Error(HeadError::TooLarge),
        Err(e) => return bad(format!("malformed response head: {e}")),
    }
    let version = match res.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return bad("unsupported HTTP version"),
    };
    let status = match res.code {
        Some(c @ 100..=599) => c,
        _ => return bad("status code outside 100-599"),
    };
    let reason = res.reason.unwrap_or("").to_owned();

    let mut chunked = false;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut content_length: Option<u64> = None;
    let mut headers = HeaderMap::with_capacity(res.headers.len());
    for h in res.headers.iter() {
        let name = h.name;
        let value = h.value;
        // httparse refuses CR, LF and NUL in values; the other controls are refused here, as
        // the server refuses them in requests.
        if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return bad(format!("control character in the {name} field"));
        }
        if name.eq_ignore_ascii_case("content-length") {
            let Some(n) = parse_content_length(value) else {
                return bad("invalid Content-Length");
            };
            if content_length.is_some_and(|m| m != n) {
                return bad("differing Content-Length values");
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Only `chunked`, once: any other coding would hand the caller coded bytes, and
            // a stack of codings is a smuggling vector.
            if chunked || !value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return bad("unsupported Transfer-Encoding");
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            close |= token_list_contains(value, "close");
            keep_alive_token |= token_list_contains(value, "keep-alive");
        }
        headers.append(name, text(value));
    }
    if chunked && content_length.is_some() {
        return bad("both Content-Length and Transfer-Encoding");
    }
    if chunked && version == Version::Http10 {
        return bad("chunked Transfer-Encoding in an HTTP/1.0 response");
    }
    let framing = if head_request || status < 200 || status == 204 || status == 304 {
        BodyFraming::Empty
    } else if chunked {
        BodyFraming::Chunked
    } else {
        match content_length {
            Some(0) => BodyFraming::Empty,
            Some(n) => BodyFraming::Length(n),
            None => BodyFraming::UntilClose,
        }
    };
    let persistent = !close && (version == Version::Http11 || keep_alive_token);
    ResponseScan::Complete(ResponseHead {
        consumed: head.len(),
        version,
        status,
        reason,
        headers,
        framing,
        keep_alive: persistent && framing != BodyFraming::UntilClose,
    })
}

/// A field value as text: UTF-8 when it is, else ISO-8859-1 (each byte one character, as
/// Tornado decodes headers), so no byte is lost.
fn text(value: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(value) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(value.iter().map(|&b| b as char).collect()),
    }
}

/// Fuzzing: `data` as a response, its head scanned whole and as a growing buffer (the
/// client's rescan), its body decoded whole and in pieces; both ways must agree, and the
/// limits and consumed counts must hold. Reached through [`super::__fuzz::response`].
///
/// # Panics
///
/// If an invariant is broken.
pub(crate) fn fuzz(data: &[u8]) {
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let head_request = flags & 1 != 0;
    let max_size = if flags & 2 != 0 { 64 } else { 64 * 1024 };
    let whole = summary(scan_response_head(data, 0, max_size, head_request));
    // Growing by a few bytes at a time, as reads arrive, carrying `searched`.
    let mut searched = 0;
    let mut grown = None;
    let mut len = 0;
    for (i, &b) in data
        .iter()
        .enumerate()
        .take(64)
        .chain(std::iter::repeat_n((0, &7), data.len()))
    {
        len = (len + 1 + (b as usize + i) % 7).min(data.len());
        match scan_response_head(&data[..len], searched, max_size, head_request) {
            ResponseScan::Partial { searched: s } => {
                assert!(s <= len, "searched past the buffer");
                searched = s;
            }
            done => {
                grown = Some(summary(done));
                break;
            }
        }
        if len == data.len() {
            break;
        }
    }
    if let Some(grown) = grown {
        assert_eq!(
            whole.0, grown.0,
            "the outcome depends on how the head arrived"
        );
    } else {
        assert_eq!(whole.0, "partial", "a complete whole was partial in pieces");
    }
    let Some((consumed, framing)) = whole.1 else {
        return;
    };
    assert!(consumed <= data.len() && consumed <= max_size);
    let body = &data[consumed..];
    let decode = |cuts: &[usize]| -> (Vec<u8>, Result<bool, BodyError>) {
        let mut out = Vec::new();
        let mut d = match BodyDecoder::new(framing, 512, 256) {
            Ok(d) => d,
            Err(e) => return (out, Err(e)),
        };
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&body.len())) {
            let cut = cut.clamp(start, body.len());
            let piece = &body[start..cut];
            match d.feed(piece, &mut |b| out.extend_from_slice(b)) {
                Ok(n) if d.is_done() => {
                    assert!(n <= piece.len());
                    return (out, Ok(true));
                }
                Ok(n) => assert_eq!(n, piece.len(), "stopped early without being done"),
                Err(e) => return (out, Err(e)),
            }
            start = cut;
        }
        let end = d.end_of_input().map(|()| d.is_done());
        (out, end)
    };
    let whole_body = decode(&[]);
    assert!(whole_body.0.len() <= 512, "body limit not enforced");
    let bytes: Vec<usize> = (1..body.len().min(600)).collect();
    assert_eq!(
        whole_body,
        decode(&bytes),
        "the body depends on how it arrived"
    );
}

/// A comparable summary of a scan: its kind, and for a complete head what the body needs.
fn summary(scan: ResponseScan) -> (&'static str, Option<(usize, BodyFraming)>) {
    match scan {
        ResponseScan::Partial { .. } => ("partial", None),
        ResponseScan::Complete(h) => {
            assert!((100..=599).contains(&h.status));
            if h.framing == BodyFraming::UntilClose {
                assert!(
                    !h.keep_alive,
                    "a close-delimited body cannot keep the connection"
                );
            }
            ("complete", Some((h.consumed, h.framing)))
        }
        ResponseScan::Error(HeadError::TooLarge) => ("too large", None),
        ResponseScan::Error(HeadError::Bad(_)) => ("bad", None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(raw: &[u8]) -> ResponseScan {
        scan_response_head(raw, 0, 8192, false)
    }

    fn complete(raw: &[u8]) -> ResponseHead {
        match scan(raw) {
            ResponseScan::Complete(h) => h,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(raw)),
        }
    }

    fn refused(raw: &[u8]) -> String {
        match scan(raw) {
            ResponseScan::Error(HeadError::Bad(why)) => why,
            other => panic!(
                "{:?} was not refused: {other:?}",
                String::from_utf8_lossy(raw)
            ),
        }
    }

    #[test]
    fn reads_status_fields_and_framing() {
        let h = complete(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello");
        assert_eq!((h.status, h.reason.as_str()), (200, "OK"));
        assert_eq!(h.version, Version::Http11);
        assert_eq!(h.consumed, 46, "the head ends before the body");
        assert_eq!(h.framing, BodyFraming::Length(5));
        assert!(h.keep_alive);
        assert_eq!(h.headers.get("x-a"), Some("b"));

        let h = complete(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(h.framing, BodyFraming::Chunked);
        let h = complete(b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(h.framing, BodyFraming::UntilClose);
        assert!(!h.keep_alive, "a close-delimited body ends the connection");
        let h = complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n");
        assert!(!h.keep_alive);
        let h = complete(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n");
        assert!(!h.keep_alive, "1.0 closes unless it says keep-alive");
        let h = complete(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(h.keep_alive);
        let h = complete(b"HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n");
        assert_eq!(h.framing, BodyFraming::Length(7));
    }

    #[test]
    fn no_body_after_head_204_304_and_1xx() {
        for status in [
            "204 No Content",
            "304 Not Modified",
            "100 Continue",
            "103 Early",
        ] {
            let raw = format!("HTTP/1.1 {status}\r\nContent-Length: 10\r\n\r\n");
            assert_eq!(
                complete(raw.as_bytes()).framing,
                BodyFraming::Empty,
                "{status}"
            );
        }
        match scan_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", 0, 99, true) {
            ResponseScan::Complete(h) => {
                assert_eq!(h.framing, BodyFraming::Empty);
                assert!(h.keep_alive);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_ambiguous_framing() {
        let cases: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n",
            b"HTTP/1.1 099 Low\r\n\r\n",
            b"HTTP/1.1 600 High\r\n\r\n",
            b"HTTP/2.0 200 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"ICY 200 OK\r\n\r\n",
        ];
        for c in cases {
            refused(c);
        }
        assert!(refused(b"HTTP/1.1 200 OK\nX: a\r\n\r\n").contains("bare LF"));
        assert!(refused(b"HTTP/1.1 200 OK\r\nX: a\n\r\n").contains("bare LF"));
        // Refused before the head is complete: no waiting for a terminator that cannot come.
        assert!(refused(b"HTTP/1.1 200 OK\n").contains("bare LF"));
    }

    #[test]
    fn limits_and_partial_heads() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        // Every split point: partial until the last byte, and the rescan resumes correctly.
        for cut in 1..raw.len() {
            let searched = match scan_response_head(&raw[..cut], 0, 8192, false) {
                ResponseScan::Partial { searched } => searched,
                other => panic!("cut {cut}: {other:?}"),
            };
            match scan_response_head(raw, searched, 8192, false) {
                ResponseScan::Complete(h) => assert_eq!(h.consumed, raw.len()),
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        let big = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; 100]].concat();
        assert!(matches!(
            scan_response_head(&big, 0, 64, false),
            ResponseScan::Error(HeadError::TooLarge)
        ));
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert!(matches!(
            scan_response_head(&many, 0, 1 << 20, false),
            ResponseScan::Error(HeadError::TooLarge)
        ));
    }

    #[test]
    fn non_utf8_values_are_latin1() {
        let h = complete(b"HTTP/1.1 200 OK\r\nX: caf\xe9\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(h.headers.get("X"), Some("caf\u{e9}"));
    }
}

#[cfg(test)]
mod fuzz_samples {
    /// Found by the `response` fuzz target (scripts/fuzz.sh, 354,090 inputs in): a
    /// close-delimited body over the limit gave the pieces before the one that crossed it
    /// when fed in pieces, but nothing when fed whole. Now both give the first `max_body`
    /// bytes, then `TooLarge`.
    #[test]
    fn a_close_delimited_body_over_the_limit_is_cut_at_the_limit_however_it_arrives() {
        let mut input = b" HTTP/1.0 502 1\r\n\r\n".to_vec();
        input.extend((0..700u32).map(|i| (i % 251) as u8));
        super::fuzz(&input);
    }

    /// The fuzz entry point over samples and deterministic mutations of them (xorshift), so
    /// that `cargo test` exercises its invariants without the fuzzer.
    #[test]
    fn fuzz_invariants_hold_on_mutated_samples() {
        let samples: &[&[u8]] = &[
            b"\0HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"\0HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n",
            b"\0HTTP/1.0 200 OK\r\n\r\nuntil the close",
            b"\x01HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
            b"\x02HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            b"\0HTTP/1.1 200 OK\nX: y\r\n\r\n",
            b"",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for s in samples {
            super::fuzz(s);
            for _ in 0..300 {
                let mut m = s.to_vec();
                for _ in 0..1 + next() % 4 {
                    let r = next() as usize;
                    match r % 3 {
                        0 if !m.is_empty() => {
                            let i = r / 3 % m.len();
                            let bytes = b"\r\n:0aF; -\x00\x7f9";
                            m[i] = bytes[r / 7 % bytes.len()];
                        }
                        1 if !m.is_empty() => {
                            m.remove(r / 3 % m.len());
                        }
                        _ => m.insert(r / 3 % (m.len() + 1), b"\r\n0:"[r / 5 % 4]),
                    }
                }
                super::fuzz(&m);
            }
        }
    }
}
