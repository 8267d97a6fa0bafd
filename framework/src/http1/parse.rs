//! Request-head parsing and the RFC 9112 framing checks: the request line is read by
//! [`request_line`](super::request_line), the header fields by httparse — or, when they have
//! the common plain shape that httparse would accept unchanged, by
//! [`plain_fields`](super::fields::plain_fields) in one pass. The middle layer of the request
//! modules: it fills a request's [`Parts`] (`parts.rs`) and returns the [`Head`], which
//! `Request` takes its request line's facts from.
//!
//! ### Rescanning
//!
//! A head that arrives in pieces is not re-parsed from the start on every piece: the caller
//! keeps the offset already searched for the blank line that ends a head, and the head is
//! parsed once, when complete. A slow client costs O(n), never O(n²).

use super::fields::plain_fields;
use super::method::{ExtensionMethod, MethodKind, Version};
use super::parts::{Parts, Span, MAX_HEADERS};
use super::request_line::{parse_request_line, BadLine};
use super::wire::is_name;

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
    pub(crate) method: MethodKind,
    pub(crate) method_span: Span,
    /// The origin-form target (path and query); for an absolute-form target, the part after
    /// its authority (see [`request_line::absolute_form`](super::request_line::absolute_form)).
    pub(crate) target: Span,
    pub(crate) path_len: u32,
    /// An absolute-form target's authority, which stands for the `Host` field; `(0, 0)` when
    /// the target was in origin-form.
    pub(crate) authority: Span,
    pub(crate) version: Version,
    pub(crate) framing: Framing,
    pub(crate) expect_continue: bool,
    /// The client asked to keep the connection (HTTP/1.1 default, 1.0 with keep-alive).
    pub(crate) keep_alive: bool,
}

/// How far an unfinished head has been looked at, kept between reads so that a head that
/// arrives in pieces costs O(n): the bytes already searched for the blank line that ends it,
/// and whether its request line is complete and valid (judged once).
///
/// One word (the flag in the top bit): a connection's phase holds it, and a plain integer
/// keeps the phase's tag a plain byte (a `bool` field would make it a niche to decode on
/// every match of the phase, which cost 8 instructions per request).
#[derive(Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress(usize);

const LINE_OK: usize = 1 << (usize::BITS - 1);

impl Progress {
    /// `searched` bytes searched; the request line complete and valid if `line_ok`.
    pub(crate) fn new(searched: usize, line_ok: bool) -> Progress {
        Progress(searched & !LINE_OK | if line_ok { LINE_OK } else { 0 })
    }

    /// Bytes of the buffer already searched for the end of the head.
    pub(crate) fn searched(self) -> usize {
        self.0 & !LINE_OK
    }

    /// Whether the request line was found complete and valid.
    pub(crate) fn line_ok(self) -> bool {
        self.0 & LINE_OK != 0
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("searched", &self.searched())
            .field("line_ok", &self.line_ok())
            .finish()
    }
}

/// The outcome of looking at the buffer for a head.
#[derive(Debug)]
pub(crate) enum Scan {
    /// No complete head yet; resume from this progress.
    Partial(Progress),
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
    /// Accept a bare LF as a line end (`HttpServerOptions::allow_bare_lf`); else it is 400.
    pub(crate) allow_bare_lf: bool,
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
///
/// ### One answer for one input
///
/// The answer depends only on the bytes, never on how they were split into reads: it is the
/// answer a reader fed one byte at a time would give, the first refusal in byte order. The
/// request line is judged as soon as its bytes arrive (a syntax error, a method over
/// [`MAX_METHOD`] bytes: 400; a target over `max_request_line`: 414, whichever comes first in
/// the line). A head without its end within `max_header_size` bytes (from its request line)
/// is 431 at the byte past the limit, whatever its fields hold. The header fields
/// are judged once the head is complete within the limit. Every check is monotone (once a prefix is
/// refused, so is every longer input, for the same reason), which is what makes the answer
/// independent of the split; `split_reads_agree_with_whole` and the fuzz target pin it.
#[inline(always)]
pub(crate) fn scan_head(
    buf: &[u8],
    progress: Progress,
    limits: HeadLimits,
    parts: &mut Parts,
) -> Scan {
    // RFC 9112 §2.2: ignore blank lines before the request line (left after a body by some
    // clients). They are not part of the head (its limit counts from the request line); a
    // client that sends nothing else fills the bounded read buffer and meets the header
    // timeout.
    let skip = match buf.first() {
        Some(b'\r' | b'\n') => match blank_lines(buf, limits.allow_bare_lf) {
            Some(skip) => skip,
            None => return Scan::Error(400),
        },
        _ => 0,
    };
    let body = &buf[skip..];
    if body.is_empty() {
        return Scan::Partial(Progress::default());
    }
    // A fresh head usually arrives whole and valid: one pass finds and parses it. Anything
    // else is decided in byte order below; later reads search just the new bytes for the
    // blank line that ends the head (backing up so a terminator split across reads is seen).
    let searched = progress.searched();
    let end = if searched == 0 {
        match parse(body, skip, limits, parts) {
            Scan::Partial(_) | Scan::Error(_) => find_head_end(body, 0),
            // (A valid head has no refusal anywhere in it: nothing comes before.)
            complete => return complete,
        }
    } else {
        find_head_end(body, searched.saturating_sub(skip + 2))
    };
    match judge(buf.len(), body, end, progress.line_ok(), limits) {
        Verdict::Parse(end) => match parse(&body[..end], skip, limits, parts) {
            // The blank line was found, so the parser sees the whole head: not being done is
            // bad input.
            Scan::Partial(_) => Scan::Error(400),
            done => done,
        },
        Verdict::Partial(progress) => Scan::Partial(progress),
        Verdict::Error(status) => Scan::Error(status),
    }
}

/// What [`judge`] found.
enum Verdict {
    /// The head is complete within the limit and its request line valid: parse
    /// `body[..end]`.
    Parse(usize),
    Partial(Progress),
    Error(u16),
}

/// [`scan_head`] for a head that is incomplete or refused: the first refusal in byte order
/// (see there), `Partial`, or the head's end to parse. `end` is where the first blank line of
/// `body` ends, if present; `line_ok`: the request line was found complete and valid by an
/// earlier read. (The head's own parse stays in `scan_head`: returning a parsed head from
/// here would copy it, which cost 20 instructions per request.)
#[cold]
#[inline(never)]
fn judge(
    len: usize,
    body: &[u8],
    end: Option<usize>,
    line_ok: bool,
    limits: HeadLimits,
) -> Verdict {
    // The request line, within the bytes the head may have: past them, 431 comes first.
    let window = &body[..body.len().min(limits.max_header_size + 1)];
    let line_ok = match line_ok {
        true => true,
        false => match line_verdict(window, limits) {
            Ok(complete) => complete,
            Err(status) => return Verdict::Error(status),
        },
    };
    match end {
        Some(end) if end <= limits.max_header_size => Verdict::Parse(end),
        Some(_) => Verdict::Error(431),
        None if body.len() > limits.max_header_size => Verdict::Error(431),
        None => Verdict::Partial(Progress::new(len, line_ok)),
    }
}

/// The length of the blank-line bytes (CR, LF) at the start of `buf`, or `None` when
/// `allow_bare_lf` is off and they are not CRLF pairs (a last CR at the end of `buf` may still
/// get its LF).
#[cold]
#[inline(never)]
fn blank_lines(buf: &[u8], allow_bare_lf: bool) -> Option<usize> {
    let skip = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let skipped = &buf[..skip];
    let pairs = allow_bare_lf || skipped.chunks_exact(2).all(|p| p == b"\r\n");
    let ok = match skip % 2 {
        _ if allow_bare_lf => true,
        0 => pairs,
        _ => pairs && skip == buf.len() && skipped.last() == Some(&b'\r'),
    };
    ok.then_some(skip)
}

/// Whether `fields` (a field block, its blank line included) has a LF without its CR.
#[cold]
#[inline(never)]
fn has_bare_lf(fields: &[u8]) -> bool {
    fields
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || fields[i - 1] != b'\r'))
}

/// Longest method accepted (a longer "method" is garbage: 400).
pub(crate) const MAX_METHOD: usize = ExtensionMethod::MAX_LEN;

/// The verdict on the request line at the start of `body`, as far as it has arrived: the
/// first refusal in byte order among a syntax error (400), a method longer than
/// [`MAX_METHOD`] (400) and a target longer than `max_request_line` (414); else whether the
/// line is complete (then the verdict is final). Monotone: a refused prefix stays refused, for
/// the same status, however many bytes follow. Looks at the first line only.
fn line_verdict(body: &[u8], limits: HeadLimits) -> Result<bool, u16> {
    let over = over_limit(body, limits.max_request_line);
    // A syntax error before the point where a length went over comes first.
    let upto = over.map_or(body.len(), |(at, _)| at.min(body.len()));
    let line = parse_request_line(&body[..upto], limits.allow_bare_lf).map_err(|BadLine| 400u16)?;
    match over {
        Some((_, status)) => Err(status),
        None => Ok(line.is_some()),
    }
}

/// Where the request line first goes over a length limit: the length of the shortest prefix
/// of `body` that shows it, and the status. A method over [`MAX_METHOD`] shows at byte
/// `MAX_METHOD + 1` (400); a target over `max_target` at its `max_target + 1`th byte (414).
fn over_limit(body: &[u8], max_target: usize) -> Option<(usize, u16)> {
    let window = &body[..body.len().min(MAX_METHOD + max_target + 2)];
    let line = match window.iter().position(|&b| b == b'\n') {
        Some(i) => &window[..i],
        None => window,
    };
    let method_over = (MAX_METHOD + 1, 400);
    let Some(sp) = line.iter().position(|&b| b == b' ') else {
        return (line.len() > MAX_METHOD).then_some(method_over);
    };
    if sp > MAX_METHOD {
        return Some(method_over);
    }
    let rest = &line[sp + 1..];
    let target = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    (target > max_target).then_some((sp + 1 + max_target + 1, 414))
}

pub(super) fn token_list_contains(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

pub(super) fn parse_content_length(value: &[u8]) -> Option<u64> {
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

/// Header slots tried first: enough for most requests (a browser sends a dozen or so), few
/// enough that setting them up costs little. More fields: parsed again with [`MAX_HEADERS`].
const FEW_HEADERS: usize = 16;

/// The fields of a head that is not plain (see [`plain_fields`]), by httparse: their spans
/// (relative to the head, the fields starting `offset` bytes into it) go to `parts.headers`.
/// `Ok(None)`: incomplete.
#[inline(never)]
fn httparse_fields(fields: &[u8], offset: usize, parts: &mut Parts) -> Result<Option<usize>, u16> {
    let mut few = [httparse::EMPTY_HEADER; FEW_HEADERS];
    let mut all;
    let status = match httparse::parse_headers(fields, &mut few) {
        Err(httparse::Error::TooManyHeaders) => {
            all = [httparse::EMPTY_HEADER; MAX_HEADERS];
            httparse::parse_headers(fields, &mut all)
        }
        other => other,
    };
    let (len, headers) = match status {
        Ok(httparse::Status::Complete(done)) => done,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(431),
        Err(_) => return Err(400),
    };
    let base = fields.as_ptr() as usize;
    let span = |s: &[u8]| -> Span {
        let a = (s.as_ptr() as usize - base + offset) as u32;
        (a, a + s.len() as u32)
    };
    for h in headers {
        parts.headers.push((span(h.name.as_bytes()), span(h.value)));
    }
    Ok(Some(len))
}

/// Parses the head at the start of `buf` (which may hold more after it), which came after
/// `skip` blank-line bytes (counted in [`Head::consumed`]). [`Scan::Partial`]: the head is not
/// complete yet (its `searched` means nothing).
#[inline(always)]
fn parse(buf: &[u8], skip: usize, limits: HeadLimits, parts: &mut Parts) -> Scan {
    match parse_head(buf, skip, limits, parts) {
        Ok(Some(head)) => Scan::Complete(head),
        Ok(None) => Scan::Partial(Progress::default()),
        Err(status) => Scan::Error(status),
    }
}

/// [`parse`], with `?` for the errors.
#[inline(always)]
fn parse_head(
    buf: &[u8],
    skip: usize,
    limits: HeadLimits,
    parts: &mut Parts,
) -> Result<Option<Head>, u16> {
    let line = match parse_request_line(buf, limits.allow_bare_lf) {
        Ok(Some(line)) => line,
        Ok(None) => return Ok(None),
        Err(BadLine) => return Err(400),
    };
    let fields = &buf[line.len..];
    // The common plain shape is read directly; anything else is httparse's to judge.
    parts.headers.clear();
    let fields_len = match plain_fields(fields, line.len, &mut parts.headers) {
        Some(n) => n,
        None => {
            parts.headers.clear();
            match httparse_fields(fields, line.len, parts)? {
                // (The plain shape has CRLF line ends only; httparse accepts a bare LF too.)
                Some(n) if !limits.allow_bare_lf && has_bare_lf(&fields[..n]) => return Err(400),
                Some(n) => n,
                None => return Ok(None),
            }
        }
    };
    let head_len = line.len + fields_len;
    if head_len > limits.max_header_size {
        return Err(431);
    }
    if line.method_end > MAX_METHOD {
        return Err(400);
    }
    if line.target.1 - line.target.0 > limits.max_request_line {
        return Err(414);
    }
    let head = &buf[..head_len];
    parts.head.clear();
    super::wire::put_all(&mut parts.head, [head]);
    let mut target = (line.target.0 as u32, line.target.1 as u32);
    let mut path_len = line.path_len as u32;
    let mut authority = (0, 0);
    // Origin-form (a leading `/`) is the rule; anything else is looked at out of line.
    if head[line.target.0] != b'/' {
        if let Some((t, p, a)) =
            absolute_target(&mut parts.head, line.target).map_err(|_| 400u16)?
        {
            (target, path_len, authority) = (t, p, a);
        }
    }

    // What the fields said, as bits (kept in one register through the loop).
    const CHUNKED: u8 = 1;
    const CLOSE: u8 = 2;
    const KEEP_ALIVE: u8 = 4;
    const CONTINUE: u8 = 8;
    let mut seen = 0u8;
    let mut hosts = 0u32;
    let mut content_length: Option<u64> = None;
    for &((n0, n1), (v0, v1)) in &parts.headers {
        // RFC 9110 §5.5: CR, LF and NUL are never valid in a field value; both field parsers
        // refuse them (pinned by `framing_errors`), so values need no second scan here.
        let name = &head[n0 as usize..n1 as usize];
        let value = &head[v0 as usize..v1 as usize];
        match name.len() {
            4 if is_name(name, b"host") => {
                // RFC 9112 §3.2: a Host that is not `uri-host [":" port]` is 400.
                if !super::host::valid_host(buf, v0 as usize, v1 as usize) {
                    return Err(400);
                }
                hosts += 1;
            }
            6 if is_name(name, b"expect")
                && value.trim_ascii().eq_ignore_ascii_case(b"100-continue") =>
            {
                seen |= CONTINUE;
            }
            10 if is_name(name, b"connection") => {
                if token_list_contains(value, "close") {
                    seen |= CLOSE;
                }
                if token_list_contains(value, "keep-alive") {
                    seen |= KEEP_ALIVE;
                }
            }
            14 if is_name(name, b"content-length") => {
                let n = parse_content_length(value).ok_or(400u16)?;
                if content_length.is_some_and(|m| m != n) {
                    return Err(400);
                }
                content_length = Some(n);
            }
            17 if is_name(name, b"transfer-encoding") => {
                // Only `chunked` is supported, once (RFC 9112 §6.1); anything else is refused
                // rather than guessed at (request smuggling).
                if seen & CHUNKED != 0 || !value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                    return Err(400);
                }
                seen |= CHUNKED;
            }
            _ => {}
        }
    }
    let version = line.version;
    // HTTP/1.1 needs exactly one Host; 1.0 at most one.
    if hosts > 1 || (hosts == 0 && version == Version::Http11) {
        return Err(400);
    }
    let chunked = seen & CHUNKED != 0;
    if chunked && (content_length.is_some() || version == Version::Http10) {
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
    let http11 = version == Version::Http11;
    let keep_alive = seen & CLOSE == 0 && (http11 || seen & KEEP_ALIVE != 0);
    Ok(Some(Head {
        consumed: skip + head_len,
        method: line.method,
        method_span: (0, line.method_end as u32),
        target,
        path_len,
        authority,
        version,
        framing,
        expect_continue: http11 && seen & CONTINUE != 0,
        keep_alive,
    }))
}

/// For an absolute-form target at `head[t0..t1]`: the origin-form target, its path length
/// and the authority. RFC 9112 §3.2.2: a server must accept the absolute-form, and the
/// authority replaces the `Host` field. An empty path becomes `/`, written after the head (the
/// spans into the head stay as they are). `Ok(None)`: not an `http(s)` absolute-form target.
/// Shared by the parser and [`RequestBuilder`](super::RequestBuilder).
#[cold]
#[inline(never)]
pub(super) fn absolute_target(
    head: &mut Vec<u8>,
    (t0, t1): (usize, usize),
) -> Result<Option<(Span, u32, Span)>, BadLine> {
    let Some(abs) = super::request_line::absolute_form(&head[t0..t1])? else {
        return Ok(None);
    };
    let authority = ((t0 + abs.authority.0) as u32, (t0 + abs.authority.1) as u32);
    let rest = t0 + abs.rest;
    let (target, path_len) = if abs.empty_path(&head[t0..t1]) {
        // `http://h?q` stands for `/?q`: that target, built after the head.
        let start = head.len();
        head.push(b'/');
        head.extend_from_within(rest..t1);
        ((start as u32, head.len() as u32), 1)
    } else {
        let path_end = head[rest..t1]
            .iter()
            .position(|&b| b == b'?')
            .map_or(t1, |n| rest + n);
        ((rest as u32, t1 as u32), (path_end - rest) as u32)
    };
    Ok(Some((target, path_len, authority)))
}

#[cfg(test)]
mod tests;
