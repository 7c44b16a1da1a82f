use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use steadfast::{cached, mutable};

#[mutable]
struct Counter {
    value: i64,
    #[untracked]
    reads: Arc<AtomicU64>,
}

#[cached]
impl Counter {
    // The counter changes without a write: this cache would go stale.
    #[cache(lazy_read)]
    fn seen(reads: &Arc<AtomicU64>) -> u64 {
        reads.load(Ordering::Relaxed)
    }
}

fn main() {}
