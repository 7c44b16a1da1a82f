//! The typed model of what the user wrote, validated. It keeps the original syn nodes so
//! that generated code and errors point at the user's tokens.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Error, FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, ItemStruct, Pat, ReturnType, Type};

/// The tag a struct attribute declares.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    Imm,
    Capsule,
    Mutable,
}

impl Tag {
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Tag::Imm => "imm",
            Tag::Capsule => "capsule",
            Tag::Mutable => "mutable",
        }
    }
}

/// What a struct attribute's arguments ask for.
#[derive(Clone, Default)]
pub(crate) struct Options {
    /// `remove_on_failure`: a field need not be saveable; a rejected operation that wrote
    /// one that is not removes the object (and hands its value back) instead of putting
    /// its fields back.
    pub(crate) remove_on_failure: bool,
    /// `stable_name = "..."`: the type's identity in `Heap::stable_hash`.
    pub(crate) stable_name: Option<syn::LitStr>,
}

const ARGUMENTS: &str = "`remove_on_failure` or `stable_name = \"...\"`";

impl Options {
    pub(crate) fn parse(tag: Tag, args: proc_macro2::TokenStream) -> syn::Result<Self> {
        let mut options = Options::default();
        let metas = syn::parse::Parser::parse2(
            syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
            args.clone(),
        )
        .map_err(|_| Error::new_spanned(&args, format!("expected {ARGUMENTS}")))?;
        for meta in metas {
            match &meta {
                syn::Meta::Path(p) if p.is_ident("remove_on_failure") => {
                    if tag == Tag::Imm {
                        return Err(Error::new_spanned(
                            p,
                            "an immutable object is never written, so nothing is put back: \
                             `remove_on_failure` does not apply",
                        ));
                    }
                    options.remove_on_failure = true;
                }
                syn::Meta::NameValue(nv) if nv.path.is_ident("stable_name") => match &nv.value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(name),
                        ..
                    }) if !name.value().is_empty() => options.stable_name = Some(name.clone()),
                    other => {
                        return Err(Error::new_spanned(
                            other,
                            "`stable_name` takes a non-empty string literal: \
                                 `stable_name = \"crate::Type\"`",
                        ))
                    }
                },
                _ => {
                    let path = meta.path();
                    let name = path
                        .get_ident()
                        .map_or_else(|| quote::quote!(#path).to_string(), ToString::to_string);
                    return Err(Error::new_spanned(
                        &meta,
                        format!("unknown argument `{name}`: expected {ARGUMENTS}"),
                    ));
                }
            }
        }
        Ok(options)
    }
}

pub(crate) struct Object {
    pub(crate) tag: Tag,
    pub(crate) options: Options,
    /// The struct with the field attributes this crate reads removed.
    pub(crate) item: ItemStruct,
    pub(crate) fields: Vec<FieldModel>,
}

pub(crate) struct FieldModel {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    /// Marked `#[capsule]`: encapsulated state, no setter, must be `Owned`.
    pub(crate) capsule: bool,
    /// Marked `#[untracked]`: need not be `Plain`; no cache may read it.
    pub(crate) untracked: bool,
}

impl Object {
    pub(crate) fn parse(tag: Tag, options: Options, mut item: ItemStruct) -> syn::Result<Self> {
        if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
            return Err(Error::new_spanned(
                &item.generics,
                "steadfast objects cannot be generic yet: declare a concrete struct",
            ));
        }
        let syn::Fields::Named(named) = &mut item.fields else {
            return Err(Error::new_spanned(
                &item.fields,
                "a steadfast object needs named fields: the cached methods name the fields they read",
            ));
        };
        if named.named.len() > 64 {
            return Err(Error::new_spanned(
                &item.ident,
                "a steadfast object has at most 64 fields",
            ));
        }
        let mut fields = Vec::new();
        let mut errors: Option<Error> = None;
        for field in named.named.iter_mut() {
            let mut capsule = false;
            let mut untracked: Option<syn::Attribute> = None;
            let mut kept = Vec::new();
            for attr in field.attrs.drain(..) {
                if attr.path().is_ident("untracked") {
                    if let Err(e) = attr.meta.require_path_only() {
                        push(&mut errors, e);
                    }
                    if tag == Tag::Imm {
                        push(
                            &mut errors,
                            Error::new_spanned(
                                &attr,
                                "an immutable object's fields never change: every one must be \
                                 `Owned`, and none is `#[untracked]`",
                            ),
                        );
                    }
                    untracked = Some(attr);
                } else if attr.path().is_ident("capsule") {
                    if let Err(e) = attr.meta.require_path_only() {
                        push(&mut errors, e);
                    }
                    if tag != Tag::Capsule {
                        push(
                            &mut errors,
                            Error::new_spanned(
                                &attr,
                                format!(
                                    "capsule fields belong in a `#[capsule]` struct; this one is `#[{}]`",
                                    tag.attr()
                                ),
                            ),
                        );
                    }
                    capsule = true;
                } else {
                    kept.push(attr);
                }
            }
            if let (true, Some(attr)) = (capsule, &untracked) {
                push(
                    &mut errors,
                    Error::new_spanned(
                        attr,
                        "a capsule field is the object's encapsulated state: it must be \
                         `Owned`, and cannot be `#[untracked]`",
                    ),
                );
            }
            field.attrs = kept;
            fields.push(FieldModel {
                ident: field.ident.clone().expect("named field"),
                ty: field.ty.clone(),
                capsule,
                untracked: untracked.is_some(),
            });
        }
        match errors {
            Some(e) => Err(e),
            None => Ok(Object {
                tag,
                options,
                item,
                fields,
            }),
        }
    }
}

/// A `#[cached]` impl block.
pub(crate) struct Methods {
    /// The impl block without the methods this crate rewrites.
    pub(crate) item: ItemImpl,
    pub(crate) self_ty: Type,
    pub(crate) caches: Vec<CacheModel>,
}

/// The cache kinds of DESIGN §3.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Lazy,
    LazyRead,
    Now,
    Eager,
    Clear,
}

const KINDS: &str = "`lazy`, `lazy_read`, `now`, `eager` or `clear`";

/// One method carrying `#[cache(...)]`.
pub(crate) struct CacheModel {
    pub(crate) kind: Kind,
    /// The kind's token, where errors about the kind point.
    pub(crate) kind_span: Span,
    /// The user's function, without the `#[cache]` attribute.
    pub(crate) func: ImplItemFn,
    pub(crate) params: Vec<Param>,
    /// `now` returning `Result<(), E>`: an invariant.
    pub(crate) invariant: bool,
}

/// A parameter of a cached function.
pub(crate) enum Param {
    /// Named after a field: `name: &T`, or `name: &mut T` for a `clear`.
    Field {
        ident: Ident,
        ty: Type,
        mutable: bool,
    },
    /// `ctx: &Ctx<Self>`: tracked reads of other heap objects.
    Ctx,
    /// An extra argument of a `clear`.
    Extra { ty: Type },
}

impl Methods {
    pub(crate) fn parse(mut item: ItemImpl) -> syn::Result<Self> {
        if let Some((_, path, _)) = &item.trait_ {
            return Err(Error::new_spanned(
                path,
                "`#[cached]` goes on an inherent impl block, not a trait impl",
            ));
        }
        if !item.generics.params.is_empty() {
            return Err(Error::new_spanned(
                &item.generics,
                "steadfast objects cannot be generic yet",
            ));
        }
        let self_ty = (*item.self_ty).clone();
        let mut caches = Vec::new();
        let mut errors: Option<Error> = None;
        let mut kept = Vec::new();
        for member in item.items.drain(..) {
            match member {
                ImplItem::Fn(mut func) => match take_kind(&mut func) {
                    Ok(None) => kept.push(ImplItem::Fn(func)),
                    Ok(Some((kind, kind_span))) => match CacheModel::parse(kind, kind_span, func) {
                        Ok(cache) => caches.push(cache),
                        Err(e) => push(&mut errors, e),
                    },
                    Err(e) => push(&mut errors, e),
                },
                other => kept.push(other),
            }
        }
        item.items = kept;
        // The runtime stores the cells as a tuple, which it supports up to this size.
        if let Some(extra) = caches
            .iter()
            .filter(|c: &&CacheModel| c.kind != Kind::Clear)
            .nth(MAX_CELLS)
        {
            push(
                &mut errors,
                Error::new(
                    extra.kind_span,
                    format!(
                        "a type has at most {MAX_CELLS} cached methods (`clear` mutators not counted)"
                    ),
                ),
            );
        }
        match errors {
            Some(e) => Err(e),
            None => Ok(Methods {
                item,
                self_ty,
                caches,
            }),
        }
    }
}

/// The most cached methods of one type (the runtime's `CellAt` tuples).
const MAX_CELLS: usize = 16;

/// Removes the `#[cache(kind)]` attribute of a method and returns its kind.
fn take_kind(func: &mut ImplItemFn) -> syn::Result<Option<(Kind, Span)>> {
    let Some(at) = func.attrs.iter().position(|a| a.path().is_ident("cache")) else {
        return Ok(None);
    };
    let attr = func.attrs.remove(at);
    if let Some(again) = func.attrs.iter().find(|a| a.path().is_ident("cache")) {
        return Err(Error::new_spanned(
            again,
            "a method has one `#[cache(...)]` kind",
        ));
    }
    let ident: Ident = attr.parse_args().map_err(|_| {
        Error::new_spanned(
            &attr,
            format!("expected `#[cache(kind)]` with kind {KINDS}"),
        )
    })?;
    let kind = match ident.to_string().as_str() {
        "lazy" => Kind::Lazy,
        "lazy_read" => Kind::LazyRead,
        "now" => Kind::Now,
        "eager" => Kind::Eager,
        "clear" => Kind::Clear,
        other => {
            return Err(Error::new_spanned(
                &ident,
                format!("unknown cache kind `{other}`; expected {KINDS}"),
            ))
        }
    };
    Ok(Some((kind, ident.span())))
}

impl CacheModel {
    fn parse(kind: Kind, kind_span: Span, func: ImplItemFn) -> syn::Result<Self> {
        let sig = &func.sig;
        if !sig.generics.params.is_empty() {
            return Err(Error::new_spanned(
                &sig.generics,
                "a cached method cannot be generic: its value is stored in one cell",
            ));
        }
        if let Some(tok) = sig.asyncness {
            return Err(Error::new_spanned(tok, "a cached method cannot be `async`"));
        }
        let receiver = sig.receiver();
        let mut params = Vec::new();
        match kind {
            Kind::Lazy | Kind::Eager => {
                let ok = receiver.is_some_and(|r| r.reference.is_some() && r.mutability.is_none());
                if !ok || sig.inputs.len() != 1 {
                    return Err(Error::new_spanned(
                        &sig.inputs,
                        "a `lazy` or `eager` cache is a method taking only `&self`",
                    ));
                }
            }
            Kind::LazyRead | Kind::Now | Kind::Clear => {
                if let Some(r) = receiver {
                    return Err(Error::new_spanned(
                        r,
                        "a `lazy_read`, `now` or `clear` method takes the fields it uses as \
                         parameters, not `self`: name each parameter after a field",
                    ));
                }
                for arg in &sig.inputs {
                    let FnArg::Typed(arg) = arg else {
                        unreachable!("no receiver")
                    };
                    params.push(Param::parse(kind, arg)?);
                }
            }
        }
        if kind == Kind::Clear {
            check_clear(&func, &params)?;
        }
        if let ReturnType::Type(_, ty) = &sig.output {
            if let Some(reference) = borrowed(ty) {
                let what = match kind {
                    Kind::Clear => "a mutator",
                    _ => "a cached method",
                };
                return Err(Error::new_spanned(
                    reference,
                    format!(
                        "{what} cannot return a reference into the object: the borrow ends with \
                         the operation; return an owned value (copy or clone it)"
                    ),
                ));
            }
        }
        if matches!(kind, Kind::Lazy | Kind::Eager | Kind::LazyRead | Kind::Now)
            && matches!(sig.output, ReturnType::Default)
        {
            return Err(Error::new_spanned(
                &sig.ident,
                "a cached method returns its value (an invariant returns `Result<(), E>`)",
            ));
        }
        let invariant = kind == Kind::Now && returns_unit_result(&sig.output);
        Ok(CacheModel {
            kind,
            kind_span,
            func,
            params,
            invariant,
        })
    }
}

impl Param {
    fn parse(kind: Kind, arg: &syn::PatType) -> syn::Result<Self> {
        let ident = match &*arg.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
            _ => None,
        };
        if let (Type::Reference(r), Some(ident)) = (&*arg.ty, &ident) {
            if is_ctx(&r.elem) {
                if kind == Kind::Clear {
                    return Err(Error::new_spanned(
                        &arg.ty,
                        "a `clear` mutator cannot read through `Ctx`: it writes, it is not cached",
                    ));
                }
                return Ok(Param::Ctx);
            }
            if r.mutability.is_some() && kind != Kind::Clear {
                return Err(Error::new_spanned(
                    r,
                    "a cached method reads its fields: take them as `&T`, not `&mut T` \
                     (only a `clear` mutator writes)",
                ));
            }
            return Ok(Param::Field {
                ident: ident.clone(),
                ty: (*r.elem).clone(),
                mutable: r.mutability.is_some(),
            });
        }
        match kind {
            Kind::Clear => Ok(Param::Extra {
                ty: (*arg.ty).clone(),
            }),
            _ if ident.is_none() => Err(Error::new_spanned(
                &arg.pat,
                "name the parameter after the field it reads",
            )),
            _ => Err(Error::new_spanned(
                &arg.ty,
                "a field parameter is a shared reference to the field: `&T`",
            )),
        }
    }
}

/// A `clear` takes the fields it writes first (`&mut`), then fields it only reads (`&`),
/// then extra arguments (by value).
fn check_clear(func: &ImplItemFn, params: &[Param]) -> syn::Result<()> {
    let first_mut = matches!(params.first(), Some(Param::Field { mutable: true, .. }));
    if !first_mut {
        let span = func
            .sig
            .inputs
            .first()
            .map_or(func.sig.ident.span(), |a| a.span());
        return Err(Error::new(
            span,
            "a `clear` mutator takes the fields it mutates first, as `&mut` parameters named \
             after them (e.g. `points: &mut Vec<Point>`)",
        ));
    }
    let mut stage = 0;
    for (param, arg) in params.iter().zip(&func.sig.inputs) {
        let here = match param {
            Param::Field { mutable: true, .. } => 0,
            Param::Field { mutable: false, .. } => 1,
            _ => 2,
        };
        if here < stage {
            return Err(Error::new_spanned(
                arg,
                "parameters of a `clear` come in order: mutated fields (`&mut`), read fields \
                 (`&`), then extra arguments by value",
            ));
        }
        stage = here;
    }
    Ok(())
}

fn is_ctx(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "Ctx"))
}

/// `Result<(), E>`, spelled with two arguments (a one-argument alias is a value).
fn returns_unit_result(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let Type::Path(p) = &**ty else { return false };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    last.ident == "Result"
        && args.args.len() == 2
        && matches!(args.args.first(), Some(syn::GenericArgument::Type(Type::Tuple(t))) if t.elems.is_empty())
}

fn push(errors: &mut Option<Error>, e: Error) {
    match errors {
        Some(all) => all.combine(e),
        None => *errors = Some(e),
    }
}

/// The first non-`'static` reference in a type, if it has one (`&T`, or inside a path's
/// arguments, a tuple, an array or a slice).
fn borrowed(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Reference(r) if r.lifetime.as_ref().is_some_and(|l| l.ident == "static") => {
            borrowed(&r.elem)
        }
        Type::Reference(_) => Some(ty),
        Type::Paren(p) => borrowed(&p.elem),
        Type::Group(g) => borrowed(&g.elem),
        Type::Tuple(t) => t.elems.iter().find_map(borrowed),
        Type::Array(a) => borrowed(&a.elem),
        Type::Slice(s) => borrowed(&s.elem),
        Type::Path(p) => p.path.segments.iter().find_map(|s| match &s.arguments {
            syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
                syn::GenericArgument::Type(t) => borrowed(t),
                _ => None,
            }),
            _ => None,
        }),
        _ => None,
    }
}
