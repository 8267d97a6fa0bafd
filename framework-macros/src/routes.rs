//! `routes!`: parse the route list and check every pattern at compile time ([`parse`]), then
//! build the `Routes` value ([`expand`]).
//!
//! Checks, each reported on the offending literal: the pattern compiles (with the same regex
//! engine the router uses at run time); it has at most 16 groups; names are unique; a named
//! route is reversible. That a route's group count equals its handler's path-argument count is
//! checked by the type system (`RouteArity<N>`), pointing at the route.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use regex_syntax::hir::{Hir, HirKind, Look};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{parenthesized, Expr, Ident, LitStr, Token};

/// Most groups a pattern may have (the router keeps group offsets inline).
const MAX_GROUPS: usize = 16;

/// `(pattern, target [, name = "..."])`
struct RouteInput {
    pattern: LitStr,
    target: Expr,
    name: Option<LitStr>,
}

impl Parse for RouteInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let content;
        parenthesized!(content in input);
        let pattern: LitStr = content.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "a route starts with its pattern, a string literal: (r\"/path/(\\d+)\", Handler)",
            )
        })?;
        content.parse::<Token![,]>()?;
        let target: Expr = content.parse()?;
        let mut name = None;
        if content.parse::<Option<Token![,]>>()?.is_some() && !content.is_empty() {
            let key: Ident = content.parse()?;
            if key != "name" {
                return Err(syn::Error::new(key.span(), "expected `name = \"...\"`"));
            }
            content.parse::<Token![=]>()?;
            name = Some(content.parse::<LitStr>()?);
            content.parse::<Option<Token![,]>>()?;
        }
        if !content.is_empty() {
            return Err(content.error(
                "unexpected tokens after the route; expected `(pattern, Handler, name = \"...\")`",
            ));
        }
        Ok(RouteInput {
            pattern,
            target,
            name,
        })
    }
}

struct RoutesInput(Punctuated<RouteInput, Token![,]>);

impl Parse for RoutesInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Ok(RoutesInput(Punctuated::parse_terminated(input)?))
    }
}

/// A checked route.
struct Checked {
    input: RouteInput,
    groups: usize,
    literal: Option<String>,
    reverse: Option<Vec<String>>,
}

/// The item form: `routes! { pub mod urls { (..), (..) } }`.
struct ModInput {
    attrs: Vec<syn::Attribute>,
    vis: syn::Visibility,
    ident: Ident,
    routes: RoutesInput,
}

impl Parse for ModInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(syn::Attribute::parse_outer)?;
        let vis: syn::Visibility = input.parse()?;
        input.parse::<Token![mod]>()?;
        let ident: Ident = input.parse()?;
        let content;
        syn::braced!(content in input);
        let routes: RoutesInput = content.parse()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the `mod` block"));
        }
        Ok(ModInput {
            attrs,
            vis,
            ident,
            routes,
        })
    }
}

/// Whether the input is the item form (`[#[attr]] [pub] mod name { .. }`).
fn is_mod_form(input: &TokenStream) -> bool {
    let probe = |stream: ParseStream<'_>| -> syn::Result<bool> {
        stream.call(syn::Attribute::parse_outer)?;
        stream.parse::<syn::Visibility>()?;
        Ok(stream.peek(Token![mod]))
    };
    syn::parse::Parser::parse2(
        |s: ParseStream<'_>| {
            let r = probe(s);
            s.parse::<TokenStream>()?;
            r
        },
        input.clone(),
    )
    .unwrap_or(false)
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    if is_mod_form(&input) {
        return match syn::parse2::<ModInput>(input) {
            Ok(m) => expand_mod(m),
            Err(e) => e.to_compile_error(),
        };
    }
    let routes = match syn::parse2::<RoutesInput>(input) {
        Ok(r) => r,
        Err(e) => return e.to_compile_error(),
    };
    match parse(routes) {
        Ok(checked) => generate(checked),
        Err(e) => {
            let err = e.to_compile_error();
            // An expression of the right type keeps the caller's code from cascading errors.
            quote!({ #err; ::squall::__private::Routes::new() })
        }
    }
}

fn parse(routes: RoutesInput) -> syn::Result<Vec<Checked>> {
    let mut errors: Vec<syn::Error> = Vec::new();
    let mut out = Vec::new();
    let mut names: Vec<LitStr> = Vec::new();
    for r in routes.0 {
        let pat = r.pattern.value();
        let anchored = format!("^(?:{pat})$");
        let re = match regex::Regex::new(&anchored) {
            Ok(re) => re,
            Err(e) => {
                let msg = match e {
                    regex::Error::Syntax(s) => {
                        // The message quotes the anchored pattern; show the user's own.
                        let first = s.lines().last().unwrap_or("").trim().to_owned();
                        format!("invalid route pattern {pat:?}: {first}")
                    }
                    other => format!("invalid route pattern {pat:?}: {other}"),
                };
                errors.push(syn::Error::new(r.pattern.span(), msg));
                continue;
            }
        };
        let groups = re.captures_len() - 1;
        if groups > MAX_GROUPS {
            errors.push(syn::Error::new(
                r.pattern.span(),
                format!(
                    "route pattern {pat:?} has {groups} groups; at most {MAX_GROUPS} are supported"
                ),
            ));
            continue;
        }
        let hir = regex_syntax::Parser::new().parse(&pat).ok();
        let literal = hir.as_ref().and_then(literal_of);
        let reverse = hir.as_ref().and_then(|h| reverse_pieces(h, groups));
        if let Some(name) = &r.name {
            if let Some(first) = names.iter().find(|n| n.value() == name.value()) {
                let mut e = syn::Error::new(
                    name.span(),
                    format!("duplicate route name {:?}", name.value()),
                );
                e.combine(syn::Error::new(first.span(), "first used here"));
                errors.push(e);
            } else {
                names.push(name.clone());
            }
            if reverse.is_none() {
                errors.push(syn::Error::new(
                    r.pattern.span(),
                    format!(
                        "route {:?} is named but its pattern {pat:?} cannot be reversed: a reversible pattern is literal text around simple groups, like r\"/user/(\\d+)/posts/([^/]+)\"",
                        name.value()
                    ),
                ));
            }
        }
        out.push(Checked {
            input: r,
            groups,
            literal,
            reverse,
        });
    }
    match errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The item form: a module holding the table (`routes()`) and one constant per named route,
/// so that `reverse_url(urls::user, ..)` with a misspelt name is a compile error at the
/// misspelling.
fn expand_mod(m: ModInput) -> TokenStream {
    let ModInput {
        attrs,
        vis,
        ident,
        routes,
    } = m;
    let p = quote!(::squall::__private);
    let checked = match parse(routes) {
        Ok(c) => c,
        Err(e) => {
            let err = e.to_compile_error();
            return quote!(#(#attrs)* #vis mod #ident { #err });
        }
    };
    let mut errors: Vec<syn::Error> = Vec::new();
    let mut consts = Vec::new();
    for c in &checked {
        let Some(name) = &c.input.name else { continue };
        let text = name.value();
        let id = match syn::parse_str::<Ident>(&text) {
            Ok(_) if text != "routes" => Ident::new(&text, name.span()),
            _ => {
                errors.push(syn::Error::new(
                    name.span(),
                    format!(
                        "route name {text:?}: in a `mod` table each name becomes a constant, so it must be an identifier other than `routes`"
                    ),
                ));
                continue;
            }
        };
        let groups = c.groups;
        let pattern = &c.input.pattern;
        let doc = format!("The route named `{text}`: `{}`.", pattern.value());
        consts.push(quote! {
            #[doc = #doc]
            pub const #id: #p::RouteName = #p::RouteName::new(#name, #groups);
        });
    }
    if let Some(e) = errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        let err = e.to_compile_error();
        return quote!(#(#attrs)* #vis mod #ident { #err });
    }
    let table = generate(checked);
    quote! {
        #(#attrs)*
        #[allow(non_upper_case_globals)]
        #vis mod #ident {
            #[allow(unused_imports)]
            use super::*;

            /// The routing table, for `Application::new` / `with_settings`.
            pub fn routes() -> #p::Routes {
                #table
            }

            #(#consts)*
        }
    }
}

/// The literal text a pattern matches, if it matches exactly one string.
fn literal_of(hir: &Hir) -> Option<String> {
    match hir.kind() {
        HirKind::Empty => Some(String::new()),
        HirKind::Literal(l) => String::from_utf8(l.0.to_vec()).ok(),
        HirKind::Concat(parts) => {
            let mut s = String::new();
            for p in parts {
                s.push_str(&literal_of(p)?);
            }
            Some(s)
        }
        _ => None,
    }
}

/// The literal pieces between a pattern's top-level groups (Tornado's `_find_groups`):
/// `/user/(\d+)/x` gives `["/user/", "/x"]`. `None` if the pattern is not literal text around
/// simple, non-nested groups.
fn reverse_pieces(hir: &Hir, groups: usize) -> Option<Vec<String>> {
    let items: Vec<&Hir> = match hir.kind() {
        HirKind::Concat(parts) => parts.iter().collect(),
        _ => vec![hir],
    };
    let mut pieces = vec![String::new()];
    let mut seen = 0;
    for (i, item) in items.iter().enumerate() {
        match item.kind() {
            HirKind::Capture(c) => {
                // A nested group would have no slot of its own in the reversed URL.
                if c.sub.properties().explicit_captures_len() > 0 {
                    return None;
                }
                seen += 1;
                pieces.push(String::new());
            }
            HirKind::Look(Look::Start) if i == 0 => {}
            HirKind::Look(Look::End) if i == items.len() - 1 => {}
            _ => pieces.last_mut()?.push_str(&literal_of(item)?),
        }
    }
    (seen == groups).then_some(pieces)
}

/// Whether a path expression names a type (by Rust's naming convention: `UpperCamelCase`),
/// rather than a variable (`lower_case`) or a constant (`SCREAMING_CASE`), which are values.
fn names_type(path: &syn::ExprPath) -> bool {
    if path.qself.is_some() || !path.attrs.is_empty() {
        return false;
    }
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    let name = last.ident.to_string();
    let starts_upper = name.chars().next().is_some_and(char::is_uppercase);
    let screaming = name.len() > 1
        && name
            .chars()
            .all(|c| c.is_uppercase() || c.is_ascii_digit() || c == '_');
    starts_upper && !screaming
}

fn generate(routes: Vec<Checked>) -> TokenStream {
    let p = quote!(::squall::__private);
    let built = routes.iter().map(|c| {
        let pattern = &c.input.pattern;
        let groups = c.groups;
        let literal = match &c.literal {
            Some(l) => quote!(::std::option::Option::Some(#l)),
            None => quote!(::std::option::Option::None),
        };
        let name = match &c.input.name {
            Some(n) => quote!(::std::option::Option::Some(#n)),
            None => quote!(::std::option::Option::None),
        };
        let reverse = match &c.reverse {
            Some(pieces) => quote!(::std::option::Option::Some(&[#(#pieces),*])),
            None => quote!(::std::option::Option::None),
        };
        let spec = quote! {
            #p::RouteSpec {
                pattern: #pattern,
                literal: #literal,
                name: #name,
                reverse: #reverse,
                groups: #groups,
            }
        };
        let target = &c.input.target;
        let target_span = target.span();
        match target {
            // A path naming a type: handlers are built with `Default`.
            Expr::Path(path) if names_type(path) => {
                quote_spanned!(target_span=>
                    #p::Route::with_default::<#path, #groups>(#spec)
                )
            }
            // Any other expression is a template value, cloned per request.
            _ => quote_spanned!(target_span=>
                #p::Route::with_template::<_, #groups>(#spec, #target)
            ),
        }
    });
    quote! {
        #p::Routes::from_vec(::std::vec![#(#built),*])
    }
}
