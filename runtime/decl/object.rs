//! What a type declares to live on the heap: its fields, its cached methods and how a
//! rejected operation restores it. The derive macros generate these declarations; they
//! can also be written by hand.

use std::error::Error as StdError;
use std::fmt;
use std::hash::Hasher;
use std::panic::{self, AssertUnwindSafe};

use crate::cell::{CacheCell, ErasedCell, Rule};
use crate::heap::parts::Core;
use crate::key::{ObjectId, ObjectKey};
use crate::track::{Ctx, Frame};

/// A set of fields of one type, one bit per field (so a type has at most 64 fields).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FieldMask(pub(crate) u64);

impl FieldMask {
    /// No field.
    pub const EMPTY: FieldMask = FieldMask(0);
    /// Every field.
    pub const ALL: FieldMask = FieldMask(u64::MAX);

    /// The field with this index.
    ///
    /// # Panics
    /// If `index >= 64` (in a const context this is a compile error).
    #[inline]
    pub const fn field(index: usize) -> FieldMask {
        assert!(index < 64, "a steadfast object has at most 64 fields");
        FieldMask(1 << index)
    }

    /// Both sets together.
    #[must_use]
    #[inline]
    pub const fn union(self, other: FieldMask) -> FieldMask {
        FieldMask(self.0 | other.0)
    }

    /// Whether the sets share a field.
    #[inline]
    pub const fn intersects(self, other: FieldMask) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether the set is empty.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for FieldMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldMask({:#b})", self.0)
    }
}

/// A field of `T` of type `F`: its bit and how to reach it.
///
/// Reads and writes through a descriptor are what the runtime tracks, so each field must
/// have exactly one descriptor, whose index is the field's position in
/// [`Object::FIELDS`]. The derive generates them.
pub struct Field<T, F> {
    index: usize,
    get: fn(&T) -> &F,
    get_mut: fn(&mut T) -> &mut F,
}

impl<T, F> Field<T, F> {
    /// Declares field number `index` of `T`, reached by `get` and `get_mut`.
    pub const fn new(index: usize, get: fn(&T) -> &F, get_mut: fn(&mut T) -> &mut F) -> Self {
        assert!(index < 64, "a steadfast object has at most 64 fields");
        Field {
            index,
            get,
            get_mut,
        }
    }

    /// The field's position in [`Object::FIELDS`].
    pub const fn index(&self) -> usize {
        self.index
    }

    /// The field as a set of one.
    #[inline]
    pub const fn mask(&self) -> FieldMask {
        // `new` checked the index.
        FieldMask(1 << self.index)
    }

    #[inline]
    pub(crate) fn get<'a>(&self, value: &'a T) -> &'a F {
        (self.get)(value)
    }

    #[inline]
    pub(crate) fn get_mut<'a>(&self, value: &'a mut T) -> &'a mut F {
        (self.get_mut)(value)
    }
}

impl<T, F> fmt::Debug for Field<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Field<{}>({})", std::any::type_name::<T>(), self.index)
    }
}

/// When a cached method is computed (the L42 cache kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// Computed on first read, for immutable objects (`Cache.Lazy`).
    Lazy,
    /// Computed on first read after an invalidation (`Cache.LazyRead`).
    LazyRead,
    /// Computed at creation and right after every invalidation (`Cache.Now`); an
    /// invariant if it returns `Result<(), E>`.
    Now,
    /// Computed right after creation, for immutable objects (`Cache.Eager`): on rayon's
    /// pool for an object made with [`Heap::imm`](crate::Heap::imm) when the cache reads
    /// only its own fields ([`Cache::on_fields`], as the derive declares it); otherwise, and
    /// on other objects, synchronously, and again after every invalidation, like `Now`.
    Eager,
}

impl Kind {
    /// Whether the barrier brings this cache up to date before an operation ends.
    pub(crate) fn is_eager(self) -> bool {
        matches!(self, Kind::Now | Kind::Eager)
    }
}

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
///
/// let mut heap = steadfast::Heap::new();
/// let p = heap.alloc(Point { x: 3.0, y: 4.0 })?;
/// assert_eq!(*heap.cache(&p, &Point::DIST)?, 5.0);
/// heap.set(&p, &Point::X, 0.0)?;
/// assert_eq!(*heap.cache(&p, &Point::DIST)?, 4.0);
/// # Ok::<(), steadfast::Error>(())
/// ```
pub struct Cache<T: Object, V> {
    index: usize,
    name: &'static str,
    kind: Kind,
    body: Body<T, V>,
    rule: Rule<V>,
    failure: fn(V) -> Option<Box<dyn StdError + Send + Sync>>,
    pub(crate) cell: fn(&T::Cells) -> &CacheCell<V>,
    cell_mut: fn(&mut T::Cells) -> &mut CacheCell<V>,
}

/// Cell number `I` of a [`Cells`](Object::Cells) type: implemented for tuples of
/// [`CacheCell`]s of up to 16 elements, which is how the derive declares a type's cells.
pub trait CellAt<const I: usize> {
    /// The value type of the cell.
    type Value;
    /// The cell.
    fn cell(&self) -> &CacheCell<Self::Value>;
    /// The cell, exclusively.
    fn cell_mut(&mut self) -> &mut CacheCell<Self::Value>;
}

/// The cells of one type's cached methods, as [`Object::Cells`] declares them: implemented
/// for `()` and for tuples of up to 16 [`CacheCell`]s.
pub trait CellSet: Send + Sync + 'static + sealed::Cells {}

impl sealed::Cells for () {
    fn empty() -> Self {}
    fn cell(&self, index: usize) -> &dyn ErasedCell {
        panic!("steadfast: no cache cell {index} in a type without caches")
    }
    fn cell_mut(&mut self, index: usize) -> &mut dyn ErasedCell {
        panic!("steadfast: no cache cell {index} in a type without caches")
    }
    fn invalidate(&mut self, index: usize) -> bool {
        panic!("steadfast: no cache cell {index} in a type without caches")
    }
}

impl CellSet for () {}

macro_rules! cell_at {
    ($($i:tt $V:ident),+) => {
        cell_at!(@each [$($V),+] $($i $V),+);
        impl<$($V: Send + Sync + 'static),+> sealed::Cells for ($(CacheCell<$V>,)+) {
            fn empty() -> Self {
                ($(CacheCell::<$V>::default(),)+)
            }
            fn cell(&self, index: usize) -> &dyn ErasedCell {
                match index {
                    $($i => &self.$i,)+
                    _ => panic!("steadfast: no cache cell {index}"),
                }
            }
            fn cell_mut(&mut self, index: usize) -> &mut dyn ErasedCell {
                match index {
                    $($i => &mut self.$i,)+
                    _ => panic!("steadfast: no cache cell {index}"),
                }
            }
            #[inline]
            fn invalidate(&mut self, index: usize) -> bool {
                match index {
                    $($i => ErasedCell::invalidate(&mut self.$i),)+
                    _ => panic!("steadfast: no cache cell {index}"),
                }
            }
        }
        impl<$($V: Send + Sync + 'static),+> CellSet for ($(CacheCell<$V>,)+) {}
    };
    (@each $all:tt $($i:tt $V:ident),+) => {
        $( cell_at!(@one $all $i $V); )+
    };
    (@one [$($A:ident),+] $i:tt $V:ident) => {
        impl<$($A),+> CellAt<$i> for ($(CacheCell<$A>,)+) {
            type Value = $V;
            #[inline]
            fn cell(&self) -> &CacheCell<$V> {
                &self.$i
            }
            #[inline]
            fn cell_mut(&mut self) -> &mut CacheCell<$V> {
                &mut self.$i
            }
        }
    };
}

cell_at!(0 A);
cell_at!(0 A, 1 B);
cell_at!(0 A, 1 B, 2 C);
cell_at!(0 A, 1 B, 2 C, 3 D);
cell_at!(0 A, 1 B, 2 C, 3 D, 4 E);
cell_at!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F);
cell_at!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G);
cell_at!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H);
cell_at!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I);
cell_at!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J);
cell_at!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K);
cell_at!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L);
cell_at!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M);
cell_at!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N);
cell_at!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N, 14 O);
cell_at!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N, 14 O, 15 P);

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
        Self::new::<I>(name, kind, body, rule, never_fails::<V>)
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

/// The result of bringing a cell up to date by computing it.
#[derive(Clone, Copy, Debug)]
pub struct Fresh {
    /// The value differs from the one it replaces (or there was none).
    pub(crate) changed: bool,
    /// The value is an invariant's `Err`.
    pub(crate) failed: bool,
}

/// A cache of `T` with its value type erased, as [`Object::CACHES`] lists it. Implemented
/// by [`Cache`] only.
pub trait AnyCache<T: Object>: Send + Sync + sealed::Ops<T> {
    /// The cache's position in [`Object::CACHES`].
    fn index(&self) -> usize;
    /// The method's name.
    fn name(&self) -> &'static str;
    /// When it is computed.
    fn kind(&self) -> Kind;
}

pub(crate) mod sealed {
    use super::*;

    /// What a quiet write did to a cell (see `Ops::refill`).
    pub enum Refill {
        /// Recomputed in place: valid, with a value that may differ from the old one.
        Recomputed,
        /// Now invalid; `hot` if it had been read since it was last computed.
        Invalidated { hot: bool },
    }

    /// A type's cells, reached by index (the index of their cache).
    pub trait Cells {
        /// Every cell invalid.
        fn empty() -> Self
        where
            Self: Sized;
        fn cell(&self, index: usize) -> &dyn ErasedCell;
        fn cell_mut(&mut self, index: usize) -> &mut dyn ErasedCell;
        /// [`ErasedCell::invalidate`] without a dynamic call.
        fn invalidate(&mut self, index: usize) -> bool;
    }

    /// What the runtime does with a cache whose value type it does not know.
    // Sealed: nameable only inside the crate, so its crate-private types stay private.
    #[allow(private_interfaces)]
    pub trait Ops<T: Object> {
        /// Computes into the cell through `&Heap`, shared with other readers (the caller
        /// claimed it). `None`, with nothing published, if the computation ran into a
        /// cycle.
        fn compute_shared(
            &self,
            ctx: &Ctx<'_, T>,
            cells: &T::Cells,
            keep_stale: bool,
        ) -> Option<Fresh>;
        /// Computes through `&Heap`, then publishes into the cell through `&mut Heap`
        /// (the barrier's way: no atomics). `None`, with nothing published, if the
        /// computation ran into a cycle.
        fn compute_owned(
            &self,
            heap: &mut Core,
            key: ObjectKey,
            frame: &Frame<'_>,
        ) -> Option<Fresh>;
        /// Under a quiet write that invalidates this cache: a cache computed from its own
        /// fields only that was read since it was last computed is recomputed in place,
        /// untracked; any other cache is invalidated.
        fn refill(&self, value: &T, cells: &mut T::Cells) -> Refill;
        /// Under a quiet write that reaches this field-only `now` cache: computes it from
        /// the written value and publishes the result, keeping the previous value aside
        /// for `ErasedCell::roll_back` or `ErasedCell::commit`. `None` for a cache that is
        /// not field-only; the panic's payload if the computation panicked (the cell is then
        /// untouched).
        fn recheck(&self, value: &T, cells: &mut T::Cells) -> Option<std::thread::Result<Fresh>>;
        /// Computes an invalid cache that reads its own fields only, untracked (no frame:
        /// it reads nothing else and cannot be part of a cycle), and publishes it. `None` for
        /// a cache that is not field-only; else the fields it reads, and what it published
        /// or the payload of its panic (the cell is then untouched).
        fn compute_fields(
            &self,
            value: &T,
            cells: &mut T::Cells,
            keep_stale: bool,
        ) -> Option<(FieldMask, std::thread::Result<Fresh>)>;
        /// Moves the error out of a failed invariant's cell, leaving it empty.
        fn take_failure(&self, cells: &mut T::Cells) -> Option<Box<dyn StdError + Send + Sync>>;
        /// Whether it reads its own object's fields only, so that it can be computed with
        /// no heap (an eager cache on a worker thread).
        fn detached(&self) -> bool;
        /// The fields it reads, if it reads its own object's fields only (known before it
        /// runs).
        fn fields(&self) -> Option<FieldMask>;
        /// The fields a write to which the object's own write path cannot settle alone:
        /// every field, for a cache that reads other objects; none for a cache of its own
        /// fields, which the own path refills (`refill_local`) or rechecks (`recheck`).
        fn loud(&self) -> FieldMask;
        /// The fields whose writes the own write path must recheck this cache for: those it
        /// reads, for a `now` or `eager` cache of its own fields; none otherwise.
        fn checks(&self) -> FieldMask;
        /// The own write path's share of a write of `written` (a quiet write's settling,
        /// see [`Ops::refill`], for a `lazy_read` cache of its own fields that reads one of
        /// them; nothing for any other cache).
        fn refill_local(&self, value: &T, cells: &mut T::Cells, written: FieldMask);
        /// Computes a [`detached`](Ops::detached) cache into its cell through `&self`.
        fn compute_detached(&self, value: &T, cells: &T::Cells);
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

    fn compute_owned(&self, heap: &mut Core, key: ObjectKey, frame: &Frame<'_>) -> Option<Fresh> {
        let value = {
            let heap = &*heap;
            let ctx = Ctx {
                this: &heap.stored::<T>(key).value,
                id: heap.id_of(key),
                heap,
                frame,
            };
            self.body.run(&ctx)
        };
        if frame.on_cycle() {
            return None;
        }
        let keep_stale = heap.in_barrier;
        let cell = (self.cell_mut)(&mut heap.stored_mut::<T>(key).cells);
        Some(cell.publish_owned(value, self.rule, keep_stale))
    }

    #[inline(always)]
    fn refill(&self, value: &T, cells: &mut T::Cells) -> sealed::Refill {
        let cell = (self.cell_mut)(cells);
        if let (Body::Fields(_, compute), true) = (self.body, cell.seen_mut()) {
            // A panic leaves the cell invalid: the next read recomputes and raises it.
            if let Ok(v) = panic::catch_unwind(AssertUnwindSafe(|| compute(value))) {
                cell.replace(v);
                return sealed::Refill::Recomputed;
            }
            cell.invalidate();
            return sealed::Refill::Invalidated { hot: false };
        }
        sealed::Refill::Invalidated {
            hot: cell.invalidate(),
        }
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
                    return Fresh {
                        changed: false,
                        failed: !(self.rule.holds)(&v),
                    };
                }
                ErasedCell::invalidate(cell);
                cell.publish_owned(v, self.rule, true)
            }),
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
    fn refill_local(&self, value: &T, cells: &mut T::Cells, written: FieldMask) {
        if let (Kind::LazyRead, Body::Fields(mask, _)) = (self.kind, self.body) {
            if mask.intersects(written) {
                self.refill(value, cells);
            }
        }
    }

    fn compute_detached(&self, value: &T, cells: &T::Cells) {
        if let Body::Fields(_, compute) = self.body {
            (self.cell)(cells).publish_shared(compute(value), self.rule, false);
        }
    }
}

/// A type whose values live on a [`Heap`](crate::Heap): its fields, its cached methods,
/// and how a rejected operation puts its fields back.
///
/// The derive macros implement it; see [`Cache`] for a hand-written implementation.
pub trait Object: Sized + Send + Sync + 'static {
    /// The field names, in the order of their [`Field`] indices (at most 64).
    const FIELDS: &'static [&'static str];
    /// The cached methods; entry `i` must have index `i`.
    const CACHES: &'static [&'static dyn AnyCache<Self>];
    /// The cells of the cached methods, stored with the value: a tuple with one
    /// [`CacheCell`] per entry of [`CACHES`](Object::CACHES), in that order (`()` for none).
    type Cells: CellSet;
    /// What [`save`](Object::save) keeps: typically the fields themselves.
    type Saved: Send + 'static;

    /// Copies the fields in `fields` so that a rejected operation can put them back, or
    /// returns `None` if this type cannot be restored cheaply. Then a rejected operation
    /// removes the object and hands its (broken) value back inside the error, and a panic
    /// inside an operation removes and drops it: nothing broken stays on the heap.
    fn save(&self, fields: FieldMask) -> Option<Self::Saved>;

    /// Puts back what [`save`](Object::save) returned.
    fn restore(&mut self, saved: Self::Saved);

    /// Calls `visit` with every handle the value holds, in order: the objects it owns when
    /// it is [frozen](crate::Heap::freeze), and the children normalization compares. The
    /// default holds none; the derive visits every [`Structural`](crate::Structural) field.
    fn handles(&self, visit: &mut dyn FnMut(ObjectId)) {
        let _ = visit;
    }

    /// Feeds the value's shape (everything but the objects its handles name) to `state`
    /// and returns `true`, or returns `false` if the type cannot be compared by structure,
    /// so that its immutable objects are never merged with others (the default).
    fn hash_shape(&self, state: &mut dyn Hasher) -> bool {
        let _ = state;
        false
    }

    /// Whether two values have the same shape: equal apart from the objects their handles
    /// name, which the runtime compares itself, position by position. Must agree with
    /// [`hash_shape`](Object::hash_shape); the default is `false`.
    fn same_shape(&self, other: &Self) -> bool {
        let _ = other;
        false
    }
}
