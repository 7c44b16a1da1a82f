//! Reads of other objects from a computation: each records the edge that lets exactly
//! the writes that can change the result invalidate it.

use crate::decl::cache::Cache;
use crate::decl::ctx::Ctx;
use crate::decl::field::{Field, FieldMask};
use crate::decl::object::Object;
use crate::error::Error;
use crate::heap::handle::Handle;
use crate::heap::parts::{Core, Slot};
use crate::key::{CellId, ObjectId, ObjectKey};
use crate::track::frame::Frame;
use crate::track::graph::Dep;

impl<'a, T: Object> Ctx<'a, T> {
    /// Reads another object; any write to it will invalidate the computation.
    ///
    /// # Errors
    /// [`Error::Removed`] for a removed object (also one being removed: the computation
    /// sees it gone), [`Error::ForeignHandle`] for another heap's. The computation is
    /// invalidated when the object is removed, so it may return a value made of the error.
    pub fn get<U: Object>(&self, handle: &impl Handle<U>) -> Result<&'a U, Error> {
        self.heap_field(handle.id(), FieldMask::ALL, |u: &'a U| u)
    }

    /// Reads one field of another object; only writes to that field invalidate the
    /// computation.
    ///
    /// # Errors
    /// As [`get`](Ctx::get).
    pub fn field_of<U: Object, F>(
        &self,
        handle: &impl Handle<U>,
        field: &Field<U, F>,
    ) -> Result<&'a F, Error> {
        self.heap_field(handle.id(), field.mask(), |u: &'a U| field.get(u))
    }

    fn heap_field<U: Object, R: ?Sized>(
        &self,
        id: ObjectId,
        mask: FieldMask,
        project: impl FnOnce(&'a U) -> &'a R,
    ) -> Result<&'a R, Error> {
        if let Some(state) = self.layer {
            return self.layer_field(state, id, mask).map(project);
        }
        let (slot, key) = self.heap.typed_slot::<U>(id)?;
        let value = self.heap.value_of::<U>(slot)?;
        let me = self.frame.cell;
        let mut graph = slot.graph.lock();
        graph.readers.add(me, mask);
        let overlaid = graph.overlays;
        drop(graph);
        self.heap.make_loud(slot, mask);
        self.frame.depend(Dep::Fields(key));
        if overlaid != 0 {
            self.heap.shadow_reader(overlaid, me, Dep::Fields(key));
        }
        Ok(project(value))
    }

    /// Reads a cached value of another object (or of this one, through its handle); the
    /// computation is invalidated when that value changes.
    ///
    /// If the value is, directly or through other caches, the one being computed, this
    /// returns [`Error::Cycle`] and the computation is abandoned: whatever it returns is
    /// dropped, its own reader gets the same error, and so on up to the outermost read,
    /// which returns it. Pass the error on (with `?`, or return any value): unwrapping it
    /// panics, which the runtime also reports as the cycle when panics unwind, but which
    /// ends a program built with `panic = "abort"`.
    ///
    /// # Errors
    /// As [`get`](Ctx::get), and [`Error::Cycle`]; a `lazy`/`eager` cache of an immutable
    /// object whose eager computation panicked on a worker is [`Error::Panicked`].
    pub fn cached<U: Object, V: Send + Sync + 'static>(
        &self,
        handle: &impl Handle<U>,
        cache: &Cache<U, V>,
    ) -> Result<&'a V, Error> {
        self.cache_of(handle.id(), cache)
    }

    /// Reads another cached value of this object; the computation is invalidated when
    /// that value changes. A cycle is handled as in [`Ctx::cached`].
    ///
    /// # Errors
    /// [`Error::Cycle`] if the value is, directly or through other caches, the one being
    /// computed; [`Error::Panicked`] as in [`Ctx::cached`].
    pub fn own<V: Send + Sync + 'static>(&self, cache: &Cache<T, V>) -> Result<&'a V, Error> {
        self.cache_of(self.id, cache)
    }

    fn cache_of<U: Object, V: Send + Sync + 'static>(
        &self,
        id: ObjectId,
        cache: &Cache<U, V>,
    ) -> Result<&'a V, Error> {
        if let Some(state) = self.layer {
            return self.layer_cache(state, id, cache);
        }
        let (slot, key) = self.heap.typed_slot::<U>(id)?;
        if slot.class.is_some() {
            // The value is the class's, and stays when this member goes; the read of this
            // member does not: its removal invalidates the computation.
            self.heap.read_existence(slot, key, self.frame);
        }
        let id = CellId {
            key,
            index: cache.index() as u32,
        };
        let mut cell = (cache.cell)(&self.heap.stored_in::<U>(slot)?.cells);
        let (mut slot, mut id) = (slot, id);
        let value = match cell.get() {
            Some(v) => {
                self.heap.stats.hit();
                v
            }
            None => {
                // Equal immutable objects share their caches (and this edge).
                let (rep, key) = self.heap.shared_by(slot, key);
                (slot, id.key) = (rep, key);
                cell = (cache.cell)(&self.heap.stored_in::<U>(slot)?.cells);
                if let Err(e) = self.heap.refresh(id, Some(self.frame)) {
                    return Err(self.frame.fail(e));
                }
                cell.get().expect("a refreshed cell is valid")
            }
        };
        let mut graph = slot.graph.lock();
        // The cell gains a dependent: it is tracked from now on.
        graph.materialize(|| slot.ops.nodes(self.heap.rev, true));
        let node = &mut graph.nodes[id.index as usize];
        node.dependents.insert(self.frame.cell);
        let reads = node.reads;
        let overlaid = graph.overlays;
        drop(graph);
        self.heap.make_loud(slot, reads);
        self.frame.depend(Dep::Cell(id));
        if overlaid != 0 {
            self.heap
                .shadow_reader(overlaid, self.frame.cell, Dep::Cell(id));
        }
        Ok(value)
    }
}

impl Core {
    /// Records that the computation in `frame` read the object in `slot` (not its fields):
    /// only its removal invalidates the computation.
    fn read_existence(&self, slot: &Slot, key: ObjectKey, frame: &Frame<'_>) {
        slot.graph.lock().readers.add(frame.cell, FieldMask::EMPTY);
        frame.depend(Dep::Fields(key));
    }
}
