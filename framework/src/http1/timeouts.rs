//! Connection timeouts: one timer per connection, re-armed lazily (see the module docs of
//! `http1`): a request costs no timer operation.

use std::rc::Rc;
use std::time::Instant;

use super::{Conn, Phase};

impl Conn {
    pub(super) fn set_deadline(self: &Rc<Self>, deadline: Option<Instant>) {
        self.deadline.set(deadline);
        self.idle_pending.set(false);
        self.pending_seen.set(usize::MAX);
        let Some(d) = deadline else { return };
        match self.timer.get() {
            // The armed timer fires no later than the deadline; it re-arms itself then.
            Some((_, at)) if at <= d => {}
            Some((t, _)) => {
                self.stream.io_loop().remove_timeout(t);
                self.arm(d);
            }
            None => self.arm(d),
        }
    }

    pub(super) fn arm(self: &Rc<Self>, at: Instant) {
        let weak = Rc::downgrade(self);
        let t = self.stream.io_loop().call_at(at, move || {
            if let Some(c) = weak.upgrade() {
                c.timer.set(None);
                c.on_timer();
            }
        });
        self.timer.set(Some((t, at)));
    }

    pub(super) fn on_timer(self: &Rc<Self>) {
        let Some(d) = self.deadline.get() else { return };
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
    pub(super) fn sending_on(self: &Rc<Self>, now: Instant) -> bool {
        let idle = match self.phase.get() {
            Phase::Head => !self.head_started.get(),
            Phase::Closing | Phase::Lingering => true,
            Phase::Body | Phase::Dispatched => false,
        };
        let Some(timeout) = self.server.options.idle_timeout else {
            return false;
        };
        if !idle || !self.stream.writing() {
            return false;
        }
        let pending = self.stream.write_buffered();
        if pending >= self.pending_seen.replace(pending) {
            return false;
        }
        let d = now + timeout;
        self.deadline.set(Some(d));
        self.arm(d);
        true
    }
}
