//! Freezing a Rust value into the canonical form of its structure: [`freeze`], [`Freeze`],
//! [`Label`]; the std impls. The walk itself is [`Freezer`]'s.
//!
//! The walk builds a [`Graph`](super::Graph): a node per value, labelled by what the value
//! is, with its parts as children — in order, or, for a set or map, as a multiset. A value
//! reached through an `Rc` or `Arc` is one node whatever the number of paths to it (identity
//! by pointer), so a cycle through shared pointers is a cycle of the graph; the graph's
//! normalization then compares cycles by what they unfold to, and the canonical form of the
//! root is the frozen value. Before that, each struct's fields are drawn into its node where
//! they can be ([`Folded`]: its scalars into its label, a sequence, `Option` or `Result`
//! field's parts, or its one set's members, into its children), so that the graph has a node
//! per struct, not per field, and no comparison changes.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::{Arc, Mutex, RwLock, TryLockError};

use super::{Canonical, Error, Freezer};

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
    /// A struct with fields drawn into its node (see [`Folded`]).
    Folded(Folded),
}

/// A struct node with fields drawn in, so that the graph to normalize has one node per
/// struct, not one per field:
///
/// - its *bare* fields, those without parts (a scalar, a string, `None`, an empty sequence),
///   are drawn into the label, each with its position;
/// - if its one other field is a set or a map, the node is a set node of that field's
///   members (or entries);
/// - else the first other field that is a sequence, a tuple, or an `Option` or `Result`
///   variant is drawn in: the node's children are the struct's other fields with that
///   field's parts in its place.
///
/// Which fields are drawn in depends only on the fields' labels, kinds and numbers of
/// parts, which equal structs share, so equal structs are folded alike and forms compare as
/// they would unfolded. Only `freeze` makes these labels.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Folded {
    pub(super) path: &'static str,
    /// The bare fields, by position.
    pub(super) bare: Arc<[(u32, Label)]>,
    /// The field drawn in: its position, its label's code in [`FOLDABLE`] and its number of
    /// parts.
    pub(super) field: Option<(u32, u8, u32)>,
}

/// The labels of the fields a struct draws in, by their code in [`Folded`]: the sequences
/// first, then the sets.
pub(super) const FOLDABLE: [Label; 8] = [
    Label::Seq,
    Label::Tuple,
    Label::None,
    Label::Some,
    Label::Ok,
    Label::Err,
    Label::Set,
    Label::Map,
];

/// The first code in [`FOLDABLE`] of a set.
pub(super) const SETS: u8 = 6;

impl Folded {
    /// The struct's path.
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The struct's bare fields (without parts), drawn into the label: each position among
    /// the struct's fields with the field's label.
    pub fn bare(&self) -> impl ExactSizeIterator<Item = (usize, &Label)> {
        self.bare.iter().map(|(at, label)| (*at as usize, label))
    }

    /// The position among the struct's fields of the field whose parts are drawn in, if any.
    pub fn at(&self) -> Option<usize> {
        self.field.map(|(at, _, _)| at as usize)
    }

    /// The label of the field whose parts are drawn in, if any: [`Label::Seq`],
    /// [`Label::Tuple`], [`Label::None`], [`Label::Some`], [`Label::Ok`], [`Label::Err`],
    /// or, for a set node, [`Label::Set`] or [`Label::Map`].
    pub fn field(&self) -> Option<Label> {
        self.field
            .map(|(_, code, _)| FOLDABLE[code as usize].clone())
    }

    /// How many parts the field drawn in has (0 without one).
    pub fn len(&self) -> usize {
        self.field.map_or(0, |(_, _, len)| len as usize)
    }

    /// Whether the field drawn in has no parts, or there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    /// Not part of the API. Reads what freezing this value reads first, for a value that
    /// misses the cache there (a shared pointer: its table slot and its value's counts), so
    /// that the misses of a run of parts overlap.
    #[doc(hidden)]
    #[inline]
    fn __read_ahead(&self, _: &Freezer) {}
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
    let (graph, root, labels) = f.into_graph(root);
    let normal = graph.normalize()?;
    Ok(normal
        .canonical(root)
        .relabel(|rank| labels[rank as usize].clone()))
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

/// Known by its value's address, as an `Rc` is: `&x` freezes as `x` does, a value reached
/// by many references is walked once, and references can close a cycle (values in an arena
/// linked by `Cell<Option<&T>>`). A value is known by its address, its type's name and its
/// size (a struct and its first field share an address).
impl<T: Freeze + ?Sized> Freeze for &T {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.referred(*self)
    }
}

impl<T: Freeze + ?Sized> Freeze for Box<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        // A list of boxes a million deep is walked a million calls deep.
        crate::stack::grown(|| (**self).freeze(f))
    }

    #[inline]
    fn __read_ahead(&self, f: &Freezer) {
        (**self).__read_ahead(f);
    }
}

impl<T: Freeze> Freeze for [T] {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.slice(self)
    }
}

impl<T: Freeze, const N: usize> Freeze for [T; N] {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.slice(self)
    }
}

impl<T: Freeze> Freeze for Vec<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.slice(self)
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

    #[inline]
    fn __read_ahead(&self, f: &Freezer) {
        if let Some(v) = self {
            v.__read_ahead(f);
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

/// A node per value, not per pointer: every `Rc` to one value is an edge to one node, so a
/// cycle through `Rc`s is a cycle of the graph. A value other pointers share is queued with
/// a clone of the pointer and walked in a loop, breadth-first; one this pointer alone holds is
/// walked when first met, or, past 64 pointers deep, queued too: hence `'static`. An `Rc`
/// that is its value's only reference (strong count 1, no `Weak`) is not entered in the table
/// of addresses seen, as no other path can reach its value: a list or a tree held by its root
/// alone fills no such table.
impl<T: Freeze + ?Sized + 'static> Freeze for Rc<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.shared(self, Rc::as_ptr(self).cast::<()>() as usize, || {
            Rc::strong_count(self) == 1 && Rc::weak_count(self) == 0
        })
    }

    #[inline]
    fn __read_ahead(&self, f: &Freezer) {
        f.read_ahead(Rc::as_ptr(self).cast::<()>() as usize);
        std::hint::black_box(Rc::strong_count(self));
    }
}

/// Walked as an [`Rc`] is.
impl<T: Freeze + ?Sized + 'static> Freeze for Arc<T> {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.shared(self, Arc::as_ptr(self).cast::<()>() as usize, || {
            Arc::strong_count(self) == 1 && Arc::weak_count(self) == 0
        })
    }

    #[inline]
    fn __read_ahead(&self, f: &Freezer) {
        f.read_ahead(Arc::as_ptr(self).cast::<()>() as usize);
        std::hint::black_box(Arc::strong_count(self));
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

/// Locked with `try_lock` while its contents are walked, and only then: a freeze takes no
/// snapshot of a graph other threads change meanwhile (each lock's contents are seen as they
/// were when it was walked); hold one lock over the whole graph for a consistent form.
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
