//! Model checks, under `--cfg loom`, of a `Memo` looked up from two threads at once: the
//! walks run without a tree-wide lock while the other thread's insertion splits the run
//! they walk or adds a branch to a fork, and every lookup must still equal a direct run,
//! with both paths recorded at the end.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_memo`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use steadfast::{Interface, Memo, Tracked};

/// Answers call `i` with the table's `i`-th value.
struct Table([u8; 3]);

impl Interface for Table {
    type Call = u8;
    type Answer = u8;
    type Live<'a> = Table;
    fn answer(live: &Table, i: &u8) -> u8 {
        live.0[usize::from(*i)]
    }
}

/// Asks the three calls in turn and sums the answers.
fn sum(_: &(), t: &Tracked<'_, Table>) -> u32 {
    (0..3).map(|i| u32::from(t.ask(i))).sum()
}

fn check(first: [u8; 3], second: [u8; 3]) {
    loom::model(move || {
        let memo: Arc<Memo<(), u32, Table>> = Arc::new(Memo::new());
        // A recorded run, so that both threads walk it while the other may split it.
        memo.get(&(), &Table([1, 1, 1]), sum).unwrap();
        let other = Arc::clone(&memo);
        let t = thread::spawn(move || other.get(&(), &Table(first), sum).unwrap());
        let mine = memo.get(&(), &Table(second), sum).unwrap();
        let theirs = t.join().unwrap();
        let want = |t: [u8; 3]| t.iter().map(|&v| u32::from(v)).sum::<u32>();
        assert_eq!((theirs, mine), (want(first), want(second)));
        // Both recorded: a lookup of either asks no function.
        let hits = memo.stats().hits;
        for t in [first, second, [1, 1, 1]] {
            assert_eq!(
                memo.get(&(), &Table(t), |_, _| unreachable!()).unwrap(),
                want(t)
            );
        }
        assert_eq!(memo.stats().hits, hits + 3);
    });
}

#[test]
fn two_threads_split_the_same_run_at_different_calls() {
    check([1, 2, 1], [2, 1, 1]);
}

#[test]
fn two_threads_add_branches_to_the_same_fork() {
    check([1, 2, 1], [1, 3, 1]);
}

#[test]
fn two_threads_record_the_same_path() {
    check([1, 2, 1], [1, 2, 1]);
}

/// A lookup walks a path while another thread's insertion, over the budget, evicts it:
/// both results stay right, and the budget holds at the end.
#[test]
fn a_lookup_races_the_eviction_of_its_path() {
    loom::model(|| {
        // The recorded run weighs four (a node, three calls); a second branch adds three
        // (two nodes, a call) and evicts a leaf to get back under six.
        let memo: Arc<Memo<(), u32, Table>> = Arc::new(Memo::with_budget(6));
        memo.get(&(), &Table([1, 1, 1]), sum).unwrap();
        let other = Arc::clone(&memo);
        let t = thread::spawn(move || other.get(&(), &Table([1, 2, 1]), sum).unwrap());
        let mine = memo.get(&(), &Table([1, 1, 1]), sum).unwrap();
        assert_eq!((t.join().unwrap(), mine), (4, 3));
        let s = memo.stats();
        assert!(s.nodes + s.calls <= 6);
    });
}

#[test]
fn two_threads_add_results_to_the_same_fork_table() {
    // Runs that part at their last call: each is a result held in the fork's table.
    check([1, 1, 2], [1, 1, 3]);
}

/// A hit on a result held in a fork's table races an insertion into the same table whose
/// eviction may pick that result: both results stay right, and the budget holds.
#[test]
fn a_hit_in_a_fork_table_races_its_eviction() {
    loom::model(|| {
        let memo: Arc<Memo<(), u32, Table>> = Arc::new(Memo::with_budget(usize::MAX));
        memo.get(&(), &Table([1, 1, 2]), sum).unwrap();
        memo.get(&(), &Table([1, 1, 1]), sum).unwrap();
        // Marked, so that the eviction's hand passes it and comes to `[1, 1, 1]`, which is
        // evicted unless the racing hit marks it first.
        memo.get(&(), &Table([1, 1, 2]), sum).unwrap();
        let full = memo.stats().nodes + memo.stats().calls;
        let other = Arc::clone(&memo);
        let t = thread::spawn(move || {
            let v = other.get(&(), &Table([1, 1, 3]), sum).unwrap();
            other.shrink_to(full);
            v
        });
        let mine = memo.get(&(), &Table([1, 1, 1]), sum).unwrap();
        assert_eq!((t.join().unwrap(), mine), (5, 3));
        // The lookup may have missed (its result evicted first) and recorded it again.
        memo.shrink_to(full);
        let s = memo.stats();
        assert!(s.nodes + s.calls <= full);
        assert!(s.evicted >= 1);
        for (t, want) in [([1, 1, 1], 3), ([1, 1, 2], 4), ([1, 1, 3], 5)] {
            assert_eq!(memo.get(&(), &Table(t), sum).unwrap(), want);
        }
    });
}
