//! The client: [`websocket_connect`] (Tornado's `tornado.websocket.websocket_connect`) opens a
//! connection on the current loop and gives a [`WebSocketClientConnection`] that reads
//! messages as futures and writes through the same [`WebSocket`] handle the server uses.
//!
//! Received messages wait in a queue until read; when more than the maximum message size is
//! queued, the connection stops decoding (and so, once its read buffer is full, reading) until
//! the queue is read: a fast server cannot make a slow reader's memory grow without bound.
//!
//! ### `wss://`
//!
//! With the `tls` feature, a `wss://` URL runs the connection over TLS, as the HTTP client does
//! `https`: after the TCP connect the stream starts a TLS client session under its buffers
//! (the URL's host as SNI and as the name the certificate must be valid for), verified by
//! default against Mozilla's roots (the option `WebSocketConnectOptions::tls` for others); a
//! failed handshake is [`ConnectError::Tls`]. Without the feature a `wss` URL is that error
//! too, before anything is sent. Everything above the stream is the same for both.
//!
//! ### Bounded
//!
//! [`WebSocketConnectOptions::connect_timeout`] (20 s by default, Tornado's) covers everything
//! up to the `101`: resolving, TCP, TLS and the opening handshake; past it the attempt is
//! [`ConnectError::Timeout`] and its connection is closed.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use super::connection::{Conn, HookFuture, Hooks, PingPolicy, WebSocket};
use super::deflate::{parse_response, CompressionOptions, Deflater, Inflater};
use super::handler::DEFAULT_MAX_MESSAGE_SIZE;
use super::handshake::{accept_key, has_token, new_key};
use super::message::{Message, OwnedMessage, WebSocketClosed};
use super::protocol::{Reader, Role};
use super::writer::Writer;
use crate::iostream::{IOStream, StreamError};

/// Options of [`websocket_connect_with`].
#[derive(Clone, Debug)]
pub struct WebSocketConnectOptions {
    /// Offer permessage-deflate with these options (default: no compression).
    pub compression: Option<CompressionOptions>,
    /// Largest message accepted from the server (default 10 MiB); a larger one fails the
    /// connection with 1009.
    pub max_message_size: usize,
    /// Subprotocols to offer (`Sec-WebSocket-Protocol`).
    pub subprotocols: Vec<String>,
    /// Extra request headers (an `Origin`, cookies, ...).
    pub headers: Vec<(String, String)>,
    /// Largest response head accepted.
    pub max_header_size: usize,
    /// How long connecting may take, up to the `101`: resolving, TCP, the TLS handshake
    /// (`wss`) and the opening handshake. Default 20 s (Tornado's `connect_timeout`); `None`:
    /// no limit.
    pub connect_timeout: Option<Duration>,
    /// For `wss://` (feature `tls`): what the server's certificate is verified against.
    /// `None` (default): Mozilla's roots, as [`ClientTlsConfig::default`](crate::tls::ClientTlsConfig).
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::ClientTlsConfig>,
}

impl Default for WebSocketConnectOptions {
    fn default() -> Self {
        WebSocketConnectOptions {
            compression: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            subprotocols: Vec::new(),
            headers: Vec::new(),
            max_header_size: 64 * 1024,
            connect_timeout: Some(Duration::from_secs(20)),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// Why [`websocket_connect`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not `ws://host[:port][/path]` or `wss://host[:port][/path]`.
    InvalidUrl(String),
    /// The host did not resolve, or refused the TCP connection.
    Connect(crate::tcpclient::ConnectError),
    /// `wss`: the TLS handshake failed (the source says why: an untrusted certificate, one
    /// not valid for the URL's host, a server that does not speak TLS), or this build has no
    /// `tls` feature (an error of kind `Unsupported`).
    Tls(io::Error),
    /// [`WebSocketConnectOptions::connect_timeout`] passed before the `101`.
    Timeout,
    /// The connection failed or closed during the handshake.
    Stream(StreamError),
    /// The server did not accept the handshake (its status line, or what was wrong).
    Handshake(String),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::InvalidUrl(u) => write!(f, "invalid WebSocket URL: {u}"),
            ConnectError::Connect(e) => write!(f, "WebSocket connection failed: {e}"),
            ConnectError::Tls(e) => write!(f, "WebSocket TLS handshake failed: {e}"),
            ConnectError::Timeout => f.write_str("WebSocket connection timed out"),
            ConnectError::Stream(e) => write!(f, "WebSocket connection failed: {e}"),
            ConnectError::Handshake(why) => write!(f, "WebSocket handshake refused: {why}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Connect(e) => Some(e),
            ConnectError::Tls(e) => Some(e),
            ConnectError::Stream(e) => Some(e),
            ConnectError::InvalidUrl(_) | ConnectError::Handshake(_) | ConnectError::Timeout => {
                None
            }
        }
    }
}

impl From<crate::tcpclient::ConnectError> for ConnectError {
    fn from(e: crate::tcpclient::ConnectError) -> Self {
        ConnectError::Connect(e)
    }
}

impl From<StreamError> for ConnectError {
    fn from(e: StreamError) -> Self {
        ConnectError::Stream(e)
    }
}

/// The messages received and not yet read.
#[derive(Default)]
struct Inbox {
    messages: RefCell<VecDeque<OwnedMessage>>,
    bytes: Cell<usize>,
    limit: usize,
    closed: Cell<bool>,
    reader: RefCell<Option<Waker>>,
    /// The connection waits for the queue to shrink.
    writer: RefCell<Option<Waker>>,
}

impl Inbox {
    fn wake_reader(&self) {
        if let Some(w) = self.reader.borrow_mut().take() {
            w.wake();
        }
    }
}

struct ClientHooks(Rc<Inbox>);

impl Hooks for ClientHooks {
    fn on_message(&self, _ws: &WebSocket, message: Message<'_>) -> Option<HookFuture> {
        let inbox = &self.0;
        inbox
            .bytes
            .set(inbox.bytes.get() + message.as_bytes().len());
        inbox
            .messages
            .borrow_mut()
            .push_back(message.to_owned_message());
        inbox.wake_reader();
        if inbox.bytes.get() <= inbox.limit {
            return None;
        }
        // Too much unread: decode nothing more until the reader catches up.
        let inbox = inbox.clone();
        Some(Box::pin(std::future::poll_fn(move |cx| {
            if inbox.bytes.get() <= inbox.limit || inbox.closed.get() {
                Poll::Ready(())
            } else {
                *inbox.writer.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })))
    }

    fn on_ping(&self, _ws: &WebSocket, _data: &[u8]) {}

    fn on_pong(&self, _ws: &WebSocket, _data: &[u8]) {}

    fn on_close(&self, _ws: &WebSocket, _code: Option<u16>, _reason: &str) {
        self.0.closed.set(true);
        self.0.wake_reader();
        if let Some(w) = self.0.writer.borrow_mut().take() {
            w.wake();
        }
    }
}

/// A client connection: read messages with [`read_message`](Self::read_message), write
/// through the [`WebSocket`] methods it dereferences to.
pub struct WebSocketClientConnection {
    ws: WebSocket,
    inbox: Rc<Inbox>,
}

impl fmt::Debug for WebSocketClientConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketClientConnection")
            .field("ws", &self.ws)
            .field("queued", &self.inbox.messages.borrow().len())
            .finish()
    }
}

impl std::ops::Deref for WebSocketClientConnection {
    type Target = WebSocket;
    fn deref(&self) -> &WebSocket {
        &self.ws
    }
}

impl WebSocketClientConnection {
    /// The next message, or `None` once the connection is closed and every message received
    /// has been read (Tornado's `read_message`).
    pub async fn read_message(&self) -> Option<OwnedMessage> {
        std::future::poll_fn(|cx| {
            let inbox = &self.inbox;
            if let Some(m) = inbox.messages.borrow_mut().pop_front() {
                inbox.bytes.set(inbox.bytes.get() - m.as_bytes().len());
                if let Some(w) = inbox.writer.borrow_mut().take() {
                    w.wake();
                }
                return Poll::Ready(Some(m));
            }
            if inbox.closed.get() {
                return Poll::Ready(None);
            }
            *inbox.reader.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// The connection's handle (also reachable through `Deref`).
    pub fn ws(&self) -> &WebSocket {
        &self.ws
    }

    /// Closes (see [`WebSocket::close`]) and waits until the connection is closed; returns the
    /// server's close code.
    pub async fn close_and_wait(&self, code: Option<u16>, reason: &str) -> Option<u16> {
        self.ws.close(code, reason);
        while self.read_message().await.is_some() {}
        self.ws.close_code()
    }

    /// Sends a message (see [`WebSocket::write_message`]) and waits until the socket took it.
    ///
    /// # Errors
    ///
    /// [`WebSocketClosed`] if the connection is closed.
    pub async fn send<'a>(&self, message: impl Into<Message<'a>>) -> Result<(), WebSocketClosed> {
        self.ws.write_message(message)?;
        self.ws.drained().await
    }
}

/// Where a WebSocket URL points.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// `wss` (or `https`): over TLS.
    secure: bool,
    /// The host to connect to: a name, or an IP literal (IPv6 without brackets).
    host: String,
    port: u16,
    /// The `Host` header: the URL's authority as written.
    authority: String,
    /// The request target: path and query.
    path: String,
}

/// Splits `ws://host[:port][/path]` (`wss://` for TLS; `http://`, `https://` alike). Nothing
/// is resolved here: [`websocket_connect_with`] connects through
/// [`tcpclient::connect`](crate::tcpclient::connect), which never blocks the loop.
fn parse_url(url: &str) -> Result<Target, ConnectError> {
    let bad = || ConnectError::InvalidUrl(url.to_owned());
    let (secure, rest) = [
        ("ws://", false),
        ("http://", false),
        ("wss://", true),
        ("https://", true),
    ]
    .iter()
    .find_map(|(scheme, secure)| url.strip_prefix(scheme).map(|r| (*secure, r)))
    .ok_or_else(bad)?;
    let default_port = if secure { 443 } else { 80 };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    if authority.is_empty()
        || authority.contains('@')
        || path.contains(|c: char| c.is_ascii_control() || c == ' ')
    {
        return Err(bad());
    }
    let (name, port) = match authority.strip_prefix('[') {
        // An IPv6 literal: [::1]:port
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            h.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
            match after.strip_prefix(':') {
                Some(p) => (h, p.parse::<u16>().map_err(|_| bad())?),
                None if after.is_empty() => (h, default_port),
                None => return Err(bad()),
            }
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
            None => (authority, default_port),
        },
    };
    let name_ok = |h: &str| {
        h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    };
    if name.is_empty() || !(authority.starts_with('[') || name_ok(name)) {
        return Err(bad());
    }
    Ok(Target {
        secure,
        host: name.to_owned(),
        port,
        authority: authority.to_owned(),
        path,
    })
}

/// Opens a WebSocket connection to `url` (`ws://host[:port]/path`, or `wss://` over TLS with
/// the `tls` feature, the server's certificate verified) on the current loop.
///
/// # Errors
///
/// [`ConnectError`]: a bad URL, a failed connection or TLS handshake, a refused handshake,
/// or the connect timeout.
///
/// # Examples
///
/// ```no_run
/// use squall::ioloop::IOLoop;
/// use squall::websocket::websocket_connect;
///
/// IOLoop::current().run_sync(async {
///     let conn = websocket_connect("ws://127.0.0.1:8888/ws/echo").await?;
///     conn.write_message("hello")?;
///     let reply = conn.read_message().await;
///     println!("{reply:?}");
///     Ok::<_, Box<dyn std::error::Error>>(())
/// }).unwrap();
/// ```
pub async fn websocket_connect(url: &str) -> Result<WebSocketClientConnection, ConnectError> {
    websocket_connect_with(url, WebSocketConnectOptions::default()).await
}

/// [`websocket_connect`] with options (compression, limits, subprotocols, headers).
///
/// # Errors
///
/// As [`websocket_connect`].
pub async fn websocket_connect_with(
    url: &str,
    options: WebSocketConnectOptions,
) -> Result<WebSocketClientConnection, ConnectError> {
    let target = parse_url(url)?;
    #[cfg(not(feature = "tls"))]
    if target.secure {
        return Err(ConnectError::Tls(io::Error::new(
            io::ErrorKind::Unsupported,
            "wss needs Squall's `tls` feature, which this build does not have",
        )));
    }
    match options.connect_timeout {
        // (A timeout drops the attempt, and with it the stream: its connection closes.)
        Some(limit) => crate::task::with_timeout(limit, open(target, options))
            .await
            .map_err(|_| ConnectError::Timeout)?,
        None => open(target, options).await,
    }
}

/// The TLS handshake of a `wss` connection, verifying the server for `host`.
#[cfg(feature = "tls")]
async fn start_tls(
    stream: &IOStream,
    host: &str,
    options: &WebSocketConnectOptions,
) -> Result<(), ConnectError> {
    let config = options.tls.clone().unwrap_or_default();
    let failed = |e: io::Error| {
        stream.close();
        ConnectError::Tls(e)
    };
    stream.start_tls_client(&config, host).map_err(failed)?;
    match stream.tls_handshake().await {
        Ok(()) => Ok(()),
        Err(StreamError::Closed { cause: Some(e) }) => Err(failed(e)),
        Err(e) => Err(failed(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!("the server closed the connection during the TLS handshake ({e})"),
        ))),
    }
}

/// Connects, and runs the opening handshake.
async fn open(
    target: Target,
    options: WebSocketConnectOptions,
) -> Result<WebSocketClientConnection, ConnectError> {
    let Target {
        secure,
        host,
        port,
        authority,
        path,
    } = target;
    let stream: IOStream = crate::tcpclient::connect(&host, port).await?;
    #[cfg(feature = "tls")]
    if secure {
        start_tls(&stream, &host, &options).await?;
    }
    #[cfg(not(feature = "tls"))]
    let _ = secure;
    let key = new_key();
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    );
    if options.compression.is_some() {
        req.push_str("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
    }
    if !options.subprotocols.is_empty() {
        req.push_str(&format!(
            "Sec-WebSocket-Protocol: {}\r\n",
            options.subprotocols.join(", ")
        ));
    }
    for (k, v) in &options.headers {
        if [k, v].iter().any(|s| s.contains(['\r', '\n', '\0'])) {
            return Err(ConnectError::Handshake(format!("invalid header {k:?}")));
        }
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write(req.as_bytes()).await?;
    let head = stream
        .read_until(b"\r\n\r\n", options.max_header_size)
        .await?;
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    if status.split(' ').nth(1) != Some("101") {
        stream.close();
        return Err(ConnectError::Handshake(status.to_owned()));
    }
    let headers: Vec<(&str, &str)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    fn values<'h>(
        headers: &'h [(&'h str, &'h str)],
        name: &'h str,
    ) -> impl Iterator<Item = &'h str> + 'h {
        headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
    let get = |name: &'static str| values(&headers, name);
    let refuse = |why: &str| {
        stream.close();
        Err(ConnectError::Handshake(why.to_owned()))
    };
    if !get("Upgrade").any(|v| has_token(v, "websocket"))
        || !get("Connection").any(|v| has_token(v, "upgrade"))
    {
        return refuse("101 without Upgrade: websocket and Connection: upgrade");
    }
    if get("Sec-WebSocket-Accept").next() != Some(accept_key(&key).as_str()) {
        return refuse("wrong Sec-WebSocket-Accept");
    }
    let subprotocol = get("Sec-WebSocket-Protocol").next().map(str::to_owned);
    if let Some(p) = &subprotocol {
        if !options.subprotocols.contains(p) {
            return refuse("the server chose a subprotocol that was not offered");
        }
    }
    let extensions: Vec<&str> = get("Sec-WebSocket-Extensions").collect();
    let agreed = match (extensions.as_slice(), options.compression) {
        ([], _) => None,
        ([one], Some(opts)) => match parse_response(one) {
            Some(a) if a.client_max_window_bits >= 9 => Some((a, opts)),
            _ => return refuse("unacceptable Sec-WebSocket-Extensions"),
        },
        _ => return refuse("an extension that was not offered"),
    };
    let deflater = agreed.map(|(a, opts)| {
        Deflater::new(
            opts.level,
            a.client_max_window_bits,
            a.client_no_context_takeover,
            opts.min_length,
        )
    });
    let inflater = agreed.map(|(a, _)| Inflater::new(a.server_no_context_takeover));
    let ws = WebSocket::new(
        stream.clone(),
        Writer::new(Role::Client, deflater),
        options.max_message_size.saturating_mul(2).max(1 << 20),
        PingPolicy::default(),
        subprotocol,
        false,
    );
    let inbox = Rc::new(Inbox {
        limit: options.max_message_size,
        ..Inbox::default()
    });
    let reader = Reader::new(
        Role::Client,
        options.max_message_size,
        inflater,
        Some(stream.io_loop().clone()),
    );
    Conn::start(ws.clone(), ClientHooks(inbox.clone()), reader, None);
    Ok(WebSocketClientConnection { ws, inbox })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("ws://127.0.0.1:8888/ws/echo?x=1").unwrap();
        assert_eq!(
            t,
            Target {
                secure: false,
                host: "127.0.0.1".into(),
                port: 8888,
                authority: "127.0.0.1:8888".into(),
                path: "/ws/echo?x=1".into(),
            }
        );
        let t = parse_url("ws://127.0.0.1").unwrap();
        assert_eq!((t.secure, t.port, t.path.as_str()), (false, 80, "/"));
        let t = parse_url("wss://example.com/chat").unwrap();
        assert_eq!((t.secure, t.port, t.path.as_str()), (true, 443, "/chat"));
        let t = parse_url("wss://[::1]:8443").unwrap();
        assert_eq!((t.secure, t.host.as_str(), t.port), (true, "::1", 8443));
        assert!(parse_url("https://localhost/").unwrap().secure);
        let t = parse_url("ws://[::1]:9000/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 9000));
        // A name is kept as a name: resolving it is connect's job, off the loop.
        let t = parse_url("ws://localhost:9000?a").unwrap();
        assert_eq!(
            (t.host.as_str(), t.authority.as_str(), t.path.as_str()),
            ("localhost", "localhost:9000", "/?a")
        );
        for bad in [
            "wss:/127.0.0.1/",
            "wss://",
            "ftp://x",
            "ws://",
            "ws://user@127.0.0.1/",
            "ws://::1/",
            "ws://[::1/",
            "ws://[nope]:80/",
            "ws://host name/",
            "ws://127.0.0.1:99999/",
            "ws://127.0.0.1/a b",
            "ws://127.0.0.1/a\r\nX: y",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
