//! `#[interface]`: a trait whose calls a memo can record and replay. Parsed into a model of
//! its methods (validated with spanned errors), then generated: a call enum, an answer enum,
//! `Interface for dyn Trait` and `Trait for Tracked<'_, dyn Trait>`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{
    Error, FnArg, Ident, ItemTrait, Pat, ReturnType, Signature, TraitItem, Type, Visibility,
};

/// What the attribute's arguments name.
pub(crate) struct Names {
    call: Option<Ident>,
    answer: Option<Ident>,
    api: Option<Ident>,
    double: Option<Ident>,
}

const ARGUMENTS: &str = "`call = Name`, `answer = Name`, `api = Name` or `double = Name`";

impl Names {
    pub(crate) fn parse(args: TokenStream) -> syn::Result<Self> {
        let mut names = Names {
            call: None,
            answer: None,
            api: None,
            double: None,
        };
        let metas = syn::parse::Parser::parse2(
            syn::punctuated::Punctuated::<syn::MetaNameValue, syn::Token![,]>::parse_terminated,
            args.clone(),
        )
        .map_err(|_| Error::new_spanned(&args, format!("expected {ARGUMENTS}")))?;
        for meta in metas {
            let slot = if meta.path.is_ident("call") {
                &mut names.call
            } else if meta.path.is_ident("answer") {
                &mut names.answer
            } else if meta.path.is_ident("api") {
                &mut names.api
            } else if meta.path.is_ident("double") {
                &mut names.double
            } else {
                return Err(Error::new_spanned(
                    &meta.path,
                    format!("unknown argument: expected {ARGUMENTS}"),
                ));
            };
            match &meta.value {
                syn::Expr::Path(p) if p.path.get_ident().is_some() => {
                    *slot = p.path.get_ident().cloned();
                }
                other => {
                    return Err(Error::new_spanned(
                        other,
                        "expected a type name: `call = FilesCall`",
                    ))
                }
            }
        }
        Ok(names)
    }
}

/// A trait declared `#[interface]`.
pub(crate) struct Interface {
    item: ItemTrait,
    call: Ident,
    answer: Ident,
    /// A unit struct with a constant per method, for a double's clauses.
    api: Ident,
    /// An alias of `Double<dyn Trait>`.
    double: Ident,
    methods: Vec<Method>,
}

struct Method {
    sig: Signature,
    /// The method's name in UpperCamelCase: its variant in both enums.
    variant: Ident,
    args: Vec<Arg>,
    /// `()` when the method returns nothing.
    answer: Type,
}

struct Arg {
    /// The parameter's name (its field in the call), or `argN`.
    name: Ident,
    /// What the call stores: `Arc<str>` for `&str`, `Arc<[T]>` for `&[T]` (a call is
    /// recorded at each level of nested memos: a shared copy is cloned by a count), the
    /// referent's owned form for another `&T`, else the type itself.
    stored: Type,
    how: Kept,
}

/// How a call keeps an argument, and lends it back to the implementation.
enum Kept {
    /// As it was passed.
    Value,
    /// `&T` as `T::Owned`.
    Owned,
    /// `&str` or `&[T]` as an `Arc`.
    Shared,
    /// `&mut T`: the call keeps what it may see of the argument (`Replay::Key`), the
    /// answer what the call did to it (`Replay::Effect`), and the implementation is handed
    /// a stand-in.
    Effect(Sink),
}

/// How a `&mut` parameter is replayed.
enum Sink {
    /// `fmt::Formatter<'_>`, which cannot be made by value (recognised by name).
    Formatter,
    /// Through its `Replay` implementation.
    Replay(Box<Type>),
}

impl Sink {
    /// The type the answer keeps of what a call did.
    fn effect(&self) -> TokenStream {
        let rt = quote!(::steadfast::__private);
        match self {
            Sink::Formatter => quote!(#rt::String),
            Sink::Replay(t) => quote_spanned!(t.span()=> <#t as #rt::Replay>::Effect),
        }
    }
}

impl Interface {
    pub(crate) fn parse(names: Names, item: ItemTrait) -> syn::Result<Self> {
        if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
            return Err(Error::new_spanned(
                &item.generics,
                "an interface cannot be generic: its calls and answers are one type each",
            ));
        }
        if let Some(unsafety) = &item.unsafety {
            return Err(Error::new_spanned(
                unsafety,
                "an interface cannot be `unsafe`",
            ));
        }
        let mut methods = Vec::new();
        let mut errors: Option<Error> = None;
        for trait_item in &item.items {
            match trait_item {
                TraitItem::Fn(f) => match Method::parse(&f.sig) {
                    Ok(m) => methods.push(m),
                    Err(e) => push(&mut errors, e),
                },
                other => push(
                    &mut errors,
                    Error::new_spanned(
                        other,
                        "an interface holds only methods: what an implementation answers is \
                         all a memo sees of it",
                    ),
                ),
            }
        }
        if let Some(e) = errors {
            return Err(e);
        }
        let name = &item.ident;
        Ok(Interface {
            call: names.call.unwrap_or_else(|| format_ident!("{name}Call")),
            answer: names
                .answer
                .unwrap_or_else(|| format_ident!("{name}Answer")),
            api: names.api.unwrap_or_else(|| format_ident!("{name}Api")),
            double: names
                .double
                .unwrap_or_else(|| format_ident!("{name}Double")),
            item,
            methods,
        })
    }
}

impl Method {
    fn parse(sig: &Signature) -> syn::Result<Self> {
        let why_not = if sig.asyncness.is_some() {
            Some((sig.fn_token.span(), "an interface method cannot be `async`"))
        } else if sig.constness.is_some() || sig.unsafety.is_some() || sig.abi.is_some() {
            Some((
                sig.fn_token.span(),
                "an interface method is a plain `fn`: not `const`, `unsafe` or `extern`",
            ))
        } else if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            Some((
                sig.generics.span(),
                "an interface method cannot be generic: each call is a value of one call type",
            ))
        } else {
            sig.variadic
                .as_ref()
                .map(|v| (v.span(), "an interface method cannot be variadic"))
        };
        if let Some((span, message)) = why_not {
            return Err(Error::new(span, message));
        }
        let mut inputs = sig.inputs.iter();
        match inputs.next() {
            Some(FnArg::Receiver(r)) if r.reference.is_some() && r.colon_token.is_none() => {
                if r.mutability.is_some() {
                    let message = match &sig.output {
                        ReturnType::Type(..) => {
                            "a method taking `&mut self` cannot have an answer: an interface \
                             is asked through `&self`, so that what it answers depends only on \
                             the calls asked"
                        }
                        ReturnType::Default => {
                            "a method taking `&mut self` cannot be tracked: an interface is \
                             asked through `&self`, and a memo hit would skip the change"
                        }
                    };
                    return Err(Error::new_spanned(r, message));
                }
            }
            Some(FnArg::Receiver(r)) => {
                return Err(Error::new_spanned(r, "an interface method takes `&self`"))
            }
            _ => {
                return Err(Error::new_spanned(
                    &sig.ident,
                    "an interface method takes `&self`: a memo asks an implementation",
                ))
            }
        }
        let mut args = Vec::new();
        for (i, input) in inputs.enumerate() {
            let FnArg::Typed(pat) = input else {
                unreachable!("only the first parameter is a receiver")
            };
            let name = match &*pat.pat {
                Pat::Ident(p) => p.ident.clone(),
                _ => format_ident!("arg{i}"),
            };
            args.push(Arg::parse(name, &pat.ty)?);
        }
        let answer = match &sig.output {
            ReturnType::Default => syn::parse_quote!(()),
            ReturnType::Type(_, ty) => {
                if let Some(span) = borrowed(ty) {
                    return Err(Error::new(
                        span,
                        "an interface's answer is stored: return an owned type (`String`, \
                         `Arc<str>`, `Vec<T>`) or a `&'static` one, not a borrow",
                    ));
                }
                float(ty)?;
                if let Type::ImplTrait(_) = &**ty {
                    return Err(Error::new_spanned(
                        ty,
                        "an interface's answer is stored and compared: return a named type, \
                         not `impl Trait`",
                    ));
                }
                (**ty).clone()
            }
        };
        Ok(Method {
            sig: sig.clone(),
            variant: Ident::new(&upper_camel(&sig.ident.to_string()), sig.ident.span()),
            args,
            answer,
        })
    }
}

impl Method {
    /// The method's signature with its parameters bound to `bound`.
    fn bound_signature(&self, bound: &[Ident]) -> Signature {
        let mut sig = self.sig.clone();
        for (input, b) in sig.inputs.iter_mut().skip(1).zip(bound) {
            if let FnArg::Typed(pat) = input {
                *pat.pat = syn::parse_quote!(#b);
            }
        }
        sig
    }

    /// What each `&mut` parameter's call did (`__effect{i}`), done to the caller's argument
    /// (bound to `bound[i]`).
    fn replay(&self, bound: &[Ident]) -> Vec<TokenStream> {
        let rt = quote!(::steadfast::__private);
        let args = self.args.iter().zip(bound).enumerate();
        args.filter_map(|(i, (a, b))| {
            let e = Ident::new(&format!("__effect{i}"), Span::mixed_site());
            match &a.how {
                Kept::Effect(Sink::Formatter) => Some(quote!(#rt::FormatterKey::replay(#b, &#e);)),
                Kept::Effect(Sink::Replay(t)) => {
                    Some(quote_spanned!(t.span()=> <#t as #rt::Replay>::replay(&mut *#b, &#e);))
                }
                _ => None,
            }
        })
        .collect()
    }
}

impl Arg {
    /// What the call stores of the argument bound to `b`: a by-value argument moved, or
    /// copied if `copy` (when it is passed on after).
    fn store(&self, b: &Ident, copy: bool) -> TokenStream {
        let rt = quote!(::steadfast::__private);
        match &self.how {
            Kept::Owned => quote!(#rt::ToOwned::to_owned(#b)),
            Kept::Shared => quote!(#rt::Arc::from(#b)),
            Kept::Value if copy => quote!(#rt::Clone::clone(&#b)),
            Kept::Value => quote!(#b),
            Kept::Effect(Sink::Formatter) => quote!(#rt::FormatterKey::of(#b)),
            Kept::Effect(Sink::Replay(t)) => {
                quote_spanned!(t.span()=> <#t as #rt::Replay>::key(&*#b))
            }
        }
    }

    fn parse(name: Ident, ty: &Type) -> syn::Result<Self> {
        let (stored, how) = match ty {
            Type::Reference(r) if r.mutability.is_some() => {
                let elem = &*r.elem;
                let sink = if is_formatter(elem) {
                    Sink::Formatter
                } else if let Some(span) = borrowed(elem) {
                    return Err(Error::new(
                        span,
                        "a `&mut` parameter's type cannot hold a borrow (but for \
                         `fmt::Formatter<'_>`): what a call may see of it is stored",
                    ));
                } else {
                    Sink::Replay(Box::new(elem.clone()))
                };
                let stored = match &sink {
                    Sink::Formatter => syn::parse_quote_spanned!(ty.span()=>
                        ::steadfast::__private::FormatterKey),
                    Sink::Replay(t) => syn::parse_quote_spanned!(t.span()=>
                        <#t as ::steadfast::__private::Replay>::Key),
                };
                (stored, Kept::Effect(sink))
            }
            Type::Reference(r) => {
                if let Some(span) = borrowed(&r.elem) {
                    return Err(Error::new(span, STORED));
                }
                float(&r.elem)?;
                match &*r.elem {
                    Type::Path(p) if p.qself.is_none() && p.path.is_ident("str") => (
                        syn::parse_quote_spanned!(ty.span()=> ::steadfast::__private::Arc<str>),
                        Kept::Shared,
                    ),
                    Type::Slice(s) => {
                        let elem = &s.elem;
                        (
                            syn::parse_quote_spanned!(ty.span()=> ::steadfast::__private::Arc<[#elem]>),
                            Kept::Shared,
                        )
                    }
                    elem => (
                        syn::parse_quote_spanned!(ty.span()=>
                            <#elem as ::steadfast::__private::ToOwned>::Owned),
                        Kept::Owned,
                    ),
                }
            }
            Type::ImplTrait(_) => {
                return Err(Error::new_spanned(
                    ty,
                    "an interface method cannot take `impl Trait`: each call is a value of \
                     one call type",
                ))
            }
            other => {
                if let Some(span) = borrowed(other) {
                    return Err(Error::new(span, STORED));
                }
                float(other)?;
                (other.clone(), Kept::Value)
            }
        };
        Ok(Arg { name, stored, how })
    }
}

const STORED: &str = "a call stores its arguments: take an owned type, or `&T` (stored as \
                      `T::Owned`), with no borrow inside";

/// The error for a float inside a type a call or an answer stores (the commonest type that
/// is not `Eq + Hash`), at the float: one message instead of one per missing trait.
fn float(ty: &Type) -> syn::Result<()> {
    struct Find(Option<syn::Ident>);
    impl<'ast> Visit<'ast> for Find {
        fn visit_path(&mut self, p: &'ast syn::Path) {
            match p.get_ident() {
                Some(i) if i == "f32" || i == "f64" => {
                    self.0.get_or_insert(i.clone());
                }
                _ => syn::visit::visit_path(self, p),
            }
        }
    }
    let mut find = Find(None);
    find.visit_type(ty);
    match find.0 {
        None => Ok(()),
        Some(f) => Err(Error::new_spanned(
            &f,
            format!(
                "`{f}` is not `Eq` or `Hash`, so a call or answer holding it cannot be stored \
                 and compared: store its bits (`{f}::to_bits`) or a wrapper that orders floats"
            ),
        )),
    }
}

/// Whether `ty` names `fmt::Formatter` (by its last segment: a formatter cannot be made by
/// value, so it is replayed through the runtime's own stand-in).
fn is_formatter(ty: &Type) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Formatter"),
        _ => false,
    }
}

/// The span of a borrow or a named lifetime inside `ty`, which a stored value cannot hold.
fn borrowed(ty: &Type) -> Option<Span> {
    struct Find(Option<Span>);
    impl<'ast> Visit<'ast> for Find {
        fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
            match &r.lifetime {
                // `&'static T` is a value like any other.
                Some(l) if l.ident == "static" && r.mutability.is_none() => {
                    syn::visit::visit_type(self, &r.elem)
                }
                _ => {
                    self.0.get_or_insert(r.span());
                }
            }
        }
        fn visit_lifetime(&mut self, l: &'ast syn::Lifetime) {
            if l.ident != "static" {
                self.0.get_or_insert(l.span());
            }
        }
    }
    let mut find = Find(None);
    find.visit_type(ty);
    find.0
}

fn upper_camel(snake: &str) -> String {
    snake
        .trim_start_matches("r#")
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect()
}

fn push(errors: &mut Option<Error>, e: Error) {
    match errors {
        Some(all) => all.combine(e),
        None => *errors = Some(e),
    }
}

impl Interface {
    pub(crate) fn generate(&self) -> TokenStream {
        let rt = quote!(::steadfast::__private);
        let Interface {
            item,
            call,
            answer,
            api,
            double,
            methods,
        } = self;
        let vis: &Visibility = &item.vis;
        let name = &item.ident;
        let doc_call = format!(
            "A call of [`{name}`]: which method, with its arguments (made by \
             `#[steadfast::interface]`)."
        );
        let doc_answer = format!(
            "An answer of [`{name}`]: which method answered, with its result (made by \
             `#[steadfast::interface]`)."
        );
        let doc_api = format!(
            "The methods of [`{name}`], one constant each, for the clauses of a double \
             ([`{double}`]): `{api}::METHOD.each_call().returns(value)` (made by \
             `#[steadfast::interface]`)."
        );
        let doc_double = format!(
            "A test double of [`{name}`]: see [`steadfast::Double`](::steadfast::Double) \
             (made by `#[steadfast::interface]`)."
        );
        let mut call_variants = Vec::new();
        let mut answer_variants = Vec::new();
        let mut arms = Vec::new();
        let mut tracked = Vec::new();
        let mut checks = Vec::new();
        let (mut double_items, mut double_methods) = (Vec::new(), Vec::new());
        let replayed: Vec<&Type> = methods
            .iter()
            .flat_map(|m| &m.args)
            .filter_map(|a| match &a.how {
                Kept::Effect(Sink::Replay(t)) => Some(&**t),
                _ => None,
            })
            .collect();
        let where_replay = if replayed.is_empty() {
            quote!()
        } else {
            // Higher-ranked, so that a type that is not `Replay` is not an error here (a bound
            // naming no generic is checked where it is written) but only at the check
            // below, at the user's type: one error, not one per use of the enums.
            quote!(where #(for<'__r> #replayed: #rt::Replay),*)
        };
        for m in methods {
            let variant = &m.variant;
            let method = &m.sig.ident;
            let doc = format!("[`{name}::{method}`]");
            let fields = m.args.iter().map(|a| {
                let (n, ty) = (&a.name, &a.stored);
                quote!(#[doc = #rt::stringify!(#n)] #n: #ty)
            });
            call_variants.push(quote!(#[doc = #doc] #variant { #(#fields),* }));
            let ty = &m.answer;
            let effects = m.args.iter().filter_map(|a| match &a.how {
                Kept::Effect(sink) => Some(sink.effect()),
                _ => None,
            });
            answer_variants.push(quote!(#[doc = #doc] #variant(#ty #(, #effects)*)));
            checks.push(quote_spanned!(ty.span()=> #rt::assert_answer::<#ty>();));
            for a in &m.args {
                let ty = &a.stored;
                match &a.how {
                    Kept::Effect(Sink::Replay(t)) => {
                        checks.push(quote_spanned!(t.span()=> #rt::assert_replay::<#t>();));
                    }
                    Kept::Effect(Sink::Formatter) => {}
                    _ => checks.push(quote_spanned!(ty.span()=> #rt::assert_argument::<#ty>();)),
                }
            }
            // Bindings of our own, so that a parameter named like a local cannot shadow it.
            let ident =
                |what: &str, i: usize| Ident::new(&format!("__{what}{i}"), Span::mixed_site());
            let bound: Vec<Ident> = (0..m.args.len()).map(|i| ident("arg", i)).collect();
            let names: Vec<&Ident> = m.args.iter().map(|a| &a.name).collect();
            // The effects of the `&mut` parameters, in order.
            let effect: Vec<Ident> = m
                .args
                .iter()
                .enumerate()
                .filter(|(_, a)| matches!(a.how, Kept::Effect(_)))
                .map(|(i, _)| ident("effect", i))
                .collect();
            // Asking an implementation: each `&mut` parameter a stand-in made from the key
            // the call holds, wrapped around the call from the last one out.
            let lent = m
                .args
                .iter()
                .zip(&bound)
                .enumerate()
                .map(|(i, (a, b))| match a.how {
                    Kept::Owned | Kept::Shared => quote!(#rt::Borrow::borrow(#b)),
                    Kept::Value => quote!(#rt::Clone::clone(#b)),
                    Kept::Effect(_) => ident("stand_in", i).into_token_stream(),
                });
            let mut asked = quote!(#name::#method(live, #(#lent),*));
            let mut got = quote!(answer);
            for (i, (a, b)) in m.args.iter().zip(&bound).enumerate().rev() {
                let Kept::Effect(sink) = &a.how else { continue };
                let (s, e) = (ident("stand_in", i), ident("effect", i));
                asked = match sink {
                    Sink::Formatter => quote!(#rt::FormatterKey::stand_in(#b, |#s| #asked)),
                    Sink::Replay(t) => {
                        quote_spanned!(t.span()=> <#t as #rt::Replay>::stand_in(#b, |#s| #asked))
                    }
                };
                got = quote!((#got, #e));
            }
            arms.push(quote! {
                #call::#variant { #(#names: #bound),* } => {
                    let #got = #asked;
                    #answer::#variant(answer #(, #effect)*)
                }
            });
            let sig = m.bound_signature(&bound);
            let stored = m.args.iter().zip(&bound).map(|(a, b)| a.store(b, false));
            let replay = m.replay(&bound);
            let what = format!("{name}::{method}");
            tracked.push(quote! {
                #sig {
                    match self.ask(#call::#variant { #(#names: #stored),* }) {
                        #answer::#variant(answer #(, #effect)*) => {
                            #(#replay)*
                            answer
                        }
                        #[allow(unreachable_patterns)]
                        _ => #rt::mismatched_answer(#what),
                    }
                }
            });
            let (items, implementation) =
                self.double_method(&where_replay, m, &bound, &effect, &what);
            double_items.push(items);
            double_methods.push(implementation);
        }
        // A call passed on by a tracked implementation to the one it wraps (a memo nested in
        // another's function) goes by reference: not rebuilt from the method's arguments
        // at each level.
        let mut item = item.clone();
        item.items.push(syn::parse_quote! {
            #[doc(hidden)]
            /// Not public API: how a tracked implementation is asked a call as it is.
            fn __steadfast_tracked(&self) -> #rt::Option<&dyn #rt::AskRef<dyn #name>> {
                #rt::None
            }
        });
        quote! {
            #item

            #[doc = #doc_call]
            #[derive(#rt::Clone, #rt::PartialEq, #rt::Eq, #rt::Hash, #rt::Debug)]
            #vis enum #call #where_replay { #(#call_variants),* }

            #[doc = #doc_answer]
            #[derive(#rt::Clone, #rt::PartialEq, #rt::Eq, #rt::Hash, #rt::Debug)]
            #vis enum #answer #where_replay { #(#answer_variants),* }

            const _: () = {
                fn checks() { #(#checks)* }
            };

            impl #rt::Interface for dyn #name #where_replay {
                type Call = #call;
                type Answer = #answer;
                type Live<'a> = dyn #name + 'a;
                fn answer(live: &(dyn #name + '_), call: &#call) -> #answer {
                    match call { #(#arms,)* }
                }
                fn tracked<'s>(live: &'s (dyn #name + '_)) -> #rt::Option<&'s dyn #rt::AskRef<Self>> {
                    live.__steadfast_tracked()
                }
            }

            impl #name for #rt::Tracked<'_, dyn #name> #where_replay {
                #(#tracked)*

                fn __steadfast_tracked(&self) -> #rt::Option<&dyn #rt::AskRef<dyn #name>> {
                    #rt::Some(self)
                }
            }

            // A trait whose doubles are not used gets no warnings for them.
            #[doc = #doc_api]
            #[derive(#rt::Clone, #rt::Copy, #rt::Debug)]
            #[allow(dead_code)]
            #vis struct #api;

            #[doc = #doc_double]
            #[allow(dead_code)]
            #vis type #double = ::steadfast::Double<dyn #name>;

            // The method descriptors cannot be named from outside: a clause reaches them
            // through the API constants.
            const _: () = {
                #(#double_items)*

                impl #name for #rt::Double<dyn #name> #where_replay {
                    #(#double_methods)*
                }
            };
        }
    }

    /// A double's side of one method: its descriptor (a type implementing `Method`, named
    /// by an API constant) and its implementation on `Double<dyn Trait>`.
    fn double_method(
        &self,
        where_replay: &TokenStream,
        m: &Method,
        bound: &[Ident],
        effect: &[Ident],
        what: &str,
    ) -> (TokenStream, TokenStream) {
        let rt = quote!(::steadfast::__private);
        let (name, call, answer, api) = (&self.item.ident, &self.call, &self.answer, &self.api);
        let variant = &m.variant;
        let method = &m.sig.ident;
        let marker = format_ident!("__{}{}", name, variant);
        let constant = Ident::new(
            &method.to_string().trim_start_matches("r#").to_uppercase(),
            method.span(),
        );
        let stored: Vec<&Type> = m.args.iter().map(|a| &a.stored).collect();
        let names: Vec<&Ident> = m.args.iter().map(|a| &a.name).collect();
        let params = m.sig.inputs.iter().skip(1).map(|input| match input {
            FnArg::Typed(pat) => &*pat.ty,
            FnArg::Receiver(_) => unreachable!("only the first parameter is a receiver"),
        });
        let output = &m.answer;
        let doc = format!(
            "[`{name}::{method}`], for a double's clauses: `{api}::{constant}.each_call()`."
        );
        let vis = &self.item.vis;
        let items = quote! {
            #[allow(dead_code)]
            #vis struct #marker;

            impl #rt::Method for #marker #where_replay {
                type Interface = dyn #name;
                type Args = (#(#stored,)*);
                type Output = #output;
                type AnswerFn = dyn #rt::Fn(&#rt::Double<dyn #name> #(, #params)*) -> #output
                    + #rt::Send + #rt::Sync;
                const NAME: &'static str = #what;
                fn call((#(#bound,)*): Self::Args) -> #call {
                    #call::#variant { #(#names: #bound),* }
                }
            }

            #[allow(dead_code)]
            impl #api {
                #[doc = #doc]
                #vis const #constant: #rt::Api<#marker> = #rt::Api::new();
            }
        };
        // What the call stores; a by-value argument is copied, for the answer function
        // gets it too.
        let args = m.args.iter().zip(bound).map(|(a, b)| a.store(b, true));
        let replay = m.replay(bound);
        let sig = m.bound_signature(bound);
        let implementation = quote! {
            #sig {
                #[allow(unused_imports)]
                use #rt::{ViaErr as _, ViaPanic as _};
                match self.respond::<#marker>((#(#args,)*)) {
                    #rt::Respond::Value(value) => value,
                    #rt::Respond::Answer(f) => f(self #(, #bound)*),
                    #rt::Respond::Recorded(#answer::#variant(answer #(, #effect)*)) => {
                        #(#replay)*
                        answer
                    }
                    #[allow(unreachable_patterns)]
                    #rt::Respond::Recorded(_) => #rt::mismatched_answer(#what),
                    #rt::Respond::Unmatched(e) => (&&#rt::Unmatched::<#output>::new()).unmatched(e),
                }
            }
        };
        (items, implementation)
    }
}
