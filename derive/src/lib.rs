//! Derive macros for [steadfast](https://docs.rs/steadfast). Use them through the
//! `steadfast` crate, which re-exports them and documents each one with examples.
//!
//! Each entry point parses into a typed model (`model`), which validates with spanned
//! errors, and then generates code (`generate`) that names only
//! `::steadfast::__private`. On an error, a minimal stub is emitted next to the error, so the
//! user sees one message rather than a cascade.

#![forbid(unsafe_code)]

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;

mod freeze;
mod generate;
mod interface;
mod model;

use model::Tag;

/// Declares a capsule type: encapsulated mutable state, changed only through `clear`
/// mutators, setters of its non-capsule fields, or `Heap::open_box`. See `steadfast::capsule`.
#[proc_macro_attribute]
pub fn capsule(args: TokenStream, item: TokenStream) -> TokenStream {
    object(Tag::Capsule, args, item)
}

/// Declares an immutable type. See `steadfast::imm`.
#[proc_macro_attribute]
pub fn imm(args: TokenStream, item: TokenStream) -> TokenStream {
    object(Tag::Imm, args, item)
}

/// Declares a plain mutable type. See `steadfast::mutable`.
#[proc_macro_attribute]
pub fn mutable(args: TokenStream, item: TokenStream) -> TokenStream {
    object(Tag::Mutable, args, item)
}

/// Declares the cached methods of a type. See `steadfast::cached`.
#[proc_macro_attribute]
pub fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    let item2: TokenStream2 = item.clone().into();
    let parsed = no_args(args)
        .and_then(|()| syn::parse::<syn::ItemImpl>(item))
        .and_then(model::Methods::parse);
    match parsed {
        Ok(methods) => generate::methods(&methods).into(),
        Err(e) => with_stub(e, generate::methods_stub(item2)),
    }
}

/// Makes a trait an interface a `steadfast::Memo` can record and replay. See
/// `steadfast::interface`.
#[proc_macro_attribute]
pub fn interface(args: TokenStream, item: TokenStream) -> TokenStream {
    let item2: TokenStream2 = item.clone().into();
    let parsed = interface::Names::parse(args.into()).and_then(|names| {
        syn::parse::<syn::ItemTrait>(item).and_then(|t| interface::Interface::parse(names, t))
    });
    match parsed {
        Ok(interface) => interface.generate().into(),
        // The trait as written: its uses still compile, so this error is the only one.
        Err(e) => with_stub(e, item2),
    }
}

/// Implements `steadfast::Owned` (and `steadfast::Plain`, which it implies) after checking
/// that every field is `Owned`. See `steadfast::Owned`.
#[proc_macro_derive(Owned)]
pub fn derive_owned(item: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(item) {
        Ok(input) => generate::marker(&input, generate::Marker::Owned).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Implements `steadfast::Plain` after checking that every field is `Plain`. See
/// `steadfast::Plain`.
#[proc_macro_derive(Plain)]
pub fn derive_plain(item: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(item) {
        Ok(input) => generate::marker(&input, generate::Marker::Plain).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Implements `steadfast::Structural` field by field. See `steadfast::Structural`.
#[proc_macro_derive(Structural)]
pub fn derive_structural(item: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(item) {
        Ok(input) => generate::structural(&input).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Implements `steadfast::norm::Freeze`: a struct as a node of its fields in order, an
/// enum's variant as a node of its fields. See `steadfast::norm::Freeze`.
#[proc_macro_derive(Freeze)]
pub fn derive_freeze(item: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(item).and_then(|input| freeze::derive(&input)) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn object(tag: Tag, args: TokenStream, item: TokenStream) -> TokenStream {
    let item2: TokenStream2 = item.clone().into();
    let options = model::Options::parse(tag, args.into());
    // A bad argument still gets the whole object (asking the least of its fields), so
    // that the argument's error is the only one.
    let lenient = options.clone().unwrap_or(model::Options {
        remove_on_failure: true,
        stable_name: None,
    });
    let parsed =
        syn::parse::<syn::ItemStruct>(item).and_then(|s| model::Object::parse(tag, lenient, s));
    match (options, parsed) {
        (Ok(_), Ok(object)) => generate::object(&object).into(),
        (Err(e), Ok(object)) => with_stub(e, generate::object(&object)),
        (_, Err(e)) => with_stub(e, generate::object_stub(item2)),
    }
}

fn no_args(args: TokenStream) -> syn::Result<()> {
    let args = TokenStream2::from(args);
    match args.is_empty() {
        true => Ok(()),
        false => Err(syn::Error::new_spanned(
            args,
            "this attribute takes no arguments",
        )),
    }
}

fn with_stub(error: syn::Error, stub: TokenStream2) -> TokenStream {
    let error = error.to_compile_error();
    quote::quote!(#error #stub).into()
}
