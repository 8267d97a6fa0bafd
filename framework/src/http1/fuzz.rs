//! Entry points for the fuzz targets in `framework/fuzz`.
//!
//! **Not part of the API.** Hidden from the docs, exempt from semver: these functions exist so
//! that an out-of-crate fuzzer can reach the crate-private request-head parser and chunked
//! decoder. They may change or disappear in any release.
//!
//! Each function does more than look for panics: it checks the invariants the connection code
//! relies on, and that feeding the same bytes in pieces gives the same answer as feeding them
//! whole (the incremental rescan and the byte-level decoder must not depend on how reads fall).
//! A broken invariant panics, which the fuzzer reports as a crash.

use super::chunked::ChunkedDecoder;
use super::parse::{self, Framing, HeadLimits, Progress, Scan};
use super::parts::Parts;
use super::Request;
use super::{apply_xheaders, Method, Version};

/// Limits small enough that fuzz inputs reach them (one with a head limit below the request
/// line's, so that either can be passed first), and the server's defaults; bare LF allowed in
/// the first only.
const LIMITS: [HeadLimits; 3] = [
    HeadLimits {
        max_header_size: 1024,
        max_request_line: 256,
        allow_bare_lf: true,
    },
    HeadLimits {
        max_header_size: 48,
        max_request_line: 300,
        allow_bare_lf: false,
    },
    HeadLimits {
        max_header_size: 64 * 1024,
        max_request_line: 8 * 1024,
        allow_bare_lf: false,
    },
];

/// A comparable summary of a scan.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Partial,
    Complete(usize),
    Error(u16),
}

fn scan(
    buf: &[u8],
    progress: Progress,
    limits: HeadLimits,
    parts: &mut Parts,
) -> (Outcome, Progress) {
    match parse::scan_head(buf, progress, limits, parts) {
        Scan::Partial(p) => {
            assert!(p.searched() <= buf.len(), "searched past the buffer");
            (Outcome::Partial, p)
        }
        Scan::Complete(head) => {
            assert!(head.consumed <= buf.len(), "consumed past the buffer");
            check_head(&buf[..head.consumed], &head, parts);
            (Outcome::Complete(head.consumed), Progress::default())
        }
        Scan::Error(status) => {
            assert!(
                matches!(status, 400 | 414 | 431),
                "unexpected status {status}"
            );
            (Outcome::Error(status), Progress::default())
        }
    }
}

/// Invariants of a complete head, and every accessor of the request built from it.
fn check_head(raw: &[u8], head: &parse::Head, parts: &Parts) {
    let len = parts.head.len();
    // The head as it arrived, plus at most the origin-form target built for an absolute-form
    // one with an empty path (`http://h?q` -> `/?q`, shorter than the target it replaces).
    assert!(len <= raw.len() + (head.target.1 - head.target.0) as usize);
    let span_ok = |(a, b): (u32, u32)| a <= b && b as usize <= len;
    assert!(span_ok(head.method_span) && span_ok(head.target));
    assert!(head.target.1 > head.target.0, "empty target accepted");
    assert!(head.path_len <= head.target.1 - head.target.0);
    for &(n, v) in &parts.headers {
        assert!(span_ok(n) && span_ok(v));
        let value = &parts.head[v.0 as usize..v.1 as usize];
        assert!(
            !value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0),
            "CR, LF or NUL in an accepted field value"
        );
    }
    if head.framing == Framing::Chunked {
        assert_eq!(head.version, Version::Http11, "chunked on HTTP/1.0");
    }
    let copy = Box::new(Parts {
        head: parts.head.clone(),
        headers: parts.headers.clone(),
        ..Parts::default()
    });
    let mut request = Request::from_parts(copy, None);
    request.set_head(head, false);
    let m = request.method_str();
    assert!(!m.is_empty(), "method not valid UTF-8");
    assert_eq!(Method::parse(m), Some(request.method()));
    assert!(!request.uri().is_empty(), "target not valid UTF-8");
    assert!(request.uri().starts_with(request.path()));
    let _ = request.query();
    let hosts = request.header_all("Host").count();
    if request.version() == Version::Http11 {
        assert_eq!(hosts, 1, "HTTP/1.1 without exactly one Host");
    }
    let _ = request.host_name();
    let _ = request.headers().count();
    let _ = format!("{request:?}");
    apply_xheaders(&mut request);
    let _ = request.remote_ip();
}

/// Runs the request-head parser over `data` under two sets of limits: whole, and as a growing
/// buffer fed in pieces (cut where `data`'s own bytes say), checking that the incremental scan
/// agrees with a fresh scan of the same bytes at every step, and that the first decision
/// (a head, or a refusal with its status) is the one the whole input gets: one answer for one
/// input, however the reads fall.
///
/// # Panics
///
/// If an invariant is broken (that is the point).
pub fn scan_head(data: &[u8]) {
    let cuts = cuts_from(data);
    scan_head_split(data, &cuts);
}

/// Cut points taken from `data`'s own bytes (so a fuzzer steers them), increasing.
fn cuts_from(data: &[u8]) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut end = 0;
    let mut i = 0;
    while end < data.len() {
        let step = 1 + (data[i % data.len()] as usize % 13) * (1 + i % 7);
        i += 1;
        end = (end + step).min(data.len());
        cuts.push(end);
    }
    cuts
}

/// [`scan_head`] with the reads ending at `cuts` (increasing; the last read ends at the end of
/// `data` whatever they say).
///
/// # Panics
///
/// If an invariant is broken.
pub fn scan_head_split(data: &[u8], cuts: &[usize]) {
    for limits in LIMITS {
        let mut parts = Parts::default();
        let whole = scan(data, Progress::default(), limits, &mut parts).0;
        // Feed prefixes as reads would deliver them.
        let mut progress = Progress::default();
        let ends = cuts
            .iter()
            .map(|&c| c.min(data.len()))
            .chain(std::iter::once(data.len()));
        let mut last = 0;
        for end in ends {
            if end < last || (end == last && end != 0) {
                continue;
            }
            last = end;
            let buf = &data[..end];
            let (inc, p) = scan(buf, progress, limits, &mut parts);
            let fresh = scan(buf, Progress::default(), limits, &mut Parts::default()).0;
            assert_eq!(inc, fresh, "incremental scan disagrees at {end}");
            if inc == Outcome::Partial {
                progress = p;
                continue;
            }
            // Decided on this prefix: a head is the same head whatever follows it, and a
            // refusal is the whole input's refusal, for the same reason.
            assert_eq!(
                whole, inc,
                "prefix {end} decided differently from the whole"
            );
            break;
        }
    }
}

/// The result of decoding: consumed bytes, output, and done / error.
fn decode(data: &[u8], cuts: &[usize], max_body: u64) -> (usize, Vec<u8>, Result<bool, u16>) {
    let mut d = ChunkedDecoder::new(max_body, 256);
    let mut out = Vec::new();
    let mut used = 0;
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        let cut = cut.clamp(start, data.len());
        let piece = &data[start..cut];
        // What the connection does: feed from the first unconsumed byte.
        let r = d.feed(piece, &mut |b| {
            out.extend_from_slice(b);
            Ok(())
        });
        match r {
            Ok(n) => {
                assert!(n <= piece.len());
                used += n;
                if d.is_done() {
                    return (used, out, Ok(true));
                }
                assert_eq!(n, piece.len(), "stopped early without being done");
            }
            Err(e) => {
                assert!(matches!(e, 400 | 413 | 431), "unexpected status {e}");
                return (used, out, Err(e));
            }
        }
        start = cut;
    }
    (used, out, Ok(false))
}

/// Runs the chunked decoder over `data`, whole and cut into pieces (where `data`'s own bytes
/// say), checking both give the same body, the same end and the same error, and that the body
/// limit holds.
///
/// # Panics
///
/// If an invariant is broken.
pub fn chunked(data: &[u8]) {
    let max_body = 512;
    let whole = decode(data, &[], max_body);
    assert!(whole.1.len() as u64 <= max_body, "body limit not enforced");
    let mut cuts = Vec::new();
    let mut at = 0;
    for (i, &b) in data.iter().enumerate().take(64) {
        at += 1 + (b as usize % 5) * (1 + i % 3);
        cuts.push(at);
    }
    let split = decode(data, &cuts, max_body);
    assert_eq!(whole.2, split.2, "outcome depends on the split");
    assert_eq!(whole.1, split.1, "body depends on the split");
    if whole.2 == Ok(true) {
        assert_eq!(whole.0, split.0, "end of body depends on the split");
    }
    let one_by_one: Vec<usize> = (1..data.len()).collect();
    let bytes = decode(data, &one_by_one, max_body);
    assert_eq!(whole.2, bytes.2);
    assert_eq!(whole.1, bytes.1);
}

/// Runs a response through the client's head scan and body decoder, whole and in pieces
/// (`super::response_parse::fuzz`: the first byte chooses HEAD and a small head limit).
///
/// # Panics
///
/// If an invariant is broken.
pub fn response(data: &[u8]) {
    super::response_parse::fuzz(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_entry_points_hold_on_samples() {
        let heads: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"\r\n\r\nPOST /a?b=c HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-Real-IP: ::1\r\n\r\n",
            b"GET / HTTP/1.0\nConnection: keep-alive\n\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            b"",
            b"\n",
        ];
        for h in heads {
            scan_head(h);
        }
        // Found by the fuzzer: a line with no space in its first 256 bytes was refused 414
        // early, though a space (ending a very long "method") came later, so the same bytes
        // whole were not refused.
        let mut found = vec![0u8; 280];
        found[12..17].copy_from_slice(b"?x=0&");
        found[258..280].copy_from_slice(b"Connection: keep-alive");
        found.extend_from_slice(b"?x=0&y");
        scan_head(&found);
        for h in heads {
            scan_head(h);
        }
        let bodies: &[&[u8]] = &[
            b"4\r\nWiki\r\n5;x=1\r\npedia\r\n0\r\nT: 1\r\n\r\nNEXT",
            b"0\r\n\r\n",
            b"zz\r\n",
            b"200\r\n",
            b"",
        ];
        for b in bodies {
            chunked(b);
        }
    }
}
