//! Steady-state heap allocations per request through the full Application (routing, handler,
//! context, automatic ETag). DESIGN.md §7 allows one; Squall makes none (pooled request and
//! context buffers, the ETag formatted into a reused buffer, the route found by one
//! allocation-free multi-pattern search). Allocation counts are deterministic, so this pins
//! zero: a change that adds one must say why.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use squall::prelude::*;
use squall::testing::TestServer;
use squall_tests::{count_this_thread, counted_allocations, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[derive(Clone, Default)]
struct Plaintext;

#[handler]
impl Plaintext {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.set_header("Content-Type", "text/plain")?;
        cx.write("Hello, World!");
        Ok(())
    }
}

#[derive(Clone, Default)]
struct User;

#[handler]
impl User {
    fn get(&mut self, cx: &mut Context, id: u64) -> Result<()> {
        cx.set_header("Content-Type", "text/plain")?;
        cx.write(if id == 42 { "forty-two" } else { "other" });
        Ok(())
    }
}

/// Headers from borrowed text (a stack buffer, a request header): copied into the context's
/// reused header buffer, so they allocate nothing either.
#[derive(Clone, Default)]
struct Borrowed;

#[handler]
impl Borrowed {
    fn get(&mut self, cx: &mut Context, id: u64) -> Result<()> {
        let mut buf = [0u8; 32];
        let mut w = &mut buf[..];
        write!(w, "user-{id}")?;
        let left = w.len();
        let text = std::str::from_utf8(&buf[..32 - left]).unwrap_or("");
        cx.set_header("X-User", text)?;
        // A request header's text, copied out of the request (which `cx` lends) to the stack.
        let mut host = [0u8; 16];
        let n = cx.host().len().min(16);
        host[..n].copy_from_slice(&cx.host().as_bytes()[..n]);
        cx.add_header("X-Host", std::str::from_utf8(&host[..n]).unwrap_or(""))?;
        cx.set_header("Content-Type", "text/plain")?;
        cx.write("borrowed!");
        Ok(())
    }
}

const REQ: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";
const REQ_USER: &[u8] = b"GET /user/42 HTTP/1.1\r\nHost: t\r\n\r\n";
const REQ_BORROWED: &[u8] = b"GET /borrowed/42 HTTP/1.1\r\nHost: t\r\n\r\n";

/// The application's server; allocations are counted on its thread from the moment it builds
/// the application.
fn start() -> TestServer {
    TestServer::start(|| {
        count_this_thread();
        Application::new(routes![
            (r"/plaintext", Plaintext),
            (r"/a/(\d+)", User),
            (r"/b/(\d+)", User),
            (r"/c/(\d+)", User),
            (r"/d/(\d+)", User),
            (r"/user/(\d+)", User),
            (r"/borrowed/(\d+)", Borrowed),
        ])
    })
}

/// Sends `n` requests one at a time on one keep-alive connection, reading each response.
fn run(s: &mut TcpStream, req: &[u8], n: usize) {
    let mut buf = [0u8; 4096];
    for _ in 0..n {
        s.write_all(req).unwrap();
        let mut got = 0;
        // Each response ends with its short body; read until the head and body are in.
        loop {
            let k = s.read(&mut buf[got..]).unwrap();
            assert!(k > 0, "server closed the connection");
            got += k;
            let text = &buf[..got];
            if let Some(h) = text.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&text[..h]).unwrap();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                if got >= h + 4 + len {
                    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                    assert!(
                        req != REQ_BORROWED
                            || head.contains("\r\nX-User: user-42\r\nX-Host: t\r\n"),
                        "{head}"
                    );
                    break;
                }
            }
        }
    }
}

#[test]
fn application_path_allocates_at_most_once_per_request() {
    let server = start();
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for (req, name) in [
        (REQ, "literal route"),
        (REQ_USER, "regex route with a path argument"),
        (REQ_BORROWED, "headers from borrowed text"),
    ] {
        run(&mut s, req, 500); // warm-up: pools and buffers reach their steady size
        let before = counted_allocations();
        const N: u64 = 2000;
        run(&mut s, req, N as usize);
        let per_request = (counted_allocations() - before) as f64 / N as f64;
        eprintln!("{name}: {per_request} allocations per request");
        assert_eq!(
            per_request, 0.0,
            "{name}: allocations per request (pinned at 0; budget 1)"
        );
    }
}
