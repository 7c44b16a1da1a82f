//! Operations over several objects in an overlay: [`LayerTransaction`], checked once at its
//! end against the overlay's invariants, and rolled back in the overlay whole.

use crate::barrier::writer::{Saves, Writer};
use crate::decl::cache::Cache;
use crate::decl::field::{Field, FieldMask};
use crate::decl::object::{Aliasable, Object};
use crate::error::Error;
use crate::heap::handle::{Capsule, Handle, Mutable, Writable};
use crate::heap::parts::Core;
use crate::key::{ObjectId, ObjectKey, OverlayKey, Tag};
use crate::overlay::read::Layer;
use crate::overlay::write::{copy_of, restore, LayerMut};

use rustc_hash::FxHashMap;
use std::panic::{self, AssertUnwindSafe};

/// What puts one write's fields back (or takes back an object made).
type Undo = Box<dyn FnOnce(&mut Core, OverlayKey) + Send>;

/// An operation over any number of objects in an overlay, open inside
/// [`LayerMut::transaction`]: the overlay's writes — [`set`](LayerTransaction::set),
/// [`replace`](LayerTransaction::replace), [`write`](LayerTransaction::write),
/// [`open_box`](LayerTransaction::open_box) — and its reads ([`get`](LayerTransaction::get),
/// [`cached`](LayerTransaction::cached)), which see the transaction's writes. The overlay's
/// invariants are checked once, when it ends; if one fails, if the closure returns `Err` or
/// panics, the overlay is put back as it was (copies it made are dropped). A
/// [`HeapMut`](crate::HeapMut): generated setters and mutators run in it.
pub struct LayerTransaction<'h> {
    core: &'h mut Core,
    key: OverlayKey,
    overlay: crate::key::Overlay,
    /// The fields each written object saved so far in the transaction.
    kept: FxHashMap<ObjectKey, FieldMask>,
    /// The objects the transaction copied into the overlay, in order.
    forked: Vec<ObjectKey>,
    undo: Vec<Undo>,
}

impl<'h> LayerTransaction<'h> {
    /// The overlay's reads, as they stand inside the transaction (see [`Layer`]).
    pub fn layer(&self) -> Layer<'_> {
        Layer::within(self.core, &self.overlay)
    }

    /// Reads an object as the overlay sees it, the transaction's writes included.
    ///
    /// # Errors
    /// As [`Layer::get`].
    pub fn get<T: Object>(&self, handle: &impl Handle<T>) -> Result<&T, Error> {
        self.layer().get(handle)
    }

    /// Reads a cached method's value as the overlay sees it, the transaction's writes
    /// included.
    ///
    /// # Errors
    /// As [`Layer::cached`].
    pub fn cached<'a, T: Object, V: Send + Sync + 'static, H: Handle<T>>(
        &'a self,
        handle: &'a H,
        cache: &Cache<T, V>,
    ) -> Result<&'a V, Error> {
        Layer::within(self.core, &self.overlay).cached(handle, cache)
    }

    /// Sets a field of a mutable object; checked when the transaction ends.
    ///
    /// # Errors
    /// The handle's errors, [`Error::Immutable`] and [`Error::NotForkable`]; invariants are
    /// checked at the end.
    pub fn set<T: Object, F>(
        &mut self,
        handle: &Mutable<T>,
        field: &Field<T, F>,
        value: F,
    ) -> Result<(), Error> {
        self.replace(handle, field, value).map(drop)
    }

    /// Sets a field, as [`set`](LayerTransaction::set), and returns the old value.
    ///
    /// # Errors
    /// As [`set`](LayerTransaction::set).
    pub fn replace<T: Object, F>(
        &mut self,
        handle: &Mutable<T>,
        field: &Field<T, F>,
        value: F,
    ) -> Result<F, Error> {
        self.edit(handle.id(), false, |w| w.replace(field, value))
    }

    /// Writes to a mutable object, or runs a capsule's mutator, through a [`Writer`].
    ///
    /// # Errors
    /// As [`set`](LayerTransaction::set).
    pub fn write<T: Object, R>(
        &mut self,
        handle: &impl Writable<T>,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Result<R, Error> {
        self.edit(handle.id(), false, f)
    }

    /// Opens a capsule's box.
    ///
    /// # Errors
    /// As [`set`](LayerTransaction::set).
    pub fn open_box<T: Object, R>(
        &mut self,
        capsule: &Capsule<T>,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<R, Error> {
        self.edit(capsule.id(), true, |w: &mut Writer<'_, T>| {
            f(w.__fields_mut(FieldMask::ALL))
        })
    }

    /// Makes a mutable object in the overlay (see [`LayerMut::mutable`]); checked when the
    /// transaction ends, and taken back if it rolls back.
    ///
    /// # Errors
    /// [`Error::Schema`] if a hand-written [`Object`] impl does not hold together.
    pub fn mutable<T: Aliasable>(&mut self, value: T) -> Result<Mutable<T>, Error> {
        let key = self.insert(value, Tag::Mutable)?;
        Ok(Mutable::new(self.core.id_of(key.0), key.1))
    }

    /// Makes a capsule object in the overlay (see [`mutable`](LayerTransaction::mutable)).
    ///
    /// # Errors
    /// As [`mutable`](LayerTransaction::mutable).
    pub fn capsule<T: Object>(&mut self, value: T) -> Result<Capsule<T>, Error> {
        let key = self.insert(value, Tag::Capsule)?;
        Ok(Capsule::new(self.core.id_of(key.0), key.1))
    }

    fn insert<T: Object>(
        &mut self,
        value: T,
        tag: Tag,
    ) -> Result<(ObjectKey, std::sync::Arc<crate::decl::stored::Link<T>>), Error> {
        let (key, link) = self.core.layer_insert(self.key, value, tag)?;
        self.undo.push(Box::new(move |core, overlay| {
            drop(core.layer_uninsert(overlay, key));
        }));
        Ok((key, link))
    }

    /// Removes an object in the overlay (see [`LayerMut::remove`]); checked when the
    /// transaction ends, and put back if it rolls back.
    ///
    /// # Errors
    /// [`Error::Referenced`] if immutable objects hold it; the handle's errors.
    pub fn remove<T: Object>(&mut self, handle: &impl Handle<T>) -> Result<(), Error> {
        let removal = self.core.layer_mark_removed::<T>(self.key, handle.id())?;
        self.undo.push(Box::new(move |core, overlay| {
            core.layer_unremove(overlay, removal)
        }));
        Ok(())
    }

    /// One write: copies the object in on its first write, saves what it writes (once per
    /// field per transaction) and dirties what read it.
    fn edit<T: Object, R>(
        &mut self,
        id: ObjectId,
        whole: bool,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Result<R, Error> {
        let core = &mut *self.core;
        let key = core.layer_writable::<T>(self.key, id)?;
        core.overlays.open[self.key].dirty_shadowed(&mut core.owner);
        let state = &core.overlays.open[self.key];
        if !state.forked(key) && !state.created(key) {
            core.fork(self.key, id, key)?;
            self.forked.push(key);
        }
        let kept = self.kept.entry(key).or_insert(FieldMask::EMPTY);
        let w = Writer::run(copy_of::<T>(core, self.key, key), *kept, whole, f);
        *kept = w.kept;
        if !w.saved.is_empty() {
            let saved: Saves<T::Saved> = w.saved;
            self.undo.push(Box::new(move |core, overlay| {
                restore::<T>(copy_of::<T>(core, overlay, key), saved)
            }));
        }
        let state = &mut core.overlays.open[self.key];
        let readers = state.readers_of(key, w.written);
        state.dirty(&mut core.owner, readers);
        match w.out {
            Ok(out) => Ok(out),
            Err(payload) => panic::resume_unwind(payload),
        }
    }

    /// Checks the overlay once; on failure puts everything back.
    fn end(mut self) -> Result<(), Error> {
        let core = &mut *self.core;
        let keys: Vec<ObjectKey> = self.kept.keys().copied().collect();
        for &key in &keys {
            core.owe_checks_of(self.key, key);
        }
        match core.settle_layer(&core.overlays.open[self.key]) {
            Ok(()) => Ok(()),
            Err(failure) => {
                let error = core.layer_failure_error(self.key, failure);
                self.roll_back();
                match error {
                    Ok(error) => Err(error),
                    Err(payload) => panic::resume_unwind(payload),
                }
            }
        }
    }

    /// Puts back every field the transaction wrote, and drops the copies it made.
    fn roll_back(&mut self) {
        let core = &mut *self.core;
        for undo in self.undo.drain(..).rev() {
            undo(core, self.key);
        }
        let state = &mut core.overlays.open[self.key];
        for &key in self.kept.keys() {
            let readers = state.readers_of(key, FieldMask::ALL);
            state.dirty(&mut core.owner, readers);
        }
        for &key in self.forked.iter().rev() {
            core.unfork(self.key, key);
        }
        for &key in self.kept.keys() {
            if core.overlays.open[self.key].forked(key) {
                core.owe_checks_of(self.key, key);
            }
        }
        // As before the transaction: what it brings up to date held then.
        let _ = core.settle_layer(&core.overlays.open[self.key]);
    }
}

impl LayerMut<'_> {
    /// Runs `f` as one operation of the overlay over any number of objects, checked once at
    /// its end (see [`LayerTransaction`]). Returns what `f` returns; if `f` returns `Err`,
    /// panics, or leaves an invariant failing in the overlay, nothing it did stays.
    ///
    /// ```
    /// use steadfast::{cached, mutable, Error, Heap};
    ///
    /// #[mutable]
    /// #[derive(Clone)]
    /// struct Account { balance: i64 }
    ///
    /// #[cached]
    /// impl Account {}
    ///
    /// let mut heap = Heap::new();
    /// let (a, b) = (heap.mutable(Account { balance: 10 })?, heap.mutable(Account { balance: 0 })?);
    /// let ov = heap.overlay();
    /// heap.layer_mut(&ov)?.transaction(|tx| {
    ///     Account::set_balance(tx, &a, 3)?;
    ///     Account::set_balance(tx, &b, 7)
    /// })?;
    /// let layer = heap.layer(&ov)?;
    /// assert_eq!((layer.get(&a)?.balance, layer.get(&b)?.balance), (3, 7));
    /// assert_eq!((heap[&a].balance, heap[&b].balance), (10, 0));
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    /// The closure's own `Err`, with everything it did undone; or, when it returned `Ok`,
    /// [`Error::Invariant`] if an invariant fails in the overlay at the end (everything
    /// undone). A panic in the closure is passed on after everything is undone.
    pub fn transaction<R, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&mut LayerTransaction<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let (core, overlay) = self.parts();
        let mut tx = LayerTransaction {
            core,
            key: overlay.key,
            overlay,
            kept: FxHashMap::default(),
            forked: Vec::new(),
            undo: Vec::new(),
        };
        match panic::catch_unwind(AssertUnwindSafe(|| f(&mut tx))) {
            Ok(Ok(out)) => tx.end().map(|()| out).map_err(E::from),
            Ok(Err(error)) => {
                tx.roll_back();
                Err(error)
            }
            Err(payload) => {
                tx.roll_back();
                panic::resume_unwind(payload)
            }
        }
    }
}
