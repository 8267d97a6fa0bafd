//! Testing applications with `cargo test`: what Tornado's `AsyncHTTPTestCase` gives.
//!
//! [`TestServer::start`] runs an application (or any [`HttpDelegate`]) on 127.0.0.1 (a port the
//! kernel picks) on a background thread with its own loop, and stops it when dropped.
//! [`TestClient`] talks to it over a real socket: it keeps one keep-alive connection, a cookie
//! jar, and knows how to send the XSRF token. [`WireClient`] is the raw client for protocol
//! tests: exact bytes in, exact bytes out. [`TestServer::assert_serves`] is the check a test of
//! bad input ends with: a fresh connection is still served.
//!
//! Squall's own integration tests (`tests/`) use this module: what the project trusts for its
//! tests is what its users get.
//!
//! # Examples
//!
//! ```
//! use squall::prelude::*;
//! use squall::testing::{TestClient, TestServer};
//!
//! #[derive(Clone, Default)]
//! struct Hello;
//!
//! #[handler]
//! impl Hello {
//!     fn get(&mut self, cx: &mut Context) -> Result<()> {
//!         let name = cx.argument_opt("name")?.unwrap_or_else(|| "world".into());
//!         cx.write(format!("Hello, {name}"));
//!         Ok(())
//!     }
//! }
//!
//! let server = TestServer::start(|| Application::new(routes![(r"/", Hello)]));
//! let mut client = TestClient::new(&server);
//! let res = client.get("/?name=tests");
//! assert_eq!(res.status(), 200);
//! assert_eq!(res.text(), "Hello, tests");
//! ```

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

mod websocket;
mod wire;

pub use websocket::TestWebSocket;
pub use wire::{normalize_date, Framing, WireClient, WireResponse};

use crate::http1::{BodyMode, HttpDelegate, HttpServerOptions, Request, Responder};
use crate::httpserver::HttpServer;
use crate::ioloop::{IOLoop, IOLoopHandle, Trigger};

/// How long a test client waits for any single read before failing the test.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The path every [`TestServer`] answers itself, before the application or delegate sees the
/// request: `200`, `text/plain`, body `alive` (what [`TestServer::assert_serves`] asks for).
pub const ALIVE_PATH: &str = "/__squall_test/alive";

/// Answers [`ALIVE_PATH`] and hands everything else to the test's delegate.
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

/// An application (or any [`HttpDelegate`]) served on 127.0.0.1 by a background thread with
/// its own loop; stopped and joined when dropped.
pub struct TestServer {
    addr: SocketAddr,
    scheme: &'static str,
    handle: IOLoopHandle,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl TestServer {
    /// Builds the application (or delegate) with `make` on the server thread (applications are
    /// not `Send`) and serves it with default options.
    ///
    /// # Panics
    ///
    /// If the server cannot bind or `make` panics: a test cannot go on without it.
    pub fn start<D, F>(make: F) -> TestServer
    where
        D: HttpDelegate,
        F: FnOnce() -> D + Send + 'static,
    {
        TestServer::start_with(make, HttpServerOptions::default())
    }

    /// As [`start`](TestServer::start), with server options (limits, timeouts, xheaders).
    ///
    /// # Panics
    ///
    /// As [`start`](TestServer::start).
    pub fn start_with<D, F>(make: F, options: HttpServerOptions) -> TestServer
    where
        D: HttpDelegate,
        F: FnOnce() -> D + Send + 'static,
    {
        TestServer::start_on(Trigger::Level, make, options)
    }

    /// As [`start_with`](TestServer::start_with), on a loop with the given trigger mode (the
    /// others use a level-triggered loop).
    ///
    /// # Panics
    ///
    /// As [`start`](TestServer::start).
    pub fn start_on<D, F>(trigger: Trigger, make: F, options: HttpServerOptions) -> TestServer
    where
        D: HttpDelegate,
        F: FnOnce() -> D + Send + 'static,
    {
        #[cfg(feature = "tls")]
        let scheme = if options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        #[cfg(not(feature = "tls"))]
        let scheme = "http";
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("squall-test-server".into())
            .spawn(move || {
                let io_loop = IOLoop::builder()
                    .trigger(trigger)
                    .build()
                    .expect("test server: cannot create a loop");
                io_loop.make_current();
                let server = HttpServer::on(&io_loop, Box::new(WithAlive(make())), options);
                let bound = server
                    .listen(0, "127.0.0.1")
                    .map(|()| server.local_addrs()[0]);
                let ok = bound.is_ok();
                let _ = tx.send(bound.map(|a| (a, io_loop.handle())));
                if ok {
                    io_loop.start();
                }
                server.close_all_connections();
                server.stop();
                drop(server);
                io_loop.close();
                IOLoop::clear_current();
            })
            .expect("test server: cannot spawn its thread");
        let (addr, handle) = rx
            .recv_timeout(READ_TIMEOUT)
            .expect("test server thread died or hung while starting")
            .expect("test server: cannot bind 127.0.0.1:0");
        TestServer {
            addr,
            scheme,
            handle,
            thread: Some(thread),
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` + `path` (`https://` when the options serve TLS).
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.addr, path)
    }

    /// A handle to the server's loop (to run code on its thread).
    pub fn loop_handle(&self) -> &IOLoopHandle {
        &self.handle
    }

    /// Runs `f` on the server's thread and waits (at most [`READ_TIMEOUT`]) until it has run.
    ///
    /// # Panics
    ///
    /// If the loop is gone or does not run `f` in time.
    pub fn run_on_loop<F: FnOnce() + Send + 'static>(&self, f: F) {
        let (tx, rx) = mpsc::channel();
        self.handle
            .add_callback(move || {
                f();
                let _ = tx.send(());
            })
            .expect("test server: its loop is closed");
        rx.recv_timeout(READ_TIMEOUT)
            .expect("test server: the loop did not run the callback");
    }

    /// A new raw client connected to the server (plain HTTP).
    pub fn connect(&self) -> WireClient {
        WireClient::connect(self.addr)
    }

    /// Checks that a fresh connection is served, twice on one connection (kept alive), then
    /// closed on `Connection: close`: what a test of bad input ends with.
    ///
    /// # Panics
    ///
    /// If it is not (a test failure).
    pub fn assert_serves(&self) {
        let mut c = self.connect();
        c.send(format!("GET {ALIVE_PATH} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let r = c.read_response();
        assert_eq!(r.status, 200, "fresh connection not served: {r:?}");
        assert_eq!(r.body, b"alive");
        c.send(
            format!("GET {ALIVE_PATH} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let r = c.read_response();
        assert_eq!(r.status, 200, "kept-alive connection not served: {r:?}");
        c.assert_closed();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.stop();
        if let Some(t) = self.thread.take() {
            // A panic on the server thread (outside a handler's catch) fails the test, but not
            // while the test is already panicking.
            if t.join().is_err() && !std::thread::panicking() {
                panic!("test server: its thread panicked");
            }
        }
    }
}

/// A response received by a [`TestClient`].
#[derive(Clone, PartialEq, Eq)]
pub struct TestResponse {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl fmt::Debug for TestResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl TestResponse {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The first value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// All headers in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    ///
    /// If the body is not JSON (a test failure).
    #[cfg(feature = "json")]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {:?}", self.text()))
    }
}

/// A request being built by [`TestClient::request`].
#[derive(Debug)]
pub struct TestRequest<'c> {
    client: &'c mut TestClient,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl TestRequest<'_> {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a urlencoded form body.
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        let encoded: Vec<String> = fields
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    crate::escape::url_escape(k, true),
                    crate::escape::url_escape(v, true)
                )
            })
            .collect();
        self.body = encoded.join("&").into_bytes();
        self.headers.push((
            "Content-Type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ));
        self
    }

    /// Sets a multipart/form-data body: fields, then files as `(field, filename, bytes)`.
    pub fn multipart(mut self, fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> Self {
        let boundary = "squall-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        for (k, name, data) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.body = body;
        self.headers.push((
            "Content-Type".to_owned(),
            format!("multipart/form-data; boundary={boundary}"),
        ));
        self
    }

    /// Adds the `X-XSRFToken` header from the client's `_xsrf` cookie (fetch a page that
    /// sets it first, e.g. with [`TestClient::fetch_xsrf`]).
    pub fn xsrf(mut self) -> Self {
        if let Some(t) = self.client.cookie(crate::web::XSRF_NAME) {
            self.headers.push(("X-XSRFToken".to_owned(), t.to_owned()));
        }
        self
    }

    /// Sends the request and reads the response.
    ///
    /// # Panics
    ///
    /// On a connection failure or a malformed response (a test failure).
    pub fn send(self) -> TestResponse {
        let TestRequest {
            client,
            method,
            path,
            headers,
            body,
        } = self;
        client
            .exchange(&method, &path, &headers, &body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }
}

/// A blocking HTTP/1.1 client for tests: one keep-alive connection, a cookie jar.
pub struct TestClient {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
    cookies: Vec<(String, String)>,
}

impl fmt::Debug for TestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClient")
            .field("addr", &self.addr)
            .field("cookies", &self.cookies)
            .finish()
    }
}

impl TestClient {
    /// A client for `server`.
    pub fn new(server: &TestServer) -> TestClient {
        TestClient::connect_to(server.addr())
    }

    /// A client for any address (127.0.0.1 in tests).
    pub fn connect_to(addr: SocketAddr) -> TestClient {
        TestClient {
            addr,
            conn: None,
            cookies: Vec::new(),
        }
    }

    /// Starts a request.
    pub fn request(&mut self, method: &str, path: &str) -> TestRequest<'_> {
        TestRequest {
            client: self,
            method: method.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `GET path`.
    pub fn get(&mut self, path: &str) -> TestResponse {
        self.request("GET", path).send()
    }

    /// `POST path` with a body.
    pub fn post(&mut self, path: &str, body: impl Into<Vec<u8>>) -> TestResponse {
        self.request("POST", path).body(body).send()
    }

    /// A cookie from the jar.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a cookie in the jar (sent with every request).
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(n, _)| n != name);
        self.cookies.push((name.to_owned(), value.to_owned()));
    }

    /// Removes a cookie from the jar.
    pub fn remove_cookie(&mut self, name: &str) {
        self.cookies.retain(|(n, _)| n != name);
    }

    /// GETs `path` (a page that renders an XSRF token) and returns the `_xsrf` cookie it set.
    ///
    /// # Panics
    ///
    /// If no `_xsrf` cookie was set.
    pub fn fetch_xsrf(&mut self, path: &str) -> String {
        self.get(path);
        self.cookie(crate::web::XSRF_NAME)
            .unwrap_or_else(|| panic!("GET {path} set no _xsrf cookie"))
            .to_owned()
    }

    /// Closes the connection (the next request opens a new one).
    pub fn disconnect(&mut self) {
        self.conn = None;
    }

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> io::Result<TestResponse> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        if !self.cookies.is_empty()
            && !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            req.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut wire = req.into_bytes();
        wire.extend_from_slice(body);
        // A kept-alive connection may have been closed by the server meanwhile: retry once on
        // a fresh one if sending or the first read fails.
        let reused = self.conn.is_some();
        match self.try_exchange(&wire, method == "HEAD") {
            Err(_) if reused => {
                self.conn = None;
                self.try_exchange(&wire, method == "HEAD")
            }
            other => other,
        }
    }

    fn try_exchange(&mut self, wire: &[u8], head: bool) -> io::Result<TestResponse> {
        if self.conn.is_none() {
            let s = TcpStream::connect(self.addr)?;
            s.set_read_timeout(Some(READ_TIMEOUT))?;
            s.set_nodelay(true)?;
            self.conn = Some(BufReader::new(s));
        }
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| io::Error::other("no connection"))?;
        conn.get_mut().write_all(wire)?;
        let res = read_response(conn, head)?;
        let close = res
            .header("Connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if close {
            self.conn = None;
        }
        for v in res.header_all("Set-Cookie") {
            let pair = v.split(';').next().unwrap_or("");
            if let Some((n, val)) = pair.split_once('=') {
                let deleted = v.contains("Max-Age=0");
                self.cookies.retain(|(cn, _)| cn != n.trim());
                if !deleted {
                    self.cookies
                        .push((n.trim().to_owned(), val.trim().to_owned()));
                }
            }
        }
        Ok(res)
    }
}

/// Reads one response (status line, headers, body framed by Content-Length, chunked encoding
/// or connection close).
fn read_response<R: BufRead>(r: &mut R, head_request: bool) -> io::Result<TestResponse> {
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        // Skip interim 1xx responses.
        let status: u16 = line.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        if (100..200).contains(&status) {
            loop {
                line.clear();
                r.read_line(&mut line)?;
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            continue;
        }
        break;
    }
    let status: u16 = line
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {line:?}"),
            )
        })?;
    let reason = line.get(13..).unwrap_or("").trim_end().to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _): &&(String, String)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        // No body.
    } else if get("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bad chunk size {line:?}"),
                    )
                })?;
            if size == 0 {
                loop {
                    line.clear();
                    r.read_line(&mut line)?;
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            line.clear();
            r.read_line(&mut line)?;
        }
    } else if let Some(len) = get("Content-Length") {
        let len: usize = len
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length"))?;
        body.resize(len, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok(TestResponse {
        status,
        reason,
        headers,
        body,
    })
}
