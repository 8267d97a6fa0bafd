//! The application as a request's [`Context`] sees it: its [`Settings`], the state all its
//! contexts share (`AppShared`: pools, caches, compressors, templates, named routes), and the
//! type-erased face of a handler (`RouteTarget`, and [`DefaultHandler`], which `Settings`
//! holds) with the path groups of a match (`PathArgs`).
//!
//! ### Why here
//!
//! These types and `Context` name one another by construction: the settings hold hooks and a
//! default handler that run on a `Context`, and a `Context` reads its application's settings.
//! So they live in the context's module tree, and everything that builds them (the router,
//! `Route`, the `Application` and its dispatch) sits above it and imports it one way.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use super::{Context, ContextParts, Hooks};
use crate::http1::{BodyMode, Request};
use crate::web::compression::{CompressionOptions, EncoderPool};
use crate::web::cookies::CookieSecrets;
use crate::web::error::{SetupError, SetupErrorKind};
use crate::web::route_name::NamedRoutes;
use crate::web::static_version::VersionCache;

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
    /// [`StaticFileHandler`](crate::web::StaticFileHandler) route, added after the application's
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
    /// [`templates`](crate::web::templates)).
    #[cfg(feature = "templates")]
    pub template_path: Option<PathBuf>,
    /// Values every template sees, by name (a site name, a version...).
    #[cfg(feature = "templates")]
    pub template_globals: Vec<(String, crate::web::templates::TemplateValue)>,
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

/// State shared by every request of an application: what its contexts reach through
/// `Context::app`.
pub(crate) struct AppShared {
    pub(crate) settings: Settings,
    /// The named routes, for `reverse_url`.
    named: std::sync::Arc<NamedRoutes>,
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
    pub(crate) templates: Option<Rc<crate::web::templates::Templates>>,
    /// The compressors of `compress_response`.
    pub(crate) encoders: Rc<EncoderPool>,
}

impl AppShared {
    /// The state of an application with `settings`, its named routes, the cache of static
    /// versions (shared with its templates) and its templates.
    pub(crate) fn new(
        settings: Settings,
        named: std::sync::Arc<NamedRoutes>,
        static_versions: std::sync::Arc<VersionCache>,
        #[cfg(feature = "templates")] templates: Option<Rc<crate::web::templates::Templates>>,
    ) -> AppShared {
        AppShared {
            settings,
            named,
            spare: Cell::new(None),
            parts: RefCell::new(Vec::new()),
            static_versions,
            #[cfg(feature = "templates")]
            templates,
            encoders: Rc::default(),
        }
    }

    /// Parts for a new context: the spare ones, pooled ones, or fresh ones.
    pub(crate) fn take_parts(&self) -> Box<ContextParts> {
        match self.spare.take() {
            Some(parts) => parts,
            None => self.parts.borrow_mut().pop().unwrap_or_default(),
        }
    }

    /// Takes back the parts of a finished context (reset; dropped if they grew large).
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

    /// The URL of the route named `name` with `args` in its groups.
    pub(crate) fn reverse_url(
        &self,
        name: &str,
        args: &[&dyn fmt::Display],
    ) -> Result<String, SetupError> {
        self.named
            .url(name, args)
            .map_err(|m| SetupError::new(SetupErrorKind::Route, m))
    }
}

/// Largest number of path groups a route may have.
pub(crate) const MAX_PATH_ARGS: usize = 16;

/// The spans of a route's groups within the request path (`None`: the group did not match).
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct PathArgs {
    pub(crate) len: usize,
    pub(crate) spans: [Option<(u32, u32)>; MAX_PATH_ARGS],
}

/// Serves one matched request: the type-erased face of a handler type.
pub(crate) trait RouteTarget {
    /// Builds a handler and runs the request through it. The context stays in the caller's
    /// slot (a sync handler works on it in place, no move of the whole context per request);
    /// an async handler takes it out.
    fn serve(&self, cx: &mut Option<Context>);
    /// Whether the handler streams request bodies (`stream_request_body`).
    fn streams_body(&self) -> bool {
        false
    }
    /// Whether an anonymous GET or HEAD is redirected to the login URL (an `#[authenticated]`
    /// `get` or `head`).
    fn redirects_to_login(&self) -> bool {
        false
    }
    /// Builds a body sink for a streamed request.
    fn body_sink(&self, _request: &Request) -> BodyMode {
        BodyMode::Buffer
    }
}

/// The handler for unmatched requests, set in [`Settings::default_handler`](Settings::default_handler).
#[derive(Clone)]
pub struct DefaultHandler(pub(crate) Rc<dyn RouteTarget>);

impl fmt::Debug for DefaultHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DefaultHandler(..)")
    }
}
