//! `Memo` (a function memoized by its interaction tree) against comemo 0.5 on comemo's own
//! workloads, and a long hit against the calls it replays.
//!
//! - `calc`: comemo's calc example at scale: 100 scripts, each evaluating up to five
//!   others; per iteration one file changes and every script is evaluated. Also prints the
//!   file reads per iteration of each.
//! - `many_same_key`: comemo's `test_many_with_same_key`: 1,000 contexts under one key;
//!   a hit on each.
//! - `long_hit`: a hit along a path of 1,000 calls that shares its first 999 with 999
//!   other entries, against the 1,000 calls made directly.
//!
//! `cargo bench -p steadfast-benches --bench interaction`

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::Duration;

use comemo::Track;
use criterion::{criterion_group, criterion_main, Criterion};
use steadfast::Memo;
use steadfast_benches::interaction::many::{
    comemo_contextual, contextual, ComemoCtx, Context, Ctx,
};
use steadfast_benches::interaction::{shared, string, READS};

// ------------------------------------------------------------------------------ calc

/// The calc workload of module `$m`, steadfast then comemo, in group `calc/$m`.
macro_rules! calc {
    ($c:expr, $m:ident) => {{
        use $m::{comemo_round, round, ComemoDisk, Disk, Evals};
        let mut g = $c.benchmark_group(concat!("calc/", stringify!($m)));
        {
            let memo = Evals::new();
            let mut disk = Disk::new();
            let mut n = 1;
            round(&memo, &mut disk, n);
            READS.store(0, Ordering::Relaxed);
            for _ in 0..100 {
                n += 1;
                round(&memo, &mut disk, n);
            }
            println!(
                "calc/{}/steadfast: {} reads per iteration, {} nodes",
                stringify!($m),
                READS.swap(0, Ordering::Relaxed) / 100,
                memo.nodes()
            );
            g.bench_function("steadfast", |b| {
                b.iter(|| {
                    n += 1;
                    black_box(round(&memo, &mut disk, n))
                })
            });
        }
        {
            let mut disk = ComemoDisk(Disk::new());
            let mut n = 1;
            comemo_round(&mut disk, n);
            READS.store(0, Ordering::Relaxed);
            for _ in 0..100 {
                n += 1;
                comemo_round(&mut disk, n);
            }
            println!(
                "calc/{}/comemo: {} reads per iteration",
                stringify!($m),
                READS.swap(0, Ordering::Relaxed) / 100
            );
            g.bench_function("comemo", |b| {
                b.iter(|| {
                    n += 1;
                    black_box(comemo_round(&mut disk, n))
                })
            });
            comemo::evict(0);
        }
        g.finish();
    }};
}

fn calc(c: &mut Criterion) {
    calc!(c, string);
    calc!(c, shared);
}

// ---------------------------------------------------------------------- many, one key

fn many_same_key(c: &mut Criterion) {
    let mut g = c.benchmark_group("many_same_key");
    let contexts: Vec<Ctx> = (0..1_000).map(|i| Ctx(Some(i))).collect();
    let memo: Memo<(), String, dyn Context> = Memo::new();
    for ctx in &contexts {
        memo.get(&(), ctx, |_, c| contextual(c)).unwrap();
    }
    let mut i = 0;
    g.bench_function("steadfast hit", |b| {
        b.iter(|| {
            i = (i + 1) % contexts.len();
            black_box(memo.get(&(), &contexts[i], |_, c| contextual(c)).unwrap())
        })
    });
    let comemo: Vec<ComemoCtx> = (0..1_000).map(|i| ComemoCtx(Some(i))).collect();
    for ctx in &comemo {
        comemo_contextual(ctx.track());
    }
    g.bench_function("comemo hit", |b| {
        b.iter(|| {
            i = (i + 1) % comemo.len();
            black_box(comemo_contextual(comemo[i].track()))
        })
    });
    comemo::evict(0);
    g.finish();
}

// ------------------------------------------------------------------------- long hit

#[steadfast::interface]
trait Table: Send + Sync {
    fn get(&self, i: u32) -> u64;
}

/// Entry `i` of table `t`: equal in every table but the last.
struct Numbers(u64);

impl Table for Numbers {
    #[inline(never)]
    fn get(&self, i: u32) -> u64 {
        if i == CALLS - 1 {
            self.0
        } else {
            u64::from(i)
        }
    }
}

const CALLS: u32 = 1_000;

fn sum(t: &dyn Table) -> u64 {
    (0..CALLS).map(|i| t.get(i)).sum()
}

fn long_hit(c: &mut Criterion) {
    let mut g = c.benchmark_group("long_hit");
    let tables: Vec<Numbers> = (0..1_000).map(Numbers).collect();
    let memo: Memo<(), u64, dyn Table> = Memo::new();
    for t in &tables {
        memo.get(&(), t, |_, t| sum(t)).unwrap();
    }
    assert_eq!(memo.stats().misses, 1_000);
    let t = &tables[500];
    g.bench_function("direct calls", |b| b.iter(|| black_box(sum(black_box(t)))));
    g.bench_function("memo hit", |b| {
        b.iter(|| black_box(memo.get(&(), black_box(t), |_, _| unreachable!()).unwrap()))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = calc, many_same_key, long_hit
}
criterion_main!(benches);
