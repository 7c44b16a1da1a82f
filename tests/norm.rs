//! Normalization (G6's structural equality of immutable graphs): the partition refinement
//! against a naive fixpoint, and canonical forms across relabellings, unrollings and edits.

mod common;

use proptest::prelude::*;
use steadfast::norm::Error;
use steadfast::norm::Graph;

/// A random graph: labels from a small alphabet (so that many nodes are equal), up to three
/// children each, anywhere in the graph (so cycles of every shape occur).
fn graph() -> impl Strategy<Value = Vec<(u8, Vec<usize>)>> {
    (1usize..24)
        .prop_flat_map(|n| prop::collection::vec((0u8..3, prop::collection::vec(0..n, 0..4)), n))
}

fn build(nodes: &[(u8, Vec<usize>)]) -> Graph<u8> {
    let mut g = Graph::new();
    for (label, children) in nodes {
        g.add_node(*label, children.iter().copied());
    }
    g
}

/// The naive oracle (shared with `tests/freeze.rs`), on ordered nodes only.
fn naive_classes(nodes: &[(u8, Vec<usize>)]) -> Vec<usize> {
    let nodes: Vec<(u8, bool, Vec<usize>)> =
        nodes.iter().map(|(l, c)| (*l, false, c.clone())).collect();
    common::naive::naive_classes(&nodes)
}

fn reaches(nodes: &[(u8, Vec<usize>)], from: usize, to: usize) -> bool {
    let mut seen = vec![false; nodes.len()];
    let mut stack = vec![from];
    while let Some(u) = stack.pop() {
        if u == to {
            return true;
        }
        if !std::mem::replace(&mut seen[u], true) {
            stack.extend(nodes[u].1.iter().copied());
        }
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn refinement_matches_the_naive_fixpoint(nodes in graph()) {
        let g = build(&nodes);
        let normal = g.normalize().unwrap();
        let oracle = naive_classes(&nodes);
        prop_assert_eq!(normal.classes(), oracle.iter().max().unwrap() + 1);
        for i in 0..nodes.len() {
            for j in 0..nodes.len() {
                prop_assert_eq!(normal.equivalent(i, j), oracle[i] == oracle[j], "nodes {} and {}", i, j);
                prop_assert_eq!(normal.canonical(i) == normal.canonical(j), oracle[i] == oracle[j]);
            }
        }
    }

    #[test]
    fn canonical_forms_survive_a_relabelling(
        (nodes, perm) in graph().prop_flat_map(|nodes| {
            let n = nodes.len();
            (Just(nodes), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
        })
    ) {
        // Node i of the original is node perm[i] of the copy, added in another order.
        let n = nodes.len();
        let mut inverse = vec![0; n];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        let copy: Vec<(u8, Vec<usize>)> = (0..n)
            .map(|p| {
                let (label, children) = &nodes[inverse[p]];
                (*label, children.iter().map(|&c| perm[c]).collect())
            })
            .collect();
        let (g, h) = (build(&nodes), build(&copy));
        let (a, b) = (g.normalize().unwrap(), h.normalize().unwrap());
        for (i, &p) in perm.iter().enumerate() {
            prop_assert_eq!(a.canonical(i), b.canonical(p));
            prop_assert_eq!(a.canonical(i).stable_hash(), b.canonical(p).stable_hash());
        }
    }

    #[test]
    fn canonical_forms_survive_an_unrolling(nodes in graph()) {
        // Two copies whose edges cross over: every path alternates between them, so each
        // node of either copy unfolds exactly as the original node.
        let n = nodes.len();
        let unrolled: Vec<(u8, Vec<usize>)> = (0..2 * n)
            .map(|i| {
                let (label, children) = &nodes[i % n];
                let other = if i < n { n } else { 0 };
                (*label, children.iter().map(|&c| c + other).collect())
            })
            .collect();
        let (g, h) = (build(&nodes), build(&unrolled));
        let (a, b) = (g.normalize().unwrap(), h.normalize().unwrap());
        prop_assert_eq!(a.classes(), b.classes());
        for i in 0..n {
            prop_assert_eq!(a.canonical(i), b.canonical(i));
            prop_assert_eq!(a.canonical(i), b.canonical(i + n));
        }
    }

    #[test]
    fn one_changed_leaf_changes_exactly_the_nodes_that_reach_it(
        (nodes, changed) in graph().prop_flat_map(|nodes| {
            let n = nodes.len();
            (Just(nodes), 0..n)
        })
    ) {
        let mut edited = nodes.clone();
        edited[changed].0 = 9; // a label no other node has
        let (g, h) = (build(&nodes), build(&edited));
        let (a, b) = (g.normalize().unwrap(), h.normalize().unwrap());
        for i in 0..nodes.len() {
            let same = a.canonical(i) == b.canonical(i);
            prop_assert_eq!(same, !reaches(&nodes, i, changed), "node {}", i);
        }
    }
}

#[test]
fn one_cycle_entered_anywhere_drawn_any_way_is_one_form() {
    // a → b → c → a, built in two allocation orders and entered at each node.
    let mut g = Graph::new();
    let a = g.add_node('a', [1]);
    let b = g.add_node('b', [2]);
    let c = g.add_node('c', [0]);
    let mut h = Graph::new();
    let c2 = h.add_node('c', [2]);
    let b2 = h.add_node('b', [0]);
    let a2 = h.add_node('a', [1]);
    let (gn, hn) = (g.normalize().unwrap(), h.normalize().unwrap());
    assert_eq!(gn.canonical(a), hn.canonical(a2));
    assert_eq!(gn.canonical(b), hn.canonical(b2));
    assert_eq!(gn.canonical(c), hn.canonical(c2));
    assert_ne!(gn.canonical(a), gn.canonical(b));
    // Rotations of one cycle are different roots, but the same three classes.
    assert_eq!(gn.canonical(a).len(), 3);
}

#[test]
fn a_self_loop_equals_any_cycle_of_the_same_label() {
    let mut g = Graph::new();
    let one = g.add_node("x", [0]);
    let two = g.add_node("x", [2]);
    let _ = g.add_node("x", [1]);
    let normal = g.normalize().unwrap();
    assert!(normal.equivalent(one, two));
    assert_eq!(normal.classes(), 1);
}

#[test]
fn arity_and_order_of_children_matter() {
    let mut g = Graph::new();
    let leaf_a = g.add_node("a", []);
    let leaf_b = g.add_node("b", []);
    let ab = g.add_node("pair", [leaf_a, leaf_b]);
    let ba = g.add_node("pair", [leaf_b, leaf_a]);
    let a = g.add_node("pair", [leaf_a]);
    let normal = g.normalize().unwrap();
    assert!(!normal.equivalent(ab, ba));
    assert!(!normal.equivalent(ab, a));
}

#[test]
fn a_missing_child_is_an_error_not_a_panic() {
    let mut g = Graph::new();
    g.add_node(1, [0]);
    g.add_node(2, [5]);
    let err = g.normalize().unwrap_err();
    assert!(matches!(
        err,
        Error::DanglingEdge {
            from: 1,
            to: 5,
            nodes: 2
        }
    ));
    assert_eq!(
        err.to_string(),
        "node 1 has a child 5, but the graph's nodes are numbered below 2"
    );
}

#[test]
fn an_empty_graph_normalizes() {
    let g: Graph<u8> = Graph::new();
    assert_eq!(g.normalize().unwrap().classes(), 0);
}
