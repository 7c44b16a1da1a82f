//! One operation on one object — a setter, a mutator, a box — from the write to its end:
//! settled by the first exit that applies (the object alone, the object and its graph,
//! the full barrier), all sharing one rollback.

use crate::decl::object::sealed::Cells as _;
use crate::decl::object::sealed::Refill;
use crate::heap::handle::Capsule;
use crate::heap::handle::Mutable;

use crate::barrier::own::{noted, Own};
use crate::barrier::writer::Saves;
use crate::barrier::writer::Writer;
use crate::barrier::writer::Written;
use crate::decl::field::Field;
use crate::decl::field::FieldMask;
use crate::decl::field::Ones;
use crate::decl::object::Object;
use crate::decl::stored::Link;
use crate::decl::stored::Stored;
use crate::diag::cause::{OpKind, Why};
use crate::diag::stats::Counter;
use crate::diag::trace::{op, own_invalidated};
use crate::error::Error;
use crate::heap::handle::Writable;
use crate::heap::parts::Core;
use crate::heap::parts::Slot;
use crate::key::CellId;
use crate::key::ObjectId;
use crate::key::ObjectKey;
use crate::key::Tag;
use crate::track::graph::Node;
use crate::track::graph::State;
use std::any::Any;
use std::mem;
use std::panic;

/// What [`Heap::write_quiet`](crate::heap::parts::Core::write_quiet) did.
enum Quiet {
    /// The write was quiet, and its barrier is done.
    Yes,
    /// It was not: the full barrier must run (nothing was invalidated yet).
    No,
    /// It was quiet and a `now` cell failed (or panicked); the cells are as before the
    /// write, and the caller puts the fields back.
    Failed(Result<Error, Box<dyn Any + Send>>),
}

impl Core {
    /// [`Heap::set`](crate::Heap::set).
    #[inline(always)]
    pub(crate) fn set<T: Object, F>(
        &mut self,
        handle: &Mutable<T>,
        field: &Field<T, F>,
        mut value: F,
    ) -> Result<F, Error> {
        self.clock.begin(OpKind::Set);
        let _op = op(OpKind::Set, Some(handle.id), std::any::type_name::<T>());
        // The heap first: `qcell` panics on another heap's storage.
        if handle.id.heap == self.id {
            if let Some(stored) = self.owner.rw(&*handle.link) {
                match stored.set_quiet(field, value, self.stats.tally()) {
                    Ok(old) => {
                        self.wrote(handle.id.key, field.mask(), T::FIELDS.len());
                        return Ok(old);
                    }
                    Err(Own::Loud(loud)) => value = loud,
                    Err(failed) => {
                        self.rolled_back();
                        return Err(raise(failed.into_error::<T>(handle.id)));
                    }
                }
            }
        }
        self.set_through_barrier(handle, field, value)
    }

    #[inline(never)]
    pub(crate) fn set_through_barrier<T: Object, F>(
        &mut self,
        handle: &Mutable<T>,
        field: &Field<T, F>,
        value: F,
    ) -> Result<F, Error> {
        let key = self.writable::<T>(handle.id)?;
        let (old, written, quiet) = self.write_quiet::<T, _>(key, |v| {
            (mem::replace(field.get_mut(v), value), field.mask())
        });
        match self.finish_write(key, written, quiet) {
            Ok(()) => {
                self.wrote(key, field.mask(), T::FIELDS.len());
                Ok(old)
            }
            Err(error) => {
                self.rolled_back();
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
    /// reached ([`quiet`](crate::heap::parts::Core::quiet)); else the barrier. All three share the rollback:
    /// the saved fields go back.
    #[inline]
    fn operate<T: Object, R>(
        &mut self,
        id: ObjectId,
        link: &Link<T>,
        whole: bool,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Result<R, Error> {
        let kind = if whole { OpKind::Box } else { OpKind::Write };
        self.clock.begin(kind);
        let _op = op(kind, Some(id), std::any::type_name::<T>());
        // The heap first: `qcell` panics on another heap's storage.
        if id.heap == self.id {
            if let Some(stored) = self.owner.rw(link).as_mut().filter(|s| s.own_path()) {
                let w = Writer::run(&mut stored.value, FieldMask::EMPTY, whole, f);
                let settled = match w.out {
                    Ok(_) if stored.loud.get() & w.written.0 == 0 => stored
                        .settle_own::<()>(w.written, self.stats.tally())
                        .map_err(|failed| failed.into_error::<T>(id)),
                    // A panic: putting the fields back is the whole rollback.
                    Err(_) => Ok(()),
                    Ok(_) => self.settle_loud::<T>(id.key, w.written),
                };
                return self.conclude::<T, R>(id.key, w, settled);
            }
        }
        self.operate_slow(id, whole, f)
    }

    /// [`operate`](crate::heap::parts::Core::operate) for a handle whose storage is gone or immutable: the
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

    /// Settles a write that reached a loud field: the object and its graph if no other
    /// object's cell is reached ([`quiet`](crate::heap::parts::Core::quiet)), else the
    /// barrier. Out of line: the own path's caller stays small.
    #[inline(never)]
    fn settle_loud<T: Object>(
        &mut self,
        key: ObjectKey,
        written: FieldMask,
    ) -> Result<(), Result<Error, Box<dyn Any + Send>>> {
        let quiet = self.quiet::<T>(key, written);
        self.finish_write(key, written, quiet)
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
        match (w.out, settled) {
            (Ok(out), Ok(())) => {
                self.wrote(key, w.written, T::FIELDS.len());
                Ok(out)
            }
            (out, settled) => Err(self.undo::<T>(key, w.saved, w.lost, out.err(), settled)),
        }
    }

    /// [`conclude`](crate::heap::parts::Core::conclude)'s failure: the saved fields go back
    /// (or the object is removed and its value handed back inside the error); a panic is
    /// resumed, else the error returned.
    #[cold]
    #[inline(never)]
    fn undo<T: Object>(
        &mut self,
        key: ObjectKey,
        saved: Saves<T::Saved>,
        lost: bool,
        panicked: Option<Box<dyn Any + Send>>,
        settled: Result<(), Result<Error, Box<dyn Any + Send>>>,
    ) -> Error {
        self.rolled_back();
        let removed = self.restore::<T>(key, saved, lost);
        if let Some(payload) = panicked {
            panic::resume_unwind(payload)
        }
        let Err(error) = settled else {
            unreachable!("called for a failure")
        };
        let error = raise(error);
        match removed {
            Some(value) => error.holding(value),
            None => error,
        }
    }

    /// Ends a write that [`write_quiet`](crate::heap::parts::Core::write_quiet) began: nothing more if it was
    /// quiet, else the full barrier. On failure every cell is as before the write (or invalid, if
    /// nothing had use for its value: see `raise_cell`), and the
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

    /// Records that the running operation wrote `fields` of the object at `key` and
    /// committed (with the `explain` feature; nothing without).
    #[inline(always)]
    pub(crate) fn wrote(&mut self, key: ObjectKey, fields: FieldMask, count: usize) {
        #[cfg(feature = "explain")]
        if let Some(slot) = self.slots.get_mut(key) {
            slot.graph
                .get_mut()
                .writes
                .record(fields, count, &self.clock);
        }
        #[cfg(not(feature = "explain"))]
        let _ = (key, fields, count);
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

    /// Runs `write`, which writes on `key` and returns the fields it wrote, and then, if the
    /// write is *quiet*, its whole barrier (an empty write is quiet). A quiet write reaches
    /// no cell outside the object: every cell it invalidates has no dependents, no other
    /// object read the written fields, and every `now` cell it reaches is computed from the
    /// object's fields alone. Such a write needs
    /// no journal: its `now` cells are rechecked first, each once, in declaration order,
    /// with their previous values kept aside, so a failure puts back just those; only when
    /// all hold are the lazy cells invalidated (or, if they were being read, recomputed at
    /// once, as in [`settle_journal`](crate::heap::parts::Core::settle_journal)). A write that is not quiet is
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

    /// [`write_quiet`](crate::heap::parts::Core::write_quiet) after the write: settles it if it is quiet.
    fn quiet<T: Object>(&mut self, key: ObjectKey, written: FieldMask) -> Quiet {
        self.materialize(key);
        let rev = self.rev + 1;
        let Slot { obj, graph, .. } = &mut self.slots[key];
        let graph = graph.get_mut();
        let stored = obj
            .get_mut(&mut self.owner)
            .downcast_mut::<Option<Stored<T>>>()
            .and_then(Option::as_mut)
            .expect("checked by Core::key");
        let base = stored.base();
        let Stored {
            value, cells, loud, ..
        } = stored;
        if written.is_empty() {
            return Quiet::Yes;
        }
        // Edges dropped since these fields became loud no longer count: if none is left, a
        // later `set` of them settles on the object's own path.
        let unread = graph
            .nodes
            .iter()
            .all(|n| (n.dependents.is_empty() && !n.watched) || !n.reads.intersects(written))
            && graph.readers.values().all(|m| !m.intersects(written))
            && graph.overlays == 0;
        if unread {
            let kept = loud.get() & (!written.0 | base);
            loud.set(kept);
        }
        let local = |(i, n): (usize, &Node)| {
            !n.reads.intersects(written)
                || if n.eager {
                    !n.watched
                        && n.state == State::Clean
                        && n.dependents.is_empty()
                        && i < 64
                        && T::CACHES[i].detached()
                } else {
                    n.state == State::Dirty || n.dependents.is_empty()
                }
        };
        // An object an overlay holds or read: the barrier pushes the write into it.
        let quiet = graph.nodes.iter().enumerate().all(local)
            && graph.readers.values().all(|m| !m.intersects(written))
            && graph.overlays == 0;
        if !quiet {
            return Quiet::No;
        }
        // The `now` cells, before anything else changes.
        let mut tally = self.stats.tally();
        tally.add(Counter::QuietWrites, 1);
        let (mut checked, mut changed) = (0u64, 0u64);
        let mut failure = None;
        for (i, node) in graph.nodes.iter().enumerate() {
            if !(node.eager && node.reads.intersects(written)) {
                continue;
            }
            checked |= 1 << i;
            let rechecked = T::CACHES[i].recheck(value, cells);
            noted::<T>(&mut tally, T::CACHES[i], &rechecked);
            match rechecked {
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
                let refill = T::CACHES[i].refill(value, cells);
                refill.count(&mut tally);
                refill.trace(std::any::type_name::<T>(), T::CACHES[i].name());
                match refill {
                    // No dependents: no early cutoff to compute, the value counts as changed.
                    Refill::Recomputed => {
                        node.changed_at = rev;
                        node.verified_at = rev;
                        continue;
                    }
                    Refill::Invalidated { hot: true, .. } if i < 64 => hot |= 1 << i,
                    Refill::Invalidated { .. } => {}
                }
            } else {
                tally.add(Counter::MarkedDirty, 1);
                own_invalidated(std::any::type_name::<T>(), T::CACHES[i].name());
            }
            node.state = State::Dirty;
            node.marked = self
                .clock
                .mark(Why::fields(key, node.reads.intersection(written)));
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
