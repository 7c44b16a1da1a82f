//! The core speed targets: a hit, a set-then-read, and invalidation propagation per
//! affected cache, each next to its hand-written equivalent.
//!
//! `cargo bench -p steadfast-benches --bench core` (full), `-- --quick` for CI.

#![allow(missing_docs)]

use std::any::Any;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use once_cell::sync::OnceCell;
use slotmap::{DefaultKey, SlotMap};
use steadfast::{AnyCache, Cache, CacheCell, Field, FieldMask, Heap, Mutable, Object};
use steadfast_benches::{hit_rows, set_then_read_rows};

#[derive(Clone)]
struct Leaf {
    v: i64,
}

impl Leaf {
    const V: Field<Leaf, i64> = Field::new(0, |l| &l.v, |l| &mut l.v);
}

impl steadfast::Aliasable for Leaf {}

impl Object for Leaf {
    const FIELDS: &'static [&'static str] = &["v"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[];
    type Cells = ();
    type Saved = i64;
    fn save(&self, _: FieldMask) -> Option<i64> {
        Some(self.v)
    }
    fn restore(&mut self, v: i64) {
        self.v = v;
    }
}

#[derive(Clone)]
struct Reader {
    leaf: Mutable<Leaf>,
}

impl Reader {
    const LEAF: Field<Reader, Mutable<Leaf>> = Field::new(0, |r| &r.leaf, |r| &mut r.leaf);
    const DOUBLE: Cache<Reader, i64> = Cache::lazy_read::<0>("double", |c| {
        c.field_of(c.field(&Reader::LEAF), &Leaf::V)
            .map_or(0, |v| v * 2)
    });
}

impl steadfast::Aliasable for Reader {}

impl Object for Reader {
    const FIELDS: &'static [&'static str] = &["leaf"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Reader::DOUBLE];
    type Cells = (CacheCell<i64>,);
    type Saved = Mutable<Leaf>;
    fn save(&self, _: FieldMask) -> Option<Mutable<Leaf>> {
        Some(self.leaf.clone())
    }
    fn restore(&mut self, leaf: Mutable<Leaf>) {
        self.leaf = leaf;
    }
}

fn hit(c: &mut Criterion) {
    let mut g = c.benchmark_group("hit");
    hit_rows(&mut g);
    // The floor of any heap that stores objects type-erased without `unsafe`: one slot
    // lookup, one `Any` downcast (a dynamic call) and one `OnceCell` read, nothing else.
    let mut erased: SlotMap<DefaultKey, Box<dyn Any + Send + Sync>> = SlotMap::new();
    let e = erased.insert(Box::new(ErasedPoint {
        x: 3.0,
        y: 4.0,
        dist: OnceCell::with_value(5.0),
    }));
    g.bench_function("floor: erased slot, downcast, once-cell read", |b| {
        b.iter(|| {
            let point = erased[black_box(e)].downcast_ref::<ErasedPoint>().unwrap();
            black_box(*point.dist.get().unwrap())
        })
    });
    black_box((
        erased[e].downcast_ref::<ErasedPoint>().unwrap().x,
        erased[e].downcast_ref::<ErasedPoint>().unwrap().y,
    ));
    // The same floor with steadfast's handle: 16 bytes (key and heap id), and the heap-id
    // check that turns another heap's handle into an error instead of another object.
    #[derive(Clone, Copy)]
    struct Wide {
        key: DefaultKey,
        heap: u64,
    }
    let wide = Wide { key: e, heap: 7 };
    let heap_id = 7u64;
    g.bench_function("floor with a 16-byte handle and its heap check", |b| {
        b.iter(|| {
            let h = black_box(wide);
            assert!(h.heap == heap_id, "another heap's handle");
            let point = erased[h.key].downcast_ref::<ErasedPoint>().unwrap();
            black_box(*point.dist.get().unwrap())
        })
    });
    g.finish();
}

/// The floor's object: a point with its cache cell inline, stored as `dyn Any`.
#[allow(dead_code)]
struct ErasedPoint {
    x: f64,
    y: f64,
    dist: OnceCell<f64>,
}

fn set_then_read(c: &mut Criterion) {
    let mut g = c.benchmark_group("set_then_read");
    set_then_read_rows(&mut g);
    g.finish();
}

fn invalidate(c: &mut Criterion) {
    let mut g = c.benchmark_group("invalidate_per_cache");
    const K: usize = 1000;
    let mut heap = Heap::new();
    let leaf = heap.mutable(Leaf { v: 0 }).unwrap();
    let readers: Vec<_> = (0..K)
        .map(|_| heap.mutable(Reader { leaf: leaf.clone() }).unwrap())
        .collect();
    // Read once, then never again: each write invalidates K caches (cold, so the barrier
    // only marks them).
    for r in &readers {
        heap.cached(r, &Reader::DOUBLE).unwrap();
    }
    let mut i = 0;
    g.bench_function(
        "steadfast, 1000 dependents (time / 1000 = per cache)",
        |b| {
            b.iter(|| {
                i += 1;
                heap.set(&leaf, &Leaf::V, i).unwrap();
                // Re-read all: a dependent that is not read stays invalid, and the next write
                // would find nothing to invalidate.
                for r in &readers {
                    heap.cached(r, &Reader::DOUBLE).unwrap();
                }
            })
        },
    );
    // Invalidation alone: the timed write finds 1000 valid caches that were not read since
    // they were last computed, so the barrier only marks them (nothing is recomputed).
    // Untimed set-up per iteration: read all (so the next write recomputes them at once,
    // leaving them valid and unread), then that write.
    g.bench_function(
        "steadfast, marking only, 1000 dependents (time / 1000 = per cache)",
        |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..iters {
                    for r in &readers {
                        heap.cached(r, &Reader::DOUBLE).unwrap();
                    }
                    i += 1;
                    heap.set(&leaf, &Leaf::V, i).unwrap();
                    i += 1;
                    let start = std::time::Instant::now();
                    heap.set(&leaf, &Leaf::V, black_box(i)).unwrap();
                    total += start.elapsed();
                }
                total
            })
        },
    );
    g.finish();
}

criterion_group!(benches, hit, set_then_read, invalidate);
criterion_main!(benches);
