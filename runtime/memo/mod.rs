//! Memoizing a function over any implementation of an interface, by its interaction tree:
//! a deterministic function's next call depends only on the answers so far, so its runs
//! form a tree of (call, answer) paths, and a new implementation is looked up by replaying
//! the recorded calls against it. Only unknown territory runs the function, served the
//! answers the lookup already asked, so that each call is asked once.
//!
//! `tree` holds one key's paths, `table` a fork's children, `sieve` orders the leaves of
//! every key for eviction under the memo's budget, `tracked` records a run.

mod sieve;
mod table;
mod tracked;
pub(crate) mod tree;

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use rustc_hash::FxBuildHasher;

use crate::error::Error;
use crate::sync::Mutex;
use sieve::Sieve;
pub use tracked::Tracked;

use tree::{Leaf, NewRun, Served, Size, Tree, Walk};

/// An interface a [`Memo`] can record and replay: each method call is a value of `Call`,
/// each answer a value of `Answer`, both comparable and hashable, and `answer` asks an
/// implementation. What a function does with an implementation depends only on the
/// answers it gets.
///
/// [`#[steadfast::interface]`](crate::interface) implements this for `dyn Trait` of a trait,
/// with a call enum and an answer enum. By hand, for one type:
///
/// ```
/// use steadfast::Interface;
///
/// /// A fixed table of choices.
/// struct Table(Vec<u32>);
///
/// impl Interface for Table {
///     type Call = usize; // which entry
///     type Answer = u32;
///     type Live<'a> = Table;
///     fn answer(live: &Table, i: &usize) -> u32 {
///         live.0.get(*i).copied().unwrap_or(0)
///     }
/// }
/// ```
pub trait Interface: 'static {
    /// A call, with its arguments.
    type Call: Clone + Eq + Hash + Debug + Send + Sync + 'static;
    /// An answer.
    type Answer: Clone + Eq + Hash + Debug + Send + Sync + 'static;
    /// What a lookup asks: `dyn Trait + 'a` for a trait (any implementation, borrowed for
    /// `'a`), `Self` for a type.
    type Live<'a>: ?Sized;
    /// Asks `live`.
    fn answer(live: &Self::Live<'_>, call: &Self::Call) -> Self::Answer;

    /// `live` as a tracked implementation, if it is one (a memo nested in another's
    /// function): asked once per lookup, so that calls pass on by reference. Not public
    /// API.
    #[doc(hidden)]
    fn tracked<'s>(live: &'s Self::Live<'_>) -> Option<&'s dyn AskRef<Self>> {
        let _ = live;
        None
    }
}

/// A tracked implementation, asked a call as it is. Not public API.
#[doc(hidden)]
pub trait AskRef<I: ?Sized + Interface> {
    /// Asks `call`.
    fn ask_ref(&self, call: &I::Call) -> I::Answer;
    /// Asks `call`: `None` if the answer is `expected` (no copy of it is made), else the
    /// answer.
    fn check(&self, call: &I::Call, expected: &I::Answer) -> Option<I::Answer>;
}

/// What a [`Memo`] did since it was made, and what it holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MemoStats {
    /// Lookups that found a recorded path and returned its result without running the
    /// function.
    pub hits: u64,
    /// Lookups that ran the function.
    pub misses: u64,
    /// Answers a miss's run was served from its lookup instead of asking again.
    pub resumed_calls: u64,
    /// Runs that disagreed with a recorded path ([`Error::Nondeterministic`]).
    pub nondeterministic: u64,
    /// Nodes evicted to keep within the budget or by [`Memo::shrink_to`] (not counting
    /// [`Memo::evict`] and [`Memo::clear`]).
    pub evicted: u64,
    /// Nodes held now.
    pub nodes: usize,
    /// Calls stored now, in the nodes' runs and forks (with `nodes`, what the budget
    /// counts).
    pub calls: usize,
}

/// The interaction tree of one key of a memo over `I`, and the key (to drop it from the
/// memo when its last leaf is evicted).
struct KeyTree<K, V, I: ?Sized + Interface> {
    key: K,
    tree: Tree<I::Call, I::Answer, V>,
}

/// Each key's tree.
type Trees<K, V, I> = HashMap<K, Arc<KeyTree<K, V, I>>, FxBuildHasher>;

/// A leaf in the eviction queue.
struct Queued<K, V, I: ?Sized + Interface> {
    tree: Arc<KeyTree<K, V, I>>,
    leaf: Leaf<I::Call, I::Answer, V>,
}

/// A function memoized over any implementation of an interface `I`, per key `K`: for an
/// implementation that answers the calls a recorded run made as that run was answered, the
/// result is that run's, without running the function. Several memos may coexist; there is
/// no global state.
///
/// Memory is bounded: past its budget ([`Memo::DEFAULT_BUDGET`], or [`Memo::with_budget`])
/// a memo evicts the recorded runs least worth keeping (SIEVE over the leaves: a run hit
/// since the last pass stays). The budget counts nodes and the calls they store: a node
/// holds a run of calls that never branched, and a call costs its own size and next to
/// nothing more (see `docs/PERFORMANCE.md`), so the budget bounds the bytes held to about
/// budget × (the size of a call and its answer) plus up to about 210 bytes per node.
///
/// ```
/// use steadfast::Memo;
///
/// #[steadfast::interface]
/// trait Table {
///     fn get(&self, i: usize) -> u32;
/// }
///
/// impl Table for Vec<u32> {
///     fn get(&self, i: usize) -> u32 {
///         <[u32]>::get(self, i).copied().unwrap_or(0)
///     }
/// }
///
/// // Sums the entries up to the first zero.
/// fn sum(t: &dyn Table) -> u32 {
///     (0..).map(|i| t.get(i)).take_while(|&v| v != 0).sum()
/// }
///
/// let memo: Memo<(), u32, dyn Table> = Memo::new();
/// assert_eq!(memo.get(&(), &vec![1, 2, 0, 9], |_, t| sum(t))?, 3);
/// // Another implementation, equal on every call the run made: a hit.
/// assert_eq!(memo.get(&(), &vec![1, 2, 0, 5], |_, t| sum(t))?, 3);
/// assert_eq!((memo.stats().hits, memo.stats().misses), (1, 1));
/// # Ok::<(), steadfast::Error>(())
/// ```
pub struct Memo<K, V, I: ?Sized + Interface> {
    trees: Mutex<Trees<K, V, I>>,
    /// Every leaf of every key. Lock order: `queue`, then `trees`, then a tree's root.
    queue: Mutex<Sieve<Queued<K, V, I>>>,
    nodes: AtomicUsize,
    calls: AtomicUsize,
    budget: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    resumed: AtomicU64,
    nondeterministic: AtomicU64,
    evicted: AtomicU64,
}

impl<K, V, I: ?Sized + Interface> Default for Memo<K, V, I> {
    fn default() -> Self {
        Self::with_budget(Self::DEFAULT_BUDGET)
    }
}

impl<K, V, I: ?Sized + Interface> Memo<K, V, I> {
    /// The budget of [`Memo::new`]: 32,768 nodes and stored calls (a few megabytes for
    /// calls and answers of a few dozen bytes).
    pub const DEFAULT_BUDGET: usize = 1 << 15;

    /// An empty memo that keeps at most `budget` nodes and stored calls, counted together
    /// (`usize::MAX`: unbounded; 0: records nothing).
    pub fn with_budget(budget: usize) -> Self {
        Memo {
            trees: Mutex::new(HashMap::default()),
            queue: Mutex::new(Sieve::default()),
            nodes: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            budget,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
            nondeterministic: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
        }
    }

    /// The budget: nodes and stored calls, counted together.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Calls `each` with every (call, answer) pair recorded, under every key.
    pub(crate) fn each_pair(&self, mut each: impl FnMut(&I::Call, &I::Answer)) {
        let trees: Vec<_> = self.trees.lock().values().cloned().collect();
        for tree in trees {
            tree.tree.each_pair(&mut each);
        }
    }
}

impl<K, V, I> Memo<K, V, I>
where
    K: Clone + Eq + Hash,
    V: Clone + Send + Sync + 'static,
    I: ?Sized + Interface,
{
    /// An empty memo with the default budget ([`Memo::DEFAULT_BUDGET`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// The result of `f(key, live)`: a recorded one if `live` answers the calls a recorded
    /// run for `key` made as that run was answered (no call is asked beyond those), else
    /// `f`'s, run with the answers the lookup asked already served back to it (each call is
    /// asked of `live` once), and recorded. A panic in `f` or in `live` records nothing
    /// and goes on.
    ///
    /// As with a `HashMap`, the key may be passed borrowed (`&str` for a `String` key): it
    /// is copied only when a run is recorded under a new key.
    ///
    /// `f` must be deterministic: given the same answers, ask the same calls in the same
    /// order and return equal results. An implementation must answer a call alike each time
    /// it is asked (as a `&self` method of an immutable value does): a run asks each
    /// distinct call once, and answers a repeated call as it was answered first.
    ///
    /// # Errors
    /// [`Error::Nondeterministic`] if the run disagrees with a recorded one — after the same
    /// answers it asked another call, or returned where the recorded run asked more, or
    /// asked more where it returned — naming where and what differed, with the run's result
    /// inside ([`Error::into_value`]); nothing is recorded.
    pub fn get<'l, Q>(
        &self,
        key: &Q,
        live: &'l I::Live<'l>,
        f: impl FnOnce(&Q, &Tracked<'_, I>) -> V,
    ) -> Result<V, Error>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq + ToOwned<Owned = K>,
    {
        let tree = self.trees.lock().get(key).cloned();
        let walk = |t: Arc<KeyTree<K, V, I>>| match I::tracked(live) {
            Some(outer) => t.tree.walk(
                |call, expected| outer.check(call, expected),
                |call| outer.ask_ref(call),
            ),
            None => t.tree.walk(
                |call, expected| Some(I::answer(live, call)).filter(|got| got != expected),
                |call| I::answer(live, call),
            ),
        };
        let served = match tree.map(walk) {
            Some(Walk::Hit(value)) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(value);
            }
            Some(Walk::Miss(asked)) => Some(Box::new(asked) as Box<dyn Served<_, _>>),
            None => None,
        };
        self.misses.fetch_add(1, Ordering::Relaxed);
        let tracked = Tracked::new(live, served);
        let value = f(key, &tracked);
        let run = tracked.finish();
        self.resumed
            .fetch_add(run.resumed as u64, Ordering::Relaxed);
        if let Some((depth, expected, found)) = run.diverged {
            return Err(self.nondeterministic(depth, Some(expected), Some(found), value));
        }
        let new = NewRun {
            asked: run.served.as_deref(),
            served: run.resumed,
            own: run.path.into_iter().collect(),
        };
        let tree = self.tree(key);
        match tree.tree.insert(new, value.clone()) {
            Err(d) => Err(self.nondeterministic(d.depth, d.expected, d.found, value)),
            Ok(inserted) => {
                self.hold(inserted.added);
                if let Some(leaf) = inserted.leaf {
                    self.queue.lock().push(Queued { tree, leaf });
                }
                if inserted.added.nodes > 0 {
                    self.shrink_to(self.budget);
                }
                Ok(value)
            }
        }
    }

    /// What the memo did since it was made, and the nodes it holds.
    pub fn stats(&self) -> MemoStats {
        MemoStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            resumed_calls: self.resumed.load(Ordering::Relaxed),
            nondeterministic: self.nondeterministic.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            nodes: self.nodes(),
            calls: self.calls.load(Ordering::Relaxed),
        }
    }

    /// The nodes held, over every key (a node holds a run of calls that never branched).
    pub fn nodes(&self) -> usize {
        self.nodes.load(Ordering::Relaxed)
    }

    /// The keys with a recorded run.
    pub fn len(&self) -> usize {
        self.trees.lock().len()
    }

    /// Whether no run is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Evicts recorded runs, least worth keeping first, until at most `budget` nodes and
    /// stored calls, counted together, are held.
    pub fn shrink_to(&self, budget: usize) {
        if self.weight() <= budget {
            return;
        }
        let mut queue = self.queue.lock();
        while self.weight() > budget {
            let Some(Queued { tree, leaf }) = queue.evict(|q| q.leaf.take_seen()) else {
                break;
            };
            let removed = tree.tree.remove(&leaf);
            self.release(removed.size);
            self.evicted
                .fetch_add(removed.size.nodes as u64, Ordering::Relaxed);
            if removed.again {
                // A fork whose table holds more results: queued again, as one just made.
                queue.push(Queued {
                    tree: Arc::clone(&tree),
                    leaf,
                });
            }
            let mut trees = self.trees.lock();
            if trees
                .get(&tree.key)
                .is_some_and(|t| Arc::ptr_eq(t, &tree) && t.tree.retire(true).is_some())
            {
                trees.remove(&tree.key);
            }
        }
    }

    /// Forgets the runs recorded for `key`; whether there were any.
    pub fn evict<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let mut queue = self.queue.lock();
        let Some(tree) = self.trees.lock().remove(key) else {
            return false;
        };
        self.release(tree.tree.retire(false).unwrap_or_default());
        queue.retain(|q| !Arc::ptr_eq(&q.tree, &tree));
        true
    }

    /// Forgets every recorded run.
    pub fn clear(&self) {
        let mut queue = self.queue.lock();
        for (_, tree) in self.trees.lock().drain() {
            self.release(tree.tree.retire(false).unwrap_or_default());
        }
        queue.clear();
    }

    /// Nodes and stored calls, counted together (what the budget bounds).
    fn weight(&self) -> usize {
        self.nodes.load(Ordering::Relaxed) + self.calls.load(Ordering::Relaxed)
    }

    fn hold(&self, added: Size) {
        self.nodes.fetch_add(added.nodes, Ordering::Relaxed);
        self.calls.fetch_add(added.calls, Ordering::Relaxed);
    }

    fn release(&self, removed: Size) {
        self.nodes.fetch_sub(removed.nodes, Ordering::Relaxed);
        self.calls.fetch_sub(removed.calls, Ordering::Relaxed);
    }

    /// The tree of `key`, made if it has none.
    fn tree<Q>(&self, key: &Q) -> Arc<KeyTree<K, V, I>>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq + ToOwned<Owned = K>,
    {
        let mut trees = self.trees.lock();
        if let Some(tree) = trees.get(key) {
            return Arc::clone(tree);
        }
        let tree = Arc::new(KeyTree {
            key: key.to_owned(),
            tree: Tree::default(),
        });
        trees.insert(key.to_owned(), Arc::clone(&tree));
        tree
    }

    fn nondeterministic(
        &self,
        depth: usize,
        expected: Option<I::Call>,
        found: Option<I::Call>,
        value: V,
    ) -> Error {
        self.nondeterministic.fetch_add(1, Ordering::Relaxed);
        let show =
            |c: Option<I::Call>| c.map_or_else(|| "returned".to_owned(), |c| format!("{c:?}"));
        Error::Nondeterministic {
            depth,
            expected: show(expected),
            found: show(found),
            value: Some(Box::new(value)),
        }
    }
}

impl<K, V, I: ?Sized + Interface> fmt::Debug for Memo<K, V, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memo")
            .field("keys", &self.trees.lock().len())
            .field("nodes", &self.nodes.load(Ordering::Relaxed))
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}
