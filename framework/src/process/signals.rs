//! Signal plumbing shared by the supervisor, the subprocess reaper and the stop-signal handlers
//! of servers: close-on-exec self-pipes, a process-wide `SIGCHLD` handler that wakes every
//! registered pipe, the supervisor's `SIGTERM`/`SIGINT`/`SIGHUP` handler, and the
//! `SIGTERM`/`SIGINT` handler that asks every loop with a registered pipe to shut down.
//!
//! Handlers only touch atomics and `write(2)` one byte: both are async-signal-safe. Everything
//! else (waitpid, forwarding, waking tasks) happens on the thread that reads the pipe.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

pub(super) fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// A non-blocking, close-on-exec pipe: `(read end, write end)`.
pub(super) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: pipe2 writes two fds into the array on success.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) })?;
    // SAFETY: both fds were just created and belong to nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Reads a self-pipe until it is empty (it is non-blocking).
pub(super) fn drain(fd: RawFd) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reading into a live stack buffer of the given length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n == buf.len() as isize {
            continue;
        }
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return;
    }
}

/// Async-signal-safe: one byte into a non-blocking pipe. A full pipe already holds a wake-up.
fn poke(fd: RawFd) {
    poke_byte(fd, 1);
}

/// [`poke`] with a given byte (the stop handler sends the signal's number).
fn poke_byte(fd: RawFd, b: u8) {
    // SAFETY: write(2) is async-signal-safe; `b` outlives the call.
    unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
}

/// Saves and restores `errno` around a handler, as a handler must not clobber it.
struct Errno(libc::c_int);

impl Errno {
    fn save() -> Errno {
        Errno(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}

impl Drop for Errno {
    fn drop(&mut self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        // SAFETY: __errno_location returns this thread's errno slot.
        unsafe {
            *libc::__errno_location() = self.0
        };
        #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
        // SAFETY: __error returns this thread's errno slot.
        unsafe {
            *libc::__error() = self.0
        };
    }
}

// ----- wake slots --------------------------------------------------------------------------

/// Most self-pipes that can listen for `SIGCHLD` at once (one per loop with subprocesses, one
/// for the supervisor).
pub(super) const WAKE_SLOTS: usize = 256;

/// A table of write ends that one kind of signal wakes; -1 for a free slot.
type WakeTable = [AtomicI32; WAKE_SLOTS];

/// Write ends of the pipes `SIGCHLD` wakes.
static SIGCHLD_WAKE: WakeTable = [const { AtomicI32::new(-1) }; WAKE_SLOTS];

/// Write ends of the pipes `SIGTERM`/`SIGINT` wake when stop handlers are installed (see
/// [`acquire_stop_handlers`]): one per loop that asked to hear of them.
static STOP_WAKE: WakeTable = [const { AtomicI32::new(-1) }; WAKE_SLOTS];

/// Handlers currently running (on any thread). A pipe is closed only after its slot is cleared
/// and this count has been seen at zero, so a handler never writes to a closed (or reused) fd.
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// The supervisor's pipe, woken by `SIGTERM`/`SIGINT`/`SIGHUP`; -1 when none.
static SUPERVISOR_WAKE: AtomicI32 = AtomicI32::new(-1);

/// Bit `1 << sig` for each stop signal received since the supervisor last looked.
static SIGNALS_SEEN: AtomicU32 = AtomicU32::new(0);
/// The subset of [`SIGNALS_SEEN`] that must be forwarded (not already sent to the whole group).
static SIGNALS_FORWARD: AtomicU32 = AtomicU32::new(0);

/// Waits until no handler can still be using a fd that was just unregistered.
fn quiesce() {
    while IN_HANDLER.load(SeqCst) != 0 {
        std::hint::spin_loop();
    }
}

/// A self-pipe registered in a [`WakeTable`] (by default [`SIGCHLD_WAKE`]), so that a signal
/// handler writes to it. Unregisters on drop, then closes.
pub(super) struct WakePipe {
    pub(super) read: OwnedFd,
    write: OwnedFd,
    table: &'static WakeTable,
    slot: usize,
}

impl WakePipe {
    /// A new pipe woken by `SIGCHLD` (the handler must be installed separately).
    pub(super) fn new() -> io::Result<WakePipe> {
        WakePipe::in_table(&SIGCHLD_WAKE, "loops are waiting for subprocesses")
    }

    /// A new pipe woken by `SIGTERM`/`SIGINT` while [`acquire_stop_handlers`] is in effect;
    /// each wake-up is one byte holding the signal's number.
    pub(super) fn for_stop_signals() -> io::Result<WakePipe> {
        WakePipe::in_table(&STOP_WAKE, "loops are waiting for stop signals")
    }

    /// A new pipe registered in `table`; `what` names the users in the error for a full table.
    fn in_table(table: &'static WakeTable, what: &str) -> io::Result<WakePipe> {
        let (read, write) = pipe()?;
        let fd = write.as_raw_fd();
        for (slot, s) in table.iter().enumerate() {
            if s.compare_exchange(-1, fd, SeqCst, SeqCst).is_ok() {
                return Ok(WakePipe {
                    read,
                    write,
                    table,
                    slot,
                });
            }
        }
        Err(io::Error::other(format!(
            "squall: more than {WAKE_SLOTS} {what}"
        )))
    }

    pub(super) fn write_fd(&self) -> RawFd {
        self.write.as_raw_fd()
    }
}

impl Drop for WakePipe {
    fn drop(&mut self) {
        let fd = self.write.as_raw_fd();
        // Only if it is still ours: a later supervisor may have taken the static over.
        let _ = SUPERVISOR_WAKE.compare_exchange(fd, -1, SeqCst, SeqCst);
        self.table[self.slot].store(-1, SeqCst);
        quiesce();
        // The OwnedFds close after this.
    }
}

// ----- handlers -----------------------------------------------------------------------------

/// A saved disposition (`libc::sigaction` holds raw pointers on some targets).
#[derive(Clone, Copy)]
pub(super) struct SavedAction(libc::sigaction);

// SAFETY: a sigaction is plain data (handler addresses, a mask and flags).
unsafe impl Send for SavedAction {}

/// The `SIGCHLD` disposition found before Squall installed its handler; `None` while Squall's
/// handler is not installed.
static SIGCHLD_PREVIOUS: Mutex<Option<SavedAction>> = Mutex::new(None);
/// The previous handler to chain to (0: none), and whether it takes `siginfo`.
static CHAINED: AtomicUsize = AtomicUsize::new(0);
static CHAINED_SIGINFO: AtomicBool = AtomicBool::new(false);

type InfoHandler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);
type PlainHandler = extern "C" fn(libc::c_int);

extern "C" fn on_sigchld(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let _errno = Errno::save();
    IN_HANDLER.fetch_add(1, SeqCst);
    for slot in &SIGCHLD_WAKE {
        let fd = slot.load(SeqCst);
        if fd >= 0 {
            poke(fd);
        }
    }
    IN_HANDLER.fetch_sub(1, SeqCst);
    let chained = CHAINED.load(SeqCst);
    if chained != 0 {
        // SAFETY: CHAINED holds the address of a handler that was installed for SIGCHLD before
        // ours, with the matching calling convention recorded in CHAINED_SIGINFO.
        unsafe {
            if CHAINED_SIGINFO.load(SeqCst) {
                std::mem::transmute::<usize, InfoHandler>(chained)(sig, info, ctx);
            } else {
                std::mem::transmute::<usize, PlainHandler>(chained)(sig);
            }
        }
    }
}

extern "C" fn on_stop_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let _errno = Errno::save();
    IN_HANDLER.fetch_add(1, SeqCst);
    let bit = 1u32.checked_shl(sig as u32).unwrap_or(0);
    SIGNALS_SEEN.fetch_or(bit, SeqCst);
    if !sent_to_group(info) {
        SIGNALS_FORWARD.fetch_or(bit, SeqCst);
    }
    let fd = SUPERVISOR_WAKE.load(SeqCst);
    if fd >= 0 {
        poke(fd);
    }
    IN_HANDLER.fetch_sub(1, SeqCst);
}

/// Whether the kernel itself raised the signal for the whole foreground process group (Ctrl-C,
/// a terminal hang-up): the children, which share the group, already got it.
fn sent_to_group(info: *mut libc::siginfo_t) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
        !info.is_null() && unsafe { (*info).si_code } == libc::SI_KERNEL
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = info;
        false
    }
}

fn sigaction(
    sig: libc::c_int,
    handler: usize,
    extra_flags: libc::c_int,
) -> io::Result<SavedAction> {
    // SAFETY: all-zero is a valid sigaction; sigemptyset initialises the mask; sigaction(2)
    // reads `new` and writes `old`.
    unsafe {
        let mut new: libc::sigaction = std::mem::zeroed();
        new.sa_sigaction = handler;
        new.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | extra_flags;
        libc::sigemptyset(&mut new.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        cvt(libc::sigaction(sig, &new, &mut old))?;
        Ok(SavedAction(old))
    }
}

/// Puts back a disposition saved by [`sigaction`].
pub(super) fn restore(sig: libc::c_int, action: &SavedAction) {
    // SAFETY: `action` came from the kernel through sigaction(2).
    unsafe { libc::sigaction(sig, &action.0, std::ptr::null_mut()) };
}

/// Installs Squall's `SIGCHLD` handler once per process. Returns whether this call installed it
/// (so that the caller may undo it with [`uninstall_sigchld`]).
///
/// A handler installed before ours is chained to. A disposition of `SIG_IGN` is replaced, as
/// it makes the kernel reap children itself and `waitpid` could never report their status.
pub(super) fn install_sigchld() -> io::Result<bool> {
    let mut prev = SIGCHLD_PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
    if prev.is_some() {
        return Ok(false);
    }
    let handler = on_sigchld as InfoHandler as usize;
    // SAFETY: reading the current disposition (a null `new` changes nothing).
    let current = unsafe {
        let mut cur: libc::sigaction = std::mem::zeroed();
        cvt(libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut cur))?;
        cur
    };
    if current.sa_sigaction != libc::SIG_DFL
        && current.sa_sigaction != libc::SIG_IGN
        && current.sa_sigaction != handler
    {
        CHAINED_SIGINFO.store(current.sa_flags & libc::SA_SIGINFO != 0, SeqCst);
        CHAINED.store(current.sa_sigaction, SeqCst);
    }
    let old = sigaction(libc::SIGCHLD, handler, libc::SA_NOCLDSTOP)?;
    *prev = Some(old);
    Ok(true)
}

/// Restores the `SIGCHLD` disposition found by [`install_sigchld`].
pub(super) fn uninstall_sigchld() {
    let mut prev = SIGCHLD_PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(old) = prev.take() {
        restore(libc::SIGCHLD, &old);
        CHAINED.store(0, SeqCst);
    }
}

/// The signals the supervisor forwards to its children.
pub(super) const STOP_SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// Installs the supervisor's stop-signal handlers, waking `pipe`. Returns the dispositions they
/// replaced, for [`restore`].
pub(super) fn install_stop_handlers(
    pipe: &WakePipe,
) -> io::Result<Vec<(libc::c_int, SavedAction)>> {
    SIGNALS_SEEN.store(0, SeqCst);
    SIGNALS_FORWARD.store(0, SeqCst);
    SUPERVISOR_WAKE.store(pipe.write_fd(), SeqCst);
    let handler = on_stop_signal as InfoHandler as usize;
    let mut saved = Vec::new();
    for sig in STOP_SIGNALS {
        match sigaction(sig, handler, 0) {
            Ok(old) => saved.push((sig, old)),
            Err(e) => {
                for (s, old) in &saved {
                    restore(*s, old);
                }
                SUPERVISOR_WAKE.store(-1, SeqCst);
                return Err(e);
            }
        }
    }
    Ok(saved)
}

/// Takes the stop signals received since the last call: `(seen, to forward)` as bitmasks.
pub(super) fn take_stop_signals() -> (u32, u32) {
    let seen = SIGNALS_SEEN.swap(0, SeqCst);
    let forward = SIGNALS_FORWARD.swap(0, SeqCst);
    (seen, forward)
}

// ----- stop handlers for servers ----------------------------------------------------------

/// The signals that ask a server to shut down gracefully.
pub(super) const SHUTDOWN_SIGNALS: [libc::c_int; 2] = [libc::SIGTERM, libc::SIGINT];

/// Writes the signal's number to every pipe in [`STOP_WAKE`]: each loop reads it and decides.
extern "C" fn on_shutdown_signal(
    sig: libc::c_int,
    _info: *mut libc::siginfo_t,
    _ctx: *mut libc::c_void,
) {
    let _errno = Errno::save();
    IN_HANDLER.fetch_add(1, SeqCst);
    for slot in &STOP_WAKE {
        let fd = slot.load(SeqCst);
        if fd >= 0 {
            poke_byte(fd, sig as u8);
        }
    }
    IN_HANDLER.fetch_sub(1, SeqCst);
}

/// How many registrations want the stop handlers, and the dispositions they replaced.
struct StopHandlers {
    users: usize,
    saved: Vec<(libc::c_int, SavedAction)>,
}

static STOP_HANDLERS: Mutex<StopHandlers> = Mutex::new(StopHandlers {
    users: 0,
    saved: Vec::new(),
});

/// Installs the `SIGTERM`/`SIGINT` handler that wakes [`STOP_WAKE`] (once for all users).
///
/// # Errors
///
/// `sigaction`'s error; nothing is left installed then.
pub(super) fn acquire_stop_handlers() -> io::Result<()> {
    let mut st = STOP_HANDLERS.lock().unwrap_or_else(|e| e.into_inner());
    if st.users == 0 {
        let handler = on_shutdown_signal as InfoHandler as usize;
        for sig in SHUTDOWN_SIGNALS {
            match sigaction(sig, handler, 0) {
                Ok(old) => st.saved.push((sig, old)),
                Err(e) => {
                    for (s, old) in st.saved.drain(..) {
                        restore(s, &old);
                    }
                    return Err(e);
                }
            }
        }
    }
    st.users += 1;
    Ok(())
}

/// Undoes one [`acquire_stop_handlers`]; the last one puts the old dispositions back.
pub(super) fn release_stop_handlers() {
    let mut st = STOP_HANDLERS.lock().unwrap_or_else(|e| e.into_inner());
    st.users = st.users.saturating_sub(1);
    if st.users == 0 {
        for (s, old) in st.saved.drain(..) {
            restore(s, &old);
        }
    }
}

/// Blocks `signals` on this thread; the returned mask restores the previous one.
pub(super) fn block(signals: &[libc::c_int]) -> io::Result<libc::sigset_t> {
    // SAFETY: sigset_t is initialised by sigemptyset before use; pthread_sigmask writes `old`.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        let mut old: libc::sigset_t = std::mem::zeroed();
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(old)
    }
}

/// Restores a signal mask saved by [`block`].
pub(super) fn set_mask(mask: &libc::sigset_t) {
    // SAFETY: `mask` is a valid sigset_t from pthread_sigmask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut()) };
}
