//! Objects as the nodes of a [`norm::Graph`]: an object's handles are its children in order,
//! except the runs of them it compares as multisets (its sets of handles, see
//! [`Object::handle_sets`](crate::Object::handle_sets)), each of which becomes one child: a
//! set node holding the run.
//!
//! Runs also fix a canonical order of an object's children within one heap or one graph:
//! each run sorted by its members' classes (or hashes), so that equal objects list equal
//! children.

use crate::norm;

/// Runs of a handle list, `(start, len)`: sorted, disjoint, within the list, each of two or
/// more handles (a run of one is its handle in order). What a hand-written impl reports
/// beyond that is dropped, so its handles are compared in order: never wrongly equal.
pub(crate) fn runs(
    handles: usize,
    report: impl FnOnce(&mut dyn FnMut(usize, usize)),
) -> Vec<(u32, u32)> {
    let mut runs = Vec::new();
    let mut end = 0;
    report(&mut |start, len| {
        if start >= end && len >= 2 && start.checked_add(len).is_some_and(|e| e <= handles) {
            end = start + len;
            runs.push((start as u32, len as u32));
        }
    });
    runs
}

/// Sorts each run of `items` by `key`: equal objects' children then come in one order.
pub(crate) fn sort_runs<T, K: Ord>(items: &mut [T], runs: &[(u32, u32)], key: impl Fn(&T) -> K) {
    for &(start, len) in runs {
        items[start as usize..(start + len) as usize].sort_unstable_by_key(&key);
    }
}

/// A graph whose first nodes are objects, added in order, and whose other nodes (the runs'
/// set nodes, and leaves standing for what lies outside) are added after them.
pub(crate) struct Lowered<L> {
    graph: norm::Graph<L>,
    objects: usize,
    later: Vec<(L, bool, Vec<usize>)>,
}

impl<L: Ord> Lowered<L> {
    /// A graph of `objects` objects, to be added with [`object`](Lowered::object).
    pub(crate) fn new(objects: usize) -> Self {
        Lowered {
            graph: norm::Graph::new(),
            objects,
            later: Vec::new(),
        }
    }

    /// A node after the objects (a leaf, or a set node if `set`): its index.
    pub(crate) fn later(&mut self, label: L, set: bool, children: Vec<usize>) -> usize {
        self.later.push((label, set, children));
        self.objects + self.later.len() - 1
    }

    /// Adds the next object: `children` are its handles' nodes, and each of `runs` becomes
    /// one child, a set node labelled `run` holding it.
    pub(crate) fn object(
        &mut self,
        label: L,
        children: &[usize],
        runs: &[(u32, u32)],
        run: impl Fn() -> L,
    ) -> usize {
        let mut kids = Vec::with_capacity(children.len());
        let mut at = 0;
        for &(start, len) in runs {
            let (start, end) = (start as usize, (start + len) as usize);
            kids.extend_from_slice(&children[at..start]);
            kids.push(self.later(run(), true, children[start..end].to_vec()));
            at = end;
        }
        kids.extend_from_slice(&children[at..]);
        self.graph.add_node(label, kids)
    }

    /// The whole graph.
    pub(crate) fn finish(mut self) -> norm::Graph<L> {
        debug_assert_eq!(self.graph.len(), self.objects, "every object was added");
        for (label, set, children) in self.later {
            match set {
                true => self.graph.add_set_node(label, children),
                false => self.graph.add_node(label, children),
            };
        }
        self.graph
    }
}
