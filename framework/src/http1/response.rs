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

use super::wire::{
    header_ok, is_name, put_all, write_content_length, write_hex, write_status_line,
};
use super::{Conn, Version};
use crate::iostream::StreamError;

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
            self.conn.close_callback.set(Some(Box::new(f)));
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
        self.conn.response_finished(self.seq, self.keep_alive);
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
        let cur = self.conn.current.get();
        let conn = &*self.conn;
        let now = conn.stream.io_loop().time();
        let no_body_status = status < 200 || status == 204 || status == 304;
        let no_body = no_body_status || cur.is_head;
        let mut chunked = false;
        let mut keep_alive = cur.keep_alive;
        let mut declared = content_length;
        let written = conn.stream.with_open_write_buffer(|w| {
            write_status_line(w, cur.version, status, reason);
            let mut has_date = false;
            for (name, value) in headers {
                if validate && !header_ok(name, value) {
                    refused(name);
                    continue;
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
                conn.server.write_date_line(now, w);
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
            } else if cur.is_head {
                // Length unknown and no body follows: no framing header needed.
            } else if cur.version == Version::Http11 {
                w.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                chunked = true;
            } else {
                // HTTP/1.0 cannot chunk: the body ends when the connection does.
                keep_alive = false;
            }
            if keep_alive {
                if cur.version == Version::Http10 {
                    w.extend_from_slice(b"Connection: keep-alive\r\n");
                }
                w.extend_from_slice(b"\r\n");
            } else {
                w.extend_from_slice(b"Connection: close\r\n\r\n");
            }
            // `write(body)` folded in when it cannot fail: the body is dropped (no body) or
            // is exactly the declared length (so neither chunked nor too long).
            if no_body {
                return true;
            }
            let fits = declared == Some(body.len() as u64);
            if fits {
                put_all(w, [body]);
            }
            fits
        });
        let Some(body_written) = written else {
            self.head_written = false;
            return Err(ResponseError::Closed);
        };
        self.status = status;
        self.chunked = chunked;
        self.no_body = no_body;
        self.declared = declared;
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

    #[inline]
    fn log_access(&self) {
        let conn = &self.conn;
        let Some(start) = conn.log_start.take() else {
            return;
        };
        self.log_access_line(start);
    }

    #[cold]
    #[inline(never)]
    fn log_access_line(&self, start: std::time::Instant) {
        let conn = &self.conn;
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

/// A 304's `Content-Length`, out of line: rare, and the inlined writer is large.
#[inline(never)]
fn not_modified_length(w: &mut Vec<u8>, n: u64) {
    write_content_length(w, n);
}

/// Out of the header loop: logging is formatting code the common path never runs.
#[cold]
fn refused(name: &str) {
    log::error!("squall: refused response header {name:?} (CR, LF or NUL)");
}

impl Drop for Responder {
    #[inline]
    fn drop(&mut self) {
        // Inlined so a finished response (every one but a broken handler's) costs one test.
        if !self.done {
            self.drop_unfinished();
        }
    }
}

impl Responder {
    #[cold]
    #[inline(never)]
    fn drop_unfinished(&mut self) {
        if self.is_closed() {
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
