//! Test doubles of tracked interfaces: clauses, answers that write through `&mut`
//! parameters, explicit verification, built-in captors, replaying a memo's record, and a
//! double inside a heap operation.

mod common;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use steadfast::{cached, capsule, mutable, Ctx, Error, Ext, Heap, Memo};

#[steadfast::interface]
trait Shape: Send + Sync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    fn sides(&self) -> u32;
}

/// A shape as `Display`.
struct Show<'a>(&'a dyn Shape);

impl fmt::Display for Show<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A double whose `fmt` writes `name` through its formatter, counting its answers.
fn named(name: &'static str, answered: &Arc<AtomicUsize>) -> ShapeDouble {
    let answered = Arc::clone(answered);
    ShapeDouble::new([
        ShapeApi::FMT.each_call().answers_arc(Arc::new(move |_, f| {
            answered.fetch_add(1, Ordering::Relaxed);
            f.pad(name)
        })),
        ShapeApi::SIDES.each_call().returns(4),
    ])
}

#[test]
fn a_mocked_fmt_writes_through_its_formatter() {
    let answered = Arc::new(AtomicUsize::new(0));
    let square = named("square", &answered);
    assert_eq!(
        format!("[{}|{:>8}]", Show(&square), Show(&square)),
        "[square|  square]"
    );
    assert_eq!(answered.load(Ordering::Relaxed), 2);
    square.verify().unwrap();
}

#[test]
fn a_memo_over_a_mocked_fmt_writes_the_same_bytes_and_asks_each_call_once() {
    let memo: Memo<(), String, dyn Shape> = Memo::new();
    // The same call three times in one run: the answer runs once, and its bytes are
    // replayed into the other two formatters.
    let label = |s: &dyn Shape| format!("{}/{}/{} ({})", Show(s), Show(s), Show(s), s.sides());
    let answered = Arc::new(AtomicUsize::new(0));
    let first = named("square", &answered);
    let fresh = label(&named("square", &Arc::default()));
    assert_eq!(memo.get(&(), &first, |_, s| label(s)).unwrap(), fresh);
    assert_eq!(answered.load(Ordering::Relaxed), 1);
    // A hit: the function does not run; the lookup asks each recorded call once.
    let again = Arc::new(AtomicUsize::new(0));
    let second = named("square", &again);
    assert_eq!(
        memo.get(&(), &second, |_, _| unreachable!()).unwrap(),
        fresh
    );
    assert_eq!(again.load(Ordering::Relaxed), 1);
    assert_eq!(second.calls().len(), 2, "fmt and sides, once each");
}

#[steadfast::interface]
trait Store: Send + Sync {
    fn open(&self, name: &str) -> bool;
    fn put(&self, key: u32, value: u32);
    fn close(&self);
    fn size(&self) -> Result<u64, StoreError>;
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum StoreError {
    Double(String),
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        StoreError::Double(e.to_string())
    }
}

#[test]
fn next_call_clauses_give_an_order_and_verify_reports_calls_out_of_it() {
    let store = StoreDouble::new([
        StoreApi::OPEN.next_call().returns(true).times(1),
        StoreApi::PUT.each_call().returns(()),
        StoreApi::CLOSE.next_call().returns(()).times(1),
    ]);
    store.open("db");
    store.put(1, 2);
    store.close();
    assert!(store.verify().is_ok());

    let store = StoreDouble::new([
        StoreApi::OPEN.next_call().returns(true).times(1),
        StoreApi::CLOSE.next_call().returns(()).times(1),
    ]);
    store.close();
    store.open("db");
    let failures = store.verify().unwrap_err();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(matches!(
        &failures[0],
        Error::OutOfOrder { call, expected } if call == "Close" && expected.contains("clause 1 (Store::open")
    ));
    assert!(matches!(
        &failures[1],
        Error::OutOfOrder { call, expected } if call.starts_with("Open") && expected == "the end of the sequence"
    ));
}

#[test]
fn a_call_no_clause_answers_panics_with_a_typed_payload() {
    let store = StoreDouble::new([StoreApi::PUT.each_call().when(|(k, _)| *k < 10).returns(())]);
    let payload = catch_unwind(AssertUnwindSafe(|| store.put(11, 0))).unwrap_err();
    let e = payload.downcast::<Error>().expect("an Error payload");
    match *e {
        Error::Unmatched {
            ref call,
            ref mismatches,
        } => {
            assert_eq!(call, "Put { key: 11, value: 0 }");
            assert_eq!(
                mismatches,
                &["clause 1 (Store::put, each call): `when` refused the arguments"]
            );
        }
        ref other => panic!("{other:?}"),
    }
    assert_eq!(
        e.to_string(),
        "no clause of the double answers `Put { key: 11, value: 0 }`; clause 1 (Store::put, \
         each call): `when` refused the arguments"
    );
    // Reported by `verify` too, though the panic was caught.
    assert!(matches!(
        &store.verify().unwrap_err()[..],
        [Error::Unmatched { .. }]
    ));
}

#[test]
fn a_method_returning_result_gets_the_error_as_a_value() {
    let store = StoreDouble::new([]);
    assert_eq!(
        store.size(),
        Err(StoreError::Double(
            "no clause of the double answers `Size`: it has none for this method".into()
        ))
    );
    let _ = store.verify();
}

#[test]
fn times_bounds_the_calls_a_clause_answers() {
    let store = StoreDouble::new([StoreApi::OPEN.each_call().returns(true).times(2)]);
    assert!(store.open("a") && store.open("b"));
    let e = catch_unwind(AssertUnwindSafe(|| store.open("c"))).unwrap_err();
    assert!(e
        .downcast_ref::<Error>()
        .unwrap()
        .to_string()
        .contains("answered its 2 calls already"));
    let _ = store.verify();
}

#[test]
fn with_matches_equal_arguments_and_at_most_bounds_a_clause() {
    let store = StoreDouble::new([
        StoreApi::PUT
            .each_call()
            .with((1, 2))
            .returns(())
            .at_most(1),
        StoreApi::OPEN
            .each_call()
            .with(("db".into(),))
            .returns(true),
        StoreApi::OPEN.each_call().returns(false),
    ]);
    assert!(store.open("db"));
    assert!(!store.open("log"));
    store.put(1, 2);
    // A second `put(1, 2)`: the clause answered its one call.
    let e = catch_unwind(AssertUnwindSafe(|| store.put(1, 2))).unwrap_err();
    assert!(e
        .downcast_ref::<Error>()
        .unwrap()
        .to_string()
        .contains("answered its 1 call already"));
    // Another argument: `when` (here, `with`) refuses it.
    let e = catch_unwind(AssertUnwindSafe(|| store.put(3, 4))).unwrap_err();
    assert!(e
        .downcast_ref::<Error>()
        .unwrap()
        .to_string()
        .contains("refused the arguments"));
    assert_eq!(store.verify().unwrap_err().len(), 2);
}

#[test]
fn must_be_called_is_opt_in_and_verified_at_drop_unless_verified() {
    // A clause that was never called is fine by default.
    let store = StoreDouble::new([StoreApi::CLOSE.each_call().returns(())]);
    drop(store);
    // Unless it says so: `verify` reports it as data…
    let store = StoreDouble::new([StoreApi::CLOSE.each_call().returns(()).at_least(1)]);
    match &store.verify().unwrap_err()[..] {
        [Error::Unmet {
            clause,
            calls: 0,
            expected,
        }] => {
            assert_eq!(clause, "clause 1 (Store::close, each call)");
            assert_eq!(expected, "at least 1");
        }
        other => panic!("{other:?}"),
    }
    drop(store); // verified: nothing more at drop
                 // …and a double never verified verifies itself when dropped.
    let store = StoreDouble::new([StoreApi::CLOSE.each_call().returns(()).at_least(1)]);
    let e = catch_unwind(AssertUnwindSafe(move || drop(store))).unwrap_err();
    let message = e.downcast_ref::<String>().unwrap();
    assert!(message
        .contains("clause 1 (Store::close, each call) answered 0 calls, expected at least 1"));
    // But not while the thread is already panicking (no double panic, no abort).
    let r = catch_unwind(|| {
        let _store = StoreDouble::new([StoreApi::CLOSE.each_call().returns(()).at_least(1)]);
        panic!("the test failed first");
    });
    assert_eq!(
        *r.unwrap_err().downcast::<&str>().unwrap(),
        "the test failed first"
    );
}

#[test]
fn calls_are_captured_as_owned_call_values() {
    let store = StoreDouble::new([
        StoreApi::OPEN.each_call().returns(true),
        StoreApi::PUT.each_call().returns(()),
    ]);
    store.open("db");
    store.put(7, 8);
    assert_eq!(
        store.calls(),
        [
            StoreCall::Open { name: "db".into() },
            StoreCall::Put { key: 7, value: 8 },
        ]
    );
    store.verify().unwrap();
}

#[test]
fn a_panicking_clause_panics_with_its_message() {
    let store = StoreDouble::new([StoreApi::CLOSE.each_call().panics("closed twice")]);
    let e = catch_unwind(AssertUnwindSafe(|| store.close())).unwrap_err();
    assert_eq!(e.downcast_ref::<String>().unwrap(), "closed twice");
    store.verify().unwrap();
}

#[steadfast::interface]
trait Disk: Send + Sync {
    fn read(&self, path: &str) -> Option<String>;
}

/// A real implementation: file `n` holds `n` and names files `2n` and `2n + 1` below 100.
struct Real;

impl Disk for Real {
    fn read(&self, path: &str) -> Option<String> {
        let n: u32 = path.parse().ok()?;
        (n < 100).then(|| format!("{n} {} {}", 2 * n, 2 * n + 1))
    }
}

/// Sums the numbers of the files reachable from `path`, at most three levels down.
fn total(path: &str, disk: &dyn Disk, depth: u32) -> u64 {
    let Some(text) = disk.read(path) else {
        return 0;
    };
    let mut words = text.split(' ');
    let own: u64 = words.next().unwrap().parse().unwrap();
    if depth == 0 {
        return own;
    }
    own + words.map(|p| total(p, disk, depth - 1)).sum::<u64>()
}

#[test]
fn a_double_replays_a_record_of_a_real_implementation() {
    let memo: Memo<u32, u64, dyn Disk> = Memo::new();
    let runs: Vec<u32> = (0..100).collect();
    let recorded: Vec<u64> = runs
        .iter()
        .map(|&k| {
            memo.get(&k, &Real, |k, d| total(&k.to_string(), d, 3))
                .unwrap()
        })
        .collect();
    let disk = DiskDouble::replaying(&memo).unwrap();
    let replayed: Vec<u64> = runs
        .iter()
        .map(|&k| total(&k.to_string(), &disk, 3))
        .collect();
    assert_eq!(replayed, recorded);
    disk.verify().unwrap();
    // A call never recorded: a typed error naming the recorded calls of the method.
    let e = catch_unwind(AssertUnwindSafe(|| disk.read("notes"))).unwrap_err();
    match *e.downcast::<Error>().unwrap() {
        Error::Unrecorded { call, known } => {
            assert_eq!(call, r#"Read { path: "notes" }"#);
            assert_eq!(known.len(), 9, "eight and a count: {known:?}");
            assert_eq!(known[8], "(192 more)", "files 0 to 199 were read");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        &disk.verify().unwrap_err()[..],
        [Error::Unrecorded { .. }]
    ));
}

/// Another implementation: every file is empty.
struct Blank;

impl Disk for Blank {
    fn read(&self, _: &str) -> Option<String> {
        None
    }
}

#[test]
fn a_record_of_two_implementations_that_differ_is_refused() {
    let memo: Memo<u32, u64, dyn Disk> = Memo::new();
    memo.get(&1, &Real, |k, d| total(&k.to_string(), d, 0))
        .unwrap();
    memo.get(&1, &Blank, |k, d| total(&k.to_string(), d, 0))
        .unwrap();
    match DiskDouble::replaying(&memo) {
        Err(Error::Conflicting { call, answers }) => {
            assert_eq!(call, r#"Read { path: "1" }"#);
            assert_eq!(answers.len(), 2);
        }
        other => panic!("{other:?}"),
    }
}

#[steadfast::interface]
trait Fees: Send + Sync {
    /// Charges a fee on `balance`.
    fn charge(&self, balance: &mut i64);
}

#[capsule]
struct Account {
    #[capsule]
    balance: i64,
}

#[derive(Debug)]
struct Overdrawn;

impl fmt::Display for Overdrawn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("overdrawn")
    }
}

impl std::error::Error for Overdrawn {}

#[cached]
impl Account {
    #[cache(now)]
    fn solvent(balance: &i64) -> Result<(), Overdrawn> {
        if *balance < 0 {
            Err(Overdrawn)
        } else {
            Ok(())
        }
    }
}

#[test]
fn a_double_inside_an_operation_is_rolled_back_with_it_but_keeps_its_calls() {
    let fees = FeesDouble::new([FeesApi::CHARGE
        .each_call()
        .answers(&|_, balance| *balance -= 30)]);
    let mut heap = Heap::new();
    let account = heap.capsule(Account { balance: 50 }).unwrap();
    heap.open_box(&account, |a| fees.charge(&mut a.balance))
        .unwrap();
    assert_eq!(*heap[&account].balance(), 20);
    // The second fee overdraws: the operation is refused and the balance put back; the
    // double's own record of the call stays (it is not the heap's to roll back).
    let e = heap
        .open_box(&account, |a| fees.charge(&mut a.balance))
        .unwrap_err();
    assert!(matches!(e, Error::Invariant { .. }));
    assert_eq!(*heap[&account].balance(), 20);
    assert_eq!(fees.calls().len(), 2);
    fees.verify().unwrap();
}

/// A document whose cache reads its file through an implementation the heap holds.
#[mutable]
struct Doc {
    path: String,
    disk: Ext<dyn Disk>,
}

#[cached]
impl Doc {
    #[cache(lazy_read)]
    fn size(path: &String, disk: &Ext<dyn Disk>, ctx: &Ctx<'_, Self>) -> usize {
        let disk = ctx.ask(disk).expect("attached");
        disk.read(path).map_or(0, |t| t.len())
    }
}

#[test]
fn a_double_held_by_the_heap_that_answers_nothing_leaves_the_cache_invalid() {
    let mut heap = Heap::new();
    let disk = heap
        .attach::<dyn Disk>(Box::new(DiskDouble::new([])))
        .unwrap();
    let doc = heap
        .mutable(Doc {
            path: "a".into(),
            disk: disk.clone(),
        })
        .unwrap();
    // The computation's call is unmatched: the read passes the double's panic on, with its
    // typed payload, and the cache stays invalid (nothing broken is kept).
    for _ in 0..2 {
        let payload =
            catch_unwind(AssertUnwindSafe(|| Doc::size(&heap, &doc).copied())).unwrap_err();
        assert!(matches!(
            payload.downcast_ref::<Error>(),
            Some(Error::Unmatched { .. })
        ));
    }
    // An implementation that answers: the cache is computed from it.
    let answering = DiskDouble::new([DiskApi::READ.each_call().returns(Some("four".into()))]);
    let old = heap.replace_ext(&disk, Box::new(answering)).unwrap();
    assert_eq!(*Doc::size(&heap, &doc).unwrap(), 4);
    // The old double, never verified, reports the two unmatched calls when it is dropped.
    let e = catch_unwind(AssertUnwindSafe(move || drop(old))).unwrap_err();
    let message = e.downcast_ref::<String>().unwrap();
    assert_eq!(
        message.matches("no clause of the double answers").count(),
        2,
        "{message}"
    );
}
