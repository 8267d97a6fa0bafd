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
//! `compression.rs` holds the rules of `Settings::compress_response` (negotiation,
//! eligibility, coded ETags, the compressor pool); the [`Context`] applies them.
//!
//! `static_files.rs` holds the [`StaticFileHandler`]; `static_url.rs`, [`Context::static_url`].

mod application;
mod arguments;
mod compression;
mod context;
pub mod cookies;
mod error;
pub mod etag;
mod handler;
mod hooks;
mod route_name;
mod router;
mod secrets;
mod security;
mod signed;
mod static_files;
mod static_url;
mod streaming;
#[cfg(feature = "templates")]
pub mod templates;
mod typed;
pub mod xsrf;

pub use application::{
    Application, DefaultHandler, Route, RouteArity, RouteSpec, Routes, Settings,
};
pub use compression::CompressionOptions;
pub use context::Context;
pub use error::{HttpError, Result, SetupError, SetupErrorKind};
pub use handler::{IntoHandlerResult, PathArg, RequestHandler};
pub use hooks::Hooks;
pub use route_name::RouteName;
pub use secrets::RECOMMENDED_SECRET_LEN;
pub use security::{SIGNED_COOKIE_MAX_AGE, XSRF_NAME};
pub use static_files::StaticFileHandler;

#[doc(hidden)]
pub use handler::{path_arg, path_arg_opt};

/// Whether `a` and `b` are the same bytes. Slices of 4 to 16 bytes (URL paths, small bodies)
/// are compared as two overlapping words in line, where `==` would call `memcmp`.
#[inline(always)]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        8..=16 => {
            a.first_chunk::<8>() == b.first_chunk::<8>()
                && a.last_chunk::<8>() == b.last_chunk::<8>()
        }
        4..=7 => {
            a.first_chunk::<4>() == b.first_chunk::<4>()
                && a.last_chunk::<4>() == b.last_chunk::<4>()
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_bytes_agrees_with_eq() {
        // Every length around the word splits, with one byte changed at every position.
        for len in 0..40 {
            let a: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
            assert!(super::same_bytes(&a, &a.clone()));
            for pos in 0..len {
                for flip in [1u8, 0x80, 0xff] {
                    let mut b = a.clone();
                    b[pos] ^= flip;
                    assert_eq!(super::same_bytes(&a, &b), a == b, "{a:?} {b:?}");
                }
            }
            let longer = [a.as_slice(), b"x"].concat();
            assert!(!super::same_bytes(&a, &longer));
        }
    }
}
