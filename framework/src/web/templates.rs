//! Templates: [`Context::render`](super::Context::render) (Tornado's `self.render`) over
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
use std::sync::Arc;
use std::time::SystemTime;

use minijinja::value::Rest;
use minijinja::{AutoEscape, Environment, Value};

use super::error::{HttpError, Result, SetupError as Error, SetupErrorKind as ErrorKind};
use super::route_name::NamedRoutes;
use super::static_version::{versioned_url, VersionCache};

pub use minijinja::context;

/// What a template may be given as a value (re-exported from minijinja): build one with
/// [`Value::from`], [`Value::from_serialize`] or the [`context!`] macro.
pub type TemplateValue = Value;

/// The application-wide part of the templates' functions (`static_url`, `reverse_url`).
#[derive(Clone)]
pub(crate) struct TemplateSetup {
    pub(crate) root: PathBuf,
    pub(crate) debug: bool,
    pub(crate) globals: Vec<(String, Value)>,
    pub(crate) static_path: Option<PathBuf>,
    pub(crate) static_prefix: String,
    pub(crate) versions: Arc<VersionCache>,
    pub(crate) routes: Arc<NamedRoutes>,
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
pub(crate) fn describe(e: &minijinja::Error) -> String {
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
pub(crate) fn escapes_html(name: &str) -> bool {
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
    pub(crate) fn environment(&self) -> Result<Rc<Environment<'static>>> {
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
            let args: Vec<&dyn std::fmt::Display> =
                args.iter().map(|a| a as &dyn std::fmt::Display).collect();
            routes
                .url(name, &args)
                .map_err(|m| template_error(format!("reverse_url: {m}")))
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

pub(crate) fn template_error(message: impl Into<String>) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message.into())
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
}
