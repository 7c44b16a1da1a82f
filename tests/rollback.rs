//! G3 transactions: a rejected or panicking operation leaves values, caches and handles
//! exactly as before.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use steadfast::{AnyCache, Cache, CacheCell, Error, Field, FieldMask, Heap, Object};

#[test]
fn a_failed_mutator_restores_fields_and_caches() {
    reset();
    let mut heap = Heap::new();
    let p = heap
        .capsule(Path::new(vec![(1, 1), (2, 2)], (0, 0)))
        .unwrap();
    assert_eq!(*heap.cache(&p, &Path::LEN).unwrap(), 2);
    let before = heap.get(&p).unwrap().clone();
    let runs = count(LEN_RUNS);
    let err = heap
        .mutate(&p, |w| {
            w.field_mut(&Path::POINTS).push((0, 0));
            w.set(&Path::LABEL, "changed".into());
        })
        .unwrap_err();
    assert!(matches!(err, Error::Invariant { .. }));
    assert_eq!(heap.get(&p).unwrap(), &before);
    assert_eq!(*heap.cache(&p, &Path::LEN).unwrap(), 2);
    // The old cache value was put back (whether or not the barrier recomputed it), so the
    // read after the rollback computes nothing new.
    let after_rollback = count(LEN_RUNS);
    assert_eq!(*heap.cache(&p, &Path::LEN).unwrap(), 2);
    assert_eq!(count(LEN_RUNS), after_rollback);
    assert!(after_rollback <= runs + 1);
}

#[test]
fn a_panicking_mutator_and_box_leave_the_heap_as_it_was() {
    let mut heap = Heap::new();
    let p = heap.capsule(Path::new(vec![(1, 1)], (0, 0))).unwrap();
    let before = heap.get(&p).unwrap().clone();
    let r = catch_unwind(AssertUnwindSafe(|| {
        heap.mutate(&p, |w| {
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
    assert_eq!(*heap.cache(&p, &Path::LEN).unwrap(), 1);
    heap.mutate(&p, |w| w.field_mut(&Path::POINTS).push((4, 4)))
        .unwrap();
    assert_eq!(*heap.cache(&p, &Path::LEN).unwrap(), 2);
}

#[test]
fn a_panic_in_a_now_cache_rolls_the_write_back() {
    let mut heap = Heap::new();
    let o = heap
        .alloc(Obj {
            a: 1,
            b: 1,
            refs: vec![],
        })
        .unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| heap.set(o, &Obj::A, PANIC_A)));
    assert!(r.is_err());
    assert_eq!(heap[o].a, 1);
    assert_eq!(*heap.cache(o, &Obj::DIFF).unwrap(), 0);
}

#[test]
fn a_panic_in_a_lazy_cache_does_not_poison_it() {
    let mut heap = Heap::new();
    let o = heap
        .alloc(Obj {
            a: 1,
            b: PANIC_B,
            refs: vec![],
        })
        .unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| heap.cache(o, &Obj::LOCAL).copied())).is_err());
    assert!(catch_unwind(AssertUnwindSafe(|| heap.cache(o, &Obj::LOCAL).copied())).is_err());
    heap.set(o, &Obj::B, 1).unwrap();
    assert_eq!(*heap.cache(o, &Obj::LOCAL).unwrap(), 3);
}

#[test]
fn a_panic_at_creation_creates_nothing() {
    let mut heap = Heap::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        heap.alloc(Obj {
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
    let o = heap.alloc(Opaque { n: 1 }).unwrap();
    heap.write(o, |w| w.set(&Opaque::N, 5)).unwrap();
    let err = heap.write(o, |w| w.set(&Opaque::N, 50)).unwrap_err();
    assert!(
        matches!(heap.get(o), Err(Error::Removed { .. })),
        "nothing broken stays on the heap"
    );
    let value = err
        .into_value::<Opaque>()
        .expect("the broken value comes back");
    assert_eq!(value.n, 50);
}

mod first_read_in_a_rejected_barrier {
    use steadfast::{cached, mutable, Ctx, Heap, Mut};

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
        level: Mut<Level>,
    }

    #[cached]
    impl Mirror {
        #[cache(lazy_read)]
        fn double(level: &Mut<Level>, ctx: &Ctx<'_, Self>) -> i64 {
            ctx.field_of(*level, &Level::V).map_or(0, |v| v * 2)
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
        level: Mut<Level>,
        mirror: Mut<Mirror>,
    }

    #[cached]
    impl Guard {
        /// Reads the mirror only when the level is high: a cache the barrier computes for
        /// the first time while it checks.
        #[cache(now)]
        fn bounded(
            level: &Mut<Level>,
            mirror: &Mut<Mirror>,
            ctx: &Ctx<'_, Self>,
        ) -> Result<(), TooHigh> {
            let v = ctx.field_of(*level, &Level::V).copied().unwrap_or(0);
            if v > 5 {
                let shown = *ctx.cache(*mirror, &Mirror::DOUBLE).unwrap_or(&0);
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
        let level = heap.alloc(Level { v: 1 }).unwrap();
        let mirror = heap.alloc(Mirror { level }).unwrap();
        heap.alloc(Guard { level, mirror }).unwrap();
        assert!(Level::set_v(&mut heap, level, 70).is_err());
        assert_eq!(heap[level].v, 1);
        assert_eq!(*Mirror::double(&heap, mirror).unwrap(), 2);
        Level::set_v(&mut heap, level, 7).unwrap();
        assert_eq!(*Mirror::double(&heap, mirror).unwrap(), 14);
    }
}
