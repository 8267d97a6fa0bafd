//! Errors: [`HttpError`] for handlers (Tornado's `HTTPError`; [`Result`] is
//! `Result<T, HttpError>`) and [`SetupError`] for building and starting an application.
//!
//! ### Causes
//!
//! Both keep the error that caused them as their [`source`](std::error::Error::source), not
//! as text: a report can walk the chain, and code can downcast a cause. As the Rust error
//! guidelines ask, `Display` shows one level (the chain is `source()`'s), so nothing is
//! printed twice by reporters that walk it. `Debug` of a [`SetupError`] is the whole chain as
//! one sentence (`I/O error: cannot listen on 127.0.0.1:8888: Address already in use (os
//! error 98)`), because that is what `main` prints when it returns the error.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::http1::reason_phrase;

/// A handler's failure, answered with an HTTP status.
///
/// The client sees the status and a short generic page (or the handler's
/// [`write_error`](crate::web::RequestHandler::write_error)); the `log_message` goes to the log
/// only, never to the client unless the application runs with `debug`. `?` converts common
/// errors: I/O, executor and JSON-encoding failures become 500, parse errors of client input
/// become 400, each keeping the original error as its [`source`](StdError::source).
///
/// # Examples
///
/// ```
/// use squall::web::HttpError;
/// let e = HttpError::new(404).log("no user 42");
/// assert_eq!(e.status(), 404);
/// assert_eq!(e.reason(), "Not Found");
/// ```
#[derive(Clone)]
pub struct HttpError {
    status: u16,
    log_message: Option<Cow<'static, str>>,
    reason: Option<Cow<'static, str>>,
    // Shared, so that the error stays `Clone` (a handler may keep one it also returns).
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
    message: Option<Cow<'static, str>>,
}

/// The result type of handler methods.
pub type Result<T = (), E = HttpError> = std::result::Result<T, E>;

impl HttpError {
    /// An error with this status (a status outside 100..=599 becomes 500).
    pub fn new(status: u16) -> HttpError {
        HttpError {
            status: if (100..=599).contains(&status) {
                status
            } else {
                500
            },
            log_message: None,
            reason: None,
            source: None,
            message: None,
        }
    }

    /// Keeps `cause` as this error's [`source`](StdError::source): it is logged with the
    /// error (and shown with it in `debug` mode), never sent to the client otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::error::Error as _;
    /// use squall::web::HttpError;
    /// let disk = std::io::Error::other("disk full");
    /// let e = HttpError::new(503).log("saving the upload").with_source(disk);
    /// assert_eq!(e.source().unwrap().to_string(), "disk full");
    /// ```
    pub fn with_source(mut self, cause: impl StdError + Send + Sync + 'static) -> HttpError {
        self.source = Some(Arc::new(cause));
        self
    }

    /// Adds a message for the log (not shown to clients unless `debug` is on).
    pub fn log(mut self, message: impl Into<Cow<'static, str>>) -> HttpError {
        self.log_message = Some(message.into());
        self
    }

    /// Sets a custom reason phrase for the status line (CR/LF are dropped when sent).
    pub fn with_reason(mut self, reason: impl Into<Cow<'static, str>>) -> HttpError {
        self.reason = Some(reason.into());
        self
    }

    /// Adds a message for the client, shown on the error page (escaped) and as the
    /// `"message"` of JSON errors ([`Context::write_json_error`](super::Context::write_json_error)):
    /// say what was wrong with the request ("field `count`: invalid digit"), never internal
    /// detail (that goes to [`log`](HttpError::log)).
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> HttpError {
        self.message = Some(message.into());
        self
    }

    /// The client message, if any (see [`with_message`](HttpError::with_message)).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// A 400 whose client message and log message are both `message`: for input the client
    /// can correct.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> HttpError {
        let message = message.into();
        HttpError::new(400)
            .log(message.clone())
            .with_message(message)
    }

    /// A 500 with a log message: the usual way to report an internal failure.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> HttpError {
        HttpError::new(500).log(message)
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The log message, if any.
    pub fn log_message(&self) -> Option<&str> {
        self.log_message.as_deref()
    }

    /// The reason phrase: the custom one, or the standard one for the status.
    pub fn reason(&self) -> &str {
        match &self.reason {
            Some(r) => r,
            None => reason_phrase(self.status),
        }
    }

    pub(crate) fn custom_reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// What the log (and a `debug` error page) says about the error: the log message, then
    /// each cause, joined by `": "`; `None` when there is neither.
    pub(crate) fn detail(&self) -> Option<String> {
        let mut out = self.log_message.as_deref().map(str::to_owned);
        let mut cause = self.source();
        while let Some(c) = cause {
            let text = c.to_string();
            out = Some(match out {
                Some(o) => format!("{o}: {text}"),
                None => text,
            });
            cause = c.source();
        }
        out
    }
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpError({} {}", self.status, self.reason())?;
        if let Some(d) = self.detail() {
            write!(f, ": {d}")?;
        }
        f.write_str(")")
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.reason())?;
        if let Some(m) = &self.log_message {
            write!(f, " ({m})")?;
        }
        Ok(())
    }
}

impl StdError for HttpError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl From<u16> for HttpError {
    fn from(status: u16) -> HttpError {
        HttpError::new(status)
    }
}

/// A failed call to another service: 504 Gateway Timeout if it timed out, else 502 Bad
/// Gateway, with the detail for the log only (`?` on a fetch in a handler).
impl From<crate::httpclient::Error> for HttpError {
    fn from(e: crate::httpclient::Error) -> HttpError {
        let status = if e.is_timeout() { 504 } else { 502 };
        HttpError::new(status).with_source(e)
    }
}

macro_rules! from_error {
    ($status:expr, $($t:ty),*) => {$(
        impl From<$t> for HttpError {
            fn from(e: $t) -> HttpError {
                HttpError::new($status).with_source(e)
            }
        }
    )*};
}

from_error!(
    500,
    std::io::Error,
    crate::task::JoinError,
    crate::iostream::StreamError,
    crate::http1::ResponseError,
    std::fmt::Error
);
from_error!(
    400,
    std::num::ParseIntError,
    std::num::ParseFloatError,
    std::str::ParseBoolError,
    std::str::Utf8Error,
    std::string::FromUtf8Error,
    crate::httputil::ParseError
);

#[cfg(feature = "json")]
from_error!(500, serde_json::Error);

/// Why an application could not be set up or started: inconsistent settings, a route that
/// does not compile, a socket that cannot be bound. The pair of [`HttpError`], which is what a
/// handler's [`Result`] fails with.
///
/// `Display` says what failed; the cause (an [`io::Error`](std::io::Error) from `bind`, a
/// `regex` error, ...) is its [`source`](StdError::source). `Debug` is the whole chain as one
/// sentence, so that `main` prints a readable line when it returns the error, also through
/// `?` into `std::io::Result` (which wraps it: `Error: Custom { kind: InvalidInput, error:
/// <the sentence> }`; a `main` returning `Result<(), Box<dyn std::error::Error>>` prints just
/// `Error: <the sentence>`).
///
/// # Examples
///
/// ```
/// use squall::prelude::*;
/// use squall::web::SetupErrorKind;
///
/// let e = Application::with_settings(
///     routes![],
///     Settings { xsrf_cookies: true, ..Settings::default() },
/// )
/// .unwrap_err();
/// assert_eq!(e.kind(), SetupErrorKind::Config);
/// assert_eq!(
///     format!("{e:?}"),
///     "invalid configuration: xsrf_cookies requires a cookie_secret (Settings::cookie_secret)"
/// );
/// ```
pub struct SetupError {
    kind: SetupErrorKind,
    message: Cow<'static, str>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

/// The kind of a [`SetupError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetupErrorKind {
    /// The settings are inconsistent (e.g. `xsrf_cookies` without `cookie_secret`).
    Config,
    /// A route could not be built or reversed.
    Route,
    /// Binding or serving failed.
    Io,
}

impl SetupErrorKind {
    /// How a report of this kind begins.
    fn describe(self) -> &'static str {
        match self {
            SetupErrorKind::Config => "invalid configuration",
            SetupErrorKind::Route => "invalid route",
            SetupErrorKind::Io => "I/O error",
        }
    }
}

impl SetupError {
    pub(crate) fn new(kind: SetupErrorKind, message: impl Into<Cow<'static, str>>) -> SetupError {
        SetupError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Keeps `cause` as the error's source.
    pub(crate) fn with_source(
        mut self,
        cause: impl StdError + Send + Sync + 'static,
    ) -> SetupError {
        self.source = Some(Box::new(cause));
        self
    }

    /// What went wrong, broadly.
    pub fn kind(&self) -> SetupErrorKind {
        self.kind
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl fmt::Debug for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)?;
        let mut cause = self.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

impl StdError for SetupError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// An I/O failure with no more context (binding, signal handlers): [`SetupErrorKind::Io`],
/// the error kept as the source.
impl From<std::io::Error> for SetupError {
    fn from(e: std::io::Error) -> SetupError {
        SetupError::new(SetupErrorKind::Io, "").with_source(e)
    }
}

/// For `?` in a `main` returning `std::io::Result`: the setup error becomes the io::Error's
/// payload (so its `Debug` sentence is what `main` prints), with kind `InvalidInput` for
/// configuration and routes, or the underlying I/O error's kind.
impl From<SetupError> for std::io::Error {
    fn from(e: SetupError) -> std::io::Error {
        let kind = match e.kind {
            SetupErrorKind::Io => match e
                .source
                .as_deref()
                .and_then(|s| s.downcast_ref::<std::io::Error>())
            {
                Some(io) => io.kind(),
                None => std::io::ErrorKind::Other,
            },
            _ => std::io::ErrorKind::InvalidInput,
        };
        std::io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_pick_statuses() {
        let e: HttpError = "x".parse::<u32>().unwrap_err().into();
        assert_eq!(e.status(), 400);
        let e: HttpError = std::io::Error::other("disk").into();
        assert_eq!(e.status(), 500);
        // The cause is kept as the source, not flattened into the log message.
        assert_eq!(e.log_message(), None);
        assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("disk"));
        assert_eq!(e.detail().as_deref(), Some("disk"));
        assert_eq!(HttpError::new(42).status(), 500);
        assert_eq!(HttpError::new(418).with_reason("Teapot").reason(), "Teapot");
    }
}
