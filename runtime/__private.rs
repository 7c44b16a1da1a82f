//! What the derive's output names. Not public API: no semver guarantee.

pub use core::option::Option::{self, None, Some};
pub use core::result::Result::{self, Err, Ok};
pub use core::{concat, module_path, stringify};

pub use crate::barrier::writer::Writer;
pub use crate::cell::CacheCell;
pub use crate::decl::cache::Cache;
pub use crate::decl::ctx::Ctx;
pub use crate::decl::field::{Field, FieldMask};
pub use crate::decl::object::{Aliasable, AnyCache, Kind, Object};
pub use crate::error::Error;
pub use crate::heap::handle::{Capsule, Handle, Imm, Mutable};
pub use crate::heap::Heap;
pub use crate::heap::HeapMut;
pub use crate::key::ObjectId;
pub use crate::owned::Owned;
pub use crate::plain::Plain;
pub use crate::save::{Save, Saving};
pub use crate::shape::{ByEquality, ByStructure, Opaque, Part, Structural};
pub use core::hash::Hasher;

/// The cached methods of a type, from its `#[cached]` impl block.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `#[steadfast::cached]` impl block",
    label = "its caches are declared in a `#[steadfast::cached] impl` block",
    note = "add one, even an empty one: `#[steadfast::cached] impl {Self} {{}}`"
)]
pub trait Caches: Object {
    /// One cell per entry of `CACHES`.
    type Cells: crate::decl::object::CellSet;
    /// Entry `i` has index `i`.
    const CACHES: &'static [&'static dyn AnyCache<Self>];
}

/// Declared `#[imm]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an immutable type",
    label = "`lazy` and `eager` caches need a type declared `#[steadfast::imm]`",
    note = "on a `#[capsule]` or `#[mutable]` type, use `lazy_read` (recomputed after a write) instead"
)]
pub trait ImmType {}

/// Declared `#[capsule]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a capsule type",
    label = "`clear` mutators need a type declared `#[steadfast::capsule]`",
    note = "a `#[mutable]` type is written with its setters or `Heap::write`"
)]
pub trait CapsuleType {}

/// Compile-time checks, spanned at the user's tokens by the derive.
pub const fn assert_imm<T: ImmType>() {}
/// See [`assert_imm`].
pub const fn assert_capsule<T: CapsuleType>() {}
/// See [`assert_imm`].
pub const fn assert_owned<T: ?Sized + Owned>() {}

/// See [`assert_imm`].
pub const fn assert_plain<T: ?Sized + Plain>() {}

/// A derived `Freeze` impl's part: a field, as a `dyn Freeze`, its type named at the
/// field's span so that a type that cannot be frozen is an error there.
pub fn freeze_part<T: Freeze>(value: &T) -> &dyn Freeze {
    value
}

pub use crate::norm::{Error as NormError, Freeze, Freezer, Label};

/// The bound of the setter a capsule field does not have: implemented by nothing, so that a
/// call says how such a field changes.
#[diagnostic::on_unimplemented(
    message = "a capsule field has no setter",
    label = "capsule fields change only inside their object's own operations",
    note = "write it in a `#[cache(clear)]` mutator of its type, or in a box: `heap.open_box(&capsule, |raw| ...)`"
)]
pub trait NoSetter {}

/// A field checked to be `Owned` where its type is written (`const _: OwnedField<T>`), so
/// that the check comes with the item's other well-formedness checks, in item order:
/// before what follows from a type that is not `Owned` (such as `Rc` not being `Send`).
pub struct OwnedField<T: ?Sized + Owned>(core::marker::PhantomData<T>);

impl<T: ?Sized + Owned> OwnedField<T> {
    /// The check's value.
    pub const CHECKED: Self = OwnedField(core::marker::PhantomData);
}
/// A field of a `#[capsule]` or `#[mutable]` struct checked to be `Plain`, as
/// [`OwnedField`].
pub struct PlainField<T: ?Sized + Plain>(core::marker::PhantomData<T>);

impl<T: ?Sized + Plain> PlainField<T> {
    /// The check's value.
    pub const CHECKED: Self = PlainField(core::marker::PhantomData);
}

/// See [`assert_imm`].
pub const fn assert_structural<T: ?Sized + Structural>() {}

/// A cache's field parameter, checked not to name an `#[untracked]` field:
/// `assert_tracked::<{ names(UNTRACKED, "field") }>()`.
pub const fn assert_tracked<const UNTRACKED: bool>()
where
    Untracked<UNTRACKED>: ReadByCache,
{
}

/// Whether a field is `#[untracked]`, as a type.
pub struct Untracked<const YES: bool>;

/// Implemented for the fields a cache may read: all but the `#[untracked]` ones.
#[diagnostic::on_unimplemented(
    message = "a cache reads a field marked `#[untracked]`",
    label = "this field can change without a write, so no cache may read it",
    note = "drop `#[untracked]` (and make the field's type `steadfast::Plain`), or read the \
            field outside the cache"
)]
pub trait ReadByCache {}

impl ReadByCache for Untracked<false> {}

/// Whether `name` is one of `names` (in constant evaluation).
pub const fn names(names: &[&str], name: &str) -> bool {
    let mut i = 0;
    while i < names.len() {
        if str_eq(names[i], name) {
            return true;
        }
        i += 1;
    }
    false
}

/// The mask of the named fields among `fields` (names that are not fields are skipped: the
/// derive's destructuring reports them, with a suggestion).
pub const fn mask_of(fields: &[&str], names: &[&str]) -> FieldMask {
    let mut mask = 0u64;
    let mut i = 0;
    while i < names.len() {
        let mut j = 0;
        while j < fields.len() && j < 64 {
            if str_eq(fields[j], names[i]) {
                mask |= 1 << j;
            }
            j += 1;
        }
        i += 1;
    }
    FieldMask(mask)
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Saving a field for rollback: `(&&&Probe(&x)).try_save()` clones when the field's type
/// is `Clone`, else saves it when it is [`Save`] (it holds capsule handles); else, for a
/// type declared `remove_on_failure`, gives `None` (then a rejected operation removes the
/// object and hands its value back, as [`Object::save`] documents), and otherwise does not
/// compile, with a message at the field (see [`Unsaveable`]). Method resolution tries
/// `&&Probe`, then `&Probe`, then `Probe`; an impl's bounds decide whether it is a
/// candidate, a method's `where` clause is checked only once it is picked.
pub struct Probe<'a, T>(pub &'a T);

/// Picked first, when `T: Clone`.
pub trait CloneField<T> {
    /// A copy of the field.
    fn try_save(&self) -> Option<T>;
}

impl<T: Clone> CloneField<T> for &&Probe<'_, T> {
    #[inline]
    fn try_save(&self) -> Option<T> {
        Some(self.0.clone())
    }
}

/// Picked next, when `T: Save`.
pub trait SaveField<T> {
    /// A copy of the field, for the rollback record only.
    fn try_save(&self) -> Option<T>;
}

impl<T: Save> SaveField<T> for &Probe<'_, T> {
    #[inline]
    fn try_save(&self) -> Option<T> {
        Some(self.0.save(&Saving::new()))
    }
}

/// Picked last for a type declared `remove_on_failure`.
pub trait KeepField<T> {
    /// No copy.
    fn try_save(&self) -> Option<T>;
}

impl<T> KeepField<T> for Probe<'_, T> {
    #[inline]
    fn try_save(&self) -> Option<T> {
        None
    }
}

/// Picked last otherwise: its `where` clause fails, with the message of [`Unsaveable`].
pub trait UnsavedField<T> {
    /// Never compiles.
    fn try_save(&self) -> Option<T>
    where
        T: Unsaveable;
}

impl<T> UnsavedField<T> for Probe<'_, T> {
    fn try_save(&self) -> Option<T>
    where
        T: Unsaveable,
    {
        None
    }
}

/// Implemented by nothing: the error a field that cannot be saved gets.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not `Clone`, so a rejected operation could not put this field back",
    label = "saved before its first write, by cloning it",
    note = "derive or implement `Clone` for it (or `steadfast::Save`, for a type that holds capsule handles); or, to have a rejected operation remove the whole object instead and hand its value back inside the error, declare the struct `#[mutable(remove_on_failure)]` or `#[capsule(remove_on_failure)]`"
)]
pub trait Unsaveable {}

// What `#[interface]` names.
pub use crate::double::{Api, Double, Method, Respond, Unmatched, ViaErr, ViaPanic};
pub use crate::memo::{AskRef, Interface, Tracked};
pub use crate::replay::{FormatterKey, Replay};
pub use core::clone::Clone;
pub use core::cmp::{Eq, PartialEq};
pub use core::fmt::Debug;
pub use core::hash::Hash;
pub use core::marker::Copy;
pub use core::marker::{Send, Sync};
pub use core::ops::Fn;
pub use std::borrow::{Borrow, ToOwned};
pub use std::string::String;
pub use std::sync::Arc;

/// What an interface's answer must be.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an interface's answer: answers are stored, compared and hashed",
    label = "must be `Clone + Eq + Hash + Debug + Send + Sync + 'static`",
    note = "derive them for it; for an answer too large to store, answer a shared handle (`Arc<T>`)"
)]
pub trait Answer: Clone + Eq + Hash + Debug + Send + Sync + 'static {}

impl<T: Clone + Eq + Hash + Debug + Send + Sync + 'static> Answer for T {}

/// What an interface call's argument must be, as stored.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in an interface's call: calls are stored, compared and hashed",
    label = "must be `Clone + Eq + Hash + Debug + Send + Sync + 'static`",
    note = "derive them for it, or take the argument by reference (`&T` is stored as `T::Owned`)"
)]
pub trait Argument: Clone + Eq + Hash + Debug + Send + Sync + 'static {}

impl<T: Clone + Eq + Hash + Debug + Send + Sync + 'static> Argument for T {}

/// Compiles when `T` can be an answer.
pub fn assert_answer<T: Answer>() {}

/// Compiles when `T` can be a `&mut` parameter.
pub fn assert_replay<T: ?Sized + Replay>() {}

/// Compiles when `T` can be stored in a call.
pub fn assert_argument<T: Argument>() {}

/// A tracked call was answered for another method: the answer recorded for an equal call
/// is always that method's, so this is a bug in `Interface::answer`.
#[cold]
pub fn mismatched_answer(method: &str) -> ! {
    panic!("`{method}` was given another method's answer: `Interface::answer` answers each call with its own method's answer")
}
