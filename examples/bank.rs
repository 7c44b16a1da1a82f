//! A bank whose invariant ties several objects together, changed by transactions.
//!
//! Each account is a capsule with its own invariant (never negative). The bank owns the
//! accounts — their handles live in its `accounts` field — and records a `total`; its
//! invariant is "the balances sum to the total". No single write can keep that invariant:
//! a transfer changes two accounts, a deposit an account and the total. A transaction
//! makes several writes one operation, checked once at its end; if anything fails —
//! an invariant, the closure's own error, a panic — nothing it did stays.
//!
//! `cargo run --example bank`

use std::error::Error as _;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use steadfast::{cached, capsule, mutable, Capsule, Ctx, Error, Heap, Mutable, Transaction};

#[derive(Debug)]
enum Refused {
    Overdrawn { balance: i64 },
    Unbalanced { sum: i64, total: i64 },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Overdrawn { balance } => write!(f, "the balance would be {balance}"),
            Refused::Unbalanced { sum, total } => {
                write!(f, "the accounts sum to {sum}, the books say {total}")
            }
        }
    }
}

impl std::error::Error for Refused {}

#[capsule]
#[derive(Debug)]
struct Account {
    owner: String,
    #[capsule]
    balance: i64,
}

#[cached]
impl Account {
    #[cache(now)]
    fn solvent(balance: &i64) -> Result<(), Refused> {
        if *balance < 0 {
            return Err(Refused::Overdrawn { balance: *balance });
        }
        Ok(())
    }

    /// A mutator: on its own, checked at its end; inside a transaction, at the
    /// transaction's.
    #[cache(clear)]
    fn deposit(balance: &mut i64, amount: i64) {
        *balance += amount;
    }
}

#[mutable]
struct Bank {
    accounts: Vec<Capsule<Account>>,
    total: i64,
}

#[cached]
impl Bank {
    /// Reads every account's balance: a change to any of them invalidates it.
    #[cache(lazy_read)]
    #[allow(clippy::ptr_arg)]
    fn sum(accounts: &Vec<Capsule<Account>>, ctx: &Ctx<'_, Self>) -> i64 {
        accounts
            .iter()
            .map(|a| ctx.field_of(a, &Account::BALANCE).copied().unwrap_or(0))
            .sum()
    }

    #[cache(now)]
    fn balanced(total: &i64, ctx: &Ctx<'_, Self>) -> Result<(), Refused> {
        let sum = ctx.own(&Bank::SUM).copied().unwrap_or_default();
        if sum != *total {
            return Err(Refused::Unbalanced { sum, total: *total });
        }
        Ok(())
    }
}

/// Moves `amount` between two of the bank's accounts: two mutators, one operation.
/// `through` reaches an account by its owner, the bank, whose field holds its handle.
fn transfer(
    tx: &mut Transaction<'_>,
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

fn show(heap: &Heap, bank: &Mutable<Bank>) {
    for a in &heap[bank].accounts {
        let account = &heap[a];
        print!("{}: {}  ", account.owner(), account.balance());
    }
    println!(
        "| sum {} total {}",
        Bank::sum(heap, bank).expect("live"),
        heap[bank].total
    );
}

fn main() -> Result<(), Error> {
    let mut heap = Heap::new();
    let accounts = [("ada", 100), ("brian", 20)]
        .into_iter()
        .map(|(owner, balance)| {
            heap.capsule(Account {
                owner: owner.into(),
                balance,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bank = heap.mutable(Bank {
        accounts,
        total: 120,
    })?;
    show(&heap, &bank);

    // A single write cannot keep "sum == total": it is refused, and nothing changes.
    let err = Bank::set_total(&mut heap, &bank, 150).unwrap_err();
    println!(
        "a lone write to the total: {err}: {}",
        err.source().expect("an invariant failure has a source")
    );

    // A deposit: an account and the total, together.
    heap.transaction(|tx| {
        tx.through(
            &bank,
            |b| &b.accounts[1],
            |tx, a| Account::deposit(tx, a, 30),
        )?;
        Bank::set_total(tx, &bank, 150)
    })?;
    show(&heap, &bank);

    // A transfer: both accounts change, the sum does not.
    heap.transaction(|tx| transfer(tx, &bank, 0, 1, 40))?;
    show(&heap, &bank);

    // An overdraw: brian's invariant fails at the end; ada's credit is undone too.
    let err = heap
        .transaction(|tx| transfer(tx, &bank, 1, 0, 500))
        .unwrap_err();
    println!(
        "an overdraw: {err}: {}",
        err.source().expect("an invariant failure has a source")
    );
    show(&heap, &bank);

    // A leak: money leaves one account and arrives nowhere.
    let err = heap
        .transaction(|tx| {
            tx.through(
                &bank,
                |b| &b.accounts[0],
                |tx, a| Account::deposit(tx, a, -10),
            )
        })
        .unwrap_err();
    println!(
        "a leaky transfer: {err}: {}",
        err.source().expect("an invariant failure has a source")
    );

    // Closing an account without touching the books: refused, and the list of accounts is put
    // back (a capsule handle is not `Clone`, but the list is saved all the same: `Save`).
    let err = heap
        .write(&bank, |w| {
            w.field_mut(&Bank::ACCOUNTS).pop();
        })
        .unwrap_err();
    println!(
        "closing an account off the books: {err}: {}",
        err.source().expect("an invariant failure has a source")
    );
    show(&heap, &bank);

    // A new account, opened and put on the books in one operation.
    heap.transaction(|tx| {
        let carol = tx.capsule(Account {
            owner: "carol".into(),
            balance: 5,
        })?;
        tx.write(&bank, |w| {
            w.field_mut(&Bank::ACCOUNTS).push(carol);
            w.set(&Bank::TOTAL, 155);
        })
    })?;
    show(&heap, &bank);

    // A panic halfway: the transfer's first half is rolled back with it. (The hook only
    // keeps the expected panic's message out of the output.)
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = catch_unwind(AssertUnwindSafe(|| {
        heap.transaction(|tx| {
            transfer(tx, &bank, 0, 2, 10)?;
            panic!("the teller's machine crashed");
            #[allow(unreachable_code)]
            Ok::<_, Error>(())
        })
    }));
    std::panic::set_hook(hook);
    println!("a panic inside: rolled back ({})", r.is_err());
    show(&heap, &bank);

    let balances: Vec<i64> = heap[&bank]
        .accounts
        .iter()
        .map(|a| *heap[a].balance())
        .collect();
    assert_eq!(balances, [60, 90, 5]);
    assert_eq!(*Bank::sum(&heap, &bank)?, 155);
    Ok(())
}
