//! The `Owned` marker: values that own all their state, so that the only way to change
//! them is through `&mut`, which the heap hands out only inside the write barrier.

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

/// Implements a marker trait for std's containers of values that have it, and for tuples and
/// `Imm` handles, so that every marker lists the same ones (see `plain_types`).
macro_rules! containers {
    ($marker:ident) => {
        impl<T: ?Sized + $marker> $marker for &'static T {}
        impl<T: ?Sized + $marker> $marker for Box<T> {}
        impl<T: $marker> $marker for [T] {}
        impl<T: $marker, const N: usize> $marker for [T; N] {}
        impl<T: $marker> $marker for Vec<T> {}
        impl<T: $marker> $marker for std::collections::VecDeque<T> {}
        impl<T: $marker> $marker for std::collections::LinkedList<T> {}
        impl<T: $marker> $marker for std::collections::BinaryHeap<T> {}
        impl<T: $marker> $marker for std::collections::BTreeSet<T> {}
        impl<K: $marker, V: $marker> $marker for std::collections::BTreeMap<K, V> {}
        impl<T: $marker, S> $marker for std::collections::HashSet<T, S> {}
        impl<K: $marker, V: $marker, S> $marker for std::collections::HashMap<K, V, S> {}
        impl<T: $marker> $marker for Option<T> {}
        impl<T: $marker, E: $marker> $marker for Result<T, E> {}
        impl<T: ?Sized> $marker for std::marker::PhantomData<T> {}
        // An immutable object never changes, so holding its handle is like holding the value.
        impl<T> $marker for crate::heap::handle::Imm<T> {}
        containers!(@tuples $marker (A) (A, B) (A, B, C) (A, B, C, D) (A, B, C, D, E)
            (A, B, C, D, E, F) (A, B, C, D, E, F, G) (A, B, C, D, E, F, G, H));
    };
    (@tuples $marker:ident $(($($t:ident),+))*) => {
        $(impl<$($t: $marker),+> $marker for ($($t,)+) {})*
    };
}

pub(crate) use containers;

containers!(Owned);
