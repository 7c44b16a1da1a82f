//! Operations over several objects: a [`Transaction`](crate::Transaction) sets fields, runs mutators and
//! boxes, allocates and removes objects, and is checked once, when it ends. A failure puts
//! everything back.

use crate::barrier::journal::Reach;

use crate::barrier::journal::{FieldLog, Kept, OpLog, Undo};
use crate::barrier::operate::{raise, storage};
use crate::barrier::writer::{Writer, Written};
use crate::decl::field::{Field, FieldMask};
use crate::decl::object::Object;
use crate::decl::ops::stored_mut;
use crate::decl::stored::{Link, Stored};
use crate::diag::cause::{OpKind, Why};
use crate::diag::stats::Tally;
use crate::error::Error;
use crate::heap::handle::{Capsule, Handle, Imm, Mutable, Writable};
use crate::heap::parts::Core;
use crate::key::{CellId, ObjectId, ObjectKey, Tag};
use crate::track::graph::State;

use std::any::{Any, TypeId};
use std::panic::{self};
use std::sync::Arc;

struct Log<T: Object>(Vec<(ObjectKey, T::Saved)>);

impl<T: Object> FieldLog for Log<T> {
    fn as_any(&mut self) -> &mut dyn Any {
        self
    }

    fn put_back(&mut self, reach: &mut Reach<'_>) {
        for (key, saved) in self.0.drain(..).rev() {
            let mut saved = Some(saved);
            reach(key, &mut |obj| {
                let saved = saved.take().expect("put back once");
                stored_mut::<T>(obj).value.restore(saved);
            });
        }
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// The log of the fields saved from objects of type `T`, made on first use; `last`: the
/// index of the log used last, looked at first.
fn field_log<'a, T: Object>(
    logs: &'a mut Vec<(TypeId, Box<dyn FieldLog>)>,
    last: &mut usize,
) -> &'a mut Log<T> {
    let ty = TypeId::of::<T>();
    if logs.get(*last).is_none_or(|(t, _)| *t != ty) {
        *last = match logs.iter().position(|(t, _)| *t == ty) {
            Some(i) => i,
            None => {
                logs.push((ty, Box::new(Log::<T>(Vec::new()))));
                logs.len() - 1
            }
        };
    }
    logs[*last]
        .1
        .as_any()
        .downcast_mut::<Log<T>>()
        .expect("the log of its type")
}

/// The object a write in the transaction reaches, with the index of its record (made
/// now: nothing is recorded for a write refused here). Through the handle's storage, as
/// a setter alone, if the object may take its own path; else through the slot's checks
/// (they say why it may not be written at all).
#[inline(always)]
fn reach<'h, T: Object>(
    heap: &'h mut Core,
    log: &mut OpLog,
    id: ObjectId,
    link: &'h Link<T>,
) -> Result<(&'h mut Stored<T>, usize, Tally<'h>), Error> {
    let direct = id.heap == heap.id && heap.owner.ro(link).as_ref().is_some_and(|s| s.own_path());
    let stored = match direct {
        true => heap.owner.rw(link).as_mut().expect("checked live"),
        false => {
            heap.writable::<T>(id)?;
            stored_mut::<T>(heap.slots[id.key].obj.get_mut(&mut heap.owner))
        }
    };
    let tally = heap.stats.tally();
    match log.find(id.key, stored.op) {
        Some(at) if log.kept[at].1.removed => Err(Error::Removed {
            object: id,
            type_name: std::any::type_name::<T>(),
        }),
        Some(at) => Ok((stored, at, tally)),
        None => {
            let at = log.record(id.key, &mut stored.op, Kept::default());
            Ok((stored, at, tally))
        }
    }
}

/// Settles a write of `written` on its object's own path, checked at the transaction's
/// end, if nothing outside the object reads what was written; returns whether it did.
#[inline(always)]
fn settled_own<T: Object>(
    stored: &mut Stored<T>,
    kept: &mut Kept,
    written: FieldMask,
    tally: Tally<'_>,
) -> bool {
    if kept.created || kept.journaled || !stored.own_path() || stored.loud.get() & written.0 != 0 {
        return false;
    }
    stored.defer_own(written, tally);
    kept.own = kept.own.union(written);
    true
}

/// An open transaction's state: the heap's core and the log of what to undo. The public
/// [`Transaction`](crate::Transaction) makes one for each step.
pub(crate) struct Tx<'a> {
    pub(crate) heap: &'a mut Core,
    pub(crate) log: &'a mut OpLog,
}

impl Tx<'_> {
    /// Opens a transaction on `heap`.
    pub(crate) fn begin(heap: &mut Core) {
        // Computations inside see state a rollback may undo: they journal what they change
        // (see `Core::refresh`), and commit forgets the stale values they keep.
        heap.barrier.in_barrier = true;
        heap.barrier.settled = true;
        heap.clock.begin(OpKind::Transaction);
    }

    /// A setter inside the transaction: saves the field before its first write in the
    /// transaction, replaces it, and invalidates what the write can change. No writer and
    /// no unwinding guard: nothing here runs user code after the field is written (a panic
    /// in the save leaves the object as it was, and the transaction rolls back).
    pub(crate) fn set<T: Object, F>(
        &mut self,
        handle: &Mutable<T>,
        field: &Field<T, F>,
        value: F,
    ) -> Result<F, Error> {
        let (stored, at, tally) = reach(self.heap, self.log, handle.id, &handle.link)?;
        let key = handle.id.key;
        let mask = field.mask();
        let kept = &mut self.log.kept[at].1;
        let new = FieldMask(mask.0 & !kept.saved.0);
        if !new.is_empty() {
            match stored.value.save(new) {
                Some(saved) => {
                    field_log::<T>(&mut self.log.fields, &mut self.log.last_fields)
                        .0
                        .push((key, saved));
                }
                None => self.log.undo.push(Undo::Lost(key)),
            }
            kept.saved = kept.saved.union(new);
        }
        let old = std::mem::replace(field.get_mut(&mut stored.value), value);
        if settled_own(stored, kept, mask, tally) {
            return Ok(old);
        }
        self.journal(key, at, mask);
        Ok(old)
    }

    pub(crate) fn write<T: Object, R>(
        &mut self,
        handle: &impl Writable<T>,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Result<R, Error> {
        self.edit(handle.id(), storage(handle), false, f)
    }

    pub(crate) fn open_box<T: Object, R>(
        &mut self,
        capsule: &Capsule<T>,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<R, Error> {
        self.edit(capsule.id, &capsule.link, true, |w: &mut Writer<'_, T>| {
            f(w.__fields_mut(FieldMask::ALL))
        })
    }

    pub(crate) fn mutable<T: Object>(&mut self, value: T) -> Result<Mutable<T>, Error> {
        let (key, link) = self.create(value, Tag::Mutable)?;
        Ok(Mutable::new(self.heap.id_of(key), link))
    }

    pub(crate) fn capsule<T: Object>(&mut self, value: T) -> Result<Capsule<T>, Error> {
        let (key, link) = self.create(value, Tag::Capsule)?;
        Ok(Capsule::new(self.heap.id_of(key), link))
    }

    pub(crate) fn imm<T: Object>(&mut self, value: T) -> Result<Imm<T>, Error> {
        let (key, _) = self.create(value, Tag::Imm)?;
        self.heap.count_imm_refs(&[key]);
        self.log.created_imm.push(key);
        Ok(Imm::new(self.heap.id_of(key)))
    }

    pub(crate) fn remove<T: Object>(&mut self, handle: &impl Handle<T>) -> Result<(), Error> {
        let key = self.heap.key::<T>(handle.id())?;
        let holders = self.heap.slots[key].imm_refs;
        if holders > 0 {
            return Err(Error::Referenced {
                object: handle.id(),
                type_name: std::any::type_name::<T>(),
                holders: holders as usize,
            });
        }
        self.heap.hand_over_classes(&[key]);
        // Its own cells are invalidated (journaled, so a rollback brings them back): a read
        // through a handle that holds its storage then misses and finds it removed.
        self.heap.materialize(key);
        let cells = self.heap.slots[key].graph.get_mut().nodes.len() as u32;
        let own = (0..cells).map(|index| (CellId { key, index }, State::Dirty, Why::removed(key)));
        let mut work = std::mem::take(&mut self.heap.barrier.work);
        work.extend(own);
        self.heap.mark(work);
        self.heap.slots[key].gone = true;
        self.heap.mark_removed(key);
        self.heap.rev += 1;
        self.log.undo.push(Undo::Removed(key));
        let at = self
            .log
            .record(key, &mut self.heap.stored_mut::<T>(key).op, Kept::default());
        self.log.kept[at].1.removed = true;
        Ok(())
    }

    /// The capsule that `select` picks out of `owner`'s value, checked to be one the owner
    /// holds, as a second handle for [`Transaction::through`](crate::Transaction::through).
    pub(crate) fn lend<O: Object, T: Object>(
        &mut self,
        owner: ObjectId,
        select: impl FnOnce(&O) -> &Capsule<T>,
    ) -> Result<Capsule<T>, Error> {
        let (slot, _) = self.heap.typed_slot::<O>(owner)?;
        let (id, link) = {
            let capsule = select(self.heap.value_of::<O>(slot)?);
            (capsule.id, Arc::clone(&capsule.link))
        };
        let mut owns = false;
        slot.ops
            .handles(slot.obj.get(&self.heap.owner), &mut |h| owns |= h == id);
        if !owns {
            return Err(Error::NotOwned { owner, object: id });
        }
        Ok(Capsule::new(id, link))
    }

    /// A write of one object: saves what it writes (once per field per transaction) and
    /// invalidates what the write can change.
    fn edit<T: Object, R>(
        &mut self,
        id: ObjectId,
        link: &Link<T>,
        whole: bool,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Result<R, Error> {
        let key = id.key;
        let (stored, at, tally) = reach(self.heap, self.log, id, link)?;
        let kept = &mut self.log.kept[at].1;
        let Written {
            out,
            written,
            kept: now_kept,
            saved,
            lost,
        } = Writer::run(&mut stored.value, kept.saved, whole, f);
        kept.saved = now_kept;
        // Recorded before a panic goes on: the rollback puts these fields back.
        if !saved.is_empty() {
            let log = &mut field_log::<T>(&mut self.log.fields, &mut self.log.last_fields).0;
            for s in saved.into_iter() {
                log.push((key, s));
            }
        }
        if lost {
            self.log.undo.push(Undo::Lost(key));
        }
        let out = out.unwrap_or_else(|payload| panic::resume_unwind(payload));
        if written.is_empty() || settled_own(stored, kept, written, tally) {
            return Ok(out);
        }
        self.journal(key, at, written);
        Ok(out)
    }

    /// A write of `written` that its object's own path cannot take: from now on the
    /// journal settles the object, including what its own path took.
    fn journal(&mut self, key: ObjectKey, at: usize, written: FieldMask) {
        let kept = &mut self.log.kept[at].1;
        kept.journaled = true;
        let reach = written.union(kept.own);
        self.heap.invalidate(key, reach);
        // Computations from here on see the write: they must not pass for checks made
        // before it (see `Core::inputs_changed`).
        self.heap.rev += 1;
    }

    fn create<T: Object>(
        &mut self,
        value: T,
        tag: Tag,
    ) -> Result<(ObjectKey, Arc<Link<T>>), Error> {
        let (key, link) = self.heap.insert(value, tag)?;
        self.log.undo.push(Undo::Created(key));
        self.log.record(
            key,
            &mut self.heap.stored_mut::<T>(key).op,
            Kept {
                saved: FieldMask::ALL,
                created: true,
                ..Kept::default()
            },
        );
        // Its `now` and `eager` caches settle with the others at the end.
        let heap = &mut *self.heap;
        let epoch = heap.barrier.epoch;
        let journal = &mut heap.barrier.journal.get_mut().records;
        for (i, node) in heap.slots[key].graph.get_mut().nodes.iter_mut().enumerate() {
            if node.eager {
                let id = CellId {
                    key,
                    index: i as u32,
                };
                node.save(id, false, false, false, epoch, journal);
            }
        }
        Ok((key, link))
    }

    /// Settles what the transaction invalidated and commits, or rolls everything back.
    pub(crate) fn commit(mut self) -> Result<(), Error> {
        let heap = &mut *self.heap;
        // The objects written on their own path first: their checks read nothing else.
        let mut changed = false;
        for (key, own) in &mut self.log.kept {
            let Some(slot) = heap
                .slots
                .get_mut(*key)
                .filter(|s| !s.gone && !own.journaled && !own.own.is_empty())
            else {
                continue;
            };
            let object = ObjectId {
                key: *key,
                heap: heap.id,
            };
            let obj = slot.obj.get_mut(&mut heap.owner);
            match slot
                .ops
                .recheck_own(obj, object, own.own, heap.stats.tally())
            {
                Ok(c) => {
                    own.changed = c;
                    changed |= c;
                }
                Err(error) => {
                    let value = self.roll_back();
                    self.heap.rolled_back();
                    return Err(raise(with_value(error, value)));
                }
            }
        }
        // Settle every journaled cell: the count of urgent ones misses those that were
        // journaled by a read before a write made them urgent.
        heap.barrier.urgent += 1;
        match heap.settle_journal() {
            Ok(()) => {
                heap.barrier.in_barrier = false;
                heap.commit();
                for &(key, own) in self.log.kept.iter().filter(|_| changed) {
                    if let Some(slot) = heap
                        .slots
                        .get_mut(key)
                        .filter(|_| own.changed && !own.journaled)
                    {
                        slot.ops
                            .end_own(slot.obj.get_mut(&mut heap.owner), own.own, true);
                    }
                }
                for undo in &self.log.undo {
                    if let Undo::Removed(key) = *undo {
                        if heap.slots.contains_key(key) {
                            heap.discard(key);
                            let slot = heap.take_slot(key);
                            drop(slot.ops.unwrap_value(slot.obj, &mut heap.owner));
                        }
                    }
                }
                for &(key, kept) in &self.log.kept {
                    if !kept.created && !kept.removed {
                        let count = heap.slots.get(key).map_or(0, |s| s.ops.field_names().len());
                        heap.wrote(key, kept.saved, count);
                    }
                }
                self.log.created_imm.retain(|&k| heap.slots.contains_key(k));
                heap.classify(&self.log.created_imm);
                self.end();
                Ok(())
            }
            Err(failure) => {
                let error = heap.failure_error(failure);
                let value = self.roll_back();
                self.heap.rolled_back();
                Err(raise(with_value(error, value)))
            }
        }
    }

    /// Puts everything back; returns the value of an object removed because its fields
    /// could not be saved, if there is one.
    pub(crate) fn roll_back(&mut self) -> Option<Box<dyn Any + Send + Sync>> {
        let heap = &mut *self.heap;
        heap.barrier.in_barrier = false;
        heap.roll_back();
        // Fields first: an object created here is still there to take them.
        for (_, log) in &mut self.log.fields {
            log.put_back(&mut |key, put| {
                if let Some(slot) = heap.slots.get_mut(key) {
                    put(slot.obj.get_mut(&mut heap.owner));
                }
            });
        }
        let mut lost = Vec::new();
        for &undo in self.log.undo.iter().rev() {
            match undo {
                Undo::Lost(key) => lost.push(key),
                Undo::Created(key) => {
                    if heap.slots.contains_key(key) {
                        heap.discard(key);
                        let slot = heap.take_slot(key);
                        drop(slot.ops.unwrap_value(slot.obj, &mut heap.owner));
                    }
                }
                Undo::Removed(key) => heap.slots[key].gone = false,
            }
        }
        // Fields are back: the caches their own path settled are refilled from them.
        for &(key, own) in &self.log.kept {
            if let Some(slot) = heap.slots.get_mut(key).filter(|_| !own.own.is_empty()) {
                slot.ops
                    .end_own(slot.obj.get_mut(&mut heap.owner), own.own, false);
            }
        }
        // Last, once every other object is as it was: nothing consistent to go back to
        // for these, so they go, invalidating what read them without a veto.
        let mut value = None;
        for key in lost {
            if heap.slots.contains_key(key) {
                heap.mark_removed(key);
                heap.commit();
                heap.discard(key);
                let slot = heap.take_slot(key);
                let v = slot.ops.unwrap_value(slot.obj, &mut heap.owner);
                value.get_or_insert(v);
            }
        }
        self.end();
        value
    }

    /// Empties the log for the next transaction, keeping its allocations.
    fn end(&mut self) {
        self.log.clear();
    }
}

/// A failed invariant's error, with the value of an object removed by the rollback.
fn with_value(
    error: Result<Error, Box<dyn Any + Send>>,
    value: Option<Box<dyn Any + Send + Sync>>,
) -> Result<Error, Box<dyn Any + Send>> {
    match value {
        Some(value) => error.map(|e| e.holding(value)),
        None => error,
    }
}
