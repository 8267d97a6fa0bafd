//! TLS under the stream's buffers (feature `tls`): a rustls session, driven sans-IO, sits
//! between the socket and the read and write buffers. Once
//! [`start_tls_server`](IOStream::start_tls_server) or
//! [`start_tls_client`](IOStream::start_tls_client) has run, the read buffer holds
//! decrypted plaintext and whatever is appended to the write buffer is encrypted on its way
//! to the socket; every reader, writer and [`StreamProtocol`](super::StreamProtocol) above
//! (HTTP/1.1, the HTTP client, WebSocket) works unchanged.
//!
//! ### Reading
//!
//! A readiness event reads ciphertext from the socket straight into rustls (`read_tls`),
//! decrypts it (`process_new_packets`) and moves the plaintext into the read buffer, until
//! the socket is drained, [`READ_BUDGET`] bytes of ciphertext were read, or the read buffer
//! is full. Plaintext is always moved out before the next read, because rustls refuses to read
//! while it holds some. When the read buffer is full, rustls keeps what did not fit and the
//! socket is left unread (back-pressure, as for plain streams); when the reader frees room,
//! the stream schedules a read itself, since no readiness event will announce plaintext
//! already decrypted.
//!
//! The peer's `close_notify` and a bare TCP end of input (a peer that closes without
//! `close_notify`) are both the end of input ([`IOStream::at_eof`]): HTTP frames its own
//! messages, and most clients skip `close_notify`. Bad input (not TLS, a failed handshake, a
//! corrupt record) closes the stream after sending rustls's alert, with the rustls error as
//! the cause (`io::ErrorKind::InvalidData`). A server stream started with
//! [`start_tls_server_with_plain_reply`](IOStream::start_tls_server_with_plain_reply) answers
//! a client whose first byte is a letter (plain text, such as an HTTP request sent to the
//! HTTPS port: no TLS record starts with one) with that reply, in the clear, instead of an
//! alert it could not read.
//!
//! ### Writing
//!
//! A flush hands the write buffer's plaintext to rustls, which encrypts it into records at
//! once and holds at most 64 KiB of them; the records go out with one `sendmsg` per batch.
//! Plaintext rustls does not take yet stays in the write buffer, so output stays bounded
//! and [`write_buffered`](IOStream::write_buffered) still says when a peer is not reading.
//! Bytes count as flushed (for [`wait_flushed`](IOStream::wait_flushed)) once every record
//! holding them has reached the kernel. During the handshake rustls keeps plaintext
//! until it can encrypt it, and WRITE interest is asked only for handshake records.
//!
//! ### Closing
//!
//! A clean [`close`](IOStream::close) (and [`shutdown_write`](IOStream::shutdown_write))
//! first sends `close_notify`, best effort: one non-blocking write. A close for an error does
//! not.

use std::io::{self, BufRead, IoSlice, Write};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

use super::read::ReadingGuard;
use super::{Buffer, IOStream, Kind, State, StreamError, READ_BUDGET, READ_CHUNK};
use crate::ioloop::{IOLoop, Trigger};
use crate::tls::{ClientTlsConfig, ServerTlsConfig};

/// Writes the answer, in the clear, for a client that sent plain text to a TLS server
/// stream (see [`IOStream::start_tls_server_with_plain_reply`]).
pub type PlainReply = Rc<dyn Fn(&mut Vec<u8>)>;

/// A stream's TLS session.
pub(super) struct TlsLayer {
    conn: rustls::Connection,
    /// Plaintext taken from the write buffer into rustls whose records have not all reached
    /// the kernel yet.
    unconfirmed: u64,
    /// The first byte the peer sent (to tell plain text from TLS when the handshake fails).
    first_byte: Option<u8>,
    /// What to answer a peer that sent plain text (server streams that asked for it).
    plain_reply: Option<PlainReply>,
}

impl TlsLayer {
    /// Whether output waits in rustls: records to send, or plaintext not yet confirmed sent.
    pub(super) fn output_pending(&self) -> bool {
        self.unconfirmed > 0 || self.conn.wants_write()
    }

    /// Whether a flush could make progress now: records to send, or plaintext that rustls
    /// can encrypt (not while the handshake is under way).
    pub(super) fn wants_write(&self, plaintext_waiting: bool) -> bool {
        self.conn.wants_write() || (plaintext_waiting && !self.conn.is_handshaking())
    }
}

impl IOStream {
    /// Makes this accepted connection the server side of a TLS session: from now on the read
    /// buffer holds the client's decrypted bytes and the write buffer is encrypted. The
    /// handshake runs as data arrives (bytes already in the read buffer are taken as the
    /// client's first TLS bytes); it is complete when plaintext first shows up.
    ///
    /// # Errors
    ///
    /// The stream is closed, is a pipe, or already speaks TLS; or rustls refused the
    /// configuration.
    pub fn start_tls_server(&self, config: &ServerTlsConfig) -> io::Result<()> {
        let conn = rustls::ServerConnection::new(config.rustls_config().clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.start_tls(conn.into(), None)
    }

    /// [`start_tls_server`](IOStream::start_tls_server), and if the client's first byte is an
    /// ASCII letter (plain text: every TLS record starts with a content type of 20 to 24, an
    /// SSLv2 hello with a byte of 128 or more), `plain_reply` writes what is sent back in the
    /// clear (an HTTP server's `400`, say) before the stream closes, instead of a TLS alert
    /// the client could not read. It is called only then.
    ///
    /// # Errors
    ///
    /// As [`start_tls_server`](IOStream::start_tls_server).
    pub fn start_tls_server_with_plain_reply(
        &self,
        config: &ServerTlsConfig,
        plain_reply: PlainReply,
    ) -> io::Result<()> {
        let conn = rustls::ServerConnection::new(config.rustls_config().clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.start_tls(conn.into(), Some(plain_reply))
    }

    /// Makes this connected stream the client side of a TLS session with `server_name` (a
    /// DNS name, sent as SNI and checked against the server's certificate, or an IP address,
    /// checked against the certificate's IP addresses), and sends the `ClientHello`. Await
    /// [`tls_handshake`](IOStream::tls_handshake) to learn whether the server was trusted.
    ///
    /// # Errors
    ///
    /// As [`start_tls_server`](IOStream::start_tls_server), or `server_name` is not a valid
    /// DNS name or IP address.
    pub fn start_tls_client(&self, config: &ClientTlsConfig, server_name: &str) -> io::Result<()> {
        let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let conn = rustls::ClientConnection::new(Arc::clone(config.rustls_config()), name)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.start_tls(conn.into(), None)?;
        self.flush();
        Ok(())
    }

    fn start_tls(
        &self,
        mut conn: rustls::Connection,
        plain_reply: Option<PlainReply>,
    ) -> io::Result<()> {
        if self.inner.kind == Kind::Pipe {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "TLS needs a socket, not a pipe",
            ));
        }
        {
            let mut st = self.inner.state.borrow_mut();
            if st.closed {
                return Err(io::Error::new(io::ErrorKind::NotConnected, "stream closed"));
            }
            if st.tls.is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "the stream already speaks TLS",
                ));
            }
            // Bytes read before the switch are the peer's first TLS bytes.
            let early = st.read.len();
            let first_byte = st.read.bytes().first().copied();
            if early > 0 {
                let mut rd: &[u8] = st.read.bytes();
                while !rd.is_empty() {
                    match conn.read_tls(&mut rd) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
                    }
                }
                st.read.consume(early);
                let buf = std::mem::take(&mut st.read.data);
                st.read.start = 0;
                self.inner.io_loop.give_buffer(buf);
            }
            st.tls = Some(Box::new(TlsLayer {
                conn,
                unconfirmed: 0,
                first_byte,
                plain_reply,
            }));
        }
        self.inner.tls_on.set(true);
        Ok(())
    }

    /// Runs `f` on the stream's rustls session (the negotiated ALPN protocol, TLS version,
    /// SNI name, peer certificates...); `None` for a plain stream.
    pub fn with_tls_session<R>(&self, f: impl FnOnce(&rustls::Connection) -> R) -> Option<R> {
        let st = self.inner.state.borrow();
        st.tls.as_ref().map(|t| f(&t.conn))
    }

    /// Resolves once the TLS handshake is complete (at once for a plain stream).
    ///
    /// # Errors
    ///
    /// [`StreamError::Closed`] if the handshake failed (the cause is the rustls error: an
    /// untrusted certificate, a name mismatch, a protocol error) or the peer closed first;
    /// [`StreamError::AlreadyReading`] if a read is pending.
    pub async fn tls_handshake(&self) -> Result<(), StreamError> {
        {
            let mut st = self.inner.state.borrow_mut();
            if st.reading {
                return Err(StreamError::AlreadyReading);
            }
            st.reading = true;
        }
        let _guard = ReadingGuard(self);
        std::future::poll_fn(|cx| {
            let mut tried = false;
            loop {
                let mut st = self.inner.state.borrow_mut();
                if st.closed {
                    return Poll::Ready(Err(StreamError::Closed {
                        cause: st.error.take(),
                    }));
                }
                let handshaking = st.tls.as_ref().is_some_and(|t| t.conn.is_handshaking());
                if !handshaking {
                    return Poll::Ready(Ok(()));
                }
                if st.eof {
                    return Poll::Ready(Err(StreamError::Closed { cause: None }));
                }
                if !tried && !st.drained {
                    drop(st);
                    tried = true;
                    self.fill();
                    continue;
                }
                st.reader = Some(cx.waker().clone());
                return Poll::Pending;
            }
        })
        .await
    }

    /// [`fill`](IOStream::fill) for a TLS stream: socket -> rustls -> read buffer.
    pub(super) fn fill_tls(&self) -> bool {
        let fd = self.fd();
        let level = self.inner.io_loop.trigger() == Trigger::Level;
        let mut total = 0usize;
        let mut cipher = 0usize;
        let mut outcome: Option<io::Result<()>> = None; // Some(Ok) = end of input
        let mut plain_reply = None;
        {
            let mut guard = self.inner.state.borrow_mut();
            let st: &mut State = &mut guard;
            if st.closed || st.eof {
                return false;
            }
            let Some(tls) = st.tls.as_deref_mut() else {
                return false;
            };
            loop {
                // Decrypted plaintext first: rustls reads no more while it holds some.
                let (moved, end) = move_plaintext(
                    &mut tls.conn,
                    &mut st.read,
                    st.max_buffer_size,
                    &self.inner.io_loop,
                );
                total += moved;
                if end {
                    st.eof = true;
                    outcome = Some(Ok(()));
                    break;
                }
                if st.read.len() >= st.max_buffer_size
                    || st.drained
                    || cipher >= READ_BUDGET
                    || !tls.conn.wants_read()
                {
                    break;
                }
                let mut src = FdIo {
                    fd,
                    short: false,
                    first: None,
                };
                let read = tls.conn.read_tls(&mut src);
                if tls.first_byte.is_none() {
                    tls.first_byte = src.first;
                }
                match read {
                    Ok(0) => {
                        // TCP end of input: what rustls holds was moved above; nothing follows.
                        st.eof = true;
                        outcome = Some(Ok(()));
                        break;
                    }
                    Ok(n) => {
                        cipher += n;
                        if src.short && level {
                            // (Level mode: the kernel reports the fd again if more came.)
                            st.drained = true;
                        }
                        if let Err(e) = tls.conn.process_new_packets() {
                            if tls.conn.is_handshaking()
                                && tls.first_byte.is_some_and(|b| b.is_ascii_alphabetic())
                            {
                                // Plain text, never TLS: the reply (if any) instead of an alert.
                                plain_reply = tls.plain_reply.take();
                            } else {
                                // rustls has queued an alert for the peer: try to deliver it.
                                let _ = send_records(&mut tls.conn, fd);
                            }
                            outcome = Some(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
                            break;
                        }
                        if tls.conn.wants_write() {
                            // Handshake records (or a key update): answer at once.
                            if let Err(e) = send_records(&mut tls.conn, fd) {
                                outcome = Some(Err(e));
                                break;
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => st.drained = true,
                    Err(e) => {
                        outcome = Some(Err(e));
                        break;
                    }
                }
            }
            if st.read.len() == 0 && st.read.data.capacity() > 0 {
                let buf = std::mem::take(&mut st.read.data);
                st.read.start = 0;
                self.inner.io_loop.give_buffer(buf);
            }
        }
        if let Some(reply) = plain_reply {
            // Best effort, one write: a short answer to a peer that is waiting for one, into
            // a socket that has sent nothing yet.
            let mut bytes = Vec::new();
            reply(&mut bytes);
            let _ = io::Write::write(
                &mut FdIo {
                    fd,
                    short: false,
                    first: None,
                },
                &bytes,
            );
        }
        if self.close_on_fill_outcome(outcome) {
            return total > 0;
        }
        self.after_fill(cipher);
        total > 0
    }

    /// [`write_to_fd`](IOStream::write_to_fd) for a TLS stream: write buffer -> rustls ->
    /// socket. Returns whether everything, records included, reached the kernel.
    pub(super) fn write_tls_to_fd(&self) -> bool {
        let fd = self.fd();
        let mut err = None;
        let mut handshake_sent = false;
        let drained = {
            let mut guard = self.inner.state.borrow_mut();
            let st: &mut State = &mut guard;
            if st.closed {
                return true;
            }
            let Some(tls) = st.tls.as_deref_mut() else {
                return true;
            };
            loop {
                let mut progress = false;
                if st.write.len() > 0 {
                    // Encrypted into records now (or, during the handshake, kept by rustls
                    // until it completes); 0 once rustls holds its limit.
                    match tls.conn.writer().write(st.write.bytes()) {
                        Ok(n) => {
                            st.write.consume(n);
                            tls.unconfirmed += n as u64;
                            progress = n > 0;
                        }
                        Err(e) => {
                            err = Some(e);
                            break false;
                        }
                    }
                }
                if tls.conn.wants_write() {
                    let handshaking = tls.conn.is_handshaking();
                    match send_records(&mut tls.conn, fd) {
                        Ok(true) => {
                            handshake_sent |= handshaking;
                            continue;
                        }
                        Ok(false) => break false,
                        Err(e) => {
                            err = Some(e);
                            break false;
                        }
                    }
                }
                if tls.conn.is_handshaking() {
                    // Plaintext waits in rustls (and the write buffer) for the handshake.
                    break false;
                }
                if st.write.len() == 0 {
                    st.flushed += std::mem::take(&mut tls.unconfirmed);
                    break true;
                }
                if !progress {
                    break false;
                }
            }
        };
        if let Some(e) = err {
            self.close_with(Some(e));
            return true;
        }
        if handshake_sent {
            // The handshake was waiting on these records, not on the socket: the peer's
            // answer may already be there with no new readiness event in edge mode.
            self.schedule_read();
        }
        drained
    }

    /// Queues `close_notify` and tries once to send it and whatever records wait (not during
    /// the handshake: a session that never started is just closed).
    pub(super) fn tls_close_notify(&self) {
        let fd = self.fd();
        let mut st = self.inner.state.borrow_mut();
        if let Some(tls) = st.tls.as_deref_mut().filter(|t| !t.conn.is_handshaking()) {
            tls.conn.send_close_notify();
            let _ = send_records(&mut tls.conn, fd);
        }
    }

    /// Whether rustls holds decrypted plaintext the read buffer has not taken.
    pub(super) fn tls_plaintext_held(&self) -> bool {
        let mut st = self.inner.state.borrow_mut();
        st.tls.as_deref_mut().is_some_and(|t| {
            t.conn
                .reader()
                .fill_buf()
                .is_ok_and(|chunk| !chunk.is_empty())
        })
    }
}

/// Moves decrypted plaintext from rustls into `read`, within `max`. Returns the bytes moved
/// and whether the input has ended (`close_notify`, or TCP's end without it).
fn move_plaintext(
    conn: &mut rustls::Connection,
    read: &mut Buffer,
    max: usize,
    io_loop: &IOLoop,
) -> (usize, bool) {
    let mut moved = 0;
    loop {
        let room = max.saturating_sub(read.len());
        if room == 0 {
            return (moved, false);
        }
        let mut reader = conn.reader();
        let n = match reader.fill_buf() {
            // Empty only after the peer's close_notify.
            Ok([]) => return (moved, true),
            Ok(chunk) => {
                let n = chunk.len().min(room);
                if read.data.capacity() == 0 {
                    read.data = io_loop.take_buffer(READ_CHUNK);
                }
                read.reserve(n);
                read.data.extend_from_slice(&chunk[..n]);
                n
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (moved, false),
            // UnexpectedEof: the TCP connection ended without close_notify.
            Err(_) => return (moved, true),
        };
        reader.consume(n);
        moved += n;
    }
}

/// Sends the records rustls has queued. Returns whether all went out (`false`: the socket
/// is full).
fn send_records(conn: &mut rustls::Connection, fd: RawFd) -> io::Result<bool> {
    let mut dst = FdIo {
        fd,
        short: false,
        first: None,
    };
    while conn.wants_write() {
        match conn.write_tls(&mut dst) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// The socket as rustls's `Read` and `Write`.
struct FdIo {
    fd: RawFd,
    /// The last read returned less than asked for.
    short: bool,
    /// The first byte read through it.
    first: Option<u8>,
}

impl io::Read for FdIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes.
        let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        self.short = n < buf.len();
        if self.first.is_none() && n > 0 {
            self.first = Some(buf[0]);
        }
        Ok(n)
    }
}

impl io::Write for FdIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // SAFETY: an all-zero msghdr is valid (no name, no control data).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        // `IoSlice` is ABI-compatible with `iovec` on Unix (std's guarantee); sendmsg only
        // reads through the pointer.
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = bufs.len().min(1024) as _;
        // SAFETY: `msg` points at `msg_iovlen` live iovecs for the duration of the call.
        let n = unsafe { libc::sendmsg(self.fd, &msg, libc::MSG_NOSIGNAL) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
