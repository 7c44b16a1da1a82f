//! Claims: which task computes which cell through `&Heap`, and which task waits for
//! which cell (a wait that closes a cycle is a cycle error).

use crate::key::CellId;
use crate::sync::{AtomicU64, Condvar, Mutex};

use rustc_hash::FxHashMap;

/// Which cells are being computed by which task, and which task waits for which cell.
#[derive(Debug, Default)]
pub(crate) struct Sched {
    pub(crate) owners: FxHashMap<CellId, u64>,
    pub(crate) waiting: FxHashMap<u64, CellId>,
}

impl Sched {
    /// If `task` waiting for a cell owned by `owner` would close a cycle of waits, the
    /// cells along it.
    pub(crate) fn wait_cycle(
        &self,
        mut owner: u64,
        task: u64,
        first: CellId,
    ) -> Option<Vec<CellId>> {
        let mut path = vec![first];
        while let Some(&cell) = self.waiting.get(&owner) {
            path.push(cell);
            owner = *self.owners.get(&cell)?;
            if owner == task {
                return Some(path);
            }
            if path.len() > self.waiting.len() + 1 {
                return None;
            }
        }
        None
    }
}

/// The claim scheduler, one of the heap's parts.
pub(crate) struct Claims {
    pub(crate) sched: Mutex<Sched>,
    /// Woken when a claim is released.
    pub(crate) wake: Condvar,
    pub(crate) next_task: AtomicU64,
    /// Tasks of computations the barrier runs under `&mut Heap` (high bit set).
    pub(crate) owned_tasks: u64,
}

impl Default for Claims {
    fn default() -> Self {
        Claims {
            sched: Mutex::new(Sched::default()),
            wake: Condvar::new(),
            next_task: AtomicU64::new(0),
            owned_tasks: 0,
        }
    }
}
