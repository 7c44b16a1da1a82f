//! The first read of a chain of caches, each reading the next through `ctx` (a column of
//! running totals): the cost per link at depths 10, 1,000 and 1,000,000, against a
//! hand-written recursive memo (which overflows the stack long before a million).
//!
//! `cargo bench -p steadfast-benches --bench depth` (full), `-- --quick` for CI.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use steadfast::{cached, mutable, Ctx, Heap, Mutable};

#[mutable]
struct Link {
    value: i64,
    below: Option<Mutable<Link>>,
}

#[cached]
impl Link {
    #[cache(lazy_read)]
    fn sum(value: &i64, below: &Option<Mutable<Link>>, ctx: &Ctx<'_, Self>) -> Option<i64> {
        match below {
            Some(below) => Some(value + (*ctx.cached(below, &Link::SUM).ok()?)?),
            None => Some(*value),
        }
    }
}

fn column(n: usize) -> (Heap, Mutable<Link>) {
    let mut heap = Heap::new();
    let mut below = None;
    for _ in 0..n {
        below = Some(heap.mutable(Link { value: 1, below }).unwrap());
    }
    (heap, below.expect("n > 0"))
}

/// The hand-written equivalent: values in a `Vec`, each link's total memoized in an
/// `Option` and computed by recursion into the link below.
struct HandColumn {
    values: Vec<i64>,
    sums: Vec<Option<i64>>,
}

impl HandColumn {
    fn sum(&mut self, i: usize) -> i64 {
        if let Some(s) = self.sums[i] {
            return s;
        }
        let s = self.values[i] + if i == 0 { 0 } else { self.sum(i - 1) };
        self.sums[i] = Some(s);
        s
    }
}

fn first_read(c: &mut Criterion) {
    let mut g = c.benchmark_group("first_read_per_link");
    for depth in [10usize, 1_000, 1_000_000] {
        g.throughput(Throughput::Elements(depth as u64));
        if depth >= 1_000_000 {
            g.sample_size(10);
        }
        g.bench_with_input(BenchmarkId::new("steadfast", depth), &depth, |b, &n| {
            b.iter_batched(
                || column(n),
                |(heap, top)| {
                    black_box(*Link::sum(&heap, &top).unwrap());
                    // Dropped outside the timing.
                    (heap, top)
                },
                BatchSize::PerIteration,
            )
        });
        if depth <= 1_000 {
            g.bench_with_input(BenchmarkId::new("hand-written", depth), &depth, |b, &n| {
                b.iter_batched(
                    || HandColumn {
                        values: vec![1; n],
                        sums: vec![None; n],
                    },
                    |mut col| {
                        black_box(col.sum(n - 1));
                        col
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    g.finish();
}

criterion_group!(benches, first_read);
criterion_main!(benches);
