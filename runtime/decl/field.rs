//! Fields: typed accessors a type declares for each of its fields, and sets of them.

use std::fmt;

/// A set of fields of one type, one bit per field (so a type has at most 64 fields).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FieldMask(pub(crate) u64);

impl FieldMask {
    /// No field.
    pub const EMPTY: FieldMask = FieldMask(0);
    /// Every field.
    pub const ALL: FieldMask = FieldMask(u64::MAX);

    /// The field with this index.
    ///
    /// # Panics
    /// If `index >= 64` (in a const context this is a compile error).
    #[inline]
    pub const fn field(index: usize) -> FieldMask {
        assert!(index < 64, "a steadfast object has at most 64 fields");
        FieldMask(1 << index)
    }

    /// Both sets together.
    #[must_use]
    #[inline]
    pub const fn union(self, other: FieldMask) -> FieldMask {
        FieldMask(self.0 | other.0)
    }

    /// The fields in both sets.
    #[must_use]
    #[inline]
    pub const fn intersection(self, other: FieldMask) -> FieldMask {
        FieldMask(self.0 & other.0)
    }

    /// Whether the sets share a field.
    #[inline]
    pub const fn intersects(self, other: FieldMask) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether the set is empty.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for FieldMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldMask({:#b})", self.0)
    }
}

/// The indices of the set bits of a mask, lowest first.
pub(crate) struct Ones(pub(crate) u64);

impl Iterator for Ones {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let i = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(i as usize)
    }
}

/// A field of `T` of type `F`: its bit and how to reach it.
///
/// Reads and writes through a descriptor are what the runtime tracks, so each field must
/// have exactly one descriptor, whose index is the field's position in
/// [`Object::FIELDS`](crate::Object::FIELDS). The derive generates them.
pub struct Field<T, F> {
    index: usize,
    get: fn(&T) -> &F,
    get_mut: fn(&mut T) -> &mut F,
}

impl<T, F> Field<T, F> {
    /// Declares field number `index` of `T`, reached by `get` and `get_mut`.
    pub const fn new(index: usize, get: fn(&T) -> &F, get_mut: fn(&mut T) -> &mut F) -> Self {
        assert!(index < 64, "a steadfast object has at most 64 fields");
        Field {
            index,
            get,
            get_mut,
        }
    }

    /// The field's position in [`Object::FIELDS`](crate::Object::FIELDS).
    pub const fn index(&self) -> usize {
        self.index
    }

    /// The field as a set of one.
    #[inline]
    pub const fn mask(&self) -> FieldMask {
        // `new` checked the index.
        FieldMask(1 << self.index)
    }

    #[inline]
    pub(crate) fn get<'a>(&self, value: &'a T) -> &'a F {
        (self.get)(value)
    }

    #[inline]
    pub(crate) fn get_mut<'a>(&self, value: &'a mut T) -> &'a mut F {
        (self.get_mut)(value)
    }
}

impl<T, F> fmt::Debug for Field<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Field<{}>({})", std::any::type_name::<T>(), self.index)
    }
}
