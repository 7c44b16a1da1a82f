//! Normalization of immutable graphs: which nodes are structurally equal, and a canonical
//! form of the graph reachable from a node, usable as a map key.
//!
//! Two nodes are *structurally equal* when they have equal labels, the same number of
//! children, and pairwise structurally equal children — the greatest such relation, so that
//! cycles are compared by what they unfold to, not by where they were entered or how often
//! they are drawn: a cycle `a → b → a` equals `a → b → a' → b' → a` when the labels match.
//! (This is bisimilarity for graphs whose edges are ordered.)
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

pub use freeze::{freeze, Freeze, Freezer, Label};

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};

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
    /// Which nodes are sets (their children unordered, compared as sets): empty until the
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
    /// Adds a set node: its members are unordered and compared as a set — two set nodes
    /// with equal labels are equal when every member of each equals a member of the other
    /// (so repeats and order do not count). Returns its index.
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
fn index(i: usize) -> u32 {
    u32::try_from(i).expect("steadfast::norm: at most u32::MAX nodes and edges")
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
        let rank = match self.sets.is_empty() {
            true => Vec::new(),
            false => self.ranks(&class, &representative),
        };
        Ok(Normal {
            graph: self,
            class,
            representative,
            rank,
        })
    }

    /// A node's children's classes as its class compares them: in order, or, for a set,
    /// sorted and without repeats.
    fn child_classes(&self, node: usize, class: &[u32]) -> Vec<u32> {
        let mut kids: Vec<u32> = self.children(node).map(|c| class[c]).collect();
        if self.is_set(node) {
            kids.sort_unstable();
            kids.dedup();
        }
        kids
    }

    /// [`refine`](Graph::refine) for a graph with set nodes: rounds (Moore's) until stable,
    /// a set node's signature its members' classes as a set. Correct, but a round per link
    /// of the longest chain of dependence (see `docs/freeze-design.md` for the O(m log n)
    /// refinement sets need).
    fn refine_with_sets(&self) -> (Vec<u32>, usize) {
        let n = self.len();
        let mut groups: FxHashMap<(&L, u32), u32> = FxHashMap::default();
        let mut class: Vec<u32> = (0..n)
            .map(|i| {
                let arity = match self.is_set(i) {
                    true => u32::MAX,
                    false => self.offsets[i + 1] - self.offsets[i],
                };
                let next = index(groups.len());
                *groups.entry((&self.labels[i], arity)).or_insert(next)
            })
            .collect();
        let mut count = groups.len();
        loop {
            let mut signatures: FxHashMap<(u32, Vec<u32>), u32> = FxHashMap::default();
            let next: Vec<u32> = (0..n)
                .map(|i| {
                    let key = (class[i], self.child_classes(i, &class));
                    let fresh = index(signatures.len());
                    *signatures.entry(key).or_insert(fresh)
                })
                .collect();
            let stable = signatures.len() == count;
            (class, count) = (next, signatures.len());
            if stable {
                return (class, count);
            }
        }
    }

    /// A canonical rank of each class, for the order of a set's members in a canonical
    /// form: depends only on the classes' structure and labels. Ranks start from (kind,
    /// label, arity) and are refined by the children's ranks (a set's sorted) until every
    /// class has its own — which happens, as no two classes are equal.
    fn ranks(&self, class: &[u32], representative: &[u32]) -> Vec<u32> {
        let order = self
            .order
            .expect("a graph with set nodes has an order of labels");
        let k = representative.len();
        let rep = |c: u32| representative[c as usize] as usize;
        let arity = |node: usize| match self.is_set(node) {
            true => u32::MAX,
            false => self.offsets[node + 1] - self.offsets[node],
        };
        let mut by: Vec<u32> = (0..index(k)).collect();
        let first = |a: &u32, b: &u32| {
            let (a, b) = (rep(*a), rep(*b));
            order(&self.labels[a], &self.labels[b]).then(arity(a).cmp(&arity(b)))
        };
        by.sort_unstable_by(first);
        let mut rank = vec![0u32; k];
        let mut distinct = 0u32;
        for w in 0..k {
            if w > 0 && first(&by[w - 1], &by[w]).is_ne() {
                distinct += 1;
            }
            rank[by[w] as usize] = distinct;
        }
        loop {
            let signature = |c: u32| -> (u32, Vec<u32>) {
                let node = rep(c);
                let mut kids: Vec<u32> = self
                    .children(node)
                    .map(|x| rank[class[x] as usize])
                    .collect();
                if self.is_set(node) {
                    kids.sort_unstable();
                    kids.dedup();
                }
                (rank[c as usize], kids)
            };
            let signatures: Vec<(u32, Vec<u32>)> = (0..index(k)).map(signature).collect();
            by.sort_unstable_by(|&a, &b| signatures[a as usize].cmp(&signatures[b as usize]));
            let mut next = vec![0u32; k];
            let mut count = 0u32;
            for w in 0..k {
                if w > 0 && signatures[by[w - 1] as usize] != signatures[by[w] as usize] {
                    count += 1;
                }
                next[by[w] as usize] = count;
            }
            let same = next.iter().max() == rank.iter().max();
            rank = next;
            if same {
                return rank;
            }
        }
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
        self.hopcroft(&class, count)
    }

    /// One round: splits every block by the blocks of its nodes' children. `None` if two
    /// different signatures met on one hash (left to the exact refinement).
    fn round(&self, class: &[u32], count: usize) -> Option<(Vec<u32>, usize)> {
        let mut signatures: FxHashMap<(u32, u64), u32> = FxHashMap::default();
        signatures.reserve(count);
        let mut representative: Vec<u32> = Vec::with_capacity(count);
        let mut next = Vec::with_capacity(class.len());
        for node in 0..class.len() {
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
        // Incoming edges of each node: incoming[first_in[v]..first_in[v + 1]].
        let mut first_in = vec![0u32; n + 1];
        for &head in &self.children {
            first_in[head as usize + 1] += 1;
        }
        for v in 0..n {
            first_in[v + 1] += first_in[v];
        }
        let mut fill = first_in.clone();
        let mut incoming = vec![0u32; m];
        for (edge, &head) in self.children.iter().enumerate() {
            incoming[fill[head as usize] as usize] = index(edge);
            fill[head as usize] += 1;
        }
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
                    let (start, end) = (first_in[node as usize], first_in[node as usize + 1]);
                    for &edge in &incoming[start as usize..end as usize] {
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
        }
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
    /// Each class's canonical rank, for the order of a set's members (empty without sets).
    rank: Vec<u32>,
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

    /// The canonical form of what `root` reaches: equal for structurally equal roots,
    /// whatever graph they are in, and different otherwise.
    ///
    /// # Panics
    /// If `root` is not a node of the graph.
    pub fn canonical(&self, root: usize) -> Canonical<L> {
        // Numbers by class, for the classes the root reaches only.
        let mut number: FxHashMap<u32, u32> = FxHashMap::default();
        let mut order = Vec::new();
        let mut queue = VecDeque::from([self.class[root]]);
        number.insert(self.class[root], 0);
        while let Some(c) = queue.pop_front() {
            order.push(c);
            for cc in self.kids(self.representative[c as usize] as usize) {
                let next = index(order.len() + queue.len());
                if let std::collections::hash_map::Entry::Vacant(e) = number.entry(cc) {
                    e.insert(next);
                    queue.push_back(cc);
                }
            }
        }
        let mut sets = Vec::new();
        let nodes = order
            .iter()
            .enumerate()
            .map(|(at, &c)| {
                let node = self.representative[c as usize] as usize;
                if self.graph.is_set(node) {
                    sets.push(index(at));
                }
                let children = self.kids(node).into_iter().map(|k| number[&k]).collect();
                (self.graph.label(node).clone(), children)
            })
            .collect();
        Canonical { nodes, sets }
    }

    /// A node's children's classes as the canonical form lists them: in order, or, for a
    /// set, each class once, by canonical rank.
    fn kids(&self, node: usize) -> Vec<u32> {
        let mut kids: Vec<u32> = self.graph.children(node).map(|c| self.class[c]).collect();
        if self.graph.is_set(node) {
            kids.sort_unstable_by_key(|&c| self.rank[c as usize]);
            kids.dedup();
        }
        kids
    }
}

/// The canonical form of an immutable graph seen from one node: its classes numbered
/// breadth-first from the root, each with its label and its children's numbers. Equal
/// forms mean structurally equal roots, so a form is a map key for them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Canonical<L> {
    nodes: Vec<(L, Box<[u32]>)>,
    /// The positions of the set nodes (empty for a graph without any).
    sets: Vec<u32>,
}

impl<L: Hash> Hash for Canonical<L> {
    /// The nodes, then the set positions only if there are any: a form without set nodes
    /// hashes as it did before sets existed (its stable hash is stored by users).
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nodes.hash(state);
        if !self.sets.is_empty() {
            self.sets.hash(state);
        }
    }
}

impl<L> Canonical<L> {
    /// The number of distinct nodes the root reaches (after normalization).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: a form has at least its root.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The nodes in canonical order (the root first): each label with its children's
    /// positions in this list.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = (&L, &[u32])> {
        self.nodes.iter().map(|(l, c)| (l, &c[..]))
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

    proptest! {
        /// The rounds and the Hopcroft-style refinement reach the same partition, so each is
        /// checked by the other (and both by the naive fixpoint in `tests/norm.rs`).
        #[test]
        fn rounds_and_hopcroft_agree(
            nodes in (1usize..30).prop_flat_map(|n| {
                prop::collection::vec((0u8..3, prop::collection::vec(0..n, 0..4)), n)
            })
        ) {
            let mut g = Graph::new();
            for (label, children) in &nodes {
                g.add_node(*label, children.iter().copied());
            }
            let (class, count) = initial(&g);
            let (exact, exact_count) = g.hopcroft(&class, count);
            let (mixed, mixed_count) = g.refine();
            prop_assert_eq!(exact_count, mixed_count);
            prop_assert!(same_partition(&exact, &mixed));
        }
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
