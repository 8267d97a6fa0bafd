//! `Context::set_header` / `add_header` with borrowed text, from outside: a `&str` borrowed
//! from a local `String`, from a request argument, from a path argument and from a helper's
//! `&str` parameter, `&String` and `Cow<str>` all reach the wire as set, in order, and
//! borrowed text holding CR, LF or NUL is refused like any other (a 500, nothing injected,
//! the server carries on). `tests/alloc_app.rs` pins that borrowed values cost no allocation.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use squall::prelude::*;
use squall::testing::{TestClient, TestServer};

/// A helper taking plain `&str`s of a lifetime shorter than the request, as user code does.
fn tag(cx: &mut Context, name: &str, value: &str) -> Result<()> {
    cx.add_header(name, value)
}

#[derive(Clone, Default)]
struct Borrowed;

#[handler]
impl Borrowed {
    fn get(&mut self, cx: &mut Context, word: String) -> Result<()> {
        let local = format!("id-{}", word.len());
        cx.set_header("X-Local", local.as_str())?; // &str borrowed from a local String
        cx.set_header("X-Local-Ref", &local)?; // &String
        let arg = cx.argument("v")?;
        cx.set_header("X-Arg", arg.as_str())?; // &str borrowed from a request argument
        cx.set_header("X-Path", &word)?; // a path argument
        let cow: Cow<'_, str> = Cow::Borrowed(&arg[..1]);
        cx.set_header("X-Cow", cow)?;
        // A name that is not 'static either, and a header set twice: the last value wins.
        let name = format!("X-{}", "Dynamic");
        cx.set_header(&name, "first")?;
        cx.set_header(name.as_str(), &local)?;
        tag(cx, "X-Tag", &arg)?;
        tag(cx, "x-tag", &word)?;
        drop((local, arg, name)); // the response keeps its own copy
        cx.write("ok");
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Echo;

#[handler]
impl Echo {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        // The raw value: `argument` makes a NUL a space (as Tornado's `get_argument`), and
        // every byte sent must reach `set_header` here.
        let value = cx
            .all_arguments()?
            .into_iter()
            .find(|(name, _)| name == "v")
            .and_then(|(_, mut values)| values.pop())
            .ok_or_else(|| HttpError::new(400))?;
        cx.set_header("X-Echo", value.as_str())?;
        let name = cx
            .argument_opt("name")?
            .unwrap_or_else(|| "X-Name".to_owned());
        cx.add_header(name.as_str(), "1")?;
        cx.write("echoed");
        Ok(())
    }
}

fn app() -> Application {
    Application::new(routes![(r"/borrowed/([a-z]+)", Borrowed), (r"/echo", Echo)])
}

/// Sends `request` on a fresh connection and reads the response head (up to the blank line).
fn head_of(server: &TestServer, request: &str) -> String {
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the end of the head: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    String::from_utf8(got[..end + 2].to_vec()).unwrap()
}

#[test]
fn borrowed_header_text_reaches_the_wire_in_order() {
    let server = TestServer::start(app);
    let head = head_of(
        &server,
        "GET /borrowed/hello?v=caf%C3%A9%20au%20lait HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    // The handler's headers, exactly and in the order set (set_header replaced in place).
    let own: Vec<&str> = head
        .lines()
        .filter(|l| l.starts_with("X-") || l.starts_with("x-"))
        .collect();
    assert_eq!(
        own,
        [
            "X-Local: id-5",
            "X-Local-Ref: id-5",
            "X-Arg: café au lait",
            "X-Path: hello",
            "X-Cow: c",
            "X-Dynamic: id-5",
            "X-Tag: café au lait",
            "x-tag: hello",
        ],
        "{head}"
    );
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    // Many requests on one connection: each response has its own values, none of an earlier
    // request's text (the buffer they are copied into is reused).
    let mut c = TestClient::new(&server);
    for word in ["a", "bb", "ccc", "a"] {
        let r = c.get(&format!("/borrowed/{word}?v={word}{word}"));
        assert_eq!(r.status(), 200);
        assert_eq!(r.header("X-Path"), Some(word));
        assert_eq!(r.header("X-Arg"), Some(format!("{word}{word}").as_str()));
        assert_eq!(
            r.header("X-Dynamic"),
            Some(format!("id-{}", word.len()).as_str())
        );
        assert_eq!(
            r.header_all("X-Tag"),
            [format!("{word}{word}").as_str(), word]
        );
    }
}

#[test]
fn borrowed_text_with_control_characters_is_refused() {
    let server = TestServer::start(app);
    for (query, what) in [
        ("v=a%0D%0ASet-Cookie:%20evil=1", "CR LF in a value"),
        ("v=a%0AInjected:%20yes", "LF in a value"),
        ("v=a%00b", "NUL in a value"),
        ("v=fine&name=X-A%0D%0AInjected", "CR LF in a name"),
        ("v=fine&name=Bad%20Name", "a space in a name"),
        ("v=fine&name=X-%C3%9Cber", "a non-ASCII name"),
        ("v=fine&name=X-A(b)", "a separator in a name"),
        ("v=a%07b", "a BEL in a value"),
        ("v=a%7F", "DEL in a value"),
    ] {
        let head = head_of(
            &server,
            &format!("GET /echo?{query} HTTP/1.1\r\nHost: t\r\n\r\n"),
        );
        assert!(head.starts_with("HTTP/1.1 500 "), "{what}: {head}");
        for injected in ["Set-Cookie", "Injected", "X-Echo", "X-A", "X-\u{dc}"] {
            assert!(
                !head.lines().any(|l| l.starts_with(injected)),
                "{what}: {injected} in {head}"
            );
        }
        // The server carries on: a fresh connection is served.
        let r = TestClient::new(&server).get("/echo?v=after");
        assert_eq!(r.status(), 200, "{what}");
        assert_eq!(r.header("X-Echo"), Some("after"));
        assert_eq!(r.text(), "echoed");
    }
}
