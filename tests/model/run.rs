// The body of the model test, included once per `Obj` (see `tests/model.rs`).

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::common::{LIMIT, PANIC_A, PANIC_B};
use proptest::prelude::*;
use steadfast::{Capsule, Error, Heap, Imm, Mutable};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tag {
    Imm,
    Capsule,
    Mutable,
}

#[derive(Clone, Debug)]
enum Op {
    Create {
        tag: Tag,
        a: i64,
        b: i64,
        refs: Vec<usize>,
    },
    /// `Heap::set`, or `ViewMut::set` if `view`.
    SetA {
        i: usize,
        v: i64,
        view: bool,
    },
    SetB {
        i: usize,
        v: i64,
        view: bool,
    },
    Write {
        i: usize,
        a: i64,
        b: i64,
        panic: bool,
    },
    Mutate {
        i: usize,
        b: i64,
        panic: bool,
    },
    OpenBox {
        i: usize,
        a: i64,
        b: i64,
        panic: bool,
    },
    Freeze {
        i: usize,
    },
    Remove {
        i: usize,
    },
    /// `Heap::transaction` over several objects.
    Transaction {
        steps: Vec<Step>,
        end: End,
    },
}

/// One step of a transaction; `i` may name an object created earlier in it.
#[derive(Clone, Debug)]
enum Step {
    Create {
        tag: Tag,
        a: i64,
        b: i64,
        refs: Vec<usize>,
    },
    SetA {
        i: usize,
        v: i64,
    },
    SetB {
        i: usize,
        v: i64,
    },
    Write {
        i: usize,
        a: i64,
        b: i64,
    },
    Mutate {
        i: usize,
        b: i64,
    },
    OpenBox {
        i: usize,
        a: i64,
        b: i64,
    },
    Remove {
        i: usize,
    },
    /// Reads `clamp` and `total` inside the transaction: they must see its writes.
    Read {
        i: usize,
    },
}

/// How the transaction's closure ends.
#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    Ok,
    Err,
    Panic,
}

fn value() -> impl Strategy<Value = i64> {
    prop_oneof![8 => -5i64..30, 1 => Just(PANIC_A), 1 => Just(PANIC_B), 1 => 40i64..70]
}

fn op() -> impl Strategy<Value = Op> {
    let i = 0usize..12;
    prop_oneof![
        3 => (prop_oneof![Just(Tag::Imm), Just(Tag::Capsule), Just(Tag::Mutable)], value(), value(), prop::collection::vec(0usize..12, 0..3))
            .prop_map(|(tag, a, b, refs)| Op::Create { tag, a, b, refs }),
        3 => (i.clone(), value(), any::<bool>()).prop_map(|(i, v, view)| Op::SetA { i, v, view }),
        3 => (i.clone(), value(), any::<bool>()).prop_map(|(i, v, view)| Op::SetB { i, v, view }),
        2 => (i.clone(), value(), value(), prop::bool::weighted(0.15)).prop_map(|(i, a, b, panic)| Op::Write { i, a, b, panic }),
        2 => (i.clone(), value(), prop::bool::weighted(0.15)).prop_map(|(i, b, panic)| Op::Mutate { i, b, panic }),
        2 => (i.clone(), value(), value(), prop::bool::weighted(0.15)).prop_map(|(i, a, b, panic)| Op::OpenBox { i, a, b, panic }),
        1 => i.clone().prop_map(|i| Op::Freeze { i }),
        1 => i.prop_map(|i| Op::Remove { i }),
        4 => (prop::collection::vec(step(), 1..8), prop_oneof![6 => Just(End::Ok), 1 => Just(End::Err), 1 => Just(End::Panic)])
            .prop_map(|(steps, end)| Op::Transaction { steps, end }),
    ]
}

fn tag() -> impl Strategy<Value = Tag> {
    prop_oneof![Just(Tag::Imm), Just(Tag::Capsule), Just(Tag::Mutable)]
}

fn step() -> impl Strategy<Value = Step> {
    let i = 0usize..14;
    prop_oneof![
        2 => (tag(), value(), value(), prop::collection::vec(0usize..14, 0..3))
            .prop_map(|(tag, a, b, refs)| Step::Create { tag, a, b, refs }),
        3 => (i.clone(), value()).prop_map(|(i, v)| Step::SetA { i, v }),
        3 => (i.clone(), value()).prop_map(|(i, v)| Step::SetB { i, v }),
        2 => (i.clone(), value(), value()).prop_map(|(i, a, b)| Step::Write { i, a, b }),
        2 => (i.clone(), value()).prop_map(|(i, b)| Step::Mutate { i, b }),
        2 => (i.clone(), value(), value()).prop_map(|(i, a, b)| Step::OpenBox { i, a, b }),
        1 => i.clone().prop_map(|i| Step::Remove { i }),
        2 => i.prop_map(|i| Step::Read { i }),
    ]
}

enum Handle {
    Imm(Imm<Obj>),
    Capsule(Capsule<Obj>),
    Mutable(Mutable<Obj>),
}

/// The naive model: plain values, every method recomputed from scratch.
#[derive(Clone, Debug, PartialEq)]
struct M {
    tag: Tag,
    a: i64,
    b: i64,
    refs: Vec<usize>,
}

type Model = Vec<Option<M>>;

fn clamp(m: &Model, r: usize) -> i64 {
    m[r].as_ref().map_or(0, |o| o.b.min(10))
}

fn local(o: &M) -> Option<i64> {
    (o.b != PANIC_B).then(|| o.a * 2 + o.b)
}

fn total(m: &Model, o: &M) -> i64 {
    o.a + o
        .refs
        .iter()
        .map(|&r| clamp(m, r) + m[r].as_ref().map_or(0, |x| x.a))
        .sum::<i64>()
}

fn bounded(m: &Model, o: &M) -> bool {
    let own = if o.a % 2 != 0 { o.b.min(10) } else { 0 };
    o.a + own
        + o.refs
            .iter()
            .map(|&r| m[r].as_ref().map_or(0, |x| x.b))
            .sum::<i64>()
        <= LIMIT
}

/// Whether every live object of a candidate model satisfies its invariants, and no `now`
/// value panics (the runtime refuses or unwinds otherwise).
enum Verdict {
    Ok,
    Invariant,
    Panic,
}

/// What the runtime must answer for a candidate model: the written object's caches
/// settle in declaration order (`bounded` before `diff`), then other objects' invariants.
fn judge(m: &Model, touched: &[usize]) -> Verdict {
    for &i in touched {
        if let Some(o) = &m[i] {
            if !bounded(m, o) {
                return Verdict::Invariant;
            }
            if o.a == PANIC_A {
                return Verdict::Panic;
            }
        }
    }
    if m.iter().flatten().any(|o| !bounded(m, o)) {
        return Verdict::Invariant;
    }
    Verdict::Ok
}

fn expect(op: &Op, expected: &Verdict, outcome: &Result<Result<(), Error>, ()>) -> bool {
    match (expected, outcome) {
        (Verdict::Ok, Ok(Ok(()))) => true,
        (Verdict::Invariant, Ok(Err(Error::Invariant { .. }))) | (Verdict::Panic, Err(())) => false,
        _ => panic!("{op:?}: expected {}, got {outcome:?}", name(expected)),
    }
}

fn run(ops: Vec<(Op, u8)>) {
    let mut heap = Heap::new();
    let mut model: Model = Vec::new();
    let mut handles: Vec<Option<Handle>> = Vec::new();
    for (op, reads) in ops {
        if let Op::Transaction { steps, end } = &op {
            transaction(&mut heap, &mut model, &mut handles, steps, *end);
            check(&mut heap, &model, &handles, reads);
            continue;
        }
        let mut next = model.clone();
        if let Op::Create { tag, a, b, refs } = &op {
            let refs: Vec<usize> = refs
                .iter()
                .copied()
                .filter(|&r| {
                    r < model.len()
                        && matches!(
                            model[r],
                            Some(M {
                                tag: Tag::Imm | Tag::Mutable,
                                ..
                            })
                        )
                })
                .collect();
            let value = Obj {
                a: *a,
                b: *b,
                refs: refs
                    .iter()
                    .map(|&r| match &handles[r] {
                        Some(Handle::Imm(h)) => Ref::Imm(*h),
                        Some(Handle::Mutable(h)) => Ref::Mutable(h.clone()),
                        _ => unreachable!("filtered to live imm and mut objects"),
                    })
                    .collect(),
            };
            next.push(Some(M {
                tag: *tag,
                a: *a,
                b: *b,
                refs,
            }));
            let expected = judge(&next, &[next.len() - 1]);
            let r = catch_unwind(AssertUnwindSafe(|| match tag {
                Tag::Imm => heap.imm(value).map(Handle::Imm),
                Tag::Capsule => heap.capsule(value).map(Handle::Capsule),
                Tag::Mutable => heap.mutable(value).map(Handle::Mutable),
            }));
            let (outcome, handle) = match r {
                Ok(Ok(h)) => (Ok(Ok(())), Some(h)),
                Ok(Err(e)) => (Ok(Err(e)), None),
                Err(_) => (Err(()), None),
            };
            if expect(&op, &expected, &outcome) {
                model = next;
                handles.push(handle);
            } else {
                assert_eq!(
                    heap.len(),
                    handles.iter().flatten().count(),
                    "a refused creation leaves nothing"
                );
            }
            check(&mut heap, &model, &handles, reads);
            continue;
        }
        let i = match &op {
            Op::SetA { i, .. }
            | Op::SetB { i, .. }
            | Op::Write { i, .. }
            | Op::Mutate { i, .. }
            | Op::OpenBox { i, .. }
            | Op::Freeze { i }
            | Op::Remove { i } => *i,
            Op::Create { .. } | Op::Transaction { .. } => unreachable!(),
        };
        let Some(Some(h)) = handles.get(i) else {
            continue;
        };
        let o = next[i].as_mut().expect("live handle, live model");
        let mut panics = false;
        let r: Result<Result<(), Error>, _> = match (&op, h) {
            (Op::SetA { v, view, .. }, Handle::Mutable(h)) => {
                o.a = *v;
                catch_unwind(AssertUnwindSafe(|| match view {
                    true => heap.view_mut(h)?.set(&Obj::A, *v).map(drop),
                    false => heap.set(h, &Obj::A, *v).map(drop),
                }))
            }
            (Op::SetB { v, view, .. }, Handle::Mutable(h)) => {
                o.b = *v;
                catch_unwind(AssertUnwindSafe(|| match view {
                    true => heap.view_mut(h)?.set(&Obj::B, *v).map(drop),
                    false => heap.set(h, &Obj::B, *v).map(drop),
                }))
            }
            (Op::Write { a, b, panic, .. }, Handle::Mutable(h)) => {
                (o.a, o.b, panics) = (*a, *b, *panic);
                catch_unwind(AssertUnwindSafe(|| {
                    heap.write(h, |w| {
                        w.set(&Obj::A, *a);
                        w.set(&Obj::B, *b);
                        assert!(!panic, "write panics");
                    })
                }))
            }
            (Op::Mutate { b, panic, .. }, Handle::Capsule(h)) => {
                (o.b, panics) = (*b, *panic);
                catch_unwind(AssertUnwindSafe(|| {
                    heap.write(h, |w| {
                        w.set(&Obj::B, *b);
                        assert!(!panic, "mutator panics");
                    })
                }))
            }
            (Op::OpenBox { a, b, panic, .. }, Handle::Capsule(h)) => {
                (o.a, o.b, panics) = (*a, *b, *panic);
                catch_unwind(AssertUnwindSafe(|| {
                    heap.open_box(h, |raw| {
                        raw.a = *a;
                        raw.b = *b;
                        assert!(!panic, "box panics");
                    })
                }))
            }
            (Op::Freeze { .. }, Handle::Capsule(_)) => {
                let Some(Handle::Capsule(h)) = handles[i].take() else {
                    unreachable!()
                };
                handles[i] = Some(Handle::Imm(heap.freeze(h).expect("freeze a live capsule")));
                o.tag = Tag::Imm;
                Ok(Ok(()))
            }
            (Op::Remove { .. }, h) => {
                next[i] = None;
                catch_unwind(AssertUnwindSafe(|| match h {
                    Handle::Imm(h) => heap.remove(h).map(drop),
                    Handle::Mutable(h) => heap.remove(h).map(drop),
                    Handle::Capsule(h) => heap.remove(h).map(drop),
                }))
            }
            _ => continue, // the tag does not allow this operation
        };
        let outcome = r.map_err(drop);
        let touched: &[usize] = if matches!(op, Op::Remove { .. }) {
            &[]
        } else {
            &[i]
        };
        let expected = if panics {
            Verdict::Panic
        } else {
            judge(&next, touched)
        };
        if expect(&op, &expected, &outcome) {
            if matches!(op, Op::Remove { .. }) {
                handles[i] = None;
            }
            model = next;
        }
        check(&mut heap, &model, &handles, reads);
    }
}

/// The closure's own error, to end a transaction with `Err`.
#[derive(Debug)]
enum TxError {
    Ended,
    Heap(Error),
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        TxError::Heap(e)
    }
}

/// What a transaction's steps wrote, for the count of invariant checks.
#[derive(Default)]
struct Touched {
    /// `a` or `refs` written (the invariant reads both).
    a: Vec<bool>,
    b: Vec<bool>,
    removed: Vec<bool>,
    created: Vec<bool>,
    /// The transaction read inside (then only an upper bound is checked).
    read: bool,
    /// What a step found wrong (not asserted inside: a panic there would pass for the
    /// transaction's own).
    wrong: Vec<String>,
}

impl Touched {
    fn set(v: &mut Vec<bool>, i: usize) {
        if v.len() <= i {
            v.resize(i + 1, false);
        }
        v[i] = true;
    }

    fn get(v: &[bool], i: usize) -> bool {
        v.get(i).copied().unwrap_or(false)
    }
}

/// One random transaction: its steps applied to the heap through `Heap::transaction` and
/// to a copy of the model; the copy is kept exactly when the runtime commits, and the
/// outcome (commit, invariant error, panic) must be the one the model predicts.
fn transaction(
    heap: &mut Heap,
    model: &mut Model,
    handles: &mut Vec<Option<Handle>>,
    steps: &[Step],
    end: End,
) {
    let before = model.clone();
    let mut next = model.clone();
    let mut created: Vec<Option<Handle>> = Vec::new();
    let mut touched = Touched::default();
    let edges = heap.edges();
    let len = heap.len();
    crate::common::reset();
    let r = catch_unwind(AssertUnwindSafe(|| {
        heap.transaction(|tx| {
            for step in steps {
                apply(tx, &mut next, handles, &mut created, &mut touched, step);
            }
            match end {
                End::Ok => Ok(()),
                End::Err => Err(TxError::Ended),
                End::Panic => panic!("the transaction panics"),
            }
        })
    }));
    let checks = crate::common::count(crate::common::BOUNDED_RUNS);
    assert!(touched.wrong.is_empty(), "{:#?}", touched.wrong);
    // What the runtime must answer: the invariant of every live object, and the `now`
    // value of every written or created one.
    let broken = next.iter().flatten().any(|o| !bounded(&next, o));
    let panics = next.iter().enumerate().any(|(i, o)| {
        o.as_ref().is_some_and(|o| {
            o.a == PANIC_A
                && (Touched::get(&touched.a, i)
                    || Touched::get(&touched.b, i)
                    || Touched::get(&touched.created, i))
        })
    });
    let committed = match (&r, end) {
        (Err(_), End::Panic) => false,
        (Ok(Err(TxError::Ended)), End::Err) => false,
        (Ok(Ok(())), End::Ok) => {
            assert!(
                !broken && !panics,
                "{steps:?}: committed, but the model breaks an invariant or panics"
            );
            true
        }
        (Ok(Err(TxError::Heap(Error::Invariant { .. }))), End::Ok) => {
            assert!(broken, "{steps:?}: refused, but every invariant holds");
            false
        }
        (Err(_), End::Ok) => {
            assert!(panics, "{steps:?}: panicked, but no `now` value panics");
            false
        }
        (r, end) => panic!("{steps:?} ending {end:?}: got {r:?}"),
    };
    if committed {
        // Each invariant is checked at most once per transaction, and exactly when it read
        // something the transaction wrote (if nothing inside read, so that no cache was
        // recomputed in between).
        let expected = next
            .iter()
            .enumerate()
            .filter(|(i, o)| {
                let Some(o) = o else { return false };
                if Touched::get(&touched.created, *i) || Touched::get(&touched.a, *i) {
                    return true;
                }
                let Some(p) = before.get(*i).and_then(Option::as_ref) else {
                    return false;
                };
                let clamp_changed = Touched::get(&touched.b, *i) && p.b.min(10) != o.b.min(10);
                (p.a % 2 != 0 && clamp_changed)
                    || o.refs.iter().any(|&r| {
                        before[r].is_some()
                            && (Touched::get(&touched.b, r) || Touched::get(&touched.removed, r))
                    })
            })
            .count();
        let live = next.iter().flatten().count();
        if touched.read {
            assert!(checks <= live, "{steps:?}: {checks} invariant checks for {live} objects");
        } else {
            assert_eq!(checks, expected, "{steps:?}: invariant checks");
        }
        handles.extend(created);
        for (i, h) in handles.iter_mut().enumerate() {
            if next[i].is_none() {
                *h = None;
            }
        }
        *model = next;
    } else {
        assert_eq!(heap.len(), len, "{steps:?}: a rollback leaves the objects it found");
        assert_eq!(heap.edges(), edges, "{steps:?}: a rollback restores every edge");
        for h in created.iter().flatten() {
            let live = match h {
                Handle::Imm(h) => heap.contains(h),
                Handle::Mutable(h) => heap.contains(h),
                Handle::Capsule(h) => heap.contains(h),
            };
            assert!(!live, "{steps:?}: an object created by a rolled-back transaction lives");
        }
        handles.extend(created.into_iter().map(|_| None));
        model.extend((0..next.len() - model.len()).map(|_| None));
    }
}

/// The handle of model object `i`, created before the transaction or inside it.
fn lookup<'a>(
    handles: &'a [Option<Handle>],
    created: &'a [Option<Handle>],
    i: usize,
) -> Option<&'a Handle> {
    match i.checked_sub(handles.len()) {
        None => handles.get(i).and_then(Option::as_ref),
        Some(j) => created.get(j).and_then(Option::as_ref),
    }
}

/// One step inside a transaction, on the heap and on the model.
fn apply(
    tx: &mut steadfast::Transaction<'_>,
    next: &mut Model,
    handles: &[Option<Handle>],
    created: &mut Vec<Option<Handle>>,
    touched: &mut Touched,
    step: &Step,
) {
    // Whether the step's target is live in the model; a step on an object removed earlier
    // in the transaction must fail with `Removed`, changing nothing.
    let mut expect_live = |r: Result<(), Error>, live: bool| match (r, live) {
        (Ok(()), true) => true,
        (Err(Error::Removed { .. }), false) => false,
        (r, live) => {
            touched.wrong.push(format!("{step:?}: live {live}, got {r:?}"));
            false
        }
    };
    match *step {
        Step::Create {
            tag,
            a,
            b,
            ref refs,
        } => {
            let refs: Vec<usize> = refs
                .iter()
                .copied()
                .filter(|&r| {
                    matches!(
                        next.get(r),
                        Some(Some(M {
                            tag: Tag::Imm | Tag::Mutable,
                            ..
                        }))
                    )
                })
                .collect();
            let value = Obj {
                a,
                b,
                refs: refs
                    .iter()
                    .map(|&r| match lookup(handles, created, r) {
                        Some(Handle::Imm(h)) => Ref::Imm(*h),
                        Some(Handle::Mutable(h)) => Ref::Mutable(h.clone()),
                        _ => unreachable!("filtered to live imm and mut objects"),
                    })
                    .collect(),
            };
            let h = match tag {
                Tag::Imm => tx.imm(value).map(Handle::Imm),
                Tag::Capsule => tx.capsule(value).map(Handle::Capsule),
                Tag::Mutable => tx.mutable(value).map(Handle::Mutable),
            }
            .expect("creation inside a transaction is checked at its end");
            Touched::set(&mut touched.created, next.len());
            next.push(Some(M { tag, a, b, refs }));
            created.push(Some(h));
        }
        Step::SetA { i, v } | Step::SetB { i, v } => {
            let Some(Handle::Mutable(h)) = lookup(handles, created, i) else { return };
            let is_a = matches!(step, Step::SetA { .. });
            let field = if is_a { &Obj::A } else { &Obj::B };
            let r = tx.set(h, field, v).map(drop);
            if expect_live(r, next[i].is_some()) {
                let o = next[i].as_mut().unwrap();
                if is_a {
                    o.a = v;
                    Touched::set(&mut touched.a, i);
                } else {
                    o.b = v;
                    Touched::set(&mut touched.b, i);
                }
            }
        }
        Step::Write { i, a, b } => {
            let Some(Handle::Mutable(h)) = lookup(handles, created, i) else { return };
            let r = tx.write(h, |w| {
                w.set(&Obj::A, a);
                w.set(&Obj::B, b);
            });
            if expect_live(r, next[i].is_some()) {
                let o = next[i].as_mut().unwrap();
                (o.a, o.b) = (a, b);
                Touched::set(&mut touched.a, i);
                Touched::set(&mut touched.b, i);
            }
        }
        Step::Mutate { i, b } => {
            let Some(Handle::Capsule(h)) = lookup(handles, created, i) else { return };
            let r = tx.write(h, |w| {
                w.set(&Obj::B, b);
            });
            if expect_live(r, next[i].is_some()) {
                next[i].as_mut().unwrap().b = b;
                Touched::set(&mut touched.b, i);
            }
        }
        Step::OpenBox { i, a, b } => {
            let Some(Handle::Capsule(h)) = lookup(handles, created, i) else { return };
            let r = tx.open_box(h, |raw| {
                raw.a = a;
                raw.b = b;
            });
            if expect_live(r, next[i].is_some()) {
                let o = next[i].as_mut().unwrap();
                (o.a, o.b) = (a, b);
                Touched::set(&mut touched.a, i);
                Touched::set(&mut touched.b, i);
            }
        }
        Step::Remove { i } => {
            let Some(h) = lookup(handles, created, i) else { return };
            let r = match h {
                Handle::Imm(h) => tx.remove(h),
                Handle::Mutable(h) => tx.remove(h),
                Handle::Capsule(h) => tx.remove(h),
            };
            if expect_live(r, next[i].is_some()) {
                next[i] = None;
                Touched::set(&mut touched.removed, i);
            }
        }
        Step::Read { i } => {
            let Some(h) = lookup(handles, created, i) else { return };
            let (clamp, sum) = match h {
                Handle::Imm(h) => (tx.cached(h, &Obj::CLAMP).copied(), tx.cached(h, &Obj::TOTAL).copied()),
                Handle::Mutable(h) => (tx.cached(h, &Obj::CLAMP).copied(), tx.cached(h, &Obj::TOTAL).copied()),
                Handle::Capsule(h) => (tx.cached(h, &Obj::CLAMP).copied(), tx.cached(h, &Obj::TOTAL).copied()),
            };
            touched.read = true;
            let right = match &next[i] {
                Some(o) => {
                    clamp.as_ref().ok() == Some(&o.b.min(10))
                        && sum.as_ref().ok() == Some(&total(next, o))
                }
                None => matches!(clamp, Err(Error::Removed { .. })),
            };
            if !right {
                let o = &next[i];
                touched
                    .wrong
                    .push(format!("{step:?}: read {clamp:?} {sum:?} of {o:?}"));
            }
        }
    }
}

fn name(v: &Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::Invariant => "an invariant error",
        Verdict::Panic => "a panic",
    }
}

/// G1 and G2 (and G3, since the model did not change on refusal): every cache of every
/// live object equals a fresh computation, and every invariant holds.
///
/// Only the lazy caches whose bit is set in `reads` are read: a cache that is not read
/// stays invalid across later steps, so that barriers meet caches in every state (one they
/// must compute for the first time, say). With bit 8 of `reads`, mutable objects are read
/// through a [`steadfast::ViewMut`].
fn check(heap: &mut Heap, model: &Model, handles: &[Option<Handle>], reads: u8) {
    for (i, (m, h)) in model.iter().zip(handles).enumerate() {
        let (Some(m), Some(h)) = (m, h) else {
            assert!(
                m.is_none() && h.is_none(),
                "object {i}: model and heap disagree on liveness"
            );
            continue;
        };
        // `|c| read` names how to read the cache `c`: through the heap or a view.
        macro_rules! read {
            (|$c:ident| $read:expr, $obj:expr) => {{
                macro_rules! cache {
                    ($cache:expr) => {{
                        let $c = $cache;
                        $read
                    }};
                }
                let obj = $obj;
                assert_eq!((obj.a, obj.b), (m.a, m.b), "object {i}: fields");
                if reads & 1 != 0 {
                    let local_r =
                        catch_unwind(AssertUnwindSafe(|| cache!(&Obj::LOCAL).copied()));
                    match local(m) {
                        Some(v) => assert_eq!(local_r.unwrap().unwrap(), v, "object {i}: local"),
                        None => assert!(local_r.is_err(), "object {i}: local should panic"),
                    }
                }
                if reads & 2 != 0 {
                    assert_eq!(
                        *cache!(&Obj::CLAMP).unwrap(),
                        m.b.min(10),
                        "object {i}: clamp"
                    );
                }
                if reads & 4 != 0 {
                    assert_eq!(
                        *cache!(&Obj::TOTAL).unwrap(),
                        total(model, m),
                        "object {i}: total"
                    );
                }
                assert!(
                    cache!(&Obj::BOUNDED).unwrap().is_ok(),
                    "object {i}: invariant"
                );
                assert!(bounded(model, m), "object {i}: model invariant");
                assert_eq!(
                    *cache!(&Obj::DIFF).unwrap(),
                    m.a - m.b,
                    "object {i}: diff"
                );
            }};
        }
        match h {
            Handle::Imm(h) => read!(|c| heap.cached(h, c), heap.get(h).expect("live")),
            Handle::Capsule(h) => read!(|c| heap.cached(h, c), heap.get(h).expect("live")),
            Handle::Mutable(h) if reads & 8 != 0 => {
                let view = heap.view_mut(h).expect("live");
                read!(|c| view.cached(c), view.get())
            }
            Handle::Mutable(h) => read!(|c| heap.cached(h, c), heap.get(h).expect("live")),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: crate::common::model_cases(2000), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_match_the_model(
        ops in prop::collection::vec((op(), prop_oneof![1 => Just(7u8), 1 => Just(15u8), 1 => 0u8..16]), 1..40)
    ) {
        run(ops);
    }
}

/// A sequence the model test found: a transaction's setter leaves an object's record, and
/// the own-path writes after it must not trust it (`a refreshed cell is valid` failed).
#[test]
fn regression_own_path_after_a_transaction() {
    let create = |tag, b, refs: Vec<usize>| {
        (
            Op::Create {
                tag,
                a: 0,
                b,
                refs,
            },
            7,
        )
    };
    run(vec![
        create(Tag::Mutable, 0, vec![]),
        create(Tag::Imm, 0, vec![]),
        create(Tag::Mutable, 10, vec![]),
        create(Tag::Imm, 0, vec![]),
        create(Tag::Imm, 0, vec![]),
        create(Tag::Imm, 0, vec![]),
        create(Tag::Imm, 0, vec![0, 2]),
        (
            Op::Transaction {
                steps: vec![Step::SetA { i: 0, v: 0 }],
                end: End::Ok,
            },
            0,
        ),
        (
            Op::SetA {
                i: 0,
                v: 61,
                view: false,
            },
            8,
        ),
        (
            Op::SetB {
                i: 2,
                v: 10,
                view: false,
            },
            7,
        ),
    ]);
}
