//! [`BoundServer`]: listening sockets waiting to be served by forked workers
//! ([`start`](BoundServer::start)) or by threads ([`start_threads`](BoundServer::start_threads)),
//! and the [`ThreadedServer`] the latter returns.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use super::shutdown::{ShutdownHandle, Target};
use super::{HttpDelegate, HttpServer, HttpServerOptions};
use crate::ioloop::IOLoop;
use crate::process::{fork_processes_with, ForkOptions};

/// Listening sockets bound by [`HttpServer::bind`], with the options the servers will get.
/// Nothing loop-bound exists yet: [`start`](BoundServer::start) and
/// [`start_threads`](BoundServer::start_threads) build one loop, delegate and server per worker.
pub struct BoundServer {
    sockets: Vec<TcpListener>,
    options: HttpServerOptions,
    fork: Option<ForkOptions>,
}

impl fmt::Debug for BoundServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundServer")
            .field("addrs", &self.local_addrs())
            .field("options", &self.options)
            .field("fork", &self.fork)
            .finish()
    }
}

impl BoundServer {
    pub(super) fn new() -> BoundServer {
        BoundServer {
            sockets: Vec::new(),
            options: HttpServerOptions::default(),
            fork: None,
        }
    }

    /// Binds more sockets (another port or address), like a second `bind` call in Tornado.
    ///
    /// # Errors
    ///
    /// The bind error.
    pub fn bind(mut self, port: u16, address: &str) -> io::Result<BoundServer> {
        self.sockets
            .extend(crate::netutil::bind_sockets(port, address)?);
        Ok(self)
    }

    /// Adds listeners bound elsewhere (they should be close-on-exec, as Squall's are).
    pub fn add_sockets(mut self, sockets: Vec<TcpListener>) -> BoundServer {
        self.sockets.extend(sockets);
        self
    }

    /// The options every server will get (default: [`HttpServerOptions::default`]).
    pub fn options(mut self, options: HttpServerOptions) -> BoundServer {
        self.options = options;
        self
    }

    /// Restart bound and hooks for the supervisor of [`start`](BoundServer::start).
    pub fn fork_options(mut self, options: ForkOptions) -> BoundServer {
        self.fork = Some(options);
        self
    }

    /// The bound addresses (with the port the kernel chose for port 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Forks `n` worker processes (one per CPU for 0) with
    /// [`fork_processes`](crate::process::fork_processes), and in each worker builds the
    /// delegate with `make_delegate` and a server on that worker's fresh
    /// [`IOLoop::current`], serving the inherited sockets: Tornado's `server.start(n)`. With
    /// `n == 1` nothing is forked and the server runs in this process.
    ///
    /// Only workers return (`Ok`, with their server; [`task_id`](crate::process::task_id)
    /// tells them apart). The supervising parent never returns `Ok`: it restarts workers that
    /// crash, forwards `SIGTERM`/`SIGINT`/`SIGHUP` to them, and exits with status 0 once they
    /// have all exited. On the first stop signal it closes its own copies of the listening
    /// sockets (kept until then to restart workers), so the port refuses connections once the
    /// workers have closed theirs. Workers usually go on with
    /// [`serve_until_shutdown`](HttpServer::serve_until_shutdown), which drains on the
    /// forwarded signal and returns, so `main` returns and the worker exits with status 0.
    ///
    /// Call it before any `IOLoop` or thread exists (see `fork_processes`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use squall::httpserver::HttpServer;
    /// use squall::http1::{Request, Responder};
    ///
    /// let server = HttpServer::bind(8888, "127.0.0.1")?.start(4, || {
    ///     let id = squall::process::task_id().unwrap_or(0);
    ///     move |_: Request, res: Responder| {
    ///         res.respond(200, &[], format!("worker {id}").as_bytes())
    ///     }
    /// })?;
    /// server.serve_until_shutdown()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`fork_processes`](crate::process::fork_processes) (in the caller if it refuses to
    /// fork, in the parent if restarts run out); in a worker, registering the sockets on the
    /// loop failed.
    pub fn start<D, F>(self, n: usize, make_delegate: F) -> io::Result<HttpServer>
    where
        D: HttpDelegate,
        F: FnOnce() -> D,
    {
        let BoundServer {
            mut sockets,
            options,
            fork,
        } = self;
        if n != 1 {
            let shared = Rc::new(RefCell::new(sockets));
            let parents = shared.clone();
            let fork = fork.unwrap_or_default().and_on_stop(move || {
                let closed = std::mem::take(&mut *parents.borrow_mut());
                log::debug!(
                    "squall: parent closed its {} listening socket(s)",
                    closed.len()
                );
            });
            // Returns in workers only; the supervisor (and its stop hook, which holds the other
            // reference to the sockets) is gone by then.
            fork_processes_with(n, fork)?;
            sockets = std::mem::take(&mut *shared.borrow_mut());
        }
        let server = HttpServer::on(&IOLoop::current(), Box::new(make_delegate()), options);
        server.add_sockets(sockets)?;
        Ok(server)
    }

    /// Starts `n` threads (one per CPU for 0), each with its own [`IOLoop`], its own delegate
    /// from `make_delegate` (called on that thread) and its own close-on-exec duplicate of each
    /// listening socket; returns at once. The kernel hands each new connection to one of the
    /// threads. See the [module docs](super) for threads versus processes.
    ///
    /// The threads run until their servers are shut down
    /// ([`ThreadedServer::shutdown`], a [`ShutdownHandle`], or a signal with
    /// [`ThreadedServer::serve_until_shutdown`]).
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
    /// let servers = HttpServer::bind(8888, "")?
    ///     .start_threads(4, || Application::new(routes![(r"/", Hello)]))?;
    /// servers.serve_until_shutdown()?; // until SIGTERM or SIGINT, then drains every thread
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Duplicating a socket, spawning a thread, creating a loop or registering a socket
    /// failed, or `make_delegate` panicked; the threads already started are shut down first.
    pub fn start_threads<D, F>(self, n: usize, make_delegate: F) -> io::Result<ThreadedServer>
    where
        D: HttpDelegate,
        F: Fn() -> D + Send + Sync + 'static,
    {
        let n = match n {
            0 => std::thread::available_parallelism().map_or(1, |c| c.get()),
            n => n,
        };
        let addrs = self.local_addrs();
        let make = Arc::new(make_delegate);
        let (tx, rx) = mpsc::channel::<io::Result<Target>>();
        let mut threads = Vec::with_capacity(n);
        let mut error = None;
        for i in 0..n {
            let sockets = match self
                .sockets
                .iter()
                .map(crate::netutil::dup_listener)
                .collect::<io::Result<Vec<_>>>()
            {
                Ok(s) => s,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            let (make, options, tx) = (make.clone(), self.options.clone(), tx.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("squall-http-{i}"))
                .spawn(move || serve_thread(sockets, options, &*make, tx));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        // Only the threads' copies stay open: when they all close theirs, the port is closed.
        drop(self.sockets);
        drop(tx);
        let mut targets = Vec::with_capacity(threads.len());
        for _ in 0..threads.len() {
            match rx.recv() {
                Ok(Ok(t)) => targets.push(t),
                Ok(Err(e)) => {
                    error.get_or_insert(e);
                }
                Err(_) => {
                    // Every sender is gone: a thread panicked before reporting.
                    error.get_or_insert(io::Error::other(
                        "squall: a server thread panicked while starting",
                    ));
                    break;
                }
            }
        }
        let server = ThreadedServer {
            threads,
            handle: ShutdownHandle::new(targets),
            addrs,
        };
        match error {
            // Dropping shuts down and joins the threads that did start.
            Some(e) => Err(e),
            None => Ok(server),
        }
    }
}

/// The body of one server thread of [`BoundServer::start_threads`].
fn serve_thread<D, F>(
    sockets: Vec<TcpListener>,
    options: HttpServerOptions,
    make: &F,
    tx: mpsc::Sender<io::Result<Target>>,
) where
    D: HttpDelegate,
    F: Fn() -> D,
{
    let started = IOLoop::new().and_then(|l| {
        l.make_current();
        let server = HttpServer::on(&l, Box::new(make()), options);
        server.add_sockets(sockets)?;
        Ok((l, server))
    });
    match started {
        Err(e) => {
            let _ = tx.send(Err(e));
        }
        Ok((l, server)) => {
            let _ = tx.send(Ok(super::shutdown::register(&server)));
            drop(tx);
            l.run_sync(server.wait_closed());
            server.stop();
            drop(server);
            l.close();
        }
    }
    IOLoop::clear_current();
}

/// `n` threads serving the same sockets, from [`BoundServer::start_threads`].
///
/// Dropping it shuts every thread down gracefully and waits for them (up to the grace
/// period); [`join`](ThreadedServer::join) waits without starting a shutdown.
#[must_use = "dropping a ThreadedServer shuts its threads down"]
pub struct ThreadedServer {
    threads: Vec<JoinHandle<()>>,
    handle: ShutdownHandle,
    addrs: Vec<SocketAddr>,
}

impl fmt::Debug for ThreadedServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadedServer")
            .field("addrs", &self.addrs)
            .field("threads", &self.threads.len())
            .finish()
    }
}

impl ThreadedServer {
    /// The addresses the threads listen on.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// How many server threads there are.
    pub fn thread_count(&self) -> usize {
        self.threads.len()
    }

    /// A handle that shuts every thread's server down, from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Starts a graceful shutdown on every thread and returns at once (see
    /// [`HttpServer::shutdown`]); [`join`](ThreadedServer::join) waits for it.
    pub fn shutdown(&self) {
        self.handle.shutdown();
    }

    /// Waits until every thread has finished (after a shutdown).
    ///
    /// # Errors
    ///
    /// A server thread panicked.
    pub fn join(mut self) -> io::Result<()> {
        self.join_all()
    }

    /// From now on, `SIGTERM` and `SIGINT` start a graceful shutdown of every thread (see
    /// [`HttpServer::shutdown_on_signals`]). Returns once every thread has installed it.
    ///
    /// # Errors
    ///
    /// Installing the signal handling failed on some thread.
    pub fn shutdown_on_signals(&self) -> io::Result<()> {
        let (tx, rx) = mpsc::channel();
        let queued = self.handle.on_each(move |server| {
            let _ = tx.send(server.shutdown_on_signals());
        });
        // A callback queued on a loop that has just stopped never runs (nor is it dropped
        // while the handle keeps the loop's queue alive): stop waiting once every thread is done.
        let mut result = Ok(());
        let mut answers = 0;
        while answers < queued {
            match rx.recv_timeout(std::time::Duration::from_millis(50)) {
                Ok(r) => {
                    answers += 1;
                    if let Err(e) = r {
                        result = Err(e);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.threads.iter().all(JoinHandle::is_finished) {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        result
    }

    /// [`shutdown_on_signals`](ThreadedServer::shutdown_on_signals), then waits until every
    /// thread has finished: the threaded form of [`HttpServer::serve_until_shutdown`].
    ///
    /// # Errors
    ///
    /// Installing the signal handling failed (every thread is then shut down), or a server
    /// thread panicked.
    pub fn serve_until_shutdown(mut self) -> io::Result<()> {
        if let Err(e) = self.shutdown_on_signals() {
            self.handle.shutdown();
            let _ = self.join_all();
            return Err(e);
        }
        self.join_all()
    }

    fn join_all(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                result = Err(io::Error::other("squall: a server thread panicked"));
            }
        }
        result
    }
}

impl Drop for ThreadedServer {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.handle.shutdown();
            let _ = self.join_all();
        }
    }
}
