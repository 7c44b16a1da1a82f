//! Why a cache is in the state it is in: what it read, what reads it (the graph as it
//! stands, always there), and, with the `explain` feature, the chain of causes of its
//! last invalidation, from the cache back to the write.

use std::fmt;

use crate::decl::field::{FieldMask, Ones};
use crate::decl::object::Kind;
use crate::error::{CacheName, Error};
use crate::heap::parts::{Core, Slot};
use crate::key::{CellId, ObjectId, ObjectKey};
use crate::track::graph::{Dep, State};

/// What [`Heap::explain`](crate::Heap::explain) says about one cache: its state, what its
/// last computation read, what reads it, and why it is not valid. `Display` prints one
/// line for each.
///
/// ```
/// use steadfast::{cached, capsule, CellState, Heap};
///
/// #[capsule]
/// struct Point { x: f64, label: String }
///
/// #[cached]
/// impl Point {
///     #[cache(lazy_read)]
///     fn doubled(x: &f64) -> f64 { 2.0 * x }
/// }
///
/// let mut heap = Heap::new();
/// let p = heap.capsule(Point { x: 1.0, label: "p".into() })?;
/// Point::doubled(&heap, &p)?;
/// Point::set_label(&mut heap, &p, "q".into())?;
/// let why = heap.explain(&p, &Point::DOUBLED)?;
/// assert_eq!(why.state, CellState::Valid);
/// Point::set_x(&mut heap, &p, 2.0)?;
/// Point::set_x(&mut heap, &p, 3.0)?;
/// let why = heap.explain(&p, &Point::DOUBLED)?;
/// assert_eq!(why.state, CellState::Invalid);
/// // With the `explain` feature, the cause: the last write of `x`.
/// # #[cfg(feature = "explain")]
/// assert!(why.to_string().contains("wrote Point::x of"), "{why}");
/// # Ok::<(), steadfast::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Explain {
    /// The cache.
    pub cache: CacheName,
    /// When it is computed.
    pub kind: Kind,
    /// Whether it is an invariant.
    pub invariant: bool,
    /// Whether it is watched ([`Heap::watch`](crate::Heap::watch)).
    pub watched: bool,
    /// Whether its value is valid.
    pub state: CellState,
    /// What its last computation read, in the order it did (its own fields first); for a
    /// cache of its own fields that nothing tracks yet, the fields it is declared to read.
    pub reads: Vec<Input>,
    /// The caches whose last computation read it.
    pub read_by: Vec<CacheName>,
    /// Why it is not valid, with the `explain` feature: the chain of its last
    /// invalidation, from this cache back to the write that started it, one hop per cache
    /// it went through. Empty for a valid cache, for one never computed, and without the
    /// feature. An operation that was rolled back is never a cause.
    pub causes: Vec<Hop>,
    /// Hops left out of [`causes`](Explain::causes) between its first ones and its last
    /// (the write): a chain longer than [`Explain::MAX_HOPS`].
    pub omitted: usize,
}

impl Explain {
    /// How many hops [`causes`](Explain::causes) holds at most.
    pub const MAX_HOPS: usize = 64;
}

/// Whether a cache's value is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CellState {
    /// Valid: a read is a hit.
    Valid,
    /// A cache it read may have changed: the next read checks, and recomputes only if one
    /// did (early cutoff).
    ToCheck,
    /// Invalid (or never computed): the next read computes it.
    Invalid,
}

impl fmt::Display for CellState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CellState::Valid => "valid",
            CellState::ToCheck => "to check",
            CellState::Invalid => "invalid",
        })
    }
}

/// Something a computation read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// A field of an object.
    Field {
        /// The object.
        object: ObjectId,
        /// Its type.
        type_name: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A cached value.
    Cached(CacheName),
    /// An object's existence only (a read of a cache of an equal immutable object: only
    /// its removal changes the result).
    Existence {
        /// The object.
        object: ObjectId,
        /// Its type.
        type_name: &'static str,
    },
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Field {
                object,
                type_name,
                field,
            } => write!(f, "{}::{field} of {object}", crate::error::short(type_name)),
            Input::Cached(name) => write!(f, "{name}"),
            Input::Existence { object, type_name } => {
                write!(f, "{object} ({})", crate::error::short(type_name))
            }
        }
    }
}

/// One step of a cache's invalidation: the operation, and what it changed that the cache
/// (or the cache of the step before) read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hop {
    /// The operation's number: operations on a heap are numbered from 1 in the order they
    /// start (with the `explain` feature).
    pub op: u64,
    /// What kind of operation it was: `set`, `write` (a mutator or [`Heap::write`](crate::Heap::write)),
    /// `box`, `transaction` or `remove`.
    pub operation: &'static str,
    /// What it changed.
    pub cause: Cause,
}

/// What an operation changed that a cache read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// It wrote these fields.
    Wrote(Vec<Input>),
    /// It invalidated this cache, which the one before read.
    Invalidated(CacheName),
    /// It removed this object.
    Removed {
        /// The object.
        object: ObjectId,
        /// Its type.
        type_name: &'static str,
    },
}

impl fmt::Display for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op {} ({}) ", self.op, self.operation)?;
        match &self.cause {
            Cause::Wrote(fields) => {
                f.write_str("wrote ")?;
                list(f, fields)
            }
            Cause::Invalidated(cache) => write!(f, "invalidated {cache}"),
            Cause::Removed { object, type_name } => {
                write!(f, "removed {object} ({})", crate::error::short(type_name))
            }
        }
    }
}

fn list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl fmt::Display for Explain {
    /// The cache and its state, then a line each for what it reads, what reads it and each
    /// hop of its invalidation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Lazy => "lazy",
            Kind::LazyRead => "lazy_read",
            Kind::Now => "now",
            Kind::Eager => "eager",
        };
        let invariant = if self.invariant { ", invariant" } else { "" };
        let watched = if self.watched { ", watched" } else { "" };
        write!(
            f,
            "{}: {} ({kind}{invariant}{watched})",
            self.cache, self.state
        )?;
        if !self.reads.is_empty() {
            f.write_str("\n  reads ")?;
            list(f, &self.reads)?;
        }
        if !self.read_by.is_empty() {
            f.write_str("\n  read by ")?;
            list(f, &self.read_by)?;
        }
        let last = self.causes.len().saturating_sub(1);
        for (i, hop) in self.causes.iter().enumerate() {
            if i == last && self.omitted > 0 {
                write!(f, "\n  ({} more)", self.omitted)?;
            }
            write!(f, "\n  because {hop}")?;
        }
        Ok(())
    }
}

impl Core {
    /// [`Heap::explain`](crate::Heap::explain), for the cell `index` of the object `id`.
    pub(crate) fn explain(&self, id: ObjectId, index: usize) -> Result<Explain, Error> {
        let (slot, key) = self.slot(id)?;
        // An immutable object's caches are its class's.
        let (slot, key) = self.shared_by(slot, key);
        let cell = CellId {
            key,
            index: index as u32,
        };
        let ops = slot.ops;
        let ready = ops.cell(slot.obj.get(&self.owner), index).is_ready();
        let graph = slot.graph.lock();
        let node = graph.nodes.get(index);
        let watched = node.is_some_and(|n| n.watched);
        let state = match node.map(|n| n.state) {
            Some(State::Check) => CellState::ToCheck,
            Some(State::Dirty) => CellState::Invalid,
            _ if ready => CellState::Valid,
            _ => CellState::Invalid,
        };
        let mut reads = Vec::new();
        let own = node.map_or_else(|| ops.cache_fields(index), |n| Some(n.reads));
        self.fields_of(key, slot, own.unwrap_or(FieldMask::EMPTY), &mut reads);
        let mut read_by = Vec::new();
        if let Some(node) = node {
            read_by.extend(node.dependents.iter().map(|&c| self.name_of(c)));
            let deps = node.deps.clone();
            drop(graph);
            for dep in deps {
                match dep {
                    Dep::Cell(c) => reads.push(Input::Cached(self.name_of(c))),
                    Dep::Fields(k) => self.read_of(k, cell, &mut reads),
                }
            }
        } else {
            drop(graph);
        }
        let mut explain = Explain {
            cache: CacheName {
                object: id,
                type_name: ops.type_name(),
                cache: ops.cache_name(index),
            },
            kind: ops.cache_kind(index),
            invariant: ops.is_invariant(index),
            watched,
            state,
            reads,
            read_by,
            causes: Vec::new(),
            omitted: 0,
        };
        if state != CellState::Valid {
            self.causes(cell, &mut explain);
        }
        Ok(explain)
    }

    /// The fields in `mask` of the object at `key`, as inputs.
    fn fields_of(&self, key: ObjectKey, slot: &Slot, mask: FieldMask, out: &mut Vec<Input>) {
        let names = slot.ops.field_names();
        let object = self.id_of(key);
        out.extend(
            Ones(mask.0)
                .take_while(|&f| f < names.len())
                .map(|f| Input::Field {
                    object,
                    type_name: slot.ops.type_name(),
                    field: names[f],
                }),
        );
    }

    /// What `reader` read of the object at `key`'s fields.
    fn read_of(&self, key: ObjectKey, reader: CellId, out: &mut Vec<Input>) {
        let Some(slot) = self.slots.get(key) else {
            return;
        };
        let mask = slot
            .graph
            .lock()
            .readers
            .iter()
            .find(|(c, _)| **c == reader)
            .map(|(_, m)| *m);
        match mask {
            Some(m) if m.is_empty() => out.push(Input::Existence {
                object: self.id_of(key),
                type_name: slot.ops.type_name(),
            }),
            Some(m) => self.fields_of(key, slot, m, out),
            None => {}
        }
    }

    /// The chain of causes of the invalidation of `cell` (nothing without the `explain`
    /// feature).
    #[cfg_attr(not(feature = "explain"), allow(unused_variables))]
    fn causes(&self, cell: CellId, explain: &mut Explain) {
        #[cfg(feature = "explain")]
        {
            use crate::diag::cause::Via;
            let mut id = cell;
            let mut op = None;
            let mut hops = 0usize;
            let mut last = None;
            while let Some(slot) = self.slots.get(id.key) {
                let graph = slot.graph.lock();
                let node = graph.nodes.get(id.index as usize);
                let recorded = node.and_then(|n| n.marked.cause);
                let hop = match recorded {
                    // The first hop: the cell's own mark, if it is marked; later hops: the
                    // mark the same operation made on the cell the one before read.
                    Some(c)
                        if op.map_or(node.is_some_and(|n| n.state != State::Clean), |o| {
                            o == c.op.seq
                        }) =>
                    {
                        let cause = match c.via {
                            Via::Fields(k, m) => Cause::Wrote(self.inputs(k, m)),
                            Via::Cell(next) => Cause::Invalidated(self.name_of(next)),
                            Via::Removed(k) => Cause::Removed {
                                object: self.id_of(k),
                                type_name: self.slots.get(k).map_or("?", |s| s.ops.type_name()),
                            },
                        };
                        let hop = Hop {
                            op: c.op.seq,
                            operation: c.op.kind.name(),
                            cause,
                        };
                        op = Some(c.op.seq);
                        match c.via {
                            Via::Cell(next) => id = next,
                            _ => {
                                last = Some(hop);
                                break;
                            }
                        }
                        hop
                    }
                    // Settled on its object's own path, which marks no node: the last
                    // committed write of a field it reads.
                    _ if op.is_none() => {
                        let reads = node
                            .map(|n| n.reads)
                            .or_else(|| slot.ops.cache_fields(id.index as usize))
                            .unwrap_or(FieldMask::EMPTY);
                        let latest = Ones(reads.0)
                            .filter_map(|f| graph.writes.by_field.get(f).copied().flatten())
                            .max_by_key(|o| o.seq);
                        if let Some(o) = latest {
                            let written = Ones(reads.0)
                                .filter(|&f| {
                                    graph.writes.by_field.get(f).copied().flatten() == Some(o)
                                })
                                .fold(FieldMask::EMPTY, |m, f| m.union(FieldMask(1 << f)));
                            drop(graph);
                            last = Some(Hop {
                                op: o.seq,
                                operation: o.kind.name(),
                                cause: Cause::Wrote(self.inputs(id.key, written)),
                            });
                        }
                        break;
                    }
                    _ => break,
                };
                drop(graph);
                if hops < Explain::MAX_HOPS - 1 {
                    explain.causes.push(hop);
                } else {
                    explain.omitted += 1;
                }
                hops += 1;
            }
            if let Some(hop) = last {
                explain.causes.push(hop);
            }
        }
    }

    /// The fields in `mask` of the object at `key`, as inputs (none if it is gone).
    #[cfg(feature = "explain")]
    fn inputs(&self, key: ObjectKey, mask: FieldMask) -> Vec<Input> {
        let mut out = Vec::new();
        if let Some(slot) = self.slots.get(key) {
            self.fields_of(key, slot, mask, &mut out);
        }
        out
    }
}
