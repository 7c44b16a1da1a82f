//! Every error variant the public API can produce, produced through it: each names what it
//! happened to, its message is lowercase, and only an invariant failure has a source.

use std::error::Error as _;

use steadfast::{
    cached, capsule, imm, mutable, AnyCache, Cache, CacheCell, Capsule, Ctx, Error, FieldMask,
    Heap, Imm, Mutable, Object,
};

#[derive(Debug)]
struct Negative;

impl std::fmt::Display for Negative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the count is negative")
    }
}

impl std::error::Error for Negative {}

#[mutable]
#[derive(Debug)]
struct Counter {
    n: i64,
    next: Option<Mutable<Counter>>,
}

#[cached]
impl Counter {
    #[cache(now)]
    fn nonneg(n: &i64) -> Result<(), Negative> {
        if *n < 0 {
            Err(Negative)
        } else {
            Ok(())
        }
    }

    /// Reads itself through the next counter: a cycle when a counter is its own next.
    #[cache(lazy_read)]
    fn chained(next: &Option<Mutable<Counter>>, ctx: &Ctx<'_, Self>) -> i64 {
        next.as_ref().map_or(0, |next| {
            ctx.cached(next, &Counter::CHAINED).copied().unwrap_or(0) + 1
        })
    }
}

#[capsule]
struct Holder {
    first: Mutable<Counter>,
}

#[cached]
impl Holder {}

#[imm]
#[derive(Debug)]
struct Leaf {
    v: u64,
    next: Option<Imm<Leaf>>,
}

#[cached]
impl Leaf {
    #[cache(eager)]
    fn inverse(&self) -> u64 {
        100 / self.v
    }
}

#[mutable]
struct Bank {
    accounts: Vec<Capsule<Holder>>,
}

#[cached]
impl Bank {}

/// What every error must be: a lowercase message, and a source only for an invariant.
fn well_formed(err: &Error) -> String {
    let message = err.to_string();
    assert!(
        message.starts_with(|c: char| !c.is_uppercase()),
        "lowercase: {message}"
    );
    assert_eq!(
        err.source().is_some(),
        matches!(err, Error::Invariant { .. }),
        "{message}"
    );
    message
}

fn counter(heap: &mut Heap, n: i64) -> Mutable<Counter> {
    heap.mutable(Counter { n, next: None }).unwrap()
}

#[test]
fn removed() {
    let mut heap = Heap::new();
    let c = counter(&mut heap, 1);
    heap.remove(&c).unwrap();
    let err = heap.get(&c).unwrap_err();
    assert!(matches!(err, Error::Removed { object, .. } if object == c.id()));
    assert!(well_formed(&err).contains("was removed"));
}

#[test]
fn foreign_handle() {
    let heap = Heap::new();
    let mut other = Heap::new();
    let c = counter(&mut other, 1);
    let err = heap.get(&c).unwrap_err();
    assert!(matches!(err, Error::ForeignHandle { object, .. } if object == c.id()));
    well_formed(&err);
}

#[test]
fn invariant() {
    let mut heap = Heap::new();
    let c = counter(&mut heap, 1);
    let err = Counter::set_n(&mut heap, &c, -1).unwrap_err();
    let name = err.invariant().expect("an invariant failure");
    assert_eq!((name.object, name.cache), (c.id(), "nonneg"));
    assert_eq!(
        well_formed(&err),
        format!("invariant Counter::nonneg of {} failed", c.id())
    );
    assert_eq!(err.source().unwrap().to_string(), "the count is negative");
    // A refused creation hands the value back inside the error.
    let err = heap.mutable(Counter { n: -5, next: None }).unwrap_err();
    assert_eq!(err.into_value::<Counter>().map(|c| c.n), Some(-5));
}

#[test]
fn cycle() {
    let mut heap = Heap::new();
    let c = counter(&mut heap, 1);
    Counter::set_next(&mut heap, &c, Some(c.clone())).unwrap();
    let err = Counter::chained(&heap, &c).unwrap_err();
    let Error::Cycle { chain } = &err else {
        panic!("not a cycle: {err}");
    };
    assert_eq!(chain[0].object, c.id());
    assert!(well_formed(&err).starts_with("cycle of 1 cache"));
}

/// A hand-written type whose cache is listed at the wrong position.
struct Misdeclared;

const WRONG: Cache<Misdeclared, u32> = Cache::lazy_read::<1>("wrong", |_| 0);

impl steadfast::Aliasable for Misdeclared {}

impl Object for Misdeclared {
    const FIELDS: &'static [&'static str] = &[];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&WRONG];
    type Cells = (CacheCell<u32>, CacheCell<u32>);
    type Saved = ();
    fn save(&self, _: FieldMask) -> Option<()> {
        Some(())
    }
    fn restore(&mut self, _: ()) {}
}

#[test]
fn schema() {
    let mut heap = Heap::new();
    let err = heap.mutable(Misdeclared).unwrap_err();
    assert!(matches!(err, Error::Schema { .. }));
    assert!(well_formed(&err).contains("listed at 0 but has index 1"));
}

#[test]
fn immutable_and_aliased() {
    let mut heap = Heap::new();
    let c = counter(&mut heap, 1);
    let outsider = heap
        .mutable(Counter {
            n: 2,
            next: Some(c.clone()),
        })
        .unwrap();
    let holder = heap.capsule(Holder { first: c.clone() }).unwrap();
    let err = heap.freeze(holder).unwrap_err();
    assert!(
        matches!(err.error(), Error::Aliased { object, holder, .. } if *object == c.id() && *holder == outsider.id())
    );
    well_formed(err.error());
    let holder = err.into_capsule();
    Counter::set_next(&mut heap, &outsider, None).unwrap();
    heap.freeze(holder).unwrap();
    let err = Counter::set_n(&mut heap, &c, 3).unwrap_err();
    assert!(matches!(err, Error::Immutable { object, .. } if object == c.id()));
    well_formed(&err);
}

#[test]
fn referenced() {
    let mut heap = Heap::new();
    let leaf = heap.imm(Leaf { v: 1, next: None }).unwrap();
    let _root = heap
        .imm(Leaf {
            v: 2,
            next: Some(leaf),
        })
        .unwrap();
    let err = heap.remove(&leaf).unwrap_err();
    assert!(matches!(err, Error::Referenced { object, holders: 1, .. } if object == leaf.id()));
    well_formed(&err);
}

#[test]
fn not_owned() {
    let mut heap = Heap::new();
    let c = counter(&mut heap, 1);
    // A capsule the bank does not hold (the selector must return a reference that outlives
    // the bank's value: a leaked one).
    let elsewhere: &'static Capsule<Holder> =
        Box::leak(Box::new(heap.capsule(Holder { first: c.clone() }).unwrap()));
    let bank = heap.mutable(Bank { accounts: vec![] }).unwrap();
    let err = heap
        .transaction(|tx| tx.through(&bank, |_| elsewhere, |_, _| Ok::<_, Error>(())))
        .unwrap_err();
    assert!(
        matches!(err, Error::NotOwned { owner, object } if owner == bank.id() && object == elsewhere.id())
    );
    well_formed(&err);
}

#[test]
fn panicked() {
    let mut heap = Heap::new();
    let zero = heap.imm(Leaf { v: 0, next: None }).unwrap();
    let err = Leaf::inverse(&heap, &zero).unwrap_err();
    assert!(matches!(&err, Error::Panicked { cache, .. } if cache.cache == "inverse"));
    well_formed(&err);
}

#[test]
fn norm_dangling_edge() {
    let mut g = steadfast::norm::Graph::new();
    g.add_node(0, [3]);
    let err = g.normalize().unwrap_err();
    assert!(matches!(
        err,
        steadfast::norm::Error::DanglingEdge {
            from: 0,
            to: 3,
            nodes: 1
        }
    ));
    assert!(err.to_string().starts_with("node 0"));
}
