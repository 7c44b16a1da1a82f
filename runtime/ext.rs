//! Implementations of an interface held by the heap ([`Ext`]): an input like a field. A
//! cache that asks one records the calls it made and their answers; replacing the
//! implementation is an operation that replays each cache's calls against the new one and
//! invalidates only the caches that would be answered otherwise.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::mem;
use std::ops::Deref;
use std::sync::atomic::Ordering;

use rustc_hash::FxBuildHasher;

use crate::barrier::operate::raise;
use crate::decl::ctx::Ctx;
use crate::decl::field::FieldMask;
use crate::decl::object::{AnyCache, Object};
use crate::diag::cause::{OpKind, Why};
use crate::diag::trace::op;
use crate::error::Error;
use crate::heap::handle::Mutable;
use crate::heap::parts::Core;
use crate::key::{CellId, ObjectId, Tag};
use crate::memo::{Interface, Tracked};
use crate::sync::Mutex;
use crate::track::graph::{Dep, State};

/// An implementation of the interface `I` held by a [`Heap`](crate::Heap) (made with
/// [`Heap::attach`](crate::Heap::attach)): caches ask it through
/// [`Ctx::ask`](crate::Ctx::ask), and [`Heap::replace_ext`](crate::Heap::replace_ext)
/// swaps it for another, invalidating only the caches it would answer otherwise.
///
/// A handle: cheap to clone, a field of other objects like a [`Mutable`].
pub struct Ext<I: ?Sized + Interface>
where
    I::Live<'static>: Send + Sync,
{
    handle: Mutable<Attached<I>>,
}

impl<I: ?Sized + Interface> Ext<I>
where
    I::Live<'static>: Send + Sync,
{
    /// The id of the object that holds the implementation.
    pub fn id(&self) -> ObjectId {
        self.handle.id
    }

    pub(crate) fn handle(&self) -> &Mutable<Attached<I>> {
        &self.handle
    }
}

impl<I: ?Sized + Interface> Clone for Ext<I>
where
    I::Live<'static>: Send + Sync,
{
    fn clone(&self) -> Self {
        Ext {
            handle: self.handle.clone(),
        }
    }
}

impl<I: ?Sized + Interface> fmt::Debug for Ext<I>
where
    I::Live<'static>: Send + Sync,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ext<{}>({})", std::any::type_name::<I>(), self.handle.id)
    }
}

impl<I: ?Sized + Interface> PartialEq for Ext<I>
where
    I::Live<'static>: Send + Sync,
{
    fn eq(&self, other: &Self) -> bool {
        self.handle.id == other.handle.id
    }
}

impl<I: ?Sized + Interface> Eq for Ext<I> where I::Live<'static>: Send + Sync {}

impl<I: ?Sized + Interface> Hash for Ext<I>
where
    I::Live<'static>: Send + Sync,
{
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.handle.id.hash(state);
    }
}

impl<I> crate::plain::Plain for Ext<I>
where
    I: ?Sized + Interface,
    I::Live<'static>: Send + Sync,
{
}

/// The object that holds an attached implementation, and what each cache that asked it
/// was answered.
pub(crate) struct Attached<I: ?Sized + Interface> {
    pub(crate) live: Box<I::Live<'static>>,
    logs: Mutex<HashMap<CellId, Log<I>, FxBuildHasher>>,
}

/// What one computation of a cache asked an attached implementation.
struct Log<I: ?Sized + Interface> {
    /// The computation that recorded it (a new one starts a new log).
    computation: u64,
    /// The heap's rollback count when it was recorded: a rollback since may have put back
    /// a value whose computation asked other calls, so the log is no longer trusted (a
    /// replacement then invalidates the cache, as if its answers had changed).
    rollbacks: u64,
    pairs: Vec<(I::Call, I::Answer)>,
}

impl<I> Object for Attached<I>
where
    I: ?Sized + Interface,
    I::Live<'static>: Send + Sync,
{
    const FIELDS: &'static [&'static str] = &["implementation"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[];
    type Cells = ();
    // Replaced only by `replace_ext`, which keeps the old implementation itself.
    type Saved = ();

    fn save(&self, _: FieldMask) -> Option<()> {
        Some(())
    }

    fn restore(&mut self, (): ()) {}
}

/// The field an attached implementation is, for the dependency graph and `explain`.
const IMPLEMENTATION: FieldMask = FieldMask(1);

/// What a cache sees of an attached implementation ([`Ctx::ask`](crate::Ctx::ask)): a
/// [`Tracked`] implementation, which implements the trait for a
/// [`#[steadfast::interface]`](crate::interface) trait. The calls it is asked are
/// recorded for the cache when it is dropped.
pub struct Asking<'a, I: ?Sized + Interface> {
    tracked: Tracked<'a, I>,
    attached: &'a Attached<I>,
    cell: CellId,
    computation: u64,
    rollbacks: u64,
    /// Whether the calls are recorded: not in an overlay, where any replacement of the
    /// implementation dirties the computation.
    logged: bool,
}

impl<'a, I: ?Sized + Interface> Deref for Asking<'a, I> {
    type Target = Tracked<'a, I>;

    fn deref(&self) -> &Tracked<'a, I> {
        &self.tracked
    }
}

impl<I: ?Sized + Interface> Drop for Asking<'_, I> {
    fn drop(&mut self) {
        let asked = self.tracked.take();
        if !self.logged {
            return;
        }
        let mut logs = self.attached.logs.lock();
        let log = logs.entry(self.cell).or_insert_with(|| Log {
            computation: self.computation,
            rollbacks: self.rollbacks,
            pairs: Vec::new(),
        });
        if log.computation != self.computation {
            log.computation = self.computation;
            log.pairs.clear();
        }
        log.rollbacks = self.rollbacks;
        log.pairs.extend(asked);
    }
}

impl<I: ?Sized + Interface> fmt::Debug for Asking<'_, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Asking")
            .field("cell", &self.cell)
            .finish_non_exhaustive()
    }
}

impl<'a, T: Object> Ctx<'a, T> {
    /// Asks an implementation the heap holds: the calls the computation makes through
    /// the returned value are recorded, so that replacing the implementation invalidates
    /// the computation only if one of them would be answered otherwise; removing it
    /// invalidates the computation too.
    ///
    /// # Errors
    /// [`Error::Removed`] for a removed implementation, [`Error::ForeignHandle`] for
    /// another heap's.
    pub fn ask<I>(&self, ext: &Ext<I>) -> Result<Asking<'a, I>, Error>
    where
        I: ?Sized + Interface,
        I::Live<'static>: Send + Sync,
    {
        let (slot, key) = self.heap.typed_slot::<Attached<I>>(ext.id())?;
        let attached = self.heap.value_of::<Attached<I>>(slot)?;
        let me = self.frame.cell;
        match self.layer {
            // In an overlay: any replacement reaches the computation (see `overlay::push`).
            Some(state) => {
                let mut graph = state.graph.lock();
                graph.fields.entry(key).or_default().add(me, FieldMask::ALL);
                drop(graph);
                self.heap.observe(state, slot, FieldMask::EMPTY);
            }
            // Read for its existence only: a replacement marks the readers it must.
            None => slot.graph.lock().readers.add(me, FieldMask::EMPTY),
        }
        self.frame.depend(Dep::Fields(key));
        let computation = match self.frame.asked.get() {
            0 => {
                let id = self.heap.asks.fetch_add(1, Ordering::Relaxed) + 1;
                self.frame.asked.set(id);
                id
            }
            id => id,
        };
        Ok(Asking {
            tracked: Tracked::held(&*attached.live),
            attached,
            cell: me,
            computation,
            rollbacks: self.heap.rollbacks,
            logged: self.layer.is_none(),
        })
    }
}

impl Core {
    /// [`Heap::attach`](crate::Heap::attach).
    pub(crate) fn attach<I>(&mut self, live: Box<I::Live<'static>>) -> Result<Ext<I>, Error>
    where
        I: ?Sized + Interface,
        I::Live<'static>: Send + Sync,
    {
        let attached = Attached::<I> {
            live,
            logs: Mutex::new(HashMap::default()),
        };
        let (id, link) = self.create(attached, Tag::Mutable)?;
        Ok(Ext {
            handle: Mutable::new(id, link),
        })
    }

    /// [`Heap::implementation`](crate::Heap::implementation).
    pub(crate) fn implementation<I>(&self, ext: &Ext<I>) -> Result<&I::Live<'static>, Error>
    where
        I: ?Sized + Interface,
        I::Live<'static>: Send + Sync,
    {
        let (slot, _) = self.typed_slot::<Attached<I>>(ext.id())?;
        Ok(&*self.value_of::<Attached<I>>(slot)?.live)
    }

    /// [`Heap::replace_ext`](crate::Heap::replace_ext): one operation. Each cache that asked
    /// the implementation is replayed against `new`; those answered otherwise (or whose
    /// record is not trusted) are invalidated, and the barrier settles as for a write.
    pub(crate) fn replace_ext<I>(
        &mut self,
        ext: &Ext<I>,
        new: Box<I::Live<'static>>,
    ) -> Result<Box<I::Live<'static>>, Error>
    where
        I: ?Sized + Interface,
        I::Live<'static>: Send + Sync,
    {
        self.clock.begin(OpKind::Replace);
        let _op = op(
            OpKind::Replace,
            Some(ext.id()),
            std::any::type_name::<Attached<I>>(),
        );
        let key = self.writable::<Attached<I>>(ext.id())?;
        // Computations in overlays asked it without a record: any replacement reaches them.
        self.overlay_wrote(key, FieldMask::ALL);
        let readers: Vec<CellId> = self.slots[key]
            .graph
            .get_mut()
            .readers
            .iter()
            .map(|(&cell, _)| cell)
            .collect();
        let rollbacks = self.rollbacks;
        let attached = self.value_mut::<Attached<I>>(key);
        let logs = attached.logs.get_mut();
        // A log of a cache that no longer asks is dropped here.
        logs.retain(|cell, _| readers.contains(cell));
        let changed: Vec<(CellId, State, Why)> = readers
            .into_iter()
            .filter(|cell| match logs.get(cell) {
                Some(log) if log.rollbacks == rollbacks => log
                    .pairs
                    .iter()
                    .any(|(call, answer)| I::answer(&*new, call) != *answer),
                _ => true,
            })
            .map(|cell| (cell, State::Dirty, Why::fields(key, IMPLEMENTATION)))
            .collect();
        let old = mem::replace(&mut attached.live, new);
        if changed.is_empty() {
            self.push_overlays();
            self.wrote(key, IMPLEMENTATION, 1);
            return Ok(old);
        }
        self.mark(changed);
        match self.settle_journal() {
            Ok(()) => {
                self.commit();
                self.wrote(key, IMPLEMENTATION, 1);
                Ok(old)
            }
            Err(failure) => {
                let error = self.failure_error(failure);
                self.roll_back();
                self.rolled_back();
                let new = mem::replace(&mut self.value_mut::<Attached<I>>(key).live, old);
                let mut error = raise(error);
                if let Error::Invariant { value, .. } = &mut error {
                    *value = Some(Box::new(new));
                }
                Err(error)
            }
        }
    }
}
