//! A single-threaded program around `squall::process::fork_processes`, for
//! `tests/fork_processes.rs` (forking the multi-threaded test harness itself would be unsafe).
//!
//! Usage: `fork_helper <mode>`. Every line goes to stdout in one `write(2)`, so the lines of the
//! parent and of its children never interleave:
//!
//! - `spawn <id> <pid>`: the parent forked child `id` (`on_spawn`).
//! - `exit <id> <pid> code <n>` / `exit <id> <pid> signal <n>`: the parent reaped it (`on_exit`).
//! - `child <id> <pid> <task_id()>`: a child started.
//! - `term <id> <pid>`: a child got SIGTERM (it then exits 0).
//! - `error <message>`: `fork_processes` returned an error in the parent (then exit status 2).
//! - `refused <message>`: `fork_processes` refused to fork (then exit status 0).
//!
//! Modes: `serve` (two children wait for SIGTERM), `exit0` (child 1 exits 0 at once, child 0
//! serves), `crash` (two children exit 1 at once, max 3 restarts), `dieterm` (children keep the
//! default SIGTERM disposition: a signal kills them), `cpus` (one child per CPU, each exits 0 at
//! once), `after-loop` and `after-thread` (fork_processes must refuse).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use squall::process::{fork_processes_with, task_id, ForkOptions};

static TERM: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    TERM.store(true, Ordering::SeqCst);
}

fn say(line: &str) {
    let line = format!("{line}\n");
    // SAFETY: one write(2) of a live buffer to stdout.
    unsafe { libc::write(1, line.as_ptr().cast(), line.len()) };
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("code {c}"),
        (_, Some(s)) => format!("signal {s}"),
        _ => format!("other {status}"),
    }
}

/// Installs a SIGTERM handler that only sets [`TERM`].
fn catch_term() {
    // SAFETY: installing a handler that only stores to an atomic.
    unsafe {
        let handler: extern "C" fn(libc::c_int) = on_term;
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
    }
}

/// Waits for SIGTERM (caught by [`catch_term`]), reports it and exits 0.
fn serve(id: usize) -> ! {
    loop {
        if TERM.load(Ordering::SeqCst) {
            say(&format!("term {id} {}", std::process::id()));
            std::process::exit(0);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    match mode.as_str() {
        "after-loop" => {
            let _l = squall::ioloop::IOLoop::current();
            refuse_or_die(2);
            return;
        }
        "after-thread" => {
            let _t = std::thread::spawn(std::thread::park);
            std::thread::sleep(Duration::from_millis(20));
            refuse_or_die(2);
            return;
        }
        _ => {}
    }
    let (n, max_restarts) = match mode.as_str() {
        "crash" => (2, 3),
        "cpus" => (0, 100),
        _ => (2, 100),
    };
    let opts = ForkOptions::new()
        .max_restarts(max_restarts)
        .on_spawn(|id, pid| say(&format!("spawn {id} {pid}")))
        .on_exit(|id, pid, status| say(&format!("exit {id} {pid} {}", describe(status))));
    let id = match fork_processes_with(n, opts) {
        Ok(id) => id,
        Err(e) => {
            say(&format!("error {e}"));
            std::process::exit(2);
        }
    };
    if mode != "dieterm" {
        // Before announcing ourselves: the test may send SIGTERM as soon as it reads the line.
        catch_term();
    }
    say(&format!(
        "child {id} {} {}",
        std::process::id(),
        task_id().map_or("none".to_string(), |t| t.to_string())
    ));
    match (mode.as_str(), id) {
        ("crash", _) => std::process::exit(1),
        ("cpus", _) | ("exit0", 1) => std::process::exit(0),
        ("dieterm", _) => loop {
            std::thread::sleep(Duration::from_millis(50));
        },
        _ => serve(id),
    }
}

fn refuse_or_die(n: usize) {
    match fork_processes_with(n, ForkOptions::new()) {
        Ok(_) => {
            // Forked when it must not have: make the test fail loudly, from every process.
            say("forked");
            std::process::exit(3);
        }
        Err(e) => say(&format!("refused {e}")),
    }
}
