//! Eager caches of immutable objects, computed on rayon's pool right after the object is
//! made, without making its creator wait.
//!
//! Each such cache has a [`Run`] that the worker and readers race to claim: whoever
//! claims a queued run computes it, so a read never waits for a worker that has not
//! started (which also makes a read from inside a rayon worker safe), and a read of a
//! running computation blocks on a condition variable until it ends (no spinning). A panic
//! is kept as the run's outcome and reported by every read, as [`Error::Panicked`](crate::Error::Panicked).

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Weak};

use crate::diag::stats::PoolTally;
use crate::sync::{Condvar, Mutex};

/// Where one eager computation stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Run {
    /// Not an eager computation that runs off the heap.
    None,
    /// Waiting for a worker or a reader to claim it.
    Queued,
    /// Being computed by whoever claimed it.
    Running,
    /// Computed: the value is in its cell.
    Done,
    /// The computation panicked with this message.
    Panicked(Arc<str>),
    /// Called off: the object is being changed or removed, and will not be read again as
    /// it was.
    Cancelled,
}

/// The object the workers compute on, held weakly: a worker upgrades it only once it has
/// claimed a run and lets go before the run ends, so that once no run is running
/// ([`Runs::settle`]) nothing but the heap holds the object, and the heap may change or take
/// it at once.
type Target = Weak<dyn Any + Send + Sync>;

/// The runs and the object they compute on, under one lock.
#[derive(Debug)]
struct State {
    runs: Vec<Run>,
    target: Option<Target>,
}

/// The eager runs of one object, indexed by cache.
#[derive(Debug)]
pub(crate) struct Runs {
    state: Mutex<State>,
    changed: Condvar,
    tally: PoolTally,
}

impl Runs {
    pub(crate) fn new(runs: Vec<Run>, tally: PoolTally) -> Self {
        Runs {
            state: Mutex::new(State { runs, target: None }),
            changed: Condvar::new(),
            tally,
        }
    }

    /// Names the object the workers compute on, before they are spawned.
    pub(crate) fn start(&self, target: Target) {
        self.state.lock().target = Some(target);
    }

    /// The worker's side: computes run `index` on the object if nobody claimed it yet.
    pub(crate) fn work(&self, index: usize, compute: impl FnOnce(&(dyn Any + Send + Sync))) {
        let mut state = self.state.lock();
        if state.runs[index] != Run::Queued {
            return;
        }
        // Gone: removed before a worker got to it.
        let Some(object) = state.target.as_ref().and_then(Weak::upgrade) else {
            return;
        };
        state.runs[index] = Run::Running;
        drop(state);
        // `object` is dropped inside, before the run is marked ended.
        self.finish(index, move || compute(&*object));
    }

    /// A reader's side: computes run `index` if nobody claimed it yet, or waits for the
    /// one computing it; `Err` carries the message of a panic.
    pub(crate) fn read(&self, index: usize, compute: impl FnOnce()) -> Result<(), Arc<str>> {
        let mut compute = Some(compute);
        let mut state = self.state.lock();
        loop {
            match &state.runs[index] {
                Run::Queued | Run::Cancelled => {
                    state.runs[index] = Run::Running;
                    drop(state);
                    let compute = compute.take().expect("claimed once: then it is not queued");
                    self.finish(index, compute);
                    state = self.state.lock();
                }
                Run::Running => state = self.changed.wait(state),
                Run::Done | Run::None => return Ok(()),
                Run::Panicked(message) => return Err(message.clone()),
            }
        }
    }

    fn finish(&self, index: usize, compute: impl FnOnce()) {
        self.tally.ran();
        let outcome = match panic::catch_unwind(AssertUnwindSafe(compute)) {
            Ok(()) => Run::Done,
            Err(payload) => Run::Panicked(message(&*payload).into()),
        };
        self.state.lock().runs[index] = outcome;
        self.changed.notify_all();
    }

    /// Calls off every queued run (a reader computes it if it is read) and waits until none
    /// is running; then no worker holds the object or can reach it, so that it can be
    /// changed or taken apart. Waits on the condition variable, never spins.
    pub(crate) fn settle(&self) {
        let mut state = self.state.lock();
        for run in state.runs.iter_mut() {
            if *run == Run::Queued {
                *run = Run::Cancelled;
            }
        }
        while state.runs.contains(&Run::Running) {
            state = self.changed.wait(state);
        }
        state.target = None;
    }
}

/// A panic payload's message, when it is a string.
pub(crate) fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// Runs `task` on rayon's pool (on a loom thread under `--cfg loom`, so the hand-off is
/// model-checked).
pub(crate) fn spawn(task: impl FnOnce() + Send + 'static) {
    #[cfg(not(loom))]
    rayon::spawn(task);
    #[cfg(loom)]
    drop(loom::thread::spawn(task));
}
