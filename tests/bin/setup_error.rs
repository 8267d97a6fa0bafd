//! A `main` that fails to set up, for `tests/setup_errors.rs`: what a user sees on stderr
//! when a configuration or bind error leaves `fn main() -> std::io::Result<()>` through `?`.
//!
//! usage: `setup_error config` (xsrf_cookies without a cookie secret),
//! `setup_error listen PORT` (127.0.0.1:PORT already taken).

use squall::prelude::*;

#[derive(Clone, Default)]
struct Main;

#[handler]
impl Main {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("never served");
        Ok(())
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("config") => {
            let settings = Settings {
                xsrf_cookies: true,
                ..Settings::default()
            };
            Application::with_settings(routes![(r"/", Main)], settings)?;
        }
        Some("listen") => {
            let port = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            Application::new(routes![(r"/", Main)]).listen(port)?;
        }
        _ => {
            return Err(std::io::Error::other(
                "usage: setup_error config|listen PORT",
            ))
        }
    }
    Ok(())
}
