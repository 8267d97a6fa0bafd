//! [`TestWebSocket`]: testing WebSocket handlers with `cargo test`, through the framework's
//! own client ([`websocket_connect`](crate::websocket::websocket_connect)) running on a
//! private loop on the test's thread. Every call blocks for at most [`READ_TIMEOUT`].

use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;

use super::{TestClient, TestServer, READ_TIMEOUT};
use crate::ioloop::IOLoop;
use crate::task::with_timeout;
use crate::websocket::{
    websocket_connect_with, ConnectError, Message, OwnedMessage, WebSocketClientConnection,
    WebSocketConnectOptions,
};

/// A WebSocket connection to a [`TestServer`], with blocking calls.
///
/// # Examples
///
/// ```
/// use squall::prelude::*;
/// use squall::testing::{TestClient, TestServer};
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
/// let server = TestServer::start(|| Application::new(routes![(r"/echo", Echo)]));
/// let ws = TestClient::new(&server).websocket("/echo");
/// ws.send("hello");
/// assert_eq!(ws.read_text(), "hello");
/// assert_eq!(ws.close(), Some(1000));
/// ```
pub struct TestWebSocket {
    io_loop: IOLoop,
    conn: Rc<WebSocketClientConnection>,
}

impl fmt::Debug for TestWebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestWebSocket")
            .field("conn", &self.conn)
            .finish()
    }
}

impl TestClient {
    /// Opens a WebSocket to `path` on the client's server, sending the client's cookies.
    ///
    /// # Panics
    ///
    /// If the handshake fails (see [`TestWebSocket::try_connect`] to test refusals).
    pub fn websocket(&self, path: &str) -> TestWebSocket {
        let mut options = WebSocketConnectOptions::default();
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            options.headers.push(("Cookie".into(), jar.join("; ")));
        }
        TestWebSocket::try_connect(self.addr, path, options)
            .unwrap_or_else(|e| panic!("WebSocket to {path}: {e}"))
    }
}

impl TestWebSocket {
    /// Opens a WebSocket to `path` on `server`.
    ///
    /// # Panics
    ///
    /// If the handshake fails.
    pub fn connect(server: &TestServer, path: &str) -> TestWebSocket {
        TestWebSocket::try_connect(server.addr(), path, WebSocketConnectOptions::default())
            .unwrap_or_else(|e| panic!("WebSocket to {path}: {e}"))
    }

    /// Opens a WebSocket to `path` at `addr` with `options`.
    ///
    /// # Errors
    ///
    /// The handshake's [`ConnectError`] (a refusal carries the status line).
    ///
    /// # Panics
    ///
    /// If no loop can be created or the handshake takes longer than [`READ_TIMEOUT`].
    pub fn try_connect(
        addr: SocketAddr,
        path: &str,
        options: WebSocketConnectOptions,
    ) -> Result<TestWebSocket, ConnectError> {
        let io_loop = IOLoop::new().expect("test WebSocket: cannot create a loop");
        let url = format!("ws://{addr}{path}");
        io_loop.make_current();
        let conn = io_loop
            .run_sync(async move {
                with_timeout(READ_TIMEOUT, websocket_connect_with(&url, options)).await
            })
            .expect("WebSocket handshake timed out")?;
        Ok(TestWebSocket {
            io_loop,
            conn: Rc::new(conn),
        })
    }

    /// Sends a message and waits until the socket took it.
    ///
    /// # Panics
    ///
    /// If the connection is closed or the send takes longer than [`READ_TIMEOUT`].
    pub fn send<'a>(&self, message: impl Into<Message<'a>>) {
        self.conn
            .write_message(message)
            .expect("test WebSocket: the connection is closed");
        let conn = self.conn.clone();
        self.io_loop.make_current();
        self.io_loop
            .run_sync(async move { with_timeout(READ_TIMEOUT, conn.drained()).await })
            .expect("test WebSocket: send timed out")
            .expect("test WebSocket: the connection closed while sending");
    }

    /// The next message, or `None` once the connection is closed.
    ///
    /// # Panics
    ///
    /// If nothing arrives within [`READ_TIMEOUT`].
    pub fn read(&self) -> Option<OwnedMessage> {
        let conn = self.conn.clone();
        self.io_loop.make_current();
        self.io_loop
            .run_sync(async move { with_timeout(READ_TIMEOUT, conn.read_message()).await })
            .expect("test WebSocket: no message within the read timeout")
    }

    /// The next message, which must be text.
    ///
    /// # Panics
    ///
    /// If it is binary, or the connection closes, or nothing arrives in time.
    pub fn read_text(&self) -> String {
        match self.read() {
            Some(OwnedMessage::Text(t)) => t,
            other => panic!("test WebSocket: expected a text message, got {other:?}"),
        }
    }

    /// Closes with 1000 and waits for the server's answer; returns its close code.
    ///
    /// # Panics
    ///
    /// If the close takes longer than [`READ_TIMEOUT`].
    pub fn close(&self) -> Option<u16> {
        self.close_with(Some(1000), "")
    }

    /// Closes with `code` and `reason` and waits for the server's answer; returns its code.
    ///
    /// # Panics
    ///
    /// If the close takes longer than [`READ_TIMEOUT`].
    pub fn close_with(&self, code: Option<u16>, reason: &str) -> Option<u16> {
        let conn = self.conn.clone();
        let reason = reason.to_owned();
        self.io_loop.make_current();
        self.io_loop
            .run_sync(async move {
                with_timeout(READ_TIMEOUT, async {
                    conn.close_and_wait(code, &reason).await
                })
                .await
            })
            .expect("test WebSocket: close timed out")
    }

    /// The connection (its [`WebSocket`](crate::websocket::WebSocket) methods: ping,
    /// buffered amount, close code...).
    pub fn connection(&self) -> &WebSocketClientConnection {
        &self.conn
    }
}
