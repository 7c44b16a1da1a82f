//! The L42 tutorial's `Path`: a capsule with the invariant "the location is not on the
//! path", the `remove_far` mutator, the bug where two separate mutations trip the
//! invariant, and its fix with a box checked once at the end.
//!
//! `cargo run --example path`

use std::fmt;

use steadfast::{AnyCache, Cache, Field, FieldMask, Heap, Object};

type Point = (i32, i32);

#[derive(Clone, Debug)]
struct Path {
    points: Vec<Point>,
    location: Point,
}

#[derive(Debug)]
struct OnPath(Point);

impl fmt::Display for OnPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the location {:?} is on the path", self.0)
    }
}

impl std::error::Error for OnPath {}

impl Path {
    const POINTS: Field<Path, Vec<Point>> = Field::new(0, |p| &p.points, |p| &mut p.points);
    const LOCATION: Field<Path, Point> = Field::new(1, |p| &p.location, |p| &mut p.location);
    const LEN: Cache<Path, usize> = Cache::lazy_read(0, "len", |c| {
        println!("    (computing len)");
        c.field(&Path::POINTS).len()
    });
    const OFF_PATH: Cache<Path, Result<(), OnPath>> = Cache::invariant(1, "off_path", |c| {
        println!("    (checking the invariant)");
        let loc = *c.field(&Path::LOCATION);
        if c.field(&Path::POINTS).contains(&loc) {
            Err(OnPath(loc))
        } else {
            Ok(())
        }
    });

    fn remove_far(points: &mut Vec<Point>, location: Point, max: i32) {
        points.retain(|p| (p.0 - location.0).abs() + (p.1 - location.1).abs() <= max);
    }
}

impl Object for Path {
    const FIELDS: &'static [&'static str] = &["points", "location"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Path::LEN, &Path::OFF_PATH];
    type Saved = Path;
    fn save(&self, _: FieldMask) -> Option<Path> {
        Some(self.clone())
    }
    fn restore(&mut self, saved: Path) {
        *self = saved;
    }
}

fn main() -> Result<(), steadfast::Error> {
    let mut heap = Heap::new();
    println!("create a path (the invariant is checked at creation):");
    let path = heap.capsule(Path {
        points: vec![(1, 0), (2, 0), (7, 7)],
        location: (0, 0),
    })?;
    println!("len = {}", heap.cache(&path, &Path::LEN)?);
    println!(
        "len = {} (a hit: nothing recomputed)",
        heap.cache(&path, &Path::LEN)?
    );

    println!("\nremove_far(3): one mutator, one invariant check:");
    heap.mutate(&path, |w| {
        let loc = *w.field(&Path::LOCATION);
        Path::remove_far(w.field_mut(&Path::POINTS), loc, 3);
    })?;
    println!(
        "points = {:?}, len = {}",
        heap.get(&path)?.points,
        heap.cache(&path, &Path::LEN)?
    );

    println!("\nthe bug: move the location onto a point, then remove it, as two steps:");
    match heap.mutate(&path, |w| w.set(&Path::LOCATION, (2, 0))) {
        Ok(_) => unreachable!("the invariant refuses this"),
        Err(e) => println!("refused: {e}"),
    }
    println!(
        "rolled back: location = {:?}, points = {:?}",
        heap.get(&path)?.location,
        heap.get(&path)?.points
    );

    println!("\nthe fix: one box does both edits; the invariant is checked once, at its end:");
    heap.open_box(&path, |raw| {
        raw.location = (2, 0);
        raw.points.retain(|&p| p != (2, 0));
    })?;
    println!(
        "location = {:?}, points = {:?}",
        heap.get(&path)?.location,
        heap.get(&path)?.points
    );
    Ok(())
}
