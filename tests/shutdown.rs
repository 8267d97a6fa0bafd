//! Graceful shutdown: `SIGTERM` to a real server process (`tests/bin/scale_app.rs`) lets the
//! request in flight finish, refuses new connections, closes idle keep-alive connections and
//! exits 0 within the grace period; a request slower than the grace period is cut off and the
//! process still exits 0. In-process: a `ShutdownHandle` from another thread does the same
//! and completes `wait_closed`.
//!
//! Every wait is bounded; the child's process group is SIGKILLed when a test ends.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use squall::http1::HttpServerOptions;
use squall::http1::{Request, Responder};
use squall::httpserver::HttpServer;
use squall::ioloop::IOLoop;
use squall::testing::WireClient;
use squall_tests::app_process::{wait_refused, AppProcess};
use squall_tests::{options, ClosingServer};

const APP: &str = env!("CARGO_BIN_EXE_scale_app");

fn start(args: &[&str]) -> (AppProcess, SocketAddr) {
    let mut app = AppProcess::start(APP, args);
    let addr = app.expect_port();
    app.expect_word("ready");
    (app, addr)
}

#[test]
fn sigterm_finishes_the_request_in_flight_refuses_new_connections_and_exits_0() {
    let grace = Duration::from_secs(5);
    let (mut app, addr) = start(&["--grace-ms", "5000"]);

    // An idle keep-alive connection, and a request that takes 1 s.
    let mut idle = WireClient::connect(addr);
    idle.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = idle.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("Connection"), None, "kept alive: {r:?}");
    let mut slow = WireClient::connect(addr);
    slow.send(b"GET /slow?ms=1000 HTTP/1.1\r\nHost: t\r\n\r\n");
    app.expect_word("slow");

    let t0 = Instant::now();
    app.signal(libc::SIGTERM);

    // The listener closes at once: refused while the slow request is still being handled.
    wait_refused(addr, Duration::from_secs(3));
    assert!(
        !slow.has_answered(),
        "refusal came only after the slow response"
    );
    // The idle keep-alive connection is closed, also before the slow request ends.
    idle.assert_closed_within(Duration::from_secs(3));
    assert!(
        !slow.has_answered(),
        "idle connection closed only at the end"
    );

    // The request in flight completes, announcing the close, and the connection then closes.
    let r = slow.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, b"slow done");
    assert_eq!(r.header("Connection"), Some("close"), "{r:?}");
    slow.assert_closed();

    let status = app.wait_exit(grace);
    assert_eq!(status.code(), Some(0), "{status}; {:#?}", app.seen);
    assert!(t0.elapsed() < grace, "exit took {:?}", t0.elapsed());
    assert_eq!(app.lines("done").len(), 1, "{:#?}", app.seen);
}

#[test]
fn a_request_slower_than_the_grace_period_is_cut_off_and_the_process_exits_0() {
    let (mut app, addr) = start(&["--grace-ms", "300"]);
    let mut slow = WireClient::connect(addr);
    slow.send(b"GET /slow?ms=20000 HTTP/1.1\r\nHost: t\r\n\r\n");
    app.expect_word("slow");

    let t0 = Instant::now();
    app.signal(libc::SIGTERM);
    // Closed without an answer once the grace period is over (not before it).
    slow.assert_closed_within(Duration::from_secs(5));
    let closed = t0.elapsed();
    assert!(
        closed >= Duration::from_millis(250),
        "closed before the grace period: {closed:?}"
    );
    let status = app.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{status}; {:#?}", app.seen);
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "exit took {:?}",
        t0.elapsed()
    );
}

#[test]
fn sigint_also_shuts_down_gracefully() {
    let (mut app, addr) = start(&["--grace-ms", "5000"]);
    let mut c = WireClient::connect(addr);
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
    app.signal(libc::SIGINT);
    c.assert_closed_within(Duration::from_secs(3));
    wait_refused(addr, Duration::from_secs(3));
    assert_eq!(app.wait_exit(Duration::from_secs(5)).code(), Some(0));
}

#[test]
fn threads_mode_drains_every_thread_on_sigterm() {
    let (mut app, addr) = start(&["--threads", "2", "--grace-ms", "5000"]);
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut c = WireClient::connect(addr);
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(c.read_response().status, 200);
        idle.push(c);
    }
    let mut slow = WireClient::connect(addr);
    slow.send(b"GET /slow?ms=1000 HTTP/1.1\r\nHost: t\r\n\r\n");
    app.expect_word("slow");
    let t0 = Instant::now();
    app.signal(libc::SIGTERM);
    wait_refused(addr, Duration::from_secs(3));
    for c in &mut idle {
        c.assert_closed_within(Duration::from_secs(3));
    }
    assert!(!slow.has_answered(), "drained only after the slow response");
    let r = slow.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, b"slow done");
    let status = app.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{status}; {:#?}", app.seen);
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(app.lines("done").len(), 1, "{:#?}", app.seen);
}

/// A server on its own thread whose `/slow` answers after 500 ms (an async wait), started
/// and stopped through a `ShutdownHandle`; it reports when `/slow` starts.
#[test]
fn shutdown_handle_from_another_thread_drains_and_completes_wait_closed() {
    let (started_tx, started) = mpsc::channel::<()>();
    let mut server = ClosingServer::start(
        move || {
            let options = HttpServerOptions {
                shutdown_grace: Duration::from_secs(5),
                ..options()
            };
            let delegate = move |req: Request, res: Responder| {
                if req.path() == "/slow" {
                    let _ = started_tx.send(());
                    squall::task::spawn(async move {
                        squall::task::sleep(Duration::from_millis(500)).await;
                        res.respond(200, &[], b"slow done");
                    });
                } else {
                    res.respond(200, &[], b"hi");
                }
            };
            HttpServer::on(&IOLoop::current(), Box::new(delegate), options)
        },
        |server| {
            assert!(server.is_shutting_down());
            assert_eq!(server.connection_count(), 0);
        },
    );
    let (addr, handle) = (server.addr(), server.shutdown_handle());
    let mut slow = WireClient::connect(addr);
    slow.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    started.recv_timeout(Duration::from_secs(10)).unwrap();

    let t0 = Instant::now();
    let h2 = handle.clone();
    std::thread::spawn(move || h2.shutdown()).join().unwrap();
    handle.shutdown(); // idempotent
    wait_refused(addr, Duration::from_secs(3));
    assert!(!slow.has_answered());
    let r = slow.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("Connection"), Some("close"), "{r:?}");
    slow.assert_closed();

    // The loop returns from run_sync(wait_closed) once the last connection is gone.
    server.wait_closed(Duration::from_secs(5));
    assert!(t0.elapsed() < Duration::from_secs(5));
    // A handle to a server that is gone does nothing.
    handle.shutdown();
}
