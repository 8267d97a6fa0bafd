//! The showcase (`examples/showcase.rs`) as the black-box suites probe it (`showcase*.rs`,
//! `ws_*.rs`): started as a child process, checked to still serve after abusive input, and
//! its forms read.

use std::net::SocketAddr;

use squall::testing::TestClient;

use crate::ExampleServer;

/// The `Content-Type` of the showcase's HTML pages.
pub const HTML: &str = "text/html; charset=UTF-8";

/// Starts the showcase on a free port (see [`ExampleServer`]).
///
/// # Panics
///
/// As [`ExampleServer::start`].
pub fn showcase() -> ExampleServer {
    ExampleServer::start("showcase")
}

/// Checks that a fresh connection to the showcase at `addr` is served: `GET /` answers
/// `200 Hello, world`.
///
/// # Panics
///
/// If it is not (a test failure).
pub fn assert_fresh_connection_serves(addr: SocketAddr) {
    let r = TestClient::connect_to(addr).get("/");
    assert_eq!((r.status(), r.text().as_str()), (200, "Hello, world"));
}

/// The value of the hidden input `name` in `page` (a form's `_xsrf`, `next`).
///
/// # Panics
///
/// If `page` has no such input.
pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!(r#"<input type="hidden" name="{name}" value=""#);
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} input in {page}"))
        + marker.len();
    let end = page[start..].find('"').expect("unterminated value") + start;
    page[start..end].to_owned()
}
