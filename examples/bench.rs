//! The benchmark server: TechEmpower's `GET /plaintext` and `GET /json`, either on the raw
//! HTTP delegate or through the full Application (routing, handler, context); `GET /gzip`,
//! 16 KiB of text for measuring response compression (Application only); `GET /fortunes`,
//! TechEmpower's Fortunes page without its database (Application only: twelve fortunes kept in
//! memory, one more added per request, sorted by message, rendered by the minijinja template
//! `templates/bench/fortunes.html` with HTML escaping), to measure template rendering against
//! `bench/peers/tornado_peer.py`'s same page; and a WebSocket echo at `/ws` (Application only;
//! permessage-deflate when the client offers it) for `bench/ws.sh`.
//!
//! ```sh
//! cargo run --release --example bench -- --port 8080          # through the Application
//! cargo run --release --example bench -- --port 8080 --raw    # the raw HTTP delegate
//! cargo run --release --example bench -- --port 8080 --edge   # edge-triggered loop
//! cargo run --release --example bench -- --processes 0         # one forked worker per CPU
//! cargo run --release --example bench -- --threads 2           # two loops on two threads
//! cargo run --release --example bench -- --gzip                # compress_response on
//! cargo run --release --example bench -- --gzip --gzip-level 6 # at another level (default 2)
//! cargo run --release --example bench -- --cert c.pem --key k.pem  # HTTPS
//! ```
//!
//! `/gzip` serves `common::lorem(16384)` as text/html (the default type) without an ETag, like
//! `bench/peers/tornado_peer.py`'s; with `--gzip` (Tornado's `--gzip`: `compress_response`)
//! a request with `Accept-Encoding: gzip` gets it compressed.
//!
//! `--processes N` binds, then forks N workers (`HttpServer::bind(..).start(N, ..)`; 0: one
//! per CPU); `--threads N` runs N loops on N threads over the same socket (`start_threads`).
//! Without either, one loop in this process. SIGTERM or Ctrl-C drains and exits 0.

mod common;

use serde::Serialize;
use squall::http1::HttpServerOptions;
use squall::http1::{Request, Responder};
use squall::httpserver::HttpServer;
use squall::prelude::*;
use squall::web::templates::context;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

/// Serializes the JSON body per request, as TechEmpower requires, into a stack buffer.
fn json_body(buf: &mut [u8; 64]) -> &[u8] {
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let n = match serde_json::to_writer(
        &mut cursor,
        &Message {
            message: "Hello, World!",
        },
    ) {
        Ok(()) => cursor.position() as usize,
        Err(_) => 0,
    };
    &buf[..n]
}

fn raw(req: Request, res: Responder) {
    match req.path() {
        "/plaintext" => res.respond(200, &[("Content-Type", "text/plain")], b"Hello, World!"),
        "/json" => {
            let mut buf = [0u8; 64];
            res.respond(
                200,
                &[("Content-Type", "application/json")],
                json_body(&mut buf),
            )
        }
        _ => res.respond(404, &[("Content-Type", "text/plain")], b"Not Found"),
    }
}

#[derive(Clone, Default)]
struct Plaintext;

#[handler]
impl Plaintext {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.set_header("Content-Type", "text/plain")?;
        cx.write("Hello, World!");
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Json;

#[handler]
impl Json {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.write_json(&Message {
            message: "Hello, World!",
        })
    }
}

/// Size of `/gzip`'s body.
const GZIP_LEN: usize = 16 * 1024;

thread_local! {
    static LOREM: Vec<u8> = common::lorem(GZIP_LEN);
}

#[derive(Clone, Default)]
struct Gzip;

#[handler]
impl Gzip {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        // The default Content-Type (text/html; charset=UTF-8, as Tornado's), so that the
        // /plaintext handler stays the only caller of set_header in this binary and is
        // compiled as it was before this route existed. As the Tornado peer: no ETag, so the
        // measure is the compression, not an MD5.
        cx.set_etag_enabled(false);
        LOREM.with(|text| cx.write(text));
        Ok(())
    }
}

/// One row of the Fortunes page.
#[derive(Serialize)]
struct Fortune {
    id: u32,
    message: &'static str,
}

/// TechEmpower's fortunes (the benchmark's database table), in memory.
const FORTUNES: [(u32, &str); 12] = [
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. \u{2014} Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. \u{2014} Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, "<script>alert(\"This should not be displayed in a browser alert box.\");</script>"),
    (12, "\u{30d5}\u{30ec}\u{30fc}\u{30e0}\u{30ef}\u{30fc}\u{30af}\u{306e}\u{30d9}\u{30f3}\u{30c1}\u{30de}\u{30fc}\u{30af}"),
];

/// `GET /fortunes`: the rows, one added, sorted by message, rendered by the template
/// (`text/html; charset=UTF-8`, the default type). No ETag, as the Tornado peer sends none.
#[derive(Clone, Default)]
struct Fortunes;

#[handler]
impl Fortunes {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let mut fortunes: Vec<Fortune> = FORTUNES
            .iter()
            .map(|&(id, message)| Fortune { id, message })
            .collect();
        fortunes.push(Fortune {
            id: 0,
            message: "Additional fortune added at request time.",
        });
        fortunes.sort_by(|a, b| a.message.cmp(b.message));
        cx.set_etag_enabled(false);
        cx.render("fortunes.html", context! { fortunes })
    }
}

/// `GET /ws`: every WebSocket message back as it came.
#[derive(Clone, Default)]
struct WsEcho;

#[websocket_handler]
impl WsEcho {
    fn on_message(
        &mut self,
        ws: &WebSocket,
        message: squall::websocket::Message<'_>,
    ) -> Result<()> {
        ws.write_message(message)?;
        Ok(())
    }
}

/// The application; `gzip_level` turns `compress_response` on at that level.
fn app(gzip_level: Option<u32>) -> Application {
    let mut settings = Settings {
        websocket_compression: Some(squall::websocket::CompressionOptions::default()),
        template_path: Some(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/bench"),
        ),
        ..Settings::default()
    };
    if let Some(level) = gzip_level {
        settings.compress_response = true;
        settings.compression.level = level;
    }
    Application::with_settings(
        routes![
            (r"/plaintext", Plaintext),
            (r"/json", Json),
            (r"/gzip", Gzip),
            (r"/fortunes", Fortunes),
            (r"/ws", WsEcho)
        ],
        settings,
    )
    .unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    })
}

fn main() -> std::io::Result<()> {
    let args = common::Args::parse();
    let raw_mode = args.flag("--raw");
    let gzip_level = args.flag("--gzip").then(|| {
        args.get("--gzip-level")
            .unwrap_or(squall::web::CompressionOptions::default().level)
    });
    let app = move || app(gzip_level);
    let processes: Option<usize> = args.get("--processes");
    let threads: Option<usize> = args.get("--threads");
    if processes.is_some() && threads.is_some() {
        eprintln!("--processes and --threads are exclusive");
        std::process::exit(2);
    }
    let options = HttpServerOptions {
        access_log: false,
        tls: args.tls(),
        ..HttpServerOptions::default()
    };
    let bound = HttpServer::bind(args.port, &args.address)?.options(options);
    eprintln!(
        "bench server ({}{}) on {}:{}, {}",
        if raw_mode { "raw" } else { "application" },
        match gzip_level {
            Some(l) => format!(", gzip level {l}"),
            None => String::new(),
        },
        args.address,
        args.port,
        match (processes, threads) {
            (Some(n), _) => format!("{n} processes (0: one per CPU)"),
            (_, Some(n)) => format!("{n} threads (0: one per CPU)"),
            _ => "one loop".to_owned(),
        }
    );
    if let Some(n) = threads {
        let servers = if raw_mode {
            bound.start_threads(n, || raw)?
        } else {
            bound.start_threads(n, app)?
        };
        return servers.serve_until_shutdown();
    }
    let n = processes.unwrap_or(1);
    if args.flag("--edge") {
        // Edge-triggered readiness for the single-loop server (the default is level): to
        // compare the two modes on the same binary.
        if n != 1 {
            eprintln!("--edge goes with a single loop (no --processes)");
            std::process::exit(2);
        }
        squall::ioloop::IOLoop::builder()
            .trigger(squall::ioloop::Trigger::Edge)
            .build()?
            .make_current();
    }
    let server = if raw_mode {
        bound.start(n, || raw)?
    } else {
        bound.start(n, app)?
    };
    server.serve_until_shutdown()
}
