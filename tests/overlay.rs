//! Overlays: reads fall through to the base, writes stay in the overlay, base writes are
//! pushed, invariants hold in the overlay (G1–G3 inside it), and a discard leaves nothing.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use proptest::prelude::*;
use steadfast::{cached, mutable, Ctx, Error, Heap, Mutable};

#[derive(Debug)]
struct TooBig(i64);

impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the sum {} is over {LIMIT}", self.0)
    }
}

impl std::error::Error for TooBig {}

const LIMIT: i64 = 100;

static SUMS: AtomicUsize = AtomicUsize::new(0);

/// A chain: each node's `sum` is its value plus the next node's sum, and every sum is
/// bounded (an invariant that reads other objects through its own cache).
#[mutable]
#[derive(Clone)]
struct Node {
    value: i64,
    next: Option<Mutable<Node>>,
}

#[cached]
impl Node {
    #[cache(lazy_read)]
    fn sum(value: &i64, next: &Option<Mutable<Node>>, ctx: &Ctx<'_, Self>) -> i64 {
        SUMS.fetch_add(1, Relaxed);
        value
            + next
                .as_ref()
                .map_or(0, |n| *ctx.cached(n, &Node::SUM).unwrap_or(&0))
    }

    #[cache(lazy_read)]
    fn double(value: &i64) -> i64 {
        value * 2
    }

    #[cache(now)]
    fn bounded(ctx: &Ctx<'_, Self>) -> Result<(), TooBig> {
        let sum = ctx.own(&Node::SUM).map_or(0, |s| *s);
        if sum > LIMIT {
            Err(TooBig(sum))
        } else {
            Ok(())
        }
    }
}

/// A chain of `values.len()` nodes, first node first.
fn chain(heap: &mut Heap, values: &[i64]) -> Vec<Mutable<Node>> {
    let mut nodes: Vec<Mutable<Node>> = Vec::new();
    for &value in values.iter().rev() {
        let next = nodes.last().cloned();
        nodes.push(heap.mutable(Node { value, next }).unwrap());
    }
    nodes.reverse();
    nodes
}

#[test]
fn an_object_the_overlay_did_not_write_is_the_base_s_same_reference() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    let ov = heap.overlay();
    let layer = heap.layer(&ov).unwrap();
    assert!(std::ptr::eq(
        layer.get(&n[0]).unwrap(),
        heap.get(&n[0]).unwrap()
    ));
    let sum = layer.cached(&n[0], &Node::SUM).unwrap();
    assert!(std::ptr::eq(sum, heap.cached(&n[0], &Node::SUM).unwrap()));
    assert_eq!(*sum, 6);
    assert_eq!(layer.cells(), 0, "the overlay holds nothing of its own");
    assert!(!layer.is_written(&n[0]).unwrap());
}

#[test]
fn an_overlay_write_is_seen_in_the_overlay_only() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 6);
    let ov = heap.overlay();
    Node::set_value(&mut heap.layer_mut(&ov).unwrap(), &n[2], 30).unwrap();
    {
        let layer = heap.layer(&ov).unwrap();
        assert_eq!(layer.get(&n[2]).unwrap().value, 30);
        assert!(layer.is_written(&n[2]).unwrap());
        // Every sum reads the written node: computed in the overlay.
        assert_eq!(*layer.cached(&n[0], &Node::SUM).unwrap(), 33);
        assert_eq!(*layer.cached(&n[1], &Node::SUM).unwrap(), 32);
        assert_eq!(*layer.cached(&n[2], &Node::DOUBLE).unwrap(), 60);
        // Not the written node's own-field cache of another node: the base's.
        let d = layer.cached(&n[0], &Node::DOUBLE).unwrap();
        assert!(std::ptr::eq(d, heap.cached(&n[0], &Node::DOUBLE).unwrap()));
    }
    assert_eq!(heap.get(&n[2]).unwrap().value, 3);
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 6);
    assert_eq!(*heap.cached(&n[2], &Node::DOUBLE).unwrap(), 6);
}

#[test]
fn a_base_cache_first_computed_after_the_fork_is_computed_in_the_overlay_too() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    let ov = heap.overlay();
    Node::set_value(&mut heap.layer_mut(&ov).unwrap(), &n[2], 10).unwrap();
    // The base computes its own sums now, reading its own n[2]: the overlay must not take
    // them.
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 6);
    let layer = heap.layer(&ov).unwrap();
    assert_eq!(*layer.cached(&n[0], &Node::SUM).unwrap(), 13);
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 6);
}

#[test]
fn a_base_write_is_pushed_into_the_overlay_that_read_it() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    let ov = heap.overlay();
    Node::set_value(&mut heap.layer_mut(&ov).unwrap(), &n[2], 10).unwrap();
    assert_eq!(
        *heap.layer(&ov).unwrap().cached(&n[0], &Node::SUM).unwrap(),
        13
    );
    // A saved edit the overlay did not make: seen through it.
    Node::set_value(&mut heap, &n[1], 5).unwrap();
    assert_eq!(
        *heap.layer(&ov).unwrap().cached(&n[0], &Node::SUM).unwrap(),
        16
    );
    assert_eq!(heap.layer(&ov).unwrap().get(&n[1]).unwrap().value, 5);
    // The base's write of what the overlay wrote: the overlay keeps its own.
    Node::set_value(&mut heap, &n[2], 7).unwrap();
    assert_eq!(
        *heap.layer(&ov).unwrap().cached(&n[0], &Node::SUM).unwrap(),
        16
    );
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 13);
}

#[cfg(feature = "stats")]
#[test]
fn a_base_write_the_overlay_did_not_read_visits_none_of_its_cells() {
    let mut heap = Heap::new();
    let a = chain(&mut heap, &[1, 2, 3]);
    let b = chain(&mut heap, &[4, 5]);
    let ov = heap.overlay();
    Node::set_value(&mut heap.layer_mut(&ov).unwrap(), &a[2], 10).unwrap();
    assert_eq!(
        *heap.layer(&ov).unwrap().cached(&a[0], &Node::SUM).unwrap(),
        13
    );
    let before = heap.stats();
    Node::set_value(&mut heap, &b[1], 6).unwrap();
    assert_eq!(heap.stats().since(&before).overlay_dirtied, 0);
    Node::set_value(&mut heap, &a[1], 6).unwrap();
    // The two sums that read it, and the two invariants that read those.
    assert_eq!(heap.stats().since(&before).overlay_dirtied, 4);
}

#[test]
fn an_overlay_write_that_breaks_an_invariant_is_rolled_back_in_the_overlay() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    let ov = heap.overlay();
    Node::set_value(&mut heap.layer_mut(&ov).unwrap(), &n[2], 10).unwrap();
    let err = Node::set_value(&mut heap.layer_mut(&ov).unwrap(), &n[1], 95).unwrap_err();
    let invariant = err.invariant().expect("an invariant error");
    assert_eq!(invariant.cache, "bounded");
    // Its own invariant is checked first: the written node's sum goes over.
    assert_eq!(invariant.object, n[1].id());
    let layer = heap.layer(&ov).unwrap();
    assert_eq!(layer.get(&n[1]).unwrap().value, 2);
    assert_eq!(*layer.cached(&n[0], &Node::SUM).unwrap(), 13);
    assert_eq!(heap.get(&n[1]).unwrap().value, 2);
}

#[test]
fn a_base_write_that_breaks_the_overlay_breaks_it_until_an_overlay_write_repairs_it() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    let ov = heap.overlay();
    Node::set_value(&mut heap.layer_mut(&ov).unwrap(), &n[2], 90).unwrap();
    // Fine in the base (10 + 2 + 3), over the limit in the overlay (10 + 2 + 90).
    Node::set_value(&mut heap, &n[0], 10).unwrap();
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 15);
    let layer = heap.layer(&ov).unwrap();
    let broken = layer.broken().expect("broken");
    assert_eq!((broken.object, broken.cache), (n[0].id(), "bounded"));
    match layer.cached(&n[1], &Node::SUM) {
        Err(Error::OverlayBroken { invariant, .. }) => assert_eq!(invariant, broken),
        other => panic!("{other:?}"),
    }
    assert!(matches!(layer.get(&n[2]), Err(Error::OverlayBroken { .. })));
    // A write that leaves it broken is refused; one that repairs it is taken.
    assert!(Node::set_value(&mut heap.layer_mut(&ov).unwrap(), &n[2], 95).is_err());
    Node::set_value(&mut heap.layer_mut(&ov).unwrap(), &n[2], 50).unwrap();
    let layer = heap.layer(&ov).unwrap();
    assert_eq!(layer.broken(), None);
    assert_eq!(*layer.cached(&n[0], &Node::SUM).unwrap(), 62);
}

#[test]
fn a_discard_leaves_nothing_behind() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 6);
    let (len, edges) = (heap.len(), heap.edges());
    let ov = heap.overlay();
    Node::set_value(&mut heap.layer_mut(&ov).unwrap(), &n[2], 10).unwrap();
    {
        let layer = heap.layer(&ov).unwrap();
        assert_eq!(*layer.cached(&n[0], &Node::SUM).unwrap(), 13);
        assert!(layer.cells() > 0 && layer.edges() > 0);
    }
    heap.discard(ov).unwrap();
    assert_eq!((heap.len(), heap.edges()), (len, edges));
    // The base's cells as they were: every read a hit, nothing computed.
    #[cfg(feature = "stats")]
    {
        let before = heap.stats();
        for node in &n {
            heap.cached(node, &Node::SUM).unwrap();
            heap.cached(node, &Node::BOUNDED).unwrap();
        }
        let d = heap.stats().since(&before);
        assert_eq!((d.hits, d.computes), (6, 0));
    }
    // No mark left: a base write settles as before the overlay, and a new overlay starts
    // empty.
    Node::set_value(&mut heap, &n[2], 4).unwrap();
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 7);
    let again = heap.overlay();
    let layer = heap.layer(&again).unwrap();
    assert_eq!(layer.cells(), 0);
    assert_eq!(*layer.cached(&n[0], &Node::SUM).unwrap(), 7);
}

#[test]
fn closed_and_foreign_overlays_are_refused() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1]);
    let ov = heap.overlay();
    heap.discard(ov).unwrap();
    assert!(matches!(heap.layer(&ov), Err(Error::OverlayClosed { overlay }) if overlay == ov));
    assert!(matches!(
        heap.layer_mut(&ov),
        Err(Error::OverlayClosed { .. })
    ));
    assert!(matches!(heap.discard(ov), Err(Error::OverlayClosed { .. })));
    let mut other = Heap::new();
    let theirs = other.overlay();
    assert!(matches!(
        heap.layer(&theirs),
        Err(Error::ForeignOverlay { .. })
    ));
    assert!(matches!(
        heap.discard(theirs),
        Err(Error::ForeignOverlay { .. })
    ));
    assert!(other.layer(&theirs).is_ok());
    assert_eq!(heap.get(&n[0]).unwrap().value, 1);
}

#[test]
fn an_object_that_cannot_be_copied_is_refused_with_nothing_changed() {
    /// Not `Clone`: its struct says so, and an overlay cannot copy it.
    #[derive(steadfast::Plain)]
    struct Ticket(#[allow(dead_code)] u32);

    #[mutable(remove_on_failure)]
    struct Handle {
        ticket: Ticket,
        n: u32,
    }
    #[cached]
    impl Handle {}

    let mut heap = Heap::new();
    let h = heap
        .mutable(Handle {
            ticket: Ticket(7),
            n: 1,
        })
        .unwrap();
    let ov = heap.overlay();
    let err = Handle::set_n(&mut heap.layer_mut(&ov).unwrap(), &h, 2).unwrap_err();
    assert!(matches!(err, Error::NotForkable { object, .. } if object == h.id()));
    assert_eq!(heap.layer(&ov).unwrap().get(&h).unwrap().n, 1);
    assert_eq!(heap.layer(&ov).unwrap().cells(), 0);
}

#[test]
fn an_overlay_is_not_used_inside_a_transaction() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1]);
    let ov = heap.overlay();
    let seen = heap
        .transaction(|tx| {
            Node::set_value(tx, &n[0], 2)?;
            Ok::<_, Error>(tx.layer(&ov).err())
        })
        .unwrap();
    assert!(matches!(seen, Some(Error::OverlayInTransaction { .. })));
}

#[test]
fn overlays_are_independent() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    let (a, b) = (heap.overlay(), heap.overlay());
    Node::set_value(&mut heap.layer_mut(&a).unwrap(), &n[2], 10).unwrap();
    Node::set_value(&mut heap.layer_mut(&b).unwrap(), &n[1], 20).unwrap();
    assert_eq!(
        *heap.layer(&a).unwrap().cached(&n[0], &Node::SUM).unwrap(),
        13
    );
    assert_eq!(
        *heap.layer(&b).unwrap().cached(&n[0], &Node::SUM).unwrap(),
        24
    );
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 6);
    heap.discard(a).unwrap();
    assert_eq!(
        *heap.layer(&b).unwrap().cached(&n[0], &Node::SUM).unwrap(),
        24
    );
}

#[test]
fn many_open_overlays_share_the_last_mark_and_stay_right() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    let overlays: Vec<_> = (0..70).map(|_| heap.overlay()).collect();
    for (i, ov) in overlays.iter().enumerate() {
        Node::set_value(&mut heap.layer_mut(ov).unwrap(), &n[2], i as i64).unwrap();
    }
    for (i, ov) in overlays.iter().enumerate() {
        let layer = heap.layer(ov).unwrap();
        assert_eq!(*layer.cached(&n[0], &Node::SUM).unwrap(), 3 + i as i64);
    }
    Node::set_value(&mut heap, &n[0], 0).unwrap();
    for (i, ov) in overlays.iter().enumerate().rev() {
        assert_eq!(
            *heap.layer(ov).unwrap().cached(&n[0], &Node::SUM).unwrap(),
            2 + i as i64
        );
        heap.discard(*ov).unwrap();
    }
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 5);
}

/// One step of the model.
#[derive(Clone, Debug)]
enum Step {
    Base(usize, i64),
    BaseRemove(usize),
    Layer(usize, i64),
    LayerRemove(usize),
    ReadBase(usize),
    ReadLayer(usize),
    Reopen,
    Commit,
    Revert(usize),
    /// Two writes in one overlay transaction.
    Pair(usize, i64, usize, i64),
    /// A node made in the overlay, in front of the first.
    Make(i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..NODES, -20i64..45).prop_map(|(i, v)| Step::Base(i, v)),
        1 => (0..NODES).prop_map(Step::BaseRemove),
        4 => (0..NODES, -20i64..45).prop_map(|(i, v)| Step::Layer(i, v)),
        1 => (0..NODES).prop_map(Step::LayerRemove),
        2 => (0..NODES).prop_map(Step::ReadBase),
        2 => (0..NODES).prop_map(Step::ReadLayer),
        1 => Just(Step::Reopen),
        1 => Just(Step::Commit),
        1 => (0..NODES).prop_map(Step::Revert),
        2 => (0..NODES, -20i64..45, 0..NODES, -20i64..45).prop_map(|(i, v, j, w)| Step::Pair(i, v, j, w)),
        1 => (-20i64..45).prop_map(Step::Make),
    ]
}

const NODES: usize = 5;

/// Every node's sum, from the last; a removed node has none, and a sum reads a removed next
/// node as 0 (the chain's own rule).
fn sums(values: &[Option<i64>]) -> Vec<Option<i64>> {
    let mut sums = vec![None; values.len()];
    let mut next = 0;
    for i in (0..values.len()).rev() {
        sums[i] = values[i].map(|v| v + next);
        next = sums[i].unwrap_or(0);
    }
    sums
}

/// Whether every sum is within the limit, those of the nodes in front of the first
/// (`fronts`, whose sums read the first node's) included.
fn holds_with(values: &[Option<i64>], fronts: &[i64]) -> bool {
    let sums = sums(values);
    let first = sums[0].unwrap_or(0);
    sums.iter().flatten().all(|&s| s <= LIMIT) && fronts.iter().all(|v| v + first <= LIMIT)
}

/// The model of the overlay: what it wrote and removed over the base.
#[derive(Clone)]
struct Seen {
    written: Vec<Option<i64>>,
    gone: Vec<bool>,
}

impl Seen {
    fn new() -> Self {
        Seen {
            written: vec![None; NODES],
            gone: vec![false; NODES],
        }
    }

    fn values(&self, base: &[Option<i64>]) -> Vec<Option<i64>> {
        (0..NODES)
            .map(|i| match (base[i], self.gone[i]) {
                (None, _) | (_, true) => None,
                (Some(b), false) => Some(self.written[i].unwrap_or(b)),
            })
            .collect()
    }

    fn holds_write(&self, i: usize) -> bool {
        self.written[i].is_some() || self.gone[i]
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random base and overlay operations — writes, removals, transactions, reverts, commits
    /// — against two oracles: the base replayed alone, and the base with the overlay's
    /// written and removed nodes substituted. After every step every cache, read in the base
    /// and in the overlay, equals a recompute from its oracle.
    #[test]
    fn overlay_and_base_agree_with_their_oracles(steps in prop::collection::vec(step(), 1..40)) {
        let mut heap = Heap::new();
        let mut base: Vec<Option<i64>> = vec![Some(1), Some(2), Some(3), Some(4), Some(5)];
        let nodes = chain(&mut heap, &[1, 2, 3, 4, 5]);
        let mut seen = Seen::new();
        // Nodes the base wrote or removed since the overlay did.
        let mut conflicts = [false; NODES];
        let mut ov = heap.overlay();
        // Nodes in front of the first: made in the overlay, and made there and committed.
        let mut made: Vec<(Mutable<Node>, i64)> = Vec::new();
        let mut fronts: Vec<(Mutable<Node>, i64)> = Vec::new();
        let values_of = |v: &[(Mutable<Node>, i64)]| v.iter().map(|(_, v)| *v).collect::<Vec<_>>();
        for step in steps {
            let (all_fronts, base_fronts) = ([values_of(&fronts), values_of(&made)].concat(), values_of(&fronts));
            let holds = |values: &[Option<i64>]| holds_with(values, &all_fronts);
            let holds_base = |values: &[Option<i64>]| holds_with(values, &base_fronts);
            match step {
                Step::Base(i, v) => {
                    let result = Node::set_value(&mut heap, &nodes[i], v);
                    if base[i].is_none() {
                        prop_assert!(matches!(result, Err(Error::Removed { .. })), "{:?}", result);
                        continue;
                    }
                    let mut next = base.clone();
                    next[i] = Some(v);
                    prop_assert_eq!(result.is_ok(), holds_base(&next), "base write {:?}", result);
                    if result.is_ok() {
                        base = next;
                        conflicts[i] |= seen.holds_write(i);
                    }
                }
                Step::BaseRemove(i) => {
                    let result = heap.remove(&nodes[i]).map(drop);
                    if base[i].is_none() {
                        prop_assert!(matches!(result, Err(Error::Removed { .. })), "{:?}", result);
                        continue;
                    }
                    let mut next = base.clone();
                    next[i] = None;
                    prop_assert_eq!(result.is_ok(), holds_base(&next), "base removal {:?}", result);
                    if result.is_ok() {
                        base = next;
                        conflicts[i] |= seen.holds_write(i);
                    }
                }
                Step::Layer(i, v) => {
                    let result = Node::set_value(&mut heap.layer_mut(&ov).unwrap(), &nodes[i], v);
                    if seen.values(&base)[i].is_none() {
                        prop_assert!(matches!(result, Err(Error::Removed { .. })), "{:?}", result);
                        continue;
                    }
                    let mut next = seen.clone();
                    next.written[i] = Some(v);
                    prop_assert_eq!(result.is_ok(), holds(&next.values(&base)), "overlay write {:?}", result);
                    if result.is_ok() {
                        seen = next;
                    }
                }
                Step::LayerRemove(i) => {
                    let result = heap.layer_mut(&ov).unwrap().remove(&nodes[i]);
                    if seen.values(&base)[i].is_none() {
                        prop_assert!(matches!(result, Err(Error::Removed { .. })), "{:?}", result);
                        continue;
                    }
                    let mut next = seen.clone();
                    next.written[i] = None;
                    next.gone[i] = true;
                    prop_assert_eq!(result.is_ok(), holds(&next.values(&base)), "overlay removal {:?}", result);
                    if result.is_ok() {
                        seen = next;
                    }
                }
                Step::Pair(i, v, j, w) => {
                    let result = heap.layer_mut(&ov).unwrap().transaction(|tx| {
                        Node::set_value(tx, &nodes[i], v)?;
                        Node::set_value(tx, &nodes[j], w)
                    });
                    let values = seen.values(&base);
                    if values[i].is_none() || values[j].is_none() {
                        prop_assert!(matches!(result, Err(Error::Removed { .. })), "{:?}", result);
                        continue;
                    }
                    let mut next = seen.clone();
                    next.written[i] = Some(v);
                    next.written[j] = Some(w);
                    prop_assert_eq!(result.is_ok(), holds(&next.values(&base)), "overlay transaction {:?}", result);
                    if result.is_ok() {
                        seen = next;
                    }
                }
                Step::Revert(i) => {
                    let result = heap.layer_mut(&ov).unwrap().revert(&nodes[i]);
                    let mut next = seen.clone();
                    next.written[i] = None;
                    next.gone[i] = false;
                    if !seen.holds_write(i) {
                        // Nothing to revert: no copy, or a node the base removed.
                        let gone = base[i].is_none();
                        prop_assert!(
                            matches!(result, Ok(false)) || gone && matches!(result, Err(Error::Removed { .. })),
                            "{:?}", result
                        );
                    } else if base[i].is_none() && !seen.gone[i] {
                        // A copy of a node the base removed since: the node is gone.
                        prop_assert!(matches!(result, Err(Error::Removed { .. })), "{:?}", result);
                    } else if holds(&next.values(&base)) {
                        prop_assert!(matches!(result, Ok(true)), "{:?}", result);
                        seen = next;
                        conflicts[i] = false;
                    } else {
                        prop_assert!(matches!(result, Err(Error::Invariant { .. })), "{:?}", result);
                    }
                }
                Step::ReadBase(i) => {
                    let read = heap.cached(&nodes[i], &Node::SUM).copied();
                    match sums(&base)[i] {
                        Some(s) => prop_assert_eq!(read.unwrap(), s),
                        None => prop_assert!(matches!(read, Err(Error::Removed { .. })), "{:?}", read),
                    }
                }
                Step::ReadLayer(i) => {
                    let values = seen.values(&base);
                    let layer = heap.layer(&ov).unwrap();
                    let read = layer.cached(&nodes[i], &Node::SUM).copied();
                    if !holds(&values) {
                        prop_assert!(matches!(read, Err(Error::OverlayBroken { .. })), "{:?}", read);
                    } else if let Some(s) = sums(&values)[i] {
                        prop_assert_eq!(read.unwrap(), s);
                        prop_assert_eq!(*layer.cached(&nodes[i], &Node::DOUBLE).unwrap(), 2 * values[i].unwrap());
                    } else {
                        prop_assert!(matches!(read, Err(Error::Removed { .. })), "{:?}", read);
                    }
                }
                Step::Make(v) => {
                    let node = Node { value: v, next: Some(nodes[0].clone()) };
                    let result = heap.layer_mut(&ov).unwrap().mutable(node);
                    let values = seen.values(&base);
                    let first = sums(&values)[0].unwrap_or(0);
                    let fine = holds(&values) && v + first <= LIMIT;
                    prop_assert_eq!(result.is_ok(), fine, "made {:?}", result);
                    if let Ok(handle) = result {
                        prop_assert!(matches!(heap.get(&handle), Err(Error::OverlayOnly { .. })), "seen by the base");
                        made.push((handle, v));
                    }
                }
                Step::Reopen => {
                    heap.discard(ov).unwrap();
                    for (handle, _) in made.drain(..) {
                        prop_assert!(matches!(heap.get(&handle), Err(Error::Removed { .. })), "kept by a discard");
                    }
                    ov = heap.overlay();
                    seen = Seen::new();
                    conflicts = [false; NODES];
                }
                Step::Commit => {
                    let values = seen.values(&base);
                    let result = heap.commit(ov);
                    if conflicts.contains(&true) {
                        // One of the nodes both wrote.
                        let named = match &result {
                            Err(Error::Conflict { object, .. }) => nodes.iter().position(|n| n.id() == *object),
                            _ => None,
                        };
                        prop_assert!(named.is_some_and(|i| conflicts[i]), "{:?}", result);
                    } else if !holds(&values) {
                        prop_assert!(matches!(result, Err(Error::OverlayBroken { .. })), "{:?}", result);
                    } else {
                        prop_assert!(result.is_ok(), "{:?}", result);
                        base = values;
                        fronts.append(&mut made);
                        ov = heap.overlay();
                        seen = Seen::new();
                    }
                }
            }
            // Every cache, in both, after every step.
            let values = seen.values(&base);
            let holds = holds_with(&values, &[values_of(&fronts), values_of(&made)].concat());
            let base_first = sums(&base)[0].unwrap_or(0);
            let seen_first = sums(&values)[0].unwrap_or(0);
            for (handle, v) in &fronts {
                prop_assert_eq!(*heap.cached(handle, &Node::SUM).unwrap(), v + base_first);
            }
            for (handle, _) in &made {
                prop_assert!(matches!(heap.cached(handle, &Node::SUM), Err(Error::OverlayOnly { .. })), "seen by the base");
            }
            let layer = heap.layer(&ov).unwrap();
            if holds {
                for (handle, v) in fronts.iter().chain(&made) {
                    prop_assert_eq!(*layer.cached(handle, &Node::SUM).unwrap(), v + seen_first);
                }
            }
            prop_assert_eq!(layer.broken().is_some(), !holds);
            for (i, node) in nodes.iter().enumerate() {
                match sums(&base)[i] {
                    Some(s) => {
                        prop_assert_eq!(*heap.cached(node, &Node::SUM).unwrap(), s);
                        prop_assert_eq!(heap.get(node).unwrap().value, base[i].unwrap());
                    }
                    None => prop_assert!(heap.get(node).is_err()),
                }
                if holds {
                    match sums(&values)[i] {
                        Some(s) => {
                            prop_assert_eq!(*layer.cached(node, &Node::SUM).unwrap(), s);
                            prop_assert_eq!(layer.get(node).unwrap().value, values[i].unwrap());
                        }
                        None => {
                            let got = layer.get(node).map(|n| n.value);
                            prop_assert!(matches!(got, Err(Error::Removed { .. })), "{:?}", got);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn the_guide_s_modules() -> Result<(), Error> {
    #[mutable]
    #[derive(Clone)]
    struct Module {
        source: String,
        imports: Vec<Mutable<Module>>,
    }

    #[cached]
    impl Module {
        #[cache(lazy_read)]
        fn lines(source: &String) -> usize {
            source.lines().count()
        }

        #[cache(lazy_read)]
        fn total(imports: &Vec<Mutable<Module>>, ctx: &Ctx<'_, Self>) -> usize {
            ctx.own(&Module::LINES).map_or(0, |n| *n)
                + imports
                    .iter()
                    .map(|m| *ctx.cached(m, &Module::TOTAL).unwrap_or(&0))
                    .sum::<usize>()
        }
    }

    let mut heap = Heap::new();
    let b = heap.mutable(Module {
        source: "b".into(),
        imports: vec![],
    })?;
    let a = heap.mutable(Module {
        source: "a".into(),
        imports: vec![b.clone()],
    })?;
    let ov = heap.overlay();
    Module::set_source(&mut heap.layer_mut(&ov)?, &b, "b\nb2".into())?;
    assert_eq!(*heap.layer(&ov)?.cached(&a, &Module::TOTAL)?, 3);
    assert_eq!(*heap.cached(&a, &Module::TOTAL)?, 2);
    Module::set_source(&mut heap, &a, "a\na2".into())?;
    assert_eq!(*heap.layer(&ov)?.cached(&a, &Module::TOTAL)?, 4);
    assert_eq!(*heap.cached(&a, &Module::TOTAL)?, 3);
    heap.discard(ov)?;
    Ok(())
}

#[test]
fn a_commit_writes_the_overlay_s_values_as_one_operation() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    let ov = heap.overlay();
    {
        let mut layer = heap.layer_mut(&ov).unwrap();
        Node::set_value(&mut layer, &n[2], 10).unwrap();
        Node::set_value(&mut layer, &n[0], 5).unwrap();
    }
    assert_eq!(
        *heap.layer(&ov).unwrap().cached(&n[0], &Node::SUM).unwrap(),
        17
    );
    heap.commit(ov).unwrap();
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 17);
    assert_eq!(heap.get(&n[0]).unwrap().value, 5);
    assert!(matches!(heap.layer(&ov), Err(Error::OverlayClosed { .. })));
    // Written values are the heap's own now: a base write settles as any other.
    Node::set_value(&mut heap, &n[1], 0).unwrap();
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 15);
}

#[test]
fn a_conflicting_commit_changes_nothing() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    let ov = heap.overlay();
    Node::set_value(&mut heap.layer_mut(&ov).unwrap(), &n[1], 20).unwrap();
    Node::set_value(&mut heap, &n[1], 4).unwrap();
    let err = heap.commit(ov).unwrap_err();
    assert!(matches!(err, Error::Conflict { object, .. } if object == n[1].id()));
    assert_eq!(heap.get(&n[1]).unwrap().value, 4);
    let layer = heap.layer(&ov).unwrap();
    assert_eq!(layer.get(&n[1]).unwrap().value, 20);
    assert_eq!(*layer.cached(&n[0], &Node::SUM).unwrap(), 24);
}

static REFUSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

impl std::error::Error for Refused {}

/// An invariant that holds while the test says so: a commit it refuses must change nothing.
#[mutable]
#[derive(Clone)]
struct Gate {
    n: i64,
}

#[cached]
impl Gate {
    #[cache(now)]
    fn open(n: &i64) -> Result<(), Refused> {
        if *n > 0 && REFUSE.load(Relaxed) {
            Err(Refused)
        } else {
            Ok(())
        }
    }

    #[cache(lazy_read)]
    fn twice(n: &i64) -> i64 {
        n * 2
    }
}

#[test]
fn a_commit_refused_by_an_invariant_is_rolled_back_with_the_overlay_intact() {
    let mut heap = Heap::new();
    let g = heap.mutable(Gate { n: 0 }).unwrap();
    assert_eq!(*heap.cached(&g, &Gate::TWICE).unwrap(), 0);
    let ov = heap.overlay();
    Gate::set_n(&mut heap.layer_mut(&ov).unwrap(), &g, 3).unwrap();
    REFUSE.store(true, Relaxed);
    let err = heap.commit(ov).unwrap_err();
    REFUSE.store(false, Relaxed);
    assert_eq!(err.invariant().unwrap().cache, "open");
    assert_eq!(heap.get(&g).unwrap().n, 0);
    assert_eq!(*heap.cached(&g, &Gate::TWICE).unwrap(), 0);
    assert_eq!(heap.layer(&ov).unwrap().get(&g).unwrap().n, 3);
    assert_eq!(
        *heap.layer(&ov).unwrap().cached(&g, &Gate::TWICE).unwrap(),
        6
    );
    heap.commit(ov).unwrap();
    assert_eq!(*heap.cached(&g, &Gate::TWICE).unwrap(), 6);
}

#[test]
fn copies_of_one_object_in_several_overlays_stay_apart() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    let overlays: Vec<_> = (0..4).map(|_| heap.overlay()).collect();
    for (i, ov) in overlays.iter().enumerate() {
        Node::set_value(&mut heap.layer_mut(ov).unwrap(), &n[2], 10 * (i as i64 + 1)).unwrap();
    }
    let sums = |heap: &Heap, ovs: &[steadfast::Overlay]| -> Vec<i64> {
        ovs.iter()
            .map(|ov| *heap.layer(ov).unwrap().cached(&n[0], &Node::SUM).unwrap())
            .collect()
    };
    assert_eq!(sums(&heap, &overlays), vec![13, 23, 33, 43]);
    heap.discard(overlays[1]).unwrap();
    assert!(heap.layer_mut(&overlays[2]).unwrap().revert(&n[2]).unwrap());
    assert!(!heap.layer_mut(&overlays[2]).unwrap().revert(&n[2]).unwrap());
    let left = [overlays[0], overlays[2], overlays[3]];
    assert_eq!(sums(&heap, &left), vec![13, 6, 43]);
    Node::set_value(&mut heap.layer_mut(&overlays[2]).unwrap(), &n[2], 0).unwrap();
    assert_eq!(sums(&heap, &left), vec![13, 3, 43]);
    heap.commit(overlays[3]).unwrap();
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 43);
    // The others wrote what the commit wrote: each keeps its own copy, and conflicts.
    assert_eq!(sums(&heap, &left[..2]), vec![13, 3]);
    assert!(matches!(
        heap.commit(overlays[0]),
        Err(Error::Conflict { .. })
    ));
}

#[test]
fn an_overlay_transaction_is_checked_once_and_rolled_back_whole() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    let ov = heap.overlay();
    // Over the limit between the two writes, under it at the end.
    heap.layer_mut(&ov)
        .unwrap()
        .transaction(|tx| {
            Node::set_value(tx, &n[2], 99)?;
            assert_eq!(*tx.cached(&n[0], &Node::SUM)?, 102, "reads see the writes");
            Node::set_value(tx, &n[1], -50)
        })
        .unwrap();
    assert_eq!(
        *heap.layer(&ov).unwrap().cached(&n[0], &Node::SUM).unwrap(),
        50
    );
    // Refused at the end: both writes undone, the copy of n[0] it made dropped.
    let err = heap
        .layer_mut(&ov)
        .unwrap()
        .transaction(|tx| {
            Node::set_value(tx, &n[0], 50)?;
            Node::set_value(tx, &n[1], 0)
        })
        .unwrap_err();
    assert_eq!(err.invariant().unwrap().cache, "bounded");
    let layer = heap.layer(&ov).unwrap();
    assert!(!layer.is_written(&n[0]).unwrap());
    assert_eq!(layer.get(&n[1]).unwrap().value, -50);
    assert_eq!(*layer.cached(&n[0], &Node::SUM).unwrap(), 50);
    // The closure's own error and a panic undo as much.
    let own: Result<(), Error> = heap.layer_mut(&ov).unwrap().transaction(|tx| {
        Node::set_value(tx, &n[2], 1)?;
        Err(Error::OverlayClosed { overlay: ov })
    });
    assert!(own.is_err());
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = heap.layer_mut(&ov).unwrap().transaction(|tx| {
            Node::set_value(tx, &n[2], 2)?;
            panic!("in the middle");
            #[allow(unreachable_code)]
            Ok::<(), Error>(())
        });
    }));
    assert!(caught.is_err());
    let layer = heap.layer(&ov).unwrap();
    assert_eq!(layer.get(&n[2]).unwrap().value, 99);
    assert_eq!(*layer.cached(&n[0], &Node::SUM).unwrap(), 50);
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 6);
}

#[test]
fn a_capsule_frozen_since_the_overlay_wrote_it_is_a_conflict() {
    #[steadfast::capsule]
    #[derive(Clone)]
    struct Note {
        #[capsule]
        text: String,
    }
    #[cached]
    impl Note {
        #[cache(clear)]
        fn append(text: &mut String, more: char) {
            text.push(more);
        }
    }

    let mut heap = Heap::new();
    let note = heap.capsule(Note { text: "a".into() }).unwrap();
    let ov = heap.overlay();
    // A mutator in the overlay, and the box.
    Note::append(&mut heap.layer_mut(&ov).unwrap(), &note, 'b').unwrap();
    heap.layer_mut(&ov)
        .unwrap()
        .open_box(&note, |n| n.text.push('c'))
        .unwrap();
    assert_eq!(heap.layer(&ov).unwrap().get(&note).unwrap().text, "abc");
    assert_eq!(heap.get(&note).unwrap().text, "a");
    let frozen = heap.freeze(note).ok().unwrap();
    assert!(
        matches!(heap.commit(ov), Err(Error::Conflict { object, .. }) if object == frozen.id())
    );
    assert_eq!(heap.get(&frozen).unwrap().text, "a");
}

#[test]
fn an_object_made_in_an_overlay_is_seen_there_only_until_a_commit() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    let len = heap.len();
    let ov = heap.overlay();
    let (made, top) = {
        let mut layer = heap.layer_mut(&ov).unwrap();
        let made = layer
            .mutable(Node {
                value: 40,
                next: None,
            })
            .unwrap();
        // A base node now points at it, in the overlay.
        let top = layer
            .mutable(Node {
                value: 100 - 46,
                next: Some(n[0].clone()),
            })
            .unwrap();
        layer
            .write(&n[2], |w| w.set(&Node::NEXT, Some(made.clone())))
            .unwrap();
        (made, top)
    };
    assert_eq!(heap.len(), len);
    assert!(matches!(heap.get(&made), Err(Error::OverlayOnly { object }) if object == made.id()));
    assert!(matches!(
        heap.cached(&top, &Node::SUM),
        Err(Error::OverlayOnly { .. })
    ));
    {
        let layer = heap.layer(&ov).unwrap();
        assert_eq!(*layer.cached(&n[0], &Node::SUM).unwrap(), 46);
        assert_eq!(*layer.cached(&top, &Node::SUM).unwrap(), 100);
        assert_eq!(layer.get(&made).unwrap().value, 40);
    }
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 6);
    // Refused: the sum at the top would go over; the value comes back inside the error.
    let err = heap
        .layer_mut(&ov)
        .unwrap()
        .mutable(Node {
            value: 60,
            next: Some(top.clone()),
        })
        .unwrap_err();
    assert_eq!(err.invariant().unwrap().cache, "bounded");
    assert_eq!(err.into_value::<Node>().unwrap().value, 60);
    // Made in a transaction that rolls back: taken back.
    let rolled: Result<(), Error> = heap.layer_mut(&ov).unwrap().transaction(|tx| {
        tx.mutable(Node {
            value: 1,
            next: None,
        })?;
        Err(Error::OverlayClosed { overlay: ov })
    });
    assert!(rolled.is_err());
    assert_eq!(heap.len(), len);
    heap.commit(ov).unwrap();
    assert_eq!(heap.len(), len + 2);
    assert_eq!(*heap.cached(&top, &Node::SUM).unwrap(), 100);
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 46);
    Node::set_value(&mut heap, &made, 30).unwrap();
    assert_eq!(*heap.cached(&top, &Node::SUM).unwrap(), 90);
}

#[test]
fn a_discard_drops_what_the_overlay_made() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1]);
    let (len, edges) = (heap.len(), heap.edges());
    let ov = heap.overlay();
    let made = heap
        .layer_mut(&ov)
        .unwrap()
        .mutable(Node {
            value: 2,
            next: Some(n[0].clone()),
        })
        .unwrap();
    assert_eq!(
        *heap.layer(&ov).unwrap().cached(&made, &Node::SUM).unwrap(),
        3
    );
    heap.discard(ov).unwrap();
    assert_eq!((heap.len(), heap.edges()), (len, edges));
    assert!(matches!(heap.get(&made), Err(Error::Removed { .. })));
}

#[test]
fn an_object_removed_in_an_overlay_is_gone_there_only_until_a_commit() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 6);
    let ov = heap.overlay();
    heap.layer_mut(&ov).unwrap().remove(&n[2]).unwrap();
    {
        let layer = heap.layer(&ov).unwrap();
        assert!(matches!(layer.get(&n[2]), Err(Error::Removed { .. })));
        assert!(matches!(
            layer.cached(&n[2], &Node::SUM),
            Err(Error::Removed { .. })
        ));
        // A sum that read it reads it gone (as 0).
        assert_eq!(*layer.cached(&n[0], &Node::SUM).unwrap(), 3);
    }
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 6);
    // Removed in a transaction that rolls back: still there.
    let rolled: Result<(), Error> = heap.layer_mut(&ov).unwrap().transaction(|tx| {
        tx.remove(&n[1])?;
        Err(Error::OverlayClosed { overlay: ov })
    });
    assert!(rolled.is_err());
    assert_eq!(heap.layer(&ov).unwrap().get(&n[1]).unwrap().value, 2);
    // Reverted: the base's again; removed again, then committed.
    assert!(heap.layer_mut(&ov).unwrap().revert(&n[2]).unwrap());
    assert_eq!(
        *heap.layer(&ov).unwrap().cached(&n[0], &Node::SUM).unwrap(),
        6
    );
    heap.layer_mut(&ov).unwrap().remove(&n[2]).unwrap();
    let len = heap.len();
    heap.commit(ov).unwrap();
    assert_eq!(heap.len(), len - 1);
    assert!(matches!(heap.get(&n[2]), Err(Error::Removed { .. })));
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 3);
}

#[test]
fn a_base_write_of_an_object_the_overlay_removed_is_a_conflict() {
    let mut heap = Heap::new();
    let n = chain(&mut heap, &[1, 2, 3]);
    let ov = heap.overlay();
    heap.layer_mut(&ov).unwrap().remove(&n[1]).unwrap();
    Node::set_value(&mut heap, &n[1], 7).unwrap();
    assert!(matches!(heap.commit(ov), Err(Error::Conflict { object, .. }) if object == n[1].id()));
    assert_eq!(*heap.cached(&n[0], &Node::SUM).unwrap(), 11);
}

#[test]
fn a_layer_is_read_from_many_threads_at_once() {
    fn shared<T: Send + Sync>(_: &T) {}
    let mut heap = Heap::new();
    let values: Vec<i64> = (0..200).map(|i| i % 3 - 1).collect();
    let n = chain(&mut heap, &values);
    let ov = heap.overlay();
    Node::set_value(&mut heap.layer_mut(&ov).unwrap(), &n[199], 50).unwrap();
    let layer = heap.layer(&ov).unwrap();
    shared(&layer);
    let expected: Vec<i64> = {
        let mut v = values.clone();
        v[199] = 50;
        let mut acc = 0;
        let mut sums: Vec<i64> = v
            .iter()
            .rev()
            .map(|x| {
                acc += x;
                acc
            })
            .collect();
        sums.reverse();
        sums
    };
    std::thread::scope(|s| {
        for t in 0..4 {
            let (layer, n, expected) = (&layer, &n, &expected);
            s.spawn(move || {
                // Each thread starts at another end of the chain.
                for k in 0..n.len() {
                    let i = if t % 2 == 0 { k } else { n.len() - 1 - k };
                    assert_eq!(*layer.cached(&n[i], &Node::SUM).unwrap(), expected[i]);
                }
            });
        }
    });
}

#[test]
fn a_base_write_on_the_own_path_of_an_object_the_overlay_removed_is_a_conflict() {
    /// Its only cache reads its own field: a base write of it settles on the object alone,
    /// unless an overlay holds it.
    #[mutable]
    #[derive(Clone)]
    struct Cell1 {
        n: i64,
    }
    #[cached]
    impl Cell1 {
        #[cache(lazy_read)]
        fn double(n: &i64) -> i64 {
            n * 2
        }
    }

    let mut heap = Heap::new();
    let (a, b) = (
        heap.mutable(Cell1 { n: 1 }).unwrap(),
        heap.mutable(Cell1 { n: 2 }).unwrap(),
    );
    let ov = heap.overlay();
    heap.layer_mut(&ov).unwrap().remove(&a).unwrap();
    Cell1::set_n(&mut heap.layer_mut(&ov).unwrap(), &b, 5).unwrap();
    Cell1::set_n(&mut heap, &a, 3).unwrap();
    Cell1::set_n(&mut heap, &b, 4).unwrap();
    let err = heap.commit(ov).unwrap_err();
    assert!(matches!(err, Error::Conflict { object, .. } if object == a.id() || object == b.id()));
    assert_eq!((heap[&a].n, heap[&b].n), (3, 4));
    assert_eq!(*heap.cached(&a, &Cell1::DOUBLE).unwrap(), 6);
    // Reverted both: nothing left to conflict, and the commit is a no-op.
    let mut layer = heap.layer_mut(&ov).unwrap();
    assert!(layer.revert(&a).unwrap() && layer.revert(&b).unwrap());
    heap.commit(ov).unwrap();
    assert_eq!((heap[&a].n, heap[&b].n), (3, 4));
}
