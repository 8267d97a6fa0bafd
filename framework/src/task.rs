//! Futures on the loop thread: [`spawn`], [`JoinHandle`], [`sleep`].
//!
//! Tasks are `!Send` futures polled by their [`IOLoop`] between I/O turns. A task is polled once
//! when spawned and again each time its waker fires; wakers are `Send`, so a future completed on
//! another thread (see [`run_in_executor`](crate::executor::run_in_executor)) wakes the loop
//! through the same notifier as [`IOLoopHandle::add_callback`](crate::ioloop::IOLoopHandle).
//!
//! ### Panics
//!
//! A task that panics is logged and dropped; its [`JoinHandle`] resolves to
//! [`JoinError::Panicked`]. The loop carries on.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

pub(crate) use crate::ioloop::tasks::{poll_budget, spawn_on, CatchUnwind};
pub use crate::ioloop::tasks::{JoinError, JoinHandle};
use crate::ioloop::{IOLoop, Timeout};

/// Spawns `future` on the current thread's loop; see [`IOLoop::spawn`].
///
/// # Examples
///
/// ```
/// use squall::ioloop::IOLoop;
/// let io_loop = IOLoop::new().unwrap();
/// let out = io_loop.run_sync(async {
///     let h = squall::task::spawn(async { 6 * 7 });
///     h.await.unwrap()
/// });
/// assert_eq!(out, 42);
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn_on(&IOLoop::current(), future)
}

struct SleepState {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// A future that completes after a delay, on the loop's timers (without blocking the loop).
/// Created by [`sleep`] and [`sleep_until`].
pub struct Sleep {
    deadline: Instant,
    armed: Option<(IOLoop, Timeout, Rc<SleepState>)>,
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// Completes after `duration`, without blocking the loop (Tornado's `gen.sleep`).
///
/// # Examples
///
/// ```
/// use squall::ioloop::IOLoop;
/// use std::time::{Duration, Instant};
/// let t0 = Instant::now();
/// IOLoop::new().unwrap().run_sync(squall::task::sleep(Duration::from_millis(20)));
/// assert!(t0.elapsed() >= Duration::from_millis(20));
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Completes at `deadline`, without blocking the loop.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        armed: None,
    }
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some((_, _, st)) = &self.armed {
            if st.fired.get() {
                return Poll::Ready(());
            }
            *st.waker.borrow_mut() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let st = Rc::new(SleepState {
            fired: Cell::new(false),
            waker: RefCell::new(Some(cx.waker().clone())),
        });
        let st2 = st.clone();
        let io_loop = IOLoop::current();
        let t = io_loop.call_at(self.deadline, move || {
            st2.fired.set(true);
            if let Some(w) = st2.waker.borrow_mut().take() {
                w.wake();
            }
        });
        self.armed = Some((io_loop, t, st));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((l, t, st)) = self.armed.take() {
            if !st.fired.get() {
                l.remove_timeout(t);
            }
        }
    }
}

/// Runs `future` with a time limit: `Err(TimedOut)` if it has not completed by then (the future
/// is dropped). Tornado's `gen.with_timeout`.
///
/// # Examples
///
/// ```
/// use squall::ioloop::IOLoop;
/// use squall::task::{sleep, with_timeout};
/// use std::time::Duration;
/// let r = IOLoop::new().unwrap().run_sync(with_timeout(
///     Duration::from_millis(10),
///     sleep(Duration::from_secs(10)),
/// ));
/// assert!(r.is_err());
/// ```
pub async fn with_timeout<F: Future>(limit: Duration, future: F) -> Result<F::Output, TimedOut> {
    let mut future = std::pin::pin!(future);
    let mut timer = std::pin::pin!(sleep(limit));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(TimedOut)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// A [`with_timeout`] limit expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("operation timed out")
    }
}

impl std::error::Error for TimedOut {}

/// Lets other tasks and I/O run, then resumes (one loop turn).
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_join_and_abort() {
        let l = IOLoop::new().unwrap();
        let out = l.run_sync(async {
            let a = spawn(async {
                sleep(Duration::from_millis(5)).await;
                1
            });
            let b = spawn(async {
                sleep(Duration::from_secs(30)).await;
                2
            });
            b.abort();
            let c = spawn(async { panic!("task boom (expected by this test)") });
            (a.await, b.await, c.await.map(|_: ()| ()))
        });
        assert_eq!(out.0, Ok(1));
        assert_eq!(out.1, Err(JoinError::Cancelled));
        assert!(matches!(out.2, Err(JoinError::Panicked(m)) if m.contains("task boom")));
        assert_eq!(l.inner.tasks.len(), 0, "every task slot released");
    }

    #[test]
    fn many_sleepers_finish_concurrently() {
        let l = IOLoop::new().unwrap();
        let t0 = Instant::now();
        let n = l.run_sync(async {
            let hs: Vec<_> = (0..50)
                .map(|i| {
                    spawn(async move {
                        sleep(Duration::from_millis(50)).await;
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for h in hs {
                sum += h.await.unwrap();
            }
            sum
        });
        assert_eq!(n, (0..50).sum::<i32>());
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "sleeps ran one after another"
        );
    }

    #[test]
    fn with_timeout_expires_and_passes() {
        let l = IOLoop::new().unwrap();
        let r = l.run_sync(with_timeout(
            Duration::from_millis(5),
            sleep(Duration::from_secs(30)),
        ));
        assert_eq!(r, Err(TimedOut));
        let r = l.run_sync(with_timeout(Duration::from_secs(30), async { 3 }));
        assert_eq!(r, Ok(3));
        // The cancelled 30 s timer must not keep the loop busy or leak.
        assert_eq!(l.inner.tasks.len(), 0);
    }
}
