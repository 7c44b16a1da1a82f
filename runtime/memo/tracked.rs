//! What a memoized function sees of the implementation: the live one, behind a recorder
//! that serves back what the lookup asked already.

use std::fmt;

use std::collections::HashMap;
use std::hash::BuildHasher;

use indexmap::map::raw_entry_v1::RawEntryMut;
use indexmap::map::RawEntryApiV1;
use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

use super::tree::Served;
use super::{AskRef, Interface};
use crate::sync::Mutex;

/// The implementation a memoized function sees: it asks the live implementation, except
/// for the calls the lookup asked already, whose answers it serves, and it records every
/// (call, answer) pair for the memo.
///
/// For a trait declared with [`#[steadfast::interface]`](crate::interface), `Tracked<'_, dyn
/// Trait>` implements the trait, so the function calls its methods as on any implementation,
/// and can hand it on to an inner memo (whose lookups are then recorded by the outer one).
pub struct Tracked<'a, I: ?Sized + Interface> {
    live: Live<'a, I>,
    /// A lock, not a `RefCell`, so that a `Tracked` of a `Send + Sync` trait is one: the
    /// calls are recorded in the order they are asked.
    run: Mutex<Run<I>>,
}

/// The implementation asked: lent for the lookup, or owned by a heap (which holds it
/// for as long as it lives, hence `'static`).
enum Live<'a, I: ?Sized + Interface> {
    Lent(&'a I::Live<'a>),
    Held(&'a I::Live<'static>),
}

impl<I: ?Sized + Interface> Live<'_, I> {
    /// Asks the implementation, passing the call on by reference if it is itself tracked:
    /// the answer, or `Ok` if it is `expected` (a tracked implementation then clones
    /// nothing to say so).
    fn answer(&self, call: &I::Call, expected: Option<&I::Answer>) -> Result<I::Answer, Same> {
        fn ask<I: ?Sized + Interface>(
            live: &I::Live<'_>,
            call: &I::Call,
            expected: Option<&I::Answer>,
        ) -> Result<I::Answer, Same> {
            match (I::tracked(live), expected) {
                (Some(outer), Some(expected)) => outer.check(call, expected).ok_or(Same),
                (Some(outer), None) => Ok(outer.ask_ref(call)),
                (None, _) => Ok(I::answer(live, call)),
            }
        }
        match self {
            Live::Lent(live) => ask::<I>(live, call, expected),
            Live::Held(live) => ask::<I>(live, call, expected),
        }
    }
}

/// An answer was the one expected.
struct Same;

/// What a run asked.
pub(crate) struct Run<I: ?Sized + Interface> {
    /// Each distinct call the run asked of the implementation itself, once, in the order
    /// first asked: an implementation answers a call alike each time, so a repeated call
    /// is answered from here (or from `served`). Without this, a function that reaches the
    /// same inner memo by many paths (a script including a file many scripts include)
    /// would record its calls once per path: exponentially many in the depth of the
    /// includes.
    pub(crate) path: IndexMap<I::Call, I::Answer, FxBuildHasher>,
    /// What the lookup asked before it left the recorded paths, served in order, by
    /// reference to the tree (no pair is copied).
    pub(crate) served: Option<Box<dyn Served<I::Call, I::Answer>>>,
    /// The pairs of `served` the run has asked (its first calls, in order).
    pub(crate) resumed: usize,
    /// The served calls by hash, to answer a repeat of one.
    repeats: HashMap<u64, usize, FxBuildHasher>,
    /// Where the run first asked another call than the lookup had at that point: the
    /// position, the lookup's call and the run's.
    pub(crate) diverged: Option<(usize, I::Call, I::Call)>,
}

/// A call asked by value or by reference: recorded without a clone when owned.
enum Asked<'c, C> {
    Owned(C),
    Borrowed(&'c C),
}

impl<C: Clone> Asked<'_, C> {
    fn get(&self) -> &C {
        match self {
            Asked::Owned(c) => c,
            Asked::Borrowed(c) => c,
        }
    }

    fn into_owned(self) -> C {
        match self {
            Asked::Owned(c) => c,
            Asked::Borrowed(c) => c.clone(),
        }
    }
}

impl<'a, I: ?Sized + Interface> Tracked<'a, I> {
    pub(crate) fn new(
        live: &'a I::Live<'a>,
        served: Option<Box<dyn Served<I::Call, I::Answer>>>,
    ) -> Self {
        Self::with(Live::Lent(live), served)
    }

    /// A recorder of the calls a heap's cache asks an implementation the heap holds.
    pub(crate) fn held(live: &'a I::Live<'static>) -> Self {
        Self::with(Live::Held(live), None)
    }

    fn with(live: Live<'a, I>, served: Option<Box<dyn Served<I::Call, I::Answer>>>) -> Self {
        Tracked {
            live,
            run: Mutex::new(Run {
                path: IndexMap::default(),
                served,
                resumed: 0,
                repeats: HashMap::default(),
                diverged: None,
            }),
        }
    }

    /// Asks `call`: answered as before if this run asked it already; else served from the
    /// lookup if it asked the same call at this point, or asked of the implementation;
    /// recorded either way.
    pub fn ask(&self, call: I::Call) -> I::Answer {
        match self.ask_with(Asked::Owned(call), None) {
            Ok(answer) => answer,
            Err(Same) => unreachable!("nothing was expected"),
        }
    }

    /// Asks `call` as [`ask`](Tracked::ask) does; if an answer is `expected`, says only
    /// whether it was that (`Err(Same)`), without a copy of it.
    fn ask_with(
        &self,
        call: Asked<'_, I::Call>,
        expected: Option<&I::Answer>,
    ) -> Result<I::Answer, Same> {
        let known = |answer: &I::Answer| match expected {
            Some(e) if e == answer => Err(Same),
            _ => Ok(answer.clone()),
        };
        let mut run = self.run.lock();
        let run = &mut *run;
        // Hashed once for the record, the served calls and the insertion.
        let hash = FxBuildHasher.hash_one(call.get());
        let recorded = run.path.raw_entry_v1();
        if let Some((_, answer)) = recorded.from_key_hashed_nocheck(hash, call.get()) {
            return known(answer);
        }
        if let Some(served) = &run.served {
            // A repeat of a call served already.
            if let Some(&at) = run.repeats.get(&hash) {
                match served.get(at) {
                    Some((c, a)) if c == call.get() => return known(a),
                    // Another call with the same hash: look through them all.
                    _ => {
                        let repeat = (0..run.resumed)
                            .filter_map(|p| served.get(p))
                            .find(|(c, _)| *c == call.get());
                        if let Some((_, a)) = repeat {
                            return known(a);
                        }
                    }
                }
            }
            if run.diverged.is_none() {
                match served.get(run.resumed) {
                    Some((c, a)) if c == call.get() => {
                        run.repeats.entry(hash).or_insert(run.resumed);
                        run.resumed += 1;
                        return known(a);
                    }
                    Some((c, _)) => {
                        let at = run.resumed + run.path.len();
                        run.diverged = Some((at, c.clone(), call.get().clone()));
                    }
                    None => {}
                }
            }
        }
        let (answer, same) = match self.live.answer(call.get(), expected) {
            Ok(answer) => {
                let same = expected == Some(&answer);
                (answer, same)
            }
            Err(Same) => (expected.expect("an answer was expected").clone(), true),
        };
        let record = |answer| match run
            .path
            .raw_entry_mut_v1()
            .from_key_hashed_nocheck(hash, call.get())
        {
            RawEntryMut::Vacant(entry) => {
                entry.insert_hashed_nocheck(hash, call.into_owned(), answer);
            }
            RawEntryMut::Occupied(_) => unreachable!("a call not recorded yet"),
        };
        if same {
            record(answer);
            Err(Same)
        } else {
            record(answer.clone());
            Ok(answer)
        }
    }

    /// What the run asked.
    pub(crate) fn finish(self) -> Run<I> {
        self.run.into_inner()
    }

    /// What the run asked so far, taken (a run with nothing served).
    pub(crate) fn take(&self) -> IndexMap<I::Call, I::Answer, FxBuildHasher> {
        std::mem::take(&mut self.run.lock().path)
    }
}

/// A call passed on from an inner memo is cloned only if it is recorded.
impl<I: ?Sized + Interface> AskRef<I> for Tracked<'_, I> {
    fn ask_ref(&self, call: &I::Call) -> I::Answer {
        match self.ask_with(Asked::Borrowed(call), None) {
            Ok(answer) => answer,
            Err(Same) => unreachable!("nothing was expected"),
        }
    }

    fn check(&self, call: &I::Call, expected: &I::Answer) -> Option<I::Answer> {
        self.ask_with(Asked::Borrowed(call), Some(expected)).ok()
    }
}

impl<I: ?Sized + Interface> fmt::Debug for Tracked<'_, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let run = self.run.lock();
        f.debug_struct("Tracked")
            .field("asked", &(run.resumed + run.path.len()))
            .field("served", &run.resumed)
            .finish()
    }
}
