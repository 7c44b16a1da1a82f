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

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use comemo::Track;
use criterion::{criterion_group, criterion_main, Criterion};
use steadfast::Memo;

// ------------------------------------------------------------------------------ calc

const SCRIPTS: usize = 100;

/// Script `i`: its own number, then `eval` of up to five later scripts.
fn script(i: usize, version: u32) -> String {
    let mut text = format!("{}", i as u32 + version);
    for k in 1..=5 {
        let j = i + k * k;
        if j < SCRIPTS && (i + k) % 3 != 0 {
            text.push_str(&format!(" + eval f{j}"));
        }
    }
    text
}

/// Reads of either crate's files, to compare the calls each makes.
static READS: AtomicUsize = AtomicUsize::new(0);

/// The calc workload with file contents of type `$text`: `String` as comemo's example has
/// it, and `Arc<str>`, whose clones do not copy.
macro_rules! calc {
    ($name:ident, $text:ty) => {
        mod $name {
            use super::*;

            #[steadfast::interface]
            pub(super) trait Files: Send + Sync {
                fn read(&self, path: &str) -> $text;
            }

            pub(super) struct Disk(HashMap<String, $text>);

            impl Disk {
                pub(super) fn new() -> Self {
                    Disk(
                        (0..SCRIPTS)
                            .map(|i| (format!("f{i}"), script(i, 0).into()))
                            .collect(),
                    )
                }

                pub(super) fn write(&mut self, i: usize, version: u32) {
                    self.0.insert(format!("f{i}"), script(i, version).into());
                }
            }

            impl Files for Disk {
                fn read(&self, path: &str) -> $text {
                    READS.fetch_add(1, Ordering::Relaxed);
                    self.0
                        .get(path)
                        .cloned()
                        .unwrap_or_else(|| String::new().into())
                }
            }

            pub(super) type Evals = Memo<String, i64, dyn Files>;

            pub(super) fn evaluate(memo: &Evals, script: &str, files: &dyn Files) -> i64 {
                memo.get(script, files, |script, files| {
                    script
                        .split('+')
                        .map(str::trim)
                        .map(|part| match part.strip_prefix("eval ") {
                            Some(path) => evaluate(memo, &files.read(path), files),
                            None => part.parse::<i64>().unwrap(),
                        })
                        .sum()
                })
                .expect("deterministic")
            }

            /// comemo's calc example, as it writes it.
            pub(super) struct ComemoDisk(pub(super) Disk);

            #[comemo::track]
            impl ComemoDisk {
                fn read(&self, path: &str) -> $text {
                    Files::read(&self.0, path)
                }
            }

            #[comemo::memoize]
            pub(super) fn comemo_evaluate(
                script: &str,
                files: comemo::Tracked<'_, ComemoDisk>,
            ) -> i64 {
                script
                    .split('+')
                    .map(str::trim)
                    .map(|part| match part.strip_prefix("eval ") {
                        Some(path) => comemo_evaluate(&files.read(path), files),
                        None => part.parse::<i64>().unwrap(),
                    })
                    .sum()
            }

            /// One iteration: change file `round * 37 % SCRIPTS`, then evaluate every
            /// script.
            fn round(round: &mut u32, disk: &mut Disk, eval: impl Fn(&str, &Disk) -> i64) -> i64 {
                *round += 1;
                disk.write(*round as usize * 37 % SCRIPTS, *round);
                (0..SCRIPTS)
                    .map(|i| eval(&format!("eval f{i}"), disk))
                    .sum()
            }

            pub(super) fn bench(c: &mut Criterion) {
                let mut g = c.benchmark_group(concat!("calc/", stringify!($name)));
                {
                    let memo = Evals::new();
                    let mut disk = Disk::new();
                    let mut n = 0;
                    let eval = |s: &str, d: &Disk| evaluate(&memo, s, d);
                    round(&mut n, &mut disk, eval);
                    READS.store(0, Ordering::Relaxed);
                    for _ in 0..100 {
                        round(&mut n, &mut disk, eval);
                    }
                    println!(
                        "calc/{}/steadfast: {} reads per iteration, {} nodes",
                        stringify!($name),
                        READS.swap(0, Ordering::Relaxed) / 100,
                        memo.nodes()
                    );
                    g.bench_function("steadfast", |b| {
                        b.iter(|| black_box(round(&mut n, &mut disk, eval)))
                    });
                }
                {
                    let mut disk = ComemoDisk(Disk::new());
                    let mut n = 0;
                    let round_of = |n: &mut u32, disk: &mut ComemoDisk| {
                        *n += 1;
                        disk.0.write(*n as usize * 37 % SCRIPTS, *n);
                        let sum = (0..SCRIPTS)
                            .map(|i| comemo_evaluate(&format!("eval f{i}"), disk.track()))
                            .sum::<i64>();
                        // As typst does after each compilation: keep what the last few used.
                        comemo::evict(10);
                        sum
                    };
                    round_of(&mut n, &mut disk);
                    READS.store(0, Ordering::Relaxed);
                    for _ in 0..100 {
                        round_of(&mut n, &mut disk);
                    }
                    println!(
                        "calc/{}/comemo: {} reads per iteration",
                        stringify!($name),
                        READS.swap(0, Ordering::Relaxed) / 100
                    );
                    g.bench_function("comemo", |b| {
                        b.iter(|| black_box(round_of(&mut n, &mut disk)))
                    });
                    comemo::evict(0);
                }
                g.finish();
            }
        }
    };
}

calc!(string, String);
calc!(shared, std::sync::Arc<str>);

fn calc(c: &mut Criterion) {
    string::bench(c);
    shared::bench(c);
}

// ---------------------------------------------------------------------- many, one key

#[steadfast::interface]
trait Context: Send + Sync {
    fn location(&self) -> Option<u64>;
    fn styles(&self) -> &'static str;
}

struct Ctx {
    location: Option<u64>,
    styles: &'static str,
}

impl Context for Ctx {
    fn location(&self) -> Option<u64> {
        self.location
    }
    fn styles(&self) -> &'static str {
        self.styles
    }
}

fn contextual(context: &dyn Context) -> String {
    match context.location() {
        Some(5) => format!("Twenty has {}", context.styles()),
        Some(loc) => format!("Location: {loc}"),
        None => "No location".into(),
    }
}

struct ComemoCtx(Ctx);

#[comemo::track]
impl ComemoCtx {
    fn location(&self) -> Option<u64> {
        self.0.location
    }
    fn styles(&self) -> &'static str {
        self.0.styles
    }
}

#[comemo::memoize]
fn comemo_contextual(context: comemo::Tracked<'_, ComemoCtx>) -> String {
    match context.location() {
        Some(5) => format!("Twenty has {}", context.styles()),
        Some(loc) => format!("Location: {loc}"),
        None => "No location".into(),
    }
}

fn many_same_key(c: &mut Criterion) {
    let mut g = c.benchmark_group("many_same_key");
    let contexts: Vec<Ctx> = (0..1_000)
        .map(|i| Ctx {
            location: Some(i),
            styles: "styles",
        })
        .collect();
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
    let comemo: Vec<ComemoCtx> = (0..1_000)
        .map(|i| {
            ComemoCtx(Ctx {
                location: Some(i),
                styles: "styles",
            })
        })
        .collect();
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
