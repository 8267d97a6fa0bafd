//! [`FakeServer`]: a raw TCP server on `127.0.0.1:0` for client tests, answering each
//! connection with exact bytes from a test's script (bad framing, stalls, closes, resets),
//! counting the connections it accepts.
//!
//! Every connection runs its script on its own thread; every blocking read has a timeout, and
//! a script that waits for the client (a stall) waits for the client to close, so nothing
//! outlives the test by more than [`READ_TIMEOUT`].

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use squall::testing::READ_TIMEOUT;

/// One accepted connection, handed to the script.
pub struct Conn {
    /// The socket (blocking, with read and write timeouts).
    pub stream: TcpStream,
    /// Which connection this is: 0 for the first accepted.
    pub index: usize,
    buf: Vec<u8>,
}

impl Conn {
    /// Reads one request (head, and a body by Content-Length) and returns it as text; `None`
    /// if the client closed (or reset, or timed out) first.
    pub fn read_request(&mut self) -> Option<String> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end + 4]).into_owned();
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (n, v) = l.split_once(':')?;
                        n.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if self.buf.len() >= end + 4 + len {
                    let all = self.buf.drain(..end + 4 + len).collect::<Vec<u8>>();
                    return Some(String::from_utf8_lossy(&all).into_owned());
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads one request head only (not its body); `None` if the client closed first.
    pub fn read_head(&mut self) -> Option<String> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let all = self.buf.drain(..end + 4).collect::<Vec<u8>>();
                return Some(String::from_utf8_lossy(&all).into_owned());
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Writes `bytes` (errors ignored: the client may be gone, which the test checks itself).
    pub fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
        let _ = self.stream.flush();
    }

    /// Stalls until the client closes the connection (or [`READ_TIMEOUT`] passes), reading
    /// and dropping whatever it sends.
    pub fn wait_for_client_close(&mut self) {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = self.stream.read(&mut chunk) {
            if n == 0 {
                break;
            }
        }
    }

    /// Closes with a reset (SO_LINGER 0) instead of a FIN.
    pub fn reset(self) {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.stream);
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt on our own open socket with a valid linger struct.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const libc::linger as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
        drop(self.stream);
    }

    /// Closes cleanly (FIN) after what was sent.
    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Write);
        drop(self.stream);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

type Script = dyn Fn(Conn) + Send + Sync + 'static;

/// A raw server whose connections run a test's script.
pub struct FakeServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Serves every accepted connection with `script` (on a thread of its own).
    pub fn start(script: impl Fn(Conn) + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        let (acc, st) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut workers = Vec::new();
            for stream in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let index = acc.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
                let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
                let script = script.clone();
                workers.push(std::thread::spawn(move || {
                    script(Conn {
                        stream,
                        index,
                        buf: Vec::new(),
                    })
                }));
            }
            for w in workers {
                let _ = w.join();
            }
        });
        FakeServer {
            addr,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    /// A server answering every request on every connection with `response` (keep-alive as
    /// the bytes say), until the client closes.
    pub fn always(response: impl Into<Vec<u8>>) -> FakeServer {
        let response = response.into();
        FakeServer::start(move |mut c| {
            while c.read_request().is_some() {
                c.send(&response);
            }
        })
    }

    /// A server that sends `response` to the first request and closes the connection.
    pub fn once_then_close(response: impl Into<Vec<u8>>) -> FakeServer {
        let response = response.into();
        FakeServer::start(move |mut c| {
            if c.read_request().is_some() {
                c.send(&response);
            }
            c.close();
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees `stop`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A listener whose accept queue is full and never served: a connect to it gets no answer
/// (the kernel drops the SYN), so only a connect timeout ends it.
pub struct Unanswering {
    /// The listener (never accepting).
    pub listener: TcpListener,
    _held: Vec<TcpStream>,
}

impl Unanswering {
    /// Fills a backlog-0 listener's accept queue; `None` if every connect was answered.
    pub fn start() -> Option<Unanswering> {
        let listener =
            squall::netutil::bind_socket("127.0.0.1:0".parse().unwrap(), 0).expect("bind");
        let addr = listener.local_addr().unwrap();
        let mut held = Vec::new();
        for _ in 0..16 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(s) => held.push(s),
                Err(e)
                    if e.kind() == io::ErrorKind::TimedOut
                        || e.kind() == io::ErrorKind::WouldBlock =>
                {
                    return Some(Unanswering {
                        listener,
                        _held: held,
                    });
                }
                Err(e) => panic!("unexpected connect error filling the backlog: {e}"),
            }
        }
        None
    }

    /// The listener's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.listener.local_addr().unwrap())
    }
}
