//! Every example program starts with `--port N --address 127.0.0.1` and answers on that port
//! (the smoke test that caught `hello` dropping its server, and so its listening socket).
//! The bigger examples have files of their own: showcase.rs, chat.rs, upload.rs,
//! static_server.rs.

use std::io::{BufRead, BufReader};

use squall::testing::{TestClient, WireClient};
use squall_tests::{ExampleServer, ScratchDir};

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
        // The template benchmark is the Application's only.
        let r = c.get("/fortunes");
        if mode.is_some() {
            assert_eq!(r.status(), 404);
            continue;
        }
        assert_eq!(r.status(), 200);
        assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
        assert_eq!(r.header("Etag"), None, "no ETag, as the Tornado peer");
        assert_eq!(r.text(), fortunes_page());
    }
}

/// The Fortunes page as TechEmpower specifies it, built here without the framework: the twelve
/// fortunes and the one added per request, sorted by message, every message HTML-escaped as
/// Tornado's `xhtml_escape` does (the Tornado peer sends these same bytes).
fn fortunes_page() -> String {
    let mut rows = vec![
        (1, "fortune: No such file or directory"),
        (
            2,
            "A computer scientist is someone who fixes things that aren't broken.",
        ),
        (3, "After enough decimal places, nobody gives a damn."),
        (
            4,
            "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
        ),
        (
            5,
            "A computer program does what you tell it to do, not what you want it to do.",
        ),
        (
            6,
            "Emacs is a nice operating system, but I prefer UNIX. \u{2014} Tom Christaensen",
        ),
        (7, "Any program that runs right is obsolete."),
        (
            8,
            "A list is only as strong as its weakest link. \u{2014} Donald Knuth",
        ),
        (9, "Feature: A bug with seniority."),
        (10, "Computers make very fast, very accurate mistakes."),
        (
            11,
            "<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
        ),
        (12, "フレームワークのベンチマーク"),
        (0, "Additional fortune added at request time."),
    ];
    rows.sort_by(|a, b| a.1.cmp(b.1));
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#x27;")
    };
    let mut page = String::from(
        "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>",
    );
    for (id, message) in rows {
        page += &format!("<tr><td>{id}</td><td>{}</td></tr>", escape(message));
    }
    page += "</table></body></html>\n";
    // What the escaping must have produced (so the helper above cannot hide a mistake).
    assert!(page.contains("<tr><td>11</td><td>&lt;script&gt;alert(&quot;This should not be displayed in a browser alert box.&quot;);&lt;/script&gt;</td></tr><tr><td>4</td>"));
    assert!(page.contains("aren&#x27;t broken."));
    assert!(page.ends_with(
        "<tr><td>12</td><td>フレームワークのベンチマーク</td></tr></table></body></html>\n"
    ));
    page
}

#[test]
fn echo_lines() {
    let server = ExampleServer::start("echo");
    let mut c = WireClient::connect(server.addr());
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
