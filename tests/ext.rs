//! Implementations held by the heap (`Ext`): a cache records what it asked; replacing the
//! implementation invalidates exactly the caches it answers otherwise (and their
//! dependents), rechecks invariants once, and rolls back with the old implementation kept.

mod common;

use std::collections::HashMap;
use std::fmt;

use proptest::prelude::*;
use steadfast::{cached, mutable, Ctx, Error, Ext, Heap, Mutable};

/// A file system.
#[steadfast::interface]
pub trait Files: Send + Sync {
    /// The text of a file.
    fn read(&self, path: &str) -> Option<String>;
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Disk(HashMap<String, String>);

impl Disk {
    fn with(files: &[(&str, &str)]) -> Box<dyn Files> {
        Box::new(Disk(
            files
                .iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect(),
        ))
    }
}

impl Files for Disk {
    fn read(&self, path: &str) -> Option<String> {
        self.0.get(path).cloned()
    }
}

#[derive(Debug)]
struct TooLong(usize);

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} words, more than 3", self.0)
    }
}

impl std::error::Error for TooLong {}

/// A document: counts the words of its file; its invariant: at most three.
#[mutable]
struct Doc {
    path: String,
    files: Ext<dyn Files>,
}

#[cached]
impl Doc {
    #[cache(lazy_read)]
    fn words(path: &String, files: &Ext<dyn Files>, ctx: &Ctx<'_, Self>) -> usize {
        common::bump(0);
        let files = ctx.ask(files).expect("attached");
        files.read(path).map_or(0, |t| t.split_whitespace().count())
    }
}

/// A document whose file must stay short: a `now` invariant that asks the files.
#[mutable]
struct Short {
    path: String,
    files: Ext<dyn Files>,
}

#[cached]
impl Short {
    #[cache(now)]
    fn short(path: &String, files: &Ext<dyn Files>, ctx: &Ctx<'_, Self>) -> Result<(), TooLong> {
        common::bump(1);
        let files = ctx.ask(files).expect("attached");
        match files.read(path).map_or(0, |t| t.split_whitespace().count()) {
            n if n > 3 => Err(TooLong(n)),
            _ => Ok(()),
        }
    }
}

/// Reads a document's count: a dependent of a cache that asks.
#[mutable]
struct Total {
    docs: Vec<Mutable<Doc>>,
}

#[cached]
impl Total {
    #[cache(lazy_read)]
    fn total(docs: &Vec<Mutable<Doc>>, ctx: &Ctx<'_, Self>) -> usize {
        common::bump(2);
        docs.iter()
            .map(|d| *ctx.cached(d, &Doc::WORDS).unwrap_or(&0))
            .sum()
    }
}

/// A heap with the files attached.
fn heap_with(files: &[(&str, &str)]) -> (Heap, Ext<dyn Files>) {
    let mut heap = Heap::new();
    let ext = heap.attach::<dyn Files>(Disk::with(files)).unwrap();
    (heap, ext)
}

fn doc(heap: &mut Heap, files: &Ext<dyn Files>, path: &str) -> Mutable<Doc> {
    heap.mutable(Doc {
        path: path.into(),
        files: files.clone(),
    })
    .unwrap()
}

fn short(heap: &mut Heap, files: &Ext<dyn Files>, path: &str) -> Mutable<Short> {
    heap.mutable(Short {
        path: path.into(),
        files: files.clone(),
    })
    .unwrap()
}

fn runs() -> [usize; 3] {
    [common::count(0), common::count(1), common::count(2)]
}

#[test]
fn a_replacement_that_changes_no_recorded_answer_invalidates_nothing() {
    common::reset();
    let (mut heap, files) = heap_with(&[("a", "one two"), ("b", "three")]);
    let a = doc(&mut heap, &files, "a");
    let total = heap
        .mutable(Total {
            docs: vec![a.clone()],
        })
        .unwrap();
    assert_eq!(*heap.cached(&total, &Total::TOTAL).unwrap(), 2);
    assert_eq!(runs(), [1, 0, 1]);
    // `b` changed and `c` appeared: nothing asked them.
    let old = heap
        .replace_ext(
            &files,
            Disk::with(&[("a", "one two"), ("b", "four"), ("c", "x")]),
        )
        .unwrap();
    assert_eq!(old.read("b").as_deref(), Some("three"));
    assert_eq!(*heap.cached(&total, &Total::TOTAL).unwrap(), 2);
    assert_eq!(runs(), [1, 0, 1]);
}

#[test]
fn a_replacement_invalidates_exactly_the_caches_answered_otherwise_and_their_dependents() {
    common::reset();
    let (mut heap, files) = heap_with(&[("a", "one two"), ("b", "three")]);
    let (a, b) = (doc(&mut heap, &files, "a"), doc(&mut heap, &files, "b"));
    let total = heap
        .mutable(Total {
            docs: vec![a.clone(), b.clone()],
        })
        .unwrap();
    assert_eq!(*heap.cached(&total, &Total::TOTAL).unwrap(), 3);
    assert_eq!(runs(), [2, 0, 1]);
    heap.replace_ext(
        &files,
        Disk::with(&[("a", "one two"), ("b", "three four five")]),
    )
    .unwrap();
    // `b` and the total recompute (in the barrier: both were read since computed); `a`,
    // answered alike, does not.
    assert_eq!(runs(), [3, 0, 2]);
    assert_eq!(*heap.cached(&a, &Doc::WORDS).unwrap(), 2);
    assert_eq!(*heap.cached(&b, &Doc::WORDS).unwrap(), 3);
    assert_eq!(*heap.cached(&total, &Total::TOTAL).unwrap(), 5);
    assert_eq!(runs(), [3, 0, 2]);
}

#[test]
fn a_replacement_that_breaks_an_invariant_is_refused_with_nothing_changed() {
    common::reset();
    let (mut heap, files) = heap_with(&[("s", "a b"), ("d", "x")]);
    let short = short(&mut heap, &files, "s");
    let doc = doc(&mut heap, &files, "d");
    assert_eq!(*heap.cached(&doc, &Doc::WORDS).unwrap(), 1);
    assert_eq!(runs(), [1, 1, 0]);
    let Err(err) = heap.replace_ext(&files, Disk::with(&[("s", "a b c d e"), ("d", "x y")])) else {
        panic!("the invariant should fail")
    };
    assert!(
        matches!(&err, Error::Invariant { invariant, .. } if invariant.to_string().contains("short")),
        "{err}"
    );
    // The invariant was rechecked once (and the document, read since computed, brought up
    // to date in the same barrier, then put back).
    assert_eq!(runs(), [2, 2, 0]);
    // The new implementation comes back inside the error; the old one is still attached.
    let new: Box<dyn Files> = err.into_value().expect("the refused implementation");
    assert_eq!(new.read("s").as_deref(), Some("a b c d e"));
    assert_eq!(
        heap.implementation(&files).unwrap().read("s").as_deref(),
        Some("a b")
    );
    // Every cache as before: the document's count is still valid and right.
    assert_eq!(*heap.cached(&doc, &Doc::WORDS).unwrap(), 1);
    assert_eq!(runs(), [2, 2, 0]);
    // An acceptable replacement goes through.
    heap.replace_ext(&files, Disk::with(&[("s", "a b c"), ("d", "x y")]))
        .unwrap();
    assert_eq!(*heap.cached(&doc, &Doc::WORDS).unwrap(), 2);
    assert_eq!(heap.get(&short).unwrap().path, "s");
}

#[test]
fn after_a_rolled_back_operation_what_was_asked_before_is_no_longer_trusted() {
    common::reset();
    let (mut heap, files) = heap_with(&[("s", "a"), ("t", "a b c d e")]);
    let short = short(&mut heap, &files, "s");
    // Pointing it at a long file fails, and is rolled back: the invariant's value is put
    // back, but its record of what it asked was made by the refused computation.
    assert!(heap.set(&short, &Short::PATH, "t".into()).is_err());
    assert_eq!(runs(), [0, 2, 0]);
    // The next replacement rechecks it, though `s` is answered alike.
    heap.replace_ext(&files, Disk::with(&[("s", "a"), ("t", "a b c d e")]))
        .unwrap();
    assert_eq!(runs(), [0, 3, 0]);
    // Trusted again after that.
    heap.replace_ext(&files, Disk::with(&[("s", "a")])).unwrap();
    assert_eq!(runs(), [0, 3, 0]);
}

#[test]
fn detaching_invalidates_the_caches_that_asked() {
    let (mut heap, files) = heap_with(&[("a", "one")]);
    let a = doc(&mut heap, &files, "a");
    assert_eq!(*heap.cached(&a, &Doc::WORDS).unwrap(), 1);
    let disk = heap.detach(&files).unwrap();
    assert_eq!(disk.read("a").as_deref(), Some("one"));
    assert!(matches!(
        heap.implementation(&files),
        Err(Error::Removed { .. })
    ));
    assert!(matches!(
        heap.replace_ext(&files, Disk::with(&[])),
        Err(Error::Removed { .. })
    ));
    // The cache recomputes, and its `ask` reports the removal (here: a panic caught as
    // the computation's, passed on).
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = heap.cached(&a, &Doc::WORDS);
    }));
    assert!(read.is_err());
}

#[test]
fn another_heaps_implementation_is_refused() {
    let mut heap = Heap::new();
    let mut other = Heap::new();
    let files = other.attach::<dyn Files>(Disk::with(&[])).unwrap();
    assert!(matches!(
        heap.replace_ext(&files, Disk::with(&[])),
        Err(Error::ForeignHandle { .. })
    ));
    assert!(matches!(
        heap.implementation(&files),
        Err(Error::ForeignHandle { .. })
    ));
}

// ------------------------------------------------------------------ against an oracle

#[derive(Clone, Debug)]
enum Step {
    /// Replace the files with these contents of `f0`..`f3` (`None`: no such file).
    Replace([Option<u8>; 4]),
    /// Point document `i` at file `f`.
    Point(usize, u8),
    /// Read every cache.
    Read,
}

fn words(n: u8) -> String {
    vec!["w"; usize::from(n)].join(" ")
}

fn disk(files: &[Option<u8>; 4]) -> Disk {
    Disk(
        files
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.map(|n| (format!("f{i}"), words(n))))
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::model_cases(200)))]

    /// Random replacements, writes and reads: every cache equals a recompute over the
    /// files attached now, and the invariant holds in every state the heap shows (a
    /// refused replacement changes nothing).
    #[test]
    fn every_cache_equals_a_recompute_after_every_step(
        steps in prop::collection::vec(prop_oneof![
            3 => prop::array::uniform4(prop::option::of(0..6u8)).prop_map(Step::Replace),
            2 => (0..3usize, 0..4u8).prop_map(|(i, f)| Step::Point(i, f)),
            1 => Just(Step::Read),
        ], 1..30),
    ) {
        let mut heap = Heap::new();
        let mut now = [Some(1), Some(2), None, Some(3)];
        let files = heap.attach::<dyn Files>(Box::new(disk(&now))).unwrap();
        let mut paths = vec![0u8, 1, 3];
        let docs: Vec<_> = paths.iter().map(|f| heap.mutable(Doc {
            path: format!("f{f}"),
            files: files.clone(),
        }).unwrap()).collect();
        let short = heap.mutable(Short { path: "f0".into(), files: files.clone() }).unwrap();
        let total = heap.mutable(Total { docs: docs.clone() }).unwrap();
        for step in steps {
            match step {
                Step::Replace(next) => {
                    let ok = next[0].is_none_or(|n| n <= 3);
                    let result = heap.replace_ext(&files, Box::new(disk(&next)));
                    prop_assert_eq!(result.is_ok(), ok);
                    if ok {
                        now = next;
                    }
                }
                Step::Point(i, f) => {
                    heap.set(&docs[i], &Doc::PATH, format!("f{f}")).unwrap();
                    paths[i] = f;
                }
                Step::Read => {}
            }
            let count = |f: u8| now[usize::from(f)].map_or(0, usize::from);
            for (doc, &f) in docs.iter().zip(&paths) {
                prop_assert_eq!(*heap.cached(doc, &Doc::WORDS).unwrap(), count(f));
            }
            prop_assert_eq!(
                *heap.cached(&total, &Total::TOTAL).unwrap(),
                paths.iter().map(|&f| count(f)).sum::<usize>()
            );
            prop_assert!(heap.cached(&short, &Short::SHORT).unwrap().is_ok());
            prop_assert_eq!(heap.implementation(&files).unwrap().read("f0"), now[0].map(words));
        }
    }
}

/// Counts words through a memo shared by every document: a memo nested in a cache.
static WORDS: std::sync::LazyLock<steadfast::Memo<String, usize, dyn Files>> =
    std::sync::LazyLock::new(steadfast::Memo::new);

#[mutable]
struct Memoized {
    path: String,
    files: Ext<dyn Files>,
}

#[cached]
impl Memoized {
    #[cache(lazy_read)]
    fn words(path: &String, files: &Ext<dyn Files>, ctx: &Ctx<'_, Self>) -> usize {
        let files = ctx.ask(files).expect("attached");
        WORDS
            .get(path.as_str(), &*files, |path, files| {
                files.read(path).map_or(0, |t| t.split_whitespace().count())
            })
            .expect("deterministic")
    }
}

#[test]
fn a_memo_inside_a_cache_records_its_calls_for_the_cache() {
    let (mut heap, files) = heap_with(&[("m", "one two three")]);
    let doc = heap
        .mutable(Memoized {
            path: "m".into(),
            files: files.clone(),
        })
        .unwrap();
    let twin = heap
        .mutable(Memoized {
            path: "m".into(),
            files: files.clone(),
        })
        .unwrap();
    assert_eq!(*heap.cached(&doc, &Memoized::WORDS).unwrap(), 3);
    // The second document's cache is a memo hit, whose replayed call is recorded for it.
    let hits = WORDS.stats().hits;
    assert_eq!(*heap.cached(&twin, &Memoized::WORDS).unwrap(), 3);
    assert_eq!(WORDS.stats().hits, hits + 1);
    // So a replacement that changes `m` reaches both caches.
    heap.replace_ext(&files, Disk::with(&[("m", "one")]))
        .unwrap();
    assert_eq!(*heap.cached(&doc, &Memoized::WORDS).unwrap(), 1);
    assert_eq!(*heap.cached(&twin, &Memoized::WORDS).unwrap(), 1);
}
