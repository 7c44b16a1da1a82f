//! What base operations owe their overlays: a base computation that reads something an
//! overlay holds is computed in that overlay too (shadowed); a committed base write is
//! pushed into every overlay that read what it wrote, which dirties exactly the overlay's
//! cells that read it. An overlay that read nothing of it is not visited.

use crate::decl::field::FieldMask;
use crate::diag::stats::Counter;
use crate::heap::parts::Core;
use crate::key::{CellId, ObjectKey};
use crate::overlay::state::{Event, OverlayState};
use crate::track::graph::Dep;

use std::sync::atomic::Ordering;

impl Core {
    /// A base computation of `reader` read `dep`, whose object carries the overlay bits
    /// `bits`: in each of those overlays that holds `dep`, the reader (and whatever reads
    /// it) is computed in the overlay from now on.
    #[cold]
    #[inline(never)]
    pub(crate) fn shadow_reader(&self, bits: u64, reader: CellId, dep: Dep) {
        for state in self.overlays.with_bits(bits) {
            if state.holds(dep) {
                self.shadow(state, reader);
            }
        }
    }

    /// Starts computing the base cell `cell`, and every base cell that reads it, in the
    /// overlay: their recorded reads reach something the overlay holds, so the base's
    /// values are not the overlay's. Marks their objects so that reads find them.
    pub(crate) fn shadow(&self, state: &OverlayState, cell: CellId) {
        let mut work = vec![cell];
        while let Some(c) = work.pop() {
            let Some(slot) = self.slots.get(c.key) else {
                continue;
            };
            let entry = state.entry_or_insert(c.key, slot.ops.entry_ops());
            // Marked also on an object the overlay wrote: if its copy goes (`revert`), the
            // cell is still the overlay's.
            if entry.shadowed[c.index as usize].load(Ordering::Acquire) {
                continue;
            }
            entry.shadowed[c.index as usize].store(true, Ordering::Release);
            slot.ops
                .overlaid(slot.obj.get(&self.owner))
                .fetch_or(state.bit, Ordering::Release);
            let mut graph = slot.graph.lock();
            graph.overlays |= state.bit;
            if let Some(node) = graph.nodes.get(c.index as usize) {
                work.extend(node.dependents.iter().copied());
            }
            drop(graph);
            let mut pending = state.pending.lock();
            pending.shadowed.push(c);
            if slot.ops.cache_kind(c.index as usize).is_eager() {
                pending.check.push(c);
            }
        }
    }

    /// The overlay takes the object at `key` over (it writes, removes or made it): the base
    /// cells whose recorded reads reach it are computed in the overlay from now on, the
    /// object carries the overlay's bit, and every base write of it goes through the barrier
    /// (which records it, for a commit's conflict check). Makes its entry if it has none.
    pub(crate) fn take_over(&self, state: &OverlayState, key: ObjectKey) {
        let slot = &self.slots[key];
        state.entry_or_insert(key, slot.ops.entry_ops());
        let graph = slot.graph.lock();
        let readers: Vec<CellId> = graph
            .readers
            .keys()
            .copied()
            .chain(
                graph
                    .nodes
                    .iter()
                    .flat_map(|n| n.dependents.iter().copied()),
            )
            .collect();
        drop(graph);
        for reader in readers {
            self.shadow(state, reader);
        }
        let obj = slot.obj.get(&self.owner);
        slot.ops
            .overlaid(obj)
            .fetch_or(state.bit, Ordering::Release);
        slot.ops.loud(obj).fetch_or(u64::MAX, Ordering::Relaxed);
        slot.graph.lock().overlays |= state.bit;
    }

    /// The running operation wrote `fields` of the object at `key`: owed to the overlays
    /// that hold or read it, once the operation commits.
    #[inline]
    pub(crate) fn overlay_wrote(&mut self, key: ObjectKey, fields: FieldMask) {
        if self.overlays.is_empty() {
            return;
        }
        let graph = self.slots[key].graph.get_mut();
        let bits = graph.overlays;
        if bits != 0 {
            self.overlays.events.push(Event::Fields(key, fields, bits));
        }
    }

    /// The running operation removes the object at `key`: owed to the overlays that hold or
    /// read it (even one that wrote it: the object is gone for it too), once it commits.
    pub(crate) fn overlay_removed(&mut self, key: ObjectKey) {
        if self.overlays.is_empty() {
            return;
        }
        let slot = &mut self.slots[key];
        let bits = slot.graph.get_mut().overlays;
        if bits != 0 {
            let caches = slot.ops.cache_count();
            self.overlays.events.push(Event::Removed(key, bits, caches));
        }
    }

    /// The running operation committed: what it invalidated (the journaled cells) and wrote
    /// is pushed into the overlays that read it.
    pub(crate) fn push_overlays(&mut self) {
        if self.overlays.is_empty() {
            return;
        }
        let journal = self.barrier.journal.get_mut();
        for (id, _) in &journal.records {
            let Some(slot) = self.slots.get_mut(id.key) else {
                continue;
            };
            let bits = slot.graph.get_mut().overlays;
            if bits != 0 {
                self.overlays.events.push(Event::Cell(*id, bits));
            }
        }
        if self.overlays.events.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.overlays.events);
        for state in self.overlays.open.values_mut() {
            let mut work = Vec::new();
            for &event in &events {
                match event {
                    Event::Fields(key, fields, bits) if bits & state.bit != 0 => {
                        if state.wrote(key) {
                            // The overlay's copy is its truth; a commit will report this.
                            state.conflicts.insert(key);
                        } else {
                            work.extend(state.readers_of(key, fields));
                        }
                    }
                    Event::Removed(key, bits, caches) if bits & state.bit != 0 => {
                        if state.wrote(key) {
                            state.conflicts.insert(key);
                        }
                        work.extend(state.all_readers(key, caches));
                    }
                    // A cell the overlay holds is its own: the base's is not what it read.
                    Event::Cell(cell, bits)
                        if bits & state.bit != 0 && !state.holds(Dep::Cell(cell)) =>
                    {
                        work.extend(state.readers_of_cell(cell));
                    }
                    _ => {}
                }
            }
            let dirtied = state.dirty(&mut self.owner, work);
            self.stats
                .tally()
                .add(Counter::OverlayDirtied, dirtied as u64);
        }
        // Kept, empty, for its allocation.
        self.overlays.events = events;
        self.overlays.events.clear();
    }

    /// The running operation rolled back: it owes the overlays nothing.
    pub(crate) fn drop_overlay_events(&mut self) {
        self.overlays.events.clear();
    }
}
