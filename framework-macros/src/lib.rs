//! Procedural macros of Squall: `#[handler]`, `#[websocket_handler]` and `routes!`. Use them through `squall`, which
//! re-exports both; the generated code names `::squall::__private`.
//!
//! Each macro splits parsing and validation (a model of the input, every problem a
//! `syn::Error` with the offending token's span) from code generation. Nothing here panics.
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]
#![forbid(unsafe_code)]

mod handler;
mod routes;
mod websocket;

use proc_macro::TokenStream;

/// Turns an `impl` block's `get`/`post`/`put`/`patch`/`delete`/`head`/`options` methods into
/// a Squall request handler. See `squall::web::RequestHandler`.
///
/// Options: `#[handler(xsrf_exempt)]` (no XSRF check for this handler; per method, put
/// `#[xsrf_exempt]` on the method), `#[handler(authenticated)]` (every method needs a current
/// user; per method, put `#[authenticated]` on it), `#[handler(stream_request_body)]` (body to
/// `data_received`).
#[proc_macro_attribute]
pub fn handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(attr.into(), item.into()).into()
}

/// Turns an `impl` block's `open`/`on_message`/`on_ping`/`on_pong`/`on_close`/`check_origin`/
/// `select_subprotocol`/`get_compression_options` into a WebSocket handler, routed by
/// `routes!` like any handler (`open`'s path arguments are the route's groups). See
/// `squall::websocket::WebSocketHandler`.
#[proc_macro_attribute]
pub fn websocket_handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    websocket::expand(attr.into(), item.into()).into()
}

/// Builds an application's routing table: `routes![(r"/", Main), (r"/user/(\d+)", User,
/// name = "user")]`. Patterns are checked at compile time.
///
/// The item form, `routes! { pub mod urls { (r"/", Main), (r"/user/(\d+)", User, name =
/// "user") } }`, declares a module with the table (`urls::routes()`) and a constant per named
/// route (`urls::user`), so that `cx.reverse_url(urls::user, ..)` with a misspelt name does
/// not compile.
#[proc_macro]
pub fn routes(input: TokenStream) -> TokenStream {
    routes::expand(input.into()).into()
}
