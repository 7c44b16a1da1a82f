//! The one error type of the runtime.

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::key::ObjectId;
use crate::overlay::Overlay;

/// A cached method named by object, type and method, as errors report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheName {
    /// The object whose cache it is.
    pub object: ObjectId,
    /// The object's Rust type.
    pub type_name: &'static str,
    /// The cached method.
    pub cache: &'static str,
}

impl fmt::Display for CacheName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}::{} of {}",
            short(self.type_name),
            self.cache,
            self.object
        )
    }
}

/// Everything that can go wrong in a heap operation.
///
/// Every variant names the object it happened to; invariant failures carry the
/// invariant's own error as [`source`](StdError::source). As in std, a message does not
/// repeat its source, so that error reporters (`anyhow`'s `{:#}`, `eyre`) print each cause
/// once:
///
/// ```
/// use std::error::Error as _;
/// use steadfast::{cached, mutable, Heap};
///
/// #[derive(Debug)]
/// struct Negative;
/// impl std::fmt::Display for Negative {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("the count is negative")
///     }
/// }
/// impl std::error::Error for Negative {}
///
/// #[mutable]
/// struct Counter { n: i64 }
///
/// #[cached]
/// impl Counter {
///     #[cache(now)]
///     fn nonneg(n: &i64) -> Result<(), Negative> {
///         if *n < 0 { Err(Negative) } else { Ok(()) }
///     }
/// }
///
/// let mut heap = Heap::new();
/// let c = heap.mutable(Counter { n: 1 })?;
/// let err = Counter::set_n(&mut heap, &c, -1).unwrap_err();
/// assert_eq!(err.to_string(), format!("invariant Counter::nonneg of {} failed", c.id()));
/// assert_eq!(err.source().unwrap().to_string(), "the count is negative");
/// # Ok::<(), steadfast::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The handle names an object that was removed (or a computation was reading an object
    /// being removed).
    Removed {
        /// The object's id.
        object: ObjectId,
        /// The type the handle expected.
        type_name: &'static str,
    },
    /// The handle belongs to another heap.
    ForeignHandle {
        /// The object's id (its heap differs from this heap).
        object: ObjectId,
        /// This heap's number.
        heap: u64,
    },
    /// An invariant (`now` method returning `Result`) failed, so the operation was rolled
    /// back: every read of the heap gives what it gave before the operation began.
    Invariant {
        /// The invariant that failed, and its object (which may differ from the written
        /// object when a cross-object invariant vetoes a write).
        invariant: CacheName,
        /// The invariant's own error.
        source: Box<dyn StdError + Send + Sync>,
        /// A value handed back so that nothing is lost: the value of an object whose
        /// creation was refused, or of an object that could not be restored and was removed
        /// (see [`Object::save`](crate::Object::save)). Take it with [`Error::into_value`].
        value: Option<Box<dyn Any + Send + Sync>>,
    },
    /// A computation needed its own value, directly or through other caches; `chain` lists
    /// the caches from the one that was asked for to the one that asked for it again.
    ///
    /// The message names at most [`Error::CYCLE_SHOWN`] caches, however long the cycle;
    /// `chain` holds all of them. Every computation that was waiting on the cycle was
    /// abandoned (nothing it computed was kept), and so was the read that started it.
    Cycle {
        /// The caches in the cycle, in the order they were entered (shared: the error
        /// travels through every abandoned computation without copying it).
        chain: Arc<[CacheName]>,
    },
    /// A type's declaration does not hold together: a cache listed in
    /// [`Object::CACHES`](crate::Object::CACHES) at another position than its index, or
    /// more than 64 fields. Only hand-written [`Object`](crate::Object) impls can produce
    /// this (a cache's value type and cell are checked at compile time).
    Schema {
        /// The object's type.
        type_name: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A write to an object that is immutable: it was frozen after the handle used for the
    /// write was made (a `Mutable` handle kept across [`Heap::freeze`](crate::Heap::freeze)).
    Immutable {
        /// The object's id.
        object: ObjectId,
        /// The object's type.
        type_name: &'static str,
    },
    /// [`Heap::freeze`](crate::Heap::freeze) was refused: an object the capsule reaches is
    /// also held by an object outside it, so the capsule does not own it.
    Aliased {
        /// The object reachable both from the capsule and from outside.
        object: ObjectId,
        /// An object outside the capsule that holds a handle to it.
        holder: ObjectId,
        /// The holder's type.
        holder_type: &'static str,
    },
    /// An immutable object cannot be removed while other immutable objects hold handles to
    /// it (they would dangle): remove them first, or remove the whole graph at once with
    /// [`Heap::remove_graph`](crate::Heap::remove_graph).
    Referenced {
        /// The object's id.
        object: ObjectId,
        /// The object's type.
        type_name: &'static str,
        /// How many handles immutable objects hold to it.
        holders: usize,
    },
    /// [`Transaction::through`](crate::Transaction::through) reached a capsule through an
    /// object that does not hold its handle (the selector returned a capsule from
    /// elsewhere); nothing was done.
    NotOwned {
        /// The object the capsule was reached through.
        owner: ObjectId,
        /// The capsule.
        object: ObjectId,
    },
    /// A [`Memo`](crate::Memo)'s function disagreed with a run it recorded: after the same
    /// `depth` answers, one asked a call (or returned) where the other asked another. The
    /// function is not deterministic, or reads something besides its key and its interface;
    /// nothing was recorded. The run's result is inside ([`Error::into_value`]).
    Nondeterministic {
        /// How many calls both made before they disagreed.
        depth: usize,
        /// What the recorded run did there: the call (`Debug`), or `returned`.
        expected: String,
        /// What this run did there.
        found: String,
        /// This run's result.
        value: Option<Box<dyn Any + Send + Sync>>,
    },
    /// A drawing of the dependency graph ([`Heap::write_dot`](crate::Heap::write_dot)) would
    /// hold more objects than its limit ([`Dot::limit`](crate::Dot::limit)); nothing was
    /// written.
    TooLarge {
        /// How many objects the drawing would hold (counted up to one past the limit when
        /// drawing around an object).
        objects: usize,
        /// The limit.
        limit: usize,
    },
    /// The writer a drawing went to failed; what it took before that stays written.
    Write {
        /// The writer's error.
        source: fmt::Error,
    },
    /// A test double was called, and none of its clauses answers the call: a panic's
    /// payload, or the error value of a method that returns `Result<_, E>` where
    /// `E: From<Error>`.
    Unmatched {
        /// The call (`Debug`).
        call: String,
        /// Why each clause of the method did not answer it (none: the double has no
        /// clause for the method).
        mismatches: Vec<String>,
    },
    /// A test double answered a call out of the order its `next_call` clauses give
    /// (reported by [`Double::verify`](crate::Double::verify)).
    OutOfOrder {
        /// The call (`Debug`).
        call: String,
        /// What was expected first: a clause, or the end of the sequence.
        expected: String,
    },
    /// A clause of a test double was not called as often as it must be (reported by
    /// [`Double::verify`](crate::Double::verify)).
    Unmet {
        /// The clause.
        clause: String,
        /// How many calls it answered.
        calls: usize,
        /// How many it must answer (`at least 1`, `exactly 2`).
        expected: String,
    },
    /// A replaying double ([`Double::replaying`](crate::Double::replaying)) was asked a
    /// call it has no record of.
    Unrecorded {
        /// The call (`Debug`).
        call: String,
        /// The recorded calls of the same method (`Debug`), the first few.
        known: Vec<String>,
    },
    /// A replaying double could not be built: the record answers one call in two ways
    /// (it holds runs of two implementations that differ there).
    Conflicting {
        /// The call (`Debug`).
        call: String,
        /// Its recorded answers (`Debug`).
        answers: Vec<String>,
    },
    /// An `eager` cache's computation panicked on a worker thread; the object is immutable,
    /// so every read of the cache reports the same failure.
    Panicked {
        /// The cache whose computation panicked.
        cache: CacheName,
        /// The panic's message, if it was a string.
        message: String,
    },
    /// The overlay was discarded or committed: its handle names nothing any more.
    OverlayClosed {
        /// The overlay.
        overlay: Overlay,
    },
    /// The overlay belongs to another heap.
    ForeignOverlay {
        /// The overlay (its heap differs from this heap).
        overlay: Overlay,
        /// This heap's number.
        heap: u64,
    },
    /// An overlay write needed a copy of an object, and its type cannot make one: a field
    /// is neither `Clone` nor [`Save`](crate::Save), or a hand-written
    /// [`Object`](crate::Object) impl does not implement [`fork`](crate::Object::fork).
    /// Nothing was changed.
    NotForkable {
        /// The object.
        object: ObjectId,
        /// Its type.
        type_name: &'static str,
    },
    /// The handle names an object made in an overlay and not committed: only that overlay's
    /// reads and writes see it.
    OverlayOnly {
        /// The object.
        object: ObjectId,
    },
    /// An overlay was used inside a transaction of its heap, whose writes are not settled
    /// until it ends: overlays are read and written between base operations.
    OverlayInTransaction {
        /// The overlay.
        overlay: Overlay,
    },
    /// An overlay's commit was refused: the base wrote (or removed) an object the overlay
    /// wrote too, since the overlay copied it. Nothing was changed.
    Conflict {
        /// The overlay.
        overlay: Overlay,
        /// The object both wrote.
        object: ObjectId,
    },
    /// A base write broke an invariant as the overlay sees it (the base is not vetoed by
    /// its overlays): every read of the overlay reports this until an overlay write
    /// repairs it.
    OverlayBroken {
        /// The overlay.
        overlay: Overlay,
        /// The invariant that fails in the overlay.
        invariant: CacheName,
    },
}

impl Error {
    /// How many caches the message of an [`Error::Cycle`] names at most: the first and the
    /// last half of that, with the number left out between them.
    pub const CYCLE_SHOWN: usize = 8;

    /// Takes the value handed back by a refused creation, by the remove-on-failure
    /// fallback, or by a nondeterministic memoized run, if it is a `T`.
    pub fn into_value<T: 'static>(self) -> Option<T> {
        match self {
            Error::Invariant { value: Some(v), .. }
            | Error::Nondeterministic { value: Some(v), .. } => v.downcast().ok().map(|b| *b),
            _ => None,
        }
    }

    /// The invariant's name, if this is an invariant failure.
    pub fn invariant(&self) -> Option<&CacheName> {
        match self {
            Error::Invariant { invariant, .. } => Some(invariant),
            _ => None,
        }
    }

    /// The error with `value` handed back inside it, if it is an invariant's: the value of
    /// an object whose creation it refused (see [`into_value`](Error::into_value)).
    pub(crate) fn holding(mut self, value: Box<dyn Any + Send + Sync>) -> Error {
        if let Error::Invariant { value: slot, .. } = &mut self {
            *slot = Some(value);
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Removed { object, type_name } => {
                write!(f, "{object} ({}) was removed", short(type_name))
            }
            Error::ForeignHandle { object, heap } => {
                write!(f, "handle to {object} used with heap{heap}")
            }
            // The invariant's own error is the source: not repeated here.
            Error::Invariant { invariant, .. } => write!(f, "invariant {invariant} failed"),
            Error::Cycle { chain } => {
                let n = chain.len();
                write!(f, "cycle of {n} cache{}: ", if n == 1 { "" } else { "s" })?;
                // The first and the last few: where the cycle was entered and closed.
                let half = Self::CYCLE_SHOWN / 2;
                let (head, tail) = if n > Self::CYCLE_SHOWN {
                    (half, n - half)
                } else {
                    (n, n)
                };
                for i in (0..head).chain(tail..n) {
                    if i > 0 {
                        f.write_str(" -> ")?;
                    }
                    if i == tail && tail > head {
                        write!(f, "({} more) -> ", tail - head)?;
                    }
                    write!(f, "{}", chain[i])?;
                }
                if let Some(first) = chain.first() {
                    write!(f, " -> {first}")?;
                }
                Ok(())
            }
            Error::Schema { type_name, detail } => {
                write!(f, "bad schema for {}: {detail}", short(type_name))
            }
            Error::Immutable { object, type_name } => {
                write!(
                    f,
                    "{object} ({}) is immutable: it was frozen",
                    short(type_name)
                )
            }
            Error::Aliased {
                object,
                holder,
                holder_type,
            } => write!(
                f,
                "cannot freeze: {object} is also held by {} {holder} outside the capsule",
                short(holder_type)
            ),
            Error::Referenced {
                object,
                type_name,
                holders,
            } => write!(
                f,
                "cannot remove {} {object}: {holders} handle(s) in immutable objects name it",
                short(type_name)
            ),
            Error::NotOwned { owner, object } => {
                write!(
                    f,
                    "{object} is not owned by {owner}: it holds no handle to it"
                )
            }
            Error::Panicked { cache, message } => {
                write!(f, "eager cache {cache} panicked: {message}")
            }
            Error::OverlayClosed { overlay } => {
                write!(f, "{overlay} was committed or discarded")
            }
            Error::ForeignOverlay { overlay, heap } => {
                write!(f, "{overlay} used with heap{heap}")
            }
            Error::NotForkable { object, type_name } => write!(
                f,
                "{object} ({}) cannot be copied into an overlay: its type does not fork",
                short(type_name)
            ),
            Error::Conflict { overlay, object } => write!(
                f,
                "{overlay} cannot be committed: the base wrote {object} since the overlay did"
            ),
            Error::OverlayOnly { object } => {
                write!(f, "{object} was made in an overlay and is seen only there")
            }
            Error::OverlayInTransaction { overlay } => {
                write!(f, "{overlay} used inside a transaction of its heap")
            }
            Error::OverlayBroken { overlay, invariant } => write!(
                f,
                "{overlay} is broken: invariant {invariant} fails there since a base write"
            ),
            Error::Nondeterministic {
                depth,
                expected,
                found,
                ..
            } => write!(
                f,
                "nondeterministic memoized function: after {depth} calls a recorded run did \
                 `{expected}`, this one `{found}`"
            ),
            Error::TooLarge { objects, limit } => write!(
                f,
                "the drawing would hold {objects} objects, more than its limit of {limit}"
            ),
            Error::Write { .. } => f.write_str("writing the drawing failed"),
            Error::Unmatched { call, mismatches } => {
                write!(f, "no clause of the double answers `{call}`")?;
                if mismatches.is_empty() {
                    return f.write_str(": it has none for this method");
                }
                for m in mismatches {
                    write!(f, "; {m}")?;
                }
                Ok(())
            }
            Error::OutOfOrder { call, expected } => {
                write!(
                    f,
                    "`{call}` was called out of order: expected {expected} first"
                )
            }
            Error::Unmet {
                clause,
                calls,
                expected,
            } => write!(
                f,
                "{clause} answered {calls} call{}, expected {expected}",
                if *calls == 1 { "" } else { "s" }
            ),
            Error::Unrecorded { call, known } => {
                write!(f, "`{call}` was never recorded")?;
                match known.as_slice() {
                    [] => f.write_str(", nor any call of its method"),
                    known => write!(f, "; recorded: {}", known.join(", ")),
                }
            }
            Error::Conflicting { call, answers } => write!(
                f,
                "the record answers `{call}` in {} ways: {}",
                answers.len(),
                answers.join(", ")
            ),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Invariant { source, .. } => Some(&**source),
            Error::Write { source } => Some(source),
            _ => None,
        }
    }
}

/// `std::any::type_name` without its module path, for messages.
pub(crate) fn short(type_name: &'static str) -> &'static str {
    let base = type_name.split('<').next().unwrap_or(type_name);
    match base.rfind("::") {
        Some(i) => &type_name[i + 2..],
        None => type_name,
    }
}
