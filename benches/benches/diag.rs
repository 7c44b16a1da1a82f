//! What the diagnostics features cost: a hit, a set-then-read and marking one cell, run
//! once per feature set and compared (`docs/PERFORMANCE.md`, "Diagnostics"):
//!
//! ```sh
//! cargo bench -p steadfast-benches --bench diag
//! cargo bench -p steadfast-benches --bench diag --features stats
//! cargo bench -p steadfast-benches --bench diag --features explain
//! cargo bench -p steadfast-benches --bench diag --features tracing
//! ```

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use steadfast::Heap;
use steadfast_benches::{Point, Reader, Source};

/// The feature set this build runs with, naming its rows.
fn features() -> &'static str {
    match (
        cfg!(feature = "stats"),
        cfg!(feature = "explain"),
        cfg!(feature = "tracing"),
    ) {
        (false, false, false) => "no features",
        (true, false, false) => "stats",
        (false, true, false) => "explain",
        (false, false, true) => "tracing",
        _ => "several features",
    }
}

const FAN: usize = 1_000;

fn diag(c: &mut Criterion) {
    let mut heap = Heap::new();
    let p = heap
        .mutable(Point {
            x: 3.0,
            y: 4.0,
            z: 1.0,
        })
        .unwrap();
    Point::dist(&heap, &p).unwrap();
    let mut g = c.benchmark_group("diag hit");
    g.bench_function(features(), |b| {
        b.iter(|| *Point::dist(black_box(&heap), black_box(&p)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("diag set_then_read");
    let mut i = 0.0;
    g.bench_function(features(), |b| {
        b.iter(|| {
            i += 1.0;
            Point::set_x(black_box(&mut heap), black_box(&p), i).unwrap();
            *Point::dist(black_box(&heap), black_box(&p)).unwrap()
        })
    });
    g.finish();

    // A write that marks FAN cells, none read since: marking is the whole work.
    let source = heap.mutable(Source { v: 0 }).unwrap();
    let readers: Vec<_> = (0..FAN)
        .map(|_| {
            heap.mutable(Reader {
                source: source.clone(),
            })
            .unwrap()
        })
        .collect();
    for r in &readers {
        Reader::double(&heap, r).unwrap();
    }
    let mut g = c.benchmark_group("diag marking, per cell");
    g.throughput(Throughput::Elements(FAN as u64));
    let mut v = 0;
    g.bench_function(features(), |b| {
        b.iter(|| {
            v += 1;
            Source::set_v(black_box(&mut heap), black_box(&source), v).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, diag);
criterion_main!(benches);
