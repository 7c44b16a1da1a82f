//! The normalization table: every immutable object belongs to the class of the objects
//! structurally equal to it (cycles included), and a class's caches live on one
//! representative, so equal objects share them.
//!
//! The invariant is that classes are exactly the structural-equality classes of the live
//! immutable objects. New immutable objects (one from [`Heap::imm`](crate::Heap::imm), a whole graph from
//! [`Heap::freeze`](crate::Heap::freeze)) are added in one batch: their strongly connected components are
//! visited children first, so everything outside the component being added is already
//! classed, and then
//!
//! * a component of one node without a self-loop is equal to a class exactly when its
//!   type, shape and children's classes are the class's: a hash lookup on that
//!   *signature* finds it (hash-consing);
//! * a cyclic component is first minimized by partition refinement ([`crate::norm`]),
//!   with the classes outside it as fixed labels. If one of its nodes is equal to an
//!   existing object, every node of it is (an equal object must lie on an equal cycle),
//!   so it is enough to look up one: classes founded on cycles are indexed by a hash of
//!   their unfolding to a fixed depth (equal for equal objects whatever the graph around
//!   them), and a walk that maps the component onto existing classes decides (for a
//!   component with sets of handles, whose members pair up in many ways, a normalization of
//!   the component together with the classes the candidate reaches). If none
//!   matches, the component's nodes are equal to no existing object, so the minimization
//!   with fixed labels around it was exact.
//!
//! An object's sets of handles ([`Object::handle_sets`]) are multisets: each is listed in a
//! canonical order where classes or hashes are compared (sorted by class, or by hash), and
//! is a set node of the refinement (`lower`).
//!
//! Every lookup is confirmed by comparing shapes with
//! [`Object::same_shape`], so hash collisions cost time, never
//! correctness.

use crate::decl::object::Object;
use crate::error::Error;
use crate::heap::handle::Imm;
use crate::heap::parts::Core;
use crate::imm::class::{hash_of, ClassId, ClassKey, Unfolding, DEPTH};
use crate::imm::lower::{runs, sort_runs, Lowered};
use crate::key::{CellId, ObjectId, ObjectKey, Tag};
use crate::stable::StableHasher;
use crate::track::graph::Dep;

use std::hash::{Hash, Hasher};

use indexmap::IndexSet;
use rustc_hash::{FxHashMap, FxHashSet, FxHasher};
use slotmap::Key;

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
    /// Runs of `children` compared as multisets (see `lower`).
    runs: Vec<(u32, u32)>,
}

/// A cyclic component after minimization: one node per class.
struct Quotient {
    /// A batch node of each class, and all the batch nodes in it.
    members: Vec<Vec<u32>>,
    /// Children of each class: `Ok(class in the quotient)` or `Err(outside class)`.
    children: Vec<Vec<Result<u32, ClassKey>>>,
}

impl Quotient {
    /// The runs of a class's children compared as multisets.
    fn runs<'n>(&self, nodes: &'n [New], q: usize) -> &'n [(u32, u32)] {
        &nodes[self.members[q][0] as usize].runs
    }
}

/// A node of the graphs normalization builds: an object by its exact shape, a class
/// around what is being compared, or a run of handles compared as a multiset.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Label {
    Node(u32),
    Outside(ClassKey),
    Run,
}

/// Exact shape labels: objects with the same shape hash are told apart by comparing shapes.
#[derive(Default)]
struct Shapes {
    buckets: FxHashMap<u64, Vec<(u32, ObjectKey)>>,
    next: u32,
}

impl Shapes {
    fn label(&mut self, core: &Core, shape: u64, key: ObjectKey) -> u32 {
        let bucket = self.buckets.entry(shape).or_default();
        match bucket.iter().find(|(_, k)| core.same_shape(*k, key)) {
            Some(&(l, _)) => l,
            None => {
                self.next += 1;
                bucket.push((self.next, key));
                self.next
            }
        }
    }
}

impl Core {
    /// Before `leaving` are removed: every class whose representative leaves but which
    /// keeps a member gets that member as its representative, and it takes over the
    /// class's caches with their edges. So the removal invalidates only what read the
    /// leaving objects themselves (through their handles), not what read their class
    /// through another member; and what it rechecks already reads through the new
    /// representative.
    pub(crate) fn hand_over_classes(&mut self, leaving: &[ObjectKey]) {
        let set: FxHashSet<ObjectKey> = leaving.iter().copied().collect();
        for &old in leaving {
            let Some(class) = self.slots[old].class else {
                continue;
            };
            if self.classes.rep(class) != old {
                continue;
            }
            let Some(new) = self.classes.survivor(class, &set) else {
                continue;
            };
            self.classes.set_rep(class, old, new);
            let cells = self.slots[old].graph.get_mut().nodes.len();
            for index in 0..cells as u32 {
                self.hand_over_cell(CellId { key: old, index }, new);
            }
            // Its own eager caches were never started (the class's were the old one's): they
            // run on the pool now. Taking over a value above needs exclusive access to the
            // new representative's storage, which calls off its queued runs; those caches
            // are then computed by their first read.
            let slot = &self.slots[new];
            slot.ops.spawn_eager(&slot.obj);
        }
    }

    /// Hands cell `from` of a leaving representative to the same cell of `to`: its value
    /// and tracking data if `to`'s cell was never computed, else only its dependents (an
    /// equal object's cell has an equal value). Every edge is renamed.
    fn hand_over_cell(&mut self, from: CellId, to: ObjectKey) {
        let i = from.index as usize;
        let to_id = CellId {
            key: to,
            index: from.index,
        };
        let ops = self.slots[from.key].ops;
        let ready = ops
            .cell(self.slots[from.key].obj.get(&self.owner), i)
            .is_ready();
        let fresh = {
            let slot = &mut self.slots[to];
            let node = &slot.graph.get_mut().nodes[i];
            node.deps.is_empty()
                && node.dependents.is_empty()
                && !ops.cell(slot.obj.get(&self.owner), i).is_ready()
        };
        let dependents: Vec<CellId> = if ready && fresh {
            let value = ops
                .cell_mut(self.slots[from.key].obj.get_mut(&mut self.owner), i)
                .take_value()
                .expect("checked ready");
            ops.cell_mut(self.slots[to].obj.get_mut(&mut self.owner), i)
                .put_value(value);
            let [a, b] = self
                .slots
                .get_disjoint_mut([from.key, to])
                .expect("two live objects");
            std::mem::swap(
                &mut a.graph.get_mut().nodes[i],
                &mut b.graph.get_mut().nodes[i],
            );
            // A transaction may have journaled either node: its record follows it.
            let records = &mut self.barrier.journal.get_mut().records;
            for (key, node) in [
                (from.key, &a.graph.get_mut().nodes[i]),
                (to, &b.graph.get_mut().nodes[i]),
            ] {
                if node.journaled.0 == self.barrier.epoch {
                    records[node.journaled.1 as usize].0 = CellId {
                        key,
                        index: from.index,
                    };
                }
            }
            let node = &self.slots[to].graph.get_mut().nodes[i];
            let (deps, dependents) = (node.deps.clone(), node.dependents.iter().copied().collect());
            for dep in deps {
                self.rename_back_edge(dep, from, to_id);
            }
            dependents
        } else {
            let moved =
                std::mem::take(&mut self.slots[from.key].graph.get_mut().nodes[i].dependents);
            let node = &mut self.slots[to].graph.get_mut().nodes[i];
            node.dependents.extend(moved.iter().copied());
            moved.into_iter().collect()
        };
        for d in dependents {
            let deps = &mut self.slots[d.key].graph.get_mut().nodes[d.index as usize].deps;
            let had_to = deps.contains(&Dep::Cell(to_id));
            deps.retain_mut(|dep| {
                if *dep == Dep::Cell(from) {
                    *dep = Dep::Cell(to_id);
                    return !had_to;
                }
                true
            });
        }
    }

    /// In the object `dep` names, renames the back edge of cell `from` to `to`.
    fn rename_back_edge(&mut self, dep: Dep, from: CellId, to: CellId) {
        match dep {
            Dep::Cell(c) => {
                if let Some(slot) = self.slots.get_mut(c.key) {
                    let dependents = &mut slot.graph.get_mut().nodes[c.index as usize].dependents;
                    if dependents.swap_remove(&from) {
                        dependents.insert(to);
                    }
                }
            }
            Dep::Fields(k) => {
                if let Some(slot) = self.slots.get_mut(k) {
                    let readers = &mut slot.graph.get_mut().readers;
                    if let Some(mask) = readers.swap_remove(&from) {
                        readers.add(to, mask);
                    }
                }
            }
        }
    }

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
                let c = self
                    .classes
                    .found(node.key, IndexSet::default(), [0; DEPTH + 1]);
                class[i] = Some(c);
                self.slots[node.key].class = Some(c);
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
            // Later components compare their children's classes through the slots.
            for &i in &component {
                self.slots[nodes[i as usize].key].class = class[i as usize];
            }
        }
        founders
    }

    /// An object's type and shape, hashed; `None` if it cannot be compared.
    fn shape_hash(&self, key: ObjectKey) -> Option<u64> {
        let slot = &self.slots[key];
        let obj = slot.obj.get(&self.owner);
        let mut h = FxHasher::default();
        obj.type_id().hash(&mut h);
        slot.ops.hash_shape(obj, &mut h).then(|| h.finish())
    }

    /// The runs of an object's `handles` handles compared as multisets.
    fn runs_of(&self, key: ObjectKey, handles: usize) -> Vec<(u32, u32)> {
        let slot = &self.slots[key];
        runs(handles, |visit| {
            slot.ops.handle_sets(slot.obj.get(&self.owner), visit)
        })
    }

    /// A batch node's type, shape and children.
    fn describe(&self, key: ObjectKey, position: &FxHashMap<ObjectKey, u32>) -> New {
        let slot = &self.slots[key];
        let obj = slot.obj.get(&self.owner);
        let mut shape = self.shape_hash(key);
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
        let runs = match shape {
            Some(_) => self.runs_of(key, children.len()),
            None => Vec::new(),
        };
        New {
            key,
            shape,
            children,
            runs,
        }
    }

    /// The classes of an object's children, each run sorted by class, and its runs.
    fn child_classes(&self, key: ObjectKey) -> (Vec<Option<ClassKey>>, Vec<(u32, u32)>) {
        let slot = &self.slots[key];
        let mut out = Vec::new();
        slot.ops
            .handles(slot.obj.get(&self.owner), &mut |id: ObjectId| {
                out.push(
                    self.slots
                        .get(id.key)
                        .filter(|_| id.heap == self.id)
                        .and_then(|s| s.class),
                );
            });
        let runs = self.runs_of(key, out.len());
        sort_runs(&mut out, &runs, |&c| c);
        (out, runs)
    }

    fn same_shape(&self, a: ObjectKey, b: ObjectKey) -> bool {
        let (sa, sb) = (&self.slots[a], &self.slots[b]);
        sa.obj.get(&self.owner).type_id() == sb.obj.get(&self.owner).type_id()
            && sa
                .ops
                .same_shape(sa.obj.get(&self.owner), sb.obj.get(&self.owner))
    }

    fn signature(node: &New, children: impl Iterator<Item = ClassKey>) -> u64 {
        hash_of(|h| {
            node.shape.hash(h);
            for c in children {
                c.data().as_ffi().hash(h);
            }
        })
    }

    /// The unfolding of a node whose children are all classed.
    fn unfold(&self, shape: u64, children: &[ClassKey], runs: &[(u32, u32)]) -> Unfolding {
        let mut u = [hash_of(|h| (shape, children.len()).hash(h)); DEPTH + 1];
        let mut below: Vec<u64> = Vec::with_capacity(children.len());
        for depth in 1..=DEPTH {
            below.clear();
            below.extend(
                children
                    .iter()
                    .map(|&c| self.classes.classes[c].unfolding[depth - 1]),
            );
            u[depth] = deeper(u[0], &mut below, runs);
        }
        u
    }

    /// Classes a node that is not on a cycle: its children are all classed.
    fn add_single(&mut self, node: &New, founders: &mut Vec<ObjectKey>) -> ClassKey {
        let mut children: Vec<ClassKey> = node
            .children
            .iter()
            .map(|c| match *c {
                Child::Class(c) => c,
                Child::New(_) => unreachable!("children are classed first"),
            })
            .collect();
        sort_runs(&mut children, &node.runs, |&c| c);
        let signature = Self::signature(node, children.iter().copied());
        let mut candidate = self.classes.by_signature.get(&signature).copied();
        while let Some(c) = candidate {
            let rep = self.classes.classes[c].rep;
            if self.same_shape(rep, node.key)
                && self
                    .child_classes(rep)
                    .0
                    .iter()
                    .copied()
                    .eq(children.iter().map(|&c| Some(c)))
            {
                self.classes.classes[c].others.insert(node.key);
                return c;
            }
            candidate = self.classes.classes[c].next;
        }
        let unfolding = self.unfold(node.shape.expect("comparable"), &children, &node.runs);
        let c = self.classes.found(node.key, IndexSet::default(), unfolding);
        self.classes.index(c, signature);
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
        let unfoldings = self.unfoldings(nodes, &quotient);
        // Equal objects have equal unfoldings, so the candidates for the first class are
        // the cyclic classes with its deepest hash.
        let mut candidate = self.classes.on_cycles.get(&unfoldings[0][DEPTH]).copied();
        let sets = quotient
            .members
            .iter()
            .any(|m| !nodes[m[0] as usize].runs.is_empty());
        while let Some(c) = candidate {
            let map = match sets {
                true => self.map_jointly(nodes, &quotient, c),
                false => self.map_onto(nodes, &quotient, c),
            };
            if let Some(map) = map {
                for (q, members) in quotient.members.iter().enumerate() {
                    for &m in members {
                        self.classes.classes[map[q]]
                            .others
                            .insert(nodes[m as usize].key);
                        class[m as usize] = Some(map[q]);
                    }
                }
                return;
            }
            candidate = self.classes.classes[c].next_on_cycle;
        }
        let keys: Vec<ClassKey> = quotient
            .members
            .iter()
            .zip(&unfoldings)
            .map(|(members, &unfolding)| {
                let rep = nodes[members[0] as usize].key;
                let others = members[1..].iter().map(|&m| nodes[m as usize].key);
                founders.push(rep);
                let c = self.classes.found(rep, others.collect(), unfolding);
                self.classes.classes[c].cyclic = true;
                c
            })
            .collect();
        let mut children: Vec<ClassKey> = Vec::new();
        for (q, &k) in keys.iter().enumerate() {
            let node = &nodes[quotient.members[q][0] as usize];
            children.clear();
            children.extend(quotient.children[q].iter().map(|c| match *c {
                Ok(inner) => keys[inner as usize],
                Err(outer) => outer,
            }));
            sort_runs(&mut children, &node.runs, |&c| c);
            let signature = Self::signature(node, children.iter().copied());
            self.classes.index(k, signature);
            for &m in &quotient.members[q] {
                class[m as usize] = Some(k);
            }
        }
    }

    /// The unfoldings of a minimized component's classes.
    fn unfoldings(&self, nodes: &[New], quotient: &Quotient) -> Vec<Unfolding> {
        let mut u: Vec<Unfolding> = quotient
            .members
            .iter()
            .zip(&quotient.children)
            .map(|(m, children)| {
                let shape = nodes[m[0] as usize].shape.expect("comparable");
                [hash_of(|h| (shape, children.len()).hash(h)); DEPTH + 1]
            })
            .collect();
        let mut below: Vec<u64> = Vec::new();
        for depth in 1..=DEPTH {
            for q in 0..u.len() {
                below.clear();
                below.extend(quotient.children[q].iter().map(|c| match *c {
                    Ok(inner) => u[inner as usize][depth - 1],
                    Err(k) => self.classes.classes[k].unfolding[depth - 1],
                }));
                u[q][depth] = deeper(u[q][0], &mut below, quotient.runs(nodes, q));
            }
        }
        u
    }

    /// Merges the structurally equal nodes of a cyclic component (partition refinement,
    /// with the classes around it as fixed labels).
    fn minimize(&self, nodes: &[New], component: &[u32]) -> Quotient {
        let local: FxHashMap<u32, usize> =
            component.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        let mut labels = Shapes::default();
        let mut graph = Lowered::new(component.len());
        let mut outside: FxHashMap<ClassKey, usize> = FxHashMap::default();
        let mut children: Vec<usize> = Vec::new();
        for &n in component {
            let node = &nodes[n as usize];
            let label = labels.label(self, node.shape.expect("comparable"), node.key);
            children.clear();
            for c in &node.children {
                children.push(match *c {
                    Child::New(j) => local[&j],
                    Child::Class(k) => *outside
                        .entry(k)
                        .or_insert_with(|| graph.later(Label::Outside(k), false, Vec::new())),
                });
            }
            graph.object(Label::Node(label), &children, &node.runs, || Label::Run);
        }
        let graph = graph.finish();
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

    /// [`map_onto`](Core::map_onto) for a component with sets of handles, whose members
    /// can be paired in many ways: the component normalized together with the cyclic
    /// classes `start` reaches (an object on a cycle can equal only an object on a cycle),
    /// other classes as fixed labels on both sides. The classes are pairwise unequal, so
    /// each of the component's classes is equal to the one class it shares a joint class
    /// with, if any.
    fn map_jointly(
        &self,
        nodes: &[New],
        quotient: &Quotient,
        start: ClassKey,
    ) -> Option<Vec<ClassKey>> {
        // The cyclic classes `start` reaches, numbered after the component's classes.
        let q = quotient.members.len();
        let mut reached: FxHashMap<ClassKey, usize> = FxHashMap::default();
        reached.insert(start, q);
        let mut order = vec![start];
        let mut kids = Vec::new();
        while let Some(&c) = order.get(kids.len()) {
            let (children, runs) = self.child_classes(self.classes.rep(c));
            for &k in &children {
                let k = k?;
                if self.classes.classes[k].cyclic && !reached.contains_key(&k) {
                    reached.insert(k, q + order.len());
                    order.push(k);
                }
            }
            kids.push((children, runs));
        }
        let mut labels = Shapes::default();
        let mut graph = Lowered::new(q + order.len());
        let mut outside: FxHashMap<ClassKey, usize> = FxHashMap::default();
        let mut node_of = |graph: &mut Lowered<Label>, k: ClassKey| match reached.get(&k) {
            Some(&at) => at,
            None => *outside
                .entry(k)
                .or_insert_with(|| graph.later(Label::Outside(k), false, Vec::new())),
        };
        let mut children: Vec<usize> = Vec::new();
        for (members, mine) in quotient.members.iter().zip(&quotient.children) {
            let node = &nodes[members[0] as usize];
            let label = labels.label(self, node.shape.expect("comparable"), node.key);
            children.clear();
            for c in mine {
                children.push(match *c {
                    Ok(inner) => inner as usize,
                    Err(k) => node_of(&mut graph, k),
                });
            }
            graph.object(Label::Node(label), &children, &node.runs, || Label::Run);
        }
        for (&c, (theirs, runs)) in order.iter().zip(&kids) {
            let rep = self.classes.rep(c);
            let label = labels.label(self, self.shape_hash(rep)?, rep);
            children.clear();
            for &k in theirs {
                children.push(node_of(&mut graph, k.expect("checked above")));
            }
            graph.object(Label::Node(label), &children, runs, || Label::Run);
        }
        let graph = graph.finish();
        let normal = graph.normalize().expect("every child was added");
        if !normal.equivalent(0, q) {
            return None;
        }
        let mut class_of: FxHashMap<usize, ClassKey> = FxHashMap::default();
        for (i, &c) in order.iter().enumerate() {
            class_of.insert(normal.class(q + i), c);
        }
        (0..q)
            .map(|i| class_of.get(&normal.class(i)).copied())
            .collect()
    }

    /// If the minimized component's first class is equal to class `start`, the class each
    /// of its classes is equal to (several may be equal to one: the minimization took the
    /// classes around the component as distinct labels).
    fn map_onto(
        &self,
        nodes: &[New],
        quotient: &Quotient,
        start: ClassKey,
    ) -> Option<Vec<ClassKey>> {
        let mut map: Vec<Option<ClassKey>> = vec![None; quotient.members.len()];
        map[0] = Some(start);
        let mut stack = vec![0u32];
        while let Some(q) = stack.pop() {
            let c = map[q as usize].expect("mapped before pushed");
            let rep = self.classes.classes[c].rep;
            if !self.same_shape(rep, nodes[quotient.members[q as usize][0] as usize].key) {
                return None;
            }
            let theirs = self.child_classes(rep).0;
            let ours = &quotient.children[q as usize];
            if theirs.len() != ours.len() {
                return None;
            }
            for (mine, their) in ours.iter().zip(theirs) {
                let their = their?;
                match *mine {
                    Err(outside) if outside == their => {}
                    Err(_) => return None,
                    Ok(inner) => match map[inner as usize] {
                        Some(m) if m == their => {}
                        Some(_) => return None,
                        None => {
                            map[inner as usize] = Some(their);
                            stack.push(inner);
                        }
                    },
                }
            }
        }
        // A strongly connected component: the walk reached every class.
        map.into_iter().collect()
    }
}

/// An unfolding hash one level deeper: the node's own hash and its children's one level
/// less deep, a run's sorted so that equal objects' runs hash alike in any order.
fn deeper(own: u64, below: &mut [u64], runs: &[(u32, u32)]) -> u64 {
    sort_runs(below, runs, |&x| x);
    hash_of(|h| {
        own.hash(h);
        below.iter().for_each(|x| x.hash(h));
    })
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

impl Core {
    /// [`Heap::class_of`](crate::Heap::class_of).
    pub(crate) fn class_of<T: Object>(&self, handle: &Imm<T>) -> Result<ClassId, Error> {
        let (slot, _) = self.typed_slot::<T>(handle.id)?;
        let class = slot.class.expect("an immutable object is classed");
        Ok(ClassId {
            class: class.data().as_ffi(),
            heap: self.id,
        })
    }

    /// [`Heap::stable_hash`](crate::Heap::stable_hash).
    pub(crate) fn stable_hash<T: Object>(&self, handle: &Imm<T>) -> Result<u64, Error> {
        let (slot, _) = self.typed_slot::<T>(handle.id)?;
        let root = slot.class.expect("an immutable object is classed");
        let mut number = FxHashMap::default();
        number.insert(root, 0u32);
        let mut order = vec![root];
        let mut h = StableHasher::default();
        let mut at = 0;
        while let Some(&class) = order.get(at) {
            at += 1;
            let slot = &self.slots[self.classes.rep(class)];
            slot.ops.stable_name().hash(&mut h);
            let mut shape = StableHasher::default();
            let comparable = slot.ops.hash_shape(slot.obj.get(&self.owner), &mut shape);
            (comparable, shape.finish()).hash(&mut h);
            let mut handles = 0;
            slot.ops
                .handles(slot.obj.get(&self.owner), &mut |id: ObjectId| {
                    handles += 1;
                    match self.class_of_id(id) {
                        Some(c) => {
                            let n = *number.entry(c).or_insert_with(|| {
                                order.push(c);
                                (order.len() - 1) as u32
                            });
                            n.hash(&mut h);
                        }
                        None => u32::MAX.hash(&mut h),
                    }
                });
            if !self.runs_of(self.classes.rep(class), handles).is_empty() {
                return Ok(self.stable_hash_with_sets(root));
            }
            // Ends the node, so that children lists cannot run into each other.
            (u32::MAX - 1).hash(&mut h);
        }
        Ok(h.finish())
    }

    /// The class of the object `id` names in this heap, if it is classed.
    fn class_of_id(&self, id: ObjectId) -> Option<ClassKey> {
        self.slots
            .get(id.key)
            .filter(|_| id.heap == self.id)
            .and_then(|s| s.class)
    }

    /// [`stable_hash`](Core::stable_hash) of a graph with sets of handles: numbering the
    /// classes in the order their handles are met would depend on the order of a set's
    /// members, so the graph of the reachable classes is hashed by its canonical form,
    /// which lists a set's members in an order given by the structure alone.
    fn stable_hash_with_sets(&self, root: ClassKey) -> u64 {
        let mut number: FxHashMap<ClassKey, usize> = FxHashMap::default();
        number.insert(root, 0);
        let mut order = vec![root];
        let mut children: Vec<Vec<Option<ClassKey>>> = Vec::new();
        while let Some(&class) = order.get(children.len()) {
            let slot = &self.slots[self.classes.rep(class)];
            let mut kids = Vec::new();
            slot.ops
                .handles(slot.obj.get(&self.owner), &mut |id: ObjectId| {
                    let child = self.class_of_id(id);
                    if let Some(c) = child {
                        number.entry(c).or_insert_with(|| {
                            order.push(c);
                            order.len() - 1
                        });
                    }
                    kids.push(child);
                });
            children.push(kids);
        }
        let mut graph = Lowered::new(order.len());
        let mut unclassed = None;
        let mut nodes: Vec<usize> = Vec::new();
        for (&class, kids) in order.iter().zip(&children) {
            let rep = self.classes.rep(class);
            let slot = &self.slots[rep];
            let mut shape = StableHasher::default();
            let comparable = slot.ops.hash_shape(slot.obj.get(&self.owner), &mut shape);
            nodes.clear();
            for &kid in kids {
                nodes.push(match kid {
                    Some(c) => number[&c],
                    None => *unclassed.get_or_insert_with(|| {
                        graph.later(StableLabel::Unclassed, false, Vec::new())
                    }),
                });
            }
            let label = StableLabel::Object(slot.ops.stable_name(), comparable, shape.finish());
            let runs = self.runs_of(rep, kids.len());
            graph.object(label, &nodes, &runs, || StableLabel::Run);
        }
        let graph = graph.finish();
        let normal = graph.normalize().expect("every child was added");
        normal.canonical(0).stable_hash()
    }
}

/// A node of the graph [`Core::stable_hash_with_sets`] hashes: what feeds the hash must not
/// depend on the run, so an object is its type's stable name and its shape's stable hash.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum StableLabel {
    Object(&'static str, bool, u64),
    /// A handle to something not classed.
    Unclassed,
    Run,
}

impl Hash for StableLabel {
    /// Tags as bytes, not std's discriminant (whose writes are not specified).
    fn hash<H: Hasher>(&self, state: &mut H) {
        match *self {
            StableLabel::Object(name, comparable, shape) => {
                state.write_u8(0);
                name.hash(state);
                state.write_u8(comparable as u8);
                state.write_u64(shape);
            }
            StableLabel::Unclassed => state.write_u8(1),
            StableLabel::Run => state.write_u8(2),
        }
    }
}
