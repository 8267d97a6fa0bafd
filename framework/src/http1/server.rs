//! What every connection of one server shares: the delegate, the options, the request pool,
//! the Date cache and the registries of open connections, HTTP and upgraded (for graceful
//! shutdown; see `upgraded.rs` for the upgraded ones).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use super::access_log::AccessLog;
use super::parts::RequestPool;
use super::upgraded::UpgradedSet;
use super::wire::DateCache;
use super::{BodySink, Conn, Request, Responder};

/// How the server should receive a request's body; see [`HttpDelegate::body_mode`].
pub enum BodyMode {
    /// Buffer the whole body into the request (default; bounded by `max_body_size`).
    Buffer,
    /// Hand the body to this sink piece by piece as it arrives (large uploads).
    Stream(Box<dyn BodySink>),
    /// Refuse the request with this status without reading its body (the connection closes).
    Reject(u16),
}

impl fmt::Debug for BodyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyMode::Buffer => f.write_str("Buffer"),
            BodyMode::Stream(_) => f.write_str("Stream(..)"),
            BodyMode::Reject(s) => write!(f, "Reject({s})"),
        }
    }
}

/// What the server calls for each request: Tornado's `HTTPServerConnectionDelegate` and
/// `HTTPMessageDelegate` in one.
///
/// A closure `Fn(Request, Responder)` is a delegate. The web layer's
/// [`Application`](crate::web::Application) is another.
///
/// # Examples
///
/// ```no_run
/// use squall::httpserver::HttpServer;
/// use squall::http1::{Request, Responder};
///
/// let server = HttpServer::new(|req: Request, res: Responder| {
///     let body = format!("you asked for {}", req.path());
///     res.respond(200, &[("Content-Type", "text/plain")], body.as_bytes());
/// });
/// server.listen(8888, "127.0.0.1").unwrap();
/// squall::ioloop::IOLoop::current().start();
/// ```
pub trait HttpDelegate: 'static {
    /// Decides, once the head has arrived, how to receive the body. Called only for requests
    /// with a body. The default buffers it.
    fn body_mode(&self, _request: &Request) -> BodyMode {
        BodyMode::Buffer
    }

    /// Handles a complete request. The response is written through `responder`, now or later
    /// (an async handler keeps it); it must end with [`Responder::finish`] (or be dropped, which
    /// answers 500 or closes the connection).
    fn handle(&self, request: Request, responder: Responder);
}

impl<F: Fn(Request, Responder) + 'static> HttpDelegate for F {
    fn handle(&self, request: Request, responder: Responder) {
        self(request, responder)
    }
}

/// Options of an HTTP server, with Tornado's defaults where Tornado has them.
#[derive(Debug, Clone)]
pub struct HttpServerOptions {
    /// Close every connection after one response.
    pub no_keep_alive: bool,
    /// Trust `X-Real-IP`/`X-Forwarded-For` and `X-Scheme`/`X-Forwarded-Proto` (behind a proxy).
    pub xheaders: bool,
    /// Largest request head (request line and headers), default 64 KiB; more is 431.
    pub max_header_size: usize,
    /// Largest request target, default 8 KiB; more is 414.
    pub max_request_line: usize,
    /// Largest request body, default 100 MiB (Tornado's); more is 413.
    ///
    /// A body that is not streamed is held in memory whole until its request is answered, so
    /// `n` such uploads at once may hold `n` times this much: lower it to what the handlers
    /// need (the showcase takes 1 MiB). Large uploads belong in a
    /// `#[handler(stream_request_body)]` handler, which gets the body in pieces as they
    /// arrive (its memory is one read buffer, whatever the size) and can refuse a body over
    /// its own limit in `body_started` / `data_received`; this limit still caps what any
    /// request may send (see `examples/upload.rs`).
    pub max_body_size: u64,
    /// Time allowed for a request head to arrive once it has started (slowloris defence).
    pub header_timeout: Option<Duration>,
    /// Time a new connection may take to send the first byte of its first request, default
    /// 10 s (over HTTPS the TLS handshake counts too, bounded by `header_timeout` as well).
    /// A connection that sends nothing holds a file descriptor: without this bound, a few
    /// hundred silent connections would hold them all for `idle_timeout`. (When descriptors
    /// run out anyway, the server closes its oldest idle connections to accept new ones; see
    /// [`TcpServer::on_descriptors_exhausted`](crate::tcpserver::TcpServer::on_descriptors_exhausted).)
    pub first_byte_timeout: Option<Duration>,
    /// Time an idle keep-alive connection is kept.
    pub idle_timeout: Option<Duration>,
    /// Time a request body may stall (no bytes arriving), default 60 s; also the grace
    /// period of [`min_body_rate`](HttpServerOptions::min_body_rate). `None`: no body
    /// deadline at all.
    pub body_timeout: Option<Duration>,
    /// Slowest average rate, in bytes per second, at which a request body may keep arriving
    /// once its first `body_timeout` is over; default 500 B/s (the minimum of Apache's
    /// `mod_reqtimeout`). A body must be complete by `body_timeout` after it started plus
    /// one second per `min_body_rate` bytes received; slower, the connection is closed.
    /// Without it, a client sending one byte just before each `body_timeout` would hold a
    /// connection (and its descriptor) for as long as its announced length allows; a
    /// legitimate upload, even over a slow mobile link, runs many times faster. `None` (or
    /// 0): only the stall rule of `body_timeout` applies.
    pub min_body_rate: Option<u32>,
    /// Write one access-log line per request (target `squall::access`, at info/warn/error).
    pub access_log: bool,
    /// How long a graceful shutdown lets in-flight requests finish before closing their
    /// connections anyway, default 30 s (see
    /// [`HttpServer::shutdown`](crate::httpserver::HttpServer::shutdown)).
    pub shutdown_grace: Duration,
    /// After refusing bad input (a body over `max_body_size`, a malformed head), or closing with
    /// requests left unanswered, how long to keep reading and dropping what the client still
    /// sends before closing, with the response already complete and the write side shut
    /// ("lingering close", RFC 9112 §9.6): closing at once with input unread would have the
    /// kernel reset the connection, which can destroy the response before the client reads
    /// it. Default 2 s; `None` closes at once.
    pub linger_timeout: Option<Duration>,
    /// Accept a bare LF (without its CR) as the end of a line in a request head, as a few old
    /// clients send. Default `false`: such a head is 400, because a proxy in front that reads
    /// line ends differently would see other requests than the server does (request
    /// smuggling; RFC 9112 §2.2 lets a server refuse it). Chunked body framing needs CRLF
    /// either way.
    pub allow_bare_lf: bool,
    /// Serve HTTPS with these certificates (feature `tls`; Tornado's `ssl_options`): every
    /// connection is a TLS session (TLS 1.3 or 1.2, ALPN `http/1.1`) under HTTP/1.1, its
    /// handshake bounded by `header_timeout`, and requests say
    /// [`protocol`](crate::http1::Request::protocol) `"https"`. `None`: plain HTTP.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::ServerTlsConfig>,
}

impl Default for HttpServerOptions {
    fn default() -> Self {
        HttpServerOptions {
            no_keep_alive: false,
            xheaders: false,
            max_header_size: 64 * 1024,
            max_request_line: 8 * 1024,
            max_body_size: 100 * 1024 * 1024,
            header_timeout: Some(Duration::from_secs(60)),
            first_byte_timeout: Some(Duration::from_secs(10)),
            idle_timeout: Some(Duration::from_secs(3600)),
            body_timeout: Some(Duration::from_secs(60)),
            min_body_rate: Some(500),
            access_log: true,
            shutdown_grace: Duration::from_secs(30),
            linger_timeout: Some(Duration::from_secs(2)),
            allow_bare_lf: false,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// State shared by every connection of one server.
pub(crate) struct ServerCore {
    pub(crate) options: HttpServerOptions,
    pub(crate) delegate: Box<dyn HttpDelegate>,
    pub(crate) pool: Rc<RequestPool>,
    pub(crate) date: RefCell<DateCache>,
    /// Recycled access-log entries (see `access_log`).
    pub(super) access: AccessLog,
    pub(super) conns: RefCell<Vec<Weak<Conn>>>,
    /// Upgraded connections (WebSockets) that take part in a graceful shutdown.
    pub(super) upgraded: RefCell<UpgradedSet>,
    /// Set during graceful shutdown: finish in-flight requests, then close.
    pub(crate) draining: Cell<bool>,
    /// When the server was made (no connection of it is idle since earlier).
    pub(super) started: Instant,
    /// Called once, while draining, when the last connection (HTTP or upgraded) has closed.
    on_empty: RefCell<Option<Box<dyn FnOnce()>>>,
}

impl ServerCore {
    pub(crate) fn new(delegate: Box<dyn HttpDelegate>, options: HttpServerOptions) -> Rc<Self> {
        Rc::new(ServerCore {
            options,
            delegate,
            pool: Rc::new(RequestPool::default()),
            date: RefCell::new(DateCache::default()),
            access: AccessLog::default(),
            conns: RefCell::new(Vec::new()),
            upgraded: RefCell::new(UpgradedSet::default()),
            draining: Cell::new(false),
            started: Instant::now(),
            on_empty: RefCell::new(None),
        })
    }

    /// Number of open connections.
    pub(crate) fn connection_count(&self) -> usize {
        self.conns.borrow().len()
    }

    /// Number of open upgraded connections that take part in a graceful shutdown.
    pub(crate) fn upgraded_count(&self) -> usize {
        self.upgraded.borrow().len()
    }

    /// Number of connections with a request in flight.
    pub(crate) fn busy_count(&self) -> usize {
        self.conns
            .borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|c| !c.is_idle())
            .count()
    }

    /// Starts a graceful shutdown: idle connections close now, busy ones after their current
    /// response (which says `Connection: close` if its head is not written yet); upgraded
    /// ones start their closing handshake (a WebSocket's Close 1001).
    pub(crate) fn drain(&self) {
        let first = !self.draining.replace(true);
        let conns = self.live_conns();
        for c in conns {
            c.drain();
        }
        if first {
            // (Registered later, a connection is told at registration.)
            let upgraded = self.upgraded.borrow().live();
            for u in upgraded {
                u.going_away();
            }
        }
        self.check_empty();
    }

    /// Calls `f` once, while draining, when no connection is left (at once if none is).
    pub(crate) fn when_empty(&self, f: Box<dyn FnOnce()>) {
        *self.on_empty.borrow_mut() = Some(f);
        self.check_empty();
    }

    pub(super) fn check_empty(&self) {
        if !self.draining.get()
            || !self.conns.borrow().is_empty()
            || self.upgraded.borrow().len() > 0
        {
            return;
        }
        let f = self.on_empty.borrow_mut().take();
        if let Some(f) = f {
            f();
        }
    }

    /// The connections still open (a snapshot: closing one changes the set).
    fn live_conns(&self) -> Vec<Rc<Conn>> {
        self.conns
            .borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Closes the (at most) `n` connections idle the longest: fresh ones that have not sent a
    /// byte and keep-alive ones between requests, never one with a request or a response in
    /// progress. Returns how many it closed. For when the process runs out of descriptors.
    pub(crate) fn close_oldest_idle(&self, n: usize) -> usize {
        let mut idle: Vec<_> = self
            .live_conns()
            .into_iter()
            .filter_map(|c| Some((c.idle_since()?, c)))
            .collect();
        let n = n.min(idle.len());
        if n == 0 {
            return 0;
        }
        if n < idle.len() {
            idle.select_nth_unstable_by_key(n - 1, |(since, _)| *since);
        }
        for (_, c) in idle.drain(..n) {
            log::debug!("squall: out of descriptors: closing idle connection {c:?}");
            c.close();
        }
        n
    }

    /// Closes every connection at once, upgraded ones too.
    pub(crate) fn close_all(&self) {
        let conns = self.live_conns();
        for c in conns {
            c.close();
        }
        let upgraded = self.upgraded.borrow().live();
        for u in upgraded {
            u.close_now();
        }
    }
}

impl ServerCore {
    /// Appends `Date: <now>\r\n`.
    #[inline]
    pub(crate) fn write_date_line(&self, now: Instant, w: &mut Vec<u8>) {
        w.extend_from_slice(self.date.borrow_mut().line(now));
    }
}

#[cfg(feature = "tls")]
impl ServerCore {
    /// The answer, in the clear, to a client that sent plain HTTP to the HTTPS port (an
    /// `http://` URL with the HTTPS port): a `400` saying so, as nginx and Go's net/http
    /// answer, rather than a TLS alert a browser would show as a broken connection. See
    /// [`IOStream::start_tls_server_with_plain_reply`](crate::iostream::IOStream::start_tls_server_with_plain_reply).
    pub(crate) fn write_plain_http_reply(&self, now: Instant, w: &mut Vec<u8>) {
        const BODY: &[u8] = b"This port speaks HTTPS: the request was sent in plain HTTP.\n";
        super::wire::write_status_line(w, super::Version::Http11, 400, None);
        w.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
        super::wire::write_content_length(w, BODY.len() as u64);
        w.extend_from_slice(b"Connection: close\r\n");
        self.write_date_line(now, w);
        w.extend_from_slice(b"\r\n");
        w.extend_from_slice(BODY);
    }
}
