//! The loop's wait for readiness: one `epoll_wait` per turn on Linux.
//!
//! `polling` owns the epoll instance, every registration and the cross-thread notifier. Its
//! `Poller::wait` also re-arms a timerfd before every wait and clears and re-arms its notifier
//! after it: four syscalls per turn besides the wait itself, on every turn, whether a timeout
//! or a notification is involved or not. Under keep-alive load a turn serves only a few
//! requests, so those syscalls cost as much as a tenth of the server's CPU time.
//!
//! On Linux the loop therefore waits with `epoll_wait` on the poller's own epoll fd, with the
//! timeout in milliseconds (rounded up: a timer never wakes the loop early to spin). Readiness
//! is decoded exactly as `polling` decodes it. Only when the notifier fired (its events carry
//! `polling`'s reserved key, `usize::MAX`, which no fd key can equal) does the loop call
//! `Poller::wait` with a zero timeout, which clears and re-arms the notifier and resets the
//! poller's "notified" flag (without that, later `notify` calls would not wake it). Events
//! that second wait reports for fds already in the batch are dropped (level-triggered fds are
//! reported by both), so a handler runs at most once per turn. The timerfd is never armed (a
//! zero timeout disarms it), so it never fires.
//!
//! Elsewhere the loop uses `Poller::wait` as it is.

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
