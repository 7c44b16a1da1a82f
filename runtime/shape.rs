//! The structure of a value apart from the objects its handles name: what freezing follows
//! and what normalization compares.
//!
//! Two immutable objects are structurally equal when their values have the same shape
//! ([`Structural::same_shape`]: equal apart from handles) and their handles, taken in
//! order — but for the runs [`Structural::visit_sets`] reports, sets of handles, taken as
//! multisets — name structurally equal objects, cycles included (see [`crate::norm`]). The
//! runtime compares the shapes; it follows the handles itself.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use crate::heap::handle::{Capsule, Imm, Mutable};
use crate::key::ObjectId;

/// A value that can be compared by structure: its parts other than handles are compared
/// with [`same_shape`](Structural::same_shape), and the handles it holds are listed by
/// [`visit_handles`](Structural::visit_handles), in an order that values of the same shape
/// share, so that the runtime can compare what they name.
///
/// Implemented for std's plain types (floats by their bits, so `NaN` equals `NaN` and `0.0`
/// differs from `-0.0`), their containers, and the handles. A `HashSet` or `BTreeSet` of
/// handles is a multiset of the objects they name (any order, each member counted); other
/// sets and maps are compared in their `Ord` order (a map keyed by handles in the keys'
/// handle order, which may miss that two are equal, never find unequal ones equal). Derive it for your own
/// types with `#[derive(Structural)]`: a field of an `#[imm]`, `#[capsule]` or `#[mutable]`
/// struct whose type is `Structural` takes part in normalization and freezing; a field
/// that is only `Eq + Hash` is compared by equality (handles inside it by identity, which
/// is sound but shares less); an object with a field that is neither is never merged with
/// another.
///
/// ```
/// use steadfast::{Imm, Structural};
///
/// #[derive(Structural)]
/// struct Edge<N> { weight: f64, to: Imm<N> }
/// ```
///
/// Equal sets of handles made in other orders:
///
/// ```
/// use std::collections::BTreeSet;
/// use steadfast::{cached, imm, Heap, Imm};
///
/// #[imm]
/// struct Tag {
///     name: &'static str,
/// }
///
/// #[cached]
/// impl Tag {}
///
/// #[imm]
/// struct Tagged {
///     tags: BTreeSet<Imm<Tag>>,
/// }
///
/// #[cached]
/// impl Tagged {}
///
/// let mut heap = Heap::new();
/// let (a, b) = (heap.imm(Tag { name: "a" })?, heap.imm(Tag { name: "b" })?);
/// // Equal tags made in the other order: a `BTreeSet` of handles lists them the other way.
/// let (b2, a2) = (heap.imm(Tag { name: "b" })?, heap.imm(Tag { name: "a" })?);
/// let x = heap.imm(Tagged { tags: [a, b].into() })?;
/// let y = heap.imm(Tagged { tags: [a2, b2].into() })?;
/// assert_eq!(heap.class_of(&x)?, heap.class_of(&y)?);
/// assert_eq!(heap.stable_hash(&x)?, heap.stable_hash(&y)?);
/// # Ok::<(), steadfast::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be compared by structure",
    label = "this field must be `steadfast::Structural`",
    note = "derive it with `#[derive(Structural)]`; std's plain types, containers, references and \
            handles are `Structural`"
)]
pub trait Structural {
    /// Whether the two values are equal apart from the objects their handles name (handles
    /// at the same position are taken as equal here).
    fn same_shape(&self, other: &Self) -> bool;
    /// Feeds the shape to `state`: values of the same shape feed the same data.
    fn hash_shape(&self, state: &mut dyn Hasher);
    /// Calls `visit` with every handle the value holds, in order.
    fn visit_handles(&self, visit: &mut dyn FnMut(ObjectId));

    /// Whether the type is a handle ([`Imm`], [`Mutable`], [`Capsule`]): a set of handles is
    /// compared as a multiset of the objects they name.
    const HANDLE: bool = false;

    /// Calls `visit(start, len)` for every run of the handles [`visit_handles`] lists that
    /// is compared as a multiset rather than in order — a set of handles — numbering the
    /// handles from `at`, and advances `at` past this value's handles. The default has no
    /// such run; containers pass the call on to their items. Values of the same shape must
    /// report the same runs.
    ///
    /// [`visit_handles`]: Structural::visit_handles
    fn visit_sets(&self, at: &mut usize, visit: &mut dyn FnMut(usize, usize)) {
        let _ = visit;
        self.visit_handles(&mut |_| *at += 1);
    }
}

macro_rules! by_eq {
    ($($t:ty),* $(,)?) => {$(
        impl Structural for $t {
            #[inline]
            fn same_shape(&self, other: &Self) -> bool {
                self == other
            }
            fn hash_shape(&self, mut state: &mut dyn Hasher) {
                self.hash(&mut state);
            }
            #[inline]
            fn visit_handles(&self, _: &mut dyn FnMut(ObjectId)) {}
            #[inline]
            fn visit_sets(&self, _: &mut usize, _: &mut dyn FnMut(usize, usize)) {}
        }
    )*};
}

crate::owned::plain_types!(by_eq);

macro_rules! by_bits {
    ($($t:ty),*) => {$(
        impl Structural for $t {
            #[inline]
            fn same_shape(&self, other: &Self) -> bool {
                self.to_bits() == other.to_bits()
            }
            fn hash_shape(&self, state: &mut dyn Hasher) {
                state.write(&self.to_bits().to_le_bytes());
            }
            #[inline]
            fn visit_handles(&self, _: &mut dyn FnMut(ObjectId)) {}
            #[inline]
            fn visit_sets(&self, _: &mut usize, _: &mut dyn FnMut(usize, usize)) {}
        }
    )*};
}

by_bits!(f32, f64);

macro_rules! handles {
    ($($h:ident $(: $bound:path)?),*) => {$(
        /// The object a handle names is compared by the runtime, not here.
        impl<T $(: $bound)?> Structural for $h<T> {
            #[inline]
            fn same_shape(&self, _: &Self) -> bool {
                true
            }
            fn hash_shape(&self, _: &mut dyn Hasher) {}
            fn visit_handles(&self, visit: &mut dyn FnMut(ObjectId)) {
                visit(self.id);
            }
            const HANDLE: bool = true;
            #[inline]
            fn visit_sets(&self, at: &mut usize, _: &mut dyn FnMut(usize, usize)) {
                *at += 1;
            }
        }
    )*};
}

handles!(Imm, Mutable: crate::decl::object::Object, Capsule: crate::decl::object::Object);

impl<T: ?Sized> Structural for PhantomData<T> {
    fn same_shape(&self, _: &Self) -> bool {
        true
    }
    fn hash_shape(&self, _: &mut dyn Hasher) {}
    fn visit_handles(&self, _: &mut dyn FnMut(ObjectId)) {}
    fn visit_sets(&self, _: &mut usize, _: &mut dyn FnMut(usize, usize)) {}
}

macro_rules! pointers {
    ($($(#[$meta:meta])* $t:ty;)*) => {$(
        $(#[$meta])*
        impl<T: ?Sized + Structural> Structural for $t {
            fn same_shape(&self, other: &Self) -> bool {
                (**self).same_shape(other)
            }
            fn hash_shape(&self, state: &mut dyn Hasher) {
                (**self).hash_shape(state);
            }
            fn visit_handles(&self, visit: &mut dyn FnMut(ObjectId)) {
                (**self).visit_handles(visit);
            }
            fn visit_sets(&self, at: &mut usize, visit: &mut dyn FnMut(usize, usize)) {
                (**self).visit_sets(at, visit);
            }
        }
    )*};
}

pointers! {
    /// A box is the value it holds.
    Box<T>;
    /// A reference is the value it points to.
    &T;
}

/// A sequence: its length, then its elements in order.
fn same_seq<'a, T: Structural + 'a>(
    a: impl ExactSizeIterator<Item = &'a T>,
    b: impl ExactSizeIterator<Item = &'a T>,
) -> bool {
    a.len() == b.len() && a.zip(b).all(|(x, y)| x.same_shape(y))
}

fn hash_seq<'a, T: Structural + 'a>(
    items: impl ExactSizeIterator<Item = &'a T>,
    state: &mut dyn Hasher,
) {
    state.write_u64(items.len() as u64);
    for item in items {
        item.hash_shape(state);
    }
}

/// The runs of a sequence's items; its handles are numbered in order.
fn sets_of_seq<'a, T: Structural + 'a>(
    items: impl ExactSizeIterator<Item = &'a T>,
    at: &mut usize,
    visit: &mut dyn FnMut(usize, usize),
) {
    match T::HANDLE {
        true => *at += items.len(),
        false => items.for_each(|item| item.visit_sets(at, visit)),
    }
}

/// The runs of a set's items: its handles, if they are handles, are one run.
fn sets_of_set<'a, T: Structural + 'a>(
    items: impl ExactSizeIterator<Item = &'a T>,
    at: &mut usize,
    visit: &mut dyn FnMut(usize, usize),
) {
    match T::HANDLE {
        true => {
            visit(*at, items.len());
            *at += items.len();
        }
        false => items.for_each(|item| item.visit_sets(at, visit)),
    }
}

macro_rules! sequence {
    ($($(#[$meta:meta])* [$($g:tt)*] $t:ty => $sets:ident;)*) => {$(
        $(#[$meta])*
        impl<$($g)*> Structural for $t {
            fn same_shape(&self, other: &Self) -> bool {
                same_seq(self.iter(), other.iter())
            }
            fn hash_shape(&self, state: &mut dyn Hasher) {
                hash_seq(self.iter(), state);
            }
            fn visit_handles(&self, visit: &mut dyn FnMut(ObjectId)) {
                for item in self.iter() {
                    item.visit_handles(visit);
                }
            }
            fn visit_sets(&self, at: &mut usize, visit: &mut dyn FnMut(usize, usize)) {
                $sets(self.iter(), at, visit);
            }
        }
    )*};
}

sequence! {
    [T: Structural] [T] => sets_of_seq;
    [T: Structural, const N: usize] [T; N] => sets_of_seq;
    [T: Structural] Vec<T> => sets_of_seq;
    [T: Structural] VecDeque<T> => sets_of_seq;
    /// A set of handles is compared as a multiset of the objects they name (in any order,
    /// each counted); a set of other items in order, so their shapes must agree with their
    /// `Ord`.
    [T: Structural] BTreeSet<T> => sets_of_set;
}

/// A set of handles is compared as a multiset of the objects they name (in any order, each
/// counted); a set of other items in their `Ord` order, so their shapes must agree with it.
impl<T: Structural + Ord, S> Structural for HashSet<T, S> {
    fn same_shape(&self, other: &Self) -> bool {
        match T::HANDLE {
            true => self.len() == other.len(),
            false => same_seq(
                sorted(self.iter()).into_iter(),
                sorted(other.iter()).into_iter(),
            ),
        }
    }
    fn hash_shape(&self, state: &mut dyn Hasher) {
        match T::HANDLE {
            true => state.write_u64(self.len() as u64),
            false => hash_seq(sorted(self.iter()).into_iter(), state),
        }
    }
    fn visit_handles(&self, visit: &mut dyn FnMut(ObjectId)) {
        match T::HANDLE {
            true => self.iter().for_each(|item| item.visit_handles(visit)),
            false => sorted(self.iter())
                .into_iter()
                .for_each(|item| item.visit_handles(visit)),
        }
    }
    fn visit_sets(&self, at: &mut usize, visit: &mut dyn FnMut(usize, usize)) {
        match T::HANDLE {
            true => sets_of_set(self.iter(), at, visit),
            false => sets_of_seq(sorted(self.iter()).into_iter(), at, visit),
        }
    }
}

fn sorted<'a, T: Ord + 'a>(items: impl Iterator<Item = &'a T>) -> Vec<&'a T> {
    let mut items: Vec<&T> = items.collect();
    items.sort_unstable();
    items
}

/// In key order, so the keys' shapes must agree with their `Ord`.
impl<K: Structural, V: Structural> Structural for BTreeMap<K, V> {
    fn same_shape(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other)
                .all(|((k, v), (l, w))| k.same_shape(l) && v.same_shape(w))
    }
    fn hash_shape(&self, state: &mut dyn Hasher) {
        state.write_u64(self.len() as u64);
        for (k, v) in self {
            k.hash_shape(state);
            v.hash_shape(state);
        }
    }
    fn visit_handles(&self, visit: &mut dyn FnMut(ObjectId)) {
        for (k, v) in self {
            k.visit_handles(visit);
            v.visit_handles(visit);
        }
    }
    fn visit_sets(&self, at: &mut usize, visit: &mut dyn FnMut(usize, usize)) {
        for (k, v) in self {
            k.visit_sets(at, visit);
            v.visit_sets(at, visit);
        }
    }
}

/// In key order, as a [`BTreeMap`], so the keys' shapes must agree with their `Ord`.
impl<K: Structural + Ord, V: Structural, S> Structural for HashMap<K, V, S> {
    fn same_shape(&self, other: &Self) -> bool {
        self.len() == other.len()
            && by_key(self)
                .into_iter()
                .zip(by_key(other))
                .all(|((k, v), (l, w))| k.same_shape(l) && v.same_shape(w))
    }
    fn hash_shape(&self, state: &mut dyn Hasher) {
        state.write_u64(self.len() as u64);
        for (k, v) in by_key(self) {
            k.hash_shape(state);
            v.hash_shape(state);
        }
    }
    fn visit_handles(&self, visit: &mut dyn FnMut(ObjectId)) {
        for (k, v) in by_key(self) {
            k.visit_handles(visit);
            v.visit_handles(visit);
        }
    }
    fn visit_sets(&self, at: &mut usize, visit: &mut dyn FnMut(usize, usize)) {
        for (k, v) in by_key(self) {
            k.visit_sets(at, visit);
            v.visit_sets(at, visit);
        }
    }
}

fn by_key<K: Ord, V, S>(map: &HashMap<K, V, S>) -> Vec<(&K, &V)> {
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

impl<T: Structural> Structural for Option<T> {
    fn same_shape(&self, other: &Self) -> bool {
        match (self, other) {
            (Some(a), Some(b)) => a.same_shape(b),
            (None, None) => true,
            _ => false,
        }
    }
    fn hash_shape(&self, state: &mut dyn Hasher) {
        state.write_u8(self.is_some() as u8);
        if let Some(v) = self {
            v.hash_shape(state);
        }
    }
    fn visit_handles(&self, visit: &mut dyn FnMut(ObjectId)) {
        if let Some(v) = self {
            v.visit_handles(visit);
        }
    }
    fn visit_sets(&self, at: &mut usize, visit: &mut dyn FnMut(usize, usize)) {
        if let Some(v) = self {
            v.visit_sets(at, visit);
        }
    }
}

impl<T: Structural, E: Structural> Structural for Result<T, E> {
    fn same_shape(&self, other: &Self) -> bool {
        match (self, other) {
            (Ok(a), Ok(b)) => a.same_shape(b),
            (Err(a), Err(b)) => a.same_shape(b),
            _ => false,
        }
    }
    fn hash_shape(&self, state: &mut dyn Hasher) {
        match self {
            Ok(v) => {
                state.write_u8(0);
                v.hash_shape(state);
            }
            Err(e) => {
                state.write_u8(1);
                e.hash_shape(state);
            }
        }
    }
    fn visit_handles(&self, visit: &mut dyn FnMut(ObjectId)) {
        match self {
            Ok(v) => v.visit_handles(visit),
            Err(e) => e.visit_handles(visit),
        }
    }
    fn visit_sets(&self, at: &mut usize, visit: &mut dyn FnMut(usize, usize)) {
        match self {
            Ok(v) => v.visit_sets(at, visit),
            Err(e) => e.visit_sets(at, visit),
        }
    }
}

macro_rules! tuples {
    ($(($($t:ident $i:tt),+)),* $(,)?) => {$(
        impl<$($t: Structural),+> Structural for ($($t,)+) {
            fn same_shape(&self, other: &Self) -> bool {
                $(self.$i.same_shape(&other.$i))&&+
            }
            fn hash_shape(&self, state: &mut dyn Hasher) {
                $(self.$i.hash_shape(state);)+
            }
            fn visit_handles(&self, visit: &mut dyn FnMut(ObjectId)) {
                $(self.$i.visit_handles(visit);)+
            }
            fn visit_sets(&self, at: &mut usize, visit: &mut dyn FnMut(usize, usize)) {
                $(self.$i.visit_sets(at, visit);)+
            }
        }
    )*};
}

tuples!(
    (A 0),
    (A 0, B 1),
    (A 0, B 1, C 2),
    (A 0, B 1, C 2, D 3),
    (A 0, B 1, C 2, D 3, E 4),
    (A 0, B 1, C 2, D 3, E 4, F 5),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7),
);

/// How the derive compares a field whatever its type: by [`Structural`] if it is, else by
/// `Eq + Hash` (handles inside by identity), else not at all. The three impls sit on
/// `&&Part`, `&Part` and `Part`, and the derive calls `(&&&Part(field)).method(..)`, so
/// method resolution picks the first that applies.
#[doc(hidden)]
pub struct Part<'a, T>(pub &'a T);

macro_rules! part_trait {
    ($($name:ident)*) => {$(
        #[doc(hidden)]
        pub trait $name<T> {
            fn same_part(&self, other: &T) -> bool;
            fn hash_part(&self, state: &mut dyn Hasher) -> bool;
            fn visit_part(&self, visit: &mut dyn FnMut(ObjectId));
            fn sets_part(&self, at: &mut usize, visit: &mut dyn FnMut(usize, usize));
        }
    )*};
}

part_trait!(ByStructure ByEquality Opaque);

impl<T: Structural> ByStructure<T> for &&Part<'_, T> {
    #[inline]
    fn same_part(&self, other: &T) -> bool {
        self.0.same_shape(other)
    }
    fn hash_part(&self, state: &mut dyn Hasher) -> bool {
        self.0.hash_shape(state);
        true
    }
    fn visit_part(&self, visit: &mut dyn FnMut(ObjectId)) {
        self.0.visit_handles(visit);
    }
    fn sets_part(&self, at: &mut usize, visit: &mut dyn FnMut(usize, usize)) {
        self.0.visit_sets(at, visit);
    }
}

impl<T: Eq + Hash> ByEquality<T> for &Part<'_, T> {
    #[inline]
    fn same_part(&self, other: &T) -> bool {
        self.0 == other
    }
    fn hash_part(&self, mut state: &mut dyn Hasher) -> bool {
        self.0.hash(&mut state);
        true
    }
    fn visit_part(&self, _: &mut dyn FnMut(ObjectId)) {}
    fn sets_part(&self, _: &mut usize, _: &mut dyn FnMut(usize, usize)) {}
}

impl<T> Opaque<T> for Part<'_, T> {
    fn same_part(&self, _: &T) -> bool {
        false
    }
    fn hash_part(&self, _: &mut dyn Hasher) -> bool {
        false
    }
    fn visit_part(&self, _: &mut dyn FnMut(ObjectId)) {}
    fn sets_part(&self, _: &mut usize, _: &mut dyn FnMut(usize, usize)) {}
}
