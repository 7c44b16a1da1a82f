//! Test doubles of a tracked interface: clauses that answer by value, by a function that
//! writes through a `&mut` parameter (a `Display`-like `fmt`), in order or in any order;
//! explicit verification; the calls received; a call nothing answers; and a double that
//! replays what a memo recorded of a real implementation.
//!
//! `cargo run --example doubles`

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use steadfast::{Error, Memo};

/// What a report generator needs from a document store.
#[steadfast::interface]
trait Docs: Send + Sync {
    /// Writes the title of document `id`, honouring the formatter's width and fill.
    fn title(&self, id: u32, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    /// The ids of the documents `id` cites.
    fn cites(&self, id: u32) -> Vec<u32>;
    /// Marks `id` as read; fails for a locked document.
    fn mark_read(&self, id: u32) -> Result<(), DocsError>;
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum DocsError {
    Locked(u32),
    /// What a double says when no clause answers a call of a method returning `Result`.
    Unanswered(String),
}

impl From<Error> for DocsError {
    fn from(e: Error) -> Self {
        DocsError::Unanswered(e.to_string())
    }
}

/// A document's title, as `Display`.
struct Title<'a>(&'a dyn Docs, u32);

impl fmt::Display for Title<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.title(self.1, f)
    }
}

/// The code under test: a report of a document and what it cites, marking each read.
fn report(docs: &dyn Docs, id: u32) -> String {
    let mut out = format!("{:=^24}\n", Title(docs, id));
    for cited in docs.cites(id) {
        out.push_str(&format!("  cites {:<16}|\n", Title(docs, cited)));
    }
    if let Err(e) = docs.mark_read(id) {
        out.push_str(&format!("  ({e:?})\n"));
    }
    out
}

fn main() {
    // Clauses: `fmt`-style answers write through the formatter they are given.
    let docs = DocsDouble::new([
        DocsApi::TITLE
            .each_call()
            .answers(&|_, id, f| f.pad(&format!("doc {id}"))),
        DocsApi::CITES
            .each_call()
            .when(|(id,)| *id == 1)
            .returns(vec![2, 3]),
        DocsApi::CITES.each_call().returns(vec![]),
        DocsApi::MARK_READ.next_call().returns(Ok(())).times(1),
    ]);
    print!("{}", report(&docs, 1));
    println!("calls received: {:?}", docs.calls());
    println!("verified: {:?}\n", docs.verify());

    // Calls out of order, and a clause that must be called and was not: reported as data.
    let docs = DocsDouble::new([
        DocsApi::CITES.next_call().returns(vec![]).times(1),
        DocsApi::MARK_READ.next_call().returns(Ok(())).times(1),
        DocsApi::TITLE
            .each_call()
            .answers(&|_, _, f| f.write_str("?"))
            .at_least(2),
    ]);
    let _ = docs.mark_read(7);
    let _ = docs.cites(7);
    for failure in docs.verify().unwrap_err() {
        println!("verify: {failure}");
    }

    // A call no clause answers: an error value where the method returns `Result`, else a
    // panic whose payload is the typed error.
    let docs = DocsDouble::new([]);
    println!("\nmark_read with no clause: {:?}", docs.mark_read(1));
    let payload = quietly(|| docs.cites(1));
    let e = payload.downcast::<Error>().expect("a typed payload");
    println!("cites with no clause panicked with: {e}");
    let _ = docs.verify();

    // Record a real implementation through a memo, then test against the record.
    let memo: Memo<u32, String, dyn Docs> = Memo::new();
    for id in 1..=4 {
        memo.get(&id, &Library, |&id, docs| report(docs, id))
            .unwrap();
    }
    let replay = DocsDouble::replaying(&memo).unwrap();
    let same = (1..=4).all(|id| report(&replay, id) == report(&Library, id));
    println!("\nreplayed 4 reports from the record: equal to the real ones: {same}");
    let missing = quietly(|| replay.cites(99));
    println!(
        "an unrecorded call: {}",
        missing.downcast::<Error>().unwrap()
    );
    let _ = replay.verify();
}

/// Runs `f`, which panics, without the default hook's report: its payload.
fn quietly<R>(f: impl FnOnce() -> R) -> Box<dyn std::any::Any + Send> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let payload = catch_unwind(AssertUnwindSafe(f)).err().expect("it panics");
    std::panic::set_hook(hook);
    payload
}

/// The real store: document `n` cites `2n` and `2n + 1` up to 7; document 3 is locked.
struct Library;

impl Docs for Library {
    fn title(&self, id: u32, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&format!("Report {id}"))
    }

    fn cites(&self, id: u32) -> Vec<u32> {
        [2 * id, 2 * id + 1]
            .into_iter()
            .filter(|&c| c <= 7)
            .collect()
    }

    fn mark_read(&self, id: u32) -> Result<(), DocsError> {
        if id == 3 {
            Err(DocsError::Locked(id))
        } else {
            Ok(())
        }
    }
}
