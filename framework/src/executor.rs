//! A bounded thread pool for blocking or CPU-heavy work, awaited from the loop.
//!
//! [`run_in_executor`] sends a closure to the pool and returns a future that resolves *on the
//! loop thread* once the closure has run: the worker stores the result and wakes the awaiting
//! task, whose waker reaches the loop through its `Send` handle (Tornado's
//! `IOLoop.run_in_executor`). The loop never blocks on the pool.
//!
//! ### Sizing
//!
//! Threads are started lazily, one per job while none is idle, up to a bound (default
//! `min(32, cpus + 4)`, as Python's `ThreadPoolExecutor`); further jobs queue. Threads are never
//! created before first use, which keeps [`fork_processes`](crate::process::fork_processes)
//! safe to call at start-up.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use crate::ioloop::panic_message;
use crate::task::JoinError;

type Job = Box<dyn FnOnce() + Send>;

struct PoolState {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

/// A bounded pool of worker threads. Most code uses the process-wide pool through
/// [`run_in_executor`]; a separate pool isolates a kind of work.
///
/// # Examples
///
/// ```
/// use squall::executor::ThreadPool;
/// use squall::ioloop::IOLoop;
/// let pool = ThreadPool::new(2);
/// let v = IOLoop::new().unwrap().run_sync(pool.run(|| 2 + 2));
/// assert_eq!(v, Ok(4));
/// ```
pub struct ThreadPool {
    inner: Arc<(Mutex<PoolState>, Condvar)>,
    max_threads: usize,
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.0.lock().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("ThreadPool")
            .field("max_threads", &self.max_threads)
            .field("threads", &st.threads)
            .field("queued", &st.queue.len())
            .finish()
    }
}

impl ThreadPool {
    /// A pool of at most `max_threads` threads (at least one).
    pub fn new(max_threads: usize) -> ThreadPool {
        ThreadPool {
            inner: Arc::new((
                Mutex::new(PoolState {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                }),
                Condvar::new(),
            )),
            max_threads: max_threads.max(1),
        }
    }

    /// The bound on worker threads.
    pub fn max_threads(&self) -> usize {
        self.max_threads
    }

    /// Threads started so far.
    pub fn threads(&self) -> usize {
        self.inner
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .threads
    }

    /// Runs `f` on a worker thread; the returned future resolves with its value (or
    /// [`JoinError::Panicked`] if it panicked). Dropping the future does not stop `f`.
    pub fn run<F, T>(&self, f: F) -> ExecutorFuture<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::new(Mutex::new(Slot {
            result: None,
            waker: None,
        }));
        let s2 = slot.clone();
        self.execute(Box::new(move || {
            let r = catch_unwind(AssertUnwindSafe(f))
                .map_err(|p| JoinError::Panicked(panic_message(&*p).to_owned()));
            let waker = {
                let mut s = s2.lock().unwrap_or_else(|e| e.into_inner());
                s.result = Some(r);
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }));
        ExecutorFuture { slot }
    }

    fn execute(&self, job: Job) {
        let (lock, cvar) = &*self.inner;
        let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
        st.queue.push_back(job);
        if st.idle == 0 && st.threads < self.max_threads {
            st.threads += 1;
            let inner = self.inner.clone();
            let n = st.threads;
            drop(st);
            let spawned = std::thread::Builder::new()
                .name(format!("squall-executor-{n}"))
                .spawn(move || worker(inner));
            if let Err(e) = spawned {
                log::error!("squall: cannot start an executor thread: {e}");
                lock.lock().unwrap_or_else(|e| e.into_inner()).threads -= 1;
            }
        } else {
            drop(st);
            cvar.notify_one();
        }
    }
}

fn worker(inner: Arc<(Mutex<PoolState>, Condvar)>) {
    let (lock, cvar) = &*inner;
    loop {
        let job = {
            let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(j) = st.queue.pop_front() {
                    break j;
                }
                st.idle += 1;
                st = cvar.wait(st).unwrap_or_else(|e| e.into_inner());
                st.idle -= 1;
            }
        };
        // Panics are caught inside the job (see `run`).
        job();
    }
}

struct Slot<T> {
    result: Option<Result<T, JoinError>>,
    waker: Option<Waker>,
}

/// The result of a job on a [`ThreadPool`], awaited on the loop.
pub struct ExecutorFuture<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> fmt::Debug for ExecutorFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutorFuture").finish_non_exhaustive()
    }
}

impl<T> Future for ExecutorFuture<T> {
    type Output = Result<T, JoinError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match s.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

static DEFAULT_POOL: OnceLock<ThreadPool> = OnceLock::new();

/// The process-wide pool behind [`run_in_executor`].
pub fn default_pool() -> &'static ThreadPool {
    DEFAULT_POOL.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        ThreadPool::new((cpus + 4).min(32))
    })
}

/// Whether the default pool has started any thread (forking after that is unsafe).
pub(crate) fn has_threads() -> bool {
    DEFAULT_POOL.get().is_some_and(|p| p.threads() > 0)
}

/// Runs `f` on the default thread pool and resolves with its value on the loop thread.
///
/// # Examples
///
/// ```
/// use squall::ioloop::IOLoop;
/// let v = IOLoop::new().unwrap().run_sync(async {
///     squall::executor::run_in_executor(|| (1..=10u64).product::<u64>()).await
/// });
/// assert_eq!(v, Ok(3628800));
/// ```
pub fn run_in_executor<F, T>(f: F) -> ExecutorFuture<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    default_pool().run(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioloop::IOLoop;
    use crate::task::{sleep, spawn};
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    #[test]
    fn jobs_run_off_loop_and_resolve_on_loop() {
        let l = IOLoop::new().unwrap();
        let loop_thread = std::thread::current().id();
        let pool = ThreadPool::new(3);
        let (ids, back_on_loop) = l.run_sync(async move {
            let futs: Vec<_> = (0..6)
                .map(|_| {
                    pool.run(|| {
                        std::thread::sleep(Duration::from_millis(20));
                        std::thread::current().id()
                    })
                })
                .collect();
            let mut ids = Vec::new();
            for f in futs {
                ids.push(f.await.unwrap());
            }
            assert!(pool.threads() <= 3);
            (ids, std::thread::current().id())
        });
        assert!(ids.iter().all(|t| *t != loop_thread));
        assert_eq!(back_on_loop, loop_thread);
    }

    #[test]
    fn loop_stays_responsive_while_job_runs() {
        let l = IOLoop::new().unwrap();
        let ticks = Rc::new(Cell::new(0));
        let t2 = ticks.clone();
        let t0 = Instant::now();
        l.run_sync(async move {
            let ticker = spawn(async move {
                for _ in 0..5 {
                    sleep(Duration::from_millis(10)).await;
                    t2.set(t2.get() + 1);
                }
            });
            let job = run_in_executor(|| std::thread::sleep(Duration::from_millis(200)));
            ticker.await.unwrap();
            // The ticker finished while the job was still running.
            assert!(t0.elapsed() < Duration::from_millis(190));
            job.await.unwrap();
        });
        assert_eq!(ticks.get(), 5);
    }

    #[test]
    fn panicking_job_is_an_error() {
        let l = IOLoop::new().unwrap();
        let r = l.run_sync(run_in_executor(|| -> u8 { panic!("job boom (expected)") }));
        assert!(matches!(r, Err(JoinError::Panicked(m)) if m.contains("job boom")));
        assert_eq!(l.run_sync(run_in_executor(|| 5)), Ok(5));
    }
}
