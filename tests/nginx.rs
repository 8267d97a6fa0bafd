//! Squall behind nginx: two instances of `tests/bin/scale_app.rs` (XSRF on, one shared
//! `cookie_secret`, `xheaders` on, an `X-Instance` header) on loopback ports, nginx in front with
//! a configuration generated in a temporary directory (`daemon off`, its own pid file, logs and
//! temp paths, free ports), run as a child process.
//!
//! The configuration is `deploy/nginx.conf`'s proxy settings plus a `map` on the request's
//! `X-Instance` header, so the test chooses which instance answers (`a`, `b`, or the
//! round-robin pool when absent), and `proxy_bind 127.0.0.2`, so that nginx's connections to
//! the instances do not come from the client's address (127.0.0.1).
//!
//! Without nginx the tests print a message and pass, unless `SQUALL_REQUIRE_NGINX=1` (set by
//! `.ci/run`), which makes them fail. Every wait is bounded; every process is killed at the end.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use squall::testing::TestClient;
use squall_tests::app_process::AppProcess;
use squall_tests::Client;

const APP: &str = env!("CARGO_BIN_EXE_scale_app");
const LIMIT: Duration = Duration::from_secs(10);

/// The nginx binary: `$SQUALL_NGINX`, else `nginx` on `PATH` or in the usual sbin folders.
fn find_nginx() -> Option<PathBuf> {
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
fn nginx_or_skip() -> Option<PathBuf> {
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
fn nginx_version(bin: &Path) -> (u32, u32, u32) {
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

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
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

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The lines every generated configuration starts with: no daemon, everything under `dir`, and
/// workers that can write there (as root nginx would switch them to `nobody`).
fn preamble(dir: &Path) -> String {
    let d = dir.display();
    let user = if is_root() { "user root;" } else { "" };
    format!(
        "daemon off;\nmaster_process on;\nworker_processes 1;\n{user}\n\
         pid {d}/nginx.pid;\nerror_log {d}/error.log info;\n"
    )
}

/// The temp paths nginx would otherwise put under its compiled-in prefix.
fn temp_paths(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n    \
         fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    \
         scgi_temp_path {d}/scgi;\n"
    )
}

/// Whether 127.0.0.2 can be bound (all of 127/8 is loopback on Linux).
fn second_loopback() -> bool {
    TcpListener::bind("127.0.0.2:0").is_ok()
}

fn test_config(dir: &Path, port: u16, a: u16, b: u16) -> String {
    let d = dir.display();
    let bind = if second_loopback() {
        "proxy_bind 127.0.0.2;"
    } else {
        ""
    };
    format!(
        "{preamble}
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
{temp}
    upstream pool {{
        server 127.0.0.1:{a} max_fails=1 fail_timeout=30s;
        server 127.0.0.1:{b} max_fails=1 fail_timeout=30s;
        keepalive 8;
    }}
    upstream instance_a {{ server 127.0.0.1:{a}; keepalive 4; }}
    upstream instance_b {{ server 127.0.0.1:{b}; keepalive 4; }}
    map $http_x_instance $squall_upstream {{
        a instance_a;
        b instance_b;
        default pool;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://$squall_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            {bind}
            proxy_connect_timeout 2s;
            proxy_read_timeout 10s;
            proxy_next_upstream error timeout http_502;
            proxy_next_upstream_tries 3;
        }}
    }}
}}
",
        preamble = preamble(dir),
        temp = temp_paths(dir),
    )
}

fn nginx_command(bin: &Path, dir: &Path, conf: &Path) -> Command {
    let mut cmd = Command::new(bin);
    if nginx_version(bin) >= (1, 19, 5) {
        // The startup error log, before the configuration's error_log applies.
        cmd.arg("-e").arg(dir.join("error.log"));
    }
    cmd.arg("-p").arg(dir).arg("-c").arg(conf);
    cmd
}

/// nginx running in the foreground as our child (its own process group).
struct Nginx {
    child: Child,
    dir: TempDir,
    addr: SocketAddr,
}

impl Nginx {
    /// nginx on a free port. The port is free when chosen but another process may take it
    /// before nginx binds it: nginx then exits with "Address already in use", and the start is
    /// retried on a new port (a few times; any other failure panics at once).
    fn start(bin: &Path, a: u16, b: u16) -> Nginx {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            match Nginx::try_start(bin, free_port(), a, b) {
                Ok(n) => return n,
                Err(log) if log.contains("Address already in use") && attempt < ATTEMPTS => {
                    eprintln!("tests/nginx.rs: port taken before nginx bound it; retrying");
                }
                Err(log) => panic!("nginx exited:\n{log}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// nginx listening on `port`, or its error log if it exited first.
    fn try_start(bin: &Path, port: u16, a: u16, b: u16) -> Result<Nginx, String> {
        let dir = TempDir::new();
        let conf = dir.0.join("nginx.conf");
        fs::write(&conf, test_config(&dir.0, port, a, b)).unwrap();
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
        let deadline = Instant::now() + LIMIT;
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
    fn error_log(&self) -> String {
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

/// Two instances and nginx in front; everything is killed on drop.
struct Stack {
    a: AppProcess,
    b: AppProcess,
    a_addr: SocketAddr,
    nginx: Nginx,
}

fn instance(name: &str) -> (AppProcess, SocketAddr) {
    let mut app = AppProcess::start(
        APP,
        &[
            "--instance",
            name,
            "--xheaders",
            "--secret",
            "one-secret-for-every-instance",
        ],
    );
    let addr = app.expect_port();
    app.expect_word("ready");
    (app, addr)
}

impl Stack {
    fn start() -> Option<Stack> {
        let bin = nginx_or_skip()?;
        let (a, a_addr) = instance("a");
        let (b, b_addr) = instance("b");
        let nginx = Nginx::start(&bin, a_addr.port(), b_addr.port());
        Some(Stack {
            a,
            b,
            a_addr,
            nginx,
        })
    }
}

fn token_in(html: &str) -> String {
    let start = html.find("value=\"").expect("no value in the form") + 7;
    html[start..].split('"').next().unwrap().to_owned()
}

#[test]
fn a_form_from_instance_a_posts_to_instance_b() {
    let Some(stack) = Stack::start() else { return };
    let mut c = TestClient::connect_to(stack.nginx.addr);
    let page = c.request("GET", "/form").header("X-Instance", "a").send();
    assert_eq!(page.status(), 200, "{}", stack.nginx.error_log());
    assert_eq!(page.header("X-Instance"), Some("a"));
    assert!(c.cookie("_xsrf").is_some(), "no _xsrf cookie from A");
    let token = token_in(&page.text());

    let r = c
        .request("POST", "/form")
        .header("X-Instance", "b")
        .form(&[("_xsrf", &token), ("name", "squall")])
        .send();
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(r.header("X-Instance"), Some("b"));
    assert_eq!(r.text(), "posted squall");

    // B really checks: without the token the same post is refused.
    let r = c
        .request("POST", "/form")
        .header("X-Instance", "b")
        .form(&[("name", "squall")])
        .send();
    assert_eq!(r.status(), 403);
}

#[test]
fn remote_ip_is_the_clients_from_x_real_ip_and_cannot_be_spoofed() {
    let Some(stack) = Stack::start() else { return };
    let spoof = "X-Real-IP: 6.6.6.6\r\nX-Forwarded-For: 6.6.6.6\r\n";
    let ask = |addr: SocketAddr| {
        let mut c = Client::connect(addr);
        c.send(format!("GET /ip HTTP/1.1\r\nHost: t\r\n{spoof}X-Instance: a\r\n\r\n").as_bytes());
        let r = c.read_response();
        assert_eq!(r.status, 200, "{r:?}");
        let body = String::from_utf8(r.body).unwrap();
        let w: Vec<String> = body.split_whitespace().map(String::from).collect();
        assert_eq!(w.len(), 3, "{body}");
        (
            w[0].clone(),
            w[1].clone(),
            w[2].parse::<SocketAddr>().unwrap(),
        )
    };

    // Through nginx: X-Real-IP is nginx's $remote_addr (the client's 127.0.0.1), whatever the
    // client claimed; the instance's peer is nginx's own connection.
    let (ip, proto, peer) = ask(stack.nginx.addr);
    assert_eq!(ip, "127.0.0.1", "{}", stack.nginx.error_log());
    assert_eq!(proto, "http");
    if second_loopback() {
        assert_eq!(
            peer.ip().to_string(),
            "127.0.0.2",
            "nginx's proxy_bind address"
        );
    }

    // Directly, the instance believes whatever the headers say (xheaders is on): this is why
    // instances listen on loopback only, behind the proxy.
    let (ip, _, peer) = ask(stack.a_addr);
    assert_eq!(ip, "6.6.6.6");
    assert_eq!(peer.ip().to_string(), "127.0.0.1");
}

#[test]
fn killing_one_instance_loses_no_request() {
    let Some(mut stack) = Stack::start() else {
        return;
    };
    let get = |c: &mut Client, path: &str| {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        c.read_response()
    };
    let mut answered = 0;
    let mut before = Vec::new();
    let mut c = Client::connect(stack.nginx.addr);
    for _ in 0..24 {
        let r = get(&mut c, "/");
        assert_eq!(r.status, 200, "{r:?}");
        before.push(r.header("X-Instance").unwrap().to_owned());
        answered += 1;
    }
    assert!(before.iter().any(|i| i == "a") && before.iter().any(|i| i == "b"));

    // Two slow requests at once: round robin gives one to each instance. Kill A while it
    // handles its one: nginx sees the connection reset and retries the GET on B.
    let mut s1 = Client::connect(stack.nginx.addr);
    let mut s2 = Client::connect(stack.nginx.addr);
    s1.send(b"GET /slow?ms=500 HTTP/1.1\r\nHost: t\r\n\r\n");
    s2.send(b"GET /slow?ms=500 HTTP/1.1\r\nHost: t\r\n\r\n");
    stack.a.expect_word("slow");
    stack.a.signal(libc::SIGKILL);
    stack.a.wait_exit(LIMIT);
    for s in [&mut s1, &mut s2] {
        let r = s.read_response();
        assert_eq!(r.status, 200, "{r:?}\n{}", stack.nginx.error_log());
        assert_eq!(r.body, b"slow done");
        assert_eq!(r.header("X-Instance"), Some("b"));
        answered += 1;
    }

    // The rest go to B, including those nginx first tries on A's dead keep-alive connections
    // or its closed port.
    for _ in 0..24 {
        let r = get(&mut c, "/");
        assert_eq!(r.status, 200, "{r:?}\n{}", stack.nginx.error_log());
        assert_eq!(r.header("X-Instance"), Some("b"));
        answered += 1;
    }
    assert_eq!(answered, 50);
    // B served them all and is still fine.
    assert!(stack.b.try_wait().is_none());
}

/// The shipped `deploy/nginx.conf` passes `nginx -t`, with its absolute paths moved into a
/// temporary directory.
#[test]
fn deploy_config_passes_nginx_t() {
    let Some(bin) = nginx_or_skip() else { return };
    let dir = TempDir::new();
    let d = dir.0.display().to_string();
    let shipped = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/nginx.conf"))
        .expect("deploy/nginx.conf");
    let user = if is_root() { "user root;" } else { "" };
    let conf = shipped
        .replace("user www-data;", user)
        .replace("/var/log/nginx/", &format!("{d}/"))
        .replace("/run/nginx.pid", &format!("{d}/nginx.pid"))
        .replace("http {", &format!("http {{\n{}", temp_paths(&dir.0)));
    assert!(conf.contains("listen 80;"));
    let path = dir.0.join("nginx.conf");
    fs::write(&path, conf).unwrap();
    let out = nginx_command(&bin, &dir.0, &path)
        .arg("-t")
        .output()
        .expect("nginx -t");
    assert!(
        out.status.success(),
        "nginx -t failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_port_taken_before_nginx_binds_it_is_reported_for_a_retry() {
    let Some(bin) = nginx_or_skip() else { return };
    // The race `Nginx::start` retries on, made certain: the port is held when nginx starts.
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let log = match Nginx::try_start(&bin, port, free_port(), free_port()) {
        Ok(_) => panic!("nginx started on a port that is held"),
        Err(log) => log,
    };
    assert!(log.contains("Address already in use"), "{log}");
    // And the retrying start gets a listening nginx.
    let n = Nginx::start(&bin, free_port(), free_port());
    assert!(TcpStream::connect(n.addr).is_ok());
}
