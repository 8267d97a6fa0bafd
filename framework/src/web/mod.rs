//! The web layer: what an application sees above HTTP.
//!
//! ### Who owns what
//!
//! The request's journey, top to bottom (each file imports only files below it):
//! - `application.rs`: [`Application`]: checks the [`Settings`], builds the routing table and
//!   the state its contexts share, and is the [`HttpDelegate`](crate::http1::HttpDelegate)
//!   that routes each request, runs the `before` hook and hands the context to its route.
//! - `router.rs`: the routing types, [`Route`], [`RouteSpec`], [`Routes`], [`RouteArity`],
//!   the handler factories behind a route (and [`DefaultHandler::new`]) and the compiled
//!   table (`Router`: literal routes, regexes, the multi-pattern search).
//! - `streaming.rs`: streamed request bodies; `static_files.rs`: the [`StaticFileHandler`].
//! - `handler.rs`: the [`RequestHandler`] lifecycle (XSRF check, `prepare`, the method,
//!   `on_finish`, errors and panics).
//! - `typed.rs`: query, form and JSON into serde types.
//! - `context.rs`: [`Context`], Tornado's `self` (request accessors, response building).
//!   Its children add one concern each: `context/send.rs` (flush, finish, abort, the
//!   protocol hand-over), `context/arguments.rs` (query/body
//!   arguments, linear and capped), `context/security.rs` (cookies, signed cookies, XSRF),
//!   `context/conditional.rs` (`check_preconditions`), `context/static_url.rs` (versioned
//!   URLs for a request), `context/encoding.rs` (response compression), `context/render.rs`
//!   (templates for a request), `context/hooks.rs` (the application-wide [`Hooks`]), and
//!   `context/app.rs`: the application as a context sees it ([`Settings`], the shared state,
//!   [`DefaultHandler`] and the type-erased face of a route's handler).
//! - `templates` (minijinja, behind the `templates` feature): loading and compiling the
//!   templates, their functions and escaping; no request types.
//!
//! Below them, pure formats and cryptography over plain strings, bytes, files and times (no
//! request types), pinned byte for byte by their tests:
//! - [`cookies`]: the `Cookie` request header, `Set-Cookie` values, (from `signed.rs`)
//!   Tornado's signed values, and (from `secrets.rs`) the cookie secrets: their keys,
//!   where they come from, the strength check at start.
//! - [`xsrf`]: Tornado's version-2 (masked) XSRF tokens.
//! - `crypto.rs`: the one home of constant-time comparison and HMAC-SHA256, used by signed
//!   values, XSRF tokens and cookies.
//! - [`etag`]: ETags and `If-None-Match` / `If-Match` evaluation.
//! - `compression.rs`: the rules of `Settings::compress_response` (negotiation, eligibility,
//!   coded ETags, the compressor pool); the [`Context`] applies them.
//! - `static_fs.rs`: the filesystem side of static files (paths kept inside the root,
//!   regular files only, identity stamps); `static_version.rs`: the versions behind
//!   versioned URLs (the hash, its cache, the URL), shared by `Context::static_url`, the
//!   static handler and the templates.
//! - `route_name.rs`: [`RouteName`] and the table of named routes behind every
//!   `reverse_url`.
//! - `error.rs`: [`HttpError`] and [`SetupError`].
//!
//! ### Dependencies
//!
//! No import cycle between the files of this folder. One knot of types is there by
//! construction: [`Settings`] holds [`Hooks`] and a [`DefaultHandler`] that run on a
//! [`Context`], and a `Context` reads its settings. Those types live in one module tree,
//! `context` and its children (a parent and the children that extend it, as any Rust type
//! split by concern), and everything that builds them points down at it.

mod application;
mod compression;
mod context;
pub mod cookies;
mod crypto;
mod error;
pub mod etag;
mod handler;
mod route_name;
mod router;
mod secrets;
mod signed;
mod static_files;
mod static_fs;
mod static_version;
mod streaming;
#[cfg(feature = "templates")]
pub mod templates;
mod typed;
pub mod xsrf;

pub use application::Application;
pub use compression::CompressionOptions;
pub use context::Context;
pub use context::{DefaultHandler, Hooks, Settings};
pub use context::{SIGNED_COOKIE_MAX_AGE, XSRF_NAME};
pub use error::{HttpError, Result, SetupError, SetupErrorKind};
pub use handler::{IntoHandlerResult, PathArg, RequestHandler};
pub use route_name::RouteName;
pub use router::{Route, RouteArity, RouteSpec, Routes};
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
