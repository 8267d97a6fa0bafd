//! `BoundServer::start_threads`: n loops on n threads accepting from one listening socket.
//!
//! To see the kernel hand connections to different threads deterministically, each request
//! blocks its thread until the test releases it: a blocked thread cannot accept, so the next
//! connection must be accepted by another one. Every wait is bounded.

use std::collections::BTreeSet;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use squall::http1::HttpServerOptions;
use squall::http1::{Request, Responder};
use squall::httpserver::HttpServer;
use squall::testing::WireClient;
use squall_tests::app_process::wait_refused;

const LIMIT: Duration = Duration::from_secs(10);

/// Names of the threads that entered `/block`, and whether they may leave.
struct Gate {
    entered: Vec<String>,
    open: bool,
}

static GATE: Mutex<Gate> = Mutex::new(Gate {
    entered: Vec::new(),
    open: false,
});
static CHANGED: Condvar = Condvar::new();

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_owned()
}

/// `/block` waits (bounded) for the gate to open; everything answers with `X-Thread`.
fn delegate(req: Request, res: Responder) {
    let name = thread_name();
    if req.path() == "/block" {
        let mut g = GATE.lock().unwrap();
        g.entered.push(name.clone());
        CHANGED.notify_all();
        let deadline = Instant::now() + LIMIT;
        while !g.open && Instant::now() < deadline {
            g = CHANGED.wait_timeout(g, LIMIT).unwrap().0;
        }
    }
    res.respond(200, &[("X-Thread", &name)], b"ok");
}

fn wait_entered(n: usize) {
    let mut g = GATE.lock().unwrap();
    let deadline = Instant::now() + LIMIT;
    while g.entered.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {:?} entered, expected {n}",
            g.entered
        );
        g = CHANGED.wait_timeout(g, LIMIT).unwrap().0;
    }
}

#[test]
fn every_thread_accepts_and_serves_then_all_shut_down() {
    const N: usize = 3;
    let options = HttpServerOptions {
        access_log: false,
        ..HttpServerOptions::default()
    };
    let servers = HttpServer::bind(0, "127.0.0.1")
        .unwrap()
        .options(options)
        .start_threads(N, || delegate)
        .unwrap();
    assert_eq!(servers.thread_count(), N);
    let addr = servers.local_addrs()[0];

    // Connection k is accepted while threads 0..k are blocked: by a thread not yet used.
    let mut clients = Vec::new();
    for k in 0..N {
        let mut c = WireClient::connect(addr);
        c.send(b"GET /block HTTP/1.1\r\nHost: t\r\n\r\n");
        wait_entered(k + 1);
        clients.push(c);
    }
    {
        let mut g = GATE.lock().unwrap();
        g.open = true;
        CHANGED.notify_all();
    }
    let mut threads = BTreeSet::new();
    for c in &mut clients {
        let r = c.read_response();
        assert_eq!(r.status, 200, "{r:?}");
        threads.insert(r.header("X-Thread").unwrap().to_owned());
    }
    let expected: BTreeSet<String> = (0..N).map(|i| format!("squall-http-{i}")).collect();
    assert_eq!(
        threads, expected,
        "each connection went to a different thread"
    );

    // Every thread keeps serving its keep-alive connection.
    for c in &mut clients {
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(c.read_response().status, 200);
    }

    // Shutdown reaches every thread: idle connections close, the shared socket is closed
    // once every thread has closed its copy, and join returns.
    let t0 = Instant::now();
    servers.shutdown_handle().shutdown();
    for c in &mut clients {
        c.assert_closed_within(Duration::from_secs(5));
    }
    servers.join().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5));
    wait_refused(addr, Duration::from_secs(1));
}

#[test]
fn a_delegate_factory_that_panics_is_an_error_not_a_hang() {
    let bound = HttpServer::bind(0, "127.0.0.1").unwrap();
    let addr = bound.local_addrs()[0];
    let r = bound.start_threads(2, || -> fn(Request, Responder) {
        panic!("no delegate today (expected by the test)")
    });
    let err = r.unwrap_err();
    assert!(err.to_string().contains("panicked"), "{err}");
    // Nothing listens any more.
    wait_refused(addr, Duration::from_secs(1));
}
