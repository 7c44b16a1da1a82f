//! The compute protocol: bringing a cell up to date through `&Heap` — check its inputs,
//! claim it, compute it with its reads tracked, record the edges — and the read misses
//! that start it.

use crate::barrier::journal::Journal;
use crate::cell::Fresh;
use crate::track::graph::Node;
use std::any::Any;

use crate::barrier::journal::keep_reads;
use crate::cell::ErasedCell;
use crate::decl::cache::Cache;
use crate::decl::field::FieldMask;
use crate::decl::object::Object;
use crate::diag::stats::Counter;
#[allow(unused_imports)]
use crate::diag::trace::event;
use crate::error::{CacheName, Error};
use crate::heap::parts::{Core, Slot};
use crate::key::{CellId, ObjectId, ObjectKey};
use crate::track::frame::Frame;
use crate::track::graph::Dep;
use std::panic;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;

/// Releases a claimed cell and wakes its waiters, also when the computation unwinds.
struct Claim<'h> {
    heap: &'h Core,
    id: CellId,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut sched = self.heap.claims.sched.lock();
        sched.owners.remove(&self.id);
        drop(sched);
        self.heap.claims.wake.notify_all();
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
        if slot
            .graph
            .lock()
            .nodes
            .get(id.index as usize)
            .is_some_and(|n| n.computing)
        {
            // The barrier is computing it: only that computation can be asking.
            return Err(self.cycle(&[id], parent));
        }
        let task = match parent {
            Some(frame) => frame.task,
            None => self.claims.next_task.fetch_add(1, Ordering::Relaxed) + 1,
        };
        let mut sched = self.claims.sched.lock();
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
                    sched = self.claims.wake.wait(sched);
                    sched.waiting.remove(&task);
                }
            }
        }
        drop(sched);
        let _claim = Claim { heap: self, id };
        let frame = Frame::new(task, id, parent);
        let check = {
            let mut graph = slot.graph.lock();
            if graph.nodes.is_empty() {
                if !self.barrier.in_barrier {
                    // Untracked (see `Graph::nodes`): a cache of its own fields, computed and
                    // published with nothing to record.
                    drop(graph);
                    return match slot.ops.compute_shared(self, &frame, id) {
                        Some(fresh) => {
                            Shared(self).computed(id, fresh);
                            Ok(())
                        }
                        None => Err(frame.cycle_error().expect("abandoned on a cycle")),
                    };
                }
                graph.materialize(|| slot.ops.nodes(self.rev, true));
            }
            let node = &mut graph.nodes[id.index as usize];
            // A barrier is checking: whatever this computes sees the state it may roll back,
            // so the rollback must put the cell back as it was (invalid).
            if self.barrier.in_barrier {
                // The cell is invalid: it is being computed.
                node.save(
                    id,
                    false,
                    false,
                    false,
                    self.barrier.epoch,
                    &mut self.barrier.journal.lock().records,
                );
            }
            node.check()
        };
        match bring_up_to_date(&mut Shared(self), id, &frame, check) {
            Ok(_) => Ok(()),
            Err(Stop::Error(error)) => Err(error),
            Err(Stop::Panic(payload)) => panic::resume_unwind(payload),
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
                        if self.barrier.in_barrier {
                            drop(graph);
                            self.barrier.journal.lock().unread.push((key, id, fields));
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
        self.stats.shared(Counter::Cycles);
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
            self.stats.hit();
            return Ok(v);
        }
        let (slot, key) = self.shared_by(slot, key);
        let cell = (cache.cell)(&self.stored_in::<T>(slot)?.cells);
        if let Some(v) = cell.get() {
            self.stats.hit();
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

/// Why bringing a cell up to date stopped: nothing the computation did is kept.
pub(crate) enum Stop {
    /// A read failed (a cycle, most often), or a computation ran into a cycle.
    Error(Error),
    /// The computation panicked; the caller resumes or reports the payload.
    Panic(Box<dyn Any + Send>),
}

/// The two ways the compute protocol runs: through `&Heap`, where readers share the heap
/// and a claim gives one of them the cell ([`Shared`]), and under `&mut Heap`, where the
/// barrier publishes without atomics or locks ([`Exclusive`]).
pub(crate) trait Way {
    fn core(&self) -> &Core;
    /// Computes the cell and publishes its value; `None` if it ran into a cycle.
    fn compute(&mut self, frame: &Frame<'_>, id: CellId) -> Option<Fresh>;
    /// Makes the cell's stale value valid again: its inputs did not change.
    /// Makes the stale value valid again; whether the cell is valid after.
    fn revalidate(&mut self, id: CellId) -> bool;
    fn node<R>(&mut self, id: CellId, f: impl FnOnce(&mut Node) -> R) -> R;
    fn journal<R>(&mut self, f: impl FnOnce(&mut Journal) -> R) -> R;
    /// Counts one event (nothing without the `stats` feature).
    fn count(&mut self, counter: Counter);

    /// Counts a computation of `id` that gave `fresh`: through `&Heap` a compute (a read
    /// missed), under `&mut Heap` a recompute (a write brings the cell up to date).
    #[inline(always)]
    fn computed(&mut self, id: CellId, fresh: Fresh) {
        #[cfg(feature = "stats")]
        {
            let invariant = self.core().slots[id.key]
                .ops
                .is_invariant(id.index as usize);
            self.count(if Self::BY_WRITE {
                Counter::Recomputes
            } else {
                Counter::Computes
            });
            if invariant {
                self.count(Counter::InvariantChecks);
                if fresh.failed {
                    self.count(Counter::InvariantFailures);
                }
            }
        }
        #[cfg(not(feature = "stats"))]
        let _ = (id, fresh);
    }

    /// Computations this way are a write's (the barrier's), not a read's.
    #[cfg_attr(not(feature = "stats"), allow(dead_code))]
    const BY_WRITE: bool;
}

/// The compute protocol through `&Heap`.
pub(crate) struct Shared<'a>(pub(crate) &'a Core);

/// The compute protocol under `&mut Heap`.
pub(crate) struct Exclusive<'a>(pub(crate) &'a mut Core);

impl Way for Shared<'_> {
    fn core(&self) -> &Core {
        self.0
    }

    fn compute(&mut self, frame: &Frame<'_>, id: CellId) -> Option<Fresh> {
        self.0.slots[id.key].ops.compute_shared(self.0, frame, id)
    }

    fn revalidate(&mut self, id: CellId) -> bool {
        let slot = &self.0.slots[id.key];
        slot.ops
            .cell(slot.obj.get(&self.0.owner), id.index as usize)
            .revalidate_shared()
    }

    fn node<R>(&mut self, id: CellId, f: impl FnOnce(&mut Node) -> R) -> R {
        f(&mut self.0.slots[id.key].graph.lock().nodes[id.index as usize])
    }

    fn journal<R>(&mut self, f: impl FnOnce(&mut Journal) -> R) -> R {
        f(&mut self.0.barrier.journal.lock())
    }

    fn count(&mut self, counter: Counter) {
        self.0.stats.shared(counter);
    }

    const BY_WRITE: bool = false;
}

impl Way for Exclusive<'_> {
    fn core(&self) -> &Core {
        self.0
    }

    fn compute(&mut self, frame: &Frame<'_>, id: CellId) -> Option<Fresh> {
        let ops = self.0.slots[id.key].ops;
        ops.compute_owned(self.0, frame, id)
    }

    fn revalidate(&mut self, id: CellId) -> bool {
        let core = &mut *self.0;
        let slot = &mut core.slots[id.key];
        slot.ops
            .cell_mut(slot.obj.get_mut(&mut core.owner), id.index as usize)
            .revalidate_owned()
    }

    fn node<R>(&mut self, id: CellId, f: impl FnOnce(&mut Node) -> R) -> R {
        f(&mut self.0.slots[id.key].graph.get_mut().nodes[id.index as usize])
    }

    fn journal<R>(&mut self, f: impl FnOnce(&mut Journal) -> R) -> R {
        f(self.0.barrier.journal.get_mut())
    }

    fn count(&mut self, counter: Counter) {
        self.0.stats.tally().add(counter, 1);
    }

    const BY_WRITE: bool = true;
}

/// The compute protocol, one for reads through `&Heap` and for the barrier, once the cell
/// is claimed (see [`Core::refresh`] and the barrier's `settle`): a `Check` cell (`check`:
/// the reads of its last computation and when it was verified) first verifies its inputs
/// and, if none changed, is valid again (early cutoff); else it is computed with its reads
/// tracked in `frame`, and the reads are recorded as its edges (those it no longer makes
/// are unlinked; inside a barrier, the ones it replaced are kept for a rollback). A
/// computation that runs into a cycle or panics leaves nothing behind.
///
/// Returns the computation's outcome, or `None` if the cell was revalidated.
pub(crate) fn bring_up_to_date<W: Way>(
    way: &mut W,
    id: CellId,
    frame: &Frame<'_>,
    check: Option<(Vec<Dep>, u64)>,
) -> Result<Option<Fresh>, Stop> {
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        if let Some((deps, verified_at)) = &check {
            if !way.core().inputs_changed(deps, *verified_at, frame)? {
                // A `Check` cell keeps its old value (see `raise_cell`); without one there
                // is nothing to take back, and it is computed.
                let revalidated = way.revalidate(id);
                debug_assert!(revalidated, "a cell to check has its old value");
                if revalidated {
                    return Ok(None);
                }
            }
        }
        match crate::stack::grown(|| way.compute(frame, id)) {
            Some(fresh) => Ok(Some(fresh)),
            None => Err(frame.cycle_error().expect("abandoned on a cycle")),
        }
    }));
    let rev = way.core().rev;
    match result {
        Ok(Ok(None)) => {
            way.node(id, |node| node.revalidated(rev));
            way.count(Counter::Revalidated);
            event!(cache = %way.core().name_of(id), "revalidate");
            Ok(None)
        }
        Ok(Ok(Some(fresh))) => {
            way.computed(id, fresh);
            way.core().traced_compute(id, &fresh);
            let (journaled, (reads, old)) = way.node(id, |node| {
                (node.journaled, node.record(frame.take_reads(), fresh, rev))
            });
            let core = way.core();
            if core.barrier.in_barrier {
                let epoch = core.barrier.epoch;
                way.journal(|journal| keep_reads(journal, epoch, journaled, reads, &old));
            }
            let core = way.core();
            core.relink(id, old, &core.slots[id.key]);
            Ok(Some(fresh))
        }
        Ok(Err(error)) => {
            way.core().forget_partial(id, frame);
            Err(Stop::Error(error))
        }
        Err(payload) => {
            way.core().forget_partial(id, frame);
            // A panic after a read ran into a cycle (an unwrapped cycle error, say) is the
            // cycle's doing.
            match frame.cycle_error() {
                Some(cycle) => Err(Stop::Error(cycle)),
                None => Err(Stop::Panic(payload)),
            }
        }
    }
}
