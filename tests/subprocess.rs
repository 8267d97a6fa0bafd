//! `Subprocess` with real programs: piped stdio as IOStreams, exit statuses, signals, many
//! children at once, and a loop that keeps running while it waits. Every wait is bounded.

use std::cell::Cell;
use std::future::Future;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use squall::ioloop::IOLoop;
use squall::process::Subprocess;
use squall::task::{sleep, spawn, with_timeout};

const LIMIT: Duration = Duration::from_secs(20);

/// Runs `f` on a fresh loop, failing the test if it takes longer than LIMIT.
fn run<F>(f: F) -> F::Output
where
    F: Future + 'static,
    F::Output: 'static,
{
    let l = IOLoop::new().unwrap();
    l.run_sync(async move { with_timeout(LIMIT, f).await.expect("timed out") })
}

fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(script).stdin(Stdio::null());
    c
}

#[test]
fn echo_stdout_reads_until_close() {
    let (out, status) = run(async {
        let p =
            Subprocess::spawn(Command::new("echo").arg("hello").stdout(Stdio::piped())).unwrap();
        assert!(p.stdin.is_none() && p.stderr.is_none());
        let out = p.stdout.as_ref().unwrap().read_until_close().await.unwrap();
        (out, p.wait_for_exit().await.unwrap())
    });
    assert_eq!(out, b"hello\n");
    assert!(status.success());
    assert_eq!(status.code(), Some(0));
}

#[test]
fn cat_echoes_what_stdin_was_given() {
    let out = run(async {
        let mut p = Subprocess::spawn(
            Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped()),
        )
        .unwrap();
        let stdin = p.stdin.take().unwrap();
        stdin.write(b"line one\nline two\n").await.unwrap();
        drop(stdin); // closes the pipe: cat sees end of file
        let out = p.stdout.as_ref().unwrap().read_until_close().await.unwrap();
        assert!(p.wait_for_exit().await.unwrap().success());
        out
    });
    assert_eq!(out, b"line one\nline two\n");
}

#[test]
fn a_megabyte_through_cat_needs_both_directions_at_once() {
    // Far more than a pipe holds: the write only completes while the read makes progress.
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let out = run(async move {
        let mut p = Subprocess::spawn(
            Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped()),
        )
        .unwrap();
        let stdin = p.stdin.take().unwrap();
        let writer = spawn(async move {
            stdin.write(&data).await.unwrap();
        });
        let out = p.stdout.as_ref().unwrap().read_until_close().await.unwrap();
        writer.await.unwrap();
        assert!(p.wait_for_exit().await.unwrap().success());
        out
    });
    assert!(out == expected, "got {} bytes", out.len());
}

#[test]
fn stdout_and_stderr_are_separate_streams() {
    let (out, err) = run(async {
        let p = Subprocess::spawn(
            sh("echo out; echo err >&2")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
        .unwrap();
        let out = p.stdout.as_ref().unwrap().read_until_close().await.unwrap();
        let err = p.stderr.as_ref().unwrap().read_until_close().await.unwrap();
        p.wait_for_exit().await.unwrap();
        (out, err)
    });
    assert_eq!(out, b"out\n");
    assert_eq!(err, b"err\n");
}

#[test]
fn exit_status_is_reported_to_every_waiter() {
    let (a, b, later) = run(async {
        let p = Subprocess::spawn(&mut sh("exit 3")).unwrap();
        let (w1, w2) = (p.wait_for_exit(), p.wait_for_exit());
        let t = spawn(w2);
        let a = w1.await.unwrap();
        let b = t.await.unwrap().unwrap();
        (a, b, p.wait_for_exit().await.unwrap())
    });
    assert_eq!(a.code(), Some(3));
    assert!(!a.success());
    assert_eq!(b, a);
    assert_eq!(later, a);
}

#[test]
fn a_child_killed_by_a_signal_reports_the_signal() {
    let (status, pid) = run(async {
        let p = Subprocess::spawn(Command::new("sleep").arg("30").stdin(Stdio::null())).unwrap();
        assert_eq!(p.exit_status(), None);
        p.kill(libc::SIGKILL).unwrap();
        let st = p.wait_for_exit().await.unwrap();
        assert_eq!(p.exit_status(), Some(st));
        // Reaped: the pid may belong to someone else now, so kill must not send anything.
        p.kill(libc::SIGKILL).unwrap();
        (st, p.pid())
    });
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(status.code(), None);
    assert!(pid > 0);
}

#[test]
fn many_concurrent_children_are_all_reaped() {
    let results = run(async {
        let procs: Vec<(i32, Subprocess)> = (0..8)
            .map(|i| {
                // Staggered exits, some in the same instant.
                let script = format!("sleep 0.0{}; exit {}", i % 3, 10 + i);
                (10 + i, Subprocess::spawn(&mut sh(&script)).unwrap())
            })
            .collect();
        let mut results = Vec::new();
        // Await in reverse order: later children may finish first.
        for (code, p) in procs.into_iter().rev() {
            let st = p.wait_for_exit().await.unwrap();
            results.push((code, st.code(), p.pid()));
        }
        results
    });
    for (want, got, pid) in results {
        assert_eq!(got, Some(want));
        // Reaped by the loop: nothing left for anyone else to collect.
        let mut status = 0;
        // SAFETY: waitpid with WNOHANG on a pid we started.
        let rc = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
        assert_eq!(rc, -1, "pid {pid} was not reaped");
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::ECHILD)
        );
    }
}

#[test]
fn the_loop_keeps_running_while_a_child_runs() {
    let (ticks, elapsed) = run(async {
        let t0 = Instant::now();
        let ticks = Rc::new(Cell::new(0u32));
        let t2 = ticks.clone();
        let ticker = spawn(async move {
            loop {
                sleep(Duration::from_millis(20)).await;
                t2.set(t2.get() + 1);
            }
        });
        let p = Subprocess::spawn(Command::new("sleep").arg("0.3").stdin(Stdio::null())).unwrap();
        assert!(p.wait_for_exit().await.unwrap().success());
        ticker.abort();
        (ticks.get(), t0.elapsed())
    });
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    // 15 ticks fit in 300 ms; a blocked loop would manage none.
    assert!(ticks >= 5, "only {ticks} timer ticks while waiting");
}

#[test]
fn a_dropped_subprocess_is_still_reaped() {
    let gone = run(async {
        let p = Subprocess::spawn(&mut sh("exit 0")).unwrap();
        let pid = p.pid();
        drop(p);
        // The zombie must disappear (reaped by the loop) without anyone waiting for it.
        let stat = format!("/proc/{pid}/stat");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::path::Path::new(&stat).exists() && Instant::now() < deadline {
            sleep(Duration::from_millis(10)).await;
        }
        !std::path::Path::new(&stat).exists()
    });
    assert!(gone, "the dropped child was left a zombie");
}

#[test]
fn spawning_a_missing_program_is_an_error() {
    let l = IOLoop::new().unwrap();
    l.make_current();
    let e = Subprocess::spawn(&mut Command::new("/nonexistent/squall-test-program")).unwrap_err();
    IOLoop::clear_current();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
}
