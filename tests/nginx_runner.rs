//! Running nginx in tests: found on `PATH` (or `$SQUALL_NGINX`), skipped with a message when
//! missing unless `SQUALL_REQUIRE_NGINX=1` (set by `.ci/run`), run in the foreground as a child
//! (its own process group, killed on drop) with a configuration the test writes into a
//! temporary prefix, and counted as started only once it has written its pid file and its
//! port accepts. Used by `tests/nginx.rs` (Squall behind nginx) and `tests/httpclient_nginx.rs`
//! (the HTTP client against nginx).

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The nginx binary: `$SQUALL_NGINX`, else `nginx` on `PATH` or in the usual sbin folders.
pub fn find_nginx() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SQUALL_NGINX") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            [
                "/usr/sbin",
                "/usr/local/sbin",
                "/usr/local/nginx/sbin",
                "/sbin",
            ]
            .iter()
            .map(PathBuf::from),
        )
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
}

/// nginx, or `None` (test skipped) when it is missing and not required.
pub fn nginx_or_skip() -> Option<PathBuf> {
    match find_nginx() {
        Some(p) => Some(p),
        None if std::env::var("SQUALL_REQUIRE_NGINX").as_deref() == Ok("1") => {
            panic!("nginx is not installed and SQUALL_REQUIRE_NGINX=1 (apt-get install nginx)")
        }
        None => {
            // Straight to fd 2: libtest captures eprintln! of passing tests, and a skip must
            // be seen.
            let msg = "tests/nginx.rs: skipping, nginx is not installed (apt-get install \
                       nginx; SQUALL_REQUIRE_NGINX=1 makes this a failure)\n";
            // SAFETY: one write(2) of a live buffer to stderr.
            unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
            None
        }
    }
}

/// `nginx -v`'s version as (major, minor, patch).
pub fn nginx_version(bin: &Path) -> (u32, u32, u32) {
    let out = Command::new(bin).arg("-v").output().expect("nginx -v");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = text
        .split("nginx/")
        .nth(1)
        .unwrap_or("0.0.0")
        .split_whitespace()
        .next()
        .unwrap_or("0.0.0")
        .to_owned();
    let mut parts = v.split('.').map(|p| p.parse().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "squall-nginx-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Default for TempDir {
    fn default() -> TempDir {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The lines every generated configuration starts with: no daemon, everything under `dir`, and
/// workers that can write there (as root nginx would switch them to `nobody`).
pub fn preamble(dir: &Path) -> String {
    let d = dir.display();
    let user = if is_root() { "user root;" } else { "" };
    format!(
        "daemon off;\nmaster_process on;\nworker_processes 1;\n{user}\n\
         pid {d}/nginx.pid;\nerror_log {d}/error.log info;\n"
    )
}

/// The temp paths nginx would otherwise put under its compiled-in prefix.
pub fn temp_paths(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n    \
         fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    \
         scgi_temp_path {d}/scgi;\n"
    )
}

pub fn nginx_command(bin: &Path, dir: &Path, conf: &Path) -> Command {
    let mut cmd = Command::new(bin);
    if nginx_version(bin) >= (1, 19, 5) {
        // The startup error log, before the configuration's error_log applies.
        cmd.arg("-e").arg(dir.join("error.log"));
    }
    cmd.arg("-p").arg(dir).arg("-c").arg(conf);
    cmd
}

/// nginx running in the foreground as our child (its own process group).
pub struct Nginx {
    /// The master process.
    pub child: Child,
    /// Its prefix: configuration, pid file, logs, temp paths.
    pub dir: TempDir,
    /// Where it listens (127.0.0.1).
    pub addr: SocketAddr,
}

/// Writes a configuration for nginx in `dir` listening on 127.0.0.1:`port`.
pub type Config<'a> = &'a dyn Fn(&Path, u16) -> String;

impl Nginx {
    /// nginx on a free port. The port is free when chosen but another process may take it
    /// before nginx binds it: nginx then exits with "Address already in use", and the start is
    /// retried on a new port (a few times; any other failure panics at once).
    pub fn start(bin: &Path, config: Config<'_>) -> Nginx {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            match Nginx::try_start(bin, free_port(), config) {
                Ok(n) => return n,
                Err(log) if log.contains("Address already in use") && attempt < ATTEMPTS => {
                    eprintln!("nginx_runner: port taken before nginx bound it; retrying");
                }
                Err(log) => panic!("nginx exited:\n{log}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// nginx listening on `port`, or its error log if it exited first.
    pub fn try_start(bin: &Path, port: u16, config: Config<'_>) -> Result<Nginx, String> {
        let dir = TempDir::new();
        let conf = dir.0.join("nginx.conf");
        fs::write(&conf, config(&dir.0, port)).unwrap();
        // nginx repeats its start-up errors on stderr: kept in a file (and in the error log),
        // not on the test's output, where an expected bind failure would look like a problem.
        let stderr = fs::File::create(dir.0.join("stderr.log")).unwrap();
        let child = nginx_command(bin, &dir.0, &conf)
            .stdin(Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .expect("start nginx");
        let mut n = Nginx {
            child,
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + squall::testing::READ_TIMEOUT;
        // Listening means: nginx wrote its pid file (it does so only after binding its
        // sockets) and the port accepts. The port alone could be someone else's listener.
        let pid_file = n.dir.0.join("nginx.pid");
        let own_pid = n.child.id().to_string();
        let written = |p: &Path| fs::read_to_string(p).is_ok_and(|s| s.trim() == own_pid);
        while !(written(&pid_file) && TcpStream::connect(n.addr).is_ok()) {
            if let Some(st) = n.child.try_wait().unwrap() {
                return Err(format!("({st})\n{}", n.error_log()));
            }
            assert!(
                Instant::now() < deadline,
                "nginx not listening:\n{}",
                n.error_log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(n)
    }

    /// What nginx logged: its error log, then what it wrote on stderr.
    pub fn error_log(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.0.join(name)).unwrap_or_default();
        format!("{}{}", read("error.log"), read("stderr.log"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // A master already reaped (it exited at start-up, before forking workers) has a pid
        // that may be reused by now: signal nothing then.
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signals to our unreaped child (fast shutdown) and then its group.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: the group we created; workers that outlived the master die here.
        unsafe { libc::killpg(pid, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}
