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
use crate::httputil::{same_name, validate_header_name, validate_header_value, HeaderMap};

mod app;
mod arguments;
mod conditional;
mod encoding;
mod hooks;
#[cfg(feature = "templates")]
mod render;
mod security;
mod static_url;

pub use security::{SIGNED_COOKIE_MAX_AGE, XSRF_NAME};
pub(crate) use static_url::names_current_version;

pub(crate) use app::{AppShared, PathArgs, RouteTarget, MAX_PATH_ARGS};
pub use app::{DefaultHandler, Settings};
pub(crate) use encoding::Encoding;
use encoding::Plan;
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

    /// Sends the head and the body written so far; the rest of the body follows in chunks
    /// (HTTP/1.1) or until the connection closes (HTTP/1.0), unless its length was declared
    /// with [`set_content_length`](Context::set_content_length).
    ///
    /// # Errors
    ///
    /// 500 if the response is finished or the connection failed.
    pub fn flush(&mut self) -> Result<()> {
        if self.finished {
            return Err(HttpError::internal("flush() after finish()"));
        }
        if !self.head_sent && self.app.settings.hooks.any() {
            hooks::run_after(self);
        }
        let status = sanitize_status(self.status);
        if !self.head_sent {
            let plan = if self.app.settings.compress_response && self.encoding != Encoding::Off {
                self.plan_encoding(true)
            } else {
                Plan::NONE
            };
            let default_ct = self.default_content_type_line(status == 204 || status == 304);
            let Some(res) = self.responder.as_mut() else {
                return Err(HttpError::internal("no connection"));
            };
            self.head_sent = true;
            let mut lines: [&[u8]; 3] = [&[], &[], &[]];
            let mut n = 0;
            if let Some(line) = default_ct {
                lines[n] = line;
                n += 1;
            }
            n += plan.add_lines(&mut lines[n..], status);
            res.write_head_validated(
                status,
                self.reason.as_deref(),
                self.parts.headers.iter(),
                lines.get(..n).unwrap_or_default(),
                // A compressed body's length is not known: it goes chunked.
                if plan.coding.is_some() {
                    None
                } else {
                    self.content_length
                },
            )?;
        }
        if self.parts.lease.is_some() {
            self.write_encoded(false)?;
        } else {
            let Some(res) = self.responder.as_mut() else {
                return Err(HttpError::internal("no connection"));
            };
            res.write(&self.parts.body)?;
        }
        self.parts.body.clear();
        if let Some(res) = self.responder.as_ref() {
            res.flush();
        }
        Ok(())
    }

    /// Flushes, then waits until the client's socket has taken the data: await it between
    /// pieces of a large streamed body to keep memory bounded.
    ///
    /// # Errors
    ///
    /// 500 if the connection failed or closed.
    pub async fn flush_and_wait(&mut self) -> Result<()> {
        self.flush()?;
        match self.responder.as_ref() {
            Some(r) => r.drain().await.map_err(HttpError::from),
            None => Ok(()),
        }
    }

    /// Finishes the response: sends the head (with `Content-Length` and, for a 200 GET without
    /// a declared length, an ETag — answering 304 if the client has it) and the body. Called automatically after the
    /// handler method returns.
    ///
    /// # Errors
    ///
    /// 500 if already finished or the connection failed.
    #[inline]
    pub fn finish(&mut self) -> Result<()> {
        // The application's `after` hook, before the head goes; kept out of `send_rest` so
        // that an application without hooks runs the same code as before hooks existed.
        if self.app.settings.hooks.any() && !self.head_sent && !self.finished {
            hooks::run_after(self);
            if self.finished {
                return Ok(());
            }
        }
        self.send_rest()
    }

    /// [`finish`](Context::finish) after the hooks: completes the response.
    fn send_rest(&mut self) -> Result<()> {
        if self.finished {
            return Err(HttpError::internal("finish() called twice"));
        }
        self.finished = true;
        // Compression, when on, goes first: it may replace the body and code the ETag (the
        // tag names the representation sent), then the response completes as usual (a HEAD
        // of a compressed representation it completes itself, taking the responder).
        if !self.head_sent && self.app.settings.compress_response && self.may_encode() {
            self.encode_complete_body()?;
        }
        let Some(mut res) = self.responder.take() else {
            return Ok(());
        };
        if !self.head_sent {
            let parts = &mut *self.parts;
            // One scan of the handler's headers for the two that finishing looks at.
            let mut has_content_type = false;
            let mut own_etag = None;
            for (name, value) in parts.headers.iter() {
                if same_name(name, "Content-Type") {
                    has_content_type = true;
                } else if own_etag.is_none() && same_name(name, "Etag") {
                    own_etag = Some(value);
                }
            }
            // The ETag of a complete 200 GET: the handler's own, or computed from the body
            // (then sent as an extra header). A match of `If-None-Match` makes it a 304.
            let mut computed_etag = false;
            if self.etag_enabled
                && self.content_length.is_none()
                && self.status == 200
                && self.dispatch_method == MethodKind::Get
            {
                let tag = match own_etag {
                    Some(own) => own,
                    None => {
                        computed_etag = true;
                        parts.etag.tag_of(&parts.body)
                    }
                };
                if etag::request_matches(&self.request, tag) {
                    self.status = 304;
                    self.reason = None;
                    parts.body.clear();
                    for h in etag::REPRESENTATION_HEADERS {
                        parts.headers.remove(h);
                    }
                }
            }
            let status = sanitize_status(self.status);
            let no_body = status == 304 || status == 204;
            if no_body {
                parts.body.clear();
            }
            let len = if no_body {
                0
            } else {
                self.content_length.unwrap_or(parts.body.len() as u64)
            };
            // The headers finishing adds, as whole lines after the handler's.
            let mut lines: [&[u8]; 2] = [&[], &[]];
            let mut n = 0;
            if !no_body && !has_content_type {
                lines[n] = DEFAULT_CONTENT_TYPE_LINE;
                n += 1;
            }
            if computed_etag {
                lines[n] = parts.etag.last_line();
                n += 1;
            }
            res.complete(
                status,
                self.reason.as_deref(),
                parts.headers.iter(),
                lines.get(..n).unwrap_or_default(),
                Some(len),
                false,
                &parts.body,
            )?;
            return Ok(());
        }
        if self.parts.lease.is_some() {
            self.responder = Some(res);
            self.write_encoded(true)?;
            let Some(res) = self.responder.take() else {
                return Err(HttpError::internal("no connection"));
            };
            self.parts.lease = None;
            res.finish()?;
            return Ok(());
        }
        res.write(&self.parts.body)?;
        res.finish()?;
        Ok(())
    }

    /// Closes the connection without completing the response.
    pub fn abort(&mut self) {
        self.finished = true;
        if let Some(r) = self.responder.take() {
            r.abort();
        }
    }

    /// Counts the client's end of input while this response is pending as the client leaving
    /// (see [`Responder::close_on_client_eof`]). Done automatically for async handlers that
    /// define `on_connection_close`.
    pub fn close_on_client_eof(&self) {
        if let Some(r) = self.responder.as_ref() {
            r.close_on_client_eof();
        }
    }

    /// Runs `f` if the client closes the connection before the response is finished (once it
    /// is finished there is nothing left to interrupt, and `f` is dropped).
    pub fn on_connection_close<F: FnOnce() + 'static>(&mut self, f: F) {
        if let Some(r) = self.responder.as_ref() {
            r.set_close_callback(f);
        }
    }

    pub(crate) fn body_mut(&mut self) -> &mut Vec<u8> {
        &mut self.parts.body
    }

    /// The connection's stream (a WebSocket upgrade builds its connection on it).
    pub(crate) fn stream(&self) -> Option<crate::iostream::IOStream> {
        self.responder.as_ref().map(|r| r.stream().clone())
    }

    /// Answers `101 Switching Protocols` with `headers` and hands the stream over (see
    /// [`Responder::upgrade`]), with where the new protocol joins the server's graceful
    /// shutdown; the context is finished.
    pub(crate) fn upgrade(
        &mut self,
        headers: &[(&str, &str)],
    ) -> Result<(crate::iostream::IOStream, crate::http1::ShutdownWatch)> {
        if self.finished || self.head_sent {
            return Err(HttpError::internal("upgrade after the response started"));
        }
        self.finished = true;
        let res = self
            .responder
            .take()
            .ok_or_else(|| HttpError::internal("no connection"))?;
        let watch = res.shutdown_watch();
        Ok((res.upgrade(headers.iter().copied())?, watch))
    }
}

/// The `Content-Type` a response gets when the handler set none (Tornado's default), as the
/// header line sent.
const DEFAULT_CONTENT_TYPE_LINE: &[u8] = b"Content-Type: text/html; charset=UTF-8\r\n";

impl Context {
    /// The default `Content-Type` header line, when the response has a body and none was set.
    fn default_content_type_line(&self, no_body: bool) -> Option<&'static [u8]> {
        (!no_body && !self.parts.headers.contains("Content-Type"))
            .then_some(DEFAULT_CONTENT_TYPE_LINE)
    }
}

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
