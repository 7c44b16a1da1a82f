//! Why a cell was invalidated, recorded at the mark behind the `explain` feature: with it
//! off, every type here is zero-sized and recording compiles to nothing.
//!
//! A mark records the operation (its number and kind) and what reached the cell: fields of
//! an object, another cell, or a removal. A rollback puts back the causes the journal
//! saved with the states, so an operation that was rolled back is never a cause. Writes
//! the object's own path settles touch no tracking node: for those, each field keeps the
//! last operation that wrote it and committed.

use crate::decl::field::FieldMask;
use crate::key::{CellId, ObjectKey};

/// What kind of operation a numbered operation was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "explain"), allow(dead_code))]
pub(crate) enum OpKind {
    Set,
    Write,
    Box,
    Transaction,
    Remove,
    Create,
    Replace,
    Commit,
}

impl OpKind {
    #[cfg_attr(not(feature = "explain"), allow(dead_code))]
    pub(crate) fn name(self) -> &'static str {
        match self {
            OpKind::Set => "set",
            OpKind::Write => "write",
            OpKind::Box => "box",
            OpKind::Transaction => "transaction",
            OpKind::Remove => "remove",
            OpKind::Create => "create",
            OpKind::Replace => "replace",
            OpKind::Commit => "commit",
        }
    }
}

/// One numbered operation.
#[cfg(feature = "explain")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Op {
    pub(crate) seq: u64,
    pub(crate) kind: OpKind,
}

/// What reached a cell.
#[cfg(feature = "explain")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// A write of these fields of this object.
    Fields(ObjectKey, FieldMask),
    /// The invalidation of this cell, which the marked one read.
    Cell(CellId),
    /// The removal of this object.
    Removed(ObjectKey),
}

/// Why the marking in hand reaches a cell: zero-sized without the `explain` feature.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Why {
    #[cfg(feature = "explain")]
    pub(crate) via: Via,
}

#[cfg_attr(not(feature = "explain"), allow(unused_variables))]
impl Why {
    #[inline(always)]
    pub(crate) fn fields(key: ObjectKey, fields: FieldMask) -> Self {
        Why {
            #[cfg(feature = "explain")]
            via: Via::Fields(key, fields),
        }
    }

    #[inline(always)]
    pub(crate) fn cell(id: CellId) -> Self {
        Why {
            #[cfg(feature = "explain")]
            via: Via::Cell(id),
        }
    }

    #[inline(always)]
    pub(crate) fn removed(key: ObjectKey) -> Self {
        Why {
            #[cfg(feature = "explain")]
            via: Via::Removed(key),
        }
    }
}

/// A cell's last invalidation: by which operation, through what.
#[cfg(feature = "explain")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cause {
    pub(crate) op: Op,
    pub(crate) via: Via,
}

/// What a node keeps of its last invalidation: zero-sized without the `explain` feature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Marked {
    #[cfg(feature = "explain")]
    pub(crate) cause: Option<Cause>,
}

/// The heap's clock of operations: zero-sized without the `explain` feature.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    #[cfg(feature = "explain")]
    pub(crate) now: Option<Op>,
    #[cfg(feature = "explain")]
    seq: u64,
}

#[cfg_attr(not(feature = "explain"), allow(unused_variables))]
impl Clock {
    /// Starts operation `kind`: the marks it makes until the next one name it.
    #[inline(always)]
    pub(crate) fn begin(&mut self, kind: OpKind) {
        #[cfg(feature = "explain")]
        {
            self.seq += 1;
            self.now = Some(Op {
                seq: self.seq,
                kind,
            });
        }
    }

    /// The mark `why` makes in the running operation.
    #[inline(always)]
    pub(crate) fn mark(&self, why: Why) -> Marked {
        Marked {
            #[cfg(feature = "explain")]
            cause: self.now.map(|op| Cause { op, via: why.via }),
        }
    }
}

/// The last committed operation that wrote each field of an object: zero-sized without the
/// `explain` feature; allocated at the object's first recorded write.
#[derive(Debug, Default)]
pub(crate) struct Writes {
    #[cfg(feature = "explain")]
    pub(crate) by_field: Vec<Option<Op>>,
}

#[cfg_attr(not(feature = "explain"), allow(unused_variables))]
impl Writes {
    /// Records that the running operation wrote `fields` (it commits).
    #[inline(always)]
    #[cfg_attr(not(feature = "explain"), allow(dead_code))]
    pub(crate) fn record(&mut self, fields: FieldMask, count: usize, clock: &Clock) {
        #[cfg(feature = "explain")]
        if let Some(op) = clock.now {
            let fields = fields.0 & (u64::MAX >> 64usize.saturating_sub(count).min(63));
            for f in crate::decl::field::Ones(fields).take_while(|&f| f < count) {
                if f >= self.by_field.len() {
                    self.by_field.resize(count, None);
                }
                self.by_field[f] = Some(op);
            }
        }
    }
}
