//! Rendering templates for a request: [`Context::render`] and [`Context::render_string`]
//! (Tornado's `self.render`), which add what every template sees of the request (its user,
//! the request itself, the XSRF functions) to the application's compiled
//! [`templates`](crate::web::templates).

use std::sync::{Arc, Mutex};

use minijinja::value::merge_maps;
use minijinja::{context, Value};

use super::Context;
use crate::web::error::{HttpError, Result};
use crate::web::templates::{describe, escapes_html, template_error};
use crate::web::xsrf::{form_html, XsrfToken};

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

impl XsrfState {
    fn encoded(&mut self) -> std::result::Result<String, minijinja::Error> {
        let token = match &self.token {
            Some(t) => t,
            None => {
                let now = super::security::now_secs();
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
    /// Renders template `name` (a path below [`Settings::template_path`](crate::web::Settings::template_path))
    /// with `context` and writes it as the response body (Tornado's `self.render`). The
    /// `Content-Type` is the template's (by extension) unless one was set; HTML by default.
    ///
    /// `context` is any serializable value whose fields become the template's variables:
    /// a struct, a map, or the [`context!`](crate::web::templates::context) macro. See the [templates module docs](crate::web::templates) for what every
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
