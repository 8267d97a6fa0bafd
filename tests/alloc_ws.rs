//! Steady-state heap allocations per WebSocket message on the uncompressed path: zero.
//! Frames are decoded and unmasked in the stream's read buffer, the handler gets the message
//! as a slice of it, and the echo is encoded straight into the write buffer (both pooled).
//! Allocation counts are deterministic, so this pins zero: a change that adds one must say
//! why.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};

use squall::prelude::*;
use squall::testing::TestServer;
use squall_tests::ws::{WsClient, OP_BINARY, OP_TEXT};
use squall_tests::WsEcho;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNT_HERE.with(|c| c.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarding the caller's layout to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNT_HERE.with(|c| c.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The echo server; allocations are counted on its thread from the moment it builds the
/// application.
fn start() -> TestServer {
    TestServer::start(|| {
        COUNT_HERE.with(|c| c.set(true));
        Application::new(routes![(r"/echo", WsEcho::default())])
    })
}

/// Sends `frame` `n` times, one at a time, reading each echo (`echo_len` bytes on the wire).
fn run(s: &mut TcpStream, frame: &[u8], echo_len: usize, n: usize) {
    let mut buf = vec![0u8; echo_len];
    for _ in 0..n {
        s.write_all(frame).unwrap();
        s.read_exact(&mut buf).unwrap();
    }
}

#[test]
fn echoing_a_message_allocates_nothing() {
    let server = start();
    let mut c = WsClient::connect(server.addr(), "/echo");
    let text = c.encode(true, 0, OP_TEXT, &[b'x'; 32], true);
    let binary = c.encode(true, 0, OP_BINARY, &vec![7u8; 16 * 1024], true);
    for (f, echo_len, name) in [
        (&text, 2 + 32, "32-byte text"),
        (&binary, 4 + 16 * 1024, "16 KiB binary"),
    ] {
        run(&mut c.stream, f, echo_len, 500); // warm-up: pools reach their steady size
        let before = ALLOCS.load(Ordering::SeqCst);
        const N: u64 = 2000;
        run(&mut c.stream, f, echo_len, N as usize);
        let per_message = (ALLOCS.load(Ordering::SeqCst) - before) as f64 / N as f64;
        eprintln!("{name}: {per_message} allocations per message");
        assert_eq!(per_message, 0.0, "{name}: allocations per echoed message");
    }
}
