//! `Memo`: a function memoized over any implementation of an interface by its interaction
//! tree. Every lookup equals a direct run; the function runs once per class of
//! implementations that answer its calls alike; a miss asks each call once; a function that
//! disagrees with its recorded runs is a typed error with nothing recorded.

mod common;

use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use steadfast::{Error, Interface, Memo, Tracked};

/// A choice source: answers `choose(i)` (the i-th call's bound is part of the call) from a
/// table, and counts the calls it is asked.
struct Source {
    table: Vec<u8>,
    asked: AtomicUsize,
}

impl Source {
    fn new(table: &[u8]) -> Self {
        Source {
            table: table.to_vec(),
            asked: AtomicUsize::new(0),
        }
    }
}

impl Interface for Source {
    /// (which draw, how many choices)
    type Call = (u8, u8);
    type Answer = u8;
    type Live<'a> = Source;
    fn answer(live: &Source, &(draw, below): &(u8, u8)) -> u8 {
        live.asked.fetch_add(1, Ordering::Relaxed);
        live.table.get(usize::from(draw)).copied().unwrap_or(0) % below.max(1)
    }
}

thread_local! {
    static RUNS: Cell<usize> = const { Cell::new(0) };
}

fn runs() -> usize {
    RUNS.with(Cell::get)
}

/// Draws until a zero, at most `*limit` times; returns the draws.
fn draws(limit: &u8, t: &Tracked<'_, Source>) -> Vec<u8> {
    RUNS.with(|r| r.set(r.get() + 1));
    let mut out = Vec::new();
    for draw in 0..*limit {
        match t.ask((draw, 10)) {
            0 => break,
            v => out.push(v),
        }
    }
    out
}

#[test]
fn an_equal_implementation_is_a_hit_without_running_the_function() {
    let memo: Memo<u8, Vec<u8>, Source> = Memo::new();
    let before = runs();
    assert_eq!(
        memo.get(&5, &Source::new(&[3, 4, 0, 7]), draws).unwrap(),
        [3, 4]
    );
    // Differs only where the run did not look.
    let other = Source::new(&[3, 4, 0, 1, 1, 1]);
    assert_eq!(memo.get(&5, &other, draws).unwrap(), [3, 4]);
    assert_eq!(runs() - before, 1);
    // The lookup asked the three calls the run made, no more.
    assert_eq!(other.asked.load(Ordering::Relaxed), 3);
    // Another key is another function.
    assert_eq!(memo.get(&1, &other, draws).unwrap(), [3]);
    assert_eq!(runs() - before, 2);
    let s = memo.stats();
    assert_eq!((s.hits, s.misses), (1, 2));
}

#[test]
fn a_miss_resumes_where_the_lookup_stopped_and_asks_each_call_once() {
    let memo: Memo<u8, Vec<u8>, Source> = Memo::new();
    memo.get(&9, &Source::new(&[1, 2, 3, 4, 0]), draws).unwrap();
    // Equal for the first three draws, then another answer: the lookup asked four calls;
    // the run is served those four and asks the rest.
    let other = Source::new(&[1, 2, 3, 5, 6, 0]);
    assert_eq!(memo.get(&9, &other, draws).unwrap(), [1, 2, 3, 5, 6]);
    assert_eq!(other.asked.load(Ordering::Relaxed), 6);
    assert_eq!(memo.stats().resumed_calls, 4);
    // Both paths share their first three calls: one node for them, one per branch.
    assert_eq!(memo.nodes(), 3);
}

/// A function whose calls depend on something besides its answers.
fn flaky(extra: &u8, t: &Tracked<'_, Source>) -> u8 {
    let a = t.ask((0, 10));
    if *extra > 0 && FLAKY.with(Cell::get) {
        t.ask((1, 10))
    } else {
        a
    }
}

thread_local! {
    static FLAKY: Cell<bool> = const { Cell::new(false) };
}

#[test]
fn a_nondeterministic_run_is_a_typed_error_with_its_result_and_nothing_recorded() {
    let memo: Memo<u8, u8, Source> = Memo::new();
    let source = Source::new(&[4, 6]);
    FLAKY.with(|f| f.set(false));
    assert_eq!(memo.get(&1, &source, flaky).unwrap(), 4);
    // The same answers, and now the function asks more: a lookup finds the recorded
    // result without running it...
    FLAKY.with(|f| f.set(true));
    assert_eq!(memo.get(&1, &source, flaky).unwrap(), 4);
    // ...but a run on another answer that then disagrees is caught.
    let other = Source::new(&[5, 6]);
    FLAKY.with(|f| f.set(false));
    assert_eq!(memo.get(&1, &other, flaky).unwrap(), 5);
    memo.clear();
    FLAKY.with(|f| f.set(true));
    assert_eq!(memo.get(&1, &source, flaky).unwrap(), 6);
    FLAKY.with(|f| f.set(false));
    let err = memo.get(&1, &Source::new(&[4, 7]), flaky).unwrap_err();
    assert!(
        matches!(&err, Error::Nondeterministic { depth: 1, expected, found, .. }
            if expected == "(1, 10)" && found == "returned"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "nondeterministic memoized function: after 1 calls a recorded run did `(1, 10)`, \
         this one `returned`"
    );
    assert_eq!(err.into_value::<u8>(), Some(4));
    assert_eq!(memo.stats().nondeterministic, 1);
    // Nothing recorded: the recorded run still answers.
    assert_eq!(memo.get(&1, &source, flaky).unwrap(), 6);
}

#[test]
fn a_panic_records_nothing() {
    let memo: Memo<u8, u8, Source> = Memo::new();
    let source = Source::new(&[1]);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        memo.get(&0, &source, |_, t| {
            t.ask((0, 10));
            panic!("in the function")
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(memo.nodes(), 0);
    assert_eq!(memo.get(&0, &source, |_, t| t.ask((0, 10))).unwrap(), 1);
}

/// An answer whose hash is constant: every answer collides.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Colliding(u8);

impl Hash for Colliding {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u8(0);
    }
}

struct Flat(Vec<u8>);

impl Interface for Flat {
    type Call = u8;
    type Answer = Colliding;
    type Live<'a> = Flat;
    fn answer(live: &Flat, i: &u8) -> Colliding {
        Colliding(live.0[usize::from(*i)])
    }
}

#[test]
fn answers_that_collide_still_give_right_results() {
    let memo: Memo<(), u32, Flat> = Memo::new();
    let f = |_: &(), t: &Tracked<'_, Flat>| (0..3).map(|i| u32::from(t.ask(i).0)).sum::<u32>();
    for table in [[1, 2, 3], [1, 2, 4], [2, 2, 3], [1, 2, 3], [2, 2, 3]] {
        let want: u32 = table.iter().map(|&v| u32::from(v)).sum();
        assert_eq!(memo.get(&(), &Flat(table.to_vec()), f).unwrap(), want);
    }
    assert_eq!((memo.stats().hits, memo.stats().misses), (2, 3));
}

// ------------------------------------------------------------------ against an oracle

/// A tiny deterministic program: its next call depends on its code and the answers so far.
fn program(code: &[u8], t: &Tracked<'_, Source>) -> u64 {
    RUNS.with(|r| r.set(r.get() + 1));
    let mut state = 0u64;
    for &op in code {
        let draw = (state % 6) as u8;
        let answer = t.ask((draw, op % 4 + 1));
        state = state * 7 + u64::from(answer) + u64::from(op);
        if answer == 0 && op % 3 == 0 {
            break;
        }
    }
    state
}

/// The same program, run directly on a table: its calls and its result.
fn direct(code: &[u8], table: &[u8]) -> (Vec<(u8, u8)>, u64) {
    let mut state = 0u64;
    let mut calls = Vec::new();
    for &op in code {
        let draw = (state % 6) as u8;
        let below = op % 4 + 1;
        let answer = table.get(usize::from(draw)).copied().unwrap_or(0) % below;
        calls.push((draw, below, answer));
        state = state * 7 + u64::from(answer) + u64::from(op);
        if answer == 0 && op % 3 == 0 {
            break;
        }
    }
    (
        calls.into_iter().map(|(d, b, a)| (d * 16 + b, a)).collect(),
        state,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::model_cases(200)))]

    /// Every lookup equals a direct run, and the program runs exactly once per
    /// observational class of implementations met (the classes: the paths it takes).
    #[test]
    fn every_lookup_equals_a_direct_run_and_each_class_runs_once(
        code in prop::collection::vec(any::<u8>(), 0..12),
        tables in prop::collection::vec(prop::collection::vec(0..4u8, 6), 1..30),
    ) {
        let memo: Memo<Vec<u8>, u64, Source> = Memo::new();
        let mut classes = std::collections::HashSet::new();
        let before = runs();
        for table in &tables {
            let (path, result) = direct(&code, table);
            classes.insert(path);
            prop_assert_eq!(memo.get(&code, &Source::new(table), |c, t| program(c, t)).unwrap(), result);
        }
        prop_assert_eq!(runs() - before, classes.len());
        prop_assert_eq!(memo.stats().misses as usize, classes.len());
    }
}

// ------------------------------------------------------------------ bounded memory

/// Draws `*n` times, each a call of its own: one node per key.
fn first_draws(n: &u8, t: &Tracked<'_, Source>) -> u32 {
    (0..*n).map(|d| u32::from(t.ask((d, 10)))).sum()
}

/// Nodes and stored calls, counted together: what a budget bounds.
fn weight<K: Clone + Eq + std::hash::Hash, V: Clone + Send + Sync + 'static>(
    memo: &Memo<K, V, Source>,
) -> usize {
    let s = memo.stats();
    s.nodes + s.calls
}

#[test]
fn a_budget_bounds_the_nodes_and_calls_and_evicted_runs_recompute_right() {
    let memo: Memo<u32, u32, Source> = Memo::with_budget(10);
    for i in 0..1_000u32 {
        let table = [(i % 7) as u8, (i % 5) as u8, 1];
        let want = u32::from(table[0]) + u32::from(table[1]) + 1;
        let got = memo.get(&(i % 37), &Source::new(&table), |_, t| first_draws(&3, t));
        assert_eq!(got.unwrap(), want);
        assert!(weight(&memo) <= 10, "{} after run {i}", weight(&memo));
    }
    let s = memo.stats();
    assert!(s.evicted > 0);
    assert_eq!(s.nodes, memo.nodes());
    // A run of three calls weighs four: two keys at most.
    assert!(memo.len() <= 2);
}

#[test]
fn a_run_hit_since_the_hand_passed_outlives_one_off_runs() {
    // One node and one call per key: a budget of eight keeps four keys.
    let memo: Memo<u32, u32, Source> = Memo::with_budget(8);
    let source = Source::new(&[3]);
    let hot = 1_000;
    memo.get(&hot, &source, |_, t| first_draws(&1, t)).unwrap();
    for key in 0..100 {
        memo.get(&key, &source, |_, t| first_draws(&1, t)).unwrap();
        let misses = memo.stats().misses;
        assert_eq!(
            memo.get(&hot, &source, |_, _| unreachable!(
                "the hot run was evicted"
            ))
            .unwrap(),
            3
        );
        assert_eq!(memo.stats().misses, misses);
    }
    assert_eq!(memo.nodes(), 4);
    assert_eq!(memo.stats().evicted, 97);
}

#[test]
fn explicit_eviction_forgets_a_key_or_everything() {
    let memo: Memo<u8, u32, Source> = Memo::new();
    let source = Source::new(&[1, 2, 3]);
    for n in 1..=3 {
        memo.get(&n, &source, first_draws).unwrap();
    }
    assert_eq!((memo.len(), memo.nodes()), (3, 3));
    assert!(memo.evict(&2));
    assert!(!memo.evict(&2));
    assert_eq!((memo.len(), memo.nodes()), (2, 2));
    // Key 1 weighs two (a node, a call), key 3 four: down to four, key 1 goes first.
    assert_eq!(weight(&memo), 6);
    memo.shrink_to(4);
    assert_eq!((memo.len(), memo.nodes(), weight(&memo)), (1, 1, 4));
    assert!(!memo.evict(&1));
    memo.clear();
    assert!(memo.is_empty());
    assert_eq!(memo.nodes(), 0);
    // Still usable, and still counting right.
    assert_eq!(memo.get(&2, &source, first_draws).unwrap(), 3);
    assert_eq!(memo.nodes(), 1);
    assert_eq!(memo.stats().evicted, 1);
}

#[test]
fn a_zero_budget_records_nothing() {
    let memo: Memo<u8, u32, Source> = Memo::with_budget(0);
    let source = Source::new(&[1, 2]);
    for _ in 0..3 {
        assert_eq!(memo.get(&2, &source, first_draws).unwrap(), 3);
    }
    assert_eq!((memo.stats().misses, memo.nodes()), (3, 0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::model_cases(100)))]

    /// Under a small budget every lookup still equals a direct run, and the nodes stay
    /// within the budget.
    #[test]
    fn eviction_under_a_small_budget_stays_correct(
        budget in 0..8usize,
        lookups in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..8), prop::collection::vec(0..4u8, 6)),
            1..60,
        ),
    ) {
        let memo: Memo<Vec<u8>, u64, Source> = Memo::with_budget(budget);
        for (code, table) in &lookups {
            let (_, result) = direct(code, table);
            prop_assert_eq!(memo.get(code, &Source::new(table), |c, t| program(c, t)).unwrap(), result);
            prop_assert!(weight(&memo) <= budget);
        }
    }
}
