//! Memoizing a function over any implementation of an interface by its interaction tree
//! (the calls it made and the answers it got): the tree (`tree`) so far.

pub(crate) mod tree;
