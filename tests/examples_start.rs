//! Every example program starts with `--port N --address 127.0.0.1` and answers on that port
//! (the smoke test that caught `hello` dropping its server, and so its listening socket).
//! The bigger examples have files of their own: showcase.rs, chat.rs, upload.rs,
//! static_server.rs.

use std::io::{BufRead, BufReader};

use squall::testing::TestClient;
use squall_tests::{Client, ExampleServer, ScratchDir};

#[test]
fn hello() {
    let server = ExampleServer::start("hello");
    let r = TestClient::connect_to(server.addr()).get("/");
    assert_eq!((r.status(), r.text().as_str()), (200, "Hello, world"));
}

#[test]
fn bench_application_and_raw() {
    for mode in [None, Some("--raw")] {
        let mut b = ExampleServer::builder("bench");
        if let Some(m) = mode {
            b = b.arg(m);
        }
        let server = b.start();
        let mut c = TestClient::connect_to(server.addr());
        let r = c.get("/plaintext");
        assert_eq!(r.text(), "Hello, World!", "{mode:?}");
        assert_eq!(r.header("Content-Type"), Some("text/plain"), "{mode:?}");
        let r = c.get("/json");
        assert_eq!(r.text(), r#"{"message":"Hello, World!"}"#, "{mode:?}");
        assert_eq!(r.header("Content-Type"), Some("application/json"));
    }
}

#[test]
fn echo_lines() {
    let server = ExampleServer::start("echo");
    let mut c = Client::connect(server.addr());
    c.send(b"hello\nworld\n");
    let mut r = BufReader::new(c.stream);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "hello\n");
    line.clear();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "world\n");
}

#[test]
fn the_others_start() {
    let scratch = ScratchDir::new("examples-start");
    for (name, args) in [
        ("showcase", vec![]),
        ("chat", vec![]),
        (
            "upload",
            vec!["--dir".to_owned(), scratch.path().display().to_string()],
        ),
        (
            "static_server",
            vec!["--dir".to_owned(), scratch.path().display().to_string()],
        ),
    ] {
        let mut b = ExampleServer::builder(name);
        for a in args {
            b = b.arg(a);
        }
        let server = b.start();
        let r = TestClient::connect_to(server.addr())
            .request("HEAD", "/")
            .send();
        assert!(
            matches!(r.status(), 200 | 404),
            "{name}: HEAD / gave {}",
            r.status()
        );
    }
}
