//! A borrowed object: its value and its caches, reached once.

use std::fmt;
use std::ops::Deref;

use crate::barrier::operate::raise;
use crate::barrier::own::Own;
use crate::decl::cache::Cache;
use crate::decl::field::Field;
use crate::decl::object::Object;
use crate::decl::stored::Stored;
use crate::diag::cause::OpKind;
use crate::diag::trace::op;
use crate::error::Error;
use crate::heap::handle::{Handle, Mutable};
use crate::heap::parts::Core;
use crate::key::ObjectId;

/// An object of a borrowed [`Heap`](crate::Heap), with its handle checked once: reading its caches
/// through a view skips the handle check and, for an immutable object, the look-up of the
/// representative whose caches it shares. While the view lives the heap cannot change, so
/// a hit is one load of the cell.
///
/// ```
/// use steadfast::{cached, imm, Heap};
///
/// #[imm]
/// struct Circle { radius: f64 }
///
/// #[cached]
/// impl Circle {
///     #[cache(lazy)]
///     fn area(&self) -> f64 { std::f64::consts::PI * self.radius * self.radius }
/// }
///
/// let mut heap = Heap::new();
/// let c = heap.imm(Circle { radius: 2.0 })?;
/// let view = heap.view(&c)?;
/// assert_eq!(view.radius, 2.0); // the value
/// let area = *view.cached(&Circle::AREA)?; // a cache
/// assert!((area - 12.566).abs() < 1e-3);
/// # Ok::<(), steadfast::Error>(())
/// ```
pub struct View<'h, T: Object> {
    heap: &'h Core,
    id: ObjectId,
    value: &'h T,
    /// The cells holding the object's caches: its own, or its class's representative's.
    shared: &'h Stored<T>,
    /// Immutable: no write can invalidate its cells, so reads need not mark them as read
    /// (the mark tells the barrier which invalidated caches to recompute at once).
    imm: bool,
}

impl Core {
    /// [`Heap::view`](crate::Heap::view).
    pub(crate) fn view<T: Object>(&self, handle: &impl Handle<T>) -> Result<View<'_, T>, Error> {
        let id = handle.id();
        let (slot, key) = self.typed_slot::<T>(id)?;
        let value = &self.stored_in::<T>(slot)?.value;
        let (rep, _) = self.shared_by(slot, key);
        Ok(View {
            heap: self,
            id,
            value,
            shared: self.stored_in::<T>(rep)?,
            imm: slot.tag == crate::key::Tag::Imm,
        })
    }
}

impl<'h, T: Object> View<'h, T> {
    /// The object's value, for as long as the heap is borrowed.
    pub fn get(&self) -> &'h T {
        self.value
    }

    /// The object's id.
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// Reads a cached method's value, computing it if it is not valid (as
    /// [`Heap::cached`](crate::Heap::cached)).
    ///
    /// # Errors
    /// As [`Heap::cached`](crate::Heap::cached).
    #[inline]
    pub fn cached<V: Send + Sync + 'static>(&self, cache: &Cache<T, V>) -> Result<&'h V, Error> {
        let cell = (cache.cell)(&self.shared.cells);
        let hit = if self.imm { cell.peek() } else { cell.get() };
        match hit {
            Some(v) => {
                self.heap.stats.hit();
                Ok(v)
            }
            None => self.heap.cache_miss(self.id, cache),
        }
    }
}

impl<T: Object> Deref for View<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value
    }
}

impl<T: Object> Clone for View<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Object> Copy for View<'_, T> {}

impl<T: Object> fmt::Debug for View<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "View<{}>({})", std::any::type_name::<T>(), self.id)
    }
}

/// A mutable object of an exclusively borrowed [`Heap`](crate::Heap), with its handle checked once:
/// what `slot_map.get_mut(key)` is to a hand-written cache. Each [`set`](ViewMut::set) is
/// a write as [`Heap::set`](crate::Heap::set) makes it (invalidation, invariant checks and rollback
/// included), and each [`cached`](ViewMut::cached) a read as [`Heap::cached`](crate::Heap::cached) makes it; what
/// the view saves is checking the handle again on each.
///
/// ```
/// use steadfast::{cached, mutable, Heap};
///
/// #[mutable]
/// struct Point { x: f64, y: f64 }
///
/// #[cached]
/// impl Point {
///     #[cache(lazy_read)]
///     fn dist(x: &f64, y: &f64) -> f64 { (x * x + y * y).sqrt() }
/// }
///
/// let mut heap = Heap::new();
/// let p = heap.mutable(Point { x: 3.0, y: 4.0 })?;
/// let mut view = heap.view_mut(&p)?;
/// assert_eq!(*view.cached(&Point::DIST)?, 5.0);
/// view.set(&Point::X, 0.0)?;
/// assert_eq!(*view.cached(&Point::DIST)?, 4.0);
/// assert_eq!(view.get().y, 4.0);
/// # Ok::<(), steadfast::Error>(())
/// ```
pub struct ViewMut<'h, T: Object> {
    heap: &'h mut Core,
    /// Checked to name a live object of `heap`. A `set` cannot remove it (a rejected
    /// write puts the field back), so it stays live while the view lives.
    handle: &'h Mutable<T>,
}

impl Core {
    /// [`Heap::view_mut`](crate::Heap::view_mut).
    #[inline]
    pub(crate) fn view_mut<'h, T: Object>(
        &'h mut self,
        handle: &'h Mutable<T>,
    ) -> Result<ViewMut<'h, T>, Error> {
        // The heap first: `qcell` panics on another heap's storage.
        if handle.id.heap == self.id && self.owner.ro(&*handle.link).is_some() {
            return Ok(ViewMut { heap: self, handle });
        }
        Err(self
            .typed_slot::<T>(handle.id)
            .err()
            .unwrap_or(Error::Removed {
                object: handle.id,
                type_name: std::any::type_name::<T>(),
            }))
    }
}

impl<'h, T: Object> ViewMut<'h, T> {
    /// The object's value.
    pub fn get(&self) -> &T {
        &self.stored().value
    }

    /// The object's id.
    pub fn id(&self) -> ObjectId {
        self.handle.id
    }

    /// The heap, for reads of other objects.
    pub fn heap(&self) -> &Core {
        self.heap
    }

    /// Sets a field, as [`Heap::set`](crate::Heap::set).
    ///
    /// # Errors
    /// As [`Heap::set`](crate::Heap::set): [`Error::Invariant`] if an invariant that reads the
    /// field fails (the field keeps its old value).
    #[inline(always)]
    pub fn set<F>(&mut self, field: &Field<T, F>, value: F) -> Result<(), Error> {
        self.replace(field, value).map(drop)
    }

    /// Replaces a field and returns the old value, as [`Heap::replace`](crate::Heap::replace).
    ///
    /// # Errors
    /// As [`Heap::set`](crate::Heap::set).
    #[inline(always)]
    pub fn replace<F>(&mut self, field: &Field<T, F>, value: F) -> Result<F, Error> {
        self.heap.clock.begin(OpKind::Set);
        let _op = op(
            OpKind::Set,
            Some(self.handle.id),
            std::any::type_name::<T>(),
        );
        let stored = self
            .heap
            .owner
            .rw(&*self.handle.link)
            .as_mut()
            .expect("a viewed object is live");
        match stored.set_quiet(field, value, self.heap.stats.tally()) {
            Ok(old) => {
                self.heap
                    .wrote(self.handle.id.key, field.mask(), T::FIELDS.len());
                Ok(old)
            }
            Err(Own::Loud(value)) => self.heap.set_through_barrier(self.handle, field, value),
            Err(failed) => {
                self.heap.rolled_back();
                Err(raise(failed.into_error::<T>(self.handle.id)))
            }
        }
    }

    /// Reads a cached method's value, computing it if it is not valid, as [`Heap::cached`](crate::Heap::cached).
    ///
    /// # Errors
    /// As [`Heap::cached`](crate::Heap::cached).
    #[inline]
    pub fn cached<V: Send + Sync + 'static>(&self, cache: &Cache<T, V>) -> Result<&V, Error> {
        match (cache.cell)(&self.stored().cells).get() {
            Some(v) => {
                self.heap.stats.hit();
                Ok(v)
            }
            None => self.heap.cache_miss(self.handle.id, cache),
        }
    }

    #[inline(always)]
    fn stored(&self) -> &Stored<T> {
        self.heap
            .owner
            .ro(&*self.handle.link)
            .as_ref()
            .expect("a viewed object is live")
    }
}

impl<T: Object> Deref for ViewMut<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.get()
    }
}

impl<T: Object> fmt::Debug for ViewMut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ViewMut<{}>({})",
            std::any::type_name::<T>(),
            self.handle.id
        )
    }
}
