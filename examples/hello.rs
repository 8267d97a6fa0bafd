//! The smallest Squall application: `Hello, world` on http://127.0.0.1:8888/.
//!
//! ```sh
//! cargo run --example hello            # then: curl http://127.0.0.1:8888/
//! cargo run --example hello -- --port 9000
//! ```

mod common;

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
    // The loop keeps a listening server alive until it is stopped, as in Tornado.
    app.listen_on(args.port, &args.address)?;
    log::info!("listening on http://{}:{}/", args.address, args.port);
    IOLoop::current().start();
    Ok(())
}
