//! Named routes: [`RouteName`] (a route name checked at compile time, as the item form of
//! `routes!` declares them) and `NamedRoutes`, the table behind every `reverse_url` (the
//! application's, the context's and the templates').

use std::fmt;

/// The name of a route, declared as a constant by the item form of `routes!`
/// (`routes! { mod urls { (r"/user/(\d+)", User, name = "user") } }` declares `urls::user`).
/// Where a name is expected (`reverse_url`), a misspelt constant is a compile error, where a
/// misspelt string is an error at run time.
///
/// # Examples
///
/// ```
/// use squall::prelude::*;
///
/// #[derive(Clone, Default)]
/// struct User;
///
/// #[handler]
/// impl User {
///     fn get(&mut self, cx: &mut Context, id: u64) -> Result<()> {
///         // `urls::usr` would not compile.
///         let me = cx.reverse_url(urls::user, &[&id])?;
///         cx.write(me);
///         Ok(())
///     }
/// }
///
/// routes! {
///     mod urls {
///         (r"/user/(\d+)", User, name = "user"),
///     }
/// }
///
/// fn main() {
///     let app = Application::new(urls::routes());
///     assert_eq!(app.reverse_url(urls::user, &[&7]).unwrap(), "/user/7");
///     assert_eq!(urls::user.groups(), 1);
/// }
/// ```
///
/// The module sees the items of the module it is declared in (`use super::*`), so the item
/// form goes at module level, beside the handler types; its handlers are built with `Default`
/// or from expressions that need no local variable. A table whose handlers capture local
/// state (`Handler { db: db.clone() }`) uses the expression form, `routes![..]`, with string
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteName {
    name: &'static str,
    groups: usize,
}

impl RouteName {
    #[doc(hidden)]
    /// What `routes!` writes: the name and its pattern's group count.
    pub const fn new(name: &'static str, groups: usize) -> RouteName {
        RouteName { name, groups }
    }

    /// The name as written in `routes!`.
    pub const fn as_str(&self) -> &'static str {
        self.name
    }

    /// How many arguments its URL takes (the pattern's groups).
    pub const fn groups(&self) -> usize {
        self.groups
    }
}

impl AsRef<str> for RouteName {
    fn as_ref(&self) -> &str {
        self.name
    }
}

impl fmt::Display for RouteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// What `reverse_url` escapes in an argument: all but RFC 3986's unreserved characters (`/`
/// included, so the URL routes back to the same groups).
const PATH_ARG: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One named route: the literal pieces around its groups (`None`: its pattern is not
/// reversible) and how many groups it has.
#[derive(Debug, Clone, Copy)]
struct NamedRoute {
    name: &'static str,
    pieces: Option<&'static [&'static str]>,
    groups: usize,
}

/// The named routes of an application, in table order, for `reverse_url`.
#[derive(Debug, Default)]
pub(crate) struct NamedRoutes {
    routes: Vec<NamedRoute>,
}

impl NamedRoutes {
    /// Adds route `name` (`pieces`: the literal pieces around its `groups` groups, if any).
    pub(crate) fn push(
        &mut self,
        name: &'static str,
        pieces: Option<&'static [&'static str]>,
        groups: usize,
    ) {
        self.routes.push(NamedRoute {
            name,
            pieces,
            groups,
        });
    }

    /// The URL of the first route named `name` with `args` (percent-encoded) in its groups;
    /// `Err` says why not (no such route, not reversible, wrong argument count).
    pub(crate) fn url(&self, name: &str, args: &[&dyn fmt::Display]) -> Result<String, String> {
        let route = self
            .routes
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| format!("no route named {name:?}"))?;
        let pieces = route
            .pieces
            .ok_or_else(|| format!("route {name:?} is not reversible"))?;
        if args.len() != route.groups || pieces.len() != route.groups + 1 {
            return Err(format!(
                "route {name:?} takes {} arguments, got {}",
                route.groups,
                args.len()
            ));
        }
        let mut out = String::from(pieces[0]);
        for (arg, piece) in args.iter().zip(&pieces[1..]) {
            let text = arg.to_string();
            out.extend(percent_encoding::utf8_percent_encode(&text, PATH_ARG));
            out.push_str(piece);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::NamedRoutes;

    #[test]
    fn url_fills_and_escapes_groups() {
        let mut routes = NamedRoutes::default();
        routes.push("user", Some(&["/user/", "/posts"]), 1);
        routes.push("raw", None, 1);
        assert_eq!(
            routes.url("user", &[&"a b/c"]).unwrap(),
            "/user/a%20b%2Fc/posts"
        );
        assert_eq!(routes.url("user", &[&42]).unwrap(), "/user/42/posts");
        assert!(routes
            .url("user", &[])
            .unwrap_err()
            .contains("takes 1 arguments"));
        assert!(routes
            .url("nope", &[])
            .unwrap_err()
            .contains("no route named"));
        assert!(routes
            .url("raw", &[&1])
            .unwrap_err()
            .contains("not reversible"));
    }
}
