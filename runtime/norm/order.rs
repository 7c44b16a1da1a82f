//! The canonical order of the classes a root reaches, which lists a set's members in a
//! canonical form.
//!
//! A canonical form numbers classes breadth-first from its root, children in order; a
//! set's members have no order of their own, so they are listed by a rank that depends
//! only on what the root unfolds to. The classes a root reaches make the smallest graph of
//! that unfolding, unique up to a unique isomorphism (no two of its nodes are equal, so it
//! has no automorphism but the identity); colour refinement of that graph, with every
//! choice made from colours and never from node numbers, ends with each class a colour of
//! its own, at a position in the colour order that is the same in every graph the root is
//! drawn in. The refinement is the canonical one of Berkholz, Bonsma and Grohe: colours are
//! intervals of one array, a colour splits by its nodes' edge counts into a splitter, in
//! ascending count order, and every part but a largest one becomes a splitter — each node
//! is in a splitter O(log n) times.

use std::cmp::Ordering;
use std::collections::BTreeSet;

/// The classes a root reaches, numbered from 0 (the root) in any order: labels, kinds, and
/// children (a set's without repeats).
pub(super) struct Reached<'g, L> {
    pub(super) labels: Vec<&'g L>,
    pub(super) sets: Vec<bool>,
    /// Children of class `i`: `kids[offsets[i]..offsets[i + 1]]`.
    pub(super) offsets: Vec<u32>,
    pub(super) kids: Vec<u32>,
}

impl<L> Reached<'_, L> {
    pub(super) fn kids(&self, i: usize) -> &[u32] {
        &self.kids[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Whether some set has members of two classes, so that their order matters.
    pub(super) fn needs_order(&self) -> bool {
        (0..self.labels.len()).any(|i| self.sets[i] && self.kids(i).len() > 1)
    }

    /// The canonical rank of each class: distinct, and the same for the same classes in
    /// every graph the root is drawn in.
    pub(super) fn ranks(&self, order: fn(&L, &L) -> Ordering) -> Vec<u32> {
        let k = self.labels.len();
        // An ordered node's edge at position i goes through a step of its own labelled i
        // (steps are nodes k..), so that counts of edges into a colour tell positions apart.
        let mut preds_of: Vec<(u32, u32)> = Vec::with_capacity(self.kids.len() * 2);
        let mut positions: Vec<u32> = Vec::new();
        for i in 0..k {
            for (at, &kid) in self.kids(i).iter().enumerate() {
                if self.sets[i] {
                    preds_of.push((kid, i as u32));
                } else {
                    let step = (k + positions.len()) as u32;
                    positions.push(at as u32);
                    preds_of.push((step, i as u32));
                    preds_of.push((kid, step));
                }
            }
        }
        let total = k + positions.len();
        // Predecessors of node v: preds[first[v]..first[v + 1]].
        let mut first = vec![0u32; total + 1];
        for &(head, _) in &preds_of {
            first[head as usize + 1] += 1;
        }
        for v in 0..total {
            first[v + 1] += first[v];
        }
        let mut fill = first.clone();
        let mut preds = vec![0u32; preds_of.len()];
        for &(head, tail) in &preds_of {
            preds[fill[head as usize] as usize] = tail;
            fill[head as usize] += 1;
        }
        drop((preds_of, fill));

        // The first colours: classes by label, kind and arity, then steps by position.
        let key = |v: usize| -> (bool, u32, u32) {
            match v < k {
                true => (false, self.sets[v] as u32, self.kids(v).len() as u32),
                false => (true, positions[v - k], 0),
            }
        };
        let compare = |a: &u32, b: &u32| -> Ordering {
            let (a, b) = (*a as usize, *b as usize);
            let (ka, kb) = (key(a), key(b));
            ka.0.cmp(&kb.0).then_with(|| match ka.0 {
                true => ka.1.cmp(&kb.1),
                false => order(self.labels[a], self.labels[b])
                    .then(ka.1.cmp(&kb.1))
                    .then(ka.2.cmp(&kb.2)),
            })
        };
        let mut elems: Vec<u32> = (0..total as u32).collect();
        elems.sort_unstable_by(compare);
        let mut colour = vec![0u32; total];
        let mut place = vec![0u32; total];
        // The end of the colour that starts at each position.
        let mut end = vec![0u32; total];
        let mut pending = BTreeSet::new();
        let mut start = 0;
        for at in 0..total {
            if at > 0 && compare(&elems[at - 1], &elems[at]).is_ne() {
                end[start] = at as u32;
                pending.insert(start as u32);
                start = at;
            }
            colour[elems[at] as usize] = start as u32;
            place[elems[at] as usize] = at as u32;
        }
        end[start] = total as u32;
        pending.insert(start as u32);

        let mut count = vec![0u32; total];
        let mut touched: Vec<u32> = Vec::new();
        let mut parts: Vec<(u32, u32)> = Vec::new();
        while let Some(splitter) = pending.pop_first() {
            for at in splitter..end[splitter as usize] {
                let w = elems[at as usize] as usize;
                for &v in &preds[first[w] as usize..first[w + 1] as usize] {
                    if count[v as usize] == 0 {
                        touched.push(v);
                    }
                    count[v as usize] += 1;
                }
            }
            touched.sort_unstable_by_key(|&v| (colour[v as usize], count[v as usize]));
            let mut next = 0;
            while next < touched.len() {
                let c = colour[touched[next] as usize];
                let from = next;
                while next < touched.len() && colour[touched[next] as usize] == c {
                    next += 1;
                }
                let group = &touched[from..next];
                let (lo, hi) = (c, end[c as usize]);
                let t = group.len() as u32;
                let same = |a: u32, b: u32| count[a as usize] == count[b as usize];
                if t == hi - lo && same(group[0], group[group.len() - 1]) {
                    continue;
                }
                // The touched nodes to the back, by ascending count; the untouched first.
                for (i, &v) in group.iter().enumerate() {
                    let to = hi - t + i as u32;
                    let from = place[v as usize];
                    let other = elems[to as usize];
                    elems.swap(from as usize, to as usize);
                    place[other as usize] = from;
                    place[v as usize] = to;
                }
                parts.clear();
                if t < hi - lo {
                    parts.push((lo, hi - t));
                }
                let mut at = hi - t;
                for run in group.chunk_by(|&a, &b| same(a, b)) {
                    parts.push((at, at + run.len() as u32));
                    at += run.len() as u32;
                }
                for &(a, b) in &parts[1..] {
                    for i in a..b {
                        colour[elems[i as usize] as usize] = a;
                    }
                }
                for &(a, b) in &parts {
                    end[a as usize] = b;
                }
                // Stable against the whole colour, so against a largest part once stable
                // against the others — unless the whole was waiting itself.
                let skip = match pending.contains(&lo) {
                    true => None,
                    false => parts
                        .iter()
                        .enumerate()
                        .max_by(|(i, (a, b)), (j, (c, d))| (b - a).cmp(&(d - c)).then(j.cmp(i)))
                        .map(|(i, _)| i),
                };
                for (i, &(a, _)) in parts.iter().enumerate() {
                    if Some(i) != skip {
                        pending.insert(a);
                    }
                }
            }
            for &v in &touched {
                count[v as usize] = 0;
            }
            touched.clear();
        }
        colour.truncate(k);
        debug_assert!({
            let mut seen = colour.clone();
            seen.sort_unstable();
            seen.windows(2).all(|w| w[0] != w[1])
        });
        colour
    }
}
