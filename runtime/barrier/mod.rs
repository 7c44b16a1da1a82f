//! The write barrier: every write ends here. It invalidates what the write can change,
//! brings `now` caches (and caches that were being read) up to date once, and commits —
//! or, if an invariant fails or a computation panics, puts everything back.

use crate::barrier::journal::{keep_reads, Journal, Saved};
use crate::barrier::own::Own;
use crate::decl::field::{Field, FieldMask, Ones};
use crate::decl::object::sealed::{Cells as _, Refill};
use crate::decl::object::Object;
use crate::decl::stored::{Link, Stored};
use crate::error::Error;
use crate::heap::handle::{Capsule, Mut, Writable};
use crate::heap::parts::{Core, Slot};
use crate::key::{CellId, ObjectId, ObjectKey, Tag};
use crate::track::frame::Frame;
use crate::track::graph::{Node, State};

pub(crate) mod alloc;
pub(crate) mod journal;
pub(crate) mod own;
pub(crate) mod remove;
pub(crate) mod transaction;

use std::any::Any;
use std::mem;
use std::panic::{self, AssertUnwindSafe};

/// Why a barrier did not commit.
pub(crate) enum Failure {
    /// This invariant's value is an `Err`.
    Invariant(CellId),
    /// A computation that had to run needed its own value.
    Cycle(Error),
    /// A computation that had to run panicked; the payload is re-raised after rollback.
    Panic(Box<dyn Any + Send>),
}

/// What [`Heap::write_quiet`] did.
enum Quiet {
    /// The write was quiet, and its barrier is done.
    Yes,
    /// It was not: the full barrier must run (nothing was invalidated yet).
    No,
    /// It was quiet and a `now` cell failed (or panicked); the cells are as before the
    /// write, and the caller puts the fields back.
    Failed(Result<Error, Box<dyn Any + Send>>),
}

/// The fields a [`Writer`] saved before writing them, in order. Most operations save once:
/// that one save stays inline, so a mutator does not allocate for its rollback record.
pub(crate) struct Saves<S> {
    first: Option<S>,
    more: Vec<S>,
}

impl<S> Default for Saves<S> {
    fn default() -> Self {
        Saves {
            first: None,
            more: Vec::new(),
        }
    }
}

impl<S> Saves<S> {
    fn push(&mut self, saved: S) {
        match self.first {
            None => self.first = Some(saved),
            Some(_) => self.more.push(saved),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// The saves, first first.
    pub(crate) fn into_iter(self) -> impl Iterator<Item = S> {
        self.first.into_iter().chain(self.more)
    }

    /// The saves, last first: the order that puts back the oldest value of each field.
    pub(crate) fn into_rev(self) -> impl Iterator<Item = S> {
        self.more.into_iter().rev().chain(self.first)
    }
}

/// Write access to one object inside [`Heap::write`]: each field is
/// written through its descriptor, so the barrier knows what changed and saves each field
/// once, before its first write, in case the operation is rolled back.
pub struct Writer<'a, T: Object> {
    value: &'a mut T,
    written: FieldMask,
    /// The fields saved so far: by this writer, and by the transaction it belongs to.
    kept: FieldMask,
    saved: Saves<T::Saved>,
    /// `T::save` declined: a rollback removes the object instead of restoring it.
    lost: bool,
}

impl<'a, T: Object> Writer<'a, T> {
    fn new(value: &'a mut T, kept: FieldMask) -> Self {
        Writer {
            value,
            written: FieldMask::EMPTY,
            kept,
            saved: Saves::default(),
            lost: false,
        }
    }

    /// Reads a field.
    pub fn field<F>(&self, field: &Field<T, F>) -> &F {
        field.get(self.value)
    }

    /// Writes a field in place.
    pub fn field_mut<F>(&mut self, field: &Field<T, F>) -> &mut F {
        self.touch(field.mask());
        field.get_mut(self.value)
    }

    /// Replaces a field, returning the old value.
    pub fn set<F>(&mut self, field: &Field<T, F>, value: F) -> F {
        mem::replace(self.field_mut(field), value)
    }

    /// Unchecked access to the fields in `fields`, all at once. Used by the derive, which
    /// borrows exactly those fields; writing another field breaks coherence.
    #[doc(hidden)]
    pub fn __fields_mut(&mut self, fields: FieldMask) -> &mut T {
        self.touch(fields);
        self.value
    }

    pub(crate) fn touch(&mut self, fields: FieldMask) {
        self.written = self.written.union(fields);
        let new = FieldMask(fields.0 & !self.kept.0);
        if new.is_empty() {
            return;
        }
        match self.value.save(new) {
            Some(saved) => self.saved.push(saved),
            None => self.lost = true,
        }
        self.kept = self.kept.union(new);
    }
}

/// What [`Writer::run`] leaves: the closure's result or its panic, the fields it wrote, the
/// fields saved so far, the saves, and whether a save was declined.
pub(crate) struct Written<R, S> {
    pub(crate) out: std::thread::Result<R>,
    pub(crate) written: FieldMask,
    pub(crate) kept: FieldMask,
    pub(crate) saved: Saves<S>,
    pub(crate) lost: bool,
}

impl<'a, T: Object> Writer<'a, T> {
    /// Runs `f` on `value` through a writer — which first saves every field, for a box
    /// (`whole`) — catching a panic. `kept`: the fields the enclosing operation saved
    /// already.
    #[inline(always)]
    pub(crate) fn run<R>(
        value: &'a mut T,
        kept: FieldMask,
        whole: bool,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Written<R, T::Saved> {
        let mut writer = Writer::new(value, kept);
        if whole {
            writer.touch(FieldMask::ALL);
        }
        let out = panic::catch_unwind(AssertUnwindSafe(|| f(&mut writer)));
        Written {
            out,
            written: writer.written,
            kept: writer.kept,
            saved: writer.saved,
            lost: writer.lost,
        }
    }
}

impl Core {
    /// [`Heap::set`](crate::Heap::set).
    #[inline(always)]
    pub(crate) fn set<T: Object, F>(
        &mut self,
        handle: &Mut<T>,
        field: &Field<T, F>,
        mut value: F,
    ) -> Result<F, Error> {
        // The heap first: `qcell` panics on another heap's storage.
        if handle.id.heap == self.id {
            if let Some(stored) = self.owner.rw(&*handle.link) {
                match stored.set_quiet(field, value) {
                    Ok(old) => return Ok(old),
                    Err(Own::Loud(loud)) => value = loud,
                    Err(failed) => return Err(raise(failed.into_error::<T>(handle.id))),
                }
            }
        }
        self.set_through_barrier(handle, field, value)
    }

    #[inline(never)]
    pub(crate) fn set_through_barrier<T: Object, F>(
        &mut self,
        handle: &Mut<T>,
        field: &Field<T, F>,
        value: F,
    ) -> Result<F, Error> {
        let key = self.writable::<T>(handle.id)?;
        let (old, written, quiet) = self.write_quiet::<T, _>(key, |v| {
            (mem::replace(field.get_mut(v), value), field.mask())
        });
        match self.finish_write(key, written, quiet) {
            Ok(()) => Ok(old),
            Err(error) => {
                *field.get_mut(self.value_mut::<T>(key)) = old;
                Err(raise(error))
            }
        }
    }

    /// [`Heap::write`](crate::Heap::write).
    pub(crate) fn write<T: Object, R>(
        &mut self,
        handle: &impl Writable<T>,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Result<R, Error> {
        self.operate(handle.id(), storage(handle), false, f)
    }

    /// [`Heap::open_box`](crate::Heap::open_box).
    pub(crate) fn open_box<T: Object, R>(
        &mut self,
        capsule: &Capsule<T>,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<R, Error> {
        self.operate(capsule.id, &capsule.link, true, |w: &mut Writer<'_, T>| {
            f(w.__fields_mut(FieldMask::ALL))
        })
    }

    /// One operation on one object: `f` writes through a [`Writer`], which saves each field
    /// before its first write; then the write is settled by the first of three exits that
    /// applies — the object alone, if nothing outside it reads what was written
    /// ([`Stored::settle_own`]); the object and its graph, if no other object's cell is
    /// reached ([`quiet`](Heap::quiet)); else the barrier. All three share the rollback:
    /// the saved fields go back.
    #[inline]
    fn operate<T: Object, R>(
        &mut self,
        id: ObjectId,
        link: &Link<T>,
        whole: bool,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Result<R, Error> {
        // The heap first: `qcell` panics on another heap's storage.
        if id.heap == self.id {
            if let Some(stored) = self.owner.rw(link).as_mut().filter(|s| s.own_path()) {
                let w = Writer::run(&mut stored.value, FieldMask::EMPTY, whole, f);
                let settled = match w.out {
                    Ok(_) if stored.loud.get() & w.written.0 == 0 => stored
                        .settle_own::<()>(w.written)
                        .map_err(|failed| failed.into_error::<T>(id)),
                    // A panic: putting the fields back is the whole rollback.
                    Err(_) => Ok(()),
                    Ok(_) => {
                        let quiet = self.quiet::<T>(id.key, w.written);
                        self.finish_write(id.key, w.written, quiet)
                    }
                };
                return self.conclude::<T, R>(id.key, w, settled);
            }
        }
        self.operate_slow(id, whole, f)
    }

    /// [`operate`](Heap::operate) for a handle whose storage is gone or immutable: the
    /// slot's checks say why (or, if it lives after all, the write goes through).
    #[cold]
    #[inline(never)]
    fn operate_slow<T: Object, R>(
        &mut self,
        id: ObjectId,
        whole: bool,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Result<R, Error> {
        let key = self.writable::<T>(id)?;
        let (w, written, quiet) = self.write_quiet::<T, _>(key, |value| {
            let w = Writer::run(value, FieldMask::EMPTY, whole, f);
            // After a panic nothing is invalidated: putting the fields back is the whole
            // rollback.
            let written = if w.out.is_ok() {
                w.written
            } else {
                FieldMask::EMPTY
            };
            (w, written)
        });
        let settled = self.finish_write(key, written, quiet);
        self.conclude::<T, R>(key, w, settled)
    }

    /// The end of a one-object operation, whichever exit settled it: on success the
    /// closure's result; on a failure (`settled`) or a panic the saved fields go back (or
    /// the object, if its type could not save them, is removed and its value handed back
    /// inside the error), and the error is returned or the panic resumed.
    #[inline(always)]
    fn conclude<T: Object, R>(
        &mut self,
        key: ObjectKey,
        w: Written<R, T::Saved>,
        settled: Result<(), Result<Error, Box<dyn Any + Send>>>,
    ) -> Result<R, Error> {
        let out = match w.out {
            Ok(out) => out,
            Err(payload) => {
                self.restore::<T>(key, w.saved, w.lost);
                panic::resume_unwind(payload)
            }
        };
        let Err(error) = settled else {
            return Ok(out);
        };
        let removed = self.restore::<T>(key, w.saved, w.lost);
        let mut error = raise(error);
        if let (Some(value), Error::Invariant { value: slot, .. }) = (removed, &mut error) {
            *slot = Some(value);
        }
        Err(error)
    }

    /// Ends a write that [`write_quiet`](Heap::write_quiet) began: nothing more if it was
    /// quiet, else the full barrier. On failure every cell is as before the write, and the
    /// caller puts the fields back; the error (or the panic to resume) is returned.
    fn finish_write(
        &mut self,
        key: ObjectKey,
        written: FieldMask,
        quiet: Quiet,
    ) -> Result<(), Result<Error, Box<dyn Any + Send>>> {
        match quiet {
            Quiet::Yes => Ok(()),
            Quiet::Failed(error) => Err(error),
            Quiet::No => self.barrier(key, written).map_err(|failure| {
                let error = self.failure_error(failure);
                self.roll_back();
                error
            }),
        }
    }

    /// Puts back saved fields, or removes an object that could not be saved and returns
    /// its value.
    pub(crate) fn restore<T: Object>(
        &mut self,
        key: ObjectKey,
        saved: Saves<T::Saved>,
        lost: bool,
    ) -> Option<Box<dyn Any + Send + Sync>> {
        if lost {
            // Invalidate what read it, without a veto: there is no consistent state to go back to.
            self.mark_removed(key);
            self.commit();
            self.discard(key);
            let slot = self.take_slot(key);
            return Some(slot.ops.unwrap_value(slot.obj, &mut self.owner));
        }
        let value = self.value_mut::<T>(key);
        for s in saved.into_rev() {
            value.restore(s);
        }
        None
    }

    /// The key of a live object of type `T` that may be written.
    pub(crate) fn writable<T: Object>(&self, id: ObjectId) -> Result<ObjectKey, Error> {
        let (slot, key) = self.typed_slot::<T>(id)?;
        match slot.tag {
            Tag::Imm => Err(Error::Immutable {
                object: id,
                type_name: std::any::type_name::<T>(),
            }),
            _ => Ok(key),
        }
    }

    pub(crate) fn value_mut<T: Object>(&mut self, key: ObjectKey) -> &mut T {
        &mut self.stored_mut::<T>(key).value
    }

    /// Removes `key` from view, invalidates what read it and rechecks; on failure the
    /// object comes back. The caller takes the slot out after success.
    pub(crate) fn remove_key(&mut self, key: ObjectKey) -> Result<(), Error> {
        self.remove_keys(&[key])
    }

    /// [`remove_key`](Heap::remove_key) for several objects at once, with one recheck.
    pub(crate) fn remove_keys(&mut self, keys: &[ObjectKey]) -> Result<(), Error> {
        self.hand_over_classes(keys);
        for &key in keys {
            self.slots[key].gone = true;
        }
        for &key in keys {
            self.mark_removed(key);
        }
        let settled = self.settle_journal();
        match settled {
            Ok(()) => {
                self.commit();
                for &key in keys {
                    self.discard(key);
                }
                Ok(())
            }
            Err(failure) => {
                let error = self.failure_error(failure);
                self.roll_back();
                for &key in keys {
                    self.slots[key].gone = false;
                }
                Err(raise(error))
            }
        }
    }

    pub(crate) fn mark_removed(&mut self, key: ObjectKey) {
        let graph = self.slots[key].graph.get_mut();
        // The object's own cells that read its other cells go with it: nothing to recheck.
        let others = |c: &&CellId| c.key != key;
        let mut work = mem::take(&mut self.barrier.work);
        work.extend(
            graph
                .readers
                .keys()
                .filter(others)
                .map(|&c| (c, State::Dirty)),
        );
        for node in &graph.nodes {
            work.extend(
                node.dependents
                    .iter()
                    .filter(others)
                    .map(|&c| (c, State::Dirty)),
            );
        }
        self.mark(work);
    }

    /// Runs `write`, which writes on `key` and returns the fields it wrote, and then, if the
    /// write is *quiet*, its whole barrier (an empty write is quiet). A quiet write reaches
    /// no cell outside the object: every cell it invalidates has no dependents, no other
    /// object read the written fields, and every `now` cell it reaches is computed from the
    /// object's fields alone. Such a write needs
    /// no journal: its `now` cells are rechecked first, each once, in declaration order,
    /// with their previous values kept aside, so a failure puts back just those; only when
    /// all hold are the lazy cells invalidated (or, if they were being read, recomputed at
    /// once, as in [`settle_journal`](Heap::settle_journal)). A write that is not quiet is
    /// left to the full barrier, with nothing invalidated yet. The object is reached once
    /// for the write and the barrier together.
    fn write_quiet<T: Object, R>(
        &mut self,
        key: ObjectKey,
        write: impl FnOnce(&mut T) -> (R, FieldMask),
    ) -> (R, FieldMask, Quiet) {
        let (out, written) = write(self.value_mut::<T>(key));
        let quiet = self.quiet::<T>(key, written);
        (out, written, quiet)
    }

    /// [`write_quiet`](Heap::write_quiet) after the write: settles it if it is quiet.
    fn quiet<T: Object>(&mut self, key: ObjectKey, written: FieldMask) -> Quiet {
        let rev = self.rev + 1;
        let Slot { obj, graph, .. } = &mut self.slots[key];
        let graph = graph.get_mut();
        let Stored {
            value,
            cells,
            loud,
            base,
        } = obj
            .get_mut(&mut self.owner)
            .downcast_mut::<Option<Stored<T>>>()
            .and_then(Option::as_mut)
            .expect("checked by Core::key");
        if written.is_empty() {
            return Quiet::Yes;
        }
        // Edges dropped since these fields became loud no longer count: if none is left, a
        // later `set` of them settles on the object's own path.
        let unread = graph
            .nodes
            .iter()
            .all(|n| n.dependents.is_empty() || !n.reads.intersects(written))
            && graph.readers.values().all(|m| !m.intersects(written));
        if unread {
            let kept = loud.get() & (!written.0 | *base);
            loud.set(kept);
        }
        let local = |(i, n): (usize, &Node)| {
            !n.reads.intersects(written)
                || if n.eager {
                    n.state == State::Clean
                        && n.dependents.is_empty()
                        && i < 64
                        && T::CACHES[i].detached()
                } else {
                    n.state == State::Dirty || n.dependents.is_empty()
                }
        };
        let quiet = graph.nodes.iter().enumerate().all(local)
            && graph.readers.values().all(|m| !m.intersects(written));
        if !quiet {
            return Quiet::No;
        }
        // The `now` cells, before anything else changes.
        let (mut checked, mut changed) = (0u64, 0u64);
        let mut failure = None;
        for (i, node) in graph.nodes.iter().enumerate() {
            if !(node.eager && node.reads.intersects(written)) {
                continue;
            }
            checked |= 1 << i;
            match T::CACHES[i].recheck(value, cells) {
                Some(Ok(fresh)) if !fresh.failed => changed |= u64::from(fresh.changed) << i,
                Some(Ok(_)) => {
                    failure = Some(Ok(i));
                    break;
                }
                Some(Err(payload)) => {
                    failure = Some(Err(payload));
                    break;
                }
                None => unreachable!("checked to be field-only"),
            }
        }
        if let Some(failure) = failure {
            let failure = failure.map(|i| {
                let source = T::CACHES[i]
                    .take_failure(cells)
                    .expect("a failed invariant holds its error");
                (i, source)
            });
            for i in Ones(checked) {
                cells.cell_mut(i).roll_back(true);
            }
            let error = failure.map(|(i, source)| Error::Invariant {
                invariant: self.name_of(CellId {
                    key,
                    index: i as u32,
                }),
                source,
                value: None,
            });
            return Quiet::Failed(error);
        }
        let (mut hot, mut touched) = (0u64, checked != 0);
        for (i, node) in graph.nodes.iter_mut().enumerate() {
            if node.state == State::Dirty || !node.reads.intersects(written) {
                continue;
            }
            if checked & 1 << i != 0 {
                cells.cell_mut(i).commit();
                node.failed = false;
                node.verified_at = rev;
                if changed & 1 << i != 0 {
                    node.changed_at = rev;
                }
                continue;
            }
            if node.state == State::Clean {
                touched = true;
                match T::CACHES[i].refill(value, cells) {
                    // No dependents: no early cutoff to compute, the value counts as changed.
                    Refill::Recomputed => {
                        node.changed_at = rev;
                        node.verified_at = rev;
                        continue;
                    }
                    Refill::Invalidated { hot: true } if i < 64 => hot |= 1 << i,
                    Refill::Invalidated { .. } => {}
                }
            }
            node.state = State::Dirty;
        }
        if touched {
            self.rev = rev;
        }
        // Cells read since computed that need tracking: recomputed now, as in
        // `settle_journal`, so that the next read is a hit.
        for index in Ones(hot) {
            // Speculative: a failure here is the lazy cache's, reported when it is read.
            let _ = self.settle(CellId {
                key,
                index: index as u32,
            });
        }
        Quiet::Yes
    }

    /// Invalidates what a write of `written` on `key` can change, then settles.
    ///
    /// The written object's own cells are journaled first, in declaration order, so that
    /// they settle (and report a failure) before the cells of other objects.
    fn barrier(&mut self, key: ObjectKey, written: FieldMask) -> Result<(), Failure> {
        self.invalidate(key, written);
        let result = self.settle_journal();
        if result.is_ok() {
            self.commit();
        }
        result
    }

    /// The first half of the barrier: journals and invalidates the cells a write of
    /// `written` on `key` can change (the object's own first, in declaration order), and
    /// marks their dependents. Settling is left to the caller: at once for a one-object
    /// write, at the end for a [`Transaction`](crate::Transaction).
    pub(crate) fn invalidate(&mut self, key: ObjectKey, written: FieldMask) {
        let epoch = self.barrier.epoch;
        let Slot {
            obj, ops, graph, ..
        } = &mut self.slots[key];
        let graph = graph.get_mut();
        let journal = &mut self.barrier.journal.get_mut().records;
        let mut work = mem::take(&mut self.barrier.work);
        work.extend(
            graph
                .readers
                .iter()
                .filter(|(_, m)| m.intersects(written))
                .map(|(&c, _)| (c, State::Dirty)),
        );
        for (i, node) in graph.nodes.iter_mut().enumerate() {
            if node.reads.intersects(written) {
                let id = CellId {
                    key,
                    index: i as u32,
                };
                let invalidate = |again| obj.invalidate(&mut self.owner, *ops, i, again);
                let raise = if self.barrier.in_barrier {
                    raise_cell::<true, _>
                } else {
                    raise_cell::<false, _>
                };
                self.barrier.urgent += raise(
                    id,
                    node,
                    invalidate,
                    State::Dirty,
                    epoch,
                    journal,
                    &mut work,
                );
            }
        }
        self.mark(work);
    }

    /// Raises cells to at least the given state, and their dependents to `Check`.
    pub(crate) fn mark(&mut self, work: Vec<(CellId, State)>) {
        // Marking with the barrier open happens only in a transaction.
        if self.barrier.in_barrier {
            self.mark_with::<true>(work)
        } else {
            self.mark_with::<false>(work)
        }
    }

    fn mark_with<const OPEN: bool>(&mut self, mut work: Vec<(CellId, State)>) {
        let epoch = self.barrier.epoch;
        let journal = &mut self.barrier.journal.get_mut().records;
        while let Some((id, level)) = work.pop() {
            // A removed object's cells go with it.
            let Some(slot) = self.slots.get_mut(id.key).filter(|s| !s.gone) else {
                continue;
            };
            let node = &mut slot.graph.get_mut().nodes[id.index as usize];
            let (ops, obj) = (slot.ops, &mut slot.obj);
            let invalidate = |again| obj.invalidate(&mut self.owner, ops, id.index as usize, again);
            self.barrier.urgent +=
                raise_cell::<OPEN, _>(id, node, invalidate, level, epoch, journal, &mut work);
        }
        // Kept, empty, for the next barrier: a write that reaches many cells would
        // otherwise allocate its work list each time.
        self.barrier.work = work;
    }

    /// Brings up to date every journaled `now`/`eager` cache, and every journaled lazy
    /// cache that had been read since it was computed (so the next read is a hit).
    pub(crate) fn settle_journal(&mut self) -> Result<(), Failure> {
        if self.barrier.journal.get_mut().records.is_empty() {
            return Ok(());
        }
        self.rev += 1;
        // Only cold lazy caches were invalidated: marking them was the whole job.
        if mem::take(&mut self.barrier.urgent) == 0 {
            return Ok(());
        }
        self.barrier.in_barrier = true;
        self.barrier.settled = true;
        let result = (|| {
            let mut i = 0;
            let mut speculate = true;
            // Computations below may journal more cells: index, do not iterate.
            while let Some((id, saved)) = self.barrier.journal.get_mut().records.get(i) {
                let (id, was_hot) = (*id, saved.state == State::Clean && saved.hot);
                i += 1;
                // A removed object's cells go with it (a transaction may have journaled
                // them before removing it).
                let Some(slot) = self.slots.get_mut(id.key).filter(|s| !s.gone) else {
                    continue;
                };
                if slot.graph.get_mut().nodes[id.index as usize].eager {
                    if self.settle(id)? {
                        return Err(Failure::Invariant(id));
                    }
                } else if was_hot && speculate {
                    // Speculative: a failure here is the lazy cache's, reported when it is
                    // read. After one, the rest are left to their reads: a failure is
                    // typically a cycle, which every cell on it would walk again.
                    speculate = self.settle(id).is_ok();
                }
            }
            Ok(())
        })();
        self.barrier.in_barrier = false;
        result
    }

    /// Brings the given cells up to date (at creation); no journal, nothing to roll back.
    pub(crate) fn settle_cells(&mut self, cells: &[CellId]) -> Result<(), Failure> {
        for &id in cells {
            if self.settle(id)? {
                return Err(Failure::Invariant(id));
            }
        }
        Ok(())
    }

    /// Brings one cell up to date with the cell taken out of the heap, so the value is
    /// published with plain stores. Returns whether it is a failed invariant.
    fn settle(&mut self, id: CellId) -> Result<bool, Failure> {
        let rev = self.rev;
        let index = id.index as usize;
        let slot = &mut self.slots[id.key];
        let ops = slot.ops;
        let node = &mut slot.graph.get_mut().nodes[index];
        if node.state == State::Clean {
            return Ok(node.failed);
        }
        if node.state == State::Dirty && node.fields_only {
            let obj = slot.obj.get_mut(&mut self.owner);
            if let Some((reads, result)) = ops.compute_fields(obj, index, self.barrier.in_barrier) {
                let node = &mut slot.graph.get_mut().nodes[index];
                let fresh = result.map_err(Failure::Panic)?;
                node.reads = reads;
                node.revalidated(rev);
                node.failed = fresh.failed;
                if std::mem::take(&mut node.uncut) || fresh.changed {
                    node.changed_at = rev;
                }
                return Ok(fresh.failed);
            }
        }
        let node = &mut slot.graph.get_mut().nodes[index];
        let check = (node.state == State::Check).then(|| (node.deps.clone(), node.verified_at));
        node.computing = true;
        self.claims.owned_tasks += 1;
        let frame = Frame::new(self.claims.owned_tasks | 1 << 63, id, None);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            if let Some((deps, verified_at)) = &check {
                if !self.inputs_changed(deps, *verified_at, &frame)? {
                    let obj = self.slots[id.key].obj.get_mut(&mut self.owner);
                    ops.cell_mut(obj, index).revalidate_owned();
                    return Ok(None);
                }
            }
            match crate::stack::grown(|| ops.compute_owned(self, &frame, id)) {
                Some(fresh) => Ok(Some(fresh)),
                None => Err(frame.cycle_error().expect("abandoned on a cycle")),
            }
        }));
        let slot = &mut self.slots[id.key];
        let node = &mut slot.graph.get_mut().nodes[index];
        node.computing = false;
        match result {
            Ok(Ok(None)) => {
                node.revalidated(rev);
                Ok(false)
            }
            Ok(Ok(Some(fresh))) => {
                let journaled = node.journaled;
                let (reads, old) = node.record(frame.take_reads(), fresh, rev);
                if self.barrier.in_barrier {
                    keep_reads(
                        self.barrier.journal.get_mut(),
                        self.barrier.epoch,
                        journaled,
                        reads,
                        &old,
                    );
                }
                let slot = &self.slots[id.key];
                self.relink(id, old, slot);
                Ok(fresh.failed)
            }
            Ok(Err(error)) => {
                self.forget_partial(id, &frame);
                Err(Failure::Cycle(error))
            }
            Err(payload) => {
                self.forget_partial(id, &frame);
                // A panic after a read ran into a cycle is the cycle's doing.
                match frame.cycle_error() {
                    Some(cycle) => Err(Failure::Cycle(cycle)),
                    None => Err(Failure::Panic(payload)),
                }
            }
        }
    }

    /// Unlinks the back edges an abandoned computation made before it stopped.
    pub(crate) fn forget_partial(&self, id: CellId, frame: &Frame<'_>) {
        let partial = frame.take_deps();
        if partial.is_empty() {
            return;
        }
        let Some(slot) = self.slots.get(id.key) else {
            return;
        };
        let kept = slot.graph.lock().nodes[id.index as usize].deps.clone();
        self.unlink(id, partial.iter().filter(|d| !kept.contains(d)));
    }

    /// The error a failure reports (or the panic to re-raise); call before rolling back.
    pub(crate) fn failure_error(&mut self, failure: Failure) -> Result<Error, Box<dyn Any + Send>> {
        match failure {
            Failure::Invariant(id) => {
                let invariant = self.name_of(id);
                let slot = &mut self.slots[id.key];
                let source = slot
                    .ops
                    .take_failure(slot.obj.get_mut(&mut self.owner), id.index as usize)
                    .expect("a failed invariant holds its error");
                Ok(Error::Invariant {
                    invariant,
                    source,
                    value: None,
                })
            }
            Failure::Cycle(error) => Ok(error),
            Failure::Panic(payload) => Err(payload),
        }
    }

    /// The barrier succeeded: forget what a rollback would have needed.
    pub(crate) fn commit(&mut self) {
        self.barrier.urgent = 0;
        let journal = mem::take(self.barrier.journal.get_mut());
        // Only a recomputed cell has a stale value to forget (an invalid one keeps it for
        // early cutoff); without settling, the journal holds marked cells only.
        if mem::take(&mut self.barrier.settled) {
            for (id, _) in &journal.records {
                let Some(slot) = self.slots.get_mut(id.key) else {
                    continue;
                };
                if slot.graph.get_mut().nodes[id.index as usize].state == State::Clean {
                    slot.ops
                        .cell_mut(slot.obj.get_mut(&mut self.owner), id.index as usize)
                        .commit();
                }
            }
        }
        self.end_barrier(journal);
    }

    /// The barrier failed: every journaled cell gets back its value, state and reads.
    pub(crate) fn roll_back(&mut self) {
        self.barrier.urgent = 0;
        self.barrier.settled = false;
        let mut journal = mem::take(self.barrier.journal.get_mut());
        for (id, saved) in journal.records.drain(..).rev() {
            let Some(slot) = self.slots.get_mut(id.key) else {
                continue;
            };
            let node = &mut slot.graph.get_mut().nodes[id.index as usize];
            node.state = saved.state;
            node.failed = false;
            node.uncut = false;
            node.changed_at = saved.changed_at;
            node.verified_at = saved.verified_at;
            slot.ops
                .cell_mut(slot.obj.get_mut(&mut self.owner), id.index as usize)
                .roll_back(saved.state == State::Clean);
            if saved.reads != Saved::NO_READS {
                let (reads, deps) = mem::take(&mut journal.replaced[saved.reads as usize]);
                node.reads = reads;
                let new = mem::replace(&mut node.deps, deps);
                let old = node.deps.clone();
                self.unlink(id, new.iter().filter(|d| !old.contains(d)));
                self.link(id, old.iter().filter(|d| !new.contains(d)), &journal.unread);
            }
        }
        self.end_barrier(journal);
    }

    /// Voids every record of this barrier's journal (by moving to the next epoch) and keeps
    /// the journal's allocation for the next one.
    fn end_barrier(&mut self, mut journal: Journal) {
        journal.clear();
        *self.barrier.journal.get_mut() = journal;
        self.barrier.epoch += 1;
    }
}

/// Raises one cell to at least `level`, journaling it before its first change and queuing
/// its dependents for `Check`. Returns 1 if the barrier must bring it up to date (`now`,
/// `eager`, or read since last computed), else 0.
///
/// `OPEN`: a transaction is open, so the cell may have been recomputed since this barrier
/// journaled it.
#[inline(always)]
fn raise_cell<const OPEN: bool, I: FnOnce(bool) -> bool>(
    id: CellId,
    node: &mut Node,
    invalidate: I,
    level: State,
    epoch: u64,
    journal: &mut Vec<(CellId, Saved)>,
    work: &mut Vec<(CellId, State)>,
) -> usize {
    if node.state >= level {
        return 0;
    }
    let prev = node.state;
    if OPEN && prev == State::Clean && node.journaled.0 == epoch {
        return raise_again(node, invalidate, work);
    }
    let hot = prev == State::Clean && invalidate(false);
    let mut urgent = 0;
    if node.save(id, hot, epoch, journal) {
        urgent = usize::from(node.eager || hot);
    }
    node.state = level;
    if prev == State::Clean {
        work.extend(node.dependents.iter().map(|&c| (c, State::Check)));
    }
    urgent
}

/// [`raise_cell`] for a cell journaled by this barrier and valid again: a transaction
/// recomputed it since. Its stale value is the one from before the transaction (for a
/// rollback), not the one its dependents saw since, so it must not be compared: it is made
/// dirty, and its next computation counts as a change.
#[cold]
#[inline(never)]
fn raise_again(
    node: &mut Node,
    invalidate: impl FnOnce(bool) -> bool,
    work: &mut Vec<(CellId, State)>,
) -> usize {
    invalidate(true);
    node.uncut = true;
    node.state = State::Dirty;
    work.extend(node.dependents.iter().map(|&c| (c, State::Check)));
    // Journaled already: the transaction's end settles it if it is eager.
    0
}

/// The storage a writable handle holds.
#[inline(always)]
pub(crate) fn storage<T: Object>(handle: &impl Writable<T>) -> &Link<T> {
    handle
        .link()
        .expect("a `mut` or capsule handle holds its storage")
}

/// The error to return, or the panic to resume.
pub(crate) fn raise(error: Result<Error, Box<dyn Any + Send>>) -> Error {
    match error {
        Ok(error) => error,
        Err(payload) => panic::resume_unwind(payload),
    }
}
