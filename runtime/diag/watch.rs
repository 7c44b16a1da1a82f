//! What the change feed holds: the watches and their entries (the operations on them are
//! in `feed`).

use std::collections::HashMap;
use std::fmt;

use rustc_hash::FxBuildHasher;

use crate::error::CacheName;
use crate::key::{CellId, ObjectId, ObjectKey};

/// A watched cache ([`Heap::watch`](crate::Heap::watch)): names it in the change feed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Watch {
    pub(crate) name: CacheName,
    pub(crate) index: u32,
}

impl Watch {
    /// The object whose cache it is.
    pub fn object(&self) -> ObjectId {
        self.name.object
    }

    /// The cached method's name.
    pub fn cache(&self) -> &'static str {
        self.name.cache
    }

    /// The cache, named as errors name it.
    pub fn name(&self) -> &CacheName {
        &self.name
    }
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Watch({self})")
    }
}

impl fmt::Display for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.name, f)
    }
}

/// What happened to a watched cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChangeKind {
    /// An operation changed its value (a recomputation that found an equal value is no
    /// change).
    Changed,
    /// Its object was removed; the watch ended.
    Removed,
}

/// The heap's watches and the changes not yet taken.
#[derive(Default)]
pub(crate) struct Watches {
    /// The watched caches of each object.
    pub(crate) by_object: HashMap<ObjectKey, Vec<Watch>, FxBuildHasher>,
    /// Watched cells the running operation changed: entries once it commits.
    pub(crate) pending: Vec<CellId>,
    /// Entries of committed operations, oldest first.
    pub(crate) feed: Vec<(Watch, ChangeKind)>,
}

impl Watches {
    pub(crate) fn find(&self, id: CellId) -> Option<Watch> {
        self.by_object
            .get(&id.key)?
            .iter()
            .find(|w| w.index == id.index)
            .copied()
    }
}
