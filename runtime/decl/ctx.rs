//! What a cached computation sees: [`Ctx`]. Reads of its own object are here; reads of
//! other objects, which record dependency edges, are in `track::read`.

use crate::decl::field::{Field, FieldMask};
use crate::heap::parts::Core;
use crate::key::ObjectId;
use crate::overlay::state::OverlayState;
use crate::track::frame::Frame;

/// What a cached computation sees: its own object's fields and the rest of the heap,
/// every read recorded so that exactly the writes that can change the result invalidate it.
///
/// It gives shared access only: a computation cannot write to the heap.
pub struct Ctx<'a, T> {
    pub(crate) this: &'a T,
    pub(crate) id: ObjectId,
    pub(crate) heap: &'a Core,
    pub(crate) frame: &'a Frame<'a>,
    /// The overlay the computation runs in, if it runs in one: its reads resolve through it.
    pub(crate) layer: Option<&'a OverlayState>,
}

impl<'a, T> Ctx<'a, T> {
    /// Reads a field of this object; a write to it will invalidate the computation.
    #[inline]
    pub fn field<F>(&self, field: &Field<T, F>) -> &'a F {
        self.frame
            .reads
            .set(self.frame.reads.get() | field.mask().0);
        field.get(self.this)
    }

    /// Reads the fields in `fields` (the derive destructures the result); a write to one of
    /// them will invalidate the computation.
    #[doc(hidden)]
    #[inline]
    pub fn __fields(&self, fields: FieldMask) -> &'a T {
        self.frame.reads.set(self.frame.reads.get() | fields.0);
        self.this
    }

    /// Reads the whole object; a write to any field will invalidate the computation.
    pub fn all(&self) -> &'a T {
        self.frame.reads.set(u64::MAX);
        self.this
    }

    /// The id of this object.
    pub fn id(&self) -> ObjectId {
        self.id
    }
}
