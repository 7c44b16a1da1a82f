//! `tracing` integration, behind the `tracing` feature: a `DEBUG` span `op` per
//! operation, `TRACE` events `invalidate`, `recompute`, `revalidate`, `invariant` and
//! `rollback` (target `steadfast`), never an event on the hit path. Each event's formatting
//! sits in a cold, out-of-line closure behind the callsite's interest check, as salsa does,
//! so that an enabled feature without a subscriber costs a load and a branch. With the
//! feature off, spans are zero-sized and events expand to nothing.

use crate::cell::Fresh;
use crate::diag::cause::OpKind;
#[cfg(feature = "tracing")]
use crate::error::short;
use crate::heap::parts::Core;
use crate::key::{CellId, ObjectId};

/// Emits a `TRACE` event with target `steadfast` (nothing without the `tracing` feature):
/// the arguments of `tracing::trace!` after the target.
macro_rules! event {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            // The level test is one load of a global; the rest is out of line.
            if ::tracing::level_enabled!(::tracing::Level::TRACE) {
                $crate::diag::trace::cold(|| ::tracing::trace!(target: "steadfast", $($arg)*));
            }
        }
    };
}
pub(crate) use event;

/// Runs an event's formatting out of line.
#[cfg(feature = "tracing")]
#[cold]
#[inline(never)]
pub(crate) fn cold(f: impl FnOnce()) {
    f()
}

/// The span of one operation, entered while it lives: zero-sized without the `tracing`
/// feature, and `None` while nothing listens at `DEBUG`.
#[must_use]
pub(crate) struct OpSpan {
    /// Boxed, so that an operation nothing listens to holds a null pointer; left (and
    /// dropped) out of line by `Drop`, so that leaving it is a test, not a call.
    #[cfg(feature = "tracing")]
    entered: std::mem::ManuallyDrop<Option<Box<tracing::span::EnteredSpan>>>,
}

#[cfg(feature = "tracing")]
impl Drop for OpSpan {
    #[inline(always)]
    fn drop(&mut self) {
        if self.entered.is_some() {
            leave(&mut self.entered);
        }
    }
}

/// Exits and drops an operation's span.
#[cfg(feature = "tracing")]
#[cold]
#[inline(never)]
fn leave(entered: &mut Option<Box<tracing::span::EnteredSpan>>) {
    drop(entered.take());
}

/// Enters the span of an operation of kind `kind` on `object` (of type `type_name`), on an
/// object not made yet (a creation), or on the heap as a whole (`""` for `type_name`).
#[inline(always)]
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn op(kind: OpKind, object: Option<ObjectId>, type_name: &'static str) -> OpSpan {
    OpSpan {
        // The level test is one load of a global; the span is made out of line.
        #[cfg(feature = "tracing")]
        entered: std::mem::ManuallyDrop::new(
            tracing::level_enabled!(tracing::Level::DEBUG).then(|| span(kind, object, type_name)),
        ),
    }
}

#[cfg(feature = "tracing")]
#[cold]
#[inline(never)]
fn span(
    kind: OpKind,
    object: Option<ObjectId>,
    type_name: &'static str,
) -> Box<tracing::span::EnteredSpan> {
    let span = match object {
        Some(object) => tracing::debug_span!(
            target: "steadfast",
            "op",
            op = kind.name(),
            object = %object,
            type_name = short(type_name),
        ),
        None if type_name.is_empty() => {
            tracing::debug_span!(target: "steadfast", "op", op = kind.name())
        }
        None => tracing::debug_span!(
            target: "steadfast",
            "op",
            op = kind.name(),
            type_name = short(type_name),
        ),
    };
    Box::new(span.entered())
}

/// A cache named by its type and method, for events of an object's own path (the span
/// names the object).
#[cfg(feature = "tracing")]
struct Own(&'static str, &'static str);

#[cfg(feature = "tracing")]
impl std::fmt::Display for Own {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}::{}", short(self.0), self.1)
    }
}

/// Traces a computation of a cache of an object's own fields on its own path: `recompute`,
/// and `invariant` if it is one (nothing if it panicked).
#[inline(always)]
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn own_computed(
    type_name: &'static str,
    cache: &'static str,
    invariant: impl FnOnce() -> bool,
    fresh: Option<&Fresh>,
) {
    #[cfg(feature = "tracing")]
    if let Some(fresh) = fresh {
        event!(cache = %Own(type_name, cache), changed = fresh.changed, "recompute");
        if invariant() {
            event!(cache = %Own(type_name, cache), holds = !fresh.failed, "invariant");
        }
    }
}

/// Traces an invalidation on an object's own path.
#[inline(always)]
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn own_invalidated(type_name: &'static str, cache: &'static str) {
    event!(cache = %Own(type_name, cache), state = "dirty", "invalidate");
}

impl Core {
    /// The running operation was refused and undone: counted (also for `ext`, which
    /// stops trusting what attached implementations were asked before), and traced.
    pub(crate) fn rolled_back(&mut self) {
        self.rollbacks += 1;
        self.stats
            .tally()
            .add(crate::diag::stats::Counter::Rollbacks, 1);
        event!("rollback");
    }

    /// Traces a computation of `id` that gave `fresh`: `recompute`, and `invariant` if it
    /// is one.
    #[inline(always)]
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn traced_compute(&self, id: CellId, fresh: &Fresh) {
        event!(cache = %self.name_of(id), changed = fresh.changed, "recompute");
        #[cfg(feature = "tracing")]
        if self
            .slots
            .get(id.key)
            .is_some_and(|s| s.ops.is_invariant(id.index as usize))
        {
            event!(cache = %self.name_of(id), holds = !fresh.failed, "invariant");
        }
    }

    /// Traces the marks the journal recorded from its record `from` on.
    #[cfg(feature = "tracing")]
    #[inline(always)]
    pub(crate) fn traced_marks(&self, from: usize) {
        if tracing::level_enabled!(tracing::Level::TRACE) {
            cold(|| {
                let journal = self.barrier.journal.lock();
                for (id, _) in journal.records.iter().skip(from) {
                    let state = self.slots.get(id.key).map_or("dirty", |s| {
                        match s.graph.lock().nodes[id.index as usize].state {
                            crate::track::graph::State::Check => "check",
                            _ => "dirty",
                        }
                    });
                    tracing::trace!(target: "steadfast", cache = %self.name_of(*id), state, "invalidate");
                }
            });
        }
    }
}
