//! The compiled routing table of an [`Application`](super::Application): which route a path
//! belongs to, and its groups.
//!
//! ### Order
//!
//! The first route of the table that matches the whole path wins. Literal routes before the
//! first regex route are settled by string comparison alone; otherwise the earliest literal
//! match bounds the regex search (only regex routes before it can win), done one by one for a
//! few regex routes or by one multi-pattern search for many.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use regex::Regex;

use super::context::{Context, DefaultHandler, PathArgs, RouteTarget, MAX_PATH_ARGS};
use super::error::{SetupError, SetupErrorKind};
use super::handler::{allow_header, serve, RequestHandler};
use crate::http1::{BodyMode, Request};

/// Proof that handler `H` serves routes with `N` groups: `#[handler]` implements it for the
/// number of path arguments its methods take, `#[websocket_handler]` for the number its
/// `open` takes after `ws` (0 without `open`), so `routes!` can require it. Its message
/// names both kinds, since the type system cannot tell which one the user meant.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot handle a route with {N} group(s): it needs a `#[handler]` impl whose methods take {N} path argument(s), or a `#[websocket_handler]` impl whose `open` takes {N}",
    label = "not a handler type, or it takes a different number of path arguments",
    note = "annotate the type's `impl` block with `#[squall::handler]` (each method takes `&mut self`, `cx: &mut Context`, then one argument per group of the pattern) or `#[squall::websocket_handler]` (`open(&mut self, cx: &mut Context, ws: &WebSocket, ..)` takes one argument after `ws` per group; without `open`, the pattern has no group)"
)]
pub trait RouteArity<const N: usize>: RequestHandler {}

/// Builds a handler per request.
trait Make<H> {
    fn make(&self) -> H;
}

/// Builds handlers with `Default` (a route written with a type path).
struct ByDefault;

impl<H: Default> Make<H> for ByDefault {
    fn make(&self) -> H {
        H::default()
    }
}

/// Builds handlers by cloning a template (a route written with a value).
struct ByClone<H>(H);

impl<H: Clone> Make<H> for ByClone<H> {
    fn make(&self) -> H {
        self.0.clone()
    }
}

/// The route target of handler type `H`.
struct Factory<H, M> {
    make: M,
    allow: String,
    _h: std::marker::PhantomData<fn() -> H>,
}

impl<H: RequestHandler, M: Make<H>> Factory<H, M> {
    fn new(make: M) -> Self {
        Factory {
            make,
            allow: allow_header(H::METHODS),
            _h: std::marker::PhantomData,
        }
    }
}

impl<H: RequestHandler, M: Make<H>> RouteTarget for Factory<H, M> {
    fn serve(&self, slot: &mut Option<Context>) {
        let Some(cx) = slot.as_mut() else {
            return;
        };
        // A streamed body already built the handler (and fed it the body).
        let streamed = if H::STREAM_REQUEST_BODY {
            super::streaming::take_handler::<H>(cx.request_mut())
        } else {
            None
        };
        let h = streamed.unwrap_or_else(|| self.make.make());
        serve(h, slot, &self.allow);
    }

    fn streams_body(&self) -> bool {
        H::STREAM_REQUEST_BODY
    }

    fn redirects_to_login(&self) -> bool {
        H::__authenticated(crate::http1::MethodKind::Get)
            || H::__authenticated(crate::http1::MethodKind::Head)
    }

    fn body_sink(&self, request: &Request) -> BodyMode {
        super::streaming::body_sink(self.make.make(), request)
    }
}

/// One entry of the routing table, as `routes!` writes it.
pub struct Route {
    pub(super) pattern: &'static str,
    pub(super) literal: Option<&'static str>,
    pub(super) name: Option<&'static str>,
    /// Literal pieces around the groups, for `reverse_url` (None: not reversible).
    pub(super) reverse: Option<&'static [&'static str]>,
    pub(super) groups: usize,
    /// Added by the application from its settings (the static route), not by the user.
    pub(super) builtin: bool,
    pub(super) target: Rc<dyn RouteTarget>,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("pattern", &self.pattern)
            .field("name", &self.name)
            .field("literal", &self.literal.is_some())
            .finish()
    }
}

impl Route {
    /// A route whose handlers are built with `Default` (what `routes!` emits for a type path).
    #[doc(hidden)]
    pub fn with_default<H: RouteArity<N> + Default, const N: usize>(spec: RouteSpec) -> Route {
        Route::build(spec, Rc::new(Factory::<H, _>::new(ByDefault)))
    }

    /// A route whose handlers are clones of `template` (what `routes!` emits for a value).
    #[doc(hidden)]
    pub fn with_template<H: RouteArity<N> + Clone, const N: usize>(
        spec: RouteSpec,
        template: H,
    ) -> Route {
        Route::build(spec, Rc::new(Factory::<H, _>::new(ByClone(template))))
    }

    fn build(spec: RouteSpec, target: Rc<dyn RouteTarget>) -> Route {
        Route {
            pattern: spec.pattern,
            literal: spec.literal,
            name: spec.name,
            reverse: spec.reverse,
            groups: spec.groups,
            builtin: false,
            target,
        }
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &'static str {
        self.pattern
    }

    /// The route's name, if it has one.
    pub fn name(&self) -> Option<&'static str> {
        self.name
    }
}

/// What `routes!` knows about a route at compile time.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub pattern: &'static str,
    pub literal: Option<&'static str>,
    pub name: Option<&'static str>,
    pub reverse: Option<&'static [&'static str]>,
    pub groups: usize,
}

/// A routing table: what `routes![...]` evaluates to.
#[derive(Debug, Default)]
pub struct Routes(pub(crate) Vec<Route>);

impl Routes {
    /// An empty table.
    pub fn new() -> Routes {
        Routes(Vec::new())
    }

    #[doc(hidden)]
    pub fn from_vec(routes: Vec<Route>) -> Routes {
        Routes(routes)
    }

    /// Appends a route (used by `routes!`; also to add routes in code).
    pub fn push(&mut self, route: Route) {
        self.0.push(route);
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl DefaultHandler {
    /// Serves unmatched requests with clones of `handler` (its methods take no path arguments).
    pub fn new<H: RouteArity<0> + Clone>(handler: H) -> DefaultHandler {
        DefaultHandler(Rc::new(Factory::<H, _>::new(ByClone(handler))))
    }
}

/// Regex routes tried one by one up to this many; beyond, a `RegexSet` answers first.
const LINEAR_REGEX_LIMIT: usize = 4;

/// The compiled routing table.
pub(super) struct Router {
    pub(super) routes: Vec<Route>,
    /// For each route: its compiled regex (None for literal routes).
    regexes: Vec<Option<Regex>>,
    /// Indices of regex routes, in order.
    regex_idx: Vec<usize>,
    /// The literal routes before the first regex route, with their indices: a path equal to
    /// one of them is that route's, since no earlier route can match it first.
    leading: Vec<(&'static str, usize)>,
    /// All regex routes as one multi-pattern regex (pattern k = route `regex_idx[k]`).
    set: Option<regex_automata::meta::Regex>,
    locs: RefCell<Vec<Option<regex::CaptureLocations>>>,
}

impl Router {
    pub(super) fn new(routes: Vec<Route>) -> Result<Router, SetupError> {
        let mut regexes = Vec::with_capacity(routes.len());
        let mut regex_idx = Vec::new();
        let mut anchored = Vec::new();
        for (i, r) in routes.iter().enumerate() {
            if r.literal.is_some() {
                regexes.push(None);
                continue;
            }
            let src = format!("^(?:{})$", r.pattern);
            let re = Regex::new(&src).map_err(|e| {
                SetupError::new(SetupErrorKind::Route, format!("route {:?}", r.pattern))
                    .with_source(e)
            })?;
            if re.captures_len() - 1 > MAX_PATH_ARGS {
                return Err(SetupError::new(
                    SetupErrorKind::Route,
                    format!("route {:?} has more than {MAX_PATH_ARGS} groups", r.pattern),
                ));
            }
            regexes.push(Some(re));
            regex_idx.push(i);
            anchored.push(src);
        }
        let set = if regex_idx.len() > LINEAR_REGEX_LIMIT {
            let many = regex_automata::meta::Regex::new_many(&anchored).map_err(|e| {
                SetupError::new(SetupErrorKind::Route, "the routes' combined regex").with_source(e)
            })?;
            Some(many)
        } else {
            None
        };
        let locs = regexes
            .iter()
            .map(|r| r.as_ref().map(Regex::capture_locations))
            .collect();
        let first_regex = regex_idx.first().copied().unwrap_or(usize::MAX);
        let leading = routes
            .iter()
            .enumerate()
            .take_while(|&(i, _)| i < first_regex)
            .filter_map(|(i, r)| r.literal.map(|l| (l, i)))
            .collect();
        Ok(Router {
            routes,
            regexes,
            regex_idx,
            leading,
            set,
            locs: RefCell::new(locs),
        })
    }

    /// The first route matching `path`; its groups go to `args` (left as they are for a
    /// literal route: callers pass them empty).
    #[inline]
    pub(super) fn find(&self, path: &str, args: &mut PathArgs) -> Option<usize> {
        // The common case inline, the general search out of line (it needs a large frame).
        let bytes = path.as_bytes();
        match self
            .leading
            .iter()
            .find(|&&(l, _)| super::same_bytes(l.as_bytes(), bytes))
        {
            Some(&(_, i)) => Some(i),
            None => self.search(path, args),
        }
    }

    /// [`find`](Router::find) past the leading literal routes.
    #[inline(never)]
    fn search(&self, path: &str, args: &mut PathArgs) -> Option<usize> {
        let literal = self.routes.iter().position(|r| r.literal == Some(path));
        // Only regex routes before the literal one can win over it.
        let limit = literal.unwrap_or(usize::MAX);
        let first_regex = self.regex_idx.first().copied().unwrap_or(usize::MAX);
        let candidate = match &self.set {
            // No regex route comes before the literal match: nothing to run.
            _ if first_regex >= limit => None,
            // Leftmost-first over anchored patterns: the earliest route matching the whole
            // path. One search, no allocation.
            Some(set) => set
                .find(path)
                .map(|m| self.regex_idx[m.pattern().as_usize()])
                .filter(|&i| i < limit),
            None => self
                .regex_idx
                .iter()
                .copied()
                .take_while(|&i| i < limit)
                .find(|&i| self.regexes[i].as_ref().is_some_and(|re| re.is_match(path))),
        };
        match candidate {
            Some(i) => {
                self.captures(i, path, args);
                Some(i)
            }
            None => literal,
        }
    }

    fn captures(&self, i: usize, path: &str, args: &mut PathArgs) {
        let Some(re) = self.regexes[i].as_ref() else {
            return;
        };
        let mut all = self.locs.borrow_mut();
        let Some(locs) = all[i].as_mut() else {
            return;
        };
        if re.captures_read(locs, path).is_none() {
            return;
        }
        args.len = (locs.len() - 1).min(MAX_PATH_ARGS);
        for g in 0..args.len {
            args.spans[g] = locs.get(g + 1).map(|(a, b)| (a as u32, b as u32));
        }
    }
}
