//! The handler trait that `#[handler]` implements, and the request lifecycle around it:
//! XSRF check → `prepare` → the method → `finish` → `on_finish` (Tornado's order).
//!
//! ### Sync and async
//!
//! A handler method may be `fn` or `async fn`. A sync method is called directly on the loop,
//! inside the request's dispatch: no task, no allocation. An async one (or any method of a
//! handler whose `prepare` is async) runs as a task on the loop; if the client goes away
//! before it finishes, the task's future is dropped and `on_connection_close` runs.
//!
//! ### Failures
//!
//! An `Err(HttpError)` or a panic in a hook or method becomes an error response through
//! `write_error` (500 for panics), unless the response was already partly sent, in which case
//! the connection is closed. The server carries on either way.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::context::{log_error, Context};
use super::error::{HttpError, Result};
use crate::http1::MethodKind;
use crate::task::CatchUnwind;

/// A request handler: what `#[handler]` turns an `impl` block into.
///
/// You do not implement this trait by hand: write `get`, `post`, ... (and the optional hooks
/// below) in an `impl` block annotated with [`#[handler]`](crate::handler). The hooks with
/// default bodies are the ones a handler may define.
///
/// # Examples
///
/// ```
/// use squall::prelude::*;
///
/// #[derive(Clone, Default)]
/// struct Hello;
///
/// #[handler]
/// impl Hello {
///     fn prepare(&mut self, cx: &mut Context) -> Result<()> {
///         cx.set_header("X-Prepared", "yes")
///     }
///     fn get(&mut self, cx: &mut Context) -> Result<()> {
///         cx.write("hello");
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Squall request handler",
    label = "this type has no `#[handler]` impl",
    note = "annotate its `impl` block (the one with `get`, `post`, ...) with `#[squall::handler]`"
)]
pub trait RequestHandler: Sized + 'static {
    #[doc(hidden)]
    /// The HTTP methods the handler defines.
    const METHODS: &'static [MethodKind];
    #[doc(hidden)]
    /// How many path arguments its methods take (the route's group count).
    const ARITY: usize;
    #[doc(hidden)]
    /// Whether the request body is streamed to `data_received` instead of buffered.
    const STREAM_REQUEST_BODY: bool = false;
    #[doc(hidden)]
    /// Whether the handler defines `on_connection_close` (then the client's EOF during an
    /// async method counts as its departure).
    const WANTS_CONNECTION_CLOSE: bool = false;
    #[doc(hidden)]
    /// Whether this is a WebSocket handler (`#[websocket_handler]`): GET upgrades.
    const WEBSOCKET: bool = false;

    #[doc(hidden)]
    /// Serves a WebSocket handshake (`#[websocket_handler]` types only).
    fn __websocket(self, _cx: &mut Context) {}

    #[doc(hidden)]
    /// Whether serving `method` needs a task (an async method or an async `prepare`).
    fn __is_async(method: MethodKind) -> bool;

    #[doc(hidden)]
    /// Whether `method` is exempt from the XSRF check.
    fn __xsrf_exempt(_method: MethodKind) -> bool {
        false
    }

    #[doc(hidden)]
    /// Whether `method` is `#[authenticated]`: it needs a current user.
    fn __authenticated(_method: MethodKind) -> bool {
        false
    }

    #[doc(hidden)]
    /// Calls the sync method for `cx`'s dispatch method.
    fn __call_sync(&mut self, cx: &mut Context) -> Result<()>;

    #[doc(hidden)]
    /// Calls the (sync or async) method for `cx`'s dispatch method.
    fn __call_async<'a>(&'a mut self, cx: &'a mut Context)
        -> impl Future<Output = Result<()>> + 'a;

    #[doc(hidden)]
    /// Receives a piece of a streamed request body (`stream_request_body` handlers).
    fn __data_received(&mut self, _chunk: &[u8]) -> Result<()> {
        Ok(())
    }

    #[doc(hidden)]
    /// Sees the head of a streamed request before its body (`body_started`).
    fn __body_started(&mut self, _request: &crate::http1::Request) -> Result<()> {
        Ok(())
    }

    /// Runs before the method; may finish the request early (then the method is skipped).
    fn prepare(&mut self, _cx: &mut Context) -> Result<()> {
        Ok(())
    }

    /// The async form of [`prepare`](RequestHandler::prepare) (an `async fn prepare`).
    fn prepare_async<'a>(
        &'a mut self,
        cx: &'a mut Context,
    ) -> impl Future<Output = Result<()>> + 'a {
        std::future::ready(self.prepare(cx))
    }

    /// Runs after the response is finished (for logging, cleanup).
    fn on_finish(&mut self, _cx: &mut Context) {}

    /// Runs when the client closes the connection before an async method finished; the
    /// method's future has been dropped.
    fn on_connection_close(&mut self) {}

    /// Writes the body of an error response (the status is already set). The default is the
    /// application's [`Hooks::write_error`](super::Hooks::write_error) if set, else a short
    /// HTML page (with `debug`, including the error's log message).
    ///
    /// # Errors
    ///
    /// An error here is logged and the default page is used instead.
    fn write_error(&mut self, cx: &mut Context, status: u16, error: &HttpError) -> Result<()> {
        super::context::write_app_error(cx, status, error);
        Ok(())
    }
}

/// What a handler method may return: `()` or `Result<(), E>` with `E: Into<HttpError>`.
#[diagnostic::on_unimplemented(
    message = "handler methods and hooks return `Result<()>` (or `()`), not `{Self}`",
    label = "this return type",
    note = "write the response with `cx.write(..)` and return `Ok(())`; errors are `HttpError` (or convert into it)"
)]
pub trait IntoHandlerResult {
    /// Converts to the lifecycle's result.
    fn into_result(self) -> Result<()>;
}

impl IntoHandlerResult for () {
    fn into_result(self) -> Result<()> {
        Ok(())
    }
}

impl<E: Into<HttpError>> IntoHandlerResult for std::result::Result<(), E> {
    fn into_result(self) -> Result<()> {
        self.map_err(Into::into)
    }
}

/// A type that can be a path argument: anything `FromStr`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a path argument",
    label = "does not implement `FromStr`",
    note = "path arguments are parsed from the URL with `FromStr`: use such a type, e.g. `String` or `u64`"
)]
pub trait PathArg: Sized {
    /// Parses a percent-decoded path segment.
    fn from_path(s: &str) -> Option<Self>;
}

impl<T: std::str::FromStr> PathArg for T {
    fn from_path(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// Reads path argument `i` as `T`: a missing group or a failed conversion is a 404.
#[doc(hidden)]
pub fn path_arg<T: PathArg>(cx: &Context, i: usize) -> Result<T> {
    cx.path_arg(i)
        .and_then(|s| T::from_path(&s))
        .ok_or_else(|| HttpError::new(404).log(format!("path argument {i} did not convert")))
}

/// Reads optional path argument `i` (an optional group): `None` when the group did not match.
#[doc(hidden)]
pub fn path_arg_opt<T: PathArg>(cx: &Context, i: usize) -> Result<Option<T>> {
    match cx.path_arg(i) {
        None => Ok(None),
        Some(s) => T::from_path(&s)
            .map(Some)
            .ok_or_else(|| HttpError::new(404).log(format!("path argument {i} did not convert"))),
    }
}

/// The method a handler serves for a request's method: itself, GET for HEAD when there is no
/// `head`, or `None` (405, or the default OPTIONS answer).
pub(crate) fn resolve_method(methods: &[MethodKind], method: MethodKind) -> Option<MethodKind> {
    if methods.contains(&method) {
        Some(method)
    } else if method == MethodKind::Head && methods.contains(&MethodKind::Get) {
        Some(MethodKind::Get)
    } else {
        None
    }
}

/// The `Allow` header value for a handler's methods.
pub(crate) fn allow_header(methods: &[MethodKind]) -> String {
    let mut all: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
    if methods.contains(&MethodKind::Get) && !methods.contains(&MethodKind::Head) {
        all.push("HEAD");
    }
    if !methods.contains(&MethodKind::Options) {
        all.push("OPTIONS");
    }
    all.join(", ")
}

/// Serves one request with handler `h` (the route found it; the context in `slot` holds the
/// request). A sync method works on the context in place; an async one takes it into its task.
pub(crate) fn serve<H: RequestHandler>(mut h: H, slot: &mut Option<Context>, allow: &str) {
    let Some(cx) = slot.as_mut() else {
        return;
    };
    if H::WEBSOCKET {
        h.__websocket(cx);
        return;
    }
    let method = cx.request().method_kind();
    let Some(effective) = resolve_method(H::METHODS, method) else {
        if method == MethodKind::Options {
            cx.set_status(204);
        } else {
            let e = HttpError::new(405);
            cx.set_status(405);
            super::context::write_app_error(cx, 405, &e);
        }
        let _ = cx.set_header("Allow", allow);
        let _ = cx.finish();
        return;
    };
    cx.set_dispatch_method(effective);
    if H::__is_async(effective) {
        if let Some(cx) = slot.take() {
            spawn_lifecycle(h, cx);
        }
    } else {
        let r = catch_unwind(AssertUnwindSafe(|| -> Result<()> {
            before::<H>(cx)?;
            h.prepare(cx)?;
            if cx.is_finished() || (H::__authenticated(effective) && !require_user(cx)?) {
                return Ok(());
            }
            h.__call_sync(cx)
        }));
        complete(&mut h, cx, r);
    }
}

/// The checks that run before `prepare`.
fn before<H: RequestHandler>(cx: &mut Context) -> Result<()> {
    let m = cx.request().method_kind();
    if cx.settings().xsrf_cookies && !m.is_safe() && !H::__xsrf_exempt(cx.__dispatch_kind()) {
        cx.check_xsrf_cookie()?;
    }
    Ok(())
}

/// The check of an `#[authenticated]` method (Tornado's `@authenticated`): `true` if the
/// request has a current user. Otherwise a GET or HEAD is redirected to
/// `Settings::login_url` with `next=<this URL>` (and `false` returned: the request is done),
/// and any other method is a 403.
#[cold]
#[inline(never)]
fn require_user(cx: &mut Context) -> Result<bool> {
    if cx.is_authenticated() {
        return Ok(true);
    }
    let login = cx.settings().login_url.clone();
    match (cx.method(), login) {
        (crate::http1::Method::Get | crate::http1::Method::Head, Some(login)) => {
            // An absolute login URL (another host) gets the full URL to come back to.
            let next = if login.contains("://") {
                cx.full_url()
            } else {
                cx.uri().to_owned()
            };
            let sep = if login.contains('?') { '&' } else { '?' };
            let url = format!(
                "{login}{sep}next={}",
                crate::escape::url_escape(&next, true)
            );
            cx.redirect(&url)?;
            Ok(false)
        }
        _ => Err(HttpError::new(403).log("authentication required")),
    }
}

fn complete<H: RequestHandler>(h: &mut H, cx: &mut Context, r: std::thread::Result<Result<()>>) {
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => fail(h, cx, e),
        Err(p) => {
            let msg = crate::ioloop::panic_message(&*p).to_owned();
            fail(
                h,
                cx,
                HttpError::internal(format!("handler panicked: {msg}")),
            );
        }
    }
    if !cx.is_finished() {
        if let Err(e) = cx.finish() {
            log::error!("squall: finishing the response failed: {e}");
        }
    }
    if catch_unwind(AssertUnwindSafe(|| h.on_finish(cx))).is_err() {
        log::error!("squall: on_finish panicked");
    }
}

/// Answers an error: through `write_error` if nothing was sent yet, else by closing.
fn fail<H: RequestHandler>(h: &mut H, cx: &mut Context, e: HttpError) {
    let status = e.status();
    log_error(cx, &e);
    if cx.is_finished() {
        return;
    }
    if cx.head_sent() {
        cx.abort();
        return;
    }
    cx.clear();
    match e.custom_reason() {
        Some(r) => cx.set_status_with_reason(status, r.to_owned()),
        None => cx.set_status(status),
    }
    let written = catch_unwind(AssertUnwindSafe(|| h.write_error(cx, status, &e)));
    if !matches!(written, Ok(Ok(()))) {
        log::error!("squall: write_error failed; sending the default error page");
        cx.clear();
        cx.set_status(status);
        super::context::default_error_page(cx, status, &e);
    }
    if !cx.is_finished() {
        let _ = cx.finish();
    }
}

/// Set when the client closes the connection while an async handler runs.
#[derive(Default)]
pub(crate) struct CloseSignal {
    closed: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl CloseSignal {
    pub(crate) fn fire(&self) {
        self.closed.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

fn spawn_lifecycle<H: RequestHandler>(h: H, mut cx: Context) {
    let signal = Rc::new(CloseSignal::default());
    let s2 = signal.clone();
    cx.on_connection_close(move || s2.fire());
    if H::WANTS_CONNECTION_CLOSE {
        cx.close_on_client_eof();
    }
    crate::task::spawn(async move {
        let mut h = h;
        let mut cx = cx;
        let outcome = {
            let work = CatchUnwind::new(async {
                before::<H>(&mut cx)?;
                h.prepare_async(&mut cx).await?;
                if cx.is_finished()
                    || (H::__authenticated(cx.__dispatch_kind()) && !require_user(&mut cx)?)
                {
                    return Ok(());
                }
                h.__call_async(&mut cx).await
            });
            let mut work = pin!(work);
            std::future::poll_fn(|tcx| {
                if signal.closed.get() {
                    return Poll::Ready(None);
                }
                if let Poll::Ready(r) = work.as_mut().poll(tcx) {
                    return Poll::Ready(Some(r));
                }
                *signal.waker.borrow_mut() = Some(tcx.waker().clone());
                Poll::Pending
            })
            .await
        };
        match outcome {
            Some(r) => complete(&mut h, &mut cx, r),
            None => {
                // The work future is dropped (end of the block above); tell the handler.
                if catch_unwind(AssertUnwindSafe(|| h.on_connection_close())).is_err() {
                    log::error!("squall: on_connection_close panicked");
                }
            }
        }
        cx.recycle();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_resolution_and_allow() {
        let m = [MethodKind::Get, MethodKind::Post];
        assert_eq!(resolve_method(&m, MethodKind::Get), Some(MethodKind::Get));
        assert_eq!(resolve_method(&m, MethodKind::Head), Some(MethodKind::Get));
        assert_eq!(resolve_method(&m, MethodKind::Delete), None);
        assert_eq!(resolve_method(&m, MethodKind::Options), None);
        assert_eq!(allow_header(&m), "GET, POST, HEAD, OPTIONS");
        assert_eq!(allow_header(&[MethodKind::Put]), "PUT, OPTIONS");
    }
}
