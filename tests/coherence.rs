//! G1 coherence and G5 minimal work: cached values equal fresh computations, and a
//! write recomputes only what read what it wrote.

mod common;

use common::*;
use steadfast::Heap;

#[test]
fn lazy_read_computes_once_per_invalidation() {
    reset();
    let mut heap = Heap::new();
    let p = heap.alloc(Point::new(3.0, 4.0)).unwrap();
    assert_eq!(count(DIST_RUNS), 0, "lazy: nothing computed at creation");
    for _ in 0..3 {
        assert_eq!(*heap.cache(&p, &Point::DIST).unwrap(), 5.0);
    }
    assert_eq!(count(DIST_RUNS), 1);
    heap.set(&p, &Point::X, 6.0).unwrap();
    heap.set(&p, &Point::Y, 8.0).unwrap();
    assert_eq!(*heap.cache(&p, &Point::DIST).unwrap(), 10.0);
    assert_eq!(*heap.cache(&p, &Point::DIST).unwrap(), 10.0);
    assert!(
        count(DIST_RUNS) <= 3,
        "at most once per invalidation, got {}",
        count(DIST_RUNS)
    );
}

#[test]
fn unrelated_field_write_recomputes_nothing() {
    reset();
    let mut heap = Heap::new();
    let p = heap.alloc(Point::new(3.0, 4.0)).unwrap();
    heap.cache(&p, &Point::DIST).unwrap();
    for i in 0..100 {
        heap.set(&p, &Point::NAME, format!("p{i}")).unwrap();
        assert_eq!(*heap.cache(&p, &Point::DIST).unwrap(), 5.0);
    }
    assert_eq!(count(DIST_RUNS), 1);
}

#[test]
fn set_returns_old_value_and_write_tracks_fields() {
    let mut heap = Heap::new();
    let p = heap.alloc(Point::new(3.0, 4.0)).unwrap();
    assert_eq!(heap.set(&p, &Point::X, 0.0).unwrap(), 3.0);
    assert_eq!(*heap.cache(&p, &Point::DIST).unwrap(), 4.0);
    heap.write(&p, |w| {
        *w.field_mut(&Point::X) = 5.0;
        w.set(&Point::Y, 12.0);
    })
    .unwrap();
    assert_eq!(*heap.cache(&p, &Point::DIST).unwrap(), 13.0);
    assert_eq!(heap[&p].x, 5.0);
}

#[test]
fn cross_object_field_read_is_invalidated() {
    reset();
    let mut heap = Heap::new();
    let a = heap
        .alloc(Item {
            cost: 5,
            note: String::new(),
        })
        .unwrap();
    let b = heap
        .alloc(Item {
            cost: 7,
            note: String::new(),
        })
        .unwrap();
    let budget = heap
        .capsule(Budget {
            items: vec![a.clone(), b.clone()],
            cap: 100,
        })
        .unwrap();
    assert_eq!(*heap.cache(&budget, &Budget::TOTAL).unwrap(), 12);
    let runs = count(TOTAL_RUNS);
    heap.set(&a, &Item::COST, 10).unwrap();
    assert_eq!(*heap.cache(&budget, &Budget::TOTAL).unwrap(), 17);
    assert_eq!(count(TOTAL_RUNS), runs + 1);
    // A field the total does not read: nothing recomputes.
    heap.set(&b, &Item::NOTE, "x".into()).unwrap();
    assert_eq!(*heap.cache(&budget, &Budget::TOTAL).unwrap(), 17);
    assert_eq!(count(TOTAL_RUNS), runs + 1);
}

#[test]
fn early_cutoff_stops_at_an_equal_value() {
    reset();
    let mut heap = Heap::new();
    let n = heap.alloc(Num { n: 2 }).unwrap();
    let w = heap.alloc(Watcher { src: n.clone() }).unwrap();
    assert_eq!(*heap.cache(&w, &Watcher::LABEL).unwrap(), "even");
    assert_eq!((count(PARITY_RUNS), count(LABEL_RUNS)), (1, 1));
    // Same parity: the parity recomputes, the label does not.
    heap.set(&n, &Num::N, 4).unwrap();
    assert_eq!(*heap.cache(&w, &Watcher::LABEL).unwrap(), "even");
    assert_eq!((count(PARITY_RUNS), count(LABEL_RUNS)), (2, 1));
    // Different parity: both recompute.
    heap.set(&n, &Num::N, 5).unwrap();
    assert_eq!(*heap.cache(&w, &Watcher::LABEL).unwrap(), "odd");
    assert_eq!((count(PARITY_RUNS), count(LABEL_RUNS)), (3, 2));
}

#[test]
fn reading_a_removed_object_recomputes() {
    let mut heap = Heap::new();
    let n = heap.alloc(Num { n: 2 }).unwrap();
    let w = heap.alloc(Watcher { src: n.clone() }).unwrap();
    assert_eq!(*heap.cache(&w, &Watcher::LABEL).unwrap(), "even");
    heap.remove(n).unwrap();
    assert_eq!(*heap.cache(&w, &Watcher::LABEL).unwrap(), "gone");
}

#[test]
fn edges_do_not_grow_over_many_writes() {
    let mut heap = Heap::new();
    let n = heap.alloc(Num { n: 0 }).unwrap();
    let watchers: Vec<_> = (0..10)
        .map(|_| heap.alloc(Watcher { src: n.clone() }).unwrap())
        .collect();
    let mut sizes = Vec::new();
    for round in 0..20_000 {
        heap.set(&n, &Num::N, round).unwrap();
        for w in &watchers {
            heap.cache(w, &Watcher::LABEL).unwrap();
        }
        if round % 5_000 == 0 {
            sizes.push(heap.edges());
        }
    }
    assert!(
        sizes.windows(2).all(|w| w[0] == w[1]),
        "edge count changed: {sizes:?}"
    );
    assert_eq!(sizes[0], 10);
}

#[test]
fn concurrent_first_reads_compute_once() {
    for _ in 0..50 {
        let mut heap = Heap::new();
        let p = heap.alloc(Point::new(3.0, 4.0)).unwrap();
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let go = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    go.wait();
                    reset();
                    assert_eq!(*heap.cache(&p, &Point::DIST).unwrap(), 5.0);
                    runs.fetch_add(count(DIST_RUNS), std::sync::atomic::Ordering::SeqCst);
                });
            }
        });
        assert_eq!(runs.into_inner(), 1);
    }
}
