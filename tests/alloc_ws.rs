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
use std::time::Duration;

use squall::prelude::*;

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

#[derive(Clone, Default)]
struct Echo;

#[websocket_handler]
impl Echo {
    fn on_message(&mut self, ws: &WebSocket, message: Message<'_>) -> Result<()> {
        ws.write_message(message)?;
        Ok(())
    }
}

fn start() -> (std::net::SocketAddr, squall::ioloop::IOLoopHandle) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        COUNT_HERE.with(|c| c.set(true));
        let l = IOLoop::new().unwrap();
        l.make_current();
        let app = Application::new(routes![(r"/echo", Echo)]);
        let server = app.into_server();
        server.listen(0, "127.0.0.1").unwrap();
        tx.send((server.local_addrs()[0], l.handle())).unwrap();
        l.start();
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// A masked frame (as a client must send it).
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    }
    let mask = [0x11, 0x22, 0x33, 0x44];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
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
    let (addr, handle) = start();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(
        b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let text = frame(1, &[b'x'; 32]);
    let binary = frame(2, &vec![7u8; 16 * 1024]);
    for (f, echo_len, name) in [
        (&text, 2 + 32, "32-byte text"),
        (&binary, 4 + 16 * 1024, "16 KiB binary"),
    ] {
        run(&mut s, f, echo_len, 500); // warm-up: pools reach their steady size
        let before = ALLOCS.load(Ordering::SeqCst);
        const N: u64 = 2000;
        run(&mut s, f, echo_len, N as usize);
        let per_message = (ALLOCS.load(Ordering::SeqCst) - before) as f64 / N as f64;
        eprintln!("{name}: {per_message} allocations per message");
        assert_eq!(per_message, 0.0, "{name}: allocations per echoed message");
    }
    handle.stop();
}
