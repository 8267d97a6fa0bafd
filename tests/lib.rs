//! Shared helpers for Squall's black-box integration tests.
//!
//! - [`TestServer`]: an [`HttpServer`] on `127.0.0.1:0`, in a background thread with its own
//!   [`IOLoop`], stopped and joined on drop.
//! - [`Client`]: a raw, blocking TCP client that sends exact bytes and parses responses
//!   (status, headers, body by Content-Length, chunked or close), with a read timeout on every
//!   read so no test can hang.
//! - [`Client::assert_closed`] and [`TestServer::assert_serves`]: the checks every negative
//!   test ends with (the bad connection is closed, a fresh one is served normally).
//! - [`app_process::AppProcess`]: a server program run as a child process (its own process
//!   group, killed when the test ends), for signals, forking and nginx.
//! - [`ExampleServer`]: one of the example programs (`examples/*.rs`, which take `--port` and
//!   report no port of their own) run as a child process on a free port, found ready when it
//!   accepts, killed on drop (with [`ScratchDir`] for the files it needs).
//! - [`fake_server::FakeServer`]: a raw server answering with a test's exact bytes (for the
//!   HTTP client's tests), counting connections.
//! - [`nginx_runner::Nginx`]: nginx as a child process with a test's configuration.
//! - [`send_while_reading`]: a request whose answer may come before its body is all sent.

pub mod app_process;
mod example_server;
pub mod fake_server;
pub mod nginx_runner;
pub mod ws;

pub use example_server::{
    example_binary, workspace_root, ExampleBuilder, ExampleServer, ScratchDir,
};

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use squall::http1::HttpServerOptions;
use squall::http1::{BodyMode, HttpDelegate, Request, Responder};
use squall::httpserver::HttpServer;
use squall::ioloop::{IOLoop, IOLoopHandle, Trigger};

/// Bound on every blocking read and wait of a test.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The path [`TestServer`] answers itself (200 "alive"), whatever the test's delegate.
pub const ALIVE_PATH: &str = "/__alive";

/// Options for tests: no access log, everything else default.
pub fn options() -> HttpServerOptions {
    HttpServerOptions {
        access_log: false,
        ..HttpServerOptions::default()
    }
}

/// Wraps a test's delegate so that [`ALIVE_PATH`] is always answered (for
/// [`TestServer::assert_serves`]).
struct WithAlive<D>(D);

impl<D: HttpDelegate> HttpDelegate for WithAlive<D> {
    fn body_mode(&self, request: &Request) -> BodyMode {
        self.0.body_mode(request)
    }

    fn handle(&self, request: Request, responder: Responder) {
        if request.path() == ALIVE_PATH {
            responder.respond(200, &[("Content-Type", "text/plain")], b"alive");
        } else {
            self.0.handle(request, responder)
        }
    }
}

/// An HTTP server on `127.0.0.1:<free port>` running on its own thread and loop.
///
/// The delegate is built on the server thread by `make` (delegates need not be `Send`).
/// Dropping the server stops its loop and joins the thread.
pub struct TestServer {
    addr: SocketAddr,
    handle: IOLoopHandle,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server (level-triggered loop) with `options` and the delegate `make` builds.
    pub fn start<D, F>(options: HttpServerOptions, make: F) -> TestServer
    where
        D: HttpDelegate,
        F: FnOnce() -> D + Send + 'static,
    {
        TestServer::start_with(Trigger::Level, options, make)
    }

    /// Starts a server on a loop with the given trigger mode.
    pub fn start_with<D, F>(trigger: Trigger, options: HttpServerOptions, make: F) -> TestServer
    where
        D: HttpDelegate,
        F: FnOnce() -> D + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("squall-test-server".into())
            .spawn(move || {
                let l = IOLoop::builder().trigger(trigger).build().expect("loop");
                l.make_current();
                let server = HttpServer::on(&l, Box::new(WithAlive(make())), options);
                server
                    .listen(0, "127.0.0.1")
                    .expect("listen on 127.0.0.1:0");
                let addr = server.local_addrs()[0];
                tx.send((addr, l.handle())).expect("test thread gone");
                l.start();
                server.close_all_connections();
                drop(server);
                IOLoop::clear_current();
            })
            .expect("spawn server thread");
        let (addr, handle) = rx.recv_timeout(READ_TIMEOUT).expect("server did not start");
        TestServer {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    /// Starts a server answering every request with [`echo`].
    pub fn echo(options: HttpServerOptions) -> TestServer {
        TestServer::start(options, || echo)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle to the server's loop (to run code on its thread).
    pub fn loop_handle(&self) -> &IOLoopHandle {
        &self.handle
    }

    /// Runs `f` on the server thread and waits (bounded) until it has run.
    pub fn run_on_loop<F: FnOnce() + Send + 'static>(&self, f: F) {
        let (tx, rx) = mpsc::channel();
        self.handle
            .add_callback(move || {
                f();
                let _ = tx.send(());
            })
            .expect("server loop closed");
        rx.recv_timeout(READ_TIMEOUT)
            .expect("server loop did not run the callback");
    }

    /// A new raw client connected to the server.
    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Checks that a fresh connection is served normally (after a negative test).
    pub fn assert_serves(&self) {
        let mut c = self.connect();
        c.send(format!("GET {ALIVE_PATH} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let r = c.read_response();
        assert_eq!(r.status, 200, "fresh connection not served: {r:?}");
        assert_eq!(r.body, b"alive");
        // And the connection is kept alive.
        c.send(
            format!("GET {ALIVE_PATH} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let r = c.read_response();
        assert_eq!(r.status, 200);
        c.assert_closed();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.stop();
        if let Some(t) = self.thread.take() {
            // A panic on the server thread (outside the delegate's catch) fails the test, but
            // not while the test itself is already panicking.
            let r = t.join();
            if r.is_err() && !std::thread::panicking() {
                panic!("server thread panicked");
            }
        }
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

/// How a parsed response's body was delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body by rule (HEAD, 1xx, 204, 304).
    NoBody,
    /// `Content-Length`.
    Length,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ran to the connection's close.
    Close,
}

/// A response as read off the wire.
#[derive(Clone)]
pub struct Response {
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Header fields in order, as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// How the body was delimited.
    pub framing: Framing,
    /// The exact bytes of the response (head and body, chunk framing included).
    pub raw: Vec<u8>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.raw))
    }
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// How many times header `name` appears.
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// The raw bytes with the `Date` value replaced by `<date>` (after checking it parses),
    /// for exact comparisons.
    pub fn normalized(&self) -> String {
        normalize_date(&self.raw)
    }
}

/// Replaces every `Date: <value>` in `raw` with `Date: <date>`, checking each value is an
/// IMF-fixdate (29 bytes, `... GMT`).
pub fn normalize_date(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw).into_owned();
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = rest.find("\r\nDate: ") {
        let (a, b) = rest.split_at(i + 8);
        out.push_str(a);
        let end = b.find("\r\n").unwrap_or(b.len());
        let value = &b[..end];
        assert!(
            value.len() == 29 && value.ends_with(" GMT"),
            "bad Date value {value:?}"
        );
        out.push_str("<date>");
        rest = &b[end..];
    }
    out.push_str(rest);
    out
}

/// A raw blocking client. Every read has a timeout ([`READ_TIMEOUT`] unless changed).
pub struct Client {
    /// The socket (for tests that need to poke at it directly).
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// Number of `read` calls that returned data.
    pub reads: usize,
}

impl Client {
    /// Connects to `addr` with `TCP_NODELAY` and the read timeout set.
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, READ_TIMEOUT).expect("connect");
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
        Client {
            stream,
            buf: Vec::new(),
            reads: 0,
        }
    }

    /// Sends `bytes` (all of them, in one `write_all`).
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends `bytes`, returning the error instead of panicking (the server may have closed).
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Whether the server has sent anything (or closed) yet, without blocking or consuming it.
    pub fn has_answered(&self) -> bool {
        if !self.buf.is_empty() {
            return true;
        }
        self.stream.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        let r = self.stream.peek(&mut b);
        self.stream.set_nonblocking(false).unwrap();
        match r {
            Ok(_) => true,
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        }
    }

    /// Closes the sending side (the server sees EOF).
    pub fn shutdown_write(&mut self) {
        self.stream.shutdown(Shutdown::Write).expect("shutdown");
    }

    /// Bytes received but not yet parsed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Reads once more from the socket into the buffer; returns the byte count (0 at EOF).
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 64 * 1024];
        let n = self.stream.read(&mut tmp)?;
        if n > 0 {
            self.reads += 1;
            self.buf.extend_from_slice(&tmp[..n]);
        }
        Ok(n)
    }

    fn fill_or_panic(&mut self, what: &str) {
        match self.fill() {
            Ok(0) => panic!(
                "connection closed while reading {what}; have {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
            Ok(_) => {}
            Err(e) => panic!(
                "error reading {what}: {e}; have {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// Ensures `n` bytes are buffered.
    fn want(&mut self, n: usize, what: &str) {
        while self.buf.len() < n {
            self.fill_or_panic(what);
        }
    }

    /// Reads a line ending in CRLF starting at `at`; returns the index just past it.
    fn line_end(&mut self, at: usize, what: &str) -> usize {
        loop {
            if let Some(i) = self.buf[at..].windows(2).position(|w| w == b"\r\n") {
                return at + i + 2;
            }
            self.fill_or_panic(what);
        }
    }

    /// Reads and parses one response to a non-HEAD request.
    pub fn read_response(&mut self) -> Response {
        self.read_response_for(false)
    }

    /// Reads and parses one response to a HEAD request (no body whatever the headers say).
    pub fn read_head_response(&mut self) -> Response {
        self.read_response_for(true)
    }

    /// Reads and parses one response; `head` says the request was HEAD.
    pub fn read_response_for(&mut self, head: bool) -> Response {
        // Head: status line and fields up to the blank line.
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill_or_panic("a response head");
        };
        let head_text = String::from_utf8(self.buf[..end].to_vec()).expect("UTF-8 head");
        let mut lines = head_text[..end - 4].split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("").to_owned();
        assert!(
            version == "HTTP/1.1" || version == "HTTP/1.0",
            "bad status line {status_line:?}"
        );
        let code = parts.next().unwrap_or("");
        assert_eq!(code.len(), 3, "bad status line {status_line:?}");
        let status: u16 = code.parse().expect("status code");
        let reason = parts.next().unwrap_or("").to_owned();
        let mut headers = Vec::new();
        for l in lines {
            let (n, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header line {l:?}"));
            assert!(!n.is_empty() && !n.contains(' '), "bad header name {n:?}");
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        let mut r = Response {
            version,
            status,
            reason,
            headers,
            body: Vec::new(),
            framing: Framing::NoBody,
            raw: Vec::new(),
        };
        let te = r.header("Transfer-Encoding").map(str::to_owned);
        let cl = r.header("Content-Length").map(str::to_owned);
        let mut pos = end;
        if head || status < 200 || status == 204 || status == 304 {
            assert!(
                te.is_none() || head,
                "Transfer-Encoding on a bodiless response"
            );
        } else if let Some(te) = te {
            assert_eq!(te, "chunked", "unexpected Transfer-Encoding");
            assert!(cl.is_none(), "both Content-Length and Transfer-Encoding");
            r.framing = Framing::Chunked;
            loop {
                let le = self.line_end(pos, "a chunk size");
                let line = std::str::from_utf8(&self.buf[pos..le - 2]).expect("chunk line");
                let size_str = line.split(';').next().unwrap_or("");
                let size = usize::from_str_radix(size_str, 16)
                    .unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
                pos = le;
                if size == 0 {
                    // Trailers until the blank line.
                    loop {
                        let le = self.line_end(pos, "a trailer");
                        let blank = le - pos == 2;
                        pos = le;
                        if blank {
                            break;
                        }
                    }
                    break;
                }
                self.want(pos + size + 2, "chunk data");
                r.body.extend_from_slice(&self.buf[pos..pos + size]);
                assert_eq!(&self.buf[pos + size..pos + size + 2], b"\r\n", "chunk CRLF");
                pos += size + 2;
            }
        } else if let Some(cl) = cl {
            let n: usize = cl.parse().expect("Content-Length value");
            r.framing = Framing::Length;
            self.want(pos + n, "a body");
            r.body.extend_from_slice(&self.buf[pos..pos + n]);
            pos += n;
        } else {
            r.framing = Framing::Close;
            loop {
                match self.fill() {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                    Err(e) => panic!("reading a close-delimited body: {e}"),
                }
            }
            r.body.extend_from_slice(&self.buf[pos..]);
            pos = self.buf.len();
        }
        r.raw = self.buf.drain(..pos).collect();
        r
    }

    /// Reads `n` responses (non-HEAD).
    pub fn read_responses(&mut self, n: usize) -> Vec<Response> {
        (0..n).map(|_| self.read_response()).collect()
    }

    /// Reads exactly `n` raw bytes (after any response read before), for a protocol the
    /// connection switched to.
    pub fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        self.want(n, "raw bytes");
        self.buf.drain(..n).collect()
    }

    /// Reads whatever arrives until the peer closes (or resets); returns it with the buffer.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        loop {
            match self.fill() {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("read_to_close: {e}"),
            }
        }
        std::mem::take(&mut self.buf)
    }

    /// Asserts that nothing more was sent and the server closed the connection (a read returns
    /// 0 or a reset) within [`READ_TIMEOUT`].
    pub fn assert_closed(&mut self) {
        self.assert_closed_within(READ_TIMEOUT);
    }

    /// As [`assert_closed`](Client::assert_closed), within `bound`; returns how long it took.
    pub fn assert_closed_within(&mut self, bound: Duration) -> Duration {
        assert!(
            self.buf.is_empty(),
            "unexpected bytes before close: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        let t0 = Instant::now();
        self.stream.set_read_timeout(Some(bound)).unwrap();
        let mut tmp = [0u8; 4096];
        let r = self.stream.read(&mut tmp);
        self.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        match r {
            Ok(0) => {}
            Ok(n) => panic!(
                "expected close, got bytes {:?}",
                String::from_utf8_lossy(&tmp[..n])
            ),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected the server to close within {bound:?}: {e}"),
        }
        t0.elapsed()
    }

    /// Asserts that the connection stays open and silent for `d` (a read times out).
    pub fn assert_open_for(&mut self, d: Duration) {
        assert!(self.buf.is_empty());
        self.stream.set_read_timeout(Some(d)).unwrap();
        let mut tmp = [0u8; 4096];
        let r = self.stream.read(&mut tmp);
        self.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        match r {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Ok(0) => panic!("connection closed, expected it open"),
            Ok(n) => panic!("unexpected bytes {:?}", String::from_utf8_lossy(&tmp[..n])),
            Err(e) => panic!("connection failed, expected it open: {e}"),
        }
    }
}

/// Sends one request on a fresh connection and reads its response.
pub fn roundtrip(addr: SocketAddr, request: &[u8]) -> (Client, Response) {
    let mut c = Client::connect(addr);
    c.send(request);
    let r = c.read_response();
    (c, r)
}

/// Sends `request` on a fresh connection and expects exactly one response with `status`,
/// `Connection: close` and then the close; then checks a fresh connection is served.
pub fn assert_rejected(server: &TestServer, request: &[u8], status: u16) -> Response {
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
pub fn send_while_reading(addr: SocketAddr, head: &[u8], body: &[u8]) -> Response {
    let mut c = Client::connect(addr);
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
