//! The `Plain` marker: values that change only through `&mut`, so that every change to an
//! object's field goes through the write barrier.

use std::rc::Rc;
use std::sync::Arc;

use crate::heap::handle::{Capsule, Mutable};
use crate::owned::{containers, plain_types};

/// A type whose values change only through `&mut`: no interior mutability (`Cell`,
/// `RefCell`, `Mutex`, `RwLock`, `OnceCell`, atomics) and nothing that changes by itself
/// (`Weak`, whose target may go). The heap hands out `&mut` to a field only inside the write
/// barrier, so a cache that reads a `Plain` field is invalidated by every change to it.
///
/// Every field of a `#[capsule]` or `#[mutable]` struct must be `Plain` (capsule fields, and
/// every field of an `#[imm]` struct, must be [`Owned`](crate::Owned), which is stricter).
/// Handles are `Plain`: a handle names an object, whose own writes go through the barrier.
/// So are `Rc<T>` and `Arc<T>` of a `Plain` `T`, which give out only `&T`.
///
/// Implemented for std's plain types and their containers; derive it for your own types with
/// `#[derive(Plain)]` (or `#[derive(Owned)]`, which implies it), which checks every field.
///
/// ```
/// use steadfast::{cached, mutable, Mutable, Plain};
///
/// #[derive(Plain, Clone)]
/// struct Edge { to: Mutable<Node>, weight: u32 }
///
/// #[mutable]
/// struct Node { label: String, edges: Vec<Edge> }
/// #[cached]
/// impl Node {}
/// ```
///
/// A field no cache reads may opt out with `#[untracked]`: the runtime then cannot tell when
/// it changes, so no cache or invariant may read it. A cache that names it as a parameter is
/// a compile error; a read through `Ctx` (`ctx.field(&Self::READS)`) is not caught, and is
/// stale after the field changes.
///
/// ```
/// use std::sync::{atomic::AtomicU64, Arc};
/// use steadfast::{cached, mutable};
///
/// #[mutable]
/// struct Counter {
///     value: i64,
///     #[untracked] // statistics: read by no cache
///     reads: Arc<AtomicU64>,
/// }
/// #[cached]
/// impl Counter {}
/// ```
///
/// Without `#[untracked]`, a field with interior mutability is a compile error:
///
/// ```compile_fail,E0277
/// use std::sync::{atomic::AtomicU64, Arc};
/// use steadfast::{cached, mutable};
///
/// #[mutable]
/// struct Counter { value: i64, reads: Arc<AtomicU64> } // error: `AtomicU64` is not `Plain`
/// #[cached]
/// impl Counter {}
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` can change behind the runtime's back",
    label = "this field can change without a write",
    note = "the fields of a steadfast object change only through the write barrier, so their \
            types must be `steadfast::Plain`: no `Cell`, `RefCell`, `Mutex`, atomics or `Weak`; \
            derive `Plain` for your own types, or mark the field `#[untracked]` if no cache \
            or invariant reads it"
)]
pub trait Plain {}

macro_rules! plain {
    ($($t:ty),* $(,)?) => { $(impl Plain for $t {})* };
}

plain_types!(plain);
plain!(f32, f64);

containers!(Plain);
impl<T: ?Sized + Plain> Plain for Rc<T> {}
impl<T: ?Sized + Plain> Plain for Arc<T> {}
impl<T: crate::Object> Plain for Mutable<T> {}
impl<T: crate::Object> Plain for Capsule<T> {}
