//! G4 ownership: tags are enforced and handles are generational and heap-bound.

mod common;

use common::*;
use steadfast::{Error, Heap, Tag};

#[test]
fn removed_and_stale_handles_are_errors_never_another_object() {
    let mut heap = Heap::new();
    let p = heap.mutable(Point::new(1.0, 0.0)).unwrap();
    assert_eq!(heap.remove(&p).unwrap(), Point::new(1.0, 0.0));
    let q = heap.mutable(Point::new(2.0, 0.0)).unwrap();
    assert_ne!(p, q);
    assert!(matches!(heap.get(&p), Err(Error::Removed { object, .. }) if object == p.id()));
    assert!(matches!(
        heap.cached(&p, &Point::DIST),
        Err(Error::Removed { .. })
    ));
    assert!(matches!(
        heap.set(&p, &Point::X, 1.0),
        Err(Error::Removed { .. })
    ));
    assert!(matches!(heap.remove(&p), Err(Error::Removed { .. })));
    assert!(matches!(heap.view_mut(&p), Err(Error::Removed { .. })));
    assert_eq!(heap[&q].x, 2.0);
    assert!(!heap.contains(&p));
}

#[test]
fn foreign_handles_are_errors() {
    let mut one = Heap::new();
    let mut two = Heap::new();
    let p = one.mutable(Point::new(1.0, 0.0)).unwrap();
    let _q = two.mutable(Point::new(2.0, 0.0)).unwrap();
    let err = two.get(&p).unwrap_err();
    assert!(matches!(err, Error::ForeignHandle { .. }), "{err}");
    assert!(err.to_string().starts_with("handle to #"), "{err}");
    assert!(matches!(two.view_mut(&p), Err(Error::ForeignHandle { .. })));
    assert!(matches!(
        two.set(&p, &Point::X, 0.0),
        Err(Error::ForeignHandle { .. })
    ));
}

#[test]
#[should_panic(expected = "(Point) was removed")]
fn indexing_with_a_removed_handle_panics_with_a_clear_message() {
    let mut heap = Heap::new();
    let p = heap.mutable(Point::new(1.0, 0.0)).unwrap();
    heap.remove(&p).unwrap();
    let _ = &heap[&p];
}

#[test]
fn freeze_consumes_the_capsule_and_keeps_caches() {
    reset();
    let mut heap = Heap::new();
    let c = heap.capsule(Point::new(3.0, 4.0)).unwrap();
    assert_eq!(heap.tag(&c).unwrap(), Tag::Capsule);
    assert_eq!(*heap.cached(&c, &Point::DIST).unwrap(), 5.0);
    let i = heap.freeze(c).unwrap();
    assert_eq!(heap.tag(&i).unwrap(), Tag::Imm);
    let j = i; // Imm is Copy
    assert_eq!(*heap.cached(&j, &Point::DIST).unwrap(), 5.0);
    assert_eq!(count(DIST_RUNS), 1);
}

#[test]
fn imm_objects_are_shared_across_threads() {
    let mut heap = Heap::new();
    let i = heap.imm(Point::new(3.0, 4.0)).unwrap();
    let heap = &heap;
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(move || assert_eq!(*heap.cached(&i, &Point::DIST).unwrap(), 5.0));
        }
    });
}

mod graphs {
    use steadfast::{cached, capsule, mutable, Error, Heap, Mutable, Tag};

    #[mutable]
    struct Node {
        label: u32,
        next: Option<Mutable<Node>>,
    }

    #[cached]
    impl Node {
        #[cache(lazy_read)]
        fn doubled(label: &u32) -> u32 {
            label * 2
        }
    }

    #[capsule]
    struct Owner {
        entry: Mutable<Node>,
    }

    #[cached]
    impl Owner {}

    /// A two-node cycle owned by a capsule.
    fn cycle(heap: &mut Heap) -> (Mutable<Node>, Mutable<Node>, steadfast::Capsule<Owner>) {
        let a = heap
            .mutable(Node {
                label: 1,
                next: None,
            })
            .unwrap();
        let b = heap
            .mutable(Node {
                label: 2,
                next: Some(a.clone()),
            })
            .unwrap();
        Node::set_next(heap, &a, Some(b.clone())).unwrap();
        let owner = heap.capsule(Owner { entry: a.clone() }).unwrap();
        (a, b, owner)
    }

    #[test]
    fn freezing_a_capsule_freezes_the_cycle_it_owns() {
        let mut heap = Heap::new();
        let (a, b, owner) = cycle(&mut heap);
        assert_eq!(*Node::doubled(&heap, &b).unwrap(), 4);
        let owner = heap.freeze(owner).unwrap();
        assert_eq!(heap.tag(&a).unwrap(), Tag::Imm);
        assert_eq!(heap.tag(&b).unwrap(), Tag::Imm);
        assert_eq!(heap.tag(&owner).unwrap(), Tag::Imm);
        // Caches stay valid, and kept `Mutable` handles cannot write any more.
        assert_eq!(*Node::doubled(&heap, &b).unwrap(), 4);
        let err = Node::set_label(&mut heap, &b, 9).unwrap_err();
        assert!(
            matches!(err, Error::Immutable { object, .. } if object == b.id()),
            "{err}"
        );
        assert!(err.to_string().contains("is immutable"), "{err}");
        assert_eq!(heap[&b].label, 2);
        let imm_b = heap.as_imm(&b).unwrap();
        assert_eq!(heap[&imm_b].label, 2);
    }

    #[test]
    fn freezing_is_refused_when_an_outside_object_holds_a_node() {
        let mut heap = Heap::new();
        let (a, b, owner) = cycle(&mut heap);
        let outsider = heap
            .mutable(Node {
                label: 7,
                next: Some(b.clone()),
            })
            .unwrap();
        let err = heap.freeze(owner).unwrap_err();
        assert!(
            matches!(err.error(), Error::Aliased { object, holder, .. } if *object == b.id() && *holder == outsider.id()),
            "{err}"
        );
        assert!(err.to_string().contains("outside the capsule"), "{err}");
        // Nothing changed: still mutable and writable, and the capsule comes back.
        let owner = err.into_capsule();
        assert_eq!(heap.tag(&a).unwrap(), Tag::Mutable);
        Node::set_label(&mut heap, &b, 5).unwrap();
        assert_eq!(*Node::doubled(&heap, &b).unwrap(), 10);
        // Once the outsider lets go, the same capsule freezes.
        Node::set_next(&mut heap, &outsider, None).unwrap();
        let frozen = heap.freeze(owner).unwrap();
        assert_eq!(heap.tag(&frozen).unwrap(), Tag::Imm);
        assert_eq!(heap.tag(&a).unwrap(), Tag::Imm);
    }

    #[test]
    fn freezing_is_refused_for_a_foreign_handle() {
        let mut heap = Heap::new();
        let mut other = Heap::new();
        let stranger = other
            .mutable(Node {
                label: 0,
                next: None,
            })
            .unwrap();
        let a = heap
            .mutable(Node {
                label: 1,
                next: Some(stranger),
            })
            .unwrap();
        let owner = heap.capsule(Owner { entry: a.clone() }).unwrap();
        let err = heap.freeze(owner).unwrap_err();
        assert!(matches!(err.error(), Error::ForeignHandle { .. }), "{err}");
        assert_eq!(heap.tag(&a).unwrap(), Tag::Mutable);
    }

    #[test]
    fn held_immutable_objects_are_not_removed_and_graphs_go_whole() {
        let mut heap = Heap::new();
        let (a, b, owner) = cycle(&mut heap);
        let owner = heap.freeze(owner).unwrap();
        let before = heap.len();
        let Err(err) = heap.remove(&b) else {
            panic!("a node the cycle holds was removed")
        };
        assert!(matches!(err, Error::Referenced { holders: 1, .. }), "{err}");
        assert_eq!(heap.len(), before);
        // The cycle is held by the owner, so only the whole graph can go.
        let imm_a = heap.as_imm(&a).unwrap();
        assert!(matches!(
            heap.remove_graph(&imm_a),
            Err(Error::Referenced { .. })
        ));
        assert_eq!(heap.remove_graph(&owner).unwrap(), 3);
        assert_eq!(heap.len(), before - 3);
        assert!(!heap.contains(&a) && !heap.contains(&b));
    }
}

/// Handles that hold their object's storage: errors through the own write path and the
/// lookup-free hit, and no object kept alive by handles once its heap is gone.
mod held_storage {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use steadfast::{cached, mutable, Error, Heap, Mutable};

    /// Counts its drops; no cache reads another object, so every field is written on the
    /// object's own path.
    #[derive(Clone, Debug)]
    struct Drops(Arc<AtomicUsize>);

    impl Drop for Drops {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[mutable]
    #[derive(Clone, Debug)]
    struct Knot {
        v: i64,
        next: Option<Mutable<Knot>>,
        #[allow(dead_code)]
        #[untracked]
        drops: Drops,
    }

    #[cached]
    impl Knot {
        #[cache(lazy_read)]
        fn doubled(v: &i64) -> i64 {
            v * 2
        }
    }

    fn knot(heap: &mut Heap, drops: &Arc<AtomicUsize>) -> (Mutable<Knot>, Mutable<Knot>) {
        let knot = |next| Knot {
            v: 1,
            next,
            drops: Drops(drops.clone()),
        };
        let a = heap.mutable(knot(None)).unwrap();
        let b = heap.mutable(knot(Some(a.clone()))).unwrap();
        Knot::set_next(heap, &a, Some(b.clone())).unwrap(); // a cycle of handles
        (a, b)
    }

    #[test]
    fn removed_foreign_and_frozen_objects_are_errors_on_the_own_path() {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut heap = Heap::new();
        let (a, b) = knot(&mut heap, &drops);
        assert_eq!(*Knot::doubled(&heap, &a).unwrap(), 2);
        Knot::set_v(&mut heap, &a, 5).unwrap();
        assert_eq!(*Knot::doubled(&heap, &a).unwrap(), 10);

        let mut other = Heap::new();
        assert!(matches!(
            Knot::set_v(&mut other, &a, 1),
            Err(Error::ForeignHandle { .. })
        ));
        assert!(matches!(
            Knot::doubled(&other, &a),
            Err(Error::ForeignHandle { .. })
        ));

        Knot::set_next(&mut heap, &b, None).unwrap();
        heap.remove(&a).unwrap();
        assert!(matches!(
            Knot::set_v(&mut heap, &a, 1),
            Err(Error::Removed { .. })
        ));
        assert!(matches!(
            Knot::doubled(&heap, &a),
            Err(Error::Removed { .. })
        ));
        assert_eq!(
            *Knot::doubled(&heap, &b).unwrap(),
            2,
            "the other one is intact"
        );
    }

    #[test]
    fn dropping_the_heap_drops_objects_that_hold_each_other() {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut heap = Heap::new();
        let (a, b) = knot(&mut heap, &drops);
        // Clones made on the way (the `knot` closure's values) are dropped already.
        let before = drops.load(Ordering::SeqCst);
        drop(heap);
        assert_eq!(
            drops.load(Ordering::SeqCst) - before,
            2,
            "both objects of the cycle dropped while their handles live"
        );
        drop((a, b));
    }
}
