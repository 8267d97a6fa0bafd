//! A small Application for the tests that need a real server process: graceful shutdown
//! (`tests/shutdown.rs`), forked workers (`tests/scale_processes.rs`) and nginx in front of
//! two instances (`tests/nginx.rs`).
//!
//! Usage: `scale_app [--port P] [--processes N | --threads N] [--grace-ms MS] [--instance NAME]
//! [--xheaders] [--secret S] [--log]`. It binds 127.0.0.1:P (0: a free port) with
//! `HttpServer::bind`, starts with `start(N)` (default 1: no fork) or `start_threads(N)`, and
//! serves until SIGTERM/SIGINT with `serve_until_shutdown`. Every line goes to stdout in one `write(2)`, so the lines of a parent
//! and its workers never interleave:
//!
//! - `port <port>`: bound (printed once, before any fork);
//! - `ready <task_id|none> <pid>`: this process serves and handles SIGTERM/SIGINT (with
//!   `--threads`: `ready threads <pid>`, once every thread does);
//! - `slow <pid>` / `block <task_id|none> <pid>`: a `/slow` or `/block` request has started;
//! - `done <task_id|none> <pid>`: `serve_until_shutdown` returned (the process then exits 0);
//! - `error <message>`: starting failed (exit status 2).
//!
//! Routes (every response carries `X-Instance`, `X-Task-Id` and `X-Pid`):
//!
//! - `GET /`: `hello from <instance>`;
//! - `GET /slow?ms=N`: answers after N ms (default 1000), without blocking the loop;
//! - `GET /block?ms=N`: blocks the loop's thread N ms (only to make a worker unable to accept);
//! - `GET /form`: a form with the XSRF field; `POST /form` (XSRF-checked): `posted <name>`;
//! - `GET /ip`: `<remote_ip> <protocol> <peer address>`.

use std::sync::OnceLock;
use std::time::Duration;

use squall::http1::HttpServerOptions;
use squall::httpserver::HttpServer;
use squall::prelude::*;

static INSTANCE: OnceLock<String> = OnceLock::new();

fn say(line: &str) {
    let line = format!("{line}\n");
    // SAFETY: one write(2) of a live buffer to stdout.
    unsafe { libc::write(1, line.as_ptr().cast(), line.len()) };
}

fn task() -> String {
    squall::process::task_id().map_or_else(|| "none".to_owned(), |t| t.to_string())
}

fn tag(cx: &mut Context) -> Result<()> {
    cx.set_header("X-Instance", INSTANCE.get().map_or("", String::as_str))?;
    cx.set_header("X-Task-Id", task())?;
    cx.set_header("X-Pid", std::process::id().to_string())?;
    Ok(())
}

fn millis(cx: &Context, default: u64) -> Result<Duration> {
    let ms = match cx.argument_opt("ms")? {
        Some(v) => v
            .parse()
            .map_err(|_| HttpError::new(400).log(format!("bad ms {v:?}")))?,
        None => default,
    };
    Ok(Duration::from_millis(ms))
}

#[derive(Clone, Default)]
struct Hello;

#[handler]
impl Hello {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        tag(cx)?;
        cx.write(format!(
            "hello from {}",
            INSTANCE.get().map_or("", String::as_str)
        ));
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Slow;

#[handler]
impl Slow {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        let wait = millis(cx, 1000)?;
        tag(cx)?;
        say(&format!("slow {}", std::process::id()));
        squall::task::sleep(wait).await;
        cx.write("slow done");
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Block;

#[handler]
impl Block {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let wait = millis(cx, 1000)?;
        tag(cx)?;
        say(&format!("block {} {}", task(), std::process::id()));
        std::thread::sleep(wait);
        cx.write("blocked");
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Form;

#[handler]
impl Form {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        tag(cx)?;
        let field = cx.xsrf_form_html()?;
        cx.write(format!(
            "<form method=post action=/form>{field}<input name=name></form>"
        ));
        Ok(())
    }

    fn post(&mut self, cx: &mut Context) -> Result<()> {
        tag(cx)?;
        let name = cx.argument("name")?;
        cx.write(format!("posted {}", squall::escape::xhtml_escape(&name)));
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Ip;

#[handler]
impl Ip {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        tag(cx)?;
        let line = format!(
            "{} {} {}",
            cx.remote_ip(),
            cx.protocol(),
            cx.request().remote_addr()
        );
        cx.write(line);
        Ok(())
    }
}

struct Args {
    port: u16,
    processes: usize,
    threads: Option<usize>,
    grace: Duration,
    xheaders: bool,
    secret: String,
    log: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        port: 0,
        processes: 1,
        threads: None,
        grace: Duration::from_secs(30),
        xheaders: false,
        secret: "scale-test-secret".to_owned(),
        log: false,
    };
    let mut instance = "default".to_owned();
    let mut it = std::env::args().skip(1);
    let bad = |flag: &str| -> ! {
        say(&format!("error bad value for {flag}"));
        std::process::exit(2)
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| bad(&flag));
        match flag.as_str() {
            "--port" => args.port = value().parse().unwrap_or_else(|_| bad("--port")),
            "--processes" => {
                args.processes = value().parse().unwrap_or_else(|_| bad("--processes"))
            }
            "--threads" => {
                args.threads = Some(value().parse().unwrap_or_else(|_| bad("--threads")))
            }
            "--grace-ms" => {
                let ms = value().parse().unwrap_or_else(|_| bad("--grace-ms"));
                args.grace = Duration::from_millis(ms);
            }
            "--instance" => instance = value(),
            "--secret" => args.secret = value(),
            "--xheaders" => args.xheaders = true,
            "--log" => args.log = true,
            other => bad(other),
        }
    }
    let _ = INSTANCE.set(instance);
    args
}

fn make_app(secret: String) -> Application {
    Application::with_settings(
        routes![
            (r"/", Hello),
            (r"/slow", Slow),
            (r"/block", Block),
            (r"/form", Form),
            (r"/ip", Ip),
        ],
        Settings {
            xsrf_cookies: true,
            cookie_secret: Some(secret.into()),
            ..Settings::default()
        },
    )
    .expect("valid settings")
}

fn main() {
    let args = parse_args();
    if args.log {
        squall::log::enable_pretty_logging(log::LevelFilter::Debug);
    }
    let options = HttpServerOptions {
        xheaders: args.xheaders,
        access_log: args.log,
        shutdown_grace: args.grace,
        ..HttpServerOptions::default()
    };
    let fail = |e: std::io::Error| -> ! {
        say(&format!("error {e}"));
        std::process::exit(2)
    };
    let bound = HttpServer::bind(args.port, "127.0.0.1")
        .unwrap_or_else(|e| fail(e))
        .options(options);
    say(&format!("port {}", bound.local_addrs()[0].port()));
    let secret = args.secret;
    if let Some(n) = args.threads {
        let servers = bound
            .start_threads(n, move || make_app(secret.clone()))
            .unwrap_or_else(|e| fail(e));
        servers.shutdown_on_signals().unwrap_or_else(|e| fail(e));
        say(&format!("ready threads {}", std::process::id()));
        servers.serve_until_shutdown().unwrap_or_else(|e| fail(e));
        say(&format!("done threads {}", std::process::id()));
        return;
    }
    let server = bound
        .start(args.processes, move || make_app(secret))
        .unwrap_or_else(|e| fail(e));
    server.shutdown_on_signals().unwrap_or_else(|e| fail(e));
    say(&format!("ready {} {}", task(), std::process::id()));
    server.serve_until_shutdown().unwrap_or_else(|e| fail(e));
    say(&format!("done {} {}", task(), std::process::id()));
}
