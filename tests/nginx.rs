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
//! `.ci/run`), which makes them fail (`squall_tests::nginx_runner`). Every wait is bounded;
//! every process is killed at the end.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use squall::testing::{TestClient, WireClient};
use squall_tests::app_process::AppProcess;
use squall_tests::nginx_runner::{
    free_port, is_root, nginx_command, nginx_or_skip, preamble, temp_paths, Nginx, TempDir,
};

const APP: &str = env!("CARGO_BIN_EXE_scale_app");
const LIMIT: Duration = Duration::from_secs(10);

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
        let (pa, pb) = (a_addr.port(), b_addr.port());
        let nginx = Nginx::start(&bin, &|dir, port| test_config(dir, port, pa, pb));
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
        let mut c = WireClient::connect(addr);
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
    let get = |c: &mut WireClient, path: &str| {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        c.read_response()
    };
    let mut answered = 0;
    let mut before = Vec::new();
    let mut c = WireClient::connect(stack.nginx.addr);
    for _ in 0..24 {
        let r = get(&mut c, "/");
        assert_eq!(r.status, 200, "{r:?}");
        before.push(r.header("X-Instance").unwrap().to_owned());
        answered += 1;
    }
    assert!(before.iter().any(|i| i == "a") && before.iter().any(|i| i == "b"));

    // Two slow requests at once: round robin gives one to each instance. Kill A while it
    // handles its one: nginx sees the connection reset and retries the GET on B.
    let mut s1 = WireClient::connect(stack.nginx.addr);
    let mut s2 = WireClient::connect(stack.nginx.addr);
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
    let (pa, pb) = (free_port(), free_port());
    let config = |dir: &Path, port| test_config(dir, port, pa, pb);
    let log = match Nginx::try_start(&bin, port, &config) {
        Ok(_) => panic!("nginx started on a port that is held"),
        Err(log) => log,
    };
    assert!(log.contains("Address already in use"), "{log}");
    // And the retrying start gets a listening nginx.
    let n = Nginx::start(&bin, &config);
    assert!(TcpStream::connect(n.addr).is_ok());
}
