//! [`Registration`]: an I/O object watched by a loop for exactly as long as this value owns it.
//!
//! It owns the object, so the fd cannot be closed while the loop still watches it (the reason
//! [`IOLoop::add_handler`] on a raw fd is `unsafe`): dropping it removes the handler first and
//! closes the object after, as async-io's `Async<T>` does.

use std::io;
use std::os::fd::{AsFd, RawFd};

use super::{Events, IOLoop};

/// An I/O object registered with an [`IOLoop`] by [`IOLoop::register`]: the loop calls its
/// handler while this value lives; dropping it deregisters, then drops the object.
pub struct Registration<T: AsFd> {
    /// `Some` until [`into_inner`](Registration::into_inner) takes it out.
    pub(super) io: Option<T>,
    pub(super) io_loop: IOLoop,
    pub(super) fd: RawFd,
}

impl<T: AsFd> Registration<T> {
    /// The registered object (to read from or write to it in the handler's response).
    pub fn get_ref(&self) -> &T {
        self.io
            .as_ref()
            .expect("a Registration holds its object until into_inner")
    }

    /// The registered file descriptor (the first argument the handler receives).
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Changes the interest (`READ`, `WRITE`, both or `NONE`); a no-op if it is unchanged.
    ///
    /// # Errors
    ///
    /// The poller's error.
    pub fn set_events(&self, events: Events) -> io::Result<()> {
        self.io_loop.update_handler(self.fd, events)
    }

    /// Deregisters and gives the object back, still open.
    pub fn into_inner(mut self) -> T {
        self.io_loop.remove_handler(self.fd);
        self.io
            .take()
            .expect("a Registration holds its object until into_inner")
    }
}

impl<T: AsFd> Drop for Registration<T> {
    fn drop(&mut self) {
        // Off the loop before the object (and its fd) is dropped.
        if self.io.is_some() {
            self.io_loop.remove_handler(self.fd);
        }
    }
}

impl<T: AsFd> std::fmt::Debug for Registration<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("fd", &self.fd)
            .finish()
    }
}
