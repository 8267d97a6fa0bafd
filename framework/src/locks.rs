//! Coordination between tasks on one loop (Tornado's `tornado.locks`): [`Condition`] and
//! [`Event`].
//!
//! These are for tasks of the *same* loop (they are `!Send`); they never block the thread. The
//! long-polling pattern of Tornado's chat demo is a handler awaiting [`Condition::wait`] until
//! another request calls [`Condition::notify_all`].

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Waiters {
    /// Generation: bumped by every notify_all; a waiter is done once it changes.
    generation: Cell<u64>,
    /// Per waiter id: its waker and whether it was notified individually.
    slots: RefCell<Vec<(u64, Option<Waker>, bool)>>,
    next_id: Cell<u64>,
}

/// A condition tasks wait on until another task notifies them.
///
/// # Examples
///
/// ```
/// use squall::ioloop::IOLoop;
/// use squall::locks::Condition;
///
/// let cond = Condition::new();
/// let c2 = cond.clone();
/// let got = IOLoop::new().unwrap().run_sync(async move {
///     let waiter = squall::task::spawn(async move { c2.wait().await; "woken" });
///     squall::task::yield_now().await;
///     cond.notify_all();
///     waiter.await.unwrap()
/// });
/// assert_eq!(got, "woken");
/// ```
#[derive(Clone, Default)]
pub struct Condition {
    inner: Rc<Waiters>,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("waiters", &self.waiters())
            .finish()
    }
}

impl Condition {
    /// A condition with no waiters.
    pub fn new() -> Condition {
        Condition::default()
    }

    /// Waits until [`notify_all`](Condition::notify_all) (or a [`notify`](Condition::notify)
    /// that picks this waiter). Dropping the future stops waiting.
    pub fn wait(&self) -> Wait {
        let id = self.inner.next_id.get();
        self.inner.next_id.set(id + 1);
        self.inner.slots.borrow_mut().push((id, None, false));
        Wait {
            inner: self.inner.clone(),
            id,
            generation: self.inner.generation.get(),
        }
    }

    /// Wakes every current waiter.
    pub fn notify_all(&self) {
        self.inner.generation.set(self.inner.generation.get() + 1);
        let wakers: Vec<Waker> = self
            .inner
            .slots
            .borrow_mut()
            .drain(..)
            .filter_map(|(_, w, _)| w)
            .collect();
        for w in wakers {
            w.wake();
        }
    }

    /// Wakes up to `n` waiters, oldest first.
    pub fn notify(&self, n: usize) {
        let mut wakers = Vec::new();
        {
            let mut slots = self.inner.slots.borrow_mut();
            for slot in slots.iter_mut().filter(|s| !s.2).take(n) {
                slot.2 = true;
                if let Some(w) = slot.1.take() {
                    wakers.push(w);
                }
            }
        }
        for w in wakers {
            w.wake();
        }
    }

    /// Number of tasks waiting.
    pub fn waiters(&self) -> usize {
        self.inner.slots.borrow().iter().filter(|s| !s.2).count()
    }
}

/// The future of [`Condition::wait`].
pub struct Wait {
    inner: Rc<Waiters>,
    id: u64,
    generation: u64,
}

impl fmt::Debug for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait").field("id", &self.id).finish()
    }
}

impl Future for Wait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.generation.get() != self.generation {
            return Poll::Ready(());
        }
        let mut slots = self.inner.slots.borrow_mut();
        match slots.iter_mut().find(|s| s.0 == self.id) {
            Some(slot) if slot.2 => {
                let id = self.id;
                slots.retain(|s| s.0 != id);
                Poll::Ready(())
            }
            Some(slot) => {
                slot.1 = Some(cx.waker().clone());
                Poll::Pending
            }
            None => Poll::Ready(()),
        }
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        let id = self.id;
        if let Ok(mut slots) = self.inner.slots.try_borrow_mut() {
            slots.retain(|s| s.0 != id);
        }
    }
}

/// A flag tasks can wait on: once [`set`](Event::set), waiting returns at once until
/// [`clear`](Event::clear)ed.
#[derive(Clone, Default)]
pub struct Event {
    set: Rc<Cell<bool>>,
    cond: Condition,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.set.get())
            .finish()
    }
}

impl Event {
    /// An unset event.
    pub fn new() -> Event {
        Event::default()
    }

    /// Whether it is set.
    pub fn is_set(&self) -> bool {
        self.set.get()
    }

    /// Sets it and wakes every waiter.
    pub fn set(&self) {
        self.set.set(true);
        self.cond.notify_all();
    }

    /// Unsets it.
    pub fn clear(&self) {
        self.set.set(false);
    }

    /// Waits until it is set.
    pub async fn wait(&self) {
        while !self.set.get() {
            self.cond.wait().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioloop::IOLoop;
    use crate::task::{spawn, yield_now};

    #[test]
    fn notify_n_and_all() {
        let l = IOLoop::new().unwrap();
        let woken = l.run_sync(async {
            let c = Condition::new();
            let done = Rc::new(Cell::new(0));
            let hs: Vec<_> = (0..5)
                .map(|_| {
                    let (c, d) = (c.clone(), done.clone());
                    spawn(async move {
                        c.wait().await;
                        d.set(d.get() + 1);
                    })
                })
                .collect();
            yield_now().await;
            assert_eq!(c.waiters(), 5);
            c.notify(2);
            yield_now().await;
            yield_now().await;
            let after_two = done.get();
            c.notify_all();
            for h in hs {
                h.await.unwrap();
            }
            (after_two, done.get(), c.waiters())
        });
        assert_eq!(woken, (2, 5, 0));
    }

    #[test]
    fn dropped_waiter_is_forgotten_and_event_latches() {
        let l = IOLoop::new().unwrap();
        l.run_sync(async {
            let c = Condition::new();
            drop(c.wait());
            assert_eq!(c.waiters(), 0);
            let e = Event::new();
            let e2 = e.clone();
            let h = spawn(async move { e2.wait().await });
            yield_now().await;
            e.set();
            h.await.unwrap();
            e.wait().await; // already set: returns at once
            e.clear();
            assert!(!e.is_set());
        });
    }
}
