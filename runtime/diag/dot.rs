//! The dependency graph as a picture: Graphviz DOT, read from the graph as it stands (no
//! feature needed), in the order of object ids, so that equal heaps draw equal bytes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use crate::decl::field::FieldMask;
use crate::decl::object::Kind;
use crate::error::{short, Error};
use crate::heap::parts::{Core, Slot};
use crate::key::{CellId, ObjectId, ObjectKey};
use crate::track::graph::{Dep, State};

/// What [`Heap::write_dot`](crate::Heap::write_dot) draws: the whole heap, or the
/// neighbourhood of one object ([`around`](Dot::around)), refused if it holds more objects
/// than the [`limit`](Dot::limit) (1,000 unless set: Graphviz lays out a few hundred
/// legibly, and a drawing of a large heap by mistake should say so, not take minutes).
///
/// ```
/// use steadfast::{cached, capsule, Dot, Heap};
///
/// #[capsule]
/// struct Point { x: f64, y: f64 }
///
/// #[cached]
/// impl Point {
///     #[cache(lazy_read)]
///     fn dist(x: &f64, y: &f64) -> f64 { (x * x + y * y).sqrt() }
/// }
///
/// let mut heap = Heap::new();
/// let p = heap.capsule(Point { x: 3.0, y: 4.0 })?;
/// Point::dist(&heap, &p)?;
/// let mut dot = String::new();
/// heap.write_dot(&mut dot, &Dot::around(&p, 1))?;
/// assert!(dot.starts_with("digraph steadfast {"));
/// assert!(dot.contains(r#"label="dist\nlazy_read · valid""#));
/// # Ok::<(), steadfast::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dot {
    around: Option<(ObjectId, usize)>,
    limit: usize,
}

impl Dot {
    /// The limit unless [`limit`](Dot::limit) sets another.
    pub const DEFAULT_LIMIT: usize = 1_000;

    /// The whole heap.
    pub fn all() -> Self {
        Dot {
            around: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }

    /// The object `handle` names and every object within `depth` dependency edges of it,
    /// in either direction (an edge joins two objects when a cache of one read a field or
    /// a cache of the other). Depth 0 draws the object alone.
    pub fn around<T>(handle: &impl crate::Handle<T>, depth: usize) -> Self {
        Dot {
            around: Some((handle.id(), depth)),
            limit: Self::DEFAULT_LIMIT,
        }
    }

    /// Refuses to draw more than `objects` objects (with
    /// [`Error::TooLarge`](crate::Error::TooLarge)) rather than truncate the drawing.
    #[must_use]
    pub fn limit(mut self, objects: usize) -> Self {
        self.limit = objects;
        self
    }
}

impl Default for Dot {
    fn default() -> Self {
        Self::all()
    }
}

/// What a cell looks like in the drawing.
#[derive(Clone, Copy)]
enum Look {
    Valid,
    Check,
    Invalid,
}

impl Look {
    fn name(self) -> &'static str {
        match self {
            Look::Valid => "valid",
            Look::Check => "to check",
            Look::Invalid => "invalid",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Look::Valid => "#c9eec9",
            Look::Check => "#fbeaa0",
            Look::Invalid => "#f6c3b5",
        }
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Lazy => "lazy",
        Kind::LazyRead => "lazy_read",
        Kind::Now => "now",
        Kind::Eager => "eager",
    }
}

/// A DOT identifier for an object (`o<index>`); one live object per index, so the
/// generation is left out.
struct Obj(ObjectKey);

impl fmt::Display for Obj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "o{}", index(self.0))
    }
}

fn index(key: ObjectKey) -> u64 {
    slotmap::Key::data(&key).as_ffi() & 0xffff_ffff
}

/// Writes `s` as the inside of a DOT quoted string.
fn quoted(out: &mut dyn fmt::Write, s: &str) -> fmt::Result {
    for c in s.chars() {
        match c {
            '"' | '\\' => write!(out, "\\{c}")?,
            '\n' => out.write_str("\\n")?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

impl Core {
    /// [`Heap::write_dot`](crate::Heap::write_dot).
    pub(crate) fn write_dot(&self, out: &mut dyn fmt::Write, dot: &Dot) -> Result<(), Error> {
        let keys = self.drawn(dot)?;
        if keys.len() > dot.limit {
            return Err(Error::TooLarge {
                objects: keys.len(),
                limit: dot.limit,
            });
        }
        self.draw(out, &keys)
            .map_err(|source| Error::Write { source })
    }

    /// The objects a drawing holds, in index order.
    fn drawn(&self, dot: &Dot) -> Result<BTreeMap<u64, ObjectKey>, Error> {
        let live = |s: &&Slot| !s.gone;
        let Some((id, depth)) = dot.around else {
            return Ok(self
                .slots
                .iter()
                .filter(|(_, s)| live(s))
                .map(|(k, _)| (index(k), k))
                .collect());
        };
        let (_, start) = self.slot(id)?;
        let mut seen = BTreeMap::from([(index(start), start)]);
        let mut queue = VecDeque::from([(start, 0)]);
        while let Some((key, d)) = queue.pop_front() {
            if d == depth || seen.len() > dot.limit {
                continue;
            }
            for next in self.neighbours(key) {
                if self.slots.get(next).is_some_and(|s| live(&s))
                    && seen.insert(index(next), next).is_none()
                {
                    queue.push_back((next, d + 1));
                }
            }
        }
        Ok(seen)
    }

    /// The objects one dependency edge away from `key`, either way.
    fn neighbours(&self, key: ObjectKey) -> BTreeSet<ObjectKey> {
        let graph = self.slots[key].graph.lock();
        let mut out = BTreeSet::new();
        out.extend(graph.readers.keys().map(|c| c.key));
        for node in &graph.nodes {
            out.extend(node.dependents.iter().map(|c| c.key));
            out.extend(node.deps.iter().map(|d| match *d {
                Dep::Cell(c) => c.key,
                Dep::Fields(k) => k,
            }));
        }
        out.remove(&key);
        out
    }

    fn draw(&self, out: &mut dyn fmt::Write, keys: &BTreeMap<u64, ObjectKey>) -> fmt::Result {
        out.write_str("digraph steadfast {\n")?;
        out.write_str("  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=11];\n")?;
        out.write_str("  node [fontname=\"Helvetica\", fontsize=10];\n")?;
        out.write_str("  edge [color=\"#555555\", arrowsize=0.6];\n")?;
        let drawn = |k: ObjectKey| keys.contains_key(&index(k));
        let mut edges = Vec::new();
        for &key in keys.values() {
            let slot = &self.slots[key];
            let ops = slot.ops;
            let obj = slot.obj.get(&self.owner);
            let graph = slot.graph.lock();
            let fields = ops.field_names();
            let o = Obj(key);
            writeln!(out, "  subgraph \"cluster_{o}\" {{")?;
            out.write_str("    label=\"")?;
            quoted(
                out,
                &format!(
                    "{} {} ({})",
                    self.id_of(key).local(),
                    short(ops.type_name()),
                    slot.tag
                ),
            )?;
            out.write_str("\";\n    style=rounded; color=\"#888888\";\n")?;
            for (f, name) in fields.iter().enumerate() {
                write!(
                    out,
                    "    \"{o}f{f}\" [shape=box, style=filled, fillcolor=\"#eeeeee\", label=\""
                )?;
                quoted(out, name)?;
                out.write_str("\"];\n")?;
            }
            for c in 0..ops.cache_count() {
                let node = graph.nodes.get(c);
                let ready = ops.cell(obj, c).is_ready();
                let look = match node.map(|n| n.state) {
                    Some(State::Check) => Look::Check,
                    Some(State::Dirty) => Look::Invalid,
                    _ if ready => Look::Valid,
                    _ => Look::Invalid,
                };
                let invariant = ops.is_invariant(c);
                let shape = if invariant { "octagon" } else { "ellipse" };
                write!(
                    out,
                    "    \"{o}c{c}\" [shape={shape}, style=filled, fillcolor=\"{}\", label=\"",
                    look.colour()
                )?;
                let what = if invariant { " · invariant" } else { "" };
                let watched = if node.is_some_and(|n| n.watched) {
                    " · watched"
                } else {
                    ""
                };
                let label = format!(
                    "{}\n{}{what}{watched} · {}",
                    ops.cache_name(c),
                    kind_name(ops.cache_kind(c)),
                    look.name()
                );
                quoted(out, &label)?;
                out.write_str("\"];\n")?;
                // Its own fields: as last read if tracked, else as declared.
                let reads = node.map_or_else(
                    || ops.cache_fields(c).unwrap_or(FieldMask::EMPTY),
                    |n| n.reads,
                );
                for f in (0..fields.len()).filter(|&f| reads.0 >> f & 1 == 1) {
                    edges.push((format!("{o}f{f}"), format!("{o}c{c}")));
                }
                if let Some(node) = node {
                    let mut dependents: Vec<CellId> = node
                        .dependents
                        .iter()
                        .copied()
                        .filter(|d| drawn(d.key))
                        .collect();
                    dependents.sort_by_key(|d| (index(d.key), d.index));
                    for d in dependents {
                        edges.push((format!("{o}c{c}"), format!("{}c{}", Obj(d.key), d.index)));
                    }
                }
            }
            out.write_str("  }\n")?;
            // Other objects' reads of this one's fields.
            let mut readers: Vec<(CellId, FieldMask)> = graph
                .readers
                .iter()
                .map(|(&c, &m)| (c, m))
                .filter(|(c, _)| drawn(c.key))
                .collect();
            readers.sort_by_key(|(c, _)| (index(c.key), c.index));
            for (reader, mask) in readers {
                let to = format!("{}c{}", Obj(reader.key), reader.index);
                for f in (0..fields.len()).filter(|&f| mask.0 >> f & 1 == 1) {
                    edges.push((format!("{o}f{f}"), to.clone()));
                }
            }
        }
        for (from, to) in edges {
            writeln!(out, "  \"{from}\" -> \"{to}\";")?;
        }
        out.write_str("}\n")
    }
}
