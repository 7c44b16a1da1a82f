use crate::cell::{CacheCell, ErasedCell, Fresh};
use crate::decl::ctx::Ctx;
use crate::decl::field::FieldMask;
use crate::diag::stats::{Counter, Tally};
use crate::key::ObjectId;
use std::error::Error as StdError;
use std::hash::Hasher;

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
    fn invalidate(&mut self, index: usize, _keep: bool) -> Option<bool> {
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
            fn invalidate(&mut self, index: usize, keep: bool) -> Option<bool> {
                match index {
                    $($i => ErasedCell::invalidate(&mut self.$i, keep),)+
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

/// A cache of `T` with its value type erased, as [`Object::CACHES`] lists it. Implemented
/// by [`Cache`](crate::Cache) only.
pub trait AnyCache<T: Object>: Send + Sync + sealed::Ops<T> {
    /// The cache's position in [`Object::CACHES`].
    fn index(&self) -> usize;
    /// The method's name.
    fn name(&self) -> &'static str;
    /// When it is computed.
    fn kind(&self) -> Kind;
    /// Whether it is an invariant (a `now` method returning `Result<(), E>`, declared with
    /// [`Cache::invariant`](crate::Cache::invariant)): its `Err` vetoes the operation that
    /// made it fail.
    fn is_invariant(&self) -> bool;
}

pub(crate) mod sealed {
    use super::*;

    /// What a quiet write did to a cell (see `Ops::refill`).
    pub enum Refill {
        /// Recomputed in place: valid, with a value that may differ from the old one.
        Recomputed,
        /// Now invalid; `hot` if it had been read since it was last computed; `valid` if
        /// it held a value (known only with the `stats` feature, which counts it; false
        /// without, unless the `tracing` feature traces it).
        Invalidated { hot: bool, valid: bool },
    }

    impl Refill {
        /// Traces what the write did to the cell.
        #[inline(always)]
        pub(crate) fn trace(&self, type_name: &'static str, cache: &'static str) {
            match *self {
                Refill::Recomputed => crate::diag::trace::own_computed(
                    type_name,
                    cache,
                    || false,
                    Some(&Fresh {
                        changed: true,
                        failed: false,
                    }),
                ),
                Refill::Invalidated { valid: true, .. } => {
                    crate::diag::trace::own_invalidated(type_name, cache)
                }
                Refill::Invalidated { .. } => {}
            }
        }

        /// Counts what the write did to the cell.
        #[inline(always)]
        pub(crate) fn count(&self, tally: &mut Tally<'_>) {
            match *self {
                Refill::Recomputed => tally.recomputed(|| false, false),
                Refill::Invalidated { valid, .. } => {
                    tally.add(Counter::MarkedDirty, u64::from(valid));
                }
            }
        }
    }

    /// What [`Ops::compute_owned`] needs from the barrier, which holds the heap
    /// exclusively: a [`Ctx`] to compute with, then the cells to publish into.
    pub trait Owned<T: Object> {
        /// Runs `f` with a context over the object being computed.
        fn with_ctx(&self, f: &mut dyn FnMut(&Ctx<'_, T>));
        /// Whether the computation ran into a cycle (nothing is published then).
        fn on_cycle(&self) -> bool;
        /// Whether the cell keeps its previous value for a rollback.
        fn keep_stale(&self) -> bool;
        /// The object's cells.
        fn cells(&mut self) -> &mut T::Cells;
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
        fn invalidate(&mut self, index: usize, keep: bool) -> Option<bool>;
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
        /// Computes through a [`Ctx`] the barrier lends, then publishes into the cell
        /// through `&mut` access (the barrier's way: no atomics). `None`, with nothing
        /// published, if the computation ran into a cycle.
        fn compute_owned(&self, env: &mut dyn Owned<T>) -> Option<Fresh>;
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
        /// At a transaction's end, for a field-only `now` cache that the object's own path
        /// invalidated with its value kept aside: computes it and publishes the result,
        /// keeping that value aside for a commit or a rollback — unless the result is equal
        /// to it, which is then valid again with nothing kept aside (`Fresh::changed` is
        /// false). `None` for a cache that is not field-only; the panic's payload if the
        /// computation panicked (the cell is then untouched).
        fn recheck_kept(
            &self,
            value: &T,
            cells: &mut T::Cells,
        ) -> Option<std::thread::Result<Fresh>>;
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
        fn refill_local(
            &self,
            value: &T,
            cells: &mut T::Cells,
            written: FieldMask,
            tally: Tally<'_>,
        );
        /// Computes a [`detached`](Ops::detached) cache into its cell through `&self`.
        fn compute_detached(&self, value: &T, cells: &T::Cells);
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
    /// only its own fields ([`Cache::on_fields`](crate::Cache::on_fields), as the derive declares it); otherwise, and
    /// on other objects, synchronously, and again after every invalidation, like `Now`.
    Eager,
}

impl Kind {
    /// Whether the barrier brings this cache up to date before an operation ends.
    pub(crate) fn is_eager(self) -> bool {
        matches!(self, Kind::Now | Kind::Eager)
    }
}

/// A type whose values live on a [`Heap`](crate::Heap): its fields, its cached methods,
/// and how a rejected operation puts its fields back.
///
/// The derive macros implement it. Written by hand, for the tutorial's `Path` (a list of
/// points and a location that must not be on it), with the descriptors the derive would
/// generate (see [`Cache`](crate::Cache) and [`Field`](crate::Field)):
///
/// ```
/// use std::fmt;
/// use steadfast::{AnyCache, Cache, CacheCell, Error, Field, FieldMask, Heap, Object};
///
/// #[derive(Clone, Debug)]
/// struct Path { points: Vec<(i32, i32)>, location: (i32, i32) }
///
/// #[derive(Debug)]
/// struct OnPath((i32, i32));
/// impl fmt::Display for OnPath {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         write!(f, "the location {:?} is on the path", self.0)
///     }
/// }
/// impl std::error::Error for OnPath {}
///
/// impl Path {
///     const POINTS: Field<Path, Vec<(i32, i32)>> = Field::new(0, |p| &p.points, |p| &mut p.points);
///     const LOCATION: Field<Path, (i32, i32)> = Field::new(1, |p| &p.location, |p| &mut p.location);
///     const LEN: Cache<Path, usize> = Cache::lazy_read::<0>("len", |c| c.field(&Path::POINTS).len());
///     const OFF_PATH: Cache<Path, Result<(), OnPath>> = Cache::invariant::<1>("off_path", |c| {
///         let loc = *c.field(&Path::LOCATION);
///         if c.field(&Path::POINTS).contains(&loc) { Err(OnPath(loc)) } else { Ok(()) }
///     });
/// }
///
/// impl Object for Path {
///     const FIELDS: &'static [&'static str] = &["points", "location"];
///     const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Path::LEN, &Path::OFF_PATH];
///     type Cells = (CacheCell<usize>, CacheCell<Result<(), OnPath>>);
///     type Saved = Path;
///     fn save(&self, _: FieldMask) -> Option<Path> { Some(self.clone()) }
///     fn restore(&mut self, saved: Path) { *self = saved }
/// }
///
/// let mut heap = Heap::new();
/// let path = heap.capsule(Path { points: vec![(0, 1), (0, 2)], location: (0, 0) })?;
/// assert_eq!(*heap.cached(&path, &Path::LEN)?, 2);
///
/// // A mutator: the invariant is checked once, at its end.
/// heap.write(&path, |w| w.field_mut(&Path::POINTS).push((0, 3)))?;
/// assert_eq!(*heap.cached(&path, &Path::LEN)?, 3);
///
/// // A mutation that breaks the invariant is rolled back and names it.
/// let err = heap.write(&path, |w| w.field_mut(&Path::POINTS).push((0, 0))).unwrap_err();
/// assert!(matches!(err, Error::Invariant { .. }));
/// assert_eq!(heap.get(&path)?.points, vec![(0, 1), (0, 2), (0, 3)]);
/// assert_eq!(*heap.cached(&path, &Path::LEN)?, 3);
/// # Ok::<(), Error>(())
/// ```
pub trait Object: Sized + Send + Sync + 'static {
    /// The field names, in the order of their [`Field`](crate::Field) indices (at most 64).
    const FIELDS: &'static [&'static str];
    /// The cached methods; entry `i` must have index `i`.
    const CACHES: &'static [&'static dyn AnyCache<Self>];
    /// The cells of the cached methods, stored with the value: a tuple with one
    /// [`CacheCell`] per entry of [`CACHES`](Object::CACHES), in that order (`()` for none).
    type Cells: CellSet;
    /// What [`save`](Object::save) keeps: typically the fields themselves.
    type Saved: Send + 'static;

    /// The type's identity in [`Heap::stable_hash`](crate::Heap::stable_hash), so that
    /// objects of two types with equal fields hash apart: a name that stays the same for as
    /// long as the hashes are kept. The derive sets it to the struct's path
    /// (`module_path!()` and its name), or to the name its attribute gives
    /// (`#[imm(stable_name = "shapes::Circle")]`), which survives moving and renaming the
    /// type. `None` (the default) uses `std::any::type_name`, which the compiler does not
    /// promise to keep from one build to the next.
    const STABLE_NAME: Option<&'static str> = None;

    /// Copies the fields in `fields` so that a rejected operation can put them back, or
    /// returns `None` if this type cannot be restored cheaply. Then a rejected operation
    /// removes the object and hands its (broken) value back inside the error, and a panic
    /// inside an operation removes and drops it: nothing broken stays on the heap.
    ///
    /// The derive saves a field by `Clone`, or by [`Save`](crate::Save) for a type that
    /// holds capsule handles; a field that is neither does not compile, unless the struct
    /// is declared `remove_on_failure` (`#[mutable(remove_on_failure)]`), which makes its
    /// `save` return `None` when such a field is written.
    fn save(&self, fields: FieldMask) -> Option<Self::Saved>;

    /// Puts back what [`save`](Object::save) returned.
    fn restore(&mut self, saved: Self::Saved);

    /// A copy of the value for an overlay to write instead of the base's (see
    /// [`Heap::overlay`](crate::Heap::overlay)), or `None` if the type cannot make one: an
    /// overlay write to the object then fails with
    /// [`Error::NotForkable`](crate::Error::NotForkable) and changes nothing.
    ///
    /// The derive implements it by copying each field as [`save`](Object::save) does
    /// (`Clone`, or [`Save`](crate::Save) for a field that holds capsule handles: the copy's
    /// handles name the same capsules, and the overlay writes them through its own copies
    /// of those in turn), and returns `None` when a field is neither. The default is
    /// `None`.
    fn fork(&self) -> Option<Self> {
        None
    }

    /// Calls `visit` with every handle the value holds, in order: the objects it owns when
    /// it is [frozen](crate::Heap::freeze), and the children normalization compares. The
    /// default holds none; the derive visits every [`Structural`](crate::Structural) field.
    fn handles(&self, visit: &mut dyn FnMut(ObjectId)) {
        let _ = visit;
    }

    /// Calls `visit(start, len)` for every run of the handles [`handles`](Object::handles)
    /// lists that normalization compares as a multiset rather than in order (a set of
    /// handles; see [`Structural::visit_sets`](crate::Structural::visit_sets)), handles
    /// numbered from 0. The default has none; the derive reports its `Structural` fields'.
    /// Values of the same shape must report the same runs (they are part of the shape);
    /// runs that overlap, leave the list or hold fewer than two handles are ignored.
    fn handle_sets(&self, visit: &mut dyn FnMut(usize, usize)) {
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
    /// name, which the runtime compares itself, position by position (a run of
    /// [`handle_sets`](Object::handle_sets) as a multiset). Must agree with
    /// [`hash_shape`](Object::hash_shape); the default is `false`.
    fn same_shape(&self, other: &Self) -> bool {
        let _ = other;
        false
    }
}

/// A type whose objects may be aliased: made with [`Heap::mutable`](crate::Heap::mutable) as a
/// [`Mutable`](crate::Mutable), whose handles are `Clone`. `#[mutable]` implements it. A `#[capsule]`
/// type does not (its encapsulated fields would become writable through any copy of the
/// handle), nor does an `#[imm]` type (its `lazy` caches assume it never changes). A
/// hand-written [`Object`] implements it to be made that way.
///
/// ```compile_fail,E0277
/// use steadfast::{cached, capsule, Heap};
///
/// #[capsule]
/// struct Path { #[capsule] points: Vec<(i32, i32)> }
/// #[cached]
/// impl Path {}
///
/// let mut heap = Heap::new();
/// let path = heap.mutable(Path { points: vec![] }); // a capsule is made with `heap.capsule`
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `#[mutable]` type, so it is not made with `Heap::mutable`",
    label = "`mutable` makes an aliasable `Mutable` handle",
    note = "a `#[capsule]` type is made with `heap.capsule(..)` (one handle), an `#[imm]` type with `heap.imm(..)`; a hand-written `Object` opts in with `impl steadfast::Aliasable for {Self} {{}}`"
)]
pub trait Aliasable: Object {}
