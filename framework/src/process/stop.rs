//! [`add_stop_signal_handler`]: `SIGTERM`/`SIGINT` delivered to a loop as ordinary callbacks.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

use super::signals::{self, WakePipe};
use crate::ioloop::{Events, IOLoop};

/// A registration made by [`add_stop_signal_handler`]. Dropping it (on its loop's thread)
/// unregisters the callback; when the last registration of the process is dropped, the
/// dispositions `SIGTERM` and `SIGINT` had before the first one are put back.
pub struct StopSignalHandler {
    io_loop: IOLoop,
    /// `None` only while dropping.
    pipe: Option<WakePipe>,
    alive: Rc<Cell<bool>>,
}

impl fmt::Debug for StopSignalHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopSignalHandler")
            .field("fd", &self.pipe.as_ref().map(|p| p.read.as_raw_fd()))
            .finish()
    }
}

/// Calls `callback` on `io_loop`'s thread, as an ordinary loop callback, each time the process
/// receives `SIGTERM` or `SIGINT`; its argument is the signal's number. Like asyncio's
/// `loop.add_signal_handler`.
///
/// While at least one registration exists, `SIGTERM` and `SIGINT` no longer terminate the
/// process: they are handled by a process-wide handler that writes the signal's number to one
/// close-on-exec self-pipe per registration (async-signal-safe), and each loop reads its pipe.
/// Every registration hears every signal, whichever thread the kernel delivered it to, so
/// several loops in one process (threaded servers) all hear it. Signals that arrive in one
/// burst are reported once each.
///
/// Register after [`fork_processes`](super::fork_processes): a child restores the parent's
/// dispositions when it starts.
///
/// # Examples
///
/// ```no_run
/// use squall::ioloop::IOLoop;
///
/// let io_loop = IOLoop::current();
/// let l = io_loop.clone();
/// let _guard = squall::process::add_stop_signal_handler(&io_loop, move |sig| {
///     eprintln!("signal {sig}: stopping");
///     l.stop();
/// })?;
/// io_loop.start();
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// Creating the pipe, installing the handler (`sigaction`), or registering the pipe on the
/// loop failed; more than 256 registrations at once is an error too.
pub fn add_stop_signal_handler<F>(
    io_loop: &IOLoop,
    mut callback: F,
) -> io::Result<StopSignalHandler>
where
    F: FnMut(i32) + 'static,
{
    let pipe = WakePipe::for_stop_signals()?;
    signals::acquire_stop_handlers()?;
    let alive = Rc::new(Cell::new(true));
    let still = alive.clone();
    let on_readable = move |fd: RawFd, _: Events| {
        // Every byte is one delivery; report each signal once per wake-up.
        let mut seen = 0u64;
        let mut order = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: reading into a live stack buffer of its own length.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            for &b in &buf[..n as usize] {
                let bit = 1u64 << (b % 64);
                if seen & bit == 0 {
                    seen |= bit;
                    order.push(i32::from(b));
                }
            }
        }
        for sig in order {
            // The callback may have dropped the registration.
            if !still.get() {
                return;
            }
            callback(sig);
        }
    };
    // SAFETY: the pipe goes into the returned StopSignalHandler, whose Drop removes this
    // handler before the pipe closes; on error the pipe is dropped unregistered.
    let added = unsafe { io_loop.add_handler(pipe.read.as_raw_fd(), Events::READ, on_readable) };
    if let Err(e) = added {
        signals::release_stop_handlers();
        return Err(e);
    }
    Ok(StopSignalHandler {
        io_loop: io_loop.clone(),
        pipe: Some(pipe),
        alive,
    })
}

impl Drop for StopSignalHandler {
    fn drop(&mut self) {
        self.alive.set(false);
        if let Some(pipe) = self.pipe.take() {
            // Off the loop before the fd can be closed (the pipe closes after the handler can
            // no longer write to it: see WakePipe's drop).
            self.io_loop.remove_handler(pipe.read.as_raw_fd());
            signals::release_stop_handlers();
            drop(pipe);
        }
    }
}
