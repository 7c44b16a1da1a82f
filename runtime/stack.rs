//! The stack grows on demand: a computation reads other caches by calling into them, so a
//! chain of caches as deep as the data (a million links, each reading the next) recurses
//! as deep. Before each level that could be the one to run out, the runtime checks what
//! is left of the thread's stack and, when little is, continues on a new segment (as rustc
//! does for its own recursive queries).

/// What must be left for one more level: the runtime's frames for one read plus the
/// user's computation (which may keep sizeable values on the stack), with room to spare.
#[cfg(not(loom))]
const RED_ZONE: usize = 256 * 1024;

/// The size of each new segment: a few thousand levels each.
#[cfg(not(loom))]
const SEGMENT: usize = 8 * 1024 * 1024;

/// Runs `f`, on a new stack segment if the current one is nearly used up.
#[inline]
pub(crate) fn grown<R>(f: impl FnOnce() -> R) -> R {
    // loom runs each thread on its own small stacks, and models no deep chains.
    #[cfg(not(loom))]
    return stacker::maybe_grow(RED_ZONE, SEGMENT, f);
    #[cfg(loom)]
    return f();
}
