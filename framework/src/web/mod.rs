//! The web layer: what an application sees above HTTP.
//!
//! These modules are its pure part: formats and cryptography over plain strings, bytes and
//! times, with no I/O and no request types, so the `Application` and `Context` can call them
//! and tests can pin them byte for byte.
//!
//! - [`cookies`]: the `Cookie` request header, `Set-Cookie` values, Tornado's signed values.
//! - [`xsrf`]: Tornado's version-2 (masked) XSRF tokens.
//! - [`etag`]: ETags and `If-None-Match` / `If-Match` evaluation.

pub mod cookies;
pub mod etag;
pub mod xsrf;
