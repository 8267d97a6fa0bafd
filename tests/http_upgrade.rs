//! Switching protocols (`Responder::upgrade`, issue #16 item 5): a 101 ends HTTP on the
//! connection and hands its stream, with the bytes already read past the request head, to
//! another protocol — here a line echo.

use std::cell::RefCell;
use std::sync::mpsc;
use std::time::Duration;

use squall::http1::HttpServerOptions;
use squall::http1::{Request, Responder, ResponseError};
use squall::httpserver::HttpServer;
use squall::ioloop::{IOLoop, IOLoopHandle};
use squall::iostream::IOStream;
use squall::testing::{normalize_date, TestServer, WireClient, READ_TIMEOUT};
use squall_tests::{echo, options};

/// Echoes each line back as `echo: <line>` until the client closes.
fn line_echo(stream: IOStream) {
    squall::task::spawn(async move {
        while let Ok(line) = stream.read_until(b"\n", 1024).await {
            let mut out = b"echo: ".to_vec();
            out.extend_from_slice(&line);
            if stream.write(&out).await.is_err() {
                break;
            }
        }
    });
}

const SWITCH: &[(&str, &str)] = &[("Upgrade", "echo"), ("Connection", "Upgrade")];

/// `Upgrade: echo` switches to the line echo (at once, or after `delay` from a task); anything
/// else is [`echo`]ed. A failed upgrade's error goes to `errors`.
fn upgrading(
    delay: Option<Duration>,
    errors: mpsc::Sender<ResponseError>,
) -> impl Fn(Request, Responder) {
    move |req: Request, res: Responder| {
        if req.header("Upgrade") != Some("echo") {
            return echo(req, res);
        }
        let errors = errors.clone();
        let switch = move |res: Responder| match res.upgrade(SWITCH.iter().copied()) {
            Ok(stream) => line_echo(stream),
            Err(e) => {
                let _ = errors.send(e);
            }
        };
        match delay {
            None => switch(res),
            Some(d) => {
                squall::task::spawn(async move {
                    squall::task::sleep(d).await;
                    switch(res);
                });
            }
        }
    }
}

const UPGRADE: &[u8] =
    b"GET /chat HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n";

/// Reads the 101 head and checks it exactly.
fn read_switch(c: &mut WireClient) {
    let head = c.read_head_response();
    assert_eq!(
        normalize_date(&head.raw),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\
         Date: <date>\r\n\r\n"
    );
}

/// Reads exactly `want` (more bytes or a close fail).
fn read_exact(c: &mut WireClient, want: &[u8]) {
    let got = c.read_bytes(want.len());
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

fn short_timeouts() -> HttpServerOptions {
    HttpServerOptions {
        idle_timeout: Some(Duration::from_millis(200)),
        header_timeout: Some(Duration::from_millis(200)),
        ..options()
    }
}

#[test]
fn bytes_after_the_head_go_to_the_new_protocol() {
    let (tx, errors) = mpsc::channel();
    let server = TestServer::start_with(move || upgrading(None, tx), short_timeouts());
    let mut c = server.connect();
    // One write: a request first (answered over HTTP), then the upgrade, then the new
    // protocol's first bytes — one of which looks like an HTTP request and must not be parsed.
    let mut wire = b"GET /before HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
    wire.extend_from_slice(UPGRADE);
    wire.extend_from_slice(b"first\nGET /not-http HTTP/1.1\r\n");
    c.send(&wire);
    let before = c.read_response();
    assert_eq!(before.status, 200);
    assert_eq!(before.header("X-Uri"), Some("/before"));
    read_switch(&mut c);
    read_exact(&mut c, b"echo: first\necho: GET /not-http HTTP/1.1\r\n");
    // HTTP's idle and header timeouts (200 ms) no longer apply to the stream.
    std::thread::sleep(Duration::from_millis(600));
    c.send(b"second\n");
    read_exact(&mut c, b"echo: second\n");
    c.shutdown_write();
    c.assert_closed();
    assert!(errors.try_recv().is_err());
    server.assert_serves();
}

#[test]
fn an_async_handler_upgrades_later() {
    let (tx, errors) = mpsc::channel();
    let server = TestServer::start_with(
        move || upgrading(Some(Duration::from_millis(50)), tx),
        options(),
    );
    let mut c = server.connect();
    let mut wire = UPGRADE.to_vec();
    // Sent before the 101: these wait in the read buffer, unparsed, for the new protocol.
    wire.extend_from_slice(b"early\n");
    c.send(&wire);
    read_switch(&mut c);
    read_exact(&mut c, b"echo: early\n");
    c.send(b"late\n");
    read_exact(&mut c, b"echo: late\n");
    assert!(errors.try_recv().is_err());
    server.assert_serves();
}

#[test]
fn http_1_0_cannot_switch_protocols() {
    let (tx, errors) = mpsc::channel();
    let server = TestServer::start_with(move || upgrading(None, tx), options());
    let mut c = server.connect();
    c.send(b"GET /chat HTTP/1.0\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n");
    // The responder, refused, is dropped unanswered: 500, and the 1.0 connection closes.
    let r = c.read_response();
    assert_eq!(r.status, 500, "{r:?}");
    c.assert_closed();
    assert_eq!(
        errors.recv_timeout(READ_TIMEOUT).unwrap(),
        ResponseError::NotUpgradable
    );
    server.assert_serves();
}

thread_local! {
    static SERVER: RefCell<Option<HttpServer>> = const { RefCell::new(None) };
}

/// Runs `f` with the server on its loop thread and returns what it returns.
fn on_server<R: Send + 'static>(
    handle: &IOLoopHandle,
    f: impl FnOnce(&HttpServer) -> R + Send + 'static,
) -> R {
    let (tx, rx) = mpsc::channel();
    handle
        .add_callback(move || {
            SERVER.with(|s| {
                let _ = tx.send(f(s.borrow().as_ref().expect("server")));
            })
        })
        .expect("loop closed");
    rx.recv_timeout(READ_TIMEOUT).expect("loop did not answer")
}

#[test]
fn an_upgraded_connection_leaves_the_server() {
    let (ready_tx, ready) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let l = IOLoop::new().unwrap();
        l.make_current();
        let (tx, _errors) = mpsc::channel();
        let server = HttpServer::on(&l, Box::new(upgrading(None, tx)), options());
        server.listen(0, "127.0.0.1").unwrap();
        ready_tx
            .send((server.local_addrs()[0], l.handle()))
            .unwrap();
        SERVER.with(|s| *s.borrow_mut() = Some(server));
        l.start();
        SERVER.with(|s| s.borrow_mut().take());
    });
    let (addr, handle) = ready.recv_timeout(READ_TIMEOUT).unwrap();
    let mut idle = WireClient::connect(addr);
    idle.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(idle.read_response().status, 200);
    let mut up = WireClient::connect(addr);
    up.send(UPGRADE);
    read_switch(&mut up);
    assert_eq!(on_server(&handle, |s| s.connection_count()), 1);
    // A graceful shutdown closes the idle HTTP connection and completes without waiting for
    // the upgraded one (its owner decides its life).
    let (done_tx, done) = mpsc::channel();
    on_server(&handle, move |s| {
        let fut = s.shutdown();
        squall::task::spawn(async move {
            fut.await;
            let _ = done_tx.send(());
        });
    });
    done.recv_timeout(READ_TIMEOUT)
        .expect("shutdown waited for the upgraded connection");
    idle.assert_closed();
    up.send(b"still here\n");
    read_exact(&mut up, b"echo: still here\n");
    handle.stop();
    thread.join().unwrap();
}
