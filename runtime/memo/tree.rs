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
//! or one insertion, never while the implementation answers.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use crate::sync::Mutex;

/// A node: a run of (call, answer) pairs that never branched, then what came after.
pub(crate) struct Node<C, A, V> {
    run: Box<[(C, A)]>,
    /// Shared with the node's halves when a split cuts its run: a fork's children stay one
    /// map.
    tail: Arc<Tail<C, A, V>>,
}

/// A fork's children: where each answer met led.
type Children<C, A, V> = Mutex<HashMap<A, Arc<Node<C, A, V>>>>;

/// Where a node hangs, if not at the root: a fork (its tail) and the answer that leads to it.
type Parent<C, A, V> = Option<(Arc<Tail<C, A, V>>, A)>;

/// What came after a run.
pub(crate) enum Tail<C, A, V> {
    /// The function returned this.
    Return(V),
    /// The function asked `call`; the answers met so far and where each led.
    Fork {
        call: C,
        children: Children<C, A, V>,
    },
}

/// Where a lookup ended.
pub(crate) enum Walk<C, A, V> {
    /// A recorded path matched every answer: its result.
    Hit(V),
    /// The answers left the recorded paths (or there were none): the calls asked on the
    /// way and their answers, to serve to the function so that none is asked twice.
    Miss(Vec<(C, A)>),
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

/// The interaction tree of one key.
pub(crate) struct Tree<C, A, V> {
    root: Mutex<Option<Arc<Node<C, A, V>>>>,
}

impl<C, A, V> Default for Tree<C, A, V> {
    fn default() -> Self {
        Tree {
            root: Mutex::new(None),
        }
    }
}

impl<C, A, V> Tree<C, A, V>
where
    C: Clone + Eq + Hash + Debug,
    A: Clone + Eq + Hash + Debug,
    V: Clone,
{
    /// Replays the recorded calls against `ask` (the live implementation), following its
    /// answers, until a result (a hit) or an answer no path recorded (a miss).
    pub(crate) fn walk(&self, mut ask: impl FnMut(&C) -> A) -> Walk<C, A, V> {
        let Some(mut node) = self.root.lock().clone() else {
            return Walk::Miss(Vec::new());
        };
        let mut asked = Vec::new();
        loop {
            for (call, answer) in node.run.iter() {
                let got = ask(call);
                let same = got == *answer;
                asked.push((call.clone(), got));
                if !same {
                    return Walk::Miss(asked);
                }
            }
            match &*node.tail {
                Tail::Return(value) => return Walk::Hit(value.clone()),
                Tail::Fork { call, children } => {
                    let got = ask(call);
                    let next = children.lock().get(&got).cloned();
                    asked.push((call.clone(), got));
                    match next {
                        Some(child) => node = child,
                        None => return Walk::Miss(asked),
                    }
                }
            }
        }
    }

    /// Records a complete run: the calls it asked with their answers, and what it
    /// returned. Nothing changes if it disagrees with a recorded path (`Divergence`), or if
    /// the same path was recorded already.
    pub(crate) fn insert(&self, path: &[(C, A)], value: V) -> Result<(), Divergence<C>> {
        let mut root = self.root.lock();
        let Some(top) = root.clone() else {
            *root = Some(leaf(path, value));
            return Ok(());
        };
        let mut node = top;
        let mut parent: Parent<C, A, V> = None;
        let mut pos = 0;
        loop {
            for (i, (call, answer)) in node.run.iter().enumerate() {
                let (_, a) = same_call(path, pos, call)?;
                if a != answer {
                    // A second answer here: the run splits into a fork.
                    let rest = Arc::new(Node {
                        run: node.run[i + 1..].into(),
                        tail: Arc::clone(&node.tail),
                    });
                    let children = HashMap::from([
                        (answer.clone(), rest),
                        (a.clone(), leaf(&path[pos + 1..], value)),
                    ]);
                    let split = Arc::new(Node {
                        run: node.run[..i].into(),
                        tail: Arc::new(Tail::Fork {
                            call: call.clone(),
                            children: Mutex::new(children),
                        }),
                    });
                    match parent {
                        None => *root = Some(split),
                        Some((fork, answer)) => {
                            if let Tail::Fork { children, .. } = &*fork {
                                children.lock().insert(answer, split);
                            }
                        }
                    }
                    return Ok(());
                }
                pos += 1;
            }
            match &*node.tail {
                Tail::Return(_) => {
                    return match path.get(pos) {
                        // Recorded already (by another run of an equal implementation).
                        None => Ok(()),
                        Some((c, _)) => Err(Divergence {
                            depth: pos,
                            expected: None,
                            found: Some(c.clone()),
                        }),
                    };
                }
                Tail::Fork { call, children } => {
                    let (_, a) = same_call(path, pos, call)?;
                    let mut map = children.lock();
                    let next = match map.get(a) {
                        Some(child) => Arc::clone(child),
                        None => {
                            map.insert(a.clone(), leaf(&path[pos + 1..], value));
                            return Ok(());
                        }
                    };
                    drop(map);
                    parent = Some((Arc::clone(&node.tail), a.clone()));
                    node = next;
                    pos += 1;
                }
            }
        }
    }

    /// The nodes reachable from the root.
    pub(crate) fn nodes(&self) -> usize {
        fn count<C, A, V>(node: &Node<C, A, V>) -> usize {
            1 + match &*node.tail {
                Tail::Return(_) => 0,
                Tail::Fork { children, .. } => children.lock().values().map(|c| count(c)).sum(),
            }
        }
        self.root.lock().as_deref().map_or(0, count)
    }
}

/// The pair at `pos` of a new run, if it asks the call a recorded path asked there.
fn same_call<'p, C: Clone + Eq, A>(
    path: &'p [(C, A)],
    pos: usize,
    call: &C,
) -> Result<&'p (C, A), Divergence<C>> {
    match path.get(pos) {
        Some(pair) if pair.0 == *call => Ok(pair),
        other => Err(Divergence {
            depth: pos,
            expected: Some(call.clone()),
            found: other.map(|(c, _)| c.clone()),
        }),
    }
}

/// A node holding the rest of a path and its result.
fn leaf<C: Clone, A: Clone, V>(path: &[(C, A)], value: V) -> Arc<Node<C, A, V>> {
    Arc::new(Node {
        run: path.into(),
        tail: Arc::new(Tail::Return(value)),
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
                match tree.walk(|&c| answer[c as usize]) {
                    Walk::Hit(v) => {
                        prop_assert_eq!(v, result);
                        prop_assert!(paths.contains(&path), "a hit on a path never recorded");
                    }
                    Walk::Miss(asked) => {
                        prop_assert!(!paths.contains(&path), "a miss on a recorded path");
                        prop_assert!(asked.len() <= path.len());
                        prop_assert_eq!(&asked[..], &path[..asked.len()]);
                        prop_assert_eq!(tree.insert(&path, result), Ok(()));
                        paths.insert(path);
                    }
                }
            }
            // Each path ends in its own leaf; forks add one node per branch point at most.
            prop_assert!(tree.nodes() >= paths.len());
            prop_assert!(tree.nodes() <= 2 * paths.len());
        }
    }

    #[test]
    fn runs_that_never_branch_are_one_node_and_split_where_they_do() {
        let tree: Tree<u8, u8, &str> = Tree::default();
        let one = [(0, 1), (1, 1), (2, 1)];
        tree.insert(&one, "one").unwrap();
        assert_eq!(tree.nodes(), 1);
        // Same first call and answer, another answer to the second: a fork after one pair.
        let two = [(0, 1), (1, 2), (3, 0)];
        tree.insert(&two, "two").unwrap();
        assert_eq!(tree.nodes(), 3);
        assert!(matches!(
            tree.walk(|&c| [1, 1, 1, 0][c as usize]),
            Walk::Hit("one")
        ));
        assert!(matches!(
            tree.walk(|&c| [1, 2, 9, 0][c as usize]),
            Walk::Hit("two")
        ));
        let Walk::Miss(asked) = tree.walk(|&c| [1, 3, 9, 0][c as usize]) else {
            panic!("an answer never met")
        };
        assert_eq!(asked, vec![(0, 1), (1, 3)]);
        // Recorded again: nothing changes.
        tree.insert(&one, "one").unwrap();
        assert_eq!(tree.nodes(), 3);
    }

    #[test]
    fn a_run_that_disagrees_with_a_recorded_path_changes_nothing() {
        let tree: Tree<u8, u8, u32> = Tree::default();
        tree.insert(&[(0, 1), (1, 1)], 1).unwrap();
        // After answer 1 to call 0 the recorded run asked call 1; this one asks call 2.
        assert_eq!(
            tree.insert(&[(0, 1), (2, 1)], 2),
            Err(Divergence {
                depth: 1,
                expected: Some(1),
                found: Some(2)
            })
        );
        // Or returned.
        assert_eq!(
            tree.insert(&[(0, 1)], 3),
            Err(Divergence {
                depth: 1,
                expected: Some(1),
                found: None
            })
        );
        // Or asked more after the recorded one returned.
        assert_eq!(
            tree.insert(&[(0, 1), (1, 1), (5, 0)], 4),
            Err(Divergence {
                depth: 2,
                expected: None,
                found: Some(5)
            })
        );
        assert_eq!(tree.nodes(), 1);
        assert!(matches!(tree.walk(|_| 1), Walk::Hit(1)));
    }
}
