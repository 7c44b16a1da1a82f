//! Memoizing a function over any implementation of an interface, by its interaction tree:
//! a deterministic function's next call depends only on the answers so far, so its runs
//! form a tree of (call, answer) paths, and a new implementation is looked up by replaying
//! the recorded calls against it. Only unknown territory runs the function, served the
//! answers the lookup already asked, so that each call is asked once.

pub(crate) mod tree;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::Error;
use crate::sync::Mutex;
use tree::{Tree, Walk};

/// An interface a [`Memo`] can record and replay: each method call is a value of `Call`,
/// each answer a value of `Answer`, both comparable and hashable, and `answer` asks the
/// implementation. Calls take no `&mut` and answers are plain values: what a function does
/// with an implementation depends only on the answers it gets.
///
/// ```
/// use steadfast::Interface;
///
/// /// A source of choices, as a property-based test draws them.
/// trait Choices: Send + Sync {
///     fn choose(&self, below: u32) -> u32;
/// }
///
/// impl Interface for dyn Choices {
///     type Call = u32; // `choose(below)`
///     type Answer = u32;
///     fn answer(&self, below: &u32) -> u32 {
///         self.choose(*below)
///     }
/// }
/// ```
pub trait Interface: Send + Sync {
    /// A call, with its arguments.
    type Call: Clone + Eq + Hash + Debug + Send + Sync + 'static;
    /// An answer.
    type Answer: Clone + Eq + Hash + Debug + Send + Sync + 'static;
    /// Asks the implementation.
    fn answer(&self, call: &Self::Call) -> Self::Answer;
}

/// The implementation a memoized function sees: it asks the live implementation, except
/// for the calls the lookup asked already, whose answers it serves, and it records every
/// (call, answer) pair for the memo.
pub struct Tracked<'a, I: ?Sized + Interface> {
    live: &'a I,
    /// What the lookup asked before it left the recorded paths, served in order.
    served: Vec<(I::Call, I::Answer)>,
    run: RefCell<Run<I>>,
}

struct Run<I: ?Sized + Interface> {
    path: Vec<(I::Call, I::Answer)>,
    /// The first call that differed from the one the lookup asked at its position.
    diverged: Option<(usize, I::Call)>,
}

impl<I: ?Sized + Interface> Tracked<'_, I> {
    /// Asks `call`: served from the lookup if it asked the same call at this point, else
    /// asked of the implementation; recorded either way.
    pub fn ask(&self, call: I::Call) -> I::Answer {
        let mut run = self.run.borrow_mut();
        let at = run.path.len();
        let answer = match self.served.get(at) {
            Some((served, answer)) if run.diverged.is_none() && *served == call => answer.clone(),
            Some(_) if run.diverged.is_none() => {
                run.diverged = Some((at, call.clone()));
                self.live.answer(&call)
            }
            _ => self.live.answer(&call),
        };
        run.path.push((call, answer.clone()));
        answer
    }
}

impl<I: ?Sized + Interface> fmt::Debug for Tracked<'_, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracked")
            .field("served", &self.served.len())
            .field("asked", &self.run.borrow().path.len())
            .finish()
    }
}

/// What a [`Memo`] did since it was made.
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
}

/// The interaction tree of one key of a memo over `I`.
type KeyTree<V, I> = Tree<<I as Interface>::Call, <I as Interface>::Answer, V>;

/// A function memoized over any implementation of an interface `I`, per key `K`: for an
/// implementation that answers the calls a recorded run made as that run was answered, the
/// result is that run's, without running the function. Several memos may coexist; there is
/// no global state.
///
/// ```
/// use steadfast::{Interface, Memo, Tracked};
///
/// struct Fixed(Vec<u32>);
/// impl Interface for Fixed {
///     type Call = usize; // the index asked for
///     type Answer = u32;
///     fn answer(&self, i: &usize) -> u32 { self.0.get(*i).copied().unwrap_or(0) }
/// }
///
/// // Sums the values up to the first zero.
/// fn sum(_: &(), t: &Tracked<'_, Fixed>) -> u32 {
///     let mut total = 0;
///     for i in 0.. {
///         match t.ask(i) {
///             0 => return total,
///             v => total += v,
///         }
///     }
///     unreachable!()
/// }
///
/// let memo: Memo<(), u32, Fixed> = Memo::new();
/// assert_eq!(memo.get(&(), &Fixed(vec![1, 2, 0, 9]), sum)?, 3);
/// // Another implementation, equal on every call the run made: a hit.
/// assert_eq!(memo.get(&(), &Fixed(vec![1, 2, 0, 5]), sum)?, 3);
/// assert_eq!((memo.stats().hits, memo.stats().misses), (1, 1));
/// # Ok::<(), steadfast::Error>(())
/// ```
pub struct Memo<K, V, I: ?Sized + Interface> {
    trees: Mutex<HashMap<K, Arc<KeyTree<V, I>>>>,
    hits: AtomicU64,
    misses: AtomicU64,
    resumed: AtomicU64,
    nondeterministic: AtomicU64,
}

impl<K, V, I: ?Sized + Interface> Default for Memo<K, V, I> {
    fn default() -> Self {
        Memo {
            trees: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
            nondeterministic: AtomicU64::new(0),
        }
    }
}

impl<K, V, I> Memo<K, V, I>
where
    K: Clone + Eq + Hash,
    V: Clone + Send + Sync + 'static,
    I: ?Sized + Interface,
{
    /// An empty memo.
    pub fn new() -> Self {
        Self::default()
    }

    /// The result of `f(key, live)`: a recorded one if `live` answers the calls a recorded
    /// run for `key` made as that run was answered (no call is asked beyond those), else
    /// `f`'s, run with the answers the lookup asked already served back to it (each call is
    /// asked of `live` once), and recorded. A panic in `f` or in `live` records nothing
    /// and goes on.
    ///
    /// `f` must be deterministic: given the same answers, ask the same calls in the same
    /// order and return equal results.
    ///
    /// # Errors
    /// [`Error::Nondeterministic`] if the run disagrees with a recorded one — after the same
    /// answers it asked another call, or returned where the recorded run asked more, or
    /// asked more where it returned — naming where and what differed, with the run's result
    /// inside ([`Error::into_value`]); nothing is recorded.
    pub fn get(
        &self,
        key: &K,
        live: &I,
        f: impl FnOnce(&K, &Tracked<'_, I>) -> V,
    ) -> Result<V, Error> {
        let tree = Arc::clone(self.trees.lock().entry(key.clone()).or_default());
        let served = match tree.walk(|call| live.answer(call)) {
            Walk::Hit(value) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(value);
            }
            Walk::Miss(asked) => asked,
        };
        self.misses.fetch_add(1, Ordering::Relaxed);
        let tracked = Tracked {
            live,
            served,
            run: RefCell::new(Run {
                path: Vec::new(),
                diverged: None,
            }),
        };
        let value = f(key, &tracked);
        let Tracked { served, run, .. } = tracked;
        let run = run.into_inner();
        let served_calls = run.path.len().min(served.len());
        self.resumed.fetch_add(
            match run.diverged {
                Some((at, _)) => at,
                None => served_calls,
            } as u64,
            Ordering::Relaxed,
        );
        let divergence = match run.diverged {
            Some((depth, found)) => Some((depth, Some(served[depth].0.clone()), Some(found))),
            None => tree
                .insert(&run.path, value.clone())
                .err()
                .map(|d| (d.depth, d.expected, d.found)),
        };
        match divergence {
            None => Ok(value),
            Some((depth, expected, found)) => {
                self.nondeterministic.fetch_add(1, Ordering::Relaxed);
                let show = |c: Option<I::Call>| {
                    c.map_or_else(|| "returned".to_owned(), |c| format!("{c:?}"))
                };
                Err(Error::Nondeterministic {
                    depth,
                    expected: show(expected),
                    found: show(found),
                    value: Some(Box::new(value)),
                })
            }
        }
    }

    /// What the memo did since it was made.
    pub fn stats(&self) -> MemoStats {
        MemoStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            resumed_calls: self.resumed.load(Ordering::Relaxed),
            nondeterministic: self.nondeterministic.load(Ordering::Relaxed),
        }
    }

    /// The nodes of every key's tree (a node holds a run of calls that never branched).
    pub fn nodes(&self) -> usize {
        self.trees.lock().values().map(|t| t.nodes()).sum()
    }

    /// Forgets every recorded run.
    pub fn clear(&self) {
        self.trees.lock().clear();
    }
}

impl<K, V, I: ?Sized + Interface> fmt::Debug for Memo<K, V, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memo")
            .field("keys", &self.trees.lock().len())
            .finish_non_exhaustive()
    }
}
