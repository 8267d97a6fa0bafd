//! A raw HTTP server under a lowered descriptor limit, for `tests/issue_12_fd_exhaustion.rs`:
//! what a server with `ulimit -n 64` does when silent connections take every descriptor.
//!
//! Usage: `fd_limit_server NOFILE FIRST_BYTE_MS`. It lowers its own RLIMIT_NOFILE (soft and
//! hard) to NOFILE, listens on 127.0.0.1:0 with `first_byte_timeout` FIRST_BYTE_MS (the idle
//! timeout stays at its default, an hour), prints `port <port>` and answers every request
//! with 200 `ok`, until killed.

use std::time::Duration;

use squall::http1::{HttpServerOptions, Request, Responder};
use squall::httpserver::HttpServer;
use squall::ioloop::IOLoop;

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("usage: fd_limit_server NOFILE FIRST_BYTE_MS")
        })
        .collect();
    let [nofile, first_byte_ms] = args[..] else {
        panic!("usage: fd_limit_server NOFILE FIRST_BYTE_MS");
    };
    let limit = libc::rlimit {
        rlim_cur: nofile,
        rlim_max: nofile,
    };
    // SAFETY: setrlimit(2) with a valid, initialised struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    let options = HttpServerOptions {
        access_log: false,
        first_byte_timeout: Some(Duration::from_millis(first_byte_ms)),
        ..HttpServerOptions::default()
    };
    let l = IOLoop::current();
    let server = HttpServer::on(
        &l,
        Box::new(|_req: Request, res: Responder| {
            res.respond(200, &[("Content-Type", "text/plain")], b"ok");
        }),
        options,
    );
    server
        .listen(0, "127.0.0.1")
        .expect("listen on 127.0.0.1:0");
    let line = format!("port {}\n", server.local_addrs()[0].port());
    // SAFETY: one write(2) of a live buffer to stdout.
    unsafe { libc::write(1, line.as_ptr().cast(), line.len()) };
    l.start();
}
