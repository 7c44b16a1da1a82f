//! The write barrier: every write ends here. It invalidates what the write can change,
//! brings `now` caches (and caches that were being read) up to date once, and commits —
//! or, if an invariant fails or a computation panics, puts everything back.

pub(crate) mod create;
pub(crate) mod journal;
pub(crate) mod operate;
pub(crate) mod own;
pub(crate) mod remove;
pub(crate) mod settle;
pub(crate) mod transaction;
pub(crate) mod writer;
