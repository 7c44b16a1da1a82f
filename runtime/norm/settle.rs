//! Refinement by the nodes whose children changed: rounds that look only where the last
//! one split.
//!
//! Whole rounds (`Graph::round`) reread every node; once most classes are found, most of
//! that is wasted. Here a round computes the signature (its children's classes, in order)
//! of the *dirty* nodes only — the parents of nodes whose class changed in the round before
//! — and splits their blocks by it, all signatures taken before any block is split, so that
//! a round is one step of the whole rounds restricted to where something can change. When a
//! block splits, its largest part keeps the block's number and the others get new ones, so a
//! node changes number at most log n times and its parents are reread as often: O(m log n)
//! for bounded out-degree. A node not dirty keeps the signature its block-mates not dirty
//! share, which is why one of them stands for all.

use std::hash::Hasher;

use rustc_hash::FxHasher;

use super::{index, Graph, Grouped};

impl<L> Graph<L> {
    /// Refines `class` (`count` blocks, every block's nodes of one label, kind and arity) to
    /// the coarsest stable partition (for set nodes: the coarsest counting bisimulation). `Err` with the partition reached if `budget` (edges read)
    /// runs out first: it is still a refinement of the input that only split unequal nodes.
    pub(super) fn settle(
        &self,
        mut class: Vec<u32>,
        mut count: usize,
        budget: u64,
    ) -> Result<(Vec<u32>, usize), (Vec<u32>, usize)> {
        let n = self.len();
        // Each node's parents (once per edge).
        let parents = Grouped::new(
            n,
            (0..n).flat_map(|v| {
                let kids = &self.children[self.offsets[v] as usize..self.offsets[v + 1] as usize];
                kids.iter().map(move |&c| (c, index(v)))
            }),
        );
        // Blocks as ranges of `elems`: block b is elems[start[b]..end[b]].
        let Grouped {
            first: mut start,
            items: mut elems,
        } = Grouped::new(count, (0..n).map(|v| (class[v], index(v))));
        let mut end: Vec<u32> = start[1..].to_vec();
        start.pop();
        let mut place = vec![0u32; n];
        for (at, &v) in elems.iter().enumerate() {
            place[v as usize] = index(at);
        }

        // A set's signature is its members' classes as a multiset: sorted.
        let members = |class: &[u32], v: usize| -> Vec<u32> {
            let mut kids: Vec<u32> = self.children(v).map(|c| class[c]).collect();
            kids.sort_unstable();
            kids
        };
        let signature = |class: &[u32], v: usize| -> u64 {
            let mut h = FxHasher::default();
            match self.is_set(v) {
                true => members(class, v).iter().for_each(|&c| h.write_u32(c)),
                false => self.children(v).for_each(|c| h.write_u32(class[c])),
            }
            h.finish()
        };
        let same = |class: &[u32], a: usize, b: usize| match self.is_set(a) {
            true => members(class, a) == members(class, b),
            false => self
                .children(a)
                .map(|c| class[c])
                .eq(self.children(b).map(|c| class[c])),
        };

        let mut dirty: Vec<u32> = (0..index(n)).collect();
        let mut is_dirty = vec![true; n];
        let mut hash = vec![0u64; n];
        let mut group = vec![0u32; n];
        let mut changed: Vec<u32> = Vec::new();
        // The groups of the block being read: a representative of each.
        let mut groups: Vec<u32> = Vec::new();
        // Buckets of dirty nodes by block: the first of block b is head[b], then next[v].
        const NONE: u32 = u32::MAX;
        let mut head: Vec<u32> = Vec::new();
        let mut next = vec![NONE; n];
        let mut touched: Vec<u32> = Vec::new();
        let mut ordered: Vec<u32> = Vec::new();
        let mut runs: Vec<(usize, usize, u32)> = Vec::new();
        let mut bounds: Vec<(u32, u32)> = Vec::new();
        let mut read = 0u64;
        while !dirty.is_empty() {
            if read > budget {
                return Err((class, count));
            }
            for &v in &dirty {
                hash[v as usize] = signature(&class, v as usize);
                read += self.children(v as usize).len() as u64 + 1;
            }
            // The dirty nodes by block (buckets, not a sort: a round may be most of the
            // graph), each block's by signature.
            head.resize(count, NONE);
            touched.clear();
            for &v in &dirty {
                let b = class[v as usize] as usize;
                if head[b] == NONE {
                    touched.push(index(b));
                }
                next[v as usize] = head[b];
                head[b] = v;
            }
            ordered.clear();
            runs.clear();
            for &b in &touched {
                let from = ordered.len();
                let mut v = std::mem::replace(&mut head[b as usize], NONE);
                while v != NONE {
                    ordered.push(v);
                    v = next[v as usize];
                }
                ordered[from..].sort_unstable_by_key(|&v| hash[v as usize]);
                runs.push((from, ordered.len(), 0));
            }
            std::mem::swap(&mut dirty, &mut ordered);
            // Phase one: every dirty node's group within its block, from the classes as
            // they were at the start of the round.
            for (from, to, ngroups) in runs.iter_mut() {
                let (from, to) = (*from, *to);
                let run = &dirty[from..to];
                let b = class[run[0] as usize];
                let (lo, hi) = (start[b as usize], end[b as usize]);
                // The dirty nodes to the back of the block (only places change): the front
                // node, if the block has nodes not dirty, is one of them.
                to_back(&mut elems, &mut place, hi, run);
                // The block's nodes not dirty are group 0, one of them standing for all.
                let rest = hi - lo - index(run.len());
                groups.clear();
                if rest > 0 {
                    let u = elems[lo as usize];
                    hash[u as usize] = signature(&class, u as usize);
                    groups.push(u);
                }
                // Groups of the hash being read start at `same_hash` (group 0 aside).
                let mut same_hash = groups.len();
                for (i, &v) in run.iter().enumerate() {
                    let v = v as usize;
                    if i > 0 && hash[run[i - 1] as usize] != hash[v] {
                        same_hash = groups.len();
                    }
                    let matches =
                        |r: u32| hash[r as usize] == hash[v] && same(&class, r as usize, v);
                    let found = match rest > 0 && matches(groups[0]) {
                        true => Some(0),
                        false => (same_hash..groups.len()).find(|&g| matches(groups[g])),
                    };
                    group[v] = index(found.unwrap_or_else(|| {
                        groups.push(index(v));
                        groups.len() - 1
                    }));
                }
                *ngroups = index(groups.len());
            }
            // Phase two: split.
            for &(from, to, ngroups) in &runs {
                if ngroups < 2 {
                    continue;
                }
                let b = class[dirty[from] as usize] as usize;
                let (lo, hi) = (start[b], end[b]);
                let run = &mut dirty[from..to];
                run.sort_unstable_by_key(|&v| group[v as usize]);
                // The dirty nodes at the back of the block, by group: group 0's (if the
                // block has nodes not dirty) right after those.
                to_back(&mut elems, &mut place, hi, run);
                let rest = hi - lo - index(run.len());
                // Each group's range.
                bounds.clear();
                let mut cursor = lo;
                let mut i = 0;
                for g in 0..ngroups {
                    let begin = cursor;
                    if g == 0 && rest > 0 {
                        cursor += rest;
                    }
                    while i < run.len() && group[run[i] as usize] == g {
                        cursor += 1;
                        i += 1;
                    }
                    bounds.push((begin, cursor));
                }
                let largest = (0..bounds.len())
                    .max_by_key(|&g| (bounds[g].1 - bounds[g].0, std::cmp::Reverse(g)))
                    .expect("two groups or more");
                for (g, &(a, z)) in bounds.iter().enumerate() {
                    if g == largest {
                        start[b] = a;
                        end[b] = z;
                        continue;
                    }
                    let id = index(count);
                    count += 1;
                    start.push(a);
                    end.push(z);
                    for p in a..z {
                        let v = elems[p as usize];
                        class[v as usize] = id;
                        changed.push(v);
                    }
                }
            }
            for &v in &dirty {
                is_dirty[v as usize] = false;
            }
            dirty.clear();
            for &v in &changed {
                let v = v as usize;
                read += parents.get(v).len() as u64;
                for &p in parents.get(v) {
                    if !is_dirty[p as usize] {
                        is_dirty[p as usize] = true;
                        dirty.push(p);
                    }
                }
            }
            changed.clear();
        }
        Ok((class, count))
    }
}

/// Moves `nodes` (all of one block, which ends at `end`) to the block's back, in order.
fn to_back(elems: &mut [u32], place: &mut [u32], end: u32, nodes: &[u32]) {
    let t = index(nodes.len());
    for (i, &v) in nodes.iter().enumerate() {
        let to = end - t + index(i);
        let from = place[v as usize];
        let other = elems[to as usize];
        elems.swap(from as usize, to as usize);
        place[other as usize] = from;
        place[v as usize] = to;
    }
}
