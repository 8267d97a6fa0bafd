//! Shared helpers for Squall's black-box integration tests.
//!
//! The server and the raw client are the public [`squall::testing`] module's
//! ([`TestServer`], [`WireClient`], [`WireResponse`]): the project tests with what its users
//! get.
//! This crate adds only what Squall's own test setup needs:
//! - [`options`]: server options with the access log off.
//! - [`echo`], [`echo_expected`], [`assert_rejected`], [`roundtrip`]: the raw HTTP tests'
//!   delegate and checks; [`WsEcho`], [`MethodEcho`]: the WebSocket and HTTP client tests'
//!   echo handlers.
//! - [`CountingAllocator`]: the allocation tests' global allocator, counting the allocations
//!   of the threads that opted in.
//! - [`app_process::AppProcess`]: a server program run as a child process (its own process
//!   group, killed when the test ends), for signals, forking and nginx.
//! - [`ExampleServer`]: one of the example programs (`examples/*.rs`, which take `--port` and
//!   report no port of their own) run as a child process on a free port, found ready when it
//!   accepts, killed on drop (with [`ScratchDir`] for the files it needs).
//! - [`ClosingServer`]: an in-process server whose thread ends when its graceful shutdown
//!   has completed (for the tests of `ShutdownHandle`).
//! - [`fake_server::FakeServer`]: a raw server answering with a test's exact bytes (for the
//!   HTTP client's tests), counting connections.
//! - [`nginx_runner::Nginx`]: nginx as a child process with a test's configuration.
//! - [`showcase_support`]: the showcase example started, checked and read as its suites do.
//! - [`capture_logs`]: the test binary's logger, keeping what the library logs for checks.
//! - [`ws::WsClient`]: a raw WebSocket client (any frame, exact bytes, every read bounded).
//! - [`send_while_reading`]: a request whose answer may come before its body is all sent.
//! - [`gunzip`], [`unzlib`]: compressed bodies decoded.
//! - [`run_sync`]: a future run to completion on a fresh loop (for the clients under test).

mod alloc_counter;
pub mod app_process;
mod closing_server;
mod example_server;
pub mod fake_server;
mod log_capture;
pub mod nginx_runner;
pub mod showcase_support;
pub mod ws;

pub use alloc_counter::{count_this_thread, counted_allocations, CountingAllocator};
pub use closing_server::ClosingServer;
pub use example_server::{
    example_binary, workspace_root, ExampleBuilder, ExampleServer, ScratchDir,
};
pub use log_capture::{capture_logs, LogCapture};

use std::future::Future;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};

use squall::http1::{HttpServerOptions, Request, Responder};
use squall::ioloop::IOLoop;
use squall::prelude::{handler, websocket_handler, Context, Message, WebSocket};
use squall::testing::{TestServer, WireClient, WireResponse};
use squall::websocket::CompressionOptions;

/// Options for tests: no access log, everything else default.
pub fn options() -> HttpServerOptions {
    HttpServerOptions {
        access_log: false,
        ..HttpServerOptions::default()
    }
}

/// The standard test delegate: answers 200 with the request body as its body, and
/// `X-Method`, `X-Uri`, `X-Version`, `X-Body-Len`, `X-Remote-Ip` and `X-Protocol` headers.
pub fn echo(req: Request, res: Responder) {
    let len = req.body().len().to_string();
    let version = match req.version() {
        squall::http1::Version::Http10 => "1.0",
        squall::http1::Version::Http11 => "1.1",
    };
    let ip = req.remote_ip().to_string();
    res.respond(
        200,
        &[
            ("X-Method", req.method_str()),
            ("X-Uri", req.uri()),
            ("X-Version", version),
            ("X-Body-Len", &len),
            ("X-Remote-Ip", &ip),
            ("X-Protocol", req.protocol()),
        ],
        req.body(),
    );
}

/// The standard WebSocket test handler: sends every message back as it came. Compressed
/// (permessage-deflate, when the client offers it) with `compression`; not by default.
#[derive(Clone, Debug, Default)]
pub struct WsEcho {
    /// What [`get_compression_options`](squall::websocket::WebSocketHandler::get_compression_options)
    /// answers.
    pub compression: Option<CompressionOptions>,
}

#[websocket_handler]
impl WsEcho {
    fn on_message(&mut self, ws: &WebSocket, message: Message<'_>) -> squall::web::Result<()> {
        ws.write_message(message)?;
        Ok(())
    }

    fn get_compression_options(&mut self, _cx: &mut Context) -> Option<CompressionOptions> {
        self.compression
    }
}

/// `data` decoded from gzip (a `Content-Encoding: gzip` body).
///
/// # Panics
///
/// If it is not valid gzip (a test failure).
pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("a valid gzip body");
    out
}

/// `data` decoded from zlib (a `Content-Encoding: deflate` body).
///
/// # Panics
///
/// If it is not valid zlib (a test failure).
pub fn unzlib(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .read_to_end(&mut out)
        .expect("a valid zlib body");
    out
}

/// The HTTP client tests' echo handler: answers `METHOD|content-type|body` (`-` for no
/// `Content-Type`) to GET, POST, PUT and DELETE, and `X-Method: HEAD` to HEAD.
#[derive(Clone, Debug, Default)]
pub struct MethodEcho;

#[handler]
impl MethodEcho {
    fn get(&mut self, cx: &mut Context) -> squall::web::Result<()> {
        self.echo(cx)
    }
    fn post(&mut self, cx: &mut Context) -> squall::web::Result<()> {
        self.echo(cx)
    }
    fn put(&mut self, cx: &mut Context) -> squall::web::Result<()> {
        self.echo(cx)
    }
    fn delete(&mut self, cx: &mut Context) -> squall::web::Result<()> {
        self.echo(cx)
    }
    fn head(&mut self, cx: &mut Context) -> squall::web::Result<()> {
        cx.set_header("X-Method", "HEAD")?;
        Ok(())
    }
}

impl MethodEcho {
    fn echo(&mut self, cx: &mut Context) -> squall::web::Result<()> {
        let ct = cx.header("Content-Type").unwrap_or("-").to_owned();
        let body = String::from_utf8_lossy(cx.body()).into_owned();
        cx.write(format!("{}|{ct}|{body}", cx.method()));
        Ok(())
    }
}

/// Sends one request on a fresh connection and reads its response.
pub fn roundtrip(addr: SocketAddr, request: &[u8]) -> (WireClient, WireResponse) {
    let mut c = WireClient::connect(addr);
    c.send(request);
    let r = c.read_response();
    (c, r)
}

/// Runs `f` to completion on a fresh loop on this thread (for the clients under test:
/// `HttpClient`, `websocket_connect`, `IOStream`).
///
/// # Panics
///
/// If the loop cannot be created.
pub fn run_sync<T: 'static>(f: impl Future<Output = T> + 'static) -> T {
    IOLoop::new().expect("a new loop").run_sync(f)
}

/// Sends `request` on a fresh connection and expects exactly one response with `status`,
/// `Connection: close` and then the close; then checks a fresh connection is served.
pub fn assert_rejected(server: &TestServer, request: &[u8], status: u16) -> WireResponse {
    let mut c = server.connect();
    // The server may answer and close before it has read all of `request`.
    let _ = c.try_send(request);
    let r = c.read_response();
    assert_eq!(
        r.status,
        status,
        "request {:?} answered {r:?}",
        String::from_utf8_lossy(&request[..request.len().min(200)])
    );
    assert_eq!(r.header("Connection"), Some("close"), "{r:?}");
    assert_eq!(r.header("Content-Length"), Some("0"), "{r:?}");
    c.assert_closed();
    server.assert_serves();
    r
}

/// The exact response [`echo`] gives (with `Date` normalized to `<date>`): `connection` is the
/// `Connection` header the server is expected to add (`None`, `Some("close")`,
/// `Some("keep-alive")`).
pub fn echo_expected(
    method: &str,
    uri: &str,
    version: &str,
    body: &[u8],
    connection: Option<&str>,
) -> String {
    let mut s = format!(
        "HTTP/1.1 200 OK\r\nX-Method: {method}\r\nX-Uri: {uri}\r\nX-Version: {version}\r\n\
         X-Body-Len: {}\r\nX-Remote-Ip: 127.0.0.1\r\nX-Protocol: http\r\nDate: <date>\r\n\
         Content-Length: {}\r\n",
        body.len(),
        body.len()
    );
    if let Some(c) = connection {
        s.push_str(&format!("Connection: {c}\r\n"));
    }
    s.push_str("\r\n");
    s.push_str(&String::from_utf8_lossy(body));
    s
}

/// Sends `head`, then `body` from another thread while this one reads the response: a server
/// that answers early (413, 431, 403) and closes may reset the connection once unread bytes
/// reach it, and a single-threaded client blocked writing would never see the answer.
pub fn send_while_reading(addr: SocketAddr, head: &[u8], body: &[u8]) -> WireResponse {
    let mut c = WireClient::connect(addr);
    c.send(head);
    let mut w = c.stream.try_clone().expect("try_clone");
    let body = body.to_vec();
    let writer = std::thread::spawn(move || {
        for piece in body.chunks(16 * 1024) {
            if w.write_all(piece).is_err() {
                break;
            }
        }
    });
    let r = c.read_response();
    let _ = c.stream.shutdown(Shutdown::Both);
    let _ = writer.join();
    r
}
