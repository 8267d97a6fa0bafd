//! [`Application`]: the routing table `routes!` builds, the settings, and the dispatch of each
//! request to a freshly built handler.
//!
//! ### Routing
//!
//! Routes are tried in order and the first match wins, against the percent-encoded path;
//! groups are percent-decoded after matching. Patterns are anchored at both ends (`^(?:p)$`).
//! A pattern without regex syntax is a literal route, matched by string comparison; when many
//! regex routes could match, one search of a multi-pattern regex (leftmost-first: among
//! patterns matching the whole path, the earliest wins) says which instead of trying each.
//! Either way the first route in the table's order wins. The compiled table is `router.rs`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use super::compression::{CompressionOptions, EncoderPool};
use super::context::VersionCache;
use super::context::{Context, ContextParts};
use super::cookies::CookieSecrets;
use super::error::{HttpError, SetupError, SetupErrorKind};
use super::hooks::Hooks;
use super::router::{DefaultHandler, PathArgs, Route, RouteSpec, RouteTarget, Router, Routes};
use super::static_files::StaticFileHandler;
use crate::http1::{BodyMode, HttpDelegate, HttpServerOptions, Request, Responder};
use crate::httpserver::HttpServer;

/// Application settings (Tornado's `Application(**settings)`).
///
/// # Examples
///
/// ```
/// use squall::web::Settings;
/// let s = Settings {
///     xsrf_cookies: true,
///     cookie_secret: Some("a long random secret".into()),
///     ..Settings::default()
/// };
/// assert!(!s.debug);
/// ```
#[derive(Clone)]
pub struct Settings {
    /// Show error details (log messages, panic text) on error pages. Never in production.
    pub debug: bool,
    /// Require an XSRF token on POST, PUT, PATCH and DELETE (needs `cookie_secret`).
    pub xsrf_cookies: bool,
    /// The key(s) for signed cookies and XSRF; `"secret".into()` for one key, or
    /// [`CookieSecrets::from_env`]. An empty key is refused at start-up; use at least 32
    /// random bytes.
    pub cookie_secret: Option<CookieSecrets>,
    /// Folder served under `static_url_prefix` by a built-in
    /// [`StaticFileHandler`](super::StaticFileHandler) route, added after the application's
    /// own routes, if set; also the folder of [`Context::static_url`].
    pub static_path: Option<PathBuf>,
    /// URL prefix of the static route (default `/static/`); must start with `/`.
    pub static_url_prefix: Option<String>,
    /// The handler for requests no route matches (default: a plain 404).
    pub default_handler: Option<DefaultHandler>,
    /// The most arguments the query string may hold, and the most the body may (urlencoded
    /// fields, or multipart parts): default 10,000, as Django's
    /// `DATA_UPLOAD_MAX_NUMBER_FIELDS` defaults to 1,000 per source. Reading the arguments of
    /// a request with more is a 400 "Too many arguments", before they cost any memory; reading
    /// them always takes time linear in the request. `usize::MAX` lifts the limit.
    pub max_arguments: usize,
    /// Compress responses with gzip or deflate when the request's `Accept-Encoding` allows
    /// (Tornado's `compress_response`): text, JSON, JavaScript, XML and SVG bodies of at
    /// least `compression.min_length` bytes, and streamed ones, with `Vary: Accept-Encoding`
    /// and an ETag per representation. Off by default. See the README's Compression section.
    pub compress_response: bool,
    /// How [`compress_response`](Settings::compress_response) compresses: level, minimum
    /// length, streams at once.
    pub compression: CompressionOptions,
    /// Largest WebSocket message accepted, after reassembly and decompression (Tornado's
    /// `websocket_max_message_size`); `None` is 10 MiB. A larger one closes the connection
    /// with 1009.
    pub websocket_max_message_size: Option<usize>,
    /// Send a Ping this often on every WebSocket connection (Tornado's
    /// `websocket_ping_interval`); `None` sends none.
    pub websocket_ping_interval: Option<Duration>,
    /// Close a WebSocket connection whose Ping is not answered within this time (Tornado's
    /// `websocket_ping_timeout`); `None` is the ping interval.
    pub websocket_ping_timeout: Option<Duration>,
    /// permessage-deflate for WebSocket handlers that do not override
    /// `get_compression_options`: `None` (the default) is off.
    pub websocket_compression: Option<crate::websocket::CompressionOptions>,
    /// Unsent output a WebSocket connection may hold before it is closed as not reading;
    /// `None` is twice the maximum message size, at least 1 MiB.
    pub websocket_max_write_buffer: Option<usize>,
    /// Where `#[authenticated]` methods send anonymous GET and HEAD requests, with
    /// `next=<the URL asked for>` added to its query (Tornado's `login_url`). Required when
    /// such a method exists.
    pub login_url: Option<String>,
    /// Application-wide hooks: the current user, code before and after every handler, the
    /// error page (see [`Hooks`]).
    pub hooks: Hooks,
    /// The folder of the templates [`Context::render`] renders (all compiled at startup; see
    /// [`templates`](super::templates)).
    #[cfg(feature = "templates")]
    pub template_path: Option<PathBuf>,
    /// Values every template sees, by name (a site name, a version...).
    #[cfg(feature = "templates")]
    pub template_globals: Vec<(String, super::templates::TemplateValue)>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            debug: false,
            xsrf_cookies: false,
            cookie_secret: None,
            static_path: None,
            static_url_prefix: None,
            default_handler: None,
            max_arguments: 10_000,
            compress_response: false,
            compression: CompressionOptions::default(),
            websocket_max_message_size: None,
            websocket_ping_interval: None,
            websocket_ping_timeout: None,
            websocket_compression: None,
            websocket_max_write_buffer: None,
            login_url: None,
            hooks: Hooks::default(),
            #[cfg(feature = "templates")]
            template_path: None,
            #[cfg(feature = "templates")]
            template_globals: Vec::new(),
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Settings");
        s.field("debug", &self.debug)
            .field("xsrf_cookies", &self.xsrf_cookies)
            .field("cookie_secret", &self.cookie_secret)
            .field("static_path", &self.static_path)
            .field("static_url_prefix", &self.static_url_prefix)
            .field("default_handler", &self.default_handler.is_some())
            .field("max_arguments", &self.max_arguments)
            .field("compress_response", &self.compress_response)
            .field("compression", &self.compression)
            .field(
                "websocket_max_message_size",
                &self.websocket_max_message_size,
            )
            .field("websocket_ping_interval", &self.websocket_ping_interval)
            .field("websocket_ping_timeout", &self.websocket_ping_timeout)
            .field("websocket_compression", &self.websocket_compression)
            .field(
                "websocket_max_write_buffer",
                &self.websocket_max_write_buffer,
            )
            .field("login_url", &self.login_url)
            .field("hooks", &self.hooks);
        #[cfg(feature = "templates")]
        s.field("template_path", &self.template_path)
            .field("template_globals", &self.template_globals);
        s.finish()
    }
}

impl Settings {
    /// The static URL prefix in effect.
    pub fn static_url_prefix(&self) -> &str {
        self.static_url_prefix.as_deref().unwrap_or("/static/")
    }
}

/// State shared by every request of an application.
pub(crate) struct AppInner {
    pub(crate) settings: Settings,
    router: Router,
    /// The parts of the last context given back: the only ones a loop of sync handlers uses.
    spare: Cell<Option<Box<ContextParts>>>,
    /// More parts, when several contexts were alive at once (async handlers).
    // Boxed on purpose: parts move in and out of contexts as one pointer.
    #[allow(clippy::vec_box)]
    parts: RefCell<Vec<Box<ContextParts>>>,
    /// The hashes behind `static_url`'s versioned URLs.
    pub(crate) static_versions: std::sync::Arc<VersionCache>,
    /// The compiled templates, if `template_path` is set.
    #[cfg(feature = "templates")]
    pub(crate) templates: Option<Rc<super::templates::Templates>>,
    /// The compressors of `compress_response`.
    pub(crate) encoders: Rc<EncoderPool>,
}

impl AppInner {
    pub(crate) fn take_parts(&self) -> Box<ContextParts> {
        match self.spare.take() {
            Some(parts) => parts,
            None => self.parts.borrow_mut().pop().unwrap_or_default(),
        }
    }

    // Always inline: called once per request, and a call costs it a frame of its own.
    #[inline(always)]
    pub(crate) fn give_parts(&self, mut parts: Box<ContextParts>) {
        if parts.body.capacity() > 256 * 1024 {
            return;
        }
        parts.reset();
        // The newest parts wait in the spare slot; the ones they displace go to the pool.
        if let Some(older) = self.spare.replace(Some(parts)) {
            let mut pool = self.parts.borrow_mut();
            if pool.len() < 256 {
                pool.push(older);
            }
        }
    }

    pub(crate) fn reverse_url(
        &self,
        name: &str,
        args: &[&dyn fmt::Display],
    ) -> Result<String, SetupError> {
        self.router.reverse(name, args)
    }

    /// The target for `request`; the route's groups go to `args` (which start empty).
    #[inline]
    fn route_request(&self, request: &Request, args: &mut PathArgs) -> Option<&dyn RouteTarget> {
        match self.router.find(request.path(), args) {
            Some(i) => Some(&*self.router.routes[i].target),
            None => {
                args.len = 0;
                self.settings.default_handler.as_ref().map(|d| &*d.0)
            }
        }
    }
}

/// Answers a request no route (and no default handler) took: 404, except for the target `*`
/// (asterisk-form, RFC 9112 §3.2.4), which names the server itself and is for OPTIONS only:
/// `OPTIONS *` is answered like a handler's default OPTIONS (204, no body), any other method
/// with `*` is a bad request.
#[cold]
#[inline(never)]
fn unrouted(cx: &mut Context) {
    if cx.path() != "*" {
        cx.send_error(HttpError::new(404));
    } else if cx.request().method_kind() == crate::http1::MethodKind::Options {
        cx.set_status(204);
        if let Err(e) = cx.finish() {
            log::debug!("squall: answering OPTIONS *: {e}");
        }
    } else {
        cx.send_error(HttpError::new(400));
    }
}

/// The route `Settings::static_path` adds: `<prefix>(.*)` served by a [`StaticFileHandler`].
fn static_route(prefix: &str, root: &std::path::Path) -> Result<Route, SetupError> {
    if !prefix.starts_with('/') {
        return Err(SetupError::new(
            SetupErrorKind::Config,
            format!("static_url_prefix {prefix:?} must start with '/'"),
        ));
    }
    // Routes hold `&'static str` patterns (`routes!` writes literals). This one is built at
    // startup, once per application, so leaking it costs a few bytes once.
    let pattern: &'static str =
        Box::leak(format!("{}(.*)", regex::escape(prefix)).into_boxed_str());
    let spec = RouteSpec {
        pattern,
        literal: None,
        name: None,
        reverse: None,
        groups: 1,
    };
    let mut route =
        Route::with_template::<StaticFileHandler, 1>(spec, StaticFileHandler::new(root));
    route.builtin = true;
    Ok(route)
}

/// A web application: routes plus settings, served by an [`HttpServer`].
///
/// # Examples
///
/// ```no_run
/// use squall::prelude::*;
///
/// #[derive(Clone, Default)]
/// struct Main;
///
/// #[handler]
/// impl Main {
///     fn get(&mut self, cx: &mut Context) -> Result<()> {
///         cx.write("Hello, world");
///         Ok(())
///     }
/// }
///
/// let app = Application::new(routes![(r"/", Main)]);
/// app.listen(8888).unwrap();
/// IOLoop::current().start();
/// ```
#[derive(Clone)]
pub struct Application {
    inner: Rc<AppInner>,
}

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Application")
            .field("routes", &self.inner.router.routes)
            .field("settings", &self.inner.settings)
            .finish()
    }
}

impl Application {
    /// An application with default settings.
    ///
    /// # Panics
    ///
    /// Never for tables built by `routes!` (it checks every pattern at compile time); a route
    /// added by hand with an invalid pattern panics here with the pattern and the error.
    pub fn new(routes: Routes) -> Application {
        Application::with_settings(routes, Settings::default())
            .unwrap_or_else(|e| panic!("squall: invalid routing table: {e}"))
    }

    /// An application with `settings`.
    ///
    /// # Errors
    ///
    /// [`SetupErrorKind::Config`] for unsafe or inconsistent settings (an empty `cookie_secret`,
    /// `xsrf_cookies` without `cookie_secret`, a `static_url_prefix` not starting with `/`, an
    /// `#[authenticated]` GET without `login_url`, a template that does not compile),
    /// [`SetupErrorKind::Route`] for a route that does not compile. A `cookie_secret` shorter than
    /// [`RECOMMENDED_SECRET_LEN`](super::RECOMMENDED_SECRET_LEN) bytes is accepted with a
    /// warning in the log.
    /// [`SetupErrorKind::Config`] for inconsistent settings (`xsrf_cookies` without
    /// `cookie_secret`, a `static_url_prefix` not starting with `/`, a compression level
    /// above 9), [`SetupErrorKind::Route`] for
    /// a route that does not compile.
    pub fn with_settings(routes: Routes, settings: Settings) -> Result<Application, SetupError> {
        if let Some(secrets) = &settings.cookie_secret {
            super::secrets::check_cookie_secret(secrets)?;
        }
        if settings.xsrf_cookies && settings.cookie_secret.is_none() {
            return Err(SetupError::new(
                SetupErrorKind::Config,
                "xsrf_cookies requires a cookie_secret (Settings::cookie_secret)",
            ));
        }
        if settings.compression.level > 9 {
            return Err(SetupError::new(
                SetupErrorKind::Config,
                format!(
                    "compression level {} is out of range (0 to 9)",
                    settings.compression.level
                ),
            ));
        }
        let mut routes = routes.0;
        if settings.login_url.is_none() {
            if let Some(r) = routes.iter().find(|r| r.target.redirects_to_login()) {
                return Err(SetupError::new(
                    SetupErrorKind::Config,
                    format!(
                        "route {:?} has an #[authenticated] GET: it needs Settings::login_url",
                        r.pattern
                    ),
                ));
            }
        }
        if let Some(root) = &settings.static_path {
            routes.push(static_route(settings.static_url_prefix(), root)?);
        }
        let router = Router::new(routes)?;
        let static_versions: std::sync::Arc<VersionCache> = Default::default();
        #[cfg(feature = "templates")]
        let templates = match &settings.template_path {
            Some(root) => {
                let routes = router
                    .routes
                    .iter()
                    .filter_map(|r| {
                        Some(super::templates::ReverseEntry {
                            name: r.name?,
                            pieces: r.reverse?,
                        })
                    })
                    .collect();
                let setup = super::templates::TemplateSetup {
                    root: root.clone(),
                    debug: settings.debug,
                    globals: settings.template_globals.clone(),
                    static_path: settings.static_path.clone(),
                    static_prefix: settings.static_url_prefix().to_owned(),
                    versions: static_versions.clone(),
                    routes: std::sync::Arc::new(routes),
                };
                Some(Rc::new(super::templates::Templates::load(setup)?))
            }
            None => None,
        };
        Ok(Application {
            inner: Rc::new(AppInner {
                settings,
                router,
                spare: Cell::new(None),
                parts: RefCell::new(Vec::new()),
                static_versions,
                #[cfg(feature = "templates")]
                templates,
                encoders: Rc::default(),
            }),
        })
    }

    /// Replaces the settings (builder style), re-checking them.
    ///
    /// # Errors
    ///
    /// As [`with_settings`](Application::with_settings).
    pub fn settings(self, settings: Settings) -> Result<Application, SetupError> {
        let inner = Rc::try_unwrap(self.inner).map_err(|_| {
            SetupError::new(
                SetupErrorKind::Config,
                "settings() on an application already in use",
            )
        })?;
        // The static route of the old settings goes; the new ones add their own.
        let mut routes = inner.router.routes;
        routes.retain(|r| !r.builtin);
        Application::with_settings(Routes(routes), settings)
    }

    /// The settings.
    pub fn get_settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The URL of the route named `name` with `args` (percent-encoded) in its groups. The
    /// name is a string, or a [`RouteName`](super::RouteName) constant (checked at compile
    /// time) from the item form of `routes!`.
    ///
    /// # Errors
    ///
    /// [`SetupErrorKind::Route`] if there is no such route or the argument count is wrong.
    pub fn reverse_url(
        &self,
        name: impl AsRef<str>,
        args: &[&dyn fmt::Display],
    ) -> Result<String, SetupError> {
        self.inner.reverse_url(name.as_ref(), args)
    }

    /// An [`HttpServer`] for this application with default options, not yet listening.
    pub fn into_server(self) -> HttpServer {
        self.into_server_with(HttpServerOptions::default())
    }

    /// An [`HttpServer`] for this application with `options`.
    pub fn into_server_with(self, options: HttpServerOptions) -> HttpServer {
        HttpServer::with_options(self, options)
    }

    /// Listens on 127.0.0.1:`port` (Tornado listens on every interface; Squall's default is
    /// loopback — use [`listen_on`](Application::listen_on) for another address).
    ///
    /// # Errors
    ///
    /// The bind error.
    pub fn listen(self, port: u16) -> Result<HttpServer, SetupError> {
        self.listen_on(port, "127.0.0.1")
    }

    /// Listens on `address:port`.
    ///
    /// # Errors
    ///
    /// The bind error.
    pub fn listen_on(self, port: u16, address: &str) -> Result<HttpServer, SetupError> {
        let server = self.into_server();
        server.listen(port, address).map_err(|e| {
            SetupError::new(
                SetupErrorKind::Io,
                format!("cannot listen on {address}:{port}"),
            )
            .with_source(e)
        })?;
        Ok(server)
    }

    /// Serves on 127.0.0.1:`port` until `SIGTERM` or `SIGINT`, then shuts down gracefully and
    /// returns: the one line a `main` needs (Tornado's `app.listen(port)` and
    /// `IOLoop.current().start()`, plus the signal handling a deployment expects).
    ///
    /// On the signal, the server stops accepting (new connections are refused), closes idle
    /// connections, lets requests in flight finish (up to
    /// [`HttpServerOptions::shutdown_grace`], 30 s by default) and returns `Ok`, so a `main`
    /// that returns next exits with status 0. See [`HttpServer::serve_until_shutdown`] for the
    /// details, and [`into_server_with`](Application::into_server_with) then
    /// [`HttpServer::run`] for other server options.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use squall::prelude::*;
    ///
    /// #[derive(Clone, Default)]
    /// struct Main;
    ///
    /// #[handler]
    /// impl Main {
    ///     fn get(&mut self, cx: &mut Context) -> Result<()> {
    ///         cx.write("Hello, world");
    ///         Ok(())
    ///     }
    /// }
    ///
    /// fn main() -> std::io::Result<()> {
    ///     Application::new(routes![(r"/", Main)]).run(8888)?;
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// The bind error, or installing the signal handlers failed.
    ///
    /// # Panics
    ///
    /// If the current thread's loop is already running (call it instead of `IOLoop::start`).
    pub fn run(self, port: u16) -> Result<(), SetupError> {
        self.run_on(port, "127.0.0.1")
    }

    /// [`run`](Application::run) on `address:port`.
    ///
    /// # Errors
    ///
    /// As [`run`](Application::run).
    ///
    /// # Panics
    ///
    /// As [`run`](Application::run).
    pub fn run_on(self, port: u16, address: &str) -> Result<(), SetupError> {
        self.into_server().run(port, address).map_err(|e| {
            SetupError::new(
                SetupErrorKind::Io,
                format!("cannot serve on {address}:{port}"),
            )
            .with_source(e)
        })
    }
}

impl HttpDelegate for Application {
    fn body_mode(&self, request: &Request) -> BodyMode {
        let mut args = PathArgs::default();
        let target = self.inner.route_request(request, &mut args);
        match target {
            Some(t) if t.streams_body() => t.body_sink(&self.inner, request, args),
            _ => BodyMode::Buffer,
        }
    }

    fn handle(&self, request: Request, responder: Responder) {
        // The context is built first and routed in place: its path groups are filled where
        // they live, not returned and moved.
        let mut cx = Some(Context::new(self.inner.clone(), request, responder));
        let target = match cx.as_mut() {
            Some(c) => {
                let (request, args) = c.request_and_args();
                self.inner.route_request(request, args)
            }
            None => None,
        };
        // The application's `before` hook may answer the request itself.
        let go = match cx.as_mut() {
            Some(c) if self.inner.settings.hooks.any() => super::hooks::run_before(c),
            _ => true,
        };
        match target {
            Some(t) if go => t.serve(&mut cx),
            None if go => {
                if let Some(cx) = cx.as_mut() {
                    unrouted(cx);
                }
            }
            _ => {}
        }
        // An async handler took the context into its task; a sync one is done with it: its
        // reusable parts go back to the pool, moved out where the context lies (passing the
        // whole context on would copy it).
        if let Some(Context { app, parts, .. }) = cx {
            app.give_parts(parts);
        }
    }
}
