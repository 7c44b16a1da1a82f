//! The interaction tree of one memo key: what a deterministic function asked an interface
//! and what it was answered, and what it returned, for every implementation met so far.
//!
//! Each path from the root is a sequence of (call, answer) pairs ending in a result; no path
//! is a prefix of another (that would be a function that, given the same answers, once asked
//! more and once returned). A node holds a *run* of pairs that never branched (a radix
//! tree, as Hypothesis's `DataTree`), then either the result or a *fork*: the call asked
//! next and a child per answer met. Validating a run is a sequential compare, with no map
//! lookup per call.
//!
//! Readers walk without a tree-wide lock: a node's run and result never change once the
//! node is made, and a split replaces the node in its parent (its old self stays valid for
//! whoever still walks it); only a fork's children are behind a lock, held for one lookup
//! or one insertion, never while the implementation answers. Every change to the shape
//! (insertion, eviction) happens under the root lock, which also guards each node's link
//! to its parent, so that a leaf can be evicted without a search.

use std::any::Any;
use std::cell::RefCell;
use std::fmt::Debug;
use std::hash::Hash;
use std::mem;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use smallvec::SmallVec;

use super::table::Table;
use crate::sync::{Flag, Mutex};

/// A node: a run of (call, answer) pairs that never branched, then what came after.
pub(crate) struct Node<C, A, V> {
    run: Run<C, A>,
    /// Shared with the node's second half when a split cuts its run: a fork's children
    /// stay one map, a leaf stays one leaf (the eviction queue holds it by its tail).
    tail: Arc<Tail<C, A, V>>,
}

/// A run of pairs: a range of a slice that a split shares between the two halves, so that
/// splitting copies no call or answer.
struct Run<C, A> {
    pairs: Arc<[(C, A)]>,
    start: u32,
    end: u32,
}

impl<C, A> Run<C, A> {
    fn new(pairs: Vec<(C, A)>) -> Self {
        let end = u32::try_from(pairs.len()).expect("a run of fewer than 2^32 calls");
        Run {
            pairs: pairs.into(),
            start: 0,
            end,
        }
    }

    fn get(&self) -> &[(C, A)] {
        &self.pairs[self.start as usize..self.end as usize]
    }

    /// The pairs before `i`, and those after it.
    fn split(&self, i: usize) -> (Self, Self) {
        let at = self.start + i as u32;
        let part = |start, end| Run {
            pairs: Arc::clone(&self.pairs),
            start,
            end,
        };
        (part(self.start, at), part(at + 1, self.end))
    }
}

/// What came after a run, and where the node it ends hangs.
pub(crate) struct Tail<C, A, V> {
    /// Guarded by the tree's root lock (the mutex only makes it writable through `Arc`).
    up: Mutex<Up<C, A, V>>,
    end: End<C, A, V>,
}

/// A fork's children, behind their lock.
type Children<C, A, V> = Mutex<Branches<C, A, V>>;

/// A fork's children: where each answer met led (answers confirmed by equality, so a poor
/// hash costs time, never a wrong child), and the results held among them.
struct Branches<C, A, V> {
    table: Table<A, Child<C, A, V>>,
    /// How many children are results (`Child::Return`).
    results: u32,
    /// Set by every hit on one of those results since the eviction queue's hand last
    /// passed the fork: SIEVE's mark, for the results of the table together.
    seen: bool,
    /// Whether the fork is in the eviction queue: while it holds results.
    queued: bool,
}

impl<C, A, V> Default for Branches<C, A, V> {
    fn default() -> Self {
        Branches {
            table: Table::default(),
            results: 0,
            seen: false,
            queued: false,
        }
    }
}

/// Where an answer at a fork led.
enum Child<C, A, V> {
    /// A node: a run, then a result or another fork.
    Node(Arc<Node<C, A, V>>),
    /// The function returned right after the fork's call: its result, held in the fork's
    /// table with no node of its own. Runs that differ only in their last answer (many
    /// implementations of one key) are all such results, and each costs its table entry,
    /// nothing more: the eviction queue holds the fork once for all of them, and the
    /// table's own hand picks which to evict. `seen` is that hand's mark.
    Return { value: V, seen: bool },
}

enum End<C, A, V> {
    /// The function returned `value`; `seen` is set by every hit since the eviction
    /// queue's hand last passed (SIEVE).
    Return { value: V, seen: Flag },
    /// The function asked `call`; the answers met so far and where each led (boxed: most
    /// tails are leaves, which then stay small).
    Fork {
        call: C,
        children: Box<Children<C, A, V>>,
    },
}

/// Where a node hangs.
enum Up<C, A, V> {
    Root,
    /// Under a fork (its tail), reached by an answer.
    Under(Weak<Tail<C, A, V>>, A),
    /// Evicted.
    Gone,
}

/// Where a lookup ended.
pub(crate) enum Walk<C, A, V> {
    /// A recorded path matched every answer: its result.
    Hit(V),
    /// The answers left the recorded paths (or there were none): the calls asked on the
    /// way and their answers, to serve to the function so that none is asked twice.
    Miss(Asked<C, A, V>),
}

/// A recorded path and a new run disagree on what the function did after the same
/// answers: at `depth`, one asked a call (or returned) where the other asked another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Divergence<C> {
    /// How many calls both made before they disagreed.
    pub(crate) depth: usize,
    /// What the recorded path did there (`None`: it returned).
    pub(crate) expected: Option<C>,
    /// What the new run did (`None`: it returned).
    pub(crate) found: Option<C>,
}

/// What the eviction queue holds: the tail of a node that ends in a result (found, to be
/// evicted, by its link to its parent), or the tail of a fork whose table holds results
/// (which are evicted one at a time by the table's hand). A fork's tail never moves (a
/// split hands it to the split's second half).
pub(crate) type Leaf<C, A, V> = Arc<Tail<C, A, V>>;

/// The interaction tree of one key.
pub(crate) struct Tree<C, A, V> {
    root: Mutex<Root<C, A, V>>,
}

struct Root<C, A, V> {
    top: Option<Arc<Node<C, A, V>>>,
    /// What the tree holds.
    size: Size,
    /// Dropped from its memo: records nothing more.
    retired: bool,
}

impl<C, A, V> Default for Tree<C, A, V> {
    fn default() -> Self {
        Tree {
            root: Mutex::new(Root {
                top: None,
                size: Size::default(),
                retired: false,
            }),
        }
    }
}

impl<C, A, V> Tree<C, A, V>
where
    C: Clone + Eq + Hash + Debug + 'static,
    A: Clone + Eq + Hash + Debug + 'static,
    V: Clone + 'static,
{
    /// Replays the recorded calls against the live implementation, following its answers,
    /// until a result (a hit) or an answer no path recorded (a miss). A hit allocates
    /// nothing (see `Trail`); a miss hands back what it asked by reference to the nodes.
    ///
    /// `check` asks a call of a run and says whether it got the recorded answer (`None`)
    /// or another (`Some`); `ask` asks a fork's call.
    pub(crate) fn walk(
        &self,
        mut check: impl FnMut(&C, &A) -> Option<A>,
        mut ask: impl FnMut(&C) -> A,
    ) -> Walk<C, A, V> {
        let Some(mut node) = self.root.lock().top.clone() else {
            return Walk::Miss(Asked::default());
        };
        let mut trail = Trail::default();
        loop {
            for (i, (call, answer)) in node.run.get().iter().enumerate() {
                if let Some(got) = check(call, answer) {
                    let last = (call.clone(), got);
                    return Walk::Miss(trail.into_asked(node, i, last));
                }
            }
            let (got, next) = match &node.tail.end {
                End::Return { value, seen } => {
                    if !seen.load(Ordering::Relaxed) {
                        seen.store(true, Ordering::Relaxed);
                    }
                    return Walk::Hit(value.clone());
                }
                End::Fork { call, children } => {
                    let got = ask(call);
                    let mut guard = children.lock();
                    let branches = &mut *guard;
                    match branches.table.get_mut(&got) {
                        Some(Child::Node(child)) => {
                            let child = Arc::clone(child);
                            drop(guard);
                            (got, child)
                        }
                        Some(Child::Return { value, seen }) => {
                            *seen = true;
                            branches.seen = true;
                            return Walk::Hit(value.clone());
                        }
                        None => {
                            drop(guard);
                            let (matched, last) = (node.run.get().len(), (call.clone(), got));
                            return Walk::Miss(trail.into_asked(node, matched, last));
                        }
                    }
                }
            };
            trail.push((std::mem::replace(&mut node, next), got));
        }
    }

    /// Records a complete run: the calls it asked with their answers, and what it
    /// returned. Nothing changes if it disagrees with a recorded path (`Divergence`), if
    /// the same path was recorded already, or if the tree is retired.
    pub(crate) fn insert(
        &self,
        path: impl RunPath<C, A>,
        value: V,
    ) -> Result<Inserted<C, A, V>, Divergence<C>> {
        let mut root = self.root.lock();
        if root.retired {
            return Ok(Inserted::NOTHING);
        }
        let Some(mut node) = root.top.clone() else {
            let new = leaf(path.into_rest(0), value, Up::Root);
            let (added, tail) = (Size::of(&new, 0), Arc::clone(&new.tail));
            root.top = Some(new);
            root.size = added;
            return Ok(Inserted {
                leaf: Some(tail),
                added,
            });
        };
        let mut pos = 0;
        loop {
            for (i, (call, answer)) in node.run.get().iter().enumerate() {
                let a = same_call(&path, pos, call)?;
                if a != answer {
                    // A second answer here: the run splits into a fork.
                    let a = a.clone();
                    let fork = Arc::new(Tail {
                        up: Mutex::new(std::mem::replace(&mut *node.tail.up.lock(), Up::Gone)),
                        end: End::Fork {
                            call: call.clone(),
                            children: Box::default(),
                        },
                    });
                    let (before, after) = node.run.split(i);
                    let rest = Arc::new(Node {
                        run: after,
                        tail: Arc::clone(&node.tail),
                    });
                    *node.tail.up.lock() = Up::Under(Arc::downgrade(&fork), answer.clone());
                    let End::Fork { children, .. } = &fork.end else {
                        unreachable!("made a fork")
                    };
                    let mut map = children.lock();
                    map.table.insert(answer.clone(), Child::Node(rest));
                    // The run's calls stay (one of them now the fork's): the new leaf's are
                    // added, and two nodes (the split's second half and the leaf).
                    let mut inserted = branch(&fork, &mut map, a, path.into_rest(pos + 1), value);
                    drop(map);
                    inserted.added.nodes += 1;
                    let split = Arc::new(Node {
                        run: before,
                        tail: fork,
                    });
                    root.hang(split);
                    root.size.add(inserted.added);
                    return Ok(inserted);
                }
                pos += 1;
            }
            node = match &node.tail.end {
                End::Return { .. } => return recorded(&path, pos),
                End::Fork { call, children } => {
                    let a = same_call(&path, pos, call)?;
                    let mut map = children.lock();
                    match map.table.get(a) {
                        Some(Child::Node(child)) => Arc::clone(child),
                        Some(Child::Return { .. }) => return recorded(&path, pos + 1),
                        None => {
                            let a = a.clone();
                            let rest = path.into_rest(pos + 1);
                            let inserted = branch(&node.tail, &mut map, a, rest, value);
                            drop(map);
                            root.size.add(inserted.added);
                            return Ok(inserted);
                        }
                    }
                }
            };
            pos += 1;
        }
    }
}

/// Where a new run meets a recorded path that returned after `pos` calls: recorded already
/// (by another run of an equal implementation) if the run returned there too.
fn recorded<C: Clone, A, V>(
    path: &impl RunPath<C, A>,
    pos: usize,
) -> Result<Inserted<C, A, V>, Divergence<C>> {
    match path.at(pos) {
        None => Ok(Inserted::NOTHING),
        Some((c, _)) => Err(Divergence {
            depth: pos,
            expected: None,
            found: Some(c.clone()),
        }),
    }
}

/// Adds a child under `fork` (whose children are `map`) for `answer`, leading on through
/// `rest` to `value`: a node, or a result held in the table if `rest` is empty (the fork
/// then enters the eviction queue, unless it is there already).
fn branch<C, A: Clone + Eq + Hash, V>(
    fork: &Arc<Tail<C, A, V>>,
    map: &mut Branches<C, A, V>,
    answer: A,
    rest: Vec<(C, A)>,
    value: V,
) -> Inserted<C, A, V> {
    if rest.is_empty() {
        let result = Child::Return { value, seen: false };
        map.table.insert(answer, result);
        map.results += 1;
        let leaf = (!map.queued).then(|| Arc::clone(fork));
        map.queued = true;
        Inserted {
            leaf,
            added: Size { nodes: 1, calls: 0 },
        }
    } else {
        let up = Up::Under(Arc::downgrade(fork), answer.clone());
        let new = leaf(rest, value, up);
        let (added, tail) = (Size::of(&new, 0), Arc::clone(&new.tail));
        map.table.insert(answer, Child::Node(new));
        Inserted {
            leaf: Some(tail),
            added,
        }
    }
}

impl<C: Eq + Hash, A: Eq + Hash, V> Tree<C, A, V> {
    /// Calls `each` with every (call, answer) pair the tree holds: each pair of each run,
    /// and each fork's call with each answer met there.
    pub(crate) fn each_pair(&self, mut each: impl FnMut(&C, &A)) {
        let mut stack: Vec<_> = self.root.lock().top.iter().cloned().collect();
        while let Some(node) = stack.pop() {
            for (call, answer) in node.run.get() {
                each(call, answer);
            }
            if let End::Fork { call, children } = &node.tail.end {
                for (answer, child) in children.lock().table.iter() {
                    each(call, answer);
                    if let Child::Node(node) = child {
                        stack.push(Arc::clone(node));
                    }
                }
            }
        }
    }

    /// Evicts a leaf — a node's result, or one of the results a fork's table holds,
    /// chosen by the table's hand — and each fork above it that it leaves without
    /// children: what was removed (nothing if the leaf was evicted already or the tree
    /// retired), and whether the fork's table holds more results (its place in the queue
    /// is then taken again).
    pub(crate) fn remove(&self, leaf: &Leaf<C, A, V>) -> Removed {
        let mut root = self.root.lock();
        let mut removed = Removed::default();
        if root.retired {
            return removed;
        }
        // A fork's call counts once its node is removed with it.
        let mut fork_call = 0;
        if let End::Fork { children, .. } = &leaf.end {
            let mut map = children.lock();
            let taken = map.table.sweep(|child| match child {
                Child::Return { seen, .. } => !mem::take(seen),
                Child::Node(_) => false,
            });
            if taken.is_none() {
                map.queued = false;
                return removed;
            }
            map.results -= 1;
            removed.size.nodes = 1;
            removed.again = map.results > 0;
            map.queued = removed.again;
            if !map.table.is_empty() {
                drop(map);
                root.size.sub(removed.size);
                return removed;
            }
            fork_call = 1;
        }
        let mut tail = Arc::clone(leaf);
        loop {
            let up = std::mem::replace(&mut *tail.up.lock(), Up::Gone);
            match up {
                Up::Gone => break,
                Up::Root => {
                    if let Some(node) = root.top.take() {
                        removed.size.add(Size::of(&node, fork_call));
                    }
                    break;
                }
                Up::Under(fork, answer) => {
                    let Some(fork) = fork.upgrade() else { break };
                    let mut map = fork.children().lock();
                    if let Some(Child::Node(node)) = map.table.remove(&answer) {
                        removed.size.add(Size::of(&node, fork_call));
                    }
                    if !map.table.is_empty() {
                        break;
                    }
                    drop(map);
                    tail = fork;
                    fork_call = 1;
                }
            }
        }
        root.size.sub(removed.size);
        removed
    }

    /// Empties the tree and stops it recording, if it holds no node (`only_if_empty`) or in
    /// any case: what it held, or `None` if it was left as it was.
    pub(crate) fn retire(&self, only_if_empty: bool) -> Option<Size> {
        let mut root = self.root.lock();
        if only_if_empty && root.size.nodes > 0 {
            return None;
        }
        root.retired = true;
        root.top = None;
        Some(std::mem::take(&mut root.size))
    }

    /// The nodes in the tree.
    #[cfg(test)]
    pub(crate) fn nodes(&self) -> usize {
        self.root.lock().size.nodes
    }

    /// What the tree holds, as counted.
    #[cfg(test)]
    fn size(&self) -> Size {
        self.root.lock().size
    }
}

impl<C, A, V> Tail<C, A, V> {
    /// Whether the leaf (the node's result, or any result of the fork's table) was hit
    /// since the last call; clears the mark (SIEVE's visited bit).
    pub(crate) fn take_seen(&self) -> bool {
        match &self.end {
            End::Return { seen, .. } => {
                let hit = seen.load(Ordering::Relaxed);
                if hit {
                    seen.store(false, Ordering::Relaxed);
                }
                hit
            }
            End::Fork { children, .. } => mem::take(&mut children.lock().seen),
        }
    }

    /// A fork's children.
    fn children(&self) -> &Children<C, A, V> {
        match &self.end {
            End::Fork { children, .. } => children,
            End::Return { .. } => unreachable!("a node's parent is a fork"),
        }
    }
}

impl<C, A, V> Root<C, A, V> {
    /// Puts `node` where the node it replaces hung (recorded in its tail's link).
    fn hang(&mut self, node: Arc<Node<C, A, V>>)
    where
        A: Clone + Eq + Hash,
    {
        let up = node.tail.up.lock();
        match &*up {
            Up::Root => {
                drop(up);
                self.top = Some(node);
            }
            Up::Under(fork, answer) => {
                if let Some(fork) = fork.upgrade() {
                    let answer = answer.clone();
                    drop(up);
                    fork.children()
                        .lock()
                        .table
                        .insert(answer, Child::Node(node));
                }
            }
            Up::Gone => unreachable!("a split node is in the tree"),
        }
    }
}

/// What a tree holds: nodes, and the calls their runs and forks store (what a memo's
/// budget counts: a node's own cost, and its calls', which a long run makes large).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Size {
    pub(crate) nodes: usize,
    pub(crate) calls: usize,
}

impl Size {
    /// One node with its run, and `fork` more call if it forks (a fork's call is stored
    /// apart from the run).
    fn of<C, A, V>(node: &Node<C, A, V>, fork: usize) -> Self {
        Size {
            nodes: 1,
            calls: node.run.get().len() + fork,
        }
    }

    pub(crate) fn add(&mut self, other: Size) {
        self.nodes += other.nodes;
        self.calls += other.calls;
    }

    pub(crate) fn sub(&mut self, other: Size) {
        self.nodes -= other.nodes;
        self.calls -= other.calls;
    }
}

/// What an insertion added.
pub(crate) struct Inserted<C, A, V> {
    /// What the eviction queue is to hold for it: `None` if nothing was recorded (recorded
    /// already, or retired), or if the result joined a fork's table that is queued already.
    pub(crate) leaf: Option<Leaf<C, A, V>>,
    pub(crate) added: Size,
}

impl<C, A, V> Inserted<C, A, V> {
    const NOTHING: Self = Inserted {
        leaf: None,
        added: Size { nodes: 0, calls: 0 },
    };
}

/// What an eviction removed.
#[derive(Default)]
pub(crate) struct Removed {
    pub(crate) size: Size,
    /// The leaf was a fork's table that holds more results: it is queued again.
    pub(crate) again: bool,
}

/// The forks a walk keeps without allocating.
const INLINE: usize = 8;

/// The forks a walk passed, with the answer that led on from each, so that a miss can
/// hand back every pair it asked: the first `INLINE` in place, the rest in a vector this
/// thread keeps between walks, so that a hit allocates nothing however many forks it
/// passes (once the thread has walked as deep before).
struct Trail<T: 'static> {
    /// Never spilled: past `INLINE`, `more` takes the rest.
    inline: SmallVec<[T; INLINE]>,
    more: Vec<T>,
}

thread_local! {
    /// One spare vector per trail type, taken by a walk that outgrows its inline part and
    /// given back, emptied, when the walk ends.
    static SPARE: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

impl<T> Default for Trail<T> {
    fn default() -> Self {
        Trail {
            inline: SmallVec::new(),
            more: Vec::new(),
        }
    }
}

impl<T> Trail<T> {
    fn push(&mut self, item: T) {
        match self.inline.len() < INLINE {
            true => self.inline.push(item),
            false => {
                if self.more.capacity() == 0 {
                    self.more = SPARE
                        .try_with(|spare| {
                            let mut spare = spare.borrow_mut();
                            let spare = spare.iter_mut().find_map(|b| b.downcast_mut::<Vec<T>>());
                            spare.map(mem::take)
                        })
                        .ok()
                        .flatten()
                        .unwrap_or_default();
                }
                self.more.push(item)
            }
        }
    }
}

impl<T> Drop for Trail<T> {
    fn drop(&mut self) {
        if self.more.capacity() == 0 {
            return;
        }
        let mut more = mem::take(&mut self.more);
        more.clear();
        let _ = SPARE.try_with(|spare| {
            let mut spare = spare.borrow_mut();
            match spare.iter_mut().find_map(|b| b.downcast_mut::<Vec<T>>()) {
                Some(kept) if kept.capacity() >= more.capacity() => {}
                Some(kept) => *kept = more,
                None => spare.push(Box::new(more)),
            }
        });
    }
}

impl<C, A, V> Trail<(Arc<Node<C, A, V>>, A)> {
    /// The pairs asked: every node passed with the answer that left it, then the first
    /// `matched` pairs of `node`'s run, then `last`.
    fn into_asked(
        mut self,
        node: Arc<Node<C, A, V>>,
        matched: usize,
        last: (C, A),
    ) -> Asked<C, A, V> {
        let mut asked = Asked::default();
        // Drained, not taken: the vector goes back to this thread's spare when the trail
        // is dropped.
        let passed = self.inline.drain(..).chain(self.more.drain(..));
        for (passed, answer) in passed {
            asked.push(Piece::Run(Arc::clone(&passed), passed.run.get().len()));
            asked.push(Piece::Fork(passed, answer));
        }
        asked.push(Piece::Run(node, matched));
        asked.push(Piece::Last(last.0, last.1));
        asked
    }
}

/// The answer at `pos` of a new run, if it asks the call a recorded path asked there.
fn same_call<'p, C: Clone + Eq + 'p, A: 'p>(
    path: &'p impl RunPath<C, A>,
    pos: usize,
    call: &C,
) -> Result<&'p A, Divergence<C>> {
    match path.at(pos) {
        Some((c, a)) if c == call => Ok(a),
        other => Err(Divergence {
            depth: pos,
            expected: Some(call.clone()),
            found: other.map(|(c, _)| c.clone()),
        }),
    }
}

/// A complete run, as `insert` reads it: pair by pair, then what follows a position, owned.
pub(crate) trait RunPath<C, A> {
    /// The pair at `pos`.
    fn at(&self, pos: usize) -> Option<(&C, &A)>;
    /// The pairs from `pos` on.
    fn into_rest(self, pos: usize) -> Vec<(C, A)>;
}

impl<C, A> RunPath<C, A> for Vec<(C, A)> {
    fn at(&self, pos: usize) -> Option<(&C, &A)> {
        self.get(pos).map(|(c, a)| (c, a))
    }

    fn into_rest(mut self, pos: usize) -> Vec<(C, A)> {
        self.split_off(pos)
    }
}

/// What a lookup asked before it left the recorded paths, by reference to the tree's
/// nodes (no pair is cloned to serve it): the pairs in the order asked.
pub(crate) struct Asked<C, A, V> {
    pieces: Vec<Piece<C, A, V>>,
    /// How many pairs come before each piece.
    starts: Vec<usize>,
    len: usize,
    /// The piece last read: a run reads them in order, so the next read is in it or the
    /// next one, found without a search.
    last: AtomicUsize,
}

enum Piece<C, A, V> {
    /// The first pairs of a node's run.
    Run(Arc<Node<C, A, V>>, usize),
    /// A node's fork call, and the answer it got.
    Fork(Arc<Node<C, A, V>>, A),
    /// The pair that left the recorded paths.
    Last(C, A),
}

impl<C, A, V> Default for Asked<C, A, V> {
    fn default() -> Self {
        Asked {
            pieces: Vec::new(),
            starts: Vec::new(),
            len: 0,
            last: AtomicUsize::new(0),
        }
    }
}

impl<C, A, V> Asked<C, A, V> {
    fn push(&mut self, piece: Piece<C, A, V>) {
        let n = match &piece {
            Piece::Run(_, n) => *n,
            Piece::Fork(..) | Piece::Last(..) => 1,
        };
        if n > 0 {
            self.starts.push(self.len);
            self.len += n;
            self.pieces.push(piece);
        }
    }

    /// The pairs asked, cloned.
    #[cfg(test)]
    fn to_vec(&self) -> Vec<(C, A)>
    where
        C: Clone,
        A: Clone,
    {
        (0..self.len)
            .filter_map(|p| self.get(p))
            .map(|(c, a)| (c.clone(), a.clone()))
            .collect()
    }

    /// The pair asked at `pos`.
    pub(crate) fn get(&self, pos: usize) -> Option<(&C, &A)> {
        if pos >= self.len {
            return None;
        }
        let within = |i: usize| {
            self.starts.get(i).is_some_and(|&start| start <= pos)
                && self.starts.get(i + 1).is_none_or(|&next| pos < next)
        };
        let hint = self.last.load(Ordering::Relaxed);
        let i = if within(hint) {
            hint
        } else if within(hint + 1) {
            hint + 1
        } else {
            self.starts.partition_point(|&start| start <= pos) - 1
        };
        self.last.store(i, Ordering::Relaxed);
        Some(match &self.pieces[i] {
            Piece::Run(node, _) => {
                let (c, a) = &node.run.get()[pos - self.starts[i]];
                (c, a)
            }
            Piece::Fork(node, a) => match &node.tail.end {
                End::Fork { call, .. } => (call, a),
                End::Return { .. } => unreachable!("a fork piece is a fork"),
            },
            Piece::Last(c, a) => (c, a),
        })
    }
}

/// What a lookup asked, as a run is served it (the tree's value type erased).
pub(crate) trait Served<C, A>: Send + Sync {
    /// The pair asked at `pos`.
    fn get(&self, pos: usize) -> Option<(&C, &A)>;
}

impl<C: Send + Sync, A: Send + Sync, V: Send + Sync> Served<C, A> for Asked<C, A, V> {
    fn get(&self, pos: usize) -> Option<(&C, &A)> {
        Asked::get(self, pos)
    }
}

/// A run as a memo hands it to `insert`: the first `served` pairs its lookup asked, then
/// the pairs it asked of the implementation itself.
pub(crate) struct NewRun<'s, C, A> {
    pub(crate) asked: Option<&'s dyn Served<C, A>>,
    pub(crate) served: usize,
    pub(crate) own: Vec<(C, A)>,
}

impl<C: Clone, A: Clone> RunPath<C, A> for NewRun<'_, C, A> {
    fn at(&self, pos: usize) -> Option<(&C, &A)> {
        match pos.checked_sub(self.served) {
            None => self.asked.and_then(|asked| asked.get(pos)),
            Some(i) => self.own.get(i).map(|(c, a)| (c, a)),
        }
    }

    fn into_rest(self, pos: usize) -> Vec<(C, A)> {
        let asked = self.asked;
        let mut rest: Vec<(C, A)> = (pos..self.served)
            .filter_map(|p| asked?.get(p).map(|(c, a)| (c.clone(), a.clone())))
            .collect();
        let skip = pos.saturating_sub(self.served);
        rest.extend(self.own.into_iter().skip(skip));
        rest
    }
}

/// A node holding the rest of a path and its result (its tail is the leaf).
fn leaf<C, A, V>(rest: Vec<(C, A)>, value: V, up: Up<C, A, V>) -> Arc<Node<C, A, V>> {
    Arc::new(Node {
        run: Run::new(rest),
        tail: Arc::new(Tail {
            up: Mutex::new(up),
            end: End::Return {
                value,
                seen: Flag::new(false),
            },
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;
    use std::hash::{BuildHasher, Hasher};

    /// A deterministic program: what it does next depends on its seed and the answers so
    /// far; it asks one of four calls (answers 0..3) or returns, at most 12 calls deep.
    fn step(seed: u64, answers: &[u8]) -> Option<u8> {
        let mut h = rustc_hash::FxBuildHasher.build_hasher();
        h.write_u64(seed);
        h.write(answers);
        let h = h.finish();
        (answers.len() < 12 && h % 5 != 0).then_some((h >> 8) as u8 % 4)
    }

    /// Runs the program against an implementation (an answer per call): the path and the
    /// result.
    fn run(seed: u64, answer: &[u8; 4]) -> (Vec<(u8, u8)>, u64) {
        let mut answers = Vec::new();
        let mut path = Vec::new();
        while let Some(call) = step(seed, &answers) {
            let a = answer[call as usize];
            path.push((call, a));
            answers.push(a);
        }
        (
            path,
            seed ^ answers.iter().fold(7, |h, &a| h * 31 + u64::from(a)),
        )
    }

    proptest! {
        /// Every lookup equals a direct run; the function runs once per path met; a miss
        /// has asked exactly a prefix of the run that follows.
        #[test]
        fn lookups_equal_direct_runs(
            seed in any::<u64>(),
            impls in prop::collection::vec(prop::array::uniform4(0..3u8), 1..40),
        ) {
            let tree: Tree<u8, u8, u64> = Tree::default();
            let mut paths = HashSet::new();
            for answer in impls {
                let (path, result) = run(seed, &answer);
                match walk_with(&tree, |&c| answer[c as usize]) {
                    Walk::Hit(v) => {
                        prop_assert_eq!(v, result);
                        prop_assert!(paths.contains(&path), "a hit on a path never recorded");
                    }
                    Walk::Miss(asked) => {
                        let asked = asked.to_vec();
                        prop_assert!(!paths.contains(&path), "a miss on a recorded path");
                        prop_assert!(asked.len() <= path.len());
                        prop_assert_eq!(&asked[..], &path[..asked.len()]);
                        prop_assert!(tree.insert(path.clone(), result).is_ok());
                        paths.insert(path);
                    }
                }
            }
            // Each path ends in its own leaf; forks add one node per branch point at most.
            prop_assert!(tree.nodes() >= paths.len());
            prop_assert!(tree.nodes() <= 2 * paths.len());
        }
    }

    /// Walks with one answer per call.
    fn walk_with<V: Clone + 'static>(
        tree: &Tree<u8, u8, V>,
        answer: impl Fn(&u8) -> u8,
    ) -> Walk<u8, u8, V> {
        tree.walk(
            |c, expected| Some(answer(c)).filter(|got| got != expected),
            &answer,
        )
    }

    impl<C, A, V> Tree<C, A, V> {
        /// The nodes reachable from the root and the calls they store, counted by
        /// walking them.
        fn reachable(&self) -> Size {
            let mut stack: Vec<_> = self.root.lock().top.iter().cloned().collect();
            let mut size = Size::default();
            while let Some(node) = stack.pop() {
                let fork = match &node.tail.end {
                    End::Fork { children, .. } => {
                        for (_, child) in children.lock().table.iter() {
                            match child {
                                Child::Node(node) => stack.push(Arc::clone(node)),
                                Child::Return { .. } => size.nodes += 1,
                            }
                        }
                        1
                    }
                    End::Return { .. } => 0,
                };
                size.add(Size::of(&node, fork));
            }
            size
        }
    }

    proptest! {
        /// Evicting leaves keeps the count right, removes exactly the evicted paths, and
        /// keeps every other path's result.
        #[test]
        fn evicting_leaves_removes_their_paths_only(
            seed in any::<u64>(),
            impls in prop::collection::vec(prop::array::uniform4(0..3u8), 1..40),
            evict in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        ) {
            let tree: Tree<u8, u8, u64> = Tree::default();
            // What the eviction queue would hold, and every recorded path with its result.
            let mut leaves = Vec::new();
            let mut recorded = Vec::new();
            for answer in &impls {
                let (path, result) = run(seed, answer);
                if let Ok(inserted) = tree.insert(path.clone(), result) {
                    leaves.extend(inserted.leaf);
                    if inserted.added.nodes > 0 {
                        recorded.push((*answer, result));
                    }
                }
            }
            prop_assert_eq!(tree.size(), tree.reachable());
            let hits = |tree: &Tree<u8, u8, u64>| -> Result<usize, TestCaseError> {
                let mut hits = 0;
                for (answer, result) in &recorded {
                    match walk_with(tree, |&c| answer[c as usize]) {
                        Walk::Hit(v) => {
                            prop_assert_eq!(v, *result, "a hit with another path's result");
                            hits += 1;
                        }
                        Walk::Miss(_) => {}
                    }
                }
                Ok(hits)
            };
            prop_assert_eq!(hits(&tree)?, recorded.len());
            for index in evict {
                if leaves.is_empty() {
                    break;
                }
                let before = hits(&tree)?;
                let leaf = leaves.swap_remove(index.index(leaves.len()));
                let removed = tree.remove(&leaf);
                // Exactly one recorded path is gone: a node's, or one result of a table.
                prop_assert!(removed.size.nodes >= 1);
                prop_assert_eq!(hits(&tree)?, before - 1);
                prop_assert_eq!(tree.size(), tree.reachable());
                if removed.again {
                    leaves.push(leaf);
                } else {
                    prop_assert_eq!(tree.remove(&leaf).size, Size::default());
                }
            }
            if leaves.is_empty() {
                prop_assert_eq!(tree.nodes(), 0);
                prop_assert_eq!(hits(&tree)?, 0);
            }
        }
    }

    #[test]
    fn runs_that_never_branch_are_one_node_and_split_where_they_do() {
        let tree: Tree<u8, u8, &str> = Tree::default();
        let one = [(0, 1), (1, 1), (2, 1)];
        tree.insert(one.to_vec(), "one").unwrap();
        assert_eq!(tree.nodes(), 1);
        // Same first call and answer, another answer to the second: a fork after one pair.
        let two = [(0, 1), (1, 2), (3, 0)];
        tree.insert(two.to_vec(), "two").unwrap();
        assert_eq!(tree.nodes(), 3);
        assert!(matches!(
            walk_with(&tree, |&c| [1, 1, 1, 0][c as usize]),
            Walk::Hit("one")
        ));
        assert!(matches!(
            walk_with(&tree, |&c| [1, 2, 9, 0][c as usize]),
            Walk::Hit("two")
        ));
        let Walk::Miss(asked) = walk_with(&tree, |&c| [1, 3, 9, 0][c as usize]) else {
            panic!("an answer never met")
        };
        assert_eq!(asked.to_vec(), vec![(0, 1), (1, 3)]);
        // Recorded again: nothing changes.
        tree.insert(one.to_vec(), "one").unwrap();
        assert_eq!(tree.nodes(), 3);
    }

    #[test]
    fn a_run_that_disagrees_with_a_recorded_path_changes_nothing() {
        let tree: Tree<u8, u8, u32> = Tree::default();
        tree.insert(vec![(0, 1), (1, 1)], 1).map(|_| ()).unwrap();
        // After answer 1 to call 0 the recorded run asked call 1; this one asks call 2.
        assert_eq!(
            tree.insert(vec![(0, 1), (2, 1)], 2).map(|_| ()),
            Err(Divergence {
                depth: 1,
                expected: Some(1),
                found: Some(2)
            })
        );
        // Or returned.
        assert_eq!(
            tree.insert(vec![(0, 1)], 3).map(|_| ()),
            Err(Divergence {
                depth: 1,
                expected: Some(1),
                found: None
            })
        );
        // Or asked more after the recorded one returned.
        assert_eq!(
            tree.insert(vec![(0, 1), (1, 1), (5, 0)], 4).map(|_| ()),
            Err(Divergence {
                depth: 2,
                expected: None,
                found: Some(5)
            })
        );
        assert_eq!(tree.nodes(), 1);
        assert!(matches!(walk_with(&tree, |_| 1), Walk::Hit(1)));
    }
}
