//! Issue #12.1 and #12.2: request arguments cost time and memory linear in the request, and
//! a request carries at most `Settings::max_arguments` of them (default 10,000; over it: 400
//! "Too many arguments").
//!
//! - Time: a 1 MiB urlencoded body of ~186,000 distinct names (`0&1&2&...`) to a handler that
//!   reads every argument took 55 s of loop time, every other client waiting as long. Now it is
//!   refused at once with the default limit, and grouped in linear time with the limit raised;
//!   a probe on another connection is answered meanwhile. Multipart and query strings too.
//! - Memory: a 1 MiB body of `a&a&a...` (524,288 empty fields) grew the heap by ~50 MB. The
//!   parsed arguments now cost less than 4 times the body, counted by this binary's allocator
//!   on the server thread while the handler parses.
//!
//! Bounds on time are generous (this machine is shared): they cannot flake, yet sit far below
//! what the quadratic grouping took.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use squall::prelude::*;
use squall::testing::{TestClient, TestServer};

// ---- an allocator that counts the live bytes of the thread that asks ------------------------------

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn account(delta: isize) {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = LIVE.try_with(|live| {
                let now = live.get() + delta;
                live.set(now);
                let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
            });
        }
    });
}

fn signed(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

// SAFETY: every method forwards to the system allocator with the caller's arguments; the
// bookkeeping touches only const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        account(signed(layout.size()));
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        account(-signed(layout.size()));
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        account(signed(new_size) - signed(layout.size()));
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` counting this thread's allocations: (its result, peak bytes live above the start,
/// bytes still live at the end).
fn measured<T>(f: impl FnOnce() -> T) -> (T, isize, isize) {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    (out, PEAK.with(Cell::get), LIVE.with(Cell::get))
}

// ---- the application -------------------------------------------------------------------------------

/// `/all`: reads every argument (Tornado's `request.arguments`) and answers how many names
/// and values there were.
#[derive(Clone, Default)]
struct All;

#[handler]
impl All {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        self.post(cx)
    }

    fn post(&mut self, cx: &mut Context) -> Result<()> {
        let all = cx.all_arguments()?;
        let values: usize = all.iter().map(|(_, v)| v.len()).sum();
        // Every name, looked up one by one as a handler would: linear too.
        for (name, _) in &all {
            cx.arguments(name)?;
        }
        cx.write(format!("{} names, {values} values", all.len()));
        Ok(())
    }
}

/// `/parse`: makes the body parse (a lookup of an absent name) and reports what it cost.
#[derive(Clone, Default)]
struct Parse;

#[handler]
impl Parse {
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        let (found, peak, live) = measured(|| cx.argument_opt("absent"));
        let found = found?;
        let a = cx.body_arguments("a")?.len();
        cx.write(format!("{peak} {live} {} {a}", found.is_some()));
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Probe;

#[handler]
impl Probe {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("probe");
        Ok(())
    }
}

fn start(max_arguments: Option<usize>) -> TestServer {
    TestServer::start(move || {
        let mut settings = Settings::default();
        if let Some(n) = max_arguments {
            settings.max_arguments = n;
        }
        Application::with_settings(
            routes![(r"/all", All), (r"/parse", Parse), (r"/probe", Probe)],
            settings,
        )
        .unwrap()
    })
}

const FORM: &str = "application/x-www-form-urlencoded";

/// `0&1&2&...` up to `size` bytes, and how many names it holds.
fn distinct_names(size: usize) -> (Vec<u8>, usize) {
    let mut body = Vec::with_capacity(size);
    let mut n = 0usize;
    loop {
        let name = n.to_string();
        if body.len() + name.len() + 1 > size {
            break;
        }
        if n > 0 {
            body.push(b'&');
        }
        body.extend_from_slice(name.as_bytes());
        n += 1;
    }
    (body, n)
}

/// Sends `body` to `path` on one connection and a probe on another once it is sent: the time
/// of each answer (the big one from the start, the probe from its own start).
fn big_request_and_probe(
    server: &TestServer,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (squall::testing::TestResponse, Duration, Duration) {
    let addr = server.addr();
    let (sent_tx, sent_rx) = mpsc::channel();
    let content_type = content_type.to_owned();
    let path = path.to_owned();
    let big = std::thread::spawn(move || {
        let mut c = TestClient::connect_to(addr);
        let t0 = Instant::now();
        // The request is written whole before the answer is read: signal once it is out.
        let request = c
            .request("POST", &path)
            .header("Content-Type", &content_type)
            .body(body);
        let _ = sent_tx.send(());
        let r = request.send();
        (r, t0.elapsed())
    });
    sent_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    // Let the upload get going, then probe on a connection of its own.
    std::thread::sleep(Duration::from_millis(20));
    let mut probe = TestClient::connect_to(addr);
    let t0 = Instant::now();
    let p = probe.get("/probe");
    let probe_time = t0.elapsed();
    assert_eq!(p.text(), "probe");
    let (r, big_time) = big.join().unwrap();
    (r, big_time, probe_time)
}

const BIG_LIMIT: Duration = Duration::from_secs(5);
const PROBE_LIMIT: Duration = Duration::from_secs(2);

#[test]
fn distinct_names_over_the_limit_are_refused_promptly() {
    let server = start(None);
    let (body, n) = distinct_names(1 << 20);
    assert!(n > 160_000, "{n}");
    let (r, big, probe) = big_request_and_probe(&server, "/all", FORM, body);
    eprintln!("{n} distinct names, default limit: {big:?} (probe {probe:?})");
    assert_eq!(r.status(), 400);
    assert_eq!(r.reason(), "Too many arguments");
    assert!(r.text().contains("Too many arguments"), "{}", r.text());
    assert!(big < BIG_LIMIT, "{big:?}");
    assert!(probe < PROBE_LIMIT, "{probe:?}");
    // The server carries on, on a fresh connection.
    assert_eq!(
        TestClient::new(&server).get("/all?x=1").text(),
        "1 names, 1 values"
    );
}

#[test]
fn distinct_names_under_a_raised_limit_group_in_linear_time() {
    // A quarter of the 1 MiB body, ~46,000 names: the quadratic grouping took minutes on it
    // in a test build; linear grouping takes a fraction of a second (release: all 165,669
    // names of the full body in well under one).
    let server = start(Some(1_000_000));
    let (body, n) = distinct_names(1 << 18);
    let (r, big, probe) = big_request_and_probe(&server, "/all", FORM, body);
    eprintln!("{n} distinct names, limit raised: {big:?} (probe {probe:?})");
    assert_eq!(r.text(), format!("{n} names, {n} values"));
    assert!(big < BIG_LIMIT, "{big:?}");
    assert!(probe < BIG_LIMIT, "{probe:?}");
}

/// A multipart body of `parts` fields named `0`, `1`, ...
fn multipart(parts: usize) -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..parts {
        body.extend_from_slice(
            format!("--b\r\nContent-Disposition: form-data; name=\"{i}\"\r\n\r\nv\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(b"--b--\r\n");
    body
}

#[test]
fn multipart_parts_are_limited_and_grouped_in_linear_time() {
    const CT: &str = "multipart/form-data; boundary=b";
    let parts = (1 << 20) / 50; // ~21,000 parts in about 1 MiB
    let server = start(None);
    let (r, big, probe) = big_request_and_probe(&server, "/all", CT, multipart(parts));
    eprintln!("{parts} multipart parts, default limit: {big:?} (probe {probe:?})");
    assert_eq!((r.status(), r.reason()), (400, "Too many arguments"));
    assert!(big < BIG_LIMIT && probe < PROBE_LIMIT, "{big:?} {probe:?}");

    let server = start(Some(100_000));
    let (r, big, probe) = big_request_and_probe(&server, "/all", CT, multipart(parts));
    eprintln!("{parts} multipart parts, limit raised: {big:?} (probe {probe:?})");
    assert_eq!(r.text(), format!("{parts} names, {parts} values"));
    assert!(big < BIG_LIMIT && probe < BIG_LIMIT, "{big:?} {probe:?}");

    // Exactly at the limit is fine, one more is not.
    let server = start(Some(3));
    let mut c = TestClient::new(&server);
    let r = c
        .request("POST", "/all")
        .header("Content-Type", CT)
        .body(multipart(3))
        .send();
    assert_eq!(r.text(), "3 names, 3 values");
    let r = c
        .request("POST", "/all")
        .header("Content-Type", CT)
        .body(multipart(4))
        .send();
    assert_eq!(r.status(), 400);
}

fn numbers(n: usize) -> String {
    (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join("&")
}

#[test]
fn the_default_limit_is_ten_thousand_per_body() {
    let server = start(None);
    let mut c = TestClient::new(&server);
    let post = |c: &mut TestClient, body: String| {
        c.request("POST", "/all")
            .header("Content-Type", FORM)
            .body(body)
            .send()
    };
    assert_eq!(
        post(&mut c, numbers(10_000)).text(),
        "10000 names, 10000 values"
    );
    let r = post(&mut c, numbers(10_001));
    assert_eq!((r.status(), r.reason()), (400, "Too many arguments"));
    // Empty segments (`&&`) are not arguments and do not count.
    assert_eq!(
        post(&mut c, format!("{}&&&&", numbers(10_000))).status(),
        200
    );
    assert_eq!(TestClient::new(&server).get("/probe").text(), "probe");
}

#[test]
fn the_limit_counts_query_and_body_each_and_is_exact() {
    // (The default request line limit, 8 KiB, keeps a query string below the default limit.)
    let server = start(Some(100));
    let mut c = TestClient::new(&server);
    assert_eq!(
        c.get(&format!("/all?{}", numbers(100))).text(),
        "100 names, 100 values"
    );
    let r = c.get(&format!("/all?{}", numbers(101)));
    assert_eq!((r.status(), r.reason()), (400, "Too many arguments"));
    // The query and the body are limited separately (as Django does for GET and POST).
    let r = c
        .request("POST", &format!("/all?{}", numbers(100)))
        .header("Content-Type", FORM)
        .body(vec!["b"; 100].join("&"))
        .send();
    assert_eq!(r.text(), "101 names, 200 values");
    let r = c
        .request("POST", "/all?a")
        .header("Content-Type", FORM)
        .body(numbers(101))
        .send();
    assert_eq!((r.status(), r.reason()), (400, "Too many arguments"));
    assert_eq!(TestClient::new(&server).get("/probe").text(), "probe");
}

#[test]
fn repeated_names_and_escapes_group_as_before() {
    let server = start(None);
    let mut c = TestClient::new(&server);
    // `%61` is `a`, `+` a space: names group by their decoded text, values keep their order.
    let r = c
        .request("POST", "/all?a=1&b=2&%61=3")
        .header("Content-Type", FORM)
        .body("a=4&c+d=5&b=6&&a")
        .send();
    assert_eq!(r.text(), "3 names, 7 values");
}

/// The heap the parse of `body` costs on the server thread: (peak, retained).
fn parse_cost(server: &TestServer, body: Vec<u8>) -> (isize, isize, usize) {
    let mut c = TestClient::new(server);
    let r = c
        .request("POST", "/parse")
        .header("Content-Type", FORM)
        .body(body)
        .send();
    assert_eq!(r.status(), 200, "{}", r.text());
    let text = r.text();
    let fields: Vec<&str> = text.split(' ').collect();
    assert_eq!(fields[2], "false", "{text}");
    (
        fields[0].parse().unwrap(),
        fields[1].parse().unwrap(),
        fields[3].parse().unwrap(),
    )
}

#[test]
fn parsed_empty_fields_cost_less_than_four_times_the_body() {
    // 1 MiB of `a&a&a...`: 524,288 empty fields, under a limit raised out of the way.
    let body: Vec<u8> = b"a&".repeat(1 << 19);
    let len = isize::try_from(body.len()).unwrap();
    let server = start(Some(usize::MAX));
    let (peak, retained, count) = parse_cost(&server, body);
    eprintln!(
        "a&a&... ({len} bytes): peak {peak} bytes ({:.2}x), retained {retained} ({:.2}x)",
        peak as f64 / len as f64,
        retained as f64 / len as f64
    );
    assert_eq!(count, 1 << 19);
    assert!(peak > 0, "nothing was measured");
    assert!(peak < 4 * len, "peak {peak} for a body of {len}");
    assert!(retained <= peak);
}

#[test]
fn parsed_distinct_names_cost_less_than_four_times_the_body() {
    let (body, n) = distinct_names(1 << 20);
    let len = isize::try_from(body.len()).unwrap();
    let server = start(Some(usize::MAX));
    let (peak, retained, _) = parse_cost(&server, body);
    eprintln!(
        "{n} distinct names ({len} bytes): peak {peak} bytes ({:.2}x), retained {retained} ({:.2}x)",
        peak as f64 / len as f64,
        retained as f64 / len as f64
    );
    assert!(
        peak > 0 && peak < 4 * len,
        "peak {peak} for a body of {len}"
    );
}

#[test]
fn the_default_limit_keeps_a_flood_of_fields_cheap() {
    let body: Vec<u8> = b"a&".repeat(1 << 19);
    let server = start(None);
    let mut c = TestClient::new(&server);
    let r = c
        .request("POST", "/parse")
        .header("Content-Type", FORM)
        .body(body)
        .send();
    assert_eq!((r.status(), r.reason()), (400, "Too many arguments"));
}
