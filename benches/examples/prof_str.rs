#![allow(missing_docs)]
use std::hint::black_box;
use steadfast_benches::Point;
fn main() {
    let mut heap = steadfast::Heap::new();
    let p = heap.alloc(Point { x: 3.0, y: 4.0, z: 1.0 }).unwrap();
    Point::dist(&heap, &p).unwrap();
    Point::height(&heap, &p).unwrap();
    let n: u64 = std::env::args().nth(1).map_or(50_000_000, |s| s.parse().unwrap());
    let t = std::time::Instant::now();
    let mut i = 0.0;
    for _ in 0..n {
        i += 1.0;
        Point::set_x(&mut heap, black_box(&p), i).unwrap();
        black_box(Point::dist(&heap, &p).unwrap() + Point::height(&heap, &p).unwrap());
    }
    println!("{:.2} ns", t.elapsed().as_nanos() as f64 / n as f64);
}
