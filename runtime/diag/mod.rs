//! Diagnostics: what the runtime did (counters, behind the `stats` feature) and the
//! dependency graph as it stands (the DOT export, always there).

pub(crate) mod cause;
pub(crate) mod dot;
pub(crate) mod explain;
pub(crate) mod feed;
pub(crate) mod stats;
pub(crate) mod trace;
pub(crate) mod watch;
