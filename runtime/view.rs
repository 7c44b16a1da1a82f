//! A borrowed object: its value and its caches, reached once.

use std::fmt;
use std::ops::Deref;

use crate::error::Error;
use crate::handle::{Handle, ObjectId};
use crate::heap::{Heap, Stored};
use crate::object::{Cache, Object};

/// An object of a borrowed [`Heap`], with its handle checked once: reading its caches
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
/// let view = heap.view(c)?;
/// assert_eq!(view.radius, 2.0); // the value
/// let area = *view.cache(&Circle::AREA)?; // a cache
/// assert!((area - 12.566).abs() < 1e-3);
/// # Ok::<(), steadfast::Error>(())
/// ```
pub struct View<'h, T: Object> {
    heap: &'h Heap,
    id: ObjectId,
    value: &'h T,
    /// The cells holding the object's caches: its own, or its class's representative's.
    shared: &'h Stored<T>,
    /// Immutable: no write can invalidate its cells, so reads need not mark them as read
    /// (the mark tells the barrier which invalidated caches to recompute at once).
    imm: bool,
}

impl Heap {
    /// A view of an object, for repeated reads of its value and caches.
    ///
    /// # Errors
    /// A stale or foreign handle.
    pub fn view<T: Object>(&self, handle: impl Handle<T>) -> Result<View<'_, T>, Error> {
        let id = handle.id();
        let (slot, key) = self.typed_slot::<T>(id)?;
        let value = &self.stored_in::<T>(slot)?.value;
        let (rep, _) = self.shared_by(slot, key);
        Ok(View {
            heap: self,
            id,
            value,
            shared: self.stored_in::<T>(rep)?,
            imm: slot.tag == crate::handle::Tag::Imm,
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
    /// [`Heap::cache`]).
    ///
    /// # Errors
    /// As [`Heap::cache`].
    #[inline]
    pub fn cache<V: Send + Sync + 'static>(&self, cache: &Cache<T, V>) -> Result<&'h V, Error> {
        let cell = (cache.cell)(&self.shared.cells);
        let hit = if self.imm { cell.peek() } else { cell.get() };
        match hit {
            Some(v) => Ok(v),
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
