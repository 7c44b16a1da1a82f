//! G6 and the normalization table: immutable objects are classed exactly by structural
//! equality (cycles included), whichever way they were made, and equal objects share
//! their lazy caches.
//!
//! The oracle is `norm::Graph` over every immutable node of the heap, recomputed from
//! scratch: two nodes must share a class exactly when the oracle finds them equal.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use steadfast::norm::Graph;
use steadfast::{cached, capsule, imm, mutable, Error, Heap, Imm, Mutable};

/// A graph node: built mutable, then frozen with the capsule that owns it; or made
/// immutable at once from existing immutable nodes.
#[mutable]
struct N {
    label: u8,
    next: Vec<Mutable<N>>,
    imm: Vec<Imm<N>>,
}

#[cached]
impl N {}

/// A node of the model: children in order (`next`, `imm`) and in sets of handles, compared
/// as multisets (`next_set`, `imm_set`).
#[mutable]
struct M {
    label: u8,
    next: Vec<Mutable<M>>,
    imm: Vec<Imm<M>>,
    next_set: HashSet<Mutable<M>>,
    imm_set: BTreeSet<Imm<M>>,
}

#[cached]
impl M {}

/// Owns the nodes of one batch until it is frozen.
#[capsule]
struct Batch {
    nodes: Vec<Mutable<N>>,
}

#[cached]
impl Batch {}

/// Owns the model's nodes of one batch until it is frozen.
#[capsule]
struct MBatch {
    nodes: Vec<Mutable<M>>,
}

#[cached]
impl MBatch {}

/// One way of adding immutable nodes.
#[derive(Clone, Debug)]
enum Step {
    /// `heap.imm` of a node whose children, in order and in its set, are existing
    /// immutable nodes (indices modulo how many there are).
    Imm {
        label: u8,
        children: Vec<usize>,
        set: Vec<usize>,
    },
    /// A batch of new nodes with edges among themselves and to existing immutable nodes,
    /// in order or in sets, allocated in a shuffled order and frozen together.
    Freeze {
        nodes: Vec<(u8, Vec<Edge>)>,
        order_seed: u64,
    },
    /// `remove_graph` of an existing node (index modulo how many there are): frees what
    /// nothing else holds, and may hand classes to other members.
    Remove(usize),
}

/// An edge of a batch node: to a batch node or an existing one, in order or in its set.
#[derive(Clone, Copy, Debug)]
enum Edge {
    Next(usize),
    Imm(usize),
    NextSet(usize),
    ImmSet(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (
            0u8..2,
            prop::collection::vec(0usize..64, 0..3),
            prop::collection::vec(0usize..64, 0..4),
        )
            .prop_map(|(label, children, set)| Step::Imm { label, children, set }),
        3 => (1usize..7)
            .prop_flat_map(|n| {
                let edge = prop_oneof![
                    3 => (0..n).prop_map(Edge::Next),
                    1 => (0usize..64).prop_map(Edge::Imm),
                    2 => (0..n).prop_map(Edge::NextSet),
                    1 => (0usize..64).prop_map(Edge::ImmSet),
                ];
                (
                    prop::collection::vec((0u8..2, prop::collection::vec(edge, 0..5)), n),
                    any::<u64>(),
                )
            })
            .prop_map(|(nodes, order_seed)| Step::Freeze { nodes, order_seed }),
        1 => (0usize..64).prop_map(Step::Remove),
    ]
}

/// The heap's immutable nodes, with labels and children as the oracle sees them. A label
/// is the node's own label with how many children it has in `next` and in `imm`: the
/// shape, which tells apart nodes whose handles sit in different fields. Its two sets are
/// set nodes of the oracle, after its ordered children.
#[derive(Default)]
struct Built {
    handles: Vec<Imm<M>>,
    /// The frozen batches, which hold their nodes.
    roots: Vec<Imm<MBatch>>,
    labels: Vec<(u8, usize, usize)>,
    children: Vec<Vec<usize>>,
    sets: Vec<[Vec<usize>; 2]>,
}

/// Indices without repeats: a set holds a handle once.
fn distinct(items: impl IntoIterator<Item = usize>) -> Vec<usize> {
    let set: BTreeSet<usize> = items.into_iter().collect();
    set.into_iter().collect()
}

fn shuffled(n: usize, mut seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        order.swap(i, (seed >> 33) as usize % (i + 1));
    }
    order
}

fn apply(heap: &mut Heap, built: &mut Built, step: &Step) -> Result<(), Error> {
    match step {
        Step::Imm {
            label,
            children,
            set,
        } => {
            let old = built.handles.len();
            let (children, set): (Vec<usize>, Vec<usize>) = match old {
                0 => Default::default(),
                _ => (
                    children.iter().map(|c| c % old).collect(),
                    distinct(set.iter().map(|c| c % old)),
                ),
            };
            let h = heap.imm(M {
                label: *label,
                next: Vec::new(),
                imm: children.iter().map(|&c| built.handles[c]).collect(),
                next_set: HashSet::new(),
                imm_set: set.iter().map(|&c| built.handles[c]).collect(),
            })?;
            built.handles.push(h);
            built.labels.push((*label, 0, children.len()));
            built.children.push(children);
            built.sets.push([Vec::new(), set]);
        }
        Step::Freeze { nodes, order_seed } => {
            let base = built.handles.len();
            let old = base;
            // Allocation in a shuffled order: the heap sees the nodes in another order
            // than the oracle.
            let mut made: Vec<Option<Mutable<M>>> = vec![None; nodes.len()];
            for i in shuffled(nodes.len(), *order_seed) {
                made[i] = Some(heap.mutable(M {
                    label: nodes[i].0,
                    next: Vec::new(),
                    imm: Vec::new(),
                    next_set: HashSet::new(),
                    imm_set: BTreeSet::new(),
                })?);
            }
            let made: Vec<Mutable<M>> = made.into_iter().map(Option::unwrap).collect();
            let mut all_children = Vec::new();
            let mut all_sets = Vec::new();
            let mut labels = Vec::new();
            for (i, (_, edges)) in nodes.iter().enumerate() {
                let (mut next, mut imm, mut next_set, mut imm_set) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for &edge in edges {
                    match edge {
                        Edge::Next(j) => next.push(j),
                        Edge::NextSet(j) => next_set.push(j),
                        _ if old == 0 => {}
                        Edge::Imm(j) => imm.push(j % old),
                        Edge::ImmSet(j) => imm_set.push(j % old),
                    }
                }
                let (next_set, imm_set) = (distinct(next_set), distinct(imm_set));
                labels.push((nodes[i].0, next.len(), imm.len()));
                let mut children: Vec<usize> = next.iter().map(|&j| base + j).collect();
                children.extend(imm.iter().copied());
                all_children.push(children);
                all_sets.push([
                    next_set.iter().map(|&j| base + j).collect(),
                    imm_set.clone(),
                ]);
                M::set_next(
                    heap,
                    &made[i],
                    next.iter().map(|&j| made[j].clone()).collect(),
                )?;
                M::set_imm(
                    heap,
                    &made[i],
                    imm.iter().map(|&j| built.handles[j]).collect(),
                )?;
                M::set_next_set(
                    heap,
                    &made[i],
                    next_set.iter().map(|&j| made[j].clone()).collect(),
                )?;
                M::set_imm_set(
                    heap,
                    &made[i],
                    imm_set.iter().map(|&j| built.handles[j]).collect(),
                )?;
            }
            let batch = heap.capsule(MBatch {
                nodes: made.clone(),
            })?;
            built.roots.push(heap.freeze(batch)?);
            for (i, m) in made.iter().enumerate() {
                built
                    .handles
                    .push(heap.as_imm(&m.clone()).expect("frozen with its batch"));
                built.labels.push(labels[i]);
                built.children.push(all_children[i].clone());
                built.sets.push(all_sets[i].clone());
            }
        }
        Step::Remove(i) => {
            let (nodes, roots) = (built.handles.len(), built.roots.len());
            if nodes + roots == 0 {
                return Ok(());
            }
            let removed = match i % (nodes + roots) {
                i if i < nodes => heap.remove_graph(&built.handles[i]),
                i => heap.remove_graph(&built.roots[i - nodes]),
            };
            match removed {
                Ok(_) | Err(Error::Referenced { .. }) => {}
                Err(e) => return Err(e),
            }
            built.roots.retain(|&r| heap.contains(&r));
            let live: Vec<bool> = built.handles.iter().map(|&h| heap.contains(&h)).collect();
            let mut renumber = vec![usize::MAX; live.len()];
            let mut kept = Built {
                roots: std::mem::take(&mut built.roots),
                ..Built::default()
            };
            for (i, &alive) in live.iter().enumerate() {
                if alive {
                    renumber[i] = kept.handles.len();
                    kept.handles.push(built.handles[i]);
                    kept.labels.push(built.labels[i]);
                }
            }
            let renumbered = |children: &[usize]| -> Vec<usize> {
                children
                    .iter()
                    .map(|&c| {
                        assert!(live[c], "a live immutable object never dangles");
                        renumber[c]
                    })
                    .collect()
            };
            for (i, &alive) in live.iter().enumerate() {
                if alive {
                    kept.children.push(renumbered(&built.children[i]));
                    kept.sets
                        .push(built.sets[i].each_ref().map(|set| renumbered(set)));
                }
            }
            *built = kept;
        }
    }
    Ok(())
}

fn check(heap: &Heap, built: &Built) -> Result<(), TestCaseError> {
    // Each node's two sets are set nodes after all the nodes.
    let n = built.handles.len();
    let mut g = Graph::new();
    for (i, (label, children)) in built.labels.iter().zip(&built.children).enumerate() {
        g.add_node(
            *label,
            children.iter().copied().chain([n + 2 * i, n + 2 * i + 1]),
        );
    }
    for sets in &built.sets {
        for set in sets {
            g.add_set_node((u8::MAX, 0, 0), set.iter().copied());
        }
    }
    let oracle = g.normalize().unwrap();
    let classes: Vec<_> = built
        .handles
        .iter()
        .map(|&h| heap.class_of(&h).unwrap())
        .collect();
    let hashes: Vec<u64> = built
        .handles
        .iter()
        .map(|&h| heap.stable_hash(&h).unwrap())
        .collect();
    for i in 0..built.handles.len() {
        for j in 0..i {
            let equal = oracle.equivalent(i, j);
            prop_assert_eq!(
                classes[i] == classes[j],
                equal,
                "nodes {} and {}: classes {:?} {:?}, oracle {}",
                i,
                j,
                classes[i],
                classes[j],
                equal
            );
            if equal {
                prop_assert_eq!(hashes[i], hashes[j]);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: common::model_cases(512),
        ..ProptestConfig::default()
    })]

    /// Classes equal the oracle's after every step, over any mix of `imm` and `freeze`,
    /// cycles, shared substructure and edges into older graphs.
    #[test]
    fn classes_are_exactly_structural_equality(steps in prop::collection::vec(step(), 1..12)) {
        let mut heap = Heap::new();
        let mut built = Built::default();
        for step in &steps {
            apply(&mut heap, &mut built, step).unwrap();
            check(&heap, &built)?;
        }
    }
}

/// A ring of `labels` frozen with the allocation order `order` and the entry `entry`;
/// returns the nodes in ring order.
fn ring(heap: &mut Heap, labels: &[u8], order: &[usize], entry: usize) -> Vec<Imm<N>> {
    let n = labels.len();
    let mut made = vec![None; n];
    for &i in order {
        made[i] = Some(
            heap.mutable(N {
                label: labels[i],
                next: vec![],
                imm: vec![],
            })
            .unwrap(),
        );
    }
    let made: Vec<Mutable<N>> = made.into_iter().map(Option::unwrap).collect();
    for i in 0..n {
        N::set_next(heap, &made[i], vec![made[(i + 1) % n].clone()]).unwrap();
    }
    let batch = heap
        .capsule(Batch {
            nodes: vec![made[entry].clone()],
        })
        .unwrap();
    heap.freeze(batch).unwrap();
    made.iter().map(|m| heap.as_imm(m).unwrap()).collect()
}

#[test]
fn the_same_cycle_from_other_starts_orders_and_unrolled_is_one_class() {
    let mut heap = Heap::new();
    let a = ring(&mut heap, &[1, 2, 3], &[0, 1, 2], 0);
    let b = ring(&mut heap, &[1, 2, 3], &[2, 0, 1], 1);
    // The same ring drawn twice around.
    let c = ring(&mut heap, &[1, 2, 3, 1, 2, 3], &[5, 3, 1, 0, 2, 4], 4);
    for x in [&b, &c] {
        for i in 0..3 {
            assert_eq!(heap.class_of(&a[i]).unwrap(), heap.class_of(&x[i]).unwrap());
            assert_eq!(
                heap.stable_hash(&a[i]).unwrap(),
                heap.stable_hash(&x[i]).unwrap()
            );
        }
    }
    assert_eq!(
        heap.class_of(&c[0]).unwrap(),
        heap.class_of(&c[3]).unwrap(),
        "an unrolled ring's copies are equal"
    );
    assert_ne!(heap.class_of(&a[0]).unwrap(), heap.class_of(&a[1]).unwrap());
    // The stable hash does not depend on the heap.
    let mut other = Heap::new();
    let d = ring(&mut other, &[1, 2, 3], &[1, 2, 0], 2);
    assert_eq!(
        heap.stable_hash(&a[0]).unwrap(),
        other.stable_hash(&d[0]).unwrap()
    );
}

fn leaf(heap: &mut Heap, label: u8) -> Imm<M> {
    heap.imm(M {
        label,
        next: Vec::new(),
        imm: Vec::new(),
        next_set: HashSet::new(),
        imm_set: BTreeSet::new(),
    })
    .unwrap()
}

fn set_of(heap: &mut Heap, members: &[Imm<M>]) -> Imm<M> {
    heap.imm(M {
        label: 0,
        next: Vec::new(),
        imm: Vec::new(),
        next_set: HashSet::new(),
        imm_set: members.iter().copied().collect(),
    })
    .unwrap()
}

/// A ring of `labels` whose node i holds, as a set, nodes i + 1 and i + 2 and `leaf`;
/// allocated in the order `order`; returns the nodes in ring order.
fn ring_of_sets(heap: &mut Heap, labels: &[u8], order: &[usize], leaf: Imm<M>) -> Vec<Imm<M>> {
    let n = labels.len();
    let mut made = vec![None; n];
    for &i in order {
        made[i] = Some(
            heap.mutable(M {
                label: labels[i],
                next: Vec::new(),
                imm: Vec::new(),
                next_set: HashSet::new(),
                imm_set: BTreeSet::new(),
            })
            .unwrap(),
        );
    }
    let made: Vec<Mutable<M>> = made.into_iter().map(Option::unwrap).collect();
    for i in 0..n {
        let set = [made[(i + 1) % n].clone(), made[(i + 2) % n].clone()];
        M::set_next_set(heap, &made[i], set.into_iter().collect()).unwrap();
        M::set_imm_set(heap, &made[i], [leaf].into()).unwrap();
    }
    let batch = heap
        .capsule(MBatch {
            nodes: made.clone(),
        })
        .unwrap();
    heap.freeze(batch).unwrap();
    made.iter().map(|m| heap.as_imm(m).unwrap()).collect()
}

#[test]
fn sets_of_handles_built_in_other_orders_are_one_class() {
    let mut heap = Heap::new();
    // Members allocated in one order, and equal ones in the other: a `BTreeSet` of handles
    // iterates them in opposite orders.
    let forward: Vec<Imm<M>> = (1..=3).map(|l| leaf(&mut heap, l)).collect();
    let backward: Vec<Imm<M>> = (1..=3).rev().map(|l| leaf(&mut heap, l)).collect();
    let x = set_of(&mut heap, &forward);
    let y = set_of(&mut heap, &backward);
    assert_eq!(heap.class_of(&x).unwrap(), heap.class_of(&y).unwrap());
    assert_eq!(heap.stable_hash(&x).unwrap(), heap.stable_hash(&y).unwrap());
    // Specified, as every stable hash: the canonical form of a graph with sets.
    assert_eq!(heap.stable_hash(&x).unwrap(), GOLDEN_SET);
    // Members are counted: two distinct equal leaves are not one.
    let twice = set_of(&mut heap, &[forward[0], backward[2]]);
    let once = set_of(&mut heap, &[forward[0]]);
    assert_ne!(
        heap.class_of(&twice).unwrap(),
        heap.class_of(&once).unwrap()
    );
    assert_ne!(
        heap.stable_hash(&twice).unwrap(),
        heap.stable_hash(&once).unwrap()
    );
    assert_ne!(heap.class_of(&x).unwrap(), heap.class_of(&twice).unwrap());

    // Cycles through sets: the second ring is found equal to the first, member for member,
    // though its sets hold their members in other orders.
    let leaf = leaf(&mut heap, 9);
    let a = ring_of_sets(&mut heap, &[1, 2, 3, 4], &[0, 1, 2, 3], leaf);
    let b = ring_of_sets(&mut heap, &[1, 2, 3, 4], &[3, 1, 0, 2], leaf);
    // Drawn twice around: equal too.
    let c = ring_of_sets(
        &mut heap,
        &[1, 2, 3, 4, 1, 2, 3, 4],
        &[7, 5, 3, 1, 0, 2, 4, 6],
        leaf,
    );
    for other in [&b, &c] {
        for i in 0..4 {
            assert_eq!(
                heap.class_of(&a[i]).unwrap(),
                heap.class_of(&other[i]).unwrap()
            );
            assert_eq!(
                heap.stable_hash(&a[i]).unwrap(),
                heap.stable_hash(&other[i]).unwrap()
            );
        }
    }
    let classes: HashSet<_> = a.iter().map(|h| heap.class_of(h).unwrap()).collect();
    assert_eq!(classes.len(), 4);
    // Sets of plain values compare in their order, whatever the order of insertion.
    let words = |heap: &mut Heap, words: &[&'static str]| {
        heap.imm(Words {
            words: words.iter().copied().collect(),
            count: words.iter().map(|w| (*w, w.len())).collect(),
        })
        .unwrap()
    };
    let p = words(&mut heap, &["a", "bb", "ccc", "dddd"]);
    let q = words(&mut heap, &["dddd", "ccc", "bb", "a"]);
    let r = words(&mut heap, &["dddd", "ccc", "bb"]);
    assert_eq!(heap.class_of(&p).unwrap(), heap.class_of(&q).unwrap());
    assert_ne!(heap.class_of(&p).unwrap(), heap.class_of(&r).unwrap());

    // A ring whose labels differ in one place is another ring.
    let d = ring_of_sets(&mut heap, &[1, 2, 3, 5], &[2, 3, 0, 1], leaf);
    assert_ne!(heap.class_of(&a[0]).unwrap(), heap.class_of(&d[0]).unwrap());
}

#[imm]
struct Words {
    words: HashSet<&'static str>,
    count: std::collections::HashMap<&'static str, usize>,
}

#[cached]
impl Words {}

/// The stable hash of `sets_of_handles_built_in_other_orders_are_one_class`'s `x`.
const GOLDEN_SET: u64 = 0x0d4a_c2ac_379a_f323;

#[test]
fn graphs_that_differ_in_one_leaf_are_not_equal() {
    let mut heap = Heap::new();
    let a = ring(&mut heap, &[1, 2, 3, 4], &[0, 1, 2, 3], 0);
    let b = ring(&mut heap, &[1, 2, 3, 5], &[0, 1, 2, 3], 0);
    for i in 0..4 {
        assert_ne!(heap.class_of(&a[i]).unwrap(), heap.class_of(&b[i]).unwrap());
        assert_ne!(
            heap.stable_hash(&a[i]).unwrap(),
            heap.stable_hash(&b[i]).unwrap()
        );
    }
    // A leaf hanging off a ring node.
    let leaf1 = heap
        .imm(N {
            label: 7,
            next: vec![],
            imm: vec![],
        })
        .unwrap();
    let leaf2 = heap
        .imm(N {
            label: 8,
            next: vec![],
            imm: vec![],
        })
        .unwrap();
    let x = heap
        .imm(N {
            label: 0,
            next: vec![],
            imm: vec![a[0], leaf1],
        })
        .unwrap();
    let y = heap
        .imm(N {
            label: 0,
            next: vec![],
            imm: vec![a[0], leaf2],
        })
        .unwrap();
    assert_ne!(heap.class_of(&x).unwrap(), heap.class_of(&y).unwrap());
}

static AREAS: AtomicUsize = AtomicUsize::new(0);

#[imm]
struct Square {
    side: f64,
    label: String,
}

#[cached]
impl Square {
    #[cache(lazy)]
    fn area(&self) -> f64 {
        AREAS.fetch_add(1, Ordering::SeqCst);
        self.side * self.side
    }
}

#[test]
fn equal_objects_share_their_lazy_caches_across_threads() {
    let mut heap = Heap::new();
    let squares: Vec<Imm<Square>> = (0..8)
        .map(|_| {
            heap.imm(Square {
                side: 3.0,
                label: "s".into(),
            })
            .unwrap()
        })
        .collect();
    let other = heap
        .imm(Square {
            side: 3.0,
            label: "t".into(),
        })
        .unwrap();
    let before = AREAS.load(Ordering::SeqCst);
    std::thread::scope(|s| {
        for sq in &squares {
            let heap = &heap;
            s.spawn(move || assert_eq!(*Square::area(heap, sq).unwrap(), 9.0));
        }
    });
    assert_eq!(
        AREAS.load(Ordering::SeqCst) - before,
        1,
        "computed once for eight equal squares"
    );
    assert_eq!(*Square::area(&heap, &other).unwrap(), 9.0);
    assert_eq!(AREAS.load(Ordering::SeqCst) - before, 2, "another label");
    // Removing the representative hands the class to another member.
    let first = squares[0];
    heap.remove(&first).unwrap();
    assert_eq!(*Square::area(&heap, &squares[1]).unwrap(), 9.0);
    assert!(matches!(
        Square::area(&heap, &first),
        Err(Error::Removed { .. })
    ));
}

/// A derived `Structural` enum in an immutable struct: variants, fields and the handles
/// inside them are compared (a set of handles as a multiset).
#[derive(steadfast::Structural, steadfast::Owned)]
enum Part {
    Leaf(u32),
    Pair {
        left: Imm<Tree>,
        right: Imm<Tree>,
    },
    Fan {
        first: Imm<Tree>,
        rest: HashSet<Imm<Tree>>,
    },
}

#[imm]
struct Tree {
    part: Part,
}

#[cached]
impl Tree {}

#[test]
fn derived_structural_types_are_compared_through_their_handles() {
    let mut heap = Heap::new();
    let tree = |heap: &mut Heap, a: u32, b: u32| {
        let left = heap.imm(Tree {
            part: Part::Leaf(a),
        })?;
        let right = heap.imm(Tree {
            part: Part::Leaf(b),
        })?;
        heap.imm(Tree {
            part: Part::Pair { left, right },
        })
    };
    let x = tree(&mut heap, 1, 2).unwrap();
    let y = tree(&mut heap, 1, 2).unwrap();
    let z = tree(&mut heap, 1, 3).unwrap();
    assert_eq!(heap.class_of(&x).unwrap(), heap.class_of(&y).unwrap());
    assert_ne!(heap.class_of(&x).unwrap(), heap.class_of(&z).unwrap());
    let leaf = heap
        .imm(Tree {
            part: Part::Leaf(1),
        })
        .unwrap();
    assert_ne!(heap.class_of(&x).unwrap(), heap.class_of(&leaf).unwrap());

    // A fan's first member in order, the rest as a set: equal leaves made in other orders.
    let mut fan = |labels: [u32; 3]| {
        let [first, rest @ ..] = labels.map(|l| {
            heap.imm(Tree {
                part: Part::Leaf(l),
            })
            .unwrap()
        });
        let rest = rest.into_iter().collect();
        heap.imm(Tree {
            part: Part::Fan { first, rest },
        })
        .unwrap()
    };
    let (a, b, c) = (fan([1, 2, 3]), fan([1, 3, 2]), fan([2, 1, 3]));
    assert_eq!(heap.class_of(&a).unwrap(), heap.class_of(&b).unwrap());
    assert_eq!(heap.stable_hash(&a).unwrap(), heap.stable_hash(&b).unwrap());
    assert_ne!(heap.class_of(&a).unwrap(), heap.class_of(&c).unwrap());
}

/// An immutable value whose `sq` is computed once per class.
#[imm]
struct Val {
    v: i64,
}

#[cached]
impl Val {
    #[cache(lazy)]
    fn sq(&self) -> i64 {
        self.v * self.v
    }
}

/// Reads a class member through its handle: its cache (`seen`), its field (`field`), and,
/// when `guarded`, an invariant over its cache.
#[mutable]
struct Reader {
    target: Imm<Val>,
    guarded: bool,
}

#[cached]
impl Reader {
    #[cache(lazy_read)]
    fn seen(target: &Imm<Val>, ctx: &steadfast::Ctx<'_, Self>) -> Option<i64> {
        ctx.cached(target, &Val::SQ).ok().copied()
    }

    #[cache(lazy_read)]
    fn field(target: &Imm<Val>, ctx: &steadfast::Ctx<'_, Self>) -> Option<i64> {
        ctx.field_of(target, &Val::V).ok().copied()
    }

    #[cache(now)]
    fn present(
        target: &Imm<Val>,
        guarded: &bool,
        ctx: &steadfast::Ctx<'_, Self>,
    ) -> Result<(), common::Broken> {
        if !guarded {
            return Ok(());
        }
        match ctx.cached(target, &Val::SQ) {
            Ok(_) => Ok(()),
            Err(e) => Err(common::Broken(format!("the target is gone: {e}"))),
        }
    }
}

/// A step of the class-member model.
#[derive(Clone, Debug)]
enum MemberStep {
    /// A new value (few distinct ones, so classes have several members).
    Val(i64),
    /// A reader of a live value (index modulo), guarded or not.
    Reader(usize, bool),
    /// Reads every live reader's caches.
    Read,
    /// Removes a value (index modulo over all values made, live or not).
    RemoveVal(usize),
    /// Removes a reader.
    RemoveReader(usize),
}

fn member_step() -> impl Strategy<Value = MemberStep> {
    prop_oneof![
        3 => (0i64..3).prop_map(MemberStep::Val),
        3 => (0usize..32, any::<bool>()).prop_map(|(i, g)| MemberStep::Reader(i, g)),
        2 => Just(MemberStep::Read),
        3 => (0usize..32).prop_map(MemberStep::RemoveVal),
        1 => (0usize..32).prop_map(MemberStep::RemoveReader),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: common::model_cases(1024),
        ..ProptestConfig::default()
    })]

    /// Removing any member of a class, its representative or not, leaves every reader's
    /// caches equal to a recompute (the oracle: `v * v` and `v` while the member it reads
    /// lives, `None` after), and is vetoed exactly by the guarded readers of that member.
    #[test]
    fn removing_class_members_keeps_readers_coherent(
        steps in prop::collection::vec(member_step(), 1..40)
    ) {
        let mut heap = Heap::new();
        // (handle, value, live)
        let mut vals: Vec<(Imm<Val>, i64, bool)> = Vec::new();
        // (handle, index into vals, guarded, live)
        let mut readers: Vec<(Mutable<Reader>, usize, bool, bool)> = Vec::new();
        for step in &steps {
            match *step {
                MemberStep::Val(v) => {
                    vals.push((heap.imm(Val { v }).unwrap(), v, true));
                }
                MemberStep::Reader(i, guarded) => {
                    let live: Vec<usize> = (0..vals.len()).filter(|&j| vals[j].2).collect();
                    if live.is_empty() {
                        continue;
                    }
                    let j = live[i % live.len()];
                    let r = heap.mutable(Reader { target: vals[j].0, guarded }).unwrap();
                    readers.push((r, j, guarded, true));
                }
                MemberStep::Read => {
                    for (r, _, _, live) in &readers {
                        if *live {
                            Reader::seen(&heap, r).unwrap();
                            Reader::field(&heap, r).unwrap();
                        }
                    }
                }
                MemberStep::RemoveVal(i) => {
                    if vals.is_empty() {
                        continue;
                    }
                    let j = i % vals.len();
                    let vetoed = readers.iter().any(|(_, t, g, live)| *live && *g && *t == j);
                    let result = heap.remove(&vals[j].0);
                    let removed = matches!(result, Err(Error::Removed { .. }));
                    let refused = matches!(result, Err(Error::Invariant { .. }));
                    if !vals[j].2 {
                        prop_assert!(removed);
                    } else if vetoed {
                        prop_assert!(refused, "{:?}", result.err());
                    } else {
                        prop_assert_eq!(result.unwrap().v, vals[j].1);
                        vals[j].2 = false;
                    }
                }
                MemberStep::RemoveReader(i) => {
                    if readers.is_empty() {
                        continue;
                    }
                    let k = i % readers.len();
                    if readers[k].3 {
                        heap.remove(&readers[k].0).unwrap();
                        readers[k].3 = false;
                    }
                }
            }
            for (r, t, _, live) in &readers {
                if !*live {
                    continue;
                }
                let (_, v, alive) = vals[*t];
                let expect = |x: i64| alive.then_some(x);
                prop_assert_eq!(*Reader::seen(&heap, r).unwrap(), expect(v * v));
                prop_assert_eq!(*Reader::field(&heap, r).unwrap(), expect(v));
            }
            for (h, v, alive) in &vals {
                if *alive {
                    prop_assert_eq!(*heap.cached(h, &Val::SQ).unwrap(), v * v);
                }
            }
        }
    }
}

/// The two reproductions, as plain tests.
#[test]
fn removing_a_member_that_is_not_the_representative_invalidates_its_readers() {
    let mut heap = Heap::new();
    let a = heap.imm(Val { v: 3 }).unwrap();
    let b = heap.imm(Val { v: 3 }).unwrap();
    let reader = heap
        .mutable(Reader {
            target: b,
            guarded: false,
        })
        .unwrap();
    assert_eq!(*Reader::seen(&heap, &reader).unwrap(), Some(9));
    heap.remove(&b).unwrap();
    assert_eq!(*Reader::seen(&heap, &reader).unwrap(), None);
    // A guarded reader vetoes the removal of its member, and only of its member.
    let c = heap.imm(Val { v: 3 }).unwrap();
    let _guard = heap
        .mutable(Reader {
            target: c,
            guarded: true,
        })
        .unwrap();
    assert!(matches!(heap.remove(&c), Err(Error::Invariant { .. })));
    assert_eq!(heap.remove(&a).unwrap().v, 3);
    assert_eq!(*heap.cached(&c, &Val::SQ).unwrap(), 9);
}

#[test]
fn removing_the_representative_keeps_the_readers_of_other_members() {
    let mut heap = Heap::new();
    let a = heap.imm(Val { v: 4 }).unwrap();
    let b = heap.imm(Val { v: 4 }).unwrap();
    let reader = heap
        .mutable(Reader {
            target: b,
            guarded: true,
        })
        .unwrap();
    assert_eq!(*Reader::seen(&heap, &reader).unwrap(), Some(16));
    // `a` holds the class's caches; removing it is not vetoed by `b`'s reader.
    heap.remove(&a).unwrap();
    assert_eq!(*Reader::seen(&heap, &reader).unwrap(), Some(16));
    assert_eq!(*heap.cached(&b, &Val::SQ).unwrap(), 16);
    assert!(matches!(heap.remove(&b), Err(Error::Invariant { .. })));
    heap.remove(&reader).unwrap();
    heap.remove(&b).unwrap();
}

/// Two types with the same fields and shape: their stable names tell them apart.
#[imm(stable_name = "tests::Celsius")]
struct Celsius {
    degrees: i32,
}

#[cached]
impl Celsius {}

#[imm(stable_name = "tests::Fahrenheit")]
struct Fahrenheit {
    degrees: i32,
}

#[cached]
impl Fahrenheit {}

/// The same name as `Celsius`: another type that claims its identity hashes as it does.
#[imm(stable_name = "tests::Celsius")]
struct CelsiusAgain {
    degrees: i32,
}

#[cached]
impl CelsiusAgain {}

/// `stable_hash` is specified (SipHash-2-4 over the canonical form, little-endian integers,
/// the types' stable names), so its values are fixed: these are the values every build on
/// every platform must give. A change here breaks every stored hash, and must be announced
/// as such.
#[test]
fn stable_hashes_are_the_same_in_every_build() {
    let mut heap = Heap::new();
    let c = heap.imm(Celsius { degrees: 20 }).unwrap();
    let f = heap.imm(Fahrenheit { degrees: 20 }).unwrap();
    let again = heap.imm(CelsiusAgain { degrees: 20 }).unwrap();
    assert_eq!(heap.stable_hash(&c).unwrap(), 0xff8f_0f77_7704_2d31);
    assert_eq!(heap.stable_hash(&f).unwrap(), 0x561f_1808_7272_e879);
    assert_eq!(
        heap.stable_hash(&again).unwrap(),
        heap.stable_hash(&c).unwrap()
    );
    // A ring, whose type's name is the derive's default: its path.
    let ring = ring(&mut heap, &[1, 2, 3], &[0, 1, 2], 0);
    assert_eq!(heap.stable_hash(&ring[0]).unwrap(), 0xcfc9_038c_9f2f_8e24);
    // A plain graph's canonical form.
    let mut g = Graph::new();
    let leaf = g.add_node(1u32, []);
    let root = g.add_node(2u32, [leaf, leaf]);
    let normal = g.normalize().unwrap();
    assert_eq!(normal.canonical(root).stable_hash(), 0xd0d0_c4af_612d_0ea4);
}
