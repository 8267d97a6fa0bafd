//! Timeouts: a head that does not complete within header_timeout (counted from its first
//! byte, however slowly it keeps dribbling), an idle keep-alive connection past idle_timeout,
//! a body stalled past body_timeout, and a body arriving slower than min_body_rate once its
//! body_timeout is over are closed; a busy connection is not.
//!
//! Timeouts here are short (hundreds of ms) and every wait is bounded; the lower bounds are
//! loose so a loaded machine does not make them flaky, the upper bounds are what is pinned.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use squall::http1::HttpServerOptions;
use squall::testing::TestServer;
use squall_tests::{echo, options};

const SHORT: Duration = Duration::from_millis(200);
const LONG: Duration = Duration::from_secs(30);
/// How late a close may come after its deadline (scheduling slack on a shared machine).
const SLACK: Duration = Duration::from_millis(1500);

fn opts(header: Duration, idle: Duration, body: Duration) -> HttpServerOptions {
    let mut o = options();
    o.header_timeout = Some(header);
    o.idle_timeout = Some(idle);
    o.body_timeout = Some(body);
    o
}

fn assert_between(d: Duration, lo: Duration, hi: Duration, what: &str) {
    assert!(
        d >= lo && d <= hi,
        "{what}: took {d:?}, expected between {lo:?} and {hi:?}"
    );
}

#[test]
fn slowloris_partial_head_then_silence_is_closed_after_header_timeout() {
    let server = TestServer::start_with(|| echo, opts(SHORT, LONG, LONG));
    let mut c = server.connect();
    let t0 = Instant::now();
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ");
    c.assert_closed_within(SHORT + SLACK);
    assert_between(
        t0.elapsed(),
        SHORT - Duration::from_millis(20),
        SHORT + SLACK,
        "header timeout",
    );
    server.assert_serves();
}

#[test]
fn slowloris_dribbling_a_byte_every_50ms_is_closed_at_header_timeout() {
    let server = TestServer::start_with(|| echo, opts(SHORT, LONG, LONG));
    let mut c = server.connect();
    let mut w = c.stream.try_clone().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let t0 = Instant::now();
    // A head that would take 10 s at this pace; every byte comes well within 200 ms of the
    // previous one, so only a deadline counted from the first byte closes it.
    let dribbler = std::thread::spawn(move || {
        let head = format!("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: {}", "s".repeat(200));
        let mut sent = 0;
        for b in head.bytes() {
            if stop2.load(Ordering::SeqCst) || w.write_all(&[b]).is_err() {
                break;
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(50));
        }
        sent
    });
    c.assert_closed_within(SHORT + SLACK);
    let took = t0.elapsed();
    stop.store(true, Ordering::SeqCst);
    let sent = dribbler.join().unwrap();
    assert_between(
        took,
        SHORT - Duration::from_millis(20),
        SHORT + SLACK,
        "dribbled head",
    );
    assert!(
        sent < 100,
        "the dribbler sent {sent} bytes before the close"
    );
    server.assert_serves();
}

#[test]
fn header_timeout_runs_from_the_first_byte_of_each_head() {
    // A connection that served a request and then starts a new head late is judged on the new
    // head only.
    let server = TestServer::start_with(|| echo, opts(SHORT, LONG, LONG));
    let mut c = server.connect();
    c.send(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
    c.assert_open_for(SHORT + Duration::from_millis(100));
    c.send(b"GET /2 HTTP/1.1\r\n");
    std::thread::sleep(SHORT / 4);
    c.send(b"Host: t\r\n\r\n");
    assert_eq!(c.read_response().header("X-Uri"), Some("/2"));
}

#[test]
fn connection_that_never_sends_is_closed_after_idle_timeout() {
    let server = TestServer::start_with(|| echo, opts(LONG, SHORT, LONG));
    let mut c = server.connect();
    let d = c.assert_closed_within(SHORT + SLACK);
    assert!(d >= SHORT - Duration::from_millis(20), "closed after {d:?}");
}

#[test]
fn idle_keep_alive_connection_is_closed_after_idle_timeout() {
    let server = TestServer::start_with(|| echo, opts(LONG, SHORT, LONG));
    let mut c = server.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
    let t0 = Instant::now();
    c.assert_closed_within(SHORT + SLACK);
    assert_between(
        t0.elapsed(),
        SHORT - Duration::from_millis(20),
        SHORT + SLACK,
        "idle",
    );
    server.assert_serves();
}

#[test]
fn busy_connection_is_not_closed_by_the_idle_timeout() {
    let idle = Duration::from_millis(300);
    let server = TestServer::start_with(|| echo, opts(LONG, idle, LONG));
    let mut c = server.connect();
    let t0 = Instant::now();
    // Requests every 100 ms for well over the idle timeout.
    let mut n = 0;
    while t0.elapsed() < idle * 4 {
        c.send(format!("GET /{n} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let r = c.read_response();
        assert_eq!(r.header("X-Uri"), Some(format!("/{n}").as_str()));
        n += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(n >= 8);
    // And once it goes quiet, the idle timeout applies.
    c.assert_closed_within(idle + SLACK);
}

#[test]
fn slow_async_response_is_not_cut_by_the_idle_timeout() {
    let idle = Duration::from_millis(150);
    let server = TestServer::start_with(
        || {
            |req: squall::http1::Request, res: squall::http1::Responder| {
                if req.path() == "/slow" {
                    squall::task::spawn(async move {
                        squall::task::sleep(Duration::from_millis(400)).await;
                        res.respond(200, &[], b"slow");
                    });
                } else {
                    echo(req, res)
                }
            }
        },
        opts(LONG, idle, LONG),
    );
    let mut c = server.connect();
    c.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response().body, b"slow");
}

#[test]
fn stalled_body_is_closed_after_body_timeout() {
    let server = TestServer::start_with(|| echo, opts(LONG, LONG, SHORT));
    let mut c = server.connect();
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n123");
    let t0 = Instant::now();
    c.assert_closed_within(SHORT + SLACK);
    assert_between(
        t0.elapsed(),
        SHORT - Duration::from_millis(20),
        SHORT + SLACK,
        "body",
    );
    // Chunked, stalled mid-chunk.
    let mut c = server.connect();
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab");
    c.assert_closed_within(SHORT + SLACK);
    server.assert_serves();
}

#[test]
fn body_that_keeps_arriving_is_not_cut_by_the_body_timeout() {
    let body_timeout = Duration::from_millis(300);
    // The stall rule alone: this body (10 B/s) is far below the default minimum rate.
    let mut o = opts(LONG, LONG, body_timeout);
    o.min_body_rate = None;
    let server = TestServer::start_with(|| echo, o);
    let mut c = server.connect();
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 12\r\n\r\n");
    // 12 bytes, one every 100 ms: 1.2 s in all, never 300 ms without progress.
    for b in b"0123456789ab" {
        std::thread::sleep(Duration::from_millis(100));
        c.send(&[*b]);
    }
    assert_eq!(c.read_response().body, b"0123456789ab");
}

/// Sends `head`, then `body_len` bytes in pieces of `piece` every `every` on another thread,
/// until the body is sent, the connection fails or `stop` is set; returns the bytes sent.
fn drip(
    c: &squall::testing::WireClient,
    head: &[u8],
    body_len: usize,
    piece: usize,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    let mut w = c.stream.try_clone().unwrap();
    w.write_all(head).unwrap();
    std::thread::spawn(move || {
        let mut sent = 0;
        while sent < body_len && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(every);
            let n = piece.min(body_len - sent);
            if w.write_all(&vec![b'd'; n]).is_err() {
                break;
            }
            sent += n;
        }
        sent
    })
}

/// An echo server with `body_timeout` and a `min_body_rate` of `rate` bytes per second.
fn min_rate_server(body_timeout: Duration, rate: u32) -> TestServer {
    let mut o = opts(LONG, LONG, body_timeout);
    o.min_body_rate = Some(rate);
    TestServer::start_with(|| echo, o)
}

#[test]
fn body_dripping_below_min_body_rate_is_closed() {
    // A byte every 50 ms never stalls for body_timeout (300 ms), but averages 20 B/s against
    // a minimum of 100 B/s: the body is due by 300 ms + received/100 s, about 375 ms in.
    let body_timeout = Duration::from_millis(300);
    let server = min_rate_server(body_timeout, 100);
    let mut c = server.connect();
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let dripper = drip(
        &c,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n",
        1000,
        1,
        Duration::from_millis(50),
        stop.clone(),
    );
    c.assert_closed_within(Duration::from_millis(400) + SLACK);
    let took = t0.elapsed();
    stop.store(true, Ordering::SeqCst);
    let sent = dripper.join().unwrap();
    assert_between(
        took,
        body_timeout - Duration::from_millis(20),
        Duration::from_millis(400) + SLACK,
        "body below the minimum rate",
    );
    assert!(sent < 100, "the dripper sent {sent} bytes before the close");
    server.assert_serves();
}

#[test]
fn body_at_min_body_rate_outlasts_body_timeout() {
    // 200 bytes at 200 B/s (20 every 100 ms) take a second, twice the body_timeout, at twice
    // the minimum rate: the body is read whole and answered. (A 500 ms body_timeout leaves the
    // writer thread room for a scheduling hiccup on a loaded machine without stalling.)
    let body_timeout = Duration::from_millis(500);
    let server = min_rate_server(body_timeout, 100);
    let mut c = server.connect();
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let dripper = drip(
        &c,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 200\r\n\r\n",
        200,
        20,
        Duration::from_millis(100),
        stop,
    );
    let r = c.read_response();
    assert_eq!(dripper.join().unwrap(), 200);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, vec![b'd'; 200]);
    assert!(
        t0.elapsed() > body_timeout,
        "the body took {:?}",
        t0.elapsed()
    );
}

#[test]
fn header_timeout_applies_to_a_pipelined_partial_head() {
    let server = TestServer::start_with(|| echo, opts(SHORT, LONG, LONG));
    let mut c = server.connect();
    c.send(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHo");
    assert_eq!(c.read_response().header("X-Uri"), Some("/1"));
    c.assert_closed_within(SHORT + SLACK);
}

/// The size of [`big_response_server`]'s response body: far more than the socket buffers hold.
const SIZE: usize = 48 << 20;

/// A server answering every request at once with a `SIZE`-byte body, with idle timeout `idle`.
fn big_response_server(idle: Duration) -> TestServer {
    TestServer::start_with(
        || {
            |_req: squall::http1::Request, res: squall::http1::Responder| {
                let body = vec![b'z'; SIZE];
                res.respond(200, &[], &body);
            }
        },
        opts(LONG, idle, LONG),
    )
}

#[test]
fn slow_reader_of_a_large_response_is_not_cut_by_the_idle_timeout() {
    // The whole response is written at once (respond) and leaves as fast as the client reads
    // it, which takes several idle timeouts: the connection is not idle meanwhile.
    let idle = Duration::from_millis(200);
    let server = big_response_server(idle);
    let mut c = server.connect();
    c.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    let t0 = Instant::now();
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    while got < SIZE + 40 {
        use std::io::Read;
        let n = c.stream.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        got += n;
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = t0.elapsed();
    assert!(got > SIZE, "cut off after {got} bytes ({took:?})");
    assert!(
        took > idle * 2,
        "the test read too fast to mean anything ({took:?})"
    );
    // Once the response is out and the client is quiet, the idle timeout applies.
    let mut tmp = [0u8; 64];
    use std::io::Read;
    c.stream.set_read_timeout(Some(idle + SLACK)).unwrap();
    assert!(matches!(c.stream.read(&mut tmp), Ok(0) | Err(_)));
}

#[test]
fn client_that_stops_reading_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(200);
    let server = big_response_server(idle);
    let mut c = server.connect();
    c.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    // Read nothing for a while: the server gives up on us.
    std::thread::sleep(idle * 3 + SLACK);
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        use std::io::Read;
        match c.stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(
        got < SIZE,
        "the whole response arrived: the stalled connection was kept"
    );
}
