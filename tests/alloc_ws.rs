//! Steady-state heap allocations per WebSocket message on the uncompressed path: zero.
//! Frames are decoded and unmasked in the stream's read buffer, the handler gets the message
//! as a slice of it, and the echo is encoded straight into the write buffer (both pooled).
//! Allocation counts are deterministic, so this pins zero: a change that adds one must say
//! why.

use std::io::{Read, Write};
use std::net::TcpStream;

use squall::prelude::*;
use squall::testing::TestServer;
use squall_tests::ws::{WsClient, OP_BINARY, OP_TEXT};
use squall_tests::{count_this_thread, counted_allocations, CountingAllocator, WsEcho};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// The echo server; allocations are counted on its thread from the moment it builds the
/// application.
fn start() -> TestServer {
    TestServer::start(|| {
        count_this_thread();
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
        let before = counted_allocations();
        const N: u64 = 2000;
        run(&mut c.stream, f, echo_len, N as usize);
        let per_message = (counted_allocations() - before) as f64 / N as f64;
        eprintln!("{name}: {per_message} allocations per message");
        assert_eq!(per_message, 0.0, "{name}: allocations per echoed message");
    }
}
