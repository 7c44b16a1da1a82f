//! Cached methods and invariants that stay right on mutable objects.
//!
//! Objects live in a [`Heap`] with an ownership tag — immutable ([`Imm`]), capsule
//! ([`Capsule`]) or mutable ([`Mut`]). Each type declares its fields and cached methods
//! ([`Object`]); the runtime records what each computation reads, so a write invalidates
//! exactly the caches that read what it wrote, and rechecks the invariants it can break
//! once, when the operation ends. A failing invariant or a panic rolls the operation back.
//!
//! # Example
//!
//! The tutorial's `Path`: a list of points and a location that must not be on it.
//!
//! ```
//! use std::fmt;
//! use steadfast::{AnyCache, Cache, Error, Field, FieldMask, Heap, Object};
//!
//! #[derive(Clone, Debug)]
//! struct Path { points: Vec<(i32, i32)>, location: (i32, i32) }
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
//! impl Path {
//!     const POINTS: Field<Path, Vec<(i32, i32)>> = Field::new(0, |p| &p.points, |p| &mut p.points);
//!     const LOCATION: Field<Path, (i32, i32)> = Field::new(1, |p| &p.location, |p| &mut p.location);
//!     const LEN: Cache<Path, usize> = Cache::lazy_read(0, "len", |c| c.field(&Path::POINTS).len());
//!     const OFF_PATH: Cache<Path, Result<(), OnPath>> = Cache::invariant(1, "off_path", |c| {
//!         let loc = *c.field(&Path::LOCATION);
//!         if c.field(&Path::POINTS).contains(&loc) { Err(OnPath(loc)) } else { Ok(()) }
//!     });
//! }
//!
//! impl Object for Path {
//!     const FIELDS: &'static [&'static str] = &["points", "location"];
//!     const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Path::LEN, &Path::OFF_PATH];
//!     type Saved = Path;
//!     fn save(&self, _: FieldMask) -> Option<Path> { Some(self.clone()) }
//!     fn restore(&mut self, saved: Path) { *self = saved }
//! }
//!
//! let mut heap = Heap::new();
//! let path = heap.capsule(Path { points: vec![(0, 1), (0, 2)], location: (0, 0) })?;
//! assert_eq!(*heap.cache(&path, &Path::LEN)?, 2);
//!
//! // A mutator: the invariant is checked once, at its end.
//! heap.mutate(&path, |w| w.field_mut(&Path::POINTS).push((0, 3)))?;
//! assert_eq!(*heap.cache(&path, &Path::LEN)?, 3);
//!
//! // A mutation that breaks the invariant is rolled back and names it.
//! let err = heap.mutate(&path, |w| w.field_mut(&Path::POINTS).push((0, 0))).unwrap_err();
//! assert!(matches!(err, Error::Invariant { .. }));
//! assert_eq!(heap.get(&path)?.points, vec![(0, 1), (0, 2), (0, 3)]);
//! assert_eq!(*heap.cache(&path, &Path::LEN)?, 3);
//! # Ok::<(), Error>(())
//! ```
//!
//! # Guarantees
//!
//! See `docs/semantics.md` for the precise statements and what is not covered yet:
//! coherence (a cached value always equals a fresh computation), invariants (hold on every
//! observable object), transactions (a rejected operation changes nothing), ownership
//! (tags are enforced; stale and foreign handles are errors), minimal work (a write costs
//! O(affected caches)) and thread safety (concurrent first reads compute once).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod barrier;
mod cell;
mod error;
mod handle;
mod heap;
mod object;
mod owned;
mod sync;
mod track;

#[doc(hidden)]
pub mod __private;

pub use barrier::Writer;
pub use error::{CacheName, Error};
pub use handle::{Capsule, Handle, Imm, Mut, ObjectId, Tag};
pub use heap::Heap;
pub use object::{AnyCache, Cache, Field, FieldMask, Kind, Object};
pub use owned::Owned;
pub use steadfast_derive::{cached, capsule, imm, mutable, Owned};
pub use track::Ctx;
