//! An operation over k objects against the same writes done one by one: k setters, each
//! checked at its own end, versus one transaction checked once at its end.
//!
//! `cargo bench -p steadfast-benches --bench transactions` (full), `-- --quick` for CI.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use steadfast::{cached, mutable, Error, Heap, Mutable};

#[derive(Debug)]
pub struct Negative;

impl std::fmt::Display for Negative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("negative")
    }
}

impl std::error::Error for Negative {}

/// One field, an invariant on it and a cache of it: each write rechecks one invariant and
/// invalidates one cache.
#[mutable]
pub struct Counter {
    v: i64,
}

#[cached]
impl Counter {
    #[cache(now)]
    fn nonneg(v: &i64) -> Result<(), Negative> {
        if *v < 0 {
            Err(Negative)
        } else {
            Ok(())
        }
    }

    #[cache(lazy_read)]
    fn double(v: &i64) -> i64 {
        v * 2
    }
}

fn counters(heap: &mut Heap, k: usize) -> Vec<Mutable<Counter>> {
    (0..k)
        .map(|i| heap.mutable(Counter { v: i as i64 }).unwrap())
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("transaction over k objects");
    for k in [1usize, 2, 10, 100] {
        let mut heap = Heap::new();
        let cs = counters(&mut heap, k);
        let mut n = 0i64;
        g.bench_function(BenchmarkId::new("k setters one by one", k), |b| {
            b.iter(|| {
                n = (n + 1) & 1023;
                for c in &cs {
                    Counter::set_v(&mut heap, c, n).unwrap();
                }
                black_box(&heap);
            })
        });
        let mut heap = Heap::new();
        let cs = counters(&mut heap, k);
        let mut n = 0i64;
        g.bench_function(BenchmarkId::new("one transaction of k setters", k), |b| {
            b.iter(|| {
                n = (n + 1) & 1023;
                heap.transaction(|tx| {
                    for c in &cs {
                        Counter::set_v(tx, c, n)?;
                    }
                    Ok::<_, Error>(())
                })
                .unwrap();
                black_box(&heap);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
