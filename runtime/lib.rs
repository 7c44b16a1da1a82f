//! Cached methods and invariants that stay right on mutable objects.
//!
//! Objects live in a [`Heap`] with an ownership tag — immutable ([`Imm`]), capsule
//! ([`Capsule`]) or mutable ([`Mutable`]). Each type declares its fields and cached methods
//! ([`Object`]); the runtime records what each computation reads, so a write invalidates
//! exactly the caches that read what it wrote, and rechecks the invariants it can break
//! once, when the operation ends. A failing invariant or a panic rolls the operation back.
//! Immutable objects are normalized: structurally equal ones, cyclic graphs included, share
//! their caches ([`Heap::class_of`]), and their `eager` caches run on rayon's pool
//! ([`Heap::imm`], [`Heap::freeze`]).
//!
//! # Example
//!
//! The L42 tutorial's `Path`: a list of points and a location that must not be on it.
//!
//! ```
//! use std::fmt;
//! use steadfast::{cached, capsule, Error, Heap};
//!
//! #[derive(Debug)]
//! struct OnPath((i32, i32));
//! impl fmt::Display for OnPath {
//!     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
//!         write!(f, "the location {:?} is on the path", self.0)
//!     }
//! }
//! impl std::error::Error for OnPath {}
//!
//! #[capsule]
//! struct Path {
//!     #[capsule]
//!     points: Vec<(i32, i32)>, // encapsulated: changed only by `clear` mutators or a box
//!     location: (i32, i32),    // gets a setter that goes through the write barrier
//! }
//!
//! #[cached]
//! impl Path {
//!     #[cache(lazy_read)] // recomputed only after a write to `points`
//!     fn len(points: &Vec<(i32, i32)>) -> usize {
//!         points.len()
//!     }
//!
//!     #[cache(now)] // the invariant, checked once at the end of each operation
//!     fn off_path(points: &Vec<(i32, i32)>, location: &(i32, i32)) -> Result<(), OnPath> {
//!         if points.contains(location) { Err(OnPath(*location)) } else { Ok(()) }
//!     }
//!
//!     #[cache(clear)] // a mutator: `Path::push(&mut heap, &path, point)`
//!     fn push(points: &mut Vec<(i32, i32)>, point: (i32, i32)) {
//!         points.push(point)
//!     }
//! }
//!
//! let mut heap = Heap::new();
//! let path = heap.capsule(Path { points: vec![(0, 1), (0, 2)], location: (0, 0) })?;
//! assert_eq!(*Path::len(&heap, &path)?, 2);
//!
//! // A mutator: the invariant is checked once, at its end.
//! Path::push(&mut heap, &path, (0, 3))?;
//! assert_eq!(*Path::len(&heap, &path)?, 3);
//!
//! // A write that breaks the invariant is rolled back and names it.
//! let err = Path::set_location(&mut heap, &path, (0, 3)).unwrap_err();
//! assert_eq!(err.invariant().unwrap().cache, "off_path");
//! assert_eq!(*heap[&path].location(), (0, 0));
//!
//! // Moving onto a point and removing it is fine as one operation: a box, checked once.
//! heap.open_box(&path, |raw| {
//!     raw.location = (0, 3);
//!     raw.points.retain(|&p| p != (0, 3));
//! })?;
//! assert_eq!(*Path::len(&heap, &path)?, 2);
//! # Ok::<(), Error>(())
//! ```
//!
//! The derive writes the [`Object`] impl; its documentation shows one written by hand.
//!
//! # Several objects at once
//!
//! A setter, a mutator or a box is one operation on one object. [`Heap::transaction`] makes
//! any number of writes, on any number of objects, one operation: checked once at its end,
//! and undone whole if an invariant fails, the closure returns `Err`, or it panics — so that
//! an invariant spanning several objects (a bank's accounts summing to its total) can be kept
//! while they change. Generated setters and mutators take any [`HeapMut`], the heap or an
//! open [`Transaction`]; `cargo run --example bank` shows it.
//!
//! # Interfaces: memoized functions and test doubles
//!
//! A trait declared with [`#[interface]`](interface) is an input a function can be memoized
//! over without knowing the implementation: a [`Memo`] records each run's calls and answers
//! as a tree, and a lookup replays them against the implementation at hand
//! (`cargo run --example interaction`). The heap can hold an implementation as an input like
//! a field ([`Ext`], [`Heap::replace_ext`]). Methods may write through `&mut` parameters
//! ([`Replay`]), and the same attribute makes a test double of the trait ([`Double`]:
//! clauses, verification, captors, replaying a memo's record; `cargo run --example
//! doubles`).
//!
//! # Guarantees
//!
//! See `docs/semantics.md` for the precise statements and what is not covered yet:
//! coherence (a cached value always equals a fresh computation), invariants (hold on every
//! observable object), transactions (a rejected operation changes nothing), ownership
//! (tags are enforced; stale and foreign handles are errors), minimal work (a write costs
//! O(affected caches)) and thread safety (concurrent first reads compute once).

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod barrier;
mod cell;
mod decl;
mod diag;
mod double;
mod error;
mod ext;
mod heap;
mod imm;
mod key;
mod memo;
pub mod norm;
mod overlay;
mod owned;
mod plain;
mod replay;
mod save;
mod shape;
mod stable;
mod stack;
mod sync;
mod track;

#[doc(hidden)]
pub mod __private;

pub use barrier::writer::Writer;
pub use cell::CacheCell;
pub use decl::cache::Cache;
pub use decl::field::{Field, FieldMask};
pub use decl::object::{Aliasable, AnyCache, CellAt, CellSet, Kind, Object};
pub use diag::dot::Dot;
pub use diag::explain::{Cause, CellState, Explain, Hop, Input};
#[cfg(feature = "stats")]
#[cfg_attr(docsrs, doc(cfg(feature = "stats")))]
pub use diag::stats::Stats;
pub use diag::watch::{ChangeKind, Watch};
pub use double::{Api, Clause, Double, Matching, Method};
pub use error::{CacheName, Error};
pub use ext::{Asking, Ext};
pub use heap::handle::{Capsule, Handle, Imm, Mutable, Writable};
pub use heap::Heap;
pub use imm::class::ClassId;
pub use imm::freeze::FreezeError;
pub use key::{ObjectId, Tag};
pub use memo::{Interface, Memo, MemoStats, Tracked};
pub use overlay::{Layer, LayerMut, LayerTransaction, Overlay};
pub use owned::Owned;
pub use plain::Plain;
pub use replay::{FormatterKey, Replay, State};
pub use save::{Save, Saving};
pub use shape::Structural;

/// Declares a capsule type: encapsulated mutable state (L42's capsule), created with
/// [`Heap::capsule`].
///
/// Fields marked `#[capsule]` are the encapsulated state: readable (a getter is generated),
/// but changed only by `#[cache(clear)]` mutators or [`Heap::open_box`]; their types must be
/// [`Owned`]. Every other field gets a getter and a setter `set_<field>(&mut heap, &capsule,
/// value)` that goes through the write barrier; its type must be [`Plain`] (no interior
/// mutability), unless the field is marked `#[untracked]` (see [`Plain`]). The struct also
/// gets a [`Field`] descriptor
/// per field (`Self::FIELD_NAME` in upper case) and its [`Object`] implementation; its cached
/// methods come from a [`cached`] impl block (which may be empty).
///
/// ```
/// use steadfast::{cached, capsule, Heap};
///
/// #[capsule]
/// struct Stack {
///     #[capsule]
///     items: Vec<u32>,
///     label: String,
/// }
///
/// #[cached]
/// impl Stack {
///     #[cache(lazy_read)]
///     fn depth(items: &Vec<u32>) -> usize {
///         items.len()
///     }
///
///     #[cache(clear)]
///     fn push(items: &mut Vec<u32>, item: u32) {
///         items.push(item);
///     }
/// }
///
/// let mut heap = Heap::new();
/// let s = heap.capsule(Stack { items: vec![], label: "s".into() })?;
/// Stack::push(&mut heap, &s, 7)?;
/// Stack::set_label(&mut heap, &s, "t".into())?;
/// assert_eq!(*Stack::depth(&heap, &s)?, 1);
/// assert_eq!(heap[&s].label(), "t");
/// # Ok::<(), steadfast::Error>(())
/// ```
pub use steadfast_derive::capsule;

/// Declares an immutable type, created with [`Heap::imm`]: never mutated, so it has no
/// setters and may have `lazy` and `eager` caches (eager ones run on rayon's pool, and
/// structurally equal objects share their caches). Every field must be [`Owned`]; fields
/// that are [`Structural`](trait@Structural) are compared by structure.
///
/// `#[imm(stable_name = "geometry::Circle")]` (also on `#[capsule]` and `#[mutable]`, whose
/// objects may be frozen) names the type in [`Heap::stable_hash`]; the default is the
/// struct's module path and name (see [`Object::STABLE_NAME`]).
///
/// ```
/// use steadfast::{cached, imm, Heap};
///
/// #[imm]
/// struct Circle {
///     radius: f64,
/// }
///
/// #[cached]
/// impl Circle {
///     #[cache(lazy)]
///     fn area(&self) -> f64 {
///         std::f64::consts::PI * self.radius * self.radius
///     }
/// }
///
/// let mut heap = Heap::new();
/// let c = heap.imm(Circle { radius: 1.0 })?;
/// assert!((Circle::area(&heap, &c)? - 3.14159).abs() < 1e-5);
/// # Ok::<(), steadfast::Error>(())
/// ```
pub use steadfast_derive::imm;

/// Declares a plain mutable type, created with [`Heap::mutable`]: aliasable ([`Mutable`] is
/// `Clone`), written through generated setters `set_<field>(&mut heap, handle, value)`, or
/// [`Heap::write`], each of which goes through the write barrier.
///
/// Every field must be [`Plain`] (no interior mutability: every change goes through the
/// barrier), unless it is marked `#[untracked]`, and `Clone` or [`Save`], so that a rejected operation can put it back;
/// `#[mutable(remove_on_failure)]` (and `#[capsule(remove_on_failure)]`) lifts that, and a
/// rejected operation that wrote such a field in place removes the object instead, handing
/// its value back inside the error (see [`Object::save`]).
///
/// ```
/// use steadfast::{cached, mutable, Heap};
///
/// #[mutable]
/// struct Point {
///     x: f64,
///     y: f64,
/// }
///
/// #[cached]
/// impl Point {
///     #[cache(lazy_read)]
///     fn distance(x: &f64, y: &f64) -> f64 {
///         (x * x + y * y).sqrt()
///     }
/// }
///
/// let mut heap = Heap::new();
/// let p = heap.mutable(Point { x: 3.0, y: 4.0 })?;
/// assert_eq!(*Point::distance(&heap, &p)?, 5.0);
/// Point::set_x(&mut heap, &p, 0.0)?; // invalidates `distance`: it reads `x`
/// assert_eq!(*Point::distance(&heap, &p)?, 4.0);
/// # Ok::<(), steadfast::Error>(())
/// ```
pub use steadfast_derive::mutable;

/// Declares the cached methods of a [`capsule`], [`imm`](macro@imm) or [`mutable`] type; each carries
/// `#[cache(kind)]` (L42's `Cache.*` annotations):
///
/// | kind | form | generated |
/// |---|---|---|
/// | `lazy`, `eager` | `fn f(&self) -> V` on an `#[imm]` type | `Self::f(&heap, handle) -> Result<&V>` |
/// | `lazy_read` | `fn f(field: &T, ...) -> V` | `Self::f(&heap, handle) -> Result<&V>`, recomputed after a write to a named field |
/// | `now` | `fn f(field: &T, ...) -> Result<(), E>` (an invariant) or `-> V` | checked at creation and at the end of every operation that writes a named field; an `Err` vetoes it |
/// | `clear` | `fn f(field: &mut T, ..., read: &U, ..., extra: X, ...) -> R` on a `#[capsule]` | `Self::f(&mut heap, &capsule, extra...) -> Result<R>`: a mutator, checked once at its end |
///
/// Parameters are named after the fields they read, which is how a write to a field
/// invalidates exactly the caches that read it. A `lazy_read` or `now` may also take
/// `ctx: &Ctx<Self>` to read other heap objects, tracked at run time. Each cache also gets a
/// [`Cache`] descriptor `Self::NAME` (upper case). See `docs/guide.md`.
///
/// A type with no cached methods still has a block, empty: `#[cached] impl Point {}`. The
/// struct's attribute cannot see whether a block exists elsewhere, and stable Rust has no
/// way for one to supply the cells' type that the other would otherwise default (that
/// needs specialization or inherent associated types); leaving it out is a compile error
/// that says to add it.
///
/// ```
/// use steadfast::{cached, capsule, Error, Heap};
///
/// #[derive(Debug)]
/// struct Overdrawn(i64);
/// impl std::fmt::Display for Overdrawn {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "balance {} is negative", self.0)
///     }
/// }
/// impl std::error::Error for Overdrawn {}
///
/// #[capsule]
/// struct Account {
///     #[capsule]
///     balance: i64,
/// }
///
/// #[cached]
/// impl Account {
///     #[cache(now)]
///     fn solvent(balance: &i64) -> Result<(), Overdrawn> {
///         if *balance < 0 { Err(Overdrawn(*balance)) } else { Ok(()) }
///     }
///
///     #[cache(clear)]
///     fn withdraw(balance: &mut i64, amount: i64) {
///         *balance -= amount;
///     }
/// }
///
/// let mut heap = Heap::new();
/// let acc = heap.capsule(Account { balance: 10 })?;
/// Account::withdraw(&mut heap, &acc, 4)?;
/// let err = Account::withdraw(&mut heap, &acc, 100).unwrap_err();
/// assert!(matches!(err, Error::Invariant { .. }));
/// assert_eq!(*heap[&acc].balance(), 6); // rolled back
/// # Ok::<(), Error>(())
/// ```
pub use steadfast_derive::cached;

/// Makes a trait an interface a [`Memo`] can record and replay: its calls a call enum, its
/// answers an answer enum, and `dyn Trait` an [`Interface`]; and it makes [`Tracked`]`<'_,
/// dyn Trait>` implement the trait, so a memoized function takes `&dyn Trait` as any code
/// would.
///
/// Each method takes `&self`; its parameters are stored in the call (`&str` as `Arc<str>`,
/// `&[T]` as `Arc<[T]>` — a call is copied into the record of each nested memo, and a
/// shared copy costs a count —, another `&T` as `T::Owned`, other types as they are) and its
/// answer is
/// stored in the tree, so both must be `Clone + Eq + Hash + Debug + Send + Sync + 'static`.
/// The generated types are named after the trait (`FilesCall`, `FilesAnswer` for `Files`),
/// or as `#[interface(call = Name, answer = Name)]` says, with the trait's visibility.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Arc;
/// use steadfast::Memo;
///
/// #[steadfast::interface]
/// pub trait Files {
///     fn read(&self, path: &str) -> Option<Arc<str>>;
/// }
///
/// impl Files for HashMap<String, Arc<str>> {
///     fn read(&self, path: &str) -> Option<Arc<str>> {
///         self.get(path).cloned()
///     }
/// }
///
/// /// Counts the words of a file and of each file it names on its first line.
/// fn words(path: &str, files: &dyn Files) -> usize {
///     let Some(text) = files.read(path) else { return 0 };
///     let mut lines = text.lines();
///     let includes = lines.next().unwrap_or("");
///     let own: usize = lines.map(|l| l.split_whitespace().count()).sum();
///     own + includes.split_whitespace().map(|p| words(p, files)).sum::<usize>()
/// }
///
/// let memo: Memo<String, usize, dyn Files> = Memo::new();
/// let mut disk: HashMap<String, Arc<str>> = HashMap::new();
/// disk.insert("main".into(), "lib\nfn main".into());
/// disk.insert("lib".into(), "\none two three".into());
/// disk.insert("notes".into(), "\nunread".into());
/// let count = |disk: &HashMap<String, Arc<str>>| {
///     memo.get(&"main".to_owned(), disk, |path, files| words(path, files))
/// };
/// assert_eq!(count(&disk)?, 5);
/// // A file the run never read changed: a hit.
/// disk.insert("notes".into(), "\nread now".into());
/// assert_eq!(count(&disk)?, 5);
/// assert_eq!(memo.stats().hits, 1);
/// # Ok::<(), steadfast::Error>(())
/// ```
///
/// A `&mut T` parameter is an effect (see [`Replay`]): the call stores what it may see of
/// the argument, the answer what the call did to it, and a tracked implementation is handed
/// a stand-in whose changes are then made to the caller's argument — also when the answer
/// is served from a record. `String`, `Vec<T>`, `dyn fmt::Write`, `dyn io::Write`,
/// `fmt::Formatter<'_>` and [`State`] types are provided.
///
/// The attribute also makes a test double of the trait: `FilesDouble`, an alias of
/// [`Double`]`<dyn Files>`, and `FilesApi`, a unit struct with a constant per method
/// (`FilesApi::READ`) to build the double's clauses from. Their names may be given as
/// `#[interface(double = Name, api = Name)]`.
///
/// Rejected with a message at the offending tokens: a method taking `&mut self` (an answer
/// must depend only on the calls asked), generic traits and methods, parameters holding a
/// borrow (but `&T`, `&mut T` and `fmt::Formatter<'_>`), answers that borrow, answer or
/// argument types that are not comparable and hashable, and `&mut` parameters of a type
/// that is not [`Replay`].
pub use steadfast_derive::interface;

pub use decl::ctx::Ctx;
pub use heap::view::{View, ViewMut};
pub use heap::{HeapMut, Transaction};
pub use steadfast_derive::Owned;
pub use steadfast_derive::Plain;
pub use steadfast_derive::Structural;
