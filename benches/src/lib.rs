//! The workloads the benches share: each type in its steadfast form and its hand-written
//! equivalent, so that every bench compares like with like.

use slotmap::{DefaultKey, SlotMap};

/// A point with two cached values, declared as a user declares it: `dist` reads `x` and `y`,
/// `height` reads `z`.
#[steadfast::mutable]
#[derive(Clone, Debug)]
pub struct Point {
    /// First coordinate.
    pub x: f64,
    /// Second coordinate.
    pub y: f64,
    /// Third coordinate.
    pub z: f64,
}

#[steadfast::cached]
impl Point {
    /// The distance from the origin in the `x`–`y` plane.
    #[cache(lazy_read)]
    pub fn dist(x: &f64, y: &f64) -> f64 {
        (x * x + y * y).sqrt()
    }

    /// The distance from the plane.
    #[cache(lazy_read)]
    pub fn height(z: &f64) -> f64 {
        z.abs()
    }
}

/// The hand-written baseline: the same point with `Option` caches that its setters clear.
/// Its methods are `#[inline]`, as they would be in the user's own crate.
#[derive(Clone, Debug)]
pub struct HandPoint {
    x: f64,
    y: f64,
    z: f64,
    dist: Option<f64>,
    height: Option<f64>,
}

impl HandPoint {
    /// A point with empty caches.
    #[inline]
    pub fn new(x: f64, y: f64, z: f64) -> Self {
        HandPoint {
            x,
            y,
            z,
            dist: None,
            height: None,
        }
    }

    /// Sets `x`, clearing what depends on it.
    #[inline]
    pub fn set_x(&mut self, x: f64) {
        self.x = x;
        self.dist = None;
    }

    /// The cached distance, computed if missing.
    #[inline]
    pub fn dist(&mut self) -> f64 {
        let (x, y) = (self.x, self.y);
        *self.dist.get_or_insert_with(|| (x * x + y * y).sqrt())
    }

    /// The cached height, computed if missing.
    #[inline]
    pub fn height(&mut self) -> f64 {
        let z = self.z;
        *self.height.get_or_insert_with(|| z.abs())
    }
}

/// The hand-written points live in a slot map, as steadfast's objects do.
pub fn hand_points() -> (SlotMap<DefaultKey, HandPoint>, DefaultKey) {
    let mut map = SlotMap::new();
    let key = map.insert(HandPoint::new(3.0, 4.0, 1.0));
    (map, key)
}

/// The steadfast point at the same coordinates, in a fresh heap.
pub fn steadfast_point() -> (steadfast::Heap, steadfast::Mut<Point>) {
    let mut heap = steadfast::Heap::new();
    let p = heap
        .alloc(Point {
            x: 3.0,
            y: 4.0,
            z: 1.0,
        })
        .expect("a point has no invariant to fail");
    (heap, p)
}
