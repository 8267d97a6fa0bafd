//! The loop's door from other threads: [`IOLoopHandle`] and the state it shares.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use polling::Poller;

use super::tasks::TaskKey;
#[cfg(doc)]
use super::IOLoop;
use super::SendCallback;

/// State shared with other threads through [`IOLoopHandle`].
pub(crate) struct Shared {
    pub(super) poller: Poller,
    pub(super) remote: Mutex<Vec<SendCallback>>,
    /// Tasks woken (from any thread) since the loop last looked.
    pub(crate) woken: Mutex<Vec<TaskKey>>,
    /// Set when `remote` or `woken` may be non-empty; lets the loop skip the locks.
    pub(super) pending: AtomicBool,
    pub(super) stop: AtomicBool,
    pub(super) closed: AtomicBool,
    /// Whether the loop thread is (about to be) blocked in `wait`: only then is a notify needed.
    pub(super) sleeping: AtomicBool,
}

impl Shared {
    pub(crate) fn wake_task(&self, key: TaskKey) {
        self.woken
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(key);
        self.signal();
    }

    pub(super) fn signal(&self) {
        self.pending.store(true, Ordering::Release);
        if self.sleeping.load(Ordering::Acquire) {
            let _ = self.poller.notify();
        }
    }
}

/// A `Send + Sync + Clone` handle to an [`IOLoop`], the one way in from other threads.
///
/// # Examples
///
/// ```
/// use squall::ioloop::IOLoop;
/// let io_loop = IOLoop::new().unwrap();
/// let handle = io_loop.handle();
/// let l = io_loop.clone();
/// std::thread::spawn(move || {
///     handle.add_callback(|| println!("on the loop thread")).unwrap();
///     handle.stop();
/// });
/// io_loop.start();
/// ```
#[derive(Clone)]
pub struct IOLoopHandle {
    pub(super) shared: Arc<Shared>,
}

impl fmt::Debug for IOLoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IOLoopHandle")
            .field("closed", &self.shared.closed.load(Ordering::Relaxed))
            .finish()
    }
}

/// The loop behind an [`IOLoopHandle`] has been dropped; the callback was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopClosed;

impl fmt::Display for LoopClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the IOLoop has been closed")
    }
}

impl std::error::Error for LoopClosed {}

impl IOLoopHandle {
    /// Queues `f` to run on the loop's thread and wakes the loop if it sleeps.
    ///
    /// # Errors
    ///
    /// [`LoopClosed`] if the loop no longer exists (the callback is dropped).
    pub fn add_callback<F: FnOnce() + Send + 'static>(&self, f: F) -> Result<(), LoopClosed> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(LoopClosed);
        }
        self.shared
            .remote
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(f));
        self.shared.signal();
        Ok(())
    }

    /// Asks the loop to stop after its current turn (like [`IOLoop::stop`]).
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.signal();
    }

    /// Whether the loop has been dropped.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}
