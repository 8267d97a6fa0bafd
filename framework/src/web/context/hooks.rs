//! Application-wide hooks ([`Hooks`], set in [`Settings::hooks`](crate::web::Settings::hooks)): the
//! current user, code before and after every handler, and the error page of the whole
//! application. What Tornado does with a base handler class every handler inherits from.
//!
//! The rules (when each hook runs, what it costs, how failures are handled) are on [`Hooks`].

use std::any::Any;
use std::cell::OnceCell;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use super::Context;
use crate::web::error::{HttpError, Result};

/// A user value as the hooks keep it: any `'static` serializable type, seen by handlers
/// through [`Context::current_user`] and by templates as `current_user`.
pub(crate) trait UserValue: Any {
    fn as_any(&self) -> &dyn Any;
    /// The value for templates.
    #[cfg(feature = "templates")]
    fn to_template(&self) -> minijinja::Value;
}

impl<T: Any + serde::Serialize> UserValue for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    #[cfg(feature = "templates")]
    fn to_template(&self) -> minijinja::Value {
        minijinja::Value::from_serialize(self)
    }
}

type UserFn = dyn Fn(&Context) -> Option<Rc<dyn UserValue>>;
type BeforeFn = dyn Fn(&mut Context) -> Result<()>;
type AfterFn = dyn Fn(&mut Context) -> Result<()>;
type ErrorFn = dyn Fn(&mut Context, u16, &HttpError) -> Result<()>;

#[derive(Clone, Default)]
struct HookSet {
    current_user: Option<Rc<UserFn>>,
    before: Option<Rc<BeforeFn>>,
    after: Option<Rc<AfterFn>>,
    write_error: Option<Rc<ErrorFn>>,
}

/// Application-wide hooks, built with a chain of calls and put in
/// [`Settings::hooks`](crate::web::Settings::hooks).
///
/// ### When each runs
///
/// - [`current_user`](Hooks::current_user): lazily, the first time a request asks for its user
///   ([`Context::current_user`], [`Context::is_authenticated`], an `#[authenticated]` method,
///   a template's `current_user`); at most once per request, the answer is kept.
/// - [`before`](Hooks::before): once per request, after routing and before anything of the
///   handler (before its XSRF check and `prepare`), for routed and unrouted paths alike. It
///   may finish the request itself (a CORS preflight, a rate limit's 429): then no handler
///   runs. An `Err` is answered like a handler's error.
/// - [`after`](Hooks::after): once per response, just before its head is sent (at `finish`,
///   or at the first `flush` of a streamed response), whoever produced it: handler, error
///   page, 404, 405, redirect. It may add or change headers, not the body.
/// - [`write_error`](Hooks::write_error): writes the body of every error response of the
///   application (404 for unrouted paths, 405, a handler's `Err` or panic) unless the handler
///   has a `write_error` of its own. [`Context::write_json_error`] and
///   [`Context::write_html_error`] are the two usual bodies.
///
/// ### Cost
///
/// An application without hooks pays one test of one pointer per request and per response:
/// the hooks live behind a single `Option<Rc<..>>`.
///
/// ### Failures
///
/// A panic in `before` is a 500; in `after` it is logged and the response goes out as it was;
/// in `write_error` (or an `Err` from it) the default HTML page is sent instead.
///
/// # Examples
///
/// ```
/// use squall::prelude::*;
/// use squall::web::Hooks;
///
/// let hooks = Hooks::new()
///     // The user is the name in the signed cookie `user`.
///     .current_user(|cx| cx.signed_cookie("user"))
///     // Every response says it must not be framed.
///     .after(|cx| cx.set_header("X-Frame-Options", "DENY"))
///     // JSON errors under /api/, HTML pages elsewhere.
///     .write_error(|cx, status, error| {
///         if cx.path().starts_with("/api/") {
///             cx.write_json_error(status, error)
///         } else {
///             cx.write_html_error(status, error)
///         }
///     });
/// let settings = Settings { hooks, login_url: Some("/login".into()), ..Settings::default() };
/// # let _ = settings;
/// ```
#[derive(Clone, Default)]
pub struct Hooks {
    set: Option<Rc<HookSet>>,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.set.as_deref();
        f.debug_struct("Hooks")
            .field(
                "current_user",
                &set.is_some_and(|s| s.current_user.is_some()),
            )
            .field("before", &set.is_some_and(|s| s.before.is_some()))
            .field("after", &set.is_some_and(|s| s.after.is_some()))
            .field("write_error", &set.is_some_and(|s| s.write_error.is_some()))
            .finish()
    }
}

impl Hooks {
    /// No hooks (the default).
    pub fn new() -> Hooks {
        Hooks::default()
    }

    fn edit(mut self, f: impl FnOnce(&mut HookSet)) -> Hooks {
        let mut set = self.set.take().map(|s| (*s).clone()).unwrap_or_default();
        f(&mut set);
        self.set = Some(Rc::new(set));
        self
    }

    /// How to find the current user of a request (Tornado's `get_current_user`): from a
    /// signed cookie, a header, a session table... `None` is an anonymous request. Called at
    /// most once per request, and only if something asks (see [`Context::current_user`]).
    ///
    /// The user may be any serializable type: handlers read it with
    /// `cx.current_user::<T>()`, templates see it as `current_user` (its fields as
    /// attributes). To find a user asynchronously, find it in an `async fn prepare` and hand it
    /// over with [`Context::set_current_user`].
    pub fn current_user<T, F>(self, f: F) -> Hooks
    where
        T: serde::Serialize + 'static,
        F: Fn(&Context) -> Option<T> + 'static,
    {
        let f: Rc<UserFn> = Rc::new(move |cx| f(cx).map(|u| Rc::new(u) as Rc<dyn UserValue>));
        self.edit(|s| s.current_user = Some(f))
    }

    /// Runs before every request's handler (after routing). If it finishes the response
    /// (`cx.finish()`, `cx.redirect(..)`, ...), the handler is skipped; an `Err` is answered
    /// as an error response.
    pub fn before<F>(self, f: F) -> Hooks
    where
        F: Fn(&mut Context) -> Result<()> + 'static,
    {
        self.edit(|s| s.before = Some(Rc::new(f)))
    }

    /// Runs for every response just before its head is sent: set headers here (CORS,
    /// security headers, timing). An `Err` is logged; the response goes out regardless.
    pub fn after<F>(self, f: F) -> Hooks
    where
        F: Fn(&mut Context) -> Result<()> + 'static,
    {
        self.edit(|s| s.after = Some(Rc::new(f)))
    }

    /// Writes the body of the application's error responses (the status is already set and
    /// the response cleared); a handler's own `write_error` takes precedence for its
    /// requests. An `Err` (or a panic) falls back to the default HTML page.
    pub fn write_error<F>(self, f: F) -> Hooks
    where
        F: Fn(&mut Context, u16, &HttpError) -> Result<()> + 'static,
    {
        self.edit(|s| s.write_error = Some(Rc::new(f)))
    }

    /// Whether any hook is set.
    #[inline(always)]
    pub(crate) fn any(&self) -> bool {
        self.set.is_some()
    }
}

/// The per-request state the hooks keep in a [`Context`]'s pooled parts: the current user,
/// once asked for, and whether the `after` hook is running (so that a `flush` inside it does
/// not run it again). Filling it marks the parts `touched`, so they forget it.
#[derive(Default)]
pub(crate) struct HookState {
    user: OnceCell<Option<Rc<dyn UserValue>>>,
    in_after: bool,
}

/// The current user of `cx`, computed on first use.
fn user_of(cx: &Context) -> Option<&Rc<dyn UserValue>> {
    cx.parts
        .hook_state
        .user
        .get_or_init(|| {
            cx.parts.touched.set(true);
            let f = cx.app.settings.hooks.set.as_ref()?.current_user.clone()?;
            match catch_unwind(AssertUnwindSafe(|| f(cx))) {
                Ok(u) => u,
                Err(p) => {
                    log::error!(
                        "squall: the current_user hook panicked: {}",
                        crate::ioloop::panic_message(&*p)
                    );
                    None
                }
            }
        })
        .as_ref()
}

impl Context {
    /// The user of this request, as [`Hooks::current_user`] finds it (computed on the first
    /// call, then kept), or as [`set_current_user`](Context::set_current_user) set it.
    /// `None` for an anonymous request, and for a `T` other than the hook's type (logged).
    ///
    /// # Examples
    ///
    /// ```
    /// use squall::prelude::*;
    ///
    /// #[derive(Clone, Default)]
    /// struct Profile;
    ///
    /// #[handler]
    /// impl Profile {
    ///     fn get(&mut self, cx: &mut Context) -> Result<()> {
    ///         match cx.current_user::<String>() {
    ///             Some(name) => cx.write(format!("Hello, {name}")),
    ///             None => cx.write("Hello, stranger"),
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn current_user<T: 'static>(&self) -> Option<&T> {
        let user = user_of(self)?;
        let typed = (**user).as_any().downcast_ref::<T>();
        if typed.is_none() {
            log::error!(
                "squall: current_user::<{}>() does not match the type the current_user hook returns",
                std::any::type_name::<T>()
            );
        }
        typed
    }

    /// Whether the request has a current user (see [`current_user`](Context::current_user)).
    pub fn is_authenticated(&self) -> bool {
        user_of(self).is_some()
    }

    /// Sets this request's user (Tornado's `self.current_user = ...`), for users found
    /// asynchronously in `prepare`; replaces what the hook would say.
    pub fn set_current_user<T: serde::Serialize + 'static>(&mut self, user: Option<T>) {
        self.parts.touched.set(true);
        let state = &mut self.parts.hook_state;
        state.user = OnceCell::new();
        let _ = state
            .user
            .set(user.map(|u| Rc::new(u) as Rc<dyn UserValue>));
    }

    /// The current user as a template value (`none` for anonymous).
    #[cfg(feature = "templates")]
    pub(crate) fn current_user_value(&self) -> minijinja::Value {
        user_of(self).map_or(minijinja::Value::from(()), |u| u.to_template())
    }

    /// Writes an error body as JSON: `{"status": 404, "message": "Not Found"}` with
    /// `Content-Type: application/json`. The message is the error's client message
    /// ([`HttpError::with_message`]) or its reason phrase; in `debug` the log message follows
    /// as `"log"`. For [`Hooks::write_error`] (or a handler's `write_error`).
    ///
    /// # Errors
    ///
    /// 500 if the header cannot be set (never for this fixed header).
    pub fn write_json_error(&mut self, status: u16, error: &HttpError) -> Result<()> {
        self.set_header("Content-Type", "application/json")?;
        let message = error.message().unwrap_or(error.reason());
        let mut body = format!("{{\"status\":{status},\"message\":{}", json_str(message));
        if self.settings().debug {
            if let Some(log) = error.log_message() {
                body.push_str(",\"log\":");
                body.push_str(&json_str(log));
            }
        }
        body.push('}');
        self.write(body);
        Ok(())
    }

    /// Writes the default HTML error page (what an application without hooks sends).
    ///
    /// # Errors
    ///
    /// Never; `Result` for use as a hook's return value.
    pub fn write_html_error(&mut self, status: u16, error: &HttpError) -> Result<()> {
        super::default_error_page(self, status, error);
        Ok(())
    }
}

/// Runs the application's `before` hook; `false` if the request is finished (by the hook, or
/// by its error) and no handler must run.
#[cold]
#[inline(never)]
pub(crate) fn run_before(cx: &mut Context) -> bool {
    let Some(f) = cx
        .app
        .settings
        .hooks
        .set
        .as_ref()
        .and_then(|s| s.before.clone())
    else {
        return true;
    };
    let r = catch_unwind(AssertUnwindSafe(|| f(cx)));
    let error = match r {
        Ok(Ok(())) => return !cx.is_finished(),
        Ok(Err(e)) => e,
        Err(p) => HttpError::internal(format!(
            "the before hook panicked: {}",
            crate::ioloop::panic_message(&*p)
        )),
    };
    super::log_error(cx, &error);
    cx.send_error(error);
    false
}

/// Runs the application's `after` hook, once per response, before its head is sent.
#[cold]
#[inline(never)]
pub(crate) fn run_after(cx: &mut Context) {
    let Some(f) = cx
        .app
        .settings
        .hooks
        .set
        .as_ref()
        .and_then(|s| s.after.clone())
    else {
        return;
    };
    // Once per response: a `flush` from inside the hook must not run it again.
    if cx.parts.hook_state.in_after || cx.head_sent() {
        return;
    }
    cx.parts.hook_state.in_after = true;
    let r = catch_unwind(AssertUnwindSafe(|| f(cx)));
    cx.parts.hook_state.in_after = false;
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => log::error!("squall: the after hook failed: {e}"),
        Err(p) => log::error!(
            "squall: the after hook panicked: {}",
            crate::ioloop::panic_message(&*p)
        ),
    }
}

/// Writes an error body: the application's `write_error` hook if there is one (falling back
/// to the default page if it fails), else the default page. The status is set.
pub(crate) fn write_app_error(cx: &mut Context, status: u16, error: &HttpError) {
    let hook = cx
        .app
        .settings
        .hooks
        .set
        .as_ref()
        .and_then(|s| s.write_error.clone());
    if let Some(f) = hook {
        match catch_unwind(AssertUnwindSafe(|| f(cx, status, error))) {
            Ok(Ok(())) => return,
            Ok(Err(e)) => log::error!("squall: the write_error hook failed: {e}"),
            Err(p) => log::error!(
                "squall: the write_error hook panicked: {}",
                crate::ioloop::panic_message(&*p)
            ),
        }
        let keep = cx.status();
        cx.clear();
        cx.set_status(keep);
    }
    super::default_error_page(cx, status, error);
}

/// `s` as a JSON string literal (quotes included).
fn json_str(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::json_str;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("Not Found"), r#""Not Found""#);
        assert_eq!(
            json_str("a\"b\\c\n<x>\u{1}"),
            r#""a\"b\\c\n\u003cx\u003e\u0001""#
        );
        let v: String = serde_json::from_str(&json_str("é \" \\ \t </script>")).unwrap();
        assert_eq!(v, "é \" \\ \t </script>");
    }
}
