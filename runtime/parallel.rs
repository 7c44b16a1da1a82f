//! Eager caches of immutable objects, computed on rayon's pool right after the object is
//! made, without making its creator wait.
//!
//! Each such cache has a [`Run`] that the worker and readers race to claim: whoever
//! claims a queued run computes it, so a read never waits for a worker that has not
//! started (which also makes a read from inside a rayon worker safe), and a read of a
//! running computation blocks on a condition variable until it ends (no spinning). A panic
//! is kept as the run's outcome and reported by every read, as [`Error::Panicked`](crate::Error::Panicked).

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

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

/// The eager runs of one object, indexed by cache.
#[derive(Debug)]
pub(crate) struct Runs {
    runs: Mutex<Vec<Run>>,
    changed: Condvar,
}

impl Runs {
    pub(crate) fn new(runs: Vec<Run>) -> Self {
        Runs {
            runs: Mutex::new(runs),
            changed: Condvar::new(),
        }
    }

    /// The worker's side: computes run `index` if nobody claimed it yet.
    pub(crate) fn work(&self, index: usize, compute: impl FnOnce()) {
        let mut runs = self.runs.lock();
        if runs[index] != Run::Queued {
            return;
        }
        runs[index] = Run::Running;
        drop(runs);
        self.finish(index, compute);
    }

    /// A reader's side: computes run `index` if nobody claimed it yet, or waits for the
    /// one computing it; `Err` carries the message of a panic.
    pub(crate) fn read(&self, index: usize, compute: impl FnOnce()) -> Result<(), Arc<str>> {
        let mut compute = Some(compute);
        let mut runs = self.runs.lock();
        loop {
            match &runs[index] {
                Run::Queued | Run::Cancelled => {
                    runs[index] = Run::Running;
                    drop(runs);
                    let compute = compute.take().expect("claimed once: then it is not queued");
                    self.finish(index, compute);
                    runs = self.runs.lock();
                }
                Run::Running => runs = self.changed.wait(runs),
                Run::Done | Run::None => return Ok(()),
                Run::Panicked(message) => return Err(message.clone()),
            }
        }
    }

    fn finish(&self, index: usize, compute: impl FnOnce()) {
        let outcome = match panic::catch_unwind(AssertUnwindSafe(compute)) {
            Ok(()) => Run::Done,
            Err(payload) => Run::Panicked(message(&*payload).into()),
        };
        self.runs.lock()[index] = outcome;
        self.changed.notify_all();
    }

    /// Calls off every queued run and waits until none is running, so that the object can
    /// be changed or taken apart.
    pub(crate) fn settle(&self) {
        let mut runs = self.runs.lock();
        for run in runs.iter_mut() {
            if *run == Run::Queued {
                *run = Run::Cancelled;
            }
        }
        while runs.contains(&Run::Running) {
            runs = self.changed.wait(runs);
        }
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
