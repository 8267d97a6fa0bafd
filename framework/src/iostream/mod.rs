//! [`IOStream`]: a non-blocking socket or pipe on the loop, with read and write buffers.
//!
//! Reads are futures ([`read_until`](IOStream::read_until),
//! [`read_until_regex`](IOStream::read_until_regex), [`read_bytes`](IOStream::read_bytes),
//! [`read_until_close`](IOStream::read_until_close)) served from the read buffer first, without
//! a syscall when it already holds enough. [`write`](IOStream::write) appends to the write buffer
//! at once (so writes keep their call order) and resolves when those bytes have reached the
//! kernel. Protocols that want no futures on their hot path (the HTTP server) attach a
//! [`StreamProtocol`] and work on the same buffers directly.
//!
//! ### Reading
//!
//! The stream keeps READ interest while it is open and its read buffer is below
//! `max_buffer_size`: data that arrives with no reader waiting is moved into the buffer (so a
//! level-triggered loop does not spin on it, and a peer's close is noticed at once). When the
//! buffer is full, READ interest is dropped until a reader consumes it: back-pressure, never
//! unbounded growth. A read that cannot be satisfied within `max_buffer_size` fails.
//!
//! ### Draining readiness
//!
//! In edge-triggered mode the kernel reports a readable socket once, so a readiness event must
//! be followed by reads until `EAGAIN` (or end of file). A short read is *not* proof enough
//! there: a FIN that arrived with the data raises no new edge, and `polling` does not report
//! `EPOLLRDHUP`, so only a read returning 0 shows it. In level-triggered mode a short read does
//! end the read (the kernel reports the fd again if anything, EOF included, remains), saving the
//! `EAGAIN` syscall. To keep one flooding peer from starving the others, one event reads at
//! most [`READ_BUDGET`] bytes; in edge mode a stream that hits the budget queues itself for the
//! next loop turn instead of reading on (in level mode the kernel's next report does that).
//!
//! ### Writing
//!
//! `send` only fills the kernel buffer. Whatever does not fit stays in the write buffer and the
//! stream asks for WRITE interest until it drains, then drops it: WRITE interest is held only
//! while output is pending.
//!
//! ### Closing
//!
//! A 0-byte read (peer closed), a hang-up or an error closes the stream: the fd is removed from
//! the poller *before* it is closed, pending reads that the buffer cannot satisfy fail with
//! [`StreamError::Closed`], pending writes fail, and the close callback runs exactly once.
//! Buffers go back to the loop's pool, so a closed or idle stream holds no buffer memory.
//!
//! ### TLS
//!
//! With the `tls` feature, `start_tls_server` / `start_tls_client` put a rustls session
//! between the socket and the buffers (`tls.rs`): the read buffer then holds decrypted
//! plaintext and the write buffer is encrypted on its way out, so every reader and protocol
//! above runs unchanged. A plain stream pays one flag test per read and per flush.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::task::Waker;

use crate::ioloop::{Events, IOLoop};

mod buffer;
mod read;
mod readiness;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tls")]
pub use tls::PlainReply;

use buffer::Buffer;

/// Bytes one readiness event may read before the stream yields to other connections.
pub const READ_BUDGET: usize = 256 * 1024;

/// Size of one read into the buffer.
const READ_CHUNK: usize = 64 * 1024;

/// Default bound on the read buffer (Tornado's 100 MiB).
pub const DEFAULT_MAX_BUFFER_SIZE: usize = 100 * 1024 * 1024;

/// Why a stream operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamError {
    /// The stream is closed (by either side); `cause` is the I/O error that closed it, if any.
    Closed {
        /// The error that closed the stream (a reset, say), if it was not a clean close.
        cause: Option<io::Error>,
    },
    /// A read could not be satisfied within `max_bytes` or `max_buffer_size`; the stream has
    /// been closed.
    Unsatisfiable(&'static str),
    /// Another read is already pending on this stream.
    AlreadyReading,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Closed { cause: Some(e) } => write!(f, "stream closed: {e}"),
            StreamError::Closed { cause: None } => f.write_str("stream closed"),
            StreamError::Unsatisfiable(why) => write!(f, "read unsatisfiable: {why}"),
            StreamError::AlreadyReading => f.write_str("a read is already pending on this stream"),
        }
    }
}

impl std::error::Error for StreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StreamError::Closed { cause: Some(e) } => Some(e),
            _ => None,
        }
    }
}

impl From<StreamError> for io::Error {
    fn from(e: StreamError) -> io::Error {
        let kind = match &e {
            StreamError::Closed { cause: Some(c) } => c.kind(),
            StreamError::Closed { cause: None } => io::ErrorKind::UnexpectedEof,
            StreamError::Unsatisfiable(_) => io::ErrorKind::InvalidData,
            StreamError::AlreadyReading => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// A protocol driven by stream events instead of futures (the HTTP server's connections).
///
/// Methods are called on the loop thread with no stream borrow held, so they may use every
/// method of the stream.
pub trait StreamProtocol {
    /// New bytes are in the read buffer, or the peer finished sending ([`IOStream::at_eof`]).
    fn on_read(&self, stream: &IOStream);
    /// The write buffer has drained into the kernel.
    fn on_drain(&self, _stream: &IOStream) {}
    /// The stream has closed.
    fn on_close(&self, _stream: &IOStream) {}
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Tcp,
    Unix,
    Pipe,
}

struct State {
    read: Buffer,
    write: Buffer,
    interest: Events,
    closed: bool,
    eof: bool,
    /// The fd reported more data than the budget allowed; it is queued to read on.
    requeued: bool,
    /// The last read ended in EAGAIN or a short read: wait for readiness before reading again.
    drained: bool,
    error: Option<io::Error>,
    reader: Option<Waker>,
    reading: bool,
    writers: Vec<Waker>,
    /// Total bytes appended to / flushed from the write buffer, for write completion.
    appended: u64,
    flushed: u64,
    close_callback: Option<Box<dyn FnOnce()>>,
    protocol: Option<Rc<dyn StreamProtocol>>,
    max_buffer_size: usize,
    /// The TLS session between the socket and the buffers, once started.
    #[cfg(feature = "tls")]
    tls: Option<Box<tls::TlsLayer>>,
}

impl State {
    /// Whether output waits to be sent (in the write buffer, or encrypted in the TLS session).
    #[inline]
    fn output_pending(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(t) = &self.tls {
            return self.write.len() > 0 || t.output_pending();
        }
        self.write.len() > 0
    }

    /// Whether to ask for WRITE readiness.
    #[inline]
    fn wants_write(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(t) = &self.tls {
            return t.wants_write(self.write.len() > 0);
        }
        self.write.len() > 0
    }
}

struct Inner {
    io_loop: IOLoop,
    fd: OwnedFd,
    kind: Kind,
    registered: Cell<bool>,
    /// A TLS session has been started (see `tls.rs`): the one test the plain path pays.
    #[cfg(feature = "tls")]
    tls_on: Cell<bool>,
    state: RefCell<State>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.registered.get() {
            self.io_loop.remove_handler(self.fd.as_raw_fd());
        }
        let st = self.state.get_mut();
        self.io_loop.give_buffer(std::mem::take(&mut st.read.data));
        self.io_loop.give_buffer(std::mem::take(&mut st.write.data));
    }
}

/// A non-blocking TCP/Unix socket or pipe registered on an [`IOLoop`].
///
/// Cloning gives another handle to the same stream. The stream closes when
/// [`close`](IOStream::close)d, on peer close or error, or when the last handle is dropped.
///
/// # Examples
///
/// ```no_run
/// use squall::ioloop::IOLoop;
/// use squall::iostream::IOStream;
///
/// IOLoop::current().run_sync(async {
///     let stream = IOStream::connect("127.0.0.1:8888".parse().unwrap()).await?;
///     stream.write(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").await?;
///     let head = stream.read_until(b"\r\n\r\n", 64 * 1024).await?;
///     println!("{}", String::from_utf8_lossy(&head));
///     Ok::<_, squall::iostream::StreamError>(())
/// }).unwrap();
/// ```
#[derive(Clone)]
pub struct IOStream {
    inner: Rc<Inner>,
}

impl fmt::Debug for IOStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.borrow();
        f.debug_struct("IOStream")
            .field("fd", &self.inner.fd.as_raw_fd())
            .field("kind", &self.inner.kind)
            .field("closed", &st.closed)
            .field("read_buffered", &st.read.len())
            .field("write_buffered", &st.write.len())
            .finish()
    }
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd we own, with valid flag arguments.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        if flags & libc::O_NONBLOCK == 0
            && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl IOStream {
    /// Wraps a connected TCP stream, on the current loop.
    ///
    /// # Errors
    ///
    /// Fails if the socket cannot be made non-blocking or registered.
    pub fn from_tcp(stream: TcpStream) -> io::Result<IOStream> {
        IOStream::wrap(&IOLoop::current(), stream.into(), Kind::Tcp)
    }

    /// Wraps a connected TCP stream on a given loop.
    ///
    /// # Errors
    ///
    /// Fails if the socket cannot be made non-blocking or registered.
    pub fn from_tcp_on(io_loop: &IOLoop, stream: TcpStream) -> io::Result<IOStream> {
        IOStream::wrap(io_loop, stream.into(), Kind::Tcp)
    }

    /// Wraps a connected Unix stream socket, on the current loop.
    ///
    /// # Errors
    ///
    /// Fails if the socket cannot be made non-blocking or registered.
    pub fn from_unix(stream: UnixStream) -> io::Result<IOStream> {
        IOStream::wrap(&IOLoop::current(), stream.into(), Kind::Unix)
    }

    /// Wraps a pipe end (or any other stream fd), on the current loop.
    ///
    /// # Errors
    ///
    /// Fails if the fd cannot be made non-blocking or registered.
    pub fn from_fd(fd: OwnedFd) -> io::Result<IOStream> {
        IOStream::wrap(&IOLoop::current(), fd, Kind::Pipe)
    }

    /// Wraps a socket from `accept4(SOCK_NONBLOCK)`: no flag syscall needed.
    pub(crate) fn from_accepted(io_loop: &IOLoop, stream: TcpStream) -> io::Result<IOStream> {
        IOStream::register(io_loop, stream.into(), Kind::Tcp)
    }

    fn wrap(io_loop: &IOLoop, fd: OwnedFd, kind: Kind) -> io::Result<IOStream> {
        set_nonblocking(fd.as_raw_fd())?;
        IOStream::register(io_loop, fd, kind)
    }

    fn register(io_loop: &IOLoop, fd: OwnedFd, kind: Kind) -> io::Result<IOStream> {
        let inner = Rc::new(Inner {
            io_loop: io_loop.clone(),
            fd,
            kind,
            registered: Cell::new(false),
            #[cfg(feature = "tls")]
            tls_on: Cell::new(false),
            state: RefCell::new(State {
                read: Buffer::default(),
                write: Buffer::default(),
                interest: Events::READ,
                closed: false,
                eof: false,
                requeued: false,
                drained: false,
                error: None,
                reader: None,
                reading: false,
                writers: Vec::new(),
                appended: 0,
                flushed: 0,
                close_callback: None,
                protocol: None,
                max_buffer_size: DEFAULT_MAX_BUFFER_SIZE,
                #[cfg(feature = "tls")]
                tls: None,
            }),
        });
        let weak = Rc::downgrade(&inner);
        // SAFETY: the stream owns its fd and removes this handler before closing it (close
        // and Drop both call remove_handler first).
        unsafe {
            io_loop.add_handler(inner.fd.as_raw_fd(), Events::READ, move |_, events| {
                if let Some(inner) = weak.upgrade() {
                    IOStream { inner }.handle_events(events);
                }
            })?;
        }
        inner.registered.set(true);
        Ok(IOStream { inner })
    }

    /// The loop this stream is registered on.
    pub fn io_loop(&self) -> &IOLoop {
        &self.inner.io_loop
    }

    /// The stream's file descriptor.
    pub fn fd(&self) -> RawFd {
        self.inner.fd.as_raw_fd()
    }

    /// Sets the bound on the read buffer (default 100 MiB).
    pub fn set_max_buffer_size(&self, n: usize) {
        self.inner.state.borrow_mut().max_buffer_size = n.max(1);
    }

    /// Sets `TCP_NODELAY` (TCP streams only; a no-op for others).
    ///
    /// # Errors
    ///
    /// The `setsockopt` error.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        if self.inner.kind != Kind::Tcp {
            return Ok(());
        }
        crate::netutil::set_nodelay(self.fd(), on)
    }

    /// The peer's address (TCP streams).
    ///
    /// # Errors
    ///
    /// `getpeername`'s error, or `Unsupported` for non-TCP streams.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        if self.inner.kind != Kind::Tcp {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "not a TCP stream",
            ));
        }
        crate::netutil::peer_addr(self.fd())
    }

    /// Whether the stream is closed.
    pub fn closed(&self) -> bool {
        self.inner.state.borrow().closed
    }

    /// Whether the peer has finished sending (a 0-byte read was seen).
    pub fn at_eof(&self) -> bool {
        self.inner.state.borrow().eof
    }

    /// The error that closed the stream, if any (its text; the error itself went to the reader).
    pub fn error(&self) -> Option<String> {
        self.inner
            .state
            .borrow()
            .error
            .as_ref()
            .map(|e| e.to_string())
    }

    /// Whether a read future is pending.
    pub fn reading(&self) -> bool {
        self.inner.state.borrow().reading
    }

    /// Whether the stream speaks TLS (after `start_tls_server` or `start_tls_client`; always
    /// `false` without the `tls` feature).
    #[inline]
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.inner.tls_on.get();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Whether output is waiting in the write buffer (or, over TLS, in the TLS session).
    pub fn writing(&self) -> bool {
        self.inner.state.borrow().output_pending()
    }

    /// Runs `f` once, when the stream closes (at once if it already has).
    pub fn set_close_callback<F: FnOnce() + 'static>(&self, f: F) {
        let closed = {
            let mut st = self.inner.state.borrow_mut();
            if !st.closed {
                st.close_callback = Some(Box::new(f));
                return;
            }
            true
        };
        if closed {
            f();
        }
    }

    /// Attaches (or with `None` detaches) an event-driven protocol.
    pub fn set_protocol(&self, protocol: Option<Rc<dyn StreamProtocol>>) {
        self.inner.state.borrow_mut().protocol = protocol;
    }

    // ----- buffer access for protocols ----------------------------------------------------

    /// Number of bytes in the read buffer.
    pub fn read_buffered(&self) -> usize {
        self.inner.state.borrow().read.len()
    }

    /// Runs `f` over the read buffer's bytes; `f` returns how many it consumed.
    pub fn with_read_buffer<R>(&self, f: impl FnOnce(&[u8]) -> (usize, R)) -> R {
        let (n, r) = {
            let st = self.inner.state.borrow();
            f(st.read.bytes())
        };
        if n > 0 {
            self.consume(n);
        }
        r
    }

    /// Lends the read buffer's bytes to `f` mutably (for protocols that rewrite input in
    /// place, as WebSocket unmasking does), with the stream's state *not* borrowed: `f` may
    /// call any other method of the stream (write, flush, close). `f` returns how many bytes
    /// it consumed. While lent, the stream shows an empty read buffer; nothing reads into it
    /// meanwhile (reads happen on loop events), but should anything arrive, it is kept after
    /// the lent bytes.
    pub fn with_read_buffer_mut<R>(&self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> R {
        let mut lent = std::mem::take(&mut self.inner.state.borrow_mut().read);
        let start = lent.start;
        let (n, r) = f(&mut lent.data[start..]);
        {
            let mut st = self.inner.state.borrow_mut();
            if st.read.len() > 0 {
                lent.data.extend_from_slice(st.read.bytes());
            }
            let arrived = std::mem::replace(&mut st.read, lent);
            self.inner.io_loop.give_buffer(arrived.data);
        }
        if n > 0 {
            self.consume(n);
        }
        r
    }

    /// Drops `n` bytes from the front of the read buffer.
    #[inline]
    pub fn consume(&self, n: usize) {
        {
            // The common case inline (a pipelined request taken from a buffer that keeps
            // bytes and does not cross the size limit): one add.
            let mut st = self.inner.state.borrow_mut();
            let len = st.read.len();
            if n < len && (len < st.max_buffer_size || len - n >= st.max_buffer_size) {
                st.read.start += n;
                return;
            }
        }
        self.consume_slow(n);
    }

    /// `consume` that empties the buffer (handing its allocation back to the loop) or brings
    /// it back under `max_buffer_size` (resuming reads).
    #[inline(never)]
    fn consume_slow(&self, n: usize) {
        let resume = {
            let mut st = self.inner.state.borrow_mut();
            let was_full = st.read.len() >= st.max_buffer_size;
            st.read.consume(n);
            if st.read.len() == 0 {
                let buf = std::mem::take(&mut st.read.data);
                self.inner.io_loop.give_buffer(buf);
            }
            was_full && st.read.len() < st.max_buffer_size
        };
        if resume {
            self.update_interest();
            // Plaintext already decrypted is announced by no readiness event.
            #[cfg(feature = "tls")]
            if self.is_tls() && self.tls_plaintext_held() {
                self.schedule_read();
            }
        }
    }

    /// Appends to the write buffer through `f` (which may format straight into it), without
    /// flushing. Returns the new total of bytes ever appended.
    pub fn with_write_buffer<R>(&self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let mut st = self.inner.state.borrow_mut();
        self.append(&mut st, f)
    }

    /// [`with_write_buffer`](IOStream::with_write_buffer) if the stream is open, checked under
    /// the same borrow (a response checks both); `None`, without calling `f`, once it is closed.
    #[inline]
    pub(crate) fn with_open_write_buffer<R>(&self, f: impl FnOnce(&mut Vec<u8>) -> R) -> Option<R> {
        let mut st = self.inner.state.borrow_mut();
        if st.closed {
            return None;
        }
        Some(self.append(&mut st, f))
    }

    #[inline]
    fn append<R>(&self, st: &mut State, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        if st.write.data.capacity() == 0 {
            st.write.data = self.inner.io_loop.take_buffer(16 * 1024);
        }
        let before = st.write.data.len();
        let r = f(&mut st.write.data);
        let added = st.write.data.len().saturating_sub(before);
        st.appended += added as u64;
        r
    }

    /// Writes as much of the write buffer as the kernel takes now; asks for WRITE interest if
    /// some remains. Returns whether the buffer is empty.
    pub fn flush(&self) -> bool {
        let drained = self.write_to_fd();
        self.after_write(drained);
        drained
    }

    /// Bytes waiting in the write buffer. Over TLS, that is plaintext the TLS session has not
    /// taken yet: it takes at most 64 KiB of records, so a peer that does not read still shows
    /// here; [`writing`](IOStream::writing) also counts what the session holds.
    pub fn write_buffered(&self) -> usize {
        self.inner.state.borrow().write.len()
    }

    /// Closes the write side (TCP/Unix `shutdown(SHUT_WR)`) once pending output is flushed by
    /// the caller; reading continues.
    ///
    /// # Errors
    ///
    /// The `shutdown` error.
    pub fn shutdown_write(&self) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if self.is_tls() {
            self.tls_close_notify();
        }
        // SAFETY: shutdown on our own fd.
        let rc = unsafe { libc::shutdown(self.fd(), libc::SHUT_WR) };
        if rc < 0 && self.inner.kind != Kind::Pipe {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Closes the stream: deregisters the fd, fails pending operations, runs the close
    /// callback. Idempotent. Unflushed output is dropped.
    pub fn close(&self) {
        self.close_with(None);
    }

    // ----- internals -------------------------------------------------------------------------

    pub(super) fn close_with(&self, error: Option<io::Error>) {
        #[cfg(feature = "tls")]
        if error.is_none() && self.is_tls() && !self.closed() {
            self.tls_close_notify();
        }
        let (reader, writers, cb, protocol) = {
            let mut st = self.inner.state.borrow_mut();
            if st.closed {
                return;
            }
            st.closed = true;
            if st.error.is_none() {
                st.error = error;
            }
            let w = std::mem::take(&mut st.write.data);
            st.write.start = 0;
            self.inner.io_loop.give_buffer(w);
            (
                st.reader.take(),
                std::mem::take(&mut st.writers),
                st.close_callback.take(),
                st.protocol.take(),
            )
        };
        // Deregister before the fd can be closed (it closes when the last handle drops).
        if self.inner.registered.replace(false) {
            self.inner.io_loop.remove_handler(self.fd());
        }
        // Shut the socket down so the peer sees the close now, even if other handles keep
        // the fd number alive a while longer.
        if self.inner.kind != Kind::Pipe {
            // SAFETY: `self.fd()` is the socket this stream owns and has not closed (it closes
            // when the last handle drops, and `self` is one); shutdown(2) only changes the
            // socket's state and touches no memory of ours.
            unsafe { libc::shutdown(self.fd(), libc::SHUT_RDWR) };
        }
        if let Some(w) = reader {
            w.wake();
        }
        for w in writers {
            w.wake();
        }
        if let Some(p) = protocol {
            p.on_close(self);
        }
        if let Some(cb) = cb {
            cb();
        }
    }

    pub(super) fn set_interest(&self, events: Events) {
        let changed = {
            let mut st = self.inner.state.borrow_mut();
            if st.closed || st.interest == events {
                false
            } else {
                st.interest = events;
                true
            }
        };
        if changed && self.inner.registered.get() {
            if let Err(e) = self.inner.io_loop.update_handler(self.fd(), events) {
                self.close_with(Some(e));
            }
        }
    }

    /// Recomputes READ/WRITE interest from the buffers (see the module docs).
    pub(super) fn update_interest(&self) {
        let want = {
            let st = self.inner.state.borrow();
            let mut ev = Events::NONE;
            if !st.eof && st.read.len() < st.max_buffer_size {
                ev |= Events::READ;
            }
            if st.wants_write() {
                ev |= Events::WRITE;
            }
            ev
        };
        self.set_interest(want);
    }
}
