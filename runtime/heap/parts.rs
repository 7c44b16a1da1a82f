//! The heap's parts: the arena of slots (each a type-erased object with its tag and
//! tracking data), the claim scheduler, the barrier's journal and the classes of immutable
//! objects. [`Heap`](crate::Heap) is the public face of a [`Core`].

use crate::track::graph::Node;

use crate::barrier::journal::Barrier;
use crate::cell::{ErasedCell, Fresh};
use crate::decl::field::FieldMask;
use crate::diag::cause::Clock;
use crate::diag::stats::{Counters, Tally};
use crate::diag::watch::Watches;
use crate::error::Error;
use crate::imm::class::{ClassKey, Classes};
use crate::imm::parallel::Runs;
use crate::key::{CellId, ObjectId, ObjectKey, OverlayKey, Tag};
use crate::overlay::state::{Entry, EntryOps, OverlayState, Overlays};
use crate::sync::{Bits, Mutex};
use crate::track::frame::Frame;
use crate::track::graph::Graph;
use crate::track::sched::Claims;

use std::sync::atomic::AtomicU64 as StdAtomicU64;

use qcell::QCellOwner;
use slotmap::SlotMap;
use std::any::Any;
use std::hash::Hasher;
use std::sync::atomic::Ordering;
use std::sync::Arc;

static NEXT_HEAP: StdAtomicU64 = StdAtomicU64::new(1);

/// An arena of objects with cached methods and invariants that stay right.
///
/// Objects are created with a tag ([`imm`](crate::Heap::imm), [`capsule`](crate::Heap::capsule),
/// [`mutable`](crate::Heap::mutable) for `mut`), read through `&Heap` from any number of threads,
/// and written through `&mut Heap`, where the write barrier invalidates exactly the
/// caches the write can change and rechecks the invariants it can break.
pub struct Core {
    pub(crate) id: u64,
    /// Grants access to the objects' storage: shared through `&Heap`, exclusive through
    /// `&mut Heap`, so that handles may hold the storage and still reach it only here.
    pub(crate) owner: QCellOwner,
    pub(crate) slots: SlotMap<ObjectKey, Slot>,
    /// Bumped by every write that invalidates something.
    pub(crate) rev: u64,
    /// Which task computes which cell through `&Heap`.
    pub(crate) claims: Claims,
    /// The running barrier's or transaction's state and what it must undo.
    pub(crate) barrier: Barrier,
    /// The classes of structurally equal immutable objects.
    pub(crate) classes: Classes,
    /// What the heap did (nothing without the `stats` feature).
    pub(crate) stats: Counters,
    /// The running operation, named in the causes marks record (nothing without the
    /// `explain` feature).
    pub(crate) clock: Clock,
    /// Watched caches and the change feed.
    pub(crate) watches: Watches,
    /// Operations rolled back so far: what attached implementations were asked before the
    /// last one is no longer trusted (see `ext`).
    pub(crate) rollbacks: u64,
    /// Computations that asked an attached implementation so far (each one's record of
    /// what it asked is numbered).
    pub(crate) asks: StdAtomicU64,
    /// The open overlays, and what the running operation owes them.
    pub(crate) overlays: Overlays,
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

/// Where an object's `Option<Stored<T>>` lives.
pub(crate) enum Obj {
    /// Owned by the slot and by the `mut` and capsule handles, reached through the heap's
    /// [`QCellOwner`] (a [`Link`](crate::decl::stored::Link), type-erased).
    Own(Arc<dyn Storage>),
    /// An immutable object whose eager caches run on workers, which hold weak references to
    /// it, with the state of those runs.
    Shared(Arc<dyn Any + Send + Sync>, Arc<Runs>),
}

/// A [`Link`](crate::decl::stored::Link) with its type erased: the typed work the barrier does on every cell it
/// marks, behind one dynamic call.
pub(crate) trait Storage: Send + Sync {
    /// The `Link<T>` itself.
    fn as_any(&self) -> &(dyn Any + Send + Sync);
    fn get<'a>(&'a self, owner: &'a QCellOwner) -> &'a (dyn Any + Send + Sync);
    fn get_mut<'a>(&'a self, owner: &'a mut QCellOwner) -> &'a mut (dyn Any + Send + Sync);
    /// Invalidates a cell of the live object: see [`ErasedCell::invalidate`].
    fn invalidate(&self, owner: &mut QCellOwner, index: usize, keep: bool) -> Option<bool>;
}

impl Obj {
    #[inline]
    pub(crate) fn get<'a>(&'a self, owner: &'a QCellOwner) -> &'a (dyn Any + Send + Sync) {
        match self {
            Obj::Own(a) => a.get(owner),
            Obj::Shared(a, _) => &**a,
        }
    }

    /// Invalidates a cell: see [`ErasedCell::invalidate`]. `again`: the cell was
    /// invalidated before in the running transaction, and its stale value, kept for a
    /// rollback, stays (the current one is dropped).
    #[inline]
    pub(crate) fn invalidate(
        &mut self,
        owner: &mut QCellOwner,
        ops: &dyn TypeOps,
        index: usize,
        again: bool,
        keep: bool,
    ) -> Option<bool> {
        if again {
            ops.cell_mut(self.get_mut(owner), index).roll_back(false);
            return Some(false);
        }
        match self {
            Obj::Own(a) => a.invalidate(owner, index, keep),
            Obj::Shared(..) => ops.invalidate(self.get_mut(owner), index, keep),
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

/// The operations on a `Stored<T>` that the runtime performs with `T` erased.
pub(crate) trait TypeOps: Send + Sync {
    fn type_name(&self) -> &'static str;
    /// [`Object::STABLE_NAME`], or the type's name where it has none.
    fn stable_name(&self) -> &'static str;
    fn cache_name(&self, index: usize) -> &'static str;
    /// [`AnyCache::is_invariant`](crate::AnyCache::is_invariant) of the cache at `index`.
    fn is_invariant(&self, index: usize) -> bool;
    /// [`AnyCache::kind`](crate::AnyCache::kind) of the cache at `index`.
    fn cache_kind(&self, index: usize) -> crate::Kind;
    /// The fields the cache at `index` reads, if it reads only its own object's.
    fn cache_fields(&self, index: usize) -> Option<FieldMask>;
    /// How many caches the type has.
    fn cache_count(&self) -> usize;
    /// [`Object::FIELDS`](crate::Object::FIELDS).
    fn field_names(&self) -> &'static [&'static str];
    fn cell<'a>(&self, obj: &'a (dyn Any + Send + Sync), index: usize) -> &'a dyn ErasedCell;
    fn cell_mut<'a>(
        &self,
        obj: &'a mut (dyn Any + Send + Sync),
        index: usize,
    ) -> &'a mut dyn ErasedCell;
    /// Invalidates a cell: see [`ErasedCell::invalidate`].
    fn invalidate(
        &self,
        obj: &mut (dyn Any + Send + Sync),
        index: usize,
        keep: bool,
    ) -> Option<bool>;
    /// Computes a claimed cell through `&Heap`; `None` if it ran into a cycle.
    fn compute_shared(&self, heap: &Core, frame: &Frame<'_>, id: CellId) -> Option<Fresh>;
    /// Computes a cell and publishes it through `&mut Heap`; `None` if it ran into a cycle.
    fn compute_owned(&self, heap: &mut Core, frame: &Frame<'_>, id: CellId) -> Option<Fresh>;
    /// [`Stored::recheck_own`](crate::decl::stored::Stored::recheck_own), with the failure as an error of object `object` (or the
    /// panic's payload).
    fn recheck_own(
        &self,
        obj: &mut (dyn Any + Send + Sync),
        object: ObjectId,
        written: FieldMask,
        tally: Tally<'_>,
    ) -> Result<bool, Result<Error, Box<dyn Any + Send>>>;
    /// [`Stored::end_own`](crate::decl::stored::Stored::end_own).
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
    /// [`Object::handles`](crate::Object::handles).
    fn handles(&self, obj: &(dyn Any + Send + Sync), visit: &mut dyn FnMut(ObjectId));
    /// [`Object::handle_sets`](crate::Object::handle_sets).
    fn handle_sets(&self, obj: &(dyn Any + Send + Sync), visit: &mut dyn FnMut(usize, usize));
    /// [`Object::hash_shape`](crate::Object::hash_shape).
    fn hash_shape(&self, obj: &(dyn Any + Send + Sync), state: &mut dyn Hasher) -> bool;
    /// [`Object::same_shape`](crate::Object::same_shape) of two objects of this type.
    fn same_shape(&self, a: &(dyn Any + Send + Sync), b: &(dyn Any + Send + Sync)) -> bool;
    /// Starts the queued eager runs of a shared object on the pool.
    fn spawn_eager(&self, obj: &Obj);
    /// Whether the type's objects need no tracking nodes until something tracks one of
    /// their cells (see [`Graph::nodes`]).
    fn untracked(&self) -> bool;
    /// The tracking nodes of an object's cells, one per cache: for a new object (every
    /// cell never computed), or, `materialized`, for one whose cells were settled without
    /// nodes so far.
    fn nodes(&self, rev: u64, materialized: bool) -> Vec<Node>;
    /// [`Stored::loud`](crate::decl::stored::Stored::loud).
    fn loud<'a>(&self, obj: &'a (dyn Any + Send + Sync)) -> &'a Bits;
    /// The object is no longer `mut`: every write goes through the barrier (which
    /// refuses it).
    fn seal(&self, obj: &mut (dyn Any + Send + Sync));
    /// Computes a cache that reads only its own object, with no heap (an eager run).
    fn compute_detached(&self, obj: &(dyn Any + Send + Sync), index: usize);
    /// [`Stored::overlaid`](crate::decl::stored::Stored::overlaid).
    fn overlaid<'a>(&self, obj: &'a (dyn Any + Send + Sync)) -> &'a Bits;
    /// An overlay's copy of the object ([`Object::fork`](crate::Object::fork)), every cell
    /// invalid, as an `Arc<Link<T>>` owned by `owner`; `None` if the type makes none.
    fn fork(
        &self,
        obj: &(dyn Any + Send + Sync),
        owner: &QCellOwner,
        overlay: OverlayKey,
    ) -> Option<Box<dyn Any + Send + Sync>>;
    /// Records an overlay's copy (made by [`fork`](TypeOps::fork)) on the object, first
    /// among its copies.
    fn attach_fork(&self, obj: &Obj, owner: &mut QCellOwner, fork: &(dyn Any + Send + Sync));
    /// Forgets the overlay's copy recorded on the object.
    fn detach_fork(&self, obj: &Obj, owner: &mut QCellOwner, overlay: OverlayKey);
    /// Swaps the values of an object and of an overlay's copy of it: a commit writes the
    /// copy over the object, and a rollback of the commit swaps back.
    fn swap_fork(&self, obj: &Obj, fork: &(dyn Any + Send + Sync), owner: &mut QCellOwner);
    /// The same type's operations on the cells an overlay holds.
    fn entry_ops(&self) -> &'static dyn EntryOps;
    /// Computes a cell an overlay holds (see `overlay::read`); `None` if it ran into a
    /// cycle.
    fn compute_layer(
        &self,
        heap: &Core,
        state: &OverlayState,
        entry: &Entry,
        frame: &Frame<'_>,
        id: CellId,
    ) -> Option<Fresh>;
}

impl Drop for Core {
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

impl Core {
    /// An empty heap.
    pub(crate) fn new() -> Self {
        Core {
            id: NEXT_HEAP.fetch_add(1, Ordering::Relaxed),
            owner: QCellOwner::new(),
            slots: SlotMap::with_key(),
            rev: 1,
            claims: Claims::default(),
            barrier: Barrier::default(),
            classes: Classes::default(),
            stats: Counters::new(),
            clock: Clock::default(),
            watches: Watches::default(),
            rollbacks: 0,
            asks: StdAtomicU64::new(0),
            overlays: Overlays::default(),
        }
    }
}
