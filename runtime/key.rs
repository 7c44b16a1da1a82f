//! Identities: of an object in its arena, of an object across heaps, of one cache cell,
//! and the ownership tag.

use std::fmt;

use slotmap::Key;

slotmap::new_key_type! {
    /// The arena key of an object (index and generation).
    pub(crate) struct ObjectKey;
}

/// Identifies one object of one heap, whatever its type and tag.
///
/// Two ids are equal only if they name the same object of the same heap; an id of a
/// removed object never names a later one (keys are generational). Ids are ordered by arena
/// index and generation, then by heap: an order with no meaning but a fixed one, so that
/// handles can be kept in a `BTreeSet`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    pub(crate) key: ObjectKey,
    pub(crate) heap: u64,
}

impl ObjectId {
    /// The arena index and generation, packed; stable for the object's lifetime.
    pub fn as_u64(self) -> u64 {
        self.key.data().as_ffi()
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@heap{}", self.local(), self.heap)
    }
}

impl ObjectId {
    /// The id without its heap (`#1v1`): for output that must not differ between heaps
    /// (heaps are numbered in the order a process makes them).
    pub(crate) fn local(self) -> impl fmt::Display {
        struct Local(u64);
        impl fmt::Display for Local {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "#{}v{}", self.0 & 0xffff_ffff, self.0 >> 32)
            }
        }
        Local(self.key.data().as_ffi())
    }
}

/// The ownership tag of an object (see the crate docs for what each allows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    /// Never mutated again; aliasable and shareable across threads.
    Imm,
    /// Changed only through its mutators or a box; its handle is unique.
    Capsule,
    /// Aliasable and writable; every write goes through the barrier.
    Mutable,
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tag::Imm => "imm",
            Tag::Capsule => "capsule",
            Tag::Mutable => "mutable",
        })
    }
}

/// One cache cell of one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CellId {
    pub(crate) key: ObjectKey,
    pub(crate) index: u32,
}

slotmap::new_key_type! {
    /// The key of an open overlay in its heap (index and generation).
    pub(crate) struct OverlayKey;
}

/// An open overlay of a heap (see [`Heap::overlay`](crate::Heap::overlay)): a handle, like
/// an object's, checked against its heap and against being closed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Overlay {
    pub(crate) key: OverlayKey,
    pub(crate) heap: u64,
}

impl fmt::Debug for Overlay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Overlay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.key.data().as_ffi();
        write!(
            f,
            "overlay#{}v{}@heap{}",
            n & 0xffff_ffff,
            n >> 32,
            self.heap
        )
    }
}
