//! G3 for operations over several objects: `Heap::transaction` checks once at its end, and
//! an `Err`, a panic or a failed invariant puts back everything it did. (The model test
//! runs random transactions against the recompute-everything oracle; these are the cases a
//! reader checks by eye.)

mod common;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use steadfast::{cached, capsule, mutable, Capsule, Ctx, Error, Heap, Mutable};

#[derive(Debug)]
struct Broken(String);

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Broken {}

#[capsule]
#[derive(Debug)]
struct Account {
    #[capsule]
    balance: i64,
}

#[cached]
impl Account {
    #[cache(now)]
    fn solvent(balance: &i64) -> Result<(), Broken> {
        common::bump(common::INV_RUNS);
        if *balance < 0 {
            return Err(Broken(format!("balance {balance} < 0")));
        }
        Ok(())
    }

    #[cache(clear)]
    fn deposit(balance: &mut i64, amount: i64) {
        *balance += amount;
    }
}

/// Owns its accounts; its invariant ties them to a recorded total.
#[mutable]
struct Bank {
    accounts: Vec<Capsule<Account>>,
    total: i64,
}

#[cached]
impl Bank {
    #[cache(lazy_read)]
    #[allow(clippy::ptr_arg)]
    fn sum(accounts: &Vec<Capsule<Account>>, ctx: &Ctx<'_, Self>) -> i64 {
        accounts
            .iter()
            .map(|a| ctx.field_of(a, &Account::BALANCE).copied().unwrap_or(0))
            .sum()
    }

    #[cache(now)]
    fn balanced(total: &i64, ctx: &Ctx<'_, Self>) -> Result<(), Broken> {
        common::bump(common::TOTAL_RUNS);
        let sum = *ctx.own(&Bank::SUM)?;
        if sum != *total {
            return Err(Broken(format!("sum {sum} != total {total}")));
        }
        Ok(())
    }
}

impl From<Error> for Broken {
    fn from(e: Error) -> Self {
        Broken(e.to_string())
    }
}

fn bank(heap: &mut Heap, balances: &[i64]) -> Mutable<Bank> {
    let accounts = balances
        .iter()
        .map(|&balance| heap.capsule(Account { balance }).unwrap())
        .collect();
    heap.mutable(Bank {
        accounts,
        total: balances.iter().sum(),
    })
    .unwrap()
}

fn balances(heap: &Heap, bank: &Mutable<Bank>) -> Vec<i64> {
    heap[bank]
        .accounts
        .iter()
        .map(|a| *heap[a].balance())
        .collect()
}

/// Moves `amount` from account `from` to account `to`.
fn transfer(
    tx: &mut steadfast::Transaction<'_>,
    bank: &Mutable<Bank>,
    from: usize,
    to: usize,
    amount: i64,
) -> Result<(), Error> {
    tx.through(
        bank,
        |b| &b.accounts[from],
        |tx, a| Account::deposit(tx, a, -amount),
    )?;
    tx.through(
        bank,
        |b| &b.accounts[to],
        |tx, a| Account::deposit(tx, a, amount),
    )
}

#[test]
fn a_cross_object_invariant_changes_only_through_a_transaction() {
    let mut heap = Heap::new();
    let bank = bank(&mut heap, &[10, 5]);
    // One write alone breaks "sum == total": refused, whichever it is.
    let err = Bank::set_total(&mut heap, &bank, 20).unwrap_err();
    assert_eq!(err.invariant().unwrap().cache, "balanced");
    let err = heap
        .transaction(|tx| {
            tx.through(
                &bank,
                |b| &b.accounts[0],
                |tx, a| Account::deposit(tx, a, 5),
            )
        })
        .unwrap_err();
    assert_eq!(err.invariant().unwrap().cache, "balanced");
    assert_eq!(balances(&heap, &bank), [10, 5]);
    // Both, in one transaction: checked once, at the end.
    heap.transaction(|tx| {
        tx.through(
            &bank,
            |b| &b.accounts[0],
            |tx, a| Account::deposit(tx, a, 5),
        )?;
        Bank::set_total(tx, &bank, 20)
    })
    .unwrap();
    assert_eq!(balances(&heap, &bank), [15, 5]);
    assert_eq!(*Bank::sum(&heap, &bank).unwrap(), 20);
}

#[test]
fn every_invariant_is_checked_once_per_transaction() {
    let mut heap = Heap::new();
    let bank = bank(&mut heap, &[10, 5, 0]);
    common::reset();
    heap.transaction(|tx| {
        for _ in 0..5 {
            transfer(tx, &bank, 0, 1, 1)?;
            transfer(tx, &bank, 1, 2, 1)?;
            Bank::set_total(tx, &bank, 15)?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(balances(&heap, &bank), [5, 5, 5]);
    assert_eq!(common::count(common::INV_RUNS), 3, "each account's, once");
    assert_eq!(common::count(common::TOTAL_RUNS), 1, "the bank's, once");
    // Transfers alone leave the sum as it was: the bank's invariant is not rerun (early
    // cutoff); the accounts' are, once each.
    common::reset();
    heap.transaction(|tx| {
        transfer(tx, &bank, 0, 1, 2)?;
        transfer(tx, &bank, 0, 1, 1)
    })
    .unwrap();
    assert_eq!(balances(&heap, &bank), [2, 8, 5]);
    assert_eq!(common::count(common::INV_RUNS), 2);
    assert_eq!(common::count(common::TOTAL_RUNS), 0);
}

#[test]
fn an_overdraw_and_a_leak_are_refused_with_nothing_changed() {
    let mut heap = Heap::new();
    let bank = bank(&mut heap, &[10, 5]);
    let edges = heap.edges();
    let err = heap
        .transaction(|tx| transfer(tx, &bank, 1, 0, 6))
        .unwrap_err();
    assert_eq!(err.invariant().unwrap().cache, "solvent");
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("balance -1 < 0"), "{source}");
    let err = heap
        .transaction(|tx| {
            tx.through(
                &bank,
                |b| &b.accounts[0],
                |tx, a| Account::deposit(tx, a, -3),
            )
        })
        .unwrap_err();
    assert_eq!(err.invariant().unwrap().cache, "balanced");
    assert_eq!(balances(&heap, &bank), [10, 5]);
    assert_eq!(heap.edges(), edges);
    assert_eq!(*Bank::sum(&heap, &bank).unwrap(), 15);
}

/// Allocates, removes, writes and reads; then fails in each way a transaction can fail.
fn busy(
    tx: &mut steadfast::Transaction<'_>,
    bank: &Mutable<Bank>,
    spare: &Capsule<Account>,
    made: &mut Option<Capsule<Account>>,
) -> Result<(), Broken> {
    transfer(tx, bank, 0, 1, 4)?;
    // A read inside sees the writes so far.
    assert_eq!(*Bank::sum(tx, bank)?, 15);
    assert_eq!(*tx[&tx[bank].accounts[1]].balance(), 9);
    *made = Some(tx.capsule(Account { balance: 7 })?);
    tx.remove(spare)?;
    assert!(matches!(tx.get(spare), Err(Error::Removed { .. })));
    Ok(())
}

#[test]
fn an_err_a_panic_or_a_failed_invariant_puts_everything_back() {
    for ending in ["err", "panic", "invariant"] {
        let mut heap = Heap::new();
        let bank = bank(&mut heap, &[10, 5]);
        let spare = heap.capsule(Account { balance: 1 }).unwrap();
        assert_eq!(*Bank::sum(&heap, &bank).unwrap(), 15);
        let (edges, len) = (heap.edges(), heap.len());
        let mut made = None;
        let r = catch_unwind(AssertUnwindSafe(|| {
            heap.transaction(|tx| {
                busy(tx, &bank, &spare, &mut made)?;
                match ending {
                    "err" => Err(Broken("given up".into())),
                    "panic" => panic!("given up"),
                    _ => Bank::set_total(tx, &bank, 99)
                        .map(drop)
                        .map_err(Broken::from),
                }
            })
        }));
        match ending {
            "err" => assert_eq!(r.unwrap().unwrap_err().0, "given up"),
            "panic" => assert!(r.is_err()),
            _ => assert!(r.unwrap().unwrap_err().0.contains("balanced")),
        }
        // Fields, caches and edges as before; the allocation gone; the removal undone with
        // the same handle valid.
        assert_eq!(balances(&heap, &bank), [10, 5], "{ending}");
        assert_eq!(*Bank::sum(&heap, &bank).unwrap(), 15, "{ending}");
        assert_eq!(heap[&bank].total, 15, "{ending}");
        assert_eq!(heap.edges(), edges, "{ending}");
        assert_eq!(heap.len(), len, "{ending}");
        let made = made.expect("the closure ran");
        assert!(
            matches!(heap.get(&made), Err(Error::Removed { .. })),
            "{ending}"
        );
        assert_eq!(*heap[&spare].balance(), 1, "{ending}");
        assert!(heap.cached(&spare, &Account::SOLVENT).unwrap().is_ok());
        // And the heap goes on working.
        heap.transaction(|tx| transfer(tx, &bank, 0, 1, 2)).unwrap();
        assert_eq!(*Bank::sum(&heap, &bank).unwrap(), 15);
        assert_eq!(balances(&heap, &bank), [8, 7]);
    }
}

#[test]
fn a_refused_write_of_a_list_of_capsules_puts_the_list_back() {
    // `Vec<Capsule<Account>>` is not `Clone` (a capsule has one handle) but is `Save`: a
    // refused write restores the list, it does not remove the bank.
    let mut heap = Heap::new();
    let bank = bank(&mut heap, &[10, 5]);
    let first = heap[&bank].accounts[0].id();
    let err = heap
        .write(&bank, |w| {
            w.field_mut(&Bank::ACCOUNTS).pop();
        })
        .unwrap_err();
    assert_eq!(err.invariant().unwrap().cache, "balanced");
    assert!(err.into_value::<Bank>().is_none(), "nothing was removed");
    assert!(heap.contains(&bank));
    assert_eq!(balances(&heap, &bank), [10, 5]);
    assert_eq!(heap[&bank].accounts[0].id(), first);
    assert_eq!(*Bank::sum(&heap, &bank).unwrap(), 15);
    // The same in a transaction that fails after the write.
    let err = heap
        .transaction(|tx| {
            tx.write(&bank, |w| w.field_mut(&Bank::ACCOUNTS).reverse())?;
            Bank::set_total(tx, &bank, 1)
        })
        .unwrap_err();
    assert_eq!(err.invariant().unwrap().cache, "balanced");
    assert_eq!(balances(&heap, &bank), [10, 5]);
    // The restored handles still reach their accounts through the bank.
    heap.transaction(|tx| {
        tx.through(
            &bank,
            |b| &b.accounts[1],
            |tx, a| Account::deposit(tx, a, 5),
        )?;
        Bank::set_total(tx, &bank, 20)
    })
    .unwrap();
    assert_eq!(balances(&heap, &bank), [10, 10]);
}

#[test]
fn removals_commit_and_allocations_stay() {
    let mut heap = Heap::new();
    let spare = heap.capsule(Account { balance: 1 }).unwrap();
    let made = heap
        .transaction(|tx| {
            tx.remove(&spare)?;
            tx.capsule(Account { balance: 7 })
        })
        .unwrap();
    assert!(matches!(heap.get(&spare), Err(Error::Removed { .. })));
    assert_eq!(*heap[&made].balance(), 7);
    assert!(heap.cached(&made, &Account::SOLVENT).unwrap().is_ok());
}

#[test]
fn bad_input_is_a_typed_error_that_changes_nothing() {
    let mut heap = Heap::new();
    let bank = bank(&mut heap, &[10, 5]);
    let stray: &'static Capsule<Account> =
        Box::leak(Box::new(heap.capsule(Account { balance: 0 }).unwrap()));
    let mut other = Heap::new();
    let foreign = other.capsule(Account { balance: 0 }).unwrap();
    heap.transaction(|tx| {
        // A capsule the owner does not hold: `f` does not run.
        let r = tx.through(
            &bank,
            |_| stray,
            |_, _| -> Result<(), Error> { unreachable!("not reached") },
        );
        assert!(matches!(r, Err(Error::NotOwned { .. })), "{r:?}");
        // Another heap's handle.
        let r = Account::deposit(tx, &foreign, 1);
        assert!(matches!(r, Err(Error::ForeignHandle { .. })), "{r:?}");
        // An object removed earlier in the transaction: gone for every later step.
        tx.remove(stray)?;
        assert!(matches!(tx.remove(stray), Err(Error::Removed { .. })));
        assert!(matches!(
            Account::deposit(tx, stray, 1),
            Err(Error::Removed { .. })
        ));
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(balances(&heap, &bank), [10, 5]);
    assert!(matches!(heap.get(stray), Err(Error::Removed { .. })));
}

#[test]
fn a_box_may_fork_and_join_and_is_checked_once() {
    #[capsule]
    struct Halves {
        #[capsule]
        left: Vec<i64>,
        #[capsule]
        right: Vec<i64>,
    }

    #[cached]
    impl Halves {
        #[cache(now)]
        #[allow(clippy::ptr_arg)]
        fn sorted(left: &Vec<i64>, right: &Vec<i64>) -> Result<(), Broken> {
            common::bump(common::PARITY_RUNS);
            let ok = |v: &[i64]| v.windows(2).all(|w| w[0] <= w[1]);
            if ok(left) && ok(right) {
                Ok(())
            } else {
                Err(Broken("unsorted".into()))
            }
        }
    }

    let mut heap = Heap::new();
    let h = heap
        .capsule(Halves {
            left: vec![1, 2, 3],
            right: vec![4, 5, 6],
        })
        .unwrap();
    common::reset();
    heap.open_box(&h, |raw| {
        let (left, right) = (&mut raw.left, &mut raw.right);
        rayon::join(|| left.iter_mut().for_each(|x| *x *= 2), || right.reverse());
        right.sort();
    })
    .unwrap();
    assert_eq!(common::count(common::PARITY_RUNS), 1);
    assert_eq!(
        (heap[&h].left(), heap[&h].right()),
        (&vec![2, 4, 6], &vec![4, 5, 6])
    );
    // A panic in one branch: both halves come back.
    let r = catch_unwind(AssertUnwindSafe(|| {
        heap.open_box(&h, |raw| {
            let (left, right) = (&mut raw.left, &mut raw.right);
            rayon::join(
                || left.push(0),
                || {
                    right.push(7);
                    panic!("one branch fails")
                },
            );
        })
    }));
    assert!(r.is_err());
    assert_eq!(
        (heap[&h].left(), heap[&h].right()),
        (&vec![2, 4, 6], &vec![4, 5, 6])
    );
}

/// Transactions over objects whose caches read only their own fields: their writes take
/// the own path (checked at the end without the journal) until another object reads a
/// written field, which moves that object's writes to the journal. Random transactions
/// against a recompute-everything model.
mod own_path {
    use super::*;
    use proptest::prelude::*;

    const PANIC_A: i64 = 13;

    #[mutable]
    #[derive(Clone, Debug, PartialEq)]
    struct Pair {
        a: i64,
        b: i64,
    }

    #[cached]
    impl Pair {
        #[cache(lazy_read)]
        fn sum(a: &i64, b: &i64) -> i64 {
            a + b
        }

        /// A `now` value that panics on `a == PANIC_A`.
        #[cache(now)]
        fn diff(a: &i64, b: &i64) -> i64 {
            assert!(*a != PANIC_A, "diff panics");
            a - b
        }

        #[cache(now)]
        fn small(a: &i64) -> Result<(), Broken> {
            if *a <= 100 {
                Ok(())
            } else {
                Err(Broken(format!("a = {a} > 100")))
            }
        }

        #[cache(now)]
        fn ordered(a: &i64, b: &i64) -> Result<(), Broken> {
            if *b <= *a + 50 {
                Ok(())
            } else {
                Err(Broken(format!("b = {b} > a + 50")))
            }
        }
    }

    /// Reads a pair's `a` from outside: once read, writes of that `a` are loud.
    #[mutable]
    struct Peek {
        target: Mutable<Pair>,
    }

    #[cached]
    impl Peek {
        #[cache(lazy_read)]
        fn seen(target: &Mutable<Pair>, ctx: &Ctx<'_, Self>) -> i64 {
            ctx.field_of(target, &Pair::A).copied().unwrap_or(-1)
        }

        /// Reads the pair's `sum` from outside: once read, `sum` has a dependent (and
        /// early cutoff to serve), and writes of both fields are loud.
        #[cache(lazy_read)]
        fn twice(target: &Mutable<Pair>, ctx: &Ctx<'_, Self>) -> i64 {
            ctx.cached(target, &Pair::SUM).map_or(-1, |s| 2 * s)
        }
    }

    #[derive(Clone, Debug)]
    enum Step {
        SetA(usize, i64),
        SetB(usize, i64),
        Both(usize, i64, i64),
        ReadSum(usize),
        ReadDiff(usize),
        Peek(usize),
        Twice(usize),
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum End {
        Ok,
        Err,
        Panic,
    }

    const N: usize = 3;

    fn value() -> impl Strategy<Value = i64> {
        prop_oneof![8 => -20i64..130, 1 => Just(PANIC_A)]
    }

    fn step() -> impl Strategy<Value = Step> {
        let i = 0..N;
        prop_oneof![
            3 => (i.clone(), value()).prop_map(|(i, v)| Step::SetA(i, v)),
            3 => (i.clone(), value()).prop_map(|(i, v)| Step::SetB(i, v)),
            2 => (i.clone(), value(), value()).prop_map(|(i, a, b)| Step::Both(i, a, b)),
            1 => i.clone().prop_map(Step::ReadSum),
            1 => i.clone().prop_map(Step::ReadDiff),
            1 => i.clone().prop_map(Step::Peek),
            1 => i.prop_map(Step::Twice),
        ]
    }

    fn holds(&(a, b): &(i64, i64)) -> bool {
        a <= 100 && b <= a + 50
    }

    /// One transaction: `Ok(true)` if it must commit, `Ok(false)` if an invariant refuses
    /// it, `Err(())` if it must panic; `wrong` collects reads inside that disagree.
    fn run(
        heap: &mut Heap,
        pairs: &[Mutable<Pair>],
        peeks: &[Mutable<Peek>],
        model: &mut [(i64, i64)],
        steps: &[Step],
        end: End,
    ) {
        let mut next = model.to_vec();
        let mut written = [false; N];
        let mut wrong = Vec::new();
        let mut panicked_inside = false;
        let r = catch_unwind(AssertUnwindSafe(|| {
            heap.transaction(|tx| {
                for step in steps {
                    match *step {
                        Step::SetA(i, v) => {
                            Pair::set_a(tx, &pairs[i], v)?;
                            next[i].0 = v;
                            written[i] = true;
                        }
                        Step::SetB(i, v) => {
                            Pair::set_b(tx, &pairs[i], v)?;
                            next[i].1 = v;
                            written[i] = true;
                        }
                        Step::Both(i, a, b) => {
                            tx.write(&pairs[i], |w| {
                                w.set(&Pair::A, a);
                                w.set(&Pair::B, b);
                            })?;
                            next[i] = (a, b);
                            written[i] = true;
                        }
                        Step::ReadSum(i) => {
                            let (a, b) = next[i];
                            if *Pair::sum(tx, &pairs[i])? != a + b {
                                wrong.push(format!("{step:?}"));
                            }
                        }
                        Step::ReadDiff(i) => {
                            let (a, b) = next[i];
                            panicked_inside = a == PANIC_A;
                            if *tx.cached(&pairs[i], &Pair::DIFF)? != a - b {
                                wrong.push(format!("{step:?}"));
                            }
                        }
                        Step::Peek(i) => {
                            if *Peek::seen(tx, &peeks[i])? != next[i].0 {
                                wrong.push(format!("{step:?}"));
                            }
                        }
                        Step::Twice(i) => {
                            let (a, b) = next[i];
                            if *Peek::twice(tx, &peeks[i])? != 2 * (a + b) {
                                wrong.push(format!("{step:?}"));
                            }
                        }
                    }
                }
                match end {
                    End::Ok => Ok(()),
                    End::Err => Err(Error::Schema {
                        type_name: "given up",
                        detail: String::new(),
                    }),
                    End::Panic => panic!("the transaction panics"),
                }
            })
        }));
        assert!(wrong.is_empty(), "{steps:?}: reads inside: {wrong:?}");
        let panics = (0..N).any(|i| written[i] && next[i].0 == PANIC_A);
        let broken = !next.iter().all(holds);
        let commit = match (r, end) {
            (Err(_), End::Panic) => false,
            (Err(_), _) => {
                assert!(panicked_inside || panics, "{steps:?}: an unexpected panic");
                false
            }
            (Ok(Err(Error::Schema { .. })), End::Err) => false,
            (Ok(Ok(())), End::Ok) => {
                assert!(!broken && !panics, "{steps:?}: committed a broken state");
                true
            }
            (Ok(Err(e)), End::Ok) => {
                assert!(
                    broken,
                    "{steps:?}: refused with every invariant holding: {e}"
                );
                assert!(e.invariant().is_some(), "{e}");
                false
            }
            (r, end) => panic!("{steps:?} ending {end:?}: {r:?}"),
        };
        if commit {
            model.copy_from_slice(&next);
        }
    }

    /// Every cache equals a recomputation; with `peek`, the peeks are read (making `a` loud
    /// for the next transaction); without `sum`, the `lazy_read` cache is left unread, so
    /// that the own path next invalidates it rather than recomputing it.
    fn check(
        heap: &Heap,
        pairs: &[Mutable<Pair>],
        peeks: &[Mutable<Peek>],
        model: &[(i64, i64)],
        peek: bool,
        sum: bool,
    ) {
        for i in 0..N {
            let (a, b) = model[i];
            assert_eq!(heap[&pairs[i]], Pair { a, b }, "pair {i}");
            if sum {
                assert_eq!(*Pair::sum(heap, &pairs[i]).unwrap(), a + b, "sum {i}");
            }
            assert_eq!(
                *heap.cached(&pairs[i], &Pair::DIFF).unwrap(),
                a - b,
                "diff {i}"
            );
            assert!(heap.cached(&pairs[i], &Pair::SMALL).unwrap().is_ok());
            assert!(heap.cached(&pairs[i], &Pair::ORDERED).unwrap().is_ok());
            if peek {
                assert_eq!(*Peek::seen(heap, &peeks[i]).unwrap(), a, "peek {i}");
            }
            if sum && peek {
                assert_eq!(
                    *Peek::twice(heap, &peeks[i]).unwrap(),
                    2 * (a + b),
                    "twice {i}"
                );
            }
        }
    }

    /// A setter outside any transaction (on the own path unless the field is loud), checked
    /// at once: the model takes it only if every invariant holds and nothing panics.
    fn single(
        heap: &mut Heap,
        pairs: &[Mutable<Pair>],
        model: &mut [(i64, i64)],
        (i, of_a, v): (usize, bool, i64),
    ) {
        let mut next = model[i];
        if of_a {
            next.0 = v;
        } else {
            next.1 = v;
        }
        let r = catch_unwind(AssertUnwindSafe(|| match of_a {
            true => Pair::set_a(heap, &pairs[i], v),
            false => Pair::set_b(heap, &pairs[i], v),
        }));
        match r {
            Err(_) => assert_eq!(next.0, PANIC_A, "an unexpected panic"),
            Ok(Ok(_)) => {
                assert!(holds(&next) && next.0 != PANIC_A, "accepted {next:?}");
                model[i] = next;
            }
            Ok(Err(e)) => {
                assert!(!holds(&next), "refused {next:?}: {e}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: common::model_cases(1000),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn transactions_on_the_own_path_match_the_model(
            txs in prop::collection::vec(
                (
                    prop::collection::vec((0..N, any::<bool>(), value()), 0..4),
                    prop::collection::vec(step(), 1..8),
                    prop_oneof![6 => Just(End::Ok), 1 => Just(End::Err), 1 => Just(End::Panic)],
                    any::<bool>(),
                    any::<bool>(),
                ),
                1..12,
            )
        ) {
            let mut heap = Heap::new();
            let mut model = vec![(0, 0); N];
            let pairs: Vec<Mutable<Pair>> =
                (0..N).map(|_| heap.mutable(Pair { a: 0, b: 0 }).unwrap()).collect();
            let peeks: Vec<Mutable<Peek>> = pairs
                .iter()
                .map(|p| heap.mutable(Peek { target: p.clone() }).unwrap())
                .collect();
            for (singles, steps, end, peek, sum) in txs {
                for s in singles {
                    single(&mut heap, &pairs, &mut model, s);
                    check(&heap, &pairs, &peeks, &model, false, sum);
                }
                run(&mut heap, &pairs, &peeks, &mut model, &steps, end);
                check(&heap, &pairs, &peeks, &model, peek, sum);
            }
        }
    }
}

/// Objects whose caches all read only their own fields have no tracking nodes until
/// something tracks them (another object's cache reads one, a write goes through the
/// barrier, a transaction computes one): the same sequences, against the same model.
mod untracked {
    use super::*;
    use proptest::prelude::*;
    use steadfast::HeapMut;

    #[derive(Clone, Copy, Debug)]
    enum End {
        Ok,
        Err,
        Panic,
    }

    #[mutable]
    #[derive(Clone, Debug, PartialEq)]
    struct Lazy {
        a: i64,
        b: i64,
    }

    #[cached]
    impl Lazy {
        #[cache(lazy_read)]
        fn sum(a: &i64, b: &i64) -> i64 {
            a + b
        }

        #[cache(lazy_read)]
        fn neg(b: &i64) -> i64 {
            -b
        }
    }

    /// Reads a `Lazy` from outside: its `a`, and its `sum`.
    #[mutable]
    struct Watch {
        target: Mutable<Lazy>,
    }

    #[cached]
    impl Watch {
        #[cache(lazy_read)]
        fn a(target: &Mutable<Lazy>, ctx: &Ctx<'_, Self>) -> i64 {
            ctx.field_of(target, &Lazy::A).copied().unwrap_or(-1)
        }

        #[cache(lazy_read)]
        fn twice(target: &Mutable<Lazy>, ctx: &Ctx<'_, Self>) -> i64 {
            ctx.cached(target, &Lazy::SUM).map_or(-1, |s| 2 * s)
        }
    }

    const N: usize = 3;

    #[derive(Clone, Debug)]
    enum Op {
        SetA(usize, i64),
        SetB(usize, i64),
        Both(usize, i64, i64),
        /// Reads: `sum`, `neg`, the watcher's `a`, the watcher's `twice`.
        Read(usize, u8),
        /// Removes the watcher and makes a new one (outside transactions): its edges go,
        /// and the fields it read stay loud until a write finds them unread.
        Rewatch(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let i = 0..N;
        prop_oneof![
            3 => (i.clone(), -9i64..9).prop_map(|(i, v)| Op::SetA(i, v)),
            3 => (i.clone(), -9i64..9).prop_map(|(i, v)| Op::SetB(i, v)),
            2 => (i.clone(), -9i64..9, -9i64..9).prop_map(|(i, a, b)| Op::Both(i, a, b)),
            4 => (i.clone(), 0u8..4).prop_map(|(i, r)| Op::Read(i, r)),
            1 => i.prop_map(Op::Rewatch),
        ]
    }

    /// What a read gives, by the model.
    fn expected((a, b): (i64, i64), r: u8) -> i64 {
        match r {
            0 => a + b,
            1 => -b,
            2 => a,
            _ => 2 * (a + b),
        }
    }

    fn read(
        heap: &Heap,
        lazies: &[Mutable<Lazy>],
        watches: &[Mutable<Watch>],
        i: usize,
        r: u8,
    ) -> i64 {
        match r {
            0 => *Lazy::sum(heap, &lazies[i]).unwrap(),
            1 => *Lazy::neg(heap, &lazies[i]).unwrap(),
            2 => *Watch::a(heap, &watches[i]).unwrap(),
            _ => *Watch::twice(heap, &watches[i]).unwrap(),
        }
    }

    /// Applies one write to the heap (any `HeapMut`) and to the model.
    fn write(
        heap: &mut impl HeapMut,
        lazies: &[Mutable<Lazy>],
        model: &mut [(i64, i64)],
        op: &Op,
    ) -> Result<(), Error> {
        match *op {
            Op::SetA(i, v) => {
                Lazy::set_a(heap, &lazies[i], v)?;
                model[i].0 = v;
            }
            Op::SetB(i, v) => {
                Lazy::set_b(heap, &lazies[i], v)?;
                model[i].1 = v;
            }
            Op::Both(i, a, b) => {
                heap.write(&lazies[i], |w| {
                    w.set(&Lazy::A, a);
                    w.set(&Lazy::B, b);
                })?;
                model[i] = (a, b);
            }
            Op::Read(..) | Op::Rewatch(_) => {}
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: common::model_cases(1000),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Each round: writes on the heap (each its own operation), then a transaction of
        /// writes and reads that commits, returns `Err` or panics; reads are compared with
        /// the model inside and after.
        #[test]
        fn untracked_objects_match_the_model(
            rounds in prop::collection::vec(
                (
                    prop::collection::vec(op(), 0..6),
                    prop::collection::vec(op(), 0..6),
                    prop_oneof![4 => Just(End::Ok), 1 => Just(End::Err), 1 => Just(End::Panic)],
                    any::<bool>(),
                ),
                1..10,
            )
        ) {
            let mut heap = Heap::new();
            let mut model = vec![(0, 0); N];
            let lazies: Vec<Mutable<Lazy>> =
                (0..N).map(|_| heap.mutable(Lazy { a: 0, b: 0 }).unwrap()).collect();
            let mut watches: Vec<Mutable<Watch>> = lazies
                .iter()
                .map(|l| heap.mutable(Watch { target: l.clone() }).unwrap())
                .collect();
            for (singles, steps, end, watch) in rounds {
                for op in &singles {
                    if let Op::Read(i, r) = *op {
                        prop_assert_eq!(read(&heap, &lazies, &watches, i, r), expected(model[i], r), "{:?}", op);
                    } else if let Op::Rewatch(i) = *op {
                        heap.remove(&watches[i].clone()).unwrap();
                        watches[i] = heap.mutable(Watch { target: lazies[i].clone() }).unwrap();
                    } else {
                        write(&mut heap, &lazies, &mut model, op).unwrap();
                    }
                }
                let mut next = model.clone();
                let mut wrong = Vec::new();
                let out = catch_unwind(AssertUnwindSafe(|| {
                    heap.transaction(|tx| {
                        for op in &steps {
                            if let Op::Read(i, r) = *op {
                                if read(tx, &lazies, &watches, i, r) != expected(next[i], r) {
                                    wrong.push(op.clone());
                                }
                            } else {
                                write(tx, &lazies, &mut next, op)?;
                            }
                        }
                        match end {
                            End::Ok => Ok(()),
                            End::Err => Err(Error::Schema { type_name: "given up", detail: String::new() }),
                            End::Panic => panic!("the transaction panics"),
                        }
                    })
                }));
                prop_assert!(wrong.is_empty(), "reads inside {:?}: {:?}", steps, wrong);
                if matches!(out, Ok(Ok(()))) {
                    model = next;
                }
                for i in 0..N {
                    prop_assert_eq!(heap[&lazies[i]].clone(), Lazy { a: model[i].0, b: model[i].1 });
                    // The watchers only at times: their reads make the objects tracked.
                    for r in 0..if watch { 4 } else { 2 } {
                        prop_assert_eq!(read(&heap, &lazies, &watches, i, r), expected(model[i], r), "read {} of {}", r, i);
                    }
                }
            }
        }
    }

    /// A capsule of such a type gets its nodes when it is frozen, and its equals then share
    /// its caches.
    #[test]
    fn a_frozen_capsule_is_tracked() -> Result<(), Error> {
        let mut heap = Heap::new();
        let c = heap.capsule(Lazy { a: 2, b: 3 })?;
        assert_eq!(*Lazy::sum(&heap, &c)?, 5);
        let frozen = heap.freeze(c)?;
        let twin = heap.imm(Lazy { a: 2, b: 3 })?;
        assert_eq!(heap.class_of(&frozen)?, heap.class_of(&twin)?);
        assert_eq!(*Lazy::sum(&heap, &twin)?, 5);
        assert_eq!(*Lazy::neg(&heap, &frozen)?, -3);
        heap.remove(&frozen)?;
        assert_eq!(*Lazy::sum(&heap, &twin)?, 5);
        Ok(())
    }
}
