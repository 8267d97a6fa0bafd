//! `squall::httpclient` against nginx: keep-alive reuse (nginx's own `$connection` serial and
//! `$connection_requests` count say which connection served each request), static files with
//! Content-Length, HEAD and 304, chunked responses (nginx proxying a Squall handler that
//! flushes, unbuffered), nginx's redirects and their method rules, and nginx closing an idle
//! keep-alive connection.
//!
//! nginx is run by `squall_tests::nginx_runner` (skipped with a message when missing unless
//! `SQUALL_REQUIRE_NGINX=1`, as `.ci/run` sets).

use std::fs;
use std::path::Path;
use std::time::Duration;

use squall::http1::Method;
use squall::httpclient::{ErrorKind, HttpClient, HttpRequest};
use squall::prelude::*;
use squall::testing::TestServer;
use squall_tests::nginx_runner::{nginx_or_skip, preamble, temp_paths, Nginx};
use squall_tests::{run_sync, MethodEcho};

fn req(url: String) -> HttpRequest {
    HttpRequest::new(url).request_timeout(Duration::from_secs(10))
}

/// Flushed pieces: chunked from Squall, and from nginx (unbuffered) too.
#[derive(Clone, Default)]
struct Chunks;

#[handler]
impl Chunks {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        for i in 0..5 {
            cx.write(format!("piece {i};"));
            cx.flush_and_wait().await?;
            squall::task::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }
}

fn big_file() -> Vec<u8> {
    (0..1usize << 20).map(|i| (i * 7 % 251) as u8).collect()
}

fn config(dir: &Path, port: u16, app: u16) -> String {
    let files = dir.join("files");
    fs::create_dir_all(&files).unwrap();
    fs::write(files.join("hello.txt"), "hello from nginx\n").unwrap();
    fs::write(files.join("big.bin"), big_file()).unwrap();
    let d = dir.display();
    format!(
        "{preamble}
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    default_type text/plain;
    keepalive_timeout 60s;
    keepalive_requests 1000;
{temp}
    server {{
        listen 127.0.0.1:{port};
        location = /conn {{ return 200 \"$connection $connection_requests\"; }}
        location = /conn-short {{
            keepalive_timeout 1s;
            return 200 \"$connection $connection_requests\";
        }}
        location /files/ {{ alias {d}/files/; }}
        location = /r301 {{ return 301 /app/echo; }}
        location = /r302 {{ return 302 /app/echo; }}
        location = /r303 {{ return 303 /app/echo; }}
        location = /r307 {{ return 307 /app/echo; }}
        location = /r308 {{ return 308 /app/echo; }}
        location = /loop {{ return 302 /loop; }}
        location /app/ {{
            proxy_pass http://127.0.0.1:{app}/;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_buffering off;
        }}
    }}
}}
",
        preamble = preamble(dir),
        temp = temp_paths(dir),
    )
}

/// nginx in front of a Squall app (echo, chunks), or `None` when nginx is missing.
struct Stack {
    nginx: Nginx,
    _app: TestServer,
}

impl Stack {
    fn start() -> Option<Stack> {
        let bin = nginx_or_skip()?;
        let app = TestServer::start(|| {
            Application::new(routes![(r"/echo", MethodEcho), (r"/chunks", Chunks)])
        });
        let app_port = app.addr().port();
        let nginx = Nginx::start(&bin, &|dir, port| config(dir, port, app_port));
        Some(Stack { nginx, _app: app })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.nginx.addr)
    }
}

/// `$connection $connection_requests` as numbers.
fn conn(text: &str) -> (u64, u64) {
    let mut w = text.split_whitespace().map(|n| n.parse().unwrap());
    (w.next().unwrap(), w.next().unwrap())
}

#[test]
fn keep_alive_reuses_nginx_connections() {
    let Some(stack) = Stack::start() else { return };
    let url = stack.url("/conn");
    let seen = run_sync(async move {
        let client = HttpClient::new();
        let mut seen = Vec::new();
        for _ in 0..5 {
            let res = client.fetch(req(url.clone())).await.unwrap();
            seen.push(conn(&res.text()));
        }
        seen
    });
    let first = seen[0].0;
    assert_eq!(
        seen,
        (1..=5).map(|n| (first, n)).collect::<Vec<_>>(),
        "one connection, five requests on it\n{}",
        stack.nginx.error_log()
    );
}

#[test]
fn static_files_head_and_304_from_nginx() {
    let Some(stack) = Stack::start() else { return };
    let (hello, big, c) = (
        stack.url("/files/hello.txt"),
        stack.url("/files/big.bin"),
        stack.url("/conn"),
    );
    run_sync(async move {
        let client = HttpClient::new();
        let res = client.fetch(req(hello.clone())).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.text(), "hello from nginx\n");
        assert_eq!(res.header("Content-Length"), Some("17"));
        let etag = res.header("ETag").expect("nginx sends an ETag").to_owned();

        let res = client.fetch(req(big.clone())).await.unwrap();
        assert!(res.body() == big_file().as_slice(), "1 MiB file intact");

        let res = client.fetch(req(big).method(Method::Head)).await.unwrap();
        assert_eq!(res.header("Content-Length"), Some("1048576"));
        assert!(res.body().is_empty());

        let res = client
            .fetch(req(hello).header("If-None-Match", etag))
            .await
            .unwrap();
        assert_eq!(res.status(), 304);
        assert!(res.body().is_empty());

        let res = client.fetch(req(c)).await.unwrap();
        assert_eq!(conn(&res.text()).1, 5, "all five on one connection");
    });
}

#[test]
fn chunked_responses_through_nginx() {
    let Some(stack) = Stack::start() else { return };
    let url = stack.url("/app/chunks");
    let res = run_sync(async move { HttpClient::new().fetch(req(url)).await }).unwrap();
    assert_eq!(res.status(), 200, "{}", stack.nginx.error_log());
    assert_eq!(res.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(res.text(), "piece 0;piece 1;piece 2;piece 3;piece 4;");
}

#[test]
fn nginx_redirects_follow_the_method_rules() {
    let Some(stack) = Stack::start() else { return };
    let base = stack.url("");
    run_sync(async move {
        let client = HttpClient::new();
        for (path, expected) in [
            ("/r301", "GET|-|"),
            ("/r302", "GET|-|"),
            ("/r303", "GET|-|"),
            ("/r307", "POST|text/plain|data"),
            ("/r308", "POST|text/plain|data"),
        ] {
            let r = req(format!("{base}{path}"))
                .method(Method::Post)
                .header("Content-Type", "text/plain")
                .body("data");
            let res = client.fetch(r).await.unwrap();
            assert_eq!(res.text(), expected, "{path}");
            assert!(res.effective_url().ends_with("/app/echo"), "{path}");
        }
        let err = client.fetch(req(format!("{base}/loop"))).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooManyRedirects);

        let res = client.fetch(req(format!("{base}/nothing"))).await.unwrap();
        assert_eq!(res.status(), 404);
        assert_eq!(res.error_for_status().unwrap_err().status(), Some(404));
    });
}

#[test]
fn an_idle_connection_closed_by_nginx_is_not_a_failure() {
    let Some(stack) = Stack::start() else { return };
    let url = stack.url("/conn-short");
    let (a, b, idle) = run_sync(async move {
        let client = HttpClient::new();
        let a = conn(&client.fetch(req(url.clone())).await.unwrap().text());
        // nginx closes the connection after its 1 s keepalive_timeout.
        squall::task::sleep(Duration::from_millis(2500)).await;
        let b = conn(&client.fetch(req(url)).await.unwrap().text());
        (a, b, client.idle_connections())
    });
    assert_ne!(a.0, b.0, "a new connection after nginx closed the idle one");
    assert_eq!(b.1, 1);
    assert_eq!(idle, 1);
}
