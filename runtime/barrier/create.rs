//! Creating an object: it enters the arena with its `now` and `eager` caches computed
//! and its invariants checked, or not at all.

use crate::decl::object::{Kind, Object};
use crate::decl::stored::Link;
use crate::diag::cause::OpKind;
use crate::diag::trace::op;
use crate::error::Error;
use crate::heap::parts::{Core, Obj};
use crate::imm::parallel::{Run, Runs};
use crate::key::{CellId, ObjectId, Tag};
use std::sync::Arc;

impl Core {
    /// Creates an object; returns its id and its storage, for the handle.
    pub(crate) fn create<T: Object>(
        &mut self,
        value: T,
        tag: Tag,
    ) -> Result<(ObjectId, Arc<Link<T>>), Error> {
        // Eager caches of an immutable object that read only its fields run on the pool.
        let off_heap = |c: &&dyn crate::decl::object::AnyCache<T>| {
            tag == Tag::Imm && c.kind() == Kind::Eager && c.detached()
        };
        let _op = op(OpKind::Create, None, std::any::type_name::<T>());
        let (key, link) = self.insert(value, tag)?;
        let id = self.id_of(key);
        let eager: Vec<CellId> = (0..T::CACHES.len())
            .filter(|&i| T::CACHES[i].kind().is_eager() && !off_heap(&T::CACHES[i]))
            .map(|i| CellId {
                key,
                index: i as u32,
            })
            .collect();
        match self.settle_cells(&eager) {
            Ok(()) => {
                if tag == Tag::Imm {
                    if T::CACHES.iter().any(&off_heap) {
                        let runs = T::CACHES
                            .iter()
                            .map(|c| if off_heap(c) { Run::Queued } else { Run::None })
                            .collect();
                        // No handle holds the storage of an immutable object: move it out.
                        let stored = self.owner.rw(&*link).take();
                        self.slots[key].obj = Obj::Shared(
                            Arc::new(stored),
                            Arc::new(Runs::new(runs, self.stats.pool())),
                        );
                    }
                    self.became_imm(&[key]);
                }
                Ok((id, link))
            }
            Err(failure) => {
                self.rolled_back();
                let error = self.failure_error(failure);
                self.discard(key);
                let slot = self.slots.remove(key).expect("just inserted");
                let value = slot.ops.unwrap_value(slot.obj, &mut self.owner);
                match error {
                    Ok(e) => Err(e.holding(value)),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        }
    }
}
