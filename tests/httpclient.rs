//! `squall::httpclient` against Squall's own server over real sockets: keep-alive reuse
//! (connections counted by the client port the server sees), the per-host bound, chunked and
//! streamed bodies, request bodies, HEAD and 304, redirects and their method rules, the loop
//! bound, credentials across origins, size limits, idle expiry, and host name resolution.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use squall::http1::Method;
use squall::httpclient::{fetch, ErrorKind, HttpClient, HttpClientOptions, HttpRequest};
use squall::prelude::*;
use squall::testing::TestServer;
use squall_tests::{run_sync, MethodEcho};

/// A request with a timeout that ends any test that would hang.
fn req(url: String) -> HttpRequest {
    HttpRequest::new(url).request_timeout(Duration::from_secs(10))
}

/// The client's port as the server saw it: one value per connection.
#[derive(Clone, Default)]
struct Port;

#[handler]
impl Port {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.write(cx.request().remote_addr().port().to_string());
        Ok(())
    }
    fn head(&mut self, cx: &mut Context) -> Result<()> {
        cx.set_header("X-Port", cx.request().remote_addr().port().to_string())?;
        cx.write("0123456789");
        Ok(())
    }
}

/// The port after a delay (to hold a connection while others wait).
#[derive(Clone, Default)]
struct SlowPort;

#[handler]
impl SlowPort {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        squall::task::sleep(Duration::from_millis(50)).await;
        cx.write(cx.request().remote_addr().port().to_string());
        Ok(())
    }
}

/// The request's fields, one "name: value" line each.
#[derive(Clone, Default)]
struct Headers;

#[handler]
impl Headers {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let lines: Vec<String> = cx
            .request()
            .headers()
            .map(|(n, v)| format!("{}: {v}", n.to_ascii_lowercase()))
            .collect();
        cx.write(lines.join("\n"));
        Ok(())
    }
}

/// Redirects with the status in the path to the `to` argument.
#[derive(Clone, Default)]
struct Redirect;

#[handler]
impl Redirect {
    fn get(&mut self, cx: &mut Context, status: u16) -> Result<()> {
        self.go(cx, status)
    }
    fn post(&mut self, cx: &mut Context, status: u16) -> Result<()> {
        self.go(cx, status)
    }
    fn put(&mut self, cx: &mut Context, status: u16) -> Result<()> {
        self.go(cx, status)
    }
    fn head(&mut self, cx: &mut Context, status: u16) -> Result<()> {
        self.go(cx, status)
    }
}

impl Redirect {
    fn go(&mut self, cx: &mut Context, status: u16) -> Result<()> {
        let to = cx.query_argument("to")?;
        cx.set_header("Location", to)?;
        cx.set_status(status);
        cx.write("redirect body, not followed by the client");
        cx.finish()
    }
}

/// Redirects to itself forever.
#[derive(Clone, Default)]
struct Loop;

#[handler]
impl Loop {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.redirect("/loop")
    }
}

/// Three flushed pieces: a chunked response.
#[derive(Clone, Default)]
struct Chunks;

#[handler]
impl Chunks {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        for piece in ["first,", "second,", "third"] {
            cx.write(piece);
            cx.flush_and_wait().await?;
        }
        Ok(())
    }
}

/// `n` bytes of a repeating pattern.
#[derive(Clone, Default)]
struct Big;

#[handler]
impl Big {
    fn get(&mut self, cx: &mut Context, n: usize) -> Result<()> {
        cx.write(pattern(n));
        Ok(())
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

#[derive(Clone, Default)]
struct Hello;

#[handler]
impl Hello {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("Hello, client");
        Ok(())
    }
}

fn app() -> Application {
    Application::new(routes![
        (r"/hello", Hello),
        (r"/port", Port),
        (r"/slow", SlowPort),
        (r"/echo", MethodEcho),
        (r"/headers", Headers),
        (r"/redirect/(\d+)", Redirect),
        (r"/loop", Loop),
        (r"/chunks", Chunks),
        (r"/big/(\d+)", Big),
    ])
}

fn server() -> TestServer {
    TestServer::start(app)
}

#[test]
fn fetches_status_headers_and_body() {
    let s = server();
    let url = s.url("/hello");
    let res = run_sync(fetch(req(url.clone()))).unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.reason(), "OK");
    assert_eq!(res.text(), "Hello, client");
    assert_eq!(res.header("content-length"), Some("13"));
    assert!(res.header("Content-Type").unwrap().starts_with("text/html"));
    assert_eq!(res.effective_url(), url);
    assert_eq!(res.redirects(), 0);

    let res = run_sync(fetch(req(s.url("/missing")))).unwrap();
    assert_eq!(res.status(), 404, "any status is a response");
    let err = res.error_for_status().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status);
    assert_eq!(err.status(), Some(404));

    // An extension method is sent by its name: the Application answers it 405 with Allow.
    let propfind = Method::parse("PROPFIND").unwrap();
    let res = run_sync(fetch(req(url.clone()).method(propfind))).unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.header("Allow"), Some("GET, HEAD, OPTIONS"));
}

#[test]
fn keep_alive_reuses_one_connection() {
    let s = server();
    let url = s.url("/port");
    let (ports, idle) = run_sync(async move {
        let client = HttpClient::new();
        let mut ports = Vec::new();
        for _ in 0..5 {
            ports.push(
                client
                    .fetch(req(url.clone()))
                    .await
                    .unwrap()
                    .text()
                    .into_owned(),
            );
        }
        (ports, client.idle_connections())
    });
    assert!(ports.iter().all(|p| *p == ports[0]), "{ports:?}");
    assert_eq!(idle, 1);
}

#[test]
fn connection_close_is_honoured() {
    let s = server();
    let url = s.url("/port");
    let (ports, idle) = run_sync(async move {
        let client = HttpClient::new();
        let mut ports = HashSet::new();
        for _ in 0..3 {
            let r = req(url.clone()).header("Connection", "close");
            ports.insert(client.fetch(r).await.unwrap().text().into_owned());
        }
        (ports, client.idle_connections())
    });
    assert_eq!(ports.len(), 3, "a new connection each time: {ports:?}");
    assert_eq!(idle, 0);
}

#[test]
fn connections_per_host_are_bounded() {
    let s = server();
    let url = s.url("/slow");
    let ports = run_sync(async move {
        let client = HttpClient::with_options(HttpClientOptions {
            max_connections_per_host: 2,
            ..HttpClientOptions::default()
        });
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let (c, u) = (client.clone(), url.clone());
                squall::task::spawn(async move { c.fetch(req(u)).await })
            })
            .collect();
        let mut ports = HashSet::new();
        for t in tasks {
            ports.insert(t.await.unwrap().unwrap().text().into_owned());
        }
        assert!(client.idle_connections() <= 2);
        ports
    });
    assert!(
        (1..=2).contains(&ports.len()),
        "6 fetches over at most 2 connections: {ports:?}"
    );
}

#[test]
fn chunked_responses_are_decoded() {
    let s = server();
    let res = run_sync(fetch(req(s.url("/chunks")))).unwrap();
    assert_eq!(res.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(res.text(), "first,second,third");
}

#[test]
fn streaming_callback_gets_the_body_in_pieces() {
    let s = server();
    let url = s.url("/big/300000");
    let pieces = Rc::new(RefCell::new(Vec::<Vec<u8>>::new()));
    let p2 = pieces.clone();
    let res = run_sync(async move {
        let r = req(url).streaming_callback(move |data| p2.borrow_mut().push(data.to_vec()));
        fetch(r).await
    })
    .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.body().is_empty(), "the body went to the callback");
    let pieces = pieces.borrow();
    assert!(pieces.len() > 1, "300 kB arrive in more than one piece");
    assert_eq!(pieces.concat(), pattern(300_000));
}

#[test]
fn request_bodies_are_sent() {
    let s = server();
    let url = s.url("/echo");
    let big = "x".repeat(2 << 20);
    let expected_big = format!("PUT|-|{big}");
    let out = run_sync(async move {
        let client = HttpClient::new();
        let post = req(url.clone())
            .method(Method::Post)
            .header("Content-Type", "text/plain")
            .body("hello");
        let a = client.fetch(post).await.unwrap().text().into_owned();
        let put_empty = req(url.clone()).method(Method::Put);
        let b = client.fetch(put_empty).await.unwrap().text().into_owned();
        let put_big = req(url.clone()).method(Method::Put).body(big);
        let c = client.fetch(put_big).await.unwrap().text().into_owned();
        (a, b, c)
    });
    assert_eq!(out.0, "POST|text/plain|hello");
    assert_eq!(out.1, "PUT|-|");
    assert!(out.2 == expected_big, "2 MiB body echoed back whole");
}

#[test]
fn expect_continue_interim_response_is_skipped() {
    let s = server();
    let r = req(s.url("/echo"))
        .method(Method::Post)
        .header("Expect", "100-continue")
        .body("after continue");
    let res = run_sync(fetch(r)).unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text(), "POST|-|after continue");
}

#[test]
fn head_and_304_have_no_body_and_keep_the_connection() {
    let s = server();
    let (port_url, hello) = (s.url("/port"), s.url("/hello"));
    run_sync(async move {
        let client = HttpClient::new();
        let head = client
            .fetch(req(port_url.clone()).method(Method::Head))
            .await
            .unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(head.header("Content-Length"), Some("10"));
        assert!(head.body().is_empty());
        let port = head.header("X-Port").unwrap().to_owned();

        let first = client.fetch(req(hello.clone())).await.unwrap();
        let etag = first.header("Etag").expect("an ETag").to_owned();
        let again = client
            .fetch(req(hello).header("If-None-Match", etag))
            .await
            .unwrap();
        assert_eq!(again.status(), 304);
        assert!(again.body().is_empty());

        let after = client.fetch(req(port_url)).await.unwrap();
        assert_eq!(
            after.text(),
            port,
            "HEAD, 200 and 304 all on one connection"
        );
    });
}

/// (status, method sent, expected "METHOD|content-type|body" at the target).
const METHOD_RULES: &[(u16, Method, &str)] = &[
    (301, Method::Post, "GET|-|"),
    (302, Method::Post, "GET|-|"),
    (303, Method::Post, "GET|-|"),
    (303, Method::Put, "GET|-|"),
    (301, Method::Put, "PUT|text/plain|data"),
    (302, Method::Put, "PUT|text/plain|data"),
    (307, Method::Post, "POST|text/plain|data"),
    (308, Method::Post, "POST|text/plain|data"),
    (308, Method::Put, "PUT|text/plain|data"),
];

#[test]
fn redirects_follow_the_method_rules() {
    let s = server();
    let base = s.url("");
    run_sync(async move {
        let client = HttpClient::new();
        for &(status, method, expected) in METHOD_RULES {
            let url = format!("{base}/redirect/{status}?to=/echo");
            let r = req(url)
                .method(method)
                .header("Content-Type", "text/plain")
                .body("data");
            let res = client.fetch(r).await.unwrap();
            assert_eq!(res.status(), 200, "{status} {method}");
            assert_eq!(res.text(), expected, "{status} {method}");
            assert_eq!(res.redirects(), 1);
            assert_eq!(res.effective_url(), format!("{base}/echo"));
        }
        // 303 keeps HEAD a HEAD.
        let r = req(format!("{base}/redirect/303?to=/echo")).method(Method::Head);
        let res = client.fetch(r).await.unwrap();
        assert_eq!(res.header("X-Method"), Some("HEAD"));
        // A relative Location, resolved against the redirecting URL.
        let res = client
            .fetch(req(format!("{base}/redirect/302?to=../hello")))
            .await
            .unwrap();
        assert_eq!(res.text(), "Hello, client");
    });
}

#[test]
fn redirects_are_bounded_or_not_followed() {
    let s = server();
    let url = s.url("/loop");
    let once = s.url("/redirect/302?to=/hello");
    run_sync(async move {
        let err = fetch(req(url.clone()).max_redirects(3)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooManyRedirects);
        assert_eq!(err.status(), Some(302));
        assert!(err.to_string().contains("more than 3 redirects"), "{err}");

        let res = fetch(req(once).follow_redirects(false)).await.unwrap();
        assert_eq!(res.status(), 302);
        assert_eq!(res.header("Location"), Some("/hello"));
        assert_eq!(res.text(), "redirect body, not followed by the client");
    });
}

#[test]
fn credentials_follow_redirects_only_to_the_same_origin() {
    let a = server();
    let b = server();
    let same = a.url("/redirect/302?to=/headers");
    let other = a.url(&format!("/redirect/307?to={}", b.url("/headers")));
    run_sync(async move {
        let with_creds = |url: String| {
            req(url)
                .header("Authorization", "Bearer secret")
                .header("Cookie", "session=1")
                .header("X-Trace", "t1")
        };
        let here = fetch(with_creds(same)).await.unwrap().text().into_owned();
        assert!(here.contains("authorization: Bearer secret"), "{here}");
        assert!(here.contains("cookie: session=1"), "{here}");

        let there = fetch(with_creds(other)).await.unwrap().text().into_owned();
        assert!(!there.contains("authorization"), "{there}");
        assert!(!there.contains("cookie"), "{there}");
        assert!(
            there.contains("x-trace: t1"),
            "other fields go along: {there}"
        );
    });
}

#[test]
fn url_credentials_become_basic_auth() {
    let s = server();
    let url = s.url("/headers").replace("http://", "http://user:p%40ss@");
    let text = run_sync(fetch(req(url))).unwrap().text().into_owned();
    // base64("user:p@ss")
    assert!(text.contains("authorization: Basic dXNlcjpwQHNz"), "{text}");
}

#[test]
fn max_response_size_is_enforced() {
    let s = server();
    let (small, big) = (s.url("/big/1000"), s.url("/big/100000"));
    run_sync(async move {
        let client = HttpClient::new();
        let err = client
            .fetch(req(big.clone()).max_response_size(10_000))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        assert_eq!(client.idle_connections(), 0, "the connection was not kept");
        let ok = client
            .fetch(req(small).max_response_size(1000))
            .await
            .unwrap();
        assert_eq!(ok.body().len(), 1000, "exactly at the limit is fine");

        let pieces = Rc::new(RefCell::new(0usize));
        let p2 = pieces.clone();
        let r = req(big)
            .max_response_size(10_000)
            .streaming_callback(move |d| *p2.borrow_mut() += d.len());
        let err = client.fetch(r).await.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::TooLarge,
            "the limit holds when streaming"
        );
        assert_eq!(
            *pieces.borrow(),
            0,
            "a declared length over the limit is refused at once"
        );
    });
}

#[test]
fn idle_connections_expire() {
    let s = server();
    let url = s.url("/port");
    run_sync(async move {
        let client = HttpClient::with_options(HttpClientOptions {
            idle_timeout: Duration::from_millis(100),
            ..HttpClientOptions::default()
        });
        let first = client
            .fetch(req(url.clone()))
            .await
            .unwrap()
            .text()
            .into_owned();
        assert_eq!(client.idle_connections(), 1);
        squall::task::sleep(Duration::from_millis(600)).await;
        assert_eq!(client.idle_connections(), 0, "swept after idle_timeout");
        let second = client.fetch(req(url)).await.unwrap().text().into_owned();
        assert_ne!(first, second, "a new connection");
    });
}

#[test]
fn host_names_resolve_off_the_loop() {
    let s = server();
    let url = format!("http://localhost:{}/hello", s.addr().port());
    let res = run_sync(fetch(req(url))).unwrap();
    assert_eq!(res.text(), "Hello, client");
}

#[test]
fn refused_connections_and_bad_urls_are_errors() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = run_sync(fetch(req(format!("http://127.0.0.1:{port}/")))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect);
    let source = std::error::Error::source(&err).expect("the io::Error as source");
    let io = source.downcast_ref::<std::io::Error>().unwrap();
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);

    for bad in ["127.0.0.1/x", "ftp://127.0.0.1/", "http://127.0.0.1:99999/"] {
        let err = run_sync(fetch(req(bad.to_owned()))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidUrl, "{bad}");
    }
    // (The tests build Squall with `tls`: https is attempted like http. Without the feature
    // it is ErrorKind::Unsupported.)
    let err = run_sync(fetch(req(format!("https://127.0.0.1:{port}/")))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect);
}

/// Fetches its `target` from inside a handler, on the server's own loop.
#[derive(Clone)]
struct Proxy {
    target: String,
}

#[handler]
impl Proxy {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        let res = fetch(req(self.target.clone())).await?;
        cx.write(format!("proxied {}: {}", res.status(), res.text()));
        Ok(())
    }
}

#[test]
fn handlers_fetch_on_the_servers_loop_and_failures_are_502() {
    let backend = server();
    let dead_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (live, dead) = (
        backend.url("/hello"),
        format!("http://127.0.0.1:{dead_port}/"),
    );
    let front = TestServer::start(move || {
        Application::new(routes![
            (r"/live", Proxy { target: live }),
            (r"/dead", Proxy { target: dead }),
        ])
    });
    let (live, dead) = (front.url("/live"), front.url("/dead"));
    run_sync(async move {
        let res = fetch(req(live)).await.unwrap();
        assert_eq!(res.text(), "proxied 200: Hello, client");
        let res = fetch(req(dead)).await.unwrap();
        assert_eq!(res.status(), 502, "a refused backend is a bad gateway");
    });
}

#[test]
fn the_fetch_example_prints_status_headers_and_body() {
    let s = server();
    let bin = squall_tests::example_binary("fetch");
    let out = std::process::Command::new(&bin)
        .args(["--method", "post", "--header", "Content-Type: text/x"])
        .args(["--data", "from the example", "--timeout", "10"])
        .arg(s.url("/redirect/307?to=/echo"))
        .output()
        .expect("run examples/fetch");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\n"), "{text}");
    assert!(text.contains("\nContent-Length: 28\n"), "{text}");
    assert!(text.ends_with("\n\nPOST|text/x|from the example"), "{text}");

    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", l.local_addr().unwrap())
    };
    let out = std::process::Command::new(&bin).arg(dead).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cannot connect"), "{err}");
    assert!(err.contains("caused by: Connection refused"), "{err}");
}
