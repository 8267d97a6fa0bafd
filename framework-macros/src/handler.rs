//! `#[handler]`: parse an `impl` block into a model of its HTTP methods and hooks
//! ([`parse`]), then generate the `RequestHandler` impl ([`expand`]).
//!
//! Every problem found is a `syn::Error` with the span of the offending token; they are
//! combined and emitted together with the original impl block, so one mistake gives one
//! precise error rather than a cascade of "method not found" errors.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, Pat, Token, Type};

const HTTP_METHODS: [(&str, &str); 7] = [
    ("get", "Get"),
    ("post", "Post"),
    ("put", "Put"),
    ("patch", "Patch"),
    ("delete", "Delete"),
    ("head", "Head"),
    ("options", "Options"),
];

/// Options of `#[handler(...)]`.
#[derive(Default)]
struct Options {
    stream_request_body: bool,
    xsrf_exempt: bool,
    authenticated: bool,
}

impl Parse for Options {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut opts = Options::default();
        let idents = Punctuated::<Ident, Token![,]>::parse_terminated(input)?;
        for id in idents {
            match id.to_string().as_str() {
                "stream_request_body" => opts.stream_request_body = true,
                "xsrf_exempt" => opts.xsrf_exempt = true,
                "authenticated" => opts.authenticated = true,
                other => {
                    return Err(syn::Error::new(
                        id.span(),
                        format!(
                            "unknown #[handler] option `{other}`: expected `stream_request_body`, `xsrf_exempt` or `authenticated`"
                        ),
                    ))
                }
            }
        }
        Ok(opts)
    }
}

/// One path argument of an HTTP method or of a WebSocket handler's `open`.
pub(crate) struct PathParam {
    pub(crate) ty: Type,
    /// `Some(T)` when the parameter is `Option<T>` (an optional group).
    pub(crate) optional: Option<Type>,
}

/// The names `__squall_arg0..` and the `let`s that convert the captured path groups into
/// `params`' types (a failed conversion returns the 404/400 from the context's method).
pub(crate) fn path_arg_bindings(
    params: &[PathParam],
    p: &TokenStream,
) -> (Vec<Ident>, Vec<TokenStream>) {
    let names: Vec<Ident> = (0..params.len())
        .map(|i| format_ident!("__squall_arg{}", i))
        .collect();
    let lets = params
        .iter()
        .enumerate()
        .map(|(i, prm)| {
            let name = &names[i];
            match &prm.optional {
                Some(inner) => quote_spanned!(prm.ty.span()=>
                    let #name: ::std::option::Option<#inner> = #p::path_arg_opt::<#inner>(cx, #i)?;
                ),
                None => {
                    let t = &prm.ty;
                    quote_spanned!(prm.ty.span()=> let #name: #t = #p::path_arg::<#t>(cx, #i)?;)
                }
            }
        })
        .collect();
    (names, lets)
}

/// One HTTP method of the handler.
struct HttpMethod {
    ident: Ident,
    /// Where the return type is (errors about it point there).
    ret_span: Span,
    variant: Ident,
    is_async: bool,
    xsrf_exempt: bool,
    authenticated: bool,
    params: Vec<PathParam>,
}

/// A hook the handler defines.
struct Hook {
    ident: Ident,
    is_async: bool,
    span: Span,
}

/// The model of a `#[handler]` impl block.
struct Model {
    item: ItemImpl,
    opts: Options,
    methods: Vec<HttpMethod>,
    hooks: Vec<Hook>,
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut item = match syn::parse2::<ItemImpl>(item.clone()) {
        Ok(i) => i,
        Err(e) => {
            let err = syn::Error::new(
                e.span(),
                "#[handler] goes on an `impl` block: `#[handler] impl MyHandler { fn get(&mut self, cx: &mut Context) -> Result<()> { .. } }`",
            )
            .to_compile_error();
            return quote!(#item #err);
        }
    };
    let opts = syn::parse2::<Options>(attr);
    let parsed = parse(&mut item);
    match (opts, parsed) {
        (Ok(opts), Ok((methods, hooks))) => match validate(&item, &opts, &methods, &hooks) {
            Ok(()) => generate(Model {
                item,
                opts,
                methods,
                hooks,
            }),
            Err(e) => emit_with_errors(&item, e),
        },
        (Err(a), Err(b)) => {
            emit_with_errors(&item, combine(vec![a, b]).unwrap_or_else(unreachable_error))
        }
        (Err(e), _) | (_, Err(e)) => emit_with_errors(&item, e),
    }
}

fn unreachable_error() -> syn::Error {
    syn::Error::new(Span::call_site(), "internal error in #[handler]")
}

/// The block as written (minus our helper attributes) and the errors: the rest of the user's
/// code still type-checks, so only the real mistakes are reported.
pub(crate) fn emit_with_errors(item: &ItemImpl, e: syn::Error) -> TokenStream {
    let err = e.to_compile_error();
    quote!(#item #err)
}

pub(crate) fn combine(errors: Vec<syn::Error>) -> Option<syn::Error> {
    errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    })
}

pub(crate) fn is_option(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(t) if args.args.len() == 1 => Some(t.clone()),
        _ => None,
    }
}

/// Checks that `f` takes `&mut self`; returns whether it has a receiver at all.
pub(crate) fn check_receiver(f: &ImplItemFn, errors: &mut Vec<syn::Error>) -> bool {
    match f.sig.inputs.first() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_some() => true,
        Some(FnArg::Receiver(r)) => {
            errors.push(syn::Error::new(
                r.span(),
                format!("`{}` must take `&mut self`", f.sig.ident),
            ));
            true
        }
        _ => {
            errors.push(syn::Error::new(
                f.sig.ident.span(),
                format!(
                    "`{}` must take `&mut self` as its first parameter",
                    f.sig.ident
                ),
            ));
            false
        }
    }
}

/// Reads the HTTP methods and hooks out of the block (removing `#[xsrf_exempt]`), collecting
/// every error instead of stopping at the first.
fn parse(item: &mut ItemImpl) -> syn::Result<(Vec<HttpMethod>, Vec<Hook>)> {
    let mut errors: Vec<syn::Error> = Vec::new();
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(syn::Error::new(
            path.span(),
            "#[handler] goes on an inherent impl block (`impl MyHandler { fn get(...) }`), not a trait impl",
        ));
    }
    let mut methods = Vec::new();
    let mut hooks = Vec::new();
    for it in item.items.iter_mut() {
        let ImplItem::Fn(f) = it else { continue };
        let name = f.sig.ident.to_string();
        // `#[xsrf_exempt]` and `#[authenticated]` are ours: record them and remove them from
        // the emitted method.
        let before = f.attrs.len();
        f.attrs.retain(|a| !a.path().is_ident("xsrf_exempt"));
        let exempt = f.attrs.len() != before;
        let before = f.attrs.len();
        f.attrs.retain(|a| !a.path().is_ident("authenticated"));
        let authenticated = f.attrs.len() != before;
        let Some((_, variant)) = HTTP_METHODS.iter().find(|(m, _)| *m == name) else {
            if exempt {
                errors.push(syn::Error::new(
                    f.sig.ident.span(),
                    "#[xsrf_exempt] applies only to HTTP methods (get, post, ...)",
                ));
            }
            if authenticated {
                errors.push(syn::Error::new(
                    f.sig.ident.span(),
                    "#[authenticated] applies only to HTTP methods (get, post, ...)",
                ));
            }
            match name.as_str() {
                "prepare"
                | "on_finish"
                | "on_connection_close"
                | "write_error"
                | "data_received"
                | "body_started" => {
                    let _ = check_receiver(f, &mut errors);
                    let is_async = f.sig.asyncness.is_some();
                    if is_async && name != "prepare" {
                        errors.push(syn::Error::new(
                            f.sig.asyncness.span(),
                            format!(
                                "`{name}` cannot be async (only `prepare` and HTTP methods can)"
                            ),
                        ));
                    }
                    hooks.push(Hook {
                        ident: f.sig.ident.clone(),
                        is_async,
                        span: f.sig.span(),
                    });
                }
                _ => {}
            }
            continue;
        };
        if !check_receiver(f, &mut errors) {
            // Without a receiver the other checks would only repeat the same mistake.
            continue;
        }
        let mut inputs = f.sig.inputs.iter().skip(1);
        match inputs.next() {
            Some(FnArg::Typed(pt)) if matches!(&*pt.ty, Type::Reference(r) if r.mutability.is_some()) => {}
            Some(other) => errors.push(syn::Error::new(
                other.span(),
                format!("the second parameter of `{name}` must be the request context: `cx: &mut Context`"),
            )),
            None => errors.push(syn::Error::new(
                f.sig.ident.span(),
                format!("`{name}` must take the request context after `&mut self`: `cx: &mut Context`"),
            )),
        }
        let mut params = Vec::new();
        for arg in inputs {
            match arg {
                FnArg::Typed(pt) if matches!(&*pt.pat, Pat::Ident(_)) => params.push(PathParam {
                    optional: is_option(&pt.ty),
                    ty: (*pt.ty).clone(),
                }),
                FnArg::Typed(pt) => errors.push(syn::Error::new(
                    pt.pat.span(),
                    "path arguments must be written `name: Type` (one per group in the route's pattern)",
                )),
                FnArg::Receiver(r) => errors.push(syn::Error::new(r.span(), "unexpected receiver")),
            }
        }
        if !f.sig.generics.params.is_empty() {
            errors.push(syn::Error::new(
                f.sig.generics.span(),
                format!("`{name}` cannot be generic: the router must know its argument types"),
            ));
        }
        methods.push(HttpMethod {
            ident: f.sig.ident.clone(),
            ret_span: match &f.sig.output {
                syn::ReturnType::Default => f.sig.ident.span(),
                syn::ReturnType::Type(_, t) => t.span(),
            },
            variant: Ident::new(variant, Span::call_site()),
            is_async: f.sig.asyncness.is_some(),
            xsrf_exempt: exempt,
            authenticated,
            params,
        });
    }
    match combine(errors) {
        Some(e) => Err(e),
        None => Ok((methods, hooks)),
    }
}

/// Checks the handler as a whole: methods exist, arities agree, streaming hooks fit.
fn validate(
    item: &ItemImpl,
    opts: &Options,
    methods: &[HttpMethod],
    hooks: &[Hook],
) -> syn::Result<()> {
    let mut errors = Vec::new();
    if methods.is_empty() {
        errors.push(syn::Error::new(
            item.self_ty.span(),
            "a #[handler] impl needs at least one HTTP method: get, post, put, patch, delete, head or options",
        ));
    }
    if let Some(first) = methods.first() {
        for m in &methods[1..] {
            if m.params.len() != first.params.len() {
                errors.push(syn::Error::new(
                    m.ident.span(),
                    format!(
                        "every method of a handler takes the same path arguments (one per route group): `{}` takes {}, `{}` takes {}",
                        first.ident,
                        first.params.len(),
                        m.ident,
                        m.params.len()
                    ),
                ));
            }
        }
    }
    let find = |n: &str| hooks.iter().find(|h| h.ident == n);
    if opts.stream_request_body && find("data_received").is_none() {
        errors.push(syn::Error::new(
            item.self_ty.span(),
            "#[handler(stream_request_body)] needs a `fn data_received(&mut self, chunk: &[u8]) -> Result<()>`",
        ));
    }
    if let (false, Some(h)) = (opts.stream_request_body, find("data_received")) {
        errors.push(syn::Error::new(
            h.ident.span(),
            "`data_received` is only called with #[handler(stream_request_body)]",
        ));
    }
    match combine(errors) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn generate(model: Model) -> TokenStream {
    let Model {
        item,
        opts,
        methods,
        hooks,
    } = model;
    let ty = &item.self_ty;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let p = quote!(::squall::__private);
    let arity = methods.first().map_or(0, |m| m.params.len());
    let stream = opts.stream_request_body;
    let variants: Vec<&Ident> = methods.iter().map(|m| &m.variant).collect();
    let matches_any = |vs: &[&Ident]| {
        if vs.is_empty() {
            quote!(false)
        } else {
            quote!(matches!(method, #(#p::MethodKind::#vs)|*))
        }
    };
    let prepare_async = hooks.iter().any(|h| h.ident == "prepare" && h.is_async);
    let wants_close = hooks.iter().any(|h| h.ident == "on_connection_close");
    let async_variants: Vec<&Ident> = methods
        .iter()
        .filter(|m| m.is_async)
        .map(|m| &m.variant)
        .collect();
    let all_exempt = opts.xsrf_exempt;
    let exempt_variants: Vec<&Ident> = methods
        .iter()
        .filter(|m| m.xsrf_exempt)
        .map(|m| &m.variant)
        .collect();
    let async_match = matches_any(&async_variants);
    let exempt_match = matches_any(&exempt_variants);
    let all_authenticated = opts.authenticated;
    let authenticated_variants: Vec<&Ident> = methods
        .iter()
        .filter(|m| m.authenticated)
        .map(|m| &m.variant)
        .collect();
    let authenticated_match = matches_any(&authenticated_variants);

    let arg_bindings = |m: &HttpMethod| path_arg_bindings(&m.params, &p);

    let sync_arms = methods.iter().filter(|m| !m.is_async).map(|m| {
        let (names, lets) = arg_bindings(m);
        let (v, ident) = (&m.variant, &m.ident);
        let call = quote_spanned!(m.ret_span=>
            #p::IntoHandlerResult::into_result(Self::#ident(self, cx #(, #names)*))
        );
        quote! {
            #p::MethodKind::#v => {
                #(#lets)*
                #call
            }
        }
    });
    let async_arms = methods.iter().filter(|m| m.is_async).map(|m| {
        let (names, lets) = arg_bindings(m);
        let (v, ident) = (&m.variant, &m.ident);
        let call = quote_spanned!(m.ret_span=>
            #p::IntoHandlerResult::into_result(Self::#ident(self, cx #(, #names)*).await)
        );
        quote! {
            #p::MethodKind::#v => {
                #(#lets)*
                #call
            }
        }
    });

    let hook_fns = hooks.iter().map(|h| {
        let span = h.span;
        match (h.ident.to_string().as_str(), h.is_async) {
            ("prepare", false) => quote_spanned!(span=>
                fn prepare(&mut self, cx: &mut #p::Context) -> #p::Result<(), #p::HttpError> {
                    #p::IntoHandlerResult::into_result(Self::prepare(self, cx))
                }
            ),
            ("prepare", true) => quote_spanned!(span=>
                #[allow(clippy::manual_async_fn)]
                fn prepare_async<'__squall>(
                    &'__squall mut self,
                    cx: &'__squall mut #p::Context,
                ) -> impl #p::Future<Output = #p::Result<(), #p::HttpError>> + '__squall {
                    async move { #p::IntoHandlerResult::into_result(Self::prepare(self, cx).await) }
                }
            ),
            ("on_finish", _) => quote_spanned!(span=>
                fn on_finish(&mut self, cx: &mut #p::Context) { Self::on_finish(self, cx) }
            ),
            ("on_connection_close", _) => quote_spanned!(span=>
                fn on_connection_close(&mut self) { Self::on_connection_close(self) }
            ),
            ("write_error", _) => quote_spanned!(span=>
                fn write_error(
                    &mut self,
                    cx: &mut #p::Context,
                    status: u16,
                    error: &#p::HttpError,
                ) -> #p::Result<(), #p::HttpError> {
                    #p::IntoHandlerResult::into_result(Self::write_error(self, cx, status, error))
                }
            ),
            ("data_received", _) => quote_spanned!(span=>
                fn __data_received(&mut self, chunk: &[u8]) -> #p::Result<(), #p::HttpError> {
                    #p::IntoHandlerResult::into_result(Self::data_received(self, chunk))
                }
            ),
            ("body_started", _) => quote_spanned!(span=>
                fn __body_started(&mut self, request: &#p::Request) -> #p::Result<(), #p::HttpError> {
                    #p::IntoHandlerResult::into_result(Self::body_started(self, request))
                }
            ),
            _ => quote!(),
        }
    });

    quote! {
        #item

        impl #impl_generics #p::RequestHandler for #ty #where_clause {
            const METHODS: &'static [#p::MethodKind] = &[#(#p::MethodKind::#variants),*];
            const ARITY: usize = #arity;
            const STREAM_REQUEST_BODY: bool = #stream;
            const WANTS_CONNECTION_CLOSE: bool = #wants_close;

            fn __is_async(method: #p::MethodKind) -> bool {
                #prepare_async || #async_match
            }

            fn __xsrf_exempt(method: #p::MethodKind) -> bool {
                #all_exempt || #exempt_match
            }

            fn __authenticated(method: #p::MethodKind) -> bool {
                #all_authenticated || #authenticated_match
            }

            #[allow(unreachable_code, unused_variables)]
            fn __call_sync(&mut self, cx: &mut #p::Context) -> #p::Result<(), #p::HttpError> {
                match cx.__dispatch_kind() {
                    #(#sync_arms)*
                    _ => #p::Result::Err(#p::HttpError::new(405)),
                }
            }

            #[allow(unreachable_code, unused_variables)]
            fn __call_async<'__squall>(
                &'__squall mut self,
                cx: &'__squall mut #p::Context,
            ) -> impl #p::Future<Output = #p::Result<(), #p::HttpError>> + '__squall {
                async move {
                    match cx.__dispatch_kind() {
                        #(#async_arms)*
                        // Sync methods (with an async `prepare`) run as they do without a task.
                        _ => <Self as #p::RequestHandler>::__call_sync(self, cx),
                    }
                }
            }

            #(#hook_fns)*
        }

        impl #impl_generics #p::RouteArity<#arity> for #ty #where_clause {}
    }
}
