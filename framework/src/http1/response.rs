//! [`Responder`]: writes one response onto its connection, choosing the framing.
//!
//! ### Framing
//!
//! A response with a known length gets `Content-Length`. One whose length is unknown when its
//! head is written (the handler flushed early) is chunked on HTTP/1.1, and close-delimited on
//! HTTP/1.0 (`Connection: close`, the connection ends after it): never a response the client
//! cannot delimit. Responses to HEAD carry the headers of GET and no body; 1xx, 204 and 304
//! carry no body and no framing headers. A response that fails after its head was sent is not
//! completed (no terminating chunk, no padding): the connection is closed instead, so the
//! client sees a truncated response, not a wrong one.

use std::fmt;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use super::{Conn, Version};
use crate::iostream::StreamError;

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

/// Appends `n` in decimal, without `format!`. Lengths under 10,000 (most bodies) are written
/// as fixed-size copies, without the general loop.
pub(crate) fn write_u64(w: &mut Vec<u8>, n: u64) {
    let d = |k: u64| b'0' + (k % 10) as u8;
    match n {
        0..=9 => w.push(d(n)),
        10..=99 => w.extend_from_slice(&[d(n / 10), d(n)]),
        100..=999 => w.extend_from_slice(&[d(n / 100), d(n / 10), d(n)]),
        1000..=9999 => w.extend_from_slice(&[d(n / 1000), d(n / 100), d(n / 10), d(n)]),
        _ => write_u64_loop(w, n),
    }
}

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

fn write_hex(w: &mut Vec<u8>, mut n: u64) {
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
pub(crate) fn write_status_line(
    w: &mut Vec<u8>,
    _version: Version,
    status: u16,
    reason: Option<&str>,
) {
    if reason.is_none() {
        if let Some(line) = known_status_line(status) {
            w.extend_from_slice(line);
            return;
        }
    }
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
    pub(crate) fn line(&mut self, now: Instant) -> &[u8; DATE_LINE_LEN] {
        if self.next.is_none_or(|n| now >= n) {
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
        &self.line
    }

    /// The header value alone (29 bytes).
    #[cfg(test)]
    pub(crate) fn get(&mut self, now: Instant) -> [u8; 29] {
        let mut v = [0u8; 29];
        v.copy_from_slice(&self.line(now)[6..6 + 29]);
        v
    }
}

/// Why a response operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// The head was already written (`write_head` twice).
    HeadAlreadyWritten,
    /// Body bytes before the head.
    HeadNotWritten,
    /// More body bytes than the declared `Content-Length` (the connection is closed).
    TooLong,
    /// `finish` with fewer body bytes than the declared `Content-Length` (the connection is
    /// closed).
    TooShort,
    /// The connection is closed; nothing more can be sent.
    Closed,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResponseError::HeadAlreadyWritten => "response head already written",
            ResponseError::HeadNotWritten => "response body written before its head",
            ResponseError::TooLong => "response body longer than its Content-Length",
            ResponseError::TooShort => "response finished before its Content-Length was written",
            ResponseError::Closed => "connection closed",
        })
    }
}

impl std::error::Error for ResponseError {}

/// Writes the response to one request. Obtained from
/// [`HttpDelegate::handle`](super::HttpDelegate::handle).
///
/// Dropping a responder before [`finish`](Responder::finish) answers 500 if nothing was sent
/// yet, and otherwise closes the connection (the response cannot be completed truthfully).
pub struct Responder {
    conn: Rc<Conn>,
    seq: u64,
    head_written: bool,
    chunked: bool,
    no_body: bool,
    declared: Option<u64>,
    written: u64,
    keep_alive: bool,
    status: u16,
    done: bool,
}

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder")
            .field("status", &self.status)
            .field("head_written", &self.head_written)
            .field("chunked", &self.chunked)
            .field("written", &self.written)
            .finish()
    }
}

impl Responder {
    pub(crate) fn new(conn: Rc<Conn>, seq: u64) -> Responder {
        Responder {
            conn,
            seq,
            head_written: false,
            chunked: false,
            no_body: false,
            declared: None,
            written: 0,
            keep_alive: false,
            status: 0,
            done: false,
        }
    }

    /// The request's HTTP version.
    pub fn version(&self) -> Version {
        self.conn.current.get().version
    }

    /// Whether the request was HEAD (body bytes will be dropped).
    pub fn is_head(&self) -> bool {
        self.conn.current.get().is_head
    }

    /// Whether the head has been written.
    pub fn head_written(&self) -> bool {
        self.head_written
    }

    /// Whether the connection is closed (the client went away).
    pub fn is_closed(&self) -> bool {
        self.conn.stream.closed()
    }

    /// Runs `f` if the connection closes before this response finishes (Tornado's
    /// `on_connection_close`).
    pub fn set_close_callback<F: FnOnce() + 'static>(&self, f: F) {
        if self.is_closed() {
            f();
        } else {
            *self.conn.close_callback.borrow_mut() = Some(Box::new(f));
        }
    }

    /// Treats the client's end of input (EOF) while this response is pending as the client
    /// leaving: the connection closes and the close callback runs. For long polls; by default a
    /// half-closed client still gets its response.
    pub fn close_on_client_eof(&self) {
        self.conn.close_on_eof.set(true);
        if self.conn.stream.at_eof() {
            self.conn.stream.close();
        }
    }

    /// Sends a complete response: status, headers, `Content-Length` and body.
    pub fn respond(self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        let _ = self.complete(
            status,
            None,
            headers.iter().copied(),
            Some(body.len() as u64),
            true,
            body,
        );
    }

    /// Writes the status line and headers. `content_length` `None` means the length is not
    /// known yet: the body is chunked (HTTP/1.1) or close-delimited (HTTP/1.0).
    ///
    /// `Date` is added unless given; `Content-Length`, `Transfer-Encoding` and `Connection`
    /// are the server's to write (a `Connection: close` among `headers` is honoured, and a
    /// `Content-Length` among them is used when `content_length` is `None`). Headers whose
    /// name or value holds CR, LF or NUL are refused (logged and dropped): no response
    /// splitting.
    ///
    /// # Errors
    ///
    /// [`ResponseError::HeadAlreadyWritten`] or [`ResponseError::Closed`].
    pub fn write_head<'a, I>(
        &mut self,
        status: u16,
        reason: Option<&str>,
        headers: I,
        content_length: Option<u64>,
    ) -> Result<(), ResponseError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        self.write_head_inner(status, reason, headers, content_length, true, &[])
            .map(drop)
    }

    /// [`write_head`](Responder::write_head) for headers the caller has already validated
    /// (the web layer checks each one when it is set), sparing a second scan per response.
    pub(crate) fn write_head_validated<'a, I>(
        &mut self,
        status: u16,
        reason: Option<&str>,
        headers: I,
        content_length: Option<u64>,
    ) -> Result<(), ResponseError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        self.write_head_inner(status, reason, headers, content_length, false, &[])
            .map(drop)
    }

    /// The whole response at once: `write_head`, `write(body)` and `finish`, with the body
    /// appended under the same buffer borrow as the head when it matches the framing (the usual
    /// case), and through `write` otherwise.
    pub(crate) fn complete<'a, I>(
        mut self,
        status: u16,
        reason: Option<&str>,
        headers: I,
        content_length: Option<u64>,
        validate: bool,
        body: &[u8],
    ) -> Result<(), ResponseError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let written =
            self.write_head_inner(status, reason, headers, content_length, validate, body)?;
        if !written {
            self.write(body)?;
        }
        self.finish()
    }

    fn write_head_inner<'a, I>(
        &mut self,
        status: u16,
        reason: Option<&str>,
        headers: I,
        content_length: Option<u64>,
        validate: bool,
        body: &[u8],
    ) -> Result<bool, ResponseError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        if self.head_written {
            return Err(ResponseError::HeadAlreadyWritten);
        }
        if self.is_closed() {
            return Err(ResponseError::Closed);
        }
        self.head_written = true;
        self.status = status;
        let cur = self.conn.current.get();
        let conn = &self.conn;
        let now = conn.stream.io_loop().time();
        let mut chunked = false;
        let mut keep_alive = cur.keep_alive;
        let mut declared = content_length;
        let no_body_status = status < 200 || status == 204 || status == 304;
        let body_written = conn.stream.with_write_buffer(|w| {
            write_status_line(w, cur.version, status, reason);
            let mut has_date = false;
            for (name, value) in headers {
                if validate && !header_ok(name, value) {
                    log::error!("squall: refused response header {name:?} (CR, LF or NUL)");
                    continue;
                }
                // The names the server handles, told apart by length before comparing.
                match name.len() {
                    14 if name.eq_ignore_ascii_case("content-length") => {
                        if declared.is_none() {
                            declared = value.trim().parse().ok();
                        }
                        continue;
                    }
                    17 if name.eq_ignore_ascii_case("transfer-encoding") => continue,
                    10 if name.eq_ignore_ascii_case("connection") => {
                        if value
                            .split(',')
                            .any(|t| t.trim().eq_ignore_ascii_case("close"))
                        {
                            keep_alive = false;
                        }
                        continue;
                    }
                    4 if name.eq_ignore_ascii_case("date") => has_date = true,
                    _ => {}
                }
                w.extend_from_slice(name.as_bytes());
                w.extend_from_slice(b": ");
                w.extend_from_slice(value.as_bytes());
                w.extend_from_slice(b"\r\n");
            }
            if !has_date {
                conn.server.write_date_line(now, w);
            }
            if no_body_status {
                if status == 304 {
                    // A 304 may repeat the representation's length (RFC 9110 §8.6); no body.
                    if let Some(n) = declared.filter(|&n| n > 0) {
                        w.extend_from_slice(b"Content-Length: ");
                        write_u64(w, n);
                        w.extend_from_slice(b"\r\n");
                    }
                }
                declared = Some(0);
            } else if let Some(n) = declared {
                w.extend_from_slice(b"Content-Length: ");
                write_u64(w, n);
                w.extend_from_slice(b"\r\n");
            } else if cur.is_head {
                // Length unknown and no body follows: no framing header needed.
            } else if cur.version == Version::Http11 {
                w.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                chunked = true;
            } else {
                // HTTP/1.0 cannot chunk: the body ends when the connection does.
                keep_alive = false;
            }
            if !keep_alive {
                w.extend_from_slice(b"Connection: close\r\n");
            } else if cur.version == Version::Http10 {
                w.extend_from_slice(b"Connection: keep-alive\r\n");
            }
            w.extend_from_slice(b"\r\n");
            // `write(body)` folded in when it cannot fail: the body is dropped (no body) or
            // is exactly the declared length (so neither chunked nor too long).
            let no_body = no_body_status || cur.is_head;
            let body_fits = no_body || declared == Some(body.len() as u64);
            if body_fits && !no_body {
                w.extend_from_slice(body);
            }
            body_fits
        });
        self.chunked = chunked;
        self.no_body = no_body_status || cur.is_head;
        self.declared = if no_body_status { Some(0) } else { declared };
        self.keep_alive = keep_alive;
        if body_written {
            self.written = body.len() as u64;
        }
        Ok(body_written)
    }

    /// Appends body bytes (chunk-framed if the body is chunked). Nothing is sent until the
    /// batch ends, [`flush`](Responder::flush) or [`finish`](Responder::finish).
    ///
    /// # Errors
    ///
    /// [`ResponseError::HeadNotWritten`], [`ResponseError::Closed`], or
    /// [`ResponseError::TooLong`] (the connection is then closed).
    pub fn write(&mut self, data: &[u8]) -> Result<(), ResponseError> {
        if !self.head_written {
            return Err(ResponseError::HeadNotWritten);
        }
        if self.is_closed() {
            return Err(ResponseError::Closed);
        }
        if data.is_empty() {
            return Ok(());
        }
        let total = self.written + data.len() as u64;
        if !self.no_body && self.declared.is_some_and(|n| total > n) {
            self.fail_midway("body longer than Content-Length");
            return Err(ResponseError::TooLong);
        }
        self.written = total;
        if self.no_body {
            return Ok(());
        }
        let chunked = self.chunked;
        self.conn.stream.with_write_buffer(|w| {
            if chunked {
                write_hex(w, data.len() as u64);
                w.extend_from_slice(b"\r\n");
                w.extend_from_slice(data);
                w.extend_from_slice(b"\r\n");
            } else {
                w.extend_from_slice(data);
            }
        });
        Ok(())
    }

    /// Sends what has been written so far now (streaming).
    pub fn flush(&self) {
        if !self.is_closed() {
            self.conn.stream.flush();
        }
    }

    /// Sends what has been written and resolves once the kernel has taken it: awaiting this
    /// between pieces of a large body keeps memory bounded.
    ///
    /// # Errors
    ///
    /// [`StreamError::Closed`] if the client went away.
    pub async fn drain(&self) -> Result<(), StreamError> {
        self.conn.stream.flush();
        self.conn.stream.wait_flushed().await
    }

    /// Completes the response. Without a declared length, the terminating chunk is sent (or,
    /// close-delimited, the connection closes).
    ///
    /// # Errors
    ///
    /// [`ResponseError::TooShort`] if fewer bytes than the declared `Content-Length` were
    /// written (the connection is closed), [`ResponseError::Closed`] if the client left.
    pub fn finish(mut self) -> Result<(), ResponseError> {
        self.done = true;
        if self.is_closed() {
            return Err(ResponseError::Closed);
        }
        if !self.head_written {
            self.write_head(200, None, std::iter::empty(), Some(0))?;
        }
        if let Some(n) = self.declared {
            if self.written < n && !self.no_body {
                self.fail_midway("body shorter than Content-Length");
                return Err(ResponseError::TooShort);
            }
        }
        if self.chunked {
            self.conn
                .stream
                .with_write_buffer(|w| w.extend_from_slice(b"0\r\n\r\n"));
        }
        self.log_access();
        // `self` owns its connection until it returns: no clone needed.
        self.conn.response_finished(self.seq, self.keep_alive);
        Ok(())
    }

    /// Abandons the response: the connection is closed without completing it.
    pub fn abort(mut self) {
        self.done = true;
        self.fail_midway("response aborted");
    }

    fn fail_midway(&mut self, why: &str) {
        self.done = true;
        log::error!("squall: {why}; closing the connection");
        // Send what is valid so far, then close: the client sees a truncated response.
        self.conn.stream.flush();
        self.conn.stream.close();
    }

    fn log_access(&self) {
        let conn = &self.conn;
        let Some(start) = conn.log_start.take() else {
            return;
        };
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let level = match self.status {
            0..=399 => log::Level::Info,
            400..=499 => log::Level::Warn,
            _ => log::Level::Error,
        };
        log::log!(
            target: "squall::access",
            level,
            "{} {} ({}) {:.2}ms",
            self.status,
            conn.log_line.borrow(),
            conn.remote_ip.get(),
            ms
        );
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if self.done || self.is_closed() {
            return;
        }
        if self.head_written {
            self.fail_midway("response dropped before finish");
            return;
        }
        log::error!("squall: response dropped without being written; answering 500");
        let ok = self.write_head(500, None, [("Content-Type", "text/plain")], Some(21));
        if ok.is_ok() && self.write(b"Internal Server Error").is_ok() {
            self.done = true;
            self.log_access();
            let conn = self.conn.clone();
            conn.response_finished(self.seq, self.keep_alive);
        }
    }
}

/// Whether a response header may be sent: a non-empty name without controls, space, `:` or
/// DEL, and a value without CR, LF or NUL (no response splitting).
fn header_ok(name: &str, value: &str) -> bool {
    !name.is_empty()
        && !any_word(name.as_bytes(), bad_name_bytes, bad_name_byte)
        && !any_word(value.as_bytes(), bad_value_bytes, bad_value_byte)
}

fn bad_name_byte(b: u8) -> bool {
    b <= b' ' || b == b':' || b == 0x7f
}

fn bad_value_byte(b: u8) -> bool {
    b == b'\r' || b == b'\n' || b == 0
}

const LO: u64 = u64::from_ne_bytes([0x01; 8]);
const HI: u64 = u64::from_ne_bytes([0x80; 8]);

/// Nonzero iff some byte of `x` is below `n` (exact for n <= 128; bit-twiddling "hasless").
fn has_less(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LO * n as u64) & !x & HI
}

/// Nonzero iff some byte of `x` equals `n`.
fn has_byte(x: u64, n: u8) -> u64 {
    has_less(x ^ (LO * n as u64), 1)
}

fn bad_name_bytes(x: u64) -> u64 {
    has_less(x, b' ' + 1) | has_byte(x, b':') | has_byte(x, 0x7f)
}

fn bad_value_bytes(x: u64) -> u64 {
    has_byte(x, 0) | has_byte(x, b'\r') | has_byte(x, b'\n')
}

/// Whether any byte of `s` is flagged, eight bytes at a time (`word` tells whether a word holds
/// such a byte, `byte` tests one byte). Words may overlap at the end: only existence matters.
fn any_word(s: &[u8], word: fn(u64) -> u64, byte: fn(u8) -> bool) -> bool {
    if s.len() < 8 {
        return s.iter().any(|&b| byte(b));
    }
    let load = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
    let mut found = 0;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        found |= word(load(c));
    }
    if !chunks.remainder().is_empty() {
        found |= word(load(&s[s.len() - 8..]));
    }
    found != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_without_format() {
        for n in (0u64..20_000).chain([99_999, 100_000, 12345, u64::MAX]) {
            let mut w = Vec::new();
            write_u64(&mut w, n);
            assert_eq!(w, n.to_string().as_bytes());
            let mut h = Vec::new();
            write_hex(&mut h, n);
            assert_eq!(h, format!("{n:x}").as_bytes());
        }
    }

    #[test]
    fn header_checks_match_the_byte_rules() {
        let bad_name = |s: &[u8]| s.iter().any(|&b| b <= b' ' || b == b':' || b == 0x7f);
        let bad_value = |s: &[u8]| s.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0);
        for len in 1..20 {
            for pos in 0..len {
                for b in 0..=255u8 {
                    // Neighbours that stress the borrows of the word tricks.
                    for next in [b'a', 0x00, 0x80, 0xff] {
                        let mut s = vec![b'a'; len];
                        s[pos] = b;
                        if pos + 1 < len {
                            s[pos + 1] = next;
                        }
                        assert_eq!(
                            any_word(&s, bad_name_bytes, bad_name_byte),
                            bad_name(&s),
                            "name {s:?}"
                        );
                        assert_eq!(
                            any_word(&s, bad_value_bytes, bad_value_byte),
                            bad_value(&s),
                            "value {s:?}"
                        );
                    }
                }
            }
        }
        assert!(!header_ok("", "v"));
        assert!(!header_ok(
            "X-Long-Header-Name",
            "a value that is long\r\nX: y"
        ));
        assert!(!header_ok("X-Long Header-Name", "v"));
        assert!(header_ok("X-\u{dc}n\u{ef}code", "v\u{e4}lue ok"));
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
