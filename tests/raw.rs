//! HTTP over plain sockets, for checks where the exact bytes matter (framing, bodies of 304s,
//! error answers to oversized requests, timeouts).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response as bytes: the head as text and the raw body bytes after the blank line.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// Status line and header lines, without the final blank line.
    pub head: String,
    /// Everything after the head, exactly as received (chunk framing included).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// Splits `bytes` at the first `\r\n\r\n`.
    ///
    /// # Panics
    ///
    /// If there is no complete head.
    pub fn parse(bytes: &[u8]) -> RawResponse {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| {
                panic!(
                    "no complete response head in {:?}",
                    String::from_utf8_lossy(bytes)
                )
            });
        RawResponse {
            head: String::from_utf8_lossy(&bytes[..end]).into_owned(),
            body: bytes[end + 4..].to_vec(),
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line in {:?}", self.head))
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Connects with a read timeout of `timeout`.
///
/// # Panics
///
/// If the connection fails.
pub fn connect(addr: SocketAddr, timeout: Duration) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(timeout)).expect("set_read_timeout");
    s.set_nodelay(true).expect("set_nodelay");
    s
}

/// Reads until the peer closes (or resets) the connection; a read timeout is a test failure.
///
/// # Panics
///
/// If nothing ends the stream before its read timeout.
pub fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                return out
            }
            Err(e) => panic!(
                "reading until close: {e} after {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

/// Sends `request` on a new connection and reads until the server closes it (send
/// `Connection: close` or expect the server to close).
pub fn exchange(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut s = connect(addr, Duration::from_secs(10));
    s.write_all(request).expect("write request");
    RawResponse::parse(&read_to_close(&mut s))
}

/// Sends `head` then as much of `body` as the server takes, from another thread, while this
/// one reads the answer until close: a server that answers early (413, 431) and closes may
/// reset the connection once unread bytes reach it, and the answer must be read before that.
pub fn exchange_early_answer(addr: SocketAddr, head: &[u8], body: &[u8]) -> RawResponse {
    let mut s = connect(addr, Duration::from_secs(10));
    s.write_all(head).expect("write head");
    let mut w = s.try_clone().expect("try_clone");
    let body = body.to_vec();
    let writer = std::thread::spawn(move || {
        for piece in body.chunks(16 * 1024) {
            if w.write_all(piece).is_err() {
                break;
            }
        }
    });
    let got = read_to_close(&mut s);
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    RawResponse::parse(&got)
}
