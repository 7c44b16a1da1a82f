//! `&mut` parameters of interface methods: what a call did to its argument is recorded with
//! its answer and replayed when the answer is served from a record, so a memoized function
//! whose interface writes into a `String` or a `fmt::Formatter` gives what a fresh run
//! gives, and each call is asked once per lookup-and-run.

mod common;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use std::sync::Arc;

use steadfast::{Memo, State};

#[steadfast::interface]
trait Render: Send + Sync {
    /// Appends a drawing of `scale` to `out`; whether it drew anything.
    fn render(&self, out: &mut String, scale: u32) -> bool;
}

/// Draws `scale` copies of its glyph, or nothing past `limit`; counts the calls it answers.
struct Glyphs {
    glyph: char,
    limit: u32,
    asked: AtomicUsize,
}

impl Glyphs {
    fn new(glyph: char, limit: u32) -> Self {
        Glyphs {
            glyph,
            limit,
            asked: AtomicUsize::new(0),
        }
    }

    fn asked(&self) -> usize {
        self.asked.load(Ordering::Relaxed)
    }
}

impl Render for Glyphs {
    fn render(&self, out: &mut String, scale: u32) -> bool {
        self.asked.fetch_add(1, Ordering::Relaxed);
        if scale > self.limit {
            return false;
        }
        out.extend(std::iter::repeat_n(self.glyph, scale as usize));
        true
    }
}

/// Draws at scales 1, 2, 1 (a repeat) and, if those all drew, 3.
fn picture(r: &dyn Render) -> String {
    let mut out = String::from("<");
    let all = [1, 2, 1].into_iter().all(|s| r.render(&mut out, s));
    if all {
        r.render(&mut out, 3);
    }
    out.push('>');
    out
}

#[test]
fn a_run_a_hit_and_a_resumed_miss_write_what_a_fresh_run_writes() {
    let memo: Memo<(), String, dyn Render> = Memo::new();
    // A run: a repeated call is answered from the record, its appended text replayed.
    let first = Glyphs::new('#', 9);
    let got = memo.get(&(), &first, |_, r| picture(r)).unwrap();
    assert_eq!(got, "<#######>");
    assert_eq!(got, picture(&Glyphs::new('#', 9)));
    assert_eq!(first.asked(), 3, "1, 2 and 3: the repeat of 1 was replayed");
    // An equal implementation: a hit, each recorded call asked once to check it.
    let equal = Glyphs::new('#', 5);
    assert_eq!(memo.get(&(), &equal, |_, _| unreachable!()).unwrap(), got);
    assert_eq!(equal.asked(), 3);
    // One that answers the last call otherwise: the lookup asks 1, 2 and 3, and the run is
    // served all three (the text each appended replayed into the run's string), asking
    // nothing more.
    let short = Glyphs::new('#', 2);
    let resumed = memo.get(&(), &short, |_, r| picture(r)).unwrap();
    assert_eq!(resumed, picture(&Glyphs::new('#', 2)));
    assert_eq!(short.asked(), 3);
    assert_eq!(memo.stats().resumed_calls, 3);
    // Another glyph: what a call appends is part of its answer.
    let other = Glyphs::new('*', 9);
    assert_eq!(
        memo.get(&(), &other, |_, r| picture(r)).unwrap(),
        "<*******>"
    );
}

#[steadfast::interface]
trait Shape: Send + Sync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

/// A shape that writes its name, honouring the formatter's width and fill.
struct Named(&'static str, AtomicUsize);

impl Shape for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.1.fetch_add(1, Ordering::Relaxed);
        f.pad(self.0)
    }
}

/// A shape as `Display`.
struct Show<'a>(&'a dyn Shape);

impl fmt::Display for Show<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[test]
fn a_formatter_parameter_is_replayed_with_the_callers_options() {
    let memo: Memo<(), String, dyn Shape> = Memo::new();
    let label = |s: &dyn Shape| format!("[{:*^9}|{}|{:>6}]", Show(s), Show(s), Show(s));
    let square = Named("square", AtomicUsize::new(0));
    let got = memo.get(&(), &square, |_, s| label(s)).unwrap();
    assert_eq!(got, "[*square**|square|square]");
    assert_eq!(got, label(&Named("square", AtomicUsize::new(0))));
    // Three calls with three sets of options: three distinct calls, each asked once.
    assert_eq!(square.1.load(Ordering::Relaxed), 3);
    let again = Named("square", AtomicUsize::new(0));
    assert_eq!(memo.get(&(), &again, |_, _| unreachable!()).unwrap(), got);
    let circle = Named("circle", AtomicUsize::new(0));
    let other = memo.get(&(), &circle, |_, s| label(s)).unwrap();
    assert_eq!(other, "[*circle**|circle|circle]");
    // Each call asked once: the first by the lookup (and served to the run), the others by
    // the run.
    assert_eq!(circle.1.load(Ordering::Relaxed), 3);
    assert_eq!(memo.stats().resumed_calls, 1);
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Cursor {
    at: u32,
}

impl State for Cursor {}

#[steadfast::interface]
trait Text: Send + Sync {
    /// Moves the cursor past the next word; whether there was one.
    fn skip_word(&self, cursor: &mut Cursor) -> bool;
    /// Appends the bytes of the word at `at`.
    fn bytes(&self, at: u32, out: &mut Vec<u8>);
}

struct Words(Vec<&'static str>);

impl Text for Words {
    fn skip_word(&self, cursor: &mut Cursor) -> bool {
        if (cursor.at as usize) < self.0.len() {
            cursor.at += 1;
            true
        } else {
            false
        }
    }

    fn bytes(&self, at: u32, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0[at as usize].as_bytes());
    }
}

/// Every word's first byte.
fn initials(t: &dyn Text) -> Vec<u8> {
    let (mut cursor, mut out) = (Cursor { at: 0 }, Vec::new());
    while t.skip_word(&mut cursor) {
        let mut word = Vec::new();
        t.bytes(cursor.at - 1, &mut word);
        out.push(word[0]);
    }
    out
}

#[test]
fn a_state_parameter_is_seen_whole_and_replayed_whole() {
    let memo: Memo<(), Vec<u8>, dyn Text> = Memo::new();
    let words = Words(vec!["alpha", "beta", "gamma"]);
    assert_eq!(memo.get(&(), &words, |_, t| initials(t)).unwrap(), b"abg");
    let same = Words(vec!["apple", "bean", "grape"]);
    // The cursor calls match; the bytes differ: a miss, whose result is right.
    assert_eq!(memo.get(&(), &same, |_, t| initials(t)).unwrap(), b"abg");
    let fewer = Words(vec!["one"]);
    assert_eq!(memo.get(&(), &fewer, |_, t| initials(t)).unwrap(), b"o");
}

/// An implementation that appends, for each scale, a text chosen by the test.
struct Table(Vec<(bool, String)>);

impl Render for Table {
    fn render(&self, out: &mut String, scale: u32) -> bool {
        let (drew, text) = &self.0[scale as usize % self.0.len()];
        out.push_str(text);
        *drew
    }
}

/// Draws scales one after another while they draw, at most eight.
fn strip(r: &dyn Render) -> String {
    let mut out = String::new();
    let mut scale = 0;
    while scale < 8 && r.render(&mut out, scale) {
        scale += 1;
        out.push('|');
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::model_cases(200)))]

    /// Random appended texts: every lookup, hit or miss, gives what a fresh run gives.
    #[test]
    fn hit_output_equals_fresh_output(
        impls in prop::collection::vec(
            prop::collection::vec((any::<bool>(), "[ab]{0,2}"), 1..4),
            1..12,
        ),
    ) {
        let memo: Memo<(), String, dyn Render> = Memo::new();
        for table in impls {
            let table = Table(table);
            prop_assert_eq!(memo.get(&(), &table, |_, r| strip(r)).unwrap(), strip(&table));
        }
    }

    /// The same with test doubles whose answers append the random texts: the bytes a hit
    /// or a resumed miss gives are those a fresh run writes.
    #[test]
    fn a_memo_over_doubles_gives_what_a_fresh_run_writes(
        impls in prop::collection::vec(
            prop::collection::vec((any::<bool>(), "[ab]{0,2}"), 1..4),
            1..12,
        ),
    ) {
        let double = |table: &Vec<(bool, String)>| {
            let table = Arc::new(Table(table.clone()));
            RenderDouble::new([RenderApi::RENDER
                .each_call()
                .answers_arc(Arc::new(move |_, out, scale| table.render(out, scale)))])
        };
        let memo: Memo<(), String, dyn Render> = Memo::new();
        for table in &impls {
            let fresh = strip(&double(table));
            prop_assert_eq!(memo.get(&(), &double(table), |_, r| strip(r)).unwrap(), fresh);
        }
    }
}
