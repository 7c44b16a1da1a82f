//! The arena: slots holding type-erased objects with their tag, cache cells and
//! tracking data, reached through typed generational handles.

pub(crate) mod handle;
pub(crate) mod view;

use std::any::Any;
use std::fmt;
use std::hash::Hasher;
use std::marker::PhantomData;
use std::ops::Index;
use std::sync::atomic::AtomicU64 as StdAtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use qcell::{QCell, QCellOwner};
use slotmap::SlotMap;

use crate::cell::ErasedCell;
use crate::decl::object::sealed::Cells as _;
use crate::decl::object::{Cache, Field, FieldMask, Fresh, Kind, Object};
use crate::error::Error;
use crate::heap::handle::{Capsule, Handle, Imm, Mut};
use crate::imm::intern::{ClassKey, Classes};
use crate::imm::parallel::{self, Run, Runs};
use crate::key::{CellId, ObjectId, ObjectKey, Tag};
use crate::sync::Bits;
use crate::sync::{AtomicU64, Condvar, Mutex};
use crate::track::{Ctx, Frame, Graph, Journal, Node, Sched, State};

static NEXT_HEAP: StdAtomicU64 = StdAtomicU64::new(1);

/// An arena of objects with cached methods and invariants that stay right.
///
/// Objects are created with a tag ([`imm`](Heap::imm), [`capsule`](Heap::capsule),
/// [`alloc`](Heap::alloc) for `mut`), read through `&Heap` from any number of threads,
/// and written through `&mut Heap`, where the write barrier invalidates exactly the
/// caches the write can change and rechecks the invariants it can break.
pub struct Heap {
    pub(crate) id: u64,
    /// Grants access to the objects' storage: shared through `&Heap`, exclusive through
    /// `&mut Heap`, so that handles may hold the storage and still reach it only here.
    pub(crate) owner: QCellOwner,
    pub(crate) slots: SlotMap<ObjectKey, Slot>,
    /// Bumped by every write that invalidates something.
    pub(crate) rev: u64,
    /// A barrier is settling: recomputations keep what a rollback needs.
    pub(crate) in_barrier: bool,
    pub(crate) sched: Mutex<Sched>,
    pub(crate) wake: Condvar,
    pub(crate) next_task: AtomicU64,
    /// Tasks of computations the barrier runs under `&mut Heap` (high bit set).
    pub(crate) owned_tasks: u64,
    /// What the running barrier must put back if it rolls back, one record per cell it
    /// changed, in the order it changed them.
    pub(crate) journal: Mutex<Journal>,
    /// Numbers barriers, so that a node's pointer into an earlier journal is void.
    pub(crate) epoch: u64,
    /// The running barrier recomputed cells (their stale values go at commit).
    pub(crate) settled: bool,
    /// Journaled cells the barrier must bring up to date (`now`, `eager`, or read since
    /// last computed); when none, settling is skipped.
    pub(crate) urgent: usize,
    /// The classes of structurally equal immutable objects.
    pub(crate) classes: Classes,
    /// The barrier's list of cells left to mark, empty between barriers (kept for its
    /// allocation).
    pub(crate) work: Vec<(CellId, State)>,
    /// What a transaction must undo, empty between transactions (kept for its allocations).
    pub(crate) op_log: Mutex<crate::barrier::transaction::OpLog>,
}

/// One object with its caches and tracking data.
pub(crate) struct Slot {
    pub(crate) tag: Tag,
    /// Being removed: invisible to reads while the removal settles.
    pub(crate) gone: bool,
    /// A `Stored<T>`: the value with its cells, so that one downcast reaches both.
    pub(crate) obj: Obj,
    /// What the runtime does with the object without knowing its type.
    pub(crate) ops: &'static dyn TypeOps,
    pub(crate) graph: Mutex<Graph>,
    /// The object's class of structurally equal immutable objects, once it is immutable
    /// and normalized: a miss on one of its caches is computed on the class's
    /// representative, so equal objects share their caches.
    pub(crate) class: Option<ClassKey>,
    /// How many handles immutable objects hold to this one: while any do, it is not
    /// removed (they would dangle).
    pub(crate) imm_refs: u32,
}

/// An object's storage as a handle holds it: `Some` while the object lives in its heap,
/// emptied when it is removed (or moved to shared storage), so that a handle that
/// outlives its object finds nothing here and falls back to the slot's checks.
pub(crate) type Link<T> = QCell<Option<Stored<T>>>;

/// Where an object's `Option<Stored<T>>` lives.
pub(crate) enum Obj {
    /// Owned by the slot and by the `mut` and capsule handles, reached through the heap's
    /// [`QCellOwner`] (a [`Link`], type-erased).
    Own(Arc<dyn Storage>),
    /// An immutable object whose eager caches run on workers, which hold weak references to
    /// it, with the state of those runs.
    Shared(Arc<dyn Any + Send + Sync>, Arc<Runs>),
}

/// A [`Link`] with its type erased: the typed work the barrier does on every cell it
/// marks, behind one dynamic call.
pub(crate) trait Storage: Send + Sync {
    fn get<'a>(&'a self, owner: &'a QCellOwner) -> &'a (dyn Any + Send + Sync);
    fn get_mut<'a>(&'a self, owner: &'a mut QCellOwner) -> &'a mut (dyn Any + Send + Sync);
    /// Invalidates a cell of the live object; returns whether it had been read since it
    /// was computed.
    fn invalidate(&self, owner: &mut QCellOwner, index: usize) -> bool;
}

impl<T: Object> Storage for Link<T> {
    fn get<'a>(&'a self, owner: &'a QCellOwner) -> &'a (dyn Any + Send + Sync) {
        owner.ro(self)
    }

    fn get_mut<'a>(&'a self, owner: &'a mut QCellOwner) -> &'a mut (dyn Any + Send + Sync) {
        owner.rw(self)
    }

    fn invalidate(&self, owner: &mut QCellOwner, index: usize) -> bool {
        owner
            .rw(self)
            .as_mut()
            .expect("a marked cell's object is live")
            .cells
            .invalidate(index)
    }
}

impl Obj {
    #[inline]
    pub(crate) fn get<'a>(&'a self, owner: &'a QCellOwner) -> &'a (dyn Any + Send + Sync) {
        match self {
            Obj::Own(a) => a.get(owner),
            Obj::Shared(a, _) => &**a,
        }
    }

    /// Invalidates a cell; returns whether it had been read since it was computed. `again`:
    /// the cell was invalidated before in the running transaction, and its stale value,
    /// kept for a rollback, stays (the current one is dropped).
    #[inline]
    pub(crate) fn invalidate(
        &mut self,
        owner: &mut QCellOwner,
        ops: &dyn TypeOps,
        index: usize,
        again: bool,
    ) -> bool {
        if again {
            ops.cell_mut(self.get_mut(owner), index).roll_back(false);
            return false;
        }
        match self {
            Obj::Own(a) => a.invalidate(owner, index),
            Obj::Shared(..) => ops.invalidate(self.get_mut(owner), index),
        }
    }

    /// Exclusive access. For a shared object this first calls off its queued eager runs and
    /// waits for running ones and for the workers to let go of it. Rare: an immutable
    /// object holds no `mut` handle, so only a cache that reached a mutable or removable
    /// object through a handle it does not hold (a global one) has cells a barrier changes
    /// (`tests/eager.rs`).
    #[inline]
    pub(crate) fn get_mut<'a>(
        &'a mut self,
        owner: &'a mut QCellOwner,
    ) -> &'a mut (dyn Any + Send + Sync) {
        match self {
            Obj::Own(a) => a.get_mut(owner),
            Obj::Shared(..) => self.shared_mut(),
        }
    }

    /// [`get_mut`](Obj::get_mut) of a shared object, kept out of line.
    #[cold]
    #[inline(never)]
    fn shared_mut(&mut self) -> &mut (dyn Any + Send + Sync) {
        match self {
            Obj::Own(_) => unreachable!("called for a shared object"),
            Obj::Shared(a, runs) => {
                // A worker holds the object only while it runs a claimed computation, and
                // reaches it only through the runs: once they are settled, the storage is
                // the slot's alone. Queued runs are called off (read on demand instead).
                runs.settle();
                Arc::get_mut(a).expect("no worker holds a settled object")
            }
        }
    }

    pub(crate) fn runs(&self) -> Option<&Runs> {
        match self {
            Obj::Own(_) => None,
            Obj::Shared(_, runs) => Some(runs),
        }
    }
}

/// An object's value and the cells of its cached methods.
///
/// `pub` only so that the handles' sealed trait may name it; no path outside the crate
/// reaches it.
pub struct Stored<T: Object> {
    pub(crate) value: T,
    pub(crate) cells: T::Cells,
    /// The fields whose writes must go through the barrier: those read by a cache that is
    /// not settled by the own write path ([`base`](Stored::base)), by another object, or
    /// by a cache with dependents. A superset: reads add to it as they record edges (under
    /// `&Heap`, hence atomic), and a write through the barrier recomputes it from the
    /// graph. A write to any other field is settled by the object alone
    /// ([`Heap::set`]'s own path), as a hand-written setter would.
    pub(crate) loud: Bits,
    /// What [`loud`](Stored::loud) holds whatever reads the object: fixed by its type, or
    /// every field once it is not `mut`.
    pub(crate) base: u64,
}

impl<T: Object> Stored<T> {
    fn new(value: T, tag: Tag) -> Self {
        let base = if tag == Tag::Imm {
            u64::MAX
        } else {
            T::CACHES.iter().fold(0, |m, c| m | c.loud().0)
        };
        Stored {
            value,
            cells: T::Cells::empty(),
            loud: Bits::new(base),
            base,
        }
    }

    /// Whether the own write path may take a write at all: not when the object is
    /// immutable (the barrier refuses the write) or has a cache that reads other objects
    /// (every field is loud).
    #[inline(always)]
    pub(crate) fn own_path(&self) -> bool {
        self.base != u64::MAX
    }

    /// The own write path: replaces a field and settles the write on the object alone
    /// ([`settle_own`](Stored::settle_own)), as a hand-written setter would. Hands the
    /// value back if the field is loud (the write must go through the barrier), and puts
    /// the old value back if an invariant fails.
    #[inline(always)]
    pub(crate) fn set_quiet<F>(&mut self, field: &Field<T, F>, value: F) -> Result<F, Own<F>> {
        if self.loud.get() & field.mask().0 != 0 {
            return Err(Own::Loud(value));
        }
        let old = std::mem::replace(field.get_mut(&mut self.value), value);
        match self.settle_own(field.mask()) {
            Ok(()) => Ok(old),
            Err(failure) => {
                *field.get_mut(&mut self.value) = old;
                Err(failure)
            }
        }
    }

    /// Settles a write of `written`, which must not be loud, on the object alone: the
    /// `now` caches that read a written field are rechecked first, in declaration order,
    /// with their previous values kept aside, so that a failure puts back just those;
    /// only when all hold are the `lazy_read` caches that read one refilled (recomputed if
    /// they were read since they were computed, else cleared). No other object reads
    /// these fields and no cache of this one with dependents does, so nothing else is
    /// visited. On failure the caller puts the fields back.
    #[inline]
    pub(crate) fn settle_own<F>(&mut self, written: FieldMask) -> Result<(), Own<F>> {
        debug_assert_eq!(self.loud.get() & written.0, 0, "a loud write");
        let mut checked = 0u64;
        for (i, cache) in T::CACHES.iter().enumerate() {
            if !cache.checks().intersects(written) {
                continue;
            }
            let failure = match cache.recheck(&self.value, &mut self.cells) {
                Some(Ok(fresh)) if !fresh.failed => {
                    checked |= 1 << i;
                    continue;
                }
                Some(Ok(_)) => Ok(cache
                    .take_failure(&mut self.cells)
                    .expect("a failed invariant holds its error")),
                Some(Err(payload)) => Err(payload),
                None => unreachable!("a cache with checks reads its own fields only"),
            };
            self.cells.cell_mut(i).roll_back(true);
            for j in crate::barrier::Ones(checked) {
                self.cells.cell_mut(j).roll_back(true);
            }
            return Err(Own::Failed(i, failure));
        }
        for j in crate::barrier::Ones(checked) {
            self.cells.cell_mut(j).commit();
        }
        for cache in T::CACHES {
            cache.refill_local(&self.value, &mut self.cells, written);
        }
        Ok(())
    }
}

impl<T: Object> Stored<T> {
    /// A transaction's write that is not loud, settled on the object alone but checked at
    /// the transaction's end: the `lazy_read` caches that read a written field are
    /// refilled now (so that reads inside the transaction see the write), and the
    /// field-only `now` caches that read one are invalidated, their values from before the
    /// transaction kept aside ([`recheck_own`](Stored::recheck_own) computes them,
    /// [`end_own`](Stored::end_own) commits or puts them back).
    pub(crate) fn defer_own(&mut self, written: FieldMask) {
        for (i, cache) in T::CACHES.iter().enumerate() {
            if cache.checks().intersects(written) {
                // Invalid, keeping the oldest value aside.
                self.cells.cell_mut(i).roll_back(false);
            }
        }
        for cache in T::CACHES {
            cache.refill_local(&self.value, &mut self.cells, written);
        }
    }

    /// At the transaction's end: computes the `now` caches [`defer_own`](Stored::defer_own)
    /// invalidated for `written`, in declaration order; the first failure is returned as
    /// [`settle_own`](Stored::settle_own) does (the transaction then rolls back).
    pub(crate) fn recheck_own<F>(&mut self, written: FieldMask) -> Result<(), Own<F>> {
        for (i, cache) in T::CACHES.iter().enumerate() {
            if !cache.checks().intersects(written) {
                continue;
            }
            let failure = match cache.compute_fields(&self.value, &mut self.cells, true) {
                Some((_, Ok(fresh))) if !fresh.failed => continue,
                Some((_, Ok(_))) => Ok(cache
                    .take_failure(&mut self.cells)
                    .expect("a failed invariant holds its error")),
                Some((_, Err(payload))) => Err(payload),
                None => unreachable!("a cache with checks reads its own fields only"),
            };
            return Err(Own::Failed(i, failure));
        }
        Ok(())
    }

    /// Ends a transaction's own writes of `written`: forgets the values kept aside, or, on
    /// rollback (the fields are back), puts them back and clears the `lazy_read` caches
    /// that read a written field (they were refilled from the transaction's values; the
    /// next read computes them from the restored ones).
    pub(crate) fn end_own(&mut self, written: FieldMask, commit: bool) {
        for (i, cache) in T::CACHES.iter().enumerate() {
            if cache.checks().intersects(written) {
                let cell = self.cells.cell_mut(i);
                if commit {
                    cell.commit();
                } else {
                    cell.roll_back(true);
                }
            } else if !commit && cache.fields().is_some_and(|m| m.intersects(written)) {
                self.cells.invalidate(i);
            }
        }
    }
}

/// Why the own write path did not settle a write.
pub(crate) enum Own<F> {
    /// A written field is loud: the barrier must settle the write; the value to write is
    /// handed back, if there is one.
    Loud(F),
    /// The `now` cache at this index failed (its error) or panicked (the payload); the
    /// object's cells are as before the write.
    Failed(
        usize,
        std::thread::Result<Box<dyn std::error::Error + Send + Sync>>,
    ),
}

impl<F> Own<F> {
    /// The error of a failed invariant (or the panic to resume) of object `object`.
    pub(crate) fn into_error<T: Object>(
        self,
        object: ObjectId,
    ) -> Result<Error, Box<dyn Any + Send>> {
        match self {
            Own::Loud(_) => unreachable!("a loud write is settled by the barrier"),
            Own::Failed(i, failure) => failure.map(|source| Error::Invariant {
                invariant: crate::error::CacheName {
                    object,
                    type_name: std::any::type_name::<T>(),
                    cache: T::CACHES[i].name(),
                },
                source,
                value: None,
            }),
        }
    }
}

/// The operations on a `Stored<T>` that the runtime performs with `T` erased.
pub(crate) trait TypeOps: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn cache_name(&self, index: usize) -> &'static str;
    fn cell<'a>(&self, obj: &'a (dyn Any + Send + Sync), index: usize) -> &'a dyn ErasedCell;
    fn cell_mut<'a>(
        &self,
        obj: &'a mut (dyn Any + Send + Sync),
        index: usize,
    ) -> &'a mut dyn ErasedCell;
    /// Invalidates a cell; returns whether it had been read since it was computed.
    fn invalidate(&self, obj: &mut (dyn Any + Send + Sync), index: usize) -> bool;
    /// Computes a claimed cell through `&Heap`; `None` if it ran into a cycle.
    fn compute_shared(&self, heap: &Heap, frame: &Frame<'_>, id: CellId) -> Option<Fresh>;
    /// Computes a cell and publishes it through `&mut Heap`; `None` if it ran into a cycle.
    fn compute_owned(&self, heap: &mut Heap, frame: &Frame<'_>, id: CellId) -> Option<Fresh>;
    /// [`Stored::recheck_own`], with the failure as an error of object `object` (or the
    /// panic's payload).
    fn recheck_own(
        &self,
        obj: &mut (dyn Any + Send + Sync),
        object: ObjectId,
        written: FieldMask,
    ) -> Result<(), Result<Error, Box<dyn Any + Send>>>;
    /// [`Stored::end_own`].
    fn end_own(&self, obj: &mut (dyn Any + Send + Sync), written: FieldMask, commit: bool);
    /// [`Ops::compute_fields`](crate::decl::object::sealed::Ops::compute_fields).
    fn compute_fields(
        &self,
        obj: &mut (dyn Any + Send + Sync),
        index: usize,
        keep_stale: bool,
    ) -> Option<(FieldMask, std::thread::Result<Fresh>)>;
    fn take_failure(
        &self,
        obj: &mut (dyn Any + Send + Sync),
        index: usize,
    ) -> Option<Box<dyn std::error::Error + Send + Sync>>;
    /// The value without its cells, as a `Box<T>`.
    fn unwrap_value(&self, obj: Obj, owner: &mut QCellOwner) -> Box<dyn Any + Send + Sync>;
    /// Drops the value and cells of an object in the heap's own storage (the heap is
    /// dropped: handles that outlive it must not keep objects, or cycles of them, alive).
    fn clear(&self, obj: &mut (dyn Any + Send + Sync));
    /// [`Object::handles`].
    fn handles(&self, obj: &(dyn Any + Send + Sync), visit: &mut dyn FnMut(ObjectId));
    /// [`Object::hash_shape`].
    fn hash_shape(&self, obj: &(dyn Any + Send + Sync), state: &mut dyn Hasher) -> bool;
    /// [`Object::same_shape`] of two objects of this type.
    fn same_shape(&self, a: &(dyn Any + Send + Sync), b: &(dyn Any + Send + Sync)) -> bool;
    /// Starts the queued eager runs of a shared object on the pool.
    fn spawn_eager(&self, obj: &Obj);
    /// [`Stored::loud`].
    fn loud<'a>(&self, obj: &'a (dyn Any + Send + Sync)) -> &'a Bits;
    /// The object is no longer `mut`: every write goes through the barrier (which
    /// refuses it).
    fn seal(&self, obj: &mut (dyn Any + Send + Sync));
    /// Computes a cache that reads only its own object, with no heap (an eager run).
    fn compute_detached(&self, obj: &(dyn Any + Send + Sync), index: usize);
}

/// [`TypeOps`] for `T`.
struct OpsOf<T>(PhantomData<fn() -> T>);

impl<T: Object> OpsOf<T> {
    const OPS: &'static dyn TypeOps = &OpsOf::<T>(PhantomData);
}

fn stored<T: Object>(obj: &(dyn Any + Send + Sync)) -> &Stored<T> {
    obj.downcast_ref::<Option<Stored<T>>>()
        .and_then(Option::as_ref)
        .expect("a slot's ops match its live object")
}

fn stored_mut<T: Object>(obj: &mut (dyn Any + Send + Sync)) -> &mut Stored<T> {
    obj.downcast_mut::<Option<Stored<T>>>()
        .and_then(Option::as_mut)
        .expect("a slot's ops match its live object")
}

impl<T: Object> TypeOps for OpsOf<T> {
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn cache_name(&self, index: usize) -> &'static str {
        T::CACHES[index].name()
    }

    fn cell<'a>(&self, obj: &'a (dyn Any + Send + Sync), index: usize) -> &'a dyn ErasedCell {
        stored::<T>(obj).cells.cell(index)
    }

    fn cell_mut<'a>(
        &self,
        obj: &'a mut (dyn Any + Send + Sync),
        index: usize,
    ) -> &'a mut dyn ErasedCell {
        stored_mut::<T>(obj).cells.cell_mut(index)
    }

    fn invalidate(&self, obj: &mut (dyn Any + Send + Sync), index: usize) -> bool {
        stored_mut::<T>(obj).cells.invalidate(index)
    }

    fn compute_shared(&self, heap: &Heap, frame: &Frame<'_>, id: CellId) -> Option<Fresh> {
        let stored = heap.stored::<T>(id.key);
        let ctx = Ctx {
            this: &stored.value,
            id: heap.id_of(id.key),
            heap,
            frame,
        };
        T::CACHES[id.index as usize].compute_shared(&ctx, &stored.cells, heap.in_barrier)
    }

    fn compute_owned(&self, heap: &mut Heap, frame: &Frame<'_>, id: CellId) -> Option<Fresh> {
        T::CACHES[id.index as usize].compute_owned(heap, id.key, frame)
    }

    fn recheck_own(
        &self,
        obj: &mut (dyn Any + Send + Sync),
        object: ObjectId,
        written: FieldMask,
    ) -> Result<(), Result<Error, Box<dyn Any + Send>>> {
        stored_mut::<T>(obj)
            .recheck_own::<()>(written)
            .map_err(|failed| failed.into_error::<T>(object))
    }

    fn end_own(&self, obj: &mut (dyn Any + Send + Sync), written: FieldMask, commit: bool) {
        stored_mut::<T>(obj).end_own(written, commit);
    }

    fn compute_fields(
        &self,
        obj: &mut (dyn Any + Send + Sync),
        index: usize,
        keep_stale: bool,
    ) -> Option<(FieldMask, std::thread::Result<Fresh>)> {
        let Stored { value, cells, .. } = stored_mut::<T>(obj);
        T::CACHES[index].compute_fields(value, cells, keep_stale)
    }

    fn take_failure(
        &self,
        obj: &mut (dyn Any + Send + Sync),
        index: usize,
    ) -> Option<Box<dyn std::error::Error + Send + Sync>> {
        T::CACHES[index].take_failure(&mut stored_mut::<T>(obj).cells)
    }

    fn unwrap_value(&self, obj: Obj, owner: &mut QCellOwner) -> Box<dyn Any + Send + Sync> {
        Box::new(into_stored::<T>(obj, owner).value)
    }

    fn clear(&self, obj: &mut (dyn Any + Send + Sync)) {
        if let Some(stored) = obj.downcast_mut::<Option<Stored<T>>>() {
            *stored = None;
        }
    }

    fn handles(&self, obj: &(dyn Any + Send + Sync), visit: &mut dyn FnMut(ObjectId)) {
        stored::<T>(obj).value.handles(visit);
    }

    fn hash_shape(&self, obj: &(dyn Any + Send + Sync), state: &mut dyn Hasher) -> bool {
        stored::<T>(obj).value.hash_shape(state)
    }

    fn same_shape(&self, a: &(dyn Any + Send + Sync), b: &(dyn Any + Send + Sync)) -> bool {
        stored::<T>(a).value.same_shape(&stored::<T>(b).value)
    }

    fn spawn_eager(&self, obj: &Obj) {
        let Obj::Shared(arc, runs) = obj else { return };
        runs.start(Arc::downgrade(arc));
        for (index, cache) in T::CACHES.iter().enumerate() {
            if cache.kind() != Kind::Eager || !cache.detached() {
                continue;
            }
            let runs = runs.clone();
            parallel::spawn(move || {
                runs.work(index, |object| {
                    if let Some(stored) = object
                        .downcast_ref::<Option<Stored<T>>>()
                        .and_then(Option::as_ref)
                    {
                        T::CACHES[index].compute_detached(&stored.value, &stored.cells);
                    }
                });
            });
        }
    }

    fn loud<'a>(&self, obj: &'a (dyn Any + Send + Sync)) -> &'a Bits {
        &stored::<T>(obj).loud
    }

    fn seal(&self, obj: &mut (dyn Any + Send + Sync)) {
        let stored = stored_mut::<T>(obj);
        stored.base = u64::MAX;
        stored.loud.set(u64::MAX);
    }

    fn compute_detached(&self, obj: &(dyn Any + Send + Sync), index: usize) {
        let stored = stored::<T>(obj);
        T::CACHES[index].compute_detached(&stored.value, &stored.cells);
    }
}

/// Takes a `Stored<T>` out of its slot (handles that still hold the storage find it
/// empty); for a shared object, once the workers let go of it.
fn into_stored<T: Object>(obj: Obj, owner: &mut QCellOwner) -> Stored<T> {
    match obj {
        Obj::Own(link) => link
            .get_mut(owner)
            .downcast_mut::<Option<Stored<T>>>()
            .and_then(Option::take)
            .expect("a slot's ops match its live object"),
        Obj::Shared(arc, runs) => {
            runs.settle();
            let arc: Arc<Option<Stored<T>>> =
                arc.downcast().expect("a slot's ops match its object");
            // Settled: no worker holds it (see `Obj::shared_mut`).
            Arc::try_unwrap(arc)
                .ok()
                .expect("no worker holds a settled object")
                .expect("a live object")
        }
    }
}

impl Drop for Heap {
    /// Handles outlive the heap, and objects hold handles to each other: drop every value
    /// now, so that no handle keeps an object (or a cycle of them) alive.
    fn drop(&mut self) {
        for slot in self.slots.values() {
            if let Obj::Own(link) = &slot.obj {
                slot.ops.clear(link.get_mut(&mut self.owner));
            }
        }
    }
}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Heap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Heap")
            .field("id", &self.id)
            .field("objects", &self.slots.len())
            .finish_non_exhaustive()
    }
}

impl Heap {
    /// An empty heap.
    pub fn new() -> Self {
        Heap {
            id: NEXT_HEAP.fetch_add(1, Ordering::Relaxed),
            owner: QCellOwner::new(),
            slots: SlotMap::with_key(),
            rev: 1,
            in_barrier: false,
            sched: Mutex::new(Sched::default()),
            wake: Condvar::new(),
            next_task: AtomicU64::new(0),
            owned_tasks: 0,
            journal: Mutex::new(Journal::default()),
            epoch: 1,
            settled: false,
            urgent: 0,
            classes: Classes::default(),
            work: Vec::new(),
            op_log: Mutex::default(),
        }
    }

    /// The number of live objects.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the heap holds no object.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The number of recorded dependency edges (a diagnostic): each is one cache's read of
    /// another object's field or cache. Edges of recomputed caches are replaced, not
    /// accumulated, so this stays proportional to the live computations.
    pub fn edges(&self) -> usize {
        self.slots
            .values()
            .map(|s| {
                let g = s.graph.lock();
                g.readers.len() + g.nodes.iter().map(|n| n.dependents.len()).sum::<usize>()
            })
            .sum()
    }

    /// Creates a mutable object. Its `now` and `eager` caches are computed first; if an
    /// invariant fails, nothing is created and the value comes back inside the error
    /// ([`Error::into_value`]).
    pub fn alloc<T: Object>(&mut self, value: T) -> Result<Mut<T>, Error> {
        self.create(value, Tag::Mut)
            .map(|(id, link)| Mut::new(id, link))
    }

    /// Creates a capsule object (see [`alloc`](Heap::alloc) for what creation checks).
    pub fn capsule<T: Object>(&mut self, value: T) -> Result<Capsule<T>, Error> {
        self.create(value, Tag::Capsule)
            .map(|(id, link)| Capsule::new(id, link))
    }

    /// Creates an immutable object (see [`alloc`](Heap::alloc) for what creation checks).
    ///
    /// The object joins the class of the immutable objects structurally equal to it
    /// ([`class_of`](Heap::class_of)) and shares their caches. If it founds a new class, its
    /// `eager` caches that read only its fields start on rayon's pool, and `imm` returns
    /// without waiting for them; a read of one waits for it or computes it.
    pub fn imm<T: Object>(&mut self, value: T) -> Result<Imm<T>, Error> {
        self.create(value, Tag::Imm).map(|(id, _)| Imm::new(id))
    }

    /// The tag of the object a handle names.
    pub fn tag<T: Object>(&self, handle: impl Handle<T>) -> Result<Tag, Error> {
        Ok(self.typed_slot::<T>(handle.id())?.0.tag)
    }

    /// Whether the handle names a live object of this heap.
    pub fn contains<T: Object>(&self, handle: impl Handle<T>) -> bool {
        self.slot(handle.id())
            .is_ok_and(|(s, _)| s.obj.get(&self.owner).is::<Option<Stored<T>>>())
    }

    /// Reads an object.
    pub fn get<T: Object>(&self, handle: impl Handle<T>) -> Result<&T, Error> {
        self.value_of(self.typed_slot::<T>(handle.id())?.0)
    }

    /// Reads a cached method's value, computing it if it is not valid.
    ///
    /// Through a [`Mut`] or [`Capsule`] handle a hit costs a comparison of heap ids, one of
    /// owners and one acquire load: the handle holds the object's storage, so there is no
    /// lookup and no type check. Through an [`Imm`] handle it also costs a slot lookup and
    /// a type check. A miss computes once, also when several threads miss at once (the
    /// others wait for the value). An immutable object's caches are its class's: a miss on
    /// an object equal to one whose cache is computed reads that one (a
    /// [`view`](Heap::view) finds it once for repeated reads).
    ///
    /// # Errors
    /// A stale or foreign handle, a cache of another type, or [`Error::Cycle`] if the
    /// computation needs its own value.
    #[inline]
    pub fn cache<'a, T: Object, V: Send + Sync + 'static, H: Handle<T>>(
        &'a self,
        handle: &'a H,
        cache: &Cache<T, V>,
    ) -> Result<&'a V, Error> {
        let id = handle.id();
        if id.heap == self.id {
            let stored = match handle.link() {
                // Empty once the object is removed: the slot's checks say why.
                Some(link) => self.owner.ro(&**link).as_ref(),
                None => self.slots.get(id.key).and_then(|slot| {
                    let stored = slot.obj.get(&self.owner);
                    let stored = stored.downcast_ref::<Option<Stored<T>>>()?.as_ref()?;
                    (!slot.gone).then_some(stored)
                }),
            };
            if let Some(v) = stored.and_then(|s| (cache.cell)(&s.cells).get()) {
                return Ok(v);
            }
        }
        self.cache_miss(id, cache)
    }

    /// Everything but a hit, kept out of line so that the hit inlines into the caller.
    #[cold]
    #[inline(never)]
    pub(crate) fn cache_miss<T: Object, V: Send + Sync + 'static>(
        &self,
        id: ObjectId,
        cache: &Cache<T, V>,
    ) -> Result<&V, Error> {
        let (slot, key) = self.typed_slot::<T>(id)?;
        let cell = (cache.cell)(&self.stored_in::<T>(slot)?.cells);
        if let Some(v) = cell.get() {
            return Ok(v);
        }
        let (slot, key) = self.shared_by(slot, key);
        let cell = (cache.cell)(&self.stored_in::<T>(slot)?.cells);
        if let Some(v) = cell.get() {
            return Ok(v);
        }
        let id = CellId {
            key,
            index: cache.index() as u32,
        };
        self.refresh(id, None)?;
        Ok(cell.get().expect("a refreshed cell is valid"))
    }

    /// Where an object's caches live: on its class's representative if it is a normalized
    /// immutable object, else on itself.
    #[inline]
    pub(crate) fn shared_by<'h>(&'h self, slot: &'h Slot, key: ObjectKey) -> (&'h Slot, ObjectKey) {
        match slot.class {
            Some(class) => {
                let rep = self.classes.rep(class);
                (&self.slots[rep], rep)
            }
            None => (slot, key),
        }
    }

    /// Removes an object and returns its value; its caches and dependency edges go with it.
    ///
    /// Caches of other objects that read it are invalidated, and their invariants
    /// rechecked (they see the object as removed); if one fails, the removal is refused
    /// and the object stays.
    ///
    /// # Errors
    /// A stale or foreign handle; [`Error::Referenced`] if immutable objects hold handles
    /// to it (see [`remove_graph`](Heap::remove_graph)); [`Error::Invariant`] if an
    /// invariant that read it fails without it.
    pub fn remove<T: Object>(&mut self, handle: impl Handle<T>) -> Result<T, Error> {
        let key = self.key::<T>(handle.id())?;
        let slot = &self.slots[key];
        if slot.imm_refs > 0 {
            return Err(Error::Referenced {
                object: handle.id(),
                type_name: std::any::type_name::<T>(),
                holders: slot.imm_refs as usize,
            });
        }
        self.remove_key(key)?;
        let slot = self.take_slot(key);
        Ok(into_stored::<T>(slot.obj, &mut self.owner).value)
    }

    /// Takes a removed object's slot out of the arena, with its class membership and the
    /// references it held.
    pub(crate) fn take_slot(&mut self, key: ObjectKey) -> Slot {
        let slot = self.slots.remove(key).expect("checked live");
        if slot.tag == Tag::Imm {
            slot.ops
                .handles(slot.obj.get(&self.owner), &mut |id: ObjectId| {
                    if let Some(s) = self.slots.get_mut(id.key).filter(|_| id.heap == self.id) {
                        s.imm_refs = s.imm_refs.saturating_sub(1);
                    }
                });
        }
        if let Some(class) = slot.class {
            if let Some(rep) = self.classes.forget(class, key) {
                // The new representative's eager caches were never started: its class's
                // were the old one's.
                let slot = &self.slots[rep];
                slot.ops.spawn_eager(&slot.obj);
            }
        }
        slot
    }

    /// The slot a handle names, checked for heap, generation and removal.
    #[inline]
    pub(crate) fn slot(&self, id: ObjectId) -> Result<(&Slot, ObjectKey), Error> {
        if id.heap != self.id {
            return Err(Error::ForeignHandle {
                object: id,
                heap: self.id,
            });
        }
        match self.slots.get(id.key) {
            Some(slot) if !slot.gone => Ok((slot, id.key)),
            _ => Err(Error::Removed {
                object: id,
                type_name: "object",
            }),
        }
    }

    pub(crate) fn slot_by_key(&self, key: ObjectKey) -> Result<&Slot, Error> {
        Ok(self.slot(self.id_of(key))?.0)
    }

    /// [`slot`](Heap::slot), with errors naming the handle's type.
    #[inline]
    pub(crate) fn typed_slot<T: Object>(&self, id: ObjectId) -> Result<(&Slot, ObjectKey), Error> {
        self.slot(id).map_err(|e| match e {
            Error::Removed { object, .. } => Error::Removed {
                object,
                type_name: std::any::type_name::<T>(),
            },
            e => e,
        })
    }

    /// The key of a live object of type `T`. Only the heap makes handles, each typed for
    /// the object it names, so a live handle's object is a `T` (no downcast here).
    pub(crate) fn key<T: Object>(&self, id: ObjectId) -> Result<ObjectKey, Error> {
        Ok(self.typed_slot::<T>(id)?.1)
    }

    pub(crate) fn value_of<'a, T: Object>(&'a self, slot: &'a Slot) -> Result<&'a T, Error> {
        self.stored_in::<T>(slot).map(|s| &s.value)
    }

    /// The value and cells in a live slot, checked to be a `T`.
    pub(crate) fn stored_in<'a, T: Object>(
        &'a self,
        slot: &'a Slot,
    ) -> Result<&'a Stored<T>, Error> {
        slot.obj
            .get(&self.owner)
            .downcast_ref::<Option<Stored<T>>>()
            .and_then(Option::as_ref)
            .ok_or_else(|| Error::Schema {
                type_name: std::any::type_name::<T>(),
                detail: format!("the object is a {}", slot.ops.type_name()),
            })
    }

    /// The value and cells of a live object known to be a `T`.
    pub(crate) fn stored<T: Object>(&self, key: ObjectKey) -> &Stored<T> {
        stored::<T>(self.slots[key].obj.get(&self.owner))
    }

    /// The value and cells of a live object known to be a `T`, exclusively.
    pub(crate) fn stored_mut<T: Object>(&mut self, key: ObjectKey) -> &mut Stored<T> {
        stored_mut::<T>(self.slots[key].obj.get_mut(&mut self.owner))
    }

    /// Records that some cache reads `fields` of the object in `slot` through an edge:
    /// writes to them must go through the barrier.
    pub(crate) fn make_loud(&self, slot: &Slot, fields: FieldMask) {
        if !fields.is_empty() {
            let loud = slot.ops.loud(slot.obj.get(&self.owner));
            // Most reads find their fields loud already: no read-modify-write then.
            if loud.load(Ordering::Relaxed) & fields.0 != fields.0 {
                loud.fetch_or(fields.0, Ordering::Relaxed);
            }
        }
    }

    /// The id of the object at `key` in this heap.
    pub(crate) fn id_of(&self, key: ObjectKey) -> ObjectId {
        ObjectId { key, heap: self.id }
    }

    /// Creates an object; returns its id and its storage, for the handle.
    fn create<T: Object>(&mut self, value: T, tag: Tag) -> Result<(ObjectId, Arc<Link<T>>), Error> {
        // Eager caches of an immutable object that read only its fields run on the pool.
        let off_heap = |c: &&dyn crate::decl::object::AnyCache<T>| {
            tag == Tag::Imm && c.kind() == Kind::Eager && c.detached()
        };
        let (key, link) = self.insert(value, tag)?;
        let id = self.id_of(key);
        let eager: Vec<CellId> = (0..T::CACHES.len())
            .filter(|&i| T::CACHES[i].kind().is_eager() && !off_heap(&T::CACHES[i]))
            .map(|i| CellId {
                key,
                index: i as u32,
            })
            .collect();
        match self.settle_cells(&eager) {
            Ok(()) => {
                if tag == Tag::Imm {
                    if T::CACHES.iter().any(&off_heap) {
                        let runs = T::CACHES
                            .iter()
                            .map(|c| if off_heap(c) { Run::Queued } else { Run::None })
                            .collect();
                        // No handle holds the storage of an immutable object: move it out.
                        let stored = self.owner.rw(&*link).take();
                        self.slots[key].obj =
                            Obj::Shared(Arc::new(stored), Arc::new(Runs::new(runs)));
                    }
                    self.became_imm(&[key]);
                }
                Ok((id, link))
            }
            Err(failure) => {
                let error = self.failure_error(failure);
                self.discard(key);
                let slot = self.slots.remove(key).expect("just inserted");
                let value = slot.ops.unwrap_value(slot.obj, &mut self.owner);
                match error {
                    Ok(Error::Invariant {
                        invariant, source, ..
                    }) => Err(Error::Invariant {
                        invariant,
                        source,
                        value: Some(value),
                    }),
                    Ok(e) => Err(e),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        }
    }

    /// Puts a new object in the arena, with every cache invalid; nothing is checked but
    /// its type's declaration.
    pub(crate) fn insert<T: Object>(
        &mut self,
        value: T,
        tag: Tag,
    ) -> Result<(ObjectKey, Arc<Link<T>>), Error> {
        check_schema::<T>()?;
        let graph = Graph {
            nodes: T::CACHES
                .iter()
                .map(|c| Node::new(c.kind().is_eager(), c.fields()))
                .collect(),
            readers: Default::default(),
        };
        let link: Arc<Link<T>> = Arc::new(QCell::new(&self.owner, Some(Stored::new(value, tag))));
        let key = self.slots.insert(Slot {
            tag,
            gone: false,
            obj: Obj::Own(link.clone()),
            ops: OpsOf::<T>::OPS,
            graph: Mutex::new(graph),
            class: None,
            imm_refs: 0,
        });
        Ok((key, link))
    }

    /// Drops every back edge that the computations of `key`'s cells left on other objects.
    pub(crate) fn discard(&mut self, key: ObjectKey) {
        let deps: Vec<(CellId, Vec<crate::track::Dep>)> = self.slots[key]
            .graph
            .get_mut()
            .nodes
            .iter_mut()
            .enumerate()
            .map(|(i, n)| {
                (
                    CellId {
                        key,
                        index: i as u32,
                    },
                    std::mem::take(&mut n.deps),
                )
            })
            .collect();
        for (id, deps) in deps {
            self.unlink(id, deps.iter());
        }
    }
}

fn check_schema<T: Object>() -> Result<(), Error> {
    let bad = |detail: String| {
        Err(Error::Schema {
            type_name: std::any::type_name::<T>(),
            detail,
        })
    };
    if T::FIELDS.len() > 64 {
        return bad(format!("{} fields (at most 64)", T::FIELDS.len()));
    }
    for (i, cache) in T::CACHES.iter().enumerate() {
        if cache.index() != i {
            return bad(format!(
                "cache `{}` is listed at {i} but has index {}",
                cache.name(),
                cache.index()
            ));
        }
    }
    Ok(())
}

macro_rules! index_by {
    ($($handle:ty),*) => {$(
        impl<T: Object> Index<$handle> for Heap {
            type Output = T;

            /// Reads an object.
            ///
            /// # Panics
            /// If the handle is stale, removed or of another heap; [`Heap::get`] returns
            /// the error instead.
            fn index(&self, handle: $handle) -> &T {
                match self.get(handle) {
                    Ok(v) => v,
                    Err(e) => panic!("steadfast: {e}"),
                }
            }
        }
    )*};
}

index_by!(Imm<T>, &Imm<T>, &Mut<T>, &Capsule<T>);
