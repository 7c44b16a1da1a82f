//! The walk that freezes a value ([`Freezer`]) and the graph it builds: a node per value,
//! each struct folded (see [`Folded`]), each pointer an edge to its value's node.

use std::any::{Any, TypeId};
use std::collections::hash_map::Entry;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::freeze::{Folded, Freeze, Label, FOLDABLE, SETS};
use super::seen::Seen;
use super::{index, Error, Graph};

/// The bit that marks a [`Freezer`]'s number as a shared pointer's, not a node's.
const POINTER: u32 = 1 << 31;
/// The bit of a node's label id that makes it a set node.
const SET: u32 = 1 << 31;
/// No node (yet).
const NONE: u32 = u32::MAX;

/// The labels without a value: the first label ids of every [`Freezer`], in this order
/// (see [`kind`]).
const KINDS: [Label; 11] = [
    Label::Unit,
    Label::Tuple,
    Label::Seq,
    Label::None,
    Label::Some,
    Label::Ok,
    Label::Err,
    Label::Map,
    Label::Set,
    Label::Entry,
    Label::Dead,
];

/// The id of a label without a value: its place in [`KINDS`].
#[inline(always)]
fn kind(label: &Label) -> Option<u32> {
    Some(match label {
        Label::Unit => 0,
        Label::Tuple => 1,
        Label::Seq => 2,
        Label::None => 3,
        Label::Some => 4,
        Label::Ok => 5,
        Label::Err => 6,
        Label::Map => 7,
        Label::Set => 8,
        Label::Entry => 9,
        Label::Dead => 10,
        _ => return None,
    })
}

/// A node the walk made: its label (an id in [`Freezer::labels`], with [`SET`] for a set
/// node) and its parts, `parts[start..][..len]`.
#[derive(Clone, Copy)]
struct Made {
    label: u32,
    start: u32,
    len: u32,
}

/// Builds the graph of a value: [`Freeze`] impls call it for their parts.
///
/// A node is reserved before its parts are walked and its parts are stored flat, so that
/// freezing a value costs no allocation per node; equal scalar leaves are one node (a path
/// is known by its address, so two equal paths at two addresses may give two leaves, which
/// normalizing merges). The numbers it hands out are nodes, or shared pointers (their high
/// bit set; an `Rc`'s, an `Arc`'s or a reference's): a pointer is an edge to its value's
/// node, which is not known while a cycle through it is being walked, nor while its value
/// waits to be walked.
pub struct Freezer {
    nodes: Vec<Made>,
    /// Each label id's label: a node keeps 4 bytes, not a `Label`'s 48. An id stands for one
    /// label, but a label may have more than one id (a path is known by its address, which
    /// equal paths need not share): ids only share leaves and say what a node is.
    labels: Vec<Label>,
    /// The ids of the labels with a value, by value.
    values: FxHashMap<Label, u32>,
    /// The ids of struct (`false`) and variant (`true`) paths, by address and length.
    paths: FxHashMap<(usize, usize, bool), u32>,
    /// The ids of small numbers and booleans (see [`Freezer::intern`]), once one is met.
    small: Vec<u32>,
    /// The leaves of small numbers and booleans, as [`small`](Self::small), once made.
    small_leaves: Vec<u32>,
    /// The path interned last, and its id.
    last_path: ((usize, usize, bool), u32),
    /// Each label's leaf node, by label id.
    leaves: Vec<u32>,
    /// Each node's parts, flat: nodes, or pointers.
    parts: Vec<u32>,
    /// The parts of the nodes being walked, innermost last.
    walking: Vec<u32>,
    /// The pointer of each shared value seen, by address (an `Rc` its value's only
    /// reference takes no place: nothing else leads to its value).
    shared: Seen,
    /// What each pointer points to, once walked: a node, or a pointer (an `Rc<Rc<_>>`).
    pointees: Vec<u32>,
    /// Shared values still to walk, first in first out: each pointer, with the line its
    /// value waits in. A value other references reach waits (so that values are numbered
    /// breadth-first, as the canonical form is, and the forms' passes over the graph run
    /// through it in order), and so does one met [`NESTED`] pointers deep (so that a list a
    /// million links long does not take a million frames of stack).
    waiting: VecDeque<(u32, u32)>,
    /// The lines values wait in: one per pointer type, a clone of each pointer, in the
    /// order of [`waiting`](Self::waiting); with the function that walks a line's next.
    lines: Vec<(TypeId, Box<dyn Any>, Walk)>,
    /// How many shared values are being walked, one inside another.
    nested: u32,
    /// The pointer of each value reached through a reference, by its address, its type's
    /// name and its size (a struct and its first field share an address).
    referred: FxHashMap<(usize, usize, usize), u32>,
}

/// How many shared values are walked one inside another before the next waits: bounds the
/// stack a walk takes (about 600 bytes a level in a release build, 5 KiB in a debug one;
/// a thread short of it continues on a new segment, see [`crate::stack`]).
const NESTED: u32 = 64;

/// How many labels [`Freezer::intern`] finds without hashing: `Uint`s below 256, `Int`s in
/// `-128..128`, the two `Bool`s.
const SMALL: usize = 514;

/// The place of a small number or a boolean in [`Freezer::small`] and
/// [`Freezer::small_leaves`].
#[inline]
fn small(label: &Label) -> Option<usize> {
    match *label {
        Label::Uint(v) if v < 256 => Some(v as usize),
        Label::Int(v) if (-128..128).contains(&v) => Some((v + 384) as usize),
        Label::Bool(b) => Some(512 + usize::from(b)),
        _ => None,
    }
}

/// A shared pointer, whose value is walked through it.
pub(super) trait Deferred: 'static {
    fn walk(&self, f: &mut Freezer) -> Result<usize, Error>;
    /// Reads the value's counts, which lie beside the value (see [`walk_next`]).
    fn touch(&self);
}

impl<T: Freeze + ?Sized + 'static> Deferred for Rc<T> {
    fn walk(&self, f: &mut Freezer) -> Result<usize, Error> {
        (**self).freeze(f)
    }
    fn touch(&self) {
        std::hint::black_box(Rc::strong_count(self));
    }
}

impl<T: Freeze + ?Sized + 'static> Deferred for Arc<T> {
    fn walk(&self, f: &mut Freezer) -> Result<usize, Error> {
        (**self).freeze(f)
    }
    fn touch(&self) {
        std::hint::black_box(Arc::strong_count(self));
    }
}

/// How far ahead of the walk it reads what it will read first: in a run of parts (see
/// [`Run`] and [`Freezer::counted`]), and in a line of values waiting (see [`walk_next`]). On a graph larger
/// than the cache these reads miss; a few issued together take little longer than one.
const AHEAD: usize = 8;

/// Parts to walk, the next [`AHEAD`] of them read ahead (see [`Freezer::run`]).
///
/// The first reads of a run of shared pointers (a table slot, a value's counts) miss the
/// cache on a large graph. Issued together, the misses overlap, where walking each pointer
/// in turn would wait for one after another.
struct Run<I, It> {
    due: [Option<I>; AHEAD],
    len: usize,
    rest: It,
}

impl<I: Copy, It: Iterator<Item = I>> Run<I, It> {
    /// Takes the next group of parts and reads each ahead.
    #[inline]
    fn read(&mut self, f: &Freezer, read: impl Fn(&Freezer, I)) {
        self.len = 0;
        for item in self.rest.by_ref().take(AHEAD) {
            read(f, item);
            self.due[self.len] = Some(item);
            self.len += 1;
        }
    }
}

/// Walks the value of the next pointer in a line.
type Walk = fn(&mut Freezer, usize) -> Result<usize, Error>;

/// Walks the value of the next pointer in line `line`, which holds `P`s, after reading the
/// counts of the value [`AHEAD`] places behind it in line: by its turn, they (and the start of
/// the value, beside them) are in the cache.
fn walk_next<P: Deferred>(f: &mut Freezer, line: usize) -> Result<usize, Error> {
    let waiting = f.lines[line]
        .1
        .downcast_mut::<VecDeque<P>>()
        .expect("steadfast::norm: a line holds one type");
    let next = waiting
        .pop_front()
        .expect("steadfast::norm: a line holds its pointers");
    if let Some(ahead) = waiting.get(AHEAD) {
        ahead.touch();
    }
    next.walk(f)
}

impl Freezer {
    pub(super) fn new() -> Self {
        Freezer {
            nodes: Vec::new(),
            labels: KINDS.to_vec(),
            values: FxHashMap::default(),
            paths: FxHashMap::default(),
            last_path: ((0, 0, false), NONE),
            small: Vec::new(),
            small_leaves: Vec::new(),
            leaves: vec![NONE; KINDS.len()],
            parts: Vec::new(),
            walking: Vec::new(),
            shared: Seen::new(),
            pointees: Vec::new(),
            waiting: VecDeque::new(),
            lines: Vec::new(),
            nested: 0,
            referred: FxHashMap::default(),
        }
    }

    /// Walks `value` and every shared value it reaches.
    pub(super) fn walk<T: Freeze + ?Sized>(&mut self, value: &T) -> Result<u32, Error> {
        let root = value.freeze(self)?;
        let root = self.made(root)?;
        while let Some((pointer, line)) = self.waiting.pop_front() {
            let walk = self.lines[line as usize].2;
            let target = walk(self, line as usize)?;
            self.pointees[pointer as usize] = self.made(target)?;
        }
        Ok(root)
    }

    /// A node without parts (one node for equal scalar labels).
    #[inline]
    pub fn leaf(&mut self, label: Label) -> usize {
        // A small number's or a boolean's leaf, once made, is found without interning.
        let small = small(&label);
        if let Some(&node) = small.and_then(|s| self.small_leaves.get(s)) {
            if node != NONE {
                return node as usize;
            }
        }
        let id = self.intern(label);
        let node = match self.leaves[id as usize] {
            NONE => {
                let node = self.reserve(id);
                self.leaves[id as usize] = index(node);
                node
            }
            node => node as usize,
        };
        if let Some(s) = small {
            if self.small_leaves.is_empty() {
                self.small_leaves = vec![NONE; SMALL];
            }
            self.small_leaves[s] = index(node);
        }
        node
    }

    /// A node of `parts`, in order (a struct's fields, a tuple's items).
    ///
    /// # Errors
    /// What freezing a part returns.
    #[inline]
    pub fn node(&mut self, label: Label, parts: &[&dyn Freeze]) -> Result<usize, Error> {
        self.counted(
            label,
            parts,
            |f, part| (**part).__read_ahead(f),
            |part, f| (**part).freeze(f),
        )
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
        let read = |f: &Self, item: &T| item.__read_ahead(f);
        let run = self.run(items, read);
        self.compound(label, false, |f| f.walk_run(run, read, Self::part))
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
        let read = |f: &Self, member: &T| member.__read_ahead(f);
        let run = self.run(members, read);
        self.compound(label, true, |f| f.walk_run(run, read, Self::part))
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
        let read = |f: &Self, (k, v): (&K, &V)| {
            k.__read_ahead(f);
            v.__read_ahead(f);
        };
        let run = self.run(entries, read);
        self.compound(label, true, |f| {
            f.walk_run(run, read, |f, (k, v)| {
                let entry = f.compound(Label::Entry, false, |f| {
                    f.part(k)?;
                    f.part(v)
                })?;
                f.walking.push(index(entry));
                Ok(())
            })
        })
    }

    /// The pointer to the value `pointer` (at `address`) points to: one for every pointer to
    /// it (so a cycle closes on it), its value walked once. A pointer that is the only
    /// reference to its value (`alone`, asked only on the first visit: it reads the value's
    /// counts) takes no place in the table of addresses: nothing else can lead to its value.
    ///
    /// A value alone is walked at once, while its counts are in the cache, up to [`NESTED`]
    /// pointers deep, and waits beyond, so that a list a million links long takes no more
    /// stack than [`NESTED`] links. Any other value waits: values are then walked, and
    /// numbered, breadth-first, the order the canonical form numbers them in, so that the
    /// passes that normalize the graph and take its form read it nearly in order. A clone
    /// of the pointer is held while the value is walked or waits to be: if the walk meets
    /// the same pointer again, its value is not alone.
    pub(super) fn shared<P: Deferred + Clone>(
        &mut self,
        pointer: &P,
        address: usize,
        alone: impl FnOnce() -> bool,
    ) -> Result<usize, Error> {
        let id = index(self.pointees.len());
        let alone = match self.shared.find(address) {
            Ok(seen) => return Ok((POINTER | seen) as usize),
            Err(vacant) => {
                alone() || {
                    vacant.insert(id);
                    false
                }
            }
        };
        assert!(id < POINTER, "steadfast::norm: at most 2^31 shared values");
        self.pointees.push(NONE);
        if alone && self.nested < NESTED {
            let held = pointer.clone();
            self.nested += 1;
            let walked = self.walk_now(id, |f| held.walk(f));
            self.nested -= 1;
            walked?;
        } else {
            self.wait(id, pointer.clone());
        }
        Ok((POINTER | id) as usize)
    }

    /// The pointer to the value `value` refers to: one for every reference to it, its value
    /// walked once, so that a value reached by many paths of references is one node (not
    /// walked once a path, which can be exponentially many), and a cycle of references
    /// (values in an arena linked by `Cell<Option<&T>>`) closes on it instead of being walked
    /// forever. A value is known by its address, its type's name and its size: a struct and
    /// its first field, or a slice and its prefix, share an address, not both. It is walked at
    /// once (a reference cannot wait: the lines hold `'static` pointers), on a stack that
    /// grows as deep as a chain of references goes.
    pub(super) fn referred<T: Freeze + ?Sized>(&mut self, value: &T) -> Result<usize, Error> {
        let key = (
            (value as *const T).cast::<()>() as usize,
            std::any::type_name::<T>().as_ptr() as usize,
            std::mem::size_of_val(value),
        );
        let id = index(self.pointees.len());
        match self.referred.entry(key) {
            Entry::Occupied(seen) => return Ok((POINTER | *seen.get()) as usize),
            Entry::Vacant(entry) => entry.insert(id),
        };
        assert!(id < POINTER, "steadfast::norm: at most 2^31 shared values");
        self.pointees.push(NONE);
        self.walk_now(id, |f| value.freeze(f))?;
        Ok((POINTER | id) as usize)
    }

    /// Reads the slot of the table of addresses that a lookup of `address` reads first, so
    /// that the lookup, soon after, finds it in the cache (see [`Freezer::run`]).
    #[inline]
    pub(super) fn read_ahead(&self, address: usize) {
        self.shared.touch(address);
    }

    /// Walks the value of pointer `id` now, on a stack that grows as deep as the walk goes.
    fn walk_now(
        &mut self,
        id: u32,
        walk: impl FnOnce(&mut Self) -> Result<usize, Error>,
    ) -> Result<(), Error> {
        let target = crate::stack::grown(|| walk(self))?;
        self.pointees[id as usize] = self.made(target)?;
        Ok(())
    }

    /// Puts `pointer`'s value in line to be walked.
    fn wait<P: Deferred>(&mut self, id: u32, pointer: P) {
        let ty = TypeId::of::<P>();
        let line = match self.lines.iter().position(|(t, ..)| *t == ty) {
            Some(line) => line,
            None => {
                let line: Box<dyn Any> = Box::new(VecDeque::<P>::new());
                self.lines.push((ty, line, walk_next::<P>));
                self.lines.len() - 1
            }
        };
        self.lines[line]
            .1
            .downcast_mut::<VecDeque<P>>()
            .expect("steadfast::norm: a line holds one type")
            .push_back(pointer);
        self.waiting.push_back((id, index(line)));
    }

    /// An id of `label`: a kind's fixed one, a path's by its address, any other by value.
    ///
    /// Inlined, so that a label the caller names (a kind, a derived struct's path) is found
    /// without a call: nodes of one type tend to come one after another, and the path
    /// interned last is kept.
    #[inline(always)]
    fn intern(&mut self, label: Label) -> u32 {
        if let Some(id) = kind(&label) {
            return id;
        }
        if let Label::Struct(path) | Label::Variant(path) = label {
            let key = (
                path.as_ptr() as usize,
                path.len(),
                matches!(label, Label::Variant(_)),
            );
            if self.last_path.0 == key {
                return self.last_path.1;
            }
        }
        self.intern_new(label)
    }

    /// An id of a label not found by [`intern`](Self::intern)'s fast paths.
    #[inline(never)]
    fn intern_new(&mut self, label: Label) -> u32 {
        let next = index(self.labels.len());
        let id = match label {
            Label::Struct(path) | Label::Variant(path) => {
                let key = (
                    path.as_ptr() as usize,
                    path.len(),
                    matches!(label, Label::Variant(_)),
                );
                let id = *self.paths.entry(key).or_insert(next);
                self.last_path = (key, id);
                id
            }
            ref label => {
                // Small numbers and booleans, the commonest scalars, are found without
                // hashing.
                let small = small(label);
                if let Some(id) = small.and_then(|s| self.small.get(s)).copied() {
                    if id != NONE {
                        return id;
                    }
                }
                let id = match self.values.get(label) {
                    Some(&id) => id,
                    None => {
                        self.values.insert(label.clone(), next);
                        next
                    }
                };
                if let Some(s) = small {
                    if self.small.is_empty() {
                        self.small = vec![NONE; SMALL];
                    }
                    self.small[s] = id;
                }
                id
            }
        };
        if id == next {
            assert!(next < SET, "steadfast::norm: at most 2^31 distinct labels");
            self.labels.push(label);
            self.leaves.push(NONE);
        }
        id
    }

    fn reserve(&mut self, label: u32) -> usize {
        let node = self.nodes.len();
        assert!(
            node < POINTER as usize,
            "steadfast::norm: at most 2^31 nodes"
        );
        self.nodes.push(Made {
            label,
            start: 0,
            len: 0,
        });
        node
    }

    /// A sequence node of a slice's items: counted, so that its parts need no copy.
    pub(super) fn slice<T: Freeze>(&mut self, items: &[T]) -> Result<usize, Error> {
        self.counted(Label::Seq, items, |f, item| item.__read_ahead(f), T::freeze)
    }

    /// A run of parts, its first [`AHEAD`] read ahead ([`Freeze::__read_ahead`]): done
    /// before the node of the run is made, as the reads then overlap best.
    #[inline]
    fn run<I: Copy, It: Iterator<Item = I>>(
        &self,
        items: impl IntoIterator<IntoIter = It>,
        read: impl Fn(&Self, I),
    ) -> Run<I, It> {
        let mut run = Run {
            due: [None; AHEAD],
            len: 0,
            rest: items.into_iter(),
        };
        run.read(self, read);
        run
    }

    /// Walks a [`run`](Self::run)'s parts in order, [`AHEAD`] at a time, each group read
    /// ahead before any of it is walked.
    #[inline]
    fn walk_run<I: Copy, It: Iterator<Item = I>>(
        &mut self,
        mut run: Run<I, It>,
        read: impl Fn(&Self, I),
        mut walk: impl FnMut(&mut Self, I) -> Result<(), Error>,
    ) -> Result<(), Error> {
        loop {
            for item in run.due.into_iter().take(run.len).flatten() {
                walk(self, item)?;
            }
            if run.len < AHEAD {
                return Ok(());
            }
            run.read(self, &read);
        }
    }

    /// A node of `items`, each frozen (by `freeze`) into its slot: the slots are taken in
    /// [`parts`](Self::parts) before the walk (the parts' own parts go after them), so that
    /// the parts are not gathered in [`walking`](Self::walking) and copied. The items are
    /// walked [`AHEAD`] at a time, each group read ahead (by `read`) before any of it is
    /// walked, the first before the node is made, as the reads then overlap best (see
    /// [`Run`]).
    #[inline]
    fn counted<X>(
        &mut self,
        label: Label,
        items: &[X],
        read: impl Fn(&Self, &X),
        freeze: impl Fn(&X, &mut Self) -> Result<usize, Error>,
    ) -> Result<usize, Error> {
        for item in items.iter().take(AHEAD) {
            read(self, item);
        }
        let label = self.intern(label);
        let node = self.reserve(label);
        let start = self.parts.len();
        let len = items.len();
        index(start + len);
        // Pushed one by one: a node has a few parts, too few to pay for a `memset` call.
        self.parts.reserve(len);
        for _ in 0..len {
            self.parts.push(NONE);
        }
        for (k, group) in items.chunks(AHEAD).enumerate() {
            if k > 0 {
                for item in group {
                    read(self, item);
                }
            }
            for (at, item) in group.iter().enumerate() {
                let part = freeze(item, self)?;
                // On an error the node keeps no parts, and its slots are left to no one.
                self.parts[start + k * AHEAD + at] = self.made(part)?;
            }
        }
        self.nodes[node].start = start as u32;
        self.nodes[node].len = len as u32;
        Ok(node)
    }

    fn part<T: Freeze + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let node = value.freeze(self)?;
        let node = self.made(node)?;
        self.walking.push(node);
        Ok(())
    }

    /// `node`, if this freezer made it (a `Freeze` impl may return any number).
    #[inline]
    fn made(&self, node: usize) -> Result<u32, Error> {
        let known = match u32::try_from(node) {
            Ok(n) if n & POINTER != 0 => ((n & !POINTER) as usize) < self.pointees.len(),
            Ok(n) => (n as usize) < self.nodes.len(),
            Err(_) => false,
        };
        match known {
            true => Ok(node as u32),
            false => Err(Error::UnknownNode {
                node,
                nodes: self.nodes.len(),
            }),
        }
    }

    fn compound(
        &mut self,
        label: Label,
        set: bool,
        walk: impl FnOnce(&mut Self) -> Result<(), Error>,
    ) -> Result<usize, Error> {
        let label = self.intern(label) | if set { SET } else { 0 };
        let node = self.reserve(label);
        let from = self.walking.len();
        if let Err(e) = walk(self) {
            self.walking.truncate(from);
            return Err(e);
        }
        let start = index(self.parts.len());
        // Copied one by one: a node has a few parts, too few to pay for a `memcpy` call.
        for &part in &self.walking[from..] {
            self.parts.push(part);
        }
        self.walking.truncate(from);
        self.nodes[node].start = start;
        self.nodes[node].len = index(self.parts.len()) - start;
        Ok(node)
    }

    /// The graph the walk made, each pointer an edge to the node of its value, each struct
    /// with its fields drawn in (see [`Folded`]), without the nodes only a struct drew in;
    /// the node `root` became; and the graph's labels. A node is labelled by its label's
    /// rank among them, in `Label`'s order, so that normalizing compares and hashes
    /// numbers, and orders a set's members as their labels would.
    pub(super) fn into_graph(self, root: u32) -> (Graph<u32>, usize, Vec<Label>) {
        let Freezer {
            mut nodes,
            mut labels,
            mut parts,
            pointees,
            ..
        } = self;
        let pointees = resolve(&pointees, &mut nodes, &mut parts, &mut labels);
        let target = |p: u32| match p & POINTER {
            0 => p,
            _ => pointees[(p & !POINTER) as usize],
        };
        let n = nodes.len();
        let kids = |node: usize| {
            let Made { start, len, .. } = nodes[node];
            &parts[start as usize..][..len as usize]
        };
        // Each label's code in `FOLDABLE`, for the nodes a struct draws in.
        let codes: Vec<Option<u8>> = labels
            .iter()
            .map(|l| FOLDABLE.iter().position(|f| f == l).map(|c| c as u8))
            .collect();
        // A node's code, if a struct draws it in: a sequence's for an ordered node, a set's
        // for a set node.
        let code = |node: u32| {
            let label = nodes[node as usize].label;
            codes[(label & !SET) as usize].filter(|&code| (code >= SETS) == (label & SET != 0))
        };
        // Whether a node is bare: no parts, no set.
        let bare: Vec<bool> = nodes
            .iter()
            .map(|m| m.len == 0 && m.label & SET == 0)
            .collect();
        let is_bare = |p: u32| bare[target(p) as usize];
        // Each struct's fold: `PLAIN` for a node that is no struct, else the position of the
        // field drawn in, with `SET` for a set, or `BARE` if only its bare fields are.
        const PLAIN: u32 = NONE;
        const BARE: u32 = NONE - 1;
        let fold_of = |node: usize| {
            let label = nodes[node].label;
            if label & SET != 0 || !matches!(labels[label as usize], Label::Struct(_)) {
                return PLAIN;
            }
            // In one pass: how many parts are not bare, the first of those that is a
            // sequence, whether the first of those is a set, and whether any part is bare.
            let (mut others, mut seq, mut first_set, mut any_bare) = (0, None, None, false);
            for (at, &p) in kids(node).iter().enumerate() {
                let p = target(p);
                if bare[p as usize] {
                    any_bare = true;
                    continue;
                }
                let code = code(p);
                if others == 0 && code.is_some_and(|c| c >= SETS) {
                    first_set = Some(index(at) | SET);
                }
                if seq.is_none() && code.is_some_and(|c| c < SETS) {
                    seq = Some(index(at));
                }
                others += 1;
            }
            match (others, first_set, seq) {
                (1, Some(set), _) => set,
                (_, _, Some(at)) => at,
                _ if any_bare => BARE,
                _ => PLAIN,
            }
        };
        // Whether a struct draws in its part at `at`.
        let draws = |fold: u32, at: usize, p: u32| match fold {
            PLAIN => false,
            BARE => is_bare(p),
            fold => fold & !SET == index(at) || is_bare(p),
        };
        // A node drawn into a struct, and pointed to from nowhere else, is dropped.
        const FOLDED: u8 = 1;
        const POINTED: u8 = 2;
        let mut seen = vec![0u8; n];
        let mut fold = vec![PLAIN; n];
        for (node, slot) in fold.iter_mut().enumerate() {
            *slot = fold_of(node);
            for (at, &p) in kids(node).iter().enumerate() {
                seen[target(p) as usize] |= match draws(*slot, at, p) {
                    true => FOLDED,
                    false => POINTED,
                };
            }
        }
        let root = target(root);
        seen[root as usize] |= POINTED;
        let mut number = vec![NONE; n];
        let mut kept = 0u32;
        for (slot, seen) in number.iter_mut().zip(&seen) {
            if *seen != FOLDED {
                *slot = kept;
                kept += 1;
            }
        }
        // A part's number in the graph, a pointer's looked up once, not twice.
        let numbered: Vec<u32> = pointees.iter().map(|&t| number[t as usize]).collect();
        let renumber = |&p: &u32| match p & POINTER {
            0 => number[p as usize],
            _ => numbered[(p & !POINTER) as usize],
        };
        let any_set = nodes.iter().any(|m| m.label & SET != 0);
        // The folded structs' labels, by what makes them: the struct's label, the field
        // drawn in, the bare fields.
        // (A key is never padded with `NONE`: the positions in it are below 2^31.)
        const SHORT: usize = 8;
        let mut shorts: FxHashMap<[u32; SHORT], u32> = FxHashMap::default();
        let mut folds: FxHashMap<Box<[u32]>, u32> = FxHashMap::default();
        let mut key: Vec<u32> = Vec::new();
        let mut folded_labels = Vec::new();
        let mut graph = Graph::new();
        graph.labels.reserve(kept as usize);
        graph.offsets.reserve(kept as usize);
        graph.children.reserve(parts.len());
        for node in 0..n {
            if number[node] == NONE {
                continue;
            }
            let parts = kids(node);
            let label = nodes[node].label & !SET;
            let mut set = nodes[node].label & SET != 0;
            match fold[node] {
                PLAIN => {
                    graph.labels.push(label);
                    graph.children.extend(parts.iter().map(renumber));
                }
                fold => {
                    let field = (fold != BARE).then(|| {
                        let at = fold & !SET;
                        let inner = target(parts[at as usize]);
                        (at, inner, code(inner).unwrap_or_default())
                    });
                    key.clear();
                    key.push(label);
                    key.extend(field.map_or([NONE; 3], |(at, inner, code)| {
                        [at, u32::from(code), nodes[inner as usize].len]
                    }));
                    for (at, &p) in parts.iter().enumerate() {
                        if is_bare(p) {
                            key.extend([index(at), nodes[target(p) as usize].label]);
                        }
                    }
                    let next = index(labels.len() + folded_labels.len());
                    // A key of up to two bare fields, the commonest, is found in a table
                    // of arrays, hashed and compared without a length or a call.
                    let found = match key.len() <= SHORT {
                        true => {
                            let mut short = [NONE; SHORT];
                            short[..key.len()].copy_from_slice(&key);
                            *shorts.entry(short).or_insert(next)
                        }
                        false => match folds.get(&key[..]) {
                            Some(&id) => id,
                            None => {
                                folds.insert(key.clone().into_boxed_slice(), next);
                                next
                            }
                        },
                    };
                    let id = match found == next {
                        false => found,
                        true => {
                            let &Label::Struct(path) = &labels[label as usize] else {
                                unreachable!("only structs fold")
                            };
                            let bare = key[4..]
                                .chunks(2)
                                .map(|w| (w[0], labels[w[1] as usize].clone()))
                                .collect();
                            folded_labels.push(Label::Folded(Folded {
                                path,
                                bare,
                                field: field
                                    .map(|(at, inner, code)| (at, code, nodes[inner as usize].len)),
                            }));
                            next
                        }
                    };
                    graph.labels.push(id);
                    set = fold != BARE && fold & SET != 0;
                    for (at, &p) in parts.iter().enumerate() {
                        match field {
                            Some((drawn, inner, _)) if drawn == index(at) => graph
                                .children
                                .extend(kids(inner as usize).iter().map(renumber)),
                            _ if is_bare(p) => {}
                            _ => graph.children.push(renumber(&p)),
                        }
                    }
                }
            }
            graph.offsets.push(index(graph.children.len()));
            if any_set {
                graph.sets.push(set);
            }
        }
        labels.extend(folded_labels);
        let (rank, labels) = ranked(labels);
        for label in &mut graph.labels {
            *label = rank[*label as usize];
        }
        if any_set {
            graph.order = Some(<u32 as Ord>::cmp);
        }
        (graph, number[root as usize] as usize, labels)
    }
}

/// Each label id's rank among the distinct labels, in `Label`'s order; and those labels.
fn ranked(mut labels: Vec<Label>) -> (Vec<u32>, Vec<Label>) {
    let mut sorted: Vec<u32> = (0..index(labels.len())).collect();
    sorted.sort_unstable_by(|&a, &b| labels[a as usize].cmp(&labels[b as usize]));
    let mut rank = vec![0; labels.len()];
    let mut distinct: Vec<Label> = Vec::new();
    for id in sorted {
        let label = &mut labels[id as usize];
        if distinct.last() != Some(label) {
            distinct.push(std::mem::replace(label, Label::Unit));
        }
        rank[id as usize] = index(distinct.len() - 1);
    }
    (rank, distinct)
}

/// The node each pointer's value is, through pointers to pointers. A cycle of pointers only,
/// which a `dyn Freeze` can close, unfolds to nothing but itself: it becomes a node of its
/// own, a unit with itself as its one part.
fn resolve(
    pointees: &[u32],
    nodes: &mut Vec<Made>,
    parts: &mut Vec<u32>,
    labels: &mut Vec<Label>,
) -> Vec<u32> {
    const ON_PATH: u32 = NONE - 1;
    let mut resolved = vec![NONE; pointees.len()];
    let mut path = Vec::new();
    let mut cycle = NONE;
    for start in 0..pointees.len() {
        let mut p = start;
        let node = loop {
            match resolved[p] {
                NONE => {}
                ON_PATH => {
                    if cycle == NONE {
                        cycle = index(nodes.len());
                        labels.push(Label::Unit);
                        nodes.push(Made {
                            label: index(labels.len() - 1),
                            start: index(parts.len()),
                            len: 1,
                        });
                        parts.push(cycle);
                    }
                    break cycle;
                }
                node => break node,
            }
            resolved[p] = ON_PATH;
            path.push(p);
            match pointees[p] {
                next if next & POINTER != 0 => p = (next & !POINTER) as usize,
                node => break node,
            }
        };
        for p in path.drain(..) {
            resolved[p] = node;
        }
    }
    resolved
}
