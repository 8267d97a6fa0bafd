//! The I/O loop: one thread, one [`polling::Poller`], file-descriptor handlers, timers,
//! callbacks and the task executor that drives `async` code.
//!
//! An [`IOLoop`] multiplexes every socket of one thread. Handlers are registered per file
//! descriptor with an [`Events`] mask; when the kernel reports readiness, the handler is called
//! with the fd and the events that fired. Timers ([`IOLoop::call_later`], [`IOLoop::call_at`],
//! [`PeriodicCallback`]) and callbacks ([`IOLoop::add_callback`]) run on the same thread, as do
//! the futures started with [`spawn`](crate::task::spawn).
//!
//! ### Threads
//!
//! The loop and everything registered on it are `!Send`: the compiler keeps handlers, streams and
//! tasks on their loop's thread. The one door in from other threads is [`IOLoopHandle`], whose
//! [`add_callback`](IOLoopHandle::add_callback) queues a `Send` closure and wakes a sleeping loop
//! at once (through the poller's notifier).
//!
//! ### Triggering
//!
//! A loop is built level-triggered or edge-triggered ([`Trigger`]). Level-triggered handlers are
//! called on every turn while the fd stays ready; edge-triggered handlers are called once per
//! readiness *change*, so they must read or write until `EAGAIN` (or until a short read proves
//! the socket drained) or they will not hear from that fd again. Interest is changed in the
//! kernel only when it really changes: there is no oneshot re-arm per event.
//!
//! ### Stale events
//!
//! Registrations are keyed by `fd` and a generation number. Removing a handler bumps the
//! generation of its slot, so an event that was already collected for the old registration (or
//! for a closed fd whose number was reused) is recognised and dropped, never delivered to the new
//! owner.
//!
//! ### Panics
//!
//! A callback, fd handler, timer or task that panics is logged through the `log` crate and
//! dropped; the loop keeps running.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polling::Poller;

use tasks::{TaskKey, Tasks};

mod events;
mod fd_handlers;
mod handle;
mod registration;
pub(crate) mod tasks;
mod timer;
mod wait;

pub use events::{Events, Trigger};
use fd_handlers::FdSlot;
pub(crate) use handle::Shared;
pub use handle::{IOLoopHandle, LoopClosed};
pub use registration::Registration;
use timer::Timers;
pub use timer::{PeriodicCallback, Timeout};

type Callback = Box<dyn FnOnce()>;
type SendCallback = Box<dyn FnOnce() + Send>;

pub(crate) struct Inner {
    shared: Arc<Shared>,
    trigger: Trigger,
    fds: RefCell<Vec<FdSlot>>,
    timers: RefCell<Timers>,
    callbacks: RefCell<VecDeque<Callback>>,
    pub(crate) tasks: Tasks,
    running: Cell<bool>,
    time: Cell<Instant>,
    /// Spare I/O buffers: a stream hands its buffer back when it empties, so idle connections
    /// hold none and busy ones do not allocate per read.
    buffers: RefCell<Vec<Vec<u8>>>,
}

/// A single-threaded event loop over [`polling`]: fd handlers, timers, callbacks and tasks.
///
/// `IOLoop` is a cheap, clonable handle (`Rc`) to the loop; clones refer to the same loop. It is
/// `!Send`: use [`IOLoop::handle`] to reach it from other threads.
///
/// # Examples
///
/// ```
/// use squall::ioloop::IOLoop;
/// use std::time::Duration;
///
/// let io_loop = IOLoop::new().unwrap();
/// let l = io_loop.clone();
/// io_loop.call_later(Duration::from_millis(5), move || l.stop());
/// io_loop.start();
/// ```
#[derive(Clone)]
pub struct IOLoop {
    pub(crate) inner: Rc<Inner>,
}

impl fmt::Debug for IOLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IOLoop")
            .field("trigger", &self.inner.trigger)
            .field("running", &self.inner.running.get())
            .finish_non_exhaustive()
    }
}

thread_local! {
    static CURRENT: RefCell<Option<IOLoop>> = const { RefCell::new(None) };
}

/// Builds an [`IOLoop`] with non-default options.
///
/// # Examples
///
/// ```
/// use squall::ioloop::{IOLoop, Trigger};
/// let io_loop = IOLoop::builder().trigger(Trigger::Edge).build().unwrap();
/// assert_eq!(io_loop.trigger(), Trigger::Edge);
/// ```
#[derive(Debug, Clone, Default)]
pub struct IOLoopBuilder {
    trigger: Trigger,
}

impl IOLoopBuilder {
    /// Chooses level- or edge-triggered readiness (default: [`Trigger::Level`]).
    pub fn trigger(mut self, trigger: Trigger) -> Self {
        self.trigger = trigger;
        self
    }

    /// Creates the loop.
    ///
    /// # Errors
    ///
    /// Fails when the poller cannot be created (for example, out of file descriptors).
    pub fn build(self) -> io::Result<IOLoop> {
        let poller = Poller::new()?;
        let shared = Arc::new(Shared {
            poller,
            remote: Mutex::new(Vec::new()),
            woken: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
        });
        Ok(IOLoop {
            inner: Rc::new(Inner {
                shared,
                trigger: self.trigger,
                fds: RefCell::new(Vec::new()),
                timers: RefCell::new(Timers::default()),
                callbacks: RefCell::new(VecDeque::new()),
                tasks: Tasks::default(),
                running: Cell::new(false),
                time: Cell::new(Instant::now()),
                buffers: RefCell::new(Vec::new()),
            }),
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
    }
}

impl IOLoop {
    /// Creates a new level-triggered loop. It does not become [`current`](IOLoop::current)
    /// until [`make_current`](IOLoop::make_current) or [`start`](IOLoop::start).
    ///
    /// # Errors
    ///
    /// Fails when the poller cannot be created.
    pub fn new() -> io::Result<IOLoop> {
        IOLoop::builder().build()
    }

    /// A builder for a loop with non-default options (edge triggering).
    pub fn builder() -> IOLoopBuilder {
        IOLoopBuilder::default()
    }

    /// The current thread's loop, created (level-triggered) on first use.
    ///
    /// # Panics
    ///
    /// Panics if the loop must be created and the poller cannot be (the process is out of file
    /// descriptors), as there is no loop to report the error on.
    pub fn current() -> IOLoop {
        if let Some(l) = IOLoop::try_current() {
            return l;
        }
        let l = IOLoop::new().expect("squall: cannot create the IOLoop's poller");
        l.make_current();
        l
    }

    /// The current thread's loop, if one was made current.
    pub fn try_current() -> Option<IOLoop> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Makes this loop the current thread's loop (what [`IOLoop::current`] returns).
    pub fn make_current(&self) {
        CURRENT.with(|c| *c.borrow_mut() = Some(self.clone()));
    }

    /// Forgets the current thread's loop, if any.
    pub fn clear_current() {
        CURRENT.with(|c| c.borrow_mut().take());
    }

    /// The trigger mode this loop was built with.
    pub fn trigger(&self) -> Trigger {
        self.inner.trigger
    }

    /// A `Send + Clone` handle that reaches this loop from any thread.
    pub fn handle(&self) -> IOLoopHandle {
        IOLoopHandle {
            shared: self.inner.shared.clone(),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// The loop's clock, read once per turn: cheap, and the same for every handler of a turn.
    pub fn time(&self) -> Instant {
        self.inner.time.get()
    }

    /// Whether [`start`](IOLoop::start) is running.
    pub fn is_running(&self) -> bool {
        self.inner.running.get()
    }

    /// Takes an empty buffer from the loop's pool (or a new one with `capacity`).
    pub(crate) fn take_buffer(&self, capacity: usize) -> Vec<u8> {
        match self.inner.buffers.borrow_mut().pop() {
            Some(mut b) => {
                b.reserve(capacity);
                b
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// Returns a buffer to the pool; oversized or surplus buffers are freed.
    pub(crate) fn give_buffer(&self, mut buf: Vec<u8>) {
        const KEEP: usize = 32;
        const MAX_CAPACITY: usize = 256 * 1024;
        if buf.capacity() == 0 || buf.capacity() > MAX_CAPACITY {
            return;
        }
        let mut pool = self.inner.buffers.borrow_mut();
        if pool.len() < KEEP {
            buf.clear();
            pool.push(buf);
        }
    }

    // ----- fd handlers -------------------------------------------------------------------

    /// Registers `io` with this loop for as long as the returned [`Registration`] lives:
    /// `callback` is called with the fd and the events that fired. The safe way to watch an fd.
    ///
    /// `events` is the interest (`READ`, `WRITE`, both, or `NONE`); `ERROR` is always reported.
    /// The registration owns `io`, so the fd cannot be closed while the loop watches it;
    /// dropping the registration removes the handler, then drops `io`. (`'static`: a leaked
    /// registration then leaks `io` too, rather than outliving a borrowed fd.)
    ///
    /// ```
    /// use squall::ioloop::{Events, IOLoop};
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let io_loop = IOLoop::new()?;
    /// let (a, mut b) = UnixStream::pair()?;
    /// let l = io_loop.clone();
    /// let reg = io_loop.register(a, Events::READ, move |_fd, _events| l.stop())?;
    /// b.write_all(b"x")?;
    /// io_loop.start(); // returns once the callback saw `a` readable
    /// drop(reg); // off the loop, then `a` is closed
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `AlreadyExists` if the fd already has a handler; the poller's error otherwise.
    pub fn register<T, F>(&self, io: T, events: Events, callback: F) -> io::Result<Registration<T>>
    where
        T: AsFd + 'static,
        F: FnMut(RawFd, Events) + 'static,
    {
        let fd = io.as_fd().as_raw_fd();
        // SAFETY: the Registration owns `io`, so the fd stays open while it is registered: its
        // Drop removes the handler before `io` is dropped, and a forgotten Registration leaks
        // `io` (never closed; `'static`, so no borrow can end under it).
        unsafe { self.add_handler(fd, events, callback)? };
        Ok(Registration {
            io: Some(io),
            io_loop: self.clone(),
            fd,
        })
    }

    /// Registers `callback` for a raw `fd`, called with the fd and the events that fired: the
    /// loop's own streams and servers use it; [`register`](IOLoop::register) is the safe form.
    ///
    /// `events` is the interest (`READ`, `WRITE`, both, or `NONE`); `ERROR` is always reported.
    /// The caller keeps owning the fd.
    ///
    /// # Safety
    ///
    /// `fd` must stay open until [`remove_handler`](IOLoop::remove_handler) has been called
    /// for it (or the loop is closed): closing it while registered lets the kernel reuse the
    /// number for another file, whose events would then reach this callback (polling's
    /// `Poller::add` has the same contract).
    ///
    /// # Errors
    ///
    /// `AlreadyExists` if `fd` already has a handler; the poller's error otherwise.
    pub unsafe fn add_handler<F>(&self, fd: RawFd, events: Events, callback: F) -> io::Result<()>
    where
        F: FnMut(RawFd, Events) + 'static,
    {
        // SAFETY: this function's contract, passed on.
        unsafe { self.add_slot(fd, events, callback) }
    }

    /// Changes the interest of `fd`'s handler. A no-op (no syscall) if it is unchanged.
    ///
    /// # Errors
    ///
    /// `NotFound` if `fd` has no handler; the poller's error otherwise.
    pub fn update_handler(&self, fd: RawFd, events: Events) -> io::Result<()> {
        self.update_slot(fd, events)
    }

    /// Removes `fd`'s handler and deletes the fd from the poller. Events already collected for
    /// it are dropped. Returns whether a handler was registered.
    pub fn remove_handler(&self, fd: RawFd) -> bool {
        self.remove_slot(fd)
    }

    /// The interest currently registered for `fd`, if it has a handler.
    pub fn handler_events(&self, fd: RawFd) -> Option<Events> {
        let fds = self.inner.fds.borrow();
        match fds.get(fd.max(0) as usize) {
            Some(s) if s.registered && fd >= 0 => Some(s.interest),
            _ => None,
        }
    }

    /// Closes the loop (Tornado's `IOLoop.close()`): removes every fd handler (the fds
    /// themselves belong to their owners), and drops pending callbacks, timers and tasks.
    ///
    /// What is registered on a loop holds the loop, and a listening server is held by its
    /// loop (it serves until stopped, as in Tornado): closing breaks those cycles so that a
    /// loop that has finished its work, and everything on it, is freed. Call it after
    /// [`start`](IOLoop::start) returns for good (a thread's loop, a test's loop).
    pub fn close(&self) {
        let fds: Vec<RawFd> = {
            let fds = self.inner.fds.borrow();
            (0..fds.len())
                .filter(|&i| fds[i].registered)
                .map(|i| i as RawFd)
                .collect()
        };
        for fd in fds {
            self.remove_handler(fd);
        }
        let callbacks = std::mem::take(&mut *self.inner.callbacks.borrow_mut());
        drop(callbacks);
        let timers = std::mem::take(&mut *self.inner.timers.borrow_mut());
        drop(timers);
        let tasks = self.inner.tasks.drain();
        drop(tasks);
        let remote = std::mem::take(
            &mut *self
                .inner
                .shared
                .remote
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        drop(remote);
    }

    /// How many fds have handlers (useful to check for leaks).
    pub fn handler_count(&self) -> usize {
        self.inner
            .fds
            .borrow()
            .iter()
            .filter(|s| s.registered)
            .count()
    }

    /// How many spawned tasks have not finished (useful to check for leaks).
    pub fn task_count(&self) -> usize {
        self.inner.tasks.len()
    }

    // ----- callbacks and timers -------------------------------------------------------------

    /// Runs `f` on the next turn of the loop.
    pub fn add_callback<F: FnOnce() + 'static>(&self, f: F) {
        self.inner.callbacks.borrow_mut().push_back(Box::new(f));
    }

    /// Runs `f` once `delay` has passed. Returns a handle for
    /// [`remove_timeout`](IOLoop::remove_timeout).
    pub fn call_later<F: FnOnce() + 'static>(&self, delay: Duration, f: F) -> Timeout {
        let deadline = Instant::now().checked_add(delay).unwrap_or_else(far_future);
        self.call_at(deadline, f)
    }

    /// Runs `f` at `deadline` (at once, on the next turn, if it has passed). Timers with the same
    /// deadline run in the order they were created.
    pub fn call_at<F: FnOnce() + 'static>(&self, deadline: Instant, f: F) -> Timeout {
        self.inner.timers.borrow_mut().insert(deadline, Box::new(f))
    }

    /// Cancels a timer. Returns whether it was still pending.
    pub fn remove_timeout(&self, timeout: Timeout) -> bool {
        let removed = self.inner.timers.borrow_mut().remove(timeout);
        removed
    }

    // ----- running ---------------------------------------------------------------------------

    /// Runs the loop until [`stop`](IOLoop::stop) is called. The loop is current while it runs.
    ///
    /// # Panics
    ///
    /// Panics if the loop is already running (a nested `start`), which is a programming error.
    pub fn start(&self) {
        assert!(
            !self.inner.running.get(),
            "squall: IOLoop::start called on a loop that is already running"
        );
        let previous = IOLoop::try_current();
        self.make_current();
        self.inner.running.set(true);
        let mut waiter = wait::Waiter::new();
        let shared = self.inner.shared.clone();
        loop {
            self.run_ready();
            if shared.stop.swap(false, Ordering::AcqRel) {
                break;
            }
            let timeout = self.poll_timeout();
            if timeout != Some(Duration::ZERO) {
                shared.sleeping.store(true, Ordering::SeqCst);
                // A remote callback queued between run_ready and `sleeping` must not be missed.
                if shared.pending.load(Ordering::SeqCst) || shared.stop.load(Ordering::SeqCst) {
                    shared.sleeping.store(false, Ordering::SeqCst);
                    continue;
                }
            }
            let res = waiter.wait(&shared.poller, timeout);
            shared.sleeping.store(false, Ordering::SeqCst);
            self.inner.time.set(Instant::now());
            match res {
                Ok(ready) => {
                    for r in ready {
                        self.dispatch(r);
                    }
                }
                Err(e) => {
                    log::error!("squall: poller wait failed: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        self.inner.running.set(false);
        match previous {
            Some(p) => p.make_current(),
            None => IOLoop::clear_current(),
        }
    }

    /// Asks the loop to return from [`start`](IOLoop::start) after the current turn.
    pub fn stop(&self) {
        self.inner.shared.stop.store(true, Ordering::Release);
        self.inner.shared.signal();
    }

    /// Runs the loop until `future` completes and returns its output.
    ///
    /// # Panics
    ///
    /// Panics if the loop is already running, or re-raises the future's own panic.
    pub fn run_sync<F: Future + 'static>(&self, future: F) -> F::Output
    where
        F::Output: 'static,
    {
        let result: Rc<RefCell<Option<std::thread::Result<F::Output>>>> =
            Rc::new(RefCell::new(None));
        let slot = result.clone();
        let l = self.clone();
        let task = tasks::CatchUnwind::new(future);
        self.spawn_local(async move {
            let out = task.await;
            *slot.borrow_mut() = Some(out);
            l.stop();
        });
        self.start();
        let out = result.borrow_mut().take();
        match out {
            Some(Ok(v)) => v,
            Some(Err(p)) => std::panic::resume_unwind(p),
            None => panic!("squall: IOLoop stopped before run_sync's future completed"),
        }
    }

    /// Spawns a future on this loop (see [`crate::task::spawn`]).
    pub fn spawn<F>(&self, future: F) -> tasks::JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        tasks::spawn_on(self, future)
    }

    pub(crate) fn spawn_local(&self, future: impl Future<Output = ()> + 'static) -> TaskKey {
        self.inner.tasks.insert(Box::pin(future), self)
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.inner.callbacks.borrow().is_empty()
            || self.inner.shared.pending.load(Ordering::Acquire)
        {
            return Some(Duration::ZERO);
        }
        let next = self.inner.timers.borrow_mut().next_deadline()?;
        let now = Instant::now();
        Some(next.saturating_duration_since(now))
    }

    /// One turn's worth of non-I/O work: remote callbacks, local callbacks queued before this
    /// turn, woken tasks, due timers.
    fn run_ready(&self) {
        let shared = &self.inner.shared;
        if shared.pending.swap(false, Ordering::AcqRel) {
            let remote =
                std::mem::take(&mut *shared.remote.lock().unwrap_or_else(|e| e.into_inner()));
            for cb in remote {
                run_guarded("callback", cb);
            }
        }
        // Only the callbacks present now: ones they add run on the next turn, so a callback
        // that re-adds itself cannot starve I/O.
        let n = self.inner.callbacks.borrow().len();
        for _ in 0..n {
            let cb = self.inner.callbacks.borrow_mut().pop_front();
            match cb {
                Some(cb) => run_guarded("callback", cb),
                None => break,
            }
        }
        self.inner.tasks.run_woken(self);
        let now = Instant::now();
        self.inner.time.set(now);
        loop {
            let cb = self.inner.timers.borrow_mut().pop_due(now);
            match cb {
                Some(cb) => run_guarded("timer", cb),
                None => break,
            }
        }
        // Timers may have woken tasks (sleep); run them in this same turn.
        self.inner.tasks.run_woken(self);
    }
}

pub(crate) fn run_guarded(what: &str, f: impl FnOnce()) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(f)) {
        log::error!("squall: {what} panicked: {}", panic_message(&p));
    }
}

/// The text of a panic payload, for logs.
pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = p.downcast_ref::<&str>() {
        s
    } else if let Some(s) = p.downcast_ref::<String>() {
        s
    } else {
        "(non-string panic payload)"
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

#[cfg(test)]
mod tests;
