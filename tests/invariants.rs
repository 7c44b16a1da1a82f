//! G2 invariants: checked at creation and once at the end of each operation that may
//! change what they read; a failure vetoes the operation.

mod common;

use common::*;
use steadfast::{Error, Heap};

fn path() -> Path {
    Path::new(vec![(1, 0), (2, 0), (5, 5), (9, 9)], (0, 0))
}

#[test]
fn creation_checks_and_refuses_giving_the_value_back() {
    reset();
    let mut heap = Heap::new();
    heap.capsule(path()).unwrap();
    assert_eq!(count(INV_RUNS), 1);
    let bad = Path::new(vec![(0, 0)], (0, 0));
    let err = heap.capsule(bad.clone()).unwrap_err();
    assert_eq!(err.invariant().unwrap().cache, "off_path");
    assert_eq!(heap.len(), 1, "a refused object is not created");
    assert_eq!(err.into_value::<Path>(), Some(bad));
}

#[test]
fn each_mutator_and_box_runs_the_invariant_exactly_once() {
    reset();
    let mut heap = Heap::new();
    let p = heap.capsule(path()).unwrap();
    reset();
    // The tutorial's remove_far: one mutator, one check.
    heap.write(&p, |w| {
        let loc = *w.field(&Path::LOCATION);
        Path::remove_far(w.field_mut(&Path::POINTS), loc, 3);
    })
    .unwrap();
    assert_eq!(count(INV_RUNS), 1);
    assert_eq!(heap.get(&p).unwrap().points, vec![(1, 0), (2, 0)]);
    // A box with many edits: still one check.
    heap.open_box(&p, |raw| {
        for i in 0..100 {
            raw.points.push((i, 100));
            raw.location = (i, 1);
        }
    })
    .unwrap();
    assert_eq!(count(INV_RUNS), 2);
    // A write to a field the invariant does not read: no check.
    heap.write(&p, |w| w.set(&Path::LABEL, "x".to_string()))
        .unwrap();
    assert_eq!(count(INV_RUNS), 2);
}

#[test]
fn the_tutorial_bug_and_its_fix_with_a_box() {
    let mut heap = Heap::new();
    let p = heap
        .capsule(Path::new(vec![(3, 0), (0, 1)], (0, 0)))
        .unwrap();
    // Moving the location onto a point, then removing that point, as two mutators: the
    // first leaves the invariant broken, so it is refused...
    let err = heap
        .write(&p, |w| w.set(&Path::LOCATION, (3, 0)))
        .unwrap_err();
    assert!(matches!(err, Error::Invariant { .. }), "{err}");
    assert_eq!(heap.get(&p).unwrap().location, (0, 0));
    // ...while one box that does both is checked once, at its end, and passes.
    heap.open_box(&p, |raw| {
        raw.location = (3, 0);
        raw.points.retain(|&q| q != (3, 0));
    })
    .unwrap();
    assert_eq!(heap.get(&p).unwrap().points, vec![(0, 1)]);
    assert_eq!(heap.get(&p).unwrap().location, (3, 0));
}

#[test]
fn a_cross_object_invariant_vetoes_a_write() {
    let mut heap = Heap::new();
    let a = heap.mutable(Item::new(5)).unwrap();
    let b = heap.mutable(Item::new(7)).unwrap();
    let budget = heap
        .capsule(Budget {
            items: vec![a.clone(), b],
            cap: 20,
        })
        .unwrap();
    heap.set(&a, &Item::COST, 10).unwrap();
    let err = heap.set(&a, &Item::COST, 50).unwrap_err();
    let inv = err.invariant().expect("invariant error");
    assert_eq!((inv.cache, inv.object), ("within_cap", budget.id()));
    assert_eq!(
        err.to_string(),
        format!("invariant Budget::within_cap of {} failed", budget.id())
    );
    // The invariant's own error is the source, and only there (as in std).
    let source = std::error::Error::source(&err).expect("the invariant's error");
    assert_eq!(source.to_string(), "total 57 exceeds cap 20");
    assert_eq!(heap[&a].cost, 10, "the vetoed write is undone");
    assert_eq!(*heap.cached(&budget, &Budget::TOTAL).unwrap(), 17);
    assert!(heap.cached(&budget, &Budget::WITHIN_CAP).unwrap().is_ok());
}

#[test]
fn a_cross_object_invariant_vetoes_a_removal() {
    let mut heap = Heap::new();
    let a = heap.mutable(Item::new(-50)).unwrap();
    let b = heap.mutable(Item::new(60)).unwrap();
    let budget = heap
        .capsule(Budget {
            items: vec![a.clone(), b.clone()],
            cap: 20,
        })
        .unwrap();
    let err = heap.remove(&a).unwrap_err();
    assert_eq!(err.invariant().unwrap().object, budget.id());
    assert_eq!(heap[&a].cost, -50, "the object stays");
    assert_eq!(*heap.cached(&budget, &Budget::TOTAL).unwrap(), 10);
    heap.remove(&b).unwrap();
    assert_eq!(*heap.cached(&budget, &Budget::TOTAL).unwrap(), -50);
}

#[test]
fn the_invariant_error_is_carried_not_stringified() {
    let mut heap = Heap::new();
    let p = heap.capsule(path()).unwrap();
    let err = heap
        .write(&p, |w| w.set(&Path::LOCATION, (1, 0)))
        .unwrap_err();
    let source = std::error::Error::source(&err).unwrap();
    assert_eq!(
        source.downcast_ref::<Broken>(),
        Some(&Broken("location (1, 0) is on the path".into()))
    );
}
