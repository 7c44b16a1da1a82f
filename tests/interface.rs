//! `#[steadfast::interface]`: a trait's calls and answers as enums, a memo over any
//! implementation of it, and memos nested through the tracked implementation, as comemo's
//! calc example nests them: a script evaluates the scripts it names through the same memo.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use steadfast::{Interface, Memo, Tracked};

/// A file system.
#[steadfast::interface]
pub trait Files: Send + Sync {
    /// The text of a file.
    fn read(&self, path: &str) -> Option<Arc<str>>;
    /// Whether a file exists.
    fn exists(&self, path: &str) -> bool;
}

/// Files in memory, counting the calls asked of them.
#[derive(Default)]
struct Disk {
    files: HashMap<String, Arc<str>>,
    asked: AtomicUsize,
}

impl Disk {
    fn with(files: &[(&str, &str)]) -> Self {
        Disk {
            files: files
                .iter()
                .map(|(p, t)| (p.to_string(), Arc::from(*t)))
                .collect(),
            asked: AtomicUsize::new(0),
        }
    }

    fn write(&mut self, path: &str, text: &str) {
        self.files.insert(path.to_owned(), text.into());
    }

    fn asked(&self) -> usize {
        self.asked.swap(0, Ordering::Relaxed)
    }
}

impl Files for Disk {
    fn read(&self, path: &str) -> Option<Arc<str>> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        self.files.get(path).cloned()
    }

    fn exists(&self, path: &str) -> bool {
        self.asked.fetch_add(1, Ordering::Relaxed);
        self.files.contains_key(path)
    }
}

type Evals = Memo<String, i64, dyn Files>;

thread_local! {
    /// Runs of `eval`'s body on this thread (tests run in parallel).
    static EVALS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Sums a script's numbers and, for `@name`, the value of the script `name` (0 if it does
/// not exist) — evaluated through the same memo, with the tracked files.
fn eval(memo: &Evals, path: &str, files: &dyn Files) -> i64 {
    memo.get(path, files, |path, files| {
        EVALS.with(|e| e.set(e.get() + 1));
        let text = files.read(path).unwrap_or_default();
        text.split_whitespace()
            .map(|word| match word.strip_prefix('@') {
                Some(other) if files.exists(other) => eval(memo, other, files),
                Some(_) => 0,
                None => word.parse().unwrap_or(0),
            })
            .sum()
    })
    .unwrap()
}

fn evals() -> usize {
    EVALS.with(|e| e.replace(0))
}

#[test]
fn the_generated_enums_name_each_method_and_its_arguments() {
    let call = FilesCall::Read { path: "a".into() };
    assert_eq!(format!("{call:?}"), r#"Read { path: "a" }"#);
    let disk = Disk::with(&[("a", "1")]);
    assert_eq!(
        <dyn Files as Interface>::answer(&disk, &call),
        FilesAnswer::Read(Some("1".into()))
    );
    assert_eq!(
        <dyn Files as Interface>::answer(&disk, &FilesCall::Exists { path: "b".into() }),
        FilesAnswer::Exists(false)
    );
}

#[test]
fn nested_memos_record_the_inner_calls_in_the_outer_run() {
    let memo = Evals::new();
    let mut disk = Disk::with(&[
        ("main", "1 @lib @gone"),
        ("lib", "10 @util"),
        ("util", "100"),
    ]);
    evals();
    assert_eq!(eval(&memo, "main", &disk), 111);
    assert_eq!(evals(), 3);
    // main: read main, exists lib, [lib: read lib, exists util, [util: read util]],
    // exists gone; each call once.
    assert_eq!(disk.asked(), 6);

    // Nothing changed: the outer lookup replays every call the run made, the inner ones
    // included, and runs nothing.
    assert_eq!(eval(&memo, "main", &disk), 111);
    assert_eq!((evals(), disk.asked()), (0, 6));

    // A file only the innermost script reads: the outer run must not be stale.
    disk.write("util", "200");
    assert_eq!(eval(&memo, "main", &disk), 211);
    // main and lib rerun (resumed where their lookups stopped), util reruns; the lookups
    // of lib and util inside the reruns are misses too.
    assert_eq!(evals(), 3);
    // An unrelated file: hits all the way down.
    disk.write("notes", "5");
    assert_eq!(eval(&memo, "main", &disk), 211);
    assert_eq!(evals(), 0);
    // A file appears that main names: only its existence changed.
    disk.write("gone", "1000");
    assert_eq!(eval(&memo, "main", &disk), 1211);
    assert_eq!(evals(), 2);
}

#[test]
fn a_miss_asks_each_call_once_through_the_trait() {
    let memo = Evals::new();
    let mut disk = Disk::with(&[("main", "1 @a @b @c"), ("a", "1"), ("b", "2"), ("c", "3")]);
    eval(&memo, "main", &disk);
    disk.asked();
    disk.write("c", "4");
    assert_eq!(eval(&memo, "main", &disk), 8);
    // The outer lookup asks main's recorded calls up to `read c` (which differs), the
    // rerun is served them; the inner lookups of a and b are hits through the tracked
    // files (their calls served, not asked again); c reruns: one read.
    // Asked of the disk: read main, exists a, read a, exists b, read b, exists c, read c.
    assert_eq!(disk.asked(), 7);
}

/// Asks whether `a` exists, then, as `read_next` says (state besides the answers), reads
/// `b` or asks whether it exists.
fn flaky(files: &Tracked<'_, dyn Files>, read_next: bool) -> bool {
    files.exists("a");
    match read_next {
        false => files.exists("b"),
        true => files.read("b").is_some(),
    }
}

#[test]
fn nondeterminism_names_the_calls_that_differed() {
    let memo: Memo<(), bool, dyn Files> = Memo::new();
    assert!(!memo
        .get(&(), &Disk::with(&[]), |_, f| flaky(f, false))
        .unwrap());
    // `b` exists now: the lookup asks `exists a` (as recorded) and `exists b` (another
    // answer), and the run, served both, asks `read b` where the recorded one asked
    // `exists b`.
    let disk = Disk::with(&[("b", "")]);
    let err = memo.get(&(), &disk, |_, f| flaky(f, true)).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"nondeterministic memoized function: after 1 calls a recorded run did `Exists { path: "b" }`, this one `Read { path: "b" }`"#
    );
    assert_eq!(err.into_value::<bool>(), Some(true));
    // Nothing recorded: the same run, deterministic now, is recorded as a branch.
    assert!(memo.get(&(), &disk, |_, f| flaky(f, false)).unwrap());
    assert_eq!(memo.nodes(), 3);
}

#[test]
fn a_repeated_call_is_asked_once_and_recorded_once() {
    let memo: Memo<(), usize, dyn Files> = Memo::new();
    let disk = Disk::with(&[("a", "x y")]);
    let twice = |_: &(), f: &Tracked<'_, dyn Files>| {
        let first = f.read("a").map_or(0, |t| t.len());
        first + f.read("a").map_or(0, |t| t.len())
    };
    assert_eq!(memo.get(&(), &disk, twice).unwrap(), 6);
    assert_eq!(disk.asked(), 1);
    // The hit replays one call.
    assert_eq!(memo.get(&(), &disk, twice).unwrap(), 6);
    assert_eq!(disk.asked(), 1);
}

#[test]
fn includes_reached_by_many_paths_record_each_call_once() {
    // Script i includes scripts i+1 and i+2: 2^40 paths from the first to the last; the
    // outer run's record holds each file's two calls once.
    let depth = 40;
    let files: Vec<(String, String)> = (0..depth)
        .map(|i| (format!("s{i}"), format!("1 @s{} @s{}", i + 1, i + 2)))
        .collect();
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let mut disk = Disk::with(&files);
    let memo = Evals::new();
    let want = |n: usize, last: i64| {
        // value(i) = 1 + value(i+1) + value(i+2); the last is `last`; 0 past the end.
        let mut v = vec![0i64; n + 2];
        v[n - 1] = last;
        for i in (0..n - 1).rev() {
            v[i] = 1 + v[i + 1] + v[i + 2];
        }
        v[0]
    };
    assert_eq!(eval(&memo, "s0", &disk), want(depth, 1));
    // Each file read, and whether s1..s41 exist: each asked once.
    assert_eq!(disk.asked(), depth + depth + 1);
    assert_eq!(eval(&memo, "s0", &disk), want(depth, 1));
    assert_eq!(disk.asked(), depth + depth + 1);
    disk.write(&format!("s{}", depth - 1), "2");
    assert_eq!(eval(&memo, "s0", &disk), want(depth, 2));
}

#[test]
fn memos_and_tracked_implementations_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Evals>();
    send_sync::<Tracked<'_, dyn Files>>();
    // Two threads looking up one memo: one computes, the other hits or computes an equal
    // run; both results are right.
    let memo = Evals::new();
    let disk = Disk::with(&[("main", "1 @lib"), ("lib", "2")]);
    std::thread::scope(|s| {
        let a = s.spawn(|| eval(&memo, "main", &disk));
        let b = s.spawn(|| eval(&memo, "main", &disk));
        assert_eq!((a.join().unwrap(), b.join().unwrap()), (3, 3));
    });
    assert_eq!(eval(&memo, "main", &disk), 3);
}
