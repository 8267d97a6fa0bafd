//! [`Subprocess`]: a child process whose pipes are [`IOStream`]s and whose exit is a future.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::pin::Pin;
use std::process::{Command, ExitStatus};
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use super::signals::{self, WakePipe};
use crate::ioloop::{Events, IOLoop};
use crate::iostream::IOStream;

/// How a wait ended: the status, or the `waitpid` errno (`ECHILD`: reaped by someone else).
type Outcome = Result<ExitStatus, i32>;

/// One watched pid's result, shared by its [`Subprocess`], its futures and the reaper.
struct ExitCell {
    outcome: Cell<Option<Outcome>>,
    wakers: RefCell<Vec<Waker>>,
}

impl ExitCell {
    fn finish(&self, outcome: Outcome) {
        self.outcome.set(Some(outcome));
        let wakers = std::mem::take(&mut *self.wakers.borrow_mut());
        for w in wakers {
            w.wake();
        }
    }
}

/// The per-loop reaper: a `SIGCHLD` self-pipe registered on the loop, and the pids started on
/// that loop that have not been reaped yet. The loop's fd handler owns it, so it lives exactly
/// as long as the loop.
struct Reaper {
    pipe: WakePipe,
    waiting: RefCell<Vec<(libc::pid_t, Rc<ExitCell>)>>,
}

thread_local! {
    /// This thread's reapers, by loop. `Weak`s keep the allocations (hence the addresses) alive,
    /// so a pointer comparison cannot mistake a new loop for a dropped one.
    static REAPERS: RefCell<Vec<(Weak<crate::ioloop::Inner>, Weak<Reaper>)>> =
        const { RefCell::new(Vec::new()) };
}

impl Reaper {
    /// The reaper of `io_loop`, created (with the process-wide `SIGCHLD` handler) on first use.
    fn for_loop(io_loop: &IOLoop) -> io::Result<Rc<Reaper>> {
        let found = REAPERS.with(|r| {
            let mut r = r.borrow_mut();
            r.retain(|(l, rp)| l.strong_count() > 0 && rp.strong_count() > 0);
            r.iter()
                .find(|(l, _)| std::ptr::eq(l.as_ptr(), Rc::as_ptr(&io_loop.inner)))
                .and_then(|(_, rp)| rp.upgrade())
        });
        if let Some(rp) = found {
            return Ok(rp);
        }
        signals::install_sigchld()?;
        let reaper = Rc::new(Reaper {
            pipe: WakePipe::new()?,
            waiting: RefCell::new(Vec::new()),
        });
        let owned = reaper.clone();
        // SAFETY: the closure owns a clone of the reaper, which owns the pipe: its read end
        // cannot close while the handler is registered.
        unsafe {
            io_loop.add_handler(reaper.pipe.read.as_raw_fd(), Events::READ, move |_, _| {
                owned.reap()
            })?
        };
        REAPERS.with(|r| {
            r.borrow_mut()
                .push((Rc::downgrade(&io_loop.inner), Rc::downgrade(&reaper)))
        });
        Ok(reaper)
    }

    fn watch(&self, pid: libc::pid_t) -> Rc<ExitCell> {
        let cell = Rc::new(ExitCell {
            outcome: Cell::new(None),
            wakers: RefCell::new(Vec::new()),
        });
        self.waiting.borrow_mut().push((pid, cell.clone()));
        cell
    }

    /// Runs on the loop after a `SIGCHLD`: one non-blocking `waitpid` per pid we own. Never
    /// `waitpid(-1)`: other code in the process may be waiting for its own children.
    fn reap(&self) {
        signals::drain(self.pipe.read.as_raw_fd());
        let mut done = Vec::new();
        self.waiting
            .borrow_mut()
            .retain(|(pid, cell)| match try_wait(*pid) {
                None => true,
                Some(outcome) => {
                    done.push((cell.clone(), outcome));
                    false
                }
            });
        // Woken outside the borrow: a woken task may spawn another subprocess.
        for (cell, outcome) in done {
            cell.finish(outcome);
        }
    }
}

/// `waitpid(pid, WNOHANG)`: `None` while the child runs.
pub(super) fn try_wait(pid: libc::pid_t) -> Option<Outcome> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into a live local.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            return Some(Ok(ExitStatus::from_raw(status)));
        }
        if rc == 0 {
            return None;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Some(Err(err.raw_os_error().unwrap_or(libc::ECHILD)));
        }
    }
}

/// A child process on the current loop, Tornado's `tornado.process.Subprocess`.
///
/// The child is started with [`std::process::Command`] (configure program, arguments,
/// environment and working directory there). Each of its stdin, stdout and stderr that the
/// command sets to [`Stdio::piped()`](std::process::Stdio::piped) becomes an [`IOStream`] on the
/// loop (Tornado's `Subprocess.STREAM`); [`Stdio::inherit()`](std::process::Stdio::inherit) (the
/// default) and [`Stdio::null()`](std::process::Stdio::null) work as usual.
///
/// Dropping a `Subprocess` neither kills nor waits for the child, as with
/// [`std::process::Child`]; the loop still reaps it when it exits, so it never lingers as a
/// zombie while the loop lives.
///
/// # Examples
///
/// ```
/// use std::process::{Command, Stdio};
/// use squall::ioloop::IOLoop;
/// use squall::process::Subprocess;
///
/// let out = IOLoop::new().unwrap().run_sync(async {
///     let p = Subprocess::spawn(Command::new("echo").arg("hello").stdout(Stdio::piped()))?;
///     let out = p.stdout.as_ref().unwrap().read_until_close().await?;
///     let status = p.wait_for_exit().await?;
///     assert!(status.success());
///     Ok::<_, std::io::Error>(out)
/// }).unwrap();
/// assert_eq!(out, b"hello\n");
/// ```
pub struct Subprocess {
    /// The write end of the child's stdin, if it was piped. Take it and drop it (every handle of
    /// it) to close the pipe, so that the child reads end of file.
    pub stdin: Option<IOStream>,
    /// The read end of the child's stdout, if it was piped.
    pub stdout: Option<IOStream>,
    /// The read end of the child's stderr, if it was piped.
    pub stderr: Option<IOStream>,
    pid: libc::pid_t,
    exit: Rc<ExitCell>,
    reaper: Weak<Reaper>,
}

impl fmt::Debug for Subprocess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subprocess")
            .field("pid", &self.pid)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("exit_status", &self.exit_status())
            .finish()
    }
}

impl Subprocess {
    /// Starts `command` with its piped stdio on the current loop (see the type's docs).
    ///
    /// The first call on a loop installs the process-wide `SIGCHLD` handler (chaining to one
    /// installed before it) and registers the loop's reaper pipe.
    ///
    /// # Errors
    ///
    /// The spawn error (program not found, ...), or a failure to create the reaper's pipe or to
    /// register a pipe on the loop (the child is then killed, and reaped by the loop).
    pub fn spawn(command: &mut Command) -> io::Result<Subprocess> {
        let io_loop = IOLoop::current();
        // Before the spawn: a child that exits at once must find the handler and the pipe.
        let reaper = Reaper::for_loop(&io_loop)?;
        let mut child = command.spawn()?;
        let pid = child.id() as libc::pid_t;
        let exit = reaper.watch(pid);
        let wrap = |fd: Option<OwnedFd>| fd.map(IOStream::from_fd).transpose();
        let streams = (|| {
            Ok::<_, io::Error>((
                wrap(child.stdin.take().map(OwnedFd::from))?,
                wrap(child.stdout.take().map(OwnedFd::from))?,
                wrap(child.stderr.take().map(OwnedFd::from))?,
            ))
        })();
        // `Child` never waits on drop: from here the reaper alone owns the pid.
        drop(child);
        match streams {
            Ok((stdin, stdout, stderr)) => Ok(Subprocess {
                stdin,
                stdout,
                stderr,
                pid,
                exit,
                reaper: Rc::downgrade(&reaper),
            }),
            Err(e) => {
                // SAFETY: `pid` is our unreaped child (the reaper has not run since the spawn).
                unsafe { libc::kill(pid, libc::SIGKILL) };
                Err(e)
            }
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Sends `signal` (`libc::SIGTERM`, ...) to the child. Once the child has been reaped this
    /// does nothing and returns `Ok`: its pid may already belong to another process.
    ///
    /// # Errors
    ///
    /// `kill(2)`'s error (`EINVAL` for a bad signal number).
    pub fn kill(&self, signal: i32) -> io::Result<()> {
        if self.exit.outcome.get().is_some() {
            return Ok(());
        }
        // SAFETY: plain kill(2) on our own child, which is not reaped yet (the reaper runs on
        // this thread, so it cannot reap it between the check above and this call).
        signals::cvt(unsafe { libc::kill(self.pid, signal) }).map(|_| ())
    }

    /// The exit status, if the loop has reaped the child already (Tornado's `returncode`).
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.exit.outcome.get().and_then(Result::ok)
    }

    /// A future that resolves on the loop thread when the child exits.
    ///
    /// A non-zero status is not an error: check [`ExitStatus::success`],
    /// [`code`](ExitStatus::code) or [`signal`](std::os::unix::process::ExitStatusExt::signal).
    /// It may be awaited any number of times, by several tasks.
    pub fn wait_for_exit(&self) -> WaitForExit {
        WaitForExit {
            exit: self.exit.clone(),
            reaper: self.reaper.clone(),
        }
    }
}

/// The future returned by [`Subprocess::wait_for_exit`].
///
/// # Errors
///
/// Resolves to an error if something else in the process reaped the child first (`ECHILD`, a
/// `waitpid(-1)` elsewhere), or if the loop that spawned the child has been dropped.
#[must_use = "futures do nothing unless awaited"]
pub struct WaitForExit {
    exit: Rc<ExitCell>,
    reaper: Weak<Reaper>,
}

impl fmt::Debug for WaitForExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForExit")
            .field("outcome", &self.exit.outcome.get())
            .finish()
    }
}

impl Future for WaitForExit {
    type Output = io::Result<ExitStatus>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(outcome) = self.exit.outcome.get() {
            return Poll::Ready(outcome.map_err(io::Error::from_raw_os_error));
        }
        if self.reaper.strong_count() == 0 {
            return Poll::Ready(Err(io::Error::other(
                "the IOLoop that spawned this subprocess has been dropped",
            )));
        }
        let mut wakers = self.exit.wakers.borrow_mut();
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
