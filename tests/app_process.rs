//! [`AppProcess`]: a server program (such as `tests/bin/scale_app.rs`) run as a child process
//! in its own process group, its stdout read line by line, every wait bounded, and the whole
//! group SIGKILLed when the value is dropped (so a failing test leaves no process behind).

use std::io::{self, BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Bound on every wait for a line of output.
pub const LINE_TIMEOUT: Duration = Duration::from_secs(20);

/// A child process and its output lines.
pub struct AppProcess {
    child: Child,
    lines: Receiver<String>,
    /// Every line so far, for failure messages.
    pub seen: Vec<String>,
    /// Lines not yet matched by [`expect`](AppProcess::expect).
    unclaimed: Vec<String>,
    /// The process has been reaped and every process holding its stdout has exited.
    finished: bool,
}

impl AppProcess {
    /// Starts `program` with `args`, stdin closed, stdout piped, stderr inherited, as the leader
    /// of a new process group.
    pub fn start(program: &str, args: &[&str]) -> AppProcess {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        let out = child.stdout.take().expect("piped stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        AppProcess {
            child,
            lines,
            seen: Vec::new(),
            unclaimed: Vec::new(),
            finished: false,
        }
    }

    /// The child's pid (also its process group id).
    pub fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Waits (bounded) for the first unclaimed line whose words satisfy `pred`; returns them.
    pub fn expect(&mut self, what: &str, pred: impl Fn(&[&str]) -> bool) -> Vec<String> {
        let matches = |line: &str| pred(&line.split_whitespace().collect::<Vec<_>>());
        let words = |line: &str| line.split_whitespace().map(String::from).collect();
        if let Some(i) = self.unclaimed.iter().position(|l| matches(l)) {
            return words(&self.unclaimed.remove(i));
        }
        let deadline = Instant::now() + LINE_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if matches(&line) {
                        return words(&line);
                    }
                    self.unclaimed.push(line);
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("timed out waiting for {what}; saw {:#?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("output ended before {what}; saw {:#?}", self.seen)
                }
            }
        }
    }

    /// Waits for a line starting with `word`; returns its words.
    pub fn expect_word(&mut self, word: &str) -> Vec<String> {
        self.expect(word, |w| w.first() == Some(&word))
    }

    /// Waits for the `port <n>` line and returns `127.0.0.1:<n>`.
    pub fn expect_port(&mut self) -> SocketAddr {
        let w = self.expect_word("port");
        let port: u16 = w[1].parse().expect("port number");
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Sends `sig` to the child (the group leader only).
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our child, which is not reaped yet (finished is false).
        assert!(!self.finished);
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0);
    }

    /// Whether the child has exited (reaping it if so).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits at most `limit` for the child to exit, then for its output to end (every process
    /// holding stdout, workers included, has exited). Panics past the limit.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(st) = self.try_wait() {
                break st;
            }
            assert!(
                Instant::now() < deadline,
                "process did not exit within {limit:?}; saw {:#?}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        let deadline = Instant::now() + LINE_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    self.unclaimed.push(line);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.finished = true;
                    break;
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("a worker outlived its parent; saw {:#?}", self.seen)
                }
            }
        }
        status
    }

    /// Lines seen so far whose first word is `word`, as words.
    pub fn lines(&self, word: &str) -> Vec<Vec<String>> {
        self.seen
            .iter()
            .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
            .filter(|w| w.first().map(String::as_str) == Some(word))
            .collect()
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        if self.finished {
            return; // nobody left, and the group id may already be reused
        }
        // The child leads its own group: this reaches it and every worker it forked. The id
        // cannot have been reused: the unreaped child or a live worker still holds it.
        // SAFETY: killpg on the group we created.
        unsafe { libc::killpg(self.pid(), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// Polls `addr` until a connection is refused, at most `limit`; returns how long it took.
/// Connections that still succeed are closed at once. Panics past the limit.
pub fn wait_refused(addr: SocketAddr, limit: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return t0.elapsed(),
            // A listener closing while our connection sits in its backlog resets it, and a
            // loaded machine can time a connect out: neither says the port is closed yet.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("connect to {addr}: unexpected error {e}"),
            Ok(c) => drop(c),
        }
        assert!(
            t0.elapsed() < limit,
            "{addr} still accepts connections after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
