//! WebSocket handlers as a user writes them, served by `squall::testing::TestServer`: path
//! arguments of `open`, refusing in `open`, async `on_message` (in order), `on_close` with the
//! peer's code, subprotocols, pings sent by the server and the ping timeout, and the
//! framework's own client (`TestWebSocket`).

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use squall::prelude::*;
use squall::testing::{TestClient, TestServer, TestWebSocket};
use squall::websocket::OwnedMessage;
use squall_tests::ws::{request, WsClient, OP_PING, OP_PONG, OP_TEXT};

/// What the handlers report to the test thread.
#[derive(Clone)]
struct Report(Arc<Mutex<mpsc::Sender<String>>>);

impl Report {
    fn send(&self, s: String) {
        let _ = self.0.lock().unwrap().send(s);
    }
}

#[derive(Clone)]
struct Room {
    report: Report,
    name: String,
}

#[websocket_handler]
impl Room {
    fn open(&mut self, cx: &mut Context, ws: &WebSocket, name: String, n: u32) -> Result<()> {
        if name == "secret" && cx.header("X-Key") != Some("let-me-in") {
            return Err(HttpError::new(403).log("no key"));
        }
        self.name = format!("{name}/{n}");
        ws.write_message(format!("hello {}", self.name).as_str())?;
        Ok(())
    }

    async fn on_message(&mut self, ws: &WebSocket, message: Message<'_>) -> Result<()> {
        // An await between receiving and answering: the next message waits for this one.
        let delay = if message.as_text() == Some("slow") {
            100
        } else {
            0
        };
        squall::task::sleep(Duration::from_millis(delay)).await;
        ws.write_message(message)?;
        Ok(())
    }

    fn on_close(&mut self, _ws: &WebSocket, code: Option<u16>, reason: &str) {
        self.report
            .send(format!("closed {} {code:?} {reason}", self.name));
    }

    fn select_subprotocol(&mut self, offered: &[&str]) -> Option<String> {
        offered
            .iter()
            .find(|p| **p == "chat.v2")
            .map(|p| p.to_string())
    }
}

/// A server of `Room`s; `ping`: the ping interval and timeout.
fn room_server(ping: Option<(Duration, Duration)>) -> (TestServer, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let report = Report(Arc::new(Mutex::new(tx)));
    let server = TestServer::start(move || {
        let settings = Settings {
            websocket_ping_interval: ping.map(|p| p.0),
            websocket_ping_timeout: ping.map(|p| p.1),
            ..Settings::default()
        };
        Application::with_settings(
            routes![(
                r"/room/([a-z]+)/(\d+)",
                Room {
                    report,
                    name: String::new()
                }
            )],
            settings,
        )
        .unwrap()
    });
    (server, rx)
}

#[test]
fn open_gets_path_arguments_and_on_close_the_peers_code() {
    let (server, rx) = room_server(None);
    let ws = TestClient::new(&server).websocket("/room/lobby/7");
    assert_eq!(ws.read_text(), "hello lobby/7");
    ws.send("hi");
    assert_eq!(ws.read_text(), "hi");
    assert_eq!(ws.close_with(Some(4001), "bye"), Some(4001));
    let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(got, "closed lobby/7 Some(4001) bye");
    // A group that does not convert is a 404, not an upgrade.
    let mut c = WsClient::tcp(server.addr());
    let h = c.handshake(&request(
        "/room/lobby/99999999999",
        &server.addr().to_string(),
        &[],
    ));
    assert_eq!(h.status, 404);
}

#[test]
fn open_may_refuse_with_an_http_status() {
    let (server, _rx) = room_server(None);
    let addr = server.addr();
    let mut c = WsClient::tcp(addr);
    let h = c.handshake(&request("/room/secret/1", &addr.to_string(), &[]));
    assert_eq!(h.status, 403);
    assert_eq!(h.count("Sec-WebSocket-Accept"), 0);
    let mut c = WsClient::tcp(addr);
    let h = c.handshake(&request(
        "/room/secret/1",
        &addr.to_string(),
        &[("X-Key", "let-me-in")],
    ));
    assert_eq!(h.status, 101);
}

#[test]
fn async_on_message_keeps_the_order() {
    let (server, _rx) = room_server(None);
    let ws = TestWebSocket::connect(&server, "/room/a/1");
    assert_eq!(ws.read_text(), "hello a/1");
    ws.send("slow");
    ws.send("fast");
    assert_eq!(ws.read_text(), "slow");
    assert_eq!(ws.read_text(), "fast");
    ws.send(&b"bytes"[..]);
    assert_eq!(ws.read(), Some(OwnedMessage::Binary(b"bytes".to_vec())));
}

#[test]
fn subprotocols_are_selected_from_the_offer() {
    let (server, _rx) = room_server(None);
    let addr = server.addr();
    let (_c, h) = WsClient::connect_with(
        addr,
        "/room/a/1",
        &[("Sec-WebSocket-Protocol", "chat.v1, chat.v2")],
    );
    assert_eq!(h.header("Sec-WebSocket-Protocol"), Some("chat.v2"));
    let (_c, h) = WsClient::connect_with(addr, "/room/a/1", &[("Sec-WebSocket-Protocol", "other")]);
    assert_eq!(h.count("Sec-WebSocket-Protocol"), 0);
}

#[test]
fn the_server_pings_and_closes_a_peer_that_does_not_answer() {
    let (server, rx) = room_server(Some((
        Duration::from_millis(100),
        Duration::from_millis(300),
    )));
    let addr = server.addr();
    // A peer that answers every ping stays connected past many timeouts.
    let mut live = WsClient::connect(addr, "/room/live/1");
    assert_eq!(live.read_text(), "hello live/1");
    let t0 = Instant::now();
    let mut pings = 0;
    while t0.elapsed() < Duration::from_millis(1500) {
        let f = live.read_frame();
        assert_eq!(f.opcode, OP_PING);
        live.send_frame(true, 0, OP_PONG, &f.payload);
        pings += 1;
    }
    assert!(pings >= 3, "{pings} pings in 1.5 s at a 100 ms interval");
    live.send_text("still here");
    loop {
        let f = live.read_frame();
        if f.opcode == OP_TEXT {
            assert_eq!(f.payload, b"still here");
            break;
        }
        live.send_frame(true, 0, OP_PONG, &f.payload);
    }
    // A peer that never answers is closed after the timeout.
    let mut deaf = WsClient::connect(addr, "/room/deaf/1");
    assert_eq!(deaf.read_text(), "hello deaf/1");
    let t0 = Instant::now();
    while let Some(f) = deaf.try_read_frame() {
        assert_eq!(f.opcode, OP_PING, "only pings until the close");
        assert!(t0.elapsed() < Duration::from_secs(10));
    }
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
    // (The live peer, which stopped answering meanwhile, is closed the same way.)
    let reports: Vec<String> = (0..2)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    assert!(
        reports.contains(&"closed deaf/1 None ".to_owned()),
        "{reports:?}"
    );
    assert!(
        reports.contains(&"closed live/1 None ".to_owned()),
        "{reports:?}"
    );
}

#[test]
fn the_client_resolves_names_off_the_loop_and_reports_refusals() {
    let (server, rx) = room_server(None);
    let port = server.addr().port();
    let io_loop = squall::ioloop::IOLoop::new().unwrap();
    io_loop.make_current();
    // A name: resolved on the executor ("localhost" may give ::1 first, where nothing
    // listens; the next address is tried). The Host header is the URL's authority.
    let url = format!("ws://localhost:{port}/room/byname/1");
    let got = io_loop.run_sync(async move {
        let conn = squall::task::with_timeout(
            Duration::from_secs(10),
            squall::websocket::websocket_connect(&url),
        )
        .await
        .expect("handshake timed out")
        .expect("connect by name");
        let hello = conn.read_message().await;
        conn.close_and_wait(Some(1000), "").await;
        hello
    });
    assert_eq!(got, Some(OwnedMessage::Text("hello byname/1".into())));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "closed byname/1 Some(1000) "
    );
    // Nothing listens: the connection error names the address, as an error, not a panic.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/room/x/1", free.local_addr().unwrap());
    drop(free);
    let err = io_loop
        .run_sync(async move { squall::websocket::websocket_connect(&url).await })
        .unwrap_err();
    match &err {
        squall::websocket::ConnectError::Connect(e) => {
            let io = std::error::Error::source(e)
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .expect("an io::Error source");
            assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
        }
        other => panic!("{other:?}"),
    }
}
