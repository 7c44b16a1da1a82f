//! The normalization table: every immutable object belongs to the class of the objects
//! structurally equal to it (cycles included), and a class's caches live on one
//! representative, so equal objects share them.
//!
//! The invariant is that classes are exactly the structural-equality classes of the live
//! immutable objects. New immutable objects (one from [`Heap::imm`], a whole graph from
//! [`Heap::freeze`]) are added in one batch: their strongly connected components are
//! visited children first, so everything outside the component being added is already
//! classed, and then
//!
//! * a component of one node without a self-loop is equal to a class exactly when its
//!   type, shape and children's classes are the class's: a hash lookup on that
//!   *signature* finds it (hash-consing);
//! * a cyclic component is first minimized by partition refinement ([`crate::norm`]),
//!   with the classes outside it as fixed labels. It can only be equal to an existing
//!   cyclic component of the same size, which is then isomorphic to it; a hash of its
//!   nodes' neighbourhoods that does not depend on where the component is entered finds
//!   the candidates, and an isomorphism check decides.
//!
//! Every lookup is confirmed by comparing shapes with [`Object::same_shape`]
//! (crate::Object::same_shape), so hash collisions cost time, never correctness.

use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};
use slotmap::{Key, SlotMap};

use crate::handle::{ObjectId, ObjectKey, Tag};
use crate::heap::Heap;
use crate::norm;

slotmap::new_key_type! {
    /// A class of structurally equal immutable objects.
    pub(crate) struct ClassKey;
    /// A minimized cyclic component, made of classes.
    struct CycleKey;
}

/// The classes of one heap and the indexes that find them.
#[derive(Debug, Default)]
pub(crate) struct Classes {
    classes: SlotMap<ClassKey, Class>,
    /// Signature → a class with it; classes sharing a signature hash are chained.
    by_signature: FxHashMap<u64, ClassKey>,
    cycles: SlotMap<CycleKey, Cycle>,
    /// Cycle hash → a cycle with it, chained likewise.
    by_cycle: FxHashMap<u64, CycleKey>,
}

#[derive(Debug)]
struct Class {
    /// The member whose cells hold the class's caches.
    rep: ObjectKey,
    others: Vec<ObjectKey>,
    /// `None` for a class that is never looked up: an object that cannot be compared.
    signature: Option<u64>,
    next: Option<ClassKey>,
    cycle: Option<CycleKey>,
    /// Within its cycle: the hash of its neighbourhood.
    around: u64,
}

#[derive(Debug)]
struct Cycle {
    classes: Vec<ClassKey>,
    hash: u64,
    next: Option<CycleKey>,
}

/// A child of a node being added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Child {
    /// Another node of the batch.
    New(u32),
    /// An object that is already classed.
    Class(ClassKey),
}

/// A node of the batch being added.
struct New {
    key: ObjectKey,
    /// Type and shape, hashed; `None` if the object cannot be compared (or names an object
    /// that is not immutable), so it is a class of its own.
    shape: Option<u64>,
    children: Vec<Child>,
}

/// A cyclic component after minimization: one node per class.
struct Quotient {
    /// A batch node of each class, and all the batch nodes in it.
    members: Vec<Vec<u32>>,
    /// Children of each class: `Ok(class in the quotient)` or `Err(outside class)`.
    children: Vec<Vec<Result<u32, ClassKey>>>,
}

/// How many rounds the neighbourhood hash of a cycle's classes looks around.
const ROUNDS: usize = 3;

fn hash_of(f: impl FnOnce(&mut FxHasher)) -> u64 {
    let mut h = FxHasher::default();
    f(&mut h);
    h.finish()
}

impl Classes {
    /// The representative of a class.
    pub(crate) fn rep(&self, class: ClassKey) -> ObjectKey {
        self.classes[class].rep
    }

    fn chain_insert(&mut self, class: ClassKey, signature: u64) {
        let next = self.by_signature.insert(signature, class);
        self.classes[class].next = next;
    }

    fn chain_remove(&mut self, class: ClassKey, signature: u64) {
        let next = self.classes[class].next;
        let mut at = self.by_signature[&signature];
        if at == class {
            match next {
                Some(n) => self.by_signature.insert(signature, n),
                None => self.by_signature.remove(&signature),
            };
            return;
        }
        while let Some(n) = self.classes[at].next {
            if n == class {
                self.classes[at].next = next;
                return;
            }
            at = n;
        }
    }

    fn drop_cycle(&mut self, cycle: CycleKey) {
        let Some(c) = self.cycles.remove(cycle) else {
            return;
        };
        let mut at = self.by_cycle[&c.hash];
        if at == cycle {
            match c.next {
                Some(n) => self.by_cycle.insert(c.hash, n),
                None => self.by_cycle.remove(&c.hash),
            };
        } else {
            while let Some(n) = self.cycles[at].next {
                if n == cycle {
                    self.cycles[at].next = c.next;
                    break;
                }
                at = n;
            }
        }
        for class in c.classes {
            if let Some(k) = self.classes.get_mut(class) {
                k.cycle = None;
            }
        }
    }

    /// Takes a removed object out of its class; returns the class's new representative if
    /// the removed object was the representative of a class that lives on.
    pub(crate) fn forget(&mut self, class: ClassKey, key: ObjectKey) -> Option<ObjectKey> {
        let c = &mut self.classes[class];
        if c.rep != key {
            c.others.retain(|&o| o != key);
            return None;
        }
        if let Some(next) = c.others.pop() {
            c.rep = next;
            return Some(next);
        }
        let (signature, cycle) = (c.signature, c.cycle);
        if let Some(s) = signature {
            self.chain_remove(class, s);
        }
        if let Some(cycle) = cycle {
            self.drop_cycle(cycle);
        }
        self.classes.remove(class);
        None
    }

    fn found(&mut self, rep: ObjectKey, others: Vec<ObjectKey>) -> ClassKey {
        self.classes.insert(Class {
            rep,
            others,
            signature: None,
            next: None,
            cycle: None,
            around: 0,
        })
    }
}

impl Heap {
    /// Classes a batch of objects that just became immutable; returns those that founded a
    /// class (their caches are the class's).
    pub(crate) fn normalize(&mut self, batch: &[ObjectKey]) -> Vec<ObjectKey> {
        let position: FxHashMap<ObjectKey, u32> = batch
            .iter()
            .enumerate()
            .map(|(i, &k)| (k, i as u32))
            .collect();
        let mut nodes: Vec<New> = batch.iter().map(|&k| self.describe(k, &position)).collect();
        let mut class: Vec<Option<ClassKey>> = vec![None; nodes.len()];
        let mut founders = Vec::new();
        // Objects that cannot be compared are classes of their own, and fixed labels for
        // the rest.
        for (i, node) in nodes.iter().enumerate() {
            if node.shape.is_none() {
                class[i] = Some(self.classes.found(node.key, Vec::new()));
                founders.push(node.key);
            }
        }
        for component in components(&nodes, &class) {
            for &i in &component {
                for child in &mut nodes[i as usize].children {
                    if let Child::New(j) = *child {
                        if let Some(c) = class[j as usize] {
                            *child = Child::Class(c);
                        }
                    }
                }
            }
            let cyclic = component.len() > 1
                || nodes[component[0] as usize]
                    .children
                    .contains(&Child::New(component[0]));
            if cyclic {
                self.add_cycle(&nodes, &component, &mut class, &mut founders);
            } else {
                let i = component[0] as usize;
                let c = self.add_single(&nodes[i], &mut founders);
                class[i] = Some(c);
            }
        }
        for (node, c) in nodes.iter().zip(class) {
            self.slots[node.key].class = c;
        }
        founders
    }

    /// A batch node's type, shape and children.
    fn describe(&self, key: ObjectKey, position: &FxHashMap<ObjectKey, u32>) -> New {
        let slot = &self.slots[key];
        let obj = slot.obj.get();
        let type_id = obj.type_id();
        let mut h = FxHasher::default();
        type_id.hash(&mut h);
        let mut shape = slot.ops.hash_shape(obj, &mut h).then(|| h.finish());
        let mut children = Vec::new();
        slot.ops.handles(obj, &mut |id: ObjectId| {
            let child = (id.heap == self.id)
                .then(|| self.slots.get(id.key))
                .flatten()
                .filter(|s| !s.gone && s.tag == Tag::Imm)
                .and_then(|s| match position.get(&id.key) {
                    Some(&i) => Some(Child::New(i)),
                    None => s.class.map(Child::Class),
                });
            match child {
                Some(c) => children.push(c),
                // It names something that may change or vanish: not comparable.
                None => shape = None,
            }
        });
        New {
            key,
            shape,
            children,
        }
    }

    /// The classes of an object's children (all classed).
    fn child_classes(&self, key: ObjectKey) -> Vec<Option<ClassKey>> {
        let slot = &self.slots[key];
        let mut out = Vec::new();
        slot.ops.handles(slot.obj.get(), &mut |id: ObjectId| {
            out.push(
                self.slots
                    .get(id.key)
                    .filter(|_| id.heap == self.id)
                    .and_then(|s| s.class),
            );
        });
        out
    }

    fn same_shape(&self, a: ObjectKey, b: ObjectKey) -> bool {
        let (sa, sb) = (&self.slots[a], &self.slots[b]);
        sa.obj.get().type_id() == sb.obj.get().type_id()
            && sa.ops.same_shape(sa.obj.get(), sb.obj.get())
    }

    fn signature(node: &New, children: impl Iterator<Item = ClassKey>) -> u64 {
        hash_of(|h| {
            node.shape.hash(h);
            for c in children {
                c.data().as_ffi().hash(h);
            }
        })
    }

    /// Classes a node that is not on a cycle: its children are all classed.
    fn add_single(&mut self, node: &New, founders: &mut Vec<ObjectKey>) -> ClassKey {
        let children: Vec<ClassKey> = node
            .children
            .iter()
            .map(|c| match *c {
                Child::Class(c) => c,
                Child::New(_) => unreachable!("children are classed first"),
            })
            .collect();
        let signature = Self::signature(node, children.iter().copied());
        let mut candidate = self.classes.by_signature.get(&signature).copied();
        while let Some(c) = candidate {
            let rep = self.classes.classes[c].rep;
            if self.same_shape(rep, node.key)
                && self
                    .child_classes(rep)
                    .iter()
                    .copied()
                    .eq(children.iter().map(|&c| Some(c)))
            {
                self.classes.classes[c].others.push(node.key);
                return c;
            }
            candidate = self.classes.classes[c].next;
        }
        let c = self.classes.found(node.key, Vec::new());
        self.classes.classes[c].signature = Some(signature);
        self.classes.chain_insert(c, signature);
        founders.push(node.key);
        c
    }

    /// Classes a cyclic component.
    fn add_cycle(
        &mut self,
        nodes: &[New],
        component: &[u32],
        class: &mut [Option<ClassKey>],
        founders: &mut Vec<ObjectKey>,
    ) {
        let quotient = self.minimize(nodes, component);
        let around = neighbourhoods(nodes, &quotient);
        let hash = hash_of(|h| {
            let mut sorted = around.clone();
            sorted.sort_unstable();
            sorted.hash(h);
        });
        let mut candidate = self.classes.by_cycle.get(&hash).copied();
        while let Some(cycle) = candidate {
            if let Some(map) = self.isomorphism(nodes, &quotient, &around, cycle) {
                for (q, members) in quotient.members.iter().enumerate() {
                    for &m in members {
                        let key = nodes[m as usize].key;
                        self.classes.classes[map[q]].others.push(key);
                        class[m as usize] = Some(map[q]);
                    }
                }
                return;
            }
            candidate = self.classes.cycles[cycle].next;
        }
        let keys: Vec<ClassKey> = quotient
            .members
            .iter()
            .map(|members| {
                let rep = nodes[members[0] as usize].key;
                let others = members[1..].iter().map(|&m| nodes[m as usize].key);
                founders.push(rep);
                self.classes.found(rep, others.collect())
            })
            .collect();
        let cycle = self.classes.cycles.insert(Cycle {
            classes: keys.clone(),
            hash,
            next: None,
        });
        let next = self.classes.by_cycle.insert(hash, cycle);
        self.classes.cycles[cycle].next = next;
        for (q, &k) in keys.iter().enumerate() {
            let node = &nodes[quotient.members[q][0] as usize];
            let signature = Self::signature(
                node,
                quotient.children[q].iter().map(|c| match *c {
                    Ok(inner) => keys[inner as usize],
                    Err(outer) => outer,
                }),
            );
            let c = &mut self.classes.classes[k];
            c.cycle = Some(cycle);
            c.around = around[q];
            c.signature = Some(signature);
            self.classes.chain_insert(k, signature);
            for &m in &quotient.members[q] {
                class[m as usize] = Some(k);
            }
        }
    }

    /// Merges the structurally equal nodes of a cyclic component (partition refinement,
    /// with the classes around it as fixed labels).
    fn minimize(&self, nodes: &[New], component: &[u32]) -> Quotient {
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        enum Label {
            Node(u32),
            Outside(ClassKey),
        }
        let local: FxHashMap<u32, usize> =
            component.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        // Exact labels: the same shape hash is confirmed by comparing shapes.
        let mut labels: FxHashMap<u64, Vec<(u32, ObjectKey)>> = FxHashMap::default();
        let mut next_label = 0u32;
        let mut graph = norm::Graph::new();
        let mut outside: FxHashMap<ClassKey, usize> = FxHashMap::default();
        let mut leaves = Vec::new();
        for &n in component {
            let node = &nodes[n as usize];
            let bucket = labels.entry(node.shape.expect("comparable")).or_default();
            let label = match bucket.iter().find(|(_, k)| self.same_shape(*k, node.key)) {
                Some(&(l, _)) => l,
                None => {
                    next_label += 1;
                    bucket.push((next_label, node.key));
                    next_label
                }
            };
            let children: Vec<usize> = node
                .children
                .iter()
                .map(|c| match *c {
                    Child::New(j) => local[&j],
                    Child::Class(k) => {
                        let next = component.len() + outside.len();
                        *outside.entry(k).or_insert_with(|| {
                            leaves.push(k);
                            next
                        })
                    }
                })
                .collect();
            graph.add_node(Label::Node(label), children);
        }
        for k in leaves {
            graph.add_node(Label::Outside(k), []);
        }
        let normal = graph.normalize().expect("every child was added");
        let mut number: FxHashMap<usize, u32> = FxHashMap::default();
        let mut members: Vec<Vec<u32>> = Vec::new();
        for &n in component {
            let c = normal.class(local[&n]);
            let q = *number.entry(c).or_insert_with(|| {
                members.push(Vec::new());
                (members.len() - 1) as u32
            });
            members[q as usize].push(n);
        }
        let children = members
            .iter()
            .map(|m| {
                nodes[m[0] as usize]
                    .children
                    .iter()
                    .map(|c| match *c {
                        Child::New(j) => Ok(number[&normal.class(local[&j])]),
                        Child::Class(k) => Err(k),
                    })
                    .collect()
            })
            .collect();
        Quotient { members, children }
    }

    /// If the minimized component is isomorphic to an existing cycle, the class each of
    /// its classes maps to.
    fn isomorphism(
        &self,
        nodes: &[New],
        quotient: &Quotient,
        around: &[u64],
        cycle: CycleKey,
    ) -> Option<Vec<ClassKey>> {
        let existing = &self.classes.cycles[cycle].classes;
        if existing.len() != quotient.members.len() {
            return None;
        }
        'start: for &start in existing {
            if self.classes.classes[start].around != around[0] {
                continue;
            }
            let mut map: Vec<Option<ClassKey>> = vec![None; quotient.members.len()];
            let mut taken: FxHashMap<ClassKey, u32> = FxHashMap::default();
            map[0] = Some(start);
            taken.insert(start, 0);
            let mut stack = vec![0u32];
            while let Some(q) = stack.pop() {
                let c = map[q as usize].expect("mapped before pushed");
                let node = &nodes[quotient.members[q as usize][0] as usize];
                let rep = self.classes.classes[c].rep;
                if self.classes.classes[c].cycle != Some(cycle)
                    || self.classes.classes[c].around != around[q as usize]
                    || !self.same_shape(rep, node.key)
                {
                    continue 'start;
                }
                let theirs = self.child_classes(rep);
                let ours = &quotient.children[q as usize];
                if theirs.len() != ours.len() {
                    continue 'start;
                }
                for (mine, their) in ours.iter().zip(theirs) {
                    let Some(their) = their else { continue 'start };
                    match *mine {
                        Err(outside) if outside == their => {}
                        Err(_) => continue 'start,
                        Ok(inner) => match map[inner as usize] {
                            Some(m) if m == their => {}
                            Some(_) => continue 'start,
                            None => {
                                if taken.insert(their, inner).is_some() {
                                    continue 'start;
                                }
                                map[inner as usize] = Some(their);
                                stack.push(inner);
                            }
                        },
                    }
                }
            }
            if map.iter().all(Option::is_some) {
                return Some(map.into_iter().map(Option::unwrap).collect());
            }
        }
        None
    }
}

/// A hash of each quotient class's surroundings up to [`ROUNDS`] steps, the same
/// whichever class the component is entered from (so isomorphic components get the same
/// multiset of hashes).
fn neighbourhoods(nodes: &[New], quotient: &Quotient) -> Vec<u64> {
    let outside = |k: ClassKey| k.data().as_ffi();
    let mut h: Vec<u64> = quotient
        .members
        .iter()
        .zip(&quotient.children)
        .map(|(m, children)| {
            hash_of(|s| {
                nodes[m[0] as usize].shape.hash(s);
                for c in children {
                    match *c {
                        Ok(_) => u64::MAX.hash(s),
                        Err(k) => outside(k).hash(s),
                    }
                }
            })
        })
        .collect();
    for _ in 0..ROUNDS {
        h = quotient
            .children
            .iter()
            .enumerate()
            .map(|(q, children)| {
                hash_of(|s| {
                    h[q].hash(s);
                    for c in children {
                        match *c {
                            Ok(inner) => h[inner as usize].hash(s),
                            Err(k) => outside(k).hash(s),
                        }
                    }
                })
            })
            .collect();
    }
    h
}

/// The strongly connected components of the batch's comparable nodes, children first
/// (Tarjan's algorithm, iterative so that long chains do not overflow the stack).
fn components(nodes: &[New], class: &[Option<ClassKey>]) -> Vec<Vec<u32>> {
    const UNSEEN: u32 = u32::MAX;
    let n = nodes.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut out = Vec::new();
    let mut next = 0u32;
    // The next edge of `v` to follow from position `at` on, and the position after it.
    let edge = |v: usize, at: usize| {
        nodes[v].children[at..]
            .iter()
            .enumerate()
            .find_map(|(i, c)| match *c {
                Child::New(j) if class[j as usize].is_none() => Some((j, at + i + 1)),
                _ => None,
            })
    };
    for root in 0..n {
        if index[root] != UNSEEN || class[root].is_some() {
            continue;
        }
        // (node, how many of its edges were followed)
        let mut calls: Vec<(u32, usize)> = vec![(root as u32, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root as u32);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut at)) = calls.last_mut() {
            let v = v as usize;
            if let Some((w, after)) = edge(v, *at) {
                *at = after;
                let w = w as usize;
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w as u32);
                    on_stack[w] = true;
                    calls.push((w as u32, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                let parent = parent as usize;
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                loop {
                    let w = stack.pop().expect("on the stack");
                    on_stack[w as usize] = false;
                    component.push(w);
                    if w as usize == v {
                        break;
                    }
                }
                out.push(component);
            }
        }
    }
    out
}
