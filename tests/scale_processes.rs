//! `HttpServer::bind` then `start(n)` in a real program (`tests/bin/scale_app.rs`): two forked
//! workers serve one socket, each tagged with its `task_id()`; `SIGTERM` to the parent drains
//! both and every process exits 0.
//!
//! A worker blocked in a request cannot accept, so a connection made meanwhile is accepted by
//! the other worker: that makes the kernel's distribution observable without luck. Every wait
//! is bounded; the whole process group is SIGKILLed when the test ends.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use squall::testing::WireClient;
use squall_tests::app_process::{wait_refused, AppProcess};

const APP: &str = env!("CARGO_BIN_EXE_scale_app");

#[test]
fn two_forked_workers_serve_one_socket_and_drain_on_sigterm() {
    let mut app = AppProcess::start(APP, &["--processes", "2", "--grace-ms", "5000"]);
    let addr = app.expect_port();
    let mut pids = BTreeSet::new();
    let mut tasks = BTreeSet::new();
    for _ in 0..2 {
        let w = app.expect_word("ready");
        tasks.insert(w[1].clone());
        pids.insert(w[2].clone());
    }
    let expected: BTreeSet<String> = ["0", "1"].iter().map(|s| s.to_string()).collect();
    assert_eq!(tasks, expected, "{:#?}", app.seen);
    assert!(!pids.contains(&app.pid().to_string()), "the parent serves");

    // Block one worker, then connect again: the other worker answers.
    let mut blocked = WireClient::connect(addr);
    blocked.send(b"GET /block?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n");
    let busy = app.expect_word("block")[1].clone();
    let mut other = WireClient::connect(addr);
    other.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = other.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    let free = r.header("X-Task-Id").unwrap().to_owned();
    assert_ne!(free, busy, "a blocked worker accepted a connection");
    let r = blocked.read_response();
    assert_eq!(r.header("X-Task-Id"), Some(busy.as_str()));
    let served: BTreeSet<String> = [busy, free].into_iter().collect();
    assert_eq!(served, expected);

    // A slow request in flight in one worker, then SIGTERM to the parent only.
    let mut slow = WireClient::connect(addr);
    slow.send(b"GET /slow?ms=1000 HTTP/1.1\r\nHost: t\r\n\r\n");
    app.expect_word("slow");
    let t0 = Instant::now();
    app.signal(libc::SIGTERM);
    // The parent forwards it; every copy of the socket closes (the parent's too): refused,
    // while the slow request is still in flight.
    wait_refused(addr, Duration::from_secs(3));
    assert!(!slow.has_answered(), "refused only after the slow response");
    // Idle keep-alive connections (in either worker) are closed.
    other.assert_closed_within(Duration::from_secs(3));
    blocked.assert_closed_within(Duration::from_secs(3));
    assert!(
        !slow.has_answered(),
        "idle connections closed only at the end"
    );
    // The slow request completes.
    let r = slow.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, b"slow done");

    let status = app.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{status}; {:#?}", app.seen);
    assert!(t0.elapsed() < Duration::from_secs(5));
    let done: BTreeSet<String> = app
        .lines("done")
        .into_iter()
        .map(|w| w[1].clone())
        .collect();
    assert_eq!(
        done, expected,
        "both workers returned from serve_until_shutdown"
    );
}
