//! Bytes on the wire: status lines and reason phrases, numbers without `format!`, the
//! once-a-second `Date` line. (What a header may hold is `httputil::header_policy`'s.)

use std::time::{Instant, SystemTime};

use super::Version;

/// Defines [`reason_phrase`] and the table of complete status lines from one list.
macro_rules! statuses {
    ($($code:literal => $reason:literal,)*) => {
        /// The reason phrase of a status code (`""` for unknown codes).
        ///
        /// # Examples
        ///
        /// ```
        /// assert_eq!(squall::http1::reason_phrase(404), "Not Found");
        /// ```
        pub fn reason_phrase(status: u16) -> &'static str {
            match status {
                $($code => $reason,)*
                _ => "",
            }
        }

        /// The whole status line of a known code, `HTTP/1.1 200 OK\r\n`: one copy per response.
        fn known_status_line(status: u16) -> Option<&'static [u8]> {
            match status {
                $($code => Some(concat!("HTTP/1.1 ", $code, " ", $reason, "\r\n").as_bytes()),)*
                _ => None,
            }
        }
    };
}

statuses! {
    100 => "Continue",
    101 => "Switching Protocols",
    200 => "OK",
    201 => "Created",
    202 => "Accepted",
    203 => "Non-Authoritative Information",
    204 => "No Content",
    205 => "Reset Content",
    206 => "Partial Content",
    300 => "Multiple Choices",
    301 => "Moved Permanently",
    302 => "Found",
    303 => "See Other",
    304 => "Not Modified",
    307 => "Temporary Redirect",
    308 => "Permanent Redirect",
    400 => "Bad Request",
    401 => "Unauthorized",
    402 => "Payment Required",
    403 => "Forbidden",
    404 => "Not Found",
    405 => "Method Not Allowed",
    406 => "Not Acceptable",
    408 => "Request Timeout",
    409 => "Conflict",
    410 => "Gone",
    411 => "Length Required",
    412 => "Precondition Failed",
    413 => "Content Too Large",
    414 => "URI Too Long",
    415 => "Unsupported Media Type",
    416 => "Range Not Satisfiable",
    417 => "Expectation Failed",
    421 => "Misdirected Request",
    422 => "Unprocessable Content",
    426 => "Upgrade Required",
    428 => "Precondition Required",
    429 => "Too Many Requests",
    431 => "Request Header Fields Too Large",
    500 => "Internal Server Error",
    501 => "Not Implemented",
    502 => "Bad Gateway",
    503 => "Service Unavailable",
    504 => "Gateway Timeout",
    505 => "HTTP Version Not Supported",
}

/// Appends `pieces` to `w` in order, with one capacity check for all of them instead of one
/// per piece, and pieces of 8 to 64 bytes (header names and values, whole header lines, short
/// bodies, request heads) copied in line instead of through a call to `memcpy`.
///
/// A response head is a dozen small appends: a header line in one append instead of four
/// saved ~35 instructions per response (callgrind, pipelined plaintext).
#[inline(always)]
pub(crate) fn put_all<const N: usize>(w: &mut Vec<u8>, pieces: [&[u8]; N]) {
    let total = pieces.iter().map(|p| p.len()).sum();
    w.reserve(total);
    let mut len = w.len();
    let base = w.as_mut_ptr();
    for piece in pieces {
        // SAFETY: `reserve(total)` made room for all the pieces after the first `len` bytes,
        // so every write below lands inside the allocation, past the initialised part.
        unsafe { copy_short(piece, base.add(len)) };
        len += piece.len();
    }
    // SAFETY: the bytes up to `len` are the old contents and the pieces just written, and
    // `len <= capacity` (see above).
    unsafe { w.set_len(len) };
}

/// Copies `src` to `dst`: 8 to 64 bytes as a head and a tail block of 8, 16 or 32 bytes that
/// overlap in the middle (unaligned writes), anything else through `copy_nonoverlapping`.
///
/// # Safety
///
/// `dst` must be valid for writes of `src.len()` bytes and must not overlap `src`.
#[inline(always)]
unsafe fn copy_short(src: &[u8], dst: *mut u8) {
    // SAFETY: the caller's guarantee, passed on.
    unsafe {
        match src.len() {
            8..=16 => copy_ends::<8>(src, dst),
            17..=32 => copy_ends::<16>(src, dst),
            33..=64 => copy_ends::<32>(src, dst),
            n => std::ptr::copy_nonoverlapping(src.as_ptr(), dst, n),
        }
    }
}

/// Copies `src` (`K` to `2 * K` bytes long) to `dst` as its first `K` bytes and its last `K`.
///
/// # Safety
///
/// As [`copy_short`].
#[inline(always)]
unsafe fn copy_ends<const K: usize>(src: &[u8], dst: *mut u8) {
    let n = src.len();
    if let (Some(first), Some(last)) = (src.first_chunk::<K>(), src.last_chunk::<K>()) {
        // SAFETY: K <= n, so bytes 0..K and n-K..n lie within the n bytes the caller
        // guarantees at `dst`; unaligned writes need no alignment.
        unsafe {
            dst.cast::<[u8; K]>().write_unaligned(*first);
            dst.add(n - K).cast::<[u8; K]>().write_unaligned(*last);
        }
    }
}

/// Appends `n` in decimal, without `format!`.
fn write_u64_loop(w: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    w.extend_from_slice(&buf[i..]);
}

pub(super) fn write_hex(w: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    w.extend_from_slice(&buf[i..]);
}

/// Appends `HTTP/1.1 <status> <reason>\r\n`. We answer in HTTP/1.1 whatever 1.x the client
/// spoke (RFC 9110 §6.2: the highest minor version we conform to).
///
/// Always inlined: `200 OK` without a custom reason (most responses) is one constant-size
/// copy at the call site; every other status goes out of line.
#[inline(always)]
pub(crate) fn write_status_line(
    w: &mut Vec<u8>,
    _version: Version,
    status: u16,
    reason: Option<&str>,
) {
    if status == 200 && reason.is_none() {
        w.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    write_status_line_other(w, status, reason);
}

/// [`write_status_line`] for every status but a plain `200 OK`.
#[inline(never)]
fn write_status_line_other(w: &mut Vec<u8>, status: u16, reason: Option<&str>) {
    if reason.is_none() {
        if let Some(line) = known_status_line(status) {
            w.extend_from_slice(line);
            return;
        }
    }
    write_status_line_slow(w, status, reason);
}

#[cold]
fn write_status_line_slow(w: &mut Vec<u8>, status: u16, reason: Option<&str>) {
    w.extend_from_slice(b"HTTP/1.1 ");
    let status = status.clamp(100, 999);
    w.extend_from_slice(&[
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
        b' ',
    ]);
    let reason = match reason {
        Some(r) if !r.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) => r,
        _ => reason_phrase(status),
    };
    w.extend_from_slice(reason.as_bytes());
    w.extend_from_slice(b"\r\n");
}

/// Appends `Content-Length: <n>\r\n`. Lengths under 10,000 (most bodies) are one
/// constant-size copy of the whole line, its digits filled in on the stack.
#[inline(always)]
pub(crate) fn write_content_length(w: &mut Vec<u8>, n: u64) {
    // (Below 10,000 the value fits u32, whose division is cheaper.)
    match n {
        0..=9 => content_length_line::<19>(w, n as u32),
        10..=99 => content_length_line::<20>(w, n as u32),
        100..=999 => content_length_line::<21>(w, n as u32),
        1000..=9999 => content_length_line::<22>(w, n as u32),
        _ => write_content_length_long(w, n),
    }
}

#[inline(never)]
fn write_content_length_long(w: &mut Vec<u8>, n: u64) {
    w.extend_from_slice(CONTENT_LENGTH);
    write_u64_loop(w, n);
    w.extend_from_slice(b"\r\n");
}

const CONTENT_LENGTH: &[u8; 16] = b"Content-Length: ";

/// The line for an `n` of exactly `N - 18` digits.
#[inline(always)]
fn content_length_line<const N: usize>(w: &mut Vec<u8>, mut n: u32) {
    let mut line = [0u8; N];
    line[..16].copy_from_slice(CONTENT_LENGTH);
    line[N - 2..].copy_from_slice(b"\r\n");
    for d in line[16..N - 2].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    w.extend_from_slice(&line);
}

/// The `Date` header, formatted once a second (hyper's trick), not per response. Kept as the
/// whole line, `Date: <29 bytes>\r\n`, so a response copies it once.
pub(crate) struct DateCache {
    next: Option<Instant>,
    line: [u8; DATE_LINE_LEN],
}

const DATE_LINE_LEN: usize = 6 + 29 + 2;

impl Default for DateCache {
    fn default() -> Self {
        let mut line = [b' '; DATE_LINE_LEN];
        line[..6].copy_from_slice(b"Date: ");
        line[DATE_LINE_LEN - 2..].copy_from_slice(b"\r\n");
        DateCache { next: None, line }
    }
}

impl DateCache {
    /// The header line, `Date: <value>\r\n`, current as of `now`.
    #[inline]
    pub(crate) fn line(&mut self, now: Instant) -> &[u8; DATE_LINE_LEN] {
        if self.next.is_none_or(|n| now >= n) {
            self.refresh(now);
        }
        &self.line
    }

    /// Formats the current second: once a second, out of the per-response path.
    #[cold]
    #[inline(never)]
    fn refresh(&mut self, now: Instant) {
        let wall = SystemTime::now();
        // Formatted into the fixed buffer: no allocation, even once a second.
        let mut cursor = std::io::Cursor::new(&mut self.line[6..6 + 29]);
        let _ = std::io::Write::write_fmt(
            &mut cursor,
            format_args!("{}", httpdate::HttpDate::from(wall)),
        );
        let sub = wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        self.next = Some(now + std::time::Duration::from_nanos(1_000_000_000 - sub as u64));
    }

    /// The header value alone (29 bytes).
    #[cfg(test)]
    pub(crate) fn get(&mut self, now: Instant) -> [u8; 29] {
        let mut v = [0u8; 29];
        v.copy_from_slice(&self.line(now)[6..6 + 29]);
        v
    }
}

/// Whether header name `name` is `lower` (an all-lowercase token, 4 to 32 bytes) compared
/// ASCII case-insensitively: two overlapping 8-byte words (4-byte halves below 8) instead of
/// a byte loop, with the case bit ignored only where `lower` has a letter, so no other byte
/// pair can pass for a letter's two cases.
#[inline(always)]
pub(super) fn is_name(name: &[u8], lower: &'static [u8]) -> bool {
    let n = lower.len();
    debug_assert!((4..=32).contains(&n) && !lower.iter().any(u8::is_ascii_uppercase));
    if name.len() != n {
        return false;
    }
    if n < 8 {
        return word_eq::<4>(name, lower, 0) && word_eq::<4>(name, lower, n - 4);
    }
    let mut at = 0;
    while at + 8 < n {
        if !word_eq::<8>(name, lower, at) {
            return false;
        }
        at += 8;
    }
    word_eq::<8>(name, lower, n - 8)
}

/// Whether the `L` bytes (4 or 8) of `s` at `at` equal those of `lower`, the case bit ignored
/// where `lower` has a letter. Free functions, not closures: they are inlined into every
/// caller and folded with `lower`'s constant bytes.
#[inline(always)]
fn word_eq<const L: usize>(s: &[u8], lower: &[u8], at: usize) -> bool {
    let (mut a, mut b, mut case) = ([0u8; 8], [0u8; 8], [0u8; 8]);
    a[..L].copy_from_slice(&s[at..at + L]);
    b[..L].copy_from_slice(&lower[at..at + L]);
    for (m, c) in case.iter_mut().zip(&b[..L]) {
        *m = u8::from(c.is_ascii_lowercase()) << 5;
    }
    u64::from_le_bytes(a) | u64::from_le_bytes(case) == u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_without_format() {
        for n in (0u64..20_000).chain([99_999, 100_000, 12345, u64::MAX]) {
            let mut w = Vec::new();
            write_u64_loop(&mut w, n);
            assert_eq!(w, n.to_string().as_bytes());
            let mut c = Vec::new();
            write_content_length(&mut c, n);
            assert_eq!(c, format!("Content-Length: {n}\r\n").as_bytes());
            let mut h = Vec::new();
            write_hex(&mut h, n);
            assert_eq!(h, format!("{n:x}").as_bytes());
        }
    }

    #[test]
    fn put_all_appends_every_piece() {
        // Every length around the word copies, after every starting length (so the writes
        // land at every alignment and at the edge of the capacity).
        // Under Miri (scripts/miri.sh), which runs each iteration thousands of times slower,
        // the lengths around each word split only: the same copy paths, a sixteenth of the runs.
        let src: Vec<u8> = (0..80u8).map(|b| b.wrapping_mul(7) ^ 0x5a).collect();
        let splits = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65];
        let (befores, firsts): (Vec<usize>, Vec<usize>) = if cfg!(miri) {
            (vec![0, 1, 7, 8, 9, 17], splits.to_vec())
        } else {
            ((0..20).collect(), (0..=70).collect())
        };
        for &before in &befores {
            for &a in &firsts {
                for b in splits {
                    let mut w: Vec<u8> = vec![b'.'; before];
                    w.shrink_to_fit();
                    put_all(&mut w, [&src[..a], b": ", &src[3..3 + b]]);
                    let mut want = vec![b'.'; before];
                    want.extend_from_slice(&src[..a]);
                    want.extend_from_slice(b": ");
                    want.extend_from_slice(&src[3..3 + b]);
                    assert_eq!(w, want, "before {before}, a {a}, b {b}");
                }
            }
        }
    }

    #[test]
    fn name_comparison_matches_eq_ignore_ascii_case() {
        // Every byte at every position of each name the server looks for (and of a few other
        // lengths for the word splits), against the byte loop it replaces.
        for lower in [
            "date",
            "expect",
            "host",
            "abcde",
            "abcdefg",
            "abcdefgh",
            "connection",
            "content-length",
            "transfer-encoding",
            "x-a-32-byte-long-header-name-xyz",
        ] {
            for pos in 0..lower.len() {
                for b in 0..=255u8 {
                    let mut name = lower.as_bytes().to_vec();
                    name[pos] = b;
                    // Names are `str`: skip bytes that would not be UTF-8 alone.
                    let Ok(name) = std::str::from_utf8(&name) else {
                        continue;
                    };
                    assert_eq!(
                        is_name(name.as_bytes(), lower.as_bytes()),
                        name.eq_ignore_ascii_case(lower),
                        "{name:?} vs {lower:?}"
                    );
                }
            }
            let k = lower.as_bytes();
            assert!(is_name(lower.to_ascii_uppercase().as_bytes(), k));
            assert!(!is_name(&k[1..], k));
            assert!(!is_name(format!("{lower}x").as_bytes(), k));
        }
    }

    #[test]
    fn status_line_table_matches_the_general_path() {
        for status in 100..1000u16 {
            let mut fast = Vec::new();
            write_status_line(&mut fast, Version::Http11, status, None);
            let mut slow = Vec::new();
            let reason = reason_phrase(status);
            slow.extend_from_slice(format!("HTTP/1.1 {status} {reason}\r\n").as_bytes());
            assert_eq!(fast, slow, "{status}");
            assert_eq!(known_status_line(status).is_some(), !reason.is_empty());
        }
    }

    #[test]
    fn status_lines() {
        let mut w = Vec::new();
        write_status_line(&mut w, Version::Http10, 404, None);
        assert_eq!(w, b"HTTP/1.1 404 Not Found\r\n");
        w.clear();
        write_status_line(&mut w, Version::Http11, 299, Some("Custom"));
        assert_eq!(w, b"HTTP/1.1 299 Custom\r\n");
        w.clear();
        write_status_line(&mut w, Version::Http11, 200, Some("Bad\r\nX: y"));
        assert_eq!(w, b"HTTP/1.1 200 OK\r\n");
    }

    #[test]
    fn date_cache_refreshes_each_second() {
        let mut d = DateCache::default();
        let t0 = Instant::now();
        let a = d.get(t0);
        assert!(httpdate::parse_http_date(std::str::from_utf8(&a).unwrap()).is_ok());
        let next = d.next.unwrap();
        assert!(next > t0 && next <= t0 + std::time::Duration::from_secs(1));
        assert_eq!(d.get(t0), a, "no refresh within the second");
    }
}
