//! Derive macros for keel's resource types: `#[derive(Resource)]` on a props
//! struct and `#[derive(Outputs)]` on its outputs struct. One declaration
//! carries the type token, the outputs, the per-field rules (forces
//! replacement, set-like lists, sensitive) and the create cost; the macros
//! generate the `keel::Resource` and `keel::ResourceOutputs` impls and the
//! typed output accessors a `keel::Handle<R>` dereferences to, so field names
//! are never retyped as strings and asking for an output that doesn't exist
//! doesn't compile. The accessors live on a generated struct rather than on
//! `Handle<R>` itself so that types declared outside keel get them too.
//!
//! A derive macro was chosen over `macro_rules!` because the rules sit on
//! the fields they govern (as serde's and clap's attributes do), the struct
//! stays an ordinary struct with its own doc comments, and a mistake (an
//! unknown rule, a missing `tags` or `id` field) is reported at the
//! attribute that caused it.
//!
//! The generated code names the `keel` crate as `::keel`; inside keel that
//! path resolves through `extern crate self as keel`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{format_ident, quote};
use syn::{
    Attribute, Data, DeriveInput, Error, Fields, GenericArgument, LitInt, LitStr, Path,
    PathArguments, Type, parse_macro_input,
};

/// Implements `keel::Resource` for a props struct.
///
/// On the struct: `#[resource(token = "aws:ec2:Vpc", outputs = VpcOutputs)]`,
/// optionally `cost = 120` (typical seconds to create), `delete_before_replace`,
/// `untaggable` (AWS keeps no tags on the type: the `tags` field holds only
/// keel's bookkeeping, nothing is sent) and `validate = path::to::fn` (a
/// `fn(&Self) -> Vec<keel::FieldError>`).
/// The struct needs a `tags: keel::Tags` field. Every field gets a
/// `keel::Field<Self>` constant named after it in upper case
/// (`cidr_block` → `Vpc::CIDR_BLOCK`), for resource options that name fields.
///
/// On a field: `#[resource(replace)]` (a change replaces the resource),
/// `#[resource(immutable)]` (a change is refused when planning: the resource
/// can't be updated and must not be quietly replaced),
/// `#[resource(set)]` (a list compared as a set of values, not by position),
/// `#[resource(set_key = path::to::fn)]` (a set whose elements are matched by
/// the key `fn(&Element) -> String` returns), `#[resource(sensitive)]` (shown
/// as `[sensitive]`).
#[proc_macro_derive(Resource, attributes(resource))]
pub fn derive_resource(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    resource(&input)
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

/// Implements `keel::ResourceOutputs` for an outputs struct and generates its
/// accessor struct (`VpcOutputs` gets `VpcOutputRefs`), with one typed
/// `Output<T>` accessor per field; `keel::Handle<R>` dereferences to it.
/// `#[outputs(skip)]` on a field leaves its accessor out. The struct needs an
/// `id` field (the resource's typed id).
#[proc_macro_derive(Outputs, attributes(outputs))]
pub fn derive_outputs(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    outputs(&input)
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

fn named_fields(input: &DeriveInput) -> syn::Result<&syn::FieldsNamed> {
    match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(f) => Ok(f),
            _ => Err(Error::new_spanned(
                &input.ident,
                "keel resources and outputs are structs with named fields",
            )),
        },
        _ => Err(Error::new_spanned(
            &input.ident,
            "keel resources and outputs are structs with named fields",
        )),
    }
}

#[derive(Default)]
struct TypeRules {
    token: Option<LitStr>,
    outputs: Option<Path>,
    cost: Option<LitInt>,
    delete_before_replace: bool,
    untaggable: bool,
    validate: Option<Path>,
}

enum ListRule {
    Ordered,
    Set,
    Keyed(Path),
}

struct FieldRules {
    replace: bool,
    immutable: bool,
    list: ListRule,
    sensitive: bool,
}

fn type_rules(attrs: &[Attribute]) -> syn::Result<TypeRules> {
    let mut rules = TypeRules::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("resource")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("token") {
                rules.token = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("outputs") {
                rules.outputs = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("cost") {
                rules.cost = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("validate") {
                rules.validate = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("delete_before_replace") {
                rules.delete_before_replace = true;
            } else if meta.path.is_ident("untaggable") {
                rules.untaggable = true;
            } else {
                return Err(meta.error(
                    "unknown resource rule: expected token, outputs, cost, validate, delete_before_replace or untaggable",
                ));
            }
            Ok(())
        })?;
    }
    Ok(rules)
}

fn field_rules(attrs: &[Attribute]) -> syn::Result<FieldRules> {
    let mut rules = FieldRules {
        replace: false,
        immutable: false,
        list: ListRule::Ordered,
        sensitive: false,
    };
    for attr in attrs.iter().filter(|a| a.path().is_ident("resource")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("replace") {
                rules.replace = true;
            } else if meta.path.is_ident("immutable") {
                rules.immutable = true;
            } else if meta.path.is_ident("set") {
                rules.list = ListRule::Set;
            } else if meta.path.is_ident("set_key") {
                rules.list = ListRule::Keyed(meta.value()?.parse()?);
            } else if meta.path.is_ident("sensitive") {
                rules.sensitive = true;
            } else {
                return Err(meta.error(
                    "unknown field rule: expected replace, immutable, set, set_key = fn or sensitive",
                ));
            }
            Ok(())
        })?;
    }
    Ok(rules)
}

/// `T` of a `Vec<T>` field (the element a set compares).
fn vec_element(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Vec" {
        return None;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

fn resource(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let fields = named_fields(input)?;
    let rules = type_rules(&input.attrs)?;
    let token = rules.token.ok_or_else(|| {
        Error::new_spanned(
            name,
            "missing #[resource(token = \"aws:<service>:<Type>\")]",
        )
    })?;
    let outputs = rules.outputs.ok_or_else(|| {
        Error::new_spanned(name, "missing #[resource(outputs = <OutputsStruct>)]")
    })?;
    if !fields
        .named
        .iter()
        .any(|f| f.ident.as_ref().is_some_and(|i| i == "tags"))
    {
        return Err(Error::new_spanned(
            name,
            "a keel resource needs a `tags: keel::Tags` field",
        ));
    }
    let mut field_consts = Vec::new();
    let mut key_fns = Vec::new();
    let mut name_consts = Vec::new();
    for f in &fields.named {
        let ident = f
            .ident
            .as_ref()
            .ok_or_else(|| Error::new_spanned(f, "unnamed field"))?;
        let r = field_rules(&f.attrs)?;
        let plain = ident.to_string().trim_start_matches("r#").to_string();
        let field_name = LitStr::new(&plain, Span::call_site());
        let const_name = format_ident!("{}", plain.to_uppercase());
        let const_doc =
            format!("The `{plain}` field, to name in `ResourceOptions::ignore_changes`.");
        name_consts.push(quote! {
            #[doc = #const_doc]
            pub const #const_name: ::keel::Field<Self> = ::keel::Field::new_unchecked(#field_name);
        });
        let list = match &r.list {
            ListRule::Ordered => quote!(::keel::ListRule::Ordered),
            ListRule::Set => {
                if vec_element(&f.ty).is_none() {
                    return Err(Error::new_spanned(&f.ty, "`set` applies to a Vec field"));
                }
                quote!(::keel::ListRule::Set)
            }
            ListRule::Keyed(key) => {
                let elem = vec_element(&f.ty)
                    .ok_or_else(|| Error::new_spanned(&f.ty, "`set_key` applies to a Vec field"))?;
                let fn_name = format_ident!("__keel_set_key_{}", ident);
                key_fns.push(quote! {
                    #[doc(hidden)]
                    fn #fn_name(value: &::keel::__private::serde_json::Value) -> ::core::option::Option<::std::string::String> {
                        let element: #elem = ::keel::__private::serde_json::from_value(value.clone()).ok()?;
                        ::core::option::Option::Some(#key(&element))
                    }
                });
                quote!(::keel::ListRule::Keyed(Self::#fn_name))
            }
        };
        if r.replace && r.immutable {
            return Err(Error::new_spanned(
                ident,
                "a field is either `replace` (a change replaces the resource) or `immutable` (a change is refused), not both",
            ));
        }
        if !r.replace && !r.immutable && !r.sensitive && matches!(r.list, ListRule::Ordered) {
            continue;
        }
        let (replace, immutable, sensitive) = (r.replace, r.immutable, r.sensitive);
        field_consts.push(quote! {
            ::keel::FieldRule {
                name: #field_name,
                replace: #replace,
                immutable: #immutable,
                list: #list,
                sensitive: #sensitive,
            }
        });
    }
    let cost = rules
        .cost
        .map(|c| quote!(const COST: u32 = #c;))
        .unwrap_or_default();
    let dbr = rules.delete_before_replace;
    let taggable = !rules.untaggable;
    let validate = rules
        .validate
        .map(|v| {
            quote! {
                fn validate(&self) -> ::std::vec::Vec<::keel::FieldError> {
                    #v(self)
                }
            }
        })
        .unwrap_or_default();
    let key_impl = if key_fns.is_empty() {
        Tokens::new()
    } else {
        quote! {
            impl #name {
                #(#key_fns)*
            }
        }
    };
    let refs = references(input)?;
    Ok(quote! {
        #key_impl
        #refs

        /// Its fields, by name (see `keel::Field`).
        impl #name {
            #(#name_consts)*
        }

        impl ::keel::Resource for #name {
            const TYPE: &'static str = #token;
            type Id = <#outputs as ::keel::ResourceOutputs>::Id;
            type Outputs = #outputs;
            const FIELDS: &'static [::keel::FieldRule] = &[#(#field_consts),*];
            const DELETE_BEFORE_REPLACE: bool = #dbr;
            const TAGGABLE: bool = #taggable;
            #cost
            #validate

            fn tags(&self) -> &::keel::Tags {
                &self.tags
            }

            fn tags_mut(&mut self) -> &mut ::keel::Tags {
                &mut self.tags
            }
        }
    })
}

/// Implements `keel::References` (the outputs a value reads) by visiting
/// every field of a struct or of each enum variant. Every type used inside a
/// resource's props needs it (`#[derive(Resource)]` implements it for the
/// props struct itself), so an output can't hide where keel wouldn't see it.
#[proc_macro_derive(References)]
pub fn derive_references(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    references(&input)
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

fn visit(binding: Tokens) -> Tokens {
    quote!(::keel::References::references(#binding, refs);)
}

fn references(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let body = match &input.data {
        Data::Struct(s) => {
            let visits = s.fields.iter().enumerate().map(|(i, f)| match &f.ident {
                Some(ident) => visit(quote!(&self.#ident)),
                None => {
                    let index = syn::Index::from(i);
                    visit(quote!(&self.#index))
                }
            });
            quote!(#(#visits)*)
        }
        Data::Enum(e) => {
            let arms = e.variants.iter().map(|v| {
                let variant = &v.ident;
                match &v.fields {
                    Fields::Named(named) => {
                        let idents: Vec<_> = named
                            .named
                            .iter()
                            .filter_map(|f| f.ident.as_ref())
                            .collect();
                        let visits = idents.iter().map(|i| visit(quote!(#i)));
                        quote!(Self::#variant { #(#idents),* } => { #(#visits)* })
                    }
                    Fields::Unnamed(unnamed) => {
                        let binds: Vec<_> = (0..unnamed.unnamed.len())
                            .map(|i| format_ident!("field{}", i))
                            .collect();
                        let visits = binds.iter().map(|b| visit(quote!(#b)));
                        quote!(Self::#variant(#(#binds),*) => { #(#visits)* })
                    }
                    Fields::Unit => quote!(Self::#variant => {}),
                }
            });
            quote!(match self { #(#arms)* })
        }
        Data::Union(_) => {
            return Err(Error::new_spanned(name, "keel can't look inside a union"));
        }
    };
    Ok(quote! {
        impl #impl_generics ::keel::References for #name #ty_generics #where_clause {
            #[allow(unused_variables)]
            fn references(
                &self,
                refs: &mut ::std::vec::Vec<::keel::Output<::keel::__private::serde_json::Value>>,
            ) {
                #body
            }
        }
    })
}

fn outputs(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let fields = named_fields(input)?;
    let id_field = fields
        .named
        .iter()
        .find(|f| f.ident.as_ref().is_some_and(|i| i == "id"))
        .ok_or_else(|| {
            Error::new_spanned(name, "outputs need an `id` field: the typed cloud id")
        })?;
    let id_ty = &id_field.ty;
    let base = name.to_string();
    let refs = match base.strip_suffix("Outputs") {
        Some(stem) => format_ident!("{}OutputRefs", stem),
        None => format_ident!("{}Refs", base),
    };
    let mut accessors = Vec::new();
    for f in &fields.named {
        let mut skip = false;
        for attr in f.attrs.iter().filter(|a| a.path().is_ident("outputs")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("skip") {
                    skip = true;
                    Ok(())
                } else {
                    Err(meta.error("unknown output field rule: expected skip"))
                }
            })?;
        }
        if skip {
            continue;
        }
        let ident = f
            .ident
            .as_ref()
            .ok_or_else(|| Error::new_spanned(f, "unnamed field"))?;
        let ty = &f.ty;
        let docs: Vec<&Attribute> = f
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .collect();
        let field_name = LitStr::new(&ident.to_string(), Span::call_site());
        accessors.push(quote! {
            #(#docs)*
            pub fn #ident(&self) -> ::keel::Output<#ty> {
                self.source.output(#field_name)
            }
        });
    }
    let doc = format!(
        "The typed outputs of a declared resource, one per field of [`{name}`]; \
         a `Handle` dereferences to it, so `handle.id()` works directly."
    );
    Ok(quote! {
        impl ::keel::ResourceOutputs for #name {
            type Id = #id_ty;
            type Refs = #refs;
            fn id(&self) -> &Self::Id {
                &self.id
            }
        }

        #[doc = #doc]
        #[derive(Clone, Debug)]
        pub struct #refs {
            source: ::keel::OutputSource,
        }

        impl ::core::convert::From<::keel::OutputSource> for #refs {
            fn from(source: ::keel::OutputSource) -> Self {
                Self { source }
            }
        }

        impl #refs {
            #(#accessors)*
        }
    })
}
