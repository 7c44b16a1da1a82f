//! The L42 tutorial's `Path`: a capsule with the invariant "the location is not on the
//! path", the `remove_far` mutator, the bug where a setter followed by a removal trips the
//! invariant, its fix with a box checked once at the end, and a rejected mutation rolled back.
//!
//! `cargo run --example path`

use std::error::Error as _;
use std::fmt;

use steadfast::{cached, capsule, Error, Heap};

type Point = (i32, i32);

#[capsule]
#[derive(Debug)]
struct Path {
    /// The points, encapsulated: changed only by `clear` mutators or a box.
    #[capsule]
    points: Vec<Point>,
    /// Where we are: a plain field with a setter that goes through the barrier.
    location: Point,
}

/// The invariant's error: which location is on the path.
#[derive(Debug)]
struct OnPath(Point);

impl fmt::Display for OnPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the location {:?} is on the path", self.0)
    }
}

impl std::error::Error for OnPath {}

#[cached]
impl Path {
    /// How many points the path has.
    #[cache(lazy_read)]
    fn len(points: &Vec<Point>) -> usize {
        println!("    (computing len)");
        points.len()
    }

    /// The invariant: the location is not one of the points.
    #[cache(now)]
    fn off_path(points: &Vec<Point>, location: &Point) -> Result<(), OnPath> {
        println!("    (checking the invariant)");
        match points.contains(location) {
            true => Err(OnPath(*location)),
            false => Ok(()),
        }
    }

    /// Removes the points farther than `max` from the location (Manhattan distance).
    #[cache(clear)]
    fn remove_far(points: &mut Vec<Point>, location: &Point, max: i32) {
        points.retain(|p| (p.0 - location.0).abs() + (p.1 - location.1).abs() <= max);
    }

    /// Adds a point at the end.
    #[cache(clear)]
    fn push(points: &mut Vec<Point>, point: Point) {
        points.push(point);
    }
}

fn main() -> Result<(), Error> {
    let mut heap = Heap::new();
    println!("create a path (the invariant is checked at creation):");
    let path = heap.capsule(Path {
        points: vec![(1, 0), (2, 0), (7, 7)],
        location: (0, 0),
    })?;
    println!("len = {}", Path::len(&heap, &path)?);
    println!(
        "len = {} (a hit: nothing recomputed)",
        Path::len(&heap, &path)?
    );

    println!("\nremove_far(3): one mutator, one invariant check:");
    Path::remove_far(&mut heap, &path, 3)?;
    println!(
        "points = {:?}, len = {}",
        heap[&path].points(),
        Path::len(&heap, &path)?
    );

    println!("\nthe bug: move the location onto a point, meaning to remove that point next:");
    match Path::set_location(&mut heap, &path, (2, 0)) {
        Ok(_) => unreachable!("the invariant refuses this"),
        Err(e) => println!(
            "refused: {e}: {}",
            e.source().expect("an invariant failure has a source")
        ),
    }
    println!(
        "rolled back: location = {:?}, points = {:?}",
        heap[&path].location(),
        heap[&path].points()
    );

    println!("\nthe fix: one box does both edits; the invariant is checked once, at its end:");
    heap.open_box(&path, |raw| {
        raw.location = (2, 0);
        raw.points.retain(|&p| p != (2, 0));
    })?;
    println!(
        "location = {:?}, points = {:?}",
        heap[&path].location(),
        heap[&path].points()
    );

    println!("\na mutator that breaks the invariant is rolled back, and nothing is lost:");
    let err = Path::push(&mut heap, &path, (2, 0)).unwrap_err();
    println!(
        "refused: {err}: {}",
        err.source().expect("an invariant failure has a source")
    );
    if let Error::Invariant { source, .. } = &err {
        let cause = source
            .downcast_ref::<OnPath>()
            .expect("the invariant's own error type");
        println!("the invariant's own error is carried: {cause:?}");
    }
    println!(
        "points = {:?}, len = {}",
        heap[&path].points(),
        Path::len(&heap, &path)?
    );
    Ok(())
}
