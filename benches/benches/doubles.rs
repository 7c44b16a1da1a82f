//! A call answered by a test double: steadfast's `Double` against unimock 0.6 on the same
//! traits, and against a hand-written implementation.
//!
//! - `returns`: a clause answering every call with a value (`each_call().returns(3)`).
//! - `answers`: a clause answering with a function of the arguments.
//! - `mutates`: a clause whose function appends to a `&mut String` parameter.
//! - `when`: the second of two clauses, the first refusing the arguments.
//!
//! Each double answers 10,000 calls and is then dropped, untimed (a steadfast double keeps
//! the calls it received, so that one used for millions of calls would measure its
//! record's growth).
//!
//! `cargo bench -p steadfast-benches --bench doubles`

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use unimock::{matching, unimock, MockFn, Unimock};

const CALLS: u64 = 10_000;

#[steadfast::interface]
trait Calc: Send + Sync {
    fn add(&self, a: u32, b: u32) -> u32;
    fn write(&self, out: &mut String, n: u32);
}

#[unimock(api = CalcMock)]
trait CalcU {
    fn add(&self, a: u32, b: u32) -> u32;
    fn write(&self, out: &mut String, n: u32);
}

struct Hand;

impl Calc for Hand {
    fn add(&self, a: u32, b: u32) -> u32 {
        a + b
    }
    fn write(&self, out: &mut String, n: u32) {
        out.push(char::from(b'a' + (n % 26) as u8));
    }
}

/// A call of `add`, its argument and result opaque to the optimizer.
macro_rules! add {
    () => {
        |d, i| {
            black_box(d.add(black_box(i as u32), 2));
        }
    };
}

/// Times `iters` calls of `call` on doubles made by `make`, `CALLS` per double.
fn timed<D>(iters: u64, make: impl Fn() -> D, call: impl Fn(&D, u64)) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = CALLS.min(iters - done);
        let double = make();
        let start = Instant::now();
        for i in 0..n {
            call(&double, i);
        }
        total += start.elapsed();
        drop(double);
        done += n;
    }
    total
}

fn doubles(c: &mut Criterion) {
    let mut g = c.benchmark_group("double/returns");
    g.bench_function("hand-written", |b| {
        b.iter_custom(|n| timed(n, || Hand, add!()))
    });
    g.bench_function("steadfast", |b| {
        b.iter_custom(|n| {
            timed(
                n,
                || CalcDouble::new([CalcApi::ADD.each_call().returns(3)]),
                add!(),
            )
        })
    });
    g.bench_function("unimock", |b| {
        b.iter_custom(|n| {
            timed(
                n,
                || Unimock::new(CalcMock::add.each_call(matching!(_, _)).returns(3u32)),
                add!(),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("double/answers");
    g.bench_function("steadfast", |b| {
        b.iter_custom(|n| {
            timed(
                n,
                || CalcDouble::new([CalcApi::ADD.each_call().answers(&|_, a, b| a + b)]),
                add!(),
            )
        })
    });
    g.bench_function("unimock", |b| {
        b.iter_custom(|n| {
            timed(
                n,
                || {
                    Unimock::new(
                        CalcMock::add
                            .each_call(matching!(_, _))
                            .answers(&|_, a, b| a + b),
                    )
                },
                add!(),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("double/mutates");
    g.bench_function("hand-written", |b| {
        b.iter_custom(|n| {
            timed(
                n,
                || Hand,
                |d, i| {
                    let mut out = String::new();
                    d.write(&mut out, i as u32);
                    black_box(out);
                },
            )
        })
    });
    g.bench_function("steadfast", |b| {
        b.iter_custom(|n| {
            timed(
                n,
                || {
                    CalcDouble::new([CalcApi::WRITE
                        .each_call()
                        .answers(&|_, out, n| out.push(char::from(b'a' + (n % 26) as u8)))])
                },
                |d, i| {
                    let mut out = String::new();
                    d.write(&mut out, i as u32);
                    black_box(out);
                },
            )
        })
    });
    g.bench_function("unimock", |b| {
        b.iter_custom(|n| {
            timed(
                n,
                || {
                    Unimock::new(
                        CalcMock::write
                            .each_call(matching!(_, _))
                            .answers(&|_, out, n| out.push(char::from(b'a' + (n % 26) as u8))),
                    )
                },
                |d, i| {
                    let mut out = String::new();
                    d.write(&mut out, i as u32);
                    black_box(out);
                },
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("double/when");
    g.bench_function("steadfast", |b| {
        b.iter_custom(|n| {
            timed(
                n,
                || {
                    CalcDouble::new([
                        CalcApi::ADD
                            .each_call()
                            .when(|(a, _)| *a == u32::MAX)
                            .returns(0),
                        CalcApi::ADD.each_call().when(|(_, b)| *b == 2).returns(3),
                    ])
                },
                add!(),
            )
        })
    });
    g.bench_function("unimock", |b| {
        b.iter_custom(|n| {
            timed(
                n,
                || {
                    Unimock::new((
                        CalcMock::add
                            .each_call(matching!((a, _) if *a == u32::MAX))
                            .returns(0u32),
                        CalcMock::add.each_call(matching!(_, 2)).returns(3u32),
                    ))
                },
                add!(),
            )
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = doubles
}
criterion_main!(benches);
