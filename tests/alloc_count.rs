//! The raw plaintext path makes zero heap allocations per request in steady state.
//!
//! A counting `#[global_allocator]` counts allocations (alloc, alloc_zeroed, realloc) only on
//! threads that opted in, in a per-thread counter: the server thread opts in after a warm-up,
//! and the count over N more requests must not move. Other tests of this binary run their own
//! servers on their own threads, so they cannot disturb each other's counts.
//!
//! To find an allocation, run with `SQUALL_ALLOC_TRACE=1`: each counted allocation prints a
//! backtrace to stderr.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use squall::http1::{Request, Responder};
use squall::ioloop::Trigger;
use squall::testing::{TestServer, WireClient, READ_TIMEOUT};
use squall_tests::options;

struct Counting;

thread_local! {
    /// Whether this thread's allocations are counted.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// This thread's counted allocations.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

/// 0 = unknown, 1 = off, 2 = print a backtrace per counted allocation.
static TRACE: AtomicU8 = AtomicU8::new(0);

fn note() {
    // `try_with`: the allocator may run while thread locals are being torn down.
    let on = COUNTING.try_with(Cell::get).unwrap_or(false);
    if !on {
        return;
    }
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    if TRACE.load(Ordering::Relaxed) == 2 {
        // Capturing allocates: stop counting meanwhile.
        COUNTING.with(|c| c.set(false));
        eprintln!(
            "counted allocation:\n{}",
            std::backtrace::Backtrace::force_capture()
        );
        COUNTING.with(|c| c.set(true));
    }
}

// SAFETY: forwards every call to the system allocator unchanged; `note` only touches
// const-initialised thread locals without destructors and an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// TechEmpower's plaintext, as `examples/bench.rs` answers it.
fn plaintext(req: Request, res: Responder) {
    match req.path() {
        "/plaintext" => res.respond(200, &[("Content-Type", "text/plain")], b"Hello, World!"),
        _ => res.respond(404, &[("Content-Type", "text/plain")], b"Not Found"),
    }
}

const REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\n\r\n";
const WARM_UP: usize = 500;
const N: usize = 2000;

fn start(trigger: Trigger) -> TestServer {
    if TRACE.load(Ordering::Relaxed) == 0 {
        let on = std::env::var_os("SQUALL_ALLOC_TRACE").is_some_and(|v| v != "0");
        TRACE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
    }
    let mut o = options();
    o.access_log = false;
    TestServer::start_on(trigger, || plaintext, o)
}

/// Turns counting on for the server thread.
fn opt_in(server: &TestServer) {
    server.run_on_loop(|| COUNTING.with(|c| c.set(true)));
}

/// Reads the server thread's counter. Allocation-free on the server side: the value comes
/// back through atomics (the callback's box is allocated here, on the test thread).
fn server_allocs(server: &TestServer) -> u64 {
    let slot = Arc::new((AtomicBool::new(false), AtomicU64::new(0)));
    let s2 = slot.clone();
    server
        .loop_handle()
        .add_callback(move || {
            s2.1.store(ALLOCS.with(Cell::get), Ordering::SeqCst);
            s2.0.store(true, Ordering::SeqCst);
        })
        .expect("server loop closed");
    let t0 = Instant::now();
    while !slot.0.load(Ordering::SeqCst) {
        assert!(t0.elapsed() < READ_TIMEOUT, "server loop did not answer");
        std::thread::sleep(Duration::from_millis(1));
    }
    slot.1.load(Ordering::SeqCst)
}

fn one_by_one(c: &mut WireClient, n: usize) {
    for _ in 0..n {
        c.send(REQUEST);
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"Hello, World!");
    }
}

fn pipelined(c: &mut WireClient, n: usize, depth: usize) {
    let batch = REQUEST.repeat(depth);
    for _ in 0..n / depth {
        c.send(&batch);
        for _ in 0..depth {
            let r = c.read_response();
            assert_eq!(r.status, 200);
            assert_eq!(r.body, b"Hello, World!");
        }
    }
}

/// Sends requests until the `Date` header changes (bounded).
fn date_rollover(c: &mut WireClient) {
    c.send(REQUEST);
    let first = c.read_response().header("Date").unwrap().to_owned();
    let t0 = Instant::now();
    loop {
        assert!(t0.elapsed() < Duration::from_secs(3), "Date never changed");
        std::thread::sleep(Duration::from_millis(20));
        c.send(REQUEST);
        if c.read_response().header("Date") != Some(first.as_str()) {
            break;
        }
    }
}

fn zero_allocations(trigger: Trigger, run: fn(&mut WireClient, usize)) {
    let server = start(trigger);
    let mut c = server.connect();
    run(&mut c, WARM_UP);
    opt_in(&server);
    // A few counted requests settle anything the opt-in itself left behind.
    run(&mut c, 64);
    let before = server_allocs(&server);
    run(&mut c, N);
    // Across a second boundary too: the cached Date is refreshed without allocating.
    date_rollover(&mut c);
    let after = server_allocs(&server);
    assert_eq!(
        after - before,
        0,
        "{} heap allocations on the server thread over {N} requests (run with \
         SQUALL_ALLOC_TRACE=1 to see where)",
        after - before
    );
}

#[test]
fn keep_alive_requests_allocate_nothing() {
    zero_allocations(Trigger::Level, one_by_one);
}

#[test]
fn keep_alive_requests_allocate_nothing_edge_triggered() {
    zero_allocations(Trigger::Edge, one_by_one);
}

#[test]
fn pipelined_requests_allocate_nothing() {
    zero_allocations(Trigger::Level, |c, n| pipelined(c, n, 16));
}

#[test]
fn pipelined_requests_allocate_nothing_edge_triggered() {
    zero_allocations(Trigger::Edge, |c, n| pipelined(c, n, 16));
}

#[test]
fn the_counter_counts() {
    // The harness itself: an allocation on an opted-in thread is seen.
    COUNTING.with(|c| c.set(true));
    let before = ALLOCS.with(Cell::get);
    let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(10));
    let after = ALLOCS.with(Cell::get);
    COUNTING.with(|c| c.set(false));
    drop(v);
    assert_eq!(after - before, 1);
}
