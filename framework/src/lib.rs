//! # Squall
//!
//! A web framework in Tornado's lineage: handler types annotated with `#[handler]`, a regex
//! routing table written with `routes!`, served by an HTTP/1.1 server on a single-threaded,
//! [`polling`]-based [`IOLoop`](ioloop::IOLoop).
//!
//! ```
//! use squall::prelude::*;
//!
//! #[derive(Clone, Default)]
//! struct MainHandler;
//!
//! #[handler]
//! impl MainHandler {
//!     fn get(&mut self, cx: &mut Context) -> Result<()> {
//!         cx.write("Hello, world");
//!         Ok(())
//!     }
//! }
//!
//! #[derive(Clone, Default)]
//! struct UserHandler;
//!
//! #[handler]
//! impl UserHandler {
//!     // `(\d+)` arrives as a u64; a value that does not convert is a 404.
//!     fn get(&mut self, cx: &mut Context, id: u64) -> Result<()> {
//!         cx.write(format!("user {id}"));
//!         Ok(())
//!     }
//! }
//!
//! fn make_app() -> Application {
//!     Application::new(routes![
//!         (r"/", MainHandler),
//!         (r"/user/(\d+)", UserHandler, name = "user"),
//!     ])
//! }
//!
//! // Serve it on 127.0.0.1 (a free port) in the background and ask it over a real socket.
//! let server = squall::testing::TestServer::start(make_app);
//! let mut client = squall::testing::TestClient::new(&server);
//! assert_eq!(client.get("/").text(), "Hello, world");
//! assert_eq!(client.get("/user/42").text(), "user 42");
//! assert_eq!(client.get("/user/x").status(), 404);
//! assert_eq!(client.request("DELETE", "/").send().header("Allow"), Some("GET, HEAD, OPTIONS"));
//! ```
//!
//! A program serves it with `make_app().listen(8888)?; IOLoop::current().start();`
//! (see `examples/hello.rs`), or over every core with
//! `HttpServer::bind(8888, "127.0.0.1")?.start(0, make_app)?.serve_until_shutdown()`.
//!
//! The modules follow Tornado's: [`ioloop`], [`iostream`], [`netutil`], [`tcpclient`],
//! [`tcpserver`], [`process`], [`httpserver`] (over [`http1`]), [`httpclient`], [`httputil`],
//! [`escape`], [`web`], [`websocket`] and [`testing`]; `README.md` maps Tornado's names to
//! Squall's.
//!
//! ### Names
//!
//! Acronyms in type names are capitalised as words, as the Rust API guidelines ask (C-CASE):
//! [`HttpServer`](httpserver::HttpServer), [`TcpServer`](tcpserver::TcpServer),
//! [`HttpError`](web::HttpError), [`HttpServerOptions`](http1::HttpServerOptions). The one
//! exception is the loop and the stream, kept as Tornado's users know them: [`IOLoop`](ioloop::IOLoop),
//! [`IOLoopHandle`](ioloop::IOLoopHandle), [`IOLoopBuilder`](ioloop::IOLoopBuilder),
//! [`IOStream`](iostream::IOStream).
//!
//! Each public type has one import path, the module that owns it (Tornado's module where one
//! exists: `web::StaticFileHandler`, `http1::Request`); only [`prelude`] gathers some again.
//! A choice between behaviours is a method or an enum, not a `bool` argument
//! (`cx.redirect(url)` / `cx.redirect_permanent(url)`).
// Lints that keep the crate so: warnings here, errors in CI (`.ci/run` runs clippy with
// `-D warnings`). Every public item documented; no `pub` that is not reachable from outside
// (`pub(crate)` says what it means); every `unsafe` block argued by a `// SAFETY:` comment.
// `.ci/miri.sh` runs the HTTP/1 byte code's tests under Miri.
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]

#[allow(unused_extern_crates)]
extern crate self as squall;

pub mod escape;
pub mod executor;
pub mod http1;
pub mod httpclient;
pub mod httpserver;
pub mod httputil;
pub mod ioloop;
pub mod iostream;
pub mod locks;
pub mod log;
pub mod netutil;
pub mod process;
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod simd;
pub mod state;
pub mod task;
pub mod tcpclient;
pub mod tcpserver;
pub mod testing;
#[cfg(feature = "tls")]
pub mod tls;
pub mod web;
pub mod websocket;

pub use squall_macros::{handler, routes, websocket_handler};

/// Everything a typical application needs: `use squall::prelude::*;`.
pub mod prelude {
    pub use crate::http1::Method;
    pub use crate::ioloop::IOLoop;
    pub use crate::state::Shared;
    pub use crate::web::cookies::{Cookie, CookieSecrets};
    pub use crate::web::{Application, Context, HttpError, Result, Settings, StaticFileHandler};
    pub use crate::websocket::{Message, WebSocket};
    pub use crate::{handler, routes, websocket_handler};
}

/// What the macros' generated code names. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::http1::{MethodKind, Request};
    pub use crate::web::{
        path_arg, path_arg_opt, Context, HttpError, IntoHandlerResult, RequestHandler, Route,
        RouteArity, RouteName, RouteSpec, Routes,
    };
    pub use crate::websocket::{
        __serve as websocket_serve, CompressionOptions, Message, WebSocket, WebSocketHandler,
    };
    pub use std::future::Future;
    pub use std::result::Result;
}
