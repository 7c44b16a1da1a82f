//! The model-test type declared with the derive macros: the same fields, caches (in the
//! same order) and failures as the hand-written `Obj`, so the model test runs over both.

use steadfast::{cached, mutable, Ctx, Imm, Mutable};

use super::{bump, Broken, BOUNDED_RUNS, LIMIT, PANIC_A, PANIC_B};

/// A reference from one model object to an earlier one (capsules are never referenced).
#[derive(Clone, Debug, steadfast::Plain)]
pub enum Ref {
    Mutable(Mutable<Obj>),
    Imm(Imm<Obj>),
}

#[mutable]
#[derive(Clone, Debug)]
pub struct Obj {
    pub a: i64,
    pub b: i64,
    pub refs: Vec<Ref>,
}

#[cached]
impl Obj {
    /// Own fields only; panics on `b == PANIC_B`.
    #[cache(lazy_read)]
    pub fn local(a: &i64, b: &i64) -> i64 {
        assert!(*b != PANIC_B, "local panics on b == {PANIC_B}");
        a * 2 + b
    }

    /// Early-cutoff candidate: equal for every b >= 10.
    #[cache(lazy_read)]
    pub fn clamp(b: &i64) -> i64 {
        (*b).min(10)
    }

    /// Reads other objects' fields and caches.
    #[cache(lazy_read)]
    #[allow(clippy::ptr_arg)]
    pub fn total(a: &i64, refs: &Vec<Ref>, ctx: &Ctx<'_, Self>) -> i64 {
        let mut t = *a;
        for r in refs {
            t += match r {
                Ref::Mutable(h) => {
                    ctx.cached(h, &Obj::CLAMP).copied().unwrap_or(0)
                        + ctx.field_of(h, &Obj::A).copied().unwrap_or(0)
                }
                Ref::Imm(h) => {
                    ctx.cached(h, &Obj::CLAMP).copied().unwrap_or(0)
                        + ctx.field_of(h, &Obj::A).copied().unwrap_or(0)
                }
            };
        }
        t
    }

    /// Cross-object invariant: a + the b of every live ref <= LIMIT, and for an odd a,
    /// plus this object's clamp.
    #[cache(now)]
    #[allow(clippy::ptr_arg)]
    pub fn bounded(a: &i64, refs: &Vec<Ref>, ctx: &Ctx<'_, Self>) -> Result<(), Broken> {
        bump(BOUNDED_RUNS);
        let mut s = *a;
        if s % 2 != 0 {
            s += ctx.own(&Obj::CLAMP).copied().unwrap_or_default();
        }
        for r in refs {
            s += match r {
                Ref::Mutable(h) => ctx.field_of(h, &Obj::B).copied().unwrap_or(0),
                Ref::Imm(h) => ctx.field_of(h, &Obj::B).copied().unwrap_or(0),
            };
        }
        if s <= LIMIT {
            Ok(())
        } else {
            Err(Broken(format!("sum {s} > {LIMIT}")))
        }
    }

    /// A `now` value; panics on `a == PANIC_A`.
    #[cache(now)]
    pub fn diff(a: &i64, b: &i64) -> i64 {
        assert!(*a != PANIC_A, "diff panics on a == {PANIC_A}");
        a - b
    }
}
