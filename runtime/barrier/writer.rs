//! The writer an operation writes one object through: it saves each field before its
//! first write, so that a rollback can put it back.

use crate::decl::field::Field;
use crate::decl::field::FieldMask;
use crate::decl::object::Object;
use std::mem;
use std::panic;
use std::panic::AssertUnwindSafe;

/// The fields a [`Writer`] saved before writing them, in order. Most operations save once:
/// that one save stays inline, so a mutator does not allocate for its rollback record.
pub(crate) struct Saves<S> {
    first: Option<S>,
    more: Vec<S>,
}

impl<S> Default for Saves<S> {
    fn default() -> Self {
        Saves {
            first: None,
            more: Vec::new(),
        }
    }
}

impl<S> Saves<S> {
    fn push(&mut self, saved: S) {
        match self.first {
            None => self.first = Some(saved),
            Some(_) => self.more.push(saved),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// The saves, first first.
    pub(crate) fn into_iter(self) -> impl Iterator<Item = S> {
        self.first.into_iter().chain(self.more)
    }

    /// The saves, last first: the order that puts back the oldest value of each field.
    pub(crate) fn into_rev(self) -> impl Iterator<Item = S> {
        self.more.into_iter().rev().chain(self.first)
    }
}

/// Write access to one object inside [`Heap::write`](crate::Heap::write): each field is
/// written through its descriptor, so the barrier knows what changed and saves each field
/// once, before its first write, in case the operation is rolled back.
pub struct Writer<'a, T: Object> {
    value: &'a mut T,
    written: FieldMask,
    /// The fields saved so far: by this writer, and by the transaction it belongs to.
    kept: FieldMask,
    saved: Saves<T::Saved>,
    /// `T::save` declined: a rollback removes the object instead of restoring it.
    lost: bool,
}

impl<'a, T: Object> Writer<'a, T> {
    fn new(value: &'a mut T, kept: FieldMask) -> Self {
        Writer {
            value,
            written: FieldMask::EMPTY,
            kept,
            saved: Saves::default(),
            lost: false,
        }
    }

    /// Reads a field.
    pub fn field<F>(&self, field: &Field<T, F>) -> &F {
        field.get(self.value)
    }

    /// Writes a field in place.
    pub fn field_mut<F>(&mut self, field: &Field<T, F>) -> &mut F {
        self.touch(field.mask());
        field.get_mut(self.value)
    }

    /// Sets a field.
    #[inline]
    pub fn set<F>(&mut self, field: &Field<T, F>, value: F) {
        *self.field_mut(field) = value;
    }

    /// Replaces a field, returning the old value.
    #[inline]
    pub fn replace<F>(&mut self, field: &Field<T, F>, value: F) -> F {
        mem::replace(self.field_mut(field), value)
    }

    /// Unchecked access to the fields in `fields`, all at once. Used by the derive, which
    /// borrows exactly those fields; writing another field breaks coherence.
    #[doc(hidden)]
    pub fn __fields_mut(&mut self, fields: FieldMask) -> &mut T {
        self.touch(fields);
        self.value
    }

    #[inline]
    pub(crate) fn touch(&mut self, fields: FieldMask) {
        self.written = self.written.union(fields);
        let new = FieldMask(fields.0 & !self.kept.0);
        if new.is_empty() {
            return;
        }
        match self.value.save(new) {
            Some(saved) => self.saved.push(saved),
            None => self.lost = true,
        }
        self.kept = self.kept.union(new);
    }
}

/// What [`Writer::run`] leaves: the closure's result or its panic, the fields it wrote, the
/// fields saved so far, the saves, and whether a save was declined.
pub(crate) struct Written<R, S> {
    pub(crate) out: std::thread::Result<R>,
    pub(crate) written: FieldMask,
    pub(crate) kept: FieldMask,
    pub(crate) saved: Saves<S>,
    pub(crate) lost: bool,
}

impl<'a, T: Object> Writer<'a, T> {
    /// Runs `f` on `value` through a writer — which first saves every field, for a box
    /// (`whole`) — catching a panic. `kept`: the fields the enclosing operation saved
    /// already.
    #[inline(always)]
    pub(crate) fn run<R>(
        value: &'a mut T,
        kept: FieldMask,
        whole: bool,
        f: impl FnOnce(&mut Writer<'_, T>) -> R,
    ) -> Written<R, T::Saved> {
        let mut writer = Writer::new(value, kept);
        if whole {
            writer.touch(FieldMask::ALL);
        }
        let out = panic::catch_unwind(AssertUnwindSafe(|| f(&mut writer)));
        Written {
            out,
            written: writer.written,
            kept: writer.kept,
            saved: writer.saved,
            lost: writer.lost,
        }
    }
}
