//! An HTTP/1.1 client on the loop: Tornado's `AsyncHTTPClient`.
//!
//! [`HttpClient::fetch`] (or the free [`fetch`], on the thread's shared client) sends an
//! [`HttpRequest`] and resolves to an [`HttpResponse`] or an [`Error`], without blocking the
//! loop: connections are [`IOStream`]s, host names are resolved on
//! the executor's threads, and timeouts are the loop's timers. Handlers call other services
//! with it from `async` methods.
//!
//! ```no_run
//! use squall::httpclient::{fetch, HttpClient, HttpRequest};
//! use squall::http1::Method;
//! use squall::ioloop::IOLoop;
//!
//! IOLoop::current().run_sync(async {
//!     let res = fetch("http://127.0.0.1:8888/").await?;
//!     println!("{} {}", res.status(), res.text());
//!
//!     let client = HttpClient::new();
//!     let req = HttpRequest::new("http://127.0.0.1:8888/items")
//!         .method(Method::Post)
//!         .header("Content-Type", "application/json")
//!         .body(r#"{"name":"squall"}"#);
//!     let created = client.fetch(req).await?.error_for_status()?;
//!     println!("{}", created.text());
//!     Ok::<_, squall::httpclient::Error>(())
//! }).unwrap();
//! ```
//!
//! ### Connections
//!
//! Each client keeps a keep-alive pool per origin (scheme, host, port): at most
//! [`max_connections_per_host`](HttpClientOptions::max_connections_per_host) open at once
//! (more fetches wait for one, within their connect timeout), idle ones reused most recent
//! first and closed after [`idle_timeout`](HttpClientOptions::idle_timeout). A connection is
//! reused only after a response read exactly to its end; an idempotent request that finds its
//! reused connection closed by the server before any response byte is retried once on another.
//!
//! ### Responses
//!
//! A gzip response is decompressed on the way in unless the request says
//! [`decompress_response(false)`](HttpRequest::decompress_response).
//! The response parser is the server's HTTP/1.1 code seen from the other side
//! ([`http1`](crate::http1)'s framing rules, field parsing and chunked decoder), with the same
//! strictness: a response whose framing is ambiguous (Content-Length beside
//! Transfer-Encoding, differing lengths, bad chunk sizes, a bare LF) is
//! [`ErrorKind::BadResponse`], one cut short by the server closing is [`ErrorKind::Closed`]
//! (never a shorter success), and heads and bodies have limits ([`ErrorKind::TooLarge`]).
//! Bodies framed by Content-Length, chunks, or the connection's close are read; HEAD, 1xx,
//! 204 and 304 responses have none. Any status is an `Ok` response:
//! [`HttpResponse::error_for_status`] makes 4xx and 5xx errors (Tornado raises them by
//! default).
//!
//! ### Redirects
//!
//! 301, 302, 303, 307 and 308 with a `Location` are followed, up to
//! [`max_redirects`](HttpRequest::max_redirects), with RFC 9110 §15.4's method rules: 301 and
//! 302 turn POST into GET, 303 turns every method but HEAD into GET, 307 and 308 keep the
//! method and body. A request turned into a GET loses its body and the fields describing it
//! (`Content-Type`, `Content-Encoding`, `Content-Language`, `Content-Location`). Credentials
//! (`Authorization`, `Cookie`, `Proxy-Authorization`, URL userinfo) and a `Host` set by the
//! caller follow a redirect only to the same origin.
//!
//! ### Timeouts
//!
//! [`connect_timeout`](HttpRequest::connect_timeout) bounds getting a connection (resolving,
//! waiting for the pool, connecting); [`request_timeout`](HttpRequest::request_timeout) bounds
//! the whole fetch, redirects included. Either ends the fetch with an error and closes its
//! connection.

mod connect;
mod error;
mod exchange;
mod pool;
mod request;
mod url;

pub use error::{Error, ErrorKind};
pub use request::{
    HttpRequest, HttpResponse, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_REDIRECTS,
    DEFAULT_REQUEST_TIMEOUT,
};

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::http1::{Method, ResponseHead};
use crate::httputil::{validate_header_name, validate_header_value, HeaderMap};
use crate::iostream::IOStream;
use crate::task::with_timeout;
use exchange::{Limits, Sink};
use pool::{Lease, Pool};
use url::Url;

/// Settings of an [`HttpClient`] (Tornado's `AsyncHTTPClient` keyword arguments).
#[derive(Debug, Clone)]
pub struct HttpClientOptions {
    /// Connections open at once to one origin, idle ones included (default 10, Tornado's
    /// `max_clients`); more fetches wait for one.
    pub max_connections_per_host: usize,
    /// How long an idle connection is kept for reuse (default 60 s, under the idle timeouts of
    /// common servers, so that the client rather than the server closes it).
    pub idle_timeout: Duration,
    /// Longest response head, interim (1xx) heads included (default 64 KiB, Tornado's).
    pub max_header_size: usize,
    /// Longest response body, unless a request sets its own (default 100 MiB, Tornado's).
    pub max_response_size: u64,
    /// `User-Agent` sent unless a request sets one (`None`: none sent).
    pub user_agent: Option<String>,
    /// The certificate authorities `https` fetches trust (feature `tls`; Tornado's
    /// `ca_certs`). `None`: Mozilla's roots ([`ClientTlsConfig::default`]). Certificates are
    /// always verified, and the URL's host is sent as SNI and checked against the certificate.
    ///
    /// [`ClientTlsConfig::default`]: crate::tls::ClientTlsConfig
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::ClientTlsConfig>,
}

impl Default for HttpClientOptions {
    fn default() -> HttpClientOptions {
        HttpClientOptions {
            max_connections_per_host: 10,
            idle_timeout: Duration::from_secs(60),
            max_header_size: 64 * 1024,
            max_response_size: 100 * 1024 * 1024,
            user_agent: Some(concat!("Squall/", env!("CARGO_PKG_VERSION")).to_owned()),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

struct ClientInner {
    options: HttpClientOptions,
    pool: Rc<Pool>,
}

/// An HTTP client with its own connection pool, for the loop thread it is used on (Tornado's
/// `AsyncHTTPClient`). Clones share the pool.
///
/// # Examples
///
/// ```
/// use squall::httpclient::HttpClient;
/// use squall::ioloop::IOLoop;
/// use squall::prelude::*;
/// use squall::testing::TestServer;
///
/// #[derive(Clone, Default)]
/// struct Hello;
///
/// #[handler]
/// impl Hello {
///     fn get(&mut self, cx: &mut Context) -> Result<()> {
///         cx.write("Hello, client");
///         Ok(())
///     }
/// }
///
/// let server = TestServer::start(|| Application::new(routes![(r"/", Hello)]));
/// let url = server.url("/");
/// let client = HttpClient::new();
/// let res = IOLoop::new().unwrap().run_sync(async move { client.fetch(url).await }).unwrap();
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.text(), "Hello, client");
/// ```
#[derive(Clone)]
pub struct HttpClient {
    inner: Rc<ClientInner>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("options", &self.inner.options)
            .field("idle_connections", &self.idle_connections())
            .finish()
    }
}

impl Default for HttpClient {
    fn default() -> HttpClient {
        HttpClient::new()
    }
}

thread_local! {
    static SHARED: RefCell<Option<HttpClient>> = const { RefCell::new(None) };
}

/// Fetches `request` with the thread's shared client ([`HttpClient::current`]).
///
/// # Errors
///
/// As [`HttpClient::fetch`].
pub async fn fetch(request: impl Into<HttpRequest>) -> Result<HttpResponse, Error> {
    HttpClient::current().fetch(request).await
}

impl HttpClient {
    /// A client with default options.
    pub fn new() -> HttpClient {
        HttpClient::with_options(HttpClientOptions::default())
    }

    /// A client with `options`.
    pub fn with_options(options: HttpClientOptions) -> HttpClient {
        let pool = Pool::new(options.max_connections_per_host, options.idle_timeout);
        HttpClient {
            inner: Rc::new(ClientInner { options, pool }),
        }
    }

    /// The thread's shared client (default options), made on first use: what
    /// `AsyncHTTPClient()` gives in Tornado. Its idle connections live until they expire or
    /// [`close`](HttpClient::close).
    pub fn current() -> HttpClient {
        SHARED.with(|c| c.borrow_mut().get_or_insert_with(HttpClient::new).clone())
    }

    /// The client's options.
    pub fn options(&self) -> &HttpClientOptions {
        &self.inner.options
    }

    /// Idle connections kept for reuse, over all origins.
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.idle_count()
    }

    /// Closes the idle connections (fetches under way keep theirs, closed when they end).
    pub fn close(&self) {
        self.inner.pool.close();
    }

    /// Fetches `request` (a URL converts into a GET), following redirects, and resolves to the
    /// final response, whatever its status.
    ///
    /// # Errors
    ///
    /// An [`Error`] whose [`kind`](Error::kind) says what failed: the URL or request
    /// ([`ErrorKind::InvalidUrl`], [`ErrorKind::InvalidRequest`]), getting a connection
    /// ([`ErrorKind::Resolve`], [`ErrorKind::Connect`], [`ErrorKind::Tls`],
    /// [`ErrorKind::ConnectTimeout`]), the
    /// response ([`ErrorKind::BadResponse`], [`ErrorKind::TooLarge`], [`ErrorKind::Closed`],
    /// [`ErrorKind::RequestTimeout`]), or [`ErrorKind::TooManyRedirects`].
    pub async fn fetch(&self, request: impl Into<HttpRequest>) -> Result<HttpResponse, Error> {
        let mut request = request.into();
        let limit = request.request_timeout;
        let current_url = RefCell::new(request.url.clone());
        match with_timeout(limit, self.run(&mut request, &current_url)).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorKind::RequestTimeout,
                current_url.take(),
                format!("no complete response within {limit:?}"),
            )),
        }
    }

    async fn run(
        &self,
        request: &mut HttpRequest,
        current_url: &RefCell<String>,
    ) -> Result<HttpResponse, Error> {
        let started = Instant::now();
        check_request(request)?;
        let mut url = Url::parse(&request.url)
            .map_err(|m| Error::new(ErrorKind::InvalidUrl, request.url.clone(), m))?;
        let mut method = request.method;
        let mut body = request.body.take();
        let mut headers = request.headers.clone();
        let mut callback = request.streaming_callback.take();
        let limits = Limits {
            max_header_size: self.inner.options.max_header_size,
            max_body: request
                .max_response_size
                .unwrap_or(self.inner.options.max_response_size),
        };
        let mut redirects = 0;
        loop {
            let shown = url.to_string();
            *current_url.borrow_mut() = shown.clone();
            let wire = request_bytes(
                &url,
                method,
                &headers,
                body.as_deref(),
                self.options(),
                request.decompress_response,
            );
            let (lease, mut head) = self
                .send(&url, method, &wire, limits, request.connect_timeout)
                .await?;
            let stream = lease.stream().clone();
            let location = head.headers.get("location").map(str::to_owned);
            let redirect = match location {
                Some(l) if request.follow_redirects && is_redirect(head.status) => Some(l),
                _ => None,
            };
            // A gzip body asked for is decompressed as it arrives (a redirect's is dropped).
            let gunzip = request.decompress_response
                && redirect.is_none()
                && head
                    .headers
                    .get("content-encoding")
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
            if gunzip {
                head.headers.remove("content-encoding");
                head.headers.insert("X-Consumed-Content-Encoding", "gzip");
            }
            let mut collected = Vec::new();
            let mut sink = match (&redirect, callback.as_mut()) {
                (Some(_), _) => Sink::Discard,
                (None, Some(f)) => Sink::Stream(f.as_mut()),
                (None, None) => Sink::Collect(&mut collected),
            };
            exchange::read_body(&stream, head.framing, &mut sink, gunzip, limits, &shown).await?;
            let reusable = head.keep_alive
                && !asks_close(&headers)
                && !stream.writing()
                && stream.read_buffered() == 0
                && !stream.closed()
                && !stream.at_eof();
            lease.release(reusable);
            let response = HttpResponse {
                status: head.status,
                reason: head.reason,
                version: head.version,
                headers: head.headers,
                body: collected,
                effective_url: shown,
                request_time: started.elapsed(),
                redirects,
            };
            let Some(location) = redirect else {
                return Ok(response);
            };
            if redirects >= request.max_redirects {
                let message = format!("more than {} redirects", request.max_redirects);
                return Err(Error::new(
                    ErrorKind::TooManyRedirects,
                    response.effective_url.clone(),
                    message,
                )
                .with_response(response));
            }
            let mut next = url.join(&location).map_err(|m| {
                Error::new(
                    ErrorKind::InvalidUrl,
                    response.effective_url.clone(),
                    format!("redirect to {location:?}: {m}"),
                )
            })?;
            let next_method = redirect_method(response.status, method);
            if (response.status == 303 && method != Method::Head) || next_method != method {
                body = None;
                for name in BODY_FIELDS {
                    headers.remove(name);
                }
            }
            if url.same_origin(&next) {
                if next.userinfo.is_none() {
                    next.userinfo = url.userinfo.take();
                }
            } else {
                for name in CREDENTIAL_FIELDS {
                    headers.remove(name);
                }
            }
            method = next_method;
            url = next;
            redirects += 1;
        }
    }

    /// Sends `wire` to `url`'s origin on a pooled or new connection and reads the response
    /// head. A reused connection found closed before any response byte is given up for
    /// another when the method is idempotent.
    async fn send(
        &self,
        url: &Url,
        method: Method,
        wire: &[u8],
        limits: Limits,
        connect_timeout: Duration,
    ) -> Result<(Lease, ResponseHead), Error> {
        let origin = url.origin();
        // A stream's read buffer must hold a whole head, and more to see that it is too long.
        let max_buffer = (2 * limits.max_header_size).max(crate::iostream::READ_BUDGET);
        let shown = url.to_string();
        let mut retries = 0;
        loop {
            let connecting = async {
                let mut lease = self.inner.pool.checkout(&origin).await;
                if lease.stream.is_none() {
                    lease.stream = Some(connect::open(url, max_buffer, self.options()).await?);
                }
                Ok::<Lease, Error>(lease)
            };
            let lease = match with_timeout(connect_timeout, connecting).await {
                Ok(lease) => lease?,
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::ConnectTimeout,
                        shown,
                        format!("no connection within {connect_timeout:?}"),
                    ));
                }
            };
            let stream: IOStream = lease.stream().clone();
            let head_only = method == Method::Head;
            match exchange::send_and_read_head(&stream, wire, head_only, limits, &shown).await {
                Ok(head) => return Ok((lease, head)),
                Err(f)
                    if lease.reused
                        && f.nothing_received
                        && is_idempotent(method)
                        && retries < self.inner.options.max_connections_per_host =>
                {
                    // The server closed this idle connection as we reused it: try another.
                    retries += 1;
                    drop(lease);
                }
                Err(f) => return Err(f.error),
            }
        }
    }
}

/// Fields describing a request body, dropped when a redirect turns the request into a GET.
const BODY_FIELDS: [&str; 4] = [
    "Content-Type",
    "Content-Encoding",
    "Content-Language",
    "Content-Location",
];

/// Fields that follow a redirect only to the same origin.
const CREDENTIAL_FIELDS: [&str; 4] = ["Authorization", "Cookie", "Proxy-Authorization", "Host"];

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// RFC 9110 §15.4: the method of the request that follows a redirect.
fn redirect_method(status: u16, method: Method) -> Method {
    match status {
        301 | 302 if method == Method::Post => Method::Get,
        303 if method != Method::Head => Method::Get,
        _ => method,
    }
}

/// RFC 9110 §9.2.2.
fn is_idempotent(method: Method) -> bool {
    matches!(
        method,
        Method::Get | Method::Head | Method::Options | Method::Trace | Method::Put | Method::Delete
    )
}

fn asks_close(headers: &HeaderMap) -> bool {
    headers
        .get_all("connection")
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
}

/// Refuses what cannot be sent: CONNECT (a tunnel, not a request), fields with bad bytes,
/// framing fields (the client frames the body itself).
fn check_request(request: &HttpRequest) -> Result<(), Error> {
    let invalid = |m: String| Error::new(ErrorKind::InvalidRequest, request.url.clone(), m);
    if request.method == Method::Connect {
        return Err(invalid(format!(
            "the client cannot send {} requests",
            request.method
        )));
    }
    for (name, value) in request.headers.iter() {
        validate_header_name(name).map_err(|e| invalid(format!("header {name:?}: {e}")))?;
        validate_header_value(value).map_err(|e| invalid(format!("header {name}: {e}")))?;
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            return Err(invalid(format!(
                "{name} is set by the client from the body"
            )));
        }
    }
    Ok(())
}

/// The request's bytes: head, then body.
fn request_bytes(
    url: &Url,
    method: Method,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    options: &HttpClientOptions,
    accept_gzip: bool,
) -> Vec<u8> {
    let body_len = body.map_or(0, <[u8]>::len);
    let mut w = Vec::with_capacity(256 + url.target.len() + body_len);
    let mut line = |name: &str, value: &str| {
        w.extend_from_slice(name.as_bytes());
        w.extend_from_slice(b": ");
        w.extend_from_slice(value.as_bytes());
        w.extend_from_slice(b"\r\n");
    };
    if !headers.contains("host") {
        line("Host", &url.host_field());
    }
    if let (Some(ua), false) = (&options.user_agent, headers.contains("user-agent")) {
        line("User-Agent", ua);
    }
    if let (Some((user, password)), false) = (&url.userinfo, headers.contains("authorization")) {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        line("Authorization", &format!("Basic {token}"));
    }
    if accept_gzip && !headers.contains("accept-encoding") {
        line("Accept-Encoding", "gzip");
    }
    for (name, value) in headers.iter() {
        line(name, value);
    }
    if body.is_some() || matches!(method, Method::Post | Method::Put | Method::Patch) {
        line("Content-Length", &body_len.to_string());
    }
    let mut head = format!("{} {} HTTP/1.1\r\n", method.as_str(), url.target).into_bytes();
    head.append(&mut w);
    head.extend_from_slice(b"\r\n");
    if let Some(b) = body {
        head.extend_from_slice(b);
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_methods_follow_rfc_9110() {
        use Method::*;
        for (status, from, to) in [
            (301, Post, Get),
            (302, Post, Get),
            (301, Put, Put),
            (302, Delete, Delete),
            (303, Post, Get),
            (303, Put, Get),
            (303, Head, Head),
            (303, Get, Get),
            (307, Post, Post),
            (308, Post, Post),
            (308, Head, Head),
        ] {
            assert_eq!(redirect_method(status, from), to, "{status} {from}");
        }
    }

    #[test]
    fn request_bytes_frame_the_body() {
        let url = Url::parse("http://u:p@127.0.0.1:81/x?y").unwrap();
        let mut headers = HeaderMap::new();
        headers.append("X-A", "1");
        let opts = HttpClientOptions {
            user_agent: None,
            ..HttpClientOptions::default()
        };
        let wire = request_bytes(&url, Method::Post, &headers, Some(b"hi"), &opts, false);
        assert_eq!(
            String::from_utf8(wire).unwrap(),
            "POST /x?y HTTP/1.1\r\nHost: 127.0.0.1:81\r\nAuthorization: Basic dTpw\r\n\
             X-A: 1\r\nContent-Length: 2\r\n\r\nhi"
        );
        let url = Url::parse("http://h/").unwrap();
        let wire = request_bytes(&url, Method::Put, &HeaderMap::new(), None, &opts, false);
        assert!(wire.ends_with(b"Content-Length: 0\r\n\r\n"));
        let wire = request_bytes(&url, Method::Get, &HeaderMap::new(), None, &opts, false);
        assert_eq!(wire, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        // decompress_response asks for gzip, unless the request asks for something itself.
        let wire = request_bytes(&url, Method::Get, &HeaderMap::new(), None, &opts, true);
        assert_eq!(
            wire,
            b"GET / HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n"
        );
        let mut own = HeaderMap::new();
        own.append("accept-encoding", "identity");
        let wire = request_bytes(&url, Method::Get, &own, None, &opts, true);
        assert_eq!(
            wire,
            b"GET / HTTP/1.1\r\nHost: h\r\naccept-encoding: identity\r\n\r\n"
        );
    }

    #[test]
    fn bad_requests_are_refused_before_sending() {
        let check = |r: HttpRequest| check_request(&r).map_err(|e| e.kind());
        assert_eq!(
            check(HttpRequest::new("http://h/").header("X", "a\r\nB: c")),
            Err(ErrorKind::InvalidRequest)
        );
        assert_eq!(
            check(HttpRequest::new("http://h/").header("Bad Name", "v")),
            Err(ErrorKind::InvalidRequest)
        );
        assert_eq!(
            check(HttpRequest::new("http://h/").header("content-length", "3")),
            Err(ErrorKind::InvalidRequest)
        );
        assert_eq!(
            check(HttpRequest::new("http://h/").method(Method::Connect)),
            Err(ErrorKind::InvalidRequest)
        );
        assert!(check(HttpRequest::new("http://h/").header("X-Ok", "v\tw")).is_ok());
    }
}
