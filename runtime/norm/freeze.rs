//! Freezing a Rust value into the canonical form of its structure: [`freeze`], [`Freeze`].
//!
//! The walk builds a [`Graph`]: a node per value, labelled by what the value is, with its
//! parts as children — in order, or, for a set or map, as a multiset. A value reached through an
//! `Rc` or `Arc` is one node whatever the number of paths to it (identity by pointer), so a
//! cycle through shared pointers is a cycle of the graph; the graph's normalization then
//! compares cycles by what they unfold to, and the canonical form of the root is the frozen
//! value. Before that, each struct's first sequence, tuple, `Option` or `Result` field is
//! drawn into the struct's node ([`Folded`]), which halves the graph of a typical value and
//! changes no comparison.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::{Arc, Mutex, RwLock, TryLockError};

use rustc_hash::FxHashMap;

use super::{index, Canonical, Error, Graph};

/// What a node of a frozen value is: a scalar with its value, or a compound with its kind
/// (its parts are the node's children, in order).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Label {
    /// `()`.
    Unit,
    /// A `bool`.
    Bool(bool),
    /// A signed integer, whatever its width.
    Int(i128),
    /// An unsigned integer, whatever its width.
    Uint(u128),
    /// A float's bits (as `f64`; `-0.0` as `0.0` and every NaN as one NaN).
    Float(u64),
    /// A `char`.
    Char(char),
    /// A string.
    Str(Box<str>),
    /// A struct, by its path (`module::Type`, as the derive writes it); its fields in order.
    Struct(&'static str),
    /// An enum variant, by its path (`Type::Variant`); its fields in order.
    Variant(&'static str),
    /// A tuple; its parts in order.
    Tuple,
    /// A sequence (`Vec`, slice, array, `VecDeque`); its items in order.
    Seq,
    /// `Option::None`.
    None,
    /// `Option::Some`; the value.
    Some,
    /// `Result::Ok`; the value.
    Ok,
    /// `Result::Err`; the value.
    Err,
    /// A map; its entries as a multiset.
    Map,
    /// A set; its members as a multiset.
    Set,
    /// A map's entry: its key and value.
    Entry,
    /// A `Weak` whose value is gone.
    Dead,
    /// A struct with a field drawn into its node (see [`Folded`]).
    Folded(Folded),
}

/// A struct node with one field drawn in: the first of its fields that is a sequence, a
/// tuple, or an `Option` or `Result` variant. The node's children are the struct's fields
/// with that field's parts in its place, so a struct and its `Vec` (or its `Option<Rc<_>>`)
/// are one node, not two, and the graph to normalize is smaller. Which field is drawn in
/// depends only on the fields' labels, so equal structs are folded alike and forms compare
/// as they would unfolded. Only `freeze` makes these labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Folded {
    path: &'static str,
    at: u32,
    field: u8,
    len: u32,
}

/// The labels of the fields a struct draws in, by their code in [`Folded`].
const FOLDABLE: [Label; 6] = [
    Label::Seq,
    Label::Tuple,
    Label::None,
    Label::Some,
    Label::Ok,
    Label::Err,
];

impl Folded {
    /// The struct's path.
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The position of the field drawn in among the struct's fields.
    pub fn at(&self) -> usize {
        self.at as usize
    }

    /// The label of the field drawn in: [`Label::Seq`], [`Label::Tuple`], [`Label::None`],
    /// [`Label::Some`], [`Label::Ok`] or [`Label::Err`].
    pub fn field(&self) -> Label {
        FOLDABLE[self.field as usize].clone()
    }

    /// How many parts the field drawn in has.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the field drawn in has no parts.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// How a node's parts compare.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// In order.
    Ordered,
    /// As a set.
    Set,
    /// A stand-in for the value a shared pointer points to (its one part, once walked):
    /// not a node of the graph built.
    StandIn,
}

/// Builds the graph of a value: [`Freeze`] impls call it for their parts.
///
/// A node is reserved before its parts are walked and its parts are stored flat, so that
/// freezing a value costs no allocation per node; equal leaves are one node.
pub struct Freezer {
    labels: Vec<Label>,
    kinds: Vec<Kind>,
    /// Node `i`'s parts: `parts[spans[i].0 as usize..][..spans[i].1 as usize]`.
    spans: Vec<(u32, u32)>,
    parts: Vec<u32>,
    /// The parts of the nodes being walked, innermost last.
    walking: Vec<u32>,
    /// The node of each shared pointer seen, by address.
    shared: FxHashMap<usize, u32>,
    /// The node of each leaf label seen.
    leaves: FxHashMap<Label, u32>,
    /// Shared values still to walk, each with its stand-in: the walk through shared
    /// pointers is a loop, not a recursion, so a list a million links long does not take a
    /// million frames of stack.
    deferred: Vec<(u32, Box<dyn Deferred>)>,
}

/// A shared pointer whose value is walked later.
trait Deferred {
    fn walk(&self, f: &mut Freezer) -> Result<usize, Error>;
}

impl<T: Freeze + ?Sized> Deferred for Rc<T> {
    fn walk(&self, f: &mut Freezer) -> Result<usize, Error> {
        (**self).freeze(f)
    }
}

impl<T: Freeze + ?Sized> Deferred for Arc<T> {
    fn walk(&self, f: &mut Freezer) -> Result<usize, Error> {
        (**self).freeze(f)
    }
}

impl Freezer {
    fn new() -> Self {
        Freezer {
            labels: Vec::new(),
            kinds: Vec::new(),
            spans: Vec::new(),
            parts: Vec::new(),
            walking: Vec::new(),
            shared: FxHashMap::default(),
            leaves: FxHashMap::default(),
            deferred: Vec::new(),
        }
    }

    /// Walks `value` and every shared value it reaches.
    fn walk<T: Freeze + ?Sized>(&mut self, value: &T) -> Result<usize, Error> {
        let root = value.freeze(self)?;
        let root = self.made(root)?;
        while let Some((node, value)) = self.deferred.pop() {
            let target = value.walk(self)?;
            let target = self.made(target)?;
            self.spans[node as usize] = (index(self.parts.len()), 1);
            self.parts.push(target);
        }
        Ok(root as usize)
    }

    /// A node without parts (one node for equal labels).
    pub fn leaf(&mut self, label: Label) -> usize {
        if let Some(&node) = self.leaves.get(&label) {
            return node as usize;
        }
        let node = self.reserve(label.clone(), Kind::Ordered);
        self.spans[node] = (0, 0);
        self.leaves.insert(label, index(node));
        node
    }

    /// A node of `parts`, in order (a struct's fields, a tuple's items).
    ///
    /// # Errors
    /// What freezing a part returns.
    pub fn node(&mut self, label: Label, parts: &[&dyn Freeze]) -> Result<usize, Error> {
        self.compound(label, false, |f| parts.iter().try_for_each(|p| f.part(*p)))
    }

    /// A node of a sequence of parts, in order.
    ///
    /// # Errors
    /// What freezing a part returns.
    pub fn seq<'a, T: Freeze + ?Sized + 'a>(
        &mut self,
        label: Label,
        items: impl IntoIterator<Item = &'a T>,
    ) -> Result<usize, Error> {
        self.compound(label, false, |f| {
            items.into_iter().try_for_each(|i| f.part(i))
        })
    }

    /// A set node: its members compared as a multiset (their order does not count, how many
    /// of each class, does).
    ///
    /// # Errors
    /// What freezing a member returns.
    pub fn set<'a, T: Freeze + ?Sized + 'a>(
        &mut self,
        label: Label,
        members: impl IntoIterator<Item = &'a T>,
    ) -> Result<usize, Error> {
        self.compound(label, true, |f| {
            members.into_iter().try_for_each(|m| f.part(m))
        })
    }

    /// A map node: its entries (each a [`Label::Entry`] node of its key and value) compared
    /// as a multiset.
    ///
    /// # Errors
    /// What freezing a key or a value returns.
    pub fn map<'a, K: Freeze + ?Sized + 'a, V: Freeze + ?Sized + 'a>(
        &mut self,
        label: Label,
        entries: impl IntoIterator<Item = (&'a K, &'a V)>,
    ) -> Result<usize, Error> {
        self.compound(label, true, |f| {
            entries.into_iter().try_for_each(|(k, v)| {
                let entry = f.compound(Label::Entry, false, |f| {
                    f.part(k)?;
                    f.part(v)
                })?;
                f.walking.push(index(entry));
                Ok(())
            })
        })
    }

    /// The node of the value a shared pointer at `address` points to: one node for every
    /// pointer to it (so a cycle closes on it), its value walked once, later.
    fn shared(&mut self, address: usize, pointer: impl FnOnce() -> Box<dyn Deferred>) -> usize {
        if let Some(&node) = self.shared.get(&address) {
            return node as usize;
        }
        // The value's own node is not known until it is walked: a stand-in for it takes
        // the edges, and is removed when the graph is built.
        let node = self.reserve(Label::Unit, Kind::StandIn);
        self.shared.insert(address, index(node));
        self.deferred.push((index(node), pointer()));
        node
    }

    fn reserve(&mut self, label: Label, kind: Kind) -> usize {
        self.labels.push(label);
        self.kinds.push(kind);
        self.spans.push((0, 0));
        self.labels.len() - 1
    }

    fn part<T: Freeze + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let node = value.freeze(self)?;
        let node = self.made(node)?;
        self.walking.push(node);
        Ok(())
    }

    /// `node`, if this freezer made it (a `Freeze` impl may return any number).
    fn made(&self, node: usize) -> Result<u32, Error> {
        match node < self.labels.len() {
            true => Ok(index(node)),
            false => Err(Error::UnknownNode {
                node,
                nodes: self.labels.len(),
            }),
        }
    }

    fn compound(
        &mut self,
        label: Label,
        set: bool,
        walk: impl FnOnce(&mut Self) -> Result<(), Error>,
    ) -> Result<usize, Error> {
        let node = self.reserve(
            label,
            match set {
                true => Kind::Set,
                false => Kind::Ordered,
            },
        );
        let from = self.walking.len();
        if let Err(e) = walk(self) {
            self.walking.truncate(from);
            return Err(e);
        }
        let start = index(self.parts.len());
        self.parts.extend(self.walking.drain(from..));
        self.spans[node] = (start, index(self.parts.len()) - start);
        Ok(node)
    }

    fn children(&self, node: usize) -> &[u32] {
        let (start, len) = self.spans[node];
        &self.parts[start as usize..][..len as usize]
    }

    /// The node a chain of stand-ins ends on (itself if the chain is a cycle of pointers only,
    /// which no value builds: a cycle needs a value to hold the pointer back).
    fn resolve(&self, mut node: u32) -> u32 {
        let start = node;
        while self.kinds[node as usize] == Kind::StandIn {
            node = self.children(node as usize)[0];
            if node == start {
                break;
            }
        }
        node
    }

    /// The graph without the stand-ins for shared pointers (an edge into one goes to the
    /// value it points to), each struct with its first sequence field folded in (see
    /// [`Folded`]), and only what the root then reaches; and the node `root` became.
    fn into_graph(mut self, root: usize) -> (Graph<Label>, usize) {
        const NONE: u32 = u32::MAX;
        let n = self.labels.len();
        let target: Vec<u32> = (0..index(n)).map(|node| self.resolve(node)).collect();
        // Each struct's folded field: its position, its node and its label's code.
        let foldable = |node: usize| match self.kinds[node] {
            Kind::Ordered => FOLDABLE.iter().position(|l| *l == self.labels[node]),
            _ => None,
        };
        let fold: Vec<(u32, u32, u8)> = (0..n)
            .map(|node| {
                let unfolded = (NONE, NONE, 0);
                if !matches!(self.labels[node], Label::Struct(_))
                    || self.kinds[node] != Kind::Ordered
                {
                    return unfolded;
                }
                self.children(node)
                    .iter()
                    .enumerate()
                    .find_map(|(at, &p)| {
                        let t = target[p as usize];
                        foldable(t as usize).map(|code| (index(at), t, code as u8))
                    })
                    .unwrap_or(unfolded)
            })
            .collect();
        let labels = std::mem::take(&mut self.labels);
        // A node's children once folded, as nodes of the freezer.
        let kids = |node: usize| {
            let parts = self.children(node);
            let (at, seq, _) = fold[node];
            let (before, inner, after) = match at {
                NONE => (parts, &[][..], &[][..]),
                at => (
                    &parts[..at as usize],
                    self.children(seq as usize),
                    &parts[at as usize + 1..],
                ),
            };
            before
                .iter()
                .chain(inner)
                .chain(after)
                .map(|&p| target[p as usize])
        };
        // What the root reaches, numbered in the freezer's order.
        let root = target[root];
        let mut number = vec![NONE; n];
        number[root as usize] = 0;
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            for kid in kids(node as usize) {
                if number[kid as usize] == NONE {
                    number[kid as usize] = 0;
                    stack.push(kid);
                }
            }
        }
        let mut kept = 0u32;
        for slot in number.iter_mut().filter(|slot| **slot != NONE) {
            *slot = kept;
            kept += 1;
        }
        let any_set = self.kinds.contains(&Kind::Set);
        let mut graph = Graph::new();
        graph.labels.reserve(kept as usize);
        graph.offsets.reserve(kept as usize);
        graph.children.reserve(self.parts.len());
        for (node, label) in labels.into_iter().enumerate() {
            if number[node] == NONE {
                continue;
            }
            graph
                .children
                .extend(kids(node).map(|kid| number[kid as usize]));
            graph.offsets.push(index(graph.children.len()));
            graph.labels.push(match (label, fold[node]) {
                (Label::Struct(path), (at, inner, field)) if at != NONE => Label::Folded(Folded {
                    path,
                    at,
                    field,
                    len: self.spans[inner as usize].1,
                }),
                (label, _) => label,
            });
            if any_set {
                graph.sets.push(self.kinds[node] == Kind::Set);
            }
        }
        if any_set {
            graph.order = Some(Label::cmp);
        }
        (graph, number[root as usize] as usize)
    }
}

/// A value that can be frozen: walked into the graph of its structure (see [`freeze`]).
///
/// Implemented for scalars, strings, tuples (up to six), arrays, slices, `Vec`, `VecDeque`,
/// `Option`, `Result`, `Box`, references, `Rc`, `Arc`, their `Weak`s, `Cell`, `RefCell`,
/// `Mutex`, `RwLock`, and, as multisets, `BTreeSet`, `HashSet`, `BTreeMap` and `HashMap`. Derive
/// it (`#[derive(Freeze)]`, see [`derive@crate::norm::Freeze`]), or implement it by freezing the parts in
/// order under a label naming the type:
///
/// ```
/// use steadfast::norm::{freeze, Error, Freeze, Freezer, Label};
///
/// struct Point { x: i32, y: i32 }
///
/// impl Freeze for Point {
///     fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
///         f.node(Label::Struct("Point"), &[&self.x, &self.y])
///     }
/// }
///
/// assert_eq!(freeze(&Point { x: 1, y: 2 })?, freeze(&Point { x: 1, y: 2 })?);
/// assert_ne!(freeze(&Point { x: 1, y: 2 })?, freeze(&Point { x: 2, y: 1 })?);
/// # Ok::<(), Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be frozen",
    label = "not `Freeze`",
    note = "a value freezes to its structure; function pointers, closures and raw pointers have none to compare",
    note = "derive `Freeze` for a type of your own (`#[derive(steadfast::norm::Freeze)]`), or implement it by hand"
)]
pub trait Freeze {
    /// Adds this value's node (and its parts') to the graph `f` builds; returns the node.
    ///
    /// # Errors
    /// [`Error::Borrowed`] for a `RefCell` borrowed mutably during the walk,
    /// [`Error::Locked`] for a lock held elsewhere, [`Error::Poisoned`] for a poisoned one.
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error>;
}

/// The canonical form of a value's structure: equal for values whose structures are equal
/// — the same labels, parts equal in order, a shared value compared by what it is, not by
/// where it lives, and cycles by what they unfold to, wherever they are entered — and
/// different otherwise. Usable as a map key; [`Canonical::stable_hash`] gives a hash that
/// is the same in every run.
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use steadfast::norm::{freeze, Error, Freeze, Freezer, Label};
///
/// struct Node { value: i32, next: RefCell<Option<Rc<Node>>> }
///
/// impl Freeze for Node {
///     fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
///         f.node(Label::Struct("Node"), &[&self.value, &self.next])
///     }
/// }
///
/// let node = |value| Rc::new(Node { value, next: RefCell::new(None) });
/// // A ring of one node, and a ring of two nodes holding the same value: the same unfolding.
/// let one = node(1);
/// *one.next.borrow_mut() = Some(one.clone());
/// let (a, b) = (node(1), node(1));
/// *a.next.borrow_mut() = Some(b.clone());
/// *b.next.borrow_mut() = Some(a.clone());
/// assert_eq!(freeze(&one)?, freeze(&a)?);
/// // Entered at another node: the same too.
/// assert_eq!(freeze(&a)?, freeze(&b)?);
/// # Ok::<(), Error>(())
/// ```
///
/// # Errors
/// As [`Freeze::freeze`]: nothing is frozen then.
pub fn freeze<T: Freeze + ?Sized>(value: &T) -> Result<Canonical<Label>, Error> {
    let mut f = Freezer::new();
    let root = f.walk(value)?;
    let (graph, root) = f.into_graph(root);
    let normal = graph.normalize()?;
    Ok(normal.canonical(root))
}

macro_rules! scalars {
    ($($t:ty => $label:expr),* $(,)?) => {$(
        impl Freeze for $t {
            fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
                #[allow(clippy::redundant_closure_call)]
                Ok(f.leaf(($label)(*self)))
            }
        }
    )*};
}

scalars! {
    bool => Label::Bool,
    char => Label::Char,
    i8 => |v| Label::Int(i128::from(v)),
    i16 => |v| Label::Int(i128::from(v)),
    i32 => |v| Label::Int(i128::from(v)),
    i64 => |v| Label::Int(i128::from(v)),
    i128 => Label::Int,
    isize => |v: isize| Label::Int(v as i128),
    u8 => |v| Label::Uint(u128::from(v)),
    u16 => |v| Label::Uint(u128::from(v)),
    u32 => |v| Label::Uint(u128::from(v)),
    u64 => |v| Label::Uint(u128::from(v)),
    u128 => Label::Uint,
    usize => |v: usize| Label::Uint(v as u128),
    f32 => |v| float(f64::from(v)),
    f64 => float,
}

/// A float's label: `-0.0` as `0.0`, every NaN as one.
fn float(v: f64) -> Label {
    let v = if v == 0.0 { 0.0 } else { v };
    Label::Float(if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    })
}

impl Freeze for () {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        Ok(f.leaf(Label::Unit))
    }
}

impl Freeze for str {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        Ok(f.leaf(Label::Str(self.into())))
    }
}

impl Freeze for String {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        self.as_str().freeze(f)
    }
}

impl<T: Freeze + ?Sized> Freeze for &T {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        (**self).freeze(f)
    }
}

impl<T: Freeze + ?Sized> Freeze for Box<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        // A list of boxes a million deep is walked a million calls deep.
        crate::stack::grown(|| (**self).freeze(f))
    }
}

impl<T: Freeze> Freeze for [T] {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.seq(Label::Seq, self)
    }
}

impl<T: Freeze, const N: usize> Freeze for [T; N] {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.seq(Label::Seq, self)
    }
}

impl<T: Freeze> Freeze for Vec<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.seq(Label::Seq, self)
    }
}

impl<T: Freeze> Freeze for VecDeque<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.seq(Label::Seq, self)
    }
}

impl<T: Freeze> Freeze for BTreeSet<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.set(Label::Set, self)
    }
}

impl<T: Freeze, S> Freeze for HashSet<T, S> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.set(Label::Set, self)
    }
}

impl<K: Freeze, V: Freeze> Freeze for BTreeMap<K, V> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.map(Label::Map, self)
    }
}

impl<K: Freeze, V: Freeze, S> Freeze for HashMap<K, V, S> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.map(Label::Map, self)
    }
}

impl<T: Freeze> Freeze for Option<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        match self {
            None => Ok(f.leaf(Label::None)),
            Some(v) => f.node(Label::Some, &[v]),
        }
    }
}

impl<T: Freeze, E: Freeze> Freeze for Result<T, E> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        match self {
            Ok(v) => f.node(Label::Ok, &[v]),
            Err(e) => f.node(Label::Err, &[e]),
        }
    }
}

macro_rules! tuples {
    ($(($($t:ident $i:tt),+))*) => {$(
        impl<$($t: Freeze),+> Freeze for ($($t,)+) {
            fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
                f.node(Label::Tuple, &[$(&self.$i),+])
            }
        }
    )*};
}

tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
}

/// Walked later, not within the walk of what points to it (see [`Freezer`]): hence
/// `'static`, as the pointer is kept until then.
impl<T: Freeze + ?Sized + 'static> Freeze for Rc<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        let address = Rc::as_ptr(self).cast::<()>() as usize;
        Ok(f.shared(address, || Box::new(self.clone())))
    }
}

/// Walked later, as an [`Rc`] is.
impl<T: Freeze + ?Sized + 'static> Freeze for Arc<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        let address = Arc::as_ptr(self).cast::<()>() as usize;
        Ok(f.shared(address, || Box::new(self.clone())))
    }
}

impl<T: Freeze + 'static> Freeze for std::rc::Weak<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        match self.upgrade() {
            Some(rc) => rc.freeze(f),
            None => Ok(f.leaf(Label::Dead)),
        }
    }
}

impl<T: Freeze + 'static> Freeze for std::sync::Weak<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        match self.upgrade() {
            Some(arc) => arc.freeze(f),
            None => Ok(f.leaf(Label::Dead)),
        }
    }
}

impl<T: Freeze + Copy> Freeze for Cell<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        self.get().freeze(f)
    }
}

impl<T: Freeze + ?Sized> Freeze for RefCell<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        let value = self.try_borrow().map_err(|_| Error::Borrowed {
            type_name: std::any::type_name::<T>(),
        })?;
        value.freeze(f)
    }
}

/// Why a lock of a `T` could not be taken for the walk.
fn lock_error<T: ?Sized, G>(e: TryLockError<G>) -> Error {
    let type_name = std::any::type_name::<T>();
    match e {
        TryLockError::WouldBlock => Error::Locked { type_name },
        TryLockError::Poisoned(_) => Error::Poisoned { type_name },
    }
}

impl<T: Freeze + ?Sized> Freeze for Mutex<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        let value = self.try_lock().map_err(lock_error::<T, _>)?;
        value.freeze(f)
    }
}

impl<T: Freeze + ?Sized> Freeze for RwLock<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        let value = self.try_read().map_err(lock_error::<T, _>)?;
        value.freeze(f)
    }
}
