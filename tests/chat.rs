//! Black-box checks of the chat example (`examples/chat.rs`): long polls completed by other
//! clients' posts, cursors, XSRF on posting, the bounded cache, and waiters dropped when their
//! client goes away.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use squall::testing::{TestClient, WireClient};
use squall_tests::ExampleServer;

fn status(addr: SocketAddr) -> Value {
    TestClient::connect_to(addr).get("/a/message/status").json()
}

/// Waits (bounded) until `n` polls are waiting.
fn wait_for_waiters(addr: SocketAddr, n: u64) {
    let t0 = Instant::now();
    loop {
        let s = status(addr);
        if s["waiters"] == json!(n) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "waiters never reached {n}: {s}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// A client with the XSRF cookie, posting through the form field.
fn poster(addr: SocketAddr) -> (TestClient, String) {
    let mut c = TestClient::connect_to(addr);
    let token = c.fetch_xsrf("/");
    (c, token)
}

#[test]
fn waiting_polls_are_completed_by_another_clients_post() {
    let server = ExampleServer::start("chat");
    let addr = server.addr();

    // Three clients poll an empty room: they wait.
    let t0 = Instant::now();
    let polls: Vec<_> = (0..3)
        .map(|_| {
            thread::spawn(move || {
                let r = TestClient::connect_to(addr).get("/a/message/updates?cursor=0");
                (r.status(), r.json(), Instant::now())
            })
        })
        .collect();
    wait_for_waiters(addr, 3);
    thread::sleep(Duration::from_millis(100));
    assert!(
        polls.iter().all(|p| !p.is_finished()),
        "a poll returned early"
    );

    // Another client posts (token in the form field): every poll completes with the message.
    let (mut c, token) = poster(addr);
    let posted_at = Instant::now();
    let r = c
        .request("POST", "/a/message/new")
        .form(&[("body", "hello <everyone>"), ("_xsrf", &token)])
        .send();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json(), json!({"id": 1, "body": "hello <everyone>"}));
    for p in polls {
        let (code, body, done) = p.join().unwrap();
        assert_eq!(code, 200);
        assert_eq!(
            body,
            json!({"messages": [{"id": 1, "body": "hello <everyone>"}]})
        );
        assert!(done >= posted_at, "a poll finished before the post");
    }
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert_eq!(status(addr)["waiters"], json!(0));

    // The page shows it, escaped.
    let page = c.get("/").text();
    assert!(page.contains("<div>hello &lt;everyone&gt;</div>"), "{page}");
    assert!(page.contains(r#"data-cursor="1""#), "{page}");
}

#[test]
fn cursors_xsrf_and_redirects() {
    let server = ExampleServer::start("chat");
    let addr = server.addr();
    let (mut c, token) = poster(addr);

    // Posting needs the token: none, or a wrong one, is a 403 and adds nothing.
    let r = c
        .request("POST", "/a/message/new")
        .form(&[("body", "sneaky")])
        .send();
    assert_eq!(r.status(), 403);
    let r = c
        .request("POST", "/a/message/new")
        .header("X-XSRFToken", "2|00000000|00|0")
        .form(&[("body", "sneaky")])
        .send();
    assert_eq!(r.status(), 403);
    assert_eq!(status(addr)["messages"], json!(0));

    // The token in the header (what the page's script sends).
    for body in ["one", "two", "three"] {
        let r = c
            .request("POST", "/a/message/new")
            .header("X-XSRFToken", &token)
            .form(&[("body", body)])
            .send();
        assert_eq!(r.status(), 200, "{}", r.text());
    }
    // A plain form post with `next` is redirected back to the page; a foreign `next` is not
    // followed (no open redirect).
    let r = c
        .request("POST", "/a/message/new")
        .form(&[("body", "four"), ("next", "/"), ("_xsrf", &token)])
        .send();
    assert_eq!(r.status(), 302);
    assert_eq!(r.header("Location"), Some("/"));
    let r = c
        .request("POST", "/a/message/new")
        .form(&[
            ("body", "five"),
            ("next", "//evil.example/"),
            ("_xsrf", &token),
        ])
        .send();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json()["id"], json!(5));
    // An empty message is refused.
    let r = c
        .request("POST", "/a/message/new")
        .form(&[("body", "  "), ("_xsrf", &token)])
        .send();
    assert_eq!(r.status(), 400);

    // Messages newer than the cursor come back at once; no cursor gives them all.
    let bodies = |v: &Value| -> Vec<String> {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = c.get("/a/message/updates?cursor=3");
    assert_eq!(bodies(&r.json()), ["four", "five"]);
    let r = c.get("/a/message/updates");
    assert_eq!(bodies(&r.json()).len(), 5);
    assert_eq!(c.get("/a/message/updates?cursor=abc").status(), 400);

    // Up to date: the poll waits until the next post, then gets just that one.
    let waiting =
        thread::spawn(move || TestClient::connect_to(addr).get("/a/message/updates?cursor=5"));
    wait_for_waiters(addr, 1);
    let r = c
        .request("POST", "/a/message/new")
        .form(&[("body", "six"), ("_xsrf", &token)])
        .send();
    assert_eq!(r.status(), 200);
    let r = waiting.join().unwrap();
    assert_eq!(r.json(), json!({"messages": [{"id": 6, "body": "six"}]}));
}

#[test]
fn a_departed_client_stops_waiting() {
    let server = ExampleServer::start("chat");
    let addr = server.addr();
    let mut polls: Vec<_> = (0..2)
        .map(|_| {
            let mut c = WireClient::connect(addr);
            c.send(b"GET /a/message/updates?cursor=0 HTTP/1.1\r\nHost: t\r\n\r\n");
            c
        })
        .collect();
    wait_for_waiters(addr, 2);
    drop(polls.pop());
    wait_for_waiters(addr, 1);
    drop(polls.pop());
    wait_for_waiters(addr, 0);
    let log = server.log_text();
    assert!(
        log.contains("went away"),
        "on_connection_close did not run:\n{log}"
    );
    // The room still works.
    let (mut c, token) = poster(addr);
    let r = c
        .request("POST", "/a/message/new")
        .form(&[("body", "still here"), ("_xsrf", &token)])
        .send();
    assert_eq!(r.status(), 200);
}

#[test]
fn the_cache_keeps_the_latest_200() {
    let server = ExampleServer::start("chat");
    let addr = server.addr();
    let (mut c, token) = poster(addr);
    for i in 1..=205 {
        let r = c
            .request("POST", "/a/message/new")
            .header("X-XSRFToken", &token)
            .form(&[("body", &format!("m{i}"))])
            .send();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        status(addr),
        json!({"messages": 200, "last_id": 205, "waiters": 0, "sockets": 0})
    );
    let all = c.get("/a/message/updates").json();
    let messages = all["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 200);
    assert_eq!(messages[0], json!({"id": 6, "body": "m6"}));
    assert_eq!(messages[199], json!({"id": 205, "body": "m205"}));
}

// ---- the real-time path (WebSocket) ----------------------------------------------------------

#[test]
fn websocket_members_get_every_message_at_once_and_polls_still_work() {
    use squall_tests::ws::WsClient;
    let server = ExampleServer::start("chat");
    let addr = server.addr();
    let origin = format!("http://{addr}");
    let (mut a, _) = WsClient::connect_with(addr, "/chatsocket", &[("Origin", &origin)]);
    let (mut b, _) = WsClient::connect_with(addr, "/chatsocket", &[("Origin", &origin)]);
    assert_eq!(status(addr)["sockets"], json!(2));
    // A poll waits meanwhile: the fallback path sees socket messages too.
    let poll = thread::spawn(move || {
        TestClient::connect_to(addr)
            .get("/a/message/updates?cursor=0")
            .json()
    });
    wait_for_waiters(addr, 1);
    // Posted over a socket: every socket (the sender's too) and the poll get it.
    a.send_text("over <the> socket");
    let expect = json!({"id": 1, "body": "over <the> socket"});
    for c in [&mut a, &mut b] {
        let v: Value = serde_json::from_str(&c.read_text()).unwrap();
        assert_eq!(v, expect);
    }
    assert_eq!(poll.join().unwrap(), json!({"messages": [expect]}));
    // Posted with the form: the sockets get it too.
    let (mut c, token) = poster(addr);
    let r = c
        .request("POST", "/a/message/new")
        .form(&[("body", "by form"), ("_xsrf", &token)])
        .send();
    assert_eq!(r.status(), 200);
    for c in [&mut a, &mut b] {
        let v: Value = serde_json::from_str(&c.read_text()).unwrap();
        assert_eq!(v, json!({"id": 2, "body": "by form"}));
    }
    // A socket opened with a cursor first gets what it missed.
    let (mut late, _) =
        WsClient::connect_with(addr, "/chatsocket?cursor=1", &[("Origin", &origin)]);
    let v: Value = serde_json::from_str(&late.read_text()).unwrap();
    assert_eq!(v, json!({"id": 2, "body": "by form"}));
    // A closed socket leaves the room.
    late.close_cleanly();
    let t0 = Instant::now();
    while status(addr)["sockets"] != json!(2) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the closed socket stayed in the room"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_cross_site_page_cannot_open_the_chat_socket() {
    use squall_tests::ws::{request, WsClient};
    let server = ExampleServer::start("chat");
    let addr = server.addr();
    let mut c = WsClient::tcp(addr);
    let h = c.handshake(&request(
        "/chatsocket",
        &addr.to_string(),
        &[("Origin", "http://evil.example")],
    ));
    assert_eq!(h.status, 403);
}

#[test]
fn the_page_uses_the_websocket_and_keeps_the_poll_fallback() {
    let server = ExampleServer::start("chat");
    let page = TestClient::connect_to(server.addr()).get("/").text();
    assert!(page.contains("new WebSocket("), "no WebSocket in the page");
    assert!(page.contains("/chatsocket"));
    assert!(
        page.contains("/a/message/updates"),
        "the long-poll fallback is gone"
    );
}
