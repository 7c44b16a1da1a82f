//! Immutable objects: freezing a capsule, the normalization classes of structurally equal
//! objects, and eager caches computed on the rayon pool.

pub(crate) mod class;
pub(crate) mod freeze;
pub(crate) mod intern;
pub(crate) mod lower;
pub(crate) mod parallel;
