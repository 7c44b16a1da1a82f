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
//! # Ok::<(), steadfast::Error>(())
//! ```

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};

use crate::error::Error;

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
}

impl<L> Graph<L> {
    /// An empty graph.
    pub fn new() -> Self {
        Graph {
            labels: Vec::new(),
            offsets: vec![0],
            children: Vec::new(),
        }
    }

    /// Adds a node and returns its index (nodes are numbered from 0 in the order added).
    pub fn add_node(&mut self, label: L, children: impl IntoIterator<Item = usize>) -> usize {
        self.labels.push(label);
        self.children.extend(children.into_iter().map(index));
        self.offsets.push(index(self.children.len()));
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
        let (class, classes) = self.refine();
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

    /// The coarsest partition of the nodes that separates labels and arities and is stable:
    /// nodes of one block have, at each position, children in one block.
    /// Returns each node's block and the number of blocks.
    fn refine(&self) -> (Vec<u32>, usize) {
        let n = self.len();
        let m = self.children.len();
        // Edge j goes from tails[j] at position pos[j] to self.children[j].
        let mut tails = Vec::with_capacity(m);
        let mut pos = Vec::with_capacity(m);
        for node in 0..n {
            let (start, end) = (self.offsets[node], self.offsets[node + 1]);
            tails.extend(std::iter::repeat(index(node)).take((end - start) as usize));
            pos.extend(0..end - start);
        }
        let mut groups: FxHashMap<(&L, u32), u32> = FxHashMap::default();
        let initial: Vec<u32> = (0..n)
            .map(|i| {
                let arity = self.offsets[i + 1] - self.offsets[i];
                let next = index(groups.len());
                *groups.entry((&self.labels[i], arity)).or_insert(next)
            })
            .collect();
        let mut blocks = Partition::new(&initial, groups.len());
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
        (blocks.set_of, count)
    }
}

/// A partition of `0..n` whose sets can be split by marking elements: the refinable
/// partition of Valmari and Lehtinen. The elements of set `s` are
/// `elems[first[s]..past[s]]`, its marked ones at the front.
struct Partition {
    elems: Vec<u32>,
    loc: Vec<u32>,
    set_of: Vec<u32>,
    first: Vec<u32>,
    past: Vec<u32>,
    marked: Vec<u32>,
    touched: Vec<u32>,
}

impl Partition {
    /// The partition with element `e` in set `group[e]`; the groups are `0..groups`, each
    /// non-empty.
    fn new(group: &[u32], groups: usize) -> Self {
        let n = group.len();
        let mut first = vec![0u32; groups + 1];
        for &g in group {
            first[g as usize + 1] += 1;
        }
        for g in 0..groups {
            first[g + 1] += first[g];
        }
        let mut past = first.clone();
        let mut elems = vec![0u32; n];
        let mut loc = vec![0u32; n];
        for (e, &g) in group.iter().enumerate() {
            let at = past[g as usize];
            elems[at as usize] = index(e);
            loc[e] = at;
            past[g as usize] += 1;
        }
        first.truncate(groups);
        past.truncate(groups);
        // A split adds one set, so there are at most n sets.
        first.reserve(n.saturating_sub(groups));
        past.reserve(n.saturating_sub(groups));
        Partition {
            elems,
            loc,
            set_of: group.to_vec(),
            first,
            past,
            marked: vec![0; groups],
            touched: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.first.len()
    }

    fn set(&self, s: usize) -> &[u32] {
        &self.elems[self.first[s] as usize..self.past[s] as usize]
    }

    /// Marks an element (at most once between splits).
    fn mark(&mut self, e: u32) {
        let s = self.set_of[e as usize] as usize;
        let i = self.loc[e as usize];
        let j = self.first[s] + self.marked[s];
        self.elems[i as usize] = self.elems[j as usize];
        self.loc[self.elems[i as usize] as usize] = i;
        self.elems[j as usize] = e;
        self.loc[e as usize] = j;
        if self.marked[s] == 0 {
            self.touched.push(index(s));
        }
        self.marked[s] += 1;
    }

    /// Splits every set with marked elements into its marked and unmarked parts (the
    /// smaller part becomes a new set), and clears the marks.
    fn split(&mut self) {
        while let Some(s) = self.touched.pop() {
            let s = s as usize;
            let j = self.first[s] + self.marked[s];
            if j == self.past[s] {
                self.marked[s] = 0;
                continue;
            }
            let z = self.first.len();
            if self.marked[s] <= self.past[s] - j {
                self.first.push(self.first[s]);
                self.past.push(j);
                self.first[s] = j;
            } else {
                self.first.push(j);
                self.past.push(self.past[s]);
                self.past[s] = j;
            }
            self.marked[s] = 0;
            self.marked.push(0);
            for i in self.first[z]..self.past[z] {
                self.set_of[self.elems[i as usize] as usize] = index(z);
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
            for child in self
                .graph
                .children(self.representative[c as usize] as usize)
            {
                let next = index(order.len() + queue.len());
                let cc = self.class[child];
                if let std::collections::hash_map::Entry::Vacant(e) = number.entry(cc) {
                    e.insert(next);
                    queue.push_back(cc);
                }
            }
        }
        let nodes = order
            .iter()
            .map(|&c| {
                let node = self.representative[c as usize] as usize;
                let children = self
                    .graph
                    .children(node)
                    .map(|child| number[&self.class[child]])
                    .collect();
                (self.graph.label(node).clone(), children)
            })
            .collect();
        Canonical { nodes }
    }
}

/// The canonical form of an immutable graph seen from one node: its classes numbered
/// breadth-first from the root, each with its label and its children's numbers. Equal
/// forms mean structurally equal roots, so a form is a map key for them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Canonical<L> {
    nodes: Vec<(L, Box<[u32]>)>,
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
    /// A hash of the form that is the same in every run and on every machine of the same
    /// endianness (given a label hash that is): equal forms have equal hashes.
    pub fn stable_hash(&self) -> u64 {
        let mut h = FxHasher::default();
        self.hash(&mut h);
        h.finish()
    }
}
