//! Errors: [`HttpError`] for handlers (Tornado's `HTTPError`) and [`Error`] for setup.

use std::borrow::Cow;
use std::fmt;

use crate::http1::reason_phrase;

/// A handler's failure, answered with an HTTP status.
///
/// The client sees the status and a short generic page (or the handler's
/// [`write_error`](crate::web::RequestHandler::write_error)); the `log_message` goes to the log
/// only, never to the client unless the application runs with `debug`. `?` converts common
/// errors: I/O, executor and JSON-encoding failures become 500, parse errors of client input
/// become 400.
///
/// # Examples
///
/// ```
/// use squall::web::HttpError;
/// let e = HttpError::new(404).log("no user 42");
/// assert_eq!(e.status(), 404);
/// assert_eq!(e.reason(), "Not Found");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct HttpError {
    status: u16,
    log_message: Option<Cow<'static, str>>,
    reason: Option<Cow<'static, str>>,
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
        }
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
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpError({} {}", self.status, self.reason())?;
        if let Some(m) = &self.log_message {
            write!(f, ": {m}")?;
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

impl std::error::Error for HttpError {}

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
        HttpError::new(status).log(e.to_string())
    }
}

macro_rules! from_error {
    ($status:expr, $($t:ty),*) => {$(
        impl From<$t> for HttpError {
            fn from(e: $t) -> HttpError {
                HttpError::new($status).log(e.to_string())
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

/// Why an application could not be set up or served.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// The kind of an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The settings are inconsistent (e.g. `xsrf_cookies` without `cookie_secret`).
    Config,
    /// A route could not be built or reversed.
    Route,
    /// Binding or serving failed.
    Io,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// What went wrong, broadly.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, e.to_string())
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        let kind = match e.kind {
            ErrorKind::Io => std::io::ErrorKind::Other,
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
        assert_eq!(e.log_message(), Some("disk"));
        assert_eq!(HttpError::new(42).status(), 500);
        assert_eq!(HttpError::new(418).with_reason("Teapot").reason(), "Teapot");
    }
}
