//! Handler behaviour through the Application: arguments, hooks, streaming, cookies, async
//! handlers, the executor, client disconnects.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use squall::prelude::*;
use squall::testing::{TestClient, TestServer};
use squall::web::cookies::Cookie;

#[derive(Clone, Default)]
struct Args;

#[handler]
impl Args {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        self.dump(cx)
    }
    #[xsrf_exempt]
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        self.dump(cx)
    }
}

impl Args {
    fn dump(&mut self, cx: &mut Context) -> Result<()> {
        let all = cx.all_arguments()?;
        let files: Vec<String> = cx
            .all_files()?
            .iter()
            .map(|(k, f)| format!("{k}={}:{}", f.filename, f.body.len()))
            .collect();
        let map: serde_json::Map<String, serde_json::Value> = all
            .into_iter()
            .map(|(k, v)| (k, serde_json::json!(v)))
            .collect();
        cx.write_json(&serde_json::json!({"args": map, "files": files}))
    }
}

#[derive(Clone, Default)]
struct One;

#[handler]
impl One {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let a = cx.argument("a")?;
        let q = cx.query_argument("a")?;
        cx.write(format!("{a}|{q}"));
        Ok(())
    }
}

#[derive(Clone)]
struct Hooks {
    finished: Arc<AtomicUsize>,
}

#[handler]
impl Hooks {
    fn prepare(&mut self, cx: &mut Context) -> Result<()> {
        if cx.query_string() == "stop" {
            cx.set_status(403);
            cx.write("stopped in prepare");
            cx.finish()?;
        }
        Ok(())
    }
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("reached get");
        Ok(())
    }
    fn on_finish(&mut self, _cx: &mut Context) {
        self.finished.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Clone, Default)]
struct Stream;

#[handler]
impl Stream {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        for i in 0..3 {
            cx.write(format!("chunk {i}\n"));
            cx.flush()?;
            squall::task::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Cookies;

#[handler]
impl Cookies {
    fn get(&mut self, cx: &mut Context, op: String) -> Result<()> {
        match op.as_str() {
            "set" => cx.set_cookie(Cookie::new("flavour", "oat").http_only(true)),
            "clear" => {
                cx.clear_cookie("flavour");
                Ok(())
            }
            "bad" => cx.set_cookie(Cookie::new("x", "a;b")),
            _ => {
                let v = cx.cookie("flavour").unwrap_or("none").to_owned();
                cx.write(v);
                Ok(())
            }
        }
    }
}

#[derive(Clone, Default)]
struct Sleepy;

#[handler]
impl Sleepy {
    async fn get(&mut self, cx: &mut Context, ms: u64) -> Result<()> {
        squall::task::sleep(Duration::from_millis(ms)).await;
        cx.write(format!("slept {ms}"));
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Cpu;

#[handler]
impl Cpu {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        let n = cx
            .run_in_executor(|| {
                std::thread::sleep(Duration::from_millis(300));
                42
            })
            .await?;
        cx.write(n.to_string());
        Ok(())
    }
}

#[derive(Clone)]
struct Forever {
    closed: Arc<AtomicUsize>,
    cond: squall::locks::Condition,
}

#[handler]
impl Forever {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        self.cond.wait().await;
        cx.write("never");
        Ok(())
    }
    fn on_connection_close(&mut self) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Clone, Default)]
struct AsyncPanic;

#[handler]
impl AsyncPanic {
    async fn get(&mut self, _cx: &mut Context) -> Result<()> {
        squall::task::sleep(Duration::from_millis(1)).await;
        panic!("async handler panic (expected by this test)");
    }
}

/// Long polling: GET /poll waits until someone POSTs /post.
#[derive(Clone)]
struct Board {
    cond: squall::locks::Condition,
    messages: std::rc::Rc<std::cell::RefCell<Vec<String>>>,
}

#[handler(xsrf_exempt)]
impl Board {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        let seen = self.messages.borrow().len();
        while self.messages.borrow().len() == seen {
            self.cond.wait().await;
        }
        let last = self.messages.borrow().last().cloned().unwrap_or_default();
        cx.write(last);
        Ok(())
    }
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        let body = String::from_utf8(cx.body().to_vec())?;
        self.messages.borrow_mut().push(body);
        self.cond.notify_all();
        Ok(())
    }
}

struct Counters {
    finished: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
}

fn start() -> (TestServer, Counters) {
    let counters = Counters {
        finished: Arc::new(AtomicUsize::new(0)),
        closed: Arc::new(AtomicUsize::new(0)),
    };
    let (f, c) = (counters.finished.clone(), counters.closed.clone());
    let server = TestServer::start(move || {
        let board = Board {
            cond: Default::default(),
            messages: Default::default(),
        };
        Application::new(routes![
            (r"/args", Args),
            (r"/one", One),
            (r"/hooks", Hooks { finished: f }),
            (r"/stream", Stream),
            (r"/cookie/(\w+)", Cookies),
            (r"/sleep/(\d+)", Sleepy),
            (r"/cpu", Cpu),
            (
                r"/forever",
                Forever {
                    closed: c,
                    cond: Default::default()
                }
            ),
            (r"/async-panic", AsyncPanic),
            (r"/board", board),
        ])
    });
    (server, counters)
}

#[test]
fn arguments_from_query_urlencoded_and_multipart() {
    let (server, _) = start();
    let mut c = TestClient::new(&server);
    let r = c.get("/args?a=1&a=2&b=x+y&c=%E2%82%AC");
    assert_eq!(
        r.json()["args"],
        serde_json::json!({"a": ["1", "2"], "b": ["x y"], "c": ["€"]})
    );
    let r = c
        .request("POST", "/args?q=1")
        .form(&[("a", "x"), ("a", " y "), ("n", "é")])
        .send();
    assert_eq!(
        r.json()["args"],
        serde_json::json!({"q": ["1"], "a": ["x", " y "], "n": ["é"]})
    );
    let r = c
        .request("POST", "/args")
        .multipart(
            &[("field", "value")],
            &[("up", "a.bin", b"\x00\x01\x02\r\n--x")],
        )
        .send();
    assert_eq!(r.json()["args"], serde_json::json!({"field": ["value"]}));
    assert_eq!(r.json()["files"], serde_json::json!(["up=a.bin:8"]));
    // Last value wins for argument(), whitespace stripped; query_argument sees only the query.
    assert_eq!(c.get("/one?a=1&a=%202%20").text(), "2|2");
    let r = c.get("/one");
    assert_eq!(r.status(), 400, "missing argument");
    // Malformed bodies are a 400, not a panic.
    let r = c
        .request("POST", "/args")
        .header("Content-Type", "multipart/form-data; boundary=zz")
        .body("--zz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end")
        .send();
    assert_eq!(r.status(), 400);
    let r = c
        .request("POST", "/args")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(b"a=%ff%fe".to_vec())
        .send();
    assert_eq!(r.status(), 400);
    assert_eq!(c.get("/one?a=ok").text(), "ok|ok");
}

#[test]
fn prepare_can_finish_early_and_on_finish_runs() {
    let (server, counters) = start();
    let mut c = TestClient::new(&server);
    let r = c.get("/hooks?stop");
    assert_eq!((r.status(), r.text().as_str()), (403, "stopped in prepare"));
    let r = c.get("/hooks");
    assert_eq!(r.text(), "reached get");
    assert_eq!(counters.finished.load(Ordering::SeqCst), 2);
}

#[test]
fn flush_streams_chunks() {
    let (server, _) = start();
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("Transfer-Encoding: chunked\r\n"));
    assert!(!out.contains("Content-Length"));
    let body = out
        .split("\r\n\r\n")
        .skip(1)
        .collect::<Vec<_>>()
        .join("\r\n\r\n");
    assert_eq!(
        body,
        "8\r\nchunk 0\n\r\n8\r\nchunk 1\n\r\n8\r\nchunk 2\n\r\n0\r\n\r\n"
    );
    // HTTP/1.0: close-delimited, no chunking.
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /stream HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.contains("Connection: close\r\n"));
    assert!(
        out.ends_with("\r\n\r\nchunk 0\nchunk 1\nchunk 2\n"),
        "{out}"
    );
}

#[test]
fn cookies_set_read_and_clear() {
    let (server, _) = start();
    let mut c = TestClient::new(&server);
    let r = c.get("/cookie/set");
    assert_eq!(
        r.header("Set-Cookie"),
        Some("flavour=oat; Path=/; HttpOnly")
    );
    assert_eq!(c.get("/cookie/read").text(), "oat");
    let r = c.get("/cookie/clear");
    assert!(r
        .header("Set-Cookie")
        .unwrap()
        .starts_with("flavour=; Expires=Thu, 01 Jan 1970"));
    assert_eq!(c.get("/cookie/read").text(), "none");
    let r = c.get("/cookie/bad");
    assert_eq!(r.status(), 500, "a cookie value with ';' is refused");
    assert!(r.header("Set-Cookie").is_none());
}

#[test]
fn async_handlers_run_concurrently() {
    let (server, _) = start();
    let addr = server.addr();
    let t0 = Instant::now();
    // One slow request and 20 quick ones at once: the quick ones must not wait for it.
    let slow = std::thread::spawn(move || {
        let mut c = TestClient::connect_to(addr);
        let r = c.get("/sleep/400");
        (r.text(), Instant::now())
    });
    std::thread::sleep(Duration::from_millis(20));
    let quick: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = TestClient::connect_to(addr);
                (c.get("/sleep/10").text(), Instant::now())
            })
        })
        .collect();
    let mut last_quick = t0;
    for q in quick {
        let (text, at) = q.join().unwrap();
        assert_eq!(text, "slept 10");
        last_quick = last_quick.max(at);
    }
    let (text, slow_done) = slow.join().unwrap();
    assert_eq!(text, "slept 400");
    assert!(
        last_quick < slow_done,
        "quick requests finished after the slow one"
    );
    assert!(slow_done - t0 < Duration::from_secs(5));
}

#[test]
fn executor_keeps_the_loop_responsive() {
    let (server, _) = start();
    let addr = server.addr();
    let cpu = std::thread::spawn(move || {
        let text = TestClient::connect_to(addr).get("/cpu").text();
        (text, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(50));
    let mut c = TestClient::new(&server);
    assert_eq!(c.get("/sleep/1").text(), "slept 1");
    let quick_done = Instant::now();
    let (text, cpu_done) = cpu.join().unwrap();
    assert_eq!(text, "42");
    // Ordering, not a time bound: had the 300 ms job blocked the loop, the quick request
    // would have finished after it.
    assert!(quick_done < cpu_done, "loop blocked by the executor job");
}

#[test]
fn client_disconnect_runs_on_connection_close() {
    let (server, counters) = start();
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(b"GET /forever HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    drop(s);
    let t0 = Instant::now();
    while counters.closed.load(Ordering::SeqCst) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "on_connection_close never ran"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(counters.closed.load(Ordering::SeqCst), 1);
    let mut c = TestClient::new(&server);
    assert_eq!(c.get("/sleep/1").status(), 200);
}

#[test]
fn async_panic_is_500_and_server_carries_on() {
    let (server, _) = start();
    let mut c = TestClient::new(&server);
    assert_eq!(c.get("/async-panic").status(), 500);
    assert_eq!(c.get("/sleep/1").text(), "slept 1");
}

#[test]
fn long_polling_completed_by_another_request() {
    let (server, _) = start();
    let addr = server.addr();
    let waiters: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || TestClient::connect_to(addr).get("/board").text()))
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut c = TestClient::new(&server);
    assert_eq!(c.post("/board", "hello all").status(), 200);
    for w in waiters {
        assert_eq!(w.join().unwrap(), "hello all");
    }
}
