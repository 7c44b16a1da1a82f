//! Objects becoming immutable: freezing a capsule with everything it owns, counting the
//! handles immutable objects hold (so none dangles), and removing immutable graphs.

use std::collections::VecDeque;
use std::error::Error as StdError;
use std::fmt;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::decl::object::Object;
use crate::decl::stored::Stored;
use crate::error::Error;
use crate::heap::handle::{Capsule, Handle, Imm};
use crate::heap::parts::Core;
use crate::key::{ObjectId, ObjectKey, Tag};

/// Why [`Heap::freeze`](crate::Heap::freeze) refused, with the capsule handed back: nothing
/// changed, and the handle is still the caller's to use, to fix what was wrong and retry.
///
/// Converts into [`Error`] (dropping the capsule), so `?` works in a function that returns
/// `Result<_, Error>`.
pub struct FreezeError<T: Object> {
    capsule: Capsule<T>,
    error: Error,
}

impl<T: Object> FreezeError<T> {
    /// What was wrong.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The capsule, unchanged.
    pub fn into_capsule(self) -> Capsule<T> {
        self.capsule
    }

    /// The capsule and the error.
    pub fn into_parts(self) -> (Capsule<T>, Error) {
        (self.capsule, self.error)
    }
}

impl<T: Object> fmt::Debug for FreezeError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreezeError")
            .field("capsule", &self.capsule)
            .field("error", &self.error)
            .finish()
    }
}

/// The error's own message: the capsule is not part of what went wrong.
impl<T: Object> fmt::Display for FreezeError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T: Object> StdError for FreezeError<T> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error.source()
    }
}

impl<T: Object> From<FreezeError<T>> for Error {
    fn from(e: FreezeError<T>) -> Error {
        e.error
    }
}

impl Core {
    /// [`Heap::freeze`](crate::Heap::freeze).
    pub(crate) fn freeze<T: Object>(
        &mut self,
        capsule: Capsule<T>,
    ) -> Result<Imm<T>, FreezeError<T>> {
        let checked = self
            .key::<T>(capsule.id)
            .and_then(|key| self.owned_from(key))
            .and_then(|owned| self.check_unshared(&owned).map(|()| owned));
        let owned = match checked {
            Ok(owned) => owned,
            Err(error) => return Err(FreezeError { capsule, error }),
        };
        for &k in &owned {
            self.materialize(k);
            let slot = &mut self.slots[k];
            slot.tag = Tag::Imm;
            slot.ops.seal(slot.obj.get_mut(&mut self.owner));
        }
        self.became_imm(&owned);
        Ok(Imm::new(capsule.id))
    }

    /// [`Heap::as_imm`](crate::Heap::as_imm).
    pub(crate) fn as_imm<T: Object>(&self, handle: &impl Handle<T>) -> Option<Imm<T>> {
        let (slot, _) = self.typed_slot::<T>(handle.id()).ok()?;
        (slot.tag == Tag::Imm && slot.obj.get(&self.owner).is::<Option<Stored<T>>>())
            .then(|| Imm::new(handle.id()))
    }

    /// What `root` reaches through handles, up to objects that are already immutable.
    fn owned_from(&self, root: ObjectKey) -> Result<Vec<ObjectKey>, Error> {
        let mut seen = FxHashSet::default();
        seen.insert(root);
        let mut order = vec![root];
        let mut at = 0;
        while let Some(&key) = order.get(at) {
            at += 1;
            let slot = &self.slots[key];
            let mut foreign = None;
            slot.ops
                .handles(slot.obj.get(&self.owner), &mut |id: ObjectId| {
                    if id.heap != self.id {
                        foreign.get_or_insert(id);
                        return;
                    }
                    // A removed object stays a dangling handle; an immutable one is not owned.
                    let live = self.slots.get(id.key).filter(|s| !s.gone);
                    if live.is_some_and(|s| s.tag != Tag::Imm) && seen.insert(id.key) {
                        order.push(id.key);
                    }
                });
            if let Some(object) = foreign {
                return Err(Error::ForeignHandle {
                    object,
                    heap: self.id,
                });
            }
        }
        Ok(order)
    }

    /// Fails if an object outside `owned` holds a handle into it.
    fn check_unshared(&self, owned: &[ObjectKey]) -> Result<(), Error> {
        let inside: FxHashSet<ObjectKey> = owned.iter().copied().collect();
        for (key, slot) in &self.slots {
            if inside.contains(&key) || slot.gone {
                continue;
            }
            let mut shared = None;
            slot.ops
                .handles(slot.obj.get(&self.owner), &mut |id: ObjectId| {
                    if id.heap == self.id && inside.contains(&id.key) {
                        shared.get_or_insert(id);
                    }
                });
            if let Some(object) = shared {
                return Err(Error::Aliased {
                    object,
                    holder: self.id_of(key),
                    holder_type: slot.ops.type_name(),
                });
            }
        }
        Ok(())
    }

    /// Objects that just became immutable: count the handles they hold, class them, and
    /// start the eager caches of those that founded a class.
    pub(crate) fn became_imm(&mut self, keys: &[ObjectKey]) {
        self.count_imm_refs(keys);
        self.classify(keys);
    }

    /// Counts the handles that the objects `keys`, just immutable, hold.
    pub(crate) fn count_imm_refs(&mut self, keys: &[ObjectKey]) {
        let mut targets = Vec::new();
        for &k in keys {
            let slot = &self.slots[k];
            slot.ops
                .handles(slot.obj.get(&self.owner), &mut |id: ObjectId| {
                    if id.heap == self.id {
                        targets.push(id.key);
                    }
                });
        }
        for t in targets {
            if let Some(s) = self.slots.get_mut(t) {
                s.imm_refs += 1;
            }
        }
    }

    /// Classes the objects `keys`, just immutable, and starts the eager caches of those
    /// that founded a class.
    pub(crate) fn classify(&mut self, keys: &[ObjectKey]) {
        if keys.is_empty() {
            return;
        }
        for rep in self.normalize(keys) {
            let slot = &self.slots[rep];
            slot.ops.spawn_eager(&slot.obj);
        }
    }

    /// [`Heap::remove_graph`](crate::Heap::remove_graph).
    pub(crate) fn remove_graph<T: Object>(&mut self, root: &Imm<T>) -> Result<usize, Error> {
        let root_key = self.key::<T>(root.id)?;
        let mut order = vec![root_key];
        let mut inside: FxHashMap<ObjectKey, u32> = FxHashMap::default();
        inside.insert(root_key, 0);
        let mut at = 0;
        while let Some(&key) = order.get(at) {
            at += 1;
            let slot = &self.slots[key];
            slot.ops
                .handles(slot.obj.get(&self.owner), &mut |id: ObjectId| {
                    let live = (id.heap == self.id)
                        .then(|| self.slots.get(id.key))
                        .flatten()
                        .filter(|s| !s.gone && s.tag == Tag::Imm);
                    if live.is_some() {
                        let n = inside.entry(id.key).or_insert_with(|| {
                            order.push(id.key);
                            0
                        });
                        *n += 1;
                    }
                });
        }
        // Held from outside: kept, with everything it reaches.
        let mut kept: FxHashSet<ObjectKey> = FxHashSet::default();
        let mut queue: VecDeque<ObjectKey> = order
            .iter()
            .copied()
            .filter(|k| self.slots[*k].imm_refs > inside[k])
            .collect();
        while let Some(k) = queue.pop_front() {
            if !kept.insert(k) {
                continue;
            }
            let slot = &self.slots[k];
            slot.ops
                .handles(slot.obj.get(&self.owner), &mut |id: ObjectId| {
                    if inside.contains_key(&id.key) && id.heap == self.id {
                        queue.push_back(id.key);
                    }
                });
        }
        if kept.contains(&root_key) {
            let slot = &self.slots[root_key];
            return Err(Error::Referenced {
                object: root.id,
                type_name: slot.ops.type_name(),
                holders: (slot.imm_refs - inside[&root_key]) as usize,
            });
        }
        let doomed: Vec<ObjectKey> = order.into_iter().filter(|k| !kept.contains(k)).collect();
        self.remove_keys(&doomed)?;
        for &k in &doomed {
            let slot = self.take_slot(k);
            drop(slot.ops.unwrap_value(slot.obj, &mut self.owner));
        }
        Ok(doomed.len())
    }
}
