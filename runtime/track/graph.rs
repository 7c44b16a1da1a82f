//! The dependency graph: for each cell, what its last computation read and which cells
//! read it; for each object, which cells of other objects read its fields.

use crate::cell::Fresh;
use crate::decl::field::FieldMask;
use crate::diag::cause::{Marked, Writes};
use crate::key::{CellId, ObjectKey};
use indexmap::IndexMap;
use indexmap::IndexSet;
use rustc_hash::FxBuildHasher;

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

/// The tracking data of one cell.
#[derive(Debug)]
pub(crate) struct Node {
    /// `now` or `eager`, or watched: brought up to date by every barrier that
    /// invalidates it.
    pub(crate) eager: bool,
    /// Watched ([`Heap::watch`](crate::Heap::watch)): its changes go to the change feed,
    /// and, if it is not `now` or `eager` itself, a failure to bring it up to date vetoes
    /// nothing.
    pub(crate) watched: bool,
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
    /// Where a barrier keeps this node's [`Saved`](crate::barrier::journal::Saved) record: the barrier's epoch and the
    /// index in its journal. A record of an earlier epoch is void, so committing a barrier
    /// does not need to visit the nodes it journaled.
    pub(crate) journaled: (u64, u32),
    /// Why it was last invalidated (with the `explain` feature).
    pub(crate) marked: Marked,
}

impl Node {
    /// A node for a cache that was never computed; `fields`: the fields it reads, if it
    /// reads only its own object's, which are then its reads from the start (a write of
    /// them reaches it whichever path computed it).
    pub(crate) fn new(eager: bool, fields: Option<FieldMask>) -> Self {
        Node {
            eager,
            watched: false,
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
            marked: Marked::default(),
        }
    }

    /// The node of a lazy `lazy_read` cache of its own fields, made when something first
    /// tracks it: clean, whatever its cell holds (the cell, not the node, says whether it is
    /// valid: see `barrier::own`), and changed as of now.
    pub(crate) fn materialized(fields: FieldMask, rev: u64) -> Self {
        Node {
            state: State::Clean,
            changed_at: rev,
            verified_at: rev,
            ..Node::new(false, Some(fields))
        }
    }

    /// Records a new computation's reads (of its own fields, and of other objects); returns
    /// the reads and deps it replaces.
    pub(crate) fn record(
        &mut self,
        (reads, deps): (FieldMask, Vec<Dep>),
        fresh: Fresh,
        rev: u64,
    ) -> (FieldMask, Vec<Dep>) {
        let old_reads = std::mem::replace(&mut self.reads, reads);
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

    /// For a `Check` cell, what verifying its inputs needs: the reads of its last
    /// computation and the revision it was last verified at.
    pub(crate) fn check(&self) -> Option<(Vec<Dep>, u64)> {
        (self.state == State::Check).then(|| (self.deps.clone(), self.verified_at))
    }

    pub(crate) fn revalidated(&mut self, rev: u64) {
        self.state = State::Clean;
        self.verified_at = rev;
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
    /// One per cache, or none yet: an object whose caches all read only its own fields and
    /// are computed on demand gets its nodes when something first tracks one of its cells
    /// (another cell reads one, a write goes through the barrier, a transaction computes
    /// one, it is frozen); until then its own path settles its cells, and a node each would
    /// be memory spent on nothing.
    pub(crate) nodes: Vec<Node>,
    /// Cells of other objects that read this object's fields, with the fields they read.
    pub(crate) readers: Readers,
    /// The last committed operation that wrote each field (with the `explain` feature).
    #[cfg_attr(not(feature = "explain"), allow(dead_code))]
    pub(crate) writes: Writes,
    /// The overlays (by bit) that wrote the object, compute one of its cells, or read its
    /// fields or cells through: a base computation that reads it may be computed in those
    /// overlays too (each checks), and the base's writes of it are pushed into them.
    pub(crate) overlays: u64,
}

impl Graph {
    /// Makes the nodes if the object has none yet (`make`: see `TypeOps::nodes`).
    #[inline]
    pub(crate) fn materialize(&mut self, make: impl FnOnce() -> Vec<Node>) {
        if self.nodes.is_empty() {
            self.nodes = make();
        }
    }
}
