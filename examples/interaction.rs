//! A property-based test's function, memoized by its interaction tree (the idea behind
//! Hypothesis's `DataTree`): the test draws choices from a source, and what it draws next
//! depends only on the choices so far. Run against many sources, it runs once per distinct
//! sequence of choices it actually looks at; every other source is a hit, found by
//! replaying the recorded draws against it.
//!
//! `cargo run --example interaction`

use std::sync::atomic::{AtomicUsize, Ordering};

use steadfast::{Error, Memo, Tracked};

/// Where a test draws its choices from. An interface answers a call alike each time it is
/// asked, so a draw names its position: the `at`-th choice, below `bound`.
#[steadfast::interface]
pub trait Choices: Send + Sync {
    /// Choice number `at`, below `bound`.
    fn draw(&self, at: u32, bound: u32) -> u32;
}

/// A source of choices: a buffer, as a shrinker or a fuzzer would hand one to the test.
struct Buffer {
    bytes: Vec<u8>,
    /// Draws asked of this buffer.
    asked: AtomicUsize,
}

impl Buffer {
    fn new(bytes: &[u8]) -> Self {
        Buffer {
            bytes: bytes.to_vec(),
            asked: AtomicUsize::new(0),
        }
    }
}

impl Choices for Buffer {
    fn draw(&self, at: u32, bound: u32) -> u32 {
        self.asked.fetch_add(1, Ordering::Relaxed);
        u32::from(self.bytes.get(at as usize).copied().unwrap_or(0)) % bound
    }
}

/// Draws choices in turn.
struct Draws<'a> {
    source: &'a dyn Choices,
    next: u32,
}

impl Draws<'_> {
    fn draw(&mut self, bound: u32) -> u32 {
        self.next += 1;
        self.source.draw(self.next - 1, bound)
    }
}

/// What the test concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Passed,
    /// The property failed on these values.
    Failed(Vec<u32>),
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// The test: draws a list (a length below 4, then that many values below 10) and checks
/// that its sum stays below 20.
fn sum_stays_small(source: &dyn Choices) -> Outcome {
    RUNS.fetch_add(1, Ordering::Relaxed);
    let mut choices = Draws { source, next: 0 };
    let len = choices.draw(4);
    let values: Vec<u32> = (0..len).map(|_| choices.draw(10)).collect();
    if values.iter().sum::<u32>() < 20 {
        Outcome::Passed
    } else {
        Outcome::Failed(values)
    }
}

fn main() -> Result<(), Error> {
    let memo: Memo<&str, Outcome, dyn Choices> = Memo::new();
    let test = |_: &&str, choices: &Tracked<'_, dyn Choices>| sum_stays_small(choices);

    // 1. Many sources: the test runs once per distinct sequence of draws it looks at.
    // Buffers that differ only past what the test draws are the same to it.
    let mut failures = 0;
    let sources = 2_000u32;
    for i in 0..sources {
        let bytes: Vec<u8> = (0..8)
            .map(|k| (i.wrapping_mul(2_654_435_761) >> (k * 3)) as u8)
            .collect();
        if let Outcome::Failed(_) = memo.get(&"sum", &Buffer::new(&bytes), test)? {
            failures += 1;
        }
    }
    let s = memo.stats();
    println!(
        "{sources} sources: the test ran {} times, {} lookups were hits; {failures} failed",
        RUNS.load(Ordering::Relaxed),
        s.hits
    );
    println!(
        "the tree holds {} nodes for {} recorded runs (prefixes are shared, and runs \
         that never branch are one node)",
        memo.nodes(),
        s.misses
    );
    assert_eq!(s.hits + s.misses, u64::from(sources));
    assert!(s.hits > s.misses, "most sources repeat a recorded run");

    // 2. A hit: a buffer equal to a recorded one on what the test drew, different after.
    // (A key of its own, so that what is recorded is only what this part records.)
    memo.get(&"part 2", &Buffer::new(&[3, 3, 4, 1, 99, 99]), test)?;
    let before = RUNS.load(Ordering::Relaxed);
    let again = Buffer::new(&[3, 3, 4, 1, 7, 7]);
    assert_eq!(memo.get(&"part 2", &again, test)?, Outcome::Passed);
    assert_eq!(RUNS.load(Ordering::Relaxed), before);
    println!(
        "a buffer equal on the {} draws the test made: a hit, the test not run",
        again.asked.load(Ordering::Relaxed)
    );

    // 3. A resumed miss: equal for three draws, then another value. The lookup drew four
    // choices before it left the tree; the run is served those four, so each draw happens
    // once.
    let resumed = memo.stats().resumed_calls;
    let miss = Buffer::new(&[3, 3, 4, 9]);
    assert_eq!(memo.get(&"part 2", &miss, test)?, Outcome::Passed);
    println!(
        "a miss after {} served draws: the buffer was asked {} draws in all, each once",
        memo.stats().resumed_calls - resumed,
        miss.asked.load(Ordering::Relaxed)
    );
    assert_eq!(RUNS.load(Ordering::Relaxed), before + 1);
    assert_eq!(miss.asked.load(Ordering::Relaxed), 4);

    // 4. A test that is not deterministic: the bound of its second draw depends on a
    // counter, not only on the first choice. The memo says where and what differed, and
    // hands back the run's result; nothing is recorded.
    let flaky: Memo<&str, u32, dyn Choices> = Memo::new();
    let calls = AtomicUsize::new(0);
    let unstable = |_: &&str, choices: &Tracked<'_, dyn Choices>| {
        let first = choices.draw(0, 10);
        let bound = if calls.fetch_add(1, Ordering::Relaxed) == 0 {
            4
        } else {
            10
        };
        first + choices.draw(1, bound)
    };
    flaky.get(&"unstable", &Buffer::new(&[0, 1]), unstable)?;
    let nodes = flaky.nodes();
    match flaky.get(&"unstable", &Buffer::new(&[0, 2]), unstable) {
        Err(e @ Error::Nondeterministic { .. }) => {
            println!("a nondeterministic test: {e}");
            assert!(
                e.into_value::<u32>().is_some(),
                "the run's result is handed back"
            );
        }
        other => panic!("expected nondeterminism, got {other:?}"),
    }
    assert_eq!(flaky.nodes(), nodes);
    Ok(())
}
