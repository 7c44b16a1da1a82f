//! The derive's output: hygiene (no reliance on the prelude or on the user's names),
//! visibility, field-level invalidation, and a model-based test over derived types.

mod common;

mod hygiene {
    #![no_implicit_prelude]

    // Names the generated code must not pick up.
    #[allow(dead_code)]
    type Result<T> = ::std::result::Result<T, ()>;
    #[allow(dead_code)]
    struct Error;
    #[allow(dead_code)]
    struct Option;
    #[allow(dead_code)]
    struct Some;

    #[::steadfast::capsule]
    pub(crate) struct Tally {
        #[capsule]
        pub(crate) items: ::std::vec::Vec<u32>,
        pub(crate) cap: u32,
    }

    #[derive(Debug)]
    pub(crate) struct Over;

    impl ::std::fmt::Display for Over {
        fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
            f.write_str("over the cap")
        }
    }

    impl ::std::error::Error for Over {}

    #[::steadfast::cached]
    impl Tally {
        /// The sum.
        #[cache(lazy_read)]
        pub(crate) fn total(items: &::std::vec::Vec<u32>) -> u32 {
            ::std::iter::Iterator::sum(items.iter())
        }

        #[cache(now)]
        pub(crate) fn within(
            items: &::std::vec::Vec<u32>,
            cap: &u32,
        ) -> ::std::result::Result<(), Over> {
            if ::std::iter::Iterator::sum::<u32>(items.iter()) > *cap {
                ::std::result::Result::Err(Over)
            } else {
                ::std::result::Result::Ok(())
            }
        }

        #[cache(clear)]
        pub(crate) fn add(items: &mut ::std::vec::Vec<u32>, n: u32) {
            items.push(n);
        }
    }
}

use hygiene::Tally;
use proptest::prelude::*;
use steadfast::{cached, mutable, Error, Heap};

#[test]
fn generated_code_is_hygienic_and_keeps_visibility() {
    let mut heap = Heap::new();
    let t = heap
        .capsule(Tally {
            items: vec![1, 2],
            cap: 10,
        })
        .unwrap();
    assert_eq!(*Tally::total(&heap, &t).unwrap(), 3);
    Tally::add(&mut heap, &t, 4).unwrap();
    assert_eq!(*Tally::total(&heap, &t).unwrap(), 7);
    let err = Tally::add(&mut heap, &t, 4).unwrap_err();
    assert!(matches!(err, Error::Invariant { .. }), "{err}");
    assert_eq!(heap[&t].items(), &vec![1, 2, 4]);
    assert_eq!(*Tally::total(&heap, &t).unwrap(), 7);
    Tally::set_cap(&mut heap, &t, 20).unwrap();
    Tally::add(&mut heap, &t, 4).unwrap();
    assert_eq!(*Tally::total(&heap, &t).unwrap(), 11);
}

thread_local! {
    static RUNS: std::cell::Cell<[u32; 2]> = const { std::cell::Cell::new([0; 2]) };
}

fn count(i: usize) {
    RUNS.with(|r| {
        let mut v = r.get();
        v[i] += 1;
        r.set(v);
    });
}

fn runs() -> [u32; 2] {
    RUNS.with(|r| r.get())
}

#[mutable]
#[derive(Clone, Debug)]
struct Pair {
    a: i64,
    b: i64,
    note: String,
}

#[cached]
impl Pair {
    #[cache(lazy_read)]
    fn sum(a: &i64, b: &i64) -> i64 {
        count(0);
        a + b
    }

    #[cache(lazy_read)]
    fn twice_b(b: &i64) -> i64 {
        count(1);
        b * 2
    }
}

#[test]
fn derived_masks_are_field_level() {
    let mut heap = Heap::new();
    let p = heap
        .mutable(Pair {
            a: 1,
            b: 2,
            note: String::new(),
        })
        .unwrap();
    assert_eq!(
        (
            *Pair::sum(&heap, &p).unwrap(),
            *Pair::twice_b(&heap, &p).unwrap()
        ),
        (3, 4)
    );
    let before = runs();
    Pair::set_note(&mut heap, &p, "x".into()).unwrap();
    Pair::sum(&heap, &p).unwrap();
    Pair::twice_b(&heap, &p).unwrap();
    assert_eq!(
        runs(),
        before,
        "a write to an unread field recomputes nothing"
    );
    Pair::set_a(&mut heap, &p, 10).unwrap();
    assert_eq!(*Pair::sum(&heap, &p).unwrap(), 12);
    assert_eq!(*Pair::twice_b(&heap, &p).unwrap(), 4);
    assert_eq!(
        runs(),
        [before[0] + 1, before[1]],
        "only the cache that reads `a`"
    );
}

#[derive(Clone, Debug)]
enum Op {
    SetA(i64),
    SetB(i64),
    SetNote(u8),
    ReadSum,
    ReadTwiceB,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (-50i64..50).prop_map(Op::SetA),
        (-50i64..50).prop_map(Op::SetB),
        any::<u8>().prop_map(Op::SetNote),
        Just(Op::ReadSum),
        Just(Op::ReadTwiceB),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        common::model_cases(1000)
    ))]

    /// Random writes and reads on a derived type, against a model that recomputes on every read.
    #[test]
    fn derived_caches_match_a_recompute_everything_model(ops in prop::collection::vec(op(), 1..40)) {
        let mut heap = Heap::new();
        let mut model = Pair { a: 0, b: 0, note: String::new() };
        let p = heap.mutable(model.clone()).unwrap();
        for op in ops {
            match op {
                Op::SetA(v) => { Pair::set_a(&mut heap, &p, v).unwrap(); model.a = v; }
                Op::SetB(v) => { Pair::set_b(&mut heap, &p, v).unwrap(); model.b = v; }
                Op::SetNote(c) => {
                    let note = char::from(c).to_string();
                    Pair::set_note(&mut heap, &p, note.clone()).unwrap();
                    model.note = note;
                }
                Op::ReadSum => prop_assert_eq!(*Pair::sum(&heap, &p).unwrap(), model.a + model.b),
                Op::ReadTwiceB => prop_assert_eq!(*Pair::twice_b(&heap, &p).unwrap(), model.b * 2),
            }
            prop_assert_eq!(heap[&p].a(), &model.a);
            prop_assert_eq!(heap[&p].b(), &model.b);
        }
    }
}

#[mutable]
#[derive(Clone, Debug)]
struct Leaf {
    v: i64,
}

#[cached]
impl Leaf {}

#[mutable]
#[derive(Clone, Debug)]
struct Watch {
    leaf: steadfast::Mutable<Leaf>,
    scale: i64,
}

#[cached]
impl Watch {
    /// Reads another object through `ctx`: tracked at run time.
    #[cache(lazy_read)]
    fn scaled(leaf: &steadfast::Mutable<Leaf>, scale: &i64, ctx: &steadfast::Ctx<'_, Self>) -> i64 {
        ctx.field_of(leaf, &Leaf::V).map_or(0, |v| v * scale)
    }
}

#[test]
fn a_ctx_parameter_tracks_reads_of_other_objects() {
    let mut heap = Heap::new();
    let leaf = heap.mutable(Leaf { v: 2 }).unwrap();
    let w = heap
        .mutable(Watch {
            leaf: leaf.clone(),
            scale: 3,
        })
        .unwrap();
    assert_eq!(*Watch::scaled(&heap, &w).unwrap(), 6);
    Leaf::set_v(&mut heap, &leaf, 5).unwrap();
    assert_eq!(*Watch::scaled(&heap, &w).unwrap(), 15);
    Watch::set_scale(&mut heap, &w, 10).unwrap();
    assert_eq!(*Watch::scaled(&heap, &w).unwrap(), 50);
}

/// The most cached methods a type may have (one more is a compile error, see
/// `tests/ui/too_many_caches.rs`).
#[mutable]
#[derive(Clone)]
struct Wide {
    x: u32,
}

#[cached]
impl Wide {
    #[cache(lazy_read)]
    fn m0(x: &u32) -> u32 {
        *x
    }

    #[cache(lazy_read)]
    fn m1(x: &u32) -> u32 {
        x + 1
    }

    #[cache(lazy_read)]
    fn m2(x: &u32) -> u32 {
        x + 2
    }

    #[cache(lazy_read)]
    fn m3(x: &u32) -> u32 {
        x + 3
    }

    #[cache(lazy_read)]
    fn m4(x: &u32) -> u32 {
        x + 4
    }

    #[cache(lazy_read)]
    fn m5(x: &u32) -> u32 {
        x + 5
    }

    #[cache(lazy_read)]
    fn m6(x: &u32) -> u32 {
        x + 6
    }

    #[cache(lazy_read)]
    fn m7(x: &u32) -> u32 {
        x + 7
    }

    #[cache(lazy_read)]
    fn m8(x: &u32) -> u32 {
        x + 8
    }

    #[cache(lazy_read)]
    fn m9(x: &u32) -> u32 {
        x + 9
    }

    #[cache(lazy_read)]
    fn m10(x: &u32) -> u32 {
        x + 10
    }

    #[cache(lazy_read)]
    fn m11(x: &u32) -> u32 {
        x + 11
    }

    #[cache(lazy_read)]
    fn m12(x: &u32) -> u32 {
        x + 12
    }

    #[cache(lazy_read)]
    fn m13(x: &u32) -> u32 {
        x + 13
    }

    #[cache(lazy_read)]
    fn m14(x: &u32) -> u32 {
        x + 14
    }

    #[cache(lazy_read)]
    fn m15(x: &u32) -> u32 {
        x + 15
    }
}

#[test]
fn a_type_may_have_sixteen_caches() {
    let mut heap = Heap::new();
    let w = heap.mutable(Wide { x: 1 }).unwrap();
    assert_eq!(*Wide::m0(&heap, &w).unwrap(), 1);
    assert_eq!(*Wide::m15(&heap, &w).unwrap(), 16);
    Wide::set_x(&mut heap, &w, 10).unwrap();
    assert_eq!(*Wide::m15(&heap, &w).unwrap(), 25);
}

/// Fields and caches named with raw identifiers (keywords).
#[steadfast::mutable]
struct Keyworded {
    r#type: u32,
    r#match: u32,
}

#[steadfast::cached]
impl Keyworded {
    #[cache(lazy_read)]
    fn r#fn(r#type: &u32, r#match: &u32) -> u32 {
        r#type * 10 + r#match
    }
}

#[test]
fn raw_identifiers_name_fields_and_caches() {
    let mut heap = Heap::new();
    let k = heap
        .mutable(Keyworded {
            r#type: 1,
            r#match: 2,
        })
        .unwrap();
    assert_eq!(*Keyworded::r#fn(&heap, &k).unwrap(), 12);
    Keyworded::set_type(&mut heap, &k, 3).unwrap();
    heap.set(&k, &Keyworded::MATCH, 4).unwrap();
    assert_eq!(*heap.cached(&k, &Keyworded::FN).unwrap(), 34);
    assert_eq!(<Keyworded as steadfast::Object>::FIELDS, ["type", "match"]);
}
