//! Templates: [`Context::render`] (Tornado's `self.render`) over
//! [minijinja](https://docs.rs/minijinja), the Jinja2 engine of Rust.
//!
//! Every file below [`Settings::template_path`](super::Settings::template_path) is a template,
//! named by its path relative to that folder with `/` separators (`"page.html"`,
//! `"admin/users.html"`); templates include and extend each other by those names.
//!
//! ### Loading
//!
//! All templates are read and compiled when the application is built: a syntax error is an
//! error at startup naming the file and the line. With `debug` on, each render first checks
//! whether a file under the folder changed (size, time or set of files) and reloads them all
//! if so; a syntax error met then is a 500 showing file and line.
//!
//! ### Escaping
//!
//! By file extension: `.html`, `.htm`, `.xml`, `.xhtml` and `.svg` templates HTML-escape every
//! `{{ expression }}` as Tornado's `xhtml_escape` does (`& < > " '`; mark trusted HTML with
//! `|safe`); others (`.txt`, `.js`, ...) do not.
//!
//! ### What every template sees
//!
//! Beside the context given to `render`: `current_user` (the request's user or `none`),
//! `request` (`method`, `uri`, `path`, `query`, `host`, `protocol`, `remote_ip`, and
//! `arguments`: every query and form argument as a list of values), the functions
//! `xsrf_form_html()`, `xsrf_token()`, `static_url(path)` and `reverse_url(name, args...)`,
//! Tornado's `url_escape` and `json_encode` (as functions and filters: `{{ x|url_escape }}`),
//! and the application's [`template_globals`](super::Settings::template_globals). Values the
//! render context names take precedence.
//!
//! ### Errors
//!
//! A template that does not exist or fails while rendering is a 500; the log says which
//! template, which line and why, and so does the page, only with `debug` on.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use minijinja::value::{merge_maps, Rest};
use minijinja::{AutoEscape, Environment, Value};

use super::context::Context;
use super::context::{versioned_url, VersionCache};
use super::error::{HttpError, Result, SetupError as Error, SetupErrorKind as ErrorKind};
use super::xsrf::{form_html, XsrfToken};

pub use minijinja::context;

/// What a template may be given as a value (re-exported from minijinja): build one with
/// [`Value::from`], [`Value::from_serialize`] or the [`context!`] macro.
pub type TemplateValue = Value;

/// What the templates' `reverse_url` needs of each named route.
#[derive(Debug, Clone)]
pub(crate) struct ReverseEntry {
    pub(crate) name: &'static str,
    pub(crate) pieces: &'static [&'static str],
}

/// The application-wide part of the templates' functions (`static_url`, `reverse_url`).
#[derive(Clone)]
pub(crate) struct TemplateSetup {
    pub(crate) root: PathBuf,
    pub(crate) debug: bool,
    pub(crate) globals: Vec<(String, Value)>,
    pub(crate) static_path: Option<PathBuf>,
    pub(crate) static_prefix: String,
    pub(crate) versions: Arc<VersionCache>,
    pub(crate) routes: Arc<Vec<ReverseEntry>>,
}

/// One file's identity, to notice changes in debug mode.
#[derive(PartialEq, Eq, Clone, Debug)]
struct Stamp {
    name: String,
    len: u64,
    modified: Option<SystemTime>,
}

/// The compiled templates of an application.
pub(crate) struct Templates {
    setup: TemplateSetup,
    current: std::cell::RefCell<(Rc<Environment<'static>>, Vec<Stamp>)>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("root", &self.setup.root)
            .finish()
    }
}

/// Every file below `root` (hidden ones skipped), as (name, path), sorted by name.
fn list_files(root: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut dirs = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else {
                continue;
            };
            if file_name.starts_with('.') {
                continue;
            }
            let name = format!("{prefix}{file_name}");
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
                dirs.push((path, format!("{name}/")));
            } else {
                out.push((name, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn stamps(files: &[(String, PathBuf)]) -> Vec<Stamp> {
    files
        .iter()
        .map(|(name, path)| {
            let meta = std::fs::metadata(path).ok();
            Stamp {
                name: name.clone(),
                len: meta.as_ref().map_or(0, |m| m.len()),
                modified: meta.and_then(|m| m.modified().ok()),
            }
        })
        .collect()
}

/// A template error as "name, line N: message".
fn describe(e: &minijinja::Error) -> String {
    let mut s = String::new();
    match (e.name(), e.line()) {
        (Some(name), Some(line)) => {
            let _ = write!(s, "template {name}, line {line}: ");
        }
        (Some(name), None) => {
            let _ = write!(s, "template {name}: ");
        }
        _ => {}
    }
    let _ = write!(s, "{}", e.kind());
    if let Some(detail) = e.detail() {
        let _ = write!(s, ": {detail}");
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        let _ = write!(s, ": {inner}");
        source = inner.source();
    }
    s
}

/// Whether templates called `name` escape HTML.
fn escapes_html(name: &str) -> bool {
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    ["html", "htm", "xml", "xhtml", "svg"]
        .iter()
        .any(|e| ext.eq_ignore_ascii_case(e))
}

impl Templates {
    /// Reads and compiles every template below the folder.
    pub(crate) fn load(setup: TemplateSetup) -> std::result::Result<Templates, Error> {
        let (env, stamps) = build(&setup)?;
        Ok(Templates {
            setup,
            current: std::cell::RefCell::new((Rc::new(env), stamps)),
        })
    }

    /// The environment to render with: reloaded first in debug mode if a file changed.
    fn environment(&self) -> Result<Rc<Environment<'static>>> {
        if self.setup.debug {
            let files = list_files(&self.setup.root).map_err(|e| {
                HttpError::internal(format!("template_path {}: {e}", self.setup.root.display()))
            })?;
            let changed = stamps(&files) != self.current.borrow().1;
            if changed {
                let (env, stamps) =
                    build(&self.setup).map_err(|e| HttpError::internal(e.to_string()))?;
                log::info!(
                    "squall: templates reloaded from {}",
                    self.setup.root.display()
                );
                *self.current.borrow_mut() = (Rc::new(env), stamps);
            }
        }
        Ok(self.current.borrow().0.clone())
    }
}

/// Compiles every template below the folder into a fresh environment.
fn build(setup: &TemplateSetup) -> std::result::Result<(Environment<'static>, Vec<Stamp>), Error> {
    let config = |e: String| Error::new(ErrorKind::Config, e);
    let files = list_files(&setup.root)
        .map_err(|e| config(format!("template_path {}: {e}", setup.root.display())))?;
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    env.set_debug(setup.debug);
    env.set_auto_escape_callback(|name| {
        if escapes_html(name) {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    // HTML escaping as Tornado's `xhtml_escape` does it (`& < > " '`); minijinja's own also
    // escapes `/`, which makes every URL in a page read `&#x2f;static&#x2f;...`.
    env.set_formatter(|out, state, value| {
        if state.auto_escape() != AutoEscape::Html
            || value.is_safe()
            || value.is_undefined()
            || value.is_none()
        {
            return minijinja::escape_formatter(out, state, value);
        }
        let text = match value.as_str() {
            Some(s) => crate::escape::xhtml_escape(s).into_owned(),
            None => crate::escape::xhtml_escape(&value.to_string()).into_owned(),
        };
        out.write_str(&text).map_err(minijinja::Error::from)
    });
    for (name, path) in &files {
        let source = std::fs::read_to_string(path)
            .map_err(|e| config(format!("template {}: {e}", path.display())))?;
        env.add_template_owned(name.clone(), source)
            .map_err(|e| config(format!("{} ({})", describe(&e), path.display())))?;
    }
    for (name, value) in &setup.globals {
        env.add_global(name.clone(), value.clone());
    }
    // Tornado's template namespace: url_escape (query-style: spaces as `+`) and json_encode
    // (`</` written `<\/`, so that the JSON can sit in a <script>), as functions and filters.
    let url = |s: &str| crate::escape::url_escape(s, true);
    env.add_function("url_escape", url);
    env.add_filter("url_escape", url);
    #[cfg(feature = "json")]
    {
        let json = |v: Value| -> std::result::Result<String, minijinja::Error> {
            serde_json::to_string(&v)
                .map(|j| j.replace("</", "<\\/"))
                .map_err(|e| template_error(format!("json_encode: {e}")))
        };
        env.add_function("json_encode", json);
        env.add_filter("json_encode", json);
    }
    let statics = setup.clone();
    env.add_function(
        "static_url",
        move |path: &str| -> std::result::Result<String, minijinja::Error> {
            let root = statics.static_path.as_deref().ok_or_else(|| {
                minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    "static_url() needs Settings::static_path",
                )
            })?;
            versioned_url(root, &statics.static_prefix, path, &statics.versions).map_err(|e| {
                minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    e.log_message().unwrap_or("static_url failed").to_owned(),
                )
            })
        },
    );
    let routes = setup.routes.clone();
    env.add_function(
        "reverse_url",
        move |name: &str, args: Rest<Value>| -> std::result::Result<String, minijinja::Error> {
            reverse(&routes, name, &args)
                .map_err(|m| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, m))
        },
    );
    // Each template is compiled when added; check that every one also resolves (a syntax
    // error in a template only extended would otherwise wait for the first render).
    for (name, _) in &files {
        env.get_template(name).map_err(|e| config(describe(&e)))?;
    }
    let stamps = stamps(&files);
    Ok((env, stamps))
}

/// The templates' `reverse_url(name, args...)`: the route's literal pieces around its
/// arguments, each percent-encoded as `Context::reverse_url` does.
fn reverse(
    routes: &[ReverseEntry],
    name: &str,
    args: &[Value],
) -> std::result::Result<String, String> {
    let route = routes
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| format!("reverse_url: no route named {name:?}"))?;
    if args.len() + 1 != route.pieces.len() {
        return Err(format!(
            "reverse_url: route {name:?} takes {} arguments, got {}",
            route.pieces.len() - 1,
            args.len()
        ));
    }
    let mut out = String::from(route.pieces[0]);
    for (arg, piece) in args.iter().zip(&route.pieces[1..]) {
        out.push_str(&crate::escape::url_escape(&arg.to_string(), true).replace('+', "%20"));
        out.push_str(piece);
    }
    Ok(out)
}

/// The request as templates see it.
#[derive(serde::Serialize)]
struct RequestView<'a> {
    method: &'a str,
    uri: &'a str,
    path: &'a str,
    query: &'a str,
    host: &'a str,
    protocol: &'a str,
    remote_ip: String,
    arguments: std::collections::BTreeMap<String, Vec<String>>,
}

/// The XSRF token behind a render's `xsrf_form_html()`: the one of the request's cookie, or
/// one made on the first call (then set as the cookie after the render).
struct XsrfState {
    token: Option<XsrfToken>,
    fresh: bool,
}

fn template_error(message: impl Into<String>) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message.into())
}

impl XsrfState {
    fn encoded(&mut self) -> std::result::Result<String, minijinja::Error> {
        let token = match &self.token {
            Some(t) => t,
            None => {
                let now = super::context::now_secs();
                let t = XsrfToken::generate(now)
                    .map_err(|e| template_error(format!("no randomness for XSRF: {e}")))?;
                self.fresh = true;
                self.token.insert(t)
            }
        };
        token
            .encode_v2()
            .map_err(|e| template_error(format!("no randomness for XSRF: {e}")))
    }
}

impl Context {
    /// Renders template `name` (a path below [`Settings::template_path`](super::Settings::template_path))
    /// with `context` and writes it as the response body (Tornado's `self.render`). The
    /// `Content-Type` is the template's (by extension) unless one was set; HTML by default.
    ///
    /// `context` is any serializable value whose fields become the template's variables:
    /// a struct, a map, or the [`context!`] macro. See the [module docs](self) for what every
    /// template sees besides.
    ///
    /// # Errors
    ///
    /// 500 if there is no `template_path`, no such template, or rendering fails (the log
    /// names the template and line; the page does too with `debug`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use squall::prelude::*;
    /// use squall::web::templates::context;
    ///
    /// #[derive(Clone, Default)]
    /// struct Page;
    ///
    /// #[handler]
    /// impl Page {
    ///     fn get(&mut self, cx: &mut Context) -> Result<()> {
    ///         let name = cx.argument_opt("name")?.unwrap_or_default();
    ///         // page.html: <p>Hello, {{ name }}</p><form method="post">{{ xsrf_form_html() }}</form>
    ///         cx.render("page.html", context! { name })
    ///     }
    /// }
    /// ```
    pub fn render<S: serde::Serialize>(&mut self, name: &str, context: S) -> Result<()> {
        let body = self.render_string(name, context)?;
        if !self.response_headers().contains("Content-Type") && !escapes_html(name) {
            if let Some(mime) = mime_guess::from_path(name).first() {
                let ct = match mime.type_() {
                    mime_guess::mime::TEXT => format!("{mime}; charset=UTF-8"),
                    _ => mime.to_string(),
                };
                self.set_header("Content-Type", ct)?;
            }
        }
        self.write(body);
        Ok(())
    }

    /// Renders template `name` with `context` into a string, without writing it (Tornado's
    /// `render_string`).
    ///
    /// # Errors
    ///
    /// As [`render`](Context::render).
    pub fn render_string<S: serde::Serialize>(&mut self, name: &str, context: S) -> Result<String> {
        let templates = self
            .app
            .templates
            .clone()
            .ok_or_else(|| HttpError::internal("render() needs Settings::template_path"))?;
        let env = templates.environment()?;
        let template = env.get_template(name).map_err(|e| {
            let m = describe(&e);
            log::error!("squall: {m}");
            HttpError::internal(m)
        })?;
        let xsrf = Arc::new(Mutex::new(XsrfState {
            token: self.known_xsrf_token(),
            fresh: false,
        }));
        let (x1, x2) = (xsrf.clone(), xsrf.clone());
        let base = context! {
            current_user => self.current_user_value(),
            request => Value::from_serialize(self.request_view()),
            xsrf_form_html => Value::from_function(move || -> std::result::Result<Value, minijinja::Error> {
                let encoded = x1.lock().map_err(|_| template_error("xsrf state poisoned"))?.encoded()?;
                Ok(Value::from_safe_string(form_html(&encoded)))
            }),
            xsrf_token => Value::from_function(move || -> std::result::Result<String, minijinja::Error> {
                x2.lock().map_err(|_| template_error("xsrf state poisoned"))?.encoded()
            }),
        };
        let rendered = template.render(merge_maps([Value::from_serialize(&context), base]));
        // A token made during the render becomes the request's (and its cookie).
        let made = xsrf
            .lock()
            .ok()
            .and_then(|mut s| s.fresh.then(|| s.token.take()).flatten());
        if let Some(token) = made {
            self.adopt_xsrf_token(token)?;
        }
        rendered.map_err(|e| {
            let m = describe(&e);
            log::error!(
                "squall: {} {}: {m}",
                self.request().method_str(),
                self.request().uri()
            );
            HttpError::internal(m)
        })
    }

    fn request_view(&self) -> RequestView<'_> {
        let mut arguments = std::collections::BTreeMap::new();
        if let Ok(all) = self.all_arguments() {
            arguments.extend(all);
        }
        RequestView {
            method: self.request().method_str(),
            uri: self.uri(),
            path: self.path(),
            query: self.query_string(),
            host: self.host(),
            protocol: self.protocol(),
            remote_ip: self.remote_ip().to_string(),
            arguments,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_extension() {
        assert!(escapes_html("a/page.html"));
        assert!(escapes_html("x.HTM"));
        assert!(escapes_html("feed.xml"));
        assert!(!escapes_html("mail.txt"));
        assert!(!escapes_html("app.js"));
        assert!(!escapes_html("noext"));
    }

    #[test]
    fn reverse_fills_and_escapes_groups() {
        let routes = vec![ReverseEntry {
            name: "user",
            pieces: &["/user/", "/posts"],
        }];
        assert_eq!(
            reverse(&routes, "user", &[Value::from("a b/c")]).unwrap(),
            "/user/a%20b%2Fc/posts"
        );
        assert_eq!(
            reverse(&routes, "user", &[Value::from(42)]).unwrap(),
            "/user/42/posts"
        );
        assert!(reverse(&routes, "user", &[])
            .unwrap_err()
            .contains("takes 1 arguments"));
        assert!(reverse(&routes, "nope", &[])
            .unwrap_err()
            .contains("no route named"));
    }
}
