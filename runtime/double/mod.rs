//! Test doubles of tracked interfaces: an implementation of a trait declared with
//! [`#[steadfast::interface]`](crate::interface) that answers by clauses, or by replaying
//! what a memo recorded of a real implementation.
//!
//! `clause` says what a clause is; this module matches calls against the clauses, keeps
//! the calls received, and verifies.

mod clause;

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::mem;

use rustc_hash::FxBuildHasher;

pub use clause::{Api, Clause, Matching, Method};
use clause::{Order, Response, Typed};

use crate::error::Error;
use crate::memo::{Interface, Memo};
use spin::Mutex;

/// A test double of interface `I` (`Double<dyn Files>`, or `FilesDouble` as
/// [`#[steadfast::interface]`](crate::interface) names it): it implements the trait, and
/// answers each call by the first of its clauses that matches it, or by a record
/// ([`Double::replaying`]).
///
/// - **Clauses** are built from the interface's API constants (`FilesApi::READ`):
///   [`each_call`](Api::each_call) clauses answer any number of calls in any order,
///   [`next_call`](Api::next_call) clauses the next call in the sequence they are listed
///   in; a clause answers with a value, with a function (which may write through the
///   method's `&mut` parameters), or by panicking; a clause need not be called unless it
///   says so ([`Clause::at_least`], [`Clause::times`]).
/// - **A call no clause answers** panics with an [`Error::Unmatched`] as payload, naming
///   the call and why each clause of its method did not answer it; a method that returns
///   `Result<_, E>` with `E: From<steadfast::Error>` (`steadfast::Error`, `io::Error`,
///   your own) returns it as an error instead.
/// - **Verification** is explicit: [`verify`](Double::verify) returns what went wrong
///   (calls out of order, unmatched calls, clauses called too few times) as data. A
///   double that was never verified verifies itself when dropped, and panics if that
///   fails, unless the thread is panicking already.
/// - **Captors** are built in: [`calls`](Double::calls) returns every call received, in
///   order, as owned call values.
///
/// The calls a double receives are its own record: an operation of a heap that fails and
/// is rolled back does not take them back.
///
/// ```
/// use steadfast::{Double, Error};
///
/// #[steadfast::interface]
/// trait Files {
///     fn read(&self, path: &str) -> Option<String>;
/// }
///
/// let files = FilesDouble::new([
///     FilesApi::READ
///         .each_call()
///         .when(|(path,)| &**path == "a.txt")
///         .returns(Some("alpha".into()))
///         .at_least(1),
///     FilesApi::READ.each_call().returns(None),
/// ]);
/// assert_eq!(files.read("a.txt").as_deref(), Some("alpha"));
/// assert_eq!(files.read("b.txt"), None);
/// assert_eq!(files.calls(), [
///     FilesCall::Read { path: "a.txt".into() },
///     FilesCall::Read { path: "b.txt".into() },
/// ]);
/// files.verify().map_err(|e| e.len())?;
/// # Ok::<(), usize>(())
/// ```
pub struct Double<I: ?Sized + Interface> {
    answers: Answers<I>,
    log: Mutex<Log<I>>,
}

/// Where a double's answers come from.
enum Answers<I: ?Sized + Interface> {
    Clauses {
        clauses: Vec<Clause<I>>,
        /// The `next_call` clauses, in order.
        sequence: Vec<usize>,
    },
    Recorded(HashMap<I::Call, I::Answer, FxBuildHasher>),
}

/// What a double received and did.
struct Log<I: ?Sized + Interface> {
    calls: Vec<I::Call>,
    /// Calls answered, per clause.
    answered: Vec<usize>,
    /// The first clause of the sequence not passed yet.
    next: usize,
    /// Calls out of order and unmatched, not reported yet.
    failures: Vec<Error>,
    verified: bool,
}

/// How a double answers a call (what the generated implementation of the trait does
/// next). Not public API.
#[doc(hidden)]
pub enum Respond<'d, M: Method> {
    /// A clause's value.
    Value(M::Output),
    /// A clause's function, to be called with the call's arguments.
    Answer(&'d M::AnswerFn),
    /// A recorded answer, whose effects on `&mut` parameters are to be replayed.
    Recorded(<M::Interface as Interface>::Answer),
    /// Nothing answers the call.
    Unmatched(Box<Error>),
}

impl<I: ?Sized + Interface> Double<I> {
    /// A double answering by `clauses`, tried in order (the first that matches a call
    /// answers it).
    pub fn new(clauses: impl IntoIterator<Item = Clause<I>>) -> Self {
        let clauses: Vec<Clause<I>> = clauses.into_iter().collect();
        let sequence = (0..clauses.len())
            .filter(|&i| clauses[i].order == Order::Next)
            .collect();
        let answered = vec![0; clauses.len()];
        Self::with(Answers::Clauses { clauses, sequence }, answered)
    }

    /// A double answering every call `memo` recorded (under any key) as it was answered
    /// then: record a real implementation once, test against the record. A call never
    /// recorded gets [`Error::Unrecorded`], naming the recorded calls of its method.
    ///
    /// # Errors
    /// [`Error::Conflicting`] if the memo recorded two answers to one call (runs of two
    /// implementations that differ there): a double answers as one implementation.
    pub fn replaying<K, V>(memo: &Memo<K, V, I>) -> Result<Self, Error> {
        let mut recorded: HashMap<I::Call, I::Answer, FxBuildHasher> = HashMap::default();
        let mut conflict = None;
        memo.each_pair(|call, answer| match recorded.get(call) {
            Some(a) if a != answer => {
                conflict.get_or_insert_with(|| Error::Conflicting {
                    call: format!("{call:?}"),
                    answers: vec![format!("{a:?}"), format!("{answer:?}")],
                });
            }
            Some(_) => {}
            None => {
                recorded.insert(call.clone(), answer.clone());
            }
        });
        match conflict {
            Some(e) => Err(e),
            None => Ok(Self::with(Answers::Recorded(recorded), Vec::new())),
        }
    }

    fn with(answers: Answers<I>, answered: Vec<usize>) -> Self {
        Double {
            answers,
            log: Mutex::new(Log {
                calls: Vec::new(),
                answered,
                next: 0,
                failures: Vec::new(),
                verified: false,
            }),
        }
    }

    /// Every call received so far, in order (what a captor would have gathered), as the
    /// calls store their arguments.
    pub fn calls(&self) -> Vec<I::Call> {
        self.log.lock().calls.clone()
    }

    /// What went wrong since the last verification: calls out of the order the
    /// `next_call` clauses give ([`Error::OutOfOrder`]), calls nothing answered
    /// ([`Error::Unmatched`], [`Error::Unrecorded`]) and clauses that answered fewer calls
    /// than they must ([`Error::Unmet`]). The double then no longer verifies itself when
    /// dropped.
    ///
    /// # Errors
    /// Each failure, in the order met (unmet clauses last).
    pub fn verify(&self) -> Result<(), Vec<Error>> {
        let mut log = self.log.lock();
        log.verified = true;
        let mut failures = mem::take(&mut log.failures);
        if let Answers::Clauses { clauses, .. } = &self.answers {
            for (i, clause) in clauses.iter().enumerate() {
                if log.answered[i] < clause.min {
                    failures.push(Error::Unmet {
                        clause: describe(clauses, i),
                        calls: log.answered[i],
                        expected: clause.expected(),
                    });
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures)
        }
    }

    /// Finds what answers a call of `M` with `args`, and records the call. Not public
    /// API: the generated implementation of the trait calls it.
    #[doc(hidden)]
    pub fn respond<M>(&self, args: M::Args) -> Respond<'_, M>
    where
        M: Method<Interface = I>,
        M::Args: Clone,
    {
        let typed = match &self.answers {
            Answers::Recorded(recorded) => {
                let call = M::call(args);
                let respond = match recorded.get(&call) {
                    Some(answer) => Respond::Recorded(answer.clone()),
                    None => Respond::Unmatched(Box::new(unrecorded(recorded, &call))),
                };
                let mut log = self.log.lock();
                if let Respond::Unmatched(_) = respond {
                    log.failures.push(unrecorded(recorded, &call));
                }
                log.calls.push(call);
                return respond;
            }
            Answers::Clauses { clauses, sequence } => {
                let mut log = self.log.lock();
                let found = find::<M>(&mut log, clauses, sequence, &args);
                let call = M::call(args);
                // Reported twice: now, and by `verify` (a caught panic must not hide it).
                let found = found.map_err(|mismatches| {
                    let unmatched = |mismatches| Error::Unmatched {
                        call: format!("{call:?}"),
                        mismatches,
                    };
                    log.failures.push(unmatched(Vec::clone(&mismatches)));
                    unmatched(mismatches)
                });
                log.calls.push(call);
                match found {
                    Ok((_, typed)) => typed,
                    Err(e) => return Respond::Unmatched(Box::new(e)),
                }
            }
        };
        match &typed.response {
            Response::Value(value) => Respond::Value(value()),
            Response::Static(f) => Respond::Answer(*f),
            Response::Shared(f) => Respond::Answer(&**f),
            Response::Panic(message) => panic!("{message}"),
        }
    }
}

/// The clause that answers a call of `M` with `args`, counted as answering it; or why
/// none does, clause by clause.
fn find<'c, M: Method>(
    log: &mut Log<M::Interface>,
    clauses: &'c [Clause<M::Interface>],
    sequence: &[usize],
    args: &M::Args,
) -> Result<(usize, &'c Typed<M>), Vec<String>>
where
    M::Args: Clone,
{
    // One type check per clause tried: a clause of another method is not a `Typed<M>`.
    let accepts = |i: usize| {
        clauses[i]
            .typed
            .downcast_ref::<Typed<M>>()
            .filter(|t| t.when.as_ref().is_none_or(|when| when(args)))
    };
    let open = |log: &Log<M::Interface>, i: usize| log.answered[i] < clauses[i].max;
    let call = || format!("{:?}", M::call(args.clone()));
    // The sequence, from the first clause not passed: passing a clause that must answer
    // more calls is a call out of order.
    for pos in log.next..sequence.len() {
        let i = sequence[pos];
        let Some(typed) = accepts(i).filter(|_| open(log, i)) else {
            continue;
        };
        {
            let skipped = sequence[log.next..pos]
                .iter()
                .find(|&&j| log.answered[j] < clauses[j].min);
            if let Some(&j) = skipped {
                log.failures.push(Error::OutOfOrder {
                    call: call(),
                    expected: describe(clauses, j),
                });
            }
            log.answered[i] += 1;
            log.next = if log.answered[i] < clauses[i].max {
                pos
            } else {
                pos + 1
            };
            return Ok((i, typed));
        }
    }
    let each = (0..clauses.len()).filter(|&i| clauses[i].order == Order::Each);
    for i in each {
        if let Some(typed) = accepts(i).filter(|_| open(log, i)) {
            log.answered[i] += 1;
            return Ok((i, typed));
        }
    }
    // A clause of the sequence passed already: answered, but out of order.
    for &i in &sequence[..log.next] {
        if let Some(typed) = accepts(i).filter(|_| open(log, i)) {
            let expected = sequence.get(log.next).map_or_else(
                || "the end of the sequence".to_owned(),
                |&j| describe(clauses, j),
            );
            log.failures.push(Error::OutOfOrder {
                call: call(),
                expected,
            });
            log.answered[i] += 1;
            return Ok((i, typed));
        }
    }
    Err((0..clauses.len())
        .filter(|&i| clauses[i].method == TypeId::of::<M>())
        .map(|i| {
            let why = if accepts(i).is_none() {
                "`when` refused the arguments".to_owned()
            } else {
                let n = log.answered[i];
                format!(
                    "answered its {n} call{} already",
                    if n == 1 { "" } else { "s" }
                )
            };
            format!("{}: {why}", describe(clauses, i))
        })
        .collect())
}

/// A clause, for messages: `clause 2 (Files::read, next call)`.
fn describe<I: ?Sized + Interface>(clauses: &[Clause<I>], i: usize) -> String {
    let order = match clauses[i].order {
        Order::Each => "each call",
        Order::Next => "next call",
    };
    format!("clause {} ({}, {order})", i + 1, clauses[i].name)
}

/// How many recorded calls an [`Error::Unrecorded`] names.
const KNOWN: usize = 8;

/// The error for a call a replaying double has no record of: the recorded calls of the
/// same method, the first few in order.
fn unrecorded<C: fmt::Debug, A>(recorded: &HashMap<C, A, FxBuildHasher>, call: &C) -> Error {
    let mut known: Vec<String> = recorded
        .keys()
        .filter(|c| mem::discriminant(*c) == mem::discriminant(call))
        .map(|c| format!("{c:?}"))
        .collect();
    known.sort_unstable();
    if known.len() > KNOWN {
        let more = known.len() - KNOWN;
        known.truncate(KNOWN);
        known.push(format!("({more} more)"));
    }
    Error::Unrecorded {
        call: format!("{call:?}"),
        known,
    }
}

impl<I: ?Sized + Interface> Drop for Double<I> {
    fn drop(&mut self) {
        if self.log.get_mut().verified || std::thread::panicking() {
            return;
        }
        if let Err(failures) = self.verify() {
            let list: Vec<String> = failures.iter().map(|e| format!("- {e}")).collect();
            panic!(
                "a double dropped without being verified fails verification:\n{}",
                list.join("\n")
            );
        }
    }
}

impl<I: ?Sized + Interface> fmt::Debug for Double<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let log = self.log.lock();
        let mut d = f.debug_struct("Double");
        match &self.answers {
            Answers::Clauses { clauses, .. } => d.field("clauses", &clauses.len()),
            Answers::Recorded(recorded) => d.field("recorded", &recorded.len()),
        };
        d.field("calls", &log.calls.len()).finish()
    }
}

/// What a call no clause answers gives: `Err(e.into())` for a method that returns
/// `Result<_, E>` with `E: From<Error>`, else a panic with the error as payload (chosen by
/// the generated code through auto-ref: `(&&Unmatched::<R>::new()).unmatched(e)`). Not
/// public API.
#[doc(hidden)]
pub struct Unmatched<T>(PhantomData<T>);

impl<T> Unmatched<T> {
    #[doc(hidden)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Unmatched(PhantomData)
    }
}

/// Not public API.
#[doc(hidden)]
pub trait ViaErr<T> {
    /// `Err(e.into())`.
    fn unmatched(&self, e: Box<Error>) -> T;
}

impl<T, E: From<Error>> ViaErr<Result<T, E>> for &Unmatched<Result<T, E>> {
    fn unmatched(&self, e: Box<Error>) -> Result<T, E> {
        Err(E::from(*e))
    }
}

/// Not public API.
#[doc(hidden)]
pub trait ViaPanic<T> {
    /// Panics with `e` as payload.
    fn unmatched(&self, e: Box<Error>) -> T;
}

impl<T> ViaPanic<T> for Unmatched<T> {
    fn unmatched(&self, e: Box<Error>) -> T {
        // The default hook prints only string payloads: say what it is first.
        eprintln!("steadfast double: {e}");
        std::panic::panic_any(*e)
    }
}
