//! A loop of cache hits through a `Mutable` handle, for instruction counts:
//! `hitprof N` reads `N` times (run it at two sizes under callgrind; the difference over the
//! extra reads is the cost of one).

use std::hint::black_box;
use steadfast::{cached, mutable, Heap};

#[mutable]
struct P {
    x: f64,
    y: f64,
}
#[cached]
impl P {
    #[cache(lazy_read)]
    fn dist(x: &f64, y: &f64) -> f64 {
        (x * x + y * y).sqrt()
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let mut heap = Heap::new();
    let p = heap.mutable(P { x: 3.0, y: 4.0 }).unwrap();
    let mut s = 0.0;
    for _ in 0..n {
        s += *P::dist(black_box(&heap), black_box(&p)).unwrap();
    }
    println!("{s}");
}
