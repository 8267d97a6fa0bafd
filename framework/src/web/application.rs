//! [`Application`]: checks the [`Settings`] (defined with the context, in `context/app.rs`),
//! compiles the routing table `routes!` builds, holds the state its contexts share, and
//! dispatches each request to a freshly built handler.
//!
//! ### Routing
//!
//! Routes are tried in order and the first match wins, against the percent-encoded path;
//! groups are percent-decoded after matching. Patterns are anchored at both ends (`^(?:p)$`).
//! A pattern without regex syntax is a literal route, matched by string comparison; when many
//! regex routes could match, one search of a multi-pattern regex (leftmost-first: among
//! patterns matching the whole path, the earliest wins) says which instead of trying each.
//! Either way the first route in the table's order wins. The compiled table is `router.rs`.

use std::fmt;
use std::rc::Rc;

use super::context::{AppShared, Context, PathArgs, RouteTarget, Settings};
use super::error::{HttpError, SetupError, SetupErrorKind};
use super::route_name::NamedRoutes;
use super::router::{Route, RouteSpec, Router, Routes};
use super::static_files::StaticFileHandler;
use super::static_version::VersionCache;
use crate::http1::{BodyMode, HttpDelegate, HttpServerOptions, Request, Responder};
use crate::httpserver::HttpServer;

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
    /// What every context of the application shares.
    shared: Rc<AppShared>,
    /// The compiled routing table.
    router: Rc<Router>,
}

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Application")
            .field("routes", &self.router.routes)
            .field("settings", &self.shared.settings)
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
        let mut named = NamedRoutes::default();
        for r in &router.routes {
            if let Some(name) = r.name {
                named.push(name, r.reverse, r.groups);
            }
        }
        let named = std::sync::Arc::new(named);
        #[cfg(feature = "templates")]
        let templates = match &settings.template_path {
            Some(root) => {
                let setup = super::templates::TemplateSetup {
                    root: root.clone(),
                    debug: settings.debug,
                    globals: settings.template_globals.clone(),
                    static_path: settings.static_path.clone(),
                    static_prefix: settings.static_url_prefix().to_owned(),
                    versions: static_versions.clone(),
                    routes: named.clone(),
                };
                Some(Rc::new(super::templates::Templates::load(setup)?))
            }
            None => None,
        };
        Ok(Application {
            shared: Rc::new(AppShared::new(
                settings,
                named,
                static_versions,
                #[cfg(feature = "templates")]
                templates,
            )),
            router: Rc::new(router),
        })
    }

    /// Replaces the settings (builder style), re-checking them.
    ///
    /// # Errors
    ///
    /// As [`with_settings`](Application::with_settings).
    pub fn settings(self, settings: Settings) -> Result<Application, SetupError> {
        let router = Rc::try_unwrap(self.router).map_err(|_| {
            SetupError::new(
                SetupErrorKind::Config,
                "settings() on an application already in use",
            )
        })?;
        // The static route of the old settings goes; the new ones add their own.
        let mut routes = router.routes;
        routes.retain(|r| !r.builtin);
        Application::with_settings(Routes(routes), settings)
    }

    /// The settings.
    pub fn get_settings(&self) -> &Settings {
        &self.shared.settings
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
        self.shared.reverse_url(name.as_ref(), args)
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

impl Application {
    /// The target for `request`; the route's groups go to `args` (which start empty).
    #[inline]
    fn route_request(&self, request: &Request, args: &mut PathArgs) -> Option<&dyn RouteTarget> {
        match self.router.find(request.path(), args) {
            Some(i) => Some(&*self.router.routes[i].target),
            None => {
                args.len = 0;
                self.shared.settings.default_handler.as_ref().map(|d| &*d.0)
            }
        }
    }
}

impl HttpDelegate for Application {
    fn body_mode(&self, request: &Request) -> BodyMode {
        let mut args = PathArgs::default();
        match self.route_request(request, &mut args) {
            Some(t) if t.streams_body() => t.body_sink(request),
            _ => BodyMode::Buffer,
        }
    }

    fn handle(&self, request: Request, responder: Responder) {
        // The context is built first and routed in place: its path groups are filled where
        // they live, not returned and moved.
        let mut cx = Some(Context::new(self.shared.clone(), request, responder));
        let target = match cx.as_mut() {
            Some(c) => {
                let (request, args) = c.request_and_args();
                self.route_request(request, args)
            }
            None => None,
        };
        // The application's `before` hook may answer the request itself.
        let go = match cx.as_mut() {
            Some(c) if self.shared.settings.hooks.any() => super::context::run_before(c),
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
