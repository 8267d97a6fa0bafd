//! Back-pressure on output: a client that pipelines requests for large responses and does not
//! read them must not make the server buffer every response. The server stops taking requests
//! while its write buffer is full and resumes as the client reads; every response still
//! arrives, in order.
//!
//! This binary holds one test only: it measures the process's resident memory, which parallel
//! tests would disturb.

use std::time::{Duration, Instant};

use squall::http1::{Request, Responder};
use squall::testing::{TestServer, WireClient};
use squall_tests::options;

const BIG: usize = 64 * 1024;
const REQUESTS: usize = 1500;

fn big(req: Request, res: Responder) {
    static BODY: [u8; BIG] = [b'b'; BIG];
    let n = req.path().trim_start_matches('/');
    res.respond(200, &[("X-N", n)], &BODY);
}

/// Resident set size of this process, in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn unread_responses_do_not_pile_up_in_the_server() {
    let server = TestServer::start_with(|| big, options());
    let mut c = WireClient::connect(server.addr());
    let mut reqs = Vec::new();
    for i in 0..REQUESTS {
        reqs.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    let before = rss();
    // ~50 KB of requests asking for ~94 MiB of responses, none read yet.
    c.send(&reqs);
    // Give the server time to do all it would do (it has nothing to wait for but us).
    let t0 = Instant::now();
    let mut peak = 0;
    while t0.elapsed() < Duration::from_millis(1500) {
        peak = peak.max(rss().saturating_sub(before));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        peak < 32 << 20,
        "the server buffered {} MiB of unread responses",
        peak >> 20
    );
    // Other connections are served meanwhile.
    server.assert_serves();
    // Now read: every response arrives, in order.
    for i in 0..REQUESTS {
        let r = c.read_response();
        assert_eq!(r.header("X-N"), Some(i.to_string().as_str()));
        assert_eq!(r.body.len(), BIG);
    }
}
