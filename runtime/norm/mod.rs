//! Normalization of immutable graphs: which nodes are structurally equal, and a canonical
//! form of the graph reachable from a node, usable as a map key.
//!
//! Two nodes are *structurally equal* when they have equal labels, the same number of
//! children, and pairwise structurally equal children — the greatest such relation, so that
//! cycles are compared by what they unfold to, not by where they were entered or how often
//! they are drawn: a cycle `a → b → a` equals `a → b → a' → b' → a` when the labels match.
//! (This is bisimilarity for graphs whose edges are ordered.) A *set node*
//! ([`Graph::add_set_node`]) has its members compared as a multiset instead: their order does
//! not count, how many members of each class it has does (so a set of two distinct but equal
//! members is not a set of one: its `len` differs). [`freeze`] builds such a graph from any
//! Rust value.
//!
//! The classes are computed by partition refinement in O(m log n) for n nodes and m edges
//! (Valmari and Lehtinen's form of Hopcroft's algorithm, which allows nodes of different
//! arities): start from the nodes grouped by label and arity, and split groups until every
//! node of a group has, at each position, a child in the same group. The canonical form of a
//! node numbers the classes reachable from it in breadth-first order, children in order,
//! so equal nodes get equal forms whatever the graph around them, and unequal nodes
//! different ones.
//!
//! ```
//! use steadfast::norm::Graph;
//!
//! // A two-node cycle, and the same cycle drawn unrolled once.
//! let mut g = Graph::new();
//! let a = g.add_node("a", [1]);
//! let _b = g.add_node("b", [0]);
//! let a1 = g.add_node("a", [3]);
//! let _b1 = g.add_node("b", [4]);
//! let _a2 = g.add_node("a", [5]);
//! let _b2 = g.add_node("b", [2]);
//! let normal = g.normalize()?;
//! assert!(normal.equivalent(a, a1));
//! assert_eq!(normal.canonical(a), normal.canonical(a1));
//! assert_eq!(normal.classes(), 2);
//! # Ok::<(), steadfast::norm::Error>(())
//! ```

mod freeze;
mod freezer;
mod order;
mod seen;
mod settle;

pub use freeze::{freeze, Folded, Freeze, Label};
pub use freezer::Freezer;
/// Derives [`Freeze`](trait@Freeze): a struct freezes to a node of its fields in order,
/// labelled by its path; an enum to a node of its variant's fields, labelled by the
/// variant's path. Every field must be `Freeze` (a type parameter gets the bound); a field
/// that cannot be — a function pointer, a raw pointer, a closure — is a compile error at
/// that field.
///
/// ```
/// use std::rc::Rc;
/// use steadfast::norm::{freeze, Freeze};
///
/// #[derive(Freeze)]
/// enum Tree {
///     Leaf(i32),
///     Node(Rc<Tree>, Rc<Tree>),
/// }
///
/// let leaf = Rc::new(Tree::Leaf(1));
/// let shared = Tree::Node(leaf.clone(), leaf);
/// let copied = Tree::Node(Rc::new(Tree::Leaf(1)), Rc::new(Tree::Leaf(1)));
/// assert_eq!(freeze(&shared)?, freeze(&copied)?);
/// # Ok::<(), steadfast::norm::Error>(())
/// ```
pub use steadfast_derive::Freeze;

use std::fmt;
use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};

use order::Reached;

/// What [`Graph::normalize`] can report: this module's own error type (normalizing a
/// plain graph touches no heap).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A node names a child that is not one of the graph's nodes.
    DanglingEdge {
        /// The node whose child is missing.
        from: usize,
        /// The missing child.
        to: usize,
        /// The number of nodes in the graph.
        nodes: usize,
    },
    /// A [`Freeze`] impl returned a node that the [`Freezer`] did not make.
    UnknownNode {
        /// The node returned.
        node: usize,
        /// The number of nodes made so far.
        nodes: usize,
    },
    /// A `RefCell` was borrowed mutably while a value that holds it was frozen.
    Borrowed {
        /// The type of the borrowed value.
        type_name: &'static str,
    },
    /// A `Mutex` or `RwLock` was held while a value that holds it was frozen.
    Locked {
        /// The type of the locked value.
        type_name: &'static str,
    },
    /// A `Mutex` or `RwLock` a value holds was poisoned by a panic.
    Poisoned {
        /// The type of the poisoned value.
        type_name: &'static str,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::DanglingEdge { from, to, nodes } => write!(
                f,
                "node {from} has a child {to}, but the graph's nodes are numbered below {nodes}"
            ),
            Error::UnknownNode { node, nodes } => write!(
                f,
                "a Freeze impl returned node {node}, but the freezer has made {nodes} nodes"
            ),
            Error::Borrowed { type_name } => {
                write!(
                    f,
                    "a RefCell<{type_name}> was borrowed mutably while it was frozen"
                )
            }
            Error::Locked { type_name } => {
                write!(f, "a lock of {type_name} was held while it was frozen")
            }
            Error::Poisoned { type_name } => write!(f, "a lock of {type_name} was poisoned"),
        }
    }
}

impl std::error::Error for Error {}

/// A graph to normalize: nodes with a label and an ordered list of children.
///
/// A child may be named before it is added; [`normalize`](Graph::normalize) checks that
/// every child exists.
#[derive(Clone, Debug, Default)]
pub struct Graph<L> {
    labels: Vec<L>,
    /// Children of node `i`: `children[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<u32>,
    children: Vec<u32>,
    /// Which nodes are sets (their children unordered, compared as multisets): empty until the
    /// first set node is added.
    sets: Vec<bool>,
    /// How labels compare, for the canonical order of a set's members: given by the first
    /// set node added.
    order: Option<fn(&L, &L) -> std::cmp::Ordering>,
}

impl<L> Graph<L> {
    /// An empty graph.
    pub fn new() -> Self {
        Graph {
            labels: Vec::new(),
            offsets: vec![0],
            children: Vec::new(),
            sets: Vec::new(),
            order: None,
        }
    }

    /// Whether a node is a set (see [`add_set_node`](Graph::add_set_node)).
    pub fn is_set(&self, node: usize) -> bool {
        self.sets.get(node).copied().unwrap_or(false)
    }

    /// Adds a node and returns its index (nodes are numbered from 0 in the order added).
    ///
    /// # Panics
    /// If the graph would have more than `u32::MAX` nodes or edges.
    pub fn add_node(&mut self, label: L, children: impl IntoIterator<Item = usize>) -> usize {
        self.labels.push(label);
        self.children.extend(children.into_iter().map(index));
        self.offsets.push(index(self.children.len()));
        if !self.sets.is_empty() {
            self.sets.push(false);
        }
        self.labels.len() - 1
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The label of a node.
    ///
    /// # Panics
    /// If `node` is not a node of the graph.
    pub fn label(&self, node: usize) -> &L {
        &self.labels[node]
    }

    /// The children of a node, in order.
    ///
    /// # Panics
    /// If `node` is not a node of the graph.
    pub fn children(&self, node: usize) -> impl ExactSizeIterator<Item = usize> + '_ {
        let (start, end) = (self.offsets[node], self.offsets[node + 1]);
        self.children[start as usize..end as usize]
            .iter()
            .map(|&c| c as usize)
    }
}

impl<L: Ord> Graph<L> {
    /// Adds a set node: its members are unordered and compared as a multiset — two set
    /// nodes with equal labels are equal when their members can be paired so that each pair
    /// is equal (order does not count; how many members of each class, does). Returns its
    /// index.
    ///
    /// # Panics
    /// As [`add_node`](Graph::add_node).
    pub fn add_set_node(&mut self, label: L, members: impl IntoIterator<Item = usize>) -> usize {
        let node = self.add_node(label, members);
        // The first set node: every node before it is ordered.
        self.sets.resize(self.labels.len(), false);
        self.sets[node] = true;
        self.order.get_or_insert(L::cmp);
        node
    }
}

/// Node and edge numbers are stored as `u32` (the graph stays half the size); more than
/// four billion nodes or edges is beyond what this is meant for.
#[inline]
fn index(i: usize) -> u32 {
    u32::try_from(i).expect("steadfast::norm: at most u32::MAX nodes and edges")
}

/// Items grouped by a key in `0..keys` (a counting sort): key `k`'s are
/// `items[first[k]..first[k + 1]]`, in the order given. How edges are reversed and blocks
/// laid out here.
struct Grouped<T> {
    first: Vec<u32>,
    items: Vec<T>,
}

impl<T: Copy + Default> Grouped<T> {
    /// Groups `pairs` (key, item); the iterator is read twice.
    fn new(keys: usize, pairs: impl Iterator<Item = (u32, T)> + Clone) -> Self {
        let mut first = vec![0u32; keys + 1];
        for (key, _) in pairs.clone() {
            first[key as usize + 1] += 1;
        }
        for k in 0..keys {
            first[k + 1] += first[k];
        }
        let mut fill = first.clone();
        let mut items = vec![T::default(); first[keys] as usize];
        for (key, item) in pairs {
            items[fill[key as usize] as usize] = item;
            fill[key as usize] += 1;
        }
        Grouped { first, items }
    }

    fn get(&self, key: usize) -> &[T] {
        &self.items[self.first[key] as usize..self.first[key + 1] as usize]
    }
}

impl<L: Hash + Eq> Graph<L> {
    /// Computes the classes of structurally equal nodes.
    ///
    /// # Errors
    /// [`Error::DanglingEdge`] if a node names a child that was never added.
    pub fn normalize(&self) -> Result<Normal<'_, L>, Error> {
        let n = self.len();
        if let Some(pos) = self.children.iter().position(|&c| c as usize >= n) {
            let from = self.offsets.partition_point(|&o| o as usize <= pos) - 1;
            return Err(Error::DanglingEdge {
                from,
                to: self.children[pos] as usize,
                nodes: n,
            });
        }
        let (class, classes) = match self.sets.is_empty() {
            true => self.refine(),
            false => self.refine_with_sets(),
        };
        let mut representative = vec![u32::MAX; classes];
        for (node, &c) in class.iter().enumerate() {
            if representative[c as usize] == u32::MAX {
                representative[c as usize] = index(node);
            }
        }
        Ok(Normal {
            graph: self,
            class,
            representative,
        })
    }

    /// [`refine`](Graph::refine) for a graph with set nodes: the coarsest counting
    /// bisimulation.
    fn refine_with_sets(&self) -> (Vec<u32>, usize) {
        // Rounds over the nodes whose children changed first: a set whose members change
        // often is reread as often, so past the bound of the smaller-half refinement they
        // give way to it.
        let n = self.len();
        let (class, count) = self.by_label_kind_arity();
        let log = u64::from(usize::BITS - n.leading_zeros()) + 1;
        let budget = 4 * (self.children.len() as u64 + n as u64) * log;
        match self.settle(class, count, budget) {
            Ok(done) => done,
            Err(_) => self.smaller_half(),
        }
    }

    /// The nodes grouped by label, kind and arity (a set's arity counts its members with
    /// their repeats): no two groups hold equal nodes.
    fn by_label_kind_arity(&self) -> (Vec<u32>, usize) {
        let mut groups: FxHashMap<(&L, bool, u32), u32> = FxHashMap::default();
        let class = (0..self.len())
            .map(|x| {
                let arity = self.offsets[x + 1] - self.offsets[x];
                let next = index(groups.len());
                *groups
                    .entry((&self.labels[x], self.is_set(x), arity))
                    .or_insert(next)
            })
            .collect();
        (class, groups.len())
    }

    /// The coarsest counting bisimulation by smaller-half splitting, in O(m log n).
    ///
    /// Every edge is given one kind: an ordered node's edge at position i goes through a
    /// node of its own labelled i (a *step*), so two ordered nodes are equal exactly when
    /// their children are, position by position, and a set node's edges go straight to its
    /// members. Equal nodes then have, into every class, the same number of edges. Blocks
    /// are split by their nodes' counts of edges into a splitter, and when a block splits,
    /// all its parts but a largest become splitters: a count into the largest part is the
    /// count into the whole less the others', so it splits nothing more (Hopcroft's argument,
    /// as in Valmari and Franceschinis's lumping). Each node is in a splitter O(log n) times.
    fn smaller_half(&self) -> (Vec<u32>, usize) {
        const NONE: u32 = u32::MAX;
        let n = self.len();
        // The unlabelled graph: node v's successors are out[first[v]..first[v + 1]];
        // nodes n.. are the ordered edges' steps, each with its position.
        let mut first: Vec<u32> = Vec::with_capacity(n + 1);
        let mut out: Vec<u32> = Vec::with_capacity(self.children.len());
        let mut steps: Vec<(u32, u32)> = Vec::new();
        first.push(0);
        for x in 0..n {
            let kids = &self.children[self.offsets[x] as usize..self.offsets[x + 1] as usize];
            if self.is_set(x) {
                out.extend_from_slice(kids);
            } else {
                for (at, &kid) in kids.iter().enumerate() {
                    out.push(index(n + steps.len()));
                    steps.push((index(at), kid));
                }
            }
            first.push(index(out.len()));
        }
        for &(_, kid) in &steps {
            out.push(kid);
            first.push(index(out.len()));
        }
        let total = first.len() - 1;
        let mut tail = vec![0u32; out.len()];
        for v in 0..total {
            tail[first[v] as usize..first[v + 1] as usize].fill(index(v));
        }
        // The edges into each node, by their tails.
        let preds = Grouped::new(
            total,
            out.iter()
                .enumerate()
                .map(|(edge, &head)| (head, tail[edge])),
        );
        drop((out, tail, first));

        // The initial blocks: the graph's nodes by label, kind and arity, the steps by
        // position. Each is stable against the whole: its nodes have the same number of
        // successors.
        let (mut group, base) = self.by_label_kind_arity();
        let base = index(base);
        let positions = steps.iter().map(|&(at, _)| at + 1).max().unwrap_or(0);
        group.extend(steps.iter().map(|&(at, _)| base + at));
        drop(steps);
        let count = (base + positions) as usize;
        let mut blocks = Partition::new(&group, count);
        blocks.record_births();
        drop(group);

        let mut waiting: Vec<u32> = (0..index(count)).collect();
        let mut is_waiting = vec![true; count];
        // Per node, its edges into the splitter.
        let mut into = vec![0u32; total];
        let mut tails: Vec<u32> = Vec::new();
        let mut splitter: Vec<u32> = Vec::new();
        // The parts made in one pass, each with the block it came from.
        let mut family: Vec<(u32, u32)> = Vec::new();
        let mut origin: Vec<u32> = Vec::new();
        while let Some(b) = waiting.pop() {
            is_waiting[b as usize] = false;
            splitter.clear();
            splitter.extend_from_slice(blocks.set(b as usize));
            for &y in &splitter {
                for &x in preds.get(y as usize) {
                    if into[x as usize] == 0 {
                        tails.push(x);
                    }
                    into[x as usize] += 1;
                }
            }
            // One split per count: those with it leave their blocks.
            tails.sort_unstable_by_key(|&x| into[x as usize]);
            for run in tails.chunk_by(|&x, &y| into[x as usize] == into[y as usize]) {
                for &x in run {
                    blocks.mark(x);
                }
                blocks.split();
            }
            for &x in &tails {
                into[x as usize] = 0;
            }
            tails.clear();
            // Each block that split: if it was waiting, all its parts wait; if not, all but
            // a largest. A part born in this pass may have split again, so parts are taken
            // back to the block they came from.
            family.clear();
            origin.resize(blocks.len(), NONE);
            for (parent, child) in blocks.take_births() {
                let from = match origin[parent as usize] {
                    NONE => parent,
                    from => from,
                };
                origin[child as usize] = from;
                family.push((from, child));
            }
            for &(_, child) in &family {
                origin[child as usize] = NONE;
            }
            family.sort_unstable();
            is_waiting.resize(blocks.len(), false);
            for parts in family.chunk_by(|x, y| x.0 == y.0) {
                let from = parts[0].0;
                let all = parts.iter().map(|&(_, c)| c).chain([from]);
                let largest = match is_waiting[from as usize] {
                    true => NONE,
                    false => all
                        .clone()
                        .max_by_key(|&s| blocks.set(s as usize).len())
                        .expect("a block and its parts"),
                };
                for s in all.filter(|&s| s != largest) {
                    if !std::mem::replace(&mut is_waiting[s as usize], true) {
                        waiting.push(s);
                    }
                }
            }
        }

        // The graph's nodes' blocks, numbered from 0 (the steps' blocks dropped).
        let mut number = vec![NONE; blocks.len()];
        let sets = blocks.into_sets();
        let mut classes = 0u32;
        let class = sets[..n]
            .iter()
            .map(|&s| {
                if number[s as usize] == NONE {
                    number[s as usize] = classes;
                    classes += 1;
                }
                number[s as usize]
            })
            .collect();
        (class, classes as usize)
    }

    /// The coarsest partition of the nodes that separates labels and arities and is stable:
    /// nodes of one block have, at each position, children in one block.
    /// Returns each node's block and the number of blocks.
    ///
    /// Two kinds of refinement, one after the other. First, whole rounds (Moore's): each
    /// splits every block by its nodes' children's blocks, reading the graph in order, which
    /// is fast on large graphs; a round that splits nothing proves the partition stable. Most
    /// graphs are stable after a few rounds, but a long path can need a round per node, so
    /// the rounds stop once one splits little, or after O(log n) of them, and Hopcroft-style
    /// refinement (Valmari and Lehtinen's) finishes in O(m log n). Both only split blocks
    /// whose nodes are not all equal, so either may start from the other's result; the
    /// total stays O(m log n).
    fn refine(&self) -> (Vec<u32>, usize) {
        let n = self.len();
        let mut groups: FxHashMap<(&L, u32), u32> = FxHashMap::default();
        let mut class: Vec<u32> = (0..n)
            .map(|i| {
                let arity = self.offsets[i + 1] - self.offsets[i];
                let next = index(groups.len());
                *groups.entry((&self.labels[i], arity)).or_insert(next)
            })
            .collect();
        let mut count = groups.len();
        drop(groups);
        let budget = 2 * (usize::BITS - n.leading_zeros()) as usize + 2;
        for _ in 0..budget {
            if count == n {
                // Every node alone: nothing left to split.
                return (class, count);
            }
            let Some((next, next_count)) = self.round(&class, count) else {
                break;
            };
            if next_count == count {
                return (next, count);
            }
            // A round that splits little means long chains of dependence (a path, say),
            // which rounds resolve one link at a time: leave them to the exact refinement.
            let slow = next_count - count < count / 8;
            (class, count) = (next, next_count);
            if slow {
                break;
            }
        }
        if count == n {
            return (class, count);
        }
        // Rounds restricted to the nodes whose children changed; Hopcroft's refinement if
        // they read more than its bound.
        let log = u64::from(usize::BITS - n.leading_zeros()) + 1;
        let budget = 4 * (self.children.len() as u64 + n as u64) * log;
        match self.settle(class, count, budget) {
            Ok(done) => done,
            Err((class, count)) => self.hopcroft(&class, count),
        }
    }

    /// One round: splits every block by the blocks of its nodes' children. `None` if two
    /// different signatures met on one hash (left to the exact refinement).
    fn round(&self, class: &[u32], count: usize) -> Option<(Vec<u32>, usize)> {
        // A node alone in its block cannot be split from anything: it keeps a block of its
        // own without a signature (on a graph nearly refined, that is almost every node).
        // Each block's nodes, counted up to 255: only whether there is one counts.
        let mut size = vec![0u8; count];
        for &c in class {
            size[c as usize] = size[c as usize].saturating_add(1);
        }
        let mut signatures: FxHashMap<(u32, u64), u32> = FxHashMap::default();
        signatures.reserve(count);
        let mut representative: Vec<u32> = Vec::with_capacity(count);
        let mut next = Vec::with_capacity(class.len());
        for node in 0..class.len() {
            if size[class[node] as usize] == 1 {
                next.push(index(representative.len()));
                representative.push(index(node));
                continue;
            }
            let mut h = FxHasher::default();
            for child in self.children(node) {
                h.write_u32(class[child]);
            }
            let fresh = index(representative.len());
            let id = *signatures.entry((class[node], h.finish())).or_insert(fresh);
            if id == fresh {
                representative.push(index(node));
            } else {
                let rep = representative[id as usize] as usize;
                if !self
                    .children(rep)
                    .map(|c| class[c])
                    .eq(self.children(node).map(|c| class[c]))
                {
                    return None;
                }
            }
            next.push(id);
        }
        Some((next, representative.len()))
    }

    /// Hopcroft-style refinement of a partition into its coarsest stable refinement.
    fn hopcroft(&self, initial: &[u32], count: usize) -> (Vec<u32>, usize) {
        let n = self.len();
        let m = self.children.len();
        // Edge j goes from tails[j] at position pos[j] to self.children[j].
        let mut tails = Vec::with_capacity(m);
        let mut pos = Vec::with_capacity(m);
        for node in 0..n {
            let (start, end) = (self.offsets[node], self.offsets[node + 1]);
            tails.extend(std::iter::repeat_n(index(node), (end - start) as usize));
            pos.extend(0..end - start);
        }
        let mut blocks = Partition::new(initial, count);
        // Cords: edges grouped by position (every position below the largest arity occurs).
        let positions = pos.iter().map(|&p| p as usize + 1).max().unwrap_or(0);
        let mut cords = Partition::new(&pos, positions);
        // The edges into each node.
        let incoming = Grouped::new(
            n,
            self.children
                .iter()
                .enumerate()
                .map(|(edge, &head)| (head, index(edge))),
        );
        // Every cord splits the blocks by which nodes have an edge in it; every block but
        // the first splits the cords by which edges lead into it. Splitting keeps the
        // smaller half as the new set, and new sets are processed when reached: each
        // element is in a processed set O(log n) times.
        let (mut b, mut c) = (1, 0);
        while c < cords.len() {
            for &edge in cords.set(c) {
                blocks.mark(tails[edge as usize]);
            }
            blocks.split();
            c += 1;
            while b < blocks.len() {
                for &node in blocks.set(b) {
                    for &edge in incoming.get(node as usize) {
                        cords.mark(edge);
                    }
                }
                cords.split();
                b += 1;
            }
        }
        let count = blocks.len();
        (blocks.into_sets(), count)
    }
}

/// A partition of `0..n` whose sets can be split by marking elements: the refinable
/// partition of Valmari and Lehtinen. The elements of set `s` are
/// `elems[sets[s].first..sets[s].past]`, its marked ones at the front. What one mark reads
/// and writes is kept together (an element's set and place; a set's bounds and mark count),
/// because on a large graph every mark is a cache miss per array it touches.
struct Partition {
    elems: Vec<u32>,
    /// Per element: its set and its place in `elems`.
    at: Vec<At>,
    sets: Vec<Set>,
    touched: Vec<u32>,
    /// Each set a split made, with the set it was split from: kept only when asked for.
    births: Option<Vec<(u32, u32)>>,
}

#[derive(Clone, Copy)]
struct At {
    set: u32,
    place: u32,
}

#[derive(Clone, Copy)]
struct Set {
    first: u32,
    past: u32,
    marked: u32,
}

impl Partition {
    /// The partition with element `e` in set `group[e]`; the groups are `0..groups`, each
    /// non-empty.
    fn new(group: &[u32], groups: usize) -> Self {
        let n = group.len();
        let mut start = vec![0u32; groups + 1];
        for &g in group {
            start[g as usize + 1] += 1;
        }
        for g in 0..groups {
            start[g + 1] += start[g];
        }
        // A split adds one set, so there are at most n sets.
        let mut sets = Vec::with_capacity(n.max(groups));
        sets.extend((0..groups).map(|g| Set {
            first: start[g],
            past: start[g],
            marked: 0,
        }));
        let mut elems = vec![0u32; n];
        let mut at = vec![At { set: 0, place: 0 }; n];
        for (e, &g) in group.iter().enumerate() {
            let set = &mut sets[g as usize];
            elems[set.past as usize] = index(e);
            at[e] = At {
                set: g,
                place: set.past,
            };
            set.past += 1;
        }
        Partition {
            elems,
            at,
            sets,
            touched: Vec::new(),
            births: None,
        }
    }

    /// Keeps, from now on, each set a split makes with the set it was split from.
    fn record_births(&mut self) {
        self.births = Some(Vec::new());
    }

    /// The sets made since the last call, each with the set it was split from.
    fn take_births(&mut self) -> Vec<(u32, u32)> {
        self.births.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.sets.len()
    }

    fn set(&self, s: usize) -> &[u32] {
        &self.elems[self.sets[s].first as usize..self.sets[s].past as usize]
    }

    /// The set of each element.
    fn into_sets(self) -> Vec<u32> {
        self.at.into_iter().map(|a| a.set).collect()
    }

    /// Marks an element (at most once between splits).
    #[inline]
    fn mark(&mut self, e: u32) {
        let At { set: s, place: i } = self.at[e as usize];
        let set = &mut self.sets[s as usize];
        let j = set.first + set.marked;
        if set.marked == 0 {
            self.touched.push(s);
        }
        set.marked += 1;
        let other = self.elems[j as usize];
        self.elems[i as usize] = other;
        self.at[other as usize].place = i;
        self.elems[j as usize] = e;
        self.at[e as usize].place = j;
    }

    /// Splits every set with marked elements into its marked and unmarked parts (the
    /// smaller part becomes a new set), and clears the marks.
    fn split(&mut self) {
        while let Some(s) = self.touched.pop() {
            let set = &mut self.sets[s as usize];
            let j = set.first + set.marked;
            set.marked = 0;
            if j == set.past {
                continue;
            }
            let new = if j - set.first <= set.past - j {
                let new = Set {
                    first: set.first,
                    past: j,
                    marked: 0,
                };
                set.first = j;
                new
            } else {
                let new = Set {
                    first: j,
                    past: set.past,
                    marked: 0,
                };
                set.past = j;
                new
            };
            let z = index(self.sets.len());
            self.sets.push(new);
            if let Some(births) = &mut self.births {
                births.push((s, z));
            }
            for &e in &self.elems[new.first as usize..new.past as usize] {
                self.at[e as usize].set = z;
            }
        }
    }
}

/// The structural-equality classes of a [`Graph`]'s nodes.
#[derive(Debug)]
pub struct Normal<'g, L> {
    graph: &'g Graph<L>,
    class: Vec<u32>,
    /// A node of each class.
    representative: Vec<u32>,
}

impl<L: Clone> Normal<'_, L> {
    /// The class of a node: equal for structurally equal nodes, in `0..classes()`. Class
    /// numbers depend on the graph; use [`canonical`](Normal::canonical) to compare nodes
    /// of different graphs.
    ///
    /// # Panics
    /// If `node` is not a node of the graph.
    pub fn class(&self, node: usize) -> usize {
        self.class[node] as usize
    }

    /// The number of classes: the size of the smallest graph equal to this one.
    pub fn classes(&self) -> usize {
        self.representative.len()
    }

    /// Whether two nodes are structurally equal.
    ///
    /// # Panics
    /// If either is not a node of the graph.
    pub fn equivalent(&self, a: usize, b: usize) -> bool {
        self.class[a] == self.class[b]
    }
}

impl<L: Clone + Hash + Eq> Normal<'_, L> {
    /// The canonical form of what `root` reaches: equal for structurally equal roots,
    /// whatever graph they are in, and different otherwise.
    ///
    /// # Panics
    /// If `root` is not a node of the graph.
    pub fn canonical(&self, root: usize) -> Canonical<L> {
        let reached = self.reached(root);
        let rank = match (self.graph.order, reached.needs_order()) {
            (Some(order), true) => reached.ranks(order),
            _ => Vec::new(),
        };
        // Breadth-first from the root, children in order, a set's members by rank.
        let k = reached.labels.len();
        let mut number = vec![u32::MAX; k];
        let mut queue = Vec::with_capacity(k);
        number[0] = 0;
        queue.push(0u32);
        let mut distinct: FxHashMap<&L, u32> = FxHashMap::default();
        let mut form = Canonical {
            labels: Vec::new(),
            label_of: Vec::with_capacity(k),
            offsets: Vec::with_capacity(k + 1),
            children: Vec::with_capacity(reached.kids.len()),
            sets: Vec::new(),
        };
        form.offsets.push(0);
        let mut at = 0;
        while let Some(&c) = queue.get(at) {
            let c = c as usize;
            let from = form.children.len();
            form.children.extend_from_slice(reached.kids(c));
            let kids = &mut form.children[from..];
            if reached.sets[c] {
                form.sets.push(index(at));
                // Without ranks, every set's members are of one class.
                if !rank.is_empty() {
                    kids.sort_unstable_by_key(|&kid| rank[kid as usize]);
                }
            }
            for kid in kids {
                if number[*kid as usize] == u32::MAX {
                    number[*kid as usize] = index(queue.len());
                    queue.push(*kid);
                }
                *kid = number[*kid as usize];
            }
            let label = reached.labels[c];
            let next = index(form.labels.len());
            let id = *distinct.entry(label).or_insert(next);
            if id == next {
                form.labels.push(label.clone());
            }
            form.label_of.push(id);
            form.offsets.push(index(form.children.len()));
            at += 1;
        }
        form
    }

    /// The classes `root` reaches, the root's numbered 0; a set's members' classes sorted.
    fn reached(&self, root: usize) -> Reached<'_, L> {
        // Each class's number plus one, 0 for a class not reached: zeroed memory is only
        // paid for where it is touched, so a root that reaches little of a large graph
        // costs little.
        let mut local = vec![0u32; self.classes()];
        let mut classes = vec![self.class[root]];
        local[self.class[root] as usize] = 1;
        let mut reached = Reached {
            labels: Vec::new(),
            sets: Vec::new(),
            offsets: vec![0],
            kids: Vec::new(),
        };
        let mut at = 0;
        while let Some(&c) = classes.get(at) {
            let node = self.representative[c as usize] as usize;
            let from = reached.kids.len();
            for child in self.graph.children(node) {
                let kid = self.class[child];
                let kid = match local[kid as usize] {
                    0 => {
                        let at = index(classes.len());
                        local[kid as usize] = at + 1;
                        classes.push(kid);
                        at
                    }
                    at => at - 1,
                };
                reached.kids.push(kid);
            }
            let set = self.graph.is_set(node);
            if set {
                reached.kids[from..].sort_unstable();
            }
            reached.labels.push(self.graph.label(node));
            reached.sets.push(set);
            reached.offsets.push(index(reached.kids.len()));
            at += 1;
        }
        reached
    }
}

/// The canonical form of an immutable graph seen from one node: its classes numbered
/// breadth-first from the root, each with its label and its children's numbers. Equal
/// forms mean structurally equal roots, so a form is a map key for them.
///
/// Forms compare (and order) as their [`nodes`](Canonical::nodes) do, then their set nodes.
#[derive(Clone, PartialEq, Eq)]
pub struct Canonical<L> {
    /// The distinct labels, in the order the nodes first have them (so that equal forms have
    /// equal lists): a million nodes of a few labels keep a few.
    labels: Vec<L>,
    /// Each node's label, by its place in `labels`.
    label_of: Vec<u32>,
    /// Node `i`'s children: `children[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<u32>,
    children: Vec<u32>,
    /// The positions of the set nodes (empty for a graph without any).
    sets: Vec<u32>,
}

impl<L: Hash> Hash for Canonical<L> {
    /// The nodes as a list of (label, children) pairs, then the set positions only if there
    /// are any: the writes of the list of pairs forms were once stored as, so that stable
    /// hashes users stored stay valid, and a form without set nodes hashes as it did before
    /// sets existed.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for (label, children) in self.nodes() {
            label.hash(state);
            children.hash(state);
        }
        if !self.sets.is_empty() {
            self.sets.hash(state);
        }
    }
}

impl<L: PartialOrd> PartialOrd for Canonical<L> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        match self.nodes().partial_cmp(other.nodes()) {
            Some(std::cmp::Ordering::Equal) => self.sets.partial_cmp(&other.sets),
            order => order,
        }
    }
}

impl<L: Ord> Ord for Canonical<L> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.nodes()
            .cmp(other.nodes())
            .then_with(|| self.sets.cmp(&other.sets))
    }
}

impl<L: fmt::Debug> fmt::Debug for Canonical<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Canonical")
            .field("nodes", &self.nodes().collect::<Vec<_>>())
            .field("sets", &self.sets)
            .finish()
    }
}

impl<L> Canonical<L> {
    /// The number of distinct nodes the root reaches (after normalization).
    pub fn len(&self) -> usize {
        self.label_of.len()
    }

    /// Always false: a form has at least its root.
    pub fn is_empty(&self) -> bool {
        self.label_of.is_empty()
    }

    /// The same form with each label mapped by `f`, which must map distinct labels to
    /// distinct ones: for labels that stood in for others, in the same order.
    pub(crate) fn relabel<M>(self, f: impl FnMut(L) -> M) -> Canonical<M> {
        Canonical {
            labels: self.labels.into_iter().map(f).collect(),
            label_of: self.label_of,
            offsets: self.offsets,
            children: self.children,
            sets: self.sets,
        }
    }

    /// The nodes in canonical order (the root first): each label with its children's
    /// positions in this list.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = (&L, &[u32])> {
        self.label_of
            .iter()
            .zip(self.offsets.windows(2))
            .map(|(&l, w)| {
                (
                    &self.labels[l as usize],
                    &self.children[w[0] as usize..w[1] as usize],
                )
            })
    }
}

impl<L: Hash> Canonical<L> {
    /// A hash of the form, equal for equal forms, and the same on every platform and in
    /// every build as long as the labels' `Hash` impls feed the same writes: SipHash-2-4
    /// with the all-zero key over the form's writes, integers as little-endian bytes at
    /// their full width (`usize` as 64 bits). See [`Heap::stable_hash`](crate::Heap::stable_hash)
    /// for what std's `Hash` impls promise.
    pub fn stable_hash(&self) -> u64 {
        let mut h = crate::stable::StableHasher::default();
        self.hash(&mut h);
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Graph;

    /// Whether two class vectors describe the same partition.
    fn same_partition(a: &[u32], b: &[u32]) -> bool {
        let mut ab = std::collections::HashMap::new();
        let mut ba = std::collections::HashMap::new();
        a.iter()
            .zip(b)
            .all(|(x, y)| *ab.entry(x).or_insert(y) == y && *ba.entry(y).or_insert(x) == x)
    }

    fn initial(g: &Graph<u8>) -> (Vec<u32>, usize) {
        let mut groups = std::collections::HashMap::new();
        let class = (0..g.len())
            .map(|i| {
                let next = groups.len() as u32;
                *groups
                    .entry((g.labels[i], g.children(i).len()))
                    .or_insert(next)
            })
            .collect();
        (class, groups.len())
    }

    /// Random graphs of up to `n` nodes, each with a label, whether it is a set (if `sets`),
    /// and up to four children anywhere.
    fn graphs(n: usize, sets: bool) -> impl Strategy<Value = Graph<u8>> {
        (1..n)
            .prop_flat_map(move |n| {
                prop::collection::vec(
                    (0u8..3, any::<bool>(), prop::collection::vec(0..n, 0..5)),
                    n,
                )
            })
            .prop_map(move |nodes| {
                let mut g = Graph::new();
                for (label, set, children) in nodes {
                    match set && sets {
                        true => g.add_set_node(label, children),
                        false => g.add_node(label, children),
                    };
                }
                g
            })
    }

    proptest! {
        /// The rounds and the Hopcroft-style refinement reach the same partition, so each is
        /// checked by the other (and both by the naive fixpoint in `tests/norm.rs`).
        #[test]
        fn rounds_and_hopcroft_agree(g in graphs(30, false)) {
            let (class, count) = initial(&g);
            let (exact, exact_count) = g.hopcroft(&class, count);
            let (mixed, mixed_count) = g.refine();
            prop_assert_eq!(exact_count, mixed_count);
            prop_assert!(same_partition(&exact, &mixed));
        }

        /// The rounds over changed nodes alone, from the first partition, reach the same
        /// partition as Hopcroft's.
        #[test]
        fn settling_and_hopcroft_agree(g in graphs(40, false)) {
            let (class, count) = initial(&g);
            let (exact, exact_count) = g.hopcroft(&class, count);
            let (settled, settled_count) = g.settle(class, count, u64::MAX).unwrap();
            prop_assert_eq!(exact_count, settled_count);
            prop_assert!(same_partition(&exact, &settled));
        }

        /// On a graph without set nodes the smaller-half refinement through steps and
        /// Valmari and Lehtinen's reach the same partition.
        #[test]
        fn both_refinements_agree_without_sets(g in graphs(30, false)) {
            let (ordered, ordered_count) = g.refine();
            let (sets, sets_count) = g.smaller_half();
            prop_assert_eq!(ordered_count, sets_count);
            prop_assert!(same_partition(&ordered, &sets));
        }

        /// With set nodes, the rounds over changed nodes and the smaller-half refinement
        /// reach the same partition.
        #[test]
        fn settling_and_smaller_half_agree_with_sets(g in graphs(30, true)) {
            let (class, count) = g.by_label_kind_arity();
            let (settled, settled_count) = g.settle(class, count, u64::MAX).unwrap();
            let (exact, exact_count) = g.smaller_half();
            prop_assert_eq!(exact_count, settled_count);
            prop_assert!(same_partition(&exact, &settled));
        }
    }

    #[test]
    fn a_set_counts_its_members() {
        // Two equal leaves; sets of them by how many they hold, in any order.
        let mut g = Graph::new();
        let (a, b, c) = (
            g.add_node(0u8, []),
            g.add_node(0u8, []),
            g.add_node(1u8, []),
        );
        let one = g.add_set_node(2u8, [a]);
        let two = g.add_set_node(2u8, [a, b]);
        let same = g.add_set_node(2u8, [b, b]);
        let mixed = g.add_set_node(2u8, [c, a]);
        let shuffled = g.add_set_node(2u8, [b, c]);
        for (class, count) in [g.refine_with_sets(), g.smaller_half()] {
            assert_eq!(count, 5);
            assert_ne!(class[one], class[two]);
            assert_eq!(class[two], class[same]);
            assert_eq!(class[mixed], class[shuffled]);
        }
        let normal = g.normalize().unwrap();
        assert_eq!(normal.canonical(two), normal.canonical(same));
        assert_ne!(normal.canonical(one), normal.canonical(two));
        assert_eq!(normal.canonical(mixed), normal.canonical(shuffled));
    }

    #[test]
    fn a_long_path_through_sets_is_refined_in_one_pass() {
        // A path whose links are sets of one member: rounds would take one per link.
        let n = 200_000;
        let mut g = Graph::new();
        for i in 0..n - 1 {
            g.add_set_node(0u8, [i + 1]);
        }
        g.add_node(1u8, []);
        let normal = g.normalize().unwrap();
        assert_eq!(normal.classes(), n);
    }

    #[test]
    fn a_long_path_is_finished_by_the_exact_refinement() {
        // Each round tells apart one more node of the path, far more rounds than the budget.
        let n = 2000;
        let mut g = Graph::new();
        for i in 0..n - 1 {
            g.add_node(0u8, [i + 1]);
        }
        g.add_node(1u8, []);
        let normal = g.normalize().unwrap();
        assert_eq!(normal.classes(), n);
    }
}
