//! Model-based test of G1–G3: random operation sequences on objects of all three tags,
//! compared after every step with a naive model that recomputes every method on every
//! read and checks every invariant after every step.
//!
//! It runs twice: over a hand-written `Object` and over the same type declared with the
//! derive macros. `STEADFAST_MODEL_CASES` sets the number of cases (default 2000) of every proptest in `tests/`.

mod common;

/// Over `common::Obj`, whose `Object` impl is written by hand.
mod hand_written {
    use crate::common::{Obj, Ref};
    include!("model/run.rs");
}

/// Over `common::derived::Obj`, declared with `#[mutable]` and `#[cached]`.
mod derived {
    use crate::common::derived::{Obj, Ref};
    include!("model/run.rs");
}
