//! [`TcpServer`]: accepts connections on listening sockets and hands each to a callback as an
//! [`IOStream`].
//!
//! ### Accepting
//!
//! A readable listener is drained up to [`ACCEPT_BATCH`] connections per event (then the loop
//! serves other fds; level triggering or a re-queue brings us back). Each connection is accepted
//! non-blocking and close-on-exec in one `accept4` call and gets `TCP_NODELAY` once, here, never
//! per response.
//!
//! ### Running out of descriptors
//!
//! `EMFILE`/`ENFILE` (and `ENOBUFS`/`ENOMEM`) leave the pending connection in the backlog, so a
//! readable listener would stay readable and a naive loop would spin at 100% CPU. Instead the
//! server stops watching its listeners and retries after a back-off timer.
//!
//! Waiting alone does not help when the descriptors are held by connections that do nothing
//! (a client can open hundreds and never send a byte): on `EMFILE`/`ENFILE` the server first
//! asks its [`on_descriptors_exhausted`](TcpServer::on_descriptors_exhausted) hook to close
//! some, as nginx closes its idle keep-alive connections, and accepts again at once if it
//! did. The back-off is for when nothing could be freed.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::ioloop::{Events, IOLoop, Timeout, Trigger};
use crate::iostream::IOStream;

/// Connections accepted per readiness event at most.
pub const ACCEPT_BATCH: usize = 128;

/// How long accepting pauses after the process ran out of file descriptors.
pub const EMFILE_BACKOFF: Duration = Duration::from_millis(100);

type StreamHandler = dyn Fn(IOStream, SocketAddr);
type Reclaim = dyn Fn() -> usize;

struct Inner {
    io_loop: IOLoop,
    listeners: RefCell<Vec<TcpListener>>,
    handler: Box<StreamHandler>,
    paused: Cell<bool>,
    backoff: Cell<Option<Timeout>>,
    accepted: Cell<u64>,
    reclaim: RefCell<Option<Rc<Reclaim>>>,
}

impl Drop for Inner {
    /// The last handle is gone: stop listening, deregistering each listener before its fd
    /// closes. A registration left behind would outlive the fd, and the loop would refuse the
    /// next socket given the same fd number ("already has a handler").
    fn drop(&mut self) {
        if let Some(t) = self.backoff.take() {
            self.io_loop.remove_timeout(t);
        }
        for l in self.listeners.get_mut().iter() {
            self.io_loop.remove_handler(l.as_raw_fd());
        }
    }
}

/// A TCP server on the current loop: listening sockets plus a `handle_stream` callback.
///
/// # Examples
///
/// ```no_run
/// use squall::ioloop::IOLoop;
/// use squall::tcpserver::TcpServer;
///
/// let server = TcpServer::new(|stream, _addr| {
///     squall::task::spawn(async move {
///         while let Ok(line) = stream.read_until(b"\n", 64 * 1024).await {
///             if stream.write(&line).await.is_err() { break }
///         }
///     });
/// });
/// server.listen(8888, "127.0.0.1").unwrap();
/// IOLoop::current().start();
/// ```
#[derive(Clone)]
pub struct TcpServer {
    inner: Rc<Inner>,
}

impl fmt::Debug for TcpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpServer")
            .field("addrs", &self.local_addrs())
            .field("paused", &self.inner.paused.get())
            .finish()
    }
}

impl TcpServer {
    /// A server on the current loop that calls `handle_stream` for every accepted connection.
    pub fn new<F>(handle_stream: F) -> TcpServer
    where
        F: Fn(IOStream, SocketAddr) + 'static,
    {
        TcpServer::on(&IOLoop::current(), handle_stream)
    }

    /// A server on a given loop.
    pub fn on<F>(io_loop: &IOLoop, handle_stream: F) -> TcpServer
    where
        F: Fn(IOStream, SocketAddr) + 'static,
    {
        TcpServer {
            inner: Rc::new(Inner {
                io_loop: io_loop.clone(),
                listeners: RefCell::new(Vec::new()),
                handler: Box::new(handle_stream),
                paused: Cell::new(false),
                backoff: Cell::new(None),
                accepted: Cell::new(0),
                reclaim: RefCell::new(None),
            }),
        }
    }

    /// Binds `port` on `address` (see [`bind_sockets`](crate::netutil::bind_sockets)) and
    /// starts accepting.
    ///
    /// # Errors
    ///
    /// The bind error.
    pub fn listen(&self, port: u16, address: &str) -> io::Result<()> {
        let socks = crate::netutil::bind_sockets(port, address)?;
        self.add_sockets(socks)
    }

    /// Starts accepting on already-bound listeners (from `bind_sockets`, or inherited across a
    /// fork).
    ///
    /// # Errors
    ///
    /// Fails if a listener cannot be made non-blocking or registered on the loop.
    pub fn add_sockets(&self, sockets: Vec<TcpListener>) -> io::Result<()> {
        for s in sockets {
            s.set_nonblocking(true)?;
            let fd = s.as_raw_fd();
            // The loop holds the server (strongly) while it listens, as in Tornado: a server
            // serves until `stop()`, even if the code that started it dropped its handle
            // (`app.listen(8888)?; IOLoop::current().start()`). `stop()` (or
            // `IOLoop::close()`) removes the handler and with it this reference.
            let inner = self.inner.clone();
            // SAFETY: the listener goes into `listeners` (or is dropped unregistered if this
            // fails); stop() and Inner's Drop remove its handler before the listener closes.
            unsafe {
                self.inner
                    .io_loop
                    .add_handler(fd, Events::READ, move |fd, _| {
                        TcpServer {
                            inner: inner.clone(),
                        }
                        .accept_ready(fd);
                    })?
            };
            self.inner.listeners.borrow_mut().push(s);
        }
        Ok(())
    }

    /// The addresses the server listens on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.inner
            .listeners
            .borrow()
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The loop the server runs on.
    pub fn io_loop(&self) -> &IOLoop {
        &self.inner.io_loop
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.inner.accepted.get()
    }

    /// Sets what to do when `accept` fails because the process (`EMFILE`) or the system
    /// (`ENFILE`) has no file descriptor left: `reclaim` closes some connections and returns
    /// how many. If it closed any, accepting goes on at once; if not, accepting pauses for
    /// [`EMFILE_BACKOFF`]. [`HttpServer`](crate::httpserver::HttpServer) sets it to close
    /// its connections idle the longest (fresh ones that sent nothing, keep-alive ones between
    /// requests), so that silent connections cannot lock new clients out.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use squall::tcpserver::TcpServer;
    ///
    /// let server = TcpServer::new(|_stream, _addr| {});
    /// server.on_descriptors_exhausted(|| {
    ///     // Close some idle connections here; say how many.
    ///     0
    /// });
    /// ```
    pub fn on_descriptors_exhausted<F: Fn() -> usize + 'static>(&self, reclaim: F) {
        *self.inner.reclaim.borrow_mut() = Some(Rc::new(reclaim));
    }

    /// Runs the `on_descriptors_exhausted` hook: how many connections it closed.
    fn reclaim(&self) -> usize {
        let hook = self.inner.reclaim.borrow().clone();
        hook.map_or(0, |f| f())
    }

    /// Stops accepting and closes the listening sockets. Connections already accepted are not
    /// affected.
    pub fn stop(&self) {
        if let Some(t) = self.inner.backoff.take() {
            self.inner.io_loop.remove_timeout(t);
        }
        let listeners = std::mem::take(&mut *self.inner.listeners.borrow_mut());
        for l in &listeners {
            self.inner.io_loop.remove_handler(l.as_raw_fd());
        }
        drop(listeners);
    }

    fn accept_ready(&self, fd: RawFd) {
        let mut requeue = true;
        // Connections are closed to make room once per call at most: if their descriptors
        // are not free at once, the next call (or the back-off) tries again.
        let mut reclaimed = false;
        for _ in 0..ACCEPT_BATCH {
            match crate::netutil::accept(fd) {
                Ok((sock, addr)) => {
                    let _ = sock.set_nodelay(true);
                    match IOStream::from_accepted(&self.inner.io_loop, sock) {
                        Ok(stream) => {
                            self.inner.accepted.set(self.inner.accepted.get() + 1);
                            (self.inner.handler)(stream, addr);
                        }
                        Err(e) => {
                            log::error!("squall: cannot register connection from {addr}: {e}")
                        }
                    }
                }
                Err(e) => {
                    requeue = false;
                    match e.raw_os_error() {
                        Some(libc::EAGAIN) => {}
                        Some(libc::EINTR) | Some(libc::ECONNABORTED) | Some(libc::EPROTO) => {
                            requeue = true;
                            continue;
                        }
                        Some(libc::EMFILE) | Some(libc::ENFILE) if !reclaimed => {
                            reclaimed = true;
                            let n = self.reclaim();
                            if n > 0 {
                                log::warn!(
                                    "squall: accept failed ({e}); closed {n} idle connections"
                                );
                                requeue = true;
                                continue;
                            }
                            log::error!(
                                "squall: accept failed ({e}); pausing for {EMFILE_BACKOFF:?}"
                            );
                            self.pause();
                        }
                        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS)
                        | Some(libc::ENOMEM) => {
                            log::error!(
                                "squall: accept failed ({e}); pausing for {EMFILE_BACKOFF:?}"
                            );
                            self.pause();
                        }
                        _ => log::error!("squall: accept failed: {e}"),
                    }
                    break;
                }
            }
        }
        if requeue && self.inner.io_loop.trigger() == Trigger::Edge && !self.inner.paused.get() {
            // The batch ended with connections possibly left in the backlog: no new edge will
            // announce them, so come back next turn.
            let weak: Weak<Inner> = Rc::downgrade(&self.inner);
            self.inner.io_loop.add_callback(move || {
                if let Some(inner) = weak.upgrade() {
                    TcpServer { inner }.accept_ready(fd);
                }
            });
        }
    }

    fn pause(&self) {
        if self.inner.paused.replace(true) {
            return;
        }
        for l in self.inner.listeners.borrow().iter() {
            let _ = self
                .inner
                .io_loop
                .update_handler(l.as_raw_fd(), Events::NONE);
        }
        let weak = Rc::downgrade(&self.inner);
        let t = self.inner.io_loop.call_later(EMFILE_BACKOFF, move || {
            if let Some(inner) = weak.upgrade() {
                inner.backoff.set(None);
                inner.paused.set(false);
                for l in inner.listeners.borrow().iter() {
                    let _ = inner.io_loop.update_handler(l.as_raw_fd(), Events::READ);
                }
            }
        });
        self.inner.backoff.set(Some(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_server_lives_until_stopped_then_deregisters() {
        let l = IOLoop::new().unwrap();
        let server = TcpServer::on(&l, |_, _| {});
        server.listen(0, "127.0.0.1").unwrap();
        let fd = server.inner.listeners.borrow()[0].as_raw_fd();
        let addr = server.local_addrs()[0];
        let weak = Rc::downgrade(&server.inner);
        // Dropping the handle does not stop it: `app.listen(8888)?; IOLoop::current().start()`.
        drop(server);
        assert!(
            weak.upgrade().is_some(),
            "the loop keeps a listening server"
        );
        assert_eq!(l.handler_events(fd), Some(Events::READ));
        let client = std::net::TcpStream::connect(addr).unwrap();
        let l2 = l.clone();
        l.call_later(std::time::Duration::from_millis(20), move || l2.stop());
        l.start();
        let server = TcpServer {
            inner: weak.upgrade().unwrap(),
        };
        assert_eq!(server.accepted(), 1);
        drop(client);
        // stop(): deregistered before closing, and freed.
        server.stop();
        assert_eq!(
            l.handler_events(fd),
            None,
            "stale registration of a closed fd"
        );
        drop(server);
        assert!(weak.upgrade().is_none(), "a stopped server is freed");
    }

    #[test]
    fn closing_the_loop_frees_its_servers() {
        let l = IOLoop::new().unwrap();
        let server = TcpServer::on(&l, |_, _| {});
        server.listen(0, "127.0.0.1").unwrap();
        let weak = Rc::downgrade(&server.inner);
        drop(server);
        l.close();
        assert!(
            weak.upgrade().is_none(),
            "IOLoop::close breaks the loop-server cycle"
        );
        assert_eq!(l.handler_count(), 0);
    }
}
