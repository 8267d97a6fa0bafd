//! The bare responder: the practical ceiling for an HTTP/1.1 server on `polling`.
//!
//! It does the least a correct keep-alive, pipelining server can do for `GET /plaintext` and
//! `GET /json` on 127.0.0.1:`--port`, so that the harness can say how close Squall gets:
//! one thread, level-triggered epoll through `polling`, `accept4` straight into non-blocking
//! sockets, one `read` per readiness event into a scratch buffer shared by all connections,
//! every complete request head in it answered with a canned response appended to one output
//! buffer, and one `write` per batch. There is no HTTP parser: a request is whatever ends in
//! `\r\n\r\n`, routed by the prefix of its request line.
//!
//! ### What it keeps per connection
//! The socket, and two byte vectors that stay unallocated unless needed: `pending` holds the
//! start of a request head that a read cut in half (so pipelining across reads is correct) and
//! `unsent` holds output the kernel would not take. An idle connection owns no buffer.
//!
//! ### Interest
//! A connection is registered readable. Only when a write is short does it switch to writable
//! (and stop reading: that is the back-pressure); once the backlog is out it switches back.
//! Interest is never re-armed per event: level-triggered registrations stay armed.
//!
//! ### What it does not do
//! Request bodies (GET only: a body would be misread as the next request), HTTP/1.0
//! keep-alive rules, `Connection` lists other than a bare `close`. It answers any other path
//! with 404. That is enough for wrk, and not a server anyone should deploy.

#[path = "../../peer_args.rs"]
mod peer_args;
use peer_args::parse_port;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use memchr::memmem::Finder;
use polling::{Event, Events, PollMode, Poller};

#[cfg(not(target_pointer_width = "64"))]
compile_error!("keys pack a 32-bit generation above a 32-bit slot index");

/// Poller key of the listening socket; connection keys are never 0 (slot index + 1).
const LISTENER: usize = 0;
/// Size of the shared read buffer: one read takes at most this much.
const SCRATCH: usize = 64 * 1024;
/// A request head longer than this without its `\r\n\r\n` gets the connection closed.
const MAX_HEAD: usize = 64 * 1024;
/// Connections accepted per listener event, so a connect storm cannot starve the others.
const ACCEPT_BATCH: usize = 128;

fn main() {
    let port = match parse_port() {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("bare_peer: {msg}\nusage: bare_peer --port N");
            std::process::exit(2);
        }
    };
    if let Err(e) = Server::bind(port).and_then(|mut s| s.run()) {
        eprintln!("bare_peer: {e}");
        std::process::exit(1);
    }
}

struct Conn {
    stream: TcpStream,
    /// Unanswered tail of the input: an incomplete request head.
    pending: Vec<u8>,
    /// Output the socket did not take yet.
    unsent: Vec<u8>,
    /// Close once `unsent` is out (the client sent `Connection: close`).
    close_after: bool,
}

struct Slot {
    /// Bumped whenever the slot is freed, so an event for the previous occupant is ignored.
    gen: u32,
    conn: Option<Conn>,
}

fn key(idx: usize, gen: u32) -> usize {
    ((gen as usize) << 32) | (idx + 1)
}

fn unkey(key: usize) -> (usize, u32) {
    ((key & 0xffff_ffff) - 1, (key >> 32) as u32)
}

#[derive(Clone, Copy)]
enum Route {
    Plaintext,
    Json,
    NotFound,
}

/// The six responses (three routes, with and without `Connection: close`), built once; only
/// their `Date` value is rewritten, at most once a second.
struct Canned {
    responses: [Vec<u8>; 6],
    date_at: [usize; 6],
}

impl Canned {
    fn new() -> Self {
        let mut responses: [Vec<u8>; 6] = Default::default();
        let mut date_at = [0; 6];
        let specs: [(&str, &str, &[u8]); 3] = [
            ("200 OK", "text/plain", b"Hello, World!"),
            (
                "200 OK",
                "application/json",
                br#"{"message":"Hello, World!"}"#,
            ),
            ("404 Not Found", "text/plain", b"Not Found"),
        ];
        for (i, (status, ctype, body)) in specs.iter().enumerate() {
            for close in [false, true] {
                let n = i * 2 + close as usize;
                let mut r = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nDate: ",
                    body.len()
                )
                .into_bytes();
                date_at[n] = r.len();
                r.extend_from_slice(b"Thu, 01 Jan 1970 00:00:00 GMT\r\n");
                if close {
                    r.extend_from_slice(b"Connection: close\r\n");
                }
                r.extend_from_slice(b"\r\n");
                r.extend_from_slice(body);
                responses[n] = r;
            }
        }
        Canned { responses, date_at }
    }

    fn set_date(&mut self, now: SystemTime) {
        let date = httpdate::fmt_http_date(now);
        let date = date.as_bytes();
        // IMF-fixdate is always 29 bytes; anything else would corrupt the templates.
        if date.len() != 29 {
            return;
        }
        for (r, &at) in self.responses.iter_mut().zip(&self.date_at) {
            r[at..at + 29].copy_from_slice(date);
        }
    }

    fn get(&self, route: Route, close: bool) -> &[u8] {
        &self.responses[route as usize * 2 + close as usize]
    }
}

struct Server {
    listener: TcpListener,
    poller: Poller,
    slots: Vec<Slot>,
    free: Vec<usize>,
    scratch: Vec<u8>,
    out: Vec<u8>,
    canned: Canned,
    end_of_head: Finder<'static>,
}

impl Server {
    fn bind(port: u16) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let poller = Poller::new()?;
        // SAFETY: the listener lives as long as the poller (both fields of Server) and is never
        // closed while registered.
        unsafe { poller.add_with_mode(&listener, Event::readable(LISTENER), PollMode::Level)? };
        Ok(Server {
            listener,
            poller,
            slots: Vec::new(),
            free: Vec::new(),
            scratch: vec![0; SCRATCH],
            out: Vec::with_capacity(SCRATCH),
            canned: Canned::new(),
            end_of_head: Finder::new(b"\r\n\r\n"),
        })
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(NonZeroUsize::new(1024).unwrap());
        let mut date_sec = u64::MAX;
        loop {
            // `Events` accumulates: clear it before every wait.
            events.clear();
            match self.poller.wait(&mut events, None) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            // One clock read per wake-up (a vDSO call), not per response; the Date text is
            // reformatted only when the second changes.
            let now = SystemTime::now();
            let sec = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            if sec != date_sec {
                self.canned.set_date(now);
                date_sec = sec;
            }
            for ev in events.iter() {
                if ev.key == LISTENER {
                    self.accept_batch();
                } else {
                    self.on_event(ev);
                }
            }
        }
    }

    fn accept_batch(&mut self) {
        for _ in 0..ACCEPT_BATCH {
            // accept4 hands back a non-blocking, close-on-exec socket in one syscall.
            let fd = unsafe {
                libc::accept4(
                    self.listener.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if fd < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) => return,
                    Some(libc::EINTR | libc::ECONNABORTED) => continue,
                    _ => {
                        // EMFILE, ENFILE, ENOBUFS: the listener stays readable (level mode), so
                        // pause briefly rather than spin on the same error.
                        eprintln!("bare_peer: accept: {e}");
                        std::thread::sleep(Duration::from_millis(10));
                        return;
                    }
                }
            }
            // SAFETY: accept4 just returned this fd and nothing else owns it.
            let stream = unsafe { TcpStream::from_raw_fd(fd) };
            // Once per connection, never per response.
            let _ = stream.set_nodelay(true);
            let idx = self.free.pop().unwrap_or_else(|| {
                self.slots.push(Slot { gen: 0, conn: None });
                self.slots.len() - 1
            });
            let k = key(idx, self.slots[idx].gen);
            // SAFETY: the stream is deleted from the poller before it is dropped (see close).
            if unsafe {
                self.poller
                    .add_with_mode(&stream, Event::readable(k), PollMode::Level)
            }
            .is_err()
            {
                self.free.push(idx);
                continue;
            }
            self.slots[idx].conn = Some(Conn {
                stream,
                pending: Vec::new(),
                unsent: Vec::new(),
                close_after: false,
            });
        }
    }

    fn on_event(&mut self, ev: Event) {
        let (idx, gen) = unkey(ev.key);
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        if slot.gen != gen {
            return; // for a connection that has since been closed
        }
        let Some(conn) = slot.conn.as_mut() else {
            return;
        };
        let keep = serve(
            conn,
            &ev,
            &self.poller,
            &mut self.scratch,
            &mut self.out,
            &self.canned,
            &self.end_of_head,
        );
        if !keep {
            if let Some(conn) = slot.conn.take() {
                // Delete before close: the fd number may be reused by the next accept.
                let _ = self.poller.delete(&conn.stream);
            }
            slot.gen = slot.gen.wrapping_add(1);
            self.free.push(idx);
        }
    }
}

/// Handles one readiness event; returns false when the connection must be closed.
fn serve(
    conn: &mut Conn,
    ev: &Event,
    poller: &Poller,
    scratch: &mut [u8],
    out: &mut Vec<u8>,
    canned: &Canned,
    end_of_head: &Finder<'_>,
) -> bool {
    let would_block = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        )
    };

    if !conn.unsent.is_empty() {
        // Registered writable only: finish the backlog before reading anything more.
        if !ev.writable {
            return true;
        }
        match conn.stream.write(&conn.unsent) {
            Ok(n) => drop(conn.unsent.drain(..n)),
            Err(e) if would_block(&e) => return true,
            Err(_) => return false,
        }
        if !conn.unsent.is_empty() {
            return true;
        }
        conn.unsent = Vec::new();
        if conn.close_after {
            return false;
        }
        // Level-triggered: requests that arrived meanwhile are reported by the next wait.
        return poller
            .modify_with_mode(&conn.stream, Event::readable(ev.key), PollMode::Level)
            .is_ok();
    }
    if !ev.readable {
        return true;
    }

    let n = match conn.stream.read(scratch) {
        Ok(0) => return false,
        Ok(n) => n,
        Err(e) if would_block(&e) => return true,
        Err(_) => return false,
    };
    out.clear();
    let close = if conn.pending.is_empty() {
        // The common case: answer straight out of the shared buffer; copy only a cut-off tail.
        let (used, close) = answer(&scratch[..n], 0, canned, out, end_of_head);
        if !close && used < n {
            conn.pending.extend_from_slice(&scratch[used..n]);
        }
        close
    } else {
        let searched = conn.pending.len();
        conn.pending.extend_from_slice(&scratch[..n]);
        // The old bytes held no `\r\n\r\n`; only the last 3 can start one with the new bytes,
        // so a slow client costs O(n), not O(n^2).
        let from = searched.saturating_sub(3);
        let (used, close) = answer(&conn.pending, from, canned, out, end_of_head);
        if close || used == conn.pending.len() {
            conn.pending = Vec::new(); // give the memory back: idle connections hold none
        } else {
            conn.pending.drain(..used);
        }
        close
    };
    if conn.pending.len() > MAX_HEAD {
        return false;
    }
    if out.is_empty() {
        return true;
    }

    conn.close_after = close;
    let written = match conn.stream.write(out) {
        Ok(w) => w,
        Err(e) if would_block(&e) => 0,
        Err(_) => return false,
    };
    if written == out.len() {
        return !close;
    }
    conn.unsent.extend_from_slice(&out[written..]);
    poller
        .modify_with_mode(&conn.stream, Event::writable(ev.key), PollMode::Level)
        .is_ok()
}

/// Appends a response for every complete request head in `buf` to `out`. The search for the
/// first head's end starts at `search_from`. Returns the bytes consumed and whether the last
/// answered request asked to close (nothing after it is answered).
fn answer(
    buf: &[u8],
    search_from: usize,
    canned: &Canned,
    out: &mut Vec<u8>,
    end_of_head: &Finder<'_>,
) -> (usize, bool) {
    let mut start = 0;
    let mut from = search_from;
    while let Some(i) = end_of_head.find(&buf[from..]) {
        let end = from + i + 4;
        let head = &buf[start..end];
        let close = wants_close(head);
        out.extend_from_slice(canned.get(route(head), close));
        start = end;
        from = end;
        if close {
            return (start, true);
        }
    }
    (start, false)
}

fn route(head: &[u8]) -> Route {
    let next_is_end = |at: usize| matches!(head.get(at), Some(b' ' | b'?'));
    if head.starts_with(b"GET /plaintext") && next_is_end(14) {
        Route::Plaintext
    } else if head.starts_with(b"GET /json") && next_is_end(9) {
        Route::Json
    } else {
        Route::NotFound
    }
}

/// True when a header line of `head` is `Connection: close` (any case, any spacing).
fn wants_close(head: &[u8]) -> bool {
    let mut rest = head;
    while let Some(nl) = memchr::memchr(b'\n', rest) {
        rest = &rest[nl + 1..];
        if rest.len() > 11
            && (rest[0] | 0x20) == b'c'
            && rest[..11].eq_ignore_ascii_case(b"connection:")
        {
            let end = memchr::memchr(b'\r', rest).unwrap_or(rest.len());
            return rest[11..end].trim_ascii().eq_ignore_ascii_case(b"close");
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[&[u8]]) -> (Vec<u8>, usize) {
        let canned = Canned::new();
        let finder = Finder::new(b"\r\n\r\n");
        let mut out = Vec::new();
        let mut pending = Vec::new();
        let mut answered = 0;
        for chunk in input {
            let searched = pending.len();
            pending.extend_from_slice(chunk);
            let before = out.len();
            let (used, _) = answer(
                &pending,
                searched.saturating_sub(3),
                &canned,
                &mut out,
                &finder,
            );
            pending.drain(..used);
            answered += (out.len() > before) as usize;
        }
        (out, answered)
    }

    #[test]
    fn pipelined_requests_split_across_reads() {
        let (out, _) = run(&[
            b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\nGET /json HTTP/1.1\r",
            b"\n",
            b"Host: a\r\n\r",
            b"\nGET /nope HTTP/1.1\r\n\r\n",
        ]);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2);
        assert_eq!(text.matches("HTTP/1.1 404 Not Found").count(), 1);
        assert!(text.contains("Hello, World!"));
        assert!(text.contains(r#"{"message":"Hello, World!"}"#));
    }

    #[test]
    fn connection_close_is_seen_and_stops_the_batch() {
        let canned = Canned::new();
        let finder = Finder::new(b"\r\n\r\n");
        let mut out = Vec::new();
        let req =
            b"GET /plaintext HTTP/1.1\r\nconnection:  Close \r\n\r\nGET /json HTTP/1.1\r\n\r\n";
        let (used, close) = answer(req, 0, &canned, &mut out, &finder);
        assert!(close);
        assert_eq!(used, req.len() - "GET /json HTTP/1.1\r\n\r\n".len());
        assert!(out.ends_with(b"Connection: close\r\n\r\nHello, World!"));
    }

    #[test]
    fn date_is_patched_in_place() {
        let mut canned = Canned::new();
        canned.set_date(UNIX_EPOCH + Duration::from_secs(784_111_777));
        let r = String::from_utf8(canned.get(Route::Json, false).to_vec()).unwrap();
        assert!(
            r.contains("\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"),
            "{r}"
        );
        assert!(r.ends_with("Content-Length: 27\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n{\"message\":\"Hello, World!\"}"));
    }
}
