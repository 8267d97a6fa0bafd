//! The keep-alive pool: per origin (scheme, host, port), at most `max_per_host` connections
//! open at once, idle ones kept for reuse until `idle_timeout`.
//!
//! ### Invariants
//!
//! - `open` counts every connection of an origin that exists: leased ones (including one
//!   still connecting) and idle ones. A [`Lease`] gives its slot back exactly once: returned
//!   idle by [`Lease::release`], or closed when dropped (a failure, a timeout, a cancelled
//!   fetch), so a connection whose exchange did not end cleanly is never reused.
//! - A connection is reused only if it is still open, the server has not closed its side, and
//!   nothing arrived on it while it was idle (bytes from nowhere mean the framing is lost).
//! - Fetches over the bound wait (within their connect timeout) and are woken whenever a slot
//!   frees or a connection goes idle; each then tries again.
//! - An origin with nothing open is forgotten, so the map holds only live origins.
//! - Idle connections past `idle_timeout` are closed by a sweep timer on the loop, armed only
//!   while some connection is idle.
//! - The pool is bound to the loop its connections were made on; used from another loop of
//!   the thread, it closes its idle connections and starts again there.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::url::Origin;
use crate::ioloop::{IOLoop, Timeout};
use crate::iostream::IOStream;
use crate::locks::Condition;

struct Idle {
    stream: IOStream,
    since: Instant,
}

#[derive(Default)]
struct HostPool {
    idle: Vec<Idle>,
    open: usize,
}

pub(crate) struct Pool {
    hosts: RefCell<HashMap<Origin, HostPool>>,
    freed: Condition,
    sweep: Cell<Option<Timeout>>,
    io_loop: RefCell<Option<IOLoop>>,
    /// Bumped when the pool moves to another loop: older leases are not counted any more.
    generation: Cell<u64>,
    max_per_host: usize,
    idle_timeout: Duration,
    this: Weak<Pool>,
}

/// A connection slot of one origin, held by one fetch: its stream once connected.
pub(crate) struct Lease {
    pool: Rc<Pool>,
    origin: Origin,
    pub(crate) stream: Option<IOStream>,
    /// The stream came from the idle list (it may have gone stale since).
    pub(crate) reused: bool,
    generation: u64,
    /// Given back already (by `release`): `Drop` has nothing left to do.
    done: bool,
}

impl Pool {
    pub(crate) fn new(max_per_host: usize, idle_timeout: Duration) -> Rc<Pool> {
        Rc::new_cyclic(|this| Pool {
            hosts: RefCell::new(HashMap::new()),
            freed: Condition::new(),
            sweep: Cell::new(None),
            io_loop: RefCell::new(None),
            generation: Cell::new(0),
            max_per_host: max_per_host.max(1),
            idle_timeout,
            this: this.clone(),
        })
    }

    /// A slot for `origin`: an idle connection if a usable one is there, else a free slot to
    /// connect in; waits while the origin is at its bound.
    pub(crate) async fn checkout(&self, origin: &Origin) -> Lease {
        self.bind_to_current_loop();
        loop {
            if let Some(lease) = self.try_checkout(origin) {
                return lease;
            }
            self.freed.wait().await;
        }
    }

    fn try_checkout(&self, origin: &Origin) -> Option<Lease> {
        let pool = self.this.upgrade()?;
        let now = Instant::now();
        let mut hosts = self.hosts.borrow_mut();
        let host = hosts.entry(origin.clone()).or_default();
        // Most recently used first: the likeliest to be warm and still open.
        while let Some(idle) = host.idle.pop() {
            if self.usable(&idle, now) {
                return Some(Lease {
                    pool,
                    origin: origin.clone(),
                    stream: Some(idle.stream),
                    reused: true,
                    generation: self.generation.get(),
                    done: false,
                });
            }
            idle.stream.close();
            host.open -= 1;
        }
        if host.open < self.max_per_host {
            host.open += 1;
            return Some(Lease {
                pool,
                origin: origin.clone(),
                stream: None,
                reused: false,
                generation: self.generation.get(),
                done: false,
            });
        }
        None
    }

    fn usable(&self, idle: &Idle, now: Instant) -> bool {
        let s = &idle.stream;
        !s.closed()
            && !s.at_eof()
            && s.read_buffered() == 0
            && now.duration_since(idle.since) < self.idle_timeout
    }

    /// A slot is given back: the stream (if `Some`) goes idle, else the slot is freed.
    fn give_back(&self, origin: &Origin, stream: Option<IOStream>, generation: u64) {
        {
            let mut hosts = self.hosts.borrow_mut();
            let host = hosts
                .get_mut(origin)
                .filter(|_| generation == self.generation.get());
            let Some(host) = host else {
                // The pool was closed or moved to another loop meanwhile.
                if let Some(s) = stream {
                    s.close();
                }
                return;
            };
            match stream {
                Some(stream) => host.idle.push(Idle {
                    stream,
                    since: Instant::now(),
                }),
                None => host.open -= 1,
            }
            if host.open == 0 {
                hosts.remove(origin);
            }
        }
        self.arm_sweep();
        self.freed.notify_all();
    }

    fn arm_sweep(&self) {
        let armed = self.sweep.take();
        let any_idle = self.hosts.borrow().values().any(|h| !h.idle.is_empty());
        if armed.is_some() || !any_idle {
            self.sweep.set(armed);
            return;
        }
        let Some(io_loop) = self.io_loop.borrow().clone() else {
            return;
        };
        let this = self.this.clone();
        let t = io_loop.call_later(self.idle_timeout, move || {
            if let Some(pool) = this.upgrade() {
                pool.sweep.set(None);
                pool.close_idle(false);
                pool.arm_sweep();
            }
        });
        self.sweep.set(Some(t));
    }

    /// Closes idle connections: all of them, or (`all == false`) those no longer usable.
    pub(crate) fn close_idle(&self, all: bool) {
        let now = Instant::now();
        let mut closed = Vec::new();
        {
            let mut hosts = self.hosts.borrow_mut();
            for host in hosts.values_mut() {
                let before = host.idle.len();
                host.idle.retain(|idle| {
                    let keep = !all && self.usable(idle, now);
                    if !keep {
                        closed.push(idle.stream.clone());
                    }
                    keep
                });
                host.open -= before - host.idle.len();
            }
            hosts.retain(|_, h| h.open > 0);
        }
        for s in &closed {
            s.close();
        }
        if !closed.is_empty() {
            self.freed.notify_all();
        }
    }

    /// Closes every idle connection and stops the sweep timer (leased connections close when
    /// their fetches end).
    pub(crate) fn close(&self) {
        self.close_idle(true);
        if let (Some(t), Some(l)) = (self.sweep.take(), self.io_loop.borrow().as_ref()) {
            l.remove_timeout(t);
        }
    }

    /// Idle connections held, for all origins.
    pub(crate) fn idle_count(&self) -> usize {
        self.hosts.borrow().values().map(|h| h.idle.len()).sum()
    }

    fn bind_to_current_loop(&self) {
        let current = IOLoop::current();
        let same = self
            .io_loop
            .borrow()
            .as_ref()
            .is_some_and(|l| Rc::ptr_eq(&l.inner, &current.inner));
        if same {
            return;
        }
        // Connections registered on another loop cannot be used here: start afresh. Leases
        // still out on the old loop find their origin gone and close their streams.
        self.close();
        self.hosts.borrow_mut().clear();
        self.generation.set(self.generation.get() + 1);
        *self.io_loop.borrow_mut() = Some(current);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.close();
    }
}

impl Lease {
    pub(crate) fn stream(&self) -> &IOStream {
        self.stream
            .as_ref()
            .expect("a lease's stream is set once connected, before any exchange")
    }

    /// Ends the exchange: the connection goes idle if `reusable`, else it is closed.
    pub(crate) fn release(mut self, reusable: bool) {
        let stream = self.stream.take();
        let keep = match stream {
            Some(s) if reusable => Some(s),
            Some(s) => {
                s.close();
                None
            }
            None => None,
        };
        self.pool.give_back(&self.origin, keep, self.generation);
        self.done = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(s) = self.stream.take() {
            s.close();
        }
        self.pool.give_back(&self.origin, None, self.generation);
    }
}
