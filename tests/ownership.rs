//! G4 ownership: tags are enforced and handles are generational and heap-bound.

mod common;

use common::*;
use steadfast::{Error, Heap, Tag};

#[test]
fn removed_and_stale_handles_are_errors_never_another_object() {
    let mut heap = Heap::new();
    let p = heap.alloc(Point::new(1.0, 0.0)).unwrap();
    assert_eq!(heap.remove(p).unwrap(), Point::new(1.0, 0.0));
    let q = heap.alloc(Point::new(2.0, 0.0)).unwrap();
    assert_ne!(p, q);
    assert!(matches!(heap.get(p), Err(Error::Removed { object, .. }) if object == p.id()));
    assert!(matches!(
        heap.cache(p, &Point::DIST),
        Err(Error::Removed { .. })
    ));
    assert!(matches!(
        heap.set(p, &Point::X, 1.0),
        Err(Error::Removed { .. })
    ));
    assert!(matches!(heap.remove(p), Err(Error::Removed { .. })));
    assert_eq!(heap[q].x, 2.0);
    assert!(!heap.contains(p));
}

#[test]
fn foreign_handles_are_errors() {
    let mut one = Heap::new();
    let mut two = Heap::new();
    let p = one.alloc(Point::new(1.0, 0.0)).unwrap();
    let _q = two.alloc(Point::new(2.0, 0.0)).unwrap();
    let err = two.get(p).unwrap_err();
    assert!(matches!(err, Error::ForeignHandle { .. }), "{err}");
    assert!(err.to_string().starts_with("handle to #"), "{err}");
    assert!(matches!(
        two.set(p, &Point::X, 0.0),
        Err(Error::ForeignHandle { .. })
    ));
}

#[test]
#[should_panic(expected = "steadfast: Point #")]
fn indexing_with_a_removed_handle_panics_with_a_clear_message() {
    let mut heap = Heap::new();
    let p = heap.alloc(Point::new(1.0, 0.0)).unwrap();
    heap.remove(p).unwrap();
    let _ = &heap[p];
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
    assert_eq!(*heap.cache(j, &Point::DIST).unwrap(), 5.0);
    assert_eq!(count(DIST_RUNS), 1);
}

#[test]
fn imm_objects_are_shared_across_threads() {
    let mut heap = Heap::new();
    let i = heap.imm(Point::new(3.0, 4.0)).unwrap();
    let heap = &heap;
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(move || assert_eq!(*heap.cache(i, &Point::DIST).unwrap(), 5.0));
        }
    });
}
