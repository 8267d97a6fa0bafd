//! [`ShutdownFuture`] and [`ShutdownHandle`]: waiting for a graceful shutdown, and starting one
//! from another thread.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use super::{HttpServer, Inner, State};
use crate::ioloop::IOLoopHandle;

/// Completes when a graceful shutdown of an [`HttpServer`] has closed every connection; from
/// [`HttpServer::shutdown`] or [`HttpServer::wait_closed`]. Not `#[must_use]`: the shutdown
/// proceeds whether or not it is awaited.
pub struct ShutdownFuture {
    inner: Rc<Inner>,
}

impl ShutdownFuture {
    pub(super) fn new(inner: Rc<Inner>) -> ShutdownFuture {
        ShutdownFuture { inner }
    }
}

impl fmt::Debug for ShutdownFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownFuture")
            .field("state", &self.inner.state.get())
            .finish()
    }
}

impl Future for ShutdownFuture {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.state.get() == State::Closed {
            return Poll::Ready(());
        }
        let mut waiters = self.inner.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// One server a [`ShutdownHandle`] reaches: its loop, and its number in that thread's registry.
#[derive(Debug)]
pub(super) struct Target {
    io_loop: IOLoopHandle,
    id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Servers of this thread that handed out a [`ShutdownHandle`], by number. A handle only
    /// carries the number across threads (an `HttpServer` is not `Send`); the callback it sends
    /// looks the server up here, on the server's own thread.
    static SERVERS: RefCell<Vec<(u64, Weak<Inner>)>> = const { RefCell::new(Vec::new()) };
}

/// Registers `server` on this (its loop's) thread, once, and returns how to reach it.
pub(super) fn register(server: &HttpServer) -> Target {
    let id = SERVERS.with(|s| {
        let mut s = s.borrow_mut();
        s.retain(|(_, w)| w.strong_count() > 0);
        if let Some((id, _)) = s
            .iter()
            .find(|(_, w)| std::ptr::eq(w.as_ptr(), Rc::as_ptr(&server.inner)))
        {
            return *id;
        }
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        s.push((id, Rc::downgrade(&server.inner)));
        id
    });
    Target {
        io_loop: server.io_loop().handle(),
        id,
    }
}

fn lookup(id: u64) -> Option<HttpServer> {
    SERVERS.with(|s| {
        s.borrow()
            .iter()
            .find(|(i, _)| *i == id)
            .and_then(|(_, w)| w.upgrade())
            .map(|inner| HttpServer { inner })
    })
}

/// Starts the graceful shutdown of one server, or of every thread of a
/// [`ThreadedServer`](super::ThreadedServer), from any thread. `Send + Sync + Clone`.
///
/// # Examples
///
/// ```no_run
/// use squall::httpserver::HttpServer;
/// use squall::http1::{Request, Responder};
///
/// let server = HttpServer::new(|_: Request, res: Responder| res.respond(200, &[], b"hi"));
/// server.listen(8888, "127.0.0.1")?;
/// let handle = server.shutdown_handle();
/// std::thread::spawn(move || {
///     std::thread::sleep(std::time::Duration::from_secs(60));
///     handle.shutdown();
/// });
/// server.serve_until_shutdown()?; // returns once the shutdown has finished
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    targets: Arc<[Target]>,
}

impl ShutdownHandle {
    pub(super) fn new(targets: Vec<Target>) -> ShutdownHandle {
        ShutdownHandle {
            targets: targets.into(),
        }
    }

    /// Asks each server to start its graceful [`shutdown`](HttpServer::shutdown), on its own
    /// loop, and returns at once. A server whose loop is gone is skipped.
    pub fn shutdown(&self) {
        self.on_each(|server| {
            server.shutdown();
        });
    }

    /// Runs `f` with each server, on its loop's thread; returns how many callbacks were queued
    /// (a callback whose server is gone by the time it runs is dropped, and `f` with it).
    pub(super) fn on_each<F>(&self, f: F) -> usize
    where
        F: Fn(&HttpServer) + Send + Clone + 'static,
    {
        let mut queued = 0;
        for t in self.targets.iter() {
            let (id, f) = (t.id, f.clone());
            let sent = t.io_loop.add_callback(move || {
                if let Some(server) = lookup(id) {
                    f(&server);
                }
            });
            if sent.is_ok() {
                queued += 1;
            }
        }
        queued
    }
}
