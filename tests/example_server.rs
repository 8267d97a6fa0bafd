//! Example programs as real child processes: [`ExampleServer`] runs one of `examples/*.rs` on
//! a free 127.0.0.1 port and kills it when dropped; [`example_binary`] finds (or builds) the
//! binary next to the test executable; [`ScratchDir`] is a temporary folder for their files.

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How long an example may take to accept connections after it was started.
const STARTUP_LIMIT: Duration = Duration::from_secs(15);

/// The workspace root (the tests crate sits right below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

/// A fresh scratch directory under the system's temp dir, removed by [`ScratchDir`]'s drop.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Creates `$TMPDIR/squall-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> ScratchDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "squall-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("cannot create a scratch directory");
        ScratchDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Latest modification time of the Rust sources under `dir` (recursively), if any.
fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|x| x == "rs") {
                if let Ok(m) = meta.modified() {
                    newest = newest.max(Some(m));
                }
            }
        }
    }
    newest
}

/// The path of example `name`'s binary next to this test's executable
/// (`target/<profile>/deps/<test>` → `target/<profile>/examples/<name>`), built with
/// `cargo build --example <name>` (same profile) if it is missing or older than its sources.
/// `cargo test --workspace` builds the examples already, so that is normally a no-op.
///
/// # Panics
///
/// If the binary cannot be found or built.
pub fn example_binary(name: &str) -> PathBuf {
    static CHECKED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let exe = std::env::current_exe().expect("no current_exe");
    let deps = exe.parent().expect("test executable has no parent dir");
    let profile_dir = deps.parent().expect("deps dir has no parent");
    let bin = profile_dir.join("examples").join(name);
    let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    if checked.get_or_insert_with(HashSet::new).contains(name) {
        return bin;
    }
    let root = workspace_root();
    let built = fs::metadata(&bin).and_then(|m| m.modified()).ok();
    let sources = [
        root.join("examples"),
        root.join("framework/src"),
        root.join("framework-macros/src"),
    ]
    .iter()
    .filter_map(|d| newest_mtime(d))
    .max();
    let stale = match (built, sources) {
        (None, _) => true,
        (Some(b), Some(s)) => s > b,
        (Some(_), None) => false,
    };
    if stale {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&root)
            .args(["build", "-p", "squall-examples", "--example", name]);
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                cmd.arg("--release");
            }
            Some(other) => {
                cmd.args(["--profile", other]);
            }
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run cargo to build example {name}: {e}"));
        assert!(
            out.status.success(),
            "cargo build --example {name} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        bin.exists(),
        "example binary {} not found after building it",
        bin.display()
    );
    checked
        .get_or_insert_with(HashSet::new)
        .insert(name.to_owned());
    bin
}

/// Whether process `pid` holds the socket listening on 127.0.0.1:`port`: the listening
/// socket's inode in /proc/net/tcp is among the process's open files.
fn child_listens_on(pid: u32, port: u16) -> bool {
    let Ok(table) = fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let local = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address, rem_address, st (0A: LISTEN) ... inode is the tenth field.
            (f.len() > 9 && f[1] == local && f[3] == "0A").then(|| format!("socket:[{}]", f[9]))
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::read_link(fd.path())
            .map(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
            .unwrap_or(false)
    })
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot find a free port")
}

/// How to start an example: extra arguments and environment.
#[derive(Debug)]
pub struct ExampleBuilder {
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    env_removed: Vec<String>,
}

impl ExampleBuilder {
    /// Adds a command-line argument (after `--port N --address 127.0.0.1`).
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_owned(), v.to_owned()));
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(mut self, k: &str) -> Self {
        self.env_removed.push(k.to_owned());
        self
    }

    /// Starts the example and waits until its port accepts connections.
    ///
    /// # Panics
    ///
    /// If it cannot be started, exits early, or does not accept within 15 s.
    pub fn start(self) -> ExampleServer {
        let bin = example_binary(&self.name);
        static N: AtomicUsize = AtomicUsize::new(0);
        // A port found free may be taken before the child binds it: try a few.
        for _attempt in 0..5 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!(
                "squall-example-{}-{}-{}.log",
                self.name,
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            let stderr = fs::File::create(&log).expect("cannot create the example's log file");
            let mut cmd = Command::new(&bin);
            cmd.args(["--port", &port.to_string(), "--address", "127.0.0.1"])
                .args(&self.args)
                .env_remove("RUST_BACKTRACE")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr);
            for k in &self.env_removed {
                cmd.env_remove(k);
            }
            for (k, v) in &self.env {
                cmd.env(k, v);
            }
            let child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let mut server = ExampleServer {
                name: self.name.clone(),
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                log,
            };
            let t0 = Instant::now();
            loop {
                if let Ok(Some(status)) = server.child.try_wait() {
                    let text = server.log_text();
                    if text.contains("in use") {
                        break; // lost the port race: try another
                    }
                    panic!("example {} exited ({status}) at start:\n{text}", self.name);
                }
                // Accepting is not enough: another process may have taken the port found
                // free, and the example then exits with "in use" after we connected to the
                // stranger. The listening socket must be one of the child's own.
                if TcpStream::connect_timeout(&server.addr, Duration::from_millis(200)).is_ok()
                    && child_listens_on(server.child.id(), port)
                {
                    return server;
                }
                assert!(
                    t0.elapsed() < STARTUP_LIMIT,
                    "example {} did not accept on {} within {STARTUP_LIMIT:?}:\n{}",
                    self.name,
                    server.addr,
                    server.log_text()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("example {}: no free port after 5 attempts", self.name);
    }
}

impl ExampleBuilder {
    /// Runs the example expecting it to refuse to start (a bad configuration): it must exit
    /// with a failure status within 15 s without listening on its port. Returns what it wrote
    /// to stderr, for the test to check the message.
    ///
    /// # Panics
    ///
    /// If it cannot be started, is still running after 15 s (it is then killed), exits with
    /// success, or listens.
    pub fn start_refused(self) -> String {
        let what = format!("example {} with {:?}", self.name, self.env);
        let port = free_port();
        let mut cmd = Command::new(example_binary(&self.name));
        cmd.args(["--port", &port.to_string(), "--address", "127.0.0.1"])
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for k in &self.env_removed {
            cmd.env_remove(k);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        // Its stderr ends when it exits: wait for that, read on another thread, bounded.
        let mut pipe = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            let _ = tx.send(text);
        });
        let Ok(stderr) = rx.recv_timeout(STARTUP_LIMIT) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {STARTUP_LIMIT:?}");
        };
        let status = child.wait().expect("wait for the example");
        assert!(!status.success(), "{what} started:\n{stderr}");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
            "{what} listened"
        );
        stderr
    }
}

/// An example program running as a child process; killed when dropped.
///
/// # Examples
///
/// ```no_run
/// let server = squall_tests::ExampleServer::start("showcase");
/// let mut client = squall::testing::TestClient::connect_to(server.addr());
/// assert_eq!(client.get("/").text(), "Hello, world");
/// ```
#[derive(Debug)]
pub struct ExampleServer {
    name: String,
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl ExampleServer {
    /// Starts example `name` with no extra arguments.
    ///
    /// # Panics
    ///
    /// As [`ExampleBuilder::start`].
    pub fn start(name: &str) -> ExampleServer {
        ExampleServer::builder(name).start()
    }

    /// A builder to add arguments or environment first.
    pub fn builder(name: &str) -> ExampleBuilder {
        ExampleBuilder {
            name: name.to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            env_removed: Vec::new(),
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it has written to stderr so far (its log).
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends signal `sig` (`libc::SIGTERM`, ...) to the process.
    ///
    /// # Panics
    ///
    /// If the signal cannot be sent.
    pub fn signal(&self, sig: i32) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid fits pid_t");
        // SAFETY: kill(2) with our own child's pid; it touches no memory of ours.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(
            rc,
            0,
            "kill({pid}, {sig}): {}",
            std::io::Error::last_os_error()
        );
    }

    /// Waits up to `limit` for the process to exit: its status, or `None` if still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let t0 = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if t0.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits up to `limit` for the log to contain `needle`; whether it did.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() <= limit {
            if self.log_text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for ExampleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let text = self.log_text();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("---- last lines of the {} example's log ----", self.name);
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
        let _ = fs::remove_file(&self.log);
    }
}

#[cfg(test)]
mod tests {
    use super::child_listens_on;

    #[test]
    fn a_listener_belongs_to_its_own_process_only() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(child_listens_on(std::process::id(), port));
        // PID 1 (init) does not hold our socket.
        assert!(!child_listens_on(1, port));
        drop(l);
        assert!(!child_listens_on(std::process::id(), port));
    }
}
