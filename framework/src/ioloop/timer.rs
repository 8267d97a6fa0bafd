//! Timers: the deadline heap behind `call_at`/`call_later`, and [`PeriodicCallback`].

use std::cell::{Cell, RefCell};
use std::collections::BinaryHeap;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{run_guarded, Callback, IOLoop};

/// A handle to a timer created by [`IOLoop::call_later`] or [`IOLoop::call_at`], used to cancel
/// it with [`IOLoop::remove_timeout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timeout {
    slot: u32,
    gen: u32,
}

/// A timer heap entry; ordered so that `BinaryHeap` pops the earliest deadline first and, among
/// equal deadlines, the one scheduled first.
struct TimerEntry {
    deadline: Instant,
    seq: u64,
    slot: u32,
    gen: u32,
}

impl PartialEq for TimerEntry {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline && self.seq == other.seq
    }
}
impl Eq for TimerEntry {}
impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimerEntry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other
            .deadline
            .cmp(&self.deadline)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// Timers: a heap of deadlines over a slab of callbacks. Cancelling empties the slab slot; the
/// heap entry goes stale and is skipped (and compacted when stale entries dominate).
#[derive(Default)]
pub(super) struct Timers {
    heap: BinaryHeap<TimerEntry>,
    slots: Vec<(u32, Option<Callback>)>,
    free: Vec<u32>,
    seq: u64,
    live: usize,
}

impl Timers {
    pub(super) fn insert(&mut self, deadline: Instant, cb: Callback) -> Timeout {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push((0, None));
                (self.slots.len() - 1) as u32
            }
        };
        let entry = &mut self.slots[slot as usize];
        entry.1 = Some(cb);
        let gen = entry.0;
        self.seq += 1;
        self.heap.push(TimerEntry {
            deadline,
            seq: self.seq,
            slot,
            gen,
        });
        self.live += 1;
        Timeout { slot, gen }
    }

    fn release(&mut self, slot: u32) -> Option<Callback> {
        let entry = &mut self.slots[slot as usize];
        let cb = entry.1.take();
        entry.0 = entry.0.wrapping_add(1);
        self.free.push(slot);
        self.live -= 1;
        cb
    }

    pub(super) fn remove(&mut self, t: Timeout) -> bool {
        match self.slots.get(t.slot as usize) {
            Some((gen, Some(_))) if *gen == t.gen => {
                self.release(t.slot);
                if self.heap.len() > 64 && self.heap.len() > 2 * self.live {
                    let slots = &self.slots;
                    self.heap.retain(
                        |e| matches!(slots.get(e.slot as usize), Some((g, Some(_))) if *g == e.gen),
                    );
                }
                true
            }
            _ => false,
        }
    }

    /// Drops stale entries from the top of the heap and returns the next live deadline.
    pub(super) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(top) = self.heap.peek() {
            match self.slots.get(top.slot as usize) {
                Some((g, Some(_))) if *g == top.gen => return Some(top.deadline),
                _ => {
                    self.heap.pop();
                }
            }
        }
        None
    }

    /// Pops one due timer, if any.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<Callback> {
        loop {
            let top = self.heap.peek()?;
            let live =
                matches!(self.slots.get(top.slot as usize), Some((g, Some(_))) if *g == top.gen);
            if !live {
                self.heap.pop();
                continue;
            }
            if top.deadline > now {
                return None;
            }
            let slot = top.slot;
            self.heap.pop();
            return self.release(slot);
        }
    }
}

/// Calls a function every `interval`, on the loop, without accumulating drift.
///
/// Each run is scheduled from the previous *deadline*, not from when the previous run ended; if
/// the loop fell behind by more than an interval, the missed runs are skipped (Tornado's rule).
///
/// # Examples
///
/// ```
/// use squall::ioloop::{IOLoop, PeriodicCallback};
/// use std::{cell::Cell, rc::Rc, time::Duration};
///
/// let io_loop = IOLoop::new().unwrap();
/// io_loop.make_current();
/// let n = Rc::new(Cell::new(0));
/// let (n2, l) = (n.clone(), io_loop.clone());
/// let pc = PeriodicCallback::new(Duration::from_millis(2), move || {
///     n2.set(n2.get() + 1);
///     if n2.get() == 3 { l.stop() }
/// });
/// pc.start();
/// io_loop.start();
/// pc.stop();
/// assert_eq!(n.get(), 3);
/// ```
#[derive(Clone)]
pub struct PeriodicCallback {
    inner: Rc<PeriodicInner>,
}

struct PeriodicInner {
    io_loop: IOLoop,
    interval: Duration,
    callback: RefCell<Box<dyn FnMut()>>,
    running: Cell<bool>,
    next: Cell<Instant>,
    timeout: Cell<Option<Timeout>>,
}

impl fmt::Debug for PeriodicCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeriodicCallback")
            .field("interval", &self.inner.interval)
            .field("running", &self.inner.running.get())
            .finish()
    }
}

impl PeriodicCallback {
    /// A periodic callback on the current loop. It does nothing until [`start`](Self::start).
    ///
    /// A zero interval is raised to one millisecond.
    pub fn new<F: FnMut() + 'static>(interval: Duration, callback: F) -> PeriodicCallback {
        PeriodicCallback::on(&IOLoop::current(), interval, callback)
    }

    /// A periodic callback on a given loop.
    pub fn on<F: FnMut() + 'static>(io_loop: &IOLoop, interval: Duration, callback: F) -> Self {
        PeriodicCallback {
            inner: Rc::new(PeriodicInner {
                io_loop: io_loop.clone(),
                interval: interval.max(Duration::from_millis(1)),
                callback: RefCell::new(Box::new(callback)),
                running: Cell::new(false),
                next: Cell::new(Instant::now()),
                timeout: Cell::new(None),
            }),
        }
    }

    /// Starts calling: the first call is one interval from now.
    pub fn start(&self) {
        if self.inner.running.replace(true) {
            return;
        }
        self.inner.next.set(Instant::now() + self.inner.interval);
        Self::schedule(&self.inner);
    }

    /// Stops calling. Can be restarted.
    pub fn stop(&self) {
        self.inner.running.set(false);
        if let Some(t) = self.inner.timeout.take() {
            self.inner.io_loop.remove_timeout(t);
        }
    }

    /// Whether it is started.
    pub fn is_running(&self) -> bool {
        self.inner.running.get()
    }

    fn schedule(inner: &Rc<PeriodicInner>) {
        let weak = Rc::downgrade(inner);
        let t = inner.io_loop.call_at(inner.next.get(), move || {
            if let Some(inner) = weak.upgrade() {
                PeriodicCallback::fire(&inner);
            }
        });
        inner.timeout.set(Some(t));
    }

    fn fire(inner: &Rc<PeriodicInner>) {
        inner.timeout.set(None);
        if !inner.running.get() {
            return;
        }
        if let Ok(mut cb) = inner.callback.try_borrow_mut() {
            let cb = &mut *cb;
            run_guarded("periodic callback", cb);
        }
        if !inner.running.get() || inner.timeout.get().is_some() {
            return;
        }
        // Next deadline from the previous deadline; skip whole intervals we fell behind.
        let now = Instant::now();
        let mut next = inner.next.get() + inner.interval;
        if next <= now {
            let behind = now - next;
            let skip = (behind.as_nanos() / inner.interval.as_nanos()) as u32 + 1;
            next += inner.interval * skip;
        }
        inner.next.set(next);
        PeriodicCallback::schedule(inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn periodic_callback_does_not_drift() {
        // Each deadline is the previous *deadline* plus the interval, whatever the callback
        // costs and however late the loop is: the deadlines stay on the grid start + k*interval.
        // (Checked on the deadlines themselves, so a loaded machine cannot make this flaky.)
        let l = IOLoop::new().unwrap();
        l.make_current();
        let interval = Duration::from_millis(10);
        let deadlines = Rc::new(RefCell::new(Vec::new()));
        let slot: Rc<RefCell<Option<PeriodicCallback>>> = Rc::new(RefCell::new(None));
        let (d2, s2, l2) = (deadlines.clone(), slot.clone(), l.clone());
        let pc = PeriodicCallback::new(interval, move || {
            let n = d2.borrow().len();
            if let Some(pc) = s2.borrow().as_ref() {
                d2.borrow_mut().push(pc.inner.next.get());
            }
            // Work of a third of the interval, and once 2.5 intervals: late runs are skipped.
            std::thread::sleep(if n == 5 {
                interval * 5 / 2
            } else {
                interval / 3
            });
            if n == 11 {
                l2.stop();
            }
        });
        *slot.borrow_mut() = Some(pc.clone());
        pc.start();
        let guard = l.call_later(Duration::from_secs(20), {
            let l = l.clone();
            move || l.stop()
        });
        l.start();
        pc.stop();
        assert!(l.remove_timeout(guard), "periodic callback stopped running");
        let d = deadlines.borrow();
        assert_eq!(d.len(), 12);
        for w in d.windows(2) {
            let step = w[1] - w[0];
            assert!(step >= interval, "deadline moved back");
            let k = step.as_nanos() / interval.as_nanos();
            assert_eq!(
                step,
                interval * k as u32,
                "deadline left the grid: {step:?}"
            );
        }
        // The 2.5-interval stall skipped whole intervals instead of firing a burst.
        assert!(d[6] - d[5] >= interval * 3);
        *slot.borrow_mut() = None;
        IOLoop::clear_current();
    }
}
