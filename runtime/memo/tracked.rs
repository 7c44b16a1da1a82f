//! What a memoized function sees of the implementation: the live one, behind a recorder
//! that serves back what the lookup asked already.

use std::fmt;

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

use super::Interface;
use crate::sync::Mutex;

/// The implementation a memoized function sees: it asks the live implementation, except
/// for the calls the lookup asked already, whose answers it serves, and it records every
/// (call, answer) pair for the memo.
///
/// For a trait declared with [`#[steadfast::interface]`](crate::interface), `Tracked<'_, dyn
/// Trait>` implements the trait, so the function calls its methods as on any implementation,
/// and can hand it on to an inner memo (whose lookups are then recorded by the outer one).
pub struct Tracked<'a, I: ?Sized + Interface> {
    live: &'a I::Live<'a>,
    /// What the lookup asked before it left the recorded paths, served in order.
    served: Vec<(I::Call, I::Answer)>,
    /// A lock, not a `RefCell`, so that a `Tracked` of a `Send + Sync` trait is one: the
    /// calls are recorded in the order they are asked.
    run: Mutex<Run<I>>,
}

/// What a run asked.
pub(crate) struct Run<I: ?Sized + Interface> {
    /// Each distinct call once, in the order first asked: an implementation answers a
    /// call alike each time, so a repeated call is answered from here. Without this, a
    /// function that reaches the same inner memo by many paths (a script including a
    /// file many scripts include) would record its calls once per path: exponentially
    /// many in the depth of the includes.
    pub(crate) path: IndexMap<I::Call, I::Answer, FxBuildHasher>,
    /// The first call that differed from the one the lookup asked at its position.
    pub(crate) diverged: Option<(usize, I::Call)>,
}

impl<'a, I: ?Sized + Interface> Tracked<'a, I> {
    pub(crate) fn new(live: &'a I::Live<'a>, served: Vec<(I::Call, I::Answer)>) -> Self {
        Tracked {
            live,
            served,
            run: Mutex::new(Run {
                path: IndexMap::default(),
                diverged: None,
            }),
        }
    }

    /// Asks `call`: answered as before if this run asked it already; else served from the
    /// lookup if it asked the same call at this point, or asked of the implementation;
    /// recorded either way.
    pub fn ask(&self, call: I::Call) -> I::Answer {
        let mut run = self.run.lock();
        if let Some(answer) = run.path.get(&call) {
            return answer.clone();
        }
        let at = run.path.len();
        let answer = match self.served.get(at) {
            Some((served, answer)) if run.diverged.is_none() && *served == call => answer.clone(),
            Some(_) if run.diverged.is_none() => {
                run.diverged = Some((at, call.clone()));
                I::answer(self.live, &call)
            }
            _ => I::answer(self.live, &call),
        };
        run.path.insert(call, answer.clone());
        answer
    }

    /// What the lookup asked, and what the run asked.
    pub(crate) fn finish(self) -> (Vec<(I::Call, I::Answer)>, Run<I>) {
        (self.served, self.run.into_inner())
    }
}

impl<I: ?Sized + Interface> fmt::Debug for Tracked<'_, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracked")
            .field("served", &self.served.len())
            .field("asked", &self.run.lock().path.len())
            .finish()
    }
}
