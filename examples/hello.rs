//! The smallest Squall application: `Hello, world` on http://127.0.0.1:8888/.
//!
//! ```sh
//! cargo run --example hello            # then: curl http://127.0.0.1:8888/
//! cargo run --example hello -- --port 9000
//! # HTTPS with a certificate chain and key in PEM files:
//! cargo run --example hello -- --cert cert.pem --key key.pem   # curl https://127.0.0.1:8888/
//! ```
//!
//! Ctrl-C (`SIGINT`) or `SIGTERM` stops it gracefully: requests in flight are answered, new
//! connections refused, and it exits with status 0.

mod common;

use squall::http1::HttpServerOptions;
use squall::prelude::*;

#[derive(Clone, Default)]
struct MainHandler;

#[handler]
impl MainHandler {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("Hello, world");
        Ok(())
    }
}

fn main() -> std::io::Result<()> {
    squall::log::enable_pretty_logging(log::LevelFilter::Info);
    let args = common::Args::parse();
    let app = Application::new(routes![(r"/", MainHandler)]);
    let options = HttpServerOptions {
        tls: args.tls(),
        ..HttpServerOptions::default()
    };
    // Serves until SIGTERM or SIGINT, then finishes the requests in flight and returns.
    app.into_server_with(options).run(args.port, &args.address)
}
