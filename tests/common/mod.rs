//! Hand-written `Object` impls shared by the integration tests (the derive will
//! generate the same shapes).
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::cell::Cell;
use std::fmt;

use steadfast::{AnyCache, Cache, CacheCell, Field, FieldMask, Imm, Mutable, Object};

pub mod derived;
pub mod naive;

thread_local! {
    static COUNTS: Cell<[usize; 12]> = const { Cell::new([0; 12]) };
}

/// Cases per proptest: `STEADFAST_MODEL_CASES` if set (CI uses the defaults; a longer run
/// sets it higher), else `default`.
pub fn model_cases(default: u32) -> u32 {
    std::env::var("STEADFAST_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Counters of computations run on this thread, by slot.
pub fn bump(slot: usize) {
    COUNTS.with(|c| {
        let mut v = c.get();
        v[slot] += 1;
        c.set(v);
    });
}

pub fn count(slot: usize) -> usize {
    COUNTS.with(|c| c.get()[slot])
}

pub fn reset() {
    COUNTS.with(|c| c.set([0; 12]));
}

pub const DIST_RUNS: usize = 0;
pub const LEN_RUNS: usize = 1;
pub const INV_RUNS: usize = 2;
pub const PARITY_RUNS: usize = 3;
pub const LABEL_RUNS: usize = 4;
pub const TOTAL_RUNS: usize = 5;
/// Computations of the model type's invariant `bounded` (both declarations).
pub const BOUNDED_RUNS: usize = 6;
/// The caches of `tests/rollback.rs::local_writes`, in declaration order.
pub const LOCAL_RUNS: [usize; 4] = [8, 9, 10, 11];

/// Simple error type for invariants.
#[derive(Debug, Clone, PartialEq)]
pub struct Broken(pub String);

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Broken {}

// ---------------------------------------------------------------- Point

#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub name: String,
}

impl Point {
    pub const X: Field<Point, f64> = Field::new(0, |p| &p.x, |p| &mut p.x);
    pub const Y: Field<Point, f64> = Field::new(1, |p| &p.y, |p| &mut p.y);
    pub const NAME: Field<Point, String> = Field::new(2, |p| &p.name, |p| &mut p.name);
    pub const DIST: Cache<Point, f64> = Cache::lazy_read::<0>("distance", |c| {
        bump(DIST_RUNS);
        (c.field(&Point::X).powi(2) + c.field(&Point::Y).powi(2)).sqrt()
    });
    pub fn new(x: f64, y: f64) -> Self {
        Point {
            x,
            y,
            name: String::new(),
        }
    }
}

impl steadfast::Aliasable for Point {}

impl Object for Point {
    const FIELDS: &'static [&'static str] = &["x", "y", "name"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Point::DIST];
    type Cells = (CacheCell<f64>,);
    type Saved = Point;
    fn save(&self, _: FieldMask) -> Option<Point> {
        Some(self.clone())
    }
    fn restore(&mut self, saved: Point) {
        *self = saved;
    }
}

// ---------------------------------------------------------------- Path (L42 tutorial)

#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub points: Vec<(i32, i32)>,
    pub location: (i32, i32),
    pub label: String,
}

impl Path {
    pub const POINTS: Field<Path, Vec<(i32, i32)>> =
        Field::new(0, |p| &p.points, |p| &mut p.points);
    pub const LOCATION: Field<Path, (i32, i32)> =
        Field::new(1, |p| &p.location, |p| &mut p.location);
    pub const LABEL: Field<Path, String> = Field::new(2, |p| &p.label, |p| &mut p.label);
    pub const LEN: Cache<Path, usize> = Cache::lazy_read::<0>("len", |c| {
        bump(LEN_RUNS);
        c.field(&Path::POINTS).len()
    });
    /// The tutorial's invariant: the location is not in the path.
    pub const OFF_PATH: Cache<Path, Result<(), Broken>> = Cache::invariant::<1>("off_path", |c| {
        bump(INV_RUNS);
        let loc = *c.field(&Path::LOCATION);
        if c.field(&Path::POINTS).contains(&loc) {
            Err(Broken(format!("location {loc:?} is on the path")))
        } else {
            Ok(())
        }
    });

    pub fn new(points: Vec<(i32, i32)>, location: (i32, i32)) -> Self {
        Path {
            points,
            location,
            label: String::new(),
        }
    }

    /// The tutorial's `remove_far` mutator body: drop points farther than `max` from the location.
    pub fn remove_far(points: &mut Vec<(i32, i32)>, location: (i32, i32), max: i32) {
        points.retain(|p| (p.0 - location.0).abs() + (p.1 - location.1).abs() <= max);
    }
}

impl Object for Path {
    const FIELDS: &'static [&'static str] = &["points", "location", "label"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Path::LEN, &Path::OFF_PATH];
    type Cells = (CacheCell<usize>, CacheCell<Result<(), Broken>>);
    type Saved = (FieldMask, Path);
    fn save(&self, fields: FieldMask) -> Option<Self::Saved> {
        Some((fields, self.clone()))
    }
    fn restore(&mut self, (fields, saved): Self::Saved) {
        if fields.intersects(Path::POINTS.mask()) {
            self.points = saved.points;
        }
        if fields.intersects(Path::LOCATION.mask()) {
            self.location = saved.location;
        }
        if fields.intersects(Path::LABEL.mask()) {
            self.label = saved.label;
        }
    }
}

// ---------------------------------------------------------------- cross-object: Budget over Items

#[derive(Clone, Debug)]
pub struct Item {
    pub cost: i64,
    pub note: String,
}

impl Item {
    pub const COST: Field<Item, i64> = Field::new(0, |i| &i.cost, |i| &mut i.cost);
    pub const NOTE: Field<Item, String> = Field::new(1, |i| &i.note, |i| &mut i.note);

    pub fn new(cost: i64) -> Self {
        Item {
            cost,
            note: String::new(),
        }
    }
}

impl steadfast::Aliasable for Item {}

impl Object for Item {
    const FIELDS: &'static [&'static str] = &["cost", "note"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[];
    type Cells = ();
    type Saved = Item;
    fn save(&self, _: FieldMask) -> Option<Item> {
        Some(self.clone())
    }
    fn restore(&mut self, saved: Item) {
        *self = saved;
    }
}

#[derive(Clone, Debug)]
pub struct Budget {
    pub items: Vec<Mutable<Item>>,
    pub cap: i64,
}

impl Budget {
    pub const ITEMS: Field<Budget, Vec<Mutable<Item>>> =
        Field::new(0, |b| &b.items, |b| &mut b.items);
    pub const CAP: Field<Budget, i64> = Field::new(1, |b| &b.cap, |b| &mut b.cap);
    pub const TOTAL: Cache<Budget, i64> = Cache::lazy_read::<0>("total", |c| {
        bump(TOTAL_RUNS);
        c.field(&Budget::ITEMS)
            .iter()
            .map(|i| c.field_of(i, &Item::COST).copied().unwrap_or(0))
            .sum()
    });
    pub const WITHIN_CAP: Cache<Budget, Result<(), Broken>> =
        Cache::invariant::<1>("within_cap", |c| {
            let total = c.own(&Budget::TOTAL).copied().unwrap_or_default();
            let cap = *c.field(&Budget::CAP);
            if total <= cap {
                Ok(())
            } else {
                Err(Broken(format!("total {total} exceeds cap {cap}")))
            }
        });
}

impl Object for Budget {
    const FIELDS: &'static [&'static str] = &["items", "cap"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Budget::TOTAL, &Budget::WITHIN_CAP];
    type Cells = (CacheCell<i64>, CacheCell<Result<(), Broken>>);
    type Saved = Budget;
    fn save(&self, _: FieldMask) -> Option<Budget> {
        Some(self.clone())
    }
    fn restore(&mut self, saved: Budget) {
        *self = saved;
    }
}

// ---------------------------------------------------------------- early cutoff: Watcher of a Num's parity

#[derive(Clone, Debug)]
pub struct Num {
    pub n: i64,
}

impl Num {
    pub const N: Field<Num, i64> = Field::new(0, |n| &n.n, |n| &mut n.n);
    pub const PARITY: Cache<Num, bool> = Cache::lazy_read::<0>("parity", |c| {
        bump(PARITY_RUNS);
        c.field(&Num::N) % 2 == 0
    });
}

impl steadfast::Aliasable for Num {}

impl Object for Num {
    const FIELDS: &'static [&'static str] = &["n"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Num::PARITY];
    type Cells = (CacheCell<bool>,);
    type Saved = Num;
    fn save(&self, _: FieldMask) -> Option<Num> {
        Some(self.clone())
    }
    fn restore(&mut self, saved: Num) {
        *self = saved;
    }
}

#[derive(Clone, Debug)]
pub struct Watcher {
    pub src: Mutable<Num>,
}

impl Watcher {
    pub const SRC: Field<Watcher, Mutable<Num>> = Field::new(0, |w| &w.src, |w| &mut w.src);
    pub const LABEL: Cache<Watcher, &'static str> = Cache::lazy_read::<0>("label", |c| {
        bump(LABEL_RUNS);
        match c.cached(c.field(&Watcher::SRC), &Num::PARITY) {
            Ok(true) => "even",
            Ok(false) => "odd",
            Err(_) => "gone",
        }
    });
}

impl steadfast::Aliasable for Watcher {}

impl Object for Watcher {
    const FIELDS: &'static [&'static str] = &["src"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Watcher::LABEL];
    type Cells = (CacheCell<&'static str>,);
    type Saved = Watcher;
    fn save(&self, _: FieldMask) -> Option<Watcher> {
        Some(self.clone())
    }
    fn restore(&mut self, saved: Watcher) {
        *self = saved;
    }
}

// ---------------------------------------------------------------- the model-test type

/// A reference from one model object to an earlier one (capsules are never referenced).
#[derive(Clone, Debug)]
pub enum Ref {
    Mutable(Mutable<Obj>),
    Imm(Imm<Obj>),
}

#[derive(Clone, Debug)]
pub struct Obj {
    pub a: i64,
    pub b: i64,
    pub refs: Vec<Ref>,
}

pub const LIMIT: i64 = 60;
/// `a == PANIC_A` makes the `now` value panic; `b == PANIC_B` makes `local` panic.
pub const PANIC_A: i64 = 13;
pub const PANIC_B: i64 = 7;

impl Obj {
    pub const A: Field<Obj, i64> = Field::new(0, |o| &o.a, |o| &mut o.a);
    pub const B: Field<Obj, i64> = Field::new(1, |o| &o.b, |o| &mut o.b);
    pub const REFS: Field<Obj, Vec<Ref>> = Field::new(2, |o| &o.refs, |o| &mut o.refs);

    /// Own fields only; panics on `b == PANIC_B`.
    pub const LOCAL: Cache<Obj, i64> = Cache::lazy_read::<0>("local", |c| {
        let b = *c.field(&Obj::B);
        assert!(b != PANIC_B, "local panics on b == {PANIC_B}");
        c.field(&Obj::A) * 2 + b
    });
    /// Early-cutoff candidate: equal for every b >= 10.
    pub const CLAMP: Cache<Obj, i64> =
        Cache::lazy_read::<1>("clamp", |c| (*c.field(&Obj::B)).min(10));
    /// Reads other objects' fields and caches.
    pub const TOTAL: Cache<Obj, i64> = Cache::lazy_read::<2>("total", |c| {
        let mut t = *c.field(&Obj::A);
        for r in c.field(&Obj::REFS) {
            t += match r {
                Ref::Mutable(h) => {
                    c.cached(h, &Obj::CLAMP).copied().unwrap_or(0)
                        + c.field_of(h, &Obj::A).copied().unwrap_or(0)
                }
                Ref::Imm(h) => {
                    c.cached(h, &Obj::CLAMP).copied().unwrap_or(0)
                        + c.field_of(h, &Obj::A).copied().unwrap_or(0)
                }
            };
        }
        t
    });
    /// Cross-object invariant: a + the b of every live ref <= LIMIT, and for an odd a, plus
    /// this object's clamp: a cache that a barrier may compute for the first time.
    pub const BOUNDED: Cache<Obj, Result<(), Broken>> = Cache::invariant::<3>("bounded", |c| {
        bump(BOUNDED_RUNS);
        let mut s = *c.field(&Obj::A);
        if s % 2 != 0 {
            s += c.own(&Obj::CLAMP).copied().unwrap_or_default();
        }
        for r in c.field(&Obj::REFS) {
            s += match r {
                Ref::Mutable(h) => c.field_of(h, &Obj::B).copied().unwrap_or(0),
                Ref::Imm(h) => c.field_of(h, &Obj::B).copied().unwrap_or(0),
            };
        }
        if s <= LIMIT {
            Ok(())
        } else {
            Err(Broken(format!("sum {s} > {LIMIT}")))
        }
    });
    /// A `now` value; panics on `a == PANIC_A`.
    pub const DIFF: Cache<Obj, i64> = Cache::now::<4>("diff", |c| {
        let a = *c.field(&Obj::A);
        assert!(a != PANIC_A, "diff panics on a == {PANIC_A}");
        a - c.field(&Obj::B)
    });
}

impl steadfast::Aliasable for Obj {}

impl Object for Obj {
    const FIELDS: &'static [&'static str] = &["a", "b", "refs"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[
        &Obj::LOCAL,
        &Obj::CLAMP,
        &Obj::TOTAL,
        &Obj::BOUNDED,
        &Obj::DIFF,
    ];
    type Cells = (
        CacheCell<i64>,
        CacheCell<i64>,
        CacheCell<i64>,
        CacheCell<Result<(), Broken>>,
        CacheCell<i64>,
    );
    type Saved = Obj;
    fn save(&self, _: FieldMask) -> Option<Obj> {
        Some(self.clone())
    }
    fn restore(&mut self, saved: Obj) {
        *self = saved;
    }
}
