//! WebSocket load generator for bench/ws.sh: `--conns` connections to
//! `ws://127.0.0.1:--port--path`, each sending a message and waiting for its echo, again and
//! again for `--duration` seconds, on one Squall loop (Squall's own client,
//! `websocket_connect`). Prints `messages N seconds S` (echoes received).
//!
//! Other modes: `--check` (one echo of each kind must come back byte for byte: exit 0/1) and
//! `--idle N --hold S` (open N connections, print `held N`, hold them S seconds, then check
//! each with one echo and print `alive K`), for memory per idle connection.
//!
//! ```sh
//! ws_load --port 8080 --path /ws --conns 50 --duration 10 --size 32           # text
//! ws_load --port 8080 --path /ws --conns 50 --duration 10 --size 16384 --binary
//! ws_load --port 8080 --path /ws --compress ...                               # permessage-deflate
//! ```

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use squall::ioloop::IOLoop;
use squall::websocket::{
    websocket_connect_with, CompressionOptions, Message, OwnedMessage, WebSocketClientConnection,
    WebSocketConnectOptions,
};

struct Args {
    port: u16,
    path: String,
    conns: usize,
    duration: f64,
    size: usize,
    binary: bool,
    compress: bool,
    check: bool,
    idle: usize,
    hold: f64,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        port: 0,
        path: "/ws".into(),
        conns: 50,
        duration: 10.0,
        size: 32,
        binary: false,
        compress: false,
        check: false,
        idle: 0,
        hold: 5.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--port" => a.port = v()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--path" => a.path = v()?,
            "--conns" => a.conns = v()?.parse().map_err(|e| format!("--conns: {e}"))?,
            "--duration" => a.duration = v()?.parse().map_err(|e| format!("--duration: {e}"))?,
            "--size" => a.size = v()?.parse().map_err(|e| format!("--size: {e}"))?,
            "--idle" => a.idle = v()?.parse().map_err(|e| format!("--idle: {e}"))?,
            "--hold" => a.hold = v()?.parse().map_err(|e| format!("--hold: {e}"))?,
            "--binary" => a.binary = true,
            "--compress" => a.compress = true,
            "--check" => a.check = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.port == 0 {
        return Err("--port is required".into());
    }
    Ok(a)
}

fn options(a: &Args) -> WebSocketConnectOptions {
    WebSocketConnectOptions {
        compression: a.compress.then(CompressionOptions::default),
        max_message_size: (a.size * 2).max(1 << 20),
        ..WebSocketConnectOptions::default()
    }
}

/// The message every connection sends: text of `size` bytes (a repeated sentence, so it
/// compresses like text does) or binary of `size` bytes.
fn payload(a: &Args) -> (bool, Vec<u8>) {
    let text = b"The quick brown fox jumps over the lazy dog. ";
    let data: Vec<u8> = if a.binary {
        (0..a.size).map(|i| (i * 31 % 251) as u8).collect()
    } else {
        text.iter().copied().cycle().take(a.size).collect()
    };
    (a.binary, data)
}

async fn connect(a: &Args) -> WebSocketClientConnection {
    let url = format!("ws://127.0.0.1:{}{}", a.port, a.path);
    match websocket_connect_with(&url, options(a)).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ws_load: {url}: {e}");
            std::process::exit(2);
        }
    }
}

fn msg(binary: bool, data: &[u8]) -> Message<'_> {
    if binary {
        Message::Binary(data)
    } else {
        Message::Text(std::str::from_utf8(data).expect("text payload"))
    }
}

fn same(reply: &Option<OwnedMessage>, binary: bool, data: &[u8]) -> bool {
    match reply {
        Some(OwnedMessage::Binary(b)) => binary && b == data,
        Some(OwnedMessage::Text(t)) => !binary && t.as_bytes() == data,
        None => false,
    }
}

async fn load(a: Rc<Args>) {
    let count = Rc::new(Cell::new(0u64));
    let (binary, data) = payload(&a);
    let data = Rc::new(data);
    let mut conns = Vec::with_capacity(a.conns);
    for _ in 0..a.conns {
        conns.push(connect(&a).await);
    }
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(a.duration);
    let mut tasks = Vec::new();
    for c in conns {
        let (count, data) = (count.clone(), data.clone());
        tasks.push(squall::task::spawn(async move {
            while Instant::now() < deadline {
                if c.write_message(msg(binary, &data)).is_err() {
                    eprintln!("ws_load: connection closed");
                    return;
                }
                let reply = c.read_message().await;
                if !same(&reply, binary, &data) {
                    eprintln!("ws_load: wrong echo");
                    std::process::exit(3);
                }
                count.set(count.get() + 1);
            }
            c.close(Some(1000), "");
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    println!("messages {} seconds {:.3}", count.get(), t0.elapsed().as_secs_f64());
}

async fn check(a: Rc<Args>) -> bool {
    let c = connect(&a).await;
    for (binary, data) in [(false, b"hello".to_vec()), (true, vec![0u8, 1, 2, 255])] {
        if c.write_message(msg(binary, &data)).is_err() || !same(&c.read_message().await, binary, &data) {
            return false;
        }
    }
    c.close_and_wait(Some(1000), "").await;
    true
}

async fn idle(a: Rc<Args>) {
    let mut conns = Vec::with_capacity(a.idle);
    for _ in 0..a.idle {
        conns.push(connect(&a).await);
    }
    println!("held {}", conns.len());
    squall::task::sleep(Duration::from_secs_f64(a.hold)).await;
    let mut alive = 0;
    for c in &conns {
        if c.write_message("alive?").is_ok() && same(&c.read_message().await, false, b"alive?") {
            alive += 1;
        }
    }
    println!("alive {alive}");
}

fn main() {
    let a = match parse() {
        Ok(a) => Rc::new(a),
        Err(e) => {
            eprintln!("ws_load: {e}");
            std::process::exit(1);
        }
    };
    let io_loop = IOLoop::new().expect("loop");
    io_loop.make_current();
    if a.check {
        let ok = io_loop.run_sync(check(a));
        std::process::exit(if ok { 0 } else { 1 });
    } else if a.idle > 0 {
        io_loop.run_sync(idle(a));
    } else {
        io_loop.run_sync(load(a));
    }
}
