//! Writes in an overlay: [`LayerMut`]. The first write to an object copies it into the
//! overlay ([`Object::fork`]); the base cells whose reads reach it are computed in the
//! overlay from then on. Each write is an operation of the overlay: it dirties exactly the
//! overlay's cells that read what it wrote, brings the overlay's `now` and `eager` caches up
//! to date and checks its invariants once; if one fails (or the write panics), the fields go
//! back and nothing the write did is seen.

use crate::barrier::writer::{Saves, Writer};
use crate::decl::cache::Cache;
use crate::decl::field::{Field, FieldMask};
use crate::decl::object::{Aliasable, Object};
use crate::decl::ops::{fork_stored_mut, stored_mut};
use crate::error::Error;
use crate::heap::handle::{Capsule, Handle, Mutable, Writable};
use crate::heap::parts::Core;
use crate::key::Overlay;
use crate::key::{CellId, ObjectId, ObjectKey, OverlayKey, Tag};
use crate::overlay::read::{Layer, LayerFailure};

use std::panic;

/// Writes to a heap as an overlay: every write lands on the overlay's copy of its object,
/// and the base is not changed (see [`Heap::overlay`](crate::Heap::overlay)). Made by
/// [`Heap::layer_mut`](crate::Heap::layer_mut).
///
/// It has the heap's writes — [`set`](LayerMut::set), [`replace`](LayerMut::replace),
/// [`write`](LayerMut::write), [`open_box`](LayerMut::open_box) — and implements
/// [`HeapMut`](crate::HeapMut), so generated setters and mutators run in an overlay as they
/// do on the heap: `Account::deposit(&mut layer, &account, 5)`. Each write is checked once,
/// at its end, against the invariants as the overlay sees them; a failure puts the overlay
/// back as it was. [`layer`](LayerMut::layer) gives its reads.
pub struct LayerMut<'h> {
    core: &'h mut Core,
    overlay: Overlay,
}

impl<'h> LayerMut<'h> {
    pub(crate) fn new(core: &'h mut Core, overlay: &Overlay) -> Result<Self, Error> {
        core.check_overlay(overlay)?;
        if core.barrier.in_barrier {
            return Err(Error::OverlayInTransaction { overlay: *overlay });
        }
        Ok(LayerMut {
            core,
            overlay: *overlay,
        })
    }

    /// The overlay this view writes.
    pub fn overlay(&self) -> Overlay {
        self.overlay
    }

    /// The overlay's reads (see [`Layer`]).
    pub fn layer(&self) -> Layer<'_> {
        Layer::new(self.core, &self.overlay).expect("checked when the view was made")
    }

    /// Reads an object as the overlay sees it ([`Layer::get`]).
    ///
    /// # Errors
    /// As [`Layer::get`].
    pub fn get<T: Object>(&self, handle: &impl Handle<T>) -> Result<&T, Error> {
        self.layer().get(handle)
    }

    /// Reads a cached method's value as the overlay sees it ([`Layer::cached`]).
    ///
    /// # Errors
    /// As [`Layer::cached`].
    pub fn cached<'a, T: Object, V: Send + Sync + 'static, H: Handle<T>>(
        &'a self,
        handle: &'a H,
        cache: &Cache<T, V>,
    ) -> Result<&'a V, Error> {
        Layer::new(self.core, &self.overlay)
            .expect("checked when the view was made")
            .cached(handle, cache)
    }

    /// Sets a field of a mutable object in the overlay.
    ///
    /// # Errors
    /// [`Error::Invariant`] if an invariant fails in the overlay (the field keeps its old
    /// value there); [`Error::NotForkable`] if this is the overlay's first write to the
    /// object and its type makes no copy; the handle's errors and [`Error::Immutable`].
    pub fn set<T: Object, F>(
        &mut self,
        handle: &Mutable<T>,
        field: &Field<T, F>,
        value: F,
    ) -> Result<(), Error> {
        self.replace(handle, field, value).map(drop)
    }

    /// Sets a field, as [`set`](LayerMut::set), and returns the old value (the overlay's).
    ///
    /// # Errors
    /// As [`set`](LayerMut::set).
    pub fn replace<T: Object, F>(
        &mut self,
        handle: &Mutable<T>,
        field: &Field<T, F>,
        value: F,
    ) -> Result<F, Error> {
        self.operate(handle.id(), false, |w| w.replace(field, value))
    }

    /// Writes to a mutable object, or runs a capsule's mutator, in the overlay, through a
    /// [`Writer`] (see [`Heap::write`](crate::Heap::write)).
    ///
    /// # Errors
    /// As [`set`](LayerMut::set).
    pub fn write<T: Object, R>(
        &mut self,
        handle: &impl Writable<T>,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Result<R, Error> {
        self.operate(handle.id(), false, f)
    }

    /// Opens a capsule's box in the overlay (see [`Heap::open_box`](crate::Heap::open_box)).
    ///
    /// # Errors
    /// As [`set`](LayerMut::set).
    pub fn open_box<T: Object, R>(
        &mut self,
        capsule: &Capsule<T>,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<R, Error> {
        self.operate(capsule.id(), true, |w: &mut Writer<'_, T>| {
            f(w.__fields_mut(FieldMask::ALL))
        })
    }

    /// Makes a mutable object in the overlay: the base does not see it
    /// ([`Error::OverlayOnly`]) until a [`commit`](crate::Heap::commit), and a
    /// [`discard`](crate::Heap::discard) drops it. Its `now` and `eager` caches are computed
    /// and the overlay's invariants checked, as [`Heap::mutable`](crate::Heap::mutable) does.
    ///
    /// # Errors
    /// As [`Heap::mutable`](crate::Heap::mutable), the invariants being the overlay's.
    pub fn mutable<T: Aliasable>(&mut self, value: T) -> Result<Mutable<T>, Error> {
        let (key, link) = self
            .core
            .layer_create(self.overlay.key, value, Tag::Mutable)?;
        Ok(Mutable::new(self.core.id_of(key), link))
    }

    /// Makes a capsule object in the overlay (see [`mutable`](LayerMut::mutable)).
    ///
    /// # Errors
    /// As [`mutable`](LayerMut::mutable).
    pub fn capsule<T: Object>(&mut self, value: T) -> Result<Capsule<T>, Error> {
        let (key, link) = self
            .core
            .layer_create(self.overlay.key, value, Tag::Capsule)?;
        Ok(Capsule::new(self.core.id_of(key), link))
    }

    /// Removes an object in the overlay: its reads there return [`Error::Removed`], and a
    /// [`commit`](crate::Heap::commit) removes it from the heap. An operation of the overlay:
    /// if an invariant fails there without it, it stays.
    ///
    /// # Errors
    /// [`Error::Invariant`] as above; [`Error::Referenced`] if immutable objects hold it; the
    /// handle's errors.
    pub fn remove<T: Object>(&mut self, handle: &impl Handle<T>) -> Result<(), Error> {
        self.core.layer_remove::<T>(self.overlay.key, handle.id())
    }

    /// Drops the overlay's copy of an object: the overlay reads the base's object again (an
    /// editor's buffer saved, or its edits undone). Returns whether the overlay held a copy.
    /// It is an operation of the overlay: if an invariant fails there with the base's object,
    /// the copy stays and the error says which.
    ///
    /// # Errors
    /// [`Error::Invariant`] as above; the handle's errors.
    pub fn revert<T: Object>(&mut self, handle: &impl Handle<T>) -> Result<bool, Error> {
        self.core.layer_revert::<T>(self.overlay.key, handle.id())
    }

    /// The heap's core and the overlay, for a transaction.
    pub(crate) fn parts(&mut self) -> (&mut Core, Overlay) {
        (self.core, self.overlay)
    }

    fn operate<T: Object, R>(
        &mut self,
        id: ObjectId,
        whole: bool,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Result<R, Error> {
        self.core.layer_operate(self.overlay.key, id, whole, f)
    }
}

impl Core {
    /// One operation of an overlay on one object (see the module's docs).
    pub(crate) fn layer_operate<T: Object, R>(
        &mut self,
        overlay: OverlayKey,
        id: ObjectId,
        whole: bool,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Result<R, Error> {
        let key = self.layer_writable::<T>(overlay, id)?;
        self.overlays.open[overlay].dirty_shadowed(&mut self.owner);
        let state = &self.overlays.open[overlay];
        let forked = !state.forked(key) && !state.created(key);
        if forked {
            self.fork(overlay, id, key)?;
        }
        let w = Writer::run(copy_of::<T>(self, overlay, key), FieldMask::EMPTY, whole, f);
        let out = match w.out {
            Ok(out) => out,
            Err(payload) => {
                restore::<T>(copy_of::<T>(self, overlay, key), w.saved);
                if forked {
                    self.unfork(overlay, key);
                }
                panic::resume_unwind(payload)
            }
        };
        let state = &mut self.overlays.open[overlay];
        let was_broken = state.broken.get_mut().clone();
        let readers = state.readers_of(key, w.written);
        state.dirty(&mut self.owner, readers);
        self.owe_checks_of(overlay, key);
        let failure = match self.settle_layer(&self.overlays.open[overlay]) {
            Ok(()) => return Ok(out),
            Err(failure) => failure,
        };
        // The invariant's error first, then the fields go back and what read them is
        // dirtied (what the checks computed from the written values with them).
        let error = self.layer_failure_error(overlay, failure);
        restore::<T>(copy_of::<T>(self, overlay, key), w.saved);
        let state = &mut self.overlays.open[overlay];
        let dirty = state.readers_of(key, w.written);
        state.dirty(&mut self.owner, dirty);
        *state.broken.get_mut() = was_broken;
        if forked {
            // The copy was this write's: the object is the base's again.
            self.unfork(overlay, key);
        } else {
            self.owe_checks_of(overlay, key);
        }
        // As before the write: what it brings up to date held then.
        let _ = self.settle_layer(&self.overlays.open[overlay]);
        match error {
            Ok(error) => Err(error),
            Err(payload) => panic::resume_unwind(payload),
        }
    }

    /// The key of a live object of type `T` the overlay may write: a base object that is
    /// not immutable, or one the overlay made.
    pub(crate) fn layer_writable<T: Object>(
        &self,
        overlay: OverlayKey,
        id: ObjectId,
    ) -> Result<ObjectKey, Error> {
        let (slot, key) = self.layer_slot::<T>(&self.overlays.open[overlay], id)?;
        match slot.tag {
            crate::key::Tag::Imm => Err(Error::Immutable {
                object: id,
                type_name: std::any::type_name::<T>(),
            }),
            _ => Ok(key),
        }
    }

    /// [`LayerMut::revert`].
    pub(crate) fn layer_revert<T: Object>(
        &mut self,
        overlay: OverlayKey,
        id: ObjectId,
    ) -> Result<bool, Error> {
        if id.heap == self.id && self.overlays.open[overlay].removed(id.key) {
            return self.layer_unremove_checked(overlay, id);
        }
        let (_, key) = self.layer_slot::<T>(&self.overlays.open[overlay], id)?;
        let state = &mut self.overlays.open[overlay];
        if !state.forked(key) {
            return Ok(false);
        }
        state.dirty_shadowed(&mut self.owner);
        let was_broken = state.broken.get_mut().clone();
        // The overlay no longer writes it: what the base wrote since is no conflict.
        let conflict = state.conflicts.remove(&key);
        let copy = self.unfork(overlay, key).expect("forked");
        let failure = match self.settle_layer(&self.overlays.open[overlay]) {
            Ok(()) => return Ok(true),
            Err(failure) => failure,
        };
        let error = self.layer_failure_error(overlay, failure);
        // The copy goes back, and what read the base's object in the meantime is dirtied.
        let state = &mut self.overlays.open[overlay];
        state.dirty_readers(&mut self.owner, key);
        if conflict {
            state.conflicts.insert(key);
        }
        *state.broken.get_mut() = was_broken;
        let slot = &self.slots[key];
        slot.ops.attach_fork(&slot.obj, &mut self.owner, &*copy);
        let state = &mut self.overlays.open[overlay];
        state.entry_mut(key).expect("an entry").fork = Some(copy);
        self.owe_checks_of(overlay, key);
        let _ = self.settle_layer(&self.overlays.open[overlay]);
        match error {
            Ok(error) => Err(error),
            Err(payload) => panic::resume_unwind(payload),
        }
    }

    /// The error a failed check of the overlay reports (or the panic to resume); a failed
    /// invariant's cell is dirtied once its error is taken.
    pub(crate) fn layer_failure_error(
        &mut self,
        overlay: OverlayKey,
        failure: LayerFailure,
    ) -> Result<Error, Box<dyn std::any::Any + Send>> {
        match failure {
            LayerFailure::Invariant(failed) => {
                let invariant = self.name_of(failed);
                let state = &mut self.overlays.open[overlay];
                let entry = state.entry_mut(failed.key).expect("a held cell");
                let source = entry
                    .ops
                    .take_layer_failure(entry, &mut self.owner, failed.index as usize)
                    .expect("a failed invariant holds its error");
                state.dirty(&mut self.owner, vec![failed]);
                Ok(Error::Invariant {
                    invariant,
                    source,
                    value: None,
                })
            }
            LayerFailure::Error(error) => Ok(error),
            LayerFailure::Panic(payload) => Err(payload),
        }
    }

    /// The object's `now` and `eager` caches that are not valid in the overlay are owed a
    /// check (a new copy has none).
    pub(crate) fn owe_checks_of(&mut self, overlay: OverlayKey, key: ObjectKey) {
        let state = &mut self.overlays.open[overlay];
        let entry = state.entry(key).expect("an entry");
        let owed: Vec<CellId> = (0..entry.shadowed.len())
            .filter(|&i| entry.ops.is_eager(i) && !entry.cell(&self.owner, i).is_ready())
            .map(|i| CellId {
                key,
                index: i as u32,
            })
            .collect();
        state.pending.get_mut().check.extend(owed);
    }

    /// Copies the object at `key` into the overlay: the base cells whose recorded reads
    /// reach it are computed in the overlay from now on, and what the overlay computed from
    /// the base's value of it is dirtied.
    pub(crate) fn fork(
        &mut self,
        overlay: OverlayKey,
        id: ObjectId,
        key: ObjectKey,
    ) -> Result<(), Error> {
        let slot = &self.slots[key];
        let obj = slot.obj.get(&self.owner);
        let copy = slot
            .ops
            .fork(obj, &self.owner, overlay)
            .ok_or(Error::NotForkable {
                object: id,
                type_name: slot.ops.type_name(),
            })?;
        self.take_over(&self.overlays.open[overlay], key);
        let ops = slot.ops;
        let state = &mut self.overlays.open[overlay];
        state.dirty_readers(&mut self.owner, key);
        state.dirty_shadowed(&mut self.owner);
        ops.attach_fork(&self.slots[key].obj, &mut self.owner, &*copy);
        let entry = state.entry_mut(key).expect("made above");
        entry.fork = Some(copy);
        Ok(())
    }

    /// Drops the overlay's copy of the object at `key` (made by a write that was refused):
    /// the overlay reads the base's again.
    pub(crate) fn unfork(
        &mut self,
        overlay: OverlayKey,
        key: ObjectKey,
    ) -> Option<Box<dyn std::any::Any + Send + Sync>> {
        let state = &mut self.overlays.open[overlay];
        let copy = state.unfork(&mut self.owner, key)?;
        if let Some(slot) = self.slots.get(key) {
            slot.ops.detach_fork(&slot.obj, &mut self.owner, overlay);
        }
        Some(copy)
    }
}

/// The value of a `T` the overlay writes: its copy of a base object, or the object it made
/// (whose value is in the base's slot, hidden from the base).
pub(crate) fn copy_of<T: Object>(core: &mut Core, overlay: OverlayKey, key: ObjectKey) -> &mut T {
    let Core {
        slots,
        overlays,
        owner,
        ..
    } = core;
    let entry = overlays.open[overlay]
        .entry_mut(key)
        .expect("written or made in the overlay");
    match entry.fork.as_deref() {
        Some(fork) => &mut fork_stored_mut::<T>(fork, owner).value,
        None => &mut stored_mut::<T>(slots[key].obj.get_mut(owner)).value,
    }
}

/// Puts back the fields a writer saved.
pub(crate) fn restore<T: Object>(value: &mut T, saved: Saves<T::Saved>) {
    for s in saved.into_rev() {
        value.restore(s);
    }
}
