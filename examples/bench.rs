//! The benchmark server: TechEmpower's `GET /plaintext` and `GET /json`.
//!
//! ```sh
//! cargo run --release --example bench -- --port 8080            # raw HTTP delegate
//! ```

mod common;

use squall::http1::{Request, Responder};
use squall::httpserver::{HTTPServer, HttpServerOptions};
use squall::ioloop::IOLoop;

fn raw(req: Request, res: Responder) {
    match req.path() {
        "/plaintext" => res.respond(200, &[("Content-Type", "text/plain")], b"Hello, World!"),
        "/json" => {
            // Serialized per request, as TechEmpower requires.
            let body = serde_json::to_vec(&serde_json::json!({"message": "Hello, World!"}))
                .unwrap_or_default();
            res.respond(200, &[("Content-Type", "application/json")], &body)
        }
        _ => res.respond(404, &[("Content-Type", "text/plain")], b"Not Found"),
    }
}

fn main() -> std::io::Result<()> {
    let args = common::Args::parse();
    let options = HttpServerOptions {
        access_log: false,
        ..HttpServerOptions::default()
    };
    let server = HTTPServer::with_options(raw, options);
    server.listen(args.port, &args.address)?;
    eprintln!("bench server on {}:{}", args.address, args.port);
    IOLoop::current().start();
    Ok(())
}
