//! Issue #12.10: graceful stop everywhere. Every example server, sent `SIGTERM` (or `SIGINT`),
//! stops accepting (new connections are refused), answers the requests in flight, and exits
//! with status 0; `Application::run` is the one line that gives an application this.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use squall::prelude::*;
use squall::testing::{TestClient, WireClient};
use squall_tests::{ExampleServer, ScratchDir};

/// Far above what a graceful stop takes here (a few ms), far below the 30 s grace period.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

fn assert_refused(server: &ExampleServer) {
    match TcpStream::connect_timeout(&server.addr(), Duration::from_secs(2)) {
        Err(e) => assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "connecting after the shutdown began: {e}"
        ),
        Ok(_) => panic!("a new connection was accepted after the shutdown began"),
    }
}

fn assert_exits_cleanly(server: &mut ExampleServer, what: &str) {
    let status = server
        .wait_exit(EXIT_LIMIT)
        .unwrap_or_else(|| panic!("{what} still running {EXIT_LIMIT:?} after the signal"));
    assert!(status.success(), "{what} exited with {status}");
}

#[test]
fn the_showcase_answers_requests_in_flight_refuses_new_ones_and_exits_0() {
    let mut server = ExampleServer::start("showcase");
    let addr = server.addr();

    // A: a connection known to the server, then /slow (200 ms on the loop's timer).
    let mut a = WireClient::connect(addr);
    a.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(a.read_response().status, 200);
    a.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    // C: a request whose body is still arriving holds the shutdown open until it is answered.
    let mut c = WireClient::connect(addr);
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nhello");
    // B: its answer means the loop has read what A and C sent before B connected (loopback
    // delivers a send before it returns, and one turn of the loop dispatches every ready fd).
    let r = TestClient::connect_to(addr).get("/");
    assert_eq!(r.status(), 200);

    server.signal(libc::SIGTERM);
    assert!(
        server.wait_for_log("shutting down", EXIT_LIMIT),
        "no shutdown in the log:\n{}",
        server.log_text()
    );
    // The listening socket is closed while C still holds the process up.
    assert_refused(&server);
    assert!(server.is_running(), "exited with a request still in flight");

    let slow = a.read_response();
    assert_eq!(slow.status, 200, "{slow:?}");
    assert_eq!(slow.body, b"done");
    assert_eq!(slow.header("Connection"), Some("close"));

    c.send(b"world");
    let echoed = c.read_response();
    assert_eq!(echoed.status, 200, "{echoed:?}");
    assert_eq!(echoed.body, b"helloworld");

    assert_exits_cleanly(&mut server, "showcase");
    let log = server.log_text();
    assert!(log.contains("200 GET /slow"), "access log:\n{log}");
}

#[test]
fn sigint_stops_the_showcase_the_same_way() {
    let mut server = ExampleServer::start("showcase");
    let mut a = WireClient::connect(server.addr());
    a.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(TestClient::connect_to(server.addr()).get("/").status(), 200);
    server.signal(libc::SIGINT);
    let slow = a.read_response();
    assert_eq!((slow.status, slow.body.as_slice()), (200, &b"done"[..]));
    assert_exits_cleanly(&mut server, "showcase");
}

#[test]
fn hello_closes_idle_connections_and_exits_0() {
    let mut server = ExampleServer::start("hello");
    let mut idle = WireClient::connect(server.addr());
    idle.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(idle.read_response().body, b"Hello, world");
    server.signal(libc::SIGTERM);
    idle.assert_closed_within(EXIT_LIMIT);
    assert_exits_cleanly(&mut server, "hello");
    let log = server.log_text();
    assert!(log.contains("serving on http://"), "log:\n{log}");
}

#[test]
fn chat_answers_its_waiting_polls_and_exits_0_without_the_grace_period() {
    let mut server = ExampleServer::start("chat");
    let mut poll = WireClient::connect(server.addr());
    poll.send(b"GET /a/message/updates HTTP/1.1\r\nHost: t\r\n\r\n");
    // Wait (on the server's own count) until the poll is waiting.
    let mut status = TestClient::connect_to(server.addr());
    let t0 = Instant::now();
    while status.get("/a/message/status").json()["waiters"] != 1 {
        assert!(t0.elapsed() < EXIT_LIMIT, "the poll never started waiting");
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(status);
    let t0 = Instant::now();
    server.signal(libc::SIGTERM);
    let r = poll.read_response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&r.body).unwrap(),
        serde_json::json!({ "messages": [] })
    );
    assert_exits_cleanly(&mut server, "chat");
    // The 30 s grace period was not needed.
    assert!(t0.elapsed() < EXIT_LIMIT);
}

#[test]
fn the_other_example_servers_exit_0_on_sigterm() {
    let scratch = ScratchDir::new("graceful");
    std::fs::write(scratch.path().join("index.html"), "hi").unwrap();
    let dir = scratch.path().to_str().unwrap().to_owned();
    for (name, args) in [
        ("static_server", vec!["--dir", dir.as_str()]),
        ("upload", vec!["--dir", dir.as_str()]),
        ("echo", vec![]),
    ] {
        let mut b = ExampleServer::builder(name);
        for a in args {
            b = b.arg(a);
        }
        let mut server = b.start();
        server.signal(libc::SIGTERM);
        assert_exits_cleanly(&mut server, name);
    }
}

// ---- Application::run in a process of its own -----------------------------------------------

#[derive(Clone, Default)]
struct Hello;

#[handler]
impl Hello {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("Hello, world");
        Ok(())
    }
}

#[test]
fn application_run_fails_with_the_bind_error() {
    // The port is taken: run returns the error instead of serving (the signal path is covered
    // by the examples above, which call it).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let app = Application::new(routes![(r"/", Hello)]);
    let e = app.run(port).expect_err("the port is in use");
    // Display says what failed; the bind error is the source, and Debug has the whole chain.
    let text = format!("{e:?}");
    assert!(text.to_lowercase().contains("in use"), "{text}");
    let cause = std::error::Error::source(&e).expect("the bind error is kept");
    assert!(
        cause.to_string().to_lowercase().contains("in use"),
        "{cause}"
    );
}
