//! The `stats` feature: exact counts on scripted workloads, equal to the counts
//! `docs/PERFORMANCE.md` claims (the tutorial's path: 101 invariant checks; a chain of 1,000
//! with early cutoff at 500: 500 recomputed, 500 revalidated; a write nothing else reads:
//! no barrier), and each counter produced through the public API.
#![cfg(feature = "stats")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use steadfast::{cached, capsule, imm, mutable, Ctx, Error, Heap, Mutable, Plain, Stats};

// ------------------------------------------------------------------ the tutorial's path

type Spot = (i32, i32);

#[derive(Debug)]
struct OnPath(Spot);

impl std::fmt::Display for OnPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the location {:?} is on the path", self.0)
    }
}

impl std::error::Error for OnPath {}

#[capsule]
struct Path {
    #[capsule]
    points: Vec<Spot>,
    location: Spot,
}

#[cached]
impl Path {
    #[cache(now)]
    fn off_path(points: &Vec<Spot>, location: &Spot) -> Result<(), OnPath> {
        match points.contains(location) {
            true => Err(OnPath(*location)),
            false => Ok(()),
        }
    }

    #[cache(clear)]
    fn set_last(points: &mut Vec<Spot>, spot: Spot) {
        if let Some(last) = points.last_mut() {
            *last = spot;
        }
    }
}

#[test]
fn the_path_with_100_edits_then_a_box_checks_its_invariant_101_times() {
    let mut heap = Heap::new();
    let points = (0..1_000).map(|i| (i, 1)).collect();
    let path = heap
        .capsule(Path {
            points,
            location: (0, 0),
        })
        .unwrap();
    let before = heap.stats();
    for k in 0..100 {
        Path::set_last(&mut heap, &path, (k, 2)).unwrap();
    }
    heap.open_box(&path, |p| {
        for k in 0..100 {
            *p.points.last_mut().unwrap() = (k, 3);
        }
    })
    .unwrap();
    let d = heap.stats().since(&before);
    assert_eq!(d.invariant_checks, 101, "{d}");
    assert_eq!(d.invariant_failures, 0);
    // Each settled on the path alone: nothing else reads it.
    assert_eq!((d.own_writes, d.quiet_writes, d.barriers), (101, 0, 0));
    assert_eq!(d.rollbacks, 0);
}

#[test]
fn a_refused_mutator_counts_a_failed_check_and_a_rollback() {
    let mut heap = Heap::new();
    let path = heap
        .capsule(Path {
            points: vec![(1, 1), (2, 2)],
            location: (0, 0),
        })
        .unwrap();
    let before = heap.stats();
    let refused = Path::set_last(&mut heap, &path, (0, 0));
    assert!(matches!(refused, Err(Error::Invariant { .. })));
    let d = heap.stats().since(&before);
    assert_eq!((d.invariant_checks, d.invariant_failures), (1, 1));
    assert_eq!(d.rollbacks, 1);
    assert_eq!(heap[&path].points, vec![(1, 1), (2, 2)]);
}

#[test]
fn creation_checks_the_invariant_and_a_refused_one_is_a_rollback() {
    let mut heap = Heap::new();
    let before = heap.stats();
    heap.capsule(Path {
        points: vec![(1, 1)],
        location: (0, 0),
    })
    .unwrap();
    let refused = heap.capsule(Path {
        points: vec![(1, 1)],
        location: (1, 1),
    });
    assert!(refused.is_err());
    let d = heap.stats().since(&before);
    assert_eq!((d.invariant_checks, d.invariant_failures), (2, 1));
    assert_eq!(d.rollbacks, 1);
}

// ------------------------------------------------------------------ a chain of caches

const CHAIN: u32 = 1_000;
const COARSE: u32 = 500;

static LINK_RUNS: AtomicUsize = AtomicUsize::new(0);

#[mutable]
struct Base {
    v: i64,
}

#[cached]
impl Base {}

#[derive(Clone, Plain)]
enum Below {
    Base(Mutable<Base>),
    Link(Mutable<Link>),
}

#[mutable]
struct Link {
    below: Below,
    depth: u32,
}

#[cached]
impl Link {
    #[cache(lazy_read)]
    fn value(below: &Below, depth: &u32, ctx: &Ctx<'_, Self>) -> i64 {
        LINK_RUNS.fetch_add(1, Ordering::Relaxed);
        let v = match below {
            Below::Base(b) => ctx.field_of(b, &Base::V).copied(),
            Below::Link(l) => ctx.cached(l, &Link::VALUE).copied(),
        }
        .unwrap_or(0);
        // The link at `COARSE` sees only large changes: early cutoff stops there.
        if *depth == COARSE {
            v / 1_000_000_000
        } else {
            v + 1
        }
    }
}

#[test]
fn a_chain_of_1000_with_cutoff_at_500_recomputes_500_and_revalidates_500() {
    let mut heap = Heap::new();
    let base = heap.mutable(Base { v: 0 }).unwrap();
    let mut below = Below::Base(base.clone());
    let mut top = None;
    for depth in 1..=CHAIN {
        let link = heap.mutable(Link { below, depth }).unwrap();
        below = Below::Link(link.clone());
        top = Some(link);
    }
    let top = top.unwrap();
    assert_eq!(*Link::value(&heap, &top).unwrap(), 500);
    LINK_RUNS.store(0, Ordering::Relaxed);
    let before = heap.stats();
    Base::set_v(&mut heap, &base, 1).unwrap();
    assert_eq!(*Link::value(&heap, &top).unwrap(), 500);
    let d = heap.stats().since(&before);
    assert_eq!(LINK_RUNS.load(Ordering::Relaxed), 500);
    assert_eq!(d.computes + d.recomputes, 500, "{d}");
    assert_eq!(d.revalidated, 500, "{d}");
    // The write marks the first link dirty and every other one to check.
    assert_eq!((d.marked_dirty, d.marked_check), (1, 999), "{d}");
    assert_eq!(d.barriers, 1);
}

// ------------------------------------------------------------------ the three write paths

#[capsule]
struct Point {
    x: f64,
    y: f64,
}

#[cached]
impl Point {
    #[cache(lazy_read)]
    fn doubled(x: &f64) -> f64 {
        2.0 * x
    }
}

#[capsule]
struct Sum {
    x: f64,
    y: f64,
}

#[cached]
impl Sum {
    /// Reads through a context: a write of any field cannot be settled by the own path.
    #[cache(lazy_read)]
    fn total(ctx: &Ctx<'_, Self>) -> f64 {
        ctx.field(&Sum::X) + ctx.field(&Sum::Y)
    }
}

#[mutable]
struct Reader {
    of: Mutable<Counter>,
}

#[mutable]
struct Counter {
    n: u64,
}

#[cached]
impl Counter {}

#[cached]
impl Reader {
    #[cache(lazy_read)]
    fn seen(of: &Mutable<Counter>, ctx: &Ctx<'_, Self>) -> u64 {
        *ctx.field_of(of, &Counter::N).unwrap()
    }
}

#[test]
fn a_write_nothing_else_reads_takes_no_barrier() {
    let mut heap = Heap::new();
    let p = heap.capsule(Point { x: 1.0, y: 0.0 }).unwrap();
    assert_eq!(*Point::doubled(&heap, &p).unwrap(), 2.0);
    let before = heap.stats();
    Point::set_x(&mut heap, &p, 3.0).unwrap();
    let d = heap.stats().since(&before);
    assert_eq!((d.own_writes, d.quiet_writes, d.barriers), (1, 0, 0));
    // Read since it was computed: the write recomputed it.
    assert_eq!((d.recomputes, d.computes, d.marked_dirty), (1, 0, 0));
    assert_eq!(*Point::doubled(&heap, &p).unwrap(), 6.0);
    assert_eq!(heap.stats().since(&before).hits, 1);
}

#[test]
fn a_write_whose_caches_read_through_a_context_is_quiet() {
    let mut heap = Heap::new();
    let p = heap.capsule(Sum { x: 1.0, y: 2.0 }).unwrap();
    assert_eq!(*Sum::total(&heap, &p).unwrap(), 3.0);
    let before = heap.stats();
    Sum::set_y(&mut heap, &p, 5.0).unwrap();
    let d = heap.stats().since(&before);
    assert_eq!((d.own_writes, d.quiet_writes, d.barriers), (0, 1, 0), "{d}");
    assert_eq!(*Sum::total(&heap, &p).unwrap(), 6.0);
}

#[test]
fn a_write_another_object_read_goes_through_the_barrier() {
    let mut heap = Heap::new();
    let c = heap.mutable(Counter { n: 1 }).unwrap();
    let r = heap.mutable(Reader { of: c.clone() }).unwrap();
    assert_eq!(*Reader::seen(&heap, &r).unwrap(), 1);
    let before = heap.stats();
    Counter::set_n(&mut heap, &c, 2).unwrap();
    let d = heap.stats().since(&before);
    assert_eq!((d.own_writes, d.quiet_writes, d.barriers), (0, 0, 1), "{d}");
    // Read since it was computed: the barrier recomputed it for the next read.
    assert_eq!((d.marked_dirty, d.recomputes), (1, 1), "{d}");
    assert_eq!(*Reader::seen(&heap, &r).unwrap(), 2);
    let d = heap.stats().since(&before);
    assert_eq!((d.hits, d.computes), (1, 0));
}

// ------------------------------------------------------------------ reads

#[test]
fn every_read_of_a_valid_value_is_a_hit_whatever_the_path() {
    let mut heap = Heap::new();
    let p = heap.capsule(Point { x: 1.0, y: 2.0 }).unwrap();
    let before = heap.stats();
    assert_eq!(*Point::doubled(&heap, &p).unwrap(), 2.0);
    assert_eq!(heap.stats().since(&before).computes, 1);
    for _ in 0..10 {
        Point::doubled(&heap, &p).unwrap();
        heap.cached(&p, &Point::DOUBLED).unwrap();
    }
    heap.view(&p).unwrap().cached(&Point::DOUBLED).unwrap();
    let d = heap.stats().since(&before);
    assert_eq!((d.hits, d.computes), (21, 1));
}

#[test]
fn hits_from_several_threads_are_all_counted() {
    let mut heap = Heap::new();
    let p = heap.capsule(Point { x: 1.0, y: 2.0 }).unwrap();
    Point::doubled(&heap, &p).unwrap();
    let before = heap.stats();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..10_000 {
                    Point::doubled(&heap, &p).unwrap();
                }
            });
        }
    });
    assert_eq!(heap.stats().since(&before).hits, 40_000);
}

#[imm]
struct Tile {
    side: u64,
}

#[cached]
impl Tile {
    #[cache(eager)]
    fn area(&self) -> u64 {
        self.side * self.side
    }
}

#[test]
fn an_eager_run_on_the_pool_is_one_compute() {
    let mut heap = Heap::new();
    let before = heap.stats();
    let t = heap.imm(Tile { side: 3 }).unwrap();
    assert_eq!(*Tile::area(&heap, &t).unwrap(), 9);
    let d = heap.stats().since(&before);
    assert_eq!(d.computes, 1, "{d}");
}

// ------------------------------------------------------------------ transactions, cycles

#[test]
fn a_transaction_counts_once_and_its_refusal_is_one_rollback() {
    let mut heap = Heap::new();
    let path = heap
        .capsule(Path {
            points: vec![(1, 1), (2, 2)],
            location: (0, 0),
        })
        .unwrap();
    let before = heap.stats();
    heap.transaction(|tx| {
        Path::set_last(tx, &path, (3, 3))?;
        Path::set_last(tx, &path, (4, 4))
    })
    .unwrap();
    let refused = heap.transaction(|tx| Path::set_last(tx, &path, (0, 0)));
    assert!(refused.is_err());
    let d = heap.stats().since(&before);
    assert_eq!((d.transactions, d.rollbacks), (2, 1), "{d}");
    // Checked once at each end, whatever the number of writes.
    assert_eq!((d.invariant_checks, d.invariant_failures), (2, 1), "{d}");
}

#[mutable]
struct Knot {
    other: Option<Mutable<Knot>>,
}

#[cached]
impl Knot {
    #[cache(lazy_read)]
    fn depth(other: &Option<Mutable<Knot>>, ctx: &Ctx<'_, Self>) -> Option<u32> {
        match other {
            Some(o) => Some(ctx.cached(o, &Knot::DEPTH).ok()?.as_ref()? + 1),
            None => Some(0),
        }
    }
}

#[test]
fn a_cycle_is_counted_where_it_is_found() {
    let mut heap = Heap::new();
    let a = heap.mutable(Knot { other: None }).unwrap();
    let b = heap
        .mutable(Knot {
            other: Some(a.clone()),
        })
        .unwrap();
    Knot::set_other(&mut heap, &a, Some(b.clone())).unwrap();
    let before = heap.stats();
    assert!(matches!(Knot::depth(&heap, &a), Err(Error::Cycle { .. })));
    assert_eq!(heap.stats().since(&before).cycles, 1);
}

// ------------------------------------------------------------------ the type

#[test]
fn since_subtracts_and_display_names_what_happened() {
    let zero = Stats::default();
    assert_eq!(zero.to_string(), "no activity");
    let mut heap = Heap::new();
    let p = heap.capsule(Point { x: 1.0, y: 2.0 }).unwrap();
    let before = heap.stats();
    Point::doubled(&heap, &p).unwrap();
    Point::doubled(&heap, &p).unwrap();
    let after = heap.stats();
    assert_eq!(after.since(&before).to_string(), "hits: 1, computes: 1");
    // Not earlier: zero, not an underflow.
    assert_eq!(before.since(&after).hits, 0);
}

// ------------------------------------------------------------------ against an oracle

mod oracle {
    use super::*;
    use proptest::prelude::*;

    use crate::common;

    #[derive(Debug)]
    struct Negative;

    impl std::fmt::Display for Negative {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("negative")
        }
    }

    impl std::error::Error for Negative {}

    /// Two caches of its own fields and an invariant of `a`.
    #[capsule]
    struct Pair {
        a: i64,
        b: i64,
    }

    #[cached]
    impl Pair {
        #[cache(lazy_read)]
        fn sum(a: &i64, b: &i64) -> i64 {
            a + b
        }

        #[cache(lazy_read)]
        fn twice_b(b: &i64) -> i64 {
            2 * b
        }

        #[cache(now)]
        fn nonneg(a: &i64) -> Result<(), Negative> {
            if *a < 0 {
                Err(Negative)
            } else {
                Ok(())
            }
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        SetA(usize, i64),
        SetB(usize, i64),
        Sum(usize),
        TwiceB(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..3usize, -3..10i64).prop_map(|(i, v)| Op::SetA(i, v)),
            (0..3usize, -3..10i64).prop_map(|(i, v)| Op::SetB(i, v)),
            (0..3usize).prop_map(Op::Sum),
            (0..3usize).prop_map(Op::TwiceB),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(common::model_cases(300)))]

        /// Every read is a hit or a computation; every write takes exactly one path;
        /// every refused write is a failed check and a rollback; the invariant is checked
        /// once per creation and per write of the field it reads.
        #[test]
        fn the_counters_add_up(ops in prop::collection::vec(op(), 1..60)) {
            let mut heap = Heap::new();
            let before = heap.stats();
            let pairs: Vec<_> = (0..3)
                .map(|i| heap.capsule(Pair { a: i, b: i }).unwrap())
                .collect();
            let mut model: Vec<(i64, i64)> = (0..3).map(|i| (i, i)).collect();
            let (mut reads, mut writes, mut refused, mut writes_of_a) = (0u64, 0u64, 0u64, 0u64);
            for op in ops {
                match op {
                    Op::SetA(i, v) => {
                        writes += 1;
                        writes_of_a += 1;
                        let ok = Pair::set_a(&mut heap, &pairs[i], v).is_ok();
                        prop_assert_eq!(ok, v >= 0);
                        if ok {
                            model[i].0 = v;
                        } else {
                            refused += 1;
                        }
                    }
                    Op::SetB(i, v) => {
                        writes += 1;
                        Pair::set_b(&mut heap, &pairs[i], v).unwrap();
                        model[i].1 = v;
                    }
                    Op::Sum(i) => {
                        reads += 1;
                        prop_assert_eq!(*Pair::sum(&heap, &pairs[i]).unwrap(), model[i].0 + model[i].1);
                    }
                    Op::TwiceB(i) => {
                        reads += 1;
                        prop_assert_eq!(*Pair::twice_b(&heap, &pairs[i]).unwrap(), 2 * model[i].1);
                    }
                }
            }
            let d = heap.stats().since(&before);
            prop_assert_eq!(d.hits + d.computes, reads, "{}", d);
            prop_assert_eq!(d.own_writes + d.quiet_writes + d.barriers, writes, "{}", d);
            prop_assert_eq!(d.rollbacks, refused, "{}", d);
            prop_assert_eq!(d.invariant_failures, refused, "{}", d);
            prop_assert_eq!(d.invariant_checks, 3 + writes_of_a, "{}", d);
            prop_assert_eq!(d.barriers, 0, "{}", d);
        }
    }
}
