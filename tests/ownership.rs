//! G4 ownership: tags are enforced and handles are generational and heap-bound.

mod common;

use common::*;
use steadfast::{Error, Heap, Tag};

#[test]
fn removed_and_stale_handles_are_errors_never_another_object() {
    let mut heap = Heap::new();
    let p = heap.alloc(Point::new(1.0, 0.0)).unwrap();
    assert_eq!(heap.remove(&p).unwrap(), Point::new(1.0, 0.0));
    let q = heap.alloc(Point::new(2.0, 0.0)).unwrap();
    assert_ne!(p, q);
    assert!(matches!(heap.get(&p), Err(Error::Removed { object, .. }) if object == p.id()));
    assert!(matches!(
        heap.cache(&p, &Point::DIST),
        Err(Error::Removed { .. })
    ));
    assert!(matches!(
        heap.set(&p, &Point::X, 1.0),
        Err(Error::Removed { .. })
    ));
    assert!(matches!(heap.remove(&p), Err(Error::Removed { .. })));
    assert_eq!(heap[&q].x, 2.0);
    assert!(!heap.contains(p));
}

#[test]
fn foreign_handles_are_errors() {
    let mut one = Heap::new();
    let mut two = Heap::new();
    let p = one.alloc(Point::new(1.0, 0.0)).unwrap();
    let _q = two.alloc(Point::new(2.0, 0.0)).unwrap();
    let err = two.get(&p).unwrap_err();
    assert!(matches!(err, Error::ForeignHandle { .. }), "{err}");
    assert!(err.to_string().starts_with("handle to #"), "{err}");
    assert!(matches!(
        two.set(&p, &Point::X, 0.0),
        Err(Error::ForeignHandle { .. })
    ));
}

#[test]
#[should_panic(expected = "steadfast: Point #")]
fn indexing_with_a_removed_handle_panics_with_a_clear_message() {
    let mut heap = Heap::new();
    let p = heap.alloc(Point::new(1.0, 0.0)).unwrap();
    heap.remove(&p).unwrap();
    let _ = &heap[&p];
}

#[test]
fn freeze_consumes_the_capsule_and_keeps_caches() {
    reset();
    let mut heap = Heap::new();
    let c = heap.capsule(Point::new(3.0, 4.0)).unwrap();
    assert_eq!(heap.tag(&c).unwrap(), Tag::Capsule);
    assert_eq!(*heap.cache(&c, &Point::DIST).unwrap(), 5.0);
    let i = heap.freeze(c).unwrap();
    assert_eq!(heap.tag(i).unwrap(), Tag::Imm);
    let j = i; // Imm is Copy
    assert_eq!(*heap.cache(&j, &Point::DIST).unwrap(), 5.0);
    assert_eq!(count(DIST_RUNS), 1);
}

#[test]
fn imm_objects_are_shared_across_threads() {
    let mut heap = Heap::new();
    let i = heap.imm(Point::new(3.0, 4.0)).unwrap();
    let heap = &heap;
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(move || assert_eq!(*heap.cache(&i, &Point::DIST).unwrap(), 5.0));
        }
    });
}

mod graphs {
    use steadfast::{cached, capsule, mutable, Error, Heap, Mut, Tag};

    #[mutable]
    struct Node {
        label: u32,
        next: Option<Mut<Node>>,
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
        entry: Mut<Node>,
    }

    #[cached]
    impl Owner {}

    /// A two-node cycle owned by a capsule.
    fn cycle(heap: &mut Heap) -> (Mut<Node>, Mut<Node>, steadfast::Capsule<Owner>) {
        let a = heap
            .alloc(Node {
                label: 1,
                next: None,
            })
            .unwrap();
        let b = heap
            .alloc(Node {
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
        assert_eq!(heap.tag(a).unwrap(), Tag::Imm);
        assert_eq!(heap.tag(&b).unwrap(), Tag::Imm);
        assert_eq!(heap.tag(owner).unwrap(), Tag::Imm);
        // Caches stay valid, and kept `Mut` handles cannot write any more.
        assert_eq!(*Node::doubled(&heap, &b).unwrap(), 4);
        let err = Node::set_label(&mut heap, &b, 9).unwrap_err();
        assert!(
            matches!(err, Error::Immutable { object, .. } if object == b.id()),
            "{err}"
        );
        assert!(err.to_string().contains("is immutable"), "{err}");
        assert_eq!(heap[&b].label, 2);
        let imm_b = heap.as_imm(b).unwrap();
        assert_eq!(heap[imm_b].label, 2);
    }

    #[test]
    fn freezing_is_refused_when_an_outside_object_holds_a_node() {
        let mut heap = Heap::new();
        let (a, b, owner) = cycle(&mut heap);
        let outsider = heap
            .alloc(Node {
                label: 7,
                next: Some(b.clone()),
            })
            .unwrap();
        let err = heap.freeze(owner).unwrap_err();
        assert!(
            matches!(err, Error::Aliased { object, holder, .. } if object == b.id() && holder == outsider.id()),
            "{err}"
        );
        assert!(err.to_string().contains("outside the capsule"), "{err}");
        // Nothing changed: still mutable and writable.
        assert_eq!(heap.tag(a).unwrap(), Tag::Mut);
        Node::set_label(&mut heap, &b, 5).unwrap();
        assert_eq!(*Node::doubled(&heap, &b).unwrap(), 10);
    }

    #[test]
    fn freezing_is_refused_for_a_foreign_handle() {
        let mut heap = Heap::new();
        let mut other = Heap::new();
        let stranger = other
            .alloc(Node {
                label: 0,
                next: None,
            })
            .unwrap();
        let a = heap
            .alloc(Node {
                label: 1,
                next: Some(stranger),
            })
            .unwrap();
        let owner = heap.capsule(Owner { entry: a.clone() }).unwrap();
        let err = heap.freeze(owner).unwrap_err();
        assert!(matches!(err, Error::ForeignHandle { .. }), "{err}");
        assert_eq!(heap.tag(a).unwrap(), Tag::Mut);
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
            heap.remove_graph(imm_a),
            Err(Error::Referenced { .. })
        ));
        assert_eq!(heap.remove_graph(owner).unwrap(), 3);
        assert_eq!(heap.len(), before - 3);
        assert!(!heap.contains(a) && !heap.contains(b));
    }
}
