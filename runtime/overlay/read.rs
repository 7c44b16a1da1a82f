//! Reads in an overlay: [`Layer`], and the compute protocol of the cells an overlay holds.
//!
//! An object resolves to the overlay's copy if the overlay wrote it, else to the base's value
//! (the same reference). A cache resolves to the overlay's cell if the overlay holds it (its
//! object was written, or its computation reads something the overlay holds), else to the
//! base's cell, computed by the base if it is not valid. Computations in an overlay read
//! through the same rules (their [`Ctx`] carries the overlay) and record their reads in the
//! overlay's graph; reads of the base mark what they read, so that base writes are pushed.

use crate::cell::Fresh;
use crate::decl::cache::Cache;
use crate::decl::ctx::Ctx;
use crate::decl::field::{Field, FieldMask};
use crate::decl::object::Object;
use crate::decl::ops::fork_stored;
use crate::decl::stored::Stored;
use crate::error::{CacheName, Error};
use crate::heap::handle::Handle;
use crate::heap::parts::{Core, Slot};
use crate::key::{CellId, ObjectId, ObjectKey, Overlay};
use crate::overlay::state::{Entry, OverlayState};
use crate::track::frame::Frame;
use crate::track::graph::Dep;

use qcell::QCellOwner;
use slotmap::Key;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;

/// Reads of a heap as an overlay sees it: the overlay's copies of the objects it wrote, and
/// the base for everything else (see [`Heap::overlay`](crate::Heap::overlay)). Made by
/// [`Heap::layer`](crate::Heap::layer); it borrows the heap, so the base cannot change
/// while it is held.
///
/// Its reads are [`Heap`](crate::Heap)'s: [`get`](Layer::get) and
/// [`cached`](Layer::cached). A cache whose computation reads nothing the overlay wrote is
/// the base's own cell (a hit costs the base's hit plus one load); one that does is
/// computed in the overlay, and kept there until what it read changes, in the overlay or in
/// the base.
pub struct Layer<'h> {
    core: &'h Core,
    state: &'h OverlayState,
    /// The overlay's bit, kept here for the hit path.
    bit: u64,
    /// The overlay's key, as its copies record it.
    key: u64,
    /// The heap's id while the overlay is usable, else 0 (no heap's): the hit path's one
    /// check of both.
    usable_heap: u64,
    overlay: Overlay,
    /// The invariant that fails in the overlay, found when the view was made.
    broken: Option<CacheName>,
}

impl<'h> Layer<'h> {
    pub(crate) fn new(core: &'h Core, overlay: &Overlay) -> Result<Self, Error> {
        let state = core.overlay(overlay)?;
        if core.barrier.in_barrier {
            return Err(Error::OverlayInTransaction { overlay: *overlay });
        }
        // A failure other than an invariant's is the cache's, reported by its reads.
        if let Err(LayerFailure::Panic(payload)) = core.settle_layer(state) {
            panic::resume_unwind(payload);
        }
        let broken = state.broken.lock().first().map(|&c| core.name_of(c));
        Ok(Self::with(core, state, overlay, broken))
    }

    /// The reads inside an overlay's transaction: its invariants are open, so nothing is
    /// checked and nothing reported broken until it ends.
    pub(crate) fn within(core: &'h Core, overlay: &Overlay) -> Self {
        let state = &core.overlays.open[overlay.key];
        Self::with(core, state, overlay, None)
    }

    fn with(
        core: &'h Core,
        state: &'h OverlayState,
        overlay: &Overlay,
        broken: Option<CacheName>,
    ) -> Self {
        Layer {
            core,
            state,
            bit: state.bit,
            key: overlay.key.data().as_ffi(),
            usable_heap: if broken.is_none() { core.id } else { 0 },
            overlay: *overlay,
            broken,
        }
    }

    /// The overlay this view reads.
    pub fn overlay(&self) -> Overlay {
        self.overlay
    }

    fn usable(&self) -> Result<(), Error> {
        match self.broken {
            None => Ok(()),
            Some(invariant) => Err(Error::OverlayBroken {
                overlay: self.overlay,
                invariant,
            }),
        }
    }

    /// Reads an object: the overlay's copy if the overlay wrote it, else the base's value.
    ///
    /// # Errors
    /// [`Error::OverlayBroken`] while a base write left an invariant failing in the
    /// overlay; the handle's errors ([`Error::Removed`], [`Error::ForeignHandle`]).
    pub fn get<T: Object>(&self, handle: &impl Handle<T>) -> Result<&'h T, Error> {
        self.usable()?;
        let (slot, key) = self.core.layer_slot::<T>(self.state, handle.id())?;
        self.core.layer_value::<T>(self.state, slot, key)
    }

    /// Reads a field of an object as the overlay sees it.
    ///
    /// # Errors
    /// As [`get`](Layer::get).
    pub fn field<T: Object, F>(
        &self,
        handle: &impl Handle<T>,
        field: &Field<T, F>,
    ) -> Result<&'h F, Error> {
        self.get(handle).map(|v| field.get(v))
    }

    /// Reads a cached method's value as the overlay sees it, computing it if it is not
    /// valid: in the base if its computation reads nothing the overlay holds (the base
    /// keeps it), else in the overlay.
    ///
    /// # Errors
    /// As [`get`](Layer::get), and those of [`Heap::cached`](crate::Heap::cached).
    #[inline(always)]
    pub fn cached<'a, T: Object, V: Send + Sync + 'static, H: Handle<T>>(
        &self,
        handle: &'a H,
        cache: &Cache<T, V>,
    ) -> Result<&'a V, Error>
    where
        'h: 'a,
    {
        let id = handle.id();
        if id.heap == self.usable_heap {
            if let Some(link) = handle.link() {
                // Nothing of the object in any overlay that shares this one's bit: the
                // base's cell is the overlay's.
                if let Some(stored) = self.core.owner.ro(&**link).as_ref() {
                    // The value first: a base computation that finds its cell reads what the
                    // overlay holds marks the object before it publishes, so a valid value
                    // read here comes with its mark.
                    let base = (cache.cell)(&stored.cells).get();
                    if stored.overlaid.load(Ordering::Relaxed) & self.bit == 0 {
                        if let Some(v) = base {
                            self.core.stats.hit();
                            return Ok(v);
                        }
                    } else if let Some(v) = self.fork_hit(stored, cache) {
                        return Ok(v);
                    }
                }
            }
        }
        self.cached_slow(id, cache)
    }

    /// Everything but a hit, out of line so that the hit inlines into the caller.
    #[cold]
    #[inline(never)]
    fn cached_slow<T: Object, V: Send + Sync + 'static>(
        &self,
        id: ObjectId,
        cache: &Cache<T, V>,
    ) -> Result<&'h V, Error> {
        self.usable()?;
        self.core
            .layer_cache(self.state, id, cache, None)
            .map(|(v, _)| v)
    }

    /// A hit on the overlay's copy of the object, found through the object.
    #[inline]
    fn fork_hit<'a, T: Object, V: Send + Sync + 'static>(
        &self,
        stored: &'a Stored<T>,
        cache: &Cache<T, V>,
    ) -> Option<&'a V>
    where
        'h: 'a,
    {
        let mut next = stored.forks.as_deref();
        while let Some(link) = next {
            let fork = self.core.owner.ro(link).as_ref()?;
            if fork.overlaid.load(Ordering::Relaxed) == self.key {
                let v = (cache.cell)(&fork.cells).get()?;
                self.core.stats.hit();
                return Some(v);
            }
            next = fork.forks.as_deref();
        }
        None
    }

    /// The invariant that fails in the overlay since a base write, if one does: then every
    /// read returns [`Error::OverlayBroken`] until an overlay write repairs it.
    pub fn broken(&self) -> Option<CacheName> {
        self.broken
    }

    /// How many cells hold a value of the overlay's own (a diagnostic): the caches of the
    /// objects it wrote, and of the base objects whose caches read them. The rest of what
    /// it reads is the base's.
    pub fn cells(&self) -> usize {
        self.state.counts(&self.core.owner).0
    }

    /// How many dependency edges the overlay's computations recorded (a diagnostic; the
    /// base's are [`Heap::edges`](crate::Heap::edges)).
    pub fn edges(&self) -> usize {
        self.state.counts(&self.core.owner).1
    }

    /// Whether the overlay wrote the object: it reads its own copy of it.
    ///
    /// # Errors
    /// The handle's errors.
    pub fn is_written<T: Object>(&self, handle: &impl Handle<T>) -> Result<bool, Error> {
        let (_, key) = self.core.layer_slot::<T>(self.state, handle.id())?;
        Ok(self.state.forked(key))
    }
}

/// Why bringing an overlay's owed checks up to date failed.
pub(crate) enum LayerFailure {
    /// This invariant's value is an `Err`.
    Invariant(CellId),
    /// A computation that had to run needed its own value, or a read failed.
    Error(Error),
    /// A computation that had to run panicked.
    Panic(Box<dyn std::any::Any + Send>),
}

/// The cells of a `T` the overlay holds: its copy's, or the shadow cells of the base object.
fn cells_of<'a, T: Object>(entry: &'a Entry, owner: &'a QCellOwner) -> &'a T::Cells {
    match &entry.fork {
        Some(fork) => &fork_stored::<T>(&**fork, owner).cells,
        None => entry
            .shadow
            .downcast_ref::<T::Cells>()
            .expect("an entry's cells are of its object's type"),
    }
}

impl Core {
    /// The slot a handle names, as the overlay sees it: also an object made in the overlay,
    /// which the base does not see.
    #[inline]
    pub(crate) fn layer_slot<T: Object>(
        &self,
        state: &OverlayState,
        id: ObjectId,
    ) -> Result<(&Slot, ObjectKey), Error> {
        match self.typed_slot::<T>(id) {
            Ok(_) if state.removed(id.key) => Err(Error::Removed {
                object: id,
                type_name: std::any::type_name::<T>(),
            }),
            Ok(found) => Ok(found),
            Err(error) => match self.slots.get(id.key) {
                Some(slot)
                    if id.heap == self.id
                        && slot.gone
                        && state.created(id.key)
                        && !state.removed(id.key) =>
                {
                    Ok((slot, id.key))
                }
                _ => Err(error),
            },
        }
    }

    /// An object's value as the overlay sees it.
    pub(crate) fn layer_value<'a, T: Object>(
        &'a self,
        state: &'a OverlayState,
        slot: &'a Slot,
        key: ObjectKey,
    ) -> Result<&'a T, Error> {
        let base = self.stored_in::<T>(slot)?;
        if base.overlaid.load(Ordering::Relaxed) & state.bit != 0 {
            if let Some(fork) = state.entry(key).and_then(|e| e.fork.as_deref()) {
                return Ok(&fork_stored::<T>(fork, &self.owner).value);
            }
        }
        Ok(&base.value)
    }

    /// A cache's value as the overlay sees it, and whether the overlay holds the cell.
    pub(crate) fn layer_cache<'a, T: Object, V: Send + Sync + 'static>(
        &'a self,
        state: &'a OverlayState,
        id: ObjectId,
        cache: &Cache<T, V>,
        parent: Option<&Frame<'_>>,
    ) -> Result<(&'a V, bool), Error> {
        let (_, key) = self.layer_slot::<T>(state, id)?;
        let index = cache.index();
        let cell = CellId {
            key,
            index: index as u32,
        };
        // Twice at most: a computation in the base may find that the cell reads something
        // the overlay holds, and leave it to the overlay.
        for _ in 0..2 {
            if let Some(entry) = state.entry(key).filter(|e| e.holds(index)) {
                let value = (cache.cell)(cells_of::<T>(entry, &self.owner));
                if let Some(v) = value.get() {
                    self.stats.hit();
                    return Ok((v, true));
                }
                self.layer_refresh(state, entry, cell, parent)?;
                return Ok((value.get().expect("a refreshed cell is valid"), true));
            }
            let v = self.cache_miss(id, cache)?;
            if !state.entry(key).is_some_and(|e| e.holds(index)) {
                return Ok((v, false));
            }
        }
        unreachable!("a held cell is read from the overlay")
    }

    /// Brings a cell the overlay holds up to date: the overlay's compute protocol. One
    /// computation runs in an overlay at a time (nested ones inside the outermost); a cell
    /// that needs itself is [`Error::Cycle`]; a panic leaves the cell invalid.
    pub(crate) fn layer_refresh(
        &self,
        state: &OverlayState,
        entry: &Entry,
        id: CellId,
        parent: Option<&Frame<'_>>,
    ) -> Result<(), Error> {
        if entry.cell(&self.owner, id.index as usize).is_ready() {
            return Ok(());
        }
        crate::stack::grown(|| self.layer_compute(state, entry, id, parent))
    }

    fn layer_compute(
        &self,
        state: &OverlayState,
        entry: &Entry,
        id: CellId,
        parent: Option<&Frame<'_>>,
    ) -> Result<(), Error> {
        let _outermost = match parent {
            Some(p) if p.layer => None,
            _ => Some(state.computing.lock()),
        };
        if entry.cell(&self.owner, id.index as usize).is_ready() {
            return Ok(());
        }
        {
            let mut graph = state.graph.lock();
            let node = graph.nodes.entry(id).or_default();
            if node.computing {
                drop(graph);
                return Err(self.cycle(&[id], parent));
            }
            node.computing = true;
        }
        let mut frame = Frame::new(parent.map_or(0, |p| p.task), id, parent);
        frame.layer = true;
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            self.slots[id.key]
                .ops
                .compute_layer(self, state, entry, &frame, id)
        }));
        let (reads, mut deps) = frame.take_reads();
        let mut graph = state.graph.lock();
        let node = graph.nodes.get_mut(&id).expect("made above");
        node.computing = false;
        let fresh: Option<Fresh> = match &result {
            Ok(Some(fresh)) => Some(*fresh),
            _ => None,
        };
        let Some(fresh) = fresh else {
            // Abandoned: the reads it linked go, those of its last computation stay.
            let kept = node.deps.clone();
            graph.unlink(id, deps.iter().filter(|d| !kept.contains(d)));
            drop(graph);
            return match (frame.cycle_error(), result) {
                (Some(cycle), _) => Err(cycle),
                (None, Err(payload)) => panic::resume_unwind(payload),
                (None, Ok(_)) => unreachable!("a computation is abandoned on a cycle"),
            };
        };
        if !reads.is_empty() {
            graph.fields.entry(id.key).or_default().add(id, reads);
            deps.push(Dep::Fields(id.key));
        }
        let node = graph.nodes.get_mut(&id).expect("made above");
        node.clean = true;
        node.failed = fresh.failed;
        let old = std::mem::replace(&mut node.deps, deps);
        let new = node.deps.clone();
        graph.unlink(id, old.iter().filter(|d| !new.contains(d)));
        drop(graph);
        if !reads.is_empty() && entry.fork.is_none() {
            // Its own fields are the base object's: base writes of them are pushed.
            let slot = &self.slots[id.key];
            self.observe(state, slot, reads);
        }
        Ok(())
    }

    /// Marks an object as read by the overlay: writes of `fields` go through the base's
    /// barrier, which pushes them into the overlay.
    pub(crate) fn observe(&self, state: &OverlayState, slot: &Slot, fields: FieldMask) {
        let mut graph = slot.graph.lock();
        if graph.overlays & state.bit == 0 {
            graph.overlays |= state.bit;
        }
        drop(graph);
        self.make_loud(slot, fields);
    }

    /// Brings up to date what the overlay owes a check (its `now` and `eager` cells reached
    /// by what happened since it was last settled, and the invariant that failed there, if
    /// one did); returns the first failure. The invariant that fails, if one does, is the
    /// overlay's broken one from now on.
    pub(crate) fn settle_layer(&self, state: &OverlayState) -> Result<(), LayerFailure> {
        let mut check = std::mem::take(&mut state.pending.lock().check);
        // Those that failed are checked again (a failed cell not dirtied since stays so).
        check.append(&mut state.broken.lock());
        let mut first = Ok(());
        let mut failed = Vec::new();
        for c in check {
            let Some(entry) = state.entry(c.key).filter(|e| e.holds(c.index as usize)) else {
                continue;
            };
            // Removed from the base since (an object the overlay made is hidden, not gone).
            if self
                .slots
                .get(c.key)
                .is_none_or(|s| s.gone && !state.created(c.key))
            {
                continue;
            }
            let refreshed = panic::catch_unwind(AssertUnwindSafe(|| {
                self.layer_refresh(state, entry, c, None)
            }));
            let failure = match refreshed {
                Ok(Ok(())) if state.graph.lock().nodes.get(&c).is_some_and(|n| n.failed) => {
                    if failed.contains(&c) {
                        continue;
                    }
                    failed.push(c);
                    LayerFailure::Invariant(c)
                }
                Ok(Ok(())) => continue,
                Ok(Err(error)) => LayerFailure::Error(error),
                Err(payload) => LayerFailure::Panic(payload),
            };
            if first.is_ok() {
                first = Err(failure);
            }
        }
        *state.broken.lock() = failed;
        first
    }
}

impl<'a, T: Object> Ctx<'a, T> {
    /// [`Ctx::get`] and [`Ctx::field_of`] in an overlay.
    pub(crate) fn layer_field<U: Object>(
        &self,
        state: &'a OverlayState,
        id: ObjectId,
        mask: FieldMask,
    ) -> Result<&'a U, Error> {
        let (slot, key) = self.layer_found::<U>(state, id)?;
        let value = self.heap.layer_value::<U>(state, slot, key)?;
        let me = self.frame.cell;
        state
            .graph
            .lock()
            .fields
            .entry(key)
            .or_default()
            .add(me, mask);
        self.heap.observe(state, slot, mask);
        self.frame.depend(Dep::Fields(key));
        Ok(value)
    }

    /// The slot a read in the overlay names; an object the overlay removed is read as gone,
    /// and the read is recorded, so that a revert of the removal reaches the computation.
    fn layer_found<U: Object>(
        &self,
        state: &'a OverlayState,
        id: ObjectId,
    ) -> Result<(&'a Slot, ObjectKey), Error> {
        let found = self.heap.layer_slot::<U>(state, id);
        if found.is_err() && id.heap == self.heap.id && state.removed(id.key) {
            let me = self.frame.cell;
            let mut graph = state.graph.lock();
            graph
                .fields
                .entry(id.key)
                .or_default()
                .add(me, FieldMask::ALL);
            drop(graph);
            self.frame.depend(Dep::Fields(id.key));
        }
        found
    }

    /// [`Ctx::cached`] in an overlay.
    pub(crate) fn layer_cache<U: Object, V: Send + Sync + 'static>(
        &self,
        state: &'a OverlayState,
        id: ObjectId,
        cache: &Cache<U, V>,
    ) -> Result<&'a V, Error> {
        self.layer_found::<U>(state, id)?;
        let (value, held) = self
            .heap
            .layer_cache(state, id, cache, Some(self.frame))
            .map_err(|e| self.frame.fail(e))?;
        let (slot, key) = self.heap.layer_slot::<U>(state, id)?;
        let cell = CellId {
            key,
            index: cache.index() as u32,
        };
        state
            .graph
            .lock()
            .cells
            .entry(cell)
            .or_default()
            .insert(self.frame.cell);
        if !held {
            // The base's cell: it must be tracked, and its invalidation pushed.
            let mut graph = slot.graph.lock();
            graph.materialize(|| slot.ops.nodes(self.heap.rev, true));
            let reads = graph.nodes[cell.index as usize].reads;
            drop(graph);
            self.heap.observe(state, slot, reads);
        }
        self.frame.depend(Dep::Cell(cell));
        Ok(value)
    }
}
