//! One WebSocket connection on its [`IOStream`]: the [`WebSocket`] handle (writing, pings,
//! closing, back-pressure) and the event-driven reading side that calls the hooks. Server and
//! client share it; they differ in their [`Role`] and their [`Hooks`].
//!
//! ### Phases
//!
//! `Opening` (the server's `open` runs before the `101` is written: output waits in a side
//! buffer) -> `Open` -> `Closing` (we sent a Close and wait for the peer's, at most
//! [`CLOSE_TIMEOUT`]) -> `Done` (our last frame is written; input is read and dropped; once
//! the output is flushed our write side is shut, and the stream closes at the peer's end of
//! input or after [`CLOSE_GRACE`]). Shutting the write side instead of closing at once keeps
//! the kernel from resetting the connection over unread input, which could destroy the Close
//! frame before the peer reads it.
//!
//! ### Back-pressure
//!
//! Messages are encoded straight into the stream's write buffer. While more than
//! [`HIGH_WATER`] bytes wait there, the connection decodes no more input (an echo or a ping
//! flood from a peer that does not read cannot grow memory; the read buffer fills and reading
//! stops). Output written from elsewhere (a broadcast) is bounded by `max_write_buffer`: a
//! connection past it is closed. [`WebSocket::buffered_amount`] and
//! [`WebSocket::drained`] let a writer pace itself.
//!
//! ### The server's shutdown
//!
//! A server-side connection registers with its HTTP server (an [`Upgraded`] connection, see
//! `http1/upgraded.rs`) and keeps the registration until its stream closes. When the server
//! starts a graceful shutdown, every registered connection sends a Close `1001` ("server
//! shutting down") and closes as for any Close it sends: at the peer's Close, or after
//! [`CLOSE_TIMEOUT`]; the shutdown completes once all are closed (or when its grace period
//! ends, which closes what is left). Handlers need not do anything; their `on_close` runs with
//! the peer's answer.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::frame::{OP_PING, OP_PONG};
use super::message::{Message, WebSocketClosed};
use super::protocol::{valid_close_code, Event, Reader, Step};
use super::writer::Writer;
use crate::http1::{ShutdownWatch, UpgradeGuard, Upgraded};
use crate::ioloop::Timeout;
use crate::iostream::{IOStream, StreamProtocol};

/// Output waiting beyond this stops the connection from decoding more input.
pub(crate) const HIGH_WATER: usize = 64 * 1024;
/// How long a Close we sent waits for the peer's.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long input is drained after our last frame before the stream is closed anyway.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// The Close a server's connections get when it shuts down (RFC 6455 §7.4.1: going away).
const GOING_AWAY: (u16, &str) = (1001, "server shutting down");

/// A boxed future of an async hook.
pub(crate) type HookFuture = Pin<Box<dyn Future<Output = ()>>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Opening,
    Open,
    Closing,
    Done,
}

/// What the reading side calls: the handler's hooks (server) or the message queue (client).
pub(crate) trait Hooks: 'static {
    /// A complete message; a future when the hook is async (nothing more is decoded until it
    /// completes).
    fn on_message(&self, ws: &WebSocket, message: Message<'_>) -> Option<HookFuture>;
    /// A Ping arrived (it has been answered).
    fn on_ping(&self, ws: &WebSocket, data: &[u8]);
    /// A Pong arrived.
    fn on_pong(&self, ws: &WebSocket, data: &[u8]);
    /// The connection is closed: the peer's close code and reason, if it sent a Close.
    fn on_close(&self, ws: &WebSocket, code: Option<u16>, reason: &str);
}

/// The ping settings of a connection.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PingPolicy {
    pub(crate) interval: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
}

pub(crate) struct Shared {
    stream: IOStream,
    phase: Cell<Phase>,
    writer: RefCell<Writer>,
    /// Output of the `Opening` phase, written after the `101`.
    pending: RefCell<Vec<u8>>,
    /// The reading side is in a batch: it flushes once at the end.
    batching: Cell<bool>,
    max_write_buffer: usize,
    close_code: Cell<Option<u16>>,
    close_reason: RefCell<String>,
    /// Our write side is shut (phase `Done`, output flushed).
    shut: Cell<bool>,
    ping: PingPolicy,
    /// When the last Ping was sent.
    ping_sent: Cell<Option<Instant>>,
    /// When the oldest unanswered Ping was sent (a Pong clears it).
    ping_outstanding: Cell<Option<Instant>>,
    ping_timer: Cell<Option<Timeout>>,
    close_timer: Cell<Option<Timeout>>,
    subprotocol: Option<String>,
}

/// A handle to one WebSocket connection: Tornado's `WebSocketHandler` methods that write.
///
/// Clones are handles to the same connection; they live on the connection's loop (not `Send`),
/// so a handler can keep them to write to other connections (a chat room's list of members).
/// Writing to a closed connection returns [`WebSocketClosed`].
///
/// # Examples
///
/// ```
/// use squall::prelude::*;
/// use squall::websocket::{Message, WebSocket};
///
/// #[derive(Clone, Default)]
/// struct Echo;
///
/// #[websocket_handler]
/// impl Echo {
///     fn on_message(&mut self, ws: &WebSocket, message: Message<'_>) -> Result<()> {
///         ws.write_message(message)?;
///         Ok(())
///     }
/// }
/// ```
#[derive(Clone)]
pub struct WebSocket {
    pub(crate) shared: Rc<Shared>,
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("phase", &self.shared.phase.get())
            .field("buffered", &self.buffered_amount())
            .finish()
    }
}

impl PartialEq for WebSocket {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.shared, &other.shared)
    }
}

impl Eq for WebSocket {}

impl WebSocket {
    pub(crate) fn new(
        stream: IOStream,
        writer: Writer,
        max_write_buffer: usize,
        ping: PingPolicy,
        subprotocol: Option<String>,
        opening: bool,
    ) -> WebSocket {
        WebSocket {
            shared: Rc::new(Shared {
                stream,
                phase: Cell::new(if opening { Phase::Opening } else { Phase::Open }),
                writer: RefCell::new(writer),
                pending: RefCell::new(Vec::new()),
                batching: Cell::new(false),
                max_write_buffer,
                close_code: Cell::new(None),
                close_reason: RefCell::new(String::new()),
                shut: Cell::new(false),
                ping,
                ping_sent: Cell::new(None),
                ping_outstanding: Cell::new(None),
                ping_timer: Cell::new(None),
                close_timer: Cell::new(None),
                subprotocol,
            }),
        }
    }

    /// Sends a message: text for `&str`/`&String`, binary for bytes. It is encoded into the
    /// connection's output at once and sent as soon as the socket takes it.
    ///
    /// # Errors
    ///
    /// [`WebSocketClosed`] if the connection is closed or closing, or if its unsent output
    /// passed `websocket_max_write_buffer` (a peer that does not read: it is closed).
    pub fn write_message<'a>(
        &self,
        message: impl Into<Message<'a>>,
    ) -> Result<(), WebSocketClosed> {
        let m = message.into();
        self.send(|w, out| w.message(out, m.is_binary(), m.as_bytes()))
    }

    /// Sends a Ping (at most 125 bytes of `data` are sent).
    ///
    /// # Errors
    ///
    /// [`WebSocketClosed`] as for [`write_message`](WebSocket::write_message).
    pub fn ping(&self, data: &[u8]) -> Result<(), WebSocketClosed> {
        self.send(|w, out| w.control(out, OP_PING, data))
    }

    /// Starts the closing handshake: sends a Close with `code` and `reason` (cut to 123 bytes)
    /// and closes the connection when the peer answers, or after a few seconds. A code that
    /// may not be sent (RFC 6455 §7.4) is replaced by 1000. Does nothing if already closing.
    pub fn close(&self, code: Option<u16>, reason: &str) {
        let s = &self.shared;
        if !matches!(s.phase.get(), Phase::Opening | Phase::Open) || s.stream.closed() {
            return;
        }
        let code = code.map(|c| {
            if valid_close_code(c) {
                c
            } else {
                log::warn!("squall: WebSocket close code {c} may not be sent; using 1000");
                1000
            }
        });
        let _ = self.send(|w, out| w.close(out, code, if code.is_some() { reason } else { "" }));
        s.phase.set(Phase::Closing);
        let weak = Rc::downgrade(s);
        let t = s.stream.io_loop().call_later(CLOSE_TIMEOUT, move || {
            if let Some(s) = weak.upgrade() {
                s.close_timer.set(None);
                s.stream.close();
            }
        });
        s.replace_close_timer(Some(t));
    }

    /// Bytes written but not yet taken by the socket.
    pub fn buffered_amount(&self) -> usize {
        self.shared.stream.write_buffered() + self.shared.pending.borrow().len()
    }

    /// Resolves once everything written so far has reached the socket: await it to pace a
    /// writer to its reader.
    ///
    /// # Errors
    ///
    /// [`WebSocketClosed`] if the connection closes first.
    pub async fn drained(&self) -> Result<(), WebSocketClosed> {
        let s = &self.shared;
        s.stream.flush();
        s.stream.wait_flushed().await.map_err(|_| WebSocketClosed)
    }

    /// Whether the connection is closed or closing (no more messages can be sent).
    pub fn is_closed(&self) -> bool {
        !matches!(self.shared.phase.get(), Phase::Opening | Phase::Open)
            || self.shared.stream.closed()
    }

    /// The code of the peer's Close frame, once one arrived (Tornado's `close_code`).
    pub fn close_code(&self) -> Option<u16> {
        self.shared.close_code.get()
    }

    /// The reason of the peer's Close frame (Tornado's `close_reason`).
    pub fn close_reason(&self) -> String {
        self.shared.close_reason.borrow().clone()
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn selected_subprotocol(&self) -> Option<&str> {
        self.shared.subprotocol.as_deref()
    }

    /// Encodes a frame with `f` into the output (or the side buffer while opening).
    fn send(&self, f: impl FnOnce(&mut Writer, &mut Vec<u8>)) -> Result<(), WebSocketClosed> {
        let s = &self.shared;
        let mut w = s.writer.borrow_mut();
        match s.phase.get() {
            Phase::Opening => {
                f(&mut w, &mut s.pending.borrow_mut());
                return Ok(());
            }
            Phase::Open => {}
            Phase::Closing | Phase::Done => return Err(WebSocketClosed),
        }
        if s.stream
            .with_open_write_buffer(|out| f(&mut w, out))
            .is_none()
        {
            return Err(WebSocketClosed);
        }
        drop(w);
        if s.stream.write_buffered() > s.max_write_buffer && !s.stream.flush() {
            log::warn!(
                "squall: closing a WebSocket whose peer does not read ({} bytes unsent)",
                s.stream.write_buffered()
            );
            s.stream.close();
            return Err(WebSocketClosed);
        }
        if !s.batching.get() {
            s.stream.flush();
        }
        Ok(())
    }

    /// The `101` is out: the side buffer follows it and the connection is open.
    pub(crate) fn opened(&self) {
        let s = &self.shared;
        let pending = std::mem::take(&mut *s.pending.borrow_mut());
        if !pending.is_empty() {
            s.stream
                .with_write_buffer(|out| out.extend_from_slice(&pending));
        }
        if s.phase.get() == Phase::Opening {
            s.phase.set(Phase::Open);
        }
    }

    /// `open` refused the connection: nothing it wrote is sent.
    pub(crate) fn refused(&self) {
        self.shared.phase.set(Phase::Done);
        self.shared.pending.borrow_mut().clear();
    }

    /// Our last frame is written (a Close, or a failure's Close): drop input from now on.
    fn done(&self) {
        self.shared.phase.set(Phase::Done);
    }

    /// Fails the connection: a Close with `code`, then nothing more (RFC 6455 §7.1.7).
    fn fail(&self, code: u16, why: &'static str) {
        let s = &self.shared;
        log::debug!("squall: failing a WebSocket connection: {code} {why}");
        if s.phase.get() == Phase::Open {
            s.batching.set(true);
            let _ = self.send(|w, out| w.close(out, Some(code), why));
        }
        self.done();
    }

    /// In phase `Done` with the output flushed: shut our write side and give the peer a
    /// little time to finish before closing.
    fn finish_if_flushed(&self) {
        let s = &self.shared;
        if s.phase.get() != Phase::Done || s.stream.closed() || s.stream.writing() {
            return;
        }
        if s.shut.replace(true) {
            return;
        }
        if s.stream.at_eof() || s.stream.shutdown_write().is_err() {
            s.stream.close();
            return;
        }
        let weak = Rc::downgrade(s);
        let t = s.stream.io_loop().call_later(CLOSE_GRACE, move || {
            if let Some(s) = weak.upgrade() {
                s.close_timer.set(None);
                s.stream.close();
            }
        });
        s.replace_close_timer(Some(t));
    }
}

impl Shared {
    fn replace_close_timer(&self, t: Option<Timeout>) {
        if let Some(old) = self.close_timer.replace(t) {
            self.stream.io_loop().remove_timeout(old);
        }
    }
}

/// The reading side: a [`StreamProtocol`] that decodes frames and calls the hooks.
pub(crate) struct Conn<K: Hooks> {
    ws: WebSocket,
    hooks: K,
    reader: RefCell<Reader>,
    in_process: Cell<bool>,
    /// An async hook is running: nothing is decoded until it completes.
    busy: Cell<bool>,
    /// The stream closed while `busy`: `on_close` runs when the hook completes.
    close_pending: Cell<bool>,
    closed: Cell<bool>,
    /// The server-side connection's place in its server's shutdown (dropped at close).
    guard: RefCell<Option<UpgradeGuard>>,
    this: Weak<Conn<K>>,
}

impl<K: Hooks> fmt::Debug for Conn<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketConnection")
            .field("ws", &self.ws)
            .finish()
    }
}

/// What decoding a batch of input asks for next.
enum Flow {
    /// Go round again (after flushing).
    More,
    /// Stop until an event (more input, a drain, a hook's completion).
    Stop,
}

impl<K: Hooks> Conn<K> {
    /// Attaches a connection to `ws`'s stream and decodes whatever is already buffered; with
    /// a `watch` (server side), it joins the server's graceful shutdown.
    pub(crate) fn start(
        ws: WebSocket,
        hooks: K,
        reader: Reader,
        watch: Option<ShutdownWatch>,
    ) -> Rc<Conn<K>> {
        let conn = Rc::new_cyclic(|this| Conn {
            ws,
            hooks,
            reader: RefCell::new(reader),
            in_process: Cell::new(false),
            busy: Cell::new(false),
            close_pending: Cell::new(false),
            closed: Cell::new(false),
            guard: RefCell::new(None),
            this: this.clone(),
        });
        let stream = conn.ws.shared.stream.clone();
        stream.set_max_buffer_size(2 * super::protocol::INPLACE_MAX);
        stream.set_protocol(Some(conn.clone()));
        conn.arm_ping();
        conn.process();
        if let Some(watch) = watch.filter(|_| !conn.closed.get()) {
            let weak: Weak<dyn Upgraded> = Rc::downgrade(&conn) as Weak<Conn<K>>;
            if let Some((guard, draining)) = watch.register(weak) {
                *conn.guard.borrow_mut() = Some(guard);
                if draining {
                    conn.going_away();
                }
            }
        }
        conn
    }

    fn stream(&self) -> &IOStream {
        &self.ws.shared.stream
    }

    /// Decodes what the read buffer holds, calling the hooks, then flushes once.
    fn process(&self) {
        if self.in_process.replace(true) {
            return;
        }
        let s = &self.ws.shared;
        let stream = self.stream();
        s.batching.set(true);
        loop {
            if stream.closed() {
                break;
            }
            if s.phase.get() == Phase::Done {
                // Our last frame is written: what the peer still sends is dropped.
                stream.consume(stream.read_buffered());
                break;
            }
            if self.busy.get() {
                break;
            }
            if stream.write_buffered() >= HIGH_WATER && !stream.flush() {
                // The peer is not reading: decode nothing more until the output drains
                // (`on_drain`); the read buffer fills and reading stops meanwhile.
                break;
            }
            match stream.with_read_buffer_mut(|buf| self.decode(buf)) {
                Flow::More => continue,
                Flow::Stop => break,
            }
        }
        self.reader.borrow_mut().release();
        s.batching.set(false);
        if !stream.closed() {
            stream.flush();
            if stream.at_eof() && s.phase.get() != Phase::Done && !self.busy.get() {
                // The peer stopped sending without a Close: nothing more can happen.
                stream.close();
            } else {
                self.ws.finish_if_flushed();
                if stream.at_eof() && s.phase.get() == Phase::Done && !stream.writing() {
                    stream.close();
                }
            }
        }
        self.in_process.set(false);
    }

    /// Decodes events from `buf` until input runs out or something asks to stop.
    fn decode(&self, buf: &mut [u8]) -> (usize, Flow) {
        let stream = self.stream();
        let mut pos = 0;
        loop {
            if stream.write_buffered() >= HIGH_WATER {
                return (pos, Flow::More);
            }
            let mut reader = self.reader.borrow_mut();
            match reader.step(&mut buf[pos..]) {
                Step::NeedMore => return (pos, Flow::Stop),
                Step::Fail(code, why) => {
                    drop(reader);
                    self.ws.fail(code, why);
                    return (pos, Flow::Stop);
                }
                Step::Progress(n, None) => pos += n,
                Step::Progress(n, Some(event)) => {
                    pos += n;
                    let go_on = self.event(event);
                    if !go_on || stream.closed() || self.busy.get() {
                        return (pos, Flow::Stop);
                    }
                }
            }
        }
    }

    /// Handles one event; returns whether to keep decoding.
    fn event(&self, event: Event<'_>) -> bool {
        let s = &self.ws.shared;
        match event {
            Event::Text(t) => self.message(Message::Text(t)),
            Event::Binary(b) => self.message(Message::Binary(b)),
            Event::Ping(p) => {
                if s.phase.get() == Phase::Open {
                    let _ = self.ws.send(|w, out| w.control(out, OP_PONG, p));
                    self.hooks.on_ping(&self.ws, p);
                }
                true
            }
            Event::Pong(p) => {
                s.ping_outstanding.set(None);
                self.hooks.on_pong(&self.ws, p);
                true
            }
            Event::Close(code, reason) => {
                s.close_code.set(code);
                reason.clone_into(&mut s.close_reason.borrow_mut());
                if s.phase.get() == Phase::Open {
                    // Echo the peer's code (an empty Close gets an empty Close).
                    let _ = self.ws.send(|w, out| w.close(out, code, reason));
                }
                self.ws.done();
                false
            }
        }
    }

    fn message(&self, m: Message<'_>) -> bool {
        if self.ws.shared.phase.get() != Phase::Open {
            // After our Close, messages are not delivered.
            return true;
        }
        let Some(fut) = self.hooks.on_message(&self.ws, m) else {
            return true;
        };
        self.busy.set(true);
        // A strong reference: should the connection close meanwhile, `on_close` still runs
        // when the hook completes.
        let conn = self.this.upgrade();
        self.stream().io_loop().spawn(async move {
            fut.await;
            if let Some(c) = conn {
                c.busy.set(false);
                if c.close_pending.replace(false) {
                    c.run_on_close();
                } else {
                    c.process();
                }
            }
        });
        false
    }

    fn run_on_close(&self) {
        let s = &self.ws.shared;
        let reason = std::mem::take(&mut *s.close_reason.borrow_mut());
        self.hooks.on_close(&self.ws, s.close_code.get(), &reason);
        *s.close_reason.borrow_mut() = reason;
    }

    /// Schedules the next ping or timeout check (if pings are configured).
    fn arm_ping(&self) {
        let s = &self.ws.shared;
        let Some(interval) = s.ping.interval else {
            return;
        };
        let timeout = s.ping.timeout.unwrap_or(interval);
        let now = s.stream.io_loop().time();
        let mut next = s.ping_sent.get().map_or(now + interval, |t| t + interval);
        if let Some(t) = s.ping_outstanding.get() {
            next = next.min(t + timeout);
        }
        let weak = self.this.clone();
        let t = s.stream.io_loop().call_at(next.max(now), move || {
            if let Some(c) = weak.upgrade() {
                c.ws.shared.ping_timer.set(None);
                c.ping_tick();
            }
        });
        if let Some(old) = s.ping_timer.replace(Some(t)) {
            s.stream.io_loop().remove_timeout(old);
        }
    }

    /// Sends a Ping every interval; closes the connection when the oldest unanswered one is
    /// older than the timeout.
    fn ping_tick(&self) {
        let s = &self.ws.shared;
        if s.phase.get() != Phase::Open || s.stream.closed() {
            return;
        }
        let Some(interval) = s.ping.interval else {
            return;
        };
        let timeout = s.ping.timeout.unwrap_or(interval);
        let now = s.stream.io_loop().time();
        if s.ping_outstanding.get().is_some_and(|t| now >= t + timeout) {
            log::info!("squall: WebSocket ping not answered within {timeout:?}; closing");
            s.stream.close();
            return;
        }
        if s.ping_sent.get().is_none_or(|t| now >= t + interval) {
            s.ping_sent.set(Some(now));
            if s.ping_outstanding.get().is_none() {
                s.ping_outstanding.set(Some(now));
            }
            let _ = self.ws.ping(b"");
        }
        self.arm_ping();
    }
}

impl<K: Hooks> Upgraded for Conn<K> {
    fn going_away(&self) {
        let (code, reason) = GOING_AWAY;
        self.ws.close(Some(code), reason);
    }

    fn close_now(&self) {
        self.stream().close();
    }
}

impl<K: Hooks> StreamProtocol for Conn<K> {
    fn on_read(&self, _stream: &IOStream) {
        self.process();
    }

    fn on_drain(&self, _stream: &IOStream) {
        self.ws.finish_if_flushed();
        self.process();
    }

    fn on_close(&self, stream: &IOStream) {
        if self.closed.replace(true) {
            return;
        }
        let s = &self.ws.shared;
        s.phase.set(Phase::Done);
        s.replace_close_timer(None);
        if let Some(t) = s.ping_timer.take() {
            stream.io_loop().remove_timeout(t);
        }
        // Out of the stream's close: the hook may write to other connections, and this one
        // may be closing from inside one of its own hooks.
        // (A strong reference: the stream has let go of its protocol.)
        if let Some(c) = self.this.upgrade() {
            stream.io_loop().add_callback(move || {
                if c.busy.get() {
                    c.close_pending.set(true);
                } else {
                    c.run_on_close();
                }
            });
        }
        // Out of the server's registry: this may complete its shutdown, whose end is then
        // scheduled after the `on_close` above.
        let guard = self.guard.borrow_mut().take();
        drop(guard);
    }
}
