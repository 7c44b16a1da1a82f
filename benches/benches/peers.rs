//! The same point, its two cached values, and the two core workloads in one run: by hand,
//! with steadfast, with salsa and with comemo.
//!
//! `cargo bench -p steadfast-benches --bench peers` (full), `-- --quick` for CI.

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use comemo::{Track, Tracked};
use criterion::{criterion_group, criterion_main, Criterion};
use salsa::Setter;
use steadfast_benches::{hit_rows, set_then_read_rows};

// ---------------------------------------------------------------- salsa

#[salsa::input]
struct SalsaPoint {
    #[returns(copy)]
    x: f64,
    #[returns(copy)]
    y: f64,
    #[returns(copy)]
    z: f64,
}

#[salsa::tracked(returns(copy))]
fn salsa_dist(db: &dyn salsa::Database, p: SalsaPoint) -> f64 {
    let (x, y) = (p.x(db), p.y(db));
    (x * x + y * y).sqrt()
}

#[salsa::tracked(returns(copy))]
fn salsa_height(db: &dyn salsa::Database, p: SalsaPoint) -> f64 {
    p.z(db).abs()
}

#[salsa::db]
#[derive(Default, Clone)]
struct SalsaDb {
    storage: salsa::Storage<Self>,
}

#[salsa::db]
impl salsa::Database for SalsaDb {}

// ---------------------------------------------------------------- comemo

/// comemo records what a memoized call read by hashing the answers of tracked methods, so
/// they answer the coordinates' bits (an `f64` is not `Hash`).
struct ComemoPoint {
    x: f64,
    y: f64,
    z: f64,
}

#[comemo::track]
impl ComemoPoint {
    fn x(&self) -> u64 {
        self.x.to_bits()
    }
    fn y(&self) -> u64 {
        self.y.to_bits()
    }
    fn z(&self) -> u64 {
        self.z.to_bits()
    }
}

#[comemo::memoize]
fn comemo_dist(p: Tracked<'_, ComemoPoint>) -> f64 {
    let (x, y) = (f64::from_bits(p.x()), f64::from_bits(p.y()));
    (x * x + y * y).sqrt()
}

#[comemo::memoize]
fn comemo_height(p: Tracked<'_, ComemoPoint>) -> f64 {
    f64::from_bits(p.z()).abs()
}

/// comemo keeps every result until evicted, and a call scans the results its function kept
/// for the same untracked arguments, so a point written again and again must be evicted now
/// and then (`evict(1)` keeps what was used since the last eviction). Measured per
/// write-then-read, evicting every 1, 16, 64 and 256 writes: 152 ms, 430 ns, 413 ns,
/// 590 µs (eviction walks state that grows with every `track()` call). 64 is used.
const EVICT_EVERY: u32 = 64;

// ---------------------------------------------------------------- a chain of caches

/// The chain's length, and the link whose value stays equal when the base changes a little.
const CHAIN: u32 = 1_000;
const COARSE: u32 = 500;

/// Counts computations of chain links, to show where each crate stopped.
static LINK_RUNS: AtomicUsize = AtomicUsize::new(0);

fn link_value(below: i64, depth: u32) -> i64 {
    LINK_RUNS.fetch_add(1, Ordering::Relaxed);
    if depth == COARSE {
        below / 1_000_000_000
    } else {
        below + 1
    }
}

#[steadfast::mutable]
struct Base {
    v: i64,
}

#[steadfast::cached]
impl Base {}

#[derive(Clone, steadfast::Plain)]
enum Below {
    Base(steadfast::Mutable<Base>),
    Link(steadfast::Mutable<Link>),
}

#[steadfast::mutable]
struct Link {
    below: Below,
    depth: u32,
}

#[steadfast::cached]
impl Link {
    #[cache(lazy_read)]
    fn value(below: &Below, depth: &u32, ctx: &steadfast::Ctx<'_, Self>) -> i64 {
        let v = match below {
            Below::Base(b) => ctx.field_of(b, &Base::V).copied(),
            Below::Link(l) => ctx.cached(l, &Link::VALUE).copied(),
        };
        link_value(v.unwrap_or(0), *depth)
    }
}

#[salsa::input]
struct SalsaBase {
    #[returns(copy)]
    v: i64,
}

#[salsa::tracked(returns(copy))]
fn salsa_link(db: &dyn salsa::Database, base: SalsaBase, depth: u32) -> i64 {
    let below = if depth == 1 {
        base.v(db)
    } else {
        salsa_link(db, base, depth - 1)
    };
    link_value(below, depth)
}

// ---------------------------------------------------------------- workloads

fn hit(c: &mut Criterion) {
    let mut g = c.benchmark_group("peers hit");
    hit_rows(&mut g);
    let db = SalsaDb::default();
    let sp = SalsaPoint::new(&db, 3.0, 4.0, 1.0);
    salsa_dist(&db, sp);
    g.bench_function("salsa", |b| {
        b.iter(|| black_box(salsa_dist(&db, black_box(sp))))
    });
    let cp = ComemoPoint {
        x: 3.0,
        y: 4.0,
        z: 1.0,
    };
    comemo_dist(cp.track());
    g.bench_function("comemo", |b| {
        b.iter(|| black_box(comemo_dist(black_box(&cp).track())))
    });
    g.finish();
    comemo::evict(0);
}

fn set_then_read(c: &mut Criterion) {
    let mut g = c.benchmark_group("peers set_then_read");
    set_then_read_rows(&mut g);
    let mut db = SalsaDb::default();
    let sp = SalsaPoint::new(&db, 3.0, 4.0, 1.0);
    salsa_dist(&db, sp);
    salsa_height(&db, sp);
    let mut i = 0.0;
    g.bench_function("salsa", |b| {
        b.iter(|| {
            i += 1.0;
            black_box(sp).set_x(&mut db).to(i);
            black_box(salsa_dist(&db, sp) + salsa_height(&db, sp))
        })
    });
    let mut cp = ComemoPoint {
        x: 3.0,
        y: 4.0,
        z: 1.0,
    };
    let (mut i, mut n) = (0.0, 0u32);
    g.bench_function("comemo", |b| {
        b.iter(|| {
            i += 1.0;
            black_box(&mut cp).x = i;
            let v = comemo_dist(cp.track()) + comemo_height(cp.track());
            n += 1;
            if n % EVICT_EVERY == 0 {
                comemo::evict(1);
            }
            black_box(v)
        })
    });
    g.finish();
    comemo::evict(0);
}

/// A chain of 1,000 caches over one base; the write changes the base, and the 500th link
/// computes an equal value, so an incremental system stops there (early cutoff in
/// steadfast, backdating in salsa). Each iteration writes the base and reads the top.
fn chain(c: &mut Criterion) {
    let mut g = c.benchmark_group("peers chain of 1000, cutoff at 500");
    let mut heap = steadfast::Heap::new();
    let base = heap.mutable(Base { v: 0 }).unwrap();
    let mut below = Below::Base(base.clone());
    let mut top = None;
    for depth in 1..=CHAIN {
        let link = heap.mutable(Link { below, depth }).unwrap();
        below = Below::Link(link.clone());
        top = Some(link);
    }
    let top = top.unwrap();
    Link::value(&heap, &top).unwrap();
    LINK_RUNS.store(0, Ordering::Relaxed);
    Base::set_v(&mut heap, &base, 1).unwrap();
    Link::value(&heap, &top).unwrap();
    println!(
        "steadfast: one write recomputed {} of {CHAIN} links",
        LINK_RUNS.swap(0, Ordering::Relaxed)
    );
    let mut i = 1;
    g.bench_function("steadfast", |b| {
        b.iter(|| {
            i += 1;
            Base::set_v(&mut heap, &base, i).unwrap();
            black_box(*Link::value(&heap, &top).unwrap())
        })
    });
    let mut db = SalsaDb::default();
    let sb = SalsaBase::new(&db, 0);
    salsa_link(&db, sb, CHAIN);
    LINK_RUNS.store(0, Ordering::Relaxed);
    sb.set_v(&mut db).to(1);
    salsa_link(&db, sb, CHAIN);
    println!(
        "salsa: one write recomputed {} of {CHAIN} links",
        LINK_RUNS.swap(0, Ordering::Relaxed)
    );
    let mut i = 1;
    g.bench_function("salsa", |b| {
        b.iter(|| {
            i += 1;
            sb.set_v(&mut db).to(i);
            black_box(salsa_link(&db, sb, CHAIN))
        })
    });
    g.finish();
}

criterion_group!(benches, hit, set_then_read, chain);
criterion_main!(benches);
