//! WebSocket (RFC 6455, version 13) with permessage-deflate (RFC 7692): Tornado's
//! `tornado.websocket`, on the same loop and stream as the HTTP server.
//!
//! A WebSocket handler is a type with a `#[websocket_handler]` impl, routed by `routes!` like
//! any handler; its hooks (`open`, `on_message`, `on_ping`, `on_pong`, `on_close`,
//! `check_origin`, `select_subprotocol`, `get_compression_options`) receive a [`WebSocket`]
//! handle that writes messages, pings and closes, and can be cloned to write from elsewhere
//! (a chat room's broadcast). [`websocket_connect`] is the client.
//!
//! ### Layers (data flows down)
//!
//! ```text
//! handler.rs     WebSocketHandler (what the macro implements) and the upgrade: handshake
//!                checks on the Context, open(), the 101, then the stream is handed over
//! connection.rs  the server connection: a StreamProtocol on the IOStream; WebSocket handle,
//!                back-pressure, pings, the closing handshake
//! client.rs      websocket_connect and the client connection (the same Reader and Writer)
//! protocol.rs    Reader (frames -> events, every rule of RFC 6455 §5): pure, over byte slices
//! writer.rs      Writer (messages -> frames, compressed and masked as agreed): pure too
//! frame.rs       header decode/encode, masking          utf8.rs   incremental UTF-8
//! deflate.rs     permessage-deflate negotiation, bounded inflate   handshake.rs  §4 checks
//! ```
//!
//! ### Invariants
//!
//! - No copy and no allocation per message on the uncompressed path: frames are decoded in
//!   the stream's read buffer, unmasked there, and a whole message is handed to `on_message`
//!   as a slice of it; outgoing frames are encoded straight into the write buffer. Fragmented
//!   and compressed messages are assembled in a buffer from the loop's pool.
//! - Limits hold before bytes arrive: a frame whose declared length passes the maximum
//!   message size fails the connection with 1009 at once; inflation stops at the limit.
//! - Every protocol error sends a Close frame with its status (1002, 1007, 1009) and stops
//!   processing input; the TCP connection is closed once the Close is flushed and the peer
//!   has answered or a short grace period passed.
//! - Memory stays bounded when a peer does not read: while more than a high-water mark of
//!   output waits, the connection stops reading its own input (an echo cannot grow without
//!   bound); a connection whose unsent output passes `websocket_max_write_buffer` is closed.
//!   An idle connection holds no buffer.

mod client;
mod connection;
mod deflate;
mod frame;
mod handler;
mod handshake;
mod message;
mod protocol;
mod utf8;
mod writer;

pub use client::{
    websocket_connect, websocket_connect_with, ConnectError, WebSocketClientConnection,
    WebSocketConnectOptions,
};
pub use connection::WebSocket;
pub use deflate::{CompressionOptions, DEFAULT_MIN_LENGTH};
pub use handler::{WebSocketHandler, DEFAULT_MAX_MESSAGE_SIZE};
pub use handshake::accept_key;
pub use message::{Message, OwnedMessage, WebSocketClosed};

#[doc(hidden)]
pub use handler::__serve;

/// Fuzzing entry points for `framework/fuzz`: **not part of the API** (hidden, no stability
/// promise).
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;
