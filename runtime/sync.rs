//! The synchronisation primitives the runtime uses, swappable for loom's under `--cfg loom`:
//! every atomic and every lock on the concurrent read path is one of these, so loom explores
//! all of them.
//!
//! Only the slow path of a cache read (a miss that must claim, wait for or publish a
//! computation) synchronises; a hit is a single acquire load on a [`OnceCell`]. The shims
//! give parking_lot's and loom's locks, and std's and loom's atomics, one signature so the
//! protocol is written once and model-checked as written.

use std::sync::atomic::Ordering;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::AtomicU64;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::AtomicU64;

#[cfg(not(loom))]
pub(crate) use once_cell::sync::OnceCell;

/// Under loom, a once-cell whose publication is a loom atomic (`ready`, released by `set`
/// and acquired by `get`), so that loom explores every interleaving of publishing and
/// reading; the value itself sits in a `std::sync::OnceLock`, which loom runs but does not
/// explore (there is no safe way to build the storage from loom's primitives).
#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct OnceCell<T> {
    ready: loom::sync::atomic::AtomicBool,
    value: std::sync::OnceLock<T>,
}

#[cfg(loom)]
impl<T> OnceCell<T> {
    pub(crate) fn new() -> Self {
        OnceCell {
            ready: loom::sync::atomic::AtomicBool::new(false),
            value: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn with_value(value: T) -> Self {
        let cell = Self::new();
        let _ = cell.set(value);
        cell
    }

    pub(crate) fn get(&self) -> Option<&T> {
        if self.ready.load(Ordering::Acquire) {
            self.value.get()
        } else {
            None
        }
    }

    pub(crate) fn set(&self, value: T) -> Result<(), T> {
        self.value.set(value)?;
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    pub(crate) fn take(&mut self) -> Option<T> {
        self.ready.store(false, Ordering::Relaxed);
        self.value.take()
    }
}

/// Defines an atomic whose exclusive accessors (`get`, `set`, through `&mut self`) are plain
/// reads and writes with std's atomics, and loads and stores with loom's (which have no
/// `get_mut`).
macro_rules! atomic {
    ($(#[$doc:meta])* $name:ident($value:ty, $std:ty, $loom:ty)) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub(crate) struct $name(
            #[cfg(not(loom))] $std,
            #[cfg(loom)] $loom,
        );

        #[allow(dead_code)]
        impl $name {
            pub(crate) fn new(value: $value) -> Self {
                #[cfg(not(loom))]
                return Self(<$std>::new(value));
                #[cfg(loom)]
                return Self(<$loom>::new(value));
            }

            #[inline]
            pub(crate) fn load(&self, order: Ordering) -> $value {
                self.0.load(order)
            }

            #[inline]
            pub(crate) fn store(&self, value: $value, order: Ordering) {
                self.0.store(value, order)
            }

            /// The value, through exclusive access.
            #[inline]
            pub(crate) fn get(&mut self) -> $value {
                #[cfg(not(loom))]
                return *self.0.get_mut();
                #[cfg(loom)]
                return self.0.load(Ordering::Relaxed);
            }

            /// Sets the value through exclusive access; returns the old one.
            #[inline]
            pub(crate) fn set(&mut self, value: $value) -> $value {
                #[cfg(not(loom))]
                return std::mem::replace(self.0.get_mut(), value);
                #[cfg(loom)]
                return self.0.swap(value, Ordering::Relaxed);
            }
        }
    };
}

atomic!(
    /// A flag read and set by concurrent readers (a cell's `seen`).
    Flag(bool, std::sync::atomic::AtomicBool, loom::sync::atomic::AtomicBool)
);

atomic!(
    /// A set of bits that concurrent readers add to (an object's `loud` fields).
    Bits(u64, std::sync::atomic::AtomicU64, loom::sync::atomic::AtomicU64)
);

impl Bits {
    /// Adds bits.
    #[inline]
    pub(crate) fn fetch_or(&self, bits: u64, order: Ordering) -> u64 {
        self.0.fetch_or(bits, order)
    }

    /// Removes bits.
    #[inline]
    pub(crate) fn fetch_and(&self, bits: u64, order: Ordering) -> u64 {
        self.0.fetch_and(bits, order)
    }
}

/// A mutex whose `lock` cannot fail (a panic while holding it is not a reason to poison
/// the heap: every critical section here leaves its data consistent).
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(
    #[cfg(not(loom))] parking_lot::Mutex<T>,
    #[cfg(loom)] loom::sync::Mutex<T>,
);

#[cfg(not(loom))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        #[cfg(not(loom))]
        return Self(parking_lot::Mutex::new(value));
        #[cfg(loom)]
        return Self(loom::sync::Mutex::new(value));
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(loom))]
        return self.0.lock();
        #[cfg(loom)]
        return self.0.lock().unwrap_or_else(|e| e.into_inner());
    }

    pub(crate) fn into_inner(self) -> T {
        #[cfg(not(loom))]
        return self.0.into_inner();
        #[cfg(loom)]
        return self.0.into_inner().unwrap_or_else(|e| e.into_inner());
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        #[cfg(not(loom))]
        return self.0.get_mut();
        #[cfg(loom)]
        return self.0.get_mut().unwrap_or_else(|e| e.into_inner());
    }
}

/// A condition variable paired with [`Mutex`].
#[derive(Debug, Default)]
pub(crate) struct Condvar(
    #[cfg(not(loom))] parking_lot::Condvar,
    #[cfg(loom)] loom::sync::Condvar,
);

impl Condvar {
    pub(crate) fn new() -> Self {
        #[cfg(not(loom))]
        return Self(parking_lot::Condvar::new());
        #[cfg(loom)]
        return Self(loom::sync::Condvar::new());
    }

    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        #[cfg(not(loom))]
        {
            let mut guard = guard;
            self.0.wait(&mut guard);
            guard
        }
        #[cfg(loom)]
        return self.0.wait(guard).unwrap_or_else(|e| e.into_inner());
    }

    pub(crate) fn notify_all(&self) {
        self.0.notify_all();
    }
}
