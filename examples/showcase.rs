//! The showcase application: one endpoint per feature, the app every black-box check of Squall
//! targets (its contract is `showcase-contract.md`; `tests/showcase.rs` checks every row).
//!
//! ```sh
//! cargo run --example showcase                      # http://127.0.0.1:8888/
//! cargo run --example showcase -- --port 9000 --address 0.0.0.0
//! cargo run --example showcase -- --static /srv/files
//! cargo run --example showcase -- --cert cert.pem --key key.pem  # https://127.0.0.1:8888/
//! SHOWCASE_SECRET=a-long-random-secret cargo run --release --example showcase
//! ```
//!
//! Settings: XSRF protection on; responses compressed (`compress_response`); signed cookies
//! keyed by `SHOWCASE_SECRET` (unset: the public development secret `dev-secret`, with a
//! warning in the log; set but empty: the showcase refuses to start); static files from
//! `examples/static/`
//! (or `--static DIR`) under `/static/`, where `big.bin` (1 MiB of the bytes 0..=255 repeated)
//! is generated at start-up when absent; request bodies up to 1 MiB (413 beyond), heads up to
//! 64 KiB (431 beyond); idle keep-alive connections and heads still arriving after 5 s are
//! closed. One access-log line per request goes to stderr. `SIGTERM` or `SIGINT` stops it
//! gracefully: new connections are refused, requests in flight are answered, exit status 0.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /` | `Hello, world` (any other method: 405 with `Allow`) |
//! | `GET /plaintext`, `GET /json` | TechEmpower's two tests |
//! | `GET /user/(\d+)` | `{"id":N}`; the route is named `user` |
//! | `GET /reverse` | `reverse_url("user", 42)` |
//! | `POST/PUT /echo` | the request body back, same `Content-Type` (no XSRF check) |
//! | `GET/POST /args` | every argument (query, urlencoded or multipart body) as JSON lists |
//! | `GET/POST /form` | a form with its XSRF token; the POST greets `name` |
//! | `POST /api/items` | XSRF token in `X-XSRFToken`/`X-CSRFToken`; 201 with the JSON body |
//! | `GET /etag` | a fixed body with the automatic ETag (304 on `If-None-Match`) |
//! | `GET /static/...` | files from the static folder |
//! | `GET /stream` | five chunks, each flushed on its own |
//! | `GET /redirect` | 302 to `/` |
//! | `GET /error`, `GET /api/error` | a handler that panics: 500, and the server carries on |
//! | `GET /slow` | 200 ms on the loop's timer, then `done` |
//! | `GET /cpu` | a ~50 ms computation on the executor thread pool, then `done` |
//! | `GET /cookie/set?v=X`, `GET /cookie/get` | signed cookie `user` (403 if missing or forged) |
//! | `GET /lorem` | 64 KiB of text: gzip-encoded when the request accepts it, each representation with its own ETag |
//! | `GET /ws/echo` | WebSocket: every message echoed (permessage-deflate offered, 1 MiB max) |
//! | `GET /ws/chat` | WebSocket: every text message to every member of the room |
//! | `GET /page?name=X` | a page rendered from `templates/showcase/page.html` |
//! | `GET/POST /login` | a sign-in form; the POST sets signed cookie `user` and goes to `next` |
//! | `GET/POST /private` | `#[authenticated]`: anonymous GET goes to `/login?next=..`, POST is 403 |
//! | `GET/POST /api/typed` | `{"name", "count"}` from the query or a JSON body, typed; 400 names the field |
//!
//! Responses are compressed (`compress_response`): text, JSON, JavaScript, XML and SVG bodies of
//! 1 KiB or more, and streamed ones, go out gzip- or deflate-encoded to clients that accept it.
//!
//! The current user is the signed cookie `user` (`Hooks::current_user`); every error under
//! `/api/` (400, 403, 404, 405, 500) is JSON, `{"status": N, "message": "..."}`, and an HTML page
//! elsewhere (`Hooks::write_error`). Pages are templates from `examples/templates/showcase/`
//! (or `--templates DIR`).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::ser::{Serialize, SerializeMap, Serializer};
use squall::escape::xhtml_escape;
use squall::http1::HttpServerOptions;
use squall::prelude::*;
use squall::web::templates::context;
use squall::web::Hooks;

/// `GET /`: Tornado's hello world. Only `get` is defined, so `DELETE /` is a 405 whose `Allow`
/// header lists `GET, HEAD, OPTIONS`.
#[derive(Clone, Default)]
struct MainHandler;

#[handler]
impl MainHandler {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("Hello, world");
        Ok(())
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

#[derive(serde::Serialize)]
struct Message {
    message: &'static str,
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

/// `GET /user/(\d+)`: the group arrives parsed as a `u64` (a number too large for it is a 404,
/// as is `/user/abc`, which no route matches).
#[derive(Clone, Default)]
struct User;

#[handler]
impl User {
    fn get(&mut self, cx: &mut Context, id: u64) -> Result<()> {
        cx.write_json(&serde_json::json!({ "id": id }))
    }
}

#[derive(Clone, Default)]
struct Reverse;

#[handler]
impl Reverse {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        // A name from the `urls` table: a misspelling would not compile.
        let url = cx.reverse_url(urls::user, &[&42])?;
        cx.write(url);
        Ok(())
    }
}

/// `POST/PUT /echo`: the body back with the request's `Content-Type`; a body sent without one
/// comes back as `application/octet-stream` (what RFC 9110 says a recipient may assume), never
/// as the framework's default `text/html`. An API endpoint, so exempt from XSRF.
#[derive(Clone, Default)]
struct Echo;

#[handler(xsrf_exempt)]
impl Echo {
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        self.echo(cx)
    }
    fn put(&mut self, cx: &mut Context) -> Result<()> {
        self.echo(cx)
    }
}

impl Echo {
    fn echo(&mut self, cx: &mut Context) -> Result<()> {
        let ct = cx
            .header("Content-Type")
            .unwrap_or("application/octet-stream")
            .to_owned();
        cx.set_header("Content-Type", ct)?;
        let body = cx.request_mut().take_body();
        cx.write(body);
        Ok(())
    }
}

/// Arguments grouped by name, serialized as a JSON object in order of first appearance (as
/// Tornado's `request.arguments` dict would be).
struct ArgMap(Vec<(String, Vec<String>)>);

impl Serialize for ArgMap {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, values) in &self.0 {
            map.serialize_entry(name, values)?;
        }
        map.end()
    }
}

/// `GET/POST /args`: every argument, raw (not whitespace-stripped), query first, then the body
/// (urlencoded or multipart fields; uploaded files are not arguments). POST is exempt from XSRF.
#[derive(Clone, Default)]
struct Args;

#[handler]
impl Args {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let all = cx.all_arguments()?;
        cx.write_json(&ArgMap(all))
    }
    #[xsrf_exempt]
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        self.get(cx)
    }
}

/// `GET /form` renders a form carrying the XSRF token (and sets the `_xsrf` cookie); `POST /form`
/// is checked by the framework before `post` runs: no token or a wrong one is a 403.
#[derive(Clone, Default)]
struct Form;

#[handler]
impl Form {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.render("form.html", context! {})
    }
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        let name = cx.argument("name")?;
        cx.write(format!("Hello, {}", xhtml_escape(&name)));
        Ok(())
    }
}

/// `POST /api/items`: a JSON API behind XSRF protection; scripts send the token in the
/// `X-XSRFToken` (or `X-CSRFToken`) header. Answers 201 with the item it received.
#[derive(Clone, Default)]
struct Items;

#[handler]
impl Items {
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        let item: serde_json::Value = cx.json_body()?;
        cx.set_status(201);
        cx.write_json(&item)
    }
}

/// `GET /etag`: a fixed body; the framework adds its ETag and answers a matching
/// `If-None-Match` with 304.
#[derive(Clone, Default)]
struct Etag;

#[handler]
impl Etag {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.write("etag body\n");
        Ok(())
    }
}

/// `GET /stream`: five pieces, each flushed (a chunk of its own on HTTP/1.1) and awaited until
/// the socket has taken it.
#[derive(Clone, Default)]
struct Stream;

#[handler]
impl Stream {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        for i in 0..5 {
            cx.write(format!("chunk {i}\n"));
            cx.flush_and_wait().await?;
        }
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Redirect;

#[handler]
impl Redirect {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.redirect("/")
    }
}

/// `GET /error`: a handler that panics. The client gets a 500 page without the panic text; the
/// log gets the detail; the server, and even this connection, carry on.
#[derive(Clone, Default)]
struct Fail;

#[handler]
impl Fail {
    fn get(&mut self, _cx: &mut Context) -> Result<()> {
        panic!("GET /error fails on purpose (showcase)");
    }
}

/// `GET /slow`: waits 200 ms on the loop's timer. The loop serves other requests meanwhile, so
/// two of these in parallel take 200 ms, not 400.
#[derive(Clone, Default)]
struct Slow;

#[handler]
impl Slow {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        squall::task::sleep(Duration::from_millis(200)).await;
        cx.write("done");
        Ok(())
    }
}

/// About 50 ms of real computation (a xorshift generator), never a sleep.
fn cpu_job() -> u64 {
    let start = Instant::now();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rounds = 0u64;
    while start.elapsed() < Duration::from_millis(50) {
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        rounds += 1;
    }
    std::hint::black_box(x).wrapping_add(rounds)
}

/// `GET /cpu`: the computation runs on the executor thread pool; the loop keeps serving.
#[derive(Clone, Default)]
struct Cpu;

#[handler]
impl Cpu {
    async fn get(&mut self, cx: &mut Context) -> Result<()> {
        let result = cx.run_in_executor(cpu_job).await?;
        log::debug!("cpu job result {result:#x}");
        cx.write("done");
        Ok(())
    }
}

/// `GET /cookie/set?v=X` signs `X` into cookie `user`; `GET /cookie/get` shows it, or answers
/// 403 when the cookie is missing, forged, expired, or signed with another secret.
#[derive(Clone, Default)]
struct Cookie;

#[handler]
impl Cookie {
    fn get(&mut self, cx: &mut Context, op: String) -> Result<()> {
        match op.as_str() {
            "set" => {
                let v = cx.argument("v")?;
                cx.set_signed_cookie(squall::web::cookies::Cookie::new("user", &v))?;
                cx.write(format!("user set to {}", xhtml_escape(&v)));
                Ok(())
            }
            _ => match cx.signed_cookie("user") {
                Some(v) => {
                    cx.set_header("Content-Type", "text/plain; charset=UTF-8")?;
                    cx.write(v);
                    Ok(())
                }
                None => Err(HttpError::new(403).log("no valid signed cookie 'user'")),
            },
        }
    }
}

/// `GET /lorem`: 64 KiB of deterministic text/plain. With `compress_response` on, a client
/// accepting gzip gets it gzip-encoded with `Vary: Accept-Encoding`; each representation has
/// its own automatic ETag, and `If-None-Match` with it gives 304.
#[derive(Clone, Default)]
struct Lorem;

#[handler]
impl Lorem {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        cx.set_header("Content-Type", "text/plain; charset=UTF-8")?;
        // Made once per process, on first use.
        static TEXT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        cx.write(TEXT.get_or_init(|| common::lorem(LOREM_LEN)).as_slice());
        Ok(())
    }
}

/// `GET /page?name=X`: a page rendered from a template, which escapes `X`, carries a form
/// with its XSRF token and links a versioned static URL.
#[derive(Clone, Default)]
struct Page;

#[handler]
impl Page {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let name = cx
            .argument_opt("name")?
            .unwrap_or_else(|| "world".to_owned());
        cx.render("page.html", context! { name })
    }
}

/// `next` as a `Location` if it is a path on this site (`/x`, never `//host`, `/\\host` or
/// `http://host`): the only places a login may send the browser back to, so that it cannot be
/// an open redirect. A `next` with a control character is refused too: browsers delete tabs
/// and newlines from a URL before resolving it, so `/<TAB>/host` would be `//host`, and CR, LF
/// or NUL cannot go in a header. Characters outside ASCII, and spaces, are percent-encoded
/// (a `Location` is a URI reference, RFC 9110 §10.2.2).
fn local_target(next: &str) -> Option<String> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(char::is_control);
    if !local {
        return None;
    }
    let mut out = String::with_capacity(next.len());
    for c in next.chars() {
        if c.is_ascii() && c != ' ' {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    Some(out)
}

/// `GET /login` renders the sign-in form; `POST /login` (XSRF-checked) signs the name into the
/// cookie `user` and sends the browser to `next` if it is local, else to `/`.
#[derive(Clone, Default)]
struct Login;

#[handler]
impl Login {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let next = cx.argument_opt("next")?.and_then(|n| local_target(&n));
        cx.render(
            "login.html",
            context! { next => next.unwrap_or_else(|| "/".to_owned()) },
        )
    }
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        let name = cx.argument("name")?;
        if name.is_empty() {
            return Err(HttpError::bad_request("the name is empty"));
        }
        cx.set_signed_cookie(squall::web::cookies::Cookie::new("user", &name))?;
        let next = cx.argument_opt("next")?.and_then(|n| local_target(&n));
        cx.redirect(next.as_deref().unwrap_or("/"))
    }
}

/// `/private`: only for signed-in users. An anonymous GET is redirected to the login page
/// (`/login?next=%2Fprivate`); an anonymous POST is a 403 (the POST is XSRF-exempt so that the
/// 403 comes from the authentication).
#[derive(Clone, Default)]
struct Private;

#[handler]
impl Private {
    #[authenticated]
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        self.greet(cx)
    }
    #[authenticated]
    #[xsrf_exempt]
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        self.greet(cx)
    }
}

impl Private {
    fn greet(&mut self, cx: &mut Context) -> Result<()> {
        let user = cx.current_user::<String>().cloned().unwrap_or_default();
        cx.write(format!("Hello, {}", xhtml_escape(&user)));
        Ok(())
    }
}

/// `GET /ws/echo`: every message back as it came (text as text, binary as binary).
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

/// Size of `/lorem`'s body.
const LOREM_LEN: usize = 64 * 1024;

/// `GET /ws/chat`: every text message goes to every member of the room, the sender included.
/// A member that vanished or stopped reading is dropped from the room when a write to it
/// fails (the connection closes itself when its unsent output passes the limit), so it
/// never holds up the others.
#[derive(Clone, Default)]
struct WsChat {
    room: std::rc::Rc<std::cell::RefCell<Vec<WebSocket>>>,
}

#[websocket_handler]
impl WsChat {
    fn open(&mut self, _cx: &mut Context, ws: &WebSocket) -> Result<()> {
        self.room.borrow_mut().push(ws.clone());
        Ok(())
    }

    fn on_message(
        &mut self,
        _ws: &WebSocket,
        message: squall::websocket::Message<'_>,
    ) -> Result<()> {
        if let Some(text) = message.as_text() {
            // (A snapshot: a write may close a member, whose on_close edits the room later.)
            let members = self.room.borrow().clone();
            let mut gone = Vec::new();
            for m in &members {
                if m.write_message(text).is_err() {
                    gone.push(m.clone());
                }
            }
            self.room.borrow_mut().retain(|m| !gone.contains(m));
        }
        Ok(())
    }

    fn on_close(&mut self, ws: &WebSocket, _code: Option<u16>, _reason: &str) {
        self.room.borrow_mut().retain(|m| m != ws);
    }
}

/// What `/api/typed` takes.
#[derive(serde::Deserialize)]
struct TypedIn {
    name: String,
    count: u64,
}

/// What `/api/typed` answers.
#[derive(serde::Serialize)]
struct TypedOut {
    name: String,
    count: u64,
    double: u128,
}

/// `/api/typed`: a typed API. POST reads a JSON body, GET the query string, both into the same
/// struct; a malformed body, a missing or mistyped field is a 400 whose JSON message names it.
#[derive(Clone, Default)]
struct Typed;

#[handler]
impl Typed {
    fn get(&mut self, cx: &mut Context) -> Result<()> {
        let input: TypedIn = cx.query()?;
        Self::answer(cx, input)
    }
    #[xsrf_exempt]
    fn post(&mut self, cx: &mut Context) -> Result<()> {
        let input: TypedIn = cx.json_body()?;
        Self::answer(cx, input)
    }
}

impl Typed {
    fn answer(cx: &mut Context, input: TypedIn) -> Result<()> {
        cx.write_json(&TypedOut {
            double: u128::from(input.count) * 2,
            name: input.name,
            count: input.count,
        })
    }
}

// The routing table, as a module: `urls::routes()` is the table and `urls::user` the name of
// the user route, checked at compile time wherever it is used.
routes! {
    mod urls {
        (r"/", MainHandler),
        (r"/plaintext", Plaintext),
        (r"/json", Json),
        (r"/user/(\d+)", User, name = "user"),
        (r"/reverse", Reverse),
        (r"/echo", Echo),
        (r"/args", Args),
        (r"/form", Form),
        (r"/api/items", Items),
        (r"/api/typed", Typed),
        (r"/etag", Etag),
        (r"/stream", Stream),
        (r"/redirect", Redirect),
        (r"/error", Fail),
        (r"/api/error", Fail),
        (r"/slow", Slow),
        (r"/cpu", Cpu),
        (r"/cookie/(set|get)", Cookie),
        (r"/page", Page),
        (r"/login", Login),
        (r"/private", Private),
        (r"/lorem", Lorem),
        (r"/ws/echo", WsEcho),
        // A value: its clones (one per connection) share one room.
        (r"/ws/chat", WsChat::default()),
    }
}

/// The application-wide hooks: the user is the signed cookie `user`; errors under `/api/`
/// are JSON.
fn hooks() -> Hooks {
    Hooks::new()
        .current_user(|cx| cx.signed_cookie("user"))
        .write_error(|cx, status, error| {
            if cx.path().starts_with("/api/") {
                cx.write_json_error(status, error)
            } else {
                cx.write_html_error(status, error)
            }
        })
}

/// The application: the routing table and settings (static files under `/static/` from
/// `static_path`, templates from `template_path`).
fn make_app(
    static_path: PathBuf,
    template_path: PathBuf,
    secret: CookieSecrets,
) -> std::io::Result<Application> {
    let settings = Settings {
        xsrf_cookies: true,
        cookie_secret: Some(secret),
        static_path: Some(static_path),
        compress_response: true,
        websocket_max_message_size: Some(1 << 20),
        websocket_compression: Some(squall::websocket::CompressionOptions::default()),
        template_path: Some(template_path),
        login_url: Some("/login".to_owned()),
        hooks: hooks(),
        ..Settings::default()
    };
    Ok(Application::with_settings(urls::routes(), settings)?)
}

/// The development default of `SHOWCASE_SECRET`: public, so only for a laptop.
const DEV_SECRET: &str = "dev-secret";

/// The cookie secret from `SHOWCASE_SECRET`: unset gives the documented development default
/// (with a warning: anyone can forge the signed cookies), set but empty (or only whitespace)
/// refuses to start, with a message saying what unset would do here.
fn showcase_secret() -> CookieSecrets {
    match std::env::var_os("SHOWCASE_SECRET") {
        Some(v) if v.as_encoded_bytes().trim_ascii().is_empty() => {
            eprintln!(
                "refusing to start: SHOWCASE_SECRET is set but empty: set it to a long random \
                 secret, or unset it to sign with the public development secret {DEV_SECRET:?}"
            );
            std::process::exit(2)
        }
        None => {
            log::warn!(
                "SHOWCASE_SECRET is not set: signing with the public development secret \
                 {DEV_SECRET:?}; anyone can forge signed cookies. Set SHOWCASE_SECRET to a \
                 long random secret outside development."
            );
            CookieSecrets::single(DEV_SECRET)
        }
        Some(_) => common::cookie_secret("SHOWCASE_SECRET"),
    }
}

/// Size of the generated `big.bin`.
const BIG_LEN: usize = 1 << 20;

/// Writes `big.bin` (1 MiB of 0, 1, ..., 255, 0, 1, ...) into `dir` unless a file of the right
/// size is there. Written to a temporary name and renamed, so a server starting at the same
/// time never serves half a file.
fn ensure_big_file(dir: &Path) -> std::io::Result<()> {
    let path = dir.join("big.bin");
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == BIG_LEN as u64) {
        return Ok(());
    }
    let data: Vec<u8> = (0..BIG_LEN).map(|i| i as u8).collect();
    let tmp = dir.join(format!(".big.bin.{}", std::process::id()));
    std::fs::write(&tmp, &data)?;
    std::fs::rename(&tmp, &path)?;
    log::info!("generated {}", path.display());
    Ok(())
}

fn main() -> std::io::Result<()> {
    squall::log::enable_pretty_logging(log::LevelFilter::Info);
    let args = common::Args::parse();
    let static_path: PathBuf = args
        .get("--static")
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("static"));
    ensure_big_file(&static_path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("static folder {}: {e}", static_path.display()),
        )
    })?;
    let secret = showcase_secret();
    let template_path: PathBuf = args
        .get("--templates")
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/showcase"));

    let options = HttpServerOptions {
        max_body_size: 1 << 20,
        max_header_size: 64 * 1024,
        idle_timeout: Some(Duration::from_secs(5)),
        header_timeout: Some(Duration::from_secs(5)),
        // `--cert FILE --key FILE`: HTTPS (secure cookies then carry `Secure`).
        tls: args.tls(),
        ..HttpServerOptions::default()
    };
    let server = make_app(static_path.clone(), template_path, secret)?.into_server_with(options);
    log::info!("showcase: static files from {}", static_path.display());
    // Until SIGTERM or SIGINT, then stop accepting, finish the requests in flight, exit 0.
    server.run(args.port, &args.address)
}
