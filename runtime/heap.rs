//! The arena: slots holding type-erased objects with their tag, cache cells and
//! tracking data, reached through typed generational handles.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Index;
use std::sync::atomic::AtomicU64 as StdAtomicU64;
use std::sync::atomic::Ordering;

use slotmap::SlotMap;

use crate::cell::ErasedCell;
use crate::error::Error;
use crate::handle::{Capsule, Handle, Imm, Mut, ObjectId, ObjectKey, Tag};
use crate::object::sealed::Cells as _;
use crate::object::{Cache, Fresh, Object};
use crate::sync::{AtomicU64, Condvar, Mutex};
use crate::track::{CellId, Ctx, Frame, Graph, Node, Saved, Sched};

static NEXT_HEAP: StdAtomicU64 = StdAtomicU64::new(1);

/// An arena of objects with cached methods and invariants that stay right.
///
/// Objects are created with a tag ([`imm`](Heap::imm), [`capsule`](Heap::capsule),
/// [`alloc`](Heap::alloc) for `mut`), read through `&Heap` from any number of threads,
/// and written through `&mut Heap`, where the write barrier invalidates exactly the
/// caches the write can change and rechecks the invariants it can break.
pub struct Heap {
    pub(crate) id: u64,
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
    pub(crate) journal: Mutex<Vec<(CellId, Saved)>>,
    /// Numbers barriers, so that a node's pointer into an earlier journal is void.
    pub(crate) epoch: u64,
    /// The running barrier recomputed cells (their stale values go at commit).
    pub(crate) settled: bool,
    /// Journaled cells the barrier must bring up to date (`now`, `eager`, or read since
    /// last computed); when none, settling is skipped.
    pub(crate) urgent: usize,
}

/// One object with its caches and tracking data.
pub(crate) struct Slot {
    pub(crate) tag: Tag,
    /// Being removed: invisible to reads while the removal settles.
    pub(crate) gone: bool,
    /// A `Stored<T>`: the value with its cells, so that one downcast reaches both.
    pub(crate) obj: Box<dyn Any + Send + Sync>,
    /// What the runtime does with the object without knowing its type.
    pub(crate) ops: &'static dyn TypeOps,
    pub(crate) graph: Mutex<Graph>,
}

/// An object's value and the cells of its cached methods.
pub(crate) struct Stored<T: Object> {
    pub(crate) value: T,
    pub(crate) cells: T::Cells,
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
    /// Computes a claimed cell through `&Heap`.
    fn compute_shared(&self, heap: &Heap, frame: &Frame<'_>, id: CellId) -> Fresh;
    /// Computes a cell and publishes it through `&mut Heap`.
    fn compute_owned(&self, heap: &mut Heap, frame: &Frame<'_>, id: CellId) -> Fresh;
    fn take_failure(
        &self,
        obj: &mut (dyn Any + Send + Sync),
        index: usize,
    ) -> Option<Box<dyn std::error::Error + Send + Sync>>;
    /// The value without its cells, as a `Box<T>`.
    fn unwrap_value(&self, obj: Box<dyn Any + Send + Sync>) -> Box<dyn Any + Send + Sync>;
}

/// [`TypeOps`] for `T`.
struct OpsOf<T>(PhantomData<fn() -> T>);

impl<T: Object> OpsOf<T> {
    const OPS: &'static dyn TypeOps = &OpsOf::<T>(PhantomData);
}

fn stored<T: Object>(obj: &(dyn Any + Send + Sync)) -> &Stored<T> {
    obj.downcast_ref().expect("a slot's ops match its object")
}

fn stored_mut<T: Object>(obj: &mut (dyn Any + Send + Sync)) -> &mut Stored<T> {
    obj.downcast_mut().expect("a slot's ops match its object")
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

    fn compute_shared(&self, heap: &Heap, frame: &Frame<'_>, id: CellId) -> Fresh {
        let stored = heap.stored::<T>(id.key);
        let ctx = Ctx {
            this: &stored.value,
            id: heap.id_of(id.key),
            heap,
            frame,
        };
        T::CACHES[id.index as usize].compute_shared(&ctx, &stored.cells, heap.in_barrier)
    }

    fn compute_owned(&self, heap: &mut Heap, frame: &Frame<'_>, id: CellId) -> Fresh {
        T::CACHES[id.index as usize].compute_owned(heap, id.key, frame)
    }

    fn take_failure(
        &self,
        obj: &mut (dyn Any + Send + Sync),
        index: usize,
    ) -> Option<Box<dyn std::error::Error + Send + Sync>> {
        T::CACHES[index].take_failure(&mut stored_mut::<T>(obj).cells)
    }

    fn unwrap_value(&self, obj: Box<dyn Any + Send + Sync>) -> Box<dyn Any + Send + Sync> {
        let stored: Box<Stored<T>> = obj.downcast().expect("a slot's ops match its object");
        Box::new(stored.value)
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
            slots: SlotMap::with_key(),
            rev: 1,
            in_barrier: false,
            sched: Mutex::new(Sched::default()),
            wake: Condvar::new(),
            next_task: AtomicU64::new(0),
            owned_tasks: 0,
            journal: Mutex::new(Vec::new()),
            epoch: 1,
            settled: false,
            urgent: 0,
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
        self.create(value, Tag::Mut).map(Mut::new)
    }

    /// Creates a capsule object (see [`alloc`](Heap::alloc) for what creation checks).
    pub fn capsule<T: Object>(&mut self, value: T) -> Result<Capsule<T>, Error> {
        self.create(value, Tag::Capsule).map(Capsule::new)
    }

    /// Creates an immutable object (see [`alloc`](Heap::alloc) for what creation checks).
    pub fn imm<T: Object>(&mut self, value: T) -> Result<Imm<T>, Error> {
        self.create(value, Tag::Imm).map(Imm::new)
    }

    /// Turns a capsule into an immutable object, consuming its unique handle. Its caches
    /// stay valid.
    pub fn freeze<T: Object>(&mut self, capsule: Capsule<T>) -> Result<Imm<T>, Error> {
        let key = self.key::<T>(capsule.id)?;
        self.slots[key].tag = Tag::Imm;
        Ok(Imm::new(capsule.id))
    }

    /// The tag of the object a handle names.
    pub fn tag<T: Object>(&self, handle: impl Handle<T>) -> Result<Tag, Error> {
        Ok(self.typed_slot::<T>(handle.id())?.0.tag)
    }

    /// Whether the handle names a live object of this heap.
    pub fn contains<T: Object>(&self, handle: impl Handle<T>) -> bool {
        self.slot(handle.id())
            .is_ok_and(|(s, _)| s.obj.is::<Stored<T>>())
    }

    /// Reads an object.
    pub fn get<T: Object>(&self, handle: impl Handle<T>) -> Result<&T, Error> {
        Self::value_of(self.typed_slot::<T>(handle.id())?.0)
    }

    /// Reads a cached method's value, computing it if it is not valid.
    ///
    /// A hit costs a slot lookup, one type check of the object (its cells are stored with
    /// it) and one acquire load. A miss computes once, also when several threads miss at
    /// once (the others wait for the value).
    ///
    /// # Errors
    /// A stale or foreign handle, a cache of another type, or [`Error::Cycle`] if the
    /// computation needs its own value.
    #[inline]
    pub fn cache<T: Object, V: Send + Sync + 'static>(
        &self,
        handle: impl Handle<T>,
        cache: &Cache<T, V>,
    ) -> Result<&V, Error> {
        let id = handle.id();
        if id.heap == self.id {
            if let Some(slot) = self.slots.get(id.key) {
                if let Some(stored) = slot.obj.downcast_ref::<Stored<T>>() {
                    if let Some(v) = (cache.cell)(&stored.cells).get() {
                        if !slot.gone {
                            return Ok(v);
                        }
                    }
                }
            }
        }
        self.cache_miss(id, cache)
    }

    /// Everything but a hit, kept out of line so that the hit inlines into the caller.
    #[cold]
    #[inline(never)]
    fn cache_miss<T: Object, V: Send + Sync + 'static>(
        &self,
        id: ObjectId,
        cache: &Cache<T, V>,
    ) -> Result<&V, Error> {
        let (slot, key) = self.typed_slot::<T>(id)?;
        let cell = (cache.cell)(&Self::stored_in::<T>(slot)?.cells);
        if let Some(v) = cell.get() {
            return Ok(v);
        }
        let id = CellId {
            key,
            index: cache.index() as u32,
        };
        Self::catch_cycle(|| self.refresh(id, None))?;
        Ok(cell.get().expect("a refreshed cell is valid"))
    }

    /// Removes an object and returns its value; its caches and dependency edges go with it.
    ///
    /// Caches of other objects that read it are invalidated, and their invariants
    /// rechecked (they see the object as removed); if one fails, the removal is refused
    /// and the object stays.
    pub fn remove<T: Object>(&mut self, handle: impl Handle<T>) -> Result<T, Error> {
        let key = self.key::<T>(handle.id())?;
        self.remove_key(key)?;
        let slot = self.slots.remove(key).expect("checked live");
        let stored: Box<Stored<T>> = slot.obj.downcast().expect("checked type");
        Ok(stored.value)
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

    pub(crate) fn value_of<T: Object>(slot: &Slot) -> Result<&T, Error> {
        Self::stored_in::<T>(slot).map(|s| &s.value)
    }

    /// The value and cells in a slot, checked to be a `T`.
    pub(crate) fn stored_in<T: Object>(slot: &Slot) -> Result<&Stored<T>, Error> {
        slot.obj.downcast_ref().ok_or_else(|| Error::Schema {
            type_name: std::any::type_name::<T>(),
            detail: format!("the object is a {}", slot.ops.type_name()),
        })
    }

    /// The value and cells of a live object known to be a `T`.
    pub(crate) fn stored<T: Object>(&self, key: ObjectKey) -> &Stored<T> {
        stored::<T>(&*self.slots[key].obj)
    }

    /// The value and cells of a live object known to be a `T`, exclusively.
    pub(crate) fn stored_mut<T: Object>(&mut self, key: ObjectKey) -> &mut Stored<T> {
        stored_mut::<T>(&mut *self.slots[key].obj)
    }

    /// The id of the object at `key` in this heap.
    pub(crate) fn id_of(&self, key: ObjectKey) -> ObjectId {
        ObjectId { key, heap: self.id }
    }

    fn create<T: Object>(&mut self, value: T, tag: Tag) -> Result<ObjectId, Error> {
        check_schema::<T>()?;
        let graph = Graph {
            nodes: T::CACHES
                .iter()
                .map(|c| Node::new(c.kind().is_eager()))
                .collect(),
            readers: Default::default(),
        };
        let key = self.slots.insert(Slot {
            tag,
            gone: false,
            obj: Box::new(Stored {
                value,
                cells: T::Cells::empty(),
            }),
            ops: OpsOf::<T>::OPS,
            graph: Mutex::new(graph),
        });
        let id = self.id_of(key);
        let eager: Vec<CellId> = (0..T::CACHES.len())
            .filter(|&i| T::CACHES[i].kind().is_eager())
            .map(|i| CellId {
                key,
                index: i as u32,
            })
            .collect();
        match self.settle_cells(&eager) {
            Ok(()) => Ok(id),
            Err(failure) => {
                let error = self.failure_error(failure);
                self.discard(key);
                let slot = self.slots.remove(key).expect("just inserted");
                let value = slot.ops.unwrap_value(slot.obj);
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

index_by!(Imm<T>, Mut<T>, &Capsule<T>);
