//! The web layer: what an application sees above HTTP.
//!
//! ### Who owns what
//!
//! The request's journey, top to bottom:
//! - `application.rs`: [`Application`] and [`Settings`], the per-application state shared by
//!   its contexts (pools, the static-version cache, compressors, templates) and the
//!   [`HttpDelegate`](crate::http1::HttpDelegate) that routes each request and builds its
//!   context.
//! - `router.rs`: the routing types, [`Route`], [`RouteSpec`], [`Routes`], [`DefaultHandler`],
//!   the path groups of a match (`PathArgs`), the compiled table (`Router`: literal routes,
//!   regexes, the multi-pattern search) and `reverse_url`.
//! - `handler.rs` + `streaming.rs`: the [`RequestHandler`] lifecycle (XSRF check, `prepare`,
//!   the method, `on_finish`, errors and panics) and streamed request bodies; `hooks.rs` the
//!   application-wide [`Hooks`] (current user, before/after, the error page).
//! - `typed.rs` (query, form and JSON into serde types), `route_name.rs` ([`RouteName`],
//!   names checked at compile time), `templates` (minijinja, behind the `templates` feature).
//! - `context.rs`: [`Context`], Tornado's `self` (request accessors, response building,
//!   `finish`); its children add the methods of one concern each: `context/arguments.rs`
//!   (query/body arguments, linear and capped), `context/security.rs` (cookies, signed
//!   cookies, XSRF), `context/conditional.rs` (`check_preconditions`), `context/static_url.rs`
//!   (versioned URLs and their cache), `context/encoding.rs` (response compression).
//! - `static_files.rs`: the [`StaticFileHandler`]; `static_fs.rs` its filesystem side (paths
//!   kept inside the root, regular files only, identity stamps), shared with
//!   `context/static_url.rs`.
//! - `error.rs`: [`HttpError`] and [`SetupError`].
//!
//! Below them, pure formats and cryptography over plain strings, bytes and times (no I/O, no
//! request types), pinned byte for byte by their tests:
//! - [`cookies`]: the `Cookie` request header, `Set-Cookie` values, and (from `signed.rs`)
//!   Tornado's signed values and the cookie secrets; `secrets.rs` checks the secret at start.
//! - [`xsrf`]: Tornado's version-2 (masked) XSRF tokens.
//! - `crypto.rs`: the one home of constant-time comparison and HMAC-SHA256, used by signed
//!   values, XSRF tokens and cookies.
//! - [`etag`]: ETags and `If-None-Match` / `If-Match` evaluation.
//! - `compression.rs`: the rules of `Settings::compress_response` (negotiation, eligibility,
//!   coded ETags, the compressor pool); the [`Context`] applies them.
//!
//! ### Dependencies
//!
//! The pure modules import none of the journey's. Within the journey, one knot is there by
//! construction and is the only import cycle of this folder: [`Settings`] holds the
//! [`DefaultHandler`] and a [`Route`] holds its handler factory, both of which serve a
//! [`Context`], while a `Context` reads its application's settings and stores the route's
//! `PathArgs`: `application`, `router`, `handler`, `streaming`, `context` (and
//! `static_files`, the one handler the application adds itself) refer to one another.
//! Everything else points one way.

mod application;
mod compression;
mod context;
pub mod cookies;
mod crypto;
mod error;
pub mod etag;
mod handler;
mod hooks;
mod route_name;
mod router;
mod secrets;
mod signed;
mod static_files;
mod static_fs;
mod streaming;
#[cfg(feature = "templates")]
pub mod templates;
mod typed;
pub mod xsrf;

pub use application::{Application, Settings};
pub use compression::CompressionOptions;
pub use context::Context;
pub use context::{SIGNED_COOKIE_MAX_AGE, XSRF_NAME};
pub use error::{HttpError, Result, SetupError, SetupErrorKind};
pub use handler::{IntoHandlerResult, PathArg, RequestHandler};
pub use hooks::Hooks;
pub use route_name::RouteName;
pub use router::{DefaultHandler, Route, RouteArity, RouteSpec, Routes};
pub use secrets::RECOMMENDED_SECRET_LEN;
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
