//! The tutorial's `Point`: a distance from the origin, cached lazily; the setters go through
//! the write barrier, so the distance is recomputed only after a write to `x` or `y`.
//!
//! `cargo run --example point`

use steadfast::{cached, mutable, Error, Heap};

#[mutable]
#[derive(Clone, Debug)]
struct Point {
    x: f64,
    y: f64,
    label: String,
}

#[cached]
impl Point {
    /// The distance from the origin.
    #[cache(lazy_read)]
    fn distance(x: &f64, y: &f64) -> f64 {
        println!("  (computing the distance of ({x}, {y}))");
        (x * x + y * y).sqrt()
    }
}

fn main() -> Result<(), Error> {
    let mut heap = Heap::new();
    let p = heap.mutable(Point {
        x: 3.0,
        y: 4.0,
        label: "p".into(),
    })?;

    println!("first read:");
    println!("  distance = {}", Point::distance(&heap, &p)?);
    println!("second read (a hit, nothing computed):");
    println!("  distance = {}", Point::distance(&heap, &p)?);

    println!("set_label: the distance does not read the label, so it stays valid:");
    Point::set_label(&mut heap, &p, "q".into())?;
    println!("  distance = {}", Point::distance(&heap, &p)?);

    println!("set_x: the distance reads x, so it is recomputed:");
    Point::set_x(&mut heap, &p, 6.0)?;
    println!("  distance = {}", Point::distance(&heap, &p)?);
    println!("  label = {}, x = {}", heap[&p].label(), heap[&p].x());

    println!("two sets through a view (the handle is checked once); each set is a write of");
    println!("its own, and the distance, being read, is recomputed at the end of each:");
    let mut view = heap.view_mut(&p)?;
    view.set(&Point::X, 0.0)?;
    view.set(&Point::Y, 2.0)?;
    println!("  distance = {}", view.cached(&Point::DISTANCE)?);
    println!("  distance = {} (a hit)", view.cached(&Point::DISTANCE)?);

    println!("the same two writes as one (`heap.write`): one recomputation:");
    heap.write(&p, |w| {
        w.set(&Point::X, 3.0);
        w.set(&Point::Y, 4.0);
    })?;
    println!("  distance = {}", Point::distance(&heap, &p)?);
    Ok(())
}
