//! Graceful shutdown with WebSockets open: the framework sends every open WebSocket a Close
//! `1001` (going away) when the server's shutdown starts, whatever the handler is; the
//! shutdown then waits for the closing handshakes, each bounded by the connection's close
//! timeout (5 s), before it completes. In-process through a `ShutdownHandle`, and in a real
//! process through `SIGTERM` to the showcase (`HttpServer::run`, as `Application::run` uses).
//!
//! Every wait is bounded.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use squall::http1::HttpServerOptions;
use squall::prelude::*;
use squall_tests::app_process::wait_refused;
use squall_tests::showcase_support::showcase;
use squall_tests::ws::{WsClient, OP_CLOSE};
use squall_tests::{options, ClosingServer};

/// The Close the framework sends when the server goes away: code 1001 and its reason.
fn going_away_payload() -> Vec<u8> {
    let mut p = 1001u16.to_be_bytes().to_vec();
    p.extend_from_slice(b"server shutting down");
    p
}

/// Reads the server's going-away Close: exactly one frame, FIN set, no RSV bits, unmasked.
fn expect_going_away(c: &mut WsClient) {
    let f = c.read_close(false);
    assert!(f.fin && f.rsv == 0 && !f.masked, "{f:?}");
    assert_eq!(f.opcode, OP_CLOSE);
    assert_eq!(
        f.payload,
        going_away_payload(),
        "{:?}",
        String::from_utf8_lossy(&f.payload)
    );
}

/// An echo handler that reports its `on_close` to the test thread.
#[derive(Clone)]
struct Echo {
    closed: Arc<Mutex<mpsc::Sender<Option<u16>>>>,
}

#[websocket_handler]
impl Echo {
    fn on_message(&mut self, ws: &WebSocket, message: Message<'_>) -> Result<()> {
        ws.write_message(message)?;
        Ok(())
    }

    fn on_close(&mut self, _ws: &WebSocket, code: Option<u16>, _reason: &str) {
        let _ = self.closed.lock().unwrap().send(code);
    }
}

/// An [`Echo`] server at `/ws` with shutdown grace period `grace`, and the receiving end of
/// its handlers' `on_close` reports.
fn echo_server(grace: Duration) -> (ClosingServer, mpsc::Receiver<Option<u16>>) {
    let (closed_tx, closed) = mpsc::channel();
    let closed_tx = Arc::new(Mutex::new(closed_tx));
    let server = ClosingServer::start(
        move || {
            let options = HttpServerOptions {
                shutdown_grace: grace,
                ..options()
            };
            let app = Application::new(routes![(r"/ws", Echo { closed: closed_tx })]);
            app.into_server_with(options)
        },
        |_| {},
    );
    (server, closed)
}

#[test]
fn shutdown_sends_1001_to_every_websocket_and_waits_for_the_closing_handshakes() {
    // A grace period far longer than the test: the shutdown must end on the handshakes.
    let (mut server, closed) = echo_server(Duration::from_secs(120));
    let (addr, handle) = (server.addr(), server.shutdown_handle());

    // `polite` answers the server's Close; `silent` never does.
    let mut polite = WsClient::connect(addr, "/ws");
    let mut silent = WsClient::connect(addr, "/ws");
    for c in [&mut polite, &mut silent] {
        c.send_text("hi");
        assert_eq!(c.read_text(), "hi");
    }

    let t0 = Instant::now();
    handle.shutdown();
    expect_going_away(&mut polite);
    expect_going_away(&mut silent);
    wait_refused(addr, Duration::from_secs(5));
    // The shutdown waits for the closing handshakes (silent's may take up to 5 s).
    assert!(
        !server.is_closed(),
        "the shutdown ended before the WebSockets closed"
    );

    // The polite client's Close completes its handshake: its handler hears 1001, TCP closes.
    polite.send_close(1001, "");
    polite.assert_eof_within(Duration::from_secs(3));
    assert_eq!(
        closed.recv_timeout(Duration::from_secs(5)).unwrap(),
        Some(1001)
    );

    // The silent one is closed by the server once its close timeout (5 s) has passed.
    silent.assert_eof_within(Duration::from_secs(10));
    assert_eq!(closed.recv_timeout(Duration::from_secs(5)).unwrap(), None);

    // Then the shutdown completes, long before its 120 s grace period.
    server.wait_closed(Duration::from_secs(10));
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());
}

#[test]
fn the_grace_period_closes_websockets_still_open() {
    // A shutdown grace shorter than the close timeout: the silent client is closed when the
    // grace period ends (about 300 ms), not after the WebSocket's own 5 s.
    let (mut server, _closed) = echo_server(Duration::from_millis(300));
    let (addr, handle) = (server.addr(), server.shutdown_handle());
    let mut silent = WsClient::connect(addr, "/ws");
    silent.send_text("hi");
    assert_eq!(silent.read_text(), "hi");
    let t0 = Instant::now();
    handle.shutdown();
    expect_going_away(&mut silent);
    silent.assert_eof_within(Duration::from_secs(4));
    server.wait_closed(Duration::from_secs(10));
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "closed before the grace period ended: {:?}",
        t0.elapsed()
    );
}

#[test]
fn sigterm_to_the_showcase_closes_its_websockets_with_1001_and_exits_0() {
    let mut server = showcase();
    let addr = server.addr();
    let mut echo = WsClient::connect(addr, "/ws/echo");
    echo.send_text("before");
    assert_eq!(echo.read_text(), "before");
    let mut chat = WsClient::connect(addr, "/ws/chat");
    chat.send_text("hello room");
    assert_eq!(chat.read_text(), "hello room");

    server.signal(libc::SIGTERM);
    for c in [&mut echo, &mut chat] {
        expect_going_away(c);
        c.send_close(1001, "");
        c.assert_eof_within(Duration::from_secs(3));
    }
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("the showcase still runs 10 s after SIGTERM");
    assert!(status.success(), "exited with {status}");
}
