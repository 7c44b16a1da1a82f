//! Freezing a Rust value into the canonical form of its structure: [`freeze`], [`Freeze`].
//!
//! The walk builds a [`Graph`]: a node per value, labelled by what the value is, with its
//! parts as ordered children. A value reached through an `Rc` or `Arc` is one node whatever
//! the number of paths to it (identity by pointer), so a cycle through shared pointers is a
//! cycle of the graph; the graph's normalization then compares cycles by what they unfold to,
//! and the canonical form of the root is the frozen value.
//!
//! Sets and maps are set nodes: their members compared as sets, in any order. Work in
//! progress (issue 22, `docs/freeze-design.md`): a graph with set nodes is refined by rounds,
//! not yet in O(m log n).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::{Arc, Mutex, RwLock, TryLockError};

use rustc_hash::FxHashMap;

use super::{Canonical, Error, Graph};

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
    /// A struct, by type name; its fields in order.
    Struct(&'static str),
    /// An enum variant, by type and variant name; its fields in order.
    Variant(&'static str, &'static str),
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
    /// A map; its entries as a set.
    Map,
    /// A set; its members as a set.
    Set,
    /// A map's entry: its key and value.
    Entry,
    /// A `Weak` whose value is gone.
    Dead,
    /// A shared pointer (`Rc`, `Arc`, a live `Weak`): the value it points to, which the
    /// walk follows once; never in a frozen form (it is the value).
    Shared,
}

/// Builds the graph of a value: [`Freeze`] impls call it for their parts.
#[derive(Default)]
pub struct Freezer {
    labels: Vec<Label>,
    children: Vec<Vec<u32>>,
    /// Which nodes are sets.
    sets: Vec<bool>,
    /// The node of each shared pointer seen, by address.
    shared: FxHashMap<usize, u32>,
}

impl Freezer {
    /// A node without parts.
    pub fn leaf(&mut self, label: Label) -> usize {
        self.push(label, Vec::new())
    }

    /// A node whose parts `parts` freezes, in order.
    ///
    /// # Errors
    /// What freezing a part returns.
    pub fn node(
        &mut self,
        label: Label,
        parts: impl FnOnce(&mut Self) -> Result<Vec<usize>, Error>,
    ) -> Result<usize, Error> {
        let parts = parts(self)?;
        Ok(self.push(label, parts))
    }

    /// A set node: its members, frozen by `members`, compared as a set (order and repeats
    /// do not count).
    ///
    /// # Errors
    /// What freezing a member returns.
    pub fn set(
        &mut self,
        label: Label,
        members: impl FnOnce(&mut Self) -> Result<Vec<usize>, Error>,
    ) -> Result<usize, Error> {
        let node = self.node(label, members)?;
        self.sets[node] = true;
        Ok(node)
    }

    /// A node of a sequence of parts.
    ///
    /// # Errors
    /// What freezing a part returns.
    pub fn seq<'a, T: Freeze + 'a>(
        &mut self,
        label: Label,
        items: impl IntoIterator<Item = &'a T>,
    ) -> Result<usize, Error> {
        self.node(label, |f| items.into_iter().map(|i| i.freeze(f)).collect())
    }

    /// The node of the value a shared pointer at `address` points to: frozen on the first
    /// visit, the same node on every later one (so a cycle closes on it).
    ///
    /// # Errors
    /// What freezing the value returns.
    pub fn shared<T: Freeze + ?Sized>(
        &mut self,
        address: usize,
        value: &T,
    ) -> Result<usize, Error> {
        if let Some(&node) = self.shared.get(&address) {
            return Ok(node as usize);
        }
        let node = self.push(Label::Shared, Vec::new());
        self.shared.insert(address, node as u32);
        // A list a million links long is walked a million calls deep.
        let target = crate::stack::grown(|| value.freeze(self))?;
        self.children[node] = vec![target as u32];
        Ok(node)
    }

    fn push(&mut self, label: Label, parts: Vec<usize>) -> usize {
        self.labels.push(label);
        self.sets.push(false);
        self.children
            .push(parts.into_iter().map(|p| p as u32).collect());
        self.labels.len() - 1
    }

    /// The node a `Shared` chain ends on (itself if the chain is a cycle of pointers only,
    /// which no value builds: a cycle needs a value to hold the pointer back).
    fn resolve(&self, mut node: u32) -> u32 {
        let start = node;
        while self.labels[node as usize] == Label::Shared {
            node = self.children[node as usize][0];
            if node == start {
                break;
            }
        }
        node
    }

    /// The graph, each edge into a shared pointer moved onto the value it points to.
    fn into_graph(self) -> Graph<Label> {
        let mut graph = Graph::new();
        for (i, label) in self.labels.iter().enumerate() {
            let parts: Vec<usize> = self.children[i]
                .iter()
                .map(|&c| self.resolve(c) as usize)
                .collect();
            match self.sets[i] {
                true => graph.add_set_node(label.clone(), parts),
                false => graph.add_node(label.clone(), parts),
            };
        }
        graph
    }
}

/// A value that can be frozen: walked into the graph of its structure (see [`freeze`]).
///
/// Implemented for scalars, strings, tuples, arrays, slices, `Vec`, `VecDeque`, `Option`,
/// `Result`, `Box`, references, `Rc`, `Arc`, their `Weak`s, `Cell`, `RefCell`, `Mutex`,
/// `RwLock`, `BTreeMap` and `BTreeSet`. Implement it for a type of your own by freezing its
/// parts in order under a label naming it:
///
/// ```
/// use steadfast::norm::{freeze, Error, Freeze, Freezer, Label};
///
/// struct Point { x: i32, y: i32 }
///
/// impl Freeze for Point {
///     fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
///         f.node(Label::Struct("Point"), |f| Ok(vec![self.x.freeze(f)?, self.y.freeze(f)?]))
///     }
/// }
///
/// assert_eq!(freeze(&Point { x: 1, y: 2 })?, freeze(&Point { x: 1, y: 2 })?);
/// assert_ne!(freeze(&Point { x: 1, y: 2 })?, freeze(&Point { x: 2, y: 1 })?);
/// # Ok::<(), Error>(())
/// ```
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
///         f.node(Label::Struct("Node"), |f| Ok(vec![self.value.freeze(f)?, self.next.freeze(f)?]))
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
    let mut f = Freezer::default();
    let root = value.freeze(&mut f)?;
    let root = f.resolve(root as u32) as usize;
    let graph = f.into_graph();
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
        (**self).freeze(f)
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

/// A set's members, as a set node.
fn members<'a, T: Freeze + 'a>(
    f: &mut Freezer,
    items: impl IntoIterator<Item = &'a T>,
) -> Result<usize, Error> {
    f.set(Label::Set, |f| {
        items.into_iter().map(|i| i.freeze(f)).collect()
    })
}

/// A map's entries, as a set node.
fn entries<'a, K: Freeze + 'a, V: Freeze + 'a>(
    f: &mut Freezer,
    items: impl IntoIterator<Item = (&'a K, &'a V)>,
) -> Result<usize, Error> {
    f.set(Label::Map, |f| {
        items
            .into_iter()
            .map(|(k, v)| f.node(Label::Entry, |f| Ok(vec![k.freeze(f)?, v.freeze(f)?])))
            .collect()
    })
}

impl<T: Freeze> Freeze for BTreeSet<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        members(f, self)
    }
}

impl<T: Freeze, S> Freeze for HashSet<T, S> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        members(f, self)
    }
}

impl<K: Freeze, V: Freeze> Freeze for BTreeMap<K, V> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        entries(f, self)
    }
}

impl<K: Freeze, V: Freeze, S> Freeze for HashMap<K, V, S> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        entries(f, self)
    }
}

impl<T: Freeze> Freeze for Option<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        match self {
            None => Ok(f.leaf(Label::None)),
            Some(v) => f.node(Label::Some, |f| Ok(vec![v.freeze(f)?])),
        }
    }
}

impl<T: Freeze, E: Freeze> Freeze for Result<T, E> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        match self {
            Ok(v) => f.node(Label::Ok, |f| Ok(vec![v.freeze(f)?])),
            Err(e) => f.node(Label::Err, |f| Ok(vec![e.freeze(f)?])),
        }
    }
}

macro_rules! tuples {
    ($(($($t:ident $i:tt),+))*) => {$(
        impl<$($t: Freeze),+> Freeze for ($($t,)+) {
            fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
                f.node(Label::Tuple, |f| Ok(vec![$(self.$i.freeze(f)?),+]))
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

impl<T: Freeze + ?Sized> Freeze for Rc<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.shared(Rc::as_ptr(self).cast::<()>() as usize, &**self)
    }
}

impl<T: Freeze + ?Sized> Freeze for Arc<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.shared(Arc::as_ptr(self).cast::<()>() as usize, &**self)
    }
}

impl<T: Freeze> Freeze for std::rc::Weak<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        match self.upgrade() {
            Some(rc) => rc.freeze(f),
            None => Ok(f.leaf(Label::Dead)),
        }
    }
}

impl<T: Freeze> Freeze for std::sync::Weak<T> {
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

impl<T: Freeze + ?Sized> Freeze for Mutex<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        let type_name = std::any::type_name::<T>();
        let value = self.try_lock().map_err(|e| match e {
            TryLockError::WouldBlock => Error::Locked { type_name },
            TryLockError::Poisoned(_) => Error::Poisoned { type_name },
        })?;
        value.freeze(f)
    }
}

impl<T: Freeze + ?Sized> Freeze for RwLock<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        let type_name = std::any::type_name::<T>();
        let value = self.try_read().map_err(|e| match e {
            TryLockError::WouldBlock => Error::Locked { type_name },
            TryLockError::Poisoned(_) => Error::Poisoned { type_name },
        })?;
        value.freeze(f)
    }
}
