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
//!
//! ### The connection
//!
//! A responder reaches its connection only through the connection's narrow interface (its
//! stream, its server, `finish_response`, the departure callbacks, `hand_off`); everything
//! about the response itself — its framing, its status, its access-log entry — is the
//! responder's. What it needs of the request (version, HEAD, keep-alive) it copies when the
//! request is dispatched; whether the server is draining it asks when it writes the head.
//!
//! ### Switching protocols
//!
//! [`Responder::upgrade`] ends HTTP on the connection (`response/upgrade.rs`): see its docs
//! and the `http1` module docs.

use std::fmt;
use std::mem::ManuallyDrop;
use std::rc::Rc;

use super::access_log::AccessEntry;
use super::conn::Conn;
use super::method::MethodKind;
use super::wire::{is_name, put_all, write_content_length, write_hex, write_status_line};
use super::{Request, Version};
use crate::httputil::{header_ok, validate_header_name, validate_header_value, InvalidHeader};
use crate::iostream::{IOStream, StreamError};

mod upgrade;

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
    /// [`upgrade`](Responder::upgrade) on an HTTP/1.0 request, which cannot switch protocols
    /// (RFC 9110 §15.2: no 1xx response to an HTTP/1.0 client).
    NotUpgradable,
    /// A header that is not one Squall may send (the rule is
    /// [`validate_header_name`](crate::httputil::validate_header_name) /
    /// [`validate_header_value`](crate::httputil::validate_header_value)): nothing of the head
    /// was written, and the responder is as it was before the call.
    InvalidHeader {
        /// The refused header's name, as given.
        name: String,
        /// Which byte broke the rule.
        error: InvalidHeader,
    },
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let ResponseError::InvalidHeader { name, error } = self {
            return write!(f, "refused response header {name:?}: {error}");
        }
        f.write_str(match self {
            ResponseError::HeadAlreadyWritten => "response head already written",
            ResponseError::HeadNotWritten => "response body written before its head",
            ResponseError::TooLong => "response body longer than its Content-Length",
            ResponseError::TooShort => "response finished before its Content-Length was written",
            ResponseError::Closed => "connection closed",
            ResponseError::NotUpgradable => "an HTTP/1.0 request cannot switch protocols",
            ResponseError::InvalidHeader { .. } => "refused response header",
        })
    }
}

impl std::error::Error for ResponseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ResponseError::InvalidHeader { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Writes the response to one request. Obtained from
/// [`HttpDelegate::handle`](super::HttpDelegate::handle).
///
/// Dropping a responder before [`finish`](Responder::finish) answers 500 if nothing was sent
/// yet, and otherwise closes the connection (the response cannot be completed truthfully).
pub struct Responder {
    conn: Rc<Conn>,
    /// The request's sequence number on its connection.
    seq: u32,
    /// The body length the head declared, if `length_declared` (two fields, not an
    /// `Option<u64>`: the responder is moved a few times per request, and 48 bytes move
    /// cheaper than 64).
    declared: u64,
    written: u64,
    /// This request's access-log line, when logging (see `access_log`). Taken when the line
    /// is written; dropped by hand otherwise (in `drop_unfinished`), so that a finished
    /// response's drop stays one inlined test.
    log: ManuallyDrop<Option<Box<AccessEntry>>>,
    status: u16,
    version: Version,
    is_head: bool,
    /// Before the head: whether the request allows keep-alive; after: whether this response
    /// keeps the connection.
    keep_alive: bool,
    head_written: bool,
    length_declared: bool,
    chunked: bool,
    no_body: bool,
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
    /// The responder to `request`, the `seq`th on `conn`.
    #[inline(always)]
    pub(super) fn new(conn: Rc<Conn>, request: &Request, seq: u32) -> Responder {
        let server = conn.server();
        let log = ManuallyDrop::new(server.access.start(server.options.access_log, request));
        let parts = &request.parts;
        Responder {
            seq,
            declared: 0,
            written: 0,
            log,
            status: 0,
            version: parts.version,
            is_head: parts.method == MethodKind::Head,
            keep_alive: parts.keep_alive,
            head_written: false,
            length_declared: false,
            chunked: false,
            no_body: false,
            done: false,
            conn,
        }
    }

    /// The request's HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Whether the request was HEAD (body bytes will be dropped).
    pub fn is_head(&self) -> bool {
        self.is_head
    }

    /// Whether the head has been written.
    pub fn head_written(&self) -> bool {
        self.head_written
    }

    /// Whether the connection is closed (the client went away).
    pub fn is_closed(&self) -> bool {
        self.conn.stream().closed()
    }

    /// Runs `f` if the connection closes before this response finishes (Tornado's
    /// `on_connection_close`).
    pub fn set_close_callback<F: FnOnce() + 'static>(&self, f: F) {
        if self.is_closed() {
            f();
        } else {
            self.conn.on_departure(Box::new(f));
        }
    }

    /// Treats the client's end of input (EOF) while this response is pending as the client
    /// leaving: the connection closes and the close callback runs. For long polls; by default a
    /// half-closed client still gets its response.
    pub fn close_on_client_eof(&self) {
        self.conn.close_on_client_eof();
    }

    /// Sends a complete response: status, headers, `Content-Length` and body.
    ///
    /// A header Squall may not send (see [`write_head`](Responder::write_head)) is logged and
    /// the client gets a 500 instead of this response.
    pub fn respond(self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        let _ = self.complete(
            status,
            None,
            headers.iter().copied(),
            &[],
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
    /// `Content-Length` among them is used when `content_length` is `None`).
    ///
    /// Every header must be one Squall may send: a name that is an RFC 9110 token and a value
    /// without CR, LF, NUL or another control (the rule of
    /// [`validate_header_name`](crate::httputil::validate_header_name) and
    /// [`validate_header_value`](crate::httputil::validate_header_value); no response
    /// splitting). If one is not, nothing of the head is written, the refusal is logged and
    /// the call fails: the responder is unchanged, so it can write a head again, and dropped
    /// without one it answers 500.
    ///
    /// # Errors
    ///
    /// [`ResponseError::InvalidHeader`], [`ResponseError::HeadAlreadyWritten`] or
    /// [`ResponseError::Closed`].
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
        self.write_head_inner(status, reason, headers, &[], content_length, true, &[])
            .map(drop)
    }

    /// [`write_head`](Responder::write_head) for headers the caller has already validated
    /// (the web layer checks each one when it is set), sparing a second scan per response.
    /// `lines` are whole header lines (`Name: value\r\n`, valid, none of the server's own)
    /// written after `headers`: the ones the web layer adds itself, kept ready-made.
    pub(crate) fn write_head_validated<'a, I>(
        &mut self,
        status: u16,
        reason: Option<&str>,
        headers: I,
        lines: &[&[u8]],
        content_length: Option<u64>,
    ) -> Result<(), ResponseError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        self.write_head_inner(status, reason, headers, lines, content_length, false, &[])
            .map(drop)
    }

    /// The whole response at once: `write_head`, `write(body)` and `finish`, with the body
    /// appended under the same buffer borrow as the head when it matches the framing (the usual
    /// case), and through `write` otherwise. `lines` as for
    /// [`write_head_validated`](Responder::write_head_validated).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn complete<'a, I>(
        mut self,
        status: u16,
        reason: Option<&str>,
        headers: I,
        lines: &[&[u8]],
        content_length: Option<u64>,
        validate: bool,
        body: &[u8],
    ) -> Result<(), ResponseError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let written = self.write_head_inner(
            status,
            reason,
            headers,
            lines,
            content_length,
            validate,
            body,
        )?;
        if !written {
            self.write(body)?;
            return self.finish();
        }
        // The head and exactly the declared body (or none) are written and nothing has run
        // since the head found the connection open: all `finish` would check holds.
        self.done = true;
        self.log_access();
        self.conn.finish_response(self.seq, self.keep_alive);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn write_head_inner<'a, I>(
        &mut self,
        status: u16,
        reason: Option<&str>,
        headers: I,
        lines: &[&[u8]],
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
        // (Whether the connection is closed is checked under the write buffer's borrow.)
        // Set first: should a caller's header iterator panic midway, the drop then closes
        // the connection instead of writing a second head after the partial one.
        self.head_written = true;
        let conn = &*self.conn;
        let server = conn.server();
        let stream = conn.stream();
        let now = stream.io_loop().time();
        let (version, is_head) = (self.version, self.is_head);
        let no_body_status = status < 200 || status == 204 || status == 304;
        let no_body = no_body_status || is_head;
        let mut chunked = false;
        // (A graceful shutdown started since dispatch makes this the connection's last.)
        let mut keep_alive = self.keep_alive && !server.draining.get();
        let mut declared = content_length;
        let written = stream.with_open_write_buffer(|w| {
            let start = w.len();
            write_status_line(w, version, status, reason);
            let mut has_date = false;
            for (name, value) in headers {
                if validate && !header_ok(name, value) {
                    // Nothing of this head goes out.
                    w.truncate(start);
                    return Err(refused(name, value));
                }
                // The names the server handles, told apart by length before comparing.
                match name.len() {
                    14 if is_name(name.as_bytes(), b"content-length") => {
                        if declared.is_none() {
                            declared = value.trim().parse().ok();
                        }
                        continue;
                    }
                    17 if is_name(name.as_bytes(), b"transfer-encoding") => continue,
                    10 if is_name(name.as_bytes(), b"connection") => {
                        if value
                            .split(',')
                            .any(|t| t.trim().eq_ignore_ascii_case("close"))
                        {
                            keep_alive = false;
                        }
                        continue;
                    }
                    4 if is_name(name.as_bytes(), b"date") => has_date = true,
                    _ => {}
                }
                put_all(w, [name.as_bytes(), b": ", value.as_bytes(), b"\r\n"]);
            }
            for line in lines {
                put_all(w, [line]);
            }
            if !has_date {
                server.write_date_line(now, w);
            }
            if no_body_status {
                if status == 304 {
                    // A 304 may repeat the representation's length (RFC 9110 §8.6); no body.
                    if let Some(n) = declared.filter(|&n| n > 0) {
                        not_modified_length(w, n);
                    }
                }
                declared = Some(0);
            } else if let Some(n) = declared {
                write_content_length(w, n);
            } else if is_head {
                // Length unknown and no body follows: no framing header needed.
            } else if version == Version::Http11 {
                w.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                chunked = true;
            } else {
                // HTTP/1.0 cannot chunk: the body ends when the connection does.
                keep_alive = false;
            }
            if keep_alive {
                if version == Version::Http10 {
                    w.extend_from_slice(b"Connection: keep-alive\r\n");
                }
                w.extend_from_slice(b"\r\n");
            } else {
                w.extend_from_slice(b"Connection: close\r\n\r\n");
            }
            // `write(body)` folded in when it cannot fail: the body is dropped (no body) or
            // is exactly the declared length (so neither chunked nor too long).
            if no_body {
                return Ok(true);
            }
            let fits = declared == Some(body.len() as u64);
            if fits {
                put_all(w, [body]);
            }
            Ok(fits)
        });
        let body_written = match written {
            Some(Ok(fits)) => fits,
            Some(Err(refusal)) => {
                self.head_written = false;
                return Err(refusal);
            }
            None => {
                self.head_written = false;
                return Err(ResponseError::Closed);
            }
        };
        self.status = status;
        self.chunked = chunked;
        self.no_body = no_body;
        self.length_declared = declared.is_some();
        self.declared = declared.unwrap_or(0);
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
        if !self.no_body && self.length_declared && total > self.declared {
            self.fail_midway("body longer than Content-Length");
            return Err(ResponseError::TooLong);
        }
        self.written = total;
        if self.no_body {
            return Ok(());
        }
        let chunked = self.chunked;
        self.conn.stream().with_write_buffer(|w| {
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
            self.conn.stream().flush();
        }
    }

    /// Sends what has been written and resolves once the kernel has taken it: awaiting this
    /// between pieces of a large body keeps memory bounded.
    ///
    /// # Errors
    ///
    /// [`StreamError::Closed`] if the client went away.
    pub async fn drain(&self) -> Result<(), StreamError> {
        self.conn.stream().flush();
        self.conn.stream().wait_flushed().await
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
        if self.length_declared && self.written < self.declared && !self.no_body {
            self.fail_midway("body shorter than Content-Length");
            return Err(ResponseError::TooShort);
        }
        if self.chunked {
            self.conn
                .stream()
                .with_write_buffer(|w| w.extend_from_slice(b"0\r\n\r\n"));
        }
        self.log_access();
        // `self` owns its connection until it returns: no clone needed.
        self.conn.finish_response(self.seq, self.keep_alive);
        Ok(())
    }

    /// Abandons the response: the connection is closed without completing it.
    pub fn abort(mut self) {
        self.done = true;
        self.fail_midway("response aborted");
    }

    /// Switches the connection to another protocol (WebSocket, say; RFC 9110 §7.8): writes
    /// `101 Switching Protocols` with `headers` — the caller's `Upgrade` and `Connection:
    /// Upgrade` among them, written as given — and a `Date`, flushes it, ends HTTP processing
    /// on the connection and returns its stream.
    ///
    /// The stream is then the caller's alone: HTTP no longer parses it, times it out, runs a
    /// close callback for it or counts it for graceful shutdown. Every byte the client sent
    /// after this request's head (the new protocol's first frames) is still unread in its read
    /// buffer ([`IOStream::read_buffered`]): attach a protocol with
    /// [`IOStream::set_protocol`] and look at the buffer once before waiting for readiness,
    /// or read with the stream's futures, which are served from the buffer first. The read
    /// buffer keeps HTTP's bound (`max_header_size` plus 64 KiB) until
    /// [`IOStream::set_max_buffer_size`] changes it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use squall::http1::{Request, Responder};
    ///
    /// fn handle(req: Request, res: Responder) {
    ///     if req.header("Upgrade") == Some("echo") {
    ///         if let Ok(stream) = res.upgrade([("Upgrade", "echo"), ("Connection", "Upgrade")]) {
    ///             squall::task::spawn(async move {
    ///                 while let Ok(line) = stream.read_until(b"\n", 1024).await {
    ///                     if stream.write(&line).await.is_err() {
    ///                         break;
    ///                     }
    ///                 }
    ///             });
    ///         }
    ///         return;
    ///     }
    ///     res.respond(426, &[("Upgrade", "echo")], b"");
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ResponseError::NotUpgradable`] for an HTTP/1.0 request, which cannot switch
    /// protocols (check [`version`](Responder::version) first to answer it yourself),
    /// [`ResponseError::InvalidHeader`] for a header Squall may not send (as
    /// [`write_head`](Responder::write_head); nothing is written),
    /// [`ResponseError::HeadAlreadyWritten`], or [`ResponseError::Closed`]. The responder is
    /// consumed either way: unless the 101 was sent, it is dropped as usual (500 if nothing
    /// was written, else the connection closes).
    pub fn upgrade<'a, I>(self, headers: I) -> Result<IOStream, ResponseError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        self.switch_protocols(headers)
    }

    fn fail_midway(&mut self, why: &str) {
        self.done = true;
        log::error!("squall: {why}; closing the connection");
        // Send what is valid so far, then close: the client sees a truncated response.
        self.conn.stream().flush();
        self.conn.stream().close();
    }

    /// Writes this response's access-log line, if one was started.
    #[inline]
    fn log_access(&mut self) {
        if let Some(entry) = self.log.take() {
            self.conn.server().access.finish(entry, self.status);
        }
    }
}

/// A 304's `Content-Length`, out of line: rare, and the inlined writer is large.
#[inline(never)]
fn not_modified_length(w: &mut Vec<u8>, n: u64) {
    write_content_length(w, n);
}

/// A header that failed [`header_ok`], as the error that says why, logged. Out of the header
/// loop: logging is formatting code the common path never runs.
#[cold]
#[inline(never)]
fn refused(name: &str, value: &str) -> ResponseError {
    let error = match validate_header_name(name) {
        Err(e) => e,
        Ok(()) => validate_header_value(value)
            .err()
            .unwrap_or(InvalidHeader::EmptyName),
    };
    let refusal = ResponseError::InvalidHeader {
        name: name.to_owned(),
        error,
    };
    log::error!("squall: {refusal}; nothing of the response head was written");
    refusal
}

impl Drop for Responder {
    #[inline]
    fn drop(&mut self) {
        // Inlined so a finished response (every one but a broken handler's) costs one test.
        if !self.done || self.log.is_some() {
            self.drop_unfinished();
        }
    }
}

impl Responder {
    #[cold]
    #[inline(never)]
    fn drop_unfinished(&mut self) {
        self.drop_unfinished_response();
        // An entry not written (the response failed midway, or was never made) is freed.
        // SAFETY: `log` is not used again: this is the responder's drop.
        unsafe { ManuallyDrop::drop(&mut self.log) };
    }

    fn drop_unfinished_response(&mut self) {
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
            conn.finish_response(self.seq, self.keep_alive);
        }
    }
}
