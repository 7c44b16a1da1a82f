//! Overlays: a hit through an overlay (on an object it did not write, and on one it wrote)
//! against the base's hit; a base write with k open overlays that did not read it against
//! the same write with none; and the editor's scenario at scale — an environment of n
//! modules (1,000 to 100,000), one edited in an overlay, then queried — against rebuilding
//! the overlay from its parent on each edit (the approach the scenario rejects), at 10,000.
//!
//! `cargo bench -p steadfast-benches --bench overlay` (full), `-- --quick` for CI.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use steadfast::Heap;
use steadfast_benches::env::{Env, Module};
use steadfast_benches::Point;

fn hits(c: &mut Criterion) {
    let mut g = c.benchmark_group("overlay hit");
    let mut heap = Heap::new();
    let p = heap
        .mutable(Point {
            x: 3.0,
            y: 4.0,
            z: 1.0,
        })
        .unwrap();
    let q = heap
        .mutable(Point {
            x: 6.0,
            y: 8.0,
            z: 1.0,
        })
        .unwrap();
    let ov = heap.overlay();
    Point::set_x(&mut heap.layer_mut(&ov).unwrap(), &q, 0.0).unwrap();
    Point::dist(&heap, &p).unwrap();
    g.bench_function("base", |b| {
        b.iter(|| black_box(*heap.cached(black_box(&p), &Point::DIST).unwrap()))
    });
    let layer = heap.layer(&ov).unwrap();
    layer.cached(&p, &Point::DIST).unwrap();
    layer.cached(&q, &Point::DIST).unwrap();
    g.bench_function("through an overlay, object it did not write", |b| {
        b.iter(|| black_box(*layer.cached(black_box(&p), &Point::DIST).unwrap()))
    });
    g.bench_function("through an overlay, object it wrote", |b| {
        b.iter(|| black_box(*layer.cached(black_box(&q), &Point::DIST).unwrap()))
    });
    g.finish();
}

fn base_writes(c: &mut Criterion) {
    let mut g = c.benchmark_group("base write with k overlays that did not read it");
    for k in [0usize, 1, 8, 64] {
        let mut heap = Heap::new();
        let p = heap
            .mutable(Point {
                x: 3.0,
                y: 4.0,
                z: 1.0,
            })
            .unwrap();
        let others: Vec<_> = (0..k)
            .map(|i| {
                heap.mutable(Point {
                    x: i as f64,
                    y: 1.0,
                    z: 1.0,
                })
                .unwrap()
            })
            .collect();
        // Each overlay wrote, and read, an object of its own.
        for other in &others {
            let ov = heap.overlay();
            Point::set_y(&mut heap.layer_mut(&ov).unwrap(), other, 2.0).unwrap();
            heap.layer(&ov)
                .unwrap()
                .cached(other, &Point::DIST)
                .unwrap();
        }
        Point::dist(&heap, &p).unwrap();
        let mut x = 0.0;
        g.bench_function(BenchmarkId::from_parameter(k), |b| {
            b.iter(|| {
                x += 1.0;
                Point::set_x(&mut heap, black_box(&p), x).unwrap();
                black_box(*Point::dist(&heap, &p).unwrap())
            })
        });
    }
    g.finish();
}

fn environment(c: &mut Criterion) {
    let mut g = c.benchmark_group("environment of n modules, one edited, then queried");
    g.sample_size(20);
    // The overlay's cost is what depends on the edited module: the same at every size.
    for n in [1_000usize, 10_000, 100_000] {
        let mut env = Env::new(n);
        env.check_all();
        let edited = env.modules[n / 2].clone();
        let ov = env.heap.overlay();
        let mut version = 0u64;
        g.bench_function(BenchmarkId::new("in an overlay", n), |b| {
            b.iter(|| {
                version += 1;
                let mut layer = env.heap.layer_mut(&ov).unwrap();
                Module::set_source(&mut layer, &edited, version).unwrap();
                black_box(env.query(&ov, n / 2))
            })
        });
        if n == 10_000 {
            let name = BenchmarkId::new("the overlay rebuilt from its parent", n);
            g.bench_function(name, |b| {
                b.iter(|| {
                    version += 1;
                    let mut rebuilt = env.rebuilt(&[(n / 2, version)]);
                    black_box(rebuilt.query_base(n / 2))
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, hits, base_writes, environment);
criterion_main!(benches);
