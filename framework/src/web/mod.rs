//! The web layer: what an application sees above HTTP.
//!
//! These modules are its pure part: formats and cryptography over plain strings, bytes and
//! times, with no I/O and no request types, so the `Application` and `Context` can call them
//! and tests can pin them byte for byte.
//!
//! - [`cookies`]: the `Cookie` request header, `Set-Cookie` values, Tornado's signed values.
//! - [`xsrf`]: Tornado's version-2 (masked) XSRF tokens.
//! - [`etag`]: ETags and `If-None-Match` / `If-Match` evaluation.
//!
//! [`static_files`] holds the [`StaticFileHandler`]; `static_url.rs`, [`Context::static_url`].

mod application;
mod arguments;
mod context;
pub mod cookies;
mod error;
pub mod etag;
mod handler;
mod router;
mod security;
mod signed;
pub mod static_files;
mod static_url;
mod streaming;
pub mod xsrf;

pub use application::{
    Application, DefaultHandler, Route, RouteArity, RouteSpec, Routes, Settings,
};
pub use context::Context;
pub use error::{Error, ErrorKind, HttpError, Result};
pub use handler::{IntoHandlerResult, PathArg, RequestHandler};
pub use security::XSRF_NAME;
pub use static_files::StaticFileHandler;

#[doc(hidden)]
pub use handler::{path_arg, path_arg_opt};
