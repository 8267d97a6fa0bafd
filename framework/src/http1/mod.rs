//! HTTP/1.1 connections: [`Request`] parsing, body decoding, keep-alive, pipelining, timeouts,
//! and the [`Responder`] that writes each response.
//!
//! One connection (`conn::Conn`) serves one socket. It is event-driven (a
//! [`StreamProtocol`](crate::iostream::StreamProtocol)), not a task: when bytes arrive it
//! parses every complete request in the read buffer, hands each to the [`HttpDelegate`] with a
//! [`Responder`], and lets all the responses of that batch leave in one write.
//!
//! ### Files
//!
//! - `conn.rs`: the connection as a state machine (`Idle`, `Head`, `Body`, `Responding`,
//!   `Closing`, `Lingering`, `Upgraded`) with named transitions; `conn/read.rs` the reading
//!   phases, `conn/timeouts.rs` its one timer. Its fields are private to it: the responder
//!   uses a handful of methods (see the `conn` module docs).
//! - `response.rs`: the [`Responder`], which owns one response (framing, status, its
//!   access-log entry from `access_log.rs`); `response/upgrade.rs` its switch to another
//!   protocol.
//! - `response_parse.rs`, `response_body.rs`: the client's side, a response's head and its
//!   body (for the HTTP client).
//! - The request, in layers that each depend only on those below: `request.rs`, the
//!   [`Request`] (the public face) and its builder; `parse.rs`, a whole head and its framing
//!   checks, over `request_line.rs` (the request line) and `fields.rs` (the plain field
//!   block); at the bottom `parts.rs`, a request's pooled storage (spans into its head), and
//!   `method.rs`, the [`Method`] and [`Version`] values and the token table.
//! - `chunked.rs`: the chunked body grammar; `wire.rs` bytes on the wire; `server.rs` what
//!   every connection of one server shares.
//!
//! ### Switching protocols (WebSocket)
//!
//! A delegate that accepts an `Upgrade` calls [`Responder::upgrade`]: it writes `101
//! Switching Protocols` with the caller's headers, ends HTTP processing on the connection and
//! returns its [`IOStream`](crate::iostream::IOStream), with every byte the client sent after
//! the request head still unread in the stream's read buffer. From then on the stream is the
//! caller's: HTTP no longer parses it, times it out or counts it for graceful shutdown.
//!
//! ### Ordering
//!
//! Requests on a connection are answered strictly in order. While a response is pending (an
//! async handler), later pipelined requests wait in the read buffer, which is bounded: reading
//! pauses when it is full. Output is bounded the same way: while more than
//! `WRITE_HIGH_WATER` bytes of responses wait for a client that does not read them, no further
//! request is taken, so the read buffer fills and reading pauses.
//!
//! ### Framing and errors
//!
//! Anything the server cannot frame without guessing (both Content-Length and
//! Transfer-Encoding, differing lengths, unknown transfer codings, obs-fold, control
//! characters, a missing, repeated or malformed Host, a chunk-size line outside RFC 9112 §7.1's grammar, a bare LF
//! in the head unless `allow_bare_lf`) is answered with 400 and the connection closed; so are
//! limits (413 body, 414 target, 431 head). The server keeps serving every other connection.
//!
//! ### Closing
//!
//! A connection that closes while the client may still be sending (bad input refused, or
//! requests left unanswered behind a `Connection: close` or a graceful shutdown) lingers
//! (RFC 9112 §9.6): its write side is shut once the response is out, and input is read and
//! dropped until the client closes or `linger_timeout` passes. Closing with input unread would
//! have the kernel reset the connection, which can destroy the response before the client has
//! read it. Any other close is immediate.
//!
//! ### Absolute-form targets
//!
//! `GET http://host/path HTTP/1.1` is served like `GET /path` with the target's authority as
//! the host, which RFC 9112 §3.2.2 requires of a server (see [`Request::host`]).
//!
//! ### Timeouts
//!
//! One timer per connection, re-armed lazily: the connection stores a deadline (header, idle,
//! body or linger) and the timer, when it fires early, re-arms itself for the current deadline.
//! A request therefore costs no timer operation at all.

mod access_log;
mod chunked;
mod conn;
mod fields;
mod host;
mod method;
mod parse;
mod parts;
mod request;
mod request_line;
mod response;
mod response_body;
mod response_parse;
mod server;
mod upgraded;
mod wire;

/// Fuzzing entry points for `framework/fuzz`: **not part of the API** (hidden, no stability
/// promise).
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

pub(crate) use conn::Conn;
#[doc(hidden)]
pub use method::MethodKind;
pub use method::{ExtensionMethod, Method, Version};
pub use parts::BodySink;
pub use request::{Request, RequestBuilder};
pub use response::{Responder, ResponseError};
pub(crate) use server::ServerCore;
pub use server::{BodyMode, HttpDelegate, HttpServerOptions};
pub(crate) use upgraded::{ShutdownWatch, UpgradeGuard, Upgraded};
pub use wire::reason_phrase;

pub(crate) use parts::MAX_HEADERS;
pub(crate) use response_body::{BodyDecoder, BodyError, BodyFraming};
pub(crate) use response_parse::{scan_response_head, HeadError, ResponseHead, ResponseScan};

/// Applies `X-Real-IP`/`X-Forwarded-For` and `X-Scheme`/`X-Forwarded-Proto` (Tornado's rules:
/// the last hop of X-Forwarded-For; only well-formed IPs and http/https are believed).
fn apply_xheaders(request: &mut Request) {
    let ip = request
        .header("X-Real-IP")
        .or_else(|| {
            request
                .header("X-Forwarded-For")
                .and_then(|v| v.rsplit(',').next())
        })
        .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok());
    if let Some(ip) = ip {
        request.parts.remote_ip = ip;
    }
    let scheme = request
        .header("X-Scheme")
        .or_else(|| {
            request
                .header("X-Forwarded-Proto")
                .and_then(|v| v.rsplit(',').next())
        })
        .map(str::trim);
    match scheme {
        Some(s) if s.eq_ignore_ascii_case("https") => request.parts.https = true,
        Some(s) if s.eq_ignore_ascii_case("http") => request.parts.https = false,
        _ => {}
    }
}
