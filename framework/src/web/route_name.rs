//! [`RouteName`]: a route name checked at compile time, as the item form of `routes!`
//! declares them.

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
