//! The compute protocol: bringing a cell up to date through `&Heap` — check its inputs,
//! claim it, compute it with its reads tracked, record the edges — and the read misses
//! that start it.

use crate::barrier::journal::keep_reads;
use crate::cell::ErasedCell;
use crate::decl::cache::Cache;
use crate::decl::field::FieldMask;
use crate::decl::object::Object;
use crate::error::{CacheName, Error};
use crate::heap::parts::{Core, Slot};
use crate::key::{CellId, ObjectId, ObjectKey};
use crate::track::frame::Frame;
use crate::track::graph::{Dep, State};
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
        if slot.graph.lock().nodes[id.index as usize].computing {
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
            let node = &mut graph.nodes[id.index as usize];
            // A barrier is checking: whatever this computes sees the state it may roll back,
            // so the rollback must put the cell back as it was (invalid).
            if self.barrier.in_barrier {
                node.save(
                    id,
                    false,
                    self.barrier.epoch,
                    &mut self.barrier.journal.lock().records,
                );
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
            (
                node.journaled,
                node.record(frame.take_reads(), fresh, self.rev),
            )
        };
        if self.barrier.in_barrier {
            keep_reads(
                &mut self.barrier.journal.lock(),
                self.barrier.epoch,
                journaled,
                reads,
                &old,
            );
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
