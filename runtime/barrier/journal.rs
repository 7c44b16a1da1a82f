//! The barrier's journal: what a running barrier or transaction must put back, one
//! record per cell it changed.

use crate::decl::field::FieldMask;
use crate::key::CellId;
use crate::key::ObjectKey;
use crate::track::graph::Dep;
use crate::track::graph::Node;
use crate::track::graph::State;

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

impl Node {
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
