//! Dependency tracking: what each computation read, who depends on what, and the
//! protocol that brings a cell up to date through `&Heap` (claim, wait, detect cycles).

use std::cell::{Cell as StdCell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use indexmap::{IndexMap, IndexSet};
use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::cell::{ErasedCell, Fresh};
use crate::decl::cache::Cache;
use crate::decl::field::{Field, FieldMask};
use crate::decl::object::Object;
use crate::error::{CacheName, Error};
use crate::heap::handle::Handle;
use crate::heap::parts::{Core, Slot};
use crate::key::{CellId, ObjectId, ObjectKey};

/// Something a computation read on another object (or on its own through a handle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dep {
    /// A cached value.
    Cell(CellId),
    /// Fields of an object (recorded in that object's `readers`).
    Fields(ObjectKey),
}

/// Validity of a cell, ordered by how much work it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum State {
    /// The value is valid.
    Clean,
    /// A cache it read may have changed: recheck its inputs, recompute only if one did.
    Check,
    /// A field it read changed, or it was never computed: recompute.
    Dirty,
}

/// What a barrier must put back if it rolls back, for one cell: plain data, so that
/// ending a barrier forgets a thousand records at once rather than one by one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Saved {
    pub(crate) state: State,
    pub(crate) hot: bool,
    pub(crate) changed_at: u64,
    pub(crate) verified_at: u64,
    /// Where [`Journal::replaced`] keeps the reads of the computation a recomputation
    /// replaced, if one did ([`Saved::NO_READS`] else).
    pub(crate) reads: u32,
}

impl Saved {
    pub(crate) const NO_READS: u32 = u32::MAX;
}

/// What the running barrier must put back if it rolls back.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    /// One record per cell the barrier changed, in the order it changed them.
    pub(crate) records: Vec<(CellId, Saved)>,
    /// The reads that recomputations in the barrier replaced (few: only recomputed cells).
    pub(crate) replaced: Vec<(FieldMask, Vec<Dep>)>,
    /// The fields each dropped read of another object's fields covered (the object, the
    /// reader, the fields), so that a rollback relinks the reader to exactly those.
    pub(crate) unread: Vec<(ObjectKey, CellId, FieldMask)>,
}

impl Journal {
    /// Forgets every record, keeping the allocations for the next barrier.
    pub(crate) fn clear(&mut self) {
        self.records.clear();
        self.replaced.clear();
        self.unread.clear();
    }
}

/// The tracking data of one cell.
#[derive(Debug)]
pub(crate) struct Node {
    /// `now` or `eager`: brought up to date by every barrier that invalidates it.
    pub(crate) eager: bool,
    /// Reads its own object's fields only (the barrier computes it without a frame).
    pub(crate) fields_only: bool,
    /// The barrier is computing it (a read of it from that computation is a cycle).
    pub(crate) computing: bool,
    pub(crate) state: State,
    /// The value is an invariant's `Err` (only ever seen inside a barrier).
    pub(crate) failed: bool,
    /// The next computation counts as a change whatever its value: the stale value it
    /// would be compared with is older than what its dependents saw (see `raise_cell`).
    pub(crate) uncut: bool,
    /// Own fields the last computation read.
    pub(crate) reads: FieldMask,
    /// Other objects' data the last computation read.
    pub(crate) deps: Vec<Dep>,
    /// Cells whose last computation read this cell.
    pub(crate) dependents: Dependents,
    /// Revision at which the value last changed, and at which it was last known valid.
    pub(crate) changed_at: u64,
    pub(crate) verified_at: u64,
    /// Where a barrier keeps this node's [`Saved`] record: the barrier's epoch and the
    /// index in its journal. A record of an earlier epoch is void, so committing a barrier
    /// does not need to visit the nodes it journaled.
    pub(crate) journaled: (u64, u32),
}

impl Node {
    /// A node for a cache that was never computed; `fields`: the fields it reads, if it
    /// reads only its own object's, which are then its reads from the start (a write of
    /// them reaches it whichever path computed it).
    pub(crate) fn new(eager: bool, fields: Option<FieldMask>) -> Self {
        Node {
            eager,
            fields_only: fields.is_some(),
            computing: false,
            state: State::Dirty,
            failed: false,
            uncut: false,
            reads: fields.unwrap_or(FieldMask::EMPTY),
            deps: Vec::new(),
            dependents: Dependents::default(),
            changed_at: 0,
            verified_at: 0,
            journaled: (0, 0),
        }
    }

    /// Records a new computation's reads; returns the reads and deps it replaces.
    pub(crate) fn record(
        &mut self,
        frame: &Frame<'_>,
        fresh: Fresh,
        rev: u64,
    ) -> (FieldMask, Vec<Dep>) {
        let deps = frame.deps.take();
        let old_reads = std::mem::replace(&mut self.reads, FieldMask(frame.reads.get()));
        let old_deps = std::mem::replace(&mut self.deps, deps);
        self.state = State::Clean;
        self.failed = fresh.failed;
        // Taken whatever the value: it is owed to this computation only.
        let uncut = std::mem::take(&mut self.uncut);
        if fresh.changed || uncut {
            self.changed_at = rev;
        }
        self.verified_at = rev;
        (old_reads, old_deps)
    }

    pub(crate) fn revalidated(&mut self, rev: u64) {
        self.state = State::Clean;
        self.verified_at = rev;
    }

    /// Starts the record of this node in the journal of the barrier of `epoch`, once.
    /// Returns whether it did.
    pub(crate) fn save(
        &mut self,
        id: CellId,
        hot: bool,
        epoch: u64,
        journal: &mut Vec<(CellId, Saved)>,
    ) -> bool {
        if self.journaled.0 == epoch {
            return false;
        }
        self.journaled = (epoch, journal.len() as u32);
        journal.push((
            id,
            Saved {
                state: self.state,
                hot,
                changed_at: self.changed_at,
                verified_at: self.verified_at,
                reads: Saved::NO_READS,
            },
        ));
        true
    }
}

/// The cells that read a cell, in the order they first did: allocated only for a cell that
/// has any (most have none), so that an unread cell costs one pointer.
#[derive(Debug, Default)]
pub(crate) struct Dependents(Option<Box<IndexSet<CellId, FxBuildHasher>>>);

impl Dependents {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|s| s.is_empty())
    }

    pub(crate) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |s| s.len())
    }

    /// One iterator type whether the set is allocated or not, with an exact length, so
    /// that extending the barrier's work list from it stays a plain copy.
    #[inline]
    pub(crate) fn iter(&self) -> indexmap::set::Iter<'_, CellId> {
        self.0
            .as_deref()
            .map_or(indexmap::set::Slice::new(), |s| s.as_slice())
            .iter()
    }

    pub(crate) fn insert(&mut self, id: CellId) -> bool {
        self.0.get_or_insert_with(Default::default).insert(id)
    }

    pub(crate) fn swap_remove(&mut self, id: &CellId) -> bool {
        self.0.as_mut().is_some_and(|s| s.swap_remove(id))
    }

    pub(crate) fn extend(&mut self, ids: impl IntoIterator<Item = CellId>) {
        self.0.get_or_insert_with(Default::default).extend(ids);
    }
}

impl IntoIterator for Dependents {
    type Item = CellId;
    type IntoIter = std::iter::Flatten<std::option::IntoIter<IndexSet<CellId, FxBuildHasher>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.map(|s| *s).into_iter().flatten()
    }
}

/// Cells of other objects that read an object's fields, with the fields each read:
/// allocated only for an object that has any.
#[derive(Debug, Default)]
pub(crate) struct Readers(Option<Box<IndexMap<CellId, FieldMask, FxBuildHasher>>>);

impl Readers {
    /// Adds `fields` to what `reader` read.
    pub(crate) fn add(&mut self, reader: CellId, fields: FieldMask) {
        let entry = self
            .0
            .get_or_insert_with(Default::default)
            .entry(reader)
            .or_insert(FieldMask::EMPTY);
        *entry = entry.union(fields);
    }

    pub(crate) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |m| m.len())
    }

    /// As [`Dependents::iter`].
    #[inline]
    pub(crate) fn iter(&self) -> indexmap::map::Iter<'_, CellId, FieldMask> {
        self.0
            .as_deref()
            .map_or(indexmap::map::Slice::new(), |m| m.as_slice())
            .iter()
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &CellId> {
        self.iter().map(|(k, _)| k)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &FieldMask> {
        self.iter().map(|(_, v)| v)
    }

    pub(crate) fn swap_remove(&mut self, reader: &CellId) -> Option<FieldMask> {
        self.0.as_mut().and_then(|m| m.swap_remove(reader))
    }
}

/// The tracking data of one object.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    pub(crate) nodes: Vec<Node>,
    /// Cells of other objects that read this object's fields, with the fields they read.
    pub(crate) readers: Readers,
}

/// Which cells are being computed by which task, and which task waits for which cell.
#[derive(Debug, Default)]
pub(crate) struct Sched {
    owners: FxHashMap<CellId, u64>,
    waiting: FxHashMap<u64, CellId>,
}

impl Sched {
    /// If `task` waiting for a cell owned by `owner` would close a cycle of waits, the
    /// cells along it.
    fn wait_cycle(&self, mut owner: u64, task: u64, first: CellId) -> Option<Vec<CellId>> {
        let mut path = vec![first];
        while let Some(&cell) = self.waiting.get(&owner) {
            path.push(cell);
            owner = *self.owners.get(&cell)?;
            if owner == task {
                return Some(path);
            }
            if path.len() > self.waiting.len() + 1 {
                return None;
            }
        }
        None
    }
}

/// The computation in progress on this thread, linked to the one that asked for it.
pub(crate) struct Frame<'a> {
    pub(crate) task: u64,
    pub(crate) cell: CellId,
    pub(crate) parent: Option<&'a Frame<'a>>,
    reads: StdCell<u64>,
    deps: RefCell<Vec<Dep>>,
    /// A read in this computation ran into a cycle (the chain): whatever it returns is
    /// dropped, and its reader gets the cycle error in turn.
    cycle: StdCell<Option<Arc<[CacheName]>>>,
}

impl<'a> Frame<'a> {
    pub(crate) fn new(task: u64, cell: CellId, parent: Option<&'a Frame<'a>>) -> Self {
        Frame {
            task,
            cell,
            parent,
            reads: StdCell::new(0),
            deps: RefCell::new(Vec::new()),
            cycle: StdCell::new(None),
        }
    }

    /// Whether a read in this computation ran into a cycle.
    pub(crate) fn on_cycle(&self) -> bool {
        let chain = self.cycle.take();
        let on = chain.is_some();
        self.cycle.set(chain);
        on
    }

    /// The cycle error of a computation that ran into one.
    pub(crate) fn cycle_error(&self) -> Option<Error> {
        self.cycle.take().map(|chain| Error::Cycle { chain })
    }

    /// Passes an error from a read to the computation; a cycle also marks the
    /// computation as abandoned, whatever it does with the error.
    fn fail(&self, error: Error) -> Error {
        if let Error::Cycle { chain } = &error {
            self.cycle.set(Some(chain.clone()));
        }
        error
    }

    pub(crate) fn take_deps(&self) -> Vec<Dep> {
        self.deps.take()
    }

    fn depend(&self, dep: Dep) {
        let mut deps = self.deps.borrow_mut();
        if !deps.contains(&dep) {
            deps.push(dep);
        }
    }
}

/// What a cached computation sees: its own object's fields and the rest of the heap,
/// every read recorded so that exactly the writes that can change the result invalidate it.
///
/// It gives shared access only: a computation cannot write to the heap.
pub struct Ctx<'a, T> {
    pub(crate) this: &'a T,
    pub(crate) id: ObjectId,
    pub(crate) heap: &'a Core,
    pub(crate) frame: &'a Frame<'a>,
}

impl<'a, T: Object> Ctx<'a, T> {
    /// Reads a field of this object; a write to it will invalidate the computation.
    #[inline]
    pub fn field<F>(&self, field: &Field<T, F>) -> &'a F {
        self.frame
            .reads
            .set(self.frame.reads.get() | field.mask().0);
        field.get(self.this)
    }

    /// Reads the fields in `fields` (the derive destructures the result); a write to one of
    /// them will invalidate the computation.
    #[doc(hidden)]
    #[inline]
    pub fn __fields(&self, fields: FieldMask) -> &'a T {
        self.frame.reads.set(self.frame.reads.get() | fields.0);
        self.this
    }

    /// Reads the whole object; a write to any field will invalidate the computation.
    pub fn all(&self) -> &'a T {
        self.frame.reads.set(u64::MAX);
        self.this
    }

    /// The id of this object.
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// Reads another object; any write to it will invalidate the computation.
    pub fn get<U: Object>(&self, handle: impl Handle<U>) -> Result<&'a U, Error> {
        self.heap_field(handle.id(), FieldMask::ALL, |u: &'a U| u)
    }

    /// Reads one field of another object; only writes to that field invalidate the
    /// computation.
    pub fn field_of<U: Object, F>(
        &self,
        handle: impl Handle<U>,
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
        let (slot, key) = self.heap.typed_slot::<U>(id)?;
        let value = self.heap.value_of::<U>(slot)?;
        let me = self.frame.cell;
        let mut graph = slot.graph.lock();
        graph.readers.add(me, mask);
        drop(graph);
        self.heap.make_loud(slot, mask);
        self.frame.depend(Dep::Fields(key));
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
    pub fn cache<U: Object, V: Send + Sync + 'static>(
        &self,
        handle: impl Handle<U>,
        cache: &Cache<U, V>,
    ) -> Result<&'a V, Error> {
        self.cache_of(handle.id(), cache)
    }

    /// Reads another cached value of this object; the computation is invalidated when
    /// that value changes. A cycle is handled as in [`Ctx::cache`].
    pub fn own<V: Send + Sync + 'static>(&self, cache: &Cache<T, V>) -> Result<&'a V, Error> {
        self.cache_of(self.id, cache)
    }

    fn cache_of<U: Object, V: Send + Sync + 'static>(
        &self,
        id: ObjectId,
        cache: &Cache<U, V>,
    ) -> Result<&'a V, Error> {
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
            Some(v) => v,
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
        let node = &mut graph.nodes[id.index as usize];
        node.dependents.insert(self.frame.cell);
        let reads = node.reads;
        drop(graph);
        self.heap.make_loud(slot, reads);
        self.frame.depend(Dep::Cell(id));
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

/// Releases a claimed cell and wakes its waiters, also when the computation unwinds.
struct Claim<'h> {
    heap: &'h Core,
    id: CellId,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut sched = self.heap.sched.lock();
        sched.owners.remove(&self.id);
        drop(sched);
        self.heap.wake.notify_all();
    }
}

impl Core {
    /// Brings a cell up to date through `&Heap`: a concurrent reader of the same cell waits
    /// for the one computing it; a computation that needs itself gets `Error::Cycle`.
    ///
    /// Computations read other cells through here, so a chain of them recurses through
    /// it: the stack grows on demand (see `stack`), so that any depth the data reaches is
    /// evaluated.
    pub(crate) fn refresh(&self, id: CellId, parent: Option<&Frame<'_>>) -> Result<(), Error> {
        let slot = self.slot_by_key(id.key)?;
        let cell = slot.ops.cell(slot.obj.get(&self.owner), id.index as usize);
        if cell.is_ready() {
            return Ok(());
        }
        crate::stack::grown(|| self.refresh_slow(id, slot, cell, parent))
    }

    fn refresh_slow(
        &self,
        id: CellId,
        slot: &Slot,
        cell: &dyn ErasedCell,
        parent: Option<&Frame<'_>>,
    ) -> Result<(), Error> {
        if let Some(runs) = slot.obj.runs() {
            // An eager cache handed to the pool: wait for the worker, or do its work.
            let index = id.index as usize;
            runs.read(index, || {
                slot.ops.compute_detached(slot.obj.get(&self.owner), index)
            })
            .map_err(|message| Error::Panicked {
                cache: self.name_of(id),
                message: message.to_string(),
            })?;
            if cell.is_ready() {
                return Ok(());
            }
        }
        if slot.graph.lock().nodes[id.index as usize].computing {
            // The barrier is computing it: only that computation can be asking.
            return Err(self.cycle(&[id], parent));
        }
        let task = match parent {
            Some(frame) => frame.task,
            None => self.next_task.fetch_add(1, Ordering::Relaxed) + 1,
        };
        let mut sched = self.sched.lock();
        loop {
            if cell.is_ready() {
                return Ok(());
            }
            match sched.owners.get(&id).copied() {
                None => {
                    sched.owners.insert(id, task);
                    break;
                }
                Some(owner) if owner == task => {
                    drop(sched);
                    return Err(self.cycle(&[id], parent));
                }
                Some(owner) => {
                    if let Some(path) = sched.wait_cycle(owner, task, id) {
                        drop(sched);
                        return Err(self.cycle(&path, parent));
                    }
                    sched.waiting.insert(task, id);
                    sched = self.wake.wait(sched);
                    sched.waiting.remove(&task);
                }
            }
        }
        drop(sched);
        let _claim = Claim { heap: self, id };
        let frame = Frame::new(task, id, parent);
        let check = {
            let mut graph = slot.graph.lock();
            let node = &mut graph.nodes[id.index as usize];
            // A barrier is checking: whatever this computes sees the state it may roll back,
            // so the rollback must put the cell back as it was (invalid).
            if self.in_barrier {
                node.save(id, false, self.epoch, &mut self.journal.lock().records);
            }
            (node.state == State::Check).then(|| (node.deps.clone(), node.verified_at))
        };
        if let Some((deps, verified_at)) = check {
            if !self.inputs_changed(&deps, verified_at, &frame)? {
                cell.revalidate_shared();
                slot.graph.lock().nodes[id.index as usize].revalidated(self.rev);
                return Ok(());
            }
        }
        let computed = panic::catch_unwind(AssertUnwindSafe(|| {
            slot.ops.compute_shared(self, &frame, id)
        }));
        let fresh = match computed {
            Ok(Some(fresh)) => fresh,
            // Ran into a cycle: nothing it did is kept.
            Ok(None) => {
                self.forget_partial(id, &frame);
                return Err(frame.cycle_error().expect("abandoned on a cycle"));
            }
            Err(payload) => {
                self.forget_partial(id, &frame);
                // A panic after a read ran into a cycle (an unwrapped cycle error, say) is
                // the cycle's doing.
                match frame.cycle_error() {
                    Some(cycle) => return Err(cycle),
                    None => panic::resume_unwind(payload),
                }
            }
        };
        let (journaled, (reads, old)) = {
            let mut graph = slot.graph.lock();
            let node = &mut graph.nodes[id.index as usize];
            (node.journaled, node.record(&frame, fresh, self.rev))
        };
        if self.in_barrier {
            keep_reads(&mut self.journal.lock(), self.epoch, journaled, reads, &old);
        }
        self.relink(id, old, slot);
        Ok(())
    }

    /// Whether a cache read by a `Check` computation changed after it was last verified.
    pub(crate) fn inputs_changed(
        &self,
        deps: &[Dep],
        verified_at: u64,
        frame: &Frame<'_>,
    ) -> Result<bool, Error> {
        for dep in deps {
            let Dep::Cell(input) = *dep else { continue };
            match self.refresh(input, Some(frame)) {
                Ok(()) => {}
                Err(Error::Removed { .. }) => return Ok(true),
                Err(e) => return Err(e),
            }
            let Ok(slot) = self.slot_by_key(input.key) else {
                return Ok(true);
            };
            if slot.graph.lock().nodes[input.index as usize].changed_at > verified_at {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Drops the back edges of `id`'s previous computation that its new one did not
    /// renew (the new reads linked themselves as they happened, see `Ctx`).
    pub(crate) fn relink(&self, id: CellId, old: Vec<Dep>, slot: &Slot) {
        if old.is_empty() {
            return;
        }
        let graph = slot.graph.lock();
        let new = &graph.nodes[id.index as usize].deps;
        let gone: Vec<Dep> = old.into_iter().filter(|d| !new.contains(d)).collect();
        drop(graph);
        self.unlink(id, gone.iter());
    }

    /// Removes `id` from the back edges of `deps`.
    pub(crate) fn unlink<'d>(&self, id: CellId, deps: impl Iterator<Item = &'d Dep>) {
        for dep in deps {
            let key = match *dep {
                Dep::Cell(c) => c.key,
                Dep::Fields(k) => k,
            };
            let Some(slot) = self.slots.get(key) else {
                continue;
            };
            let mut graph = slot.graph.lock();
            match *dep {
                Dep::Cell(c) => {
                    graph.nodes[c.index as usize].dependents.swap_remove(&id);
                }
                Dep::Fields(_) => {
                    if let Some(fields) = graph.readers.swap_remove(&id) {
                        if self.in_barrier {
                            drop(graph);
                            self.journal.lock().unread.push((key, id, fields));
                        }
                    }
                }
            }
        }
    }

    /// Adds `id` to the back edges of `deps` (used when a rollback reinstates old reads);
    /// `unread` says which fields a dropped read of fields covered.
    pub(crate) fn link<'d>(
        &self,
        id: CellId,
        deps: impl Iterator<Item = &'d Dep>,
        unread: &[(ObjectKey, CellId, FieldMask)],
    ) {
        for dep in deps {
            match *dep {
                Dep::Cell(c) => {
                    if let Some(slot) = self.slots.get(c.key) {
                        let mut graph = slot.graph.lock();
                        let node = &mut graph.nodes[c.index as usize];
                        node.dependents.insert(id);
                        let reads = node.reads;
                        drop(graph);
                        self.make_loud(slot, reads);
                    }
                }
                Dep::Fields(k) => {
                    if let Some(slot) = self.slots.get(k) {
                        let fields = unread
                            .iter()
                            // The first: what it read before the barrier.
                            .find(|&&(key, reader, _)| key == k && reader == id)
                            .map_or(FieldMask::ALL, |&(_, _, fields)| fields);
                        let mut graph = slot.graph.lock();
                        graph.readers.add(id, fields);
                        drop(graph);
                        self.make_loud(slot, fields);
                    }
                }
            }
        }
    }

    /// The cycle error for a wait on `path[0]` closing a cycle through `path` and the
    /// frames of the computation that asked.
    pub(crate) fn cycle(&self, path: &[CellId], parent: Option<&Frame<'_>>) -> Error {
        let mut chain: Vec<CellId> = Vec::new();
        let mut frame = parent;
        while let Some(f) = frame {
            chain.push(f.cell);
            if f.cell == path[0] {
                break;
            }
            frame = f.parent;
        }
        chain.reverse();
        if chain.first() != Some(&path[0]) {
            chain.splice(0..0, path.iter().rev().copied());
        }
        Error::Cycle {
            chain: chain.into_iter().map(|c| self.name_of(c)).collect(),
        }
    }

    pub(crate) fn name_of(&self, id: CellId) -> CacheName {
        let object = self.id_of(id.key);
        match self.slots.get(id.key) {
            Some(slot) => CacheName {
                object,
                type_name: slot.ops.type_name(),
                cache: slot.ops.cache_name(id.index as usize),
            },
            None => CacheName {
                object,
                type_name: "?",
                cache: "?",
            },
        }
    }
}

/// Keeps in a journaled node's record the reads its first recomputation in the barrier
/// replaced, so that a rollback can reinstate them.
pub(crate) fn keep_reads(
    journal: &mut Journal,
    epoch: u64,
    (at, index): (u64, u32),
    reads: FieldMask,
    deps: &[Dep],
) {
    if at != epoch {
        return;
    }
    let saved = &mut journal.records[index as usize].1;
    if saved.reads == Saved::NO_READS {
        saved.reads = journal.replaced.len() as u32;
        journal.replaced.push((reads, deps.to_vec()));
    }
}

impl Core {
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
}
