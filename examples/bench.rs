//! The benchmark server: TechEmpower's `GET /plaintext` and `GET /json`.
//!
//! ```sh
//! cargo run --release --example bench -- --port 8080            # raw HTTP delegate
//! ```

mod common;

use serde::Serialize;
use squall::http1::{Request, Responder};
use squall::httpserver::{HTTPServer, HttpServerOptions};
use squall::ioloop::IOLoop;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

/// Serializes `value` into `buf` (no heap allocation); returns the bytes written, or `None` if
/// it did not fit.
fn json_into<'a, T: Serialize>(buf: &'a mut [u8], value: &T) -> Option<&'a [u8]> {
    let cap = buf.len();
    let mut w: &mut [u8] = buf;
    serde_json::to_writer(&mut w, value).ok()?;
    let len = cap - w.len();
    Some(&buf[..len])
}

fn raw(req: Request, res: Responder) {
    match req.path() {
        "/plaintext" => res.respond(200, &[("Content-Type", "text/plain")], b"Hello, World!"),
        "/json" => {
            // Serialized per request, as TechEmpower requires, into a stack buffer.
            let mut buf = [0u8; 64];
            let message = Message {
                message: "Hello, World!",
            };
            match json_into(&mut buf, &message) {
                Some(body) => res.respond(200, &[("Content-Type", "application/json")], body),
                None => res.respond(500, &[("Content-Type", "text/plain")], b"JSON too long"),
            }
        }
        _ => res.respond(404, &[("Content-Type", "text/plain")], b"Not Found"),
    }
}

fn main() -> std::io::Result<()> {
    let args = common::Args::parse();
    let mut options = HttpServerOptions::default();
    options.access_log = false;
    let server = HTTPServer::with_options(raw, options);
    server.listen(args.port, &args.address)?;
    eprintln!("bench server on {}:{}", args.address, args.port);
    IOLoop::current().start();
    Ok(())
}
