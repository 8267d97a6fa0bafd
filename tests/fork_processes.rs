//! `fork_processes` in a real, single-threaded helper process (`tests/bin/fork_helper.rs`):
//! task ids, restart after a crash with the same id, stop-signal forwarding, no restart after a
//! clean exit, the restart bound, and the refusals before forking.
//!
//! Every wait is bounded; a guard SIGKILLs the helper's whole process group when a test ends, so
//! a failing test leaves no process behind.

use std::collections::BTreeSet;
use std::process::ExitStatus;
use std::time::Duration;

use squall_tests::app_process::AppProcess;

const LIMIT: Duration = Duration::from_secs(20);

/// The helper (in its own process group, its output read line by line, the group SIGKILLed on
/// drop), with the questions these tests ask of it.
struct Helper(AppProcess);

impl Helper {
    fn start(mode: &str) -> Helper {
        Helper(AppProcess::start(
            env!("CARGO_BIN_EXE_fork_helper"),
            &[mode],
        ))
    }

    fn pid(&self) -> libc::pid_t {
        self.0.pid()
    }

    /// Waits for the first unclaimed line matching `pred` and returns its words.
    fn expect(&mut self, what: &str, pred: impl Fn(&[&str]) -> bool) -> Vec<String> {
        self.0.expect(what, pred)
    }

    /// The `child <id> <pid> <task_id>` line of task `id`; checks that `task_id()` agrees.
    fn expect_child(&mut self, id: usize) -> libc::pid_t {
        let id = id.to_string();
        let w = self.expect(&format!("child {id}"), |w| {
            w.len() == 4 && w[0] == "child" && w[1] == id
        });
        assert_eq!(w[3], id, "task_id() in the child");
        w[2].parse().unwrap()
    }

    fn signal_parent(&self, sig: libc::c_int) {
        self.0.signal(sig);
    }

    /// Waits for the parent to exit, then for every process that held its output.
    fn wait_exit(&mut self) -> ExitStatus {
        self.0.wait_exit(LIMIT)
    }

    /// Lines seen so far whose first word is `kind`, as words.
    fn lines(&self, kind: &str) -> Vec<Vec<String>> {
        self.0.lines(kind)
    }
}

fn alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[test]
fn children_get_task_ids_0_and_1() {
    let mut h = Helper::start("serve");
    let p0 = h.expect_child(0);
    let p1 = h.expect_child(1);
    assert_ne!(p0, p1);
    assert_ne!(p0, h.pid());
    h.signal_parent(libc::SIGTERM);
    assert_eq!(h.wait_exit().code(), Some(0));
    // on_spawn reported exactly the pids the children see for themselves.
    let spawned: BTreeSet<(String, String)> = h
        .lines("spawn")
        .into_iter()
        .map(|w| (w[1].clone(), w[2].clone()))
        .collect();
    let expected: BTreeSet<(String, String)> = [("0", p0), ("1", p1)]
        .into_iter()
        .map(|(i, p)| (i.to_string(), p.to_string()))
        .collect();
    assert_eq!(spawned, expected, "{:#?}", h.0.seen);
}

#[test]
fn killed_child_is_restarted_with_the_same_task_id() {
    let mut h = Helper::start("serve");
    let old = h.expect_child(0);
    h.expect_child(1);
    // SAFETY: SIGKILL to the helper's child (still alive: it waits for SIGTERM).
    assert_eq!(unsafe { libc::kill(old, libc::SIGKILL) }, 0);
    let new = h.expect_child(0);
    assert_ne!(new, old);
    let old_s = old.to_string();
    assert!(
        h.lines("exit")
            .iter()
            .any(|w| w[1] == "0" && w[2] == old_s && w[3..] == ["signal", "9"]),
        "{:#?}",
        h.0.seen
    );
    h.signal_parent(libc::SIGTERM);
    assert_eq!(h.wait_exit().code(), Some(0));
    // The replacement got the forwarded SIGTERM too.
    let terms: BTreeSet<String> = h.lines("term").into_iter().map(|w| w[2].clone()).collect();
    assert!(terms.contains(&new.to_string()), "{:#?}", h.0.seen);
    assert!(!alive(new));
}

#[test]
fn sigterm_is_forwarded_and_the_parent_exits_0() {
    let mut h = Helper::start("serve");
    let p0 = h.expect_child(0);
    let p1 = h.expect_child(1);
    h.signal_parent(libc::SIGTERM);
    let status = h.wait_exit();
    assert_eq!(status.code(), Some(0), "{status}");
    let terms: BTreeSet<(String, String)> = h
        .lines("term")
        .into_iter()
        .map(|w| (w[1].clone(), w[2].clone()))
        .collect();
    let expected: BTreeSet<(String, String)> = [("0", p0), ("1", p1)]
        .into_iter()
        .map(|(i, p)| (i.to_string(), p.to_string()))
        .collect();
    assert_eq!(terms, expected, "{:#?}", h.0.seen);
    assert_eq!(
        h.lines("spawn").len(),
        2,
        "nothing restarted: {:#?}",
        h.0.seen
    );
    assert!(!alive(p0) && !alive(p1));
}

#[test]
fn children_killed_by_the_forwarded_signal_are_not_restarted() {
    // The children keep SIGTERM's default action, which also proves the parent's handler was
    // reset in them: with it they would survive the signal and the parent would never exit.
    let mut h = Helper::start("dieterm");
    h.expect_child(0);
    h.expect_child(1);
    h.signal_parent(libc::SIGTERM);
    assert_eq!(h.wait_exit().code(), Some(0));
    let exits = h.lines("exit");
    assert_eq!(exits.len(), 2, "{:#?}", h.0.seen);
    assert!(
        exits.iter().all(|w| w[3..] == ["signal", "15"]),
        "{:#?}",
        h.0.seen
    );
    assert_eq!(
        h.lines("spawn").len(),
        2,
        "nothing restarted: {:#?}",
        h.0.seen
    );
}

#[test]
fn child_exiting_0_is_not_restarted() {
    let mut h = Helper::start("exit0");
    h.expect_child(0);
    let p1 = h.expect_child(1).to_string();
    // The restart decision follows on_exit at once, before the supervisor looks at signals
    // again: once this line is out, a restart would already be in the output.
    h.expect("exit of child 1", |w| {
        w[0] == "exit" && w[1] == "1" && w[2] == p1
    });
    h.signal_parent(libc::SIGTERM);
    assert_eq!(h.wait_exit().code(), Some(0));
    let spawned_1 = h.lines("spawn").iter().filter(|w| w[1] == "1").count();
    assert_eq!(spawned_1, 1, "{:#?}", h.0.seen);
    assert!(h
        .lines("exit")
        .iter()
        .any(|w| w[2] == p1 && w[3..] == ["code", "0"]));
}

#[test]
fn parent_exits_0_when_every_child_exited_0() {
    let mut h = Helper::start("cpus");
    let status = h.wait_exit();
    assert_eq!(status.code(), Some(0), "{:#?}", h.0.seen);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ids: BTreeSet<String> = h.lines("child").into_iter().map(|w| w[1].clone()).collect();
    let expected: BTreeSet<String> = (0..cpus).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected, "n = 0 means one per CPU: {:#?}", h.0.seen);
    assert_eq!(h.lines("spawn").len(), cpus, "{:#?}", h.0.seen);
}

#[test]
fn too_many_restarts_is_an_error_in_the_parent() {
    let mut h = Helper::start("crash");
    let status = h.wait_exit();
    assert_eq!(status.code(), Some(2), "{:#?}", h.0.seen);
    let errors = h.lines("error");
    assert_eq!(errors.len(), 1, "{:#?}", h.0.seen);
    assert!(errors[0].join(" ").contains("too many child restarts"));
    // Two first starts and max_restarts = 3 restarts; the fourth crash gives up.
    assert_eq!(h.lines("spawn").len(), 5, "{:#?}", h.0.seen);
}

#[test]
fn refuses_to_fork_with_a_loop_or_a_thread() {
    for (mode, why) in [("after-loop", "IOLoop"), ("after-thread", "threads")] {
        let mut h = Helper::start(mode);
        let status = h.wait_exit();
        assert_eq!(status.code(), Some(0), "{mode}: {:#?}", h.0.seen);
        let refused = h.lines("refused");
        assert_eq!(refused.len(), 1, "{mode}: {:#?}", h.0.seen);
        assert!(
            refused[0].join(" ").contains(why),
            "{mode}: {:#?}",
            h.0.seen
        );
        assert!(h.lines("forked").is_empty());
    }
}
