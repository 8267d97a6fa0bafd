//! IOStream over real sockets, in both trigger modes: reads across dribbled input, big writes
//! to slow readers, fairness, close and reset detection, fd leaks.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use squall::ioloop::{IOLoop, Trigger};
use squall::iostream::{IOStream, StreamError};
use squall::task::{spawn, with_timeout};
use squall::tcpserver::TcpServer;

const LIMIT: Duration = Duration::from_secs(20);

fn new_loop(trigger: Trigger) -> IOLoop {
    let l = IOLoop::builder().trigger(trigger).build().unwrap();
    l.make_current();
    l
}

/// A connected pair: the server side wrapped as an IOStream on `l`, the client side blocking.
fn pair(l: &IOLoop) -> (IOStream, TcpStream) {
    let lis = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(lis.local_addr().unwrap()).unwrap();
    let (server, _) = lis.accept().unwrap();
    (IOStream::from_tcp_on(l, server).unwrap(), client)
}

fn dribble(
    mut client: TcpStream,
    data: &'static [u8],
    piece: usize,
) -> std::thread::JoinHandle<TcpStream> {
    std::thread::spawn(move || {
        client.set_nodelay(true).unwrap();
        for chunk in data.chunks(piece) {
            client.write_all(chunk).unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        client
    })
}

fn reads_across_dribbled_input(trigger: Trigger) {
    let l = new_loop(trigger);
    let (stream, client) = pair(&l);
    let t = dribble(
        client,
        b"HEAD one\r\nabc-123-def\r\n\r\nXYZ0123456789rest",
        3,
    );
    let re = regex::bytes::Regex::new(r"\d{3}-[a-z]+").unwrap();
    let out = l.run_sync(async move {
        with_timeout(LIMIT, async {
            let a = stream.read_until(b"\r\n", 1024).await.unwrap();
            let b = stream.read_until_regex(&re, 1024).await.unwrap();
            let c = stream.read_until(b"\r\n\r\n", 1024).await.unwrap();
            let d = stream.read_bytes(3, false).await.unwrap();
            let e = stream.read_bytes(10, false).await.unwrap();
            let f = stream.read_bytes(100, true).await.unwrap();
            (a, b, c, d, e, f)
        })
        .await
        .expect("timed out")
    });
    assert_eq!(out.0, b"HEAD one\r\n");
    assert_eq!(out.1, b"abc-123-def");
    assert_eq!(out.2, b"\r\n\r\n");
    assert_eq!(out.3, b"XYZ");
    assert_eq!(out.4, b"0123456789");
    assert!(!out.5.is_empty() && b"rest".starts_with(&out.5));
    t.join().unwrap();
}

#[test]
fn dribbled_reads_level() {
    reads_across_dribbled_input(Trigger::Level);
}

#[test]
fn dribbled_reads_edge() {
    reads_across_dribbled_input(Trigger::Edge);
}

fn read_until_close_and_limits(trigger: Trigger) {
    let l = new_loop(trigger);
    let (stream, mut client) = pair(&l);
    let t = std::thread::spawn(move || {
        for i in 0..100u8 {
            client.write_all(&[i; 1000]).unwrap();
        }
        // dropped: clean close
    });
    let all = l.run_sync(async move {
        with_timeout(LIMIT, stream.read_until_close())
            .await
            .unwrap()
    });
    let all = all.unwrap();
    assert_eq!(all.len(), 100_000);
    assert!(all
        .chunks(1000)
        .enumerate()
        .all(|(i, c)| c.iter().all(|&b| b == i as u8)));
    t.join().unwrap();

    // max_bytes without a delimiter is an error and closes the stream.
    let (stream, mut client) = pair(&l);
    client.write_all(&[b'x'; 5000]).unwrap();
    let r = l.run_sync(async move {
        let r = with_timeout(LIMIT, stream.read_until(b"\n", 1000))
            .await
            .unwrap();
        (r, stream.closed())
    });
    assert!(
        matches!(r.0, Err(StreamError::Unsatisfiable(_))),
        "{:?}",
        r.0
    );
    assert!(r.1);
}

#[test]
fn read_until_close_level() {
    read_until_close_and_limits(Trigger::Level);
}

#[test]
fn read_until_close_edge() {
    read_until_close_and_limits(Trigger::Edge);
}

fn big_write_to_slow_reader(trigger: Trigger) {
    const SIZE: usize = 64 * 1024 * 1024;
    let l = new_loop(trigger);
    let (stream, mut client) = pair(&l);
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0usize;
        let mut ok = true;
        let mut reads = 0;
        loop {
            let n = client.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            for (i, b) in buf[..n].iter().enumerate() {
                if *b != ((total + i) % 251) as u8 {
                    ok = false;
                }
            }
            total += n;
            reads += 1;
            if reads % 64 == 0 {
                std::thread::sleep(Duration::from_millis(1)); // slow reader
            }
        }
        (total, ok)
    });
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    l.run_sync(async move {
        with_timeout(Duration::from_secs(60), stream.write(&data))
            .await
            .expect("timed out")
            .unwrap();
        assert!(!stream.writing());
        stream.close();
    });
    let (total, ok) = reader.join().unwrap();
    assert_eq!(total, SIZE);
    assert!(ok, "bytes arrived corrupted or out of order");
}

#[test]
fn big_write_level() {
    big_write_to_slow_reader(Trigger::Level);
}

#[test]
fn big_write_edge() {
    big_write_to_slow_reader(Trigger::Edge);
}

fn echo_server(l: &IOLoop) -> std::net::SocketAddr {
    let server = TcpServer::on(l, |stream, _| {
        spawn(async move {
            while let Ok(data) = stream.read_bytes(64 * 1024, true).await {
                if stream.write(&data).await.is_err() {
                    break;
                }
            }
        });
    });
    server.listen(0, "127.0.0.1").unwrap();
    let addr = server.local_addrs()[0];
    std::mem::forget(server); // keeps listening for the test's life
    addr
}

fn fairness(trigger: Trigger) {
    let l = new_loop(trigger);
    let addr = echo_server(&l);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A flooder that never stops sending (and drains its echo so the server can keep writing).
    let mut flood = TcpStream::connect(addr).unwrap();
    let mut flood_r = flood.try_clone().unwrap();
    let flood_ctl = flood.try_clone().unwrap();
    let s1 = stop.clone();
    let w = std::thread::spawn(move || {
        let chunk = vec![b'f'; 64 * 1024];
        while !s1.load(std::sync::atomic::Ordering::Relaxed) {
            if flood.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let r = std::thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        while let Ok(n) = flood_r.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    });
    let s2 = stop.clone();
    let prober = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100)); // let the flood get going
        let mut worst = Duration::ZERO;
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        for _ in 0..20 {
            let t0 = Instant::now();
            c.write_all(b"ping").unwrap();
            let mut got = [0u8; 4];
            c.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"ping");
            worst = worst.max(t0.elapsed());
        }
        s2.store(true, std::sync::atomic::Ordering::Relaxed);
        worst
    });
    let l2 = l.clone();
    let check = squall::ioloop::PeriodicCallback::on(&l, Duration::from_millis(10), move || {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            l2.stop();
        }
    });
    check.start();
    let guard = l.call_later(Duration::from_secs(30), {
        let l = l.clone();
        move || l.stop()
    });
    l.start();
    check.stop();
    assert!(l.remove_timeout(guard), "fairness test hit its 30 s bound");
    // Unblock the flooder threads, whose peer (the loop) no longer runs.
    let _ = flood_ctl.shutdown(std::net::Shutdown::Both);
    let worst = prober.join().unwrap();
    w.join().unwrap();
    r.join().unwrap();
    assert!(
        worst < Duration::from_millis(500),
        "echo took {worst:?} behind a flooding peer"
    );
}

#[test]
fn fairness_level() {
    fairness(Trigger::Level);
}

#[test]
fn fairness_edge() {
    fairness(Trigger::Edge);
}

fn close_and_reset(trigger: Trigger) {
    let l = new_loop(trigger);
    // Clean close: pending read fails, close callback runs exactly once.
    let (stream, client) = pair(&l);
    let calls = std::rc::Rc::new(std::cell::Cell::new(0));
    let c2 = calls.clone();
    stream.set_close_callback(move || c2.set(c2.get() + 1));
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        drop(client);
    });
    let r = l.run_sync({
        let stream = stream.clone();
        async move {
            with_timeout(LIMIT, stream.read_until(b"\n", 100))
                .await
                .unwrap()
        }
    });
    closer.join().unwrap();
    assert!(
        matches!(r, Err(StreamError::Closed { cause: None })),
        "{r:?}"
    );
    assert!(stream.closed());
    stream.close();
    assert_eq!(calls.get(), 1);
    // A write on a closed stream fails.
    let w = l.run_sync({
        let stream = stream.clone();
        async move { stream.write(b"x").await }
    });
    assert!(w.is_err());

    // Reset (SO_LINGER 0): the read fails with the reset as cause (or as a closed stream).
    let (stream, client) = pair(&l);
    let r = l.run_sync(async move {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt with a live linger struct.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&client),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
        drop(client);
        with_timeout(LIMIT, stream.read_bytes(10, false))
            .await
            .unwrap()
    });
    match r {
        Err(StreamError::Closed { cause: Some(e) }) => {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset)
        }
        other => panic!("expected a reset, got {other:?}"),
    }
}

#[test]
fn close_and_reset_level() {
    close_and_reset(Trigger::Level);
}

#[test]
fn close_and_reset_edge() {
    close_and_reset(Trigger::Edge);
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn no_fd_or_registration_leaks() {
    for trigger in [Trigger::Level, Trigger::Edge] {
        let l = new_loop(trigger);
        let addr = echo_server(&l);
        let base_handlers = l.handler_count();
        let before = open_fds();
        l.run_sync(async move {
            for i in 0..1000u32 {
                let s = IOStream::connect(addr).await.unwrap();
                let msg = i.to_string();
                s.write(msg.as_bytes()).await.unwrap();
                let back = s.read_bytes(msg.len(), false).await.unwrap();
                assert_eq!(back, msg.as_bytes());
                s.close();
            }
            // Let the server side notice the closes.
            squall::task::sleep(Duration::from_millis(100)).await;
        });
        assert_eq!(l.handler_count(), base_handlers, "registrations leaked");
        let after = open_fds();
        assert!(after <= before + 2, "fds leaked: {before} -> {after}");
        assert_eq!(l.task_count(), 0, "tasks leaked");
    }
}
