//! `#[websocket_handler]`: parse an `impl` block into a model of its WebSocket hooks
//! ([`parse`]), then generate the `WebSocketHandler` impl and the `RequestHandler` impl that
//! routes its GET to the opening handshake ([`generate`]).
//!
//! As for `#[handler]`, every problem is a `syn::Error` on the offending token, all emitted
//! together with the original block. `open`'s parameters after `cx` and `ws` are the route's
//! path arguments: their count is the handler's arity, which `routes!` checks against the
//! pattern's groups through `RouteArity<N>`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, Pat, Type};

use crate::handler::{
    check_receiver, combine, emit_with_errors, is_option, path_arg_bindings, PathParam,
};

/// The hooks a WebSocket handler may define, with how many parameters follow `&mut self`
/// (`None`: `open`, which takes path arguments too) and whether they may be async.
const HOOKS: [(&str, Option<usize>, bool); 8] = [
    ("open", None, false),
    ("on_message", Some(2), true),
    ("on_ping", Some(2), false),
    ("on_pong", Some(2), false),
    ("on_close", Some(3), false),
    ("check_origin", Some(2), false),
    ("select_subprotocol", Some(1), false),
    ("get_compression_options", Some(1), false),
];

/// A hook the handler defines.
struct Hook {
    name: String,
    is_async: bool,
    span: Span,
    ret_span: Span,
}

struct Model {
    item: ItemImpl,
    hooks: Vec<Hook>,
    params: Vec<PathParam>,
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut item = match syn::parse2::<ItemImpl>(item.clone()) {
        Ok(i) => i,
        Err(e) => {
            let err = syn::Error::new(
                e.span(),
                "#[websocket_handler] goes on an `impl` block: `#[websocket_handler] impl Echo { fn on_message(&mut self, ws: &WebSocket, message: Message<'_>) -> Result<()> { .. } }`",
            )
            .to_compile_error();
            return quote!(#item #err);
        }
    };
    let mut errors = Vec::new();
    if !attr.is_empty() {
        errors.push(syn::Error::new(
            attr.span(),
            "#[websocket_handler] takes no options (settings are the application's `websocket_*` settings)",
        ));
    }
    let (hooks, params) = parse(&mut item, &mut errors);
    match combine(errors) {
        Some(e) => emit_with_errors(&item, e),
        None => generate(Model {
            item,
            hooks,
            params,
        }),
    }
}

fn parse(item: &mut ItemImpl, errors: &mut Vec<syn::Error>) -> (Vec<Hook>, Vec<PathParam>) {
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(syn::Error::new(
            path.span(),
            "#[websocket_handler] goes on an inherent impl block (`impl Echo { fn on_message(...) }`), not a trait impl",
        ));
    }
    let mut hooks = Vec::new();
    let mut params = Vec::new();
    for it in item.items.iter_mut() {
        let ImplItem::Fn(f) = it else { continue };
        let name = f.sig.ident.to_string();
        let Some(&(_, arity, may_be_async)) = HOOKS.iter().find(|(n, _, _)| *n == name) else {
            continue;
        };
        if !check_receiver(f, errors) {
            continue;
        }
        let is_async = f.sig.asyncness.is_some();
        if is_async && !may_be_async {
            errors.push(syn::Error::new(
                f.sig.asyncness.span(),
                format!("`{name}` cannot be async (only `on_message` can)"),
            ));
        }
        if !f.sig.generics.params.is_empty() && name == "open" {
            errors.push(syn::Error::new(
                f.sig.generics.span(),
                "`open` cannot be generic: the router must know its argument types",
            ));
        }
        let given = f.sig.inputs.len() - 1;
        match arity {
            Some(n) if given != n => errors.push(syn::Error::new(
                f.sig.inputs.span(),
                format!(
                    "`{name}` takes {n} parameter(s) after `&mut self`: {}",
                    signature(&name)
                ),
            )),
            Some(_) => {}
            None => params = open_params(f, errors),
        }
        hooks.push(Hook {
            name,
            is_async,
            span: f.sig.span(),
            ret_span: match &f.sig.output {
                syn::ReturnType::Default => f.sig.ident.span(),
                syn::ReturnType::Type(_, t) => t.span(),
            },
        });
    }
    (hooks, params)
}

/// The expected signature of a hook, for error messages.
fn signature(name: &str) -> &'static str {
    match name {
        "on_message" => "`fn on_message(&mut self, ws: &WebSocket, message: Message<'_>) -> Result<()>`",
        "on_ping" => "`fn on_ping(&mut self, ws: &WebSocket, data: &[u8])`",
        "on_pong" => "`fn on_pong(&mut self, ws: &WebSocket, data: &[u8])`",
        "on_close" => "`fn on_close(&mut self, ws: &WebSocket, code: Option<u16>, reason: &str)`",
        "check_origin" => "`fn check_origin(&mut self, cx: &mut Context, origin: &str) -> bool`",
        "select_subprotocol" => "`fn select_subprotocol(&mut self, offered: &[&str]) -> Option<String>`",
        _ => "`fn get_compression_options(&mut self, cx: &mut Context) -> Option<CompressionOptions>`",
    }
}

/// `open(&mut self, cx: &mut Context, ws: &WebSocket, <path arguments>)`.
fn open_params(f: &ImplItemFn, errors: &mut Vec<syn::Error>) -> Vec<PathParam> {
    let mut inputs = f.sig.inputs.iter().skip(1);
    match inputs.next() {
        Some(FnArg::Typed(pt)) if matches!(&*pt.ty, Type::Reference(r) if r.mutability.is_some()) => {}
        Some(other) => errors.push(syn::Error::new(
            other.span(),
            "the second parameter of `open` must be the request context: `cx: &mut Context`",
        )),
        None => errors.push(syn::Error::new(
            f.sig.ident.span(),
            "`open` takes the request context and the connection after `&mut self`: `fn open(&mut self, cx: &mut Context, ws: &WebSocket, ..path arguments)`",
        )),
    }
    match inputs.next() {
        Some(FnArg::Typed(pt)) if matches!(&*pt.ty, Type::Reference(r) if r.mutability.is_none()) =>
            {}
        Some(other) => errors.push(syn::Error::new(
            other.span(),
            "the third parameter of `open` must be the connection: `ws: &WebSocket`",
        )),
        None => errors.push(syn::Error::new(
            f.sig.ident.span(),
            "`open` takes the connection after the context: `ws: &WebSocket`",
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
    params
}

fn generate(model: Model) -> TokenStream {
    let Model {
        item,
        hooks,
        params,
    } = model;
    let ty = &item.self_ty;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let p = quote!(::squall::__private);
    let arity = params.len();
    let async_messages = hooks.iter().any(|h| h.name == "on_message" && h.is_async);
    let (names, lets) = path_arg_bindings(&params, &p);
    let hook_fns = hooks.iter().map(|h| {
        let (span, ret) = (h.span, h.ret_span);
        match (h.name.as_str(), h.is_async) {
            ("open", _) => {
                let call = quote_spanned!(ret=>
                    #p::IntoHandlerResult::into_result(Self::open(self, cx, ws #(, #names)*))
                );
                quote_spanned!(span=>
                    fn __open(&mut self, cx: &mut #p::Context, ws: &#p::WebSocket) -> #p::Result<(), #p::HttpError> {
                        #(#lets)*
                        #call
                    }
                )
            }
            ("on_message", false) => {
                let call = quote_spanned!(ret=>
                    #p::IntoHandlerResult::into_result(Self::on_message(self, ws, message))
                );
                quote_spanned!(span=>
                    fn __on_message(&mut self, ws: &#p::WebSocket, message: #p::Message<'_>) -> #p::Result<(), #p::HttpError> {
                        #call
                    }
                )
            }
            ("on_message", true) => {
                let call = quote_spanned!(ret=>
                    #p::IntoHandlerResult::into_result(Self::on_message(self, ws, message).await)
                );
                quote_spanned!(span=>
                    #[allow(clippy::manual_async_fn)]
                    fn __on_message_async<'__squall>(
                        &'__squall mut self,
                        ws: &'__squall #p::WebSocket,
                        message: #p::Message<'__squall>,
                    ) -> impl #p::Future<Output = #p::Result<(), #p::HttpError>> + '__squall {
                        async move { #call }
                    }
                )
            }
            ("on_ping" | "on_pong", _) => {
                let ident = Ident::new(&h.name, span);
                let call = quote_spanned!(ret=>
                    #p::IntoHandlerResult::into_result(Self::#ident(self, ws, data))
                );
                quote_spanned!(span=>
                    fn #ident(&mut self, ws: &#p::WebSocket, data: &[u8]) -> #p::Result<(), #p::HttpError> {
                        #call
                    }
                )
            }
            ("on_close", _) => {
                let call = quote_spanned!(ret=>
                    #p::IntoHandlerResult::into_result(Self::on_close(self, ws, code, reason))
                );
                quote_spanned!(span=>
                    fn on_close(&mut self, ws: &#p::WebSocket, code: ::std::option::Option<u16>, reason: &str) -> #p::Result<(), #p::HttpError> {
                        #call
                    }
                )
            }
            ("check_origin", _) => quote_spanned!(span=>
                fn check_origin(&mut self, cx: &mut #p::Context, origin: &str) -> bool {
                    Self::check_origin(self, cx, origin)
                }
            ),
            ("select_subprotocol", _) => quote_spanned!(span=>
                fn select_subprotocol(&mut self, offered: &[&str]) -> ::std::option::Option<::std::string::String> {
                    Self::select_subprotocol(self, offered)
                }
            ),
            ("get_compression_options", _) => quote_spanned!(span=>
                fn get_compression_options(&mut self, cx: &mut #p::Context) -> ::std::option::Option<#p::CompressionOptions> {
                    Self::get_compression_options(self, cx)
                }
            ),
            _ => quote!(),
        }
    });
    quote! {
        #item

        impl #impl_generics #p::WebSocketHandler for #ty #where_clause {
            const ASYNC_MESSAGES: bool = #async_messages;
            #(#hook_fns)*
        }

        impl #impl_generics #p::RequestHandler for #ty #where_clause {
            const METHODS: &'static [#p::MethodKind] = &[#p::MethodKind::Get];
            const ARITY: usize = #arity;
            const WEBSOCKET: bool = true;

            fn __is_async(_method: #p::MethodKind) -> bool {
                false
            }

            fn __call_sync(&mut self, _cx: &mut #p::Context) -> #p::Result<(), #p::HttpError> {
                #p::Result::Err(#p::HttpError::new(405))
            }

            fn __call_async<'__squall>(
                &'__squall mut self,
                _cx: &'__squall mut #p::Context,
            ) -> impl #p::Future<Output = #p::Result<(), #p::HttpError>> + '__squall {
                ::std::future::ready(#p::Result::Err(#p::HttpError::new(405)))
            }

            fn __websocket(self, cx: &mut #p::Context) {
                #p::websocket_serve::<Self>(self, cx)
            }
        }

        impl #impl_generics #p::RouteArity<#arity> for #ty #where_clause {}
    }
}
