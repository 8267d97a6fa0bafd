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

use regex::Regex;

use super::application::Route;
use super::context::{PathArgs, MAX_PATH_ARGS};
use super::error::{SetupError, SetupErrorKind};

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
