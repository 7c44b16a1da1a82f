//! Saving a field before its first write, so that a rejected operation can put it back:
//! by `Clone`, or, for values that hold capsule handles (which are not `Clone`: a capsule
//! has one handle), by [`Save`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};

use crate::decl::object::Object;
use crate::heap::handle::Capsule;

/// A value that a rejected operation can put back although it is not `Clone`: one that
/// holds [`Capsule`] handles. The runtime keeps the saved copy to itself and drops one of
/// the two before the operation ends, so a capsule still has one handle.
///
/// Implemented for `Capsule<T>` and for std's containers of `Save` values (`Vec`,
/// `VecDeque`, `Option`, `Box`, arrays, and the values of `BTreeMap` and `HashMap`). A field
/// whose type is `Clone` is saved by cloning; a field that is neither is a compile error,
/// unless its struct is declared `remove_on_failure` (see
/// [`Object::save`](crate::Object::save)).
///
/// Implement it for a type of your own that holds capsules by saving each field: only the
/// runtime can make the [`Saving`] it lends, for the call only, so `save` cannot duplicate a
/// capsule outside an operation's rollback record.
///
/// ```
/// use steadfast::{cached, mutable, Capsule, Heap, Plain, Save, Saving};
/// # use steadfast::capsule;
/// # #[capsule]
/// # struct Account { balance: i64 }
/// # #[cached]
/// # impl Account {}
///
/// #[derive(Plain)]
/// struct Branch {
///     name: String,
///     accounts: Vec<Capsule<Account>>,
/// }
///
/// impl Save for Branch {
///     fn save(&self, saving: &Saving) -> Self {
///         Branch { name: self.name.clone(), accounts: self.accounts.save(saving) }
///     }
/// }
///
/// #[mutable]
/// struct Bank { branch: Branch } // saved before a write: a refused write puts it back
/// #[cached]
/// impl Bank {}
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is neither `Clone` nor `steadfast::Save`",
    note = "a field is saved before its first write, so that a rejected operation can put it back"
)]
pub trait Save: Sized {
    /// A copy for the rollback record.
    fn save(&self, saving: &Saving) -> Self;
}

/// Permission to [`save`](Save::save): made only by the runtime, for a rollback record, and
/// lent for the call only (not `Clone`), so that an implementation cannot keep it to copy
/// capsule handles later.
///
/// ```compile_fail,E0507
/// fn keep(saving: &steadfast::Saving) -> steadfast::Saving {
///     *saving // not `Copy`: it cannot outlive the call it was lent for
/// }
/// ```
///
/// ```compile_fail,E0451
/// let forged = steadfast::Saving { _private: () }; // only the runtime makes one
/// ```
#[derive(Debug)]
pub struct Saving {
    _private: (),
}

impl Saving {
    /// Only the runtime saves (the derive's `Object::save` calls this through
    /// `__private`).
    pub(crate) const fn new() -> Self {
        Saving { _private: () }
    }
}

impl<T: Object> Save for Capsule<T> {
    fn save(&self, _: &Saving) -> Self {
        Capsule::new(self.id, self.link.clone())
    }
}

impl<S: Save> Save for Vec<S> {
    fn save(&self, saving: &Saving) -> Self {
        self.iter().map(|s| s.save(saving)).collect()
    }
}

impl<S: Save> Save for VecDeque<S> {
    fn save(&self, saving: &Saving) -> Self {
        self.iter().map(|s| s.save(saving)).collect()
    }
}

impl<S: Save> Save for Option<S> {
    fn save(&self, saving: &Saving) -> Self {
        self.as_ref().map(|s| s.save(saving))
    }
}

impl<S: Save> Save for Box<S> {
    fn save(&self, saving: &Saving) -> Self {
        Box::new((**self).save(saving))
    }
}

impl<S: Save, const N: usize> Save for [S; N] {
    fn save(&self, saving: &Saving) -> Self {
        self.each_ref().map(|s| s.save(saving))
    }
}

impl<K: Clone + Ord, V: Save> Save for BTreeMap<K, V> {
    fn save(&self, saving: &Saving) -> Self {
        self.iter()
            .map(|(k, v)| (k.clone(), v.save(saving)))
            .collect()
    }
}

impl<K: Clone + Eq + Hash, V: Save, H: BuildHasher + Clone> Save for HashMap<K, V, H> {
    fn save(&self, saving: &Saving) -> Self {
        let mut saved = HashMap::with_capacity_and_hasher(self.len(), self.hasher().clone());
        saved.extend(self.iter().map(|(k, v)| (k.clone(), v.save(saving))));
        saved
    }
}
