//! What an overlay holds: its copies of the objects it wrote, the cells it computes for base
//! objects whose caches read those copies (shadow cells), and the dependency graph of
//! everything it computed.

use crate::cell::ErasedCell;
use crate::decl::field::FieldMask;
use crate::key::{CellId, ObjectKey, OverlayKey};
use crate::sync::{Flag, Mutex};
use crate::track::graph::{Dep, Dependents, Readers};

use qcell::QCellOwner;
use rustc_hash::{FxHashMap, FxHashSet};
use slotmap::SlotMap;
use std::any::Any;
use std::sync::atomic::Ordering;

/// What a base operation did that an overlay may have read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event {
    /// Fields of an object were written (all of them for an implementation replaced, see
    /// `Heap::replace_ext`); the overlays' bits the object carried.
    Fields(ObjectKey, FieldMask, u64),
    /// A cell was invalidated; the overlays' bits its object carried.
    Cell(CellId, u64),
    /// An object was removed; the overlays' bits it carried, and its number of caches.
    Removed(ObjectKey, u64, usize),
}

/// The open overlays of a heap, and what the running base operation owes them.
#[derive(Default)]
pub(crate) struct Overlays {
    pub(crate) open: SlotMap<OverlayKey, OverlayState>,
    /// The bit numbers in use (see [`OverlayState::bit`]).
    used: u64,
    /// How many open overlays share the last bit.
    shared: usize,
    /// How many slots hold objects made in overlays, hidden from the base.
    pub(crate) hidden: usize,
    /// What the running operation did to objects some overlay holds or read.
    pub(crate) events: Vec<Event>,
}

impl Overlays {
    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// A bit for a new overlay: the lowest free one, or the shared last one.
    pub(crate) fn take_bit(&mut self) -> u64 {
        let free = !self.used & (u64::MAX >> 1);
        if free == 0 {
            self.shared += 1;
            return 1 << 63;
        }
        let bit = 1 << free.trailing_zeros();
        self.used |= bit;
        bit
    }

    /// Frees a closed overlay's bit; returns whether no open overlay has it any more (then
    /// the marks it left on base objects are cleared).
    pub(crate) fn free_bit(&mut self, bit: u64) -> bool {
        if bit == 1 << 63 {
            self.shared -= 1;
            return self.shared == 0;
        }
        self.used &= !bit;
        true
    }

    /// Whether an open overlay made the object at `key` (the base does not see it).
    pub(crate) fn hides(&self, key: ObjectKey) -> bool {
        self.open.values().any(|o| o.created(key))
    }

    /// The overlays whose bit is in `bits`.
    pub(crate) fn with_bits(&self, bits: u64) -> impl Iterator<Item = &OverlayState> {
        self.open.values().filter(move |o| o.bit & bits != 0)
    }
}

/// One open overlay.
pub(crate) struct OverlayState {
    /// This overlay's bit in the base's `overlaid` and `overlays` words: one of 63, or the
    /// last, shared by every overlay opened while 63 others are (their reads then take the
    /// slow path whenever any of them holds something of the object).
    pub(crate) bit: u64,
    /// The objects the overlay holds something of, at stable addresses: entries are made
    /// while the overlay is read (`&Heap`), and handed out by reference.
    entries: boxcar::Vec<Entry>,
    index: Mutex<FxHashMap<ObjectKey, usize>>,
    pub(crate) graph: Mutex<LayerGraph>,
    /// Held by the outermost computation running in the overlay: one at a time, so that a
    /// computation in the overlay needs no claims (nested ones hold it through their
    /// outermost one).
    pub(crate) computing: Mutex<()>,
    /// Work owed to the overlay by what happened since it was last settled.
    pub(crate) pending: Mutex<Pending>,
    /// The invariants that fail in the overlay since a base write, in the order they were
    /// found.
    pub(crate) broken: Mutex<Vec<CellId>>,
    /// Objects the overlay wrote that the base wrote too since.
    pub(crate) conflicts: FxHashSet<ObjectKey>,
}

/// Work owed to an overlay.
#[derive(Default)]
pub(crate) struct Pending {
    /// Cells that must be brought up to date before the overlay is read (`now` and `eager`
    /// caches, invariants among them), in the order they were owed.
    pub(crate) check: Vec<CellId>,
    /// Base cells the overlay started to compute on its own while it was read: whatever read
    /// the base's value of them in the overlay is dirtied at the next write.
    pub(crate) shadowed: Vec<CellId>,
}

/// What an overlay holds of one object.
pub(crate) struct Entry {
    pub(crate) key: ObjectKey,
    pub(crate) ops: &'static dyn EntryOps,
    /// The overlay's copy of the object (an `Arc<Link<T>>`, with the overlay's cells,
    /// reached through the heap's owner; the object holds it too), once it wrote it.
    pub(crate) fork: Option<Box<dyn Any + Send + Sync>>,
    /// Cells computed in the overlay for the base object (a `T::Cells`), one for each cache
    /// whose computation reads something the overlay holds (`shadowed`).
    pub(crate) shadow: Box<dyn Any + Send + Sync>,
    pub(crate) shadowed: Box<[Flag]>,
    /// Made in the overlay: its value is in the base's slot, hidden from the base until a
    /// commit; every cell of it is the overlay's.
    pub(crate) created: bool,
    /// Made in the overlay, and its making rolled back: no longer indexed.
    pub(crate) forgotten: bool,
    /// Removed in the overlay: its reads there say so, and a commit removes it.
    pub(crate) removed: bool,
}

impl Entry {
    /// Whether the overlay computes the cache at `index` itself.
    #[inline]
    pub(crate) fn holds(&self, index: usize) -> bool {
        self.fork.is_some() || self.shadowed[index].load(Ordering::Acquire)
    }

    /// The overlay's cell of the cache at `index`.
    pub(crate) fn cell<'a>(&'a self, owner: &'a QCellOwner, index: usize) -> &'a dyn ErasedCell {
        match &self.fork {
            Some(fork) => self.ops.fork_cell(&**fork, owner, index),
            None => self.ops.shadow_cell(&*self.shadow, index),
        }
    }

    pub(crate) fn cell_mut<'a>(
        &'a mut self,
        owner: &'a mut QCellOwner,
        index: usize,
    ) -> &'a mut dyn ErasedCell {
        match &self.fork {
            Some(fork) => self.ops.fork_cell_mut(&**fork, owner, index),
            None => self.ops.shadow_cell_mut(&mut *self.shadow, index),
        }
    }
}

/// What an overlay does with the cells of an object whose type it does not know (the
/// object's `TypeOps` give these to it).
pub(crate) trait EntryOps: Send + Sync {
    fn cache_count(&self) -> usize;
    /// Whether the cache at `index` is `now` or `eager`.
    fn is_eager(&self, index: usize) -> bool;
    /// A cell of an overlay's copy (an `Arc<Link<T>>`).
    fn fork_cell<'a>(
        &self,
        fork: &'a (dyn Any + Send + Sync),
        owner: &'a QCellOwner,
        index: usize,
    ) -> &'a dyn ErasedCell;
    fn fork_cell_mut<'a>(
        &self,
        fork: &'a (dyn Any + Send + Sync),
        owner: &'a mut QCellOwner,
        index: usize,
    ) -> &'a mut dyn ErasedCell;
    /// A `T::Cells` with every cell invalid: an overlay's shadow cells.
    fn shadow_cells(&self) -> Box<dyn Any + Send + Sync>;
    fn shadow_cell<'a>(
        &self,
        cells: &'a (dyn Any + Send + Sync),
        index: usize,
    ) -> &'a dyn ErasedCell;
    fn shadow_cell_mut<'a>(
        &self,
        cells: &'a mut (dyn Any + Send + Sync),
        index: usize,
    ) -> &'a mut dyn ErasedCell;
    /// Takes the error of a failed invariant out of an overlay's cell.
    fn take_layer_failure(
        &self,
        entry: &mut Entry,
        owner: &mut QCellOwner,
        index: usize,
    ) -> Option<Box<dyn std::error::Error + Send + Sync>>;
}

/// The dependency graph of what an overlay computed. A cell of an object the overlay holds
/// is the overlay's; any other cell or field named here is the base's, read through.
#[derive(Default)]
pub(crate) struct LayerGraph {
    pub(crate) nodes: FxHashMap<CellId, LayerNode>,
    /// The overlay's cells that read an object's fields, with the fields each read.
    pub(crate) fields: FxHashMap<ObjectKey, Readers>,
    /// The overlay's cells that read a cell.
    pub(crate) cells: FxHashMap<CellId, Dependents>,
}

/// One cell the overlay computed.
#[derive(Default)]
pub(crate) struct LayerNode {
    /// Valid: its value is the overlay's current one.
    pub(crate) clean: bool,
    /// Being computed (a read of it from that computation is a cycle).
    pub(crate) computing: bool,
    /// What its last computation read (its own fields as `Dep::Fields` of its own key).
    pub(crate) deps: Vec<Dep>,
    /// Its value is an invariant's `Err`.
    pub(crate) failed: bool,
}

impl LayerGraph {
    /// Removes `reader` from the readers of `deps`.
    pub(crate) fn unlink<'d>(&mut self, reader: CellId, deps: impl Iterator<Item = &'d Dep>) {
        for dep in deps {
            match *dep {
                Dep::Fields(key) => {
                    if let Some(readers) = self.fields.get_mut(&key) {
                        readers.swap_remove(&reader);
                    }
                }
                Dep::Cell(cell) => {
                    if let Some(readers) = self.cells.get_mut(&cell) {
                        readers.swap_remove(&reader);
                    }
                }
            }
        }
    }

    /// The number of edges: one per (reader, what it read).
    pub(crate) fn edges(&self) -> usize {
        self.fields.values().map(Readers::len).sum::<usize>()
            + self.cells.values().map(Dependents::len).sum::<usize>()
    }
}

impl OverlayState {
    pub(crate) fn new(bit: u64) -> Self {
        OverlayState {
            bit,
            entries: boxcar::Vec::new(),
            index: Mutex::default(),
            graph: Mutex::default(),
            computing: Mutex::default(),
            pending: Mutex::default(),
            broken: Mutex::default(),
            conflicts: FxHashSet::default(),
        }
    }

    /// What the overlay holds of the object at `key`, if anything.
    #[inline]
    pub(crate) fn entry(&self, key: ObjectKey) -> Option<&Entry> {
        let at = *self.index.lock().get(&key)?;
        self.entries.get(at)
    }

    pub(crate) fn entry_mut(&mut self, key: ObjectKey) -> Option<&mut Entry> {
        let at = *self.index.get_mut().get(&key)?;
        self.entries.get_mut(at)
    }

    /// The entry of the object at `key`, made (holding nothing yet) if there is none.
    pub(crate) fn entry_or_insert(&self, key: ObjectKey, ops: &'static dyn EntryOps) -> &Entry {
        let mut index = self.index.lock();
        let at = *index.entry(key).or_insert_with(|| {
            self.entries.push(Entry {
                key,
                ops,
                fork: None,
                shadow: ops.shadow_cells(),
                shadowed: (0..ops.cache_count()).map(|_| Flag::new(false)).collect(),
                created: false,
                forgotten: false,
                removed: false,
            })
        });
        drop(index);
        self.entries.get(at).expect("an indexed entry")
    }

    /// Every entry, in the order they were made (not those of objects made in the overlay
    /// and forgotten since).
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().map(|(_, e)| e).filter(|e| !e.forgotten)
    }

    /// Whether the overlay holds the object (it wrote it) or the cell (it computes it).
    pub(crate) fn holds(&self, dep: Dep) -> bool {
        match dep {
            Dep::Fields(key) => self
                .entry(key)
                .is_some_and(|e| e.fork.is_some() || e.removed),
            Dep::Cell(cell) => self
                .entry(cell.key)
                .is_some_and(|e| e.holds(cell.index as usize)),
        }
    }

    /// Whether the overlay wrote the object at `key`.
    pub(crate) fn forked(&self, key: ObjectKey) -> bool {
        self.entry(key).is_some_and(|e| e.fork.is_some())
    }

    /// Whether the overlay removed the object at `key`.
    pub(crate) fn removed(&self, key: ObjectKey) -> bool {
        self.entry(key).is_some_and(|e| e.removed)
    }

    /// Whether the overlay wrote (or removed) the object at `key`: a base write of it since
    /// is a conflict.
    pub(crate) fn wrote(&self, key: ObjectKey) -> bool {
        self.entry(key)
            .is_some_and(|e| e.fork.is_some() || e.removed)
    }

    /// Whether the object at `key` was made in the overlay.
    pub(crate) fn created(&self, key: ObjectKey) -> bool {
        self.entry(key).is_some_and(|e| e.created)
    }

    /// Forgets an object made in the overlay (its making was rolled back).
    pub(crate) fn forget(&mut self, key: ObjectKey) {
        if let Some(at) = self.index.get_mut().remove(&key) {
            if let Some(entry) = self.entries.get_mut(at) {
                entry.created = false;
                entry.forgotten = true;
            }
        }
    }

    /// Dirties cells the overlay computed, and everything in the overlay that read them.
    /// Returns how many it dirtied.
    pub(crate) fn dirty(&mut self, owner: &mut QCellOwner, mut work: Vec<CellId>) -> usize {
        let mut count = 0;
        let graph = self.graph.get_mut();
        while let Some(c) = work.pop() {
            let Some(node) = graph.nodes.get_mut(&c) else {
                continue;
            };
            if !node.clean {
                continue;
            }
            node.clean = false;
            count += 1;
            let Some(&at) = self.index.get_mut().get(&c.key) else {
                continue;
            };
            let entry = self.entries.get_mut(at).expect("an indexed entry");
            entry.cell_mut(owner, c.index as usize).clear();
            if entry.ops.is_eager(c.index as usize) {
                self.pending.get_mut().check.push(c);
            }
            if let Some(readers) = graph.cells.get(&c) {
                work.extend(readers.iter().copied());
            }
        }
        count
    }

    /// The overlay's cells that read `fields` of the object at `key`.
    pub(crate) fn readers_of(&mut self, key: ObjectKey, fields: FieldMask) -> Vec<CellId> {
        self.graph
            .get_mut()
            .fields
            .get(&key)
            .map(|r| {
                r.iter()
                    .filter(|(_, m)| m.intersects(fields))
                    .map(|(&c, _)| c)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The overlay's cells that read `cell`.
    pub(crate) fn readers_of_cell(&mut self, cell: CellId) -> Vec<CellId> {
        self.graph
            .get_mut()
            .cells
            .get(&cell)
            .map(|r| r.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Dirties what the overlay computed from the object at `key` as it is now (before it
    /// is copied in, or after its copy goes): every reader of its fields and of its cells,
    /// and its cells.
    pub(crate) fn dirty_readers(&mut self, owner: &mut QCellOwner, key: ObjectKey) {
        let caches = self.entry(key).map_or(0, |e| e.shadowed.len());
        let work = self.all_readers(key, caches);
        self.dirty(owner, work);
    }

    /// The object's cells (`caches` of them) and every cell the overlay computed that read
    /// its fields or cells.
    pub(crate) fn all_readers(&mut self, key: ObjectKey, caches: usize) -> Vec<CellId> {
        let mut work = self.readers_of(key, FieldMask::ALL);
        for index in 0..caches as u32 {
            let cell = CellId { key, index };
            work.push(cell);
            work.extend(self.readers_of_cell(cell));
        }
        work
    }

    /// Drops the overlay's copy of the object at `key`, made by a write that was refused:
    /// the overlay reads the base's again.
    /// Returns the copy (the object still records it: see `TypeOps::detach_fork`).
    pub(crate) fn unfork(
        &mut self,
        owner: &mut QCellOwner,
        key: ObjectKey,
    ) -> Option<Box<dyn Any + Send + Sync>> {
        self.dirty_readers(owner, key);
        self.entry_mut(key).and_then(|e| e.fork.take())
    }

    /// Dirties what read the base's values of cells the overlay started to compute on its
    /// own since the last write.
    pub(crate) fn dirty_shadowed(&mut self, owner: &mut QCellOwner) {
        let shadowed = std::mem::take(&mut self.pending.get_mut().shadowed);
        let work: Vec<CellId> = shadowed
            .iter()
            .flat_map(|&c| self.readers_of_cell(c))
            .collect();
        self.dirty(owner, work);
    }

    /// The number of cells the overlay holds a value in, and of its dependency edges.
    pub(crate) fn counts(&self, owner: &QCellOwner) -> (usize, usize) {
        let graph = self.graph.lock();
        let cells = self
            .entries()
            .map(|e| {
                (0..e.shadowed.len())
                    .filter(|&i| e.holds(i) && e.cell(owner, i).is_ready())
                    .count()
            })
            .sum();
        (cells, graph.edges())
    }
}
