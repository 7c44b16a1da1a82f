//! `&mut` parameters of interface methods as effects: what a call did to its argument is
//! recorded with its answer, and replayed into the caller's argument when the answer is
//! served from a record (a memo's lookup, a repeated call, a replaying double) instead of
//! asked again.
//!
//! A tracked implementation is never handed the caller's argument: it runs on a stand-in
//! made from what the call may see of the argument (its [`Replay::Key`], part of the call),
//! and what it did there (its [`Replay::Effect`], part of the answer) is then replayed into
//! the caller's. So a method that writes into a `String` or a `fmt::Formatter` memoizes
//! like one that returns a value.

use std::cell::Cell;
use std::fmt::{self, Debug, Write as _};
use std::hash::Hash;
use std::io;

/// A type an interface method may take by `&mut`: what a call may see of a value of it
/// (`Key`, stored in the call), what a call did to it (`Effect`, stored in the answer),
/// and how to do that again.
///
/// Provided for the append-only sinks — `String`, `Vec<T>`, `dyn fmt::Write`,
/// `dyn io::Write`, and `fmt::Formatter` (recognised by name by
/// [`#[interface]`](crate::interface)) —, whose calls see an empty sink and whose effect
/// is what they appended, and for every [`State`] type, replayed whole.
///
/// ```
/// use steadfast::Replay;
///
/// let mut out = String::from("total: ");
/// // Run a call on a stand-in, as a tracked implementation is, and replay what it did.
/// let ((), appended) = String::stand_in(&out.key(), |s| s.push_str("42"));
/// out.replay(&appended);
/// assert_eq!(out, "total: 42");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a `&mut` parameter of an interface method: what a call does to it is recorded and replayed",
    label = "needs `steadfast::Replay`, or the marker `steadfast::State`",
    note = "`String`, `Vec<T>`, `dyn fmt::Write`, `dyn io::Write` and `fmt::Formatter` are replayed as what a call appends; for a value replayed whole, implement the marker `steadfast::State` for it (it must be `Clone + Eq + Hash + Debug + Send + Sync`)"
)]
pub trait Replay {
    /// What a call may see of the value: `()` for an append-only sink, the value itself
    /// for a [`State`].
    type Key: Clone + Eq + Hash + Debug + Send + Sync + 'static;
    /// What a call did to the value: what it appended, or the value after it.
    type Effect: Clone + Eq + Hash + Debug + Send + Sync + 'static;

    /// What a call would see of `self`.
    fn key(&self) -> Self::Key;

    /// Does to `self` what a recorded call did.
    fn replay(&mut self, effect: &Self::Effect);

    /// Runs `call` on a stand-in for a value whose key is `key`: what it returned and what
    /// it did to the stand-in.
    fn stand_in<R>(key: &Self::Key, call: impl FnOnce(&mut Self) -> R) -> (R, Self::Effect);
}

/// A type replayed whole when an interface method takes it by `&mut`: a call sees the
/// value, and its effect is the value after it. Implement it (it has no methods) for a
/// small comparable type:
///
/// ```
/// #[derive(Clone, PartialEq, Eq, Hash, Debug)]
/// struct Cursor { line: u32, column: u32 }
///
/// impl steadfast::State for Cursor {}
///
/// #[steadfast::interface]
/// trait Editor {
///     /// Moves the cursor to the next word.
///     fn next_word(&self, at: &mut Cursor) -> bool;
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a `&mut` parameter of an interface method: what a call does to it is recorded and replayed",
    label = "needs `steadfast::Replay`, or the marker `steadfast::State`",
    note = "`String`, `Vec<T>`, `dyn fmt::Write`, `dyn io::Write` and `fmt::Formatter` are replayed as what a call appends; for a value replayed whole, implement the marker `steadfast::State` for it (it must be `Clone + Eq + Hash + Debug + Send + Sync`)"
)]
pub trait State: Clone + Eq + Hash + Debug + Send + Sync + 'static {}

impl<T: State> Replay for T {
    type Key = T;
    type Effect = T;

    fn key(&self) -> T {
        self.clone()
    }

    fn replay(&mut self, effect: &T) {
        self.clone_from(effect);
    }

    fn stand_in<R>(key: &T, call: impl FnOnce(&mut T) -> R) -> (R, T) {
        let mut value = key.clone();
        let r = call(&mut value);
        (r, value)
    }
}

macro_rules! states {
    ($($t:ty),*) => { $(impl State for $t {})* };
}

states!(bool, char, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

impl<T: State> State for Option<T> {}

impl Replay for String {
    type Key = ();
    type Effect = String;

    fn key(&self) {}

    fn replay(&mut self, effect: &String) {
        self.push_str(effect);
    }

    fn stand_in<R>((): &(), call: impl FnOnce(&mut String) -> R) -> (R, String) {
        let mut s = String::new();
        let r = call(&mut s);
        (r, s)
    }
}

impl<T: Clone + Eq + Hash + Debug + Send + Sync + 'static> Replay for Vec<T> {
    type Key = ();
    type Effect = Vec<T>;

    fn key(&self) {}

    fn replay(&mut self, effect: &Vec<T>) {
        self.extend_from_slice(effect);
    }

    fn stand_in<R>((): &(), call: impl FnOnce(&mut Vec<T>) -> R) -> (R, Vec<T>) {
        let mut v = Vec::new();
        let r = call(&mut v);
        (r, v)
    }
}

/// A write error while replaying is dropped: the recorded answer (which says how the
/// recorded call went) is what the caller gets.
impl Replay for dyn fmt::Write + '_ {
    type Key = ();
    type Effect = String;

    fn key(&self) {}

    fn replay(&mut self, effect: &String) {
        let _ = self.write_str(effect);
    }

    fn stand_in<R>((): &(), call: impl FnOnce(&mut Self) -> R) -> (R, String) {
        let mut s = String::new();
        let r = call(&mut s);
        (r, s)
    }
}

/// As for `dyn fmt::Write`, a write error while replaying is dropped.
impl Replay for dyn io::Write + '_ {
    type Key = ();
    type Effect = Vec<u8>;

    fn key(&self) {}

    fn replay(&mut self, effect: &Vec<u8>) {
        let _ = self.write_all(effect);
    }

    fn stand_in<R>((): &(), call: impl FnOnce(&mut Self) -> R) -> (R, Vec<u8>) {
        let mut v = Vec::new();
        let r = call(&mut v);
        (r, v)
    }
}

/// What a `fmt` call may see of its formatter: its options. The stand-in formatter has the
/// same ones, so a `Display` that honours width, fill or flags writes there what it would
/// have written to the caller's.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct FormatterKey {
    fill: char,
    /// 0: none, 1: left, 2: right, 3: center.
    align: u8,
    /// 0: none, 1: `+`, 2: `-`.
    sign: u8,
    alternate: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Stands for the fill character in the stand-in's format string (a fill is a literal
/// there), replaced by the real one after: a noncharacter, which text does not hold.
const FILL: char = '\u{10FFFF}';

impl FormatterKey {
    /// The options of `f`.
    pub fn of(f: &fmt::Formatter<'_>) -> Self {
        FormatterKey {
            fill: f.fill(),
            align: match f.align() {
                None => 0,
                Some(fmt::Alignment::Left) => 1,
                Some(fmt::Alignment::Right) => 2,
                Some(fmt::Alignment::Center) => 3,
            },
            sign: if f.sign_plus() {
                1
            } else if f.sign_minus() {
                2
            } else {
                0
            },
            alternate: f.alternate(),
            zero: f.sign_aware_zero_pad(),
            width: f.width(),
            precision: f.precision(),
        }
    }

    /// Runs `call` on a formatter with these options that writes into a string: what it
    /// returned and what it wrote.
    pub fn stand_in<R>(&self, call: impl FnOnce(&mut fmt::Formatter<'_>) -> R) -> (R, String) {
        /// Hands its formatter to `call`, once.
        struct Once<F, R>(Cell<Option<F>>, Cell<Option<R>>);
        impl<F: FnOnce(&mut fmt::Formatter<'_>) -> R, R> fmt::Display for Once<F, R> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if let Some(call) = self.0.take() {
                    self.1.set(Some(call(f)));
                }
                Ok(())
            }
        }
        let once = Once(Cell::new(Some(call)), Cell::new(None));
        let mut out = String::new();
        let o = self;
        macro_rules! FILL_STR {
            () => {
                "\u{10FFFF}"
            };
        }
        // One format string per combination of options: a format string is a literal.
        macro_rules! spec {
            (align) => {
                match o.align {
                    1 => spec!(sign [concat!(FILL_STR!(), "<")]),
                    2 => spec!(sign [concat!(FILL_STR!(), ">")]),
                    3 => spec!(sign [concat!(FILL_STR!(), "^")]),
                    _ => spec!(sign [""]),
                }
            };
            (sign [$s:expr]) => {
                match o.sign {
                    1 => spec!(alternate [concat!($s, "+")]),
                    2 => spec!(alternate [concat!($s, "-")]),
                    _ => spec!(alternate [$s]),
                }
            };
            (alternate [$s:expr]) => {
                if o.alternate { spec!(zero [concat!($s, "#")]) } else { spec!(zero [$s]) }
            };
            (zero [$s:expr]) => {
                if o.zero { spec!(width [concat!($s, "0")]) } else { spec!(width [$s]) }
            };
            (width [$s:expr]) => {
                match o.width {
                    Some(w) => spec!(precision [concat!($s, "w$")] (, w = w)),
                    None => spec!(precision [$s] ()),
                }
            };
            (precision [$s:expr] ($($args:tt)*)) => {
                match o.precision {
                    Some(p) => write!(out, concat!("{0:", $s, ".p$}"), once $($args)*, p = p),
                    None => write!(out, concat!("{0:", $s, "}"), once $($args)*),
                }
            };
        }
        // Writing into a string fails only if the `Display` does, and `Once` does not.
        let _ = spec!(align);
        if o.align != 0 && o.fill != FILL {
            out = out.replace(FILL, o.fill.encode_utf8(&mut [0; 4]));
        }
        let r = once.1.take().expect("the stand-in formatter ran the call");
        (r, out)
    }

    /// Writes what a recorded call wrote. A write error is dropped, as for
    /// `dyn fmt::Write`.
    pub fn replay(f: &mut fmt::Formatter<'_>, effect: &str) {
        let _ = f.write_str(effect);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formats `value` with `{spec}` directly, and through a stand-in made from the
    /// options it saw: the two agree.
    fn same(direct: impl Fn(&mut String, &dyn fmt::Display)) {
        struct Probe<'a>(
            &'a dyn fmt::Display,
            &'a Cell<Option<(FormatterKey, String)>>,
        );
        impl fmt::Display for Probe<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let key = FormatterKey::of(f);
                let ((), through) = key.stand_in(|g| {
                    let _ = fmt::Display::fmt(self.0, g);
                });
                self.1.set(Some((key, through)));
                fmt::Display::fmt(self.0, f)
            }
        }
        for value in [&42 as &dyn fmt::Display, &-7, &"text", &2.5] {
            let seen = Cell::new(None);
            let mut want = String::new();
            direct(&mut want, &Probe(value, &seen));
            let (key, got) = seen.take().expect("formatted");
            assert_eq!(got, want, "{key:?}");
        }
    }

    #[test]
    fn a_stand_in_formatter_has_the_callers_options() {
        same(|s, v| write!(s, "{v}").unwrap());
        same(|s, v| write!(s, "{v:>8}").unwrap());
        same(|s, v| write!(s, "{v:*^9}").unwrap());
        same(|s, v| write!(s, "{v:<+7}").unwrap());
        same(|s, v| write!(s, "{v:#010}").unwrap());
        same(|s, v| write!(s, "{v:.2}").unwrap());
        same(|s, v| write!(s, "{v:é>12.1}").unwrap());
        same(|s, v| write!(s, "{v:-^w$.p$}", w = 11, p = 3).unwrap());
    }

    #[test]
    fn sinks_replay_what_was_appended() {
        let mut v = vec![1, 2];
        let (n, e) = Vec::stand_in(&v.key(), |s| {
            s.extend([3, 4]);
            s.len()
        });
        v.replay(&e);
        assert_eq!((n, v), (2, vec![1, 2, 3, 4]));
        let mut w = String::from("a");
        let sink: &mut dyn fmt::Write = &mut w;
        let ((), e) = <dyn fmt::Write>::stand_in(&sink.key(), |s| s.write_str("bc").unwrap());
        sink.replay(&e);
        assert_eq!(w, "abc");
        let mut n = 5u32;
        let ((), e) = u32::stand_in(&n.key(), |s| *s += 1);
        n.replay(&e);
        assert_eq!(n, 6);
    }
}
