//! idle_client: open N keep-alive connections to 127.0.0.1:PORT, make one `GET /plaintext` on
//! each, then hold them all idle; used by bench/idle.sh to measure a server's memory per idle
//! connection.
//!
//! Prints `held N` (and flushes) once every connection has had its response, sleeps `--hold`
//! seconds, then sends a second request on every connection and prints `alive K/N`: a server
//! that dropped idle connections shows up there instead of looking cheap. Everything is bounded:
//! per-socket timeouts and an overall deadline.
//!
//! usage: idle_client --port PORT [--conns N (10000)] [--hold SECS (5)] [--path /plaintext]

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::exit;
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(5);
const DEADLINE: Duration = Duration::from_secs(300);

struct Args {
    port: u16,
    conns: usize,
    hold: u64,
    path: String,
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!(
                "idle_client: {msg}\nusage: idle_client --port PORT [--conns N] [--hold SECS] [--path P]"
            );
            exit(2);
        }
    };
    let start = Instant::now();
    // Loopback only, by construction.
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
        args.path, args.port
    );
    let mut buf = vec![0u8; 16 * 1024];

    let mut streams = Vec::with_capacity(args.conns);
    for i in 0..args.conns {
        if start.elapsed() > DEADLINE {
            eprintln!("idle_client: deadline passed after {i} connections");
            exit(1);
        }
        let res = TcpStream::connect_timeout(&addr, IO_TIMEOUT).and_then(|mut s| {
            s.set_read_timeout(Some(IO_TIMEOUT))?;
            s.set_write_timeout(Some(IO_TIMEOUT))?;
            s.set_nodelay(true)?;
            exchange(&mut s, request.as_bytes(), &mut buf)?;
            Ok(s)
        });
        match res {
            Ok(s) => streams.push(s),
            Err(e) => {
                eprintln!("idle_client: connection {i}: {e}");
                exit(1);
            }
        }
    }
    println!(
        "held {} in {:.2}s",
        streams.len(),
        start.elapsed().as_secs_f64()
    );
    let _ = io::stdout().flush();

    std::thread::sleep(Duration::from_secs(args.hold));

    let mut alive = 0;
    for s in &mut streams {
        alive += exchange(s, request.as_bytes(), &mut buf).is_ok() as usize;
    }
    println!("alive {alive}/{}", streams.len());
    let _ = io::stdout().flush();
    if alive != streams.len() {
        exit(3);
    }
}

/// Sends `request` and reads one complete response (head plus Content-Length body).
fn exchange(s: &mut TcpStream, request: &[u8], buf: &mut [u8]) -> io::Result<()> {
    s.write_all(request)?;
    let mut have = 0;
    loop {
        if have == buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "response too large",
            ));
        }
        let n = s.read(&mut buf[have..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        have += n;
        let Some(head_end) = find(&buf[..have], b"\r\n\r\n") else {
            continue;
        };
        let head = &buf[..head_end];
        if !head.starts_with(b"HTTP/1.1 200") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "status is not 200",
            ));
        }
        let len = content_length(head)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no Content-Length"))?;
        if have >= head_end + 4 + len {
            return Ok(());
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(head).ok()?;
    text.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if name.trim().eq_ignore_ascii_case("content-length") {
            value.trim().parse().ok()
        } else {
            None
        }
    })
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        port: 0,
        conns: 10_000,
        hold: 5,
        path: "/plaintext".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or(format!("{name} needs a value"))
        };
        match name.as_str() {
            "--port" => a.port = value()?.parse().map_err(|_| "bad --port")?,
            "--conns" => a.conns = value()?.parse().map_err(|_| "bad --conns")?,
            "--hold" => a.hold = value()?.parse().map_err(|_| "bad --hold")?,
            "--path" => a.path = value()?,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    if a.port == 0 {
        return Err("--port is required".into());
    }
    Ok(a)
}
