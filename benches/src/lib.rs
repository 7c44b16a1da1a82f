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

/// A point of a [`Path`].
pub type Spot = (i32, i32);

/// The L42 tutorial's path: the invariant "the location is not on the path" is checked at
/// the end of every mutator and box.
#[steadfast::capsule]
#[derive(Clone, Debug)]
pub struct Path {
    /// The points, changed only by mutators or a box.
    #[capsule]
    pub points: Vec<Spot>,
    /// Where we are.
    pub location: Spot,
}

/// The invariant's error.
#[derive(Debug)]
pub struct OnPath(pub Spot);

impl std::fmt::Display for OnPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the location {:?} is on the path", self.0)
    }
}

impl std::error::Error for OnPath {}

#[steadfast::cached]
impl Path {
    /// The invariant.
    #[cache(now)]
    pub fn off_path(points: &Vec<Spot>, location: &Spot) -> Result<(), OnPath> {
        match points.contains(location) {
            true => Err(OnPath(*location)),
            false => Ok(()),
        }
    }

    /// Replaces the last point.
    #[cache(clear)]
    pub fn set_last(points: &mut Vec<Spot>, spot: Spot) {
        if let Some(last) = points.last_mut() {
            *last = spot;
        }
    }
}

/// The hand-written path: each method checks the invariant at its end and undoes its edit
/// if the check fails.
#[derive(Clone, Debug)]
pub struct HandPath {
    points: Vec<Spot>,
    location: Spot,
}

impl HandPath {
    /// A path; `None` if the location is on it.
    #[inline]
    pub fn new(points: Vec<Spot>, location: Spot) -> Option<Self> {
        let path = HandPath { points, location };
        path.check().is_ok().then_some(path)
    }

    #[inline]
    fn check(&self) -> Result<(), OnPath> {
        match self.points.contains(&self.location) {
            true => Err(OnPath(self.location)),
            false => Ok(()),
        }
    }

    /// Replaces the last point, checked.
    #[inline]
    pub fn set_last(&mut self, spot: Spot) -> Result<(), OnPath> {
        let Some(last) = self.points.last_mut() else {
            return Ok(());
        };
        let old = std::mem::replace(last, spot);
        self.check().inspect_err(|_| {
            if let Some(last) = self.points.last_mut() {
                *last = old;
            }
        })
    }

    /// The points.
    pub fn points(&self) -> &[Spot] {
        &self.points
    }
}

/// `n` points on the line `y = 1`, away from the origin where the location is.
pub fn path_points(n: usize) -> Vec<Spot> {
    (0..n as i32).map(|i| (i, 1)).collect()
}
