//! A raw HTTP/1.x client for tests that check the wire itself: exact request bytes in, exact
//! response bytes out, and how each body was framed. [`TestClient`](super::TestClient) is the
//! convenient client (cookies, forms, XSRF); this one is for protocol tests (pipelining,
//! malformed input, keep-alive and close rules). Every read has a timeout, so no test hangs.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::READ_TIMEOUT;

/// How a parsed response's body was delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body by rule (HEAD, 1xx, 204, 304).
    NoBody,
    /// `Content-Length`.
    Length,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ran to the connection's close.
    Close,
}

/// A response as read off the wire.
#[derive(Clone)]
pub struct WireResponse {
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Header fields in order, as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// How the body was delimited.
    pub framing: Framing,
    /// The exact bytes of the response (head and body, chunk framing included).
    pub raw: Vec<u8>,
}

impl fmt::Debug for WireResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.raw))
    }
}

impl WireResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// How many times header `name` appears.
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// The raw bytes with the `Date` value replaced by `<date>` (after checking it parses),
    /// for exact comparisons.
    pub fn normalized(&self) -> String {
        normalize_date(&self.raw)
    }
}

/// Replaces every `Date: <value>` in `raw` with `Date: <date>`, checking each value is an
/// IMF-fixdate (29 bytes, `... GMT`).
pub fn normalize_date(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw).into_owned();
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = rest.find("\r\nDate: ") {
        let (a, b) = rest.split_at(i + 8);
        out.push_str(a);
        let end = b.find("\r\n").unwrap_or(b.len());
        let value = &b[..end];
        assert!(
            value.len() == 29 && value.ends_with(" GMT"),
            "bad Date value {value:?}"
        );
        out.push_str("<date>");
        rest = &b[end..];
    }
    out.push_str(rest);
    out
}

/// A raw blocking HTTP/1.x client for exact-bytes tests: it sends what the test gives it and
/// parses what comes back (status line, fields, a body framed by `Content-Length`, chunked
/// encoding or the close), keeping the exact bytes of each response. Every read has a timeout ([`READ_TIMEOUT`] unless changed).
pub struct WireClient {
    /// The socket (for tests that need to poke at it directly).
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// Number of `read` calls that returned data.
    pub reads: usize,
}

impl fmt::Debug for WireClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireClient")
            .field("peer", &self.stream.peer_addr().ok())
            .field("buffered", &self.buf.len())
            .field("reads", &self.reads)
            .finish()
    }
}

impl WireClient {
    /// Connects to `addr` with `TCP_NODELAY` and the read timeout set.
    pub fn connect(addr: SocketAddr) -> WireClient {
        let stream = TcpStream::connect_timeout(&addr, READ_TIMEOUT).expect("connect");
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
        WireClient {
            stream,
            buf: Vec::new(),
            reads: 0,
        }
    }

    /// Sends `bytes` (all of them, in one `write_all`).
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends `bytes`, returning the error instead of panicking (the server may have closed).
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Whether the server has sent anything (or closed) yet, without blocking or consuming it.
    pub fn has_answered(&self) -> bool {
        if !self.buf.is_empty() {
            return true;
        }
        self.stream.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        let r = self.stream.peek(&mut b);
        self.stream.set_nonblocking(false).unwrap();
        match r {
            Ok(_) => true,
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        }
    }

    /// Closes the sending side (the server sees EOF).
    pub fn shutdown_write(&mut self) {
        self.stream.shutdown(Shutdown::Write).expect("shutdown");
    }

    /// Bytes received but not yet parsed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Reads once more from the socket into the buffer; returns the byte count (0 at EOF).
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 64 * 1024];
        let n = self.stream.read(&mut tmp)?;
        if n > 0 {
            self.reads += 1;
            self.buf.extend_from_slice(&tmp[..n]);
        }
        Ok(n)
    }

    fn fill_or_panic(&mut self, what: &str) {
        match self.fill() {
            Ok(0) => panic!(
                "connection closed while reading {what}; have {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
            Ok(_) => {}
            Err(e) => panic!(
                "error reading {what}: {e}; have {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// Ensures `n` bytes are buffered.
    fn want(&mut self, n: usize, what: &str) {
        while self.buf.len() < n {
            self.fill_or_panic(what);
        }
    }

    /// Reads a line ending in CRLF starting at `at`; returns the index just past it.
    fn line_end(&mut self, at: usize, what: &str) -> usize {
        loop {
            if let Some(i) = self.buf[at..].windows(2).position(|w| w == b"\r\n") {
                return at + i + 2;
            }
            self.fill_or_panic(what);
        }
    }

    /// Reads and parses one response to a non-HEAD request.
    pub fn read_response(&mut self) -> WireResponse {
        self.read_response_for(false)
    }

    /// Reads and parses one response to a HEAD request (no body whatever the headers say).
    pub fn read_head_response(&mut self) -> WireResponse {
        self.read_response_for(true)
    }

    /// Reads and parses one response; `head` says the request was HEAD.
    pub fn read_response_for(&mut self, head: bool) -> WireResponse {
        // Head: status line and fields up to the blank line.
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill_or_panic("a response head");
        };
        let head_text = String::from_utf8(self.buf[..end].to_vec()).expect("UTF-8 head");
        let mut lines = head_text[..end - 4].split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("").to_owned();
        assert!(
            version == "HTTP/1.1" || version == "HTTP/1.0",
            "bad status line {status_line:?}"
        );
        let code = parts.next().unwrap_or("");
        assert_eq!(code.len(), 3, "bad status line {status_line:?}");
        let status: u16 = code.parse().expect("status code");
        let reason = parts.next().unwrap_or("").to_owned();
        let mut headers = Vec::new();
        for l in lines {
            let (n, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header line {l:?}"));
            assert!(!n.is_empty() && !n.contains(' '), "bad header name {n:?}");
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        let mut r = WireResponse {
            version,
            status,
            reason,
            headers,
            body: Vec::new(),
            framing: Framing::NoBody,
            raw: Vec::new(),
        };
        let te = r.header("Transfer-Encoding").map(str::to_owned);
        let cl = r.header("Content-Length").map(str::to_owned);
        let mut pos = end;
        if head || status < 200 || status == 204 || status == 304 {
            assert!(
                te.is_none() || head,
                "Transfer-Encoding on a bodiless response"
            );
        } else if let Some(te) = te {
            assert_eq!(te, "chunked", "unexpected Transfer-Encoding");
            assert!(cl.is_none(), "both Content-Length and Transfer-Encoding");
            r.framing = Framing::Chunked;
            loop {
                let le = self.line_end(pos, "a chunk size");
                let line = std::str::from_utf8(&self.buf[pos..le - 2]).expect("chunk line");
                let size_str = line.split(';').next().unwrap_or("");
                let size = usize::from_str_radix(size_str, 16)
                    .unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
                pos = le;
                if size == 0 {
                    // Trailers until the blank line.
                    loop {
                        let le = self.line_end(pos, "a trailer");
                        let blank = le - pos == 2;
                        pos = le;
                        if blank {
                            break;
                        }
                    }
                    break;
                }
                self.want(pos + size + 2, "chunk data");
                r.body.extend_from_slice(&self.buf[pos..pos + size]);
                assert_eq!(&self.buf[pos + size..pos + size + 2], b"\r\n", "chunk CRLF");
                pos += size + 2;
            }
        } else if let Some(cl) = cl {
            let n: usize = cl.parse().expect("Content-Length value");
            r.framing = Framing::Length;
            self.want(pos + n, "a body");
            r.body.extend_from_slice(&self.buf[pos..pos + n]);
            pos += n;
        } else {
            r.framing = Framing::Close;
            loop {
                match self.fill() {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                    Err(e) => panic!("reading a close-delimited body: {e}"),
                }
            }
            r.body.extend_from_slice(&self.buf[pos..]);
            pos = self.buf.len();
        }
        r.raw = self.buf.drain(..pos).collect();
        r
    }

    /// Reads `n` responses (non-HEAD).
    pub fn read_responses(&mut self, n: usize) -> Vec<WireResponse> {
        (0..n).map(|_| self.read_response()).collect()
    }

    /// Reads exactly `n` raw bytes (after any response read before), for a protocol the
    /// connection switched to.
    pub fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        self.want(n, "raw bytes");
        self.buf.drain(..n).collect()
    }

    /// Reads whatever arrives until the peer closes (or resets); returns it with the buffer.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        loop {
            match self.fill() {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("read_to_close: {e}"),
            }
        }
        std::mem::take(&mut self.buf)
    }

    /// Asserts that nothing more was sent and the server closed the connection (a read returns
    /// 0 or a reset) within [`READ_TIMEOUT`].
    pub fn assert_closed(&mut self) {
        self.assert_closed_within(READ_TIMEOUT);
    }

    /// As [`assert_closed`](WireClient::assert_closed), within `bound`; returns how long it took.
    pub fn assert_closed_within(&mut self, bound: Duration) -> Duration {
        assert!(
            self.buf.is_empty(),
            "unexpected bytes before close: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        let t0 = Instant::now();
        self.stream.set_read_timeout(Some(bound)).unwrap();
        let mut tmp = [0u8; 4096];
        let r = self.stream.read(&mut tmp);
        self.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        match r {
            Ok(0) => {}
            Ok(n) => panic!(
                "expected close, got bytes {:?}",
                String::from_utf8_lossy(&tmp[..n])
            ),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected the server to close within {bound:?}: {e}"),
        }
        t0.elapsed()
    }

    /// Asserts that the connection stays open and silent for `d` (a read times out).
    pub fn assert_open_for(&mut self, d: Duration) {
        assert!(self.buf.is_empty());
        self.stream.set_read_timeout(Some(d)).unwrap();
        let mut tmp = [0u8; 4096];
        let r = self.stream.read(&mut tmp);
        self.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        match r {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Ok(0) => panic!("connection closed, expected it open"),
            Ok(n) => panic!("unexpected bytes {:?}", String::from_utf8_lossy(&tmp[..n])),
            Err(e) => panic!("connection failed, expected it open: {e}"),
        }
    }
}
