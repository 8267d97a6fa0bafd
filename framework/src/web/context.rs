//! [`Context`]: one request as a handler sees it, and the response it builds.
//!
//! Tornado's `RequestHandler` mixes the user's handler with the request machinery; Squall keeps
//! them apart: the handler is the user's type, the machinery is the `Context` passed to each
//! method. It gives the request (headers, arguments, cookies) and builds the response: status,
//! headers and body are buffered until [`finish`](Context::finish) (or
//! [`flush`](Context::flush), which sends what is there and streams the rest, chunked).
//!
//! ### Streaming a body of known length
//!
//! A handler that knows its body's length up front (a file) declares it with
//! [`set_content_length`](Context::set_content_length) before the first flush: the head then
//! carries `Content-Length` instead of `Transfer-Encoding: chunked`, and the body follows in
//! pieces written with [`write`](Context::write) and sent with
//! [`flush_and_wait`](Context::flush_and_wait), which waits for the socket between pieces so
//! that only one piece is ever in memory. A declared length also turns off the automatic ETag
//! (the body buffered at `finish` may be only the last piece, so hashing it would describe
//! nothing); such a handler sets its own validators.

use std::borrow::Cow;
use std::fmt;
use std::rc::Rc;

use super::compression::Lease;
use super::error::{HttpError, Result};
use super::etag;
use crate::http1::{Method, MethodKind, Request, Responder};
use crate::httputil::{validate_header_name, validate_header_value, HeaderMap};

mod app;
mod arguments;
mod conditional;
mod encoding;
mod hooks;
#[cfg(feature = "templates")]
mod render;
mod security;
mod send;
mod static_url;

pub use security::{SIGNED_COOKIE_MAX_AGE, XSRF_NAME};
pub(crate) use static_url::names_current_version;

pub(crate) use app::{AppShared, PathArgs, RouteTarget, MAX_PATH_ARGS};
pub use app::{DefaultHandler, Settings};
pub(crate) use encoding::Encoding;
pub use hooks::Hooks;
pub(crate) use hooks::{run_before, write_app_error};

/// The state of a context that is reused across requests: buffers, the path groups and the
/// lazily filled caches. Boxed and pooled by the application, so building a context and giving
/// it back moves one pointer, not the whole state.
#[derive(Default)]
pub(crate) struct ContextParts {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    /// The computed ETag, kept here (not in `headers`) so its buffer is reused, with the body
    /// it was computed from.
    pub(crate) etag: etag::EtagMemo,
    /// The route's groups (`len` 0 between requests: a literal route leaves them so).
    pub(crate) args: PathArgs,
    pub(crate) args_cache: arguments::ArgsCache,
    pub(crate) xsrf_cache: Option<crate::web::xsrf::XsrfToken>,
    /// The compressor of a compressed response, while it has one. Kept here, not in the
    /// `Context`, so that giving a context back drops nothing when there is none.
    pub(crate) lease: Option<Lease>,
    /// What the application's hooks keep per request: the current user, once asked for.
    pub(crate) hook_state: hooks::HookState,
    /// Set when any of `args_cache`, `xsrf_cache` or `hook_state` is filled: then `reset`
    /// must forget them.
    pub(crate) touched: std::cell::Cell<bool>,
}

impl ContextParts {
    /// Forgets one request, keeping the allocations that are worth keeping. Only what a
    /// request may have set is touched. Inlined: it runs once per request, where a call
    /// would cost it a frame of its own.
    #[inline(always)]
    pub(crate) fn reset(&mut self) {
        self.headers.clear();
        self.body.clear();
        self.args.len = 0;
        // The lazily filled state, touched by few requests: one test for all of it.
        if self.touched.get() {
            self.forget_lazy();
        }
        if self.lease.is_some() {
            self.lease = None;
        }
    }

    /// Forgets the arguments, XSRF token and hook state a request filled in.
    #[cold]
    #[inline(never)]
    fn forget_lazy(&mut self) {
        self.args_cache = Default::default();
        self.xsrf_cache = None;
        self.hook_state = Default::default();
        self.touched.set(false);
    }
}

/// A request being handled and the response being built.
///
/// Every handler method receives `&mut Context`. See the methods for what Tornado users know
/// as `self.request`, `self.get_argument`, `self.write`, `self.set_header`, ...
pub struct Context {
    pub(crate) app: Rc<AppShared>,
    request: Request,
    responder: Option<Responder>,
    dispatch_method: MethodKind,
    status: u16,
    reason: Option<Cow<'static, str>>,
    pub(crate) parts: Box<ContextParts>,
    finished: bool,
    head_sent: bool,
    /// The body length declared with `set_content_length`, sent instead of chunking.
    content_length: Option<u64>,
    pub(crate) etag_enabled: bool,
    /// How the body is encoded (`Settings::compress_response`; see `compression.rs`).
    encoding: Encoding,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("request", &self.request)
            .field("status", &self.status)
            .field("headers", &self.parts.headers)
            .field("body_len", &self.parts.body.len())
            .field("finished", &self.finished)
            .finish()
    }
}

impl Context {
    /// A context for `request`, with pooled parts (empty path groups).
    #[inline]
    pub(crate) fn new(app: Rc<AppShared>, request: Request, responder: Responder) -> Context {
        let parts = app.take_parts();
        let method = request.method_kind();
        Context {
            app,
            request,
            responder: Some(responder),
            dispatch_method: method,
            status: 200,
            reason: None,
            parts,
            finished: false,
            head_sent: false,
            content_length: None,
            etag_enabled: true,
            encoding: Encoding::Auto,
        }
    }

    /// Ends the context's life, giving its reusable parts back to the application's pool.
    ///
    /// Not a `Drop` impl: a context given back by its owner moves one box into the pool,
    /// where `Drop` could only swap the parts out for fresh (allocated) ones. A context that
    /// is dropped instead (a task dropped at shutdown, an unwinding panic) frees its parts.
    pub(crate) fn recycle(self) {
        let Context { app, parts, .. } = self;
        app.give_parts(parts);
    }

    /// The request and the path groups, for routing the context in place.
    pub(crate) fn request_and_args(&mut self) -> (&Request, &mut PathArgs) {
        (&self.request, &mut self.parts.args)
    }

    // ----- the request ------------------------------------------------------------------------

    /// The request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The request, mutably (to take its body, say).
    pub fn request_mut(&mut self) -> &mut Request {
        &mut self.request
    }

    /// The application's settings.
    pub fn settings(&self) -> &Settings {
        &self.app.settings
    }

    /// The request method.
    pub fn method(&self) -> Method {
        self.request.method()
    }

    /// The method being served: the request's, or GET for a HEAD served by `get`.
    pub fn dispatch_method(&self) -> Method {
        match self.dispatch_method {
            MethodKind::Other => self.request.method(),
            known => Method::from_kind(known, b""),
        }
    }

    /// [`dispatch_method`](Context::dispatch_method) without an extension method's text: what
    /// the generated dispatch matches on. Not API.
    #[doc(hidden)]
    #[inline]
    pub fn __dispatch_kind(&self) -> MethodKind {
        self.dispatch_method
    }

    pub(crate) fn set_dispatch_method(&mut self, m: MethodKind) {
        self.dispatch_method = m;
    }

    /// The request target (path and query, as sent).
    pub fn uri(&self) -> &str {
        self.request.uri()
    }

    /// The request path (percent-encoded).
    pub fn path(&self) -> &str {
        self.request.path()
    }

    /// The query string, without `?` (Tornado's `request.query`; for its arguments see
    /// [`argument`](Context::argument), or [`query`](Context::query) for a typed struct).
    pub fn query_string(&self) -> &str {
        self.request.query()
    }

    /// A request header (first value).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.header(name)
    }

    /// The request body.
    pub fn body(&self) -> &[u8] {
        self.request.body()
    }

    /// The client's IP (see `xheaders`).
    pub fn remote_ip(&self) -> std::net::IpAddr {
        self.request.remote_ip()
    }

    /// `"http"` or `"https"`.
    pub fn protocol(&self) -> &'static str {
        self.request.protocol()
    }

    /// The `Host` header.
    pub fn host(&self) -> &str {
        self.request.host()
    }

    /// The full URL of the request.
    pub fn full_url(&self) -> String {
        self.request.full_url()
    }

    /// Path argument `i` (a route group), percent-decoded; `None` if the group did not match
    /// or is not valid UTF-8 once decoded.
    pub fn path_arg(&self, i: usize) -> Option<Cow<'_, str>> {
        let args = &self.parts.args;
        if i >= args.len {
            return None;
        }
        let (a, b) = args.spans[i]?;
        let raw = self.request.path().get(a as usize..b as usize)?;
        crate::escape::url_unescape(raw, false).ok()
    }

    /// How many path arguments the route captured.
    pub fn path_args_len(&self) -> usize {
        self.parts.args.len
    }

    /// Runs `f` on the executor thread pool; await the result on the loop.
    pub fn run_in_executor<F, T>(&self, f: F) -> crate::executor::ExecutorFuture<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        crate::executor::run_in_executor(f)
    }

    /// The URL of the route named `name` with `args` filled in (Tornado's `reverse_url`).
    /// `name` is a string (checked when called) or a [`RouteName`](super::RouteName) constant
    /// from the item form of `routes!` (checked when compiled).
    ///
    /// # Errors
    ///
    /// 500 if there is no such route or the argument count differs.
    pub fn reverse_url(&self, name: impl AsRef<str>, args: &[&dyn fmt::Display]) -> Result<String> {
        self.app
            .reverse_url(name.as_ref(), args)
            .map_err(|e| HttpError::new(500).with_source(e))
    }

    // ----- the response -----------------------------------------------------------------------

    /// Sets the status code (100..=599; anything else becomes 500 when sent).
    pub fn set_status(&mut self, status: u16) {
        self.status = status;
        self.reason = None;
    }

    /// Sets the status with a custom reason phrase.
    pub fn set_status_with_reason(&mut self, status: u16, reason: impl Into<Cow<'static, str>>) {
        self.status = status;
        self.reason = Some(reason.into());
    }

    /// The status set so far (200 by default).
    pub fn status(&self) -> u16 {
        self.status
    }

    fn checked_header(name: &str, value: &str) -> Result<()> {
        validate_header_name(name)
            .and_then(|()| validate_header_value(value))
            .map_err(|e| {
                HttpError::internal(format!("refused response header {name:?}")).with_source(e)
            })
    }

    /// Sets a response header, replacing earlier values.
    ///
    /// Name and value are any text (`&str` of any lifetime, `&String`, `String`,
    /// `Cow<str>`): they are copied into a buffer that the context keeps across requests, so
    /// setting headers allocates nothing once that buffer has grown to fit them.
    ///
    /// # Errors
    ///
    /// A 500 `HttpError` if the name is not a token or the value holds CR, LF, NUL or another
    /// control character: no response splitting.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::prelude::*;
    ///
    /// /// A helper taking borrowed text, as user code does.
    /// fn allow_origin(cx: &mut Context, origin: &str) -> Result<()> {
    ///     cx.set_header("Access-Control-Allow-Origin", origin)
    /// }
    ///
    /// #[derive(Clone, Default)]
    /// struct Page;
    ///
    /// #[handler]
    /// impl Page {
    ///     fn get(&mut self, cx: &mut Context) -> Result<()> {
    ///         cx.set_header("Content-Type", "text/plain")?;
    ///         let id = format!("req-{}", 7);
    ///         cx.set_header("X-Request-Id", &id)?;
    ///         allow_origin(cx, "https://app.example")
    ///     }
    /// }
    /// ```
    #[inline]
    pub fn set_header(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Result<()> {
        let (name, value) = (name.as_ref(), value.as_ref());
        Self::checked_header(name, value)?;
        self.parts.headers.insert(name, value);
        Ok(())
    }

    /// Adds a response header value (for headers that may repeat), copied as by
    /// [`set_header`](Context::set_header).
    ///
    /// # Errors
    ///
    /// As [`set_header`](Context::set_header).
    #[inline]
    pub fn add_header(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Result<()> {
        let (name, value) = (name.as_ref(), value.as_ref());
        Self::checked_header(name, value)?;
        self.parts.headers.append(name, value);
        Ok(())
    }

    /// Removes a response header.
    pub fn clear_header(&mut self, name: &str) {
        self.parts.headers.remove(name);
    }

    /// The response headers set so far (`Content-Type` defaults to
    /// `text/html; charset=UTF-8` when sent if none is set here; `Date`, `Content-Length` and
    /// the automatic `Etag` are added when sent).
    pub fn response_headers(&self) -> &HeaderMap {
        &self.parts.headers
    }

    /// Appends to the response body. Ignored (and logged) after `finish`.
    pub fn write(&mut self, data: impl AsRef<[u8]>) {
        if self.finished {
            log::error!("squall: write() after finish() ignored");
            return;
        }
        self.parts.body.extend_from_slice(data.as_ref());
    }

    /// Writes `value` as JSON and sets `Content-Type: application/json` (unless set).
    ///
    /// # Errors
    ///
    /// 500 if `value` cannot be serialized.
    #[cfg(feature = "json")]
    pub fn write_json<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        if self.finished {
            return Err(HttpError::internal("write_json() after finish()"));
        }
        serde_json::to_writer(&mut self.parts.body, value)?;
        if self
            .parts
            .headers
            .get("Content-Type")
            .is_none_or(|v| v.starts_with("text/html"))
        {
            self.parts
                .headers
                .insert("Content-Type", "application/json");
        }
        Ok(())
    }

    /// The body written so far (not yet sent).
    pub fn written(&self) -> &[u8] {
        &self.parts.body
    }

    /// Resets status, headers and the unsent body (Tornado's `clear`).
    pub fn clear(&mut self) {
        self.parts.headers.clear();
        self.parts.body.clear();
        self.status = 200;
        self.reason = None;
        self.content_length = None;
        self.encoding = Encoding::Auto;
        self.parts.lease = None;
    }

    /// Turns off the automatic ETag for this response.
    pub fn set_etag_enabled(&mut self, on: bool) {
        self.etag_enabled = on;
    }

    /// Declares the length of the whole body before the head is sent: the head carries
    /// `Content-Length: len` (not chunked encoding), so a large body of known size can be
    /// streamed with [`write`](Context::write) + [`flush_and_wait`](Context::flush_and_wait)
    /// and still be delimited by its length. It also turns off the automatic ETag: set your
    /// own validators. [`clear`](Context::clear) forgets the declaration.
    ///
    /// The handler must then write exactly `len` bytes (none for a HEAD request or a 304): if
    /// the body ends up longer or shorter, the connection is closed instead of sending a
    /// response the client would misread.
    ///
    /// # Errors
    ///
    /// 500 if the head was already sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::prelude::*;
    ///
    /// #[derive(Clone, Default)]
    /// struct Numbers;
    ///
    /// #[handler]
    /// impl Numbers {
    ///     async fn get(&mut self, cx: &mut Context) -> Result<()> {
    ///         let piece = [b'x'; 1024];
    ///         cx.set_content_length(16 * 1024)?;
    ///         for _ in 0..16 {
    ///             cx.write(piece);
    ///             // Sends the head (with Content-Length) and this piece, then waits for the
    ///             // socket to take it before the next one is produced.
    ///             cx.flush_and_wait().await?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn set_content_length(&mut self, len: u64) -> Result<()> {
        if self.head_sent {
            return Err(HttpError::internal(
                "set_content_length() after the head was sent",
            ));
        }
        self.content_length = Some(len);
        Ok(())
    }

    /// Redirects to `url` with 302 Found and finishes (Tornado's `redirect(url)`).
    ///
    /// # Errors
    ///
    /// 500 if the URL holds CR/LF/NUL, or the response was already started.
    pub fn redirect(&mut self, url: &str) -> Result<()> {
        self.redirect_with_status(url, 302)
    }

    /// Redirects to `url` with 301 Moved Permanently and finishes (Tornado's
    /// `redirect(url, permanent=True)`).
    ///
    /// # Errors
    ///
    /// As [`redirect`](Context::redirect).
    pub fn redirect_permanent(&mut self, url: &str) -> Result<()> {
        self.redirect_with_status(url, 301)
    }

    /// Redirects to `url` with another 3xx status (303 See Other after a POST, 307 or 308 to
    /// keep the method) and finishes (Tornado's `redirect(url, status=..)`).
    ///
    /// # Errors
    ///
    /// As [`redirect`](Context::redirect); 500 if `status` is not in 300..=399.
    pub fn redirect_with_status(&mut self, url: &str, status: u16) -> Result<()> {
        if !(300..=399).contains(&status) {
            return Err(HttpError::internal("a redirect's status must be 3xx"));
        }
        if self.head_sent || self.finished {
            return Err(HttpError::internal(
                "cannot redirect after the response started",
            ));
        }
        self.set_header("Location", url)?;
        self.set_status(status);
        self.finish()
    }

    /// Answers `error` now: clears what was written and sends the application's error page
    /// ([`Hooks::write_error`](super::Hooks::write_error), or the default one). Handlers usually
    /// just return `Err(HttpError::new(..))`, which goes through their `write_error`.
    pub fn send_error(&mut self, error: HttpError) {
        if self.finished {
            return;
        }
        if self.head_sent {
            self.abort();
            return;
        }
        self.clear();
        match error.custom_reason() {
            Some(r) => self.set_status_with_reason(error.status(), r.to_owned()),
            None => self.set_status(error.status()),
        }
        hooks::write_app_error(self, error.status(), &error);
        let _ = self.finish();
    }

    /// Whether the response is finished.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Whether the response head has been sent (after a flush).
    pub fn head_sent(&self) -> bool {
        self.head_sent
    }

    /// Whether the client has gone away.
    pub fn connection_closed(&self) -> bool {
        self.responder.as_ref().is_none_or(|r| r.is_closed())
    }
}

/// `status` if it is one (100..=599), else 500 (logged): what the head is sent with.
fn sanitize_status(status: u16) -> u16 {
    if (100..=599).contains(&status) {
        status
    } else {
        log::error!("squall: invalid status {status}; sending 500");
        500
    }
}

/// Tornado's default error page, short and without internal detail (unless `debug`).
pub(crate) fn default_error_page(cx: &mut Context, status: u16, error: &HttpError) {
    let reason = crate::escape::xhtml_escape(error.reason()).into_owned();
    let _ = cx.set_header("Content-Type", "text/html; charset=UTF-8");
    cx.write(format!(
        "<html><title>{status}: {reason}</title><body>{status}: {reason}"
    ));
    if let Some(m) = error.message() {
        cx.write(format!("<p>{}</p>", crate::escape::xhtml_escape(m)));
    }
    if cx.settings().debug {
        if let Some(m) = error.detail() {
            cx.write(format!("<pre>{}</pre>", crate::escape::xhtml_escape(&m)));
        }
    }
    cx.write("</body></html>");
}

/// Logs an error answered for `cx`'s request: 5xx as errors, others with a log message as
/// warnings.
pub(crate) fn log_error(cx: &Context, e: &HttpError) {
    let status = e.status();
    let detail = e.detail();
    if status < 500 && detail.is_none() {
        return;
    }
    let summary = format!(
        "{} {} ({})",
        cx.request().method_str(),
        cx.request().uri(),
        cx.request().remote_ip()
    );
    match (status, detail) {
        (500.., Some(m)) => log::error!("squall: {status} {summary}: {m}"),
        (500.., None) => log::error!("squall: {status} {summary}"),
        (_, Some(m)) => log::warn!("squall: {status} {summary}: {m}"),
        (_, None) => {}
    }
}
