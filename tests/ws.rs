//! A raw, blocking WebSocket test client: it sends exactly the frames a test asks for (masked
//! or not, any opcode, any RSV bits, any length encoding, split anywhere) and reads the
//! server's frames as they are on the wire, so the tests can check every rule of the
//! protocol, including the ones a well-behaved client never breaks. Every read has a timeout.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use flate2::{Decompress, FlushDecompress};

use squall::testing::READ_TIMEOUT;

/// A key the tests use (RFC 6455's example) and its accept value.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// `Sec-WebSocket-Accept` for [`KEY`].
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

pub const OP_CONT: u8 = 0;
pub const OP_TEXT: u8 = 1;
pub const OP_BINARY: u8 = 2;
pub const OP_CLOSE: u8 = 8;
pub const OP_PING: u8 = 9;
pub const OP_PONG: u8 = 10;

/// A frame as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    /// How the length was encoded: 7, 16 or 64 bits.
    pub length_bits: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    /// A Close frame's code, if it has one.
    pub fn close_code(&self) -> Option<u16> {
        (self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// The head of an HTTP response.
#[derive(Debug, Clone)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// How many times a header appears.
    pub fn count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }
}

/// A handshake request for `path` with the standard headers and `extra` ones.
pub fn request(path: &str, host: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut r = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
    );
    for (k, v) in extra {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// The raw client.
pub struct WsClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// Set when permessage-deflate was agreed: inflates the server's compressed messages.
    inflater: Option<Decompress>,
    /// The server resets its compressor after every message (server_no_context_takeover).
    pub server_no_context_takeover: bool,
    mask_counter: u32,
}

impl WsClient {
    /// Opens a TCP connection (no handshake yet).
    pub fn tcp(addr: SocketAddr) -> WsClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        WsClient {
            stream,
            buf: Vec::new(),
            inflater: None,
            server_no_context_takeover: false,
            mask_counter: 0x1234_5678,
        }
    }

    /// Connects and completes a standard handshake to `path` (checks the 101 and the accept
    /// key).
    pub fn connect(addr: SocketAddr, path: &str) -> WsClient {
        WsClient::connect_with(addr, path, &[]).0
    }

    /// Connects with extra handshake headers; the 101's head comes back too.
    pub fn connect_with(addr: SocketAddr, path: &str, extra: &[(&str, &str)]) -> (WsClient, Head) {
        let mut c = WsClient::tcp(addr);
        let head = c.handshake(&request(path, &addr.to_string(), extra));
        assert_eq!(head.status, 101, "{head:?}");
        assert_eq!(head.header("Sec-WebSocket-Accept"), Some(ACCEPT));
        if let Some(ext) = head.header("Sec-WebSocket-Extensions") {
            assert!(ext.starts_with("permessage-deflate"), "{ext}");
            c.inflater = Some(Decompress::new_with_window_bits(false, 15));
            c.server_no_context_takeover = ext.contains("server_no_context_takeover");
        }
        (c, head)
    }

    /// Sends `req` and reads a response head (any status); for a 101 the connection is then
    /// a WebSocket.
    pub fn handshake(&mut self, req: &[u8]) -> Head {
        self.send_raw(req);
        self.read_head()
    }

    /// Reads one HTTP response head (and, for a non-101 with a Content-Length, skips its body).
    pub fn read_head(&mut self) -> Head {
        self.read_head_for(false)
    }

    /// Reads one response head; `head_request`: it answers a HEAD (no body follows).
    pub fn read_head_for(&mut self, head_request: bool) -> Head {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            assert!(
                self.fill(),
                "connection closed before a response head: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        };
        let text = String::from_utf8(self.buf[..end].to_vec()).expect("head is UTF-8");
        self.buf.drain(..end + 4);
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (k, v) = l.split_once(':').expect("header line");
                (k.trim().to_owned(), v.trim().to_owned())
            })
            .collect();
        let head = Head { status, headers };
        if status != 101 && !head_request {
            let len: usize = head
                .header("Content-Length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while self.buf.len() < len {
                assert!(self.fill(), "body cut short");
            }
            self.buf.drain(..len);
        }
        head
    }

    /// Reads more bytes into the buffer; false at EOF (or a reset).
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 65536];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return false,
                Err(e) => panic!("read failed (timeout?): {e}"),
            }
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Like `send_raw`, but a failed write (the server closed) is returned, not a panic.
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    fn next_mask(&mut self) -> [u8; 4] {
        self.mask_counter = self
            .mask_counter
            .wrapping_mul(1_103_515_245)
            .wrapping_add(12345);
        self.mask_counter.to_be_bytes()
    }

    /// Encodes a frame: `rsv` is the three RSV bits (0-7), `mask` whether to mask it.
    pub fn encode(
        &mut self,
        fin: bool,
        rsv: u8,
        opcode: u8,
        payload: &[u8],
        mask: bool,
    ) -> Vec<u8> {
        let mut out = vec![(fin as u8) << 7 | (rsv & 7) << 4 | (opcode & 0xf)];
        let m = if mask { 0x80 } else { 0 };
        let len = payload.len();
        if len < 126 {
            out.push(m | len as u8);
        } else if len <= 0xffff {
            out.push(m | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(m | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        if mask {
            let k = self.next_mask();
            out.extend_from_slice(&k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        } else {
            out.extend_from_slice(payload);
        }
        out
    }

    /// Sends one masked frame.
    pub fn send_frame(&mut self, fin: bool, rsv: u8, opcode: u8, payload: &[u8]) {
        let f = self.encode(fin, rsv, opcode, payload, true);
        self.send_raw(&f);
    }

    pub fn send_text(&mut self, text: &str) {
        self.send_frame(true, 0, OP_TEXT, text.as_bytes());
    }

    pub fn send_binary(&mut self, data: &[u8]) {
        self.send_frame(true, 0, OP_BINARY, data);
    }

    /// Sends a Close with `code` and `reason`.
    pub fn send_close(&mut self, code: u16, reason: &str) {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason.as_bytes());
        self.send_frame(true, 0, OP_CLOSE, &p);
    }

    /// Reads the next frame; `None` at EOF.
    pub fn try_read_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some((frame, used)) = parse_frame(&self.buf) {
                self.buf.drain(..used);
                return Some(frame);
            }
            if !self.fill() {
                assert!(
                    self.buf.is_empty(),
                    "EOF inside a frame: {:x?}",
                    &self.buf[..self.buf.len().min(32)]
                );
                return None;
            }
        }
    }

    /// Reads the next frame; panics at EOF.
    pub fn read_frame(&mut self) -> Frame {
        self.try_read_frame()
            .expect("connection closed while a frame was expected")
    }

    /// Reads one whole message (reassembling fragments, inflating, answering nothing);
    /// control frames in between are returned as they come if `skip_control` is false.
    pub fn read_message(&mut self) -> (u8, Vec<u8>) {
        let mut opcode = None;
        let mut compressed = false;
        let mut data = Vec::new();
        loop {
            let f = self.read_frame();
            check_server_frame(&f);
            if f.opcode >= 8 {
                assert_ne!(
                    f.opcode,
                    OP_CLOSE,
                    "a Close instead of a message: {:?}",
                    f.close_code()
                );
                continue;
            }
            match opcode {
                None => {
                    assert_ne!(f.opcode, OP_CONT, "continuation first");
                    opcode = Some(f.opcode);
                    compressed = f.rsv & 4 != 0;
                    assert!(compressed || f.rsv == 0);
                    if compressed {
                        assert!(self.inflater.is_some(), "RSV1 without permessage-deflate");
                    }
                }
                Some(_) => assert_eq!((f.opcode, f.rsv), (OP_CONT, 0), "bad continuation"),
            }
            data.extend_from_slice(&f.payload);
            if f.fin {
                break;
            }
        }
        if compressed {
            data = self.inflate(&data);
        }
        let op = opcode.unwrap();
        if op == OP_TEXT {
            assert!(
                std::str::from_utf8(&data).is_ok(),
                "server sent invalid UTF-8"
            );
        }
        (op, data)
    }

    /// Inflates one compressed message.
    pub fn inflate(&mut self, data: &[u8]) -> Vec<u8> {
        let fresh = self.server_no_context_takeover;
        let z = self.inflater.as_mut().unwrap();
        if fresh {
            // With server_no_context_takeover each message must inflate on its own: check
            // it with a fresh inflater.
            *z = Decompress::new_with_window_bits(false, 15);
        }
        let mut input = data.to_vec();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut out = Vec::with_capacity(input.len() * 4 + 1024);
        let mut pos = 0;
        loop {
            let before_in = z.total_in();
            z.decompress_vec(&input[pos..], &mut out, FlushDecompress::Sync)
                .expect("server's message inflates");
            pos += (z.total_in() - before_in) as usize;
            if pos >= input.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(4096));
        }
        out
    }

    /// Reads a text message and returns it.
    pub fn read_text(&mut self) -> String {
        let (op, data) = self.read_message();
        assert_eq!(op, OP_TEXT);
        String::from_utf8(data).unwrap()
    }

    /// Reads frames until a Close arrives (data frames before it are an error unless
    /// `allow_data`); returns the Close frame.
    pub fn read_close(&mut self, allow_data: bool) -> Frame {
        loop {
            let f = self.read_frame();
            check_server_frame(&f);
            if f.opcode == OP_CLOSE {
                return f;
            }
            assert!(
                allow_data || f.opcode == OP_PONG,
                "unexpected frame before the Close: {f:?}"
            );
        }
    }

    /// Expects the server to fail the connection with `code`: a Close with that code comes
    /// (nothing else after the failure), then the server ends the TCP connection once we
    /// answer. Returns how long the close took.
    pub fn expect_fail(&mut self, code: u16) {
        let f = self.read_close(false);
        assert_eq!(f.close_code(), Some(code), "close payload {:x?}", f.payload);
        if f.payload.len() > 2 {
            assert!(
                std::str::from_utf8(&f.payload[2..]).is_ok(),
                "reason not UTF-8"
            );
        }
        let _ = self.try_send_close_reply(code);
        self.assert_eof_within(Duration::from_secs(5));
    }

    fn try_send_close_reply(&mut self, code: u16) -> std::io::Result<()> {
        let mut p = code.to_be_bytes().to_vec();
        p.truncate(2);
        let f = self.encode(true, 0, OP_CLOSE, &p, true);
        self.try_send_raw(&f)
    }

    /// Reads until EOF within `bound`; any frame arriving first is an error.
    pub fn assert_eof_within(&mut self, bound: Duration) -> Duration {
        let t0 = Instant::now();
        self.stream.set_read_timeout(Some(bound)).unwrap();
        let r = self.try_read_frame();
        self.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        assert_eq!(r, None, "a frame after the close");
        let took = t0.elapsed();
        assert!(
            took <= bound + Duration::from_millis(500),
            "closed after {took:?}"
        );
        took
    }

    /// Completes a clean close from our side: Close(1000), the echo, EOF.
    pub fn close_cleanly(&mut self) {
        self.send_close(1000, "");
        let f = self.read_close(true);
        assert_eq!(f.close_code(), Some(1000));
        self.assert_eof_within(Duration::from_secs(5));
    }

    /// Bytes buffered but not parsed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// Parses one frame off the front of `buf`: the frame and its size.
pub fn parse_frame(buf: &[u8]) -> Option<(Frame, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let masked = buf[1] & 0x80 != 0;
    let (len, mut off, bits) = match buf[1] & 0x7f {
        126 => (
            u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize,
            4,
            16,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
            64,
        ),
        n => (n as usize, 2, 7),
    };
    let mask = if masked {
        let m: [u8; 4] = buf.get(off..off + 4)?.try_into().ok()?;
        off += 4;
        Some(m)
    } else {
        None
    };
    let payload = buf.get(off..off + len)?;
    let payload = match mask {
        Some(k) => payload
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ k[i % 4])
            .collect(),
        None => payload.to_vec(),
    };
    Some((
        Frame {
            fin: buf[0] & 0x80 != 0,
            rsv: (buf[0] >> 4) & 7,
            opcode: buf[0] & 0xf,
            masked,
            length_bits: bits,
            payload,
        },
        off + len,
    ))
}

/// The rules for every frame a server sends: unmasked, minimal length encoding, RSV2/RSV3
/// clear (RSV1 only on a data message's first frame), control frames short and whole.
pub fn check_server_frame(f: &Frame) {
    assert!(!f.masked, "server frames must not be masked");
    let minimal = match f.payload.len() {
        0..=125 => 7,
        126..=65535 => 16,
        _ => 64,
    };
    assert_eq!(f.length_bits, minimal, "length not minimally encoded");
    assert_eq!(f.rsv & 3, 0, "RSV2/RSV3 set");
    assert!(
        matches!(f.opcode, 0 | 1 | 2 | 8 | 9 | 10),
        "opcode {}",
        f.opcode
    );
    if f.opcode >= 8 {
        assert!(
            f.fin && f.payload.len() <= 125 && f.rsv == 0,
            "bad control frame {f:?}"
        );
    }
    if f.opcode == OP_CLOSE && f.payload.len() >= 2 {
        assert!(std::str::from_utf8(&f.payload[2..]).is_ok());
    }
    if f.opcode == OP_CLOSE {
        assert_ne!(f.payload.len(), 1, "1-byte Close");
    }
}
