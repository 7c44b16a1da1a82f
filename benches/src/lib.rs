//! The workloads the benches share: each type in its steadfast form and its hand-written
//! equivalent, so that every bench compares like with like.

pub mod env;
pub mod interaction;

use std::hint::black_box;

/// A deterministic pseudo-random sequence (xorshift64), the same in every run: the random
/// graphs of the benches.
pub fn xorshift() -> impl FnMut() -> u64 {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

use criterion::measurement::WallTime;
use criterion::BenchmarkGroup;
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
    // `x` and `y` apart: adjacent, the compiler loads both with one 16-byte load right after
    // the 8-byte store of `x` in the look-up-per-call loop, a load the processor cannot
    // forward from that store; it waits, and that row took 18-24 ns instead of 6. The
    // baseline should not pay for that.
    x: f64,
    z: f64,
    y: f64,
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

/// The hit workload's hand-written and steadfast rows: read a valid cache.
pub fn hit_rows(g: &mut BenchmarkGroup<'_, WallTime>) {
    let (mut map, k) = hand_points();
    map[k].dist();
    g.bench_function("hand-written", |b| {
        b.iter(|| black_box(map.get_mut(black_box(k)).unwrap().dist()))
    });
    let (heap, p) = steadfast_point();
    Point::dist(&heap, &p).unwrap();
    g.bench_function("steadfast", |b| {
        b.iter(|| black_box(*Point::dist(&heap, black_box(&p)).unwrap()))
    });
}

/// The write-then-read workload's hand-written and steadfast rows: set `x`, then read the
/// cache that depends on it and the one that does not.
pub fn set_then_read_rows(g: &mut BenchmarkGroup<'_, WallTime>) {
    let (mut map, k) = hand_points();
    let mut i = 0.0;
    g.bench_function("hand-written", |b| {
        b.iter(|| {
            i += 1.0;
            let p = map.get_mut(black_box(k)).unwrap();
            p.set_x(i);
            black_box(p.dist() + p.height())
        })
    });
    // The same three calls made as steadfast's are made: each looks the point up.
    g.bench_function("hand-written, a look-up per call", |b| {
        b.iter(|| {
            i += 1.0;
            map.get_mut(black_box(k)).unwrap().set_x(i);
            black_box(map.get_mut(k).unwrap().dist() + map.get_mut(k).unwrap().height())
        })
    });
    let (mut heap, p) = steadfast_point();
    Point::dist(&heap, &p).unwrap();
    Point::height(&heap, &p).unwrap();
    let mut i = 0.0;
    g.bench_function("steadfast", |b| {
        b.iter(|| {
            i += 1.0;
            Point::set_x(&mut heap, black_box(&p), i).unwrap();
            black_box(Point::dist(&heap, &p).unwrap() + Point::height(&heap, &p).unwrap())
        })
    });
    // As the hand-written loop does: check the handle once, then set and read.
    g.bench_function("steadfast, through a view", |b| {
        b.iter(|| {
            i += 1.0;
            let mut p = heap.view_mut(black_box(&p)).unwrap();
            p.set(&Point::X, i).unwrap();
            black_box(p.cached(&Point::DIST).unwrap() + p.cached(&Point::HEIGHT).unwrap())
        })
    });
}

/// The steadfast point at the same coordinates, in a fresh heap.
pub fn steadfast_point() -> (steadfast::Heap, steadfast::Mutable<Point>) {
    let mut heap = steadfast::Heap::new();
    let p = heap
        .mutable(Point {
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
        counted();
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
        counted();
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

    /// Replaces the last point, checked, saving the whole `points` first as steadfast's
    /// derived `save` does: the experiment that measures what the snapshot costs.
    #[inline]
    pub fn set_last_snapshot(&mut self, spot: Spot) -> Result<(), OnPath> {
        let saved = self.points.clone();
        if let Some(last) = self.points.last_mut() {
            *last = spot;
        }
        self.check().inspect_err(|_| self.points = saved)
    }

    /// Replaces the last point under a visible-state contract: checked on entry too.
    pub fn set_last_contract(&mut self, spot: Spot) -> Result<(), OnPath> {
        self.check()?;
        self.set_last(spot)
    }

    /// The points.
    pub fn points(&self) -> &[Spot] {
        &self.points
    }
}

/// A steadfast path of `n` points (see [`path_points`]) at the origin, in a fresh heap.
pub fn steadfast_path(n: usize) -> (steadfast::Heap, steadfast::Capsule<Path>) {
    let mut heap = steadfast::Heap::new();
    let path = heap
        .capsule(Path {
            points: path_points(n),
            location: (0, 0),
        })
        .expect("the origin is not on the path");
    (heap, path)
}

/// `n` points on the line `y = 1`, away from the origin where the location is.
pub fn path_points(n: usize) -> Vec<Spot> {
    (0..n as i32).map(|i| (i, 1)).collect()
}

/// Invariant checks counted by the check-counting workloads.
pub static CHECKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn counted() {
    CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// A widget of a GUI-like tree: a rectangle inside its parent's.
#[derive(steadfast::Owned, Clone, Copy, Debug, PartialEq)]
pub struct Widget {
    /// The parent's index, or `None` for the root.
    pub parent: Option<usize>,
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub w: i32,
    /// Height.
    pub h: i32,
}

/// The layout invariant's error: which widget sticks out of its parent.
#[derive(Debug)]
pub struct SticksOut(pub usize);

impl std::fmt::Display for SticksOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "widget {} sticks out of its parent", self.0)
    }
}

impl std::error::Error for SticksOut {}

fn layout_holds(widgets: &[Widget]) -> Result<(), SticksOut> {
    counted();
    for (i, w) in widgets.iter().enumerate() {
        if let Some(p) = w.parent {
            let p = &widgets[p];
            if w.x < p.x || w.y < p.y || w.x + w.w > p.x + p.w || w.y + w.h > p.y + p.h {
                return Err(SticksOut(i));
            }
        }
    }
    Ok(())
}

/// A root of 1,000 × 1,000, ten panels of 80 × 80 in a row, ten buttons of 5 × 5 in each.
pub fn widget_tree() -> Vec<Widget> {
    let mut widgets = vec![Widget {
        parent: None,
        x: 0,
        y: 0,
        w: 1000,
        h: 1000,
    }];
    for p in 0..10 {
        let panel = widgets.len();
        widgets.push(Widget {
            parent: Some(0),
            x: 10 + 90 * p,
            y: 10,
            w: 80,
            h: 80,
        });
        for b in 0..10 {
            widgets.push(Widget {
                parent: Some(panel),
                x: 10 + 90 * p + 2 + 7 * b,
                y: 12,
                w: 5,
                h: 5,
            });
        }
    }
    widgets
}

/// The widget tree with steadfast: one check at the end of each mutator.
#[steadfast::capsule]
#[derive(Clone, Debug)]
pub struct Layout {
    /// The widgets, changed only by mutators.
    #[capsule]
    pub widgets: Vec<Widget>,
}

#[steadfast::cached]
impl Layout {
    /// The layout invariant: every widget inside its parent.
    #[cache(now)]
    pub fn inside(widgets: &Vec<Widget>) -> Result<(), SticksOut> {
        layout_holds(widgets)
    }

    /// Moves a widget and everything inside it.
    #[cache(clear)]
    pub fn move_subtree(widgets: &mut Vec<Widget>, root: usize, dx: i32, dy: i32) {
        for i in subtree(widgets, root) {
            widgets[i].x += dx;
            widgets[i].y += dy;
        }
    }
}

fn subtree(widgets: &[Widget], root: usize) -> Vec<usize> {
    let mut out = vec![root];
    let mut k = 0;
    while k < out.len() {
        let at = out[k];
        out.extend((0..widgets.len()).filter(|&i| widgets[i].parent == Some(at)));
        k += 1;
    }
    out
}

/// The widget tree with visible-state contracts (Eiffel, Spec#, the `contracts` crate): every
/// public method checks the invariant on entry and on exit, also when another public method
/// calls it.
#[derive(Clone, Debug)]
pub struct HandLayout {
    widgets: Vec<Widget>,
}

impl HandLayout {
    /// A checked layout.
    pub fn new(widgets: Vec<Widget>) -> Result<Self, SticksOut> {
        layout_holds(&widgets)?;
        Ok(HandLayout { widgets })
    }

    /// Moves one widget.
    pub fn move_widget(&mut self, i: usize, dx: i32, dy: i32) -> Result<(), SticksOut> {
        layout_holds(&self.widgets)?;
        self.widgets[i].x += dx;
        self.widgets[i].y += dy;
        layout_holds(&self.widgets)
    }

    /// Moves a widget and everything inside it, one public call per widget.
    pub fn move_subtree(&mut self, root: usize, dx: i32, dy: i32) -> Result<(), SticksOut> {
        layout_holds(&self.widgets)?;
        // The root moves first; every child keeps a margin inside its parent, so each inner
        // call starts and ends in a state where the invariant holds, as its contract demands.
        for i in subtree(&self.widgets, root) {
            self.move_widget(i, dx, dy)?;
        }
        layout_holds(&self.widgets)
    }

    /// The widgets.
    pub fn widgets(&self) -> &[Widget] {
        &self.widgets
    }
}

/// A value that many caches of other objects read (`Reader`): one write of it marks them all.
#[steadfast::mutable]
pub struct Source {
    /// The value.
    pub v: i64,
}

#[steadfast::cached]
impl Source {}

/// An object whose one cache reads a `Source`.
#[steadfast::mutable]
pub struct Reader {
    /// What it reads.
    pub source: steadfast::Mutable<Source>,
}

#[steadfast::cached]
impl Reader {
    /// Twice the source's value.
    #[cache(lazy_read)]
    pub fn double(source: &steadfast::Mutable<Source>, ctx: &steadfast::Ctx<'_, Self>) -> i64 {
        ctx.field_of(source, &Source::V).map_or(0, |v| v * 2)
    }
}
