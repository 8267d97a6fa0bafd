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

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};

use crate::ioloop::{Events, IOLoop, Trigger};

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

/// A byte buffer whose consumed prefix is dropped lazily.
#[derive(Default)]
struct Buffer {
    data: Vec<u8>,
    start: usize,
}

impl Buffer {
    fn len(&self) -> usize {
        self.data.len() - self.start
    }
    fn bytes(&self) -> &[u8] {
        &self.data[self.start..]
    }
    fn consume(&mut self, n: usize) {
        self.start += n.min(self.len());
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
        }
    }
    fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.len());
        let out = self.data[self.start..self.start + n].to_vec();
        self.consume(n);
        out
    }
    /// Makes room for at least `want` more bytes at the end, compacting first if that suffices.
    fn reserve(&mut self, want: usize) {
        if self.data.capacity() - self.data.len() >= want {
            return;
        }
        if self.start > 0 {
            self.data.drain(..self.start);
            self.start = 0;
        }
        self.data.reserve(want);
    }
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
}

struct Inner {
    io_loop: IOLoop,
    fd: OwnedFd,
    kind: Kind,
    registered: Cell<bool>,
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
/// Cloning gives another handle to the same stream. The stream closes when [`close`d]
/// (IOStream::close), on peer close or error, or when the last handle is dropped.
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
            }),
        });
        let weak = Rc::downgrade(&inner);
        io_loop.add_handler(inner.fd.as_raw_fd(), Events::READ, move |_, events| {
            if let Some(inner) = weak.upgrade() {
                IOStream { inner }.handle_events(events);
            }
        })?;
        inner.registered.set(true);
        Ok(IOStream { inner })
    }

    /// Connects to `addr` without blocking the loop.
    ///
    /// # Errors
    ///
    /// The connection error (refused, unreachable, ...).
    pub async fn connect(addr: SocketAddr) -> Result<IOStream, StreamError> {
        let closed = |e| StreamError::Closed { cause: Some(e) };
        let domain = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let fd = crate::netutil::socket(domain, libc::SOCK_STREAM).map_err(closed)?;
        let (storage, len) = crate::netutil::sockaddr(&addr);
        // SAFETY: valid socket and address storage of `len` bytes.
        let rc = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                &storage as *const _ as *const libc::sockaddr,
                len,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(closed(e));
            }
        }
        let stream = IOStream::wrap(&IOLoop::current(), fd, Kind::Tcp).map_err(closed)?;
        // Connected when writable; the outcome is in SO_ERROR.
        stream.set_interest(Events::READ | Events::WRITE);
        std::future::poll_fn(|cx| {
            let mut st = stream.inner.state.borrow_mut();
            if st.closed {
                return Poll::Ready(Err(StreamError::Closed {
                    cause: st.error.take(),
                }));
            }
            match crate::netutil::socket_error(stream.inner.fd.as_raw_fd()) {
                Some(e) => {
                    drop(st);
                    stream.close_with(Some(e));
                    let cause = stream.inner.state.borrow_mut().error.take();
                    Poll::Ready(Err(StreamError::Closed { cause }))
                }
                None if is_connected(stream.inner.fd.as_raw_fd()) => Poll::Ready(Ok(())),
                None => {
                    st.writers.push(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await?;
        stream.update_interest();
        let _ = stream.set_nodelay(true);
        Ok(stream)
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

    /// Whether output is waiting in the write buffer.
    pub fn writing(&self) -> bool {
        self.inner.state.borrow().write.len() > 0
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

    /// Drops `n` bytes from the front of the read buffer.
    pub fn consume(&self, n: usize) {
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
        }
    }

    /// Appends to the write buffer through `f` (which may format straight into it), without
    /// flushing. Returns the new total of bytes ever appended.
    pub fn with_write_buffer<R>(&self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let mut st = self.inner.state.borrow_mut();
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

    /// Bytes waiting in the write buffer.
    pub fn write_buffered(&self) -> usize {
        self.inner.state.borrow().write.len()
    }

    // ----- futures API ---------------------------------------------------------------------

    /// Reads up to and including `delimiter`.
    ///
    /// # Errors
    ///
    /// [`StreamError::Unsatisfiable`] (and the stream is closed) if `max_bytes` pass without
    /// the delimiter; [`StreamError::Closed`] if the stream closes first.
    pub async fn read_until(
        &self,
        delimiter: &[u8],
        max_bytes: usize,
    ) -> Result<Vec<u8>, StreamError> {
        let mut scanned = 0usize;
        self.read_with(max_bytes, move |buf, _eof| {
            // Resume the scan where the last one stopped: dribbled input costs O(n), not O(n²).
            let from = scanned.saturating_sub(delimiter.len().saturating_sub(1));
            match find(&buf[from..], delimiter) {
                Some(i) => Found::Take(from + i + delimiter.len()),
                None => {
                    scanned = buf.len();
                    Found::NotYet
                }
            }
        })
        .await
    }

    /// Reads up to and including the first match of `regex`.
    ///
    /// # Errors
    ///
    /// As [`read_until`](IOStream::read_until).
    pub async fn read_until_regex(
        &self,
        regex: &regex::bytes::Regex,
        max_bytes: usize,
    ) -> Result<Vec<u8>, StreamError> {
        self.read_with(max_bytes, |buf, _eof| match regex.find(buf) {
            Some(m) => Found::Take(m.end()),
            None => Found::NotYet,
        })
        .await
    }

    /// Reads exactly `n` bytes, or with `partial` as soon as at least one byte is available
    /// (at most `n`).
    ///
    /// # Errors
    ///
    /// [`StreamError::Closed`] if the stream closes before enough data arrived.
    pub async fn read_bytes(&self, n: usize, partial: bool) -> Result<Vec<u8>, StreamError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        self.read_with(usize::MAX, move |buf, _eof| {
            if buf.len() >= n {
                Found::Take(n)
            } else if partial && !buf.is_empty() {
                Found::Take(buf.len())
            } else {
                Found::NotYet
            }
        })
        .await
    }

    /// Reads everything until the peer closes.
    ///
    /// # Errors
    ///
    /// [`StreamError::Closed`] if the stream closed with an error (a reset), or
    /// [`StreamError::Unsatisfiable`] if the data exceeds `max_buffer_size`.
    pub async fn read_until_close(&self) -> Result<Vec<u8>, StreamError> {
        self.read_with(usize::MAX, |buf, eof| {
            if eof {
                Found::Take(buf.len())
            } else {
                Found::NotYet
            }
        })
        .await
    }

    async fn read_with(
        &self,
        max_bytes: usize,
        mut check: impl FnMut(&[u8], bool) -> Found,
    ) -> Result<Vec<u8>, StreamError> {
        {
            let mut st = self.inner.state.borrow_mut();
            if st.reading {
                return Err(StreamError::AlreadyReading);
            }
            st.reading = true;
        }
        let _guard = ReadingGuard(self);
        std::future::poll_fn(|cx| {
            if crate::task::poll_budget(cx).is_pending() {
                return Poll::Pending;
            }
            let mut tried_read = false;
            loop {
                let mut st = self.inner.state.borrow_mut();
                let eof = st.eof || st.closed;
                match check(st.read.bytes(), eof) {
                    Found::Take(n) if n <= max_bytes => {
                        let out = st.read.take(n);
                        drop(st);
                        self.consume(0);
                        return Poll::Ready(Ok(out));
                    }
                    Found::Take(_) => {
                        return Poll::Ready(self.fail_unsatisfiable(st, "max_bytes exceeded"))
                    }
                    Found::NotYet if st.read.len() > max_bytes => {
                        return Poll::Ready(self.fail_unsatisfiable(st, "max_bytes exceeded"));
                    }
                    Found::NotYet if st.closed || st.eof => {
                        let cause = st.error.take();
                        return Poll::Ready(Err(StreamError::Closed { cause }));
                    }
                    Found::NotYet if st.read.len() >= st.max_buffer_size => {
                        return Poll::Ready(self.fail_unsatisfiable(st, "max_buffer_size reached"));
                    }
                    Found::NotYet => {}
                }
                // Try the socket once ourselves before parking: the data may already be there.
                if !tried_read && !st.drained {
                    drop(st);
                    tried_read = true;
                    self.fill();
                    continue;
                }
                st.reader = Some(cx.waker().clone());
                return Poll::Pending;
            }
        })
        .await
    }

    fn fail_unsatisfiable(
        &self,
        st: std::cell::RefMut<'_, State>,
        why: &'static str,
    ) -> Result<Vec<u8>, StreamError> {
        drop(st);
        self.close();
        Err(StreamError::Unsatisfiable(why))
    }

    /// Appends `data` to the write buffer and resolves once it has reached the kernel.
    ///
    /// # Errors
    ///
    /// [`StreamError::Closed`] if the stream is or becomes closed before the data was sent.
    pub async fn write(&self, data: &[u8]) -> Result<(), StreamError> {
        if self.closed() {
            let cause = self.inner.state.borrow_mut().error.take();
            return Err(StreamError::Closed { cause });
        }
        self.with_write_buffer(|buf| buf.extend_from_slice(data));
        self.flush();
        self.wait_flushed().await
    }

    /// Resolves once every byte appended to the write buffer so far has reached the kernel
    /// (it does not flush by itself; the stream flushes when the fd is writable).
    ///
    /// # Errors
    ///
    /// [`StreamError::Closed`] if the stream closes first.
    pub async fn wait_flushed(&self) -> Result<(), StreamError> {
        let target = self.inner.state.borrow().appended;
        std::future::poll_fn(|cx| {
            if crate::task::poll_budget(cx).is_pending() {
                return Poll::Pending;
            }
            let mut st = self.inner.state.borrow_mut();
            if st.flushed >= target {
                return Poll::Ready(Ok(()));
            }
            if st.closed {
                let cause = st.error.take();
                return Poll::Ready(Err(StreamError::Closed { cause }));
            }
            st.writers.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Closes the write side (TCP/Unix `shutdown(SHUT_WR)`) once pending output is flushed by
    /// the caller; reading continues.
    ///
    /// # Errors
    ///
    /// The `shutdown` error.
    pub fn shutdown_write(&self) -> io::Result<()> {
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

    fn close_with(&self, error: Option<io::Error>) {
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
        // SAFETY: shutting down our own socket so the peer sees the close now, even if
        // other handles keep the fd number alive a while longer.
        if self.inner.kind != Kind::Pipe {
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

    fn set_interest(&self, events: Events) {
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
    fn update_interest(&self) {
        let want = {
            let st = self.inner.state.borrow();
            let mut ev = Events::NONE;
            if !st.eof && st.read.len() < st.max_buffer_size {
                ev |= Events::READ;
            }
            if st.write.len() > 0 {
                ev |= Events::WRITE;
            }
            ev
        };
        self.set_interest(want);
    }

    fn handle_events(&self, events: Events) {
        if events.contains(Events::WRITE) || (events.intersects(Events::ERROR) && self.writing()) {
            let drained = self.write_to_fd();
            self.after_write(drained);
        }
        if events.contains(Events::READ) || events.intersects(Events::ERROR) {
            self.inner.state.borrow_mut().drained = false;
            self.read_event();
        }
        if events.intersects(Events::ERROR) && !self.closed() && !events.contains(Events::READ) {
            // Error without readable data (e.g. a failed connect): close with the socket's error.
            let err = crate::netutil::socket_error(self.fd());
            self.close_with(err);
        }
    }

    fn read_event(&self) {
        let got = self.fill();
        let (reader, protocol) = {
            let mut st = self.inner.state.borrow_mut();
            (st.reader.take(), st.protocol.clone())
        };
        if let Some(w) = reader {
            w.wake();
        }
        if let Some(p) = protocol {
            if got || self.at_eof() {
                p.on_read(self);
            }
        }
    }

    /// Reads from the fd into the read buffer, up to the budget. Returns whether bytes arrived.
    fn fill(&self) -> bool {
        let fd = self.fd();
        let level = self.inner.io_loop.trigger() == Trigger::Level;
        let mut total = 0usize;
        let mut outcome: Option<Result<(), io::Error>> = None; // Some(Ok) = EOF
        {
            let mut st = self.inner.state.borrow_mut();
            if st.closed || st.eof {
                return false;
            }
            loop {
                let room = st.max_buffer_size.saturating_sub(st.read.len());
                if room == 0 {
                    break;
                }
                if st.read.data.capacity() == 0 {
                    st.read.data = self.inner.io_loop.take_buffer(READ_CHUNK);
                }
                st.read.reserve(READ_CHUNK.min(room).max(1));
                let len = st.read.data.len();
                let spare = (st.read.data.capacity() - len).min(room);
                // SAFETY: reading into the Vec's spare capacity, at most `spare` bytes; the
                // length is only extended by what the kernel wrote.
                let n = unsafe {
                    libc::read(
                        fd,
                        st.read.data.as_mut_ptr().add(len) as *mut libc::c_void,
                        spare,
                    )
                };
                if n > 0 {
                    let n = n as usize;
                    // SAFETY: the kernel initialised `n` bytes after `len`.
                    unsafe { st.read.data.set_len(len + n) };
                    total += n;
                    if n < spare && level {
                        st.drained = true;
                        break;
                    }
                    if total >= READ_BUDGET {
                        break;
                    }
                } else if n == 0 {
                    st.eof = true;
                    outcome = Some(Ok(()));
                    break;
                } else {
                    let e = io::Error::last_os_error();
                    match e.kind() {
                        io::ErrorKind::Interrupted => continue,
                        io::ErrorKind::WouldBlock => {
                            st.drained = true;
                            break;
                        }
                        _ => {
                            outcome = Some(Err(e));
                            break;
                        }
                    }
                }
            }
            if st.read.len() == 0 && st.read.data.capacity() > 0 {
                let buf = std::mem::take(&mut st.read.data);
                st.read.start = 0;
                self.inner.io_loop.give_buffer(buf);
            }
        }
        match outcome {
            Some(Err(e)) => {
                self.close_with(Some(e));
                return total > 0;
            }
            Some(Ok(())) => {
                let has_protocol = self.inner.state.borrow().protocol.is_some();
                if !has_protocol {
                    // Futures mode: a peer's close ends the stream (buffered data stays readable).
                    self.close_with(None);
                    return total > 0;
                }
            }
            None => {}
        }
        self.after_fill(total);
        total > 0
    }

    fn after_fill(&self, total: usize) {
        let requeue = {
            let mut st = self.inner.state.borrow_mut();
            let hit_budget = total >= READ_BUDGET && !st.drained && !st.eof;
            if hit_budget && self.inner.io_loop.trigger() == Trigger::Edge && !st.requeued {
                st.requeued = true;
                true
            } else {
                false
            }
        };
        if requeue {
            // Edge mode: no new edge will come for the bytes we left; read them next turn.
            let weak: Weak<Inner> = Rc::downgrade(&self.inner);
            self.inner.io_loop.add_callback(move || {
                if let Some(inner) = weak.upgrade() {
                    let s = IOStream { inner };
                    s.inner.state.borrow_mut().requeued = false;
                    if !s.closed() {
                        s.read_event();
                    }
                }
            });
        }
        self.update_interest();
    }

    /// Writes the write buffer to the fd until empty or EAGAIN. Returns whether it drained.
    fn write_to_fd(&self) -> bool {
        let fd = self.fd();
        let kind = self.inner.kind;
        let mut err = None;
        let drained = {
            let mut st = self.inner.state.borrow_mut();
            if st.closed {
                return true;
            }
            loop {
                let pending = st.write.bytes();
                if pending.is_empty() {
                    break true;
                }
                // SAFETY: writing from a live slice of `pending.len()` bytes.
                let n = unsafe {
                    match kind {
                        Kind::Pipe => {
                            libc::write(fd, pending.as_ptr() as *const libc::c_void, pending.len())
                        }
                        _ => libc::send(
                            fd,
                            pending.as_ptr() as *const libc::c_void,
                            pending.len(),
                            libc::MSG_NOSIGNAL,
                        ),
                    }
                };
                if n >= 0 {
                    let n = n as usize;
                    st.write.consume(n);
                    st.flushed += n as u64;
                } else {
                    let e = io::Error::last_os_error();
                    match e.kind() {
                        io::ErrorKind::Interrupted => continue,
                        io::ErrorKind::WouldBlock => break false,
                        _ => {
                            err = Some(e);
                            break false;
                        }
                    }
                }
            }
        };
        if let Some(e) = err {
            self.close_with(Some(e));
            return true;
        }
        drained
    }

    fn after_write(&self, drained: bool) {
        if self.closed() {
            return;
        }
        if drained {
            let (writers, protocol) = {
                let mut st = self.inner.state.borrow_mut();
                if st.write.data.capacity() > 0 {
                    let buf = std::mem::take(&mut st.write.data);
                    st.write.start = 0;
                    self.inner.io_loop.give_buffer(buf);
                }
                (std::mem::take(&mut st.writers), st.protocol.clone())
            };
            let had_interest = self.inner.state.borrow().interest.contains(Events::WRITE);
            self.update_interest();
            for w in writers {
                w.wake();
            }
            if had_interest {
                if let Some(p) = protocol {
                    p.on_drain(self);
                }
            }
        } else {
            self.update_interest();
        }
    }
}

enum Found {
    Take(usize),
    NotYet,
}

struct ReadingGuard<'a>(&'a IOStream);

impl Drop for ReadingGuard<'_> {
    fn drop(&mut self) {
        let mut st = self.0.inner.state.borrow_mut();
        st.reading = false;
        st.reader = None;
    }
}

/// Finds `needle` in `hay` (first occurrence).
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match hay[i..=last_start].iter().position(|&b| b == first) {
            None => return None,
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

fn is_connected(fd: RawFd) -> bool {
    crate::netutil::peer_addr(fd).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_works() {
        assert_eq!(find(b"abc\r\n\r\nx", b"\r\n\r\n"), Some(3));
        assert_eq!(find(b"abc", b"abcd"), None);
        assert_eq!(find(b"aaab", b"ab"), Some(2));
        assert_eq!(find(b"", b"a"), None);
        assert_eq!(find(b"xyz", b""), Some(0));
    }

    #[test]
    fn buffer_consume_and_reserve() {
        let mut b = Buffer::default();
        b.data.extend_from_slice(b"hello world");
        b.consume(6);
        assert_eq!(b.bytes(), b"world");
        b.reserve(1000);
        assert_eq!(b.bytes(), b"world");
        assert_eq!(b.take(3), b"wor");
        b.consume(10);
        assert_eq!(b.len(), 0);
        assert_eq!(b.start, 0);
    }
}
