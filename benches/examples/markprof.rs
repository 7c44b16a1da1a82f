//! Writes for instruction counts: `markprof setread ROUNDS` sets a field and reads the cache
//! of it, `ROUNDS` times (the own path); `markprof fan N ROUNDS` writes a field that `N`
//! caches of other objects read, `ROUNDS` times, reading none of them between, so that
//! each write marks `N` cells through the barrier (run it at two sizes under callgrind: the
//! difference per extra cell is the cost of marking one).

use std::hint::black_box;
use steadfast::{cached, mutable, Heap};
use steadfast_benches::{Reader, Source};

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

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let mut heap = Heap::new();
    match mode.as_str() {
        "setread" => {
            let rounds = arg(2, 1_000_000);
            let p = heap.mutable(P { x: 3.0, y: 4.0 }).unwrap();
            let mut s = 0.0;
            for i in 0..rounds {
                P::set_x(black_box(&mut heap), black_box(&p), i as f64).unwrap();
                s += *P::dist(black_box(&heap), black_box(&p)).unwrap();
            }
            println!("{s}");
        }
        "fan" => {
            let (n, rounds) = (arg(2, 1_000), arg(3, 1_000));
            let source = heap.mutable(Source { v: 0 }).unwrap();
            let readers: Vec<_> = (0..n)
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
            // The first write recomputes the caches read since they were computed; from
            // the second on, each write only marks them.
            for i in 0..rounds {
                Source::set_v(black_box(&mut heap), black_box(&source), i as i64).unwrap();
            }
            println!("{}", Reader::double(&heap, &readers[0]).unwrap());
        }
        _ => eprintln!("usage: markprof setread ROUNDS | markprof fan N ROUNDS"),
    }
}
