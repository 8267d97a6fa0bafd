//! HTTP/1.1 connections: [`Request`] parsing, body decoding, keep-alive, pipelining, timeouts,
//! and the [`Responder`] that writes each response.
//!
//! One `Http1Connection` serves one socket. It is event-driven (a
//! [`StreamProtocol`]), not a task: when bytes arrive it
//! parses every complete request in the read buffer, hands each to the [`HttpDelegate`], and
//! lets all the responses of that batch leave in one write.
//!
//! ### Ordering
//!
//! Requests on a connection are answered strictly in order. While a response is pending (an
//! async handler), later pipelined requests wait in the read buffer, which is bounded: reading
//! pauses when it is full. Output is bounded the same way: while more than
//! `WRITE_HIGH_WATER` bytes of responses wait for a client that does not read them, no further
//! request is taken, so the read buffer fills and reading pauses.
//!
//! ### Framing and errors
//!
//! Anything the server cannot frame without guessing (both Content-Length and
//! Transfer-Encoding, differing lengths, unknown transfer codings, obs-fold, control
//! characters, a missing Host) is answered with 400 and the connection closed; so are limits
//! (413 body, 414 target, 431 head). The server keeps serving every other connection.
//!
//! ### Closing
//!
//! A connection that closes while the client may still be sending (bad input refused, or
//! requests left unanswered behind a `Connection: close` or a graceful shutdown) lingers
//! (RFC 9112 §9.6): its write side is shut once the response is out, and input is read and
//! dropped until the client closes or `linger_timeout` passes. Closing with input unread would
//! have the kernel reset the connection, which can destroy the response before the client has
//! read it. Any other close is immediate.
//!
//! ### Absolute-form targets
//!
//! `GET http://host/path HTTP/1.1` is served like `GET /path` with the target's authority as
//! the host, which RFC 9112 §3.2.2 requires of a server (see [`Request::host`]).
//!
//! ### Timeouts
//!
//! One timer per connection, re-armed lazily: the connection stores a deadline (header, idle
//! or body) and the timer, when it fires early, re-arms itself for the current deadline. A
//! request therefore costs no timer operation at all.

mod chunked;
mod fields;
mod parse;
mod request;
mod request_line;
mod response;
mod response_parse;
mod server;
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod simd;
mod timeouts;
mod wire;

/// Fuzzing entry points for `framework/fuzz`: **not part of the API** (hidden, no stability
/// promise).
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

#[doc(hidden)]
pub use request::MethodKind;
pub use request::{BodySink, ExtensionMethod, Method, Request, RequestBuilder, Version};
pub use response::{Responder, ResponseError};
pub(crate) use server::ServerCore;
pub use server::{BodyMode, HttpDelegate, HttpServerOptions};
pub use wire::reason_phrase;

pub(crate) use parse::MAX_HEADERS;
pub(crate) use response_parse::{
    scan_response_head, BodyDecoder, BodyError, BodyFraming, HeadError, ResponseHead, ResponseScan,
};

use std::cell::{Cell, RefCell};
use std::fmt;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::{Rc, Weak};
use std::time::Instant;

use crate::ioloop::Timeout;
use crate::iostream::{IOStream, StreamProtocol};
use chunked::ChunkedDecoder;
use parse::{Framing, HeadLimits, Scan};

/// Output a connection may hold unsent before it stops taking new requests.
const WRITE_HIGH_WATER: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for (or reading) a request head.
    Head,
    /// Reading a request body.
    Body,
    /// The delegate has the request; its response is not finished.
    Dispatched,
    /// The last response is written; close once it is flushed.
    Closing,
    /// The output is flushed and the write side shut; input is read and dropped until the
    /// client closes or `linger_timeout` passes (see [`Conn::close_or_linger`]).
    Lingering,
}

/// A request whose body is being read.
struct BodyRead {
    request: Request,
    framing: BodyProgress,
}

enum BodyProgress {
    Length(u64),
    Chunked(ChunkedDecoder),
}

/// What the responder needs to know about the request it answers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Current {
    pub(crate) version: Version,
    pub(crate) is_head: bool,
    pub(crate) keep_alive: bool,
    pub(crate) seq: u64,
}

/// One HTTP/1.x connection.
pub(crate) struct Conn {
    pub(crate) stream: IOStream,
    pub(crate) server: Rc<ServerCore>,
    remote: SocketAddr,
    /// `remote.ip()`, worked out once: every request starts with it.
    peer_ip: std::net::IpAddr,
    phase: Cell<Phase>,
    searched: Cell<usize>,
    body: RefCell<Option<BodyRead>>,
    pub(crate) current: Cell<Current>,
    in_process: Cell<bool>,
    deadline: Cell<Option<Instant>>,
    /// The idle deadline is due but not yet set: a response finished inside `process`, which
    /// sets it once for the whole batch unless something sets a deadline first.
    idle_pending: Cell<bool>,
    head_started: Cell<bool>,
    /// Unsent output when last looked at by an idle deadline (see `sending_on`).
    pending_seen: Cell<usize>,
    timer: Cell<Option<(Timeout, Instant)>>,
    pub(crate) close_callback: Cell<Option<Box<dyn FnOnce()>>>,
    /// The current response's handler treats the client's EOF as its departure.
    pub(crate) close_on_eof: Cell<bool>,
    /// Bad input was refused: the client may still be sending (see `close_or_linger`).
    refused: Cell<bool>,
    /// "METHOD uri" of the current request, for the access log (kept only when logging).
    pub(crate) log_line: RefCell<String>,
    pub(crate) log_start: Cell<Option<Instant>>,
    pub(crate) remote_ip: Cell<std::net::IpAddr>,
    index: Cell<usize>,
    this: Weak<Conn>,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http1Connection")
            .field("remote", &self.remote)
            .field("phase", &self.phase.get())
            .finish()
    }
}

impl StreamProtocol for Conn {
    fn on_read(&self, _stream: &IOStream) {
        if self.phase.get() == Phase::Dispatched && self.stream.at_eof() && self.close_on_eof.get()
        {
            // The client stopped sending while its request is being handled. A 0-byte read
            // cannot tell a half-close (which still expects its responses) from a departure;
            // a handler that asked to hear of departures (a long poll with
            // on_connection_close) is told now, as Tornado does. Other responses are still
            // sent (RFC 9112 §9.6 half-close).
            self.stream.close();
            return;
        }
        if let Some(me) = self.me() {
            me.process();
        }
    }

    fn on_drain(&self, stream: &IOStream) {
        match self.phase.get() {
            Phase::Closing => match self.me() {
                Some(me) => me.close_or_linger(),
                None => stream.close(),
            },
            // Requests may be waiting for the output to drain (see WRITE_HIGH_WATER), or the
            // client may have finished sending meanwhile.
            Phase::Head => {
                if let Some(me) = self.me() {
                    me.process();
                }
            }
            Phase::Body | Phase::Dispatched | Phase::Lingering => {}
        }
    }

    fn on_close(&self, _stream: &IOStream) {
        if let Some((t, _)) = self.timer.take() {
            self.stream.io_loop().remove_timeout(t);
        }
        self.unregister();
        let cb = self.close_callback.take();
        if let Some(cb) = cb {
            crate::ioloop::run_guarded("on_connection_close", cb);
        }
    }
}

impl Conn {
    /// Starts serving `stream` for `server`.
    pub(crate) fn start(server: &Rc<ServerCore>, stream: IOStream, remote: SocketAddr) {
        let opts = &server.options;
        // Bounded read buffer: a head, plus room for pipelined requests behind it.
        stream.set_max_buffer_size(opts.max_header_size.max(16 * 1024) + 64 * 1024);
        let conn = Rc::new_cyclic(|this| Conn {
            stream: stream.clone(),
            server: server.clone(),
            remote,
            peer_ip: remote.ip(),
            phase: Cell::new(Phase::Head),
            searched: Cell::new(0),
            body: RefCell::new(None),
            current: Cell::new(Current {
                version: Version::Http11,
                is_head: false,
                keep_alive: false,
                seq: 0,
            }),
            in_process: Cell::new(false),
            deadline: Cell::new(None),
            idle_pending: Cell::new(false),
            head_started: Cell::new(false),
            pending_seen: Cell::new(usize::MAX),
            timer: Cell::new(None),
            close_callback: Cell::new(None),
            close_on_eof: Cell::new(false),
            refused: Cell::new(false),
            log_line: RefCell::new(String::new()),
            log_start: Cell::new(None),
            remote_ip: Cell::new(remote.ip()),
            index: Cell::new(0),
            this: this.clone(),
        });
        {
            let mut conns = server.conns.borrow_mut();
            conn.index.set(conns.len());
            conns.push(Rc::downgrade(&conn));
        }
        stream.set_protocol(Some(conn.clone()));
        let now = stream.io_loop().time();
        conn.set_deadline(opts.idle_timeout.map(|t| now + t));
        // Bytes may already be buffered (none for a fresh accept, but be general).
        if stream.read_buffered() > 0 {
            conn.process();
        }
    }

    fn me(&self) -> Option<Rc<Conn>> {
        self.this.upgrade()
    }

    fn unregister(&self) {
        {
            let mut conns = self.server.conns.borrow_mut();
            let i = self.index.get();
            if i < conns.len() && std::ptr::eq(conns[i].as_ptr(), self) {
                conns.swap_remove(i);
                if let Some(moved) = conns.get(i).and_then(Weak::upgrade) {
                    moved.index.set(i);
                }
            }
        }
        self.server.check_empty();
    }

    // ----- the request loop -----------------------------------------------------------------

    /// Parses and dispatches every complete request in the buffer, then flushes once.
    pub(crate) fn process(self: &Rc<Self>) {
        if self.in_process.replace(true) {
            return;
        }
        let mut blocked = false;
        loop {
            let more = match self.phase.get() {
                Phase::Head if self.stream.write_buffered() >= WRITE_HIGH_WATER => {
                    // The client is not reading its responses: take no more requests until
                    // they drain (on_drain resumes). The read buffer then fills and reading
                    // stops too, so a pipelining client cannot make us buffer without bound.
                    blocked = !self.stream.flush();
                    !blocked
                }
                Phase::Head => self.read_head(),
                Phase::Body => self.read_body(),
                Phase::Dispatched | Phase::Closing => false,
                Phase::Lingering => {
                    self.discard_input();
                    false
                }
            };
            if !more || self.stream.closed() {
                break;
            }
        }
        self.in_process.set(false);
        let idle_pending = self.idle_pending.replace(false);
        if self.stream.closed() {
            return;
        }
        if idle_pending {
            // Once per batch instead of once per pipelined response (see `response_finished`).
            let now = self.stream.io_loop().time();
            self.set_deadline(self.server.options.idle_timeout.map(|t| now + t));
        }
        // (Blocked: the flush just made found the kernel's buffer full; WRITE is watched.)
        let flushed = !blocked && self.stream.flush();
        if self.phase.get() == Phase::Closing && flushed {
            self.close_or_linger();
        }
    }

    /// Tries to read one request head. Returns whether to go on.
    fn read_head(self: &Rc<Self>) -> bool {
        let opts = &self.server.options;
        if self.stream.read_buffered() == 0 {
            if self.stream.at_eof() || self.server.draining.get() {
                self.close_when_flushed();
            }
            return false;
        }
        let now = self.stream.io_loop().time();
        // The header timeout runs from the first byte of the head, not from the last one. It
        // is armed (below) unless the head is complete and bodiless, when dispatch would
        // clear it at once.
        let fresh_head = !self.head_started.replace(true);
        let header_deadline = || {
            if fresh_head {
                self.set_deadline(opts.header_timeout.map(|t| now + t));
            }
        };
        let limits = HeadLimits {
            max_header_size: opts.max_header_size,
            max_request_line: opts.max_request_line,
        };
        let mut parts = self.server.pool.take();
        let searched = self.searched.get();
        let scan = self.stream.with_read_buffer(|buf| {
            match parse::scan_head(buf, searched, limits, &mut parts) {
                Scan::Complete(head) => (head.consumed, Scan::Complete(head)),
                other => (0, other),
            }
        });
        let head = match scan {
            Scan::Partial { searched } => {
                header_deadline();
                self.searched.set(searched);
                self.server.pool.give(parts);
                if self.stream.at_eof() {
                    // The client will never finish this head; responses to the requests
                    // before it are still in the write buffer and must go out first.
                    self.close_when_flushed();
                }
                return false;
            }
            Scan::Error(status) => {
                header_deadline();
                self.server.pool.give(parts);
                self.fail(status);
                return false;
            }
            Scan::Complete(head) => head,
        };
        self.searched.set(0);
        self.head_started.set(false);
        parts.remote_addr = self.remote;
        parts.remote_ip = self.peer_ip;
        parts.start = now;
        let mut request = Request::from_parts(parts, Some(self.server.pool.clone()));
        request.set_head(&head);
        request.parts.keep_alive = head.keep_alive && !opts.no_keep_alive;
        if opts.xheaders {
            apply_xheaders(&mut request);
        }
        if head.framing != Framing::None {
            header_deadline();
        }
        let progress = match head.framing {
            Framing::None => {
                self.dispatch(request);
                return true;
            }
            Framing::Length(n) if n > opts.max_body_size => {
                self.fail(413);
                return false;
            }
            Framing::Length(n) => BodyProgress::Length(n),
            Framing::Chunked => BodyProgress::Chunked(ChunkedDecoder::new(
                opts.max_body_size,
                opts.max_header_size,
            )),
        };
        // Delegate code: a panic here is answered like one in `handle` (500), not left to
        // unwind through the connection, which would wedge it mid-request.
        let mode = catch_unwind(AssertUnwindSafe(|| {
            self.server.delegate.body_mode(&request)
        }))
        .unwrap_or_else(|p| {
            log::error!(
                "squall: body_mode panicked: {}",
                crate::ioloop::panic_message(&*p)
            );
            BodyMode::Reject(500)
        });
        match mode {
            BodyMode::Buffer => {
                if let BodyProgress::Length(n) = progress {
                    // Within max_body_size, checked above.
                    request.parts.body.reserve(n.min(1 << 20) as usize);
                }
            }
            BodyMode::Stream(sink) => request.parts.sink = Some(sink),
            BodyMode::Reject(status) => {
                self.fail(status);
                return false;
            }
        }
        if head.expect_continue {
            // Only now that the body will be read (RFC 9110 §10.1.1).
            self.stream
                .with_write_buffer(|w| w.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n"));
            self.stream.flush();
        }
        *self.body.borrow_mut() = Some(BodyRead {
            request,
            framing: progress,
        });
        self.phase.set(Phase::Body);
        self.set_deadline(opts.body_timeout.map(|t| now + t));
        true
    }

    /// Moves buffered body bytes into the request. Returns whether to go on.
    fn read_body(self: &Rc<Self>) -> bool {
        let mut slot = self.body.borrow_mut();
        let Some(br) = slot.as_mut() else {
            self.phase.set(Phase::Head);
            return true;
        };
        let BodyRead { request, framing } = br;
        let result: Result<bool, u16> = self.stream.with_read_buffer(|buf| {
            let mut deliver = |data: &[u8]| -> Result<(), u16> {
                match request.parts.sink.as_mut() {
                    // As for body_mode: a panicking sink is a 500, not a wedged connection.
                    Some(sink) => catch_unwind(AssertUnwindSafe(|| sink.data(data)))
                        .unwrap_or_else(|p| {
                            log::error!(
                                "squall: body sink panicked: {}",
                                crate::ioloop::panic_message(&*p)
                            );
                            Err(500)
                        }),
                    None => {
                        request.parts.body.extend_from_slice(data);
                        Ok(())
                    }
                }
            };
            match framing {
                BodyProgress::Length(left) => {
                    let n = (*left as usize).min(buf.len());
                    if let Err(e) = deliver(&buf[..n]) {
                        return (n, Err(e));
                    }
                    *left -= n as u64;
                    (n, Ok(*left == 0))
                }
                BodyProgress::Chunked(dec) => match dec.feed(buf, &mut deliver) {
                    Ok(n) => (n, Ok(dec.is_done())),
                    Err(e) => (0, Err(e)),
                },
            }
        });
        match result {
            Err(status) => {
                drop(slot);
                self.fail(status);
                false
            }
            Ok(true) => {
                let br = slot.take();
                drop(slot);
                if let Some(br) = br {
                    self.dispatch(br.request);
                }
                true
            }
            Ok(false) => {
                drop(slot);
                if self.stream.at_eof() {
                    // As for a partial head: flush earlier responses, then close.
                    self.close_when_flushed();
                    return false;
                }
                let opts = &self.server.options;
                let now = self.stream.io_loop().time();
                self.set_deadline(opts.body_timeout.map(|t| now + t));
                false
            }
        }
    }

    // Inlined into `read_head`: the request is built where the delegate is called, not
    // copied once more through a call.
    #[inline(always)]
    fn dispatch(self: &Rc<Self>, request: Request) {
        let mut cur = self.current.get();
        cur.seq += 1;
        cur.version = request.parts.version;
        cur.is_head = request.parts.method == MethodKind::Head;
        cur.keep_alive = request.parts.keep_alive && !self.server.draining.get();
        self.current.set(cur);
        self.phase.set(Phase::Dispatched);
        self.close_on_eof.set(false);
        self.deadline.set(None);
        self.idle_pending.set(false);
        if self.server.options.access_log
            && log::log_enabled!(target: "squall::access", log::Level::Error)
        {
            // (Only the access log reads it.)
            self.remote_ip.set(request.parts.remote_ip);
            let mut line = self.log_line.borrow_mut();
            line.clear();
            line.push_str(request.method_str());
            line.push(' ');
            line.push_str(request.uri());
            self.log_start.set(Some(Instant::now()));
        }
        let responder = Responder::new(self.clone(), cur.seq);
        // (`self` holds the server for the whole call: no clone needed.)
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| {
            self.server.delegate.handle(request, responder)
        })) {
            // The responder was dropped while unwinding, which answered 500 or closed.
            log::error!(
                "squall: request delegate panicked: {}",
                crate::ioloop::panic_message(&*p)
            );
        }
    }

    /// Called by the responder when its response is complete.
    #[inline]
    pub(crate) fn response_finished(self: &Rc<Self>, seq: u64, keep_alive: bool) {
        if self.current.get().seq != seq || self.phase.get() != Phase::Dispatched {
            return;
        }
        if let Some(cb) = self.close_callback.take() {
            // (Dropped here: the response is complete, the callback is moot.)
            drop_callback(cb);
        }
        let keep = keep_alive && !self.server.draining.get();
        if keep {
            self.phase.set(Phase::Head);
            // The idle deadline runs from now; `process` (running, or called below) sets it
            // when its batch ends, unless the next request has set one of its own by then.
            // `now` is the loop's time of this turn either way.
            self.idle_pending.set(true);
            if self.in_process.get() {
                // The common case, inline: finished synchronously inside `process`, which
                // takes the next request.
                return;
            }
        }
        self.response_finished_slow(keep, keep_alive);
    }

    /// The rest of `response_finished` (closing, draining, finished asynchronously).
    #[inline(never)]
    fn response_finished_slow(self: &Rc<Self>, keep: bool, keep_alive: bool) {
        // (`keep`: the next request's phase and deadline were set up by the caller.)
        if !keep {
            if keep_alive && self.stream.read_buffered() > 0 {
                // Draining: requests already received are still answered.
                self.phase.set(Phase::Head);
            } else {
                self.phase.set(Phase::Closing);
                // The last response may still be leaving: a client that stops reading it
                // does not hold the connection forever (see `sending_on`).
                let opts = &self.server.options;
                let now = self.stream.io_loop().time();
                self.set_deadline(opts.idle_timeout.map(|t| now + t));
            }
        }
        if !self.in_process.get() {
            // Finished asynchronously: answer pipelined requests and flush.
            self.process();
        }
    }

    /// Answers bad input with `status` and closes.
    fn fail(self: &Rc<Self>, status: u16) {
        log::debug!("squall: bad request from {}: {status}", self.remote);
        let now = self.stream.io_loop().time();
        self.stream.with_write_buffer(|w| {
            wire::write_status_line(w, Version::Http11, status, None);
            w.extend_from_slice(b"Content-Length: 0\r\nConnection: close\r\n");
            self.server.write_date_line(now, w);
            w.extend_from_slice(b"\r\n");
        });
        self.phase.set(Phase::Closing);
        self.refused.set(true);
        if !self.in_process.get() && self.stream.flush() {
            self.close_or_linger();
        }
    }

    /// Closes once pending output has been written.
    fn close_when_flushed(self: &Rc<Self>) {
        self.phase.set(Phase::Closing);
        if !self.stream.writing() {
            self.close_or_linger();
        }
    }

    /// Closes the connection, its output flushed, unless the client may still be sending: bad
    /// input was refused (a body too large, a malformed head: what follows is unknown), or
    /// requests it sent were left unanswered. Closing a socket with unread input makes the
    /// kernel send a reset, which can destroy the response before the client has read it (RFC
    /// 9112 §9.6). Then the connection lingers instead: the write side is shut (the client
    /// sees the response end), and input is read and dropped until the client closes, for at
    /// most `linger_timeout`.
    fn close_or_linger(self: &Rc<Self>) {
        let linger = self.server.options.linger_timeout;
        let unread = self.refused.get() || self.stream.read_buffered() > 0;
        if !unread
            || self.stream.at_eof()
            || linger.is_none()
            || self.stream.shutdown_write().is_err()
        {
            self.stream.close();
            return;
        }
        self.phase.set(Phase::Lingering);
        let now = self.stream.io_loop().time();
        self.set_deadline(linger.map(|t| now + t));
        self.discard_input();
    }

    /// Lingering: drops what arrived; closes at the client's end of input.
    fn discard_input(&self) {
        self.stream.consume(self.stream.read_buffered());
        if self.stream.at_eof() {
            self.stream.close();
        }
    }
}

/// Drops a close callback out of line (rare: only long polls set one).
#[cold]
#[inline(never)]
fn drop_callback(cb: Box<dyn FnOnce()>) {
    drop(cb);
}

/// Applies `X-Real-IP`/`X-Forwarded-For` and `X-Scheme`/`X-Forwarded-Proto` (Tornado's rules:
/// the last hop of X-Forwarded-For; only well-formed IPs and http/https are believed).
fn apply_xheaders(request: &mut Request) {
    let ip = request
        .header("X-Real-IP")
        .or_else(|| {
            request
                .header("X-Forwarded-For")
                .and_then(|v| v.rsplit(',').next())
        })
        .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok());
    if let Some(ip) = ip {
        request.parts.remote_ip = ip;
    }
    let scheme = request
        .header("X-Scheme")
        .or_else(|| {
            request
                .header("X-Forwarded-Proto")
                .and_then(|v| v.rsplit(',').next())
        })
        .map(str::trim);
    match scheme {
        Some(s) if s.eq_ignore_ascii_case("https") => request.parts.https = true,
        Some(s) if s.eq_ignore_ascii_case("http") => request.parts.https = false,
        _ => {}
    }
}
