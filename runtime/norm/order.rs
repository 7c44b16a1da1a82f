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
//! intervals of one array, a colour splits by what its nodes' edges into a splitter weigh
//! (a count for a set, the positions for an ordered node), in ascending order, and every
//! part but a largest one becomes a splitter — each node
//! is in a splitter O(log n) times.

use std::cmp::Ordering;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::Grouped;

/// The classes a root reaches, numbered from 0 (the root) in any order: labels, kinds, and
/// children (a set's sorted, with its repeats).
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
        (0..self.labels.len())
            .any(|i| self.sets[i] && self.kids(i).windows(2).any(|w| w[0] != w[1]))
    }

    /// The canonical rank of each class: distinct, and the same for the same classes in
    /// every graph the root is drawn in.
    pub(super) fn ranks(&self, order: fn(&L, &L) -> Ordering) -> Vec<u32> {
        let k = self.labels.len();
        // What a node's edges into a colour add up to must tell positions apart: a set's
        // edge weighs 1 (a count), an ordered node's edge at position i weighs 2^i (a set
        // of positions). An ordered node of more than 64 children has its edge at position
        // i go through a step of its own labelled i (steps are nodes k..), weighing 1.
        let mut preds_of: Vec<(u32, u32, u64)> = Vec::with_capacity(self.kids.len());
        let mut positions: Vec<u32> = Vec::new();
        for i in 0..k {
            let wide = !self.sets[i] && self.kids(i).len() > 64;
            for (at, &kid) in self.kids(i).iter().enumerate() {
                if self.sets[i] {
                    preds_of.push((kid, i as u32, 1));
                } else if !wide {
                    preds_of.push((kid, i as u32, 1 << at));
                } else {
                    let step = (k + positions.len()) as u32;
                    positions.push(at as u32);
                    preds_of.push((step, i as u32, 1));
                    preds_of.push((kid, step, 1));
                }
            }
        }
        let total = k + positions.len();
        // Each node's predecessors, with what the edge weighs.
        let preds = Grouped::new(
            total,
            preds_of
                .iter()
                .map(|&(head, tail, weight)| (head, (tail, weight))),
        );
        drop(preds_of);

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
        // Splitters waiting, smallest position first: a flag per position, and a heap.
        let mut waiting = vec![false; total];
        let mut pending: BinaryHeap<Reverse<u32>> = BinaryHeap::new();
        let mut start = 0;
        for at in 0..=total {
            if at == total || (at > 0 && compare(&elems[at - 1], &elems[at]).is_ne()) {
                end[start] = at as u32;
                waiting[start] = true;
                pending.push(Reverse(start as u32));
                start = at;
            }
            if at < total {
                colour[elems[at] as usize] = start as u32;
                place[elems[at] as usize] = at as u32;
            }
        }

        // Per node, the weight of its edges into the splitter (0: none).
        let mut weight = vec![0u64; total];
        let mut touched: Vec<u32> = Vec::new();
        // The touched nodes by colour: the first of colour c is head[c], then next[v].
        const NONE: u32 = u32::MAX;
        let mut head = vec![NONE; total];
        let mut next = vec![NONE; total];
        let mut colours: Vec<u32> = Vec::new();
        let mut group: Vec<u32> = Vec::new();
        let mut parts: Vec<(u32, u32)> = Vec::new();
        while let Some(Reverse(splitter)) = pending.pop() {
            waiting[splitter as usize] = false;
            for at in splitter..end[splitter as usize] {
                let w = elems[at as usize] as usize;
                for &(v, add) in preds.get(w) {
                    if weight[v as usize] == 0 {
                        touched.push(v);
                    }
                    weight[v as usize] += add;
                }
            }
            for &v in &touched {
                let c = colour[v as usize] as usize;
                if head[c] == NONE {
                    colours.push(c as u32);
                }
                next[v as usize] = head[c];
                head[c] = v;
            }
            for &c in &colours {
                group.clear();
                let mut v = std::mem::replace(&mut head[c as usize], NONE);
                while v != NONE {
                    group.push(v);
                    v = next[v as usize];
                }
                let (lo, hi) = (c, end[c as usize]);
                let t = group.len() as u32;
                let w0 = weight[group[0] as usize];
                let uniform = group.iter().all(|&v| weight[v as usize] == w0);
                if t == hi - lo && uniform {
                    continue;
                }
                if !uniform {
                    group.sort_unstable_by_key(|&v| weight[v as usize]);
                }
                // The touched nodes to the back, by ascending weight; the untouched first.
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
                for run in group.chunk_by(|&a, &b| weight[a as usize] == weight[b as usize]) {
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
                let skip = match waiting[lo as usize] {
                    true => None,
                    false => parts
                        .iter()
                        .enumerate()
                        .max_by(|(i, (a, b)), (j, (c, d))| (b - a).cmp(&(d - c)).then(j.cmp(i)))
                        .map(|(i, _)| i),
                };
                for (i, &(a, _)) in parts.iter().enumerate() {
                    if Some(i) != skip && !waiting[a as usize] {
                        waiting[a as usize] = true;
                        pending.push(Reverse(a));
                    }
                }
            }
            colours.clear();
            for &v in &touched {
                weight[v as usize] = 0;
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
