//! The barrier's journal: what a running barrier or transaction must put back, one
//! record per cell it changed.

use crate::decl::field::FieldMask;
use crate::diag::cause::{Marked, Why};
use crate::key::{CellId, ObjectKey};
use crate::sync::Mutex;
use crate::track::graph::{Dep, Node, State};

use std::any::Any;
use std::any::TypeId;

/// What a barrier must put back if it rolls back, for one cell: plain data, so that
/// ending a barrier forgets a thousand records at once rather than one by one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Saved {
    pub(crate) state: State,
    /// The cell held a valid value, kept aside as its stale value: a rollback makes that
    /// value valid again. (A node may be `Clean` while its cell is invalid: the object's
    /// own path settles cells without visiting nodes.)
    pub(crate) valid: bool,
    /// The cell held a valid value and dropped it (see `raise_cell`): a rollback leaves it
    /// invalid, dropping what the barrier computed into it.
    pub(crate) dropped: bool,
    pub(crate) hot: bool,
    pub(crate) changed_at: u64,
    pub(crate) verified_at: u64,
    /// Where [`Journal::replaced`] keeps the reads of the computation a recomputation
    /// replaced, if one did ([`Saved::NO_READS`] else).
    pub(crate) reads: u32,
    /// The node's last invalidation before the barrier (with the `explain` feature).
    pub(crate) marked: Marked,
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

impl Node {
    /// Starts the record of this node in the journal of the barrier of `epoch`, once.
    /// Returns whether it did.
    pub(crate) fn save(
        &mut self,
        id: CellId,
        valid: bool,
        dropped: bool,
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
                valid,
                dropped,
                hot,
                changed_at: self.changed_at,
                verified_at: self.verified_at,
                reads: Saved::NO_READS,
                marked: self.marked,
            },
        ));
        true
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

/// What an open transaction must undo if it fails. The heap keeps one between transactions,
/// so that a transaction allocates only when it outgrows the largest before it.
#[derive(Default)]
pub(crate) struct OpLog {
    /// What a rollback undoes besides fields, in the order it happened.
    pub(crate) undo: Vec<Undo>,
    /// Saved fields, one log per object type (so that saving does not allocate), each in
    /// the order the fields were saved. A list, searched from the type last used: a
    /// transaction writes few types, and mostly the one it wrote last.
    pub(crate) fields: Vec<(TypeId, Box<dyn FieldLog>)>,
    /// The index in `fields` of the type last saved.
    pub(crate) last_fields: usize,
    /// What the transaction did to each object it wrote or created, in the order it first
    /// did (so that of two failing checks at the end, the first written object's is
    /// reported). Each object keeps the index of its record (`Stored::op`): see
    /// [`record`](OpLog::record).
    pub(crate) kept: Vec<(ObjectKey, Kept)>,
    /// Immutable objects created here: classed with their equals when it commits.
    pub(crate) created_imm: Vec<ObjectKey>,
}

impl OpLog {
    /// The index of the record of the object at `key`, whose `Stored::op` is `op`, if the
    /// transaction has one. An index left by an earlier transaction points past the end or
    /// at another object's record: checking the key is enough, and nothing is reset.
    #[inline]
    pub(crate) fn find(&self, key: ObjectKey, op: u32) -> Option<usize> {
        let at = op as usize;
        self.kept.get(at).filter(|(k, _)| *k == key).map(|_| at)
    }

    /// The index of the record of the object at `key`, made if the transaction has none
    /// (then `op` is pointed at it).
    #[inline]
    pub(crate) fn record(&mut self, key: ObjectKey, op: &mut u32, kept: Kept) -> usize {
        if let Some(at) = self.find(key, *op) {
            return at;
        }
        let at = self.kept.len();
        *op = u32::try_from(at).expect("fewer than 2^32 objects in one transaction");
        self.kept.push((key, kept));
        at
    }

    pub(crate) fn clear(&mut self) {
        self.undo.clear();
        self.kept.clear();
        self.created_imm.clear();
        for (_, log) in &mut self.fields {
            log.clear();
        }
    }
}

/// What a transaction did to one object.
#[derive(Clone, Copy, Default)]
pub(crate) struct Kept {
    /// The fields saved so far: each is saved once, before its first write (every field
    /// of an object created here, which a rollback removes).
    pub(crate) saved: FieldMask,
    /// Created by the transaction: its caches settle through the journal.
    pub(crate) created: bool,
    /// The fields written on the object's own path (nothing outside it read them): its
    /// `now` caches that read them are rechecked at the end without the journal.
    pub(crate) own: FieldMask,
    /// A later write was loud: the object's writes went to the journal after all, which
    /// settles its `now` caches (a rollback still clears the `lazy_read` caches its own
    /// path refilled).
    pub(crate) journaled: bool,
    /// Removed by the transaction: no later step may write it.
    pub(crate) removed: bool,
    /// The check at the end changed a value its own path kept aside: committing must
    /// forget that value (see `Stored::end_own`).
    pub(crate) changed: bool,
}

/// One step a rollback undoes, besides fields.
#[derive(Clone, Copy)]
pub(crate) enum Undo {
    /// The object's type declined to save a field (see [`Object::save`](crate::Object::save)): a rollback
    /// removes it.
    Lost(ObjectKey),
    Created(ObjectKey),
    Removed(ObjectKey),
}

/// The fields saved from objects of one type.
/// Lends the live object at a key, type-erased, to a function that puts a field of it
/// back (see [`FieldLog::put_back`]).
pub(crate) type Reach<'a> = dyn FnMut(ObjectKey, &mut dyn FnMut(&mut (dyn Any + Send + Sync))) + 'a;

pub(crate) trait FieldLog: Send {
    fn as_any(&mut self) -> &mut dyn Any;
    /// Puts every saved field back, last saved first: `reach` lends the object at a key,
    /// if it lives, to the function that puts its field back.
    fn put_back(&mut self, reach: &mut Reach<'_>);
    fn clear(&mut self);
}

/// The state of the running barrier or transaction, one of the heap's parts: empty
/// between operations, keeping its allocations.
pub(crate) struct Barrier {
    /// A barrier is settling: recomputations keep what a rollback needs.
    pub(crate) in_barrier: bool,
    /// What the running barrier must put back if it rolls back, one record per cell it
    /// changed, in the order it changed them.
    pub(crate) journal: Mutex<Journal>,
    /// Numbers barriers, so that a node's pointer into an earlier journal is void.
    pub(crate) epoch: u64,
    /// The running barrier recomputed cells (their stale values go at commit).
    pub(crate) settled: bool,
    /// Journaled cells the barrier must bring up to date (`now`, `eager`, or read since
    /// last computed); when none, settling is skipped.
    pub(crate) urgent: usize,
    /// The barrier's list of cells left to mark, empty between barriers (kept for its
    /// allocation).
    pub(crate) work: Vec<(CellId, State, Why)>,
}

impl Default for Barrier {
    fn default() -> Self {
        Barrier {
            in_barrier: false,
            journal: Mutex::new(Journal::default()),
            epoch: 1,
            settled: false,
            urgent: 0,
            work: Vec::new(),
        }
    }
}
