//! [`fork_processes`]: pre-forked workers under a supervising parent.

use std::fmt;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::signals::{self, SavedAction, WakePipe, STOP_SIGNALS};
use super::subprocess::try_wait;
use crate::ioloop::IOLoop;

/// Tornado's default bound on restarts of abnormally exiting children.
pub const DEFAULT_MAX_RESTARTS: usize = 100;

const NO_TASK: usize = usize::MAX;
static TASK_ID: AtomicUsize = AtomicUsize::new(NO_TASK);

/// The task id of this process if [`fork_processes`] started it, `None` otherwise (in the
/// supervising parent too).
///
/// # Examples
///
/// ```
/// assert_eq!(squall::process::task_id(), None);
/// ```
pub fn task_id() -> Option<usize> {
    match TASK_ID.load(Ordering::Relaxed) {
        NO_TASK => None,
        id => Some(id),
    }
}

type SpawnHook = Box<dyn FnMut(usize, u32)>;
type ExitHook = Box<dyn FnMut(usize, u32, ExitStatus)>;
type StopHook = Box<dyn FnOnce()>;

/// Options for [`fork_processes_with`]: the restart bound and hooks that let the supervising
/// parent see its children's pids come and go.
///
/// The hooks run in the parent only, on its single thread, between `fork`s and `waitpid`s, not in
/// a signal handler: they may log, write a pid file, or update a metric.
///
/// # Examples
///
/// ```no_run
/// use squall::process::{fork_processes_with, ForkOptions};
///
/// let id = fork_processes_with(
///     4,
///     ForkOptions::new()
///         .max_restarts(10)
///         .on_spawn(|id, pid| eprintln!("worker {id} is pid {pid}"))
///         .on_exit(|id, pid, status| eprintln!("worker {id} (pid {pid}) exited: {status}")),
/// )?;
/// // Only the children get here: serve on this worker's own loop.
/// # let _ = id;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ForkOptions {
    max_restarts: usize,
    on_spawn: Option<SpawnHook>,
    on_exit: Option<ExitHook>,
    on_stop: Option<StopHook>,
}

impl Default for ForkOptions {
    fn default() -> Self {
        ForkOptions::new()
    }
}

impl fmt::Debug for ForkOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForkOptions")
            .field("max_restarts", &self.max_restarts)
            .field("on_spawn", &self.on_spawn.is_some())
            .field("on_exit", &self.on_exit.is_some())
            .field("on_stop", &self.on_stop.is_some())
            .finish()
    }
}

impl ForkOptions {
    /// Default options: at most [`DEFAULT_MAX_RESTARTS`] restarts, no hooks.
    pub fn new() -> ForkOptions {
        ForkOptions {
            max_restarts: DEFAULT_MAX_RESTARTS,
            on_spawn: None,
            on_exit: None,
            on_stop: None,
        }
    }

    /// How many abnormal exits (a signal, or a non-zero status), counted over all children,
    /// are answered with a restart before the supervisor gives up.
    pub fn max_restarts(mut self, n: usize) -> Self {
        self.max_restarts = n;
        self
    }

    /// Called in the parent after each child is forked (the first time and on every restart)
    /// with its task id and pid.
    pub fn on_spawn<F: FnMut(usize, u32) + 'static>(mut self, f: F) -> Self {
        self.on_spawn = Some(Box::new(f));
        self
    }

    /// Called in the parent when a child has exited and been reaped, with its task id, pid and
    /// status, before the restart decision.
    pub fn on_exit<F: FnMut(usize, u32, ExitStatus) + 'static>(mut self, f: F) -> Self {
        self.on_exit = Some(Box::new(f));
        self
    }

    /// Called once in the parent when the first stop signal arrives, before it is forwarded
    /// to the children. [`BoundServer::start`](crate::httpserver::BoundServer::start) uses it to
    /// close the parent's copies of the listening sockets (kept until then to restart
    /// children), so that the port refuses new connections once the children close theirs.
    pub fn on_stop<F: FnOnce() + 'static>(mut self, f: F) -> Self {
        self.on_stop = Some(Box::new(f));
        self
    }

    /// Adds `f` after the current stop hook, if any.
    pub(crate) fn and_on_stop<F: FnOnce() + 'static>(mut self, f: F) -> Self {
        let before = self.on_stop.take();
        self.on_stop(move || {
            if let Some(b) = before {
                b();
            }
            f();
        })
    }
}

/// Forks `n` worker processes (one per CPU if `n` is 0) and supervises them, Tornado's
/// `fork_processes`. In each child it returns that child's task id, `0..n`. The parent never
/// returns `Ok`: it restarts children that exit abnormally, forwards stop signals, and exits the
/// process with status 0 once every child has exited. See the [module docs](super) for the rules.
///
/// `max_restarts` defaults to [`DEFAULT_MAX_RESTARTS`]. [`fork_processes_with`] also reports the
/// children's pids.
///
/// # Examples
///
/// ```no_run
/// use squall::ioloop::IOLoop;
/// use squall::tcpserver::TcpServer;
///
/// // Bind first: every worker inherits the listening socket and accepts on it.
/// let sockets = squall::netutil::bind_sockets(8888, "")?;
/// let id = squall::process::fork_processes(0, None)?;
/// let server = TcpServer::new(move |_stream, addr| println!("worker {id}: {addr}"));
/// server.add_sockets(sockets)?;
/// IOLoop::current().start();
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// In the caller, before any fork: called from a process `fork_processes` started, with an
/// [`IOLoop`] current on this thread, or with other threads running (the executor's pool, or any
/// other: forking a multi-threaded process is unsafe). In the parent, later: a `fork` failure, or
/// more than `max_restarts` restarts; the children still running are then left running.
pub fn fork_processes(n: usize, max_restarts: Option<usize>) -> io::Result<usize> {
    let opts = ForkOptions::new().max_restarts(max_restarts.unwrap_or(DEFAULT_MAX_RESTARTS));
    fork_processes_with(n, opts)
}

/// [`fork_processes`] with [`ForkOptions`]: the restart bound and pid hooks.
///
/// # Errors
///
/// As [`fork_processes`].
pub fn fork_processes_with(n: usize, opts: ForkOptions) -> io::Result<usize> {
    check_fork_safe()?;
    let n = match n {
        0 => std::thread::available_parallelism().map_or(1, |c| c.get()),
        n => n,
    };
    log::info!("squall: starting {n} processes");
    let mut sup = Supervisor::new(opts)?;
    for id in 0..n {
        if let Some(id) = sup.start(id)? {
            return Ok(id);
        }
    }
    sup.supervise()
}

fn check_fork_safe() -> io::Result<()> {
    let refuse = |why: String| Err(io::Error::other(format!("squall: cannot fork: {why}")));
    if let Some(id) = task_id() {
        return refuse(format!("this is child {id} of an earlier fork_processes"));
    }
    if IOLoop::try_current().is_some() {
        return refuse("an IOLoop exists on this thread; fork before creating one".into());
    }
    if crate::executor::has_threads() {
        return refuse("the executor's thread pool has started".into());
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        let threads = dir.count();
        if threads > 1 {
            return refuse(format!(
                "{threads} threads are running; fork before starting any"
            ));
        }
    }
    Ok(())
}

/// The parent's state: its wake pipe, the dispositions it replaced, its children.
struct Supervisor {
    opts: ForkOptions,
    pipe: Option<WakePipe>,
    saved: Vec<(libc::c_int, SavedAction)>,
    installed_sigchld: bool,
    /// `(task id, pid)` of each live child.
    children: Vec<(usize, libc::pid_t)>,
}

impl Supervisor {
    fn new(opts: ForkOptions) -> io::Result<Supervisor> {
        let mut sup = Supervisor {
            opts,
            pipe: None,
            saved: Vec::new(),
            installed_sigchld: false,
            children: Vec::new(),
        };
        let pipe = sup.pipe.insert(WakePipe::new()?);
        sup.installed_sigchld = signals::install_sigchld()?;
        sup.saved = signals::install_stop_handlers(pipe)?;
        Ok(sup)
    }

    /// Puts the process back as it was: the parent when it gives up, each child right after the
    /// fork (a worker must not run the supervisor's handlers). Idempotent.
    fn restore(&mut self) {
        for (sig, old) in self.saved.drain(..) {
            signals::restore(sig, &old);
        }
        if std::mem::take(&mut self.installed_sigchld) {
            signals::uninstall_sigchld();
        }
        self.pipe = None;
    }

    /// Forks child `id`. Returns `Some(id)` in the child, `None` in the parent.
    fn start(&mut self, id: usize) -> io::Result<Option<usize>> {
        // Buffered output would be written twice, once by each process.
        let _ = io::stdout().flush();
        let mut blocked = STOP_SIGNALS.to_vec();
        blocked.push(libc::SIGCHLD);
        // Blocked across the fork, so the child cannot run the parent's handlers before it has
        // restored its own dispositions; pending signals are delivered once it unblocks.
        let mask = signals::block(&blocked)?;
        // SAFETY: the process is single-threaded (checked before the first fork), so the child
        // is a complete copy and may keep running Rust code.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            self.restore();
            TASK_ID.store(id, Ordering::Relaxed);
            signals::set_mask(&mask);
            return Ok(Some(id));
        }
        let err = io::Error::last_os_error();
        signals::set_mask(&mask);
        if pid < 0 {
            return Err(err);
        }
        self.children.push((id, pid));
        log::debug!("squall: started child {id} (pid {pid})");
        if let Some(f) = self.opts.on_spawn.as_mut() {
            f(id, pid as u32);
        }
        Ok(None)
    }

    /// The parent's loop. Returns only in a restarted child (its task id) or on error.
    fn supervise(&mut self) -> io::Result<usize> {
        let mut restarts = 0usize;
        let mut stopping = false;
        loop {
            // Signals first: a child that crashed in the same wake-up is then not restarted.
            let (seen, forward) = signals::take_stop_signals();
            if seen != 0 {
                if !stopping {
                    log::info!("squall: stop signal received; stopping children, no restarts");
                    if let Some(f) = self.opts.on_stop.take() {
                        f();
                    }
                }
                stopping = true;
                for sig in STOP_SIGNALS {
                    if forward & (1 << sig) != 0 {
                        for &(_, pid) in &self.children {
                            // SAFETY: kill(2) on our unreaped child.
                            unsafe { libc::kill(pid, sig) };
                        }
                    }
                }
            }
            let mut i = 0;
            while i < self.children.len() {
                let (id, pid) = self.children[i];
                let status = match try_wait(pid) {
                    None => {
                        i += 1;
                        continue;
                    }
                    Some(Ok(status)) => status,
                    Some(Err(errno)) => {
                        let e = io::Error::from_raw_os_error(errno);
                        log::error!("squall: lost child {id} (pid {pid}): {e}");
                        self.children.swap_remove(i);
                        continue;
                    }
                };
                self.children.swap_remove(i);
                if let Some(f) = self.opts.on_exit.as_mut() {
                    f(id, pid as u32, status);
                }
                if stopping || status.success() {
                    log::info!("squall: child {id} (pid {pid}) exited: {status}");
                    continue;
                }
                log::warn!(
                    "squall: child {id} (pid {pid}) exited abnormally ({status}), restarting"
                );
                restarts += 1;
                if restarts > self.opts.max_restarts {
                    self.restore();
                    return Err(io::Error::other(format!(
                        "squall: too many child restarts ({}), giving up",
                        self.opts.max_restarts
                    )));
                }
                if let Some(id) = self.start(id)? {
                    return Ok(id);
                }
            }
            if self.children.is_empty() {
                log::info!("squall: all child processes exited");
                std::process::exit(0);
            }
            self.sleep();
        }
    }

    /// Blocks until a signal handler writes to the wake pipe (no race: the byte stays there).
    fn sleep(&self) {
        let Some(pipe) = &self.pipe else { return };
        let fd = pipe.read.as_raw_fd();
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd; EINTR simply returns to the caller's loop.
        unsafe { libc::poll(&mut pfd, 1, -1) };
        signals::drain(fd);
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.restore();
    }
}
