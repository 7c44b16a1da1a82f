//! The own write path: a write that nothing outside its object reads is settled on the
//! object alone, as a hand-written setter with its check would settle it.

use crate::decl::field::{Field, FieldMask};
use crate::decl::object::sealed::Cells as _;
use crate::decl::object::{AnyCache, Object};
use crate::decl::stored::Stored;
use crate::diag::stats::{Counter, Tally};
use crate::diag::trace::own_computed;
use crate::error::Error;
use crate::key::ObjectId;
use std::any::Any;

impl<T: Object> Stored<T> {
    /// The own write path: replaces a field and settles the write on the object alone
    /// ([`settle_own`](Stored::settle_own)), as a hand-written setter would. Hands the
    /// value back if the field is loud (the write must go through the barrier), and puts
    /// the old value back if an invariant fails.
    #[inline(always)]
    pub(crate) fn set_quiet<F>(
        &mut self,
        field: &Field<T, F>,
        value: F,
        tally: Tally<'_>,
    ) -> Result<F, Own<F>> {
        if self.loud.get() & field.mask().0 != 0 {
            return Err(Own::Loud(value));
        }
        let old = std::mem::replace(field.get_mut(&mut self.value), value);
        match self.settle_own(field.mask(), tally) {
            Ok(()) => Ok(old),
            Err(failure) => {
                *field.get_mut(&mut self.value) = old;
                Err(failure)
            }
        }
    }

    /// Settles a write of `written`, which must not be loud, on the object alone: the
    /// `now` caches that read a written field are rechecked first, in declaration order,
    /// with their previous values kept aside, so that a failure puts back just those;
    /// only when all hold are the `lazy_read` caches that read one refilled (recomputed if
    /// they were read since they were computed, else cleared). No other object reads
    /// these fields and no cache of this one with dependents does, so nothing else is
    /// visited. On failure the caller puts the fields back.
    #[inline]
    pub(crate) fn settle_own<F>(
        &mut self,
        written: FieldMask,
        mut tally: Tally<'_>,
    ) -> Result<(), Own<F>> {
        debug_assert_eq!(self.loud.get() & written.0, 0, "a loud write");
        tally.add(Counter::OwnWrites, 1);
        // The rechecked cells whose value changed: an unchanged one kept nothing aside, so
        // there is nothing to commit or put back.
        let mut changed = 0u64;
        for (i, cache) in T::CACHES.iter().enumerate() {
            if !cache.checks().intersects(written) {
                continue;
            }
            let rechecked = cache.recheck(&self.value, &mut self.cells);
            noted::<T>(&mut tally, *cache, &rechecked);
            let failure = match rechecked {
                Some(Ok(fresh)) if !fresh.failed => {
                    changed |= u64::from(fresh.changed) << i;
                    continue;
                }
                Some(Ok(_)) => Ok(cache
                    .take_failure(&mut self.cells)
                    .expect("a failed invariant holds its error")),
                Some(Err(payload)) => Err(payload),
                None => unreachable!("a cache with checks reads its own fields only"),
            };
            self.cells.cell_mut(i).roll_back(true);
            for j in crate::decl::field::Ones(changed) {
                self.cells.cell_mut(j).roll_back(true);
            }
            return Err(Own::Failed(i, failure));
        }
        for j in crate::decl::field::Ones(changed) {
            self.cells.cell_mut(j).commit();
        }
        for cache in T::CACHES {
            cache.refill_local(&self.value, &mut self.cells, written, tally.reborrow());
        }
        Ok(())
    }
}

impl<T: Object> Stored<T> {
    /// A transaction's write that is not loud, settled on the object alone but checked at
    /// the transaction's end: the `lazy_read` caches that read a written field are
    /// refilled now (so that reads inside the transaction see the write), and the
    /// field-only `now` caches that read one are invalidated, their values from before the
    /// transaction kept aside ([`recheck_own`](Stored::recheck_own) computes them,
    /// [`end_own`](Stored::end_own) commits or puts them back).
    pub(crate) fn defer_own(&mut self, written: FieldMask, mut tally: Tally<'_>) {
        for (i, cache) in T::CACHES.iter().enumerate() {
            if cache.checks().intersects(written) {
                // Invalid, keeping the oldest value aside.
                self.cells.cell_mut(i).roll_back(false);
            }
        }
        for cache in T::CACHES {
            cache.refill_local(&self.value, &mut self.cells, written, tally.reborrow());
        }
    }

    /// At the transaction's end: computes the `now` caches [`defer_own`](Stored::defer_own)
    /// invalidated for `written`, in declaration order; the first failure is returned as
    /// [`settle_own`](Stored::settle_own) does (the transaction then rolls back). A cache
    /// whose value is equal to the one kept aside gets that value back at once, with
    /// nothing left to commit or put back; returns whether any value changed (then
    /// [`end_own`](Stored::end_own) must run).
    pub(crate) fn recheck_own<F>(
        &mut self,
        written: FieldMask,
        mut tally: Tally<'_>,
    ) -> Result<bool, Own<F>> {
        let mut changed = false;
        for (i, cache) in T::CACHES.iter().enumerate() {
            if !cache.checks().intersects(written) {
                continue;
            }
            let rechecked = cache.recheck_kept(&self.value, &mut self.cells);
            noted::<T>(&mut tally, *cache, &rechecked);
            let failure = match rechecked {
                Some(Ok(fresh)) if !fresh.failed => {
                    changed |= fresh.changed;
                    continue;
                }
                Some(Ok(_)) => Ok(cache
                    .take_failure(&mut self.cells)
                    .expect("a failed invariant holds its error")),
                Some(Err(payload)) => Err(payload),
                None => unreachable!("a cache with checks reads its own fields only"),
            };
            return Err(Own::Failed(i, failure));
        }
        Ok(changed)
    }

    /// Ends a transaction's own writes of `written`: forgets the values kept aside, or, on
    /// rollback (the fields are back), puts them back and clears the `lazy_read` caches
    /// that read a written field (they were refilled from the transaction's values; the
    /// next read computes them from the restored ones).
    pub(crate) fn end_own(&mut self, written: FieldMask, commit: bool) {
        for (i, cache) in T::CACHES.iter().enumerate() {
            if cache.checks().intersects(written) {
                let cell = self.cells.cell_mut(i);
                if commit {
                    cell.commit();
                } else {
                    cell.roll_back(true);
                }
            } else if !commit && cache.fields().is_some_and(|m| m.intersects(written)) {
                self.cells.cell_mut(i).clear();
            }
        }
    }
}

/// Counts and traces a recheck of `cache` by a write on its object's own path.
#[inline(always)]
pub(crate) fn noted<T: Object>(
    tally: &mut Tally<'_>,
    cache: &dyn AnyCache<T>,
    rechecked: &Option<std::thread::Result<crate::cell::Fresh>>,
) {
    tally.rechecked(|| cache.is_invariant(), rechecked);
    own_computed(
        std::any::type_name::<T>(),
        cache.name(),
        || cache.is_invariant(),
        rechecked.as_ref().and_then(|r| r.as_ref().ok()),
    );
}

/// Why the own write path did not settle a write.
pub(crate) enum Own<F> {
    /// A written field is loud: the barrier must settle the write; the value to write is
    /// handed back, if there is one.
    Loud(F),
    /// The `now` cache at this index failed (its error) or panicked (the payload); the
    /// object's cells are as before the write.
    Failed(
        usize,
        std::thread::Result<Box<dyn std::error::Error + Send + Sync>>,
    ),
}

impl<F> Own<F> {
    /// The error of a failed invariant (or the panic to resume) of object `object`.
    pub(crate) fn into_error<T: Object>(
        self,
        object: ObjectId,
    ) -> Result<Error, Box<dyn Any + Send>> {
        match self {
            Own::Loud(_) => unreachable!("a loud write is settled by the barrier"),
            Own::Failed(i, failure) => failure.map(|source| Error::Invariant {
                invariant: crate::error::CacheName {
                    object,
                    type_name: std::any::type_name::<T>(),
                    cache: T::CACHES[i].name(),
                },
                source,
                value: None,
            }),
        }
    }
}
