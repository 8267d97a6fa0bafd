//! [`Error`]: why a fetch failed, as an [`ErrorKind`] to match on, the URL it concerned, a
//! message, and the lower-level error that caused it ([`source`](std::error::Error::source)).

use std::borrow::Cow;
use std::fmt;

use super::HttpResponse;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The URL cannot be fetched: not `http`/`https`, no host, a bad port, control characters.
    InvalidUrl,
    /// The request cannot be sent as given: an invalid header name or value, a framing header
    /// the client owns (`Content-Length`, `Transfer-Encoding`), a method it cannot send.
    InvalidRequest,
    /// The request needs something this build lacks (`https` without the `tls` feature).
    Unsupported,
    /// The host name did not resolve to any address.
    Resolve,
    /// No connection could be made (refused, unreachable).
    Connect,
    /// The TLS handshake of an `https` fetch failed: the server's certificate is not trusted
    /// or not valid for the URL's host, or the server does not speak TLS (the
    /// [`source`](std::error::Error::source) is the rustls error).
    Tls,
    /// No connection within the request's `connect_timeout` (resolving, waiting for a free
    /// pooled connection and connecting all count).
    ConnectTimeout,
    /// No complete response within the request's `request_timeout`.
    RequestTimeout,
    /// The connection closed (or was reset) before the response was complete: a response cut
    /// short is this error, never a shorter success.
    Closed,
    /// The server's response is not valid, unambiguous HTTP/1.x (Content-Length beside
    /// Transfer-Encoding, differing lengths, bad chunk framing, a bare LF, ...).
    BadResponse,
    /// The response head or body is over its limit (`max_header_size`, `max_response_size`).
    TooLarge,
    /// More redirects than the request's `max_redirects`.
    TooManyRedirects,
    /// A response with a 4xx or 5xx status, from [`HttpResponse::error_for_status`].
    Status,
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            ErrorKind::InvalidUrl => "invalid URL",
            ErrorKind::InvalidRequest => "invalid request",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Resolve => "cannot resolve host",
            ErrorKind::Connect => "cannot connect",
            ErrorKind::Tls => "TLS handshake failed",
            ErrorKind::ConnectTimeout => "timeout while connecting",
            ErrorKind::RequestTimeout => "timeout during request",
            ErrorKind::Closed => "connection closed",
            ErrorKind::BadResponse => "bad response",
            ErrorKind::TooLarge => "response too large",
            ErrorKind::TooManyRedirects => "too many redirects",
            ErrorKind::Status => "HTTP error",
        }
    }
}

/// Why [`fetch`](super::HttpClient::fetch) failed (Tornado's `HTTPClientError` and the
/// exceptions beside it).
///
/// # Examples
///
/// ```
/// use squall::httpclient::{fetch, ErrorKind};
/// use squall::ioloop::IOLoop;
///
/// let err = IOLoop::new().unwrap().run_sync(fetch("ftp://127.0.0.1/")).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidUrl);
/// assert!(err.to_string().contains("unsupported scheme"));
/// ```
pub struct Error {
    kind: ErrorKind,
    url: String,
    message: Cow<'static, str>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    response: Option<Box<HttpResponse>>,
}

impl Error {
    pub(crate) fn new(
        kind: ErrorKind,
        url: impl Into<String>,
        message: impl Into<Cow<'static, str>>,
    ) -> Error {
        Error {
            kind,
            url: url.into(),
            message: message.into(),
            source: None,
            response: None,
        }
    }

    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Error {
        self.source = Some(source.into());
        self
    }

    pub(crate) fn with_response(mut self, response: HttpResponse) -> Error {
        self.response = Some(Box::new(response));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The URL the failing step was fetching (after redirects: the last one; no credentials).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether a time limit expired ([`ErrorKind::ConnectTimeout`] or
    /// [`ErrorKind::RequestTimeout`]).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::ConnectTimeout | ErrorKind::RequestTimeout
        )
    }

    /// The status of an [`ErrorKind::Status`] or [`ErrorKind::TooManyRedirects`] error's
    /// response.
    pub fn status(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status())
    }

    /// The response an [`ErrorKind::Status`] error was made from (Tornado's
    /// `HTTPClientError.response`), or the last redirect of [`ErrorKind::TooManyRedirects`]
    /// (its body not kept).
    pub fn response(&self) -> Option<&HttpResponse> {
        self.response.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.describe(), self.message)?;
        if !self.url.is_empty() {
            write!(f, " ({})", self.url)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("message", &self.message)
            .field("source", &self.source)
            .field("status", &self.status())
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        let kind = match e.kind {
            ErrorKind::ConnectTimeout | ErrorKind::RequestTimeout => std::io::ErrorKind::TimedOut,
            ErrorKind::Connect => std::io::ErrorKind::ConnectionRefused,
            ErrorKind::Closed => std::io::ErrorKind::UnexpectedEof,
            ErrorKind::InvalidUrl | ErrorKind::InvalidRequest => std::io::ErrorKind::InvalidInput,
            ErrorKind::BadResponse | ErrorKind::TooLarge => std::io::ErrorKind::InvalidData,
            ErrorKind::Unsupported => std::io::ErrorKind::Unsupported,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}
