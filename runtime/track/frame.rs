//! The computation in progress on a thread: what it read so far, and whether a read ran
//! into a cycle.

use crate::decl::field::FieldMask;
use crate::error::{CacheName, Error};
use crate::key::CellId;
use crate::track::graph::Dep;

use std::cell::Cell as StdCell;
use std::cell::RefCell;
use std::sync::Arc;

/// The computation in progress on this thread, linked to the one that asked for it.
pub(crate) struct Frame<'a> {
    pub(crate) task: u64,
    pub(crate) cell: CellId,
    pub(crate) parent: Option<&'a Frame<'a>>,
    pub(crate) reads: StdCell<u64>,
    deps: RefCell<Vec<Dep>>,
    /// The number of this computation's record of what it asked attached implementations
    /// (0 until it asks one: see `Ctx::ask`).
    pub(crate) asked: StdCell<u64>,
    /// A read in this computation ran into a cycle (the chain): whatever it returns is
    /// dropped, and its reader gets the cycle error in turn.
    cycle: StdCell<Option<Arc<[CacheName]>>>,
    /// The computation runs in an overlay (see `overlay::read`).
    pub(crate) layer: bool,
}

impl<'a> Frame<'a> {
    pub(crate) fn new(task: u64, cell: CellId, parent: Option<&'a Frame<'a>>) -> Self {
        Frame {
            task,
            cell,
            parent,
            reads: StdCell::new(0),
            deps: RefCell::new(Vec::new()),
            asked: StdCell::new(0),
            cycle: StdCell::new(None),
            layer: false,
        }
    }

    /// Whether a read in this computation ran into a cycle.
    pub(crate) fn on_cycle(&self) -> bool {
        let chain = self.cycle.take();
        let on = chain.is_some();
        self.cycle.set(chain);
        on
    }

    /// The cycle error of a computation that ran into one.
    pub(crate) fn cycle_error(&self) -> Option<Error> {
        self.cycle.take().map(|chain| Error::Cycle { chain })
    }

    /// Passes an error from a read to the computation; a cycle also marks the
    /// computation as abandoned, whatever it does with the error.
    pub(crate) fn fail(&self, error: Error) -> Error {
        if let Error::Cycle { chain } = &error {
            self.cycle.set(Some(chain.clone()));
        }
        error
    }

    /// What the computation read: its own object's fields, and other objects' data.
    pub(crate) fn take_reads(&self) -> (FieldMask, Vec<Dep>) {
        (FieldMask(self.reads.get()), self.deps.take())
    }

    pub(crate) fn take_deps(&self) -> Vec<Dep> {
        self.deps.take()
    }

    pub(crate) fn depend(&self, dep: Dep) {
        let mut deps = self.deps.borrow_mut();
        if !deps.contains(&dep) {
            deps.push(dep);
        }
    }
}
