//! [`Request`]: one parsed HTTP request, its head kept as raw bytes with offsets into them,
//! and [`RequestBuilder`], which makes one by hand. The public face of the request modules:
//! it reads what the parser (`parse.rs`) left in the request's [`Parts`] (`parts.rs`); the
//! method and version types are `method.rs`'s.

use std::fmt;
use std::mem::ManuallyDrop;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Instant;

use super::method::{Method, MethodKind, Version};
use super::parse::{absolute_target, Head};
use super::parts::{BodySink, Parts, RequestPool, Span};

/// One HTTP request as the server parsed it: method, target, version, headers and body.
///
/// The head is stored once, as the raw bytes that arrived, with offsets for each part; the
/// accessors return slices of it. Its buffers are recycled by the server when it is dropped.
pub struct Request {
    /// Everything about the request, boxed and pooled: a request moves as two pointers.
    /// Taken out only by `drop` (to go back to the pool).
    pub(crate) parts: ManuallyDrop<Box<Parts>>,
    pub(crate) pool: Option<Rc<RequestPool>>,
}

impl Request {
    /// A request over `parts` (filled by the parser or a builder).
    pub(crate) fn from_parts(parts: Box<Parts>, pool: Option<Rc<RequestPool>>) -> Request {
        Request {
            parts: ManuallyDrop::new(parts),
            pool,
        }
    }

    /// Takes the request line's facts from a parsed head, and whether it came over TLS.
    pub(crate) fn set_head(&mut self, head: &Head, https: bool) {
        let p = &mut **self.parts;
        p.method = head.method;
        p.method_span = head.method_span;
        p.target = head.target;
        p.path_len = head.path_len;
        p.authority = head.authority;
        p.version = head.version;
        p.keep_alive = head.keep_alive;
        // (Set for every request: a pooled box may carry an earlier one's.)
        p.https = https;
    }
}

impl Drop for Request {
    // Inlined into the drop glue: one call per request instead of three nested ones.
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `parts` is taken exactly once, here, and the request is never used again.
        let parts = unsafe { ManuallyDrop::take(&mut self.parts) };
        if let Some(pool) = self.pool.take() {
            pool.give(parts);
        }
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method_str())
            .field("uri", &self.uri())
            .field("version", &self.parts.version)
            .field("headers", &self.headers().collect::<Vec<_>>())
            .field("body_len", &self.parts.body.len())
            .field("remote_ip", &self.parts.remote_ip)
            .finish()
    }
}

/// The text of a span known to be UTF-8: the method and target spans, which are only ever
/// made over checked bytes (the request-line parser's token method and UTF-8-checked target)
/// or from a builder's `String`.
fn trusted_str(head: &[u8], (a, b): Span) -> &str {
    match head.get(a as usize..b as usize) {
        // SAFETY: see above: these spans cover bytes checked to be UTF-8 when recorded, and
        // start and end on char boundaries (the whole method or target, or cut at an ASCII `?`).
        Some(bytes) => unsafe { std::str::from_utf8_unchecked(bytes) },
        None => "",
    }
}

fn span_str(head: &[u8], (a, b): Span) -> &str {
    // Spans are only created over bytes checked to be UTF-8 (method, target) or are read
    // through `header_bytes` (values); an invalid span yields "".
    head.get(a as usize..b as usize)
        .and_then(|s| std::str::from_utf8(s).ok())
        .unwrap_or("")
}

impl Request {
    /// Builds a request by hand (for tests and tools); the server builds them from the wire.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::http1::{Method, Request};
    /// let r = Request::builder(Method::Post, "/a/b?x=1").header("Host", "h").body(b"hi".to_vec()).build();
    /// assert_eq!(r.path(), "/a/b");
    /// assert_eq!(r.query(), "x=1");
    /// assert_eq!(r.header("host"), Some("h"));
    /// assert_eq!(r.body(), b"hi");
    /// ```
    pub fn builder(method: Method, uri: &str) -> RequestBuilder {
        RequestBuilder {
            method,
            uri: uri.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            version: Version::Http11,
            remote: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }

    /// The method (an extension method with its text, copied from the request line).
    #[inline]
    pub fn method(&self) -> Method {
        match self.parts.method {
            MethodKind::Other => Method::from_kind(MethodKind::Other, self.method_str().as_bytes()),
            known => Method::from_kind(known, b""),
        }
    }

    /// The method without an extension method's text: what the request path compares.
    #[inline]
    pub(crate) fn method_kind(&self) -> MethodKind {
        self.parts.method
    }

    /// The method as sent (the same text as `method().as_str()`).
    pub fn method_str(&self) -> &str {
        trusted_str(&self.parts.head, self.parts.method_span)
    }

    /// The request target: path and query, still percent-encoded. A target sent in
    /// absolute-form (`http://host/path?query`, RFC 9112 §3.2.2) is given without its scheme
    /// and authority (`/path?query`; an empty path as `/`): the authority is [`host`](Request::host).
    pub fn uri(&self) -> &str {
        trusted_str(&self.parts.head, self.parts.target)
    }

    /// The path part of the target (percent-encoded, as routing sees it).
    pub fn path(&self) -> &str {
        trusted_str(
            &self.parts.head,
            (
                self.parts.target.0,
                self.parts.target.0 + self.parts.path_len,
            ),
        )
    }

    /// The query string (after `?`, without it), or `""`.
    pub fn query(&self) -> &str {
        let q0 = self.parts.target.0 + self.parts.path_len + 1;
        if q0 > self.parts.target.1 {
            ""
        } else {
            trusted_str(&self.parts.head, (q0, self.parts.target.1))
        }
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.parts.version
    }

    /// The first value of header `name` (case-insensitive), if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of header `name` as raw bytes (HTTP allows obs-text, which is not UTF-8).
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        let head = &self.parts.head;
        self.parts.headers.iter().find_map(|&(n, v)| {
            let hn = &head[n.0 as usize..n.1 as usize];
            hn.eq_ignore_ascii_case(name.as_bytes())
                .then(|| &head[v.0 as usize..v.1 as usize])
        })
    }

    /// Every value of header `name`, in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let head = &self.parts.head;
        // Names are compared as bytes; only the matching values are decoded.
        self.parts
            .headers
            .iter()
            .filter(move |&&(n, _)| {
                head[n.0 as usize..n.1 as usize].eq_ignore_ascii_case(name.as_bytes())
            })
            .map(move |&(_, v)| span_str(head, v))
    }

    /// Every header as `(name, value)` in arrival order (values that are not UTF-8 read as "").
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let head = &self.parts.head;
        self.parts
            .headers
            .iter()
            .map(move |&(n, v)| (span_str(head, n), span_str(head, v)))
    }

    /// The body (empty if it was streamed to a [`BodySink`]).
    pub fn body(&self) -> &[u8] {
        &self.parts.body
    }

    /// Takes the body out of the request.
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.parts.body)
    }

    /// The peer's socket address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.parts.remote_addr
    }

    /// The client's IP: the peer's, or with `xheaders` the one the proxy reported.
    pub fn remote_ip(&self) -> IpAddr {
        self.parts.remote_ip
    }

    /// `"http"` or `"https"` (with `xheaders`, as the proxy reported).
    pub fn protocol(&self) -> &'static str {
        if self.parts.https {
            "https"
        } else {
            "http"
        }
    }

    /// The host the request is for: the authority of an absolute-form target (which takes
    /// precedence over the `Host` field, RFC 9112 §3.2.2), else the `Host` header, or `""`.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::http1::{Method, Request};
    ///
    /// let r = Request::builder(Method::Get, "/a?b=1").header("Host", "h.test").build();
    /// assert_eq!((r.host(), r.path(), r.uri()), ("h.test", "/a", "/a?b=1"));
    /// let r = Request::builder(Method::Get, "http://example.test/a?b=1")
    ///     .header("Host", "h.test")
    ///     .build();
    /// assert_eq!((r.host(), r.path(), r.query(), r.uri()), ("example.test", "/a", "b=1", "/a?b=1"));
    /// let r = Request::builder(Method::Get, "https://example.test?b=1").build();
    /// assert_eq!((r.host(), r.path(), r.uri()), ("example.test", "/", "/?b=1"));
    /// ```
    pub fn host(&self) -> &str {
        if self.parts.authority.1 > self.parts.authority.0 {
            return trusted_str(&self.parts.head, self.parts.authority);
        }
        self.header("Host").unwrap_or("")
    }

    /// The host name without a port (`[::1]` keeps its brackets off: `::1`).
    pub fn host_name(&self) -> &str {
        let h = self.host();
        if let Some(rest) = h.strip_prefix('[') {
            return rest.split(']').next().unwrap_or("");
        }
        h.rsplit_once(':').map_or(h, |(name, _)| name)
    }

    /// `protocol://host/uri`, the URL the client asked for.
    pub fn full_url(&self) -> String {
        format!("{}://{}{}", self.protocol(), self.host(), self.uri())
    }

    /// Whether the connection stays open after this request's response (as the client asked
    /// and the server allows).
    pub fn keep_alive(&self) -> bool {
        self.parts.keep_alive
    }

    /// When the server started reading the request.
    pub fn start_time(&self) -> Instant {
        self.parts.start
    }

    /// Time since the request started, in seconds (Tornado's `request_time()`).
    pub fn request_time(&self) -> f64 {
        self.parts.start.elapsed().as_secs_f64()
    }

    /// Takes back the [`BodySink`] that received a streamed body.
    pub fn take_body_sink(&mut self) -> Option<Box<dyn BodySink>> {
        self.parts.sink.take()
    }
}

/// Builds a [`Request`] by hand; see [`Request::builder`].
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    version: Version,
    remote: SocketAddr,
}

impl RequestBuilder {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// Sets the version (default HTTP/1.1).
    pub fn version(mut self, v: Version) -> Self {
        self.version = v;
        self
    }

    /// Sets the peer address (default 127.0.0.1:0).
    pub fn remote_addr(mut self, a: SocketAddr) -> Self {
        self.remote = a;
        self
    }

    /// Builds the request.
    pub fn build(self) -> Request {
        let mut head = Vec::new();
        let m0 = 0u32;
        head.extend_from_slice(self.method.as_str().as_bytes());
        let m1 = head.len() as u32;
        head.push(b' ');
        let t0 = head.len() as u32;
        head.extend_from_slice(self.uri.as_bytes());
        let t1 = head.len() as u32;
        head.extend_from_slice(b" HTTP/1.1\r\n");
        let mut headers = Vec::new();
        for (n, v) in &self.headers {
            let n0 = head.len() as u32;
            head.extend_from_slice(n.as_bytes());
            let n1 = head.len() as u32;
            head.extend_from_slice(b": ");
            let v0 = head.len() as u32;
            head.extend_from_slice(v.as_bytes());
            let v1 = head.len() as u32;
            head.extend_from_slice(b"\r\n");
            headers.push(((n0, n1), (v0, v1)));
        }
        let mut target = (t0, t1);
        let mut path_len = self.uri.find('?').unwrap_or(self.uri.len()) as u32;
        let mut authority = (0, 0);
        // An absolute-form target reads as the server reads one (an invalid one as it is).
        let at = (t0 as usize, t1 as usize);
        if let Ok(Some(t)) = absolute_target(&mut head, at) {
            (target, path_len, authority) = t;
        }
        let parts = Box::new(Parts {
            head,
            headers,
            body: self.body,
            remote_addr: self.remote,
            remote_ip: self.remote.ip(),
            method: self.method.kind(),
            method_span: (m0, m1),
            target,
            path_len,
            authority,
            version: self.version,
            ..Parts::default()
        });
        Request::from_parts(parts, None)
    }
}
