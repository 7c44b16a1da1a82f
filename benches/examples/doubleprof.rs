//! A call answered by a test double's `returns` clause, for an instruction count:
//! `valgrind --tool=callgrind target/release/examples/doubleprof N [unimock]` for two values
//! of N; the difference over the difference in N is one call.

#![allow(missing_docs)]

use std::hint::black_box;

use unimock::{matching, unimock, MockFn, Unimock};

#[steadfast::interface]
trait Calc: Send + Sync {
    fn add(&self, a: u32, b: u32) -> u32;
}

#[unimock(api = CalcMock)]
trait CalcU {
    fn add(&self, a: u32, b: u32) -> u32;
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    if args.next().as_deref() == Some("unimock") {
        let d = Unimock::new(CalcMock::add.each_call(matching!(_, _)).returns(3u32));
        for i in 0..n {
            black_box(d.add(black_box(i), 2));
        }
    } else {
        let d = CalcDouble::new([CalcApi::ADD.each_call().returns(3)]);
        for i in 0..n {
            black_box(d.add(black_box(i), 2));
        }
    }
}
