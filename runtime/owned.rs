//! The `Owned` marker: values that own all their state, so that the only way to change
//! them is through `&mut`, which the heap hands out only inside the write barrier.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::marker::PhantomData;

use crate::heap::handle::Imm;

/// A type whose values own all their state: no shared mutability (`Rc`, `Arc`), no
/// interior mutability (`Cell`, `RefCell`, `Mutex`, atomics), no handle to a mutable heap
/// object. A capsule field, and every field of an immutable struct, must be `Owned`, so that
/// nothing can change it behind the runtime's back.
///
/// Implemented for std's plain types and their containers; derive it for your own types
/// with `#[derive(Owned)]`, which checks every field and also implements
/// [`Plain`](crate::Plain) (every `Owned` type is `Plain`).
///
/// ```
/// use steadfast::Owned;
///
/// #[derive(Owned, Clone, PartialEq)]
/// struct Wheel { spokes: u32, tyre: String }
/// ```
///
/// A type with interior mutability is rejected where it is used as a capsule field:
///
/// ```compile_fail
/// use steadfast::Owned;
///
/// #[derive(Owned)]
/// struct Counter { hits: std::cell::Cell<u32> } // error: `Cell<u32>` is not `Owned`
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` may be aliased or changed behind the runtime's back",
    label = "this field must own its state",
    note = "capsule fields and fields of `#[imm]` structs must be `steadfast::Owned`: \
            derive it for your own types; `Rc`, `Arc`, `Cell`, `RefCell`, `Mutex`, atomics \
            and `Mutable` handles are not `Owned`"
)]
pub trait Owned: crate::Plain {}

macro_rules! owned {
    ($($t:ty),* $(,)?) => { $(impl Owned for $t {})* };
}

/// Calls `$m!` with std's plain value types (floats apart: `Structural` compares them by
/// their bits), so that every marker trait implemented for them lists the same ones.
macro_rules! plain_types {
    ($m:ident) => {
        $m!(
            bool,
            char,
            u8,
            u16,
            u32,
            u64,
            u128,
            usize,
            i8,
            i16,
            i32,
            i64,
            i128,
            isize,
            (),
            str,
            String,
            std::time::Duration,
            std::cmp::Ordering,
            std::num::NonZeroU32,
            std::num::NonZeroU64,
            std::num::NonZeroUsize,
        );
    };
}

pub(crate) use plain_types;

plain_types!(owned);
owned!(f32, f64);

impl<T: ?Sized + Owned> Owned for &'static T {}
impl<T: ?Sized + Owned> Owned for Box<T> {}
impl<T: Owned> Owned for [T] {}
impl<T: Owned, const N: usize> Owned for [T; N] {}
impl<T: Owned> Owned for Vec<T> {}
impl<T: Owned> Owned for VecDeque<T> {}
impl<T: Owned> Owned for LinkedList<T> {}
impl<T: Owned> Owned for BinaryHeap<T> {}
impl<T: Owned> Owned for BTreeSet<T> {}
impl<K: Owned, V: Owned> Owned for BTreeMap<K, V> {}
impl<T: Owned, S> Owned for HashSet<T, S> {}
impl<K: Owned, V: Owned, S> Owned for HashMap<K, V, S> {}
impl<T: Owned> Owned for Option<T> {}
impl<T: Owned, E: Owned> Owned for Result<T, E> {}
impl<T: ?Sized> Owned for PhantomData<T> {}
/// An immutable object never changes, so holding its handle is like holding the value.
impl<T> Owned for Imm<T> {}

macro_rules! owned_tuples {
    ($(($($t:ident),+)),* $(,)?) => { $(impl<$($t: Owned),+> Owned for ($($t,)+) {})* };
}

owned_tuples!(
    (A),
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, F),
    (A, B, C, D, E, F, G),
    (A, B, C, D, E, F, G, H),
);
