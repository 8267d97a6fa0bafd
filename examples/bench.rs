//! The benchmark server: TechEmpower's `GET /plaintext` and `GET /json`, either on the raw
//! HTTP delegate or through the full Application (routing, handler, context).
//!
//! ```sh
//! cargo run --release --example bench -- --port 8080          # through the Application
//! cargo run --release --example bench -- --port 8080 --raw    # the raw HTTP delegate
//! ```

mod common;

use serde::Serialize;
use squall::http1::{Request, Responder};
use squall::httpserver::{HTTPServer, HttpServerOptions};
use squall::prelude::*;

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

fn main() -> std::io::Result<()> {
    let args = common::Args::parse();
    let options = HttpServerOptions {
        access_log: false,
        ..HttpServerOptions::default()
    };
    let server = if args.flag("--raw") {
        HTTPServer::with_options(raw, options)
    } else {
        let app = Application::new(routes![(r"/plaintext", Plaintext), (r"/json", Json)]);
        app.into_server_with(options)
    };
    server.listen(args.port, &args.address)?;
    eprintln!(
        "bench server ({}) on {}:{}",
        if args.flag("--raw") {
            "raw"
        } else {
            "application"
        },
        args.address,
        args.port
    );
    IOLoop::current().start();
    Ok(())
}
