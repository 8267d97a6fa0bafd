//! [`HttpRequest`] (what to fetch, and how) and [`HttpResponse`] (what came back): Tornado's
//! `HTTPRequest` and `HTTPResponse`.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use super::{Error, ErrorKind};
use crate::http1::{Method, Version};
use crate::httputil::HeaderMap;

/// Default [`HttpRequest::connect_timeout`] (Tornado's 20 seconds).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Default [`HttpRequest::request_timeout`] (Tornado's 20 seconds).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Default [`HttpRequest::max_redirects`] (Tornado's 5).
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;

/// A request to fetch: URL, method, headers, body, and how to fetch it (timeouts, redirects,
/// a streaming body callback, a size limit).
///
/// `&str` and `String` convert into a GET request, so `fetch("http://...")` works.
///
/// # Examples
///
/// ```
/// use squall::http1::Method;
/// use squall::httpclient::HttpRequest;
/// use std::time::Duration;
///
/// let req = HttpRequest::new("http://127.0.0.1:8888/api")
///     .method(Method::Post)
///     .header("Content-Type", "application/json")
///     .body(r#"{"a":1}"#)
///     .request_timeout(Duration::from_secs(5))
///     .follow_redirects(false);
/// assert_eq!(req.url(), "http://127.0.0.1:8888/api");
/// ```
pub struct HttpRequest {
    pub(crate) url: String,
    pub(crate) method: Method,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) follow_redirects: bool,
    pub(crate) max_redirects: u32,
    pub(crate) max_response_size: Option<u64>,
    pub(crate) streaming_callback: Option<StreamingCallback>,
    pub(crate) decompress_response: bool,
}

/// A body callback (see [`HttpRequest::streaming_callback`]).
pub(crate) type StreamingCallback = Box<dyn FnMut(&[u8])>;

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("follow_redirects", &self.follow_redirects)
            .field("max_redirects", &self.max_redirects)
            .field("streaming", &self.streaming_callback.is_some())
            .field("decompress_response", &self.decompress_response)
            .finish()
    }
}

impl HttpRequest {
    /// A GET of `url` with the defaults: 20 s connect and request timeouts, up to 5 redirects
    /// followed, the client's size limits, gzip responses asked for and decompressed.
    pub fn new(url: impl Into<String>) -> HttpRequest {
        HttpRequest {
            url: url.into(),
            method: Method::Get,
            headers: HeaderMap::new(),
            body: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            follow_redirects: true,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            max_response_size: None,
            streaming_callback: None,
            decompress_response: true,
        }
    }

    /// The URL to fetch.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sets the method (default GET). `CONNECT` and [`Method::Other`] cannot be sent: the
    /// fetch fails with [`ErrorKind::InvalidRequest`].
    pub fn method(mut self, method: Method) -> HttpRequest {
        self.method = method;
        self
    }

    /// Adds a header field (after any of the same name). Names and values are checked when
    /// the request is sent (CR, LF, NUL and other controls are refused). `Host` and
    /// `User-Agent` replace the client's own; `Content-Length` and `Transfer-Encoding` are the
    /// client's to set from the body.
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> HttpRequest {
        self.headers.append(name, value);
        self
    }

    /// The header fields set so far.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Sets the body, sent with a `Content-Length`. (POST, PUT and PATCH without a body send
    /// `Content-Length: 0`.)
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> HttpRequest {
        self.body = Some(body.into());
        self
    }

    /// Time allowed to get a connection: resolving the host, waiting for a free one from the
    /// pool, connecting (default 20 s).
    pub fn connect_timeout(mut self, limit: Duration) -> HttpRequest {
        self.connect_timeout = limit;
        self
    }

    /// Time allowed for the whole fetch, redirects included, until the last body byte
    /// (default 20 s).
    pub fn request_timeout(mut self, limit: Duration) -> HttpRequest {
        self.request_timeout = limit;
        self
    }

    /// Whether 301, 302, 303, 307 and 308 responses with a `Location` are followed (default
    /// true); if not, they are returned as they are.
    pub fn follow_redirects(mut self, follow: bool) -> HttpRequest {
        self.follow_redirects = follow;
        self
    }

    /// Most redirects followed (default 5); one more is [`ErrorKind::TooManyRedirects`].
    pub fn max_redirects(mut self, n: u32) -> HttpRequest {
        self.max_redirects = n;
        self
    }

    /// Bound on the response body in bytes (default: the client's
    /// [`max_response_size`](super::HttpClientOptions::max_response_size)), applied with a
    /// streaming callback too; over it, [`ErrorKind::TooLarge`].
    pub fn max_response_size(mut self, n: u64) -> HttpRequest {
        self.max_response_size = Some(n);
        self
    }

    /// Hands the final response's body to `callback` piece by piece as it arrives, instead of
    /// collecting it into [`HttpResponse::body`] (which stays empty): Tornado's
    /// `streaming_callback`. Redirect bodies are not passed to it. Called on the loop thread.
    pub fn streaming_callback(mut self, callback: impl FnMut(&[u8]) + 'static) -> HttpRequest {
        self.streaming_callback = Some(Box::new(callback));
        self
    }

    /// Whether to ask for a gzip-compressed response and decompress it (default `true`, as
    /// Tornado's `decompress_response`).
    ///
    /// On, the request says `Accept-Encoding: gzip` (unless it sets its own
    /// `Accept-Encoding`), and a response with `Content-Encoding: gzip` is decompressed as
    /// it arrives: [`HttpResponse::body`] (or the streaming callback) gets the decompressed
    /// bytes, bounded by [`max_response_size`](HttpRequest::max_response_size) (a small body
    /// that would inflate past it is [`ErrorKind::TooLarge`]; corrupt gzip is
    /// [`ErrorKind::BadResponse`]), and the headers say `X-Consumed-Content-Encoding: gzip`
    /// instead of `Content-Encoding` (Tornado's names). Off, nothing is asked for and the body
    /// is given as it came.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::httpclient::HttpRequest;
    ///
    /// // The compressed bytes, as sent (for a proxy passing them on, say).
    /// let raw = HttpRequest::new("http://127.0.0.1:8888/big.json").decompress_response(false);
    /// # let _ = raw;
    /// ```
    pub fn decompress_response(mut self, on: bool) -> HttpRequest {
        self.decompress_response = on;
        self
    }
}

impl From<&str> for HttpRequest {
    fn from(url: &str) -> HttpRequest {
        HttpRequest::new(url)
    }
}

impl From<String> for HttpRequest {
    fn from(url: String) -> HttpRequest {
        HttpRequest::new(url)
    }
}

impl From<&String> for HttpRequest {
    fn from(url: &String) -> HttpRequest {
        HttpRequest::new(url.as_str())
    }
}

/// A complete response: status, headers, body, and where it came from.
#[derive(Clone)]
pub struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) reason: String,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) effective_url: String,
    pub(crate) request_time: Duration,
    pub(crate) redirects: u32,
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("reason", &self.reason)
            .field("effective_url", &self.effective_url)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl HttpResponse {
    /// The status code (Tornado's `code`).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase the server sent.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The HTTP version of the response.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields, in the order received. Values that were not UTF-8 are read as
    /// ISO-8859-1, as Tornado does.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The body (empty with a streaming callback, and for HEAD, 204 and 304).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Takes the body out.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The URL that answered, after redirects (without credentials).
    pub fn effective_url(&self) -> &str {
        &self.effective_url
    }

    /// Redirects followed to get here.
    pub fn redirects(&self) -> u32 {
        self.redirects
    }

    /// Time from the start of the fetch to the end of this response.
    pub fn request_time(&self) -> Duration {
        self.request_time
    }

    /// `Ok(self)` for a status below 400, else an [`ErrorKind::Status`] error holding this
    /// response: Tornado's `raise_error=True` / `rethrow()`, which Squall leaves to the caller.
    ///
    /// # Errors
    ///
    /// The 4xx or 5xx response, as an [`Error`].
    pub fn error_for_status(self) -> Result<HttpResponse, Error> {
        if self.status < 400 {
            return Ok(self);
        }
        let message = format!("HTTP {} {}", self.status, self.reason);
        Err(Error::new(ErrorKind::Status, self.effective_url.clone(), message).with_response(self))
    }
}
