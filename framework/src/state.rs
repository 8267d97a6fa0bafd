//! [`Shared`]: mutable state shared by the handlers of one loop, reached through a closure so
//! that no borrow of it can be held across an `.await`.
//!
//! ### Why a closure
//!
//! Every handler of an application runs on its loop's thread, so state they share needs no
//! lock: an `Rc<RefCell<T>>` would do, except that a `RefCell` borrow kept alive across an
//! `.await` compiles, and the next request that touches the state while the first one waits
//! panics (a 500). [`Shared::with`] lends `&mut T` to a synchronous closure only: the borrow
//! ends when the closure returns, before any `.await` can happen, and the type checker
//! refuses a closure that tries to return the reference or a future holding it.
//!
//! ### Processes and threads
//!
//! A `Shared` is not `Send`: it stays on the thread that made it, which the compiler enforces.
//! Each loop therefore has its own: with `start_threads(n, make_app)` every thread builds its
//! own application (and its own state) with `make_app`, and with pre-forked workers
//! (`start(n, ..)`) every process has its own copy, which diverges from the others from the
//! fork on. State that all workers must agree on (sessions, counters, rate limits over the
//! whole site) belongs outside the process: a database, Redis, or a signed cookie.
//!
//! ### Invariants
//!
//! - At most one `with` of a given value runs at a time; calling `with` on a value from inside
//!   a `with` of the same value panics with a message saying so (a handler's panic is a 500).
//! - A panic inside the closure leaves the value as the closure left it (no poisoning).

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

/// State shared by every handler of a loop (clone it into each handler: clones share one
/// value), changed through [`with`](Shared::with).
///
/// # Examples
///
/// ```
/// use squall::prelude::*;
/// use squall::state::Shared;
///
/// #[derive(Default)]
/// struct Stats {
///     hits: u64,
/// }
///
/// #[derive(Clone)]
/// struct Counter {
///     stats: Shared<Stats>,
/// }
///
/// #[handler]
/// impl Counter {
///     async fn get(&mut self, cx: &mut Context) -> Result<()> {
///         // The borrow lives inside the closure only...
///         let hits = self.stats.with(|s| {
///             s.hits += 1;
///             s.hits
///         });
///         // ...so awaiting here cannot hold it.
///         squall::task::sleep(std::time::Duration::from_millis(1)).await;
///         cx.write(format!("hit {hits}"));
///         Ok(())
///     }
/// }
///
/// let stats = Shared::new(Stats::default());
/// let app = Application::new(routes![(r"/", Counter { stats: stats.clone() })]);
/// assert_eq!(stats.with(|s| s.hits), 0);
/// # let _ = app;
/// ```
pub struct Shared<T> {
    cell: Rc<RefCell<T>>,
}

impl<T> Shared<T> {
    /// Shares `value`.
    pub fn new(value: T) -> Shared<T> {
        Shared {
            cell: Rc::new(RefCell::new(value)),
        }
    }

    /// Runs `f` with the value, mutably, and returns what `f` returns. `f` is synchronous:
    /// do the awaiting outside, with the values you took out.
    ///
    /// # Panics
    ///
    /// If called from inside another `with` of the same value (directly or through a clone).
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut value = self.cell.try_borrow_mut().unwrap_or_else(|_| {
            panic!(
                "Shared::<{}>::with called inside another with() of the same value",
                std::any::type_name::<T>()
            )
        });
        f(&mut value)
    }

    /// A copy of the value.
    ///
    /// # Panics
    ///
    /// As [`with`](Shared::with).
    pub fn get(&self) -> T
    where
        T: Clone,
    {
        self.with(|v| v.clone())
    }

    /// Replaces the value, returning the old one.
    ///
    /// # Panics
    ///
    /// As [`with`](Shared::with).
    pub fn replace(&self, value: T) -> T {
        self.with(|v| std::mem::replace(v, value))
    }

    /// Whether `self` and `other` share one value.
    pub fn ptr_eq(&self, other: &Shared<T>) -> bool {
        Rc::ptr_eq(&self.cell, &other.cell)
    }
}

impl<T> Clone for Shared<T> {
    /// Another handle on the same value.
    fn clone(&self) -> Shared<T> {
        Shared {
            cell: self.cell.clone(),
        }
    }
}

impl<T: Default> Default for Shared<T> {
    fn default() -> Shared<T> {
        Shared::new(T::default())
    }
}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cell.try_borrow() {
            Ok(v) => f.debug_tuple("Shared").field(&*v).finish(),
            Err(_) => f.write_str("Shared(<in use>)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Shared;

    #[test]
    fn clones_share_one_value() {
        let a = Shared::new(vec![1]);
        let b = a.clone();
        b.with(|v| v.push(2));
        assert_eq!(a.get(), [1, 2]);
        assert!(a.ptr_eq(&b));
        assert!(!a.ptr_eq(&Shared::new(vec![])));
        assert_eq!(a.replace(vec![]), [1, 2]);
        assert_eq!(format!("{b:?}"), "Shared([])");
    }

    #[test]
    fn reentrant_with_panics_with_a_message() {
        let a = Shared::new(0);
        let b = a.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            a.with(|_| b.with(|v| *v += 1));
        }));
        let p = r.unwrap_err();
        let msg = p.downcast_ref::<String>().unwrap();
        assert!(msg.contains("inside another with()"), "{msg}");
        // Not poisoned: usable after the panic.
        assert_eq!(a.with(|v| *v), 0);
        a.with(|v| *v = 5);
        assert_eq!(b.get(), 5);
    }
}
