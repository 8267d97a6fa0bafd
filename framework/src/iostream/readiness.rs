//! Readiness handling: draining the socket into the read buffer, flushing the write buffer,
//! and keeping the registered interest in step with both.

use std::io;
use std::rc::{Rc, Weak};

use super::{IOStream, Inner, Kind, READ_BUDGET, READ_CHUNK};
use crate::ioloop::{Events, Trigger};

impl IOStream {
    pub(super) fn handle_events(&self, events: Events) {
        if events.contains(Events::WRITE) || (events.intersects(Events::ERROR) && self.writing()) {
            let drained = self.write_to_fd();
            self.after_write(drained);
        }
        if events.contains(Events::READ) || events.intersects(Events::ERROR) {
            self.inner.state.borrow_mut().drained = false;
            self.read_event();
        }
        if events.intersects(Events::ERROR) && !self.closed() && !events.contains(Events::READ) {
            // Error without readable data (e.g. a failed connect): close with the socket's error.
            let err = crate::netutil::socket_error(self.fd());
            self.close_with(err);
        }
    }

    pub(super) fn read_event(&self) {
        let got = self.fill();
        let (reader, protocol) = {
            let mut st = self.inner.state.borrow_mut();
            (st.reader.take(), st.protocol.clone())
        };
        if let Some(w) = reader {
            w.wake();
        }
        if let Some(p) = protocol {
            if got || self.at_eof() {
                p.on_read(self);
            }
        }
    }

    /// Reads from the fd into the read buffer, up to the budget. Returns whether bytes arrived.
    pub(super) fn fill(&self) -> bool {
        #[cfg(feature = "tls")]
        if self.inner.tls_on.get() {
            return self.fill_tls();
        }
        let fd = self.fd();
        let level = self.inner.io_loop.trigger() == Trigger::Level;
        let mut total = 0usize;
        let mut outcome: Option<Result<(), io::Error>> = None; // Some(Ok) = EOF
        {
            let mut st = self.inner.state.borrow_mut();
            if st.closed || st.eof {
                return false;
            }
            loop {
                let room = st.max_buffer_size.saturating_sub(st.read.len());
                if room == 0 {
                    break;
                }
                if st.read.data.capacity() == 0 {
                    st.read.data = self.inner.io_loop.take_buffer(READ_CHUNK);
                }
                st.read.reserve(READ_CHUNK.min(room).max(1));
                let len = st.read.data.len();
                let spare = (st.read.data.capacity() - len).min(room);
                // SAFETY: reading into the Vec's spare capacity, at most `spare` bytes; the
                // length is only extended by what the kernel wrote.
                let n = unsafe {
                    libc::read(
                        fd,
                        st.read.data.as_mut_ptr().add(len) as *mut libc::c_void,
                        spare,
                    )
                };
                if n > 0 {
                    let n = n as usize;
                    // SAFETY: the kernel initialised `n` bytes after `len`.
                    unsafe { st.read.data.set_len(len + n) };
                    total += n;
                    if n < spare && level {
                        st.drained = true;
                        break;
                    }
                    if total >= READ_BUDGET {
                        break;
                    }
                } else if n == 0 {
                    st.eof = true;
                    outcome = Some(Ok(()));
                    break;
                } else {
                    let e = io::Error::last_os_error();
                    match e.kind() {
                        io::ErrorKind::Interrupted => continue,
                        io::ErrorKind::WouldBlock => {
                            st.drained = true;
                            break;
                        }
                        _ => {
                            outcome = Some(Err(e));
                            break;
                        }
                    }
                }
            }
            if st.read.len() == 0 && st.read.data.capacity() > 0 {
                let buf = std::mem::take(&mut st.read.data);
                st.read.start = 0;
                self.inner.io_loop.give_buffer(buf);
            }
        }
        if self.close_on_fill_outcome(outcome) {
            return total > 0;
        }
        self.after_fill(total);
        total > 0
    }

    /// How a fill ends, plain or TLS (`outcome`: `Some(Ok)` end of input, `Some(Err)` a read
    /// error): an error closes the stream; end of input closes it in futures mode (no
    /// protocol: a peer's close ends the stream, buffered data stays readable), while a
    /// protocol learns of it in `after_fill`. Returns whether the stream was closed.
    #[inline]
    pub(super) fn close_on_fill_outcome(&self, outcome: Option<io::Result<()>>) -> bool {
        match outcome {
            Some(Err(e)) => {
                self.close_with(Some(e));
                true
            }
            Some(Ok(())) => {
                let has_protocol = self.inner.state.borrow().protocol.is_some();
                if !has_protocol {
                    self.close_with(None);
                }
                !has_protocol
            }
            None => false,
        }
    }

    pub(super) fn after_fill(&self, total: usize) {
        let requeue = {
            let st = self.inner.state.borrow();
            let hit_budget = total >= READ_BUDGET && !st.drained && !st.eof;
            hit_budget && self.inner.io_loop.trigger() == Trigger::Edge && !st.requeued
        };
        if requeue {
            // Edge mode: no new edge will come for the bytes we left; read them next turn.
            self.schedule_read();
        }
        self.update_interest();
    }

    /// Reads on the next loop turn, whether or not the fd reports readiness.
    pub(super) fn schedule_read(&self) {
        {
            let mut st = self.inner.state.borrow_mut();
            if st.requeued {
                return;
            }
            st.requeued = true;
        }
        let weak: Weak<Inner> = Rc::downgrade(&self.inner);
        self.inner.io_loop.add_callback(move || {
            if let Some(inner) = weak.upgrade() {
                let s = IOStream { inner };
                s.inner.state.borrow_mut().requeued = false;
                if !s.closed() {
                    s.read_event();
                }
            }
        });
    }

    /// Writes the write buffer to the fd until empty or EAGAIN. Returns whether it drained.
    pub(super) fn write_to_fd(&self) -> bool {
        #[cfg(feature = "tls")]
        if self.inner.tls_on.get() {
            return self.write_tls_to_fd();
        }
        let fd = self.fd();
        let kind = self.inner.kind;
        let mut err = None;
        let drained = {
            let mut st = self.inner.state.borrow_mut();
            if st.closed {
                return true;
            }
            loop {
                let pending = st.write.bytes();
                if pending.is_empty() {
                    break true;
                }
                // SAFETY: writing from a live slice of `pending.len()` bytes.
                let n = unsafe {
                    match kind {
                        Kind::Pipe => {
                            libc::write(fd, pending.as_ptr() as *const libc::c_void, pending.len())
                        }
                        _ => libc::send(
                            fd,
                            pending.as_ptr() as *const libc::c_void,
                            pending.len(),
                            libc::MSG_NOSIGNAL,
                        ),
                    }
                };
                if n >= 0 {
                    let n = n as usize;
                    st.write.consume(n);
                    st.flushed += n as u64;
                } else {
                    let e = io::Error::last_os_error();
                    match e.kind() {
                        io::ErrorKind::Interrupted => continue,
                        io::ErrorKind::WouldBlock => break false,
                        _ => {
                            err = Some(e);
                            break false;
                        }
                    }
                }
            }
        };
        if let Some(e) = err {
            self.close_with(Some(e));
            return true;
        }
        drained
    }

    pub(super) fn after_write(&self, drained: bool) {
        if self.closed() {
            return;
        }
        if drained {
            // One borrow; the protocol is only cloned when it will be told (on_drain: WRITE
            // interest was on, so output had been waiting).
            let (writers, protocol) = {
                let mut st = self.inner.state.borrow_mut();
                if st.write.data.capacity() > 0 {
                    let buf = std::mem::take(&mut st.write.data);
                    st.write.start = 0;
                    self.inner.io_loop.give_buffer(buf);
                }
                let had_interest = st.interest.contains(Events::WRITE);
                let protocol = if had_interest {
                    st.protocol.clone()
                } else {
                    None
                };
                (std::mem::take(&mut st.writers), protocol)
            };
            self.update_interest();
            for w in writers {
                w.wake();
            }
            if let Some(p) = protocol {
                p.on_drain(self);
            }
        } else {
            self.update_interest();
        }
    }
}
