//! The arena: slots holding type-erased objects with their tag, cache cells and
//! tracking data, reached through typed generational handles.

use std::any::Any;
use std::fmt;
use std::ops::Index;
use std::sync::atomic::AtomicU64 as StdAtomicU64;
use std::sync::atomic::Ordering;

use slotmap::SlotMap;

use crate::cell::{Cell, ErasedCell};
use crate::error::Error;
use crate::handle::{Capsule, Handle, Imm, Mut, ObjectId, ObjectKey, Tag};
use crate::object::{Cache, Fresh, Object};
use crate::sync::{AtomicU64, Condvar, Mutex};
use crate::track::{CellId, Compute, Ctx, Frame, Graph, Node, Saved, Sched};

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
    pub(crate) obj: Box<dyn ErasedObject>,
    pub(crate) cells: Box<[Box<dyn ErasedCell>]>,
    pub(crate) graph: Mutex<Graph>,
}

/// An object with its type erased.
pub(crate) trait ErasedObject: Any + Send + Sync {
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send + Sync>;
    fn type_name(&self) -> &'static str;
    fn cache_name(&self, index: usize) -> &'static str;
    fn compute(&self, heap: &Heap, frame: &Frame<'_>, id: CellId, into: Compute<'_>) -> Fresh;
    fn take_failure(
        &self,
        index: usize,
        cell: &mut dyn ErasedCell,
    ) -> Option<Box<dyn std::error::Error + Send + Sync>>;
}

impl<T: Object> ErasedObject for T {
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send + Sync> {
        self
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn cache_name(&self, index: usize) -> &'static str {
        T::CACHES[index].name()
    }

    fn compute(&self, heap: &Heap, frame: &Frame<'_>, id: CellId, into: Compute<'_>) -> Fresh {
        let ctx = Ctx {
            this: self,
            id: ObjectId {
                key: id.key,
                heap: heap.id,
            },
            heap,
            frame,
        };
        let cache = T::CACHES[id.index as usize];
        match into {
            Compute::Shared(cell) => cache.compute_shared(&ctx, cell, heap.in_barrier),
            Compute::Owned(cell) => cache.compute_owned(&ctx, cell, heap.in_barrier),
        }
    }

    fn take_failure(
        &self,
        index: usize,
        cell: &mut dyn ErasedCell,
    ) -> Option<Box<dyn std::error::Error + Send + Sync>> {
        T::CACHES[index].take_failure(cell)
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
            .is_ok_and(|(s, _)| (&*s.obj as &dyn Any).is::<T>())
    }

    /// Reads an object.
    pub fn get<T: Object>(&self, handle: impl Handle<T>) -> Result<&T, Error> {
        Self::value_of(self.typed_slot::<T>(handle.id())?.0)
    }

    /// Reads a cached method's value, computing it if it is not valid.
    ///
    /// A hit costs a slot lookup and one acquire load. A miss computes once, also when
    /// several threads miss at once (the others wait for the value).
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
                if let Some(Some(v)) = slot
                    .cells
                    .get(cache.index())
                    .and_then(|c| (&**c as &dyn Any).downcast_ref::<Cell<V>>())
                    .map(Cell::get)
                {
                    if !slot.gone {
                        return Ok(v);
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
        let cell = Self::typed_cell(slot, cache)?;
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
        Ok(*slot.obj.into_any().downcast::<T>().expect("checked type"))
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
        Ok(self.slot(ObjectId { key, heap: self.id })?.0)
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
        (&*slot.obj as &dyn Any)
            .downcast_ref()
            .ok_or_else(|| Error::Schema {
                type_name: std::any::type_name::<T>(),
                detail: format!("the object is a {}", slot.obj.type_name()),
            })
    }

    fn create<T: Object>(&mut self, value: T, tag: Tag) -> Result<ObjectId, Error> {
        check_schema::<T>()?;
        let cells: Box<[Box<dyn ErasedCell>]> = T::CACHES.iter().map(|c| c.new_cell()).collect();
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
            obj: Box::new(value),
            cells,
            graph: Mutex::new(graph),
        });
        let id = ObjectId { key, heap: self.id };
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
                let value = self
                    .slots
                    .remove(key)
                    .expect("just inserted")
                    .obj
                    .into_any();
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
