//! G1 coherence and G5 minimal work: cached values equal fresh computations, and a
//! write recomputes only what read what it wrote.

mod common;

use common::*;
use steadfast::{cached, mutable, Ctx, Error, Heap, Mutable};

#[test]
fn lazy_read_computes_once_per_invalidation() {
    reset();
    let mut heap = Heap::new();
    let p = heap.mutable(Point::new(3.0, 4.0)).unwrap();
    assert_eq!(count(DIST_RUNS), 0, "lazy: nothing computed at creation");
    for _ in 0..3 {
        assert_eq!(*heap.cached(&p, &Point::DIST).unwrap(), 5.0);
    }
    assert_eq!(count(DIST_RUNS), 1);
    heap.set(&p, &Point::X, 6.0).unwrap();
    heap.set(&p, &Point::Y, 8.0).unwrap();
    assert_eq!(*heap.cached(&p, &Point::DIST).unwrap(), 10.0);
    assert_eq!(*heap.cached(&p, &Point::DIST).unwrap(), 10.0);
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
    let p = heap.mutable(Point::new(3.0, 4.0)).unwrap();
    heap.cached(&p, &Point::DIST).unwrap();
    for i in 0..100 {
        heap.set(&p, &Point::NAME, format!("p{i}")).unwrap();
        assert_eq!(*heap.cached(&p, &Point::DIST).unwrap(), 5.0);
    }
    assert_eq!(count(DIST_RUNS), 1);
}

/// `set` writes, `replace` writes and returns the old value, as `std::mem::replace` does: on
/// the heap, a transaction, a view and a writer alike, each write seen by the next read.
#[test]
fn set_and_replace_write_and_replace_returns_the_old_value() {
    let mut heap = Heap::new();
    let p = heap.mutable(Point::new(3.0, 4.0)).unwrap();
    assert_eq!(heap.replace(&p, &Point::X, 0.0).unwrap(), 3.0);
    assert_eq!(*heap.cached(&p, &Point::DIST).unwrap(), 4.0);
    heap.set(&p, &Point::X, 3.0).unwrap();
    assert_eq!(*heap.cached(&p, &Point::DIST).unwrap(), 5.0);
    heap.write(&p, |w| {
        *w.field_mut(&Point::X) = 5.0;
        w.set(&Point::Y, 12.0);
        assert_eq!(w.replace(&Point::Y, 12.0), 12.0);
    })
    .unwrap();
    assert_eq!(*heap.cached(&p, &Point::DIST).unwrap(), 13.0);
    assert_eq!(heap[&p].x, 5.0);

    let old = heap
        .transaction(|tx| {
            tx.set(&p, &Point::X, 8.0)?;
            let old = tx.replace(&p, &Point::Y, 15.0)?;
            assert_eq!(*tx.cached(&p, &Point::DIST)?, 17.0);
            Ok::<_, Error>(old)
        })
        .unwrap();
    assert_eq!(old, 12.0);
    assert_eq!(*heap.cached(&p, &Point::DIST).unwrap(), 17.0);

    let mut view = heap.view_mut(&p).unwrap();
    view.set(&Point::X, 0.0).unwrap();
    assert_eq!(view.replace(&Point::Y, 2.0).unwrap(), 15.0);
    assert_eq!(*view.cached(&Point::DIST).unwrap(), 2.0);
}

#[test]
fn cross_object_field_read_is_invalidated() {
    reset();
    let mut heap = Heap::new();
    let a = heap.mutable(Item::new(5)).unwrap();
    let b = heap.mutable(Item::new(7)).unwrap();
    let budget = heap
        .capsule(Budget {
            items: vec![a.clone(), b.clone()],
            cap: 100,
        })
        .unwrap();
    assert_eq!(*heap.cached(&budget, &Budget::TOTAL).unwrap(), 12);
    let runs = count(TOTAL_RUNS);
    heap.set(&a, &Item::COST, 10).unwrap();
    assert_eq!(*heap.cached(&budget, &Budget::TOTAL).unwrap(), 17);
    assert_eq!(count(TOTAL_RUNS), runs + 1);
    // A field the total does not read: nothing recomputes.
    heap.set(&b, &Item::NOTE, "x".into()).unwrap();
    assert_eq!(*heap.cached(&budget, &Budget::TOTAL).unwrap(), 17);
    assert_eq!(count(TOTAL_RUNS), runs + 1);
}

#[test]
fn early_cutoff_stops_at_an_equal_value() {
    reset();
    let mut heap = Heap::new();
    let n = heap.mutable(Num { n: 2 }).unwrap();
    let w = heap.mutable(Watcher { src: n.clone() }).unwrap();
    assert_eq!(*heap.cached(&w, &Watcher::LABEL).unwrap(), "even");
    assert_eq!((count(PARITY_RUNS), count(LABEL_RUNS)), (1, 1));
    // Same parity: the parity recomputes, the label does not.
    heap.set(&n, &Num::N, 4).unwrap();
    assert_eq!(*heap.cached(&w, &Watcher::LABEL).unwrap(), "even");
    assert_eq!((count(PARITY_RUNS), count(LABEL_RUNS)), (2, 1));
    // Different parity: both recompute.
    heap.set(&n, &Num::N, 5).unwrap();
    assert_eq!(*heap.cached(&w, &Watcher::LABEL).unwrap(), "odd");
    assert_eq!((count(PARITY_RUNS), count(LABEL_RUNS)), (3, 2));
}

#[test]
fn reading_a_removed_object_recomputes() {
    let mut heap = Heap::new();
    let n = heap.mutable(Num { n: 2 }).unwrap();
    let w = heap.mutable(Watcher { src: n.clone() }).unwrap();
    assert_eq!(*heap.cached(&w, &Watcher::LABEL).unwrap(), "even");
    heap.remove(&n).unwrap();
    assert_eq!(*heap.cached(&w, &Watcher::LABEL).unwrap(), "gone");
}

#[test]
fn edges_do_not_grow_over_many_writes() {
    let mut heap = Heap::new();
    let n = heap.mutable(Num { n: 0 }).unwrap();
    let watchers: Vec<_> = (0..10)
        .map(|_| heap.mutable(Watcher { src: n.clone() }).unwrap())
        .collect();
    let mut sizes = Vec::new();
    for round in 0..20_000 {
        heap.set(&n, &Num::N, round).unwrap();
        for w in &watchers {
            heap.cached(w, &Watcher::LABEL).unwrap();
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
        let p = heap.mutable(Point::new(3.0, 4.0)).unwrap();
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let go = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    go.wait();
                    reset();
                    assert_eq!(*heap.cached(&p, &Point::DIST).unwrap(), 5.0);
                    runs.fetch_add(count(DIST_RUNS), std::sync::atomic::Ordering::SeqCst);
                });
            }
        });
        assert_eq!(runs.into_inner(), 1);
    }
}

/// The own write path: a write to a field that nothing outside its object reads, and
/// that no invariant reads, is settled by the object alone (no barrier). These types
/// make that path the common one, and the proptest below checks it against an oracle
/// while other objects start and stop reading the written fields, so that the same
/// field moves between the own path and the barrier.
mod own_writes {
    use proptest::prelude::*;
    use steadfast::{cached, mutable, Ctx, Heap, Mutable};

    use super::common::{bump, count, model_cases, reset};

    const TWICE_RUNS: usize = 6;

    #[mutable]
    #[derive(Clone, Debug)]
    struct Cell2 {
        a: i64,
        b: i64,
    }

    #[cached]
    impl Cell2 {
        #[cache(lazy_read)]
        fn twice(a: &i64) -> i64 {
            bump(TWICE_RUNS);
            a * 2
        }

        #[cache(lazy_read)]
        fn sum(a: &i64, b: &i64) -> i64 {
            a + b
        }
    }

    /// Reads its target's `twice` cache, or its field `b`.
    #[mutable]
    #[derive(Clone, Debug)]
    struct Watch {
        target: Mutable<Cell2>,
        by_cache: bool,
    }

    #[cached]
    impl Watch {
        #[cache(lazy_read)]
        fn seen(target: &Mutable<Cell2>, by_cache: &bool, ctx: &Ctx<'_, Self>) -> i64 {
            if *by_cache {
                ctx.cached(target, &Cell2::TWICE).copied().unwrap_or(-1)
            } else {
                ctx.field_of(target, &Cell2::B).copied().unwrap_or(-1)
            }
        }
    }

    #[test]
    fn an_unread_field_is_written_without_the_barrier_and_a_read_one_with_it() {
        reset();
        let mut heap = Heap::new();
        let c = heap.mutable(Cell2 { a: 1, b: 2 }).unwrap();
        assert_eq!(*Cell2::twice(&heap, &c).unwrap(), 2);
        Cell2::set_a(&mut heap, &c, 5).unwrap();
        assert_eq!(
            count(TWICE_RUNS),
            2,
            "read since computed: recomputed by the write"
        );
        assert_eq!(*Cell2::twice(&heap, &c).unwrap(), 10);
        Cell2::set_b(&mut heap, &c, 7).unwrap();
        assert_eq!(count(TWICE_RUNS), 2, "`b` is not read by `twice`");

        let w = heap
            .mutable(Watch {
                target: c.clone(),
                by_cache: true,
            })
            .unwrap();
        assert_eq!(*Watch::seen(&heap, &w).unwrap(), 10);
        Cell2::set_a(&mut heap, &c, 6).unwrap();
        assert_eq!(*Watch::seen(&heap, &w).unwrap(), 12, "through the barrier");
        heap.remove(&w).unwrap();
        Cell2::set_a(&mut heap, &c, 8).unwrap();
        assert_eq!(*Cell2::twice(&heap, &c).unwrap(), 16);
        assert_eq!(*Cell2::sum(&heap, &c).unwrap(), 15);
    }

    #[derive(Clone, Debug)]
    enum Op {
        SetA(usize, i64),
        SetB(usize, i64),
        Write(usize, i64, i64),
        Watch(usize, bool),
        Unwatch(usize),
        RemoveCell(usize),
        ReadCell(usize),
        ReadWatch(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let i = 0usize..6;
        let v = -50i64..50;
        prop_oneof![
            3 => (i.clone(), v.clone()).prop_map(|(i, v)| Op::SetA(i, v)),
            3 => (i.clone(), v.clone()).prop_map(|(i, v)| Op::SetB(i, v)),
            1 => (i.clone(), v.clone(), v).prop_map(|(i, a, b)| Op::Write(i, a, b)),
            2 => (i.clone(), any::<bool>()).prop_map(|(i, c)| Op::Watch(i, c)),
            1 => i.clone().prop_map(Op::Unwatch),
            1 => i.clone().prop_map(Op::RemoveCell),
            3 => i.clone().prop_map(Op::ReadCell),
            3 => i.prop_map(Op::ReadWatch),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(model_cases(500)))]

        /// Every read equals a recomputation from the oracle's fields, whichever path each
        /// write took.
        #[test]
        fn own_writes_match_the_oracle(ops in proptest::collection::vec(op(), 1..60)) {
            let mut heap = Heap::new();
            let mut cells: Vec<Option<(Mutable<Cell2>, i64, i64)>> = Vec::new();
            for k in 0..4 {
                let c = heap.mutable(Cell2 { a: k, b: -k }).unwrap();
                cells.push(Some((c, k, -k)));
            }
            let mut watches: Vec<Option<(Mutable<Watch>, usize, bool)>> = Vec::new();
            for op in ops {
                match op {
                    Op::SetA(i, v) => if let Some((c, a, _)) = cells.get_mut(i % 4).and_then(Option::as_mut) {
                        Cell2::set_a(&mut heap, c, v).unwrap();
                        *a = v;
                    },
                    Op::SetB(i, v) => if let Some((c, _, b)) = cells.get_mut(i % 4).and_then(Option::as_mut) {
                        Cell2::set_b(&mut heap, c, v).unwrap();
                        *b = v;
                    },
                    Op::Write(i, va, vb) => if let Some((c, a, b)) = cells.get_mut(i % 4).and_then(Option::as_mut) {
                        heap.write(c, |w| {
                            w.set(&Cell2::A, va);
                            w.set(&Cell2::B, vb);
                        }).unwrap();
                        (*a, *b) = (va, vb);
                    },
                    Op::Watch(i, by_cache) => if let Some((c, _, _)) = &cells[i % 4] {
                        let w = heap.mutable(Watch { target: c.clone(), by_cache }).unwrap();
                        watches.push(Some((w, i % 4, by_cache)));
                    },
                    Op::Unwatch(j) => if let Some(slot) = watches.get_mut(j) {
                        if let Some((w, _, _)) = slot.take() {
                            heap.remove(&w).unwrap();
                        }
                    },
                    Op::RemoveCell(i) => if let Some((c, _, _)) = cells[i % 4].take() {
                        heap.remove(&c).unwrap();
                    },
                    Op::ReadCell(i) => if let Some((c, a, b)) = &cells[i % 4] {
                        prop_assert_eq!(*Cell2::twice(&heap, c).unwrap(), a * 2);
                        prop_assert_eq!(*Cell2::sum(&heap, c).unwrap(), a + b);
                    },
                    Op::ReadWatch(j) => if let Some(Some((w, i, by_cache))) = watches.get(j) {
                        let expected = match &cells[*i] {
                            Some((_, a, b)) => if *by_cache { a * 2 } else { *b },
                            None => -1,
                        };
                        prop_assert_eq!(*Watch::seen(&heap, w).unwrap(), expected);
                    },
                }
            }
            // Finally every cache of every live object.
            for (c, a, b) in cells.iter().flatten() {
                prop_assert_eq!(*Cell2::twice(&heap, c).unwrap(), a * 2);
                prop_assert_eq!(*Cell2::sum(&heap, c).unwrap(), a + b);
                prop_assert_eq!(heap[c].a, *a);
            }
            for (w, i, by_cache) in watches.iter().flatten() {
                let expected = match &cells[*i] {
                    Some((_, a, b)) => if *by_cache { a * 2 } else { *b },
                    None => -1,
                };
                prop_assert_eq!(*Watch::seen(&heap, w).unwrap(), expected);
            }
        }
    }
}

#[mutable]
struct Twice {
    a: i64,
    b: i64,
}

#[cached]
impl Twice {
    #[cache(lazy_read)]
    fn sum(a: &i64, b: &i64) -> i64 {
        a + b
    }
    #[cache(now)]
    fn diff(a: &i64, b: &i64) -> i64 {
        a - b
    }
}

#[mutable]
struct Looker {
    target: Mutable<Twice>,
}

#[cached]
impl Looker {
    #[cache(lazy_read)]
    fn seen(target: &Mutable<Twice>, ctx: &Ctx<'_, Self>) -> i64 {
        ctx.field_of(target, &Twice::A).copied().unwrap_or(-1)
    }
}

/// The object's own path settles a cell without visiting its node: it must not make valid a
/// cell whose node a barrier left dirty (found by the own-path model in
/// `tests/transactions.rs`). Here a transaction computes `sum`, then writes a field another
/// object reads, leaving `sum` invalid but marked as read; a setter on the own path then
/// must not recompute it behind the node's back, or the next barrier skips it.
#[test]
fn the_own_path_leaves_a_cell_the_barrier_left_dirty() -> Result<(), Error> {
    let mut heap = Heap::new();
    let p = heap.mutable(Twice { a: 0, b: 0 })?;
    let look = heap.mutable(Looker { target: p.clone() })?;
    assert_eq!(*Looker::seen(&heap, &look)?, 0); // `a` is now read by another object
    heap.transaction(|tx| {
        assert_eq!(*Twice::sum(tx, &p)?, 0);
        tx.write(&p, |w| {
            w.set(&Twice::A, 0);
            w.set(&Twice::B, 0);
        })
    })?;
    Twice::set_b(&mut heap, &p, 13)?; // `b`: the own path
    Twice::set_a(&mut heap, &p, -1)?; // `a`: the barrier
    assert_eq!(*Twice::sum(&heap, &p)?, 12);
    assert_eq!(*heap.cached(&p, &Twice::DIFF)?, -14);
    Ok(())
}
