//! Looking objects up in the arena: by key, by handle (checked for heap, generation and
//! removal), typed; and putting new ones in.

use crate::decl::field::FieldMask;
use crate::decl::object::Object;
use crate::decl::ops::{stored, stored_mut, OpsOf};
use crate::decl::stored::{Link, Stored};
use crate::error::Error;
use crate::heap::parts::{Core, Obj, Slot};
use crate::key::{ObjectId, ObjectKey, Tag};
use crate::sync::Mutex;
use crate::track::graph::Graph;

use qcell::QCell;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Core {
    /// The slot a handle names, checked for heap, generation and removal.
    #[inline]
    pub(crate) fn slot(&self, id: ObjectId) -> Result<(&Slot, ObjectKey), Error> {
        if id.heap != self.id {
            return Err(Error::ForeignHandle {
                object: id,
                heap: self.id,
            });
        }
        match self.slots.get(id.key) {
            Some(slot) if !slot.gone => Ok((slot, id.key)),
            Some(_) if !self.overlays.is_empty() && self.overlays.hides(id.key) => {
                Err(Error::OverlayOnly { object: id })
            }
            _ => Err(Error::Removed {
                object: id,
                type_name: "object",
            }),
        }
    }

    pub(crate) fn slot_by_key(&self, key: ObjectKey) -> Result<&Slot, Error> {
        Ok(self.slot(self.id_of(key))?.0)
    }

    /// [`slot`](crate::heap::parts::Core::slot), with errors naming the handle's type.
    #[inline]
    pub(crate) fn typed_slot<T: Object>(&self, id: ObjectId) -> Result<(&Slot, ObjectKey), Error> {
        self.slot(id).map_err(|e| match e {
            Error::Removed { object, .. } => Error::Removed {
                object,
                type_name: std::any::type_name::<T>(),
            },
            e => e,
        })
    }

    /// The key of a live object of type `T`. Only the heap makes handles, each typed for
    /// the object it names, so a live handle's object is a `T` (no downcast here).
    pub(crate) fn key<T: Object>(&self, id: ObjectId) -> Result<ObjectKey, Error> {
        Ok(self.typed_slot::<T>(id)?.1)
    }

    pub(crate) fn value_of<'a, T: Object>(&'a self, slot: &'a Slot) -> Result<&'a T, Error> {
        self.stored_in::<T>(slot).map(|s| &s.value)
    }

    /// The value and cells in a live slot, checked to be a `T`.
    pub(crate) fn stored_in<'a, T: Object>(
        &'a self,
        slot: &'a Slot,
    ) -> Result<&'a Stored<T>, Error> {
        slot.obj
            .get(&self.owner)
            .downcast_ref::<Option<Stored<T>>>()
            .and_then(Option::as_ref)
            .ok_or_else(|| Error::Schema {
                type_name: std::any::type_name::<T>(),
                detail: format!("the object is a {}", slot.ops.type_name()),
            })
    }

    /// The value and cells of a live object known to be a `T`.
    pub(crate) fn stored<T: Object>(&self, key: ObjectKey) -> &Stored<T> {
        stored::<T>(self.slots[key].obj.get(&self.owner))
    }

    /// The value and cells of a live object known to be a `T`, exclusively.
    pub(crate) fn stored_mut<T: Object>(&mut self, key: ObjectKey) -> &mut Stored<T> {
        stored_mut::<T>(self.slots[key].obj.get_mut(&mut self.owner))
    }

    /// Where an object's caches live: on its class's representative if it is a normalized
    /// immutable object, else on itself.
    #[inline]
    pub(crate) fn shared_by<'h>(&'h self, slot: &'h Slot, key: ObjectKey) -> (&'h Slot, ObjectKey) {
        match slot.class {
            Some(class) => {
                let rep = self.classes.rep(class);
                (&self.slots[rep], rep)
            }
            None => (slot, key),
        }
    }

    /// The id of the object at `key` in this heap.
    pub(crate) fn id_of(&self, key: ObjectKey) -> ObjectId {
        ObjectId { key, heap: self.id }
    }

    /// Records that some cache reads `fields` of the object in `slot` through an edge:
    /// writes to them must go through the barrier.
    pub(crate) fn make_loud(&self, slot: &Slot, fields: FieldMask) {
        if !fields.is_empty() {
            let loud = slot.ops.loud(slot.obj.get(&self.owner));
            // Most reads find their fields loud already: no read-modify-write then.
            if loud.load(Ordering::Relaxed) & fields.0 != fields.0 {
                loud.fetch_or(fields.0, Ordering::Relaxed);
            }
        }
    }

    /// Puts a new object in the arena, with every cache invalid; nothing is checked but
    /// its type's declaration.
    /// Gives the object at `key` its tracking nodes if it has none yet (see
    /// [`Graph::nodes`](crate::track::graph::Graph)).
    pub(crate) fn materialize(&mut self, key: ObjectKey) {
        let rev = self.rev;
        let slot = &mut self.slots[key];
        let ops = slot.ops;
        slot.graph.get_mut().materialize(|| ops.nodes(rev, true));
    }

    pub(crate) fn insert<T: Object>(
        &mut self,
        value: T,
        tag: Tag,
    ) -> Result<(ObjectKey, Arc<Link<T>>), Error> {
        check_schema::<T>()?;
        let ops = OpsOf::<T>::OPS;
        // An immutable object is tracked from the start: its class hands cells and their
        // nodes between its members.
        let nodes = match tag != Tag::Imm && ops.untracked() {
            true => Vec::new(),
            false => ops.nodes(self.rev, false),
        };
        let graph = Graph {
            nodes,
            ..Graph::default()
        };
        let link: Arc<Link<T>> = Arc::new(QCell::new(&self.owner, Some(Stored::new(value, tag))));
        let key = self.slots.insert(Slot {
            tag,
            gone: false,
            obj: Obj::Own(link.clone()),
            ops,
            graph: Mutex::new(graph),
            class: None,
            imm_refs: 0,
        });
        Ok((key, link))
    }
}

fn check_schema<T: Object>() -> Result<(), Error> {
    let bad = |detail: String| {
        Err(Error::Schema {
            type_name: std::any::type_name::<T>(),
            detail,
        })
    };
    if T::FIELDS.len() > 64 {
        return bad(format!("{} fields (at most 64)", T::FIELDS.len()));
    }
    for (i, cache) in T::CACHES.iter().enumerate() {
        if cache.index() != i {
            return bad(format!(
                "cache `{}` is listed at {i} but has index {}",
                cache.name(),
                cache.index()
            ));
        }
    }
    Ok(())
}
