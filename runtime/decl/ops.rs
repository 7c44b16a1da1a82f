//! What the runtime does with an object whose type it does not know: [`TypeOps`] for
//! each [`Object`] type, one static table per type.

use crate::track::graph::Node;

use crate::cell::{ErasedCell, Fresh};
use crate::decl::ctx::Ctx;
use crate::decl::field::FieldMask;
use crate::decl::object::sealed::{Cells as _, Owned};
use crate::decl::object::{Kind, Object};
use crate::decl::stored::{Link, Stored};
use crate::diag::stats::Tally;
use crate::error::Error;
use crate::heap::parts::{Core, Obj, TypeOps};
use crate::imm::parallel;
use crate::key::{CellId, ObjectId, ObjectKey, OverlayKey};
use crate::overlay::state::{Entry, EntryOps, OverlayState};
use crate::sync::Bits;
use crate::track::frame::Frame;

use qcell::{QCell, QCellOwner};
use slotmap::Key;
use std::any::Any;
use std::hash::Hasher;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// [`TypeOps`] for `T`.
pub(crate) struct OpsOf<T>(PhantomData<fn() -> T>);

impl<T: Object> OpsOf<T> {
    pub(crate) const OPS: &'static dyn TypeOps = &OpsOf::<T>(PhantomData);
    pub(crate) const ENTRY: &'static dyn EntryOps = &OpsOf::<T>(PhantomData);
}

pub(crate) fn stored<T: Object>(obj: &(dyn Any + Send + Sync)) -> &Stored<T> {
    obj.downcast_ref::<Option<Stored<T>>>()
        .and_then(Option::as_ref)
        .expect("a slot's ops match its live object")
}

pub(crate) fn stored_mut<T: Object>(obj: &mut (dyn Any + Send + Sync)) -> &mut Stored<T> {
    obj.downcast_mut::<Option<Stored<T>>>()
        .and_then(Option::as_mut)
        .expect("a slot's ops match its live object")
}

impl<T: Object> TypeOps for OpsOf<T> {
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn stable_name(&self) -> &'static str {
        T::STABLE_NAME.unwrap_or_else(std::any::type_name::<T>)
    }

    fn cache_name(&self, index: usize) -> &'static str {
        T::CACHES[index].name()
    }

    fn is_invariant(&self, index: usize) -> bool {
        T::CACHES[index].is_invariant()
    }

    fn cache_kind(&self, index: usize) -> Kind {
        T::CACHES[index].kind()
    }

    fn cache_fields(&self, index: usize) -> Option<FieldMask> {
        T::CACHES[index].fields()
    }

    fn cache_count(&self) -> usize {
        T::CACHES.len()
    }

    fn field_names(&self) -> &'static [&'static str] {
        T::FIELDS
    }

    fn cell<'a>(&self, obj: &'a (dyn Any + Send + Sync), index: usize) -> &'a dyn ErasedCell {
        stored::<T>(obj).cells.cell(index)
    }

    fn cell_mut<'a>(
        &self,
        obj: &'a mut (dyn Any + Send + Sync),
        index: usize,
    ) -> &'a mut dyn ErasedCell {
        stored_mut::<T>(obj).cells.cell_mut(index)
    }

    fn invalidate(
        &self,
        obj: &mut (dyn Any + Send + Sync),
        index: usize,
        keep: bool,
    ) -> Option<bool> {
        stored_mut::<T>(obj).cells.invalidate(index, keep)
    }

    fn compute_shared(&self, heap: &Core, frame: &Frame<'_>, id: CellId) -> Option<Fresh> {
        let stored = heap.stored::<T>(id.key);
        let ctx = Ctx {
            this: &stored.value,
            id: heap.id_of(id.key),
            heap,
            frame,
            layer: None,
        };
        T::CACHES[id.index as usize].compute_shared(&ctx, &stored.cells, heap.barrier.in_barrier)
    }

    fn compute_owned(&self, heap: &mut Core, frame: &Frame<'_>, id: CellId) -> Option<Fresh> {
        T::CACHES[id.index as usize].compute_owned(&mut OwnedCell {
            heap,
            key: id.key,
            frame,
        })
    }

    fn recheck_own(
        &self,
        obj: &mut (dyn Any + Send + Sync),
        object: ObjectId,
        written: FieldMask,
        tally: Tally<'_>,
    ) -> Result<bool, Result<Error, Box<dyn Any + Send>>> {
        stored_mut::<T>(obj)
            .recheck_own::<()>(written, tally)
            .map_err(|failed| failed.into_error::<T>(object))
    }

    fn end_own(&self, obj: &mut (dyn Any + Send + Sync), written: FieldMask, commit: bool) {
        stored_mut::<T>(obj).end_own(written, commit);
    }

    fn compute_fields(
        &self,
        obj: &mut (dyn Any + Send + Sync),
        index: usize,
        keep_stale: bool,
    ) -> Option<(FieldMask, std::thread::Result<Fresh>)> {
        let Stored { value, cells, .. } = stored_mut::<T>(obj);
        T::CACHES[index].compute_fields(value, cells, keep_stale)
    }

    fn take_failure(
        &self,
        obj: &mut (dyn Any + Send + Sync),
        index: usize,
    ) -> Option<Box<dyn std::error::Error + Send + Sync>> {
        T::CACHES[index].take_failure(&mut stored_mut::<T>(obj).cells)
    }

    fn unwrap_value(&self, obj: Obj, owner: &mut QCellOwner) -> Box<dyn Any + Send + Sync> {
        Box::new(into_stored::<T>(obj, owner).value)
    }

    fn clear(&self, obj: &mut (dyn Any + Send + Sync)) {
        if let Some(stored) = obj.downcast_mut::<Option<Stored<T>>>() {
            *stored = None;
        }
    }

    fn handles(&self, obj: &(dyn Any + Send + Sync), visit: &mut dyn FnMut(ObjectId)) {
        stored::<T>(obj).value.handles(visit);
    }

    fn handle_sets(&self, obj: &(dyn Any + Send + Sync), visit: &mut dyn FnMut(usize, usize)) {
        stored::<T>(obj).value.handle_sets(visit);
    }

    fn hash_shape(&self, obj: &(dyn Any + Send + Sync), state: &mut dyn Hasher) -> bool {
        stored::<T>(obj).value.hash_shape(state)
    }

    fn same_shape(&self, a: &(dyn Any + Send + Sync), b: &(dyn Any + Send + Sync)) -> bool {
        stored::<T>(a).value.same_shape(&stored::<T>(b).value)
    }

    fn spawn_eager(&self, obj: &Obj) {
        let Obj::Shared(arc, runs) = obj else { return };
        runs.start(Arc::downgrade(arc));
        for (index, cache) in T::CACHES.iter().enumerate() {
            if cache.kind() != Kind::Eager || !cache.detached() {
                continue;
            }
            let runs = runs.clone();
            parallel::spawn(move || {
                runs.work(index, |object| {
                    if let Some(stored) = object
                        .downcast_ref::<Option<Stored<T>>>()
                        .and_then(Option::as_ref)
                    {
                        T::CACHES[index].compute_detached(&stored.value, &stored.cells);
                    }
                });
            });
        }
    }

    fn untracked(&self) -> bool {
        // Caches that all read only their own fields and are computed on demand have
        // nothing to track until another cell reads one of them or a write reaches them
        // through the barrier: the object's own path settles them.
        T::CACHES
            .iter()
            .all(|c| c.fields().is_some() && !c.kind().is_eager())
    }

    fn nodes(&self, rev: u64, materialized: bool) -> Vec<Node> {
        T::CACHES
            .iter()
            .map(|c| match (materialized, c.fields()) {
                (true, Some(fields)) => Node::materialized(fields, rev),
                _ => Node::new(c.kind().is_eager(), c.fields()),
            })
            .collect()
    }

    fn loud<'a>(&self, obj: &'a (dyn Any + Send + Sync)) -> &'a Bits {
        &stored::<T>(obj).loud
    }

    fn seal(&self, obj: &mut (dyn Any + Send + Sync)) {
        let stored = stored_mut::<T>(obj);
        stored.own = false;
        stored.loud.set(u64::MAX);
    }

    fn compute_detached(&self, obj: &(dyn Any + Send + Sync), index: usize) {
        let stored = stored::<T>(obj);
        T::CACHES[index].compute_detached(&stored.value, &stored.cells);
    }

    fn overlaid<'a>(&self, obj: &'a (dyn Any + Send + Sync)) -> &'a Bits {
        &stored::<T>(obj).overlaid
    }

    fn fork(
        &self,
        obj: &(dyn Any + Send + Sync),
        owner: &QCellOwner,
        overlay: OverlayKey,
    ) -> Option<Box<dyn Any + Send + Sync>> {
        let base = stored::<T>(obj);
        let value = base.value.fork()?;
        // Loud and off the own path: the overlay's barrier takes every write of it.
        let copy = Stored {
            own: false,
            loud: Bits::new(u64::MAX),
            overlaid: Bits::new(overlay.data().as_ffi()),
            ..Stored::new(value, crate::key::Tag::Mutable)
        };
        let link: Arc<Link<T>> = Arc::new(QCell::new(owner, Some(copy)));
        Some(Box::new(link))
    }

    fn attach_fork(&self, obj: &Obj, owner: &mut QCellOwner, fork: &(dyn Any + Send + Sync)) {
        let (base, fork) = (base_link::<T>(obj), fork_link::<T>(fork));
        let first = owner.ro(base).as_ref().and_then(|s| s.forks.clone());
        owner.rw(&**fork).as_mut().expect("a live copy").forks = first;
        if let Some(base) = owner.rw(base).as_mut() {
            base.forks = Some(Arc::clone(fork));
        }
    }

    fn detach_fork(&self, obj: &Obj, owner: &mut QCellOwner, overlay: OverlayKey) {
        let base = base_link::<T>(obj);
        let key = overlay.data().as_ffi();
        // The chain without the overlay's copy, relinked from its end.
        let mut chain = Vec::new();
        let mut next = owner.ro(base).as_ref().and_then(|s| s.forks.clone());
        while let Some(link) = next {
            let fork = owner.ro(&*link).as_ref().expect("a live copy");
            next = fork.forks.clone();
            if fork.overlaid.load(Ordering::Relaxed) != key {
                chain.push(link);
            }
        }
        let mut after = None;
        for link in chain.into_iter().rev() {
            owner.rw(&*link).as_mut().expect("a live copy").forks = after;
            after = Some(link);
        }
        if let Some(base) = owner.rw(base).as_mut() {
            base.forks = after;
        }
    }

    fn swap_fork(&self, obj: &Obj, fork: &(dyn Any + Send + Sync), owner: &mut QCellOwner) {
        let base = base_link::<T>(obj);
        let (base, fork) = owner.rw2(base, &**fork_link::<T>(fork));
        let (base, fork) = (base.as_mut(), fork.as_mut());
        let (base, fork) = base.zip(fork).expect("both live");
        std::mem::swap(&mut base.value, &mut fork.value);
    }

    fn entry_ops(&self) -> &'static dyn EntryOps {
        OpsOf::<T>::ENTRY
    }

    fn compute_layer(
        &self,
        heap: &Core,
        state: &OverlayState,
        entry: &Entry,
        frame: &Frame<'_>,
        id: CellId,
    ) -> Option<Fresh> {
        let (this, cells) = match &entry.fork {
            Some(fork) => {
                let stored = fork_stored::<T>(&**fork, &heap.owner);
                (&stored.value, &stored.cells)
            }
            None => (&heap.stored::<T>(id.key).value, shadow::<T>(&*entry.shadow)),
        };
        let ctx = Ctx {
            this,
            id: heap.id_of(id.key),
            heap,
            frame,
            layer: Some(state),
        };
        T::CACHES[id.index as usize].compute_shared(&ctx, cells, false)
    }
}

impl<T: Object> EntryOps for OpsOf<T> {
    fn cache_count(&self) -> usize {
        T::CACHES.len()
    }

    fn is_eager(&self, index: usize) -> bool {
        T::CACHES[index].kind().is_eager()
    }

    fn fork_cell<'a>(
        &self,
        fork: &'a (dyn Any + Send + Sync),
        owner: &'a QCellOwner,
        index: usize,
    ) -> &'a dyn ErasedCell {
        fork_stored::<T>(fork, owner).cells.cell(index)
    }

    fn fork_cell_mut<'a>(
        &self,
        fork: &'a (dyn Any + Send + Sync),
        owner: &'a mut QCellOwner,
        index: usize,
    ) -> &'a mut dyn ErasedCell {
        fork_stored_mut::<T>(fork, owner).cells.cell_mut(index)
    }

    fn shadow_cells(&self) -> Box<dyn Any + Send + Sync> {
        Box::new(T::Cells::empty())
    }

    fn shadow_cell<'a>(
        &self,
        cells: &'a (dyn Any + Send + Sync),
        index: usize,
    ) -> &'a dyn ErasedCell {
        shadow::<T>(cells).cell(index)
    }

    fn shadow_cell_mut<'a>(
        &self,
        cells: &'a mut (dyn Any + Send + Sync),
        index: usize,
    ) -> &'a mut dyn ErasedCell {
        cells
            .downcast_mut::<T::Cells>()
            .expect("an entry's cells are of its object's type")
            .cell_mut(index)
    }

    fn take_layer_failure(
        &self,
        entry: &mut Entry,
        owner: &mut QCellOwner,
        index: usize,
    ) -> Option<Box<dyn std::error::Error + Send + Sync>> {
        let cells = match &entry.fork {
            Some(fork) => &mut fork_stored_mut::<T>(&**fork, owner).cells,
            None => entry
                .shadow
                .downcast_mut::<T::Cells>()
                .expect("an entry's cells are of its object's type"),
        };
        T::CACHES[index].take_failure(cells)
    }
}

/// The storage of an object an overlay may copy (one it may write: never a shared one).
fn base_link<T: Object>(obj: &Obj) -> &Link<T> {
    let Obj::Own(link) = obj else {
        unreachable!("an overlay copies only objects it may write, never shared ones")
    };
    link.as_any()
        .downcast_ref::<Link<T>>()
        .expect("a slot's ops match its object")
}

/// An overlay's copy of a `T`, as its entry holds it.
pub(crate) fn fork_link<T: Object>(fork: &(dyn Any + Send + Sync)) -> &Arc<Link<T>> {
    fork.downcast_ref::<Arc<Link<T>>>()
        .expect("an overlay's copy is of its object's type")
}

/// The value and cells of an overlay's copy of a `T`.
pub(crate) fn fork_stored<'a, T: Object>(
    fork: &'a (dyn Any + Send + Sync),
    owner: &'a QCellOwner,
) -> &'a Stored<T> {
    owner
        .ro(&**fork_link::<T>(fork))
        .as_ref()
        .expect("an overlay's copy is live")
}

/// The value and cells of an overlay's copy of a `T`, exclusively.
pub(crate) fn fork_stored_mut<'a, T: Object>(
    fork: &'a (dyn Any + Send + Sync),
    owner: &'a mut QCellOwner,
) -> &'a mut Stored<T> {
    owner
        .rw(&**fork_link::<T>(fork))
        .as_mut()
        .expect("an overlay's copy is live")
}

/// An overlay's shadow cells of a `T`.
fn shadow<T: Object>(cells: &(dyn Any + Send + Sync)) -> &T::Cells {
    cells
        .downcast_ref::<T::Cells>()
        .expect("an entry's cells are of its object's type")
}

/// Takes a `Stored<T>` out of its slot (handles that still hold the storage find it
/// empty); for a shared object, once the workers let go of it.
pub(crate) fn into_stored<T: Object>(obj: Obj, owner: &mut QCellOwner) -> Stored<T> {
    match obj {
        Obj::Own(link) => link
            .get_mut(owner)
            .downcast_mut::<Option<Stored<T>>>()
            .and_then(Option::take)
            .expect("a slot's ops match its live object"),
        Obj::Shared(arc, runs) => {
            runs.settle();
            let arc: Arc<Option<Stored<T>>> =
                arc.downcast().expect("a slot's ops match its object");
            // Settled: no worker holds it (see `Obj::shared_mut`).
            Arc::try_unwrap(arc)
                .ok()
                .expect("no worker holds a settled object")
                .expect("a live object")
        }
    }
}

/// A cell the barrier computes under `&mut Heap` (see [`Owned`]).
struct OwnedCell<'a> {
    heap: &'a mut Core,
    key: ObjectKey,
    frame: &'a Frame<'a>,
}

impl<T: Object> Owned<T> for OwnedCell<'_> {
    fn with_ctx(&self, f: &mut dyn FnMut(&Ctx<'_, T>)) {
        let heap = &*self.heap;
        f(&Ctx {
            this: &heap.stored::<T>(self.key).value,
            id: heap.id_of(self.key),
            heap,
            frame: self.frame,
            layer: None,
        });
    }

    fn on_cycle(&self) -> bool {
        self.frame.on_cycle()
    }

    fn keep_stale(&self) -> bool {
        self.heap.barrier.in_barrier
    }

    fn cells(&mut self) -> &mut T::Cells {
        &mut self.heap.stored_mut::<T>(self.key).cells
    }
}
