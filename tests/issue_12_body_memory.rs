//! Issue #12: the memory a request body holds follows the bytes that arrived, not the length
//! its head announces. A head with `Content-Length: 1048576` and no body used to make the
//! server reserve 1 MiB for it at once, so a client opening many such connections made the
//! server hold a MiB per connection for nothing.
//!
//! A global allocator counts the bytes live in the process (every thread: the server's and the
//! test's). `Expect: 100-continue` makes the server say when it has taken the head and is
//! ready for the body, which is the moment it used to reserve.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use squall::testing::{TestServer, WireClient};
use squall_tests::{echo, options};

struct Counting;

/// Bytes allocated and not yet freed, by everything in this process.
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; the counter is an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const CONNECTIONS: usize = 64;
const ANNOUNCED: usize = 1 << 20;

fn head(len: usize) -> Vec<u8> {
    format!("POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\nExpect: 100-continue\r\n\r\n")
        .into_bytes()
}

/// Sends `head(len)` and waits for the server's `100 Continue`.
fn announce(server: &TestServer, len: usize) -> WireClient {
    let mut c = server.connect();
    c.send(&head(len));
    let want = b"HTTP/1.1 100 Continue\r\n\r\n";
    let got = c.read_bytes(want.len());
    assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&got));
    c
}

#[test]
fn announced_bodies_that_never_come_hold_no_memory() {
    let server = TestServer::start_with(|| echo, options());
    // Warm up: pools, buffers and the first connection's allocations.
    for _ in 0..2 {
        let mut c = announce(&server, 5);
        c.send(b"hello");
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"hello");
    }
    let before = LIVE.load(Ordering::Relaxed);
    let clients: Vec<WireClient> = (0..CONNECTIONS)
        .map(|_| announce(&server, ANNOUNCED))
        .collect();
    let held = LIVE.load(Ordering::Relaxed) - before;
    // Each connection costs its stream, read buffer and request (some KiB); reserving the
    // announced length cost 64 MiB here.
    let bound = (CONNECTIONS * 64 * 1024) as isize;
    assert!(
        held < bound,
        "{CONNECTIONS} connections announcing {ANNOUNCED} bytes each hold {held} bytes (bound {bound})"
    );
    drop(clients);
    server.assert_serves();
}

#[test]
fn a_body_that_does_arrive_in_pieces_is_whole() {
    let server = TestServer::start_with(|| echo, options());
    for len in [1, 1000, 70_000, 600_000] {
        let mut c = announce(&server, len);
        let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        for piece in body.chunks(16 * 1024 + 3) {
            c.send(piece);
        }
        let r = c.read_response();
        assert_eq!(r.status, 200, "{len}");
        assert_eq!(r.body.len(), len);
        assert!(r.body == body, "body of {len} bytes differs");
    }
}
