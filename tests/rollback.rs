//! G3 transactions: a rejected or panicking operation leaves values, caches and handles
//! exactly as before.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use steadfast::{
    cached, mutable, AnyCache, Cache, CacheCell, Ctx, Error, Field, FieldMask, Heap, Mutable,
    Object,
};

#[test]
fn a_failed_mutator_restores_fields_and_caches() {
    reset();
    let mut heap = Heap::new();
    let p = heap
        .capsule(Path::new(vec![(1, 1), (2, 2)], (0, 0)))
        .unwrap();
    assert_eq!(*heap.cached(&p, &Path::LEN).unwrap(), 2);
    let before = heap.get(&p).unwrap().clone();
    let runs = count(LEN_RUNS);
    let err = heap
        .write(&p, |w| {
            w.field_mut(&Path::POINTS).push((0, 0));
            w.set(&Path::LABEL, "changed".into());
        })
        .unwrap_err();
    assert!(matches!(err, Error::Invariant { .. }));
    assert_eq!(heap.get(&p).unwrap(), &before);
    assert_eq!(*heap.cached(&p, &Path::LEN).unwrap(), 2);
    // The old cache value was put back (whether or not the barrier recomputed it), so the
    // read after the rollback computes nothing new.
    let after_rollback = count(LEN_RUNS);
    assert_eq!(*heap.cached(&p, &Path::LEN).unwrap(), 2);
    assert_eq!(count(LEN_RUNS), after_rollback);
    assert!(after_rollback <= runs + 1);
}

#[test]
fn a_heap_and_its_handles_need_no_assert_unwind_safe() {
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>(_: &T) {}
    #[mutable]
    struct Fragile {
        n: i64,
    }
    #[cached]
    impl Fragile {
        #[cache(lazy_read)]
        fn inverse(n: &i64) -> i64 {
            100 / *n
        }
    }
    let mut heap = Heap::new();
    let f = heap.mutable(Fragile { n: 0 }).unwrap();
    let p = heap.capsule(Path::new(vec![(1, 1)], (0, 0))).unwrap();
    unwind_safe(&heap);
    unwind_safe(&f);
    unwind_safe(&p);
    // A read whose computation panics, caught with the heap and the handle captured as
    // they are; the heap goes on.
    let r = catch_unwind(|| Fragile::inverse(&heap, &f).copied());
    assert!(r.is_err());
    Fragile::set_n(&mut heap, &f, 4).unwrap();
    assert_eq!(*Fragile::inverse(&heap, &f).unwrap(), 25);
}

#[test]
fn a_panicking_mutator_and_box_leave_the_heap_as_it_was() {
    let mut heap = Heap::new();
    let p = heap.capsule(Path::new(vec![(1, 1)], (0, 0))).unwrap();
    let before = heap.get(&p).unwrap().clone();
    let r = catch_unwind(AssertUnwindSafe(|| {
        heap.write(&p, |w| {
            w.field_mut(&Path::POINTS).clear();
            panic!("boom");
        })
    }));
    assert!(r.is_err());
    assert_eq!(heap.get(&p).unwrap(), &before);
    let r = catch_unwind(AssertUnwindSafe(|| {
        heap.open_box(&p, |raw| {
            raw.location = (1, 1);
            panic!("boom");
        })
    }));
    assert!(r.is_err());
    assert_eq!(heap.get(&p).unwrap(), &before);
    assert_eq!(*heap.cached(&p, &Path::LEN).unwrap(), 1);
    heap.write(&p, |w| w.field_mut(&Path::POINTS).push((4, 4)))
        .unwrap();
    assert_eq!(*heap.cached(&p, &Path::LEN).unwrap(), 2);
}

#[test]
fn a_panic_in_a_now_cache_rolls_the_write_back() {
    let mut heap = Heap::new();
    let o = heap
        .mutable(Obj {
            a: 1,
            b: 1,
            refs: vec![],
        })
        .unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| heap.set(&o, &Obj::A, PANIC_A)));
    assert!(r.is_err());
    assert_eq!(heap[&o].a, 1);
    assert_eq!(*heap.cached(&o, &Obj::DIFF).unwrap(), 0);
}

#[test]
fn a_panic_in_a_lazy_cache_does_not_poison_it() {
    let mut heap = Heap::new();
    let o = heap
        .mutable(Obj {
            a: 1,
            b: PANIC_B,
            refs: vec![],
        })
        .unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| heap.cached(&o, &Obj::LOCAL).copied())).is_err());
    assert!(catch_unwind(AssertUnwindSafe(|| heap.cached(&o, &Obj::LOCAL).copied())).is_err());
    heap.set(&o, &Obj::B, 1).unwrap();
    assert_eq!(*heap.cached(&o, &Obj::LOCAL).unwrap(), 3);
}

#[test]
fn a_panic_at_creation_creates_nothing() {
    let mut heap = Heap::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        heap.mutable(Obj {
            a: PANIC_A,
            b: 0,
            refs: vec![],
        })
    }));
    assert!(r.is_err());
    assert!(heap.is_empty());
}

/// A type that cannot be saved: the documented fallback removes it and hands it back.
struct Opaque {
    n: i64,
}

impl Opaque {
    const N: Field<Opaque, i64> = Field::new(0, |o| &o.n, |o| &mut o.n);
    const SMALL: Cache<Opaque, Result<(), Broken>> = Cache::invariant::<0>("small", |c| {
        if *c.field(&Opaque::N) < 10 {
            Ok(())
        } else {
            Err(Broken("big".into()))
        }
    });
}

impl steadfast::Aliasable for Opaque {}

impl Object for Opaque {
    const FIELDS: &'static [&'static str] = &["n"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Opaque::SMALL];
    type Cells = (CacheCell<Result<(), Broken>>,);
    type Saved = ();
    fn save(&self, _: FieldMask) -> Option<()> {
        None
    }
    fn restore(&mut self, _: ()) {}
}

#[test]
fn an_unrestorable_object_is_removed_and_handed_back() {
    let mut heap = Heap::new();
    let o = heap.mutable(Opaque { n: 1 }).unwrap();
    heap.write(&o, |w| w.set(&Opaque::N, 5)).unwrap();
    let err = heap.write(&o, |w| w.set(&Opaque::N, 50)).unwrap_err();
    assert!(
        matches!(heap.get(&o), Err(Error::Removed { .. })),
        "nothing broken stays on the heap"
    );
    let value = err
        .into_value::<Opaque>()
        .expect("the broken value comes back");
    assert_eq!(value.n, 50);
}

mod declared_remove_on_failure {
    use steadfast::{cached, mutable, Error, Heap};

    /// Not `Clone`, and its struct says so: a refused write of it removes the object.
    #[derive(Debug, PartialEq, steadfast::Plain)]
    struct Ticket(u32);

    #[derive(Debug)]
    struct Late;

    impl std::fmt::Display for Late {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("ticket past the limit")
        }
    }

    impl std::error::Error for Late {}

    #[mutable(remove_on_failure)]
    struct Queue {
        limit: u32,
        ticket: Ticket,
    }

    #[cached]
    impl Queue {
        #[cache(now)]
        fn in_time(limit: &u32, ticket: &Ticket) -> Result<(), Late> {
            if ticket.0 <= *limit {
                Ok(())
            } else {
                Err(Late)
            }
        }
    }

    #[test]
    fn a_refused_write_of_an_unsaved_field_removes_the_object_and_hands_it_back() {
        let mut heap = Heap::new();
        let q = heap
            .mutable(Queue {
                limit: 5,
                ticket: Ticket(1),
            })
            .unwrap();
        // A field that is saved (`limit`) is put back as usual...
        let err = Queue::set_limit(&mut heap, &q, 0).unwrap_err();
        assert_eq!(err.invariant().unwrap().cache, "in_time");
        assert_eq!(heap[&q].limit, 5);
        // ...and so is one that is not, by a setter alone: it holds the old value itself.
        let err = Queue::set_ticket(&mut heap, &q, Ticket(9)).unwrap_err();
        assert_eq!(err.invariant().unwrap().cache, "in_time");
        assert_eq!(heap[&q].ticket, Ticket(1));
        // Written in place, it cannot be put back: the object goes, its value comes back.
        let err = heap
            .write(&q, |w| w.field_mut(&Queue::TICKET).0 = 9)
            .unwrap_err();
        assert!(matches!(heap.get(&q), Err(Error::Removed { .. })));
        let value = err.into_value::<Queue>().expect("the value comes back");
        assert_eq!(value.ticket, Ticket(9));
    }
}

mod first_read_in_a_rejected_barrier {
    use steadfast::{cached, mutable, Ctx, Heap, Mutable};

    #[mutable]
    #[derive(Clone)]
    struct Level {
        v: i64,
    }

    #[cached]
    impl Level {}

    #[mutable]
    #[derive(Clone)]
    struct Mirror {
        level: Mutable<Level>,
    }

    #[cached]
    impl Mirror {
        #[cache(lazy_read)]
        fn double(level: &Mutable<Level>, ctx: &Ctx<'_, Self>) -> i64 {
            ctx.field_of(level, &Level::V).map_or(0, |v| v * 2)
        }
    }

    #[derive(Debug)]
    struct TooHigh(i64);

    impl std::fmt::Display for TooHigh {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "the mirror shows {}", self.0)
        }
    }

    impl std::error::Error for TooHigh {}

    #[mutable]
    #[derive(Clone)]
    struct Guard {
        level: Mutable<Level>,
        mirror: Mutable<Mirror>,
    }

    #[cached]
    impl Guard {
        /// Reads the mirror only when the level is high: a cache the barrier computes for
        /// the first time while it checks.
        #[cache(now)]
        fn bounded(
            level: &Mutable<Level>,
            mirror: &Mutable<Mirror>,
            ctx: &Ctx<'_, Self>,
        ) -> Result<(), TooHigh> {
            let v = ctx.field_of(level, &Level::V).copied().unwrap_or(0);
            if v > 5 {
                let shown = *ctx.cached(mirror, &Mirror::DOUBLE).unwrap_or(&0);
                if shown >= 100 {
                    return Err(TooHigh(shown));
                }
            }
            Ok(())
        }
    }

    /// A cache first computed inside a barrier that then rolls back saw the rejected
    /// state: the rollback must invalidate it, not leave it valid.
    #[test]
    fn does_not_keep_a_value_of_the_rejected_state() {
        let mut heap = Heap::new();
        let level = heap.mutable(Level { v: 1 }).unwrap();
        let mirror = heap
            .mutable(Mirror {
                level: level.clone(),
            })
            .unwrap();
        heap.mutable(Guard {
            level: level.clone(),
            mirror: mirror.clone(),
        })
        .unwrap();
        assert!(Level::set_v(&mut heap, &level, 70).is_err());
        assert_eq!(heap[&level].v, 1);
        assert_eq!(*Mirror::double(&heap, &mirror).unwrap(), 2);
        Level::set_v(&mut heap, &level, 7).unwrap();
        assert_eq!(*Mirror::double(&heap, &mirror).unwrap(), 14);
    }
}

/// A write that reaches only its own object's cells, whose `now` caches read its fields
/// alone, is settled without the journal: the `now` cells are rechecked first, each once,
/// and a failure must put back exactly those, leaving every other cell as it was.
mod local_writes {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use proptest::prelude::*;
    use steadfast::{cached, mutable, Error, Heap};

    use super::common::{bump, count, LOCAL_RUNS};

    /// Runs of `sum`, `diff`, `small`, `ordered` on this thread.
    fn runs() -> [usize; 4] {
        LOCAL_RUNS.map(count)
    }

    /// `diff` panics on this `a`.
    const PANIC_A: i64 = 77;

    #[mutable]
    #[derive(Clone, Debug, PartialEq)]
    struct Local {
        a: i64,
        b: i64,
    }

    #[derive(Debug)]
    struct Bad(&'static str);

    impl std::fmt::Display for Bad {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Bad {}

    #[cached]
    impl Local {
        #[cache(lazy_read)]
        pub(crate) fn sum(a: &i64, b: &i64) -> i64 {
            bump(LOCAL_RUNS[0]);
            a + b
        }

        /// A `now` value declared before the invariants: it is recomputed first, and must
        /// get its old value back when an invariant after it fails.
        #[cache(now)]
        pub(crate) fn diff(a: &i64, b: &i64) -> i64 {
            bump(LOCAL_RUNS[1]);
            assert!(*a != PANIC_A, "diff panics on a == {PANIC_A}");
            a - b
        }

        #[cache(now)]
        pub(crate) fn small(a: &i64) -> Result<(), Bad> {
            bump(LOCAL_RUNS[2]);
            if *a <= 100 {
                Ok(())
            } else {
                Err(Bad("a > 100"))
            }
        }

        #[cache(now)]
        pub(crate) fn ordered(a: &i64, b: &i64) -> Result<(), Bad> {
            bump(LOCAL_RUNS[3]);
            if *b <= *a + 50 {
                Ok(())
            } else {
                Err(Bad("b > a + 50"))
            }
        }
    }

    fn holds(a: i64, b: i64) -> bool {
        a <= 100 && b <= a + 50
    }

    #[test]
    fn a_write_checks_each_invariant_it_reaches_once() {
        let mut heap = Heap::new();
        let p = heap.mutable(Local { a: 1, b: 2 }).unwrap();
        assert_eq!(*Local::sum(&heap, &p).unwrap(), 3);
        let before = runs();
        Local::set_b(&mut heap, &p, 5).unwrap();
        let after = runs();
        // `sum` was being read: recomputed at once; `small` does not read `b`.
        assert_eq!(
            [
                after[0] - before[0],
                after[1] - before[1],
                after[2] - before[2],
                after[3] - before[3]
            ],
            [1, 1, 0, 1]
        );
        assert_eq!(*Local::diff(&heap, &p).unwrap(), -4);
        assert_eq!(*Local::sum(&heap, &p).unwrap(), 6);
        assert_eq!(runs(), after, "both reads are hits");
    }

    #[test]
    fn a_failing_invariant_puts_back_the_now_values_before_it() {
        let mut heap = Heap::new();
        let p = heap.mutable(Local { a: 1, b: 2 }).unwrap();
        assert_eq!(*Local::sum(&heap, &p).unwrap(), 3);
        let err = Local::set_b(&mut heap, &p, 60).unwrap_err();
        let Error::Invariant { invariant, .. } = &err else {
            panic!("not an invariant failure: {err}");
        };
        assert_eq!(invariant.cache, "ordered");
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert_eq!(source, "b > a + 50");
        assert_eq!(heap[&p], Local { a: 1, b: 2 });
        let before = runs();
        // `diff` was recomputed to -59 before `ordered` failed: its old value is back, and
        // `sum` was never touched. Both reads are hits.
        assert_eq!(*Local::diff(&heap, &p).unwrap(), -1);
        assert_eq!(*Local::sum(&heap, &p).unwrap(), 3);
        assert_eq!(runs(), before);
        // The object goes on as if the write had not been tried.
        Local::set_b(&mut heap, &p, 40).unwrap();
        assert_eq!(*Local::diff(&heap, &p).unwrap(), -39);
        assert_eq!(*Local::sum(&heap, &p).unwrap(), 41);
    }

    #[test]
    fn an_invariant_that_held_and_holds_before_a_failing_one_stays_as_it_was() {
        let mut heap = Heap::new();
        let p = heap.mutable(Local { a: 1, b: 2 }).unwrap();
        let before = runs();
        // `small` holds before and after (unchanged, nothing kept aside); `ordered`, after
        // it, fails; `diff`, before both, changed and is put back.
        let err = Local::set_a(&mut heap, &p, -100).unwrap_err();
        assert_eq!(err.invariant().unwrap().cache, "ordered");
        let after = runs();
        assert_eq!(
            [
                after[1] - before[1],
                after[2] - before[2],
                after[3] - before[3]
            ],
            [1, 1, 1]
        );
        assert_eq!(heap[&p], Local { a: 1, b: 2 });
        // Every `now` value is as before the write, and reading it recomputes nothing.
        assert!(heap.cached(&p, &Local::SMALL).unwrap().is_ok());
        assert!(heap.cached(&p, &Local::ORDERED).unwrap().is_ok());
        assert_eq!(*Local::diff(&heap, &p).unwrap(), -1);
        assert_eq!(runs(), after);
        // And each is still checked by the next writes.
        let err = Local::set_a(&mut heap, &p, 101).unwrap_err();
        assert_eq!(err.invariant().unwrap().cache, "small");
        assert_eq!(heap[&p], Local { a: 1, b: 2 });
        Local::set_a(&mut heap, &p, 3).unwrap();
        assert_eq!(*Local::diff(&heap, &p).unwrap(), 1);
        assert!(heap.cached(&p, &Local::SMALL).unwrap().is_ok());
    }

    #[test]
    fn in_a_transaction_the_checked_values_of_an_object_survive_a_later_failure() {
        let mut heap = Heap::new();
        let p = heap.mutable(Local { a: 1, b: 2 }).unwrap();
        let q = heap.mutable(Local { a: 1, b: 2 }).unwrap();
        let before = runs();
        // `p`: `diff` changes, `small` and `ordered` hold as before (their values come
        // back at once); then `q`'s `ordered` fails, so `p`'s changed `diff` is put back.
        let err = heap
            .transaction(|tx| {
                Local::set_a(tx, &p, 3)?;
                Local::set_b(tx, &q, 60)?;
                Ok::<_, Error>(())
            })
            .unwrap_err();
        let failed = err.invariant().unwrap();
        assert_eq!((failed.cache, failed.object), ("ordered", q.id()));
        let after = runs();
        assert_eq!(
            [
                after[1] - before[1],
                after[2] - before[2],
                after[3] - before[3]
            ],
            [2, 1, 2]
        );
        assert_eq!(heap[&p], Local { a: 1, b: 2 });
        assert_eq!(heap[&q], Local { a: 1, b: 2 });
        // Every `now` value is as before the transaction, and reading it recomputes nothing.
        for o in [&p, &q] {
            assert_eq!(*Local::diff(&heap, o).unwrap(), -1);
            // An invariant has a reader like any cache (and holds wherever it is read).
            assert!(Local::small(&heap, o).unwrap().is_ok());
            assert!(Local::ordered(&heap, o).unwrap().is_ok());
        }
        assert_eq!(runs(), after);
        // Each is still checked by the next writes, alone and in a transaction.
        let err = Local::set_a(&mut heap, &p, 101).unwrap_err();
        assert_eq!(err.invariant().unwrap().cache, "small");
        heap.transaction(|tx| {
            Local::set_a(tx, &p, 4)?;
            Local::set_a(tx, &q, 5)
        })
        .unwrap();
        let after = runs();
        assert_eq!(*Local::diff(&heap, &p).unwrap(), 2);
        assert_eq!(*Local::diff(&heap, &q).unwrap(), 3);
        assert!(heap.cached(&p, &Local::SMALL).unwrap().is_ok());
        assert_eq!(runs(), after, "the transaction left every check computed");
        let err = heap
            .transaction(|tx| Local::set_b(tx, &q, 100))
            .unwrap_err();
        assert_eq!(err.invariant().unwrap().cache, "ordered");
        assert_eq!(*Local::diff(&heap, &q).unwrap(), 3);
    }

    #[test]
    fn a_view_outlives_a_rejected_and_a_panicking_set() {
        let mut heap = Heap::new();
        let p = heap.mutable(Local { a: 1, b: 2 }).unwrap();
        let mut view = heap.view_mut(&p).unwrap();
        assert_eq!(*view.cached(&Local::SUM).unwrap(), 3);
        let err = view.set(&Local::B, 60).unwrap_err();
        assert_eq!(err.invariant().unwrap().cache, "ordered");
        let r = catch_unwind(AssertUnwindSafe(|| view.set(&Local::A, PANIC_A)));
        assert!(r.is_err());
        // Neither removed the object: the view reads it as before and writes on.
        assert_eq!(*view.get(), Local { a: 1, b: 2 });
        assert_eq!(*view.cached(&Local::DIFF).unwrap(), -1);
        view.set(&Local::A, 4).unwrap();
        assert_eq!(*view.cached(&Local::SUM).unwrap(), 6);
        assert_eq!(*view.cached(&Local::DIFF).unwrap(), 2);
        assert_eq!(heap[&p], Local { a: 4, b: 2 });
    }

    #[test]
    fn a_failing_write_through_a_writer_puts_back_every_field() {
        let mut heap = Heap::new();
        let p = heap.mutable(Local { a: 1, b: 2 }).unwrap();
        let err = heap
            .write(&p, |w| {
                w.set(&Local::B, 3);
                w.set(&Local::A, 500);
            })
            .unwrap_err();
        assert_eq!(err.invariant().unwrap().cache, "small");
        assert_eq!(heap[&p], Local { a: 1, b: 2 });
        assert_eq!(*Local::diff(&heap, &p).unwrap(), -1);
    }

    #[test]
    fn a_panic_in_a_now_cache_leaves_the_object_as_it_was() {
        let mut heap = Heap::new();
        let p = heap.mutable(Local { a: 1, b: 2 }).unwrap();
        assert_eq!(*Local::sum(&heap, &p).unwrap(), 3);
        let r = catch_unwind(AssertUnwindSafe(|| Local::set_a(&mut heap, &p, PANIC_A)));
        assert!(r.is_err());
        assert_eq!(heap[&p], Local { a: 1, b: 2 });
        let before = runs();
        assert_eq!(*Local::diff(&heap, &p).unwrap(), -1);
        assert_eq!(*Local::sum(&heap, &p).unwrap(), 3);
        assert_eq!(runs(), before);
        Local::set_a(&mut heap, &p, 4).unwrap();
        assert_eq!(*Local::diff(&heap, &p).unwrap(), 2);
    }

    #[derive(Clone, Debug)]
    enum Op {
        SetA(i64),
        SetB(i64),
        /// Both fields in one write.
        Both(i64, i64),
        ReadSum,
        ReadDiff,
    }

    fn op() -> impl Strategy<Value = Op> {
        let v = || -20i64..130;
        prop_oneof![
            v().prop_map(Op::SetA),
            v().prop_map(Op::SetB),
            (v(), v()).prop_map(|(a, b)| Op::Both(a, b)),
            Just(Op::ReadSum),
            Just(Op::ReadDiff),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            super::common::model_cases(1000)
        ))]

        /// Random local writes, some rejected, some panicking, against a model that
        /// recomputes every cache and checks every invariant after each step.
        #[test]
        fn local_writes_match_a_recompute_everything_model(ops in prop::collection::vec(op(), 1..40)) {
            let mut heap = Heap::new();
            let (mut a, mut b) = (0i64, 0i64);
            let p = heap.mutable(Local { a, b }).unwrap();
            for op in ops {
                let (na, nb) = match op {
                    Op::SetA(v) => (v, b),
                    Op::SetB(v) => (a, v),
                    Op::Both(x, y) => (x, y),
                    Op::ReadSum => {
                        prop_assert_eq!(*Local::sum(&heap, &p).unwrap(), a + b);
                        continue;
                    }
                    Op::ReadDiff => {
                        prop_assert_eq!(*Local::diff(&heap, &p).unwrap(), a - b);
                        continue;
                    }
                };
                let result = catch_unwind(AssertUnwindSafe(|| match op {
                    Op::SetA(v) => Local::set_a(&mut heap, &p, v).map(drop),
                    Op::SetB(v) => Local::set_b(&mut heap, &p, v).map(drop),
                    _ => heap.write(&p, |w| {
                        w.set(&Local::A, na);
                        w.set(&Local::B, nb);
                    }),
                }));
                // Every write reaches `diff`, declared first: it panics before any check.
                let panics = na == PANIC_A;
                match result {
                    Err(_) => prop_assert!(panics, "unexpected panic"),
                    Ok(Ok(())) => {
                        prop_assert!(!panics && holds(na, nb));
                        (a, b) = (na, nb);
                    }
                    Ok(Err(e)) => {
                        prop_assert!(!holds(na, nb), "rejected a valid write: {}", e);
                    }
                }
                prop_assert_eq!(&heap[&p], &Local { a, b });
                prop_assert!(holds(a, b));
            }
            prop_assert_eq!(*Local::diff(&heap, &p).unwrap(), a - b);
            prop_assert_eq!(*Local::sum(&heap, &p).unwrap(), a + b);
        }
    }
}

/// A type settled on its own path (its only cache reads its own fields), whose field another
/// object's invariant reads.
#[mutable]
struct Own {
    a: i64,
}

#[cached]
impl Own {
    #[cache(lazy_read)]
    fn c(a: &i64) -> i64 {
        *a * 10
    }
}

#[derive(Debug)]
struct TooBig;
impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("too big")
    }
}
impl std::error::Error for TooBig {}

#[mutable]
struct Reader {
    x: Mutable<Own>,
}

#[cached]
impl Reader {
    #[cache(now)]
    fn ok(ctx: &Ctx<'_, Self>) -> Result<(), TooBig> {
        let x = ctx.field(&Reader::X).clone();
        match ctx.field_of(&x, &Own::A) {
            Ok(a) if *a > 5 => Err(TooBig),
            _ => Ok(()),
        }
    }
}

/// The object's own path leaves a cell invalid with its old value kept aside; a barrier
/// that then rolls back must leave the cell invalid, not revive that value as valid.
#[test]
fn a_rollback_leaves_an_own_path_invalidation() -> Result<(), Error> {
    let mut heap = Heap::new();
    let x = heap.mutable(Own { a: 0 })?;
    assert_eq!(*Own::c(&heap, &x)?, 0);
    Own::set_a(&mut heap, &x, 1)?; // read since computed: recomputed in place (10)
    Own::set_a(&mut heap, &x, 2)?; // not read since: invalidated, 10 kept as stale
    let _r = heap.mutable(Reader { x: x.clone() })?; // x.a is now read by another object
    assert!(Own::set_a(&mut heap, &x, 7).is_err()); // through the barrier, rolled back
    assert_eq!(heap[&x].a, 2);
    assert_eq!(*Own::c(&heap, &x)?, 20);
    Ok(())
}

/// The same for a cell computed inside a transaction that rolls back.
#[test]
fn a_rolled_back_transaction_leaves_an_own_path_invalidation() -> Result<(), Error> {
    let mut heap = Heap::new();
    let x = heap.mutable(Own { a: 0 })?;
    assert_eq!(*Own::c(&heap, &x)?, 0);
    Own::set_a(&mut heap, &x, 1)?;
    Own::set_a(&mut heap, &x, 2)?;
    let out: Result<(), Error> = heap.transaction(|tx| {
        assert_eq!(*Own::c(tx, &x)?, 20); // computed inside: journaled
        Err(Error::Cycle {
            chain: Vec::new().into(),
        })
    });
    assert!(out.is_err());
    assert_eq!(*Own::c(&heap, &x)?, 20);
    Ok(())
}

static TALLY_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn tally_runs() -> usize {
    TALLY_RUNS.load(std::sync::atomic::Ordering::SeqCst)
}

#[mutable]
struct Tally {
    x: Mutable<Own>,
}

#[cached]
impl Tally {
    #[cache(lazy_read)]
    fn twice(ctx: &Ctx<'_, Self>) -> i64 {
        TALLY_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let x = ctx.field(&Tally::X).clone();
        ctx.field_of(&x, &Own::A).map_or(0, |a| a * 2)
    }
}

/// A rejected write leaves every cache right; of the lazy caches it made dirty, the one
/// read since it was computed keeps its value through the rollback (no recomputation on
/// the next read), and the one nobody read since is left invalid and computed again from
/// the restored state on its next read (`docs/semantics.md`, G3).
#[test]
fn a_rollback_keeps_the_values_that_were_read() -> Result<(), Error> {
    let mut heap = Heap::new();
    let x = heap.mutable(Own { a: 0 })?;
    let _veto = heap.mutable(Reader { x: x.clone() })?;
    let read = heap.mutable(Tally { x: x.clone() })?;
    let unread = heap.mutable(Tally { x: x.clone() })?;
    assert_eq!(*Tally::twice(&heap, &read)?, 0);
    assert_eq!(*Tally::twice(&heap, &unread)?, 0);
    // Both were read since computed: the barrier recomputes both, which leaves them valid
    // and not read since.
    Own::set_a(&mut heap, &x, 1)?;
    let runs = tally_runs();
    assert_eq!(*Tally::twice(&heap, &read)?, 2);
    assert_eq!(tally_runs(), runs, "a hit");
    assert!(Own::set_a(&mut heap, &x, 7).is_err());
    assert_eq!(heap[&x].a, 1);
    let runs = tally_runs();
    assert_eq!(*Tally::twice(&heap, &read)?, 2);
    assert_eq!(tally_runs(), runs, "the read cache kept its value");
    assert_eq!(*Tally::twice(&heap, &unread)?, 2);
    // With the `explain` feature the barrier keeps every value it invalidates, so that the
    // rollback leaves no cell invalid that a cause could not explain.
    let dropped = usize::from(!cfg!(feature = "explain"));
    assert_eq!(
        tally_runs(),
        runs + dropped,
        "the unread cache is computed again"
    );
    Ok(())
}
