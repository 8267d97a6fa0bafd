//! [`ClosingServer`]: an in-process server on its own thread that serves until its graceful
//! shutdown has completed, for the tests of [`ShutdownHandle`] (plain HTTP and WebSocket).

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use squall::httpserver::{HttpServer, ShutdownHandle};
use squall::ioloop::IOLoop;
use squall::testing::READ_TIMEOUT;

/// A server on its own thread and loop, listening on 127.0.0.1 (a free port), whose thread
/// ends when a shutdown started through [`shutdown_handle`](ClosingServer::shutdown_handle)
/// has closed every connection (`HttpServer::wait_closed`).
///
/// Unlike [`squall::testing::TestServer`], which stops its loop at once when dropped, this
/// one is for watching a graceful shutdown finish. Dropped before that, it starts the
/// shutdown and leaves the thread to end on its own.
#[derive(Debug)]
pub struct ClosingServer {
    addr: SocketAddr,
    handle: ShutdownHandle,
    closed: mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl ClosingServer {
    /// Builds the server with `make` on the new thread (on that thread's current loop), serves
    /// until its shutdown has completed, then runs `after` on it there (for checks of its final
    /// state; a panic in it fails [`wait_closed`](ClosingServer::wait_closed)).
    ///
    /// # Panics
    ///
    /// If the thread cannot start or the server cannot bind.
    pub fn start<M, A>(make: M, after: A) -> ClosingServer
    where
        M: FnOnce() -> HttpServer + Send + 'static,
        A: FnOnce(&HttpServer) + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let (closed_tx, closed) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let l = IOLoop::new().expect("a new loop");
            l.make_current();
            let server = make();
            server.listen(0, "127.0.0.1").expect("listen on 127.0.0.1");
            let _ = tx.send((server.local_addrs()[0], server.shutdown_handle()));
            l.run_sync(server.wait_closed());
            after(&server);
            IOLoop::clear_current();
            let _ = closed_tx.send(());
        });
        let (addr, handle) = rx
            .recv_timeout(READ_TIMEOUT)
            .expect("the server thread died or hung while starting");
        ClosingServer {
            addr,
            handle,
            closed,
            thread: Some(thread),
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle to start its shutdown from any thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Whether its thread has ended (the shutdown has completed).
    pub fn is_closed(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits at most `limit` for the shutdown to complete and the thread to end.
    ///
    /// # Panics
    ///
    /// If it does not end in time, or the thread (or `after`) panicked.
    pub fn wait_closed(&mut self, limit: Duration) {
        if let Err(mpsc::RecvTimeoutError::Timeout) = self.closed.recv_timeout(limit) {
            panic!("the server thread did not finish within {limit:?}");
        }
        if let Some(t) = self.thread.take() {
            if let Err(panic) = t.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

impl Drop for ClosingServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.handle.shutdown();
        }
    }
}
