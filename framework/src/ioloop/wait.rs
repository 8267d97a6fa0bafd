//! The loop's wait for readiness: one `epoll_wait` per turn on Linux.
//!
//! This module owns the loop's one dependency on `polling`'s internals, and nothing else in
//! the crate touches them.
//!
//! `polling` owns the epoll instance, every registration and the cross-thread notifier. Its
//! `Poller::wait` also re-arms a timerfd before every wait and clears and re-arms its notifier
//! after it: four syscalls per turn besides the wait itself (`timerfd_settime`, two
//! `epoll_ctl`, a `read` of the eventfd), on every turn, whether a timeout or a notification is
//! involved or not.
//!
//! On Linux the loop therefore waits with `epoll_wait` on the poller's own epoll fd, with the
//! timeout in milliseconds (rounded up: a timer never wakes the loop early to spin). Readiness
//! is decoded exactly as `polling` decodes it. Only when the notifier fired (its events carry
//! `polling`'s reserved key, `usize::MAX`, which no fd key can equal) does the loop call
//! `Poller::wait` with a zero timeout, which clears and re-arms the notifier and resets the
//! poller's "notified" flag (without that, later `notify` calls would not wake it). Events
//! that second wait reports for fds already in the batch are dropped (level-triggered fds are
//! reported by both), so a handler runs at most once per turn. The timerfd is never armed (a
//! zero timeout disarms it), so it never fires. Elsewhere the loop uses `Poller::wait` as it
//! is.
//!
//! ### Why, and what keeps it honest
//!
//! The alternative, `Poller::wait` alone (polling's public API), was measured against this at
//! one commit (`bench/syscalls.sh`: perf tracepoints at full speed; `bench/callgrind.sh`):
//!
//! | keep-alive, `/plaintext` | syscalls/request | Ir/request |
//! |---|---:|---:|
//! | 1 connection, Application: `Poller::wait` | 7.0 | 3,434 |
//! | 1 connection, Application: this module | 3.0 | 3,178 |
//! | 1 connection, raw HTTP: `Poller::wait` / this module | 7.0 / 3.0 | 2,664 / 2,406 |
//! | 50 connections, Application: `Poller::wait` / this module | 2.35 / 2.39 | 2,761 / 2,728 |
//!
//! When each turn serves one request (light load, which is most of a server's life) the public
//! API more than doubles the system calls per request and adds ~250 instructions; under
//! saturation turns grow to batch more requests and hide part of the cost, and pipelined
//! batches hide it all (1,916 / 1,914 Ir/req). So the fast wait stays, and the price is paid
//! where it can be checked: `polling` is pinned exactly (`=3.11.0` in the workspace
//! `Cargo.toml`), so `cargo update` cannot swap its internals underneath, and the tests at the
//! end of this file (`polling_contract`) fail if the pinned internals ever differ from what
//! this module assumes: the notifier's key on the poller's own epoll fd, a notify from another
//! thread waking a waiter blocked in `epoll_wait` again and again (the notifier re-armed and
//! the flag reset every time), timeouts kept with the timerfd quiet, and a new registration
//! reported once in the same turn as a notification. Raising the pin means reading the new
//! `polling`'s `epoll.rs` and running those tests.

use std::io;
use std::time::Duration;

use polling::Poller;

/// One ready fd, as the loop dispatches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Ready {
    /// The registration key (fd and generation).
    pub(super) key: usize,
    pub(super) readable: bool,
    pub(super) writable: bool,
    /// Hang-up or error reported by the kernel.
    pub(super) error: bool,
}

impl Ready {
    fn from_polling(ev: &polling::Event) -> Ready {
        Ready {
            key: ev.key,
            readable: ev.readable,
            writable: ev.writable,
            error: ev.is_interrupt() || ev.is_err() == Some(true),
        }
    }
}

/// `polling`'s key for its notifier and timer (never a registration key of ours: those hold a
/// fd, which is below `i32::MAX`, in their low half).
#[cfg(target_os = "linux")]
const NOTIFY_KEY: u64 = u64::MAX;

/// Most events taken per turn.
const CAPACITY: usize = 1024;

/// The loop's event buffers, reused every turn.
pub(super) struct Waiter {
    events: polling::Events,
    ready: Vec<Ready>,
    seen: Vec<usize>,
    #[cfg(target_os = "linux")]
    raw: Vec<libc::epoll_event>,
}

impl Waiter {
    pub(super) fn new() -> Waiter {
        Waiter {
            events: polling::Events::with_capacity(
                std::num::NonZeroUsize::new(CAPACITY).expect("non-zero"),
            ),
            ready: Vec::with_capacity(CAPACITY),
            seen: Vec::new(),
            #[cfg(target_os = "linux")]
            raw: Vec::with_capacity(CAPACITY),
        }
    }

    /// Waits up to `timeout` (`None`: until something happens) and returns what is ready. An
    /// interrupted wait (a signal) returns no events.
    pub(super) fn wait(
        &mut self,
        poller: &Poller,
        timeout: Option<Duration>,
    ) -> io::Result<&[Ready]> {
        self.ready.clear();
        #[cfg(target_os = "linux")]
        {
            if self.wait_epoll(poller, timeout)? {
                self.wait_polling(poller, Some(Duration::ZERO))?;
            }
        }
        #[cfg(not(target_os = "linux"))]
        self.wait_polling(poller, timeout)?;
        Ok(&self.ready)
    }

    /// `Poller::wait`, adding the events for fds not already in the batch.
    fn wait_polling(&mut self, poller: &Poller, timeout: Option<Duration>) -> io::Result<()> {
        self.events.clear();
        match poller.wait(&mut self.events, timeout) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        // Keys already in the batch, sorted for a binary search (a notification turn is rare,
        // but its batch may be large).
        self.seen.clear();
        self.seen.extend(self.ready.iter().map(|r| r.key));
        self.seen.sort_unstable();
        for ev in self.events.iter() {
            if self.seen.binary_search(&ev.key).is_err() {
                self.ready.push(Ready::from_polling(&ev));
            }
        }
        Ok(())
    }

    /// One `epoll_wait` on the poller's epoll fd. Returns whether the notifier fired.
    #[cfg(target_os = "linux")]
    fn wait_epoll(&mut self, poller: &Poller, timeout: Option<Duration>) -> io::Result<bool> {
        use std::os::fd::AsRawFd;

        let ms = match timeout {
            None => -1,
            Some(t) => {
                // Rounded up, so a timer due in 0.3 ms does not make a zero-timeout spin.
                let ms = t.as_nanos().div_ceil(1_000_000);
                ms.min(i32::MAX as u128) as i32
            }
        };
        self.raw.clear();
        // SAFETY: the buffer holds `CAPACITY` uninitialised `epoll_event`s, epoll_wait writes
        // at most `maxevents` of them and returns how many; the length is set to that count
        // only. The fd is the poller's epoll instance, alive for the borrow of `poller`.
        let n = unsafe {
            libc::epoll_wait(
                poller.as_raw_fd(),
                self.raw.as_mut_ptr(),
                CAPACITY as i32,
                ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::Interrupted => Ok(false),
                _ => Err(e),
            };
        }
        // SAFETY: see above: `n` entries (n <= CAPACITY) were written by the kernel.
        unsafe { self.raw.set_len(n as usize) };
        let mut notified = false;
        for ev in &self.raw {
            // (`epoll_event` is packed on x86_64: copy the fields out.)
            let (data, flags) = (ev.u64, ev.events as i32);
            if data == NOTIFY_KEY {
                notified = true;
                continue;
            }
            // The same sets as polling's: readable on IN/PRI/HUP/ERR, writable on OUT/HUP/ERR.
            let hup_err = flags & (libc::EPOLLHUP | libc::EPOLLERR) != 0;
            self.ready.push(Ready {
                key: data as usize,
                readable: hup_err || flags & (libc::EPOLLIN | libc::EPOLLPRI) != 0,
                writable: hup_err || flags & libc::EPOLLOUT != 0,
                error: hup_err,
            });
        }
        Ok(notified)
    }
}

/// The contract with `polling` 3.11.0's internals that the fast path relies on (see the module
/// doc): each test fails if a release of `polling` changes one of them.
#[cfg(all(test, target_os = "linux"))]
mod polling_contract {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::sync::{mpsc, Arc};
    use std::time::Instant;

    use polling::{Event, PollMode};

    /// Generous bound for a wake-up that should be immediate, on a loaded machine.
    const WAKE_BOUND: Duration = Duration::from_secs(9);

    #[test]
    fn the_notifier_reports_the_reserved_key_on_the_pollers_epoll_fd() {
        let poller = Poller::new().unwrap();
        poller.notify().unwrap();
        let mut raw: [libc::epoll_event; 8] = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // SAFETY: `raw` holds 8 events and epoll_wait writes at most 8; the fd is the poller's,
        // alive for this borrow.
        let n = unsafe { libc::epoll_wait(poller.as_raw_fd(), raw.as_mut_ptr(), 8, 5_000) };
        assert_eq!(
            n, 1,
            "the notifier is the one fd ready on the poller's epoll fd"
        );
        let data = raw[0].u64;
        assert_eq!(data, NOTIFY_KEY, "polling's notifier key changed");
        assert_eq!(usize::MAX as u64, NOTIFY_KEY);
        // The Waiter consumes it as a notification: no event for the loop.
        let mut waiter = Waiter::new();
        poller.notify().unwrap();
        let ready = waiter.wait(&poller, Some(Duration::from_secs(5))).unwrap();
        assert!(ready.is_empty(), "{ready:?}");
    }

    #[test]
    fn notify_from_another_thread_wakes_a_waiter_blocked_in_epoll_wait() {
        let poller = Arc::new(Poller::new().unwrap());
        let (go, started) = mpsc::channel::<u32>();
        let (done, finished) = mpsc::channel::<()>();
        let p2 = poller.clone();
        let notifier = std::thread::spawn(move || {
            while let Ok(round) = started.recv() {
                // Mostly notify while the waiter is (very likely) asleep in epoll_wait; some
                // rounds race it on purpose.
                if round % 4 != 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
                p2.notify().unwrap();
                if finished.recv_timeout(WAKE_BOUND * 2).is_err() {
                    return;
                }
            }
        });
        let mut waiter = Waiter::new();
        for round in 0..100u32 {
            go.send(round).unwrap();
            let t0 = Instant::now();
            // Each round needs the previous notification cleared and the notifier re-armed
            // (and polling's `notified` flag reset), or this wait sleeps its whole timeout.
            let ready = waiter.wait(&poller, Some(WAKE_BOUND * 2)).unwrap();
            let took = t0.elapsed();
            assert!(ready.is_empty(), "round {round}: {ready:?}");
            assert!(
                took < WAKE_BOUND,
                "round {round}: notify did not wake the wait ({took:?})"
            );
            done.send(()).unwrap();
        }
        drop(go);
        notifier.join().unwrap();
    }

    #[test]
    fn timeouts_are_kept_and_polling_s_timerfd_never_fires() {
        let poller = Poller::new().unwrap();
        let mut waiter = Waiter::new();
        for round in 0..3 {
            // A notification turn goes through `Poller::wait(0)`, which disarms the timerfd
            // and re-arms its interest: a later wait must not be woken by it.
            poller.notify().unwrap();
            assert!(waiter.wait(&poller, Some(WAKE_BOUND)).unwrap().is_empty());
            let t0 = Instant::now();
            let ready = waiter
                .wait(&poller, Some(Duration::from_millis(60)))
                .unwrap();
            let took = t0.elapsed();
            assert!(ready.is_empty(), "round {round}: {ready:?}");
            assert!(
                took >= Duration::from_millis(60),
                "round {round}: woken early ({took:?}) by something other than the timeout"
            );
        }
    }

    #[test]
    fn a_registration_and_a_notification_in_the_same_turn() {
        for mode in [PollMode::Level, PollMode::Edge] {
            let poller = Poller::new().unwrap();
            let mut waiter = Waiter::new();
            for round in 0..20usize {
                let (a, mut b) = UnixStream::pair().unwrap();
                a.set_nonblocking(true).unwrap();
                std::io::Write::write_all(&mut b, b"x").unwrap();
                let key = round + 1;
                // SAFETY: `a` outlives its registration (deleted below).
                unsafe {
                    poller
                        .add_with_mode(a.as_raw_fd(), Event::readable(key), mode)
                        .unwrap()
                };
                poller.notify().unwrap();
                let ready = waiter.wait(&poller, Some(WAKE_BOUND)).unwrap().to_vec();
                let expected = Ready {
                    key,
                    readable: true,
                    writable: false,
                    error: false,
                };
                assert_eq!(ready, vec![expected], "{mode:?} round {round}");
                // The notifier is armed again: the next notification wakes the next wait.
                poller.notify().unwrap();
                let t0 = Instant::now();
                let ready = waiter.wait(&poller, Some(WAKE_BOUND * 2)).unwrap().to_vec();
                assert!(t0.elapsed() < WAKE_BOUND, "{mode:?} round {round}");
                let again = match mode {
                    PollMode::Level => vec![expected],
                    _ => vec![],
                };
                assert_eq!(ready, again, "{mode:?} round {round}, second turn");
                poller.delete(&a).unwrap();
            }
        }
    }
}
