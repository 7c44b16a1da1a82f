//! The arena: slots holding type-erased objects with their tag, cache cells and
//! tracking data, reached through typed generational handles.

use crate::barrier::journal::OpLog;
use crate::barrier::transaction::Tx;
use crate::barrier::writer::Writer;
use crate::decl::cache::Cache;
use crate::decl::field::Field;
use crate::decl::object::{Aliasable, Object};
use crate::decl::ops::into_stored;
use crate::decl::stored::Stored;
use crate::diag::cause::OpKind;
use crate::diag::dot::Dot;
use crate::diag::explain::Explain;
use crate::diag::stats::Counter;
#[cfg(feature = "stats")]
use crate::diag::stats::Stats;
use crate::diag::trace::op;
use crate::diag::watch::{ChangeKind, Watch};
use crate::error::Error;
use crate::ext::Ext;
use crate::heap::handle::{Capsule, Handle, Imm, Mutable, Writable};
use crate::heap::parts::Core;
use crate::heap::view::{View, ViewMut};
use crate::imm::class::ClassId;
use crate::imm::freeze::FreezeError;
use crate::key::Tag;
use crate::memo::Interface;
use crate::overlay::{Layer, LayerMut, Overlay};
use crate::sync::Mutex;
use std::ops::Deref;
use std::panic::{self, AssertUnwindSafe, RefUnwindSafe, UnwindSafe};

pub(crate) mod arena;
pub(crate) mod handle;
pub(crate) mod parts;
pub(crate) mod view;

use std::fmt;
use std::ops::Index;

/// An arena of objects with cached methods and invariants that stay right.
///
/// Objects are created with a tag ([`imm`](Heap::imm), [`capsule`](Heap::capsule),
/// [`mutable`](Heap::mutable) for `mut`), read through `&Heap` from any number of threads,
/// and written through `&mut Heap`, where the write barrier invalidates exactly the
/// caches the write can change and rechecks the invariants it can break.
pub struct Heap {
    core: Core,
    /// What an open transaction must undo: empty between transactions, kept for its
    /// allocations (beside the core, so that a transaction's steps borrow both).
    log: Mutex<OpLog>,
}

impl Heap {
    /// An empty heap.
    pub fn new() -> Self {
        Heap {
            core: Core::new(),
            log: Mutex::default(),
        }
    }

    /// The number of live objects (not those made in an overlay and not committed).
    pub fn len(&self) -> usize {
        self.core.slots.len() - self.core.overlays.hidden
    }

    /// Whether the heap holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of recorded dependency edges (a diagnostic): each is one cache's read of
    /// another object's field or cache. Edges of recomputed caches are replaced, not
    /// accumulated, so this stays proportional to the live computations.
    pub fn edges(&self) -> usize {
        self.core
            .slots
            .values()
            .map(|s| {
                let g = s.graph.lock();
                g.readers.len() + g.nodes.iter().map(|n| n.dependents.len()).sum::<usize>()
            })
            .sum()
    }

    /// What the heap did since it was made: hits, computations, invalidations, invariant
    /// checks, rollbacks and writes by the path that settled them (see [`Stats`] for each
    /// counter, and [`Stats::since`] for what one operation did). Needs the `stats`
    /// feature; without it nothing is counted, and counting costs nothing.
    ///
    /// ```
    /// # use steadfast::{capsule, cached, Heap};
    /// # #[capsule] struct Point { x: f64 }
    /// # #[cached] impl Point {}
    /// let mut heap = Heap::new();
    /// let p = heap.capsule(Point { x: 1.0 })?;
    /// let before = heap.stats();
    /// Point::set_x(&mut heap, &p, 2.0)?;
    /// let d = heap.stats().since(&before);
    /// assert_eq!((d.own_writes, d.barriers), (1, 0));
    /// # Ok::<(), steadfast::Error>(())
    /// ```
    #[cfg(feature = "stats")]
    #[cfg_attr(docsrs, doc(cfg(feature = "stats")))]
    pub fn stats(&self) -> Stats {
        self.core.stats.snapshot()
    }

    /// Says why a cache is in the state it is in: valid, to check or invalid; what its last
    /// computation read and which caches read it (always); and, with the `explain`
    /// feature, the chain of causes of its last invalidation — which operation, which
    /// object and field or cache, one hop per cache it went through (see [`Explain`]).
    /// An operation that was rolled back is never a cause.
    ///
    /// # Errors
    /// [`Error::Removed`] for a removed object, [`Error::ForeignHandle`] for another
    /// heap's.
    pub fn explain<T: Object, V>(
        &self,
        handle: &impl Handle<T>,
        cache: &Cache<T, V>,
    ) -> Result<Explain, Error> {
        self.core.typed_slot::<T>(handle.id())?;
        self.core.explain(handle.id(), cache.index())
    }

    /// Watches a cache: from now on, every operation that invalidates it brings it up to
    /// date, as it does a `now` cache (a failure to compute it vetoes nothing: it is
    /// reported by its next read), and every committed operation that changes its value
    /// leaves one entry in the change feed ([`take_changes`](Heap::take_changes)). A
    /// recomputation that finds an equal value is no change (early cutoff), and a
    /// rolled-back operation leaves nothing. The cache is computed now if it is not valid.
    /// Watching a watched cache again returns the same [`Watch`].
    ///
    /// ```
    /// use steadfast::{cached, mutable, ChangeKind, Heap};
    ///
    /// #[mutable]
    /// struct Thermometer { celsius: i32 }
    ///
    /// #[cached]
    /// impl Thermometer {
    ///     #[cache(lazy_read)]
    ///     fn freezing(celsius: &i32) -> bool { *celsius <= 0 }
    /// }
    ///
    /// let mut heap = Heap::new();
    /// let t = heap.mutable(Thermometer { celsius: 5 })?;
    /// let w = heap.watch(&t, &Thermometer::FREEZING)?;
    /// Thermometer::set_celsius(&mut heap, &t, 3)?; // still not freezing: no change
    /// Thermometer::set_celsius(&mut heap, &t, -2)?;
    /// assert_eq!(heap.take_changes(), vec![(w, ChangeKind::Changed)]);
    /// assert!(heap.take_changes().is_empty());
    /// # Ok::<(), steadfast::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Removed`] for a removed object, [`Error::ForeignHandle`] for another
    /// heap's; an error of the first computation ([`Error::Cycle`], say), with nothing
    /// watched.
    pub fn watch<T: Object, V>(
        &mut self,
        handle: &impl Handle<T>,
        cache: &Cache<T, V>,
    ) -> Result<Watch, Error> {
        self.core.typed_slot::<T>(handle.id())?;
        self.core.watch(handle.id(), cache.index())
    }

    /// Stops watching a cache; returns whether it was watched. Entries already in the feed
    /// stay.
    pub fn unwatch(&mut self, watch: &Watch) -> bool {
        self.core.unwatch(watch)
    }

    /// Takes the change feed: one entry per committed operation that changed a watched
    /// cache's value ([`ChangeKind::Changed`]), and one per watch ended by its object's
    /// removal ([`ChangeKind::Removed`]), oldest first.
    pub fn take_changes(&mut self) -> Vec<(Watch, ChangeKind)> {
        self.core.take_changes()
    }

    /// Draws the dependency graph in Graphviz's DOT language: each object a cluster
    /// labelled with its id, type and tag; its fields as grey boxes; its caches as
    /// ellipses (invariants as octagons) labelled with their kind and state, coloured
    /// green when valid, yellow when to check, red when invalid; an edge for each read a
    /// cache's last computation made (of its own fields, another object's fields, or
    /// another cache). Objects appear in the order of their ids, so that a heap built by
    /// the same operations draws the same bytes in every run. Render it with Graphviz
    /// (`dot -Tsvg heap.dot > heap.svg`).
    ///
    /// `dot` says what to draw: [`Dot::all`], or [`Dot::around`] one object; a drawing
    /// that would hold more objects than [`Dot::limit`] is refused, not cut.
    ///
    /// # Errors
    /// [`Error::TooLarge`] over the limit (nothing written); for [`Dot::around`] a removed
    /// or foreign handle ([`Error::Removed`], [`Error::ForeignHandle`]); [`Error::Write`]
    /// if `out` fails.
    pub fn write_dot(&self, out: &mut impl fmt::Write, dot: &Dot) -> Result<(), Error> {
        self.core.write_dot(out, dot)
    }

    /// Creates a mutable object. Its `now` and `eager` caches are computed first; if an
    /// invariant fails, nothing is created and the value comes back inside the error
    /// ([`Error::into_value`]). Only a `#[mutable]` type (an [`Aliasable`] one) is made
    /// this way: a `#[capsule]` type is made with [`capsule`](Heap::capsule), an `#[imm]`
    /// one with [`imm`](Heap::imm).
    ///
    /// # Errors
    /// Nothing is created, and the error is [`Error::Invariant`] (the value inside, see
    /// [`Error::into_value`]) if an invariant fails, [`Error::Cycle`] if a `now` or `eager`
    /// cache needs its own value, or [`Error::Schema`] if a hand-written [`Object`] impl does
    /// not hold together. A panic in one of those caches is passed on, with nothing created.
    pub fn mutable<T: Aliasable>(&mut self, value: T) -> Result<Mutable<T>, Error> {
        self.core
            .create(value, Tag::Mutable)
            .map(|(id, link)| Mutable::new(id, link))
    }

    /// Creates a capsule object (see [`mutable`](Heap::mutable) for what creation checks).
    ///
    /// # Errors
    /// As [`mutable`](Heap::mutable).
    pub fn capsule<T: Object>(&mut self, value: T) -> Result<Capsule<T>, Error> {
        self.core
            .create(value, Tag::Capsule)
            .map(|(id, link)| Capsule::new(id, link))
    }

    /// Creates an immutable object (see [`mutable`](Heap::mutable) for what creation checks).
    ///
    /// The object joins the class of the immutable objects structurally equal to it
    /// ([`class_of`](Heap::class_of)) and shares their caches. If it founds a new class, its
    /// `eager` caches that read only its fields start on rayon's pool, and `imm` returns
    /// without waiting for them; a read of one waits for it or computes it.
    ///
    /// # Errors
    /// As [`mutable`](Heap::mutable).
    pub fn imm<T: Object>(&mut self, value: T) -> Result<Imm<T>, Error> {
        self.core
            .create(value, Tag::Imm)
            .map(|(id, _)| Imm::new(id))
    }

    /// The tag of the object a handle names: the handle's own, or [`Tag::Imm`] once the
    /// object was frozen.
    ///
    /// # Errors
    /// [`Error::Removed`] for a removed object, [`Error::ForeignHandle`] for another heap's.
    pub fn tag<T: Object>(&self, handle: &impl Handle<T>) -> Result<Tag, Error> {
        Ok(self.core.typed_slot::<T>(handle.id())?.0.tag)
    }

    /// Whether the handle names a live object of this heap.
    pub fn contains<T: Object>(&self, handle: &impl Handle<T>) -> bool {
        self.core
            .slot(handle.id())
            .is_ok_and(|(s, _)| s.obj.get(&self.core.owner).is::<Option<Stored<T>>>())
    }

    /// Reads an object; `heap[&handle]` is the same read, which panics instead of
    /// returning an error.
    ///
    /// # Errors
    /// [`Error::Removed`] for a removed object, [`Error::ForeignHandle`] for another heap's.
    pub fn get<T: Object>(&self, handle: &impl Handle<T>) -> Result<&T, Error> {
        self.core
            .value_of(self.core.typed_slot::<T>(handle.id())?.0)
    }

    /// Reads a cached method's value, computing it if it is not valid.
    ///
    /// Through a [`Mutable`] or [`Capsule`] handle a hit costs a comparison of heap ids, one of
    /// owners and one acquire load: the handle holds the object's storage, so there is no
    /// lookup and no type check. Through an [`Imm`] handle it also costs a slot lookup and
    /// a type check. A miss computes once, also when several threads miss at once (the
    /// others wait for the value). An immutable object's caches are its class's: a miss on
    /// an object equal to one whose cache is computed reads that one (a
    /// [`view`](Heap::view) finds it once for repeated reads).
    ///
    /// # Errors
    /// A stale or foreign handle, a cache of another type, or [`Error::Cycle`] if the
    /// computation needs its own value.
    #[inline]
    pub fn cached<'a, T: Object, V: Send + Sync + 'static, H: Handle<T>>(
        &'a self,
        handle: &'a H,
        cache: &Cache<T, V>,
    ) -> Result<&'a V, Error> {
        let id = handle.id();
        if id.heap == self.core.id {
            let stored = match handle.link() {
                // Empty once the object is removed: the slot's checks say why.
                Some(link) => self.core.owner.ro(&**link).as_ref(),
                None => self.core.slots.get(id.key).and_then(|slot| {
                    let stored = slot.obj.get(&self.core.owner);
                    let stored = stored.downcast_ref::<Option<Stored<T>>>()?.as_ref()?;
                    (!slot.gone).then_some(stored)
                }),
            };
            if let Some(v) = stored.and_then(|s| (cache.cell)(&s.cells).get()) {
                self.core.stats.hit();
                return Ok(v);
            }
        }
        self.core.cache_miss(id, cache)
    }

    /// Attaches an implementation of the interface `I`: caches ask it through
    /// [`Ctx::ask`](crate::Ctx::ask), as they read a field.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    /// use steadfast::{cached, mutable, Ctx, Ext, Heap};
    ///
    /// static COUNTS: AtomicUsize = AtomicUsize::new(0);
    ///
    /// #[steadfast::interface]
    /// pub trait Files: Send + Sync {
    ///     fn read(&self, path: &str) -> Option<String>;
    /// }
    ///
    /// impl Files for HashMap<String, String> {
    ///     fn read(&self, path: &str) -> Option<String> {
    ///         self.get(path).cloned()
    ///     }
    /// }
    ///
    /// #[mutable]
    /// struct Doc {
    ///     path: String,
    ///     files: Ext<dyn Files>,
    /// }
    ///
    /// #[cached]
    /// impl Doc {
    ///     #[cache(lazy_read)]
    ///     fn words(path: &String, files: &Ext<dyn Files>, ctx: &Ctx<'_, Self>) -> usize {
    ///         COUNTS.fetch_add(1, Relaxed);
    ///         let files = ctx.ask(files).expect("attached");
    ///         files.read(path).map_or(0, |t| t.split_whitespace().count())
    ///     }
    /// }
    ///
    /// let mut heap = Heap::new();
    /// let disk = HashMap::from([("a".to_owned(), "one two".to_owned())]);
    /// let files = heap.attach::<dyn Files>(Box::new(disk.clone()))?;
    /// let doc = heap.mutable(Doc { path: "a".into(), files: files.clone() })?;
    /// assert_eq!(*heap.cached(&doc, &Doc::WORDS)?, 2);
    ///
    /// // Another implementation that answers `read("a")` alike: nothing is invalidated.
    /// let mut other = disk.clone();
    /// other.insert("b".into(), "three".into());
    /// heap.replace_ext(&files, Box::new(other))?;
    /// assert_eq!(*heap.cached(&doc, &Doc::WORDS)?, 2);
    /// assert_eq!(COUNTS.load(Relaxed), 1);
    ///
    /// // One that answers it otherwise: the cache is invalidated, and recomputed on read.
    /// heap.replace_ext(&files, Box::new(HashMap::from([("a".into(), "x".into())])))?;
    /// assert_eq!(*heap.cached(&doc, &Doc::WORDS)?, 1);
    /// assert_eq!(COUNTS.load(Relaxed), 2);
    /// # Ok::<(), steadfast::Error>(())
    /// ```
    ///
    /// # Errors
    /// None today: attaching creates an object with no caches. (`Result`, as every
    /// creation.)
    pub fn attach<I>(&mut self, implementation: Box<I::Live<'static>>) -> Result<Ext<I>, Error>
    where
        I: ?Sized + Interface,
        I::Live<'static>: Send + Sync,
    {
        self.core.attach(implementation)
    }

    /// The implementation attached at `ext`.
    ///
    /// # Errors
    /// [`Error::Removed`] for a detached implementation, [`Error::ForeignHandle`] for
    /// another heap's.
    pub fn implementation<I>(&self, ext: &Ext<I>) -> Result<&I::Live<'static>, Error>
    where
        I: ?Sized + Interface,
        I::Live<'static>: Send + Sync,
    {
        self.core.implementation(ext)
    }

    /// Replaces the implementation attached at `ext`, as one operation: the calls each
    /// cache made are asked of `new`, and only the caches it answers otherwise are
    /// invalidated (and their dependents, as for a write); invariants are rechecked once.
    /// Returns the old implementation.
    ///
    /// After an operation is rolled back, what caches were asked before it is no longer
    /// trusted: the next replacement invalidates every cache that asked, once.
    ///
    /// # Errors
    /// A stale or foreign handle; [`Error::Invariant`] if an invariant fails with the new
    /// implementation: the old one stays, every cache is as before, and the new one is
    /// inside the error ([`Error::into_value`] as a `Box<I::Live<'static>>`). A panic in a
    /// computation is passed on, with the old implementation kept.
    pub fn replace_ext<I>(
        &mut self,
        ext: &Ext<I>,
        new: Box<I::Live<'static>>,
    ) -> Result<Box<I::Live<'static>>, Error>
    where
        I: ?Sized + Interface,
        I::Live<'static>: Send + Sync,
    {
        self.core.replace_ext(ext, new)
    }

    /// Detaches the implementation at `ext` and returns it; caches that asked it are
    /// invalidated (and see it removed), as for [`remove`](Heap::remove).
    ///
    /// # Errors
    /// As [`remove`](Heap::remove).
    pub fn detach<I>(&mut self, ext: &Ext<I>) -> Result<Box<I::Live<'static>>, Error>
    where
        I: ?Sized + Interface,
        I::Live<'static>: Send + Sync,
    {
        self.remove(ext.handle()).map(|attached| attached.live)
    }

    /// Removes an object and returns its value; its caches and dependency edges go with it.
    ///
    /// Caches of other objects that read it are invalidated, and their invariants
    /// rechecked (they see the object as removed); if one fails, the removal is refused
    /// and the object stays.
    ///
    /// # Errors
    /// A stale or foreign handle; [`Error::Referenced`] if immutable objects hold handles
    /// to it (see [`remove_graph`](Heap::remove_graph)); [`Error::Invariant`] if an
    /// invariant that read it fails without it.
    pub fn remove<T: Object>(&mut self, handle: &impl Handle<T>) -> Result<T, Error> {
        let key = self.core.key::<T>(handle.id())?;
        let slot = &self.core.slots[key];
        if slot.imm_refs > 0 {
            return Err(Error::Referenced {
                object: handle.id(),
                type_name: std::any::type_name::<T>(),
                holders: slot.imm_refs as usize,
            });
        }
        self.core.clock.begin(OpKind::Remove);
        let _op = op(
            OpKind::Remove,
            Some(handle.id()),
            std::any::type_name::<T>(),
        );
        self.core.remove_key(key)?;
        let slot = self.core.take_slot(key);
        Ok(into_stored::<T>(slot.obj, &mut self.core.owner).value)
    }

    /// Sets a field of a mutable object. Caches that read the field are invalidated;
    /// invariants that read it are rechecked, and if one fails the field keeps its old
    /// value and the error names the invariant. [`replace`](Heap::replace) also returns the
    /// old value.
    ///
    /// A field that no other object reads (nor a cache of this object that reads other
    /// objects) is written as a hand-written setter with its check would write it: the
    /// object's invariants that read it are rechecked in place, its caches that read it
    /// recomputed (if they were read since they were computed) or cleared, and nothing
    /// else is visited. Any other write goes through the barrier.
    ///
    /// # Errors
    /// [`Error::Invariant`] if an invariant that reads the field fails (the field keeps its
    /// old value); [`Error::Immutable`] if the object was frozen since the handle was made;
    /// the handle's errors (a removed object, another heap's handle).
    #[inline(always)]
    pub fn set<T: Object, F>(
        &mut self,
        handle: &Mutable<T>,
        field: &Field<T, F>,
        value: F,
    ) -> Result<(), Error> {
        self.core.set(handle, field, value).map(drop)
    }

    /// Sets a field of a mutable object, as [`set`](Heap::set), and returns the old value
    /// (as [`std::mem::replace`] does).
    ///
    /// # Errors
    /// As [`set`](Heap::set).
    #[inline(always)]
    pub fn replace<T: Object, F>(
        &mut self,
        handle: &Mutable<T>,
        field: &Field<T, F>,
        value: F,
    ) -> Result<F, Error> {
        self.core.set(handle, field, value)
    }

    /// Writes to a mutable object, or runs a capsule's mutator: `f` writes through a
    /// [`Writer`], and the write is checked once, when `f` returns (L42's `Cache.Clear`
    /// methods are this on a capsule; the derive's `clear` methods call it). If an
    /// invariant fails or `f` panics, every field `f` wrote is put back.
    ///
    /// # Errors
    /// [`Error::Invariant`] if an invariant fails (every field is put back, or, for a type
    /// declared `remove_on_failure` whose written field cannot be saved, the object is
    /// removed and its value handed back inside the error); [`Error::Immutable`] if the
    /// object was frozen since the handle was made; the handle's errors. A panic in `f` is
    /// passed on after the fields are put back.
    pub fn write<T: Object, R>(
        &mut self,
        handle: &impl Writable<T>,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Result<R, Error> {
        self.core.write(handle, f)
    }

    /// Opens a capsule: `f` gets unchecked `&mut` access to the whole value, invariants are
    /// open inside, and at the end every cache of the object is invalidated and every
    /// invariant that may have changed is rechecked exactly once. A failure puts the whole
    /// value back (saved with [`Object::save`] before `f` runs).
    ///
    /// # Errors
    /// As [`write`](Heap::write).
    pub fn open_box<T: Object, R>(
        &mut self,
        capsule: &Capsule<T>,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<R, Error> {
        self.core.open_box(capsule, f)
    }

    /// A view of an object, for repeated reads of its value and caches.
    ///
    /// # Errors
    /// A stale or foreign handle.
    pub fn view<T: Object>(&self, handle: &impl Handle<T>) -> Result<View<'_, T>, Error> {
        self.core.view(handle)
    }

    /// A view of a mutable object, for several writes and reads in a row.
    ///
    /// # Errors
    /// A stale or foreign handle.
    #[inline]
    pub fn view_mut<'h, T: Object>(
        &'h mut self,
        handle: &'h Mutable<T>,
    ) -> Result<ViewMut<'h, T>, Error> {
        self.core.view_mut(handle)
    }

    /// Turns a capsule, and every object it owns, into immutable objects, consuming its
    /// unique handle; they keep their values and valid caches and are normalized
    /// (structurally equal immutable objects share their caches).
    ///
    /// The capsule owns what its handles reach, following every handle its fields hold
    /// (see [`Object::handles`]), cycles included, and stopping at objects that are
    /// already immutable. Writes through a [`Mutable`] handle to one of them kept
    /// elsewhere fail from now on with [`Error::Immutable`].
    ///
    /// # Errors
    /// Nothing changes, and the capsule comes back inside the [`FreezeError`] (take it with
    /// [`FreezeError::into_capsule`]), whose [`error`](FreezeError::error) is
    /// * [`Error::Aliased`] if an object outside the capsule holds a handle to an object
    ///   the capsule reaches (the capsule does not own it);
    /// * [`Error::ForeignHandle`] if an object it reaches holds a handle of another heap;
    /// * the capsule's own handle errors.
    ///
    /// Checking for outside holders visits every object of the heap once.
    ///
    /// ```
    /// use steadfast::{capsule, cached, mutable, Error, Heap, Mutable};
    ///
    /// #[mutable]
    /// struct Node { label: u32, next: Option<Mutable<Node>> }
    /// #[cached]
    /// impl Node {}
    ///
    /// #[capsule]
    /// struct Ring { entry: Mutable<Node> }
    /// #[cached]
    /// impl Ring {}
    ///
    /// let mut heap = Heap::new();
    /// let a = heap.mutable(Node { label: 1, next: None })?;
    /// let b = heap.mutable(Node { label: 2, next: Some(a.clone()) })?;
    /// Node::set_next(&mut heap, &a, Some(b.clone()))?; // a cycle
    /// let ring = heap.capsule(Ring { entry: a })?;
    /// let ring = heap.freeze(ring)?;
    /// assert!(matches!(Node::set_label(&mut heap, &b, 3), Err(Error::Immutable { .. })));
    /// # let _ = ring;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn freeze<T: Object>(&mut self, capsule: Capsule<T>) -> Result<Imm<T>, FreezeError<T>> {
        self.core.freeze(capsule)
    }

    /// An immutable handle to an object that is immutable now, such as one that was frozen
    /// with the capsule that owned it; `None` if the handle does not name a live immutable
    /// object of this heap.
    pub fn as_imm<T: Object>(&self, handle: &impl Handle<T>) -> Option<Imm<T>> {
        self.core.as_imm(handle)
    }

    /// Removes an immutable object together with every immutable object it reaches that
    /// nothing else holds, and returns how many were removed. This is how a cyclic
    /// immutable graph is freed: [`remove`](Heap::remove) refuses an object that other
    /// immutable objects hold handles to.
    ///
    /// # Errors
    /// [`Error::Referenced`] if immutable objects outside the graph hold handles to the
    /// root; [`Error::Invariant`] if an invariant that read one of them fails without it
    /// (nothing is removed); the handle's own errors.
    pub fn remove_graph<T: Object>(&mut self, root: &Imm<T>) -> Result<usize, Error> {
        self.core.clock.begin(OpKind::Remove);
        let _op = op(OpKind::Remove, Some(root.id()), std::any::type_name::<T>());
        self.core.remove_graph(root)
    }

    /// The class of an immutable object: equal for two objects exactly when they are
    /// structurally equal.
    ///
    /// # Errors
    /// [`Error::Removed`] for a removed object, [`Error::ForeignHandle`] for another heap's.
    ///
    /// ```
    /// use steadfast::{cached, imm, Heap, Imm};
    ///
    /// #[imm]
    /// struct Pair { left: u32, right: Option<Imm<Pair>> }
    /// #[cached]
    /// impl Pair {}
    ///
    /// let mut heap = Heap::new();
    /// let a = heap.imm(Pair { left: 1, right: None })?;
    /// let b = heap.imm(Pair { left: 1, right: None })?;
    /// let p = heap.imm(Pair { left: 2, right: Some(a) })?;
    /// let q = heap.imm(Pair { left: 2, right: Some(b) })?;
    /// assert_eq!(heap.class_of(&p)?, heap.class_of(&q)?);
    /// assert_ne!(heap.class_of(&p)?, heap.class_of(&a)?);
    /// # Ok::<(), steadfast::Error>(())
    /// ```
    pub fn class_of<T: Object>(&self, handle: &Imm<T>) -> Result<ClassId, Error> {
        self.core.class_of(handle)
    }

    /// A hash of the immutable graph an object reaches that depends only on its structure:
    /// structurally equal graphs have equal hashes however they were built, in every heap,
    /// run and build, on every platform; unequal graphs almost surely differ. It can be
    /// stored and compared with one computed by another version of the program.
    ///
    /// What it hashes: the graph's canonical form (its classes numbered breadth-first from
    /// the root), each class as its type's [`Object::STABLE_NAME`], whether and how it
    /// compares by structure ([`Object::hash_shape`]), and its children's numbers; the
    /// function is SipHash-2-4 with the all-zero key, integers written as little-endian bytes
    /// at their full width (`usize` as 64 bits). So it stays the same for as long as the
    /// types' stable names and their fields' `Hash` impls do: std's impls for integers,
    /// `bool`, `char`, strings, tuples, `Option` and the sequence containers feed the same
    /// writes today but do not promise to forever, and a type without a stable name (a
    /// hand-written `Object` leaving the default) mixes in `std::any::type_name`, which may
    /// change with the compiler. Floats hash by their bits.
    ///
    /// # Errors
    /// [`Error::Removed`] for a removed object, [`Error::ForeignHandle`] for another heap's.
    ///
    /// ```
    /// use steadfast::{cached, imm, Heap, Imm};
    ///
    /// #[imm(stable_name = "doc::Pair")]
    /// struct Pair { left: u32, right: Option<Imm<Pair>> }
    /// #[cached]
    /// impl Pair {}
    ///
    /// let mut heap = Heap::new();
    /// let leaf = heap.imm(Pair { left: 1, right: None })?;
    /// let pair = heap.imm(Pair { left: 2, right: Some(leaf) })?;
    /// // The same in every build: a value to store.
    /// assert_eq!(heap.stable_hash(&pair)?, 0x7076_85b9_d8aa_ec6f);
    /// # Ok::<(), steadfast::Error>(())
    /// ```
    pub fn stable_hash<T: Object>(&self, handle: &Imm<T>) -> Result<u64, Error> {
        self.core.stable_hash(handle)
    }

    /// Opens an overlay: a layer of unsaved edits over the heap, as an editor holds the
    /// unsaved buffers over the saved files.
    ///
    /// Write in it through [`layer_mut`](Heap::layer_mut) and read it through
    /// [`layer`](Heap::layer). Its first write to an object copies the object into it
    /// ([`Object::fork`]); the base is never changed. A read in the overlay of an object it
    /// did not write is the base's read (the same reference, caches included); a cache
    /// whose computation reads something the overlay wrote is computed in the overlay, and
    /// kept there. Each overlay write is an operation: checked once against the invariants
    /// as the overlay sees them, rolled back in the overlay if one fails.
    ///
    /// The base stays writable: each base operation is pushed into every open overlay,
    /// dirtying exactly the overlay's caches that read what it wrote (an overlay that read
    /// none of it is not visited). A base write that breaks an invariant as an overlay sees
    /// it is not refused (the base is the saved truth); the overlay reports
    /// [`Error::OverlayBroken`] on every read until one of its writes repairs it.
    ///
    /// Any number of overlays may be open; each is independent of the others.
    /// [`discard`](Heap::discard) closes one and frees everything it held.
    ///
    /// ```
    /// use steadfast::{cached, mutable, Heap};
    ///
    /// #[mutable]
    /// #[derive(Clone)]
    /// struct Module { source: String }
    ///
    /// #[cached]
    /// impl Module {
    ///     #[cache(lazy_read)]
    ///     fn words(source: &String) -> usize { source.split_whitespace().count() }
    /// }
    ///
    /// let mut heap = Heap::new();
    /// let m = heap.mutable(Module { source: "class A".into() })?;
    /// let ov = heap.overlay();
    ///
    /// // An unsaved edit: the overlay sees it, the base does not.
    /// Module::set_source(&mut heap.layer_mut(&ov)?, &m, "class A extends B".into())?;
    /// assert_eq!(*heap.layer(&ov)?.cached(&m, &Module::WORDS)?, 4);
    /// assert_eq!(*heap.cached(&m, &Module::WORDS)?, 2);
    ///
    /// heap.discard(ov)?;
    /// assert!(heap.layer(&ov).is_err());
    /// # Ok::<(), steadfast::Error>(())
    /// ```
    pub fn overlay(&mut self) -> Overlay {
        self.core.open_overlay()
    }

    /// Reads the heap as an overlay sees it (see [`overlay`](Heap::overlay)). Making the view
    /// first brings up to date what base writes owe the overlay's invariants.
    ///
    /// # Errors
    /// [`Error::OverlayClosed`] for a discarded overlay, [`Error::ForeignOverlay`] for
    /// another heap's, [`Error::OverlayInTransaction`] inside a transaction.
    pub fn layer(&self, overlay: &Overlay) -> Result<Layer<'_>, Error> {
        Layer::new(&self.core, overlay)
    }

    /// Writes to the heap as an overlay (see [`overlay`](Heap::overlay)).
    ///
    /// # Errors
    /// As [`layer`](Heap::layer).
    pub fn layer_mut(&mut self, overlay: &Overlay) -> Result<LayerMut<'_>, Error> {
        LayerMut::new(&mut self.core, overlay)
    }

    /// Commits an overlay: one operation on the heap that writes each object the overlay
    /// wrote with the overlay's value of it, checked once against the heap's invariants.
    /// On success the overlay is closed (as by [`discard`](Heap::discard)); on failure
    /// nothing is changed, and the overlay is left as it was.
    ///
    /// ```
    /// # use steadfast::{cached, mutable, Heap};
    /// # #[mutable]
    /// # #[derive(Clone)]
    /// # struct Module { source: String }
    /// # #[cached]
    /// # impl Module {}
    /// let mut heap = Heap::new();
    /// let m = heap.mutable(Module { source: "class A".into() })?;
    /// let ov = heap.overlay();
    /// Module::set_source(&mut heap.layer_mut(&ov)?, &m, "class B".into())?;
    /// heap.commit(ov)?; // saved
    /// assert_eq!(heap[&m].source, "class B");
    /// # Ok::<(), steadfast::Error>(())
    /// ```
    ///
    /// # Errors
    /// Nothing is changed and the overlay stays open on: [`Error::Conflict`] if the heap
    /// wrote or removed an object since the overlay wrote it; [`Error::OverlayBroken`] if an
    /// invariant fails in the overlay; [`Error::Invariant`] if one fails on the heap with the
    /// overlay's values (a panic in a computation is passed on, after the same rollback).
    /// [`Error::OverlayClosed`], [`Error::ForeignOverlay`] and
    /// [`Error::OverlayInTransaction`] as for [`layer`](Heap::layer).
    pub fn commit(&mut self, overlay: Overlay) -> Result<(), Error> {
        self.core.commit_overlay(&overlay)
    }

    /// Closes an overlay and frees everything it held: its copies, its cells, its edges, and
    /// its marks on base objects. Its handle is stale from now on.
    ///
    /// # Errors
    /// [`Error::OverlayClosed`] if it was closed already, [`Error::ForeignOverlay`] for
    /// another heap's; nothing is changed.
    pub fn discard(&mut self, overlay: Overlay) -> Result<(), Error> {
        self.core.discard_overlay(&overlay)
    }

    /// Runs `f` as one operation over any number of objects, checked once at its end: see
    /// [`Transaction`]. Returns what `f` returns; if `f` returns `Err`, panics, or leaves an
    /// invariant broken, nothing it did stays.
    ///
    /// The error type is the closure's: anything a [`steadfast::Error`](Error) converts
    /// into (`Error` itself, or your own error with a `From<steadfast::Error>` impl), so
    /// that `?` works on the transaction's own calls and on yours.
    ///
    /// # Errors
    /// The closure's own `Err`, with everything it did undone; or, when it returned `Ok`,
    /// [`Error::Invariant`] if an invariant fails at the end (everything undone; see
    /// [`Transaction`] for what is put back). A panic in the closure is passed on after
    /// everything is undone.
    ///
    /// ```
    /// use steadfast::{cached, mutable, Error, Heap};
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
    /// #[mutable]
    /// struct Account { balance: i64 }
    ///
    /// #[cached]
    /// impl Account {
    ///     #[cache(now)]
    ///     fn solvent(balance: &i64) -> Result<(), Overdrawn> {
    ///         if *balance < 0 { Err(Overdrawn(*balance)) } else { Ok(()) }
    ///     }
    /// }
    ///
    /// let mut heap = Heap::new();
    /// let (a, b) = (heap.mutable(Account { balance: 10 })?, heap.mutable(Account { balance: 0 })?);
    ///
    /// // A transfer: both writes, checked once at the end.
    /// heap.transaction(|tx| {
    ///     Account::set_balance(tx, &a, 3)?;
    ///     Account::set_balance(tx, &b, 7)
    /// })?;
    /// assert_eq!((heap[&a].balance, heap[&b].balance), (3, 7));
    ///
    /// // An overdraw: the invariant fails at the end, and both writes are undone.
    /// let err = heap.transaction(|tx| {
    ///     Account::set_balance(tx, &a, -5)?;
    ///     Account::set_balance(tx, &b, 15)
    /// });
    /// assert!(matches!(err, Err(Error::Invariant { .. })));
    /// assert_eq!((heap[&a].balance, heap[&b].balance), (3, 7));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn transaction<R, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let _op = op(OpKind::Transaction, None, "");
        Tx::begin(&mut self.core);
        self.core.stats.tally().add(Counter::Transactions, 1);
        let mut tx = Transaction { heap: self };
        match panic::catch_unwind(AssertUnwindSafe(|| f(&mut tx))) {
            Ok(Ok(out)) => tx.step().commit().map(|()| out).map_err(E::from),
            Ok(Err(error)) => {
                tx.step().roll_back();
                self.core.rolled_back();
                Err(error)
            }
            Err(payload) => {
                tx.step().roll_back();
                self.core.rolled_back();
                panic::resume_unwind(payload)
            }
        }
    }
}

/// A heap stays consistent across a panic: an operation that panics is rolled back whole
/// (G3), and a read whose computation panics leaves its cache invalid and wakes whoever
/// waited on it. So a `&Heap` (and a handle) may be used inside
/// [`catch_unwind`](std::panic::catch_unwind) without `AssertUnwindSafe`. (std still asks
/// for it around a `&mut Heap`: no `&mut` reference is `UnwindSafe`.)
impl UnwindSafe for Heap {}
impl RefUnwindSafe for Heap {}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Heap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Heap")
            .field("id", &self.core.id)
            .field("objects", &self.core.slots.len())
            .finish_non_exhaustive()
    }
}

macro_rules! index_by {
    ($($handle:ty),*) => {$(
        impl<T: Object> Index<$handle> for Heap {
            type Output = T;

            /// Reads an object.
            ///
            /// # Panics
            /// If the handle is stale, removed or of another heap; [`Heap::get`] returns
            /// the error instead.
            fn index(&self, handle: $handle) -> &T {
                match self.get(handle) {
                    Ok(v) => v,
                    Err(e) => panic!("steadfast: {e}"),
                }
            }
        }
    )*};
}

index_by!(&Imm<T>, &Mutable<T>, &Capsule<T>);

/// An operation over any number of objects, open inside [`Heap::transaction`].
///
/// It has the heap's writes — [`set`](Transaction::set), [`write`](Transaction::write),
/// [`open_box`](Transaction::open_box), allocation and
/// [`remove`](Transaction::remove) — and, through [`Deref`], every read of [`Heap`]. The
/// invariants of everything it writes, and the invariants of other objects that read it,
/// are open inside: each write invalidates at once what it can change (so a read inside
/// the transaction sees its writes), and the invariants are checked once, when the
/// transaction ends. If one fails, if the closure returns `Err`, or if it panics, the
/// heap is put back as it was: fields, caches, dependency edges, allocations (gone again;
/// their handles are stale) and removals (back, with every handle valid). Every read then
/// gives what it gave before; a lazy cache that nobody had read since it was computed, and
/// that nothing reads, may be computed again by its next read (see `docs/semantics.md`, G3).
///
/// Generated setters and mutators take any [`HeapMut`], so they run inside a transaction
/// as they do on the heap: `Account::deposit(tx, &account, 5)`.
///
/// # Nesting
///
/// A transaction does not nest: inside one, every write — a setter, a mutator, a box — is
/// part of it and is checked at its end, not at its own. An error a write returns inside
/// (a stale handle, say) changes nothing; pass it on with `?` to roll the whole
/// transaction back, or handle it and go on.
pub struct Transaction<'h> {
    heap: &'h mut Heap,
}

impl<'h> Transaction<'h> {
    /// Sets a field of a mutable object; its readers are invalidated at once, its
    /// invariants checked when the transaction ends.
    ///
    /// # Errors
    /// The handle's errors and [`Error::Immutable`]; an invariant is not checked here.
    pub fn set<T: Object, F>(
        &mut self,
        handle: &Mutable<T>,
        field: &Field<T, F>,
        value: F,
    ) -> Result<(), Error> {
        self.step().set(handle, field, value).map(drop)
    }

    /// Sets a field, as [`set`](Transaction::set), and returns the old value.
    ///
    /// # Errors
    /// As [`set`](Transaction::set).
    pub fn replace<T: Object, F>(
        &mut self,
        handle: &Mutable<T>,
        field: &Field<T, F>,
        value: F,
    ) -> Result<F, Error> {
        self.step().set(handle, field, value)
    }

    /// Writes to a mutable object, or runs a capsule's mutator, through a [`Writer`] (see
    /// [`Heap::write`]); it is checked when the transaction ends.
    ///
    /// # Errors
    /// The handle's errors and [`Error::Immutable`]; invariants are checked at the end.
    pub fn write<T: Object, R>(
        &mut self,
        handle: &impl Writable<T>,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Result<R, Error> {
        self.step().write(handle, f)
    }

    /// Opens a capsule's box (see [`Heap::open_box`]); it is checked when the transaction
    /// ends.
    ///
    /// # Errors
    /// The handle's errors; invariants are checked at the end.
    pub fn open_box<T: Object, R>(
        &mut self,
        capsule: &Capsule<T>,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<R, Error> {
        self.step().open_box(capsule, f)
    }

    /// Reaches a capsule that another object owns — `select` picks its handle out of the
    /// owner's value — and runs `f` with it, inside this transaction: its mutators, box and
    /// setters can be called there, although the handle lives in the heap.
    ///
    /// ```
    /// use steadfast::{cached, capsule, mutable, Capsule, Error, Heap};
    ///
    /// #[capsule]
    /// struct Account { #[capsule] balance: i64 }
    ///
    /// #[cached]
    /// impl Account {
    ///     #[cache(clear)]
    ///     fn deposit(balance: &mut i64, amount: i64) { *balance += amount }
    /// }
    ///
    /// #[mutable]
    /// struct Bank { accounts: Vec<Capsule<Account>> }
    /// #[cached]
    /// impl Bank {}
    ///
    /// let mut heap = Heap::new();
    /// let account = heap.capsule(Account { balance: 1 })?;
    /// let bank = heap.mutable(Bank { accounts: vec![account] })?;
    /// heap.transaction(|tx| {
    ///     tx.through(&bank, |b| &b.accounts[0], |tx, account| Account::deposit(tx, account, 5))
    /// })?;
    /// assert_eq!(*heap[&heap[&bank].accounts[0]].balance(), 6);
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    /// The owner's handle errors, and [`Error::NotOwned`] if the owner holds no handle to
    /// the capsule `select` returned (by [`Object::handles`]); then `f` does not run.
    pub fn through<O: Object, T: Object, R, E: From<Error>>(
        &mut self,
        owner: &impl Handle<O>,
        select: impl FnOnce(&O) -> &Capsule<T>,
        f: impl FnOnce(&mut Self, &Capsule<T>) -> Result<R, E>,
    ) -> Result<R, E> {
        let capsule = self.step().lend(owner.id(), select)?;
        f(self, &capsule)
    }

    /// Creates a mutable object; its invariants are checked when the transaction ends, and
    /// a rollback removes it.
    ///
    /// # Errors
    /// [`Error::Schema`] if a hand-written [`Object`] impl does not hold together; its
    /// invariants are checked at the end.
    pub fn mutable<T: Aliasable>(&mut self, value: T) -> Result<Mutable<T>, Error> {
        self.step().mutable(value)
    }

    /// Creates a capsule object (see [`mutable`](Transaction::mutable)).
    ///
    /// # Errors
    /// As [`mutable`](Transaction::mutable).
    pub fn capsule<T: Object>(&mut self, value: T) -> Result<Capsule<T>, Error> {
        self.step().capsule(value)
    }

    /// Creates an immutable object (see [`mutable`](Transaction::mutable)); it joins the class
    /// of its equals ([`Heap::class_of`]) when the transaction commits, and until then its
    /// caches are its own.
    ///
    /// # Errors
    /// As [`mutable`](Transaction::mutable).
    pub fn imm<T: Object>(&mut self, value: T) -> Result<Imm<T>, Error> {
        self.step().imm(value)
    }

    /// Removes an object when the transaction commits; from now on it is invisible, and
    /// what read it is invalidated (its invariants are checked at the end and may refuse
    /// the whole transaction). A rollback brings it back with every handle valid. Its value
    /// is dropped at commit: read what you need of it first.
    ///
    /// # Errors
    /// The handle's errors, and [`Error::Referenced`] as for [`Heap::remove`].
    pub fn remove<T: Object>(&mut self, handle: &impl Handle<T>) -> Result<(), Error> {
        self.step().remove(handle)
    }

    /// The engine for one step: the heap's core and this transaction's log.
    fn step(&mut self) -> Tx<'_> {
        Tx {
            heap: &mut self.heap.core,
            log: self.heap.log.get_mut(),
        }
    }
}

impl Deref for Transaction<'_> {
    type Target = Heap;

    /// Every read of the heap, inside the transaction: it sees the transaction's writes.
    fn deref(&self) -> &Heap {
        self.heap
    }
}

/// Where writes go: a [`Heap`], each write checked at its own end, or an open
/// [`Transaction`], checked at the transaction's end. Generated setters and mutators take
/// `&mut impl HeapMut`, so they run in both. Sealed.
pub trait HeapMut: sealed::Sealed {
    /// [`Heap::set`] or [`Transaction::set`].
    ///
    /// # Errors
    /// As [`Heap::set`].
    #[inline(always)]
    fn set<T: Object, F>(
        &mut self,
        handle: &Mutable<T>,
        field: &Field<T, F>,
        value: F,
    ) -> Result<(), Error> {
        self.replace(handle, field, value).map(drop)
    }

    /// [`Heap::replace`] or [`Transaction::replace`].
    ///
    /// # Errors
    /// As [`Heap::set`].
    fn replace<T: Object, F>(
        &mut self,
        handle: &Mutable<T>,
        field: &Field<T, F>,
        value: F,
    ) -> Result<F, Error>;

    /// [`Heap::write`] or [`Transaction::write`].
    ///
    /// # Errors
    /// As [`Heap::write`].
    fn write<T: Object, R>(
        &mut self,
        handle: &impl Writable<T>,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Result<R, Error>;

    /// [`Heap::open_box`] or [`Transaction::open_box`].
    ///
    /// # Errors
    /// As [`Heap::open_box`].
    fn open_box<T: Object, R>(
        &mut self,
        capsule: &Capsule<T>,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<R, Error>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Heap {}
    impl Sealed for super::Transaction<'_> {}
    impl Sealed for crate::overlay::LayerMut<'_> {}
    impl Sealed for crate::overlay::LayerTransaction<'_> {}
}

macro_rules! heap_mut {
    ($ty:ty) => {
        impl HeapMut for $ty {
            #[inline(always)]
            fn replace<T: Object, F>(
                &mut self,
                handle: &Mutable<T>,
                field: &Field<T, F>,
                value: F,
            ) -> Result<F, Error> {
                <$ty>::replace(self, handle, field, value)
            }

            #[inline]
            fn write<T: Object, R>(
                &mut self,
                handle: &impl Writable<T>,
                f: impl FnOnce(&mut Writer<'_, T>) -> R,
            ) -> Result<R, Error> {
                <$ty>::write(self, handle, f)
            }

            #[inline]
            fn open_box<T: Object, R>(
                &mut self,
                capsule: &Capsule<T>,
                f: impl FnOnce(&mut T) -> R,
            ) -> Result<R, Error> {
                <$ty>::open_box(self, capsule, f)
            }
        }
    };
}

heap_mut!(Heap);

heap_mut!(Transaction<'_>);

heap_mut!(LayerMut<'_>);

heap_mut!(crate::overlay::LayerTransaction<'_>);
