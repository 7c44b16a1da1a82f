//! Re-entrancy: a computation that needs its own value gets a cycle error naming the
//! chain, never a deadlock or a stack overflow — also across threads.

use steadfast::{AnyCache, Cache, CacheCell, Error, Field, FieldMask, Heap, Mutable, Object};

#[derive(Clone)]
struct Link {
    next: Option<Mutable<Link>>,
}

impl Link {
    const NEXT: Field<Link, Option<Mutable<Link>>> = Field::new(0, |l| &l.next, |l| &mut l.next);
    /// Unwraps what it reads: a cycle error panics in the computation, which the runtime
    /// still reports as the cycle (panics unwind in tests).
    const DEPTH: Cache<Link, usize> =
        Cache::lazy_read::<0>("depth", |c| match c.field(&Link::NEXT) {
            Some(next) => 1 + *c.cached(next, &Link::DEPTH).unwrap(),
            None => 0,
        });
    /// Reads itself, passing a read error on as a value.
    const SELF: Cache<Link, Option<usize>> =
        Cache::lazy_read::<1>("itself", |c| Some(c.own(&Link::SELF).ok()?.as_ref()? + 1));
}

impl steadfast::Aliasable for Link {}

impl Object for Link {
    const FIELDS: &'static [&'static str] = &["next"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Link::DEPTH, &Link::SELF];
    type Cells = (CacheCell<usize>, CacheCell<Option<usize>>);
    type Saved = Link;
    fn save(&self, _: FieldMask) -> Option<Link> {
        Some(self.clone())
    }
    fn restore(&mut self, saved: Link) {
        *self = saved;
    }
}

#[test]
fn a_cache_reading_itself_is_a_cycle() {
    let mut heap = Heap::new();
    let a = heap.mutable(Link { next: None }).unwrap();
    let err = heap.cached(&a, &Link::SELF).unwrap_err();
    let Error::Cycle { chain } = &err else {
        panic!("{err}")
    };
    assert_eq!(chain.len(), 1);
    assert_eq!(chain[0].cache, "itself");
    // Not poisoned: the same error again, not a hang.
    assert!(matches!(
        heap.cached(&a, &Link::SELF),
        Err(Error::Cycle { .. })
    ));
}

#[test]
fn a_cycle_through_objects_names_the_chain_and_breaking_it_recovers() {
    let mut heap = Heap::new();
    let a = heap.mutable(Link { next: None }).unwrap();
    let b = heap
        .mutable(Link {
            next: Some(a.clone()),
        })
        .unwrap();
    let c = heap
        .mutable(Link {
            next: Some(b.clone()),
        })
        .unwrap();
    assert_eq!(*heap.cached(&c, &Link::DEPTH).unwrap(), 2);
    heap.set(&a, &Link::NEXT, Some(c.clone())).unwrap();
    let err = heap.cached(&c, &Link::DEPTH).unwrap_err();
    let Error::Cycle { chain } = &err else {
        panic!("{err}")
    };
    let ids: Vec<_> = chain.iter().map(|n| n.object).collect();
    assert_eq!(ids, vec![c.id(), b.id(), a.id()], "{err}");
    assert!(
        err.to_string()
            .starts_with("cycle of 3 caches: Link::depth of"),
        "{err}"
    );
    heap.set(&a, &Link::NEXT, None).unwrap();
    assert_eq!(*heap.cached(&c, &Link::DEPTH).unwrap(), 2);
}

#[test]
fn a_long_chain_does_not_overflow_when_built_bottom_up() {
    let mut heap = Heap::new();
    let mut prev = heap.mutable(Link { next: None }).unwrap();
    for i in 1..2_000 {
        prev = heap.mutable(Link { next: Some(prev) }).unwrap();
        if i % 100 == 0 {
            heap.cached(&prev, &Link::DEPTH).unwrap();
        }
    }
    assert_eq!(*heap.cached(&prev, &Link::DEPTH).unwrap(), 1_999);
}

#[test]
fn a_cycle_across_threads_is_an_error_not_a_deadlock() {
    // Two threads each start at a different end of a two-object cycle; whatever the
    // interleaving, both return (a cycle error, from one side or both).
    for _ in 0..200 {
        let mut heap = Heap::new();
        let a = heap.mutable(Link { next: None }).unwrap();
        let b = heap
            .mutable(Link {
                next: Some(a.clone()),
            })
            .unwrap();
        heap.set(&a, &Link::NEXT, Some(b.clone())).unwrap();
        let heap = &heap;
        std::thread::scope(|s| {
            let t1 = s.spawn(move || heap.cached(&a, &Link::DEPTH).copied());
            let t2 = s.spawn(move || heap.cached(&b, &Link::DEPTH).copied());
            assert!(matches!(t1.join().unwrap(), Err(Error::Cycle { .. })));
            assert!(matches!(t2.join().unwrap(), Err(Error::Cycle { .. })));
        });
    }
}
