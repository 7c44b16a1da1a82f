//! Code generation: wiring only. Every rule lives in the runtime; the output names
//! `::steadfast::__private` and nothing else.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt as _;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, ImplItem, ItemImpl, ItemStruct, ReturnType, Visibility};

use crate::model::{CacheModel, Kind, Methods, Object, Param, Tag};

fn rt() -> TokenStream {
    quote!(::steadfast::__private)
}

/// The struct, its `Object` impl, field descriptors, getters and setters.
pub(crate) fn object(object: &Object) -> TokenStream {
    let rt = rt();
    let item = &object.item;
    let name = &item.ident;
    let vis = &item.vis;
    let names: Vec<String> = object.fields.iter().map(|f| name_of(&f.ident)).collect();
    let idents: Vec<_> = object.fields.iter().map(|f| &f.ident).collect();
    let tys: Vec<_> = object.fields.iter().map(|f| &f.ty).collect();
    let index: Vec<_> = (0..object.fields.len()).map(syn::Index::from).collect();
    let tag_marker = match object.tag {
        Tag::Imm => quote!(#[automatically_derived] impl #rt::ImmType for #name {}),
        Tag::Capsule => quote!(#[automatically_derived] impl #rt::CapsuleType for #name {}),
        Tag::Mutable => quote!(#[automatically_derived] impl #rt::Aliasable for #name {}),
    };
    // Capsule fields and an immutable object's fields must be `Owned`; every other field
    // `Plain`, unless it is `#[untracked]`.
    let field_checks = object.fields.iter().filter(|f| !f.untracked).map(|f| {
        let ty = &f.ty;
        let check = match f.capsule || object.tag == Tag::Imm {
            true => quote!(OwnedField),
            false => quote!(PlainField),
        };
        // The check's own tokens at the field's type, from its first token to its last
        // (the type keeps its spans), so that the error underlines the type.
        let last = ty
            .to_token_stream()
            .into_iter()
            .last()
            .map_or(ty.span(), |t| t.span());
        let head = respan(quote!(const _: #rt::#check<), ty.span());
        let tail = respan(quote!(> = #rt::#check::CHECKED;), last);
        quote!(#head #ty #tail)
    });
    // Each field is saved before its first write, so that a rejected operation can put it
    // back: by `Clone` or `Save`, or, if the type chose removal instead (and for immutable
    // objects, which are never written), not at all. Spanned at the field's type, so that a
    // field that cannot be saved is reported there.
    let untracked: Vec<String> = object
        .fields
        .iter()
        .filter(|f| f.untracked)
        .map(|f| name_of(&f.ident))
        .collect();
    let stable_name = match &object.options.stable_name {
        Some(name) => quote!(#name),
        None => {
            let ident = name_of(name);
            quote!(#rt::concat!(#rt::module_path!(), "::", #ident))
        }
    };
    let fallback = match object.tag == Tag::Imm || object.options.remove_on_failure {
        true => quote!(KeepField),
        false => quote!(UnsavedField),
    };
    // A copy of each field, for a rollback (`save`) and for an overlay (`fork`).
    let saves: Vec<_> = object
        .fields
        .iter()
        .map(|f| {
            let ident = &f.ident;
            quote_spanned!(f.ty.span()=> (&&&#rt::Probe(&self.#ident)).try_save())
        })
        .collect();
    let mut accessors = Vec::new();
    for (i, f) in object.fields.iter().enumerate() {
        let (ident, ty) = (&f.ident, &f.ty);
        let konst = format_ident!("{}", upper(&name_of(ident)), span = ident.span());
        let setter = format_ident!("set_{}", ident, span = ident.span());
        let doc_const =
            format!("The field `{ident}`: its descriptor, for `Heap::set`, `Writer` and `Ctx`.");
        let doc_get = format!("The field `{ident}`.");
        // At the field, so that a clash with a cache of the same name points at both.
        accessors.push(quote_spanned! {ident.span()=>
            #[doc = #doc_const]
            #[allow(dead_code)]
            #vis const #konst: #rt::Field<Self, #ty> = #rt::Field::new(#i, |o| &o.#ident, |o| &mut o.#ident);
            #[doc = #doc_get]
            #[allow(dead_code)]
            #[must_use]
            #vis fn #ident(&self) -> &#ty { &self.#ident }
        });
        let doc_set = format!(
            "Sets the field `{ident}` through the write barrier; if an invariant fails the \
             field keeps its old value and the error names it.\n\n\
             # Errors\n\n\
             [`Error::Invariant`](::steadfast::Error::Invariant) if an invariant fails \
             (inside a transaction: when it ends); the handle's errors (a removed object, \
             another heap's handle)."
        );
        match object.tag {
            Tag::Mutable => accessors.push(quote! {
                #[doc = #doc_set]
                #[allow(dead_code)]
                #[inline]
                #vis fn #setter(heap: &mut impl #rt::HeapMut, this: &#rt::Mutable<Self>, value: #ty)
                    -> #rt::Result<(), #rt::Error> {
                    heap.set(this, &Self::#konst, value)
                }
            }),
            Tag::Capsule if !f.capsule => accessors.push(quote! {
                #[doc = #doc_set]
                #[allow(dead_code)]
                #vis fn #setter(heap: &mut impl #rt::HeapMut, this: &#rt::Capsule<Self>, value: #ty)
                    -> #rt::Result<(), #rt::Error> {
                    heap.write(this, |w| w.set(&Self::#konst, value))
                }
            }),
            // No setter: a call is an error that says how a capsule field changes.
            Tag::Capsule => accessors.push(quote_spanned! {ident.span()=>
                #[doc(hidden)]
                #[allow(dead_code)]
                #vis fn #setter<__V: #rt::NoSetter>(
                    heap: &mut impl #rt::HeapMut,
                    this: &#rt::Capsule<Self>,
                    value: __V,
                ) -> #rt::Result<(), #rt::Error> {
                    let _ = (heap, this, value);
                    #rt::Ok(())
                }
            }),
            _ => {}
        }
    }
    quote! {
        #item

        // Before the impl, so that a field that is not `Owned` is reported before what
        // follows from it.
        #(#field_checks)*

        #[automatically_derived]
        impl #rt::Object for #name {
            const FIELDS: &'static [&'static str] = &[#(#names),*];
            const CACHES: &'static [&'static dyn #rt::AnyCache<Self>] =
                <Self as #rt::Caches>::CACHES;
            type Cells = <Self as #rt::Caches>::Cells;
            type Saved = (#(#rt::Option<#tys>,)*);
            const STABLE_NAME: #rt::Option<&'static str> = #rt::Some(#stable_name);

            #[allow(unused_variables)]
            #[inline]
            fn save(&self, fields: #rt::FieldMask) -> #rt::Option<Self::Saved> {
                #[allow(unused_imports)]
                use #rt::{CloneField as _, SaveField as _, #fallback as _};
                #rt::Some((#(
                    if fields.intersects(#rt::FieldMask::field(#index)) {
                        #rt::Some(#saves?)
                    } else {
                        #rt::None
                    },
                )*))
            }

            #[allow(unused_variables)]
            #[inline]
            fn restore(&mut self, saved: Self::Saved) {
                #(if let #rt::Some(value) = saved.#index { self.#idents = value; })*
            }

            #[allow(unused_variables)]
            fn fork(&self) -> #rt::Option<Self> {
                #[allow(unused_imports)]
                use #rt::{CloneField as _, SaveField as _, KeepField as _};
                #rt::Some(Self { #(#idents: #saves?,)* })
            }

            #[allow(unused_variables)]
            fn handles(&self, visit: &mut dyn ::core::ops::FnMut(#rt::ObjectId)) {
                #[allow(unused_imports)]
                use #rt::{ByEquality as _, ByStructure as _, Opaque as _};
                #((&&&#rt::Part(&self.#idents)).visit_part(visit);)*
            }

            #[allow(unused_variables)]
            fn handle_sets(&self, visit: &mut dyn ::core::ops::FnMut(usize, usize)) {
                #[allow(unused_imports)]
                use #rt::{ByEquality as _, ByStructure as _, Opaque as _};
                let mut at = 0usize;
                #((&&&#rt::Part(&self.#idents)).sets_part(&mut at, visit);)*
            }

            #[allow(unused_variables)]
            fn hash_shape(&self, state: &mut dyn #rt::Hasher) -> bool {
                #[allow(unused_imports)]
                use #rt::{ByEquality as _, ByStructure as _, Opaque as _};
                true #(&& (&&&#rt::Part(&self.#idents)).hash_part(state))*
            }

            #[allow(unused_variables)]
            fn same_shape(&self, other: &Self) -> bool {
                #[allow(unused_imports)]
                use #rt::{ByEquality as _, ByStructure as _, Opaque as _};
                true #(&& (&&&#rt::Part(&self.#idents)).same_part(&other.#idents))*
            }
        }

        #tag_marker

        impl #name {
            #(#accessors)*

            /// The fields marked `#[untracked]`, which no cache may name as a parameter.
            #[doc(hidden)]
            #[allow(dead_code)]
            pub(crate) const __STEADFAST_UNTRACKED: &'static [&'static str] = &[#(#untracked),*];
        }
    }
}

/// On an error: the struct, without the attributes this crate reads, and (unless it is
/// generic) an `Object` impl that names no field, so that its `#[cached]` block does not
/// add errors of its own.
pub(crate) fn object_stub(item: TokenStream) -> TokenStream {
    let rt = rt();
    let Ok(mut item) = syn::parse2::<ItemStruct>(item) else {
        return TokenStream::new();
    };
    for field in item.fields.iter_mut() {
        field
            .attrs
            .retain(|a| !a.path().is_ident("capsule") && !a.path().is_ident("untracked"));
    }
    // A generic struct is the error itself: an impl would only add more.
    if !item.generics.params.is_empty() {
        return item.into_token_stream();
    }
    let name = &item.ident;
    quote! {
        #item

        #[automatically_derived]
        impl #rt::Object for #name {
            const FIELDS: &'static [&'static str] = &[];
            const CACHES: &'static [&'static dyn #rt::AnyCache<Self>] =
                <Self as #rt::Caches>::CACHES;
            type Cells = <Self as #rt::Caches>::Cells;
            type Saved = ();

            fn save(&self, _: #rt::FieldMask) -> #rt::Option<()> {
                #rt::None
            }

            fn restore(&mut self, _: ()) {}
        }

        impl #name {
            #[doc(hidden)]
            #[allow(dead_code)]
            pub(crate) const __STEADFAST_UNTRACKED: &'static [&'static str] = &[];
        }
    }
}

/// The impl block with each cached method rewired, and the type's cache list.
pub(crate) fn methods(methods: &Methods) -> TokenStream {
    let rt = rt();
    let self_ty = &methods.self_ty;
    let mut members = Vec::new();
    let mut cells = Vec::new();
    let mut values = Vec::new();
    let mut checks = Vec::new();
    let mut index = 0usize;
    for cache in &methods.caches {
        let kind_span = cache.kind_span;
        match cache.kind {
            Kind::Lazy | Kind::Eager => {
                let ty = respan(self_ty.to_token_stream(), kind_span);
                checks.push(quote_spanned!(kind_span=> const _: () = #rt::assert_imm::<#ty>();));
            }
            Kind::Clear => {
                let ty = respan(self_ty.to_token_stream(), kind_span);
                checks
                    .push(quote_spanned!(kind_span=> const _: () = #rt::assert_capsule::<#ty>();));
            }
            Kind::LazyRead | Kind::Now => {}
        }
        members.push(hidden(cache));
        if cache.kind != Kind::Clear {
            // A cache cannot see an untracked field change: naming one is refused, here.
            for param in &cache.params {
                if let Param::Field { ident, .. } = param {
                    let field = name_of(ident);
                    checks.push(quote_spanned! {ident.span()=>
                        const _: () = #rt::assert_tracked::<
                            { #rt::names(<#self_ty>::__STEADFAST_UNTRACKED, #field) },
                        >();
                    });
                }
            }
        }
        if cache.kind == Kind::Clear {
            members.push(clear(cache));
        } else {
            let name = &cache.func.sig.ident;
            let konst = format_ident!("{}", upper(&name_of(name)), span = name.span());
            members.push(cell(cache, index, &konst));
            cells.push(quote!(&<#self_ty>::#konst));
            values.push(match &cache.func.sig.output {
                ReturnType::Type(_, ty) => (**ty).clone(),
                ReturnType::Default => unreachable!("checked by the model"),
            });
            index += 1;
        }
    }
    let ItemImpl {
        attrs,
        impl_token,
        self_ty: _,
        items,
        ..
    } = &methods.item;
    quote! {
        #(#attrs)*
        #impl_token #self_ty {
            #(#items)*
            #(#members)*
        }

        #[automatically_derived]
        impl #rt::Caches for #self_ty {
            type Cells = (#(#rt::CacheCell<#values>,)*);
            const CACHES: &'static [&'static dyn #rt::AnyCache<Self>] = &[#(#cells),*];
        }

        #(#checks)*
    }
}

/// On an error: the impl block with the `#[cache]` attributes removed, and an empty cache
/// list, so that the type still has its methods and its `Object` impl.
pub(crate) fn methods_stub(item: TokenStream) -> TokenStream {
    let rt = rt();
    let Ok(mut item) = syn::parse2::<ItemImpl>(item) else {
        return TokenStream::new();
    };
    for member in item.items.iter_mut() {
        if let ImplItem::Fn(f) = member {
            f.attrs.retain(|a| !a.path().is_ident("cache"));
        }
    }
    let self_ty = &item.self_ty;
    quote! {
        #item
        #[automatically_derived]
        impl #rt::Caches for #self_ty {
            type Cells = ();
            const CACHES: &'static [&'static dyn #rt::AnyCache<Self>] = &[];
        }
    }
}

/// The user's function under a hidden name, with its doc comments moved to what the user
/// calls.
fn hidden(cache: &CacheModel) -> TokenStream {
    let mut func = cache.func.clone();
    func.attrs.retain(|a| !a.path().is_ident("doc"));
    func.vis = Visibility::Inherited;
    func.sig.ident = hidden_name(cache);
    quote! {
        #[doc(hidden)]
        #[allow(clippy::ptr_arg, clippy::trivially_copy_pass_by_ref)]
        #func
    }
}

fn hidden_name(cache: &CacheModel) -> syn::Ident {
    format_ident!("__steadfast_{}", cache.func.sig.ident)
}

fn docs(cache: &CacheModel) -> Vec<&Attribute> {
    cache
        .func
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .collect()
}

/// Statements binding each field parameter to its field of `obj` (`&mut` for the fields a
/// `clear` mutates), the mask of the named fields, and the arguments of the user's function.
///
/// Field accesses rather than a destructuring pattern: for a parameter that names no field,
/// rustc then suggests the closest field name.
fn field_args(
    cache: &CacheModel,
    obj: &syn::Ident,
    ctx: &syn::Ident,
    which: impl Fn(bool) -> bool,
) -> (Vec<TokenStream>, TokenStream, Vec<TokenStream>) {
    let rt = rt();
    let mut lets = Vec::new();
    let mut names = Vec::new();
    let mut args = Vec::new();
    let mut extra = 0usize;
    for param in &cache.params {
        match param {
            Param::Field { ident, ty, mutable } => {
                if which(*mutable) {
                    names.push(name_of(ident));
                }
                let borrow = if *mutable { quote!(&mut) } else { quote!(&) };
                lets.push(quote!(let #ident = #borrow #obj.#ident;));
                // Spanned at the user's type, so a mismatch points there.
                args.push(quote_spanned!(ty.span()=> #ident));
            }
            Param::Ctx => args.push(quote!(#ctx)),
            Param::Extra { .. } => {
                let arg = format_ident!("__arg{}", extra);
                extra += 1;
                args.push(quote!(#arg));
            }
        }
    }
    let mask = quote! {
        const { #rt::mask_of(<Self as #rt::Object>::FIELDS, &[#(#names),*]) }
    };
    (lets, mask, args)
}

/// A cell-backed kind: its descriptor and its getter.
fn cell(cache: &CacheModel, index: usize, konst: &syn::Ident) -> TokenStream {
    let rt = rt();
    let sig = &cache.func.sig;
    let vis = &cache.func.vis;
    let name = &sig.ident;
    let name_str = name_of(name);
    let hidden = hidden_name(cache);
    let value = match &sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default => unreachable!("checked by the model"),
    };
    let ctx = format_ident!("__ctx");
    let obj = format_ident!("__obj");
    let tracked = cache.params.iter().any(|p| matches!(p, Param::Ctx));
    // Without a `ctx` parameter a method reads only its own fields, known statically: it
    // is declared `on_fields`, and the runtime recomputes it untracked.
    let (lets, mask, args) = field_args(cache, &obj, &ctx, |_| true);
    let call = match cache.kind {
        Kind::Lazy | Kind::Eager => quote!(#obj.#hidden()),
        _ => quote!({ #(#lets)* Self::#hidden(#(#args),*) }),
    };
    let mask = match cache.kind {
        Kind::Lazy | Kind::Eager => quote!(#rt::FieldMask::ALL),
        _ => mask,
    };
    let kind = match cache.kind {
        Kind::Lazy => quote!(Lazy),
        Kind::Eager => quote!(Eager),
        Kind::LazyRead => quote!(LazyRead),
        Kind::Now => quote!(Now),
        Kind::Clear => unreachable!("not a cell"),
    };
    let compute = format_ident!("__compute");
    let (ctor, closure, args) = match (tracked, cache.invariant) {
        (true, true) => (
            quote!(invariant),
            quote!(|#ctx: &#rt::Ctx<'_, Self>| { let #obj = #ctx.__fields(#mask); #call }),
            quote!(#compute),
        ),
        (true, false) => (
            quote!(tracked),
            quote!(|#ctx: &#rt::Ctx<'_, Self>| { let #obj = #ctx.__fields(#mask); #call }),
            quote!(#rt::Kind::#kind, #compute),
        ),
        (false, true) => (
            quote!(invariant_on_fields),
            quote!(|#obj: &Self| #call),
            quote!(#mask, #compute),
        ),
        (false, false) => (
            quote!(on_fields),
            quote!(|#obj: &Self| #call),
            quote!(#rt::Kind::#kind, #mask, #compute),
        ),
    };
    // A `now` value must be comparable (early cutoff): a missing `PartialEq` is reported at
    // the return type; anything else about the kind, at the kind. The whole constructor call
    // carries that span (rustc reports an unmet bound at the call); the user's code, in the
    // closure, keeps its own spans.
    let span = match (cache.kind, cache.invariant) {
        (Kind::Now, false) => value.span(),
        _ => cache.kind_span,
    };
    let construct = respan(quote!(#rt::Cache::#ctor::<#index>(#name_str, #args)), span);
    let doc_const =
        format!("The cache `{name}`: its descriptor, for `Heap::cached` and `Ctx::cached`.");
    let docs = docs(cache);
    let cached_doc = match cache.invariant {
        // Nothing broken is observable: an operation that breaks an invariant is rolled
        // back, so a reader finds it holding.
        true => quote! {
            /// An invariant: the value is `Ok(())` on every object a reader can reach, since an
            /// operation that breaks it is rolled back. Checked once at the end of each
            /// operation that writes what it reads.
            ///
            /// # Errors
            ///
            /// The handle's errors (a removed object, another heap's handle), and those of
            /// the computation if it ran now (a cycle).
        },
        false => quote! {
            /// Cached: a hit is a lookup; the value is recomputed only after a write to what
            /// it read.
            ///
            /// # Errors
            ///
            /// The handle's errors (a removed object, another heap's handle), and those of
            /// the computation if it ran now (a cycle, a panic on a worker for an `eager`
            /// cache).
        },
    };
    let gap = (!docs.is_empty()).then(|| quote!(#[doc = ""]));
    // At the method's name: lints read only the docs the item's own span covers.
    let cached_doc = respan(cached_doc, name.span());
    // At the method's name, so that a clash with a field of the same name points at both.
    let getter = quote_spanned! {name.span()=>
        #(#docs)*
        #gap
        #cached_doc
        #[allow(dead_code)]
        #[inline]
        #vis fn #name<'heap>(
            heap: &'heap #rt::Heap,
            this: &'heap impl #rt::Handle<Self>,
        ) -> #rt::Result<&'heap #value, #rt::Error> {
            heap.cached(this, &Self::#konst)
        }
    };
    quote_spanned! {name.span()=>
        #[doc = #doc_const]
        #[allow(dead_code)]
        #vis const #konst: #rt::Cache<Self, #value> = {
            let #compute = #closure;
            #construct
        };
        #getter
    }
}

/// A `clear` mutator: runs the user's function on the fields it names, through the barrier.
fn clear(cache: &CacheModel) -> TokenStream {
    let rt = rt();
    let sig = &cache.func.sig;
    let vis = &cache.func.vis;
    let name = &sig.ident;
    let hidden = hidden_name(cache);
    let out = match &sig.output {
        ReturnType::Type(_, ty) => quote!(#ty),
        ReturnType::Default => quote!(()),
    };
    let extras: Vec<TokenStream> = cache
        .params
        .iter()
        .filter_map(|p| match p {
            Param::Extra { ty, .. } => Some(ty),
            _ => None,
        })
        .enumerate()
        .map(|(i, ty)| {
            let arg = format_ident!("__arg{}", i);
            quote!(#arg: #ty)
        })
        .collect();
    let obj = format_ident!("__obj");
    let (lets, mask, args) = field_args(cache, &obj, &obj, |mutable| mutable);
    let docs = docs(cache);
    quote! {
        #(#docs)*
        ///
        /// A capsule mutator: the barrier runs once at its end; if an invariant fails or it
        /// panics, every field it wrote is put back.
        ///
        /// # Errors
        ///
        /// [`Error::Invariant`](::steadfast::Error::Invariant) if an invariant fails (inside
        /// a transaction: when it ends); the handle's errors (a removed object, another heap's
        /// handle).
        #[allow(dead_code)]
        #vis fn #name(
            heap: &mut impl #rt::HeapMut,
            this: &#rt::Capsule<Self>,
            #(#extras),*
        ) -> #rt::Result<#out, #rt::Error> {
            heap.write(this, move |__writer| {
                let #obj = __writer.__fields_mut(#mask);
                #(#lets)*
                Self::#hidden(#(#args),*)
            })
        }
    }
}

/// A marker trait the derive implements after checking every field.
#[derive(Clone, Copy)]
pub(crate) enum Marker {
    /// `Owned`, and `Plain`, which it implies.
    Owned,
    Plain,
}

/// `#[derive(Owned)]` and `#[derive(Plain)]`: the impls, and a check that every field has the
/// trait, spanned at it.
pub(crate) fn marker(input: &DeriveInput, marker: Marker) -> TokenStream {
    let rt = rt();
    let name = &input.ident;
    let (trait_name, assert) = match marker {
        Marker::Owned => ("Owned", quote!(assert_owned)),
        Marker::Plain => ("Plain", quote!(assert_plain)),
    };
    let tys: Vec<&syn::Type> = match &input.data {
        Data::Struct(s) => s.fields.iter().map(|f| &f.ty).collect(),
        Data::Enum(e) => e
            .variants
            .iter()
            .flat_map(|v| v.fields.iter().map(|f| &f.ty))
            .collect(),
        Data::Union(u) => {
            return syn::Error::new_spanned(
                u.union_token,
                format!("a union cannot be `{trait_name}`: its fields are not tracked"),
            )
            .to_compile_error()
        }
    };
    let bound = format_ident!("{}", trait_name);
    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!(#rt::#bound));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let checks = tys
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> #rt::#assert::<#ty>();));
    let plain = match marker {
        Marker::Owned => quote! {
            #[automatically_derived]
            impl #impl_generics #rt::Plain for #name #ty_generics #where_clause {}
        },
        Marker::Plain => TokenStream::new(),
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics #rt::#bound for #name #ty_generics #where_clause {}
        #plain
        const _: () = {
            #[allow(dead_code, clippy::extra_unused_type_parameters)]
            fn __check #impl_generics () #where_clause { #(#checks)* }
        };
    }
}

/// The tokens with every span set to `span`, so that an error about them points there.
fn respan(tokens: TokenStream, span: proc_macro2::Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = proc_macro2::TokenTree::Group(group);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

fn upper(name: &str) -> String {
    name.to_uppercase()
}

/// An identifier's name as the user means it: `r#type` is `type`.
fn name_of(ident: &syn::Ident) -> String {
    ident.unraw().to_string()
}

/// `impl Structural`, field by field (variant by variant for an enum); every field must be
/// `Structural`.
pub(crate) fn structural(input: &DeriveInput) -> TokenStream {
    let rt = rt();
    let name = &input.ident;
    // One arm per variant: its path and fields (a struct is one variant, `Self`).
    let variants: Vec<(TokenStream, &syn::Fields)> = match &input.data {
        Data::Struct(s) => vec![(quote!(Self), &s.fields)],
        Data::Enum(e) => e
            .variants
            .iter()
            .map(|v| {
                let ident = &v.ident;
                (quote!(Self::#ident), &v.fields)
            })
            .collect(),
        Data::Union(u) => {
            return syn::Error::new_spanned(
                u.union_token,
                "a union cannot be `Structural`: which field is live is not known",
            )
            .to_compile_error()
        }
    };
    let mut same = Vec::new();
    let mut hash = Vec::new();
    let mut visit = Vec::new();
    let mut sets = Vec::new();
    let mut checks = Vec::new();
    for (i, (path, fields)) in variants.iter().enumerate() {
        let members = members(fields);
        let ours: Vec<_> = (0..members.len())
            .map(|j| format_ident!("__a{}", j))
            .collect();
        let theirs: Vec<_> = (0..members.len())
            .map(|j| format_ident!("__b{}", j))
            .collect();
        let i = i as u32;
        same.push(quote! {
            (#path { #(#members: #ours),* }, #path { #(#members: #theirs),* }) =>
                true #(&& (&&&#rt::Part(#ours)).same_part(#theirs))*,
        });
        hash.push(quote! {
            #path { #(#members: #ours),* } => {
                state.write_u32(#i);
                #((&&&#rt::Part(#ours)).hash_part(state);)*
            }
        });
        visit.push(quote! {
            #path { #(#members: #ours),* } => { #((&&&#rt::Part(#ours)).visit_part(visit);)* }
        });
        sets.push(quote! {
            #path { #(#members: #ours),* } => {
                #((&&&#rt::Part(#ours)).sets_part(at, visit);)*
            }
        });
        checks.extend(
            fields
                .iter()
                .map(|f| &f.ty)
                .map(|ty| quote_spanned!(ty.span()=> #rt::assert_structural::<#ty>();)),
        );
    }
    let fallback = (variants.len() > 1).then(|| quote!(_ => false,));
    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!(#rt::Structural));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    // The methods reach each field through the probes, which compile whatever its type,
    // so that a field that is not `Structural` is one error, at the field (`__check`).
    quote! {
        #[automatically_derived]
        impl #impl_generics #rt::Structural for #name #ty_generics #where_clause {
            #[allow(unused_variables)]
            fn same_shape(&self, other: &Self) -> bool {
                #[allow(unused_imports)]
                use #rt::{ByEquality as _, ByStructure as _, Opaque as _};
                match (self, other) {
                    #(#same)*
                    #fallback
                }
            }
            #[allow(unused_variables)]
            fn hash_shape(&self, state: &mut dyn #rt::Hasher) {
                #[allow(unused_imports)]
                use #rt::{ByEquality as _, ByStructure as _, Opaque as _};
                match self { #(#hash)* }
            }
            #[allow(unused_variables)]
            fn visit_handles(&self, visit: &mut dyn ::core::ops::FnMut(#rt::ObjectId)) {
                #[allow(unused_imports)]
                use #rt::{ByEquality as _, ByStructure as _, Opaque as _};
                match self { #(#visit)* }
            }
            #[allow(unused_variables)]
            fn visit_sets(
                &self,
                at: &mut usize,
                visit: &mut dyn ::core::ops::FnMut(usize, usize),
            ) {
                #[allow(unused_imports)]
                use #rt::{ByEquality as _, ByStructure as _, Opaque as _};
                match self { #(#sets)* }
            }
        }
        const _: () = {
            #[allow(dead_code, clippy::extra_unused_type_parameters)]
            fn __check #impl_generics () #where_clause { #(#checks)* }
        };
    }
}

/// How each field is named in a pattern: `name` or its index.
pub(crate) fn members(fields: &syn::Fields) -> Vec<syn::Member> {
    fields
        .iter()
        .enumerate()
        .map(|(j, f)| match &f.ident {
            Some(ident) => syn::Member::Named(ident.clone()),
            None => syn::Member::Unnamed(syn::Index::from(j)),
        })
        .collect()
}
