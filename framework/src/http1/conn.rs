//! [`Conn`]: one HTTP/1.x connection as an explicit state machine.
//!
//! ### States
//!
//! A connection is in exactly one [`Phase`], and moves between them only through the named
//! transitions of this module (hyper's `proto::h1::conn::State`, in one enum):
//!
//! ```text
//!            first byte                 head complete, body      body complete
//!   Idle ─────────────────▶ Head ─────────────────────────▶ Body ───────────────┐
//!    ▲                        │ head complete, no body                          │
//!    │                        └──────────────────────────▶ Responding ◀─────────┘
//!    │   finish_response (keep-alive)                          │   │ hand_off
//!    └─────────────────────────────────────────────────────────┘   └──────────▶ Upgraded
//!
//!   any reading phase ── fail / close_when_flushed ──▶ Closing ── close_or_linger ──▶ Lingering
//!   Responding ── finish_response (not keep-alive) ──▶ Closing           (or closed at once)
//! ```
//!
//! - `Idle`: no byte of a request head yet (a fresh connection, or keep-alive between
//!   requests). The idle deadline runs.
//! - `Head`: a head is arriving; its first byte started the header deadline.
//! - `Body`: the request in `Conn::body` is reading its body; the body deadline runs.
//! - `Responding`: the delegate has the request (sequence number `seq`) and a [`Responder`];
//!   later pipelined requests wait in the read buffer.
//! - `Closing`: the last response is written; the connection closes once it is flushed,
//!   lingering first if the client may still be sending.
//! - `Lingering`: the write side is shut and input is dropped until the client closes or
//!   `linger_timeout` passes (RFC 9112 §9.6).
//! - `Upgraded`: the stream was handed to another protocol (below); the connection is done.
//!
//! ### What the responder may touch
//!
//! The fields are private to this module. A [`Responder`] reaches its connection only
//! through the `pub(super)` methods in the block marked "the responder's interface": the
//! stream (to append its bytes), the server (date line, draining, access log pool),
//! [`finish_response`](Conn::finish_response), the departure callbacks and
//! [`hand_off`](Conn::hand_off). It owns everything about its own response (framing, status,
//! the access-log entry); the connection owns everything about the connection.
//!
//! ### Handing the stream to another protocol
//!
//! [`Responder::upgrade`] answers `101 Switching Protocols` and moves the connection to
//! `Upgraded` ([`hand_off`](Conn::hand_off)): the connection detaches itself from the stream
//! (no more HTTP parsing, no HTTP timer, no close callback), leaves the server's registry (a
//! graceful shutdown no longer waits for it, unless the new protocol registers through a
//! [`ShutdownWatch`](super::ShutdownWatch), as a WebSocket does), and the [`IOStream`] is
//! returned to the caller
//! with the 101 head flushed and every byte the client sent after the request head still in
//! its read buffer, unparsed.

mod read;
mod timeouts;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::chunked::ChunkedDecoder;
use super::parse::Progress;
use super::server::ServerCore;
use super::{wire, Request, Version};
use crate::iostream::{IOStream, StreamProtocol};
use timeouts::Clock;

/// Output a connection may hold unsent before it stops taking new requests.
const WRITE_HIGH_WATER: usize = 64 * 1024;

/// Where a connection is in its life; see the module docs for the transitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// No byte of a request head yet.
    Idle,
    /// A request head is arriving; how far it has been looked at.
    Head(Progress),
    /// Reading the body of the request in `Conn::body`.
    Body,
    /// The delegate has the request; its response is not finished.
    Responding,
    /// The last response is written; close once it is flushed. `refused`: bad input was
    /// answered, so the client may still be sending (see [`Conn::close_or_linger`]).
    Closing { refused: bool },
    /// The output is flushed and the write side shut; input is read and dropped until the
    /// client closes or `linger_timeout` passes.
    Lingering,
    /// The stream belongs to another protocol now ([`Conn::hand_off`]).
    Upgraded,
}

/// A request whose body is being read.
struct BodyRead {
    request: Request,
    framing: BodyProgress,
    /// When the body started (the head was read), for `min_body_rate`.
    since: Instant,
    /// Body bytes received so far (framing included), for `min_body_rate`.
    received: u64,
}

enum BodyProgress {
    Length(u64),
    Chunked(ChunkedDecoder),
}

/// One HTTP/1.x connection.
pub(crate) struct Conn {
    stream: IOStream,
    server: Rc<ServerCore>,
    remote: SocketAddr,
    /// `remote.ip()`, worked out once: every request starts with it.
    peer_ip: IpAddr,
    phase: Cell<Phase>,
    /// The `Body` phase's request (`None` in every other phase).
    body: RefCell<Option<BodyRead>>,
    /// Sequence number of the request last dispatched: a responder answers only its own.
    seq: Cell<u32>,
    /// `process` is running (it is not re-entered; transitions inside it leave the rest of the
    /// batch to it).
    in_process: Cell<bool>,
    /// Deadlines and the timer (see `timeouts`).
    clock: Clock,
    /// Runs if the connection closes while the current response is pending.
    departure: Cell<Option<Box<dyn FnOnce()>>>,
    /// The current response's handler treats the client's EOF as its departure.
    close_on_eof: Cell<bool>,
    /// Position in the server's registry (`ServerCore::conns`).
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
        if self.phase.get() == Phase::Responding && self.close_on_eof.get() && self.stream.at_eof()
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
            Phase::Closing { .. } => match self.me() {
                Some(me) => me.close_or_linger(),
                None => stream.close(),
            },
            // Requests may be waiting for the output to drain (see WRITE_HIGH_WATER), or the
            // client may have finished sending meanwhile.
            Phase::Idle | Phase::Head(_) => {
                if let Some(me) = self.me() {
                    me.process();
                }
            }
            Phase::Body | Phase::Responding | Phase::Lingering | Phase::Upgraded => {}
        }
    }

    fn on_close(&self, _stream: &IOStream) {
        self.stop_timer();
        self.unregister();
        let cb = self.departure.take();
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
            phase: Cell::new(Phase::Idle),
            body: RefCell::new(None),
            seq: Cell::new(0),
            in_process: Cell::new(false),
            clock: Clock::default(),
            departure: Cell::new(None),
            close_on_eof: Cell::new(false),
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
        conn.set_deadline(conn.first_timeout().map(|t| now + t));
        // Bytes may already be buffered (none for a fresh accept, but be general).
        if stream.read_buffered() > 0 {
            conn.process();
        }
    }

    /// How long a fresh connection may wait for its first byte: `first_byte_timeout`, at most
    /// `idle_timeout`; over TLS, the handshake counts too and is bounded by `header_timeout`
    /// as well (a client that opens TLS and stalls is closed then).
    fn first_timeout(&self) -> Option<Duration> {
        let opts = &self.server.options;
        let tls = self
            .stream
            .is_tls()
            .then_some(opts.header_timeout)
            .flatten();
        [opts.first_byte_timeout, opts.idle_timeout, tls]
            .into_iter()
            .flatten()
            .min()
    }

    fn me(&self) -> Option<Rc<Conn>> {
        self.this.upgrade()
    }

    /// Leaves the server's registry (closed or handed off).
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
    pub(super) fn process(self: &Rc<Self>) {
        if self.in_process.replace(true) {
            return;
        }
        let mut blocked = false;
        loop {
            let more = match self.phase.get() {
                Phase::Idle | Phase::Head(_)
                    if self.stream.write_buffered() >= WRITE_HIGH_WATER =>
                {
                    // The client is not reading its responses: take no more requests until
                    // they drain (on_drain resumes). The read buffer then fills and reading
                    // stops too, so a pipelining client cannot make us buffer without bound.
                    blocked = !self.stream.flush();
                    !blocked
                }
                // (One call site, so that it is inlined.)
                Phase::Idle | Phase::Head(_) => self.read_head(),
                Phase::Body => self.read_body(),
                Phase::Responding | Phase::Closing { .. } | Phase::Upgraded => false,
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
        let idle_pending = self.clock.take_idle_pending();
        if self.stream.closed() {
            return;
        }
        let phase = self.phase.get();
        if phase == Phase::Upgraded {
            // The stream is another protocol's now (its 101 head was flushed by `upgrade`).
            return;
        }
        if idle_pending {
            // Once per batch instead of once per pipelined response (see `finish_response`).
            let now = self.stream.io_loop().time();
            self.set_deadline(self.server.options.idle_timeout.map(|t| now + t));
        }
        // (Blocked: the flush just made found the kernel's buffer full; WRITE is watched.)
        let flushed = !blocked && self.stream.flush();
        if matches!(phase, Phase::Closing { .. }) && flushed {
            self.close_or_linger();
        }
    }

    // ----- transitions ----------------------------------------------------------------------

    /// `Idle`/`Head` -> `Head`: a head is arriving, looked at as far as `progress`.
    fn head_arriving(&self, progress: Progress) {
        self.phase.set(Phase::Head(progress));
    }

    /// `Head` -> `Body`: the request's body is to be read.
    fn read_body_of(self: &Rc<Self>, request: Request, framing: BodyProgress, now: Instant) {
        *self.body.borrow_mut() = Some(BodyRead {
            request,
            framing,
            since: now,
            received: 0,
        });
        self.phase.set(Phase::Body);
        self.set_deadline(self.server.options.body_timeout.map(|t| now + t));
    }

    /// `Head`/`Body` -> `Responding`: hands the request to the delegate.
    // Inlined into `read_head`: the request is built where the delegate is called, not
    // copied once more through a call.
    #[inline(always)]
    fn dispatch(self: &Rc<Self>, request: Request) {
        // (Wrapping: only equality with the responder's copy matters.)
        let seq = self.seq.get().wrapping_add(1);
        self.seq.set(seq);
        self.phase.set(Phase::Responding);
        self.close_on_eof.set(false);
        self.clock.clear();
        let responder = super::Responder::new(self.clone(), &request, seq);
        // (`self` holds the server for the whole call: no clone needed.)
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.server.delegate.handle(request, responder)
        })) {
            // The responder was dropped while unwinding, which answered 500 or closed.
            log::error!(
                "squall: request delegate panicked: {}",
                crate::ioloop::panic_message(&*p)
            );
        }
    }

    /// `Responding` -> `Idle` (keep-alive) or `Closing`: response `seq` is complete.
    #[inline]
    pub(super) fn finish_response(self: &Rc<Self>, seq: u32, keep_alive: bool) {
        if self.seq.get() != seq || self.phase.get() != Phase::Responding {
            return;
        }
        if let Some(cb) = self.departure.take() {
            // (Dropped here: the response is complete, the callback is moot.)
            drop_callback(cb);
        }
        let keep = keep_alive && !self.server.draining.get();
        if keep {
            self.phase.set(Phase::Idle);
            // The idle deadline runs from now; `process` (running, or called below) sets it
            // when its batch ends, unless the next request has set one of its own by then.
            // `now` is the loop's time of this turn either way.
            self.clock.set_idle_pending();
            if self.in_process.get() {
                // The common case, inline: finished synchronously inside `process`, which
                // takes the next request.
                return;
            }
        }
        self.finish_response_slow(keep, keep_alive);
    }

    /// The rest of `finish_response` (closing, draining, finished asynchronously).
    #[inline(never)]
    fn finish_response_slow(self: &Rc<Self>, keep: bool, keep_alive: bool) {
        // (`keep`: the next request's phase and deadline were set up by the caller.)
        if !keep {
            if keep_alive && self.stream.read_buffered() > 0 {
                // Draining: requests already received are still answered.
                self.phase.set(Phase::Idle);
            } else {
                self.phase.set(Phase::Closing { refused: false });
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

    /// Any reading phase -> `Closing { refused }`: answers bad input with `status` and closes.
    fn fail(self: &Rc<Self>, status: u16) {
        log::debug!("squall: bad request from {}: {status}", self.remote);
        let now = self.stream.io_loop().time();
        self.stream.with_write_buffer(|w| {
            wire::write_status_line(w, Version::Http11, status, None);
            w.extend_from_slice(b"Content-Length: 0\r\nConnection: close\r\n");
            self.server.write_date_line(now, w);
            w.extend_from_slice(b"\r\n");
        });
        self.phase.set(Phase::Closing { refused: true });
        if !self.in_process.get() && self.stream.flush() {
            self.close_or_linger();
        }
    }

    /// -> `Closing`: closes once pending output has been written.
    pub(super) fn close_when_flushed(self: &Rc<Self>) {
        self.phase.set(Phase::Closing { refused: false });
        if !self.stream.writing() {
            self.close_or_linger();
        }
    }

    /// `Closing` -> closed, or `Lingering`: closes the connection, its output flushed, unless
    /// the client may still be sending: bad input was refused (a body too large, a malformed
    /// head: what follows is unknown), or requests it sent were left unanswered. Closing a
    /// socket with unread input makes the kernel send a reset, which can destroy the response
    /// before the client has read it (RFC 9112 §9.6). Then the connection lingers instead: the
    /// write side is shut (the client sees the response end), and input is read and dropped
    /// until the client closes, for at most `linger_timeout`.
    fn close_or_linger(self: &Rc<Self>) {
        let linger = self.server.options.linger_timeout;
        let refused = matches!(self.phase.get(), Phase::Closing { refused: true });
        let unread = refused || self.stream.read_buffered() > 0;
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

    // ----- the server's view ----------------------------------------------------------------

    /// Whether no request is in flight: idle, with nothing received that waits for an answer.
    pub(super) fn is_idle(&self) -> bool {
        matches!(self.phase.get(), Phase::Idle | Phase::Head(_)) && self.stream.read_buffered() == 0
    }

    /// Since when the connection has been idle (no byte of a request received, no response
    /// being written), or `None` if it is not. Worked out from its deadline, so that keeping
    /// it costs a request nothing: the deadline is the idle (or, before the first request,
    /// first-byte) timeout after the moment it went idle.
    pub(super) fn idle_since(&self) -> Option<Instant> {
        if self.phase.get() != Phase::Idle
            || self.stream.read_buffered() > 0
            || self.stream.writing()
            || self.stream.closed()
        {
            return None;
        }
        let timeout = match self.seq.get() {
            0 => self.first_timeout(),
            _ => self.server.options.idle_timeout,
        };
        // Without a deadline, as old as can be: it would otherwise wait forever.
        let start = self.server.started;
        Some(match (self.clock.deadline(), timeout) {
            (Some(d), Some(t)) => d.checked_sub(t).unwrap_or(start).max(start),
            _ => start,
        })
    }

    /// Graceful shutdown: an idle connection closes now; a busy one closes after its current
    /// response (whose responder sees the server draining and says `Connection: close`).
    pub(super) fn drain(self: &Rc<Self>) {
        if self.is_idle() {
            self.close_when_flushed();
        }
    }

    /// Closes the connection at once.
    pub(super) fn close(&self) {
        self.stream.close();
    }

    // ----- the responder's interface --------------------------------------------------------

    /// The connection's stream (the responder appends its bytes to the write buffer).
    #[inline]
    pub(super) fn stream(&self) -> &IOStream {
        &self.stream
    }

    /// The server this connection belongs to (options, date line, draining, access log).
    #[inline]
    pub(super) fn server(&self) -> &ServerCore {
        &self.server
    }

    /// Where a protocol this connection is upgraded to joins the server's shutdown.
    pub(super) fn shutdown_watch(&self) -> super::ShutdownWatch {
        super::ShutdownWatch {
            server: Rc::downgrade(&self.server),
        }
    }

    /// Runs `f` if the connection closes before the current response is finished.
    pub(super) fn on_departure(&self, f: Box<dyn FnOnce()>) {
        self.departure.set(Some(f));
    }

    /// Treats the client's EOF, while the current response is pending, as its departure.
    pub(super) fn close_on_client_eof(&self) {
        self.close_on_eof.set(true);
        if self.stream.at_eof() {
            self.stream.close();
        }
    }

    /// `Responding` -> `Upgraded`: response `seq` switched protocols. The connection lets go
    /// of the stream (no more parsing, no timer, no departure callback, out of the server's
    /// registry) and returns it; `None` if `seq` is not the response in progress or the
    /// stream is closed.
    pub(super) fn hand_off(self: &Rc<Self>, seq: u32) -> Option<IOStream> {
        if self.seq.get() != seq || self.phase.get() != Phase::Responding || self.stream.closed() {
            return None;
        }
        self.phase.set(Phase::Upgraded);
        self.stop_timer();
        self.clock.clear();
        if let Some(cb) = self.departure.take() {
            drop_callback(cb);
        }
        self.stream.set_protocol(None);
        self.unregister();
        Some(self.stream.clone())
    }
}

/// Drops a close callback out of line (rare: only long polls set one).
#[cold]
#[inline(never)]
fn drop_callback(cb: Box<dyn FnOnce()>) {
    drop(cb);
}
