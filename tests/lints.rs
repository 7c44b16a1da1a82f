//! The derive's output passes the strictest lints a user may turn on: the code it generates
//! must not make a user's `#![deny(..)]` fail (clippy's lints are checked by
//! `cargo clippy --all-targets`, rustc's by every build).

#![deny(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    rust_2018_idioms,
    unused_qualifications,
    unreachable_pub,
    single_use_lifetimes,
    trivial_casts
)]

use steadfast::{cached, capsule, imm, mutable, Capsule, Ctx, Heap, Imm, Mutable};

/// A counter.
#[mutable]
pub struct Counter {
    /// Its count.
    pub n: i64,
    /// How often it was read: no cache reads it.
    #[untracked]
    pub reads: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// The invariant's error.
#[derive(Debug)]
pub struct Negative;

impl std::fmt::Display for Negative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("negative")
    }
}

impl std::error::Error for Negative {}

#[cached]
impl Counter {
    /// Twice the count.
    #[cache(lazy_read)]
    pub fn double(n: &i64) -> i64 {
        n * 2
    }

    /// Never negative.
    #[cache(now)]
    pub fn nonneg(n: &i64) -> Result<(), Negative> {
        if *n < 0 {
            Err(Negative)
        } else {
            Ok(())
        }
    }
}

/// A list of counters, owned.
#[capsule]
pub struct Tally {
    /// The numbers.
    #[capsule]
    pub items: Vec<i64>,
    /// Another object's counter.
    pub counter: Mutable<Counter>,
}

#[cached]
impl Tally {
    /// The sum of the items and the counter's double.
    #[cache(lazy_read)]
    pub fn total(items: &Vec<i64>, counter: &Mutable<Counter>, ctx: &Ctx<'_, Self>) -> i64 {
        items.iter().sum::<i64>() + ctx.cached(counter, &Counter::DOUBLE).map_or(0, |d| *d)
    }

    /// Adds an item.
    #[cache(clear)]
    pub fn push(items: &mut Vec<i64>, item: i64) {
        items.push(item);
    }
}

/// A point, immutable.
#[imm]
pub struct Point {
    /// Across.
    pub x: i64,
    /// Down.
    pub y: i64,
}

#[cached]
impl Point {
    /// The squared length.
    #[cache(lazy)]
    pub fn norm(&self) -> i64 {
        self.x * self.x + self.y * self.y
    }
}

#[test]
fn derived_code_passes_strict_lints() {
    let mut heap = Heap::new();
    let c = heap
        .mutable(Counter {
            n: 2,
            reads: std::sync::Arc::default(),
        })
        .unwrap();
    let t: Capsule<Tally> = heap
        .capsule(Tally {
            items: vec![1, 2],
            counter: c.clone(),
        })
        .unwrap();
    Tally::push(&mut heap, &t, 3).unwrap();
    assert_eq!(*Tally::total(&heap, &t).unwrap(), 10);
    assert!(Counter::nonneg(&heap, &c).unwrap().is_ok());
    let p: Imm<Point> = heap.imm(Point { x: 3, y: 4 }).unwrap();
    assert_eq!(*Point::norm(&heap, &p).unwrap(), 25);
}
