//! Cached methods: a [`Cache`] declares one — how it is computed, when, how its values
//! compare — and implements the sealed operations the runtime performs on its cell.

use std::panic::AssertUnwindSafe;

use crate::cell::{CacheCell, ErasedCell, Fresh, Rule};
use crate::decl::ctx::Ctx;
use crate::decl::field::FieldMask;
use crate::decl::object::{sealed, AnyCache, CellAt, Kind, Object};
use crate::diag::stats::Tally;
use std::error::Error as StdError;
use std::fmt;
use std::panic;

/// A cached method of `T` returning `V`: the derive's output, or written by hand.
///
/// Cache number `I` of a type keeps its value in cell `I` of the type's
/// [`Cells`](Object::Cells), which the constructors reach through [`CellAt<I>`]; so a
/// descriptor and its cell cannot disagree. `V: PartialEq` gives early cutoff: a
/// recomputation that yields a value equal to the old one does not invalidate what depends
/// on it.
///
/// ```
/// use steadfast::{AnyCache, Cache, CacheCell, Field, FieldMask, Object};
///
/// struct Point { x: f64, y: f64 }
/// impl Point {
///     const X: Field<Point, f64> = Field::new(0, |p| &p.x, |p| &mut p.x);
///     const Y: Field<Point, f64> = Field::new(1, |p| &p.y, |p| &mut p.y);
///     const DIST: Cache<Point, f64> = Cache::lazy_read::<0>("dist", |c| {
///         (c.field(&Point::X).powi(2) + c.field(&Point::Y).powi(2)).sqrt()
///     });
/// }
/// impl Object for Point {
///     const FIELDS: &'static [&'static str] = &["x", "y"];
///     const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Point::DIST];
///     type Cells = (CacheCell<f64>,);
///     type Saved = (f64, f64);
///     fn save(&self, _: FieldMask) -> Option<(f64, f64)> { Some((self.x, self.y)) }
///     fn restore(&mut self, (x, y): (f64, f64)) { self.x = x; self.y = y; }
/// }
/// impl steadfast::Aliasable for Point {} // made with `heap.mutable`, as a `#[mutable]` type is
///
/// let mut heap = steadfast::Heap::new();
/// let p = heap.mutable(Point { x: 3.0, y: 4.0 })?;
/// assert_eq!(*heap.cached(&p, &Point::DIST)?, 5.0);
/// heap.set(&p, &Point::X, 0.0)?;
/// assert_eq!(*heap.cached(&p, &Point::DIST)?, 4.0);
/// # Ok::<(), steadfast::Error>(())
/// ```
pub struct Cache<T: Object, V> {
    index: usize,
    name: &'static str,
    kind: Kind,
    body: Body<T, V>,
    rule: Rule<V>,
    failure: fn(V) -> Option<Box<dyn StdError + Send + Sync>>,
    /// An invariant: its `Err` vetoes the operation that made it fail.
    invariant: bool,
    pub(crate) cell: fn(&T::Cells) -> &CacheCell<V>,
    cell_mut: fn(&mut T::Cells) -> &mut CacheCell<V>,
}

/// How a cache computes its value.
enum Body<T, V> {
    /// Through a [`Ctx`] that records every read, of this object or of others.
    Tracked(fn(&Ctx<'_, T>) -> V),
    /// From the fields in the mask of its own object only. Nothing needs tracking, so the
    /// barrier recomputes such a cache directly, without a [`Ctx`].
    Fields(FieldMask, fn(&T) -> V),
}

impl<T, V> Clone for Body<T, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, V> Copy for Body<T, V> {}

impl<T: Object, V> Body<T, V> {
    #[inline]
    fn run(self, ctx: &Ctx<'_, T>) -> V {
        match self {
            Body::Tracked(f) => f(ctx),
            Body::Fields(reads, f) => f(ctx.__fields(reads)),
        }
    }
}

fn always<V>(_: &V) -> bool {
    true
}

fn never_fails<V>(_: V) -> Option<Box<dyn StdError + Send + Sync>> {
    None
}

fn error_of<E: StdError + Send + Sync + 'static>(
    v: Result<(), E>,
) -> Option<Box<dyn StdError + Send + Sync>> {
    v.err()
        .map(|e| Box::new(e) as Box<dyn StdError + Send + Sync>)
}

fn both_ok<E>(a: &Result<(), E>, b: &Result<(), E>) -> bool {
    a.is_ok() && b.is_ok()
}

impl<T: Object, V> Cache<T, V> {
    const fn new<const I: usize>(
        name: &'static str,
        kind: Kind,
        body: Body<T, V>,
        rule: Rule<V>,
        failure: fn(V) -> Option<Box<dyn StdError + Send + Sync>>,
        invariant: bool,
    ) -> Self
    where
        T::Cells: CellAt<I, Value = V>,
    {
        Cache {
            index: I,
            name,
            kind,
            body,
            rule,
            failure,
            invariant,
            cell: <T::Cells as CellAt<I>>::cell,
            cell_mut: <T::Cells as CellAt<I>>::cell_mut,
        }
    }
}

impl<T: Object, V: PartialEq> Cache<T, V> {
    const fn value<const I: usize>(name: &'static str, kind: Kind, body: Body<T, V>) -> Self
    where
        T::Cells: CellAt<I, Value = V>,
    {
        let rule = Rule {
            eq: <V as PartialEq>::eq,
            holds: always::<V>,
        };
        Self::new::<I>(name, kind, body, rule, never_fails::<V>, false)
    }

    /// A `lazy` cache: computed on first read (meant for immutable objects).
    pub const fn lazy<const I: usize>(name: &'static str, compute: fn(&Ctx<'_, T>) -> V) -> Self
    where
        T::Cells: CellAt<I, Value = V>,
    {
        Self::value::<I>(name, Kind::Lazy, Body::Tracked(compute))
    }

    /// A `lazy_read` cache: computed on first read after an invalidation.
    pub const fn lazy_read<const I: usize>(
        name: &'static str,
        compute: fn(&Ctx<'_, T>) -> V,
    ) -> Self
    where
        T::Cells: CellAt<I, Value = V>,
    {
        Self::value::<I>(name, Kind::LazyRead, Body::Tracked(compute))
    }

    /// A `now` value: computed at creation and right after every invalidation.
    pub const fn now<const I: usize>(name: &'static str, compute: fn(&Ctx<'_, T>) -> V) -> Self
    where
        T::Cells: CellAt<I, Value = V>,
    {
        Self::value::<I>(name, Kind::Now, Body::Tracked(compute))
    }

    /// An `eager` cache: computed right after creation (meant for immutable objects).
    pub const fn eager<const I: usize>(name: &'static str, compute: fn(&Ctx<'_, T>) -> V) -> Self
    where
        T::Cells: CellAt<I, Value = V>,
    {
        Self::value::<I>(name, Kind::Eager, Body::Tracked(compute))
    }

    /// A cache of the given kind whose computation is tracked through a [`Ctx`] (as with
    /// [`lazy_read`](Cache::lazy_read) and the others, with the kind as a value).
    pub const fn tracked<const I: usize>(
        name: &'static str,
        kind: Kind,
        compute: fn(&Ctx<'_, T>) -> V,
    ) -> Self
    where
        T::Cells: CellAt<I, Value = V>,
    {
        Self::value::<I>(name, kind, Body::Tracked(compute))
    }

    /// A cache of the given kind whose computation reads only the fields in `reads` of its
    /// own object, given to it as `&T`. The runtime does not track such a computation: the
    /// barrier recomputes it directly, which makes a write followed by a read cheaper. The
    /// derive declares every method whose parameters are all fields this way.
    ///
    /// Reading a field outside `reads` breaks coherence: a write to it would not
    /// invalidate the cache.
    ///
    /// ```
    /// # use steadfast::{AnyCache, Cache, CacheCell, Field, FieldMask, Kind, Object};
    /// # struct Point { x: f64, y: f64 }
    /// # impl Object for Point {
    /// #     const FIELDS: &'static [&'static str] = &["x", "y"];
    /// #     const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&DIST];
    /// #     type Cells = (CacheCell<f64>,);
    /// #     type Saved = ();
    /// #     fn save(&self, _: FieldMask) -> Option<()> { None }
    /// #     fn restore(&mut self, _: ()) {}
    /// # }
    /// const X: Field<Point, f64> = Field::new(0, |p| &p.x, |p| &mut p.x);
    /// const Y: Field<Point, f64> = Field::new(1, |p| &p.y, |p| &mut p.y);
    /// const DIST: Cache<Point, f64> = Cache::on_fields::<0>(
    ///     "dist",
    ///     Kind::LazyRead,
    ///     X.mask().union(Y.mask()),
    ///     |p| (p.x * p.x + p.y * p.y).sqrt(),
    /// );
    /// ```
    pub const fn on_fields<const I: usize>(
        name: &'static str,
        kind: Kind,
        reads: FieldMask,
        compute: fn(&T) -> V,
    ) -> Self
    where
        T::Cells: CellAt<I, Value = V>,
    {
        Self::value::<I>(name, kind, Body::Fields(reads, compute))
    }
}

impl<T: Object, E: StdError + Send + Sync + 'static> Cache<T, Result<(), E>> {
    const RULE: Rule<Result<(), E>> = Rule {
        eq: both_ok::<E>,
        holds: Result::is_ok,
    };

    /// An invariant: a `now` method whose `Err` vetoes the creation or operation that made
    /// it fail. The error is carried in [`Error::Invariant`](crate::Error::Invariant).
    pub const fn invariant<const I: usize>(
        name: &'static str,
        compute: fn(&Ctx<'_, T>) -> Result<(), E>,
    ) -> Self
    where
        T::Cells: CellAt<I, Value = Result<(), E>>,
    {
        Self::new::<I>(
            name,
            Kind::Now,
            Body::Tracked(compute),
            Self::RULE,
            error_of::<E>,
            true,
        )
    }

    /// An invariant that reads only the fields in `reads` of its own object (see
    /// [`Cache::on_fields`]).
    pub const fn invariant_on_fields<const I: usize>(
        name: &'static str,
        reads: FieldMask,
        compute: fn(&T) -> Result<(), E>,
    ) -> Self
    where
        T::Cells: CellAt<I, Value = Result<(), E>>,
    {
        Self::new::<I>(
            name,
            Kind::Now,
            Body::Fields(reads, compute),
            Self::RULE,
            error_of::<E>,
            true,
        )
    }
}

impl<T: Object, V> Cache<T, V> {
    /// The cache's position in [`Object::CACHES`].
    pub const fn index(&self) -> usize {
        self.index
    }
}

impl<T: Object, V> fmt::Debug for Cache<T, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Cache<{}>({}, {:?})",
            std::any::type_name::<T>(),
            self.name,
            self.kind
        )
    }
}

impl<T: Object, V: Send + Sync + 'static> AnyCache<T> for Cache<T, V> {
    fn index(&self) -> usize {
        self.index
    }

    fn name(&self) -> &'static str {
        self.name
    }

    fn kind(&self) -> Kind {
        self.kind
    }

    fn is_invariant(&self) -> bool {
        self.invariant
    }
}

#[allow(private_interfaces)]
impl<T: Object, V: Send + Sync + 'static> sealed::Ops<T> for Cache<T, V> {
    fn compute_shared(
        &self,
        ctx: &Ctx<'_, T>,
        cells: &T::Cells,
        keep_stale: bool,
    ) -> Option<Fresh> {
        let value = self.body.run(ctx);
        if ctx.frame.on_cycle() {
            return None;
        }
        Some((self.cell)(cells).publish_shared(value, self.rule, keep_stale))
    }

    fn compute_owned(&self, env: &mut dyn sealed::Owned<T>) -> Option<Fresh> {
        let mut value = None;
        env.with_ctx(&mut |ctx| value = Some(self.body.run(ctx)));
        if env.on_cycle() {
            return None;
        }
        let keep_stale = env.keep_stale();
        let value = value.expect("the context ran the computation");
        Some((self.cell_mut)(env.cells()).publish_owned(value, self.rule, keep_stale))
    }

    #[inline(always)]
    fn refill(&self, value: &T, cells: &mut T::Cells) -> sealed::Refill {
        let cell = (self.cell_mut)(cells);
        let Body::Fields(_, compute) = self.body else {
            let was = cell.invalidate(true);
            return sealed::Refill::Invalidated {
                hot: was.unwrap_or(false),
                valid: was.is_some(),
            };
        };
        // A cell of its own fields that a write settled without the journal has no use for
        // its old value: no other cell reads it (no early cutoff), and a later rollback
        // must not revive it (`tests/rollback.rs::a_rollback_leaves_an_own_path_invalidation`).
        // A cell read since it was computed is valid (invalidating a cell clears the mark):
        // an invalid one may be awaiting the barrier (its node dirty), which would not see a
        // value published behind its back, so it must not be recomputed here.
        debug_assert!(!cell.seen_mut() || cell.is_ready(), "a read cell is valid");
        if cell.seen_mut() {
            // A panic leaves the cell invalid: the next read recomputes and raises it.
            if let Ok(v) = panic::catch_unwind(AssertUnwindSafe(|| compute(value))) {
                cell.replace(v);
                return sealed::Refill::Recomputed;
            }
        }
        let valid = cfg!(any(feature = "stats", feature = "tracing")) && cell.is_ready();
        cell.clear();
        sealed::Refill::Invalidated { hot: false, valid }
    }

    fn recheck(&self, value: &T, cells: &mut T::Cells) -> Option<std::thread::Result<Fresh>> {
        let Body::Fields(_, compute) = self.body else {
            return None;
        };
        Some(
            panic::catch_unwind(AssertUnwindSafe(|| compute(value))).map(|v| {
                let cell = (self.cell_mut)(cells);
                // Equal to the value it holds (an invariant that held and holds): the cell
                // stays as it is, with nothing to put back or forget.
                if cell.peek().is_some_and(|old| (self.rule.eq)(old, &v)) {
                    // A rule's comparison equates only values that hold (an invariant's
                    // compares two `Ok`s; every other value holds): no second call.
                    debug_assert!((self.rule.holds)(&v), "a value found equal holds");
                    return Fresh {
                        changed: false,
                        failed: false,
                    };
                }
                ErasedCell::invalidate(cell, true);
                cell.publish_owned(v, self.rule, true)
            }),
        )
    }

    fn recheck_kept(&self, value: &T, cells: &mut T::Cells) -> Option<std::thread::Result<Fresh>> {
        let Body::Fields(_, compute) = self.body else {
            return None;
        };
        Some(
            panic::catch_unwind(AssertUnwindSafe(|| compute(value)))
                .map(|v| (self.cell_mut)(cells).publish_or_revive(v, self.rule)),
        )
    }

    fn compute_fields(
        &self,
        value: &T,
        cells: &mut T::Cells,
        keep_stale: bool,
    ) -> Option<(FieldMask, std::thread::Result<Fresh>)> {
        let Body::Fields(reads, compute) = self.body else {
            return None;
        };
        let result = panic::catch_unwind(AssertUnwindSafe(|| compute(value)))
            .map(|v| (self.cell_mut)(cells).publish_owned(v, self.rule, keep_stale));
        Some((reads, result))
    }

    fn take_failure(&self, cells: &mut T::Cells) -> Option<Box<dyn StdError + Send + Sync>> {
        (self.cell_mut)(cells).take().and_then(self.failure)
    }

    fn detached(&self) -> bool {
        matches!(self.body, Body::Fields(..))
    }

    fn fields(&self) -> Option<FieldMask> {
        match self.body {
            Body::Fields(mask, _) => Some(mask),
            Body::Tracked(_) => None,
        }
    }

    fn loud(&self) -> FieldMask {
        match self.body {
            Body::Fields(..) => FieldMask::EMPTY,
            Body::Tracked(_) => FieldMask::ALL,
        }
    }

    fn checks(&self) -> FieldMask {
        match (self.kind, self.body) {
            (Kind::Now | Kind::Eager, Body::Fields(mask, _)) => mask,
            _ => FieldMask::EMPTY,
        }
    }

    #[inline(always)]
    fn refill_local(
        &self,
        value: &T,
        cells: &mut T::Cells,
        written: FieldMask,
        mut tally: Tally<'_>,
    ) {
        if let (Kind::LazyRead, Body::Fields(mask, _)) = (self.kind, self.body) {
            if mask.intersects(written) {
                let refill = self.refill(value, cells);
                refill.count(&mut tally);
                refill.trace(std::any::type_name::<T>(), self.name);
            }
        }
    }

    fn compute_detached(&self, value: &T, cells: &T::Cells) {
        if let Body::Fields(_, compute) = self.body {
            (self.cell)(cells).publish_shared(compute(value), self.rule, false);
        }
    }
}
