//! Fetches a URL with `squall::httpclient` and prints the status line, the header fields and
//! the body: Tornado's `python -m tornado.httpclient URL`.
//!
//! ```sh
//! cargo run --example fetch -- http://127.0.0.1:8888/
//! cargo run --example fetch -- --method POST --header 'Content-Type: text/plain' \
//!     --data 'hello' --no-follow --timeout 5 http://127.0.0.1:8888/echo
//! ```
//!
//! Options: `--method M` (default GET), `--header 'Name: value'` (repeatable), `--data BODY`,
//! `--no-follow` (print a redirect instead of following it), `--timeout SECONDS` (connect and
//! request, default 20), `--no-headers`, `--no-body`. Exits with status 1 and the error (with its causes) on stderr if the fetch fails.

use std::io::Write;
use std::time::Duration;

use squall::http1::Method;
use squall::httpclient::{fetch, HttpRequest};
use squall::ioloop::IOLoop;

struct Options {
    url: String,
    method: Method,
    headers: Vec<(String, String)>,
    data: Option<String>,
    follow: bool,
    timeout: Duration,
    print_headers: bool,
    print_body: bool,
}

const USAGE: &str = "usage: fetch [--method M] [--header 'N: V']... [--data BODY] [--no-follow] \
                     [--timeout SECONDS] [--no-headers] [--no-body] URL";

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        url: String::new(),
        method: Method::Get,
        headers: Vec::new(),
        data: None,
        follow: true,
        timeout: Duration::from_secs(20),
        print_headers: true,
        print_body: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--method" => {
                let m = value("--method")?;
                o.method = Method::parse(&m.to_ascii_uppercase())
                    .ok_or(format!("not a method token: {m}"))?;
            }
            "--header" => {
                let h = value("--header")?;
                let (n, v) = h.split_once(':').ok_or(format!("not 'Name: value': {h}"))?;
                o.headers.push((n.trim().to_owned(), v.trim().to_owned()));
            }
            "--data" => o.data = Some(value("--data")?),
            "--no-follow" => o.follow = false,
            "--timeout" => {
                let t = value("--timeout")?;
                let secs: f64 = t.parse().map_err(|_| format!("bad --timeout {t}"))?;
                o.timeout =
                    Duration::try_from_secs_f64(secs).map_err(|_| format!("bad --timeout {t}"))?;
            }
            "--no-headers" => o.print_headers = false,
            "--no-body" => o.print_body = false,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}\n{USAGE}")),
            s if o.url.is_empty() => o.url = s.to_owned(),
            s => return Err(format!("one URL only (got {s:?} too)\n{USAGE}")),
        }
    }
    if o.url.is_empty() {
        return Err(USAGE.to_owned());
    }
    Ok(o)
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut req = HttpRequest::new(o.url)
        .method(o.method)
        .follow_redirects(o.follow)
        .connect_timeout(o.timeout)
        .request_timeout(o.timeout);
    for (n, v) in o.headers {
        req = req.header(n, v);
    }
    if let Some(d) = o.data {
        req = req.body(d);
    }
    match IOLoop::current().run_sync(fetch(req)) {
        Ok(res) => {
            let mut out = std::io::stdout().lock();
            if o.print_headers {
                let version = res.version().as_str();
                let _ = writeln!(out, "{version} {} {}", res.status(), res.reason());
                for (n, v) in res.headers() {
                    let _ = writeln!(out, "{n}: {v}");
                }
                let _ = writeln!(out);
            }
            if o.print_body {
                let _ = out.write_all(res.body());
            }
            let _ = out.flush();
        }
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            std::process::exit(1);
        }
    }
}
