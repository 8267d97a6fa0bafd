//! File-descriptor handlers: the slot each registered fd has (indexed by the fd number), and
//! the work behind [`IOLoop::add_handler`], [`IOLoop::update_handler`] and
//! [`IOLoop::remove_handler`] (keeping the slots and the poller in step) and behind each event
//! the loop collects ([`dispatch`](IOLoop::dispatch)).
//!
//! Each registration's poller key carries its slot's generation (see "Stale events" in the
//! `ioloop` module docs): removing a handler bumps it, so an event collected for an earlier
//! registration of the same number is dropped in `dispatch`, never delivered to the new one.
//! A handler runs with its callback taken out of the slot (no borrow held, so it may register
//! or remove handlers) and is put back unless it was removed meanwhile.
//!
//! The public methods themselves, with their docs, stay in `mod.rs` and call these: rustc
//! names an inherent method by the module of its `impl` block when that is not the type's
//! own, so defined here they would read `ioloop::fd_handlers::<impl IOLoop>::add_handler` in
//! users' error messages (pinned by `framework-macros/tests/ui/fail/raw_fd_handler_is_unsafe`).

use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};

use polling::Event;

use super::{wait, Events, IOLoop};

type FdCallback = Box<dyn FnMut(RawFd, Events)>;

/// One registered fd. Slots are indexed by the fd itself (fds are small, dense integers).
#[derive(Default)]
pub(super) struct FdSlot {
    gen: u32,
    pub(super) registered: bool,
    pub(super) interest: Events,
    callback: Option<FdCallback>,
}

/// The poller key of `fd`'s registration number `gen`: the generation in the high half.
pub(super) fn key_of(fd: RawFd, gen: u32) -> usize {
    ((gen as usize) << 32) | (fd as u32 as usize)
}

impl IOLoop {
    /// [`add_handler`](IOLoop::add_handler)'s work: a slot for `fd` (the table grows to
    /// reach it), registered with the poller under the slot's current generation.
    ///
    /// # Safety
    ///
    /// As for `add_handler`: `fd` stays open until its handler is removed.
    pub(super) unsafe fn add_slot<F>(
        &self,
        fd: RawFd,
        events: Events,
        callback: F,
    ) -> io::Result<()>
    where
        F: FnMut(RawFd, Events) + 'static,
    {
        if fd < 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "negative fd"));
        }
        let mut fds = self.inner.fds.borrow_mut();
        let idx = fd as usize;
        if fds.len() <= idx {
            fds.resize_with(idx + 1, FdSlot::default);
        }
        let slot = &mut fds[idx];
        if slot.registered {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("fd {fd} already has a handler"),
            ));
        }
        let ev = poll_event(key_of(fd, slot.gen), events);
        // SAFETY: the caller promises to remove the handler before closing the fd (this
        // function's contract); `remove_handler` deletes it from the poller.
        unsafe {
            self.inner
                .shared
                .poller
                .add_with_mode(fd, ev, self.inner.trigger.mode())?
        };
        slot.registered = true;
        slot.interest = events;
        slot.callback = Some(Box::new(callback));
        Ok(())
    }

    /// [`update_handler`](IOLoop::update_handler)'s work: the poller is told only of a real
    /// change.
    pub(super) fn update_slot(&self, fd: RawFd, events: Events) -> io::Result<()> {
        let mut fds = self.inner.fds.borrow_mut();
        let slot = match fds.get_mut(fd.max(0) as usize) {
            Some(s) if s.registered && fd >= 0 => s,
            _ => return Err(io::Error::new(io::ErrorKind::NotFound, "fd has no handler")),
        };
        let events = events.without(Events::ERROR);
        if slot.interest == events {
            return Ok(());
        }
        let ev = poll_event(key_of(fd, slot.gen), events);
        // SAFETY: the fd is registered, hence open (see add_handler).
        let bfd = unsafe { BorrowedFd::borrow_raw(fd) };
        self.inner
            .shared
            .poller
            .modify_with_mode(bfd, ev, self.inner.trigger.mode())?;
        slot.interest = events;
        Ok(())
    }

    /// [`remove_handler`](IOLoop::remove_handler)'s work: off the poller, the slot's
    /// generation bumped, the callback dropped outside the table's borrow.
    pub(super) fn remove_slot(&self, fd: RawFd) -> bool {
        let mut fds = self.inner.fds.borrow_mut();
        let slot = match fds.get_mut(fd.max(0) as usize) {
            Some(s) if s.registered && fd >= 0 => s,
            _ => return false,
        };
        // SAFETY: the fd is still open: the caller removes before closing.
        let bfd = unsafe { BorrowedFd::borrow_raw(fd) };
        let _ = self.inner.shared.poller.delete(bfd);
        slot.registered = false;
        slot.interest = Events::NONE;
        slot.gen = slot.gen.wrapping_add(1);
        let cb = slot.callback.take();
        drop(fds);
        // Dropped outside the borrow: the closure may own things whose Drop touches the loop.
        drop(cb);
        true
    }

    /// Runs the handler of the fd that `ev` reports ready, unless the event is stale or
    /// fired nothing the handler asked for.
    pub(super) fn dispatch(&self, ev: &wait::Ready) {
        let fd = (ev.key & 0xffff_ffff) as RawFd;
        let gen = (ev.key >> 32) as u32;
        let (mut cb, fired) = {
            let mut fds = self.inner.fds.borrow_mut();
            let slot = match fds.get_mut(fd as usize) {
                Some(s) if s.registered && s.gen == gen => s,
                _ => return, // stale: removed (and maybe reused) since the event was collected
            };
            let mut fired = Events::NONE;
            if ev.readable && slot.interest.contains(Events::READ) {
                fired |= Events::READ;
            }
            if ev.writable && slot.interest.contains(Events::WRITE) {
                fired |= Events::WRITE;
            }
            if ev.error {
                fired |= Events::ERROR;
            }
            if fired.is_empty() {
                return;
            }
            match slot.callback.take() {
                Some(cb) => (cb, fired),
                None => return, // re-entrant event for a handler that is running
            }
        };
        if catch_unwind(AssertUnwindSafe(|| cb(fd, fired))).is_err() {
            log::error!("squall: handler for fd {fd} panicked; handler kept");
        }
        let mut fds = self.inner.fds.borrow_mut();
        if let Some(slot) = fds.get_mut(fd as usize) {
            if slot.registered && slot.gen == gen && slot.callback.is_none() {
                slot.callback = Some(cb);
                return;
            }
        }
        drop(fds);
        drop(cb);
    }
}

fn poll_event(key: usize, events: Events) -> Event {
    match (
        events.contains(Events::READ),
        events.contains(Events::WRITE),
    ) {
        (true, true) => Event::all(key),
        (true, false) => Event::readable(key),
        (false, true) => Event::writable(key),
        (false, false) => Event::none(key),
    }
}
