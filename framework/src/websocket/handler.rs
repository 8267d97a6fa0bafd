//! [`WebSocketHandler`], what `#[websocket_handler]` implements, and the server's side of the
//! opening handshake: checks on the request, `check_origin`, subprotocol and compression
//! negotiation, `open`, the `101`, then the stream handed to a [`Conn`].
//!
//! ### Order of the handshake
//!
//! GET and HTTP/1.1 (else 405/400) -> `Upgrade: websocket` and `Connection: upgrade` (400)
//! -> `Sec-WebSocket-Version: 13` (426 with the version we speak) -> one valid
//! `Sec-WebSocket-Key` (400) -> more than one `Origin` (403) -> `check_origin` when `Origin`
//! is present (403) ->
//! `select_subprotocol` -> `get_compression_options` and the permessage-deflate offers ->
//! `open`, which may still refuse with an `HttpError` (sent as a plain HTTP response; what it
//! wrote to the socket is dropped) -> `101`. The request went through the HTTP server, so its
//! limits and timeouts applied to the handshake, and it may follow other requests on a
//! keep-alive connection.

use std::cell::RefCell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use super::connection::{Conn, HookFuture, Hooks, PingPolicy, WebSocket};
use super::deflate::{negotiate, CompressionOptions, Deflater, Inflater};
use super::handshake::{accept_key, check_request, same_origin, HandshakeRequest, Refusal};
use super::message::Message;
use super::protocol::{Reader, Role};
use super::writer::Writer;
use crate::http1::{MethodKind, Version};
use crate::web::{Context, HttpError, Result};

/// Default maximum message size (Tornado's `websocket_max_message_size`): 10 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 10 * 1024 * 1024;

/// A WebSocket handler: what `#[websocket_handler]` turns an `impl` block into (Tornado's
/// `WebSocketHandler`).
///
/// You do not implement this trait by hand: write the hooks you need in an `impl` block
/// annotated with [`#[websocket_handler]`](crate::websocket_handler) and route the type with
/// `routes!`. The hooks:
///
/// - `fn open(&mut self, cx: &mut Context, ws: &WebSocket, <one argument per path group>)
///   -> Result<()>`: the handshake succeeded; an `Err` refuses the connection with its HTTP
///   status instead of the `101`.
/// - `fn on_message(&mut self, ws: &WebSocket, message: Message<'_>) -> Result<()>`, or
///   `async fn`: a text or binary message (an async one is awaited before the next message is
///   read). An `Err` or a panic closes the connection with 1011.
/// - `on_ping(&mut self, ws, data: &[u8])`, `on_pong(..)`: control frames (pings are answered
///   for you).
/// - `on_close(&mut self, ws, code: Option<u16>, reason: &str)`: once, when the connection
///   is closed, with the peer's close code and reason if it sent a Close.
/// - `check_origin(&mut self, cx, origin: &str) -> bool`: default, Tornado's same-origin rule.
/// - `select_subprotocol(&mut self, offered: &[&str]) -> Option<String>`: default none.
/// - `get_compression_options(&mut self, cx) -> Option<CompressionOptions>`: default, the
///   application's `websocket_compression` setting (off unless set).
///
/// # Examples
///
/// ```
/// use squall::prelude::*;
/// use squall::websocket::{Message, WebSocket};
///
/// #[derive(Clone, Default)]
/// struct Echo;
///
/// #[websocket_handler]
/// impl Echo {
///     fn on_message(&mut self, ws: &WebSocket, message: Message<'_>) -> Result<()> {
///         ws.write_message(message)?;
///         Ok(())
///     }
/// }
///
/// let app = Application::new(routes![(r"/ws/echo", Echo)]);
/// # drop(app);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Squall WebSocket handler",
    label = "this type has no `#[websocket_handler]` impl",
    note = "annotate its `impl` block (the one with `open`, `on_message`, ...) with `#[squall::websocket_handler]`"
)]
pub trait WebSocketHandler: Sized + 'static {
    #[doc(hidden)]
    /// Whether `on_message` is async.
    const ASYNC_MESSAGES: bool = false;

    #[doc(hidden)]
    /// Reads the path arguments and calls `open`.
    fn __open(&mut self, _cx: &mut Context, _ws: &WebSocket) -> Result<()> {
        Ok(())
    }

    #[doc(hidden)]
    /// Calls a sync `on_message`.
    fn __on_message(&mut self, _ws: &WebSocket, _message: Message<'_>) -> Result<()> {
        Ok(())
    }

    #[doc(hidden)]
    /// Calls an async `on_message`.
    fn __on_message_async<'a>(
        &'a mut self,
        ws: &'a WebSocket,
        message: Message<'a>,
    ) -> impl Future<Output = Result<()>> + 'a {
        std::future::ready(self.__on_message(ws, message))
    }

    /// A Ping arrived (it has already been answered with a Pong).
    fn on_ping(&mut self, _ws: &WebSocket, _data: &[u8]) -> Result<()> {
        Ok(())
    }

    /// A Pong arrived.
    fn on_pong(&mut self, _ws: &WebSocket, _data: &[u8]) -> Result<()> {
        Ok(())
    }

    /// The connection closed; `code` and `reason` are the peer's, if it sent a Close.
    fn on_close(&mut self, _ws: &WebSocket, _code: Option<u16>, _reason: &str) -> Result<()> {
        Ok(())
    }

    /// Whether to accept a connection from `origin` (the `Origin` header, when present).
    /// Tornado's default: the origin's `host[:port]` must be the request's `Host`.
    fn check_origin(&mut self, cx: &mut Context, origin: &str) -> bool {
        same_origin(origin, cx.request().header("Host"))
    }

    /// Picks one of the subprotocols the client offered, or none.
    fn select_subprotocol(&mut self, _offered: &[&str]) -> Option<String> {
        None
    }

    /// The compression this connection may use (`None`: no permessage-deflate).
    fn get_compression_options(&mut self, cx: &mut Context) -> Option<CompressionOptions> {
        cx.settings().websocket_compression
    }
}

/// The hooks of a handler, for its connection.
struct HandlerHooks<H> {
    handler: Rc<RefCell<H>>,
}

/// Logs a hook's failure; a failing `on_message` closes the connection with 1011.
fn report(ws: &WebSocket, hook: &str, r: std::thread::Result<Result<()>>, fatal: bool) {
    let why = match r {
        Ok(Ok(())) => return,
        Ok(Err(e)) => format!("{} {}", e.status(), e.log_message().unwrap_or("")),
        Err(p) => format!("panicked: {}", crate::ioloop::panic_message(&*p)),
    };
    log::error!("squall: WebSocket {hook} failed: {why}");
    if fatal {
        ws.close(Some(1011), "internal error");
    }
}

impl<H: WebSocketHandler> Hooks for HandlerHooks<H> {
    fn on_message(&self, ws: &WebSocket, message: Message<'_>) -> Option<HookFuture> {
        if H::ASYNC_MESSAGES {
            let owned = message.to_owned_message();
            let handler = self.handler.clone();
            let ws = ws.clone();
            // The handler stays borrowed across the await: the connection decodes nothing and
            // runs no other hook (on_close waits) until this future completes.
            #[allow(clippy::await_holding_refcell_ref)]
            return Some(Box::pin(async move {
                let r = {
                    let Ok(mut h) = handler.try_borrow_mut() else {
                        return;
                    };
                    crate::task::CatchUnwind::new(h.__on_message_async(&ws, owned.as_message()))
                        .await
                };
                report(&ws, "on_message", r, true);
            }));
        }
        let Ok(mut h) = self.handler.try_borrow_mut() else {
            return None;
        };
        let r = catch_unwind(AssertUnwindSafe(|| h.__on_message(ws, message)));
        drop(h);
        report(ws, "on_message", r, true);
        None
    }

    fn on_ping(&self, ws: &WebSocket, data: &[u8]) {
        if let Ok(mut h) = self.handler.try_borrow_mut() {
            let r = catch_unwind(AssertUnwindSafe(|| h.on_ping(ws, data)));
            drop(h);
            report(ws, "on_ping", r, false);
        }
    }

    fn on_pong(&self, ws: &WebSocket, data: &[u8]) {
        if let Ok(mut h) = self.handler.try_borrow_mut() {
            let r = catch_unwind(AssertUnwindSafe(|| h.on_pong(ws, data)));
            drop(h);
            report(ws, "on_pong", r, false);
        }
    }

    fn on_close(&self, ws: &WebSocket, code: Option<u16>, reason: &str) {
        if let Ok(mut h) = self.handler.try_borrow_mut() {
            let r = catch_unwind(AssertUnwindSafe(|| h.on_close(ws, code, reason)));
            drop(h);
            report(ws, "on_close", r, false);
        }
    }
}

/// Serves a request routed to a WebSocket handler: the opening handshake, then the
/// connection. What `#[websocket_handler]`'s GET calls. Not public API.
#[doc(hidden)]
pub fn __serve<H: WebSocketHandler>(handler: H, cx: &mut Context) {
    if let Err(e) = accept(handler, cx) {
        if !cx.is_finished() {
            cx.send_error(e);
        }
    }
}

/// Answers a refused handshake with `status` and one header the refusal calls for (which
/// `send_error` would clear).
fn refuse(
    cx: &mut Context,
    status: u16,
    header: Option<(&'static str, &'static str)>,
    why: &str,
) -> Result<()> {
    log::debug!("squall: WebSocket handshake refused with {status}: {why}");
    cx.clear();
    cx.set_status(status);
    if let Some((name, value)) = header {
        cx.set_header(name, value)?;
    }
    cx.set_header("Content-Type", "text/plain; charset=UTF-8")?;
    cx.write(crate::http1::reason_phrase(status));
    cx.finish()
}

fn accept<H: WebSocketHandler>(mut h: H, cx: &mut Context) -> Result<()> {
    if cx.request().method_kind() != MethodKind::Get {
        return refuse(
            cx,
            405,
            Some(("Allow", "GET")),
            "a WebSocket handshake must be a GET",
        );
    }
    if cx.request().version() != Version::Http11 {
        return Err(HttpError::new(400).log("a WebSocket handshake must be HTTP/1.1"));
    }
    let key = {
        let req = cx.request();
        let hr = HandshakeRequest {
            upgrade: req.header_all("Upgrade").collect(),
            connection: req.header_all("Connection").collect(),
            key: req.header_all("Sec-WebSocket-Key").collect(),
            version: req.header_all("Sec-WebSocket-Version").collect(),
        };
        match check_request(&hr) {
            Ok(key) => accept_key(key),
            Err(Refusal::BadRequest(why)) => return Err(HttpError::new(400).log(why)),
            Err(Refusal::UpgradeRequired) => {
                return refuse(
                    cx,
                    426,
                    Some(("Sec-WebSocket-Version", "13")),
                    "unsupported Sec-WebSocket-Version",
                );
            }
        }
    };
    // A browser sends one `Origin` at most (RFC 6454 §7.3); with several, checking only the
    // first would let the others pass unchecked, so the request is refused as cross-origin.
    if cx.request().header_all("Origin").nth(1).is_some() {
        return Err(HttpError::new(403).log("a WebSocket handshake with several Origin headers"));
    }
    if let Some(origin) = cx.request().header("Origin").map(str::to_owned) {
        if !h.check_origin(cx, &origin) {
            return Err(HttpError::new(403).log(format!("cross-origin WebSocket from {origin:?}")));
        }
    }
    let subprotocol = {
        let offered: Vec<&str> = cx
            .request()
            .header_all("Sec-WebSocket-Protocol")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if offered.is_empty() {
            None
        } else {
            match h.select_subprotocol(&offered) {
                Some(p) if offered.contains(&p.as_str()) => Some(p),
                Some(p) => {
                    log::error!("squall: select_subprotocol chose {p:?}, which was not offered");
                    None
                }
                None => None,
            }
        }
    };
    let compression = h.get_compression_options(cx).and_then(|opts| {
        negotiate(cx.request().header_all("Sec-WebSocket-Extensions")).map(|(a, r)| (opts, a, r))
    });
    let settings = cx.settings();
    let max_message = settings
        .websocket_max_message_size
        .unwrap_or(DEFAULT_MAX_MESSAGE_SIZE);
    let max_write = settings
        .websocket_max_write_buffer
        .unwrap_or_else(|| max_message.saturating_mul(2).max(1 << 20));
    let ping = PingPolicy {
        interval: settings.websocket_ping_interval,
        timeout: settings.websocket_ping_timeout,
    };
    let stream = cx
        .stream()
        .ok_or_else(|| HttpError::internal("no connection"))?;
    let io_loop = stream.io_loop().clone();
    let deflater = compression.as_ref().map(|(opts, a, _)| {
        Deflater::new(
            opts.level,
            a.server_max_window_bits,
            a.server_no_context_takeover,
            opts.min_length,
        )
    });
    let ws = WebSocket::new(
        stream,
        Writer::new(Role::Server, deflater),
        max_write,
        ping,
        subprotocol.clone(),
        true,
    );
    let handler = Rc::new(RefCell::new(h));
    let opened = catch_unwind(AssertUnwindSafe(|| handler.borrow_mut().__open(cx, &ws)));
    match opened {
        Ok(Ok(())) if !cx.is_finished() => {}
        Ok(Ok(())) => {
            // `open` answered the request itself: no upgrade.
            ws.refused();
            return Ok(());
        }
        Ok(Err(e)) => {
            ws.refused();
            return Err(e);
        }
        Err(p) => {
            ws.refused();
            return Err(HttpError::internal(format!(
                "WebSocket open panicked: {}",
                crate::ioloop::panic_message(&*p)
            )));
        }
    }
    let mut headers: Vec<(&str, &str)> = vec![
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", &key),
    ];
    if let Some(p) = &subprotocol {
        headers.push(("Sec-WebSocket-Protocol", p));
    }
    if let Some((_, _, response)) = &compression {
        headers.push(("Sec-WebSocket-Extensions", response));
    }
    let watch = match cx.upgrade(&headers) {
        Ok((_, watch)) => watch,
        Err(e) => {
            ws.refused();
            return Err(e);
        }
    };
    ws.opened();
    let inflater = compression
        .as_ref()
        .map(|(_, a, _)| Inflater::new(a.client_no_context_takeover));
    let reader = Reader::new(Role::Server, max_message, inflater, Some(io_loop));
    Conn::start(ws, HandlerHooks { handler }, reader, Some(watch));
    Ok(())
}
