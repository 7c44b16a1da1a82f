//! The synchronisation primitives the runtime uses, swappable for loom's under `--cfg loom`.
//!
//! Only the slow path of a cache read (a miss that must claim, wait for or publish a
//! computation) synchronises; a hit is a single acquire load on a `OnceCell`. The shims
//! give parking_lot's and loom's locks one signature so the protocol is written once and
//! model-checked as written.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::AtomicU64;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::AtomicU64;

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
