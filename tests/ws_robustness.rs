//! Robustness of the showcase's WebSocket routes (websocket-contract.md "Robustness"): many
//! idle connections, resets at every stage, ping floods, half-sent frames and a client that
//! never reads do not harm the others. Bounded: every loop has a count, every wait a timeout.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use squall::testing::TestClient;
use squall_tests::showcase_support::showcase;
use squall_tests::ws::{request, WsClient, OP_PING, OP_PONG, OP_TEXT};

/// Closes `c`'s socket with a reset (SO_LINGER 0), as a vanished client's kernel would.
fn reset(c: WsClient) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket we own, with a valid linger struct and its size.
    unsafe {
        libc::setsockopt(
            c.stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(c);
}

/// The median round trip of `n` echoes on a fresh connection.
fn echo_median(addr: SocketAddr, n: usize) -> Duration {
    let mut c = WsClient::connect(addr, "/ws/echo");
    let mut times: Vec<Duration> = (0..n)
        .map(|i| {
            let t0 = Instant::now();
            c.send_text(&format!("ping {i}"));
            assert_eq!(c.read_text(), format!("ping {i}"));
            t0.elapsed()
        })
        .collect();
    c.close_cleanly();
    times.sort();
    times[n / 2]
}

fn still_serves(addr: SocketAddr) {
    let r = TestClient::connect_to(addr).get("/plaintext");
    assert_eq!((r.status(), r.text().as_str()), (200, "Hello, World!"));
    let mut c = WsClient::connect(addr, "/ws/echo");
    c.send_text("fresh");
    assert_eq!(c.read_text(), "fresh");
    c.close_cleanly();
}

#[test]
fn two_hundred_idle_connections_do_not_slow_a_fresh_echo() {
    let server = showcase();
    let addr = server.addr();
    let idle: Vec<WsClient> = (0..200)
        .map(|i| WsClient::connect(addr, if i % 2 == 0 { "/ws/echo" } else { "/ws/chat" }))
        .collect();
    let median = echo_median(addr, 21);
    assert!(
        median < Duration::from_millis(50),
        "median echo {median:?} with 200 idle"
    );
    // The idle ones are still alive.
    for mut c in idle.into_iter().step_by(20) {
        c.send_frame(true, 0, OP_PING, b"alive?");
        let f = c.read_frame();
        assert!(f.opcode == OP_PONG || f.opcode == OP_TEXT, "{f:?}");
    }
}

#[test]
fn resets_mid_handshake_mid_frame_and_mid_echo_harm_no_one() {
    let server = showcase();
    let addr = server.addr();
    let mut watcher = WsClient::connect(addr, "/ws/echo");
    for round in 0..10 {
        // Mid-handshake: half a request.
        let mut c = WsClient::tcp(addr);
        let req = request("/ws/echo", &addr.to_string(), &[]);
        c.send_raw(&req[..req.len() / 2]);
        reset(c);
        // Mid-frame: a header and part of the payload.
        let mut c = WsClient::connect(addr, "/ws/echo");
        let f = c.encode(true, 0, OP_TEXT, &[b'z'; 1000], true);
        c.send_raw(&f[..500]);
        reset(c);
        // Mid-echo: a large message sent, the echo never read.
        let mut c = WsClient::connect(addr, "/ws/echo");
        let big = c.encode(true, 0, 2, &vec![7u8; 512 * 1024], true);
        c.send_raw(&big);
        reset(c);
        watcher.send_text(&format!("round {round}"));
        assert_eq!(watcher.read_text(), format!("round {round}"));
    }
    watcher.close_cleanly();
    still_serves(addr);
}

#[test]
fn a_ping_flood_is_answered_and_harms_no_one() {
    let server = showcase();
    let addr = server.addr();
    let mut flood = WsClient::connect(addr, "/ws/echo");
    let mut bytes = Vec::new();
    for i in 0..1000u32 {
        bytes.extend(flood.encode(true, 0, OP_PING, &i.to_be_bytes(), true));
    }
    flood.send_raw(&bytes);
    flood.send_text("after the flood");
    // Pongs come in order (answering only the latest of a burst is allowed), then the echo.
    let mut last = None;
    loop {
        let f = flood.read_frame();
        if f.opcode == OP_TEXT {
            assert_eq!(f.payload, b"after the flood");
            break;
        }
        assert_eq!(f.opcode, OP_PONG);
        let n = u32::from_be_bytes(f.payload.as_slice().try_into().unwrap());
        assert!(last.is_none_or(|l| n > l));
        last = Some(n);
    }
    assert_eq!(last, Some(999), "the latest ping must be answered");
    // A second flood from a client that never reads its pongs.
    let mut deaf = WsClient::connect(addr, "/ws/echo");
    let ping = deaf.encode(true, 0, OP_PING, &[0u8; 125], true);
    let mut sent = 0;
    deaf.stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    for _ in 0..20 {
        let burst: Vec<u8> = ping
            .iter()
            .copied()
            .cycle()
            .take(ping.len() * 1000)
            .collect();
        if deaf.try_send_raw(&burst).is_err() {
            break; // the server stopped reading it: bounded
        }
        sent += 1;
    }
    assert!(sent > 0);
    assert!(echo_median(addr, 11) < Duration::from_millis(50));
    drop(deaf);
    still_serves(addr);
}

#[test]
fn fifty_half_sent_frames_do_not_block_others() {
    let server = showcase();
    let addr = server.addr();
    let mut half: Vec<(WsClient, Vec<u8>)> = Vec::new();
    for i in 0..50 {
        let mut c = WsClient::connect(addr, "/ws/echo");
        let f = c.encode(true, 0, OP_TEXT, &vec![b'h'; 100 + i * 100], true);
        c.send_raw(&f[..f.len() / 2]);
        half.push((c, f));
    }
    assert!(echo_median(addr, 11) < Duration::from_millis(50));
    // Finishing one of them later still works.
    let (mut c, f) = half.pop().unwrap();
    c.send_raw(&f[f.len() / 2..]);
    assert_eq!(c.read_text().len(), 100 + 49 * 100);
    drop(half);
    still_serves(addr);
}

#[test]
fn a_client_that_never_reads_is_bounded_and_harms_no_one() {
    let server = showcase();
    let addr = server.addr();
    let mut hog = WsClient::connect(addr, "/ws/echo");
    hog.stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let frame = hog.encode(true, 0, 2, &vec![1u8; 64 * 1024], true);
    // Up to 64 MiB: the server must stop reading long before (its output to us is bounded,
    // so it stops taking input), and our writes then time out.
    let mut sent = 0usize;
    for _ in 0..1024 {
        if hog.try_send_raw(&frame).is_err() {
            break;
        }
        sent += frame.len();
    }
    assert!(
        sent < 60 << 20,
        "the server kept reading {sent} bytes from a client that never reads"
    );
    assert!(echo_median(addr, 11) < Duration::from_millis(50));
    still_serves(addr);
}
