//! Setters with one invariant each, for instruction counts: `txprof tx K ROUNDS` runs
//! `ROUNDS` transactions of `K` setters, `txprof set K ROUNDS` the same setters one by one.

use std::hint::black_box;
use steadfast::{cached, mutable, Error, Heap, Mutable};

/// The invariant's error.
#[derive(Debug)]
pub struct Negative;
impl std::fmt::Display for Negative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("negative")
    }
}
impl std::error::Error for Negative {}

/// A counter that must not go negative.
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

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let k: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(100);
    let rounds: usize = std::env::args()
        .nth(3)
        .map(|s| s.parse().unwrap())
        .unwrap_or(10000);
    let mut heap = Heap::new();
    let cs: Vec<Mutable<Counter>> = (0..k)
        .map(|i| heap.mutable(Counter { v: i as i64 }).unwrap())
        .collect();
    let mut n = 0i64;
    for _ in 0..rounds {
        n = (n + 1) & 1023;
        if mode == "tx" {
            heap.transaction(|tx| {
                for c in &cs {
                    Counter::set_v(tx, c, n)?;
                }
                Ok::<_, Error>(())
            })
            .unwrap();
        } else {
            for c in &cs {
                Counter::set_v(&mut heap, c, n).unwrap();
            }
        }
        black_box(&heap);
    }
}
