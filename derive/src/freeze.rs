//! `#[derive(Freeze)]`: a struct is a node of its fields in order, an enum's variant a node
//! of its fields under the variant's path; a field whose type cannot be frozen (a function
//! pointer, a raw pointer, a closure) is an error at that field.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields};

/// One way the value can be: a pattern binding its fields, and the label its node gets.
struct Shape<'a> {
    path: TokenStream,
    name: String,
    fields: &'a Fields,
}

pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let rt = quote!(::steadfast::__private);
    let name = &input.ident;
    let (shapes, variant) = match &input.data {
        Data::Struct(s) => (
            vec![Shape {
                path: quote!(Self),
                name: name.to_string(),
                fields: &s.fields,
            }],
            false,
        ),
        Data::Enum(e) => (
            e.variants
                .iter()
                .map(|v| {
                    let ident = &v.ident;
                    Shape {
                        path: quote!(Self::#ident),
                        name: format!("{name}::{ident}"),
                        fields: &v.fields,
                    }
                })
                .collect(),
            true,
        ),
        Data::Union(u) => {
            return Err(syn::Error::new_spanned(
                u.union_token,
                "a union cannot be frozen: which of its fields holds a value is not known",
            ))
        }
    };
    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!(#rt::Freeze));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let mut arms = Vec::new();
    for shape in &shapes {
        let members = crate::generate::members(shape.fields);
        let bound: Vec<_> = (0..members.len())
            .map(|j| format_ident!("__f{}", j))
            .collect();
        let label_name = &shape.name;
        let label = match variant {
            true => {
                quote!(#rt::Label::Variant(#rt::concat!(#rt::module_path!(), "::", #label_name)))
            }
            false => {
                quote!(#rt::Label::Struct(#rt::concat!(#rt::module_path!(), "::", #label_name)))
            }
        };
        let path = &shape.path;
        // Each part through a function bounded by `Freeze` and spanned at the field's type,
        // so that a field that cannot be frozen is one error, at that field.
        let parts = bound.iter().zip(shape.fields.iter()).map(|(b, f)| {
            let ty = &f.ty;
            quote_spanned!(ty.span()=> #rt::freeze_part::<#ty>(#b))
        });
        arms.push(quote! {
            #path { #(#members: #bound),* } => __f.node(#label, &[#(#parts),*]),
        });
    }
    let body = match arms.is_empty() {
        // An enum without variants has no value.
        true => quote!(match *self {}),
        false => quote!(match self { #(#arms)* }),
    };
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #rt::Freeze for #name #ty_generics #where_clause {
            fn freeze(&self, __f: &mut #rt::Freezer) -> #rt::Result<usize, #rt::NormError> {
                #body
            }
        }
    })
}
