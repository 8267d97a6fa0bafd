//! Connection timeouts: one timer per connection, re-armed lazily. The connection stores a
//! deadline (header, idle, body or linger, by phase) and the timer, when it fires early,
//! re-arms itself for the current deadline: a request costs no timer operation.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use super::{Conn, Phase};
use crate::ioloop::Timeout;

/// A connection's deadline and its timer.
pub(super) struct Clock {
    deadline: Cell<Option<Instant>>,
    /// The idle deadline is due but not yet set: a response finished inside `process`, which
    /// sets it once for the whole batch unless something sets a deadline first.
    idle_pending: Cell<bool>,
    /// Unsent output when last looked at by an idle deadline (see `sending_on`).
    pending_seen: Cell<usize>,
    timer: Cell<Option<(Timeout, Instant)>>,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            deadline: Cell::new(None),
            idle_pending: Cell::new(false),
            pending_seen: Cell::new(usize::MAX),
            timer: Cell::new(None),
        }
    }
}

impl Clock {
    /// No deadline (a request is being answered: the handler takes its time).
    #[inline]
    pub(super) fn clear(&self) {
        self.deadline.set(None);
        self.idle_pending.set(false);
    }

    /// The current deadline, if any.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.deadline.get()
    }

    /// An idle deadline is due at the end of the batch.
    #[inline]
    pub(super) fn set_idle_pending(&self) {
        self.idle_pending.set(true);
    }

    /// Whether an idle deadline was due (and no longer is).
    #[inline]
    pub(super) fn take_idle_pending(&self) -> bool {
        self.idle_pending.replace(false)
    }
}

impl Conn {
    pub(super) fn set_deadline(self: &Rc<Self>, deadline: Option<Instant>) {
        let clock = &self.clock;
        clock.deadline.set(deadline);
        clock.idle_pending.set(false);
        clock.pending_seen.set(usize::MAX);
        let Some(d) = deadline else { return };
        match clock.timer.get() {
            // The armed timer fires no later than the deadline; it re-arms itself then.
            Some((_, at)) if at <= d => {}
            Some((t, _)) => {
                self.stream.io_loop().remove_timeout(t);
                self.arm(d);
            }
            None => self.arm(d),
        }
    }

    /// Removes the timer (the connection closed or was handed off).
    pub(super) fn stop_timer(&self) {
        if let Some((t, _)) = self.clock.timer.take() {
            self.stream.io_loop().remove_timeout(t);
        }
    }

    fn arm(self: &Rc<Self>, at: Instant) {
        let weak = Rc::downgrade(self);
        let t = self.stream.io_loop().call_at(at, move || {
            if let Some(c) = weak.upgrade() {
                c.clock.timer.set(None);
                c.on_timer();
            }
        });
        self.clock.timer.set(Some((t, at)));
    }

    fn on_timer(self: &Rc<Self>) {
        let Some(d) = self.clock.deadline.get() else {
            return;
        };
        let now = Instant::now();
        if now >= d && self.sending_on(now) {
            return;
        }
        if now >= d {
            log::debug!(
                "squall: closing connection from {} ({:?} timed out)",
                self.remote,
                self.phase.get()
            );
            self.stream.close();
        } else {
            self.arm(d);
        }
    }

    /// At an idle deadline: whether the connection is in fact still sending a response the
    /// client is reading (its unsent output shrank since the deadline was set). It is then not
    /// idle, and gets another idle_timeout; a client that stopped reading does not.
    fn sending_on(self: &Rc<Self>, now: Instant) -> bool {
        let idle = match self.phase.get() {
            Phase::Idle | Phase::Closing { .. } | Phase::Lingering => true,
            Phase::Head(_) | Phase::Body | Phase::Responding | Phase::Upgraded => false,
        };
        let Some(timeout) = self.server.options.idle_timeout else {
            return false;
        };
        if !idle || !self.stream.writing() {
            return false;
        }
        let pending = self.stream.write_buffered();
        if pending >= self.clock.pending_seen.replace(pending) {
            return false;
        }
        let d = now + timeout;
        self.clock.deadline.set(Some(d));
        self.arm(d);
        true
    }
}
