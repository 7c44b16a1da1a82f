//! The change feed: an entry per committed operation that changed a watched cache's value,
//! none when a recomputation found an equal value (early cutoff), none after a rollback,
//! none for caches nobody watches; checked by hand and against an oracle on random
//! operations.

mod common;

use proptest::prelude::*;
use steadfast::{cached, capsule, mutable, ChangeKind, Ctx, Error, Heap, Mutable};

#[derive(Debug)]
struct TooBig;

impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("over the limit")
    }
}

impl std::error::Error for TooBig {}

#[mutable]
struct Counter {
    n: i64,
}

#[cached]
impl Counter {
    #[cache(lazy_read)]
    fn sign(n: &i64) -> i64 {
        n.signum()
    }
}

/// Sums counters; its invariant keeps the sum at most 1,000; `tens` is the sum's tens,
/// so that most changes of the sum leave it equal.
#[mutable]
struct Sum {
    of: Vec<Mutable<Counter>>,
}

#[cached]
impl Sum {
    #[cache(lazy_read)]
    fn total(of: &Vec<Mutable<Counter>>, ctx: &Ctx<'_, Self>) -> i64 {
        of.iter()
            .map(|c| ctx.field_of(c, &Counter::N).copied().unwrap_or(0))
            .sum()
    }

    #[cache(lazy_read)]
    fn tens(ctx: &Ctx<'_, Self>) -> i64 {
        ctx.own(&Sum::TOTAL).copied().unwrap_or(0) / 10
    }

    #[cache(now)]
    fn bounded(ctx: &Ctx<'_, Self>) -> Result<(), TooBig> {
        match ctx.own(&Sum::TOTAL) {
            Ok(&t) if t > 1_000 => Err(TooBig),
            _ => Ok(()),
        }
    }
}

fn setup(heap: &mut Heap) -> (Vec<Mutable<Counter>>, Mutable<Sum>) {
    let counters: Vec<_> = (0..3)
        .map(|i| heap.mutable(Counter { n: i }).unwrap())
        .collect();
    let sum = heap
        .mutable(Sum {
            of: counters.clone(),
        })
        .unwrap();
    (counters, sum)
}

#[test]
fn a_change_is_reported_once_and_an_equal_value_is_no_change() {
    let mut heap = Heap::new();
    let (counters, sum) = setup(&mut heap);
    let total = heap.watch(&sum, &Sum::TOTAL).unwrap();
    let tens = heap.watch(&sum, &Sum::TENS).unwrap();
    assert!(heap.take_changes().is_empty());
    // 3 -> 4: the total changes, its tens do not.
    Counter::set_n(&mut heap, &counters[0], 1).unwrap();
    assert_eq!(heap.take_changes(), vec![(total, ChangeKind::Changed)]);
    // 4 -> 14: both.
    Counter::set_n(&mut heap, &counters[1], 11).unwrap();
    let changes = heap.take_changes();
    assert_eq!(changes.len(), 2);
    assert!(changes.contains(&(total, ChangeKind::Changed)));
    assert!(changes.contains(&(tens, ChangeKind::Changed)));
    // Written to the value it had: nothing changed.
    Counter::set_n(&mut heap, &counters[1], 11).unwrap();
    assert!(heap.take_changes().is_empty());
    // Entries accumulate, one per operation, until taken.
    Counter::set_n(&mut heap, &counters[2], 3).unwrap();
    Counter::set_n(&mut heap, &counters[2], 4).unwrap();
    assert_eq!(
        heap.take_changes(),
        vec![(total, ChangeKind::Changed), (total, ChangeKind::Changed)]
    );
    assert_eq!(total.cache(), "total");
    assert_eq!(total.object(), sum.id());
    assert!(total.to_string().starts_with("Sum::total of #"));
}

#[test]
fn a_rolled_back_operation_leaves_nothing() {
    let mut heap = Heap::new();
    let (counters, sum) = setup(&mut heap);
    heap.watch(&sum, &Sum::TOTAL).unwrap();
    let refused = Counter::set_n(&mut heap, &counters[0], 5_000);
    assert!(matches!(refused, Err(Error::Invariant { .. })));
    assert!(heap.take_changes().is_empty());
    let refused = heap.transaction(|tx| {
        Counter::set_n(tx, &counters[0], 7)?;
        Counter::set_n(tx, &counters[1], 5_000)
    });
    assert!(refused.is_err());
    assert!(heap.take_changes().is_empty());
    assert_eq!(*Sum::total(&heap, &sum).unwrap(), 3);
}

#[test]
fn a_transaction_is_one_operation() {
    let mut heap = Heap::new();
    let (counters, sum) = setup(&mut heap);
    let total = heap.watch(&sum, &Sum::TOTAL).unwrap();
    heap.transaction(|tx| {
        for (i, c) in counters.iter().enumerate() {
            Counter::set_n(tx, c, 10 * i as i64)?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(heap.take_changes(), vec![(total, ChangeKind::Changed)]);
}

#[test]
fn unwatched_caches_leave_nothing_and_unwatch_ends_a_watch() {
    let mut heap = Heap::new();
    let (counters, sum) = setup(&mut heap);
    Sum::total(&heap, &sum).unwrap();
    Counter::sign(&heap, &counters[0]).unwrap();
    Counter::set_n(&mut heap, &counters[0], -4).unwrap();
    assert!(heap.take_changes().is_empty());
    let w = heap.watch(&sum, &Sum::TOTAL).unwrap();
    assert_eq!(heap.watch(&sum, &Sum::TOTAL).unwrap(), w);
    assert!(heap.unwatch(&w));
    assert!(!heap.unwatch(&w));
    Counter::set_n(&mut heap, &counters[0], 9).unwrap();
    assert!(heap.take_changes().is_empty());
    assert_eq!(*Sum::total(&heap, &sum).unwrap(), 12);
}

#[test]
fn a_removal_ends_the_watch_with_an_entry() {
    let mut heap = Heap::new();
    let (counters, sum) = setup(&mut heap);
    let w = heap.watch(&counters[2], &Counter::SIGN).unwrap();
    let total = heap.watch(&sum, &Sum::TOTAL).unwrap();
    heap.remove(&counters[2]).unwrap();
    let changes = heap.take_changes();
    assert!(changes.contains(&(w, ChangeKind::Removed)), "{changes:?}");
    // The sum read it: 3 -> 1.
    assert!(
        changes.contains(&(total, ChangeKind::Changed)),
        "{changes:?}"
    );
    assert!(!heap.unwatch(&w));
}

#[capsule]
struct Gauge {
    level: i32,
}

#[cached]
impl Gauge {
    #[cache(lazy_read)]
    fn high(level: &i32) -> bool {
        *level > 10
    }
}

#[test]
fn a_cache_its_object_settles_alone_is_watched_too() {
    let mut heap = Heap::new();
    let g = heap.capsule(Gauge { level: 1 }).unwrap();
    let w = heap.watch(&g, &Gauge::HIGH).unwrap();
    Gauge::set_level(&mut heap, &g, 5).unwrap();
    assert!(heap.take_changes().is_empty());
    Gauge::set_level(&mut heap, &g, 50).unwrap();
    assert_eq!(heap.take_changes(), vec![(w, ChangeKind::Changed)]);
    heap.open_box(&g, |g| g.level = 0).unwrap();
    assert_eq!(heap.take_changes(), vec![(w, ChangeKind::Changed)]);
}

#[mutable]
struct Faulty {
    n: i64,
}

#[cached]
impl Faulty {
    #[cache(lazy_read)]
    fn checked(n: &i64) -> i64 {
        assert!(*n >= 0, "negative");
        *n
    }
}

#[test]
fn a_watched_cache_that_fails_vetoes_nothing_and_is_news() {
    let mut heap = Heap::new();
    let f = heap.mutable(Faulty { n: 1 }).unwrap();
    let w = heap.watch(&f, &Faulty::CHECKED).unwrap();
    Faulty::set_n(&mut heap, &f, -1).unwrap();
    assert_eq!(heap[&f].n, -1);
    assert_eq!(heap.take_changes(), vec![(w, ChangeKind::Changed)]);
    let read = std::panic::catch_unwind(|| Faulty::checked(&heap, &f).copied());
    assert!(read.is_err());
}

// ------------------------------------------------------------------ against an oracle

#[derive(Clone, Debug)]
enum Op {
    Set(usize, i64),
    Pair(usize, i64, usize, i64),
    Watch(u8),
    Unwatch(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, -20..600i64).prop_map(|(i, v)| Op::Set(i, v)),
        2 => (0..3usize, -20..600i64, 0..3usize, -20..600i64)
            .prop_map(|(i, v, j, w)| Op::Pair(i, v, j, w)),
        1 => (0..3u8).prop_map(Op::Watch),
        1 => (0..3u8).prop_map(Op::Unwatch),
    ]
}

/// The watchable caches, computed from the counters' values.
fn values(n: &[i64; 3]) -> [i64; 3] {
    let total: i64 = n.iter().sum();
    [total, total / 10, n[0].signum()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::model_cases(200)))]

    #[test]
    fn the_feed_lists_exactly_the_watched_values_each_operation_changed(
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let mut heap = Heap::new();
        let (counters, sum) = setup(&mut heap);
        let mut model = [0i64, 1, 2];
        let mut watches: [Option<steadfast::Watch>; 3] = [None; 3];
        for op in ops {
            let before = values(&model);
            let mut next = model;
            let committed = match op {
                Op::Watch(k) => {
                    let w = match k {
                        0 => heap.watch(&sum, &Sum::TOTAL),
                        1 => heap.watch(&sum, &Sum::TENS),
                        _ => heap.watch(&counters[0], &Counter::SIGN),
                    };
                    watches[k as usize] = Some(w.unwrap());
                    true
                }
                Op::Unwatch(k) => {
                    if let Some(w) = watches[k as usize].take() {
                        prop_assert!(heap.unwatch(&w));
                    }
                    true
                }
                Op::Set(i, v) => {
                    next[i] = v;
                    let ok = Counter::set_n(&mut heap, &counters[i], v).is_ok();
                    prop_assert_eq!(ok, values(&next)[0] <= 1_000);
                    ok
                }
                Op::Pair(i, v, j, w) => {
                    next[i] = v;
                    next[j] = w;
                    let ok = heap
                        .transaction(|tx| {
                            Counter::set_n(tx, &counters[i], v)?;
                            Counter::set_n(tx, &counters[j], w)
                        })
                        .is_ok();
                    prop_assert_eq!(ok, values(&next)[0] <= 1_000);
                    ok
                }
            };
            if committed {
                model = next;
            }
            let after = values(&model);
            let mut expected: Vec<steadfast::Watch> = (0..3)
                .filter(|&k| before[k] != after[k])
                .filter_map(|k| watches[k])
                .collect();
            let mut got: Vec<steadfast::Watch> = heap
                .take_changes()
                .into_iter()
                .map(|(w, kind)| {
                    assert_eq!(kind, ChangeKind::Changed);
                    w
                })
                .collect();
            let key = |w: &steadfast::Watch| w.to_string();
            expected.sort_by_key(key);
            got.sort_by_key(key);
            prop_assert_eq!(got, expected, "after {:?}", op);
            // Watched or not, every cache reads right.
            prop_assert_eq!(*Sum::total(&heap, &sum).unwrap(), after[0]);
            prop_assert_eq!(*Sum::tens(&heap, &sum).unwrap(), after[1]);
            prop_assert_eq!(*Counter::sign(&heap, &counters[0]).unwrap(), after[2]);
        }
    }
}

#[test]
fn watching_a_removed_or_foreign_object_is_an_error() {
    let mut heap = Heap::new();
    let (counters, _sum) = setup(&mut heap);
    let mut other = Heap::new();
    assert!(matches!(
        other.watch(&counters[0], &Counter::SIGN),
        Err(Error::ForeignHandle { .. })
    ));
    heap.remove(&counters[2]).unwrap();
    assert!(matches!(
        heap.watch(&counters[2], &Counter::SIGN),
        Err(Error::Removed { .. })
    ));
    assert!(heap.take_changes().is_empty());
    // Another heap's watch is not this heap's, whatever its key.
    let (theirs, _) = setup(&mut other);
    let ours = heap.watch(&counters[0], &Counter::SIGN).unwrap();
    let w = other.watch(&theirs[0], &Counter::SIGN).unwrap();
    assert_eq!(w.object().as_u64(), ours.object().as_u64(), "the same key");
    assert!(!heap.unwatch(&w));
    assert!(heap.unwatch(&ours));
    assert!(other.unwatch(&w));
}
