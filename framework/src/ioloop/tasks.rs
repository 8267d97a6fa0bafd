//! The loop's task executor: the slab of spawned futures, their wakers (which are `Send`: a
//! wake from another thread goes through the loop's notifier), join handles and the
//! cooperative poll budget. [`crate::task`] is the public face ([`spawn`](crate::task::spawn),
//! [`JoinHandle`](crate::task::JoinHandle), timers as futures); this module lives under the
//! loop because the loop owns and runs the tasks, so the loop depends on nothing above it.
//!
//! ### Invariants
//!
//! - A task key carries its slot's generation: a wake for a finished task whose slot was
//!   reused is ignored.
//! - A woken task is queued once however often it is woken before it runs (`scheduled`).
//! - A task is polled inside `catch_unwind`: a panic is logged and ends that task only.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};

use super::{panic_message, IOLoop, Shared};

/// Stream operations a task may complete in one poll before it must yield.
const COOP_BUDGET: u32 = 128;

thread_local! {
    static BUDGET: Cell<u32> = const { Cell::new(COOP_BUDGET) };
}

/// Cooperative scheduling: every stream operation that completes spends one unit of the
/// running task's budget; when it is spent, the operation yields (wakes itself and returns
/// `Pending`) so that a task whose reads and writes always succeed at once cannot hold the
/// loop forever. The budget refills before each task poll.
pub(crate) fn poll_budget(cx: &mut Context<'_>) -> Poll<()> {
    BUDGET.with(|b| {
        let left = b.get();
        if left == 0 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            b.set(left - 1);
            Poll::Ready(())
        }
    })
}

/// A task's slot index and generation, packed.
pub(crate) type TaskKey = u64;

type LocalFuture = Pin<Box<dyn Future<Output = ()>>>;

struct TaskWaker {
    key: TaskKey,
    /// Set while the task sits in the loop's woken list: repeated wakes queue it once.
    scheduled: AtomicBool,
    shared: Weak<Shared>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            if let Some(shared) = self.shared.upgrade() {
                shared.wake_task(self.key);
            }
        }
    }
}

struct TaskSlot {
    gen: u32,
    future: Option<LocalFuture>,
    waker: Option<Arc<TaskWaker>>,
}

/// The loop's table of live tasks.
#[derive(Default)]
pub(crate) struct Tasks {
    slots: RefCell<Vec<TaskSlot>>,
    free: RefCell<Vec<u32>>,
    /// Reused between turns so draining the woken list does not allocate.
    batch: RefCell<Vec<TaskKey>>,
    live: Cell<usize>,
}

fn split(key: TaskKey) -> (usize, u32) {
    ((key & 0xffff_ffff) as usize, (key >> 32) as u32)
}

impl Tasks {
    pub(crate) fn insert(&self, future: LocalFuture, io_loop: &IOLoop) -> TaskKey {
        let mut slots = self.slots.borrow_mut();
        let idx = match self.free.borrow_mut().pop() {
            Some(i) => i as usize,
            None => {
                slots.push(TaskSlot {
                    gen: 0,
                    future: None,
                    waker: None,
                });
                slots.len() - 1
            }
        };
        let slot = &mut slots[idx];
        let key = ((slot.gen as u64) << 32) | idx as u64;
        let waker = Arc::new(TaskWaker {
            key,
            scheduled: AtomicBool::new(false),
            shared: Arc::downgrade(io_loop.shared()),
        });
        slot.future = Some(future);
        slot.waker = Some(waker.clone());
        self.live.set(self.live.get() + 1);
        drop(slots);
        waker.wake_by_ref();
        key
    }

    /// Number of tasks not yet finished.
    pub(crate) fn len(&self) -> usize {
        self.live.get()
    }

    fn release(&self, idx: usize) -> Option<LocalFuture> {
        let mut slots = self.slots.borrow_mut();
        let slot = &mut slots[idx];
        slot.gen = slot.gen.wrapping_add(1);
        slot.waker = None;
        let f = slot.future.take();
        self.free.borrow_mut().push(idx as u32);
        self.live.set(self.live.get() - 1);
        f
    }

    /// Takes every live task's future out (for [`IOLoop::close`]); the caller drops them
    /// outside any borrow.
    pub(crate) fn drain(&self) -> Vec<LocalFuture> {
        let n = self.slots.borrow().len();
        (0..n)
            .filter(|&i| self.slots.borrow()[i].waker.is_some())
            .filter_map(|i| self.release(i))
            .collect()
    }

    /// Drops a task's future without polling it again. Returns whether it was live.
    pub(crate) fn cancel(&self, key: TaskKey) -> bool {
        let (idx, gen) = split(key);
        let live =
            matches!(self.slots.borrow().get(idx), Some(s) if s.gen == gen && s.waker.is_some());
        if !live {
            return false;
        }
        // Dropped outside any borrow: the future's destructors may use the loop.
        drop(self.release(idx));
        true
    }

    /// Polls every task woken since the last call.
    pub(crate) fn run_woken(&self, io_loop: &IOLoop) {
        let shared = io_loop.shared();
        let mut batch = std::mem::take(&mut *self.batch.borrow_mut());
        {
            let mut woken = shared.woken.lock().unwrap_or_else(|e| e.into_inner());
            if woken.is_empty() {
                drop(woken);
                *self.batch.borrow_mut() = batch;
                return;
            }
            std::mem::swap(&mut *woken, &mut batch);
        }
        for key in batch.drain(..) {
            let (idx, gen) = split(key);
            let (mut fut, waker) = {
                let mut slots = self.slots.borrow_mut();
                match slots.get_mut(idx) {
                    Some(s) if s.gen == gen => match (s.future.take(), s.waker.clone()) {
                        (Some(f), Some(w)) => (f, w),
                        _ => continue,
                    },
                    _ => continue,
                }
            };
            waker.scheduled.store(false, Ordering::Release);
            BUDGET.with(|b| b.set(COOP_BUDGET));
            let std_waker = Waker::from(waker);
            let mut cx = Context::from_waker(&std_waker);
            let res = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx)));
            let done = match res {
                Ok(Poll::Pending) => false,
                Ok(Poll::Ready(())) => true,
                Err(p) => {
                    log::error!("squall: task panicked: {}", panic_message(&*p));
                    true
                }
            };
            let still_ours = matches!(self.slots.borrow().get(idx), Some(s) if s.gen == gen);
            if !still_ours {
                // Cancelled while it ran; the slot already moved on.
                drop(fut);
            } else if done {
                self.release(idx);
                drop(fut);
            } else {
                self.slots.borrow_mut()[idx].future = Some(fut);
            }
        }
        // Keep the batch's capacity for next time; whatever was woken meanwhile stays queued.
        let mut mine = self.batch.borrow_mut();
        if mine.capacity() < batch.capacity() {
            *mine = batch;
        }
    }
}

/// Why a [`JoinHandle`] has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// The task (or executor job) panicked; the message is the panic's text.
    Panicked(String),
    /// The task was cancelled with [`JoinHandle::abort`] or its loop was dropped.
    Cancelled,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(m) => write!(f, "task panicked: {m}"),
            JoinError::Cancelled => f.write_str("task was cancelled"),
        }
    }
}

impl std::error::Error for JoinError {}

struct JoinState<T> {
    result: Option<Result<T, JoinError>>,
    waker: Option<Waker>,
}

/// Awaits the output of a task started with [`spawn`](crate::task::spawn). Dropping it detaches the task (it keeps
/// running); [`abort`](JoinHandle::abort) cancels it.
pub struct JoinHandle<T> {
    state: Rc<RefCell<JoinState<T>>>,
    key: TaskKey,
    io_loop: IOLoop,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// Cancels the task: its future is dropped without being polled again, and this handle
    /// resolves to [`JoinError::Cancelled`] (unless it had already finished).
    pub fn abort(&self) {
        self.io_loop.inner.tasks.cancel(self.key);
    }

    /// Whether the task has finished (with a value, a panic or a cancellation).
    pub fn is_finished(&self) -> bool {
        self.state.borrow().result.is_some()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = self.state.borrow_mut();
        match st.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                st.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Sets the join state when the task ends, whichever way (value, panic, cancellation).
struct Completion<T> {
    state: Rc<RefCell<JoinState<T>>>,
}

impl<T> Completion<T> {
    fn complete(&self, r: Result<T, JoinError>) {
        let waker = {
            let mut st = self.state.borrow_mut();
            if st.result.is_none() {
                st.result = Some(r);
            }
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Drop for Completion<T> {
    fn drop(&mut self) {
        if self.state.borrow().result.is_none() {
            self.complete(Err(JoinError::Cancelled));
        }
    }
}

pub(crate) fn spawn_on<F>(io_loop: &IOLoop, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let state = Rc::new(RefCell::new(JoinState {
        result: None,
        waker: None,
    }));
    let done = Completion {
        state: state.clone(),
    };
    let wrapped = CatchUnwind::new(future);
    let key = io_loop.spawn_local(async move {
        let r = wrapped
            .await
            .map_err(|p| JoinError::Panicked(panic_message(&*p).to_owned()));
        if let Err(JoinError::Panicked(m)) = &r {
            log::error!("squall: task panicked: {m}");
        }
        done.complete(r);
    });
    JoinHandle {
        state,
        key,
        io_loop: io_loop.clone(),
    }
}

/// Polls a future inside `catch_unwind`, turning a panic into an `Err` output.
pub(crate) struct CatchUnwind<F> {
    inner: F,
}

impl<F> CatchUnwind<F> {
    pub(crate) fn new(inner: F) -> Self {
        CatchUnwind { inner }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned: never moved out of `self`.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.inner) };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(p) => Poll::Ready(Err(p)),
        }
    }
}
