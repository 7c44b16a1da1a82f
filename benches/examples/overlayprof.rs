//! A loop of cache hits, for instruction counts: `overlayprof N base|through|wrote` reads
//! `N` times on the heap, through an overlay on an object it did not write, or through an
//! overlay on an object it wrote (run it at two sizes under callgrind; the difference over the
//! extra reads is the cost of one).

use std::hint::black_box;
use steadfast::Heap;
use steadfast_benches::Point;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let mode = args.next().unwrap_or_else(|| "base".into());
    let mut heap = Heap::new();
    let point = |x| Point { x, y: 4.0, z: 1.0 };
    let p = heap.mutable(point(3.0)).unwrap();
    let q = heap.mutable(point(6.0)).unwrap();
    let ov = heap.overlay();
    Point::set_x(&mut heap.layer_mut(&ov).unwrap(), &q, 0.0).unwrap();
    let layer = heap.layer(&ov).unwrap();
    let mut s = 0.0;
    match mode.as_str() {
        "base" => {
            for _ in 0..n {
                s += *heap.cached(black_box(&p), &Point::DIST).unwrap();
            }
        }
        "through" => {
            for _ in 0..n {
                s += *layer.cached(black_box(&p), &Point::DIST).unwrap();
            }
        }
        "wrote" => {
            for _ in 0..n {
                s += *layer.cached(black_box(&q), &Point::DIST).unwrap();
            }
        }
        other => panic!("unknown mode {other}"),
    }
    println!("{s}");
}
