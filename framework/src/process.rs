//! Processes: pre-forked workers ([`fork_processes`], [`task_id`]), child processes on the
//! loop ([`Subprocess`]) and stop signals on the loop ([`add_stop_signal_handler`]), after
//! Tornado's `tornado.process`.
//!
//! [`fork_processes`] turns one process into `n` workers under a supervising parent; each
//! worker then builds its own [`IOLoop`](crate::ioloop::IOLoop) and serves the sockets it
//! inherited. [`Subprocess`] runs a program with its pipes as
//! [`IOStream`](crate::iostream::IOStream)s and its exit as a future, without ever blocking the
//! loop.
//!
//! ### Fork safety
//!
//! `fork` copies only the calling thread. A process with other threads may be forked while one
//! of them holds a lock (the allocator's, a logger's) that the child can then never take. So
//! [`fork_processes`] refuses to run unless the process is single-threaded (the executor's pool
//! has not started, and on Linux `/proc/self/task` lists one thread) and no `IOLoop` exists on
//! the calling thread (a loop's poller must not be shared by two processes). Bind listening
//! sockets before forking: every worker inherits them, and the kernel spreads connections over
//! the workers that accept on them.
//!
//! ### Supervision
//!
//! The parent forks the workers and then only supervises; it never returns `Ok`. A worker that
//! is killed by a signal or exits with a non-zero status is forked again with the same task id,
//! up to `max_restarts` restarts in total (then `fork_processes` returns an error in the parent).
//! A worker that exits with status 0 is not restarted. When no worker is left the parent exits
//! the process with status 0, as Tornado does.
//!
//! ### Stop signals
//!
//! `SIGTERM`, `SIGINT` and `SIGHUP` sent to the parent are forwarded to every live worker
//! (Tornado leaves them to the caller, its issue #1912). After the first one the parent restarts
//! nobody: it waits for the workers to exit, whatever their status, and then exits with status
//! 0. A signal the kernel raised for the whole foreground process group (Ctrl-C or a hang-up on
//! the terminal) has already reached the workers, which share the group, and is not sent a
//! second time. In each worker the dispositions the parent installed are restored before the
//! worker's code runs.
//!
//! ### Reaping
//!
//! A [`Subprocess`] is reaped by its loop: a process-wide `SIGCHLD` handler writes a byte to one
//! self-pipe per loop that has children; the loop reads it and calls `waitpid(pid, WNOHANG)`
//! for each pid *it* started, never `waitpid(-1)`, so children that other code waits for (a
//! [`std::process::Command::output`] on another thread, say) are left alone. A `SIGCHLD`
//! handler installed before Squall's is still called. Code that later replaces Squall's
//! `SIGCHLD` handler, sets it to `SIG_IGN`, or reaps with `waitpid(-1)` takes these exits away:
//! the waits then hang or fail with `ECHILD`.
//!
//! ### Stop signals in a server
//!
//! [`add_stop_signal_handler`] turns `SIGTERM`/`SIGINT` into a callback on a loop; the HTTP
//! server's graceful shutdown
//! ([`HttpServer::serve_until_shutdown`](crate::httpserver::HttpServer::serve_until_shutdown))
//! is built on it. The signal reaches the loop through a self-pipe: the process-wide handler
//! writes the signal's number to one pipe per registered loop, and the loop reads it like any
//! other fd. The alternative, a dedicated thread blocked in `sigwait` that calls
//! [`IOLoopHandle::add_callback`](crate::ioloop::IOLoopHandle::add_callback), was rejected:
//! `sigwait` only works if the signals are blocked in *every* thread, which must be arranged
//! before any thread starts (the executor's pool, a test harness, a library's threads) and is
//! inherited by programs a [`Subprocess`] runs; a thread in the supervising parent would also
//! make [`fork_processes`] refuse to fork. The self-pipe needs no thread and no process-wide
//! mask, works the same in a forked child, in a single process and with one loop per thread,
//! and is the mechanism `SIGCHLD` already uses here.
//!
//! ### Signal handlers
//!
//! The handlers only set atomics and write one byte to a non-blocking pipe, both
//! async-signal-safe; `waitpid`, forwarding and waking tasks happen in ordinary code, on the
//! thread that reads the pipe. A pipe is unregistered, and the handlers seen idle, before it is
//! closed, so a handler never writes to a closed or reused fd.
//!
//! ### Close-on-exec
//!
//! Every fd Squall creates (sockets, accepted connections, self-pipes, the pipes of a
//! `Subprocess`) is close-on-exec, so a program started by `Subprocess` or by
//! [`std::process::Command`] gets its three standard streams and nothing else: never the
//! server's listening port, nor a client's connection.

mod fork;
mod signals;
mod stop;
mod subprocess;

pub use fork::{fork_processes, fork_processes_with, task_id, ForkOptions, DEFAULT_MAX_RESTARTS};
pub use stop::{add_stop_signal_handler, StopSignalHandler};
pub use subprocess::{Subprocess, WaitForExit};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioloop::IOLoop;
    use std::os::fd::AsRawFd;
    use std::process::{Command, Stdio};

    #[test]
    fn fork_refused_while_a_loop_is_current() {
        let l = IOLoop::new().unwrap();
        l.make_current();
        let err = fork_processes(2, None).unwrap_err();
        IOLoop::clear_current();
        assert!(err.to_string().contains("IOLoop"), "{err}");
        assert_eq!(task_id(), None);
    }

    #[test]
    fn self_pipe_is_cloexec_nonblocking_and_drains() {
        let (r, w) = signals::pipe().unwrap();
        for fd in [r.as_raw_fd(), w.as_raw_fd()] {
            assert!(crate::netutil::is_cloexec(fd).unwrap());
        }
        for _ in 0..1000 {
            // SAFETY: writing one byte from a live local.
            unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        }
        signals::drain(r.as_raw_fd()); // returns: the read end never blocks
        let mut b = [0u8; 1];
        // SAFETY: reading into a live local.
        let n = unsafe { libc::read(r.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
        assert_eq!(n, -1);
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EAGAIN)
        );
    }

    fn sigterm_disposition() -> usize {
        // SAFETY: a null `new` only reads the current disposition.
        unsafe {
            let mut cur: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGTERM, std::ptr::null(), &mut cur);
            cur.sa_sigaction
        }
    }

    #[test]
    fn stop_signal_reaches_every_registration_then_the_disposition_returns() {
        use std::cell::RefCell;
        use std::rc::Rc;
        use std::time::{Duration, Instant};

        let before = sigterm_disposition();
        let l = IOLoop::new().unwrap();
        let got = Rc::new(RefCell::new(Vec::new()));
        let (g1, g2) = (got.clone(), got.clone());
        let h1 = add_stop_signal_handler(&l, move |s| g1.borrow_mut().push((1, s))).unwrap();
        let h2 = add_stop_signal_handler(&l, move |s| g2.borrow_mut().push((2, s))).unwrap();
        assert_ne!(sigterm_disposition(), before);
        // Twice in a row: each registration hears it (at least) once; none is killed.
        // SAFETY: kill(2) on ourselves; our handler only writes to pipes.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGTERM);
            libc::kill(libc::getpid(), libc::SIGTERM);
        }
        let seen = got.clone();
        l.run_sync(async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            let heard = |who| seen.borrow().iter().any(|(i, _)| *i == who);
            while !(heard(1) && heard(2)) {
                assert!(
                    Instant::now() < deadline,
                    "signal not delivered to the loop"
                );
                crate::task::sleep(Duration::from_millis(5)).await;
            }
        });
        assert!(got.borrow().iter().all(|(_, s)| *s == libc::SIGTERM));
        drop(h1);
        assert_ne!(sigterm_disposition(), before, "still one registration");
        drop(h2);
        assert_eq!(sigterm_disposition(), before, "the old disposition is back");
        assert_eq!(l.handler_count(), 0);
    }

    #[test]
    fn subprocess_on_two_loops_of_one_thread() {
        // Each loop reaps only its own children, with its own pipe.
        for code in [0, 7] {
            let l = IOLoop::new().unwrap();
            l.make_current();
            let st = l.run_sync(async move {
                let p = Subprocess::spawn(
                    Command::new("sh")
                        .arg("-c")
                        .arg(format!("exit {code}"))
                        .stdin(Stdio::null()),
                )
                .unwrap();
                p.wait_for_exit().await.unwrap()
            });
            IOLoop::clear_current();
            assert_eq!(st.code(), Some(code));
        }
    }
}
