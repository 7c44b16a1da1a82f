//! Typed, generational handles to heap objects, one type per ownership tag.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use std::sync::Arc;

use crate::decl::object::Object;
use crate::decl::stored::Link;
use crate::key::{ObjectId, Tag};
use std::panic::{RefUnwindSafe, UnwindSafe};

macro_rules! handle {
    (
        $(#[$doc:meta])* $name:ident, $tag:expr,
        struct { $($field:ident: $fty:ty),* }, where { $($bound:tt)* }, link: $link:expr
    ) => {
        $(#[$doc])*
        pub struct $name<T $($bound)*> {
            pub(crate) id: ObjectId,
            $(pub(crate) $field: $fty,)*
            _type: PhantomData<fn() -> T>,
        }

        impl<T $($bound)*> $name<T> {
            pub(crate) fn new(id: ObjectId $(, $field: $fty)*) -> Self {
                Self { id, $($field,)* _type: PhantomData }
            }

            /// The id of the object this handle names.
            pub fn id(&self) -> ObjectId {
                self.id
            }
        }

        impl<T $($bound)*> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}<{}>({})", stringify!($name), std::any::type_name::<T>(), self.id)
            }
        }

        impl<T $($bound)*> PartialEq for $name<T> {
            fn eq(&self, other: &Self) -> bool {
                self.id == other.id
            }
        }

        impl<T $($bound)*> Eq for $name<T> {}

        /// By [`ObjectId`]: a fixed order with no other meaning, for `BTreeSet`s of handles.
        impl<T $($bound)*> PartialOrd for $name<T> {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl<T $($bound)*> Ord for $name<T> {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.id.cmp(&other.id)
            }
        }

        // A handle names an object: the storage it may hold is reached only through the
        // heap, whose operations roll back on a panic (see `Heap`'s unwind safety).
        impl<T $($bound)*> UnwindSafe for $name<T> {}
        impl<T $($bound)*> RefUnwindSafe for $name<T> {}

        impl<T $($bound)*> Hash for $name<T> {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.id.hash(state);
            }
        }

        impl<T $($bound)*> Handle<T> for $name<T> {
            const TAG: Tag = $tag;
            fn id(&self) -> ObjectId {
                self.id
            }
        }

        impl<T $($bound)*> sealed::Sealed<T> for $name<T> {
            #[inline]
            fn link(&self) -> Option<&Arc<Link<T>>>
            where
                T: Object,
            {
                let link: fn(&Self) -> Option<&Arc<Link<T>>> = $link;
                link(self)
            }
        }
    };
}

handle!(
    /// A handle to an immutable object: `Copy`, and no API takes it for writing.
    ///
    /// ```compile_fail,E0308
    /// # use steadfast::{AnyCache, FieldMask, Object};
    /// # struct Unit;
    /// # impl Object for Unit {
    /// #     const FIELDS: &'static [&'static str] = &[];
    /// #     const CACHES: &'static [&'static dyn AnyCache<Self>] = &[];
    /// #     type Cells = ();
    /// #     type Saved = ();
    /// #     fn save(&self, _: FieldMask) -> Option<()> { Some(()) }
    /// #     fn restore(&mut self, _: ()) {}
    /// # }
    /// # use steadfast::{Heap, Imm};
    /// fn f(heap: &mut Heap, h: Imm<Unit>) {
    ///     heap.open_box(h, |_v| ()); // an immutable object has no box
    /// }
    /// ```
    Imm, Tag::Imm, struct {}, where {}, link: |_| None
);

impl<T> Clone for Imm<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Imm<T> {}

handle!(
    /// The unique handle to a capsule object: not `Clone`, so the object cannot be aliased
    /// from outside; its state changes only through its mutators
    /// ([`Heap::write`](crate::Heap::write)) and [`Heap::open_box`](crate::Heap::open_box).
    ///
    /// ```compile_fail,E0599
    /// # use steadfast::{AnyCache, FieldMask, Object};
    /// # struct Unit;
    /// # impl Object for Unit {
    /// #     const FIELDS: &'static [&'static str] = &[];
    /// #     const CACHES: &'static [&'static dyn AnyCache<Self>] = &[];
    /// #     type Cells = ();
    /// #     type Saved = ();
    /// #     fn save(&self, _: FieldMask) -> Option<()> { Some(()) }
    /// #     fn restore(&mut self, _: ()) {}
    /// # }
    /// # use steadfast::Capsule;
    /// fn alias(c: Capsule<Unit>) -> (Capsule<Unit>, Capsule<Unit>) {
    ///     (c.clone(), c) // a capsule handle cannot be cloned
    /// }
    /// ```
    Capsule, Tag::Capsule, struct { link: Arc<Link<T>> }, where { : Object },
    link: |h| Some(&h.link)
);
handle!(
    /// A handle to a mutable object: aliasable ([`Clone`]); every write goes through the
    /// barrier ([`Heap::set`](crate::Heap::set), [`Heap::write`](crate::Heap::write)).
    ///
    /// The handle holds a counted reference to the object's storage, so that a read
    /// through it reaches the object without a lookup; the heap stays the only way in.
    Mutable, Tag::Mutable, struct { link: Arc<Link<T>> }, where { : Object },
    link: |h| Some(&h.link)
);

impl<T: Object> Clone for Mutable<T> {
    fn clone(&self) -> Self {
        Mutable::new(self.id, Arc::clone(&self.link))
    }
}

/// Anything that names an object of type `T`: [`Imm`], [`Capsule`] or [`Mutable`].
///
/// Every method that names an object takes a reference to its handle (`&h`), whatever its
/// tag; only [`Heap::freeze`](crate::Heap::freeze), which turns a capsule's unique handle
/// into an immutable one, takes the handle itself. Reads accept any handle; writes name the
/// tags they allow in their signatures.
pub trait Handle<T>: sealed::Sealed<T> {
    /// The tag the object had when this handle was made.
    const TAG: Tag;
    /// The object's id.
    fn id(&self) -> ObjectId;
}

/// A handle writes may go through: [`Mutable`] and [`Capsule`] (an [`Imm`] never is), for
/// [`Heap::write`](crate::Heap::write) and [`Transaction::write`](crate::Transaction::write).
///
/// ```compile_fail,E0277
/// # use steadfast::{AnyCache, FieldMask, Object};
/// # struct Unit;
/// # impl Object for Unit {
/// #     const FIELDS: &'static [&'static str] = &[];
/// #     const CACHES: &'static [&'static dyn AnyCache<Self>] = &[];
/// #     type Cells = ();
/// #     type Saved = ();
/// #     fn save(&self, _: FieldMask) -> Option<()> { Some(()) }
/// #     fn restore(&mut self, _: ()) {}
/// # }
/// # use steadfast::{Heap, Imm};
/// fn f(heap: &mut Heap, h: Imm<Unit>) {
///     let _ = heap.write(&h, |_w| ()); // an immutable object is never written
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handle writes may go through",
    label = "an immutable object is never written",
    note = "writes take a `Mutable` or a `Capsule` handle"
)]
pub trait Writable<T: Object>: Handle<T> {}

impl<T: Object> Writable<T> for Mutable<T> {}
impl<T: Object> Writable<T> for Capsule<T> {}

pub(crate) mod sealed {
    use std::sync::Arc;

    use crate::decl::object::Object;
    use crate::decl::stored::Link;

    /// Implemented only by this module's handles.
    pub trait Sealed<T> {
        /// The object's storage, if the handle holds it (`mut` and capsule handles).
        fn link(&self) -> Option<&Arc<Link<T>>>
        where
            T: Object;
    }
}
