//! What a double's clauses say: which calls of which method they answer, how, and how
//! often.

use std::any::{Any, TypeId};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::memo::Interface;

/// One method of an interface, as a double's clauses name it. `#[steadfast::interface]`
/// makes one per method, reached through the interface's API constants (`FilesApi::READ`
/// for the method `read` of `Files`).
pub trait Method: Send + Sync + 'static {
    /// The interface.
    type Interface: ?Sized + Interface;
    /// The method's arguments as its call stores them, in order, as a tuple: what a
    /// clause's `when` sees.
    type Args: Send + Sync + 'static;
    /// What the method returns.
    type Output: 'static;
    /// What answers a call: `dyn Fn(&Double<dyn Trait>, <the method's parameters>) ->
    /// <its return type> + Send + Sync`, so that it may write through `&mut` parameters
    /// whatever their lifetimes.
    type AnswerFn: ?Sized + Send + Sync + 'static;
    /// `Trait::method`, for messages.
    const NAME: &'static str;
    /// The call with these arguments.
    fn call(args: Self::Args) -> <Self::Interface as Interface>::Call;
}

/// A method of an interface, for building a double's clauses: `FilesApi::READ`.
pub struct Api<M>(PhantomData<M>);

impl<M> Api<M> {
    /// The method's API constant (made by `#[steadfast::interface]`).
    #[doc(hidden)]
    pub const fn new() -> Self {
        Api(PhantomData)
    }
}

impl<M: Method> Api<M> {
    /// Clauses for any number of calls of the method, in any order.
    pub fn each_call(&self) -> Matching<M> {
        Matching::new(Order::Each)
    }

    /// A clause for the next call of the method in the sequence the `next_call` clauses
    /// give, in the order they are listed: at most one call unless [`Clause::times`] or
    /// [`Clause::at_most`] says otherwise.
    pub fn next_call(&self) -> Matching<M> {
        Matching::new(Order::Next)
    }
}

impl<M> Clone for Api<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Api<M> {}

impl<M: Method> fmt::Debug for Api<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Api({})", M::NAME)
    }
}

/// Whether a clause answers calls in any order or in the sequence of `next_call` clauses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    Each,
    Next,
}

/// A clause being built: which calls of method `M` it matches. It becomes a [`Clause`]
/// once it says how it answers.
#[must_use = "a clause answers nothing until it says how: `returns`, `answers`, `answers_arc` or `panics`"]
pub struct Matching<M: Method> {
    order: Order,
    when: Option<Box<When<M>>>,
}

/// Which calls a clause matches, by their arguments.
type When<M> = dyn Fn(&<M as Method>::Args) -> bool + Send + Sync;

impl<M: Method> Matching<M> {
    fn new(order: Order) -> Self {
        Matching { order, when: None }
    }

    /// Matches only the calls whose arguments (as the call stores them: `&str` as
    /// `Arc<str>`, a `&mut` parameter as what a call may see of it) `when` accepts.
    pub fn when(mut self, when: impl Fn(&M::Args) -> bool + Send + Sync + 'static) -> Self {
        self.when = Some(Box::new(when));
        self
    }

    /// Matches only the calls with these arguments.
    pub fn with(self, args: M::Args) -> Self
    where
        M::Args: PartialEq,
    {
        self.when(move |a| *a == args)
    }

    /// Answers with a copy of `value`.
    pub fn returns(self, value: M::Output) -> Clause<M::Interface>
    where
        M::Output: Clone + Send + Sync,
    {
        self.respond(Response::Value(Box::new(move || value.clone())))
    }

    /// Answers with `f`, called with the double and the call's arguments as the method
    /// takes them (so it may write through its `&mut` parameters). A closure that captures
    /// nothing is `'static` as written: `.answers(&|_, path| ...)`.
    pub fn answers(self, f: &'static M::AnswerFn) -> Clause<M::Interface> {
        self.respond(Response::Static(f))
    }

    /// Answers with a shared closure, which may capture state: `.answers_arc(Arc::new(move
    /// |_, path| ...))`.
    pub fn answers_arc(self, f: Arc<M::AnswerFn>) -> Clause<M::Interface> {
        self.respond(Response::Shared(f))
    }

    /// Panics with `message` when called.
    pub fn panics(self, message: impl Into<String>) -> Clause<M::Interface> {
        self.respond(Response::Panic(message.into()))
    }

    fn respond(self, response: Response<M>) -> Clause<M::Interface> {
        Clause {
            method: TypeId::of::<M>(),
            name: M::NAME,
            order: self.order,
            min: 0,
            max: match self.order {
                Order::Each => usize::MAX,
                Order::Next => 1,
            },
            typed: Box::new(Typed::<M> {
                when: self.when,
                response,
            }),
            _interface: PhantomData,
        }
    }
}

impl<M: Method> fmt::Debug for Matching<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matching")
            .field("method", &M::NAME)
            .field("order", &self.order)
            .finish_non_exhaustive()
    }
}

/// How a clause answers.
pub(crate) enum Response<M: Method> {
    Value(Box<dyn Fn() -> M::Output + Send + Sync>),
    Static(&'static M::AnswerFn),
    Shared(Arc<M::AnswerFn>),
    Panic(String),
}

/// The parts of a clause typed by its method.
pub(crate) struct Typed<M: Method> {
    pub(crate) when: Option<Box<When<M>>>,
    pub(crate) response: Response<M>,
}

/// One clause of a double of interface `I`: which calls of which method it answers, how,
/// and how many. Built from a method's API constant:
/// `FilesApi::READ.each_call().returns(None).at_least(1)`.
pub struct Clause<I: ?Sized + Interface> {
    pub(crate) method: TypeId,
    pub(crate) name: &'static str,
    pub(crate) order: Order,
    /// How many calls it must answer ([`Double::verify`](crate::Double::verify)).
    pub(crate) min: usize,
    /// How many it may answer.
    pub(crate) max: usize,
    /// A `Typed<M>`.
    pub(crate) typed: Box<dyn Any + Send + Sync>,
    _interface: PhantomData<fn() -> Box<I>>,
}

impl<I: ?Sized + Interface> Clause<I> {
    /// Must answer exactly `n` calls, and answers no more.
    pub fn times(mut self, n: usize) -> Self {
        (self.min, self.max) = (n, n);
        self
    }

    /// Must answer at least `n` calls (the default is 0: a clause need not be called).
    pub fn at_least(mut self, n: usize) -> Self {
        self.min = n;
        self.max = self.max.max(n);
        self
    }

    /// Answers at most `n` calls.
    pub fn at_most(mut self, n: usize) -> Self {
        self.max = n;
        self.min = self.min.min(n);
        self
    }

    /// How many calls it must answer, in words.
    pub(crate) fn expected(&self) -> String {
        match (self.min, self.max) {
            (min, max) if min == max => format!("exactly {min}"),
            (min, _) => format!("at least {min}"),
        }
    }
}

impl<I: ?Sized + Interface> fmt::Debug for Clause<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clause")
            .field("method", &self.name)
            .field("order", &self.order)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}
