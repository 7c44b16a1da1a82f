//! Memoizing a function of an `Rc` graph by its frozen key: `norm::freeze` turns any value
//! that derives `Freeze` — shared nodes, cycles, sets and maps included — into a canonical
//! form, equal exactly for values with the same structure, so a `HashMap` keyed by it
//! remembers results across graphs that were built apart. States linked by references in an
//! arena freeze the same way, cycles included.
//!
//! `cargo run --example freeze`

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use steadfast::norm::{freeze, Canonical, Error, Freeze, Label};

/// A state machine: each state has a name, whether it accepts, and its transitions. States
/// point at each other through `Rc`s, cycles included.
#[derive(Freeze)]
struct State {
    accepting: bool,
    /// By symbol; a map, so the order transitions were added in does not count.
    on: RefCell<HashMap<char, Rc<State>>>,
    /// Symbols this state ignores: a set.
    ignores: BTreeSet<char>,
}

fn state(accepting: bool) -> Rc<State> {
    Rc::new(State {
        accepting,
        on: RefCell::default(),
        ignores: BTreeSet::new(),
    })
}

fn link(from: &Rc<State>, symbol: char, to: &Rc<State>) {
    from.on.borrow_mut().insert(symbol, to.clone());
}

/// An expensive function of a machine: whether it accepts the word (a stand-in for any
/// analysis worth memoizing).
fn accepts(start: &Rc<State>, word: &str) -> bool {
    let mut at = start.clone();
    for symbol in word.chars() {
        let next = at.on.borrow().get(&symbol).cloned();
        match next {
            Some(next) => at = next,
            None => return false,
        }
    }
    at.accepting
}

/// A state in an arena: its transitions references to other states of the arena, cycles
/// included (a reference is known by its value's address, as an `Rc` is).
#[derive(Freeze)]
struct Linked<'a> {
    accepting: bool,
    on: RefCell<HashMap<char, &'a Linked<'a>>>,
}

/// "An even number of a's" in an arena of `n` states around a cycle (`n` even).
fn even_as_in_arena<'a>(n: usize) -> Vec<Linked<'a>> {
    (0..n)
        .map(|i| Linked {
            accepting: i % 2 == 0,
            on: RefCell::default(),
        })
        .collect()
}

/// Links each state of `arena` to the next on 'a', the last to the first.
fn close<'a>(arena: &'a [Linked<'a>]) {
    for (i, state) in arena.iter().enumerate() {
        state
            .on
            .borrow_mut()
            .insert('a', &arena[(i + 1) % arena.len()]);
    }
}

/// The memo: results by the machine's frozen form and the word.
#[derive(Default)]
struct Memo {
    results: HashMap<(Canonical<Label>, String), bool>,
    computed: usize,
}

impl Memo {
    fn accepts(&mut self, start: &Rc<State>, word: &str) -> Result<bool, Error> {
        let key = (freeze(start)?, word.to_string());
        if let Some(&hit) = self.results.get(&key) {
            return Ok(hit);
        }
        self.computed += 1;
        let result = accepts(start, word);
        self.results.insert(key, result);
        Ok(result)
    }
}

/// "An even number of a's": two states in a cycle.
fn even_as() -> Rc<State> {
    let (even, odd) = (state(true), state(false));
    link(&even, 'a', &odd);
    link(&odd, 'a', &even);
    even
}

/// The same language drawn with four states (the cycle unrolled once), transitions added
/// in another order.
fn even_as_unrolled() -> Rc<State> {
    let states: Vec<_> = (0..4).map(|i| state(i % 2 == 0)).collect();
    for i in (0..4).rev() {
        link(&states[i], 'a', &states[(i + 1) % 4]);
    }
    states[0].clone()
}

fn main() -> Result<(), Error> {
    let mut memo = Memo::default();
    let (small, unrolled) = (even_as(), even_as_unrolled());

    // Same structure, built apart: one key, so the second question is a hit.
    assert_eq!(freeze(&small)?, freeze(&unrolled)?);
    assert!(memo.accepts(&small, "aaaa")?);
    assert!(memo.accepts(&unrolled, "aaaa")?);
    assert_eq!(memo.computed, 1);

    // A different machine (odd a's accepted) is a different key.
    let odd = even_as();
    let other = odd.on.borrow()[&'a'].clone();
    assert_ne!(freeze(&odd)?, freeze(&other)?);
    assert!(!memo.accepts(&other, "aaaa")?);
    assert_eq!(memo.computed, 2);

    // A state borrowed for writing cannot be frozen: a typed error, nothing cached.
    let busy = even_as();
    let writing = busy.on.borrow_mut();
    assert!(matches!(
        memo.accepts(&busy, "aa"),
        Err(Error::Borrowed { .. })
    ));
    drop(writing);

    // In an arena, linked by references: the cycle of two and the cycle of six, equal.
    let (two, six) = (even_as_in_arena(2), even_as_in_arena(6));
    close(&two);
    close(&six);
    assert_eq!(freeze(&two[0])?, freeze(&six[0])?);
    assert_ne!(freeze(&two[0])?, freeze(&six[1])?);

    println!(
        "{} questions answered, {} computed; the form of `even a's`: {} nodes, stable hash {:#018x}",
        3,
        memo.computed,
        freeze(&small)?.len(),
        freeze(&small)?.stable_hash()
    );
    // Unlink the cycles so that the states are freed.
    for s in [&small, &unrolled, &odd, &busy] {
        let next: Vec<_> = s.on.borrow().values().cloned().collect();
        s.on.borrow_mut().clear();
        for n in next {
            n.on.borrow_mut().clear();
        }
    }
    Ok(())
}
