//! The barrier: invalidate what a write can change, settle the invalidated cells that must
//! be brought up to date (recheck the invariants once), then commit, or roll back every
//! cell it changed from the journal.

use crate::track::compute::bring_up_to_date;
use crate::track::compute::Exclusive;
use crate::track::compute::Stop;

use crate::barrier::journal::Journal;
use crate::barrier::journal::Saved;
use crate::decl::field::FieldMask;
use crate::diag::cause::{Clock, Why};
use crate::diag::stats::{Counter, Tally};
use crate::error::Error;
use crate::heap::parts::Core;
use crate::heap::parts::Slot;
use crate::key::CellId;
use crate::key::ObjectKey;
use crate::track::frame::Frame;
use crate::track::graph::Node;
use crate::track::graph::State;
use std::any::Any;
use std::mem;

/// Why a barrier did not commit.
pub(crate) enum Failure {
    /// This invariant's value is an `Err`.
    Invariant(CellId),
    /// A computation that had to run needed its own value, or a read failed.
    Error(Error),
    /// A computation that had to run panicked; the payload is re-raised after rollback.
    Panic(Box<dyn Any + Send>),
}

impl Core {
    /// Invalidates what a write of `written` on `key` can change, then settles.
    ///
    /// The written object's own cells are journaled first, in declaration order, so that
    /// they settle (and report a failure) before the cells of other objects.
    pub(crate) fn barrier(&mut self, key: ObjectKey, written: FieldMask) -> Result<(), Failure> {
        self.invalidate(key, written);
        let result = self.settle_journal();
        if result.is_ok() {
            self.commit();
        }
        result
    }

    /// The first half of the barrier: journals and invalidates the cells a write of
    /// `written` on `key` can change (the object's own first, in declaration order), and
    /// marks their dependents. Settling is left to the caller: at once for a one-object
    /// write, at the end for a [`Transaction`](crate::Transaction).
    pub(crate) fn invalidate(&mut self, key: ObjectKey, written: FieldMask) {
        self.materialize(key);
        self.overlay_wrote(key, written);
        #[cfg(feature = "tracing")]
        let from = self.barrier.journal.get_mut().records.len();
        let epoch = self.barrier.epoch;
        let Slot {
            obj, ops, graph, ..
        } = &mut self.slots[key];
        let graph = graph.get_mut();
        let mut work = mem::take(&mut self.barrier.work);
        let mut marking = Marking {
            epoch,
            journal: &mut self.barrier.journal.get_mut().records,
            work: &mut work,
            tally: self.stats.tally(),
            clock: &self.clock,
        };
        marking.work.extend(
            graph
                .readers
                .iter()
                .filter(|(_, m)| m.intersects(written))
                .map(|(&c, &m)| (c, State::Dirty, Why::fields(key, m.intersection(written)))),
        );
        for (i, node) in graph.nodes.iter_mut().enumerate() {
            if node.reads.intersects(written) {
                let id = CellId {
                    key,
                    index: i as u32,
                };
                let invalidate =
                    |again, keep| obj.invalidate(&mut self.owner, *ops, i, again, keep);
                let raise = if self.barrier.in_barrier {
                    raise_cell::<true, _>
                } else {
                    raise_cell::<false, _>
                };
                let why = Why::fields(key, node.reads.intersection(written));
                self.barrier.urgent += raise(id, node, invalidate, State::Dirty, why, &mut marking);
            }
        }
        #[cfg(feature = "tracing")]
        self.traced_marks(from);
        self.mark(work);
    }

    /// Raises cells to at least the given state, and their dependents to `Check`.
    pub(crate) fn mark(&mut self, work: Vec<(CellId, State, Why)>) {
        #[cfg(feature = "tracing")]
        let from = self.barrier.journal.get_mut().records.len();
        // Marking with the barrier open happens only in a transaction.
        if self.barrier.in_barrier {
            self.mark_with::<true>(work)
        } else {
            self.mark_with::<false>(work)
        }
        #[cfg(feature = "tracing")]
        self.traced_marks(from);
    }

    fn mark_with<const OPEN: bool>(&mut self, mut work: Vec<(CellId, State, Why)>) {
        let mut marking = Marking {
            epoch: self.barrier.epoch,
            journal: &mut self.barrier.journal.get_mut().records,
            work: &mut work,
            tally: self.stats.tally(),
            clock: &self.clock,
        };
        while let Some((id, level, why)) = marking.work.pop() {
            // A removed object's cells go with it.
            let Some(slot) = self.slots.get_mut(id.key).filter(|s| !s.gone) else {
                continue;
            };
            let node = &mut slot.graph.get_mut().nodes[id.index as usize];
            let (ops, obj) = (slot.ops, &mut slot.obj);
            let invalidate =
                |again, keep| obj.invalidate(&mut self.owner, ops, id.index as usize, again, keep);
            self.barrier.urgent +=
                raise_cell::<OPEN, _>(id, node, invalidate, level, why, &mut marking);
        }
        // Kept, empty, for the next barrier: a write that reaches many cells would
        // otherwise allocate its work list each time.
        self.barrier.work = work;
    }

    /// Brings up to date every journaled `now`/`eager` cache, and every journaled lazy
    /// cache that had been read since it was computed (so the next read is a hit).
    pub(crate) fn settle_journal(&mut self) -> Result<(), Failure> {
        if self.barrier.journal.get_mut().records.is_empty() {
            return Ok(());
        }
        self.stats.tally().add(Counter::Barriers, 1);
        self.rev += 1;
        // Only cold lazy caches were invalidated: marking them was the whole job.
        if mem::take(&mut self.barrier.urgent) == 0 {
            return Ok(());
        }
        self.barrier.in_barrier = true;
        self.barrier.settled = true;
        let result = (|| {
            let mut i = 0;
            let mut speculate = true;
            // Computations below may journal more cells: index, do not iterate.
            while let Some((id, saved)) = self.barrier.journal.get_mut().records.get(i) {
                // Hot: valid and read since computed when it was journaled.
                let (id, was_hot) = (*id, saved.hot);
                i += 1;
                // A removed object's cells go with it (a transaction may have journaled
                // them before removing it).
                let Some(slot) = self.slots.get_mut(id.key).filter(|s| !s.gone) else {
                    continue;
                };
                let node = &slot.graph.get_mut().nodes[id.index as usize];
                // A watched cache that is not `now` or `eager` itself is settled as one
                // read since computed is, its failure left to its reads.
                let strict = node.eager
                    && (!node.watched || slot.ops.cache_kind(id.index as usize).is_eager());
                if strict {
                    if self.settle(id)? {
                        return Err(Failure::Invariant(id));
                    }
                } else if (was_hot || node.watched) && speculate {
                    // Speculative: a failure here is the lazy cache's, reported when it is
                    // read. After one, the rest are left to their reads: a failure is
                    // typically a cycle, which every cell on it would walk again.
                    let watched = node.watched;
                    speculate = self.settle(id).is_ok();
                    if watched && !speculate {
                        // Its value is whatever its next read reports: news.
                        self.watched_changed(id);
                    }
                } else if node.watched {
                    self.watched_changed(id);
                }
            }
            Ok(())
        })();
        self.barrier.in_barrier = false;
        result
    }

    /// Brings the given cells up to date (at creation); no journal, nothing to roll back.
    pub(crate) fn settle_cells(&mut self, cells: &[CellId]) -> Result<(), Failure> {
        for &id in cells {
            if self.settle(id)? {
                return Err(Failure::Invariant(id));
            }
        }
        Ok(())
    }

    /// Brings one cell up to date with the cell taken out of the heap, so the value is
    /// published with plain stores. Returns whether it is a failed invariant.
    pub(crate) fn settle(&mut self, id: CellId) -> Result<bool, Failure> {
        let rev = self.rev;
        let index = id.index as usize;
        let slot = &mut self.slots[id.key];
        let ops = slot.ops;
        let node = &mut slot.graph.get_mut().nodes[index];
        if node.state == State::Clean {
            return Ok(node.failed);
        }
        if node.state == State::Dirty && node.fields_only {
            let obj = slot.obj.get_mut(&mut self.owner);
            if let Some((reads, result)) = ops.compute_fields(obj, index, self.barrier.in_barrier) {
                let node = &mut slot.graph.get_mut().nodes[index];
                if node.watched && result.as_ref().is_ok_and(|f| f.changed) {
                    self.watched_changed(id);
                }
                if let Ok(fresh) = &result {
                    self.traced_compute(id, fresh);
                }
                let node = &mut self.slots[id.key].graph.get_mut().nodes[index];
                let mut tally = self.stats.tally();
                tally.recomputed(
                    || ops.is_invariant(index),
                    result.as_ref().is_ok_and(|f| f.failed),
                );
                let fresh = result.map_err(Failure::Panic)?;
                node.reads = reads;
                node.revalidated(rev);
                node.failed = fresh.failed;
                if std::mem::take(&mut node.uncut) || fresh.changed {
                    node.changed_at = rev;
                }
                return Ok(fresh.failed);
            }
        }
        let node = &mut slot.graph.get_mut().nodes[index];
        let check = node.check();
        let watched = node.watched;
        node.computing = true;
        self.claims.owned_tasks += 1;
        let frame = Frame::new(self.claims.owned_tasks | 1 << 63, id, None);
        let result = bring_up_to_date(&mut Exclusive(self), id, &frame, check);
        self.slots[id.key].graph.get_mut().nodes[index].computing = false;
        match result {
            Ok(None) => Ok(false),
            Ok(Some(fresh)) => {
                if watched && fresh.changed {
                    self.watched_changed(id);
                }
                Ok(fresh.failed)
            }
            Err(Stop::Error(error)) => Err(Failure::Error(error)),
            Err(Stop::Panic(payload)) => Err(Failure::Panic(payload)),
        }
    }

    /// The error a failure reports (or the panic to re-raise); call before rolling back.
    pub(crate) fn failure_error(&mut self, failure: Failure) -> Result<Error, Box<dyn Any + Send>> {
        match failure {
            Failure::Invariant(id) => {
                let invariant = self.name_of(id);
                let slot = &mut self.slots[id.key];
                let source = slot
                    .ops
                    .take_failure(slot.obj.get_mut(&mut self.owner), id.index as usize)
                    .expect("a failed invariant holds its error");
                Ok(Error::Invariant {
                    invariant,
                    source,
                    value: None,
                })
            }
            Failure::Error(error) => Ok(error),
            Failure::Panic(payload) => Err(payload),
        }
    }

    /// The barrier succeeded: forget what a rollback would have needed.
    pub(crate) fn commit(&mut self) {
        self.push_overlays();
        self.barrier.urgent = 0;
        let journal = self.barrier.journal.get_mut();
        // Only a recomputed cell has a stale value to forget (an invalid one keeps it for
        // early cutoff); without settling, the journal holds marked cells only.
        if mem::take(&mut self.barrier.settled) {
            for (id, _) in &journal.records {
                let Some(slot) = self.slots.get_mut(id.key) else {
                    continue;
                };
                if slot.graph.get_mut().nodes[id.index as usize].state == State::Clean {
                    slot.ops
                        .cell_mut(slot.obj.get_mut(&mut self.owner), id.index as usize)
                        .commit();
                }
            }
        }
        journal.clear();
        self.barrier.epoch += 1;
        self.commit_changes();
    }

    /// The barrier failed: every journaled cell gets back its value, state and reads.
    pub(crate) fn roll_back(&mut self) {
        self.barrier.urgent = 0;
        self.barrier.settled = false;
        self.drop_changes();
        self.drop_overlay_events();
        let mut journal = mem::take(self.barrier.journal.get_mut());
        for (id, saved) in journal.records.drain(..).rev() {
            let Some(slot) = self.slots.get_mut(id.key) else {
                continue;
            };
            let node = &mut slot.graph.get_mut().nodes[id.index as usize];
            node.state = saved.state;
            node.failed = false;
            node.uncut = false;
            node.marked = saved.marked;
            node.changed_at = saved.changed_at;
            node.verified_at = saved.verified_at;
            let cell = slot
                .ops
                .cell_mut(slot.obj.get_mut(&mut self.owner), id.index as usize);
            if saved.dropped {
                cell.clear();
            } else {
                cell.roll_back(saved.valid);
            }
            if saved.reads != Saved::NO_READS {
                let (reads, deps) = mem::take(&mut journal.replaced[saved.reads as usize]);
                node.reads = reads;
                let new = mem::replace(&mut node.deps, deps);
                let old = node.deps.clone();
                self.unlink(id, new.iter().filter(|d| !old.contains(d)));
                self.link(id, old.iter().filter(|d| !new.contains(d)), &journal.unread);
            }
        }
        self.end_barrier(journal);
    }

    /// Voids every record of this barrier's journal (by moving to the next epoch) and keeps
    /// the journal's allocation for the next one.
    fn end_barrier(&mut self, mut journal: Journal) {
        journal.clear();
        *self.barrier.journal.get_mut() = journal;
        self.barrier.epoch += 1;
    }
}

/// What marking works with: the barrier's epoch and journal, the cells left to mark, and
/// the counters.
struct Marking<'a> {
    epoch: u64,
    journal: &'a mut Vec<(CellId, Saved)>,
    work: &'a mut Vec<(CellId, State, Why)>,
    tally: Tally<'a>,
    clock: &'a Clock,
}

/// Raises one cell to at least `level`, journaling it before its first change and queuing
/// its dependents for `Check`. Returns 1 if the barrier must bring it up to date (`now`,
/// `eager`, or read since last computed), else 0.
///
/// `OPEN`: a transaction is open, so the cell may have been recomputed since this barrier
/// journaled it.
#[inline(always)]
fn raise_cell<const OPEN: bool, I: FnOnce(bool, bool) -> Option<bool>>(
    id: CellId,
    node: &mut Node,
    invalidate: I,
    level: State,
    why: Why,
    m: &mut Marking<'_>,
) -> usize {
    if node.state >= level {
        return 0;
    }
    let prev = node.state;
    if OPEN && prev == State::Clean && node.journaled.0 == m.epoch {
        m.tally.add(Counter::MarkedDirty, 1);
        node.marked = m.clock.mark(why);
        return raise_again(id, node, invalidate, m.work);
    }
    // A clean node's cell may be invalid already (the object's own path settles cells
    // without visiting nodes): then a rollback must leave it invalid.
    //
    // The old value is kept aside only where it has a use: an invariant's, for a rollback
    // (which must not make it check again); one that dependents may compare against
    // (early cutoff); one that may turn out unchanged (`Check`); one read since it was
    // computed (likely read again, after a rollback too). A dirty lazy cache that nothing
    // reads and that was not read since it was computed is recomputed on its next read
    // whatever happens, so its value is dropped and a rollback leaves it invalid: marking
    // it moves no value and touches no other memory.
    // With the `explain` feature every value is kept: a rollback then leaves no cell invalid
    // that was valid before, which no cause could explain.
    let keep = cfg!(feature = "explain")
        || level != State::Dirty
        || node.eager
        || !node.dependents.is_empty();
    let (valid, hot) = match prev {
        State::Clean => invalidate(false, keep).map_or((false, false), |hot| (true, hot)),
        _ => (false, false),
    };
    let kept = keep || hot;
    let mut urgent = 0;
    if node.save(id, valid && kept, valid && !kept, hot, m.epoch, m.journal) {
        urgent = usize::from(node.eager || hot);
    }
    // A clean node whose cell was invalid already (left so by the own path, or by a
    // rollback that dropped its value) has no old value to check against: it is dirty.
    node.state = match prev == State::Clean && !valid {
        true => State::Dirty,
        false => level,
    };
    node.marked = m.clock.mark(why);
    m.tally.add(
        match node.state {
            State::Check => Counter::MarkedCheck,
            _ => Counter::MarkedDirty,
        },
        1,
    );
    if prev == State::Clean {
        m.work.extend(
            node.dependents
                .iter()
                .map(|&c| (c, State::Check, Why::cell(id))),
        );
    }
    urgent
}

/// [`raise_cell`] for a cell journaled by this barrier and valid again: a transaction
/// recomputed it since. Its stale value is the one from before the transaction (for a
/// rollback), not the one its dependents saw since, so it must not be compared: it is made
/// dirty, and its next computation counts as a change.
#[cold]
#[inline(never)]
fn raise_again(
    id: CellId,
    node: &mut Node,
    invalidate: impl FnOnce(bool, bool) -> Option<bool>,
    work: &mut Vec<(CellId, State, Why)>,
) -> usize {
    invalidate(true, true);
    node.uncut = true;
    node.state = State::Dirty;
    work.extend(
        node.dependents
            .iter()
            .map(|&c| (c, State::Check, Why::cell(id))),
    );
    // Journaled already: the transaction's end settles it if it is eager.
    0
}
