//! Black-box checks of the showcase example (`examples/showcase.rs`) against every row of its
//! contract (`showcase-contract.md`): the real binary runs as a child process on a free port,
//! and everything is checked over sockets: statuses, headers, exact bodies and framing.
//!
//! Each test starts its own server (they run in parallel); the slow checks (timeouts) run their
//! cases in parallel threads so the whole file takes a few seconds over the 5 s timeout.

use std::io::{ErrorKind, Read, Write};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use squall::testing::{Framing, TestClient, TestResponse, WireClient};
use squall_tests::showcase_support::{assert_fresh_connection_serves, hidden, showcase, HTML};
use squall_tests::{roundtrip, send_while_reading, ExampleServer, ScratchDir};

fn body_of(r: &TestResponse) -> (u16, String) {
    (r.status(), r.text())
}

// ---- simple routes ---------------------------------------------------------------------------

#[test]
fn hello_plaintext_json_user_reverse_redirect() {
    let server = showcase();
    let mut c = TestClient::connect_to(server.addr());

    let r = c.get("/");
    assert_eq!(body_of(&r), (200, "Hello, world".into()));
    assert_eq!(r.header("Content-Type"), Some(HTML));
    assert_eq!(r.header("Content-Length"), Some("12"));
    assert!(r.header("Date").is_some());

    let r = c.request("HEAD", "/").send();
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("Content-Length"), Some("12"));
    assert!(r.body().is_empty());

    let r = c.get("/plaintext");
    assert_eq!(body_of(&r), (200, "Hello, World!".into()));
    assert_eq!(r.header("Content-Type"), Some("text/plain"));

    let r = c.get("/json");
    assert_eq!(body_of(&r), (200, r#"{"message":"Hello, World!"}"#.into()));
    assert_eq!(r.header("Content-Type"), Some("application/json"));

    let r = c.get("/user/42");
    assert_eq!(body_of(&r), (200, r#"{"id":42}"#.into()));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(c.get("/user/0").text(), r#"{"id":0}"#);
    assert_eq!(c.get("/user/abc").status(), 404);
    assert_eq!(c.get("/user/").status(), 404);
    // Matches the pattern but does not fit a u64: a 404 too, never a panic.
    assert_eq!(c.get("/user/99999999999999999999999").status(), 404);

    let r = c.get("/reverse");
    assert_eq!(body_of(&r), (200, "/user/42".into()));

    let r = c.get("/redirect");
    assert_eq!(r.status(), 302);
    assert_eq!(r.header("Location"), Some("/"));

    assert_eq!(c.get("/no/such/page").status(), 404);
    assert_fresh_connection_serves(server.addr());
}

#[test]
fn delete_on_root_is_405_with_allow() {
    let server = showcase();
    let mut c = TestClient::connect_to(server.addr());
    for method in ["DELETE", "POST", "PUT", "PATCH"] {
        let r = c.request(method, "/").send();
        assert_eq!(r.status(), 405, "{method} /");
        let allow = r
            .header("Allow")
            .unwrap_or_else(|| panic!("{method} /: no Allow header"));
        let mut methods: Vec<&str> = allow.split(',').map(str::trim).collect();
        methods.sort_unstable();
        // The handler defines `get`; HEAD and OPTIONS come with it.
        assert_eq!(
            methods,
            ["GET", "HEAD", "OPTIONS"],
            "{method} /: Allow: {allow}"
        );
    }
    assert_eq!(c.get("/").status(), 200, "same connection after a 405");
}

#[test]
fn error_is_500_and_the_server_carries_on() {
    let server = showcase();
    let mut c = TestClient::connect_to(server.addr());
    for _ in 0..3 {
        let r = c.get("/error");
        assert_eq!(r.status(), 500);
        assert_eq!(r.header("Content-Type"), Some(HTML));
        assert!(
            !r.text().contains("on purpose"),
            "the panic message leaked to the client: {}",
            r.text()
        );
        // Same connection, then a fresh one.
        assert_eq!(body_of(&c.get("/")), (200, "Hello, world".into()));
    }
    assert_fresh_connection_serves(server.addr());
    let log = server.log_text();
    assert!(log.contains("500 GET /error"), "access log: {log}");
}

// ---- bodies and arguments --------------------------------------------------------------------

#[test]
fn echo_returns_body_and_content_type_without_xsrf() {
    let server = showcase();
    // No cookie, no token: /echo is exempt.
    let mut c = TestClient::connect_to(server.addr());
    let body: Vec<u8> = b"\x00binary\r\n\r\nbody\xff".to_vec();
    let r = c
        .request("POST", "/echo")
        .header("Content-Type", "application/x-custom; v=1")
        .body(body.clone())
        .send();
    assert_eq!(r.status(), 200);
    assert_eq!(r.body(), &body[..]);
    assert_eq!(r.header("Content-Type"), Some("application/x-custom; v=1"));

    let r = c
        .request("PUT", "/echo")
        .header("Content-Type", "text/plain")
        .body("put body")
        .send();
    assert_eq!(body_of(&r), (200, "put body".into()));
    assert_eq!(r.header("Content-Type"), Some("text/plain"));

    // No Content-Type in: octet-stream out (not the default text/html); an empty body
    // echoes as empty.
    let r = c.request("POST", "/echo").body("abc").send();
    assert_eq!(body_of(&r), (200, "abc".into()));
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
    let r = c.post("/echo", "");
    assert_eq!(body_of(&r), (200, String::new()));
    assert_eq!(r.header("Content-Length"), Some("0"));

    assert_eq!(c.get("/echo").status(), 405);
}

#[test]
fn args_from_query_urlencoded_and_multipart() {
    let server = showcase();
    let mut c = TestClient::connect_to(server.addr());

    let r = c.get("/args?a=1&a=2&b=x");
    assert_eq!(body_of(&r), (200, r#"{"a":["1","2"],"b":["x"]}"#.into()));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(c.get("/args").text(), "{}");
    assert_eq!(
        c.get("/args?e=%E2%82%AC&p=a+b&empty=").json(),
        serde_json::json!({"e": ["€"], "p": ["a b"], "empty": [""]})
    );

    // POST without any XSRF token: exempt.
    let r = c
        .request("POST", "/args?q=1&a=0")
        .form(&[("a", "x"), ("a", " y "), ("n", "é")])
        .send();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json(),
        serde_json::json!({"q": ["1"], "a": ["0", "x", " y "], "n": ["é"]})
    );
    // Query first, in order of first appearance.
    assert_eq!(r.text(), r#"{"q":["1"],"a":["0","x"," y "],"n":["é"]}"#);

    let r = c
        .request("POST", "/args?q=2")
        .multipart(
            &[("title", "Hello"), ("tag", "a"), ("tag", "b")],
            &[("upload", "f.bin", b"\x00\x01file bytes")],
        )
        .send();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json(),
        serde_json::json!({"q": ["2"], "title": ["Hello"], "tag": ["a", "b"]}),
        "files are not arguments"
    );

    // A malformed body is a 400, and the server carries on.
    let r = c
        .request("POST", "/args")
        .header("Content-Type", "multipart/form-data; boundary=zz")
        .body("--zz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end")
        .send();
    assert_eq!(r.status(), 400);
    assert_fresh_connection_serves(server.addr());
}

// ---- XSRF --------------------------------------------------------------------------------------

#[test]
fn form_xsrf_flow() {
    let server = showcase();
    let mut c = TestClient::connect_to(server.addr());
    let r = c.get("/form");
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("Content-Type"), Some(HTML));
    let set_cookie = r
        .header_all("Set-Cookie")
        .into_iter()
        .find(|v| v.starts_with("_xsrf="))
        .expect("GET /form sets the _xsrf cookie")
        .to_owned();
    assert!(set_cookie.contains("Path=/"), "{set_cookie}");
    let page = r.text();
    assert!(
        page.contains("<form") && page.contains(r#"method="post""#),
        "{page}"
    );
    assert!(page.contains(r#"name="name""#), "{page}");
    let token = hidden(&page, "_xsrf");
    assert!(token.starts_with("2|"), "a version-2 token: {token}");
    // A second visit keeps the cookie (no new Set-Cookie) and masks the token afresh.
    let again = c.get("/form");
    assert!(again
        .header_all("Set-Cookie")
        .iter()
        .all(|v| !v.starts_with("_xsrf=")));
    assert_ne!(
        hidden(&again.text(), "_xsrf"),
        token,
        "tokens are masked per render"
    );

    // Field `_xsrf` from the page, with the cookie: accepted; the name is HTML-escaped.
    let r = c
        .request("POST", "/form")
        .form(&[("_xsrf", &token), ("name", r#"<b>Tom & "Jerry's"</b>"#)])
        .send();
    assert_eq!(
        body_of(&r),
        (
            200,
            "Hello, &lt;b&gt;Tom &amp; &quot;Jerry&#x27;s&quot;&lt;/b&gt;".into()
        )
    );
    assert_eq!(r.header("Content-Type"), Some(HTML));
    let r = c
        .request("POST", "/form")
        .form(&[("_xsrf", &token), ("name", "world")])
        .send();
    assert_eq!(body_of(&r), (200, "Hello, world".into()));

    // No token: 403. A malformed token: 403.
    let r = c.request("POST", "/form").form(&[("name", "x")]).send();
    assert_eq!(r.status(), 403);
    let r = c
        .request("POST", "/form")
        .form(&[("_xsrf", "nonsense"), ("name", "x")])
        .send();
    assert_eq!(r.status(), 403);
    // A well-formed token of another session: 403.
    let mut other = TestClient::connect_to(server.addr());
    let foreign = hidden(&other.get("/form").text(), "_xsrf");
    let r = c
        .request("POST", "/form")
        .form(&[("_xsrf", &foreign), ("name", "x")])
        .send();
    assert_eq!(r.status(), 403);
    // The right token but no cookie: 403.
    c.remove_cookie("_xsrf");
    let r = c
        .request("POST", "/form")
        .form(&[("_xsrf", &token), ("name", "x")])
        .send();
    assert_eq!(r.status(), 403);
    assert_fresh_connection_serves(server.addr());
}

#[test]
fn api_items_takes_the_token_from_either_header() {
    let server = showcase();
    let mut c = TestClient::connect_to(server.addr());
    let cookie = c.fetch_xsrf("/form");
    let item = r#"{"name":"widget","tags":["a","b"],"n":3}"#;
    for header in ["X-XSRFToken", "X-CSRFToken"] {
        let r = c
            .request("POST", "/api/items")
            .header(header, &cookie)
            .header("Content-Type", "application/json")
            .body(item)
            .send();
        assert_eq!(r.status(), 201, "token in {header}: {}", r.text());
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(
            r.json(),
            serde_json::from_str::<serde_json::Value>(item).unwrap()
        );
    }
    // The masked token from a page works as well as the cookie's value.
    let page_token = hidden(&c.get("/form").text(), "_xsrf");
    let r = c
        .request("POST", "/api/items")
        .header("X-XSRFToken", &page_token)
        .body("[1,2]")
        .send();
    assert_eq!(body_of(&r), (201, "[1,2]".into()));

    // No header, a bad one, another session's: 403.
    let r = c.request("POST", "/api/items").body(item).send();
    assert_eq!(r.status(), 403);
    let r = c
        .request("POST", "/api/items")
        .header("X-XSRFToken", "2|00|00|0")
        .body(item)
        .send();
    assert_eq!(r.status(), 403);
    let foreign = TestClient::connect_to(server.addr()).fetch_xsrf("/form");
    let r = c
        .request("POST", "/api/items")
        .header("X-CSRFToken", &foreign)
        .body(item)
        .send();
    assert_eq!(r.status(), 403);
    // A valid token but a body that is not JSON: 400.
    let r = c
        .request("POST", "/api/items")
        .header("X-XSRFToken", &cookie)
        .body("{not json")
        .send();
    assert_eq!(r.status(), 400);
    assert_eq!(c.get("/api/items").status(), 405);
    assert_fresh_connection_serves(server.addr());
}

// ---- ETag, streaming, redirects --------------------------------------------------------------

#[test]
fn etag_and_304() {
    let server = showcase();
    let mut c = TestClient::connect_to(server.addr());
    let r = c.get("/etag");
    assert_eq!(body_of(&r), (200, "etag body\n".into()));
    let etag = r.header("Etag").expect("an ETag").to_owned();
    assert_eq!(etag, format!("\"{:x}\"", md5::compute(b"etag body\n")));

    let r = c
        .request("GET", "/etag")
        .header("If-None-Match", &etag)
        .send();
    assert_eq!(r.status(), 304);
    assert!(r.body().is_empty());
    assert_eq!(r.header("Etag"), Some(etag.as_str()));
    for inm in [
        format!("W/{etag}"),
        format!("\"nope\", {etag}"),
        "*".to_owned(),
    ] {
        let r = c
            .request("GET", "/etag")
            .header("If-None-Match", &inm)
            .send();
        assert_eq!(r.status(), 304, "If-None-Match: {inm}");
    }
    let r = c
        .request("GET", "/etag")
        .header("If-None-Match", "\"something-else\"")
        .send();
    assert_eq!(body_of(&r), (200, "etag body\n".into()));

    // On the wire a 304 carries no body bytes at all: the connection closes right after.
    let (mut conn, r) = roundtrip(
        server.addr(),
        format!(
            "GET /etag HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 304);
    conn.assert_closed();
}

#[test]
fn stream_sends_five_chunks() {
    let server = showcase();
    let (_, r) = roundtrip(
        server.addr(),
        b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.framing, Framing::Chunked);
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(r.header("Content-Length"), None);
    // The exact bytes after the head: five chunks, then the last-chunk.
    let expected: String = (0..5)
        .map(|i| format!("8\r\nchunk {i}\n\r\n"))
        .chain(["0\r\n\r\n".to_owned()])
        .collect();
    let raw = String::from_utf8_lossy(&r.raw);
    let (_, wire_body) = raw.split_once("\r\n\r\n").expect("a head");
    assert_eq!(wire_body, expected);

    // HTTP/1.0 has no chunks: the body runs until the server closes.
    let (_, r) = roundtrip(server.addr(), b"GET /stream HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.framing, Framing::Close);
    assert_eq!(r.header("Transfer-Encoding"), None);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n"
    );

    // Keep-alive: the chunked response ends and the connection serves the next request.
    let mut c = TestClient::connect_to(server.addr());
    assert_eq!(
        c.get("/stream").text(),
        "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n"
    );
    assert_eq!(c.get("/").text(), "Hello, world");
}

// ---- concurrency -----------------------------------------------------------------------------

#[test]
fn slow_waits_on_the_timer_and_cpu_runs_in_the_executor() {
    let server = showcase();
    let addr = server.addr();

    // /slow requests sent together all finish after ~200 ms. Were the wait blocking the loop
    // they would finish one after the other: the second after 400 ms, the third after 600.
    // Three (rather than two) leave a wide margin for a loaded machine on either side.
    const N: usize = 3;
    let barrier = Arc::new(Barrier::new(N));
    let slow: Vec<_> = (0..N)
        .map(|_| {
            let b = barrier.clone();
            thread::spawn(move || {
                let mut c = TestClient::connect_to(addr);
                assert_eq!(c.get("/").status(), 200); // connected before the clock starts
                b.wait();
                let start = Instant::now();
                let r = c.get("/slow");
                (body_of(&r), start.elapsed())
            })
        })
        .collect();
    let mut longest = Duration::ZERO;
    for h in slow {
        let (res, took) = h.join().unwrap();
        assert_eq!(res, (200, "done".into()));
        assert!(took >= Duration::from_millis(195), "/slow took {took:?}");
        longest = longest.max(took);
    }
    assert!(
        longest < Duration::from_millis(500),
        "{N} parallel /slow: the last took {longest:?}, they ran one after the other"
    );

    // While a /cpu job runs (50 ms), the loop answers / at once: / (sent 5 ms after /cpu)
    // completes well before /cpu does. Were the job run on the loop, / would wait for it and
    // both would complete together. Both clients are connected beforehand; / must win by
    // 20 ms in most trials (a loaded machine may delay one).
    let mut won = 0;
    for _ in 0..3 {
        let mut cpu_client = TestClient::connect_to(addr);
        let mut root_client = TestClient::connect_to(addr);
        assert_eq!(cpu_client.get("/").status(), 200);
        assert_eq!(root_client.get("/").status(), 200);
        let cpu = thread::spawn(move || {
            let start = Instant::now();
            let r = cpu_client.get("/cpu");
            (body_of(&r), start.elapsed(), Instant::now())
        });
        thread::sleep(Duration::from_millis(5));
        let r = root_client.get("/");
        let root_done = Instant::now();
        assert_eq!(r.status(), 200);
        let (res, took, cpu_done) = cpu.join().unwrap();
        assert_eq!(res, (200, "done".into()));
        assert!(took >= Duration::from_millis(50), "/cpu took {took:?}");
        if root_done + Duration::from_millis(20) < cpu_done {
            won += 1;
        }
    }
    assert!(
        won >= 2,
        "/ was held up by /cpu in {} of 3 trials: the job blocks the loop",
        3 - won
    );

    // Several jobs at once all complete.
    let jobs: Vec<_> = (0..4)
        .map(|_| thread::spawn(move || body_of(&TestClient::connect_to(addr).get("/cpu"))))
        .collect();
    for j in jobs {
        assert_eq!(j.join().unwrap(), (200, "done".into()));
    }
}

// ---- signed cookies --------------------------------------------------------------------------

#[test]
fn signed_cookie_set_get_and_tampering() {
    let server = showcase();
    let mut c = TestClient::connect_to(server.addr());
    assert_eq!(c.get("/cookie/get").status(), 403, "no cookie yet");

    let r = c.get("/cookie/set?v=alice");
    assert_eq!(r.status(), 200);
    let set = r.header("Set-Cookie").expect("Set-Cookie").to_owned();
    assert!(set.starts_with("user="), "{set}");
    assert!(set.contains("HttpOnly"), "{set}");
    let signed = c.cookie("user").expect("cookie in the jar").to_owned();
    assert!(!signed.contains("alice"), "the value is encoded: {signed}");
    assert_eq!(body_of(&c.get("/cookie/get")), (200, "alice".into()));

    // Tampered signature, tampered value, a plain unsigned value: all 403.
    let mut bad_sig = signed.clone();
    let last = bad_sig.pop().unwrap();
    bad_sig.push(if last == '0' { '1' } else { '0' });
    // "bWFsbG9yeQ==" is base64("mallory"), spliced in place of the signed "YWxpY2U=".
    let bad_value = signed.replace("8:YWxpY2U=", "12:bWFsbG9yeQ==");
    assert_ne!(bad_value, signed, "cookie format changed: {signed}");
    for forged in [bad_sig.as_str(), bad_value.as_str(), "alice", "2|1:0|"] {
        c.set_cookie("user", forged);
        let r = c.get("/cookie/get");
        assert_eq!(r.status(), 403, "forged cookie {forged:?} accepted");
        assert!(!r.text().contains("mallory"));
    }

    // The cookie is stateless: another instance with the same secret accepts it, one with a
    // different SHOWCASE_SECRET does not.
    let twin = showcase();
    let mut t = TestClient::connect_to(twin.addr());
    t.set_cookie("user", &signed);
    assert_eq!(body_of(&t.get("/cookie/get")), (200, "alice".into()));
    let other = ExampleServer::builder("showcase")
        .env("SHOWCASE_SECRET", "another-secret")
        .start();
    let mut o = TestClient::connect_to(other.addr());
    o.set_cookie("user", &signed);
    assert_eq!(o.get("/cookie/get").status(), 403);
    // ... and its own cookies work there.
    assert_eq!(o.get("/cookie/set?v=bob").status(), 200);
    assert_eq!(o.get("/cookie/get").text(), "bob");

    // Missing `v` is a 400.
    assert_eq!(c.get("/cookie/set").status(), 400);
    assert_fresh_connection_serves(server.addr());
}

// ---- static files ----------------------------------------------------------------------------

const BIG_LEN: usize = 1 << 20;

#[test]
fn static_files_from_the_default_folder() {
    // The folder committed with the example (examples/static/), found from the binary.
    let server = showcase();
    let mut c = TestClient::connect_to(server.addr());
    let r = c.get("/static/hello.txt");
    assert_eq!(body_of(&r), (200, "hello static\n".into()));
    let r = c.request("HEAD", "/static/big.bin").send();
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("Content-Length"), Some("1048576"));
}

#[test]
fn static_files_validators_ranges_and_traversal() {
    // A private folder (`--static`), so that big.bin is generated here, by this server, and
    // a file just outside the root shows that traversal never reaches it.
    let scratch = ScratchDir::new("showcase-static");
    let root = scratch.path().join("static");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("hello.txt"), "hello static\n").unwrap();
    std::fs::write(scratch.path().join("secret.txt"), "TOP SECRET\n").unwrap();
    let server = ExampleServer::builder("showcase")
        .arg("--static")
        .arg(root.display().to_string())
        .start();
    let addr = server.addr();
    let mut c = TestClient::connect_to(addr);

    // big.bin: generated at start-up, 1 MiB of 0..=255 repeated.
    let expected: Vec<u8> = (0..BIG_LEN).map(|i| i as u8).collect();
    assert_eq!(std::fs::read(root.join("big.bin")).unwrap(), expected);
    let r = c.get("/static/big.bin");
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("Content-Length"), Some("1048576"));
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
    assert!(r.body() == &expected[..], "big.bin body differs");

    // hello.txt with its validators; HEAD has the same headers and no body.
    let r = c.get("/static/hello.txt");
    assert_eq!(body_of(&r), (200, "hello static\n".into()));
    assert!(
        r.header("Content-Type").unwrap().starts_with("text/plain"),
        "{r:?}"
    );
    assert_eq!(r.header("Content-Length"), Some("13"));
    let etag = r.header("Etag").expect("ETag").to_owned();
    let last_modified = r.header("Last-Modified").expect("Last-Modified").to_owned();
    let h = c.request("HEAD", "/static/hello.txt").send();
    assert_eq!(h.status(), 200);
    assert!(h.body().is_empty());
    assert_eq!(h.header("Content-Length"), Some("13"));
    assert_eq!(h.header("Etag"), Some(etag.as_str()));
    assert_eq!(h.header("Last-Modified"), Some(last_modified.as_str()));

    // Conditional requests.
    let r = c
        .request("GET", "/static/hello.txt")
        .header("If-None-Match", &etag)
        .send();
    assert_eq!(r.status(), 304);
    assert!(r.body().is_empty());
    assert_eq!(r.header("Etag"), Some(etag.as_str()));
    let r = c
        .request("GET", "/static/hello.txt")
        .header("If-Modified-Since", &last_modified)
        .send();
    assert_eq!(r.status(), 304);
    let r = c
        .request("GET", "/static/hello.txt")
        .header("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")
        .send();
    assert_eq!(body_of(&r), (200, "hello static\n".into()));
    let r = c
        .request("GET", "/static/hello.txt")
        .header("If-None-Match", "\"other\"")
        .send();
    assert_eq!(r.status(), 200);
    let (mut conn, r) = roundtrip(
        addr,
        format!(
            "GET /static/hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\
             Connection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 304);
    conn.assert_closed(); // no body bytes after the head

    // Byte ranges.
    for (range, first, last) in [
        ("bytes=0-3", 0, 3),
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=-4", BIG_LEN - 4, BIG_LEN - 1),
        ("bytes=1048570-", BIG_LEN - 6, BIG_LEN - 1),
        ("bytes=1048570-99999999", BIG_LEN - 6, BIG_LEN - 1),
    ] {
        let r = c
            .request("GET", "/static/big.bin")
            .header("Range", range)
            .send();
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            r.header("Content-Range"),
            Some(format!("bytes {first}-{last}/{BIG_LEN}").as_str()),
            "{range}"
        );
        assert_eq!(r.body(), &expected[first..=last], "{range}");
    }
    let r = c
        .request("GET", "/static/big.bin")
        .header("Range", "bytes=2000000-")
        .send();
    assert_eq!(r.status(), 416);
    assert_eq!(r.header("Content-Range"), Some("bytes */1048576"));
    assert!(r.body().is_empty());

    // Traversal: refused (403 or 404), never a byte of a file outside the root.
    for path in [
        "/static/../Cargo.toml",
        "/static/../secret.txt",
        "/static/../../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E/secret.txt",
        "/static/%2e%2e%2fsecret.txt",
        "/static/..%2fsecret.txt",
        "/static/.%2e/secret.txt",
        "/static/sub/../../secret.txt",
        "/static/hello.txt/../../secret.txt",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/%2e%2e/%2e%2e/Cargo.toml",
        "/static/..\\secret.txt",
    ] {
        let (_, r) = roundtrip(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert!(matches!(r.status, 400 | 403 | 404), "{path}: {r:?}");
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains("TOP SECRET") && !body.contains("[package]") && !body.contains("root:"),
            "{path} leaked a file: {body}"
        );
    }
    assert_eq!(c.get("/static/missing.txt").status(), 404);
    assert_fresh_connection_serves(addr);
}

// ---- limits and timeouts ---------------------------------------------------------------------

const MIB: usize = 1 << 20;

#[test]
fn body_and_header_limits() {
    let server = showcase();
    let addr = server.addr();

    // Exactly 1 MiB is accepted.
    let body: Vec<u8> = (0..MIB).map(|i| (i % 251) as u8).collect();
    let r = TestClient::connect_to(addr)
        .request("POST", "/echo")
        .body(body.clone())
        .send();
    assert_eq!(r.status(), 200);
    assert!(r.body() == &body[..], "1 MiB echo differs");

    // One byte more, announced by Content-Length: 413 from the head alone.
    let (mut conn, r) = roundtrip(
        addr,
        format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            MIB + 1
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 413);
    conn.assert_closed();
    assert_fresh_connection_serves(addr);

    // Chunked, with no length announced: 413 once the decoded body passes 1 MiB.
    let mut chunked = Vec::new();
    for _ in 0..20 {
        chunked.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
        chunked.extend_from_slice(&[b'x'; 64 * 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let r = send_while_reading(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
        &chunked,
    );
    assert_eq!(r.status, 413);
    assert_fresh_connection_serves(addr);

    // A head of 64 KiB and more: 431.
    let mut big_header = b"X-Big: ".to_vec();
    big_header.extend(std::iter::repeat_n(b'a', 65 * 1024));
    big_header.extend_from_slice(b"\r\n\r\n");
    let r = send_while_reading(addr, b"GET / HTTP/1.1\r\nHost: t\r\n", &big_header);
    assert_eq!(r.status, 431);
    // A head just under the limit is fine.
    let mut ok_header = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Big: ".to_vec();
    ok_header.extend(std::iter::repeat_n(b'a', 60 * 1024));
    ok_header.extend_from_slice(b"\r\n\r\n");
    let (_, r) = roundtrip(addr, &ok_header);
    assert_eq!(r.status, 200);
    assert_fresh_connection_serves(addr);
}

#[test]
fn idle_and_header_timeouts_close_connections() {
    let server = showcase();
    let addr = server.addr();
    let limit = Duration::from_secs(8);
    let window = Duration::from_millis(4500)..limit;

    // Idle after a response on a keep-alive connection.
    let idle_after_request = thread::spawn(move || {
        let (mut c, r) = roundtrip(addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(r.body, b"Hello, world");
        c.assert_closed_within(limit)
    });
    // Idle from the start: connected, nothing sent.
    let idle_fresh = thread::spawn(move || WireClient::connect(addr).assert_closed_within(limit));
    // A head that keeps trickling in (a header line every 400 ms) never completes: closed
    // 5 s after its first byte although the connection is never idle for long (slowloris).
    let slow_head = thread::spawn(move || {
        let mut s = WireClient::connect(addr).stream;
        s.set_read_timeout(Some(Duration::from_millis(400)))
            .unwrap();
        let t0 = Instant::now();
        s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
        let mut buf = [0u8; 1024];
        for i in 0.. {
            match s.read(&mut buf) {
                Ok(0) => return t0.elapsed(),
                Ok(n) => panic!(
                    "answered an incomplete head: {:?}",
                    String::from_utf8_lossy(&buf[..n])
                ),
                Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset) => return t0.elapsed(),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("read: {e}"),
            }
            assert!(t0.elapsed() < limit, "slow head still open after {limit:?}");
            if s.write_all(format!("X-Slow-{i}: x\r\n").as_bytes())
                .is_err()
            {
                return t0.elapsed();
            }
        }
        unreachable!()
    });
    for (what, h) in [
        ("idle after a request", idle_after_request),
        ("idle from the start", idle_fresh),
        ("trickling head", slow_head),
    ] {
        let took = h.join().unwrap();
        assert!(
            window.contains(&took),
            "{what}: closed after {took:?}, expected about 5 s"
        );
    }
    assert_fresh_connection_serves(addr);
}
