//! An object as the heap stores it: its value, the cells of its cached methods, and which
//! fields a write must take through the barrier.

use qcell::{QCell, QCellOwner};
use std::any::Any;

use crate::decl::object::sealed::Cells as _;
use crate::decl::object::Object;
use crate::heap::parts::Storage;
use crate::key::Tag;
use crate::sync::Bits;
use std::sync::Arc;

/// An object's storage as a handle holds it: `Some` while the object lives in its heap,
/// emptied when it is removed (or moved to shared storage), so that a handle that
/// outlives its object finds nothing here and falls back to the slot's checks.
pub(crate) type Link<T> = QCell<Option<Stored<T>>>;

/// An object's value and the cells of its cached methods.
///
/// `pub` only so that the handles' sealed trait may name it; no path outside the crate
/// reaches it.
pub struct Stored<T: Object> {
    pub(crate) value: T,
    pub(crate) cells: T::Cells,
    /// The fields whose writes must go through the barrier: those read by a cache that is
    /// not settled by the own write path ([`base`](Stored::base)), by another object, or
    /// by a cache with dependents. A superset: reads add to it as they record edges (under
    /// `&Heap`, hence atomic), and a write through the barrier recomputes it from the
    /// graph. A write to any other field is settled by the object alone
    /// ([`Heap::set`](crate::Heap::set)'s own path), as a hand-written setter would.
    pub(crate) loud: Bits,
    /// Whether the own write path may take a write at all (see [`own_path`](Stored::own_path)).
    pub(crate) own: bool,
    /// Where the running transaction keeps its record of this object, if it has one: an
    /// index into its records, valid only if the record there names this object, so that
    /// it is found without a look-up and never needs resetting (see `OpLog::record`).
    pub(crate) op: u32,
    /// The overlays (by bit) that wrote the object or compute one of its cells: a read in
    /// an overlay whose bit is clear here is the base's read. For an overlay's copy of an
    /// object: the overlay's key (`OverlayKey` as `u64`).
    pub(crate) overlaid: Bits,
    /// The copies of the object the overlays that wrote it hold (see `overlay`), so that a
    /// read through an overlay reaches its copy without a look-up: the first here, each
    /// copy's next in its own `forks`. Shared with the overlays, reached through the heap's
    /// owner as the object is.
    pub(crate) forks: Option<Arc<Link<T>>>,
}

impl<T: Object> Stored<T> {
    pub(crate) fn new(value: T, tag: Tag) -> Self {
        let base = if tag == Tag::Imm {
            u64::MAX
        } else {
            Self::typed_base()
        };
        Stored {
            value,
            cells: T::Cells::empty(),
            loud: Bits::new(base),
            own: base != u64::MAX,
            op: u32::MAX,
            overlaid: Bits::new(0),
            forks: None,
        }
    }

    /// The fields loud for every `mut` object of type `T`, whatever reads it: those its own
    /// caches make loud (every field if one of them reads another object).
    fn typed_base() -> u64 {
        T::CACHES.iter().fold(0, |m, c| m | c.loud().0)
    }

    /// What [`loud`](Stored::loud) holds whatever reads the object: fixed by its type, or
    /// every field once it is not `mut`.
    pub(crate) fn base(&self) -> u64 {
        match self.own {
            true => Self::typed_base(),
            false => u64::MAX,
        }
    }

    /// Whether the own write path may take a write at all: not when the object is
    /// immutable (the barrier refuses the write) or has a cache that reads other objects
    /// (every field is loud).
    #[inline(always)]
    pub(crate) fn own_path(&self) -> bool {
        self.own
    }
}

impl<T: Object> Storage for Link<T> {
    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }

    fn get<'a>(&'a self, owner: &'a QCellOwner) -> &'a (dyn Any + Send + Sync) {
        owner.ro(self)
    }

    fn get_mut<'a>(&'a self, owner: &'a mut QCellOwner) -> &'a mut (dyn Any + Send + Sync) {
        owner.rw(self)
    }

    fn invalidate(&self, owner: &mut QCellOwner, index: usize, keep: bool) -> Option<bool> {
        owner
            .rw(self)
            .as_mut()
            .expect("a marked cell's object is live")
            .cells
            .invalidate(index, keep)
    }
}
