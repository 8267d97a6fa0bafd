//! A static file server: serves a folder over HTTP with Squall's `StaticFileHandler` (ETag and
//! `Last-Modified` validators, 304s, byte ranges, files streamed from disk), with `index.html`
//! as the page of a directory (`python -m http.server`, minus the directory listings).
//!
//! ```sh
//! cargo run --example static_server                          # the current directory
//! cargo run --example static_server -- --dir ./site --port 9000
//! cargo run --release --example static_server -- --dir /srv/www --address 0.0.0.0 --max-age 600
//! ```
//!
//! A directory without `index.html` is 404 (there are no listings); one requested without its
//! trailing slash is redirected (301) to it, so relative links in its page resolve. Nothing
//! outside the folder is ever served: `..` is refused (403), and symbolic links are followed
//! only when they lead inside it. `--max-age N` adds `Cache-Control: max-age=N`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use squall::prelude::*;
use squall::web::StaticFileHandler;

fn main() -> std::io::Result<()> {
    squall::log::enable_pretty_logging(log::LevelFilter::Info);
    let args = common::Args::parse();
    let dir: PathBuf = args.get("--dir").unwrap_or_else(|| PathBuf::from("."));
    // Resolved once at start-up, so that the log says what is served and a missing folder is
    // an error now rather than a 404 on every request.
    let root = dir
        .canonicalize()
        .map_err(|e| std::io::Error::new(e.kind(), format!("--dir {}: {e}", dir.display())))?;
    let mut files = StaticFileHandler::new(root.clone()).default_filename(Some("index.html"));
    if let Some(secs) = args.get::<u64>("--max-age") {
        files = files.cache_max_age(Duration::from_secs(secs));
    }
    let app = Application::new(routes![(r"/(.*)", files)]);
    log::info!("serving {}", root.display());
    // Until SIGTERM or SIGINT, then a graceful shutdown (downloads in flight finish).
    app.run_on(args.port, &args.address)?;
    Ok(())
}
