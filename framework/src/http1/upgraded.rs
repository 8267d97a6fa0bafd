//! Connections that left HTTP through an upgrade (a WebSocket) but still take part in their
//! server's graceful shutdown.
//!
//! [`Responder::upgrade`](super::Responder::upgrade) takes a connection out of the server's
//! registry: a protocol the server knows nothing of cannot be drained. A protocol that can
//! close in good order registers instead, through the [`ShutdownWatch`] it took from the
//! responder before the upgrade, and holds the returned [`UpgradeGuard`] until its stream
//! closes.
//!
//! ### Invariants
//!
//! - A registered connection is told [`going_away`](Upgraded::going_away) once when the
//!   server starts draining (or at registration, if it already has), and
//!   [`close_now`](Upgraded::close_now) when the grace period ends or every connection is
//!   closed at once.
//! - The server's shutdown completes only when no HTTP connection *and* no registered
//!   upgraded connection is left: dropping the guard is what lets it complete, so a protocol
//!   must drop it when its stream closes (and bound its own closing handshake).
//! - The registry holds weak references only, and calls out of it from a snapshot (a
//!   connection may close, and drop its guard, from inside `going_away`).

use std::rc::{Rc, Weak};

use super::ServerCore;

/// A connection that left HTTP through an upgrade and closes in good order when its server
/// shuts down.
pub(crate) trait Upgraded {
    /// The server is shutting down: start an orderly close whose wait is bounded (a
    /// WebSocket sends a Close `1001` and waits a few seconds for the peer's).
    fn going_away(&self);
    /// The shutdown's grace period is over (or every connection is being closed): close now.
    fn close_now(&self);
}

/// The registered upgraded connections of one server, in reusable slots.
#[derive(Default)]
pub(super) struct UpgradedSet {
    slots: Vec<Option<Weak<dyn Upgraded>>>,
    free: Vec<usize>,
}

impl UpgradedSet {
    /// Registered connections.
    pub(super) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// The registered connections still alive (a snapshot: calling them may change the set).
    pub(super) fn live(&self) -> Vec<Rc<dyn Upgraded>> {
        self.slots
            .iter()
            .filter_map(|s| s.as_ref().and_then(Weak::upgrade))
            .collect()
    }
}

/// Where an upgraded connection joins its server's graceful shutdown: taken from the
/// [`Responder`](super::Responder) before it upgrades.
#[derive(Clone)]
pub(crate) struct ShutdownWatch {
    pub(super) server: Weak<ServerCore>,
}

impl ShutdownWatch {
    /// Registers `conn` until the returned guard is dropped. Returns whether the server is
    /// already shutting down too: the caller then tells `conn` (`going_away`) itself, once it
    /// holds the guard. `None` if the server is gone.
    pub(crate) fn register(&self, conn: Weak<dyn Upgraded>) -> Option<(UpgradeGuard, bool)> {
        let server = self.server.upgrade()?;
        let slot = {
            let mut set = server.upgraded.borrow_mut();
            match set.free.pop() {
                Some(i) => {
                    set.slots[i] = Some(conn);
                    i
                }
                None => {
                    set.slots.push(Some(conn));
                    set.slots.len() - 1
                }
            }
        };
        let guard = UpgradeGuard {
            server: self.server.clone(),
            slot,
        };
        Some((guard, server.draining.get()))
    }
}

/// An upgraded connection's place in its server's registry: dropping it (when the
/// connection's stream closes) removes it, and may let a shutdown complete.
pub(crate) struct UpgradeGuard {
    server: Weak<ServerCore>,
    slot: usize,
}

impl Drop for UpgradeGuard {
    fn drop(&mut self) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        {
            let mut set = server.upgraded.borrow_mut();
            if let Some(s) = set.slots.get_mut(self.slot) {
                *s = None;
                set.free.push(self.slot);
            }
        }
        server.check_empty();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::{HttpServerOptions, Request, Responder};
    use std::cell::Cell;

    struct Probe {
        away: Cell<u32>,
        closed: Cell<u32>,
    }

    impl Upgraded for Probe {
        fn going_away(&self) {
            self.away.set(self.away.get() + 1);
        }
        fn close_now(&self) {
            self.closed.set(self.closed.get() + 1);
        }
    }

    fn probe() -> Rc<Probe> {
        Rc::new(Probe {
            away: Cell::new(0),
            closed: Cell::new(0),
        })
    }

    #[test]
    fn registered_connections_hold_the_shutdown_until_their_guards_drop() {
        let delegate = |_: Request, _: Responder| {};
        let server = ServerCore::new(Box::new(delegate), HttpServerOptions::default());
        let watch = ShutdownWatch {
            server: Rc::downgrade(&server),
        };
        let (a, b) = (probe(), probe());
        let (ga, draining) = watch
            .register(Rc::downgrade(&a) as Weak<dyn Upgraded>)
            .unwrap();
        assert!(!draining);
        let (gb, _) = watch
            .register(Rc::downgrade(&b) as Weak<dyn Upgraded>)
            .unwrap();
        assert_eq!(server.upgraded.borrow().len(), 2);

        let empty = Rc::new(Cell::new(false));
        let e = empty.clone();
        server.when_empty(Box::new(move || e.set(true)));
        server.drain();
        assert_eq!((a.away.get(), b.away.get()), (1, 1));
        assert!(!empty.get(), "completed with upgraded connections open");
        server.close_all();
        assert_eq!((a.closed.get(), b.closed.get()), (1, 1));

        drop(ga);
        assert!(!empty.get());
        // A slot is reused; a late registration learns that the server is draining.
        let c = probe();
        let (gc, draining) = watch
            .register(Rc::downgrade(&c) as Weak<dyn Upgraded>)
            .unwrap();
        assert!(draining);
        assert_eq!(server.upgraded.borrow().slots.len(), 2);
        drop(gb);
        assert!(!empty.get());
        drop(gc);
        assert!(empty.get(), "the last guard's drop completes the shutdown");
    }
}
