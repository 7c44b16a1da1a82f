//! Dependency tracking: what each computation read, who depends on what, and the one
//! protocol that brings a cell up to date.

pub(crate) mod compute;
pub(crate) mod frame;
pub(crate) mod graph;
pub(crate) mod read;
pub(crate) mod sched;
