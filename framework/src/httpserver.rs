//! [`HttpServer`]: a [`TcpServer`] whose connections speak HTTP/1.1 to a request delegate; its
//! graceful shutdown; and running it on every core ([`HttpServer::bind`], then
//! [`start`](BoundServer::start) or [`start_threads`](BoundServer::start_threads)).
//!
//! The delegate is anything implementing [`HttpDelegate`]: a closure
//! `Fn(Request, Responder)` for low-level use, or the web layer's
//! [`Application`](crate::web::Application).
//!
//! ### Graceful shutdown
//!
//! [`HttpServer::shutdown`] (or a [`ShutdownHandle`] from another thread, or `SIGTERM`/`SIGINT`
//! once [`shutdown_on_signals`](HttpServer::shutdown_on_signals) or
//! [`serve_until_shutdown`](HttpServer::serve_until_shutdown) asked for it):
//!
//! 1. closes the listening sockets, so new connections are refused (once every process or
//!    thread sharing the socket has closed its copy);
//! 2. closes idle keep-alive connections at once;
//! 3. lets requests in flight finish: their responses say `Connection: close` (if their head
//!    was not written yet) and the connection closes once the response is sent;
//! 4. sends every open WebSocket a Close `1001` (going away, reason "server shutting down"),
//!    whatever its handler, and waits for the closing handshakes: each connection closes at
//!    the client's Close, or 5 s after it was sent;
//! 5. after [`HttpServerOptions::shutdown_grace`] (30 s by default), closes whatever is left;
//! 6. completes the [`ShutdownFuture`]: `serve_until_shutdown` then returns, and a `main` that
//!    returns next exits with status 0.
//!
//! Shutting down is idempotent: a second signal does not cut the grace period short (a process
//! manager may signal both the supervising parent, which forwards, and each child).
//!
//! ### Using every core: processes or threads
//!
//! An `IOLoop` runs on one thread, so one server uses one core. Both ways to use more bind the
//! listening sockets once ([`HttpServer::bind`]) and then run one loop per core over the *same*
//! sockets; the kernel hands each new connection to one of the loops waiting in `accept`.
//!
//! - **Processes**, [`BoundServer::start(n)`](BoundServer::start), Tornado's
//!   `server.start(n)`: [`fork_processes`](crate::process::fork_processes) forks `n` workers
//!   (one per CPU for 0) under a supervising parent; each worker builds its application and
//!   its loop *after* the fork, so nothing loop-bound is shared. Choose it for isolation: a
//!   crash, a leak or a panic that escapes stays in one worker, which the parent restarts;
//!   workers share no memory (no locks, but also no shared caches: share through a database
//!   or a cache server), and `SIGTERM` to the parent drains every worker.
//! - **Threads**, [`BoundServer::start_threads(n)`](BoundServer::start_threads): `n` threads,
//!   each with its own loop and delegate, each accepting from a close-on-exec duplicate
//!   (`F_DUPFD_CLOEXEC`) of the listening socket. Cheaper (no fork, one address space, one
//!   process to run and monitor) and state can be shared through `Arc`s; but a crash (an abort,
//!   a memory error) takes every thread down, a thread that dies is not restarted, and
//!   `fork_processes` can no longer be used in that process.
//!
//! Either way every loop waiting on the socket is woken for each new connection (one wins the
//! `accept`, the others see `EAGAIN`): a cost of a few microseconds per connection, not per
//! request, with keep-alive.
//!
//! `SO_REUSEPORT` (one socket per loop, the kernel hashing each new connection to one of them)
//! is not used: a connection is assigned to a socket's queue when it arrives, whether or not
//! that loop is busy, so a worker stuck in a slow request leaves its queue waiting while the
//! others idle; when a worker closes its socket (a graceful shutdown, a crash, a restart), the
//! connections queued on it are reset instead of being served by the others; and any program
//! of the same user may bind the same port with the option and take a share of the traffic.
//! Sharing one socket keeps one queue, drained by whichever loop is free.

mod bound;
mod shutdown;

pub use bound::{BoundServer, ThreadedServer};
pub use shutdown::{ShutdownFuture, ShutdownHandle};

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::task::Waker;

use crate::http1::{Conn, ServerCore};
use crate::ioloop::{IOLoop, Timeout};
use crate::process::StopSignalHandler;
use crate::tcpserver::TcpServer;

/// Idle connections closed at most each time `accept` runs out of descriptors (nginx closes
/// 32): enough to accept a burst of clients, few enough to keep most keep-alive clients.
const RECLAIM_BATCH: usize = 16;

use crate::http1::{HttpDelegate, HttpServerOptions};

/// An HTTP/1.1 server on the current loop.
///
/// # Examples
///
/// ```no_run
/// use squall::http1::{HttpServerOptions, Request, Responder};
/// use squall::httpserver::HttpServer;
///
/// let mut options = HttpServerOptions::default();
/// options.xheaders = true;
/// let server = HttpServer::with_options(
///     |_req: Request, res: Responder| res.respond(200, &[("Content-Type", "text/plain")], b"hi"),
///     options,
/// );
/// server.listen(8888, "127.0.0.1").unwrap();
/// // Runs until SIGTERM or SIGINT, then drains and returns.
/// server.serve_until_shutdown().unwrap();
/// ```
#[derive(Clone)]
pub struct HttpServer {
    inner: Rc<Inner>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Serving,
    Draining,
    Closed,
}

struct Inner {
    tcp: TcpServer,
    core: Rc<ServerCore>,
    state: Cell<State>,
    grace_timer: Cell<Option<Timeout>>,
    waiters: RefCell<Vec<Waker>>,
    signals: RefCell<Option<StopSignalHandler>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(t) = self.grace_timer.take() {
            self.tcp.io_loop().remove_timeout(t);
        }
    }
}

impl fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServer")
            .field("addrs", &self.inner.tcp.local_addrs())
            .field("connections", &self.inner.core.connection_count())
            .field("state", &self.inner.state.get())
            .field("options", &self.inner.core.options)
            .finish()
    }
}

impl HttpServer {
    /// A server with default options on the current loop.
    pub fn new<D: HttpDelegate>(delegate: D) -> HttpServer {
        HttpServer::with_options(delegate, HttpServerOptions::default())
    }

    /// A server with the given options on the current loop.
    pub fn with_options<D: HttpDelegate>(delegate: D, options: HttpServerOptions) -> HttpServer {
        HttpServer::on(&IOLoop::current(), Box::new(delegate), options)
    }

    /// A server on a given loop (one loop per thread in threaded mode).
    pub fn on(
        io_loop: &IOLoop,
        delegate: Box<dyn HttpDelegate>,
        options: HttpServerOptions,
    ) -> HttpServer {
        let core = ServerCore::new(delegate, options);
        let c2 = core.clone();
        // Plain HTTP sent to the HTTPS port gets a 400 in the clear (built only then).
        #[cfg(feature = "tls")]
        let plain_reply: crate::iostream::PlainReply = {
            let core = Rc::downgrade(&core);
            Rc::new(move |w: &mut Vec<u8>| {
                if let Some(core) = core.upgrade() {
                    core.write_plain_http_reply(std::time::Instant::now(), w);
                }
            })
        };
        let tcp = TcpServer::on(io_loop, move |stream, addr| {
            #[cfg(feature = "tls")]
            if let Some(tls) = &c2.options.tls {
                // The handshake runs inside the stream as the client's bytes arrive.
                if let Err(e) = stream.start_tls_server_with_plain_reply(tls, plain_reply.clone()) {
                    log::warn!("squall: cannot start TLS with {addr}: {e}");
                    stream.close();
                    return;
                }
            }
            Conn::start(&c2, stream, addr)
        });
        // Out of descriptors: close the connections idle the longest, as nginx does.
        let c3 = core.clone();
        tcp.on_descriptors_exhausted(move || c3.close_oldest_idle(RECLAIM_BATCH));
        HttpServer {
            inner: Rc::new(Inner {
                tcp,
                core,
                state: Cell::new(State::Serving),
                grace_timer: Cell::new(None),
                waiters: RefCell::new(Vec::new()),
                signals: RefCell::new(None),
            }),
        }
    }

    /// Binds listening sockets for `port` on `address` (as
    /// [`bind_sockets`](crate::netutil::bind_sockets): close-on-exec, `""` for every
    /// interface) *without* a loop or a delegate, Tornado's `server.bind(port)`. Then
    /// [`start`](BoundServer::start) forks workers, or
    /// [`start_threads`](BoundServer::start_threads) starts threads, and each builds its own
    /// loop and delegate. See the [module docs](self) for which to choose.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use squall::httpserver::HttpServer;
    /// use squall::prelude::*;
    ///
    /// #[derive(Clone, Default)]
    /// struct Hello;
    ///
    /// #[handler]
    /// impl Hello {
    ///     fn get(&mut self, cx: &mut Context) -> Result<()> {
    ///         cx.write("Hello, world");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// fn main() -> std::io::Result<()> {
    ///     // One worker process per CPU; the Application is built in each worker.
    ///     let server = HttpServer::bind(8888, "")?
    ///         .start(0, || Application::new(routes![(r"/", Hello)]))?;
    ///     server.serve_until_shutdown()
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// The bind error.
    pub fn bind(port: u16, address: &str) -> io::Result<BoundServer> {
        BoundServer::new().bind(port, address)
    }

    /// Binds `port` on `address` and starts serving.
    ///
    /// # Errors
    ///
    /// The bind error.
    pub fn listen(&self, port: u16, address: &str) -> io::Result<()> {
        self.inner.tcp.listen(port, address)
    }

    /// Serves on already-bound listeners.
    ///
    /// # Errors
    ///
    /// Fails if a listener cannot be registered on the loop.
    pub fn add_sockets(&self, sockets: Vec<TcpListener>) -> io::Result<()> {
        self.inner.tcp.add_sockets(sockets)
    }

    /// The addresses the server listens on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.inner.tcp.local_addrs()
    }

    /// The loop the server runs on.
    pub fn io_loop(&self) -> &IOLoop {
        self.inner.tcp.io_loop()
    }

    /// The server's options.
    pub fn options(&self) -> &HttpServerOptions {
        &self.inner.core.options
    }

    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.inner.core.connection_count()
    }

    /// Connections with a request in flight.
    pub fn busy_count(&self) -> usize {
        self.inner.core.busy_count()
    }

    /// Open WebSocket connections (upgraded from this server's HTTP connections, and no
    /// longer counted by [`connection_count`](HttpServer::connection_count)): a graceful
    /// shutdown closes them with `1001` and waits for them.
    pub fn websocket_count(&self) -> usize {
        self.inner.core.upgraded_count()
    }

    /// Stops accepting new connections (open ones are served on).
    pub fn stop(&self) {
        self.inner.tcp.stop();
    }

    /// Stops accepting, closes idle connections now and busy ones once their current response
    /// is sent (requests already received on them are still answered), and sends open
    /// WebSockets a Close `1001`. Unlike
    /// [`shutdown`](HttpServer::shutdown) there is no grace period and nothing to wait for.
    pub fn drain(&self) {
        self.inner.tcp.stop();
        self.inner.core.drain();
    }

    /// Closes every open connection at once, WebSockets too.
    pub fn close_all_connections(&self) {
        self.inner.core.close_all();
    }

    /// Starts a graceful shutdown (see the [module docs](self)) and returns a future that
    /// completes once every connection is closed: when the last in-flight request has been
    /// answered and the last WebSocket has closed, or when
    /// [`HttpServerOptions::shutdown_grace`] has passed, whichever is first.
    /// The shutdown proceeds whether or not the future is awaited; calling this again only
    /// returns another future for the same shutdown.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use squall::httpserver::HttpServer;
    /// use squall::http1::{Request, Responder};
    ///
    /// let server = HttpServer::new(|_: Request, res: Responder| res.respond(200, &[], b"bye"));
    /// server.listen(8888, "127.0.0.1")?;
    /// let s = server.clone();
    /// server.io_loop().call_later(std::time::Duration::from_secs(60), move || {
    ///     s.shutdown();
    /// });
    /// server.io_loop().run_sync(server.wait_closed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self) -> ShutdownFuture {
        let inner = &self.inner;
        if inner.state.get() == State::Serving {
            inner.state.set(State::Draining);
            let grace = inner.core.options.shutdown_grace;
            log::info!(
                "squall: shutting down: {} connection(s) open, {} busy, {} WebSocket(s), \
                 grace period {grace:?}",
                inner.core.connection_count(),
                inner.core.busy_count(),
                inner.core.upgraded_count()
            );
            inner.tcp.stop();
            let io_loop = inner.tcp.io_loop().clone();
            let weak = Rc::downgrade(inner);
            let t = io_loop.call_later(grace, move || {
                if let Some(inner) = weak.upgrade() {
                    inner.grace_timer.set(None);
                    let n = inner.core.connection_count() + inner.core.upgraded_count();
                    if n > 0 {
                        log::warn!("squall: grace period over, closing {n} connection(s)");
                    }
                    inner.core.close_all();
                    Inner::finish(&inner);
                }
            });
            inner.grace_timer.set(Some(t));
            let weak = Rc::downgrade(inner);
            // Called from deep inside a connection's close: finish on the next turn instead.
            inner.core.when_empty(Box::new(move || {
                io_loop.add_callback(move || {
                    if let Some(inner) = weak.upgrade() {
                        Inner::finish(&inner);
                    }
                })
            }));
            inner.core.drain();
        }
        self.wait_closed()
    }

    /// A future that completes when a shutdown (started by [`shutdown`](HttpServer::shutdown),
    /// a [`ShutdownHandle`] or a stop signal) has closed every connection. It does not start
    /// one.
    pub fn wait_closed(&self) -> ShutdownFuture {
        ShutdownFuture::new(self.inner.clone())
    }

    /// Whether a shutdown has started (or finished).
    pub fn is_shutting_down(&self) -> bool {
        self.inner.state.get() != State::Serving
    }

    /// A `Send + Sync` handle that starts this server's shutdown from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle::new(vec![shutdown::register(self)])
    }

    /// From now on, `SIGTERM` and `SIGINT` start a graceful [`shutdown`](HttpServer::shutdown)
    /// of this server (they no longer terminate the process). Idempotent. In a worker started
    /// by [`BoundServer::start`], the supervising parent forwards the signals it gets to every
    /// worker, so signalling the parent drains them all; the parent exits with status 0 once
    /// they have exited.
    ///
    /// # Errors
    ///
    /// Installing the signal handler or registering its pipe on the loop failed (see
    /// [`add_stop_signal_handler`](crate::process::add_stop_signal_handler)).
    pub fn shutdown_on_signals(&self) -> io::Result<()> {
        if self.inner.signals.borrow().is_some() {
            return Ok(());
        }
        let weak = Rc::downgrade(&self.inner);
        let reg = crate::process::add_stop_signal_handler(self.io_loop(), move |sig| {
            if let Some(inner) = weak.upgrade() {
                if inner.state.get() == State::Serving {
                    log::info!("squall: received signal {sig}");
                }
                HttpServer { inner }.shutdown();
            }
        })?;
        *self.inner.signals.borrow_mut() = Some(reg);
        Ok(())
    }

    /// Runs the server's loop until a graceful shutdown has finished: installs
    /// [`shutdown_on_signals`](HttpServer::shutdown_on_signals), then runs the loop until
    /// `SIGTERM`, `SIGINT`, [`shutdown`](HttpServer::shutdown) or a [`ShutdownHandle`] has
    /// started a shutdown and it has closed every connection. A `main` that returns after it
    /// exits with status 0.
    ///
    /// # Errors
    ///
    /// As [`shutdown_on_signals`](HttpServer::shutdown_on_signals).
    ///
    /// # Panics
    ///
    /// If the server's loop is already running (call it instead of `IOLoop::start`).
    pub fn serve_until_shutdown(&self) -> io::Result<()> {
        self.shutdown_on_signals()?;
        let io_loop = self.io_loop().clone();
        io_loop.run_sync(self.wait_closed());
        log::info!("squall: server shut down");
        Ok(())
    }

    /// Listens on `address:port` and serves until a graceful shutdown has finished: what
    /// [`Application::run`](crate::web::Application::run) does with a server of its own
    /// options. The stop signals are handled before the socket listens, so a signal that comes
    /// as soon as a client can connect still finds the graceful path.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use squall::http1::{HttpServerOptions, Request, Responder};
    /// use squall::httpserver::HttpServer;
    ///
    /// let options = HttpServerOptions { max_body_size: 1 << 20, ..HttpServerOptions::default() };
    /// let hello = |_: Request, res: Responder| res.respond(200, &[], b"hi");
    /// HttpServer::with_options(hello, options).run(8888, "127.0.0.1")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The bind error, or as [`shutdown_on_signals`](HttpServer::shutdown_on_signals).
    ///
    /// # Panics
    ///
    /// As [`serve_until_shutdown`](HttpServer::serve_until_shutdown).
    pub fn run(&self, port: u16, address: &str) -> io::Result<()> {
        self.shutdown_on_signals()?;
        self.listen(port, address)?;
        #[cfg(feature = "tls")]
        let scheme = if self.options().tls.is_some() {
            "https"
        } else {
            "http"
        };
        #[cfg(not(feature = "tls"))]
        let scheme = "http";
        for addr in self.local_addrs() {
            log::info!("squall: serving on {scheme}://{addr}/ until SIGTERM or SIGINT");
        }
        self.serve_until_shutdown()
    }
}

impl Inner {
    /// The end of a shutdown: every connection is closed (or has just been).
    fn finish(inner: &Rc<Inner>) {
        if inner.state.replace(State::Closed) == State::Closed {
            return;
        }
        if let Some(t) = inner.grace_timer.take() {
            inner.tcp.io_loop().remove_timeout(t);
        }
        let waiters = std::mem::take(&mut *inner.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }
}
